/* SPDX-License-Identifier: MIT */
/*
 * types: the service layer's registries, in memory and in state.db
 * (storesvc): job types -- where jobs of a type go (the workers of a
 * worker type, through the type's scheduler pool, or an HTTP endpoint),
 * the JSON Schema their input must satisfy -- and worker types -- how the
 * workers that serve a job type run its jobs (an executor and its
 * parameters). mindtrace's targeting, auto-connect and worker registry
 * are these two tables.
 *
 * Pools: every job type name gets a scheduler pool id (sched.h) the first
 * time the master sees it, kept for the master's life, so a type deleted
 * and registered again finds its queued jobs where it left them. Typed
 * jobs are owned by the client "@type:NAME" (whose sched_client is in the
 * type's pool); a worker launched from worker type W serves the pools of
 * the job types bound to W and of those bound to its URL
 * (register_job_to_worker).
 */
#ifndef MTS_TYPES_H
#define MTS_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct master;
struct client;
struct wrk;
struct call;
struct jschema;

#define TYPES_NAME_MAX 64
/* The client id prefix of the owners of typed jobs. */
#define TYPES_OWNER_PREFIX "@type:"

struct jobtype {
	char name[TYPES_NAME_MAX + 1];
	int endpoint;            /* 1: forwarded to url (the gateway), 0: queued for workers */
	char *worker_type;       /* queue mode: bound to this worker type, or NULL */
	char *url;               /* endpoint mode */
	char *schema_text;       /* NULL: inputs are not validated */
	struct jschema *schema;
	double timeout_s;        /* <= 0: none */
	int retries;             /* < 0: the default */
	uint32_t pool;
};

struct workertype {
	char name[TYPES_NAME_MAX + 1];
	char *executor; /* echo, exec, func, run-script */
	char *params;   /* JSON object text */
};

/* Load both tables from the store (at start, before the jobs). 0 or -1. */
int types_load(struct master *m, char *err, size_t n);
void types_release(struct master *m);

struct jobtype *types_job(struct master *m, const char *name);
struct workertype *types_worker(struct master *m, const char *name);
size_t types_njobs(const struct master *m);
struct jobtype *types_job_at(struct master *m, size_t i);
size_t types_nworkers(const struct master *m);
struct workertype *types_worker_at(struct master *m, size_t i);

/* The pool of job type name (assigned on first use), 0 on OOM. */
uint32_t types_pool(struct master *m, const char *name);
/* The client owning jobs of type name: "@type:NAME" in its pool. */
struct client *types_owner(struct master *m, const char *name);

/* Register (replace) or delete a job type / worker type: checked (a name
 * of 1..64 characters of [A-Za-z0-9_.-], a schema that compiles, an
 * executor with its parameters), stored in the turn's transaction,
 * applied in memory, and the workers' pools recomputed. 0, or -1 with err
 * (a refusal: nothing changed). del: 1 deleted, 0 unknown, -1 error. */
int types_put_job(struct master *m, const char *name, const char *worker_type, const char *url,
		  const msg *schema, double timeout_s, int retries, char *err, size_t n);
int types_del_job(struct master *m, const char *name, char *err, size_t n);
int types_put_worker(struct master *m, const char *name, const char *executor, const msg *params, char *err,
		     size_t n);
int types_del_worker(struct master *m, const char *name, char *err, size_t n);

/* Bind job type jobtype to the worker serving url (mindtrace's
 * register_job_to_worker), durably: a worker on that URL serves it, also
 * after a restart of either. 0, or -1 with err. */
int types_bind(struct master *m, const char *url, const char *jobtype, char *err, size_t n);
/* Forget every bind (clear_databases). */
void types_unbind_all(struct master *m);

/* Recompute the pools worker w serves (its worker type's job types and
 * its explicit binds); w serves pool 0 (plain jobs) only if it has no
 * worker type. */
void types_worker_pools(struct master *m, struct wrk *w);
/* Every connected worker's pools (after a type changed). */
void types_rebind_all(struct master *m);

/* Check a typed job's input against its type's schema: 0, or -1 with err
 * naming where and what. */
int types_validate(const struct jobtype *t, const msg *input, char *err, size_t n);

/* The wire requests: type_add, type_del, types, wtype_add, wtype_del,
 * wtypes (docs/protocol.md). */
void types_on_type_add(struct call *c, msg *m);
void types_on_type_del(struct call *c, msg *m);
void types_on_types(struct call *c, msg *m);
void types_on_wtype_add(struct call *c, msg *m);
void types_on_wtype_del(struct call *c, msg *m);
void types_on_wtypes(struct call *c, msg *m);
/* A job type / worker type as the `types` reply lists it (new object). */
msg *types_job_msg(const struct jobtype *t);
msg *types_worker_msg(const struct workertype *t);

#endif
