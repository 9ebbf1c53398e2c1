/* SPDX-License-Identifier: MIT */
/*
 * autoscale: worker allocations on demand. See autoscale.h.
 */
#include "autoscale.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "log.h"
#include "master.h"
#include "batch.h"
#include "util.h"

#define TICK_MS 1000
#define POLL_EVERY_TICKS 3
#define BACKOFF_MIN_S 10.0
#define BACKOFF_MAX_S 600.0

enum alloc_state { A_PENDING, A_RUNNING, A_ENDED };
static const char *const alloc_state_names[] = {"pending", "running", "ended"};

struct alloc {
	char id[BATCH_ID_MAX];
	int tasks;
	enum alloc_state state;
	int seen_worker; /* one of its workers connected */
	double submitted;
	char slurm_state[24]; /* the batch system's name of its state */
	char reason[160];
};

enum op { OP_NONE, OP_SUBMIT, OP_POLL };

struct autoscale {
	struct master *m;
	int max_workers, per_alloc;
	double idle_timeout;
	/* the worker job, as the CLI wrote it; strings point into spec_msg */
	msg *conf;
	const struct batch_ops *batch; /* "backend" of autoscale.json, else Slurm */
	struct batch_spec spec;
	const char *extra[32];
	char jobs_path[RUNDIR_PATH_MAX];
	struct alloc allocs[AUTOSCALE_MAX_ALLOCS];
	int nallocs;
	uv_timer_t tick;
	uv_work_t work;
	unsigned ticks;
	/* the batch system call in flight (thread pool) and its results */
	enum op op;
	int submit_tasks, submit_rc;
	char submit_id[BATCH_ID_MAX];
	char submit_err[400];
	struct batch_info poll_info[AUTOSCALE_MAX_ALLOCS];
	int poll_rc[AUTOSCALE_MAX_ALLOCS];
	char poll_ids[AUTOSCALE_MAX_ALLOCS][BATCH_ID_MAX];
	int npoll;
	/* failures */
	double backoff_s, backoff_until;
	int failures;
	char last_error[400];
	char stopped[500]; /* "" while autoscaling */
	int closing;
	void (*close_cb)(void *);
	void *close_arg;
};

/* ---- settings ---- */

static const char *str(const msg *o, const char *k)
{
	const char *s = msg_get_str(o, k);
	return s && *s ? s : NULL;
}

/* A master restarted over a run dir whose autoscaler made jobs
 * (autoscale-jobs.json): they are its own again -- polled, their workers
 * counted and released, cancelled by stop. Their state is not known until
 * the first poll; they ran before, so ending is no failure. */
