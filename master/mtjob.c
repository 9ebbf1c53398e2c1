/* SPDX-License-Identifier: MIT */
/*
 * mtjob: mindtrace's job endpoints (see mtjob.h).
 *
 * A mindtrace job is a typed job (jobs.c, MJOB_TYPED) whose external id is
 * the client's uuid and whose submitted Job object is kept beside it
 * (jobmeta). Its JobStatus is assembled on demand: "queued" while it waits
 * or is prefetched, "running" once a worker started it, then the status
 * and output its worker's executor reported ({"status","output"}, the
 * shape of mindtrace's Worker._run); a job that failed without such a
 * report (its worker lost beyond its retries, a timeout) reads "failed"
 * with {"error": why}. Where mindtrace answers 500 for an unknown id this
 * answers 404, and a resubmitted id returns the job as it stands instead of
 * running it a second time.
 */
#include "mtjob.h"
#include "master.h"
#include "storesvc.h"
#include "types.h"
#include "gateway.h"
#include "gitres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"

void mtjob_iso(double t, char *out, size_t n)
{
	time_t s = (time_t)t;
	struct tm tm;
	localtime_r(&s, &tm);
	char day[40];
	strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
	long us = (long)((t - (double)s) * 1e6);
	snprintf(out, n, "%s.%06ld", day, us < 0 ? 0 : us > 999999 ? 999999 : us);
}

/* ---- reading a typed job ---- */

struct meta {
	int found;
	char *ext, *jtype, *job;
	int dlq;
};

static int meta_cb(void *arg, const struct store_meta *sm)
{
	struct meta *x = arg;
	x->found = 1;
	x->ext = sm->ext ? strdup(sm->ext) : NULL;
	x->jtype = sm->jtype ? strdup(sm->jtype) : NULL;
	x->job = sm->job ? strdup(sm->job) : NULL;
	x->dlq = sm->dlq;
	return 0;
}

static void meta_free(struct meta *x)
{
	free(x->ext);
	free(x->jtype);
	free(x->job);
}

struct rec {
	int found, state, rc_null, rc;
	char *worker, *output, *error, *input;
	double submitted, started, finished;
};

static int rec_cb(void *arg, const struct store_rec *r)
{
	struct rec *x = arg;
	x->found = 1;
	x->state = r->state;
	x->worker = r->worker ? strdup(r->worker) : NULL;
	x->output = r->output ? strndup(r->output, r->output_len) : NULL;
	x->error = r->error ? strdup(r->error) : NULL;
	x->input = r->input ? strndup(r->input, r->input_len) : NULL;
	x->submitted = r->submitted;
	x->started = r->started;
	x->finished = r->finished;
	x->rc_null = r->rc_null;
	x->rc = r->rc;
	return 1;
}

static void rec_free(struct rec *x)
{
	free(x->worker);
	free(x->output);
	free(x->error);
	free(x->input);
}

static int read_rec(struct master *m, int64_t id, struct rec *x)
{
	memset(x, 0, sizeof *x);
	struct store_query q = {.state = -1, .ids = &id, .nids = 1, .limit = 1};
	return store_jobs(m->store, &q, rec_cb, x) < 0 ? -1 : x->found;
}

void mtjob_ext_of(struct master *m, int64_t id, char *out, size_t n)
{
	struct meta x = {0};
	out[0] = '\0';
	if (store_meta_get(m->store, id, meta_cb, &x) > 0 && x.ext)
		util_strlcpy(out, x.ext, n);
	meta_free(&x);
}

static void set_time(msg *o, const char *key, double t)
{
	char iso[48];
	if (t > 0) {
		mtjob_iso(t, iso, sizeof iso);
		msg_set_str(o, key, iso);
	} else {
		msg_set_null(o, key);
	}
}

/* The Job object: as submitted (mindtrace), or made from the row for a
 * typed job that came in another way; started_at/completed_at from the
 * row as mindtrace's cluster sets them. */
