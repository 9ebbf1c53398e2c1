/* SPDX-License-Identifier: MIT */
/*
 * cmd_pipeline: `mtslurm pipeline run FILE [--wait]`, `pipeline status
 * [ID]`, `pipeline cancel ID` and `pipeline results ID [--stage NAME]` --
 * the mts_pipeline_* calls of the library (docs/user-guide.md,
 * "Pipelines"). run fills in the current directory as the working
 * directory of exec stages that name none, as submit does for exec jobs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "msg.h"

/* The file with "cwd" set on exec stages without one; the text unchanged
 * if it is not a pipeline object (the library says what is wrong). */
static char *with_cwd(char *text)
{
	msg *m = msg_parse(text, strlen(text), NULL, 0);
	char dir[4096];
	if (!m || !getcwd(dir, sizeof dir)) {
		msg_free(m);
		return text;
	}
	for (msg *s = msg_child(msg_get(m, "stages")); s; s = msg_next(s))
		if (msg_is_object(s) && msg_has(s, "exec") && !msg_has(s, "cwd"))
			msg_set_str(s, "cwd", dir);
	char *t = msg_print(m);
	msg_free(m);
	if (!t)
		return text;
	free(text);
	return t;
}

static int64_t pipeline_id(const char *s)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v <= 0)
		cli_die(2, "'%s' is not a pipeline id (a number >= 1; mtslurm pipeline status lists them)", s);
	return v;
}

static void print_stages(const msg *p)
{
	printf("  %-20s %9s %7s %7s %7s %7s %9s\n", "STAGE", "INSTANCES", "QUEUED", "RUNNING", "DONE", "FAILED",
	       "CANCELLED");
	for (msg *s = msg_child(msg_get(p, "stages")); s; s = msg_next(s)) {
		int64_t v[6] = {0};
		const char *keys[6] = {"instances", "queued", "running", "done", "failed", "cancelled"};
		for (int i = 0; i < 6; i++)
			msg_get_int(s, keys[i], &v[i]);
		const char *name = msg_get_str(s, "name"), *type = msg_get_str(s, "type");
		printf("  %-20s %9lld %7lld %7lld %7lld %7lld %9lld%s%s%s%s%s\n", name ? name : "?", (long long)v[0],
		       (long long)v[1], (long long)v[2], (long long)v[3], (long long)v[4], (long long)v[5],
		       type ? "  (job type " : "", type ? type : "", type ? ")" : "",
		       msg_get_bool(s, "reduce", 0) ? "  (reduce)" : "", msg_get_bool(s, "held", 0) ? "  (held)" : "");
	}
}

static void print_pipelines(const msg *list)
{
	for (msg *p = msg_child(list); p; p = msg_next(p)) {
		int64_t id = 0;
		msg_get_int(p, "id", &id);
		const char *name = msg_get_str(p, "name"), *st = msg_get_str(p, "state"), *err = msg_get_str(p, "error");
		printf("pipeline %lld%s%s: %s%s%s\n", (long long)id, name ? " " : "", name ? name : "", st ? st : "?",
		       err ? ": " : "", err ? err : "");
		print_stages(p);
	}
}

static int status(struct cli *cli, mts_client *c, int64_t id)
{
	char *json = NULL;
	int rc = mts_pipeline_status(&json, c, id);
	if (rc != MTS_OK)
		cli_die_api(c, rc);
	msg *list = cli_parse(json);
	mts_free(json);
	if (cli->json) {
		char *t = msg_print(id ? msg_child(list) : list);
		printf("%s\n", t ? t : "null");
		free(t);
	} else if (!msg_size(list))
		printf("no pipelines\n");
	else
		print_pipelines(list);
	const char *st = msg_get_str(msg_child(list), "state");
	int code = id && st && strcmp(st, "completed") && strcmp(st, "running") ? 1 : 0;
	msg_free(list);
	return code;
}

