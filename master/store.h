/* SPDX-License-Identifier: MIT */
/*
 * store: the master's SQLite database, RUN_DIR/state.db (schema in
 * docs/formats.md). WAL journal, every statement prepared once and reused.
 * Writes go into one transaction that the caller opens lazily (every write
 * function calls store_begin) and commits once per event-loop turn
 * (store_commit). A commit only writes the WAL; store_sync() makes every
 * commit so far durable (fdatasync of the WAL) and is meant to run on a
 * thread while the loop goes on, with the turn's acknowledgements held back
 * until it returns: that is the group commit that makes a `submitted`
 * acknowledgement mean "durable" without one fsync per job, and without the
 * loop ever waiting for the disk. Checkpoints (copying the WAL into the
 * database) run on a second connection, also off the loop.
 *
 * Strings handed to write functions are bound SQLITE_STATIC: they must stay
 * valid until the function returns (the statement is stepped and reset
 * before that), which saves a copy per column.
 *
 * Not thread-safe; one store per process. Functions return 0 or -1 with the
 * SQLite message available from store_errmsg(). The tables of the HTTP
 * service layer (job types, worker types, typed jobs, the dead-letter
 * queue) have their functions in storesvc.h.
 */
#ifndef MTS_STORE_H
#define MTS_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct mjob;

/* Length of a database's identity: hex digits. */
#define STORE_ID_LEN 32

struct store_opts {
	/* store_sync() does nothing: commits survive kill -9 of the master
	 * (they are in the OS page cache), not a power loss. */
	int sync_normal;
	/* The identity the run directory recorded for its database
	 * (RUN_DIR/store.id), or NULL/"" if it has none yet. With one, an
	 * empty database or one with another identity is refused rather than
	 * started as a store with no jobs (whose ids would restart at 1). */
	const char *expect_id;
};

/* Open or create the database at path and its schema. Refuses a read-only
 * database, one that fails PRAGMA quick_check, and one that does not match
 * o->expect_id. err gets one line saying what went wrong and what to do. */
int store_open(struct store **out, const char *path, const struct store_opts *o, char *err,
	       size_t errlen);
/* The database's identity (STORE_ID_LEN hex digits, made when it was
 * created), for the run directory to record. Borrowed from s. */
const char *store_id(const struct store *s);
/* Commit anything pending and close. NULL is a no-op. */
void store_close(struct store *s);
const char *store_errmsg(struct store *s);

/* Make every commit so far durable (survives power loss). Safe to call from
 * another thread than the one writing. 0 or -errno. */
int store_sync(struct store *s);
/* 0 if store_sync does nothing (--sync normal). */
int store_sync_needed(const struct store *s);
/* 1 once the WAL has grown enough that a checkpoint is due. Any thread. */
int store_wants_checkpoint(const struct store *s);
/* Copy committed WAL frames into the database (a passive checkpoint on the
 * store's second connection, with syncs), on a thread other than the
 * writer's. Bracket it with store_checkpoint_begin() and
 * store_checkpoint_end() on the writer's thread: in between, store_commit()
 * defers (returns 1) and nothing else writes WAL frames, because a commit
 * that restarts the WAL while another connection checkpoints can corrupt
 * the database (SQLite's "WAL-reset bug", fixed in 3.51.3 / 3.44.6; Debian
 * 12 ships 3.40). 0, or -1 with err. */
int store_checkpoint(struct store *s, char *err, size_t errlen);
/* On the writer's thread, right after a commit, once a store_checkpoint()
 * has ended: if that checkpoint copied the whole WAL, copy the frames the
 * writes deferred during it committed since (a few), on the writer's own
 * connection with the database file synced (synchronous=FULL for this
 * call, as on the checkpoint connection). The writer's next transaction
 * then starts on a fully copied WAL and restarts it from the beginning.
 * Without this, under steady load every turn's writes land while a
 * checkpoint runs, the WAL is never fully copied when the next turn
 * begins, never restarts, grows, and past STORE_CHECKPOINT_FRAMES every
 * turn checkpoints again and defers its commit. 0; -1 with the store's
 * errmsg (the WAL then just restarts later). Nothing when no checkpoint
 * ended, or inside a transaction. */
int store_checkpoint_tail(struct store *s);
/* Writer's thread: a checkpoint is about to run / has ended. */
void store_checkpoint_begin(struct store *s);
void store_checkpoint_end(struct store *s);