static msg *job_object(const struct meta *x, const struct rec *r, int64_t id)
{
	char jerr[100];
	msg *j = x->job ? msg_parse(x->job, strlen(x->job), jerr, sizeof jerr) : NULL;
	if (!j) {
		char idtext[32];
		snprintf(idtext, sizeof idtext, "%lld", (long long)id);
		j = msg_new_object();
		msg_set_str(j, "id", x->ext ? x->ext : idtext);
		msg_set_str(j, "name", x->jtype ? x->jtype : "");
		msg_set_str(j, "schema_name", x->jtype ? x->jtype : "");
		msg *p = r->input ? msg_parse(r->input, strlen(r->input), jerr, sizeof jerr) : NULL;
		if (p)
			msg_add(j, "payload", p);
		else
			msg_set_null(j, "payload");
		msg_set_str(j, "status", "queued");
		set_time(j, "created_at", r->submitted);
		msg_set_null(j, "error");
		msg_set_null(j, "entrypoint");
		msg_set_null(j, "priority");
	}
	set_time(j, "started_at", r->started);
	set_time(j, "completed_at", r->finished);
	return j;
}

/* status and output of a final job, by mindtrace's rules: the executor's
 * {"status","output"}; else completed with the output as JSON, or failed
 * with the error. */
static void final_status(const struct rec *r, const char **status, msg **output)
{
	char jerr[100];
	msg *o = r->output ? msg_parse(r->output, strlen(r->output), jerr, sizeof jerr) : NULL;
	const char *s = msg_get_str(o, "status");
	if (o && msg_is_object(o) && s && (strcmp(s, "completed") == 0 || strcmp(s, "failed") == 0 ||
					   strcmp(s, "error") == 0 || strcmp(s, "running") == 0)) {
		*status = strcmp(s, "completed") == 0 ? "completed"
			  : strcmp(s, "failed") == 0  ? "failed"
			  : strcmp(s, "error") == 0   ? "error"
						      : "running";
		msg *out = msg_take(o, "output");
		*output = out && msg_is_object(out) ? out : (msg_free(out), msg_new_object());
		msg_free(o);
		return;
	}
	if (r->state == MJOB_COMPLETED) {
		*status = "completed";
		if (o && msg_is_object(o)) {
			*output = o;
			return;
		}
		msg_free(o);
		*output = msg_new_object();
		if (r->output && *r->output)
			msg_set_str(*output, "output", r->output);
		return;
	}
	msg_free(o);
	*status = "failed";
	*output = msg_new_object();
	msg_set_str(*output, "error", r->state == MJOB_CANCELLED ? "cancelled" : r->error ? r->error : "failed");
}

msg *mtjob_status_of(struct master *m, int64_t id)
{
	struct meta x = {0};
	struct rec r;
	if (store_meta_get(m->store, id, meta_cb, &x) <= 0) {
		meta_free(&x);
		return NULL;
	}
	if (read_rec(m, id, &r) <= 0) {
		meta_free(&x);
		rec_free(&r);
		return NULL;
	}
	msg *st = msg_new_object();
	msg_set_str(st, "job_id", x.ext ? x.ext : "");
	const struct mjob *j = sched_find(&m->sched, id);
	if (!j && r.state < MJOB_COMPLETED) { /* an endpoint type's: sent (running) or about to be */
		msg_set_str(st, "worker_id", r.worker ? r.worker : "");
		msg_set_str(st, "status", r.state == MJOB_RUNNING ? "running" : "queued");
		msg_add(st, "output", msg_new_object());
	} else if (j) {
		int running = j->where == MJOB_ASSIGNED && (j->flags & MJOB_F_STARTED);
		msg_set_str(st, "worker_id", running && j->worker ? wrk_of(j->worker)->wid : "");
		msg_set_str(st, "status", running ? "running" : "queued");
		msg_add(st, "output", msg_new_object());
		/* from memory: the row of a job still running may not say so yet
		 * (its assignment is written only if it runs a while, workers.c),
		 * and a poll every 20 ms must not force those writes */
		r.started = running ? workers_started_at(m, j) : -1;
	} else {
		const char *status;
		msg *out;
		final_status(&r, &status, &out);
		msg_set_str(st, "worker_id", r.worker ? r.worker : "");
		msg_set_str(st, "status", status);
		msg_add(st, "output", out);
	}
	msg_add(st, "job", job_object(&x, &r, id));
	meta_free(&x);
	rec_free(&r);
	return st;
}

