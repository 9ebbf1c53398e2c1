/* SPDX-License-Identifier: MIT */
/*
 * api_demo: drives every part of libmtslurm against a running cluster, for
 * the system tests and as a worked example of the API. Each check prints one
 * line "ok   <what>" or "FAIL <what>: <why>"; the exit status is 0 only if
 * every check passed (1 otherwise, 2 for usage).
 *
 *   api_demo [--run-dir DIR] [--poll] [--lib PATH/libsweep.so] demo
 *       callbacks, futures, map, wait, cancel, status/jobs/workers JSON,
 *       error codes and messages. Without --lib the map check is skipped.
 *   api_demo [--run-dir DIR] [--poll] bench N [BATCH]
 *       submit N echo jobs (mts_submit_batch, BATCH per call, default
 *       10,000) and wait for all N callbacks; prints
 *       "bench: submit_to_callback N jobs S s R jobs/s".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mtslurm.h"

static int failures;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long ncallbacks, ncompleted;
static char last_output[256];
static mts_client *probe_client;
static int probe_marker, probe_rc = 1;

static void check(int ok, const char *what, const char *why)
{
	if (ok) {
		printf("ok   %s\n", what);
	} else {
		printf("FAIL %s: %s\n", what, why ? why : "");
		failures++;
	}
	fflush(stdout);
}

static void on_done(const mts_result *r, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	ncallbacks++;
	if (r->state == MTS_COMPLETED)
		ncompleted++;
	if (r->output)
		snprintf(last_output, sizeof last_output, "%s", r->output);
	pthread_mutex_unlock(&mu);
	if (r->user == &probe_marker)
		probe_rc = mts_wait_all(probe_client, 1000); /* must refuse at once */
}

