/* SPDX-License-Identifier: MIT */
/*
 * cmd_types: the service layer's registries and queues from the command
 * line -- `type add|del`, `types`, `worker-type add|del`, `worker-types`,
 * `dlq [requeue|discard ID]` and `submit --type NAME PAYLOAD` -- each one
 * wire request through mts_request() (docs/protocol.md), the same
 * requests the HTTP API reaches at POST /api/v1/call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "msg.h"

/* Send request (a JSON object's text) and return the parsed reply; dies
 * with the master's message. */
static msg *call(struct cli *cli, const char *request)
{
	mts_client *c = cli_connect(cli);
	char *reply = NULL;
	int rc = mts_request(&reply, c, request);
	if (rc != MTS_OK)
		cli_die_api(c, rc);
	mts_close(c);
	msg *m = cli_parse(reply);
	mts_free(reply);
	return m;
}

static void print_json(const msg *m)
{
	char *t = msg_print(m);
	if (!t)
		cli_die(1, "out of memory");
	printf("%s\n", t);
	free(t);
}

static const char *str_or(const msg *m, const char *key, const char *dflt)
{
	const char *s = msg_get_str(m, key);
	return s ? s : dflt;
}

/* ---- job types ---- */

static int type_add(struct cli *cli, const char *name)
{
	if (!!cli->worker_type == !!cli->endpoint)
		cli_die(2, "type add %s: give --worker-type W (a pool of workers) or --endpoint URL (forwarded over "
			   "HTTP)",
			name);
	msg *r = msg_new_typed("type_add");
	msg_set_str(r, "name", name);
	if (cli->worker_type)
		msg_set_str(r, "worker_type", cli->worker_type);
	if (cli->endpoint)
		msg_set_str(r, "endpoint", cli->endpoint);
	if (cli->timeout_s > 0)
		msg_set_num(r, "timeout", cli->timeout_s);
	if (cli->retries >= 0)
		msg_set_int(r, "retries", cli->retries);
	if (cli->schema) {
		char *text = cli_read_file(cli->schema, NULL), err[200];
		msg *s = msg_parse(text, strlen(text), err, sizeof err);
		free(text);
		if (!s)
			cli_die(2, "%s is not JSON: %s", cli->schema, err);
		msg_add(r, "schema", s);
	}
	char *req = msg_print(r);
	msg_free(r);
	msg *m = call(cli, req);
	free(req);
	if (cli->json)
		print_json(msg_get(m, "type"));
	else
		printf("job type %s registered\n", name);
	msg_free(m);
	return 0;
}

static int del(struct cli *cli, const char *what, const char *name, const char *label)
{
	msg *r = msg_new_typed(what);
	msg_set_str(r, "name", name);
	char *req = msg_print(r);
	msg_free(r);
	msg_free(call(cli, req));
	free(req);
	if (cli->json)
		printf("{\"deleted\":\"%s\"}\n", name);
	else
		printf("%s %s deleted\n", label, name);
	return 0;
}

int cmd_type(struct cli *cli)
{
	if (cli->npos != 2 || (strcmp(cli->pos[0], "add") && strcmp(cli->pos[0], "del")))
		cli_die(2, "usage: mtslurm type add NAME (--worker-type W | --endpoint URL) [--schema FILE] | type del NAME");
	return !strcmp(cli->pos[0], "add") ? type_add(cli, cli->pos[1]) : del(cli, "type_del", cli->pos[1], "job type");
}

int cmd_types(struct cli *cli)
{
	msg *m = call(cli, "{\"t\":\"types\"}");
	msg *a = msg_get(m, "types");
	if (cli->json) {
		print_json(a);
	} else {
		printf("%-20s %-9s %-28s %-6s %-7s %s\n", "NAME", "MODE", "TARGET", "SCHEMA", "QUEUED", "WORKERS");
		for (msg *t = msg_child(a); t; t = msg_next(t)) {
			int64_t q = 0, w = 0;
			msg_get_int(t, "queued", &q);
			msg_get_int(t, "workers", &w);
			const char *mode = str_or(t, "mode", "?");
			printf("%-20s %-9s %-28s %-6s %-7lld %lld\n", str_or(t, "name", "?"), mode,
			       !strcmp(mode, "endpoint") ? str_or(t, "endpoint", "") : str_or(t, "worker_type", "(by name)"),
			       msg_is_object(msg_get(t, "schema")) ? "yes" : "no", (long long)q, (long long)w);
		}
	}
	msg_free(m);
	return 0;
}

/* ---- worker types ---- */

