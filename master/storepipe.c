/* SPDX-License-Identifier: MIT */
/*
 * storepipe: the pipeline tables of state.db -- see storepipe.h for the
 * contract and docs/formats.md for the tables. Built on store.c's
 * connection and turn transaction (store_int.h); the statements are
 * prepared on first use, so a master that never runs a pipeline prepares
 * none.
 */
#include "storepipe.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

enum {
	Q_PL_ADD,
	Q_PL_END,
	Q_PL_MAX,
	Q_PL_ONE,
	Q_PL_NEWEST,
	Q_PL_LIVE,
	Q_PL_TOKEN,
	Q_PJ_RANGE,
	Q_PJ_COUNTS,
	Q_PJ_LIVE,
	Q_PJ_OUT,
	Q_PI_ADD,
	Q_PI_ALL,
	Q_PI_DEL,
	Q_MAX
};
_Static_assert(Q_MAX <= STORE_PIPE_STMTS, "store_int.h: too few STORE_PIPE_STMTS");

#define PL_COLS "id,name,spec,client,state,created,finished,error,items"

static const char *const pipe_sql[Q_MAX] = {
	[Q_PL_ADD] = "INSERT INTO pipelines(" PL_COLS ",token) VALUES(?1,?2,?3,?4,?5,?6,NULL,NULL,?7,?8)",
	[Q_PL_TOKEN] = "SELECT id FROM pipelines WHERE token=?1",
	[Q_PL_END] = "UPDATE pipelines SET state=?2,finished=?3,error=?4 WHERE id=?1",
	[Q_PL_MAX] = "SELECT coalesce(max(id),0) FROM pipelines",
	[Q_PL_ONE] = "SELECT " PL_COLS " FROM pipelines WHERE id=?1",
	[Q_PL_NEWEST] = "SELECT " PL_COLS " FROM pipelines ORDER BY id DESC LIMIT ?1",
	[Q_PL_LIVE] = "SELECT " PL_COLS " FROM pipelines WHERE state<2 ORDER BY id",
	[Q_PJ_RANGE] = "INSERT INTO piperuns(first,n,pipeline,stage) VALUES(?1,?2,?3,?4)",
	/* A pipeline's jobs: one piperuns row covers a run of ids (a range
	 * seek on jobs per row), pipejobs one id each (older masters). ?2:
	 * the cancel-all mark (a row below it that is not final is cancelled). */
	[Q_PJ_COUNTS] = "SELECT stage,st,count(*) FROM ("
			"SELECT p.stage AS stage,CASE WHEN j.state<2 AND j.id<?2 THEN 4 ELSE j.state END AS st"
			" FROM pipejobs AS p JOIN jobs AS j ON j.id=p.job WHERE p.pipeline=?1 UNION ALL "
			"SELECT r.stage,CASE WHEN j.state<2 AND j.id<?2 THEN 4 ELSE j.state END"
			" FROM piperuns AS r JOIN jobs AS j ON j.id BETWEEN r.first AND r.first+r.n-1"
			" WHERE r.pipeline=?1) GROUP BY stage,st",
	[Q_PJ_LIVE] = "SELECT p.job FROM pipejobs AS p JOIN jobs AS j ON j.id=p.job WHERE p.pipeline=?1"
		      " AND j.state<2 AND j.id>=?2 UNION ALL "
		      "SELECT j.id FROM piperuns AS r JOIN jobs AS j ON j.id BETWEEN r.first AND r.first+r.n-1"
		      " WHERE r.pipeline=?1 AND j.state<2 AND j.id>=?2 ORDER BY 1",
	[Q_PJ_OUT] = "SELECT j.id,j.output FROM pipejobs AS p JOIN jobs AS j ON j.id=p.job WHERE p.pipeline=?1"
		     " AND p.stage=?2 AND p.job>?3 AND j.state=2 UNION ALL "
		     "SELECT j.id,j.output FROM piperuns AS r JOIN jobs AS j ON j.id BETWEEN r.first AND r.first+r.n-1"
		     " WHERE r.pipeline=?1 AND r.stage=?2 AND j.id>?3 AND j.state=2 ORDER BY 1 LIMIT ?4",
	[Q_PI_ADD] = "INSERT INTO pipeitems(pipeline,stage,item) VALUES(?1,?2,?3)",
	[Q_PI_ALL] = "SELECT item FROM pipeitems WHERE pipeline=?1 AND stage=?2 ORDER BY id",
	[Q_PI_DEL] = "DELETE FROM pipeitems WHERE pipeline=?1 AND stage=?2",
};

