/* SPDX-License-Identifier: MIT */
/*
 * cmd_array: job arrays on the command line -- `submit --array SET`,
 * `--each-line FILE`, `--from-json FILE` (one submit request for the whole
 * array, whatever its size: mts_submit_array), and `jobs`, `cancel`, `wait`
 * with `--array ID`. A file or set that is empty or malformed is refused
 * here with one line saying what is wrong, before anything is sent; what
 * the master refuses (a template that cannot run) is not stored either.
 * `jobs --array ID --state failed --ids` prints task ids in the --array
 * syntax, so its output is a valid --array for running them again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "buf.h"
#include "jobarray.h"
#include "util.h"

struct entries {
	char **v;
	size_t n, cap;
	int64_t *task; /* each entry's task id */
};

static void entries_add(struct entries *e, char *text, int64_t task)
{
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 1024;
		e->v = realloc(e->v, e->cap * sizeof *e->v);
		e->task = realloc(e->task, e->cap * sizeof *e->task);
		if (!e->v || !e->task)
			cli_die(1, "out of memory");
	}
	e->v[e->n] = text;
	e->task[e->n++] = task;
}

/* Is task in the selection (--array with a file)? The set is small next to
 * a file's lines; members are marked in a bitmap up to the file's size. */
static unsigned char *select_map(const char *set, int64_t max, int64_t *count)
{
	struct jobarray a;
	char err[200];
	if (jobarray_parse(&a, set, err, sizeof err))
		cli_die(2, "--array: %s", err);
	unsigned char *map = calloc((size_t)max + 1, 1);
	if (!map)
		cli_die(1, "out of memory");
	*count = a.count;
	for (int64_t i = 0; i < a.count; i++) {
		int64_t t = jobarray_task(&a, i);
		if (t > max)
			cli_die(2, "--array: task %lld is past the end of the input (%lld entries)", (long long)t,
				(long long)max);
		map[t] = 1;
	}
	jobarray_release(&a);
	return map;
}

/* --each-line: one entry per non-empty line, task id = its line number. */
static void read_lines(struct cli *cli, struct entries *e)
{
	FILE *f = fopen(cli->each_line, "r");
	if (!f)
		cli_die(2, "--each-line %s: %s", cli->each_line, strerror(errno));
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int64_t no = 0;
	struct entries all = {0};
	while ((len = getline(&line, &cap, f)) >= 0) {
		no++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len)
			entries_add(&all, strdup(line), no);
	}
	free(line);
	fclose(f);
	if (!all.n)
		cli_die(2, "--each-line %s: no non-empty line, nothing to run", cli->each_line);
	unsigned char *map = NULL;
	int64_t want = 0;
	if (cli->array)
		map = select_map(cli->array, no, &want);
	for (size_t i = 0; i < all.n; i++) {
		if (!map || map[all.task[i]])
			entries_add(e, all.v[i], all.task[i]);
		else
			free(all.v[i]);
	}
	if (map && (int64_t)e->n != want)
		cli_die(2, "--array %s: some of those lines of %s are empty", cli->array, cli->each_line);
	free(map);
	free(all.v);
	free(all.task);
}

/* --from-json: one entry per element, task id = its index. */
static void read_json(struct cli *cli, struct entries *e)
{
	char *text = cli_read_file(cli->from_json, "--from-json"), err[200] = "";
	msg *v = *text ? msg_parse(text, strlen(text), err, sizeof err) : NULL;
	free(text);
	if (!v)
		cli_die(2, "--from-json %s: not JSON (%s); give a JSON array, one element per job", cli->from_json,
			*err ? err : "empty file");
	if (!msg_is_array(v))
		cli_die(2, "--from-json %s: not a JSON array; give a JSON array, one element per job", cli->from_json);
	if (!msg_size(v))
		cli_die(2, "--from-json %s: an empty array, nothing to run", cli->from_json);
	unsigned char *map = NULL;
	int64_t want = 0, i = 0;
	if (cli->array)
		map = select_map(cli->array, (int64_t)msg_size(v) - 1, &want);
	for (msg *x = msg_child(v); x; x = msg_next(x), i++) {
		if (map && !map[i])
			continue;
		char *t = msg_print(x);
		if (!t)
			cli_die(1, "out of memory");
		entries_add(e, t, i);
	}
	free(map);
	msg_free(v);
}

