/* SPDX-License-Identifier: MIT */
/*
 * jobclock: the one clock a job's times (submitted, started, finished) are
 * read from, so that they order as the master's loop saw the events. A
 * stamp is a pure function of the loop's cached millisecond time (uv_now):
 * the wall-clock time read once at an anchor plus the loop time elapsed
 * since. Mixing that cached time (as "ago" for a start) with a fresh
 * wall-clock read (for an end) put a job's start tens of ms after the end
 * of the job that had to end before it on a loaded machine (t0822); here an
 * event of a later turn never gets an earlier stamp, events of one turn get
 * the same one, and a stamp costs no clock read. CLOCK_MONOTONIC is slewed
 * with the wall clock, so the two drift apart only on a step (settimeofday,
 * a suspended VM): once per JOBCLOCK_CHECK_MS of loop time the wall clock is
 * read, and a difference above JOBCLOCK_STEP_S re-anchors (a job that spans
 * a backward step may then read finished < started: the clock went back).
 * No libuv here: the caller passes the loop time (tests/unit/test_jobclock.c).
 */
#ifndef MTS_JOBCLOCK_H
#define MTS_JOBCLOCK_H

#include <stdint.h>

#define JOBCLOCK_CHECK_MS 1000
#define JOBCLOCK_STEP_S 1.0

struct jobclock {
	double wall0_s;      /* unix time at loop time ms0 */
	uint64_t ms0;        /* the anchor's loop time */
	uint64_t checked_ms; /* loop time of the last look at the wall clock */
	double (*wall)(void); /* the wall clock: util_wall (tests set their own) */
};

/* Anchor k at loop time now_ms: read the wall clock (k->wall, or util_wall
 * when NULL) right after the loop updated its time. */
void jobclock_init(struct jobclock *k, uint64_t now_ms);
/* The stamp of loop time ms (unix seconds): ms0 + (ms - ms0) on the anchor's
 * wall clock; nondecreasing in ms, equal for equal ms. */
double jobclock_at(const struct jobclock *k, uint64_t ms);
/* The stamp of loop time now_ms (the loop's current time); checks the wall
 * clock for a step once per JOBCLOCK_CHECK_MS. */
double jobclock_now(struct jobclock *k, uint64_t now_ms);
/* The full loop time of a 32-bit one (a job's assigned_ms) no older than
 * 49 days at now_ms. */
static inline uint64_t jobclock_widen(uint64_t now_ms, uint32_t then_ms)
{
	return now_ms - (uint32_t)((uint32_t)now_ms - then_ms);
}

#endif
