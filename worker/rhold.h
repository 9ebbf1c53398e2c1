/* SPDX-License-Identifier: MIT */
/*
 * rhold: whether the worker sends this turn's results and starts now or
 * holds them a short, bounded while (RHOLD_US) so that several leave in one frame.
 *
 * A slot running exec jobs of half a millisecond (`true`) ends one every
 * loop turn, and one `result` frame per job cost each worker about 12 % of
 * its own CPU in socket writes (and the master as much again reading
 * them). Held only when that pays and cannot cost a round trip: the worker
 * has further jobs queued (its slots stay busy while it holds), and its
 * last frame left less than RHOLD_GAP_US ago (a stream of short jobs). A
 * lone job's result, or the first after a pause, goes at once.
 */
#ifndef MTSLURM_RHOLD_H
#define MTSLURM_RHOLD_H

#include <stddef.h>
#include <stdint.h>

/* The longest a result waits for others: about two `true` jobs, far less
 * than the prefetch window of queued jobs the master keeps ahead, so its
 * refill never lags the slots. */
#define RHOLD_US 1000
/* A stream worth holding for: the last frame left less than this before
 * the next result was ready, so another is likely within RHOLD_US. With
 * 8 workers on 2 cores a `true` job takes ~3 ms of wall time: holding
 * then only adds a timer wake-up per result, and this keeps it off. */
#define RHOLD_GAP_US 1000
/* Results in hand that go at once: a frame's worth, and the master frees
 * their window entries together. */
#define RHOLD_MAX 32

struct rhold {
	uint64_t sent_us;  /* when the last frame left; 0: never */
	uint64_t since_us; /* when the current hold began; 0: not holding */
};

/* How long to hold what is in hand (nheld results, and/or starts) at
 * now_us (a monotonic clock) with queued jobs waiting: 0 means send now,
 * else the whole ms until the hold ends (arm a timer for it). */
uint64_t rhold_wait(struct rhold *h, uint64_t now_us, int queued, size_t nheld);

/* What was in hand left at now_us. */
void rhold_sent(struct rhold *h, uint64_t now_us);

#endif
