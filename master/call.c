/* SPDX-License-Identifier: MIT */
/*
 * call: reply helpers and dispatch through handler tables (see call.h).
 * The client request table lives here, in one place, so every transport
 * offers the same requests under the same names.
 */
#include "call.h"
#include "master.h"
#include "nodes.h"
#include "types.h"
#include "mtjob.h"
#include "pipeline.h"
#include "listing.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nametab.h"

const struct call_handler call_client_table[] = {
	{"cancel", clients_on_cancel, CALL_CLIENT | CALL_WRITES},
	{"dlq", mtjob_on_dlq, 0},
	{"dlq_discard", mtjob_on_dlq_discard, CALL_WRITES},
	{"dlq_requeue", mtjob_on_dlq_requeue, CALL_WRITES},
	{"env", clients_on_env, CALL_CLIENT | CALL_CONN | CALL_WRITES},
	{"explain", query_explain, 0},
	{"forget", query_forget, CALL_WRITES},
	{"hello", clients_on_hello, CALL_CONN},
	{"jobs", listing_jobs, 0},
	{"nodes", nodes_on_list, 0},
	{"pipeline_cancel", pipeline_on_cancel, CALL_WRITES},
	{"pipeline_results", pipeline_on_results, 0},
	{"pipeline_run", pipeline_on_run, CALL_WRITES},
	{"pipeline_status", pipeline_on_status, 0},
	{"shutdown", clients_on_shutdown, CALL_WRITES},
	{"status", query_status, 0},
	{"submit", clients_on_submit, CALL_CLIENT | CALL_WRITES},
	{"type_add", types_on_type_add, CALL_WRITES},
	{"type_del", types_on_type_del, CALL_WRITES},
	{"types", types_on_types, 0},
	{"wait", query_wait, 0},
	{"workers", query_workers, 0},
	{"wtype_add", types_on_wtype_add, CALL_WRITES},
	{"wtype_del", types_on_wtype_del, CALL_WRITES},
	{"wtypes", types_on_wtypes, 0},
};
const size_t call_client_count = sizeof call_client_table / sizeof call_client_table[0];

const struct call_handler *call_find(const struct call_handler *tab, size_t n, const char *name)
{
	return nametab_find(tab, n, sizeof *tab, name);
}

size_t call_table_check(const struct call_handler *tab, size_t n)
{
	return nametab_check(tab, n, sizeof *tab);
}

void call_unknown(struct call *c, const struct call_handler *tab, size_t n, const char *who, const char *t)
{
	char known[400] = "";
	size_t k = 0;
	for (size_t i = 0; i < n && k < sizeof known; i++)
		k += (size_t)snprintf(known + k, sizeof known - k, "%s%s", i ? ", " : "", tab[i].name);
	call_error(c, "protocol", "unknown message type \"%.40s\" from %s; expected %s", t, who, known);
}

void call_dispatch(struct call *c, const struct call_handler *tab, size_t n, const char *who, msg *m)
{
	const char *t = msg_type(m);
	c->has_req = msg_get_int(m, "req", &c->req) == 0;
	const struct call_handler *h = call_find(tab, n, t);
	if (!h) {
		call_unknown(c, tab, n, who, t);
		return;
	}
	if ((h->flags & CALL_CONN) && !c->peer) {
		call_error(c, "bad_request", "\"%s\" is for connections of the wire protocol only", h->name);
		return;
	}
	if ((h->flags & CALL_CLIENT) && !c->client) {
		call_error(c, "bad_request", "send hello before %s", h->name);
		return;
	}
	h->fn(c, m);
}

void call_reply(struct call *c, msg *r)
{
	if (!r)
		return;
	c->sink->put_msg(c->out, r);
	msg_free(r);
}

msg *call_new_reply(const struct call *c, const char *type)
{
	msg *r = msg_new_typed(type);
	if (r && c->has_req)
		msg_set_int(r, "req", c->req);
	return r;
}

void call_reply_json(struct call *c, const char *json, size_t n)
{
	c->sink->put_json(c->out, json, n);
}

void call_json_open(const struct call *c, struct buf *b, const char *type)
{
	buf_adds(b, "{\"t\":");
	buf_add_json_str(b, type, strlen(type));
	if (c->has_req) {
		buf_adds(b, ",\"req\":");
		buf_add_i64(b, c->req);
	}
}

void call_error(struct call *c, const char *code, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	msg *e = call_new_reply(c, "error");
	if (!e)
		return;
	msg_set_str(e, "code", code);
	msg_set_str(e, "msg", text);
	/* Every reply goes out after the commit, in request order. */
	call_reply(c, e);
}
