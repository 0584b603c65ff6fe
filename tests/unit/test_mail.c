/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for mail composition: a Japanese subject, display names and
 * attachment name come out encoded (RFC 2047, RFC 2231) in pure ASCII
 * headers and parse back with GMime to the same text; CR or LF in a
 * subject, name or address cannot add a header; the text keeps a link
 * intact and gets the right transfer encoding; CRLF line ends; a relay
 * that cannot be reached is reported.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gmime/gmime.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/err.h"
#include "mail/mail.h"

#define SUBJECT_JA "ファイルをお送りします：第3四半期の資料と、来期の見積もりについてのご相談（至急）"
#define SUBJECT_MIXED "3月の資料 Q3 report 📎 — 4月の予定も添付します、ご確認ください。よろしくお願いいたします"
#define FROM_NAME_JA "山田 太郎"
#define TO_NAME_JA "佐藤 花子（営業部）"
#define FILE_JA "見積書 2026年.pdf"
#define LINK "https://rampart.corp.example/x/x_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCd"

static struct mail_msg *msg_new(void)
{
	struct mail_msg *m = mail_msg_new();

	assert_non_null(m);
	assert_int_equal(mail_msg_set_from(m, NULL, "rampart@corp.example"), 0);
	assert_int_equal(mail_msg_add_to(m, NULL, "recipient@partner.example"), 0);
	return m;
}

static void render(struct mail_msg *m, struct buf *out)
{
	buf_init(out, 0);
	assert_int_equal(mail_msg_render(m, out), 0);
	assert_non_null(out->data);
}

static GMimeMessage *parse(const struct buf *b)
{
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(b->data, b->len);
	GMimeParser *p = g_mime_parser_new_with_stream(s);
	GMimeMessage *m = g_mime_parser_construct_message(p, NULL);

	g_object_unref(p);
	g_object_unref(s);
	assert_non_null(m);
	return m;
}

/* The header block: everything before the first empty line. */
static size_t header_len(const struct buf *b)
{
	const char *end = strstr(b->data, "\r\n\r\n");

	assert_non_null(end);
	return (size_t)(end - b->data) + 2;
}

static void assert_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_true((unsigned char)s[i] < 0x80);
}

/* RFC 2047: each encoded-word at most 75 characters, each line holding one at most 76. */
static void assert_encoded_words_fit(const char *h, size_t n)
{
	const char *line = h, *end = h + n;

	while (line < end) {
		const char *eol = memchr(line, '\r', (size_t)(end - line));
		const char *w = line;

		assert_non_null(eol);
		while ((w = strstr(w, "=?")) && w < eol) {
			/* "=?UTF-8?B?" then the text, then "?=" */
			const char *close = strstr(w + 10, "?=");
			assert_non_null(close);
			assert_true(close + 2 - w <= 75);
			assert_true(eol - line <= 76);
			w = close + 2;
		}
		line = eol + 2;
	}
}

static void assert_crlf(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if (b->data[i] == '\n')
			assert_true(i > 0 && b->data[i - 1] == '\r');
}

static const char *mailbox_name(InternetAddressList *l, int i)
{
	InternetAddress *ia = internet_address_list_get_address(l, i);

	assert_non_null(ia);
	return internet_address_get_name(ia);
}

static const char *mailbox_addr(InternetAddressList *l, int i)
{
	InternetAddress *ia = internet_address_list_get_address(l, i);

	assert_true(INTERNET_ADDRESS_IS_MAILBOX(ia));
	return internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
}

