/* SPDX-License-Identifier: MIT */
/*
 * cmds: the `mtslurm` commands that talk to a running master -- submit,
 * wait, status, jobs, workers, logs, cancel. Each is a thin layer over
 * libmtslurm; what they print is documented in docs/user-guide.md and relied
 * on by the system tests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "joblog.h"
#include "msg.h"
#include "util.h"

#define STDIN_CHUNK 200000 /* lines per mts_submit_batch call */

static msg *parse_or_die(const char *s)
{
	char err[128];
	msg *m = msg_parse(s, strlen(s), err, sizeof err);
	if (!m)
		cli_die(1, "the master sent unreadable JSON (%s)", err);
	return m;
}

static void die_api(mts_client *c, int rc)
{
	char msgbuf[600];
	snprintf(msgbuf, sizeof msgbuf, "%s", *mts_errmsg(c) ? mts_errmsg(c) : mts_strerror(rc));
	mts_close(c);
	cli_die(1, "%s", msgbuf);
}

/* --after 1,2,3 */
static size_t parse_deps(const char *s, mts_job_id **out)
{
	size_t n = 0;
	*out = NULL;
	if (!s)
		return 0;
	char *copy = strdup(s);
	mts_job_id *v = calloc(strlen(s) / 2 + 2, sizeof *v);
	if (!copy || !v)
		cli_die(1, "out of memory");
	for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		v[n++] = cli_job_id(tok);
	free(copy);
	*out = v;
	return n;
}

int cmd_submit(struct cli *cli)
{
	if (!cli->kind)
		cli_die(2, "say what to run: --exec CMD, --echo MSG or --func LIB.so:function [JSON]");
	mts_job tmpl = MTS_JOB_INIT;
	char cwd[RUNDIR_PATH_MAX], target[RUNDIR_PATH_MAX + 256];
	const char *envv[CLI_MAX_ENV + 1];
	tmpl.type = cli->kind;
	tmpl.delay = cli->delay;
	tmpl.prio = cli->prio;
	tmpl.retries = cli->retries;
	tmpl.timeout = cli->timeout_s > 0 ? cli->timeout_s : 0;
	mts_job_id *deps;
	tmpl.ndeps = parse_deps(cli->after, &deps);
	tmpl.deps = deps;
	if (!strcmp(cli->kind, "exec")) {
		if (cli->cwd) {
			util_strlcpy(cwd, cli->cwd, sizeof cwd);
		} else if (!getcwd(cwd, sizeof cwd)) {
			cli_die(1, "cannot get the current directory: %s", strerror(errno));
		}
		tmpl.cwd = cwd;
		for (int i = 0; i < cli->nenv; i++)
			envv[i] = cli->env[i];
		envv[cli->nenv] = NULL;
		if (cli->nenv)
			tmpl.env = envv;
	}
	if (!strcmp(cli->kind, "func")) {
		const char *colon = strrchr(cli->value, ':');
		if (!colon || colon == cli->value || !colon[1])
			cli_die(2, "--func wants LIB.so:function, not '%s'", cli->value);
		if (cli->value[0] == '/') {
			util_strlcpy(target, cli->value, sizeof target);
		} else {
			char here[RUNDIR_PATH_MAX];
			if (!getcwd(here, sizeof here))
				cli_die(1, "cannot get the current directory: %s", strerror(errno));
			snprintf(target, sizeof target, "%s/%s", here, cli->value);
		}
		tmpl.target = target;
	}
	if (!cli->use_stdin) {
		if (!strcmp(cli->kind, "func"))
			tmpl.input = cli->npos ? cli->pos[0] : "{}";
		else if (cli->value)
			tmpl.input = cli->value;
		else if (cli->npos)
			tmpl.input = cli->pos[0];
		else
			cli_die(2, "--%s needs a %s (or --stdin for one job per input line)", cli->kind,
				!strcmp(cli->kind, "exec") ? "command" : "message");
	}
	mts_client *c = cli_connect(cli);
	if (!cli->use_stdin) {
		mts_job_id id;
		int rc = mts_submit(&id, c, &tmpl);
		if (rc != MTS_OK)
			die_api(c, rc);
		printf("%lld\n", (long long)id);
		mts_close(c);
		return 0;
	}
	/* One job per input line, submitted in large pipelined batches; ids are
	 * printed only after their batch was acknowledged. */
	mts_job *jobs = calloc(STDIN_CHUNK, sizeof *jobs);
	char **lines = calloc(STDIN_CHUNK, sizeof *lines);
	mts_job_id *ids = calloc(STDIN_CHUNK, sizeof *ids);
	if (!jobs || !lines || !ids)
		cli_die(1, "out of memory");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	size_t n = 0, total = 0;
	int eof = 0;
	while (!eof) {
		len = getline(&line, &cap, stdin);
		if (len < 0)
			eof = 1;
		else {
			while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
				line[--len] = '\0';
			if (!len && strcmp(cli->kind, "echo"))
				continue; /* an empty command or argument is no job */
			lines[n] = strdup(line);
			if (!lines[n])
				cli_die(1, "out of memory");
			jobs[n] = tmpl;
			jobs[n].input = lines[n];
			n++;
		}
		if (n == STDIN_CHUNK || (eof && n)) {
			int rc = mts_submit_batch(ids, c, jobs, n);
			if (rc != MTS_OK)
				die_api(c, rc);
			for (size_t i = 0; i < n; i++) {
				printf("%lld\n", (long long)ids[i]);
				free(lines[i]);
			}
			total += n;
			n = 0;
		}
	}
	free(line);
	free(jobs);
	free(lines);
	free(ids);
	free(deps);
	fflush(stdout);
	mts_close(c);
	if (!total)
		fprintf(stderr, "mtslurm: no input lines, no jobs submitted\n");
	return 0;
}

