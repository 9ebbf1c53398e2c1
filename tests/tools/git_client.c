/* SPDX-License-Identifier: MIT */
/*
 * git_client: exec jobs in a git checkout named by branch only, submitted
 * through the C API (the master resolves the branch at submit; t0842).
 * With --array RANGE the job is a job array's template (mts_submit_array),
 * else one job (mts_submit). Prints the job id (an array's: its first
 * member and count, "FIRST N"), or the master's refusal on stderr with
 * exit status 3. Exits without waiting: the jobs stay with the master.
 *   git_client --url URL --branch B [--workdir D] [--after ID]
 *              [--array RANGE] CMD
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtslurm.h"

static int usage(const char *why)
{
	fprintf(stderr, "git_client: %s; usage: git_client --url URL --branch B [--workdir D] [--after ID] "
		"[--array RANGE] CMD\n", why);
	return 2;
}

int main(int argc, char **argv)
{
	mts_git g = {0};
	mts_job j = MTS_JOB_INIT;
	mts_array a = MTS_ARRAY_INIT;
	mts_job_id after = 0;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "--url") && v)
			g.url = argv[++i];
		else if (!strcmp(argv[i], "--branch") && v)
			g.branch = argv[++i];
		else if (!strcmp(argv[i], "--workdir") && v)
			g.workdir = argv[++i];
		else if (!strcmp(argv[i], "--after") && v)
			after = atoll(argv[++i]);
		else if (!strcmp(argv[i], "--array") && v)
			a.tasks = argv[++i];
		else if (argv[i][0] == '-')
			return usage("unknown option");
		else
			j.input = argv[i];
	}
	if (!g.url || !j.input)
		return usage("--url and a command are required");
	j.type = "exec";
	j.git = &g;
	if (after > 0) {
		j.deps = &after;
		j.ndeps = 1;
	}
	mts_options o = MTS_OPTIONS_INIT;
	mts_client *c;
	if (mts_connect(&c, NULL, &o)) {
		fprintf(stderr, "git_client: %s\n", mts_errmsg(c));
		return 1;
	}
	mts_job_id id = 0;
	size_t n = 1;
	int rc = a.tasks ? mts_submit_array(&id, &n, c, &j, &a) : mts_submit(&id, c, &j);
	if (rc) {
		fprintf(stderr, "git_client: %s\n", mts_errmsg(c));
		mts_close(c);
		return 3;
	}
	if (a.tasks)
		printf("%lld %zu\n", (long long)id, n);
	else
		printf("%lld\n", (long long)id);
	mts_close(c);
	return 0;
}
