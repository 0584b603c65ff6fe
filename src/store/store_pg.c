/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * store_pg: the PostgreSQL driver (libpq), for several servers on one
 * database: statements, transactions and errors here, connections in
 * store_pg_pool.c, the SQL text it reads and rewrites in store_pg_sql.c
 * (shared through store_pg_internal.h).  It gives callers the semantics
 * store.h documents, which were first SQLite's:
 *
 * Connections.  One per thread, as with SQLite, taken from a pool of at most
 * pool_size connections (store_options); a thread that exits gives its
 * connection back.  A thread that finds the pool empty waits up to wait_ms,
 * then gets NULL (callers answer ERR_STORE).  A connection whose server went
 * away is marked broken: the statement that saw it fails with
 * ERR_UNAVAILABLE (HTTP 503), and the thread's next statement reconnects
 * (PQreset) - never inside a transaction the loss ended: until the caller
 * rolls back, every statement of that transaction fails too, so no
 * half-applied change can follow a reconnect.
 *
 * Statements.  Prepared once per connection (a name made of common/hash.h's
 * hash of the SQL and the cache slot), parameters always bound: TEXT as
 * text (oid 25), I64 as int8 (20), BLOB as bytea in binary format (17),
 * NULL as unknown (0, PostgreSQL infers the type).  Results come in text
 * format, one row at a time (PQsetSingleRowMode), so that walking a huge
 * result needs no memory for the rest of it.  libpq runs one query at a
 * time per connection, while SQLite callers keep a query open and run other
 * statements on the same connection between its rows: before anything else
 * is sent, the rows still on the wire are read into the open statement's
 * own queue, and its next steps take them from there.
 *
 * Write transactions serialize across every server, like SQLite's single
 * writer: store_begin runs BEGIN and takes a transaction-scoped advisory
 * lock (pg_advisory_xact_lock(PG_WRITE_LOCK)) that every rampartd on the
 * database takes before writing in a transaction.  The check-then-act logic
 * the platforms wrote for SQLite (read, decide, write inside one
 * transaction) therefore stays correct with several servers, at the cost
 * SQLite already has: one write transaction at a time for the whole
 * database.  Reads and single statements outside a transaction
 * (autocommit) do not take the lock and run in parallel; a single statement
 * is atomic by itself.  The lock is waited for at most 10 s (lock_timeout),
 * as SQLite's busy timeout, then begin fails with ERR_STORE.
 *
 * A failed statement inside a transaction undoes only itself, as in SQLite
 * (where a constraint error leaves the transaction open): each statement
 * that writes runs after a savepoint, and a failure rolls back to it.  This
 * costs one more round trip per writing statement inside a transaction.
 *
 * Errors.  A constraint violation (SQLSTATE class 23: unique, foreign key,
 * check, not null) is ERR_CONFLICT, as SQLite's constraint errors.  The
 * retry policy for serialization failures and deadlocks (40001, 40P01) is
 * pg_should_retry: a statement outside a transaction is run again up to
 * PG_RETRIES times; inside a transaction the statement fails with
 * ERR_UNAVAILABLE, so that the caller rolls the whole transaction back.
 * A lost connection (CONNECTION_BAD, class 08, 57P01-57P03) is
 * ERR_UNAVAILABLE.  Anything else is ERR_STORE.  Every refusal is counted
 * (store_error_count).
 *
 * The database's collation must be C or POSIX so that text sorts by bytes
 * as in SQLite (keyset paging compares ULIDs and names with < and >):
 * open refuses another one.  Migrations are the portable files of
 * migrations/, with the DDL type words PostgreSQL spells otherwise
 * rewritten by pg_translate_ddl.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/hash.h"
#include "common/log.h"
#include "store/store_pg_internal.h"

/* ------------------------------------------------------------ errors */

static bool state_is(const char *state, const char *want)
{
	return state && strcmp(state, want) == 0;
}

static bool state_class(const char *state, const char *cls)
{
	return state && strncmp(state, cls, 2) == 0;
}

/*
 * The retry policy for serialization failures and deadlocks, in one
 * place: a statement outside a transaction that lost to another one is
 * run again, at most PG_RETRIES times, after a short growing pause; inside
 * a transaction it is never retried (its earlier statements are gone with
 * the transaction), the caller gets ERR_UNAVAILABLE and rolls back.
 */
