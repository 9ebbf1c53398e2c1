/* SPDX-License-Identifier: MIT */
/* Unit tests for master/storesvc (state.db schema 6) on a real database in
 * a temp dir: job types and worker types (put, replace keeping `created`,
 * get, list, delete, bad input refused without harming the turn), typed
 * jobs (metadata, external ids unique, job type loaded back by store_load
 * in both of its plans), the dead-letter queue (add, list, discard,
 * requeue with the counts adjusted and the job loaded again as queued
 * after a restart), clear_databases, forget taking the metadata along,
 * durability across close and reopen, the in-place upgrade of a schema-5
 * database and the refusal of a newer one or a foreign SQLite file. */
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
#include "storesvc.h"

static char tmp[64], path[128];

static int setup(void **st)
{
	(void)st;
	strcpy(tmp, "/tmp/mts-storesvc-XXXXXX");
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
	if (store_open(&s, path, &o, err, sizeof err))
		fail_msg("store_open: %s", err);
	return s;
}

/* Plain echo jobs first..first+n-1 of client c1. */
static void insert_n(struct store *s, int64_t first, int n)
{
	for (int i = 0; i < n; i++) {
		char in[32];
		int len = snprintf(in, sizeof in, "in-%lld", (long long)(first + i));
		struct mjob *j = mjob_new(in, (size_t)len, NULL, NULL, NULL, 0, NULL);
		j->id = first + i;
		j->kind = MJOB_ECHO;
		assert_int_equal(store_insert(s, j, mjob_input(j), j->input_len, "c1", NULL, 1000.0), 0);
		mjob_free(j);
	}
}

/* A typed job: its metadata, then its row (storesvc.h's order). */
static void insert_typed(struct store *s, int64_t id, const char *ext, const char *jtype)
{
	char job[128];
	snprintf(job, sizeof job, "{\"id\":\"%s\",\"schema_name\":\"%s\"}", ext ? ext : "", jtype);
	assert_int_equal(store_meta_add(s, id, ext, jtype, job), 0);
	insert_n(s, id, 1);
}

static void fail_job(struct store *s, int64_t id, const char *why)
{
	assert_int_equal(store_finish(s, id, MJOB_FAILED, 1, "w1", 2.0, "{}", 2, why, 1, 1, 3.0), 0);
}

/* ---- job types and worker types ---- */

struct names {
	int n;
	char s[8][160];
};

static int jt_cb(void *arg, const struct store_jobtype *t)
{
	struct names *u = arg;
	snprintf(u->s[u->n++ % 8], 160, "%s|%s|%s|%s|%s|%g|%d|%g|%g", t->name, t->mode,
		 t->worker_type ? t->worker_type : "-", t->endpoint ? t->endpoint : "-", t->schema ? t->schema : "-",
		 t->timeout_s, t->retries, t->created, t->updated);
	return 0;
}

static int wt_cb(void *arg, const struct store_workertype *t)
{
	struct names *u = arg;
	snprintf(u->s[u->n++ % 8], 160, "%s|%s|%s|%g|%g", t->name, t->executor, t->params, t->created, t->updated);
	return 0;
}

