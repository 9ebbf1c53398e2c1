/* SPDX-License-Identifier: MIT */
/*
 * worker: the worker runtime -- see worker.h. The hot path is an `assign` of
 * many echo jobs, read from the frame's bytes (jscan.h, no tree): each is
 * answered without allocating a job (output = input),
 * its WRESULT text is encoded once, kept until `result_ok`, and all results of
 * one loop turn leave in one `result` frame, sent from an idle callback (an
 * active idle handle keeps the loop from sleeping before the flush, and idle
 * runs before conn's prepare-phase writer, so the frame still goes out this
 * turn). A stream of short jobs with more queued (exec `true`: one ends per
 * turn) has its results held up to RHOLD_US (rhold.h) so that several share
 * a frame; a lone job's result never waits.
 *
 * Starts: the master counts a job as running (not prefetched) and records
 * its start once told. A job still running at the end of the loop turn it
 * started in is listed in one `started` frame per turn (from the same idle
 * callback); a job that ends within that turn needs no message: its result
 * says it all, with "st" if it did not start on arrival (it waited in the
 * queue). So the tiny-job path sends nothing more.
 *
 * Ownership: the worker owns queued and running jobs (in `jobs`, by id) and
 * the unconfirmed results (in `results`, by id). A result record may also sit
 * in the send queue; it is freed when it is in neither.
 */
#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "batch.h"
#include "buf.h"
#include "conn.h"
#include "envcache.h"
#include "exec.h"
#include "func.h"
#include "gitcache.h"
#include "gitstep.h"
#include "idmap.h"
#include "job.h"
#include "cgroup.h"
#include "joblog.h"
#include "jscan.h"
#include "log.h"
#include "nametab.h"
#include "msg.h"
#include "resource.h"
#include "rundir.h"
#include "tlsid.h"
#include "typed.h"
#include "util.h"
#include "wapi.h"
#include "worker_int.h"

static void pump(struct worker *w);
static void maybe_drained(struct worker *w);
static void exit_now(struct worker *w, int code, const char *why);
static void try_connect(struct worker *w);
static void maybe_finished(struct worker *w);
static void on_flush(uv_idle_t *h);
static void send_started(struct worker *w);
static void on_retry_timer(uv_timer_t *t);

/* ---- small helpers ---- */

static void kick(struct worker *w)
{
	if (!uv_is_active((uv_handle_t *)&w->flush_idle) && !w->stopping)
		uv_idle_start(&w->flush_idle, on_flush);
}

static void q_push(struct worker *w, struct job *j)
{
	j->next = NULL;
	j->prev = w->qtail;
	if (w->qtail)
		w->qtail->next = j;
	else
		w->qhead = j;
	w->qtail = j;
	w->nqueued++;
}

static void q_remove(struct worker *w, struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		w->qhead = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		w->qtail = j->prev;
	j->prev = j->next = NULL;
	w->nqueued--;
}

static void wres_release(struct wres *r)
{
	if (!r->in_map && !r->queued)
		free(r);
}

/* ---- results ---- */

/* Keep and queue the WRESULT of (id, attempt). started_at > 0 adds "st": a
 * start the master was not told otherwise; run_s >= 0 adds "rt": the run
 * time of a job whose start it was told (the master sizes prefetch windows
 * from it; its own clock would add the result's trip and its loop's delay). */
static void record_result(struct worker *w, int64_t id, int attempt, const struct job_result *r,
			  double started_at, double run_s)
{
	w->st.finished++;
	if (w->exiting || w->stopping)
		return;
	buf_reset(&w->scratch);
	int rc = job_result_json(&w->scratch, id, attempt, r);
	if (rc == 0 && started_at > 0) {
		w->scratch.len--; /* reopen the object: drop its closing brace */
		rc = buf_addf(&w->scratch, ",\"st\":%.6f}", started_at);
	}
	if (rc == 0 && run_s >= 0) {
		w->scratch.len--;
		rc = buf_addf(&w->scratch, ",\"rt\":%.6f}", run_s);
	}
	if (rc < 0) {
		log_error("out of memory encoding the result of job %lld", (long long)id);
		return;
	}
	struct wres *rec = malloc(sizeof(*rec) + w->scratch.len + 1);
	if (!rec) {
		log_error("out of memory keeping the result of job %lld", (long long)id);
		return;
	}
	rec->id = id;
	rec->len = w->scratch.len;
	memcpy(rec->json, w->scratch.p, w->scratch.len + 1);
	struct wres *old = idmap_get(&w->results, id);
	if (idmap_put(&w->results, id, rec) < 0) {
		free(rec);
		log_error("out of memory keeping the result of job %lld", (long long)id);
		return;
	}
	if (old) {
		/* an older attempt's result, superseded: the master wants the new one */
		old->in_map = 0;
		wres_release(old);
	}
	rec->in_map = 1;
	rec->queued = 1;
	rec->next = NULL;
	if (w->sq_tail)
		w->sq_tail->next = rec;
	else
		w->sq_head = rec;
	w->sq_tail = rec;
	w->nsq++;
	kick(w);
}

/* Forget the send queue (its records stay in the map if unconfirmed). */
static void sq_clear(struct worker *w)
{
	struct wres *r = w->sq_head, *next;
	for (; r; r = next) {
		next = r->next;
		r->queued = 0;
		wres_release(r);
	}
	w->sq_head = w->sq_tail = NULL;
	w->nsq = 0;
}

static void send_results(struct worker *w)
{
	struct buf *f = &w->frame;
	static const char head[] = "{\"t\":\"result\",\"jobs\":[";
	while (w->sq_head) {
		buf_reset(f);
		if (buf_add(f, head, sizeof(head) - 1) < 0)
			return;
		int first = 1;
		while (w->sq_head && f->len < FRAME_SPLIT_BYTES) {
			struct wres *r = w->sq_head;
			if ((!first && buf_add(f, ",", 1) < 0) || buf_add(f, r->json, r->len) < 0)
				return; /* out of memory: try again next turn */
			first = 0;
			w->sq_head = r->next;
			if (!w->sq_head)
				w->sq_tail = NULL;
			r->queued = 0;
			wres_release(r);
			w->nsq--;
			w->st.results_sent++;
		}
		if (buf_add(f, "]}", 2) < 0 || conn_send_json(w->conn, f->p, f->len) < 0)
			return; /* the records stay in the map: the next hello carries them */
	}
}

/* This turn's starts and the results in hand, to the master. */
static void flush_send(struct worker *w)
{
	if (w->nstarts) {
		if (w->cs == CS_ACTIVE)
			send_started(w);
		else
			w->nstarts = 0; /* the next hello lists running jobs with their start */
	}
	if (w->cs == CS_ACTIVE && w->sq_head)
		send_results(w);
	rhold_sent(&w->hold, uv_hrtime() / 1000);
	uv_timer_stop(&w->hold_timer);
	if (w->frame.cap > (1u << 20))
		buf_release(&w->frame); /* do not keep a huge buffer after a burst */
}

