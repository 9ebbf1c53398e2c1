/* SPDX-License-Identifier: MIT */
/*
 * gateway: endpoint job types and apps (see gateway.h). One hclient for
 * the master, created on first use; a flight per forwarded job, linked so
 * that a client that leaves (gateway_forget_outbox) or the shutdown can
 * find it.
 */
#include "gateway.h"
#include "http.h"
#include "master.h"
#include "mtjob.h"
#include "storesvc.h"
#include "types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "hclient.h"
#include "log.h"
#include "util.h"

#define GATEWAY_TIMEOUT_S 60.0 /* mindtrace's requests timeout */
#define GATEWAY_APPS_MAX 256

struct flight {
	struct master *m;
	int64_t id;
	struct call call; /* the submit waiting for the answer; call.out NULL: none */
	struct hclient_call *hc;
	char url[1024]; /* resolved: may carry the master's token, never shown */
	char ep[1024];  /* the endpoint as registered: recorded and shown */
	struct flight *prev, *next;
};

struct app {
	char name[TYPES_NAME_MAX + 1];
	char *url;
};

struct gateway {
	struct hclient *hc;
	struct flight *flights;
	struct app apps[GATEWAY_APPS_MAX];
	size_t napps;
};

static struct gateway *G(struct master *m)
{
	if (!m->gateway)
		m->gateway = calloc(1, sizeof *m->gateway);
	return m->gateway;
}

static struct hclient *client_of_gw(struct master *m)
{
	struct gateway *g = G(m);
	if (g && !g->hc) {
		char err[200];
		if (!(g->hc = hclient_new(m->loop, err, sizeof err)))
			log_error("gateway: %s", err);
	}
	return g ? g->hc : NULL;
}

/* ---- apps ---- */

const char *gateway_app(const struct master *m, const char *name)
{
	const struct gateway *g = m->gateway;
	for (size_t i = 0; g && i < g->napps; i++)
		if (strcmp(g->apps[i].name, name) == 0)
			return g->apps[i].url;
	return NULL;
}

/* An app into the table (in memory). 0, or -1 with err. */
static int app_set(struct master *m, const char *name, const char *url, char *err, size_t n)
{
	struct gateway *g = G(m);
	if (!g)
		return snprintf(err, n, "out of memory"), -1;
	if (!name || !*name || strlen(name) > TYPES_NAME_MAX || strchr(name, '/'))
		return snprintf(err, n, "an app's name is 1 to %d characters without '/'", TYPES_NAME_MAX), -1;
	if (!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)))
		return snprintf(err, n, "an app's url must be http:// or https://"), -1;
	char *u = strdup(url);
	if (!u)
		return snprintf(err, n, "out of memory"), -1;
	size_t i = 0;
	while (i < g->napps && strcmp(g->apps[i].name, name) != 0)
		i++;
	if (i == g->napps) {
		if (g->napps == GATEWAY_APPS_MAX) {
			free(u);
			return snprintf(err, n, "at most %d apps", GATEWAY_APPS_MAX), -1;
		}
		util_strlcpy(g->apps[g->napps++].name, name, sizeof g->apps[0].name);
	}
	free(g->apps[i].url);
	g->apps[i].url = u;
	/* strip a trailing slash: routes join with one */
	size_t l = strlen(u);
	while (l > 8 && u[l - 1] == '/')
		u[--l] = '\0';
	log_info("app %s: /%s/... is proxied to %s", name, name, u);
	return 0;
}

int gateway_app_put(struct master *m, const char *name, const char *url, char *err, size_t n)
{
	char key[TYPES_NAME_MAX + 8];
	if (app_set(m, name, url, err, n))
		return -1;
	/* kept across restarts (mindtrace loses its routes with the process) */
	snprintf(key, sizeof key, "app:%s", name);
	if (store_svc_set(m->store, key, gateway_app(m, name)))
		return snprintf(err, n, "cannot store the app: %s", store_errmsg(m->store)), -1;
	return 0;
}

static int load_app(void *arg, const char *key, const char *value)
{
	struct master *m = arg;
	char err[200];
	if (value && app_set(m, key + strlen("app:"), value, err, sizeof err))
		log_warn("app %s from state.db: %s; register it again", key + 4, err);
	return 0;
}