static void test_jobtypes(void **st)
{
	(void)st;
	struct store *s = open_store();
	struct store_jobtype echo = {.name = "echo", .mode = "queue", .worker_type = "echoworker", .retries = -1};
	struct store_jobtype lookup = {.name = "lookup", .mode = "endpoint", .endpoint = "http://127.0.0.1:9/run",
				       .schema = "{\"type\":\"object\"}", .timeout_s = 60, .retries = 2};
	assert_int_equal(store_jobtype_put(s, &lookup, 10.0), 0);
	assert_int_equal(store_jobtype_put(s, &echo, 11.0), 0);
	/* bad input: refused with what was wrong, the turn goes on */
	struct store_jobtype bad = {.name = "x", .mode = "pool"};
	assert_int_equal(store_jobtype_put(s, &bad, 12.0), STORESVC_REFUSED);
	assert_non_null(strstr(store_errmsg(s), "mode must be queue or endpoint"));
	bad.mode = "endpoint";
	assert_int_equal(store_jobtype_put(s, &bad, 12.0), STORESVC_REFUSED);
	assert_non_null(strstr(store_errmsg(s), "needs the endpoint"));
	bad = (struct store_jobtype){.name = "x", .mode = "queue", .schema = "{not json"};
	assert_int_equal(store_jobtype_put(s, &bad, 12.0), STORESVC_REFUSED);
	assert_string_equal(store_errmsg(s), "job type x: its schema is not JSON text");
	bad = (struct store_jobtype){.mode = "queue"};
	assert_int_equal(store_jobtype_put(s, &bad, 12.0), STORESVC_REFUSED);
	assert_int_equal(store_commit(s), 0); /* the refusals did not poison the turn */
	store_close(s);

	s = open_store(); /* durable */
	struct names u = {0};
	assert_int_equal(store_jobtypes(s, jt_cb, &u), 2);
	assert_string_equal(u.s[0], "echo|queue|echoworker|-|-|0|-1|11|11");
	assert_string_equal(u.s[1], "lookup|endpoint|-|http://127.0.0.1:9/run|{\"type\":\"object\"}|60|2|10|10");
	/* registering again replaces it and keeps `created` */
	echo.worker_type = "otherworker";
	echo.timeout_s = 5;
	assert_int_equal(store_jobtype_put(s, &echo, 20.0), 0);
	memset(&u, 0, sizeof u);
	assert_int_equal(store_jobtype_get(s, "echo", jt_cb, &u), 1);
	assert_string_equal(u.s[0], "echo|queue|otherworker|-|-|5|-1|11|20");
	assert_int_equal(store_jobtype_get(s, "nope", jt_cb, &u), 0);
	assert_int_equal(store_jobtype_del(s, "lookup"), 1);
	assert_int_equal(store_jobtype_del(s, "lookup"), 0);
	assert_int_equal(store_commit(s), 0);
	store_close(s);

	s = open_store();
	memset(&u, 0, sizeof u);
	assert_int_equal(store_jobtypes(s, jt_cb, &u), 1);
	assert_string_equal(u.s[0], "echo|queue|otherworker|-|-|5|-1|11|20");
	store_close(s);
}

static void test_workertypes(void **st)
{
	(void)st;
	struct store *s = open_store();
	struct store_workertype w1 = {.name = "imgworker", .executor = "exec", .params = "{\"command\":\"./r.sh\"}"};
	struct store_workertype w2 = {.name = "echoworker", .executor = "echo"}; /* params NULL: {} */
	assert_int_equal(store_workertype_put(s, &w1, 5.0), 0);
	assert_int_equal(store_workertype_put(s, &w2, 6.0), 0);
	struct store_workertype bad = {.name = "b", .executor = "exec", .params = "[1,2]"};
	assert_int_equal(store_workertype_put(s, &bad, 7.0), STORESVC_REFUSED);
	assert_string_equal(store_errmsg(s), "worker type b: params must be a JSON object, not [1,2]");
	bad.params = "{oops";
	assert_int_equal(store_workertype_put(s, &bad, 7.0), STORESVC_REFUSED);
	bad.executor = "";
	assert_int_equal(store_workertype_put(s, &bad, 7.0), STORESVC_REFUSED);
	assert_string_equal(store_errmsg(s), "worker type b needs an executor");
	insert_n(s, 1, 1); /* the same turn still commits */
	assert_int_equal(store_commit(s), 0);
	store_close(s);

	s = open_store();
	assert_int_equal(store_state(s, 1), MJOB_QUEUED);
	struct names u = {0};
	assert_int_equal(store_workertypes(s, wt_cb, &u), 2);
	assert_string_equal(u.s[0], "echoworker|echo|{}|6|6");
	assert_string_equal(u.s[1], "imgworker|exec|{\"command\":\"./r.sh\"}|5|5");
	w1.params = "{\"command\":\"./s.sh\"}";
	assert_int_equal(store_workertype_put(s, &w1, 9.0), 0);
	memset(&u, 0, sizeof u);
	assert_int_equal(store_workertype_get(s, "imgworker", wt_cb, &u), 1);
	assert_string_equal(u.s[0], "imgworker|exec|{\"command\":\"./s.sh\"}|5|9");
	assert_int_equal(store_workertype_del(s, "echoworker"), 1);
	assert_int_equal(store_workertype_del(s, "echoworker"), 0);
	assert_int_equal(store_workertype_get(s, "echoworker", wt_cb, &u), 0);
	assert_int_equal(store_commit(s), 0);
	store_close(s);
	s = open_store();
	memset(&u, 0, sizeof u);
	assert_int_equal(store_workertypes(s, wt_cb, &u), 1);
	store_close(s);
}

