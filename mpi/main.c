/* SPDX-License-Identifier: MIT */
/*
 * mtslurm-worker: the worker daemon, an MPI program so that one `mpirun` or
 * `srun` starts a worker per rank across an allocation. MPI is used only to
 * be launched and to learn the rank: no communication, no collectives, so a
 * rank may leave on its own. Each rank runs one worker (worker/worker.h) on
 * its own libuv loop and logs its diagnostics to
 * RUN_DIR/logs/worker-<WID>.daemon.log (job output goes to
 * RUN_DIR/logs/worker-<WID>.log, see share/joblog.h).
 *
 *   mtslurm-worker --run-dir DIR [--slots S] [--no-mpi] [--id ID]
 *                  [--worker-type NAME] [--http HOST:PORT] [--url URL]
 *                  [--reconnect-max SECONDS] [--resource KEY=VALUE]... [--debug]
 *
 * With --worker-type it serves the jobs of that worker type (worker/typed.h);
 * with --http, mindtrace's Worker endpoints (worker/wapi.h).
 *
 * Exit codes: 0 (the master said exit, or SIGTERM/SIGINT), 2 (bad usage or
 * cannot start), 3 (no master for --reconnect-max seconds).
 *
 * Leaving: with OMPI_MCA_orte_allowed_exit_without_sync=1 in the environment
 * (what `mtslurm start` sets, see docs/worker.md) a rank exits without
 * MPI_Finalize, whose PMIx fence would otherwise hold an early rank until
 * every other rank finalizes too. Without it, MPI_Finalize is called.
 */
#include <errno.h>
#include <stddef.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "jobenv.h"
#include "log.h"
#include "msg.h"
#include "resource.h"
#include "rundir.h"
#include "batch.h"
#include "util.h"
#include "worker.h"

extern char **environ;

#define STOP_GUARD_MS 10000 /* a stuck func call must not keep us forever */

struct daemon {
	uv_loop_t loop;
	uv_signal_t sigterm, sigint;
	uv_timer_t guard;
	uv_timer_t drain;  /* fires drain_before s before the allocation's end */
	uv_work_t endq;    /* asks the batch system for that end, off the loop */
	const struct batch_ops *batch; /* the allocation's system (batch.h) */
	char alloc_id[BATCH_ID_MAX];
	struct batch_info job;
	int job_rc;
	char job_err[256];
	struct worker *w;
	int code;
	int stopping;
	int stopped;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: mtslurm-worker --run-dir DIR [--slots S] [--no-mpi] [--id ID]\n"
		   "                      [--worker-type NAME] [--http HOST:PORT] [--url URL]\n"
		   "                      [--reconnect-max SECONDS] [--resource KEY=VALUE]... [--debug]\n"
		   "Runs one mtslurm worker per MPI rank (or one with --no-mpi); it finds the\n"
		   "master through DIR/master.json and authenticates with DIR/key.\n"
		   "  --worker-type NAME  serve the jobs of worker type NAME (registered with the master)\n"
		   "  --http HOST:PORT    serve mindtrace's Worker endpoints there (also :PORT or PORT;\n"
		   "                      host 127.0.0.1, port 0: any free port); token DIR/token\n"
		   "  --url URL           the URL told to the master (default http://HOST:PORT as bound)\n"
		   "  --resource K=V      what jobs may ask for, instead of what is detected: cpus=N,\n"
		   "                      mem=SIZE (8G), gpus=ID,ID,... (0,1,2,3), gpu-kind=nvidia|amd\n"
		   "                      (repeatable; shared among the workers mpirun starts on a node)\n");
}

static void on_closed(uv_handle_t *h)
{
	(void)h;
}

static void on_stopped(void *arg)
{
	struct daemon *d = arg;
	d->stopped = 1;
	d->w = NULL;
	uv_close((uv_handle_t *)&d->sigterm, on_closed);
	uv_close((uv_handle_t *)&d->sigint, on_closed);
	uv_close((uv_handle_t *)&d->guard, on_closed);
	uv_close((uv_handle_t *)&d->drain, on_closed);
}

static void on_guard(uv_timer_t *t)
{
	struct daemon *d = t->data;
	log_warn("still stopping after %d s (a function call that does not return?): leaving anyway",
		 STOP_GUARD_MS / 1000);
	uv_stop(&d->loop);
}

