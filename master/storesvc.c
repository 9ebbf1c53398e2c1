/* SPDX-License-Identifier: MIT */
/*
 * storesvc: job types, worker types, typed jobs and the dead-letter queue
 * in state.db -- see storesvc.h for the contract and docs/formats.md for
 * the tables. Built on store.c's connection and turn transaction
 * (store_int.h). Its statements are prepared on first use, so a master
 * that only ever runs plain jobs never prepares one.
 */
#include "storesvc.h"

#include <sqlite3.h>
#include <stdint.h>
#include <string.h>

#include "mjob.h"
#include "store_int.h"

enum {
	Q_JT_PUT,
	Q_JT_DEL,
	Q_JT_GET,
	Q_JT_ALL,
	Q_WT_PUT,
	Q_WT_DEL,
	Q_WT_GET,
	Q_WT_ALL,
	Q_META_ADD,
	Q_META_EXT,
	Q_META_GET,
	Q_DLQ_ADD,
	Q_DLQ_LIST,
	Q_DLQ_OUT,
	Q_DLQ_ROW,
	Q_REQUEUE,
	Q_KV_PUT,
	Q_KV_DEL,
	Q_KV_ALL,
	Q_MAX
};
_Static_assert(Q_MAX <= STORE_SVC_STMTS, "store_int.h: too few STORE_SVC_STMTS");

#define JT_COLS "name,mode,worker_type,endpoint,schema,timeout_s,retries,created,updated"
#define WT_COLS "name,executor,params,created,updated"
#define META_COLS "m.id,m.ext,m.jtype,m.job,m.dlq,m.dlq_at"

static const char *const svc_sql[Q_MAX] = {
	/* settings of the service layer in the meta table, under "svc:" keys */
	[Q_KV_PUT] = "INSERT INTO meta(key,value) VALUES('svc:'||?1,?2) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
	[Q_KV_DEL] = "DELETE FROM meta WHERE key='svc:'||?1",
	[Q_KV_ALL] = "SELECT substr(key,5),value FROM meta WHERE key>='svc:'||?1 AND key<'svc:'||?1||char(1114111)"
		     " ORDER BY key",
	/* replacing keeps `created` */
	[Q_JT_PUT] = "INSERT INTO jobtypes(" JT_COLS ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?8) ON CONFLICT(name) DO UPDATE"
		     " SET mode=excluded.mode,worker_type=excluded.worker_type,endpoint=excluded.endpoint,"
		     "schema=excluded.schema,timeout_s=excluded.timeout_s,retries=excluded.retries,"
		     "updated=excluded.updated",
	[Q_JT_DEL] = "DELETE FROM jobtypes WHERE name=?1",
	[Q_JT_GET] = "SELECT " JT_COLS " FROM jobtypes WHERE name=?1",
	[Q_JT_ALL] = "SELECT " JT_COLS " FROM jobtypes ORDER BY name",
	[Q_WT_PUT] = "INSERT INTO workertypes(" WT_COLS ") VALUES(?1,?2,coalesce(?3,'{}'),?4,?4) ON CONFLICT(name)"
		     " DO UPDATE SET executor=excluded.executor,params=excluded.params,updated=excluded.updated",
	[Q_WT_DEL] = "DELETE FROM workertypes WHERE name=?1",
	[Q_WT_GET] = "SELECT " WT_COLS " FROM workertypes WHERE name=?1",
	[Q_WT_ALL] = "SELECT " WT_COLS " FROM workertypes ORDER BY name",
	[Q_META_ADD] = "INSERT INTO jobmeta(id,ext,jtype,job) VALUES(?1,?2,?3,?4)",
	[Q_META_EXT] = "SELECT id FROM jobmeta WHERE ext=?1",
	[Q_META_GET] = "SELECT " META_COLS " FROM jobmeta AS m WHERE m.id=?1",
	/* only a failed row; one already in keeps its time */
	[Q_DLQ_ADD] = "UPDATE jobmeta SET dlq_at=CASE WHEN dlq=1 THEN dlq_at ELSE ?2 END,dlq=1"
		      " WHERE id=?1 AND (SELECT state FROM jobs WHERE id=?1)=3",
	/* a walk of the partial index jobmeta_dlq, in id order */
	[Q_DLQ_LIST] = "SELECT " STORE_REC_COLS "," META_COLS " FROM jobmeta AS m JOIN jobs AS j ON j.id=m.id"
		       " WHERE m.dlq=1 AND m.id>?1 ORDER BY m.id",
	[Q_DLQ_OUT] = "UPDATE jobmeta SET dlq=0,dlq_at=NULL WHERE id=?1 AND dlq=1",
	[Q_DLQ_ROW] = "SELECT " STORE_ROW_COLS ",m.jtype FROM jobmeta AS m JOIN jobs AS j ON j.id=m.id"
		      " WHERE m.id=?1 AND m.dlq=1",
	[Q_REQUEUE] = "UPDATE jobs SET state=0,attempts=0,crashes=0,worker=NULL,started=NULL,finished=NULL,"
		      "output=NULL,error=NULL,rc=NULL WHERE id=?1",
};