static int run(struct cli *cli, mts_client *c, const char *path)
{
	char *text = with_cwd(cli_read_file(path, NULL));
	int64_t id = 0;
	int rc = mts_pipeline_run(&id, c, text);
	free(text);
	if (rc != MTS_OK) {
		fprintf(stderr, "mtslurm: %s: %s\n", path, mts_errmsg(c));
		mts_close(c);
		exit(rc == MTS_EINVAL || rc == MTS_EREJECTED ? 2 : 1);
	}
	if (!cli->wait) {
		if (cli->json)
			printf("{\"id\":%lld}\n", (long long)id);
		else
			printf("%lld\n", (long long)id);
		return 0;
	}
	if (!cli->json)
		printf("%lld\n", (long long)id);
	fflush(stdout);
	int state = 0;
	rc = mts_pipeline_wait(&state, c, id, cli->timeout_s >= 0 ? (int)(cli->timeout_s * 1000) : -1);
	if (rc == MTS_ETIMEDOUT) {
		fprintf(stderr, "mtslurm: %s\n", mts_errmsg(c));
		return 2;
	}
	if (rc != MTS_OK)
		cli_die_api(c, rc);
	return status(cli, c, id);
}

static int results(struct cli *cli, mts_client *c, int64_t id)
{
	int64_t after = 0;
	msg *all = msg_new_array();
	do {
		char *json = NULL;
		int rc = mts_pipeline_results(&json, &after, c, id, cli->stage, after, 10000);
		if (rc != MTS_OK)
			cli_die_api(c, rc);
		msg *page = cli_parse(json);
		mts_free(json);
		for (msg *r = msg_child(page); r; r = msg_next(r)) {
			if (!cli->json) {
				const char *o = msg_get_str(r, "output");
				size_t n = o ? strlen(o) : 0;
				printf("%s%s", o ? o : "", n && o[n - 1] == '\n' ? "" : "\n");
			} else {
				msg_push(all, msg_dup(r));
			}
		}
		msg_free(page);
	} while (after > 0);
	if (cli->json) {
		char *t = msg_print(all);
		printf("%s\n", t ? t : "[]");
		free(t);
	}
	msg_free(all);
	return 0;
}

int cmd_pipeline(struct cli *cli)
{
	const char *what = cli->npos ? cli->pos[0] : "";
	const char *arg = cli->npos > 1 ? cli->pos[1] : NULL;
	int known = !strcmp(what, "run") || !strcmp(what, "status") || !strcmp(what, "cancel") || !strcmp(what, "results");
	if (!known)
		cli_die(2, "pipeline: say run FILE, status [ID], cancel ID or results ID (mtslurm pipeline --help)");
	if (!arg && strcmp(what, "status"))
		cli_die(2, "pipeline %s needs %s", what, strcmp(what, "run") ? "a pipeline id" : "a pipeline file (- for stdin)");
	if ((cli->wait && strcmp(what, "run")) || (cli->stage && strcmp(what, "results")))
		cli_die(2, "pipeline %s does not take %s", what, cli->wait ? "--wait" : "--stage");
	mts_client *c = cli_connect(cli);
	int code = 0;
	if (!strcmp(what, "run")) {
		code = run(cli, c, arg);
	} else if (!strcmp(what, "status")) {
		code = status(cli, c, arg ? pipeline_id(arg) : 0);
	} else if (!strcmp(what, "results")) {
		code = results(cli, c, pipeline_id(arg));
	} else {
		int64_t n = 0, id = pipeline_id(arg);
		int rc = mts_pipeline_cancel(&n, c, id);
		if (rc != MTS_OK)
			cli_die_api(c, rc);
		if (cli->json)
			printf("{\"id\":%lld,\"cancelled\":%lld}\n", (long long)id, (long long)n);
		else
			printf("pipeline %lld cancelled (%lld unfinished jobs)\n", (long long)id, (long long)n);
	}
	mts_close(c);
	return code;
}
