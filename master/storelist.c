/* SPDX-License-Identifier: MIT */
/*
 * storelist: the `jobs` listing's query over state.db -- one SQL text and
 * one row reader (store_jobs_db, store_rec_read; store_int.h) for both the
 * writer's connection (store_jobs, small lookups on the loop) and the
 * reader thread's (storeread.c), so that both read rows the same way.
 * Split from store.c by noun: it needs no struct store, only a connection.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdint.h>

#include "buf.h"
#include "mjob.h"
#include "store_int.h"

void store_rec_read(sqlite3_stmt *st, struct store_rec *r)
{
	r->id = sqlite3_column_int64(st, 0);
	r->type = store_col_str(st, 1);
	r->state = sqlite3_column_int(st, 2);
	r->attempts = sqlite3_column_int(st, 3);
	r->worker = store_col_str(st, 4);
	r->output = store_col_str(st, 5);
	r->output_len = (size_t)sqlite3_column_bytes(st, 5);
	r->error = store_col_str(st, 6);
	if (!r->error && r->state == MJOB_CANCELLED)
		r->error = "cancelled";
	r->rc_null = sqlite3_column_type(st, 7) == SQLITE_NULL;
	r->rc = sqlite3_column_int(st, 7);
	r->client = store_col_str(st, 8);
	r->input = store_col_str(st, 9);
	r->input_len = (size_t)sqlite3_column_bytes(st, 9);
	r->deps = store_col_str(st, 10);
	r->prio = sqlite3_column_int(st, 11);
	r->retries = sqlite3_column_int(st, 12);
	r->submitted = store_col_time(st, 13);
	r->started = store_col_time(st, 14);
	r->finished = store_col_time(st, 15);
}

int64_t store_jobs_db(sqlite3 *db, const struct store_query *q, const struct store_marks *mk,
		      int (*fn)(void *arg, const struct store_rec *r), void *arg, char *err, size_t errlen)
{
	struct buf sql = BUF_INIT;
	/* ?5, ?6: cancel_below and cancel_t (see struct store) */
	buf_adds(&sql, "SELECT id,type,CASE WHEN state<2 AND id<?5 THEN 4 ELSE state END,attempts,worker,"
		       "output,error,rc," STORE_CLIENT_NAME ",input,deps,prio,retries,submitted,started,"
		       "CASE WHEN state<2 AND id<?5 THEN ?6 ELSE finished END FROM jobs AS j WHERE ");
	buf_adds(&sql, q->desc ? "id<?1" : "id>?1");
	if (q->upto > 0)
		buf_addf(&sql, " AND id<=%lld", (long long)q->upto);
	if (q->state == MJOB_CANCELLED)
		buf_adds(&sql, " AND (+state=?2 OR (+state<2 AND id<?5))");
	else if (q->state >= 0)
		/* unfinished rows: none below live_lo (?7) */
		buf_adds(&sql, q->state < 2 ? " AND +state=?2 AND id>=?5 AND id>=?7" : " AND +state=?2");
	if (q->client)
		buf_adds(&sql, " AND " STORE_CLIENT_IS("?3", "(SELECT id FROM clients WHERE name=?3)"));
	if (q->ids) {
		buf_adds(&sql, " AND id IN (");
		for (size_t i = 0; i < q->nids; i++)
			buf_addf(&sql, "%s%lld", i ? "," : "", (long long)q->ids[i]);
		buf_adds(&sql, ")");
	}
	buf_adds(&sql, q->desc ? " ORDER BY id DESC LIMIT ?4" : " ORDER BY id LIMIT ?4");
	if (!sql.p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql.p, -1, &st, NULL) != SQLITE_OK) {
		buf_release(&sql);
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		return -1;
	}
	buf_release(&sql);
	sqlite3_bind_int64(st, 1, q->desc && q->after <= 0 ? INT64_MAX : q->after);
	if (q->state >= 0)
		sqlite3_bind_int(st, 2, q->state);
	if (q->client)
		sqlite3_bind_text(st, 3, q->client, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, q->limit);
	sqlite3_bind_int64(st, 5, mk->cancel_below);
	sqlite3_bind_double(st, 6, mk->cancel_t);
	if (q->state >= 0 && q->state < 2)
		sqlite3_bind_int64(st, 7, mk->live_lo);
	int64_t n = 0;
	int rc;
	struct store_rec r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_rec_read(st, &r);
		n++;
		if (fn(arg, &r))
			break;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		n = -1;
	}
	sqlite3_finalize(st);
	return n;
}
