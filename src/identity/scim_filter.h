/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * scim_filter: the SCIM filter parser (RFC 7644 3.4.2.2), limited to the
 * one comparison identity systems send to find a resource:
 * 'ATTR eq "VALUE"', where ATTR may also be the value path
 * 'emails[type eq "work"].value' (Microsoft Entra ID's matching filter; it
 * reads as emails.value, since the one e-mail Rampart keeps is the work
 * one, and other types are refused).  Grouping, "not", "and", "or" and every other
 * operator are refused with a sentence saying so.  The value is a JSON-ish
 * string in double quotes where only \" and \\ may be escaped; it must be
 * valid UTF-8 without control characters.  Input comes from a client:
 * bounded (SCIM_FILTER_MAX) and fuzzed (fuzz/fuzz_scim_filter.c).
 */
#ifndef RAMPART_SCIM_FILTER_H
#define RAMPART_SCIM_FILTER_H

#include <stddef.h>

/* Longest filter accepted (bytes). */
#define SCIM_FILTER_MAX 1024

/*
 * A parsed filter: only 'ATTR eq "VALUE"' (attributes userName, externalId,
 * displayName, emails.value; emails[type eq "work"].value gives emails.value).
 */
struct scim_filter {
	char attr[32];
	char value[256];
};

/*
 * Parses @s with the attributes of Users (userName, externalId,
 * displayName, emails.value; matched without regard to case, returned in
 * this spelling).  Returns 0 with @ret, or ERR_INVALID with a reason in
 * @err (size @errsz; may be NULL); @ret is written only on success.
 */
int scim_filter_parse(const char *s, struct scim_filter *ret, char *err, size_t errsz);

/* As scim_filter_parse, for the attributes of the NULL-terminated list @attrs (at most 4 named in messages). */
int scim_filter_parse_attrs(const char *s, const char *const *attrs, struct scim_filter *ret,
			    char *err, size_t errsz);

#endif
