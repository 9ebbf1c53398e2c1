/* SPDX-License-Identifier: MIT */
/*
 * workers: the worker side of the master -- the registry of workers (by WID,
 * which survives reconnects), their messages (hello with held jobs and
 * unconfirmed results, started, result, revoked), the run times that size
 * prefetch windows, the scheduler callbacks that turn
 * assignments, requeues and steals into SQL and frames, and what happens
 * when a worker is lost or, after a master restart, never comes back.
 */
#include "master.h"
#include "types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jscan.h"
#include "log.h"
#include "util.h"

/* ---- registry ---- */

struct wrk *workers_find(struct master *m, const char *wid)
{
	for (struct wrk *w = m->workers; w; w = w->next)
		if (strcmp(w->wid, wid) == 0)
			return w;
	return NULL;
}

struct wrk *workers_new(struct master *m, const char *wid)
{
	struct wrk *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->m = m;
	w->sw.idx = UINT32_MAX;
	util_strlcpy(w->wid, wid, sizeof w->wid);
	fbuf_init(&w->assign, "{\"t\":\"assign\",\"jobs\":[", "]}");
	fbuf_init(&w->result_ok, "{\"t\":\"result_ok\",\"ids\":[", "]}");
	fbuf_init(&w->revoke_cancel, "{\"t\":\"revoke\",\"why\":\"cancel\",\"ids\":[", "]}");
	fbuf_init(&w->revoke_steal, "{\"t\":\"revoke\",\"why\":\"steal\",\"ids\":[", "]}");
	w->since = w->last_seen = util_wall();
	w->next = m->workers;
	if (m->workers)
		m->workers->prev = w;
	m->workers = w;
	return w;
}

static void wrk_free(struct wrk *w)
{
	sched_worker_release(&w->sw); /* its pool set, if larger than fits in it */
	mres_worker_free(w->sw.res);
	free(w->envs_sent);
	fbuf_release(&w->assign);
	fbuf_release(&w->result_ok);
	fbuf_release(&w->revoke_cancel);
	fbuf_release(&w->revoke_steal);
	free(w);
}

uint32_t workers_max_slots(const struct master *m)
{
	uint32_t most = 0;
	for (const struct wrk *w = m->workers; w; w = w->next)
		if (w->peer && w->sw.slots > most)
			most = w->sw.slots;
	return most;
}

void workers_release(struct master *m)
{
	struct wrk *w = m->workers;
	while (w) {
		struct wrk *next = w->next;
		wrk_free(w);
		w = next;
	}
	m->workers = NULL;
	for (w = m->dirty_workers; w;) {
		struct wrk *next = w->dirty_next;
		if (w->dead)
			wrk_free(w);
		w = next;
	}
	m->dirty_workers = NULL;
}

void workers_dirty(struct wrk *w)
{
	if (w->dirty)
		return;
	w->dirty = 1;
	w->dirty_next = w->m->dirty_workers;
	w->m->dirty_workers = w;
	master_touch(w->m);
}

void workers_flush(struct master *m, int seal)
{
	struct wrk *w = m->dirty_workers, *keep = NULL;
	m->dirty_workers = NULL;
	while (w) {
		struct wrk *next = w->dirty_next;
		w->dirty = 0;
		w->dirty_next = NULL;
		if (w->dead) {
			wrk_free(w);
		} else {
			struct conn *c = w->peer && !w->peer->out.closed ? w->peer->conn : NULL;
			fbuf_send(&w->assign, c);
			fbuf_send(&w->revoke_cancel, c);
			fbuf_send(&w->revoke_steal, c);
			if (seal) {
				fbuf_gate(&w->result_ok, c ? &w->peer->out : NULL);
			} else if (!fbuf_empty(&w->result_ok)) {
				w->dirty = 1; /* confirmations wait for the next seal */
				w->dirty_next = keep;
				keep = w;
			}
		}
		w = next;
	}
	m->dirty_workers = keep;
}

/* Why w is gone, for the log and `status`: what the worker said (its
 * `leaving`, and the `drain` before it), else what ended its connection
 * (conn's text: "ADDR closed the connection" when the process died or was
 * killed, "read from ADDR failed: connection reset by peer", "ADDR silent
 * for N s (heartbeat timeout)"), else why. Fills rec's cause and reason. */
static void lost_reason(const struct wrk *w, const char *why, int orphan, struct lost_worker *rec)
{
	const char *what = why && *why ? why : "no reason known";
	if (w->told_exit) {
		rec->cause = "released";
		snprintf(rec->reason, sizeof rec->reason, "released by the autoscaler (idle)%s%s",
			 w->leave_why[0] ? "; it said: " : "", w->leave_why);
	} else if (w->leave_why[0]) {
		rec->cause = "exited";
		snprintf(rec->reason, sizeof rec->reason, "the worker exited: %s%s%s%s", w->leave_why,
			 w->drain_why[0] ? " (it drained: " : "", w->drain_why, w->drain_why[0] ? ")" : "");
	} else if (orphan) {
		rec->cause = "not_back";
		snprintf(rec->reason, sizeof rec->reason, "%s", what);
	} else {
		rec->cause = "connection";
		snprintf(rec->reason, sizeof rec->reason, "connection ended without a word from the worker: %s%s%s%s",
			 what, w->drain_why[0] ? " (while draining: " : "", w->drain_why, w->drain_why[0] ? ")" : "");
	}
}

