/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* auditchain: the canonical bytes and hash of one audit entry (see auditchain.h). */
#include "formats/auditchain.h"

#include <errno.h>
#include <sodium.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/rtime.h"

/* Appends @s (NULL: null) to @a.  Returns 0, ERR_INVALID (not UTF-8) or -ENOMEM. */
static int chain_add_text(json_t *a, const char *s)
{
	json_t *v;

	if (!s)
		return json_array_append_new(a, json_null()) < 0 ? -ENOMEM : 0;
	/* json_string refuses invalid UTF-8; only that makes it fail besides memory. */
	v = json_string(s);
	if (!v)
		return ERR_INVALID;
	return json_array_append_new(a, v) < 0 ? -ENOMEM : 0;
}

int audit_chain_hash(const char *prev, const struct audit_chain_entry *e, char out[AUDIT_HASH_HEX])
{
	const char *texts[] = { e->actor_id, e->actor_login, e->source, e->action, e->object_type,
				e->object_id, e->outcome, e->details, e->request_id };
	unsigned char digest[crypto_hash_sha256_BYTES];
	json_t *a;
	char *text;
	int r = 0;

	if (!prev || !e->action || !e->outcome || !e->details)
		return ERR_INVALID;
	a = json_array();
	if (!a)
		return -ENOMEM;
	r = chain_add_text(a, prev);
	if (r == 0 && (json_array_append_new(a, json_integer(e->id)) < 0 ||
		       json_array_append_new(a, json_integer(e->ts)) < 0))
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < sizeof(texts) / sizeof(texts[0]); i++)
		r = chain_add_text(a, texts[i]);
	if (r < 0) {
		json_decref(a);
		return r;
	}
	text = json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(a);
	if (!text)
		return -ENOMEM;
	crypto_hash_sha256(digest, (const unsigned char *)text, strlen(text));
	free(text);
	sodium_bin2hex(out, AUDIT_HASH_HEX, digest, sizeof(digest));
	return 0;
}

int audit_chain_details(const json_t *details, char **ret)
{
	char *text;

	if (details && !json_is_object(details))
		return ERR_INVALID;
	text = details ? json_dumps(details, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_SORT_KEYS)
		       : strdup("{}");
	if (!text)
		return -ENOMEM;
	*ret = text;
	return 0;
}

bool audit_hash_is_valid(const char *s)
{
	size_t i;

	if (!s)
		return false;
	for (i = 0; s[i]; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return i == AUDIT_HASH_HEX - 1;
}

/* A text member of an API entry: a string or null.  Returns 0 or ERR_INVALID. */
static int api_text(const json_t *item, const char *key, bool required, const char **ret, struct rerr *err)
{
	const json_t *v = json_object_get(item, key);

	if (json_is_string(v)) {
		*ret = json_string_value(v);
		return 0;
	}
	if (json_is_null(v) && !required) {
		*ret = NULL;
		return 0;
	}
	return rerr_set(err, ERR_INVALID, key, "'%s' is %s", key,
			v ? "of the wrong type" : "missing");
}

int audit_chain_entry_from_api(const json_t *item, struct audit_chain_entry *e, char **ret_details,
			       struct rerr *err)
{
	static const struct {
		const char *key;
		bool required;
		size_t off;
	} texts[] = {
		{ "actor_id", false, offsetof(struct audit_chain_entry, actor_id) },
		{ "actor_login", false, offsetof(struct audit_chain_entry, actor_login) },
		{ "source", false, offsetof(struct audit_chain_entry, source) },
		{ "action", true, offsetof(struct audit_chain_entry, action) },
		{ "object_type", false, offsetof(struct audit_chain_entry, object_type) },
		{ "object_id", false, offsetof(struct audit_chain_entry, object_id) },
		{ "outcome", true, offsetof(struct audit_chain_entry, outcome) },
		{ "request_id", false, offsetof(struct audit_chain_entry, request_id) },
	};
	struct audit_chain_entry out = { 0 };
	const json_t *id = json_object_get(item, "id"), *tm = json_object_get(item, "time");
	int r;

	if (!json_is_object(item))
		return rerr_set(err, ERR_INVALID, NULL, "an entry is not an object");
	if (!json_is_integer(id) || json_integer_value(id) < 1)
		return rerr_set(err, ERR_INVALID, "id", "'id' is missing or not a positive integer");
	out.id = json_integer_value(id);
	/* The API shows ts 0 as null and any other as RFC 3339 with milliseconds. */
	if (json_is_null(tm)) {
		out.ts = 0;
	} else if (!json_is_string(tm) || rtime_parse_flags(json_string_value(tm), 0, &out.ts) < 0) {
		return rerr_set(err, ERR_INVALID, "time", "entry %lld: 'time' is not an RFC 3339 time",
				(long long)out.id);
	}
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		r = api_text(item, texts[i].key, texts[i].required,
			     (const char **)((char *)&out + texts[i].off), err);
		if (r < 0)
			return r;
	}
	if (!json_is_object(json_object_get(item, "details")))
		return rerr_set(err, ERR_INVALID, "details", "entry %lld: 'details' is not an object",
				(long long)out.id);
	r = audit_chain_details(json_object_get(item, "details"), ret_details);
	if (r < 0)
		return r;
	out.details = *ret_details;
	*e = out;
	return 0;
}
