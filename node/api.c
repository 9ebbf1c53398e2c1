/* SPDX-License-Identifier: MIT */
/*
 * api: the node's HTTP endpoints -- mindtrace's Node (launch_worker,
 * launch_worker_status, shutdown_worker[_by_id|_by_port],
 * shutdown_all_workers) and the base endpoints of every mindtrace service
 * (status, heartbeat, server_id, endpoints, class_name, shutdown). All
 * POST with the JSON body as the request, found by name in one sorted
 * table. Errors carry FastAPI's {"detail": TEXT}: 422 for a bad request,
 * 404 for an unknown launch id (mindtrace: 500), 503 while stopping.
 */
#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "nametab.h"

typedef void (*api_fn)(struct node *n, struct httpd_req *r, msg *body);

struct endpoint {
	const char *name;
	api_fn fn;
};

static const struct endpoint endpoints[];
static const size_t nendpoints;

static void reply_msg(struct httpd_req *r, msg *m)
{
	char *text = m ? msg_print(m) : NULL;
	msg_free(m);
	if (!text) {
		httpd_reply_error(r, 503, "out of memory");
		return;
	}
	httpd_reply(r, 200, NULL, text, strlen(text));
	free(text);
}

static void reply_null(struct httpd_req *r)
{
	httpd_reply(r, 200, NULL, "null", 4);
}

static const char *state_name(const struct node *n)
{
	return n->stopping ? "Stopping" : "Available";
}

/* ---- base endpoints ---- */

static void ep_status(struct node *n, struct httpd_req *r, msg *body)
{
	(void)body;
	msg *o = msg_new_object();
	msg_set_str(o, "status", state_name(n));
	reply_msg(r, o);
}

static void ep_heartbeat(struct node *n, struct httpd_req *r, msg *body)
{
	(void)body;
	msg *o = msg_new_object(), *hb = msg_new_object();
	msg_set_str(hb, "status", state_name(n));
	msg_set_str(hb, "server_id", n->server_id);
	msg_set_str(hb, "message", "Heartbeat check successful.");
	msg_set_null(hb, "details");
	msg_add(o, "heartbeat", hb);
	reply_msg(r, o);
}

static void ep_server_id(struct node *n, struct httpd_req *r, msg *body)
{
	(void)body;
	msg *o = msg_new_object();
	msg_set_str(o, "server_id", n->server_id);
	reply_msg(r, o);
}

static void ep_class_name(struct node *n, struct httpd_req *r, msg *body)
{
	(void)n;
	(void)body;
	msg *o = msg_new_object();
	msg_set_str(o, "class_name", "Node");
	reply_msg(r, o);
}

static void ep_endpoints(struct node *n, struct httpd_req *r, msg *body)
{
	(void)n;
	(void)body;
	msg *o = msg_new_object(), *a = msg_new_array();
	for (size_t i = 0; i < nendpoints; i++)
		msg_push(a, msg_new_str(endpoints[i].name));
	msg_add(o, "endpoints", a);
	reply_msg(r, o);
}

/* mindtrace: all workers first, then the node itself. */
static void ep_shutdown(struct node *n, struct httpd_req *r, msg *body)
{
	(void)body;
	reply_msg(r, msg_new_str("Server shutting down..."));
	n->shutdown(n, "shutdown requested over HTTP");
}

/* ---- launches ---- */

static void ep_launch_worker(struct node *n, struct httpd_req *r, msg *body)
{
	char err[300];
	if (n->stopping) {
		httpd_reply_error(r, 503, "the node is shutting down");
		return;
	}
	if (!msg_is_object(body)) {
		httpd_reply_error(r, 422, "launch_worker takes an object {worker_type, worker_name?, worker_url?, "
					  "auto_connect_job_type?}");
		return;
	}
	struct launch *l = launch_new(n, body, err, sizeof err);
	if (!l) {
		httpd_reply_error(r, strstr(err, "in progress") || strstr(err, "memory") ? 503 : 422, "%s", err);
		return;
	}
	msg *o = msg_new_object();
	msg_set_str(o, "launch_id", launch_id(l));
	reply_msg(r, o);
}