static void lost_record(struct wrk *w, const char *why, int orphan)
{
	struct master *m = w->m;
	struct lost_worker *rec = &m->lost[m->nlost % MASTER_LOST_KEEP];
	memset(rec, 0, sizeof *rec);
	util_strlcpy(rec->wid, w->wid, sizeof rec->wid);
	util_strlcpy(rec->node, w->node, sizeof rec->node);
	util_strlcpy(rec->slurm_job, w->slurm_job, sizeof rec->slurm_job);
	rec->pid = w->pid;
	rec->rank = w->rank;
	rec->at = util_wall();
	rec->jobs = w->sw.nassigned;
	lost_reason(w, why, orphan, rec);
	m->nlost++;
	m->losing = rec;
}

static void lost_log(struct master *m, const struct lost_worker *rec)
{
	log_warn("worker %s lost (node %s, pid %ld, rank %d%s%s): %s; of its %u jobs %u requeued, %u failed (out of "
		 "retries)",
		 rec->wid, rec->node[0] ? rec->node : "?", rec->pid, rec->rank, rec->slurm_job[0] ? ", Slurm job " : "",
		 rec->slurm_job, rec->reason, rec->jobs, rec->requeued, rec->failed);
	int connected = 0;
	for (const struct wrk *w = m->workers; w && !connected; w = w->next)
		connected = w->peer != NULL;
	if (!connected && m->sched.nqueued)
		log_warn("no worker is connected and %llu jobs are queued: nothing runs until workers connect "
			 "(mtslurm add-workers -n N)",
			 (unsigned long long)m->sched.nqueued);
}

static void workers_drop(struct wrk *w, const char *why, int orphan)
{
	struct master *m = w->m;
	lost_record(w, why, orphan);
	m->lost_wid = w->wid;
	store_worker_down(m->store, w->wid);
	sched_worker_lost(&m->sched, &w->sw, w->wid);
	m->lost_wid = NULL;
	if (w->prev)
		w->prev->next = w->next;
	else
		m->workers = w->next;
	if (w->next)
		w->next->prev = w->prev;
	if (w->peer) {
		w->peer->worker = NULL;
		w->peer = NULL;
	}
	lost_log(m, m->losing);
	m->losing = NULL;
	if (w->dirty)
		w->dead = 1;
	else
		wrk_free(w);
	master_touch(m);
}

void workers_lost(struct wrk *w, const char *why)
{
	workers_drop(w, why, 0);
}

void workers_expire_orphans(struct master *m)
{
	struct wrk *w = m->workers;
	while (w) {
		struct wrk *next = w->next;
		if (!w->peer)
			workers_drop(w, "it did not reconnect within the grace period after the master restarted", 1);
		w = next;
	}
}

/* ---- deferred assignment records ---- */

struct pend_assign {
	int64_t id;
	uint64_t t_ms; /* uv_now() of the assignment */
	uint16_t attempts;
};

static void on_assign_timer(uv_timer_t *t)
{
	struct master *m = t->data;
	workers_flush_assigns(m, 0);
	if (!m->pa_n)
		uv_timer_stop(t);
	master_touch_quiet(m); /* commit what was written in this turn (it may wait for a gathering) */
}

double workers_assigned_at(const struct master *m, const struct mjob *j)
{
	return master_job_at(m, j->assigned_ms);
}

double workers_started_at(const struct master *m, const struct mjob *j)
{
	return j->flags & MJOB_F_STARTED ? workers_assigned_at(m, j) : 0;
}

/* j (assigned to w) started at unix time `at` by the worker's clock. From now
 * on j->assigned_ms is its start, on the master's monotonic clock: `at` is
 * taken as an age, clamped between the assignment and now, so a worker clock
 * that is off cannot put a start before its assignment or in the future. */
static void mark_started(struct master *m, struct mjob *j, double at, int write)
{
	uint32_t now = (uint32_t)uv_now(m->loop);
	uint32_t since_assign = now - j->assigned_ms;
	double ago_ms = (util_wall() - at) * 1e3;
	uint32_t ago = !(ago_ms > 0) ? 0 : ago_ms >= since_assign ? since_assign : (uint32_t)ago_ms;
	j->assigned_ms = now - ago;
	sched_started(&m->sched, j);
	/* An assignment older than the defer was (or is about to be) written
	 * with started NULL: write the start too. A younger one is written
	 * later with its start, or never (the final update carries it). */
	if (write && since_assign >= m->cfg.assign_defer_ms)
		store_started(m->store, j->id, j->attempts, workers_assigned_at(m, j));
}