/* ---- endpoints ---- */

/* The job id of mindtrace job id key's value, or 0 with a 404 answered. */
static int64_t job_of(struct call *c, const msg *m, const char *key)
{
	const char *ext = msg_get_str(m, key);
	if (!ext) {
		call_error(c, "unprocessable", "the body needs \"%s\": a job id (string)", key);
		return 0;
	}
	int64_t id = store_meta_find_ext(c->m->store, ext);
	if (id <= 0)
		call_error(c, "not_found", "no job \"%.80s\"", ext);
	return id > 0 ? id : 0;
}

void mtjob_status(struct call *c, msg *m)
{
	int64_t id = job_of(c, m, "job_id");
	if (!id)
		return;
	msg *st = mtjob_status_of(c->m, id);
	if (!st)
		call_error(c, "internal", "cannot read job %lld: %s", (long long)id, store_errmsg(c->m->store));
	else
		call_reply(c, st);
}

/* The reply of a submit that did not run: mindtrace's "error" record. */
static msg *error_status(const msg *job, const char *why)
{
	msg *st = msg_new_object(), *out = msg_new_object();
	msg_set_str(st, "job_id", msg_get_str(job, "id"));
	msg_set_str(st, "worker_id", "");
	msg_set_str(st, "status", "error");
	msg_set_str(out, "error", why);
	msg_add(st, "output", out);
	msg_add(st, "job", msg_dup(job));
	return st;
}

void mtjob_submit(struct call *c, msg *m)
{
	static const char *const need[] = {"id", "name", "schema_name", "created_at"};
	if (!msg_is_object(m)) {
		call_error(c, "unprocessable", "submit_job: the body must be a Job object");
		return;
	}
	for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
		if (!msg_get_str(m, need[i])) {
			call_error(c, "unprocessable",
				   "submit_job: the Job needs \"%s\" (a string); a Job is {\"id\",\"name\",\"schema_name\","
				   "\"payload\",\"created_at\",...}",
				   need[i]);
			return;
		}
	if (!msg_has(m, "payload")) {
		call_error(c, "unprocessable", "submit_job: the Job needs \"payload\"");
		return;
	}
	const char *ext = msg_get_str(m, "id"), *type = msg_get_str(m, "schema_name");
	int64_t id = store_meta_find_ext(c->m->store, ext);
	if (id > 0) { /* a resubmit (a retry after a lost answer): the job as it stands */
		msg *st = mtjob_status_of(c->m, id);
		if (st)
			call_reply(c, st);
		else
			call_error(c, "internal", "cannot read job %lld", (long long)id);
		return;
	}
	struct jobtype *t = types_job(c->m, type);
	if (!t) {
		/* recorded like mindtrace's error record: get_job_status finds it */
		char why[200];
		snprintf(why, sizeof why, "No job schema targeting found for job type %.100s", type);
		char *job = msg_print(m), *payload = msg_print(msg_get(m, "payload"));
		if (strlen(type) > TYPES_NAME_MAX || jobs_record_error(c->m, ext, type, job, payload, why) < 0)
			log_warn("submit_job %s: the error record was not stored: %s", ext, store_errmsg(c->m->store));
		free(job);
		free(payload);
		call_reply(c, error_status(m, why));
		return;
	}
	/* a run-script payload's git environment named by branch: its commit
	 * first, off the loop (this handler runs again with it) */
	if (gitres_hold(c, m, GITRES_JOB, mtjob_submit, "unprocessable"))
		return;
	msg *jobs = msg_new_array(), *o = msg_new_object();
	msg_set_str(o, "jobtype", type);
	msg_add(o, "input", msg_dup(msg_get(m, "payload")));
	msg_set_str(o, "ext", ext);
	msg_add(o, "job", msg_dup(m));
	msg_push(jobs, o);
	char err[600];
	int64_t first;
	int rc = jobs_admit(c->m, c->client, jobs, NULL, &first, err, sizeof err);
	msg_free(jobs);
	if (rc < 0) {
		/* "job 0: " says nothing to a client that sent one job */
		call_error(c, rc == -JOBS_EBUSY ? "busy" : "unprocessable", "%s", strncmp(err, "job 0: ", 7) ? err : err + 7);
		return;
	}
	/* An endpoint type answers with the result, as mindtrace's gateway
	 * does; the call waits for it (nothing else waits). */
	if (t->endpoint && gateway_attach(c->m, first, c))
		return;
	if (t->endpoint) { /* it failed at once */
		msg *st = mtjob_status_of(c->m, first);
		if (st)
			call_reply(c, st);
		else
			call_error(c, "internal", "cannot read job %lld", (long long)first);
		return;
	}
	msg *st = msg_new_object();
	msg_set_str(st, "job_id", ext);
	msg_set_str(st, "worker_id", "");
	msg_set_str(st, "status", "queued");
	msg_add(st, "output", msg_new_object());
	msg_add(st, "job", msg_dup(m));
	call_reply(c, st);
}