static void on_hold_timer(uv_timer_t *t)
{
	struct worker *w = t->data;
	if (!w->stopping)
		flush_send(w);
}

static void on_flush(uv_idle_t *h)
{
	struct worker *w = h->data;
	uv_idle_stop(h);
	if (w->jl && joblog_writer_pending(w->jl) && joblog_writer_flush(w->jl) < 0 && !w->jl_failed) {
		w->jl_failed = 1; /* the log is best effort: say so once */
		log_error("%s", joblog_writer_error(w->jl));
	}
	if (!w->nstarts && !w->sq_head)
		return;
	uint64_t ms = w->cs == CS_ACTIVE ? rhold_wait(&w->hold, uv_hrtime() / 1000, w->qhead != NULL, w->nsq) : 0;
	if (!ms)
		flush_send(w);
	else if (!uv_is_active((uv_handle_t *)&w->hold_timer))
		uv_timer_start(&w->hold_timer, on_hold_timer, ms, 0);
}

/* ---- jobs ---- */

static void on_timer_closed(uv_handle_t *h)
{
	struct job_timer *t = h->data;
	struct worker *w = t->w;
	free(t);
	w->timers_open--;
	maybe_finished(w);
}

/* Forget a job that was queued or running: out of the map, slot freed. */
static void disarm_timer(struct job *j)
{
	if (j->timer) {
		uv_timer_stop(&j->timer->h);
		j->timer->j = NULL;
		uv_close((uv_handle_t *)&j->timer->h, on_timer_closed);
		j->timer = NULL;
	}
}

static void drop_job(struct worker *w, struct job *j)
{
	if (j->kind == JOB_TYPED && j->run)
		typed_abandon(w->typed, j); /* its process or host is stopped, no result */
	if (idmap_get(&w->jobs, j->id) == j)
		idmap_del(&w->jobs, j->id);
	if (j->state == JOB_RUNNING)
		w->running -= j->ranks;
	disarm_timer(j);
	job_free(j);
}

/* Every executor's completion: keep the result, free the slot, start more. */
static void job_done(void *arg, struct job *j, const struct job_result *r)
{
	struct worker *w = arg;
	/* a job that waited here, whose start the master was not told */
	int st = j->started_at > 0 && !j->on_arrival && !j->start_told;
	double rt = -1; /* no "rt" unless the master was told the start */
	if (j->start_told) {
		rt = util_wall() - j->started_at;
		if (rt < 0)
			rt = 0; /* the clock stepped back */
	}
	record_result(w, j->id, j->attempt, r, st ? j->started_at : 0, rt);
	drop_job(w, j);
	if (!w->pumping)
		pump(w);
	maybe_drained(w);
}

static void fail_job(struct worker *w, struct job *j, const char *error)
{
	struct job_result r = {0, NULL, 0, error, -1, 0, NULL, 0};
	job_done(w, j, &r);
}

static void on_job_timer(uv_timer_t *h)
{
	struct job_timer *t = h->data;
	struct job *j = t->j;
	if (!j)
		return;
	struct worker *w = t->w;
	char why[64];
	snprintf(why, sizeof(why), "timed out after %g s", j->timeout_s);
	if (j->kind == JOB_ECHO) {
		if (j->timeout_s > 0 && j->timeout_s < j->delay_s) {
			fail_job(w, j, why);
		} else {
			struct job_result r = {1, j->input, j->input_len, NULL, 0, 0, NULL, 0};
			job_done(w, j, &r);
		}
	} else if (j->kind == JOB_FUNC) {
		func_abandon(w->func, j); /* kills its host: nothing of the call keeps running */
		fail_job(w, j, why);
	} else if (j->kind == JOB_EXEC && j->gitwait) {
		char gwhy[200];
		snprintf(gwhy, sizeof gwhy, "timed out after %g s waiting for its git checkout (clone, checkout and "
			 "setup command count against --timeout)", j->timeout_s);
		fail_job(w, j, gwhy); /* the checkout goes on for the jobs that still want it */
	}
}

static int arm_timer(struct worker *w, struct job *j, double seconds)
{
	struct job_timer *t = malloc(sizeof(*t));
	if (!t)
		return -1;
	uv_timer_init(w->loop, &t->h);
	t->h.data = t;
	t->j = j;
	t->w = w;
	j->timer = t;
	w->timers_open++;
	/* converting an out-of-range double is undefined: clamp (4e9 s, as the master) */
	if (!(seconds >= 0))
		seconds = 0;
	if (seconds > 4e9)
		seconds = 4e9;
	uint64_t ms = (uint64_t)(seconds * 1000.0 + 0.5);
	uv_timer_start(&t->h, on_job_timer, ms, 0);
	return 0;
}

/* Note j's start for the turn's `started` frame. An echo job without delay
 * ends right away: its result carries what the master needs. */
static void note_start(struct worker *w, struct job *j)
{
	j->started_at = util_wall();
	j->on_arrival = (unsigned char)w->in_assign;
	if (j->kind == JOB_ECHO && j->delay_s <= 0)
		return;
	if (w->nstarts == w->cap_starts) {
		size_t cap = w->cap_starts ? w->cap_starts * 2 : 64;
		struct wstart *v = realloc(w->starts, cap * sizeof *v);
		if (!v)
			return; /* the master then takes it as prefetched until its result */
		w->starts = v;
		w->cap_starts = cap;
	}
	w->starts[w->nstarts++] = (struct wstart){j->id, j->attempt, j->started_at};
	kick(w);
}

/* Tell the master which of this turn's starts still run (one frame). */
static void send_started(struct worker *w)
{
	struct buf *f = &w->frame;
	buf_reset(f);
	buf_adds(f, "{\"t\":\"started\",\"jobs\":[");
	int n = 0;
	for (size_t i = 0; i < w->nstarts; i++) {
		struct wstart *e = &w->starts[i];
		struct job *j = idmap_get(&w->jobs, e->id);
		if (!j || j->attempt != e->attempt || j->state != JOB_RUNNING || j->start_told)
			continue;
		j->start_told = 1;
		buf_addf(f, "%s{\"id\":%lld,\"a\":%d,\"at\":%.6f}", n++ ? "," : "", (long long)e->id, e->attempt,
			 e->at);
	}
	w->nstarts = 0;
	if (w->cap_starts > 4096) {
		free(w->starts); /* do not keep a huge vector after a burst */
		w->starts = NULL;
		w->cap_starts = 0;
	}
	if (n && buf_adds(f, "]}") == 0 && f->p)
		conn_send_json(w->conn, f->p, f->len);
}

