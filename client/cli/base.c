/* SPDX-License-Identifier: MIT */
/*
 * base: what every command of `mtslurm` uses -- dying with a one-line
 * message (the CLI is the one place that may print and exit), reading ids,
 * durations and the library's JSON, connecting to the cluster, printing
 * JSON. Commands sit on this; main.c only parses the command line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_die(int code, const char *fmt, ...)
{
	va_list ap;
	fputs("mtslurm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

void cli_die_api(mts_client *c, int rc)
{
	char msgbuf[600];
	snprintf(msgbuf, sizeof msgbuf, "%s", c && *mts_errmsg(c) ? mts_errmsg(c) : mts_strerror(rc));
	mts_close(c);
	cli_die(1, "%s", msgbuf);
}

msg *cli_parse(const char *json)
{
	char err[128];
	msg *m = msg_parse(json, strlen(json), err, sizeof err);
	if (!m)
		cli_die(1, "the master sent unreadable JSON (%s)", err);
	return m;
}

void cli_counts(const msg *jobs, int64_t *q, int64_t *r, int64_t *done, int64_t *failed, int64_t *cancelled)
{
	*q = *r = *done = *failed = *cancelled = 0;
	msg_get_int(jobs, "queued", q);
	msg_get_int(jobs, "running", r);
	msg_get_int(jobs, "completed", done);
	msg_get_int(jobs, "failed", failed);
	msg_get_int(jobs, "cancelled", cancelled);
}

mts_client *cli_connect(struct cli *cli)
{
	mts_client *c = NULL;
	mts_options o = MTS_OPTIONS_INIT;
	o.name = "mtslurm-cli";
	o.timeout_ms = 10000;
	int rc = mts_connect(&c, cli->run_dir, &o);
	if (rc != MTS_OK)
		cli_die_api(c, rc);
	return c;
}

mts_job_id cli_job_id(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || v <= 0)
		cli_die(2, "'%s' is not a job id (a positive number)", s);
	return (mts_job_id)v;
}

double cli_duration(const char *opt, const char *v)
{
	char *end;
	double x = strtod(v, &end);
	double mul = !*end		  ? 1
		     : !strcmp(end, "s") ? 1
		     : !strcmp(end, "m") ? 60
		     : !strcmp(end, "h") ? 3600
		     : !strcmp(end, "d") ? 86400
					 : -1;
	if (end == v || mul < 0 || !(x >= 0) || x > 1e9)
		cli_die(2, "%s wants a duration like 90, 90s, 5m, 2h or 7d, not '%s'", opt, v);
	return x * mul;
}

void cli_print_json(msg *m)
{
	char *t = msg_print(m);
	if (!t)
		cli_die(1, "out of memory printing JSON");
	printf("%s\n", t);
	free(t);
	msg_free(m);
}
