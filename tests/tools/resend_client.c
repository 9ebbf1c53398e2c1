/* SPDX-License-Identifier: MIT */
/*
 * resend_client: submits echo jobs through the blocking calls of libmtslurm
 * -- one mts_submit per job, mts_submit_batch of --batch jobs per call, or
 * job arrays of --array members (task ids SEQ.., input "PREFIX-{}") --
 * for t0208, where a proxy (tests/tools/ackproxy.py) drops acknowledgements
 * and cuts the connection so the library sends frames again. Checks what a
 * program relies on: every call returns MTS_OK with ids, no id twice, every
 * job calls back exactly once (on_done) with its own output "PREFIX-<seq>".
 *   resend_client --jobs N [--batch B | --array K] [--prefix P] [--timeout S]
 * Neither --batch nor --array: one mts_submit per job. Prints
 * "submitted N done N wrong 0"; exits 1 with the first thing that was wrong.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtslurm.h"

static long njobs;
static const char *prefix = "rs";
static unsigned char *done;
static long ndone, nwrong;
static char first_wrong[512];

static void wrong(const char *what, long seq)
{
	if (!nwrong++)
		snprintf(first_wrong, sizeof first_wrong, "job %ld: %s", seq, what);
}

static void on_done(const mts_result *r, void *arg)
{
	(void)arg;
	long seq = (long)(intptr_t)r->user;
	char want[64];
	size_t pl = strlen(prefix);
	if (!r->user && r->output && !strncmp(r->output, prefix, pl) && r->output[pl] == '-')
		seq = atol(r->output + pl + 1); /* an array member: its task id is its seq */
	if (seq < 1 || seq > njobs)
		return wrong("on_done with a foreign user pointer", seq);
	if (done[seq - 1]++)
		return wrong("on_done twice", seq);
	snprintf(want, sizeof want, "%s-%ld", prefix, seq);
	if (r->state != MTS_COMPLETED || !r->output || strcmp(r->output, want))
		return wrong("wrong result", seq);
	ndone++;
}

static int cmp_id(const void *a, const void *b)
{
	mts_job_id x = *(const mts_job_id *)a, y = *(const mts_job_id *)b;
	return x < y ? -1 : x > y;
}

/* Jobs s .. s+k-1 in one call (k is 1 without --batch and --array); their
 * ids into ids[0..k-1]. jobs and inputs hold k entries. */
static int submit_some(mts_client *c, long s, long k, long batch, long array, mts_job *jobs,
		       char (*inputs)[64], mts_job_id *ids)
{
	for (long i = 0; i < k; i++) {
		mts_job j = MTS_JOB_INIT;
		snprintf(inputs[i], sizeof inputs[i], "%s-%ld", prefix, s + i);
		j.type = "echo";
		j.input = inputs[i];
		j.user = (void *)(intptr_t)(s + i);
		jobs[i] = j;
	}
	if (!array)
		return batch ? mts_submit_batch(ids, c, jobs, (size_t)k) : mts_submit(ids, c, jobs);
	/* members s .. s+k-1 of a template "PREFIX-{}" (no user pointer:
	 * on_done knows a member by its output) */
	char tasks[64];
	snprintf(tasks, sizeof tasks, "%ld-%ld", s, s + k - 1);
	snprintf(inputs[0], sizeof inputs[0], "%s-{}", prefix);
	jobs[0].user = NULL;
	mts_array a = MTS_ARRAY_INIT;
	a.tasks = tasks;
	size_t n = 0;
	int rc = mts_submit_array(ids, &n, c, jobs, &a);
	for (size_t i = 1; rc == MTS_OK && i < n && i < (size_t)k; i++)
		ids[i] = ids[0] + (mts_job_id)i;
	if (rc == MTS_OK && n != (size_t)k)
		wrong("an array of another size", s);
	return rc;
}

int main(int argc, char **argv)
{
	long batch = 0, array = 0;
	double timeout_s = 120;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return fprintf(stderr, "resend_client: %s needs a value\n", a), 2;
		i++;
		if (!strcmp(a, "--jobs"))
			njobs = atol(v);
		else if (!strcmp(a, "--batch"))
			batch = atol(v);
		else if (!strcmp(a, "--array"))
			array = atol(v);
		else if (!strcmp(a, "--prefix"))
			prefix = v;
		else if (!strcmp(a, "--timeout"))
			timeout_s = atof(v);
		else
			return fprintf(stderr, "resend_client: unknown option %s\n", a), 2;
	}
	if (njobs <= 0 || batch < 0 || array < 0 || (batch && array))
		return fprintf(stderr, "resend_client: --jobs N (N > 0) is required; --batch or --array, not both\n"), 2;
	done = calloc((size_t)njobs, 1);
	mts_job_id *ids = calloc((size_t)njobs, sizeof *ids);
	long per = batch ? batch : array ? array : 1;
	mts_job *jobs = calloc((size_t)per, sizeof *jobs);
	char (*inputs)[64] = calloc((size_t)per, sizeof *inputs);
	if (!done || !ids || !jobs || !inputs)
		return fprintf(stderr, "resend_client: out of memory\n"), 1;
	mts_options o = MTS_OPTIONS_INIT;
	o.on_done = on_done;
	o.timeout_ms = (int)(timeout_s * 1000);
	o.name = "resend_client";
	mts_client *c;
	if (mts_connect(&c, NULL, &o) != MTS_OK)
		return fprintf(stderr, "resend_client: %s\n", mts_errmsg(c)), mts_close(c), 1;
	for (long s = 1; s <= njobs; s += per) {
		long k = njobs - s + 1 < per ? njobs - s + 1 : per;
		int rc = submit_some(c, s, k, batch, array, jobs, inputs, &ids[s - 1]);
		if (rc != MTS_OK)
			return fprintf(stderr, "resend_client: submit of job %ld: %s (%s)\n", s, mts_strerror(rc),
				       mts_errmsg(c)),
			       1;
	}
	int wrc = mts_wait_all(c, (int)(timeout_s * 1000));
	if (wrc != MTS_OK)
		return fprintf(stderr, "resend_client: mts_wait_all: %s (%s)\n", mts_strerror(wrc), mts_errmsg(c)), 1;
	mts_close(c);
	qsort(ids, (size_t)njobs, sizeof *ids, cmp_id);
	for (long i = 0; i < njobs; i++)
		if (ids[i] <= 0 || (i && ids[i] == ids[i - 1]))
			wrong(ids[i] <= 0 ? "no id" : "an id given to two jobs", i + 1);
	free(ids);
	free(jobs);
	free(inputs);
	free(done);
	printf("submitted %ld done %ld wrong %ld\n", njobs, ndone, nwrong);
	if (nwrong)
		return fprintf(stderr, "resend_client: %s\n", first_wrong), 1;
	if (ndone != njobs)
		return fprintf(stderr, "resend_client: %ld of %ld jobs called back\n", ndone, njobs), 1;
	return 0;
}