static void begin_stop(struct daemon *d, int code)
{
	if (d->stopping)
		return;
	d->stopping = 1;
	d->code = code;
	uv_timer_start(&d->guard, on_guard, STOP_GUARD_MS, 0);
	worker_stop(d->w, on_stopped, d);
}

/* ---- leaving before the allocation's end ---- */

/* How long before its job's end a worker drains: $MTSLURM_DRAIN_BEFORE
 * seconds, else a tenth of the time limit, at least 10 s and at most 2 min
 * (room for the running jobs to finish and the results to be confirmed). */
static double drain_before(double limit_s)
{
	const char *e = getenv("MTSLURM_DRAIN_BEFORE");
	if (e && *e)
		return atof(e);
	double m = limit_s / 10;
	return m < 10 ? 10 : m > 120 ? 120 : m;
}

static void on_drain_timer(uv_timer_t *t)
{
	struct daemon *d = t->data;
	char why[160];
	snprintf(why, sizeof why, "its %s job %s ends in %.0f s", d->batch->title, d->alloc_id,
		 difftime(d->job.end, time(NULL)));
	if (d->w && !d->stopping)
		worker_drain(d->w, why);
}

static void end_work(uv_work_t *r)
{
	struct daemon *d = r->data;
	d->job_rc = batch_alloc_info(&d->batch, d->alloc_id, &d->job, d->job_err, sizeof d->job_err);
}

static void end_done(uv_work_t *r, int status)
{
	struct daemon *d = r->data;
	if (status || d->stopping)
		return;
	if (d->job_rc == 1) /* not inside an allocation after all */
		return;
	if (!d->job_rc && d->job.state == BATCH_RUNNING && !d->job.time_limit_min) { /* a local job's: none */
		log_info("%s job %s has no time limit: nothing to drain before", d->batch->title, d->alloc_id);
		return;
	}
	if (d->job_rc || d->job.state != BATCH_RUNNING || !d->job.end || !d->job.time_limit_min) {
		log_warn("no end time for %s job %s (%s): this worker will not drain before it", d->batch->title,
			 d->alloc_id, d->job_rc ? d->job_err : "no time limit");
		return;
	}
	if (d->w)
		worker_set_end(d->w, (double)d->job.end);
	double before = drain_before(d->job.time_limit_min * 60.0);
	double in = difftime(d->job.end, time(NULL)) - before;
	log_info("%s job %s ends at %ld: draining %.0f s before, in %.0f s", d->batch->title, d->alloc_id,
		 (long)d->job.end, before, in);
	uv_timer_start(&d->drain, on_drain_timer, in > 0 ? (uint64_t)(in * 1000) : 0, 0);
}

static void on_worker_exit(void *arg, int code, const char *why)
{
	/* the worker logged it; a worker that cannot start at all (its port
	 * taken, no TLS identity) also says why on stderr, which its starter
	 * (a node agent, a shell) shows */
	if (code == WORKER_EXIT_CANNOT_START)
		fprintf(stderr, "mtslurm-worker: %s\n", why);
	begin_stop(arg, code);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;
	log_info("got %s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
	worker_set_stop_reason(d->w, signum == SIGTERM ? "got SIGTERM" : "got SIGINT");
	begin_stop(d, 0);
}

/* The environment function hosts (and exec jobs that come without an
 * environment snapshot) inherit: ours minus what mpirun set up for this rank
 * (share/jobenv.c's table, plus every other OMPI_ and OPAL_ name but
 * OMPI_MCA_*, which in the worker's environment are all mpirun's), so that a
 * job which itself runs an MPI program (or mpirun) is not taken for a part
 * of the worker's MPI job. Exec jobs normally run in the submitter's
 * environment instead (docs/user-guide.md, "The environment a job sees"). */
static char **job_environment(void)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = malloc((n + 1) * sizeof(char *));
	if (!env)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const char *e = environ[i];
		int keep = !jobenv_launcher_var(e) && strncmp(e, "OPAL_", 5) != 0 &&
			   !(strncmp(e, "OMPI_", 5) == 0 && strncmp(e, "OMPI_MCA_", 9) != 0);
		if (keep)
			env[k++] = environ[i];
	}
	env[k] = NULL;
	return env;
}

/* --http HOST:PORT, [HOST]:PORT, :PORT or PORT (host 127.0.0.1). 0, or -1
 * with why in err. */
