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
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* util_proc_stat: our own process runs and has a start time no later than
 * a child started after it; a pid that does not exist is -1. */
static void test_proc_stat(void **state)
{
	(void)state;
	unsigned long long me = 0, kid = 0;
	char st = 0;
	assert_int_equal(util_proc_stat((long)getpid(), &me, &st), 0);
	assert_int_equal(st, 'R');
	assert_true(me > 0);
	pid_t c = fork();
	assert_true(c >= 0);
	if (c == 0) {
		pause();
		_exit(0);
	}
	assert_int_equal(util_proc_stat((long)c, &kid, &st), 0);
	assert_true(kid >= me);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	assert_int_equal(util_proc_stat((long)c, &kid, &st), -1); /* reaped: gone */
	assert_int_equal(util_proc_stat(-5, &kid, &st), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_doubles_and_keeps),
		cmocka_unit_test(test_grow_overflow_refused),
		cmocka_unit_test(test_proc_stat),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
