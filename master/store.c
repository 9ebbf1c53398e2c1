/* SPDX-License-Identifier: MIT */
/*
 * store: SQLite persistence for the master -- see store.h for the contract
 * and docs/formats.md for the schema. Hot-path statements are prepared once
 * at open; only the `jobs` listing (a few per second at most) prepares its
 * statement per request because its WHERE clause depends on the filters.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "mjob.h"

#include "store_int.h"
#include "storearr.h"
#include "syncgate.h"

#define STORE_SCHEMA_VERSION 9
#define STORE_STR_(x) #x
#define STORE_STR(x) STORE_STR_(x)

enum {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_INSERT,
	S_ASSIGN,
	S_REQUEUE,
	S_STARTED,
	S_FINISH,
	S_CANCEL_ALL,
	S_STATE,
	S_INPUT,
	S_COUNT_ADD,
	S_RESULTS,
	S_WORKER_UP,
	S_WORKER_DOWN,
	S_SUBMIT_FIND,
	S_SUBMIT_ADD,
	S_SUBMIT_PRUNE,
	S_CRASHES,
	S_ENV_OFFER,
	S_ENV_FIND,
	S_ENV_GET,
	S_LIVE_NEXT,
	S_LIVE_SAVE,
	S_CKEY_FIND,
	S_CKEY_ADD,
	S_CKEY_NAME,
	S_MAX
};

static const char *const sql_text[S_MAX] = {
	[S_BEGIN] = "BEGIN",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	/* Schema 9: the client as its key (?2, clients.id), client '' */
	[S_INSERT] = "INSERT INTO jobs(id,client,ckey,type,input,delay,target,cwd,env,prio,retries,timeout,"
		     "deps,state,attempts,submitted,treq,ranks,crash_limit,envid,opts) "
		     "VALUES(?1,'',?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,0,0,?13,?14,?15,?16,?17,?18)",
	[S_CKEY_FIND] = "SELECT id FROM clients WHERE name=?1",
	[S_CKEY_ADD] = "INSERT INTO clients(name) VALUES(?1)",
	[S_CKEY_NAME] = "SELECT name FROM clients WHERE id=?1",
	/* An offer refreshes t: forget keeps a snapshot a client may still
	 * name (see store_forget) */
	[S_ENV_OFFER] = "INSERT INTO envs(key,minimal,vars,t) VALUES(?1,?2,?3,?4) "
			"ON CONFLICT(key) DO UPDATE SET t=excluded.t",
	[S_ENV_FIND] = "SELECT id FROM envs WHERE key=?1",
	[S_ENV_GET] = "SELECT minimal,vars FROM envs WHERE id=?1",
	/* The oldest unfinished row at or above ?1, else the next id (see
	 * live_lo in struct store): a rowid walk that stops at the first
	 * unfinished row, so each finished row is passed once in all. */
	[S_LIVE_NEXT] = "SELECT coalesce((SELECT id FROM jobs WHERE id>=?1 AND +state<2 ORDER BY id LIMIT 1),"
			"(SELECT coalesce(max(id),0)+1 FROM jobs))",
	[S_LIVE_SAVE] = "INSERT OR REPLACE INTO meta(key,value) VALUES('live_lo',?1)",
	[S_ASSIGN] = "UPDATE jobs SET state=1,attempts=?2,worker=?3,started=?4 WHERE id=?1",
	[S_REQUEUE] = "UPDATE jobs SET state=0,attempts=?2,worker=NULL,started=NULL WHERE id=?1",
	[S_STARTED] = "UPDATE jobs SET started=?3 WHERE id=?1 AND attempts=?2 AND state=1",
	/* started: this attempt's start if known (?9), else what the
	 * assignment or a `started` wrote */
	[S_FINISH] = "UPDATE jobs SET state=?2,attempts=?3,output=?4,error=?5,rc=?6,finished=?7,"
		     "worker=coalesce(?8,worker),started=coalesce(?9,started) WHERE id=?1",
	/* One chunk of a cancel-all sweep. No error text: rows keep their
	 * size (no page splits), and readers show "cancelled" for state 4
	 * without one. A rowid range beats walking the index. */
	[S_CANCEL_ALL] = "UPDATE jobs SET state=4,finished=?1 WHERE id>=?2 AND id<?3 AND +state<2",
	[S_STATE] = "SELECT state FROM jobs WHERE id=?1",
	[S_INPUT] = "SELECT input FROM jobs WHERE id=?1",
	[S_COUNT_ADD] = "UPDATE counts SET n=n+?2 WHERE state=?1",
	[S_WORKER_UP] = "INSERT OR REPLACE INTO workers(wid,since) VALUES(?1,?2)",
	[S_WORKER_DOWN] = "DELETE FROM workers WHERE wid=?1 OR ?1 IS NULL",
	[S_SUBMIT_FIND] = "SELECT first,n FROM submits WHERE client=?1 AND req=?2",
	[S_SUBMIT_ADD] = "INSERT OR REPLACE INTO submits(client,req,first,n,t) VALUES(?1,?2,?3,?4,?5)",
	[S_SUBMIT_PRUNE] = "DELETE FROM submits WHERE client=?1 AND req<?2",
	[S_CRASHES] = "UPDATE jobs SET crashes=?2 WHERE id=?1",
	/* ?4: cancel_below (an unfinished row below it is cancelled); ?5:
	 * the client's key (NULL if it has none), ?3 its id (rows written
	 * before schema 9 name it) */
	[S_RESULTS] = "SELECT id,type,CASE WHEN state<2 THEN 4 ELSE state END,attempts,worker,output,error,rc "
		      "FROM jobs WHERE id BETWEEN ?1 AND ?2 AND (+state>=2 OR id<?4) AND " STORE_CLIENT_IS("?3", "?5")
		      " ORDER BY id",
};

/* Schema 7, pipelines (storepipe.h): a pipeline's file and state, which
 * stage each of its jobs belongs to (piperuns: a run of consecutive job
 * ids per admitted batch; pipejobs: one row per job, as the first masters
 * of schema 7 wrote them, still read), and the items waiting for a
 * reducing stage. New tables only, so the upgrade from 6 is creating them (these
 * statements, IF NOT EXISTS, run for every version). */
