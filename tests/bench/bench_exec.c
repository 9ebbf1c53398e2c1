/* SPDX-License-Identifier: MIT */
/*
 * bench_exec: exec jobs running `true`, submitted at once; prints
 * "rate JOBS_PER_S elapsed S" from the first submit to the last callback.
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

static void noop(const mts_result *r, void *arg)
{
	(void)arg;
	if (r->state != MTS_COMPLETED)
		fprintf(stderr, "bench_exec: job %lld %s: %s\n", (long long)r->id, mts_state_name(r->state),
			r->error ? r->error : "");
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000;
	const char *cmd = argc > 2 ? argv[2] : "true";
	mts_options o = MTS_OPTIONS_INIT;
	o.on_done = noop;
	o.timeout_ms = 600000;
	mts_client *c;
	if (n <= 0 || mts_connect(&c, NULL, &o)) {
		fprintf(stderr, "bench_exec: %s\n", n <= 0 ? "usage: bench_exec N [CMD]" : mts_errmsg(c));
		return 1;
	}
	mts_job *jobs = calloc((size_t)n, sizeof *jobs);
	mts_job init = MTS_JOB_INIT;
	for (long i = 0; i < n; i++) {
		jobs[i] = init;
		jobs[i].type = "exec";
		jobs[i].input = cmd;
	}
	double t0 = now();
	if (mts_submit_batch(NULL, c, jobs, (size_t)n) || mts_wait_all(c, 600000)) {
		fprintf(stderr, "bench_exec: %s\n", mts_errmsg(c));
		return 1;
	}
	double dt = now() - t0;
	printf("rate %.0f elapsed %.3f\n", (double)n / dt, dt);
	mts_close(c);
	free(jobs);
	return 0;
}
