/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * posture: collection and parsing of the agent's posture report (see
 * posture.h).  Paths are always joined under the root given; nothing here
 * writes to the system.
 */
#include "agent/posture.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/str.h"

#define P_PATH 4096
#define P_DM_DEPTH 4

static int p_join(char *out, size_t size, const char *root, const char *path)
{
	int n;

	if (!root || strcmp(root, "/") == 0)
		root = "";
	n = snprintf(out, size, "%s%s", root, path);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int posture_read_file(const char *root, const char *path, size_t max, char **ret, size_t *ret_len)
{
	char full[P_PATH];
	size_t len = 0, cap = 4096;
	char *data;
	ssize_t n;
	int fd, r;

	r = p_join(full, sizeof(full), root, path);
	if (r < 0)
		return r;
	fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	data = malloc(cap);
	if (!data) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		if (len + 1 >= cap) {
			char *nd;

			if (cap > max + 1) {
				free(data);
				close(fd);
				return ERR_TOO_LARGE;
			}
			cap *= 2;
			nd = realloc(data, cap);
			if (!nd) {
				free(data);
				close(fd);
				return -ENOMEM;
			}
			data = nd;
		}
		n = read(fd, data + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			free(data);
			close(fd);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			free(data);
			close(fd);
			return ERR_TOO_LARGE;
		}
	}
	close(fd);
	data[len] = '\0';
	*ret = data;
	*ret_len = len;
	return 0;
}

int posture_read_line(const char *root, const char *path, char *out, size_t size)
{
	char *data = NULL;
	size_t len;
	int r = posture_read_file(root, path, POSTURE_MAX_SMALL_FILE, &data, &len);

	if (r < 0)
		return r;
	len = strcspn(data, "\n");
	if (len >= size)
		len = size - 1;
	memcpy(out, data, len);
	out[len] = '\0';
	free(data);
	return 0;
}

/*
 * Reads a small file that holds one value (a sysfs attribute, the hostname)
 * into @out, trailing whitespace trimmed.  Stricter than posture_read_line:
 * a second line or a NUL byte is ERR_INVALID, a value longer than @size - 1
 * bytes -ENAMETOOLONG, never a value cut short.
 */
static int p_read_value(const char *root, const char *path, char *out, size_t size)
{
	char *data;
	size_t len;
	int r;

	r = posture_read_file(root, path, POSTURE_MAX_SMALL_FILE, &data, &len);
	if (r < 0)
		return r;
	while (len && (data[len - 1] == '\n' || data[len - 1] == ' ' || data[len - 1] == '\t' ||
		       data[len - 1] == '\r'))
		data[--len] = '\0';
	r = memchr(data, '\0', len) || memchr(data, '\n', len) ? ERR_INVALID : str_copy(out, size, data);
	free(data);
	return r < 0 ? r : 0;
}

/* ---------------------------------------------------------------- os-release */

int posture_os_release_parse(const char *data, size_t len, json_t **ret, struct rerr *e)
{
	static const char *const keys[][2] = {
		{ "ID", "id" }, { "VERSION_ID", "version_id" }, { "PRETTY_NAME", "pretty_name" },
		{ "VERSION_CODENAME", "codename" },
	};
	json_t *o = json_object();
	size_t pos = 0, lineno = 0;

	if (!o)
		return -ENOMEM;
	while (pos < len) {
		const char *line = data + pos, *nl = memchr(line, '\n', len - pos), *eq;
		size_t ll = nl ? (size_t)(nl - line) : len - pos, kl, vl, i;
		char val[POSTURE_MAX_FIELD + 1];

		pos += ll + (nl ? 1 : 0);
		lineno++;
		if (ll == 0 || line[0] == '#')
			continue;
		if (memchr(line, '\0', ll)) {
			json_decref(o);
			return rerr_set_at(e, ERR_INVALID, (long long)lineno, NULL,
					   "os-release line %zu: NUL byte", lineno);
		}
		eq = memchr(line, '=', ll);
		if (!eq) {
			json_decref(o);
			return rerr_set_at(e, ERR_INVALID, (long long)lineno, NULL,
					   "os-release line %zu: no '='", lineno);
		}
		kl = (size_t)(eq - line);
		vl = ll - kl - 1;
		eq++;
		if (vl >= 2 && (eq[0] == '"' || eq[0] == '\'') && eq[vl - 1] == eq[0]) {
			eq++;
			vl -= 2;
		}
		if (vl > POSTURE_MAX_FIELD) {
			json_decref(o);
			return rerr_set_at(e, ERR_INVALID, (long long)lineno, NULL,
					   "os-release line %zu: value longer than %d bytes", lineno, POSTURE_MAX_FIELD);
		}
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (strlen(keys[i][0]) != kl || memcmp(keys[i][0], line, kl) != 0)
				continue;
			memcpy(val, eq, vl);
			val[vl] = '\0';
			if (!str_is_clean_utf8(val, vl)) {
				json_decref(o);
				return rerr_set_at(e, ERR_INVALID, (long long)lineno, NULL,
						   "os-release line %zu: not UTF-8", lineno);
			}
			json_object_set_new(o, keys[i][1], json_string(val));
		}
	}
	*ret = o;
	return 0;
}