#define STORE_PIPE_SCHEMA_SQL                                                                              \
	"CREATE TABLE IF NOT EXISTS pipelines(id INTEGER PRIMARY KEY, name TEXT, spec TEXT NOT NULL,"          \
	" client TEXT, state INTEGER NOT NULL DEFAULT 0, created REAL, finished REAL, error TEXT,"            \
	" items INTEGER NOT NULL DEFAULT 0, token TEXT UNIQUE);"                                              \
	"CREATE TABLE IF NOT EXISTS pipejobs(job INTEGER PRIMARY KEY, pipeline INTEGER NOT NULL,"            \
	" stage INTEGER NOT NULL);"                                                                           \
	"CREATE INDEX IF NOT EXISTS pipejobs_stage ON pipejobs(pipeline, stage);"                             \
	"CREATE TABLE IF NOT EXISTS pipeitems(id INTEGER PRIMARY KEY, pipeline INTEGER NOT NULL,"            \
	" stage INTEGER NOT NULL, item TEXT NOT NULL);"                                                       \
	"CREATE INDEX IF NOT EXISTS pipeitems_stage ON pipeitems(pipeline, stage);"                           \
	"CREATE TABLE IF NOT EXISTS piperuns(first INTEGER PRIMARY KEY, n INTEGER NOT NULL,"                 \
	" pipeline INTEGER NOT NULL, stage INTEGER NOT NULL);"                                                \
	"CREATE INDEX IF NOT EXISTS piperuns_stage ON piperuns(pipeline, stage);"                             \
	"CREATE TRIGGER IF NOT EXISTS jobs_pipe_gone AFTER DELETE ON jobs BEGIN"                              \
	" DELETE FROM pipejobs WHERE job=old.id; END;"

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS jobs("
	" id INTEGER PRIMARY KEY,"
	" client TEXT NOT NULL,"
	" type TEXT NOT NULL,"
	" input TEXT,"
	" delay REAL,"
	" target TEXT,"
	" cwd TEXT,"
	" env TEXT,"
	" opts TEXT,"
	" prio INTEGER NOT NULL DEFAULT 0,"
	" retries INTEGER NOT NULL DEFAULT 3,"
	" timeout REAL,"
	" deps TEXT,"
	" state INTEGER NOT NULL DEFAULT 0,"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" worker TEXT,"
	" output TEXT,"
	" error TEXT,"
	" rc INTEGER,"
	" submitted REAL,"
	" started REAL,"
	" finished REAL,"
	" treq REAL,"
	" ranks INTEGER,"
	" crash_limit INTEGER NOT NULL DEFAULT 1,"
	" crashes INTEGER NOT NULL DEFAULT 0,"
	" envid INTEGER,"
	" ckey INTEGER);"
	/* Schema 9: each client id once; jobs.ckey names it (see upgrade_sql) */
	"CREATE TABLE IF NOT EXISTS clients(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
	/* AUTOINCREMENT: an id is never reused after forget deleted its row,
	 * because workers cache snapshots by id */
	"CREATE TABLE IF NOT EXISTS envs(id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,"
	" minimal INTEGER NOT NULL, vars TEXT NOT NULL, t REAL);"
	"CREATE TABLE IF NOT EXISTS workers(wid TEXT PRIMARY KEY, since REAL);"
	"CREATE TABLE IF NOT EXISTS submits(client TEXT NOT NULL, req INTEGER NOT NULL, first INTEGER NOT NULL,"
	" n INTEGER NOT NULL, t REAL, PRIMARY KEY(client, req)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS counts(state INTEGER PRIMARY KEY, n INTEGER NOT NULL);"
	"INSERT OR IGNORE INTO counts(state,n) VALUES(2,0),(3,0),(4,0);"
	/* forget looks snapshots up by it; only exec jobs have an entry */
	"CREATE INDEX IF NOT EXISTS jobs_env ON jobs(envid) WHERE envid IS NOT NULL;"
	/* Schema 6, the HTTP service layer (storesvc.h). Typed jobs keep
	 * their type, external id and DLQ mark in a side table, so that the
	 * rows of plain jobs stay as they were and cost nothing more. */
	"CREATE TABLE IF NOT EXISTS jobtypes(name TEXT PRIMARY KEY,"
	" mode TEXT NOT NULL CHECK(mode IN ('queue','endpoint')), worker_type TEXT, endpoint TEXT,"
	" schema TEXT CHECK(schema IS NULL OR json_valid(schema)), timeout_s REAL, retries INTEGER,"
	" created REAL, updated REAL, CHECK(mode<>'endpoint' OR endpoint IS NOT NULL));"
	"CREATE TABLE IF NOT EXISTS workertypes(name TEXT PRIMARY KEY, executor TEXT NOT NULL,"
	" params TEXT NOT NULL DEFAULT '{}' CHECK(json_valid(params) AND json_type(params)='object'),"
	" created REAL, updated REAL);"
	"CREATE TABLE IF NOT EXISTS jobmeta(id INTEGER PRIMARY KEY, ext TEXT UNIQUE, jtype TEXT NOT NULL,"
	" job TEXT, dlq INTEGER NOT NULL DEFAULT 0, dlq_at REAL);"
	"CREATE INDEX IF NOT EXISTS jobmeta_dlq ON jobmeta(dlq) WHERE dlq=1;"
	/* whatever deletes a job's row (forget, clear, a hand with sqlite3)
	 * deletes its metadata with it, in the same transaction */
	"CREATE TRIGGER IF NOT EXISTS jobs_meta_gone AFTER DELETE ON jobs BEGIN"
	" DELETE FROM jobmeta WHERE id=old.id; END;"
	/* Schema 7: job arrays (storearr.h) */
	STOREARR_SCHEMA_SQL
	STORE_PIPE_SCHEMA_SQL
	"INSERT OR IGNORE INTO meta(key,value) VALUES('schema_version','" STORE_STR(STORE_SCHEMA_VERSION) "');";

/* See live_lo in struct store. */
#define STORE_LIVE_SAVE_STEP 65536

/* WAL frames (pages) after which the master asks for a checkpoint. A
 * checkpoint copies each page once however often the WAL holds it, and a
 * job's row page is in the WAL twice (insert, result), so a larger WAL
 * means fewer bytes written per job (16000 frames: about -8 % per echo
 * job, 32000: -22 %). But until a WAL has once grown to its size every
 * commit extends the file, and an fdatasync that must also commit the
 * file's new size to ext4's journal made a fresh cluster's round trip
 * 100-200 us slower with 16000; and commits wait while a checkpoint runs
 * (store_checkpoint_begin), longer for a larger one. */
#define STORE_CHECKPOINT_FRAMES 4000

/* Client keys cached (struct store, ckeys), and the longest client id
 * cached (a longer one is looked up every time; the master's are <= 64). */
#define STORE_CKEYS 8
#define STORE_CKEY_NAME_MAX 64

struct store {
	sqlite3 *db;
	sqlite3 *ckpt;  /* second connection, only for checkpoints (store_checkpoint) */
	int wal_fd;     /* our own descriptor of state.db-wal, for store_sync */
	int no_sync;    /* --sync normal: store_sync does nothing */
	atomic_int wal_frames; /* frames in the WAL after the last commit */
	/* While a reader holds a snapshot (storeread.h: readers) the WAL
	 * cannot restart and grows; a checkpoint is then due only once
	 * STORE_CHECKPOINT_FRAMES more frames came since the WAL's size at
	 * the last one (ckpt_log), not on every turn until it restarts. */
	atomic_int readers, ckpt_log;
	atomic_int ckpt_whole; /* the last checkpoint copied the whole WAL (store_checkpoint_tail) */
	sqlite3_stmt *st[S_MAX];
	sqlite3_stmt *svc_st[STORE_SVC_STMTS]; /* storesvc.c's, prepared on first use */
	sqlite3_stmt *pipe_st[STORE_PIPE_STMTS]; /* storepipe.c's, prepared on first use */
	sqlite3_stmt *arr_st[STORE_ARR_STMTS];   /* storearr.c's, prepared on first use */
	int in_txn;
	int ckpt_active; /* store_checkpoint_begin..end: no commit (writer's thread only) */
	int failed; /* a write of the open transaction failed: it must not commit */
	int64_t count_delta[5];
	/* Cancel-all: every job below cancel_below that is not finished in
	 * the table is cancelled (meta keys cancel_below, cancel_t). The
	 * sweep makes the rows say so, a chunk per turn, from sweep_lo up;
	 * until then readers map such rows to cancelled. */
	int64_t cancel_below, sweep_lo;
	double cancel_t;
	/* Schema 8: no row below live_lo is unfinished (state<2), so readers
	 * of unfinished rows walk rowids from it instead of keeping an index
	 * of them (jobs_live, schema 7, cost an index insert and delete per
	 * job: 11-15 % of the master's CPU per echo job). store_commit
	 * advances it to the oldest unfinished row; writes that make a row
	 * below it unfinished lower it, and a lowered value is saved (meta
	 * live_lo) in the same transaction. A raised one is saved only every
	 * STORE_LIVE_SAVE_STEP ids: a lower saved value is merely slower to
	 * read from, never wrong. */
	int64_t live_lo, live_lo_saved;
	/* Schema 9: the last clients' keys (client_key), so that a job's
	 * insert looks its client up in SQLite only when the client changes;
	 * round robin. Emptied when a transaction rolls back, as the key of a
	 * client first seen in it is gone then. */
	struct {
		int64_t key; /* 0: empty */
		char name[STORE_CKEY_NAME_MAX + 1];
	} ckeys[STORE_CKEYS];
	unsigned ckey_next;
	char id[STORE_ID_LEN + 1]; /* meta.store_id */
	char errmsg[256];
};

static int fail(struct store *s)
{
	snprintf(s->errmsg, sizeof s->errmsg, "%s", sqlite3_errmsg(s->db));
	return -1;
}

const char *store_errmsg(struct store *s) { return s ? s->errmsg : "no store"; }

sqlite3 *store_db(struct store *s) { return s->db; }

int store_fail(struct store *s) { return fail(s); }

int store_fail_txn(struct store *s)
{
	if (s->in_txn)
		s->failed = 1;
	return fail(s);
}

int store_set_err(struct store *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
	va_end(ap);
	return -1;
}

int64_t store_cancel_mark(const struct store *s) { return s->cancel_below; }

sqlite3_stmt **store_svc_stmts(struct store *s) { return s->svc_st; }

sqlite3_stmt *store_stmt(struct store *s, sqlite3_stmt **slot, const char *sql)
{
	if (!*slot && sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK) {
		store_fail(s);
		*slot = NULL;
	}
	return *slot;
}

sqlite3_stmt *store_write_stmt(struct store *s, sqlite3_stmt **slot, const char *sql)
{
	return store_begin(s) ? NULL : store_stmt(s, slot, sql);
}

void store_bind_str(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

sqlite3_stmt **store_pipe_stmts(struct store *s) { return s->pipe_st; }

sqlite3_stmt **store_arr_stmts(struct store *s) { return s->arr_st; }

static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
	(void)db;
	(void)name;
	atomic_store(&((struct store *)arg)->wal_frames, frames);
	return SQLITE_OK;
}

/* Step a write statement to completion and reset it. */
static int run(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		if (s->in_txn)
			s->failed = 1;
		return fail(s);
	}
	return 0;
}

