/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * copy_plan: the parts of copy.h that look at a database before anything
 * is copied: opening a store without migrating it, its schema version,
 * and the plan (tables, columns, order, deferred columns) read from a
 * SQLite catalogue.  The rows themselves move in copy.c.
 *
 * Table and column names end up inside SQL text (a name cannot be a
 * parameter): only plain lower-case identifiers are accepted, and they are
 * always written double-quoted.
 */
#include "store/copy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/str.h"
#include "store/store.h"
#include "store/store_internal.h"
#include "store/store_pg_internal.h"

#define COPY_NAME_MAX 63   /* PostgreSQL's identifier length */

int store_open_unmigrated(const char *target, const struct store_options *o, struct store **ret)
{
	static const struct store_options defaults = { 0 };
	const struct store_ops *ops = &store_sqlite_ops;

	/* The same choice as store_open_opts (store.c). */
	if (str_has_prefix(target, "postgresql://") || str_has_prefix(target, "postgres://"))
		ops = &store_pg_ops;
	else if (str_has_prefix(target, "sqlite:"))
		target += strlen("sqlite:");
	return ops->open(target, o ? o : &defaults, ret);
}

int store_copy_migrate(struct store *s)
{
	struct store_conn *c = store_conn(s);

	return c ? store_migrate(c) : ERR_STORE;
}

int64_t store_copy_newest_schema(void)
{
	return store_newest_migration();
}

int store_copy_schema_version(struct store_conn *c, int64_t *ret)
{
	int64_t n = 0;
	int r;

	if (c->ops == &store_pg_ops)
		r = store_query_i64(c, "SELECT count(*) FROM information_schema.tables "
				    "WHERE table_schema = current_schema() AND table_name = 'schema_migrations'",
				    STORE_NOARGS, &n);
	else
		r = store_query_i64(c, "SELECT count(*) FROM sqlite_master "
				    "WHERE type = 'table' AND name = 'schema_migrations'", STORE_NOARGS, &n);
	if (r < 0)
		return r;
	if (n == 0) {
		*ret = 0;
		return 0;
	}
	return store_schema_version(c, ret);
}

char *store_copy_target_shown(const char *target)
{
	if (str_has_prefix(target, "postgresql://") || str_has_prefix(target, "postgres://"))
		return store_pg_redact(target);
	return strdup(target);
}

/* ------------------------------------------------------------ the plan */

