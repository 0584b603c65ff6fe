/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * buf: a growable byte buffer with a hard limit.
 *
 * The data is always NUL-terminated (not counted in len) so text can be used
 * as a C string.  Appending past the limit fails with -EMSGSIZE and leaves
 * the buffer unchanged.
 */
#ifndef RAMPART_BUF_H
#define RAMPART_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t limit;   /* 0 means BUF_DEFAULT_LIMIT */
};

#define BUF_DEFAULT_LIMIT ((size_t)64 << 20)

/* Initializes an empty buffer that may grow to @limit bytes (0: default). */
void buf_init(struct buf *b, size_t limit);

/* Frees the storage; the buffer is empty and reusable afterwards. */
void buf_done(struct buf *b);

/* Empties the buffer, keeping its storage. */
void buf_reset(struct buf *b);

/* Appends @n bytes.  Returns 0, -ENOMEM or -EMSGSIZE. */
int buf_append(struct buf *b, const void *p, size_t n);

/* Appends a C string.  Returns 0, -ENOMEM or -EMSGSIZE. */
int buf_puts(struct buf *b, const char *s);

/* Appends formatted text.  Returns 0, -ENOMEM, -EMSGSIZE or -EINVAL. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Takes the data out (caller frees); the buffer is left empty. May return NULL if empty. */
char *buf_steal(struct buf *b);

#endif