/* An exec job's checkout is ready (or failed): run it in there. */
static void on_git_ready(void *a, void *b, struct gitstep_ent *e, const char *why)
{
	struct worker *w = a;
	struct job *j = b;
	char err[700];
	j->gitwait = NULL;
	disarm_timer(j); /* the wait's timeout: the run's deadline counts on from t0_ms */
	if (!e) {
		snprintf(err, sizeof err, "git: %s", why);
		fail_job(w, j, err);
		return;
	}
	j->gitent = e;
	struct gitstep_spec s;
	if (gitstep_spec_from_opts(&s, j->opts, err, sizeof err) < 0) {
		fail_job(w, j, err);
		return;
	}
	j->gitcwd = gitstep_dir(e, s.workdir, err, sizeof err);
	gitstep_spec_free(&s);
	if (!j->gitcwd) {
		fail_job(w, j, err);
		return;
	}
	j->cwd = j->gitcwd;
	exec_start(w->exec, j);
}

/* An exec job: with a "git" option, first its checkout (off the loop,
 * shared with every job that wants the same one). */
static void start_exec(struct worker *w, struct job *j)
{
	struct gitstep_spec s;
	struct gitstep_ent *e = NULL;
	char err[600];
	int g = gitstep_spec_from_opts(&s, j->opts, err, sizeof err);
	if (g == 0) {
		exec_start(w->exec, j);
		return;
	}
	if (g < 0) {
		fail_job(w, j, err);
		return;
	}
	j->t0_ms = uv_now(w->loop); /* --timeout covers the wait for the checkout too */
	j->gitwait = gitstep_get(w->git, &s, on_git_ready, w, j, &e);
	gitstep_spec_free(&s);
	if (e)
		on_git_ready(w, j, e, NULL);
	else if (!j->gitwait)
		fail_job(w, j, "out of memory");
	else if (j->timeout_s > 0 && arm_timer(w, j, j->timeout_s) < 0)
		fail_job(w, j, "out of memory");
}

static void start_job(struct worker *w, struct job *j)
{
	j->state = JOB_RUNNING;
	w->running += j->ranks;
	w->st.started++;
	note_start(w, j);
	char e[160];
	switch (j->kind) {
	case JOB_ECHO:
		if (j->delay_s > 0) {
			double s = j->delay_s;
			if (j->timeout_s > 0 && j->timeout_s < s)
				s = j->timeout_s;
			if (arm_timer(w, j, s) < 0)
				fail_job(w, j, "out of memory");
		} else {
			struct job_result r = {1, j->input, j->input_len, NULL, 0, 0, NULL, 0};
			job_done(w, j, &r);
		}
		break;
	case JOB_EXEC:
		start_exec(w, j);
		break;
	case JOB_FUNC:
		if (j->timeout_s > 0 && arm_timer(w, j, j->timeout_s) < 0) {
			fail_job(w, j, "out of memory");
			break;
		}
		func_start(w->func, j);
		break;
	case JOB_TYPED:
		typed_start(w->typed, j, job_done, w); /* it keeps its own timers */
		break;
	default:
		snprintf(e, sizeof(e), "unknown executor '%.64s' (known: echo, exec, func, typed)", j->type);
		fail_job(w, j, e);
		break;
	}
}

static void pump(struct worker *w)
{
	w->pumping = 1;
	/* a multi-rank job starts when its ranks fit (or on an idle worker) */
	while (w->qhead && w->running + (w->running ? w->qhead->ranks : 1) <= w->slots && !w->exiting &&
	       !w->stopping) {
		struct job *j = w->qhead;
		q_remove(w, j);
		start_job(w, j);
	}
	w->pumping = 0;
}

/* Stop everything the worker holds, reporting nothing (exit / stop). */
static void drop_all_jobs(struct worker *w)
{
	while (w->qhead) {
		struct job *j = w->qhead;
		q_remove(w, j);
		drop_job(w, j);
	}
	exec_abandon_all(w->exec, SIGTERM);
	size_t n = idmap_count(&w->jobs), k = 0, pos = 0;
	if (!n)
		return;
	struct job **all = malloc(n * sizeof(*all));
	if (!all)
		return; /* leaks the jobs on OOM during shutdown; nothing else to do */
	struct job *j;
	while ((j = idmap_next(&w->jobs, &pos, NULL)) != NULL && k < n)
		all[k++] = j;
	for (size_t i = 0; i < k; i++) {
		if (all[i]->kind == JOB_FUNC)
			func_abandon(w->func, all[i]);
		drop_job(w, all[i]);
	}
	free(all);
}

/* ---- messages from the master ---- */

/* Jobs that reach a draining worker (an assign that crossed its "drain")
 * go straight back: an unsolicited "revoked" requeues them. */
static void give_back(struct worker *w, msg *m)
{
	struct buf *b = &w->scratch;
	buf_reset(b);
	buf_adds(b, "{\"t\":\"revoked\",\"ids\":[");
	int n = 0;
	int64_t id;
	for (msg *e = msg_child(msg_get(m, "jobs")); e; e = msg_next(e))
		if (msg_get_int(e, "id", &id) == 0 && !idmap_get(&w->jobs, id))
			buf_addf(b, "%s%lld", n++ ? "," : "", (long long)id);
	buf_adds(b, "]}");
	if (n && b->p && w->conn)
		conn_send_json(w->conn, b->p, b->len);
}

/* One WJOB as a tree (job.c reads it): queued, or ignored with a warning. */
static void assign_job(struct worker *w, const msg *e)
{
	char err[128];
	struct job *j = job_new(e, w->envs, err, sizeof(err));
	if (!j) {
		log_warn("ignoring a job from the master: %s", err);
		return;
	}
	if (idmap_get(&w->jobs, j->id)) {
		job_free(j); /* already held (a re-assign after reconnect) */
		return;
	}
	if (idmap_put(&w->jobs, j->id, j) < 0) {
		log_error("out of memory: job %lld dropped", (long long)j->id);
		job_free(j);
		return;
	}
	q_push(w, j);
}

/* The assign frames that on_frame does not read from their bytes. */
static void handle_assign(struct worker *w, msg *m)
{
	if (w->draining) {
		give_back(w, m);
		return;
	}
	for (msg *e = msg_child(msg_get(m, "jobs")); e && !w->exiting && !w->stopping; e = msg_next(e))
		assign_job(w, e);
	w->in_assign = 1;
	pump(w);
	w->in_assign = 0;
}

/* Fast path: an echo WJOB with no delay, a free slot and nothing queued is
 * answered straight from the frame's bytes, without a tree or a job
 * struct. 1 if answered; 0 to take the job the usual way. */