/* ---- the dead-letter queue ----
 *
 * One implementation of list, requeue and discard serves two shapes:
 * mindtrace's endpoints (get_dlq_jobs, requeue_from_dlq, discard_from_dlq)
 * and the wire requests dlq, dlq_requeue and dlq_discard (the CLI's dlq).
 * A shape says only how a request names its job, how a DLQ row reads and
 * what the answers look like. */

enum dlq_op { DLQ_REQUEUE, DLQ_DISCARD };

struct dlq_shape {
	/* The job request m names, and that name for errors into name; or 0
	 * with the error answered. */
	int64_t (*job)(struct call *c, const msg *m, char *name, size_t n);
	/* One row of the DLQ as an element of the list (a new object). */
	msg *(*row)(const struct store_meta *sm, const struct store_rec *sr);
	/* The answer to a list of jobs (takes jobs). */
	msg *(*list)(const struct call *c, msg *jobs);
	/* Answer a request whose op was done on job id. */
	void (*done)(struct call *c, int64_t id, enum dlq_op op);
};

/* The job of a requeue back in the scheduler, as the load at start does. */
struct requeue {
	struct master *m;
	const struct jobtype *gw; /* an endpoint type: forwarded once written */
};

static int requeue_row(void *arg, const struct store_row *r)
{
	struct requeue *q = arg;
	struct master *m = q->m;
	struct jobtype *t = r->jtype ? types_job(m, r->jtype) : NULL;
	if (t && t->endpoint) {
		q->gw = t;
		return 0;
	}
	struct client *o = r->jtype ? types_owner(m, r->jtype) : NULL;
	struct mjob *j = o ? mjob_new(r->input, r->input_len, NULL, NULL, NULL, 0, NULL) : NULL;
	if (!j)
		return -1;
	j->id = r->id;
	j->client = &o->sc;
	j->kind = MJOB_TYPED;
	j->timeout_s = r->timeout;
	j->prio = r->prio;
	j->retries = (uint16_t)(r->retries < 0 ? 0 : r->retries > UINT16_MAX ? UINT16_MAX : r->retries);
	j->crash_limit = (uint8_t)(r->crash_limit < 1 ? 1 : r->crash_limit > UINT8_MAX ? UINT8_MAX : r->crash_limit);
	if (sched_add(&m->sched, j)) {
		mjob_free(j);
		return -1;
	}
	return 0;
}

