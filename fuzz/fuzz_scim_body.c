/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_scim_body: libFuzzer target for SCIM request bodies, read by the
 * same functions the handlers use before they reach the store
 * (scim_user_body_check, scim_group_body_check in scim_internal.h).  The
 * first byte picks the request: 0 POST User, 1 PUT User, 2 PATCH User
 * (PatchOp), 3 POST/PUT Group; the rest is the JSON body.  Invariants
 * checked: no crash or leak, and a refusal always carries an error code and
 * a NUL-terminated message.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "identity/scim_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scim_err e;
	json_error_t je;
	json_t *body;
	int which, r;

	if (size < 1)
		return 0;
	which = data[0] % 4;
	body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &je);
	if (!body)
		return 0;
	memset(&e, 0, sizeof(e));
	if (which == 3)
		r = scim_group_body_check(body, &e);
	else
		r = scim_user_body_check(body, which == 0 ? SCIM_BODY_POST : which == 1 ? SCIM_BODY_PUT
					 : SCIM_BODY_PATCH, &e);
	if (r < 0 && (e.err != r || !e.r.message[0] || !memchr(e.r.message, '\0', sizeof(e.r.message))))
		abort();
	if (r > 0)
		abort();
	json_decref(body);
	return 0;
}