int gateway_load(struct master *m, char *err, size_t n)
{
	if (store_svc_settings(m->store, "app:", load_app, m) < 0)
		return snprintf(err, n, "cannot read the apps: %s", store_errmsg(m->store)), -1;
	return 0;
}

void gateway_on_register_app(struct call *c, msg *m)
{
	char err[200];
	if (gateway_app_put(c->m, msg_get_str(m, "name"), msg_get_str(m, "url"), err, sizeof err))
		call_error(c, "unprocessable", "register_app: %s", err);
	else
		call_reply(c, msg_new_raw("null"));
}

/* The URL of an endpoint: as is, an app's URL + rest, or this master. */
static int resolve(struct master *m, const char *ep, char *out, size_t n)
{
	if (strncmp(ep, "http://", 7) == 0 || strncmp(ep, "https://", 8) == 0)
		return snprintf(out, n, "%s", ep) >= (int)n ? -1 : 0;
	while (*ep == '/')
		ep++;
	const char *slash = strchr(ep, '/');
	char name[TYPES_NAME_MAX + 1];
	size_t l = slash ? (size_t)(slash - ep) : strlen(ep);
	if (l <= TYPES_NAME_MAX) {
		memcpy(name, ep, l);
		name[l] = '\0';
		const char *app = gateway_app(m, name);
		if (app)
			return snprintf(out, n, "%s/%s", app, slash ? slash + 1 : "") >= (int)n ? -1 : 0;
	}
	/* mindtrace's CM calls itself; so does the master (token in the path) */
	const char *tok = http_token(m->http);
	if (!m->info.http[0] || !tok)
		return -1;
	return snprintf(out, n, "%s/%s/%s", m->info.http, tok, ep) >= (int)n ? -1 : 0;
}

/* 1 if url is served by one of this cluster's
 * workers (a Worker /run as mindtrace's gateway target): those check the
 * cluster's token. No other endpoint ever gets it. */
static int own_service(struct master *m, const char *url)
{
	for (struct wrk *w = m->workers; w; w = w->next) {
		size_t l = strlen(w->url);
		if (w->peer && l && strncmp(url, w->url, l) == 0 && (url[l] == '/' || !url[l]))
			return 1;
	}
	return 0;
}

/* ---- answers ---- */

char *gateway_parse_result(const char *body, size_t len, int *ok)
{
	char jerr[100];
	msg *o = body && len ? msg_parse(body, len, jerr, sizeof jerr) : NULL;
	const char *s = msg_is_object(o) ? msg_get_str(o, "status") : NULL;
	if (!s)
		s = "completed"; /* missing, null, not JSON: completed */
	if (strcmp(s, "completed") && strcmp(s, "failed") && strcmp(s, "error") && strcmp(s, "running") &&
	    strcmp(s, "queued")) {
		msg_free(o);
		return NULL;
	}
	*ok = strcmp(s, "completed") == 0 || strcmp(s, "running") == 0 || strcmp(s, "queued") == 0;
	msg *r = msg_new_object();
	msg_set_str(r, "status", s);
	msg *out = msg_is_object(o) ? msg_take(o, "output") : NULL;
	if (!out || !msg_is_object(out)) {
		msg_free(out);
		out = msg_new_object();
	}
	msg_add(r, "output", out);
	char *text = msg_print(r);
	msg_free(r);
	msg_free(o);
	return text;
}

static void flight_unlink(struct master *m, struct flight *f)
{
	struct gateway *g = m->gateway;
	if (f->prev)
		f->prev->next = f->next;
	else
		g->flights = f->next;
	if (f->next)
		f->next->prev = f->prev;
}

