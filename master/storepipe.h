/* SPDX-License-Identifier: MIT */
/*
 * storepipe: pipelines in the master's store (state.db schema 7,
 * docs/formats.md): table pipelines (a pipeline's file as stored, its state
 * and when it started and ended), piperuns (the pipeline and stage of each
 * run of job ids admitted together; pipejobs, one row per job, from older
 * masters is still read; the jobs themselves are ordinary rows of `jobs`) and
 * pipeitems (items waiting for a reducing stage). Every write goes into the
 * turn's open transaction (store_begin), so the end of a stage's job and
 * the admission of the jobs it feeds are one commit.
 *
 * Strings passed in are bound without a copy (valid until the call
 * returns); strings handed to callbacks are borrowed for the call.
 * Functions return 0 or a count, or -1 with store_errmsg().
 */
#ifndef MTS_STOREPIPE_H
#define MTS_STOREPIPE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* One row of pipelines. state: 0 running, 2 completed, 3 failed, 4
 * cancelled (the job state numbers). */
struct store_pipeline {
	int64_t id;
	const char *name, *spec, *client, *error;
	int state;
	double created, finished; /* finished < 0: not yet */
	int64_t items;            /* items given to its first stage */
	const char *token;        /* the run request's token (add only; NULL: none) */
};

int store_pipeline_add(struct store *s, const struct store_pipeline *p);
int store_pipeline_end(struct store *s, int64_t id, int state, double finished, const char *error);
/* The pipeline started by the run request of this token (a request sent
 * again after a lost reply), 0 if none, -1 on error. */
int64_t store_pipeline_by_token(struct store *s, const char *token);
/* The largest pipeline id, 0 if none, -1 on error. */
int64_t store_pipeline_max_id(struct store *s);
/* Call fn with pipeline id (id > 0), or the `limit` newest (id 0), or
 * those still running (id -1), in id order (newest first for id 0).
 * Returns rows or -1; fn returns non-zero to stop. */
int64_t store_pipelines(struct store *s, int64_t id, int64_t limit,
			int (*fn)(void *arg, const struct store_pipeline *p), void *arg);

/* The n jobs first .. first + n - 1 are of stage `stage` of pipeline
 * `pipeline`: one piperuns row for the whole run of ids (a batch of
 * admissions, pipeline_flush), whatever n. */
int store_pipejob_add_range(struct store *s, int64_t first, int64_t n, int64_t pipeline, int stage);
/* Per stage and state the jobs of a pipeline: fn(arg, stage, state, n)
 * for each group; a job below a cancel-all mark counts as cancelled.
 * Returns groups or -1. */
int64_t store_pipejob_counts(struct store *s, int64_t pipeline,
			     void (*fn)(void *arg, int stage, int state, int64_t n), void *arg);
/* Ids of the pipeline's unfinished jobs into *ids (malloc'd) and *n. 0/-1. */
int store_pipejob_live(struct store *s, int64_t pipeline, int64_t **ids, size_t *n);
/* Completed jobs of a stage with id above `after`, in id order, at most
 * limit: fn(arg, id, output, len). Returns rows or -1. */
int64_t store_pipejob_outputs(struct store *s, int64_t pipeline, int stage, int64_t after, int64_t limit,
			      int (*fn)(void *arg, int64_t id, const char *output, size_t len), void *arg);

/* An item waiting for reducing stage `stage`. */
int store_pipeitem_add(struct store *s, int64_t pipeline, int stage, const char *item);
/* The stage's waiting items in the order they came (fn per item), then
 * deleted when take is non-zero. Returns items or -1. */
int64_t store_pipeitems(struct store *s, int64_t pipeline, int stage, int take,
			int (*fn)(void *arg, const char *item), void *arg);

#endif
