/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * migrate_store: "rampartd migrate-store --from sqlite:PATH --to URL"
 * (migrate_store.h).  The steps, in order, and why:
 *
 *  1. The target is opened without migrating it, so that a database with
 *     an older or newer Rampart schema is refused before anything is
 *     written to it.  A new database (no Rampart schema) or one at this
 *     program's version is migrated to this program's schema, as
 *     store_open does at a server's start.
 *  2. "Empty" is what a new database holds: a reference SQLite database,
 *     migrated from nothing in the temporary directory, has the rows the
 *     migrations seed (audit_head's genesis row).  The target is empty when
 *     each table's sum (count and content digest, store/copy.h) equals the
 *     reference's.  Checked before the snapshot, to fail fast, and again
 *     inside the copy's transaction, where it holds.
 *  3. The source is read from a snapshot, taken with SQLite's online backup
 *     into the temporary directory: one read transaction, so one moment of
 *     an installation whose server keeps running; what the server commits
 *     after that moment is not copied.  When the source's schema is older,
 *     the snapshot (never the source) is migrated to this program's.
 *  4. One write transaction on the target.  On PostgreSQL it holds the
 *     advisory write lock every rampartd takes, so that no server starting
 *     on the target can write beside the copy.  Seeded rows are deleted,
 *     every table is copied in the plan's order, deferred columns are
 *     filled in, identity sequences are moved past the copied ids.
 *  5. In the same transaction: every table's sum on the target is compared
 *     with the source's, and the audit chain is verified (audit_verify).
 *     Only then does the transaction commit.
 *
 * Any failure rolls the transaction back: the target keeps its schema and
 * no copied row, and the command can be run again as it is.
 */
#include "server/migrate_store.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "common/err.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/str.h"
#include "crypto/rcrypto.h"
#include "store/copy.h"
#include "store/snapshot.h"
#include "store/store.h"

#define MIGRATE_PROGRESS_ROWS 100000
#define MIGRATE_BATCH_MAX 10000

static void usage(FILE *f)
{
	fputs("Usage: rampartd migrate-store --from sqlite:PATH --to postgresql://USER@HOST/DB [OPTIONS]\n"
	      "\n"
	      "Copies a Rampart installation's SQLite database into a new PostgreSQL database:\n"
	      "every table, the audit chain included, checked on the target before it is kept.\n"
	      "\n"
	      "Options:\n"
	      "  --from sqlite:PATH   the SQLite database to copy (a plain PATH works too).  Its\n"
	      "                       server may keep running: what it had committed when the\n"
	      "                       snapshot was taken is copied, nothing it commits later\n"
	      "  --to URL             the target: postgresql://... (collation C, see\n"
	      "                       docs/operations.md) or sqlite:PATH; it must hold no data\n"
	      "  --temp-dir DIR       where the snapshot of the source is made (default: the\n"
	      "                       source's directory); needs room for a copy of the database\n"
	      "  --batch N            rows per INSERT statement (default 500)\n"
	      "  -v, --verbose        also log the databases' own messages\n"
	      "  -h, --help           show this help\n"
	      "\n"
	      "Steps: snapshot the source with SQLite's online backup, bring the snapshot and the\n"
	      "target to this rampartd's schema, refuse a target holding data, copy every table\n"
	      "in one transaction on the target, compare each table's row count and contents,\n"
	      "verify the audit chain on the target, then commit.  When anything fails the\n"
	      "transaction is rolled back: the target keeps no copied row.\n"
	      "\n"
	      "Not in the database, so not copied: the data directory's key files (secret.key,\n"
	      "protect_wrap.key, policy_sign.key) and blobs/.  Every server on the new database\n"
	      "needs them (docs/operations.md, \"Moving an installation to PostgreSQL\").\n"
	      "\n"
	      "Exit status: 0 copied and verified; 1 an error (the target keeps no copied row);\n"
	      "2 bad usage; 3 the target is not empty (nothing was written to it); 4 the copy\n"
	      "did not verify: rows differ or the audit chain is broken (nothing was kept).\n",
	      f);
}

struct mopts {
	const char *from, *to, *temp_dir;
	size_t batch;
	bool verbose;
};

struct migration {
	struct mopts o;
	const char *from_path;     /* o.from without "sqlite:" */
	char *shown;               /* the target, password hidden */
	char tmp[PATH_MAX], snap[PATH_MAX + 16], ref[PATH_MAX + 16];
	bool tmp_made;
	struct store *dst, *src, *refdb;
	struct store_conn *dc, *sc, *rc;
	struct store_copy_plan *plan;
	struct store_copy_sum *src_sums, *ref_sums;
	int64_t rows, next_report, started_ns;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Prints "rampartd migrate-store: MESSAGE" on stderr and returns @status. */
__attribute__((format(printf, 2, 3)))
static int say(int status, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("rampartd migrate-store: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

static bool is_postgres(const char *s)
{
	return str_has_prefix(s, "postgresql://") || str_has_prefix(s, "postgres://");
}

/* Reads the command line into @o.  Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct mopts *o)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "temp-dir", required_argument, NULL, 'T' },
		{ "batch", required_argument, NULL, 'b' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int64_t n;
	int c;

	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': o->from = optarg; break;
		case 't': o->to = optarg; break;
		case 'T': o->temp_dir = optarg; break;
		case 'b':
			if (str_parse_i64(optarg, 1, MIGRATE_BATCH_MAX, &n) < 0)
				return say(MIGRATE_USAGE, "--batch takes a number from 1 to %d", MIGRATE_BATCH_MAX);
			o->batch = (size_t)n;
			break;
		case 'v': o->verbose = true; break;
		case 'h': usage(stdout); return MIGRATE_OK;
		default: usage(stderr); return MIGRATE_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return MIGRATE_USAGE;
	}
	if (!o->from || !o->to || !*o->from || !*o->to)
		return say(MIGRATE_USAGE, "both --from and --to are needed (see --help)");
	if (is_postgres(o->from))
		return say(MIGRATE_USAGE, "--from must be a SQLite database (sqlite:PATH); "
			   "a PostgreSQL database is copied with pg_dump and pg_restore");
	if (strcmp(str_has_prefix(o->to, "sqlite:") ? o->to + strlen("sqlite:") : o->to,
		   str_has_prefix(o->from, "sqlite:") ? o->from + strlen("sqlite:") : o->from) == 0)
		return say(MIGRATE_USAGE, "--from and --to name the same database");
	return -1;
}

/* ------------------------------------------------------------ the target */

/* Opens the target and brings it to this program's schema (step 1).  Returns 0 or the exit status. */
static int open_target(struct migration *m)
{
	int64_t v = 0, newest = store_copy_newest_schema();
	int r;

	r = store_open_unmigrated(m->o.to, NULL, &m->dst);
	if (r < 0)
		return say(MIGRATE_FAILED, "cannot open the target %s: %s", m->shown, err_str(r));
	m->dc = store_conn(m->dst);
	if (!m->dc)
		return say(MIGRATE_FAILED, "cannot connect to the target %s", m->shown);
	r = store_copy_schema_version(m->dc, &v);
	if (r < 0)
		return say(MIGRATE_FAILED, "cannot read the target's schema version: %s", err_str(r));
	if (v > newest)
		return say(MIGRATE_FAILED, "the target's schema (version %lld) is newer than this rampartd's "
			   "(%lld); nothing was written", (long long)v, (long long)newest);
	if (v > 0 && v < newest)
		return say(MIGRATE_NOT_EMPTY, "the target already holds a Rampart schema (version %lld, older "
			   "than this rampartd's %lld); nothing was written. Copy into a new, empty database",
			   (long long)v, (long long)newest);
	r = store_copy_migrate(m->dst);
	if (r < 0)
		return say(MIGRATE_FAILED, "cannot create the schema on the target: %s", err_str(r));
	printf("target: %s (%s, schema %lld)\n", m->shown, store_engine(m->dst), (long long)newest);
	return 0;
}

/* The temporary directory, in --temp-dir or beside the source.  Returns 0 or the exit status. */
static int make_temp(struct migration *m)
{
	char dir[PATH_MAX];
	const char *slash;

	if (m->o.temp_dir) {
		if (str_copy(dir, sizeof(dir), m->o.temp_dir) < 0)
			return say(MIGRATE_USAGE, "--temp-dir is too long");
	} else {
		slash = strrchr(m->from_path, '/');
		if (!slash)
			str_copy(dir, sizeof(dir), ".");
		else if (snprintf(dir, sizeof(dir), "%.*s", slash == m->from_path ? 1 : (int)(slash - m->from_path),
				  m->from_path) >= (int)sizeof(dir))
			return say(MIGRATE_USAGE, "--from is too long");
	}
	if (snprintf(m->tmp, sizeof(m->tmp), "%s/rampart-migrate-XXXXXX", dir) >= (int)sizeof(m->tmp))
		return say(MIGRATE_USAGE, "the temporary directory's name is too long");
	if (!mkdtemp(m->tmp))
		return say(MIGRATE_FAILED, "cannot create a temporary directory in %s: %s (see --temp-dir)", dir,
			   strerror(errno));
	m->tmp_made = true;
	snprintf(m->snap, sizeof(m->snap), "%s/source.db", m->tmp);
	snprintf(m->ref, sizeof(m->ref), "%s/empty.db", m->tmp);
	return 0;
}

/* A new database of this program's schema: the plan, and what "empty" means (step 2).  Returns 0 or the exit status. */
static int open_reference(struct migration *m)
{
	char target[PATH_MAX + 32];
	struct rerr e = { "" };
	int r;

	snprintf(target, sizeof(target), "sqlite:%s", m->ref);
	r = store_open(target, &m->refdb);
	if (r < 0)
		return say(MIGRATE_FAILED, "cannot create %s: %s", m->ref, err_str(r));
	m->rc = store_conn(m->refdb);
	if (!m->rc)
		return say(MIGRATE_FAILED, "cannot open %s", m->ref);
	r = store_copy_plan_read(m->rc, &m->plan, &e);
	if (r < 0)
		return say(MIGRATE_FAILED, "cannot read this rampartd's schema: %s", rerr_text(&e, r));
	m->ref_sums = calloc(m->plan->n ? m->plan->n : 1, sizeof(*m->ref_sums));
	m->src_sums = calloc(m->plan->n ? m->plan->n : 1, sizeof(*m->src_sums));
	if (!m->ref_sums || !m->src_sums)
		return say(MIGRATE_FAILED, "out of memory");
	for (size_t i = 0; i < m->plan->n; i++) {
		r = store_copy_sum_table(m->rc, &m->plan->tables[i], &m->ref_sums[i]);
		if (r < 0)
			return say(MIGRATE_FAILED, "cannot read %s: %s", m->ref, err_str(r));
	}
	return 0;
}

/* Refuses a target that holds more than a new database does.  Returns 0 or the exit status. */
static int check_empty(struct migration *m)
{
	for (size_t i = 0; i < m->plan->n; i++) {
		const struct store_copy_table *t = &m->plan->tables[i];
		struct store_copy_sum got;
		int r = store_copy_sum_table(m->dc, t, &got);

		if (r < 0)
			return say(MIGRATE_FAILED, "cannot read table %s on the target: %s", t->name, err_str(r));
		if (store_copy_sum_equal(&got, &m->ref_sums[i]))
			continue;
		if (got.rows != m->ref_sums[i].rows)
			return say(MIGRATE_NOT_EMPTY, "the target is not empty: table %s holds %lld rows (a new "
				   "database: %lld); nothing was written. Copy into a new, empty database",
				   t->name, (long long)got.rows, (long long)m->ref_sums[i].rows);
		return say(MIGRATE_NOT_EMPTY, "the target is not empty: table %s holds rows a new database "
			   "does not; nothing was written. Copy into a new, empty database", t->name);
	}
	return 0;
}

/* ------------------------------------------------------------ the source */

/* Whether the snapshot's tables are the reference's, column for column. */
static bool same_schema(const struct store_copy_plan *a, const struct store_copy_plan *b, const char **ret_table)
{
	for (size_t i = 0; i < a->n; i++) {
		const struct store_copy_table *t = &a->tables[i];
		const struct store_copy_table *u = store_copy_plan_find(b, t->name);

		*ret_table = t->name;
		if (!u || u->ncols != t->ncols)
			return false;
		for (size_t c = 0; c < t->ncols; c++)
			if (strcmp(t->cols[c].name, u->cols[c].name) != 0 || t->cols[c].kind != u->cols[c].kind)
				return false;
	}
	*ret_table = NULL;
	return a->n == b->n;
}

/* Takes the snapshot and brings it to this program's schema (step 3).  Returns 0 or the exit status. */
static int open_source(struct migration *m)
{
	int64_t at = 0, v = 0, newest = store_copy_newest_schema();
	struct store_copy_plan *plan = NULL;
	char target[PATH_MAX + 32], when[40];
	const char *differs = NULL;
	struct rerr e = { "" };
	struct stat st;
	bool same;
	int r;

	r = store_sqlite_snapshot(m->from_path, m->snap, &at, &e);
	if (r < 0)
		return say(MIGRATE_FAILED, "%s", rerr_text(&e, r));
	if (stat(m->snap, &st) < 0)
		st.st_size = 0;
	printf("source: %s, snapshot taken at %s (%.1f MB)\n", m->from_path, rtime_format(when, sizeof(when), at),
	       (double)st.st_size / (1024.0 * 1024.0));
	snprintf(target, sizeof(target), "sqlite:%s", m->snap);
	r = store_open_unmigrated(target, NULL, &m->src);
	m->sc = r == 0 ? store_conn(m->src) : NULL;
	if (!m->sc)
		return say(MIGRATE_FAILED, "cannot open the snapshot %s: %s", m->snap, err_str(r < 0 ? r : ERR_STORE));
	r = store_copy_schema_version(m->sc, &v);
	if (r < 0 || v == 0)
		return say(MIGRATE_FAILED, "%s is not a Rampart database", m->from_path);
	if (v > newest)
		return say(MIGRATE_FAILED, "the source's schema (version %lld) is newer than this rampartd's (%lld): "
			   "run the migration with the rampartd that wrote it", (long long)v, (long long)newest);
	if (v < newest)
		printf("source: schema %lld, brought to %lld in the snapshot (the source is not changed)\n",
		       (long long)v, (long long)newest);
	r = store_copy_migrate(m->src);
	if (r < 0)
		return say(MIGRATE_FAILED, "cannot bring the snapshot to this rampartd's schema: %s", err_str(r));
	r = store_copy_plan_read(m->sc, &plan, &e);
	if (r < 0)
		return say(MIGRATE_FAILED, "cannot read the source's schema: %s", rerr_text(&e, r));
	same = same_schema(plan, m->plan, &differs) && same_schema(m->plan, plan, &differs);
	store_copy_plan_free(plan);
	if (!same)
		return say(MIGRATE_FAILED, "the source's tables differ from this rampartd's schema (table %s)",
			   differs ? differs : "?");
	return 0;
}

/* ------------------------------------------------------------ the copy */

static double seconds_since(int64_t ns)
{
	return (double)(rtime_mono_ns() - ns) / 1e9;
}

static int on_progress(const struct store_copy_table *t, int64_t rows, void *ud)
{
	struct migration *m = ud;

	if (interrupted)
		return -EINTR;
	if (rows >= m->next_report) {
		printf("  %-30s %12lld rows so far\n", t->name, (long long)rows);
		fflush(stdout);
		m->next_report = (rows / MIGRATE_PROGRESS_ROWS + 1) * MIGRATE_PROGRESS_ROWS;
	}
	return 0;
}

/* Copies every table, fills in deferred columns, moves sequences (step 4).  Returns 0 or the exit status. */
static int copy_all(struct migration *m)
{
	struct store_copy_opts co = { .batch_rows = m->o.batch, .progress = on_progress, .ud = m };
	int r;

	printf("copying %zu tables:\n", m->plan->n);
	for (size_t i = 0; i < m->plan->n; i++) {
		const struct store_copy_table *t = &m->plan->tables[i];
		int64_t t0 = rtime_mono_ns();
		struct rerr e = { "" };

		if (interrupted)
			return say(MIGRATE_FAILED, "interrupted: nothing was kept");
		if (m->ref_sums[i].rows > 0 && (r = store_copy_clear(m->dc, t)) < 0)
			return say(MIGRATE_FAILED, "cannot empty table %s on the target: %s", t->name, err_str(r));
		m->next_report = MIGRATE_PROGRESS_ROWS;
		r = store_copy_rows(m->sc, m->dc, t, &co, &m->src_sums[i], &e);
		if (r == -EINTR)
			return say(MIGRATE_FAILED, "interrupted: nothing was kept");
		if (r < 0)
			return say(MIGRATE_FAILED, "%s; nothing was kept", rerr_text(&e, r));
		m->rows += m->src_sums[i].rows;
		printf("  %-30s %12lld rows %7.1f s\n", t->name, (long long)m->src_sums[i].rows, seconds_since(t0));
		fflush(stdout);
	}
	for (size_t i = 0; i < m->plan->n; i++) {
		const struct store_copy_table *t = &m->plan->tables[i];
		struct rerr e = { "" };
		int64_t n = 0;

		if (!t->has_deferred)
			continue;
		r = store_copy_fill_deferred(m->sc, m->dc, t, &n, &e);
		if (r < 0)
			return say(MIGRATE_FAILED, "%s; nothing was kept", rerr_text(&e, r));
		printf("  %-30s %12lld references filled in after its rows\n", t->name, (long long)n);
	}
	for (size_t i = 0; i < m->plan->n; i++) {
		r = store_copy_identity_advance(m->dc, &m->plan->tables[i]);
		if (r < 0)
			return say(MIGRATE_FAILED, "cannot advance the id sequence of table %s: %s; nothing was kept",
				   m->plan->tables[i].name, err_str(r));
	}
	return 0;
}

/* Compares every table's sum on the target with the source's.  Returns 0 or the exit status. */
static int verify_tables(struct migration *m)
{
	int bad = 0;

	printf("checking the target:\n  %-30s %12s %12s\n", "table", "source", "target");
	for (size_t i = 0; i < m->plan->n; i++) {
		const struct store_copy_table *t = &m->plan->tables[i];
		const struct store_copy_sum *want = &m->src_sums[i];
		struct store_copy_sum got;
		int r = store_copy_sum_table(m->dc, t, &got);
		bool ok;

		if (r < 0)
			return say(MIGRATE_FAILED, "cannot read table %s on the target: %s; nothing was kept",
				   t->name, err_str(r));
		ok = store_copy_sum_equal(want, &got);
		printf("  %-30s %12lld %12lld  %s\n", t->name, (long long)want->rows, (long long)got.rows,
		       ok ? "ok" : want->rows == got.rows ? "CONTENTS DIFFER" : "COUNTS DIFFER");
		bad += !ok;
	}
	fflush(stdout);
	if (bad)
		return say(MIGRATE_MISMATCH, "%d table(s) differ between the source and the target; nothing was kept",
			   bad);
	return 0;
}

/* Verifies the audit chain on the target (step 5).  Returns 0 or the exit status. */
static int verify_audit(struct migration *m)
{
	struct audit_verify_result v, sv;
	struct store_stmt *q;
	char head[80] = "";
	int r;

	r = audit_verify(m->dc, &v);
	if (r < 0)
		return say(MIGRATE_FAILED, "cannot verify the audit chain on the target: %s; nothing was kept",
			   err_str(r));
	if (!v.intact) {
		/* Say where it broke: already in the source, or in the copy. */
		if (audit_verify(m->sc, &sv) == 0 && !sv.intact)
			return say(MIGRATE_MISMATCH, "the audit chain does not verify: %s (already so in the "
				   "source: it was changed outside Rampart); nothing was kept", sv.reason);
		return say(MIGRATE_MISMATCH, "the copied audit chain does not verify: %s; nothing was kept",
			   v.reason);
	}
	r = store_query(m->dc, "SELECT hash FROM audit_head WHERE id = 1", STORE_NOARGS, &q);
	if (r == 0) {
		if (store_step(q) == 1 && store_col_text(q, 0))
			str_copy(head, sizeof(head), store_col_text(q, 0));
		store_stmt_free(q);
	}
	printf("audit chain: intact, %lld entries, head %s\n", (long long)v.entries, head[0] ? head : "-");
	return 0;
}

/* Steps 4 and 5 inside one transaction on the target.  Returns the exit status. */
static int copy_verified(struct migration *m)
{
	int r = store_begin(m->dc);

	if (r < 0)
		return say(MIGRATE_FAILED, "cannot start a transaction on the target: %s", err_str(r));
	/* Again, now that no other writer can slip in. */
	r = check_empty(m);
	if (r == 0)
		r = copy_all(m);
	if (r == 0)
		r = verify_tables(m);
	if (r == 0)
		r = verify_audit(m);
	if (r == 0 && interrupted)
		r = say(MIGRATE_FAILED, "interrupted: nothing was kept");
	if (r != 0) {
		store_rollback(m->dc);
		return r;
	}
	r = store_commit(m->dc);
	if (r < 0)
		return say(MIGRATE_FAILED, "cannot commit on the target: %s; nothing was kept", err_str(r));
	return 0;
}

/* ------------------------------------------------------------ run */

static void remove_db_files(const char *path)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	char p[PATH_MAX + 32];

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
		unlink(p);
	}
}

static void migration_done(struct migration *m)
{
	if (m->dc && store_in_transaction(m->dc))
		store_rollback(m->dc);
	store_close(m->src);
	store_close(m->refdb);
	store_close(m->dst);
	if (m->tmp_made) {
		remove_db_files(m->snap);
		remove_db_files(m->ref);
		if (rmdir(m->tmp) < 0)
			say(0, "cannot remove the temporary directory %s: %s", m->tmp, strerror(errno));
	}
	store_copy_plan_free(m->plan);
	free(m->src_sums);
	free(m->ref_sums);
	free(m->shown);
}

static int run(struct migration *m)
{
	struct stat st;
	int r;

	m->started_ns = rtime_mono_ns();
	/* A mistyped source is told before the target is touched. */
	if (stat(m->from_path, &st) < 0)
		return say(MIGRATE_FAILED, "there is no database at '%s': %s", m->from_path, strerror(errno));
	r = open_target(m);
	if (r == 0)
		r = make_temp(m);
	if (r == 0)
		r = open_reference(m);
	if (r == 0)
		r = check_empty(m);
	if (r == 0)
		r = open_source(m);
	if (r == 0)
		r = copy_verified(m);
	if (r != 0)
		return r;
	printf("done: %zu tables, %lld rows copied and verified in %.1f s.\n"
	       "Next: give every server the key files of the old data directory (secret.key,\n"
	       "protect_wrap.key, policy_sign.key) and its blobs/, then start them with\n"
	       "  [store] url = %s\n",
	       m->plan->n, (long long)m->rows, seconds_since(m->started_ns), m->shown);
	return MIGRATE_OK;
}

int migrate_store_main(int argc, char **argv)
{
	struct migration m = { 0 };
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	int r;

	r = parse_args(argc, argv, &m.o);
	if (r >= 0)
		return r;
	log_set_level(m.o.verbose ? LOG_LVL_DEBUG : LOG_LVL_WARN);
	if (rcrypto_init() < 0)
		return say(MIGRATE_FAILED, "cannot initialize libsodium");
	m.from_path = str_has_prefix(m.o.from, "sqlite:") ? m.o.from + strlen("sqlite:") : m.o.from;
	m.shown = store_copy_target_shown(m.o.to);
	if (!m.shown)
		return say(MIGRATE_FAILED, "out of memory");
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = run(&m);
	migration_done(&m);
	return r;
}
