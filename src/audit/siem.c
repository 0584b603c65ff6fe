/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * siem: streaming audit entries and checkpoints to a SIEM as they are
 * committed.  One shipper per destination ([audit] siem_syslog,
 * siem_http), each on its own ticker thread, reading the log after its
 * cursor (siem.h) and sending through siem_net.c.
 *
 * Why the log is the queue: an entry is appended inside the transaction
 * of the change it records, and that transaction may still roll back
 * (its id is then reused), so nothing may leave the server before the
 * commit, which only the database knows of.  Appends hold the head row to
 * their commit, so committed ids appear in order and reading "id > cursor"
 * never skips one.  The append path does nothing for the shipper at all.
 *
 * Delivery: a destination that acknowledges (HTTP 2xx, a local datagram
 * socket) moves the cursor at once; over a syslog stream, which has no
 * acknowledgment, what was sent counts as delivered once the connection
 * stayed up SIEM_CONFIRM_MS afterwards, and a connection found closed or
 * reset before then is reopened and everything after the cursor sent
 * again.  A receiver down for long makes only the backlog grow: nothing
 * is dropped (the log is kept anyway), the backlog is a metric, and a
 * warning is logged when it passes [audit] siem_backlog_warn.
 *
 * Each entry shipped must continue the one shipped before it (its
 * prev_hash); when the stored chain no longer does (rewritten or restored
 * after it was sent), an "audit_alert" message goes out first and an
 * error is logged.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/audit_internal.h"
#include "audit/siem.h"
#include "audit/siem_net.h"
#include "common/app.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/fsio.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/str.h"
#include "common/ticker.h"
#include "store/store.h"

#define SIEM_BATCH 200
#define SIEM_BATCHES_PER_TICK 25
#define SIEM_CKPT_BATCH 64
#define SIEM_CONFIRM_MS 2000
#define SIEM_BACKOFF_MAX_MS 60000

/* ------------------------------------------------------------ the cursor file */

int siem_cursor_parse(const char *data, size_t len, struct siem_pos *ret)
{
	char text[SIEM_CURSOR_MAX], hash[AUDIT_HASH_HEX + 1];
	long long entry, ckpt;
	int used = 0;

	if (len == 0 || len >= sizeof(text) || memchr(data, '\0', len) || data[len - 1] != '\n')
		return ERR_INVALID;
	memcpy(text, data, len);
	text[len] = '\0';
	if (sscanf(text, "rampart-siem-cursor 1\nentry %lld %65s\ncheckpoint %lld\n%n", &entry, hash, &ckpt,
		   &used) != 3 || (size_t)used != len || entry < 0 || ckpt < 0 || !audit_hash_is_valid(hash) ||
	    (entry == 0 && strcmp(hash, AUDIT_GENESIS) != 0))
		return ERR_INVALID;
	ret->entry = entry;
	memcpy(ret->hash, hash, AUDIT_HASH_HEX);
	ret->checkpoint = ckpt;
	return 0;
}

size_t siem_cursor_text(const struct siem_pos *p, char out[SIEM_CURSOR_MAX])
{
	int n = snprintf(out, SIEM_CURSOR_MAX, "rampart-siem-cursor 1\nentry %lld %s\ncheckpoint %lld\n",
			 (long long)p->entry, p->hash, (long long)p->checkpoint);

	return n < 0 ? 0 : (size_t)n;
}

/* ------------------------------------------------------------ shippers */

struct siem_shipper {
	const char *name;              /* "syslog", "http": the metric label and the cursor's name */
	struct siem_target target;
	struct app *app;
	char cursor_path[1100];
	struct siem_conn *conn;
	struct siem_pos acked;         /* durable: what the destination has */
	struct siem_pos sent;          /* sent on the current connection, maybe not yet delivered */
	int64_t last_send_ms;
	int64_t retry_at_ms;
	int64_t backoff_ms;
	bool failing;
	bool backlog_warned;
	bool shorter;                  /* an alert is due: the log was found shorter than what was sent */
	int64_t shorter_head;
	int64_t shorter_sent;
	struct ticker *ticker;
	_Atomic int64_t backlog;
	_Atomic int64_t shipped;
	_Atomic int64_t failures;
	_Atomic int64_t alerts;
	_Atomic int up;
};

static struct siem_shipper siem_dests[2];
static size_t siem_ndests;

