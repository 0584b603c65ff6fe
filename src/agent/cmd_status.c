/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cmd_status: `rampart-agent status [--json]`: the enrollment, the version
 * of the stored good policy, the stored quarantine order and whether the
 * nftables quarantine table is there.
 *
 * It reads only: the state directory, verified as every command verifies
 * it (policy.c, quarantine.c), and the nftables ruleset (firewall.h); it
 * never reaches the server.  When the table cannot be looked at (no
 * CAP_NET_ADMIN), the table is "unknown" and the reason is shown.
 */
#include <errno.h>
#include <stdio.h>

#include "agent/agent.h"
#include "agent/firewall.h"
#include "common/err.h"
#include "common/rtime.h"

/* Prints the status of the text form. */
static void a_status_print(const json_t *state, const char *did, const json_t *pol, const json_t *q,
			   const char *table, int table_r, const struct rerr *e)
{
	char when[64];

	printf("device: %s\nserver: %s\npolicy version: %lld\n", did,
	       json_string_value(json_object_get(state, "server")) ?: "unknown",
	       (long long)agent_policy_version(pol));
	if (agent_quarantined(q))
		printf("quarantined: yes, ordered %s, reason: %s\n",
		       rtime_format(when, sizeof(when), agent_issued_at(q)),
		       json_string_value(json_object_get(q, "reason")));
	else
		printf("quarantined: no\n");
	printf("quarantine table: %s%s%s\n", table, table_r < 0 ? " — " : "", table_r < 0 ? e->message : "");
}

int agent_cmd_status(const struct agent_opts *o)
{
	unsigned char spk[DEVSIG_PK_BYTES];
	json_t *state = NULL, *pol = NULL, *q = NULL, *out;
	const char *did, *table = "unknown";
	struct rerr e = { "" };
	bool present = false;
	int r;

	if (agent_read_json(o->state_dir, "device.json", &state) < 0 ||
	    !(did = json_string_value(json_object_get(state, "device_id"))) || agent_pinned_key(state, spk) < 0) {
		fprintf(stderr, "rampart-agent: not enrolled (no valid device.json in %s)\n", o->state_dir);
		json_decref(state);
		return 1;
	}
	if (agent_policy_load(o->state_dir, spk, &pol) < 0)
		pol = NULL;
	if (agent_quarantine_load(o->state_dir, spk, did, &q) < 0)
		q = NULL;
	r = firewall_present(&present, &e);
	if (r == 0)
		table = present ? "installed" : "absent";
	out = json_pack("{s:s, s:O?, s:O?, s:I, s:{s:b, s:s?}, s:s}", "device_id", did, "server",
			json_object_get(state, "server"), "org_unit", json_object_get(state, "org_unit"),
			"policy_version", (json_int_t)agent_policy_version(pol), "quarantine", "quarantined",
			agent_quarantined(q), "reason", q ? json_string_value(json_object_get(q, "reason")) : NULL,
			"quarantine_table", table);
	if (out && q)
		json_object_set_new(json_object_get(out, "quarantine"), "issued_at", json_integer(agent_issued_at(q)));
	if (out && r < 0)
		json_object_set_new(out, "quarantine_table_error", json_string(e.message));
	if (!out) {
		r = -ENOMEM;
	} else if (o->json) {
		r = agent_print_json(out);
	} else {
		a_status_print(state, did, pol, q, table, r, &e);
		r = 0;
	}
	json_decref(out);
	json_decref(q);
	json_decref(pol);
	json_decref(state);
	return r < 0 ? 1 : 0;
}
