/* SPDX-License-Identifier: MIT */
/* Unit tests for share/util: util_grow (the one array-growth rule the master,
 * worker and share modules use): doubling from a first capacity, no
 * reallocation while there is room, elements kept across growth, and
 * overflow refused with the caller's array untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "util.h"

static void test_grow_doubles_and_keeps(void **state)
{
	(void)state;
	int *v = NULL;
	size_t cap = 0;
	for (size_t i = 0; i < 100; i++) {
		assert_int_equal(util_grow(&v, &cap, i, sizeof *v, 4), 0);
		assert_true(cap > i);
		v[i] = (int)i * 3;
	}
	assert_int_equal(cap, 128); /* 4, 8, ..., 128 */
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(v[i], (int)i * 3);
	int *before = v;
	assert_int_equal(util_grow(&v, &cap, 127, sizeof *v, 4), 0); /* room: no realloc */
	assert_ptr_equal(v, before);
	assert_int_equal(cap, 128);
	assert_int_equal(util_grow(&v, &cap, 300, sizeof *v, 4), 0); /* a jump grows far enough */
	assert_int_equal(cap, 512);
	free(v);
}

static void test_grow_overflow_refused(void **state)
{
	(void)state;
	char *v = malloc(8);
	assert_non_null(v);
	size_t cap = 8;
	assert_int_equal(util_grow(&v, &cap, SIZE_MAX / 2 + 1, 16, 8), -1);
	assert_int_equal(cap, 8);
	/* the count fits, its bytes do not */
	assert_int_equal(util_grow(&v, &cap, SIZE_MAX / 32, 64, 8), -1);
	assert_int_equal(cap, 8);
	assert_non_null(v);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_doubles_and_keeps),
		cmocka_unit_test(test_grow_overflow_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
