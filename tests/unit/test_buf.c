/* SPDX-License-Identifier: MIT */
/* Unit tests for share/buf: growth, formatted and decimal appends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static void test_add_i64(void **st)
{
	(void)st;
	const int64_t v[] = {0, 7, -1, 10, 123456789, -987654321012LL, INT64_MAX, INT64_MIN};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct buf b = BUF_INIT;
		char want[32];
		snprintf(want, sizeof want, "x%lldy", (long long)v[i]);
		assert_int_equal(buf_adds(&b, "x"), 0);
		assert_int_equal(buf_add_i64(&b, v[i]), 0);
		assert_int_equal(buf_adds(&b, "y"), 0);
		assert_int_equal(b.len, strlen(want));
		assert_memory_equal(b.p, want, b.len);
		buf_release(&b);
	}
}

/* The one JSON string codec: escapes, valid UTF-8 kept, invalid bytes
 * replaced, NULL as null, embedded NUL escaped. */
static void test_json_str(void **st)
{
	(void)st;
	struct buf b = BUF_INIT;
	assert_int_equal(buf_add_json_str(&b, "a\"b\\c\n\x01\xff\xc3\xa9", 10), 0);
	assert_string_equal(b.p, "\"a\\\"b\\\\c\\n\\u0001\\ufffd\xc3\xa9\"");
	buf_reset(&b);
	assert_int_equal(buf_add_json_str(&b, NULL, 0), 0);
	assert_string_equal(b.p, "null");
	buf_reset(&b);
	assert_int_equal(buf_add_json_str(&b, "x\0y\xed\xa0\x80", 6), 0); /* NUL; a UTF-16 surrogate */
	assert_string_equal(b.p, "\"x\\u0000y\\ufffd\\ufffd\\ufffd\"");
	buf_release(&b);
}

static void test_grow(void **st)
{
	(void)st;
	struct buf b = BUF_INIT;
	for (int i = 0; i < 100000; i++)
		assert_int_equal(buf_add_i64(&b, i % 10), 0);
	assert_int_equal(b.len, 100000);
	assert_int_equal(b.p[99999], '9');
	assert_int_equal(buf_addf(&b, "%s-%d", "z", 5), 0);
	assert_memory_equal(b.p + 100000, "z-5", 3);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_i64),
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_json_str),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
