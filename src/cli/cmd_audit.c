/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cmd_audit: reading, verifying and exporting the hash-chained audit log,
 * and its signed checkpoints.  The export streams page by page (newest
 * entry first, the server's order) so that a log of any length is exported
 * in bounded memory; with -o the file appears complete or not at all.
 *
 * "verify --checkpoint FILE" trusts the server for nothing but the bytes
 * of the entries: it checks the checkpoint's signature under a pinned key,
 * then walks the chain from entry 1 over the pages of GET /api/v1/audit
 * (oldest first), recomputing every hash (formats/auditchain.h) and
 * comparing it with the file and with every stored checkpoint that the
 * same key signed (formats/auditwalk.h).  Memory stays bounded by a page
 * and the list of checkpoints.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "cli/fileio.h"
#include "cli/list.h"
#include "cli/out.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/fsio.h"
#include "common/rtime.h"
#include "common/str.h"
#include "formats/auditchain.h"
#include "formats/auditckpt.h"
#include "formats/auditwalk.h"

#define AUDIT_EXPORT_PAGE "500"

static const char audit_help[] =
"Usage: rampart audit list [FILTERS] [--limit N] [--all] [--json]\n"
"       rampart audit verify [--checkpoint FILE]... [--key KEY] [--json]\n"
"       rampart audit export [FILTERS] [-o FILE]\n"
"       rampart audit checkpoints [--limit N] [--all] [--json]\n"
"       rampart audit checkpoint [-o FILE] [--json]\n"
"\n"
"Reading the audit log needs the admin, security_officer or auditor role.\n"
"\n"
"list    entries, newest first: time, actor, action, object, outcome\n"
"          --limit N   entries per page (1-10000); --all: every page\n"
"verify  the server recomputes the hash chain over the whole log.  Exit 0\n"
"        when it is intact; exit 1 when it is broken, naming the first\n"
"        broken entry.\n"
"        --checkpoint FILE: this command proves it itself, against\n"
"        checkpoints saved earlier ('rampart audit checkpoint -o FILE'; give\n"
"        up to 64): checks each file's signature under the pinned key,\n"
"        downloads every entry, recomputes every hash, and compares the\n"
"        chain with the files and with every stored checkpoint the same key\n"
"        signed.  Exit 0 when the chain up to the checkpoints is as it was\n"
"        signed; exit 1 naming the first entry that is not proved: the one\n"
"        after the last checkpoint that still matches.\n"
"          --key KEY   the checkpoint public key (base64) you trust, as\n"
"                      'rampart audit checkpoint' showed it.  Without it the\n"
"                      key the server reports now is pinned: enough against\n"
"                      someone who can write the database, not against\n"
"                      someone who controls the server.\n"
"checkpoints  the signed checkpoints of the chain's head, newest first\n"
"checkpoint   the latest checkpoint and the server's checkpoint key; -o FILE\n"
"             saves the checkpoint (keep it somewhere the server cannot write)\n"
"export  every entry matching the filters as JSON lines (one JSON object per\n"
"        line), newest first, following the pages to the end.  Pipe through\n"
"        'tac' for oldest first.  -o FILE writes FILE (mode 0600) in one go:\n"
"        a failed export leaves no partial file.\n"
"\n"
"FILTERS:\n"
"  --actor A     person id or login of the actor\n"
"  --action A    action name, e.g. auth.login, authz.denied, hr.import\n"
"  --object O    id of the object acted on\n"
"  --outcome O   success, failure or denied\n"
"  --since T     entries at or after T\n"
"  --until T     entries before T\n"
"T is an RFC 3339 time (2026-11-26T08:00:00Z), a date (2026-11-26, UTC), or a\n"
"duration back from now (30m, 12h, 7d).\n";

enum {
	OPT_ACTOR = 0x200, OPT_ACTION, OPT_OBJECT, OPT_OUTCOME, OPT_SINCE, OPT_UNTIL, OPT_LIMIT, OPT_ALL,
	OPT_CHECKPOINT, OPT_KEY,
};

/* Entries per page when walking the whole chain. */
#define AUDIT_WALK_PAGE "500"

struct audit_filters {
	const char *actor, *action, *object, *outcome;
	char since[CLI_TIME_MAX], until[CLI_TIME_MAX];
};

/* The cli_bind parser of --outcome into @dst, a const char *. */
static int audit_parse_outcome(const char *cmd, const char *arg, void *dst)
{
	if (strcmp(arg, "success") && strcmp(arg, "failure") && strcmp(arg, "denied"))
		return cli_usage(cmd, "--outcome must be success, failure or denied");
	*(const char **)dst = arg;
	return 0;
}

#define AUDIT_FILTER_OPTIONS \
	{ "actor", required_argument, NULL, OPT_ACTOR }, \
	{ "action", required_argument, NULL, OPT_ACTION }, \
	{ "object", required_argument, NULL, OPT_OBJECT }, \
	{ "outcome", required_argument, NULL, OPT_OUTCOME }, \
	{ "since", required_argument, NULL, OPT_SINCE }, \
	{ "until", required_argument, NULL, OPT_UNTIL }

/* Where the values of AUDIT_FILTER_OPTIONS go: into the struct audit_filters @f. */
#define AUDIT_FILTER_BINDS(f) \
	{ OPT_ACTOR, &(f).actor }, \
	{ OPT_ACTION, &(f).action }, \
	{ OPT_OBJECT, &(f).object }, \
	{ OPT_OUTCOME, .parse = audit_parse_outcome, .dst = &(f).outcome }, \
	{ OPT_SINCE, .parse = cli_parse_since, .dst = (f).since }, \
	{ OPT_UNTIL, .parse = cli_parse_until, .dst = (f).until }

/* The query of the struct audit_filters @f: struct client_param initializers. */
#define AUDIT_FILTER_QUERY(f) \
	{ "actor", (f).actor }, { "action", (f).action }, { "object", (f).object }, \
	{ "outcome", (f).outcome }, { "since", (f).since[0] ? (f).since : NULL }, \
	{ "until", (f).until[0] ? (f).until : NULL }

static int audit_row(struct table *t, const json_t *v, void *ud)
{
	char id[24], tm[64];
	struct buf obj;
	const char *actor = out_str(v, "actor_login");
	const char *row[7];
	int r;

	buf_init(&obj, 4096);
	buf_printf(&obj, "%s%s%s", out_str(v, "object_type"), *out_str(v, "object_id") ? ":" : "",
		   out_str(v, "object_id"));
	snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(v, "id")));
	row[0] = id;
	row[1] = out_time(tm, sizeof(tm), out_str(v, "time"));
	row[2] = *actor ? actor : out_str(v, "actor_id");
	row[3] = out_str(v, "action");
	row[4] = obj.data;
	row[5] = out_str(v, "outcome");
	row[6] = out_str(v, "source");
	r = table_add(t, row);
	buf_done(&obj);
	return r;
}