/* Statement q, prepared on first use; NULL with store_errmsg on failure. */
static sqlite3_stmt *stmt(struct store *s, int q) { return store_stmt(s, &store_svc_stmts(s)[q], svc_sql[q]); }

static double col_or(sqlite3_stmt *st, int i, double none)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? none : sqlite3_column_double(st, i);
}

/* Step write statement st of the turn's transaction to its end and reset
 * it. A constraint violation undoes only this statement (SQLite's ABORT):
 * STORESVC_REFUSED with "what: reason" in store_errmsg, and the transaction
 * goes on. Any other failure fails the transaction. Else the rows changed. */
static int step_write(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		rc = sqlite3_changes(store_db(s));
	} else if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		store_set_err(s, "%s: %s", what, sqlite3_errmsg(store_db(s)));
		rc = STORESVC_REFUSED;
	} else {
		rc = store_fail_txn(s);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}


/* store_jobtype_del and store_workertype_del: statement q bound to name. */
static int del_name(struct store *s, int q, const char *name)
{
	sqlite3_stmt *st = stmt(s, q);
	if (!st || store_begin(s))
		return -1;
	store_bind_str(st, 1, name);
	int rc = step_write(s, st, "delete");
	return rc < 0 ? -1 : rc > 0;
}

/* ---- job types ---- */

struct jt_cb {
	int (*fn)(void *arg, const struct store_jobtype *t);
	void *arg;
};

static int jt_row(sqlite3_stmt *st, void *ctx)
{
	struct jt_cb *c = ctx;
	struct store_jobtype t = {
		.name = store_col_str(st, 0),
		.mode = store_col_str(st, 1),
		.worker_type = store_col_str(st, 2),
		.endpoint = store_col_str(st, 3),
		.schema = store_col_str(st, 4),
		.timeout_s = col_or(st, 5, 0),
		.retries = (int)col_or(st, 6, -1),
		.created = col_or(st, 7, -1),
		.updated = col_or(st, 8, -1),
	};
	return c->fn(c->arg, &t);
}

int store_jobtype_put(struct store *s, const struct store_jobtype *t, double now)
{
	const char *name = t->name ? t->name : "";
	if (!*name)
		return store_set_err(s, "a job type needs a name"), STORESVC_REFUSED;
	int endpoint = t->mode && strcmp(t->mode, "endpoint") == 0;
	if (!t->mode || (!endpoint && strcmp(t->mode, "queue") != 0))
		return store_set_err(s, "job type %s: mode must be queue or endpoint, not %s", name,
				     t->mode ? t->mode : "none"), STORESVC_REFUSED;
	if (endpoint && (!t->endpoint || !*t->endpoint))
		return store_set_err(s, "job type %s: an endpoint type needs the endpoint's URL", name),
		       STORESVC_REFUSED;
	sqlite3_stmt *st = stmt(s, Q_JT_PUT);
	if (!st || store_begin(s))
		return -1;
	store_bind_str(st, 1, name);
	store_bind_str(st, 2, t->mode);
	store_bind_str(st, 3, t->worker_type);
	store_bind_str(st, 4, t->endpoint);
	store_bind_str(st, 5, t->schema);
	if (t->timeout_s > 0)
		sqlite3_bind_double(st, 6, t->timeout_s);
	if (t->retries >= 0)
		sqlite3_bind_int(st, 7, t->retries);
	sqlite3_bind_double(st, 8, now);
	int rc = step_write(s, st, "job type");
	if (rc == STORESVC_REFUSED) /* the schema CHECK: the others were checked above */
		store_set_err(s, "job type %s: its schema is not JSON text", name);
	return rc < 0 ? rc : 0;
}