static void test_japanese_subject_and_names_round_trip(void **state)
{
	struct mail_msg *m = mail_msg_new();
	struct buf out;
	GMimeMessage *p;
	size_t hlen;

	assert_int_equal(mail_msg_set_from(m, FROM_NAME_JA, "yamada@corp.example"), 0);
	assert_int_equal(mail_msg_add_to(m, TO_NAME_JA, "sato@partner.example"), 0);
	assert_int_equal(mail_msg_add_to(m, "Doe, John", "john@partner.example"), 0);
	assert_int_equal(mail_msg_set_subject(m, SUBJECT_JA), 0);
	assert_int_equal(mail_msg_set_text(m, "本文です。\n", strlen("本文です。\n")), 0);
	render(m, &out);
	hlen = header_len(&out);
	/* Headers are ASCII: the Japanese text travels as RFC 2047 encoded-words. */
	assert_ascii(out.data, hlen);
	assert_encoded_words_fit(out.data, hlen);
	assert_non_null(strstr(out.data, "\"Doe, John\" <john@partner.example>"));
	assert_non_null(strcasestr(out.data, "Subject: =?utf-8?"));
	assert_non_null(strcasestr(out.data, "From: =?utf-8?"));
	assert_non_null(strcasestr(out.data, "<yamada@corp.example>"));
	assert_non_null(strcasestr(out.data, "<sato@partner.example>"));
	assert_non_null(strstr(out.data, "MIME-Version: 1.0"));
	assert_non_null(strcasestr(out.data, "Content-Type: text/plain; charset=utf-8"));
	assert_non_null(strcasestr(out.data, "Content-Transfer-Encoding: 8bit"));
	assert_crlf(&out);

	p = parse(&out);
	assert_string_equal(g_mime_message_get_subject(p), SUBJECT_JA);
	assert_string_equal(mailbox_name(g_mime_message_get_from(p), 0), FROM_NAME_JA);
	assert_string_equal(mailbox_addr(g_mime_message_get_from(p), 0), "yamada@corp.example");
	assert_string_equal(mailbox_name(g_mime_message_get_to(p), 0), TO_NAME_JA);
	assert_string_equal(mailbox_addr(g_mime_message_get_to(p), 0), "sato@partner.example");
	assert_string_equal(mailbox_name(g_mime_message_get_to(p), 1), "Doe, John");
	assert_string_equal(mailbox_addr(g_mime_message_get_to(p), 1), "john@partner.example");
	{
		char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(g_mime_message_get_body(p)));

		assert_string_equal(text, "本文です。\r\n");
		g_free(text);
	}
	g_object_unref(p);
	buf_done(&out);
	mail_msg_free(m);
}

/* Subjects of every mix (digits before Japanese, emoji, Latin accents) decode to themselves. */
static void test_subjects_round_trip(void **state)
{
	static const char *const subjects[] = {
		SUBJECT_JA, SUBJECT_MIXED, "Ünïcödé and ASCII together", "3月", "a😀b😀c😀d😀e😀f😀g😀h😀i😀j😀k😀",
		"Привет, мир! Это длинная тема письма, чтобы проверить перенос строк",
		"日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語",
	};

	for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
		struct mail_msg *m = msg_new();
		struct buf out;
		GMimeMessage *p;

		assert_int_equal(mail_msg_set_subject(m, subjects[i]), 0);
		render(m, &out);
		assert_ascii(out.data, header_len(&out));
		assert_encoded_words_fit(out.data, header_len(&out));
		p = parse(&out);
		assert_string_equal(g_mime_message_get_subject(p), subjects[i]);
		g_object_unref(p);
		buf_done(&out);
		mail_msg_free(m);
	}
}

