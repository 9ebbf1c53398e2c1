/* SPDX-License-Identifier: MIT */
/*
 * storesvc: the durable state of the HTTP service layer in the master's
 * store (state.db schema 6, docs/formats.md): job types (table jobtypes),
 * worker types (workertypes), typed jobs -- the job type, external id and
 * submitted Job object of a job that came in through the service layer, in
 * a side table (jobmeta) so that plain jobs pay nothing -- and the
 * dead-letter queue (a mark on jobmeta). Like store.h's write functions,
 * every write here goes into the turn's open transaction (it calls
 * store_begin) and so becomes durable with the turn's group commit; a
 * reply that depends on it waits for that commit as any other does.
 *
 * Strings passed in are bound without a copy: valid until the function
 * returns. Strings handed to a callback are borrowed for the duration of
 * the call. Callbacks of listings return non-zero to stop early.
 *
 * Return values: 0 or a count on success, -1 on a failure of the database
 * (store_errmsg; a write failure makes the turn's transaction roll back,
 * as in store.h), and STORESVC_REFUSED when the input itself is wrong (a
 * duplicate external id, a job type without its endpoint, params that are
 * not a JSON object ...): store_errmsg() then says what was wrong in one
 * line, nothing was written, and the turn's transaction goes on unharmed.
 */
#ifndef MTS_STORESVC_H
#define MTS_STORESVC_H

#include <stdint.h>

#include "store.h"

#define STORESVC_REFUSED (-2)

/* A job type: where jobs of this type go. */
struct store_jobtype {
	const char *name;
	const char *mode;        /* "queue": to a worker pool; "endpoint": forwarded over HTTP */
	const char *worker_type; /* queue: the worker type serving it, or NULL (any worker) */
	const char *endpoint;    /* endpoint: its URL (required there); NULL in queue mode */
	const char *schema;      /* JSON Schema text for the input, or NULL (not validated here) */
	double timeout_s;        /* <= 0: none */
	int retries;             /* < 0: none given */
	double created, updated; /* unix seconds (put ignores both) */
};

/* Register job type t->name, replacing an existing one of that name
 * (mindtrace's semantics) but keeping the time it was first created.
 * 0, STORESVC_REFUSED (empty name, mode neither queue nor endpoint, an
 * endpoint type without endpoint, a schema that is not JSON), or -1. */
int store_jobtype_put(struct store *s, const struct store_jobtype *t, double now);
/* 1 deleted, 0 no such type, -1 error. Jobs of the type keep its name. */
int store_jobtype_del(struct store *s, const char *name);
/* Call fn with the type called name: 1, 0 if there is none, -1 error. */
int store_jobtype_get(struct store *s, const char *name, int (*fn)(void *arg, const struct store_jobtype *t),
		      void *arg);
/* Call fn with every job type, by name. Returns how many it was called
 * with, or -1. */
int64_t store_jobtypes(struct store *s, int (*fn)(void *arg, const struct store_jobtype *t), void *arg);

/* A worker type: how to start the workers that serve a job type. */
struct store_workertype {
	const char *name;
	const char *executor;    /* echo, exec, func, run-script (checked by the caller) */
	const char *params;      /* JSON object text; NULL: "{}" */
	double created, updated; /* unix seconds (put ignores both) */
};

/* Register (or replace, keeping `created`) worker type t->name. 0,
 * STORESVC_REFUSED (empty name or executor, params not a JSON object), -1. */
int store_workertype_put(struct store *s, const struct store_workertype *t, double now);
/* 1 deleted, 0 no such type, -1 error. */
int store_workertype_del(struct store *s, const char *name);
/* 1 (fn called), 0 no such type, -1 error. */
int store_workertype_get(struct store *s, const char *name,
			 int (*fn)(void *arg, const struct store_workertype *t), void *arg);
/* Every worker type, by name: how many, or -1. */
int64_t store_workertypes(struct store *s, int (*fn)(void *arg, const struct store_workertype *t), void *arg);

/* A typed job's service metadata (table jobmeta). */
struct store_meta {
	int64_t id;        /* jobs.id */
	const char *ext;   /* external id (a mindtrace job's uuid), or NULL */
	const char *jtype; /* its job type's name */
	const char *job;   /* the submitted Job object as JSON text, or NULL */
	int dlq;           /* 1: in the dead-letter queue */
	double dlq_at;     /* when it entered it (unix seconds), < 0: not in it */
};