static int assign_echo(struct worker *w, const struct jscan_val *e)
{
	static const char *const keys[] = {"type", "id", "a", "delay", "input"};
	struct jscan_val f[5];
	int64_t id, a = 1;
	double delay = 0;
	const char *in = "";
	size_t n = 0;
	if (w->running >= w->slots || w->qhead || jscan_fields(e, keys, f, 5) || !jscan_str_is(&f[0], "echo") ||
	    jscan_int(&f[1], &id) || (jscan_num(&f[3], &delay) == 0 && delay > 0) || f[4].esc)
		return 0;
	jscan_int(&f[2], &a);
	jscan_str(&f[4], NULL, &in, &n); /* not a string: "" */
	struct job_result r = {1, in, n, NULL, 0, 0, NULL, 0};
	w->st.started++;
	record_result(w, id, (int)a, &r, 0, -1);
	return 1;
}

static void handle_revoke(struct worker *w, msg *m)
{
	const char *why = msg_get_str(m, "why");
	int cancel = why && strcmp(why, "cancel") == 0;
	/* Not w->scratch: a cancelled job's result is encoded there while this
	 * list is being built (that garbled the frame and lost the worker). */
	struct buf list = BUF_INIT, *b = &list;
	buf_adds(b, "{\"t\":\"revoked\",\"ids\":[");
	int n = 0;
	/* no new starts while the list is processed: a queued job listed
	 * later must be revoked, not started and then cancelled */
	w->pumping = 1;
	for (msg *e = msg_child(msg_get(m, "ids")); e; e = msg_next(e)) {
		if (!msg_is_num(e))
			continue;
		struct job *j = idmap_get(&w->jobs, msg_int(e));
		if (!j)
			continue;
		if (j->state == JOB_QUEUED) {
			buf_addf(b, "%s%lld", n++ ? "," : "", (long long)j->id);
			q_remove(w, j);
			drop_job(w, j);
		} else if (cancel) {
			switch (j->kind) {
			case JOB_EXEC:
				j->cancelling = 1;
				if (j->gitwait)
					fail_job(w, j, "cancelled"); /* still waiting for its checkout */
				else
					exec_kill(w->exec, j, "cancelled"); /* result when it is gone */
				break;
			case JOB_FUNC:
				func_abandon(w->func, j);
				fail_job(w, j, "cancelled");
				break;
			case JOB_TYPED:
				j->cancelling = 1;
				typed_cancel(w->typed, j, "cancelled"); /* now or when its process is gone */
				break;
			default:
				fail_job(w, j, "cancelled");
				break;
			}
		}
	}
	w->pumping = 0;
	buf_adds(b, "]}");
	if (w->conn && b->p)
		conn_send_json(w->conn, b->p, b->len);
	buf_release(b);
	pump(w);
}

static void result_confirmed(struct worker *w, int64_t id)
{
	struct wres *r = idmap_del(&w->results, id);
	if (r) {
		r->in_map = 0;
		wres_release(r);
		w->st.results_confirmed++;
	}
}

static void handle_result_ok(struct worker *w, msg *m)
{
	for (msg *e = msg_child(msg_get(m, "ids")); e; e = msg_next(e))
		result_confirmed(w, msg_int(e));
	maybe_drained(w);
}

/* The hot frames, assign and result_ok, read from their bytes (jscan.h);
 * an assign's jobs other than fast echoes are parsed one by one. 0 for any
 * other frame, or one jscan does not take: conn parses it for on_msg. */
static int on_frame(struct conn *c, const char *json, size_t n)
{
	struct worker *w = conn_data(c);
	struct jscan_val root, t, list, e;
	if (w->stopping || w->exiting || w->draining || jscan_check(json, n, &root, NULL, 0) ||
	    !jscan_get(&root, "t", &t))
		return 0;
	int assign = jscan_str_is(&t, "assign");
	if (!(assign || jscan_str_is(&t, "result_ok")) || !jscan_get(&root, assign ? "jobs" : "ids", &list) ||
	    list.type != JSCAN_ARRAY)
		return 0;
	struct jscan_it it;
	int64_t id;
	jscan_iter(&it, &list);
	while (jscan_next(&it, NULL, &e) && !w->exiting && !w->stopping) {
		if (!assign) {
			if (jscan_int(&e, &id) == 0)
				result_confirmed(w, id);
		} else if (!assign_echo(w, &e)) {
			msg *m = msg_parse(e.p, e.n, NULL, 0);
			assign_job(w, m);
			msg_free(m);
		}
	}
	if (!assign) {
		maybe_drained(w);
		return 1;
	}
	w->in_assign = 1;
	pump(w);
	w->in_assign = 0;
	return 1;
}

static void send_drain(struct worker *w, const char *why)
{
	struct buf *b = &w->scratch;
	buf_reset(b);
	buf_adds(b, "{\"t\":\"drain\",\"why\":");
	buf_add_json_str(b, why, strlen(why));
	buf_adds(b, ",\"ids\":[");
	int n = 0;
	for (struct job *j = w->qhead; j; j = j->next)
		buf_addf(b, "%s%lld", n++ ? "," : "", (long long)j->id);
	buf_adds(b, "]}");
	if (b->p && w->conn && w->cs == CS_ACTIVE)
		conn_send_json(w->conn, b->p, b->len);
}

void worker_set_end(struct worker *w, double end)
{
	w->end = end;
	if (w->conn && w->cs == CS_ACTIVE) {
		char f[96];
		int n = snprintf(f, sizeof f, "{\"t\":\"ends\",\"at\":%.0f}", end);
		conn_send_json(w->conn, f, (size_t)n);
	}
}

void worker_drain(struct worker *w, const char *why)
{
	if (w->draining || w->exiting || w->stopping)
		return;
	w->draining = 1;
	log_info("draining (%s): giving back %u queued jobs, finishing %d running", why, w->nqueued, w->running);
	/* Queued jobs go back to the master with the message; if it is not
	 * connected, the next hello does not list them and it requeues them. */
	send_drain(w, why);
	while (w->qhead) {
		struct job *j = w->qhead;
		q_remove(w, j);
		drop_job(w, j);
	}
	maybe_drained(w);
}

static void maybe_drained(struct worker *w)
{
	if (!w->draining || w->exiting || w->stopping || w->running || w->qhead || idmap_count(&w->results) ||
	    wapi_running(w->wapi))
		return;
	exit_now(w, WORKER_EXIT_OK, "drained: every job finished or given back, every result confirmed");
}

/* Tell the master why this worker exits (`leaving`, docs/protocol.md), if
 * it is still connected: its log and `status` then give the real reason
 * instead of "connection closed". Queued before the close, so conn_close
 * writes it first. */
