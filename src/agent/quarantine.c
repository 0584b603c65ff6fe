/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * quarantine: the agent's side of the signed quarantine order (the format
 * is formats/qorder.h), kept in STATE_DIR/quarantine.json as {document,
 * signature}, and the nftables quarantine table that enforces it
 * (firewall.h).
 *
 * Every check-in answer carries an order.  It is applied only when it
 * verifies against the pinned key, names this device and is not older than
 * the order applied last; then quarantined=true installs the table inet
 * rampart_quarantine (the PC reaches only the server and its DNS resolvers)
 * and false removes it.  Refused orders are reported on stderr and change
 * nothing.  `run` re-installs the table from quarantine.json when it
 * starts, and every check-in refreshes it while quarantined (the server's
 * addresses may have changed).  --no-enforce records and reports orders
 * without touching nftables, for PCs whose network equipment enforces the
 * quarantine (rampartd's published list) and for tests.
 *
 * Invariants: a quarantine is stored before the table is installed (so
 * that a restart re-installs it), a release only after the table is gone
 * (so that a failed removal is retried); a stored order that is refused
 * while the table is there keeps the PC quarantined (fail closed).
 */
#include <errno.h>
#include <stdio.h>

#include "agent/agent.h"
#include "agent/firewall.h"
#include "common/err.h"
#include "formats/policy.h"
#include "formats/qorder.h"

bool agent_quarantined(const json_t *doc)
{
	return json_is_true(json_object_get(doc, "quarantined"));
}

int64_t agent_issued_at(const json_t *doc)
{
	return (int64_t)json_integer_value(json_object_get(doc, "issued_at"));
}

/* What a stored order is verified against. */
struct a_order_key {
	const unsigned char *pk;
	const char *did;
};

static int a_order_verify(const json_t *signed_doc, const void *ud, json_t **ret, struct rerr *e)
{
	const struct a_order_key *k = ud;

	return qorder_verify(signed_doc, k->pk, k->did, ret, e);
}

int agent_quarantine_load(const char *state_dir, const unsigned char *pk, const char *did, json_t **ret)
{
	const struct a_order_key k = { pk, did };

	return agent_signed_load(state_dir, "quarantine.json", "quarantine order", a_order_verify, &k, ret);
}

/* Installs the quarantine table for @server (quarantined @doc) or removes it.  Reports failures. */
static int a_quarantine_enforce(const struct agent_opts *o, const char *server, const json_t *doc)
{
	struct firewall_spec spec;
	struct rerr e = { "" };
	int r;

	if (o->no_enforce)
		return 0;
	if (!agent_quarantined(doc)) {
		r = firewall_remove(&e);
		if (r < 0)
			fprintf(stderr, "rampart-agent: cannot remove the quarantine table: %s\n", e.message);
		return r;
	}
	/* A server that does not resolve now still leaves DNS open; the next check-in tries again. */
	r = firewall_spec_for(server, o->root, &spec, &e);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		fprintf(stderr, "rampart-agent: %s; the quarantine allows only DNS for now\n", e.message);
	r = firewall_install(&spec, &e);
	if (r < 0)
		fprintf(stderr, "rampart-agent: cannot install the quarantine table: %s%s\n", e.message,
			r == -EPERM ? " (the agent needs root or CAP_NET_ADMIN)" : "");
	return r;
}

/* Applies a verified order @doc that quarantines, over the stored @cur (may be NULL). */
static int a_quarantine_on(const struct agent_opts *o, const char *server, const json_t *doc, const json_t *cur,
			   const json_t *signed_order)
{
	int r, w = 0;

	/* The table goes in even when the order cannot be saved: enforcing comes first. */
	if (!cur || !json_equal(doc, cur))
		w = agent_write_json(o->state_dir, "quarantine.json", signed_order);
	if (w < 0)
		fprintf(stderr, "rampart-agent: cannot save quarantine.json: %s\n", err_str(w));
	r = a_quarantine_enforce(o, server, doc);
	if (r == 0)
		r = w;
	if (r == 0 && (!cur || !agent_quarantined(cur)))
		fprintf(stderr, "rampart-agent: this PC is quarantined: %s\n",
			json_string_value(json_object_get(doc, "reason")));
	return r;
}

/* Applies a verified order @doc that releases, over the stored @cur (may be NULL). */
static int a_quarantine_off(const struct agent_opts *o, const char *server, const json_t *doc, const json_t *cur,
			    const json_t *signed_order)
{
	bool present = false;
	int r = 0;

	/*
	 * Without a trusted stored order the table may still be there from
	 * before.  It is looked for quietly, so that an agent without
	 * CAP_NET_ADMIN that was never quarantined is not disturbed.
	 */
	if (cur)
		present = agent_quarantined(cur);
	else if (o->no_enforce || firewall_present(&present, NULL) < 0)
		present = false;
	if (present)
		r = a_quarantine_enforce(o, server, doc);
	if (r == 0 && (!cur || !json_equal(doc, cur)))
		r = agent_write_json(o->state_dir, "quarantine.json", signed_order);
	if (r == 0 && cur && agent_quarantined(cur))
		fprintf(stderr, "rampart-agent: the quarantine is lifted\n");
	return r;
}

/*
 * Verifies the order against @pk for @did, refuses one issued before the
 * stored one, then installs or removes the table and stores the order.
 */
int agent_quarantine_apply(const struct agent_opts *o, const char *server, const unsigned char *pk,
			   const char *did, const json_t *signed_order)
{
	struct rerr e = { "" };
	json_t *doc = NULL, *cur = NULL;
	int r;

	r = qorder_verify(signed_order, pk, did, &doc, &e);
	if (r < 0) {
		fprintf(stderr, "rampart-agent: the server's quarantine order is refused: %s\n", rerr_text(&e, r));
		return r;
	}
	if (agent_quarantine_load(o->state_dir, pk, did, &cur) < 0)
		cur = NULL;
	if (cur && agent_issued_at(doc) < agent_issued_at(cur)) {
		fprintf(stderr, "rampart-agent: the server's quarantine order of %lld is older than the one applied "
				"(%lld): refused\n", (long long)agent_issued_at(doc), (long long)agent_issued_at(cur));
		r = ERR_INVALID;
		goto out;
	}
	if (agent_quarantined(doc))
		r = a_quarantine_on(o, server, doc, cur, signed_order);
	else
		r = a_quarantine_off(o, server, doc, cur, signed_order);
	if (r < 0 && r != -EPERM && r != -EIO)
		fprintf(stderr, "rampart-agent: cannot apply the quarantine order: %s\n", err_str(r));
out:
	json_decref(doc);
	json_decref(cur);
	return r;
}

/*
 * At the start of `run` and before each check-in.  A stored order that is
 * refused while the table is there keeps the PC quarantined, with the
 * table refreshed so that the server stays reachable to send a good order.
 */
int agent_quarantine_restore(const struct agent_opts *o, const json_t *state, const unsigned char *pk)
{
	const char *did = json_string_value(json_object_get(state, "device_id"));
	const char *server = o->server ? o->server : json_string_value(json_object_get(state, "server"));
	json_t *doc = NULL;
	bool present = false;
	int r;

	if (!did || !server)
		return 0;
	r = agent_quarantine_load(o->state_dir, pk, did, &doc);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		if (o->no_enforce || firewall_present(&present, NULL) < 0 || !present)
			return 0;
		doc = json_pack("{s:b}", "quarantined", 1);
		if (!doc)
			return -ENOMEM;
	}
	r = agent_quarantined(doc) ? a_quarantine_enforce(o, server, doc) : 0;
	json_decref(doc);
	return r;
}
