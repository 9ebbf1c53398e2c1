/* SPDX-License-Identifier: MIT */
/*
 * launch: `mtslurm start` and `mtslurm stop` in local (SMP) mode. start runs
 * the master detached, waits for it to serve, then runs `mpirun -n N
 * mtslurm-worker` detached and waits until the workers have connected; on any
 * failure it stops what it started (by PID) and says why. What was launched
 * is recorded in RUN_DIR/launch.json so that stop -- or a start after the
 * master died -- knows which processes are ours.
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

#include "cli.h"
#include "msg.h"
#include "util.h"

/* A starting master that neither uses CPU nor reads for this long is taken
 * for hung. */
#define START_STALL_MS 15000

struct launch {
	long mpirun_pid;
	unsigned long long mpirun_start; /* its start time (proc_start), 0: unknown */
	char node[256];                  /* where start ran ("" in old files) */
	int workers;
	const char *mode; /* "local" or "allocation" */
};

void cli_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

msg *cli_read_json(const char *dir, const char *name)
{
	char path[RUNDIR_PATH_MAX], text[65536], err[128];
	rundir_path(path, dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	return n > 0 ? msg_parse(text, (size_t)n, err, sizeof err) : NULL;
}

void cli_write_file(const char *dir, const char *name, const char *text, size_t n)
{
	char path[RUNDIR_PATH_MAX], tmp[RUNDIR_PATH_MAX + 8];
	rundir_path(path, dir, name);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (!text || fd < 0 || write(fd, text, n) != (ssize_t)n || close(fd) != 0 || rename(tmp, path) != 0)
		cli_die(1, "cannot write %s: %s", path, strerror(errno));
}

static int read_launch(const char *dir, struct launch *l)
{
	memset(l, 0, sizeof *l);
	msg *m = cli_read_json(dir, "launch.json");
	int64_t v = 0;
	if (!msg_get_int(m, "mpirun_pid", &v))
		l->mpirun_pid = (long)v;
	if (!msg_get_int(m, "workers", &v))
		l->workers = (int)v;
	if (!msg_get_int(m, "mpirun_start", &v) && v > 0)
		l->mpirun_start = (unsigned long long)v;
	if (msg_get_str(m, "node"))
		util_strlcpy(l->node, msg_get_str(m, "node"), sizeof l->node);
	msg_free(m);
	return m ? 0 : -1;
}

static unsigned long long proc_start(long pid);

static void write_launch(const char *dir, struct launch *l)
{
	msg *o = msg_new_object();
	l->mpirun_start = l->mpirun_pid > 0 ? proc_start(l->mpirun_pid) : 0;
	util_nodename(l->node, sizeof l->node);
	msg_set_str(o, "mode", l->mode);
	msg_set_int(o, "mpirun_pid", l->mpirun_pid);
	msg_set_int(o, "mpirun_start", (int64_t)l->mpirun_start);
	msg_set_str(o, "node", l->node);
	msg_set_int(o, "workers", l->workers);
	char *text = msg_print(o);
	msg_free(o);
	cli_write_file(dir, "launch.json", text, text ? strlen(text) : 0);
	free(text);
}

/* Where mtslurm-master and mtslurm-worker are: $MTSLURM_LIBEXEC, else next
 * to this executable. */
void cli_sibling(char *out, size_t n, const char *name)
{
	const char *env = getenv("MTSLURM_LIBEXEC");
	char self[PATH_MAX];
	if (env && *env) {
		snprintf(out, n, "%s/%s", env, name);
	} else {
		ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
		if (k <= 0)
			cli_die(1, "cannot find my own executable; set MTSLURM_LIBEXEC to the directory of %s", name);
		self[k] = '\0';
		snprintf(out, n, "%s/%s", dirname(self), name);
	}
	if (access(out, X_OK) != 0)
		cli_die(1, "%s not found or not executable; set MTSLURM_LIBEXEC to its directory", out);
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

/* Last non-empty line of a file, for "why did it die". */
void cli_last_line(const char *path, char *out, size_t n)
{
	char buf[8192];
	out[0] = '\0';
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > (off_t)sizeof buf - 1 ? size - (off_t)sizeof buf + 1 : 0;
	ssize_t k = pread(fd, buf, sizeof buf - 1, from);
	close(fd);
	if (k <= 0)
		return;
	buf[k] = '\0';
	while (k > 0 && (buf[k - 1] == '\n' || buf[k - 1] == ' '))
		buf[--k] = '\0';
	char *nl = strrchr(buf, '\n');
	util_strlcpy(out, nl ? nl + 1 : buf, n);
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

/* Connected workers, or -1 if the master cannot be asked. */
int cli_connected_workers(mts_client *c)
{
	char *s = NULL;
	if (mts_status(&s, c) != MTS_OK)
		return -1;
	char err[64];
	msg *m = msg_parse(s, strlen(s), err, sizeof err);
	int64_t n = -1;
	msg_get_int(msg_get(m, "workers"), "connected", &n);
	msg_free(m);
	mts_free(s);
	return (int)n;
}

mts_client *cli_connect_quiet(struct cli *cli)
{
	mts_client *c = NULL;
	mts_options o = MTS_OPTIONS_INIT;
	o.timeout_ms = 5000;
	o.name = "mtslurm-cli";
	if (mts_connect(&c, cli->run_dir, &o) != MTS_OK) {
		mts_close(c);
		return NULL;
	}
	return c;
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
static void print_started(const struct cli *cli, const struct master_info *mi, long mpid, const struct launch *l,
			  int want, int seen, int restarted)
{
	msg *o = msg_new_object(), *m = msg_new_object();
	msg_set_str(m, "host", mi->host);
	msg_set_int(m, "port", mi->port);
	msg_set_int(m, "pid", mpid);
	msg_add(o, "master", m);
	msg_set_str(o, "mode", cli->in_allocation ? "allocation" : "local");
	msg_set_int(o, "launcher_pid", l->mpirun_pid);
	msg_set_int(o, "workers", want);
	msg_set_int(o, "connected", seen < 0 ? 0 : seen);
	msg_set_bool(o, "restarted", restarted);
	msg_set_str(o, "run_dir", cli->run_dir);
	cli_print_json(o);
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

int cmd_start(struct cli *cli)
{
	char err[512], logs[RUNDIR_PATH_MAX], mlog[RUNDIR_PATH_MAX], wlog[RUNDIR_PATH_MAX];
	char master_bin[PATH_MAX], worker_bin[PATH_MAX], nbuf[16], sbuf[16];
	struct master_info mi;
	struct launch l;
	if (!cli->local && !cli->in_allocation)
		return cmd_start_slurm(cli);
	const char *alloc = getenv("SLURM_JOB_ID");
	if (cli->in_allocation && !(alloc && *alloc))
		cli_die(2, "--in-allocation runs inside a Slurm allocation (an sbatch script or salloc), and "
			   "SLURM_JOB_ID is not set; use mtslurm -n N start to get one, or --local");
	if (cli->in_allocation && !cli->n_given) {
		/* one worker per task of the allocation */
		const char *nt = getenv("SLURM_NTASKS");
		cli->n = nt ? atoi(nt) : 0;
		cli->n_given = cli->n > 0;
	}
	if (rundir_create(cli->run_dir, err, sizeof err))
		cli_die(1, "%s", err);
	if (rundir_read_master(cli->run_dir, &mi, err, sizeof err) == 0 && rundir_pid_alive(mi.pid))
		cli_die(1, "a cluster is already running in %s (master pid %ld); mtslurm stop first", cli->run_dir,
			mi.pid);
	cli_sibling(master_bin, sizeof master_bin, "mtslurm-master");
	cli_sibling(worker_bin, sizeof worker_bin, "mtslurm-worker");
	rundir_path(logs, cli->run_dir, "logs");
	rundir_path(mlog, cli->run_dir, "logs/master.out");
	rundir_path(wlog, cli->run_dir, cli->in_allocation ? "logs/srun.out" : "logs/mpirun.out");
	int timeout_ms = cli->timeout_s >= 0 ? (int)(cli->timeout_s * 1000) : 60000;

	/* The master died but its workers live on: restart the master alone. */
	if (read_launch(cli->run_dir, &l) == 0 && l.mpirun_pid > 0 && rundir_pid_alive(l.mpirun_pid)) {
		pid_t mp = start_master(cli, master_bin, mlog, &mi);
		int seen = 0;
		int want = l.workers + (cli->master_works ? 1 : 0);
		int rc = wait_workers(cli, want, l.mpirun_pid, timeout_ms, &seen);
		if (cli->json)
			print_started(cli, &mi, mp, &l, want, seen, 1);
		else
			printf("mtslurm: master restarted on %s:%d (pid %ld); %d of %d workers of mpirun pid %ld "
			       "reconnected\n",
			       mi.host, mi.port, (long)mp, seen < 0 ? 0 : seen, want, l.mpirun_pid);
		return rc == 0 ? 0 : 1;
	}

	if (!cli->n_given)
		cli_die(2, "say how many workers with -n N (e.g. mtslurm -n 4 --local start)");
	int cores = node_cores();
	if (cli->slots > cores && !cli->oversubscribe)
		cli_die(2, "--slots %d is more than the %d cores this node gives us; use --slots %d or fewer, or "
			   "--oversubscribe to run more jobs at once than cores",
			cli->slots, cores, cores);
	pid_t mp = start_master(cli, master_bin, mlog, &mi);
	l.mpirun_pid = 0;
	l.workers = cli->n;
	if (cli->n > 0) {
		/* Open MPI as root on a machine that may have only loopback: these
		 * settings let one rank die without taking the others down and keep
		 * all traffic on lo. */
		setenv("OMPI_MCA_btl", "self,vader", 0);
		setenv("OMPI_MCA_btl_tcp_if_include", "lo", 0);
		setenv("OMPI_MCA_oob_tcp_if_include", "lo", 0);
		setenv("OMPI_MCA_orte_allowed_exit_without_sync", "1", 0);
		setenv("OMPI_MCA_orte_abort_on_non_zero_status", "0", 0);
		setenv("OMPI_MCA_orte_enable_recovery", "1", 0);
		setenv("OMPI_MCA_mpi_warn_on_fork", "0", 0);
		snprintf(nbuf, sizeof nbuf, "%d", cli->n);
		snprintf(sbuf, sizeof sbuf, "%d", cli->slots);
		char mpirun_path[PATH_MAX];
		char *mpirun = find_program(cli->in_allocation ? "srun" : "mpirun", mpirun_path, sizeof mpirun_path);
		/* In an allocation: one rank per task through Slurm's PMIx; the step
		 * overlaps so that the job's own steps (and multi-rank jobs) still
		 * start while the workers hold every task. */
		char *sargv[] = {mpirun, "--overlap", "--mpi=pmix", "--kill-on-bad-exit=0", "-n", nbuf, worker_bin,
				 "--run-dir", cli->run_dir, "--slots", sbuf, NULL};
		char *argv[] = {mpirun, "--allow-run-as-root", "--oversubscribe", "-n", nbuf, worker_bin,
				"--run-dir", cli->run_dir, "--slots", sbuf, NULL};
		if (!mpirun) {
			shutdown_master(cli, mp);
			cli_die(1, cli->in_allocation ? "srun not found on PATH; is this a Slurm node?"
						      : "mpirun not found on PATH; install Open MPI (apt-get install openmpi-bin)");
		}
		l.mpirun_pid = spawn_detached(cli->in_allocation ? sargv : argv, wlog);
	}
	l.mode = cli->in_allocation ? "allocation" : "local";
	write_launch(cli->run_dir, &l);
	int seen = 0;
	int want = cli->n + (cli->master_works ? 1 : 0);
	int rc = wait_workers(cli, want, l.mpirun_pid, timeout_ms, &seen);
	if (rc != 0) {
		char why[512];
		cli_last_line(wlog, why, sizeof why);
		end_pid(l.mpirun_pid, 3000);
		shutdown_master(cli, mp);
		char lp[RUNDIR_PATH_MAX];
		rundir_path(lp, cli->run_dir, "launch.json");
		unlink(lp);
		if (rc == -1)
			cli_die(1, "the workers (%s) exited at start: %s (see %s)", cli->in_allocation ? "srun" : "mpirun", why[0] ? why : "no reason given",
				wlog);
		cli_die(1, "only %d of %d workers connected within %d s (see %s and %s/worker-*.daemon.log); stopped",
			seen < 0 ? 0 : seen, want, timeout_ms / 1000, wlog, logs);
	}
	if (cli->json)
		print_started(cli, &mi, mp, &l, want, seen, 0);
	else
		printf("mtslurm: master %s:%d (pid %ld), %d workers (%s pid %ld), run dir %s\n", mi.host, mi.port,
		       (long)mp, want, cli->in_allocation ? "srun" : "mpirun", l.mpirun_pid, cli->run_dir);
	return 0;
}

/* The start time of pid (field 22 of /proc/PID/stat, clock ticks since
 * boot), 0 if it cannot be read: with the pid, it names one process. */
static unsigned long long proc_start(long pid)
{
	char path[64], text[2048];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
	if (fd >= 0)
		close(fd);
	char *p = n > 0 ? (text[n] = '\0', strrchr(text, ')')) : NULL;
	unsigned long long t = 0;
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			 &t) != 1)
		return 0;
	return t;
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

/* stop --json: {"stopped":bool,"run_dir","master_pid","launcher_pid"}
 * (0: there was none). */
static void print_stopped(const struct cli *cli, int stopped, long master_pid, long launcher_pid)
{
	msg *o = msg_new_object();
	msg_set_bool(o, "stopped", stopped);
	msg_set_str(o, "run_dir", cli->run_dir);
	msg_set_int(o, "master_pid", master_pid);
	msg_set_int(o, "launcher_pid", launcher_pid);
	cli_print_json(o);
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
	 * it runs on this node and is that run dir's mtslurm-master, the
	 * mpirun/srun of launch.json if it is the one start spawned. */
	long master_pid = have_master && !strcmp(mi.node, node) &&
					  our_process(mi.pid, "mtslurm-master", cli->run_dir, 0)
				  ? mi.pid
				  : 0;
	long launcher_pid = have_launch && l.mpirun_pid > 0 && (!l.node[0] || !strcmp(l.node, node)) &&
					    our_process(l.mpirun_pid, NULL, cli->run_dir, l.mpirun_start)
				    ? l.mpirun_pid
				    : 0;
	rundir_path(lp, cli->run_dir, "launch.json");
	mts_client *c = have_master ? cli_connect_quiet(cli) : NULL;
	if (!c && !master_pid && !launcher_pid) {
		rundir_remove_master(cli->run_dir);
		unlink(lp);
		if (cli->json)
			print_stopped(cli, 0, 0, 0);
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
	if (launcher_pid) {
		/* Workers leave when the master says exit, and mpirun with them;
		 * without a master, SIGTERM makes mpirun end its ranks. */
		for (int t = 0; c && t < timeout_ms && rundir_pid_alive(launcher_pid); t += 50)
			cli_sleep_ms(50);
		end_pid(launcher_pid, 5000);
	}
	if (have_master && !master_pid && rundir_pid_alive(mi.pid))
		fprintf(stderr, "mtslurm: the master of master.json (pid %ld on %s) is not one this command may "
				"signal (not this node's mtslurm-master of %s); left alone\n",
			mi.pid, mi.node, cli->run_dir);
	rundir_remove_master(cli->run_dir);
	unlink(lp);
	if (cli->json)
		print_stopped(cli, 1, master_pid, launcher_pid);
	else
		printf("mtslurm: stopped the cluster in %s\n", cli->run_dir);
	return 0;
}
