/* SPDX-License-Identifier: MIT */
/*
 * env_submit: submits exec jobs through the C API exactly as a program
 * would -- mts_job.cwd NULL (the caller's directory) and export_env as given
 * (default NULL: ALL) -- waits for them and prints, for each, "id N" and
 * then its stdout. Used by t0180-job-env.sh, also run under mpirun to be a
 * submitter that is itself an MPI rank.
 *   env_submit [--export SPEC] [--n N] CMD   N jobs of CMD in one batch
 * Exit 0 if every job completed, 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtslurm.h"

int main(int argc, char **argv)
{
	const char *spec = NULL, *cmd = NULL;
	long n = 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--export") == 0 && i + 1 < argc)
			spec = argv[++i];
		else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
			n = atol(argv[++i]);
		else
			cmd = argv[i];
	}
	if (!cmd || n < 1) {
		fprintf(stderr, "usage: env_submit [--export SPEC] [--n N] CMD\n");
		return 2;
	}
	mts_client *c;
	if (mts_connect(&c, NULL, NULL) != MTS_OK) {
		fprintf(stderr, "env_submit: %s\n", mts_errmsg(c));
		mts_close(c);
		return 1;
	}
	mts_job *jobs = calloc((size_t)n, sizeof *jobs);
	mts_future **f = calloc((size_t)n, sizeof *f);
	mts_job init = MTS_JOB_INIT;
	int bad = !jobs || !f;
	for (long i = 0; !bad && i < n; i++) {
		jobs[i] = init;
		jobs[i].type = "exec";
		jobs[i].input = cmd;
		jobs[i].export_env = spec;
		jobs[i].retries = 0;
		if (mts_submit_future(&f[i], c, &jobs[i]) != MTS_OK) {
			fprintf(stderr, "env_submit: %s\n", mts_errmsg(c));
			bad = 1;
		}
	}
	for (long i = 0; !bad && i < n; i++) {
		if (mts_future_wait(f[i], 60000) != MTS_OK) {
			fprintf(stderr, "env_submit: %s\n", mts_errmsg(c));
			bad = 1;
			break;
		}
		const mts_result *r = mts_future_result(f[i]);
		printf("id %lld\n%s", (long long)r->id, r->output ? r->output : "");
		if (r->state != MTS_COMPLETED) {
			fprintf(stderr, "env_submit: job %lld %s: %s\n", (long long)r->id, mts_state_name(r->state),
				r->error ? r->error : "");
			bad = 1;
		}
	}
	for (long i = 0; f && i < n; i++)
		mts_future_free(f[i]);
	free(f);
	free(jobs);
	mts_close(c);
	return bad;
}
