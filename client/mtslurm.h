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
 * including from inside on_done (except mts_close). With MTS_POLL the library starts no thread:
 * I/O happens only inside mts_poll() and the blocking calls, and callbacks
 * run only inside mts_poll(), mts_wait() and mts_wait_all(), in the caller's
 * thread (for MPI codes that want no threads); then the handle must be used
 * from one thread at a time.
 *
 * Delivery. Callbacks fire exactly once per job submitted through this
 * handle. If the master restarts, the library reconnects by itself
 * (re-reading master.json), tells the master which jobs it still waits for
 * and receives their callbacks; blocking calls keep waiting within their
 * timeout. A submit whose acknowledgement was lost with the master is sent
 * again and answered with the ids it got the first time: a job is never
 * stored twice. Execution is at least once: a job whose worker died while
 * running it runs again (within its retry limit).
 *
 * Non-blocking submits. mts_submit_nb queues a job and returns at once; the
 * library batches queued jobs into frames by itself and reports each job's
 * id to on_ack once it is durable, or the reason it could not be stored
 * (on_ack, on_done with id 0, mts_flush) -- never silently. mts_flush waits
 * until everything submitted so far is acknowledged.
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
	int rc;             /* exec: exit status (128+N: killed by signal N); func: its return value */
	int attempts;       /* how many times it was started */
	const char *worker; /* id of the worker that ran it last */
	void *user;         /* mts_job.user as given at submit */
} mts_result;

typedef void (*mts_done_fn)(const mts_result *r, void *arg);

/* What happened to one non-blocking submit (mts_submit_nb), as given to
 * on_ack. error is borrowed for the duration of the callback. */
typedef struct mts_ack {
	uint64_t seq;      /* the number mts_submit_nb gave the job */
	mts_job_id id;     /* the master's id: the job is durable; 0 if err */
	int err;           /* MTS_OK, or why the job was not stored
			    * (MTS_EREJECTED: the master refused it) */
	const char *error; /* the reason when err, e.g. `job 0: unknown type "x"` */
	void *user;        /* mts_job.user as given at submit */
} mts_ack;

typedef void (*mts_ack_fn)(const mts_ack *a, void *arg);

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
/* The git checkout an exec job runs in (docs/user-guide.md, "Environments:
 * git"): every worker takes it from one cache in RUN_DIR/git/, cloned and
 * checked out once per cluster. Strings are copied by the submit. */
typedef struct mts_git {
	const char *url;     /* the repository: https://, ssh://, user@host:path,
			      * file:// or a path the workers can read (required) */
	const char *commit;  /* a full commit id, 40 hexadecimal digits; it wins
			      * over branch. NULL: the master resolves branch to
			      * its commit once, at submit (before it answers), and
			      * the jobs record it, so a branch that moves later
			      * cannot make one submit (or array) run two versions;
			      * a branch that does not exist or a repository that
			      * cannot be reached: MTS_EREJECTED with libgit2's reason */
	const char *branch;  /* a branch or tag; NULL with no commit: the repository's
			      * HEAD. Kept with the job */
	const char *workdir; /* the directory inside the checkout the command runs
			      * in (relative, no ".."); NULL: its top */
	const char *setup;   /* shell command run once per checkout, in it, before
			      * any job (e.g. "uv sync"); its failure fails the
			      * jobs with its output; NULL: none */
} mts_git;
/* Where an exec job runs when it runs inside a container image (the job
 * option "container", docs/protocol.md; docs/user-guide.md, "Environments:
 * containers"). Strings are copied by the submit call. */
typedef struct mts_container {
	const char *image;   /* required: a root filesystem directory, a SIF or
			      * SquashFS file, or a name the runtime resolves */
	const char *runtime; /* "apptainer", "singularity", "ch-run", "podman",
			      * "bwrap" or a site's own (RUN_DIR/runtimes.json);
			      * NULL: the site's default, else the first of those
			      * on the worker's PATH */
	const char *workdir; /* absolute directory inside the image the command
			      * starts in; NULL: the runtime's default */
	const char *const *volumes; /* NULL-terminated "SRC:DST" or "SRC:DST:ro"
				     * (absolute host path : absolute path
				     * inside the image), or NULL */
	const char *const *env;     /* NULL-terminated "K=V" set inside the
				     * container, or NULL */
} mts_container;

