/* SPDX-License-Identifier: MIT */
/* Unit tests for master/mres and the scheduler's use of it: a worker's
 * resources from its hello, a job's "res" request, the GPU allocator
 * (specific ids, lowest free first, held until the job leaves, a restored
 * job's ids kept), and sched: a job goes only where its GPUs/CPUs/memory
 * are free and into a free slot, never two jobs on one GPU, the freed id
 * goes to the next job, sched_explain and sched_res_never say why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mres.h"
#include "sched.h"

static struct mres_worker *from_hello(const char *json, char *err, size_t n)
{
	msg *h = msg_parse(json, strlen(json), err, n);
	assert_non_null(h);
	struct mres_worker *w = mres_worker_from_hello(h, err, n);
	msg_free(h);
	return w;
}

static struct mres_worker *gpus4(void)
{
	char err[200];
	struct mres_worker *w = from_hello("{\"cpus\":8,\"mem\":17179869184,\"gpus\":[\"0\",\"1\",\"2\",\"3\"]}", err,
					   sizeof err);
	assert_non_null(w);
	return w;
}

static void test_hello(void **st)
{
	(void)st;
	char err[200];
	struct mres_worker *w = gpus4();
	assert_int_equal(w->ngpus, 4);
	assert_string_equal(w->ids[2], "2");
	assert_int_equal(w->cpus_free, 8);
	assert_true(w->gpus_free == 0xf);
	assert_int_equal(w->gpu_kind, RESOURCE_GPU_NVIDIA);
	mres_worker_free(w);
	w = from_hello("{\"cpus\":2,\"gpus\":[\"GPU-a\"],\"gpu_kind\":\"amd\"}", err, sizeof err);
	assert_non_null(w);
	assert_int_equal(w->gpu_kind, RESOURCE_GPU_AMD);
	mres_worker_free(w);
	/* an older worker says nothing: no resources, no error */
	assert_null(from_hello("{\"slots\":4}", err, sizeof err));
	assert_string_equal(err, "");
	assert_null(from_hello("{\"cpus\":-1}", err, sizeof err));
	assert_non_null(strstr(err, "\"cpus\""));
	assert_null(from_hello("{\"gpus\":[\"a,b\"]}", err, sizeof err));
	assert_non_null(strstr(err, "GPU ids"));
	assert_null(from_hello("{\"gpus\":\"0,1\"}", err, sizeof err));
	assert_non_null(strstr(err, "array"));
}

static int parse(const char *json, struct mjob_res *r, int *pin, char *err, size_t n)
{
	msg *m = msg_parse(json, strlen(json), err, n);
	assert_non_null(m);
	int rc = mres_parse(m, r, pin, err, n);
	msg_free(m);
	return rc;
}

static void test_request(void **st)
{
	(void)st;
	struct mjob_res r;
	int pin;
	char err[200];
	assert_int_equal(parse("{\"cpus\":4,\"gpus\":1,\"mem\":8589934592}", &r, &pin, err, sizeof err), 0);
	assert_int_equal(r.cpus, 4);
	assert_int_equal(r.gpus, 1);
	assert_true(r.mem_b == 8ull << 30);
	assert_int_equal(pin, 0);
	assert_int_equal(parse("{\"cpus\":2,\"pin\":true}", &r, &pin, err, sizeof err), 0);
	assert_int_equal(pin, 1);
	assert_int_equal(parse("{\"pin\":true}", &r, &pin, err, sizeof err), -1);
	assert_non_null(strstr(err, "give \"cpus\" too"));
	assert_int_equal(parse("{\"gpus\":65}", &r, &pin, err, sizeof err), -1);
	assert_non_null(strstr(err, "\"gpus\""));
	assert_int_equal(parse("{\"gpus\":1.5}", &r, &pin, err, sizeof err), -1);
	assert_int_equal(parse("{\"gpu\":1}", &r, &pin, err, sizeof err), -1);
	assert_non_null(strstr(err, "unknown field \"gpu\""));
	assert_int_equal(parse("[1]", &r, &pin, err, sizeof err), -1);
	assert_int_equal(mres_from_opts("{\"git\":{},\"res\":{\"gpus\":2}}", &r), 1);
	assert_int_equal(r.gpus, 2);
	assert_int_equal(mres_from_opts("{\"git\":{}}", &r), 0);
	assert_int_equal(mres_from_opts(NULL, &r), 0);
}

