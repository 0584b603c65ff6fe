/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * ep_baseline: a posture report evaluated against the baseline
 * (endpoint_evaluate, endpoint_evaluate_policy in endpoint.h).  Pure: no
 * store, no HTTP, so that the rules are tested on their own.
 *
 * Invariant: every requirement the baseline asks for yields exactly one
 * {"id","pass","reason"} result, in a fixed order (disk encryption,
 * firewall, antivirus signatures, agent version), and the device is
 * compliant only when every one of them passes.
 */
#include "endpoint/endpoint.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int ep_result(json_t *results, bool *all, const char *id, bool pass, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int ep_result(json_t *results, bool *all, const char *id, bool pass, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (!pass)
		*all = false;
	return json_array_append_new(results, json_pack("{s:s, s:b, s:s}", "id", id, "pass", pass,
							"reason", reason)) == 0 ? 0 : -ENOMEM;
}

int endpoint_evaluate(const json_t *report, json_t **ret_results, bool *ret_compliant)
{
	return endpoint_evaluate_policy(report, NULL, ret_results, ret_compliant);
}

int endpoint_evaluate_policy(const json_t *report, const json_t *baseline, json_t **ret_results,
			     bool *ret_compliant)
{
	const json_t *disk_req = json_object_get(baseline, "disk_encryption_root");
	const json_t *fw_req = json_object_get(baseline, "firewall");
	const json_t *days_req = json_object_get(baseline, "antivirus_max_age_days");
	bool want_disk = !json_is_false(disk_req), want_fw = !json_is_false(fw_req);
	json_int_t max_age = json_is_integer(days_req) ? json_integer_value(days_req) * 86400 : ENDPOINT_AV_MAX_AGE_S;
	const json_t *disks, *d, *fw, *av, *age, *ver;
	json_t *results = json_array();
	bool all = true, root_seen = false, root_enc = false, present, active;
	size_t i;
	int r = 0;

	if (!results)
		return -ENOMEM;
	disks = json_object_get(report, "disk_encryption");
	json_array_foreach(disks, i, d) {
		const char *mount = json_string_value(json_object_get(d, "mount"));

		if (mount && strcmp(mount, "/") == 0) {
			root_seen = true;
			root_enc = json_is_true(json_object_get(d, "encrypted"));
		}
	}
	if (!want_disk)
		r = 0;   /* not required by the device's policy */
	else if (!root_seen)
		r = ep_result(results, &all, "disk_encryption_root", false, "no report on the root file system");
	else
		r = ep_result(results, &all, "disk_encryption_root", root_enc,
			      root_enc ? "the root file system is on dm-crypt/LUKS"
				       : "the root file system is not encrypted");

	fw = json_object_get(report, "firewall");
	active = json_is_true(json_object_get(fw, "nftables_active"));
	if (r == 0 && want_fw)
		r = ep_result(results, &all, "firewall_active", active,
			      active ? "an nftables ruleset is loaded" : "no nftables ruleset is loaded");

	av = json_object_get(report, "antivirus");
	present = json_is_true(json_object_get(av, "present"));
	age = json_object_get(av, "signature_age_s");
	if (r == 0 && !present)
		r = ep_result(results, &all, "antivirus_signatures", false, "no antivirus signature database found");
	else if (r == 0 && !json_is_integer(age))
		r = ep_result(results, &all, "antivirus_signatures", false, "antivirus signature age unknown");
	else if (r == 0) {
		json_int_t s = json_integer_value(age);
		bool ok = s <= max_age;

		r = ep_result(results, &all, "antivirus_signatures", ok,
			      "antivirus signatures are %lld days old (limit %lld)", (long long)(s / 86400),
			      (long long)(max_age / 86400));
	}

	ver = json_object_get(report, "agent_version");
	if (r == 0)
		r = ep_result(results, &all, "agent_version",
			      json_is_string(ver) && json_string_length(ver) > 0,
			      json_is_string(ver) && json_string_length(ver) > 0
				      ? "the agent reports its version" : "the agent version is missing");
	if (r < 0) {
		json_decref(results);
		return r;
	}
	*ret_results = results;
	*ret_compliant = all;
	return 0;
}