static bool pg_should_retry(const struct pg_conn *c, int err, bool retryable, int attempt)
{
	if (err != ERR_UNAVAILABLE || !retryable || c->in_tx || c->broken || attempt >= PG_RETRIES)
		return false;
	usleep(1000u << attempt);
	return true;
}

/*
 * Maps a failed result (or a failure without one: @res NULL) to a store
 * error, counts it, and marks @c broken when the connection is gone.
 * *ret_retryable says whether pg_should_retry may run the statement again.
 */
static int pg_map(struct pg_conn *c, const PGresult *res, const char *what, bool *ret_retryable)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg);

	store_note_error();
	if (ret_retryable)
		*ret_retryable = false;
	if (PQstatus(c->pg) == CONNECTION_BAD || state_class(state, "08") ||
	    state_is(state, "57P01") || state_is(state, "57P02") || state_is(state, "57P03")) {
		c->broken = true;
		c->streaming = NULL;
		log_warn("store: database connection lost", "what=%s state=%s detail=\"%.*s\"", what,
			 state ? state : "-", store_pg_line_len(msg), msg ? msg : "");
		return ERR_UNAVAILABLE;
	}
	if (state_class(state, "23")) {
		log_debug("store: constraint", "what=%s state=%s", what, state);
		return ERR_CONFLICT;
	}
	if (state_is(state, "40001") || state_is(state, "40P01")) {
		log_debug("store: serialization failure", "what=%s state=%s", what, state);
		if (ret_retryable)
			*ret_retryable = true;
		return ERR_UNAVAILABLE;
	}
	log_debug("store: error", "what=%s state=%s detail=\"%.*s\"", what, state ? state : "-",
		  store_pg_line_len(msg), msg ? msg : "");
	return ERR_STORE;
}

/* ------------------------------------------------------------ connections */

static void pg_drain(struct pg_stmt *q);
static void pg_savepoint_undo(struct pg_conn *c);
static int pg_savepoint(struct pg_conn *c);

/* A live session with nothing on the wire: ready to send.  Returns 0 or an error. */
static int pg_ready(struct pg_conn *c)
{
	if (c->streaming)
		pg_drain(c->streaming);
	return store_pg_alive(c);
}

/* Runs @sql (no parameters) and checks its status.  Returns 0 or an error. */
int store_pg_simple(struct pg_conn *c, const char *sql, const char *what)
{
	PGresult *res;
	int r = pg_ready(c);

	if (r < 0)
		return r;
	res = PQexec(c->pg, sql);
	if (!res || (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)) {
		r = pg_map(c, res, what, NULL);
		PQclear(res);
		return r;
	}
	PQclear(res);
	return 0;
}




/* ------------------------------------------------------------ statements */




/*
 * The parameter types to prepare @sql with, from the first @args it is run
 * with: as many as the SQL names or @args holds, whichever is more (SQLite
 * binds NULL to a parameter given no value and ignores a value no
 * parameter takes).  Returns 0 with a new array in *ret and its length, or
 * -ENOMEM.
 */
static int pg_param_types(const char *sql, const struct store_arg *args, size_t nargs,
			  Oid **ret, int *ret_n)
{
	int n = store_pg_max_param(sql);
	Oid *types;

	if ((int)nargs > n)
		n = (int)nargs;
	types = calloc((size_t)(n ? n : 1), sizeof(*types));
	if (!types)
		return -ENOMEM;
	for (int i = 0; i < n && (size_t)i < nargs; i++) {
		switch (args[i].type) {
		case STORE_ARG_NULL: types[i] = OID_UNKNOWN; break;
		case STORE_ARG_I64: types[i] = OID_INT8; break;
		case STORE_ARG_TEXT: types[i] = OID_TEXT; break;
		case STORE_ARG_BLOB: types[i] = OID_BYTEA; break;
		}
	}
	*ret = types;
	*ret_n = n;
	return 0;
}

/* A prepare refused for its parameter types: worth another try with other types. */
static bool pg_type_refusal(const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return state_is(state, "42P18") || state_is(state, "42P08") || state_is(state, "42883") || state_is(state, "42804") ||
	       state_is(state, "42725");
}