/* ---------------------------------------------------------------- dpkg status */

struct p_pkg {
	char name[POSTURE_MAX_FIELD + 1];
	char version[POSTURE_MAX_FIELD + 1];
	char source[POSTURE_MAX_FIELD + 1];
	char status[POSTURE_MAX_FIELD + 1];
};

static int p_pkg_flush(struct p_pkg *p, json_t *items, struct rerr *e)
{
	int r = 0;

	if (p->name[0] && strcmp(p->status, "install ok installed") == 0) {
		if (json_array_size(items) >= POSTURE_MAX_PACKAGES)
			return rerr_set(e, ERR_INVALID, NULL, "more than %d installed packages", POSTURE_MAX_PACKAGES);
		if (!p->version[0])
			return rerr_set(e, ERR_INVALID, NULL, "package %s has no Version", p->name);
		r = json_array_append_new(items, json_pack("{s:s, s:s, s:s}", "name", p->name, "version",
							   p->version, "source", p->source[0] ? p->source : p->name));
		r = r == 0 ? 0 : -ENOMEM;
	}
	memset(p, 0, sizeof(*p));
	return r;
}

int posture_dpkg_parse(const char *data, size_t len, json_t **ret, struct rerr *e)
{
	json_t *items = json_array();
	struct p_pkg *p = calloc(1, sizeof(*p));
	size_t pos = 0, lineno = 0;
	int r = 0;

	if (!items || !p) {
		json_decref(items);
		free(p);
		return -ENOMEM;
	}
	while (r == 0 && pos < len) {
		const char *line = data + pos, *nl = memchr(line, '\n', len - pos), *colon, *v;
		size_t ll = nl ? (size_t)(nl - line) : len - pos, kl, vl;
		char *dst = NULL;

		pos += ll + (nl ? 1 : 0);
		lineno++;
		if (ll && line[ll - 1] == '\r')
			ll--;
		if (ll == 0) {
			r = p_pkg_flush(p, items, e);
			continue;
		}
		if (memchr(line, '\0', ll)) {
			r = rerr_set_at(e, ERR_INVALID, (long long)lineno, NULL,
					"dpkg status line %zu: NUL byte", lineno);
			break;
		}
		if (line[0] == ' ' || line[0] == '\t')
			continue;   /* continuation of a multi-line field */
		colon = memchr(line, ':', ll);
		if (!colon) {
			r = rerr_set_at(e, ERR_INVALID, (long long)lineno, NULL,
					"dpkg status line %zu: no field name", lineno);
			break;
		}
		kl = (size_t)(colon - line);
		v = colon + 1;
		vl = ll - kl - 1;
		while (vl && (*v == ' ' || *v == '\t')) {
			v++;
			vl--;
		}
		while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		if (kl == 7 && memcmp(line, "Package", 7) == 0)
			dst = p->name;
		else if (kl == 7 && memcmp(line, "Version", 7) == 0)
			dst = p->version;
		else if (kl == 6 && memcmp(line, "Status", 6) == 0)
			dst = p->status;
		else if (kl == 6 && memcmp(line, "Source", 6) == 0) {
			const char *sp = memchr(v, ' ', vl);

			if (sp)
				vl = (size_t)(sp - v);   /* "src (1.2-3)": the name only */
			dst = p->source;
		}
		if (!dst)
			continue;
		if (vl > POSTURE_MAX_FIELD) {
			r = rerr_set_at(e, ERR_INVALID, (long long)lineno, NULL,
					"dpkg status line %zu: value longer than %d bytes", lineno, POSTURE_MAX_FIELD);
			break;
		}
		memcpy(dst, v, vl);
		dst[vl] = '\0';
		if (!str_is_clean_utf8(dst, vl)) {
			r = rerr_set_at(e, ERR_INVALID, (long long)lineno, NULL,
					"dpkg status line %zu: not UTF-8", lineno);
			break;
		}
	}
	if (r == 0)
		r = p_pkg_flush(p, items, e);
	free(p);
	if (r < 0) {
		json_decref(items);
		return r;
	}
	*ret = items;
	return 0;
}