typedef struct mts_job {
	const char *type;   /* "echo", "exec" or "func" */
	const char *input;  /* echo: the message; exec: the command line; func: JSON text for the function */
	double delay;       /* echo: seconds before answering */
	const char *target; /* func: "/abs/path/lib.so:function" */
	const char *cwd;    /* exec: working directory; NULL: the caller's working
			     * directory at submit time (getcwd) */
	const char *const *env; /* exec: NULL-terminated "K=V" list set on top of the
				 * exported environment (see export_env); these win */
	int prio;           /* higher first, among this handle's jobs */
	int retries;        /* re-queues allowed after a lost worker; < 0: the master's default (3) */
	const mts_job_id *deps; /* run after these completed */
	size_t ndeps;
	double timeout;     /* seconds; 0: none */
	void *user;         /* handed back in mts_result.user */
	double time_request; /* seconds the job needs: it only goes to a worker whose
			      * Slurm job has that much time left; 0: unknown */
	int ranks;           /* exec: run the command as this many MPI ranks (srun inside
			      * Slurm, mpirun outside), holding as many of a worker's
			      * slots; 0 or 1: a plain process */
	int crash_limit;     /* func: the job fails once its function has crashed
			      * (signal, abort, exit) this many of its worker's function
			      * hosts; 1 to 255; 0: the master's default (1, no retry).
			      * Crashes are not retries: retries cover lost workers */
	const char *export_env; /* exec: the environment the job sees, as sbatch's
			      * --export: NULL or "ALL": the caller's whole
			      * environment at submit time; "NONE": a minimal one
			      * (PATH, HOME, USER, LOGNAME, SHELL of the worker's
			      * user); "NAME,NAME=VALUE,...": the minimal one plus
			      * these (NAME's value from the caller's environment;
			      * a NAME that is not set is left out);
			      * "ALL,NAME=VALUE,...": everything plus these. A
			      * value cannot contain a comma (use env for that).
			      * MPI launcher variables (PMIX_*, OMPI_COMM_WORLD_*,
			      * ...) and SLURM_* are never taken from "ALL"; every
			      * job also gets MTSLURM_JOB_ID, MTSLURM_ATTEMPT,
			      * MTSLURM_WORKER, MTSLURM_RUN_DIR and the worker's
			      * SLURM_*. Reads environ: do not setenv() in another
			      * thread during the submit */
	const mts_git *git;  /* exec: run in this git checkout, cwd = its workdir
			      * (cwd is then ignored); NULL: none */
	const mts_container *container; /* exec: run the command inside this image
					 * (through a container runtime); NULL: on
					 * the worker's node as it is */
	/* Resources (docs/user-guide.md, "Resources"); 0: none asked. The job
	 * goes only to a worker that has them free and holds them until it
	 * ends; the submit is refused (MTS_EREJECTED) when workers are
	 * connected and none could ever give that much. */
	int cpus;                 /* CPUs it needs */
	int gpus;                 /* GPUs: it is given that many specific ones and sees
				   * their ids in CUDA_VISIBLE_DEVICES and MTSLURM_GPUS */
	unsigned long long mem_bytes; /* memory it needs */
	int pin;                  /* exec: bind its process to `cpus` CPUs (needs cpus) */
} mts_job;

#define MTS_JOB_INIT {NULL, NULL, 0, NULL, NULL, NULL, 0, -1, NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, 0, 0, 0, 0}

typedef struct mts_client mts_client;
typedef struct mts_future mts_future;

/* ---- Connecting ---------------------------------------------------------- */

/* Connect to the master of run_dir (NULL or "": $MTSLURM_RUN_DIR, else
 * ~/.mtslurm/default): read master.json and the key, authenticate (the master
 * must prove it holds the key too), and say hello with a fresh random client
 * id that this handle keeps for its whole life. opt may be NULL (defaults:
 * MTS_OPTIONS_INIT); it is copied, opt->name too.
 * Ownership: on success *out is a new handle; close it with mts_close(). On
 * failure *out is still a handle that only carries mts_errmsg() -- close it
 * too -- or NULL if even that could not be allocated (MTS_ENOMEM); mts_close
 * and mts_errmsg accept NULL.
 * Blocks up to opt->timeout_ms. Thread-safe (independent handles).
 * Errors: MTS_EINVAL (out NULL, bad run_dir), MTS_ENOMASTER (no master.json,
 * or nothing answers at its address), MTS_EAUTH (key unreadable or refused),
 * MTS_ETIMEDOUT, MTS_ENOMEM. */
