/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * path: the pure string work the HTTP layer does on request paths, apart
 * from sockets and libmicrohttpd so that it can be tested and fuzzed alone.
 *
 * Invariants: decoding never lengthens a string and never yields a control
 * byte (each becomes 0x01, which http_path_is_sane and the field validators
 * refuse), so a decoded "%00" can never cut a path short.
 */
#ifndef RAMPART_HTTP_PATH_H
#define RAMPART_HTTP_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* Most segments in a path or route pattern. */
#define HTTP_MAX_SEGS 16
/* Longest path accepted, in bytes. */
#define HTTP_MAX_PATH 2048

/*
 * Percent-decodes the NUL-terminated @s in place, for paths and query
 * values.  A '%' not followed by two hex digits is kept as is; every decoded
 * or raw control byte (below 0x20, or 0x7f) becomes 0x01.  '+' is left alone
 * (libmicrohttpd turns it into a space in query values before calling this).
 * Returns the new length.
 */
size_t http_path_unescape(char *s);

/*
 * True if the decoded @p is an absolute path of at most HTTP_MAX_PATH bytes
 * without "." or ".." segments, empty segments ("//") or control bytes.
 */
bool http_path_is_sane(const char *p);

/*
 * Splits @work in place at each '/' (a leading one is skipped) and points
 * @segs at the segments; a trailing slash yields an empty last segment.
 * Offsets in @work are kept: only the slashes become NULs.  Returns the
 * number of segments, or -1 for more than HTTP_MAX_SEGS.
 */
int http_path_split(char *work, char *segs[HTTP_MAX_SEGS]);

#endif
