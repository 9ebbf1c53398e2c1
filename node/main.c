/* SPDX-License-Identifier: MIT */
/*
 * mtslurm-node: the node agent, one per machine (mindtrace's Node).
 *
 *   mtslurm-node --run-dir DIR [--http HOST:PORT] [--worker-ports 8092-8111]
 *
 * Without --http it serves where the master does: on loopback when the
 * master's HTTP is on loopback, else on every address of this node, known
 * to the master by this machine's name (a node of an allocation must be
 * reachable from the master's node).
 *
 * Serves the Node endpoints (api.c) on share/httpd with the cluster's API
 * token (RUN_DIR/token), over HTTPS with the cluster's identity
 * (share/tlsid.h) when the master serves HTTPS, registers with the master
 * of RUN_DIR/master.json (registration.c) and launches mtslurm-worker
 * processes -- found next to this program, or in $MTSLURM_LIBEXEC -- on
 * ports of its range
 * (launch.c, procs.c). SIGTERM, SIGINT or POST /shutdown stop its workers
 * first (POST /shutdown to each, SIGTERM after a grace), then the node.
 * Its log is RUN_DIR/logs/node-NAME.log.
 */
#include "node.h"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "nametab.h"
#include "tlsid.h"
#include "util.h"

static const char usage_text[] =
	"usage: mtslurm-node --run-dir DIR [--http HOST:PORT] [--worker-ports A-B] [--debug]\n"
	"The node agent: serves mindtrace's Node endpoints, launches workers of registered worker\n"
	"types on ports A..B (default " NODE_PORTS_DEFAULT ", also as A,B) and registers with the\n"
	"master of DIR/master.json. --http: where it serves (default: an ephemeral port on 127.0.0.1\n"
	"when the master serves on loopback, else on every address of this node).\n";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "mtslurm-node: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

/* ---- options (a table: name, whether it takes a value, its setter) ---- */

struct opts {
	const char *run_dir, *http, *ports;
	int debug, help;
};

struct option {
	const char *name;
	int takes_value;
	void (*set)(struct opts *o, const char *v);
};

static void set_run_dir(struct opts *o, const char *v) { o->run_dir = v; }
static void set_http(struct opts *o, const char *v) { o->http = v; }
static void set_ports(struct opts *o, const char *v) { o->ports = v; }
static void set_debug(struct opts *o, const char *v) { (void)v, o->debug = 1; }
static void set_help(struct opts *o, const char *v) { (void)v, o->help = 1; }

static const struct option options[] = {
	{"--debug", 0, set_debug},	   {"--help", 0, set_help},	      {"--http", 1, set_http},
	{"--run-dir", 1, set_run_dir}, {"--worker-ports", 1, set_ports}, {"-h", 0, set_help},
};

static void parse_args(struct opts *o, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char name[64];
		const char *a = argv[i], *eq = strchr(a, '='), *v = NULL;
		snprintf(name, sizeof name, "%.*s", (int)(eq ? (size_t)(eq - a) : strlen(a)), a);
		const struct option *opt = nametab_find(options, sizeof options / sizeof options[0], sizeof options[0], name);
		if (!opt)
			die("unknown option '%s'\n%s", a, usage_text);
		if (opt->takes_value) {
			v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
			if (!v || !*v)
				die("%s wants a value\n%s", name, usage_text);
		} else if (eq) {
			die("%s takes no value", name);
		}
		opt->set(o, v);
	}
}

/* "A-B" or "A,B": an inclusive range of ports. */
static void parse_ports(struct node *n, const char *v)
{
	char *end;
	long a = strtol(v, &end, 10), b = -1;
	if (end != v && (*end == '-' || *end == ',')) {
		const char *s = end + 1;
		b = strtol(s, &end, 10);
		if (end == s)
			b = -1;
	}
	if (*end || a < 1 || b < a || b > 65535)
		die("--worker-ports wants a range of ports A-B (or A,B) with 1 <= A <= B <= 65535, got '%s'", v);
	n->port_lo = (int)a;
	n->port_hi = (int)b;
}

