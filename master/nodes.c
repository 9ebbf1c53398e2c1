/* SPDX-License-Identifier: MIT */
/*
 * nodes: the node registry and the calls forwarded to nodes (see nodes.h).
 *
 * /register_node answers mindtrace's RegisterNodeOutput shape but hands out
 * no credentials: mindtrace's node needs MinIO and RabbitMQ passwords to
 * load worker types and join queues; an mtslurm node needs neither (its
 * workers reach the master through RUN_DIR), so every credential field is
 * null or 0 and "endpoint" is the master's HTTP URL.
 */
#include "nodes.h"
#include "http.h"
#include "master.h"
#include "types.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hclient.h"
#include "log.h"
#include "util.h"

struct noderec {
	char url[300], name[256];
	long pid;
	double registered, last_seen;
	struct noderec *next;
};

/* A call to a node whose reply goes to the caller's outbox. */
struct fwd {
	struct nodes *ns;
	struct call call; /* out, sink and req of the request; no client */
	struct hclient_call *hc;
	char node[300];
	struct fwd *next;
};

struct nodes {
	struct master *m;
	struct hclient *hc;
	char token[AUTH_HEX_BYTES];
	struct noderec *list;
	struct fwd *fwds;
};

static struct nodes *nodes_of(struct master *m)
{
	if (!m->nodes && (m->nodes = calloc(1, sizeof *m->nodes)))
		m->nodes->m = m;
	return m->nodes;
}

/* Drop nodes not heard from for NODES_FORGET_S. */
static void nodes_prune(struct nodes *ns)
{
	double now = util_wall();
	for (struct noderec **pp = &ns->list; *pp;) {
		struct noderec *r = *pp;
		if (now - r->last_seen > NODES_FORGET_S) {
			log_info("node %s (%s) forgotten: not registered for %g s", r->name, r->url, NODES_FORGET_S);
			*pp = r->next;
			free(r);
		} else {
			pp = &r->next;
		}
	}
}

static int http_url(const char *u)
{
	return u && (!strncmp(u, "http://", 7) || !strncmp(u, "https://", 8));
}

void nodes_on_register(struct call *c, msg *m)
{
	struct nodes *ns = nodes_of(c->m);
	const char *url = msg_get_str(m, "node_url"), *name = msg_get_str(m, "name");
	if (!http_url(url) || strlen(url) >= sizeof ns->list->url) {
		call_error(c, "unprocessable", "register_node needs \"node_url\": the node's http:// URL");
		return;
	}
	if (!ns) {
		call_error(c, "busy", "out of memory");
		return;
	}
	nodes_prune(ns);
	struct noderec *r = ns->list;
	while (r && strcmp(r->url, url))
		r = r->next;
	if (!r) {
		if (!(r = calloc(1, sizeof *r))) {
			call_error(c, "busy", "out of memory");
			return;
		}
		util_strlcpy(r->url, url, sizeof r->url);
		r->registered = util_wall();
		r->next = ns->list;
		ns->list = r;
		log_info("node %s registered", url);
	}
	/* the name: what the node says, else the URL's host */
	const char *host = strstr(url, "://") + 3;
	if (name && *name)
		util_strlcpy(r->name, name, sizeof r->name);
	else
		snprintf(r->name, sizeof r->name, "%.*s", (int)strcspn(host, ":/"), host);
	int64_t pid = 0;
	r->pid = msg_get_int(m, "pid", &pid) == 0 ? (long)pid : 0;
	r->last_seen = util_wall();
	msg *o = msg_new_object();
	msg_set_str(o, "endpoint", c->m->info.http);
	static const char *const nulls[] = {"access_key", "secret_key", "bucket", "rabbitmq_host", "rabbitmq_username",
					    "rabbitmq_password"};
	for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
		msg_set_null(o, nulls[i]);
	msg_set_int(o, "minio_port", 0);
	msg_set_int(o, "rabbitmq_port", 0);
	call_reply(c, o);
}