int store_run(struct store *s, sqlite3_stmt *st) { return run(s, st); }

int64_t store_each(struct store *s, sqlite3_stmt *st, int (*fn)(sqlite3_stmt *st, void *arg), void *arg)
{
	int64_t n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		n++;
		if (fn(st, arg)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE)
		n = store_fail(s);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return n;
}

static int64_t scalar(struct store *s, const char *sql, int64_t arg);

/* Oldest job that the table still shows unfinished (a rowid walk from
 * live_lo), or INT64_MAX; -1 on error. */
static int64_t oldest_live(struct store *s)
{
	int64_t lo = scalar(s,
			    "SELECT coalesce((SELECT id FROM jobs WHERE id>=?1 AND +state<2 ORDER BY id LIMIT 1),-2)",
			    s->live_lo);
	return lo == -2 ? INT64_MAX : lo;
}

/* live_lo from meta, or, for a database that has none yet (new, or of
 * schema 7: its upgrade dropped jobs_live), from one walk of the table. */
static int load_live_lo(struct store *s)
{
	int64_t v = scalar(s, "SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key='live_lo'),-2)", 0);
	if (v == -2)
		v = scalar(s, "SELECT coalesce((SELECT min(id) FROM jobs WHERE +state<2),"
			      "(SELECT coalesce(max(id),0)+1 FROM jobs))", 0);
	if (v < 0)
		return -1;
	s->live_lo = v > 0 ? v : 1;
	s->live_lo_saved = -1; /* saved at the first commit */
	return 0;
}

void store_live_note(struct store *s, int64_t id)
{
	if (id < s->live_lo)
		s->live_lo = id;
}

int64_t store_live_lo(const struct store *s) { return s->live_lo; }

/* Advance live_lo to the oldest unfinished row and save it if it went down
 * (always) or up by STORE_LIVE_SAVE_STEP; in the open transaction. */
static int live_advance(struct store *s)
{
	sqlite3_stmt *st = s->st[S_LIVE_NEXT];
	sqlite3_bind_int64(st, 1, s->live_lo);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		s->live_lo = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return fail(s);
	if (s->live_lo >= s->live_lo_saved && s->live_lo - s->live_lo_saved < STORE_LIVE_SAVE_STEP &&
	    s->live_lo_saved >= 0)
		return 0;
	sqlite3_bind_int64(s->st[S_LIVE_SAVE], 1, s->live_lo);
	if (run(s, s->st[S_LIVE_SAVE]))
		return -1;
	s->live_lo_saved = s->live_lo;
	return 0;
}

static int load_cancel(struct store *s)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT key,value FROM meta WHERE key IN ('cancel_below','cancel_t')", -1,
			       &st, NULL) != SQLITE_OK)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		if (k && strcmp(k, "cancel_below") == 0)
			s->cancel_below = sqlite3_column_int64(st, 1);
		else if (k)
			s->cancel_t = sqlite3_column_double(st, 1);
	}
	sqlite3_finalize(st);
	s->sweep_lo = s->cancel_below;
	if (s->cancel_below > 0) {
		int64_t lo = oldest_live(s);
		if (lo < 0)
			return -1;
		if (lo < s->cancel_below)
			s->sweep_lo = lo; /* a sweep the last master did not finish */
	}
	return 0;
}

/* 1 if the database has no table yet (a new or zero-length file), 0 if it
 * has, -1 if it cannot be read (not a database: garbage or encrypted). */
static int is_fresh(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int n = -1;
	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n < 0 ? -1 : n == 0;
}

/* PRAGMA quick_check (every page and index entry is well formed: about
 * 0.15 s per million jobs when cached): a master must not serve from, and
 * write into, a damaged database. 0, or -1 with err. */
static int check_integrity(struct store *s, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(st, 0);
		if (r && strcmp(r, "ok") == 0) {
			sqlite3_finalize(st);
			return 0;
		}
		/* One line: SQLite's report starts with a "*** in database
		 * main ***" line and has one line per problem. */
		char why[160];
		const char *t = r ? r : "?";
		if (strncmp(t, "*** ", 4) == 0 && strchr(t, '\n'))
			t = strchr(t, '\n') + 1;
		snprintf(why, sizeof why, "%s", t);
		for (char *q = why; (q = strchr(q, '\n'));)
			*q = ' ';
		snprintf(err, errlen,
			 "%s is damaged (%s); restore it from a copy, or move it and store.id away to start "
			 "with no jobs (sqlite3 %s .recover can save what is readable)",
			 path, why, path);
	} else {
		snprintf(err, errlen, "cannot check %s: %s; restore it from a copy or move it away", path,
			 sqlite3_errmsg(s->db));
	}
	sqlite3_finalize(st);
	return -1;
}

