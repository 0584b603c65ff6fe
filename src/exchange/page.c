/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * exchange/page: the HTML pages an outsider sees at /x/{token}: one
 * self-contained page per answer (no script, no external resource, the
 * text escaped), the forms, and the refusals of a link that cannot be used.
 */
#include "exchange/internal.h"

#include <string.h>

#include "common/err.h"

const char xpage_download_form[] =
	"<form method=\"post\" enctype=\"application/x-www-form-urlencoded\">"
	"<label for=\"password\">Password</label> "
	"<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"off\" required> "
	"<button type=\"submit\">Download</button></form>"
	"<p>The sender gives you the password another way. Opening this page does not use up the link.</p>";

const char xpage_upload_form[] =
	"<form method=\"post\" enctype=\"multipart/form-data\">"
	"<p><label for=\"password\">Password</label> "
	"<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"off\" required></p>"
	"<p><label for=\"file\">Files</label> <input id=\"file\" name=\"file\" type=\"file\" multiple required></p>"
	"<p><button type=\"submit\">Upload</button></p></form>";

static int xpage_escape(struct buf *b, const char *s)
{
	int r = 0;

	for (; r == 0 && *s; s++) {
		switch (*s) {
		case '<': r = buf_puts(b, "&lt;"); break;
		case '>': r = buf_puts(b, "&gt;"); break;
		case '&': r = buf_puts(b, "&amp;"); break;
		case '"': r = buf_puts(b, "&quot;"); break;
		case '\'': r = buf_puts(b, "&#39;"); break;
		default: r = buf_append(b, s, 1);
		}
	}
	return r;
}

int xpage(struct http_resp *resp, int status, const char *title, const char *text, const char *form_html)
{
	struct buf b;
	int r;

	buf_init(&b, 64 * 1024);
	r = buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			 "<meta name=\"viewport\" content=\"width=device-width\">"
			 "<meta name=\"robots\" content=\"noindex\"><title>");
	r = r ? r : xpage_escape(&b, title);
	r = r ? r : buf_puts(&b, " - Rampart</title></head><body><main><h1>");
	r = r ? r : xpage_escape(&b, title);
	r = r ? r : buf_puts(&b, "</h1><p>");
	r = r ? r : xpage_escape(&b, text);
	r = r ? r : buf_puts(&b, "</p>");
	r = r ? r : buf_puts(&b, form_html ? form_html : "");
	r = r ? r : buf_puts(&b, "</main></body></html>\n");
	if (r == 0)
		r = http_resp_data(resp, status, "text/html; charset=utf-8", b.data, b.len);
	buf_done(&b);
	if (r == 0)
		http_resp_header(resp, "X-Robots-Tag", "noindex");
	return r;
}

int xpage_gone(struct http_resp *resp, const char *state)
{
	const char *text = strcmp(state, "expired") == 0 ? "This link has expired. Ask the sender for a new one."
		: strcmp(state, "burned") == 0 ? "This link was blocked after too many wrong passwords. Ask the sender for a new one."
		: strcmp(state, "revoked") == 0 ? "The sender withdrew this link."
		: "This link has already been used.";

	xpage(resp, 410, "Link no longer available", text, NULL);
	return ERR_CONFLICT;
}

int xpage_pending(struct http_resp *resp)
{
	/* Nothing is counted or consumed. */
	xpage(resp, 403, "Not available yet",
	      "This transfer waits for approval in the sender's organization. Try again later.", NULL);
	return ERR_FORBIDDEN;
}

int xpage_not_found(struct http_resp *resp)
{
	xpage(resp, 404, "Link not valid", "This link is not valid. Check that you copied all of it.", NULL);
	return ERR_NOT_FOUND;
}

int xpage_unusable(struct http_resp *resp, int lookup, const struct xfer_row *x, int64_t now)
{
	if (lookup == ERR_NOT_FOUND || (lookup == 0 && strcmp(x->status, "uploading") == 0))
		return xpage_not_found(resp);
	if (lookup < 0)
		return lookup;
	if (strcmp(x->status, "active") != 0 && strcmp(x->status, "awaiting_upload") != 0)
		return xpage_gone(resp, strcmp(x->status, "receiving") == 0 ? "used" : x->status);
	if (x->expires_at <= now)
		return xpage_gone(resp, "expired");
	if (x->downloads_left <= 0)
		return xpage_gone(resp, "used");
	if (strcmp(x->approval, "pending") == 0)
		return xpage_pending(resp);
	return 0;
}
