/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* scim_filter: the one SCIM filter form Rampart answers (see scim_filter.h). */
#include "identity/scim_filter.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/str.h"

static const char *const scim_filter_attrs[] = { "userName", "externalId", "displayName", "emails.value", NULL };

static int scim_ferr(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int scim_ferr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err && errsz) {
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return ERR_INVALID;
}

static bool scim_is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Shows up to 32 bytes of @s for a message, non-printable bytes as '?'. */
static const char *scim_shown(char *buf, size_t size, const char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < size && i < 32; i++)
		buf[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[o] = '\0';
	return buf;
}

/* Skips spaces and then the case-insensitive word @w; false when it is not there. */
static bool scim_word(const char **pp, const char *w)
{
	const char *p = *pp;
	size_t n = strlen(w);

	while (scim_is_space(*p))
		p++;
	if (strncasecmp(p, w, n) != 0)
		return false;
	*pp = p + n;
	return true;
}

/*
 * Reads the value path 'emails[type eq "work"].value' at *@pp (which starts
 * with "emails[") and leaves *@pp after it: the form Microsoft Entra ID
 * sends to match a user by e-mail.  Rampart keeps one e-mail, of type
 * work, so only that type is accepted.  Returns 0 or ERR_INVALID.
 */
static int scim_filter_email_type(const char **pp, char *err, size_t errsz)
{
	const char *p = *pp + 7, *v;
	size_t n;

	if (!scim_word(&p, "type") || !scim_is_space(*p) || !scim_word(&p, "eq") || !scim_is_space(*p))
		return scim_ferr(err, errsz, "the only value filter on emails is [type eq \"work\"]");
	while (scim_is_space(*p))
		p++;
	if (*p != '"')
		return scim_ferr(err, errsz, "the type in emails[type eq ...] must be a string in double quotes");
	v = ++p;
	while (*p && *p != '"' && *p != '\\' && *p != ']')
		p++;
	if (*p != '"')
		return scim_ferr(err, errsz, "the type in emails[type eq ...] is not a plain quoted string");
	n = (size_t)(p - v);
	if (n != 4 || strncasecmp(v, "work", 4) != 0)
		return scim_ferr(err, errsz, "only e-mail addresses of type \"work\" are kept; "
				 "filter on emails[type eq \"work\"].value");
	p++;
	if (!scim_word(&p, "]"))
		return scim_ferr(err, errsz, "expected ']' after the type in emails[type eq \"work\"]");
	if (strncasecmp(p, ".value", 6) != 0 || !(scim_is_space(p[6]) || p[6] == '\0'))
		return scim_ferr(err, errsz, "expected '.value' after emails[type eq \"work\"]");
	*pp = p + 6;
	return 0;
}

int scim_filter_parse_attrs(const char *s, const char *const *attrs, struct scim_filter *ret,
				char *err, size_t errsz)
{
	struct scim_filter f = { { 0 } };
	const char *p = s, *tok;
	char shown[40];
	size_t len, o = 0;
	int found = -1;

	if (err && errsz)
		err[0] = '\0';
	if (!s || !*s)
		return scim_ferr(err, errsz, "the filter is empty");
	if (strlen(s) > SCIM_FILTER_MAX)
		return scim_ferr(err, errsz, "the filter is longer than %d bytes", SCIM_FILTER_MAX);
	while (scim_is_space(*p))
		p++;
	if (*p == '(' || (strncasecmp(p, "not", 3) == 0 && (scim_is_space(p[3]) || p[3] == '(')))
		return scim_ferr(err, errsz, "grouping and 'not' are not supported; use one 'attribute eq "
				 "\"value\"' comparison");
	tok = p;
	if (strncasecmp(p, "emails[", 7) == 0) {
		int r = scim_filter_email_type(&p, err, errsz);

		if (r < 0)
			return r;
		tok = "emails.value";
		len = strlen(tok);
	} else {
		while (*p && !scim_is_space(*p) && *p != '"')
			p++;
		len = (size_t)(p - tok);
	}
	if (len == 0)
		return scim_ferr(err, errsz, "the filter must start with an attribute name");
	for (int i = 0; attrs[i]; i++)
		if (strlen(attrs[i]) == len && strncasecmp(tok, attrs[i], len) == 0)
			found = i;
	if (found < 0)
		return scim_ferr(err, errsz, "filtering on '%s' is not supported; the attributes are %s%s%s%s%s%s%s",
				 scim_shown(shown, sizeof(shown), tok, len), attrs[0],
				 attrs[1] ? ", " : "", attrs[1] ? attrs[1] : "",
				 attrs[1] && attrs[2] ? ", " : "", attrs[1] && attrs[2] ? attrs[2] : "",
				 attrs[1] && attrs[2] && attrs[3] ? ", " : "",
				 attrs[1] && attrs[2] && attrs[3] ? attrs[3] : "");
	if (!scim_is_space(*p))
		return scim_ferr(err, errsz, "expected an operator after '%s'", attrs[found]);
	while (scim_is_space(*p))
		p++;
	tok = p;
	while (*p && !scim_is_space(*p) && *p != '"')
		p++;
	len = (size_t)(p - tok);
	if (len == 0)
		return scim_ferr(err, errsz, "expected an operator after '%s'", attrs[found]);
	if (!(len == 2 && strncasecmp(tok, "eq", 2) == 0)) {
		static const char *const ops[] = { "ne", "co", "sw", "ew", "pr", "gt", "ge", "lt", "le" };

		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
			if (len == 2 && strncasecmp(tok, ops[i], 2) == 0)
				return scim_ferr(err, errsz, "operator '%s' is not supported; only eq is",
						 ops[i]);
		return scim_ferr(err, errsz, "'%s' is not an operator; use eq",
				 scim_shown(shown, sizeof(shown), tok, len));
	}
	while (scim_is_space(*p))
		p++;
	if (*p != '"')
		return scim_ferr(err, errsz, "the value after eq must be a string in double quotes");
	for (p++;; p++) {
		char c = *p;

		if (c == '\0')
			return scim_ferr(err, errsz, "the quoted value is not closed");
		if (c == '"')
			break;
		if (c == '\\') {
			p++;
			if (*p != '"' && *p != '\\')
				return scim_ferr(err, errsz, "only \\\" and \\\\ may be escaped in the value");
			c = *p;
		} else if ((unsigned char)c < 0x20 || c == 0x7f) {
			return scim_ferr(err, errsz, "the value contains a control character");
		}
		if (o + 1 >= sizeof(f.value))
			return scim_ferr(err, errsz, "the value is longer than %zu bytes", sizeof(f.value) - 1);
		f.value[o++] = c;
	}
	f.value[o] = '\0';
	if (!str_is_clean_utf8(f.value, o))
		return scim_ferr(err, errsz, "the value is not valid UTF-8");
	for (p++; scim_is_space(*p); p++)
		;
	if (*p) {
		if ((strncasecmp(p, "and", 3) == 0 || strncasecmp(p, "or", 2) == 0))
			return scim_ferr(err, errsz, "only one comparison is supported (no 'and' or 'or')");
		return scim_ferr(err, errsz, "unexpected text after the value");
	}
	snprintf(f.attr, sizeof(f.attr), "%s", attrs[found]);
	*ret = f;
	return 0;
}

int scim_filter_parse(const char *s, struct scim_filter *ret, char *err, size_t errsz)
{
	return scim_filter_parse_attrs(s, scim_filter_attrs, ret, err, errsz);
}
