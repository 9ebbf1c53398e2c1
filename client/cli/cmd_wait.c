/* SPDX-License-Identifier: MIT */
/*
 * cmd_wait: `mtslurm wait` -- block until jobs are final and turn the
 * outcome into an exit status a script can branch on (0 all completed, 1
 * some failed or were cancelled, 2 timeout or usage). On a terminal it draws
 * a progress line from the master's status while it waits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "msg.h"
#include "util.h"

/* Per-state counts of the jobs waited for: the whole cluster's from
 * `status`, or the given ids' from their records. 0, or -1 on failure. */
static int fetch_counts(mts_client *c, const mts_job_id *ids, size_t n, int64_t k[5])
{
	char *s = NULL;
	int rc = ids ? mts_jobs_by_id(&s, c, ids, n) : mts_status(&s, c);
	if (rc != MTS_OK)
		return -1;
	msg *m = cli_parse(s);
	mts_free(s);
	if (!ids) {
		cli_counts(msg_get(m, "jobs"), &k[0], &k[1], &k[2], &k[3], &k[4]);
		int64_t pre = 0; /* on a worker, not started: waiting, like queued */
		msg_get_int(msg_get(m, "jobs"), "prefetched", &pre);
		k[0] += pre;
	} else {
		static const char *names[] = {"queued", "running", "completed", "failed", "cancelled"};
		memset(k, 0, 5 * sizeof k[0]);
		for (msg *j = msg_child(m); j; j = msg_next(j)) {
			const char *st = msg_get_str(j, "state");
			if (st && !strcmp(st, "prefetched"))
				st = "queued"; /* on a worker, not started: waiting */
			for (int i = 0; i < 5; i++)
				if (st && !strcmp(st, names[i]))
					k[i]++;
		}
	}
	msg_free(m);
	return 0;
}

/* Redraw one progress line on stderr (a terminal) about 7 times a second
 * until nothing is queued or running or the deadline (0: none) passes. */
static void progress(mts_client *c, const mts_job_id *ids, size_t n, uint64_t deadline_ns)
{
	int64_t k[5];
	while (fetch_counts(c, ids, n, k) == 0) {
		int64_t total = k[0] + k[1] + k[2] + k[3] + k[4], fin = k[2] + k[3] + k[4];
		double frac = total ? (double)fin / (double)total : 1;
		int width = 30, fill = (int)(frac * width);
		char bar[64];
		for (int i = 0; i < width; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[width] = '\0';
		fprintf(stderr, "\r[%s] %lld/%lld final: %lld completed, %lld failed, %lld cancelled; %lld running\033[K",
			bar, (long long)fin, (long long)total, (long long)k[2], (long long)k[3], (long long)k[4],
			(long long)k[1]);
		if (k[0] + k[1] == 0 || (deadline_ns && util_mono_ns() >= deadline_ns))
			break;
		struct timespec ts = {0, 150000000L};
		nanosleep(&ts, NULL);
	}
	fputc('\n', stderr);
}

/* Die naming an id that does not exist, if any: checked before waiting, so
 * that a mistyped id is not a silent success. */
static void check_known(mts_client *c, const mts_job_id *ids, size_t n)
{
	for (size_t lo = 0; lo < n; lo += 10000) {
		size_t k = n - lo < 10000 ? n - lo : 10000;
		char *s = NULL;
		int rc = mts_jobs_by_id(&s, c, ids + lo, k);
		if (rc != MTS_OK)
			cli_die_api(c, rc);
		msg *m = cli_parse(s);
		mts_free(s);
		for (size_t i = lo; msg_size(m) < k && i < lo + k; i++) {
			int found = 0;
			for (msg *j = msg_child(m); j && !found; j = msg_next(j)) {
				int64_t id = 0;
				found = msg_get_int(j, "id", &id) == 0 && id == ids[i];
			}
			if (!found) {
				mts_close(c);
				cli_die(1, "no such job: %lld; mtslurm jobs lists the jobs", (long long)ids[i]);
			}
		}
		msg_free(m);
	}
}

int cmd_wait(struct cli *cli)
{
	if (!cli->all && !cli->npos)
		cli_die(2, "wait for what? --all, or job ids");
	if (cli->all && cli->npos)
		cli_die(2, "give --all or job ids, not both");
	mts_job_id *ids = NULL;
	size_t n = (size_t)cli->npos;
	if (!cli->all) {
		ids = calloc(n, sizeof *ids);
		if (!ids)
			cli_die(1, "out of memory");
		for (size_t i = 0; i < n; i++)
			ids[i] = cli_job_id(cli->pos[i]);
	}
	mts_client *c = cli_connect(cli);
	if (ids)
		check_known(c, ids, n);
	uint64_t deadline_ns = cli->timeout_s >= 0 ? util_mono_ns() + (uint64_t)(cli->timeout_s * 1e9) : 0;
	if (isatty(2) && n <= 10000)
		progress(c, ids, n, deadline_ns);
	int timeout_ms = -1;
	if (deadline_ns) {
		uint64_t now = util_mono_ns();
		timeout_ms = now >= deadline_ns ? 1 : (int)((deadline_ns - now) / 1000000u) + 1;
	}
	char *counts = NULL;
	int rc = ids ? mts_wait_jobs(&counts, c, ids, n, timeout_ms) : mts_wait_cluster(&counts, c, timeout_ms);
	free(ids);
	if (rc == MTS_ETIMEDOUT) {
		mts_close(c);
		cli_die(2, "timed out after %g s with jobs still queued or running; wait longer (--timeout S)",
			cli->timeout_s);
	}
	if (rc != MTS_OK)
		cli_die_api(c, rc);
	msg *m = cli_parse(counts);
	mts_free(counts);
	int64_t q, r, d, f, x;
	cli_counts(m, &q, &r, &d, &f, &x);
	msg_free(m);
	mts_close(c);
	if (f || x) {
		fprintf(stderr, "mtslurm: %lld completed, %lld failed, %lld cancelled; mtslurm jobs --state failed shows why\n",
			(long long)d, (long long)f, (long long)x);
		return 1;
	}
	if (isatty(1))
		printf("mtslurm: %lld completed\n", (long long)d);
	return 0;
}