static int http_arg(const char *v, char *host, size_t hostn, int *port, char *err, size_t errlen)
{
	const char *colon = strrchr(v, ':');
	const char *p = colon ? colon + 1 : v;
	size_t hl = colon ? (size_t)(colon - v) : 0;
	if (hl >= 2 && v[0] == '[' && v[hl - 1] == ']')
		v++, hl -= 2;
	if (hl >= hostn)
		return snprintf(err, errlen, "--http: host too long"), -1;
	memcpy(host, v, hl);
	host[hl] = '\0';
	char *end;
	errno = 0;
	long n = strtol(p, &end, 10);
	if (!*p || *end || errno || n < 0 || n > 65535)
		return snprintf(err, errlen, "--http: '%s' is not HOST:PORT, :PORT or PORT with PORT 0..65535", p), -1;
	*port = (int)n;
	return 0;
}

/* A worker type's name, as the master takes them: 1 to 64 of A-Z a-z 0-9 _ . - */
static int wtype_ok(const char *s)
{
	size_t n = strlen(s);
	return n && n <= 64 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

static int truthy(const char *v)
{
	return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 ||
		     strcmp(v, "t") == 0 || strcmp(v, "y") == 0 || strcmp(v, "enabled") == 0);
}

static const char *env_value(const char *name) { return getenv(name); }

/* mpirun's or srun's ranks on one node share it: each takes its part (of
 * what start --resource told every rank of the node alike, too: else two
 * workers would hand out the same GPU). A launcher that bound each rank to
 * CPUs of its own already split the CPU set. */
static void share_node(struct resource_set *res)
{
	int rank, size;
	if (!resource_local_rank(env_value, &rank, &size) || size <= 1)
		return;
	cpu_set_t set = res->cpuset;
	uint32_t cpus = res->cpus;
	resource_share(res, rank, size);
	if (resource_launcher_bound(env_value)) {
		res->cpuset = set;
		res->cpus = cpus;
	}
}

/* What the command line says (usage()). */
struct args {
	const char *run_dir, *id, *wtype, *url, *http;
	char http_host[256];
	int slots, use_mpi, debug, http_port, help, nres;
	double reconnect_max_s;
	const char *res[32];
};

/* One option: its name, whether it takes a value, and where it goes. */
enum arg_kind { ARG_STR, ARG_INT, ARG_DBL, ARG_ON, ARG_OFF, ARG_RES, ARG_HELP };
struct arg_opt {
	const char *name;
	enum arg_kind kind;
	size_t off; /* in struct args */
};
#define AO(f) offsetof(struct args, f)
static const struct arg_opt arg_opts[] = {
	{"--debug", ARG_ON, AO(debug)},         {"--help", ARG_HELP, 0},
	{"--http", ARG_STR, AO(http)},          {"--id", ARG_STR, AO(id)},
	{"--no-mpi", ARG_OFF, AO(use_mpi)},     {"--reconnect-max", ARG_DBL, AO(reconnect_max_s)},
	{"--resource", ARG_RES, 0},             {"--run-dir", ARG_STR, AO(run_dir)},
	{"--slots", ARG_INT, AO(slots)},        {"--url", ARG_STR, AO(url)},
	{"--worker-type", ARG_STR, AO(wtype)},  {"-h", ARG_HELP, 0},
};

/* Apply option o with value v (NULL for flags) to a: 0, or -1 with err. */
static int arg_apply(struct args *a, const struct arg_opt *o, const char *v, char *err, size_t n)
{
	char *p = (char *)a + o->off;
	switch (o->kind) {
	case ARG_STR: *(const char **)p = v; break;
	case ARG_INT: *(int *)p = atoi(v); break;
	case ARG_DBL: *(double *)p = atof(v); break;
	case ARG_ON: *(int *)p = 1; break;
	case ARG_OFF: *(int *)p = 0; break;
	case ARG_HELP: a->help = 1; break;
	case ARG_RES:
		if (a->nres == (int)(sizeof a->res / sizeof a->res[0]))
			return snprintf(err, n, "too many --resource options"), -1;
		a->res[a->nres++] = v;
		break;
	}
	return 0;
}