static int pend_push(struct master *m, int64_t id, uint16_t attempts, uint64_t t_ms)
{
	if (m->pa_n == m->pa_cap) {
		size_t cap = m->pa_cap ? m->pa_cap * 2 : 1024;
		struct pend_assign *v = malloc(cap * sizeof *v);
		if (!v)
			return -1;
		for (size_t i = 0; i < m->pa_n; i++)
			v[i] = m->pa[(m->pa_head + i) % m->pa_cap];
		free(m->pa);
		m->pa = v;
		m->pa_cap = cap;
		m->pa_head = 0;
	}
	m->pa[(m->pa_head + m->pa_n++) % m->pa_cap] = (struct pend_assign){id, t_ms, attempts};
	if (m->assign_timer.data && !uv_is_active((uv_handle_t *)&m->assign_timer))
		uv_timer_start(&m->assign_timer, on_assign_timer, m->cfg.assign_defer_ms + 1,
			       m->cfg.assign_defer_ms + 1);
	return 0;
}

void workers_flush_assigns(struct master *m, int all)
{
	uint64_t now = uv_now(m->loop);
	while (m->pa_n) {
		struct pend_assign *e = &m->pa[m->pa_head];
		if (!all && now - e->t_ms < m->cfg.assign_defer_ms)
			break;
		struct mjob *j = sched_find(&m->sched, e->id);
		if (j && j->where == MJOB_ASSIGNED && j->attempts == e->attempts && j->worker)
			store_assign(m->store, e->id, e->attempts, wrk_of(j->worker)->wid,
				     j->flags & MJOB_F_STARTED ? workers_assigned_at(m, j) : -1);
		m->pa_head = (m->pa_head + 1) % m->pa_cap;
		m->pa_n--;
	}
	if (!m->pa_n) {
		free(m->pa);
		m->pa = NULL;
		m->pa_cap = m->pa_head = 0;
	}
}

/* ---- scheduler callbacks ---- */

/* Record an assignment: later, and only if the job still runs then. */
static void note_assign(struct master *m, struct mjob *j)
{
	uint64_t now = uv_now(m->loop);
	j->assigned_ms = (uint32_t)now;
	if (pend_push(m, j->id, j->attempts, now))
		store_assign(m->store, j->id, j->attempts, wrk_of(j->worker)->wid, -1);
}

/* Snapshots a worker may cache before the master asks it to start over
 * ("envreset"): bounds the worker's memory and the linear search here. */
#define WORKERS_ENVS_MAX 256

/* An exec job's environment snapshot: its id, and its contents the first
 * time this connection needs it (the worker caches them by id; ids are rows
 * of table envs, so they stay valid across a master restart). */
static void assign_env(struct master *m, struct wrk *w, struct buf *b, uint32_t id)
{
	buf_adds(b, ",\"envid\":");
	buf_add_i64(b, id);
	for (size_t i = 0; i < w->nenvs_sent; i++)
		if (w->envs_sent[i] == id)
			return;
	if (w->nenvs_sent == WORKERS_ENVS_MAX) {
		buf_adds(b, ",\"envreset\":true");
		w->nenvs_sent = 0;
	}
	int minimal = 0;
	struct buf vars = BUF_INIT;
	int got = store_env_get(m->store, id, &minimal, &vars);
	if (got != 1) {
		/* The job fails on the worker, saying its snapshot is missing. */
		log_error("environment snapshot %u of a job for %s: %s", (unsigned)id, w->wid,
			  got == 0 ? "no such row in table envs" : store_errmsg(m->store));
		buf_release(&vars);
		return;
	}
	buf_adds(b, ",\"envdef\":{\"base\":\"");
	buf_adds(b, minimal ? "none" : "all");
	buf_adds(b, "\",\"vars\":");
	buf_add(b, vars.p, vars.len);
	buf_add(b, "}", 1);
	buf_release(&vars);
	if (util_grow(&w->envs_sent, &w->cap_envs_sent, w->nenvs_sent, sizeof *w->envs_sent, 8))
		return; /* sent again next time */
	w->envs_sent[w->nenvs_sent++] = id;
}

