/* SPDX-License-Identifier: MIT */
/*
 * bench_nb: throughput of echo jobs submitted the way simulation codes do,
 * one mts_submit_nb call per job in a plain loop from one thread, through a
 * running cluster: from the first call to the last callback (as bench_echo
 * times its batches). Prints "rate JOBS_PER_S elapsed S submit_s S" (the
 * last: how long the loop of calls itself took).
 *   bench_nb N
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mtslurm.h"

static atomic_long ndone;

static void done(const mts_result *r, void *arg)
{
	(void)arg;
	if (r->state == MTS_COMPLETED)
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
	long n = argc > 1 ? atol(argv[1]) : 100000;
	if (n <= 0) {
		fprintf(stderr, "usage: bench_nb N\n");
		return 2;
	}
	mts_options o = MTS_OPTIONS_INIT;
	o.on_done = done;
	o.timeout_ms = 600000;
	mts_client *c;
	if (mts_connect(&c, NULL, &o)) {
		fprintf(stderr, "bench_nb: %s\n", mts_errmsg(c));
		return 1;
	}
	mts_job j = MTS_JOB_INIT;
	j.type = "echo";
	j.input = "x";
	double t0 = now();
	for (long i = 0; i < n; i++) {
		if (mts_submit_nb(NULL, c, &j)) {
			fprintf(stderr, "bench_nb: %s\n", mts_errmsg(c));
			return 1;
		}
	}
	double ts = now() - t0;
	if (mts_flush(c, 600000) || mts_wait_all(c, 600000)) {
		fprintf(stderr, "bench_nb: %s (%ld of %ld done)\n", mts_errmsg(c), atomic_load(&ndone), n);
		return 1;
	}
	double dt = now() - t0;
	if (atomic_load(&ndone) != n) {
		fprintf(stderr, "bench_nb: %ld of %ld jobs completed\n", atomic_load(&ndone), n);
		return 1;
	}
	printf("rate %.0f elapsed %.3f submit_s %.3f\n", (double)n / dt, dt, ts);
	mts_close(c);
	return 0;
}