/* --http HOST:PORT, [V6]:PORT, :PORT or PORT (host 127.0.0.1). */
static void parse_http(struct node *n, const char *v)
{
	const char *colon = strrchr(v, ':');
	const char *port = colon ? colon + 1 : v;
	size_t hl = colon ? (size_t)(colon - v) : 0;
	if (hl >= 2 && v[0] == '[' && v[hl - 1] == ']')
		v++, hl -= 2;
	if (hl >= sizeof n->host)
		die("--http: host too long");
	snprintf(n->host, sizeof n->host, "%.*s", (int)hl, v);
	if (!n->host[0])
		util_strlcpy(n->host, HTTPD_HOST_DEFAULT, sizeof n->host);
	char *end;
	long p = strtol(port, &end, 10);
	if (!*port || *end || p < 0 || p > 65535)
		die("--http wants HOST:PORT (port 0..65535, 0: any free one), got '%s'", v);
	n->port = (int)p;
}

/* mtslurm-worker: $MTSLURM_LIBEXEC, else next to this program. */
static void find_worker(struct node *n)
{
	const char *env = getenv("MTSLURM_LIBEXEC");
	char self[PATH_MAX];
	if (env && *env) {
		snprintf(n->worker_bin, sizeof n->worker_bin, "%s/mtslurm-worker", env);
	} else {
		ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
		if (k <= 0)
			die("cannot find my own executable; set MTSLURM_LIBEXEC to the directory of mtslurm-worker");
		self[k] = '\0';
		snprintf(n->worker_bin, sizeof n->worker_bin, "%s/mtslurm-worker", dirname(self));
	}
	if (access(n->worker_bin, X_OK))
		die("%s not found or not executable; set MTSLURM_LIBEXEC to its directory", n->worker_bin);
}

/* ---- running and stopping ---- */

static void on_closed(uv_handle_t *h)
{
	struct node *n = h->data;
	n->handles--;
}

static void on_hclient_closed(void *arg)
{
	struct node *n = arg;
	n->handles--;
}

static void on_httpd_stopped(void *arg)
{
	struct node *n = arg;
	n->handles--;
}

/* Every worker is gone (or the deadline passed): close everything; the
 * loop then ends. */
static void finish(struct node *n)
{
	log_info("stopped (%zu worker processes left)", procs_running(n));
	for (struct proc *p = n->procs; p; p = p->next)
		if (!p->exited) {
			/* past the deadline, even after SIGKILL: do not wait for it */
			p->exited = 1;
			uv_close((uv_handle_t *)&p->grace, NULL);
			uv_close((uv_handle_t *)&p->p, NULL);
		}
	if (n->d)
		httpd_stop(n->d, on_httpd_stopped, n);
	hclient_close(n->hc, on_hclient_closed, n);
	uv_close((uv_handle_t *)&n->tick, on_closed);
	uv_close((uv_handle_t *)&n->sigterm, on_closed);
	uv_close((uv_handle_t *)&n->sigint, on_closed);
}

static void on_tick(uv_timer_t *t)
{
	struct node *n = t->data;
	launch_tick(n);
	if (n->stopping && (!procs_running(n) || util_mono_ns() >= n->stop_deadline_ns)) {
		uv_timer_stop(&n->tick);
		finish(n);
	}
}

static void node_shutdown(struct node *n, const char *why)
{
	if (n->stopping)
		return;
	n->stopping = 1;
	log_info("shutting down (%s): its %zu worker processes first", why, procs_running(n));
	launch_abort_all(n, "the node is shutting down");
	for (struct proc *p = n->procs, *next; p; p = next) {
		next = p->next;
		if (p->state == PROC_DEAD)
			procs_forget(p);
		else
			procs_stop(p);
	}
	registration_stop(n);
	/* the grace, SIGTERM, the grace again, SIGKILL, and a second to reap */
	n->stop_deadline_ns = util_mono_ns() + (2ull * NODE_GRACE_MS + 1000) * 1000000ull;
}

