/* SPDX-License-Identifier: MIT */
/*
 * bench_func: function jobs (LIB.so:function, default the sample library's
 * simulate) submitted at once; prints "rate JOBS_PER_S elapsed S" from the
 * first submit to the last callback. Each job is one call in a worker's
 * function host (docs/worker.md), so this measures the round trip worker ->
 * host -> worker on top of the scheduling path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mtslurm.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long failed;

static void count(const mts_result *r, void *arg)
{
	(void)arg;
	if (r->state != MTS_COMPLETED && failed++ < 5)
		fprintf(stderr, "bench_func: job %lld %s: %s\n", (long long)r->id, mts_state_name(r->state),
			r->error ? r->error : "");
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000;
	const char *target = argc > 2 ? argv[2] : NULL;
	if (n <= 0 || !target) {
		fprintf(stderr, "usage: bench_func N /abs/path/lib.so:function [INPUT_JSON]\n");
		return 2;
	}
	const char *input = argc > 3 ? argv[3] : "{\"t\":0.5}";
	mts_options o = MTS_OPTIONS_INIT;
	o.on_done = count;
	o.timeout_ms = 600000;
	mts_client *c;
	if (mts_connect(&c, NULL, &o)) {
		fprintf(stderr, "bench_func: %s\n", mts_errmsg(c));
		return 1;
	}
	mts_job *jobs = calloc((size_t)n, sizeof *jobs);
	if (!jobs)
		return 1;
	mts_job init = MTS_JOB_INIT;
	for (long i = 0; i < n; i++) {
		jobs[i] = init;
		jobs[i].type = "func";
		jobs[i].target = target;
		jobs[i].input = input;
	}
	double t0 = now();
	if (mts_submit_batch(NULL, c, jobs, (size_t)n) || mts_wait_all(c, 600000)) {
		fprintf(stderr, "bench_func: %s\n", mts_errmsg(c));
		return 1;
	}
	double dt = now() - t0;
	printf("rate %.0f elapsed %.3f\n", (double)n / dt, dt);
	mts_close(c);
	free(jobs);
	return failed ? 1 : 0;
}
