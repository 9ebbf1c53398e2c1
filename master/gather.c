/* SPDX-License-Identifier: MIT */
/*
 * gather: result gathering -- whether the master's turn of only workers'
 * results is held back (up to MASTER_GATHER_US) so that several share one
 * commit, one write per worker and per client and one sync; see gather.h
 * and docs/performance.md, "Result gathering". The turn itself is
 * server.c's on_check, which asks here before it commits.
 */
#include "gather.h"
#include "master.h"

#include "util.h"

void gather_note(struct master *m, uint32_t n)
{
	struct master_gather *g = &m->gather;
	uint64_t now = util_mono_ns();
	if (!n)
		return;
	if (!g->n) {
		g->first_ns = now;
		g->gap_ns = g->last_ns ? now - g->last_ns : UINT64_MAX;
	}
	g->last_ns = now;
	g->n += n;
}

/* Stop (pause = 1) or resume reading every connected worker: while a hold
 * lasts, their results wait in the sockets and are read in one go when it
 * ends, instead of waking the loop once per frame. */
static void gather_pause_workers(struct master *m, int pause)
{
	if (m->gather.paused == pause)
		return;
	m->gather.paused = pause;
	for (struct wrk *w = m->workers; w; w = w->next)
		if (w->peer && w->peer->conn) {
			if (pause)
				conn_pause(w->peer->conn);
			else
				conn_resume(w->peer->conn);
		}
}

/* The hold ends: the workers are read again in this loop iteration's poll,
 * before the check that commits everything gathered (libuv runs timers,
 * then poll, then checks). */
static void on_gather_timer(uv_timer_t *t)
{
	struct master *m = t->data;
	gather_pause_workers(m, 0);
	m->gather.due = 1;
	master_touch_quiet(m);
}

/* Nothing stops a gathering now: no request or other urgent work came
 * since the last turn, and no shutdown, settling or checkpoint runs. */
static int gather_allowed(const struct master *m)
{
	const struct master_gather *g = &m->gather;
	return !g->urgent && !m->shutting_down && !m->settling && !m->ckpt_busy && !m->outs.dirty && !m->listings;
}

/* Hold gathering for at most left_ms: the workers' connections are not
 * read until the timer (or an urgent turn) ends it. */
static void gather_start(struct master *m, uint64_t left_ms)
{
	struct master_gather *g = &m->gather;
	if (uv_is_active((uv_handle_t *)&g->timer))
		return;
	uv_timer_start(&g->timer, on_gather_timer, left_ms ? left_ms : 1, 0);
	gather_pause_workers(m, 1);
}

/* 1 if this turn is held back to gather more results: its only work is
 * workers' results (gather_allowed: nothing urgent came since the last
 * turn -- no request of a client or over HTTP, no closed connection, no
 * reply queued, no listing waiting for its snapshot), more are expected
 * soon (other jobs are assigned, and the first of these results came
 * within MASTER_GATHER_GAP_US of the one before it), and the hold's bounds
 * are not reached. So a lone job (the single-job round trip: nothing else
 * is assigned) and the last result of a burst are committed at once, as is
 * everything at shutdown, while settling after a restart and while a
 * checkpoint defers commits. A pending `wait` does not stop a hold: one
 * for all jobs is answered when nothing is assigned (never held), one for
 * some jobs at most the hold's bound later. */
int gather_hold(struct master *m)
{
	struct master_gather *g = &m->gather;
	if (!g->n || g->due || !gather_allowed(m) || !m->sched.nassigned)
		return 0;
	/* a turn of MASTER_GATHER_RESULTS amortises its cost already, and so
	 * does a flow whose last commit carried that many (an echo burst:
	 * holding its dispatch would only cost throughput) */
	if (g->n >= MASTER_GATHER_RESULTS || g->last_n >= MASTER_GATHER_RESULTS ||
	    g->gap_ns > MASTER_GATHER_GAP_US * 1000ull)
		return 0;
	uint64_t held_ns = util_mono_ns() - g->first_ns;
	if (held_ns >= MASTER_GATHER_US * 1000ull)
		return 0;
	gather_start(m, (MASTER_GATHER_US * 1000ull - held_ns + 999999) / 1000000);
	g->held = 1;
	return 1;
}

/* The turn goes ahead. Urgent work, or the end of the hold, ends the
 * gathering (the workers are read again); a turn of quiet work meanwhile
 * (a sync that ended, a timer's deferred writes) leaves it running. */
void gather_begin_turn(struct master *m)
{
	struct master_gather *g = &m->gather;
	if (g->due)
		g->held = g->n > 0; /* read when the hold ended: gathered */
	if (g->urgent || g->due || !gather_allowed(m)) {
		if (uv_is_active((uv_handle_t *)&g->timer))
			uv_timer_stop(&g->timer);
		gather_pause_workers(m, 0);
	}
	g->urgent = 0;
	g->due = 0;
}

/* After a commit that was not deferred: count its results for /metrics;
 * returns how many it carried. */
uint32_t gather_committed(struct master *m)
{
	struct master_gather *g = &m->gather;
	uint32_t n = g->n;
	if (!n)
		return 0;
	g->commits++;
	g->results += n;
	if (g->held)
		g->gathered++;
	g->n = 0;
	g->held = 0;
	g->last_n = n;
	return n;
}

/* At the end of a turn that committed n results: while results flow (the
 * turn carried several, or one that came closely after the one before),
 * other jobs are assigned and nothing urgent is pending, the next results
 * are gathered from the start -- the workers are not read for
 * MASTER_GATHER_US -- so that a flow costs one wake, one read per worker
 * and one commit per hold instead of one per result frame. A turn that
 * carried MASTER_GATHER_RESULTS or more amortised its cost already (an
 * echo burst): no hold after it. */
void gather_after_commit(struct master *m, uint32_t n)
{
	struct master_gather *g = &m->gather;
	if (!n || n >= MASTER_GATHER_RESULTS || !m->sched.nassigned || !gather_allowed(m))
		return;
	if (n < 2 && g->gap_ns > MASTER_GATHER_GAP_US * 1000ull)
		return;
	gather_start(m, (MASTER_GATHER_US + 999) / 1000);
}
