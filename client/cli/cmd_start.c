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

struct launch {
	long mpirun_pid;
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
	msg_free(m);
	return m ? 0 : -1;
}

static void write_launch(const char *dir, const struct launch *l)
{
	char text[256];
	int n = snprintf(text, sizeof text, "{\"mode\":\"%s\",\"mpirun_pid\":%ld,\"workers\":%d}\n",
			 l->mode, l->mpirun_pid, l->workers);
	cli_write_file(dir, "launch.json", text, (size_t)n);
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
	char err[512];
	for (int t = 0; t < 15000; t += 20) {
		if (rundir_read_master(cli->run_dir, mi, err, sizeof err) == 0 && mi->pid == pid)
			return pid;
		if (exited(pid)) {
			char why[512];
			cli_last_line(logfile, why, sizeof why);
			cli_die(1, "the master exited at start: %s (see %s)", why[0] ? why : "no reason given", logfile);
		}
		cli_sleep_ms(20);
	}
	end_pid(pid, 2000);
	cli_die(1, "the master did not start serving within 15 s (see %s)", logfile);
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
		printf("mtslurm: master restarted on %s:%d (pid %ld); %d of %d workers of mpirun pid %ld reconnected\n",
		       mi.host, mi.port, (long)mp, seen < 0 ? 0 : seen, want, l.mpirun_pid);
		return rc == 0 ? 0 : 1;
	}

	if (!cli->n_given)
		cli_die(2, "say how many workers with -n N (e.g. mtslurm -n 4 --local start)");
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
		/* Loopback on the command line, where a user's OMPI_MCA_* cannot widen it
		 * (Open MPI 4.1 still binds its OOB listener to the wildcard address:
		 * docs/protocol.md, "Trust model"). */
		char *argv[] = {mpirun, "--allow-run-as-root", "--oversubscribe", "--mca", "oob_tcp_if_include", "lo",
				"--mca", "btl_tcp_if_include", "lo", "-n", nbuf, worker_bin,
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
	printf("mtslurm: master %s:%d (pid %ld), %d workers (%s pid %ld), run dir %s\n", mi.host, mi.port,
	       (long)mp, want, cli->in_allocation ? "srun" : "mpirun", l.mpirun_pid, cli->run_dir);
	return 0;
}

int cmd_stop(struct cli *cli)
{
	struct master_info mi;
	struct launch l;
	char err[512], lp[RUNDIR_PATH_MAX];
	int have_master = rundir_read_master(cli->run_dir, &mi, err, sizeof err) == 0 && rundir_pid_alive(mi.pid);
	int have_launch = read_launch(cli->run_dir, &l) == 0;
	int timeout_ms = cli->timeout_s >= 0 ? (int)(cli->timeout_s * 1000) : 20000;
	rundir_path(lp, cli->run_dir, "launch.json");
	if (!have_master && !(have_launch && rundir_pid_alive(l.mpirun_pid))) {
		rundir_remove_master(cli->run_dir);
		unlink(lp);
		fprintf(stderr, "mtslurm: nothing is running in %s\n", cli->run_dir);
		return 0;
	}
	/* Remember the workers' pids: if mpirun does not take them down, we do. */
	long wpids[1024];
	int nw = 0;
	if (have_master) {
		mts_client *c = cli_connect_quiet(cli);
		if (c) {
			char *s = NULL;
			if (mts_workers(&s, c) == MTS_OK) {
				char e[64];
				msg *m = msg_parse(s, strlen(s), e, sizeof e);
				for (msg *w = msg_child(m); w && nw < 1024; w = msg_next(w)) {
					int64_t p;
					if (!msg_get_int(w, "pid", &p) && p != mi.pid)
						wpids[nw++] = (long)p;
				}
				msg_free(m);
				mts_free(s);
			}
			mts_shutdown(c);
			mts_close(c);
		}
		for (int t = 0; t < timeout_ms && rundir_pid_alive(mi.pid); t += 50)
			cli_sleep_ms(50);
		end_pid(mi.pid, 2000);
	}
	if (have_launch && l.mpirun_pid > 0) {
		/* Workers leave when the master says exit; without a master, make
		 * mpirun pass SIGTERM on to them now. */
		for (int t = 0; have_master && t < timeout_ms && rundir_pid_alive(l.mpirun_pid); t += 50)
			cli_sleep_ms(50);
		end_pid(l.mpirun_pid, 5000);
	}
	for (int i = 0; i < nw; i++)
		end_pid(wpids[i], 2000);
	rundir_remove_master(cli->run_dir);
	unlink(lp);
	printf("mtslurm: stopped the cluster in %s\n", cli->run_dir);
	return 0;
}
