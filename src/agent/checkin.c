/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * checkin: the posture report (posture.h), printed by `rampart-agent
 * posture [--json] [--root DIR]` and sent, signed, by `rampart-agent
 * checkin [--root DIR] [--json]` (and by each check-in of `run`, in a
 * child process: run.c).
 *
 * A check-in: refreshes the quarantine table while quarantined, collects
 * the report with the stored policy's version, replaces the full package
 * list by its changes against packages.json when there is one, POSTs it to
 * /api/v1/endpoint/checkin, and from the answer stores the acknowledged
 * package list, applies the signed policy (policy.c) and the signed
 * quarantine order (quarantine.c).
 *
 * Invariants: only a package list the server acknowledged (200) becomes
 * the base of the next delta; a refused policy or order is reported and
 * changes nothing, but an order that cannot be enforced fails the check-in
 * (exit 1), for the PC is not in the state the server believes.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/agent.h"
#include "agent/posture.h"
#include "common/err.h"

int agent_cmd_posture(const struct agent_opts *o)
{
	json_t *rep = NULL;
	int r;

	r = posture_collect(o->root, &rep);
	if (r < 0) {
		fprintf(stderr, "rampart-agent: cannot collect the posture: %s\n", err_str(r));
		return 1;
	}
	if (o->json) {
		r = agent_print_json(rep);
	} else {
		json_t *os = json_object_get(rep, "os"), *pk = json_object_get(rep, "packages");

		printf("os: %s\nkernel: %s\npackages: %zu\n",
		       json_string_value(json_object_get(os, "pretty_name")) ?: "unknown",
		       json_string_value(json_object_get(json_object_get(rep, "kernel"), "release")) ?: "unknown",
		       json_array_size(json_object_get(pk, "items")));
	}
	json_decref(rep);
	return r < 0 ? 1 : 0;
}

/* name -> [version, source] of a package list. */
static json_t *a_pkg_map(const json_t *items)
{
	json_t *m = json_object(), *it;
	size_t i;

	json_array_foreach(items, i, it) {
		const char *n = json_string_value(json_object_get(it, "name"));

		if (m && n)
			json_object_set_new(m, n, json_pack("[O, O]", json_object_get(it, "version"),
							    json_object_get(it, "source")));
	}
	return m;
}

/*
 * Replaces the report's full package list by the changes against the list
 * last acknowledged (@prev, a name map), when there is one.
 */
static int a_pkg_delta(json_t *rep, const json_t *prev)
{
	json_t *pk = json_object_get(rep, "packages"), *items = json_object_get(pk, "items");
	json_t *cur = a_pkg_map(items), *changed = json_array(), *removed = json_array(), *v, *it;
	const char *name;
	size_t i;

	if (!cur || !changed || !removed) {
		json_decref(cur);
		json_decref(changed);
		json_decref(removed);
		return -ENOMEM;
	}
	json_array_foreach(items, i, it) {
		name = json_string_value(json_object_get(it, "name"));
		if (!json_equal(json_object_get(prev, name), json_object_get(cur, name)))
			json_array_append(changed, it);
	}
	json_object_foreach((json_t *)prev, name, v)
		if (!json_object_get(cur, name))
			json_array_append_new(removed, json_string(name));
	json_decref(cur);
	json_object_set_new(rep, "packages", json_pack("{s:s, s:o, s:o}", "mode", "delta", "items", changed,
						       "removed", removed));
	return 0;
}

/*
 * Collects the report for policy @pol (may be NULL) and gives its request
 * body in *ret_body and the full package list in *ret_full (NULL when the
 * packages could not be read).  Returns 0, or an error (not reported: the
 * posture collects what it can, so this is out of memory).
 */
static int a_checkin_report(const struct agent_opts *o, const json_t *pol, char **ret_body, json_t **ret_full)
{
	json_t *rep = NULL, *prev = NULL, *full;
	char *body;
	int r;

	r = posture_collect(o->root, &rep);
	if (r < 0)
		return r;
	json_object_set_new(rep, "policy_version", json_integer(agent_policy_version(pol)));
	full = json_deep_copy(json_object_get(json_object_get(rep, "packages"), "items"));
	if (json_is_array(full) && agent_read_json(o->state_dir, "packages.json", &prev) == 0 && json_is_object(prev))
		r = a_pkg_delta(rep, prev);
	body = r == 0 ? json_dumps(rep, JSON_COMPACT) : NULL;
	json_decref(rep);
	json_decref(prev);
	if (!body) {
		json_decref(full);
		return -ENOMEM;
	}
	*ret_body = body;
	*ret_full = full;
	return 0;
}

