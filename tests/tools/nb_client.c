/* SPDX-License-Identifier: MIT */
/*
 * nb_client: submits echo jobs one mts_submit_nb call each, from one
 * thread, and checks what the library reports for them (t0310): every job
 * is acknowledged or failed exactly once (on_ack), every acknowledged job
 * calls back exactly once (on_done) with its own output ("nb-<seq>"), the
 * jobs named by --bad (made unrunnable: a dependency on a job that does not
 * exist, which the master refuses) fail with the master's reason through
 * on_ack, on_done and mts_flush, and nothing else fails.
 *   nb_client --jobs N [--bad I,J,...] [--delay S] [--acked FILE]
 *             [--calls FILE] [--timeout S] [--poll]
 *             [--pause-every K --pause-ms MS] [--exec]
 * --acked writes "id" per acknowledged job as on_ack reports it (flushed
 * every 500), --calls "id" per on_done. --pause-every sleeps MS after every
 * K submits, so that a stream lasts (t0310 kills the master during one).
 * --exec submits exec jobs "echo nb-<seq>" instead (environment snapshots). Prints one summary line; exits 1
 * with the first thing that was wrong.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mtslurm.h"

static long njobs;
static unsigned char *is_bad, *acked, *done; /* per job (seq - 1) */
static long nacked, nfailed, ndone, nfaildone, nwrong;
static char first_wrong[512], first_reason[512];
static FILE *acked_f, *calls_f;
static int exec_jobs; /* --exec: "echo nb-<seq>" exec jobs (outputs end in a newline) */

static void wrong(const char *what, long seq)
{
	if (!nwrong++)
		snprintf(first_wrong, sizeof first_wrong, "job %ld: %s", seq, what);
}

static void on_ack(const mts_ack *a, void *arg)
{
	(void)arg;
	long seq = (long)(intptr_t)a->user;
	if (seq < 1 || seq > njobs || (uint64_t)seq != a->seq)
		return wrong("on_ack with a foreign user pointer or seq", seq);
	if (acked[seq - 1]++)
		return wrong("acknowledged twice", seq);
	if (a->err) {
		nfailed++;
		if (!is_bad[seq - 1])
			return wrong(a->error ? a->error : "a good job failed", seq);
		if (!first_reason[0])
			snprintf(first_reason, sizeof first_reason, "%s", a->error ? a->error : "(no reason)");
		return;
	}
	if (is_bad[seq - 1] || a->id <= 0)
		return wrong("a bad job was acknowledged", seq);
	nacked++;
	if (acked_f) {
		fprintf(acked_f, "%lld\n", (long long)a->id);
		if (nacked % 500 == 0)
			fflush(acked_f);
	}
}

static void on_done(const mts_result *r, void *arg)
{
	(void)arg;
	long seq = (long)(intptr_t)r->user;
	char want[64];
	if (seq < 1 || seq > njobs)
		return wrong("on_done with a foreign user pointer", seq);
	if (done[seq - 1]++)
		return wrong("on_done twice", seq);
	if (r->id == 0) {
		nfaildone++;
		if (!is_bad[seq - 1] || r->state != MTS_FAILED || !r->error || strncmp(r->error, "not submitted: ", 15))
			wrong("on_done for a job not submitted, wrongly", seq);
		return;
	}
	snprintf(want, sizeof want, exec_jobs ? "nb-%ld\n" : "nb-%ld", seq);
	if (r->state != MTS_COMPLETED || !r->output || strcmp(r->output, want))
		wrong("wrong result", seq);
	ndone++;
	if (calls_f)
		fprintf(calls_f, "%lld\n", (long long)r->id);
}

struct args {
	const char *bad, *acked_path, *calls_path;
	double delay, timeout_s;
	int poll;
	long pause_every, pause_ms;
};

/* The options into *o (and njobs, exec_jobs); 0, or the exit status. */
static int parse_args(struct args *o, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--poll") || !strcmp(a, "--exec")) {
			*(a[2] == 'p' ? &o->poll : &exec_jobs) = 1;
			continue;
		}
		if (!v)
			return fprintf(stderr, "nb_client: %s needs a value\n", a), 2;
		i++;
		if (!strcmp(a, "--jobs"))
			njobs = atol(v);
		else if (!strcmp(a, "--bad"))
			o->bad = v;
		else if (!strcmp(a, "--delay"))
			o->delay = atof(v);
		else if (!strcmp(a, "--acked"))
			o->acked_path = v;
		else if (!strcmp(a, "--calls"))
			o->calls_path = v;
		else if (!strcmp(a, "--pause-every"))
			o->pause_every = atol(v);
		else if (!strcmp(a, "--pause-ms"))
			o->pause_ms = atol(v);
		else if (!strcmp(a, "--timeout"))
			o->timeout_s = atof(v);
		else
			return fprintf(stderr, "nb_client: unknown option %s\n", a), 2;
	}
	if (njobs <= 0)
		return fprintf(stderr, "nb_client: --jobs N (N > 0) is required\n"), 2;
	return 0;
}

