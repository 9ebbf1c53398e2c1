/* SPDX-License-Identifier: MIT */
/*
 * pipeline: running pipelines in the master (see pipeline.h). A running
 * pipeline is kept in memory with its parsed file and, per stage, how many
 * jobs were admitted and how many ended in each final state -- enough to
 * know its queue and whether it is done without reading the store; a
 * pipeline that ended lives on in state.db only, where `pipeline status`
 * reads it. Counts are rebuilt from the store at a start, and whenever the
 * scheduler holds none of a pipeline's jobs while the counts say some are
 * unfinished (they were cancelled by a cancel --all, which ends jobs
 * without jobs_finalize).
 */
#include "pipeline.h"
#include "master.h"
#include "storepipe.h"
#include "types.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pipespec.h"
#include "util.h"

struct pstage {
	int64_t jobs;   /* admitted so far */
	int64_t fin[5]; /* of those, ended in state 2, 3, 4 */
};

/* Items (owned strings). */
struct items {
	char **v;
	size_t n, cap;
	int oom;
};

struct pipeline {
	int64_t id;
	struct pipespec spec;
	struct pstage *st;
	struct items *pend; /* per stage: items of jobs to admit at the turn's end (pipeline_flush) */
	int cancelled;
	int busy;        /* pipeline_cancel is walking its jobs: it must not end under it */
	char error[300]; /* why an admission failed ("" if none did) */
};

struct pipelines {
	struct pipeline **v; /* running ones, by id */
	size_t n, cap;
	int64_t next_id;
	int pending; /* some pipeline has items in pend */
};

/* ---- the registry ---- */

static struct pipelines *reg(struct master *m)
{
	if (!m->pipelines)
		m->pipelines = calloc(1, sizeof *m->pipelines);
	return m->pipelines;
}