/* Parse and check the command line into a: 0, or -1 with err (say usage). */
static int args_parse(struct args *a, int argc, char **argv, char *err, size_t n)
{
	memset(a, 0, sizeof *a);
	a->slots = 1;
	a->use_mpi = 1;
	for (int i = 1; i < argc && !a->help; i++) {
		const char *arg = argv[i], *eq = strchr(arg, '=');
		size_t len = eq && !strncmp(arg, "--", 2) ? (size_t)(eq - arg) : strlen(arg);
		const struct arg_opt *o = NULL;
		for (size_t k = 0; k < sizeof arg_opts / sizeof arg_opts[0] && !o; k++)
			if (strlen(arg_opts[k].name) == len && !strncmp(arg_opts[k].name, arg, len))
				o = &arg_opts[k];
		int takes = o && (o->kind == ARG_STR || o->kind == ARG_INT || o->kind == ARG_DBL || o->kind == ARG_RES);
		const char *v = takes ? (eq && len < strlen(arg) ? eq + 1 : i + 1 < argc ? argv[++i] : NULL) : NULL;
		if (!o || (takes && !v) || (!takes && len < strlen(arg)))
			return snprintf(err, n, "unknown or incomplete option '%s'", arg), -1;
		if (arg_apply(a, o, v, err, n))
			return -1;
	}
	if (a->help)
		return 0;
	if (a->slots < 1 || a->slots > 4096)
		return snprintf(err, n, "--slots must be 1..4096"), -1;
	if (a->wtype && !wtype_ok(a->wtype))
		return snprintf(err, n, "--worker-type '%s': a worker type's name is 1 to 64 characters of "
					"A-Z a-z 0-9 _ . -", a->wtype), -1;
	if (a->http && http_arg(a->http, a->http_host, sizeof a->http_host, &a->http_port, err, n) < 0)
		return -1;
	if (a->url && !a->http)
		return snprintf(err, n, "--url needs --http (the address to serve at)"), -1;
	return 0;
}

/* What jobs may ask for: detected, then what --resource says, then this
 * rank's share of the node. 0, or -1 with err. */
static int args_resources(const struct args *a, struct resource_set *res, char *err, size_t n)
{
	if (resource_detect(res, err, n) < 0) {
		size_t l = strlen(err);
		snprintf(err + l, n - l, " (set it right, or say --resource gpus=...)");
		return -1;
	}
	for (int k = 0; k < a->nres; k++)
		if (resource_arg_apply(res, a->res[k], err, n) < 0)
			return -1;
	share_node(res);
	return 0;
}

/* This worker's id: --id, else the default for its rank, with its launch's
 * tag: in a container's pid namespace every rank is pid 2 or so, so start
 * --container and add-workers --container name their launch, and the
 * workers of two launches do not take each other's ids. */
static void daemon_worker_id(char *id, size_t n, const char *id_opt, int rank)
{
	if (id_opt) {
		util_strlcpy(id, id_opt, n);
		return;
	}
	worker_default_id(id, n, rank);
	const char *tag = getenv("MTSLURM_LAUNCH_TAG");
	if (tag && *tag && strlen(tag) < 32 && strspn(tag, "abcdefghijklmnopqrstuvwxyz0123456789") == strlen(tag))
		snprintf(id + strlen(id), n - strlen(id), "-%s", tag);
}

/* The daemon's loop and handles: signals (SIGTERM, SIGINT), the guard and
 * drain timers. */
static void daemon_init(struct daemon *d)
{
	memset(d, 0, sizeof(*d));
	uv_loop_init(&d->loop);
	uv_signal_init(&d->loop, &d->sigterm);
	uv_signal_init(&d->loop, &d->sigint);
	uv_timer_init(&d->loop, &d->guard);
	uv_timer_init(&d->loop, &d->drain);
	d->sigterm.data = d->sigint.data = d->guard.data = d->drain.data = d->endq.data = d;
	uv_signal_start(&d->sigterm, on_signal, SIGTERM);
	uv_signal_start(&d->sigint, on_signal, SIGINT);
}

/* A worker that could not start: close the daemon's handles and loop. */
static void daemon_abandon(struct daemon *d)
{
	uv_close((uv_handle_t *)&d->sigterm, on_closed);
	uv_close((uv_handle_t *)&d->sigint, on_closed);
	uv_close((uv_handle_t *)&d->guard, on_closed);
	uv_close((uv_handle_t *)&d->drain, on_closed);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	uv_loop_close(&d->loop);
}

/* Run the worker of a (rank, run dir dir) on d's loop until it ends; its
 * exit code. */
