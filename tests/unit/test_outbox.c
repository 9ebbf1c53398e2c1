/* SPDX-License-Identifier: MIT */
/* Unit tests for master/outbox: the order of one endpoint's bytes whatever
 * leaves when -- replies held until the sync, workers' results passed after
 * the commit (outbox_pass) but never before a reply of the same endpoint
 * still queued or held -- and which bytes make the set urgent (a sealed
 * reply does, a gated result_ok does not). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "outbox.h"

struct rec {
	struct outbox o; /* first: deliver gets &o */
	char got[256];
	size_t n;
	int released;
};

static void rec_deliver(struct outbox *o, const void *bytes, size_t n)
{
	struct rec *r = (struct rec *)o;
	assert_true(r->n + n < sizeof r->got);
	memcpy(r->got + r->n, bytes, n);
	r->n += n;
	r->got[r->n] = 0;
}

static void rec_release(struct outbox *o) { ((struct rec *)o)->released = 1; }

static const struct outbox_ops rec_ops = {rec_deliver, rec_release};

static void put(struct outbox *o, const char *s) { outbox_queue(o, s, strlen(s)); }
static void pass(struct outbox *o, const char *s) { outbox_pass(o, s, strlen(s)); }

/* Nothing held: a passed result leaves at once. */
static void test_pass_alone_leaves_now(void **state)
{
	(void)state;
	struct outbox_set s = {0};
	struct rec r = {0};
	outbox_init(&r.o, &s, &rec_ops);
	pass(&r.o, "done1");
	assert_string_equal(r.got, "done1");
	assert_false(s.urgent);
	outbox_close(&r.o);
	assert_true(r.released);
}

/* A `submitted` held for the sync: the `done` passed after it waits behind
 * it and both leave, in order, when the sync ends. */
static void test_pass_waits_behind_held(void **state)
{
	(void)state;
	struct outbox_set s = {0};
	struct rec r = {0};
	outbox_init(&r.o, &s, &rec_ops);
	put(&r.o, "submitted;");
	outbox_seal(&s);
	assert_true(s.urgent);
	pass(&r.o, "done;");
	assert_int_equal(r.n, 0);
	outbox_release(&s);
	assert_string_equal(r.got, "submitted;done;");
	assert_false(s.urgent);
	outbox_close(&r.o);
}

/* A reply queued this turn and not sealed yet (a sync ran on the pool):
 * the passed bytes join the queue behind it and wait for the next sync. */
static void test_pass_waits_behind_queued(void **state)
{
	(void)state;
	struct outbox_set s = {0};
	struct rec r = {0};
	outbox_init(&r.o, &s, &rec_ops);
	put(&r.o, "submitted;");
	pass(&r.o, "done;");
	assert_int_equal(r.n, 0);
	outbox_release(&s); /* the sync in flight did not cover them */
	assert_int_equal(r.n, 0);
	outbox_seal(&s);
	outbox_release(&s);
	assert_string_equal(r.got, "submitted;done;");
	outbox_close(&r.o);
}

/* result_ok is held for the sync but does not hurry it. */
static void test_gate_not_urgent(void **state)
{
	(void)state;
	struct outbox_set s = {0};
	struct rec r = {0};
	outbox_init(&r.o, &s, &rec_ops);
	outbox_gate(&r.o, "result_ok;", 10);
	outbox_seal(&s);
	assert_false(s.urgent);
	assert_true(outbox_pending(&s));
	outbox_release(&s);
	assert_string_equal(r.got, "result_ok;");
	outbox_close(&r.o);
}

/* A closed endpoint gets nothing, passed or not. */
static void test_pass_closed_dropped(void **state)
{
	(void)state;
	struct outbox_set s = {0};
	struct rec r = {0};
	outbox_init(&r.o, &s, &rec_ops);
	put(&r.o, "x");
	outbox_close(&r.o);
	pass(&r.o, "done");
	outbox_seal(&s);
	outbox_release(&s);
	assert_int_equal(r.n, 0);
	assert_true(r.released);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass_alone_leaves_now),
		cmocka_unit_test(test_pass_waits_behind_held),
		cmocka_unit_test(test_pass_waits_behind_queued),
		cmocka_unit_test(test_gate_not_urgent),
		cmocka_unit_test(test_pass_closed_dropped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
