/* SPDX-License-Identifier: MIT */
/* Unit tests for master/sched: fair share, priorities, deps, retries,
 * prefetch windows and stealing, with recording callbacks and no I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sched.h"

struct rec {
	int64_t assigned[256];
	struct sched_worker *assigned_to[256];
	int nassigned;
	int64_t requeued[256];
	int nrequeued;
	int64_t failed[256];
	char fail_err[256][160];
	int nfailed;
	int64_t stolen[256];
	int nstolen;
};

static struct rec R;
static struct sched S;

static void on_assign(void *arg, struct mjob *j)
{
	struct rec *r = arg;
	r->assigned_to[r->nassigned] = j->worker;
	r->assigned[r->nassigned++] = j->id;
}
static void on_requeue(void *arg, struct mjob *j)
{
	struct rec *r = arg;
	r->requeued[r->nrequeued++] = j->id;
}
static void on_fail(void *arg, struct mjob *j, const char *err)
{
	struct rec *r = arg;
	snprintf(r->fail_err[r->nfailed], sizeof r->fail_err[0], "%s", err);
	r->failed[r->nfailed++] = j->id;
	sched_finish(&S, j, MJOB_FAILED);
}
static void on_steal(void *arg, struct sched_worker *w, struct mjob *j)
{
	struct rec *r = arg;
	(void)w;
	r->stolen[r->nstolen++] = j->id;
}

static int setup(void **st)
{
	(void)st;
	memset(&R, 0, sizeof R);
	struct sched_cb cb = {&R, on_assign, on_requeue, on_fail, on_steal};
	sched_init(&S, &cb);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	sched_release(&S);
	return 0;
}

static struct mjob *add(struct sched_client *c, int64_t id, int prio, int retries)
{
	struct mjob *j = mjob_new("x", 1, NULL, NULL, NULL, 0);
	assert_non_null(j);
	j->id = id;
	j->client = c;
	j->prio = prio;
	j->retries = (uint16_t)retries;
	assert_int_equal(sched_add(&S, j), 0);
	return j;
}

static void worker(struct sched_worker *w, uint32_t slots, uint32_t prefetch)
{
	memset(w, 0, sizeof *w);
	w->idx = UINT32_MAX;
	sched_worker_add(&S, w, slots, prefetch);
}

static void test_fair_share(void **st)
{
	(void)st;
	struct sched_client a, b;
	sched_client_init(&a);
	sched_client_init(&b);
	/* Client a submits 10 jobs first, then b 10: FIFO would give a all. */
	for (int i = 1; i <= 10; i++)
		add(&a, i, 0, 3);
	for (int i = 11; i <= 20; i++)
		add(&b, i, 0, 3);
	struct sched_worker w;
	worker(&w, 4, 0);
	assert_int_equal(sched_dispatch(&S), 4);
	int na = 0, nb = 0;
	for (int i = 0; i < R.nassigned; i++)
		*(R.assigned[i] <= 10 ? &na : &nb) += 1;
	assert_int_equal(na, 2);
	assert_int_equal(nb, 2);
	assert_int_equal(a.nrun, 2);
	assert_int_equal(b.nrun, 2);
	/* Two of a's jobs finish: both free slots go to a (fewest running). */
	for (int i = 0, k = 0; i < R.nassigned && k < 2; i++)
		if (R.assigned[i] <= 10) {
			sched_finish(&S, sched_find(&S, R.assigned[i]), MJOB_COMPLETED);
			k++;
		}
	int before = R.nassigned;
	assert_int_equal(sched_dispatch(&S), 2);
	assert_true(R.assigned[before] <= 10);
	assert_true(R.assigned[before + 1] <= 10);
	/* Within a client, ids go in order: a's first two were 1 and 2. */
	assert_int_equal(R.assigned[before], 3);
	assert_int_equal(R.assigned[before + 1], 4);
	sched_release(&S); /* before the stack-allocated clients and workers go */
	sched_client_release(&a);
	sched_client_release(&b);
}