MTS_API int mts_connect(mts_client **out, const char *run_dir, const mts_options *opt);

/* Close the connection, stop the I/O thread (joined before returning), and
 * free the handle. Jobs keep running in the cluster; callbacks not delivered
 * yet are dropped. Free every mts_future of the handle first. NULL is a
 * harmless no-op. Must not be called from inside on_done, nor while another
 * thread is still using the handle. */
MTS_API void mts_close(mts_client *c);

/* ---- Submitting ---------------------------------------------------------- */

/* Submit one job; returns once the master acknowledged it, i.e. the job is
 * durable in the master's store, and *out (may be NULL) receives its id.
 * on_done will be called for it exactly once. All strings of *job are copied
 * before the call returns. Thread-safe in MTS_THREAD mode.
 * Errors: MTS_EINVAL (c or job NULL, no type), MTS_EREJECTED (the master
 * refused the job; the reason, e.g. `job 0: unknown type "x"`, is in
 * mts_errmsg), MTS_ETIMEDOUT (no acknowledgement within opt.timeout_ms; the
 * job may still have been stored), MTS_ECLOSED, MTS_ENOMEM. */
MTS_API int mts_submit(mts_job_id *out, mts_client *c, const mts_job *job);

/* Submit n jobs in as few frames as possible (up to 50,000 jobs each), all
 * frames in flight at once, and return when every frame is acknowledged.
 * ids_out (n entries, or NULL) receives the ids in order; ids of one frame
 * are consecutive. All or nothing per frame: on MTS_EREJECTED no job of the
 * refused frame was stored, but other frames of the same call may have been
 * (their ids are filled in, the others are left untouched). n == 0 is MTS_OK.
 * Same errors and thread-safety as mts_submit. To stream millions of jobs,
 * call it repeatedly with batches of 10,000 or more: jobs are encoded
 * straight into the frame's text, and a call costs one round trip. */
MTS_API int mts_submit_batch(mts_job_id *ids_out, mts_client *c, const mts_job *jobs, size_t n);

/* Non-blocking submit (docs/api/mts_submit_nb.md): copy *job into the
 * handle's queue and return at once; *seq_out (may be NULL) receives the
 * job's number on this handle (1, 2, 3... in call order). The library
 * sends queued jobs in submit frames by itself: a frame goes out at once
 * while fewer than 2 of these frames await their acknowledgement, else
 * when the previous one is acknowledged or the queue's frame holds 8,192
 * jobs (or 4 MiB), so a loop of calls runs at batch speed while a lone
 * call is not delayed. In MTS_POLL mode acknowledgements are read only in
 * mts_poll, mts_flush and the blocking calls.
 * Durability is confirmed asynchronously, exactly once per job: on_ack
 * (if set) gets the master's id once the job is durable -- only then; then
 * on_done gets its result as for mts_submit. A job the master refuses (a
 * bad job: the others of its frame are sent again without it and stored)
 * or that could not be stored gets on_ack with err set and the reason, and
 * on_done with id 0, state MTS_FAILED, error "not submitted: REASON" and rc
 * the mts_error code; it also makes the next mts_flush fail. Nothing is
 * dropped silently: after a reconnect the frames not acknowledged are sent
 * again and stored once (client id + request number).
 * Memory is bounded: while 65,536 jobs (or 64 MiB of their text) are not
 * acknowledged, the call blocks (driving I/O in MTS_POLL mode) until there
 * is room, up to opt.timeout_ms, then fails with MTS_ETIMEDOUT (the job
 * was not queued). mts_close drops jobs still unacknowledged: call
 * mts_flush first. Thread-safe in MTS_THREAD mode; may be called from
 * on_done/on_ack.
 * Errors (the job was not queued): MTS_EINVAL (c or job NULL, no type, a
 * malformed field: mts_errmsg says which), MTS_ETIMEDOUT (queue full),
 * MTS_ECLOSED, MTS_ENOMEM. */
