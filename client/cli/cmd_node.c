/* SPDX-License-Identifier: MIT */
/*
 * node: `mtslurm nodes` and `mtslurm launch-worker`, and starting the node
 * agent for `start`. Both commands speak to the master's HTTP service (the
 * URL in master.json, the token in RUN_DIR/token) rather than the wire
 * protocol: launch-worker drives exactly the endpoints a mindtrace client
 * uses (/launch_worker, then /launch_worker_status until ready or failed),
 * so the CLI and such clients go through one path, and the client library
 * needs no new call for it; nodes sends the wire request "nodes" through
 * POST /api/v1/call. The HTTP calls run share/hclient on a libuv loop of
 * their own, one call at a time (libcurl is linked into this program, never
 * into libmtslurm.so).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "cli.h"
#include "hclient.h"
#include "util.h"

/* launch-worker waits this long by default: a little more than the node's
 * own limit for a launch (60 s), so the node says why one failed. */
#define LAUNCH_WAIT_S_DEFAULT 90.0

/* ---- one HTTP call to the master ---- */

struct api_res {
	int done;
	long status;
	char *body;
	char err[400];
};

static void on_api(void *arg, const struct hclient_res *r)
{
	struct api_res *a = arg;
	a->done = 1;
	a->status = r->http_ok ? r->status : 0;
	a->body = strdup(r->body);
	if (r->error)
		util_strlcpy(a->err, r->error, sizeof a->err);
}

/* POST body to the master's endpoint path ("/launch_worker"). Returns the
 * HTTP status with the response in *resp (free it), or dies if the master
 * serves no HTTP or does not answer. */