/* A plain lower-case SQL identifier, safe to write double-quoted into SQL. */
static bool name_is_plain(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > COPY_NAME_MAX || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* What a column of declared type @decl holds, by SQLite's affinity rules.  Returns 0 or ERR_INVALID. */
static int kind_of(const char *decl, enum store_copy_kind *ret)
{
	char up[64];
	size_t i;

	for (i = 0; decl[i] && i + 1 < sizeof(up); i++)
		up[i] = (decl[i] >= 'a' && decl[i] <= 'z') ? (char)(decl[i] - 'a' + 'A') : decl[i];
	up[i] = '\0';
	if (strstr(up, "INT"))
		*ret = STORE_COPY_INT;
	else if (strstr(up, "CHAR") || strstr(up, "CLOB") || strstr(up, "TEXT"))
		*ret = STORE_COPY_TEXT;
	else if (strstr(up, "BLOB") || up[0] == '\0')
		*ret = STORE_COPY_BLOB;
	else
		return ERR_INVALID;
	return 0;
}

/* A foreign key column of a table being planned: the column and the table it names. */
struct plan_fk {
	size_t col;
	char *target;
};

struct plan_entry {
	char *name;                  /* for lookups: t moves into the plan once placed */
	struct store_copy_table t;
	struct plan_fk *fks;
	size_t nfks;
	bool placed;
};

static void table_done(struct store_copy_table *t)
{
	for (size_t i = 0; i < t->ncols; i++)
		free(t->cols[i].name);
	free(t->cols);
	free(t->name);
}

static void entry_done(struct plan_entry *e)
{
	free(e->name);
	table_done(&e->t);
	for (size_t i = 0; i < e->nfks; i++)
		free(e->fks[i].target);
	free(e->fks);
}

/* Reads @e's columns (its name is set).  Returns 0, ERR_INVALID (@e says why) or an error. */
static int read_columns(struct store_conn *c, struct plan_entry *e, struct rerr *err)
{
	struct store_stmt *q;
	size_t pk_count = 0;
	bool pk_integer = false;
	int r;

	r = store_query(c, "SELECT name, type, pk FROM pragma_table_info($1) ORDER BY cid",
			STORE_ARGS(SA_TEXT(e->t.name)), &q);
	if (r < 0)
		return r;
	while ((r = store_step(q)) == 1) {
		const char *name = store_col_text(q, 0), *decl = store_col_text(q, 1);
		struct store_copy_column *cols, *col;

		if (!name_is_plain(name)) {
			r = rerr_set(err, ERR_INVALID, e->t.name, "table %s: column name \"%s\" is not a plain "
				     "lower-case identifier", e->t.name, name ? name : "");
			break;
		}
		cols = realloc(e->t.cols, (e->t.ncols + 1) * sizeof(*cols));
		if (!cols) {
			r = -ENOMEM;
			break;
		}
		e->t.cols = cols;
		col = &cols[e->t.ncols];
		*col = (struct store_copy_column){ .name = strdup(name), .pk = (int)store_col_i64(q, 2) };
		if (!col->name) {
			r = -ENOMEM;
			break;
		}
		e->t.ncols++;
		if (kind_of(decl ? decl : "", &col->kind) < 0) {
			r = rerr_set(err, ERR_INVALID, e->t.name, "column %s.%s is declared %s: the copy takes "
				     "INTEGER, TEXT and BLOB columns", e->t.name, name, decl);
			break;
		}
		if (col->pk > 0) {
			pk_count++;
			pk_integer = decl && str_eq_ci(decl, "INTEGER");
		}
	}
	store_stmt_free(q);
	if (r < 0)
		return r;
	if (e->t.ncols == 0)
		return rerr_set(err, ERR_INVALID, e->t.name, "table %s has no columns", e->t.name);
	e->t.identity = pk_count == 1 && pk_integer;
	return 0;
}

/* Reads @e's foreign keys (its columns are read).  Returns 0 or an error. */
static int read_foreign_keys(struct store_conn *c, struct plan_entry *e)
{
	struct store_stmt *q;
	int r;

	r = store_query(c, "SELECT \"table\", \"from\" FROM pragma_foreign_key_list($1)",
			STORE_ARGS(SA_TEXT(e->t.name)), &q);
	if (r < 0)
		return r;
	while ((r = store_step(q)) == 1) {
		const char *target = store_col_text(q, 0), *from = store_col_text(q, 1);
		struct plan_fk *fks;
		size_t col;

		for (col = 0; col < e->t.ncols; col++)
			if (from && strcmp(e->t.cols[col].name, from) == 0)
				break;
		if (col == e->t.ncols || !target)
			continue;   /* names no column of ours: nothing to order by */
		fks = realloc(e->fks, (e->nfks + 1) * sizeof(*fks));
		if (!fks) {
			r = -ENOMEM;
			break;
		}
		e->fks = fks;
		fks[e->nfks] = (struct plan_fk){ .col = col, .target = strdup(target) };
		if (!fks[e->nfks].target) {
			r = -ENOMEM;
			break;
		}
		e->nfks++;
	}
	store_stmt_free(q);
	return r < 0 ? r : 0;
}

/* The entry named @name among @n entries, or NULL. */
static struct plan_entry *entry_find(struct plan_entry *entries, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(entries[i].name, name) == 0)
			return &entries[i];
	return NULL;
}

/* Whether every table @e names, other than itself, is placed already. */
static bool entry_ready(struct plan_entry *entries, size_t n, const struct plan_entry *e)
{
	for (size_t i = 0; i < e->nfks; i++) {
		struct plan_entry *t = entry_find(entries, n, e->fks[i].target);

		if (t && t != e && !t->placed)
			return false;
	}
	return true;
}

/*
 * Moves the tables of @entries into @p in copy order: repeatedly the first
 * table (in creation order) whose referenced tables are all placed; on a
 * cycle, the first one left.  Columns naming their own table or one not
 * placed yet become deferred.  Returns 0 or ERR_INVALID (@err says why).
 */
