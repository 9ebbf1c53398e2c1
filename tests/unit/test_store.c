/* SPDX-License-Identifier: MIT */
/* Unit tests for master/store: a real state.db in a temp dir -- batch insert
 * and commit, reopen and load, orphans (running rows keep their worker),
 * group commit visibility, cancel-all (mark, mapped reads, chunked sweep
 * resumed after a restart), final-state counts, results
 * read back by id range for a reconnecting client, and a final update that
 * fills in the worker and start time of an assignment never written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "mjob.h"
#include "store.h"
#include "store_int.h"
#include "storearr.h"

static char tmp[64], path[128];

/* SQL that turns a store of this version back into one of schema 8 (before
 * client keys: each row names its client), for the tests of upgrades from
 * older versions, which take more away from it. */
#define TO_V8                                                                  \
	"UPDATE jobs SET client=(SELECT name FROM clients WHERE id=ckey) WHERE ckey IS NOT NULL;" \
	"ALTER TABLE jobs DROP COLUMN ckey; DROP TABLE clients;"

static int setup(void **st)
{
	(void)st;
	strcpy(tmp, "/tmp/mts-store-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	snprintf(path, sizeof path, "%s/state.db", tmp);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	char cmd[160];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static struct store *open_store(void)
{
	struct store *s = NULL;
	char err[512];
	struct store_opts o = {0};
	assert_int_equal(store_open(&s, path, &o, err, sizeof err), 0);
	return s;
}

static void insert_n(struct store *s, int64_t first, int n, const char *client)
{
	for (int i = 0; i < n; i++) {
		char in[32];
		int len = snprintf(in, sizeof in, "in-%lld", (long long)(first + i));
		struct mjob *j = mjob_new(in, (size_t)len, NULL, i == 0 ? "/tmp" : NULL, NULL, 0, NULL);
		j->id = first + i;
		j->kind = MJOB_ECHO;
		j->prio = i % 3;
		j->retries = 2;
		assert_int_equal(store_insert(s, j, mjob_input(j), j->input_len, client, NULL, 1000.0), 0);
		mjob_free(j);
	}
}

struct loaded {
	int n;
	int64_t ids[16];
	int states[16];
	char workers[16][32];
	char inputs[16][32];
	int prio_sum;
	int crash_limits[16], crashes[16];
	int64_t env_ids[16];
	char opts[16][64];
	char clients[16][40];
};

static int load_cb(void *arg, const struct store_row *r)
{
	struct loaded *L = arg;
	if (L->n < 16) {
		L->ids[L->n] = r->id;
		L->states[L->n] = r->state;
		snprintf(L->workers[L->n], 32, "%s", r->worker ? r->worker : "");
		snprintf(L->inputs[L->n], 32, "%s", r->input ? r->input : "");
		L->crash_limits[L->n] = r->crash_limit;
		L->crashes[L->n] = r->crashes;
		L->env_ids[L->n] = r->env_id;
		snprintf(L->opts[L->n], 64, "%s", r->opts ? r->opts : "-");
		snprintf(L->clients[L->n], 40, "%s", r->client ? r->client : "-");
	}
	L->prio_sum += r->prio;
	L->n++;
	return 0;
}

static void test_insert_commit_reopen_load(void **st)
{
	(void)st;
	struct store *s = open_store();
	assert_int_equal(store_max_id(s), 0);
	insert_n(s, 1, 10, "c1");
	assert_true(store_in_txn(s));
	assert_int_equal(store_commit(s), 0);
	assert_false(store_in_txn(s));
	store_close(s);

	s = open_store();
	assert_int_equal(store_max_id(s), 10);
	struct loaded L = {0};
	assert_int_equal(store_load(s, load_cb, &L), 10);
	assert_int_equal(L.n, 10);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(L.ids[i], i + 1); /* id order */
		assert_int_equal(L.states[i], MJOB_QUEUED);
	}
	assert_string_equal(L.inputs[3], "in-4");
	assert_string_equal(L.clients[9], "c1");
	assert_int_equal(L.prio_sum, 0 + 1 + 2 + 0 + 1 + 2 + 0 + 1 + 2 + 0);
	store_close(s);
}

/* A file's size and a checksum of its bytes. */
static unsigned long long file_sum(const char *f, long *size)
{
	FILE *fp = fopen(f, "rb");
	unsigned long long h = 1469598103934665603ull;
	*size = 0;
	if (!fp)
		return 0;
	int ch;
	while ((ch = fgetc(fp)) != EOF) {
		h = (h ^ (unsigned)ch) * 1099511628211ull;
		(*size)++;
	}
	fclose(fp);
	return h;
}

/* While a checkpoint runs on the other connection, the writer must not
 * write a WAL frame (a commit that restarts the WAL then corrupts the
 * database: SQLite's WAL-reset bug, unfixed in Debian 12's 3.40). Between
 * store_checkpoint_begin and _end a big transaction -- far more pages than
 * the page cache holds, which SQLite would otherwise spill into the WAL --
 * leaves the WAL byte for byte as it was, store_commit defers, and the
 * commit after _end makes every row durable. */
static void test_checkpoint_holds_writer(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_n(s, 1, 100, "c1");
	assert_int_equal(store_commit(s), 0);
	char wal[160], err[256];
	snprintf(wal, sizeof wal, "%s-wal", path);
	store_checkpoint_begin(s);
	long size0, size1;
	unsigned long long sum0 = file_sum(wal, &size0);
	assert_true(size0 > 0);
	insert_n(s, 101, 60000, "c1");
	assert_int_equal(store_checkpoint(s, err, sizeof err), 0);
	assert_int_equal(store_commit(s), 1); /* deferred */
	assert_true(store_in_txn(s));
	unsigned long long sum1 = file_sum(wal, &size1);
	assert_int_equal(size1, size0);
	assert_true(sum1 == sum0);
	store_checkpoint_end(s);
	assert_int_equal(store_commit(s), 0);
	assert_false(store_in_txn(s));
	store_close(s);
	s = open_store();
	assert_int_equal(store_max_id(s), 60100);
	store_close(s);
}

/* The WAL header's checkpoint sequence (bytes 12-15, big-endian): SQLite
 * adds one each time a writer restarts the WAL from its beginning. */
static unsigned wal_restarts(const char *wal)
{
	unsigned char h[16] = {0};
	FILE *f = fopen(wal, "rb");
	assert_non_null(f);
	assert_int_equal(fread(h, 1, sizeof h, f), sizeof h);
	fclose(f);
	return (unsigned)h[12] << 24 | (unsigned)h[13] << 16 | (unsigned)h[14] << 8 | h[15];
}

/* Under steady load a turn's writes are always pending while a checkpoint
 * runs, and are committed after it: without the tail checkpoint the WAL is
 * never wholly copied when the next turn begins, so it never restarts. */
static void test_checkpoint_tail_restarts_wal(void **st)
{
	(void)st;
	struct store *s = open_store();
	char wal[160], err[256];
	snprintf(wal, sizeof wal, "%s-wal", path);
	insert_n(s, 1, 2000, "c1");
	assert_int_equal(store_commit(s), 0);
	unsigned r0 = wal_restarts(wal);
	for (int round = 0; round < 3; round++) {
		int64_t lo = 2001 + round * 100;
		store_checkpoint_begin(s);
		insert_n(s, lo, 50, "c1"); /* the turn that runs meanwhile */
		assert_int_equal(store_checkpoint(s, err, sizeof err), 0);
		store_checkpoint_end(s);
		assert_int_equal(store_commit(s), 0);
		assert_int_equal(store_checkpoint_tail(s), 0);
		insert_n(s, lo + 50, 50, "c1"); /* the next turn */
		assert_int_equal(store_commit(s), 0);
	}
	assert_int_equal(wal_restarts(wal), r0 + 3);
	/* nothing lost on the way */
	store_close(s);
	s = open_store();
	assert_int_equal(store_max_id(s), 2300);
	store_close(s);
}

static void test_group_commit_visibility(void **st)
{
	(void)st;
	struct store *w = open_store();
	struct store *r = open_store();
	insert_n(w, 1, 5, "c1");
	/* Not committed: another connection (a restarted master) sees nothing. */
	assert_int_equal(store_state(r, 3), -1);
	assert_int_equal(store_max_id(r), 0);
	assert_int_equal(store_commit(w), 0);
	assert_int_equal(store_state(r, 3), MJOB_QUEUED);
	assert_int_equal(store_max_id(r), 5);
	store_close(r);
	store_close(w);
}

static void test_orphans(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_n(s, 1, 4, "c1");
	assert_int_equal(store_assign(s, 2, 1, "node-1-0", 1001.0), 0);
	assert_int_equal(store_assign(s, 3, 2, "node-2-0", 1001.0), 0);
	assert_int_equal(store_finish(s, 4, MJOB_COMPLETED, 1, NULL, 0, "out", 3, NULL, 1, 0, 1002.0), 0);
	assert_int_equal(store_commit(s), 0);
	store_close(s);

	s = open_store();
	struct loaded L = {0};
	assert_int_equal(store_load(s, load_cb, &L), 3); /* the completed one is not loaded */
	assert_int_equal(L.ids[1], 2);
	assert_int_equal(L.states[1], MJOB_RUNNING);
	assert_string_equal(L.workers[1], "node-1-0");
	assert_string_equal(L.workers[2], "node-2-0");
	assert_string_equal(L.workers[0], "");
	/* Requeue (orphan not reclaimed): queued again, worker cleared. */
	assert_int_equal(store_requeue(s, 2, 1), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_state(s, 2), MJOB_QUEUED);
	store_close(s);
}

static void test_sparse_load(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_n(s, 1, 200, "c1");
	for (int64_t id = 1; id <= 200; id++)
		if (id != 7 && id != 150)
			assert_int_equal(store_finish(s, id, MJOB_COMPLETED, 1, NULL, 0, "o", 1, NULL, 1, 0, 1.0), 0);
	assert_int_equal(store_commit(s), 0);
	struct loaded L = {0};
	assert_int_equal(store_load(s, load_cb, &L), 2);
	assert_int_equal(L.ids[0], 7);
	assert_int_equal(L.ids[1], 150);
	store_close(s);
}

static int64_t meta_live_lo(void)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT coalesce((SELECT value FROM meta WHERE key='live_lo'),-1)",
					    -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

static int jobs_in_state(struct store *s, int state);

/* Schema 8 keeps no index of unfinished rows: meta live_lo says below which
 * id none is, and the walks start there. It follows the oldest unfinished
 * job, and a row made unfinished below it (an array member's insert, a
 * requeue) lowers it in the same commit, so a reopened store still loads
 * and lists that row. */
static void test_live_lo(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_n(s, 10, 11, "c1"); /* 10..20 */
	for (int64_t id = 10; id <= 20; id++)
		if (id != 12)
			assert_int_equal(store_finish(s, id, MJOB_COMPLETED, 1, NULL, 0, "o", 1, NULL, 1, 0, 1.0), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(meta_live_lo(), 12); /* the first commit saves it */
	assert_int_equal(store_finish(s, 12, MJOB_COMPLETED, 1, NULL, 0, "o", 1, NULL, 1, 0, 1.0), 0);
	assert_int_equal(store_commit(s), 0);
	/* nothing unfinished: past the end (a raise is saved lazily) */
	assert_int_equal(store_live_lo(s), 21);
	insert_n(s, 5, 1, "c1"); /* below it, as an array member can be */
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(meta_live_lo(), 5);
	assert_int_equal(jobs_in_state(s, MJOB_QUEUED), 1);
	store_close(s);
	s = open_store();
	struct loaded L = {0};
	assert_int_equal(store_load(s, load_cb, &L), 1);
	assert_int_equal(L.ids[0], 5);
	assert_int_equal(jobs_in_state(s, MJOB_QUEUED), 1);
	/* a finished row queued again (requeue) below it */
	assert_int_equal(store_finish(s, 5, MJOB_COMPLETED, 1, NULL, 0, "o", 1, NULL, 1, 0, 1.0), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_live_lo(s), 21);
	assert_int_equal(store_requeue(s, 15, 1), 0);
	assert_int_equal(store_commit(s), 0);
	store_close(s);
	s = open_store();
	L = (struct loaded){0};
	assert_int_equal(store_load(s, load_cb, &L), 1);
	assert_int_equal(L.ids[0], 15);
	store_close(s);
}

static int count_cb(void *arg, const struct store_rec *r)
{
	int *n = arg;
	if (r->state == MJOB_CANCELLED && (!r->error || strcmp(r->error, "cancelled") != 0))
		return 1; /* a cancelled row must read as "cancelled" */
	(*n)++;
	return 0;
}

static int jobs_in_state(struct store *s, int state)
{
	struct store_query q = {.state = state, .limit = 100000};
	int n = 0;
	assert_true(store_jobs(s, &q, count_cb, &n) >= 0);
	return n;
}

/* Rows of the jobs table that really say state<2 (no mapping). */
static int raw_live(void)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM jobs WHERE state<2", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void test_cancel_all_and_counts(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_n(s, 1, 50000, "c1");
	assert_int_equal(store_finish(s, 1, MJOB_COMPLETED, 1, NULL, 0, "x", 1, NULL, 1, 0, 2.0), 0);
	assert_int_equal(store_finish(s, 2, MJOB_FAILED, 1, NULL, 0, NULL, 0, "boom", 1, 1, 2.0), 0);
	assert_int_equal(store_commit(s), 0);
	/* the mark alone: every reader shows the jobs cancelled at once */
	assert_int_equal(store_cancel_all(s, 3.0, 50001, 49998), 0);
	assert_int_equal(store_commit(s), 0);
	assert_true(store_cancel_pending(s));
	assert_int_equal(raw_live(), 49998);
	assert_int_equal(store_state(s, 500), MJOB_CANCELLED);
	assert_int_equal(store_state(s, 1), MJOB_COMPLETED);
	assert_int_equal(jobs_in_state(s, MJOB_QUEUED), 0);
	assert_int_equal(jobs_in_state(s, MJOB_CANCELLED), 49998);
	assert_int_equal(jobs_in_state(s, MJOB_COMPLETED), 1);
	int k = 0;
	assert_int_equal(store_results(s, "c1", 1, 10, count_cb, &k), 10);
	assert_int_equal(k, 10);
	struct loaded L = {0};
	assert_int_equal(store_load(s, load_cb, &L), 0);
	/* one chunk swept, then the master dies: the next one resumes */
	assert_int_equal(store_cancel_sweep(s, 20000), 1);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(raw_live(), 49998 - 20000); /* ids 3..20002 */
	store_close(s);

	s = open_store();
	assert_true(store_cancel_pending(s));
	assert_int_equal(store_load(s, load_cb, &L), 0);
	insert_n(s, 50001, 1, "c1"); /* submitted after the cancel: not cancelled */
	int rounds = 0, rc;
	while ((rc = store_cancel_sweep(s, 20000)) == 1)
		rounds++;
	assert_int_equal(rc, 0);
	assert_int_equal(rounds, 1);
	assert_int_equal(store_commit(s), 0);
	assert_false(store_cancel_pending(s));
	assert_int_equal(raw_live(), 1);
	assert_int_equal(store_state(s, 50001), MJOB_QUEUED);
	assert_int_equal(jobs_in_state(s, MJOB_QUEUED), 1);
	/* a second cancel-all with nothing new submitted is a no-op */
	assert_int_equal(store_cancel_all(s, 4.0, 50001, 0), 0);
	assert_false(store_cancel_pending(s));
	store_close(s);

	s = open_store();
	int64_t c[5];
	assert_int_equal(store_counts(s, c), 0);
	assert_int_equal(c[MJOB_COMPLETED], 1);
	assert_int_equal(c[MJOB_FAILED], 1);
	assert_int_equal(c[MJOB_CANCELLED], 49998);
	assert_int_equal(store_load(s, load_cb, &L), 1);
	/* Deltas of a turn committed by store_close count too. */
	insert_n(s, 50002, 1, "c1");
	assert_int_equal(store_finish(s, 50002, MJOB_COMPLETED, 1, NULL, 0, "x", 1, NULL, 1, 0, 2.0), 0);
	store_close(s); /* commits */
	s = open_store();
	assert_int_equal(store_counts(s, c), 0);
	assert_int_equal(c[MJOB_COMPLETED], 2);
	store_close(s);
}

static void assert_schema_version(const char *want)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *q;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'", -1, &q, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), want);
	sqlite3_finalize(q);
	sqlite3_close(db);
}