/*
 * Prepares @sql as @name with @types (updated in place).  A parameter
 * first bound to NULL has no type, and PostgreSQL cannot always infer one
 * ("($1 IS NULL OR id < $1)"): when the prepare is refused for that, it is
 * tried with such parameters as text, then as int8.  Inside a transaction
 * the attempts run after the statement savepoint, so that a refused one
 * leaves the transaction usable, as a failed prepare does in SQLite.
 * Returns 0 or an error.
 */
static int pg_prepare_named(struct pg_conn *c, const char *name, const char *sql, Oid *types, int n)
{
	static const Oid fills[] = { OID_TEXT, OID_INT8 };
	bool unknown = false, guard = c->in_tx;
	PGresult *res;
	int r = 0;

	for (int i = 0; i < n; i++)
		unknown |= types[i] == OID_UNKNOWN;
	if (guard && (r = pg_savepoint(c)) < 0)
		return r;
	res = PQprepare(c->pg, name, sql, n, types);
	if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
		PQclear(res);
		return 0;
	}
	for (size_t f = 0; unknown && pg_type_refusal(res) && f < sizeof(fills) / sizeof(fills[0]); f++) {
		Oid *tried = malloc((size_t)n * sizeof(*tried));
		PGresult *again;

		if (!tried)
			break;
		for (int i = 0; i < n; i++)
			tried[i] = types[i] == OID_UNKNOWN ? fills[f] : types[i];
		if (guard)
			pg_savepoint_undo(c);
		again = PQprepare(c->pg, name, sql, n, tried);
		if (again && PQresultStatus(again) == PGRES_COMMAND_OK) {
			memcpy(types, tried, (size_t)n * sizeof(*tried));
			free(tried);
			PQclear(again);
			PQclear(res);
			return 0;
		}
		free(tried);
		PQclear(again);
	}
	if (guard)
		pg_savepoint_undo(c);
	r = pg_map(c, res, "prepare", NULL);
	PQclear(res);
	return r;
}

/* Frees a cache slot's statement on the server (when the session still has it). */
static void pg_evict(struct pg_conn *c, int slot, const char *name)
{
	char sql[80];

	if (c->cache[slot].prepared && !c->broken) {
		snprintf(sql, sizeof(sql), "DEALLOCATE %s", name);
		store_pg_simple(c, sql, "deallocate");
	}
	free(c->cache[slot].sql);
	free(c->cache[slot].types);
	c->cache[slot] = (struct pg_cached){ 0 };
}

static void pg_slot_name(const struct pg_conn *c, int slot, char *out, size_t size)
{
	snprintf(out, size, "r%016llx_%d", (unsigned long long)c->cache[slot].hash, slot);
}

/*
 * Finds or prepares the statement for @sql on @c and fills q->slot and
 * q->name.  A statement in use by an open store_stmt is never evicted; when
 * every slot is in use the statement gets a name of its own and is dropped
 * when freed.  Returns 0 or an error.
 */
static int pg_lookup(struct pg_conn *c, const char *sql, const struct store_arg *args, size_t nargs,
		     struct pg_stmt *q)
{
	uint64_t h = hash_str(sql);
	int slot = -1, victim = -1, r;

	for (int i = 0; i < PG_CACHE_SIZE; i++) {
		struct pg_cached *e = &c->cache[i];

		if (!e->sql) {
			if (victim < 0 || c->cache[victim].sql)
				victim = i;
			continue;
		}
		if (e->hash == h && strcmp(e->sql, sql) == 0) {
			slot = i;
			break;
		}
		if (e->users == 0 && (victim < 0 || (c->cache[victim].sql &&
						     e->last_used < c->cache[victim].last_used)))
			victim = i;
	}
	if (slot < 0 && victim >= 0) {
		char old[40];

		if (c->cache[victim].sql) {
			pg_slot_name(c, victim, old, sizeof(old));
			pg_evict(c, victim, old);
		}
		c->cache[victim].sql = strdup(sql);
		r = c->cache[victim].sql ? pg_param_types(sql, args, nargs, &c->cache[victim].types,
							  &c->cache[victim].ntypes) : -ENOMEM;
		if (r < 0) {
			free(c->cache[victim].sql);
			c->cache[victim] = (struct pg_cached){ 0 };
			return r;
		}
		c->cache[victim].hash = h;
		slot = victim;
	}
	q->slot = slot;
	if (slot < 0) {
		snprintf(q->name, sizeof(q->name), "u%u", ++c->uncached);
		r = pg_param_types(sql, args, nargs, &q->types, &q->ntypes);
		if (r < 0)
			return r;
		r = pg_prepare_named(c, q->name, sql, q->types, q->ntypes);
		if (r < 0)
			q->name[0] = '\0';
		return r;
	}
	pg_slot_name(c, slot, q->name, sizeof(q->name));
	c->cache[slot].last_used = ++c->tick;
	q->ntypes = c->cache[slot].ntypes;
	if (!c->cache[slot].prepared) {
		r = pg_prepare_named(c, q->name, sql, c->cache[slot].types, c->cache[slot].ntypes);
		if (r < 0) {
			free(c->cache[slot].sql);
			free(c->cache[slot].types);
			c->cache[slot] = (struct pg_cached){ 0 };
			q->slot = -1;
			q->name[0] = '\0';
			return r;
		}
		c->cache[slot].prepared = true;
	}
	c->cache[slot].users++;
	return 0;
}

