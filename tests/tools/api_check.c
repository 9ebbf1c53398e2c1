/* SPDX-License-Identifier: MIT */
/*
 * api_check: drives libmtslurm against a running local cluster and checks
 * what a C program relies on -- callbacks with outputs and user pointers,
 * rejected submits with the reason, futures, map, MTS_POLL mode delivering
 * callbacks only inside mts_poll, cancel, dependencies, fair share between
 * two clients, submitting from inside a callback, and the error for a
 * cluster that is not there. Prints "ok NAME" per check; exits 1 at the
 * first failure with "FAIL NAME: why".
 *   api_check LIBSWEEP.so
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtslurm.h"

#define CHECK(name, cond, ...)                                                                             \
	do {                                                                                               \
		if (!(cond)) {                                                                             \
			printf("FAIL %s: ", name);                                                         \
			printf(__VA_ARGS__);                                                               \
			printf("\n");                                                                      \
			exit(1);                                                                           \
		}                                                                                          \
	} while (0)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int ncb, nbad;
static pthread_t cb_thread;

static void count_cb(const mts_result *r, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	ncb++;
	char want[32];
	snprintf(want, sizeof want, "msg-%ld", (long)(intptr_t)r->user);
	if (r->state != MTS_COMPLETED || !r->output || strcmp(r->output, want))
		nbad++;
	cb_thread = pthread_self();
	pthread_mutex_unlock(&mu);
}

static mts_client *connect_or_die(mts_options *o)
{
	mts_client *c;
	int rc = mts_connect(&c, NULL, o);
	CHECK("connect", rc == MTS_OK, "%s", mts_errmsg(c));
	return c;
}

static void check_callbacks(void)
{
	mts_options o = MTS_OPTIONS_INIT;
	o.on_done = count_cb;
	mts_client *c = connect_or_die(&o);
	enum { N = 200 };
	mts_job jobs[N];
	char msgs[N][32];
	mts_job_id ids[N];
	mts_job init = MTS_JOB_INIT;
	for (int i = 0; i < N; i++) {
		jobs[i] = init;
		jobs[i].type = "echo";
		snprintf(msgs[i], sizeof msgs[i], "msg-%d", i);
		jobs[i].input = msgs[i];
		jobs[i].user = (void *)(intptr_t)i;
	}
	CHECK("submit_batch", mts_submit_batch(ids, c, jobs, N) == MTS_OK, "%s", mts_errmsg(c));
	for (int i = 1; i < N; i++)
		CHECK("submit_batch", ids[i] == ids[i - 1] + 1, "ids not consecutive");
	CHECK("wait_all", mts_wait_all(c, 30000) == MTS_OK, "%s", mts_errmsg(c));
	CHECK("callbacks", ncb == N && nbad == 0, "%d callbacks, %d wrong", ncb, nbad);
	CHECK("callbacks", !pthread_equal(cb_thread, pthread_self()), "thread mode called back on the caller");
	CHECK("pending", mts_pending(c) == 0, "%zu pending", mts_pending(c));
	printf("ok callbacks\n");

	mts_job bad = MTS_JOB_INIT;
	bad.type = "teleport";
	bad.input = "x";
	mts_job_id id;
	int rc = mts_submit(&id, c, &bad);
	CHECK("rejected", rc == MTS_EREJECTED, "rc %d", rc);
	CHECK("rejected", strstr(mts_errmsg(c), "teleport") != NULL, "errmsg: %s", mts_errmsg(c));
	CHECK("unknown wait", mts_wait(c, 999999999, 100) == MTS_EUNKNOWN_JOB, "wait on unknown id");
	printf("ok rejected\n");
	mts_close(c);
}

static void check_future_map(const char *lib)
{
	mts_client *c = connect_or_die(NULL);
	mts_job j = MTS_JOB_INIT;
	j.type = "exec";
	j.input = "echo fut-$X";
	const char *env[] = {"X=42", NULL};
	j.env = env;
	mts_future *f;
	CHECK("future", mts_submit_future(&f, c, &j) == MTS_OK, "%s", mts_errmsg(c));
	CHECK("future", mts_future_wait(f, 30000) == MTS_OK, "%s", mts_errmsg(c));
	const mts_result *r = mts_future_result(f);
	CHECK("future", r && r->state == MTS_COMPLETED && r->output && !strcmp(r->output, "fut-42\n"),
	      "result %s", r && r->output ? r->output : "(none)");
	CHECK("future", mts_future_id(f) > 0 && mts_future_done(f), "id/done");
	mts_future_free(f);
	printf("ok future\n");

	char target[1024];
	snprintf(target, sizeof target, "%s:simulate", lib);
	const char *args[] = {"{\"t\":1}", "{\"t\":2}", "{\"t\":3}", "{\"t\":4}", "{\"t\":5}"};
	mts_result *res;
	CHECK("map", mts_map(&res, c, target, args, 5, 30000) == MTS_OK, "%s", mts_errmsg(c));
	for (int i = 0; i < 5; i++) {
		char want[32];
		snprintf(want, sizeof want, "\"t\":%d", i + 1);
		CHECK("map", res[i].state == MTS_COMPLETED && res[i].output && strstr(res[i].output, want),
		      "result %d: %s", i, res[i].output ? res[i].output : res[i].error);
	}
	mts_map_free(res, 5);
	printf("ok map\n");
	mts_close(c);
}

static int npoll;
static void poll_cb(const mts_result *r, void *arg)
{
	(void)r;
	(void)arg;
	npoll++;
}

static void check_poll(void)
{
	mts_options o = MTS_OPTIONS_INIT;
	o.mode = MTS_POLL;
	o.on_done = poll_cb;
	mts_client *c = connect_or_die(&o);
	mts_job jobs[50];
	mts_job init = MTS_JOB_INIT;
	for (int i = 0; i < 50; i++) {
		jobs[i] = init;
		jobs[i].type = "echo";
		jobs[i].input = "p";
	}
	CHECK("poll", mts_submit_batch(NULL, c, jobs, 50) == MTS_OK, "%s", mts_errmsg(c));
	usleep(500000);
	CHECK("poll", npoll == 0, "%d callbacks without polling", npoll);
	for (int i = 0; i < 300 && npoll < 50; i++)
		CHECK("poll", mts_poll(c, 100) >= 0, "poll error");
	CHECK("poll", npoll == 50, "%d of 50 callbacks after polling", npoll);
	printf("ok poll\n");
	mts_close(c);
}

static int cancelled_seen;
static void cancel_cb(const mts_result *r, void *arg)
{
	(void)arg;
	if (r->state == MTS_CANCELLED)
		cancelled_seen++;
}

static void check_cancel_deps(void)
{
	mts_options o = MTS_OPTIONS_INIT;
	o.on_done = cancel_cb;
	mts_client *c = connect_or_die(&o);
	mts_job j = MTS_JOB_INIT;
	j.type = "echo";
	j.input = "slow";
	j.delay = 30;
	mts_job_id id;
	CHECK("cancel", mts_submit(&id, c, &j) == MTS_OK, "%s", mts_errmsg(c));
	size_t n = 0;
	CHECK("cancel", mts_cancel(&n, c, &id, 1) == MTS_OK && n == 1, "n=%zu: %s", n, mts_errmsg(c));
	CHECK("cancel", mts_wait(c, id, 10000) == MTS_OK && cancelled_seen == 1, "no cancelled callback");
	mts_job_id nosuch = 999999999;
	CHECK("cancel", mts_cancel(&n, c, &nosuch, 1) == MTS_EUNKNOWN_JOB, "unknown id accepted");
	printf("ok cancel\n");
	mts_close(c);

	c = connect_or_die(NULL);
	mts_job a = MTS_JOB_INIT, b = MTS_JOB_INIT;
	a.type = "exec";
	a.input = "exit 1";
	mts_future *fa, *fb;
	CHECK("deps", mts_submit_future(&fa, c, &a) == MTS_OK, "%s", mts_errmsg(c));
	mts_job_id dep = mts_future_id(fa);
	b.type = "echo";
	b.input = "never";
	b.deps = &dep;
	b.ndeps = 1;
	CHECK("deps", mts_submit_future(&fb, c, &b) == MTS_OK, "%s", mts_errmsg(c));
	CHECK("deps", mts_future_wait(fb, 30000) == MTS_OK, "%s", mts_errmsg(c));
	const mts_result *rb = mts_future_result(fb);
	CHECK("deps", rb->state == MTS_FAILED && rb->error && strstr(rb->error, "dependency"),
	      "dependent of a failed job: %s %s", mts_state_name(rb->state), rb->error ? rb->error : "");
	mts_future_free(fa);
	mts_future_free(fb);
	printf("ok deps\n");
	mts_close(c);
}

/* Fair share: B's few jobs do not wait behind all of A's many. */
static int a_done, b_done, a_at_b_end = -1;
static void a_cb(const mts_result *r, void *arg)
{
	(void)r;
	(void)arg;
	pthread_mutex_lock(&mu);
	a_done++;
	pthread_mutex_unlock(&mu);
}
static void b_cb(const mts_result *r, void *arg)
{
	(void)r;
	(void)arg;
	pthread_mutex_lock(&mu);
	if (++b_done == 10)
		a_at_b_end = a_done;
	pthread_mutex_unlock(&mu);
}