/* A state.db of schema 3 (before --crash-limit) is upgraded in place: its
 * jobs get crash limit 1 and no crashes; a crash count written later is
 * loaded back. */
static void test_migrate_v3(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_n(s, 1, 3, "c1");
	assert_int_equal(store_commit(s), 0);
	store_close(s);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, TO_V8 "ALTER TABLE jobs DROP COLUMN opts; DROP INDEX jobs_env; ALTER TABLE jobs DROP COLUMN envid; DROP TABLE envs;"
					  "ALTER TABLE jobs DROP COLUMN crash_limit; ALTER TABLE jobs DROP COLUMN crashes;"
					  "UPDATE meta SET value='3' WHERE key='schema_version'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	s = open_store();
	assert_int_equal(store_crashes(s, 2, 1), 0);
	assert_int_equal(store_commit(s), 0);
	struct loaded L = {0};
	assert_int_equal(store_load(s, load_cb, &L), 3);
	store_close(s);
	assert_int_equal(L.crash_limits[0], 1);
	assert_int_equal(L.crashes[0], 0);
	assert_int_equal(L.crashes[1], 1);
	assert_schema_version("9");
}

/* A state.db of schema 2 (before --time-request and --ranks) is upgraded in place. */
static void test_migrate_v2(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_n(s, 1, 3, "c1");
	assert_int_equal(store_commit(s), 0);
	store_close(s);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, TO_V8 "ALTER TABLE jobs DROP COLUMN opts; DROP INDEX jobs_env; ALTER TABLE jobs DROP COLUMN envid; DROP TABLE envs;"
					  "ALTER TABLE jobs DROP COLUMN treq; ALTER TABLE jobs DROP COLUMN ranks;"
					  "ALTER TABLE jobs DROP COLUMN crash_limit; ALTER TABLE jobs DROP COLUMN crashes;"
					  "UPDATE meta SET value='2' WHERE key='schema_version'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	s = open_store();
	struct loaded L = {0};
	assert_int_equal(store_load(s, load_cb, &L), 3);
	store_close(s);
	assert_int_equal(L.crash_limits[0], 1);
	assert_schema_version("9");
}

