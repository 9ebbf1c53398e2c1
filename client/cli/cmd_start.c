/* SPDX-License-Identifier: MIT */
/*
 * launch: `mtslurm start`, `stop` and `add-workers` in local (SMP) mode and
 * inside an allocation. start runs the master detached, waits for it to
 * serve, then runs `mpirun -n N mtslurm-worker` (srun in an allocation)
 * detached and waits until the workers have connected; on any failure it
 * stops what it started (by PID) and says why. add-workers runs one more
 * such launch against the running master. Every launch is recorded in
 * RUN_DIR/launch.json so that stop -- or a start after the master died --
 * knows which processes are ours.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sched.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "buf.h"
#include "cli.h"
#include "pbsjob.h"
#include "runtime.h"
#include "msg.h"
#include "util.h"

/* A starting master that neither uses CPU nor reads for this long is taken
 * for hung. */
#define START_STALL_MS 15000

/* launch.json keeps at most this many launches (start's and each
 * add-workers'); add-workers first forgets the ones that ended. */
#define LAUNCH_MAX 32

/* One mpirun (or srun) that start or add-workers ran. */
struct launch_one {
	long pid;
	unsigned long long start; /* its start time (proc_start), 0: unknown */
	char node[256];           /* where it was run ("" in old files) */
	int workers, slots;
	double at; /* unix time of the launch, 0: unknown */
};

/* RUN_DIR/launch.json: every launch of the cluster (docs/formats.md). */
struct launch {
	char mode[16]; /* "local" or "allocation" */
	char backend[16];         /* in an allocation: whose ("slurm", "pbs"); "" otherwise or unknown */
	char alloc[BATCH_ID_MAX]; /* and its id */
	int master_works;
	int slots; /* start's --slots, add-workers' default */
	int expected; /* workers the cluster should have (start: N, +1 with --master-works; add-workers:
		       * those connected before it + N); -1: not recorded (an older file) */
	int n;
	struct launch_one v[LAUNCH_MAX];
	long node_pid;                 /* the node agent start ran (0: none) */
	unsigned long long node_start; /* its start time (proc_start) */
};

static void launch_one_read(const msg *m, struct launch_one *o, const char *pid_key, const char *start_key)
{
	int64_t v = 0;
	double at = 0;
	memset(o, 0, sizeof *o);
	if (!msg_get_int(m, pid_key, &v))
		o->pid = (long)v;
	if (!msg_get_int(m, start_key, &v) && v > 0)
		o->start = (unsigned long long)v;
	if (!msg_get_int(m, "workers", &v))
		o->workers = (int)v;
	if (!msg_get_int(m, "slots", &v))
		o->slots = (int)v;
	if (!msg_get_num(m, "at", &at))
		o->at = at;
	if (msg_get_str(m, "node"))
		util_strlcpy(o->node, msg_get_str(m, "node"), sizeof o->node);
}

/* Read launch.json: the list form ("launches"), or the single launch of a
 * run dir started by an older mtslurm ("mpirun_pid", "mpirun_start",
 * "node", "workers" at the top). 0, or -1 if there is none. */
static int read_launch(const char *dir, struct launch *l)
{
	memset(l, 0, sizeof *l);
	msg *m = cli_read_json(dir, "launch.json");
	if (!m)
		return -1;
	util_strlcpy(l->mode, msg_get_str(m, "mode") ? msg_get_str(m, "mode") : "local", sizeof l->mode);
	l->master_works = msg_get_bool(m, "master_works", 0);
	util_strlcpy(l->backend, msg_get_str(m, "backend") ? msg_get_str(m, "backend") : "", sizeof l->backend);
	util_strlcpy(l->alloc, msg_get_str(m, "alloc") ? msg_get_str(m, "alloc") : "", sizeof l->alloc);
	int64_t v = 0;
	l->expected = msg_get_int(m, "expected", &v) == 0 && v >= 0 ? (int)v : -1;
	if (!msg_get_int(m, "slots", &v) && v > 0)
		l->slots = (int)v;
	if (!msg_get_int(m, "node_pid", &v) && v > 0)
		l->node_pid = (long)v;
	if (!msg_get_int(m, "node_start", &v) && v > 0)
		l->node_start = (unsigned long long)v;
	msg *list = msg_get(m, "launches");
	if (msg_is_array(list)) {
		for (msg *e = msg_child(list); e && l->n < LAUNCH_MAX; e = msg_next(e))
			if (msg_is_object(e))
				launch_one_read(e, &l->v[l->n++], "pid", "start");
	} else {
		launch_one_read(m, &l->v[0], "mpirun_pid", "mpirun_start");
		l->n = l->v[0].pid > 0;
	}
	msg_free(m);
	return 0;
}

static unsigned long long proc_start(long pid);

/* Append a launch of pid (n workers of slots slots) run just now here. */
static void launch_add(struct launch *l, long pid, int n, int slots)
{
	struct launch_one *o = &l->v[l->n++];
	memset(o, 0, sizeof *o);
	o->pid = pid;
	o->start = pid > 0 ? proc_start(pid) : 0;
	util_nodename(o->node, sizeof o->node);
	o->workers = n;
	o->slots = slots;
	o->at = util_wall();
}

/* Write launch.json: "launches" lists every launch; the first one is also
 * written at the top in the single-launch form an older mtslurm reads. */
static void write_launch(const char *dir, const struct launch *l)
{
	msg *o = msg_new_object(), *list = msg_new_array();
	struct launch_one none = {0};
	const struct launch_one *first = l->n ? &l->v[0] : &none;
	msg_set_str(o, "mode", l->mode);
	if (l->backend[0]) {
		msg_set_str(o, "backend", l->backend);
		msg_set_str(o, "alloc", l->alloc);
	}
	msg_set_bool(o, "master_works", l->master_works);
	msg_set_int(o, "slots", l->slots);
	msg_set_int(o, "expected", l->expected);
	msg_set_int(o, "mpirun_pid", first->pid);
	msg_set_int(o, "mpirun_start", (int64_t)first->start);
	msg_set_str(o, "node", first->node);
	msg_set_int(o, "workers", first->workers);
	msg_set_int(o, "node_pid", l->node_pid);
	msg_set_int(o, "node_start", (int64_t)l->node_start);
	for (int i = 0; i < l->n; i++) {
		msg *e = msg_new_object();
		msg_set_int(e, "pid", l->v[i].pid);
		msg_set_int(e, "start", (int64_t)l->v[i].start);
		msg_set_str(e, "node", l->v[i].node);
		msg_set_int(e, "workers", l->v[i].workers);
		msg_set_int(e, "slots", l->v[i].slots);
		msg_set_num(e, "at", l->v[i].at);
		msg_push(list, e);
	}
	msg_add(o, "launches", list);
	char *text = msg_print(o);
	msg_free(o);
	cli_write_file(dir, "launch.json", text, text ? strlen(text) : 0);
	free(text);
}