static void counts_of(msg *jobs, int64_t *q, int64_t *r, int64_t *done, int64_t *failed, int64_t *cancelled)
{
	*q = *r = *done = *failed = *cancelled = 0;
	msg_get_int(jobs, "queued", q);
	msg_get_int(jobs, "running", r);
	msg_get_int(jobs, "completed", done);
	msg_get_int(jobs, "failed", failed);
	msg_get_int(jobs, "cancelled", cancelled);
}

/* Redraw a progress line from the cluster's status until nothing is queued
 * or running (terminal only). */
static void progress(mts_client *c, double deadline)
{
	double last = 0;
	for (;;) {
		char *s = NULL;
		if (mts_status(&s, c) != MTS_OK)
			return;
		msg *m = parse_or_die(s);
		mts_free(s);
		int64_t q, r, d, f, x;
		counts_of(msg_get(m, "jobs"), &q, &r, &d, &f, &x);
		msg_free(m);
		int64_t total = q + r + d + f + x;
		double frac = total ? (double)(d + f + x) / (double)total : 1;
		int width = 30, fill = (int)(frac * width);
		char bar[64];
		for (int i = 0; i < width; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[width] = '\0';
		fprintf(stderr, "\r[%s] %5.1f%%  %lld done, %lld failed, %lld cancelled, %lld running, %lld queued ", bar,
			100 * frac, (long long)d, (long long)f, (long long)x, (long long)r, (long long)q);
		if (q + r == 0)
			break;
		double now = util_wall();
		if (deadline > 0 && now > deadline)
			break;
		(void)last;
		last = now;
		struct timespec ts = {0, 150000000L};
		nanosleep(&ts, NULL);
	}
	fputc('\n', stderr);
}

int cmd_wait(struct cli *cli)
{
	if (!cli->all && !cli->npos)
		cli_die(2, "wait for what? --all, or job ids");
	mts_client *c = cli_connect(cli);
	int timeout_ms = cli->timeout_s >= 0 ? (int)(cli->timeout_s * 1000) : -1;
	if (cli->all && isatty(2))
		progress(c, cli->timeout_s >= 0 ? util_wall() + cli->timeout_s : 0);
	char *counts = NULL;
	int rc;
	if (cli->all) {
		rc = mts_wait_cluster(&counts, c, timeout_ms);
	} else {
		mts_job_id *ids = calloc((size_t)cli->npos, sizeof *ids);
		if (!ids)
			cli_die(1, "out of memory");
		for (int i = 0; i < cli->npos; i++)
			ids[i] = cli_job_id(cli->pos[i]);
		rc = mts_wait_jobs(&counts, c, ids, (size_t)cli->npos, timeout_ms);
		free(ids);
	}
	if (rc == MTS_ETIMEDOUT) {
		mts_close(c);
		cli_die(2, "timed out after %.0f s with jobs still queued or running", cli->timeout_s);
	}
	if (rc != MTS_OK)
		die_api(c, rc);
	msg *m = parse_or_die(counts);
	mts_free(counts);
	int64_t q, r, d, f, x;
	counts_of(m, &q, &r, &d, &f, &x);
	msg_free(m);
	mts_close(c);
	if (f || x) {
		fprintf(stderr, "mtslurm: %lld completed, %lld failed, %lld cancelled (mtslurm jobs --state failed)\n",
			(long long)d, (long long)f, (long long)x);
		return 1;
	}
	if (isatty(1))
		printf("mtslurm: %lld completed\n", (long long)d);
	return 0;
}

int cmd_status(struct cli *cli)
{
	mts_client *c = cli_connect(cli);
	char *s = NULL;
	int rc = mts_status(&s, c);
	if (rc != MTS_OK)
		die_api(c, rc);
	mts_close(c);
	if (cli->json) {
		printf("%s\n", s);
		mts_free(s);
		return 0;
	}
	msg *m = parse_or_die(s);
	mts_free(s);
	msg *ma = msg_get(m, "master"), *w = msg_get(m, "workers");
	int64_t port = 0, pid = 0, conn = 0, slots = 0, busy = 0, q, r, d, f, x;
	double up = 0;
	msg_get_int(ma, "port", &port);
	msg_get_int(ma, "pid", &pid);
	msg_get_num(ma, "uptime", &up);
	msg_get_int(w, "connected", &conn);
	msg_get_int(w, "slots", &slots);
	msg_get_int(w, "busy_slots", &busy);
	counts_of(msg_get(m, "jobs"), &q, &r, &d, &f, &x);
	printf("master   %s:%lld (pid %lld, node %s), up %.0f s\n", msg_get_str(ma, "host"), (long long)port,
	       (long long)pid, msg_get_str(ma, "node") ? msg_get_str(ma, "node") : "?", up);
	printf("workers  %lld connected, %lld slots, %lld busy\n", (long long)conn, (long long)slots,
	       (long long)busy);
	printf("jobs     %lld queued, %lld running, %lld completed, %lld failed, %lld cancelled\n", (long long)q,
	       (long long)r, (long long)d, (long long)f, (long long)x);
	printf("run dir  %s\n", cli->run_dir);
	msg_free(m);
	return 0;
}

static void print_cell(const char *s, int width)
{
	char out[128];
	int k = 0;
	for (; s && *s && k < width && k < (int)sizeof out - 1; s++)
		out[k++] = (*s == '\n' || *s == '\t') ? ' ' : *s;
	out[k] = '\0';
	printf("%-*s", width, out);
}

int cmd_jobs(struct cli *cli)
{
	static const char *states[] = {"queued", "running", "completed", "failed", "cancelled", NULL};
	if (cli->state) {
		int ok = 0;
		for (int i = 0; states[i]; i++)
			ok |= !strcmp(states[i], cli->state);
		if (!ok)
			cli_die(2, "--state wants queued, running, completed, failed or cancelled, not '%s'", cli->state);
	}
	mts_client *c = cli_connect(cli);
	mts_job_id after = 0, next = 0;
	long left = cli->limit > 0 ? cli->limit : -1;
	int first = 1;
	if (cli->json)
		fputs("[", stdout);
	else
		printf("%-10s %-10s %-5s %-8s %-24s %s\n", "ID", "STATE", "TYPE", "ATTEMPTS", "WORKER", "OUTPUT/ERROR");
	do {
		char *s = NULL;
		int lim = left < 0 || left > 10000 ? 10000 : (int)left;
		int rc = mts_jobs(&s, &next, c, cli->state, after, lim);
		if (rc != MTS_OK)
			die_api(c, rc);
		msg *m = parse_or_die(s);
		mts_free(s);
		for (msg *j = msg_child(m); j; j = msg_next(j)) {
			if (cli->json) {
				char *t = msg_print(j);
				printf("%s%s", first ? "" : ",", t ? t : "null");
				free(t);
			} else {
				int64_t id = 0, att = 0;
				msg_get_int(j, "id", &id);
				msg_get_int(j, "attempts", &att);
				const char *out = msg_get_str(j, "error") ? msg_get_str(j, "error") : msg_get_str(j, "output");
				printf("%-10lld %-10s %-5s %-8lld ", (long long)id, msg_get_str(j, "state"),
				       msg_get_str(j, "type"), (long long)att);
				print_cell(msg_get_str(j, "worker") ? msg_get_str(j, "worker") : "-", 24);
				putchar(' ');
				print_cell(out ? out : "", 60);
				putchar('\n');
			}
			first = 0;
			if (left > 0)
				left--;
		}
		msg_free(m);
		after = next;
	} while (next && left != 0);
	if (cli->json)
		fputs("]\n", stdout);
	mts_close(c);
	return 0;
}

int cmd_workers(struct cli *cli)
{
	mts_client *c = cli_connect(cli);
	char *s = NULL;
	int rc = mts_workers(&s, c);
	if (rc != MTS_OK)
		die_api(c, rc);
	mts_close(c);
	if (cli->json) {
		printf("%s\n", s);
		mts_free(s);
		return 0;
	}
	msg *m = parse_or_die(s);
	mts_free(s);
	printf("%-24s %-12s %-8s %-5s %-6s %-8s %-8s %s\n", "ID", "NODE", "PID", "RANK", "SLOTS", "RUNNING", "DONE",
	       "STATE");
	for (msg *w = msg_child(m); w; w = msg_next(w)) {
		int64_t pid = 0, rank = 0, slots = 0, running = 0, done = 0;
		msg_get_int(w, "pid", &pid);
		msg_get_int(w, "rank", &rank);
		msg_get_int(w, "slots", &slots);
		msg_get_int(w, "running", &running);
		msg_get_int(w, "done", &done);
		print_cell(msg_get_str(w, "id"), 24);
		printf(" %-12s %-8lld %-5lld %-6lld %-8lld %-8lld %s\n",
		       msg_get_str(w, "node") ? msg_get_str(w, "node") : "?", (long long)pid, (long long)rank,
		       (long long)slots, (long long)running, (long long)done,
		       msg_get_str(w, "state") ? msg_get_str(w, "state") : "?");
	}
	msg_free(m);
	return 0;
}

struct logsel {
	const char *stream; /* NULL: both */
};

static int emit(void *arg, const char *stream, const char *data, size_t n)
{
	struct logsel *sel = arg;
	if (sel->stream && strcmp(sel->stream, stream))
		return 0;
	fwrite(data, 1, n, strcmp(stream, "err") ? stdout : stderr);
	return 0;
}

int cmd_logs(struct cli *cli)
{
	if (cli->npos != 1)
		cli_die(2, "logs wants one job id");
	mts_job_id id = cli_job_id(cli->pos[0]);
	mts_client *c = cli_connect(cli);
	char *s = NULL;
	int rc = mts_jobs_by_id(&s, c, &id, 1);
	if (rc != MTS_OK)
		die_api(c, rc);
	mts_close(c);
	msg *m = parse_or_die(s);
	mts_free(s);
	msg *j = msg_child(m);
	if (!j) {
		msg_free(m);
		cli_die(1, "no such job: %lld", (long long)id);
	}
	int64_t att = 0;
	msg_get_int(j, "attempts", &att);
	const char *state = msg_get_str(j, "state");
	if (att == 0) {
		fprintf(stderr, "mtslurm: job %lld has not started yet (%s)\n", (long long)id, state ? state : "?");
		msg_free(m);
		return 0;
	}
	char logs[RUNDIR_PATH_MAX], err[512];
	rundir_path(logs, cli->run_dir, "logs");
	struct logsel sel = {cli->stream};
	fflush(stdout);
	int n = joblog_read_dir(logs, id, (int)att, emit, &sel, err, sizeof err);
	fflush(stdout);
	if (n < 0) {
		msg_free(m);
		cli_die(1, "%s", err);
	}
	if (n == 0 && state && strcmp(state, "running") && strcmp(state, "queued") && isatty(2))
		fprintf(stderr, "mtslurm: job %lld wrote no output\n", (long long)id);
	msg_free(m);
	return 0;
}

int cmd_cancel(struct cli *cli)
{
	if (!cli->all && !cli->npos)
		cli_die(2, "cancel what? job ids, or --all");
	mts_client *c = cli_connect(cli);
	size_t n = 0;
	int rc;
	mts_job_id *ids = NULL;
	if (cli->all) {
		rc = mts_cancel_all(&n, c);
	} else {
		ids = calloc((size_t)cli->npos, sizeof *ids);
		if (!ids)
			cli_die(1, "out of memory");
		for (int i = 0; i < cli->npos; i++)
			ids[i] = cli_job_id(cli->pos[i]);
		rc = mts_cancel(&n, c, ids, (size_t)cli->npos);
	}
	if (rc != MTS_OK && rc != MTS_EUNKNOWN_JOB)
		die_api(c, rc);
	printf("cancelled %zu jobs\n", n);
	int code = 0;
	if (rc == MTS_EUNKNOWN_JOB) {
		fprintf(stderr, "mtslurm: %s\n", mts_errmsg(c));
		code = 1;
	}
	if (ids && n < (size_t)cli->npos) {
		/* Say which of the ids were already final. */
		char *s = NULL;
		if (mts_jobs_by_id(&s, c, ids, (size_t)cli->npos) == MTS_OK) {
			msg *m = parse_or_die(s);
			for (msg *j = msg_child(m); j; j = msg_next(j)) {
				const char *st = msg_get_str(j, "state");
				int64_t jid = 0;
				msg_get_int(j, "id", &jid);
				if (st && strcmp(st, "queued") && strcmp(st, "running") && strcmp(st, "cancelled"))
					fprintf(stderr, "mtslurm: job %lld already %s\n", (long long)jid, st);
			}
			msg_free(m);
			mts_free(s);
		}
	}
	free(ids);
	mts_close(c);
	return code;
}