/* The database's identity (meta.store_id), made on first open, so that a
 * run directory can tell its own database from an empty or foreign one
 * (store_opts.expect_id). 0, or -1 with err. */
static int check_identity(struct store *s, const char *path, const char *expect, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key='store_id'", -1, &st, NULL) != SQLITE_OK)
		return snprintf(err, errlen, "cannot read %s: %s", path, sqlite3_errmsg(s->db)), -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		snprintf(s->id, sizeof s->id, "%s", v ? v : "");
	}
	sqlite3_finalize(st);
	if (expect && *expect) {
		if (strcmp(s->id, expect) == 0)
			return 0;
		snprintf(err, errlen,
			 "%s is not the database this run directory had (its id is %s, store.id says %s): it was "
			 "replaced; put the right one back, or move it and store.id away to start with no jobs",
			 path, *s->id ? s->id : "none", expect);
		return -1;
	}
	if (*s->id)
		return 0;
	unsigned char r[STORE_ID_LEN / 2];
	sqlite3_randomness((int)sizeof r, r);
	for (size_t i = 0; i < sizeof r; i++)
		snprintf(s->id + 2 * i, 3, "%02x", r[i]);
	char sql[128];
	snprintf(sql, sizeof sql, "INSERT INTO meta(key,value) VALUES('store_id','%s')", s->id);
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return snprintf(err, errlen, "cannot write %s: %s", path, sqlite3_errmsg(s->db)), -1;
	return 0;
}

const char *store_id(const struct store *s) { return s->id; }

/* The generic failure: SQLite's message and what to do. -1. */
static int open_failed(struct store *s, const char *path, char *err, size_t errlen)
{
	snprintf(err, errlen, "cannot open %s: %s; check the file (sqlite3 %s 'pragma integrity_check') or move it away",
		 path, s->db ? sqlite3_errmsg(s->db) : "out of memory", path);
	return -1;
}

/* The connection; its settings are set in store_open once the file is known
 * to be ours (nothing is written into one that is refused). Commits only write the WAL
 * (synchronous=OFF); the master makes them durable with store_sync() on a
 * thread before it acknowledges anything, so the event loop never waits for
 * the disk. Checkpoints run on their own connection with synchronous=FULL
 * (store_checkpoint): it syncs the WAL before copying it and the database
 * before the WAL may be reused, which is what keeps synchronous=OFF on this
 * connection safe. The default page cache: a big one makes every commit
 * walk a big hash. No cache spill: this connection writes WAL frames only
 * when it commits, so holding commits back keeps it off the WAL while the
 * other connection checkpoints (store_checkpoint_begin). */
static int open_db(struct store *s, const char *path, char *err, size_t errlen)
{
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK)
		return open_failed(s, path, err, errlen);
	/* A database this open refuses is left as it was: no checkpoint of
	 * its WAL into it at close. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite3_busy_timeout(s->db, 5000);
	if (sqlite3_db_readonly(s->db, "main") == 1)
		return snprintf(err, errlen,
				"%s is read-only; make it and its directory writable (chmod u+w) or use another "
				"run directory", path), -1;
	return 0;
}

/* The schema_version of a database that has tables (not a fresh one): 0 if
 * it has none, -1 if it cannot be read (no meta table: not a master's
 * database); ver gets the text. */
static int schema_version(struct store *s, char *ver, size_t verlen)
{
	sqlite3_stmt *v = NULL;
	*ver = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key='schema_version'", -1, &v, NULL) !=
	    SQLITE_OK)
		return -1;
	if (sqlite3_step(v) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(v, 0);
		snprintf(ver, verlen, "%s", t ? t : "?");
	}
	sqlite3_finalize(v);
	char *end = NULL;
	long n = *ver ? strtol(ver, &end, 10) : 0;
	return *ver && (*end || n < 1 || n > 99) ? 99 : (int)n;
}

/* What upgrades a database of version v to v + 1 besides the tables that
 * schema_sql creates if missing (ALTERs of existing ones): v3 the time a job
 * asks for (--time-request) and its ranks; v4 the crash limit and count of
 * function jobs; v5 the job's environment snapshot (and table envs); v6
 * only new tables (jobtypes, workertypes, jobmeta: the HTTP service layer);
 * v7 the job's options (where and how it runs: git, container, resources)
 * and new tables (arrays: job arrays, storearr.h; pipelines, pipejobs,
 * pipeitems: storepipe.h; piperuns came later, a new table of the same
 * version: a database without it gets it at its next open); v8 drops the
 * index jobs_live (meta live_lo replaces it: see struct store); v9 the
 * client's key (jobs.ckey, table clients): a job row carries a small integer
 * instead of the 32-character client id, about 30 of its 101 bytes, which
 * is written twice into the WAL and twice into the database per job. Rows
 * of older versions keep their id in jobs.client (ckey NULL) and are read
 * as they are (STORE_CLIENT_NAME, STORE_CLIENT_IS): the upgrade rewrites no
 * row, so it takes no time however many jobs the store has. */
static const char *const upgrade_sql[STORE_SCHEMA_VERSION] = {
	[2] = "ALTER TABLE jobs ADD COLUMN treq REAL; ALTER TABLE jobs ADD COLUMN ranks INTEGER;",
	[3] = "ALTER TABLE jobs ADD COLUMN crash_limit INTEGER NOT NULL DEFAULT 1;"
	      "ALTER TABLE jobs ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0;",
	[4] = "ALTER TABLE jobs ADD COLUMN envid INTEGER;",
	[5] = "",
	[6] = "ALTER TABLE jobs ADD COLUMN opts TEXT;",
	[7] = "DROP INDEX IF EXISTS jobs_live;",
	[8] = "ALTER TABLE jobs ADD COLUMN ckey INTEGER;",
};

/* Create the schema, or upgrade a database of version 2 or later in place,
 * in one transaction; refuse (writing nothing) one of another version. */