static int audit_list(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		AUDIT_FILTER_OPTIONS,
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "all", no_argument, NULL, OPT_ALL },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "audit list", audit_help, "", opts };
	static const char *const hdr[] = { "ID", "TIME", "ACTOR", "ACTION", "OBJECT", "OUTCOME", "SOURCE" };
	const struct cli_table spec = { cmd.name, 7, hdr, audit_row };
	struct audit_filters f = { 0 };
	const char *limit = NULL;
	bool all = false;
	const struct cli_bind binds[] = {
		AUDIT_FILTER_BINDS(f),
		{ OPT_LIMIT, .parse = cli_parse_limit, .dst = &limit },
		{ OPT_ALL, .flag = &all },
		{ 0 }
	};
	struct cli_args a;
	int rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 0, "", &rc))
		return rc;
	if (!cli_client(cli))
		return CLI_EXIT_USAGE;
	return cli_list_query(cli, &spec, all, "cannot read the audit log", "/api/v1/audit",
			      (const struct client_param[]){ AUDIT_FILTER_QUERY(f), { "limit", limit }, { 0 } });
}

/* The --checkpoint files of verify. */
#define AUDIT_CKPT_FILES_MAX 64
struct audit_files {
	const char *path[AUDIT_CKPT_FILES_MAX];
	size_t n;
};

/* The cli_bind parser of --checkpoint: each one is kept, in a struct audit_files. */
static int audit_parse_file(const char *cmd, const char *arg, void *dst)
{
	struct audit_files *f = dst;

	if (f->n == AUDIT_CKPT_FILES_MAX)
		return cli_usage(cmd, "at most %d --checkpoint files", AUDIT_CKPT_FILES_MAX);
	f->path[f->n++] = arg;
	return 0;
}

static int audit_verify_checkpoint(struct cli *cli, const struct audit_files *files, const char *key);

