/* SPDX-License-Identifier: MIT */
/*
 * autoscale: the master asks the batch system (slurm/batch.h's table:
 * autoscale.json's "backend", Slurm if it names none) for worker
 * allocations while jobs wait and lets idle workers go (HyperQueue's
 * autoalloc is the model).
 *
 * Once a second, on the loop: if jobs are queued and fewer than max_workers
 * workers are running or pending, submit a worker job of up to
 * workers_per_alloc tasks (at most AUTOSCALE_BACKLOG jobs pending at once);
 * a connected autoscaled worker idle for idle_timeout while nothing is
 * queued is told to exit. Every few seconds the states of its allocations
 * are polled. Batch system calls run on the thread pool, one at a time.
 *
 * Failures back off: a worker job that Slurm could not take (controller
 * unreachable) or that ended before any of its workers connected doubles
 * the pause before the next submit (10 s .. 10 min); a job Slurm refuses
 * outright (bad partition, impossible request), or AUTOSCALE_MAX_FAILURES
 * failures in a row, stop autoscaling with the reason, shown in status.
 *
 * The allocations made are kept in RUN_DIR/autoscale-jobs.json (rewritten
 * whenever they change) so that `mtslurm stop` cancels them even if the
 * master is gone, and a master started again over the run dir reads it
 * and manages them again. Any backend of the table works the same way: a
 * local one (`mtslurm --local start --autoscale`) starts mpirun jobs on
 * this machine.
 */
#ifndef MTS_AUTOSCALE_H
#define MTS_AUTOSCALE_H

#include "msg.h"

struct master;
struct autoscale;

#define AUTOSCALE_BACKLOG 4        /* worker jobs pending in Slurm at once */
#define AUTOSCALE_MAX_FAILURES 5   /* failed allocations in a row before giving up */
#define AUTOSCALE_MAX_ALLOCS 256   /* allocations remembered */

/* Read the settings the CLI wrote (RUN_DIR/autoscale.json: max_workers,
 * idle_timeout, workers_per_alloc, the worker job's spec and script) and
 * start the timer. NULL with err on a bad file. */
struct autoscale *autoscale_new(struct master *m, const char *path, char *err, size_t errlen);

/* Start deciding, once a second. */
void autoscale_start(struct autoscale *a);

/* Stop the timer; cb(arg) once its handles are closed and no libslurm call
 * is running. The allocations are left to their workers (told to exit by
 * the master) and to `mtslurm stop`. */
void autoscale_close(struct autoscale *a, void (*cb)(void *arg), void *arg);

/* Add {"autoscale":{...}} (settings, allocations, why it stopped) to a
 * status reply. */
void autoscale_status(const struct autoscale *a, msg *status);

#endif
