/* SPDX-License-Identifier: MIT */
/*
 * mtapi: mindtrace-cluster's endpoints (see mtapi.h): the table, the base
 * endpoints of every mindtrace service (status, heartbeat, server_id,
 * class_name, pid_file, endpoints, shutdown), routing (job types to worker
 * types, to workers, to endpoints), worker types and worker status. The job
 * endpoints are in mtjob.c.
 */
#include "mtapi.h"
#include "master.h"
#include "mtjob.h"
#include "gateway.h"
#include "nodes.h"
#include "types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "nametab.h"
#include "util.h"

/* ---- base endpoints ---- */

static void ep_status(struct call *c, msg *m)
{
	(void)m;
	msg *r = msg_new_object();
	msg_set_str(r, "status", c->m->shutting_down ? "Stopping" : "Available");
	call_reply(c, r);
}

static void ep_heartbeat(struct call *c, msg *m)
{
	(void)m;
	msg *r = msg_new_object(), *hb = msg_new_object();
	msg_set_str(hb, "status", c->m->shutting_down ? "Stopping" : "Available");
	msg_set_str(hb, "server_id", c->m->server_id);
	msg_set_str(hb, "message", "Heartbeat check successful.");
	msg_set_null(hb, "details");
	msg_add(r, "heartbeat", hb);
	call_reply(c, r);
}

static void ep_server_id(struct call *c, msg *m)
{
	(void)m;
	msg *r = msg_new_object();
	msg_set_str(r, "server_id", c->m->server_id);
	call_reply(c, r);
}

static void ep_class_name(struct call *c, msg *m)
{
	(void)m;
	msg *r = msg_new_object();
	msg_set_str(r, "class_name", "ClusterManager");
	call_reply(c, r);
}

static void ep_pid_file(struct call *c, msg *m)
{
	(void)m;
	char path[RUNDIR_PATH_MAX];
	msg *r = msg_new_object();
	if (rundir_path(path, c->m->cfg.run_dir, "master.json") == 0)
		msg_set_str(r, "pid_file", path);
	else
		msg_set_null(r, "pid_file");
	call_reply(c, r);
}

static void ep_endpoints(struct call *c, msg *m)
{
	(void)m;
	msg *r = msg_new_object(), *a = msg_new_array();
	for (size_t i = 0; i < mtapi_ncalls; i++)
		msg_push(a, msg_new_str(mtapi_calls[i].name));
	msg_add(r, "endpoints", a);
	call_reply(c, r);
}

/* mindtrace answers the text "Server shutting down..." and stops; the
 * master stops cleanly (its workers exit, state is committed). */
static void ep_shutdown(struct call *c, msg *m)
{
	(void)m;
	call_reply(c, msg_new_str("Server shutting down..."));
	log_info("shutdown requested over HTTP");
	master_shutdown(c->m);
}

/* ---- routing and worker types ---- */

/* mindtrace worker classes (by their last dotted component) to executors. */
struct wclass {
	const char *name;
	const char *executor;
};
static const struct wclass wclasses[] = {
	{"EchoWorker", "echo"}, {"RunScriptWorker", "run-script"}, {"echo", "echo"},
	{"exec", "exec"},	      {"func", "func"},		      {"run-script", "run-script"},
};

static const char *executor_of(const char *cls)
{
	if (!cls)
		return NULL;
	const char *dot = strrchr(cls, '.');
	const struct wclass *w =
		nametab_find(wclasses, sizeof wclasses / sizeof wclasses[0], sizeof wclasses[0], dot ? dot + 1 : cls);
	return w ? w->executor : NULL;
}

/* A job type keeps its schema and limits when mindtrace re-targets it. */
static int retarget(struct call *c, const char *name, const char *worker_type, const char *url, char *err,
		    size_t n)
{
	struct jobtype *old = types_job(c->m, name);
	msg *schema = NULL;
	char jerr[100];
	if (old && old->schema_text)
		schema = msg_parse(old->schema_text, strlen(old->schema_text), jerr, sizeof jerr);
	int rc = types_put_job(c->m, name, worker_type, url, schema, old ? old->timeout_s : 0, old ? old->retries : -1,
			       err, n);
	msg_free(schema);
	return rc;
}

static void ep_register_job_to_endpoint(struct call *c, msg *m)
{
	char err[500];
	const char *type = msg_get_str(m, "job_type"), *ep = msg_get_str(m, "endpoint");
	if (!type || !ep) {
		call_error(c, "unprocessable", "register_job_to_endpoint needs \"job_type\" and \"endpoint\"");
		return;
	}
	if (retarget(c, type, NULL, ep, err, sizeof err)) {
		call_error(c, "unprocessable", "%s", err);
		return;
	}
	call_reply(c, msg_new_raw("null"));
}

