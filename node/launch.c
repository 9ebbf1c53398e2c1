/* SPDX-License-Identifier: MIT */
/*
 * launch: one /launch_worker request and its progress, as mindtrace's
 * background launch thread does it, but as a state machine driven by the
 * node's tick and by hclient callbacks, so that nothing blocks the loop and
 * many launches run at once.
 *
 *   pending -> running: choose the port (a given worker_url's, else pass 1:
 *   the first port of the range with no launch and no row; pass 2: the port
 *   of a row whose process died), wait for a stopping process still on it,
 *   spawn mtslurm-worker, poll its POST /status until it says Available,
 *   then (auto_connect_job_type) POST the master's /register_job_to_worker
 *   -> ready; any failure -> failed with the reason, and the process
 *   stopped (mindtrace leaves it running; a failed launch here leaves
 *   nothing behind).
 *
 * The whole launch is bounded by NODE_LAUNCH_TIMEOUT_S. Finished launches
 * are kept a while for /launch_worker_status (bounded in time and number).
 */
#include "node.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

enum phase {
	PH_PENDING,  /* answered, not started */
	PH_PORT,     /* port chosen, waiting for a stopping process on it to go */
	PH_STARTING, /* spawned, polling its /status */
	PH_CONNECT,  /* ready at /status, registering the job type at the master */
	PH_DONE,     /* ready or failed */
};

struct launch {
	struct node *n;
	char id[37];
	const char *status; /* pending running ready failed */
	enum phase ph;
	char wtype[65], name[128], url[300], job_type[65], worker_id[64], bind_host[256];
	char error[600];
	int port;
	struct proc *proc;
	struct hclient_call *call;
	uint64_t deadline_ns, next_poll_ns, connect_deadline_ns;
	double created, finished;
	struct launch *next;
};

const char *launch_id(const struct launch *l)
{
	return l->id;
}

struct launch *launch_find(struct node *n, const char *id)
{
	for (struct launch *l = n->launches; id && l; l = l->next)
		if (!strcmp(l->id, id))
			return l;
	return NULL;
}

static void launch_fail(struct launch *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void launch_fail(struct launch *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->error, sizeof l->error, fmt, ap);
	va_end(ap);
	hclient_cancel(l->call);
	l->call = NULL;
	if (l->proc) {
		struct proc *p = l->proc;
		l->proc = NULL;
		p->owner = NULL;
		procs_stop(p);
	}
	l->status = "failed";
	l->ph = PH_DONE;
	l->finished = util_wall();
	log_warn("launch %s (worker type %s) failed: %s", l->id, l->wtype, l->error);
}

static void launch_ready(struct launch *l)
{
	struct proc *p = l->proc;
	p->state = PROC_READY;
	p->owner = NULL;
	util_strlcpy(p->name, l->name, sizeof p->name);
	l->proc = NULL;
	l->status = "ready";
	l->ph = PH_DONE;
	l->finished = util_wall();
	log_info("launch %s ready: worker %s (%s) at %s", l->id, l->worker_id, l->name, l->url);
}

