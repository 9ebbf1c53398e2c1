/* SPDX-License-Identifier: MIT */
/*
 * jobclock: job times as a function of the loop's time, re-anchored on a
 * step of the wall clock (see jobclock.h).
 */
#include "jobclock.h"

#include "util.h"

void jobclock_init(struct jobclock *k, uint64_t now_ms)
{
	if (!k->wall)
		k->wall = util_wall;
	k->wall0_s = k->wall();
	k->ms0 = k->checked_ms = now_ms;
}

double jobclock_at(const struct jobclock *k, uint64_t ms)
{
	/* the difference as a signed integer first: a ms before the anchor
	 * (a start measured back from now, after a re-anchor) stays exact */
	return k->wall0_s + (double)(int64_t)(ms - k->ms0) / 1e3;
}

double jobclock_now(struct jobclock *k, uint64_t now_ms)
{
	if (now_ms - k->checked_ms >= JOBCLOCK_CHECK_MS) {
		k->checked_ms = now_ms;
		/* read mid-turn, the wall clock is ahead of the loop's time by
		 * the turn's work so far: a long turn can only re-anchor forward,
		 * which keeps the order of stamps */
		double wall_s = k->wall(), off = wall_s - jobclock_at(k, now_ms);
		if (off > JOBCLOCK_STEP_S || off < -JOBCLOCK_STEP_S) {
			k->wall0_s = wall_s;
			k->ms0 = now_ms;
		}
	}
	return jobclock_at(k, now_ms);
}