static void test_allocator(void **st)
{
	(void)st;
	struct mres_worker *w = gpus4();
	struct mjob_res a = {.gpus = 1}, b = {.gpus = 2, .cpus = 3}, c = {.gpus = 1}, d = {.gpus = 1};
	assert_true(mres_fits(w, &a));
	mres_take(w, &a);
	assert_true(a.gpu_mask == 0x1); /* the lowest free */
	mres_take(w, &b);
	assert_true(b.gpu_mask == 0x6);
	assert_int_equal(w->cpus_free, 5);
	mres_take(w, &c);
	assert_true(c.gpu_mask == 0x8);
	assert_false(mres_fits(w, &d)); /* all four held */
	struct buf s = BUF_INIT;
	assert_int_equal(mres_gpus_json(w, b.gpu_mask, &s), 0);
	assert_int_equal(buf_add(&s, "", 1), 0);
	assert_string_equal(s.p, "\"1,2\"");
	buf_release(&s);
	mres_give(w, &b);
	assert_true(w->gpus_free == 0x6);
	assert_int_equal(w->cpus_free, 8);
	mres_take(w, &d);
	assert_true(d.gpu_mask == 0x2); /* a freed id goes to the next job */
	assert_true((a.gpu_mask & c.gpu_mask) == 0 && (a.gpu_mask & d.gpu_mask) == 0);
	/* a restored job keeps the GPUs it runs on when they are free */
	struct mjob_res e = {.gpus = 1, .gpu_mask = mres_gpus_mask(w, "2")};
	assert_true(e.gpu_mask == 0x4);
	mres_take(w, &e);
	assert_true(e.gpu_mask == 0x4);
	/* ... and gets what is left (none here) if they are not */
	struct mjob_res f = {.gpus = 1, .gpu_mask = 0x4};
	mres_take(w, &f);
	assert_true(f.gpu_mask == 0);
	assert_int_equal(mres_could(w, &(struct mjob_res){.gpus = 4}), 1);
	assert_int_equal(mres_could(w, &(struct mjob_res){.gpus = 5}), 0);
	assert_int_equal(mres_could(NULL, &(struct mjob_res){.cpus = 1}), 0);
	/* counts never go below zero nor above the total */
	struct mjob_res big = {.cpus = 100, .mem_b = (uint64_t)1 << 40};
	mres_take(w, &big);
	assert_int_equal(w->cpus_free, 0);
	assert_true(w->mem_free_b == 0);
	mres_give(w, &big);
	mres_give(w, &big);
	assert_int_equal(w->cpus_free, 8);
	assert_true(w->mem_free_b == w->mem_b);
	mres_worker_free(w);
}

/* ---- the scheduler ---- */

static struct sched S;
static int64_t assigned[64];
static int nassigned;

static void on_assign(void *arg, struct mjob *j)
{
	(void)arg;
	assigned[nassigned++] = j->id;
}

static void on_fail(void *arg, struct mjob *j, const char *err)
{
	(void)arg;
	(void)err;
	sched_finish(&S, j, MJOB_FAILED);
}

static int setup(void **st)
{
	(void)st;
	nassigned = 0;
	struct sched_cb cb = {NULL, on_assign, NULL, on_fail, NULL};
	sched_init(&S, &cb);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	sched_release(&S);
	return 0;
}

static struct mjob *add(struct sched_client *c, int64_t id, const struct mjob_res *r)
{
	struct mjob *j = mjob_new_res("x", 1, NULL, NULL, NULL, 0, NULL, r);
	assert_non_null(j);
	j->id = id;
	j->client = c;
	j->retries = 3;
	assert_int_equal(sched_add(&S, j), 0);
	return j;
}

static uint64_t mask_of(const struct mjob *j)
{
	struct mjob_res r;
	mjob_res_get(j, &r);
	return r.gpu_mask;
}

static void test_sched_gpus(void **st)
{
	(void)st;
	struct sched_client c;
	sched_client_init(&c);
	struct sched_worker w;
	memset(&w, 0, sizeof w);
	w.idx = UINT32_MAX;
	sched_worker_add(&S, &w, 6, 64);
	sched_worker_runtime(&w, 0); /* measured tiny: a wide prefetch window */
	struct mres_worker *res = gpus4();
	sched_worker_set_res(&S, &w, res);
	struct mjob_res one = {.gpus = 1};
	struct mjob *j[8];
	for (int i = 0; i < 8; i++)
		j[i] = add(&c, i + 1, &one);
	struct mjob *plain = add(&c, 9, NULL);
	assert_int_equal(sched_dispatch(&S), 5); /* 4 GPU jobs; the plain one too */
	uint64_t seen = 0;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(j[i]->where, MJOB_ASSIGNED);
		assert_int_equal(__builtin_popcountll(mask_of(j[i])), 1);
		assert_true((seen & mask_of(j[i])) == 0); /* never one GPU twice */
		seen |= mask_of(j[i]);
	}
	assert_true(seen == 0xf && res->gpus_free == 0);
	assert_int_equal(plain->where, MJOB_ASSIGNED);
	for (int i = 4; i < 8; i++)
		assert_int_equal(j[i]->where, MJOB_INQUEUE);
	char why[200];
	assert_int_equal(sched_explain(&S, j[4], why, sizeof why), 0);
	assert_string_equal(why, "waiting: all 4 GPUs busy");
	/* the job on GPU 2 ends: the next takes GPU 2 */
	int on2 = 0;
	while (mask_of(j[on2]) != 0x4)
		on2++;
	sched_finish(&S, j[on2], MJOB_COMPLETED);
	assert_true(res->gpus_free == 0x4);
	assert_int_equal(sched_dispatch(&S), 1);
	assert_int_equal(j[4]->where, MJOB_ASSIGNED);
	assert_true(mask_of(j[4]) == 0x4);
	/* a request larger than the worker: never, with the reason */
	struct mjob *huge = add(&c, 20, &(struct mjob_res){.gpus = 5});
	assert_int_equal(sched_explain(&S, huge, why, sizeof why), 1);
	assert_string_equal(why, "needs 5 GPUs; workers have at most 4");
	assert_int_equal(sched_res_never(&S, SCHED_POOL_ANY, &(struct mjob_res){.cpus = 9}, why, sizeof why), 1);
	assert_string_equal(why, "needs 9 CPUs; workers have at most 8");
	assert_int_equal(sched_res_never(&S, SCHED_POOL_ANY, &(struct mjob_res){.gpus = 4}, why, sizeof why), 0);
	/* the worker is lost: its GPUs are free again, its jobs hold none */
	sched_worker_lost(&S, &w, "w");
	assert_true(res->gpus_free == 0xf);
	assert_true(mask_of(j[0]) == 0);
	assert_int_equal(sched_res_never(&S, SCHED_POOL_ANY, &one, why, sizeof why), -1); /* none connected */
	sched_release(&S);
	sched_worker_release(&w);
	sched_client_release(&c);
	mres_worker_free(res);
}

