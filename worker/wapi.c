/* SPDX-License-Identifier: MIT */
/*
 * wapi: mindtrace's Worker endpoints -- see wapi.h. One table of endpoints,
 * bisected by name. A /run job is a JOB_TYPED job with an id of its own
 * below zero (so its lines in the job log never mix with the master's
 * jobs) that only this module knows: the master never hears of it, as
 * mindtrace's gateway path does not tell its cluster either.
 */
#include "wapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "job.h"
#include "log.h"
#include "msg.h"
#include "nametab.h"
#include "typed.h"
#include "util.h"

#define SHUTDOWN_DELAY_MS 100 /* the answer to /shutdown leaves before the worker does */

struct wrun {
	struct wapi *a;
	struct httpd_req *req;
	struct job *j;
	char ext[128]; /* the Job's "id" */
	struct wrun *prev, *next;
};

struct wapi {
	uv_loop_t *loop;
	struct httpd *h;
	struct wapi_cfg cfg;
	char server_id[320];
	struct wrun *runs;
	size_t nruns;
	int64_t next_id; /* /run jobs: -1, -2, ... */
	int shutting_down;
	uv_timer_t shutdown_timer;
	int pending;
	void (*done)(void *);
	void *done_arg;
};

/* ---- answers ---- */

static void reply_msg(struct httpd_req *r, msg *m)
{
	char *text = m ? msg_print(m) : NULL;
	msg_free(m);
	if (!text) {
		httpd_reply_error(r, 500, "out of memory");
		return;
	}
	httpd_reply(r, 200, NULL, text, strlen(text));
	free(text);
}

static void reply_null(struct httpd_req *r)
{
	httpd_reply(r, 200, NULL, "null", 4);
}

/* ---- /run ---- */

static void wrun_free(struct wrun *w)
{
	struct wapi *a = w->a;
	if (w->prev)
		w->prev->next = w->next;
	else
		a->runs = w->next;
	if (w->next)
		w->next->prev = w->prev;
	a->nruns--;
	job_free(w->j);
	free(w);
}

static void on_run_done(void *arg, struct job *j, const struct job_result *res)
{
	struct wrun *w = arg;
	(void)j;
	if (res->output)
		httpd_reply(w->req, 200, NULL, res->output, res->output_len);
	else
		httpd_reply_error(w->req, 500, "%s", res->error ? res->error : "the job gave no output");
	struct wapi *a = w->a;
	wrun_free(w);
	if (a->cfg.ops && a->cfg.ops->run_done)
		a->cfg.ops->run_done(a->cfg.arg);
}

/* The body is a mindtrace Job; its payload runs as a typed job would. */
static void ep_run(struct wapi *a, struct httpd_req *r, msg *body)
{
	const msg *payload = msg_get(body, "payload");
	if (!msg_is_object(body) || !payload) {
		httpd_reply_error(r, 422, "/run needs a Job object with \"payload\"");
		return;
	}
	if (a->shutting_down) {
		httpd_reply_error(r, 503, "the worker is shutting down");
		return;
	}
	char *text = msg_print(payload);
	msg *wj = msg_new_object();
	struct wrun *w = calloc(1, sizeof *w);
	char err[200] = "out of memory";
	int64_t id = a->next_id--;
	if (a->next_id >= 0)
		a->next_id = -1;
	if (text && wj && w && !msg_set_int(wj, "id", id) && !msg_set_str(wj, "type", "typed") &&
	    !msg_set_str(wj, "input", text))
		w->j = job_new(wj, NULL, err, sizeof err);
	free(text);
	msg_free(wj);
	if (!w || !w->j) {
		free(w);
		httpd_reply_error(r, 500, "%s", err);
		return;
	}
	w->a = a;
	w->req = r;
	const char *ext = msg_get_str(body, "id");
	if (ext)
		util_strlcpy(w->ext, ext, sizeof w->ext);
	else
		snprintf(w->ext, sizeof w->ext, "%lld", (long long)id);
	w->next = a->runs;
	if (a->runs)
		a->runs->prev = w;
	a->runs = w;
	a->nruns++;
	w->j->state = JOB_RUNNING;
	w->j->started_at = util_wall();
	typed_start(a->cfg.typed, w->j, on_run_done, w); /* may answer now */
}