static void cb_assign(void *arg, struct mjob *j)
{
	struct master *m = arg;
	struct wrk *w = wrk_of(j->worker);
	note_assign(m, j);
	if (fbuf_item(&w->assign))
		return;
	struct buf *b = &w->assign.b;
	buf_adds(b, "{\"id\":");
	buf_add_i64(b, j->id);
	buf_adds(b, ",\"a\":");
	buf_add_i64(b, j->attempts);
	buf_adds(b, ",\"type\":\"");
	buf_adds(b, mjob_kind_name(j->kind));
	buf_adds(b, "\",\"input\":");
	if (!mjob_input_stored(j)) {
		buf_add_json_str(b, mjob_input(j), j->input_len);
	} else if (store_input_json(m->store, j->id, b) != 1) {
		/* Only a failing disk or memory gets here (a live job's row is
		 * never forgotten). As when a commit fails, the master stops
		 * rather than send a wrong input: the job is still in state.db
		 * and the next master runs it. */
		log_error("cannot read the input of job %lld from %s: %s; stopping", (long long)j->id, m->db_path,
			  store_errmsg(m->store));
		fprintf(stderr, "mtslurm-master: cannot read job %lld's input from %s: %s; check the disk and restart\n",
			(long long)j->id, m->db_path, store_errmsg(m->store));
		_exit(1);
	}
	if (j->delay_s > 0)
		buf_addf(b, ",\"delay\":%.15g", j->delay_s);
	if (j->timeout_s > 0)
		buf_addf(b, ",\"timeout\":%.15g", j->timeout_s);
	if (j->ranks > 1)
		buf_addf(b, ",\"ranks\":%u", (unsigned)j->ranks);
	/* each found by skipping the strings before it (mjob.h): once */
	const char *target = mjob_target(j), *cwd = mjob_cwd(j), *env = mjob_env(j), *opts = mjob_opts(j);
	if (target) {
		buf_adds(b, ",\"target\":");
		buf_add_json_str(b, target, strlen(target));
	}
	if (cwd) {
		buf_adds(b, ",\"cwd\":");
		buf_add_json_str(b, cwd, strlen(cwd));
	}
	if (env) {
		buf_adds(b, ",\"env\":");
		buf_adds(b, env); /* JSON array text printed by msg_print */
	}
	if (opts) {
		buf_adds(b, ",\"opts\":");
		buf_adds(b, opts); /* a JSON object printed by msg_print (jobs.c) */
	}
	struct mjob_res res;
	if (mjob_res_get(j, &res) && res.gpu_mask && w->sw.res) {
		buf_adds(b, ",\"gpus\":");
		mres_gpus_json(w->sw.res, res.gpu_mask, b);
		if (w->sw.res->gpu_kind == RESOURCE_GPU_AMD)
			buf_adds(b, ",\"gpu_kind\":\"amd\"");
	}
	if (mjob_env_id(j))
		assign_env(m, w, b, mjob_env_id(j));
	buf_add(b, "}", 1);
	workers_dirty(w);
}

static void cb_requeue(void *arg, struct mjob *j)
{
	struct master *m = arg;
	if (m->losing)
		m->losing->requeued++;
	store_requeue(m->store, j->id, j->attempts);
}

static void cb_fail(void *arg, struct mjob *j, const char *error)
{
	struct master *m = arg;
	/* a lost worker's job out of retries counts; its dependents failing
	 * in turn (on_fail again, from jobs_finalize) do not */
	int count = m->losing && !m->losing_fail;
	if (count) {
		m->losing->failed++;
		m->losing_fail = 1;
	}
	jobs_finalize(m, j, MJOB_FAILED, NULL, 0, error, 0, 0);
	if (count)
		m->losing_fail = 0;
}

static void cb_steal(void *arg, struct sched_worker *sw, struct mjob *j)
{
	struct wrk *w = wrk_of(sw);
	(void)arg;
	if (fbuf_item(&w->revoke_steal))
		return;
	buf_addf(&w->revoke_steal.b, "%lld", (long long)j->id);
	workers_dirty(w);
}

const struct sched_cb workers_sched_cb = {NULL, cb_assign, cb_requeue, cb_fail, cb_steal};

/* ---- messages ---- */

/* j's function crashed its host on w (error says how): count it, and
 * requeue j below its crash limit (returns 1), else put the error for
 * failing it in out (returns 0). */
static int workers_crashed(struct wrk *w, struct mjob *j, const char *error, char *out, size_t n)
{
	struct master *m = w->m;
	unsigned limit = j->crash_limit ? j->crash_limit : 1;
	int again = sched_crashed(&m->sched, j);
	store_crashes(m->store, j->id, j->crashes);
	if (again) {
		log_warn("job %lld crashed its function host on %s (%s): crash %u of limit %u, queued again",
			 (long long)j->id, w->wid, error ? error : "?", (unsigned)j->crashes, limit);
		return 1;
	}
	snprintf(out, n, "%.500s (crash %u of limit %u: not retried)", error ? error : "crashed",
		 (unsigned)j->crashes, limit);
	return 0;
}

static int workers_on_frame(struct conn *cn, const char *json, size_t n);

/* One WRESULT (docs/protocol.md), read from its bytes: the one decoder of
 * it, for `result` frames and hello's "results" alike. Strings are copied
 * NUL-terminated into the two buffers (an absent one is NULL). has_rt,
 * has_st: the member is a number. */
struct wresult {
	int64_t id, a, rc;
	int ok, crash, rc_set, has_rt, has_st;
	double rt, st;
	const char *out, *err;
	size_t out_n;
};

/* The string v, if it is one, NUL-terminated in b; else NULL. */
static const char *wresult_str(const struct jscan_val *v, struct buf *b, size_t *n)
{
	const char *s;
	if (jscan_str(v, b, &s, n))
		return NULL; /* not a string (or out of memory: read as absent) */
	if (s != b->p) {
		buf_reset(b);
		if (buf_add(b, s, *n))
			return NULL;
	}
	return b->p;
}

