/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * mail: composition with GMime 3 and sending with libcurl's SMTP (see
 * mail.h).  GMime builds the message and does the encoding (RFC 2231
 * parameters, base64 and quoted-printable bodies, quoting of ASCII names,
 * header folding); this file decides what input is acceptable, which
 * transfer encoding the text gets, and keeps the text in memory it can wipe.
 *
 * One exception: a subject or display name that is not ASCII is written as
 * RFC 2047 encoded-words here (UTF-8, "B"), because GMime 3.2 cuts such
 * text into words by character count (38), which for Japanese gives words
 * of 150 and more characters where RFC 2047 allows 75.  Each word here
 * holds at most MAIL_WORD_BYTES bytes of whole characters.
 */
#include "mail/mail.h"

#include <curl/curl.h>
#include <errno.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/email.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/rtime.h"
#include "common/str.h"

struct mail_msg {
	GMimeMessage *msg;
	GMimeTextPart *text;          /* the text part, also before any text is set */
	GByteArray *text_bytes;       /* its content, owned here so that it is wiped */
	GPtrArray *attachments;       /* GMimePart *, in order */
	char from[EMAIL_MAX + 1];
	char (*rcpt)[EMAIL_MAX + 1];  /* the To addresses, for the envelope */
	unsigned nrcpt;
	bool stamped;                 /* Date and Message-ID are set */
};

/* UTF-8 bytes in one encoded-word: 48 base64 characters, 60 with the delimiters. */
#define MAIL_WORD_BYTES 36

static pthread_once_t mail_once = PTHREAD_ONCE_INIT;
static int mail_init_result;

static void mail_init_once(void)
{
	g_mime_init();
	mail_init_result = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -ENOMEM;
}

int mail_init(void)
{
	pthread_once(&mail_once, mail_init_once);
	return mail_init_result;
}

/* A subject, display name or file name: clean UTF-8 (tab allowed), at most @max bytes. */
static bool mail_phrase_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n <= max && str_is_clean_utf8(s, n);
}

/* "type/subtype" in RFC 2045 token characters. */
static bool mail_content_type_ok(const char *s)
{
	static const char tspecials[] = "()<>@,;:\\\"/[]?=";
	const char *slash = strchr(s, '/');
	size_t n = strlen(s);

	if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/') || n > 127)
		return false;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (p == slash)
			continue;
		if (c <= 0x20 || c >= 0x7f || strchr(tspecials, c))
			return false;
	}
	return true;
}

