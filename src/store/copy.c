/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * copy: the rows of copy.h: copying a table's rows in batches, filling in
 * deferred columns, summing a table on either engine, and moving an
 * identity sequence.  The plan they follow is read in copy_plan.c.
 *
 * A batch holds the values of up to batch_rows rows (and at most
 * COPY_BATCH_BYTES of text and blobs) in memory of its own, since a
 * source row's values are gone at the next step; it is written as one
 * multi-row INSERT whose every value is a bound parameter.
 */
#include "store/copy.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "store/store.h"
#include "store/store_internal.h"

#define COPY_BATCH_ROWS 500
/* SQLite's default limit of parameters per statement (PostgreSQL takes 65535). */
#define COPY_MAX_PARAMS 32766
#define COPY_BATCH_BYTES ((size_t)8 << 20)
/* A single value may be larger than a batch; none of Rampart's comes near. */
#define COPY_VALUE_LIMIT ((size_t)1 << 30)
/* Room for a short statement around one or two names (each at most 63 bytes, copy_plan.c). */
#define COPY_SQL_NAME_ROOM 256

/* ------------------------------------------------------------ sums */

/* One row's hash, fed value by value. */
struct row_hash {
	crypto_generichash_state st;
};

static void row_hash_begin(struct row_hash *h)
{
	crypto_generichash_init(&h->st, NULL, 0, 32);
}

static void row_hash_value(struct row_hash *h, char tag, const void *p, size_t n)
{
	unsigned char len[8];

	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)((uint64_t)n >> (8 * i));
	crypto_generichash_update(&h->st, (const unsigned char *)&tag, 1);
	crypto_generichash_update(&h->st, len, sizeof(len));
	if (n)
		crypto_generichash_update(&h->st, p, n);
}

static void row_hash_i64(struct row_hash *h, int64_t v)
{
	unsigned char le[8];

	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)((uint64_t)v >> (8 * i));
	row_hash_value(h, 'I', le, sizeof(le));
}

/* Adds the finished row hash into @sum: four 64-bit lanes, wrapping, so order does not matter. */
static void row_hash_end(struct row_hash *h, struct store_copy_sum *sum)
{
	unsigned char d[32];

	crypto_generichash_final(&h->st, d, sizeof(d));
	for (int lane = 0; lane < 4; lane++) {
		uint64_t a = 0, b = 0;

		for (int i = 0; i < 8; i++) {
			a |= (uint64_t)sum->digest[lane * 8 + i] << (8 * i);
			b |= (uint64_t)d[lane * 8 + i] << (8 * i);
		}
		a += b;
		for (int i = 0; i < 8; i++)
			sum->digest[lane * 8 + i] = (unsigned char)(a >> (8 * i));
	}
	sum->rows++;
}

bool store_copy_sum_equal(const struct store_copy_sum *a, const struct store_copy_sum *b)
{
	return a->rows == b->rows && memcmp(a->digest, b->digest, sizeof(a->digest)) == 0;
}

/* ------------------------------------------------------------ SQL text */

