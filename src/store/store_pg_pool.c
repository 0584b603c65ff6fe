/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * store_pg_pool: the PostgreSQL driver's connections.  One per thread,
 * taken from a pool of at most pool_size: an idle one (given back when its
 * thread ended), a new one, or after waiting up to wait_ms for one, else
 * none.  A connection whose server went away is reconnected on its
 * thread's next statement, never inside a transaction.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/rtime.h"
#include "store/store_pg_internal.h"

/* Forgets what the server session knew: after a reconnect nothing is prepared. */
static void pg_session_forget(struct pg_conn *c)
{
	for (int i = 0; i < PG_CACHE_SIZE; i++)
		c->cache[i].prepared = false;
	c->streaming = NULL;
	c->savepoint = false;
}

/* Server notices ("relation already exists, skipping") go to the debug log, not stderr. */
static void pg_notice(void *arg, const char *message)
{
	log_debug("store: notice", "detail=\"%.*s\"", (int)strcspn(message, "\n"), message);
}

static PGconn *pg_connect(const struct pg_store *s)
{
	/* Later keywords win: the URI may set connect_timeout, never client_encoding. */
	/*
	 * TCP keepalives and a user timeout bound how long a statement waits on
	 * a database host that vanished without closing the connection (they
	 * do nothing on a Unix socket).  The URI may override them.
	 */
	const char *const keys[] = { "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
				     "tcp_user_timeout", "connect_timeout", "application_name", "dbname",
				     "client_encoding", NULL };
	const char *const vals[] = { "1", "30", "10", "3", "30000", "10", "rampartd", s->target, "UTF8", NULL };

	return PQconnectdbParams(keys, vals, 1);
}

void store_pg_conn_free(struct pg_conn *c)
{
	for (int i = 0; i < PG_CACHE_SIZE; i++) {
		free(c->cache[i].sql);
		free(c->cache[i].types);
	}
	PQfinish(c->pg);
	free(c);
}

/*
 * Makes sure @c has a live session before a statement: reconnects a broken
 * connection (outside a transaction only).  Returns 0 or ERR_UNAVAILABLE.
 */
/* Warns at most once per PG_WARN_EVERY_MS about reconnecting; the rest go to the debug log. */
#define PG_WARN_EVERY_MS 10000

static bool pg_warn_now(void)
{
	static atomic_llong last;
	long long now = (long long)rtime_mono_ns() / 1000000, prev = atomic_load(&last);

	return (prev == 0 || now - prev >= PG_WARN_EVERY_MS) && atomic_compare_exchange_strong(&last, &prev, now);
}

int store_pg_alive(struct pg_conn *c)
{
	/*
	 * An idle session the server ended (a restart, an administrator's
	 * pg_terminate_backend) is noticed here, before a statement is sent on
	 * it, so that the request after a database restart does not fail:
	 * PQconsumeInput never blocks, and reads the server's goodbye.
	 */
	if (!c->broken && !c->in_tx && PQstatus(c->pg) == CONNECTION_OK &&
	    (!PQconsumeInput(c->pg) || !PQconsumeInput(c->pg)))
		c->broken = true;   /* the second read sees the end that follows the server's last message */
	if (!c->broken && PQstatus(c->pg) == CONNECTION_OK)
		return 0;
	if (c->in_tx) {
		store_note_error();
		return ERR_UNAVAILABLE;   /* the transaction died with the session */
	}
	PQreset(c->pg);
	pg_session_forget(c);
	if (PQstatus(c->pg) != CONNECTION_OK) {
		store_note_error();
		c->broken = true;
		if (pg_warn_now())
			log_warn("store: cannot reconnect to the database", "target=\"%s\" detail=\"%.*s\"",
				 c->owner->shown, store_pg_line_len(PQerrorMessage(c->pg)), PQerrorMessage(c->pg));
		else
			log_debug("store: cannot reconnect to the database", "target=\"%s\"", c->owner->shown);
		return ERR_UNAVAILABLE;
	}
	c->broken = false;
	log_info("store: reconnected to the database", "target=\"%s\"", c->owner->shown);
	return 0;
}

/* Gives a thread's connection back to the pool (the key's destructor, at thread exit). */
void store_pg_conn_return(void *p)
{
	struct pg_conn *c = p;
	struct pg_store *s = c->owner;

	if (c->in_tx) {
		if (!c->broken)
			store_pg_simple(c, "ROLLBACK", "rollback");
		c->in_tx = false;
		c->savepoint = false;
	}
	pthread_mutex_lock(&s->lock);
	c->next_idle = s->idle;
	s->idle = c;
	pthread_cond_signal(&s->freed);
	pthread_mutex_unlock(&s->lock);
}

/* Takes an idle connection, makes a new one, or waits for one.  NULL when none came. */
static struct pg_conn *pg_conn_take(struct pg_store *s)
{
	struct timespec until;
	struct pg_conn *c = NULL;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += s->wait_ms / 1000;
	until.tv_nsec += (long)(s->wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	while (!s->idle && s->count >= s->pool_size)
		if (pthread_cond_timedwait(&s->freed, &s->lock, &until) != 0)
			break;
	if (s->idle) {
		c = s->idle;
		s->idle = c->next_idle;
		c->next_idle = NULL;
		pthread_mutex_unlock(&s->lock);
		return c;
	}
	if (s->count >= s->pool_size) {
		pthread_mutex_unlock(&s->lock);
		store_note_error();
		log_warn("store: no free database connection", "pool_size=%u waited_ms=%u",
			 s->pool_size, s->wait_ms);
		return NULL;
	}
	s->count++;   /* reserved: connecting happens outside the lock */
	pthread_mutex_unlock(&s->lock);

	c = calloc(1, sizeof(*c));
	if (c) {
		c->base.ops = &store_pg_ops;
		c->owner = s;
		c->pg = pg_connect(s);
		if (c->pg)
			PQsetNoticeProcessor(c->pg, pg_notice, NULL);
	}
	if (!c || !c->pg) {
		free(c);
		pthread_mutex_lock(&s->lock);
		s->count--;
		pthread_cond_signal(&s->freed);
		pthread_mutex_unlock(&s->lock);
		return NULL;
	}
	if (PQstatus(c->pg) != CONNECTION_OK) {
		/* Handed out all the same: its statements fail until the database is back. */
		c->broken = true;
		log_warn("store: cannot connect to the database", "target=\"%s\" detail=\"%.*s\"",
			 s->shown, store_pg_line_len(PQerrorMessage(c->pg)), PQerrorMessage(c->pg));
	}
	pthread_mutex_lock(&s->lock);
	c->next = s->all;
	s->all = c;
	pthread_mutex_unlock(&s->lock);
	return c;
}

struct store_conn *store_pg_conn(struct store *store)
{
	struct pg_store *s = PG_STORE(store);
	struct pg_conn *c = pthread_getspecific(s->key);

	if (c)
		return &c->base;
	c = pg_conn_take(s);
	if (!c)
		return NULL;
	pthread_setspecific(s->key, c);
	return &c->base;
}