static struct wrk *worker_by_url(struct master *m, const char *url)
{
	for (struct wrk *w = m->workers; url && w; w = w->next)
		if (w->peer && w->url[0] && strcmp(w->url, url) == 0)
			return w;
	return NULL;
}

static struct wrk *worker_by_id(struct master *m, const char *wid)
{
	struct wrk *w = wid ? workers_find(m, wid) : NULL;
	return w && w->peer ? w : NULL;
}

/* The job type goes to the queue (mindtrace's "@orchestrator") and this
 * worker serves it, besides whatever else it serves (mindtrace: one type
 * per worker). */
static void ep_register_job_to_worker(struct call *c, msg *m)
{
	char err[500];
	const char *type = msg_get_str(m, "job_type"), *url = msg_get_str(m, "worker_url");
	if (!type || !url) {
		call_error(c, "unprocessable", "register_job_to_worker needs \"job_type\" and \"worker_url\"");
		return;
	}
	struct wrk *w = worker_by_url(c->m, url);
	if (!w) {
		call_error(c, "unavailable", "Server failed to connect: no worker serves %.200s", url);
		return;
	}
	struct jobtype *t = types_job(c->m, type);
	if ((!t || t->endpoint) && retarget(c, type, NULL, NULL, err, sizeof err)) {
		call_error(c, "unprocessable", "%s", err);
		return;
	}
	if (types_bind(c->m, url, type, err, sizeof err)) {
		call_error(c, "internal", "%s", err);
		return;
	}
	log_info("job type %s bound to worker %s (%s)", type, w->wid, w->url);
	call_reply(c, msg_new_raw("null"));
}

static void ep_register_job_schema_to_worker_type(struct call *c, msg *m)
{
	char err[500];
	const char *type = msg_get_str(m, "job_schema_name"), *wt = msg_get_str(m, "worker_type");
	if (!type || !wt) {
		call_error(c, "unprocessable",
			   "register_job_schema_to_worker_type needs \"job_schema_name\" and \"worker_type\"");
		return;
	}
	if (!types_worker(c->m, wt)) {
		/* mindtrace's behaviour: a warning and no change */
		log_warn("register_job_schema_to_worker_type: no worker type %s; job type %s not routed", wt, type);
		call_reply(c, msg_new_raw("null"));
		return;
	}
	if (retarget(c, type, wt, NULL, err, sizeof err))
		call_error(c, "unprocessable", "%s", err);
	else
		call_reply(c, msg_new_raw("null"));
}

static void ep_register_worker_type(struct call *c, msg *m)
{
	char err[500];
	const char *name = msg_get_str(m, "worker_name"), *cls = msg_get_str(m, "worker_class");
	const char *executor = executor_of(cls);
	msg *wp = msg_get(m, "worker_params");
	if (!name || !cls) {
		call_error(c, "unprocessable", "register_worker_type needs \"worker_name\" and \"worker_class\"");
		return;
	}
	if (!executor) {
		call_error(c, "unprocessable",
			   "unknown worker class \"%.120s\": mtslurm runs EchoWorker and RunScriptWorker, or its own "
			   "executors echo, exec, func and run-script",
			   cls);
		return;
	}
	if (wp && !msg_is_object(wp) && !msg_is_null(wp)) {
		call_error(c, "unprocessable", "\"worker_params\" must be an object");
		return;
	}
	/* The params: worker_params, and the git coordinates (all of them,
	 * git_project included) for the environments of run-script. */
	msg *params = wp && msg_is_object(wp) ? msg_dup(wp) : msg_new_object();
	static const char *const git[] = {"git_repo_url", "git_branch", "git_commit", "git_working_dir", "git_project"};
	for (size_t i = 0; i < sizeof git / sizeof git[0]; i++)
		if (msg_get_str(m, git[i]))
			msg_set_str(params, git[i], msg_get_str(m, git[i]));
	msg_set_str(params, "worker_class", cls);
	int rc = types_put_worker(c->m, name, executor, params, err, sizeof err);
	msg_free(params);
	if (rc) {
		call_error(c, "unprocessable", "%s", err);
		return;
	}
	const char *jt = msg_get_str(m, "job_type");
	if (jt && retarget(c, jt, name, NULL, err, sizeof err)) {
		call_error(c, "unprocessable", "%s", err);
		return;
	}
	call_reply(c, msg_new_raw("null"));
}

