/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for the quarantine state machine's decision
 * (quarantine_decide in src/endpoint/quarantine.c): the grace clock starts
 * at the first non-compliant check-in, stops at a compliant one, and
 * quarantines once the grace period has passed; a grace quarantine ends
 * with a compliant check-in, an administrator's or an infected one never.
 * Then the decision with its store, on a fresh SQLite database and without
 * HTTP: each change is audited as the audit context its caller passed (an
 * administrator's request, a device's check-in, the system's sweep), and
 * the quarantine lists show each caller the devices of their scope.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "common/err.h"
#include "endpoint/eve.h"
#include "endpoint/quarantine.h"
#include "identity/people.h"
#include "store/store.h"

#define H ((int64_t)3600 * 1000)
#define NOW ((int64_t)1795688102000LL)

static void test_clock(void **state)
{
	int64_t since = -1;

	(void)state;
	/* Compliant: nothing runs. */
	assert_int_equal(quarantine_decide("compliant", "", 0, true, 24 * H, NOW, &since), QUARANTINE_EVALUATED);
	assert_int_equal(since, 0);
	/* The first non-compliant check-in starts the clock now. */
	assert_int_equal(quarantine_decide("compliant", "", 0, false, 24 * H, NOW, &since), QUARANTINE_EVALUATED);
	assert_int_equal(since, NOW);
	/* Still within the grace period: the clock keeps its start. */
	assert_int_equal(quarantine_decide("non_compliant", NULL, NOW - 23 * H, false, 24 * H, NOW, &since),
			 QUARANTINE_EVALUATED);
	assert_int_equal(since, NOW - 23 * H);
	/* Exactly at the end, and past it: quarantined. */
	assert_int_equal(quarantine_decide("non_compliant", NULL, NOW - 24 * H, false, 24 * H, NOW, &since),
			 QUARANTINE_START);
	assert_int_equal(since, NOW - 24 * H);
	assert_int_equal(quarantine_decide("non_compliant", "", NOW - 25 * H, false, 24 * H, NOW, &since),
			 QUARANTINE_START);
	/* After missed check-ins (unknown) the clock still counts. */
	assert_int_equal(quarantine_decide("unknown", "", NOW - 2 * H, false, H, NOW, &since), QUARANTINE_START);
	/* A compliant check-in in time stops it. */
	assert_int_equal(quarantine_decide("non_compliant", "", NOW - 23 * H, true, 24 * H, NOW, &since),
			 QUARANTINE_EVALUATED);
	assert_int_equal(since, 0);
	/* Grace 0s: the first non-compliant check-in quarantines. */
	assert_int_equal(quarantine_decide("compliant", "", 0, false, 0, NOW, &since), QUARANTINE_START);
	assert_int_equal(since, NOW);
	/* A clock started in the future (by a server whose time runs ahead) counts from now. */
	assert_int_equal(quarantine_decide("non_compliant", "", NOW + H, false, 0, NOW, &since), QUARANTINE_START);
	assert_int_equal(since, NOW);
	assert_int_equal(quarantine_decide("non_compliant", "", NOW + H, false, H, NOW, &since), QUARANTINE_EVALUATED);
	assert_int_equal(since, NOW);
}

static void test_release(void **state)
{
	int64_t since = -1;

	(void)state;
	/* Grace: the next compliant check-in releases; a non-compliant one keeps it. */
	assert_int_equal(quarantine_decide("quarantined", "grace", NOW - 30 * H, true, 24 * H, NOW, &since),
			 QUARANTINE_RELEASE);
	assert_int_equal(since, 0);
	assert_int_equal(quarantine_decide("quarantined", "grace", NOW - 30 * H, false, 24 * H, NOW, &since),
			 QUARANTINE_STAY);
	assert_int_equal(since, NOW - 30 * H);
	/* Administrator's and infected: compliance does not matter. */
	assert_int_equal(quarantine_decide("quarantined", "admin", 0, true, 24 * H, NOW, &since), QUARANTINE_STAY);
	assert_int_equal(since, 0);
	assert_int_equal(quarantine_decide("quarantined", "infected", 0, true, 0, NOW, &since), QUARANTINE_STAY);
	assert_int_equal(quarantine_decide("quarantined", "infected", 0, false, 0, NOW, &since), QUARANTINE_STAY);
	assert_int_equal(since, NOW);
	assert_int_equal(quarantine_decide("quarantined", NULL, 0, true, 0, NOW, &since), QUARANTINE_STAY);
}

/* ---------------------------------------------------------------- with a store */

#define DEV1 "01JDEV0000000000000000000A"
#define DEV2 "01JDEV0000000000000000000B"

static char dir[] = "/tmp/rampart-quarantine-XXXXXX";

static const struct principal admin = { .via = VIA_API_TOKEN, .person_id = "01JADM0000000000000000000A",
					.login = "admin", .roles = ROLE_ADMIN };
static const struct audit_ctx by_admin = { .principal = &admin, .source = "192.0.2.10", .request_id = "req-1" };
/* A device's check-in: its principal is anonymous, its source its address. */
static const struct audit_ctx by_device = { .principal = NULL, .source = "198.51.100.7", .request_id = "req-2" };

/* Adds device @id named @host in state @state to the unit at @path (created if missing). */
static void add_device(struct store_conn *c, const char *id, const char *host, const char *state, const char *path)
{
	char unit[ULID_SIZE];

	assert_int_equal(people_org_ensure(c, path, NULL, NOW, unit, NULL), 0);
	assert_int_equal(store_exec(c, "INSERT INTO devices (id, hostname, machine_id, org_unit_id, public_key, state, "
				       "created_at) VALUES ($1, $2, $2, $3, x'00', $4, 0)",
				    STORE_ARGS(SA_TEXT(id), SA_TEXT(host), SA_TEXT(unit), SA_TEXT(state))), 1);
}

static struct store *fresh(void)
{
	static int n;
	struct store *s = NULL;
	struct store_conn *c;
	char path[128];

	snprintf(path, sizeof(path), "%s/q%d.db", dir, n++);
	assert_int_equal(store_open(path, &s), 0);
	c = store_conn(s);
	add_device(c, DEV1, "pc1", "compliant", "G");
	add_device(c, DEV2, "pc2", "non_compliant", "G");
	return s;
}

/* The latest audit entry: "action actor source request_id", actor and request id "-" when none. */
static void last_audit(struct store_conn *c, char *out, size_t size)
{
	struct store_stmt *q = NULL;

	assert_int_equal(store_query(c, "SELECT action, coalesce(actor_login, '-'), source, coalesce(request_id, '-') "
				     "FROM audit_log ORDER BY id DESC LIMIT 1", STORE_NOARGS, &q), 0);
	assert_int_equal(store_step(q), 1);
	snprintf(out, size, "%s %s %s %s", store_col_text(q, 0), store_col_text(q, 1), store_col_text(q, 2),
		 store_col_text(q, 3));
	store_stmt_free(q);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[64];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* An administrator quarantines and releases; the entries name them, a weaker kind changes nothing. */
static void test_admin_set_release(void **state)
{
	struct store *s = fresh();
	struct store_conn *c = store_conn(s);
	struct quarantine_device d;
	struct rerr e = { "", "" };
	bool changed = false;
	char entry[256];

	(void)state;
	assert_int_equal(quarantine_set(c, &by_admin, DEV1, "admin", "lost laptop", NULL, NOW, &changed), 0);
	assert_true(changed);
	assert_int_equal(quarantine_device_load(c, DEV1, &d), 0);
	assert_string_equal(d.state, "quarantined");
	assert_string_equal(d.kind, "admin");
	assert_string_equal(d.reason, "lost laptop");
	last_audit(c, entry, sizeof(entry));
	assert_string_equal(entry, "endpoint.device.quarantine admin 192.0.2.10 req-1");
	/* grace < admin: nothing changes, nothing is audited. */
	assert_int_equal(quarantine_set(c, &by_admin, DEV1, "grace", "late", NULL, NOW, &changed), 0);
	assert_false(changed);
	assert_int_equal(quarantine_release(c, &by_admin, DEV1, "found", NOW, &e), 0);
	assert_int_equal(quarantine_device_load(c, DEV1, &d), 0);
	assert_string_equal(d.state, "unknown");   /* no report yet */
	assert_string_equal(d.kind, "");
	last_audit(c, entry, sizeof(entry));
	assert_string_equal(entry, "endpoint.device.release admin 192.0.2.10 req-1");
	assert_int_equal(quarantine_release(c, &by_admin, DEV1, "", NOW, &e), ERR_CONFLICT);
	assert_string_equal(e.message, "the device is not quarantined");
	assert_int_equal(quarantine_device_load(c, "01JNONE000000000000000000A", &d), ERR_NOT_FOUND);
	store_close(s);
}

/* A check-in past its grace quarantines as the device: no actor, the device's address. */
static void test_checkin_as_device(void **state)
{
	struct store *s = fresh();
	struct store_conn *c = store_conn(s);
	json_t *results = json_pack("[{s:s, s:b}]", "id", "firewall_active", "pass", 0);
	struct quarantine_state qs;
	char entry[256];

	(void)state;
	assert_int_equal(quarantine_checkin(c, &by_device, DEV2, false, results, 0, NOW, &qs), 0);
	assert_true(qs.quarantined);
	assert_string_equal(qs.kind, "grace");
	assert_non_null(strstr(qs.reason, "firewall_active"));
	last_audit(c, entry, sizeof(entry));
	assert_string_equal(entry, "endpoint.device.quarantine - 198.51.100.7 req-2");
	/* A compliant check-in ends a grace quarantine by itself. */
	assert_int_equal(quarantine_checkin(c, &by_device, DEV2, true, results, 0, NOW + 1000, &qs), 0);
	assert_false(qs.quarantined);
	assert_string_equal(qs.state, "compliant");
	last_audit(c, entry, sizeof(entry));
	assert_string_equal(entry, "endpoint.device.release - 198.51.100.7 req-2");
	json_decref(results);
	store_close(s);
}

/* The sweep quarantines a device whose grace ran out offline, as the system. */
static void test_sweep_as_system(void **state)
{
	struct store *s = fresh();
	struct store_conn *c = store_conn(s);
	struct quarantine_device d;
	char entry[256];

	(void)state;
	assert_int_equal(store_exec(c, "UPDATE devices SET non_compliant_since = $2 WHERE id = $1",
				    STORE_ARGS(SA_TEXT(DEV2), SA_I64(NOW - 25 * H))), 1);
	assert_int_equal(quarantine_sweep(c, &AUDIT_CTX_SYSTEM, NOW), 1);
	assert_int_equal(quarantine_device_load(c, DEV2, &d), 0);
	assert_string_equal(d.state, "quarantined");
	assert_string_equal(d.kind, "grace");
	last_audit(c, entry, sizeof(entry));
	assert_string_equal(entry, "endpoint.device.quarantine - system -");
	/* Nothing left to do. */
	assert_int_equal(quarantine_sweep(c, &AUDIT_CTX_SYSTEM, NOW), 0);
	store_close(s);
}

/* An intrusion alert naming a device's address quarantines it as infected, as the poster. */
static void test_alerts(void **state)
{
	static const char eve[] =
		"{\"timestamp\":\"2026-11-26T10:15:02.123456+0900\",\"event_type\":\"alert\",\"src_ip\":\"10.1.2.3\","
		"\"dest_ip\":\"203.0.113.9\",\"alert\":{\"signature_id\":7,\"signature\":\"bad\",\"severity\":1}}\n"
		"{\"timestamp\":\"2026-11-26T10:15:03Z\",\"event_type\":\"alert\",\"src_ip\":\"10.1.2.3\","
		"\"dest_ip\":\"203.0.113.9\",\"alert\":{\"signature_id\":8,\"signature\":\"minor\",\"severity\":3}}\n";
	struct store *s = fresh();
	struct store_conn *c = store_conn(s);
	struct quarantine_alerts res = { 0, 0, json_array() };
	struct quarantine_device d;
	struct eve_batch b;
	struct rerr e = { "", "" };
	json_t *addrs = json_pack("[s]", "10.1.2.3");
	int64_t n = 0;
	char entry[256];

	(void)state;
	assert_int_equal(quarantine_addresses_set(c, DEV1, addrs, "::1", NOW, &e), 0);
	assert_int_equal(eve_parse(eve, strlen(eve), &b, &e), 0);
	assert_int_equal(quarantine_alerts_apply(c, &by_admin, &b, 2, admin.person_id, NOW, &res), 0);
	assert_int_equal(res.actionable, 1);
	assert_int_equal(res.matched, 1);
	assert_int_equal(json_array_size(res.quarantined), 1);
	assert_string_equal(json_string_value(json_array_get(res.quarantined, 0)), DEV1);
	assert_int_equal(quarantine_device_load(c, DEV1, &d), 0);
	assert_string_equal(d.kind, "infected");
	assert_int_equal(store_query_i64(c, "SELECT count(*) FROM device_alerts WHERE device_id = $1",
					 STORE_ARGS(SA_TEXT(DEV1)), &n), 0);
	assert_int_equal(n, 1);
	last_audit(c, entry, sizeof(entry));
	assert_string_equal(entry, "endpoint.device.quarantine admin 192.0.2.10 req-1");
	eve_batch_done(&b);
	json_decref(res.quarantined);
	json_decref(addrs);
	store_close(s);
}

/* Quarantines device @id as an administrator, with the address @addr. */
static void quarantine_at(struct store_conn *c, const char *id, const char *addr)
{
	json_t *addrs = json_pack("[s]", addr);
	struct rerr e = { "", "" };
	bool changed = false;

	assert_int_equal(quarantine_addresses_set(c, id, addrs, NULL, NOW, &e), 0);
	assert_int_equal(quarantine_set(c, &by_admin, id, "admin", "test", NULL, NOW, &changed), 0);
	assert_true(changed);
	json_decref(addrs);
}

/* Checks what @p sees in the quarantine list and the nftables sets: @n devices, the first @first. */
static void check_seen(struct store_conn *c, const struct principal *p, size_t n, const char *first)
{
	char next[PAGE_CURSOR_SIZE];
	json_t *items = NULL, *v4 = json_array(), *v6 = json_array();
	int64_t devices = -1;

	assert_int_equal(quarantine_list(c, p, NULL, 10, &items, next), 0);
	assert_int_equal(json_array_size(items), n);
	assert_string_equal(next, "");
	if (first)
		assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "device_id")), first);
	assert_int_equal(quarantine_nft_addresses(c, p, v4, v6, &devices), 0);
	assert_int_equal(devices, (int64_t)n);
	assert_int_equal(json_array_size(v4), n);
	json_decref(items);
	json_decref(v4);
	json_decref(v6);
}