/* A state.db of schema 4 (before environment snapshots) is upgraded in
 * place: table envs and jobs.envid appear, old jobs have no snapshot. */
static void test_migrate_v4(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_n(s, 1, 3, "c1");
	assert_int_equal(store_commit(s), 0);
	store_close(s);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, TO_V8 "ALTER TABLE jobs DROP COLUMN opts; DROP INDEX jobs_env; ALTER TABLE jobs DROP COLUMN envid; DROP TABLE envs;"
					  "UPDATE meta SET value='4' WHERE key='schema_version'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	s = open_store();
	struct loaded L = {0};
	assert_int_equal(store_load(s, load_cb, &L), 3);
	assert_int_equal(L.env_ids[0], 0);
	assert_int_equal(store_env_find(s, "ab"), 0);
	store_close(s);
	assert_schema_version("9");
}

static int arrays_cb(void *arg, const struct store_array *a)
{
	struct store_array *out = arg;
	out->id = a->id;
	out->n = a->n;
	out->made = a->made;
	out->cancel_from = a->cancel_from;
	return strcmp(a->tasks ? a->tasks : "", "1-1000:2") != 0 || strcmp(a->client, "c9") != 0;
}

/* A state.db of schema 6 (before job arrays) is upgraded in place to 7:
 * table arrays appears and works; an array row keeps its template, task
 * ids, progress (made) and cancel mark; the member ids count in the next
 * id even with no row; per-state counts of an id range. */