/* Record the end of job f->id and answer the waiting submit. */
static void flight_end(struct flight *f, int state, const char *output, const char *error, unsigned http_status)
{
	struct master *m = f->m;
	const char *worker = f->ep;
	if (store_finish(m->store, f->id, state, 1, worker, 0, output, output ? strlen(output) : 0, error, 0, 0,
			 master_job_now(m)))
		log_error("gateway: cannot record the end of job %lld: %s", (long long)f->id, store_errmsg(m->store));
	m->counts[state]++;
	if (state == MJOB_FAILED)
		store_dlq_add(m->store, f->id, util_wall());
	if (f->call.out) {
		if (state == MJOB_FAILED && http_status) {
			call_error(&f->call, http_status == 504 ? "timeout" : "bad_gateway", "Gateway proxy request failed: %s",
				   error ? error : "failed");
		} else {
			msg *st = mtjob_status_of(m, f->id);
			if (st)
				call_reply(&f->call, st);
			else
				call_error(&f->call, "internal", "cannot read job %lld", (long long)f->id);
		}
	}
	master_touch(m);
}

static void on_answer(void *arg, const struct hclient_res *r)
{
	struct flight *f = arg;
	struct master *m = f->m;
	flight_unlink(m, f);
	char why[600];
	if (!r->http_ok || r->status >= 500 || r->status < 200 || r->status >= 300) {
		int timeout = r->error && strstr(r->error, "timed out");
		if (r->http_ok && !r->error)
			snprintf(why, sizeof why, "HTTP %ld from %.200s: %.300s", r->status, f->ep, r->body);
		else
			snprintf(why, sizeof why, "%.200s: %.300s", f->ep, r->error ? r->error : "failed");
		log_warn("gateway: job %lld: %s", (long long)f->id, why);
		flight_end(f, MJOB_FAILED, NULL, why, timeout ? 504 : 502);
	} else {
		int ok = 0;
		char *out = gateway_parse_result(r->body, r->len, &ok);
		if (!out) {
			snprintf(why, sizeof why, "%.200s answered an unknown status: %.200s", f->ep, r->body);
			flight_end(f, MJOB_FAILED, NULL, why, 502);
		} else {
			flight_end(f, ok ? MJOB_COMPLETED : MJOB_FAILED, out, ok ? NULL : "the endpoint reported a failure", 0);
		}
		free(out);
	}
	free(f);
}

int gateway_forward(struct master *m, const struct jobtype *t, int64_t id, const char *job_json,
		    const struct call *c)
{
	struct gateway *g = G(m);
	struct hclient *hc = client_of_gw(m);
	struct flight *f = g && hc ? calloc(1, sizeof *f) : NULL;
	if (!f) {
		store_finish(m->store, id, MJOB_FAILED, 0, NULL, 0, NULL, 0, "gateway: out of memory", 0, 0, master_job_now(m));
		m->counts[MJOB_FAILED]++;
		return -1;
	}
	f->m = m;
	f->id = id;
	if (c)
		f->call = *c;
	util_strlcpy(f->ep, t->url, sizeof f->ep);
	if (resolve(m, t->url, f->url, sizeof f->url)) {
		util_strlcpy(f->url, t->url, sizeof f->url);
		f->next = g->flights;
		if (g->flights)
			g->flights->prev = f;
		g->flights = f;
		flight_unlink(m, f);
		flight_end(f, MJOB_FAILED, NULL, "cannot resolve the endpoint (no such app, or no HTTP service)", 502);
		free(f);
		return 0;
	}
	struct hclient_opts o = HCLIENT_OPTS_INIT;
	if (own_service(m, f->url))
		o.bearer = http_token(m->http); /* this cluster's worker: it wants the cluster's token */
	size_t hl = strlen(m->info.http);
	if (o.bearer || (hl && strncmp(f->url, m->info.http, hl) == 0 && f->url[hl] == '/'))
		o.ca_pem = http_ca_pem(m->http), o.cluster_peer = 1; /* this cluster's services: its certificate */
	o.timeout_s = t->timeout_s > 0 ? t->timeout_s : GATEWAY_TIMEOUT_S;
	if (t->retries >= 0)
		o.retries = (unsigned)t->retries;
	store_started(m->store, id, 1, master_job_now(m));
	f->next = g->flights;
	if (g->flights)
		g->flights->prev = f;
	g->flights = f;
	f->hc = hclient_request(hc, f->url, job_json, strlen(job_json), &o, on_answer, f);
	if (!f->hc) {
		flight_unlink(m, f);
		flight_end(f, MJOB_FAILED, NULL, "gateway: cannot start the request", 502);
		free(f);
	}
	return 0;
}