/* 0, or -1 if e is not an object with an integral "id". */
static int wresult_read(const struct jscan_val *e, struct wresult *r, struct buf *outb, struct buf *errb)
{
	static const char *const keys[] = {"id", "a", "ok", "output", "error", "crash", "rc", "rt", "st"};
	struct jscan_val f[9];
	size_t en;
	if (jscan_fields(e, keys, f, 9) || jscan_int(&f[0], &r->id))
		return -1;
	r->a = 0;
	jscan_int(&f[1], &r->a);
	r->ok = f[2].type == JSCAN_TRUE;
	r->out_n = 0;
	r->out = wresult_str(&f[3], outb, &r->out_n);
	r->err = wresult_str(&f[4], errb, &en);
	r->crash = f[5].type == JSCAN_TRUE;
	r->rc_set = jscan_int(&f[6], &r->rc) == 0;
	r->has_rt = jscan_num(&f[7], &r->rt) == 0;
	r->has_st = jscan_num(&f[8], &r->st) == 0;
	return 0;
}

/* A result of j (assigned to w) arrived: measure its run time for w's
 * window, and mark it started if no `started` said so. A job reported
 * started ran the result's "rt" seconds. One not reported ended within the
 * worker's loop turn it started in: its run time counts as 0, and it started
 * at the result's "st" (it had waited in the worker's queue) or, without
 * one, on arrival (about when it was sent). */
static void note_run(struct wrk *w, struct mjob *j, const struct wresult *r)
{
	struct master *m = w->m;
	if (j->flags & MJOB_F_STARTED) {
		/* the worker's measure ("rt"), else ours, which adds the result's
		 * trip and this loop's delay */
		double rt = r->rt;
		if (!r->has_rt || !(rt >= 0))
			rt = ((uint32_t)uv_now(m->loop) - j->assigned_ms) / 1e3;
		sched_worker_runtime(&w->sw, rt * 1e6 >= (double)UINT32_MAX ? UINT32_MAX : (uint32_t)(rt * 1e6));
		return;
	}
	sched_worker_runtime(&w->sw, 0);
	if (r->has_st) {
		mark_started(m, j, r->st, 0); /* the final update writes it */
	} else {
		sched_started(&m->sched, j);
	}
}

/* Accept each WRESULT of the array arr (NULL: none) whose job is assigned
 * to w with that attempt; confirm all of them (an ignored result must be
 * forgotten by the worker too). Returns -1 on a malformed entry. */
static int handle_results(struct wrk *w, const struct jscan_val *arr, int adopt)
{
	/* the master's loop is its only thread that reads results */
	static struct buf outb = BUF_INIT, errb = BUF_INIT;
	struct master *m = w->m;
	if (!arr)
		return 0;
	if (arr->type != JSCAN_ARRAY)
		return -1;
	struct jscan_it it;
	struct jscan_val e;
	struct wresult r;
	uint32_t nres = 0;
	int rc = 0;
	/* results may wait for a gathering (server.c, gather_hold): what
	 * they touch does not make the next turn urgent */
	m->gather.quiet++;
	jscan_iter(&it, arr);
	while (jscan_next(&it, NULL, &e)) {
		if (wresult_read(&e, &r, &outb, &errb)) {
			rc = -1;
			break;
		}
		int64_t id = r.id, a = r.a;
		if (fbuf_item(&w->result_ok) == 0)
			buf_add_i64(&w->result_ok.b, id);
		struct mjob *j = sched_find(&m->sched, id);
		if (adopt && j && j->where == MJOB_INQUEUE && a >= j->attempts && a >= 1 && a <= UINT16_MAX &&
		    sched_adopt(&m->sched, j, &w->sw, (uint16_t)a) == 0)
			j->assigned_ms = (uint32_t)uv_now(m->loop);
		if (!j || j->where != MJOB_ASSIGNED || j->worker != &w->sw || j->attempts != a) {
			log_debug("ignoring result for job %lld attempt %lld from %s: not assigned to it", (long long)id,
				  (long long)a, w->wid);
			continue;
		}
		note_run(w, j, &r);
		const char *err = r.err;
		char crash_err[700];
		if (!r.ok && r.crash && workers_crashed(w, j, err, crash_err, sizeof crash_err))
			continue; /* queued again */
		if (!r.ok && r.crash)
			err = crash_err;
		w->sw.done++;
		nres++;
		m->worker_result_id = id; /* w keeps it until result_ok: its `done` may pass early */
		jobs_finalize(m, j, r.ok ? MJOB_COMPLETED : MJOB_FAILED, r.out, r.out ? r.out_n : 0,
			      r.ok ? NULL : (err && *err ? err : "failed"), r.rc_set, (int)r.rc);
		m->worker_result_id = 0;
	}
	workers_dirty(w);
	m->gather.quiet--;
	gather_note(m, nres);
	if (outb.cap > (1u << 20))
		buf_release(&outb); /* do not keep a huge output's buffer */
	return rc;
}