/* Requeue job id of the DLQ: 1, or 0 with the error answered. */
static int dlq_requeue(struct call *c, int64_t id, const char *name)
{
	struct requeue q = {c->m, NULL};
	int rc = store_dlq_requeue(c->m->store, id, requeue_row, &q);
	if (rc == 0) {
		call_error(c, "not_found", "job \"%.80s\" is not in the dead-letter queue", name);
		return 0;
	}
	if (rc == STORESVC_REFUSED) {
		call_error(c, "conflict", "%s", store_errmsg(c->m->store));
		return 0;
	}
	if (rc < 0) {
		call_error(c, "internal", "requeue failed: %s", store_errmsg(c->m->store));
		return 0;
	}
	store_counts(c->m->store, c->m->counts); /* its failure no longer counts */
	master_touch(c->m);
	if (q.gw) {
		struct meta x = {0};
		store_meta_get(c->m->store, id, meta_cb, &x);
		gateway_forward(c->m, q.gw, id, x.job ? x.job : "{}", NULL);
		meta_free(&x);
	}
	return 1;
}

/* Take job id out of the DLQ (it stays failed): 1, or 0 with the error
 * answered. */
static int dlq_discard(struct call *c, int64_t id, const char *name)
{
	int rc = store_dlq_discard(c->m->store, id);
	if (rc == 0)
		call_error(c, "not_found", "job \"%.80s\" is not in the dead-letter queue", name);
	else if (rc < 0)
		call_error(c, "internal", "discard failed: %s", store_errmsg(c->m->store));
	return rc > 0;
}

struct dlq_walk {
	const struct dlq_shape *shape;
	msg *a;
};

static int dlq_walk_row(void *arg, const struct store_meta *sm, const struct store_rec *sr)
{
	struct dlq_walk *w = arg;
	msg_push(w->a, w->shape->row(sm, sr));
	return 0;
}

/* The DLQ, oldest job first, in shape sh. */
static void dlq_list(struct call *c, const struct dlq_shape *sh)
{
	struct dlq_walk w = {sh, msg_new_array()};
	if (store_dlq(c->m->store, 0, dlq_walk_row, &w) < 0) {
		msg_free(w.a);
		call_error(c, "internal", "cannot read the dead-letter queue: %s", store_errmsg(c->m->store));
		return;
	}
	call_reply(c, sh->list(c, w.a));
}

/* Requeue or discard the job request m names, answered in shape sh. */
static void dlq_act(struct call *c, const msg *m, const struct dlq_shape *sh, enum dlq_op op)
{
	char name[120];
	int64_t id = sh->job(c, m, name, sizeof name);
	if (!id)
		return;
	if (op == DLQ_REQUEUE ? dlq_requeue(c, id, name) : dlq_discard(c, id, name))
		sh->done(c, id, op);
}

/* -- mindtrace's shape: jobs named by "job_id" (the external id), rows as
 * {"job_id","output","job"}, a requeue answered with the JobStatus and a
 * discard with null -- */

static int64_t mt_job(struct call *c, const msg *m, char *name, size_t n)
{
	snprintf(name, n, "%s", msg_get_str(m, "job_id") ? msg_get_str(m, "job_id") : "");
	return job_of(c, m, "job_id");
}

static msg *mt_row(const struct store_meta *sm, const struct store_rec *sr)
{
	struct meta x = {.found = 1, .ext = (char *)sm->ext, .jtype = (char *)sm->jtype, .job = (char *)sm->job};
	struct rec r = {.found = 1,
			.state = sr->state,
			.output = sr->output ? strndup(sr->output, sr->output_len) : NULL,
			.error = (char *)sr->error,
			.input = sr->input ? strndup(sr->input, sr->input_len) : NULL,
			.submitted = sr->submitted,
			.started = sr->started,
			.finished = sr->finished};
	const char *status;
	msg *out, *o = msg_new_object();
	final_status(&r, &status, &out);
	msg_set_str(o, "job_id", sm->ext ? sm->ext : "");
	msg_add(o, "output", out);
	msg_add(o, "job", job_object(&x, &r, sm->id));
	free(r.output);
	free(r.input);
	return o;
}

