/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * keysvc: the key-wrapping key, the access decision of an open, the
 * management authorization, and re-sealing content keys to clients.
 * The decision functions are pure so that they are tested without a store.
 */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/str.h"
#include "crypto/rcrypto.h"
#include "identity/people.h"
#include "identity/scope.h"
#include "protect/protect.h"
#include "store/store.h"

#define PROTECT_MAX_GROUPS 1024
#define PROTECT_MAX_GRANTS 1024

static struct protect_keys *keys;  /* sodium_malloc'd, read-only after start */

void protect_keys_derive(struct protect_keys *k)
{
	crypto_scalarmult_base(k->pk, k->sk);
	rpf_key_id(k->pk, k->key_id);
}

int protect_keys_set(const struct protect_keys *k)
{
	struct protect_keys *n = sodium_malloc(sizeof(*n));

	if (!n)
		return -ENOMEM;
	*n = *k;
	sodium_mprotect_readonly(n);
	if (keys)
		sodium_free(keys);
	keys = n;
	return 0;
}

int protect_keys_load(const char *data_dir)
{
	struct protect_keys *k;
	char path[1024];
	int r;

	if (snprintf(path, sizeof(path), "%s/protect_wrap.key", data_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	k = sodium_malloc(sizeof(*k));
	if (!k)
		return -ENOMEM;
	r = rcrypto_keyfile_load(path, k->sk, sizeof(k->sk));
	if (r == 0) {
		protect_keys_derive(k);
		r = protect_keys_set(k);
	}
	sodium_free(k);
	return r;
}

const struct protect_keys *protect_keys_get(void)
{
	return keys;
}

/* ---------------------------------------------------------------- decisions */

bool protect_may(const struct principal *p, enum protect_action a, const struct protect_target *t)
{
	bool own, in_scope;

	if (!principal_is_authenticated(p) || p->via == VIA_SCIM_TOKEN || !t || !t->owner_id)
		return false;
	own = strcmp(p->person_id, t->owner_id) == 0;
	in_scope = principal_has(p, ROLE_SECURITY_MANAGER) && p->manages_path[0] &&
		   t->owner_org_path && t->owner_org_path[0] &&
		   scope_path_within(t->owner_org_path, p->manages_path);
	if (own || principal_has(p, ROLE_ADMIN | ROLE_SECURITY_OFFICER) || in_scope)
		return true;
	return a == PROTECT_READ && principal_has(p, ROLE_AUDITOR);
}

static bool subject_matches(const struct protect_grant *g, const struct protect_subject *s)
{
	unsigned role;

	switch (g->kind) {
	case GRANT_USER:
		return strcmp(g->value, s->person_id) == 0;
	case GRANT_GROUP:
		for (size_t i = 0; i < s->ngroups; i++)
			if (strcmp(s->groups[i], g->value) == 0)
				return true;
		return false;
	case GRANT_ORG:
		return s->org_path && s->org_path[0] && scope_path_within(s->org_path, g->value);
	case GRANT_ROLE:
		role = role_from_name(g->value);
		return role && (s->roles & role);
	}
	return false;
}

enum protect_decision protect_decide(const struct protect_policy *pol,
				     const struct protect_subject *s, int64_t now_ms)
{
	if (pol->revoked_at)
		return PROTECT_DENY_REVOKED;
	if (pol->expires_at && now_ms >= pol->expires_at)
		return PROTECT_DENY_EXPIRED;
	if (!s->status || strcmp(s->status, "active") != 0)
		return PROTECT_DENY_INACTIVE;
	if (pol->owner_id && strcmp(pol->owner_id, s->person_id) == 0)
		return PROTECT_ALLOW_OWNER;
	for (size_t i = 0; i < pol->ngrants; i++)
		if (subject_matches(&pol->grants[i], s))
			return PROTECT_ALLOW_LISTED;
	return PROTECT_DENY_NOT_LISTED;
}

const char *protect_decision_name(enum protect_decision d)
{
	switch (d) {
	case PROTECT_ALLOW_OWNER: return "owner";
	case PROTECT_ALLOW_LISTED: return "listed";
	case PROTECT_DENY_REVOKED: return "revoked";
	case PROTECT_DENY_EXPIRED: return "expired";
	case PROTECT_DENY_INACTIVE: return "retired";
	case PROTECT_DENY_NOT_LISTED: return "not_listed";
	}
	return "unknown";
}

const char *protect_decision_message(enum protect_decision d)
{
	switch (d) {
	case PROTECT_ALLOW_OWNER: return "allowed: you own the file";
	case PROTECT_ALLOW_LISTED: return "allowed: you are on the file's access list";
	case PROTECT_DENY_REVOKED: return "the file was revoked by its owner or a security officer";
	case PROTECT_DENY_EXPIRED: return "the file's access has expired";
	case PROTECT_DENY_INACTIVE: return "your account is retired or on leave";
	case PROTECT_DENY_NOT_LISTED: return "you are not on the file's access list";
	}
	return "refused";
}

int protect_grant_parse(const char *s, struct protect_grant *g)
{
	static const struct { const char *prefix; enum protect_grant_kind kind; } kinds[] = {
		{ "user:", GRANT_USER }, { "group:", GRANT_GROUP },
		{ "org:", GRANT_ORG }, { "role:", GRANT_ROLE },
	};

	if (!s)
		return ERR_INVALID;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const char *v;

		if (!str_has_prefix(s, kinds[i].prefix))
			continue;
		v = s + strlen(kinds[i].prefix);
		if (!*v || strlen(v) > 511 || !str_is_clean_utf8(v, strlen(v)))
			return ERR_INVALID;
		if (kinds[i].kind == GRANT_USER && !ids_is_ulid(v))
			return ERR_INVALID;
		if (kinds[i].kind == GRANT_ROLE && !role_from_name(v))
			return ERR_INVALID;
		g->kind = kinds[i].kind;
		g->value = v;
		return 0;
	}
	return ERR_INVALID;
}

/* ---------------------------------------------------------------- store */

static const char *const grant_kind_names[] = { "user", "group", "org", "role" };

struct loaded {
	char *owner_id;
	struct protect_grant grants[PROTECT_MAX_GRANTS];
	char *grant_values[PROTECT_MAX_GRANTS];
	size_t ngrants;
	char *status, *org_path;
	char *groups[PROTECT_MAX_GROUPS];
	size_t ngroups;
	unsigned roles;
};

static void loaded_done(struct loaded *l)
{
	free(l->owner_id);
	for (size_t i = 0; i < l->ngrants; i++)
		free(l->grant_values[i]);
	for (size_t i = 0; i < l->ngroups; i++)
		free(l->groups[i]);
	free(l->status);
	free(l->org_path);
}

static char *dup_text(const char *s)
{
	return strdup(s ? s : "");
}

static int load_policy(struct store_conn *c, const char *file_id, struct loaded *l,
		       struct protect_policy *pol)
{
	struct store_stmt *q;
	int r;

	r = store_query(c, "SELECT owner_id, coalesce(expires_at, 0), coalesce(revoked_at, 0) "
			   "FROM protected_files WHERE id = $1", STORE_ARGS(SA_TEXT(file_id)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1) {
		l->owner_id = dup_text(store_col_text(q, 0));
		pol->expires_at = store_col_i64(q, 1);
		pol->revoked_at = store_col_i64(q, 2);
		r = l->owner_id ? 0 : -ENOMEM;
	} else if (r == 0) {
		r = ERR_NOT_FOUND;
	}
	store_stmt_free(q);
	if (r < 0)
		return r;
	pol->owner_id = l->owner_id;
	r = store_query(c, "SELECT kind, value FROM protected_file_grants WHERE file_id = $1",
			STORE_ARGS(SA_TEXT(file_id)), &q);
	if (r < 0)
		return r;
	while ((r = store_step(q)) == 1 && l->ngrants < PROTECT_MAX_GRANTS) {
		const char *kind = store_col_text(q, 0);
		size_t i = l->ngrants;
		size_t k;

		for (k = 0; k < 4; k++)
			if (kind && strcmp(kind, grant_kind_names[k]) == 0)
				break;
		if (k == 4)
			continue;
		l->grant_values[i] = dup_text(store_col_text(q, 1));
		if (!l->grant_values[i]) {
			r = -ENOMEM;
			break;
		}
		l->grants[i].kind = (enum protect_grant_kind)k;
		l->grants[i].value = l->grant_values[i];
		l->ngrants++;
	}
	store_stmt_free(q);
	pol->grants = l->grants;
	pol->ngrants = l->ngrants;
	return r < 0 ? r : 0;
}

/* Keeps one group name of the subject (people_group_names' callback); the rest are ignored. */
static int keep_group(const char *name, void *ud)
{
	struct loaded *l = ud;

	if (l->ngroups >= PROTECT_MAX_GROUPS)
		return 0;
	l->groups[l->ngroups] = dup_text(name);
	if (!l->groups[l->ngroups])
		return -ENOMEM;
	l->ngroups++;
	return 0;
}

static int load_subject(struct store_conn *c, const char *person_id, struct loaded *l,
			struct protect_subject *s)
{
	struct person who;
	unsigned roles;
	int r;

	r = people_get(c, person_id, &who);
	if (r < 0)
		return r;
	l->status = dup_text(who.status);
	l->org_path = dup_text(who.org_path);
	if (!l->status || !l->org_path)
		return -ENOMEM;
	r = people_effective_roles(c, person_id, who.kind, &roles);
	if (r < 0)
		return r;
	l->roles |= roles;
	r = people_group_names(c, person_id, keep_group, l);
	if (r < 0)
		return r;
	s->person_id = person_id;
	s->status = l->status;
	s->org_path = l->org_path;
	s->roles = l->roles;
	s->groups = (const char *const *)l->groups;
	s->ngroups = l->ngroups;
	return 0;
}

int protect_check_open(struct store_conn *c, const char *file_id, const char *person_id,
		       int64_t now_ms, enum protect_decision *ret)
{
	struct loaded *l = calloc(1, sizeof(*l));
	struct protect_policy pol = { 0 };
	struct protect_subject s = { 0 };
	int r;

	if (!l)
		return -ENOMEM;
	r = load_policy(c, file_id, l, &pol);
	if (r == 0) {
		r = load_subject(c, person_id, l, &s);
		/* A person who no longer exists is treated like one who left. */
		if (r == ERR_NOT_FOUND) {
			s.person_id = person_id;
			s.status = "retired";
			s.org_path = "";
			r = 0;
		}
	}
	if (r == 0)
		*ret = protect_decide(&pol, &s, now_ms);
	loaded_done(l);
	free(l);
	return r;
}

int protect_rewrap(const struct protect_keys *k, const unsigned char hdr[RPF_HEADER_LEN],
		   const char *registered_hash_hex, const unsigned char client_pk[RPF_PK_BYTES],
		   unsigned char ret_box[RPF_WRAPPED_LEN])
{
	char hash[RCRYPTO_HASH_HEX_SIZE];
	unsigned char key[RPF_KEY_BYTES], plain[RPF_WRAP_PLAIN];
	struct rpf_header h;
	int r;

	rcrypto_sha256_hex(hdr, RPF_HEADER_LEN, hash);
	if (!registered_hash_hex || strlen(registered_hash_hex) != RCRYPTO_HASH_HEX_SIZE - 1 ||
	    !rcrypto_str_eq(hash, registered_hash_hex))
		return ERR_INVALID;
	r = rpf_header_parse(hdr, RPF_HEADER_LEN, &h, NULL);
	if (r < 0)
		return r;
	r = rpf_unwrap(&h, k->pk, k->sk, key);
	if (r < 0)
		return r;
	memcpy(plain, h.file_id, ULID_LEN);
	memcpy(plain + ULID_LEN, key, RPF_KEY_BYTES);
	if (crypto_box_seal(ret_box, plain, sizeof(plain), client_pk) != 0)
		r = RPF_E_CRYPTO;
	sodium_memzero(key, sizeof(key));
	sodium_memzero(plain, sizeof(plain));
	return r;
}
