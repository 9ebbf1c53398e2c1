/* SPDX-License-Identifier: MIT */
/*
 * prio_client: one client (one handle, so one fair-share queue) that submits
 * N echo jobs and then, in a second submit behind them, one job with a
 * higher priority -- the priority scenario of t0250. Prints "bulk FIRST LAST"
 * and "prio ID" and exits without waiting: the jobs stay with the master.
 *   prio_client --jobs N [--delay S] [--prio P]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtslurm.h"

int main(int argc, char **argv)
{
	long n = 300;
	double delay = 0.3;
	int prio = 100;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--jobs") && i + 1 < argc) {
			n = atol(argv[++i]);
		} else if (!strcmp(argv[i], "--delay") && i + 1 < argc) {
			delay = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--prio") && i + 1 < argc) {
			prio = atoi(argv[++i]);
		} else {
			fprintf(stderr, "prio_client: unknown argument %s; usage: prio_client --jobs N [--delay S] [--prio P]\n",
				argv[i]);
			return 2;
		}
	}
	if (n <= 0) {
		fprintf(stderr, "prio_client: --jobs wants a number > 0\n");
		return 2;
	}
	mts_options o = MTS_OPTIONS_INIT;
	mts_client *c;
	if (mts_connect(&c, NULL, &o)) {
		fprintf(stderr, "prio_client: %s\n", mts_errmsg(c));
		return 1;
	}
	mts_job *jobs = calloc((size_t)n, sizeof *jobs);
	mts_job_id *ids = calloc((size_t)n, sizeof *ids);
	if (!jobs || !ids) {
		fprintf(stderr, "prio_client: out of memory\n");
		return 1;
	}
	mts_job init = MTS_JOB_INIT;
	for (long i = 0; i < n; i++) {
		jobs[i] = init;
		jobs[i].type = "echo";
		jobs[i].input = "bulk";
		jobs[i].delay = delay;
	}
	mts_job hi = init;
	hi.type = "echo";
	hi.input = "prio";
	hi.delay = delay;
	hi.prio = prio;
	mts_job_id hid = 0;
	if (mts_submit_batch(ids, c, jobs, (size_t)n) || mts_submit_batch(&hid, c, &hi, 1)) {
		fprintf(stderr, "prio_client: %s\n", mts_errmsg(c));
		return 1;
	}
	printf("bulk %lld %lld\nprio %lld\n", (long long)ids[0], (long long)ids[n - 1], (long long)hid);
	mts_close(c);
	free(jobs);
	free(ids);
	return 0;
}