static bool mail_is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* Bytes of the UTF-8 character that starts with @c (1 for a stray byte). */
static size_t mail_char_len(unsigned char c)
{
	return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

/*
 * Where the next "B" word of the @n bytes at @s ends: after whole
 * characters, at most MAIL_WORD_BYTES, and, unless it is the last word, at a
 * multiple of 3 bytes so that its base64 needs no padding (GMime's decoder
 * reads a run of words as one base64 stream, and padding inside it ends
 * the text there).  0 when no such cut exists.
 */
static size_t mail_b_cut(const char *s, size_t n)
{
	size_t k = 0, best = 0;

	if (n <= MAIL_WORD_BYTES)
		return n;
	while (k < n) {
		size_t c = mail_char_len((unsigned char)s[k]);

		if (k + c > MAIL_WORD_BYTES)
			break;
		k += c;
		if (k % 3 == 0)
			best = k;
	}
	return best;
}

/*
 * Appends @s as RFC 2047 encoded-words, folded between words; @col is the
 * column the first word starts at, and is left after the last one.  Words
 * are "B" words; where no cut fits mail_b_cut (an ASCII digit before
 * Japanese text, say), one character goes alone as a "Q" word.
 */
static void mail_encoded_words(GString *out, const char *s, size_t *col)
{
	size_t n = strlen(s), i = 0;

	while (i < n) {
		size_t k = mail_b_cut(s + i, n - i), start = out->len;

		if (i) {
			g_string_append(out, "\n ");
			start = out->len;
		}
		if (k) {
			gchar *b64 = g_base64_encode((const guchar *)s + i, k);

			g_string_append_printf(out, "=?UTF-8?B?%s?=", b64);
			g_free(b64);
		} else {
			k = mail_char_len((unsigned char)s[i]);
			if (k > n - i)
				k = n - i;
			g_string_append(out, "=?UTF-8?Q?");
			for (size_t j = 0; j < k; j++)
				g_string_append_printf(out, "=%02X", (unsigned char)s[i + j]);
			g_string_append(out, "?=");
		}
		*col = (i ? 1 : *col) + (out->len - start);
		i += k;
	}
}

static void mail_text_bytes_free(GByteArray *b)
{
	if (!b)
		return;
	if (b->len)
		sodium_memzero(b->data, b->len);
	g_byte_array_free(b, TRUE);
}

struct mail_msg *mail_msg_new(void)
{
	struct mail_msg *m;

	if (mail_init() < 0)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->msg = g_mime_message_new(TRUE);
	m->text = g_mime_text_part_new_with_subtype("plain");
	m->attachments = g_ptr_array_new_with_free_func(g_object_unref);
	g_mime_text_part_set_charset(m->text, "utf-8");
	return m;
}

void mail_msg_free(struct mail_msg *m)
{
	if (!m)
		return;
	/* The message holds the text part, which holds the stream over text_bytes. */
	g_object_unref(m->msg);
	g_object_unref(m->text);
	g_ptr_array_free(m->attachments, TRUE);
	mail_text_bytes_free(m->text_bytes);
	free(m->rcpt);
	free(m);
}

static int mail_mailbox(struct mail_msg *m, GMimeAddressType type, const char *name, const char *addr)
{
	InternetAddressList *list = g_mime_message_get_addresses(m->msg, type);
	InternetAddress *ia;

	if (name && !name[0])
		name = NULL;
	if (!addr || !email_is_valid(addr) || (name && !mail_phrase_ok(name, MAIL_MAX_NAME)))
		return ERR_INVALID;
	ia = internet_address_mailbox_new(name, addr);
	if (!ia)
		return -ENOMEM;
	internet_address_set_charset(ia, "utf-8");
	if (type == GMIME_ADDRESS_TYPE_FROM)
		internet_address_list_clear(list);
	internet_address_list_add(list, ia);
	g_object_unref(ia);
	return 0;
}

int mail_msg_set_from(struct mail_msg *m, const char *name, const char *addr)
{
	int r = mail_mailbox(m, GMIME_ADDRESS_TYPE_FROM, name, addr);

	if (r == 0)
		str_copy(m->from, sizeof(m->from), addr);
	return r;
}

int mail_msg_add_to(struct mail_msg *m, const char *name, const char *addr)
{
	char (*rcpt)[EMAIL_MAX + 1];
	int r;

	if (m->nrcpt == MAIL_MAX_RCPT)
		return ERR_INVALID;
	rcpt = realloc(m->rcpt, (m->nrcpt + 1) * sizeof(*rcpt));
	if (!rcpt)
		return -ENOMEM;
	m->rcpt = rcpt;
	r = mail_mailbox(m, GMIME_ADDRESS_TYPE_TO, name, addr);
	if (r == 0)
		str_copy(m->rcpt[m->nrcpt++], sizeof(*rcpt), addr);
	return r;
}

int mail_msg_set_subject(struct mail_msg *m, const char *subject)
{
	GMimeHeader *h;
	GString *raw;
	size_t col = 9;   /* after "Subject: " */

	if (!subject || !mail_phrase_ok(subject, MAIL_MAX_SUBJECT))
		return ERR_INVALID;
	g_mime_message_set_subject(m->msg, subject, "utf-8");
	if (mail_is_ascii(subject))
		return 0;
	h = g_mime_header_list_get_header(g_mime_object_get_header_list(GMIME_OBJECT(m->msg)), "Subject");
	if (!h)
		return -ENOMEM;
	raw = g_string_new(" ");
	mail_encoded_words(raw, subject, &col);
	g_string_append(raw, "\n");
	g_mime_header_set_raw_value(h, raw->str);
	g_string_free(raw, TRUE);
	return 0;
}

/*
 * The transfer encoding of a text: quoted-printable when a line is longer
 * than SMTP's 998 bytes, else 8bit when a byte is not ASCII, else 7bit.
 */
static GMimeContentEncoding mail_text_encoding(const unsigned char *p, size_t len)
{
	size_t line = 0;
	bool eight = false;

	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n') {
			line = 0;
			continue;
		}
		if (++line > 998)
			return GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
		eight |= p[i] >= 0x80;
	}
	return eight ? GMIME_CONTENT_ENCODING_8BIT : GMIME_CONTENT_ENCODING_7BIT;
}