/* hello's "results" (a tree): read with the one WRESULT decoder above. */
static int hello_results(struct wrk *w, const msg *arr)
{
	if (!arr)
		return 0;
	char *text = msg_print(arr);
	struct jscan_val v;
	int r = text && jscan_check(text, strlen(text), &v, NULL, 0) == 0 ? handle_results(w, &v, 1) : -1;
	free(text);
	return r;
}

/* A job w holds runs on these GPUs (its hello's held entry): keep that as
 * its assignment (after a master restart the master did not know). */
static void held_gpus(struct wrk *w, struct mjob *j, const char *gpus)
{
	struct mjob_res r;
	if (!gpus || !w->sw.res || !mjob_res_get(j, &r))
		return;
	r.gpu_mask = mres_gpus_mask(w->sw.res, gpus);
	mjob_res_put(j, &r);
}

/* What a hello says about where w runs: host, node, Slurm job, pid, rank,
 * worker type and URL. */
static void hello_identity(struct wrk *w, const struct peer *p, const msg *m)
{
	int64_t pid = 0, rank = 0;
	msg_get_int(m, "pid", &pid);
	msg_get_int(m, "rank", &rank);
	util_strlcpy(w->host, msg_get_str(m, "host") ? msg_get_str(m, "host") : conn_peer(p->conn), sizeof w->host);
	util_strlcpy(w->node, msg_get_str(m, "node") ? msg_get_str(m, "node") : "", sizeof w->node);
	util_strlcpy(w->slurm_job, msg_get_str(m, "slurm_job") ? msg_get_str(m, "slurm_job") : "",
		     sizeof w->slurm_job);
	w->pid = (long)pid;
	w->rank = (int)rank;
	w->since = w->last_seen = util_wall();
	const char *wtype = msg_get_str(m, "wtype"), *url = msg_get_str(m, "url");
	util_strlcpy(w->wtype, wtype && strlen(wtype) <= TYPES_NAME_MAX ? wtype : "", sizeof w->wtype);
	util_strlcpy(w->url, url ? url : "", sizeof w->url);
}

struct hello_counts {
	size_t kept, revoked, returned, adopted;
};

/* Reconcile what w says it holds (its hello's "held") with what we think it
 * holds: a held job we assigned it stays; one queued here with that attempt
 * (assigned just before a master restart, never written) is adopted; any
 * other is revoked; and a job we think it holds that it does not is queued
 * again, since it never reached the worker. */
static void hello_reconcile(struct wrk *w, const msg *held, struct hello_counts *n)
{
	struct master *ms = w->m;
	for (msg *h = msg_child(held); h; h = msg_next(h)) {
		int64_t id, a = 0;
		if (msg_get_int(h, "id", &id))
			continue;
		msg_get_int(h, "a", &a);
		struct mjob *j = sched_find(&ms->sched, id);
		if (j && j->where == MJOB_INQUEUE && a >= j->attempts && a >= 1 && a <= UINT16_MAX &&
		    sched_adopt(&ms->sched, j, &w->sw, (uint16_t)a) == 0) {
			note_assign(ms, j);
			n->adopted++;
		}
		if (j && j->where == MJOB_ASSIGNED && j->worker == &w->sw && j->attempts == a) {
			j->flags |= MJOB_F_MARK;
			n->kept++;
			held_gpus(w, j, msg_get_str(h, "gpus"));
			double st;
			if (msg_get_num(h, "st", &st) == 0 && !(j->flags & MJOB_F_STARTED))
				mark_started(ms, j, st, 1); /* running there, since st */
		} else if (fbuf_item(&w->revoke_cancel) == 0) {
			buf_addf(&w->revoke_cancel.b, "%lld", (long long)id);
			n->revoked++;
		}
	}
	for (struct mjob *j = w->sw.head, *next; j; j = next) {
		next = j->next;
		if (j->flags & MJOB_F_MARK) {
			j->flags &= (uint8_t)~MJOB_F_MARK;
		} else {
			sched_unassign(&ms->sched, j, 1);
			n->returned++;
		}
	}
	if (w->sw.res)
		sched_worker_set_res(&ms->sched, &w->sw, w->sw.res); /* with the GPUs its jobs run on */
}

/* The hello's checks that need no state: NULL if it is well formed, else
 * what is wrong with it (the connection is closed with that). */
static const char *hello_check(const msg *m, int64_t *slots)
{
	const char *wid = msg_get_str(m, "worker");
	if (!wid || !*wid || strlen(wid) > MASTER_WID_MAX)
		return "worker hello needs \"worker\": an id of 1 to 128 characters";
	if (msg_has(m, "slots") && (msg_get_int(m, "slots", slots) || *slots < 1 || *slots > 1000000))
		return "worker hello: \"slots\" must be an integer from 1 to 1000000";
	return NULL;
}

/* w (its connection the peer p) takes over from any older connection of the
 * same worker id. */
