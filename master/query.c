/* SPDX-License-Identifier: MIT */
/*
 * query: the read-only client requests -- status (O(1): counters kept in
 * memory, final-state totals from the store's `counts` table), jobs (pages
 * over state.db, merged with the job arrays' members that have no row yet),
 * workers (the registry) -- and `wait`, whose replies are
 * checked after every commit. A job assigned to a worker is "running" once
 * the worker said it started, "prefetched" before (state.db has one state,
 * 1, for both: the difference lives in memory, MJOB_F_STARTED).
 */
#include "master.h"
#include "autoscale.h"
#include "listing.h"
#include "storearr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* status's lost workers: "lost" (how many since the master started) and
 * "lost_recent" (the newest MASTER_LOST_KEEP, newest first). */
static void status_lost(const struct master *ms, msg *wo)
{
	msg_set_int(wo, "lost", ms->nlost);
	msg *a = msg_new_array();
	int64_t n = ms->nlost < MASTER_LOST_KEEP ? ms->nlost : MASTER_LOST_KEEP;
	for (int64_t i = 1; i <= n; i++) {
		const struct lost_worker *l = &ms->lost[(ms->nlost - i) % MASTER_LOST_KEEP];
		msg *o = msg_new_object();
		msg_set_str(o, "id", l->wid);
		msg_set_str(o, "node", l->node);
		if (l->slurm_job[0])
			msg_set_str(o, "slurm_job", l->slurm_job);
		msg_set_int(o, "pid", l->pid);
		msg_set_int(o, "rank", l->rank);
		msg_set_num(o, "at", l->at);
		msg_set_str(o, "cause", l->cause);
		msg_set_str(o, "reason", l->reason);
		msg_set_int(o, "jobs", l->jobs);
		msg_set_int(o, "requeued", l->requeued);
		msg_set_int(o, "failed", l->failed);
		msg_push(a, o);
	}
	msg_add(wo, "lost_recent", a);
}

/* The fields of a status reply into r. */
static void status_fill(struct master *ms, msg *r)
{
	msg *mo = msg_new_object();
	msg_set_str(mo, "host", ms->info.host);
	msg_set_int(mo, "port", ms->info.port);
	msg_set_int(mo, "pid", ms->info.pid);
	msg_set_str(mo, "node", ms->info.node);
	if (ms->info.slurm_job[0])
		msg_set_str(mo, "slurm_job", ms->info.slurm_job);
	msg_set_num(mo, "uptime", util_wall() - ms->info.started);
	msg_set_str(mo, "version", ms->info.version);
	if (ms->info.http[0])
		msg_set_str(mo, "http", ms->info.http);
	int64_t nwaiters = 0; /* wait requests not answered yet (each holds memory until it is) */
	for (const struct waiter *w = ms->waiters; w; w = w->next)
		nwaiters++;
	msg_set_int(mo, "waiters", nwaiters);
	msg_add(r, "master", mo);
	if (ms->autoscale)
		autoscale_status(ms->autoscale, r);
	int64_t connected = 0, slots = 0, busy = 0;
	for (struct wrk *w = ms->workers; w; w = w->next) {
		if (!w->peer)
			continue;
		connected++;
		slots += w->sw.slots;
		busy += w->sw.nassigned + w->sw.extra < w->sw.slots ? w->sw.nassigned + w->sw.extra : w->sw.slots;
	}
	msg *wo = msg_new_object();
	msg_set_int(wo, "connected", connected);
	msg_set_int(wo, "slots", slots);
	msg_set_int(wo, "busy_slots", busy);
	status_lost(ms, wo);
	msg_add(r, "workers", wo);
	msg *jo = msg_new_object();
	/* members of job arrays without a row yet are queued too */
	int64_t q = (int64_t)ms->sched.nqueued + arrays_tail_queued(ms), run = (int64_t)ms->sched.nstarted;
	int64_t pre = (int64_t)ms->sched.nassigned - run;
	msg_set_int(jo, "queued", q);
	msg_set_int(jo, "prefetched", pre);
	msg_set_int(jo, "running", run);
	msg_set_int(jo, "completed", ms->counts[MJOB_COMPLETED]);
	msg_set_int(jo, "failed", ms->counts[MJOB_FAILED]);
	msg_set_int(jo, "cancelled", ms->counts[MJOB_CANCELLED]);
	msg_set_int(jo, "total",
		    q + pre + run + ms->counts[MJOB_COMPLETED] + ms->counts[MJOB_FAILED] + ms->counts[MJOB_CANCELLED]);
	msg_add(r, "jobs", jo);
}