static void siem_pos_zero(struct siem_pos *p)
{
	memset(p, 0, sizeof(*p));
	str_copy(p->hash, sizeof(p->hash), AUDIT_GENESIS);
}

static bool siem_pos_eq(const struct siem_pos *a, const struct siem_pos *b)
{
	return a->entry == b->entry && a->checkpoint == b->checkpoint && strcmp(a->hash, b->hash) == 0;
}

static void siem_cursor_load(struct siem_shipper *s)
{
	char data[SIEM_CURSOR_MAX];
	ssize_t n = -1;
	int fd;

	siem_pos_zero(&s->acked);
	fd = open(s->cursor_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		log_info("audit: SIEM destination starts from the first entry", "destination=%s", s->name);
	} else if (fd < 0 || (n = fsio_read(fd, data, sizeof(data))) < 0 ||
		   siem_cursor_parse(data, (size_t)n, &s->acked) < 0) {
		/* Sending everything again is better than skipping anything. */
		siem_pos_zero(&s->acked);
		log_error("audit: the SIEM cursor is unreadable; sending from the first entry",
			  "destination=%s path=%s", s->name, s->cursor_path);
	}
	if (fd >= 0)
		close(fd);
	s->sent = s->acked;
}

/* The destination has everything sent: moves the durable cursor there. */
static void siem_ack(struct siem_shipper *s)
{
	char text[SIEM_CURSOR_MAX];
	size_t n;
	int r;

	if (siem_pos_eq(&s->acked, &s->sent))
		return;
	if (s->sent.entry > s->acked.entry)
		atomic_fetch_add(&s->shipped, s->sent.entry - s->acked.entry);
	s->acked = s->sent;
	n = siem_cursor_text(&s->acked, text);
	r = fsio_replace(s->cursor_path, text, n, 0600);
	if (r < 0)
		log_error("audit: cannot save the SIEM cursor", "destination=%s error=\"%s\"", s->name,
			  strerror(-r));
}

/* Forgets the connection; what it carried since the cursor is sent again on the next one. */
static void siem_drop(struct siem_shipper *s)
{
	siem_conn_close(s->conn);
	s->conn = NULL;
	s->sent = s->acked;
}

static void siem_fail(struct siem_shipper *s, int64_t now, const char *what, int err, long status)
{
	atomic_fetch_add(&s->failures, 1);
	atomic_store(&s->up, 0);
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 1000;
	if (s->backoff_ms > SIEM_BACKOFF_MAX_MS)
		s->backoff_ms = SIEM_BACKOFF_MAX_MS;
	s->retry_at_ms = now + s->backoff_ms;
	if (!s->failing)
		log_warn("audit: cannot reach the SIEM destination; entries wait in the log",
			 "destination=%s what=\"%s\" error=\"%s\" status=%ld", s->name, what,
			 strerror(err < 0 ? -err : err), status);
	s->failing = true;
}

static void siem_up(struct siem_shipper *s)
{
	if (s->failing)
		log_info("audit: the SIEM destination is reachable again", "destination=%s", s->name);
	s->failing = false;
	s->backoff_ms = 0;
	atomic_store(&s->up, 1);
}

/* What one tick sends: messages and the position they bring the destination to. */
struct siem_batch {
	struct siem_msg msgs[SIEM_BATCH * 2 + SIEM_CKPT_BATCH];
	char *texts[SIEM_BATCH * 2 + SIEM_CKPT_BATCH];
	size_t n;
	size_t entries;
	struct siem_pos end;
};

static void siem_batch_free(struct siem_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->texts[i]);
	b->n = 0;
}

/* Adds @o (stolen) as a message.  Returns 0 or -ENOMEM. */
static int siem_batch_add(struct siem_batch *b, json_t *o, const char *msgid, int severity, int64_t time_ms)
{
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;

	json_decref(o);
	if (!text)
		return -ENOMEM;
	b->texts[b->n] = text;
	b->msgs[b->n] = (struct siem_msg){ .msgid = msgid, .severity = severity, .time_ms = time_ms,
					   .json = text };
	b->n++;
	return 0;
}

