/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for the Suricata EVE parser (src/endpoint/eve.c): real-looking
 * eve.json lines, one object or many, non-alert events counted and ignored,
 * addresses canonicalized, timestamps in Suricata's formats, and every
 * limit and malformed input refused with the line it is on.
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

#include "common/err.h"
#include "endpoint/eve.h"

#define ALERT(src, dst, sev) \
	"{\"timestamp\":\"2026-11-26T10:15:02.123456+0000\",\"flow_id\":1234567890123456,\"in_iface\":\"eth0\"," \
	"\"event_type\":\"alert\",\"src_ip\":\"" src "\",\"src_port\":49152,\"dest_ip\":\"" dst "\"," \
	"\"dest_port\":443,\"proto\":\"TCP\",\"alert\":{\"action\":\"allowed\",\"gid\":1,\"signature_id\":2024897," \
	"\"rev\":3,\"signature\":\"ET MALWARE Observed Cobalt Strike CnC\",\"category\":\"A Network Trojan was " \
	"detected\",\"severity\":" #sev ",\"metadata\":{\"attack_target\":[\"Client_Endpoint\"]}}," \
	"\"flow\":{\"pkts_toserver\":3,\"pkts_toclient\":1,\"bytes_toserver\":517,\"bytes_toclient\":66," \
	"\"start\":\"2026-11-26T10:15:01.998877+0000\"}}"
#define FLOW \
	"{\"timestamp\":\"2026-11-26T10:15:03.000001+0000\",\"flow_id\":99,\"event_type\":\"flow\"," \
	"\"src_ip\":\"192.0.2.5\",\"dest_ip\":\"198.51.100.9\",\"proto\":\"UDP\"}"
#define STATS "{\"timestamp\":\"2026-11-26T10:15:08.000000+0000\",\"event_type\":\"stats\",\"stats\":{\"uptime\":8}}"

static int parse(const char *text, struct eve_batch *b, struct rerr *e)
{
	memset(e, 0, sizeof(*e));
	return eve_parse(text, strlen(text), b, e);
}

static void test_ndjson(void **state)
{
	const char *text = ALERT("192.0.2.5", "198.51.100.9", 1) "\n" FLOW "\n\n" STATS "\r\n"
			   ALERT("2001:DB8:0:0::5", "203.0.113.7", 3) "\n";
	struct eve_batch b;
	struct rerr e;

	(void)state;
	assert_int_equal(parse(text, &b, &e), 0);
	assert_int_equal(b.events, 4);
	assert_int_equal(b.ignored, 2);
	assert_int_equal(b.n_alerts, 2);
	assert_string_equal(b.alerts[0].src_ip, "192.0.2.5");
	assert_int_equal(b.alerts[0].src_family, 4);
	assert_string_equal(b.alerts[0].dest_ip, "198.51.100.9");
	assert_int_equal(b.alerts[0].severity, 1);
	assert_int_equal(b.alerts[0].signature_id, 2024897);
	assert_string_equal(b.alerts[0].signature, "ET MALWARE Observed Cobalt Strike CnC");
	assert_int_equal(b.alerts[0].line, 1);
	/* 2026-11-26T10:15:02.123 UTC */
	assert_int_equal(b.alerts[0].ts_ms, 1795688102123LL);
	/* Canonical form, so that it matches what devices report. */
	assert_string_equal(b.alerts[1].src_ip, "2001:db8::5");
	assert_int_equal(b.alerts[1].src_family, 6);
	assert_int_equal(b.alerts[1].severity, 3);
	assert_int_equal(b.alerts[1].line, 5);
	eve_batch_done(&b);
}

static void test_single_object(void **state)
{
	const char *pretty = "{\n  \"timestamp\": \"2026-11-26T10:15:02Z\",\n  \"event_type\": \"alert\",\n"
			     "  \"src_ip\": \"10.1.2.3\",\n  \"dest_ip\": \"10.9.9.9\",\n  \"alert\": {\n"
			     "    \"signature_id\": 1, \"signature\": \"test\", \"severity\": 2\n  }\n}\n";
	struct eve_batch b;
	struct rerr e;

	(void)state;
	assert_int_equal(parse(ALERT("10.0.0.1", "10.0.0.2", 2), &b, &e), 0);
	assert_int_equal(b.n_alerts, 1);
	eve_batch_done(&b);
	assert_int_equal(parse(pretty, &b, &e), 0);
	assert_int_equal(b.events, 1);
	assert_int_equal(b.n_alerts, 1);
	assert_string_equal(b.alerts[0].src_ip, "10.1.2.3");
	eve_batch_done(&b);
}