void nodes_on_list(struct call *c, msg *m)
{
	(void)m;
	struct nodes *ns = nodes_of(c->m);
	if (ns)
		nodes_prune(ns);
	msg *r = call_new_reply(c, "nodes"), *a = msg_new_array();
	for (struct noderec *n = ns ? ns->list : NULL; n; n = n->next) {
		msg *o = msg_new_object();
		msg_set_str(o, "url", n->url);
		msg_set_str(o, "name", n->name);
		msg_set_int(o, "pid", n->pid);
		msg_set_num(o, "registered", n->registered);
		msg_set_num(o, "last_seen", n->last_seen);
		msg_push(a, o);
	}
	msg_add(r, "nodes", a);
	call_reply(c, r);
}

/* ---- forwarding ---- */

static void fwd_unlink(struct fwd *f)
{
	for (struct fwd **pp = &f->ns->fwds; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			return;
		}
}

/* A node's HTTP status to the error code the master answers with. */
struct status_code {
	long status;
	const char *code;
};
static const struct status_code status_codes[] = {
	{400, "bad_request"}, {404, "not_found"}, {409, "conflict"}, {422, "unprocessable"},
};

static const char *code_of(long status)
{
	for (size_t i = 0; i < sizeof status_codes / sizeof status_codes[0]; i++)
		if (status_codes[i].status == status)
			return status_codes[i].code;
	return "unavailable";
}

static void on_node_reply(void *arg, const struct hclient_res *r)
{
	struct fwd *f = arg;
	char err[200];
	fwd_unlink(f);
	msg *body = r->http_ok ? msg_parse(r->body, r->len, err, sizeof err) : NULL;
	if (!r->http_ok)
		/* mindtrace's Node.connect: 503 "Server failed to connect: ..." */
		call_error(&f->call, "unavailable", "Server failed to connect: %s: %s", f->node, r->error);
	else if (r->status == 200 && body)
		call_reply(&f->call, msg_dup(body));
	else if (r->status == 200)
		call_error(&f->call, "unavailable", "the node %s answered with no JSON: %s", f->node, err);
	else
		call_error(&f->call, code_of(r->status), "the node %s answered %ld: %s", f->node, r->status,
			   msg_get_str(body, "detail") ? msg_get_str(body, "detail") : "no detail");
	msg_free(body);
	free(f);
}

/* POST body (owned) to NODE_URL/endpoint; the reply answers c later. */
static void forward(struct call *c, const char *node_url, const char *endpoint, msg *body)
{
	char err[300], path[RUNDIR_PATH_MAX], url[400];
	struct nodes *ns = nodes_of(c->m);
	char *text = body ? msg_print(body) : NULL;
	msg_free(body);
	struct fwd *f = ns && text ? calloc(1, sizeof *f) : NULL;
	if (!f) {
		free(text);
		call_error(c, "busy", "out of memory");
		return;
	}
	if (!ns->hc) {
		if (rundir_path(path, c->m->cfg.run_dir, "token") || auth_token_load(ns->token, path, 0, err, sizeof err) ||
		    !(ns->hc = hclient_new(c->m->loop, err, sizeof err))) {
			free(text);
			free(f);
			call_error(c, "internal", "cannot call nodes: %s", err);
			return;
		}
		c->m->handles_open++;
	}
	size_t k = util_strlcpy(f->node, node_url, sizeof f->node);
	while (k && f->node[k - 1] == '/')
		f->node[--k] = '\0';
	snprintf(url, sizeof url, "%s/%s", f->node, endpoint);
	f->ns = ns;
	f->call = *c;
	f->call.client = NULL;
	f->call.peer = NULL;
	struct hclient_opts o = HCLIENT_OPTS_INIT;
	o.bearer = ns->token;
	o.ca_pem = http_ca_pem(c->m->http); /* a node of this cluster: its certificate, if HTTPS */
	o.cluster_peer = 1;                 /* under its own host name, which the certificate need not list */
	o.timeout_s = NODES_CALL_TIMEOUT_S;
	f->hc = hclient_request(ns->hc, url, text, strlen(text), &o, on_node_reply, f);
	free(text);
	if (!f->hc) {
		free(f);
		call_error(c, "busy", "out of memory");
		return;
	}
	f->next = ns->fwds;
	ns->fwds = f;
}

