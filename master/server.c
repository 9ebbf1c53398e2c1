/* SPDX-License-Identifier: MIT */
/*
 * server: the master's event-loop plumbing -- startup (store, load of the
 * unfinished jobs, listener, master.json), accepting connections, routing
 * messages by role, the per-turn group commit in a uv_check callback, final
 * states of jobs, backpressure and the clean shutdown. See master.h for the
 * turn model.
 */
#include "master.h"
#include "runtime.h"
#include "autoscale.h"
#include "http.h"
#include "nodes.h"
#include "types.h"
#include "gateway.h"
#include "storesvc.h"
#include "pipeline.h"
#include "gitres.h"
#include "listing.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "frame.h"
#include "log.h"
#include "util.h"

/* ---- the TCP transport's replies ---- */

/* Replies on a connection are frames (call.h's sink for TCP). */
static void tcp_put_msg(struct outbox *o, const msg *r)
{
	if (!o->closed)
		msg_frame(r, &o->queued);
	outbox_dirty(o);
}

static void tcp_put_json(struct outbox *o, const char *json, size_t n)
{
	unsigned char hdr[FRAME_HDR_BYTES];
	if (!o->closed && n && n <= UINT32_MAX) {
		frame_put_header(hdr, (uint32_t)n);
		buf_add(&o->queued, hdr, sizeof hdr);
		buf_add(&o->queued, json, n);
	}
	outbox_dirty(o);
}

static const struct call_sink tcp_sink = {tcp_put_msg, tcp_put_json};

static struct peer *peer_of(struct outbox *o)
{
	return (struct peer *)((char *)o - offsetof(struct peer, out));
}

static void peer_deliver(struct outbox *o, const void *bytes, size_t n)
{
	struct peer *p = peer_of(o);
	if (p->conn)
		conn_send_bytes(p->conn, bytes, n);
}

static void peer_release(struct outbox *o)
{
	free(peer_of(o));
}

static const struct outbox_ops peer_ops = {peer_deliver, peer_release};

static void on_idle(uv_idle_t *h)
{
	(void)h; /* only there so that poll does not block before the check */
}

void master_touch(struct master *m)
{
	if (!m->gather.quiet)
		m->gather.urgent = 1;
	if (!m->stopped && !uv_is_active((uv_handle_t *)&m->idle))
		uv_idle_start(&m->idle, on_idle);
}

void master_touch_quiet(struct master *m)
{
	m->gather.quiet++;
	master_touch(m);
	m->gather.quiet--;
}

static void wake_loop(void *arg)
{
	master_touch(arg);
}

/* ---- the turn ---- */

static void backpressure(struct master *m)
{
	if (!m->npaused || m->sched.nlive * 10 >= m->cfg.max_queued * 9)
		return;
	for (struct peer *p = m->peers; p; p = p->next)
		if (p->paused) {
			p->paused = 0;
			if (!p->git_held && !p->query_held) /* its held submit or listing resumes it */
				conn_resume(p->conn);
		}
	m->npaused = 0;
	log_info("below %llu unfinished jobs again: reading submits", (unsigned long long)m->cfg.max_queued);
}

static void finish_shutdown(struct master *m);
static void settle_check(struct master *m);

/* Upper bounds of the store sync histogram (/metrics), seconds. */
static const double sync_le_s[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};

/* store_sync on a pool thread, timed (only sync_rc and sync_s are written
 * here; on_sync_done files them on the loop). */
static void on_sync_work(uv_work_t *r)
{
	struct master *m = r->data;
	uint64_t t0 = util_mono_ns();
	m->sync_rc = store_sync(m->store);
	m->sync_s = (double)(util_mono_ns() - t0) / 1e9;
}

static void on_sync_done(uv_work_t *r, int status)
{
	struct master *m = r->data;
	(void)status;
	m->sync_busy = 0;
	if (store_sync_needed(m->store))
		metrics_hist_observe(&m->sync_hist, m->sync_s);
	if (m->sync_rc) {
		/* Nothing sealed may be acknowledged; a master that cannot sync
		 * loses its durability promise, so it stops (workers and
		 * clients reconnect to the next one, which reloads the store). */
		log_error("fdatasync of the WAL failed: %s; stopping without acknowledging", strerror(-m->sync_rc));
		fprintf(stderr, "mtslurm-master: cannot sync %s-wal: %s; check the disk and restart\n", m->db_path,
			strerror(-m->sync_rc));
		_exit(1);
	}
	/* Everything sealed before this sync began is durable now (nothing
	 * is sealed while a sync runs on the pool). */
	outbox_release(&m->outs);
	master_touch_quiet(m);
}

static void on_lazy_timer(uv_timer_t *t)
{
	struct master *m = t->data;
	m->lazy_due = 1;
	master_touch_quiet(m);
}