static void test_attachment_name_rfc2231(void **state)
{
	struct mail_msg *m = msg_new();
	struct buf out;
	GMimeMessage *p;
	GMimeObject *body;
	GMimePart *att;

	assert_int_equal(mail_msg_set_subject(m, "Quote"), 0);
	assert_int_equal(mail_msg_set_text(m, "See the file.\n", 14), 0);
	assert_int_equal(mail_msg_attach(m, FILE_JA, "application/pdf", "%PDF-1.7\n\0\x01", 11), 0);
	render(m, &out);
	assert_ascii(out.data, out.len);
	assert_non_null(strcasestr(out.data, "filename*=utf-8''"));
	assert_non_null(strcasestr(out.data, "multipart/mixed"));
	assert_crlf(&out);

	p = parse(&out);
	body = g_mime_message_get_mime_part(p);
	assert_true(GMIME_IS_MULTIPART(body));
	assert_int_equal(g_mime_multipart_get_count(GMIME_MULTIPART(body)), 2);
	att = GMIME_PART(g_mime_multipart_get_part(GMIME_MULTIPART(body), 1));
	assert_string_equal(g_mime_part_get_filename(att), FILE_JA);
	assert_int_equal(g_mime_part_get_content_encoding(att), GMIME_CONTENT_ENCODING_BASE64);
	{
		GMimeStream *s = g_mime_stream_mem_new();
		GByteArray *b;

		g_mime_data_wrapper_write_to_stream(g_mime_part_get_content(att), s);
		b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
		assert_int_equal(b->len, 11);
		assert_memory_equal(b->data, "%PDF-1.7\n\0\x01", 11);
		g_object_unref(s);
	}
	g_object_unref(p);
	buf_done(&out);
	mail_msg_free(m);
}

static void test_header_injection_refused(void **state)
{
	static const char *const bad[] = {
		"Hello\r\nBcc: evil@attacker.example", "Hello\nBcc: evil@attacker.example",
		"Hello\rBcc: evil@attacker.example", "Hello\x0b", "\xff\xfe", "a\302\205b",
	};
	struct mail_msg *m = msg_new();
	struct buf out;
	GMimeMessage *p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(mail_msg_set_subject(m, bad[i]), ERR_INVALID);
		assert_int_equal(mail_msg_set_from(m, bad[i], "rampart@corp.example"), ERR_INVALID);
		assert_int_equal(mail_msg_add_to(m, bad[i], "other@partner.example"), ERR_INVALID);
		assert_int_equal(mail_msg_attach(m, bad[i], NULL, "x", 1), ERR_INVALID);
	}
	assert_int_equal(mail_msg_add_to(m, NULL, "a@partner.example\r\nBcc: evil@attacker.example"), ERR_INVALID);
	assert_int_equal(mail_msg_add_to(m, NULL, "a@partner.example>, <evil@attacker.example"), ERR_INVALID);
	assert_int_equal(mail_msg_set_from(m, NULL, "a@b\nc.example"), ERR_INVALID);
	assert_int_equal(mail_msg_attach(m, "a.txt", "text/plain\r\nBcc: x", "x", 1), ERR_INVALID);
	assert_int_equal(mail_msg_attach(m, "../a.txt", NULL, "x", 1), ERR_INVALID);
	/* A text is content: its lines never become headers. */
	assert_int_equal(mail_msg_set_text(m, "\r\nBcc: evil@attacker.example\r\n\r\n",
					  strlen("\r\nBcc: evil@attacker.example\r\n\r\n")), 0);
	assert_int_equal(mail_msg_set_text(m, "a\0b", 3), ERR_INVALID);
	assert_int_equal(mail_msg_set_subject(m, "Tab\tis fine"), 0);
	render(m, &out);
	out.data[header_len(&out)] = '\0';   /* the header block alone */
	assert_null(strcasestr(out.data, "Bcc:"));
	assert_null(strstr(out.data, "attacker"));
	out.data[strlen(out.data)] = '\r';
	p = parse(&out);
	assert_null(g_mime_message_get_bcc(p) && internet_address_list_length(g_mime_message_get_bcc(p)) > 0 ?
		    "bcc" : NULL);
	assert_int_equal(internet_address_list_length(g_mime_message_get_to(p)), 1);
	assert_int_equal(internet_address_list_length(g_mime_message_get_from(p)), 1);
	g_object_unref(p);
	buf_done(&out);
	mail_msg_free(m);
}

