/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * collect: helpers shared by the collectors (see collect.h): safe strings,
 * new events, user names.
 */
#include "agent/collect.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* ---------------------------------------------------------------- command-line secrets */

/* Option or variable names whose value is a secret: a name containing one of these (any case). */
static const char *const c_secret_parts[] = {
	"password", "passwd", "passphrase", "secret", "token", "apikey", "api-key", "api_key", "credential",
	"authorization", NULL,
};
/* ...or, after its leading dashes, exactly one of these. */
static const char *const c_secret_names[] = { "auth", "pass", "pw", NULL };

static bool c_contains_ci(const char *s, size_t n, const char *part)
{
	size_t m = strlen(part), i;

	for (i = 0; i + m <= n; i++)
		if (strncasecmp(s + i, part, m) == 0)
			return true;
	return false;
}

/* True if the @n bytes at @name (leading dashes included) name a secret. */
static bool c_secret_name(const char *name, size_t n)
{
	size_t i;

	while (n && *name == '-') {
		name++;
		n--;
	}
	if (n == 0)
		return false;
	for (i = 0; c_secret_parts[i]; i++)
		if (c_contains_ci(name, n, c_secret_parts[i]))
			return true;
	for (i = 0; c_secret_names[i]; i++)
		if (strlen(c_secret_names[i]) == n && strncasecmp(name, c_secret_names[i], n) == 0)
			return true;
	return false;
}

/* Replaces the bytes of @s from @from to @to with COLLECT_REDACTED in @out (size COLLECT_MAX_PATH + 1). */
static void c_mask(const char *s, size_t from, size_t to, char *out)
{
	snprintf(out, COLLECT_MAX_PATH + 1, "%.*s" COLLECT_REDACTED "%s", (int)from, s, s + to);
}

/* Masks one item into @out; returns true if it changed. */
static bool c_redact_item(const char *s, char *out)
{
	static const char *const schemes[] = { "Bearer ", "Basic ", NULL };
	size_t n = strlen(s), i;
	const char *eq = strchr(s, '='), *p, *at, *colon, *end;

	if (eq && eq > s && c_secret_name(s, (size_t)(eq - s)) && eq[1]) {
		c_mask(s, (size_t)(eq - s) + 1, n, out);
		return true;
	}
	for (i = 0; schemes[i]; i++) {
		size_t m = strlen(schemes[i]), k;

		for (k = 0; k + m < n; k++)
			if (strncasecmp(s + k, schemes[i], m) == 0 && (k == 0 || !isalnum((unsigned char)s[k - 1]))) {
				c_mask(s, k + m, n, out);
				return true;
			}
	}
	p = strstr(s, "://");
	if (p) {
		p += 3;
		end = p + strcspn(p, "/?#");
		at = memchr(p, '@', (size_t)(end - p));
		colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
		if (colon && colon + 1 < at) {
			c_mask(s, (size_t)(colon - s) + 1, (size_t)(at - s), out);
			return true;
		}
	}
	return false;
}

size_t collect_argv_redact(json_t *argv)
{
	char out[COLLECT_MAX_PATH + 1];
	size_t i, n = 0;
	bool next = false;
	json_t *v;

	json_array_foreach(argv, i, v) {
		const char *s = json_string_value(v);

		if (!s)
			continue;
		if (next) {
			json_array_set_new(argv, i, json_string(COLLECT_REDACTED));
			n++;
			next = false;
			continue;
		}
		if (c_redact_item(s, out)) {
			json_array_set_new(argv, i, json_string(out));
			n++;
		} else if (s[0] == '-' && !strchr(s, '=') && c_secret_name(s, strlen(s))) {
			next = true;
		}
	}
	return n;
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
