/* SPDX-License-Identifier: MIT */
/*
 * func: the "func" executor. A job's target "/path/lib.so:function" names a C
 * function
 *
 *     int function(const char *input_json, char **output_json);
 *
 * which is called with the job's input on libuv's thread pool (never on the
 * loop thread: it may run for hours). 0 means success; *output_json, if set,
 * is malloc'd by the function and freed here with free(). Libraries are
 * dlopen'd once per path and kept open (RTLD_NOW | RTLD_LOCAL); the cache is
 * process-wide and locked, because the calls run on several threads.
 *
 * A thread cannot be killed: a cancelled or timed-out call is abandoned (its
 * result discarded when it returns) while its thread finishes. A function
 * that crashes takes the worker process with it; the master then treats the
 * worker as lost and retries the job elsewhere.
 */
#ifndef MTS_FUNC_H
#define MTS_FUNC_H

#include <uv.h>

#include "job.h"

/* Start j (kind JOB_FUNC) on loop's thread pool. The result arrives through
 * done(arg, j, ...) on the loop thread, possibly before this returns (a
 * malformed target) -- unless func_abandon() is called first. */
void func_start(uv_loop_t *loop, struct job *j, job_done_fn done, void *arg);

/* Forget j's call: no result will be reported and j may be freed now. */
void func_abandon(struct job *j);

/* Calls abandoned or running (a stop waits for these before closing the
 * loop; uv_loop_close fails while any is in flight). */
unsigned func_in_flight(void);

#endif