/* fork + setsid + exec with stdout/stderr appended to logfile. */
static pid_t spawn_detached(char *const argv[], const char *logfile)
{
	pid_t pid = fork();
	if (pid < 0)
		cli_die(1, "cannot fork: %s", strerror(errno));
	if (pid == 0) {
		setsid();
		int in = open("/dev/null", O_RDONLY);
		int out = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (in >= 0)
			dup2(in, 0);
		if (out >= 0) {
			dup2(out, 1);
			dup2(out, 2);
		}
		execv(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

static int exited(pid_t pid)
{
	int st;
	return waitpid(pid, &st, WNOHANG) == pid;
}

/* Stop a pid we started: SIGTERM, then SIGKILL after grace_ms. */
static void end_pid(long pid, int grace_ms)
{
	if (pid <= 0 || !rundir_pid_alive(pid))
		return;
	kill((pid_t)pid, SIGTERM);
	for (int t = 0; t < grace_ms; t += 50) {
		int st;
		waitpid((pid_t)pid, &st, WNOHANG);
		if (!rundir_pid_alive(pid))
			return;
		cli_sleep_ms(50);
	}
	kill((pid_t)pid, SIGKILL);
	int st;
	waitpid((pid_t)pid, &st, WNOHANG);
}

/* name (mpirun, srun) from PATH (the MPI the user loaded, e.g. with
 * `module load`), else /usr/bin/name; NULL if there is none. */
static char *find_program(const char *name, char *out, size_t n)
{
	const char *path = getenv("PATH");
	while (path && *path) {
		const char *colon = strchr(path, ':');
		size_t len = colon ? (size_t)(colon - path) : strlen(path);
		if (len > 0 && (size_t)snprintf(out, n, "%.*s/%s", (int)len, path, name) < n &&
		    access(out, X_OK) == 0)
			return out;
		path = colon ? colon + 1 : NULL;
	}
	snprintf(out, n, "/usr/bin/%s", name);
	return access(out, X_OK) == 0 ? out : NULL;
}

/* A number that grows while pid works: its CPU time (utime + stime from
 * /proc/PID/stat) plus the bytes it read (rchar from /proc/PID/io). 0 if
 * they cannot be read. */
static uint64_t proc_progress(pid_t pid)
{
	char path[64], text[2048];
	uint64_t v = 0;
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
	if (fd >= 0)
		close(fd);
	char *p = n > 0 ? (text[n] = '\0', strrchr(text, ')')) : NULL;
	unsigned long long ut = 0, st = 0;
	/* after "pid (comm)": state, then fields 4..13, then utime, stime */
	if (p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
		v = ut + st;
	snprintf(path, sizeof path, "/proc/%ld/io", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
	if (fd >= 0)
		close(fd);
	unsigned long long rchar = 0;
	if (n > 0 && (text[n] = '\0', sscanf(text, "rchar: %llu", &rchar) == 1))
		v += rchar;
	return v;
}

/* Wait until the master we spawned serves (master.json names its pid).
 * A master with a big backlog loads it first (100,000 jobs: about 30 s), so
 * there is no fixed limit: start waits as long as the process lives and
 * makes progress (CPU time or reads advance within START_STALL_MS), up to
 * --timeout if one was given. Dies, after ending the master, otherwise. */
static void wait_serving(struct cli *cli, pid_t pid, const char *logfile, struct master_info *mi)
{
	char err[512];
	uint64_t t0 = util_mono_ns(), last_ns = t0;
	uint64_t limit_ns = cli->timeout_s >= 0 ? (uint64_t)(cli->timeout_s * 1e9) : 0;
	uint64_t seen = proc_progress(pid);
	for (int tick = 0;; tick++) {
		if (rundir_read_master(cli->run_dir, mi, err, sizeof err) == 0 && mi->pid == pid)
			return;
		if (exited(pid)) {
			char why[512];
			cli_last_line(logfile, why, sizeof why);
			cli_die(1, "the master exited at start: %s (see %s)", why[0] ? why : "no reason given", logfile);
		}
		uint64_t now = util_mono_ns();
		if (tick % 25 == 0) { /* every 0.5 s */
			uint64_t p = proc_progress(pid);
			if (p != seen) {
				seen = p;
				last_ns = now;
			}
		}
		if (limit_ns && now - t0 >= limit_ns) {
			end_pid(pid, 2000);
			cli_die(1, "the master did not start serving within %g s (--timeout; it was %s); a larger "
				   "--timeout gives a big backlog time to load (see %s)",
				cli->timeout_s, now - last_ns < 2000000000u ? "still working" : "idle", logfile);
		}
		if (now - last_ns >= (uint64_t)START_STALL_MS * 1000000u) {
			end_pid(pid, 2000);
			cli_die(1, "the master made no progress for %d s before serving (no CPU time, no reads) and "
				   "was stopped (see %s)",
				START_STALL_MS / 1000, logfile);
		}
		cli_sleep_ms(20);
	}
}

static pid_t start_master(struct cli *cli, const char *bin, const char *logfile, struct master_info *mi)
{
	char prefetch[32];
	char *argv[48];
	int k = 0;
	argv[k++] = (char *)bin;
	argv[k++] = "--run-dir";
	argv[k++] = cli->run_dir;
	/* Local mode listens on loopback only; inside an allocation the
	 * workers may be on other nodes. */
	const char *host = cli->sl.master_host ? cli->sl.master_host : getenv("MTSLURM_MASTER_HOST");
	argv[k++] = "--host";
	argv[k++] = (char *)(cli->in_allocation ? (host && *host ? host : "0.0.0.0") : "127.0.0.1");
	argv[k++] = "--port";
	argv[k++] = "0";
	if (cli->master_works)
		argv[k++] = "--master-works";
	if (cli->prefetch >= 0) {
		snprintf(prefetch, sizeof prefetch, "%d", cli->prefetch);
		argv[k++] = "--prefetch";
		argv[k++] = prefetch;
	}
	if (cli->max_queued) {
		argv[k++] = "--max-queued";
		argv[k++] = (char *)cli->max_queued;
	}
	char as[RUNDIR_PATH_MAX]; /* local worker jobs on demand (cmd_start_autoscale) */
	if (cli->autoscale && rundir_path(as, cli->run_dir, "autoscale.json") == 0) {
		argv[k++] = "--autoscale";
		argv[k++] = as;
	}
	/* HTTP: loopback in local mode; in an allocation, where the wire
	 * protocol listens, since the node agents of the other nodes register
	 * over it (HTTPS with the token off loopback). */
	char http[300];
	if (cli->no_http) {
		argv[k++] = "--no-http";
	} else if (cli->http) {
		argv[k++] = "--http";
		argv[k++] = (char *)cli->http;
	} else if (cli->in_allocation) {
		const char *h = host && *host ? host : "0.0.0.0";
		snprintf(http, sizeof http, strchr(h, ':') ? "[%s]:0" : "%s:0", h);
		argv[k++] = "--http";
		argv[k++] = http;
	}
	if (!cli->no_http && cli->http_tls)
		argv[k++] = "--http-tls";
	/* Expert knobs of mtslurm-master that start has no option for
	 * (docs/master.md), e.g. MTSLURM_MASTER_ARGS="--sync normal". */
	char extra[1024] = "";
	const char *env = getenv("MTSLURM_MASTER_ARGS");
	if (env)
		util_strlcpy(extra, env, sizeof extra);
	for (char *save = NULL, *w = strtok_r(extra, " \t", &save); w && k < 46; w = strtok_r(NULL, " \t", &save))
		argv[k++] = w;
	argv[k] = NULL;
	rundir_remove_master(cli->run_dir);
	pid_t pid = spawn_detached(argv, logfile);
	wait_serving(cli, pid, logfile, mi);
	return pid;
}

/* Wait until want workers are connected; 0, or -1 if mpirun died first. */
static int wait_workers(struct cli *cli, int want, long mpirun_pid, int timeout_ms, int *seen)
{
	mts_client *c = cli_connect_quiet(cli);
	if (!c)
		return -2;
	int rc = -3;
	for (int t = 0; t < timeout_ms; t += 100) {
		*seen = cli_connected_workers(c);
		if (*seen >= want) {
			rc = 0;
			break;
		}
		if (mpirun_pid > 0 && (exited((pid_t)mpirun_pid) || !rundir_pid_alive(mpirun_pid))) {
			rc = -1;
			break;
		}
		cli_sleep_ms(100);
	}
	mts_close(c);
	return rc;
}

static void shutdown_master(struct cli *cli, long pid)
{
	mts_client *c = cli_connect_quiet(cli);
	if (c) {
		mts_shutdown(c);
		mts_close(c);
	}
	for (int t = 0; t < 5000 && rundir_pid_alive(pid); t += 50) {
		int st;
		waitpid((pid_t)pid, &st, WNOHANG);
		cli_sleep_ms(50);
	}
	end_pid(pid, 2000);
}

/* start --json: {"master":{"host","port","pid"},"mode","launcher_pid",
 * "workers","connected","restarted","run_dir"}. */
static void print_started(const struct cli *cli, const struct master_info *mi, long mpid, long launcher_pid,
			  int want, int seen, int restarted, long node_pid)
{
	msg *o = msg_new_object(), *m = msg_new_object();
	msg_set_str(m, "host", mi->host);
	msg_set_int(m, "port", mi->port);
	msg_set_int(m, "pid", mpid);
	msg_add(o, "master", m);
	msg_set_str(o, "mode", cli->in_allocation ? "allocation" : "local");
	msg_set_int(o, "launcher_pid", launcher_pid);
	msg_set_int(o, "workers", want);
	msg_set_int(o, "connected", seen < 0 ? 0 : seen);
	msg_set_bool(o, "restarted", restarted);
	msg_set_bool(o, "autoscale", cli->autoscale);
	msg_set_int(o, "node_pid", node_pid);
	msg_set_str(o, "run_dir", cli->run_dir);
	cli_print_json(o);
}

static int our_process(long pid, const char *prog, const char *run_dir, unsigned long long start_ticks);

/* Whether o is a launch start ran that still runs: on this node, the
 * process of its pid and start time with this run dir on its command
 * line. A launch on another node cannot be checked from here: 0. */
static int launch_running(const struct cli *cli, const struct launch_one *o)
{
	char node[256];
	util_nodename(node, sizeof node);
	return o->pid > 0 && (!o->node[0] || !strcmp(o->node, node)) &&
	       our_process(o->pid, NULL, cli->run_dir, o->start);
}

/* start (and add-workers) --container: the workers themselves run inside the image (as
 * cluster-workers' --docker-image), each rank through the runtime's
 * template: mpirun -n N RUNTIME... mtslurm-worker .... The image sees the
 * run dir, the worker's directory and the MPI session directory ($TMPDIR
 * or /tmp) at the same paths, plus the --volume's; it must hold the
 * worker's libraries (or get them through --volume). NULL without
 * --container; dies on bad input. The argv is one allocation (free it). */
static char **container_workers(struct cli *cli, char *const *worker_argv)
{
	mts_container c;
	const char *vols[CLI_MAX_ENV + 1], *envs[CLI_MAX_ENV + 1];
	char image[PATH_MAX], bindir[PATH_MAX], why[400];
	if (!cli_container(cli, &c, vols, envs, image, sizeof image))
		return NULL;
	const char *tmp = getenv("TMPDIR");
	util_strlcpy(bindir, worker_argv[0], sizeof bindir);
	char *slash = strrchr(bindir, '/');
	if (slash && slash != bindir)
		*slash = '\0';
	msg *o = msg_new_object(), *v = msg_new_object(), *e = msg_new_object();
	const char *same[] = {cli->run_dir, bindir, tmp && *tmp == '/' ? tmp : "/tmp"};
	for (int i = 0; i < 3; i++)
		msg_set_str(v, same[i], same[i]);
	for (int i = 0; c.volumes && c.volumes[i]; i++) {
		const char *colon = strchr(c.volumes[i], ':'), *ro = strstr(colon + 1, ":ro");
		char src[PATH_MAX];
		snprintf(src, sizeof src, "%.*s", (int)(colon - c.volumes[i]), c.volumes[i]);
		msg *bind = msg_new_object();
		msg_set_strn(bind, "bind", colon + 1, ro && !ro[3] ? (size_t)(ro - colon - 1) : strlen(colon + 1));
		if (ro && !ro[3])
			msg_set_str(bind, "mode", "ro");
		msg_free(msg_take(v, src));
		msg_add(v, src, bind);
	}
	for (int i = 0; c.env && c.env[i]; i++) {
		const char *eq = strchr(c.env[i], '=');
		char k[256];
		snprintf(k, sizeof k, "%.*s", (int)(eq - c.env[i]), c.env[i]);
		msg_set_str(e, k, eq + 1);
	}
	/* the workers' ids (node-PID-RANK) need more than a pid that the
	 * container's namespace makes the same for every launch */
	char tag[32];
	snprintf(tag, sizeof tag, "c%ld", (long)getpid());
	if (!msg_get(e, "MTSLURM_LAUNCH_TAG"))
		msg_set_str(e, "MTSLURM_LAUNCH_TAG", tag);
	msg_set_str(o, "image", c.image);
	if (c.workdir)
		msg_set_str(o, "workdir", c.workdir);
	msg_add(o, "volumes", v);
	msg_add(o, "env", e);
	struct runtimes *rt = runtimes_new(cli->run_dir, NULL);
	const struct runtime *r = NULL;
	char **argv = NULL;
	if (rt && runtime_container_check(o, why, sizeof why) == 0 && runtimes_refresh(rt, why, sizeof why) == 0 &&
	    (r = runtimes_pick(rt, c.runtime, getenv("PATH"), why, sizeof why)))
		argv = runtime_expand(r, o, worker_argv, why, sizeof why);
	runtimes_free(rt);
	msg_free(o);
	if (!argv)
		cli_die(2, "--container: %s", rt ? why : "out of memory");
	return argv;
}

/* ---- where the workers run: this machine, or the allocation start is in ---- */

/* An argv being built: pointers into the caller's strings and into words
 * and num, which it owns. */
struct argv {
	char *v[128];
	int n;
	char words[1024]; /* $MTSLURM_MPIRUN_ARGS, split */
	char num[2][16];
	char prog[PATH_MAX];
};

static void av_add(struct argv *a, const char *s)
{
	if (a->n < (int)(sizeof a->v / sizeof a->v[0]) - 1)
		a->v[a->n++] = (char *)s;
	a->v[a->n] = NULL;
}

/* $MTSLURM_MPIRUN_ARGS's blank-separated words (no quoting: the workers'
 * script of a PBS job gives them to the shell unquoted, the same words). */
static void av_mpirun_extra(struct argv *a)
{
	const char *e = getenv("MTSLURM_MPIRUN_ARGS");
	util_strlcpy(a->words, e ? e : "", sizeof a->words);
	for (char *p = a->words; *p;) {
		p += strspn(p, " \t\n");
		if (!*p)
			break;
		av_add(a, p);
		p += strcspn(p, " \t\n");
		if (*p)
			*p++ = '\0';
	}
}

/* The allocation an in-allocation start (or add-workers) runs in: whose,
 * its id, and its size as that system tells the job's script. */
struct alloc {
	const struct batch_ops *ops; /* NULL: none (local mode) */
	char id[BATCH_ID_MAX];
	int nodes, tasks;            /* 0: not said */
	char hostfile[PATH_MAX];     /* PBS: $PBS_NODEFILE */
};

/* Slurm tells the job's script its tasks and nodes. A job that asked for
 * nodes only (sbatch -N 2, or #PBS -l select=2 through Slurm's PBS
 * wrappers) has no SLURM_NTASKS: its tasks per node times its nodes, else
 * one task per node, as srun would start. */
static int slurm_alloc_size(struct alloc *a, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	const char *nt = getenv("SLURM_NTASKS"), *nn = getenv("SLURM_JOB_NUM_NODES");
	const char *tpn = getenv("SLURM_NTASKS_PER_NODE");
	if (!nn || atoi(nn) < 1)
		nn = getenv("SLURM_NNODES");
	a->nodes = nn && atoi(nn) > 0 ? atoi(nn) : 1;
	a->tasks = nt && atoi(nt) > 0 ? atoi(nt) : a->nodes * (tpn && atoi(tpn) > 0 ? atoi(tpn) : 1);
	return 0;
}

/* PBS writes the job's hosts into $PBS_NODEFILE, a host once per slot
 * (PBS Pro: per mpiprocs; Torque: per ppn). */
static int pbs_alloc_size(struct alloc *a, char *err, size_t errlen)
{
	const char *f = getenv("PBS_NODEFILE");
	struct pbsjob_host *hosts = NULL;
	size_t nhosts = 0;
	char why[400];
	if (!f || !*f) {
		snprintf(err, errlen, "PBS_JOBID is set (PBS job %s) but PBS_NODEFILE is not: start --in-allocation "
			 "takes the job's hosts from PBS's node file; run it in the job's script, where PBS sets both",
			 a->id);
		return -1;
	}
	if (pbsjob_nodefile(f, &hosts, &nhosts, why, sizeof why)) {
		snprintf(err, errlen, "--in-allocation in PBS job %s: %s", a->id, why);
		return -1;
	}
	a->nodes = (int)nhosts;
	a->tasks = 0;
	for (size_t i = 0; i < nhosts; i++)
		a->tasks += (int)hosts[i].slots;
	free(hosts);
	util_strlcpy(a->hostfile, f, sizeof a->hostfile);
	return 0;
}

/* This machine: mpirun's traffic on loopback, on the command line where a
 * user's OMPI_MCA_* cannot widen it (Open MPI 4.1 still binds its OOB
 * listener to the wildcard address: docs/protocol.md, "Trust model"). */
static void local_workers(struct argv *av, const struct alloc *a)
{
	(void)a;
	static const char *const w[] = {"--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "--mca",
					"oob_tcp_if_include", "lo", "--mca", "btl_tcp_if_include", "lo"};
	for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
		av_add(av, w[i]);
}

/* In Slurm: one rank per task through Slurm's PMIx; the step overlaps so
 * that the job's own steps (and multi-rank jobs) still start while the
 * workers hold every task. */
static void slurm_workers(struct argv *av, const struct alloc *a)
{
	(void)a;
	av_add(av, "--overlap");
	av_add(av, "--mpi=pmix");
	av_add(av, "--kill-on-bad-exit=0");
}

/* A node agent on each node, in a step that overlaps the workers' (it
 * takes no task from them). */
static void slurm_nodes(struct argv *av, const struct alloc *a)
{
	snprintf(av->num[1], sizeof av->num[1], "%d", a->nodes);
	static const char *const w[] = {"--overlap", "--mpi=none", "--kill-on-bad-exit=0", "-N"};
	for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
		av_add(av, w[i]);
	av_add(av, av->num[1]);
	av_add(av, "-n");
	av_add(av, av->num[1]);
	av_add(av, "--ntasks-per-node=1");
}

/* In PBS: Open MPI's mpirun on the node file's hosts, ranks placed by its
 * slots (a host's lines); -x PBS_JOBID so that a rank started on another
 * host (by ssh where Open MPI has no tm support, as Debian's) still knows
 * its allocation and drains before its walltime. No loopback-only
 * settings: the daemons on the other hosts must reach mpirun.
 * --oversubscribe: -n may ask for more workers than slots. */
static void pbs_common(struct argv *av, const struct alloc *a)
{
	static const char *const w[] = {"--allow-run-as-root", "--bind-to", "none", "-x", "PBS_JOBID", "--hostfile"};
	for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
		av_add(av, w[i]);
	av_add(av, a->hostfile);
	av_mpirun_extra(av);
}

static void pbs_workers(struct argv *av, const struct alloc *a)
{
	pbs_common(av, a);
	av_add(av, "--oversubscribe");
}

static void pbs_nodes(struct argv *av, const struct alloc *a)
{
	pbs_common(av, a);
	av_add(av, "--map-by");
	av_add(av, "ppr:1:node");
}

/* How each kind of cluster reads its allocation and starts its workers
 * (one rank per task) and its node agents (one per node). */
static const struct launcher {
	const char *backend; /* batch_ops name; "local": no allocation */
	const char *prog;    /* the launcher program */
	const char *missing; /* what to do when it is not on PATH */
	const char *wlog, *nlog;
	int loopback;        /* keep Open MPI on lo (this machine only) */
	int (*size)(struct alloc *a, char *err, size_t errlen); /* NULL: nothing to read */
	void (*workers)(struct argv *av, const struct alloc *a); /* words after prog, before -n N */
	void (*nodes)(struct argv *av, const struct alloc *a);   /* NULL: the agent runs here, no launcher */
} launchers[] = {
	{"local", "mpirun", "mpirun not found on PATH; install Open MPI (apt-get install openmpi-bin)",
	 "logs/mpirun.out", "logs/node.out", 1, NULL, local_workers, NULL},
	{"slurm", "srun", "srun not found on PATH; is this a Slurm node?", "logs/srun.out", "logs/srun-nodes.out", 0,
	 slurm_alloc_size, slurm_workers, slurm_nodes},
	{"pbs", "mpirun", "mpirun not found on PATH: inside a PBS job the workers start with Open MPI's mpirun on the "
			  "node file's hosts (load its module, or apt-get install openmpi-bin)",
	 "logs/mpirun.out", "logs/mpirun-nodes.out", 0, pbs_alloc_size, pbs_workers, pbs_nodes},
};

static const struct launcher *launcher_of(const struct alloc *a)
{
	const char *name = a && a->ops ? a->ops->name : "local";
	for (size_t i = 0; i < sizeof launchers / sizeof launchers[0]; i++)
		if (strcmp(launchers[i].backend, name) == 0)
			return &launchers[i];
	return NULL;
}

/* The allocation this process runs in, and its size: 0; 1 when it runs in
 * none; -1 (err) when its system has no launcher here or its size cannot
 * be read (a PBS job without a readable node file). */
static int alloc_here(struct alloc *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof *a);
	a->ops = batch_in_allocation(a->id);
	if (!a->ops)
		return 1;
	const struct launcher *k = launcher_of(a);
	if (!k) {
		snprintf(err, errlen, "--in-allocation: mtslurm cannot start workers inside a %s allocation",
			 a->ops->title);
		return -1;
	}
	return k->size ? k->size(a, err, errlen) : 0;
}

/* Open MPI's settings for the workers' launch (exported to mpirun, set
 * only where the user has not): as root one rank may die without taking
 * the others down; loopback (local mode only) keeps all traffic on lo. */
static const struct {
	const char *name, *value;
	int loopback; /* only when the launcher keeps Open MPI on lo */
} mpi_env[] = {
	{"OMPI_MCA_btl", "self,vader", 0},
	{"OMPI_MCA_btl_tcp_if_include", "lo", 1},
	{"OMPI_MCA_oob_tcp_if_include", "lo", 1},
	{"OMPI_MCA_orte_allowed_exit_without_sync", "1", 0},
	{"OMPI_MCA_orte_abort_on_non_zero_status", "0", 0},
	{"OMPI_MCA_orte_enable_recovery", "1", 0},
	{"OMPI_MCA_mpi_warn_on_fork", "0", 0},
};

/* The words of a launch of workers with the launcher of a's system
 * (mpirun here when a has none: local mode) into av: the program, its
 * words, -n n (av->num[0]), then the worker's own. Returns where the
 * worker's words start, or -1 (with why in err) if the launcher is not on
 * PATH. */
static int worker_words(struct cli *cli, const struct alloc *a, const char *n, int slots, const char *worker_bin,
			struct argv *av, char *err, size_t errlen)
{
	const struct launcher *k = launcher_of(a);
	char path[PATH_MAX];
	char *prog = find_program(k->prog, path, sizeof path);
	if (!prog) {
		snprintf(err, errlen, "%s", k->missing);
		return -1;
	}
	memset(av, 0, sizeof *av);
	util_strlcpy(av->prog, prog, sizeof av->prog);
	av_add(av, av->prog);
	k->workers(av, a);
	util_strlcpy(av->num[0], n, sizeof av->num[0]);
	av_add(av, "-n");
	av_add(av, av->num[0]);
	int w = av->n; /* where the worker's own words start */
	snprintf(av->num[1], sizeof av->num[1], "%d", slots);
	/* --bind-to none (mpirun): a worker runs several jobs at once, and the
	 * CPUs it gives them (docs/user-guide.md, "Resources") are the node's,
	 * shared among its local ranks -- not the one core mpirun binds a rank
	 * to. start --resource: every worker is told. */
	const char *words[] = {worker_bin, "--run-dir", cli->run_dir, "--slots", av->num[1]};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		av_add(av, words[i]);
	for (int i = 0; i < cli->nresource; i++) {
		av_add(av, "--resource");
		av_add(av, cli->resource[i]);
	}
	return w;
}

void cli_local_workers_script(struct cli *cli, struct buf *b, const char *worker_bin)
{
	static struct argv av; /* large; the CLI writes one script at a time */
	struct alloc a;
	char err[400];
	memset(&a, 0, sizeof a);
	const struct launcher *k = launcher_of(&a);
	if (worker_words(cli, &a, "N", cli->slots, worker_bin, &av, err, sizeof err) < 0)
		cli_die(1, "%s", err);
	buf_adds(b, "#!/bin/sh\n# mtslurm workers on this machine, one per task of the local job, launched as "
		    "mtslurm --local start launches them (written by mtslurm start --autoscale)\n");
	for (size_t i = 0; i < sizeof mpi_env / sizeof mpi_env[0]; i++)
		if (!mpi_env[i].loopback || k->loopback)
			buf_addf(b, "export %s=\"${%s-%s}\"\n", mpi_env[i].name, mpi_env[i].name, mpi_env[i].value);
	buf_adds(b, "exec");
	for (int i = 0; i < av.n; i++) {
		buf_adds(b, " ");
		if (av.v[i] == av.num[0]) /* the job's tasks, from slurm/localjob.c */
			buf_adds(b, "\"${MTSLURM_BATCH_NTASKS:-1}\"");
		else
			cli_shq(b, av.v[i]);
	}
	buf_adds(b, "\n");
}

/* Start n workers of slots slots, detached, with the launcher of a's
 * system (mpirun here when a has none: local mode), its output appended to
 * wlog. Returns the launcher's pid, or -1 (with why in err) if it is not
 * on PATH. */
static pid_t launch_workers(struct cli *cli, const struct alloc *a, int n, int slots, const char *worker_bin,
			    const char *wlog, char *err, size_t errlen)
{
	const struct launcher *k = launcher_of(a);
	for (size_t i = 0; i < sizeof mpi_env / sizeof mpi_env[0]; i++)
		if (!mpi_env[i].loopback || k->loopback)
			setenv(mpi_env[i].name, mpi_env[i].value, 0);
	static struct argv av; /* large; the CLI runs one launch at a time */
	char num[16];
	snprintf(num, sizeof num, "%d", n);
	int w = worker_words(cli, a, num, slots, worker_bin, &av, err, errlen);
	if (w < 0)
		return -1;
	char **wrapped = container_workers(cli, av.v + w);
	if (!wrapped)
		return spawn_detached(av.v, wlog);
	char *full[128];
	int m = 0;
	for (int i = 0; i < w; i++)
		full[m++] = av.v[i];
	for (int i = 0; wrapped[i] && m < 127; i++)
		full[m++] = wrapped[i];
	full[m] = NULL;
	pid_t pid = m < 127 ? spawn_detached(full, wlog) : -1;
	if (m >= 127)
		snprintf(err, errlen, "--container: the runtime's command line is too long");
	free(wrapped);
	return pid;
}

/* The node agents: one here (local mode), or one on each node of the
 * allocation through its system's launcher. *nodes says how many. The
 * pid of it, or -1 with err. */
static long launch_nodes(struct cli *cli, const struct alloc *a, const char *node_bin, const char *nlog, int *nodes,
			 char *err, size_t errlen)
{
	const struct launcher *k = launcher_of(a);
	char *ports = (char *)(cli->node_ports ? cli->node_ports : "8092-8111");
	char path[PATH_MAX];
	static struct argv av;
	memset(&av, 0, sizeof av);
	*nodes = 1;
	if (k->nodes) {
		char *prog = find_program(k->prog, path, sizeof path);
		if (!prog) {
			snprintf(err, errlen, "%s", k->missing);
			return -1;
		}
		*nodes = a->nodes > 0 ? a->nodes : 1;
		av_add(&av, prog);
		k->nodes(&av, a);
	}
	const char *words[] = {node_bin, "--run-dir", cli->run_dir, "--worker-ports", ports};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		av_add(&av, words[i]);
	return spawn_detached(av.v, nlog);
}

/* The master died but workers of a launch live on: restart the master
 * alone and wait for the workers of the running launches. */
static int restart_master(struct cli *cli, const char *master_bin, const char *mlog, const struct launch *l,
			  int timeout_ms)
{
	struct master_info mi;
	long first = 0;
	int want = cli->master_works ? 1 : 0;
	for (int i = 0; i < l->n; i++) {
		if (!launch_running(cli, &l->v[i]))
			continue;
		want += l->v[i].workers;
		if (!first)
			first = l->v[i].pid;
	}
	pid_t mp = start_master(cli, master_bin, mlog, &mi);
	int seen = 0;
	int rc = wait_workers(cli, want, first, timeout_ms, &seen);
	if (cli->json)
		print_started(cli, &mi, mp, first, want, seen, 1, 0);
	else
		printf("mtslurm: master restarted on %s:%d (pid %ld); %d of %d workers of mpirun pid %ld "
		       "reconnected\n",
		       mi.host, mi.port, (long)mp, seen < 0 ? 0 : seen, want, first);
	return rc == 0 ? 0 : 1;
}

/* The cores this process may run on (its affinity mask: what taskset or
 * a Slurm allocation gives it), else the online ones. */
static int node_cores(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

static void check_slots(const struct cli *cli, int slots)
{
	int cores = node_cores();
	if (slots > cores && !cli->oversubscribe)
		cli_die(2, "--slots %d is more than the %d cores this node gives us; use --slots %d or fewer, or "
			   "--oversubscribe to run more jobs at once than cores",
			slots, cores, cores);
}

_Static_assert(BATCH_ID_MAX == 64, "cli.h's cli_launch_mode takes 64-byte allocation ids");

/* Why a command that wants an allocation finds none. */
#define NO_ALLOCATION "neither SLURM_JOB_ID nor PBS_JOBID is set"

/* An in-allocation start runs inside a Slurm or PBS allocation (a filled,
 * else zeroed), and takes one worker per task of it (Slurm's tasks, the
 * lines of PBS's node file) unless -n says otherwise. */
static void start_allocation_checks(struct cli *cli, struct alloc *a)
{
	char err[600];
	memset(a, 0, sizeof *a);
	if (!cli->in_allocation)
		return;
	if (cli->backend)
		cli_die(2, "--in-allocation runs in the allocation it is in; it takes no --backend");
	int rc = alloc_here(a, err, sizeof err);
	if (rc == 1)
		cli_die(2, "--in-allocation runs inside a Slurm or PBS allocation (a batch script, or salloc), and "
			   NO_ALLOCATION "; use mtslurm -n N start to get one, or --local");
	if (rc)
		cli_die(2, "%s", err);
	if (!cli->n_given) {
		cli->n = a->tasks;
		cli->n_given = cli->n > 0;
	}
}

/* start --autoscale in local mode: the master's autoscaler starts worker
 * jobs here through the batch table's local entry (slurm/localjob.c), each
 * an mpirun of up to --workers-per-alloc ranks launched as a local start
 * launches its workers; RUN_DIR/autoscale.json tells it how. A restart
 * writes the same file: the master reads the jobs it made before from
 * autoscale-jobs.json and keeps managing them. */
static void start_autoscale(struct cli *cli, const char *worker_bin)
{
	cli_autoscale_checks(cli);
	if (!cli->autoscale)
		return;
	if (cli->in_allocation)
		cli_die(2, "--autoscale starts workers through a backend (--local, --backend slurm|pbs); inside an "
			   "allocation use add-workers instead");
	if (cli->container)
		cli_die(2, "--autoscale cannot start workers in a --container yet; start them with -n N, or "
			   "add-workers");
	cli->batch = &batch_local_ops;
	cli_write_autoscale(cli, worker_bin);
}

/* A start that failed after launching: end what it started (node agents,
 * workers, master) and the launch record, so nothing is left behind. */
static void start_undo(struct cli *cli, const struct launch *l, long lpid, pid_t mp)
{
	end_pid(l->node_pid, 8000);
	end_pid(lpid, 3000);
	shutdown_master(cli, mp);
	char lp[RUNDIR_PATH_MAX];
	rundir_path(lp, cli->run_dir, "launch.json");
	unlink(lp);
}

/* After the master (pid mp) is up: the node agents -- one per node (their
 * URLs: mtslurm nodes), one in local mode, one on each node of the
 * allocation, none without HTTP (node_bin found before the master started,
 * so a missing one leaves nothing running); *nodes says how many -- and the workers,
 * recorded in l. Returns the workers' launcher's pid (0: no workers). A
 * launch that fails ends what was started and the command. */
static long start_launch(struct cli *cli, const struct alloc *a, struct launch *l, pid_t mp, const char *worker_bin,
			 const char *wlog, const char *node_bin, const char *nlog, int *nodes)
{
	char err[512];
	memset(l, 0, sizeof *l);
	util_strlcpy(l->mode, cli->in_allocation ? "allocation" : "local", sizeof l->mode);
	util_strlcpy(l->backend, a->ops ? a->ops->name : "", sizeof l->backend);
	util_strlcpy(l->alloc, a->id, sizeof l->alloc);
	l->master_works = cli->master_works;
	l->slots = cli->slots;
	l->expected = cli->n + (cli->master_works ? 1 : 0);
	if (!cli->no_http) {
		l->node_pid = launch_nodes(cli, a, node_bin, nlog, nodes, err, sizeof err);
		if (l->node_pid < 0) {
			shutdown_master(cli, mp);
			cli_die(1, "%s", err);
		}
		l->node_start = proc_start(l->node_pid);
	}
	long lpid = 0;
	if (cli->n > 0) {
		lpid = launch_workers(cli, a, cli->n, cli->slots, worker_bin, wlog, err, sizeof err);
		if (lpid < 0) {
			end_pid(l->node_pid, 8000);
			shutdown_master(cli, mp);
			cli_die(1, "%s", err);
		}
		launch_add(l, lpid, cli->n, cli->slots);
	}
	return lpid;
}

/* What a start started: the master, want workers (seen connected) by the
 * launcher prog (pid lpid), the node agents, autoscaling. */
static void start_report(const struct cli *cli, const struct master_info *mi, pid_t mp, long lpid, int want, int seen,
			 long node_pid, int nodes, const char *prog)
{
	char as[80] = "";
	if (cli->autoscale)
		snprintf(as, sizeof as, ", autoscaling %d..%d workers (local jobs)", want, cli->max_workers);
	if (cli->json)
		print_started(cli, mi, mp, lpid, want, seen, 0, node_pid);
	else
		printf("mtslurm: master %s:%d (pid %ld), %d workers (%s pid %ld)%s, %d node agent%s (mtslurm nodes), "
		       "run dir %s\n",
		       mi->host, mi->port, (long)mp, want, prog, lpid, as, node_pid > 0 ? nodes : 0,
		       node_pid > 0 && nodes == 1 ? "" : "s", cli->run_dir);
}

int cmd_start(struct cli *cli)
{
	char err[512], logs[RUNDIR_PATH_MAX], mlog[RUNDIR_PATH_MAX], wlog[RUNDIR_PATH_MAX];
	char master_bin[PATH_MAX], worker_bin[PATH_MAX], nlog[RUNDIR_PATH_MAX];
	struct master_info mi;
	struct launch l;
	struct alloc a;
	const struct batch_ops *ops = cli->in_allocation ? NULL : cli_backend(cli);
	if (ops && ops != &batch_local_ops) /* a batch system's: cmd_batch.c */
		return cmd_start_batch(cli, ops);
	start_allocation_checks(cli, &a);
	const struct launcher *k = launcher_of(&a);
	if (rundir_create(cli->run_dir, err, sizeof err))
		cli_die(1, "%s", err);
	if (rundir_read_master(cli->run_dir, &mi, err, sizeof err) == 0 && rundir_pid_alive(mi.pid))
		cli_die(1, "a cluster is already running in %s (master pid %ld); mtslurm stop first", cli->run_dir,
			mi.pid);
	cli_sibling(master_bin, sizeof master_bin, "mtslurm-master");
	cli_sibling(worker_bin, sizeof worker_bin, "mtslurm-worker");
	rundir_path(logs, cli->run_dir, "logs");
	rundir_path(mlog, cli->run_dir, "logs/master.out");
	rundir_path(nlog, cli->run_dir, k->nlog);
	rundir_path(wlog, cli->run_dir, k->wlog);
	int timeout_ms = cli->timeout_s >= 0 ? (int)(cli->timeout_s * 1000) : 60000;
	start_autoscale(cli, worker_bin);

	/* The master died but its workers live on: restart the master alone. */
	if (read_launch(cli->run_dir, &l) == 0) {
		for (int i = 0; i < l.n; i++)
			if (launch_running(cli, &l.v[i]))
				return restart_master(cli, master_bin, mlog, &l, timeout_ms);
		/* A node agent of the last start outlived its cluster: end it, the
		 * new start runs its own. */
		if (l.node_pid > 0 && our_process(l.node_pid, "mtslurm-node", cli->run_dir, l.node_start))
			end_pid(l.node_pid, 8000);
	}

	if (!cli->n_given && !cli->autoscale)
		cli_die(2, "say how many workers with -n N (e.g. mtslurm -n 4 --local start), or --autoscale "
			   "--max-workers M");
	check_slots(cli, cli->slots);
	char node_bin[PATH_MAX] = "";
	if (!cli->no_http)
		cli_sibling(node_bin, sizeof node_bin, "mtslurm-node");
	pid_t mp = start_master(cli, master_bin, mlog, &mi);
	int nodes = 0;
	long lpid = start_launch(cli, &a, &l, mp, worker_bin, wlog, node_bin, nlog, &nodes);
	write_launch(cli->run_dir, &l);
	int seen = 0;
	int want = cli->n + (cli->master_works ? 1 : 0);
	int rc = wait_workers(cli, want, lpid, timeout_ms, &seen);
	int nseen = 0;
	int node_rc = rc == 0 && l.node_pid > 0
			      ? cli_node_wait(cli, l.node_pid, cli->in_allocation ? nodes : 0, 15000, &nseen)
			      : 0;
	if (node_rc) {
		char why[512];
		cli_last_line(nlog, why, sizeof why);
		start_undo(cli, &l, lpid, mp);
		if (cli->in_allocation)
			cli_die(1, "the node agents (%s pid %ld, one per node) %s: %d of %d registered with the "
				   "master within 15 s: %s (see %s and %s/node-*.log); stopped",
				k->prog, l.node_pid, node_rc == -1 ? "exited at start" : "were too slow", nseen, nodes,
				why[0] ? why : "no reason given", nlog, logs);
		cli_die(1, "the node agent (mtslurm-node pid %ld) %s: %s (see %s); stopped", l.node_pid,
			node_rc == -1 ? "exited at start" : "did not register with the master within 15 s",
			why[0] ? why : "no reason given", nlog);
	}
	if (rc != 0) {
		char why[512];
		cli_last_line(wlog, why, sizeof why);
		start_undo(cli, &l, lpid, mp);
		if (rc == -1)
			cli_die(1, "the workers (%s) exited at start: %s (see %s)", k->prog,
				why[0] ? why : "no reason given", wlog);
		cli_die(1, "only %d of %d workers connected within %d s (see %s and %s/worker-*.daemon.log); stopped",
			seen < 0 ? 0 : seen, want, timeout_ms / 1000, wlog, logs);
	}
	start_report(cli, &mi, mp, lpid, want, seen, l.node_pid, nodes, k->prog);
	return 0;
}

/* The start time of pid (field 22 of /proc/PID/stat, clock ticks since
 * boot), 0 if it cannot be read: with the pid, it names one process. */
static unsigned long long proc_start(long pid)
{
	unsigned long long t = 0;
	char state;
	return util_proc_stat(pid, &t, &state) == 0 ? t : 0;
}

/* Whether pid is a process of this run directory that start launched: its
 * command line has "--run-dir RUN_DIR" and, if prog is given, an argument
 * whose last path component is prog; if start_ticks is non-zero, it began
 * at that time (pid not reused). Never a pid a worker merely reported. */
static int our_process(long pid, const char *prog, const char *run_dir, unsigned long long start_ticks)
{
	char path[64], args[16384];
	if (pid <= 1 || !rundir_pid_alive(pid))
		return 0;
	if (start_ticks && proc_start(pid) != start_ticks)
		return 0;
	snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, args, sizeof args - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	args[n] = '\0';
	int prog_ok = !prog, dir_ok = 0;
	for (char *a = args, *prev = NULL; a < args + n; prev = a, a += strlen(a) + 1) {
		const char *base = strrchr(a, '/') ? strrchr(a, '/') + 1 : a;
		if (prog && !strcmp(base, prog))
			prog_ok = 1;
		if (prev && !strcmp(prev, "--run-dir") && !strcmp(a, run_dir))
			dir_ok = 1;
	}
	return prog_ok && dir_ok;
}

/* stop --json: {"stopped":bool,"run_dir","master_pid","launcher_pid",
 * "launcher_pids"} (0 / []: there was none; launcher_pid is the first). */
static void print_stopped(const struct cli *cli, int stopped, long master_pid, const long *lpids, int nl,
			  long node_pid)
{
	msg *o = msg_new_object(), *a = msg_new_array();
	msg_set_bool(o, "stopped", stopped);
	msg_set_str(o, "run_dir", cli->run_dir);
	msg_set_int(o, "master_pid", master_pid);
	msg_set_int(o, "launcher_pid", nl ? lpids[0] : 0);
	for (int i = 0; i < nl; i++)
		msg_push(a, msg_new_int(lpids[i]));
	msg_add(o, "launcher_pids", a);
	msg_set_int(o, "node_pid", node_pid);
	cli_print_json(o);
}

static int any_alive(const long *pids, int n)
{
	for (int i = 0; i < n; i++)
		if (rundir_pid_alive(pids[i]))
			return 1;
	return 0;
}

int cmd_stop(struct cli *cli)
{
	struct master_info mi;
	struct launch l;
	char err[512], lp[RUNDIR_PATH_MAX], node[256];
	util_nodename(node, sizeof node);
	int have_master = rundir_read_master(cli->run_dir, &mi, err, sizeof err) == 0 && rundir_pid_alive(mi.pid);
	int have_launch = read_launch(cli->run_dir, &l) == 0;
	int timeout_ms = cli->timeout_s >= 0 ? (int)(cli->timeout_s * 1000) : 20000;
	/* Signal only what start launched here: the master of master.json if
	 * it runs on this node and is that run dir's mtslurm-master, and each
	 * mpirun/srun of launch.json that is the one start or add-workers
	 * spawned. */
	long master_pid = have_master && !strcmp(mi.node, node) &&
					  our_process(mi.pid, "mtslurm-master", cli->run_dir, 0)
				  ? mi.pid
				  : 0;
	long lpids[LAUNCH_MAX];
	int nl = 0;
	for (int i = 0; have_launch && i < l.n; i++)
		if (launch_running(cli, &l.v[i]))
			lpids[nl++] = l.v[i].pid;
	/* the node agent start ran, if it still runs */
	long node_pid = have_launch && l.node_pid > 0 && our_process(l.node_pid, "mtslurm-node", cli->run_dir, l.node_start)
				? l.node_pid
				: 0;
	/* the local worker jobs of start --autoscale (they outlive a master
	 * killed by hand) */
	rundir_path(lp, cli->run_dir, "autoscale-jobs.json");
	int have_auto = access(lp, F_OK) == 0, nauto = 0, auto_left = 0;
	rundir_path(lp, cli->run_dir, "launch.json");
	mts_client *c = have_master ? cli_connect_quiet(cli) : NULL;
	if (!c && !master_pid && !nl && !node_pid && !have_auto) {
		rundir_remove_master(cli->run_dir);
		unlink(lp);
		if (cli->json)
			print_stopped(cli, 0, 0, lpids, 0, 0);
		fprintf(stderr, "mtslurm: nothing is running in %s\n", cli->run_dir);
		return 0;
	}
	if (c) {
		/* The master tells every worker to exit (the protocol's exit),
		 * commits and leaves. */
		mts_shutdown(c);
		mts_close(c);
		for (int t = 0; t < timeout_ms && rundir_pid_alive(mi.pid); t += 50)
			cli_sleep_ms(50);
	}
	end_pid(master_pid, 2000);
	/* Workers leave when the master says exit, and each mpirun with its
	 * ranks; without a master, SIGTERM makes mpirun end its ranks. */
	for (int t = 0; c && t < timeout_ms && any_alive(lpids, nl); t += 50)
		cli_sleep_ms(50);
	for (int i = 0; i < nl; i++)
		end_pid(lpids[i], 5000);
	if (have_auto)
		auto_left = cli_stop_autoscaled(cli, &batch_local_ops, c ? 5000 : 0, &nauto);
	/* The node agent stops the workers it launched (they have usually
	 * left already, told to exit by the master), then itself. */
	end_pid(node_pid, 10000);
	if (have_master && !master_pid && rundir_pid_alive(mi.pid))
		fprintf(stderr, "mtslurm: the master of master.json (pid %ld on %s) is not one this command may "
				"signal (not this node's mtslurm-master of %s); left alone\n",
			mi.pid, mi.node, cli->run_dir);
	rundir_remove_master(cli->run_dir);
	unlink(lp);
	if (auto_left)
		cli_die(1, "%d of the %d local worker jobs of the autoscaler (listed in %s/autoscale-jobs.json) did not "
			   "end within 15 s of being cancelled",
			auto_left, nauto, cli->run_dir);
	if (cli->json)
		print_stopped(cli, 1, master_pid, lpids, nl, node_pid);
	else
		printf("mtslurm: stopped the cluster in %s\n", cli->run_dir);
	return 0;
}

/* ---- add-workers (local and in-allocation clusters) ---- */

/* add-workers --json: {"added","launcher_pid","mode","connected"}. */
static void print_added(int n, long pid, const char *mode, int seen)
{
	msg *o = msg_new_object();
	msg_set_int(o, "added", n);
	msg_set_int(o, "launcher_pid", pid);
	msg_set_str(o, "mode", mode);
	msg_set_int(o, "connected", seen < 0 ? 0 : seen);
	cli_print_json(o);
}

/* Forget the launches of this node that no longer run (room in a full list). */
static void launch_prune(const struct cli *cli, struct launch *l)
{
	char node[256];
	util_nodename(node, sizeof node);
	int k = 0;
	for (int i = 0; i < l->n; i++)
		if ((l->v[i].node[0] && strcmp(l->v[i].node, node)) || launch_running(cli, &l->v[i]))
			l->v[k++] = l->v[i];
	l->n = k;
}

/* `mtslurm -n N add-workers` for a cluster start ran locally or inside an
 * allocation: one more mpirun (srun --overlap) of N worker ranks, which
 * find the master through master.json as the first ones do, recorded in
 * launch.json so that stop ends it too. With --container (and --runtime,
 * --volume, --container-env) they run inside the image as start's do;
 * --resource tells them their resources. */
int cmd_add_workers_local(struct cli *cli)
{
	char err[512], wlog[RUNDIR_PATH_MAX], logs[RUNDIR_PATH_MAX], worker_bin[PATH_MAX];
	struct launch l;
	if (!cli->n_given || cli->n < 1)
		cli_die(2, "say how many workers to add with -n N (e.g. mtslurm add-workers -n 2)");
	if (read_launch(cli->run_dir, &l))
		cli_die(1, "%s has no launch.json or slurm.json: add-workers adds to a cluster that mtslurm start "
			   "launched (mtslurm -n N --local start)",
			cli->run_dir);
	int allocation = !strcmp(l.mode, "allocation");
	struct alloc a;
	memset(&a, 0, sizeof a);
	int arc = allocation ? alloc_here(&a, err, sizeof err) : 0;
	if (arc == 1)
		cli_die(2, "the cluster of %s runs inside an allocation: run add-workers there too (" NO_ALLOCATION
			   " here)",
			cli->run_dir);
	if (arc)
		cli_die(2, "%s", err);
	const struct launcher *k = launcher_of(&a);
	mts_client *c = cli_connect_quiet(cli);
	if (!c)
		cli_die(1, "the master of %s does not answer; mtslurm start restarts it", cli->run_dir);
	int before = cli_connected_workers(c);
	mts_close(c);
	if (cli->slots == 1 && l.slots > 0)
		cli->slots = l.slots; /* default: as at start */
	check_slots(cli, cli->slots);
	if (l.n >= LAUNCH_MAX)
		launch_prune(cli, &l);
	if (l.n >= LAUNCH_MAX)
		cli_die(1, "launch.json of %s already lists %d running launches; mtslurm stop, then start with more "
			   "workers",
			cli->run_dir, LAUNCH_MAX);
	cli_sibling(worker_bin, sizeof worker_bin, "mtslurm-worker");
	rundir_path(logs, cli->run_dir, "logs");
	rundir_path(wlog, cli->run_dir, k->wlog);
	pid_t pid = launch_workers(cli, &a, cli->n, cli->slots, worker_bin, wlog, err, sizeof err);
	if (pid < 0)
		cli_die(1, "%s", err);
	/* recorded before the wait: a stop meanwhile ends it too */
	int expected_was = l.expected;
	launch_add(&l, pid, cli->n, cli->slots);
	l.expected = (before < 0 ? 0 : before) + cli->n;
	write_launch(cli->run_dir, &l);
	int timeout_ms = cli->timeout_s >= 0 ? (int)(cli->timeout_s * 1000) : 60000;
	int seen = 0, want = (before < 0 ? 0 : before) + cli->n;
	int rc = wait_workers(cli, want, pid, timeout_ms, &seen);
	if (rc != 0) {
		char why[512];
		cli_last_line(wlog, why, sizeof why);
		end_pid(pid, 3000);
		l.n--;
		l.expected = expected_was;
		write_launch(cli->run_dir, &l);
		if (rc == -1)
			cli_die(1, "the added workers (%s pid %ld) exited at start: %s (see %s)", k->prog, (long)pid, why[0] ? why : "no reason given", wlog);
		if (rc == -2)
			cli_die(1, "the master of %s stopped answering; the added workers were stopped", cli->run_dir);
		cli_die(1, "only %d of %d workers connected within %d s (see %s and %s/worker-*.daemon.log); the added "
			   "ones were stopped",
			seen < 0 ? 0 : seen, want, timeout_ms / 1000, wlog, logs);
	}
	if (cli->json)
		print_added(cli->n, pid, l.mode, seen);
	else
		printf("mtslurm: %d workers added (%s pid %ld); %d connected\n", cli->n, k->prog, (long)pid, seen);
	return 0;
}

/* How the cluster of the run dir was started (launch.json): mode ("local",
 * "allocation"), and in an allocation whose (batch_ops name, "" if an
 * older mtslurm did not say) and its id. -1 without launch.json. */
int cli_launch_mode(struct cli *cli, char mode[16], char backend[16], char alloc[64])
{
	struct launch l;
	if (read_launch(cli->run_dir, &l))
		return -1;
	util_strlcpy(mode, l.mode, 16);
	util_strlcpy(backend, l.backend, 16);
	util_strlcpy(alloc, l.alloc, BATCH_ID_MAX);
	return 0;
}

/* The workers the cluster should have: launch.json's "expected" (what
 * start launched, updated by add-workers to those connected then plus the
 * ones it added), else (a file of an older mtslurm) what start launched;
 * -1 without launch.json. For status's warning. */
int cli_expected_workers(struct cli *cli)
{
	struct launch l;
	if (read_launch(cli->run_dir, &l))
		return -1;
	if (l.expected >= 0)
		return l.expected;
	int n = l.master_works;
	for (int i = 0; i < l.n; i++)
		n += l.v[i].workers;
	return n;
}