/* A GPU job never goes into a prefetch window (its GPUs would be held by
 * a job that waits), and a worker without resources never gets one. */
static void test_sched_free_slot_only(void **st)
{
	(void)st;
	struct sched_client c;
	sched_client_init(&c);
	struct sched_worker w, bare;
	memset(&w, 0, sizeof w);
	memset(&bare, 0, sizeof bare);
	w.idx = bare.idx = UINT32_MAX;
	sched_worker_add(&S, &w, 1, 64);
	sched_worker_runtime(&w, 0);
	sched_worker_add(&S, &bare, 4, 64);
	struct mres_worker *res = gpus4();
	sched_worker_set_res(&S, &w, res);
	struct mjob *p = add(&c, 1, NULL);
	(void)p;
	struct mjob *g = add(&c, 2, &(struct mjob_res){.gpus = 1});
	sched_dispatch(&S);
	assert_int_equal(g->where, MJOB_INQUEUE); /* w's one slot is taken, bare has no GPU */
	char why[200];
	assert_int_equal(sched_explain(&S, g, why, sizeof why), 0);
	struct mjob *p2 = sched_find(&S, 1);
	sched_finish(&S, p2, MJOB_COMPLETED);
	sched_dispatch(&S);
	assert_int_equal(g->where, MJOB_ASSIGNED);
	assert_true(g->worker == &w);
	sched_release(&S);
	sched_worker_release(&w);
	sched_worker_release(&bare);
	sched_client_release(&c);
	mres_worker_free(res);
}

/* After a master restart the worker says which GPUs its held jobs run on:
 * set_res keeps those and gives the others what is left. */
static void test_sched_restore(void **st)
{
	(void)st;
	struct sched_client c;
	sched_client_init(&c);
	struct sched_worker w;
	memset(&w, 0, sizeof w);
	w.idx = UINT32_MAX;
	sched_worker_add_orphan_holder(&S, &w);
	struct mjob *a = mjob_new_res("x", 1, NULL, NULL, NULL, 0, NULL, &(struct mjob_res){.gpus = 1});
	struct mjob *b = mjob_new_res("x", 1, NULL, NULL, NULL, 0, NULL, &(struct mjob_res){.gpus = 1});
	a->id = 1, b->id = 2;
	a->client = b->client = &c;
	assert_int_equal(sched_add_assigned(&S, a, &w), 0);
	assert_int_equal(sched_add_assigned(&S, b, &w), 0);
	sched_worker_add(&S, &w, 4, 8);
	struct mres_worker *res = gpus4();
	sched_worker_set_res(&S, &w, res);
	assert_true(mask_of(a) == 0x1 && mask_of(b) == 0x2); /* not known yet: the lowest */
	/* the worker's hello: b runs on GPU 0, a on GPU 3 */
	struct mjob_res r;
	mjob_res_get(b, &r);
	r.gpu_mask = mres_gpus_mask(res, "0");
	mjob_res_put(b, &r);
	mjob_res_get(a, &r);
	r.gpu_mask = mres_gpus_mask(res, "3");
	mjob_res_put(a, &r);
	sched_worker_set_res(&S, &w, res);
	assert_true(mask_of(b) == 0x1);
	assert_true(mask_of(a) == 0x8);
	assert_true(res->gpus_free == 0x6);
	sched_release(&S);
	sched_worker_release(&w);
	sched_client_release(&c);
	mres_worker_free(res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_allocator),
		cmocka_unit_test_setup_teardown(test_sched_gpus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sched_free_slot_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sched_restore, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