long cli_api_post(struct cli *cli, const char *path, const char *body, char **resp)
{
	struct master_info mi;
	char err[RUNDIR_PATH_MAX + 200], tok_path[RUNDIR_PATH_MAX], token[AUTH_HEX_BYTES], url[400];
	if (rundir_read_master(cli->run_dir, &mi, err, sizeof err))
		cli_die(1, "%s", err);
	if (!mi.http[0])
		cli_die(1, "the master of %s serves no HTTP (it was started with --no-http): no nodes, no launches",
			cli->run_dir);
	if (rundir_path(tok_path, cli->run_dir, "token") || auth_token_load(token, tok_path, 0, err, sizeof err))
		cli_die(1, "%s", err);
	snprintf(url, sizeof url, "%s%s", mi.http, path);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct hclient *h = hclient_new(&loop, err, sizeof err);
	if (!h)
		cli_die(1, "%s", err);
	struct hclient_opts o = HCLIENT_OPTS_INIT;
	char ca[RUNDIR_PATH_MAX];
	o.bearer = token;
	o.ca_file = rundir_path(ca, cli->run_dir, "tls.crt") == 0 ? ca : NULL; /* an https:// master's */
	o.cluster_peer = 1;
	o.timeout_s = 30;
	struct api_res a = {0};
	if (!hclient_request(h, url, body, strlen(body), &o, on_api, &a))
		cli_die(1, "out of memory");
	while (!a.done && uv_run(&loop, UV_RUN_ONCE))
		;
	hclient_close(h, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	if (!a.done || !a.status)
		cli_die(1, "the master's HTTP service at %s does not answer: %s", mi.http, a.err[0] ? a.err : "no reply");
	*resp = a.body;
	return a.status;
}

/* The "detail" of an error body, or the body. */
static const char *detail_of(msg *m, const char *body)
{
	const char *d = msg_get_str(m, "detail");
	return d ? d : body;
}

/* The master's nodes: {"t":"nodes","nodes":[...]} (msg_free it). */
static msg *get_nodes(struct cli *cli)
{
	char *resp = NULL;
	long st = cli_api_post(cli, "/api/v1/call", "{\"t\":\"nodes\"}", &resp);
	msg *m = cli_parse(resp);
	if (st != 200)
		cli_die(1, "the master refused the node list (HTTP %ld): %s", st, detail_of(m, resp));
	free(resp);
	return m;
}

/* ---- mtslurm nodes ---- */

int cmd_nodes(struct cli *cli)
{
	msg *m = get_nodes(cli);
	msg *list = msg_take(m, "nodes");
	msg_free(m);
	if (cli->json) {
		cli_print_json(list ? list : msg_new_array());
		return 0;
	}
	printf("%-20s %-28s %-8s %s\n", "NAME", "URL", "PID", "LAST SEEN");
	double now = util_wall(), seen = 0;
	for (msg *n = msg_child(list); n; n = msg_next(n)) {
		int64_t pid = 0;
		msg_get_int(n, "pid", &pid);
		msg_get_num(n, "last_seen", &seen);
		printf("%-20s %-28s %-8lld %.0f s ago\n", msg_get_str(n, "name"), msg_get_str(n, "url"), (long long)pid,
		       now - seen < 0 ? 0 : now - seen);
	}
	if (!msg_size(list))
		fprintf(stderr, "mtslurm: no node is registered with the master (mtslurm start starts one)\n");
	msg_free(list);
	return 0;
}

/* ---- mtslurm launch-worker ---- */

struct one {
	char node_url[300], node[256], id[64];
	msg *status; /* the last LaunchWorkerStatusOutput, or an error */
	int final;
};

/* The nodes launch i may go to: --node NAME (or URL) picks one, else they
 * take turns. */
static const msg *pick_node(struct cli *cli, const msg *list, int i)
{
	size_t n = msg_size(list);
	if (!n)
		cli_die(1, "no node is registered with the master of %s; mtslurm start starts one (mtslurm nodes "
			   "lists them)",
			cli->run_dir);
	if (!cli->node)
		return msg_at(list, (size_t)i % n);
	for (msg *e = msg_child(list); e; e = msg_next(e))
		if (!strcmp(msg_get_str(e, "name"), cli->node) || !strcmp(msg_get_str(e, "url"), cli->node))
			return e;
	char names[600] = "";
	size_t k = 0;
	for (msg *e = msg_child(list); e && k < sizeof names; e = msg_next(e))
		k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", k ? ", " : "", msg_get_str(e, "name"));
	cli_die(1, "no node '%s'; the master knows %s (mtslurm nodes)", cli->node, names);
}

static void fail_one(struct one *o, const char *fmt, const char *a, const char *b)
{
	char text[800];
	snprintf(text, sizeof text, fmt, a, b);
	msg_free(o->status);
	o->status = msg_new_object();
	msg_set_str(o->status, "status", "failed");
	msg_set_str(o->status, "error", text);
	o->final = 1;
}

static void start_one(struct cli *cli, struct one *o)
{
	msg *b = msg_new_object();
	msg_set_str(b, "node_url", o->node_url);
	msg_set_str(b, "worker_type", cli->type_name);
	msg_set_null(b, "worker_name");
	msg_set_null(b, "worker_url");
	char *text = msg_print(b), *resp = NULL;
	msg_free(b);
	if (!text)
		cli_die(1, "out of memory");
	long st = cli_api_post(cli, "/launch_worker", text, &resp);
	free(text);
	msg *r = cli_parse(resp);
	if (st == 200 && msg_get_str(r, "launch_id"))
		util_strlcpy(o->id, msg_get_str(r, "launch_id"), sizeof o->id);
	else
		fail_one(o, "the launch was refused: %s%s", detail_of(r, resp), "");
	msg_free(r);
	free(resp);
}

static void poll_one(struct cli *cli, struct one *o)
{
	msg *b = msg_new_object();
	msg_set_str(b, "node_url", o->node_url);
	msg_set_str(b, "launch_id", o->id);
	char *text = msg_print(b), *resp = NULL;
	msg_free(b);
	if (!text)
		cli_die(1, "out of memory");
	long st = cli_api_post(cli, "/launch_worker_status", text, &resp);
	free(text);
	msg *r = cli_parse(resp);
	if (st != 200) {
		fail_one(o, "launch_worker_status: %s%s", detail_of(r, resp), "");
		msg_free(r);
	} else {
		msg_free(o->status);
		o->status = r;
		const char *s = msg_get_str(r, "status");
		o->final = s && (!strcmp(s, "ready") || !strcmp(s, "failed"));
	}
	free(resp);
}

static int report(struct cli *cli, struct one *v, int count)
{
	int bad = 0;
	msg *all = cli->json ? msg_new_array() : NULL;
	for (int i = 0; i < count; i++) {
		const char *s = msg_get_str(v[i].status, "status");
		int ok = s && !strcmp(s, "ready");
		bad += !ok;
		if (all) {
			msg *e = msg_dup(v[i].status);
			msg_set_str(e, "node", v[i].node);
			msg_set_str(e, "node_url", v[i].node_url);
			if (v[i].id[0])
				msg_set_str(e, "launch_id", v[i].id);
			msg_push(all, e);
		} else if (ok) {
			printf("worker %s at %s (node %s)\n", msg_get_str(v[i].status, "worker_id"),
			       msg_get_str(v[i].status, "worker_url"), v[i].node);
		} else {
			const char *e = msg_get_str(v[i].status, "error");
			fprintf(stderr, "mtslurm: launch %s on node %s %s: %s\n", v[i].id[0] ? v[i].id : "-", v[i].node,
				v[i].final ? "failed" : "is not finished", e ? e : "no reason given");
		}
		msg_free(v[i].status);
	}
	if (all) {
		msg *o = msg_new_object();
		msg_add(o, "launches", all);
		msg_set_int(o, "ready", count - bad);
		msg_set_int(o, "failed", bad);
		cli_print_json(o);
	}
	return bad ? 1 : 0;
}

int cmd_launch_worker(struct cli *cli)
{
	if (!cli->type_name || !*cli->type_name)
		cli_die(2, "say which worker type with --type WTYPE (register one with POST /register_worker_type)");
	int count = cli->count > 0 ? cli->count : 1;
	msg *m = get_nodes(cli);
	const msg *list = msg_get(m, "nodes");
	struct one *v = calloc((size_t)count, sizeof *v);
	if (!v)
		cli_die(1, "out of memory");
	for (int i = 0; i < count; i++) {
		const msg *n = pick_node(cli, list, i);
		util_strlcpy(v[i].node_url, msg_get_str(n, "url"), sizeof v[i].node_url);
		util_strlcpy(v[i].node, msg_get_str(n, "name"), sizeof v[i].node);
		start_one(cli, &v[i]);
	}
	msg_free(m);
	double limit_s = cli->timeout_s >= 0 ? cli->timeout_s : LAUNCH_WAIT_S_DEFAULT;
	uint64_t end = util_mono_ns() + (uint64_t)(limit_s * 1e9);
	for (int left = count; left > 0 && util_mono_ns() < end;) {
		left = 0;
		for (int i = 0; i < count; i++)
			if (!v[i].final) {
				poll_one(cli, &v[i]);
				left += !v[i].final;
			}
		if (left)
			cli_sleep_ms(200);
	}
	int rc = report(cli, v, count);
	free(v);
	return rc;
}

/* ---- the node agent of `start` ---- */

/* Wait until the node of pid (want 0), or want nodes (launched by the srun
 * of pid), registered with the master. */
int cli_node_wait(struct cli *cli, long pid, int want, int timeout_ms, int *seen)
{
	int count = 0;
	for (int t = 0; t < timeout_ms; t += 100) {
		if (pid > 0 && !rundir_pid_alive(pid))
			return -1;
		msg *m = get_nodes(cli);
		int found = 0;
		count = 0;
		for (msg *e = msg_child(msg_get(m, "nodes")); e; e = msg_next(e)) {
			int64_t p = 0;
			found |= msg_get_int(e, "pid", &p) == 0 && p == pid;
			count++;
		}
		msg_free(m);
		if (seen)
			*seen = count;
		if (want > 0 ? count >= want : found)
			return 0;
		cli_sleep_ms(100);
	}
	return -2;
}