static void hello_attach(struct wrk *w, struct peer *p)
{
	if (w->peer && w->peer != p) {
		struct peer *old = w->peer;
		old->worker = NULL;
		w->peer = NULL;
		if (old->conn)
			conn_close(old->conn, NULL, "replaced by a new connection of the same worker");
	}
	w->nenvs_sent = 0; /* a new connection has been sent no snapshot */
	w->peer = p;
	p->worker = w;
}

static void on_hello(struct call *c, msg *m)
{
	struct peer *p = c->peer;
	struct master *ms = p->m;
	int64_t slots = 1;
	const char *bad = hello_check(m, &slots), *wid = msg_get_str(m, "worker");
	if (bad || p->worker) {
		conn_close(p->conn, bad ? "bad_message" : "protocol", bad ? bad : "second hello on one worker connection");
		return;
	}
	char rerr[200];
	struct mres_worker *res = mres_worker_from_hello(m, rerr, sizeof rerr);
	if (!res && rerr[0]) {
		conn_close(p->conn, "bad_message", rerr);
		return;
	}
	struct wrk *w = workers_find(ms, wid);
	if (!w && !(w = workers_new(ms, wid))) {
		mres_worker_free(res);
		conn_close(p->conn, NULL, "out of memory");
		return;
	}
	int reclaimed = w->sw.nassigned > 0;
	store_worker_up(ms->store, wid, util_wall());
	hello_attach(w, p);
	hello_identity(w, p, m);
	conn_set_on_frame(p->conn, workers_on_frame);
	/* The largest window: at least 64 prefetched jobs, because with tiny
	 * jobs throughput is window / (round trip + group commit). The window
	 * in use is sized from measured run times (sched.h), so long jobs are
	 * not prefetched; stealing hands unstarted jobs back to idle workers. */
	uint32_t prefetch = ms->cfg.prefetch != UINT32_MAX ? ms->cfg.prefetch
			    : slots > MASTER_PREFETCH_MIN ? (uint32_t)slots : MASTER_PREFETCH_MIN;
	sched_worker_add(&ms->sched, &w->sw, (uint32_t)slots, prefetch);
	struct mres_worker *old_res = w->sw.res;
	sched_worker_set_res(&ms->sched, &w->sw, res); /* what it holds keeps its share */
	mres_worker_free(old_res);
	types_worker_pools(ms, w); /* a worker of a worker type serves its job types' pools only */
	if (hello_results(w, msg_get(m, "results"))) {
		conn_close(p->conn, "bad_message", "hello: \"results\" must be an array of {\"id\",\"a\",...}");
		return;
	}
	struct hello_counts n = {0};
	hello_reconcile(w, msg_get(m, "held"), &n);
	msg *r = msg_new_typed("hello_ok");
	msg_set_str(r, "worker", wid);
	msg_set_int(r, "prefetch", prefetch);
	struct workertype *wt = w->wtype[0] ? types_worker(ms, w->wtype) : NULL;
	if (wt)
		msg_add(r, "wtype", types_worker_msg(wt));
	conn_send(p->conn, r);
	if (msg_get_bool(m, "draining", 0))
		sched_worker_drain(&ms->sched, &w->sw);
	double end = 0;
	if (msg_get_num(m, "end", &end) == 0 && end > 0)
		w->sw.end = end;
	workers_dirty(w);
	log_info("worker %s connected from %s: %lld slots, prefetch %u%s; held %zu kept (%zu found queued), %zu "
		 "revoked, %zu requeued",
		 wid, conn_peer(p->conn), (long long)slots, prefetch, reclaimed ? " (reclaimed its jobs)" : "", n.kept,
		 n.adopted, n.revoked, n.returned);
}

/* `started`: jobs the worker started that were still running at the end of
 * that loop turn, each {"id","a","at"}. A start of a job no longer assigned
 * to this worker with that attempt is ignored. */
static void on_started(struct call *c, msg *m)
{
	struct peer *p = c->peer;
	struct wrk *w = p->worker;
	msg *jobs = msg_get(m, "jobs");
	if (!msg_is_array(jobs)) {
		conn_close(p->conn, "bad_message", "started needs \"jobs\": an array of {\"id\",\"a\",\"at\"}");
		return;
	}
	for (msg *e = msg_child(jobs); e; e = msg_next(e)) {
		int64_t id = 0, a = 0;
		double at = 0;
		if (msg_get_int(e, "id", &id) || msg_get_int(e, "a", &a) || msg_get_num(e, "at", &at))
			continue;
		struct mjob *j = sched_find(&p->m->sched, id);
		if (j && j->where == MJOB_ASSIGNED && j->worker == &w->sw && j->attempts == a &&
		    !(j->flags & MJOB_F_STARTED))
			mark_started(p->m, j, at, 1);
	}
	master_touch_quiet(p->m); /* a start may wait for a gathering */
}