void query_status(struct call *c, msg *m)
{
	(void)m;
	msg *r = call_new_reply(c, "status");
	if (r)
		status_fill(c->m, r);
	call_reply(c, r);
}

msg *query_status_msg(struct master *m)
{
	msg *r = msg_new_typed("status");
	if (r)
		status_fill(m, r);
	return r;
}

/* A worker's "res": {"cpus","cpus_free","mem","mem_free","gpus":[ids],
 * "gpus_free":[ids],"gpu_kind"}. */
static void worker_res(msg *o, const struct mres_worker *r)
{
	msg *x = msg_new_object(), *g = msg_new_array(), *gf = msg_new_array();
	for (uint32_t i = 0; i < r->ngpus; i++) {
		msg_push(g, msg_new_str(r->ids[i]));
		if (r->gpus_free & ((uint64_t)1 << i))
			msg_push(gf, msg_new_str(r->ids[i]));
	}
	msg_set_int(x, "cpus", r->cpus);
	msg_set_int(x, "cpus_free", r->cpus_free);
	msg_set_int(x, "mem", (int64_t)r->mem_b);
	msg_set_int(x, "mem_free", (int64_t)r->mem_free_b);
	msg_add(x, "gpus", g);
	msg_add(x, "gpus_free", gf);
	msg_set_str(x, "gpu_kind", resource_gpu_kind_name(r->gpu_kind));
	msg_add(o, "res", x);
}

void query_workers(struct call *c, msg *m)
{
	struct master *ms = c->m;
	(void)m;
	msg *r = call_new_reply(c, "workers");
	msg *a = msg_new_array();
	for (struct wrk *w = ms->workers; w; w = w->next) {
		if (!w->peer)
			continue;
		uint32_t used = w->sw.nassigned + w->sw.extra; /* a multi-rank job holds its ranks */
		uint32_t busy = used < w->sw.slots ? used : w->sw.slots;
		msg *o = msg_new_object();
		msg_set_str(o, "id", w->wid);
		msg_set_str(o, "host", w->host);
		msg_set_str(o, "node", w->node);
		if (w->slurm_job[0])
			msg_set_str(o, "slurm_job", w->slurm_job);
		if (w->sw.end > 0)
			msg_set_num(o, "end", w->sw.end); /* when its Slurm job ends */
		msg_set_int(o, "pid", w->pid);
		msg_set_int(o, "rank", w->rank);
		msg_set_int(o, "slots", w->sw.slots);
		msg_set_int(o, "running", w->sw.nstarted);
		msg_set_int(o, "prefetched", w->sw.nassigned - w->sw.nstarted);
		msg_set_int(o, "held", w->sw.nassigned);
		msg_set_int(o, "window", sched_worker_window(&ms->sched, &w->sw));
		msg_set_int(o, "done", (int64_t)w->sw.done);
		msg_set_str(o, "state", w->sw.draining ? "draining"
					: busy == 0	      ? "idle"
					: busy < w->sw.slots ? "running"
							     : "busy");
		msg_set_num(o, "since", w->since);
		msg_set_num(o, "last_seen", w->last_seen);
		if (w->wtype[0])
			msg_set_str(o, "wtype", w->wtype);
		if (w->url[0])
			msg_set_str(o, "url", w->url);
		if (w->sw.res)
			worker_res(o, w->sw.res);
		msg_push(a, o);
	}
	msg_add(r, "workers", a);
	call_reply(c, r);
}

static void waiter_free(struct waiter *w)
{
	free(w->ids);
	free(w);
}

/* A wait for a job array replaces one for the same array on the same
 * connection: `wait --array` asks again each time its request's timeout
 * passes (a big array outlasts any one request), and the one it gave up
 * on must not stay registered until the array ends. A connection's calls
 * are answered in turn (a handle waits for one reply at a time), so an
 * older identical wait on it has no one left to answer. */
static void drop_same_wait(struct master *ms, const struct waiter *nw)
{
	for (struct waiter **pp = &ms->waiters; *pp;) {
		struct waiter *w = *pp;
		if (w->call.out == nw->call.out && !w->all && !w->ids && w->lo == nw->lo && w->hi == nw->hi) {
			*pp = w->next;
			waiter_free(w);
		} else {
			pp = &w->next;
		}
	}
}