/* Prepares @q's statement again on a session that replaced the one it was prepared on. */
static int pg_reprepare(struct pg_stmt *q)
{
	struct pg_cached *e;
	int r;

	if (q->slot < 0 || q->c->cache[q->slot].prepared)
		return 0;
	e = &q->c->cache[q->slot];
	r = pg_prepare_named(q->c, q->name, e->sql, e->types, e->ntypes);
	if (r == 0)
		e->prepared = true;
	return r;
}

static void pg_values_free(struct pg_stmt *q)
{
	if (q->owned)
		for (int i = 0; i < q->nparams; i++)
			free(q->owned[i]);
	free(q->owned);
	free(q->values);
	free(q->lengths);
	free(q->formats);
	q->owned = q->values = NULL;
	q->lengths = q->formats = NULL;
	q->nparams = 0;
}

/* Copies @args into @q's bound values (SQLite's SQLITE_TRANSIENT).  Returns 0 or -ENOMEM. */
static int pg_values_set(struct pg_stmt *q, const struct store_arg *args, size_t nargs)
{
	int n = q->ntypes;

	pg_values_free(q);
	if (nargs > (size_t)n)
		nargs = (size_t)n;   /* values no parameter takes */
	if (n == 0)
		return 0;
	q->owned = calloc((size_t)n, sizeof(*q->owned));
	q->values = calloc((size_t)n, sizeof(*q->values));
	q->lengths = calloc((size_t)n, sizeof(*q->lengths));
	q->formats = calloc((size_t)n, sizeof(*q->formats));
	q->nparams = n;
	if (!q->owned || !q->values || !q->lengths || !q->formats)
		return -ENOMEM;
	for (size_t i = 0; i < nargs; i++) {
		const struct store_arg *a = &args[i];
		char num[24];

		switch (a->type) {
		case STORE_ARG_NULL:
			break;
		case STORE_ARG_I64:
			snprintf(num, sizeof(num), "%lld", (long long)a->i);
			q->owned[i] = strdup(num);
			break;
		case STORE_ARG_TEXT:
			q->owned[i] = strdup(a->p);
			break;
		case STORE_ARG_BLOB:
			q->owned[i] = malloc(a->n ? a->n : 1);
			if (q->owned[i] && a->n)
				memcpy(q->owned[i], a->p, a->n);
			q->lengths[i] = (int)a->n;
			q->formats[i] = 1;
			break;
		}
		if (a->type != STORE_ARG_NULL && !q->owned[i])
			return -ENOMEM;
		q->values[i] = q->owned[i];
	}
	return 0;
}

/* Frees what the current and buffered rows hold; keeps the bound values. */
static void pg_rows_clear(struct pg_stmt *q)
{
	PQclear(q->row);
	q->row = NULL;
	if (q->blob)
		PQfreemem(q->blob);
	q->blob = NULL;
	for (size_t i = q->ibuf; i < q->nbuf; i++)
		PQclear(q->buf[i]);
	q->nbuf = q->ibuf = 0;
}

