/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * qorder: signing and verifying quarantine orders (see qorder.h).
 * Invariant: qorder_verify returns a document only after the signature over
 * its exact bytes has checked and every field has the documented type.
 */
#include "formats/qorder.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/jsonx.h"
#include "common/str.h"

static bool qo_printable(const char *s, size_t n, size_t max)
{
	size_t i;

	if (n > max || strlen(s) != n || !str_is_clean_utf8(s, n))
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

bool qorder_reason_ok(const char *s)
{
	return s && qo_printable(s, strlen(s), QORDER_MAX_REASON);
}

/* Length of the UTF-8 sequence starting at @s (at most @left bytes), or 0 when it is invalid. */
static size_t qo_utf8_len(const unsigned char *s, size_t left)
{
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
	if (n == 0 || n > left)
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return str_is_clean_utf8((const char *)s, n) ? n : 0;
}

void qorder_reason_clean(char dst[QORDER_MAX_REASON + 1], const char *src)
{
	const unsigned char *s = (const unsigned char *)(src ? src : "");
	size_t len = strlen((const char *)s), o = 0, n;

	while (*s) {
		n = qo_utf8_len(s, len);
		if (n == 0) {
			if (o + 1 > QORDER_MAX_REASON)
				break;
			dst[o++] = '?';
			s++;
			len--;
			continue;
		}
		if (o + n > QORDER_MAX_REASON)
			break;
		if (n == 1)
			dst[o++] = (*s < 0x20 || *s == 0x7f) ? ' ' : (char)*s;
		else
			memcpy(dst + o, s, n), o += n;
		s += n;
		len -= n;
	}
	dst[o] = '\0';
}

static bool qo_device_ok(const char *id)
{
	return id && *id && qo_printable(id, strlen(id), QORDER_MAX_DEVICE_ID);
}

int qorder_sign(const char *device_id, bool quarantined, const char *reason, int64_t issued_at_ms,
		const unsigned char *sk, json_t **ret)
{
	json_t *doc;
	int r;

	if (!qo_device_ok(device_id) || !qorder_reason_ok(reason) || issued_at_ms < 0 || !sk)
		return ERR_INVALID;
	doc = json_pack("{s:s, s:b, s:s, s:I}", "device_id", device_id, "quarantined", quarantined, "reason",
			reason, "issued_at", (json_int_t)issued_at_ms);
	if (!doc)
		return -ENOMEM;
	r = policy_sign_json(doc, sk, ret);
	json_decref(doc);
	return r;
}

int qorder_verify(const json_t *signed_doc, const unsigned char *pk, const char *device_id,
		  json_t **ret_doc, struct rerr *e)
{
	static const char *const keys[] = { "device_id", "quarantined", "reason", "issued_at", NULL };
	struct rerr je = { "", "" };
	const json_t *reason;
	const char *id;
	json_t *doc = NULL;
	int64_t at;
	bool q;
	int r;

	r = policy_open_signed(signed_doc, pk, "quarantine order", QORDER_MAX_BYTES, 2, &doc, e);
	if (r < 0)
		return r;
	reason = json_object_get(doc, "reason");
	if (jsonx_only_keys(doc, keys, &je) < 0 ||
	    jsonx_get_str(doc, "device_id", true, QORDER_MAX_DEVICE_ID, &id, &je) < 0 ||
	    jsonx_get_bool(doc, "quarantined", true, &q, &je) < 0 ||
	    jsonx_get_int(doc, "issued_at", true, 0, INT64_MAX / 2, &at, &je) < 0) {
		r = rerr_set(e, ERR_INVALID, NULL, "quarantine order: %s", je.message);
		goto fail;
	}
	if (!json_is_string(reason) ||
	    !qo_printable(json_string_value(reason), json_string_length(reason), QORDER_MAX_REASON)) {
		r = rerr_set(e, ERR_INVALID, NULL, "quarantine order: reason must be printable text of at most %d bytes",
			    QORDER_MAX_REASON);
		goto fail;
	}
	if (!device_id || strcmp(id, device_id) != 0) {
		r = rerr_set(e, ERR_INVALID, NULL, "the quarantine order names another device");
		goto fail;
	}
	*ret_doc = doc;
	return 0;
fail:
	json_decref(doc);
	return r;
}
