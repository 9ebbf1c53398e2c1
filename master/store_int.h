/* SPDX-License-Identifier: MIT */
/*
 * store_int: the part of store.c's plumbing that the store's other source
 * files (storesvc.c) share with it, so that they open the turn's
 * transaction, report errors and read job rows exactly as store.c does
 * instead of keeping copies. Internal to the store: no other module
 * includes this header.
 */
#ifndef MTS_STORE_INT_H
#define MTS_STORE_INT_H

#include <sqlite3.h>
#include <stdint.h>

#include "store.h"

/* The writer's connection. */
sqlite3 *store_db(struct store *s);
/* store_errmsg() takes SQLite's message; -1. */
int store_fail(struct store *s);
/* The same, and the open transaction must not commit (store_commit rolls
 * it back): for a write that failed half-way. -1. */
int store_fail_txn(struct store *s);
/* store_errmsg() takes this printf-formatted message; -1. */
int store_set_err(struct store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Step a write statement to completion, reset it and clear its bindings;
 * a failure marks the open transaction failed (store_fail_txn). 0 or -1. */
int store_run(struct store *s, sqlite3_stmt *st);
/* Step read statement st, calling fn(st, arg) for each row until it returns
 * non-zero; reset it and clear its bindings. Rows seen (the one fn stopped
 * at included), or -1 when SQLite failed (store_fail). */
int64_t store_each(struct store *s, sqlite3_stmt *st, int (*fn)(sqlite3_stmt *st, void *arg), void *arg);
/* Jobs below this id whose row says queued or running are cancelled (the
 * mark of the last cancel --all; 0: none). */
int64_t store_cancel_mark(const struct store *s);
/* No row below this id is unfinished (state<2): walks of unfinished rows
 * start there (there is no index of them, see live_lo in store.c). */
int64_t store_live_lo(const struct store *s);
/* Row id is made unfinished (queued or running) by this transaction:
 * before its write, so that store_live_lo stays true. */
void store_live_note(struct store *s, int64_t id);

/* Statements of storesvc.c, prepared on first use (plain jobs never prepare
 * them) and finalized by store_close(): STORE_SVC_STMTS slots. */
/* The statement in *slot, prepared from sql on its first use and kept for
 * the store's life (store_close finalizes the slots of store_svc_stmts,
 * store_pipe_stmts and store_arr_stmts); NULL after store_fail if it cannot
 * be prepared. */
sqlite3_stmt *store_stmt(struct store *s, sqlite3_stmt **slot, const char *sql);
/* store_stmt for a write: the turn's transaction is opened first, so the
 * caller binds and runs it inside; NULL if either failed (store_fail). */
sqlite3_stmt *store_write_stmt(struct store *s, sqlite3_stmt **slot, const char *sql);
/* Bind v as text, borrowed until the statement runs; NULL binds SQL NULL. */
void store_bind_str(sqlite3_stmt *st, int i, const char *v);
/* Column i as text (NULL for SQL NULL), borrowed until st steps or resets. */
/* A time column: -1 for NULL. */
static inline double store_col_time(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_double(st, i);
}

static inline const char *store_col_str(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

#define STORE_SVC_STMTS 24
sqlite3_stmt **store_svc_stmts(struct store *s);
/* The same for storepipe.c. */
#define STORE_PIPE_STMTS 16
sqlite3_stmt **store_pipe_stmts(struct store *s);
/* The same for storearr.c. */
#define STORE_ARR_STMTS 8
sqlite3_stmt **store_arr_stmts(struct store *s);

/* Schema 9: a row's client id, for a query FROM jobs AS j: from table
 * clients by the row's key, or, for a row written before schema 9 (ckey
 * NULL), its own jobs.client. */
#define STORE_CLIENT_NAME "CASE WHEN j.ckey IS NULL THEN j.client ELSE (SELECT name FROM clients WHERE id=j.ckey) END"
/* The condition "the row is of the client whose id is bound to name_param
 * and key (clients.id, or NULL if it has none) to key_param", for a query
 * FROM jobs without an alias: rows before schema 9 name the client. */
#define STORE_CLIENT_IS(name_param, key_param) \
	"(ckey=" key_param " OR (ckey IS NULL AND client=" name_param "))"

/* The columns of a store_row from a query FROM jobs AS j, in the order
 * store_row_read() reads them, followed by one more: the job type
 * (m.jtype with a LEFT JOIN jobmeta AS m ON m.id=j.id, or NULL). */
#define STORE_ROW_COLS STORE_ROW_COLS_CLIENT(STORE_CLIENT_NAME)
/* The same with the client's column given (store_load reads j.client and
 * maps j.ckey itself: one lookup per run of rows of one client, not one
 * per row). */
#define STORE_ROW_COLS_CLIENT(client)                                                                 \
	"j.id," client ",j.type,j.input,j.delay,j.target,j.cwd,j.env,j.prio,j.retries,j.timeout,j.deps,j.state," \
	"j.attempts,j.worker,j.treq,j.ranks,j.crash_limit,j.crashes,j.envid,j.opts"
/* Fill r from the current row of st (columns STORE_ROW_COLS and the job
 * type from 0); strings borrowed until st steps or resets. */
void store_row_read(sqlite3_stmt *st, struct store_row *r);

/* The columns of a store_rec for a query FROM jobs AS j, in the order
 * store_rec_read() reads them (store_jobs maps state and finished of rows
 * below the cancel mark; readers of final rows need not). */
#define STORE_REC_COLS                                                                                   \
	"j.id,j.type,j.state,j.attempts,j.worker,j.output,j.error,j.rc," STORE_CLIENT_NAME ",j.input,j.deps,j.prio,"    \
	"j.retries,j.submitted,j.started,j.finished"
#define STORE_REC_NCOLS 16
/* Fill r from the current row of st (columns STORE_REC_COLS from 0). */
void store_rec_read(sqlite3_stmt *st, struct store_rec *r);

/* A reader (storeread.c) began (+1) or ended (-1) a read transaction:
 * while one is open the WAL cannot restart (store_wants_checkpoint). Any
 * thread. */
void store_readers_add(struct store *s, int delta);

/* store_jobs on connection db (the writer's, or a reader's: storeread.h),
 * with the writer's marks given (store_marks_get); err gets SQLite's
 * message on a failure (-1). */
int64_t store_jobs_db(sqlite3 *db, const struct store_query *q, const struct store_marks *mk,
		      int (*fn)(void *arg, const struct store_rec *r), void *arg, char *err, size_t errlen);

#endif
