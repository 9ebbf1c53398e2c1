/* SPDX-License-Identifier: MIT */
/*
 * test_jobspec: the master's checks of a submitted job object
 * (jobs_spec_check, the code on_submit runs) against hostile numbers:
 * values that do not fit the integer or time types they end up in are
 * refused with a message naming the field, never converted (converting 1e300
 * to an integer type is undefined behaviour, and a 1e300 s timeout reached
 * the worker's (uint64_t) cast).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "master.h"

static int check(const char *dflt, const char *job, char *err, size_t n)
{
	char perr[120];
	msg *d = dflt ? msg_parse(dflt, strlen(dflt), perr, sizeof perr) : NULL;
	msg *j = msg_parse(job, strlen(job), perr, sizeof perr);
	assert_non_null(j);
	err[0] = '\0';
	int k = jobs_spec_check(d, j, err, n);
	msg_free(d);
	msg_free(j);
	return k;
}

static void refused(const char *job, const char *field)
{
	char err[400];
	int k = check(NULL, job, err, sizeof err);
	if (k >= 0)
		fail_msg("accepted: %s", job);
	if (!strstr(err, field))
		fail_msg("error for %s does not name %s: %s", job, field, err);
}

static void test_out_of_range(void **state)
{
	(void)state;
	refused("{\"type\":\"echo\",\"prio\":1e300}", "prio");
	refused("{\"type\":\"echo\",\"prio\":-1e300}", "prio");
	refused("{\"type\":\"echo\",\"prio\":9223372036854775808}", "prio");
	refused("{\"type\":\"echo\",\"prio\":2147483648}", "prio");
	refused("{\"type\":\"echo\",\"prio\":1.5}", "prio");
	refused("{\"type\":\"echo\",\"retries\":1e300}", "retries");
	refused("{\"type\":\"echo\",\"retries\":-1}", "retries");
	refused("{\"type\":\"exec\",\"input\":\"true\",\"ranks\":1e300}", "ranks");
	refused("{\"type\":\"echo\",\"timeout\":1e300}", "timeout");
	refused("{\"type\":\"echo\",\"timeout\":1e999}", "timeout"); /* infinity */
	refused("{\"type\":\"echo\",\"timeout\":-1e300}", "timeout");
	refused("{\"type\":\"echo\",\"delay\":1e300}", "delay");
	refused("{\"type\":\"echo\",\"treq\":1e999}", "treq");
	refused("{\"type\":\"echo\",\"deps\":[1e300]}", "deps");
	refused("{\"type\":\"echo\",\"deps\":[-1e300]}", "deps");
	refused("{\"type\":\"echo\",\"deps\":[9223372036854775808]}", "deps");
	char err[400];
	assert_int_equal(check("{\"prio\":1e300}", "{\"type\":\"echo\"}", err, sizeof err), -1);
	assert_non_null(strstr(err, "prio"));
}

static void test_in_range(void **state)
{
	(void)state;
	char err[400];
	assert_int_equal(check(NULL, "{\"type\":\"echo\",\"prio\":-2147483648,\"timeout\":4e9,\"delay\":0,"
				     "\"retries\":10000,\"deps\":[1,2]}",
			       err, sizeof err),
			 MJOB_ECHO);
	assert_int_equal(check("{\"timeout\":5}", "{\"type\":\"exec\",\"input\":\"true\",\"ranks\":4}", err,
			       sizeof err),
			 MJOB_EXEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_in_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