static void check_fair_share(void)
{
	mts_options oa = MTS_OPTIONS_INIT, ob = MTS_OPTIONS_INIT;
	oa.on_done = a_cb;
	ob.on_done = b_cb;
	mts_client *a = connect_or_die(&oa), *b = connect_or_die(&ob);
	enum { NA = 600 };
	static mts_job ja[NA];
	mts_job init = MTS_JOB_INIT;
	for (int i = 0; i < NA; i++) {
		ja[i] = init;
		ja[i].type = "echo";
		ja[i].input = "a";
		ja[i].delay = 0.005;
	}
	CHECK("fair share", mts_submit_batch(NULL, a, ja, NA) == MTS_OK, "%s", mts_errmsg(a));
	mts_job jb[10];
	for (int i = 0; i < 10; i++) {
		jb[i] = ja[0];
		jb[i].input = "b";
	}
	CHECK("fair share", mts_submit_batch(NULL, b, jb, 10) == MTS_OK, "%s", mts_errmsg(b));
	CHECK("fair share", mts_wait_all(b, 60000) == MTS_OK, "%s", mts_errmsg(b));
	CHECK("fair share", mts_wait_all(a, 60000) == MTS_OK, "%s", mts_errmsg(a));
	CHECK("fair share", a_at_b_end >= 0 && a_at_b_end < NA * 2 / 3,
	      "client B finished after %d of A's %d jobs (FIFO would be %d)", a_at_b_end, NA, NA);
	printf("ok fair share (B done after %d of A's %d)\n", a_at_b_end, NA);
	mts_close(a);
	mts_close(b);
}

