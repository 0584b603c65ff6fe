/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* email: the shape of an address (see email.h). */
#include "common/email.h"

#include <string.h>

bool email_domain_is_valid(const char *d)
{
	size_t label = 0, labels = 0, len = strlen(d);

	if (len < 3 || len > 253)
		return false;
	for (const char *p = d;; p++) {
		char c = *p;

		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return false;
			labels++;
			label = 0;
			if (c == '\0')
				break;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
		if (label == 0 && c == '-')
			return false;
		label++;
	}
	return labels >= 2;
}

bool email_is_valid(const char *s)
{
	const char *at;
	size_t local;

	if (!s || strlen(s) > EMAIL_MAX)
		return false;
	at = strchr(s, '@');
	if (!at || strchr(at + 1, '@'))
		return false;
	local = (size_t)(at - s);
	if (local == 0 || local > 64 || s[0] == '.' || at[-1] == '.')
		return false;
	for (const char *p = s; p < at; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= 0x20 || c >= 0x7f || strchr("\"(),:;<>[\\]", c))
			return false;
		if (c == '.' && p[1] == '.')
			return false;
	}
	return email_domain_is_valid(at + 1);
}

const char *email_domain(const char *s)
{
	return email_is_valid(s) ? strchr(s, '@') + 1 : NULL;
}