/* Make job id a typed job of type jtype, with external id ext (NULL:
 * none) and its Job object job_json (NULL: none). Call it in the turn that
 * stores the job (store_insert), before store_insert: a refusal then leaves
 * no row to undo. 0; STORESVC_REFUSED if ext is already another job's (the
 * message names that job; look it up first with store_meta_find_ext to
 * reuse the record as mindtrace does), if job id already has metadata, or
 * jtype is empty; -1. */
int store_meta_add(struct store *s, int64_t id, const char *ext, const char *jtype, const char *job_json);
/* The id of the job with external id ext: > 0, 0 if unknown, -1 error. */
int64_t store_meta_find_ext(struct store *s, const char *ext);
/* Call fn with job id's metadata: 1, 0 if it is not a typed job, -1. */
int store_meta_get(struct store *s, int64_t id, int (*fn)(void *arg, const struct store_meta *m), void *arg);

/* The dead-letter queue: typed jobs that ended failed, kept there until
 * they are requeued or discarded. */

/* Put job id into the DLQ: call it after store_finish(..., MJOB_FAILED,
 * ...) of a typed job, in the same turn. 1 (it is in the DLQ; one already
 * there keeps the time it entered), 0 if id is not a typed job whose row
 * says failed, -1. */
int store_dlq_add(struct store *s, int64_t id, double now);
/* Call fn for each job in the DLQ with an id above `after` (0: from the
 * start), in id order (oldest job first), with its metadata and its jobs
 * row (state, error, output, times; strings borrowed for the call).
 * Returns how many, or -1. */
int64_t store_dlq(struct store *s, int64_t after,
		  int (*fn)(void *arg, const struct store_meta *m, const struct store_rec *r), void *arg);
/* Take job id out of the DLQ; it stays failed. 1, 0 if it is not in the
 * DLQ, -1. */
int store_dlq_discard(struct store *s, int64_t id);
/* Queue job id of the DLQ again under the same id: its row goes back to
 * queued (attempts and crashes 0; worker, started, finished, output, error
 * and rc NULL), the `counts` total of its final state drops by one, and it
 * leaves the DLQ, all in the turn's transaction. Before writing, fn (if not
 * NULL) is called with the job as store_load would now load it (state
 * queued, attempts 0, its job type in r->jtype): that is where the master
 * puts it back into its scheduler. If fn returns non-zero nothing is
 * written and -1 returned. 1 requeued; 0 not in the DLQ; STORESVC_REFUSED
 * if its id is below the last `cancel --all` (the row would read as
 * cancelled: submit it again instead); -1. */
int store_dlq_requeue(struct store *s, int64_t id, int (*fn)(void *arg, const struct store_row *r), void *arg);

/* mindtrace's clear_databases, which empties its routing (targeting and
 * auto-connect), job status and DLQ tables but not the worker types (those
 * live in its registry). Deletes, in the turn's transaction:
 *  - every job type (table jobtypes); worker types stay;
 *  - the metadata of every typed job that is final (completed, failed,
 *    cancelled, or below the cancel --all mark), and with it its DLQ entry;
 *  - the jobs rows of those jobs, with the `counts` totals lowered by as
 *    many -- except, as store_forget, the newest row of the table (ids
 *    count on from it) and rows a queued or running job depends on: those
 *    stay as plain jobs.
 * Queued and running jobs, typed or not, and plain jobs are never touched.
 * Returns how many typed jobs were cleared, or -1. */
int64_t store_svc_clear(struct store *s);

/* Settings of the service layer that outlive the master (mindtrace keeps
 * them in memory only): key -> value text, in the meta table under
 * "svc:KEY". set: value NULL deletes. 0, or -1. settings: fn with every
 * key starting with prefix (the key given without "svc:") and its value,
 * in key order; how many, or -1. */
int store_svc_set(struct store *s, const char *key, const char *value);
int64_t store_svc_settings(struct store *s, const char *prefix,
			   int (*fn)(void *arg, const char *key, const char *value), void *arg);

#endif