static void test_migrate_v6_arrays(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_n(s, 1, 3, "c1");
	assert_int_equal(store_commit(s), 0);
	store_close(s);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, TO_V8 "DROP TABLE arrays; ALTER TABLE jobs DROP COLUMN opts; UPDATE meta SET value='6' WHERE key='schema_version'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	s = open_store();
	assert_int_equal(store_arrays_max_id(s), 0);
	struct store_array a = {.id = 4, .n = 500, .client = "c9", .tmpl = "{\"type\":\"echo\"}",
				.tasks = "1-1000:2", .made = 2, .submitted = 5.0};
	assert_int_equal(store_array_add(s, &a), 0);
	assert_int_equal(store_array_final_row(s, 4, "c9", "echo", "x", MJOB_CANCELLED, "cancelled", 0, 6.0), 0);
	assert_int_equal(store_array_made(s, 4, 7), 0);
	assert_int_equal(store_array_cancel(s, 4, 7), 0);
	assert_int_equal(store_commit(s), 0);
	store_close(s);
	assert_schema_version("9");
	s = open_store();
	struct store_array got = {0};
	assert_int_equal(store_arrays(s, arrays_cb, &got), 1);
	assert_int_equal(got.id, 4);
	assert_int_equal(got.n, 500);
	assert_int_equal(got.made, 7);
	assert_int_equal(got.cancel_from, 7);
	assert_int_equal(store_arrays_max_id(s), 503);
	int64_t c[5];
	assert_int_equal(store_count_range(s, 1, 4, c), 0);
	assert_int_equal(c[MJOB_QUEUED], 3);
	assert_int_equal(c[MJOB_CANCELLED], 1);
	store_close(s);
}

/* A job's options (JSON object text) are stored and loaded back with it;
 * a job without has none; a state.db of schema 6 gains the column in place,
 * its jobs without options. */
static void test_opts(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_n(s, 1, 1, "c1");
	struct mjob *j = mjob_new("true", 4, NULL, "/tmp", NULL, 0, "{\"git\":{\"repo\":\"file:///r\"}}");
	assert_string_equal(mjob_opts(j), "{\"git\":{\"repo\":\"file:///r\"}}");
	assert_string_equal(mjob_cwd(j), "/tmp");
	j->id = 2;
	j->kind = MJOB_EXEC;
	assert_int_equal(store_insert(s, j, mjob_input(j), j->input_len, "c1", NULL, 1000.0), 0);
	mjob_free(j);
	assert_int_equal(store_commit(s), 0);
	store_close(s);
	s = open_store();
	struct loaded L = {0};
	assert_int_equal(store_load(s, load_cb, &L), 2);
	store_close(s);
	assert_string_equal(L.opts[0], "-");
	assert_string_equal(L.opts[1], "{\"git\":{\"repo\":\"file:///r\"}}");

	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, TO_V8 "ALTER TABLE jobs DROP COLUMN opts; DROP TABLE arrays; UPDATE meta SET value='6' WHERE key='schema_version'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	s = open_store();
	memset(&L, 0, sizeof L);
	assert_int_equal(store_load(s, load_cb, &L), 2);
	assert_string_equal(L.opts[1], "-");
	store_close(s);
	assert_schema_version("9");
}

/* A state.db of schema 6 (before pipelines) is upgraded in place: the
 * pipeline tables appear, the jobs stay. */
static void test_migrate_v6_pipes(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_n(s, 1, 3, "c1");
	assert_int_equal(store_commit(s), 0);
	store_close(s);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, TO_V8 "DROP TRIGGER jobs_pipe_gone; DROP TABLE pipelines; DROP TABLE arrays; ALTER TABLE jobs DROP COLUMN opts; DROP TABLE pipejobs;"
					  "DROP TABLE pipeitems; UPDATE meta SET value='6' WHERE key='schema_version'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	s = open_store();
	struct loaded L = {0};
	assert_int_equal(store_load(s, load_cb, &L), 3);
	store_close(s);
	assert_schema_version("9");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "SELECT id,spec,token FROM pipelines; SELECT job FROM pipejobs;"
					  "SELECT item FROM pipeitems", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
}

/* Snapshots: stored once per key, found by key, read by id, named by the
 * jobs that use them and loaded back with them. */
static void test_envs(void **st)
{
	(void)st;
	struct store *s = open_store();
	assert_int_equal(store_env_offer(s, "k1", 0, "[\"A=1\"]", 100.0), 0);
	assert_int_equal(store_env_offer(s, "k1", 0, "[\"A=1\"]", 200.0), 0);
	assert_int_equal(store_env_offer(s, "k2", 1, "[]", 100.0), 0);
	int64_t id1 = store_env_find(s, "k1"), id2 = store_env_find(s, "k2");
	assert_true(id1 > 0 && id2 > 0 && id1 != id2);
	assert_int_equal(store_env_find(s, "k3"), 0);
	for (int i = 0; i < 3; i++) {
		struct mjob *j = mjob_new("true", 4, NULL, "/tmp", NULL, (uint32_t)(i < 2 ? id1 : id2), NULL);
		j->id = 1 + i;
		j->kind = MJOB_EXEC;
		assert_int_equal(mjob_env_id(j), (uint32_t)(i < 2 ? id1 : id2));
		assert_string_equal(mjob_input(j), "true");
		assert_string_equal(mjob_cwd(j), "/tmp");
		assert_int_equal(store_insert(s, j, mjob_input(j), j->input_len, "c1", NULL, 1000.0), 0);
		mjob_free(j);
	}
	assert_int_equal(store_commit(s), 0);
	struct buf b = BUF_INIT;
	int minimal = -1;
	assert_int_equal(store_env_get(s, id1, &minimal, &b), 1);
	assert_int_equal(minimal, 0);
	assert_string_equal(b.p, "[\"A=1\"]");
	buf_reset(&b);
	assert_int_equal(store_env_get(s, id2, &minimal, &b), 1);
	assert_int_equal(minimal, 1);
	assert_int_equal(store_env_get(s, 999, &minimal, &b), 0);
	buf_release(&b);
	struct loaded L = {0};
	assert_int_equal(store_load(s, load_cb, &L), 3);
	assert_int_equal(L.env_ids[0], id1);
	assert_int_equal(L.env_ids[2], id2);
	store_close(s);
	sqlite3 *db;
	sqlite3_stmt *q;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), max(t) FROM envs WHERE key='k1'", -1, &q, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 1);
	assert_true(sqlite3_column_double(q, 1) == 200.0);
	sqlite3_finalize(q);
	sqlite3_close(db);
}

struct results {
	int n;
	int64_t ids[64];
	char out[64][16];
	char worker[64][16];
};

static int results_cb(void *arg, const struct store_rec *r)
{
	struct results *u = arg;
	if (u->n < 64) {
		u->ids[u->n] = r->id;
		snprintf(u->out[u->n], 16, "%s", r->output ? r->output : "(null)");
		snprintf(u->worker[u->n], 16, "%s", r->worker ? r->worker : "(null)");
	}
	u->n++;
	return 0;
}

