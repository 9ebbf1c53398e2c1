/* SPDX-License-Identifier: MIT */
/*
 * mjob: one unfinished job as the master holds it in memory. Named mjob (not
 * job) so it never collides with worker/job.h in a test that sees both. A job
 * is one allocation: the fixed fields, then its strings (input, target, cwd,
 * env as JSON array text, and an exec job's environment snapshot id) packed
 * after the struct, so 10 million queued echo
 * jobs cost 104 bytes each plus their input. An input the master does
 * not keep in memory (too large, or beyond its input budget: MJOB_F_STORED)
 * lives in state.db only and is read back when the job is assigned.
 * Finished jobs leave memory (they live on in state.db only).
 *
 * Also here: the executor names and a JSON string writer the master uses to
 * build WJOB/RESULT/JOBREC text directly, without a cJSON tree per job.
 */
#ifndef MTS_MJOB_H
#define MTS_MJOB_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"

/* state.db `state` column values (docs/formats.md). */
enum mjob_dbstate {
	MJOB_QUEUED = 0,
	MJOB_RUNNING = 1,
	MJOB_COMPLETED = 2,
	MJOB_FAILED = 3,
	MJOB_CANCELLED = 4,
};

/* Where an unfinished job sits in the scheduler. */
enum mjob_where {
	MJOB_NEW = 0,     /* not yet handed to the scheduler */
	MJOB_WAITING = 1, /* dependencies not yet completed */
	MJOB_INQUEUE = 2, /* in its client's priority queue */
	MJOB_ASSIGNED = 3 /* on a worker (running or prefetched); db state running */
};

/* MJOB_TYPED: a job of a job type (types.h); its input is the payload
 * (JSON) and the serving worker's worker type decides how it runs. */
enum mjob_kind { MJOB_ECHO = 0, MJOB_EXEC = 1, MJOB_FUNC = 2, MJOB_TYPED = 3 };

#define MJOB_F_REVOKING 0x01 /* a revoke "steal" for it is in flight */
#define MJOB_F_MARK 0x02     /* scratch bit for one operation (held reconciliation) */
#define MJOB_F_STARTED 0x04  /* assigned, and its worker said it started (not merely prefetched) */
#define MJOB_F_ENV 0x08      /* data holds an environment snapshot id (mjob_env_id) */
#define MJOB_F_STORED 0x10   /* the input is not in memory: only in state.db (read at assignment) */
#define MJOB_F_RES 0x20      /* data holds a resource request (mjob_res_get) */

/* What a job asked for (its "res" option: --cpus, --gpus, --mem) and,
 * while it is assigned, the GPUs it was given: bits of its worker's GPU
 * list (mres.h). Kept in data, not in fields, so that a job without a
 * request pays nothing for it. */
struct mjob_res {
	uint32_t cpus, gpus;
	uint64_t mem_b;
	uint64_t gpu_mask;
};

struct sched_client;
struct sched_worker;
struct mjob_deps;

struct mjob {
	int64_t id;
	struct mjob *prev, *next;      /* worker FIFO, or the waiting list */
	struct sched_client *client;
	struct sched_worker *worker;   /* while MJOB_ASSIGNED */
	struct mjob_deps *dependents;  /* ids of jobs waiting for this one, or NULL */
	double delay_s, timeout_s;
	uint32_t treq;         /* seconds the job needs (--time-request); 0: unknown */
	uint16_t ranks;        /* exec: MPI ranks (slots it holds); 0 or 1: one */
	int32_t prio;
	uint32_t assigned_ms;  /* monotonic ms (mod 2^32) of the last assignment, or of
				* its start once MJOB_F_STARTED */
	uint32_t ndeps_left;   /* dependencies not yet completed */
	uint32_t input_len;
	uint16_t retries, attempts;
	uint8_t where, kind, flags;
	uint8_t strs;          /* MJOB_S_*: which of the strings after input are in data */
	uint8_t crash_limit;   /* fail at this many crashes of a function host; 0 read as 1 */
	uint8_t crashes;       /* function hosts it crashed so far (result "crash":true) */
	/* input NUL [env id: 4 bytes] [res] [target NUL] [cwd NUL] [env NUL] [opts NUL].
	 * The strings are found by skipping those before them (strs says
	 * which are there), not by stored offsets: 16 bytes less per job, so
	 * that a job with a small input is one 128-byte malloc chunk (10
	 * million queued echo jobs within 1.5 GB); they are read once per
	 * assignment, and echo jobs have none. */
	char data[];
};