int store_jobtype_del(struct store *s, const char *name) { return del_name(s, Q_JT_DEL, name); }

int store_jobtype_get(struct store *s, const char *name, int (*fn)(void *arg, const struct store_jobtype *t),
		      void *arg)
{
	sqlite3_stmt *st = stmt(s, Q_JT_GET);
	if (!st)
		return -1;
	store_bind_str(st, 1, name);
	struct jt_cb c = {fn, arg};
	int64_t n = store_each(s, st, jt_row, &c);
	return n < 0 ? -1 : n > 0;
}

int64_t store_jobtypes(struct store *s, int (*fn)(void *arg, const struct store_jobtype *t), void *arg)
{
	sqlite3_stmt *st = stmt(s, Q_JT_ALL);
	struct jt_cb c = {fn, arg};
	return st ? store_each(s, st, jt_row, &c) : -1;
}

/* ---- worker types ---- */

struct wt_cb {
	int (*fn)(void *arg, const struct store_workertype *t);
	void *arg;
};

static int wt_row(sqlite3_stmt *st, void *ctx)
{
	struct wt_cb *c = ctx;
	struct store_workertype t = {
		.name = store_col_str(st, 0),
		.executor = store_col_str(st, 1),
		.params = store_col_str(st, 2),
		.created = col_or(st, 3, -1),
		.updated = col_or(st, 4, -1),
	};
	return c->fn(c->arg, &t);
}

int store_workertype_put(struct store *s, const struct store_workertype *t, double now)
{
	const char *name = t->name ? t->name : "";
	if (!*name)
		return store_set_err(s, "a worker type needs a name"), STORESVC_REFUSED;
	if (!t->executor || !*t->executor)
		return store_set_err(s, "worker type %s needs an executor", name), STORESVC_REFUSED;
	sqlite3_stmt *st = stmt(s, Q_WT_PUT);
	if (!st || store_begin(s))
		return -1;
	store_bind_str(st, 1, name);
	store_bind_str(st, 2, t->executor);
	store_bind_str(st, 3, t->params);
	sqlite3_bind_double(st, 4, now);
	int rc = step_write(s, st, "worker type");
	if (rc == STORESVC_REFUSED) /* the params CHECK */
		store_set_err(s, "worker type %s: params must be a JSON object, not %.60s", name, t->params);
	return rc < 0 ? rc : 0;
}

int store_workertype_del(struct store *s, const char *name) { return del_name(s, Q_WT_DEL, name); }

int store_workertype_get(struct store *s, const char *name,
			 int (*fn)(void *arg, const struct store_workertype *t), void *arg)
{
	sqlite3_stmt *st = stmt(s, Q_WT_GET);
	if (!st)
		return -1;
	store_bind_str(st, 1, name);
	struct wt_cb c = {fn, arg};
	int64_t n = store_each(s, st, wt_row, &c);
	return n < 0 ? -1 : n > 0;
}

int64_t store_workertypes(struct store *s, int (*fn)(void *arg, const struct store_workertype *t), void *arg)
{
	sqlite3_stmt *st = stmt(s, Q_WT_ALL);
	struct wt_cb c = {fn, arg};
	return st ? store_each(s, st, wt_row, &c) : -1;
}

/* ---- typed jobs ---- */

/* The metadata in columns from i on (META_COLS). */
static void meta_read(sqlite3_stmt *st, int i, struct store_meta *m)
{
	m->id = sqlite3_column_int64(st, i);
	m->ext = store_col_str(st, i + 1);
	m->jtype = store_col_str(st, i + 2);
	m->job = store_col_str(st, i + 3);
	m->dlq = sqlite3_column_int(st, i + 4);
	m->dlq_at = col_or(st, i + 5, -1);
}