struct rec1 {
	double started;
	char worker[16];
};

static int rec1_cb(void *arg, const struct store_rec *r)
{
	struct rec1 *x = arg;
	x->started = r->started;
	snprintf(x->worker, sizeof x->worker, "%s", r->worker ? r->worker : "(null)");
	return 0;
}

static double started_of(struct store *s, int64_t id)
{
	struct store_query q = {.state = -1, .ids = (int64_t[]){id}, .nids = 1, .limit = 10};
	struct rec1 r1 = {.started = -2};
	assert_int_equal(store_jobs(s, &q, rec1_cb, &r1), 1);
	return r1.started;
}

/* `started` is the worker's start of the last attempt: NULL while the job
 * is only prefetched, set by a later `started`, cleared by a requeue, and
 * replaced by the start the final update knows. */
static void test_started(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_n(s, 1, 3, "alice");
	assert_int_equal(store_assign(s, 1, 1, "w1", -1), 0); /* prefetched */
	assert_int_equal(store_commit(s), 0);
	assert_true(started_of(s, 1) < 0);
	assert_int_equal(store_started(s, 1, 2, 5.0), 0); /* another attempt's: ignored */
	assert_int_equal(store_commit(s), 0);
	assert_true(started_of(s, 1) < 0);
	assert_int_equal(store_started(s, 1, 1, 5.0), 0);
	assert_int_equal(store_commit(s), 0);
	assert_true(started_of(s, 1) == 5.0);
	assert_int_equal(store_requeue(s, 1, 1), 0);
	assert_int_equal(store_commit(s), 0);
	assert_true(started_of(s, 1) < 0);
	assert_int_equal(store_assign(s, 1, 2, "w2", 7.0), 0);
	assert_int_equal(store_finish(s, 1, MJOB_COMPLETED, 2, NULL, 8.0, "x", 1, NULL, 1, 0, 9.0), 0);
	assert_int_equal(store_commit(s), 0);
	assert_true(started_of(s, 1) == 8.0);
	store_close(s);
}

static void test_results_by_range(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_n(s, 1, 10, "alice");
	insert_n(s, 11, 5, "bob");
	for (int64_t id = 1; id <= 6; id++)
		assert_int_equal(store_finish(s, id, MJOB_COMPLETED, 1, "w1", 4.0, "ok", 2, NULL, 1, 0, 5.0), 0);
	assert_int_equal(store_finish(s, 12, MJOB_FAILED, 1, NULL, 0, NULL, 0, "bad", 0, 0, 5.0), 0);
	assert_int_equal(store_commit(s), 0);
	store_close(s);

	s = open_store(); /* survives a restart */
	struct results u = {0};
	/* alice awaits 2..4 and 6..9: only the finished ones come back. */
	assert_int_equal(store_results(s, "alice", 2, 4, results_cb, &u), 3);
	assert_int_equal(store_results(s, "alice", 6, 9, results_cb, &u), 1);
	assert_int_equal(u.n, 4);
	assert_int_equal(u.ids[0], 2);
	assert_int_equal(u.ids[3], 6);
	assert_string_equal(u.out[1], "ok");
	assert_string_equal(u.worker[1], "w1"); /* finish filled the worker in */
	/* A range over bob's ids returns nothing to alice, and vice versa. */
	memset(&u, 0, sizeof u);
	assert_int_equal(store_results(s, "alice", 11, 15, results_cb, &u), 0);
	assert_int_equal(store_results(s, "bob", 1, 15, results_cb, &u), 1);
	assert_int_equal(u.ids[0], 12);
	assert_string_equal(u.worker[0], "(null)");
	/* An assignment that was written keeps its worker and start time when
	 * the final update passes none. */
	assert_int_equal(store_assign(s, 7, 1, "w2", 3.0), 0);
	assert_int_equal(store_finish(s, 7, MJOB_COMPLETED, 1, NULL, 0, "late", 4, NULL, 1, 0, 6.0), 0);
	assert_int_equal(store_commit(s), 0);
	struct store_query q = {.state = -1, .ids = (int64_t[]){7}, .nids = 1, .limit = 10};
	struct rec1 r1 = {0};
	assert_int_equal(store_jobs(s, &q, rec1_cb, &r1), 1);
	assert_string_equal(r1.worker, "w2");
	assert_true(r1.started == 3.0);
	store_close(s);
}

struct page {
	int n;
	int64_t last;
	char state0[16];
};

static int page_cb(void *arg, const struct store_rec *r)
{
	struct page *p = arg;
	if (!p->n)
		snprintf(p->state0, sizeof p->state0, "%s", mjob_state_name(r->state));
	p->n++;
	p->last = r->id;
	return 0;
}

/* store_input_json: a job's input as a JSON string, read back by id (how
 * the master sends an input it does not keep in memory), escaped exactly. */
static void test_input_by_id(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_n(s, 1, 3, "alice");
	struct mjob *j = mjob_new(NULL, 0, NULL, NULL, NULL, 0, NULL);
	j->id = 4;
	j->kind = MJOB_ECHO;
	j->flags |= MJOB_F_STORED;
	static const char in[] = "a \"quoted\"\\ line\n\ttab";
	assert_int_equal(store_insert(s, j, in, sizeof in - 1, "alice", NULL, 1000.0), 0);
	mjob_free(j);
	assert_int_equal(store_commit(s), 0);
	struct buf b = BUF_INIT;
	assert_int_equal(store_input_json(s, 2, &b), 1);
	assert_string_equal(b.p, "\"in-2\"");
	buf_reset(&b);
	assert_int_equal(store_input_json(s, 4, &b), 1);
	assert_string_equal(b.p, "\"a \\\"quoted\\\"\\\\ line\\n\\ttab\"");
	buf_reset(&b);
	assert_int_equal(store_input_json(s, 99, &b), 0);
	assert_int_equal(b.len, 0);
	buf_release(&b);
	store_close(s);
}

static void test_jobs_query(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_n(s, 1, 30, "c1");
	insert_n(s, 31, 10, "c2");
	assert_int_equal(store_finish(s, 5, MJOB_FAILED, 1, NULL, 0, NULL, 0, "e", 0, 0, 1.0), 0);
	assert_int_equal(store_commit(s), 0);
	struct page p = {0};
	struct store_query q = {.state = -1, .after = 0, .limit = 10};
	assert_int_equal(store_jobs(s, &q, page_cb, &p), 10);
	assert_int_equal(p.last, 10);
	q.after = 35;
	memset(&p, 0, sizeof p);
	assert_int_equal(store_jobs(s, &q, page_cb, &p), 5);
	q.after = 0;
	q.state = MJOB_FAILED;
	memset(&p, 0, sizeof p);
	assert_int_equal(store_jobs(s, &q, page_cb, &p), 1);
	assert_string_equal(p.state0, "failed");
	q.state = -1;
	q.client = "c2";
	memset(&p, 0, sizeof p);
	assert_int_equal(store_jobs(s, &q, page_cb, &p), 10);
	int64_t ids[] = {3, 33, 99};
	q.client = NULL;
	q.ids = ids;
	q.nids = 3;
	memset(&p, 0, sizeof p);
	assert_int_equal(store_jobs(s, &q, page_cb, &p), 2);
	store_close(s);
}

