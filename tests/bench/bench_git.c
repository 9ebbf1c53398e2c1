/* SPDX-License-Identifier: MIT */
/*
 * bench_git: N exec jobs running CMD (default `true`) in a checkout of URL
 * at COMMIT (the "git" option), against N plain exec jobs of the same
 * command, in the same cluster, alternated twice: plain, git (a cold cache:
 * the one clone and checkout happen now), plain, git (warm). Prints
 * "first_ms F git_rate G plain_rate P" -- F the time from the cold git
 * submit to its first job's result (the checkout included), G and P the
 * jobs/s of git and plain jobs (the mean of the two runs of each, from
 * submit to the last result).
 */
#include <stdatomic.h>
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

static _Atomic double first_at;
static atomic_long failed;

static void on_done(const mts_result *r, void *arg)
{
	(void)arg;
	double zero = 0;
	atomic_compare_exchange_strong(&first_at, &zero, now());
	if (r->state != MTS_COMPLETED && atomic_fetch_add(&failed, 1) < 3)
		fprintf(stderr, "bench_git: job %lld %s: %s\n", (long long)r->id, mts_state_name(r->state),
			r->error ? r->error : "");
}

/* Submit n jobs like tmpl and wait for all; the seconds it took. */
static double run(mts_client *c, mts_job *jobs, long n, const mts_job *tmpl, double *first_s)
{
	for (long i = 0; i < n; i++)
		jobs[i] = *tmpl;
	atomic_store(&first_at, 0);
	double t0 = now();
	if (mts_submit_batch(NULL, c, jobs, (size_t)n) || mts_wait_all(c, 600000)) {
		fprintf(stderr, "bench_git: %s\n", mts_errmsg(c));
		exit(1);
	}
	double dt = now() - t0;
	if (first_s)
		*first_s = atomic_load(&first_at) - t0;
	return dt;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: bench_git N URL COMMIT [CMD]\n");
		return 2;
	}
	long n = atol(argv[1]);
	mts_options o = MTS_OPTIONS_INIT;
	o.on_done = on_done;
	o.timeout_ms = 600000;
	mts_client *c;
	if (n <= 0 || mts_connect(&c, NULL, &o)) {
		fprintf(stderr, "bench_git: %s\n", n <= 0 ? "N must be positive" : mts_errmsg(c));
		return 1;
	}
	mts_git g = {argv[2], argv[3], NULL, NULL, NULL};
	mts_job plain = MTS_JOB_INIT, git = MTS_JOB_INIT;
	plain.type = git.type = "exec";
	plain.input = git.input = argc > 4 ? argv[4] : "true";
	git.git = &g;
	mts_job *jobs = calloc((size_t)n, sizeof *jobs);
	if (!jobs)
		return 1;
	double first = 0;
	double p1 = run(c, jobs, n, &plain, NULL);
	double g1 = run(c, jobs, n, &git, &first);
	double p2 = run(c, jobs, n, &plain, NULL);
	double g2 = run(c, jobs, n, &git, NULL);
	printf("first_ms %.0f git_rate %.0f plain_rate %.0f\n", first * 1000, 2.0 * n / (g1 + g2),
	       2.0 * n / (p1 + p2));
	mts_close(c);
	free(jobs);
	return atomic_load(&failed) ? 1 : 0;
}