static void load_allocs(struct autoscale *a)
{
	char text[65536], jerr[256];
	int fd = open(a->jobs_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	msg *f = n > 0 ? msg_parse(text, (size_t)n, jerr, sizeof jerr) : NULL;
	msg *t = msg_child(msg_get(f, "tasks"));
	for (msg *j = msg_child(msg_get(f, "jobs")); j && a->nallocs < AUTOSCALE_MAX_ALLOCS;
	     j = msg_next(j), t = t ? msg_next(t) : NULL) {
		struct alloc *al = &a->allocs[a->nallocs];
		memset(al, 0, sizeof *al);
		if (msg_is_num(j) && msg_int(j) > 0)
			snprintf(al->id, sizeof al->id, "%lld", (long long)msg_int(j));
		else if (msg_str(j) && *msg_str(j))
			util_strlcpy(al->id, msg_str(j), sizeof al->id);
		else
			continue;
		al->tasks = t && msg_is_num(t) && msg_int(t) > 0 ? (int)msg_int(t) : a->per_alloc;
		al->state = A_PENDING;
		al->seen_worker = 1;
		al->submitted = util_wall();
		util_strlcpy(al->slurm_state, "UNKNOWN", sizeof al->slurm_state);
		a->nallocs++;
	}
	if (a->nallocs)
		log_info("autoscale: %d worker job(s) of an earlier master in %s: managing them again", a->nallocs,
			 a->jobs_path);
	msg_free(f);
}

struct autoscale *autoscale_new(struct master *m, const char *path, char *err, size_t errlen)
{
	char text[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n <= 0) {
		snprintf(err, errlen, "%s is empty", path);
		return NULL;
	}
	char jerr[256];
	msg *c = msg_parse(text, (size_t)n, jerr, sizeof jerr);
	int64_t max = 0, per = 1;
	double idle = 300;
	if (!c || msg_get_int(c, "max_workers", &max) || max < 1 || !str(c, "script") || !str(c, "work_dir")) {
		snprintf(err, errlen, "%s: %s", path,
			 c ? "needs max_workers >= 1, script and work_dir" : jerr);
		msg_free(c);
		return NULL;
	}
	/* autoscale.json of an older mtslurm names no backend: it was Slurm */
	const struct batch_ops *ops = batch_find(str(c, "backend") ? str(c, "backend") : "slurm", jerr, sizeof jerr);
	if (!ops) {
		snprintf(err, errlen, "%s: %s", path, jerr);
		msg_free(c);
		return NULL;
	}
	msg_get_int(c, "workers_per_alloc", &per);
	msg_get_num(c, "idle_timeout", &idle);
	struct autoscale *a = calloc(1, sizeof *a);
	if (!a) {
		msg_free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->m = m;
	a->conf = c;
	a->batch = ops;
	a->max_workers = (int)max;
	a->per_alloc = per < 1 ? 1 : (int)per;
	a->idle_timeout = idle;
	struct batch_spec *s = &a->spec;
	s->name = str(c, "name");
	s->queue = str(c, "partition");
	s->walltime = str(c, "time");
	s->account = str(c, "account");
	s->qos = str(c, "qos");
	s->constraint = str(c, "constraint");
	s->gres = str(c, "gres");
	s->mem = str(c, "mem");
	s->work_dir = str(c, "work_dir");
	s->out_path = str(c, "out");
	s->script = str(c, "script");
	s->select = str(c, "select");
	int64_t v;
	if (!msg_get_int(c, "ntasks_per_node", &v))
		s->ntasks_per_node = (uint32_t)v;
	if (!msg_get_int(c, "cpus_per_task", &v))
		s->cpus_per_task = (uint32_t)v;
	for (msg *e = msg_child(msg_get(c, "extra")); e && s->nextra < 32; e = msg_next(e))
		if (msg_str(e))
			a->extra[s->nextra++] = msg_str(e);
	s->extra = a->extra;
	rundir_path(a->jobs_path, m->cfg.run_dir, "autoscale-jobs.json");
	load_allocs(a);
	uv_timer_init(m->loop, &a->tick);
	a->tick.data = a;
	a->work.data = a;
	return a;
}

/* ---- the allocations file ---- */

static void save_allocs(struct autoscale *a)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, "{\"jobs\":[");
	for (int i = 0; i < a->nallocs; i++) {
		buf_addf(&b, "%s", i ? "," : "");
		int64_t n;
		if (batch_id_number(a->allocs[i].id, &n))
			buf_addf(&b, "%lld", (long long)n);
		else
			buf_addf(&b, "\"%s\"", a->allocs[i].id); /* ids have no quotes or backslashes */
	}
	buf_adds(&b, "],\"tasks\":[");
	for (int i = 0; i < a->nallocs; i++)
		buf_addf(&b, "%s%d", i ? "," : "", a->allocs[i].tasks);
	buf_adds(&b, "]}\n");
	char tmp[RUNDIR_PATH_MAX + 8];
	snprintf(tmp, sizeof tmp, "%s.tmp", a->jobs_path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (!b.p || fd < 0 || write(fd, b.p, b.len) != (ssize_t)b.len || close(fd) != 0 ||
	    rename(tmp, a->jobs_path) != 0)
		log_error("cannot write %s: %s; mtslurm stop may miss autoscaled %s jobs", a->jobs_path,
			  strerror(errno), a->batch->title);
	buf_release(&b);
}

/* ---- thread pool ---- */

static void on_work(uv_work_t *r)
{
	struct autoscale *a = r->data;
	if (a->op == OP_SUBMIT) {
		struct batch_spec s = a->spec;
		s.ntasks = (uint32_t)a->submit_tasks;
		a->submit_rc = a->batch->submit(&s, a->submit_id, a->submit_err, sizeof a->submit_err);
	} else if (a->op == OP_POLL) {
		for (int i = 0; i < a->npoll; i++)
			a->poll_rc[i] = a->batch->query(a->poll_ids[i], &a->poll_info[i], a->submit_err,
							sizeof a->submit_err);
	}
}

static void fail(struct autoscale *a, const char *why, int permanent)
{
	a->failures++;
	util_strlcpy(a->last_error, why, sizeof a->last_error);
	if (permanent || a->failures >= AUTOSCALE_MAX_FAILURES) {
		snprintf(a->stopped, sizeof a->stopped, "%s%s; autoscaling stopped (fix it and restart the master)",
			 why, permanent ? "" : " (again and again)");
		log_error("autoscale: %s", a->stopped);
		return;
	}
	a->backoff_s = a->backoff_s ? fmin(a->backoff_s * 2, BACKOFF_MAX_S) : BACKOFF_MIN_S;
	a->backoff_until = util_wall() + a->backoff_s;
	log_warn("autoscale: %s; next worker job in %.0f s", why, a->backoff_s);
}

static struct alloc *find_alloc(struct autoscale *a, const char *id)
{
	for (int i = 0; i < a->nallocs; i++)
		if (strcmp(a->allocs[i].id, id) == 0)
			return &a->allocs[i];
	return NULL;
}

static void on_tick_closed(uv_handle_t *h)
{
	struct autoscale *a = h->data;
	void (*cb)(void *) = a->close_cb;
	void *arg = a->close_arg;
	msg_free(a->conf);
	free(a);
	if (cb)
		cb(arg);
}

static void on_work_done(uv_work_t *r, int status)
{
	struct autoscale *a = r->data;
	enum op op = a->op;
	a->op = OP_NONE;
	if (a->closing) {
		uv_close((uv_handle_t *)&a->tick, on_tick_closed);
		return;
	}
	if (status)
		return;
	if (op == OP_SUBMIT) {
		if (a->submit_rc) {
			char why[500];
			snprintf(why, sizeof why, "worker job of %d task(s): %s", a->submit_tasks, a->submit_err);
			fail(a, why, a->submit_rc == -1);
			return;
		}
		if (a->nallocs == AUTOSCALE_MAX_ALLOCS) { /* forget the oldest ended one */
			int k = 0;
			while (k < a->nallocs - 1 && a->allocs[k].state != A_ENDED)
				k++;
			memmove(&a->allocs[k], &a->allocs[k + 1], (size_t)(a->nallocs - k - 1) * sizeof a->allocs[0]);
			a->nallocs--;
		}
		struct alloc *al = &a->allocs[a->nallocs++];
		memset(al, 0, sizeof *al);
		util_strlcpy(al->id, a->submit_id, sizeof al->id);
		al->tasks = a->submit_tasks;
		al->state = A_PENDING;
		al->submitted = util_wall();
		util_strlcpy(al->slurm_state, "PENDING", sizeof al->slurm_state);
		save_allocs(a);
		log_info("autoscale: submitted worker job %s (%d task(s))", al->id, al->tasks);
		return;
	}
	for (int i = 0; i < a->npoll; i++) {
		struct alloc *al = find_alloc(a, a->poll_ids[i]);
		if (!al || a->poll_rc[i])
			continue;
		struct batch_info *in = &a->poll_info[i];
		util_strlcpy(al->slurm_state, in->state_name, sizeof al->slurm_state);
		util_strlcpy(al->reason, in->reason, sizeof al->reason);
		enum alloc_state was = al->state;
		al->state = in->state == BATCH_PENDING ? A_PENDING : in->state == BATCH_RUNNING ? A_RUNNING : A_ENDED;
		if (al->state == A_ENDED && was != A_ENDED) {
			log_info("autoscale: worker job %s ended (%s%s%s)", al->id, in->state_name,
				 in->reason[0] ? ": " : "", in->reason);
			if (!al->seen_worker) {
				char why[500];
				snprintf(why, sizeof why, "worker job %s ended (%s%s%s) before any of its workers connected",
					 al->id, in->state_name, in->reason[0] ? ": " : "", in->reason);
				fail(a, why, 0);
			}
		}
	}
}

static void run_op(struct autoscale *a, enum op op)
{
	a->op = op;
	if (uv_queue_work(a->m->loop, &a->work, on_work, on_work_done) != 0)
		a->op = OP_NONE;
}

/* ---- the tick ---- */

static void on_tick(uv_timer_t *t)
{
	struct autoscale *a = t->data;
	struct master *m = a->m;
	if (m->shutting_down || m->stopped)
		return;
	double now = util_wall();
	uint64_t ready = m->sched.nqueued - m->sched.nwaiting;
	/* which allocations have workers here; idle ones leave */
	int live_tasks = 0, pending = 0, ended = 0;
	for (int i = 0; i < a->nallocs; i++) {
		if (a->allocs[i].state != A_ENDED)
			live_tasks += a->allocs[i].tasks;
		pending += a->allocs[i].state == A_PENDING;
		ended += a->allocs[i].state == A_ENDED;
	}
	for (struct wrk *w = m->workers; w; w = w->next) {
		struct alloc *al = w->slurm_job[0] ? find_alloc(a, w->slurm_job) : NULL;
		if (!al || !w->peer)
			continue;
		if (!al->seen_worker) {
			al->seen_worker = 1;
			a->failures = 0; /* a worker job that works resets the backoff */
			a->backoff_s = 0;
		}
		if (al->state == A_PENDING) {
			al->state = A_RUNNING;
			util_strlcpy(al->slurm_state, "RUNNING", sizeof al->slurm_state);
			al->reason[0] = '\0';
		}
		if (w->sw.nassigned || ready) {
			w->idle_since = 0;
		} else if (!w->idle_since) {
			w->idle_since = now;
		} else if (now - w->idle_since >= a->idle_timeout && w->peer->conn && !w->told_exit) {
			log_info("autoscale: worker %s idle for %.0f s: releasing it", w->wid, now - w->idle_since);
			w->told_exit = 1;
			conn_send(w->peer->conn, msg_new_typed("exit"));
		}
	}
	if (a->op != OP_NONE)
		return;
	a->ticks++;
	/* (a full table of live allocations must not lose one to make room) */
	if (!a->stopped[0] && ready && live_tasks < a->max_workers && pending < AUTOSCALE_BACKLOG &&
	    now >= a->backoff_until && (a->nallocs < AUTOSCALE_MAX_ALLOCS || ended)) {
		int k = a->max_workers - live_tasks;
		if (k > a->per_alloc)
			k = a->per_alloc;
		a->submit_tasks = k;
		run_op(a, OP_SUBMIT);
		return;
	}
	if (a->ticks % POLL_EVERY_TICKS == 0 || pending) {
		a->npoll = 0;
		for (int i = 0; i < a->nallocs; i++)
			if (a->allocs[i].state != A_ENDED)
				util_strlcpy(a->poll_ids[a->npoll++], a->allocs[i].id, BATCH_ID_MAX);
		if (a->npoll)
			run_op(a, OP_POLL);
	}
}

void autoscale_start(struct autoscale *a)
{
	uv_timer_start(&a->tick, on_tick, TICK_MS, TICK_MS);
}

void autoscale_close(struct autoscale *a, void (*cb)(void *arg), void *arg)
{
	a->closing = 1;
	a->close_cb = cb;
	a->close_arg = arg;
	uv_timer_stop(&a->tick);
	if (a->op != OP_NONE)
		return; /* on_work_done finishes */
	uv_close((uv_handle_t *)&a->tick, on_tick_closed);
}

/* ---- status ---- */

void autoscale_status(const struct autoscale *a, msg *status)
{
	msg *o = msg_new_object();
	msg_set_str(o, "backend", a->batch->name);
	msg_set_int(o, "max_workers", a->max_workers);
	msg_set_int(o, "workers_per_alloc", a->per_alloc);
	msg_set_num(o, "idle_timeout", a->idle_timeout);
	msg *arr = msg_new_array();
	for (int i = 0; i < a->nallocs; i++) {
		const struct alloc *al = &a->allocs[i];
		msg *j = msg_new_object();
		int64_t n;
		if (batch_id_number(al->id, &n))
			msg_set_int(j, "id", n);
		else
			msg_set_str(j, "id", al->id);
		msg_set_int(j, "tasks", al->tasks);
		msg_set_str(j, "state", alloc_state_names[al->state]);
		msg_set_str(j, "slurm_state", al->slurm_state);
		if (al->reason[0])
			msg_set_str(j, "reason", al->reason);
		msg_push(arr, j);
	}
	msg_add(o, "allocations", arr);
	if (a->last_error[0])
		msg_set_str(o, "last_error", a->last_error);
	if (a->backoff_until > util_wall())
		msg_set_num(o, "backoff_s", a->backoff_until - util_wall());
	if (a->stopped[0])
		msg_set_str(o, "stopped", a->stopped);
	msg_add(status, "autoscale", o);
}
