/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for the quarantine state machine's decision
 * (quarantine_decide in src/endpoint/quarantine.c): the grace clock starts
 * at the first non-compliant check-in, stops at a compliant one, and
 * quarantines once the grace period has passed; a grace quarantine ends
 * with a compliant check-in, an administrator's or an infected one never.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>

#include "endpoint/quarantine.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_release),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
