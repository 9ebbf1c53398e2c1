/* SPDX-License-Identifier: MIT */
/* Unit tests for master/jobclock: job times are a nondecreasing function of
 * the loop's millisecond time (equal within one ms), so a job assigned in
 * the turn another ended, or later, never starts before that end, and a
 * start widened from a 32-bit assigned_ms (also across the 49-day wrap) is
 * never after the end read in the same turn; a wall clock that runs ahead
 * of the loop's time within a turn does not move the anchor, a step of
 * more than JOBCLOCK_STEP_S does, checked once per JOBCLOCK_CHECK_MS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "jobclock.h"

/* The wall clock of the tests: it runs with the loop's time (fake_ms, set
 * before each call), fake_step_s ahead of where it began. */
static uint64_t fake_ms, fake_ms0;
static double fake_wall0_s, fake_step_s;
static int fake_reads;
static double fake_wall(void)
{
	fake_reads++;
	return fake_wall0_s + (double)(fake_ms - fake_ms0) / 1e3 + fake_step_s;
}

static void init_at(struct jobclock *k, uint64_t ms, double wall)
{
	*k = (struct jobclock){.wall = fake_wall};
	fake_ms = fake_ms0 = ms;
	fake_wall0_s = wall;
	fake_step_s = 0;
	fake_reads = 0;
	jobclock_init(k, ms);
}

static double now_at(struct jobclock *k, uint64_t ms)
{
	fake_ms = ms;
	return jobclock_now(k, ms);
}

/* The wall clock reads later than the loop's (cached) time by the turn's
 * work so far: a stamp does not follow it, so an end read late in turn N
 * is not after a start measured from turn N's loop time. */
static void test_stamps_follow_the_loop_not_the_wall(void **state)
{
	(void)state;
	struct jobclock k;
	init_at(&k, 5000, 1.7e9);
	fake_step_s = 0.350; /* 350 ms into a long turn, loop time still 5000 */
	double end_a = jobclock_now(&k, 5000);
	double start_b = jobclock_at(&k, 5000); /* b assigned in that same turn */
	assert_true(start_b >= end_a);
	assert_true(end_a == 1.7e9);
	/* the next turn: later by its loop time only */
	assert_true(now_at(&k, 5007) == 1.7e9 + 0.007);
	assert_int_equal(fake_reads, 1); /* only the anchor read the clock */
}

/* Nondecreasing in the loop's time, and exactly equal for equal times
 * however they were reached (a start widened from 32 bits, an end of now). */
static void test_monotonic_and_equal_within_a_ms(void **state)
{
	(void)state;
	struct jobclock k;
	init_at(&k, 123456789, 1764514275.123456);
	double prev = jobclock_at(&k, 123456789);
	for (uint64_t ms = 123456790; ms < 123456789 + 200000; ms += 7) {
		fake_step_s = (double)(ms % 97) / 1e3; /* a turn's work, up to 96 ms */
		double now = now_at(&k, ms);
		assert_true(now >= prev);
		uint64_t back = jobclock_widen(ms, (uint32_t)(ms - 13));
		assert_int_equal(back, ms - 13);
		assert_true(jobclock_at(&k, back) <= now);
		assert_true(jobclock_at(&k, ms) == now);
		prev = now;
	}
}

/* assigned_ms is 32 bits: it wraps every 49.7 days of loop time, and the
 * start read back from it still lands before the end. */
static void test_widen_across_the_wrap(void **state)
{
	(void)state;
	uint64_t now = ((uint64_t)3 << 32) + 20; /* the 32-bit counter just wrapped */
	uint32_t assigned = (uint32_t)(now - 50);  /* 0xffffffe2 + ... before the wrap */
	assert_int_equal(jobclock_widen(now, assigned), now - 50);
	assert_int_equal(jobclock_widen(now, (uint32_t)now), now);
	struct jobclock k;
	init_at(&k, now - 1000, 1.7e9);
	assert_true(jobclock_at(&k, jobclock_widen(now, assigned)) < now_at(&k, now));
}

/* A step of the wall clock (settimeofday, a resumed VM) re-anchors at the
 * next check, forward or back; less than JOBCLOCK_STEP_S does not, and
 * the clock is read once per JOBCLOCK_CHECK_MS of loop time, not per job. */
static void test_steps_reanchor(void **state)
{
	(void)state;
	struct jobclock k;
	init_at(&k, 0, 1000.0);
	fake_step_s = 0.5; /* 0.5 s ahead: a slow turn, not a step */
	for (uint64_t ms = 1; ms <= 2000; ms++)
		now_at(&k, ms);
	assert_int_equal(fake_reads, 1 + 2); /* the anchor, then ms 1000 and 2000 */
	assert_true(jobclock_at(&k, 2000) == 1002.0);
	fake_step_s = 3600.0; /* a VM resumed after an hour */
	assert_true(now_at(&k, 2999) == 1002.999); /* not checked before ms 3000 */
	assert_true(now_at(&k, 3000) == 4603.0);
	assert_true(now_at(&k, 3001) == 4603.001);
	assert_true(jobclock_at(&k, 2999) == 4602.999); /* a start before it: on the new anchor too */
	fake_step_s = -100.0; /* set back */
	assert_true(now_at(&k, 3500) == 4603.5);
	assert_true(now_at(&k, 4000) == 904.0);
	assert_int_equal(fake_reads, 1 + 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stamps_follow_the_loop_not_the_wall),
		cmocka_unit_test(test_monotonic_and_equal_within_a_ms),
		cmocka_unit_test(test_widen_across_the_wrap),
		cmocka_unit_test(test_steps_reanchor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