static int audit_verify(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "checkpoint", required_argument, NULL, OPT_CHECKPOINT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "audit verify", audit_help, "", opts };
	struct audit_files files = { .n = 0 };
	const char *key = NULL;
	const struct cli_bind binds[] = {
		{ OPT_CHECKPOINT, .parse = audit_parse_file, .dst = &files },
		{ OPT_KEY, &key },
		{ 0 }
	};
	json_t *res = NULL;
	struct client *c;
	struct cli_args a;
	bool intact;
	int r, rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 0, "", &rc))
		return rc;
	if (key && !files.n)
		return cli_usage(cmd.name, "--key pins the key of --checkpoint files");
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	if (files.n)
		return audit_verify_checkpoint(cli, &files, key);
	r = client_request(c, "GET", "/api/v1/audit/verify", NULL, NULL, 0, 600, &res);
	if (r < 0)
		return client_fail(c, r, "cannot verify the audit log");
	if (!json_is_boolean(json_object_get(res, "intact"))) {
		json_decref(res);
		return cli_fail("audit verify: the server's answer has no verdict");
	}
	intact = json_is_true(json_object_get(res, "intact"));
	if (cli->json) {
		out_json(res);
	} else if (intact) {
		printf("The audit log is intact: %lld entries verified.\n",
		       (long long)json_integer_value(json_object_get(res, "entries")));
	} else {
		fprintf(stderr, "rampart: the audit log is BROKEN: the first broken entry is %lld",
			(long long)json_integer_value(json_object_get(res, "first_broken")));
		if (*out_str(res, "reason")) {
			fputs(" (", stderr);
			out_put_clean(stderr, out_str(res, "reason"));
			fputc(')', stderr);
		}
		fprintf(stderr, ".\n  Entries from there on cannot be trusted; see 'rampart audit list' "
				"and docs/security.md.\n");
	}
	if (!intact && cli->json)
		fprintf(stderr, "rampart: the audit log is BROKEN at entry %lld\n",
			(long long)json_integer_value(json_object_get(res, "first_broken")));
	json_decref(res);
	return intact ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

/* Where audit_export writes the entries, page by page. */
struct audit_out {
	FILE *f;
	long long count;
	int rc;            /* the exit code after a write failure */
};

static int audit_export_page(json_t *page, void *ud)
{
	struct audit_out *o = ud;
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(page, "items"), i, v) {
		if (out_json_line(o->f, v) < 0) {
			o->rc = cli_fail("audit export: cannot write the output: %s", strerror(errno));
			return 1;
		}
		o->count++;
	}
	return 0;
}

static int audit_export(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		AUDIT_FILTER_OPTIONS,
		{ "output", required_argument, NULL, 'o' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "audit export", audit_help, "o:", opts };
	struct audit_filters f = { 0 };
	const char *output = NULL;
	const struct cli_bind binds[] = { AUDIT_FILTER_BINDS(f), { 'o', &output }, { 0 } };
	char tmp[CREDS_PATH_MAX], clean[512];
	struct audit_out out = { .f = stdout, .rc = CLI_EXIT_OK };
	struct client *c;
	struct cli_args a;
	struct buf base;
	int r, rc, fd;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 0, "", &rc))
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	if (output && strcmp(output, "-") != 0) {
		out_clean(clean, sizeof(clean), output);
		if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", output) >= (int)sizeof(tmp))
			return cli_usage(cmd.name, "the output path is too long");
		fd = mkostemp(tmp, O_CLOEXEC);
		if (fd < 0)
			return cli_fail("audit export: cannot create a file next to %s: %s", clean,
					strerror(errno));
		/* The log names people and what they did: not for other users' eyes. */
		if (fchmod(fd, 0600) < 0 || !(out.f = fdopen(fd, "w"))) {
			rc = cli_fail("audit export: cannot write %s: %s", clean, strerror(errno));
			close(fd);
			unlink(tmp);
			return rc;
		}
	} else {
		output = NULL;
	}

	buf_init(&base, 16384);
	r = buf_puts(&base, "/api/v1/audit");
	r = r < 0 ? r : client_queries(c, &base, (const struct client_param[]){ AUDIT_FILTER_QUERY(f), { 0 } });
	r = r < 0 ? r : cli_pages(cli, base.data, AUDIT_EXPORT_PAGE, 0, audit_export_page, &out);
	rc = r < 0 ? client_fail(c, r, "the audit export failed") : out.rc;
	buf_done(&base);
	if (output) {
		if (rc == CLI_EXIT_OK && (fflush(out.f) != 0 || fsync(fileno(out.f)) < 0))
			rc = cli_fail("audit export: cannot write %s: %s", clean, strerror(errno));
		if (fclose(out.f) != 0 && rc == CLI_EXIT_OK)
			rc = cli_fail("audit export: cannot write %s: %s", clean, strerror(errno));
		if (rc == CLI_EXIT_OK && rename(tmp, output) < 0)
			rc = cli_fail("audit export: cannot create %s: %s", clean, strerror(errno));
		if (rc != CLI_EXIT_OK)
			unlink(tmp);
		else
			fprintf(stderr, "Exported %lld audit entries to %s.\n", out.count, clean);
	} else if (rc == CLI_EXIT_OK && fflush(stdout) != 0) {
		rc = cli_fail("audit export: cannot write the output: %s", strerror(errno));
	}
	return rc;
}

