/* SPDX-License-Identifier: MIT */
/*
 * sched_int: what sched.c and schedres.c share and nobody else uses --
 * the scheduler's bookkeeping of a job's resources on its worker.
 */
#ifndef MTS_SCHED_INT_H
#define MTS_SCHED_INT_H

#include "sched.h"

/* j (MJOB_F_RES) takes its resources on w, keeping the GPU mask it has if
 * those are free. */
void sched_res_take(struct sched_worker *w, struct mjob *j);
/* j leaves w: its resources are free again, its GPUs no longer its own. */
void sched_res_give(struct sched_worker *w, struct mjob *j);

#endif