static void test_times(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(eve_parse_time("1970-01-01T00:00:00Z", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(eve_parse_time("2026-11-26T19:15:02.5+0900", &ms), 0);
	assert_int_equal(ms, 1795688102500LL);
	assert_int_equal(eve_parse_time("2026-11-26T05:15:02.123456789-05:00", &ms), 0);
	assert_int_equal(ms, 1795688102123LL);
	assert_int_equal(eve_parse_time("2024-02-29T00:00:00Z", &ms), 0);
	assert_int_equal(eve_parse_time("2025-02-29T00:00:00Z", &ms), ERR_INVALID);
	assert_int_equal(eve_parse_time("2026-11-26 10:15:02Z", &ms), ERR_INVALID);
	assert_int_equal(eve_parse_time("2026-11-26T10:15:02", &ms), ERR_INVALID);
	assert_int_equal(eve_parse_time("2026-11-26T10:15:02.Z", &ms), ERR_INVALID);
	assert_int_equal(eve_parse_time("2026-13-26T10:15:02Z", &ms), ERR_INVALID);
	assert_int_equal(eve_parse_time("2026-11-26T10:15:02+0000x", &ms), ERR_INVALID);
	assert_int_equal(eve_parse_time("", &ms), ERR_INVALID);
	/* Read by rtime: Suricata's "+hhmm", never before 1970, at most 40 bytes. */
	assert_int_equal(eve_parse_time("2026-12-07T10:00:00.123456+0900", &ms), 0);
	assert_int_equal(ms, 1796605200123LL);
	assert_int_equal(eve_parse_time("2016-12-31T23:59:60Z", &ms), 0);
	assert_int_equal(ms, 1483228800000LL);
	assert_int_equal(eve_parse_time("1970-01-01T00:30:00+01:00", &ms), ERR_INVALID);
	assert_int_equal(eve_parse_time("1969-12-31T23:00:00-02:00", &ms), ERR_INVALID);
	assert_int_equal(eve_parse_time("2026-12-07T10:00:00.1234567890+0900", &ms), ERR_INVALID);
	assert_int_equal(eve_parse_time("2026-12-07T10:00:00.123456789+09:00    ", &ms), ERR_INVALID);
	assert_int_equal(eve_parse_time("2026-12-07", &ms), ERR_INVALID);
}

static void test_refused(void **state)
{
	static const struct {
		const char *text;
		size_t line;
		const char *words;
	} bad[] = {
		{ "", 0, "no EVE events" },
		{ "\n\n  \n", 0, "no EVE events" },
		{ "not json\n", 1, "malformed" },
		{ FLOW "\n[1,2]\n", 2, "JSON object" },
		{ FLOW "\n{\"event_type\":\"flow\"\n", 2, "malformed" },
		{ "[{\"event_type\":\"alert\"}]", 1, "JSON object" },
		{ "{\"event_type\":5}", 1, "event_type" },
		{ "{\"timestamp\":\"2026-11-26T10:15:02Z\"}", 1, "event_type" },
		{ ALERT("192.0.2.5", "198.51.100.999", 1), 1, "dest_ip" },
		{ ALERT("evil.example", "198.51.100.9", 1), 1, "src_ip" },
		{ ALERT("192.0.2.5", "198.51.100.9", 0), 1, "severity" },
		{ ALERT("192.0.2.5", "198.51.100.9", 256), 1, "severity" },
		{ ALERT("192.0.2.5", "198.51.100.9", "1"), 1, "severity" },
		{ "{\"timestamp\":\"yesterday\",\"event_type\":\"alert\",\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"10.0.0.2\","
		  "\"alert\":{\"signature_id\":1,\"signature\":\"x\",\"severity\":1}}", 1, "timestamp" },
		{ "{\"timestamp\":\"2026-11-26T10:15:02Z\",\"event_type\":\"alert\",\"src_ip\":\"10.0.0.1\","
		  "\"dest_ip\":\"10.0.0.2\",\"alert\":{\"signature_id\":-1,\"signature\":\"x\",\"severity\":1}}", 1,
		  "signature_id" },
		{ "{\"timestamp\":\"2026-11-26T10:15:02Z\",\"event_type\":\"alert\",\"src_ip\":\"10.0.0.1\","
		  "\"dest_ip\":\"10.0.0.2\",\"alert\":{\"signature_id\":1,\"signature\":\"\",\"severity\":1}}", 1,
		  "signature" },
		{ "{\"timestamp\":\"2026-11-26T10:15:02Z\",\"event_type\":\"alert\",\"src_ip\":\"10.0.0.1\","
		  "\"dest_ip\":\"10.0.0.2\",\"alert\":{\"signature_id\":1,\"signature\":\"a\\u0007b\",\"severity\":1}}", 1,
		  "signature" },
		{ "{\"timestamp\":\"2026-11-26T10:15:02Z\",\"event_type\":\"alert\",\"src_ip\":\"10.0.0.1\","
		  "\"dest_ip\":\"10.0.0.2\"}", 1, "alert" },
		{ "{\"event_type\":\"flow\",\"event_type\":\"alert\"}", 1, "malformed" },
		{ "{\"event_type\":\"flow\",\"a\":[[[[[[[[[1]]]]]]]]]}", 1, "nested" },
	};
	struct eve_batch b;
	struct rerr e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&b, 0x5a, sizeof(b));
		assert_int_equal(parse(bad[i].text, &b, &e), ERR_INVALID);
		assert_null(b.alerts);
		assert_int_equal(e.at, bad[i].line);
		assert_string_equal(e.field, bad[i].line ? "line" : "");
		if (!strstr(e.message, bad[i].words))
			fail_msg("case %zu: '%s' does not say '%s'", i, e.message, bad[i].words);
	}
}