int cli_submit_array(struct cli *cli, const mts_job *tmpl)
{
	if (cli->each_line && cli->from_json)
		cli_die(2, "give --each-line FILE or --from-json FILE, not both");
	if (cli->use_stdin)
		cli_die(2, "--stdin submits one job per line already; for an array use --each-line FILE");
	mts_array a = MTS_ARRAY_INIT;
	struct entries e = {0};
	struct buf tasks = BUF_INIT;
	a.detach = 1; /* the command exits now: results are read with jobs --array */
	if (cli->each_line || cli->from_json) {
		if (cli->each_line)
			read_lines(cli, &e);
		else
			read_json(cli, &e);
		if (jobarray_format(&tasks, e.task, e.n))
			cli_die(1, "out of memory");
		/* the ids are sorted but may repeat only if the set did; send
		 * them only when they are not simply 0..n-1 */
		if (!cli->from_json || cli->array)
			a.tasks = tasks.p;
		a.entries = (const char *const *)e.v;
		a.nentries = e.n;
		a.entries_json = cli->from_json != NULL;
	} else {
		struct jobarray set;
		char err[200];
		if (jobarray_parse(&set, cli->array, err, sizeof err))
			cli_die(2, "--array %s: %s", cli->array, err);
		jobarray_release(&set);
		a.tasks = cli->array;
	}
	mts_client *c = cli_connect(cli);
	mts_job_id first = 0;
	size_t n = 0;
	int rc = mts_submit_array(&first, &n, c, tmpl, &a);
	if (rc != MTS_OK)
		cli_die_api(c, rc);
	if (cli->json)
		printf("{\"array\":%lld,\"first\":%lld,\"n\":%zu}\n", (long long)first, (long long)first, n);
	else
		printf("%lld\n", (long long)first);
	fflush(stdout);
	mts_close(c);
	for (size_t i = 0; i < e.n; i++)
		free(e.v[i]);
	free(e.v);
	free(e.task);
	buf_release(&tasks);
	return 0;
}

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return a < b ? -1 : a > b;
}

/* One page of the array's members after `after`: the reply's jobs array
 * (owned by *reply) and the next `after` (0: none). */
static msg *array_page(mts_client *c, mts_job_id id, const char *state, int64_t after, msg **reply, int64_t *next)
{
	char req[256];
	snprintf(req, sizeof req, "{\"t\":\"jobs\",\"array\":%lld,\"after\":%lld,\"limit\":10000%s%s%s}", (long long)id,
		 (long long)after, state ? ",\"state\":\"" : "", state ? state : "", state ? "\"" : "");
	char *s = NULL;
	int rc = mts_request(&s, c, req);
	if (rc != MTS_OK)
		cli_die_api(c, rc);
	*reply = cli_parse(s);
	mts_free(s);
	*next = 0;
	msg_get_int(*reply, "next", next);
	return msg_get(*reply, "jobs");
}

