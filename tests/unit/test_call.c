/* SPDX-License-Identifier: MIT */
/* Unit tests for master/call (handler tables, dispatch refusals) and
 * master/outbox (replies held until commit and sync, release of owners). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master.h"
#include "cmdline.h"
#include "http.h"
#include "jobs.h"
#include "mtapi.h"
#include "nametab.h"
#include "worker.h"

/* ---- a sink that keeps the replies as JSON text ---- */

static void put_msg(struct outbox *o, const msg *r)
{
	char *t = msg_print(r);
	outbox_queue(o, t, strlen(t));
	outbox_queue(o, "\n", 1);
	free(t);
}

static void put_json(struct outbox *o, const char *json, size_t n)
{
	outbox_queue(o, json, n);
	outbox_queue(o, "\n", 1);
}

static const struct call_sink text_sink = {put_msg, put_json};

struct owner {
	struct outbox out;
	struct buf got;
	int released, close_in_deliver;
};

static void own_deliver(struct outbox *o, const void *b, size_t n)
{
	struct owner *w = (struct owner *)o;
	buf_add(&w->got, b, n);
	if (w->close_in_deliver)
		outbox_close(o);
}

static void own_release(struct outbox *o)
{
	((struct owner *)o)->released++;
}

static const struct outbox_ops own_ops = {own_deliver, own_release};

static int wakes;
static void wake(void *arg)
{
	(void)arg;
	wakes++;
}

static void test_tables_sorted(void **state)
{
	(void)state;
	assert_int_equal(call_table_check(call_client_table, call_client_count), 0);
	assert_int_equal(call_table_check(workers_calls, workers_ncalls), 0);
	assert_int_equal(call_table_check(mtapi_calls, mtapi_ncalls), 0);
	assert_int_equal(worker_msgs_check(), 0);
	assert_int_equal(call_table_check(mtapi_calls, mtapi_ncalls), 0);
	assert_int_equal(http_routes_check(), 0);
	assert_int_equal(jobs_fields_check(), 0);
	assert_int_equal(cmdline_check(), 0);
	for (size_t i = 0; i < call_client_count; i++)
		assert_ptr_equal(call_find(call_client_table, call_client_count, call_client_table[i].name),
				 &call_client_table[i]);
	assert_null(call_find(call_client_table, call_client_count, "frobnicate"));
	assert_null(call_find(call_client_table, call_client_count, ""));
	assert_non_null(call_find(call_client_table, call_client_count, "submit"));
	/* a table out of order is caught */
	struct call_handler bad[] = {{"b", NULL, 0}, {"a", NULL, 0}};
	assert_int_equal(call_table_check(bad, 2), 1);
	struct call_handler three[] = {{"a", NULL, 0}, {"c", NULL, 0}, {"c", NULL, 0}};
	assert_int_equal(nametab_check(three, 3, sizeof three[0]), 2); /* duplicates too */
	assert_null(nametab_find(three, 3, sizeof three[0], "b"));
	assert_null(nametab_find(three, 3, sizeof three[0], NULL));
}

static msg *parse(const char *j)
{
	char err[100];
	msg *m = msg_parse(j, strlen(j), err, sizeof err);
	assert_non_null(m);
	return m;
}

static void test_dispatch_refusals(void **state)
{
	(void)state;
	struct outbox_set set = {.wake = wake};
	struct owner w = {0};
	outbox_init(&w.out, &set, &own_ops);
	struct call c = {.out = &w.out, .sink = &text_sink}; /* no client, no peer */
	msg *m = parse("{\"t\":\"submit\",\"req\":7,\"jobs\":[]}");
	call_dispatch(&c, call_client_table, call_client_count, "a client", m);
	msg_free(m);
	m = parse("{\"t\":\"hello\",\"client\":\"x\"}");
	call_dispatch(&c, call_client_table, call_client_count, "a client", m);
	msg_free(m);
	m = parse("{\"t\":\"teleport\",\"req\":9}");
	call_dispatch(&c, call_client_table, call_client_count, "a client", m);
	msg_free(m);
	/* nothing is delivered before the seal and the release */
	assert_int_equal(w.got.len, 0);
	outbox_seal(&set);
	assert_int_equal(w.got.len, 0);
	outbox_release(&set);
	assert_non_null(w.got.p);
	const char *l1 = w.got.p;
	assert_non_null(strstr(l1, "{\"t\":\"error\",\"req\":7,\"code\":\"bad_request\",\"msg\":\"send hello before submit\"}"));
	assert_non_null(strstr(l1, "hello\\\" is for connections of the wire protocol only"));
	assert_non_null(strstr(l1, "\"req\":9,\"code\":\"protocol\""));
	assert_non_null(strstr(l1, "expected cancel, dlq, dlq_discard, dlq_requeue, env, explain, forget, hello, jobs, nodes, pipeline_cancel, pipeline_results, pipeline_run, pipeline_status, shutdown, status, submit, type_add, type_del, types, wait, workers, wtype_add, wtype_del, wtypes"));
	/* replies come out in request order */
	assert_true(strstr(l1, "submit") < strstr(l1, "wire protocol") &&
		    strstr(l1, "wire protocol") < strstr(l1, "teleport"));
	assert_true(wakes > 0);
	outbox_close(&w.out);
	assert_int_equal(w.released, 1);
	buf_release(&w.got);
}

static void test_outbox_hold_and_release(void **state)
{
	(void)state;
	struct outbox_set set = {0};
	struct owner a = {0}, b = {0};
	outbox_init(&a.out, &set, &own_ops);
	outbox_init(&b.out, &set, &own_ops);
	outbox_queue(&a.out, "a1", 2);
	outbox_seal(&set);          /* a1 committed, waits for the sync */
	outbox_queue(&a.out, "a2", 2); /* the next turn's */
	outbox_release(&set);       /* the sync of a1's commit */
	assert_int_equal(a.got.len, 2);
	assert_memory_equal(a.got.p, "a1", 2);
	outbox_seal(&set);
	outbox_release(&set);
	assert_string_equal(a.got.p, "a1a2");
	/* closed while held: never delivered, released once, after the release */
	outbox_queue(&b.out, "b1", 2);
	outbox_seal(&set);
	outbox_close(&b.out);
	assert_int_equal(b.released, 0);
	outbox_release(&set);
	assert_int_equal(b.got.len, 0);
	assert_int_equal(b.released, 1);
	/* an owner that closes from inside deliver is released after it */
	a.close_in_deliver = 1;
	outbox_queue(&a.out, "a3", 2);
	outbox_seal(&set);
	outbox_release(&set);
	assert_string_equal(a.got.p, "a1a2a3");
	assert_int_equal(a.released, 1);
	buf_release(&a.got);
	buf_release(&b.got);
}

static void test_outbox_drop(void **state)
{
	(void)state;
	struct outbox_set set = {0};
	struct owner a = {0}, b = {0};
	outbox_init(&a.out, &set, &own_ops);
	outbox_init(&b.out, &set, &own_ops);
	outbox_queue(&a.out, "x", 1);
	outbox_seal(&set);
	outbox_queue(&a.out, "y", 1);
	outbox_close(&a.out);
	outbox_queue(&b.out, "z", 1); /* open: not released by the drop */
	outbox_drop(&set);
	assert_int_equal(a.released, 1);
	assert_int_equal(b.released, 0);
	assert_int_equal(a.got.len + b.got.len, 0);
	outbox_close(&b.out);
	assert_int_equal(b.released, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables_sorted),
		cmocka_unit_test(test_dispatch_refusals),
		cmocka_unit_test(test_outbox_hold_and_release),
		cmocka_unit_test(test_outbox_drop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
