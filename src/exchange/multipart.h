/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * multipart: a streaming multipart/form-data parser (RFC 7578) for uploads
 * of any size.  It never buffers part bodies: bytes reach part_data as they
 * are fed, in pieces of any size, so memory stays flat.  Part headers are
 * bounded (MP_MAX_HEADERS bytes per part, MP_MAX_PARTS parts); field names
 * and file names are reported exactly as sent (after quoted-string
 * unescaping) and must be validated by the caller.
 *
 * Why not libmicrohttpd's post processor (MHD_create_post_processor),
 * judged on the source of the libmicrohttpd Debian 12 ships (0.9.75;
 * postprocessor.c is unchanged in these respects through 1.0.1):
 *   - an extra copy of every byte: post_process_multipart() memcpy()s all
 *     input into the processor's own buffer (buffer_size bytes) before it
 *     looks for the boundary, and the iterator is handed slices of that
 *     buffer; here part_data gets slices of the caller's own data, and the
 *     only copy is the one into the cipher's chunk buffer;
 *   - it needs the live struct MHD_Connection (it reads the Content-Type
 *     from it), which Rampart's HTTP layer keeps to itself, and which the
 *     fuzz target and the unit tests cannot provide;
 *   - its refusals say nothing: an error is MHD_NO (PP_Error) with no
 *     reason, and an incomplete body shows only as MHD_NO from
 *     MHD_destroy_post_processor, so the 400 answer and the page could not
 *     tell a sender what was wrong (mp_parser.err does);
 *   - it does not enforce the limits exchange relies on: no cap on the
 *     number of parts, no per-part header limit other than the buffer size
 *     (exceeding it is the same silent MHD_NO), no check that a boundary is
 *     1 to 70 RFC 2046 characters (the boundary is the rest of the header
 *     after "boundary=", parameters after it included);
 *   - its parameter reading (try_get_value) ends a quoted filename at the
 *     first '"', without quoted-string escapes, and knows no filename*;
 *     it matches "Content-disposition: " only with exactly one space.
 */
#ifndef RAMPART_MULTIPART_H
#define RAMPART_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

#define MP_MAX_HEADERS 8192
#define MP_MAX_PARTS 1000
#define MP_MAX_BOUNDARY 70
#define MP_MAX_NAME 256
#define MP_MAX_FILENAME 1024

struct mp_callbacks {
	/* A part starts; @filename is NULL for a plain field.  Strings are borrowed for the call. */
	int (*part_begin)(void *ud, const char *name, const char *filename);
	/* @len > 0 bytes of the current part's body. */
	int (*part_data)(void *ud, const char *data, size_t len);
	/* The current part is complete. */
	int (*part_end)(void *ud);
};

enum mp_state { MP_PREAMBLE, MP_AFTER_BOUNDARY, MP_HEADERS, MP_BODY, MP_DONE };

struct mp_parser {
	const struct mp_callbacks *cb;
	void *ud;
	char delim[MP_MAX_BOUNDARY + 5];   /* "\r\n--" boundary */
	size_t delim_len;
	size_t match;                      /* bytes of delim matched so far */
	enum mp_state state;
	char after[2];                     /* the two bytes after a boundary */
	size_t nafter;
	char hdr[MP_MAX_HEADERS + 1];
	size_t hdr_len;
	unsigned parts;
	struct rerr err;                   /* why the input was refused (message "" when a callback refused) */
};

/*
 * Prepares @p for a body whose Content-Type header is @content_type
 * ("multipart/form-data; boundary=...").  Returns 0 or ERR_INVALID (not
 * multipart/form-data, or a boundary missing, empty, over 70 bytes or with
 * characters RFC 2046 does not allow).
 */
int mp_init(struct mp_parser *p, const char *content_type, const struct mp_callbacks *cb, void *ud);

/*
 * Feeds @len bytes.  Returns 0, ERR_INVALID for malformed input (p->err
 * says why), ERR_TOO_LARGE for part headers or a part count over the
 * limits, or the first negative value a callback returned (the parser stops
 * there and refuses further input).
 */
int mp_feed(struct mp_parser *p, const char *data, size_t len);

/* After the last byte: 0 when the closing boundary was seen, ERR_INVALID otherwise. */
int mp_finish(struct mp_parser *p);

#endif
