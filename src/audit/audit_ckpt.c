/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * audit_ckpt: signed checkpoints of the chain's head.  The Ed25519 key is
 * a 32-byte seed in a file outside the database (DATA/audit_checkpoint.key
 * or [audit] checkpoint_key), created at first start with mode 0600 and
 * held in sodium_malloc'd read-only memory.  A checkpoint is made inside
 * the append that reaches a multiple of checkpoint_every_entries (one
 * signature, one insert: the append path stays cheap), and by a timer when
 * the head moved and the last checkpoint is older than checkpoint_every.
 *
 * The key and settings are set once before any thread starts and only
 * read afterwards.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/audit.h"
#include "audit/audit_internal.h"
#include "common/app.h"
#include "common/err.h"
#include "common/fsio.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/str.h"
#include "common/ticker.h"
#include "crypto/rcrypto.h"
#include "store/store.h"

static unsigned char *ckpt_sk;                     /* crypto_sign_SECRETKEYBYTES; NULL: none */
static unsigned char ckpt_pk[AUDIT_KEY_BYTES];
static char ckpt_server_id[AUDIT_CKPT_SERVER_ID_MAX + 1];
static int64_t ckpt_every_entries;

int audit_checkpoint_setup(const char *key_path, const char *server_id, int64_t every_entries)
{
	unsigned char seed[crypto_sign_SEEDBYTES];
	unsigned char *sk;
	struct stat st;
	bool created;
	int r;

	if (!server_id || str_copy(ckpt_server_id, sizeof(ckpt_server_id), server_id) < 0 || every_entries < 1)
		return ERR_INVALID;
	created = stat(key_path, &st) < 0 && errno == ENOENT;
	r = rcrypto_keyfile_load(key_path, seed, sizeof(seed));
	if (r < 0)
		return r;
	if (created) {
		/* The new key file must survive a crash as its first checkpoints will. */
		char dir[1024];
		const char *slash = strrchr(key_path, '/');

		if (slash && (size_t)(slash - key_path) < sizeof(dir)) {
			memcpy(dir, key_path, (size_t)(slash - key_path));
			dir[slash - key_path] = '\0';
			fsio_sync_dir(slash == key_path ? "/" : dir);
		} else if (!slash) {
			fsio_sync_dir(".");
		}
	}
	sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	if (!sk) {
		sodium_memzero(seed, sizeof(seed));
		return -ENOMEM;
	}
	audit_keys_free();
	crypto_sign_seed_keypair(ckpt_pk, sk, seed);
	sodium_memzero(seed, sizeof(seed));
	sodium_mprotect_readonly(sk);
	ckpt_sk = sk;
	ckpt_every_entries = every_entries;
	return 0;
}

int audit_keys_load(const struct app *app)
{
	char path[1024];
	int n;

	if (app->cfg.audit_checkpoint_key[0])
		n = snprintf(path, sizeof(path), "%s", app->cfg.audit_checkpoint_key);
	else
		n = snprintf(path, sizeof(path), "%s/audit_checkpoint.key", app->cfg.data_dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	return audit_checkpoint_setup(path, app->server_id, app->cfg.audit_checkpoint_every_entries);
}

void audit_keys_free(void)
{
	if (ckpt_sk)
		sodium_free(ckpt_sk);
	ckpt_sk = NULL;
	sodium_memzero(ckpt_pk, sizeof(ckpt_pk));
}

bool audit_checkpoint_public_key(unsigned char pk[AUDIT_KEY_BYTES])
{
	if (!ckpt_sk)
		return false;
	memcpy(pk, ckpt_pk, AUDIT_KEY_BYTES);
	return true;
}

/* Signs (@seq, @hash) and inserts it; an existing checkpoint of @seq stays.  Returns 1, 0 or an error. */
static int ckpt_insert(struct store_conn *c, int64_t seq, const char *hash, int64_t now_ms)
{
	struct audit_checkpoint cp;
	char sig[AUDIT_SIG_B64_SIZE], pk[AUDIT_KEY_B64_SIZE];
	int r;

	r = audit_checkpoint_sign(ckpt_server_id, seq, hash, now_ms, ckpt_sk, &cp);
	if (r < 0)
		return r;
	sodium_bin2base64(sig, sizeof(sig), cp.signature, sizeof(cp.signature), sodium_base64_VARIANT_ORIGINAL);
	audit_key_text(cp.public_key, pk);
	return store_exec(c, "INSERT INTO audit_checkpoints (seq, hash, created_at, server_id, document, "
			     "signature, public_key) VALUES ($1, $2, $3, $4, $5, $6, $7) "
			     "ON CONFLICT (seq) DO NOTHING",
			  STORE_ARGS(SA_I64(seq), SA_TEXT(hash), SA_I64(now_ms), SA_TEXT(ckpt_server_id),
				     SA_TEXT(cp.document), SA_TEXT(sig), SA_TEXT(pk)));
}

void audit_ckpt_after_append(struct store_conn *c, int64_t seq, const char *hash, int64_t now_ms)
{
	int r;

	if (!ckpt_sk || seq % ckpt_every_entries != 0)
		return;
	r = ckpt_insert(c, seq, hash, now_ms);
	if (r < 0)
		log_warn("audit: cannot store a checkpoint", "seq=%lld error=\"%s\"", (long long)seq, err_str(r));
}

/*
 * Whether the head is due for a checkpoint: it moved past the last one,
 * which is at least @min_age_ms old.  Returns 1 with the head in
 * *ret_seq and @hash, 0 when not due, or a store error.
 */
static int ckpt_head_due(struct store_conn *c, int64_t now_ms, int64_t min_age_ms, int64_t *ret_seq,
			 char hash[AUDIT_HASH_HEX])
{
	struct store_stmt *q;
	int64_t seq = 0;
	int r;

	r = store_query(c, "SELECT seq, hash FROM audit_head WHERE id = 1", STORE_NOARGS, &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1) {
		seq = store_col_i64(q, 0);
		if (str_copy(hash, AUDIT_HASH_HEX, store_col_text(q, 1) ? store_col_text(q, 1) : "") < 0 ||
		    !audit_hash_is_valid(hash))
			r = ERR_STORE;   /* a damaged head: verify reports it; nothing to sign */
	}
	store_stmt_free(q);
	if (r <= 0)
		return r < 0 ? r : ERR_STORE;
	if (seq == 0)
		return 0;
	r = store_query(c, "SELECT seq, created_at FROM audit_checkpoints ORDER BY seq DESC LIMIT 1",
			STORE_NOARGS, &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1)
		r = store_col_i64(q, 0) < seq && now_ms - store_col_i64(q, 1) >= min_age_ms;
	else if (r == 0)
		r = 1;   /* no checkpoint yet */
	store_stmt_free(q);
	if (r == 1)
		*ret_seq = seq;
	return r;
}

int audit_checkpoint_head(struct store_conn *c, int64_t now_ms, int64_t min_age_ms)
{
	bool own = !store_in_transaction(c);
	char hash[AUDIT_HASH_HEX];
	int64_t seq = 0;
	int r, cr;

	if (!ckpt_sk)
		return 0;
	if (own && (r = store_begin(c)) < 0)
		return r;
	r = ckpt_head_due(c, now_ms, min_age_ms, &seq, hash);
	if (r == 1)
		r = ckpt_insert(c, seq, hash, now_ms);
	if (own) {
		if (r >= 0 && (cr = store_commit(c)) < 0)
			r = cr;
		if (r < 0)
			store_rollback(c);
	}
	return r < 0 ? r : r > 0;
}

int audit_ckpt_row(struct store_stmt *q, struct audit_checkpoint *ret)
{
	const char *doc = store_col_text(q, 1), *sig = store_col_text(q, 2), *pk = store_col_text(q, 3);
	json_t *o;
	int r;

	if (!doc || !sig || !pk)
		return ERR_INVALID;
	o = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)store_col_i64(q, 0), "document", doc,
		      "signature", sig, "public_key", pk);
	if (!o)
		return ERR_INVALID;   /* a text that is not UTF-8 */
	r = audit_checkpoint_from_json(o, ret, NULL);
	json_decref(o);
	return r;
}