static int daemon_run(struct daemon *d, const struct args *a, const char *dir, const char *id, int rank,
		      struct resource_set *res)
{
	char err[1024];
	char **env = job_environment();
	struct worker_cfg cfg = {0};
	cfg.run_dir = dir;
	cfg.slots = a->slots;
	cfg.rank = rank;
	cfg.id = id;
	cfg.reconnect_max_ms = a->reconnect_max_s > 0 ? (unsigned)(a->reconnect_max_s * 1000) : 0;
	cfg.on_exit = on_worker_exit;
	cfg.arg = d;
	cfg.job_env = env;
	cfg.wtype = a->wtype;
	cfg.http = a->http != NULL;
	cfg.http_host = a->http_host[0] ? a->http_host : NULL;
	cfg.http_port = a->http_port;
	cfg.url = a->url;
	cfg.res = res;
	log_info("resources: %u CPUs, %llu MiB, %u GPU%s%s%s%s", res->cpus, (unsigned long long)(res->mem_b >> 20),
		 res->ngpus, res->ngpus == 1 ? "" : "s", res->gpu_from ? " (from " : "",
		 res->gpu_from ? res->gpu_from : "", res->gpu_from ? ")" : "");
	log_info("starting: pid %ld, %d slots, run dir %s%s%s%s", (long)getpid(), a->slots, dir,
		 a->use_mpi ? "" : " (no MPI)", a->wtype ? ", worker type " : "", a->wtype ? a->wtype : "");
	d->w = worker_new(&d->loop, &cfg, err, sizeof(err));
	if (!d->w) {
		log_error("cannot start: %s", err);
		fprintf(stderr, "mtslurm-worker: %s\n", err);
		daemon_abandon(d);
		free(env);
		return 2;
	}
	/* inside a batch allocation (SLURM_JOB_ID...): drain before its end */
	if (batch_in_allocation(d->alloc_id) && !truthy(getenv("MTSLURM_NO_DRAIN")))
		uv_queue_work(&d->loop, &d->endq, end_work, end_done);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	log_info("exiting with code %d", d->code);
	if (d->stopped)
		uv_loop_close(&d->loop); /* fails only if a func call is still running */
	free(env);
	return d->code;
}

int main(int argc, char **argv)
{
	static struct args a;
	static struct resource_set res;
	char dir[RUNDIR_PATH_MAX], err[1024];
	msg_use_pool(); /* before any JSON value exists (msg.h) */
	if (args_parse(&a, argc, argv, err, sizeof err) < 0) {
		fprintf(stderr, "mtslurm-worker: %s\n", err);
		usage(stderr);
		return 2;
	}
	if (a.help) {
		usage(stdout);
		return 0;
	}
	if (args_resources(&a, &res, err, sizeof err) < 0 || rundir_resolve(dir, a.run_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "mtslurm-worker: %s\n", err);
		return 2;
	}
	int rank = 0;
	if (a.use_mpi) {
		int provided;
		if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
			fprintf(stderr, "mtslurm-worker: MPI_Init_thread failed (use --no-mpi to run "
					"without mpirun)\n");
			return 2;
		}
		MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	}
	int independent_exit = !a.use_mpi || truthy(getenv("OMPI_MCA_orte_allowed_exit_without_sync"));
	signal(SIGPIPE, SIG_IGN);
	/* func jobs run on libuv's pool: give every slot a thread */
	if (!getenv("UV_THREADPOOL_SIZE")) {
		char n[16];
		snprintf(n, sizeof(n), "%d", a.slots < 4 ? 4 : a.slots > 1024 ? 1024 : a.slots);
		setenv("UV_THREADPOOL_SIZE", n, 1);
	}
	char id[320], logpath[RUNDIR_PATH_MAX], name[400], who[32];
	daemon_worker_id(id, sizeof id, a.id, rank);
	snprintf(name, sizeof(name), "logs/worker-%s.daemon.log", id);
	snprintf(who, sizeof(who), "worker %d", rank);
	int code = 2;
	err[0] = '\0';
	if (rundir_create(dir, err, sizeof(err)) < 0 || rundir_path(logpath, dir, name) < 0 ||
	    log_open(logpath, who) < 0) {
		fprintf(stderr, "mtslurm-worker: cannot open its log in %s/logs: %s\n", dir,
			err[0] ? err : strerror(errno));
	} else {
		if (a.debug)
			log_set_level(LOG_DEBUG);
		static struct daemon d;
		daemon_init(&d);
		code = daemon_run(&d, &a, dir, id, rank, &res);
	}
	log_close();
	if (a.use_mpi) {
		if (independent_exit) {
			/* mpirun was told that ranks leave on their own */
			fflush(NULL);
			_exit(code);
		}
		MPI_Finalize();
	}
	return code;
}