/* The last line of a small log, for "why did it die" (a bounded read). */
static void last_line(const char *path, char *out, size_t n)
{
	char b[2048];
	out[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	if (fseek(f, 0, SEEK_END) == 0) {
		long size = ftell(f);
		fseek(f, size > (long)sizeof b - 1 ? size - (long)sizeof b + 1 : 0, SEEK_SET);
	}
	size_t k = fread(b, 1, sizeof b - 1, f);
	fclose(f);
	while (k && (b[k - 1] == '\n' || b[k - 1] == ' '))
		k--;
	b[k] = '\0';
	char *nl = strrchr(b, '\n');
	util_strlcpy(out, nl ? nl + 1 : b, n);
}

/* The launching worker's process ended before it was ready (procs.c). */
static void launch_proc_exited(void *owner, const char *why)
{
	struct launch *l = owner;
	char line[300] = "";
	if (l->proc)
		last_line(l->proc->log, line, sizeof line);
	launch_fail(l, "the worker %s before it served at %s: %s (see %s)", why, l->url, line[0] ? line : "no output",
		    l->proc ? l->proc->log : "its log");
}

/* Drop finished launches kept longer than NODE_LAUNCH_KEEP_S, and the
 * oldest finished ones while there are NODE_LAUNCH_MAX or more. */
static void launch_prune(struct node *n)
{
	double now = util_wall();
	for (struct launch **pp = &n->launches; *pp;) {
		struct launch *l = *pp;
		if (l->ph == PH_DONE && now - l->finished > NODE_LAUNCH_KEEP_S) {
			*pp = l->next;
			free(l);
			n->nlaunches--;
		} else {
			pp = &l->next;
		}
	}
	while (n->nlaunches >= NODE_LAUNCH_MAX) {
		struct launch **oldest = &n->launches; /* oldest first: the first finished one */
		while (*oldest && (*oldest)->ph != PH_DONE)
			oldest = &(*oldest)->next;
		if (!*oldest)
			return;
		struct launch *l = *oldest;
		*oldest = l->next;
		free(l);
		n->nlaunches--;
	}
}

/* A request field: absent or null -> "", a string -> copied; else -1. */
static int opt_str(const msg *req, const char *key, char *out, size_t n, char *err, size_t errlen)
{
	msg *v = msg_get(req, key);
	out[0] = '\0';
	if (!v || msg_is_null(v))
		return 0;
	if (!msg_is_str(v))
		return snprintf(err, errlen, "\"%s\" must be a string or null", key), -1;
	if (util_strlcpy(out, msg_str(v), n) >= n)
		return snprintf(err, errlen, "\"%s\" is longer than %zu bytes", key, n - 1), -1;
	return 0;
}

struct launch *launch_new(struct node *n, const msg *req, char *err, size_t errlen)
{
	launch_prune(n);
	if (n->nlaunches >= NODE_LAUNCH_MAX)
		return snprintf(err, errlen, "%d launches are in progress; try again later", NODE_LAUNCH_MAX), NULL;
	struct launch *l = calloc(1, sizeof *l);
	if (!l)
		return snprintf(err, errlen, "out of memory"), NULL;
	if (opt_str(req, "worker_type", l->wtype, sizeof l->wtype, err, errlen) ||
	    opt_str(req, "worker_name", l->name, sizeof l->name, err, errlen) ||
	    opt_str(req, "worker_url", l->url, sizeof l->url, err, errlen) ||
	    opt_str(req, "auto_connect_job_type", l->job_type, sizeof l->job_type, err, errlen)) {
		free(l);
		return NULL;
	}
	if (!l->wtype[0]) {
		free(l);
		return snprintf(err, errlen, "launch_worker needs \"worker_type\": a worker type registered at the master"),
		       NULL;
	}
	size_t u = strlen(l->url);
	while (u && l->url[u - 1] == '/')
		l->url[--u] = '\0';
	l->n = n;
	auth_uuid(l->id);
	l->status = "pending";
	l->ph = PH_PENDING;
	l->created = util_wall();
	l->deadline_ns = util_mono_ns() + (uint64_t)(NODE_LAUNCH_TIMEOUT_S * 1e9);
	/* appended: launches choose their ports in the order they came */
	struct launch **tail = &n->launches;
	while (*tail)
		tail = &(*tail)->next;
	*tail = l;
	n->nlaunches++;
	log_info("launch %s: worker type %s%s%s", l->id, l->wtype, l->url[0] ? " at " : "", l->url);
	return l;
}

static void set_str_or_null(msg *o, const char *key, const char *v)
{
	if (v && *v)
		msg_set_str(o, key, v);
	else
		msg_set_null(o, key);
}

msg *launch_status(const struct launch *l)
{
	msg *o = msg_new_object();
	msg_set_str(o, "launch_id", l->id);
	msg_set_str(o, "status", l->status);
	int ok = !strcmp(l->status, "ready");
	set_str_or_null(o, "worker_id", l->worker_id);
	set_str_or_null(o, "worker_name", ok ? l->name : NULL);
	set_str_or_null(o, "worker_url", l->port ? l->url : NULL);
	set_str_or_null(o, "error", l->error);
	return o;
}

/* ---- the port ---- */

/* Host and port of a worker URL ("http://HOST:PORT[/...]"); 0, or -1 if it
 * has no port. */
static int url_host_port(const char *url, char *host, size_t hn, int *port)
{
	const char *s = strstr(url, "://");
	s = s ? s + 3 : url;
	size_t len = strcspn(s, "/?#");
	const char *colon = NULL;
	if (*s == '[') {
		const char *close = memchr(s, ']', len);
		if (!close)
			return -1;
		snprintf(host, hn, "%.*s", (int)(close - s - 1), s + 1);
		colon = close + 1 < s + len && close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = memchr(s, ':', len);
		snprintf(host, hn, "%.*s", (int)(colon ? (size_t)(colon - s) : len), s);
	}
	if (!colon)
		return -1;
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || end != s + len || p < 1 || p > 65535)
		return -1;
	*port = (int)p;
	return 0;
}