static sqlite3_stmt *stmt(struct store *s, int q) { return store_stmt(s, &store_pipe_stmts(s)[q], pipe_sql[q]); }

/* A write's statement, in the turn's transaction (NULL: failed). */
static sqlite3_stmt *write_stmt(struct store *s, int q)
{
	return store_write_stmt(s, &store_pipe_stmts(s)[q], pipe_sql[q]);
}


/* ---- pipelines ---- */

int store_pipeline_add(struct store *s, const struct store_pipeline *p)
{
	sqlite3_stmt *st = write_stmt(s, Q_PL_ADD);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, p->id);
	store_bind_str(st, 2, p->name && *p->name ? p->name : NULL);
	store_bind_str(st, 3, p->spec);
	store_bind_str(st, 4, p->client);
	sqlite3_bind_int(st, 5, p->state);
	sqlite3_bind_double(st, 6, p->created);
	sqlite3_bind_int64(st, 7, p->items);
	store_bind_str(st, 8, p->token && *p->token ? p->token : NULL);
	return store_run(s, st);
}

int store_pipeline_end(struct store *s, int64_t id, int state, double finished, const char *error)
{
	sqlite3_stmt *st = write_stmt(s, Q_PL_END);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, state);
	sqlite3_bind_double(st, 3, finished);
	store_bind_str(st, 4, error);
	return store_run(s, st);
}

static int max_row(sqlite3_stmt *st, void *arg)
{
	*(int64_t *)arg = sqlite3_column_int64(st, 0);
	return 1;
}

int64_t store_pipeline_by_token(struct store *s, const char *token)
{
	sqlite3_stmt *st = stmt(s, Q_PL_TOKEN);
	int64_t v = 0;
	if (!st)
		return -1;
	store_bind_str(st, 1, token);
	return store_each(s, st, max_row, &v) >= 0 ? v : -1;
}

int64_t store_pipeline_max_id(struct store *s)
{
	sqlite3_stmt *st = stmt(s, Q_PL_MAX);
	int64_t v = 0;
	return st && store_each(s, st, max_row, &v) >= 0 ? v : -1;
}

struct pl_cb {
	int (*fn)(void *arg, const struct store_pipeline *p);
	void *arg;
};

static int pl_row(sqlite3_stmt *st, void *arg)
{
	struct pl_cb *c = arg;
	struct store_pipeline p = {
		.id = sqlite3_column_int64(st, 0),
		.name = store_col_str(st, 1),
		.spec = store_col_str(st, 2),
		.client = store_col_str(st, 3),
		.state = sqlite3_column_int(st, 4),
		.created = sqlite3_column_double(st, 5),
		.finished = store_col_time(st, 6),
		.error = store_col_str(st, 7),
		.items = sqlite3_column_int64(st, 8),
	};
	return c->fn(c->arg, &p);
}

int64_t store_pipelines(struct store *s, int64_t id, int64_t limit,
			int (*fn)(void *arg, const struct store_pipeline *p), void *arg)
{
	sqlite3_stmt *st = stmt(s, id > 0 ? Q_PL_ONE : id == 0 ? Q_PL_NEWEST : Q_PL_LIVE);
	if (!st)
		return -1;
	if (id > 0)
		sqlite3_bind_int64(st, 1, id);
	else if (id == 0)
		sqlite3_bind_int64(st, 1, limit);
	struct pl_cb c = {fn, arg};
	return store_each(s, st, pl_row, &c);
}

/* ---- their jobs ---- */

int store_pipejob_add_range(struct store *s, int64_t first, int64_t n, int64_t pipeline, int stage)
{
	if (n <= 0)
		return 0;
	sqlite3_stmt *st = write_stmt(s, Q_PJ_RANGE);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, first);
	sqlite3_bind_int64(st, 2, n);
	sqlite3_bind_int64(st, 3, pipeline);
	sqlite3_bind_int(st, 4, stage);
	return store_run(s, st);
}

