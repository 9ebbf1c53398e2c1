/* SPDX-License-Identifier: MIT */
/*
 * storearr: the `arrays` table of state.db -- see storearr.h. Statements
 * are prepared per call: an array costs a few of them per loop turn while
 * its members are being created, next to thousands of job inserts.
 */
#include "storearr.h"

#include <sqlite3.h>
#include <string.h>

#include "mjob.h"
#include "store_int.h"

static sqlite3_stmt *prep(struct store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK) {
		store_fail(s);
		return NULL;
	}
	return st;
}

/* Step one write, finalize it. */
static int write_once(struct store *s, sqlite3_stmt *st)
{
	if (!st)
		return -1;
	int rc = store_run(s, st);
	sqlite3_finalize(st);
	return rc;
}

int store_array_add(struct store *s, const struct store_array *a)
{
	if (store_begin(s))
		return -1;
	sqlite3_stmt *st = prep(s, "INSERT INTO arrays(id,n,client,tmpl,tasks,entries,made,cancel_from,submitted) "
				   "VALUES(?1,?2,?3,?4,?5,?6,?7,NULL,?8)");
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
	return write_once(s, st);
}

int store_array_made(struct store *s, int64_t id, int64_t made)
{
	if (store_begin(s))
		return -1;
	sqlite3_stmt *st = prep(s, "UPDATE arrays SET made=?2 WHERE id=?1");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, made);
	return write_once(s, st);
}

int store_array_cancel(struct store *s, int64_t id, int64_t from)
{
	if (store_begin(s))
		return -1;
	sqlite3_stmt *st = prep(s, "UPDATE arrays SET cancel_from=?2 WHERE id=?1");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, from);
	return write_once(s, st);
}

int64_t store_arrays(struct store *s, int (*fn)(void *arg, const struct store_array *a), void *arg)
{
	sqlite3_stmt *st =
		prep(s, "SELECT id,n,client,tmpl,tasks,entries,made,coalesce(cancel_from,-1),submitted FROM arrays "
			"ORDER BY id");
	if (!st)
		return -1;
	int64_t n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_array a = {
			.id = sqlite3_column_int64(st, 0),
			.n = sqlite3_column_int64(st, 1),
			.client = (const char *)sqlite3_column_text(st, 2),
			.tmpl = (const char *)sqlite3_column_text(st, 3),
			.tasks = (const char *)sqlite3_column_text(st, 4),
			.entries = (const char *)sqlite3_column_text(st, 5),
			.made = sqlite3_column_int64(st, 6),
			.cancel_from = sqlite3_column_int64(st, 7),
			.submitted = sqlite3_column_double(st, 8),
		};
		n++;
		if (fn(arg, &a)) {
			sqlite3_finalize(st);
			return store_set_err(s, "loading array %lld failed", (long long)a.id);
		}
	}
	if (rc != SQLITE_DONE) {
		store_fail(s);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return n;
}

int64_t store_arrays_max_id(struct store *s)
{
	sqlite3_stmt *st = prep(s, "SELECT coalesce(max(id+n-1),0) FROM arrays");
	if (!st)
		return -1;
	int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	if (v < 0)
		store_fail(s);
	sqlite3_finalize(st);
	return v;
}

int store_array_final_row(struct store *s, int64_t id, const char *client, const char *type, const char *input,
			  int state, const char *error, int count, double now)
{
	if (store_begin(s))
		return -1;
	sqlite3_stmt *st = prep(s, "INSERT INTO jobs(id,client,type,input,state,attempts,submitted,finished,error) "
				   "VALUES(?1,?2,?3,?4,?5,0,?6,?6,?7)");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	store_bind_str(st, 2, client);
	store_bind_str(st, 3, type);
	store_bind_str(st, 4, input ? input : "");
	sqlite3_bind_int(st, 5, state);
	sqlite3_bind_double(st, 6, now);
	store_bind_str(st, 7, error);
	if (write_once(s, st))
		return -1;
	if (count)
		store_count_add(s, state, 1);
	return 0;
}

int store_count_range(struct store *s, int64_t lo, int64_t hi, int64_t counts[5])
{
	memset(counts, 0, 5 * sizeof counts[0]);
	sqlite3_stmt *st = prep(s, "SELECT CASE WHEN state<2 AND id<?3 THEN 4 ELSE state END AS st,count(*) "
				   "FROM jobs WHERE id BETWEEN ?1 AND ?2 GROUP BY st");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_int64(st, 2, hi);
	sqlite3_bind_int64(st, 3, store_cancel_mark(s));
	while (sqlite3_step(st) == SQLITE_ROW) {
		int k = sqlite3_column_int(st, 0);
		if (k >= 0 && k < 5)
			counts[k] = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return 0;
}