static int setup_schema(struct store *s, int fresh, const char *path, char *err, size_t errlen)
{
	char ver[16] = "";
	int v = fresh ? 0 : schema_version(s, ver, sizeof ver);
	if (v < 0)
		return open_failed(s, path, err, errlen);
	if (*ver && (v < 2 || v > STORE_SCHEMA_VERSION))
		return snprintf(err, errlen, "%s has schema version %s, this master needs %d; use a new run directory",
				path, ver, STORE_SCHEMA_VERSION), -1;
	char sql[sizeof schema_sql + 512];
	size_t n = (size_t)snprintf(sql, sizeof sql, "BEGIN IMMEDIATE;");
	for (int k = v ? v : STORE_SCHEMA_VERSION; k < STORE_SCHEMA_VERSION; k++)
		n += (size_t)snprintf(sql + n, sizeof sql - n, "%s", upgrade_sql[k]);
	n += (size_t)snprintf(sql + n, sizeof sql - n, "%s", schema_sql);
	if (v && v < STORE_SCHEMA_VERSION)
		n += (size_t)snprintf(sql + n, sizeof sql - n,
				      "UPDATE meta SET value='%d' WHERE key='schema_version';", STORE_SCHEMA_VERSION);
	snprintf(sql + n, sizeof sql - n, "COMMIT;");
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		open_failed(s, path, err, errlen);
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

/* The second connection, for checkpoints, and our own descriptor of the
 * WAL, for store_sync. */
static int open_ckpt(struct store *s, const char *path, char *err, size_t errlen)
{
	if (sqlite3_open_v2(path, &s->ckpt, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->ckpt, "PRAGMA synchronous=FULL;", NULL, NULL, NULL) != SQLITE_OK)
		return snprintf(err, errlen, "cannot open %s a second time for checkpoints: %s", path,
				s->ckpt ? sqlite3_errmsg(s->ckpt) : "out of memory"), -1;
	sqlite3_busy_timeout(s->ckpt, 1000);
	char wal[4200];
	snprintf(wal, sizeof wal, "%s-wal", path);
	s->wal_fd = open(wal, O_RDONLY | O_CLOEXEC);
	if (s->wal_fd < 0)
		return snprintf(err, errlen, "cannot open %s: %s; check the run directory", wal, strerror(errno)), -1;
	return 0;
}

int store_open(struct store **out, const char *path, const struct store_opts *o, char *err,
	       size_t errlen)
{
	*out = NULL;
	struct store *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory opening %s", path);
		return -1;
	}
	s->wal_fd = -1;
	s->no_sync = o && o->sync_normal;
	const char *expect = o && o->expect_id && *o->expect_id ? o->expect_id : NULL;
	if (open_db(s, path, err, errlen))
		goto fail;
	int fresh = is_fresh(s);
	if (fresh < 0) {
		open_failed(s, path, err, errlen);
		goto fail;
	}
	if (fresh && expect) {
		snprintf(err, errlen,
			 "%s is empty, but this run directory had a database (store.id %s): it was truncated, "
			 "replaced or deleted; restore it, or remove store.id too to start with no jobs",
			 path, expect);
		goto fail;
	}
	if (sqlite3_exec(s->db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY;"
			 " PRAGMA journal_size_limit=-1; PRAGMA cache_spill=OFF;",
			 NULL, NULL, NULL) != SQLITE_OK) {
		open_failed(s, path, err, errlen);
		goto fail;
	}
	if (!fresh && check_integrity(s, path, err, errlen))
		goto fail;
	if (setup_schema(s, fresh, path, err, errlen) || check_identity(s, path, expect, err, errlen))
		goto fail;
	if (load_live_lo(s) < 0 || load_cancel(s) < 0) {
		open_failed(s, path, err, errlen);
		goto fail;
	}
	for (int i = 0; i < S_MAX; i++)
		if (sqlite3_prepare_v3(s->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) !=
		    SQLITE_OK) {
			open_failed(s, path, err, errlen);
			goto fail;
		}
	/* Replaces the automatic checkpoint, which would run on this
	 * connection without syncing. */
	sqlite3_wal_hook(s->db, on_wal_commit, s);
	if (open_ckpt(s, path, err, errlen))
		goto fail;
	/* From here on, closing checkpoints the WAL into the database. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
	*out = s;
	return 0;
fail:
	store_close(s);
	return -1;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->in_txn)
		store_commit(s);
	for (int i = 0; i < S_MAX; i++)
		sqlite3_finalize(s->st[i]);
	for (int i = 0; i < STORE_SVC_STMTS; i++)
		sqlite3_finalize(s->svc_st[i]);
	for (int i = 0; i < STORE_PIPE_STMTS; i++)
		sqlite3_finalize(s->pipe_st[i]);
	for (int i = 0; i < STORE_ARR_STMTS; i++)
		sqlite3_finalize(s->arr_st[i]);
	sqlite3_close(s->ckpt);
	/* The last connection checkpoints and removes the WAL on close: with
	 * syncs, or the database could lose what only the WAL held. */
	if (s->db)
		sqlite3_exec(s->db, "PRAGMA synchronous=FULL;", NULL, NULL, NULL);
	sqlite3_close(s->db);
	if (s->wal_fd >= 0)
		close(s->wal_fd);
	free(s);
}

int store_sync(struct store *s)
{
	if (s->no_sync)
		return 0;
	int64_t wal_b = syncgate_wait(s->wal_fd); /* test-only (syncgate.h) */
	if (fdatasync(s->wal_fd))
		return -errno;
	syncgate_synced(wal_b);
	return 0;
}

int store_sync_needed(const struct store *s) { return !s->no_sync; }

int store_wants_checkpoint(const struct store *s)
{
	struct store *w = (struct store *)s;
	int frames = atomic_load(&w->wal_frames);
	if (!atomic_load(&w->readers))
		return frames >= STORE_CHECKPOINT_FRAMES;
	int base = atomic_load(&w->ckpt_log);
	if (base > frames) /* the WAL restarted since */
		base = 0;
	return frames - base >= STORE_CHECKPOINT_FRAMES;
}

void store_readers_add(struct store *s, int delta) { atomic_fetch_add(&s->readers, delta); }

int store_checkpoint(struct store *s, char *err, size_t errlen)
{
	int log = 0, copied = 0;
	int rc = sqlite3_wal_checkpoint_v2(s->ckpt, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
	atomic_store(&s->ckpt_log, log > 0 ? log : 0);
	atomic_store(&s->ckpt_whole, rc == SQLITE_OK && log > 0 && copied == log);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(s->ckpt));
		return -1;
	}
	return 0;
}