/* ---- typed jobs ---- */

struct meta1 {
	int n;
	int64_t id;
	char ext[48], jtype[32], job[128];
	int dlq;
	double dlq_at;
};

static int meta_cb(void *arg, const struct store_meta *m)
{
	struct meta1 *x = arg;
	x->n++;
	x->id = m->id;
	snprintf(x->ext, sizeof x->ext, "%s", m->ext ? m->ext : "(null)");
	snprintf(x->jtype, sizeof x->jtype, "%s", m->jtype);
	snprintf(x->job, sizeof x->job, "%s", m->job ? m->job : "(null)");
	x->dlq = m->dlq;
	x->dlq_at = m->dlq_at;
	return 0;
}

struct loaded {
	int n;
	int64_t ids[256];
	char jtypes[256][16];
	int states[256], attempts[256];
};

static int load_cb(void *arg, const struct store_row *r)
{
	struct loaded *L = arg;
	if (L->n < 256) {
		L->ids[L->n] = r->id;
		snprintf(L->jtypes[L->n], 16, "%s", r->jtype ? r->jtype : "-");
		L->states[L->n] = r->state;
		L->attempts[L->n] = r->attempts;
	}
	L->n++;
	return 0;
}

static void test_meta(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_n(s, 1, 2);
	insert_typed(s, 3, "7d0c-uuid", "echo");
	insert_typed(s, 4, NULL, "resize"); /* no external id: several may have none */
	insert_typed(s, 5, NULL, "resize");
	insert_n(s, 6, 1);
	/* an external id is one job's: refused, naming it, and nothing stored */
	assert_int_equal(store_meta_add(s, 7, "7d0c-uuid", "echo", NULL), STORESVC_REFUSED);
	assert_string_equal(store_errmsg(s), "external id 7d0c-uuid is already job 3");
	assert_int_equal(store_meta_add(s, 4, "other", "echo", NULL), STORESVC_REFUSED);
	assert_string_equal(store_errmsg(s), "job 4 is already a typed job");
	assert_int_equal(store_meta_add(s, 8, "u8", "", NULL), STORESVC_REFUSED);
	assert_int_equal(store_commit(s), 0);
	store_close(s);

	s = open_store();
	assert_int_equal(store_meta_find_ext(s, "7d0c-uuid"), 3);
	assert_int_equal(store_meta_find_ext(s, "other"), 0);
	struct meta1 m = {0};
	assert_int_equal(store_meta_get(s, 3, meta_cb, &m), 1);
	assert_int_equal(m.id, 3);
	assert_string_equal(m.ext, "7d0c-uuid");
	assert_string_equal(m.jtype, "echo");
	assert_string_equal(m.job, "{\"id\":\"7d0c-uuid\",\"schema_name\":\"echo\"}");
	assert_int_equal(m.dlq, 0);
	assert_true(m.dlq_at < 0);
	assert_int_equal(store_meta_get(s, 4, meta_cb, &m), 1);
	assert_string_equal(m.ext, "(null)");
	assert_int_equal(store_meta_get(s, 1, meta_cb, &m), 0); /* a plain job */
	assert_int_equal(store_meta_get(s, 7, meta_cb, &m), 0); /* the refused one */
	assert_int_equal(store_state(s, 7), -1);
	/* load brings each job back with its type (a scan of all the rows) */
	struct loaded L = {0};
	assert_int_equal(store_load(s, load_cb, &L), 6);
	const char *want[] = {"-", "-", "echo", "resize", "resize", "-"};
	for (int i = 0; i < 6; i++)
		assert_string_equal(L.jtypes[i], want[i]);
	store_close(s);
}

