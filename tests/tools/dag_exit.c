/* SPDX-License-Identifier: MIT */
/*
 * dag_exit: submits a two-job DAG (B runs after A) through libmtslurm and
 * exits at once, so that A ends after its client is gone -- the case in
 * which the master once freed the disconnected client twice (A's end
 * finalizes B, the client's last job, inside A's own finalization).
 * Prints "A B" (the two ids) and exits 0.
 *   dag_exit fail   A is an exec job that fails after 0.2 s
 *   dag_exit hold   A sleeps 60 s (the test cancels it)
 */
#include <stdio.h>
#include <string.h>

#include "mtslurm.h"

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "fail") && strcmp(argv[1], "hold"))) {
		fprintf(stderr, "usage: dag_exit fail|hold\n");
		return 2;
	}
	mts_client *c;
	if (mts_connect(&c, NULL, NULL) != MTS_OK) {
		fprintf(stderr, "dag_exit: %s\n", mts_errmsg(c));
		mts_close(c);
		return 1;
	}
	mts_job a = MTS_JOB_INIT, b = MTS_JOB_INIT;
	mts_job_id ida, idb;
	a.type = "exec";
	a.input = strcmp(argv[1], "fail") == 0 ? "sh -c 'sleep 0.2; exit 3'" : "sleep 60";
	a.retries = 0;
	b.type = "echo";
	b.input = "child";
	b.deps = &ida;
	b.ndeps = 1;
	if (mts_submit(&ida, c, &a) != MTS_OK || mts_submit(&idb, c, &b) != MTS_OK) {
		fprintf(stderr, "dag_exit: %s\n", mts_errmsg(c));
		mts_close(c);
		return 1;
	}
	printf("%lld %lld\n", (long long)ida, (long long)idb);
	mts_close(c);
	return 0;
}