int store_checkpoint_tail(struct store *s)
{
	if (s->in_txn || !atomic_exchange(&s->ckpt_whole, 0))
		return 0;
	int rc = sqlite3_exec(s->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	int rc2 = sqlite3_exec(s->db, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
	return rc == SQLITE_OK && rc2 == SQLITE_OK ? 0 : -1;
}

void store_checkpoint_begin(struct store *s) { s->ckpt_active = 1; }

void store_checkpoint_end(struct store *s) { s->ckpt_active = 0; }

int store_begin(struct store *s)
{
	if (s->in_txn)
		return 0;
	if (run(s, s->st[S_BEGIN]))
		return -1;
	s->in_txn = 1;
	return 0;
}

int store_in_txn(const struct store *s) { return s->in_txn; }

int store_commit(struct store *s)
{
	if (!s->in_txn)
		return 0;
	if (s->ckpt_active && !s->failed)
		return 1;
	if (s->failed)
		goto rollback;
	if (live_advance(s))
		goto rollback;
	for (int st = 2; st < 5; st++) {
		if (!s->count_delta[st])
			continue;
		sqlite3_stmt *c = s->st[S_COUNT_ADD];
		sqlite3_bind_int(c, 1, st);
		sqlite3_bind_int64(c, 2, s->count_delta[st]);
		if (run(s, c))
			goto rollback;
	}
	if (run(s, s->st[S_COMMIT]))
		goto rollback;
	memset(s->count_delta, 0, sizeof s->count_delta);
	s->in_txn = 0;
	return 0;
rollback:
	if (!s->failed)
		fail(s);
	s->failed = 0;
	sqlite3_step(s->st[S_ROLLBACK]);
	sqlite3_reset(s->st[S_ROLLBACK]);
	memset(s->ckeys, 0, sizeof s->ckeys);
	memset(s->count_delta, 0, sizeof s->count_delta);
	s->in_txn = 0;
	return -1;
}

void store_count_add(struct store *s, int state, int64_t delta)
{
	if (state >= 0 && state < 5)
		s->count_delta[state] += delta;
}

int store_counts(struct store *s, int64_t c[5])
{
	memset(c, 0, 5 * sizeof c[0]);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT state,n FROM counts", -1, &st, NULL) != SQLITE_OK)
		return fail(s);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int k = sqlite3_column_int(st, 0);
		if (k >= 0 && k < 5)
			c[k] = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	for (int k = 0; k < 5; k++)
		c[k] += s->count_delta[k];
	return 0;
}

static int64_t scalar(struct store *s, const char *sql, int64_t arg)
{
	sqlite3_stmt *st = NULL;
	int64_t v = 0;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(s);
	if (arg)
		sqlite3_bind_int64(st, 1, arg);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		v = fail(s);
	sqlite3_finalize(st);
	return v;
}

/* A pipeline's run of ids (piperuns) counts as used even when forget
 * deleted its jobs: a new job never takes an id inside one. */
int64_t store_max_id(struct store *s)
{
	return scalar(s,
		      "SELECT max(coalesce((SELECT max(id) FROM jobs),0),"
		      "coalesce((SELECT first+n-1 FROM piperuns ORDER BY first DESC LIMIT 1),0))",
		      0);
}


/* The key of client id name (clients.id): 0 if it has none and !create,
 * else made in the open transaction; -1 if SQLite failed. */
static int64_t client_key(struct store *s, const char *name, int create)
{
	size_t len = strlen(name);
	for (unsigned i = 0; i < STORE_CKEYS; i++)
		if (s->ckeys[i].key && strcmp(s->ckeys[i].name, name) == 0)
			return s->ckeys[i].key;
	sqlite3_stmt *st = s->st[S_CKEY_FIND];
	sqlite3_bind_text(st, 1, name, (int)len, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	int64_t key = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(s);
	if (!key && create) {
		sqlite3_bind_text(s->st[S_CKEY_ADD], 1, name, (int)len, SQLITE_STATIC);
		if (run(s, s->st[S_CKEY_ADD]))
			return -1;
		key = sqlite3_last_insert_rowid(s->db);
	}
	if (key && len <= STORE_CKEY_NAME_MAX) {
		unsigned i = s->ckey_next++ % STORE_CKEYS;
		s->ckeys[i].key = key;
		memcpy(s->ckeys[i].name, name, len + 1);
	}
	return key;
}

int store_insert(struct store *s, const struct mjob *j, const char *input, size_t input_len,
		 const char *client, const char *deps_json, double now)
{
	if (store_begin(s))
		return -1;
	int64_t ckey = client_key(s, client ? client : "", 1);
	if (ckey < 0)
		return -1;
	store_live_note(s, j->id); /* an array member's id may be below it */
	sqlite3_stmt *st = s->st[S_INSERT];
	sqlite3_bind_int64(st, 1, j->id);
	sqlite3_bind_int64(st, 2, ckey);
	sqlite3_bind_text(st, 3, mjob_kind_name(j->kind), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, input ? input : "", (int)(input ? input_len : 0), SQLITE_STATIC);
	if (j->delay_s > 0)
		sqlite3_bind_double(st, 5, j->delay_s);
	store_bind_str(st, 6, mjob_target(j));
	store_bind_str(st, 7, mjob_cwd(j));
	store_bind_str(st, 8, mjob_env(j));
	sqlite3_bind_int(st, 9, j->prio);
	sqlite3_bind_int(st, 10, j->retries);
	if (j->timeout_s > 0)
		sqlite3_bind_double(st, 11, j->timeout_s);
	store_bind_str(st, 12, deps_json);
	sqlite3_bind_double(st, 13, now);
	if (j->treq > 0)
		sqlite3_bind_double(st, 14, j->treq);
	else
		sqlite3_bind_null(st, 14);
	if (j->ranks > 1)
		sqlite3_bind_int(st, 15, j->ranks);
	else
		sqlite3_bind_null(st, 15);
	sqlite3_bind_int(st, 16, j->crash_limit ? j->crash_limit : 1);
	if (mjob_env_id(j)) /* else NULL: run() cleared the bindings */
		sqlite3_bind_int64(st, 17, mjob_env_id(j));
	store_bind_str(st, 18, mjob_opts(j));
	return run(s, st);
}

int store_env_offer(struct store *s, const char *key, int minimal, const char *vars_json, double now)
{
	if (store_begin(s))
		return -1;
	sqlite3_stmt *st = s->st[S_ENV_OFFER];
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, minimal ? 1 : 0);
	sqlite3_bind_text(st, 3, vars_json, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 4, now);
	return run(s, st);
}

int64_t store_env_find(struct store *s, const char *key)
{
	sqlite3_stmt *st = s->st[S_ENV_FIND];
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : rc == SQLITE_DONE ? 0 : fail(s);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return id;
}

int store_env_get(struct store *s, int64_t id, int *minimal, struct buf *vars_json)
{
	sqlite3_stmt *st = s->st[S_ENV_GET];
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st), found = 0;
	if (rc == SQLITE_ROW) {
		*minimal = sqlite3_column_int(st, 0);
		const char *v = store_col_str(st, 1);
		found = buf_add(vars_json, v ? v : "[]", v ? (size_t)sqlite3_column_bytes(st, 1) : 2) ? -1 : 1;
	} else if (rc != SQLITE_DONE) {
		found = fail(s);
	}
	sqlite3_reset(st);
	return found;
}

int store_assign(struct store *s, int64_t id, int attempts, const char *worker, double started)
{
	if (store_begin(s))
		return -1;
	store_live_note(s, id);
	sqlite3_stmt *st = s->st[S_ASSIGN];
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, attempts);
	store_bind_str(st, 3, worker);
	if (started > 0)
		sqlite3_bind_double(st, 4, started);
	return run(s, st);
}

int store_started(struct store *s, int64_t id, int attempts, double started)
{
	if (store_begin(s))
		return -1;
	sqlite3_stmt *st = s->st[S_STARTED];
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, attempts);
	sqlite3_bind_double(st, 3, started);
	return run(s, st);
}

/* Statement which of the turn's transaction, bound to (id, v). */
static int run_id_int(struct store *s, int which, int64_t id, int v)
{
	if (store_begin(s))
		return -1;
	sqlite3_stmt *st = s->st[which];
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, v);
	return run(s, st);
}

int store_crashes(struct store *s, int64_t id, int crashes) { return run_id_int(s, S_CRASHES, id, crashes); }

int store_requeue(struct store *s, int64_t id, int attempts)
{
	store_live_note(s, id);
	return run_id_int(s, S_REQUEUE, id, attempts);
}

int store_finish(struct store *s, int64_t id, int state, int attempts, const char *worker,
		 double started, const char *output, size_t output_len, const char *error, int rc_set, int rc,
		 double now)
{
	if (store_begin(s))
		return -1;
	sqlite3_stmt *st = s->st[S_FINISH];
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, state);
	sqlite3_bind_int(st, 3, attempts);
	if (output)
		sqlite3_bind_text(st, 4, output, (int)output_len, SQLITE_STATIC);
	store_bind_str(st, 5, error);
	if (rc_set)
		sqlite3_bind_int(st, 6, rc);
	sqlite3_bind_double(st, 7, now);
	store_bind_str(st, 8, worker);
	if (started > 0)
		sqlite3_bind_double(st, 9, started);
	if (run(s, st))
		return -1;
	if (sqlite3_changes(s->db) > 0)
		store_count_add(s, state, 1);
	return 0;
}

