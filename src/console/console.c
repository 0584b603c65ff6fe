/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * console: the web console's static files, loaded once and served from memory.
 *
 * Invariants: the asset table is written only by console_routes(), before
 * the server starts, and read-only afterwards (handlers run on pool threads
 * without locks).  Names in the table are relative ("index.html",
 * "assets/index-1a2b.js"), made only of [A-Za-z0-9._-] segments that do not
 * start with a dot; a request is answered only with an exact match.
 */
#include "console/console.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/str.h"
#include "http/http.h"

#define CONSOLE_MAX_NAME 256

struct console_asset {
	char *name;               /* relative path */
	unsigned char *data;
	size_t len;
	const char *content_type; /* static string */
	const char *cache;        /* static string */
};

static struct console_asset *assets;
static size_t nassets;
static size_t total_bytes;

static const char CACHE_REVALIDATE[] = "no-cache";
static const char CACHE_IMMUTABLE[] = "public, max-age=31536000, immutable";

static const struct {
	const char *ext;
	const char *type;
} content_types[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "mjs", "text/javascript; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "json", "application/json" },
	{ "map", "application/json" },
	{ "webmanifest", "application/manifest+json" },
	{ "svg", "image/svg+xml" },
	{ "png", "image/png" },
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },
	{ "webp", "image/webp" },
	{ "ico", "image/x-icon" },
	{ "woff2", "font/woff2" },
	{ "woff", "font/woff" },
	{ "txt", "text/plain; charset=utf-8" },
};

/* The content type for @name's extension; unknown ones are opaque bytes. */
static const char *console_content_type(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (!dot || strchr(dot, '/'))
		return "application/octet-stream";
	for (size_t i = 0; i < sizeof(content_types) / sizeof(content_types[0]); i++)
		if (str_eq_ci(dot + 1, content_types[i].ext))
			return content_types[i].type;
	return "application/octet-stream";
}