static void test_text_encoding_and_link(void **state)
{
	char long_line[1200];
	struct mail_msg *m = msg_new();
	struct buf out;
	GMimeMessage *p;

	assert_int_equal(mail_msg_set_subject(m, "Files for you from Rampart"), 0);
	assert_int_equal(mail_msg_set_text(m, "Download them here:\n" LINK "\n\n", strlen(LINK) + 22), 0);
	render(m, &out);
	assert_non_null(strcasestr(out.data, "Content-Transfer-Encoding: 7bit"));
	assert_non_null(strstr(out.data, "Subject: Files for you from Rampart\r\n"));
	assert_non_null(strstr(out.data, "From: rampart@corp.example\r\n"));
	assert_non_null(strstr(out.data, "To: recipient@partner.example\r\n"));
	assert_non_null(strstr(out.data, "\r\n\r\nDownload them here:\r\n" LINK "\r\n"));
	assert_non_null(strstr(out.data, "Date: "));
	assert_non_null(strcasestr(out.data, "Message-Id: <"));
	assert_non_null(strstr(out.data, "@rampart>"));
	buf_done(&out);

	/* A line longer than SMTP allows goes quoted-printable, and still decodes. */
	memset(long_line, 'a', sizeof(long_line) - 3);
	memcpy(long_line + sizeof(long_line) - 3, "\n", 2);
	assert_int_equal(mail_msg_set_text(m, long_line, strlen(long_line)), 0);
	render(m, &out);
	assert_non_null(strcasestr(out.data, "Content-Transfer-Encoding: quoted-printable"));
	for (const char *l = out.data; l; l = strstr(l, "\r\n")) {
		const char *end = strstr(l + 2, "\r\n");

		l += 2;
		assert_true(!end || end - l <= 998);
	}
	p = parse(&out);
	{
		char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(g_mime_message_get_body(p)));

		assert_int_equal(strlen(text), strlen(long_line) + 1);
		assert_memory_equal(text, long_line, strlen(long_line) - 1);
		assert_string_equal(text + strlen(long_line) - 1, "\r\n");
		g_free(text);
	}
	g_object_unref(p);
	buf_done(&out);
	mail_msg_free(m);
}

static void test_incomplete_and_unreachable(void **state)
{
	struct mail_relay none = { "", 0 }, closed = { "smtp://127.0.0.1:1", 5 };
	struct mail_msg *m = mail_msg_new();
	struct rerr e = { "", "", 0 };
	struct buf out;

	buf_init(&out, 0);
	assert_int_equal(mail_msg_render(m, &out), ERR_INVALID);
	assert_int_equal(mail_msg_set_from(m, NULL, "rampart@localhost"), ERR_INVALID);   /* email.h's rule */
	assert_int_equal(mail_msg_set_from(m, NULL, "rampart@corp.example"), 0);
	assert_int_equal(mail_msg_render(m, &out), ERR_INVALID);
	assert_int_equal(mail_send(&closed, m, &e), ERR_INVALID);
	assert_string_not_equal(e.message, "");
	assert_int_equal(mail_msg_add_to(m, NULL, "recipient@partner.example"), 0);
	assert_int_equal(mail_send(&none, m, &e), ERR_INVALID);
	memset(&e, 0, sizeof(e));
	assert_int_equal(mail_send(&closed, m, &e), ERR_UNAVAILABLE);
	assert_string_not_equal(e.message, "");
	for (int i = 1; i < MAIL_MAX_RCPT; i++)
		assert_int_equal(mail_msg_add_to(m, NULL, "more@partner.example"), 0);
	assert_int_equal(mail_msg_add_to(m, NULL, "one.too.many@partner.example"), ERR_INVALID);
	buf_done(&out);
	mail_msg_free(m);
	mail_msg_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_japanese_subject_and_names_round_trip),
		cmocka_unit_test(test_subjects_round_trip),
		cmocka_unit_test(test_attachment_name_rfc2231),
		cmocka_unit_test(test_header_injection_refused),
		cmocka_unit_test(test_text_encoding_and_link),
		cmocka_unit_test(test_incomplete_and_unreachable),
	};

	assert_int_equal(mail_init(), 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