void query_wait(struct call *c, msg *m)
{
	struct master *ms = c->m;
	struct waiter *w = calloc(1, sizeof *w);
	if (!w)
		return;
	w->call = *c;
	w->all = msg_get_bool(m, "all", 0);
	struct arrays_view av;
	if (msg_has(m, "array")) {
		int64_t aid = 0;
		if (msg_get_int(m, "array", &aid) || arrays_view(ms, aid, &av)) {
			call_error(c, "unknown_job", "wait: no job array %lld (an array's id is its first job id)",
				   (long long)aid);
			free(w);
			return;
		}
		w->lo = av.first;
		w->hi = av.last;
		drop_same_wait(ms, w);
	} else if (!w->all) {
		msg *iv = msg_get(m, "ids");
		size_t n = msg_size(iv);
		if (!msg_is_array(iv) || !(w->ids = malloc((n ? n : 1) * sizeof *w->ids))) {
			call_error(c, "bad_request",
				     "wait needs \"ids\": an array of job ids, or \"all\": true");
			free(w);
			return;
		}
		for (msg *e = msg_child(iv); e; e = msg_next(e))
			if (msg_is_num(e))
				w->ids[w->n++] = msg_int(e);
	}
	w->next = ms->waiters;
	ms->waiters = w;
	master_touch(ms);
}

static void waiter_reply(struct master *ms, struct waiter *w)
{
	int64_t c[5] = {0};
	if (w->all) {
		memcpy(c, ms->counts, sizeof c);
	} else if (w->hi) {
		store_count_range(ms->store, w->lo, w->hi, c);
	} else {
		for (size_t i = 0; i < w->n; i++) {
			int st = store_state(ms->store, w->ids[i]);
			if (st >= 0 && st < 5)
				c[st]++;
		}
	}
	msg *r = call_new_reply(&w->call, "waited");
	msg_set_int(r, "completed", c[MJOB_COMPLETED]);
	msg_set_int(r, "failed", c[MJOB_FAILED]);
	msg_set_int(r, "cancelled", c[MJOB_CANCELLED]);
	call_reply(&w->call, r);
}

void query_check_waiters(struct master *ms)
{
	struct waiter **pp = &ms->waiters;
	while (*pp) {
		struct waiter *w = *pp;
		int ready;
		if (w->all) {
			ready = ms->sched.nlive == 0 && arrays_tail_queued(ms) == 0;
		} else if (w->hi) {
			/* a job array's members: w->cursor counts those passed */
			while (w->lo + (int64_t)w->cursor <= w->hi && !sched_find(&ms->sched, w->lo + (int64_t)w->cursor) &&
			       !arrays_unmade(ms, w->lo + (int64_t)w->cursor))
				w->cursor++;
			ready = w->lo + (int64_t)w->cursor > w->hi;
		} else {
			/* A final job never becomes live again: scan each id once.
			 * A job array's member without a row is not final. */
			while (w->cursor < w->n && !sched_find(&ms->sched, w->ids[w->cursor]) &&
			       !arrays_unmade(ms, w->ids[w->cursor]))
				w->cursor++;
			ready = w->cursor == w->n;
		}
		if (!ready) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		waiter_reply(ms, w);
		free(w->ids);
		free(w);
	}
}

void query_drop_waiters(struct master *ms, const struct outbox *out)
{
	listing_forget_outbox(ms, out); /* its listings too: both transports call this when gone */
	struct waiter **pp = &ms->waiters;
	while (*pp) {
		struct waiter *w = *pp;
		if (w->call.out != out) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		free(w->ids);
		free(w);
	}
}

/* forget: delete final jobs from the store (store_forget) -- by "ids",
 * "state" (a final one) and "age" (finished more than that many seconds
 * ago by the master's clock), at most "limit" per request so that one
 * request never holds the loop long; "more": call again. */