/* store_load's other plan: few unfinished jobs among many finished ones
 * (the partial index), typed ones among them. */
static void test_meta_sparse_load(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_n(s, 1, 100);
	insert_typed(s, 101, "a", "echo");
	insert_typed(s, 102, "b", "echo");
	insert_n(s, 103, 100);
	for (int64_t id = 1; id <= 202; id++)
		if (id != 5 && id != 102)
			assert_int_equal(store_finish(s, id, MJOB_COMPLETED, 1, NULL, 0, "o", 1, NULL, 1, 0, 1.0), 0);
	assert_int_equal(store_commit(s), 0);
	struct loaded L = {0};
	assert_int_equal(store_load(s, load_cb, &L), 2);
	assert_int_equal(L.ids[0], 5);
	assert_string_equal(L.jtypes[0], "-");
	assert_int_equal(L.ids[1], 102);
	assert_string_equal(L.jtypes[1], "echo");
	store_close(s);
}

/* ---- the dead-letter queue ---- */

struct dlqlist {
	int n;
	int64_t ids[8];
	char errors[8][16], jtypes[8][16];
	int states[8];
	double dlq_at[8];
};

static int dlq_cb(void *arg, const struct store_meta *m, const struct store_rec *r)
{
	struct dlqlist *d = arg;
	assert_int_equal(m->id, r->id);
	assert_int_equal(m->dlq, 1);
	if (d->n < 8) {
		d->ids[d->n] = r->id;
		snprintf(d->errors[d->n], 16, "%s", r->error ? r->error : "-");
		snprintf(d->jtypes[d->n], 16, "%s", m->jtype);
		d->states[d->n] = r->state;
		d->dlq_at[d->n] = m->dlq_at;
	}
	d->n++;
	return 0;
}

static struct dlqlist dlq_list(struct store *s, int64_t after)
{
	struct dlqlist d = {0};
	int64_t n = store_dlq(s, after, dlq_cb, &d);
	assert_int_equal(n, d.n);
	return d;
}

static int64_t failed_count(struct store *s)
{
	int64_t c[5];
	assert_int_equal(store_counts(s, c), 0);
	return c[MJOB_FAILED];
}

struct requeued {
	int n;
	int64_t id;
	int state, attempts, crashes;
	char jtype[16], worker[16], input[16];
	int refuse;
};

static int requeue_cb(void *arg, const struct store_row *r)
{
	struct requeued *q = arg;
	q->n++;
	q->id = r->id;
	q->state = r->state;
	q->attempts = r->attempts;
	q->crashes = r->crashes;
	snprintf(q->jtype, 16, "%s", r->jtype ? r->jtype : "-");
	snprintf(q->worker, 16, "%s", r->worker ? r->worker : "-");
	snprintf(q->input, 16, "%s", r->input ? r->input : "-");
	return q->refuse;
}