int mail_msg_set_text(struct mail_msg *m, const char *text, size_t len)
{
	GByteArray *bytes;
	GMimeStream *stream;
	GMimeDataWrapper *content;

	if (!text || memchr(text, '\0', len) || len > MAIL_MAX_SIZE)
		return ERR_INVALID;
	bytes = g_byte_array_sized_new((guint)len);
	g_byte_array_append(bytes, (const guint8 *)text, (guint)len);
	stream = g_mime_stream_mem_new_with_byte_array(bytes);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
	content = g_mime_data_wrapper_new_with_stream(stream, GMIME_CONTENT_ENCODING_DEFAULT);
	g_object_unref(stream);
	g_mime_part_set_content(GMIME_PART(m->text), content);
	g_object_unref(content);
	g_mime_part_set_content_encoding(GMIME_PART(m->text), mail_text_encoding(bytes->data, bytes->len));
	/* The part dropped the previous content: its bytes can go. */
	mail_text_bytes_free(m->text_bytes);
	m->text_bytes = bytes;
	return 0;
}

int mail_msg_attach(struct mail_msg *m, const char *filename, const char *content_type,
		    const void *data, size_t len)
{
	GMimeContentType *ct;
	GMimeStream *stream;
	GMimeDataWrapper *content;
	GMimePart *part;

	if (!content_type)
		content_type = "application/octet-stream";
	if (!filename || !filename[0] || !mail_phrase_ok(filename, MAIL_MAX_NAME) || strpbrk(filename, "/\\") ||
	    !mail_content_type_ok(content_type) || len > MAIL_MAX_SIZE || (!data && len))
		return ERR_INVALID;
	ct = g_mime_content_type_parse(NULL, content_type);
	if (!ct)
		return ERR_INVALID;
	part = g_mime_part_new();
	g_mime_object_set_content_type(GMIME_OBJECT(part), ct);
	g_object_unref(ct);
	stream = g_mime_stream_mem_new_with_buffer(data ? data : "", len);
	content = g_mime_data_wrapper_new_with_stream(stream, GMIME_CONTENT_ENCODING_DEFAULT);
	g_object_unref(stream);
	g_mime_part_set_content(part, content);
	g_object_unref(content);
	g_mime_object_set_disposition(GMIME_OBJECT(part), GMIME_DISPOSITION_ATTACHMENT);
	g_mime_part_set_filename(part, filename);
	g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
	g_ptr_array_add(m->attachments, part);
	return 0;
}

/*
 * Writes the @field header's mailboxes itself when a display name is not
 * ASCII (see the top of this file); GMime's own text stays otherwise.
 */
static void mail_fold_addresses(struct mail_msg *m, GMimeAddressType type, const char *field)
{
	InternetAddressList *list = g_mime_message_get_addresses(m->msg, type);
	GMimeHeader *h = g_mime_header_list_get_header(g_mime_object_get_header_list(GMIME_OBJECT(m->msg)), field);
	int count = internet_address_list_length(list);
	bool plain = true;
	size_t col = strlen(field) + 2;
	GString *raw;

	for (int i = 0; i < count; i++) {
		const char *name = internet_address_get_name(internet_address_list_get_address(list, i));

		plain &= !name || mail_is_ascii(name);
	}
	if (plain || !h)
		return;
	raw = g_string_new(" ");
	for (int i = 0; i < count; i++) {
		InternetAddress *ia = internet_address_list_get_address(list, i);
		const char *name = internet_address_get_name(ia);
		const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));

		if (i) {
			g_string_append(raw, ",\n ");
			col = 1;
		}
		if (name && !mail_is_ascii(name)) {
			mail_encoded_words(raw, name, &col);
			g_string_append(raw, col + strlen(addr) + 3 > 76 ? "\n <" : " <");
			g_string_append(raw, addr);
			g_string_append(raw, ">");
		} else {
			char *text = internet_address_to_string(ia, NULL, TRUE);

			g_string_append(raw, text);
			g_free(text);
		}
	}
	g_string_append(raw, "\n");
	g_mime_header_set_raw_value(h, raw->str);
	g_string_free(raw, TRUE);
}

/* Puts the body together: the text alone, or multipart/mixed with the attachments after it. */
static void mail_assemble(struct mail_msg *m)
{
	GMimeMultipart *mixed;

	if (!m->text_bytes)
		mail_msg_set_text(m, "", 0);
	if (m->attachments->len == 0) {
		g_mime_message_set_mime_part(m->msg, GMIME_OBJECT(m->text));
		return;
	}
	mixed = g_mime_multipart_new_with_subtype("mixed");
	g_mime_multipart_add(mixed, GMIME_OBJECT(m->text));
	for (guint i = 0; i < m->attachments->len; i++)
		g_mime_multipart_add(mixed, GMIME_OBJECT(g_ptr_array_index(m->attachments, i)));
	g_mime_message_set_mime_part(m->msg, GMIME_OBJECT(mixed));
	g_object_unref(mixed);
}