static void test_priority_order(void **st)
{
	(void)st;
	struct sched_client a;
	sched_client_init(&a);
	add(&a, 1, 0, 3);
	add(&a, 2, 5, 3);
	add(&a, 3, 1, 3);
	add(&a, 4, 5, 3);
	add(&a, 5, -2, 3);
	struct sched_worker w;
	worker(&w, 1, 0);
	int64_t want[] = {2, 4, 3, 1, 5};
	for (int i = 0; i < 5; i++) {
		assert_int_equal(sched_dispatch(&S), 1);
		assert_int_equal(R.assigned[i], want[i]);
		sched_finish(&S, sched_find(&S, want[i]), MJOB_COMPLETED);
	}
	assert_int_equal(S.nlive, 0);
	sched_release(&S);
	sched_client_release(&a);
}

static void test_deps(void **st)
{
	(void)st;
	struct sched_client a;
	sched_client_init(&a);
	add(&a, 1, 0, 3);
	add(&a, 2, 0, 3);
	/* 3 waits for 1; 4 waits for 2; 5 waits for 4 (transitive). */
	struct mjob *j3 = mjob_new("", 0, NULL, NULL, NULL, 0), *j4 = mjob_new("", 0, NULL, NULL, NULL, 0),
		    *j5 = mjob_new("", 0, NULL, NULL, NULL, 0);
	j3->id = 3, j4->id = 4, j5->id = 5;
	j3->client = j4->client = j5->client = &a;
	assert_int_equal(sched_wait_for(&S, j3, 1), 0);
	assert_int_equal(sched_add(&S, j3), 0);
	assert_int_equal(sched_wait_for(&S, j4, 2), 0);
	assert_int_equal(sched_add(&S, j4), 0);
	assert_int_equal(sched_wait_for(&S, j5, 4), 0);
	assert_int_equal(sched_add(&S, j5), 0);
	assert_int_equal(sched_wait_for(&S, j5, 99), -1); /* not live: caller asks the store */
	assert_int_equal(S.nwaiting, 3);
	assert_int_equal(j3->where, MJOB_WAITING);
	/* 1 completes: 3 becomes queued. */
	sched_finish(&S, sched_find(&S, 1), MJOB_COMPLETED);
	assert_int_equal(sched_find(&S, 3)->where, MJOB_INQUEUE);
	assert_int_equal(S.nwaiting, 2);
	/* 2 fails: 4 fails, then 5, each naming its own dependency. */
	sched_finish(&S, sched_find(&S, 2), MJOB_FAILED);
	assert_int_equal(R.nfailed, 2);
	assert_int_equal(R.failed[0], 4);
	assert_string_equal(R.fail_err[0], "dependency 2 failed");
	assert_int_equal(R.failed[1], 5);
	assert_string_equal(R.fail_err[1], "dependency 4 failed");
	assert_null(sched_find(&S, 4));
	assert_null(sched_find(&S, 5));
	assert_int_equal(S.nlive, 1);
	sched_release(&S);
	sched_client_release(&a);
}

static void test_retry_limit(void **st)
{
	(void)st;
	struct sched_client a;
	sched_client_init(&a);
	add(&a, 1, 0, 1); /* may be requeued once */
	struct sched_worker w1, w2;
	worker(&w1, 1, 0);
	assert_int_equal(sched_dispatch(&S), 1);
	assert_int_equal(sched_find(&S, 1)->attempts, 1);
	sched_worker_lost(&S, &w1, "w1");
	assert_int_equal(R.nrequeued, 1);
	assert_int_equal(R.nfailed, 0);
	assert_int_equal(sched_find(&S, 1)->attempts, 1);
	worker(&w2, 1, 0);
	assert_int_equal(sched_dispatch(&S), 1);
	assert_int_equal(sched_find(&S, 1)->attempts, 2);
	sched_worker_lost(&S, &w2, "w2");
	assert_int_equal(R.nfailed, 1);
	assert_int_equal(R.failed[0], 1);
	assert_string_equal(R.fail_err[0],
			    "worker w2 lost while running the job (attempt 2 of 2); not retried: retry limit reached");
	assert_int_equal(S.nlive, 0);
	sched_release(&S);
	sched_client_release(&a);
}