void query_forget(struct call *c, msg *m)
{
	struct master *ms = c->m;
	int64_t limit = 10000;
	struct store_forget_q q = {.state = -1};
	double age = -1;
	const char *state = msg_get_str(m, "state");
	msg *iv = msg_get(m, "ids");
	if (msg_has(m, "state") && ((q.state = mjob_state_parse(state)) < MJOB_COMPLETED)) {
		call_error(c, "bad_request",
			     "forget: \"state\" must be completed, failed or cancelled (only final jobs are forgotten)");
		return;
	}
	if (msg_has(m, "age") && (msg_get_num(m, "age", &age) || !(age >= 0) || age > 1e10)) {
		call_error(c, "bad_request", "forget: \"age\" must be a number of seconds >= 0");
		return;
	}
	if (msg_has(m, "limit") && (msg_get_int(m, "limit", &limit) || limit < 1 || limit > 100000)) {
		call_error(c, "bad_request", "forget: \"limit\" must be from 1 to 100000");
		return;
	}
	int ids_ok = msg_is_array(iv);
	for (msg *e = msg_child(iv); ids_ok && e; e = msg_next(e))
		ids_ok = msg_is_num(e);
	if ((iv && !ids_ok) || (!iv && !msg_has(m, "state") && age < 0)) {
		call_error(c, "bad_request",
			     "forget needs \"ids\" (an array of job ids), \"state\" or \"age\"");
		return;
	}
	char *ids_json = iv ? msg_print(iv) : NULL;
	q.ids_json = ids_json;
	q.finished_before = age >= 0 ? util_wall() - age : 0;
	q.limit = limit;
	int64_t k[5];
	int64_t n = store_forget(ms->store, &q, k);
	free(ids_json);
	if (n < 0) {
		call_error(c, "internal", "forget failed: %s", store_errmsg(ms->store));
		return;
	}
	for (int i = MJOB_COMPLETED; i <= MJOB_CANCELLED; i++)
		ms->counts[i] -= k[i];
	if (n)
		log_info("forgot %lld final jobs (%lld completed, %lld failed, %lld cancelled)", (long long)n,
			 (long long)k[MJOB_COMPLETED], (long long)k[MJOB_FAILED], (long long)k[MJOB_CANCELLED]);
	msg *r = call_new_reply(c, "forgotten");
	msg_set_int(r, "n", n);
	msg_set_int(r, "completed", k[MJOB_COMPLETED]);
	msg_set_int(r, "failed", k[MJOB_FAILED]);
	msg_set_int(r, "cancelled", k[MJOB_CANCELLED]);
	msg_set_bool(r, "more", n == limit);
	call_reply(c, r);
}

/* `explain`: why job "id" is where it is -- for a queued one, what it
 * waits for (sched_explain: its dependencies, a free slot, the CPUs, GPUs
 * or memory it asked for, or that no connected worker could ever run it:
 * "never"); for a running one, the GPUs it was given. */
void query_explain(struct call *c, msg *m)
{
	struct master *ms = c->m;
	int64_t id;
	if (msg_get_int(m, "id", &id) || id <= 0) {
		call_error(c, "bad_request", "explain needs \"id\": a job id");
		return;
	}
	const struct mjob *j = sched_find(&ms->sched, id);
	int state = j ? -1 : store_state(ms->store, id);
	struct arrays_view av;
	int tail = j || state >= 0 ? -1 : arrays_tail_state(ms, id, &av);
	if (tail >= 0) { /* a member of a job array without a row yet */
		msg *r = call_new_reply(c, "explain");
		char why[300];
		if (tail == MJOB_CANCELLED)
			snprintf(why, sizeof why, "it is cancelled (with its job array %lld)", (long long)av.first);
		else
			snprintf(why, sizeof why,
				 "it is task %lld of job array %lld, waiting for its turn: the array's members are "
				 "handed to the scheduler in order while fewer than %d jobs are queued",
				 (long long)arrays_task(&av, id), (long long)av.first, ARRAYS_AHEAD);
		msg_set_int(r, "id", id);
		msg_set_str(r, "state", mjob_state_name(tail));
		msg_set_str(r, "why", why);
		msg_set_int(r, "array", av.first);
		call_reply(c, r);
		return;
	}
	if (!j && state < 0) {
		call_error(c, "unknown_job", "job %lld does not exist (or was forgotten)", (long long)id);
		return;
	}
	msg *r = call_new_reply(c, "explain");
	msg_set_int(r, "id", id);
	char why[300];
	if (!j) {
		msg_set_str(r, "state", mjob_state_name(state));
		snprintf(why, sizeof why, "it is %s", mjob_state_name(state));
		msg_set_str(r, "why", why);
		call_reply(c, r);
		return;
	}
	int never = sched_explain(&ms->sched, j, why, sizeof why);
	const char *st = j->where != MJOB_ASSIGNED ? "queued" : (j->flags & MJOB_F_STARTED) ? "running" : "prefetched";
	msg_set_str(r, "state", st);
	msg_set_str(r, "why", why);
	msg_set_bool(r, "never", never);
	struct mjob_res res;
	if (mjob_res_get(j, &res)) {
		msg *o = msg_new_object();
		msg_set_int(o, "cpus", res.cpus);
		msg_set_int(o, "gpus", res.gpus);
		msg_set_int(o, "mem", (int64_t)res.mem_b);
		msg_add(r, "res", o);
	}
	if (j->worker && res.gpu_mask && j->worker->res) {
		struct buf b = BUF_INIT;
		if (mres_gpus_json(j->worker->res, res.gpu_mask, &b) == 0 && buf_add(&b, "", 1) == 0)
			msg_add(r, "gpus", msg_new_raw(b.p));
		buf_release(&b);
	}
	if (j->worker)
		msg_set_str(r, "worker", wrk_of(j->worker)->wid);
	call_reply(c, r);
}
