/* SPDX-License-Identifier: MIT */
/*
 * bench_echo: throughput of echo jobs through a running cluster. Submits N
 * jobs in batches (each acknowledged only once durable) and waits for the
 * last callback. Prints "rate JOBS_PER_S elapsed S".
 *   bench_echo N [--no-wait] [--batch B]
 * --no-wait: only submit (for filling a master with queued jobs); the rate is
 * then acknowledged jobs per second.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mtslurm.h"

static atomic_long ndone;

static void done(const mts_result *r, void *arg)
{
	(void)r;
	(void)arg;
	atomic_fetch_add(&ndone, 1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000, batch = 100000;
	int nowait = 0;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--no-wait"))
			nowait = 1;
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			batch = atol(argv[++i]);
	}
	if (n <= 0 || batch <= 0) {
		fprintf(stderr, "usage: bench_echo N [--no-wait] [--batch B]\n");
		return 2;
	}
	mts_options o = MTS_OPTIONS_INIT;
	o.on_done = nowait ? NULL : done;
	o.timeout_ms = 600000;
	mts_client *c;
	if (mts_connect(&c, NULL, &o)) {
		fprintf(stderr, "bench_echo: %s\n", mts_errmsg(c));
		return 1;
	}
	mts_job *jobs = calloc((size_t)batch, sizeof *jobs);
	mts_job init = MTS_JOB_INIT;
	for (long i = 0; i < batch; i++) {
		jobs[i] = init;
		jobs[i].type = "echo";
		jobs[i].input = "x";
	}
	double t0 = now();
	for (long sent = 0; sent < n;) {
		long k = n - sent < batch ? n - sent : batch;
		if (mts_submit_batch(NULL, c, jobs, (size_t)k)) {
			fprintf(stderr, "bench_echo: %s\n", mts_errmsg(c));
			return 1;
		}
		sent += k;
	}
	if (!nowait && mts_wait_all(c, 600000)) {
		fprintf(stderr, "bench_echo: %s (%ld of %ld done)\n", mts_errmsg(c), atomic_load(&ndone), n);
		return 1;
	}
	double dt = now() - t0;
	printf("rate %.0f elapsed %.3f\n", (double)n / dt, dt);
	mts_close(c);
	free(jobs);
	return 0;
}
