/* SPDX-License-Identifier: MIT */
/*
 * envcache: the environment snapshots a worker was sent by the master, by id
 * (a WJOB's "envdef" the first time the connection needs one, "envid" after
 * that: docs/protocol.md), each turned once into the base of an exec job's
 * environment: the submitter's variables (or, for a "none" snapshot, PATH,
 * HOME, USER, LOGNAME and SHELL of the worker's user, plus the listed ones),
 * with SLURM_* replaced by the worker's own (so srun in a job runs in the
 * worker's allocation). exec.c adds the per-job part (MTSLURM_*, PWD, the
 * job's "env" list) when it starts the job.
 *
 * Entries are reference-counted: a job holds its snapshot from parsing to
 * job_free(), so a reset (the master's "envreset", which bounds the cache)
 * never pulls one from under a queued or running job. Kept across reconnects:
 * ids name rows of the master's store, which outlive a master restart.
 *
 * Not thread-safe: the worker's loop thread only.
 */
#ifndef MTS_ENVCACHE_H
#define MTS_ENVCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct envcache_ent {
	uint32_t id;
	unsigned refs;
	size_t n;    /* variables in base */
	char **base; /* NULL-terminated "K=V" list, in this allocation */
};

struct envcache;

/* An empty cache, or NULL (OOM). */
struct envcache *envcache_new(void);
/* Free the cache; entries still held by jobs live on until released. NULL:
 * no-op. */
void envcache_free(struct envcache *c);
/* Define snapshot id from def ({"base":"all"|"none","vars":["K=V",...]}),
 * replacing an entry of that id. 0, or -1 with err. */
int envcache_define(struct envcache *c, uint32_t id, const msg *def, char *err, size_t errlen);
/* The entry of id with one more reference, or NULL if unknown. */
struct envcache_ent *envcache_get(struct envcache *c, uint32_t id);
/* Drop a reference (NULL: no-op). */
void envcache_put(struct envcache_ent *e);
/* Forget every entry (jobs keep the ones they hold). */
void envcache_reset(struct envcache *c);
/* Entries in the cache. */
size_t envcache_count(const struct envcache *c);

#endif