/* ---------------------------------------------------------------- disk encryption */

/* True if block device @dev (e.g. "dm-0") is LUKS or stacked on LUKS. */
static bool p_dm_is_luks(const char *root, const char *dev, int depth)
{
	char path[P_PATH], uuid[256], full[P_PATH];
	struct dirent *de;
	bool found = false;
	DIR *d;

	if (depth > P_DM_DEPTH || strchr(dev, '/') || dev[0] == '.')
		return false;
	snprintf(path, sizeof(path), "/sys/block/%s/dm/uuid", dev);
	if (p_read_value(root, path, uuid, sizeof(uuid)) == 0 && str_has_prefix(uuid, "CRYPT-LUKS"))
		return true;
	if (snprintf(path, sizeof(path), "/sys/block/%s/slaves", dev) >= (int)sizeof(path) ||
	    p_join(full, sizeof(full), root, path) < 0)
		return false;
	d = opendir(full);
	if (!d)
		return false;
	while (!found && (de = readdir(d)))
		if (de->d_name[0] != '.' && str_has_prefix(de->d_name, "dm-"))
			found = p_dm_is_luks(root, de->d_name, depth + 1);
	closedir(d);
	return found;
}

/* The "dm-N" name of a device path (/dev/dm-N or /dev/mapper/NAME), or "" if it is no dm device. */
static void p_dm_name(const char *root, const char *device, char *out, size_t size)
{
	char full[P_PATH], name[256], path[P_PATH];
	struct dirent *de;
	DIR *d;

	out[0] = '\0';
	if (str_has_prefix(device, "/dev/dm-")) {
		str_copy(out, size, device + 5);
		return;
	}
	if (!str_has_prefix(device, "/dev/mapper/") || p_join(full, sizeof(full), root, "/sys/block") < 0)
		return;
	d = opendir(full);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!str_has_prefix(de->d_name, "dm-"))
			continue;
		if (snprintf(path, sizeof(path), "/sys/block/%s/dm/name", de->d_name) >= (int)sizeof(path))
			continue;
		if (p_read_value(root, path, name, sizeof(name)) == 0 && strcmp(name, device + 12) == 0) {
			str_copy(out, size, de->d_name);
			break;
		}
	}
	closedir(d);
}