static void test_limits(void **state)
{
	struct eve_batch b;
	struct rerr e;
	char *big;
	size_t n, i, at;

	(void)state;
	/* EVE_MAX_LINES events pass; one more is refused as too large. */
	n = strlen(FLOW) + 1;
	big = malloc(n * (EVE_MAX_LINES + 1) + 1);
	assert_non_null(big);
	for (i = 0, at = 0; i < EVE_MAX_LINES; i++, at += n)
		memcpy(big + at, FLOW "\n", n);
	big[at] = '\0';
	assert_int_equal(eve_parse(big, at, &b, &e), 0);
	assert_int_equal(b.events, EVE_MAX_LINES);
	assert_int_equal(b.ignored, EVE_MAX_LINES);
	eve_batch_done(&b);
	memcpy(big + at, FLOW "\n", n);
	at += n;
	assert_int_equal(eve_parse(big, at, &b, &e), ERR_TOO_LARGE);
	assert_string_equal(e.field, "");
	assert_non_null(strstr(e.message, "at most 1000"));
	free(big);

	/* More than EVE_MAX_BYTES. */
	big = malloc(EVE_MAX_BYTES + 2);
	assert_non_null(big);
	memset(big, ' ', EVE_MAX_BYTES + 1);
	assert_int_equal(eve_parse(big, EVE_MAX_BYTES + 1, &b, &e), ERR_TOO_LARGE);
	assert_string_equal(e.field, "");

	/* A line longer than EVE_MAX_LINE (a string of spaces inside the object). */
	n = EVE_MAX_LINE + 64;
	at = (size_t)snprintf(big, 64, "%s", "{\"event_type\":\"flow\",\"pad\":\"");
	memset(big + at, 'x', n - at - 2);
	memcpy(big + n - 2, "\"}", 2);
	assert_int_equal(eve_parse(big, n, &b, &e), ERR_TOO_LARGE);
	assert_int_equal(e.at, 1);
	assert_string_equal(e.field, "line");
	/* NUL bytes. */
	memcpy(big, FLOW, strlen(FLOW));
	big[10] = '\0';
	assert_int_equal(eve_parse(big, strlen(FLOW), &b, &e), ERR_INVALID);
	free(big);
}

static void test_addr_canon(void **state)
{
	char out[EVE_ADDR_SIZE];
	int fam;

	(void)state;
	/* IPv4-mapped: the IPv4 address, as Suricata writes it. */
	assert_int_equal(eve_addr_canon("::ffff:192.0.2.1", out, &fam), 0);
	assert_int_equal(fam, 4);
	assert_string_equal(out, "192.0.2.1");
	assert_int_equal(eve_addr_canon("fe80:0000::1", out, &fam), 0);
	assert_string_equal(out, "fe80::1");
	assert_int_equal(eve_addr_canon("192.0.2.01", out, &fam), ERR_INVALID);
	assert_int_equal(eve_addr_canon("192.0.2.1/24", out, &fam), ERR_INVALID);
	assert_int_equal(eve_addr_canon("1.2.3.4; flush ruleset", out, &fam), ERR_INVALID);
	assert_int_equal(eve_addr_canon(NULL, out, &fam), ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ndjson),
		cmocka_unit_test(test_single_object),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_addr_canon),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