/* ---- the rest ---- */

static void ep_get_status(struct wapi *a, struct httpd_req *r, msg *body)
{
	(void)body;
	char id[128];
	int busy = a->cfg.ops && a->cfg.ops->running && a->cfg.ops->running(a->cfg.arg, id, sizeof id);
	if (!busy && a->runs) {
		util_strlcpy(id, a->runs->ext, sizeof id);
		busy = 1;
	}
	msg *o = msg_new_object();
	msg_set_str(o, "worker_id", a->server_id);
	msg_set_str(o, "status", busy ? "running" : "idle");
	if (busy)
		msg_set_str(o, "job_id", id);
	else
		msg_set_null(o, "job_id");
	reply_msg(r, o);
}

/* mindtrace's worker attaches to one RabbitMQ queue here; an mtslurm
 * worker is the master's already (wire protocol) and takes the job types
 * its worker type is bound to, so there is nothing to do. */
static void ep_connect_to_cluster(struct wapi *a, struct httpd_req *r, msg *body)
{
	(void)a;
	(void)body;
	reply_null(r);
}

static void ep_start(struct wapi *a, struct httpd_req *r, msg *body)
{
	(void)a;
	(void)body;
	reply_null(r);
}

static void ep_status(struct wapi *a, struct httpd_req *r, msg *body)
{
	(void)body;
	msg *o = msg_new_object();
	msg_set_str(o, "status", a->shutting_down ? "Stopping" : "Available");
	reply_msg(r, o);
}

static void ep_heartbeat(struct wapi *a, struct httpd_req *r, msg *body)
{
	(void)body;
	msg *o = msg_new_object(), *hb = msg_new_object();
	msg_set_str(hb, "status", a->shutting_down ? "Stopping" : "Available");
	msg_set_str(hb, "server_id", a->server_id);
	msg_set_str(hb, "message", "Heartbeat check successful.");
	msg_set_null(hb, "details");
	msg_add(o, "heartbeat", hb);
	reply_msg(r, o);
}

static void ep_server_id(struct wapi *a, struct httpd_req *r, msg *body)
{
	(void)body;
	msg *o = msg_new_object();
	msg_set_str(o, "server_id", a->server_id);
	reply_msg(r, o);
}

static void ep_class_name(struct wapi *a, struct httpd_req *r, msg *body)
{
	(void)body;
	msg *o = msg_new_object();
	msg_set_str(o, "class_name", typed_class(a->cfg.typed));
	reply_msg(r, o);
}

static void on_shutdown_timer(uv_timer_t *t)
{
	struct wapi *a = t->data;
	if (a->cfg.ops && a->cfg.ops->shutdown)
		a->cfg.ops->shutdown(a->cfg.arg);
}

/* mindtrace answers this text and then stops. */
static void ep_shutdown(struct wapi *a, struct httpd_req *r, msg *body)
{
	(void)body;
	static const char text[] = "\"Server shutting down...\"";
	httpd_reply(r, 200, NULL, text, sizeof text - 1);
	if (a->shutting_down)
		return;
	a->shutting_down = 1;
	log_info("shutdown requested over HTTP");
	uv_timer_start(&a->shutdown_timer, on_shutdown_timer, SHUTDOWN_DELAY_MS, 0);
}

static void ep_endpoints(struct wapi *a, struct httpd_req *r, msg *body);

struct endpoint {
	const char *name;
	void (*fn)(struct wapi *a, struct httpd_req *r, msg *body);
};
/* Sorted by name (nametab). */
static const struct endpoint endpoints[] = {
	{"class_name", ep_class_name},
	{"connect_to_cluster", ep_connect_to_cluster},
	{"endpoints", ep_endpoints},
	{"get_status", ep_get_status},
	{"heartbeat", ep_heartbeat},
	{"run", ep_run},
	{"server_id", ep_server_id},
	{"shutdown", ep_shutdown},
	{"start", ep_start},
	{"status", ep_status},
};
#define NENDPOINTS (sizeof endpoints / sizeof endpoints[0])