/* After the seal: start the sync that makes the held bytes deliverable, on
 * the thread pool, always: the loop meanwhile writes this turn's
 * assignments, reads the job's result and commits it, so that the result's
 * `done` leaves with the `submitted` it waits behind the moment the sync
 * ends (syncing a small commit on the loop was slower: docs/performance.md,
 * "Single-job round trip"). A sync that only `result_ok` frames wait for
 * (no reply sealed: the set is not urgent) waits up to MASTER_LAZY_SYNC_MS
 * for one that a reply needs: a lone job's result then shares the client's
 * next submit's sync. */
static void start_sync(struct master *m)
{
	if (!store_sync_needed(m->store) || !m->unsynced) {
		/* --sync normal promises the commit only; or every commit is
		 * covered by a sync that has ended */
		m->unsynced = 0;
		outbox_release(&m->outs);
		return;
	}
	if (!m->outs.urgent && !m->lazy_due && !m->shutting_down) {
		if (!uv_is_active((uv_handle_t *)&m->lazy_timer))
			uv_timer_start(&m->lazy_timer, on_lazy_timer, MASTER_LAZY_SYNC_MS, 0);
		return;
	}
	uv_timer_stop(&m->lazy_timer);
	m->lazy_due = 0;
	m->unsynced = 0;
	m->sync_busy = 1;
	uv_queue_work(m->loop, &m->sync_req, on_sync_work, on_sync_done);
}

static void on_ckpt_work(uv_work_t *r)
{
	struct master *m = r->data;
	m->ckpt_rc = store_checkpoint(m->store, m->ckpt_err, sizeof m->ckpt_err);
}

static void on_ckpt_done(uv_work_t *r, int status)
{
	struct master *m = r->data;
	(void)status;
	m->ckpt_busy = 0;
	store_checkpoint_end(m->store);
	if (m->ckpt_rc)
		log_warn("checkpoint of %s failed: %s; will try again", m->db_path, m->ckpt_err);
	master_touch_quiet(m);
}

/* Commit the turn's transaction; 1 if a running checkpoint defers it
 * (store_checkpoint_begin says why), else 0. A commit that fails stops the
 * master: nothing of the turn may be acknowledged. */
static int commit_turn(struct master *m)
{
	int deferred = 0;
	if (store_in_txn(m->store)) {
		int rc = store_commit(m->store);
		if (rc < 0) {
			log_error("commit failed: %s; stopping without acknowledging this turn",
				  store_errmsg(m->store));
			fprintf(stderr, "mtslurm-master: commit to %s failed: %s; check the disk and restart\n",
				m->db_path, store_errmsg(m->store));
			_exit(1);
		}
		if (rc == 0)
			m->unsynced = 1;
		deferred = rc == 1;
	}
	/* A checkpoint ended since the last turn: its last frames copied so
	 * that the WAL restarts (store_checkpoint_tail says why). */
	if (!deferred && !m->ckpt_busy && store_checkpoint_tail(m->store))
		log_warn("checkpoint of the WAL's tail failed: %s; the WAL restarts later", store_errmsg(m->store));
	return deferred;
}

/* A checkpoint on the pool; the writer's commits wait until it ends. */
static void start_checkpoint(struct master *m)
{
	m->ckpt_busy = 1;
	store_checkpoint_begin(m->store);
	if (uv_queue_work(m->loop, &m->ckpt_req, on_ckpt_work, on_ckpt_done) < 0) {
		m->ckpt_busy = 0;
		store_checkpoint_end(m->store);
	}
}