/* Reads every result of @q still on the wire into its queue, so that @c is free to send. */
static void pg_drain(struct pg_stmt *q)
{
	struct pg_conn *c = q->c;
	PGresult *res;

	while ((res = PQgetResult(c->pg))) {
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_SINGLE_TUPLE) {
			if (q->nbuf == q->capbuf) {
				size_t cap = q->capbuf ? q->capbuf * 2 : 64;
				PGresult **nb = realloc(q->buf, cap * sizeof(*nb));

				if (!nb) {
					PQclear(res);
					q->err = -ENOMEM;
					continue;
				}
				q->buf = nb;
				q->capbuf = cap;
			}
			q->buf[q->nbuf++] = res;
			continue;
		}
		if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && !q->err) {
			bool retry;

			q->err = pg_map(c, res, "step", &retry);
		}
		PQclear(res);
	}
	q->on_wire = false;
	if (c->streaming == q)
		c->streaming = NULL;
	if (q->err && q->writes)
		pg_savepoint_undo(c);
}

/* Drops what @q still has to read (an abandoned query): its rows are not wanted. */
static void pg_abandon(struct pg_stmt *q)
{
	if (q->on_wire) {
		PGresult *res;

		while ((res = PQgetResult(q->c->pg)))
			PQclear(res);
		q->on_wire = false;
		if (q->c->streaming == q)
			q->c->streaming = NULL;
	}
	pg_rows_clear(q);
	q->sent = q->done = q->rows_seen = false;
	q->err = 0;
}

/* Establishes the statement savepoint inside a transaction.  Returns 0 or an error. */
static int pg_savepoint(struct pg_conn *c)
{
	int r = store_pg_simple(c, c->savepoint ? "RELEASE SAVEPOINT " PG_SAVEPOINT "; SAVEPOINT " PG_SAVEPOINT
					   : "SAVEPOINT " PG_SAVEPOINT, "savepoint");

	if (r == 0)
		c->savepoint = true;
	return r;
}

/* After a failed statement inside a transaction: undo it alone, as SQLite does. */
static void pg_savepoint_undo(struct pg_conn *c)
{
	if (c->in_tx && c->savepoint && !c->broken)
		store_pg_simple(c, "ROLLBACK TO SAVEPOINT " PG_SAVEPOINT, "rollback to savepoint");
}

/* Sends @q (bound, prepared), in single-row mode.  Returns 0 or an error. */
static int pg_send(struct pg_stmt *q)
{
	struct pg_conn *c = q->c;
	int r = pg_ready(c);

	if (r < 0)
		return r;
	r = pg_reprepare(q);
	if (r < 0)
		return r;
	if (c->in_tx && q->writes && (r = pg_savepoint(c)) < 0)
		return r;
	if (!PQsendQueryPrepared(c->pg, q->name, q->nparams, (const char *const *)q->values,
				 q->lengths, q->formats, 0))
		return pg_map(c, NULL, "send", NULL);
	PQsetSingleRowMode(c->pg);
	q->sent = q->on_wire = true;
	c->streaming = q;
	return 0;
}

/* The next result of @q: from its queue, or off the wire.  NULL when there is none. */
static PGresult *pg_next_result(struct pg_stmt *q)
{
	PGresult *res;

	if (q->ibuf < q->nbuf)
		return q->buf[q->ibuf++];
	if (!q->on_wire)
		return NULL;
	res = PQgetResult(q->c->pg);
	if (!res) {
		q->on_wire = false;
		if (q->c->streaming == q)
			q->c->streaming = NULL;
	}
	return res;
}

