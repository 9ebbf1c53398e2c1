/* SPDX-License-Identifier: MIT */
/*
 * gather: result gathering in the master's turn (server.c on_check asks
 * gather_hold before it commits). Workers' results arrive one frame per
 * short job; committing, writing and syncing each on its own cost the
 * master most of its CPU per exec job (docs/performance.md, "Result
 * gathering"). Everything here runs on the master's loop thread.
 */
#ifndef MTS_GATHER_H
#define MTS_GATHER_H

#include <stdint.h>
#include <uv.h>

/* Result gathering (gather_hold; docs/performance.md, "Result
 * gathering"): a turn whose only work is workers' results, while other
 * jobs run on workers and results came closely spaced, is held back --
 * its commit, dispatch, writes to workers and clients and its seal wait
 * for more results -- so that several results share one commit, one
 * write per worker and per client and one sync. The hold is bounded:
 * MASTER_GATHER_US after the first result held (libuv's millisecond timer
 * ends it, so at most about 2 ms), or MASTER_GATHER_RESULTS results, which
 * already amortise a turn's fixed cost (an echo burst reaches it with one
 * frame). Workers' prefetch windows (sched.h: about 50 ms of work per slot)
 * keep them busy meanwhile. A result that came more than
 * MASTER_GATHER_GAP_US after the one before it is not held: results that
 * far apart would gather nothing. */
#define MASTER_GATHER_US 1000
#define MASTER_GATHER_RESULTS 64
#define MASTER_GATHER_GAP_US 2000

/* The state of result gathering (see MASTER_GATHER_US). */
struct master_gather {
	uv_timer_t timer;   /* ends a hold */
	uint64_t first_ns;  /* arrival of the first result not yet committed (util_mono_ns) */
	uint64_t last_ns;   /* arrival of the latest result, 0 before the first */
	uint64_t gap_ns;    /* from the result before first_ns's to it */
	uint32_t n;         /* results read since the last commit */
	uint32_t last_n;    /* results the last commit that carried any carried */
	int held;           /* a turn of these results was held back */
	int due;            /* the timer fired: the next turn commits */
	int paused;         /* workers' connections are not read during the hold */
	/* Something other than results came since the last turn (a request,
	 * a closed connection, a reply queued): the next turn is not held.
	 * master_touch sets it unless quiet > 0 (master_touch_quiet). */
	int urgent, quiet;
	/* for /metrics: commits that carried results, the results they
	 * carried, and those of them made after a hold */
	uint64_t commits, results, gathered;
};

struct master;

/* n worker results were read (workers.c): when they came, for the gap
 * rule, and how many wait for the next commit. */
void gather_note(struct master *m, uint32_t n);
/* 1 if this turn is held back to gather more results (its check returns
 * at once and a timer ends the hold); 0: the turn goes ahead. */
int gather_hold(struct master *m);
/* The turn goes ahead: urgent work or the hold's end stops the gathering
 * and the workers are read again. */
void gather_begin_turn(struct master *m);
/* After a commit that was not deferred: the results it carried, counted
 * for /metrics. */
uint32_t gather_committed(struct master *m);
/* At the end of a turn that committed n results: hold the next ones from
 * the start while results flow. */
void gather_after_commit(struct master *m, uint32_t n);

#endif
