/* SPDX-License-Identifier: MIT */
/*
 * mtapi: mindtrace-cluster's endpoints (see mtapi.h). This part: the base
 * endpoints of every mindtrace service (status, heartbeat, server_id,
 * class_name, pid_file, endpoints, shutdown).
 */
#include "mtapi.h"
#include "master.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ---- base endpoints ---- */

static void ep_status(struct call *c, msg *m)
{
	(void)m;
	msg *r = msg_new_object();
	msg_set_str(r, "status", c->m->shutting_down ? "Stopping" : "Available");
	call_reply(c, r);
}

static void ep_heartbeat(struct call *c, msg *m)
{
	(void)m;
	msg *r = msg_new_object(), *hb = msg_new_object();
	msg_set_str(hb, "status", c->m->shutting_down ? "Stopping" : "Available");
	msg_set_str(hb, "server_id", c->m->server_id);
	msg_set_str(hb, "message", "Heartbeat check successful.");
	msg_set_null(hb, "details");
	msg_add(r, "heartbeat", hb);
	call_reply(c, r);
}

static void ep_server_id(struct call *c, msg *m)
{
	(void)m;
	msg *r = msg_new_object();
	msg_set_str(r, "server_id", c->m->server_id);
	call_reply(c, r);
}

static void ep_class_name(struct call *c, msg *m)
{
	(void)m;
	msg *r = msg_new_object();
	msg_set_str(r, "class_name", "ClusterManager");
	call_reply(c, r);
}

static void ep_pid_file(struct call *c, msg *m)
{
	(void)m;
	char path[RUNDIR_PATH_MAX];
	msg *r = msg_new_object();
	if (rundir_path(path, c->m->cfg.run_dir, "master.json") == 0)
		msg_set_str(r, "pid_file", path);
	else
		msg_set_null(r, "pid_file");
	call_reply(c, r);
}

static void ep_endpoints(struct call *c, msg *m)
{
	(void)m;
	msg *r = msg_new_object(), *a = msg_new_array();
	for (size_t i = 0; i < mtapi_ncalls; i++)
		msg_push(a, msg_new_str(mtapi_calls[i].name));
	msg_add(r, "endpoints", a);
	call_reply(c, r);
}

/* mindtrace answers the text "Server shutting down..." and stops; the
 * master stops cleanly (its workers exit, state is committed). */
static void ep_shutdown(struct call *c, msg *m)
{
	(void)m;
	call_reply(c, msg_new_str("Server shutting down..."));
	log_info("shutdown requested over HTTP");
	master_shutdown(c->m);
}

const struct call_handler mtapi_calls[] = {
	{"class_name", ep_class_name, 0},
	{"endpoints", ep_endpoints, 0},
	{"heartbeat", ep_heartbeat, 0},
	{"pid_file", ep_pid_file, 0},
	{"server_id", ep_server_id, 0},
	{"shutdown", ep_shutdown, CALL_WRITES},
	{"status", ep_status, 0},
};
const size_t mtapi_ncalls = sizeof mtapi_calls / sizeof mtapi_calls[0];