static msg *mt_list(const struct call *c, msg *jobs)
{
	msg *r = msg_new_object();
	msg_add(r, "jobs", jobs);
	return r;
}

static void mt_done(struct call *c, int64_t id, enum dlq_op op)
{
	if (op == DLQ_DISCARD) {
		call_reply(c, msg_new_raw("null"));
		return;
	}
	/* "queued", as mindtrace answers (an endpoint type's job is on its way) */
	msg *st = mtjob_status_of(c->m, id);
	if (st) {
		if (strcmp(msg_get_str(st, "status"), "running") == 0)
			msg_set_str(st, "status", "queued");
		call_reply(c, st);
	} else {
		call_error(c, "internal", "cannot read job %lld", (long long)id);
	}
}

static const struct dlq_shape mt_shape = {mt_job, mt_row, mt_list, mt_done};

void mtjob_dlq_list(struct call *c, msg *m) { dlq_list(c, &mt_shape); }
void mtjob_dlq_requeue(struct call *c, msg *m) { dlq_act(c, m, &mt_shape, DLQ_REQUEUE); }
void mtjob_dlq_discard(struct call *c, msg *m) { dlq_act(c, m, &mt_shape, DLQ_DISCARD); }

/* -- the wire shape (the CLI's dlq): jobs named by "id" (mtslurm's) or
 * "job_id" (the external id), rows as {"id","job_id","type","error",
 * "output","finished","since"}, answers {"t":"requeued"|"discarded","id"} -- */

static int64_t wire_job(struct call *c, const msg *m, char *name, size_t n)
{
	int64_t id = 0;
	if (msg_get_int(m, "id", &id) == 0 && id > 0) {
		snprintf(name, n, "%lld", (long long)id);
		return id;
	}
	if (msg_get_str(m, "job_id"))
		return mt_job(c, m, name, n);
	call_error(c, "bad_request", "give \"id\" (a job id) or \"job_id\" (its external id)");
	return 0;
}

static msg *wire_row(const struct store_meta *sm, const struct store_rec *sr)
{
	msg *o = msg_new_object();
	msg_set_int(o, "id", sm->id);
	if (sm->ext)
		msg_set_str(o, "job_id", sm->ext);
	else
		msg_set_null(o, "job_id");
	msg_set_str(o, "type", sm->jtype ? sm->jtype : "");
	if (sr->error)
		msg_set_str(o, "error", sr->error);
	else
		msg_set_null(o, "error");
	msg_set_strn(o, "output", sr->output ? sr->output : "", sr->output ? sr->output_len : 0);
	msg_set_num(o, "finished", sr->finished);
	msg_set_num(o, "since", sm->dlq_at);
	return o;
}

static msg *wire_list(const struct call *c, msg *jobs)
{
	msg *r = call_new_reply(c, "dlq");
	msg_add(r, "jobs", jobs);
	return r;
}

static void wire_done(struct call *c, int64_t id, enum dlq_op op)
{
	msg *r = call_new_reply(c, op == DLQ_REQUEUE ? "requeued" : "discarded");
	msg_set_int(r, "id", id);
	call_reply(c, r);
}

static const struct dlq_shape wire_shape = {wire_job, wire_row, wire_list, wire_done};

void mtjob_on_dlq(struct call *c, msg *m) { dlq_list(c, &wire_shape); }
void mtjob_on_dlq_requeue(struct call *c, msg *m) { dlq_act(c, m, &wire_shape, DLQ_REQUEUE); }
void mtjob_on_dlq_discard(struct call *c, msg *m) { dlq_act(c, m, &wire_shape, DLQ_DISCARD); }

/* ---- clearing ---- */