/* One step of @q without retry.  Returns 1, 0, or an error with *ret_retryable. */
static int pg_step_once(struct pg_stmt *q, bool *ret_retryable)
{
	PGresult *res;
	int r;

	*ret_retryable = false;
	PQclear(q->row);
	q->row = NULL;
	if (q->blob)
		PQfreemem(q->blob);
	q->blob = NULL;
	if (q->done)
		return 0;
	if (!q->sent && (r = pg_send(q)) < 0) {
		q->done = true;
		return r;
	}
	res = pg_next_result(q);
	if (res && PQresultStatus(res) == PGRES_SINGLE_TUPLE) {
		q->row = res;
		q->rows_seen = true;
		return 1;
	}
	/* The end: the final status (or an error), then nothing more. */
	r = 0;
	if (res && PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
		r = pg_map(q->c, res, "step", ret_retryable);
	PQclear(res);
	if (q->on_wire)
		pg_drain(q);   /* reads the terminating NULL */
	if (r == 0 && q->err)
		r = q->err;
	else if (r == 0 && !res && q->c->broken)
		r = ERR_UNAVAILABLE;
	q->done = true;
	if (r < 0 && q->writes)
		pg_savepoint_undo(q->c);
	return r;
}

static int pg_step(struct store_stmt *stmt)
{
	struct pg_stmt *q = PG_STMT(stmt);
	bool retryable;
	int r;

	for (int attempt = 0;; attempt++) {
		r = pg_step_once(q, &retryable);
		/* Only before the first row: the caller has seen nothing of a retried query. */
		if (r >= 0 || q->rows_seen || !pg_should_retry(q->c, r, retryable, attempt))
			return r;
		pg_abandon(q);
	}
}

static void pg_stmt_free(struct store_stmt *stmt)
{
	struct pg_stmt *q = PG_STMT(stmt);
	struct pg_conn *c = q->c;

	pg_abandon(q);
	pg_values_free(q);
	free(q->buf);
	free(q->types);
	if (q->slot >= 0) {
		c->cache[q->slot].users--;
	} else if (q->name[0] && !c->broken) {
		char sql[80];

		snprintf(sql, sizeof(sql), "DEALLOCATE %s", q->name);
		store_pg_simple(c, sql, "deallocate");
	}
	free(q);
}

static int pg_query(struct store_conn *conn, const char *sql, const struct store_arg *args,
		    size_t nargs, struct store_stmt **ret)
{
	struct pg_conn *c = PG_CONN(conn);
	struct pg_stmt *q;
	int r = pg_ready(c);

	if (r < 0)
		return r;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->base.ops = &store_pg_ops;
	q->c = c;
	q->control = store_pg_is_savepoint_control(sql);
	q->writes = !q->control && !store_pg_is_select(sql);
	r = pg_lookup(c, sql, args, nargs, q);
	if (r < 0) {
		free(q);
		return r;
	}
	r = pg_values_set(q, args, nargs);
	if (r < 0) {
		pg_stmt_free(&q->base);
		return r;
	}
	*ret = &q->base;
	return 0;
}

static int pg_stmt_rebind(struct store_stmt *stmt, const struct store_arg *args, size_t nargs)
{
	struct pg_stmt *q = PG_STMT(stmt);

	pg_abandon(q);
	return pg_values_set(q, args, nargs);
}

/* Runs @q to its end.  Returns the rows it changed (or returned) or an error. */
static int pg_run(struct pg_stmt *q)
{
	bool retryable;
	int r;

	for (int attempt = 0;; attempt++) {
		PGresult *res;
		ExecStatusType st;

		r = pg_ready(q->c);
		if (r < 0)
			return r;
		pg_abandon(q);
		r = pg_reprepare(q);
		if (r < 0)
			return r;
		if (q->c->in_tx && q->writes && (r = pg_savepoint(q->c)) < 0)
			return r;
		res = PQexecPrepared(q->c->pg, q->name, q->nparams, (const char *const *)q->values,
				     q->lengths, q->formats, 0);
		st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
		/*
		 * The caller's savepoint now nests inside the statement savepoint
		 * (or ended it): the next statement establishes a new one
		 * instead of releasing the old, which would release the caller's.
		 */
		if (q->control)
			q->c->savepoint = false;
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			const char *n = PQcmdTuples(res);

			r = n && *n ? (int)strtol(n, NULL, 10) : 0;
			PQclear(res);
			return r;
		}
		r = pg_map(q->c, res, "exec", &retryable);
		PQclear(res);
		if (q->writes)
			pg_savepoint_undo(q->c);
		if (!pg_should_retry(q->c, r, retryable, attempt))
			return r;
	}
}

static int pg_stmt_exec(struct store_stmt *stmt, const struct store_arg *args, size_t nargs)
{
	struct pg_stmt *q = PG_STMT(stmt);
	int r = pg_stmt_rebind(stmt, args, nargs);

	if (r < 0)
		return r;
	r = pg_run(q);
	pg_abandon(q);
	return r;
}

static int pg_exec(struct store_conn *conn, const char *sql, const struct store_arg *args, size_t nargs)
{
	struct store_stmt *q;
	int r = pg_query(conn, sql, args, nargs, &q);

	if (r < 0)
		return r;
	r = pg_run(PG_STMT(q));
	pg_stmt_free(q);
	return r;
}