static void test_prefetch_window(void **st)
{
	(void)st;
	struct sched_client a;
	sched_client_init(&a);
	for (int i = 1; i <= 10; i++)
		add(&a, i, 0, 0);
	struct sched_worker w, w2;
	worker(&w, 2, 1);
	assert_int_equal(sched_dispatch(&S), 3);
	assert_int_equal(w.nassigned, 3);
	assert_int_equal(sched_dispatch(&S), 0); /* window full */
	/* Lost: the 2 started ones are out of retries (retries 0) and fail;
	 * the prefetched one never started and is requeued with its attempt
	 * given back. */
	sched_worker_lost(&S, &w, "w");
	assert_int_equal(R.nfailed, 2);
	assert_int_equal(R.nrequeued, 1);
	assert_int_equal(R.requeued[0], 3);
	assert_int_equal(sched_find(&S, 3)->attempts, 0);
	/* Free slots of all workers are filled before prefetch windows. */
	struct sched_worker w3;
	worker(&w2, 1, 4);
	worker(&w3, 1, 4);
	int before = R.nassigned;
	assert_int_equal(sched_dispatch(&S), 8);
	assert_true(R.assigned_to[before] != R.assigned_to[before + 1]);
	assert_int_equal(w2.nassigned + w3.nassigned, 8);
	assert_true(w2.nassigned <= 5 && w3.nassigned <= 5);
	sched_release(&S);
	sched_client_release(&a);
}

static void test_steal(void **st)
{
	(void)st;
	struct sched_client a;
	sched_client_init(&a);
	for (int i = 1; i <= 3; i++)
		add(&a, i, 0, 3);
	struct sched_worker w1, w2;
	worker(&w1, 1, 2);
	assert_int_equal(sched_dispatch(&S), 3); /* 1 running, 2 and 3 prefetched */
	assert_int_equal(sched_steal(&S), 0);    /* nobody idle */
	worker(&w2, 1, 2);
	assert_int_equal(sched_dispatch(&S), 0); /* queue empty */
	assert_int_equal(sched_steal(&S), 1);
	assert_int_equal(R.stolen[0], 3); /* newest unstarted first */
	assert_int_equal(sched_steal(&S), 0); /* already in flight */
	/* w1 gives 3 back: requeued with its attempt returned; goes to w2. */
	int64_t ids[] = {3};
	sched_revoked(&S, &w1, ids, 1);
	assert_int_equal(sched_find(&S, 3)->attempts, 0);
	assert_int_equal(w1.nassigned, 2);
	assert_int_equal(sched_dispatch(&S), 1);
	assert_ptr_equal(sched_find(&S, 3)->worker, &w2);
	assert_int_equal(sched_find(&S, 3)->attempts, 1);
	/* A steal the worker refuses (it had started the job) leaves it there. */
	sched_finish(&S, sched_find(&S, 3), MJOB_COMPLETED);
	assert_int_equal(sched_steal(&S), 1);
	assert_int_equal(R.stolen[1], 2);
	sched_revoked(&S, &w1, NULL, 0);
	assert_ptr_equal(sched_find(&S, 2)->worker, &w1);
	assert_int_equal(w1.nrevoking, 0);
	/* Replies cross: the answer to another revoke (a cancel's, or an
	 * earlier steal's) has cleared the flag before the worker's answer
	 * giving 2 back arrives. The job the worker dropped must still come
	 * back to the queue, or nobody would ever run it. */
	assert_int_equal(sched_steal(&S), 1);
	assert_int_equal(R.stolen[2], 2);
	sched_revoked(&S, &w1, NULL, 0); /* clears the flag of 2 */
	int64_t two[] = {2};
	sched_revoked(&S, &w1, two, 1);
	assert_int_equal(sched_find(&S, 2)->where, MJOB_INQUEUE);
	assert_int_equal(w1.nassigned, 1);
	sched_release(&S);
	sched_client_release(&a);
}

/* A draining worker (its Slurm job ends soon) gets no new job, the queued
 * ones it gives back go to another worker, and its free slots do not make
 * the scheduler steal for it. */
