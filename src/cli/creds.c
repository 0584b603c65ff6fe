/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* creds: reading, atomically writing and deleting the CLI's saved login. */
#include "cli/creds.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/fileio.h"
#include "common/str.h"

#define CREDS_FILE "login.json"
#define CREDS_MAX_SIZE 65536

static void why_set(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void why_set(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (!why || !size)
		return;
	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
}

int creds_dir(char *buf, size_t size)
{
	const char *xdg = secure_getenv("XDG_CONFIG_HOME");
	const char *home = secure_getenv("HOME");
	int n;

	/* The XDG specification says a relative XDG_CONFIG_HOME is to be ignored. */
	if (xdg && xdg[0] == '/') {
		n = snprintf(buf, size, "%s/rampart", xdg);
	} else {
		if (!home || home[0] != '/') {
			struct passwd *pw = getpwuid(getuid());

			home = pw ? pw->pw_dir : NULL;
		}
		if (!home || home[0] != '/')
			return -ENOENT;
		n = snprintf(buf, size, "%s/.config/rampart", home);
	}
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

int creds_path(char *buf, size_t size)
{
	char dir[CREDS_PATH_MAX];
	int r = creds_dir(dir, sizeof(dir));
	int n;

	if (r < 0)
		return r;
	n = snprintf(buf, size, "%s/%s", dir, CREDS_FILE);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

void creds_done(struct creds *c)
{
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	explicit_bzero(c, sizeof(*c));
}

int creds_load(struct creds *c, char *why, size_t why_size)
{
	char path[CREDS_PATH_MAX];
	char *data = NULL;
	json_t *j = NULL;
	const char *server, *token, *login, *ca;
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd = -1, r;

	memset(c, 0, sizeof(*c));
	r = creds_path(path, sizeof(path));
	if (r < 0) {
		why_set(why, why_size, "no home directory to find the saved login in");
		return r;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		why_set(why, why_size, "cannot open %s: %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		why_set(why, why_size, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
		r = -EPERM;
		why_set(why, why_size, "%s is not a private file of yours (it must be mode 0600); "
			"it was not used: remove it and run 'rampart login'", path);
		goto out;
	}
	if (st.st_size > CREDS_MAX_SIZE) {
		r = -EINVAL;
		why_set(why, why_size, "%s is too large to be a saved login", path);
		goto out;
	}
	data = malloc(CREDS_MAX_SIZE + 1);
	if (!data) {
		r = -ENOMEM;
		goto out;
	}
	while ((n = read(fd, data + len, CREDS_MAX_SIZE + 1 - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			why_set(why, why_size, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		len += (size_t)n;
		if (len > CREDS_MAX_SIZE) {
			r = -EINVAL;
			why_set(why, why_size, "%s is too large to be a saved login", path);
			goto out;
		}
	}
	j = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
	server = json_string_value(json_object_get(j, "server"));
	token = json_string_value(json_object_get(j, "token"));
	login = json_string_value(json_object_get(j, "login"));
	ca = json_string_value(json_object_get(j, "ca"));
	if (!server || !token || !*token || str_copy(c->server, sizeof(c->server), server) < 0 ||
	    (login && str_copy(c->login, sizeof(c->login), login) < 0) ||
	    (ca && (ca[0] != '/' || str_copy(c->ca_file, sizeof(c->ca_file), ca) < 0))) {
		r = -EINVAL;
		why_set(why, why_size, "%s is not a valid saved login; run 'rampart login'", path);
		goto out;
	}
	c->token = strdup(token);
	r = c->token ? 0 : -ENOMEM;
out:
	json_decref(j);
	if (data) {
		explicit_bzero(data, CREDS_MAX_SIZE + 1);
		free(data);
	}
	if (fd >= 0)
		close(fd);
	if (r < 0)
		creds_done(c);
	return r;
}

/* Creates @dir with mode 0700 if missing; tightens an existing one of ours to 0700. */
static int creds_mkdir(const char *dir, bool tighten)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (tighten) {
		if (st.st_uid != geteuid())
			return -EPERM;
		if ((st.st_mode & 077) && chmod(dir, st.st_mode & 0700) < 0)
			return -errno;
	}
	return 0;
}

int creds_save(const struct creds *c, char *why, size_t why_size)
{
	char dir[CREDS_PATH_MAX], parent[CREDS_PATH_MAX], path[CREDS_PATH_MAX], tmp[CREDS_PATH_MAX];
	char *text = NULL, *slash;
	json_t *j = NULL;
	bool created = false;
	int fd = -1, dfd = -1, r;

	r = creds_dir(dir, sizeof(dir));
	if (r < 0) {
		why_set(why, why_size, "no home directory to save the login in");
		return r;
	}
	if (snprintf(path, sizeof(path), "%s/%s", dir, CREDS_FILE) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, CREDS_FILE) >= (int)sizeof(tmp) ||
	    str_copy(parent, sizeof(parent), dir) < 0) {
		why_set(why, why_size, "the configuration directory's path is too long");
		return -ENAMETOOLONG;
	}
	/* The parent (~/.config or $XDG_CONFIG_HOME) is created if missing but not re-moded. */
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		r = creds_mkdir(parent, false);
		if (r < 0) {
			why_set(why, why_size, "cannot create %s: %s", parent, strerror(-r));
			return r;
		}
	}
	r = creds_mkdir(dir, true);
	if (r < 0) {
		why_set(why, why_size, "cannot use the directory %s: %s", dir, strerror(-r));
		return r;
	}

	j = json_object();
	if (!j || json_object_set_new(j, "server", json_string(c->server)) < 0 ||
	    json_object_set_new(j, "token", json_string(c->token)) < 0 ||
	    json_object_set_new(j, "login", json_string(c->login)) < 0 ||
	    (c->ca_file[0] && json_object_set_new(j, "ca", json_string(c->ca_file)) < 0) ||
	    !(text = json_dumps(j, JSON_INDENT(2)))) {
		r = -ENOMEM;
		why_set(why, why_size, "out of memory");
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		why_set(why, why_size, "cannot create a file in %s: %s", dir, strerror(errno));
		goto out;
	}
	created = true;
	if (fchmod(fd, 0600) < 0 || (r = fsio_write_all(fd, text, strlen(text))) < 0 ||
	    (r = fsio_write_all(fd, "\n", 1)) < 0 || fsync(fd) < 0) {
		r = r < 0 ? r : -errno;
		why_set(why, why_size, "cannot write %s: %s", tmp, strerror(-r));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		why_set(why, why_size, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = -errno;
		why_set(why, why_size, "cannot replace %s: %s", path, strerror(errno));
		goto out;
	}
	created = false;
	/* The rename itself is durable only once the directory is synced. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		r = -errno;
		why_set(why, why_size, "cannot sync %s: %s", dir, strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (r < 0 && created)
		unlink(tmp);
	if (text) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	json_decref(j);
	return r;
}

int creds_remove(void)
{
	char path[CREDS_PATH_MAX];
	int r = creds_path(path, sizeof(path));

	if (r < 0)
		return r == -ENOENT ? 0 : r;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}