static void on_signal(uv_signal_t *s, int signum)
{
	node_shutdown(s->data, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* 1 if URL's host is a loopback address or "localhost". */
static int url_on_loopback(const char *url)
{
	const char *h = strstr(url, "://");
	h = h ? h + 3 : url;
	return !strncmp(h, "127.", 4) || !strncmp(h, "localhost", 9) || !strncmp(h, "[::1]", 5);
}

static void node_serve(struct node *n)
{
	char err[RUNDIR_PATH_MAX + 300];
	struct master_info mi;
	if (n->d || rundir_read_master(n->run_dir, &mi, err, sizeof err))
		return; /* serving already, or no master yet: asked again at each registration */
	if (!n->host[0]) /* no --http: where the master serves */
		util_strlcpy(n->host, !mi.http[0] || url_on_loopback(mi.http) ? HTTPD_HOST_DEFAULT : "0.0.0.0",
			     sizeof n->host);
	n->tls = !strncmp(mi.http, "https://", 8);
	struct tlsid id = {0};
	if (n->tls && tlsid_load(&id, n->run_dir, NULL, 0, 0, err, sizeof err))
		die("the master serves HTTPS but this node cannot load the cluster's TLS identity: %s", err);
	struct httpd_config hc = {.host = n->host, .port = n->port, .token = n->token, .on_request = api_on_request,
				  .arg = n, .tls_cert_pem = id.cert_pem, .tls_key_pem = id.key_pem};
	int rc = httpd_start(&n->d, n->loop, &hc, err, sizeof err);
	tlsid_free(&id);
	if (rc)
		die("cannot serve HTTP%s: %s; choose another --http HOST:PORT", n->tls ? "S" : "", err);
	n->handles++;
	n->port = httpd_port(n->d);
	if (!strcmp(n->host, "0.0.0.0") || !strcmp(n->host, "::"))
		util_hostname(n->url_host, sizeof n->url_host);
	else
		util_strlcpy(n->url_host, n->host, sizeof n->url_host);
	node_url(n, n->url, sizeof n->url, n->url_host, n->port);
	log_info("node %s serving on %s (pid %ld), worker ports %d-%d, workers from %s, run dir %s", n->name, n->url,
		 (long)getpid(), n->port_lo, n->port_hi, n->worker_bin, n->run_dir);
}

static void start(struct node *n, const struct opts *o)
{
	char err[RUNDIR_PATH_MAX + 300], path[RUNDIR_PATH_MAX], logname[320];
	if (rundir_resolve(n->run_dir, o->run_dir, err, sizeof err) || rundir_create(n->run_dir, err, sizeof err))
		die("%s", err);
	rundir_path(n->ca_file, n->run_dir, "tls.crt");
	if (rundir_path(path, n->run_dir, "token") || auth_token_load(n->token, path, 1, err, sizeof err))
		die("%s", err[0] ? err : "run directory path too long");
	util_nodename(n->name, sizeof n->name);
	snprintf(logname, sizeof logname, "logs/node-%s.log", n->name);
	if (rundir_path(path, n->run_dir, logname) || log_open(path, "node"))
		die("cannot open its log %s: %s", path, strerror(errno));
	if (o->debug)
		log_set_level(LOG_DEBUG);
	if (auth_uuid(n->server_id))
		die("no randomness for a server id");
	if (!(n->hc = hclient_new(n->loop, err, sizeof err)))
		die("%s", err);
	n->handles++;
	uv_timer_init(n->loop, &n->tick);
	uv_signal_init(n->loop, &n->sigterm);
	uv_signal_init(n->loop, &n->sigint);
	n->tick.data = n->sigterm.data = n->sigint.data = n;
	n->handles += 3;
	uv_timer_start(&n->tick, on_tick, NODE_TICK_MS, NODE_TICK_MS);
	uv_signal_start(&n->sigterm, on_signal, SIGTERM);
	uv_signal_start(&n->sigint, on_signal, SIGINT);
	n->shutdown = node_shutdown;
	n->serve = node_serve;
	node_serve(n);
	registration_start(n);
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	parse_args(&o, argc, argv);
	if (o.help) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (api_check())
		die("internal: the endpoint table is not sorted");
	signal(SIGPIPE, SIG_IGN);
	static struct node n;
	uv_loop_t loop;
	uv_loop_init(&loop);
	n.loop = &loop;
	parse_ports(&n, o.ports ? o.ports : NODE_PORTS_DEFAULT);
	if (o.http)
		parse_http(&n, o.http); /* else node_serve follows the master */
	find_worker(&n);
	start(&n, &o);
	uv_run(&loop, UV_RUN_DEFAULT);
	launch_free_all(&n);
	while (n.procs) {
		struct proc *p = n.procs;
		n.procs = p->next;
		free(p);
	}
	uv_loop_close(&loop);
	log_close();
	return 0;
}