int store_submit_find(struct store *s, const char *client, int64_t req, int64_t *first, int64_t *n)
{
	sqlite3_stmt *st = s->st[S_SUBMIT_FIND];
	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, req);
	int rc = sqlite3_step(st), found = 0;
	if (rc == SQLITE_ROW) {
		*first = sqlite3_column_int64(st, 0);
		*n = sqlite3_column_int64(st, 1);
		found = 1;
	} else if (rc != SQLITE_DONE) {
		found = fail(s);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return found;
}

int store_submit_add(struct store *s, const char *client, int64_t req, int64_t first, int64_t n, double now)
{
	if (store_begin(s))
		return -1;
	sqlite3_stmt *st = s->st[S_SUBMIT_ADD];
	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, req);
	sqlite3_bind_int64(st, 3, first);
	sqlite3_bind_int64(st, 4, n);
	sqlite3_bind_double(st, 5, now);
	return run(s, st);
}

int store_submit_prune(struct store *s, const char *client, int64_t below)
{
	if (store_begin(s))
		return -1;
	sqlite3_stmt *st = s->st[S_SUBMIT_PRUNE];
	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, below);
	return run(s, st);
}

int store_submit_expire(struct store *s, double before)
{
	sqlite3_stmt *st = NULL;
	if (store_begin(s) ||
	    sqlite3_prepare_v2(s->db, "DELETE FROM submits WHERE t<?1", -1, &st, NULL) != SQLITE_OK)
		return fail(s);
	sqlite3_bind_double(st, 1, before);
	int rc = run(s, st);
	sqlite3_finalize(st);
	return rc;
}

int store_worker_up(struct store *s, const char *wid, double now)
{
	if (store_begin(s))
		return -1;
	sqlite3_stmt *st = s->st[S_WORKER_UP];
	sqlite3_bind_text(st, 1, wid, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, now);
	return run(s, st);
}

int store_worker_down(struct store *s, const char *wid)
{
	if (store_begin(s))
		return -1;
	sqlite3_stmt *st = s->st[S_WORKER_DOWN];
	store_bind_str(st, 1, wid);
	return run(s, st);
}

int64_t store_workers(struct store *s, int (*fn)(void *arg, const char *wid), void *arg)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT wid FROM workers ORDER BY wid", -1, &st, NULL) != SQLITE_OK)
		return fail(s);
	int64_t n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (fn(arg, store_col_str(st, 0))) {
			sqlite3_finalize(st);
			snprintf(s->errmsg, sizeof s->errmsg, "loading the worker list failed");
			return -1;
		}
		n++;
	}
	if (rc != SQLITE_DONE)
		n = fail(s);
	sqlite3_finalize(st);
	return n;
}

int store_cancel_all(struct store *s, double now, int64_t below, int64_t n)
{
	if (below <= s->cancel_below)
		return 0; /* nothing was submitted since the last one */
	if (store_begin(s))
		return -1;
	int64_t lo = oldest_live(s);
	if (lo < 0)
		return -1;
	char sql[160];
	snprintf(sql, sizeof sql,
		 "INSERT OR REPLACE INTO meta(key,value) VALUES('cancel_below',%lld),('cancel_t',%.6f)",
		 (long long)below, now);
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		s->failed = 1;
		return fail(s);
	}
	if (!store_cancel_pending(s) || lo < s->sweep_lo)
		s->sweep_lo = lo < below ? lo : below;
	s->cancel_below = below;
	s->cancel_t = now;
	store_count_add(s, MJOB_CANCELLED, n);
	return 0;
}

int store_cancel_sweep(struct store *s, int64_t rows)
{
	if (s->sweep_lo >= s->cancel_below)
		return 0;
	if (store_begin(s))
		return -1;
	int64_t hi = s->cancel_below - s->sweep_lo > rows ? s->sweep_lo + rows : s->cancel_below;
	sqlite3_stmt *st = s->st[S_CANCEL_ALL];
	sqlite3_bind_double(st, 1, s->cancel_t);
	sqlite3_bind_int64(st, 2, s->sweep_lo);
	sqlite3_bind_int64(st, 3, hi);
	if (run(s, st))
		return -1;
	s->sweep_lo = hi;
	return s->sweep_lo < s->cancel_below;
}

int store_cancel_pending(const struct store *s) { return s->sweep_lo < s->cancel_below; }

int store_state(struct store *s, int64_t id)
{
	sqlite3_stmt *st = s->st[S_STATE];
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	int v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : rc == SQLITE_DONE ? -1 : -2;
	if (v == -2)
		fail(s);
	else if (v >= 0 && v < 2 && id < s->cancel_below)
		v = MJOB_CANCELLED;
	sqlite3_reset(st);
	return v;
}

int store_input_json(struct store *s, int64_t id, struct buf *out)
{
	sqlite3_stmt *st = s->st[S_INPUT];
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st), v;
	if (rc == SQLITE_ROW) {
		const char *t = store_col_str(st, 0);
		v = buf_add_json_str(out, t ? t : "", t ? (size_t)sqlite3_column_bytes(st, 0) : 0) ? -1 : 1;
		if (v < 0)
			snprintf(s->errmsg, sizeof s->errmsg, "out of memory");
	} else {
		v = rc == SQLITE_DONE ? 0 : fail(s);
	}
	sqlite3_reset(st);
	return v;
}

void store_row_read(sqlite3_stmt *st, struct store_row *r)
{
	r->id = sqlite3_column_int64(st, 0);
	r->client = store_col_str(st, 1);
	r->type = store_col_str(st, 2);
	r->input = store_col_str(st, 3);
	r->input_len = (size_t)sqlite3_column_bytes(st, 3);
	r->delay = sqlite3_column_double(st, 4);
	r->target = store_col_str(st, 5);
	r->cwd = store_col_str(st, 6);
	r->env = store_col_str(st, 7);
	r->prio = sqlite3_column_int(st, 8);
	r->retries = sqlite3_column_int(st, 9);
	r->timeout = sqlite3_column_double(st, 10);
	r->deps = store_col_str(st, 11);
	r->state = sqlite3_column_int(st, 12);
	r->attempts = sqlite3_column_int(st, 13);
	r->worker = store_col_str(st, 14);
	r->treq = sqlite3_column_double(st, 15);
	r->ranks = sqlite3_column_int(st, 16);
	r->crash_limit = sqlite3_column_int(st, 17);
	r->crashes = sqlite3_column_int(st, 18);
	r->env_id = sqlite3_column_int64(st, 19);
	r->opts = store_col_str(st, 20);
	r->jtype = store_col_str(st, 21);
}

/* The client id of key into name (of size len), "" if it has none; 0, or
 * -1 if SQLite failed. */
