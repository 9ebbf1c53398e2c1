/* SPDX-License-Identifier: MIT */
/*
 * job: one job as a worker holds it (a WJOB of docs/protocol.md, parsed once
 * into a single allocation), the result an executor reports for it, and the
 * JSON encoding of a WRESULT. The encoder writes JSON text directly (no cJSON
 * tree per result) because at 100,000 echo jobs/s the per-job cost matters; it
 * also turns bytes that are not valid UTF-8 (a program's binary output) into
 * U+FFFD so the frame stays valid JSON.
 */
#ifndef MTS_JOB_H
#define MTS_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "msg.h"

/* JOB_TYPED: a job of a worker type (typed.h); its input is the payload. */
enum job_kind { JOB_ECHO, JOB_EXEC, JOB_FUNC, JOB_TYPED, JOB_UNKNOWN };
enum job_state { JOB_QUEUED, JOB_RUNNING };

struct job_timer;
struct envcache;
struct envcache_ent;
struct job;
struct job_result;

/* Called by an executor exactly once per started job. The job is still valid
 * during the call; the callee usually frees it. */
typedef void (*job_done_fn)(void *arg, struct job *j, const struct job_result *r);

struct job {
	int64_t id;
	int attempt;
	enum job_kind kind;
	enum job_state state;
	double delay_s;   /* echo */
	double timeout_s; /* 0: none */
	int ranks;        /* exec: MPI ranks (slots it takes); 1 for others */
	const char *type; /* as sent, for the "unknown executor" error */
	const char *input;
	size_t input_len;
	const char *target; /* func: "/path/lib.so:function", or NULL */
	const char *cwd;    /* exec, or NULL */
	const char *opts;   /* the job's options as a JSON object text ("opts" of its
			     * assign: git, container, resources), or NULL */
	const char *gpus;   /* the ids of the GPUs the master gave it ("1,3"), or NULL */
	int gpus_amd;       /* ... AMD's: ROCR_VISIBLE_DEVICES names them too */
	int pin_cpus;       /* exec: bind its process to this many CPUs ("res":{"pin"}); 0: no */
	int res_cpus;       /* exec: the CPUs it asked for ("res":{"cpus"}: cpu.max); 0: none */
	uint64_t res_mem_b; /* exec: the memory it asked for ("res":{"mem"}: enforced); 0: none */
	const char **env;   /* exec: NULL-terminated "K=V" list, or NULL */
	size_t nenv;
	struct envcache_ent *envbase; /* exec: its environment snapshot (a reference), or NULL */
	uint32_t env_missing;         /* exec: the snapshot id it names that the worker lacks, or 0 */
	struct job *prev, *next; /* the worker's FIFO while queued */
	void *run;               /* executor state while running */
	struct job_timer *timer; /* the worker's delay/timeout timer, or NULL */
	int cancelling;          /* a revoke "cancel" arrived while running */
	double started_at;       /* unix time it started (this node's clock); 0 while queued */
	/* Set by whoever starts a job on someone else's behalf (typed.c's
	 * inner jobs): the executor reports it to done(done_arg, ...) instead
	 * of its own callback. NULL: the executor's. */
	job_done_fn done;
	void *done_arg;
	size_t capture_bytes; /* exec: keep this much of stdout and of stderr for the
				 result (job_result.errout); 0: 64 KiB of stdout only */
	unsigned char on_arrival; /* started in the turn its assign arrived */
	unsigned char start_told; /* the master was sent its start (started, or hello's held) */
	/* exec with a "git" option (gitstep.h); job_free drops them */
	struct gitstep_wait *gitwait; /* waiting for its checkout, or NULL */
	struct gitstep_ent *gitent;   /* the checkout it runs in (a reference), or NULL */
	char *gitcwd;                 /* its working directory in there (malloc'd; cwd points here) */
	uint64_t t0_ms; /* exec: uv_now() when its timeout began counting (the wait for its
			 * checkout: --timeout covers checkout, setup and run); 0: at its spawn */
	/* strings live here, after the struct */
};

/* What an executor reports when a job ends. output may be NULL. error is
 * NULL when ok. crashed: the job ended the process it ran in (a function
 * that crashed, aborted or exited its host), which the master counts
 * against the job's crash limit. */
struct job_result {
	int ok;
	const char *output;
	size_t output_len;
	const char *error;
	int rc;
	int crashed;
	const char *errout; /* exec with capture_bytes: its stderr; else NULL */
	size_t errout_len;
};

/* Report r for j: to j->done if set, else to dflt(arg, ...). */
static inline void job_report(struct job *j, job_done_fn dflt, void *arg, const struct job_result *r)
{
	if (j->done)
		j->done(j->done_arg, j, r);
	else
		dflt(arg, j, r);
}

/* Parse one WJOB object into a new job (one malloc; free with job_free()).
 * Its environment snapshot comes from envs (NULL: none): "envreset" first
 * empties the cache, "envdef" defines "envid" in it, and the job holds a
 * reference to that entry (job->env_missing if the id is unknown: the job
 * then fails at start, saying so). Returns NULL with err set if "id" is
 * missing or memory runs out. */
struct job *job_new(const msg *wjob, struct envcache *envs, char *err, size_t errlen);
void job_free(struct job *j);

/* 0 if the table of kind names is sorted (nametab_check): for the unit test. */
size_t job_kinds_check(void);

/* Append a WRESULT object for (id, attempt) to out ("crash":true only when
 * r->crashed). Returns 0 or -1 (OOM). */
int job_result_json(struct buf *out, int64_t id, int attempt, const struct job_result *r);

#endif