/* ------------------------------------------------------------ columns */

static const char *pg_value(struct pg_stmt *q, int col)
{
	if (!q->row || col < 0 || col >= PQnfields(q->row) || PQgetisnull(q->row, 0, col))
		return NULL;
	return PQgetvalue(q->row, 0, col);
}

static int64_t pg_col_i64(struct store_stmt *stmt, int col)
{
	const char *v = pg_value(PG_STMT(stmt), col);
	char *end;
	long long n;

	if (!v)
		return 0;
	if (strcmp(v, "t") == 0)
		return 1;
	if (strcmp(v, "f") == 0)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (*end == '.' || *end == 'e' || *end == 'E' || errno == ERANGE)
		return (int64_t)strtod(v, NULL);   /* numeric aggregates (sum, avg): truncated as SQLite does */
	return (int64_t)n;
}

static const char *pg_col_text(struct store_stmt *stmt, int col)
{
	return pg_value(PG_STMT(stmt), col);
}

static const void *pg_col_blob(struct store_stmt *stmt, int col, size_t *ret_len)
{
	struct pg_stmt *q = PG_STMT(stmt);
	const char *v = pg_value(q, col);
	size_t n = 0;

	*ret_len = 0;
	if (!v)
		return NULL;
	if (PQftype(q->row, col) != OID_BYTEA) {
		*ret_len = (size_t)PQgetlength(q->row, 0, col);
		return v;
	}
	if (q->blob)
		PQfreemem(q->blob);
	q->blob = PQunescapeBytea((const unsigned char *)v, &n);
	if (!q->blob)
		return NULL;
	*ret_len = n;
	return q->blob;
}

static bool pg_col_is_null(struct store_stmt *stmt, int col)
{
	return pg_value(PG_STMT(stmt), col) == NULL;
}

/* ------------------------------------------------------------ transactions */

static int pg_begin(struct store_conn *conn)
{
	struct pg_conn *c = PG_CONN(conn);
	int r;

	if (c->in_tx) {
		store_note_error();
		log_debug("store: error", "what=begin detail=\"a transaction is already open\"");
		return ERR_STORE;
	}
	r = store_pg_simple(c, "BEGIN; SET LOCAL lock_timeout = '10s'; "
			 "SELECT pg_advisory_xact_lock(" PG_WRITE_LOCK ")", "begin");
	if (r < 0) {
		if (!c->broken)
			store_pg_simple(c, "ROLLBACK", "rollback");
		if (r != ERR_UNAVAILABLE)
			log_warn("store: no write slot", "waited_ms=%d", 10000);
		return r == ERR_UNAVAILABLE ? r : ERR_STORE;
	}
	c->in_tx = true;
	c->savepoint = false;
	return 0;
}

static void pg_rollback(struct store_conn *conn)
{
	struct pg_conn *c = PG_CONN(conn);

	if (!c->broken && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
		store_pg_simple(c, "ROLLBACK", "rollback");
	c->in_tx = false;
	c->savepoint = false;
}

static int pg_commit(struct store_conn *conn)
{
	struct pg_conn *c = PG_CONN(conn);
	int r;

	if (c->broken) {
		c->in_tx = false;
		c->savepoint = false;
		store_note_error();
		return ERR_UNAVAILABLE;
	}
	if (c->streaming)
		pg_drain(c->streaming);
	if (PQtransactionStatus(c->pg) == PQTRANS_INERROR) {
		/* A statement failed outside a savepoint: COMMIT would only roll back. */
		store_note_error();
		pg_rollback(conn);
		return ERR_STORE;
	}
	r = store_pg_simple(c, "COMMIT", "commit");
	if (r < 0) {
		pg_rollback(conn);
		return r == ERR_CONFLICT ? r : (r == ERR_UNAVAILABLE ? r : ERR_STORE);
	}
	c->in_tx = false;
	c->savepoint = false;
	return 0;
}

static bool pg_in_transaction(struct store_conn *conn)
{
	return PG_CONN(conn)->in_tx;
}

static int pg_check_integrity(struct store_conn *c)
{
	int64_t v = 0;
	int r = store_query_i64(c, "SELECT 1", STORE_NOARGS, &v);

	if (r < 0)
		return r;
	r = store_schema_version(c, &v);
	if (r < 0)
		return r;
	if (v > store_newest_migration()) {
		log_warn("store: database schema is newer than this program", "schema=%lld", (long long)v);
		return ERR_STORE;
	}
	return 0;
}

/* ------------------------------------------------------------ migrations */




static int pg_script(struct store_conn *conn, const char *what, const char *sql)
{
	struct pg_conn *c = PG_CONN(conn);
	char *ddl = store_pg_translate_ddl(sql);
	PGresult *res;
	int r;

	if (!ddl)
		return -ENOMEM;
	r = pg_ready(c);
	if (r < 0) {
		free(ddl);
		return r;
	}
	res = PQexec(c->pg, ddl);
	free(ddl);
	if (!res || (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)) {
		const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg);

		log_error("store: statements refused", "what=%s detail=\"%.*s\"", what, store_pg_line_len(msg), msg);
		r = pg_map(c, res, what, NULL);
		PQclear(res);
		return r < 0 ? r : ERR_STORE;
	}
	PQclear(res);
	return 0;
}

