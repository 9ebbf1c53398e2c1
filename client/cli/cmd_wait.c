/* SPDX-License-Identifier: MIT */
/*
 * cmd_wait: `mtslurm wait` -- block until jobs are final and turn the
 * outcome into an exit status a script can branch on (0 all completed, 1
 * some failed or were cancelled, 2 timeout or usage). Without ids (or with
 * --all) it waits for the jobs that are queued, prefetched or running when it is
 * called -- listed first, then waited for by id -- so jobs that failed long
 * ago and jobs submitted later do not change its answer. On a terminal it
 * draws a progress line while it waits.
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

#define WAIT_CHUNK 50000 /* ids per wait request */

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
	msg *recs = cli_records(c, ids, n);
	struct cli_recidx idx;
	cli_recidx_build(&idx, recs);
	for (size_t i = 0; i < n; i++)
		if (!cli_recidx_find(&idx, ids[i])) {
			mts_close(c);
			cli_die(1, "no such job: %lld; mtslurm jobs lists the jobs", (long long)ids[i]);
		}
	cli_recidx_free(&idx);
	msg_free(recs);
}

static int cmp_id(const void *a, const void *b)
{
	mts_job_id x = *(const mts_job_id *)a, y = *(const mts_job_id *)b;
	return x < y ? -1 : x > y;
}

/* Append the ids of every job in state st (paging through the master). */
static void collect_state(mts_client *c, const char *st, mts_job_id **ids, size_t *n, size_t *cap)
{
	mts_job_id after = 0, next = 0;
	do {
		char *s = NULL;
		int rc = mts_jobs(&s, &next, c, st, after, 10000);
		if (rc != MTS_OK)
			cli_die_api(c, rc);
		msg *m = cli_parse(s);
		mts_free(s);
		for (msg *j = msg_child(m); j; j = msg_next(j)) {
			int64_t id = 0;
			if (msg_get_int(j, "id", &id))
				continue;
			if (*n == *cap) {
				*cap = *cap ? 2 * *cap : 1024;
				*ids = realloc(*ids, *cap * sizeof **ids);
				if (!*ids)
					cli_die(1, "out of memory");
			}
			(*ids)[(*n)++] = id;
		}
		msg_free(m);
		after = next;
	} while (next);
}

/* The jobs that are not final now: queued, then prefetched (assigned to a
 * worker's window, not started: a state of its own, not in "running"),
 * then running, then queued again (a job requeued between the listings is
 * not missed; one that moves on between two listings is in the later one),
 * each once. */
static mts_job_id *collect_live(mts_client *c, size_t *n)
{
	mts_job_id *ids = NULL;
	size_t cap = 0;
	*n = 0;
	collect_state(c, "queued", &ids, n, &cap);
	collect_state(c, "prefetched", &ids, n, &cap);
	collect_state(c, "running", &ids, n, &cap);
	collect_state(c, "queued", &ids, n, &cap);
	if (!*n)
		return ids;
	qsort(ids, *n, sizeof *ids, cmp_id);
	size_t k = 1;
	for (size_t i = 1; i < *n; i++)
		if (ids[i] != ids[k - 1])
			ids[k++] = ids[i];
	*n = k;
	return ids;
}

/* --json: {"jobs":N,"completed":N,"failed":N,"cancelled":N,"queued":N,
 * "running":N,"timed_out":bool,"ids":{"completed":[...],...}} from the
 * jobs' records now. */
static void print_json(mts_client *c, const mts_job_id *ids, size_t n, int timed_out)
{
	static const char *names[] = {"queued", "running", "completed", "failed", "cancelled"};
	msg *lists[5];
	int64_t k[5] = {0};
	for (int i = 0; i < 5; i++)
		lists[i] = msg_new_array();
	msg *recs = cli_records(c, ids, n);
	for (msg *j = msg_child(recs); j; j = msg_next(j)) {
		int64_t id = 0;
		msg_get_int(j, "id", &id);
		for (int i = 0; i < 5; i++)
			if (msg_get_str(j, "state") && !strcmp(msg_get_str(j, "state"), names[i])) {
				k[i]++;
				msg_push(lists[i], msg_new_int(id));
			}
	}
	msg_free(recs);
	msg *o = msg_new_object(), *byid = msg_new_object();
	msg_set_int(o, "jobs", (int64_t)n);
	for (int i = 0; i < 5; i++) {
		msg_set_int(o, names[i], k[i]);
		msg_add(byid, names[i], lists[i]);
	}
	msg_set_bool(o, "timed_out", timed_out);
	msg_add(o, "ids", byid);
	cli_print_json(o);
}

/* Wait for the ids in chunks (one request each, the deadline shared);
 * sums the final counts into k. MTS_OK or the failing call's code. */
static int wait_chunks(mts_client *c, const mts_job_id *ids, size_t n, uint64_t deadline_ns, int64_t k[5])
{
	for (size_t lo = 0; lo < n; lo += WAIT_CHUNK) {
		int timeout_ms = -1;
		if (deadline_ns) {
			uint64_t now = util_mono_ns();
			timeout_ms = now >= deadline_ns ? 1 : (int)((deadline_ns - now) / 1000000u) + 1;
		}
		char *counts = NULL;
		size_t len = n - lo < WAIT_CHUNK ? n - lo : WAIT_CHUNK;
		int rc = mts_wait_jobs(&counts, c, ids + lo, len, timeout_ms);
		if (rc != MTS_OK)
			return rc;
		msg *m = cli_parse(counts);
		mts_free(counts);
		int64_t q, r, d, f, x;
		cli_counts(m, &q, &r, &d, &f, &x);
		msg_free(m);
		k[2] += d;
		k[3] += f;
		k[4] += x;
	}
	return MTS_OK;
}

int cmd_wait(struct cli *cli)
{
	if (cli->array)
		return cli_wait_array(cli);
	if (cli->all && cli->npos)
		cli_die(2, "give --all or job ids, not both");
	mts_job_id *ids = NULL;
	size_t n = (size_t)cli->npos;
	if (n) {
		ids = calloc(n, sizeof *ids);
		if (!ids)
			cli_die(1, "out of memory");
		for (size_t i = 0; i < n; i++)
			ids[i] = cli_job_id(cli->pos[i]);
	}
	mts_client *c = cli_connect(cli);
	if (ids)
		check_known(c, ids, n);
	else
		ids = collect_live(c, &n);
	uint64_t deadline_ns = cli->timeout_s >= 0 ? util_mono_ns() + (uint64_t)(cli->timeout_s * 1e9) : 0;
	if (isatty(2) && n && n <= 10000)
		progress(c, ids, n, deadline_ns);
	int64_t k[5] = {0};
	int rc = wait_chunks(c, ids, n, deadline_ns, k);
	if (rc == MTS_ETIMEDOUT) {
		if (cli->json)
			print_json(c, ids, n, 1);
		free(ids);
		mts_close(c);
		cli_die(2, "timed out after %g s with jobs still queued or running; wait longer (--timeout S)",
			cli->timeout_s);
	}
	if (rc != MTS_OK)
		cli_die_api(c, rc);
	if (cli->json)
		print_json(c, ids, n, 0);
	free(ids);
	mts_close(c);
	if (k[3] || k[4]) {
		fprintf(stderr, "mtslurm: %lld completed, %lld failed, %lld cancelled; mtslurm jobs --state failed shows why\n",
			(long long)k[2], (long long)k[3], (long long)k[4]);
		return 1;
	}
	if (isatty(1) && !cli->json)
		printf("mtslurm: %lld completed\n", (long long)k[2]);
	return 0;
}