static void on_revoked(struct call *c, msg *m)
{
	struct peer *p = c->peer;
	struct wrk *w = p->worker;
	msg *ids = msg_get(m, "ids");
	if (!msg_is_array(ids)) {
		conn_close(p->conn, "bad_message", "revoked needs \"ids\": an array of job ids");
		return;
	}
	size_t n = msg_size(ids), k = 0;
	int64_t *v = malloc((n ? n : 1) * sizeof *v);
	if (!v)
		return;
	for (msg *e = msg_child(ids); e; e = msg_next(e))
		if (msg_is_num(e))
			v[k++] = msg_int(e);
	sched_revoked(&p->m->sched, &w->sw, v, k);
	free(v);
	master_touch(p->m);
}

/* The worker says it exits and why (docs/protocol.md, `leaving`): kept
 * for the log line and `status` entry when its connection ends. */
static void on_leaving(struct call *c, msg *m)
{
	struct wrk *w = c->peer->worker;
	const char *why = msg_get_str(m, "why");
	int64_t code = 0;
	int has_code = msg_get_int(m, "code", &code) == 0 && code != 0;
	char text[sizeof w->leave_why];
	snprintf(text, sizeof text, "%.250s%s", why && *why ? why : "no reason given", has_code ? " (exit code " : "");
	if (has_code)
		snprintf(text + strlen(text), sizeof text - strlen(text), "%lld)", (long long)code);
	util_strlcpy(w->leave_why, text, sizeof w->leave_why);
	log_info("worker %s is leaving: %s", w->wid, w->leave_why);
}

static const char result_bad[] = "result needs \"jobs\": an array of {\"id\",\"a\",\"ok\",...}";

/* A `result` that workers_on_frame did not take (jscan refused its text):
 * its "jobs" printed back and read like the others. */
static void on_result(struct call *c, msg *m)
{
	if (hello_results(c->peer->worker, msg_get(m, "jobs")))
		conn_close(c->peer->conn, "bad_message", result_bad);
}

/* A worker's `result` frame, read from its bytes (jscan.h) without a tree;
 * 0 for any other frame, which conn parses for on_msg. */
static int workers_on_frame(struct conn *cn, const char *json, size_t n)
{
	struct peer *p = conn_data(cn);
	struct jscan_val root, t, jobs;
	if (!p || p->out.closed || p->m->stopped || !p->worker || jscan_check(json, n, &root, NULL, 0) ||
	    !jscan_get(&root, "t", &t) || !jscan_str_is(&t, "result"))
		return 0;
	p->worker->last_seen = util_wall();
	if (handle_results(p->worker, jscan_get(&root, "jobs", &jobs) ? &jobs : NULL, 0))
		conn_close(cn, "bad_message", result_bad);
	return 1;
}

/* `ends`: its Slurm job's end; jobs asking for more time go elsewhere. */
static void on_ends(struct call *c, msg *m)
{
	double at = 0;
	if (msg_get_num(m, "at", &at) == 0 && at > 0)
		c->peer->worker->sw.end = at;
}

/* `drain`: no more jobs for it; the queued ones it lists come back. */
static void on_drain(struct call *c, msg *m)
{
	struct wrk *w = c->peer->worker;
	const char *why = msg_get_str(m, "why");
	log_info("worker %s drains (%s)", w->wid, why ? why : "no reason given");
	util_strlcpy(w->drain_why, why && *why ? why : "no reason given", sizeof w->drain_why);
	sched_worker_drain(&c->m->sched, &w->sw);
	if (msg_is_array(msg_get(m, "ids")))
		on_revoked(c, m);
	master_touch(c->m);
}

/* What workers send (docs/protocol.md), sorted by name; all but hello
 * need the worker's hello first (CALL_CLIENT stands for that here). */
static const struct call_handler worker_calls[] = {
	{"drain", on_drain, CALL_CLIENT},
	{"ends", on_ends, CALL_CLIENT},
	{"hello", on_hello, 0},
	{"leaving", on_leaving, CALL_CLIENT},
	{"result", on_result, CALL_CLIENT | CALL_WRITES},
	{"revoked", on_revoked, CALL_CLIENT},
	{"started", on_started, CALL_CLIENT},
};
const struct call_handler *const workers_calls = worker_calls;
const size_t workers_ncalls = sizeof worker_calls / sizeof worker_calls[0];

void workers_on_msg(struct peer *p, msg *m, const struct call_sink *sink)
{
	struct call c = {.m = p->m, .peer = p, .out = &p->out, .sink = sink};
	const struct call_handler *h = call_find(worker_calls, workers_ncalls, msg_type(m));
	if (h && (h->flags & CALL_CLIENT)) {
		if (!p->worker) {
			conn_close(p->conn, "protocol", "a worker must send hello first");
			return;
		}
		p->worker->last_seen = util_wall();
	}
	c.has_req = msg_get_int(m, "req", &c.req) == 0;
	if (h) {
		h->fn(&c, m);
	} else {
		call_unknown(&c, worker_calls, workers_ncalls, "a worker", msg_type(m));
	}
}