void mtjob_clear(struct call *c, msg *m)
{
	(void)m;
	struct master *ms = c->m;
	int64_t n = store_svc_clear(ms->store);
	if (n < 0) {
		call_error(c, "internal", "clear failed: %s", store_errmsg(ms->store));
		return;
	}
	/* The routing goes (every job type; worker types stay), and with it
	 * the workers' binds by URL. */
	while (types_njobs(ms)) {
		char err[200];
		types_del_job(ms, types_job_at(ms, 0)->name, err, sizeof err);
	}
	types_unbind_all(ms);
	store_counts(ms->store, ms->counts);
	log_info("clear_databases: %lld final typed jobs and every job type removed", (long long)n);
	call_reply(c, msg_new_raw("null"));
}

struct idpage {
	int64_t ids[1000];
	size_t n;
};

static int id_row(void *arg, const struct store_rec *r)
{
	struct idpage *p = arg;
	if (p->n < sizeof p->ids / sizeof p->ids[0])
		p->ids[p->n++] = r->id;
	return 0;
}

/* mindtrace purges the type's RabbitMQ queue: here its queued jobs (not
 * those a worker holds) are cancelled. */
void mtjob_clear_queue(struct call *c, msg *m)
{
	const char *type = msg_get_str(m, "job_schema_name");
	if (!type) {
		call_error(c, "unprocessable", "clear_job_schema_queue needs \"job_schema_name\"");
		return;
	}
	char cid[MASTER_CID_MAX + 1];
	snprintf(cid, sizeof cid, TYPES_OWNER_PREFIX "%s", type);
	struct idpage *p = malloc(sizeof *p);
	int64_t after = 0, n = 0;
	for (int page = 0; p && page < 10000; page++) {
		struct store_query q = {.state = MJOB_QUEUED, .client = cid, .after = after, .limit = 1000};
		p->n = 0;
		if (store_jobs(c->m->store, &q, id_row, p) < 0 || !p->n)
			break;
		for (size_t i = 0; i < p->n; i++) {
			struct mjob *j = sched_find(&c->m->sched, p->ids[i]);
			if (j && j->where != MJOB_ASSIGNED && jobs_cancel(c->m, p->ids[i]) > 0)
				n++;
		}
		after = p->ids[p->n - 1];
	}
	free(p);
	log_info("clear_job_schema_queue %s: %lld queued jobs cancelled", type, (long long)n);
	call_reply(c, msg_new_raw("null"));
}

/* ---- a mindtrace worker's alerts ---- */

void mtjob_alert_started(struct call *c, msg *m)
{
	int64_t id = job_of(c, m, "job_id");
	if (!id)
		return;
	log_info("worker %.80s says it started job %lld", msg_get_str(m, "worker_id") ? msg_get_str(m, "worker_id") : "?",
		 (long long)id);
	call_reply(c, msg_new_raw("null"));
}

void mtjob_alert_completed(struct call *c, msg *m)
{
	int64_t id = job_of(c, m, "job_id");
	if (!id)
		return;
	const char *status = msg_get_str(m, "status");
	if (!status || (strcmp(status, "completed") && strcmp(status, "failed") && strcmp(status, "error"))) {
		call_error(c, "unprocessable", "\"status\" must be completed, failed or error");
		return;
	}
	struct mjob *j = sched_find(&c->m->sched, id);
	if (!j) {
		call_error(c, "conflict", "job %s is finished already", msg_get_str(m, "job_id"));
		return;
	}
	if (j->where == MJOB_ASSIGNED) {
		call_error(c, "conflict", "job %s runs on an mtslurm worker, which reports it itself",
			   msg_get_str(m, "job_id"));
		return;
	}
	msg *res = msg_new_object();
	msg_set_str(res, "status", status);
	msg *out = msg_get(m, "output");
	msg_add(res, "output", out && msg_is_object(out) ? msg_dup(out) : msg_new_object());
	char *text = msg_print(res);
	msg_free(res);
	int ok = strcmp(status, "completed") == 0;
	jobs_finalize(c->m, j, ok ? MJOB_COMPLETED : MJOB_FAILED, text, text ? strlen(text) : 0,
		      ok ? NULL : status, 0, 0);
	free(text);
	call_reply(c, msg_new_raw("null"));
}
