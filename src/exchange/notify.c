/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * exchange/notify: the notices the exchange site mails (a download link, an
 * upload request, a burned link, a transfer waiting for approval), written
 * here and composed and sent through src/mail.  Who gets which notice, and
 * the audit entry for it, is decided by the callers.
 */
#include "exchange/internal.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/app.h"
#include "common/err.h"
#include "common/log.h"
#include "mail/mail.h"

/* Mails @body to @to with @subject, from [exchange] smtp_from; see internal.h for the returns. */
static int xmail_send(const struct app *app, const char *to, const char *subject, const char *body)
{
	struct mail_relay relay = { app->cfg.smtp_url, 30 };
	struct rerr e = { "", "", 0 };
	struct mail_msg *m;
	int r;

	if (!app->cfg.smtp_url[0])
		return -ENOTCONN;
	if (!email_is_valid(app->cfg.smtp_from)) {
		/* The default rampart@localhost is one: a relay needs a sender with a real domain. */
		log_warn("exchange: smtp_from is not an address mail can be sent from; notices are not sent",
			 "smtp_from=\"%s\"", app->cfg.smtp_from);
		return ERR_INVALID;
	}
	if (!email_is_valid(to))
		return ERR_INVALID;
	m = mail_msg_new();
	if (!m)
		return -ENOMEM;
	r = mail_msg_set_from(m, NULL, app->cfg.smtp_from);
	r = r ? r : mail_msg_add_to(m, NULL, to);
	r = r ? r : mail_msg_set_subject(m, subject);
	r = r ? r : mail_msg_set_text(m, body, strlen(body));
	r = r ? r : mail_send(&relay, m, &e);
	mail_msg_free(m);
	if (r == ERR_UNAVAILABLE)
		log_warn("exchange: the mail relay refused a notification", "error=\"%s\"", e.message);
	return r;
}

int xmail_link(const struct app *app, const char *sender, const char *to, const char *message,
	       int64_t downloads, int64_t expires_at, const char *url)
{
	char body[4096], when[40];
	time_t sec = (time_t)(expires_at / 1000);
	struct tm tm;
	int r;

	gmtime_r(&sec, &tm);
	if (strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm) == 0)
		return ERR_INTERNAL;
	snprintf(body, sizeof(body),
		 "%s sent you files through Rampart.\n\n%s%s%s"
		 "Download them here:\n%s\n\n"
		 "You need a password, which %s gives you another way (phone, chat).\n"
		 "The link works %lld time(s) and expires at %s.\n",
		 sender, message[0] ? "Message: " : "", message, message[0] ? "\n\n" : "",
		 url, sender, (long long)downloads, when);
	r = xmail_send(app, to, "Files for you from Rampart", body);
	sodium_memzero(body, sizeof(body));
	return r;
}

int xmail_request(const struct app *app, const char *requester, const char *to, const char *message,
		  const char *url)
{
	char body[4096];
	int r;

	snprintf(body, sizeof(body),
		 "%s asks you to upload files through Rampart.\n\n%s%s%s"
		 "Upload them here:\n%s\n\n"
		 "You need a password, which %s gives you another way (phone, chat).\n",
		 requester, message[0] ? "Message: " : "", message, message[0] ? "\n\n" : "", url, requester);
	r = xmail_send(app, to, "Please upload files through Rampart", body);
	sodium_memzero(body, sizeof(body));
	return r;
}

int xmail_burned(const struct app *app, const char *to, const char *tid, const char *peer, int64_t failures)
{
	char body[512];

	snprintf(body, sizeof(body), "Your transfer %s to %s was blocked after %lld wrong passwords.\n"
		 "Nobody can download it any more. Send the files again if they are still needed.\n",
		 tid, peer, (long long)failures);
	return xmail_send(app, to, "Rampart: a transfer was blocked", body);
}

int xmail_approval(const struct app *app, const char *to, const char *sender, unsigned nfiles,
		   const char *peer, const char *tid)
{
	char body[2048];

	snprintf(body, sizeof(body),
		 "%s wants to send %u file(s) to %s, outside the organization, through Rampart.\n\n"
		 "Their unit requires approval: the link is mailed only once you approve.\n"
		 "Approve or reject transfer %s in the Rampart console, or with\n"
		 "    rampart transfers approve %s\n    rampart transfers reject %s\n",
		 sender, nfiles, peer, tid, tid, tid);
	return xmail_send(app, to, "Rampart: a transfer waits for your approval", body);
}