static int plan_order(struct plan_entry *entries, size_t n, struct store_copy_plan *p, struct rerr *err)
{
	for (size_t placed = 0; placed < n; placed++) {
		struct plan_entry *pick = NULL;
		bool has_pk = false;

		for (size_t i = 0; i < n && !pick; i++)
			if (!entries[i].placed && entry_ready(entries, n, &entries[i]))
				pick = &entries[i];
		for (size_t i = 0; i < n && !pick; i++)
			if (!entries[i].placed)
				pick = &entries[i];
		for (size_t i = 0; i < pick->nfks; i++) {
			struct plan_entry *t = entry_find(entries, n, pick->fks[i].target);

			if (t && (t == pick || !t->placed)) {
				pick->t.cols[pick->fks[i].col].deferred = true;
				pick->t.has_deferred = true;
			}
		}
		for (size_t i = 0; i < pick->t.ncols; i++)
			has_pk |= pick->t.cols[i].pk > 0;
		if (pick->t.has_deferred && !has_pk)
			return rerr_set(err, ERR_INVALID, pick->t.name, "table %s refers to rows copied after its "
					"own and has no primary key to fill them in by", pick->t.name);
		pick->placed = true;
		p->tables[placed] = pick->t;
		pick->t = (struct store_copy_table){ 0 };   /* now owned by @p */
		p->n = placed + 1;
	}
	return 0;
}

/* Reads the names of the tables to copy into new entries.  Returns 0 or an error. */
static int read_tables(struct store_conn *c, struct plan_entry **ret, size_t *ret_n, struct rerr *err)
{
	struct plan_entry *entries = NULL;
	struct store_stmt *q;
	size_t n = 0;
	int r;

	/* rowid order is creation order: the order of the migrations. */
	r = store_query(c, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' "
			   "ESCAPE '!' AND name <> 'schema_migrations' ORDER BY rowid", STORE_NOARGS, &q);
	if (r < 0)
		return r;
	while ((r = store_step(q)) == 1) {
		const char *name = store_col_text(q, 0);
		struct plan_entry *more;

		if (!name_is_plain(name)) {
			r = rerr_set(err, ERR_INVALID, "", "table name \"%s\" is not a plain lower-case identifier",
				     name ? name : "");
			break;
		}
		more = realloc(entries, (n + 1) * sizeof(*more));
		if (!more) {
			r = -ENOMEM;
			break;
		}
		entries = more;
		entries[n] = (struct plan_entry){ .name = strdup(name), .t.name = strdup(name) };
		n++;
		if (!entries[n - 1].name || !entries[n - 1].t.name) {
			r = -ENOMEM;
			break;
		}
	}
	store_stmt_free(q);
	*ret = entries;
	*ret_n = n;
	return r < 0 ? r : 0;
}

int store_copy_plan_read(struct store_conn *c, struct store_copy_plan **ret, struct rerr *err)
{
	struct store_copy_plan *p = NULL;
	struct plan_entry *entries = NULL;
	size_t n = 0;
	int r;

	if (c->ops != &store_sqlite_ops)
		return -ENOTSUP;
	r = read_tables(c, &entries, &n, err);
	for (size_t i = 0; r == 0 && i < n; i++) {
		r = read_columns(c, &entries[i], err);
		if (r == 0)
			r = read_foreign_keys(c, &entries[i]);
	}
	if (r == 0) {
		p = calloc(1, sizeof(*p));
		if (p)
			p->tables = calloc(n ? n : 1, sizeof(*p->tables));
		r = p && p->tables ? plan_order(entries, n, p, err) : -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		entry_done(&entries[i]);
	free(entries);
	if (r < 0) {
		store_copy_plan_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

void store_copy_plan_free(struct store_copy_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; p->tables && i < p->n; i++)
		table_done(&p->tables[i]);
	free(p->tables);
	free(p);
}

const struct store_copy_table *store_copy_plan_find(const struct store_copy_plan *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->tables[i].name, name) == 0)
			return &p->tables[i];
	return NULL;
}