static void test_dlq(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_n(s, 1, 1);
	insert_typed(s, 2, "u2", "echo");
	insert_typed(s, 3, "u3", "resize");
	insert_typed(s, 4, "u4", "echo");
	insert_typed(s, 5, "u5", "echo");
	assert_int_equal(store_commit(s), 0);
	fail_job(s, 1, "plain");
	fail_job(s, 2, "boom2");
	fail_job(s, 3, "boom3");
	assert_int_equal(store_crashes(s, 3, 1), 0);
	assert_int_equal(store_finish(s, 4, MJOB_COMPLETED, 1, NULL, 0, "ok", 2, NULL, 1, 0, 3.0), 0);
	assert_int_equal(store_dlq_add(s, 3, 50.0), 1);
	assert_int_equal(store_dlq_add(s, 2, 51.0), 1);
	assert_int_equal(store_dlq_add(s, 2, 99.0), 1); /* again: keeps its time */
	assert_int_equal(store_dlq_add(s, 1, 52.0), 0); /* plain */
	assert_int_equal(store_dlq_add(s, 4, 52.0), 0); /* completed */
	assert_int_equal(store_dlq_add(s, 5, 52.0), 0); /* still queued */
	assert_int_equal(store_commit(s), 0);
	store_close(s);

	s = open_store(); /* durable */
	assert_int_equal(failed_count(s), 3);
	struct dlqlist d = dlq_list(s, 0);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.ids[0], 2); /* oldest job first */
	assert_int_equal(d.ids[1], 3);
	assert_string_equal(d.errors[0], "boom2");
	assert_string_equal(d.jtypes[1], "resize");
	assert_int_equal(d.states[0], MJOB_FAILED);
	assert_true(d.dlq_at[0] == 51.0);
	assert_true(d.dlq_at[1] == 50.0);
	d = dlq_list(s, 2); /* paging */
	assert_int_equal(d.n, 1);
	assert_int_equal(d.ids[0], 3);

	/* discard: out of the DLQ, still failed */
	assert_int_equal(store_dlq_discard(s, 2), 1);
	assert_int_equal(store_dlq_discard(s, 2), 0);
	assert_int_equal(store_dlq_discard(s, 1), 0);
	assert_int_equal(store_state(s, 2), MJOB_FAILED);
	d = dlq_list(s, 0);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.ids[0], 3);

	/* a requeue the caller refuses writes nothing */
	struct requeued q = {.refuse = 1};
	assert_int_equal(store_dlq_requeue(s, 3, requeue_cb, &q), -1);
	assert_int_equal(store_state(s, 3), MJOB_FAILED);
	assert_int_equal(dlq_list(s, 0).n, 1);
	/* requeue: queued again under its id, counts lowered, out of the DLQ */
	q = (struct requeued){0};
	assert_int_equal(store_dlq_requeue(s, 3, requeue_cb, &q), 1);
	assert_int_equal(q.n, 1);
	assert_int_equal(q.id, 3);
	assert_int_equal(q.state, MJOB_QUEUED);
	assert_int_equal(q.attempts, 0);
	assert_int_equal(q.crashes, 0);
	assert_string_equal(q.jtype, "resize");
	assert_string_equal(q.worker, "-");
	assert_string_equal(q.input, "in-3");
	assert_int_equal(store_dlq_requeue(s, 3, requeue_cb, &q), 0);
	assert_int_equal(store_dlq_requeue(s, 2, NULL, NULL), 0); /* discarded: not in it */
	assert_int_equal(store_state(s, 3), MJOB_QUEUED);
	assert_int_equal(failed_count(s), 2);
	assert_int_equal(dlq_list(s, 0).n, 0);
	assert_int_equal(store_commit(s), 0);
	store_close(s);

	s = open_store(); /* loaded as queued after a restart */
	assert_int_equal(failed_count(s), 2);
	struct loaded L = {0};
	assert_int_equal(store_load(s, load_cb, &L), 2);
	assert_int_equal(L.ids[0], 3);
	assert_int_equal(L.states[0], MJOB_QUEUED);
	assert_int_equal(L.attempts[0], 0);
	assert_string_equal(L.jtypes[0], "resize");
	assert_int_equal(L.ids[1], 5);
	struct meta1 m = {0};
	assert_int_equal(store_meta_get(s, 3, meta_cb, &m), 1);
	assert_int_equal(m.dlq, 0);
	assert_true(m.dlq_at < 0);
	/* it fails again: back into the DLQ */
	fail_job(s, 3, "again");
	assert_int_equal(store_dlq_add(s, 3, 60.0), 1);
	assert_int_equal(store_commit(s), 0);
	d = dlq_list(s, 0);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.errors[0], "again");
	assert_int_equal(failed_count(s), 3);
	store_close(s);
}