/* One mts_submit_nb per job, in order; 0 or 1 (said why). */
static int submit_all(mts_client *c, const struct args *o)
{
	static const mts_job_id missing_dep = (mts_job_id)1 << 50;
	char input[80];
	for (long s = 1; s <= njobs; s++) {
		mts_job j = MTS_JOB_INIT;
		uint64_t seq = 0;
		snprintf(input, sizeof input, exec_jobs ? "echo nb-%ld" : "nb-%ld", s);
		j.type = exec_jobs ? "exec" : "echo";
		j.input = input;
		j.delay = o->delay;
		j.user = (void *)(intptr_t)s;
		if (is_bad[s - 1]) {
			j.deps = &missing_dep;
			j.ndeps = 1;
		}
		int rc = mts_submit_nb(&seq, c, &j);
		if (rc != MTS_OK || seq != (uint64_t)s)
			return fprintf(stderr, "nb_client: submit %ld: %s (%s)\n", s, mts_strerror(rc), mts_errmsg(c)), 1;
		if (o->poll && s % 1000 == 0)
			mts_poll(c, 0);
		if (o->pause_every > 0 && s % o->pause_every == 0) /* a stream that lasts, for t0310's kill */
			nanosleep(&(struct timespec){o->pause_ms / 1000, (o->pause_ms % 1000) * 1000000L}, NULL);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct args o = {.timeout_s = 120};
	int prc = parse_args(&o, argc, argv);
	if (prc)
		return prc;
	is_bad = calloc((size_t)njobs, 1);
	acked = calloc((size_t)njobs, 1);
	done = calloc((size_t)njobs, 1);
	long nbad = 0;
	for (const char *p = o.bad; p && *p;) {
		long k = strtol(p, (char **)&p, 10);
		if (k >= 1 && k <= njobs && !is_bad[k - 1]++)
			nbad++;
		p += *p == ',';
	}
	acked_f = o.acked_path ? fopen(o.acked_path, "w") : NULL;
	calls_f = o.calls_path ? fopen(o.calls_path, "w") : NULL;
	mts_options mo = MTS_OPTIONS_INIT;
	mo.mode = o.poll ? MTS_POLL : MTS_THREAD;
	mo.on_done = on_done;
	mo.timeout_ms = (int)(o.timeout_s * 1000);
	mo.name = "nb_client";
	mts_client *c;
	if (mts_connect(&c, NULL, &mo) != MTS_OK)
		return fprintf(stderr, "nb_client: %s\n", mts_errmsg(c)), mts_close(c), 1;
	mts_set_on_ack(c, on_ack);
	if (submit_all(c, &o))
		return 1;
	int frc = mts_flush(c, (int)(o.timeout_s * 1000));
	if (nbad ? frc != MTS_EREJECTED : frc != MTS_OK)
		return fprintf(stderr, "nb_client: mts_flush: %s (%s), %ld bad jobs\n", mts_strerror(frc), mts_errmsg(c),
			       nbad),
		       1;
	if (nbad)
		printf("flush: %s\n", mts_errmsg(c));
	if (mts_flush(c, 1000) != MTS_OK)
		return fprintf(stderr, "nb_client: a second mts_flush failed again: %s\n", mts_errmsg(c)), 1;
	int wrc = mts_wait_all(c, (int)(o.timeout_s * 1000));
	if (wrc != MTS_OK)
		return fprintf(stderr, "nb_client: mts_wait_all: %s (%s)\n", mts_strerror(wrc), mts_errmsg(c)), 1;
	mts_close(c);
	if (acked_f)
		fclose(acked_f);
	if (calls_f)
		fclose(calls_f);
	printf("submitted %ld acked %ld failed %ld done %ld faildone %ld wrong %ld\n", njobs, nacked, nfailed, ndone,
	       nfaildone, nwrong);
	if (first_reason[0])
		printf("reason: %s\n", first_reason);
	if (nwrong)
		return fprintf(stderr, "nb_client: %s\n", first_wrong), 1;
	if (nacked + nfailed != njobs || nfailed != nbad || ndone != nacked || nfaildone != nbad)
		return fprintf(stderr, "nb_client: counts do not add up\n"), 1;
	return 0;
}