static int load_client_name(struct store *s, int64_t key, char *name, size_t len)
{
	sqlite3_stmt *st = s->st[S_CKEY_NAME];
	sqlite3_bind_int64(st, 1, key);
	int rc = sqlite3_step(st);
	const char *v = rc == SQLITE_ROW ? store_col_str(st, 0) : NULL;
	snprintf(name, len, "%s", v ? v : "");
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int64_t store_load(struct store *s, int (*fn)(void *arg, const struct store_row *r), void *arg)
{
	/* A rowid walk from the oldest row that may be unfinished (live_lo:
	 * usually the oldest unfinished job; rows below cancel_below are
	 * cancelled, not loaded). */
	int64_t below = s->cancel_below > 0 ? s->cancel_below : 1;
	int64_t lo = below > s->live_lo ? below : s->live_lo;
	/* A typed job's type comes from its jobmeta row, merged in from a
	 * second cursor over jobmeta in id order (a LEFT JOIN, a rowid lookup
	 * per job, costs 7 % on a million jobs); not at all while no job has
	 * a type. */
	int typed = scalar(s, "SELECT EXISTS(SELECT 1 FROM jobmeta)", 0) > 0;
	sqlite3_stmt *st = NULL, *mt = NULL;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT " STORE_ROW_COLS_CLIENT("j.client") ",NULL,j.ckey FROM jobs AS j"
			       " WHERE j.id>=?1 AND +j.state<2 ORDER BY j.id",
			       -1, &st, NULL) != SQLITE_OK ||
	    (typed &&
	     sqlite3_prepare_v2(s->db, "SELECT id,jtype FROM jobmeta WHERE id>=?1 ORDER BY id", -1, &mt, NULL) !=
		     SQLITE_OK)) {
		fail(s);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_bind_int64(st, 1, lo);
	if (mt)
		sqlite3_bind_int64(mt, 1, lo);
	int64_t n = 0, mid = -1; /* mt's row: its id, INT64_MAX past the end */
	int64_t key = 0;         /* the client key whose name is in cname */
	char cname[STORE_CKEY_NAME_MAX + 1] = "";
	int rc;
	struct store_row r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_row_read(st, &r);
		int64_t k = sqlite3_column_int64(st, 22); /* 0: NULL, the row names its client */
		if (k && k != key && load_client_name(s, k, cname, sizeof cname)) {
			rc = SQLITE_ERROR;
			break;
		}
		key = k ? k : key;
		if (k)
			r.client = cname;
		while (mt && mid < r.id)
			mid = sqlite3_step(mt) == SQLITE_ROW ? sqlite3_column_int64(mt, 0) : INT64_MAX;
		if (mt && mid == r.id)
			r.jtype = store_col_str(mt, 1);
		if (fn(arg, &r)) {
			snprintf(s->errmsg, sizeof s->errmsg, "loading job %lld failed", (long long)r.id);
			rc = SQLITE_ABORT;
			break;
		}
		n++;
	}
	if (rc == SQLITE_ABORT)
		n = -1;
	else if (rc != SQLITE_DONE)
		n = fail(s);
	sqlite3_finalize(st);
	sqlite3_finalize(mt);
	return n;
}

int64_t store_results(struct store *s, const char *client, int64_t lo, int64_t hi,
		      int (*fn)(void *arg, const struct store_rec *r), void *arg)
{
	int64_t key = client_key(s, client ? client : "", 0);
	if (key < 0)
		return -1;
	sqlite3_stmt *st = s->st[S_RESULTS];
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_int64(st, 2, hi);
	sqlite3_bind_text(st, 3, client, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, s->cancel_below);
	if (key)
		sqlite3_bind_int64(st, 5, key);
	int64_t n = 0;
	int rc;
	struct store_rec r;
	memset(&r, 0, sizeof r);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r.id = sqlite3_column_int64(st, 0);
		r.type = store_col_str(st, 1);
		r.state = sqlite3_column_int(st, 2);
		r.attempts = sqlite3_column_int(st, 3);
		r.worker = store_col_str(st, 4);
		r.output = store_col_str(st, 5);
		r.output_len = (size_t)sqlite3_column_bytes(st, 5);
		r.error = store_col_str(st, 6);
		if (!r.error && r.state == MJOB_CANCELLED)
			r.error = "cancelled";
		r.rc_null = sqlite3_column_type(st, 7) == SQLITE_NULL;
		r.rc = sqlite3_column_int(st, 7);
		n++;
		if (fn(arg, &r))
			break;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		n = fail(s);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return n;
}

int64_t store_jobs(struct store *s, const struct store_query *q,
		   int (*fn)(void *arg, const struct store_rec *r), void *arg)
{
	struct store_marks mk;
	store_marks_get(s, &mk);
	return store_jobs_db(s->db, q, &mk, fn, arg, s->errmsg, sizeof s->errmsg);
}

void store_marks_get(const struct store *s, struct store_marks *mk)
{
	mk->cancel_below = s->cancel_below;
	mk->cancel_t = s->cancel_t;
	mk->live_lo = s->live_lo;
}

int64_t store_forget(struct store *s, const struct store_forget_q *q, int64_t forgotten[5])
{
	/* Final rows only; never a job a live one depends on (a restart
	 * judges a dependent by its dependency's row, so that row must stay
	 * until the dependent is final), nor the newest row (the next id is
	 * counted from the highest one stored, and ids are never reused). */
	static const char sql[] =
		"DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE +state IN (2,3,4)"
		" AND (?1<0 OR state=?1) AND (?2<=0 OR coalesce(finished,submitted)<?2)"
		" AND (?3 IS NULL OR id IN (SELECT value FROM json_each(?3)))"
		" AND id<(SELECT max(id) FROM jobs)"
		" AND id NOT IN (SELECT d.value FROM jobs AS l, json_each(l.deps) AS d"
		"  WHERE l.id>=?5 AND +l.state<2 AND l.deps IS NOT NULL AND l.deps<>'[]')"
		" ORDER BY id LIMIT ?4) RETURNING state";
	memset(forgotten, 0, 5 * sizeof forgotten[0]);
	if (store_begin(s))
		return -1;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(s);
	sqlite3_bind_int(st, 1, q->state);
	sqlite3_bind_double(st, 2, q->finished_before);
	store_bind_str(st, 3, q->ids_json);
	sqlite3_bind_int64(st, 4, q->limit > 0 ? q->limit : 1);
	sqlite3_bind_int64(st, 5, s->live_lo);
	int64_t n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int k = sqlite3_column_int(st, 0);
		if (k >= 2 && k < 5)
			forgotten[k]++;
		n++;
	}
	if (rc != SQLITE_DONE) {
		s->failed = 1; /* the turn's transaction rolls back */
		fail(s);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	for (int k = 2; k < 5; k++)
		store_count_add(s, k, -forgotten[k]);
	/* Environment snapshots no job uses any more, unless offered within a
	 * day: a client names a snapshot it sent on its connection (and sends
	 * it again after an hour), so one offered recently may still be used.
	 * Nor one that the template of an unfinished job array names: its
	 * members without a row yet are admitted with it later
	 * (STOREARR_ENV_USED). */
	if (n > 0 && sqlite3_exec(s->db,
				  "DELETE FROM envs WHERE t<strftime('%s','now')-86400 AND NOT EXISTS"
				  " (SELECT 1 FROM jobs WHERE envid=envs.id) AND NOT " STOREARR_ENV_USED,
				  NULL, NULL, NULL) != SQLITE_OK) {
		s->failed = 1;
		fail(s);
		return -1;
	}
	return n;
}