static void on_check(uv_check_t *h)
{
	struct master *m = h->data;
	uv_idle_stop(&m->idle);
	if (m->stopped || gather_hold(m))
		return;
	gather_begin_turn(m);
	/* next-stage jobs of the pipelines, fed by this turn's completions
	 * (settling or not): admitted now so that dispatch below sees them */
	pipeline_flush(m);
	if (m->settling)
		settle_check(m);
	/* members of job arrays, a chunk per turn (arrays.h) */
	arrays_turn(m);
	if (!m->shutting_down && !m->settling) {
		m->sched.now = util_wall();
		m->sched.now_ms = (uint32_t)uv_now(m->loop);
		if (m->pipelines)
			pipeline_pace(m);
		m->gather.quiet++; /* assignments dirty workers: no new work for the next turn */
		sched_dispatch(&m->sched);
		sched_preempt(&m->sched);
		sched_steal(&m->sched);
		m->gather.quiet--;
	}
	if (m->pa_n)
		workers_flush_assigns(m, 0);
	if (!m->shutting_down && store_cancel_pending(m->store)) {
		/* a failure fails the commit */
		if (store_cancel_sweep(m->store, MASTER_SWEEP_IDS) == 0)
			log_info("cancel-all: every cancelled row rewritten in state.db");
		master_touch(m);
	}
	/* While a checkpoint runs the turn's writes stay in the open
	 * transaction (store_checkpoint_begin says why); nothing of it may be
	 * sealed for acknowledgement until it is committed. */
	pipeline_flush(m); /* anything that ended since the flush above: in this commit */
	int deferred = commit_turn(m);
	uint32_t committed = deferred ? 0 : gather_committed(m);
	/* Assignments need no durability (a job lost with its insert was never
	 * acknowledged); they go out now, so workers start while the disk
	 * syncs. */
	workers_flush(m, 0);
	if (!m->sync_busy && !deferred) {
		/* Seal what this and earlier turns produced (all committed now):
		 * replies (submitted, cancelled) before the callbacks they
		 * announce, callbacks before the `waited` they lead to. */
		workers_flush(m, 1);
		outbox_seal(&m->outs);
		clients_flush(m);
		query_check_waiters(m);
		outbox_seal(&m->outs);
		start_sync(m);
	} else if (!deferred) {
		/* A sync runs on the pool: workers' results go to their clients
		 * now (behind what their connections hold); the rest waits for
		 * the next seal. */
		clients_flush(m);
	}
	/* Listings take their snapshot now: everything acknowledged so far
	 * is committed, and memory agrees with it (not while a checkpoint
	 * holds this turn's writes back). */
	if (!deferred)
		listing_turn(m);
	if (!m->ckpt_busy && !m->shutting_down && store_wants_checkpoint(m->store))
		start_checkpoint(m);
	backpressure(m);
	gather_after_commit(m, committed);
	if (m->shutting_down && !m->sync_busy && !m->ckpt_busy && !outbox_pending(&m->outs))
		finish_shutdown(m);
}

/* ---- connections ---- */

static void on_ready(struct conn *c)
{
	struct peer *p = conn_data(c);
	p->is_worker = strcmp(conn_role(c), "worker") == 0;
	p->is_client = !p->is_worker;
}

static void on_msg(struct conn *c, msg *m)
{
	struct peer *p = conn_data(c);
	if (!p || p->out.closed || p->m->stopped) {
		msg_free(m);
		return;
	}
	if (p->is_worker) {
		workers_on_msg(p, m, &tcp_sink);
	} else {
		p->m->gather.urgent = 1; /* a client waits for the turn's answer */
		struct call k = {.m = p->m, .client = p->client, .peer = p, .out = &p->out, .sink = &tcp_sink};
		call_dispatch(&k, call_client_table, call_client_count, "a client", m);
	}
	msg_free(m);
	if (p->is_client && !p->out.closed && !p->paused && p->m->sched.nlive > p->m->cfg.max_queued &&
	    p->client) {
		p->paused = 1;
		p->m->npaused++;
		conn_pause(p->conn);
		log_info("%llu unfinished jobs (limit %llu): not reading from client %s until below 90%%",
			 (unsigned long long)p->m->sched.nlive, (unsigned long long)p->m->cfg.max_queued,
			 p->client->cid);
	}
}

static void on_close(struct conn *c, const char *why)
{
	struct peer *p = conn_data(c);
	if (!p)
		return;
	struct master *m = p->m;
	p->conn = NULL;
	if (p->paused && m->npaused)
		m->npaused--;
	if (p->prev)
		p->prev->next = p->next;
	else
		m->peers = p->next;
	if (p->next)
		p->next->prev = p->prev;
	query_drop_waiters(m, &p->out);
	gitres_forget_outbox(m, &p->out);
	if (p->worker) {
		struct wrk *w = p->worker;
		p->worker = NULL;
		w->peer = NULL;
		if (!m->stopped)
			workers_lost(w, why);
	}
	if (p->client) {
		struct client *cl = p->client;
		p->client = NULL;
		if (cl->peer == p)
			cl->peer = NULL;
		clients_maybe_free(cl);
	}
	outbox_close(&p->out); /* may free p */
	master_touch(m);
}

static const struct conn_cb peer_cb = {on_ready, on_msg, on_close};

static void on_connection(uv_stream_t *server, int status)
{
	struct master *m = server->data;
	if (status < 0) {
		log_warn("accept: %s", uv_strerror(status));
		return;
	}
	struct peer *p = calloc(1, sizeof *p);
	if (!p) {
		log_error("out of memory accepting a connection");
		return;
	}
	p->m = m;
	outbox_init(&p->out, &m->outs, &peer_ops);
	struct conn_opts o = {.key = m->key, .ping_ms = m->cfg.ping_ms, .idle_ms = m->cfg.idle_ms};
	int r = conn_accept(&p->conn, server, &o, &peer_cb, p);
	if (r < 0) {
		log_warn("accept: %s", uv_strerror(r));
		free(p);
		return;
	}
	p->next = m->peers;
	if (m->peers)
		m->peers->prev = p;
	m->peers = p;
}