/* Another unfinished launch has chosen port. */
static int port_claimed(const struct node *n, const struct launch *self, int port)
{
	for (const struct launch *l = n->launches; l; l = l->next)
		if (l != self && l->ph != PH_DONE && l->ph != PH_PENDING && l->port == port)
			return 1;
	return 0;
}

#define HOLDS ((1u << PROC_LAUNCHING) | (1u << PROC_READY))
#define ROWS ((1u << PROC_LAUNCHING) | (1u << PROC_READY) | (1u << PROC_DEAD))

/* A row whose process is gone: forget it (its port is free). 1 if it was. */
static int reap_row(struct proc *p)
{
	if (!p || (p->state == PROC_READY && procs_alive(p)) || p->state == PROC_LAUNCHING)
		return 0;
	if (p->state == PROC_READY)
		p->state = PROC_DEAD; /* gone, its exit callback not run yet */
	procs_forget(p);
	return 1;
}

/* 0 if another program holds host:port (a bind fails with EADDRINUSE),
 * else 1 -- a port of the range that something else took, such as the
 * workers of another node agent on this machine, is passed over rather
 * than handed to a worker that could not serve on it. */
static int port_free(const char *host, int port)
{
	char ps[16];
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_PASSIVE},
			*ai = NULL;
	snprintf(ps, sizeof ps, "%d", port);
	if (getaddrinfo(host, ps, &hints, &ai) || !ai)
		return 1; /* not a numeric address: the worker's own bind decides */
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, rc = 0;
	if (fd >= 0) {
		/* as the worker's server binds: a port in TIME_WAIT is free */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		rc = bind(fd, ai->ai_addr, ai->ai_addrlen);
		close(fd);
	}
	freeaddrinfo(ai);
	return fd < 0 || rc == 0 || errno != EADDRINUSE;
}

static int choose_port(struct launch *l)
{
	struct node *n = l->n;
	if (l->url[0]) {
		if (n->tls && !strncmp(l->url, "http://", 7)) { /* the worker serves HTTPS like its node */
			char u[sizeof l->url];
			snprintf(u, sizeof u, "https://%.*s", (int)(sizeof u - 9), l->url + 7);
			util_strlcpy(l->url, u, sizeof l->url);
		}
		if (url_host_port(l->url, l->bind_host, sizeof l->bind_host, &l->port)) {
			launch_fail(l, "Worker URL %s does not have a port", l->url);
			return -1;
		}
		struct proc *p = procs_on_port(n, l->port, HOLDS);
		if (p && (p->state == PROC_LAUNCHING || procs_alive(p))) {
			launch_fail(l, "port %d of worker URL %s is taken by worker %s; shut it down first", l->port,
				    l->url, p->id);
			return -1;
		}
		if (port_claimed(n, l, l->port)) {
			launch_fail(l, "another launch is starting a worker on port %d of %s", l->port, l->url);
			return -1;
		}
		reap_row(procs_on_port(n, l->port, ROWS));
		return 0;
	}
	util_strlcpy(l->bind_host, n->host, sizeof l->bind_host);
	for (int port = n->port_lo; port <= n->port_hi; port++)
		if (port != n->port && !procs_on_port(n, port, ROWS) && !port_claimed(n, l, port) &&
		    port_free(l->bind_host, port)) {
			l->port = port;
			break;
		}
	for (int port = n->port_lo; !l->port && port <= n->port_hi; port++)
		if (!port_claimed(n, l, port) && port_free(l->bind_host, port) && reap_row(procs_on_port(n, port, ROWS)))
			l->port = port;
	if (!l->port) {
		launch_fail(l, "No worker ports available in range [%d, %d]", n->port_lo, n->port_hi);
		return -1;
	}
	node_url(n, l->url, sizeof l->url, n->url_host, l->port);
	return 0;
}

/* ---- polling the worker, connecting it ---- */

static void on_status(void *arg, const struct hclient_res *r)
{
	struct launch *l = arg;
	l->call = NULL;
	if (!r->http_ok || r->status != 200)
		return; /* not serving yet: the tick asks again */
	char err[100];
	msg *m = msg_parse(r->body, r->len, err, sizeof err);
	int up = m && msg_get_str(m, "status") && !strcmp(msg_get_str(m, "status"), "Available");
	msg_free(m);
	if (!up)
		return;
	if (!l->job_type[0]) {
		launch_ready(l);
		return;
	}
	l->ph = PH_CONNECT;
	l->next_poll_ns = 0;
	l->connect_deadline_ns = util_mono_ns() + (uint64_t)(NODE_CONNECT_RETRY_S * 1e9);
}