static void test_drain(void **st)
{
	(void)st;
	struct sched_client a;
	sched_client_init(&a);
	for (int i = 1; i <= 4; i++)
		add(&a, i, 0, 3);
	struct sched_worker w1, w2;
	worker(&w1, 1, 3);
	assert_int_equal(sched_dispatch(&S), 4); /* 1 running, 3 prefetched */
	sched_worker_drain(&S, &w1);
	int64_t back[] = {2, 3, 4};
	sched_revoked(&S, &w1, back, 3);
	assert_int_equal(w1.nassigned, 1);
	assert_int_equal(sched_dispatch(&S), 0); /* nobody else yet, and not w1 */
	worker(&w2, 1, 3);
	assert_int_equal(sched_dispatch(&S), 3);
	for (int64_t id = 2; id <= 4; id++)
		assert_ptr_equal(sched_find(&S, id)->worker, &w2);
	/* w1 finishes its running job: its free slot attracts no steal */
	sched_finish(&S, sched_find(&S, 1), MJOB_COMPLETED);
	assert_int_equal(sched_steal(&S), 0);
	sched_release(&S);
	sched_client_release(&a);
}

/* --time-request: a job asking for more time than a worker's Slurm job
 * has left goes to another worker, and does not hold up the jobs behind it. */
static void test_time_request(void **st)
{
	(void)st;
	struct sched_client a;
	sched_client_init(&a);
	S.now = 1000;
	struct mjob *big = add(&a, 1, 5, 3), *small = add(&a, 2, 0, 3), *plain = add(&a, 3, 0, 3);
	big->treq = 500;
	small->treq = 50;
	(void)plain;
	struct sched_worker w1, w2;
	worker(&w1, 2, 0);
	w1.end = 1100; /* 100 s left */
	assert_int_equal(sched_dispatch(&S), 2);
	assert_ptr_equal(sched_find(&S, 2)->worker, &w1);
	assert_ptr_equal(sched_find(&S, 3)->worker, &w1);
	assert_int_equal(sched_find(&S, 1)->where, MJOB_INQUEUE); /* highest prio, but too long */
	worker(&w2, 1, 0); /* end unknown: anything goes */
	assert_int_equal(sched_dispatch(&S), 1);
	assert_ptr_equal(sched_find(&S, 1)->worker, &w2);
	sched_release(&S);
	sched_client_release(&a);
}

/* A multi-rank job holds its ranks' worth of a worker's slots. */
static void test_ranks(void **st)
{
	(void)st;
	struct sched_client a;
	sched_client_init(&a);
	struct mjob *mpi = add(&a, 1, 5, 3);
	mpi->ranks = 3;
	add(&a, 2, 0, 3);
	add(&a, 3, 0, 3);
	struct sched_worker w;
	worker(&w, 4, 0);
	assert_int_equal(sched_dispatch(&S), 2); /* the 3-rank job and one more: 4 slots */
	assert_int_equal(w.nassigned + w.extra, 4);
	assert_int_equal(sched_find(&S, 3)->where, MJOB_INQUEUE);
	sched_finish(&S, sched_find(&S, 1), MJOB_COMPLETED);
	assert_int_equal(w.extra, 0);
	assert_int_equal(sched_dispatch(&S), 1);
	assert_ptr_equal(sched_find(&S, 3)->worker, &w);
	sched_release(&S);
	sched_client_release(&a);
}

static void count_job(void *arg, struct mjob *j)
{
	(void)j;
	(*(int *)arg)++;
}

static void test_cancel_all(void **st)
{
	(void)st;
	struct sched_client a;
	sched_client_init(&a);
	for (int i = 1; i <= 5000; i++)
		add(&a, i, i % 7, 3);
	struct sched_worker w;
	worker(&w, 2, 2);
	sched_dispatch(&S);
	int seen = 0;
	assert_int_equal(sched_cancel_all(&S, count_job, &seen), 5000);
	assert_int_equal(seen, 5000);
	assert_int_equal(S.nlive, 0);
	assert_int_equal(a.nlive, 0);
	assert_int_equal(w.nassigned, 0);
	assert_null(sched_find(&S, 1));
	assert_int_equal(sched_dispatch(&S), 0);
	sched_release(&S);
	sched_client_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fair_share, setup, teardown),
		cmocka_unit_test_setup_teardown(test_priority_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefetch_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_steal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ranks, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