/* The alert sent before entry @id when it does not continue what was shipped. */
static int siem_batch_alert(struct siem_shipper *s, struct siem_batch *b, int64_t id, const char *prev)
{
	json_t *o;

	atomic_fetch_add(&s->alerts, 1);
	log_error("audit: the stored chain does not continue what was sent to the SIEM: it was rewritten "
		  "or restored after it was sent", "destination=%s entry=%lld sent_entry=%lld",
		  s->name, (long long)id, (long long)b->end.entry);
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s?}", "type", "audit_alert", "server_id",
		      s->app->server_id, "alert", "chain_mismatch", "entry", (json_int_t)id,
		      "shipped_entry", (json_int_t)b->end.entry, "shipped_hash", b->end.hash,
		      "prev_hash", prev);
	return siem_batch_add(b, o, "alert", 3, rtime_now_ms());
}

static int siem_batch_entries(struct siem_shipper *s, struct store_conn *c, struct siem_batch *b)
{
	struct store_stmt *q;
	int r;

	if (s->shorter && b->n == 0) {
		r = siem_batch_add(b, json_pack("{s:s, s:s, s:s, s:I, s:I}", "type", "audit_alert", "server_id",
						s->app->server_id, "alert", "log_shorter", "head",
						(json_int_t)s->shorter_head, "shipped_entry",
						(json_int_t)s->shorter_sent), "alert", 3, rtime_now_ms());
		if (r < 0)
			return r;
	}

	r = store_query(c, "SELECT " AUDIT_ENTRY_COLUMNS " FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2",
			STORE_ARGS(SA_I64(b->end.entry), SA_I64(SIEM_BATCH)), &q);
	if (r < 0)
		return r;
	while ((r = store_step(q)) == 1) {
		int64_t id = store_col_i64(q, 0);
		const char *prev = store_col_text(q, 11), *hash = store_col_text(q, 12);
		const char *outcome = store_col_text(q, 8);
		json_t *o;

		if (id != b->end.entry + 1 || !prev || strcmp(prev, b->end.hash) != 0) {
			r = siem_batch_alert(s, b, id, prev);
			if (r < 0)
				break;
		}
		o = audit_row_json(q);
		if (o && (json_object_set_new(o, "type", json_string("audit_entry")) < 0 ||
			  json_object_set_new(o, "server_id", json_string(s->app->server_id)) < 0)) {
			json_decref(o);
			o = NULL;
		}
		r = siem_batch_add(b, o, "audit", outcome && strcmp(outcome, "success") == 0 ? 5 : 4,
				   store_col_i64(q, 1));
		if (r < 0)
			break;
		b->end.entry = id;
		if (str_copy(b->end.hash, sizeof(b->end.hash), hash ? hash : "") < 0 || !hash)
			b->end.hash[0] = '\0';
		b->entries++;
	}
	store_stmt_free(q);
	return r;
}

static int siem_batch_checkpoints(struct siem_shipper *s, struct store_conn *c, struct siem_batch *b)
{
	struct store_stmt *q;
	int r;

	/* A checkpoint goes out after the entry it signs. */
	r = store_query(c, "SELECT " AUDIT_CKPT_COLUMNS " FROM audit_checkpoints WHERE id > $1 AND seq <= $2 "
			   "ORDER BY id LIMIT $3",
			STORE_ARGS(SA_I64(b->end.checkpoint), SA_I64(b->end.entry), SA_I64(SIEM_CKPT_BATCH)), &q);
	if (r < 0)
		return r;
	while ((r = store_step(q)) == 1) {
		struct audit_checkpoint cp;
		json_t *o;

		b->end.checkpoint = store_col_i64(q, 0);
		if (audit_ckpt_row(q, &cp) < 0) {
			log_warn("audit: a stored checkpoint is damaged; not sent", "destination=%s id=%lld",
				 s->name, (long long)b->end.checkpoint);
			continue;
		}
		o = audit_checkpoint_json(&cp);
		if (o && json_object_set_new(o, "type", json_string("audit_checkpoint")) < 0) {
			json_decref(o);
			o = NULL;
		}
		r = siem_batch_add(b, o, "checkpoint", 6, cp.time_ms);
		if (r < 0)
			break;
	}
	store_stmt_free(q);
	return r;
}