/* ---- loading the store ---- */

struct gw_job {
	int64_t id;
	const struct jobtype *t;
	char *input;
};

struct loadctx {
	struct master *m;
	struct gw_job *gw; /* jobs of endpoint types that were in flight: forwarded again after the load */
	size_t ngw, cap_gw;
	struct client *last_client;
	struct wrk *last_worker;
	struct mjob **held; /* jobs with deps, added after everything else */
	char **held_deps;
	size_t nheld, cap_held;
	uint64_t pending_b; /* input bytes the held jobs keep in memory */
	int64_t nrows;
};

static int job_text(void *arg, const struct store_meta *sm)
{
	char **out = arg;
	*out = sm->job ? strdup(sm->job) : NULL;
	return 0;
}

/* Jobs of endpoint types that were in flight when the master stopped:
 * forwarded again (at-least-once, like a job lost with its worker). */
static void resume_gateway(struct master *m, struct loadctx *L)
{
	for (size_t i = 0; i < L->ngw; i++) {
		struct gw_job *g = &L->gw[i];
		char *job = NULL;
		store_meta_get(m->store, g->id, job_text, &job);
		log_info("job %lld of type %s was in flight to %s: forwarding it again", (long long)g->id, g->t->name,
			 g->t->url);
		gateway_forward(m, g->t, g->id, job ? job : g->input ? g->input : "{}", NULL);
		free(job);
		free(g->input);
	}
	free(L->gw);
	L->gw = NULL;
	L->ngw = 0;
}

/* A row of a job type served by an HTTP endpoint: kept for
 * resume_gateway (forwarded once loaded). 0 or -1 (out of memory). */
static int load_gateway_row(struct loadctx *L, const struct store_row *r, struct jobtype *jt)
{
	if (util_grow(&L->gw, &L->cap_gw, L->ngw, sizeof *L->gw, 16))
		return -1;
	struct gw_job *g = &L->gw[L->ngw++];
	g->id = r->id;
	g->t = jt;
	g->input = r->input ? strndup(r->input, r->input_len) : NULL;
	return 0;
}

/* The in-memory job of row r of client c (its input held if the budget
 * allows); NULL when out of memory. */
static struct mjob *load_job(struct loadctx *L, const struct store_row *r, struct client *c)
{
	int kind = mjob_kind_parse(r->type);
	int hold = master_holds_input(L->m, r->input_len, L->pending_b);
	struct mjob_res res; /* the scheduler's copy of its "res" option */
	int has_res = mres_from_opts(r->opts, &res) && (res.cpus || res.gpus || res.mem_b);
	struct mjob *j = mjob_new_res(hold ? r->input : NULL, hold ? r->input_len : 0, r->target, r->cwd, r->env,
				      r->env_id > 0 && r->env_id <= UINT32_MAX ? (uint32_t)r->env_id : 0, r->opts,
				      has_res ? &res : NULL);
	if (!j)
		return NULL;
	if (!hold)
		j->flags |= MJOB_F_STORED;
	j->id = r->id;
	j->client = &c->sc;
	j->kind = (uint8_t)(kind < 0 ? MJOB_ECHO : kind);
	j->delay_s = r->delay;
	j->timeout_s = r->timeout;
	j->treq = r->treq > 0 ? (uint32_t)r->treq : 0;
	j->ranks = (uint16_t)(r->ranks > 1 && r->ranks <= UINT16_MAX ? r->ranks : 0);
	j->prio = r->prio;
	j->retries = (uint16_t)(r->retries < 0 ? 0 : r->retries > UINT16_MAX ? UINT16_MAX : r->retries);
	j->attempts = (uint16_t)(r->attempts < 0 ? 0 : r->attempts > UINT16_MAX ? UINT16_MAX : r->attempts);
	j->crash_limit = (uint8_t)(r->crash_limit < 1 ? 1 : r->crash_limit > UINT8_MAX ? UINT8_MAX : r->crash_limit);
	j->crashes = (uint8_t)(r->crashes < 0 ? 0 : r->crashes > UINT8_MAX ? UINT8_MAX : r->crashes);
	return j;
}

/* A running job of worker wid: held for that worker (an orphan holder
 * until it comes back). 0 or -1. */
static int load_assigned(struct loadctx *L, struct mjob *j, const char *wid)
{
	struct master *m = L->m;
	struct wrk *w = L->last_worker;
	if (!w || strcmp(w->wid, wid) != 0) {
		w = workers_find(m, wid);
		if (!w && (w = workers_new(m, wid)))
			sched_worker_add_orphan_holder(&m->sched, &w->sw);
		L->last_worker = w;
	}
	return !w || sched_add_assigned(&m->sched, j, &w->sw) ? -1 : 0;
}