MTS_API int mts_submit_nb(uint64_t *seq_out, mts_client *c, const mts_job *job);

/* Set the callback of non-blocking submits: fn is called once per
 * mts_submit_nb job when it is durable (or could not be stored), where
 * on_done runs, with the options' arg, always before that job's on_done.
 * NULL: none. Set it before the first mts_submit_nb (a job acknowledged
 * before is not reported to it). A setter rather than a member of
 * mts_options, so that programs built against an older mtslurm.h, whose
 * mts_options is smaller, keep working with this library. Errors:
 * MTS_EINVAL (c NULL). */
MTS_API int mts_set_on_ack(mts_client *c, mts_ack_fn fn);

/* Send what mts_submit_nb queued and block until no non-blocking submit of
 * this handle is waiting for its acknowledgement (those other threads make
 * meanwhile included). MTS_OK if every one since the previous mts_flush was
 * stored; else the error of the first that was not (e.g. MTS_EREJECTED)
 * with mts_errmsg "N non-blocking submits were not stored; the first: ...",
 * and the count starts again. on_ack calls may still be queued when it
 * returns (they are not delivered by it in MTS_POLL mode).
 * timeout_ms as for mts_wait (0: only send). Errors: MTS_EINVAL (c NULL),
 * MTS_ETIMEDOUT (mts_errmsg says how many wait; they stay queued and are
 * still sent), MTS_ECLOSED. */
MTS_API int mts_flush(mts_client *c, int timeout_ms);

/* A job array's members (mts_submit_array). Give tasks, entries, or both:
 *  - tasks alone: one member per task id, in Slurm's --array syntax
 *    ("1-1000", "1-1000:2", "1,5,7-9"; ids 0 to 2^53); {} is the task id;
 *  - entries (nentries of them): one member per entry; {} is the entry,
 *    and with entries_json each entry is JSON text (an element of a JSON
 *    array): {} is a string's characters or another value's JSON text, and
 *    {name} a field of an object. Task ids are tasks (one per entry) if
 *    given, else 0 .. nentries-1.
 * detach 1: no on_done for the members (a million callbacks a program
 * does not want); read their results with mts_jobs or mts_request
 * {"t":"jobs","array":ID}. */
typedef struct mts_array {
	const char *tasks;
	const char *const *entries;
	size_t nentries;
	int entries_json;
	int detach;
} mts_array;

#define MTS_ARRAY_INIT {NULL, NULL, 0, 0, 0}

/* Submit a job array: one member per task id or entry, each a copy of
 * tmpl whose input has every "{}" replaced by the member's entry (see
 * mts_array); an exec member also gets MTSLURM_TASK_ID (its task id) and
 * MTSLURM_ENTRY (its entry) in its environment. The whole array is one
 * request and one durable write in the master, however many members:
 * returns once it is acknowledged, with the member ids *first_out ..
 * *first_out + *n_out - 1 (consecutive; *first_out is also the array's id
 * for the "array" requests). Either output may be NULL. Unless a->detach,
 * on_done is called once per member (mts_result.user is NULL for them),
 * and mts_wait_all waits for them. All strings are copied.
 * Errors: MTS_EINVAL (c, tmpl or a NULL; neither tasks nor entries; an
 * entry that is not JSON with entries_json; a request over the 64 MiB
 * frame limit -- split the array; mts_errmsg says which), MTS_EREJECTED
 * (the master refused it: malformed task ids, a template that cannot run;
 * nothing was stored), and the errors of mts_submit. Thread-safe in
 * MTS_THREAD mode. */
MTS_API int mts_submit_array(mts_job_id *first_out, size_t *n_out, mts_client *c, const mts_job *tmpl,
			     const mts_array *a);

/* ---- Waiting for results ------------------------------------------------- */

/* MTS_POLL mode: run I/O and deliver callbacks in the calling thread for up
 * to timeout_ms (0: only what is ready now; < 0: until at least one callback
 * was delivered). Returns the number of callbacks delivered (>= 0), or a
 * negative error. Call it often enough (at least every few seconds) for the
 * connection's heartbeats. MTS_THREAD mode, or c NULL: MTS_EINVAL. */
MTS_API int mts_poll(mts_client *c, int timeout_ms);