static struct pipeline *find(struct master *m, int64_t id)
{
	struct pipelines *r = m->pipelines;
	size_t lo = 0, hi = r ? r->n : 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->v[mid]->id == id)
			return r->v[mid];
		if (r->v[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void items_clear(struct items *it)
{
	pipespec_items_free(it->v, it->n);
	memset(it, 0, sizeof *it);
}

/* Append item, whose ownership passes to it (freed here on OOM). */
static int items_push(struct items *it, char *item)
{
	if (it->n == it->cap) {
		size_t cap = it->cap ? it->cap * 2 : 64;
		char **v = realloc(it->v, cap * sizeof *v);
		if (!v) {
			free(item);
			return it->oom = 1;
		}
		it->v = v;
		it->cap = cap;
	}
	it->v[it->n++] = item;
	return 0;
}

static void pl_free(struct pipeline *pl)
{
	if (!pl)
		return;
	for (size_t k = 0; pl->pend && k < pl->spec.nstages; k++)
		items_clear(&pl->pend[k]);
	free(pl->pend);
	pipespec_release(&pl->spec);
	free(pl->st);
	free(pl);
}

/* The per-stage arrays of a parsed pipeline. 0 or -1 (OOM). */
static int pl_alloc(struct pipeline *pl)
{
	pl->st = calloc(pl->spec.nstages, sizeof *pl->st);
	pl->pend = calloc(pl->spec.nstages, sizeof *pl->pend);
	return pl->st && pl->pend ? 0 : -1;
}

/* A pipeline from its stored file, with zero counts. NULL with err. */
static struct pipeline *pl_new(int64_t id, const char *spec, size_t len, char *err, size_t n)
{
	struct pipeline *pl = calloc(1, sizeof *pl);
	if (!pl)
		return snprintf(err, n, "out of memory"), NULL;
	pl->id = id;
	if (pipespec_parse(&pl->spec, spec, len, err, n)) {
		free(pl);
		return NULL;
	}
	if (pl_alloc(pl)) {
		snprintf(err, n, "out of memory");
		pl_free(pl);
		return NULL;
	}
	return pl;
}

/* Ids grow, so a new pipeline goes at the end. */
static int pl_add(struct master *m, struct pipeline *pl)
{
	struct pipelines *r = reg(m);
	if (!r)
		return -1;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 8;
		struct pipeline **v = realloc(r->v, cap * sizeof *v);
		if (!v)
			return -1;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = pl;
	return 0;
}

static void pl_remove(struct master *m, struct pipeline *pl)
{
	struct pipelines *r = m->pipelines;
	for (size_t i = 0; r && i < r->n; i++)
		if (r->v[i] == pl) {
			memmove(&r->v[i], &r->v[i + 1], (r->n - i - 1) * sizeof r->v[0]);
			r->n--;
			break;
		}
	pl_free(pl);
}

void pipeline_release(struct master *m)
{
	struct pipelines *r = m->pipelines;
	for (size_t i = 0; r && i < r->n; i++)
		pl_free(r->v[i]);
	if (r)
		free(r->v);
	free(r);
	m->pipelines = NULL;
}

/* ---- stages and their clients ---- */

static void stage_cid(char out[MASTER_CID_MAX + 1], int64_t id, size_t k)
{
	snprintf(out, MASTER_CID_MAX + 1, PIPELINE_OWNER_PREFIX "%lld:%zu", (long long)id, k);
}

/* Pipeline id and stage of a stage client's id; 0, or -1 for another id. */
static int stage_of(const char *cid, int64_t *id, size_t *k)
{
	size_t pl = strlen(PIPELINE_OWNER_PREFIX);
	if (strncmp(cid, PIPELINE_OWNER_PREFIX, pl) != 0)
		return -1;
	/* strtoll, not sscanf: this runs for every job a stage finishes, and
	 * sscanf's setup cost was 1-2 % of the master's CPU in a pipeline of
	 * echo stages */
	char *end;
	errno = 0;
	long long a = strtoll(cid + pl, &end, 10);
	if (errno || end == cid + pl || *end != ':' || end[1] < '0' || end[1] > '9')
		return -1;
	const char *s = end + 1;
	unsigned long b = strtoul(s, &end, 10);
	if (errno || *end)
		return -1;
	*id = a;
	*k = b;
	return 0;
}

/* Unfinished jobs of stage k, those still to be admitted this turn
 * included (so that nothing ends the pipeline under them). */
static int64_t live(const struct pipeline *pl, size_t k)
{
	const struct pstage *s = &pl->st[k];
	return s->jobs + (int64_t)pl->pend[k].n - s->fin[MJOB_COMPLETED] - s->fin[MJOB_FAILED] -
	       s->fin[MJOB_CANCELLED];
}

/* Stage k's client; made if create. A typed stage's client is in its job
 * type's scheduler pool, so that its jobs go to the workers of that type
 * while the stage keeps them (its limits, pipeline_job_final). */
static struct client *stage_client(struct master *m, const struct pipeline *pl, size_t k, int create)
{
	char cid[MASTER_CID_MAX + 1];
	stage_cid(cid, pl->id, k);
	struct client *c = clients_get(m, cid, create);
	const struct pipespec_stage *s = &pl->spec.stages[k];
	if (c && create && s->kind == PIPESPEC_TYPED && !c->sc.pool)
		c->sc.pool = types_pool(m, s->run);
	return c;
}

/* A typed stage's job type must be registered and served by workers (an
 * endpoint type's jobs leave the master: no stage could follow them).
 * 0, or -1 with err. */
static int stage_type_check(struct master *m, const struct pipespec_stage *s, char *err, size_t n)
{
	if (s->kind != PIPESPEC_TYPED)
		return 0;
	const struct jobtype *t = types_job(m, s->run);
	if (!t)
		return snprintf(err, n, "stage %s: unknown job type \"%s\"; register it first (mtslurm type add %s "
				"--worker-type W; mtslurm types lists them)", s->name, s->run, s->run), -1;
	if (t->endpoint)
		return snprintf(err, n, "stage %s: job type \"%s\" is forwarded to an endpoint; a pipeline stage "
				"needs a job type served by workers (--worker-type)", s->name, s->run), -1;
	return 0;
}

/* Jobs of stage k waiting in its queue (not assigned to a worker). */
static int64_t queued(struct master *m, const struct pipeline *pl, size_t k)
{
	struct client *c = stage_client(m, pl, k, 0);
	int64_t q = live(pl, k) - (c ? (int64_t)c->sc.nrun : 0);
	return q > 0 ? q : 0;
}

/* Backpressure: stage k waits while the next stage's queue is at its bound. */
static int held(struct master *m, const struct pipeline *pl, size_t k)
{
	if (k + 1 >= pl->spec.nstages)
		return 0;
	uint32_t bound = pl->spec.stages[k + 1].max_queued;
	return bound && queued(m, pl, k + 1) >= (int64_t)bound;
}

static void stage_limit(struct master *m, const struct pipeline *pl, size_t k, struct client *c)
{
	sched_client_limit(&m->sched, &c->sc, pl->spec.stages[k].instances, pl->cancelled || held(m, pl, k));
}

/* ---- admission ---- */

/* The job object for one item of stage k (docs/protocol.md, JOB). */
static msg *job_object(const struct pipeline *pl, size_t k, const char *item)
{
	const struct pipespec_stage *s = &pl->spec.stages[k];
	msg *o = msg_new_object();
	if (s->kind == PIPESPEC_EXEC) {
		char *cmd = pipespec_command(s->run, item);
		msg_set_str(o, "type", "exec");
		msg_set_str(o, "input", cmd ? cmd : "");
		free(cmd);
		if (s->cwd)
			msg_set_str(o, "cwd", s->cwd);
		msg *env = s->env_json ? msg_parse(s->env_json, strlen(s->env_json), NULL, 0) : msg_new_array();
		struct buf b = BUF_INIT;
		if (strlen(item) <= PIPELINE_ITEM_ENV_MAX && buf_addf(&b, "MTSLURM_ITEM=%s", item) == 0)
			msg_push(env, msg_new_str(b.p));
		buf_reset(&b);
		buf_addf(&b, "MTSLURM_PIPELINE=%lld", (long long)pl->id);
		msg_push(env, msg_new_str(b.p));
		buf_reset(&b);
		buf_addf(&b, "MTSLURM_STAGE=%s", s->name);
		msg_push(env, msg_new_str(b.p));
		buf_release(&b);
		msg_add(o, "env", env);
	} else if (s->kind == PIPESPEC_TYPED) {
		msg_set_str(o, "jobtype", s->run);
		msg *payload = pipespec_payload(item, s->item_field);
		if (!payload || msg_add(o, "input", payload)) {
			msg_free(o);
			return NULL;
		}
	} else if (s->kind == PIPESPEC_ECHO) {
		msg_set_str(o, "type", "echo");
		msg_set_str(o, "input", item);
		if (s->delay_s > 0)
			msg_set_num(o, "delay", s->delay_s);
	} else {
		msg_set_str(o, "type", "func");
		msg_set_str(o, "target", s->run);
		msg_set_str(o, "input", item);
	}
	if (s->timeout_s > 0)
		msg_set_num(o, "timeout", s->timeout_s);
	if (s->retries >= 0)
		msg_set_int(o, "retries", s->retries);
	return o;
}

/* One batch: a job of stage k per item, owned by the stage's client,
 * admitted together (one jobs_admit, one pipejobs statement for their run
 * of ids). 0, or -1 with err (nothing admitted). */
static int admit_batch(struct master *m, struct pipeline *pl, size_t k, char *const *items, size_t n, char *err,
		       size_t errlen)
{
	msg *arr = msg_new_array();
	for (size_t i = 0; arr && i < n; i++)
		if (msg_push(arr, job_object(pl, k, items[i])))
			break;
	if (stage_type_check(m, &pl->spec.stages[k], err, errlen)) {
		msg_free(arr);
		return -1;
	}
	struct client *c = stage_client(m, pl, k, 1);
	int64_t first = 0;
	int rc = -1;
	snprintf(err, errlen, "out of memory");
	if (c && arr && msg_size(arr) == n) {
		stage_limit(m, pl, k, c);
		rc = jobs_admit(m, c, arr, NULL, &first, err, errlen);
	}
	msg_free(arr);
	if (rc) {
		if (c)
			clients_maybe_free(c);
		return -1;
	}
	/* a failure fails the commit (the jobs above with it) */
	store_pipejob_add_range(m->store, first, (int64_t)n, pl->id, (int)k);
	pl->st[k].jobs += (int64_t)n;
	return 0;
}

/* Admit one job of stage k per item and record their stage: all in one
 * batch, or -- when the batch is refused, e.g. one item's payload fails its
 * job type's schema -- one by one, so that only the refused items are
 * lost. 0, or -1 with pl->error set (items lost: the pipeline will end
 * failed, saying why). */
static int admit(struct master *m, struct pipeline *pl, size_t k, char *const *items, size_t n)
{
	char err[300];
	if (!n || admit_batch(m, pl, k, items, n, err, sizeof err) == 0)
		return 0;
	size_t lost = n;
	if (n > 1) {
		char one[300];
		lost = 0;
		for (size_t i = 0; i < n; i++)
			if (admit_batch(m, pl, k, &items[i], 1, one, sizeof one) && !lost++)
				memcpy(err, one, sizeof err);
	}
	if (!lost)
		return 0;
	snprintf(pl->error, sizeof pl->error, "stage %s: %zu items lost: %.180s", pl->spec.stages[k].name, lost, err);
	log_error("pipeline %lld: %s", (long long)pl->id, pl->error);
	return -1;
}

static int item_take(void *arg, const char *item)
{
	char *d = strdup(item);
	return d ? items_push(arg, d) : (((struct items *)arg)->oom = 1);
}

/* Reducing stage r: every stage before it is done, so its one job gets
 * the items kept for it. */
static void reduce(struct master *m, struct pipeline *pl, size_t r)
{
	struct items it = {0};
	char *input = NULL;
	if (store_pipeitems(m->store, pl->id, (int)r, 1, item_take, &it) >= 0 && !it.oom)
		input = pipespec_reduce_input(it.v, it.n);
	if (input)
		admit(m, pl, r, &input, 1);
	else
		snprintf(pl->error, sizeof pl->error, "stage %s: cannot gather its items: %s", pl->spec.stages[r].name,
			 it.oom ? "out of memory" : store_errmsg(m->store));
	free(input);
	pipespec_items_free(it.v, it.n);
}

/* ---- the end ---- */

static void finish(struct master *m, struct pipeline *pl)
{
	int64_t failed = 0, done = 0;
	for (size_t k = 0; k < pl->spec.nstages; k++) {
		failed += pl->st[k].fin[MJOB_FAILED] + pl->st[k].fin[MJOB_CANCELLED];
		done += pl->st[k].fin[MJOB_COMPLETED];
	}
	int state = pl->cancelled ? MJOB_CANCELLED : failed || pl->error[0] ? MJOB_FAILED : MJOB_COMPLETED;
	const char *why = pl->error[0] ? pl->error : NULL;
	char text[80];
	if (!why && state == MJOB_FAILED) {
		snprintf(text, sizeof text, "%lld jobs failed or were cancelled", (long long)failed);
		why = text;
	}
	store_pipeline_end(m->store, pl->id, state, util_wall(), why);
	log_info("pipeline %lld %s: %lld jobs completed, %lld failed or cancelled", (long long)pl->id,
		 mjob_state_name(state), (long long)done, (long long)failed);
	pl_remove(m, pl);
}

/* After something ended: run a reducing stage whose inputs are all in,
 * end the pipeline once nothing of it is unfinished. */
static void advance(struct master *m, struct pipeline *pl)
{
	if (pl->busy)
		return;
	int64_t before = 0; /* unfinished jobs of the stages before k */
	for (size_t k = 0; k < pl->spec.nstages; k++) {
		if (pl->spec.stages[k].reduce && !pl->st[k].jobs && !before && !pl->cancelled && !pl->error[0]) {
			reduce(m, pl, k);
			return; /* its job is unfinished now (or the pipeline failed: next time) */
		}
		before += live(pl, k);
	}
	if (!before)
		finish(m, pl);
}

/* ---- counts from the store ---- */

static void count_row(void *arg, int stage, int state, int64_t n)
{
	struct pipeline *pl = arg;
	if (stage < 0 || (size_t)stage >= pl->spec.nstages)
		return;
	pl->st[stage].jobs += n;
	if (state >= MJOB_COMPLETED && state <= MJOB_CANCELLED)
		pl->st[stage].fin[state] += n;
}

static int recount(struct master *m, struct pipeline *pl)
{
	memset(pl->st, 0, pl->spec.nstages * sizeof *pl->st);
	return store_pipejob_counts(m->store, pl->id, count_row, pl) < 0 ? -1 : 0;
}

struct loadctx {
	struct master *m;
	char *err;
	size_t n;
	int rc;
};

static int load_row(void *arg, const struct store_pipeline *p)
{
	struct loadctx *L = arg;
	char why[300];
	struct pipeline *pl = pl_new(p->id, p->spec ? p->spec : "", p->spec ? strlen(p->spec) : 0, why, sizeof why);
	if (!pl || recount(L->m, pl) || pl_add(L->m, pl)) {
		snprintf(L->err, L->n, "pipeline %lld: %s", (long long)p->id, pl ? store_errmsg(L->m->store) : why);
		pl_free(pl);
		return L->rc = -1;
	}
	pl->cancelled = p->state == MJOB_CANCELLED;
	/* Typed stages' clients now, in their pools, before their jobs load
	 * (whose owner the load finds by client id). */
	for (size_t k = 0; k < pl->spec.nstages; k++)
		if (pl->spec.stages[k].kind == PIPESPEC_TYPED && !stage_client(L->m, pl, k, 1))
			return snprintf(L->err, L->n, "pipeline %lld: out of memory", (long long)p->id), L->rc = -1;
	return 0;
}

int pipeline_load(struct master *m, char *err, size_t n)
{
	struct pipelines *r = reg(m);
	int64_t max = store_pipeline_max_id(m->store);
	if (!r || max < 0)
		return snprintf(err, n, "cannot read the pipelines: %s", r ? store_errmsg(m->store) : "out of memory"), -1;
	r->next_id = max + 1;
	struct loadctx L = {m, err, n, 0};
	if (store_pipelines(m->store, -1, 0, load_row, &L) < 0 || L.rc)
		return L.rc ? -1 : (snprintf(err, n, "cannot read the pipelines: %s", store_errmsg(m->store)), -1);
	if (r->n)
		log_info("loaded %zu running pipelines", r->n);
	return 0;
}

/* ---- the transport-neutral core ---- */

int pipeline_start(struct master *m, const char *json, size_t len, const char *owner, const char *token,
		   int64_t *id, char *err, size_t n)
{
	struct pipelines *r = reg(m);
	if (!r)
		return snprintf(err, n, "out of memory"), -1;
	struct pipeline *pl = calloc(1, sizeof *pl);
	if (!pl)
		return snprintf(err, n, "out of memory"), -1;
	if (pipespec_parse(&pl->spec, json, len, err, n)) {
		free(pl);
		return -1;
	}
	for (size_t k = 0; k < pl->spec.nstages; k++)
		if (stage_type_check(m, &pl->spec.stages[k], err, n)) {
			pipespec_release(&pl->spec);
			free(pl);
			return -1;
		}
	pl->id = r->next_id;
	if (pl_alloc(pl) || pl_add(m, pl)) {
		pl_free(pl);
		return snprintf(err, n, "out of memory"), -1;
	}
	r->next_id++;
	struct store_pipeline row = {.id = pl->id, .name = pl->spec.name, .spec = pl->spec.text, .client = owner,
				     .created = util_wall(), .items = pl->spec.has_input ? (int64_t)pl->spec.nitems : 1,
				     .token = token};
	store_pipeline_add(m->store, &row); /* a failure fails the commit: nothing is acknowledged */
	char *none = "";
	if (pl->spec.has_input)
		admit(m, pl, 0, pl->spec.items, pl->spec.nitems);
	else
		admit(m, pl, 0, &none, 1); /* a generator: one job with an empty item */
	/* the items are jobs now: no need to hold them twice */
	pipespec_items_free(pl->spec.items, pl->spec.nitems);
	pl->spec.items = NULL;
	pl->spec.nitems = 0;
	*id = pl->id;
	log_info("pipeline %lld%s%s started: %zu stages, %lld first items", (long long)pl->id, pl->spec.name[0] ? " " : "",
		 pl->spec.name, pl->spec.nstages, (long long)pl->st[0].jobs);
	advance(m, pl); /* an empty input: nothing to wait for */
	return 0;
}

static int row_seen(void *arg, const struct store_pipeline *p)
{
	(void)p;
	(*(int *)arg)++;
	return 1;
}

int pipeline_cancel(struct master *m, int64_t id, int64_t *njobs)
{
	*njobs = 0;
	struct pipeline *pl = find(m, id);
	if (!pl) {
		int seen = 0;
		return id > 0 && store_pipelines(m->store, id, 1, row_seen, &seen) > 0 && seen ? 0 : -1;
	}
	pl->cancelled = 1;
	pl->busy = 1; /* each cancel below comes back through pipeline_job_final */
	for (size_t k = 0; k < pl->spec.nstages; k++)
		items_clear(&pl->pend[k]); /* not admitted yet: never will be */
	int64_t *ids = NULL;
	size_t n = 0;
	if (store_pipejob_live(m->store, id, &ids, &n))
		log_error("pipeline %lld: cannot list its jobs: %s", (long long)id, store_errmsg(m->store));
	for (size_t i = 0; i < n; i++)
		if (jobs_cancel(m, ids[i]) == 1)
			(*njobs)++;
	free(ids);
	/* Items waiting for a reducing stage will never be used. */
	for (size_t k = 0; k < pl->spec.nstages; k++)
		if (pl->spec.stages[k].reduce && !pl->st[k].jobs)
			store_pipeitems(m->store, id, (int)k, 1, NULL, NULL);
	pl->busy = 0;
	advance(m, pl);
	return 1;
}

/* ---- each turn, and each job's end ---- */

void pipeline_pace(struct master *m)
{
	struct pipelines *r = m->pipelines;
	for (size_t i = r ? r->n : 0; i-- > 0;) {
		struct pipeline *pl = r->v[i];
		int64_t unfinished = 0;
		uint64_t held_by_sched = 0;
		for (size_t k = 0; k < pl->spec.nstages; k++) {
			struct client *c = stage_client(m, pl, k, 0);
			unfinished += live(pl, k);
			if (!c)
				continue;
			held_by_sched += c->sc.nlive;
			stage_limit(m, pl, k, c);
		}
		/* The scheduler holds none of its jobs, yet some look
		 * unfinished: they ended without jobs_finalize -- cancel --all,
		 * which cancels the pipeline with them. */
		if (!unfinished || held_by_sched || recount(m, pl))
			continue;
		pl->cancelled = 1;
		int64_t still = 0;
		for (size_t k = 0; k < pl->spec.nstages; k++)
			still += live(pl, k);
		if (still) /* not in the scheduler, not final in state.db: should not be */
			snprintf(pl->error, sizeof pl->error, "%lld of its jobs are unfinished in state.db but not "
				 "in the master's scheduler", (long long)still);
		finish(m, pl);
	}
}

void pipeline_job_final(struct master *m, struct client *c, int64_t id, int state, const char *output,
			size_t output_len)
{
	int64_t plid;
	size_t k;
	struct pipeline *pl;
	if (stage_of(c->cid, &plid, &k) || !(pl = find(m, plid)) || k >= pl->spec.nstages)
		return;
	if (state >= MJOB_COMPLETED && state <= MJOB_CANCELLED)
		pl->st[k].fin[state]++;
	if (state == MJOB_COMPLETED && !pl->cancelled && k + 1 < pl->spec.nstages) {
		char **items = NULL, *typed = NULL;
		size_t n = 0, typed_len = 0;
		/* a typed job's result is {"status","output"}: its output goes on */
		if (pl->spec.stages[k].kind == PIPESPEC_TYPED &&
		    (typed = pipespec_typed_output(output ? output : "", output ? output_len : 0, &typed_len))) {
			output = typed;
			output_len = typed_len;
		}
		if (pipespec_split(output, output_len, pl->spec.stages[k].fan_out, &items, &n)) {
			snprintf(pl->error, sizeof pl->error, "job %lld: out of memory for its output's items", (long long)id);
		} else if (pl->spec.stages[k + 1].reduce) {
			for (size_t i = 0; i < n; i++)
				store_pipeitem_add(m->store, pl->id, (int)k + 1, items[i]);
			pipespec_items_free(items, n);
		} else {
			/* admitted with the others of this turn (pipeline_flush),
			 * before the commit that records this completion */
			struct items *q = &pl->pend[k + 1];
			for (size_t i = 0; i < n; i++)
				items_push(q, items[i]);
			free(items);
			if (q->oom) {
				snprintf(pl->error, sizeof pl->error, "job %lld: out of memory for its output's items",
					 (long long)id);
				q->oom = 0;
			}
			m->pipelines->pending = 1;
		}
		free(typed);
	}
	advance(m, pl);
}

void pipeline_flush(struct master *m)
{
	struct pipelines *r = m->pipelines;
	if (!r || !r->pending)
		return;
	r->pending = 0;
	/* backwards: advance may end (remove) the pipeline at i */
	for (size_t i = r->n; i-- > 0;) {
		struct pipeline *pl = r->v[i];
		int any = 0;
		for (size_t k = 0; k < pl->spec.nstages; k++) {
			struct items *q = &pl->pend[k];
			if (!q->n)
				continue;
			struct items take = *q;
			memset(q, 0, sizeof *q);
			if (!pl->cancelled)
				admit(m, pl, k, take.v, take.n);
			items_clear(&take);
			any = 1;
		}
		if (any)
			advance(m, pl); /* a refused admission may have ended it */
	}
}

/* ---- the wire requests ---- */

/* One pipeline as pipeline_status shows it: from memory if it runs, else
 * from the store. */
struct status_ctx {
	struct master *m;
	msg *list;
	int oom;
};

static msg *stage_msg(struct master *m, const struct pipeline *pl, const struct pipespec *spec,
		      const struct pstage *st, size_t k)
{
	const struct pipespec_stage *s = &spec->stages[k];
	msg *o = msg_new_object();
	msg_set_str(o, "name", s->name);
	if (s->kind == PIPESPEC_TYPED)
		msg_set_str(o, "type", s->run);
	msg_set_int(o, "instances", s->instances);
	if (s->max_queued)
		msg_set_int(o, "max_queued", s->max_queued);
	msg_set_bool(o, "fan_out", s->fan_out);
	msg_set_bool(o, "reduce", s->reduce);
	struct client *c = pl ? stage_client(m, pl, k, 0) : NULL;
	int64_t unfinished = st[k].jobs - st[k].fin[MJOB_COMPLETED] - st[k].fin[MJOB_FAILED] - st[k].fin[MJOB_CANCELLED];
	int64_t running = c ? (int64_t)c->sc.nrun : 0;
	if (running > unfinished)
		running = unfinished;
	msg_set_int(o, "queued", unfinished - running);
	msg_set_int(o, "running", running);
	msg_set_int(o, "done", st[k].fin[MJOB_COMPLETED]);
	msg_set_int(o, "failed", st[k].fin[MJOB_FAILED]);
	msg_set_int(o, "cancelled", st[k].fin[MJOB_CANCELLED]);
	if (pl)
		msg_set_bool(o, "held", held(m, pl, k));
	return o;
}

static int status_row(void *arg, const struct store_pipeline *p)
{
	struct status_ctx *x = arg;
	struct pipeline *pl = find(x->m, p->id), *ended = NULL;
	char why[300];
	if (!pl) { /* ended: its file and counts from the store */
		ended = pl_new(p->id, p->spec ? p->spec : "", p->spec ? strlen(p->spec) : 0, why, sizeof why);
		if (!ended || recount(x->m, ended)) {
			pl_free(ended);
			return x->oom = 1;
		}
	}
	const struct pipeline *src = pl ? pl : ended;
	msg *o = msg_new_object();
	msg_set_int(o, "id", p->id);
	if (p->name)
		msg_set_str(o, "name", p->name);
	msg_set_str(o, "state", pl ? "running" : mjob_state_name(p->state));
	msg_set_num(o, "created", p->created);
	if (p->finished >= 0)
		msg_set_num(o, "finished", p->finished);
	else
		msg_set_null(o, "finished");
	if (pl && pl->error[0])
		msg_set_str(o, "error", pl->error);
	else if (p->error)
		msg_set_str(o, "error", p->error);
	else
		msg_set_null(o, "error");
	msg_set_int(o, "items", p->items);
	msg *stages = msg_new_array();
	for (size_t k = 0; k < src->spec.nstages; k++)
		msg_push(stages, stage_msg(x->m, pl, &src->spec, src->st, k));
	msg_add(o, "stages", stages);
	msg_push(x->list, o);
	pl_free(ended);
	return 0;
}

void pipeline_on_status(struct call *c, msg *m)
{
	int64_t id = 0, limit = 20;
	if (msg_has(m, "id") && (!jobs_is_int(msg_get(m, "id"), 1, INT64_MAX, &id))) {
		call_error(c, "bad_request", "pipeline_status: \"id\" must be a pipeline id (an integer >= 1)");
		return;
	}
	if (msg_has(m, "limit") && !jobs_is_int(msg_get(m, "limit"), 1, 10000, &limit)) {
		call_error(c, "bad_request", "pipeline_status: \"limit\" must be an integer from 1 to 10000");
		return;
	}
	struct status_ctx x = {c->m, msg_new_array(), 0};
	if (store_pipelines(c->m->store, id, limit, status_row, &x) < 0 || x.oom) {
		msg_free(x.list);
		call_error(c, "internal", "cannot read the pipelines: %s", store_errmsg(c->m->store));
		return;
	}
	if (id && !msg_size(x.list)) {
		msg_free(x.list);
		call_error(c, "not_found", "no pipeline %lld (mtslurm pipeline status lists them)", (long long)id);
		return;
	}
	msg *r = call_new_reply(c, "pipelines");
	msg_add(r, "pipelines", x.list);
	call_reply(c, r);
}

void pipeline_on_run(struct call *c, msg *m)
{
	msg *p = msg_get(m, "pipeline");
	if (!msg_is_object(p)) {
		call_error(c, "bad_request", "pipeline_run needs \"pipeline\": the pipeline file's object");
		return;
	}
	const char *token = msg_get_str(m, "token");
	int64_t id = token && *token ? store_pipeline_by_token(c->m->store, token) : 0;
	if (id > 0) { /* sent again after its reply was lost: the same pipeline */
		msg *r = call_new_reply(c, "pipeline");
		msg_set_int(r, "id", id);
		msg_set_bool(r, "again", 1);
		call_reply(c, r);
		return;
	}
	char *text = msg_print(p), err[400];
	if (!text) {
		call_error(c, "busy", "out of memory");
		return;
	}
	int rc = pipeline_start(c->m, text, strlen(text), c->client ? c->client->cid : "@http", token, &id, err,
				sizeof err);
	free(text);
	if (rc) {
		call_error(c, "bad_request", "%s", err);
		return;
	}
	struct pipeline *pl = find(c->m, id);
	msg *r = call_new_reply(c, "pipeline");
	msg_set_int(r, "id", id);
	msg_set_int(r, "jobs", pl ? pl->st[0].jobs : 0);
	call_reply(c, r);
}

void pipeline_on_cancel(struct call *c, msg *m)
{
	int64_t id = 0, n = 0;
	if (!jobs_is_int(msg_get(m, "id"), 1, INT64_MAX, &id)) {
		call_error(c, "bad_request", "pipeline_cancel needs \"id\": a pipeline id");
		return;
	}
	int rc = pipeline_cancel(c->m, id, &n);
	if (rc < 0) {
		call_error(c, "not_found", "no pipeline %lld (mtslurm pipeline status lists them)", (long long)id);
		return;
	}
	msg *r = call_new_reply(c, "pipeline_cancelled");
	msg_set_int(r, "id", id);
	msg_set_int(r, "jobs", n);
	msg_set_bool(r, "final", rc == 0);
	call_reply(c, r);
}

struct results_ctx {
	msg *list;
	int64_t last;
};

static int result_row(void *arg, int64_t id, const char *output, size_t len)
{
	struct results_ctx *x = arg;
	msg *o = msg_new_object();
	msg_set_int(o, "job", id);
	msg_set_strn(o, "output", output, len);
	msg_push(x->list, o);
	x->last = id;
	return 0;
}

struct spec_ctx {
	struct pipespec spec;
	int ok;
};

static int spec_row(void *arg, const struct store_pipeline *p)
{
	struct spec_ctx *x = arg;
	char err[300];
	x->ok = p->spec && pipespec_parse(&x->spec, p->spec, strlen(p->spec), err, sizeof err) == 0;
	return 1;
}

void pipeline_on_results(struct call *c, msg *m)
{
	int64_t id = 0, after = 0, limit = 1000;
	if (!jobs_is_int(msg_get(m, "id"), 1, INT64_MAX, &id) ||
	    (msg_has(m, "after") && !jobs_is_int(msg_get(m, "after"), 0, INT64_MAX, &after)) ||
	    (msg_has(m, "limit") && !jobs_is_int(msg_get(m, "limit"), 1, 10000, &limit))) {
		call_error(c, "bad_request", "pipeline_results needs \"id\" (a pipeline id); \"after\" a job id, "
					     "\"limit\" 1 to 10000");
		return;
	}
	struct spec_ctx sx = {.ok = 0};
	if (store_pipelines(c->m->store, id, 1, spec_row, &sx) < 0 || !sx.ok) {
		call_error(c, "not_found", "no pipeline %lld (mtslurm pipeline status lists them)", (long long)id);
		return;
	}
	const char *want = msg_get_str(m, "stage");
	int k = want ? pipespec_find(&sx.spec, want) : (int)sx.spec.nstages - 1;
	pipespec_release(&sx.spec);
	if (k < 0) {
		call_error(c, "bad_request", "pipeline %lld has no stage \"%.64s\"", (long long)id, want);
		return;
	}
	struct results_ctx x = {msg_new_array(), 0};
	int64_t n = store_pipejob_outputs(c->m->store, id, k, after, limit, result_row, &x);
	if (n < 0) {
		msg_free(x.list);
		call_error(c, "internal", "cannot read the results: %s", store_errmsg(c->m->store));
		return;
	}
	msg *r = call_new_reply(c, "pipeline_results");
	msg_add(r, "results", x.list);
	if (n == limit)
		msg_set_int(r, "next", x.last);
	else
		msg_set_null(r, "next");
	call_reply(c, r);
}
