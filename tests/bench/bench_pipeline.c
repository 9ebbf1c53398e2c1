/* SPDX-License-Identifier: MIT */
/*
 * bench_pipeline: throughput of a 3-stage pipeline of tiny stages (echo
 * jobs: each answers its item, which becomes the next stage's item) through
 * a running cluster. Starts one pipeline with N items, polls its status
 * every 10 ms until it has ended, checks that all N items went through the
 * last stage. Prints "rate ITEMS_PER_S elapsed S".
 *   bench_pipeline N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mtslurm.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000;
	if (n < 1)
		return fprintf(stderr, "usage: bench_pipeline N\n"), 2;
	size_t cap = (size_t)n * 12 + 512;
	char *spec = malloc(cap);
	if (!spec)
		return 1;
	size_t k = (size_t)snprintf(spec, cap, "{\"name\":\"bench\",\"input\":[");
	for (long i = 0; i < n; i++)
		k += (size_t)snprintf(spec + k, cap - k, "%s%ld", i ? "," : "", i);
	/* instances far above the workers' slots: the limit is not what is measured */
	snprintf(spec + k, cap - k,
		 "],\"stages\":[{\"name\":\"a\",\"echo\":true,\"instances\":100000},"
		 "{\"name\":\"b\",\"echo\":true,\"instances\":100000},{\"name\":\"c\",\"echo\":true,\"instances\":100000}]}");
	mts_client *c;
	mts_options o = MTS_OPTIONS_INIT;
	o.timeout_ms = 600000;
	if (mts_connect(&c, NULL, &o) != MTS_OK)
		return fprintf(stderr, "bench_pipeline: %s\n", mts_errmsg(c)), 1;
	double t0 = now();
	int64_t id;
	if (mts_pipeline_run(&id, c, spec) != MTS_OK)
		return fprintf(stderr, "bench_pipeline: %s\n", mts_errmsg(c)), 1;
	free(spec);
	char *st = NULL;
	for (;;) {
		if (mts_pipeline_status(&st, c, id) != MTS_OK)
			return fprintf(stderr, "bench_pipeline: %s\n", mts_errmsg(c)), 1;
		if (!strstr(st, "\"state\":\"running\""))
			break;
		mts_free(st);
		struct timespec d = {0, 10000000};
		nanosleep(&d, NULL);
	}
	double dt = now() - t0;
	char want[64];
	snprintf(want, sizeof want, "\"done\":%ld", n);
	const char *last = strstr(st, "\"name\":\"c\"");
	if (!strstr(st, "\"state\":\"completed\"") || !last || !strstr(last, want))
		return fprintf(stderr, "bench_pipeline: the pipeline did not complete %ld items: %s\n", n, st), 1;
	mts_free(st);
	mts_close(c);
	printf("rate %.0f elapsed %.3f\n", (double)n / dt, dt);
	return 0;
}