/*
 * Acts on an accepted check-in's answer @ans: stores the acknowledged
 * package list @full (may be NULL), applies the policy and the quarantine
 * order.  Returns 0, or the error of what failed (reported).
 */
static int a_checkin_answer(const struct agent_opts *o, const char *server, const unsigned char *spk,
			    const char *did, const json_t *pol, const json_t *full, const json_t *ans)
{
	int r = 0;

	if (json_is_array(full)) {
		json_t *m = a_pkg_map(full);

		/* Only an acknowledged list becomes the base of the next delta. */
		r = m ? agent_write_json(o->state_dir, "packages.json", m) : -ENOMEM;
		json_decref(m);
		if (r < 0)
			fprintf(stderr, "rampart-agent: cannot save packages.json: %s\n", err_str(r));
	}
	/* A refused policy is reported by agent_policy_apply; the check-in itself succeeded. */
	if (json_is_object(json_object_get(ans, "policy")))
		agent_policy_apply(o->state_dir, spk, json_object_get(ans, "policy"), pol);
	/*
	 * A refused order is reported and changes nothing; one that cannot be
	 * enforced fails the check-in, for the PC is not in the state the
	 * server believes.
	 */
	if (json_object_get(ans, "quarantine")) {
		int qr = agent_quarantine_apply(o, server, spk, did, json_object_get(ans, "quarantine"));

		if (qr < 0 && qr != ERR_INVALID && qr != ERR_UNAUTHENTICATED)
			r = qr;
	}
	return r;
}

int agent_cmd_checkin(const struct agent_opts *o)
{
	json_t *state = NULL, *ans = NULL, *full = NULL, *pol = NULL;
	unsigned char spk[DEVSIG_PK_BYTES];
	unsigned char *sk = NULL;
	const char *did, *server;
	char *body = NULL;
	long status = 0;
	int r;

	r = agent_read_json(o->state_dir, "device.json", &state);
	if (r < 0) {
		fprintf(stderr, "rampart-agent: not enrolled (no device.json in %s)\n", o->state_dir);
		return 1;
	}
	did = json_string_value(json_object_get(state, "device_id"));
	server = o->server ? o->server : json_string_value(json_object_get(state, "server"));
	sk = sodium_malloc(DEVSIG_SK_BYTES);
	r = sk && did && server ? agent_device_key_load(o->state_dir, sk) : ERR_INVALID;
	if (r < 0) {
		fprintf(stderr, "rampart-agent: cannot load the device key in %s: %s\n", o->state_dir, err_str(r));
		goto out;
	}
	r = agent_pinned_key(state, spk);
	if (r < 0) {
		fprintf(stderr, "rampart-agent: device.json in %s lacks the pinned server key\n", o->state_dir);
		goto out;
	}
	/* A missing or refused stored policy leaves version 0 until the server sends a good one. */
	if (agent_policy_load(o->state_dir, spk, &pol) < 0)
		pol = NULL;
	/* While quarantined the table is refreshed first: the server's addresses may have changed. */
	agent_quarantine_restore(o, state, spk);
	r = a_checkin_report(o, pol, &body, &full);
	if (r < 0)
		goto out;
	r = agent_post(o, server, "/api/v1/endpoint/checkin", body, did, sk, &status, &ans);
	if (r < 0)
		goto out;
	if (status != 200) {
		agent_print_error(status, ans);
		r = -EACCES;
		goto out;
	}
	r = a_checkin_answer(o, server, spk, did, pol, full, ans);
	if (o->json)
		agent_print_json(ans);
	else
		printf("checked in: %s\n", json_string_value(json_object_get(ans, "state")) ?: "unknown");
out:
	json_decref(pol);
	sodium_free(sk);
	free(body);
	json_decref(state);
	json_decref(ans);
	json_decref(full);
	return r < 0 ? 1 : 0;
}