static void send_leaving(struct worker *w, int code, const char *why)
{
	if (!w->conn || (w->cs != CS_ACTIVE && w->cs != CS_HELLO))
		return;
	struct buf *b = &w->scratch;
	buf_reset(b);
	buf_adds(b, "{\"t\":\"leaving\",\"why\":");
	buf_add_json_str(b, why, strlen(why));
	buf_addf(b, ",\"code\":%d}", code);
	if (b->p)
		conn_send_json(w->conn, b->p, b->len);
}

void worker_set_stop_reason(struct worker *w, const char *why)
{
	if (w)
		util_strlcpy(w->stop_why, why ? why : "", sizeof w->stop_why);
}

static void exit_now(struct worker *w, int code, const char *why)
{
	if (w->exiting)
		return;
	send_leaving(w, code, why);
	w->exiting = 1;
	w->cs = CS_OFF;
	if (code)
		log_error("%s", why);
	else
		log_info("%s", why);
	drop_all_jobs(w);
	uv_timer_stop(&w->retry_timer);
	if (w->conn)
		conn_close(w->conn, NULL, why);
	if (w->jl)
		joblog_writer_flush(w->jl);
	if (w->cfg.on_exit)
		w->cfg.on_exit(w->cfg.arg, code, why);
}

/* ---- connection ---- */

static void on_ready(struct conn *c);
static void on_msg(struct conn *c, msg *m);
static void on_close(struct conn *c, const char *why);

/* hello's "cpus", "mem", "gpus" and "gpu_kind": what this worker gives
 * jobs (docs/protocol.md). 0, or -1 on OOM. */
static int hello_res(struct worker *w, msg *h)
{
	if (!w->has_res)
		return 0;
	const struct resource_set *r = &w->res;
	msg *g = msg_new_array();
	if (!g || msg_set_int(h, "cpus", r->cpus) || msg_set_int(h, "mem", (int64_t)r->mem_b))
		return msg_free(g), -1;
	for (uint32_t i = 0; i < r->ngpus; i++)
		if (msg_push(g, msg_new_str(r->gpus[i])))
			return msg_free(g), -1;
	if (msg_add(h, "gpus", g) ||
	    (r->ngpus && msg_set_str(h, "gpu_kind", resource_gpu_kind_name(r->gpu_kind))))
		return -1;
	return 0;
}

static void send_hello(struct worker *w)
{
	msg *h = msg_new_typed("hello");
	msg *held = msg_new_array();
	if (!h || !held)
		goto oom;
	msg_set_str(h, "worker", w->id);
	char host[256];
	util_hostname(host, sizeof host);
	msg_set_str(h, "host", host);
	msg_set_str(h, "node", w->node);
	char alloc[BATCH_ID_MAX]; /* the batch job we run in (SLURM_JOB_ID...): the autoscaler's */
	if (batch_in_allocation(alloc))
		msg_set_str(h, "slurm_job", alloc);
	msg_set_int(h, "pid", (int64_t)getpid());
	msg_set_int(h, "rank", w->cfg.rank);
	msg_set_int(h, "slots", w->slots);
	if (w->wtype[0])
		msg_set_str(h, "wtype", w->wtype);
	if (w->url[0])
		msg_set_str(h, "url", w->url);
	if (w->draining)
		msg_set_bool(h, "draining", 1);
	if (w->end > 0)
		msg_set_num(h, "end", w->end);
	if (hello_res(w, h))
		goto oom;
	size_t pos = 0;
	struct job *j;
	while ((j = idmap_next(&w->jobs, &pos, NULL)) != NULL) {
		msg *o = msg_new_object();
		if (!o || msg_set_int(o, "id", j->id) || msg_set_int(o, "a", j->attempt) ||
		    (j->state == JOB_RUNNING && msg_set_num(o, "st", j->started_at)) ||
		    (j->gpus && msg_set_str(o, "gpus", j->gpus))) {
			msg_free(o);
			goto oom;
		}
		if (j->state == JOB_RUNNING)
			j->start_told = 1; /* running since st */
		msg_push(held, o);
	}
	msg_add(h, "held", held);
	held = NULL;
	/* every unconfirmed result, up to a bound; the rest follow as
	 * `result` frames once hello_ok arrives */
	sq_clear(w);
	struct buf *b = &w->scratch;
	buf_reset(b);
	buf_add(b, "[", 1);
	pos = 0;
	struct wres *r;
	int n = 0;
	while ((r = idmap_next(&w->results, &pos, NULL)) != NULL) {
		if (b->len + r->len < HELLO_RESULTS_BYTES) {
			if (n++)
				buf_add(b, ",", 1);
			buf_add(b, r->json, r->len);
			continue;
		}
		r->queued = 1;
		r->next = NULL;
		if (w->sq_tail)
			w->sq_tail->next = r;
		else
			w->sq_head = r;
		w->sq_tail = r;
	}
	if (buf_add(b, "]", 1) < 0 || msg_set_raw(h, "results", b->p) < 0)
		goto oom;
	w->cs = CS_HELLO;
	conn_send(w->conn, h);
	return;
oom:
	msg_free(h);
	msg_free(held);
	conn_close(w->conn, NULL, "out of memory building hello");
}

static void on_ready(struct conn *c)
{
	struct worker *w = conn_data(c);
	send_hello(w);
}

/* The master's definition of our worker type (hello_ok's or a `wtype`
 * message's "wtype"): jobs started from now on run with it. */
static void take_wtype(struct worker *w, const msg *def)
{
	if (!def)
		return;
	char err[300];
	if (typed_set_def(w->typed, def, err, sizeof err) < 0)
		log_error("%s; keeping the definition it had", err);
	else
		log_info("worker type %s: executor %s", typed_name(w->typed), typed_executor(w->typed));
}

static void on_wtype_msg(struct worker *w, msg *m)
{
	take_wtype(w, msg_get(m, "wtype"));
}

static void on_hello_ok(struct worker *w, msg *m)
{
	take_wtype(w, msg_get(m, "wtype"));
	int64_t pf = 0;
	msg_get_int(m, "prefetch", &pf);
	w->cs = CS_ACTIVE;
	w->backoff_ms = BACKOFF_MIN_MS;
	w->alone_since_ns = 0;
	w->last_wait[0] = '\0';
	w->st.connects++;
	log_info("connected to the master at %s as %s (%d slots, prefetch %lld, holding %zu "
		 "jobs and %zu results)",
		 w->master_addr, w->id, w->slots, (long long)pf, idmap_count(&w->jobs), idmap_count(&w->results));
	/* the end may have become known after our hello went out */
	if (w->end > 0)
		worker_set_end(w, w->end);
	kick(w);
}

static void on_exit_msg(struct worker *w, msg *m)
{
	(void)m;
	exit_now(w, WORKER_EXIT_OK, "the master said exit");
}

