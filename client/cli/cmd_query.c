/* SPDX-License-Identifier: MIT */
/*
 * cmd_query: the read-only commands -- `mtslurm status`, `jobs`, `workers`
 * and `logs`. Each prints a table for people or, with --json, the master's
 * JSON for scripts; `jobs` pages through the protocol's `next` so any number
 * of jobs can be listed; `logs` reads a job's output back out of the
 * workers' record files (share/joblog.h), and falls back to the output and
 * error the master recorded when those hold nothing for the job (echo jobs).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "buf.h"
#include "cli.h"
#include "auth.h"
#include "joblog.h"
#include "msg.h"

/* Batch mode, master not answering: what the batch system says about the jobs. */
static int status_no_master(struct cli *cli)
{
	if (cli->json) {
		msg *m = msg_new_object();
		cli_batch_status(cli, m, NULL);
		char *t = msg_print(m);
		printf("%s\n", t ? t : "{}");
		free(t);
		msg_free(m);
	} else {
		cli_batch_status(cli, NULL, NULL);
	}
	cli_die(1, "the master of %s does not answer (its batch jobs are above); mtslurm start restarts it",
		cli->run_dir);
}

/* "2026-11-30 04:46:47" (local time) of a unix time. */
static void local_time(char *out, size_t n, double t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!localtime_r(&tt, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(out, n, "%.0f", t);
}

/* The warnings of a status (a JSON array of strings): no worker while jobs
 * wait, or fewer workers connected than the cluster should have (expected:
 * launch.json's, or the tasks of the worker jobs Slurm runs; < 0: not
 * known). Autoscaling clusters grow and shrink by design: no warning while
 * the autoscaler runs. */
static msg *status_warnings(const msg *st, int expected)
{
	msg *a = msg_new_array(), *w = msg_get(st, "workers"), *as = msg_get(st, "autoscale");
	int64_t conn = 0, lost = 0, q = 0;
	char text[400];
	msg_get_int(w, "connected", &conn);
	msg_get_int(w, "lost", &lost);
	msg_get_int(msg_get(st, "jobs"), "queued", &q);
	if (as && !msg_get_str(as, "stopped"))
		return a;
	if (conn == 0 && q > 0) {
		snprintf(text, sizeof text,
			 "0 workers connected and %lld jobs queued: nothing will run; add workers with `mtslurm "
			 "add-workers -n N`",
			 (long long)q);
		msg_push(a, msg_new_str(text));
	} else if (expected >= 0 && conn < expected) {
		snprintf(text, sizeof text,
			 "%lld of %d workers are connected (%lld lost since the master started: `mtslurm workers "
			 "--all` says why); add workers with `mtslurm add-workers -n %lld`",
			 (long long)conn, expected, (long long)lost, (long long)(expected - conn));
		msg_push(a, msg_new_str(text));
	}
	return a;
}

/* The lost workers of a status, newest first, at most max lines. */
/* The HTTP service's base URL with the API token as its first path
 * segment (for clients that cannot set headers, such as mindtrace's):
 * URL/TOKEN. -1 if there is no service or no readable token. */
static int http_base(const struct cli *cli, const char *url, char *out, size_t n)
{
	char path[RUNDIR_PATH_MAX], tok[AUTH_HEX_BYTES], err[300];
	if (!url || !*url || rundir_path(path, cli->run_dir, "token") || auth_token_load(tok, path, 0, err, sizeof err))
		return -1;
	return snprintf(out, n, "%s/%s", url, tok) >= (int)n ? -1 : 0;
}

static void print_http(const struct cli *cli, const char *url)
{
	char base[400];
	if (!url || !*url)
		return;
	printf("http     %s/  (dashboard and API; token in %s/token)\n", url, cli->run_dir);
	if (http_base(cli, url, base, sizeof base) == 0)
		printf("         %s/  (base URL with the token, for mindtrace clients)\n", base);
}

static void print_lost(const msg *w, int max)
{
	int k = 0;
	for (msg *l = msg_child(msg_get(w, "lost_recent")); l && k < max; l = msg_next(l), k++) {
		int64_t pid = 0, rank = 0, jobs = 0, rq = 0, failed = 0;
		double at = 0;
		char when[64];
		msg_get_int(l, "pid", &pid);
		msg_get_int(l, "rank", &rank);
		msg_get_int(l, "jobs", &jobs);
		msg_get_int(l, "requeued", &rq);
		msg_get_int(l, "failed", &failed);
		msg_get_num(l, "at", &at);
		local_time(when, sizeof when, at);
		printf("lost     %s %s (node %s, pid %lld, rank %lld): %s; %lld jobs: %lld requeued, %lld failed\n", when,
		       msg_get_str(l, "id") ? msg_get_str(l, "id") : "?", msg_get_str(l, "node") ? msg_get_str(l, "node") : "?",
		       (long long)pid, (long long)rank, msg_get_str(l, "reason") ? msg_get_str(l, "reason") : "?",
		       (long long)jobs, (long long)rq, (long long)failed);
	}
}

static void print_autoscale(const msg *as)
{
	int64_t max = 0;
	double idle = 0;
	msg_get_int(as, "max_workers", &max);
	msg_get_num(as, "idle_timeout", &idle);
	printf("autoscale up to %lld workers, idle timeout %.0f s\n", (long long)max, idle);
	const char *backend = msg_get_str(as, "backend") ? msg_get_str(as, "backend") : "slurm";
	for (msg *j = msg_child(msg_get(as, "allocations")); j; j = msg_next(j)) {
		int64_t n = 0, tasks = 0;
		char id[64]; /* Slurm's ids are numbers, PBS's and local ones ("PID@START") strings */
		if (msg_get_str(j, "id"))
			snprintf(id, sizeof id, "%s", msg_get_str(j, "id"));
		else
			snprintf(id, sizeof id, "%lld", msg_get_int(j, "id", &n) ? 0LL : (long long)n);
		msg_get_int(j, "tasks", &tasks);
		const char *st = msg_get_str(j, "state"), *reason = msg_get_str(j, "reason");
		if (st && strcmp(st, "ended") == 0)
			continue;
		printf("%-8s autoscaled workers job %s (%lld task%s): %s%s%s%s\n", backend, id,
		       (long long)tasks, tasks == 1 ? "" : "s", msg_get_str(j, "slurm_state"),
		       reason ? " (" : "", reason ? reason : "", reason ? ")" : "");
	}
	if (msg_get_str(as, "stopped"))
		printf("autoscale stopped: %s\n", msg_get_str(as, "stopped"));
	else if (msg_get_str(as, "last_error"))
		printf("autoscale last error: %s\n", msg_get_str(as, "last_error"));
}

/* A cluster started locally or in an allocation (launch.json): its mode,
 * and the allocation's system and id -- into m (--json: "mode",
 * "allocation":{"backend","id"}), or printed (only in an allocation). */
static void status_launch(struct cli *cli, msg *m)
{
	char mode[16], backend[16], id[64], err[200];
	if (cli_launch_mode(cli, mode, backend, id))
		return;
	const struct batch_ops *ops = backend[0] ? batch_find(backend, err, sizeof err) : NULL;
	if (m) {
		msg_set_str(m, "mode", mode);
		if (backend[0]) {
			msg *a = msg_new_object();
			msg_set_str(a, "backend", backend);
			msg_set_str(a, "id", id);
			msg_add(m, "allocation", a);
		}
	} else if (backend[0]) { /* a local cluster's status stays as it was */
		printf("mode     %s: inside %s job %s (start --in-allocation)\n", mode, ops ? ops->title : backend, id);
	}
}

int cmd_status(struct cli *cli)
{
	int slurm = cli_batch_mode(cli) != NULL;
	mts_client *c = slurm ? cli_connect_quiet(cli) : cli_connect(cli);
	if (!c)
		return status_no_master(cli);
	char *s = NULL;
	int rc = mts_status(&s, c);
	if (rc != MTS_OK)
		cli_die_api(c, rc);
	mts_close(c);
	msg *m = cli_parse(s);
	mts_free(s);
	int expected = -1;
	if (cli->json) {
		if (slurm)
			cli_batch_status(cli, m, &expected);
		else
			expected = cli_expected_workers(cli);
		if (!slurm)
			status_launch(cli, m);
		if (expected >= 0)
			msg_set_int(msg_get(m, "workers"), "expected", expected);
		msg_add(m, "warnings", status_warnings(m, expected));
		char base[400];
		if (http_base(cli, msg_get_str(msg_get(m, "master"), "http"), base, sizeof base) == 0)
			msg_set_str(msg_get(m, "master"), "http_base", base);
		char *t = msg_print(m);
		if (!t)
			cli_die(1, "out of memory");
		printf("%s\n", t);
		free(t);
		msg_free(m);
		return 0;
	}
	msg *ma = msg_get(m, "master"), *w = msg_get(m, "workers");
	int64_t port = 0, pid = 0, conn = 0, slots = 0, busy = 0, lost = 0, q, r, d, f, x;
	double up = 0;
	msg_get_int(ma, "port", &port);
	msg_get_int(ma, "pid", &pid);
	msg_get_num(ma, "uptime", &up);
	msg_get_int(w, "connected", &conn);
	msg_get_int(w, "slots", &slots);
	msg_get_int(w, "busy_slots", &busy);
	msg_get_int(w, "lost", &lost);
	cli_counts(msg_get(m, "jobs"), &q, &r, &d, &f, &x);
	int64_t pre = 0; /* assigned to a worker, not started yet */
	msg_get_int(msg_get(m, "jobs"), "prefetched", &pre);
	printf("master   %s:%lld (pid %lld, node %s), up %.0f s\n", msg_get_str(ma, "host"), (long long)port,
	       (long long)pid, msg_get_str(ma, "node") ? msg_get_str(ma, "node") : "?", up);
	printf("workers  %lld connected, %lld slots, %lld busy", (long long)conn, (long long)slots, (long long)busy);
	if (lost)
		printf("; %lld lost since the master started", (long long)lost);
	putchar('\n');
	print_lost(w, 5);
	printf("jobs     %lld queued, %lld prefetched, %lld running, %lld completed, %lld failed, %lld cancelled\n",
	       (long long)q, (long long)pre, (long long)r, (long long)d, (long long)f, (long long)x);
	print_http(cli, msg_get_str(ma, "http"));
	printf("run dir  %s\n", cli->run_dir);
	if (!slurm)
		status_launch(cli, NULL);
	if (slurm)
		cli_batch_status(cli, NULL, &expected);
	else
		expected = cli_expected_workers(cli);
	msg *as = msg_get(m, "autoscale");
	if (as)
		print_autoscale(as);
	msg *warn = status_warnings(m, expected);
	for (msg *e = msg_child(warn); e; e = msg_next(e))
		printf("warning  %s\n", msg_str(e));
	msg_free(warn);
	msg_free(m);
	return 0;
}

/* One table cell on one line: newlines and tabs become spaces, cut at width
 * characters; padded to width unless it is the last column. */
static void print_cell(const char *s, int width, int last)
{
	char out[128];
	int k = 0;
	for (; s && *s && k < width && k < (int)sizeof out - 1; s++)
		out[k++] = (*s == '\n' || *s == '\t' || *s == '\r') ? ' ' : *s;
	while (last && k > 0 && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
	printf("%-*s", last ? 0 : width, out);
}

/* One job record as a table row or (json) an array element. */
static void print_job(const msg *j, int json, int *first)
{
	if (json) {
		char *t = msg_print(j);
		printf("%s%s", *first ? "" : ",", t ? t : "null");
		free(t);
	} else {
		int64_t id = 0, att = 0;
		msg_get_int(j, "id", &id);
		msg_get_int(j, "attempts", &att);
		const char *out = msg_get_str(j, "error") ? msg_get_str(j, "error") : msg_get_str(j, "output");
		printf("%-10lld %-10s %-5s %-8lld ", (long long)id, msg_get_str(j, "state"), msg_get_str(j, "type"),
		       (long long)att);
		print_cell(msg_get_str(j, "worker") ? msg_get_str(j, "worker") : "-", 24, 0);
		putchar(' ');
		print_cell(out ? out : "", 60, 1);
		putchar('\n');
	}
	*first = 0;
}

/* `jobs ID...`: those records, in the order given (each once), filtered by
 * --state and --limit; ids that do not exist are named on stderr (exit 1)
 * after the listing. */
static int jobs_by_id(struct cli *cli, mts_client *c, int *first)
{
	size_t n = (size_t)cli->npos;
	mts_job_id *ids = calloc(n, sizeof *ids);
	if (!ids)
		cli_die(1, "out of memory");
	for (size_t i = 0; i < n; i++)
		ids[i] = cli_job_id(cli->pos[i]);
	struct buf missing = BUF_INIT;
	size_t nmissing = 0;
	long left = cli->limit > 0 ? cli->limit : -1;
	msg *recs = cli_records(c, ids, n);
	struct cli_recidx idx;
	cli_recidx_build(&idx, recs);
	for (size_t i = 0; i < n; i++) {
		struct cli_rec *r = cli_recidx_find(&idx, ids[i]);
		if (!r) {
			int dup = 0; /* a missing id given twice is named once */
			for (size_t d = 0; d < i && !dup; d++)
				dup = ids[d] == ids[i];
			if (!dup && nmissing++ < 20)
				buf_addf(&missing, "%s%lld", nmissing > 1 ? ", " : "", (long long)ids[i]);
			continue;
		}
		if (r->seen++ || left == 0 || (cli->state && strcmp(cli->state, msg_get_str(r->rec, "state"))))
			continue;
		print_job(r->rec, cli->json, first);
		if (left > 0)
			left--;
	}
	cli_recidx_free(&idx);
	msg_free(recs);
	free(ids);
	if (!nmissing)
		return 0;
	if (cli->json)
		fputs("]\n", stdout);
	fflush(stdout);
	mts_close(c);
	cli_die(1, "no such job%s: %s%s; mtslurm jobs lists the jobs", nmissing > 1 ? "s" : "", missing.p,
		nmissing > 20 ? " and more" : "");
}

int cmd_jobs(struct cli *cli)
{
	if (cli->array)
		return cli_jobs_array(cli);
	static const char *states[] = {"queued", "prefetched", "running", "completed", "failed", "cancelled", NULL};
	if (cli->state) {
		int ok = 0;
		for (int i = 0; states[i]; i++)
			ok |= !strcmp(states[i], cli->state);
		if (!ok)
			cli_die(2, "--state wants queued, prefetched, running, completed, failed or cancelled, not '%s'",
				cli->state);
	}
	for (int i = 0; i < cli->npos; i++)
		cli_job_id(cli->pos[i]);
	mts_client *c = cli_connect(cli);
	mts_job_id after = 0, next = 0;
	long left = cli->limit > 0 ? cli->limit : -1;
	int first = 1;
	if (cli->json)
		fputs("[", stdout);
	else
		printf("%-10s %-10s %-5s %-8s %-24s %s\n", "ID", "STATE", "TYPE", "ATTEMPTS", "WORKER", "OUTPUT/ERROR");
	if (cli->npos) {
		jobs_by_id(cli, c, &first);
		next = 0;
		left = 0;
	}
	while (left != 0) {
		char *s = NULL;
		int lim = left < 0 || left > 10000 ? 10000 : (int)left;
		int rc = mts_jobs(&s, &next, c, cli->state, after, lim);
		if (rc != MTS_OK)
			cli_die_api(c, rc);
		msg *m = cli_parse(s);
		mts_free(s);
		for (msg *j = msg_child(m); j; j = msg_next(j)) {
			print_job(j, cli->json, &first);
			if (left > 0)
				left--;
		}
		msg_free(m);
		after = next;
		if (!next)
			break;
	}
	if (cli->json)
		fputs("]\n", stdout);
	mts_close(c);
	return 0;
}

/* Append the status's lost workers (newest first) to the array into as
 * worker objects of state "lost", for workers --all. */
static void add_lost_workers(mts_client *c, msg *into)
{
	char *s = NULL;
	int rc = mts_status(&s, c);
	if (rc != MTS_OK)
		cli_die_api(c, rc);
	msg *st = cli_parse(s);
	mts_free(s);
	for (msg *l = msg_child(msg_get(msg_get(st, "workers"), "lost_recent")); l; l = msg_next(l)) {
		msg *o = msg_dup(l);
		if (!o || msg_set_str(o, "state", "lost") || msg_push(into, o))
			cli_die(1, "out of memory");
	}
	msg_free(st);
}

static void print_worker_row(const msg *w)
{
	int64_t pid = 0, rank = 0, slots = 0, running = 0, done = 0;
	msg_get_int(w, "pid", &pid);
	msg_get_int(w, "rank", &rank);
	msg_get_int(w, "slots", &slots);
	msg_get_int(w, "running", &running);
	msg_get_int(w, "done", &done);
	print_cell(msg_get_str(w, "id"), 24, 0);
	printf(" %-12s %-8lld %-5lld %-6lld %-8lld %-8lld %s\n", msg_get_str(w, "node") ? msg_get_str(w, "node") : "?",
	       (long long)pid, (long long)rank, (long long)slots, (long long)running, (long long)done,
	       msg_get_str(w, "state") ? msg_get_str(w, "state") : "?");
}

/* A lost worker's row: slots, running and done are no longer known; the
 * state column says when and why. */
static void print_lost_row(const msg *l)
{
	int64_t pid = 0, rank = 0;
	double at = 0;
	char when[64];
	msg_get_int(l, "pid", &pid);
	msg_get_int(l, "rank", &rank);
	msg_get_num(l, "at", &at);
	local_time(when, sizeof when, at);
	print_cell(msg_get_str(l, "id"), 24, 0);
	printf(" %-12s %-8lld %-5lld %-6s %-8s %-8s lost %s: %s\n", msg_get_str(l, "node") ? msg_get_str(l, "node") : "?",
	       (long long)pid, (long long)rank, "-", "-", "-", when,
	       msg_get_str(l, "reason") ? msg_get_str(l, "reason") : "?");
}

int cmd_workers(struct cli *cli)
{
	mts_client *c = cli_connect(cli);
	char *s = NULL;
	int rc = mts_workers(&s, c);
	if (rc != MTS_OK)
		cli_die_api(c, rc);
	msg *m = cli_parse(s);
	mts_free(s);
	if (cli->all)
		add_lost_workers(c, m);
	mts_close(c);
	if (cli->json) {
		cli_print_json(m);
		return 0;
	}
	printf("%-24s %-12s %-8s %-5s %-6s %-8s %-8s %s\n", "ID", "NODE", "PID", "RANK", "SLOTS", "RUNNING", "DONE",
	       "STATE");
	for (msg *w = msg_child(m); w; w = msg_next(w)) {
		const char *st = msg_get_str(w, "state");
		if (st && !strcmp(st, "lost"))
			print_lost_row(w);
		else
			print_worker_row(w);
	}
	msg_free(m);
	return 0;
}

struct logsel {
	const char *stream; /* NULL: both */
	struct buf out, err; /* --json: collected instead of printed */
	msg *records;        /* --json: [{"stream","data"}] in file order */
	int json;
};

static int emit(void *arg, const char *stream, const char *data, size_t n)
{
	struct logsel *sel = arg;
	if (sel->stream && strcmp(sel->stream, stream))
		return 0;
	int is_err = strcmp(stream, "err") == 0;
	if (sel->json) {
		msg *r = msg_new_object();
		if (!r || msg_set_str(r, "stream", stream) || msg_set_strn(r, "data", data, n) ||
		    msg_push(sel->records, r))
			return -1;
		return buf_add(is_err ? &sel->err : &sel->out, data, n) < 0 ? -1 : 0;
	}
	fwrite(data, 1, n, is_err ? stderr : stdout);
	return 0;
}

/* --json: {"id","attempt","state","worker","source","records","stdout",
 * "stderr"}; a stream left out by --stream is null. Takes sel->records. */
static void print_logs_json(mts_job_id id, int64_t att, const char *state, const char *wid, const char *source,
			    struct logsel *sel)
{
	msg *o = msg_new_object();
	msg_set_int(o, "id", id);
	msg_set_int(o, "attempt", att);
	msg_set_str(o, "state", state ? state : "");
	if (wid)
		msg_set_str(o, "worker", wid);
	else
		msg_add(o, "worker", msg_new_raw("null"));
	msg_set_str(o, "source", source);
	msg_add(o, "records", sel->records);
	sel->records = NULL;
	const char *names[2] = {"stdout", "stderr"}, *streams[2] = {"out", "err"};
	const struct buf *b[2] = {&sel->out, &sel->err};
	for (int i = 0; i < 2; i++) {
		if (sel->stream && strcmp(sel->stream, streams[i]))
			msg_add(o, names[i], msg_new_raw("null"));
		else
			msg_set_strn(o, names[i], b[i]->p ? b[i]->p : "", b[i]->len);
	}
	cli_print_json(o);
}

/* The job log had nothing for this attempt (an echo job, a function that
 * printed nothing, or a log lost with its node): fall back to the output
 * and error the master recorded, as records of out and err. Returns how
 * many it emitted, -1 on OOM. */
static int master_records(const msg *j, struct logsel *sel)
{
	const char *out = msg_get_str(j, "output"), *err = msg_get_str(j, "error");
	int n = 0;
	if (out && *out) {
		if (emit(sel, "out", out, strlen(out)))
			return -1;
		n++;
		if (!sel->json && (!sel->stream || !strcmp(sel->stream, "out")) && out[strlen(out) - 1] != '\n')
			putchar('\n');
	}
	if (err && *err) {
		if (emit(sel, "err", err, strlen(err)))
			return -1;
		n++;
		if (!sel->json && (!sel->stream || !strcmp(sel->stream, "err")) && err[strlen(err) - 1] != '\n')
			fputc('\n', stderr);
	}
	return n;
}

/* Read attempt att of job id from the workers' job logs: the file of the
 * worker that ran it first, all of them if that finds nothing. */
static int read_log(const struct cli *cli, mts_job_id id, int att, const char *wid, struct logsel *sel,
		    char *err, size_t errlen)
{
	char logs[RUNDIR_PATH_MAX];
	rundir_path(logs, cli->run_dir, "logs");
	int n = 0;
	if (wid && *wid && !strchr(wid, '/')) {
		char name[512], path[RUNDIR_PATH_MAX];
		snprintf(name, sizeof name, "logs/worker-%s.log", wid);
		if (rundir_path(path, cli->run_dir, name) == 0)
			n = joblog_read(path, id, att, emit, sel, err, errlen);
	}
	if (n <= 0)
		n = joblog_read_dir(logs, id, att, emit, sel, err, errlen);
	return n;
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
		cli_die_api(c, rc);
	mts_close(c);
	msg *m = cli_parse(s);
	mts_free(s);
	msg *j = msg_child(m);
	if (!j) {
		msg_free(m);
		cli_die(1, "no such job: %lld", (long long)id);
	}
	int64_t att = 0;
	msg_get_int(j, "attempts", &att);
	const char *state = msg_get_str(j, "state");
	const char *wid = msg_get_str(j, "worker");
	struct logsel sel = {.stream = cli->stream, .out = BUF_INIT, .err = BUF_INIT, .json = cli->json};
	if (cli->json && !(sel.records = msg_new_array()))
		cli_die(1, "out of memory");
	const char *source = "log";
	char err[512];
	fflush(stdout);
	int n = att > 0 ? read_log(cli, id, (int)att, wid, &sel, err, sizeof err) : 0;
	if (n < 0) {
		msg_free(m);
		cli_die(1, "%s", err);
	}
	int running = cli_state_live(state);
	if (n == 0 && !running) {
		source = "master";
		if ((n = master_records(j, &sel)) < 0)
			cli_die(1, "out of memory reading the logs of job %lld", (long long)id);
	}
	if (n == 0)
		source = "none";
	fflush(stdout);
	if (cli->json)
		print_logs_json(id, att, state, wid, source, &sel);
	else if (n == 0 && att == 0)
		fprintf(stderr, "mtslurm: job %lld has not started yet (%s)\n", (long long)id, state ? state : "?");
	else if (n == 0)
		fprintf(stderr, "mtslurm: no log records for job %lld%s\n", (long long)id,
			running ? " yet (it is running)" : "");
	buf_release(&sel.out);
	buf_release(&sel.err);
	msg_free(sel.records);
	msg_free(m);
	return 0;
}

/* `mtslurm explain ID`: the master's `explain` answer, as one line (or
 * --json as it came). Exit 0, or 1 for a job no worker could ever run. */
int cmd_explain(struct cli *cli)
{
	if (cli->npos != 1)
		cli_die(2, "explain wants one job id");
	mts_job_id id = cli_job_id(cli->pos[0]);
	mts_client *c = cli_connect(cli);
	char req[64], *s = NULL;
	snprintf(req, sizeof req, "{\"t\":\"explain\",\"id\":%lld}", (long long)id);
	int rc = mts_request(&s, c, req);
	if (rc != MTS_OK)
		cli_die_api(c, rc);
	mts_close(c);
	msg *m = cli_parse(s);
	int never = msg_get_bool(m, "never", 0);
	if (cli->json) {
		printf("%s\n", s);
	} else {
		const char *gpus = msg_get_str(m, "gpus"), *wk = msg_get_str(m, "worker");
		printf("job %lld: %s: %s", (long long)id, msg_get_str(m, "state") ? msg_get_str(m, "state") : "?",
		       msg_get_str(m, "why") ? msg_get_str(m, "why") : "");
		if (wk)
			printf(" (worker %s%s%s)", wk, gpus ? ", GPUs " : "", gpus ? gpus : "");
		printf("\n");
	}
	mts_free(s);
	msg_free(m);
	return never ? 1 : 0;
}
