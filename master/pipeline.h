/* SPDX-License-Identifier: MIT */
/*
 * pipeline: chains of stages connected by queues (clusterer's pipelines),
 * run by the master on its ordinary jobs. Each stage of a running pipeline
 * is a client of its own, "@pipe:ID:K", whose queue is the stage's queue;
 * the scheduler's per-client limits (sched_client_limit) give it at most
 * `instances` jobs running at once, and hold it back while the next
 * stage's queue is at its `max_queued` bound (backpressure).
 *
 * The life of an item: a job of stage K completes (jobs_finalize calls
 * pipeline_job_final); its output is split into items (one, or one per
 * element of a JSON array for a fan_out stage); each becomes a job of stage
 * K+1 admitted through jobs_admit -- the path a client's submit takes --
 * together with the other items of the turn for that stage (pipeline_flush,
 * before the turn's commit) and recorded in piperuns, or, for a reducing stage, an item kept in
 * pipeitems until every stage before it is done, when one job gets them
 * all. All of it is written in the turn's transaction, with the row that
 * records the completion: one commit. So a master killed at any moment
 * either has the completion and the jobs it fed, or neither (the worker
 * sends the result again to the next master): no item lost, none admitted
 * twice. docs/user-guide.md, "Pipelines", is the user's side of this.
 */
#ifndef MTS_PIPELINE_H
#define MTS_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct master;
struct client;
struct call;

/* The client id prefix of pipeline stages. */
#define PIPELINE_OWNER_PREFIX "@pipe:"
/* An item of at most this many bytes is also given to an exec stage's
 * job in MTSLURM_ITEM (the kernel caps one variable at 128 KiB). */
#define PIPELINE_ITEM_ENV_MAX (64u << 10)

/* Load the running pipelines and their counts (at start, before the
 * jobs: their stage clients are made as the jobs load). 0, or -1 with err. */
int pipeline_load(struct master *m, char *err, size_t n);
void pipeline_release(struct master *m);

/* Start a pipeline from a pipeline file (len bytes of JSON) for the client
 * owner: checked (pipespec_parse), stored and its first stage's jobs
 * admitted, all in the turn's transaction. token (NULL: none) names the
 * request, so that one sent again finds this pipeline. 0 with *id, or -1
 * with err (a refusal: nothing stored). */
int pipeline_start(struct master *m, const char *json, size_t len, const char *owner, const char *token,
		   int64_t *id, char *err, size_t n);
/* Cancel pipeline id: its unfinished jobs are cancelled and it ends
 * cancelled. 1 done, 0 it had ended already, -1 no such pipeline. */
int pipeline_cancel(struct master *m, int64_t id, int64_t *jobs);

/* Once per turn, before dispatch: set each stage's limits (instances, and
 * held while the next stage's queue is at its bound), and end pipelines
 * whose jobs all ended some other way (cancel --all). */
void pipeline_pace(struct master *m);

/* c's job id reached state (jobs_finalize, after the scheduler let go of
 * it); output is its output. No-op unless c is a pipeline stage. The
 * items it gives the next stage wait in memory for pipeline_flush. */
void pipeline_job_final(struct master *m, struct client *c, int64_t id, int state, const char *output,
			size_t output_len);
/* Admit the next-stage jobs that this turn's completions gave, one batch
 * per stage (one jobs_admit, one piperuns row). Called before every
 * commit of the turn's transaction (on_check, the start's and the
 * shutdown's commits), so a completion and the jobs it feeds are still
 * one commit. */
void pipeline_flush(struct master *m);

/* The wire requests pipeline_run, pipeline_status, pipeline_cancel,
 * pipeline_results (docs/protocol.md). */
void pipeline_on_run(struct call *c, msg *m);
void pipeline_on_status(struct call *c, msg *m);
void pipeline_on_cancel(struct call *c, msg *m);
void pipeline_on_results(struct call *c, msg *m);

#endif