/* How many statements the store's connection has prepared now. */
static int stmts_open(struct store *s)
{
	int n = 0;
	for (sqlite3_stmt *q = sqlite3_next_stmt(store_db(s), NULL); q; q = sqlite3_next_stmt(store_db(s), q))
		n++;
	return n;
}

/* forget keeps the environment snapshot that the template of an unfinished
 * array names (its members without rows are admitted with it later), and
 * lets it go once every member has its row; the array's statements are
 * prepared once and kept (store_arr_stmts), not compiled per call. */
static void test_forget_keeps_array_env(void **st)
{
	(void)st;
	struct store *s = open_store();
	assert_int_equal(store_env_offer(s, "kA", 0, "[\"A=1\"]", 100.0), 0);
	assert_int_equal(store_env_offer(s, "kB", 0, "[\"B=1\"]", 100.0), 0);
	struct store_array a = {.id = 10, .n = 100, .client = "c1", .tmpl = "{\"type\":\"exec\",\"envk\":\"kA\"}",
				.made = 1, .submitted = 5.0};
	assert_int_equal(store_array_add(s, &a), 0);
	insert_n(s, 1, 3, "c1");
	assert_int_equal(store_finish(s, 1, MJOB_COMPLETED, 1, NULL, 0, "x", 1, NULL, 1, 0, 2.0), 0);
	assert_int_equal(store_commit(s), 0);
	int64_t k[5];
	struct store_forget_q q = {.state = -1, .limit = 10};
	assert_int_equal(store_forget(s, &q, k), 1);
	assert_int_equal(store_commit(s), 0);
	assert_true(store_env_find(s, "kA") > 0);  /* the array still needs it */
	assert_int_equal(store_env_find(s, "kB"), 0); /* nothing needs it */
	int before = stmts_open(s);
	assert_int_equal(store_array_made(s, 10, 50), 0);
	assert_int_equal(stmts_open(s), before + 1); /* prepared once, kept */
	assert_int_equal(store_array_made(s, 10, 100), 0);
	assert_int_equal(stmts_open(s), before + 1); /* and reused */
	assert_int_equal(store_finish(s, 2, MJOB_COMPLETED, 1, NULL, 0, "x", 1, NULL, 1, 0, 3.0), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_forget(s, &q, k), 1);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_env_find(s, "kA"), 0); /* every member has its row now */
	store_close(s);
}

/* A state.db that the master of schema 8 (main at 0081e8d, before client
 * keys) wrote: `sqlite3 state.db .dump` after `mtslurm submit --echo a1`
 * (client 62be..), `bench_echo 3` (jobs 2-4 of one client, 8a5b..), a
 * failing `submit --exec false` (8384..) and `submit --exec "sleep 60"`
 * (864a..), stopped while that one ran. */
