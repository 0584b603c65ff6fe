/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* auditckpt: the signed checkpoint document and its carrying object (see auditckpt.h). */
#include "formats/auditckpt.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "common/jsonx.h"
#include "common/rtime.h"
#include "common/str.h"

static bool ckpt_server_id_is_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > AUDIT_CKPT_SERVER_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

/* A time the document can carry: after 1970, before 10000, in canonical form. */
static bool ckpt_time_is_valid(int64_t ms)
{
	char t[40];
	int64_t back;

	return ms > 0 && rtime_parse_flags(rtime_format(t, sizeof(t), ms), RTIME_EPOCH, &back) == 0 &&
	       back == ms;
}

/* The document's one spelling into @out.  Returns its length, or -1 when it does not fit. */
static int ckpt_document_text(const char *server_id, int64_t seq, const char *hash, int64_t time_ms,
			      char *out, size_t size)
{
	char t[40];
	int n = snprintf(out, size,
			 "{\"format\":\"" AUDIT_CKPT_FORMAT "\",\"version\":%d,\"server_id\":\"%s\","
			 "\"seq\":%lld,\"hash\":\"%s\",\"time\":\"%s\"}",
			 AUDIT_CKPT_VERSION, server_id, (long long)seq, hash, rtime_format(t, sizeof(t), time_ms));

	return n < 0 || (size_t)n >= size ? -1 : n;
}

int audit_checkpoint_sign(const char *server_id, int64_t seq, const char *hash, int64_t time_ms,
			  const unsigned char *sk, struct audit_checkpoint *ret)
{
	struct audit_checkpoint c = { 0 };
	int n;

	if (!server_id || !ckpt_server_id_is_valid(server_id) || seq < 1 || !audit_hash_is_valid(hash) ||
	    !ckpt_time_is_valid(time_ms))
		return ERR_INVALID;
	n = ckpt_document_text(server_id, seq, hash, time_ms, c.document, sizeof(c.document));
	if (n < 0)
		return ERR_INVALID;
	str_copy(c.server_id, sizeof(c.server_id), server_id);
	c.seq = seq;
	str_copy(c.hash, sizeof(c.hash), hash);
	c.time_ms = time_ms;
	crypto_sign_detached(c.signature, NULL, (const unsigned char *)c.document, (size_t)n, sk);
	crypto_sign_ed25519_sk_to_pk(c.public_key, sk);
	*ret = c;
	return 0;
}

int audit_checkpoint_parse_document(const char *doc, size_t len, struct audit_checkpoint *ret,
				    struct rerr *e)
{
	static const char *const keys[] = { "format", "version", "server_id", "seq", "hash", "time", NULL };
	struct audit_checkpoint c = *ret;
	struct rerr pe = { "" };
	const char *format, *server_id, *hash, *tm;
	int64_t version, seq, ms;
	json_t *o = NULL;
	int r;

	if (len > AUDIT_CKPT_DOC_MAX)
		return rerr_set(e, ERR_INVALID, "document", "the document is longer than %d bytes",
				AUDIT_CKPT_DOC_MAX);
	r = jsonx_parse_object(doc, len, 1, &o, &pe);
	if (r < 0)
		return rerr_set(e, ERR_INVALID, "document", "the document is not a JSON object: %s", pe.message);
	r = jsonx_only_keys(o, keys, e);
	r = r < 0 ? r : jsonx_get_str(o, "format", true, 64, &format, e);
	if (r == 0 && strcmp(format, AUDIT_CKPT_FORMAT) != 0)
		r = rerr_set(e, ERR_INVALID, "format", "the document is not a Rampart audit checkpoint");
	r = r < 0 ? r : jsonx_get_int(o, "version", true, AUDIT_CKPT_VERSION, AUDIT_CKPT_VERSION, &version, e);
	r = r < 0 ? r : jsonx_get_str(o, "server_id", true, AUDIT_CKPT_SERVER_ID_MAX, &server_id, e);
	if (r == 0 && !ckpt_server_id_is_valid(server_id))
		r = rerr_set(e, ERR_INVALID, "server_id", "server_id has characters other than letters, "
			     "digits, '-' and '_'");
	r = r < 0 ? r : jsonx_get_int(o, "seq", true, 1, INT64_MAX, &seq, e);
	r = r < 0 ? r : jsonx_get_str(o, "hash", true, 64, &hash, e);
	if (r == 0 && !audit_hash_is_valid(hash))
		r = rerr_set(e, ERR_INVALID, "hash", "hash is not 64 lowercase hex digits");
	r = r < 0 ? r : jsonx_get_str(o, "time", true, 40, &tm, e);
	if (r == 0 && (rtime_parse_flags(tm, RTIME_EPOCH, &ms) < 0 || !ckpt_time_is_valid(ms)))
		r = rerr_set(e, ERR_INVALID, "time", "time is not a time such as 2026-11-26T08:21:40.123Z");
	if (r == 0) {
		char canon[40], text[AUDIT_CKPT_DOC_MAX + 1];

		/* One spelling per checkpoint, as rampartd writes it, so two of them compare as text. */
		if (strcmp(rtime_format(canon, sizeof(canon), ms), tm) != 0)
			r = rerr_set(e, ERR_INVALID, "time", "time is not written as %s", canon);
		else if (ckpt_document_text(server_id, seq, hash, ms, text, sizeof(text)) != (int)len ||
			 memcmp(text, doc, len) != 0)
			r = rerr_set(e, ERR_INVALID, "document", "the document is not written as rampartd "
				     "writes it (member order, no spaces)");
	}
	if (r == 0) {
		str_copy(c.server_id, sizeof(c.server_id), server_id);
		c.seq = seq;
		str_copy(c.hash, sizeof(c.hash), hash);
		c.time_ms = ms;
		memcpy(c.document, doc, len);
		c.document[len] = '\0';
		*ret = c;
	}
	json_decref(o);
	return r < 0 ? ERR_INVALID : 0;
}

