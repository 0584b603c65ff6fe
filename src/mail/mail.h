/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * mail: composing and sending Internet mail, for any part of Rampart that
 * writes to people (the exchange site's notices today; held mail, approvals
 * and the archive of the mail platform later).  It knows nothing of who
 * sends or why: a caller hands it addresses, a subject, a text and
 * attachments, and a relay to send through.
 *
 * Messages are composed with GMime 3, so that what is not ASCII is encoded
 * as the standards say: the subject and display names per RFC 2047
 * (UTF-8 encoded-words), attachment and other parameter names per RFC 2231.
 * The text is one text/plain part in UTF-8, sent 8bit (7bit when it is
 * ASCII), or quoted-printable when a line is longer than SMTP allows; with
 * attachments the body is multipart/mixed, the text first.  Lines end in
 * CRLF.  Sending is libcurl's SMTP (smtp:// or smtps://), the envelope taken
 * from the From and To headers.
 *
 * Invariants:
 *   - no caller input can add a header or a MIME part: every address must
 *     pass email_is_valid (common/email.h), and a subject, display name,
 *     file name or content type holding a control character (CR and LF
 *     above all) or invalid UTF-8 is refused before GMime sees it;
 *   - the module never logs: a text may hold a one-time link or a secret;
 *     the text and the rendered message are wiped from the memory this
 *     module owns when freed (GMime's own transient buffers are not);
 *   - a message object belongs to one thread at a time; different messages
 *     may be composed and sent in parallel.
 *
 * Errors: 0 on success, ERR_INVALID for input refused as above (with the
 * field named in @e where a function takes one), -ENOMEM, ERR_UNAVAILABLE
 * when the relay could not be reached or refused the message.
 */
#ifndef RAMPART_MAIL_H
#define RAMPART_MAIL_H

#include <stddef.h>

struct buf;
struct rerr;

/* Limits on what a caller may put in a message. */
#define MAIL_MAX_SUBJECT 900        /* bytes of UTF-8 */
#define MAIL_MAX_NAME 256           /* bytes of a display name or file name */
#define MAIL_MAX_RCPT 100           /* To addresses of one message */
#define MAIL_MAX_SIZE ((size_t)32 << 20)   /* a rendered message */

/* Where and how to send. */
struct mail_relay {
	const char *url;            /* "smtp://host:port" or "smtps://host:port" */
	long timeout_s;             /* for the whole exchange with the relay; 0: 30 seconds */
};

/* One message being composed; opaque. */
struct mail_msg;

/*
 * Prepares GMime and libcurl for the process.  Idempotent and safe from
 * several threads; call it before the process starts threads of its own
 * (libcurl's global set-up is not thread-safe against other libraries).
 * mail_msg_new calls it too.  Returns 0 or -ENOMEM.
 */
int mail_init(void);

/* A new empty message, or NULL when out of memory. */
struct mail_msg *mail_msg_new(void);

/* Frees @m and wipes its text; NULL is fine. */
void mail_msg_free(struct mail_msg *m);

/*
 * Sets the author: @addr, with display name @name (NULL or "" for none).
 * Returns 0 or ERR_INVALID (an address email_is_valid refuses, a name with
 * control characters, invalid UTF-8 or over MAIL_MAX_NAME bytes).
 */
int mail_msg_set_from(struct mail_msg *m, const char *name, const char *addr);

/* Adds a To recipient; as mail_msg_set_from, and ERR_INVALID past MAIL_MAX_RCPT. */
int mail_msg_add_to(struct mail_msg *m, const char *name, const char *addr);

/*
 * Sets the subject (UTF-8; tab allowed, no other control character, at
 * most MAIL_MAX_SUBJECT bytes).  Returns 0 or ERR_INVALID.
 */
int mail_msg_set_subject(struct mail_msg *m, const char *subject);

/*
 * Sets the text body: UTF-8 lines ending in "\n" (a "\r\n" is kept as it
 * is).  Any byte but NUL is taken: a text is content, never headers.
 * The text is copied.  Returns 0, ERR_INVALID (a NUL byte, or over
 * MAIL_MAX_SIZE) or -ENOMEM.
 */
int mail_msg_set_text(struct mail_msg *m, const char *text, size_t len);

/*
 * Attaches @len bytes of @data as file @filename (UTF-8, no control
 * characters or slashes, at most MAIL_MAX_NAME bytes) of MIME type
 * @content_type ("type/subtype"; NULL: application/octet-stream), base64
 * encoded.  The data is copied.  Returns 0, ERR_INVALID or -ENOMEM.
 */
int mail_msg_attach(struct mail_msg *m, const char *filename, const char *content_type,
		    const void *data, size_t len);

/*
 * Appends the whole message (RFC 5322, CRLF line ends) to @out.  Date and
 * Message-ID ("<ULID@rampart>") are set here when not rendered before.
 * Returns 0, ERR_INVALID (no From, no To), -EMSGSIZE when @out's limit is
 * reached, or -ENOMEM; on error @out may hold part of the message, which
 * the caller wipes.
 */
int mail_msg_render(struct mail_msg *m, struct buf *out);

/*
 * Renders @m and hands it to the relay: MAIL FROM the From address, RCPT
 * TO each To address.  @e (may be NULL) receives the relay's or libcurl's
 * reason on ERR_UNAVAILABLE (never message content).  Returns 0,
 * ERR_INVALID (no relay URL, or as mail_msg_render), ERR_UNAVAILABLE or
 * -ENOMEM.  Blocks for at most the relay's timeout.
 */
int mail_send(const struct mail_relay *relay, struct mail_msg *m, struct rerr *e);

#endif