struct count_cb {
	void (*fn)(void *arg, int stage, int state, int64_t n);
	void *arg;
};

static int count_row(sqlite3_stmt *st, void *arg)
{
	struct count_cb *c = arg;
	c->fn(c->arg, sqlite3_column_int(st, 0), sqlite3_column_int(st, 1), sqlite3_column_int64(st, 2));
	return 0;
}

int64_t store_pipejob_counts(struct store *s, int64_t pipeline,
			     void (*fn)(void *arg, int stage, int state, int64_t n), void *arg)
{
	sqlite3_stmt *st = stmt(s, Q_PJ_COUNTS);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, pipeline);
	sqlite3_bind_int64(st, 2, store_cancel_mark(s));
	struct count_cb c = {fn, arg};
	return store_each(s, st, count_row, &c);
}

struct ids {
	int64_t *v;
	size_t n, cap;
	int oom;
};

static int id_row(sqlite3_stmt *st, void *arg)
{
	struct ids *d = arg;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		int64_t *v = realloc(d->v, cap * sizeof *v);
		if (!v)
			return d->oom = 1;
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n++] = sqlite3_column_int64(st, 0);
	return 0;
}

int store_pipejob_live(struct store *s, int64_t pipeline, int64_t **ids, size_t *n)
{
	*ids = NULL;
	*n = 0;
	sqlite3_stmt *st = stmt(s, Q_PJ_LIVE);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, pipeline);
	sqlite3_bind_int64(st, 2, store_cancel_mark(s));
	struct ids d = {0};
	if (store_each(s, st, id_row, &d) < 0 || d.oom) {
		free(d.v);
		return d.oom ? store_set_err(s, "out of memory") : -1;
	}
	*ids = d.v;
	*n = d.n;
	return 0;
}

struct out_cb {
	int (*fn)(void *arg, int64_t id, const char *output, size_t len);
	void *arg;
};

static int out_row(sqlite3_stmt *st, void *arg)
{
	struct out_cb *c = arg;
	const char *o = store_col_str(st, 1);
	return c->fn(c->arg, sqlite3_column_int64(st, 0), o ? o : "", (size_t)sqlite3_column_bytes(st, 1));
}

int64_t store_pipejob_outputs(struct store *s, int64_t pipeline, int stage, int64_t after, int64_t limit,
			      int (*fn)(void *arg, int64_t id, const char *output, size_t len), void *arg)
{
	sqlite3_stmt *st = stmt(s, Q_PJ_OUT);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, pipeline);
	sqlite3_bind_int(st, 2, stage);
	sqlite3_bind_int64(st, 3, after);
	sqlite3_bind_int64(st, 4, limit);
	struct out_cb c = {fn, arg};
	return store_each(s, st, out_row, &c);
}

/* ---- items for a reducing stage ---- */

int store_pipeitem_add(struct store *s, int64_t pipeline, int stage, const char *item)
{
	sqlite3_stmt *st = write_stmt(s, Q_PI_ADD);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, pipeline);
	sqlite3_bind_int(st, 2, stage);
	store_bind_str(st, 3, item);
	return store_run(s, st);
}

struct item_cb {
	int (*fn)(void *arg, const char *item);
	void *arg;
};

static int item_row(sqlite3_stmt *st, void *arg)
{
	struct item_cb *c = arg;
	const char *t = store_col_str(st, 0);
	return c->fn ? c->fn(c->arg, t ? t : "") : 0;
}

int64_t store_pipeitems(struct store *s, int64_t pipeline, int stage, int take,
			int (*fn)(void *arg, const char *item), void *arg)
{
	sqlite3_stmt *st = stmt(s, Q_PI_ALL);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, pipeline);
	sqlite3_bind_int(st, 2, stage);
	struct item_cb c = {fn, arg};
	int64_t n = store_each(s, st, item_row, &c);
	if (n < 0 || !take)
		return n;
	sqlite3_stmt *del = write_stmt(s, Q_PI_DEL);
	if (!del)
		return -1;
	sqlite3_bind_int64(del, 1, pipeline);
	sqlite3_bind_int(del, 2, stage);
	return store_run(s, del) ? -1 : n;
}