static int wtype_add(struct cli *cli, const char *name)
{
	if (!cli->executor)
		cli_die(2, "worker-type add %s: give --executor echo|exec|func|run-script", name);
	msg *r = msg_new_typed("wtype_add"), *p = msg_new_object();
	msg_set_str(r, "name", name);
	msg_set_str(r, "executor", cli->executor);
	if (cli->command)
		msg_set_str(p, "command", cli->command);
	if (cli->target)
		msg_set_str(p, "target", cli->target);
	for (int i = 0; i < cli->nparam; i++) {
		const char *eq = strchr(cli->param[i], '=');
		if (!eq || eq == cli->param[i])
			cli_die(2, "--param wants KEY=VALUE, not '%s'", cli->param[i]);
		char key[128];
		snprintf(key, sizeof key, "%.*s", (int)(eq - cli->param[i]), cli->param[i]);
		msg_set_str(p, key, eq + 1);
	}
	msg_add(r, "params", p);
	char *req = msg_print(r);
	msg_free(r);
	msg *m = call(cli, req);
	free(req);
	if (cli->json)
		print_json(msg_get(m, "wtype"));
	else
		printf("worker type %s registered\n", name);
	msg_free(m);
	return 0;
}

int cmd_worker_type(struct cli *cli)
{
	if (cli->npos != 2 || (strcmp(cli->pos[0], "add") && strcmp(cli->pos[0], "del")))
		cli_die(2, "usage: mtslurm worker-type add NAME --executor E [--command T | --target LIB.so:fn] | "
			   "worker-type del NAME");
	return !strcmp(cli->pos[0], "add") ? wtype_add(cli, cli->pos[1])
					   : del(cli, "wtype_del", cli->pos[1], "worker type");
}

int cmd_worker_types(struct cli *cli)
{
	msg *m = call(cli, "{\"t\":\"wtypes\"}");
	msg *a = msg_get(m, "wtypes");
	if (cli->json) {
		print_json(a);
	} else {
		printf("%-20s %-11s %s\n", "NAME", "EXECUTOR", "PARAMS");
		for (msg *t = msg_child(a); t; t = msg_next(t)) {
			char *p = msg_print(msg_get(t, "params"));
			printf("%-20s %-11s %s\n", str_or(t, "name", "?"), str_or(t, "executor", "?"), p ? p : "{}");
			free(p);
		}
	}
	msg_free(m);
	return 0;
}

/* ---- the dead-letter queue ---- */

int cmd_dlq(struct cli *cli)
{
	if (cli->npos == 0) {
		msg *m = call(cli, "{\"t\":\"dlq\"}");
		msg *a = msg_get(m, "jobs");
		if (cli->json) {
			print_json(a);
		} else {
			printf("%-8s %-38s %-16s %s\n", "ID", "JOB_ID", "TYPE", "ERROR");
			for (msg *j = msg_child(a); j; j = msg_next(j)) {
				int64_t id = 0;
				msg_get_int(j, "id", &id);
				printf("%-8lld %-38s %-16s %s\n", (long long)id, str_or(j, "job_id", "-"), str_or(j, "type", "?"),
				       str_or(j, "error", ""));
			}
		}
		msg_free(m);
		return 0;
	}
	if (cli->npos != 2 || (strcmp(cli->pos[0], "requeue") && strcmp(cli->pos[0], "discard")))
		cli_die(2, "usage: mtslurm dlq [requeue ID | discard ID]  (ID: a job id or its external id)");
	int requeue = !strcmp(cli->pos[0], "requeue");
	msg *r = msg_new_typed(requeue ? "dlq_requeue" : "dlq_discard");
	char *end;
	long long id = strtoll(cli->pos[1], &end, 10);
	if (*cli->pos[1] && !*end && id > 0)
		msg_set_int(r, "id", id);
	else
		msg_set_str(r, "job_id", cli->pos[1]);
	char *req = msg_print(r);
	msg_free(r);
	msg *m = call(cli, req);
	free(req);
	int64_t got = 0;
	msg_get_int(m, "id", &got);
	if (cli->json)
		printf("{\"%s\":%lld}\n", requeue ? "requeued" : "discarded", (long long)got);
	else
		printf("job %lld %s\n", (long long)got, requeue ? "queued again" : "discarded (it stays failed)");
	msg_free(m);
	return 0;
}

/* ---- typed jobs ---- */

/* submit --type NAME PAYLOAD: one job of job type NAME with the JSON
 * payload (validated against the type's schema by the master). */
int cli_submit_typed(struct cli *cli)
{
	const char *payload = cli->npos ? cli->pos[0] : "{}";
	char err[200];
	msg *p = msg_parse(payload, strlen(payload), err, sizeof err);
	if (!p)
		cli_die(2, "submit --type %s: the payload is not JSON: %s", cli->type_name, err);
	cli_git_payload(p); /* a git environment's branch: its commit, once, now */
	msg *r = msg_new_typed("submit"), *jobs = msg_new_array(), *j = msg_new_object();
	msg_set_str(j, "jobtype", cli->type_name);
	msg_add(j, "input", p);
	if (cli->ext_id)
		msg_set_str(j, "ext", cli->ext_id);
	if (cli->prio)
		msg_set_int(j, "prio", cli->prio);
	msg_push(jobs, j);
	msg_add(r, "jobs", jobs);
	char *req = msg_print(r);
	msg_free(r);
	msg *m = call(cli, req);
	free(req);
	int64_t first = 0;
	msg_get_int(m, "first", &first);
	if (cli->json)
		printf("{\"ids\":[%lld]}\n", (long long)first);
	else
		printf("%lld\n", (long long)first);
	msg_free(m);
	return 0;
}
