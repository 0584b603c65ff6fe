/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * exchange: the secure exchange site.  People send files to outsiders (and
 * request files from them) through one-time links /x/{token} plus a
 * password passed by another channel.
 *
 * Invariants:
 *   - only SHA-256 of a link token is stored; each file is encrypted
 *     (XChaCha20-Poly1305 secretstream) under Argon2id(token, password), so
 *     the database and the data directory alone cannot decrypt it;
 *   - GET and HEAD of a link never consume it; a download is consumed by one
 *     conditional UPDATE (downloads_left > 0), so parallel downloads of a
 *     one-download link cannot both succeed;
 *   - an upload is invisible until its last byte is on disk and committed;
 *     an interrupted one is removed when its request ends, or by the sweeper
 *     after a crash;
 *   - no link, token or password reaches a log line or an audit entry.
 *
 * Notices (the link to a recipient, the upload request to an outsider, a
 * burned link to its owner, a held transfer to who may approve it) are
 * composed and sent through src/mail, to [exchange] smtp_url from
 * smtp_from; a refused notice never fails the transfer (its "mail" is
 * "failed", and it is audited as exchange.notify with outcome failure).
 *
 * The code is split by concern into rooms listed in internal.h: authz.c
 * (exchange_may), blob.c (keys and encrypted files), transfer.c (model and
 * queries), notify.c, page.c, upload.c, download.c, link.c (/x/{token}),
 * approval.c, api.c (the API and the routes) and sweep.c.
 *
 * Authorization (exchange_may), default deny:
 *   owner                 reads and revokes their own transfers
 *   admin, security_officer  reads and revokes every transfer
 *   security_manager      reads and revokes transfers of people in their subtree
 *   auditor               reads every transfer
 *   sender's manager      reads, approves and rejects a transfer waiting for approval
 *                         (admins approve and reject any; nobody their own)
 *   approval settings     admin sets; admin, security_officer, auditor read
 *   SCIM tokens           nothing
 */
#ifndef RAMPART_EXCHANGE_H
#define RAMPART_EXCHANGE_H

#include <stdbool.h>
#include <stdint.h>

#include "http/principal.h"

struct app;
struct http_server;
struct store_conn;

enum exchange_action {
	EXCHANGE_CREATE,     /* send files or request them */
	EXCHANGE_READ,       /* see a transfer's state */
	EXCHANGE_REVOKE,     /* end a transfer before it is used */
	EXCHANGE_SWEEP,      /* run the sweeper now */
	EXCHANGE_CONFIGURE,  /* set which org units need approval of external transfers */
	EXCHANGE_READ_SETTINGS, /* see those settings */
};

/* A transfer as authorization needs it; NULL for actions without one. */
struct exchange_target {
	const char *owner_id;
	const char *owner_org_path;
};

bool exchange_may(const struct principal *p, enum exchange_action a, const struct exchange_target *t);

/*
 * Registers /api/v1/transfers... (with approve and reject), /api/v1/requests,
 * /api/v1/exchange/sweep, /api/v1/exchange/approval and /x/{token}.
 */
int exchange_routes(struct http_server *s);

/*
 * Expires transfers past their time, deletes the blobs of ended and used-up
 * transfers and removes uploads abandoned by a crashed server.  Safe with
 * several servers on one database: each change is a conditional UPDATE that
 * only one of them wins.  Returns the number of transfers it changed, or an error.
 */
int exchange_sweep(struct app *app, struct store_conn *c);

/*
 * Starts a thread that sweeps every @interval_s seconds, once per interval
 * across every server sharing the database (store/job.h).  Returns 0 or -errno.
 */
int exchange_sweeper_start(struct app *app, unsigned interval_s);
/* Stops it (waits for a sweep in progress).  Safe when not started. */
void exchange_sweeper_stop(void);

#endif