/* A request field that may be absent or null, or a string (copied into
 * the forwarded body as it came). -1 with the call answered 422. */
static int copy_opt_str(struct call *c, msg *to, const msg *from, const char *key)
{
	msg *v = msg_get(from, key);
	if (v && !msg_is_null(v) && !msg_is_str(v)) {
		call_error(c, "unprocessable", "\"%s\" must be a string or null", key);
		return -1;
	}
	if (v && msg_is_str(v))
		msg_set_str(to, key, msg_str(v));
	else
		msg_set_null(to, key);
	return 0;
}

/* mindtrace's WorkerAutoConnect[worker_type]: the (first) job type bound
 * to the worker type, or NULL. */
static const char *auto_connect_type(struct master *m, const char *wtype)
{
	for (size_t i = 0; i < types_njobs(m); i++) {
		const struct jobtype *t = types_job_at(m, i);
		if (!t->endpoint && t->worker_type && !strcmp(t->worker_type, wtype))
			return t->name;
	}
	return NULL;
}

void nodes_on_launch(struct call *c, msg *m)
{
	const char *node = msg_get_str(m, "node_url"), *wtype = msg_get_str(m, "worker_type");
	if (!http_url(node) || !wtype || !*wtype) {
		call_error(c, "unprocessable",
			   "launch_worker needs \"node_url\" (an http:// URL: mtslurm nodes lists them) and \"worker_type\"");
		return;
	}
	if (!types_worker(c->m, wtype)) {
		call_error(c, "unprocessable", "no worker type \"%.80s\": register it first (register_worker_type)", wtype);
		return;
	}
	msg *b = msg_new_object();
	msg_set_str(b, "worker_type", wtype);
	if (copy_opt_str(c, b, m, "worker_name") || copy_opt_str(c, b, m, "worker_url")) {
		msg_free(b);
		return;
	}
	const char *jt = auto_connect_type(c->m, wtype);
	if (jt)
		msg_set_str(b, "auto_connect_job_type", jt);
	else
		msg_set_null(b, "auto_connect_job_type");
	forward(c, node, "launch_worker", b);
}

void nodes_on_launch_status(struct call *c, msg *m)
{
	const char *node = msg_get_str(m, "node_url"), *id = msg_get_str(m, "launch_id");
	if (!http_url(node) || !id) {
		call_error(c, "unprocessable", "launch_worker_status needs \"node_url\" and \"launch_id\"");
		return;
	}
	msg *b = msg_new_object();
	msg_set_str(b, "launch_id", id);
	forward(c, node, "launch_worker_status", b);
}

void nodes_drop_calls(struct master *m, const struct outbox *out)
{
	struct nodes *ns = m->nodes;
	for (struct fwd **pp = ns ? &ns->fwds : NULL; pp && *pp;) {
		struct fwd *f = *pp;
		if (f->call.out == out) {
			*pp = f->next;
			hclient_cancel(f->hc);
			free(f);
		} else {
			pp = &f->next;
		}
	}
}

static void on_hclient_closed(void *arg)
{
	struct master *m = arg;
	if (--m->handles_open == 0 && m->on_stopped)
		m->on_stopped(m);
}

void nodes_close(struct master *m)
{
	struct nodes *ns = m->nodes;
	if (!ns)
		return;
	while (ns->fwds) {
		struct fwd *f = ns->fwds;
		ns->fwds = f->next;
		free(f); /* hclient_close cancels its call */
	}
	if (ns->hc) {
		hclient_close(ns->hc, on_hclient_closed, m);
		ns->hc = NULL;
	}
}

void nodes_release(struct master *m)
{
	struct nodes *ns = m->nodes;
	if (!ns)
		return;
	while (ns->list) {
		struct noderec *r = ns->list;
		ns->list = r->next;
		free(r);
	}
	free(ns);
	m->nodes = NULL;
}
