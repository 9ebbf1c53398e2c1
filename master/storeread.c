/* SPDX-License-Identifier: MIT */
/*
 * storeread: the read-only connection to state.db of the reader thread --
 * see storeread.h. It shares the listing's SQL with the writer's store_jobs
 * (store_jobs_db, store_int.h) so both read rows the same way.
 */
#include "storeread.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "store_int.h"

struct storeread {
	struct store *store; /* the writer's: told while a read transaction is open */
	sqlite3 *db;
	sqlite3_stmt *touch; /* a cheap read that starts the read transaction */
	int in_txn;
	char errmsg[256];
};

static int fail(struct storeread *r)
{
	snprintf(r->errmsg, sizeof r->errmsg, "%s", r->db ? sqlite3_errmsg(r->db) : "out of memory");
	return -1;
}

int storeread_open(struct storeread **out, struct store *s, const char *path, char *err, size_t errlen)
{
	*out = NULL;
	struct storeread *r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->store = s;
	/* NOMUTEX: the loop and the reader thread take turns, never at once
	 * (reader.c hands the connection over under its mutex). */
	if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(r->db, "SELECT count(*) FROM meta", -1, SQLITE_PREPARE_PERSISTENT, &r->touch,
			       NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s for reading: %s", path,
			 r->db ? sqlite3_errmsg(r->db) : "out of memory");
		storeread_close(r);
		return -1;
	}
	sqlite3_busy_timeout(r->db, 5000);
	*out = r;
	return 0;
}

void storeread_close(struct storeread *r)
{
	if (!r)
		return;
	storeread_end(r);
	sqlite3_finalize(r->touch);
	sqlite3_close(r->db);
	free(r);
}

int storeread_begin(struct storeread *r)
{
	storeread_end(r);
	if (sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return fail(r);
	r->in_txn = 1;
	store_readers_add(r->store, 1);
	/* A deferred transaction takes its snapshot at its first read. */
	int rc = sqlite3_step(r->touch);
	sqlite3_reset(r->touch);
	if (rc != SQLITE_ROW) {
		fail(r);
		storeread_end(r);
		return -1;
	}
	return 0;
}

void storeread_end(struct storeread *r)
{
	if (!r->in_txn)
		return;
	sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
	r->in_txn = 0;
	store_readers_add(r->store, -1);
}

int64_t storeread_jobs(struct storeread *r, const struct store_query *q, const struct store_marks *mk,
		       int (*fn)(void *arg, const struct store_rec *rec), void *arg)
{
	return store_jobs_db(r->db, q, mk, fn, arg, r->errmsg, sizeof r->errmsg);
}

void storeread_interrupt(struct storeread *r)
{
	if (r)
		sqlite3_interrupt(r->db);
}

const char *storeread_errmsg(const struct storeread *r)
{
	return r->errmsg;
}