size_t wapi_endpoints_check(void)
{
	return nametab_check(endpoints, NENDPOINTS, sizeof endpoints[0]);
}

static void ep_endpoints(struct wapi *a, struct httpd_req *r, msg *body)
{
	(void)a;
	(void)body;
	msg *o = msg_new_object(), *l = msg_new_array();
	for (size_t i = 0; i < NENDPOINTS; i++)
		msg_push(l, msg_new_str(endpoints[i].name));
	msg_add(o, "endpoints", l);
	reply_msg(r, o);
}

static void on_request(struct httpd_req *r, void *arg)
{
	struct wapi *a = arg;
	const char *path = httpd_req_path(r);
	const struct endpoint *e =
		nametab_find(endpoints, NENDPOINTS, sizeof endpoints[0], path[0] == '/' ? path + 1 : path);
	if (!e) {
		httpd_reply_error(r, 404, "no endpoint %.100s on a worker; POST one of /run, /get_status, /status, "
			 "/heartbeat, /shutdown (all: /endpoints)", path);
		return;
	}
	if (strcmp(httpd_req_method(r), "POST") != 0) {
		httpd_reply_error(r, 405, "%s takes POST", path);
		return;
	}
	size_t len = 0;
	const char *text = httpd_req_body(r, &len);
	msg *body = NULL;
	char err[160];
	if (len && !(body = msg_parse(text, len, err, sizeof err)) && e->fn == ep_run) {
		httpd_reply_error(r, 422, "the body is not JSON: %s", err);
		return;
	}
	e->fn(a, r, body); /* bodies other endpoints ignore may be anything */
	msg_free(body);
}

/* ---- life ---- */

int wapi_start(struct wapi **out, uv_loop_t *loop, const struct wapi_cfg *cfg, char *err, size_t errlen)
{
	struct wapi *a = calloc(1, sizeof *a);
	if (!a)
		return snprintf(err, errlen, "out of memory"), -1;
	a->loop = loop;
	a->cfg = *cfg;
	a->next_id = -1;
	util_strlcpy(a->server_id, cfg->server_id ? cfg->server_id : "", sizeof a->server_id);
	a->cfg.server_id = a->server_id;
	struct httpd_config hc = {.host = cfg->host, .port = cfg->port, .token = cfg->token, .on_request = on_request,
				  .arg = a, .tls_cert_pem = cfg->tls_cert_pem, .tls_key_pem = cfg->tls_key_pem};
	if (httpd_start(&a->h, loop, &hc, err, errlen)) {
		free(a);
		return -1;
	}
	uv_timer_init(loop, &a->shutdown_timer);
	a->shutdown_timer.data = a;
	*out = a;
	return 0;
}

int wapi_port(const struct wapi *a)
{
	return httpd_port(a->h);
}

size_t wapi_running(const struct wapi *a)
{
	return a ? a->nruns : 0;
}

static void stop_step(void *arg)
{
	struct wapi *a = arg;
	if (--a->pending > 0)
		return;
	void (*done)(void *) = a->done;
	void *darg = a->done_arg;
	free(a);
	if (done)
		done(darg);
}

static void on_timer_closed(uv_handle_t *h)
{
	stop_step(h->data);
}

void wapi_stop(struct wapi *a, void (*done)(void *arg), void *arg)
{
	a->done = done;
	a->done_arg = arg;
	while (a->runs) {
		struct wrun *w = a->runs;
		typed_abandon(a->cfg.typed, w->j);
		httpd_reply_error(w->req, 503, "the worker stopped before the job finished");
		wrun_free(w);
	}
	a->pending = 2;
	uv_timer_stop(&a->shutdown_timer);
	uv_close((uv_handle_t *)&a->shutdown_timer, on_timer_closed);
	httpd_stop(a->h, stop_step, a);
}
