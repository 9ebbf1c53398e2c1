/* SPDX-License-Identifier: MIT */
/*
 * test_sljob: the parts of slurm/sljob.c that need no controller -- Slurm
 * time limits and memory sizes as users write them, and the message when
 * there is no Slurm configuration at all (which must come at once, not after
 * libslurm's one-minute wait). Submitting, querying and cancelling run
 * against the real test cluster in tests/sys/t05*.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sljob.h"

static void test_time(void **st)
{
	(void)st;
	assert_int_equal(sljob_parse_time("90"), 90);
	assert_int_equal(sljob_parse_time("1:30"), 2); /* 1 min 30 s, rounded up */
	assert_int_equal(sljob_parse_time("2:00:00"), 120);
	assert_int_equal(sljob_parse_time("1-00:00:00"), 1440);
	assert_int_equal(sljob_parse_time("1-2"), 1560);
	assert_int_equal(sljob_parse_time("1-2:30"), 1590);
	assert_int_equal(sljob_parse_time("0:0:1"), 1);
	assert_int_equal(sljob_parse_time("x"), -1);
	assert_int_equal(sljob_parse_time("1:2:3:4"), -1);
	assert_int_equal(sljob_parse_time("1:"), -1);
	assert_int_equal(sljob_parse_time("-5"), -1);
	assert_int_equal(sljob_parse_time(""), -1);
	assert_int_equal(sljob_parse_time("2h"), -1);
}

static void test_mem(void **st)
{
	(void)st;
	assert_int_equal(sljob_parse_mem("4000"), 4000);
	assert_int_equal(sljob_parse_mem("4G"), 4096);
	assert_int_equal(sljob_parse_mem("4GB"), 4096);
	assert_int_equal(sljob_parse_mem("512M"), 512);
	assert_int_equal(sljob_parse_mem("1.5g"), 1536);
	assert_int_equal(sljob_parse_mem("2048K"), 2);
	assert_int_equal(sljob_parse_mem("lots"), -1);
	assert_int_equal(sljob_parse_mem("4X"), -1);
	assert_int_equal(sljob_parse_mem("4Gx"), -1);
}

static void test_no_config(void **st)
{
	(void)st;
	setenv("SLURM_CONF", "/nonexistent/slurm.conf", 1);
	char err[512];
	time_t t0 = time(NULL);
	assert_int_equal(sljob_available(err, sizeof err), -1);
	assert_non_null(strstr(err, "no Slurm configuration found"));
	assert_non_null(strstr(err, "--local"));
	uint32_t id;
	struct sljob_spec s = {.script = "#!/bin/sh\ntrue\n", .work_dir = "/tmp"};
	assert_int_equal(sljob_submit(&s, &id, err, sizeof err), -1);
	assert_non_null(strstr(err, "/nonexistent/slurm.conf"));
	assert_true(time(NULL) - t0 < 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_time), cmocka_unit_test(test_mem),
					   cmocka_unit_test(test_no_config)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