/* Open the turn's transaction if it is not open yet. */
int store_begin(struct store *s);
/* 1 while a transaction is open. */
int store_in_txn(const struct store *s);
/* Commit the open transaction (no-op if none). 1 while a checkpoint runs
 * (store_checkpoint_begin): the transaction stays open, commit it after
 * store_checkpoint_end(). On failure the transaction is rolled back and -1
 * returned. */
int store_commit(struct store *s);

/* Largest job id in the table (0 if empty). */
int64_t store_max_id(struct store *s);

/* Insert a new queued job. input (NULL: "") is its input, passed apart
 * from j because j may not hold it (MJOB_F_STORED); client is the client
 * id, deps_json the deps array text or NULL. */
int store_insert(struct store *s, const struct mjob *j, const char *input, size_t input_len,
		 const char *client, const char *deps_json, double now);
struct buf;
/* Append job id's input (from state.db) to out as a JSON string literal:
 * how the master sends an input it does not keep in memory. One rowid
 * lookup; the text is escaped straight from SQLite's buffer. 1, 0 if no
 * such job, -1 on error (store_errmsg). */
int store_input_json(struct store *s, int64_t id, struct buf *out);
/* Environment snapshots (table envs): each distinct one stored once, named
 * by its key (share/jobenv.h), and referenced by the jobs submitted with it
 * (jobs.envid). offer: store it if new (in the open transaction, so it is
 * durable with the jobs of the same turn that use it), or note that it is
 * still in use; vars_json is its JSON array of "K=V" strings. find: its id
 * (> 0), 0 if unknown, -1 on error. get: 1 with *minimal and the vars text
 * appended to vars_json, 0 if no such id, -1 on error. */
int store_env_offer(struct store *s, const char *key, int minimal, const char *vars_json, double now);
int64_t store_env_find(struct store *s, const char *key);
int store_env_get(struct store *s, int64_t id, int *minimal, struct buf *vars_json);

/* The job was assigned: state running, attempts, worker, started (<= 0:
 * NULL, the worker has not started it yet). The master writes this only for
 * jobs still running a moment after their assignment (see workers.c): a
 * short job goes from queued to final in one row update. */
int store_assign(struct store *s, int64_t id, int attempts, const char *worker, double started);
/* The worker started attempt `attempts` of the job (state running) at unix
 * time `started`, after its assignment was written. */
int store_started(struct store *s, int64_t id, int attempts, double started);
/* The job is queued again (worker and started NULL). */
int store_requeue(struct store *s, int64_t id, int attempts);
/* The job crashed its function host: record how often so far (the crash
 * limit survives a restart of the master). 0 or -1. */
int store_crashes(struct store *s, int64_t id, int crashes);
/* The job reached a final state. worker (NULL: keep the recorded one),
 * output and error may be NULL; started > 0 sets `started` (else the
 * recorded one stays). rc_set = 0 stores NULL for rc. */
int store_finish(struct store *s, int64_t id, int state, int attempts, const char *worker,
		 double started, const char *output, size_t output_len, const char *error, int rc_set, int rc,
		 double now);
/* Submit frames already stored (table `submits`), keyed by the client id and
 * the frame's `req`, so that a frame re-sent after a lost acknowledgement is
 * answered with the ids it got the first time instead of being stored again.
 * find: 1 and *first, *n set if known, 0 if not, -1 on error. prune: forget
 * the client's frames below req `below` (all acknowledged). expire: forget
 * frames recorded before `before` (unix seconds), at startup. */
int store_submit_find(struct store *s, const char *client, int64_t req, int64_t *first, int64_t *n);
int store_submit_add(struct store *s, const char *client, int64_t req, int64_t first, int64_t n, double now);
int store_submit_prune(struct store *s, const char *client, int64_t below);
int store_submit_expire(struct store *s, double before);

/* The workers connected now (table `workers`): a master restarted after a
 * crash waits briefly for them before it hands out queued jobs, because they
 * may hold jobs whose assignment was never written. up: wid connected;
 * down: wid left for good (NULL: all of them, at a clean shutdown). */
int store_worker_up(struct store *s, const char *wid, double now);
int store_worker_down(struct store *s, const char *wid);
/* Call fn with each recorded worker id. Returns how many, or -1. */
int64_t store_workers(struct store *s, int (*fn)(void *arg, const char *wid), void *arg);
/* Cancel every job below id `below` that is not finished: n of them (the
 * caller's count, added to the cancelled total). Only a mark is written
 * (meta cancel_below, cancel_t), so this is O(1) and durable with the
 * turn's commit; from then on every reader here shows those jobs cancelled,
 * and store_cancel_sweep() rewrites their rows a chunk at a time. 0 or -1. */