/* True for one path segment the table may hold: [A-Za-z0-9._-]+, not starting with '.'. */
static bool console_segment_ok(const char *s, size_t len)
{
	if (len == 0 || len > 200 || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* True when every '/'-separated segment of @rel passes console_segment_ok. */
static bool console_name_ok(const char *rel)
{
	const char *p = rel;

	if (!*rel || strlen(rel) >= CONSOLE_MAX_NAME)
		return false;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (!console_segment_ok(p, len))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

static void console_asset_free(struct console_asset *a)
{
	free(a->name);
	free(a->data);
}

/* Reads the regular file open on @fd (at most CONSOLE_MAX_FILE_BYTES) and adds it as @rel. */
static int console_add_file(int fd, const struct stat *st, const char *rel)
{
	struct console_asset a = { 0 }, *grown;
	size_t got = 0;

	if (st->st_size < 0 || (uint64_t)st->st_size > CONSOLE_MAX_FILE_BYTES)
		return -EFBIG;
	if (total_bytes + (size_t)st->st_size > CONSOLE_MAX_TOTAL_BYTES)
		return -EFBIG;
	if (nassets >= CONSOLE_MAX_FILES)
		return -EMFILE;
	a.name = strdup(rel);
	a.data = malloc(st->st_size > 0 ? (size_t)st->st_size : 1);
	if (!a.name || !a.data) {
		console_asset_free(&a);
		return -ENOMEM;
	}
	while (got < (size_t)st->st_size) {
		ssize_t n = read(fd, a.data + got, (size_t)st->st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? -errno : -EIO;   /* shrank while we read */

			console_asset_free(&a);
			return e;
		}
		got += (size_t)n;
	}
	a.len = got;
	a.content_type = console_content_type(rel);
	a.cache = str_has_prefix(rel, "assets/") ? CACHE_IMMUTABLE : CACHE_REVALIDATE;
	grown = realloc(assets, (nassets + 1) * sizeof(*grown));
	if (!grown) {
		console_asset_free(&a);
		return -ENOMEM;
	}
	assets = grown;
	assets[nassets++] = a;
	total_bytes += a.len;
	return 0;
}

/*
 * Loads the directory open on @dfd (taken over and closed) whose relative
 * name is @prefix ("" at the top).  Entries are opened with openat and
 * O_NOFOLLOW below @dfd, so a symbolic link is never followed; anything but
 * regular files and directories is skipped.  Returns 0 or -ENOMEM; other
 * problems skip the entry with a warning.
 */
static int console_load_dir(int dfd, const char *prefix, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		close(dfd);
		return 0;
	}
	while (r == 0 && (de = readdir(d))) {
		char rel[CONSOLE_MAX_NAME], qname[CONSOLE_MAX_NAME + 16];
		struct stat st;
		int fd;

		if (de->d_name[0] == '.')
			continue;   /* ".", "..", and hidden files are never served */
		if (snprintf(rel, sizeof(rel), "%s%s%s", prefix, *prefix ? "/" : "", de->d_name) >=
		    (int)sizeof(rel) || !console_name_ok(rel)) {
			log_warn("console: skipping a file with an unusable name", "name=%s",
				 log_quote(qname, sizeof(qname), de->d_name));
			continue;
		}
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0) {
			log_warn("console: cannot open", "name=%s error=\"%s\"",
				 log_quote(qname, sizeof(qname), rel), strerror(errno));
			continue;
		}
		if (fstat(fd, &st) < 0) {
			close(fd);
			continue;
		}
		if (S_ISDIR(st.st_mode) && depth < CONSOLE_MAX_DEPTH) {
			r = console_load_dir(fd, rel, depth + 1);   /* takes fd over */
			continue;
		}
		if (S_ISREG(st.st_mode)) {
			r = console_add_file(fd, &st, rel);
			if (r < 0 && r != -ENOMEM) {
				log_warn("console: skipping a file", "name=%s error=\"%s\"",
					 log_quote(qname, sizeof(qname), rel),
					 r == -EFBIG ? "over the size limit" :
					 r == -EMFILE ? "too many files" : strerror(-r));
				r = 0;
			}
		} else {
			log_warn("console: skipping what is not a regular file", "name=%s",
				 log_quote(qname, sizeof(qname), rel));
		}
		close(fd);
	}
	closedir(d);
	return r;
}

static const struct console_asset *console_find(const char *rel)
{
	for (size_t i = 0; i < nassets; i++)
		if (strcmp(assets[i].name, rel) == 0)
			return &assets[i];
	return NULL;
}

static int console_answer(struct http_resp *resp, const char *rel)
{
	const struct console_asset *a;

	if (nassets == 0) {
		http_resp_console(resp, CACHE_REVALIDATE);
		return http_fail(resp, ERR_UNAVAILABLE, NULL,
				 "the web console was not built: run 'make build' (it builds web/dist), "
				 "or start rampartd with --web DIR");
	}
	a = console_name_ok(rel) ? console_find(rel) : NULL;
	http_resp_console(resp, a ? a->cache : CACHE_REVALIDATE);
	if (!a)
		return http_fail(resp, ERR_NOT_FOUND, NULL, "no such file in the web console");
	return http_resp_static(resp, 200, a->content_type, a->data, a->len);
}

static int console_h_index(struct http_req *req, struct http_resp *resp)
{
	return console_answer(resp, "index.html");
}

static int console_h_file(struct http_req *req, struct http_resp *resp)
{
	const char *path = http_req_path(req);

	/* The router already split the path at '/'; refuse anything odd before looking up. */
	if (!path || path[0] != '/' || strchr(path, '\\') || strstr(path, "..")) {
		http_resp_console(resp, CACHE_REVALIDATE);
		return http_fail(resp, ERR_NOT_FOUND, NULL, "no such file in the web console");
	}
	return console_answer(resp, path + 1);
}

int console_routes(struct http_server *s, const char *asset_dir)
{
	int r, dfd;

	console_done();
	if (!asset_dir || !*asset_dir) {
		log_warn("console: no asset directory; the web console is not served", NULL);
	} else if ((dfd = open(asset_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		char q[600];

		log_warn("console: the web console was not built; '/' answers an error", "dir=%s error=\"%s\"",
			 log_quote(q, sizeof(q), asset_dir), strerror(errno));
	} else {
		char q[600];

		r = console_load_dir(dfd, "", 0);
		if (r < 0) {
			console_done();
			return r;
		}
		if (!console_find("index.html")) {
			log_warn("console: no index.html in the asset directory; '/' answers an error",
				 "dir=%s", log_quote(q, sizeof(q), asset_dir));
			console_done();
		} else {
			log_info("console: assets loaded", "dir=%s files=%zu bytes=%zu",
				 log_quote(q, sizeof(q), asset_dir), nassets, total_bytes);
		}
	}
	r = http_route(s, HTTP_GET, "/", console_h_index, HTTP_AUTH_NONE | HTTP_UNDOCUMENTED);
	if (r == 0)
		r = http_route(s, HTTP_GET, "/{file}", console_h_file, HTTP_AUTH_NONE | HTTP_UNDOCUMENTED);
	if (r == 0)
		r = http_route(s, HTTP_GET, "/assets/{file}", console_h_file,
			       HTTP_AUTH_NONE | HTTP_UNDOCUMENTED);
	return r;
}

size_t console_asset_count(void)
{
	return nassets;
}

void console_done(void)
{
	for (size_t i = 0; i < nassets; i++)
		console_asset_free(&assets[i]);
	free(assets);
	assets = NULL;
	nassets = 0;
	total_bytes = 0;
}