static void on_error_msg(struct worker *w, msg *m)
{
	(void)w;
	log_warn("master says: %s: %s", msg_get_str(m, "code") ? msg_get_str(m, "code") : "?",
		 msg_get_str(m, "msg") ? msg_get_str(m, "msg") : "");
}

/* What the master sends a worker (docs/protocol.md), sorted by name. */
struct master_msg {
	const char *name;
	void (*fn)(struct worker *w, msg *m);
};
static const struct master_msg master_msgs[] = {
	{"assign", handle_assign},     {"error", on_error_msg},	      {"exit", on_exit_msg},
	{"hello_ok", on_hello_ok},     {"result_ok", handle_result_ok}, {"revoke", handle_revoke},
	{"wtype", on_wtype_msg},
};

size_t worker_msgs_check(void)
{
	return nametab_check(master_msgs, sizeof master_msgs / sizeof master_msgs[0], sizeof master_msgs[0]);
}

static void on_msg(struct conn *c, msg *m)
{
	struct worker *w = conn_data(c);
	if (!w->stopping && !w->exiting) {
		const char *t = msg_type(m);
		const struct master_msg *h =
			nametab_find(master_msgs, sizeof master_msgs / sizeof master_msgs[0], sizeof master_msgs[0], t);
		if (h)
			h->fn(w, m);
		else
			log_debug("ignoring a '%s' message from the master", t);
	}
	msg_free(m);
}

static void note_wait(struct worker *w, const char *why)
{
	if (strcmp(w->last_wait, why) != 0) {
		util_strlcpy(w->last_wait, why, sizeof(w->last_wait));
		log_info("waiting for the master: %s", why);
	}
}

static void schedule_retry(struct worker *w)
{
	if (w->cs == CS_OFF)
		return;
	w->cs = CS_IDLE;
	uint64_t now = util_mono_ns();
	if (!w->alone_since_ns)
		w->alone_since_ns = now;
	uint64_t max_ms = w->cfg.reconnect_max_ms ? w->cfg.reconnect_max_ms : RECONNECT_MAX_DEFAULT_MS;
	if ((now - w->alone_since_ns) / 1000000u >= max_ms) {
		char why[700];
		snprintf(why, sizeof(why), "no master for %g s (%s): giving up", (double)max_ms / 1000.0,
			 w->last_wait[0] ? w->last_wait : "?");
		exit_now(w, WORKER_EXIT_NO_MASTER, why);
		return;
	}
	uv_timer_start(&w->retry_timer, on_retry_timer, w->backoff_ms, 0);
	w->backoff_ms = w->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : w->backoff_ms * 2;
}

static void on_close(struct conn *c, const char *why)
{
	struct worker *w = conn_data(c);
	int was_active = w->cs == CS_ACTIVE;
	if (w->conn == c)
		w->conn = NULL;
	if (w->stopping) {
		w->pending--;
		maybe_finished(w);
		return;
	}
	if (w->cs == CS_OFF)
		return;
	if (was_active)
		log_warn("lost the master at %s: %s; keeping %zu jobs and %zu results, reconnecting",
			 w->master_addr, why, idmap_count(&w->jobs), idmap_count(&w->results));
	else
		note_wait(w, why);
	if (was_active)
		w->last_wait[0] = '\0';
	schedule_retry(w);
}

/* ---- HTTP endpoints ---- */

static int wapi_running_job(void *arg, char *id, size_t n)
{
	struct worker *w = arg;
	size_t pos = 0;
	struct job *j;
	while ((j = idmap_next(&w->jobs, &pos, NULL)) != NULL) {
		if (j->state == JOB_RUNNING) {
			snprintf(id, n, "%lld", (long long)j->id);
			return 1;
		}
	}
	return 0;
}

static void wapi_shutdown(void *arg)
{
	worker_drain(arg, "shutdown requested over HTTP");
}

static void wapi_run_done(void *arg)
{
	maybe_drained(arg);
}

/* Serve the HTTP endpoints: 0; 1 while RUN_DIR/token is missing (the
 * master has not made it yet: try again); -1 when they cannot be served
 * (a taken port, a bad token file, no TLS identity). err says why. tls:
 * the master serves HTTPS (master.json says https://), so this worker does
 * too, with the cluster's identity, which only the master creates. */
static int start_http(struct worker *w, int tls, char *err, size_t errlen)
{
	static const struct wapi_ops ops = {wapi_running_job, wapi_shutdown, wapi_run_done};
	char path[RUNDIR_PATH_MAX], token[AUTH_HEX_BYTES], why[400];
	if (rundir_path(path, w->run_dir, "token") < 0)
		return snprintf(err, errlen, "run directory path too long"), -1;
	if (access(path, F_OK) != 0)
		return snprintf(err, errlen, "no API token in %s yet (the master makes it)", path), 1;
	if (auth_token_load(token, path, 0, err, errlen) < 0)
		return -1;
	struct tlsid id = {0};
	if (tls && tlsid_load(&id, w->run_dir, NULL, 0, 0, why, sizeof why))
		return snprintf(err, errlen, "the master serves HTTPS but this worker cannot load the cluster's TLS identity: %s",
				why), -1;
	struct wapi_cfg c = {w->cfg.http_host, w->cfg.http_port, token, w->id, w->typed, &ops, w, id.cert_pem,
			     id.key_pem};
	int rc = wapi_start(&w->wapi, w->loop, &c, why, sizeof why);
	tlsid_free(&id);
	if (rc < 0)
		return snprintf(err, errlen, "cannot serve HTTP%s: %s", tls ? "S" : "", why), -1;
	const char *host = w->cfg.http_host && *w->cfg.http_host ? w->cfg.http_host : "127.0.0.1";
	const char *scheme = tls ? "https" : "http";
	if (w->cfg.url && *w->cfg.url)
		util_strlcpy(w->url, w->cfg.url, sizeof w->url);
	else
		snprintf(w->url, sizeof w->url, strchr(host, ':') ? "%s://[%s]:%d" : "%s://%s:%d", scheme, host,
			 wapi_port(w->wapi));
	log_info("serving mindtrace's Worker endpoints at %s (port %d)", w->url, wapi_port(w->wapi));
	return 0;
}

const char *worker_url(const struct worker *w)
{
	return w->url;
}

