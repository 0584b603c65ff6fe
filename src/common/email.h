/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * email: the one check of an e-mail address's shape that every part of
 * Rampart applies (HR feed, SCIM, directory, exchange recipients, mail).
 *
 * Accepted: local@domain with an ASCII local part of 1 to 64 bytes without
 * spaces, controls or the specials "(),:;<>[\], no leading, trailing or
 * doubled dot; a domain of 3 to 253 bytes in at least two labels of 1 to
 * 63 letters, digits and hyphens, no label starting or ending with a
 * hyphen; EMAIL_MAX bytes in all.  Quoted local parts, address literals
 * and non-ASCII addresses are refused: an HR feed or an exchange recipient
 * has no use for them, and each is a way to smuggle one address past a
 * comparison with another.
 */
#ifndef RAMPART_EMAIL_H
#define RAMPART_EMAIL_H

#include <stdbool.h>

/* Longest address accepted (RFC 5321's path limit less the brackets). */
#define EMAIL_MAX 254

/* True if @s is an address of the shape above. */
bool email_is_valid(const char *s);

/* True if @d is a domain name of the shape above (no trailing dot). */
bool email_domain_is_valid(const char *d);

/* The domain part of a valid address (the text after '@'), or NULL. */
const char *email_domain(const char *s);

#endif