/* A DLQ job below the mark of a cancel --all cannot be queued again under
 * its id: its row would read as cancelled. */
static void test_dlq_requeue_below_cancel_mark(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_typed(s, 1, "u1", "echo");
	insert_n(s, 2, 1);
	fail_job(s, 1, "boom");
	assert_int_equal(store_dlq_add(s, 1, 5.0), 1);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_cancel_all(s, 6.0, 3, 1), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_dlq_requeue(s, 1, NULL, NULL), STORESVC_REFUSED);
	assert_non_null(strstr(store_errmsg(s), "before the last cancel --all"));
	assert_int_equal(store_state(s, 1), MJOB_FAILED);
	assert_int_equal(dlq_list(s, 0).n, 1);
	assert_int_equal(store_commit(s), 0);
	store_close(s);
}

/* ---- clear_databases and forget ---- */

static void test_clear(void **st)
{
	(void)st;
	struct store *s = open_store();
	struct store_jobtype jt = {.name = "echo", .mode = "queue", .retries = -1};
	struct store_workertype wt = {.name = "echoworker", .executor = "echo"};
	assert_int_equal(store_jobtype_put(s, &jt, 1.0), 0);
	assert_int_equal(store_workertype_put(s, &wt, 1.0), 0);
	insert_typed(s, 1, "u1", "echo"); /* completed */
	insert_typed(s, 2, "u2", "echo"); /* failed, in the DLQ */
	insert_typed(s, 3, "u3", "echo"); /* queued */
	insert_n(s, 4, 1);                /* plain, completed */
	insert_typed(s, 5, "u5", "echo"); /* completed, but job 6 depends on it */
	struct mjob *j = mjob_new("dep", 3, NULL, NULL, NULL, 0, NULL);
	j->id = 6;
	j->kind = MJOB_ECHO;
	assert_int_equal(store_insert(s, j, "dep", 3, "c1", "[5]", 1.0), 0);
	mjob_free(j);
	insert_typed(s, 7, "u7", "echo"); /* completed, the newest row */
	for (int64_t id = 1; id <= 7; id++)
		if (id != 2 && id != 3 && id != 6)
			assert_int_equal(store_finish(s, id, MJOB_COMPLETED, 1, NULL, 0, "o", 1, NULL, 1, 0, 2.0), 0);
	fail_job(s, 2, "boom");
	assert_int_equal(store_dlq_add(s, 2, 3.0), 1);
	assert_int_equal(store_commit(s), 0);
	int64_t c0[5];
	assert_int_equal(store_counts(s, c0), 0);
	assert_int_equal(c0[MJOB_COMPLETED], 4);

	assert_int_equal(store_svc_clear(s), 4); /* 1, 2, 5, 7 */
	assert_int_equal(store_commit(s), 0);
	store_close(s);

	s = open_store();
	struct names u = {0};
	assert_int_equal(store_jobtypes(s, jt_cb, &u), 0);
	assert_int_equal(store_workertypes(s, wt_cb, &u), 1); /* worker types stay */
	assert_int_equal(dlq_list(s, 0).n, 0);
	assert_int_equal(store_state(s, 1), -1); /* rows of final typed jobs: gone */
	assert_int_equal(store_state(s, 2), -1);
	assert_int_equal(store_meta_find_ext(s, "u1"), 0);
	assert_int_equal(store_meta_find_ext(s, "u2"), 0);
	assert_int_equal(store_state(s, 3), MJOB_QUEUED); /* the live one stays, typed */
	assert_int_equal(store_meta_find_ext(s, "u3"), 3);
	assert_int_equal(store_state(s, 4), MJOB_COMPLETED); /* plain: untouched */
	assert_int_equal(store_state(s, 5), MJOB_COMPLETED); /* a dependency: row kept, metadata gone */
	assert_int_equal(store_meta_find_ext(s, "u5"), 0);
	assert_int_equal(store_state(s, 7), MJOB_COMPLETED); /* the newest row: ids count on from it */
	assert_int_equal(store_meta_find_ext(s, "u7"), 0);
	assert_int_equal(store_max_id(s), 7);
	int64_t c[5];
	assert_int_equal(store_counts(s, c), 0);
	assert_int_equal(c[MJOB_COMPLETED], 3); /* job 1 went */
	assert_int_equal(c[MJOB_FAILED], 0);    /* job 2 went */
	store_close(s);
}