static void ep_launch_worker_status(struct node *n, struct httpd_req *r, msg *body)
{
	const char *id = msg_get_str(body, "launch_id");
	if (!id) {
		httpd_reply_error(r, 422, "launch_worker_status needs \"launch_id\" (from launch_worker)");
		return;
	}
	struct launch *l = launch_find(n, id);
	if (!l) {
		httpd_reply_error(r, 404, "no launch %.60s on this node (finished launches are kept %g s)", id,
				  NODE_LAUNCH_KEEP_S);
		return;
	}
	reply_msg(r, launch_status(l));
}

/* ---- shutting workers down (200 null even when nothing matched) ---- */

static void stop_rows(struct node *n, const char *name, const char *id, int port)
{
	struct proc *p;
	while ((p = procs_row_by(n, name, id, port))) {
		if (p->state == PROC_DEAD)
			procs_forget(p);
		else
			procs_stop(p);
	}
}

static void ep_shutdown_worker(struct node *n, struct httpd_req *r, msg *body)
{
	const char *name = msg_get_str(body, "worker_name");
	if (!name) {
		httpd_reply_error(r, 422, "shutdown_worker needs \"worker_name\"");
		return;
	}
	stop_rows(n, name, NULL, 0);
	reply_null(r);
}

static void ep_shutdown_worker_by_id(struct node *n, struct httpd_req *r, msg *body)
{
	const char *id = msg_get_str(body, "worker_id");
	if (!id) {
		httpd_reply_error(r, 422, "shutdown_worker_by_id needs \"worker_id\"");
		return;
	}
	stop_rows(n, NULL, id, 0);
	reply_null(r);
}

static void ep_shutdown_worker_by_port(struct node *n, struct httpd_req *r, msg *body)
{
	int64_t port = 0;
	if (msg_get_int(body, "worker_port", &port) || port < 1 || port > 65535) {
		httpd_reply_error(r, 422, "shutdown_worker_by_port needs \"worker_port\": an integer from 1 to 65535");
		return;
	}
	stop_rows(n, NULL, NULL, (int)port);
	reply_null(r);
}

static void ep_shutdown_all_workers(struct node *n, struct httpd_req *r, msg *body)
{
	(void)body;
	for (struct proc *q = n->procs, *next; q; q = next) {
		next = q->next;
		if (q->state == PROC_DEAD)
			procs_forget(q);
		else if (q->state == PROC_READY)
			procs_stop(q);
	}
	reply_null(r);
}

static const struct endpoint endpoints[] = {
	{"class_name", ep_class_name},
	{"endpoints", ep_endpoints},
	{"heartbeat", ep_heartbeat},
	{"launch_worker", ep_launch_worker},
	{"launch_worker_status", ep_launch_worker_status},
	{"server_id", ep_server_id},
	{"shutdown", ep_shutdown},
	{"shutdown_all_workers", ep_shutdown_all_workers},
	{"shutdown_worker", ep_shutdown_worker},
	{"shutdown_worker_by_id", ep_shutdown_worker_by_id},
	{"shutdown_worker_by_port", ep_shutdown_worker_by_port},
	{"status", ep_status},
};
static const size_t nendpoints = sizeof endpoints / sizeof endpoints[0];

size_t api_check(void)
{
	return nametab_check(endpoints, nendpoints, sizeof endpoints[0]);
}

void api_on_request(struct httpd_req *r, void *arg)
{
	struct node *n = arg;
	const char *path = httpd_req_path(r), *method = httpd_req_method(r);
	const struct endpoint *e =
		path[0] == '/' ? nametab_find(endpoints, nendpoints, sizeof endpoints[0], path + 1) : NULL;
	if (!e) {
		httpd_reply_error(r, 404, "no endpoint %.200s on this node (POST /endpoints lists them)", path);
		return;
	}
	if (strcmp(method, "POST")) {
		httpd_reply_error(r, 405, "%s takes POST (mindtrace's endpoints are all POST)", path);
		return;
	}
	size_t len = 0;
	const char *b = httpd_req_body(r, &len);
	while (len && (*b == ' ' || *b == '\n' || *b == '\r' || *b == '\t'))
		b++, len--;
	char err[200];
	msg *body = len ? msg_parse(b, len, err, sizeof err) : msg_new_object();
	if (!body) {
		httpd_reply_error(r, 400, "the body is not valid JSON: %s", err);
		return;
	}
	e->fn(n, r, body);
	msg_free(body);
}