/* A callback may submit more work (a pipeline stage). */
static mts_client *chain_c;
static int chain_left = 5, chain_err;
static void chain_cb(const mts_result *r, void *arg)
{
	(void)r;
	(void)arg;
	if (--chain_left <= 0)
		return;
	mts_job j = MTS_JOB_INIT;
	j.type = "echo";
	j.input = "next";
	mts_job_id id;
	if (mts_submit(&id, chain_c, &j) != MTS_OK)
		chain_err++;
}

static void check_chain(void)
{
	mts_options o = MTS_OPTIONS_INIT;
	o.on_done = chain_cb;
	chain_c = connect_or_die(&o);
	mts_job j = MTS_JOB_INIT;
	j.type = "echo";
	j.input = "first";
	mts_job_id id;
	CHECK("chain", mts_submit(&id, chain_c, &j) == MTS_OK, "%s", mts_errmsg(chain_c));
	for (int i = 0; i < 200 && chain_left > 0; i++)
		usleep(50000);
	CHECK("chain", mts_wait_all(chain_c, 10000) == MTS_OK && chain_left == 0 && !chain_err,
	      "chain stopped with %d left, %d errors", chain_left, chain_err);
	printf("ok submit from a callback\n");
	mts_close(chain_c);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: api_check LIBSWEEP.so\n");
		return 2;
	}
	check_callbacks();
	check_future_map(argv[1]);
	check_poll();
	check_cancel_deps();
	check_fair_share();
	check_chain();

	mts_client *c;
	int rc = mts_connect(&c, "/nonexistent/mtslurm-run", NULL);
	CHECK("no cluster", rc == MTS_ENOMASTER && strstr(mts_errmsg(c), "mtslurm start"), "rc %d: %s", rc,
	      mts_errmsg(c));
	mts_close(c);
	mts_close(NULL);
	printf("ok no cluster\n");
	return 0;
}
