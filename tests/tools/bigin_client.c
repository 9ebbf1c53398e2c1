/* SPDX-License-Identifier: MIT */
/*
 * bigin_client: submits echo jobs with large inputs through libmtslurm, for
 * the master's memory bounds (t0235, and the figures in docs/master.md).
 * Every input is different and can be regenerated from its sequence number,
 * written at its start ("<seq>:" then bytes derived from seq), so a result
 * is checked byte for byte without keeping the inputs: an echo job's output
 * must equal its input. --no-wait exits once every job is acknowledged
 * (queued jobs with no workers yet); otherwise it waits for all results.
 * --stall-ms makes the first result's callback sleep that long: the
 * library's I/O thread stops reading, as a client that does not keep up.
 *   bigin_client --jobs N --size BYTES [--batch B] [--no-wait] [--timeout S] [--stall-ms MS]
 * Prints "acked N" and, when waiting, "results N bad N".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mtslurm.h"

static long size_b, nres, nbad, stall_ms;

/* Input number seq: "<seq>:" then printable bytes that depend on seq and
 * the position (with a quote and a backslash now and then, so the JSON
 * escaping on every hop is exercised too). */
static void make_input(char *out, long seq)
{
	int k = snprintf(out, (size_t)size_b + 1, "%ld:", seq);
	unsigned x = (unsigned)seq * 2654435761u + 1;
	for (long i = k; i < size_b; i++) {
		x = x * 1103515245u + 12345u;
		unsigned c = (x >> 16) % 96;
		out[i] = c == 95 ? '\\' : c == 94 ? '"' : (char)(' ' + c);
	}
	out[size_b] = '\0';
}

static char *check_buf;

static void done(const mts_result *r, void *arg)
{
	(void)arg;
	if (nres++ == 0 && stall_ms > 0) {
		struct timespec ts = {stall_ms / 1000, (stall_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	long seq = r->output ? atol(r->output) : -1;
	if (r->state != MTS_COMPLETED || seq < 0) {
		nbad++;
		fprintf(stderr, "job %lld ended %s: %s\n", (long long)r->id, mts_state_name(r->state),
			r->error ? r->error : "");
		return;
	}
	make_input(check_buf, seq);
	if (strlen(r->output) != (size_t)size_b || memcmp(r->output, check_buf, (size_t)size_b) != 0) {
		nbad++;
		fprintf(stderr, "job %lld: output (%zu bytes) differs from its input (%ld bytes)\n", (long long)r->id,
			strlen(r->output), size_b);
	}
}

int main(int argc, char **argv)
{
	long n = 0, batch = 100;
	double timeout_s = 300;
	int no_wait = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--jobs") && i + 1 < argc)
			n = atol(argv[++i]);
		else if (!strcmp(argv[i], "--size") && i + 1 < argc)
			size_b = atol(argv[++i]);
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			batch = atol(argv[++i]);
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			timeout_s = atof(argv[++i]);
		else if (!strcmp(argv[i], "--stall-ms") && i + 1 < argc)
			stall_ms = atol(argv[++i]);
		else if (!strcmp(argv[i], "--no-wait"))
			no_wait = 1;
		else {
			fprintf(stderr, "bigin_client: unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	if (n <= 0 || batch <= 0 || size_b < 24) {
		fprintf(stderr, "usage: bigin_client --jobs N --size BYTES(>=24) [--batch B] [--no-wait]\n");
		return 2;
	}
	check_buf = malloc((size_t)size_b + 1);
	char *inputs = malloc((size_t)batch * ((size_t)size_b + 1));
	mts_job *jobs = calloc((size_t)batch, sizeof *jobs);
	mts_job_id *got = calloc((size_t)batch, sizeof *got);
	if (!check_buf || !inputs || !jobs || !got) {
		fprintf(stderr, "bigin_client: out of memory\n");
		return 1;
	}
	mts_options o = MTS_OPTIONS_INIT;
	o.on_done = no_wait ? NULL : done;
	o.timeout_ms = (int)(timeout_s * 1000);
	mts_client *c;
	int rc = mts_connect(&c, NULL, &o);
	if (rc) {
		fprintf(stderr, "bigin_client: %s\n", mts_errmsg(c));
		return 1;
	}
	mts_job init = MTS_JOB_INIT;
	long acked = 0;
	while (acked < n) {
		long k = n - acked < batch ? n - acked : batch;
		for (long i = 0; i < k; i++) {
			char *in = inputs + (size_t)i * ((size_t)size_b + 1);
			make_input(in, acked + i);
			jobs[i] = init;
			jobs[i].type = "echo";
			jobs[i].input = in;
		}
		rc = mts_submit_batch(got, c, jobs, (size_t)k);
		if (rc) {
			fprintf(stderr, "bigin_client: submit after %ld acknowledged: %s\n", acked, mts_errmsg(c));
			return 1;
		}
		acked += k;
	}
	printf("acked %ld\n", acked);
	fflush(stdout);
	if (!no_wait) {
		rc = mts_wait_all(c, (int)(timeout_s * 1000));
		printf("results %ld bad %ld\n", nres, nbad);
	}
	mts_close(c);
	free(inputs);
	free(jobs);
	free(got);
	free(check_buf);
	return no_wait ? 0 : rc == MTS_OK && nbad == 0 && nres == n ? 0 : 1;
}
