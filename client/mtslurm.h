/* SPDX-License-Identifier: MIT */
/*
 * mtslurm.h -- the mtslurm client library (libmtslurm).
 *
 * A program connects to the master of a cluster through its run directory,
 * submits jobs, and is called back once per finished job:
 *
 *     static void done(const mts_result *r, void *arg)
 *     {
 *         printf("job %lld %s: %s\n", (long long)r->id, mts_state_name(r->state), r->output);
 *     }
 *     mts_client *c;
 *     mts_options o = MTS_OPTIONS_INIT;
 *     o.on_done = done;
 *     if (mts_connect(&c, NULL, &o) != MTS_OK) { fprintf(stderr, "%s\n", mts_errmsg(c)); ... }
 *     mts_job j = MTS_JOB_INIT;
 *     j.type = "exec"; j.input = "./sim --seed 7";
 *     mts_job_id id;
 *     mts_submit(&id, c, &j);      // returns once the job is durable in the master's store
 *     mts_wait_all(c, -1);          // every job this handle submitted is final
 *     mts_close(c);
 *
 * Conventions. Every function that can fail returns an int: MTS_OK (0) or a
 * negative mts_error; outputs come first in the argument list. Details of the
 * last failure on a handle are in mts_errmsg(). Strings passed in are copied;
 * strings in an mts_result are borrowed for the duration of the callback. The
 * library never prints, exits or aborts.
 *
 * Threads. With MTS_THREAD (the default) the library runs its own I/O thread
 * and calls on_done on it; every function may be called from any thread,
 * including from inside on_done. With MTS_POLL the library starts no thread:
 * I/O and callbacks happen only inside mts_poll() and the blocking calls, in
 * the caller's thread (for MPI codes that want no threads); then the handle
 * must be used from one thread at a time.
 *
 * Delivery. Callbacks fire exactly once per job submitted through this
 * handle. If the master restarts, the library reconnects by itself (re-reading
 * master.json) and receives the callbacks still owed; blocking calls keep
 * waiting within their timeout. A submit whose acknowledgement was lost with
 * the master is sent again, so in that one window a job may be stored twice
 * (it then runs twice, and this handle gets the callback of the copy that
 * answered).
 */
#ifndef MTSLURM_H
#define MTSLURM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MTS_API __attribute__((visibility("default")))

/* Error codes. Append-only: a code is never removed or renumbered. */
typedef enum mts_error {
	MTS_OK = 0,
	MTS_EINVAL = -1,      /* a bad argument (NULL handle, unknown type...) */
	MTS_ENOMEM = -2,      /* out of memory */
	MTS_ENOMASTER = -3,   /* no master.json, or the master cannot be reached */
	MTS_EAUTH = -4,       /* the cluster key was refused or is unreadable */
	MTS_ETIMEDOUT = -5,   /* the call's timeout passed */
	MTS_EREJECTED = -6,   /* the master refused the request (reason in mts_errmsg) */
	MTS_EPROTO = -7,      /* the master answered something unexpected */
	MTS_ECLOSED = -8,     /* the handle is being closed */
	MTS_EUNKNOWN_JOB = -9 /* no such job id */
} mts_error;

typedef int64_t mts_job_id;

/* Job states, in the order a job moves through them. */
typedef enum mts_state {
	MTS_QUEUED = 0,
	MTS_RUNNING = 1,
	MTS_COMPLETED = 2,
	MTS_FAILED = 3,
	MTS_CANCELLED = 4
} mts_state;

/* A finished job, as given to on_done. All strings are borrowed and valid
 * only during the callback (or until mts_future_free for a future). output,
 * error and worker may be NULL. */
typedef struct mts_result {
	mts_job_id id;
	mts_state state;
	const char *type;   /* "echo", "exec", "func" */
	const char *output; /* echo: the message; exec: stdout (first 64 KiB); func: its output JSON */
	const char *error;  /* why it failed, or NULL */
	int rc;             /* exec: exit status */
	int attempts;       /* how many times it was started */
	const char *worker; /* id of the worker that ran it last */
	void *user;         /* mts_job.user as given at submit */
} mts_result;