/* A job with dependencies: held until every row is loaded (load_deps).
 * 0 or -1. */
static int load_held(struct loadctx *L, struct mjob *j, const char *deps)
{
	if (L->nheld == L->cap_held) {
		size_t cap = L->cap_held ? L->cap_held * 2 : 64;
		struct mjob **h = realloc(L->held, cap * sizeof *h);
		char **d = realloc(L->held_deps, cap * sizeof *d);
		if (h)
			L->held = h;
		if (d)
			L->held_deps = d;
		if (!h || !d)
			return -1;
		L->cap_held = cap;
	}
	L->held[L->nheld] = j;
	L->held_deps[L->nheld++] = strdup(deps);
	L->pending_b += mjob_input_held_b(j);
	return 0;
}

static int load_row(void *arg, const struct store_row *r)
{
	struct loadctx *L = arg;
	struct master *m = L->m;
	const char *cid = r->client ? r->client : "";
	struct client *c = L->last_client;
	if (!c || strcmp(c->cid, cid) != 0)
		c = L->last_client = strncmp(cid, TYPES_OWNER_PREFIX, strlen(TYPES_OWNER_PREFIX)) == 0
					     ? types_owner(m, cid + strlen(TYPES_OWNER_PREFIX))
					     : clients_get(m, cid, 1);
	if (!c)
		return -1;
	struct jobtype *jt = r->jtype ? types_job(m, r->jtype) : NULL;
	if (jt && jt->endpoint)
		return load_gateway_row(L, r, jt);
	struct mjob *j = load_job(L, r, c);
	if (!j)
		return -1;
	L->nrows++;
	int rc;
	if (r->state == MJOB_RUNNING && r->worker) {
		rc = load_assigned(L, j, r->worker);
	} else {
		if (r->state == MJOB_RUNNING) /* no worker recorded: just queue it again */
			store_requeue(m->store, j->id, j->attempts);
		if (r->deps && r->deps[0] && strcmp(r->deps, "[]") != 0)
			rc = load_held(L, j, r->deps);
		else
			rc = sched_add(&m->sched, j);
	}
	if (rc)
		mjob_free(j);
	return rc ? -1 : 0;
}

/* Jobs with deps, in id order: their deps are older, so already loaded. */
static void load_deps(struct loadctx *L)
{
	struct master *m = L->m;
	for (size_t i = 0; i < L->nheld; i++) {
		struct mjob *j = L->held[i];
		const char *text = L->held_deps[i] ? L->held_deps[i] : "[]";
		msg *d = msg_parse(text, strlen(text), NULL, 0);
		int64_t failed_dep = 0;
		for (msg *e = msg_child(d); e; e = msg_next(e)) {
			int64_t dep = msg_int(e);
			int r = sched_wait_for(&m->sched, j, dep);
			if (r == 0)
				continue;
			int st = store_state(m->store, dep);
			if (st != MJOB_COMPLETED && !failed_dep)
				failed_dep = dep;
		}
		msg_free(d);
		free(L->held_deps[i]);
		if (sched_add(&m->sched, j)) {
			mjob_free(j);
			continue;
		}
		if (failed_dep) {
			char err[64];
			snprintf(err, sizeof err, "dependency %lld failed", (long long)failed_dep);
			jobs_finalize(m, j, MJOB_FAILED, NULL, 0, err, 0, 0);
		}
	}
	free(L->held);
	free(L->held_deps);
}

static int load_worker(void *arg, const char *wid)
{
	struct master *m = arg;
	if (!wid || workers_find(m, wid))
		return 0;
	struct wrk *w = workers_new(m, wid);
	if (!w)
		return -1;
	sched_worker_add_orphan_holder(&m->sched, &w->sw);
	return 0;
}

static void on_settle_timer(uv_timer_t *t)
{
	struct master *m = t->data;
	if (m->settling)
		log_info("dispatching again: not every earlier worker is back yet");
	m->settling = 0;
	master_touch(m);
}

/* Settling ends early once every worker that held or may hold jobs is back. */
static void settle_check(struct master *m)
{
	for (struct wrk *w = m->workers; w; w = w->next)
		if (!w->peer)
			return;
	m->settling = 0;
	uv_timer_stop(&m->settle_timer);
	log_info("every earlier worker is back: dispatching");
}

static void on_orphan_timer(uv_timer_t *t)
{
	workers_expire_orphans(t->data);
}