/* ------------------------------------------------------------ checkpoints */

static int audit_ckpt_table_row(struct table *t, const json_t *v, void *ud)
{
	char id[24], seq[24], tm[64], hash[20];
	const char *row[6];

	snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(v, "id")));
	row[0] = id;
	if (*out_str(v, "error")) {
		/* A row the server could not read back: shown, never hidden. */
		row[1] = "-";
		row[2] = "-";
		row[3] = "DAMAGED";
		row[4] = "-";
		row[5] = "-";
		return table_add(t, row);
	}
	snprintf(seq, sizeof(seq), "%lld", (long long)json_integer_value(json_object_get(v, "seq")));
	snprintf(hash, sizeof(hash), "%.16s", out_str(v, "hash"));
	row[1] = seq;
	row[2] = out_time(tm, sizeof(tm), out_str(v, "time"));
	row[3] = hash;
	row[4] = out_str(v, "server_id");
	row[5] = out_str(v, "public_key");
	return table_add(t, row);
}

static int audit_checkpoints(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "all", no_argument, NULL, OPT_ALL },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "audit checkpoints", audit_help, "", opts };
	static const char *const hdr[] = { "ID", "SEQ", "TIME", "HASH", "SERVER", "KEY" };
	const struct cli_table spec = { cmd.name, 6, hdr, audit_ckpt_table_row, NULL,
					"No checkpoint has been signed yet." };
	const char *limit = NULL;
	bool all = false;
	const struct cli_bind binds[] = {
		{ OPT_LIMIT, .parse = cli_parse_limit, .dst = &limit },
		{ OPT_ALL, .flag = &all },
		{ 0 }
	};
	struct cli_args a;
	int rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 0, "", &rc))
		return rc;
	if (!cli_client(cli))
		return CLI_EXIT_USAGE;
	return cli_list_query(cli, &spec, all, "cannot list the audit checkpoints", "/api/v1/audit/checkpoints",
			      (const struct client_param[]){ { "limit", limit }, { 0 } });
}

/* Writes @text and a newline to @path in one go (a temporary file renamed over it).  Returns 0 or an exit code. */
static int audit_write_file(const char *path, const char *text)
{
	size_t n = strlen(text);
	char *buf = malloc(n + 2), clean[512];
	int r;

	out_clean(clean, sizeof(clean), path);
	if (!buf)
		return cli_fail("cannot write %s: %s", clean, strerror(ENOMEM));
	memcpy(buf, text, n);
	buf[n] = '\n';
	/* A checkpoint is no secret: readable by whoever keeps it for later. */
	r = fsio_replace(path, buf, n + 1, 0644);
	free(buf);
	return r < 0 ? cli_fail("cannot write %s: %s", clean, strerror(-r)) : CLI_EXIT_OK;
}

