/* SPDX-License-Identifier: MIT */
/*
 * storearr: the `arrays` table of state.db -- see storearr.h. Its
 * statements are prepared on first use and kept in the store's slots
 * (store_arr_stmts, finalized by store_close), as storesvc.c's and
 * storepipe.c's are: an array's members are made a chunk per loop turn,
 * each chunk one store_array_made() and thousands of job rows, so the
 * array's own statements must not be compiled again every turn.
 */
#include "storearr.h"

#include <sqlite3.h>
#include <string.h>

#include "mjob.h"
#include "store_int.h"

enum {
	Q_ADD,
	Q_MADE,
	Q_CANCEL,
	Q_ALL,
	Q_MAX_ID,
	Q_FINAL_ROW,
	Q_COUNT_RANGE,
	Q_MAX
};
_Static_assert(Q_MAX <= STORE_ARR_STMTS, "store_int.h: too few STORE_ARR_STMTS");

static const char *const arr_sql[Q_MAX] = {
	[Q_ADD] = "INSERT INTO arrays(id,n,client,tmpl,tasks,entries,made,cancel_from,submitted) "
		  "VALUES(?1,?2,?3,?4,?5,?6,?7,NULL,?8)",
	[Q_MADE] = "UPDATE arrays SET made=?2 WHERE id=?1",
	[Q_CANCEL] = "UPDATE arrays SET cancel_from=?2 WHERE id=?1",
	[Q_ALL] = "SELECT id,n,client,tmpl,tasks,entries,made,coalesce(cancel_from,-1),submitted FROM arrays "
		  "ORDER BY id",
	[Q_MAX_ID] = "SELECT coalesce(max(id+n-1),0) FROM arrays",
	[Q_FINAL_ROW] = "INSERT INTO jobs(id,client,type,input,state,attempts,submitted,finished,error) "
			"VALUES(?1,?2,?3,?4,?5,0,?6,?6,?7)",
	/* ?3: the cancel-all mark (a row below it that is not final is cancelled) */
	[Q_COUNT_RANGE] = "SELECT CASE WHEN state<2 AND id<?3 THEN 4 ELSE state END AS st,count(*) "
			  "FROM jobs WHERE id BETWEEN ?1 AND ?2 GROUP BY st",
};

static sqlite3_stmt *stmt(struct store *s, int q) { return store_stmt(s, &store_arr_stmts(s)[q], arr_sql[q]); }

/* A write's statement, in the turn's transaction (NULL: failed). */
static sqlite3_stmt *write_stmt(struct store *s, int q)
{
	return store_write_stmt(s, &store_arr_stmts(s)[q], arr_sql[q]);
}

int store_array_add(struct store *s, const struct store_array *a)
{
	sqlite3_stmt *st = write_stmt(s, Q_ADD);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, a->id);
	sqlite3_bind_int64(st, 2, a->n);
	store_bind_str(st, 3, a->client);
	store_bind_str(st, 4, a->tmpl);
	store_bind_str(st, 5, a->tasks);
	store_bind_str(st, 6, a->entries);
	sqlite3_bind_int64(st, 7, a->made);
	sqlite3_bind_double(st, 8, a->submitted);
	return store_run(s, st);
}

/* UPDATE arrays SET <column q sets>=v WHERE id=id. */
static int set_col(struct store *s, int q, int64_t id, int64_t v)
{
	sqlite3_stmt *st = write_stmt(s, q);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, v);
	return store_run(s, st);
}

int store_array_made(struct store *s, int64_t id, int64_t made) { return set_col(s, Q_MADE, id, made); }

int store_array_cancel(struct store *s, int64_t id, int64_t from) { return set_col(s, Q_CANCEL, id, from); }

struct arrays_cb {
	int (*fn)(void *arg, const struct store_array *a);
	void *arg;
	int64_t failed; /* the array fn refused; 0: none */
};

static int array_row(sqlite3_stmt *st, void *arg)
{
	struct arrays_cb *cb = arg;
	struct store_array a = {
		.id = sqlite3_column_int64(st, 0),
		.n = sqlite3_column_int64(st, 1),
		.client = store_col_str(st, 2),
		.tmpl = store_col_str(st, 3),
		.tasks = store_col_str(st, 4),
		.entries = store_col_str(st, 5),
		.made = sqlite3_column_int64(st, 6),
		.cancel_from = sqlite3_column_int64(st, 7),
		.submitted = sqlite3_column_double(st, 8),
	};
	if (cb->fn(cb->arg, &a))
		cb->failed = a.id;
	return cb->failed != 0;
}

int64_t store_arrays(struct store *s, int (*fn)(void *arg, const struct store_array *a), void *arg)
{
	sqlite3_stmt *st = stmt(s, Q_ALL);
	if (!st)
		return -1;
	struct arrays_cb cb = {fn, arg, 0};
	int64_t n = store_each(s, st, array_row, &cb);
	return cb.failed ? store_set_err(s, "loading array %lld failed", (long long)cb.failed) : n;
}

int64_t store_arrays_max_id(struct store *s)
{
	sqlite3_stmt *st = stmt(s, Q_MAX_ID);
	if (!st)
		return -1;
	int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	if (v < 0)
		store_fail(s);
	sqlite3_reset(st);
	return v;
}

int store_array_final_row(struct store *s, int64_t id, const char *client, const char *type, const char *input,
			  int state, const char *error, int count, double now)
{
	sqlite3_stmt *st = write_stmt(s, Q_FINAL_ROW);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	store_bind_str(st, 2, client);
	store_bind_str(st, 3, type);
	store_bind_str(st, 4, input ? input : "");
	sqlite3_bind_int(st, 5, state);
	sqlite3_bind_double(st, 6, now);
	store_bind_str(st, 7, error);
	if (store_run(s, st))
		return -1;
	if (count)
		store_count_add(s, state, 1);
	return 0;
}

int store_count_range(struct store *s, int64_t lo, int64_t hi, int64_t counts[5])
{
	memset(counts, 0, 5 * sizeof counts[0]);
	sqlite3_stmt *st = stmt(s, Q_COUNT_RANGE);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_int64(st, 2, hi);
	sqlite3_bind_int64(st, 3, store_cancel_mark(s));
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int k = sqlite3_column_int(st, 0);
		if (k >= 0 && k < 5)
			counts[k] = sqlite3_column_int64(st, 1);
	}
	int ret = rc == SQLITE_DONE ? 0 : store_fail(s);
	sqlite3_reset(st);
	return ret;
}