typedef void (*mts_done_fn)(const mts_result *r, void *arg);

typedef enum mts_mode { MTS_THREAD = 0, MTS_POLL = 1 } mts_mode;

typedef struct mts_options {
	mts_mode mode;
	mts_done_fn on_done; /* may be NULL */
	void *arg;           /* passed to on_done */
	int timeout_ms;      /* connect and each blocking call; <= 0: 30,000 */
	const char *name;    /* shown by the master; may be NULL */
} mts_options;

#define MTS_OPTIONS_INIT {MTS_THREAD, NULL, NULL, 30000, NULL}

/* One job to submit. Only type and input (exec, echo) or target (func) are
 * required; every string is copied at submit. */
typedef struct mts_job {
	const char *type;   /* "echo", "exec" or "func" */
	const char *input;  /* echo: the message; exec: the command line; func: JSON text for the function */
	double delay;       /* echo: seconds before answering */
	const char *target; /* func: "/abs/path/lib.so:function" */
	const char *cwd;    /* exec: working directory; NULL: the worker's */
	const char *const *env; /* exec: NULL-terminated "K=V" list added to the worker's environment */
	int prio;           /* higher first, among this handle's jobs */
	int retries;        /* re-queues allowed after a lost worker; < 0: the master's default (3) */
	const mts_job_id *deps; /* run after these completed */
	size_t ndeps;
	double timeout;     /* seconds; 0: none */
	void *user;         /* handed back in mts_result.user */
} mts_job;

#define MTS_JOB_INIT {NULL, NULL, 0, NULL, NULL, NULL, 0, -1, NULL, 0, 0, NULL}

typedef struct mts_client mts_client;
typedef struct mts_future mts_future;

/* Connect to the master of run_dir (NULL: $MTSLURM_RUN_DIR, else
 * ~/.mtslurm/default), authenticate with its key and say hello. opt may be
 * NULL for defaults. On success *out is a new handle (close with mts_close).
 * On failure *out is still set to a handle that carries mts_errmsg() and must
 * be closed too (or *out is NULL if even that failed: MTS_ENOMEM).
 * Errors: MTS_ENOMASTER, MTS_EAUTH, MTS_ETIMEDOUT, MTS_EINVAL, MTS_ENOMEM. */
MTS_API int mts_connect(mts_client **out, const char *run_dir, const mts_options *opt);

/* Close the connection, stop the I/O thread, free the handle. Callbacks not
 * yet delivered are dropped. NULL is a harmless no-op. Must not be called from
 * inside on_done. */
MTS_API void mts_close(mts_client *c);

/* Submit one job; *out receives its id once the master has it durably.
 * Errors: MTS_EINVAL (bad job), MTS_EREJECTED (the master said why),
 * MTS_ETIMEDOUT, MTS_ECLOSED. */
MTS_API int mts_submit(mts_job_id *out, mts_client *c, const mts_job *job);

/* Submit n jobs in as few frames as possible, pipelined; ids_out (n entries,
 * may be NULL) receives their ids in order. All or nothing per frame of up to
 * 50,000 jobs: on MTS_EREJECTED no job of the refused frame was stored, but
 * earlier frames of the same call were (their ids are filled in). */
MTS_API int mts_submit_batch(mts_job_id *ids_out, mts_client *c, const mts_job *jobs, size_t n);

/* MTS_POLL mode: run I/O and deliver callbacks for up to timeout_ms (0: only
 * what is ready, < 0: until at least one callback). Returns the number of
 * callbacks delivered, or a negative error. MTS_THREAD mode: returns
 * MTS_EINVAL. */
MTS_API int mts_poll(mts_client *c, int timeout_ms);

/* Block until job id (submitted through this handle) is final; < 0 timeout:
 * wait forever. MTS_OK, MTS_ETIMEDOUT, MTS_EUNKNOWN_JOB (not submitted here,
 * or already reported). */
MTS_API int mts_wait(mts_client *c, mts_job_id id, int timeout_ms);

/* Block until every job submitted through this handle is final. */
MTS_API int mts_wait_all(mts_client *c, int timeout_ms);