/* Block until job id, submitted through this handle, is final and its
 * on_done has returned; timeout_ms < 0 waits forever, 0 only checks. A job
 * already reported counts as final (MTS_OK). In MTS_POLL mode callbacks are
 * delivered while waiting, in this thread. Thread-safe in MTS_THREAD mode.
 * Errors: MTS_EINVAL (c NULL, or called from inside on_done, where it could
 * only wait for itself), MTS_EUNKNOWN_JOB (not submitted through this
 * handle: see mts_wait_jobs for any job), MTS_ETIMEDOUT, MTS_ECLOSED. */
MTS_API int mts_wait(mts_client *c, mts_job_id id, int timeout_ms);

/* Block until every job submitted through this handle is final and its
 * callback delivered (non-blocking submits included: the queued ones are
 * sent, and a failed one counts once its on_done ran). timeout_ms as for mts_wait. Survives master restarts
 * (the callbacks still owed are sent again after the reconnect).
 * Errors: MTS_EINVAL (c NULL, or called from inside on_done), MTS_ETIMEDOUT
 * (mts_errmsg says how many are left), MTS_ECLOSED. */
MTS_API int mts_wait_all(mts_client *c, int timeout_ms);

/* Number of jobs submitted through this handle that are not final yet (or
 * whose result has not arrived), non-blocking submits not acknowledged yet
 * included. 0 for NULL. Thread-safe. */
MTS_API size_t mts_pending(mts_client *c);

/* ---- Futures (cluster-workers' ClusterExecutor) -------------------------- */

/* Submit one job and get a handle on its result instead of a callback (on_done
 * is not called for it). Blocks until acknowledged, like mts_submit.
 * Ownership: *out is new; free with mts_future_free, before mts_close.
 * Errors: as mts_submit. */
MTS_API int mts_submit_future(mts_future **out, mts_client *c, const mts_job *job);
/* Block until the future's job is final (timeout_ms as for mts_wait).
 * MTS_OK, MTS_ETIMEDOUT, MTS_EINVAL (f NULL), MTS_ECLOSED. */
MTS_API int mts_future_wait(mts_future *f, int timeout_ms);
/* 1 if the job is final, else 0 (also for NULL). Never blocks; in MTS_POLL
 * mode only mts_poll and the waiting calls make progress. */
MTS_API int mts_future_done(mts_future *f);
/* The result once final, else NULL. Owned by the future: valid (strings
 * included) until mts_future_free. */
MTS_API const mts_result *mts_future_result(mts_future *f);
/* The job's id (0 for NULL). */
MTS_API mts_job_id mts_future_id(const mts_future *f);
/* Free the future and its result. The job itself is not cancelled; if it is
 * not final, its result is discarded when it comes. NULL is a no-op. */
MTS_API void mts_future_free(mts_future *f);

/* ---- Map (minimalcluster's execute()) ------------------------------------ */

/* Call the C function target ("/abs/path/lib.so:function", signature
 * int function(const char *input_json, char **output_json)) once per
 * argument, args[i] being the JSON text given to call i (NULL: "null"), as
 * n func jobs, and wait for all of them. (*out)[i] is the result for args[i]
 * (id, state, output, error, rc...); its strings belong to the array. Free
 * with mts_map_free(*out, n), also after MTS_ETIMEDOUT (then the unfinished
 * entries have state MTS_QUEUED and NULL strings). on_done is not called.
 * Returns MTS_OK when every call is final -- each may still have failed:
 * look at state. Errors: MTS_EINVAL (NULL out/c/target/args), MTS_ETIMEDOUT,
 * MTS_EREJECTED, MTS_ECLOSED, MTS_ENOMEM (then *out is NULL). */
MTS_API int mts_map(mts_result **out, mts_client *c, const char *target, const char *const *args, size_t n,
		    int timeout_ms);
/* Free what mts_map returned. NULL is a no-op. */
MTS_API void mts_map_free(mts_result *results, size_t n);

/* ---- Cluster-wide requests ----------------------------------------------- */
/* These act on any job of the cluster, not only this handle's. Functions that
 * return JSON give a new NUL-terminated string in *json_out (NULL on error):
 * free it with mts_free. All are thread-safe in MTS_THREAD mode, block up to
 * opt.timeout_ms unless they take a timeout, and fail with MTS_EINVAL (NULL
 * handle or output), MTS_ETIMEDOUT, MTS_ECLOSED or MTS_EPROTO (a reply
 * without the expected field). */

