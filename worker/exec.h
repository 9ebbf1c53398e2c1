/* SPDX-License-Identifier: MIT */
/*
 * exec: the "exec" executor. Runs a job's command line as a child process in
 * its own session and process group (dying with the worker:
 * PR_SET_PDEATHSIG), kills what is left of that group when the job's process
 * exits, streams its stdout/stderr into the worker's job log
 * as they arrive, and reports exit status, the first 64 KiB of stdout and,
 * on failure, the tail of stderr (a job with capture_bytes: that much of
 * stdout and of stderr, for typed.h).
 *
 * Speed matters (thousands of short commands per second), so children are
 * started by spawn.h -- clone3 straight into the job's cgroup leaf, else
 * vfork+execve (no page-table copy either way) -- instead of libuv's
 * fork-based uv_spawn, and without posix_spawn's per-child stack mapping and
 * query of all 64 signal handlers (the parent keeps the list of signals to
 * reset, refreshed once a second); a command line without shell
 * metacharacters is executed directly (no /bin/sh in between) with its path
 * resolved once and cached; children are reaped by one SIGCHLD watcher that
 * waitpid()s only our own pids (so other code in the process that spawns
 * children keeps its own).
 *
 * Not thread-safe: one exec context per loop, used on the loop's thread.
 */
#ifndef MTS_EXEC_H
#define MTS_EXEC_H

#include <sched.h>
#include <stddef.h>
#include <uv.h>

#include "job.h"
#include "joblog.h"

#define EXEC_OUTPUT_MAX (64u << 10)  /* bytes of stdout kept for the result */
#define EXEC_STDERR_TAIL 1024        /* bytes of stderr quoted in an error */
#define EXEC_KILL_GRACE_MS 2000      /* SIGTERM, then SIGKILL after this */
#define EXEC_DRAIN_MS 1000           /* wait for pipes after the child exited */
#define EXEC_LAZY_MS 10              /* output of a job this short is read at its exit */

struct exec;
struct cgroup;

struct exec_opts {
	struct joblog_writer *log; /* where output goes; NULL: not logged */
	char **env;                /* base environment of jobs; NULL: environ */
	job_done_fn done;          /* result of every started job */
	void *arg;
	/* called when the log has new bytes buffered (so the owner flushes it
	 * this loop turn); may be NULL */
	void (*log_kick)(void *arg);
	/* MTSLURM_WORKER and MTSLURM_RUN_DIR of every job; may be NULL */
	const char *worker_id, *run_dir;
	/* where each job gets a cgroup of its own (cgroup.h); NULL or not
	 * active: process groups only. Borrowed: must outlive exec_close. */
	struct cgroup *cg;
	/* the CPUs --pin binds jobs to (the worker's part of its node,
	 * resource.h); NULL: the worker's own affinity. Copied. */
	const cpu_set_t *pin_cpus;
};

/* Create the executor on loop (starts its SIGCHLD watcher). NULL + err. */
struct exec *exec_new(uv_loop_t *loop, const struct exec_opts *o, char *err, size_t errlen);

/* Start j (kind JOB_EXEC). The result always arrives through opts.done,
 * possibly before this returns (a command that cannot start). A job with
 * pin_cpus is bound to that many CPUs of the worker's own affinity mask
 * (those the fewest other pinned jobs use) before it executes anything;
 * one with gpus sees them in MTSLURM_GPUS and CUDA_VISIBLE_DEVICES (and
 * ROCR_VISIBLE_DEVICES for AMD's). */
void exec_start(struct exec *x, struct job *j);

/* Stop a running job: SIGTERM to its process group and every process of its
 * cgroup, SIGKILL (the whole cgroup) after EXEC_KILL_GRACE_MS. Its result (ok:false, error = why) arrives once the
 * process is gone. why is copied. */
void exec_kill(struct exec *x, struct job *j, const char *why);

/* Forget j (no result is reported for it; it may be freed now) and stop
 * its process: SIGTERM to its group and cgroup, SIGKILL after
 * EXEC_KILL_GRACE_MS. A no-op for a job that is not running here. */
void exec_abandon(struct exec *x, struct job *j);

/* Send sig to every running job's process group and cgroup now, and forget the jobs:
 * no results are reported for them any more (worker exit / stop). */
void exec_abandon_all(struct exec *x, int sig);

/* Jobs started and not yet reported. */
size_t exec_running(const struct exec *x);

/* Close: kills what still runs (SIGKILL), waits until every child is reaped
 * (bounded: EXEC_KILL_GRACE_MS) and every handle closed, then frees x and
 * calls cb(arg). */
void exec_close(struct exec *x, void (*cb)(void *arg), void *arg);

#endif