int store_cancel_all(struct store *s, double now, int64_t below, int64_t n);
/* Rewrite the rows of up to `rows` ids of the pending cancel-all (in the
 * open transaction). 1: more to do, 0: done, -1: error. Also resumes a sweep
 * that a killed master left unfinished. */
int store_cancel_sweep(struct store *s, int64_t rows);
/* A cancel-all sweep has rows left. */
int store_cancel_pending(const struct store *s);

/* The state of a job, or -1 if no such job, -2 on error. */
int store_state(struct store *s, int64_t id);

/* Counts of jobs per final state, kept in the `counts` table and updated in
 * the same transaction as the jobs (so status never counts millions of rows).
 * store_count_add() adds to the pending deltas written at the next commit. */
int store_counts(struct store *s, int64_t final_counts[5]);
void store_count_add(struct store *s, int state, int64_t delta);

/* One unfinished row handed to the load callback; strings borrowed for the
 * duration of the call. */
struct store_row {
	int64_t id;
	const char *client, *type, *input, *target, *cwd, *env, *deps, *worker;
	size_t input_len;
	double delay, timeout, treq;
	int prio, retries, state, attempts, ranks;
	int crash_limit, crashes; /* schema v4 */
	int64_t env_id;           /* schema v5: envs.id, 0: none */
	const char *opts;         /* schema v7: the job's options, JSON object text, or NULL */
	const char *jtype;        /* schema v6: a typed job's job type (jobmeta.jtype), NULL: a plain job */
};
/* Call fn for every job with state queued or running, in id order. Returns
 * the number of rows or -1 (also if fn returned non-zero). */
int64_t store_load(struct store *s, int (*fn)(void *arg, const struct store_row *r), void *arg);

/* A finished job as sent in `done` and listed by `jobs`. Strings borrowed
 * until the next row. */
struct store_rec {
	int64_t id;
	const char *type, *worker, *output, *error, *client, *input, *deps;
	size_t output_len, input_len;
	int state, attempts, prio, retries;
	int rc_null, rc;
	double submitted, started, finished; /* < 0: null */
};

/* Walk the finished jobs of a client with ids lo..hi, in id order (a rowid
 * range scan: the cost is hi - lo, not the table size). fn returns non-zero
 * to stop. Returns rows visited or -1. */
int64_t store_results(struct store *s, const char *client, int64_t lo, int64_t hi,
		      int (*fn)(void *arg, const struct store_rec *r), void *arg);

struct store_query {
	int state;        /* -1: any */
	const char *client; /* NULL: any */
	const int64_t *ids; /* NULL: any */
	size_t nids;
	int64_t after;      /* ids above it (desc: below it; 0: from the newest) */
	int64_t upto;       /* ids up to it (0: any; a job array's last member) */
	int limit;
	int desc;           /* 1: newest first */
};
/* Page over jobs matching q in id order (q->desc: descending). Returns
 * rows or -1. */
int64_t store_jobs(struct store *s, const struct store_query *q,
		   int (*fn)(void *arg, const struct store_rec *r), void *arg);

/* What the writer knows now that a reader's snapshot taken right after a
 * commit needs to read rows as store_jobs does (storeread.h): the cancel-all
 * mark (store_cancel_all: rows below cancel_below that are unfinished read as
 * cancelled at cancel_t), and live_lo (no unfinished row below it; it only
 * goes down with a write and up at a commit, so the value right after a
 * commit holds for that commit's snapshot). */
struct store_marks {
	int64_t cancel_below;
	double cancel_t;
	int64_t live_lo;
};
void store_marks_get(const struct store *s, struct store_marks *mk);

/* Which final jobs store_forget() removes: all conditions hold. */
struct store_forget_q {
	int state;              /* 2, 3 or 4; -1: any final state */
	double finished_before; /* wall time; <= 0: any */
	const char *ids_json;   /* a JSON array of ids, or NULL: any */
	int64_t limit;          /* at most this many rows (one call stays short) */
};
/* Delete up to q->limit final jobs matching q (in the open transaction),
 * never one that a queued or running job depends on, nor the newest row
 * (ids count on from it), and then the environment snapshots that no job
 * uses, no unfinished job array's template names (STOREARR_ENV_USED) and
 * no client offered for a day. Their jobmeta rows (storesvc.h) go
 * with them (trigger jobs_meta_gone). forgotten[state] receives how many of each final
 * state went; the `counts` totals drop by as many. Returns the number, or
 * -1. */
int64_t store_forget(struct store *s, const struct store_forget_q *q, int64_t forgotten[5]);

#endif