/* Cancel jobs by id: queued ones never run, running ones are killed. They
 * call back with state MTS_CANCELLED. *ncancelled (may be NULL) receives how
 * many moved to cancelled; ids already final are left alone and not counted.
 * Errors: MTS_EUNKNOWN_JOB if some id does not exist (the others were still
 * cancelled; mts_errmsg names the unknown ids). */
MTS_API int mts_cancel(size_t *ncancelled, mts_client *c, const mts_job_id *ids, size_t n);

/* Cancel every queued or running job in the cluster. */
MTS_API int mts_cancel_all(size_t *ncancelled, mts_client *c);

/* Cluster status: {"master":{"host","port","pid","node","uptime","version"},
 * "workers":{"connected","slots","busy_slots"},"jobs":{"queued","prefetched",
 * "running","completed","failed","cancelled","total"}}: prefetched jobs are
 * on a worker that has not started them yet. */
MTS_API int mts_status(char **json_out, mts_client *c);

/* One page of job records, in id order, as a JSON array of objects with id,
 * type, state, attempts, worker, output, error, rc, input, prio, retries,
 * deps, client, submitted, started, finished. state: NULL (all) or
 * "queued", "prefetched", "running", "completed", "failed", "cancelled";
 * after: only ids above it (0: from the first); limit <= 0: 1000, at most
 * 10000. *next (may be NULL) receives the `after` for the following page, 0
 * after the last. */
MTS_API int mts_jobs(char **json_out, mts_job_id *next, mts_client *c, const char *state,
		     mts_job_id after, int limit);

/* The records of the given ids (at most 10000), as a JSON array like
 * mts_jobs; ids that do not exist are simply absent. */
MTS_API int mts_jobs_by_id(char **json_out, mts_client *c, const mts_job_id *ids, size_t n);

/* Connected workers as a JSON array of {"id","host","node","pid","rank",
 * "slots","running","prefetched","held","window","done","state","since",
 * "last_seen"}. */
MTS_API int mts_workers(char **json_out, mts_client *c);

/* Block until no job in the whole cluster is queued or running (timeout_ms
 * as for mts_wait). *counts_json (may be NULL) receives
 * {"completed":N,"failed":N,"cancelled":N}. */
MTS_API int mts_wait_cluster(char **counts_json, mts_client *c, int timeout_ms);

/* Block until none of the given jobs (any client's) is queued or running.
 * *counts_json as for mts_wait_cluster; ids that do not exist are not
 * counted (check with mts_jobs_by_id). */
MTS_API int mts_wait_jobs(char **counts_json, mts_client *c, const mts_job_id *ids, size_t n,
			  int timeout_ms);

/* Remove final jobs (completed, failed, cancelled) from the master's store
 * so that its history does not grow forever: those of the given ids (NULL:
 * any id), in state (NULL: any final state; else "completed", "failed" or
 * "cancelled"), finished more than age_s seconds ago by the master's clock
 * (< 0: any time); at least one of the three must be given. Queued and
 * running jobs are never removed, nor a final job that a queued or running
 * job depends on (it goes once that job is final), nor the newest job of
 * the store. A forgotten id then reads as unknown (jobs, wait, cancel, and a
 * new job naming it in deps is refused); a handle that reconnects awaiting a
 * forgotten job gets no callback for it. *nforgotten (may be NULL) receives
 * how many went. Works in requests of up to 10,000 rows (each short for the
 * master) until done. Errors: MTS_EINVAL (no filter, or ids NULL with n >
 * 0), MTS_EREJECTED (a bad state; mts_errmsg says why), and the usual ones. */
MTS_API int mts_forget(size_t *nforgotten, mts_client *c, const mts_job_id *ids, size_t n, const char *state,
		       double age_s);