/* Decodes base64 @text of exactly @n bytes into @out.  Returns 0 or ERR_INVALID. */
static int ckpt_b64(const char *text, unsigned char *out, size_t n)
{
	size_t got = 0, len = strlen(text);
	const char *end = NULL;

	if (sodium_base642bin(out, n, text, len, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != n || end != text + len)
		return ERR_INVALID;
	return 0;
}

void audit_key_text(const unsigned char pk[AUDIT_KEY_BYTES], char out[AUDIT_KEY_B64_SIZE])
{
	sodium_bin2base64(out, AUDIT_KEY_B64_SIZE, pk, AUDIT_KEY_BYTES, sodium_base64_VARIANT_ORIGINAL);
}

int audit_key_parse(const char *text, unsigned char pk[AUDIT_KEY_BYTES])
{
	unsigned char k[AUDIT_KEY_BYTES];

	if (!text || strlen(text) != AUDIT_KEY_B64_SIZE - 1 || ckpt_b64(text, k, sizeof(k)) < 0)
		return ERR_INVALID;
	memcpy(pk, k, sizeof(k));
	return 0;
}

/* A readable copy, when present, must say what the document says. */
static int ckpt_copy_agrees(const json_t *o, const char *key, const char *want, struct rerr *e)
{
	const json_t *v = json_object_get(o, key);

	if (!v)
		return 0;
	if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0)
		return rerr_set(e, ERR_INVALID, key, "'%s' differs from the signed document's", key);
	return 0;
}

int audit_checkpoint_from_json(const json_t *o, struct audit_checkpoint *ret, struct rerr *e)
{
	static const char *const keys[] = { "document", "signature", "public_key", "id", "seq", "hash",
					    "time", "server_id", NULL };
	struct audit_checkpoint c = { 0 };
	const char *doc, *sig, *pk;
	const json_t *seq;
	char t[40];
	int64_t id = 0;
	int r;

	if (!json_is_object(o))
		return rerr_set(e, ERR_INVALID, NULL, "a checkpoint is a JSON object");
	r = jsonx_only_keys(o, keys, e);
	r = r < 0 ? r : jsonx_get_str(o, "document", true, AUDIT_CKPT_DOC_MAX, &doc, e);
	r = r < 0 ? r : jsonx_get_str(o, "signature", true, AUDIT_SIG_B64_SIZE - 1, &sig, e);
	r = r < 0 ? r : jsonx_get_str(o, "public_key", true, AUDIT_KEY_B64_SIZE - 1, &pk, e);
	r = r < 0 ? r : jsonx_get_int(o, "id", false, 1, INT64_MAX, &id, e);
	if (r == -ENOENT)
		r = 0;
	if (r < 0)
		return ERR_INVALID;
	if (strlen(sig) != AUDIT_SIG_B64_SIZE - 1 || ckpt_b64(sig, c.signature, sizeof(c.signature)) < 0)
		return rerr_set(e, ERR_INVALID, "signature", "signature is not the base64 of 64 bytes");
	if (audit_key_parse(pk, c.public_key) < 0)
		return rerr_set(e, ERR_INVALID, "public_key", "public_key is not the base64 of 32 bytes");
	r = audit_checkpoint_parse_document(doc, strlen(doc), &c, e);
	if (r < 0)
		return r;
	seq = json_object_get(o, "seq");
	if (seq && (!json_is_integer(seq) || json_integer_value(seq) != c.seq))
		return rerr_set(e, ERR_INVALID, "seq", "'seq' differs from the signed document's");
	r = ckpt_copy_agrees(o, "hash", c.hash, e);
	r = r < 0 ? r : ckpt_copy_agrees(o, "server_id", c.server_id, e);
	r = r < 0 ? r : ckpt_copy_agrees(o, "time", rtime_format(t, sizeof(t), c.time_ms), e);
	if (r < 0)
		return r;
	c.id = id;
	*ret = c;
	return 0;
}

int audit_checkpoint_parse(const char *data, size_t len, struct audit_checkpoint *ret, struct rerr *e)
{
	json_t *o = NULL;
	int r;

	if (len > AUDIT_CKPT_FILE_MAX)
		return rerr_set(e, ERR_INVALID, NULL, "a checkpoint is at most %d bytes", AUDIT_CKPT_FILE_MAX);
	r = jsonx_parse_object(data, len, 2, &o, e);
	if (r < 0)
		return ERR_INVALID;
	r = audit_checkpoint_from_json(o, ret, e);
	json_decref(o);
	return r;
}

bool audit_checkpoint_verify(const struct audit_checkpoint *c, const unsigned char pk[AUDIT_KEY_BYTES])
{
	return crypto_sign_verify_detached(c->signature, (const unsigned char *)c->document,
					   strlen(c->document), pk) == 0;
}

json_t *audit_checkpoint_json(const struct audit_checkpoint *c)
{
	char sig[AUDIT_SIG_B64_SIZE], pk[AUDIT_KEY_B64_SIZE], t[40];
	json_t *o;

	sodium_bin2base64(sig, sizeof(sig), c->signature, sizeof(c->signature), sodium_base64_VARIANT_ORIGINAL);
	audit_key_text(c->public_key, pk);
	o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "seq", (json_int_t)c->seq, "hash", c->hash,
		      "time", rtime_format(t, sizeof(t), c->time_ms), "server_id", c->server_id,
		      "document", c->document, "signature", sig, "public_key", pk);
	if (o && c->id > 0 && json_object_set_new(o, "id", json_integer(c->id)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}