static void poll_status(struct launch *l)
{
	struct hclient_opts o;
	node_call_opts(l->n, &o, 2.0, 0);
	char url[340];
	snprintf(url, sizeof url, "%s/status", l->url);
	l->call = hclient_request(l->n->hc, url, "{}", 2, &o, on_status, l);
}

static void on_connected(void *arg, const struct hclient_res *r)
{
	struct launch *l = arg;
	l->call = NULL;
	if (r->http_ok && r->status == 200) {
		log_info("launch %s: job type %s bound to %s", l->id, l->job_type, l->url);
		launch_ready(l);
		return;
	}
	int retry = (!r->http_ok || r->status == 503) && util_mono_ns() < l->connect_deadline_ns;
	if (retry) {
		l->next_poll_ns = util_mono_ns() + 500 * 1000000ull;
		return;
	}
	launch_fail(l, "register_job_to_worker(%s, %s) at the master failed: %s%.*s", l->job_type, l->url,
		    r->error ? r->error : "", r->http_ok ? (int)(r->len > 300 ? 300 : r->len) : 0, r->body);
}

static void connect_worker(struct launch *l)
{
	char master[300], err[400], url[340];
	if (registration_master_url(l->n, master, sizeof master, err, sizeof err)) {
		launch_fail(l, "cannot bind job type %s to the worker: %s", l->job_type, err);
		return;
	}
	struct buf b = BUF_INIT;
	buf_adds(&b, "{\"job_type\":");
	buf_add_json_str(&b, l->job_type, strlen(l->job_type));
	buf_adds(&b, ",\"worker_url\":");
	buf_add_json_str(&b, l->url, strlen(l->url));
	buf_adds(&b, "}");
	struct hclient_opts o;
	node_call_opts(l->n, &o, 10.0, 0);
	snprintf(url, sizeof url, "%s/register_job_to_worker", master);
	l->call = b.p ? hclient_request(l->n->hc, url, b.p, b.len, &o, on_connected, l) : NULL;
	buf_release(&b);
	if (!l->call)
		launch_fail(l, "cannot call the master: out of memory");
}

static void spawn(struct launch *l)
{
	char err[600];
	if (auth_uuid(l->worker_id)) {
		launch_fail(l, "cannot make a worker id (no randomness)");
		return;
	}
	if (!l->name[0])
		util_strlcpy(l->name, l->worker_id, sizeof l->name);
	l->proc = procs_spawn(l->n, l->wtype, l->worker_id, l->bind_host, l->port, l->url, err, sizeof err);
	if (!l->proc) {
		launch_fail(l, "%s", err);
		return;
	}
	l->proc->owner = l;
	l->proc->on_exit = launch_proc_exited;
	l->ph = PH_STARTING;
}

static void step(struct launch *l, uint64_t now)
{
	if (l->ph == PH_PENDING) {
		l->status = "running";
		l->ph = PH_PORT;
		if (choose_port(l))
			return;
	}
	if (now >= l->deadline_ns) {
		launch_fail(l, "the worker at %s did not answer POST /status with Available within %g s", l->url,
			    NODE_LAUNCH_TIMEOUT_S);
		return;
	}
	if (l->ph == PH_PORT) {
		/* a worker shut down on this port may still be leaving */
		for (struct proc *p = l->n->procs; p; p = p->next)
			if (p->port == l->port && p->state == PROC_STOPPING && procs_alive(p))
				return;
		spawn(l);
		return;
	}
	if (l->call || now < l->next_poll_ns)
		return;
	l->next_poll_ns = now + NODE_POLL_MS * 1000000ull;
	if (l->ph == PH_STARTING)
		poll_status(l);
	else if (l->ph == PH_CONNECT)
		connect_worker(l);
}

void launch_tick(struct node *n)
{
	uint64_t now = util_mono_ns();
	for (struct launch *l = n->launches; l; l = l->next)
		if (l->ph != PH_DONE)
			step(l, now);
}

void launch_abort_all(struct node *n, const char *why)
{
	for (struct launch *l = n->launches; l; l = l->next)
		if (l->ph != PH_DONE)
			launch_fail(l, "%s", why);
}

void launch_free_all(struct node *n)
{
	while (n->launches) {
		struct launch *l = n->launches;
		n->launches = l->next;
		free(l);
	}
	n->nlaunches = 0;
}