/* "SELECT typeof("a"), "a", ... FROM "t"" (@typed) or "SELECT "a", ... FROM "t"".  NULL: no memory. */
static char *sql_select(const struct store_copy_table *t, bool typed)
{
	struct buf b;
	int r;

	buf_init(&b, 0);
	r = buf_puts(&b, "SELECT ");
	for (size_t i = 0; r == 0 && i < t->ncols; i++) {
		if (i)
			r = buf_puts(&b, ", ");
		if (r == 0 && typed)
			r = buf_printf(&b, "typeof(\"%s\"), ", t->cols[i].name);
		if (r == 0)
			r = buf_printf(&b, "\"%s\"", t->cols[i].name);
	}
	if (r == 0)
		r = buf_printf(&b, " FROM \"%s\"", t->name);
	if (r < 0) {
		buf_done(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* "INSERT INTO "t" ("a", "b") VALUES ($1, $2), ($3, $4)..." for @rows rows.  NULL: no memory. */
static char *sql_insert(const struct store_copy_table *t, size_t rows)
{
	struct buf b;
	size_t n = 0;
	int r;

	buf_init(&b, 0);
	r = buf_printf(&b, "INSERT INTO \"%s\" (", t->name);
	for (size_t i = 0; r == 0 && i < t->ncols; i++)
		r = buf_printf(&b, "%s\"%s\"", i ? ", " : "", t->cols[i].name);
	if (r == 0)
		r = buf_puts(&b, ") VALUES ");
	for (size_t row = 0; r == 0 && row < rows; row++) {
		r = buf_puts(&b, row ? ", (" : "(");
		for (size_t i = 0; r == 0 && i < t->ncols; i++)
			r = buf_printf(&b, "%s$%zu", i ? ", " : "", ++n);
		if (r == 0)
			r = buf_puts(&b, ")");
	}
	if (r < 0) {
		buf_done(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* ------------------------------------------------------------ reading a value */

/* A column value as read from either engine, by its column's kind. */
struct value {
	enum store_arg_type type;
	int64_t i;
	const void *p;
	size_t n;
};

static struct value value_read(struct store_stmt *q, int col, enum store_copy_kind kind)
{
	struct value v = { .type = STORE_ARG_NULL };

	if (store_col_is_null(q, col))
		return v;
	switch (kind) {
	case STORE_COPY_INT:
		v.type = STORE_ARG_I64;
		v.i = store_col_i64(q, col);
		break;
	case STORE_COPY_TEXT:
		v.type = STORE_ARG_TEXT;
		v.p = store_col_text(q, col);
		v.n = v.p ? strlen(v.p) : 0;
		break;
	case STORE_COPY_BLOB:
		v.type = STORE_ARG_BLOB;
		v.p = store_col_blob(q, col, &v.n);
		break;
	}
	return v;
}

static void value_hash(struct row_hash *h, const struct value *v)
{
	switch (v->type) {
	case STORE_ARG_NULL: row_hash_value(h, 'N', NULL, 0); break;
	case STORE_ARG_I64: row_hash_i64(h, v->i); break;
	case STORE_ARG_TEXT: row_hash_value(h, 'T', v->p, v->n); break;
	case STORE_ARG_BLOB: row_hash_value(h, 'B', v->p, v->n); break;
	}
}

static const char *kind_name(enum store_copy_kind k)
{
	return k == STORE_COPY_INT ? "integer" : k == STORE_COPY_TEXT ? "text" : "blob";
}

/*
 * Column @col of @t from a source row read with typeof() (the storage
 * class in column 2*col, the value in 2*col+1).  Returns 0 and *ret, or
 * ERR_INVALID (@e says why) for a value PostgreSQL would not store as it is.
 */
static int value_read_checked(struct store_stmt *q, const struct store_copy_table *t, size_t col,
			      int64_t row, struct value *ret, struct rerr *e)
{
	const struct store_copy_column *c = &t->cols[col];
	const char *storage = store_col_text(q, (int)(2 * col));
	int vc = (int)(2 * col + 1);
	struct value v = { .type = STORE_ARG_NULL };

	if (!storage || strcmp(storage, "null") == 0) {
		*ret = v;
		return 0;
	}
	if (strcmp(storage, kind_name(c->kind)) != 0)
		return rerr_set_at(e, ERR_INVALID, row, c->name, "table %s, row %lld: column %s holds a %s value "
				   "where %s is declared; it cannot be copied exactly", t->name, (long long)row,
				   c->name, storage, kind_name(c->kind));
	if (c->kind == STORE_COPY_TEXT) {
		/* SQLite gives a text's own bytes as a blob: its true length, NUL bytes included. */
		v.type = STORE_ARG_TEXT;
		v.p = store_col_blob(q, vc, &v.n);
		if (v.n && memchr(v.p, 0, v.n))
			return rerr_set_at(e, ERR_INVALID, row, c->name, "table %s, row %lld: column %s holds a "
					   "text with a NUL byte, which PostgreSQL cannot store", t->name,
					   (long long)row, c->name);
	} else {
		v = value_read(q, vc, c->kind);
	}
	*ret = v;
	return 0;
}

/* ------------------------------------------------------------ batches */

/* A value kept for the INSERT: integers inline, bytes at @off in the batch's buffer. */
struct kept {
	enum store_arg_type type;
	int64_t i;
	size_t off, n;
};

struct batch {
	const struct store_copy_table *t;
	struct kept *vals;        /* rows * ncols */
	size_t rows, max_rows;
	struct buf bytes;
	struct store_arg *args;
	char *full_sql;           /* the INSERT for max_rows rows, made once */
	int64_t first_row;        /* the source row number of the batch's first row */
};

static int batch_init(struct batch *b, const struct store_copy_table *t, size_t max_rows)
{
	*b = (struct batch){ .t = t, .max_rows = max_rows, .first_row = 1 };
	buf_init(&b->bytes, COPY_VALUE_LIMIT);
	b->vals = calloc(max_rows * t->ncols, sizeof(*b->vals));
	b->args = calloc(max_rows * t->ncols, sizeof(*b->args));
	b->full_sql = sql_insert(t, max_rows);
	return b->vals && b->args && b->full_sql ? 0 : -ENOMEM;
}

static void batch_done(struct batch *b)
{
	free(b->vals);
	free(b->args);
	free(b->full_sql);
	buf_done(&b->bytes);
}

/* Keeps @v as column @col of the batch's next row.  Returns 0, -ENOMEM or -EMSGSIZE. */
static int batch_keep(struct batch *b, size_t col, const struct value *v)
{
	struct kept *k = &b->vals[b->rows * b->t->ncols + col];
	int r;

	*k = (struct kept){ .type = v->type, .i = v->i };
	if (v->type != STORE_ARG_TEXT && v->type != STORE_ARG_BLOB)
		return 0;
	k->off = b->bytes.len;
	k->n = v->n;
	r = buf_append(&b->bytes, v->p ? v->p : "", v->n);
	/* A NUL after each text: the drivers bind text as a C string. */
	return r == 0 && v->type == STORE_ARG_TEXT ? buf_append(&b->bytes, "", 1) : r;
}

/* Writes the kept rows to @dst as one INSERT.  Returns 0 or the error (@e says which rows). */
static int batch_flush(struct batch *b, struct store_conn *dst, struct rerr *e)
{
	size_t n = b->rows * b->t->ncols;
	char *sql = NULL;
	int r;

	if (b->rows == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const struct kept *k = &b->vals[i];

		b->args[i] = (struct store_arg){ .type = k->type, .i = k->i };
		if (k->type == STORE_ARG_TEXT || k->type == STORE_ARG_BLOB) {
			b->args[i].p = b->bytes.data + k->off;
			b->args[i].n = k->n;
		}
	}
	if (b->rows != b->max_rows && !(sql = sql_insert(b->t, b->rows)))
		return -ENOMEM;
	r = store_exec(dst, sql ? sql : b->full_sql, b->args, n);
	free(sql);
	if (r >= 0 && (size_t)r != b->rows)
		r = ERR_STORE;
	if (r < 0)
		return rerr_set(e, r, b->t->name, "table %s: the target refused rows %lld to %lld: %s",
				b->t->name, (long long)b->first_row, (long long)(b->first_row + (int64_t)b->rows - 1),
				err_str(r));
	b->first_row += (int64_t)b->rows;
	b->rows = 0;
	buf_reset(&b->bytes);
	return 0;
}

int store_copy_rows(struct store_conn *src, struct store_conn *dst, const struct store_copy_table *t,
		    const struct store_copy_opts *o, struct store_copy_sum *ret, struct rerr *e)
{
	struct store_copy_sum sum = { 0 };
	size_t max_rows = o && o->batch_rows ? o->batch_rows : COPY_BATCH_ROWS;
	struct store_stmt *q = NULL;
	struct batch b;
	char *sql = NULL;
	int64_t row = 0;
	int r;

	if (max_rows > COPY_MAX_PARAMS / t->ncols)
		max_rows = COPY_MAX_PARAMS / t->ncols;
	r = batch_init(&b, t, max_rows);
	if (r < 0)
		goto out;
	sql = sql_select(t, true);
	r = sql ? store_query(src, sql, STORE_NOARGS, &q) : -ENOMEM;
	if (r < 0) {
		rerr_set(e, r, t->name, "table %s: cannot read the source: %s", t->name, err_str(r));
		goto out;
	}
	for (;;) {
		struct row_hash h;

		r = store_step(q);
		if (r <= 0) {
			if (r < 0)
				rerr_set(e, r, t->name, "table %s: cannot read the source: %s", t->name, err_str(r));
			break;
		}
		row++;
		row_hash_begin(&h);
		for (size_t i = 0; i < t->ncols && r >= 0; i++) {
			struct value v;

			r = value_read_checked(q, t, i, row, &v, e);
			if (r < 0)
				break;
			value_hash(&h, &v);
			if (t->cols[i].deferred)
				v = (struct value){ .type = STORE_ARG_NULL };
			r = batch_keep(&b, i, &v);
			if (r < 0)
				rerr_set(e, r, t->name, "table %s, row %lld: %s", t->name, (long long)row, strerror(-r));
		}
		if (r < 0)
			break;
		row_hash_end(&h, &sum);
		b.rows++;
		if (b.rows == b.max_rows || b.bytes.len >= COPY_BATCH_BYTES) {
			r = batch_flush(&b, dst, e);
			if (r == 0 && o && o->progress)
				r = o->progress(t, row, o->ud);
			if (r < 0)
				break;
		}
	}
	if (r == 0 && b.rows) {
		r = batch_flush(&b, dst, e);
		if (r == 0 && o && o->progress)
			r = o->progress(t, row, o->ud);
	}
out:
	store_stmt_free(q);
	free(sql);
	batch_done(&b);
	if (r == 0)
		*ret = sum;
	return r;
}

/* ------------------------------------------------------------ the rest */

int store_copy_sum_table(struct store_conn *c, const struct store_copy_table *t, struct store_copy_sum *ret)
{
	struct store_copy_sum sum = { 0 };
	struct store_stmt *q;
	char *sql = sql_select(t, false);
	int r;

	r = sql ? store_query(c, sql, STORE_NOARGS, &q) : -ENOMEM;
	free(sql);
	if (r < 0)
		return r;
	while ((r = store_step(q)) == 1) {
		struct row_hash h;

		row_hash_begin(&h);
		for (size_t i = 0; i < t->ncols; i++) {
			struct value v = value_read(q, (int)i, t->cols[i].kind);

			value_hash(&h, &v);
		}
		row_hash_end(&h, &sum);
	}
	store_stmt_free(q);
	if (r < 0)
		return r;
	*ret = sum;
	return 0;
}

/* "UPDATE "t" SET "col" = $1 WHERE "k1" = $2 AND ..." and the SELECT of the same keys and value. */
static int sql_deferred(const struct store_copy_table *t, size_t col, char **ret_update, char **ret_select)
{
	struct buf u, s;
	size_t n = 1;
	int r;

	buf_init(&u, 0);
	buf_init(&s, 0);
	r = buf_printf(&u, "UPDATE \"%s\" SET \"%s\" = $1 WHERE ", t->name, t->cols[col].name);
	if (r == 0)
		r = buf_printf(&s, "SELECT \"%s\"", t->cols[col].name);
	for (int pk = 1; r == 0; pk++) {
		size_t i;

		for (i = 0; i < t->ncols && t->cols[i].pk != pk; i++)
			;
		if (i == t->ncols)
			break;
		r = buf_printf(&u, "%s\"%s\" = $%zu", pk > 1 ? " AND " : "", t->cols[i].name, ++n);
		if (r == 0)
			r = buf_printf(&s, ", \"%s\"", t->cols[i].name);
	}
	if (r == 0)
		r = buf_printf(&s, " FROM \"%s\" WHERE \"%s\" IS NOT NULL", t->name, t->cols[col].name);
	if (r < 0) {
		buf_done(&u);
		buf_done(&s);
		return r;
	}
	*ret_update = buf_steal(&u);
	*ret_select = buf_steal(&s);
	return 0;
}

/* Fills deferred column @col of @t.  Returns 0 or an error (@e says which). */
static int fill_column(struct store_conn *src, struct store_conn *dst, const struct store_copy_table *t,
		       size_t col, int64_t *count, struct rerr *e)
{
	struct store_arg args[1 + 16];
	struct store_stmt *q = NULL;
	char *update = NULL, *select = NULL;
	size_t nkeys = 0;
	int r;

	for (size_t i = 0; i < t->ncols; i++)
		nkeys += t->cols[i].pk > 0;
	if (nkeys + 1 > sizeof(args) / sizeof(args[0]))
		return rerr_set(e, ERR_INVALID, t->name, "table %s: too many key columns", t->name);
	r = sql_deferred(t, col, &update, &select);
	if (r == 0)
		r = store_query(src, select, STORE_NOARGS, &q);
	while (r >= 0 && (r = store_step(q)) == 1) {
		struct value v = value_read(q, 0, t->cols[col].kind);
		size_t k = 1;

		args[0] = (struct store_arg){ .type = v.type, .i = v.i, .p = v.p, .n = v.n };
		for (int pk = 1; k <= nkeys; pk++)
			for (size_t i = 0; i < t->ncols; i++)
				if (t->cols[i].pk == pk) {
					v = value_read(q, (int)k, t->cols[i].kind);
					args[k++] = (struct store_arg){ .type = v.type, .i = v.i, .p = v.p, .n = v.n };
				}
		r = store_exec(dst, update, args, nkeys + 1);
		if (r == 1)
			(*count)++;
		else if (r >= 0)
			r = ERR_STORE;   /* the row is not there */
	}
	store_stmt_free(q);
	free(update);
	free(select);
	if (r < 0)
		return rerr_set(e, r, t->name, "table %s: cannot fill in column %s: %s", t->name,
				t->cols[col].name, err_str(r));
	return 0;
}

int store_copy_fill_deferred(struct store_conn *src, struct store_conn *dst, const struct store_copy_table *t,
			     int64_t *ret_rows, struct rerr *e)
{
	int64_t count = 0;
	int r = 0;

	for (size_t i = 0; i < t->ncols && r == 0; i++)
		if (t->cols[i].deferred)
			r = fill_column(src, dst, t, i, &count, e);
	if (r == 0 && ret_rows)
		*ret_rows = count;
	return r;
}

int store_copy_clear(struct store_conn *dst, const struct store_copy_table *t)
{
	char sql[COPY_SQL_NAME_ROOM];
	int r;

	if (snprintf(sql, sizeof(sql), "DELETE FROM \"%s\"", t->name) >= (int)sizeof(sql))
		return -ENAMETOOLONG;
	r = store_exec(dst, sql, STORE_NOARGS);
	return r < 0 ? r : 0;
}

int store_copy_identity_advance(struct store_conn *dst, const struct store_copy_table *t)
{
	const char *id = NULL;
	char sql[2 * COPY_SQL_NAME_ROOM];
	struct store_stmt *q;
	int r;

	if (dst->ops != &store_pg_ops || !t->identity)
		return 0;
	for (size_t i = 0; i < t->ncols; i++)
		if (t->cols[i].pk == 1)
			id = t->cols[i].name;
	if (!id)
		return 0;
	/*
	 * The next id is one past the highest copied (1 for an empty table);
	 * setval of a column without a sequence is setval(NULL): nothing.
	 */
	if (snprintf(sql, sizeof(sql), "SELECT setval(pg_get_serial_sequence($1, $2), "
		     "coalesce(max(\"%s\"), 0) + 1, false) FROM \"%s\"", id, t->name) >= (int)sizeof(sql))
		return -ENAMETOOLONG;
	r = store_query(dst, sql, STORE_ARGS(SA_TEXT(t->name), SA_TEXT(id)), &q);
	if (r < 0)
		return r;
	while ((r = store_step(q)) == 1)
		;
	store_stmt_free(q);
	return r;
}
