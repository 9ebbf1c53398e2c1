/* SPDX-License-Identifier: MIT */
/* Unit tests for share/msgpool (cJSON's allocator in the master and the
 * workers) and msg_use_pool: blocks are reused per thread, what a thread
 * keeps is bounded, blocks cross threads, and the JSON layer on top of it
 * hands out strings that free() takes (ASan checks that part). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "msg.h"
#include "msgpool.h"

static void test_reuse_and_classes(void **state)
{
	(void)state;
	msgpool_trim();
	msgpool_set_keep(MSGPOOL_KEEP_DEFAULT);
	void *a = msgpool_alloc(64);
	assert_non_null(a);
	assert_int_equal((uintptr_t)a % 16, 0);
	memset(a, 0xab, 64);
	msgpool_free(a);
	assert_int_equal(msgpool_kept(), 64);
	void *b = msgpool_alloc(50); /* same 16-byte class as 64: 49..64 */
	assert_ptr_equal(a, b);
	assert_int_equal(msgpool_kept(), 0);
	void *c = msgpool_alloc(0), *big = msgpool_alloc(100000);
	assert_non_null(c);
	assert_non_null(big);
	memset(big, 1, 100000);
	msgpool_free(big); /* above the classes: back to malloc, not kept */
	assert_int_equal(msgpool_kept(), 0);
	msgpool_free(c);
	msgpool_free(b);
	assert_int_equal(msgpool_kept(), 16 + 64);
	msgpool_free(NULL);
	msgpool_trim();
	assert_int_equal(msgpool_kept(), 0);
}

static void test_keep_bound(void **state)
{
	(void)state;
	msgpool_trim();
	msgpool_set_keep(1000);
	void *p[40];
	for (int i = 0; i < 40; i++)
		p[i] = msgpool_alloc(100); /* class of 112 bytes */
	for (int i = 0; i < 40; i++)
		msgpool_free(p[i]);
	assert_int_equal(msgpool_kept(), 8 * 112); /* 9 would pass 1000 */
	msgpool_trim();
	msgpool_set_keep(0);
	void *q = msgpool_alloc(10);
	msgpool_free(q);
	assert_int_equal(msgpool_kept(), 0);
	msgpool_set_keep(MSGPOOL_KEEP_DEFAULT);
}

static void *alloc_many(void *arg)
{
	void **out = arg;
	for (int i = 0; i < 100; i++) {
		out[i] = msgpool_alloc(32);
		if (out[i])
			memset(out[i], i, 32);
	}
	/* this thread keeps some too: its exit returns them to malloc (LSan) */
	for (int i = 0; i < 10; i++)
		msgpool_free(msgpool_alloc(200));
	return NULL;
}

/* Blocks made on one thread and freed on another join the freeing thread's
 * lists; a thread's lists go when it exits. */
static void test_cross_thread(void **state)
{
	(void)state;
	msgpool_trim();
	void *blocks[100];
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, alloc_many, blocks), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	for (int i = 0; i < 100; i++) {
		assert_non_null(blocks[i]);
		assert_int_equal(((unsigned char *)blocks[i])[31], (unsigned char)i);
		msgpool_free(blocks[i]);
	}
	assert_int_equal(msgpool_kept(), 100 * 32);
	void *again = msgpool_alloc(20);
	assert_ptr_equal(again, blocks[99]);
	msgpool_free(again);
	msgpool_trim();
}

/* The JSON layer on the pool: trees parse, print and free; msg_print's
 * string is free()'d by its caller (a pool block there is an invalid free
 * under ASan); frames and copies work. */
static void test_msg_on_pool(void **state)
{
	(void)state;
	msgpool_trim();
	const char *j = "{\"t\":\"result\",\"jobs\":[{\"id\":1,\"ok\":true,\"output\":\"a long enough output to need a bigger "
			"block than the smallest classes, and then some more text to pass 256 bytes for the big path of "
			"the allocator: 0123456789012345678901234567890123456789012345678901234567890123456789\"}]}";
	for (int i = 0; i < 3; i++) {
		msg *m = msg_parse(j, strlen(j), NULL, 0);
		assert_non_null(m);
		msg *d = msg_dup(m);
		assert_true(msg_equal(m, d));
		assert_int_equal(msg_set_str(d, "extra", "v"), 0);
		char *s = msg_print(m);
		assert_non_null(s);
		assert_string_equal(s, j);
		free(s);
		struct buf b = BUF_INIT;
		assert_int_equal(msg_frame(d, &b), 0);
		assert_true(b.len > strlen(j));
		buf_release(&b);
		msg_free(d);
		msg_free(m);
	}
	assert_true(msgpool_kept() > 0); /* the nodes came back to this thread */
	msgpool_trim();
}

int main(void)
{
	msg_use_pool(); /* before any value exists, as main() does in the programs */
	assert_int_equal(msg_use_pool(), 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reuse_and_classes),
		cmocka_unit_test(test_keep_bound),
		cmocka_unit_test(test_cross_thread),
		cmocka_unit_test(test_msg_on_pool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
