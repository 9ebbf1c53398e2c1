/* SPDX-License-Identifier: MIT */
/* Unit tests for master/mjob: the strings packed after a job's input
 * (target, cwd, env, opts) are found again for every combination of which
 * are present, with and without an environment snapshot id and a resource
 * request before them; and a job with a small input stays within one
 * 128-byte malloc chunk (the master's memory per queued job). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mjob.h"

static void expect_str(const char *got, const char *want)
{
	if (!want)
		assert_null(got);
	else
		assert_string_equal(got, want);
}

static void test_strings_every_combination(void **state)
{
	(void)state;
	const char *vals[] = {"node07", "/scratch/run", "[\"A=1\",\"B=2\"]", "{\"git\":{\"commit\":\"abc\"}}"};
	struct mjob_res res = {.cpus = 3, .gpus = 1, .mem_b = 1u << 30, .gpu_mask = 0};
	for (unsigned present = 0; present < 16; present++)
		for (unsigned extra = 0; extra < 4; extra++) {
			const char *s[4];
			for (unsigned k = 0; k < 4; k++)
				s[k] = present & (1u << k) ? vals[k] : NULL;
			uint32_t env_id = extra & 1 ? 77 : 0;
			struct mjob *j = mjob_new_res("{\"x\":1}", 7, s[0], s[1], s[2], env_id, s[3],
						      extra & 2 ? &res : NULL);
			assert_non_null(j);
			assert_string_equal(mjob_input(j), "{\"x\":1}");
			expect_str(mjob_target(j), s[0]);
			expect_str(mjob_cwd(j), s[1]);
			expect_str(mjob_env(j), s[2]);
			expect_str(mjob_opts(j), s[3]);
			assert_int_equal(mjob_env_id(j), env_id);
			struct mjob_res got;
			assert_int_equal(mjob_res_get(j, &got), extra & 2 ? 1 : 0);
			if (extra & 2)
				assert_int_equal(got.cpus, 3);
			mjob_free(j);
		}
}

static void test_empty_strings_are_present(void **state)
{
	(void)state;
	struct mjob *j = mjob_new("", 0, "", NULL, "", 0, "{}");
	assert_non_null(j);
	expect_str(mjob_target(j), "");
	expect_str(mjob_cwd(j), NULL);
	expect_str(mjob_env(j), "");
	expect_str(mjob_opts(j), "{}");
	mjob_free(j);
}

/* glibc's chunk for a request of n bytes is (n + 8 + 15) & ~15: an echo job
 * with an input of up to 16 bytes must fit 128 (docs/master.md). */
static void test_small_job_fits_one_chunk(void **state)
{
	(void)state;
	assert_true(sizeof(struct mjob) + 16 + 8 <= 128);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings_every_combination),
		cmocka_unit_test(test_empty_strings_are_present),
		cmocka_unit_test(test_small_job_fits_one_chunk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
