/* SPDX-License-Identifier: MIT */
/*
 * mtjob: mindtrace's job endpoints on the master -- submit_job,
 * get_job_status, the dead-letter queue (get_dlq_jobs, requeue_from_dlq,
 * discard_from_dlq), clear_databases, clear_job_schema_queue and the
 * workers' job alerts -- and the JobStatus record they answer with, built
 * from the typed job's metadata (storesvc), its row and its live state.
 */
#ifndef MTS_MTJOB_H
#define MTS_MTJOB_H

#include "call.h"

struct master;

void mtjob_submit(struct call *c, msg *m);
void mtjob_status(struct call *c, msg *m);
void mtjob_dlq_list(struct call *c, msg *m);
void mtjob_dlq_requeue(struct call *c, msg *m);
void mtjob_dlq_discard(struct call *c, msg *m);
void mtjob_clear(struct call *c, msg *m);
void mtjob_clear_queue(struct call *c, msg *m);
void mtjob_alert_started(struct call *c, msg *m);
void mtjob_alert_completed(struct call *c, msg *m);
/* The wire requests dlq, dlq_requeue and dlq_discard (the CLI's dlq). */
void mtjob_on_dlq(struct call *c, msg *m);
void mtjob_on_dlq_requeue(struct call *c, msg *m);
void mtjob_on_dlq_discard(struct call *c, msg *m);

/* The JobStatus of job id (a new object), or NULL if it is not a typed
 * job. */
msg *mtjob_status_of(struct master *m, int64_t id);
/* The mindtrace job id (external id) of job id into out ("" if none). */
void mtjob_ext_of(struct master *m, int64_t id, char *out, size_t n);
/* Unix time t as mindtrace writes times: naive local ISO 8601 with
 * microseconds, "2026-05-29T12:00:00.123456". */
void mtjob_iso(double t, char *out, size_t n);

#endif