/* ---- worker status ---- */

/* WorkerStatus: {worker_id, worker_type, worker_url, job_id, status,
 * last_heartbeat}; status idle or running, and nonexistent for a worker
 * that is not connected (it shut down, died, or never was). worker_type is
 * the worker's worker type (mindtrace puts the job type there). */
static msg *worker_status(struct master *m, struct wrk *w, const char *id, const char *url)
{
	msg *o = msg_new_object();
	if (!w) {
		msg_set_str(o, "worker_id", id ? id : "");
		msg_set_str(o, "worker_type", "");
		msg_set_str(o, "worker_url", url ? url : "");
		msg_set_null(o, "job_id");
		msg_set_str(o, "status", "nonexistent");
		msg_set_null(o, "last_heartbeat");
		return o;
	}
	msg_set_str(o, "worker_id", w->wid);
	msg_set_str(o, "worker_type", w->wtype);
	msg_set_str(o, "worker_url", w->url);
	const struct mjob *run = NULL;
	for (const struct mjob *j = w->sw.head; j && !run; j = j->next)
		if (j->flags & MJOB_F_STARTED)
			run = j;
	char ext[256] = "";
	if (run)
		mtjob_ext_of(m, run->id, ext, sizeof ext);
	if (run && !ext[0])
		snprintf(ext, sizeof ext, "%lld", (long long)run->id);
	if (run)
		msg_set_str(o, "job_id", ext);
	else
		msg_set_null(o, "job_id");
	msg_set_str(o, "status", run ? "running" : "idle");
	char iso[48];
	mtjob_iso(w->last_seen, iso, sizeof iso);
	msg_set_str(o, "last_heartbeat", iso);
	return o;
}

static void ep_worker_status(struct call *c, msg *m)
{
	const char *id = msg_get_str(m, "worker_id");
	if (!id) {
		call_error(c, "unprocessable", "the body needs \"worker_id\"");
		return;
	}
	call_reply(c, worker_status(c->m, worker_by_id(c->m, id), id, NULL));
}

static void ep_worker_status_by_url(struct call *c, msg *m)
{
	const char *url = msg_get_str(m, "worker_url");
	if (!url) {
		call_error(c, "unprocessable", "the body needs \"worker_url\"");
		return;
	}
	call_reply(c, worker_status(c->m, worker_by_url(c->m, url), NULL, url));
}

const struct call_handler mtapi_calls[] = {
	{"class_name", ep_class_name, 0},
	{"clear_databases", mtjob_clear, CALL_WRITES},
	{"clear_job_schema_queue", mtjob_clear_queue, CALL_WRITES},
	{"discard_from_dlq", mtjob_dlq_discard, CALL_WRITES},
	{"endpoints", ep_endpoints, 0},
	{"get_dlq_jobs", mtjob_dlq_list, 0},
	{"get_job_status", mtjob_status, 0},
	{"get_worker_status", ep_worker_status, 0},
	{"get_worker_status_by_url", ep_worker_status_by_url, 0},
	{"heartbeat", ep_heartbeat, 0},
	{"launch_worker", nodes_on_launch, 0},
	{"launch_worker_status", nodes_on_launch_status, 0},
	{"pid_file", ep_pid_file, 0},
	/* live checks: the master knows each worker's state through its
	 * connection, so these are the same as the get_ variants */
	{"query_worker_status", ep_worker_status, 0},
	{"query_worker_status_by_url", ep_worker_status_by_url, 0},
	{"register_app", gateway_on_register_app, CALL_WRITES},
	{"register_job_schema_to_worker_type", ep_register_job_schema_to_worker_type, CALL_WRITES},
	{"register_job_to_endpoint", ep_register_job_to_endpoint, CALL_WRITES},
	{"register_job_to_worker", ep_register_job_to_worker, CALL_WRITES},
	{"register_node", nodes_on_register, 0},
	{"register_worker_type", ep_register_worker_type, CALL_WRITES},
	{"requeue_from_dlq", mtjob_dlq_requeue, CALL_WRITES},
	{"server_id", ep_server_id, 0},
	{"shutdown", ep_shutdown, CALL_WRITES},
	{"status", ep_status, 0},
	{"submit_job", mtjob_submit, CALL_WRITES},
	{"worker_alert_completed_job", mtjob_alert_completed, CALL_WRITES},
	{"worker_alert_started_job", mtjob_alert_started, 0},
};
const size_t mtapi_ncalls = sizeof mtapi_calls / sizeof mtapi_calls[0];