static int audit_checkpoint(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { { "output", required_argument, NULL, 'o' }, { 0 } };
	static const struct cli_cmd cmd = { "audit checkpoint", audit_help, "o:", opts };
	const char *output = NULL;
	const struct cli_bind binds[] = { { 'o', &output }, { 0 } };
	struct audit_checkpoint cp;
	json_t *res = NULL, *j;
	struct client *c;
	struct cli_args a;
	struct rerr e = { "" };
	char tm[64], clean[512];
	char *text;
	int r, rc = CLI_EXIT_OK;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 0, "", &rc))
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	r = client_request(c, "GET", "/api/v1/audit/checkpoint", NULL, NULL, 0, 0, &res);
	if (r < 0)
		return client_fail(c, r, "cannot read the latest audit checkpoint");
	j = json_object_get(res, "checkpoint");
	if (json_is_object(j) && audit_checkpoint_from_json(j, &cp, &e) < 0) {
		out_clean(clean, sizeof(clean), e.message);
		json_decref(res);
		return cli_fail("audit checkpoint: the server's checkpoint is malformed: %s", clean);
	}
	if (output) {
		if (!json_is_object(j)) {
			json_decref(res);
			return cli_fail("audit checkpoint: the server has signed no checkpoint yet");
		}
		text = json_dumps(j, JSON_INDENT(2));
		rc = text ? audit_write_file(output, text) : cli_fail("out of memory");
		free(text);
	}
	if (rc == CLI_EXIT_OK && cli->json) {
		out_json(res);
	} else if (rc == CLI_EXIT_OK) {
		printf("Checkpoint key: %s\n", *out_str(res, "public_key") ? out_str(res, "public_key") : "(none)");
		if (json_is_object(j)) {
			printf("Latest checkpoint: entry %lld, signed %s by server %s\n  hash %s\n", (long long)cp.seq,
			       out_time(tm, sizeof(tm), out_str(j, "time")), cp.server_id, cp.hash);
		} else {
			printf("No checkpoint has been signed yet.\n");
		}
		if (output) {
			out_clean(clean, sizeof(clean), output);
			fprintf(stderr, "Saved the checkpoint to %s.  Keep it, and the key above, where the "
					"server cannot write.\n", clean);
		}
	}
	json_decref(res);
	return rc;
}

/* ------------------------------------------------------------ verify against a checkpoint */

/* The anchors a walk compares the chain with: the file, then every stored checkpoint the key signed. */
struct audit_anchors {
	struct audit_anchor *a;
	size_t n, cap;
	int64_t ignored;
	const unsigned char *pk;
};