static int load(struct master *m, char *err, size_t errlen)
{
	uint64_t t0 = util_mono_ns();
	m->next_id = store_max_id(m->store) + 1;
	if (m->next_id <= 0 || store_counts(m->store, m->counts)) {
		snprintf(err, errlen, "cannot read %s: %s; check the file or move it away", m->db_path,
			 store_errmsg(m->store));
		return -1;
	}
	struct loadctx L = {.m = m};
	int64_t n = store_load(m->store, load_row, &L);
	if (n < 0) {
		for (size_t i = 0; i < L.nheld; i++) {
			mjob_free(L.held[i]);
			free(L.held_deps[i]);
		}
		free(L.held);
		free(L.held_deps);
		snprintf(err, errlen, "cannot load jobs from %s: %s; check the file or move it away", m->db_path,
			 store_errmsg(m->store));
		return -1;
	}
	load_deps(&L);
	resume_gateway(m, &L);
	store_submit_expire(m->store, util_wall() - MASTER_SUBMIT_KEEP_S);
	if (store_workers(m->store, load_worker, m) < 0) {
		snprintf(err, errlen, "cannot read the worker list from %s: %s; check the file or move it away",
			 m->db_path, store_errmsg(m->store));
		return -1;
	}
	int orphans = 0;
	for (struct wrk *w = m->workers; w; w = w->next)
		if (!w->peer)
			orphans++;
	log_info("loaded %lld unfinished jobs (%llu queued, %llu running on %d workers to reclaim) in %.3f s; "
		 "next id %lld",
		 (long long)n, (unsigned long long)m->sched.nqueued, (unsigned long long)m->sched.nassigned,
		 orphans, (double)(util_mono_ns() - t0) / 1e9, (long long)m->next_id);
	if (orphans) {
		uv_timer_start(&m->orphan_timer, on_orphan_timer, m->cfg.orphan_grace_ms, 0);
		unsigned settle = m->cfg.orphan_grace_ms < MASTER_SETTLE_MS ? m->cfg.orphan_grace_ms : MASTER_SETTLE_MS;
		if (m->sched.nqueued) {
			m->settling = 1;
			uv_timer_start(&m->settle_timer, on_settle_timer, settle, 0);
			log_info("waiting up to %u ms for %d earlier workers before dispatching queued jobs", settle,
				 orphans);
		}
	}
	return 0;
}

/* ---- startup and shutdown ---- */

static int listen_on(struct master *m, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	if (uv_ip4_addr(m->cfg.host, m->cfg.port, (struct sockaddr_in *)&ss) != 0 &&
	    uv_ip6_addr(m->cfg.host, m->cfg.port, (struct sockaddr_in6 *)&ss) != 0) {
		snprintf(err, errlen, "--host %s is not a numeric IP address; give one such as 127.0.0.1 or 0.0.0.0",
			 m->cfg.host);
		return -1;
	}
	uv_tcp_init(m->loop, &m->listener);
	m->listener.data = m;
	m->handles_open++;
	int r = uv_tcp_bind(&m->listener, (struct sockaddr *)&ss, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&m->listener, 1024, on_connection);
	if (r < 0) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s; pick another --port or stop what uses it",
			 m->cfg.host, m->cfg.port, uv_strerror(r));
		return -1;
	}
	int len = sizeof ss;
	uv_tcp_getsockname(&m->listener, (struct sockaddr *)&ss, &len);
	m->info.port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						     : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct master *m = h->data;
	if (--m->handles_open == 0 && m->on_stopped)
		m->on_stopped(m);
}

static void on_http_stopped(void *arg)
{
	struct master *m = arg;
	if (--m->handles_open == 0 && m->on_stopped)
		m->on_stopped(m);
}

/* RUN_DIR/store.id names the database the run directory holds (store_id),
 * so that an empty or replaced state.db is refused instead of starting with
 * no jobs and reusing their ids. Absent: out stays "" (a new run directory,
 * or one from before store.id). */
static int read_store_id(const char *path, char out[STORE_ID_LEN + 1], char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno)), -1;
	}
	char text[STORE_ID_LEN + 2] = "";
	ssize_t n = read(fd, text, sizeof text);
	close(fd);
	if (n < STORE_ID_LEN || (n > STORE_ID_LEN && text[STORE_ID_LEN] != '\n') ||
	    strspn(text, "0123456789abcdef") != STORE_ID_LEN)
		return snprintf(err, errlen,
				"%s is damaged (want %d hex digits); it names the run directory's state.db: "
				"remove it if state.db is the right database", path, STORE_ID_LEN), -1;
	memcpy(out, text, STORE_ID_LEN);
	out[STORE_ID_LEN] = '\0';
	return 0;
}