/* ------------------------------------------------------------ open and close */

static void pg_close(struct store *store)
{
	struct pg_store *s = PG_STORE(store);
	struct pg_conn *c, *next;

	pthread_key_delete(s->key);
	for (c = s->all; c; c = next) {
		next = c->next;
		store_pg_conn_free(c);
	}
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->freed);
	free(s->target);
	free(s->shown);
	free(s);
}

/* Refuses a database whose collation does not sort by bytes.  Returns 0 or an error. */
static int pg_check_collation(struct pg_store *s, struct store_conn *c)
{
	struct store_stmt *q;
	const char *coll;
	int r = pg_query(c, "SELECT datcollate FROM pg_database WHERE datname = current_database()",
			 STORE_NOARGS, &q);

	if (r < 0)
		return r;
	r = pg_step(q);
	coll = r == 1 ? pg_col_text(q, 0) : NULL;
	if (r >= 0 && !(coll && (strcmp(coll, "C") == 0 || strcmp(coll, "POSIX") == 0))) {
		log_error("store: the database's collation must be C (text sorts by bytes, as in SQLite); "
			  "create it with: CREATE DATABASE ... LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0",
			  "target=\"%s\" collation=\"%s\"", s->shown, coll ? coll : "?");
		r = ERR_STORE;
	}
	pg_stmt_free(q);
	return r < 0 ? r : 0;
}

static int pg_open(const char *target, const struct store_options *o, struct store **ret)
{
	struct pg_store *s = calloc(1, sizeof(*s));
	struct store_conn *c;
	int r;

	if (!s)
		return -ENOMEM;
	s->base.ops = &store_pg_ops;
	s->pool_size = o->pool_size ? o->pool_size : PG_DEFAULT_POOL;
	s->wait_ms = o->wait_ms ? o->wait_ms : PG_DEFAULT_WAIT_MS;
	s->target = strdup(target);
	s->shown = store_pg_redact(target);
	if (!s->target || !s->shown || pthread_key_create(&s->key, store_pg_conn_return) != 0) {
		free(s->target);
		free(s->shown);
		free(s);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->freed, NULL);
	c = store_pg_conn(&s->base);
	if (!c) {
		pg_close(&s->base);
		return ERR_STORE;
	}
	if (PG_CONN(c)->broken) {   /* the pool logged why */
		pg_close(&s->base);
		return ERR_UNAVAILABLE;
	}
	r = pg_check_collation(s, c);
	if (r < 0) {
		pg_close(&s->base);
		return r;
	}
	log_info("store: PostgreSQL", "target=\"%s\" pool_size=%u server_version=%d", s->shown,
		 s->pool_size, PQserverVersion(PG_CONN(c)->pg));
	*ret = &s->base;
	return 0;
}

const struct store_ops store_pg_ops = {
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.conn = store_pg_conn,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.in_transaction = pg_in_transaction,
	.exec = pg_exec,
	.query = pg_query,
	.step = pg_step,
	.col_i64 = pg_col_i64,
	.col_text = pg_col_text,
	.col_blob = pg_col_blob,
	.col_is_null = pg_col_is_null,
	.stmt_rebind = pg_stmt_rebind,
	.stmt_exec = pg_stmt_exec,
	.stmt_free = pg_stmt_free,
	.check_integrity = pg_check_integrity,
	.script = pg_script,
};
