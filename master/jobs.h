/* SPDX-License-Identifier: MIT */
/*
 * jobs: the life of a job in the master, independent of any connection --
 * admission (parse and check a batch of job objects, store them in the
 * turn's transaction, schedule them), cancellation and the final state.
 * The wire protocol's submit and cancel (clients.c), the HTTP service and
 * pipelines all go through here, so a job admitted by any of them is the
 * same job: durable with the turn's commit, scheduled fairly, its result
 * recorded once.
 */
#ifndef MTS_JOBS_H
#define MTS_JOBS_H

/* Retries of a job that does not say (nor its type). */
#define JOBS_RETRIES_DEFAULT 3

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct master;
struct client;
struct mjob;

/* jobs_admit's error classes (returned negated as its result). */
enum {
	JOBS_EBAD = 1,  /* a job or the defaults are malformed or refer to what does not exist */
	JOBS_EBUSY = 2, /* out of memory for the batch: try again later */
};

/* Admit a batch: jobs is a JSON array of job objects (docs/protocol.md,
 * submit), dflt NULL or an object of defaults they override. All or
 * nothing: on success every job is in the store's open transaction and in
 * the scheduler, owned by client c, with ids *first .. *first + n - 1
 * (n = msg_size(jobs)); returns 0. On failure nothing was stored, err has
 * one line naming the job ("job 3: ...") and the result is -JOBS_EBAD or
 * -JOBS_EBUSY. */
int jobs_admit(struct master *m, struct client *c, const msg *jobs, const msg *dflt, int64_t *first,
	       char *err, size_t n);

/* jobs_admit with the ids first .. first + n - 1 given (reserved by the
 * caller: a job array's members, arrays.h); next_id is left alone. */
int jobs_admit_at(struct master *m, struct client *c, const msg *jobs, const msg *dflt, int64_t first,
		  char *err, size_t n);

/* Cancel one job: 1 if it was unfinished (now cancelled, its worker told
 * to stop it), 0 if it is final already, -1 if no such id. */
int jobs_cancel(struct master *m, int64_t id);
/* Cancel every unfinished job (an O(1) mark in the store, rows rewritten
 * over the next turns): how many, or -1 with err. */
int64_t jobs_cancel_all(struct master *m, char *err, size_t n);

/* A job reached a final state: store it, queue its client's callback,
 * release its dependents (a failure fails them), free it. output, error
 * may be NULL; rc_set = 0: no exit code. */
void jobs_finalize(struct master *m, struct mjob *j, int state, const char *output, size_t output_len,
		   const char *error, int rc_set, int rc);

/* A typed job that cannot run (mindtrace's submit of a job type with no
 * route): recorded at once as failed with the output {"status":"error",
 * "output":{"error": why}}, its external id and Job object kept, not put
 * into the dead-letter queue. Its id, or -1 (store_errmsg). */
int64_t jobs_record_error(struct master *m, const char *ext, const char *jtype, const char *job_json,
			  const char *payload, const char *why);

/* One job object over optional defaults, parsed and checked exactly as
 * jobs_admit does (ids in "deps" included, not their existence): its
 * MJOB_* kind, or -1 with err set. For the fuzzer and the unit tests. */
int jobs_spec_check(const msg *dflt, const msg *job, char *err, size_t n);

/* v an array of integer ids: *out (malloc'd, NULL when empty) and *n;
 * -1 if v is not such an array. */
int jobs_read_ids(const msg *v, int64_t **out, size_t *n);
/* v an integer in [lo, hi]: 1 and *out set, else 0. */
int jobs_is_int(const msg *v, int64_t lo, int64_t hi, int64_t *out);
/* 0 if the table of job object fields (one parser per wire name) is
 * sorted by name without duplicates, else the index of the first entry out
 * of order (test_call). */
size_t jobs_fields_check(void);

#endif