/* Number of jobs submitted through this handle that are not final yet. */
MTS_API size_t mts_pending(mts_client *c);

/* Cancel jobs by id (any client's). *ncancelled (may be NULL) receives how
 * many moved to cancelled. MTS_EUNKNOWN_JOB if some id does not exist (the
 * others are still cancelled); ids already final are left alone. */
MTS_API int mts_cancel(size_t *ncancelled, mts_client *c, const mts_job_id *ids, size_t n);

/* Cancel every queued or running job in the cluster. */
MTS_API int mts_cancel_all(size_t *ncancelled, mts_client *c);

/* Cluster status as JSON text {"master":{...},"workers":{...},"jobs":{...}}
 * (see docs/protocol.md). *json_out is new; free with mts_free. */
MTS_API int mts_status(char **json_out, mts_client *c);

/* One page of job records as a JSON array; state may be NULL (all) or one of
 * "queued", "running", "completed", "failed", "cancelled"; after = 0 starts
 * at the first job; limit <= 0 means 1000 (at most 10000). *next (may be
 * NULL) receives the `after` for the next page, or 0 after the last page. */
MTS_API int mts_jobs(char **json_out, mts_job_id *next, mts_client *c, const char *state,
		     mts_job_id after, int limit);

/* The records of the given job ids as a JSON array. */
MTS_API int mts_jobs_by_id(char **json_out, mts_client *c, const mts_job_id *ids, size_t n);

/* Connected workers as a JSON array. */
MTS_API int mts_workers(char **json_out, mts_client *c);

/* Block until no job in the whole cluster is queued or running. *counts_json
 * (may be NULL) receives {"completed":N,"failed":N,"cancelled":N}. */
MTS_API int mts_wait_cluster(char **counts_json, mts_client *c, int timeout_ms);

/* Block until none of the given jobs (any client's) is queued or running.
 * *counts_json as for mts_wait_cluster. */
MTS_API int mts_wait_jobs(char **counts_json, mts_client *c, const mts_job_id *ids, size_t n, int timeout_ms);

/* Ask the master to stop the cluster: workers exit, the master commits and
 * exits. Returns once the master said goodbye. */
MTS_API int mts_shutdown(mts_client *c);

/* Futures (cluster-workers' ClusterExecutor): a handle per job. The
 * handle's result is kept until mts_future_free. on_done is not called for
 * jobs submitted as futures. */
MTS_API int mts_submit_future(mts_future **out, mts_client *c, const mts_job *job);
/* Block until the future's job is final: MTS_OK or MTS_ETIMEDOUT. */
MTS_API int mts_future_wait(mts_future *f, int timeout_ms);
/* 1 if final (in MTS_POLL mode, call mts_poll to make progress), else 0. */
MTS_API int mts_future_done(mts_future *f);
/* The result once final, else NULL. Valid until mts_future_free. */
MTS_API const mts_result *mts_future_result(mts_future *f);
/* The job's id. */
MTS_API mts_job_id mts_future_id(const mts_future *f);
/* Free the future (the job itself is not cancelled). NULL is a no-op. */
MTS_API void mts_future_free(mts_future *f);

/* Map (minimalcluster's execute()): call the C function target
 * ("lib.so:function") once per argument, args[i] being the JSON text for call
 * i, and wait for all. (*out)[i] is the result for args[i]. Free with
 * mts_map_free(*out, n). Returns MTS_OK when every call finished (each may
 * still have failed: look at state), or MTS_ETIMEDOUT. */
MTS_API int mts_map(mts_result **out, mts_client *c, const char *target, const char *const *args, size_t n,
		    int timeout_ms);
MTS_API void mts_map_free(mts_result *results, size_t n);

/* "completed", "failed"... never NULL. */
MTS_API const char *mts_state_name(int state);
/* A fixed description of an error code; never NULL. */
MTS_API const char *mts_strerror(int code);
/* Details of the last failure on this handle ("" if none); borrowed until
 * the next call on the handle. NULL handle: a message about that. */
MTS_API const char *mts_errmsg(const mts_client *c);
/* Free memory the library returned. */
MTS_API void mts_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