int posture_disk_encryption(const char *root, json_t **ret)
{
	static const char *const mounts[] = { "/", "/home" };
	char *data, dev[2][POSTURE_MAX_FIELD + 1];
	json_t *arr;
	size_t len, pos = 0, i;
	int r;

	memset(dev, 0, sizeof(dev));
	r = posture_read_file(root, "/proc/mounts", POSTURE_MAX_FILE, &data, &len);
	if (r < 0)
		return r;
	while (pos < len) {
		char *line = data + pos, *nl = memchr(line, '\n', len - pos), *sp1, *sp2;
		size_t ll = nl ? (size_t)(nl - line) : len - pos;

		pos += ll + (nl ? 1 : 0);
		line[ll] = '\0';
		sp1 = strchr(line, ' ');
		if (!sp1)
			continue;
		sp2 = strchr(sp1 + 1, ' ');
		if (!sp2)
			continue;
		*sp1 = *sp2 = '\0';
		for (i = 0; i < 2; i++)
			if (strcmp(sp1 + 1, mounts[i]) == 0 && strlen(line) <= POSTURE_MAX_FIELD)
				str_copy(dev[i], sizeof(dev[i]), line);   /* the last mount wins, as in the kernel */
	}
	free(data);
	arr = json_array();
	if (!arr)
		return -ENOMEM;
	for (i = 0; i < 2; i++) {
		char dm[64];

		if (!dev[i][0])
			continue;
		p_dm_name(root, dev[i], dm, sizeof(dm));
		json_array_append_new(arr, json_pack("{s:s, s:s, s:b}", "mount", mounts[i], "device", dev[i],
						     "encrypted", dm[0] && p_dm_is_luks(root, dm, 0)));
	}
	*ret = arr;
	return 0;
}

/* ---------------------------------------------------------------- USB storage */