/* The lists follow the org tree: "G/C" holds "G/C" and "G/C/D", never "G/CX" or "G". */
static void test_list_scope(void **state)
{
	struct store *s = fresh();
	struct store_conn *c = store_conn(s);
	struct principal sm = { .via = VIA_COOKIE, .person_id = "01JSMG0000000000000000000A", .login = "sm",
				.roles = ROLE_SECURITY_MANAGER | ROLE_EMPLOYEE, .manages_path = "G/C" };
	struct principal aud = { .via = VIA_COOKIE, .person_id = "01JAUD0000000000000000000A", .login = "aud",
				 .roles = ROLE_AUDITOR };
	struct principal emp = { .via = VIA_COOKIE, .person_id = "01JEMP0000000000000000000A", .login = "emp",
				 .roles = ROLE_EMPLOYEE | ROLE_MANAGER, .manages_path = "G/C" };
	char next[PAGE_CURSOR_SIZE];
	json_t *items = NULL;

	(void)state;
	add_device(c, "01JDEV0000000000000000000C", "pc3", "compliant", "G/C/D");
	add_device(c, "01JDEV0000000000000000000D", "pc4", "compliant", "G/CX");
	quarantine_at(c, DEV1, "10.0.0.1");
	quarantine_at(c, "01JDEV0000000000000000000C", "10.0.0.3");
	quarantine_at(c, "01JDEV0000000000000000000D", "10.0.0.4");
	check_seen(c, &admin, 3, DEV1);
	check_seen(c, &aud, 3, DEV1);
	check_seen(c, &sm, 1, "01JDEV0000000000000000000C");
	assert_int_equal(quarantine_list(c, &sm, NULL, 10, &items, next), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(items, 0), "org_unit"),
							      "path")), "G/C/D");
	json_decref(items);
	/* Without the security manager's role, a managed path is no scope: nothing. */
	check_seen(c, &emp, 0, NULL);
	sm.manages_path[0] = '\0';
	check_seen(c, &sm, 0, NULL);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_release),
		cmocka_unit_test(test_admin_set_release),
		cmocka_unit_test(test_checkin_as_device),
		cmocka_unit_test(test_sweep_as_system),
		cmocka_unit_test(test_alerts),
		cmocka_unit_test(test_list_scope),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