/* The defaults of the options left zero in m->cfg. */
static void cfg_defaults(struct master *m)
{
	if (!m->cfg.host)
		m->cfg.host = "127.0.0.1";
	if (!m->cfg.max_queued)
		m->cfg.max_queued = 20000000;
	if (!m->cfg.input_mem_b) {
		long pages = sysconf(_SC_PHYS_PAGES), page_b = sysconf(_SC_PAGESIZE);
		uint64_t eighth = pages > 0 && page_b > 0 ? (uint64_t)pages * (uint64_t)page_b / 8 : 0;
		m->cfg.input_mem_b = eighth && eighth < MASTER_INPUT_MEM_DEFAULT ? eighth : MASTER_INPUT_MEM_DEFAULT;
	}
	if (!m->cfg.idle_ms)
		m->cfg.idle_ms = 10000;
	if (!m->cfg.ping_ms)
		m->cfg.ping_ms = 2000;
	if (!m->cfg.assign_defer_set)
		m->cfg.assign_defer_ms = MASTER_ASSIGN_DEFER_MS;
	if (!m->cfg.orphan_grace_ms)
		m->cfg.orphan_grace_ms = 2 * m->cfg.idle_ms;
}

/* The loop's handles of the turn and its timers, the scheduler, the outboxes. */
static void init_loop(struct master *m, uv_loop_t *loop)
{
	m->outs.wake = wake_loop;
	m->outs.wake_arg = m;
	struct sched_cb cb = workers_sched_cb;
	cb.arg = m;
	sched_init(&m->sched, &cb);
	metrics_hist_init(&m->sync_hist, sync_le_s, sizeof sync_le_s / sizeof sync_le_s[0]);
	uv_check_init(loop, &m->check);
	uv_idle_init(loop, &m->idle);
	uv_timer_init(loop, &m->orphan_timer);
	uv_timer_init(loop, &m->assign_timer);
	uv_timer_init(loop, &m->settle_timer);
	uv_timer_init(loop, &m->lazy_timer);
	uv_timer_init(loop, &m->gather.timer);
	m->sync_req.data = m->ckpt_req.data = m;
	m->check.data = m->idle.data = m->orphan_timer.data = m->assign_timer.data = m->settle_timer.data = m;
	m->lazy_timer.data = m->gather.timer.data = m;
	m->handles_open += 7;
	uv_check_start(&m->check, on_check);
}

/* The key, state.db and everything loaded from it, made durable, and
 * store.id written for a new store. 0, or -1 with err. */