static const char store_v8_dump[] =
	"PRAGMA foreign_keys=OFF;\n"
	"BEGIN TRANSACTION;\n"
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
	"INSERT INTO meta VALUES('schema_version','8');\n"
	"INSERT INTO meta VALUES('store_id','9145a0ba3e6e2bc612a3ca295768ee71');\n"
	"INSERT INTO meta VALUES('live_lo','1');\n"
	"CREATE TABLE jobs( id INTEGER PRIMARY KEY, client TEXT NOT NULL, type TEXT NOT NULL, input TEXT, delay REAL, target TEXT, cwd TEXT, env TEXT, opts TEXT, prio INTEGER NOT NULL DEFAULT 0, retries INTEGER NOT NULL DEFAULT 3, timeout REAL, deps TEXT, state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, worker TEXT, output TEXT, error TEXT, rc INTEGER, submitted REAL, started REAL, finished REAL, treq REAL, ranks INTEGER, crash_limit INTEGER NOT NULL DEFAULT 1, crashes INTEGER NOT NULL DEFAULT 0, envid INTEGER);\n"
	"INSERT INTO jobs VALUES(1,'62be6b80ed7f65f0cb57116462521687','echo','a1',NULL,NULL,NULL,NULL,NULL,0,3,NULL,NULL,2,1,'vm-19173-0','a1',NULL,0,1796050720.0271978377,1796050720.0267655849,1796050720.0277657509,NULL,NULL,1,0,NULL);\n"
	"INSERT INTO jobs VALUES(2,'8a5bb169f8cc2574de2418b2decd122a','echo','x',NULL,NULL,NULL,NULL,NULL,0,3,NULL,NULL,2,1,'vm-19173-0','x',NULL,0,1796050720.0382890701,1796050720.0387582779,1796050720.0387585162,NULL,NULL,1,0,NULL);\n"
	"INSERT INTO jobs VALUES(3,'8a5bb169f8cc2574de2418b2decd122a','echo','x',NULL,NULL,NULL,NULL,NULL,0,3,NULL,NULL,2,1,'vm-19173-0','x',NULL,0,1796050720.0382890701,1796050720.0387792587,1796050720.0387792587,NULL,NULL,1,0,NULL);\n"
	"INSERT INTO jobs VALUES(4,'8a5bb169f8cc2574de2418b2decd122a','echo','x',NULL,NULL,NULL,NULL,NULL,0,3,NULL,NULL,2,1,'vm-19173-0','x',NULL,0,1796050720.0382890701,1796050720.0387825965,1796050720.0387825965,NULL,NULL,1,0,NULL);\n"
	"INSERT INTO jobs VALUES(5,'8384489d97a6bc63687aad129be0d9de','exec','false',NULL,NULL,'/tmp/bytes',NULL,NULL,0,3,NULL,NULL,3,1,'vm-19173-0','','exit status 1',1,1796050720.048459053,1796050720.0499706268,1796050720.0659706592,NULL,NULL,1,0,1);\n"
	"INSERT INTO jobs VALUES(6,'864a4f08d80e5eb4edd400bd01b32e77','exec','sleep 60',NULL,NULL,'/tmp/bytes',NULL,NULL,0,3,NULL,NULL,1,1,'vm-19173-0',NULL,NULL,NULL,1796050721.0765488147,1796050721.0835444926,NULL,NULL,NULL,1,0,1);\n"
	"CREATE TABLE envs(id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, minimal INTEGER NOT NULL, vars TEXT NOT NULL, t REAL);\n"
	"INSERT INTO envs VALUES(1,'4fd4d0391253ea35b4fb85bfa51c12f424cc86e564e2de5f63d14670ca6810e6',0,'[\"AWS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt\",\"B=/work/wt/bytes-base/build\",\"CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE=/etc/ssl/certs/ca-certificates.crt\",\"CLOUD_SDK_VERSION=528.0.0\",\"CONTAINER_NAME=rotten-signal-ffvmzc-rphsnx\",\"CUDA_HOME=/usr/local/cuda\",\"CURL_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt\",\"DEBIAN_FRONTEND=noninteractive\",\"GIT_SSL_CAINFO=/etc/ssl/certs/ca-certificates.crt\",\"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=/etc/ssl/certs/ca-certificates.crt\",\"HOME=/root\",\"HTTPLIB2_CA_CERTS=/etc/ssl/certs/ca-certificates.crt\",\"IS_SANDBOX=yes\",\"LANG=C.UTF-8\",\"LIBRARY_PATH=/usr/local/cuda/lib64/stubs\",\"MTSLURM_RUN_DIR=/tmp/bytes/old8\",\"NIX_SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt\",\"NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt\",\"NVPL_BLAS_DEBUG_CPU_TYPE=1\",\"OPENBLAS_CORETYPE=Haswell\",\"OPENBLAS_L2_SIZE=512\",\"PATH=/root/.cargo/bin:/root/.cargo/bin:/root/.pyenv/plugins/pyenv-virtualenv/shims:/root/.pyenv/shims:/root/.pyenv/bin:/usr/local/cuda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"PIP_CERT=/etc/ssl/certs/ca-certificates.crt\",\"PIP_DEFAULT_TIMEOUT=180\",\"PIP_DISABLE_PIP_VERSION_CHECK=1\",\"PIP_FIND_LINKS=/opt/wheels\",\"PYENV_ROOT=/root/.pyenv\",\"PYTHONDONTWRITEBYTECODE=1\",\"PYTHONUNBUFFERED=1\",\"REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt\",\"RUSTUP_AUTO_INSTALL=0\",\"RUST_BACKTRACE=1\",\"SHELL=/bin/bash\",\"SSL_CERT_DIR=/etc/ssl/certs\",\"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt\",\"TERM=xterm\",\"TF_CLI_CONFIG_FILE=/root/.terraformrc\",\"TOX_OVERRIDE=testenv.passenv+=#,OPENBLAS_*;env_run_base.passenv+=OPENBLAS_*;tool.tox.env_run_base.passenv+=OPENBLAS_*\",\"TOX_TESTENV_PASSENV=OPENBLAS_*\"]',1796050721.0764894485);\n"
	"CREATE TABLE workers(wid TEXT PRIMARY KEY, since REAL);\n"
	"CREATE TABLE submits(client TEXT NOT NULL, req INTEGER NOT NULL, first INTEGER NOT NULL, n INTEGER NOT NULL, t REAL, PRIMARY KEY(client, req)) WITHOUT ROWID;\n"
	"INSERT INTO submits VALUES('62be6b80ed7f65f0cb57116462521687',1,1,1,1796050720.0272593497);\n"
	"INSERT INTO submits VALUES('8384489d97a6bc63687aad129be0d9de',1,5,1,1796050720.0484662056);\n"
	"INSERT INTO submits VALUES('864a4f08d80e5eb4edd400bd01b32e77',1,6,1,1796050721.0765593051);\n"
	"INSERT INTO submits VALUES('8a5bb169f8cc2574de2418b2decd122a',1,2,3,1796050720.0383031368);\n"
	"CREATE TABLE counts(state INTEGER PRIMARY KEY, n INTEGER NOT NULL);\n"
	"INSERT INTO counts VALUES(2,4);\n"
	"INSERT INTO counts VALUES(3,1);\n"
	"INSERT INTO counts VALUES(4,0);\n"
	"CREATE TABLE jobtypes(name TEXT PRIMARY KEY, mode TEXT NOT NULL CHECK(mode IN ('queue','endpoint')), worker_type TEXT, endpoint TEXT, schema TEXT CHECK(schema IS NULL OR json_valid(schema)), timeout_s REAL, retries INTEGER, created REAL, updated REAL, CHECK(mode<>'endpoint' OR endpoint IS NOT NULL));\n"
	"CREATE TABLE workertypes(name TEXT PRIMARY KEY, executor TEXT NOT NULL, params TEXT NOT NULL DEFAULT '{}' CHECK(json_valid(params) AND json_type(params)='object'), created REAL, updated REAL);\n"
	"CREATE TABLE jobmeta(id INTEGER PRIMARY KEY, ext TEXT UNIQUE, jtype TEXT NOT NULL, job TEXT, dlq INTEGER NOT NULL DEFAULT 0, dlq_at REAL);\n"
	"CREATE TABLE arrays(id INTEGER PRIMARY KEY, n INTEGER NOT NULL, client TEXT NOT NULL, tmpl TEXT NOT NULL, tasks TEXT, entries TEXT, made INTEGER NOT NULL, cancel_from INTEGER, submitted REAL);\n"
	"CREATE TABLE pipelines(id INTEGER PRIMARY KEY, name TEXT, spec TEXT NOT NULL, client TEXT, state INTEGER NOT NULL DEFAULT 0, created REAL, finished REAL, error TEXT, items INTEGER NOT NULL DEFAULT 0, token TEXT UNIQUE);\n"
	"CREATE TABLE pipejobs(job INTEGER PRIMARY KEY, pipeline INTEGER NOT NULL, stage INTEGER NOT NULL);\n"
	"CREATE TABLE pipeitems(id INTEGER PRIMARY KEY, pipeline INTEGER NOT NULL, stage INTEGER NOT NULL, item TEXT NOT NULL);\n"
	"CREATE TABLE piperuns(first INTEGER PRIMARY KEY, n INTEGER NOT NULL, pipeline INTEGER NOT NULL, stage INTEGER NOT NULL);\n"
	"DELETE FROM sqlite_sequence;\n"
	"INSERT INTO sqlite_sequence VALUES('envs',2);\n"
	"CREATE INDEX jobs_env ON jobs(envid) WHERE envid IS NOT NULL;\n"
	"CREATE INDEX jobmeta_dlq ON jobmeta(dlq) WHERE dlq=1;\n"
	"CREATE TRIGGER jobs_meta_gone AFTER DELETE ON jobs BEGIN DELETE FROM jobmeta WHERE id=old.id; END;\n"
	"CREATE INDEX pipejobs_stage ON pipejobs(pipeline, stage);\n"
	"CREATE INDEX pipeitems_stage ON pipeitems(pipeline, stage);\n"
	"CREATE INDEX piperuns_stage ON piperuns(pipeline, stage);\n"
	"CREATE TRIGGER jobs_pipe_gone AFTER DELETE ON jobs BEGIN DELETE FROM pipejobs WHERE job=old.id; END;\n"
	"COMMIT;\n";

