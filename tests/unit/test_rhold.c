/* SPDX-License-Identifier: MIT */
/* Unit tests for worker/rhold: a lone job's result (nothing queued), the
 * first frame and the first after a pause go at once; in a stream of short
 * jobs with more queued, results are held, never longer than RHOLD_US from
 * the start of the hold, nor beyond RHOLD_MAX results; a send ends the hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rhold.h"

#define T0 1000000u /* some monotonic time, in us */

static void lone_job_goes_at_once(void **state)
{
	(void)state;
	struct rhold h = {0};
	assert_int_equal(rhold_wait(&h, T0, 0, 1), 0); /* never sent before */
	rhold_sent(&h, T0);
	/* a frame just left, but nothing is queued: a round trip waits for none */
	assert_int_equal(rhold_wait(&h, T0 + 10, 0, 1), 0);
	assert_int_equal(h.since_us, 0);
}

static void first_frame_and_pause_go_at_once(void **state)
{
	(void)state;
	struct rhold h = {0};
	assert_int_equal(rhold_wait(&h, T0, 1, 1), 0); /* queued, but no stream yet */
	rhold_sent(&h, T0);
	assert_int_equal(rhold_wait(&h, T0 + RHOLD_GAP_US, 1, 1), 0); /* a pause */
	assert_int_equal(h.since_us, 0);
}

static void stream_is_held_and_bounded(void **state)
{
	(void)state;
	struct rhold h = {0};
	rhold_sent(&h, T0);
	uint64_t ms = rhold_wait(&h, T0 + RHOLD_GAP_US / 2, 1, 1);
	assert_true(ms > 0 && ms * 1000 <= RHOLD_US + 999);
	assert_int_equal(h.since_us, T0 + RHOLD_GAP_US / 2);
	/* the hold ends RHOLD_US after it began, however many turns it spans */
	assert_true(rhold_wait(&h, T0 + RHOLD_GAP_US / 2 + RHOLD_US - 1, 1, 2) == 1);
	assert_int_equal(rhold_wait(&h, T0 + RHOLD_GAP_US / 2 + RHOLD_US, 1, 3), 0);
	assert_int_equal(rhold_wait(&h, T0 + 50000, 1, 3), 0); /* a late turn too */
	/* a frame's worth goes at once */
	struct rhold g = {0};
	rhold_sent(&g, T0);
	assert_int_equal(rhold_wait(&g, T0 + 1, 1, RHOLD_MAX), 0);
	assert_true(rhold_wait(&g, T0 + 1, 1, RHOLD_MAX - 1) > 0);
	/* a send ends the hold: the next one starts afresh */
	rhold_sent(&g, T0 + 2);
	assert_int_equal(g.since_us, 0);
	assert_true(rhold_wait(&g, T0 + 3, 1, 1) > 0);
	assert_int_equal(g.since_us, T0 + 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(lone_job_goes_at_once),
	    cmocka_unit_test(first_frame_and_pause_go_at_once),
	    cmocka_unit_test(stream_is_held_and_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