static int audit_anchor_add(struct audit_anchors *as, const struct audit_checkpoint *cp, const char *what)
{
	if (as->n == as->cap) {
		size_t cap = as->cap ? as->cap * 2 : 64;
		struct audit_anchor *grown = realloc(as->a, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		as->a = grown;
		as->cap = cap;
	}
	as->a[as->n].seq = cp->seq;
	memcpy(as->a[as->n].hash, cp->hash, sizeof(cp->hash));
	str_copy(as->a[as->n].what, sizeof(as->a[as->n].what), what);
	as->n++;
	return 0;
}

static int audit_anchors_page(json_t *page, void *ud)
{
	struct audit_anchors *as = ud;
	struct audit_checkpoint cp;
	char what[64];
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(page, "items"), i, v) {
		/* Only a signature under the pinned key makes a stored checkpoint evidence. */
		if (audit_checkpoint_from_json(v, &cp, NULL) < 0 || !audit_checkpoint_verify(&cp, as->pk)) {
			as->ignored++;
			continue;
		}
		snprintf(what, sizeof(what), "stored checkpoint %lld", (long long)cp.id);
		if (audit_anchor_add(as, &cp, what) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int audit_anchor_cmp(const void *x, const void *y)
{
	const struct audit_anchor *a = x, *b = y;

	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Hands each entry of a page (oldest first) to the walk, with the hash recomputed here. */
static int audit_walk_page(json_t *page, void *ud)
{
	struct audit_walk *w = ud;
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(page, "items"), i, v) {
		int64_t id = json_integer_value(json_object_get(v, "id"));
		struct audit_chain_entry e;
		char hash[AUDIT_HASH_HEX], *details = NULL;
		const char *problem = NULL;
		bool computed = false;
		int r;

		if (!w->broken) {
			r = audit_chain_entry_from_api(v, &e, &details, NULL);
			if (r == ERR_INVALID)
				problem = "the server lists it malformed";
			else if (r == 0 && (r = audit_chain_hash(w->prev, &e, hash)) == ERR_INVALID)
				problem = "a text is not valid UTF-8";
			free(details);
			if (r == -ENOMEM)
				return -ENOMEM;
			computed = r == 0;
		}
		audit_walk_entry(w, id, json_string_value(json_object_get(v, "prev_hash")),
				 json_string_value(json_object_get(v, "hash")), computed ? hash : NULL, problem);
	}
	return 0;
}

/* Reads and parses the checkpoint file @path.  Returns 0 or an exit code after saying why. */
static int audit_read_checkpoint(const char *path, struct audit_checkpoint *ret)
{
	char clean[512], why[512];
	struct rerr e = { "" };
	struct buf b;
	int fd, r;

	out_clean(clean, sizeof(clean), path);
	fd = fileio_open_input(path);
	if (fd < 0)
		return cli_fail("audit verify: cannot read %s: %s", clean, strerror(-fd));
	buf_init(&b, AUDIT_CKPT_FILE_MAX + 1);
	r = fileio_read_all(fd, &b);
	fileio_close_input(fd);
	if (r == -EMSGSIZE) {
		buf_done(&b);
		return cli_fail("audit verify: %s is larger than a checkpoint (%d bytes)", clean, AUDIT_CKPT_FILE_MAX);
	}
	if (r < 0) {
		buf_done(&b);
		return cli_fail("audit verify: cannot read %s: %s", clean, strerror(-r));
	}
	r = audit_checkpoint_parse(b.data ? b.data : "", b.len, ret, &e);
	buf_done(&b);
	if (r < 0)
		return cli_fail("audit verify: %s is not a Rampart audit checkpoint: %s", clean,
				out_clean(why, sizeof(why), e.message));
	return 0;
}

/*
 * The key a checkpoint must be signed with: @key (--key) when given, else
 * the one the server reports now.  Returns 0, or an exit code after
 * saying why; *ret_from names where the key came from.
 */
static int audit_pin_key(struct cli *cli, const char *key, unsigned char pk[AUDIT_KEY_BYTES], const char **ret_from)
{
	struct client *c = cli->client;
	unsigned char server_pk[AUDIT_KEY_BYTES];
	bool have_server;
	json_t *res = NULL;
	char text[AUDIT_KEY_B64_SIZE];
	int r;

	if (key && audit_key_parse(key, pk) < 0)
		return cli_usage("audit verify", "--key must be a checkpoint public key: 44 characters of base64");
	r = client_request(c, "GET", "/api/v1/audit/checkpoint", NULL, NULL, 0, 0, &res);
	if (r < 0)
		return client_fail(c, r, "cannot read the server's checkpoint key");
	have_server = audit_key_parse(json_string_value(json_object_get(res, "public_key")), server_pk) == 0;
	json_decref(res);
	if (key) {
		*ret_from = "--key";
		if (have_server && sodium_memcmp(server_pk, pk, AUDIT_KEY_BYTES) != 0) {
			audit_key_text(server_pk, text);
			fprintf(stderr, "rampart: note: the server now signs with another key (%s); only "
					"checkpoints signed with the pinned key count.\n", text);
		}
		return 0;
	}
	if (!have_server)
		return cli_fail("audit verify: the server reports no checkpoint key; pass the key you trust "
				"with --key");
	memcpy(pk, server_pk, AUDIT_KEY_BYTES);
	*ret_from = "the server";
	return 0;
}

static void audit_verify_report(const struct audit_walk *w, const struct audit_checkpoint *last,
				const struct audit_anchors *as, size_t nfiles, const char *key, const char *key_from)
{
	char tm[40], reason[256];

	if (w->broken) {
		fprintf(stderr, "rampart: the audit log does NOT match: the first entry not proved is %lld (%s).\n"
				"  Entries from there on were rewritten, removed or damaged since they were "
				"signed; see docs/security.md section 9.\n", (long long)w->first_broken,
			out_clean(reason, sizeof(reason), w->reason));
		return;
	}
	printf("The audit log matches the checkpoint%s: entries 1 to %lld are as they were signed at %s.\n",
	       nfiles > 1 ? "s" : "", (long long)last->seq, rtime_format(tm, sizeof(tm), last->time_ms));
	printf("  %lld entries verified; %zu stored checkpoints matched the chain", (long long)w->entries,
	       w->anchors_matched - nfiles);
	if (as->ignored)
		printf(" (%lld not signed with the pinned key, ignored)", (long long)as->ignored);
	printf(";\n  signatures prove the chain up to entry %lld; key %s (from %s).\n",
	       (long long)w->proved_through, key, key_from);
	if (w->entries > w->proved_through)
		printf("  Entries after %lld are proved only by the chain's own links.\n", (long long)w->proved_through);
}

/* The checkpoint files, parsed, checked against the pinned key, and added as anchors.  Returns 0 or an exit code. */
static int audit_files_anchor(const struct audit_files *files, const unsigned char *pk, const char *pk_text,
			      struct audit_anchors *as, struct audit_checkpoint *ret_last, json_t *list)
{
	struct audit_checkpoint cp;
	char what[64], clean[512], tm[40];
	int rc;

	for (size_t i = 0; i < files->n; i++) {
		rc = audit_read_checkpoint(files->path[i], &cp);
		if (rc != 0)
			return rc;
		out_clean(clean, sizeof(clean), files->path[i]);
		if (sodium_memcmp(cp.public_key, pk, AUDIT_KEY_BYTES) != 0)
			return cli_fail("audit verify: %s was signed with another key than the pinned one (%s)",
					clean, pk_text);
		if (!audit_checkpoint_verify(&cp, pk))
			return cli_fail("audit verify: the signature of %s is not good: the file was altered or forged",
					clean);
		snprintf(what, sizeof(what), "checkpoint file %zu (entry %lld)", i + 1, (long long)cp.seq);
		if (audit_anchor_add(as, &cp, what) < 0 ||
		    json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:s}", "seq", (json_int_t)cp.seq,
							  "hash", cp.hash, "time",
							  rtime_format(tm, sizeof(tm), cp.time_ms),
							  "server_id", cp.server_id)) < 0)
			return cli_fail("audit verify: out of memory");
		if (i == 0 || cp.seq > ret_last->seq)
			*ret_last = cp;
	}
	return 0;
}

