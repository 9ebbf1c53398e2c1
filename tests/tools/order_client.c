/* SPDX-License-Identifier: MIT */
/*
 * order_client: the client of the result-delivery scenarios (t0207). Submits
 * --jobs exec jobs of --cmd in one blocking batch, and appends to --events,
 * flushed at once, "acked ID" for each acknowledged id and "done ID STATE
 * OUTPUT" for each callback. After every callback it stays connected until
 * the file --until exists (the scenario restarts the master meanwhile, so a
 * result sent twice would reach it), then exits: 0 if each job called back
 * once and completed, 1 otherwise.
 *   order_client --cmd CMD --jobs N --events FILE --until FILE [--timeout S]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mtslurm.h"

static FILE *events;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long ncalls, nbad;

static void on_done(const mts_result *r, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	fprintf(events, "done %lld %s %s\n", (long long)r->id, mts_state_name(r->state),
		r->output ? r->output : "-");
	fflush(events);
	ncalls++;
	nbad += r->state != MTS_COMPLETED;
	pthread_mutex_unlock(&mu);
}

int main(int argc, char **argv)
{
	const char *cmd = NULL, *evf = NULL, *until = NULL;
	long n = 1;
	double timeout_s = 60;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--cmd"))
			cmd = argv[i + 1];
		else if (!strcmp(argv[i], "--jobs"))
			n = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--events"))
			evf = argv[i + 1];
		else if (!strcmp(argv[i], "--until"))
			until = argv[i + 1];
		else if (!strcmp(argv[i], "--timeout"))
			timeout_s = atof(argv[i + 1]);
		else
			break;
	}
	if (!cmd || !evf || !until || n <= 0 || n > 10000) {
		fprintf(stderr, "usage: order_client --cmd CMD --jobs N(1..10000) --events FILE --until FILE "
				"[--timeout S]\n");
		return 2;
	}
	if (!(events = fopen(evf, "w"))) {
		perror("order_client: --events");
		return 1;
	}
	mts_options o = MTS_OPTIONS_INIT;
	o.on_done = on_done;
	o.mode = MTS_THREAD;
	o.timeout_ms = (int)(timeout_s * 1000);
	mts_client *c;
	if (mts_connect(&c, NULL, &o)) {
		fprintf(stderr, "order_client: %s\n", mts_errmsg(c));
		return 1;
	}
	mts_job *jobs = calloc((size_t)n, sizeof *jobs);
	mts_job_id *ids = calloc((size_t)n, sizeof *ids);
	mts_job init = MTS_JOB_INIT;
	for (long i = 0; i < n; i++) {
		jobs[i] = init;
		jobs[i].type = "exec";
		jobs[i].input = cmd;
	}
	if (mts_submit_batch(ids, c, jobs, (size_t)n)) {
		fprintf(stderr, "order_client: submit: %s\n", mts_errmsg(c));
		return 1;
	}
	pthread_mutex_lock(&mu);
	for (long i = 0; i < n; i++)
		fprintf(events, "acked %lld\n", (long long)ids[i]);
	fflush(events);
	pthread_mutex_unlock(&mu);
	int rc = mts_wait_all(c, (int)(timeout_s * 1000));
	struct timespec pause = {0, 50000000};
	for (long i = 0; i < (long)(timeout_s * 20) && access(until, F_OK) != 0; i++)
		nanosleep(&pause, NULL);
	mts_close(c);
	fprintf(stderr, "order_client: %ld callbacks of %ld jobs, %ld not completed, wait: %s\n", ncalls, n, nbad,
		mts_strerror(rc));
	fclose(events);
	free(jobs);
	free(ids);
	return rc == MTS_OK && ncalls == n && nbad == 0 ? 0 : 1;
}