int store_meta_add(struct store *s, int64_t id, const char *ext, const char *jtype, const char *job_json)
{
	if (!jtype || !*jtype)
		return store_set_err(s, "job %lld: a typed job needs its job type", (long long)id), STORESVC_REFUSED;
	int64_t other = ext ? store_meta_find_ext(s, ext) : 0;
	if (other < 0)
		return -1;
	if (other > 0)
		return store_set_err(s, "external id %s is already job %lld", ext, (long long)other),
		       STORESVC_REFUSED;
	sqlite3_stmt *st = stmt(s, Q_META_ADD);
	if (!st || store_begin(s))
		return -1;
	sqlite3_bind_int64(st, 1, id);
	store_bind_str(st, 2, ext);
	store_bind_str(st, 3, jtype);
	store_bind_str(st, 4, job_json);
	int rc = step_write(s, st, "typed job"); /* left: the primary key */
	if (rc == STORESVC_REFUSED)
		store_set_err(s, "job %lld is already a typed job", (long long)id);
	return rc < 0 ? rc : 0;
}

int64_t store_meta_find_ext(struct store *s, const char *ext)
{
	sqlite3_stmt *st = stmt(s, Q_META_EXT);
	if (!st)
		return -1;
	store_bind_str(st, 1, ext);
	int rc = sqlite3_step(st);
	int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : rc == SQLITE_DONE ? 0 : store_fail(s);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return id;
}

struct meta_cb {
	int (*fn)(void *arg, const struct store_meta *m);
	int (*dlq_fn)(void *arg, const struct store_meta *m, const struct store_rec *r);
	void *arg;
};

static int meta_row(sqlite3_stmt *st, void *ctx)
{
	struct meta_cb *c = ctx;
	struct store_meta m;
	meta_read(st, 0, &m);
	return c->fn(c->arg, &m);
}

int store_meta_get(struct store *s, int64_t id, int (*fn)(void *arg, const struct store_meta *m), void *arg)
{
	sqlite3_stmt *st = stmt(s, Q_META_GET);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	struct meta_cb c = {.fn = fn, .arg = arg};
	int64_t n = store_each(s, st, meta_row, &c);
	return n < 0 ? -1 : n > 0;
}

/* ---- the dead-letter queue ---- */

int store_dlq_add(struct store *s, int64_t id, double now)
{
	sqlite3_stmt *st = stmt(s, Q_DLQ_ADD);
	if (!st || store_begin(s))
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_double(st, 2, now);
	int rc = step_write(s, st, "dlq");
	return rc < 0 ? -1 : rc > 0;
}

static int dlq_row(sqlite3_stmt *st, void *ctx)
{
	struct meta_cb *c = ctx;
	struct store_rec r;
	struct store_meta m;
	store_rec_read(st, &r);
	meta_read(st, STORE_REC_NCOLS, &m);
	return c->dlq_fn(c->arg, &m, &r);
}

int64_t store_dlq(struct store *s, int64_t after,
		  int (*fn)(void *arg, const struct store_meta *m, const struct store_rec *r), void *arg)
{
	sqlite3_stmt *st = stmt(s, Q_DLQ_LIST);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, after);
	struct meta_cb c = {.dlq_fn = fn, .arg = arg};
	return store_each(s, st, dlq_row, &c);
}

int store_dlq_discard(struct store *s, int64_t id)
{
	sqlite3_stmt *st = stmt(s, Q_DLQ_OUT);
	if (!st || store_begin(s))
		return -1;
	sqlite3_bind_int64(st, 1, id);
	int rc = step_write(s, st, "dlq");
	return rc < 0 ? -1 : rc > 0;
}

int store_dlq_requeue(struct store *s, int64_t id, int (*fn)(void *arg, const struct store_row *r), void *arg)
{
	sqlite3_stmt *st = stmt(s, Q_DLQ_ROW), *up = stmt(s, Q_REQUEUE), *out = stmt(s, Q_DLQ_OUT);
	if (!st || !up || !out || store_begin(s))
		return -1;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = rc == SQLITE_DONE ? 0 : store_fail(s);
		sqlite3_reset(st);
		return rc;
	}
	struct store_row r;
	store_row_read(st, &r);
	int final_state = r.state;
	/* the row as it is about to become */
	r.state = MJOB_QUEUED;
	r.attempts = r.crashes = 0;
	r.worker = NULL;
	if (id < store_cancel_mark(s)) {
		store_set_err(s, "job %lld was submitted before the last cancel --all and cannot be queued again "
				 "under its id; submit it again", (long long)id);
		rc = STORESVC_REFUSED;
	} else if (fn && fn(arg, &r)) {
		rc = store_set_err(s, "requeueing job %lld failed", (long long)id);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return rc;
	store_live_note(s, id); /* its row is queued again */
	sqlite3_bind_int64(up, 1, id);
	sqlite3_bind_int64(out, 1, id);
	if (store_run(s, up) || store_run(s, out))
		return -1;
	store_count_add(s, final_state, -1);
	return 1;
}

