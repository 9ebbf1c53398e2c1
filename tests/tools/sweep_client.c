/* SPDX-License-Identifier: MIT */
/*
 * sweep_client: a client program as a scientist would write one, for the
 * kill -9 scenarios. Submits --jobs echo jobs in batches through libmtslurm,
 * appends each acknowledged id to --ids (flushed: an id in that file was
 * acknowledged), appends each callback's id to --callbacks, and waits for all
 * of them. Exit 0 when every job called back completed; 1 otherwise.
 *   sweep_client --jobs N [--delay S] [--batch B] --ids FILE --callbacks FILE [--timeout S] [--poll]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtslurm.h"

static FILE *calls;
static long ncalls, nbad;

static void done(const mts_result *r, void *arg)
{
	(void)arg;
	fprintf(calls, "%lld\n", (long long)r->id);
	fflush(calls);
	ncalls++;
	if (r->state != MTS_COMPLETED) {
		nbad++;
		fprintf(stderr, "job %lld ended %s: %s\n", (long long)r->id, mts_state_name(r->state),
			r->error ? r->error : "");
	}
}

int main(int argc, char **argv)
{
	long n = 1000, batch = 1000;
	double delay = 0, timeout_s = 120;
	const char *idsf = NULL, *callsf = NULL;
	int poll = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--jobs") && i + 1 < argc)
			n = atol(argv[++i]);
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			batch = atol(argv[++i]);
		else if (!strcmp(argv[i], "--delay") && i + 1 < argc)
			delay = atof(argv[++i]);
		else if (!strcmp(argv[i], "--ids") && i + 1 < argc)
			idsf = argv[++i];
		else if (!strcmp(argv[i], "--callbacks") && i + 1 < argc)
			callsf = argv[++i];
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			timeout_s = atof(argv[++i]);
		else if (!strcmp(argv[i], "--poll"))
			poll = 1;
		else {
			fprintf(stderr, "sweep_client: unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	if (!idsf || !callsf || n <= 0 || batch <= 0) {
		fprintf(stderr, "usage: sweep_client --jobs N --ids FILE --callbacks FILE [--delay S] [--batch B]\n");
		return 2;
	}
	FILE *ids = fopen(idsf, "w");
	calls = fopen(callsf, "w");
	if (!ids || !calls) {
		perror("sweep_client");
		return 1;
	}
	mts_options o = MTS_OPTIONS_INIT;
	o.on_done = done;
	o.mode = poll ? MTS_POLL : MTS_THREAD;
	o.timeout_ms = 60000;
	mts_client *c;
	int rc = mts_connect(&c, NULL, &o);
	if (rc) {
		fprintf(stderr, "sweep_client: %s\n", mts_errmsg(c));
		return 1;
	}
	mts_job *jobs = calloc((size_t)batch, sizeof *jobs);
	mts_job_id *got = calloc((size_t)batch, sizeof *got);
	char (*msgs)[32] = calloc((size_t)batch, sizeof *msgs);
	mts_job init = MTS_JOB_INIT;
	for (long done_n = 0; done_n < n;) {
		long k = n - done_n < batch ? n - done_n : batch;
		for (long i = 0; i < k; i++) {
			jobs[i] = init;
			jobs[i].type = "echo";
			snprintf(msgs[i], sizeof msgs[i], "m%ld", done_n + i);
			jobs[i].input = msgs[i];
			jobs[i].delay = delay;
		}
		rc = mts_submit_batch(got, c, jobs, (size_t)k);
		if (rc) {
			fprintf(stderr, "sweep_client: submit: %s\n", mts_errmsg(c));
			return 1;
		}
		for (long i = 0; i < k; i++)
			fprintf(ids, "%lld\n", (long long)got[i]);
		fflush(ids);
		done_n += k;
		if (poll)
			mts_poll(c, 0);
	}
	rc = mts_wait_all(c, (int)(timeout_s * 1000));
	fprintf(stderr, "sweep_client: %ld callbacks, %ld not completed, wait: %s\n", ncalls, nbad, mts_strerror(rc));
	mts_close(c);
	fclose(ids);
	fclose(calls);
	free(jobs);
	free(got);
	free(msgs);
	return rc == MTS_OK && nbad == 0 && ncalls == n ? 0 : 1;
}