static void test_forget_deletes_meta(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_typed(s, 1, "u1", "echo");
	insert_typed(s, 2, "u2", "echo");
	insert_n(s, 3, 1);
	fail_job(s, 1, "boom");
	assert_int_equal(store_dlq_add(s, 1, 3.0), 1);
	assert_int_equal(store_commit(s), 0);
	int64_t forgotten[5];
	struct store_forget_q fq = {.state = -1, .limit = 100};
	assert_int_equal(store_forget(s, &fq, forgotten), 1);
	assert_int_equal(store_commit(s), 0);
	store_close(s);
	s = open_store();
	struct meta1 m = {0};
	assert_int_equal(store_meta_get(s, 1, meta_cb, &m), 0);
	assert_int_equal(store_meta_find_ext(s, "u1"), 0);
	assert_int_equal(dlq_list(s, 0).n, 0);
	assert_int_equal(store_meta_find_ext(s, "u2"), 2); /* queued: not forgotten */
	/* the external id may be used again */
	insert_typed(s, 4, "u1", "echo");
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_meta_find_ext(s, "u1"), 4);
	store_close(s);
}

/* ---- schema versions ---- */

static void exec_sql(const char *sql)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

static int64_t sql_int(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

/* The schema of version 5, as the master before schema 6 made it. */
static const char schema_v5[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE jobs(id INTEGER PRIMARY KEY, client TEXT NOT NULL, type TEXT NOT NULL, input TEXT,"
	" delay REAL, target TEXT, cwd TEXT, env TEXT, prio INTEGER NOT NULL DEFAULT 0,"
	" retries INTEGER NOT NULL DEFAULT 3, timeout REAL, deps TEXT, state INTEGER NOT NULL DEFAULT 0,"
	" attempts INTEGER NOT NULL DEFAULT 0, worker TEXT, output TEXT, error TEXT, rc INTEGER,"
	" submitted REAL, started REAL, finished REAL, treq REAL, ranks INTEGER,"
	" crash_limit INTEGER NOT NULL DEFAULT 1, crashes INTEGER NOT NULL DEFAULT 0, envid INTEGER);"
	"CREATE TABLE envs(id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,"
	" minimal INTEGER NOT NULL, vars TEXT NOT NULL, t REAL);"
	"CREATE INDEX jobs_live ON jobs(state) WHERE state<2;"
	"CREATE TABLE workers(wid TEXT PRIMARY KEY, since REAL);"
	"CREATE TABLE submits(client TEXT NOT NULL, req INTEGER NOT NULL, first INTEGER NOT NULL,"
	" n INTEGER NOT NULL, t REAL, PRIMARY KEY(client, req)) WITHOUT ROWID;"
	"CREATE TABLE counts(state INTEGER PRIMARY KEY, n INTEGER NOT NULL);"
	"INSERT INTO counts(state,n) VALUES(2,1),(3,0),(4,0);"
	"INSERT INTO meta(key,value) VALUES('schema_version','5'),('store_id','0123456789abcdef0123456789abcdef');"
	"CREATE INDEX jobs_env ON jobs(envid) WHERE envid IS NOT NULL;"
	"INSERT INTO jobs(id,client,type,input,state,attempts,submitted) VALUES"
	" (1,'c1','echo','one',2,1,1.0),(2,'c1','echo','two',0,0,1.0),(3,'c1','exec','true',1,1,1.0);";

static void test_upgrade_v5(void **st)
{
	(void)st;
	exec_sql("PRAGMA journal_mode=WAL;");
	exec_sql(schema_v5);
	struct store *s = open_store();
	assert_string_equal(store_id(s), "0123456789abcdef0123456789abcdef");
	struct loaded L = {0};
	assert_int_equal(store_load(s, load_cb, &L), 2); /* its jobs intact */
	assert_int_equal(L.ids[0], 2);
	assert_int_equal(L.ids[1], 3);
	assert_int_equal(L.states[1], MJOB_RUNNING);
	assert_string_equal(L.jtypes[0], "-");
	assert_int_equal(store_state(s, 1), MJOB_COMPLETED);
	int64_t c[5];
	assert_int_equal(store_counts(s, c), 0);
	assert_int_equal(c[MJOB_COMPLETED], 1);
	/* the new tables work */
	insert_typed(s, 4, "u4", "echo");
	struct store_jobtype jt = {.name = "echo", .mode = "queue", .retries = -1};
	assert_int_equal(store_jobtype_put(s, &jt, 1.0), 0);
	assert_int_equal(store_commit(s), 0);
	store_close(s);
	assert_int_equal(sql_int("SELECT value FROM meta WHERE key='schema_version'"), 9);
	assert_int_equal(sql_int("SELECT count(*) FROM pragma_table_info('jobs') WHERE name='opts'"), 1);
	/* schema 8 has no index of unfinished jobs (meta live_lo instead) */
	assert_int_equal(sql_int("SELECT count(*) FROM sqlite_master WHERE name='jobs_live'"), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM jobs"), 4);
	s = open_store();
	assert_int_equal(store_meta_find_ext(s, "u4"), 4);
	store_close(s);
}

/* A database of a newer schema is refused with what to do, and left as it
 * was: not one table added to it. */
static void test_refuse_newer(void **st)
{
	(void)st;
	struct store *s = open_store();
	insert_n(s, 1, 2);
	store_close(s);
	exec_sql("DROP TABLE jobtypes; UPDATE meta SET value='10' WHERE key='schema_version'");
	char err[512] = "";
	struct store_opts o = {0};
	assert_int_equal(store_open(&s, path, &o, err, sizeof err), -1);
	assert_null(s);
	assert_non_null(strstr(err, "has schema version 10, this master needs 9; use a new run directory"));
	assert_int_equal(sql_int("SELECT count(*) FROM sqlite_master WHERE name='jobtypes'"), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM jobs"), 2);
}

/* Nor is a SQLite file of something else (it has tables, but no meta)
 * adopted: refused, and nothing written into it. */
static void test_refuse_foreign(void **st)
{
	(void)st;
	exec_sql("CREATE TABLE foo(x); INSERT INTO foo VALUES(1)");
	struct store *s = NULL;
	char err[512] = "";
	struct store_opts o = {0};
	assert_int_equal(store_open(&s, path, &o, err, sizeof err), -1);
	assert_non_null(strstr(err, "no such table: meta"));
	assert_int_equal(sql_int("SELECT count(*) FROM sqlite_master"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_jobtypes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workertypes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_sparse_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dlq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dlq_requeue_below_cancel_mark, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clear, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_deletes_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_v5, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_newer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_foreign, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
