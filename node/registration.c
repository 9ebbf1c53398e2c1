/* SPDX-License-Identifier: MIT */
/*
 * registration: the node at the master. The master keeps nodes in memory
 * only (as mindtrace does), so the node POSTs {master}/register_node with
 * its URL at start and every NODE_REGISTER_EVERY_MS after: a restarted
 * master learns it again within that time. The master's URL is master.json's
 * "http" key, read afresh each time; while there is none (no master yet, or
 * one started with --no-http) the node waits and says so once in its log.
 */
#include "node.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

int registration_master_url(struct node *n, char *out, size_t outn, char *err, size_t errlen)
{
	struct master_info mi;
	if (rundir_read_master(n->run_dir, &mi, err, errlen))
		return -1;
	if (!mi.http[0])
		return snprintf(err, errlen, "the master of %s serves no HTTP (started with --no-http)", n->run_dir),
		       -1;
	size_t k = util_strlcpy(out, mi.http, outn);
	while (k && out[k - 1] == '/')
		out[--k] = '\0';
	return 0;
}

static void on_registered(void *arg, const struct hclient_res *r)
{
	struct node *n = arg;
	n->reg_call = NULL;
	if (r->http_ok && r->status == 200) {
		if (n->reg_failing)
			log_info("registered with the master at %s", n->reg_master);
		n->reg_failing = 0;
		uv_timer_set_repeat(&n->reg_timer, NODE_REGISTER_EVERY_MS);
		return;
	}
	if (!n->reg_failing)
		log_warn("cannot register with the master at %s: %s%.*s (trying again every %d s)", n->reg_master,
			 r->error ? r->error : "", r->http_ok ? (int)(r->len > 200 ? 200 : r->len) : 0, r->body,
			 NODE_REGISTER_RETRY_MS / 1000);
	n->reg_failing = 1;
	uv_timer_set_repeat(&n->reg_timer, NODE_REGISTER_RETRY_MS);
}

static void on_reg_timer(uv_timer_t *t)
{
	struct node *n = t->data;
	char master[300], err[RUNDIR_PATH_MAX + 200], url[340];
	if (n->reg_call || n->stopping)
		return;
	n->serve(n); /* if master.json had not been there at its start */
	if (!n->d) {
		if (!n->reg_failing)
			log_info("waiting for the master: no master.json in %s yet", n->run_dir);
		n->reg_failing = 1;
		uv_timer_set_repeat(&n->reg_timer, NODE_REGISTER_RETRY_MS);
		return;
	}
	if (registration_master_url(n, master, sizeof master, err, sizeof err)) {
		if (!n->reg_failing)
			log_info("waiting for the master: %s", err);
		n->reg_failing = 1;
		uv_timer_set_repeat(&n->reg_timer, NODE_REGISTER_RETRY_MS);
		return;
	}
	if (strcmp(master, n->reg_master)) {
		log_info("registering with the master at %s", master);
		util_strlcpy(n->reg_master, master, sizeof n->reg_master);
	}
	struct buf b = BUF_INIT;
	buf_adds(&b, "{\"node_url\":");
	buf_add_json_str(&b, n->url, strlen(n->url));
	buf_adds(&b, ",\"name\":");
	buf_add_json_str(&b, n->name, strlen(n->name));
	buf_addf(&b, ",\"pid\":%ld}", (long)getpid());
	struct hclient_opts o;
	node_call_opts(n, &o, 5.0, 0);
	snprintf(url, sizeof url, "%s/register_node", master);
	if (b.p)
		n->reg_call = hclient_request(n->hc, url, b.p, b.len, &o, on_registered, n);
	buf_release(&b);
}

void registration_start(struct node *n)
{
	uv_timer_init(n->loop, &n->reg_timer);
	n->reg_timer.data = n;
	n->handles++;
	/* now, then again every few seconds */
	uv_timer_start(&n->reg_timer, on_reg_timer, 0, NODE_REGISTER_EVERY_MS);
}

static void on_closed(uv_handle_t *h)
{
	struct node *n = h->data;
	n->handles--;
}

void registration_stop(struct node *n)
{
	hclient_cancel(n->reg_call);
	n->reg_call = NULL;
	uv_timer_stop(&n->reg_timer);
	uv_close((uv_handle_t *)&n->reg_timer, on_closed);
}
