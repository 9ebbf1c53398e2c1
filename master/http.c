/* SPDX-License-Identifier: MIT */
/*
 * http: requests of the HTTP service to calls (see http.h).
 *
 * A request is routed by "METHOD /path" through one sorted table; a path
 * under /api/v1/COLLECTION/ID is matched as ".../COLLECTION/:id". The
 * native routes turn the request into the wire protocol's message (query
 * parameters and body fields become its fields) and dispatch it through
 * call.c's client table with this transport's sink: the handlers cannot
 * tell HTTP from TCP. mindtrace-cluster's endpoints (POST /NAME) come from
 * mtapi.c's table. Replies: one per request, JSON, status from the reply
 * (an error's code: bad_request 400, not_found 404, unprocessable 422,
 * busy 503, internal 500), held in the request's outbox until durable.
 */
#include "http.h"
#include "events.h"
#include "master.h"
#include "gitres.h"
#include "metrics.h"
#include "mtapi.h"
#include "gateway.h"
#include "web.h"
#include "nodes.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "httpd.h"
#include "tlsid.h"
#include "log.h"
#include "nametab.h"
#include "util.h"

/* The HTTP clients' jobs belong to this client id (ids starting with '@'
 * are refused in a wire hello, so no connection can take it over). */
#define HTTP_CLIENT_ID "@http"

struct http {
	struct master *m;
	struct httpd *d;
	struct http_counts counts;
	struct events *ev; /* GET /api/v1/events */
	char *ca_pem;      /* the certificate served (HTTPS), or NULL */
	char token[AUTH_HEX_BYTES]; /* RUN_DIR/token, read once at start */
	void (*on_stopped)(void *arg);
	void *stopped_arg;
};

/* One request in flight. */
struct hreq {
	struct outbox out; /* first: the outbox is the request */
	struct http *h;
	struct httpd_req *r; /* NULL once answered or its client gone */
	unsigned status;
	int replied;
	void *proxy; /* a register_app proxy call in flight (gateway_proxy), or NULL */
	int in_request; /* inside on_request, which closes what it answered */
	/* Turns the reply object into what the route returns (NULL: as is);
	 * returns a new msg (owned by the caller) or NULL with *status set. */
	msg *(*shape)(struct hreq *q, const msg *reply, unsigned *status);
};

/* ---- replies ---- */

struct code_status {
	const char *name;
	unsigned status;
};
/* Error codes of call_error (docs/protocol.md) to HTTP statuses; sorted. */
static const struct code_status code_statuses[] = {
	{"bad_gateway", 502}, {"bad_request", 400}, {"busy", 503},     {"conflict", 409},
	{"internal", 500},    {"not_found", 404},   {"protocol", 400}, {"timeout", 504},
	{"unavailable", 503}, {"unprocessable", 422},
};

static unsigned status_of_code(const char *code)
{
	const struct code_status *c = nametab_find(code_statuses, sizeof code_statuses / sizeof code_statuses[0],
						   sizeof code_statuses[0], code);
	return c ? c->status : 500;
}

static void count_status(struct http *h, unsigned status)
{
	h->counts.requests++;
	if (status < 300)
		h->counts.s2xx++;
	else if (status < 500)
		h->counts.s4xx++;
	else
		h->counts.s5xx++;
}

/* Answer now, bypassing the outbox: for replies that describe nothing the
 * store holds (refusals before any handler ran, static pages). */
static void answer_now(struct hreq *q, unsigned status, const char *type, const char *body, size_t n)
{
	if (!q->r)
		return;
	count_status(q->h, status);
	httpd_reply(q->r, status, type, body, n);
	q->r = NULL;
	q->replied = 1;
}