static void try_connect(struct worker *w)
{
	if (w->cs != CS_IDLE)
		return;
	char err[600];
	struct master_info mi;
	if (rundir_read_master(w->run_dir, &mi, err, sizeof(err)) < 0) {
		/* Reading a file is cheap, and a master starting beside us (its
		 * Slurm job and ours start together) should find us at once. */
		note_wait(w, err);
		schedule_retry(w);
		if (w->backoff_ms > MASTER_JSON_POLL_MS)
			w->backoff_ms = MASTER_JSON_POLL_MS;
		return;
	}
	if (auth_key_load(w->key, w->key_path, 0, err, sizeof(err)) < 0) {
		note_wait(w, err);
		schedule_retry(w);
		return;
	}
	/* hello carries the URL: serve first */
	if (w->cfg.http && !w->wapi) {
		int r = start_http(w, !strncmp(mi.http, "https://", 8), err, sizeof err);
		if (r == 1) {
			note_wait(w, err);
			schedule_retry(w);
			return;
		}
		if (r < 0) {
			exit_now(w, WORKER_EXIT_CANNOT_START, err);
			return;
		}
	}
	struct conn_opts o = {0};
	o.key = w->key;
	o.role = "worker";
	o.ping_ms = w->cfg.ping_ms ? w->cfg.ping_ms : 2000;
	o.idle_ms = w->cfg.idle_ms ? w->cfg.idle_ms : 10000;
	static const struct conn_cb cb = {on_ready, on_msg, on_close};
	snprintf(w->master_addr, sizeof(w->master_addr), "%s:%d", mi.host, mi.port);
	int r = conn_connect(&w->conn, w->loop, mi.host, mi.port, &o, &cb, w);
	if (r < 0) {
		w->conn = NULL;
		snprintf(err, sizeof(err), "cannot connect to %s: %s", w->master_addr, uv_strerror(r));
		note_wait(w, err);
		schedule_retry(w);
		return;
	}
	conn_set_on_frame(w->conn, on_frame);
	w->cs = CS_CONNECTING;
}

static void on_retry_timer(uv_timer_t *t)
{
	try_connect(t->data);
}

/* ---- life cycle ---- */

void worker_default_id(char *out, size_t n, int rank)
{
	char node[256];
	util_nodename(node, sizeof(node));
	snprintf(out, n, "%s-%ld-%d", node, (long)getpid(), rank);
}

const char *worker_id(const struct worker *w)
{
	return w->id;
}

void worker_get_stats(const struct worker *w, struct worker_stats *st)
{
	*st = w->st;
	st->running = (unsigned)w->running;
	st->queued = w->nqueued;
	st->unconfirmed = (unsigned)idmap_count(&w->results);
	st->connected = w->cs == CS_ACTIVE;
}

static void exec_log_kick(void *arg)
{
	kick(arg);
}

static int ensure_dir(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	return -1;
}

/* w's files in its run directory: the cluster key (a key that exists but
 * cannot be used will not fix itself), logs/ and its job log; its
 * environment cache and the run directory's absolute path. 0, or -1 with
 * err. */
static int worker_files_open(struct worker *w, const struct worker_cfg *cfg, char *err, size_t errlen)
{
	rundir_path(w->key_path, w->run_dir, "key");
	if (access(w->key_path, F_OK) == 0 && auth_key_load(w->key, w->key_path, 0, err, errlen) < 0)
		return -1;
	char path[RUNDIR_PATH_MAX], name[400];
	if (rundir_path(path, w->run_dir, "logs") < 0 || ensure_dir(w->run_dir) < 0 || ensure_dir(path) < 0)
		return snprintf(err, errlen, "cannot create %s/logs: %s", w->run_dir, strerror(errno)), -1;
	snprintf(name, sizeof(name), "logs/worker-%s.log", w->id);
	if (rundir_path(path, w->run_dir, name) < 0)
		return snprintf(err, errlen, "run directory path too long"), -1;
	w->jl = joblog_writer_open(path, cfg->log_cap_bytes, err, errlen);
	if (!w->jl)
		return -1;
	w->envs = envcache_new();
	w->run_dir_abs = realpath(w->run_dir, NULL);
	if (!w->envs || !w->run_dir_abs)
		return snprintf(err, errlen, "cannot resolve %s: %s", w->run_dir, strerror(errno)), -1;
	return 0;
}

/* The git cache's settings from the worker's environment
 * (docs/user-guide.md, "Environments: git"): its size cap
 * (MTSLURM_GIT_CACHE_MAX) and a setup command's bound
 * (MTSLURM_GIT_SETUP_TIMEOUT); a value that does not parse is logged and
 * the default applies. */
static struct gitstep_opts git_opts_from_env(uv_loop_t *loop, const char *root)
{
	uint64_t cap = 0;
	const char *capv = getenv("MTSLURM_GIT_CACHE_MAX");
	if (capv && *capv && gitcache_parse_bytes(capv, &cap) < 0)
		log_warn("MTSLURM_GIT_CACHE_MAX=%s is not a size (e.g. 20G): the default cap applies", capv);
	double setup_s = 0;
	char *send = NULL;
	const char *sv = getenv("MTSLURM_GIT_SETUP_TIMEOUT");
	if (sv && *sv)
		setup_s = strtod(sv, &send);
	int setup_ok = sv && *sv && !*send && setup_s > 0 && setup_s <= 4e9;
	if (sv && *sv && !setup_ok)
		log_warn("MTSLURM_GIT_SETUP_TIMEOUT=%s is not a number of seconds: the default bound (%g s) applies", sv,
			 GITCACHE_SETUP_TIMEOUT_S_DEFAULT);
	return (struct gitstep_opts){loop, root, cap, 0, setup_ok ? setup_s : 0};
}

/* w's executors (func, exec, the git step, typed) over its containment (a
 * cgroup per job where one can be made, and the log says which and why:
 * docs/worker.md); on failure those made are closed again. 0, or -1 with
 * err. */
static int worker_executors_open(struct worker *w, const struct worker_cfg *cfg, char *err, size_t errlen)
{
	w->cg = cgroup_open();
	if (!w->cg)
		return snprintf(err, errlen, "out of memory"), -1;
	log_info("containment: %s", cgroup_describe(w->cg));
	/* func first: it holds no loop handle until it starts a host */
	struct func_opts fo = {w->jl, cfg->job_env, job_done, w, exec_log_kick, w->id, w->run_dir_abs, w->cg};
	w->func = func_new(w->loop, &fo, err, errlen);
	if (!w->func)
		return -1;
	struct exec_opts eo = {w->jl, cfg->job_env, job_done, w, exec_log_kick, w->id, w->run_dir_abs, w->cg,
				w->has_res && CPU_COUNT(&w->res.cpuset) ? &w->res.cpuset : NULL};
	w->exec = exec_new(w->loop, &eo, err, errlen);
	if (!w->exec)
		goto no_exec;
	char groot[RUNDIR_PATH_MAX + 8];
	snprintf(groot, sizeof groot, "%s/git", w->run_dir_abs);
	struct gitstep_opts go = git_opts_from_env(w->loop, groot);
	w->git = gitstep_new(&go, err, errlen);
	if (!w->git)
		goto no_git;
	util_strlcpy(w->wtype, cfg->wtype ? cfg->wtype : "", sizeof w->wtype);
	struct typed_opts to = {w->loop, w->wtype, w->exec, w->func, w->jl, exec_log_kick, w, w->git};
	w->typed = typed_new(&to);
	if (w->typed)
		return 0;
	snprintf(err, errlen, "out of memory");
	gitstep_close(w->git, NULL, NULL);
no_git:
	exec_close(w->exec, NULL, NULL);
no_exec:
	func_close(w->func, NULL, NULL);
	return -1;
}

