/* SPDX-License-Identifier: MIT */
/*
 * func: the "func" executor. A job's target "/path/lib.so:function" names a C
 * function
 *
 *     int function(const char *input_json, char **output_json);
 *
 * which is called with the job's input in a function host: a small process
 * (mtslurm-fhost, see fhost.h) that the worker starts when a function job
 * finds no idle host, keeps for the next jobs (at most one per running job,
 * so never more than the worker's slots) and which caches dlopen handles.
 * 0 means success; *output_json, if set, is malloc'd by the function and
 * freed by the host. The function's stdout and stderr go to the job log.
 *
 * A function that crashes, aborts, exits or is killed ends its host, not the
 * worker: the job fails with "killed by signal 11 (SIGSEGV)" or "exited with
 * status 3" and its result says crashed (the master's crash limit counts
 * those), what is left of the host's process group is killed, and the next
 * function job gets a new host. A timed-out or cancelled call is ended by
 * killing its host (SIGKILL), so nothing of it keeps running.
 *
 * The host runs in its own session and, where the machine offers one, its
 * own cgroup (cgroup.h), which it enters before it serves a call. With a
 * cgroup, whatever a function started (a child, a daemon) is killed when its
 * call returns and when the host ends; without one, what stayed in the
 * host's process group is killed when the host ends. The host dies with the
 * worker (PR_SET_PDEATHSIG) and is found next to the running executable: $MTSLURM_FHOST, else
 * DIR/mtslurm-fhost or DIR/../mtslurm-fhost or DIR/../libexec/mtslurm-fhost
 * for DIR the directory of /proc/self/exe.
 *
 * Not thread-safe: one func context per loop, used on the loop's thread.
 */
#ifndef MTS_FUNC_H
#define MTS_FUNC_H

#include <stddef.h>
#include <uv.h>

#include "job.h"
#include "joblog.h"

#define FUNC_OUTPUT_MAX (64u << 20)  /* a response longer than this ends the host */
#define FUNC_STDERR_TAIL 512         /* bytes of stderr quoted in a crash error */
#define FUNC_CLOSE_MS 2000           /* func_close gives up on unreaped hosts after this */

struct func;
struct cgroup;

struct func_opts {
	struct joblog_writer *log; /* where the functions' output goes; NULL: nowhere */
	char **env;                /* the hosts' environment; NULL: environ */
	job_done_fn done;          /* result of every started job */
	void *arg;
	void (*log_kick)(void *arg); /* new bytes in the log (flush this turn); may be NULL */
	/* MTSLURM_WORKER and MTSLURM_RUN_DIR of the hosts; may be NULL */
	const char *worker_id, *run_dir;
	/* where each host gets a cgroup of its own (cgroup.h); NULL or not
	 * active: process groups only. Borrowed: must outlive func_close. */
	struct cgroup *cg;
};

/* Create the executor on loop (no host is started yet). NULL + err. */
struct func *func_new(uv_loop_t *loop, const struct func_opts *o, char *err, size_t errlen);

/* Start j (kind JOB_FUNC). The result always arrives through opts.done,
 * possibly before this returns (a malformed target, no host binary). */
void func_start(struct func *f, struct job *j);

/* Forget j's call and end it: its host is killed (SIGKILL) and no result is
 * reported; j may be freed now. A no-op for a job that is not running. */
void func_abandon(struct func *f, struct job *j);

/* Hosts alive (for tests and stats). */
size_t func_hosts(const struct func *f);

/* Kill every host, wait until they are reaped (at most FUNC_CLOSE_MS) and
 * every handle closed, free f, then call cb(arg). Running jobs are
 * abandoned (no results). */
void func_close(struct func *f, void (*cb)(void *arg), void *arg);

#endif