static int audit_verify_checkpoint(struct cli *cli, const struct audit_files *files, const char *key)
{
	struct audit_anchors as = { 0 };
	struct audit_checkpoint last = { 0 };
	unsigned char pk[AUDIT_KEY_BYTES];
	char pk_text[AUDIT_KEY_B64_SIZE];
	const char *key_from = NULL;
	json_t *given = json_array(), *out;
	struct audit_walk w;
	int r, rc;

	if (!given)
		return cli_fail("audit verify: out of memory");
	rc = audit_pin_key(cli, key, pk, &key_from);
	if (rc == 0) {
		audit_key_text(pk, pk_text);
		rc = audit_files_anchor(files, pk, pk_text, &as, &last, given);
	}
	if (rc != 0) {
		free(as.a);
		json_decref(given);
		return rc;
	}
	as.pk = pk;
	r = cli_pages(cli, "/api/v1/audit/checkpoints", AUDIT_WALK_PAGE, 0, audit_anchors_page, &as);
	if (r == 0) {
		qsort(as.a, as.n, sizeof(*as.a), audit_anchor_cmp);
		audit_walk_init(&w, as.a, as.n);
		r = cli_pages(cli, "/api/v1/audit?order=asc", AUDIT_WALK_PAGE, 0, audit_walk_page, &w);
	}
	if (r < 0) {
		free(as.a);
		json_decref(given);
		return r == -ENOMEM ? cli_fail("audit verify: out of memory")
				    : client_fail(cli->client, r, "cannot read the audit log and its checkpoints");
	}
	audit_walk_finish(&w);
	if (cli->json) {
		out = json_pack("{s:b, s:I, s:o, s:I, s:o, s:s, s:s, s:I, s:I}",
				"intact", !w.broken, "entries", (json_int_t)w.entries,
				"first_broken", w.broken ? json_integer(w.first_broken) : json_null(),
				"proved_through", (json_int_t)w.proved_through, "checkpoints", given,
				"key", pk_text, "key_from", key_from,
				"checkpoints_checked", (json_int_t)(as.n - files->n),
				"checkpoints_ignored", (json_int_t)as.ignored);
		if (out && w.broken)
			json_object_set_new(out, "reason", json_string(w.reason));
		out_json(out);
		json_decref(out);
		if (w.broken)
			fprintf(stderr, "rampart: the audit log does NOT match the checkpoints from entry %lld\n",
				(long long)w.first_broken);
	} else {
		json_decref(given);
		audit_verify_report(&w, &last, &as, files->n, pk_text, key_from);
	}
	free(as.a);
	return w.broken ? CLI_EXIT_FAILED : CLI_EXIT_OK;
}

int cmd_audit(struct cli *cli, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "list", audit_list },
		{ "verify", audit_verify },
		{ "export", audit_export },
		{ "checkpoints", audit_checkpoints },
		{ "checkpoint", audit_checkpoint },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, "audit", audit_help, subs, argc, argv);
}