struct worker *worker_new(uv_loop_t *loop, const struct worker_cfg *cfg, char *err, size_t errlen)
{
	if (!cfg || !cfg->run_dir || !*cfg->run_dir) {
		snprintf(err, errlen, "no run directory given");
		return NULL;
	}
	struct worker *w = calloc(1, sizeof(*w));
	if (!w || !(w->run_dir = strdup(cfg->run_dir))) {
		free(w);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->loop = loop;
	w->cfg = *cfg;
	w->cfg.run_dir = w->run_dir;
	w->cfg.id = NULL;
	w->slots = cfg->slots > 0 ? cfg->slots : 1;
	if (cfg->res) {
		w->res = *cfg->res;
		w->has_res = 1;
	}
	w->cfg.res = NULL;
	if (cfg->id && *cfg->id)
		util_strlcpy(w->id, cfg->id, sizeof(w->id));
	else
		worker_default_id(w->id, sizeof(w->id), cfg->rank);
	util_nodename(w->node, sizeof(w->node));
	idmap_init(&w->jobs);
	idmap_init(&w->results);
	buf_init(&w->scratch);
	buf_init(&w->frame);
	w->backoff_ms = BACKOFF_MIN_MS;
	if (worker_files_open(w, cfg, err, errlen) || worker_executors_open(w, cfg, err, errlen))
		goto fail;
	/* a token and master.json that are there already: a port that cannot
	 * be had fails now (else try_connect() serves once they are) */
	struct master_info mi;
	char why[RUNDIR_PATH_MAX + 200];
	if (cfg->http && rundir_read_master(w->run_dir, &mi, why, sizeof why) == 0 &&
	    start_http(w, !strncmp(mi.http, "https://", 8), err, errlen) < 0) {
		typed_close(w->typed, NULL, NULL);
		gitstep_close(w->git, NULL, NULL);
		exec_close(w->exec, NULL, NULL);
		func_close(w->func, NULL, NULL);
		goto fail;
	}
	uv_idle_init(loop, &w->flush_idle);
	w->flush_idle.data = w;
	uv_timer_init(loop, &w->retry_timer);
	w->retry_timer.data = w;
	uv_timer_init(loop, &w->hold_timer);
	w->hold_timer.data = w;
	w->cs = CS_IDLE;
	w->alone_since_ns = util_mono_ns();
	uv_timer_start(&w->retry_timer, on_retry_timer, 0, 0);
	cgroup_start_sweeps(w->cg, loop);
	return w;
fail:
	cgroup_close(w->cg, NULL, NULL); /* no timer yet: frees it now */
	joblog_writer_close(w->jl);
	envcache_free(w->envs);
	free(w->run_dir_abs);
	free(w->run_dir);
	free(w);
	return NULL;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct worker *w = h->data;
	w->pending--;
	maybe_finished(w);
}

static void on_exec_closed(void *arg)
{
	struct worker *w = arg;
	w->exec = NULL;
	w->pending--;
	maybe_finished(w);
}

static void on_func_closed(void *arg)
{
	struct worker *w = arg;
	w->func = NULL;
	w->pending--;
	maybe_finished(w);
}

static void on_cgroup_closed(void *arg)
{
	struct worker *w = arg;
	w->pending--;
	maybe_finished(w);
}

static void on_typed_closed(void *arg)
{
	struct worker *w = arg;
	w->typed = NULL;
	w->pending--;
	maybe_finished(w);
}

static void on_git_closed(void *arg)
{
	struct worker *w = arg;
	w->git = NULL;
	w->pending--;
	maybe_finished(w);
}

static void on_wapi_stopped(void *arg)
{
	struct worker *w = arg;
	w->wapi = NULL;
	w->pending--;
	maybe_finished(w);
}

static void maybe_finished(struct worker *w)
{
	if (!w->stopping || w->pending > 0 || w->timers_open > 0)
		return;
	if (w->cg) {
		/* the executors are closed: kill what is left in the job
		 * groups and remove them */
		struct cgroup *cg = w->cg;
		w->cg = NULL;
		w->pending++;
		cgroup_close(cg, on_cgroup_closed, w);
		return;
	}
	if (joblog_writer_close(w->jl) < 0)
		log_error("%s", joblog_writer_error(w->jl));
	size_t pos = 0;
	struct wres *r;
	sq_clear(w);
	while ((r = idmap_next(&w->results, &pos, NULL)) != NULL)
		free(r);
	idmap_release(&w->results);
	idmap_release(&w->jobs);
	free(w->starts);
	buf_release(&w->scratch);
	buf_release(&w->frame);
	void (*cb)(void *) = w->stop_cb;
	void *arg = w->stop_arg;
	envcache_free(w->envs);
	free(w->run_dir_abs);
	free(w->run_dir);
	free(w);
	if (cb)
		cb(arg);
}

void worker_stop(struct worker *w, void (*done)(void *arg), void *arg)
{
	if (!w || w->stopping)
		return;
	if (!w->exiting) {
		drop_all_jobs(w);
		send_leaving(w, 0, w->stop_why[0] ? w->stop_why : "stopped by its process");
	}
	w->exiting = 1;
	w->stopping = 1;
	w->cs = CS_OFF;
	w->stop_cb = done;
	w->stop_arg = arg;
	w->pending = 7; /* idle, retry and hold timers, typed, exec, func, git */
	if (w->jl)
		joblog_writer_flush(w->jl);
	uv_idle_stop(&w->flush_idle);
	uv_timer_stop(&w->retry_timer);
	uv_timer_stop(&w->hold_timer);
	uv_close((uv_handle_t *)&w->flush_idle, on_handle_closed);
	uv_close((uv_handle_t *)&w->retry_timer, on_handle_closed);
	uv_close((uv_handle_t *)&w->hold_timer, on_handle_closed);
	if (w->conn) {
		w->pending++;
		conn_close(w->conn, NULL, "worker stopping");
	}
	if (w->wapi) {
		w->pending++;
		wapi_stop(w->wapi, on_wapi_stopped, w); /* abandons its /run jobs */
	}
	/* typed before exec and func: its inner jobs are theirs */
	typed_close(w->typed, on_typed_closed, w);
	exec_close(w->exec, on_exec_closed, w);
	func_close(w->func, on_func_closed, w);
	gitstep_close(w->git, on_git_closed, w); /* after the jobs that held checkouts */
}