/* Any request of the wire protocol (docs/protocol.md) as JSON text: an
 * object with "t" (e.g. {"t":"types"}, {"t":"type_add","name":"resize",
 * "worker_type":"imgworker"}, {"t":"dlq"}); the library numbers it ("req")
 * and resends it after a reconnect like its own requests. *reply_json
 * receives the reply without "t" and "req" (free with mts_free()). For the
 * requests this header has no function for -- job types, worker types, the
 * dead-letter queue, nodes -- and for bindings to other languages.
 * Errors: MTS_EINVAL (not an object with a "t" of a-z and _, or "hello" or
 * "env", which belong to the connection), MTS_EREJECTED (the master's
 * error; mts_errmsg says why), and the usual ones. */
MTS_API int mts_request(char **reply_json, mts_client *c, const char *request_json);

/* ---- Pipelines (docs/user-guide.md, "Pipelines") --------------------------- */

/* Start a pipeline: pipeline_json is a pipeline file (docs/formats.md),
 * checked here and by the master. Returns once the pipeline and its first
 * stage's jobs are durable, with its id in *id. The request carries a
 * token, so one sent again after a reconnect starts nothing twice.
 * Blocking; thread-safe. Errors: MTS_EINVAL (NULL argument, or a bad file:
 * mts_errmsg says what is wrong, e.g. "stages a -> b -> a form a cycle"),
 * MTS_EREJECTED (the master refused it), MTS_ETIMEDOUT, MTS_ENOMEM. */
MTS_API int mts_pipeline_run(int64_t *id, mts_client *c, const char *pipeline_json);
/* Pipeline id's status, or (id 0) that of the newest 20, as a JSON array
 * of {"id","name","state","created","finished","error","items","stages":
 * [{"name","instances","max_queued","fan_out","reduce","queued","running",
 * "done","failed","cancelled","held"}]} (docs/protocol.md), newest first;
 * a new string, free with mts_free(). Errors: MTS_EREJECTED (no such
 * pipeline), and the usual ones. */
MTS_API int mts_pipeline_status(char **json_out, mts_client *c, int64_t id);
/* Cancel pipeline id: its unfinished jobs are cancelled (*njobs, may be
 * NULL, receives how many) and it ends cancelled; one that ended already
 * is left as it is (*njobs 0). Errors: MTS_EREJECTED (no such pipeline). */
MTS_API int mts_pipeline_cancel(int64_t *njobs, mts_client *c, int64_t id);
/* Outputs of the completed jobs of a stage (NULL: the last stage) of
 * pipeline id with job ids above after, at most limit (0: 1000; at most
 * 10000), as a JSON array of {"job","output"} in job order; *next (may be
 * NULL) receives the `after` of the next page, 0 if there is none. Free
 * *json_out with mts_free(). */
MTS_API int mts_pipeline_results(char **json_out, int64_t *next, mts_client *c, int64_t id, const char *stage,
				 int64_t after, int limit);
/* Wait until pipeline id has ended: *state_out (may be NULL) receives
 * MTS_COMPLETED, MTS_FAILED or MTS_CANCELLED. Polls the master (20 ms,
 * growing to 500 ms between requests). timeout_ms < 0: no limit.
 * Errors: MTS_ETIMEDOUT, MTS_EREJECTED (no such pipeline), the usual. */
MTS_API int mts_pipeline_wait(int *state_out, mts_client *c, int64_t id, int timeout_ms);

/* Stop the cluster: the master tells every worker to exit, commits, removes
 * master.json and exits. Returns once the master said goodbye; then close
 * the handle (later requests only time out). */
MTS_API int mts_shutdown(mts_client *c);

/* ---- Errors and memory ---------------------------------------------------- */

/* "queued", "running", "completed", "failed", "cancelled"; "unknown" for
 * any other value. Never NULL; static storage. */
MTS_API const char *mts_state_name(int state);
/* A fixed one-line description of an error code ("timed out"); "unknown
 * error code" for values not in mts_error. Never NULL; static storage. */
MTS_API const char *mts_strerror(int code);
/* Details of the last failure on this handle, e.g. "no master.json in
 * /root/.mtslurm/default: is the cluster started? (mtslurm start)" or the
 * master's reason for refusing a job; "" if nothing failed yet. Borrowed:
 * valid until the next call on the handle. Several threads failing at once
 * overwrite each other's message. NULL handle: a fixed message. Never NULL. */
MTS_API const char *mts_errmsg(const mts_client *c);
/* Free memory the library returned (JSON strings). NULL is a no-op. */
MTS_API void mts_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