static void mail_stamp(struct mail_msg *m)
{
	char mid[ULID_SIZE + 16];
	char ulid[ULID_SIZE];
	GDateTime *now;

	if (m->stamped)
		return;
	now = g_date_time_new_now_utc();
	g_mime_message_set_date(m->msg, now);
	g_date_time_unref(now);
	ids_ulid(ulid, rtime_now_ms());
	snprintf(mid, sizeof(mid), "%s@rampart", ulid);
	g_mime_message_set_message_id(m->msg, mid);
	m->stamped = true;
}

int mail_msg_render(struct mail_msg *m, struct buf *out)
{
	GMimeFormatOptions *fo;
	GMimeStream *stream;
	GByteArray *bytes;
	ssize_t n;
	int r;

	if (!m->from[0] || m->nrcpt == 0)
		return ERR_INVALID;
	mail_stamp(m);
	mail_fold_addresses(m, GMIME_ADDRESS_TYPE_FROM, "From");
	mail_fold_addresses(m, GMIME_ADDRESS_TYPE_TO, "To");
	mail_assemble(m);
	fo = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	g_mime_format_options_set_param_encoding_method(fo, GMIME_PARAM_ENCODING_METHOD_RFC2231);
	stream = g_mime_stream_mem_new();
	n = g_mime_object_write_to_stream(GMIME_OBJECT(m->msg), fo, stream);
	g_mime_format_options_free(fo);
	bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
	if (n < 0)
		r = -ENOMEM;
	else if (bytes->len > MAIL_MAX_SIZE)
		r = -EMSGSIZE;
	else
		r = buf_append(out, bytes->data, bytes->len);
	if (bytes->len)
		sodium_memzero(bytes->data, bytes->len);
	g_object_unref(stream);
	return r;
}

struct mail_src {
	const char *data;
	size_t len, pos;
};

static size_t mail_read(char *dst, size_t size, size_t nitems, void *ud)
{
	struct mail_src *s = ud;
	size_t n = size * nitems;

	if (n > s->len - s->pos)
		n = s->len - s->pos;
	memcpy(dst, s->data + s->pos, n);
	s->pos += n;
	return n;
}

/* One SMTP transaction with libcurl; the message is in @src. */
static int mail_transfer(const struct mail_relay *relay, const struct mail_msg *m, struct mail_src *src,
			 struct rerr *e)
{
	struct curl_slist *rcpt = NULL;
	char addr[EMAIL_MAX + 3];
	CURLcode cr = CURLE_OUT_OF_MEMORY;
	CURL *h = curl_easy_init();

	if (!h)
		return -ENOMEM;
	for (unsigned i = 0; i < m->nrcpt; i++) {
		struct curl_slist *next;

		snprintf(addr, sizeof(addr), "<%s>", m->rcpt[i]);
		next = curl_slist_append(rcpt, addr);
		if (!next)
			goto out;
		rcpt = next;
	}
	snprintf(addr, sizeof(addr), "<%s>", m->from);
	curl_easy_setopt(h, CURLOPT_URL, relay->url);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, addr);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, mail_read);
	curl_easy_setopt(h, CURLOPT_READDATA, src);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, relay->timeout_s > 0 ? relay->timeout_s : 30L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	cr = curl_easy_perform(h);
out:
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(h);
	if (cr == CURLE_OUT_OF_MEMORY)
		return -ENOMEM;
	if (cr != CURLE_OK)
		return rerr_set(e, ERR_UNAVAILABLE, NULL, "%s", curl_easy_strerror(cr));
	return 0;
}

int mail_send(const struct mail_relay *relay, struct mail_msg *m, struct rerr *e)
{
	struct mail_src src;
	struct buf msg;
	int r;

	if (!relay || !relay->url || !relay->url[0])
		return rerr_set(e, ERR_INVALID, "relay", "no mail relay is configured");
	buf_init(&msg, MAIL_MAX_SIZE);
	r = mail_msg_render(m, &msg);
	if (r == ERR_INVALID)
		rerr_set(e, r, NULL, "the message has no sender or no recipient");
	if (r == 0) {
		src = (struct mail_src){ msg.data, msg.len, 0 };
		r = mail_transfer(relay, m, &src, e);
	}
	if (msg.data)
		sodium_memzero(msg.data, msg.len);
	buf_done(&msg);
	return r;
}
