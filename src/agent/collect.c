/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * collect: helpers shared by the collectors (see collect.h): safe strings,
 * new events, user names.
 */
#include "agent/collect.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/posture.h"

/* Length of the valid UTF-8 sequence at @s (at most @n bytes), or 0. */
static size_t c_utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
		return 0;
	return len;
}

json_t *collect_str(const char *s, size_t len, size_t max, const char *empty)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = malloc(max + 1);
	size_t i = 0, o = 0;
	json_t *v;

	if (!out)
		return NULL;
	while (i < len) {
		size_t n = c_utf8_len(p + i, len - i);

		if (n == 0 || (n == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
			if (o + 1 > max)
				break;
			out[o++] = '?';
			i += n ? n : 1;
			continue;
		}
		if (o + n > max)
			break;
		memcpy(out + o, p + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	v = json_string(o || !empty ? out : empty);
	free(out);
	return v;
}

json_t *collect_event(const char *kind, int64_t ts_ms)
{
	return json_pack("{s:I, s:s}", "ts", (json_int_t)ts_ms, "kind", kind);
}

void collect_user(const char *root, uint32_t uid, char *out, size_t size)
{
	char *data = NULL, *line, *save = NULL;
	size_t len;

	snprintf(out, size, "%u", uid);
	if (!root || strcmp(root, "/") == 0) {
		/* The running system: NSS, so that directory accounts (SSSD, LDAP) have their names too. */
		char pwbuf[4096];
		struct passwd pw, *res = NULL;

		if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res && res->pw_name[0])
			snprintf(out, size, "%s", res->pw_name);
		return;
	}
	if (posture_read_file(root, "/etc/passwd", POSTURE_MAX_FILE, &data, &len) < 0)
		return;
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[4] = { NULL }, *p = line, *end;
		unsigned long v;
		int i;

		for (i = 0; i < 4 && p; i++) {
			f[i] = p;
			p = strchr(p, ':');
			if (p)
				*p++ = '\0';
		}
		if (i < 4 || !f[2][0])
			continue;
		errno = 0;
		v = strtoul(f[2], &end, 10);
		if (errno || *end || v != uid || !f[0][0])
			continue;
		snprintf(out, size, "%s", f[0]);
		break;
	}
	free(data);
}