int gateway_attach(struct master *m, int64_t id, const struct call *c)
{
	for (struct flight *f = m->gateway ? m->gateway->flights : NULL; f; f = f->next)
		if (f->id == id) {
			f->call = *c;
			return 1;
		}
	return 0;
}

int gateway_has(const struct master *m, int64_t id)
{
	for (const struct flight *f = m->gateway ? m->gateway->flights : NULL; f; f = f->next)
		if (f->id == id)
			return 1;
	return 0;
}

void gateway_forget_outbox(struct master *m, const struct outbox *out)
{
	for (struct flight *f = m->gateway ? m->gateway->flights : NULL; f; f = f->next)
		if (f->call.out == out)
			f->call.out = NULL; /* the job goes on; nobody waits for it */
}

/* ---- register_app's proxy routes ---- */

struct proxy {
	gateway_proxy_fn done;
	void *arg;
	struct hclient_call *call;
};

static void on_proxied(void *arg, const struct hclient_res *r)
{
	struct proxy *p = arg;
	if (r->http_ok && r->status > 0 && r->status < 600) {
		p->done(p->arg, (unsigned)r->status, r->content_type, r->body, r->len);
	} else {
		char why[400];
		struct buf b = BUF_INIT;
		snprintf(why, sizeof why, "the app did not answer: %.300s", r->error ? r->error : "failed");
		buf_adds(&b, "{\"detail\":");
		buf_add_json_str(&b, why, strlen(why));
		buf_adds(&b, "}");
		p->done(p->arg, 502, "application/json", b.p ? b.p : "{}", b.p ? b.len : 2);
		buf_release(&b);
	}
	free(p);
}

int gateway_proxy(struct master *m, const char *method, const char *path, const char *body, size_t len,
		  const char *content_type, gateway_proxy_fn done, void *arg, void **call)
{
	*call = NULL;
	while (*path == '/')
		path++;
	const char *slash = strchr(path, '/');
	size_t l = slash ? (size_t)(slash - path) : strlen(path);
	char name[TYPES_NAME_MAX + 1], url[2048];
	if (!l || l > TYPES_NAME_MAX)
		return 0;
	memcpy(name, path, l);
	name[l] = '\0';
	const char *app = gateway_app(m, name);
	struct hclient *hc = app ? client_of_gw(m) : NULL;
	if (!app)
		return 0;
	struct proxy *p = hc ? calloc(1, sizeof *p) : NULL;
	snprintf(url, sizeof url, "%s/%s", app, slash ? slash + 1 : "");
	char ct[300];
	const char *headers[2] = {NULL, NULL};
	if (content_type && strlen(content_type) < 250) {
		snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
		headers[0] = ct;
	}
	struct hclient_opts o = HCLIENT_OPTS_INIT;
	o.method = method;
	o.headers = headers;
	o.retries = 0; /* a proxied request may not be idempotent */
	if (!p) {
		done(arg, 503, "application/json", "{\"detail\":\"out of memory\"}", 27);
		return 1;
	}
	p->done = done;
	p->arg = arg;
	p->call = hclient_request(hc, url, body, len, &o, on_proxied, p);
	if (!p->call) {
		free(p);
		done(arg, 502, "application/json", "{\"detail\":\"cannot start the request to the app\"}", 48);
		return 1;
	}
	*call = p;
	return 1;
}

void gateway_proxy_cancel(void *call)
{
	struct proxy *p = call;
	if (!p)
		return;
	hclient_cancel(p->call); /* its callback, which frees p, will not run */
	free(p);
}

void gateway_close(struct master *m, void (*on_closed)(void *arg), void *arg)
{
	struct gateway *g = m->gateway;
	if (!g) {
		if (on_closed)
			on_closed(arg);
		return;
	}
	/* Jobs in flight stay running in state.db: the next master forwards
	 * them again. */
	for (struct flight *f = g->flights, *next; f; f = next) {
		next = f->next;
		free(f);
	}
	for (size_t i = 0; i < g->napps; i++)
		free(g->apps[i].url);
	struct hclient *hc = g->hc;
	free(g);
	m->gateway = NULL;
	if (hc)
		hclient_close(hc, on_closed, arg);
	else if (on_closed)
		on_closed(arg);
}