static long get_callbacks(void)
{
	pthread_mutex_lock(&mu);
	long n = ncallbacks;
	pthread_mutex_unlock(&mu);
	return n;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int demo(mts_client *c, const char *lib)
{
	char why[512];
	mts_job j = MTS_JOB_INIT;
	mts_job_id id = 0;

	/* One job with a callback, then wait for it. */
	j.type = "echo";
	j.input = "hello from api_demo";
	int rc = mts_submit(&id, c, &j);
	check(rc == MTS_OK && id > 0, "mts_submit echo", mts_errmsg(c));
	rc = mts_wait(c, id, 30000);
	check(rc == MTS_OK, "mts_wait", mts_errmsg(c));
	pthread_mutex_lock(&mu);
	snprintf(why, sizeof why, "callbacks %ld, output '%s'", ncallbacks, last_output);
	int ok = ncallbacks == 1 && !strcmp(last_output, "hello from api_demo");
	pthread_mutex_unlock(&mu);
	check(ok, "on_done called once with the echo output", why);
	check(mts_wait(c, id, 0) == MTS_OK, "mts_wait on a job already reported is MTS_OK", mts_errmsg(c));
	check(mts_wait(c, 999999999, 0) == MTS_EUNKNOWN_JOB, "mts_wait on a job not submitted here is MTS_EUNKNOWN_JOB",
	      NULL);

	/* A batch, each job given back its user pointer. */
	enum { NB = 1000 };
	static mts_job jobs[NB];
	static mts_job_id ids[NB];
	static char msgs[NB][16];
	for (int i = 0; i < NB; i++) {
		jobs[i] = j;
		snprintf(msgs[i], sizeof msgs[i], "m%d", i);
		jobs[i].input = msgs[i];
	}
	rc = mts_submit_batch(ids, c, jobs, NB);
	check(rc == MTS_OK && ids[NB - 1] == ids[0] + NB - 1, "mts_submit_batch 1000 jobs, consecutive ids",
	      mts_errmsg(c));
	rc = mts_wait_all(c, 60000);
	snprintf(why, sizeof why, "%s; %ld callbacks", mts_strerror(rc), get_callbacks());
	check(rc == MTS_OK && get_callbacks() == NB + 1 && mts_pending(c) == 0, "mts_wait_all: 1001 callbacks",
	      why);

	/* An exec job that fails, with cwd and env. */
	mts_future *f = NULL;
	const char *env[] = {"API_DEMO_VAR=42", NULL};
	mts_job x = MTS_JOB_INIT;
	x.type = "exec";
	x.input = "echo $API_DEMO_VAR; pwd; exit 3";
	x.cwd = "/tmp";
	x.env = env;
	rc = mts_submit_future(&f, c, &x);
	check(rc == MTS_OK, "mts_submit_future exec", mts_errmsg(c));
	if (rc == MTS_OK) {
		rc = mts_future_wait(f, 30000);
		const mts_result *r = mts_future_result(f);
		snprintf(why, sizeof why, "wait %s, state %s, rc %d, output '%s'", mts_strerror(rc),
			 r ? mts_state_name(r->state) : "-", r ? r->rc : -1, r && r->output ? r->output : "");
		check(rc == MTS_OK && mts_future_done(f) && r && r->state == MTS_FAILED && r->rc == 3 && r->output &&
			      !strcmp(r->output, "42\n/tmp\n"),
		      "future: exec failed with rc 3, env and cwd applied", why);
		mts_future_free(f);
	}

	/* Dependencies: the second runs only after the first completed. */
	mts_job_id first = 0, second = 0;
	mts_job d1 = MTS_JOB_INIT, d2 = MTS_JOB_INIT;
	d1.type = "echo";
	d1.input = "dep-1";
	d1.delay = 0.2;
	rc = mts_submit(&first, c, &d1);
	d2.type = "echo";
	d2.input = "dep-2";
	d2.deps = &first;
	d2.ndeps = 1;
	if (rc == MTS_OK)
		rc = mts_submit(&second, c, &d2);
	if (rc == MTS_OK)
		rc = mts_wait(c, second, 30000);
	check(rc == MTS_OK && mts_pending(c) == 0, "deps: a job after another", mts_errmsg(c));

	/* Cancel a long job, and an id that does not exist. */
	mts_job slow = MTS_JOB_INIT;
	slow.type = "echo";
	slow.input = "never";
	slow.delay = 600;
	mts_job_id sid = 0;
	size_t nc = 0;
	rc = mts_submit(&sid, c, &slow);
	if (rc == MTS_OK)
		rc = mts_cancel(&nc, c, &sid, 1);
	snprintf(why, sizeof why, "%s, n %zu: %s", mts_strerror(rc), nc, mts_errmsg(c));
	check(rc == MTS_OK && nc == 1, "mts_cancel one job", why);
	rc = mts_wait(c, sid, 30000);
	check(rc == MTS_OK, "the cancelled job calls back", mts_errmsg(c));
	mts_job_id bogus = 999999999;
	rc = mts_cancel(&nc, c, &bogus, 1);
	snprintf(why, sizeof why, "%s: %s", mts_strerror(rc), mts_errmsg(c));
	check(rc == MTS_EUNKNOWN_JOB && nc == 0, "mts_cancel of an unknown id is MTS_EUNKNOWN_JOB", why);

	/* A job the master refuses. */
	mts_job bad = MTS_JOB_INIT;
	bad.type = "no-such-executor";
	bad.input = "x";
	rc = mts_submit(&id, c, &bad);
	snprintf(why, sizeof why, "%s: '%s'", mts_strerror(rc), mts_errmsg(c));
	check(rc == MTS_EREJECTED && *mts_errmsg(c), "unknown type is MTS_EREJECTED with the master's reason", why);
	printf("     (mts_errmsg: %s)\n", mts_errmsg(c));
	mts_job notype = MTS_JOB_INIT;
	check(mts_submit(&id, c, &notype) == MTS_EINVAL, "a job without a type is MTS_EINVAL", NULL);

	/* Waiting from inside a callback is refused instead of hanging. */
	probe_client = c;
	mts_job p = MTS_JOB_INIT;
	p.type = "echo";
	p.input = "probe";
	p.user = &probe_marker;
	rc = mts_submit(&id, c, &p);
	if (rc == MTS_OK)
		rc = mts_wait(c, id, 30000);
	snprintf(why, sizeof why, "inner wait gave %s", mts_strerror(probe_rc));
	check(rc == MTS_OK && probe_rc == MTS_EINVAL, "mts_wait_all inside on_done is MTS_EINVAL", why);

	/* Queries. */
	char *s = NULL;
	rc = mts_status(&s, c);
	check(rc == MTS_OK && s && strstr(s, "\"workers\"") && strstr(s, "\"jobs\""), "mts_status JSON", s);
	mts_free(s);
	s = NULL;
	mts_job_id next = -1;
	rc = mts_jobs(&s, &next, c, "completed", 0, 10);
	check(rc == MTS_OK && s && s[0] == '[' && next > 0, "mts_jobs page of 10 with a next", s);
	mts_free(s);
	s = NULL;
	rc = mts_workers(&s, c);
	check(rc == MTS_OK && s && s[0] == '[', "mts_workers JSON array", s);
	mts_free(s);
	s = NULL;
	rc = mts_jobs_by_id(&s, c, &second, 1);
	check(rc == MTS_OK && s && strstr(s, "dep-2"), "mts_jobs_by_id", s);
	mts_free(s);

	/* Map over a C function. */
	if (lib) {
		char target[1024];
		snprintf(target, sizeof target, "%s:simulate", lib);
		const char *args[] = {"{\"t\":1}", "{\"t\":2}", "{\"t\":3}", "not json"};
		mts_result *res = NULL;
		rc = mts_map(&res, c, target, args, 4, 60000);
		ok = rc == MTS_OK && res;
		for (int i = 0; ok && i < 3; i++)
			ok = res[i].state == MTS_COMPLETED && res[i].output && strstr(res[i].output, "\"y\"");
		ok = ok && res[3].state == MTS_FAILED;
		snprintf(why, sizeof why, "%s; [0] %s %s; [3] %s", mts_strerror(rc),
			 res ? mts_state_name(res[0].state) : "-", res && res[0].output ? res[0].output : "",
			 res ? mts_state_name(res[3].state) : "-");
		check(ok, "mts_map: three results in order, a bad argument fails", why);
		if (res)
			printf("     (map: %s -> %s)\n", args[1], res[1].output ? res[1].output : "");
		mts_map_free(res, 4);
	}

	/* Errors that need no master. */
	check(mts_strerror(-12345) && mts_strerror(MTS_ETIMEDOUT), "mts_strerror never NULL", NULL);
	check(mts_errmsg(NULL) != NULL, "mts_errmsg(NULL) not NULL", NULL);
	mts_client *none = NULL;
	rc = mts_connect(&none, "/nonexistent/mtslurm-run", NULL);
	snprintf(why, sizeof why, "%s: %s", mts_strerror(rc), mts_errmsg(none));
	check(rc == MTS_ENOMASTER && strstr(mts_errmsg(none), "master.json"),
	      "mts_connect without a cluster is MTS_ENOMASTER", why);
	printf("     (mts_errmsg: %s)\n", mts_errmsg(none));
	mts_close(none);
	mts_close(NULL);
	return failures ? 1 : 0;
}

static int bench(mts_client *c, long n, long batch)
{
	mts_job *jobs = calloc((size_t)batch, sizeof *jobs);
	if (!jobs)
		return 1;
	mts_job init = MTS_JOB_INIT;
	for (long i = 0; i < batch; i++) {
		jobs[i] = init;
		jobs[i].type = "echo";
		jobs[i].input = "x";
	}
	double t0 = now_s();
	for (long done = 0; done < n;) {
		long k = n - done < batch ? n - done : batch;
		int rc = mts_submit_batch(NULL, c, jobs, (size_t)k);
		if (rc) {
			fprintf(stderr, "api_demo: submit: %s\n", mts_errmsg(c));
			free(jobs);
			return 1;
		}
		done += k;
	}
	double t1 = now_s();
	int rc = mts_wait_all(c, 600000);
	double t2 = now_s();
	free(jobs);
	if (rc || get_callbacks() != n) {
		fprintf(stderr, "api_demo: wait: %s; %ld of %ld callbacks\n", mts_errmsg(c), get_callbacks(), n);
		return 1;
	}
	printf("bench: submit_ack %ld jobs %.3f s %.0f jobs/s\n", n, t1 - t0, (double)n / (t1 - t0));
	printf("bench: submit_to_callback %ld jobs %.3f s %.0f jobs/s\n", n, t2 - t0, (double)n / (t2 - t0));
	return 0;
}

int main(int argc, char **argv)
{
	const char *run_dir = NULL, *lib = NULL, *cmd = NULL;
	int poll = 0;
	long n = 100000, batch = 10000;
	int i = 1;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--run-dir") && i + 1 < argc)
			run_dir = argv[++i];
		else if (!strcmp(argv[i], "--lib") && i + 1 < argc)
			lib = argv[++i];
		else if (!strcmp(argv[i], "--poll"))
			poll = 1;
		else
			break;
	}
	if (i < argc)
		cmd = argv[i++];
	if (cmd && !strcmp(cmd, "bench") && i < argc)
		n = atol(argv[i++]);
	if (cmd && !strcmp(cmd, "bench") && i < argc)
		batch = atol(argv[i++]);
	if (!cmd || (strcmp(cmd, "demo") && strcmp(cmd, "bench")) || i < argc || n <= 0 || batch <= 0) {
		fprintf(stderr, "usage: api_demo [--run-dir DIR] [--poll] [--lib libsweep.so] demo\n"
				"       api_demo [--run-dir DIR] [--poll] bench N [BATCH]\n");
		return 2;
	}

	mts_options o = MTS_OPTIONS_INIT;
	o.mode = poll ? MTS_POLL : MTS_THREAD;
	o.on_done = on_done;
	o.name = "api_demo";
	mts_client *c = NULL;
	int rc = mts_connect(&c, run_dir, &o);
	if (rc != MTS_OK) {
		fprintf(stderr, "api_demo: %s (%s)\n", mts_errmsg(c), mts_strerror(rc));
		mts_close(c);
		return 1;
	}
	if (!strcmp(cmd, "demo")) {
		check(mts_poll(c, 0) == (poll ? 0 : MTS_EINVAL), poll ? "mts_poll: nothing yet" : "mts_poll in thread mode is MTS_EINVAL", NULL);
		rc = demo(c, lib);
		printf("%s: %d failed\n", failures ? "FAIL" : "ok", failures);
	} else {
		rc = bench(c, n, batch);
	}
	mts_close(c);
	return rc;
}
