/* SPDX-License-Identifier: MIT */
/*
 * typed: the jobs of a worker type (kind "typed" on the wire). A worker
 * started with --worker-type NAME learns NAME's definition from the master
 * ({"name","executor","params"}, in hello_ok and later `wtype` messages) and
 * runs every typed job's payload (its input, JSON text) with that
 * definition's executor, found by name in a sorted table:
 *
 *   echo        mindtrace's EchoWorker: {"message","delay"} -> {"echoed"}
 *   exec        params.command, a template whose {field}s the payload fills
 *               (shell-quoted) -> {"stdout","stderr","rc"}
 *   func        params.target, a C function run in a function host with the
 *               payload as its input -> its output if a JSON object
 *   run-script  mindtrace's RunScriptWorker: {"environment","command"}
 *               -> {"stdout","stderr"}
 *
 * Every result's output is the JSON text {"status": "completed" | "failed"
 * | "error", "output": {...}} (mindtrace's Worker._run shape), and the
 * result is ok exactly when status is "completed". Commands and functions
 * run through exec.h and func.h (one spawner, one set of function hosts,
 * the same containment, logs, timeouts and kills as plain jobs): a typed
 * job that needs one gets an inner job of kind exec or func whose result
 * comes back here (job.h, j->done) and is turned into that shape.
 *
 * The template, quoting and output shapes are pure functions, exported for
 * the unit tests. Not thread-safe: one typed context per worker, on its
 * loop.
 */
#ifndef MTS_TYPED_H
#define MTS_TYPED_H

#include <stddef.h>
#include <uv.h>

#include "buf.h"
#include "job.h"
#include "joblog.h"
#include "msg.h"

/* Bytes of stdout and of stderr kept for the output of exec and run-script
 * jobs (each; the job log has all of it, up to its own cap). */
#define TYPED_CAPTURE_MAX ((size_t)1 << 20)

struct typed;
struct exec;
struct func;
struct gitstep;

struct typed_opts {
	uv_loop_t *loop;
	const char *name;          /* the worker type this worker serves (copied); NULL: none */
	struct exec *exec;         /* borrowed: commands run here */
	struct func *func;         /* borrowed: functions run here */
	struct joblog_writer *log; /* where echo prints its message; NULL: nowhere */
	void (*log_kick)(void *arg); /* new bytes in the log; may be NULL */
	void *kick_arg;
	struct gitstep *git;       /* borrowed: run-script's git checkouts; NULL: none */
};

/* A new context (no definition yet); NULL on OOM. */
struct typed *typed_new(const struct typed_opts *o);

/* Keep def = {"name","executor","params":{...}} as the definition to run
 * jobs with from now on (jobs already running keep theirs). 0, or -1 with a
 * one-line reason (unknown executor, another worker type's name, a required
 * parameter missing) and the old definition kept. */
int typed_set_def(struct typed *t, const msg *def, char *err, size_t errlen);

/* The worker type's name ("" for none), its executor ("" until defined),
 * and the mindtrace class its definition names (params.worker_class, else
 * "MtslurmWorker"). Borrowed until the next typed_set_def. */
const char *typed_name(const struct typed *t);
const char *typed_executor(const struct typed *t);
const char *typed_class(const struct typed *t);

/* Run j (kind JOB_TYPED, input = payload). Its result reaches done(arg, j,
 * r) exactly once, possibly before this returns, unless it is abandoned.
 * j must stay valid until then; j->run is the context's while it runs. */
void typed_start(struct typed *t, struct job *j, job_done_fn done, void *arg);

/* Stop a running j: its result (ok false, error why, status "failed")
 * follows through done, now or once its process is gone. */
void typed_cancel(struct typed *t, struct job *j, const char *why);

/* Forget j: no result; its process or function host is killed. j may be
 * freed after this returns. A no-op if j is not running here. */
void typed_abandon(struct typed *t, struct job *j);

/* Jobs running (for /get_status and tests). */
size_t typed_running(const struct typed *t);

/* Abandon what runs, wait until every timer is closed, free t, call
 * cb(arg) (cb may be NULL). Call it before closing exec and func. */
void typed_close(struct typed *t, void (*cb)(void *arg), void *arg);

/* ---- pure parts, for the unit tests ---- */

/* 0 if the executor table is sorted (nametab_check). */
size_t typed_executors_check(void);

/* Append s as one single-quoted sh word ('it'\''s'). 0 or -1 (OOM). */
int typed_shell_quote(struct buf *out, const char *s, size_t n);

/* Fill the exec template tmpl from payload (an object): {name} becomes the
 * payload's top-level field name, shell-quoted (a string as it is, any
 * other value as its JSON text); {{ and }} are literal braces; a brace
 * that does not open {identifier} is kept as it is. 0, or -1 with a
 * one-line reason in err (a missing field is named). */
int typed_fill(struct buf *out, const char *tmpl, const msg *payload, char *err, size_t errlen);

/* Append {"status":STATUS,"output":OUTPUT} to out; output_json NULL means
 * {}. 0 or -1 (OOM). */
int typed_result_json(struct buf *out, const char *status, const char *output_json);

#endif