int cli_jobs_array(struct cli *cli)
{
	mts_job_id id = cli_job_id(cli->array);
	if (cli->npos)
		cli_die(2, "give --array ID or job ids, not both");
	if (cli->ids_only && cli->json)
		cli_die(2, "--ids prints task ids; --json prints records: not both");
	mts_client *c = cli_connect(cli);
	int64_t after = 0, next = 0, *tasks = NULL;
	size_t nt = 0, cap = 0;
	int first = 1;
	if (cli->json)
		fputs("[", stdout);
	else if (!cli->ids_only)
		printf("%-10s %-10s %-10s %s\n", "ID", "STATE", "TASK", "OUTPUT/ERROR");
	do {
		msg *reply;
		msg *jobs = array_page(c, id, cli->state, after, &reply, &next);
		for (msg *j = msg_child(jobs); j; j = msg_next(j)) {
			int64_t jid = 0, task = 0;
			msg_get_int(j, "id", &jid);
			msg_get_int(j, "task", &task);
			if (cli->json) {
				char *t = msg_print(j);
				printf("%s%s", first ? "" : ",", t ? t : "null");
				free(t);
				first = 0;
			} else if (cli->ids_only) {
				if (nt == cap && !(tasks = realloc(tasks, (cap = cap ? 2 * cap : 1024) * sizeof *tasks)))
					cli_die(1, "out of memory");
				tasks[nt++] = task;
			} else {
				const char *out = msg_get_str(j, "error") ? msg_get_str(j, "error") : msg_get_str(j, "output");
				int len = out ? (int)strcspn(out, "\n") : 0;
				printf("%-10lld %-10s %-10lld %.*s\n", (long long)jid, msg_get_str(j, "state"), (long long)task,
				       len > 60 ? 60 : len, out ? out : "");
			}
		}
		msg_free(reply);
		after = next;
	} while (next);
	if (cli->json)
		fputs("]\n", stdout);
	if (cli->ids_only) {
		if (nt)
			qsort(tasks, nt, sizeof *tasks, cmp_i64);
		size_t k = 0; /* distinct */
		for (size_t i = 0; i < nt; i++)
			if (!k || tasks[k - 1] != tasks[i])
				tasks[k++] = tasks[i];
		struct buf b = BUF_INIT;
		if (jobarray_format(&b, tasks, k))
			cli_die(1, "out of memory");
		if (k)
			printf("%s\n", b.p);
		buf_release(&b);
		free(tasks);
	}
	mts_close(c);
	return 0;
}

int cli_cancel_array(struct cli *cli)
{
	mts_job_id id = cli_job_id(cli->array);
	if (cli->npos || cli->all)
		cli_die(2, "give --array ID alone (not with job ids or --all)");
	mts_client *c = cli_connect(cli);
	char req[96], *s = NULL;
	snprintf(req, sizeof req, "{\"t\":\"cancel\",\"array\":%lld}", (long long)id);
	int rc = mts_request(&s, c, req);
	if (rc != MTS_OK)
		cli_die_api(c, rc);
	msg *r = cli_parse(s);
	mts_free(s);
	int64_t n = 0;
	msg_get_int(r, "n", &n);
	if (cli->json)
		printf("{\"cancelled\":%lld}\n", (long long)n);
	else
		printf("cancelled %lld members of array %lld\n", (long long)n, (long long)id);
	msg_free(r);
	mts_close(c);
	return 0;
}

int cli_wait_array(struct cli *cli)
{
	mts_job_id id = cli_job_id(cli->array);
	if (cli->npos || cli->all)
		cli_die(2, "give --array ID alone (not with job ids or --all)");
	mts_client *c = cli_connect(cli);
	uint64_t deadline_ns = cli->timeout_s >= 0 ? util_mono_ns() + (uint64_t)(cli->timeout_s * 1e9) : 0;
	char req[96], *s = NULL;
	snprintf(req, sizeof req, "{\"t\":\"wait\",\"array\":%lld}", (long long)id);
	int rc;
	/* each request waits up to the handle's timeout; ask again until the
	 * array is done or --timeout passes */
	while ((rc = mts_request(&s, c, req)) == MTS_ETIMEDOUT)
		if (deadline_ns && util_mono_ns() >= deadline_ns)
			break;
	if (rc == MTS_ETIMEDOUT) {
		mts_close(c);
		cli_die(2, "timed out after %g s with members of array %lld still queued or running; wait longer "
			   "(--timeout S)",
			cli->timeout_s, (long long)id);
	}
	if (rc != MTS_OK)
		cli_die_api(c, rc);
	msg *r = cli_parse(s);
	mts_free(s);
	int64_t k[3] = {0};
	msg_get_int(r, "completed", &k[0]);
	msg_get_int(r, "failed", &k[1]);
	msg_get_int(r, "cancelled", &k[2]);
	msg_free(r);
	mts_close(c);
	if (cli->json)
		printf("{\"array\":%lld,\"completed\":%lld,\"failed\":%lld,\"cancelled\":%lld}\n", (long long)id,
		       (long long)k[0], (long long)k[1], (long long)k[2]);
	if (k[1] || k[2]) {
		fprintf(stderr,
			"mtslurm: array %lld: %lld completed, %lld failed, %lld cancelled; mtslurm jobs --array %lld "
			"--state failed shows why\n",
			(long long)id, (long long)k[0], (long long)k[1], (long long)k[2], (long long)id);
		return 1;
	}
	return 0;
}