int audit_checkpoint_latest(struct store_conn *c, struct audit_checkpoint *ret)
{
	struct store_stmt *q;
	int r;

	r = store_query(c, "SELECT " AUDIT_CKPT_COLUMNS " FROM audit_checkpoints ORDER BY seq DESC LIMIT 1",
			STORE_NOARGS, &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1)
		r = audit_ckpt_row(q, ret) < 0 ? ERR_STORE : 0;
	else if (r == 0)
		r = ERR_NOT_FOUND;
	store_stmt_free(q);
	return r;
}

int audit_ckpt_anchors(struct store_conn *c, const unsigned char *pk, struct audit_anchor **ret,
		       size_t *ret_n, int64_t *ret_ignored)
{
	struct audit_anchor *a = NULL, *grown;
	size_t n = 0, cap = 0;
	int64_t ignored = 0;
	struct store_stmt *q;
	int r;

	r = store_query(c, "SELECT " AUDIT_CKPT_COLUMNS " FROM audit_checkpoints ORDER BY seq",
			STORE_NOARGS, &q);
	if (r < 0)
		return r;
	while ((r = store_step(q)) == 1) {
		struct audit_checkpoint cp;

		if (audit_ckpt_row(q, &cp) < 0 || !audit_checkpoint_verify(&cp, pk) ||
		    (n > 0 && cp.seq <= a[n - 1].seq)) {
			ignored++;
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(a, cap * sizeof(*a));
			if (!grown) {
				r = -ENOMEM;
				break;
			}
			a = grown;
		}
		a[n].seq = cp.seq;
		memcpy(a[n].hash, cp.hash, sizeof(a[n].hash));
		snprintf(a[n].what, sizeof(a[n].what), "checkpoint %lld", (long long)cp.id);
		n++;
	}
	store_stmt_free(q);
	if (r < 0) {
		free(a);
		return r;
	}
	*ret = a;
	*ret_n = n;
	*ret_ignored = ignored;
	return 0;
}

/* ------------------------------------------------------------ the timer */

static struct ticker *ckpt_ticker;
static int64_t ckpt_every_ms;

static void ckpt_tick(void *arg)
{
	struct app *app = arg;
	struct store_conn *c = store_conn(app->store);
	int r = c ? audit_checkpoint_head(c, rtime_now_ms(), ckpt_every_ms) : ERR_STORE;

	if (r < 0)
		log_warn("audit: cannot make the timed checkpoint", "error=\"%s\"", err_str(r));
}

int audit_checkpointer_start(struct app *app)
{
	int64_t every = app->cfg.audit_checkpoint_every_s;

	ckpt_every_ms = every * 1000;
	/* Checked often enough that the head is signed within a minute of falling due. */
	return ticker_start((unsigned)(every < 60 ? every : 60), ckpt_tick, app, &ckpt_ticker);
}

void audit_checkpointer_stop(void)
{
	ticker_stop(ckpt_ticker);
	ckpt_ticker = NULL;
}
