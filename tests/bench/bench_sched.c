/* SPDX-License-Identifier: MIT */
/*
 * bench_sched: the master's scheduler alone (master/sched.c, no I/O), as
 * the master drives it: N echo-like jobs of 4 clients are added, then each
 * turn runs sched_dispatch, sched_preempt and sched_steal, and every worker
 * finishes all it holds (run time 0, so windows stay full). Prints one
 * "bench: NAME VALUE UNIT" line per figure: ns per job spent adding, in the
 * dispatch trio, and finishing. Usage: bench_sched [N] [WORKERS] [POOLS]:
 * with POOLS > 1 (at most 4) client i is in pool i % POOLS and every worker
 * serves all POOLS pools (typed jobs); 1, the default, is the plain pool.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sched.h"

#define CLIENTS 4

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	long nw = argc > 2 ? atol(argv[2]) : 8;
	long np = argc > 3 ? atol(argv[3]) : 1;
	if (n <= 0 || nw <= 0 || nw > 4096 || np < 1 || np > CLIENTS) {
		fprintf(stderr, "usage: bench_sched [JOBS>0] [WORKERS 1..4096] [POOLS 1..%d]\n", CLIENTS);
		return 2;
	}
	const uint32_t pools[CLIENTS] = {0, 1, 2, 3};
	struct sched s;
	sched_init(&s, NULL);
	struct sched_client c[CLIENTS];
	for (int i = 0; i < CLIENTS; i++) {
		sched_client_init(&c[i]);
		c[i].pool = (uint32_t)(i % np);
	}
	struct sched_worker *w = calloc((size_t)nw, sizeof *w);
	if (!w)
		return 1;
	for (long i = 0; i < nw; i++) {
		w[i].idx = UINT32_MAX;
		sched_worker_add(&s, &w[i], 4, 64);
		sched_worker_runtime(&w[i], 0);
		if (np > 1 && sched_worker_set_pools(&s, &w[i], pools, (size_t)np))
			return 1;
	}
	double t0 = now_ns();
	for (long id = 1; id <= n; id++) {
		struct mjob *j = mjob_new("x", 1, NULL, NULL, NULL, 0, NULL);
		if (!j)
			return 1;
		j->id = id;
		j->client = &c[id % CLIENTS];
		if (sched_add(&s, j))
			return 1;
	}
	double t_add = now_ns() - t0, t_disp = 0, t_fin = 0;
	long turns = 0;
	while (s.nlive) {
		double a = now_ns();
		size_t got = sched_dispatch(&s);
		sched_preempt(&s);
		sched_steal(&s);
		double b = now_ns();
		for (long i = 0; i < nw; i++) {
			while (w[i].head) {
				sched_worker_runtime(&w[i], 0);
				sched_finish(&s, w[i].head, MJOB_COMPLETED);
			}
		}
		t_fin += now_ns() - b;
		t_disp += b - a;
		turns++;
		if (!got) {
			fprintf(stderr, "bench_sched: a turn assigned nothing with %llu jobs live\n",
				(unsigned long long)s.nlive);
			return 1;
		}
	}
	printf("bench: sched_add_ns_per_job %.1f ns\n", t_add / (double)n);
	printf("bench: sched_dispatch_ns_per_job %.1f ns\n", t_disp / (double)n);
	printf("bench: sched_finish_ns_per_job %.1f ns\n", t_fin / (double)n);
	printf("turns %ld, workers %ld, pools %ld\n", turns, nw, np);
	sched_release(&s);
	for (int i = 0; i < CLIENTS; i++)
		sched_client_release(&c[i]);
	for (long i = 0; i < nw; i++)
		sched_worker_release(&w[i]);
	free(w);
	return 0;
}
