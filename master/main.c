/* SPDX-License-Identifier: MIT */
/*
 * mtslurm-master: signals and process lifetime around the master (server.c
 * and friends); its options are read by cmdline.c. It always runs in the
 * foreground; `mtslurm start` detaches it with setsid and redirects its
 * output. Diagnostics go to RUN_DIR/logs/master.log; a startup failure is
 * one line on stderr and exit status 1.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../worker/worker.h"
#include "batch.h"
#include "cmdline.h"
#include "log.h"
#include "master.h"
#include "msg.h"
#include "rundir.h"
#include "util.h"

static struct master M;
static uv_signal_t sig_term, sig_int;
static uv_timer_t rundir_timer;
static int lock_fd = -1;
static char run_dir_name[RUNDIR_PATH_MAX];

#define RUNDIR_CHECK_MS 2000

/* A run directory deleted under a running cluster (rm -rf of a test or a
 * scratch dir) would leave the master and its workers running forever with
 * nobody able to find them: once master.lock is unlinked, stop them all. */
static void on_rundir_timer(uv_timer_t *t)
{
	(void)t;
	struct stat st;
	if (lock_fd < 0 || fstat(lock_fd, &st) != 0 || st.st_nlink > 0)
		return;
	/* Some filesystems report no links for live files: believe it only if
	 * the name is gone too. */
	char path[RUNDIR_PATH_MAX];
	struct stat by_name;
	if (rundir_path(path, run_dir_name, "master.lock") == 0 && stat(path, &by_name) == 0 &&
	    by_name.st_ino == st.st_ino)
		return;
	log_error("the run directory %s was removed; stopping the master and its workers", run_dir_name);
	uv_timer_stop(&rundir_timer);
	master_shutdown(&M);
}
static struct worker *self_worker;
static int log_opened;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "mtslurm-master: %s\n", line);
	if (log_opened)
		log_error("%s", line);
	exit(1);
}

static void on_signal(uv_signal_t *s, int signum)
{
	/* Inside a batch job a SIGTERM is the batch system ending the
	 * master's job (scancel, time limit): the workers have jobs of their
	 * own and wait for the next master. `mtslurm stop` asks with a
	 * message instead. */
	char sj[BATCH_ID_MAX];
	const struct batch_ops *in = batch_in_allocation(sj);
	if (in) {
		log_info("signal %d in %s job %s: leaving; the workers wait for the next master", signum, in->title, sj);
		master_leave(&M);
	} else {
		log_info("signal %d: clean shutdown", signum);
		master_shutdown(&M);
	}
}

static void self_worker_stopped(void *arg)
{
	(void)arg;
}

static void self_worker_exit(void *arg, int code, const char *why)
{
	(void)arg;
	log_info("the master's own worker left (%d): %s", code, why ? why : "");
	if (self_worker) {
		worker_stop(self_worker, self_worker_stopped, NULL);
		self_worker = NULL;
	}
}

static void on_stopped(struct master *m)
{
	(void)m;
	if (self_worker) {
		worker_stop(self_worker, self_worker_stopped, NULL);
		self_worker = NULL;
	}
	uv_close((uv_handle_t *)&sig_term, NULL);
	uv_close((uv_handle_t *)&sig_int, NULL);
	uv_close((uv_handle_t *)&rundir_timer, NULL);
}

/* How long a starting master waits for the lock of one that is exiting. */
#define LOCK_WAIT_MS 5000

/* One master per run directory: an flock on RUN_DIR/master.lock (where the
 * filesystem supports it) and a live pid in master.json. */
static void claim_run_dir(const char *dir)
{
	struct master_info mi;
	char err[512], path[RUNDIR_PATH_MAX];
	if (rundir_read_master(dir, &mi, err, sizeof err) == 0 && mi.pid != (long)getpid() &&
	    rundir_pid_alive(mi.pid))
		die("another master (pid %ld, %s:%d) is already running in %s; stop it first (mtslurm stop) "
		    "or use another --run-dir",
		    mi.pid, mi.host, mi.port, dir);
	rundir_path(path, dir, "master.lock");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	/* A master killed a moment ago may still hold the lock: its main
	 * thread is reaped (its pid looks gone) while its other threads are
	 * still exiting, and the lock goes with the last of them. Give such a
	 * holder LOCK_WAIT_MS before saying it is another master. */
	int busy = 0;
	for (int t = 0; fd >= 0 && (busy = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) &&
			t < LOCK_WAIT_MS;
	     t += 50)
		usleep(50 * 1000);
	if (busy)
		die("another master holds %s; stop it first (mtslurm stop) or use another --run-dir", path);
	/* fd stays open (and locked) for the life of the process. */
	lock_fd = fd;
}

int main(int argc, char **argv)
{
	static struct cmdline cl; /* cl.cfg points into it for the life of the process */
	char run_dir[RUNDIR_PATH_MAX], err[1024], path[RUNDIR_PATH_MAX];
	msg_use_pool(); /* before any JSON value exists (msg.h) */
	signal(SIGPIPE, SIG_IGN);
	umask(077); /* state.db and logs hold job data: private like the key */
	if (cmdline_parse(&cl, argc, argv, err, sizeof err))
		die("%s", err);
	if (cl.help) {
		fputs(cmdline_usage, stdout);
		return 0;
	}
	struct master_cfg cfg = cl.cfg;
	const char *run_dir_opt = cl.run_dir, *level = cl.log_level;
	if (rundir_resolve(run_dir, run_dir_opt, err, sizeof err))
		die("%s", err);
	if (rundir_create(run_dir, err, sizeof err))
		die("%s", err);
	claim_run_dir(run_dir);
	if (rundir_path(path, run_dir, "logs/master.log") || log_open(path, "master"))
		die("cannot open %s/logs/master.log for writing; check the run directory's permissions", run_dir);
	log_opened = 1;
	if (level) {
		if (strcmp(level, "debug") == 0)
			log_set_level(LOG_DEBUG);
		else if (strcmp(level, "warn") == 0)
			log_set_level(LOG_WARN);
		else if (strcmp(level, "error") == 0)
			log_set_level(LOG_ERROR);
	}
	cfg.run_dir = run_dir;

	uv_loop_t *loop = uv_default_loop();
	M.on_stopped = NULL;
	if (master_start(&M, loop, &cfg, err, sizeof err))
		die("%s", err);
	M.on_stopped = on_stopped;
	uv_signal_init(loop, &sig_term);
	uv_signal_init(loop, &sig_int);
	uv_signal_start(&sig_term, on_signal, SIGTERM);
	uv_signal_start(&sig_int, on_signal, SIGINT);
	util_strlcpy(run_dir_name, run_dir, sizeof run_dir_name);
	uv_timer_init(loop, &rundir_timer);
	uv_timer_start(&rundir_timer, on_rundir_timer, RUNDIR_CHECK_MS, RUNDIR_CHECK_MS);

	if (cfg.master_works) {
		struct worker_cfg wc = {.run_dir = run_dir, .slots = 1, .rank = 0, .on_exit = self_worker_exit};
		self_worker = worker_new(loop, &wc, err, sizeof err);
		if (!self_worker)
			log_error("--master-works: cannot start the master's own worker: %s", err);
	}

	uv_run(loop, UV_RUN_DEFAULT);
	master_free(&M);
	int rc = uv_loop_close(loop);
	if (rc)
		log_warn("loop closed with handles still open: %s", uv_strerror(rc));
	log_info("exit 0");
	log_close();
	return 0;
}