/* Delete the rows of final typed jobs (see store_svc_clear), lowering the
 * counts; their metadata goes with them (trigger jobs_meta_gone). Rows
 * deleted, or -1. */
static int64_t clear_rows(struct store *s)
{
	static const char sql[] =
		"DELETE FROM jobs WHERE id IN (SELECT m.id FROM jobmeta AS m JOIN jobs AS j ON j.id=m.id"
		" WHERE (j.state>=2 OR j.id<?1) AND m.id<(SELECT max(id) FROM jobs)"
		" AND m.id NOT IN (SELECT d.value FROM jobs AS l, json_each(l.deps) AS d"
		"  WHERE l.id>=?2 AND +l.state<2 AND l.deps IS NOT NULL AND l.deps<>'[]'))"
		" RETURNING CASE WHEN state<2 THEN 4 ELSE state END";
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
		return store_fail(s);
	sqlite3_bind_int64(st, 1, store_cancel_mark(s));
	sqlite3_bind_int64(st, 2, store_live_lo(s)); /* no unfinished row below it */
	int64_t n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_count_add(s, sqlite3_column_int(st, 0), -1);
		n++;
	}
	if (rc != SQLITE_DONE)
		n = store_fail_txn(s); /* the turn rolls back, counts included */
	sqlite3_finalize(st);
	return n;
}

int64_t store_svc_clear(struct store *s)
{
	/* the metadata of final typed jobs whose rows stay */
	static const char meta_sql[] = "DELETE FROM jobmeta WHERE id IN (SELECT m.id FROM jobmeta AS m"
				       " LEFT JOIN jobs AS j ON j.id=m.id WHERE j.id IS NULL OR j.state>=2 OR j.id<?1)";
	if (store_begin(s))
		return -1;
	if (sqlite3_exec(store_db(s), "DELETE FROM jobtypes", NULL, NULL, NULL) != SQLITE_OK)
		return store_fail_txn(s);
	int64_t n = clear_rows(s);
	if (n < 0)
		return -1;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(store_db(s), meta_sql, -1, &st, NULL) != SQLITE_OK)
		return store_fail_txn(s);
	sqlite3_bind_int64(st, 1, store_cancel_mark(s));
	if (sqlite3_step(st) == SQLITE_DONE)
		n += sqlite3_changes(store_db(s));
	else
		n = store_fail_txn(s);
	sqlite3_finalize(st);
	return n;
}

/* ---- settings (apps, binds) ---- */

int store_svc_set(struct store *s, const char *key, const char *value)
{
	sqlite3_stmt *st = stmt(s, value ? Q_KV_PUT : Q_KV_DEL);
	if (!st || store_begin(s))
		return -1;
	store_bind_str(st, 1, key);
	if (value)
		store_bind_str(st, 2, value);
	int rc = step_write(s, st, "setting");
	return rc < 0 ? rc : 0;
}

struct kv_cb {
	int (*fn)(void *arg, const char *key, const char *value);
	void *arg;
};

static int kv_row(sqlite3_stmt *st, void *ctx)
{
	struct kv_cb *c = ctx;
	return c->fn(c->arg, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1));
}

int64_t store_svc_settings(struct store *s, const char *prefix,
			   int (*fn)(void *arg, const char *key, const char *value), void *arg)
{
	sqlite3_stmt *st = stmt(s, Q_KV_ALL);
	if (!st)
		return -1;
	store_bind_str(st, 1, prefix);
	struct kv_cb c = {fn, arg};
	return store_each(s, st, kv_row, &c);
}
