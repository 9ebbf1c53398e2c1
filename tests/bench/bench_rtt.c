/* SPDX-License-Identifier: MIT */
/*
 * bench_rtt: single-job round trip -- submit one echo job, wait for its
 * callback, repeat N times -- in MTS_POLL mode (no thread hand-offs in the
 * client). Prints "median US p99 US max US".
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mtslurm.h"

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void noop(const mts_result *r, void *arg)
{
	(void)r;
	(void)arg;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	if (n <= 0)
		return 2;
	mts_options o = MTS_OPTIONS_INIT;
	o.mode = MTS_POLL;
	o.on_done = noop;
	mts_client *c;
	if (mts_connect(&c, NULL, &o)) {
		fprintf(stderr, "bench_rtt: %s\n", mts_errmsg(c));
		return 1;
	}
	double *t = calloc((size_t)n, sizeof *t);
	mts_job j = MTS_JOB_INIT;
	j.type = "echo";
	j.input = "ping";
	for (int i = 0; i < n; i++) {
		double a = now_us();
		mts_job_id id;
		if (mts_submit(&id, c, &j) || mts_wait(c, id, 10000)) {
			fprintf(stderr, "bench_rtt: %s\n", mts_errmsg(c));
			return 1;
		}
		t[i] = now_us() - a;
	}
	qsort(t, (size_t)n, sizeof *t, cmp);
	printf("median %.0f p99 %.0f max %.0f\n", t[n / 2], t[(size_t)((double)n * 0.99)], t[n - 1]);
	free(t);
	mts_close(c);
	return 0;
}
