/* SPDX-License-Identifier: MIT */
/* Unit tests for master/sched: fair share, priorities, deps, retries,
 * prefetch windows (sized from run times), preemption of prefetched jobs,
 * starts and stealing, and pools (typed jobs on the workers serving them),
 * with recording callbacks and no I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sched.h"

#define REC_MAX 1024

struct rec {
	int64_t assigned[REC_MAX];
	struct sched_worker *assigned_to[REC_MAX];
	int nassigned;
	int64_t requeued[REC_MAX];
	int nrequeued;
	int64_t failed[REC_MAX];
	char fail_err[REC_MAX][160];
	int nfailed;
	int64_t stolen[REC_MAX];
	struct sched_worker *stolen_from[REC_MAX];
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
	r->stolen_from[r->nstolen] = w;
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
	struct mjob *j = mjob_new("x", 1, NULL, NULL, NULL, 0, NULL);
	assert_non_null(j);
	j->id = id;
	j->client = c;
	j->prio = prio;
	j->retries = (uint16_t)retries;
	assert_int_equal(sched_add(&S, j), 0);
	return j;
}

/* A worker whose jobs were measured as tiny, so its window is its full
 * slots + prefetch (window sizing has tests of its own). */
static void worker(struct sched_worker *w, uint32_t slots, uint32_t prefetch)
{
	memset(w, 0, sizeof *w);
	w->idx = UINT32_MAX;
	sched_worker_add(&S, w, slots, prefetch);
	sched_worker_runtime(w, 0);
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
	struct mjob *j3 = mjob_new("", 0, NULL, NULL, NULL, 0, NULL), *j4 = mjob_new("", 0, NULL, NULL, NULL, 0, NULL),
		    *j5 = mjob_new("", 0, NULL, NULL, NULL, 0, NULL);
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
	/* More ranks than any worker has slots: it goes to an idle worker
	 * (which runs it alone), even with no prefetch window. */
	struct mjob *big = add(&a, 4, 0, 3);
	big->ranks = 6;
	struct sched_worker w2;
	memset(&w2, 0, sizeof w2);
	w2.idx = UINT32_MAX;
	sched_worker_add(&S, &w2, 4, 0);
	assert_int_equal(sched_dispatch(&S), 1);
	assert_ptr_equal(big->worker, &w2);
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

/* input_b counts the input bytes live jobs hold in memory (the master's
 * --input-memory budget): added with a job, removed when it ends however it
 * ends (result, dependency failure, cancel-all); a job whose input lives
 * only in state.db (MJOB_F_STORED, input_len 0) counts nothing. */
static void test_input_bytes(void **st)
{
	(void)st;
	struct sched_client a;
	sched_client_init(&a);
	char in[1000];
	memset(in, 'i', sizeof in);
	struct mjob *j1 = mjob_new(in, 1000, NULL, NULL, NULL, 0, NULL), *j2 = mjob_new(in, 300, NULL, NULL, NULL, 0, NULL),
		    *j3 = mjob_new(NULL, 0, NULL, NULL, NULL, 0, NULL), *j4 = mjob_new(in, 20, NULL, NULL, NULL, 0, NULL);
	j3->flags |= MJOB_F_STORED;
	struct mjob *js[] = {j1, j2, j3, j4};
	for (int i = 0; i < 4; i++) {
		js[i]->id = i + 1;
		js[i]->client = &a;
	}
	for (int i = 0; i < 3; i++)
		assert_int_equal(sched_add(&S, js[i]), 0);
	assert_int_equal(sched_wait_for(&S, j4, 1), 0); /* j4 waits for j1 */
	assert_int_equal(sched_add(&S, j4), 0);
	assert_int_equal(S.input_b, 1320);
	struct sched_worker w;
	worker(&w, 1, 0);
	sched_dispatch(&S); /* j1 assigned: still held until it ends */
	assert_int_equal(S.input_b, 1320);
	sched_finish(&S, j1, MJOB_FAILED); /* j4 fails with it */
	assert_null(sched_find(&S, 4));
	assert_int_equal(S.input_b, 300);
	sched_finish(&S, sched_find(&S, 3), MJOB_COMPLETED);
	assert_int_equal(S.input_b, 300);
	int seen = 0;
	sched_cancel_all(&S, count_job, &seen);
	assert_int_equal(S.input_b, 0);
	sched_release(&S);
	sched_client_release(&a);
}

/* The worker's job at the head of its list started ago_ms ago (now_ms is
 * the scheduler's clock). */
static void head_started(struct sched_worker *w, uint32_t ago_ms)
{
	assert_non_null(w->head);
	w->head->assigned_ms = S.now_ms - ago_ms;
	sched_started(&S, w->head);
}

/* Give w back every job the recorded steals took from it (its revoked). */
static void answer_revokes(struct sched_worker *w)
{
	int64_t ids[REC_MAX];
	size_t n = 0;
	for (int i = 0; i < R.nstolen; i++)
		if (R.stolen_from[i] == w && sched_find(&S, R.stolen[i]) && sched_find(&S, R.stolen[i])->worker == w)
			ids[n++] = R.stolen[i];
	sched_revoked(&S, w, ids, n);
}

/* Beyond its slots a window holds at most SCHED_PREFETCH_BYTES of input,
 * whatever --prefetch allows (a job whose input is only in state.db counts
 * SCHED_STORED_INPUT_B): 64 KiB inputs fill 4 MiB at 64 jobs, the slot's
 * included; jobs that end free room; tiny ones get the whole prefetch. */
static void test_window_bytes(void **st)
{
	(void)st;
	static char big[64 << 10];
	memset(big, 'b', sizeof big);
	struct sched_client a;
	sched_client_init(&a);
	for (int i = 1; i <= 100; i++) {
		struct mjob *j = mjob_new(big, sizeof big, NULL, NULL, NULL, 0, NULL);
		assert_non_null(j);
		j->id = i;
		j->client = &a;
		assert_int_equal(sched_add(&S, j), 0);
	}
	struct sched_worker w;
	worker(&w, 1, 500);
	assert_int_equal(sched_dispatch(&S), SCHED_PREFETCH_BYTES / sizeof big);
	assert_int_equal(w.assigned_b, SCHED_PREFETCH_BYTES);
	sched_finish(&S, sched_find(&S, 1), MJOB_COMPLETED);
	sched_finish(&S, sched_find(&S, 2), MJOB_COMPLETED);
	assert_int_equal(sched_dispatch(&S), 2);
	for (int64_t id = 3; id <= 66; id++)
		sched_finish(&S, sched_find(&S, id), MJOB_COMPLETED);
	assert_int_equal(sched_dispatch(&S), 34); /* the rest: 2.1 MiB */
	assert_int_equal(w.assigned_b, 34 * sizeof big);
	for (int64_t id = 67; id <= 100; id++)
		sched_finish(&S, sched_find(&S, id), MJOB_COMPLETED);
	assert_int_equal(w.assigned_b, 0);
	for (int i = 101; i <= 110; i++) /* inputs only in state.db */
		add(&a, i, 0, 0)->flags |= MJOB_F_STORED;
	assert_int_equal(sched_dispatch(&S), 10);
	assert_int_equal(w.assigned_b, 10 * (uint64_t)SCHED_STORED_INPUT_B);
	for (int i = 111; i <= 710; i++)
		add(&a, i, 0, 0);
	assert_int_equal(sched_dispatch(&S), 1 + 500 - 10); /* 1-byte inputs: the whole window */
	assert_int_equal(w.nassigned, 501);
	sched_release(&S);
	sched_client_release(&a);
}

static void test_window_sizing(void **st)
{
	(void)st;
	struct sched_client a;
	sched_client_init(&a);
	for (int i = 1; i <= 300; i++)
		add(&a, i, 0, 3);
	S.now_ms = 100000;
	struct sched_worker w;
	memset(&w, 0, sizeof w);
	w.idx = UINT32_MAX;
	sched_worker_add(&S, &w, 2, 64);
	/* Nothing measured yet: no prefetch (the first jobs may be long). */
	assert_int_equal(sched_worker_window(&S, &w), 2);
	assert_int_equal(sched_dispatch(&S), 2);
	/* Tiny jobs (finished within a worker turn): the whole window. */
	sched_worker_runtime(&w, 0);
	assert_int_equal(sched_worker_window(&S, &w), 2 + 64);
	/* 5 ms jobs: 2 slots x 50 ms of cover = 20 prefetched. */
	w.est_us = 5000;
	assert_int_equal(sched_worker_window(&S, &w), 2 + 20);
	/* One 300 ms job: the estimate rises by half at once (150 ms) and
	 * the window closes to the slots; it falls slowly again. */
	sched_worker_runtime(&w, 300000);
	assert_true(w.est_us >= 150000);
	assert_int_equal(sched_worker_window(&S, &w), 2);
	uint32_t before = w.est_us;
	sched_worker_runtime(&w, 0);
	assert_true(w.est_us < before && w.est_us > before / 2);
	for (int i = 0; i < 200; i++)
		sched_worker_runtime(&w, 0);
	assert_int_equal(w.est_us, 0);
	assert_int_equal(sched_worker_window(&S, &w), 2 + 64);
	/* A stale estimate: the job at the head has run 300 ms already, so
	 * the worker gets no more prefetch even though est says tiny. */
	head_started(&w, 300);
	assert_int_equal(sched_worker_window(&S, &w), 2);
	assert_int_equal(sched_dispatch(&S), 0);
	assert_int_equal(w.nassigned, 2);
	/* --prefetch 0 caps it: never more than the slots. */
	w.prefetch_max = 0;
	w.head->assigned_ms = S.now_ms;
	assert_int_equal(sched_worker_window(&S, &w), 2);
	sched_release(&S);
	sched_client_release(&a);
}

static void test_started_counts(void **st)
{
	(void)st;
	struct sched_client a;
	sched_client_init(&a);
	for (int i = 1; i <= 4; i++)
		add(&a, i, 0, 0);
	struct sched_worker w;
	worker(&w, 1, 3);
	assert_int_equal(sched_dispatch(&S), 4);
	assert_int_equal(S.nstarted, 0); /* all prefetched until a start is told */
	sched_started(&S, sched_find(&S, 1));
	sched_started(&S, sched_find(&S, 1)); /* twice: counted once */
	sched_started(&S, sched_find(&S, 4)); /* a worker may start out of order */
	assert_int_equal(S.nstarted, 2);
	assert_int_equal(w.nstarted, 2);
	/* Given back (a revoke): no longer started. */
	sched_unassign(&S, sched_find(&S, 4), 1);
	assert_int_equal(S.nstarted, 1);
	assert_false(sched_find(&S, 4)->flags & MJOB_F_STARTED);
	sched_finish(&S, sched_find(&S, 1), MJOB_COMPLETED);
	assert_int_equal(S.nstarted, 0);
	/* A job reported started is never stolen, and a lost worker's
	 * started job used its attempt even beyond the first `slots`. */
	assert_int_equal(sched_dispatch(&S), 1); /* 4 again, behind 2, 3 */
	sched_started(&S, sched_find(&S, 3));
	struct sched_worker w2;
	worker(&w2, 1, 0);
	assert_int_equal(sched_steal(&S), 1);
	assert_int_equal(R.stolen[0], 4);
	sched_worker_lost(&S, &w, "w");
	assert_int_equal(S.nstarted, 0);
	assert_non_null(sched_find(&S, 4)); /* unstarted: requeued */
	assert_null(sched_find(&S, 3));     /* started, retries 0: failed */
	assert_null(sched_find(&S, 2));     /* first in line: counted started */
	sched_release(&S);
	sched_client_release(&a);
}

/* The scenario of issue 9: client A queues 200 jobs of 300 ms on 2 workers
 * of 1 slot whose windows were sized for tiny jobs (64 prefetched each);
 * client B submits 4 jobs 300 ms later. B's jobs must be next on both
 * workers, not behind A's 128 prefetched ones. */
static void test_preempt_fair_share(void **st)
{
	(void)st;
	struct sched_client a, b;
	sched_client_init(&a);
	sched_client_init(&b);
	S.now_ms = 50000;
	for (int i = 1; i <= 200; i++)
		add(&a, i, 0, 3);
	struct sched_worker w1, w2;
	worker(&w1, 1, 64);
	worker(&w2, 1, 64);
	assert_int_equal(sched_dispatch(&S), 130);
	/* Fresh tiny-job windows and heads just started: no reason yet. */
	head_started(&w1, 0);
	head_started(&w2, 0);
	for (int i = 201; i <= 204; i++)
		add(&b, i, 0, 3);
	assert_int_equal(sched_dispatch(&S), 0); /* windows full */
	assert_int_equal(sched_preempt(&S), 0);  /* 64 x 0 ms of work: fine */
	/* 300 ms later the heads still run: the windows hold 64 x 300 ms. */
	S.now_ms += 300;
	assert_int_equal(sched_preempt(&S), 128);
	for (int i = 0; i < R.nstolen; i++) {
		struct mjob *j = sched_find(&S, R.stolen[i]);
		assert_ptr_equal(j->client, &a);
		assert_false(j->flags & MJOB_F_STARTED);
	}
	assert_int_equal(sched_preempt(&S), 0); /* in flight: not twice */
	answer_revokes(&w1);
	answer_revokes(&w2);
	assert_int_equal(a.nrun, 2);
	/* The windows are now sized by the long-running heads: nothing is
	 * prefetched, so nothing of A's refills them. */
	assert_int_equal(sched_dispatch(&S), 0);
	assert_int_equal(sched_preempt(&S), 0);
	/* The first slot that frees goes to B (fewest assigned); from then
	 * on B and A share the slots. */
	int before = R.nassigned;
	sched_finish(&S, w1.head, MJOB_COMPLETED);
	sched_worker_runtime(&w1, 300000);
	assert_int_equal(sched_dispatch(&S), 1);
	assert_int_equal(R.assigned[before], 201);
	sched_finish(&S, w2.head, MJOB_COMPLETED);
	sched_worker_runtime(&w2, 300000);
	assert_int_equal(sched_dispatch(&S), 1);
	assert_ptr_equal(w2.head->client, &a); /* 1 each: A's turn */
	sched_finish(&S, w1.head, MJOB_COMPLETED);
	assert_int_equal(sched_dispatch(&S), 1);
	assert_int_equal(w1.head->id, 202);
	sched_release(&S);
	sched_client_release(&a);
	sched_client_release(&b);
}

/* Balanced clients, or short prefetched work, revoke nothing: tiny jobs keep
 * their windows (no churn). */
static void test_preempt_only_when_worth_it(void **st)
{
	(void)st;
	struct sched_client a, b;
	sched_client_init(&a);
	sched_client_init(&b);
	S.now_ms = 7000;
	for (int i = 1; i <= 40; i++)
		add(&a, i, 0, 3);
	struct sched_worker w;
	worker(&w, 1, 8);
	assert_int_equal(sched_dispatch(&S), 9);
	add(&b, 41, 0, 3);
	/* Tiny jobs: 8 prefetched cost nothing to wait behind. */
	assert_int_equal(sched_preempt(&S), 0);
	/* Long ones, but B is not worse off than A by two: nothing either. */
	head_started(&w, 1000);
	b.nrun = 8;
	assert_int_equal(sched_preempt(&S), 0);
	b.nrun = 7;
	assert_int_equal(sched_preempt(&S), 8);
	b.nrun = 0;
	sched_release(&S);
	sched_client_release(&a);
	sched_client_release(&b);
}

/* A priority-100 job of a client behind its own 300 queued jobs, on
 * windows sized for tiny jobs: it starts on the next free slot. */
static void test_preempt_priority(void **st)
{
	(void)st;
	struct sched_client a;
	sched_client_init(&a);
	S.now_ms = 90000;
	for (int i = 1; i <= 300; i++)
		add(&a, i, 0, 3);
	struct sched_worker w1, w2;
	worker(&w1, 1, 64);
	worker(&w2, 1, 64);
	assert_int_equal(sched_dispatch(&S), 130);
	head_started(&w1, 300);
	head_started(&w2, 300);
	assert_int_equal(sched_preempt(&S), 0); /* same client, same prio */
	add(&a, 301, 100, 3);
	assert_int_equal(sched_dispatch(&S), 0);
	assert_int_equal(sched_preempt(&S), 128);
	answer_revokes(&w1);
	answer_revokes(&w2);
	sched_finish(&S, w1.head, MJOB_COMPLETED);
	sched_worker_runtime(&w1, 300000);
	int before = R.nassigned;
	assert_int_equal(sched_dispatch(&S), 1);
	assert_int_equal(R.assigned[before], 301);
	sched_release(&S);
	sched_client_release(&a);
}

/* ---- pools ---- */

/* w serves exactly pools[0..n). */
static void serve(struct sched_worker *w, const uint32_t *pools, size_t n)
{
	assert_int_equal(sched_worker_set_pools(&S, w, pools, n), 0);
}

static void pool_client(struct sched_client *c, uint32_t pool)
{
	sched_client_init(c);
	c->pool = pool;
}

/* Each job w holds is of a pool w serves. */
static void assert_holds_eligible(const struct sched_worker *w)
{
	for (const struct mjob *j = w->head; j; j = j->next)
		assert_true(sched_worker_serves(w, j->client->pool));
}

static void finish_all(struct sched_worker *w)
{
	while (w->head)
		sched_finish(&S, w->head, MJOB_COMPLETED);
}

/* Workers of {0}, {1} and {0,1}: each job lands only on a worker serving
 * its pool, until all ran; the per-pool counts follow. */
static void test_pools_eligible(void **st)
{
	(void)st;
	struct sched_client a, b;
	pool_client(&a, 0);
	pool_client(&b, 1);
	for (int i = 1; i <= 30; i++)
		add(&a, i, 0, 3);
	for (int i = 31; i <= 40; i++)
		add(&b, i, 0, 3);
	assert_int_equal(sched_pool_queued(&S, 0), 30);
	assert_int_equal(sched_pool_queued(&S, 1), 10);
	assert_int_equal(sched_pool_queued(&S, 2), 0);
	struct sched_worker w0, w1, w01;
	const uint32_t p1[] = {1}, p01[] = {1, 0, 1}; /* a set: order and repeats do not matter */
	worker(&w0, 2, 1); /* a new worker serves {0} */
	worker(&w1, 2, 1);
	serve(&w1, p1, 1);
	worker(&w01, 2, 1);
	serve(&w01, p01, 3);
	assert_int_equal(w01.npools, 2);
	assert_true(sched_worker_serves(&w0, 0) && !sched_worker_serves(&w0, 1));
	assert_true(!sched_worker_serves(&w1, 0) && sched_worker_serves(&w1, 1));
	assert_int_equal(sched_pool_workers(&S, 0), 2);
	assert_int_equal(sched_pool_workers(&S, 1), 2);
	assert_int_equal(sched_pool_workers(&S, 7), 0);
	/* First round: 3 jobs each (window 3), so b's 10 all go in 3-4 rounds
	 * to w1 and w01, a's to w0 and w01. */
	int rounds = 0, n1 = 0, n01 = 0;
	while (S.nlive && rounds++ < 20) {
		assert_true(sched_dispatch(&S) > 0);
		assert_holds_eligible(&w0);
		assert_holds_eligible(&w1);
		assert_holds_eligible(&w01);
		n1 += (int)w1.nassigned;
		n01 += (int)w01.nassigned;
		assert_int_equal(sched_pool_queued(&S, 0) + sched_pool_queued(&S, 1), S.nqueued);
		finish_all(&w0);
		finish_all(&w1);
		finish_all(&w01);
	}
	assert_int_equal(S.nlive, 0);
	assert_true(n1 > 0 && n01 > 0);
	assert_int_equal(S.ntyped, 0);
	sched_worker_drain(&S, &w1);
	assert_int_equal(sched_pool_workers(&S, 1), 1);
	sched_release(&S);
	sched_worker_release(&w1);
	sched_worker_release(&w01);
	sched_client_release(&a);
	sched_client_release(&b);
}

/* Jobs of a pool nobody serves wait (as in mindtrace, where a job submitted
 * before any worker of its type exists completes once one is launched);
 * they go as soon as a worker gets the pool. Bad pool ids are refused. */
static void test_pool_without_worker(void **st)
{
	(void)st;
	struct sched_client c, bad;
	pool_client(&c, 5);
	pool_client(&bad, SCHED_POOL_MAX);
	for (int i = 1; i <= 3; i++)
		add(&c, i, 0, 3);
	struct mjob *j = mjob_new("x", 1, NULL, NULL, NULL, 0, NULL);
	j->id = 9;
	j->client = &bad;
	assert_int_equal(sched_add(&S, j), -1);
	mjob_free(j);
	struct sched_worker w;
	worker(&w, 4, 0);
	assert_int_equal(sched_dispatch(&S), 0);
	assert_int_equal(sched_preempt(&S), 0);
	assert_int_equal(sched_steal(&S), 0);
	assert_int_equal(sched_pool_queued(&S, 5), 3);
	assert_int_equal(sched_pool_workers(&S, 5), 0);
	const uint32_t too_big[] = {0, SCHED_POOL_MAX};
	assert_int_equal(sched_worker_set_pools(&S, &w, too_big, 2), -1);
	assert_true(sched_worker_serves(&w, 0) && w.npools == 1); /* unchanged */
	const uint32_t p05[] = {0, 5};
	serve(&w, p05, 2);
	assert_int_equal(sched_pool_workers(&S, 5), 1);
	assert_int_equal(sched_dispatch(&S), 3);
	assert_int_equal(w.nassigned, 3);
	assert_int_equal(sched_pool_queued(&S, 5), 0);
	sched_release(&S);
	sched_worker_release(&w);
	sched_client_release(&c);
}

/* One worker of two pools alternates between them as between two clients
 * of one pool; it does not drain the first pool before the second. */
static void test_pool_alternates(void **st)
{
	(void)st;
	struct sched_client a, b;
	pool_client(&a, 0);
	pool_client(&b, 3);
	for (int i = 1; i <= 10; i++)
		add(&a, i, 0, 3);
	for (int i = 11; i <= 20; i++)
		add(&b, i, 0, 3);
	struct sched_worker w;
	const uint32_t p03[] = {0, 3};
	worker(&w, 1, 0);
	serve(&w, p03, 2);
	uint32_t last = UINT32_MAX;
	for (int i = 0; i < 20; i++) {
		assert_int_equal(sched_dispatch(&S), 1);
		uint32_t pool = w.head->client->pool;
		assert_true(pool != last);
		last = pool;
		sched_finish(&S, w.head, MJOB_COMPLETED);
	}
	/* With room for 4, it takes 2 of each. */
	for (int i = 21; i <= 30; i++)
		add(i % 2 ? &a : &b, i, 0, 3);
	struct sched_worker w4;
	worker(&w4, 4, 0);
	serve(&w4, p03, 2);
	sched_worker_drain(&S, &w);
	assert_int_equal(sched_dispatch(&S), 4);
	assert_int_equal(a.nrun, 2);
	assert_int_equal(b.nrun, 2);
	sched_release(&S);
	sched_worker_release(&w);
	sched_worker_release(&w4);
	sched_client_release(&a);
	sched_client_release(&b);
}

/* An idle worker steals only jobs of pools it serves: with only plain jobs
 * live (the plain-pool path) and with typed ones (the per-pool path). */
static void test_pool_steal(void **st)
{
	(void)st;
	struct sched_client a, b;
	pool_client(&a, 0);
	pool_client(&b, 1);
	for (int i = 1; i <= 5; i++)
		add(&a, i, 0, 3);
	struct sched_worker w0, w1, w3, w01;
	const uint32_t p1[] = {1}, p01[] = {0, 1};
	worker(&w0, 1, 4);
	assert_int_equal(sched_dispatch(&S), 5); /* 1 running, 4 prefetched */
	worker(&w1, 2, 0);
	serve(&w1, p1, 1);
	assert_int_equal(sched_steal(&S), 0); /* w1 cannot run a's jobs */
	/* Typed jobs: 5 of pool 1 on w3, 1 started, 4 prefetched. */
	worker(&w3, 1, 4);
	serve(&w3, p1, 1);
	sched_worker_drain(&S, &w1); /* out of the way while w3 fills */
	for (int i = 6; i <= 10; i++)
		add(&b, i, 0, 3);
	assert_int_equal(sched_dispatch(&S), 5);
	assert_int_equal(w3.nassigned, 5);
	w1.draining = 0;
	/* w1 has 2 free slots: it takes w3's 2 newest, none of w0's. */
	assert_int_equal(sched_steal(&S), 2);
	for (int i = 0; i < R.nstolen; i++) {
		assert_ptr_equal(R.stolen_from[i], &w3);
		assert_int_equal(sched_find(&S, R.stolen[i])->client->pool, 1);
	}
	assert_int_equal(R.stolen[0], 10);
	assert_int_equal(R.stolen[1], 9);
	assert_int_equal(sched_steal(&S), 0); /* in flight: counted against w1's slots */
	answer_revokes(&w3);
	assert_int_equal(sched_dispatch(&S), 2);
	assert_ptr_equal(sched_find(&S, 9)->worker, &w1);
	assert_ptr_equal(sched_find(&S, 10)->worker, &w1);
	/* A worker of both pools with one free slot takes one job, not one per
	 * pool. */
	worker(&w01, 1, 0);
	serve(&w01, p01, 2);
	int before = R.nstolen;
	assert_int_equal(sched_steal(&S), 1);
	assert_true(sched_worker_serves(&w01, sched_find(&S, R.stolen[before])->client->pool));
	sched_release(&S);
	sched_worker_release(&w1);
	sched_worker_release(&w3);
	sched_worker_release(&w01);
	sched_client_release(&a);
	sched_client_release(&b);
}

/* Two idle workers of different pools, and busy workers holding both
 * pools' unstarted jobs: each idle one gets a job of its own pool (a slot
 * of one pool's thief is not spent twice). */
static void test_pool_steal_matching(void **st)
{
	(void)st;
	struct sched_client a, b;
	pool_client(&a, 0);
	pool_client(&b, 1);
	struct sched_worker v1, v0, t1, t0;
	const uint32_t p1[] = {1};
	worker(&v1, 1, 4);
	serve(&v1, p1, 1);
	worker(&v0, 1, 4);
	for (int i = 1; i <= 5; i++)
		add(&b, i, 0, 3);
	for (int i = 6; i <= 10; i++)
		add(&a, i, 0, 3);
	assert_int_equal(sched_dispatch(&S), 10);
	worker(&t1, 1, 0);
	serve(&t1, p1, 1);
	worker(&t0, 1, 0);
	assert_int_equal(sched_steal(&S), 2);
	assert_ptr_equal(R.stolen_from[0], &v1);
	assert_ptr_equal(R.stolen_from[1], &v0);
	answer_revokes(&v1);
	answer_revokes(&v0);
	assert_int_equal(sched_dispatch(&S), 2);
	assert_ptr_equal(sched_find(&S, R.stolen[0])->worker, &t1);
	assert_ptr_equal(sched_find(&S, R.stolen[1])->worker, &t0);
	sched_release(&S);
	sched_worker_release(&v1);
	sched_worker_release(&t1);
	sched_client_release(&a);
	sched_client_release(&b);
}

/* Preemption within a pool: pool 1's newcomer revokes prefetched jobs of
 * pool 1's busy client on a pool-1 worker, never pool 0's on a pool-0
 * worker (whose next job would be pool 0's anyway). */
static void test_pool_preempt(void **st)
{
	(void)st;
	struct sched_client a, b, c;
	pool_client(&a, 0);
	pool_client(&b, 1);
	pool_client(&c, 1);
	S.now_ms = 60000;
	for (int i = 1; i <= 100; i++)
		add(&a, i, 0, 3);
	for (int i = 101; i <= 200; i++)
		add(&b, i, 0, 3);
	struct sched_worker w0, w1;
	const uint32_t p1[] = {1};
	worker(&w0, 1, 16);
	worker(&w1, 1, 16);
	serve(&w1, p1, 1);
	assert_int_equal(sched_dispatch(&S), 34);
	head_started(&w0, 300);
	head_started(&w1, 300);
	for (int i = 201; i <= 204; i++)
		add(&c, i, 0, 3);
	assert_int_equal(sched_dispatch(&S), 0);
	assert_int_equal(sched_preempt(&S), 16);
	for (int i = 0; i < R.nstolen; i++) {
		assert_ptr_equal(R.stolen_from[i], &w1);
		assert_ptr_equal(sched_find(&S, R.stolen[i])->client, &b);
	}
	answer_revokes(&w1);
	/* a's jobs on w0 are not behind anyone of pool 0: untouched. */
	assert_int_equal(w0.nassigned, 17);
	sched_release(&S);
	sched_worker_release(&w1);
	sched_client_release(&a);
	sched_client_release(&b);
	sched_client_release(&c);
}

/* On a worker of both pools the queued job compared is the one it would
 * take next, whatever its pool: a newcomer of pool 1 preempts pool 0's
 * long prefetched jobs there (the worker alternates between its pools), and
 * not on a worker of pool 0 alone. */
static void test_pool_preempt_two_pools(void **st)
{
	(void)st;
	struct sched_client a, c;
	pool_client(&a, 0);
	pool_client(&c, 1);
	S.now_ms = 70000;
	for (int i = 1; i <= 40; i++)
		add(&a, i, 0, 3);
	struct sched_worker w0, w01;
	const uint32_t p01[] = {0, 1};
	worker(&w0, 1, 8);
	worker(&w01, 1, 8);
	serve(&w01, p01, 2);
	assert_int_equal(sched_dispatch(&S), 18);
	head_started(&w0, 1000);
	head_started(&w01, 1000);
	add(&c, 41, 0, 3);
	assert_int_equal(sched_preempt(&S), 8);
	for (int i = 0; i < R.nstolen; i++)
		assert_ptr_equal(R.stolen_from[i], &w01);
	answer_revokes(&w01);
	sched_finish(&S, w01.head, MJOB_COMPLETED);
	sched_worker_runtime(&w01, 1000000); /* the window closes to the slot */
	int before = R.nassigned;
	assert_int_equal(sched_dispatch(&S), 1);
	assert_int_equal(R.assigned[before], 41);
	sched_release(&S);
	sched_worker_release(&w01);
	sched_client_release(&a);
	sched_client_release(&c);
}

/* Taking a pool off a worker's set stops new jobs of it there; what the
 * worker holds of it stays. An empty set gets nothing. */
static void test_pool_unserve(void **st)
{
	(void)st;
	struct sched_client a, b;
	pool_client(&a, 0);
	pool_client(&b, 2);
	for (int i = 1; i <= 10; i++)
		add(&a, i, 0, 3);
	for (int i = 11; i <= 20; i++)
		add(&b, i, 0, 3);
	struct sched_worker w;
	const uint32_t p02[] = {0, 2}, p0[] = {0};
	worker(&w, 2, 0);
	serve(&w, p02, 2);
	assert_int_equal(sched_dispatch(&S), 2);
	assert_int_equal(b.nrun, 1);
	struct mjob *held = w.head->client == &b ? w.head : w.tail;
	assert_ptr_equal(held->client, &b);
	serve(&w, p0, 1);
	assert_int_equal(held->where, MJOB_ASSIGNED); /* it stays */
	assert_ptr_equal(held->worker, &w);
	for (int i = 0; i < 9; i++) {
		struct mjob *done = w.head == held ? w.tail : w.head;
		sched_finish(&S, done, MJOB_COMPLETED);
		assert_int_equal(sched_dispatch(&S), 1);
		assert_ptr_equal((w.head == held ? w.tail : w.head)->client, &a);
	}
	assert_int_equal(sched_pool_queued(&S, 2), 9);
	sched_finish(&S, held, MJOB_COMPLETED);
	serve(&w, NULL, 0);
	assert_int_equal(sched_dispatch(&S), 0);
	assert_int_equal(sched_pool_workers(&S, 0), 0);
	sched_release(&S);
	sched_worker_release(&w);
	sched_client_release(&a);
	sched_client_release(&b);
}

/* Dependencies across pools: a pool-3 job waits for a pool-0 job (and
 * counts as queued in pool 3 meanwhile); a pool-0 job whose pool-3
 * dependency fails fails too. */
static void test_pool_deps(void **st)
{
	(void)st;
	struct sched_client a, t;
	pool_client(&a, 0);
	pool_client(&t, 3);
	add(&a, 1, 0, 3);
	struct mjob *j2 = mjob_new("", 0, NULL, NULL, NULL, 0, NULL);
	j2->id = 2;
	j2->client = &t;
	assert_int_equal(sched_wait_for(&S, j2, 1), 0);
	assert_int_equal(sched_add(&S, j2), 0);
	assert_int_equal(sched_pool_queued(&S, 3), 1);
	assert_int_equal(S.ntyped, 1);
	struct sched_worker w0, w3;
	const uint32_t p3[] = {3};
	worker(&w0, 1, 0);
	worker(&w3, 1, 0);
	serve(&w3, p3, 1);
	assert_int_equal(sched_dispatch(&S), 1);
	assert_ptr_equal(sched_find(&S, 1)->worker, &w0);
	assert_int_equal(j2->where, MJOB_WAITING);
	sched_finish(&S, sched_find(&S, 1), MJOB_COMPLETED);
	assert_int_equal(j2->where, MJOB_INQUEUE);
	assert_int_equal(sched_dispatch(&S), 1);
	assert_ptr_equal(j2->worker, &w3);
	assert_int_equal(sched_pool_queued(&S, 3), 0);
	/* 4 (pool 0) waits for 2 (pool 3), which fails. */
	struct mjob *j4 = mjob_new("", 0, NULL, NULL, NULL, 0, NULL);
	j4->id = 4;
	j4->client = &a;
	assert_int_equal(sched_wait_for(&S, j4, 2), 0);
	assert_int_equal(sched_add(&S, j4), 0);
	assert_int_equal(sched_pool_queued(&S, 0), 1);
	sched_finish(&S, j2, MJOB_FAILED);
	assert_int_equal(R.nfailed, 1);
	assert_int_equal(R.failed[0], 4);
	assert_string_equal(R.fail_err[0], "dependency 2 failed");
	assert_int_equal(S.nlive, 0);
	assert_int_equal(S.ntyped, 0);
	assert_int_equal(sched_pool_queued(&S, 0) + sched_pool_queued(&S, 3), 0);
	sched_release(&S);
	sched_worker_release(&w3);
	sched_client_release(&a);
	sched_client_release(&t);
}

/* A lost worker's typed jobs go back to their pool; cancel-all empties every
 * pool; a set larger than fits in the worker works and is freed. */
static void test_pool_lost_and_cancel(void **st)
{
	(void)st;
	struct sched_client a, b;
	pool_client(&a, 0);
	pool_client(&b, 40000);
	for (int i = 1; i <= 4; i++)
		add(&a, i, 0, 3);
	for (int i = 5; i <= 12; i++)
		add(&b, i, 0, 3);
	uint32_t many[20];
	for (int i = 0; i < 20; i++)
		many[i] = (uint32_t)(39990 + i); /* 40000 among them, not 0 */
	struct sched_worker w, w2;
	worker(&w, 2, 2);
	serve(&w, many, 20);
	assert_int_equal(w.npools, 20);
	assert_true(sched_worker_serves(&w, 40000) && !sched_worker_serves(&w, 0));
	assert_int_equal(sched_dispatch(&S), 4);
	assert_holds_eligible(&w);
	assert_int_equal(sched_pool_queued(&S, 40000), 4);
	sched_started(&S, w.head);
	sched_steal(&S); /* nobody to steal for */
	sched_worker_lost(&S, &w, "w");
	assert_int_equal(R.nfailed, 0);
	assert_int_equal(R.nrequeued, 4);
	assert_int_equal(sched_pool_queued(&S, 40000), 8);
	assert_int_equal(sched_pool_queued(&S, 0), 4);
	assert_int_equal(b.nrun, 0);
	worker(&w2, 1, 1);
	assert_int_equal(sched_dispatch(&S), 2); /* a's: w2 serves {0} */
	assert_holds_eligible(&w2);
	int seen = 0;
	assert_int_equal(sched_cancel_all(&S, count_job, &seen), 12);
	assert_int_equal(sched_pool_queued(&S, 40000), 0);
	assert_int_equal(sched_pool_queued(&S, 0), 0);
	assert_int_equal(S.ntyped, 0);
	assert_int_equal(S.nactive, 0);
	assert_int_equal(b.active_idx, UINT32_MAX);
	sched_release(&S);
	sched_worker_release(&w);
	sched_client_release(&a);
	sched_client_release(&b);
}

/* sched_client_limit: a client with run_max 2 never has more than 2 jobs
 * assigned, whatever the free slots (another client takes them); held, it
 * gets none; lifting the hold or a finished job lets the next one go; its
 * queued jobs parked at the limit are still found by cancel-all. */
static void test_client_limit(void **st)
{
	(void)st;
	struct sched_client a, b;
	sched_client_init(&a);
	sched_client_init(&b);
	sched_client_limit(&S, &a, 2, 0);
	for (int i = 1; i <= 10; i++)
		add(&a, i, 0, 3);
	for (int i = 11; i <= 14; i++)
		add(&b, i, 0, 3);
	struct sched_worker w;
	worker(&w, 8, 8);
	sched_dispatch(&S);
	assert_int_equal(a.nrun, 2);
	assert_int_equal(b.nrun, 4);
	assert_int_equal(a.nq, 8);
	sched_dispatch(&S);
	assert_int_equal(a.nrun, 2);
	/* one of a's ends: exactly one more goes */
	sched_finish(&S, sched_find(&S, R.assigned[0] <= 10 ? R.assigned[0] : R.assigned[1]), MJOB_COMPLETED);
	assert_int_equal(a.nrun, 1);
	sched_dispatch(&S);
	assert_int_equal(a.nrun, 2);
	/* held: an ending job frees room that a does not get */
	sched_client_limit(&S, &a, 2, 1);
	for (struct mjob *j = w.head; j; j = j->next)
		if (j->client == &a) {
			sched_finish(&S, j, MJOB_COMPLETED);
			break;
		}
	sched_dispatch(&S);
	assert_int_equal(a.nrun, 1);
	sched_client_limit(&S, &a, 2, 0);
	sched_dispatch(&S);
	assert_int_equal(a.nrun, 2);
	/* no limit: the rest goes at once */
	sched_client_limit(&S, &a, 0, 0);
	sched_dispatch(&S);
	assert_int_equal(a.nq, 0);
	assert_int_equal(a.nrun, 8);
	sched_client_limit(&S, &a, 1, 0);
	add(&a, 15, 0, 3);
	add(&a, 16, 0, 3);
	sched_dispatch(&S);
	assert_int_equal(a.nq, 2);
	assert_int_equal(S.nparked, 1);
	int seen = 0;
	assert_int_equal(sched_cancel_all(&S, count_job, &seen), 14);
	assert_int_equal(S.nlive, 0);
	assert_int_equal(S.nparked, 0);
	assert_int_equal(a.park_idx, UINT32_MAX);
	sched_release(&S);
	sched_worker_release(&w);
	sched_client_release(&a);
	sched_client_release(&b);
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
		cmocka_unit_test_setup_teardown(test_window_sizing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_started_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preempt_fair_share, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preempt_only_when_worth_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preempt_priority, setup, teardown),
		cmocka_unit_test_setup_teardown(test_input_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pools_eligible, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_without_worker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_alternates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_steal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_steal_matching, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_preempt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_preempt_two_pools, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_unserve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_deps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_lost_and_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_limit, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