#define V8_MANY "8a5bb169f8cc2574de2418b2decd122a"

struct v8_seen {
	int n;
	int64_t ids[16];
	char clients[16][40];
	char outs[16][24];
	int states[16], rcs[16];
};

static int v8_rec_cb(void *arg, const struct store_rec *r)
{
	struct v8_seen *v = arg;
	if (v->n < 16) {
		v->ids[v->n] = r->id;
		snprintf(v->clients[v->n], sizeof v->clients[0], "%s", r->client ? r->client : "-");
		snprintf(v->outs[v->n], sizeof v->outs[0], "%s", r->error ? r->error : r->output ? r->output : "-");
		v->states[v->n] = r->state;
		v->rcs[v->n] = r->rc_null ? -1 : r->rc;
	}
	v->n++;
	return 0;
}

/* The client's results (store_results) and its listing (store_jobs
 * --client) give exactly the ids want (0-terminated). */
static void v8_assert_client(struct store *s, const char *client, const int64_t *want)
{
	struct v8_seen res = {0}, lst = {0};
	assert_true(store_results(s, client, 1, 100, v8_rec_cb, &res) >= 0);
	struct store_query q = {.state = -1, .client = client, .limit = 100};
	assert_true(store_jobs(s, &q, v8_rec_cb, &lst) >= 0);
	int n = 0;
	for (; want[n]; n++) {
		assert_int_equal(lst.ids[n], want[n]);
		assert_string_equal(lst.clients[n], client);
		if (lst.states[n] >= 2) /* results are of final jobs */
			assert_int_equal(res.ids[n], want[n]);
	}
	assert_int_equal(lst.n, n);
}

/* A store of schema 8 is upgraded in place to 9 without rewriting a row:
 * every job keeps its client, output, error and exit code; results and the
 * client filter find the old rows (which name their client) and new ones of
 * the same client (which carry its key) alike; the unfinished job loads. */
static void test_migrate_v8_client_keys(void **st)
{
	(void)st;
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, store_v8_dump, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	struct store *s = open_store();
	assert_string_equal(store_id(s), "9145a0ba3e6e2bc612a3ca295768ee71");
	struct loaded L = {0};
	assert_int_equal(store_load(s, load_cb, &L), 1);
	assert_int_equal(L.ids[0], 6);
	assert_int_equal(L.states[0], MJOB_RUNNING);
	assert_string_equal(L.clients[0], "864a4f08d80e5eb4edd400bd01b32e77");
	struct v8_seen all = {0};
	struct store_query q = {.state = -1, .limit = 100};
	assert_int_equal(store_jobs(s, &q, v8_rec_cb, &all), 6);
	assert_string_equal(all.clients[0], "62be6b80ed7f65f0cb57116462521687");
	assert_string_equal(all.outs[0], "a1");
	for (int i = 1; i < 4; i++) {
		assert_string_equal(all.clients[i], V8_MANY);
		assert_string_equal(all.outs[i], "x");
		assert_int_equal(all.states[i], MJOB_COMPLETED);
	}
	assert_string_equal(all.clients[4], "8384489d97a6bc63687aad129be0d9de");
	assert_string_equal(all.outs[4], "exit status 1");
	assert_int_equal(all.states[4], MJOB_FAILED);
	assert_int_equal(all.rcs[4], 1);
	assert_string_equal(all.clients[5], "864a4f08d80e5eb4edd400bd01b32e77");
	int64_t c[5];
	assert_int_equal(store_counts(s, c), 0);
	assert_int_equal(c[MJOB_COMPLETED], 4);
	assert_int_equal(c[MJOB_FAILED], 1);
	v8_assert_client(s, V8_MANY, (const int64_t[]){2, 3, 4, 0});
	v8_assert_client(s, "8384489d97a6bc63687aad129be0d9de", (const int64_t[]){5, 0});
	v8_assert_client(s, "nobody", (const int64_t[]){0});

	/* a new job of an old client: stored with its key, found with the
	 * old ones */
	insert_n(s, 7, 1, V8_MANY);
	assert_int_equal(store_finish(s, 7, MJOB_COMPLETED, 1, "w", 0, "y", 1, NULL, 1, 0, 2.0), 0);
	assert_int_equal(store_commit(s), 0);
	v8_assert_client(s, V8_MANY, (const int64_t[]){2, 3, 4, 7, 0});
	store_close(s);
	assert_schema_version("9");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *k;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*),sum(ckey IS NULL),sum(client='') FROM jobs", -1, &k,
					    NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(k), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(k, 0), 7);
	assert_int_equal(sqlite3_column_int(k, 1), 6); /* old rows as they were */
	assert_int_equal(sqlite3_column_int(k, 2), 1); /* the new one by key */
	sqlite3_finalize(k);
	sqlite3_close(db);
	s = open_store(); /* and again, now of schema 9 */
	v8_assert_client(s, V8_MANY, (const int64_t[]){2, 3, 4, 7, 0});
	store_close(s);
}

/* A client first seen in a transaction that rolls back has no key after
 * it: its next job makes one again, and is found by its client id. */
static void test_client_key_rollback(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_n(s, 1, 1, "c0");
	assert_int_equal(store_commit(s), 0);
	insert_n(s, 2, 1, "cnew"); /* makes the key of cnew */
	struct mjob *j = mjob_new("x", 1, NULL, NULL, NULL, 0, NULL);
	j->id = 1; /* taken: the insert fails, the transaction rolls back */
	j->kind = MJOB_ECHO;
	assert_int_equal(store_insert(s, j, "x", 1, "cnew", NULL, 1.0), -1);
	mjob_free(j);
	assert_int_equal(store_commit(s), -1);
	insert_n(s, 2, 1, "cnew");
	assert_int_equal(store_commit(s), 0);
	v8_assert_client(s, "cnew", (const int64_t[]){2, 0});
	v8_assert_client(s, "c0", (const int64_t[]){1, 0});
	insert_n(s, 3, 1, "c0");
	assert_int_equal(store_commit(s), 0);
	store_close(s);
	s = open_store(); /* the load maps each row's key to its client */
	struct loaded L = {0};
	assert_int_equal(store_load(s, load_cb, &L), 3);
	assert_string_equal(L.clients[0], "c0");
	assert_string_equal(L.clients[1], "cnew");
	assert_string_equal(L.clients[2], "c0");
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v6_arrays, setup, teardown),
		cmocka_unit_test_setup_teardown(test_opts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v6_pipes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v8_client_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_key_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_envs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insert_commit_reopen_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit_visibility, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_holds_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_tail_restarts_wal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orphans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sparse_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_lo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_all_and_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_results_by_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_started, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jobs_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_input_by_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_keeps_array_env, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