static int p_usb_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int posture_usb_storage(const char *root, json_t **ret)
{
	char full[P_PATH], path[P_PATH], cls[16], *names[POSTURE_MAX_USB];
	size_t n = 0, i;
	struct dirent *de;
	json_t *arr;
	DIR *d;
	int r;

	r = p_join(full, sizeof(full), root, "/sys/bus/usb/devices");
	if (r < 0)
		return r;
	arr = json_array();
	if (!arr)
		return -ENOMEM;
	d = opendir(full);
	if (!d) {
		*ret = arr;   /* no USB bus: no USB storage */
		return 0;
	}
	while ((de = readdir(d)) && n < POSTURE_MAX_USB) {
		char *colon = strchr(de->d_name, ':');
		char parent[128];
		bool dup = false;

		if (de->d_name[0] == '.' || !colon || (size_t)(colon - de->d_name) >= sizeof(parent))
			continue;
		if (snprintf(path, sizeof(path), "/sys/bus/usb/devices/%s/bInterfaceClass", de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (p_read_value(root, path, cls, sizeof(cls)) < 0 || strcmp(cls, "08") != 0)
			continue;
		memcpy(parent, de->d_name, (size_t)(colon - de->d_name));
		parent[colon - de->d_name] = '\0';
		for (i = 0; i < n; i++)
			dup = dup || strcmp(names[i], parent) == 0;
		if (!dup && (names[n] = strdup(parent)))
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), p_usb_cmp);
	for (i = 0; i < n; i++) {
		static const char *const attrs[][2] = {
			{ "idVendor", "vendor_id" }, { "idProduct", "product_id" }, { "manufacturer", "vendor" },
			{ "product", "product" }, { "serial", "serial" },
		};
		json_t *o = json_pack("{s:s}", "port", names[i]);
		size_t a;

		for (a = 0; o && a < sizeof(attrs) / sizeof(attrs[0]); a++) {
			char val[POSTURE_MAX_FIELD + 1];

			if (snprintf(path, sizeof(path), "/sys/bus/usb/devices/%s/%s", names[i], attrs[a][0]) <
				    (int)sizeof(path) &&
			    p_read_value(root, path, val, sizeof(val)) == 0 && str_is_clean_utf8(val, strlen(val)))
				json_object_set_new(o, attrs[a][1], json_string(val));
			else
				json_object_set_new(o, attrs[a][1], json_null());
		}
		json_array_append_new(arr, o);
		free(names[i]);
	}
	*ret = arr;
	return 0;
}

/* ---------------------------------------------------------------- ClamAV */

int posture_clamav(const char *root, int64_t now_s, json_t **ret)
{
	char full[P_PATH], path[P_PATH];
	int64_t newest = -1, count = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int r;

	r = p_join(full, sizeof(full), root, "/var/lib/clamav");
	if (r < 0)
		return r;
	d = opendir(full);
	while (d && (de = readdir(d))) {
		size_t nl = strlen(de->d_name);

		if (nl < 5 || (strcmp(de->d_name + nl - 4, ".cvd") != 0 && strcmp(de->d_name + nl - 4, ".cld") != 0))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", full, de->d_name) >= (int)sizeof(path) ||
		    stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		count++;
		if ((int64_t)st.st_mtime > newest)
			newest = (int64_t)st.st_mtime;
	}
	if (d)
		closedir(d);
	*ret = json_pack("{s:s, s:b, s:I}", "product", "clamav", "present", count > 0, "databases",
			 (json_int_t)count);
	if (!*ret)
		return -ENOMEM;
	json_object_set_new(*ret, "signature_age_s",
			    count > 0 ? json_integer(now_s > newest ? now_s - newest : 0) : json_null());
	return 0;
}

/* ---------------------------------------------------------------- nftables */

/*
 * Rampart's own quarantine table is not "an active ruleset": a quarantined
 * PC must not look compliant because of the quarantine itself.  Its lines
 * are skipped from "table inet rampart_quarantine {" to the closing "}" in
 * the first column, as `nft list ruleset` prints them.
 */
void posture_nft_feed(struct posture_nft_sum *s, const char *data, size_t len)
{
	static const char own[] = "table inet " POSTURE_QUARANTINE_TABLE " {";
	size_t i;

	for (i = 0; i < len; i++) {
		char c = data[i];

		if (c != '\n') {
			if (s->len < sizeof(s->line) - 1)
				s->line[s->len++] = c;
			continue;
		}
		s->line[s->len] = '\0';
		if (s->in_own) {
			if (strcmp(s->line, "}") == 0)
				s->in_own = false;
		} else if (strcmp(s->line, own) == 0) {
			s->in_own = true;
		} else {
			if (strncmp(s->line, "table ", 6) == 0)
				s->tables++;
			s->lines++;
		}
		s->len = 0;
	}
}

int posture_firewall(json_t **ret)
{
	struct posture_nft_sum sum = { 0 };
	char buf[4096];
	int pipefd[2], status = 0, devnull;
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -errno;
	}
	if (pid == 0) {
		devnull = open("/dev/null", O_WRONLY);
		dup2(pipefd[1], 1);
		if (devnull >= 0)
			dup2(devnull, 2);
		execlp("nft", "nft", "list", "ruleset", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	/* Counts lines and looks for a table without keeping the output. */
	while ((n = read(pipefd[0], buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		posture_nft_feed(&sum, buf, (size_t)n);
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		*ret = json_pack("{s:b, s:i, s:s}", "nftables_active", 0, "rules", 0, "error",
				 WIFEXITED(status) && WEXITSTATUS(status) == 127 ? "nft is not installed"
										: "nft list ruleset failed");
		return *ret ? 0 : -ENOMEM;
	}
	*ret = json_pack("{s:b, s:i}", "nftables_active", sum.tables > 0, "rules", sum.lines);
	return *ret ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------- addresses */

/* Loopback and IPv6 link-local addresses say nothing about which PC an alert names. */
static bool p_addr_wanted(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);

		return (a >> 24) != 127 && a != 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return !IN6_IS_ADDR_LOOPBACK(a) && !IN6_IS_ADDR_LINKLOCAL(a) && !IN6_IS_ADDR_UNSPECIFIED(a);
	}
	return false;
}

int posture_addresses(json_t **ret)
{
	struct ifaddrs *ifa = NULL, *i;
	char text[INET6_ADDRSTRLEN];
	json_t *out = json_array(), *v;
	size_t k;
	bool dup;

	if (!out)
		return -ENOMEM;
	if (getifaddrs(&ifa) < 0) {
		json_decref(out);
		return -errno;
	}
	for (i = ifa; i && json_array_size(out) < POSTURE_MAX_ADDRESSES; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK) || !p_addr_wanted(i->ifa_addr))
			continue;
		if (!inet_ntop(i->ifa_addr->sa_family,
			       i->ifa_addr->sa_family == AF_INET
				       ? (const void *)&((const struct sockaddr_in *)i->ifa_addr)->sin_addr
				       : (const void *)&((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
			       text, sizeof(text)))
			continue;
		dup = false;
		json_array_foreach(out, k, v)
			dup = dup || strcmp(json_string_value(v), text) == 0;
		if (!dup && json_array_append_new(out, json_string(text)) < 0) {
			freeifaddrs(ifa);
			json_decref(out);
			return -ENOMEM;
		}
	}
	freeifaddrs(ifa);
	*ret = out;
	return 0;
}

/* ---------------------------------------------------------------- report */

static void p_error(json_t *errors, const char *part, int r)
{
	json_array_append_new(errors, json_pack("{s:s, s:s}", "part", part, "error", err_str(r)));
}

/*
 * One part of the report: @key of @rep is @v (owned) when @r is 0, else
 * null with {"part": @key, "error"} added to @errors.
 */
static void p_part(json_t *rep, json_t *errors, const char *key, int r, json_t *v)
{
	if (r < 0)
		p_error(errors, key, r);
	json_object_set_new(rep, key, r == 0 ? v : json_null());
}

int posture_collect(const char *root, json_t **ret)
{
	struct rerr pe = { "" };
	json_t *rep = json_object(), *errors = json_array(), *v = NULL;
	char *data, line[POSTURE_MAX_FIELD + 1];
	size_t len;
	int r;

	if (!rep || !errors) {
		json_decref(rep);
		json_decref(errors);
		return -ENOMEM;
	}
	json_object_set_new(rep, "agent_version", json_string(RAMPART_VERSION));
	json_object_set_new(rep, "policy_version", json_integer(0));

	r = posture_read_file(root, "/etc/os-release", POSTURE_MAX_SMALL_FILE, &data, &len);
	if (r == 0) {
		r = posture_os_release_parse(data, len, &v, &pe);
		free(data);
	}
	p_part(rep, errors, "os", r, v);

	r = p_read_value(root, "/proc/sys/kernel/osrelease", line, sizeof(line));
	p_part(rep, errors, "kernel", r, r == 0 ? json_pack("{s:s}", "release", line) : NULL);

	r = p_read_value(root, "/etc/machine-id", line, sizeof(line));
	json_object_set_new(rep, "machine_id", r == 0 ? json_string(line) : json_null());
	r = p_read_value(root, "/etc/hostname", line, sizeof(line));
	if (r < 0 && gethostname(line, sizeof(line) - 1) == 0)
		r = 0;
	line[sizeof(line) - 1] = '\0';
	json_object_set_new(rep, "hostname", r == 0 ? json_string(line) : json_null());

	r = p_read_value(root, "/proc/uptime", line, sizeof(line));
	if (r == 0) {
		char *end;
		double up;

		errno = 0;
		up = strtod(line, &end);
		r = errno || end == line || up < 0 || up > 1e12 ? ERR_INVALID : 0;
		if (r == 0)
			json_object_set_new(rep, "uptime_s", json_integer((json_int_t)up));
	}
	if (r < 0) {
		p_error(errors, "uptime", r);
		json_object_set_new(rep, "uptime_s", json_null());
	}

	v = NULL;
	r = posture_read_file(root, "/var/lib/dpkg/status", POSTURE_MAX_FILE, &data, &len);
	if (r == 0) {
		r = posture_dpkg_parse(data, len, &v, &pe);
		free(data);
	}
	p_part(rep, errors, "packages", r, r == 0 ? json_pack("{s:s, s:o}", "mode", "full", "items", v) : NULL);

	v = NULL;
	r = posture_disk_encryption(root, &v);
	p_part(rep, errors, "disk_encryption", r, v);

	v = NULL;
	r = posture_firewall(&v);
	p_part(rep, errors, "firewall", r, v);

	v = NULL;
	r = posture_clamav(root, (int64_t)time(NULL), &v);
	p_part(rep, errors, "antivirus", r, v);

	v = NULL;
	r = posture_usb_storage(root, &v);
	p_part(rep, errors, "usb_storage", r, v);

	v = NULL;
	r = posture_addresses(&v);
	p_part(rep, errors, "addresses", r, v);

	json_object_set_new(rep, "errors", errors);
	*ret = rep;
	return 0;
}