static void answer_error_now(struct hreq *q, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void answer_error_now(struct hreq *q, unsigned status, const char *fmt, ...)
{
	char text[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (!q->r)
		return;
	count_status(q->h, status);
	httpd_reply_error(q->r, status, "%s", text); /* httpd's {"detail"} body */
	q->r = NULL;
	q->replied = 1;
}

static void http_put_msg(struct outbox *o, const msg *r)
{
	struct hreq *q = (struct hreq *)o;
	if (q->replied || o->closed)
		return; /* one reply per request */
	q->replied = 1;
	char *text = NULL;
	if (strcmp(msg_type(r), "error") == 0) {
		q->status = status_of_code(msg_get_str(r, "code"));
		msg *d = msg_new_object();
		msg_set_str(d, "detail", msg_get_str(r, "msg") ? msg_get_str(r, "msg") : "error");
		text = msg_print(d);
		msg_free(d);
	} else if (q->shape) {
		unsigned st = 200;
		msg *x = q->shape(q, r, &st);
		q->status = st;
		text = x ? msg_print(x) : NULL;
		msg_free(x);
		if (!x) {
			msg *d = msg_new_object();
			msg_set_str(d, "detail", st == 404 ? "no such job" : "cannot shape the reply");
			text = msg_print(d);
			msg_free(d);
		}
	} else {
		q->status = 200;
		text = msg_print(r);
	}
	if (!text) {
		q->status = 500;
		text = strdup("{\"detail\":\"out of memory\"}");
	}
	outbox_queue(o, text, strlen(text));
	free(text);
}

static void http_put_json(struct outbox *o, const char *json, size_t n)
{
	struct hreq *q = (struct hreq *)o;
	if (q->shape) {
		char err[100];
		msg *r = msg_parse(json, n, err, sizeof err);
		if (r)
			http_put_msg(o, r);
		msg_free(r);
		return;
	}
	if (q->replied || o->closed)
		return;
	q->replied = 1;
	q->status = 200;
	outbox_queue(o, json, n);
}

static const struct call_sink http_sink = {http_put_msg, http_put_json};

static void hreq_deliver(struct outbox *o, const void *bytes, size_t n)
{
	struct hreq *q = (struct hreq *)o;
	answer_now(q, q->status ? q->status : 200, NULL, bytes, n);
	outbox_close(o); /* answered: released after this delivery */
}

static void hreq_release(struct outbox *o)
{
	free(o);
}

static const struct outbox_ops hreq_ops = {hreq_deliver, hreq_release};

/* ---- calls ---- */

/* A call for request q, acting for the HTTP clients' client (created on
 * demand; dropped again after the call if it holds nothing). */
static void hreq_call(struct hreq *q, struct call *c)
{
	struct master *m = q->h->m;
	memset(c, 0, sizeof *c);
	c->m = m;
	c->client = clients_get(m, HTTP_CLIENT_ID, 1);
	if (c->client)
		c->client->holds++; /* a cancel may end its last job: not freed under the call */
	c->out = &q->out;
	c->sink = &http_sink;
}

static void call_done(struct call *c)
{
	if (c->client) {
		c->client->holds--;
		clients_maybe_free(c->client);
	}
}

/* Dispatch message m (owned) as a wire request through the client table. */
static void dispatch_wire(struct hreq *q, msg *m)
{
	struct call c;
	hreq_call(q, &c);
	call_dispatch(&c, call_client_table, call_client_count, "an HTTP client", m);
	call_done(&c);
	msg_free(m);
}

/* The body as JSON: an object or array (an empty body reads as {}). NULL
 * with the request answered 400 if it is not JSON. */
static msg *body_json(struct hreq *q)
{
	size_t n = 0;
	const char *b = httpd_req_body(q->r, &n);
	while (n && (*b == ' ' || *b == '\n' || *b == '\r' || *b == '\t'))
		b++, n--;
	if (!n)
		return msg_new_object();
	char err[200];
	msg *m = msg_parse(b, n, err, sizeof err);
	if (!m)
		answer_error_now(q, 400, "the body is not valid JSON: %s", err);
	return m;
}

/* Query parameter key copied into m as an integer field; 0, or -1 with
 * the request answered 400. */
static int query_int(struct hreq *q, msg *m, const char *key)
{
	const char *v = httpd_req_query(q->r, key);
	if (!v)
		return 0;
	char *end;
	long long x = strtoll(v, &end, 10);
	if (!*v || *end) {
		answer_error_now(q, 400, "query parameter \"%s\" must be an integer, got \"%.40s\"", key, v);
		return -1;
	}
	msg_set_int(m, key, x);
	return 0;
}

/* ---- native routes (/api/v1) ---- */

static void api_status(struct hreq *q, const char *id)
{
	(void)id;
	dispatch_wire(q, msg_new_typed("status"));
}

static void api_workers(struct hreq *q, const char *id)
{
	(void)id;
	dispatch_wire(q, msg_new_typed("workers"));
}

static void api_jobs(struct hreq *q, const char *id)
{
	(void)id;
	msg *m = msg_new_typed("jobs");
	const char *state = httpd_req_query(q->r, "state");
	if (state)
		msg_set_str(m, "state", state);
	const char *order = httpd_req_query(q->r, "order");
	if (order)
		msg_set_str(m, "order", order);
	if (query_int(q, m, "limit") || query_int(q, m, "after")) {
		msg_free(m);
		return;
	}
	dispatch_wire(q, m);
}

/* GET /api/v1/jobs/ID: the one job, or 404. */
static msg *shape_one_job(struct hreq *q, const msg *reply, unsigned *status)
{
	(void)q;
	msg *j = msg_child(msg_get(reply, "jobs"));
	if (!j) {
		*status = 404;
		return NULL;
	}
	return msg_dup(j);
}

static int parse_id(struct hreq *q, const char *id, int64_t *out)
{
	char *end;
	long long x = strtoll(id, &end, 10);
	if (!*id || *end || x <= 0) {
		answer_error_now(q, 404, "no job \"%.40s\": job ids are positive integers", id);
		return -1;
	}
	*out = x;
	return 0;
}

static void api_job(struct hreq *q, const char *id)
{
	int64_t x;
	if (parse_id(q, id, &x))
		return;
	msg *m = msg_new_typed("jobs");
	msg *ids = msg_new_array();
	msg_push(ids, msg_new_int(x));
	msg_add(m, "ids", ids);
	q->shape = shape_one_job;
	dispatch_wire(q, m);
}

/* DELETE /api/v1/jobs/ID: cancel; 404 for an unknown id, 409 for a final one. */
static msg *shape_cancel(struct hreq *q, const msg *reply, unsigned *status)
{
	(void)q;
	if (msg_size(msg_get(reply, "unknown"))) {
		*status = 404;
		return NULL;
	}
	if (msg_size(msg_get(reply, "final")))
		*status = 409;
	return msg_dup(reply);
}

static void api_cancel(struct hreq *q, const char *id)
{
	int64_t x;
	if (parse_id(q, id, &x))
		return;
	msg *m = msg_new_typed("cancel");
	msg *ids = msg_new_array();
	msg_push(ids, msg_new_int(x));
	msg_add(m, "ids", ids);
	q->shape = shape_cancel;
	dispatch_wire(q, m);
}

/* POST /api/v1/jobs: one job object, an array of them, or a submit
 * message's {"jobs":[...],"defaults":{...}}. */
static void api_submit(struct hreq *q, const char *id)
{
	(void)id;
	msg *b = body_json(q);
	if (!b)
		return;
	msg *m = msg_new_typed("submit");
	if (msg_is_array(b)) {
		msg_add(m, "jobs", b);
	} else if (msg_has(b, "jobs")) {
		msg_add(m, "jobs", msg_take(b, "jobs"));
		if (msg_has(b, "defaults"))
			msg_add(m, "defaults", msg_take(b, "defaults"));
		msg_free(b);
	} else {
		msg *a = msg_new_array();
		msg_push(a, b);
		msg_add(m, "jobs", a);
	}
	dispatch_wire(q, m);
}

/* POST /api/v1/call: any wire request, e.g. {"t":"forget","state":"failed"}. */
static void api_call(struct hreq *q, const char *id)
{
	(void)id;
	msg *b = body_json(q);
	if (!b)
		return;
	if (!msg_is_object(b) || !*msg_type(b)) {
		msg_free(b);
		answer_error_now(q, 422, "the body must be a wire request: an object with \"t\" (docs/protocol.md)");
		return;
	}
	dispatch_wire(q, b);
}

/* ---- the dashboard (docs/service-api.md, "Dashboard and metrics") ---- */

/* GET /, /index.html, /app.js, /style.css: the page, embedded (web.h). */
static void web_file(struct hreq *q, const char *id)
{
	(void)id;
	const struct web_asset *a = web_find(httpd_req_path(q->r));
	if (!a)
		answer_error_now(q, 404, "no file %.100s in the dashboard", httpd_req_path(q->r));
	else
		answer_now(q, 200, a->type, (const char *)a->data, a->len);
}

/* GET /api/v1/events: a Server-Sent Events stream (events.h). */
static void api_events(struct hreq *q, const char *id)
{
	(void)id;
	struct httpd_req *r = q->r;
	count_status(q->h, 200);
	q->r = NULL;
	q->replied = 1;
	events_open(q->h->ev, r);
}

/* GET /metrics: Prometheus' text format (metrics.h). */
static void api_metrics(struct hreq *q, const char *id)
{
	(void)id;
	struct buf b = BUF_INIT;
	if (metrics_master(&b, q->h->m) || !b.p)
		answer_error_now(q, 503, "out of memory writing the metrics; try again");
	else
		answer_now(q, 200, METRICS_CONTENT_TYPE, b.p, b.len);
	buf_release(&b);
}

/* ---- routing ---- */

struct route {
	const char *name; /* "METHOD /path", sorted */
	void (*fn)(struct hreq *q, const char *id);
};

static const struct route routes[] = {
	{"DELETE /api/v1/jobs/:id", api_cancel},
	{"GET /", web_file},
	{"GET /api/v1/events", api_events},
	{"GET /api/v1/jobs", api_jobs},
	{"GET /api/v1/jobs/:id", api_job},
	{"GET /api/v1/status", api_status},
	{"GET /api/v1/workers", api_workers},
	{"GET /app.js", web_file},
	{"GET /index.html", web_file},
	{"GET /metrics", api_metrics},
	{"GET /style.css", web_file},
	{"POST /api/v1/call", api_call},
	{"POST /api/v1/jobs", api_submit},
};

size_t http_routes_check(void)
{
	return nametab_check(routes, sizeof routes / sizeof routes[0], sizeof routes[0]);
}

/* mindtrace's endpoints: POST /NAME with the body as the request. */
static int route_mtapi(struct hreq *q, const char *method, const char *path)
{
	const struct call_handler *e = path[0] == '/' ? call_find(mtapi_calls, mtapi_ncalls, path + 1) : NULL;
	if (!e)
		return 0;
	if (strcmp(method, "POST") != 0) {
		answer_error_now(q, 405, "%s takes POST (mindtrace's endpoints are all POST)", path);
		return 1;
	}
	msg *b = body_json(q);
	if (!b)
		return 1;
	struct call c;
	hreq_call(q, &c);
	e->fn(&c, b);
	call_done(&c);
	msg_free(b);
	return 1;
}

static void on_proxied(void *arg, unsigned status, const char *content_type, const char *body, size_t len)
{
	struct hreq *q = arg;
	q->proxy = NULL;
	answer_now(q, status, content_type && *content_type ? content_type : "application/json", body, len);
	if (!q->in_request)
		outbox_close(&q->out);
}

/* register_app's routes: /NAME/... to the app (gateway_proxy). */
static int route_app(struct hreq *q, const char *method, const char *path)
{
	size_t n = 0;
	const char *body = httpd_req_body(q->r, &n);
	return gateway_proxy(q->h->m, method, path, n ? body : NULL, n, httpd_req_header(q->r, "Content-Type"),
			     on_proxied, q, &q->proxy);
}

static void on_request(struct httpd_req *r, void *arg)
{
	struct http *h = arg;
	struct hreq *q = calloc(1, sizeof *q);
	if (!q) {
		httpd_reply_error(r, 503, "out of memory");
		return;
	}
	q->h = h;
	q->r = r;
	outbox_init(&q->out, &h->m->outs, &hreq_ops);
	httpd_req_set_data(r, q);
	const char *method = httpd_req_method(r), *path = httpd_req_path(r);
	char key[300];
	const char *id = NULL;
	/* /api/v1/COLLECTION/ID -> /api/v1/COLLECTION/:id */
	const char *p = strncmp(path, "/api/v1/", 8) == 0 ? strchr(path + 8, '/') : NULL;
	if (p && p[1] && !strchr(p + 1, '/')) {
		id = p + 1;
		snprintf(key, sizeof key, "%s %.*s/:id", method, (int)(p - path), path);
	} else {
		snprintf(key, sizeof key, "%s %s", method, path);
	}
	const struct route *rt = nametab_find(routes, sizeof routes / sizeof routes[0], sizeof routes[0], key);
	q->in_request = 1;
	if (rt)
		rt->fn(q, id);
	else if (!route_mtapi(q, method, path) && !route_app(q, method, path))
		answer_error_now(q, 404, "no endpoint %s %.200s (see docs/service-api.md; POST /endpoints lists mindtrace's)",
				 method, path);
	q->in_request = 0;
	/* Answered at once (a refusal) or never queued: done with it. */
	if (q->replied && !q->r)
		outbox_close(&q->out);
}

/* The client left before its reply: forget the request (the httpd request
 * still needs its one answer, which only frees it). */
static void on_gone(struct httpd_req *r, void *arg)
{
	struct http *h = arg;
	struct hreq *q = httpd_req_data(r);
	httpd_reply(r, 499, NULL, "", 0);
	if (!q)
		return;
	q->r = NULL;
	gateway_proxy_cancel(q->proxy);
	q->proxy = NULL;
	query_drop_waiters(h->m, &q->out);
	gateway_forget_outbox(h->m, &q->out);
	gitres_forget_outbox(h->m, &q->out);
	nodes_drop_calls(h->m, &q->out);
	outbox_close(&q->out);
}

static void on_httpd_stopped_early(void *arg)
{
	struct http *h = arg;
	free(h->ca_pem);
	free(h);
}

/* 1 if host (NULL or "": 127.0.0.1) can only be reached from this machine. */
static int is_loopback(const char *host)
{
	unsigned char a[16];
	if (!host || !*host || strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	return inet_pton(AF_INET6, host, a) == 1 && memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0;
}

/* TLS or not, and the identity when TLS: 0, or -1 with err. */
static int http_tls(struct http *h, const struct http_cfg *cfg, struct tlsid *id, int *tls, char *err,
		    size_t errlen)
{
	int loop = is_loopback(cfg->host);
	*tls = cfg->tls < 0 ? !loop : cfg->tls;
	if (!*tls && !loop && !cfg->insecure)
		return snprintf(err, errlen,
				"refusing plain HTTP on %s: the API token would cross the network in clear; "
				"use --http-tls (the default off loopback), or --http-insecure if the network is yours "
				"alone",
				cfg->host),
		       -1;
	if (!*tls)
		return 0;
	char node[256], hostname[256];
	util_nodename(node, sizeof node);
	util_hostname(hostname, sizeof hostname);
	const char *names[] = {node, hostname, loop ? "" : cfg->host, "localhost"};
	if (tlsid_load(id, h->m->cfg.run_dir, names, sizeof names / sizeof names[0], 1, err, errlen))
		return -1;
	if (!(h->ca_pem = strdup(id->cert_pem))) {
		tlsid_free(id);
		return snprintf(err, errlen, "out of memory"), -1;
	}
	return 0;
}

int http_start(struct http **out, struct master *m, const struct http_cfg *cfg, char *url, size_t urln, char *err,
	       size_t errlen)
{
	char path[RUNDIR_PATH_MAX], token[AUTH_HEX_BYTES];
	struct tlsid id = {0};
	int tls = 0;
	if (rundir_path(path, m->cfg.run_dir, "token"))
		return snprintf(err, errlen, "run directory path too long"), -1;
	if (auth_token_load(token, path, 1, err, errlen))
		return -1;
	struct http *h = calloc(1, sizeof *h);
	if (!h)
		return snprintf(err, errlen, "out of memory"), -1;
	h->m = m;
	memcpy(h->token, token, sizeof h->token);
	if (http_tls(h, cfg, &id, &tls, err, errlen)) {
		free(h);
		return -1;
	}
	struct httpd_config hc = {
		.host = cfg->host, .port = cfg->port, .token = token, .on_request = on_request, .on_gone = on_gone,
		.arg = h, .tls_cert_pem = id.cert_pem, .tls_key_pem = id.key_pem};
	int rc = httpd_start(&h->d, m->loop, &hc, err, errlen);
	tlsid_free(&id);
	if (rc) {
		free(h->ca_pem);
		free(h);
		return -1;
	}
	if (!(h->ev = events_new(m))) {
		httpd_stop(h->d, on_httpd_stopped_early, h);
		return snprintf(err, errlen, "out of memory"), -1;
	}
	/* A wildcard address is no place to connect to: others reach a master
	 * serving on every address by this machine's name (as on the wire). */
	char hostname[256];
	const char *host = cfg->host && *cfg->host ? cfg->host : "127.0.0.1";
	if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::"))
		util_hostname(hostname, sizeof hostname), host = hostname;
	const char *scheme = tls ? "https" : "http";
	snprintf(url, urln, strchr(host, ':') ? "%s://[%s]:%d" : "%s://%s:%d", scheme, host, httpd_port(h->d));
	*out = h;
	return 0;
}

const char *http_ca_pem(const struct http *h) { return h ? h->ca_pem : NULL; }

const char *http_token(const struct http *h) { return h ? h->token : NULL; }

static void on_events_freed(void *arg)
{
	struct http *h = arg;
	free(h->ca_pem);
	void (*fn)(void *) = h->on_stopped;
	void *a = h->stopped_arg;
	free(h);
	if (fn)
		fn(a);
}

/* httpd_stop ended every stream; then the streams' timer closes. */
static void on_httpd_stopped(void *arg)
{
	struct http *h = arg;
	events_free(h->ev, on_events_freed, h);
}

void http_stop(struct http *h, void (*on_stopped)(void *arg), void *arg)
{
	h->on_stopped = on_stopped;
	h->stopped_arg = arg;
	httpd_stop(h->d, on_httpd_stopped, h);
}

void http_counts(const struct http *h, struct http_counts *c)
{
	*c = h->counts;
}