/* Bits of mjob.strs, in the order the strings follow in data. */
#define MJOB_S_TARGET 0x01
#define MJOB_S_CWD 0x02
#define MJOB_S_ENV 0x04
#define MJOB_S_OPTS 0x08

/* Ids of dependents, grown on demand (rare: most jobs have none). */
struct mjob_deps {
	uint32_t n, cap;
	int64_t ids[];
};

/* One allocation with room for the strings; NULL/absent strings are not
 * stored. input may be NULL (stored as ""). env_id: the job's environment
 * snapshot (table envs), 0: none -- kept in data, not in a field, so echo
 * jobs pay nothing for it. opts_json: the job's options (a JSON object of
 * the fields where and how it runs -- git, container, resources -- sent to
 * the worker as they came, jobs.c), or NULL. Returns NULL on OOM. */
struct mjob *mjob_new(const char *input, size_t input_len, const char *target, const char *cwd,
		      const char *env_json, uint32_t env_id, const char *opts_json);
/* mjob_new with a resource request (copied, MJOB_F_RES; NULL: none). */
struct mjob *mjob_new_res(const char *input, size_t input_len, const char *target, const char *cwd,
			  const char *env_json, uint32_t env_id, const char *opts_json, const struct mjob_res *res);
/* Free the job and its dependents list. NULL is a no-op. */
void mjob_free(struct mjob *j);

/* The input held in memory; "" for a job whose input is only in state.db
 * (mjob_input_stored). */
static inline const char *mjob_input(const struct mjob *j) { return j->data; }
static inline int mjob_input_stored(const struct mjob *j) { return (j->flags & MJOB_F_STORED) != 0; }
/* Bytes of input this job holds in memory (the master's input budget). */
static inline uint64_t mjob_input_held_b(const struct mjob *j) { return j->input_len; }
/* The string of bit `which` (MJOB_S_*) after input, or NULL if absent. */
const char *mjob_str(const struct mjob *j, unsigned which);
static inline const char *mjob_target(const struct mjob *j) { return mjob_str(j, MJOB_S_TARGET); }
static inline const char *mjob_cwd(const struct mjob *j) { return mjob_str(j, MJOB_S_CWD); }
static inline const char *mjob_env(const struct mjob *j) { return mjob_str(j, MJOB_S_ENV); }
static inline const char *mjob_opts(const struct mjob *j) { return mjob_str(j, MJOB_S_OPTS); }
static inline uint32_t mjob_env_id(const struct mjob *j)
{
	uint32_t v = 0;
	if (j->flags & MJOB_F_ENV)
		memcpy(&v, j->data + j->input_len + 1, sizeof v);
	return v;
}

/* Where j's struct mjob_res lives in data (unaligned: copy it). */
static inline char *mjob_res_at(const struct mjob *j)
{
	return (char *)j->data + j->input_len + 1 + ((j->flags & MJOB_F_ENV) ? sizeof(uint32_t) : 0);
}
/* j's request into *r: 1, or 0 (all zero) for a job that asked for nothing. */
static inline int mjob_res_get(const struct mjob *j, struct mjob_res *r)
{
	if (!(j->flags & MJOB_F_RES)) {
		memset(r, 0, sizeof *r);
		return 0;
	}
	memcpy(r, mjob_res_at(j), sizeof *r);
	return 1;
}
/* Write back r (a job with MJOB_F_RES only). */
static inline void mjob_res_put(struct mjob *j, const struct mjob_res *r)
{
	if (j->flags & MJOB_F_RES)
		memcpy(mjob_res_at(j), r, sizeof *r);
}

/* "echo", "exec", "func". */
const char *mjob_kind_name(int kind);
/* MJOB_ECHO.. for a type name, or -1. */
int mjob_kind_parse(const char *type);
/* "queued", "running", ... for a db state; "unknown" otherwise. */
const char *mjob_state_name(int state);
/* MJOB_QUEUED.. for a state name, or -1. */
int mjob_state_parse(const char *name);

#endif
