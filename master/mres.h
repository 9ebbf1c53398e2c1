/* SPDX-License-Identifier: MIT */
/*
 * mres: resources on the master's side -- what a worker has (CPUs, memory,
 * its GPUs by id, from its hello) and what is free of it, a job's request
 * (the "res" option: cpus, gpus, mem, pin) and the allocator that gives a
 * job specific GPUs. GPUs are not fungible (as in HyperQueue): a job is
 * given particular ids, lowest free first, and holds them from its
 * assignment to its result; CPUs and memory are counted. No I/O, so the
 * allocator is tested alone (tests/unit/test_mres.c); sched.c calls it
 * when a job is assigned to or leaves a worker.
 */
#ifndef MTS_MRES_H
#define MTS_MRES_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "mjob.h"
#include "msg.h"
#include "resource.h"

#define MRES_CPUS_MAX 1000000u
#define MRES_MEM_MAX ((uint64_t)1 << 60)

struct mres_worker {
	uint32_t cpus, cpus_free;
	uint64_t mem_b, mem_free_b;
	uint32_t ngpus;
	uint64_t gpus_free; /* bit i: GPU i (ids[i]) is free */
	int gpu_kind;       /* enum resource_gpu_kind */
	char *ids[RESOURCE_GPUS_MAX]; /* into the same allocation */
};

/* A worker's resources from its hello's "cpus", "mem", "gpus" (an array of
 * id strings) and "gpu_kind": a new object (free with mres_worker_free),
 * everything free. NULL with err if a field is malformed, or (no err) if
 * the hello carries none of them (an older worker: it takes no job that
 * asks for resources). */
struct mres_worker *mres_worker_from_hello(const msg *hello, char *err, size_t n);
void mres_worker_free(struct mres_worker *w);
/* Everything free again (before re-taking what its jobs hold). */
void mres_worker_reset(struct mres_worker *w);

/* Parse a job's "res" option object into r (gpu_mask 0); *pin set if it
 * asks for CPU binding. 0, or -1 with err. */
int mres_parse(const msg *res, struct mjob_res *r, int *pin, char *err, size_t n);
/* The "res" member of a job's options text (jobs.opts): 1 and r set, 0 if
 * it has none (or it cannot be read: it was checked at submit). */
int mres_from_opts(const char *opts_json, struct mjob_res *r);

/* Could w run r at all, with nothing else running? */
int mres_could(const struct mres_worker *w, const struct mjob_res *r);
/* Does r fit in what w has free now? */
int mres_fits(const struct mres_worker *w, const struct mjob_res *r);
/* Take r from w: its CPUs and memory, and GPUs -- those of r->gpu_mask if
 * set and free (a job restored with the GPUs it runs on), else the lowest
 * free ones, written to r->gpu_mask. Counts never go below zero (a restart
 * may restore more than fits). */
void mres_take(struct mres_worker *w, struct mjob_res *r);
/* Give r's CPUs, memory and GPUs back to w. */
void mres_give(struct mres_worker *w, const struct mjob_res *r);
/* Append the ids of mask's GPUs, comma-separated, as a JSON string. */
int mres_gpus_json(const struct mres_worker *w, uint64_t mask, struct buf *b);
/* The mask of the GPUs of w named by a comma-separated id list (ids w
 * does not have are skipped). */
uint64_t mres_gpus_mask(const struct mres_worker *w, const char *list);

#endif