static int open_store(struct master *m, const struct master_cfg *cfg, char *err, size_t errlen)
{
	char path[RUNDIR_PATH_MAX];
	if (rundir_path(path, cfg->run_dir, "key")) {
		snprintf(err, errlen, "run directory path too long: %s; use a shorter --run-dir", cfg->run_dir);
		return -1;
	}
	if (auth_key_load(m->key, path, 1, err, errlen))
		return -1;
	rundir_path(m->db_path, cfg->run_dir, "state.db");
	char id_path[RUNDIR_PATH_MAX], id[STORE_ID_LEN + 1] = "";
	rundir_path(id_path, cfg->run_dir, "store.id");
	if (read_store_id(id_path, id, err, errlen))
		return -1;
	struct store_opts so = {.sync_normal = cfg->sync_normal, .expect_id = id};
	if (store_open(&m->store, m->db_path, &so, err, errlen))
		return -1;
	if (arrays_init(m)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (types_load(m, err, errlen) || gateway_load(m, err, errlen) || pipeline_load(m, err, errlen) ||
	    load(m, err, errlen) || arrays_load(m, err, errlen))
		return -1;
	if (cfg->autoscale && !(m->autoscale = autoscale_new(m, cfg->autoscale, err, errlen)))
		return -1;
	/* Make the load's own writes (requeues, failed dependents, the
	 * pipeline jobs they feed) durable. */
	pipeline_flush(m);
	if (store_commit(m->store) || store_sync(m->store)) {
		snprintf(err, errlen, "cannot write %s: %s; check the disk", m->db_path, store_errmsg(m->store));
		return -1;
	}
	/* Written once the database with that identity is durable; a crash
	 * before this only means the next start writes it. */
	char idline[STORE_ID_LEN + 2];
	snprintf(idline, sizeof idline, "%s\n", store_id(m->store));
	if (!*id && rundir_write_file(cfg->run_dir, "store.id", idline, strlen(idline), err, errlen))
		return -1;
	return 0;
}

/* Listen (wire, HTTP) and write master.json. 0, or -1 with err. */
static int serve(struct master *m, const struct master_cfg *cfg, char *err, size_t errlen)
{
	if (listen_on(m, err, errlen))
		return -1;
	auth_uuid(m->server_id);
	if (!cfg->no_http) {
		struct http_cfg hc = {.host = cfg->http_host, .port = cfg->http_port, .tls = cfg->http_tls,
				      .insecure = cfg->http_insecure};
		char herr[300];
		if (http_start(&m->http, m, &hc, m->info.http, sizeof m->info.http, herr, sizeof herr)) {
			snprintf(err, errlen, "HTTP service: %s; choose another --http HOST:PORT, or --no-http", herr);
			return -1;
		}
		m->handles_open++;
	}
	util_strlcpy(m->info.host, cfg->advertise && *cfg->advertise ? cfg->advertise : m->cfg.host,
		     sizeof m->info.host);
	if (strcmp(m->info.host, "0.0.0.0") == 0 || strcmp(m->info.host, "::") == 0)
		util_hostname(m->info.host, sizeof m->info.host);
	m->info.pid = (long)getpid();
	util_nodename(m->info.node, sizeof m->info.node);
	char alloc[BATCH_ID_MAX]; /* the batch job we run in (SLURM_JOB_ID...), "" if none */
	util_strlcpy(m->info.slurm_job, batch_in_allocation(alloc) ? alloc : "", sizeof m->info.slurm_job);
	m->info.started = util_wall();
	util_strlcpy(m->info.version, MASTER_VERSION, sizeof m->info.version);
	if (rundir_write_master(cfg->run_dir, &m->info, err, errlen))
		return -1;
	log_info("serving on %s:%d (advertised as %s), pid %ld, run dir %s%s%s", m->cfg.host, m->info.port,
		 m->info.host, m->info.pid, cfg->run_dir, m->http ? ", HTTP on " : "", m->info.http);
	return 0;
}

int master_start(struct master *m, uv_loop_t *loop, const struct master_cfg *cfg, char *err,
		 size_t errlen)
{
	memset(m, 0, sizeof *m);
	m->cfg = *cfg;
	m->loop = loop;
	uv_update_time(loop); /* the job clock's anchor: loop time and wall clock read together */
	jobclock_init(&m->clock, uv_now(loop));
	cfg_defaults(m);
	init_loop(m, loop);
	if (open_store(m, cfg, err, errlen) || serve(m, cfg, err, errlen))
		return -1;
	if (m->autoscale)
		autoscale_start(m->autoscale);
	return 0;
}

void master_shutdown(struct master *m)
{
	if (m->shutting_down || m->stopped)
		return;
	log_info("shutting down");
	m->shutting_down = 1;
	master_touch(m);
}

void master_leave(struct master *m)
{
	m->keep_workers = 1;
	master_shutdown(m);
}

static void finish_shutdown(struct master *m)
{
	m->stopped = 1;
	if (m->autoscale) {
		autoscale_close(m->autoscale, NULL, NULL);
		m->autoscale = NULL;
	}
	workers_flush_assigns(m, 1);
	if (!m->keep_workers) {
		for (struct wrk *w = m->workers; w; w = w->next)
			if (w->peer && w->peer->conn)
				conn_send(w->peer->conn, msg_new_typed("exit"));
		store_worker_down(m->store, NULL); /* they were told to exit */
	}
	pipeline_flush(m);
	store_commit(m->store);
	store_sync(m->store);
	rundir_remove_master(m->cfg.run_dir);
	for (struct peer *p = m->peers; p; p = p->next)
		if (p->conn)
			conn_close(p->conn, NULL, "the master is shutting down");
	if (m->http) {
		http_stop(m->http, on_http_stopped, m);
		m->http = NULL;
	}
	if (m->gateway) {
		m->handles_open++;
		gateway_close(m, on_http_stopped, m);
	}
	nodes_close(m);
	if (m->reader) {
		m->handles_open++;
		listing_close(m, on_http_stopped, m);
	}
	uv_close((uv_handle_t *)&m->listener, on_handle_closed);
	uv_close((uv_handle_t *)&m->check, on_handle_closed);
	uv_close((uv_handle_t *)&m->idle, on_handle_closed);
	uv_close((uv_handle_t *)&m->orphan_timer, on_handle_closed);
	uv_close((uv_handle_t *)&m->assign_timer, on_handle_closed);
	uv_close((uv_handle_t *)&m->settle_timer, on_handle_closed);
	uv_close((uv_handle_t *)&m->lazy_timer, on_handle_closed);
	uv_close((uv_handle_t *)&m->gather.timer, on_handle_closed);
	log_info("stopped: state committed, master.json removed");
}

void master_free(struct master *m)
{
	/* Peers still alive here (conn not yet closed) are freed with the loop. */
	outbox_drop(&m->outs);
	free(m->pa);
	m->pa = NULL;
	m->pa_n = m->pa_cap = 0;
	sched_release(&m->sched); /* first: it walks workers' and clients' queues */
	workers_release(m);
	clients_release(m);
	arrays_release(m);
	types_release(m);
	pipeline_release(m);
	nodes_release(m);
	runtimes_free(m->runtimes);
	m->runtimes = NULL;
	store_close(m->store);
	m->store = NULL;
}
