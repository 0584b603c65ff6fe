/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * policy: the agent's side of the signed endpoint policy (the format is
 * formats/policy.h), kept in STATE_DIR/policy.json as {document, signature}.
 *
 * Invariants: a policy is applied only when its signature checks against
 * the server key pinned at enrollment and it is not older than the one
 * applied (a lower version for the same unit); anything else is reported
 * on stderr and ignored, keeping the last good one.  The stored policy is
 * verified again whenever it is loaded, so a file changed on disk is never
 * obeyed.  Its version is reported in each check-in (checkin.c), and `run`
 * checks in at its checkin_interval unless --interval is given and turns
 * its removable_media into USBGuard rules (run.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "common/err.h"
#include "formats/policy.h"

static int a_policy_verify(const json_t *signed_doc, const void *pk, json_t **ret, struct rerr *e)
{
	return policy_verify(signed_doc, pk, ret, e);
}

int agent_policy_load(const char *state_dir, const unsigned char *pk, json_t **ret)
{
	return agent_signed_load(state_dir, "policy.json", "policy", a_policy_verify, pk, ret);
}

int64_t agent_policy_version(const json_t *doc)
{
	return doc ? (int64_t)json_integer_value(json_object_get(doc, "version")) : 0;
}

int agent_policy_apply(const char *state_dir, const unsigned char *pk, const json_t *signed_doc, const json_t *cur)
{
	struct rerr e = { "" };
	json_t *doc = NULL;
	const char *unit, *cur_unit = json_string_value(json_object_get(cur, "org_unit"));
	int r;

	r = policy_verify(signed_doc, pk, &doc, &e);
	if (r < 0) {
		fprintf(stderr, "rampart-agent: the server's policy is refused, keeping version %lld: %s\n",
			(long long)agent_policy_version(cur), rerr_text(&e, r));
		return r;
	}
	unit = json_string_value(json_object_get(doc, "org_unit"));
	if (cur && cur_unit && unit && strcmp(unit, cur_unit) == 0 &&
	    agent_policy_version(doc) < agent_policy_version(cur)) {
		fprintf(stderr, "rampart-agent: the server's policy version %lld is older than version %lld: refused\n",
			(long long)agent_policy_version(doc), (long long)agent_policy_version(cur));
		json_decref(doc);
		return ERR_INVALID;
	}
	r = 0;
	if (!cur || !json_equal(doc, cur)) {
		r = agent_write_json(state_dir, "policy.json", signed_doc);
		if (r < 0)
			fprintf(stderr, "rampart-agent: cannot save policy.json: %s\n", err_str(r));
		else
			fprintf(stderr, "rampart-agent: applied policy version %lld\n",
				(long long)agent_policy_version(doc));
	}
	json_decref(doc);
	return r;
}