/* Sends what follows s->sent, batch by batch, while the destination takes it. */
static void siem_ship(struct siem_shipper *s, struct store_conn *c, int64_t now)
{
	struct siem_batch *b;
	long status = 0;
	int r;

	if (!s->conn) {
		r = siem_conn_open(&s->target, &s->conn);
		if (r < 0) {
			siem_fail(s, now, "connect", r, 0);
			return;
		}
		if (!siem_conn_acknowledges(s->conn))
			siem_up(s);   /* a stream receiver that accepts is up; HTTP tells on the first POST */
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return;
	for (int i = 0; i < SIEM_BATCHES_PER_TICK; i++) {
		b->end = s->sent;
		b->entries = 0;
		r = siem_batch_entries(s, c, b);
		r = r < 0 ? r : siem_batch_checkpoints(s, c, b);
		if (r < 0) {
			log_warn("audit: cannot read entries for the SIEM", "destination=%s error=\"%s\"", s->name,
				 err_str(r));
			siem_batch_free(b);
			break;
		}
		if (b->n == 0)
			break;
		r = siem_conn_send(s->conn, b->msgs, b->n, &status);
		siem_batch_free(b);
		if (r < 0) {
			siem_drop(s);
			siem_fail(s, now, "send", r, status);
			break;
		}
		s->sent = b->end;
		s->last_send_ms = now;
		s->shorter = false;
		if (siem_conn_acknowledges(s->conn))
			siem_ack(s);
		siem_up(s);
		if (b->entries < SIEM_BATCH)
			break;
	}
	free(b);
}

/*
 * Compares the destination's position with the log's head: the backlog
 * for the metric and the warning, and a log now shorter than what was
 * sent (restored from an older backup), after which the new entries of
 * the same ids are sent too, following an alert.
 */
static void siem_check_head(struct siem_shipper *s, struct store_conn *c)
{
	int64_t head, backlog, warn = s->app->cfg.audit_siem_backlog_warn;
	struct store_stmt *q;

	if (store_query_i64(c, "SELECT seq FROM audit_head WHERE id = 1", STORE_NOARGS, &head) < 0)
		return;
	if (head < s->acked.entry && s->sent.entry == s->acked.entry) {
		log_error("audit: the log is shorter than what was sent to the SIEM; it was restored or cut",
			  "destination=%s head=%lld sent_entry=%lld", s->name, (long long)head,
			  (long long)s->acked.entry);
		atomic_fetch_add(&s->alerts, 1);
		s->shorter = true;
		s->shorter_head = head;
		s->shorter_sent = s->acked.entry;
		siem_pos_zero(&s->sent);
		s->sent.checkpoint = s->acked.checkpoint;
		if (head > 0 && store_query(c, "SELECT id, hash FROM audit_log WHERE id = $1",
					    STORE_ARGS(SA_I64(head)), &q) == 0) {
			if (store_step(q) == 1 && audit_hash_is_valid(store_col_text(q, 1))) {
				s->sent.entry = head;
				str_copy(s->sent.hash, sizeof(s->sent.hash), store_col_text(q, 1));
			}
			store_stmt_free(q);
		}
		siem_ack(s);
	}
	backlog = head > s->acked.entry ? head - s->acked.entry : 0;
	atomic_store(&s->backlog, backlog);
	if (backlog > warn && !s->backlog_warned) {
		log_warn("audit: entries wait to be sent to the SIEM", "destination=%s backlog=%lld", s->name,
			 (long long)backlog);
		s->backlog_warned = true;
	} else if (backlog <= warn / 2) {
		s->backlog_warned = false;
	}
}

static void siem_tick(void *arg)
{
	struct siem_shipper *s = arg;
	struct store_conn *c = store_conn(s->app->store);
	int64_t now = rtime_now_ms();

	if (!c)
		return;
	if (s->conn && !siem_conn_alive(s->conn)) {
		siem_drop(s);
		siem_fail(s, now, "the receiver closed the connection", ECONNRESET, 0);
		s->retry_at_ms = now;   /* reconnect at once: the receiver may just have restarted */
	}
	if (s->conn && !siem_pos_eq(&s->sent, &s->acked) && now - s->last_send_ms >= SIEM_CONFIRM_MS)
		siem_ack(s);
	if (now >= s->retry_at_ms)
		siem_ship(s, c, now);
	siem_check_head(s, c);
}

int audit_siem_check(const struct app *app, struct rerr *e)
{
	struct siem_target t;
	int r = 0;

	if (app->cfg.audit_siem_syslog[0])
		r = siem_target_parse_syslog(app->cfg.audit_siem_syslog, &t, e);
	if (r == 0 && app->cfg.audit_siem_http[0])
		r = siem_target_parse_http(app->cfg.audit_siem_http, app->cfg.audit_siem_http_header, &t, e);
	if (r == 0 && !app->cfg.audit_siem_http[0] && app->cfg.audit_siem_http_header[0])
		r = rerr_set(e, ERR_INVALID, "siem_http_header",
			     "[audit] siem_http_header is set but siem_http is not");
	return r;
}

static int siem_add(struct app *app, const char *name, const struct siem_target *t)
{
	struct siem_shipper *s = &siem_dests[siem_ndests];
	int n;

	memset(s, 0, sizeof(*s));
	s->name = name;
	s->target = *t;
	s->app = app;
	n = snprintf(s->cursor_path, sizeof(s->cursor_path), "%s/siem/%s.cursor", app->cfg.data_dir, name);
	if (n < 0 || (size_t)n >= sizeof(s->cursor_path))
		return -ENAMETOOLONG;
	siem_cursor_load(s);
	siem_ndests++;
	return 0;
}

int audit_siem_start(struct app *app)
{
	struct siem_target t;
	char dir[1024];
	int r = 0;

	if (!app->cfg.audit_siem_syslog[0] && !app->cfg.audit_siem_http[0])
		return 0;
	if (audit_siem_check(app, NULL) < 0)
		return -EINVAL;
	if (snprintf(dir, sizeof(dir), "%s/siem", app->cfg.data_dir) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (app->cfg.audit_siem_http[0] && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -ENOMEM;
	siem_ndests = 0;
	if (app->cfg.audit_siem_syslog[0]) {
		siem_target_parse_syslog(app->cfg.audit_siem_syslog, &t, NULL);
		r = siem_add(app, "syslog", &t);
	}
	if (r == 0 && app->cfg.audit_siem_http[0]) {
		siem_target_parse_http(app->cfg.audit_siem_http, app->cfg.audit_siem_http_header, &t, NULL);
		r = siem_add(app, "http", &t);
	}
	for (size_t i = 0; r == 0 && i < siem_ndests; i++)
		r = ticker_start(1, siem_tick, &siem_dests[i], &siem_dests[i].ticker);
	if (r < 0)
		audit_siem_stop();
	return r;
}

void audit_siem_stop(void)
{
	for (size_t i = 0; i < siem_ndests; i++) {
		struct siem_shipper *s = &siem_dests[i];

		ticker_stop(s->ticker);
		s->ticker = NULL;
		siem_conn_close(s->conn);
		s->conn = NULL;
	}
}

unsigned audit_store_threads(const struct app *app)
{
	/* The checkpoint timer, and one shipper per destination. */
	return 1 + (app->cfg.audit_siem_syslog[0] != '\0') + (app->cfg.audit_siem_http[0] != '\0');
}

void audit_metrics(struct buf *out)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} m[] = {
		{ "rampart_audit_siem_backlog", "gauge",
		  "Audit entries committed and not yet acknowledged by the SIEM destination.",
		  offsetof(struct siem_shipper, backlog) },
		{ "rampart_audit_siem_shipped_total", "counter",
		  "Audit entries the SIEM destination acknowledged since start.",
		  offsetof(struct siem_shipper, shipped) },
		{ "rampart_audit_siem_failures_total", "counter",
		  "Failed connections and sends to the SIEM destination.",
		  offsetof(struct siem_shipper, failures) },
		{ "rampart_audit_siem_alerts_total", "counter",
		  "Times the stored chain did not continue what had been sent to the SIEM destination.",
		  offsetof(struct siem_shipper, alerts) },
	};

	if (siem_ndests == 0)
		return;
	for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
		buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m[k].name, m[k].help, m[k].name, m[k].type);
		for (size_t i = 0; i < siem_ndests; i++) {
			_Atomic int64_t *v = (_Atomic int64_t *)((char *)&siem_dests[i] + m[k].off);

			buf_printf(out, "%s{destination=\"%s\"} %lld\n", m[k].name, siem_dests[i].name,
				   (long long)atomic_load(v));
		}
	}
	buf_printf(out, "# HELP rampart_audit_siem_up Whether the last attempt to reach the SIEM "
			"destination succeeded.\n# TYPE rampart_audit_siem_up gauge\n");
	for (size_t i = 0; i < siem_ndests; i++)
		buf_printf(out, "rampart_audit_siem_up{destination=\"%s\"} %d\n", siem_dests[i].name,
			   atomic_load(&siem_dests[i].up));
}
