/* SPDX-License-Identifier: MIT */
/* Unit tests for share/rundir: resolution order, private creation, master.json. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "rundir.h"

static char tmp[64];

static int setup(void **s)
{
	(void)s;
	strcpy(tmp, "/tmp/mts-rundir-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	return 0;
}

static int teardown(void **s)
{
	(void)s;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void test_resolve_order(void **s)
{
	(void)s;
	char out[RUNDIR_PATH_MAX], err[256];
	setenv("MTSLURM_RUN_DIR", "/from/env/", 1);
	assert_int_equal(rundir_resolve(out, "/from/opt", err, sizeof err), 0);
	assert_string_equal(out, "/from/opt");
	assert_int_equal(rundir_resolve(out, NULL, err, sizeof err), 0);
	assert_string_equal(out, "/from/env"); /* trailing slash dropped */
	unsetenv("MTSLURM_RUN_DIR");
	setenv("HOME", "/home/someone", 1);
	assert_int_equal(rundir_resolve(out, "", err, sizeof err), 0);
	assert_string_equal(out, "/home/someone/.mtslurm/default");
	assert_int_equal(rundir_resolve(out, "rel/dir", err, sizeof err), 0);
	assert_int_equal(out[0], '/'); /* made absolute */
	assert_non_null(strstr(out, "/rel/dir"));
}

static void test_create_private(void **s)
{
	(void)s;
	char dir[256], err[256], logs[RUNDIR_PATH_MAX];
	snprintf(dir, sizeof dir, "%s/a/b/run", tmp);
	assert_int_equal(rundir_create(dir, err, sizeof err), 0);
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	rundir_path(logs, dir, "logs");
	assert_int_equal(stat(logs, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* A run dir others can read is tightened. */
	chmod(dir, 0755);
	assert_int_equal(rundir_create(dir, err, sizeof err), 0);
	stat(dir, &st);
	assert_int_equal(st.st_mode & 0777, 0700);
}

static void test_master_json(void **s)
{
	(void)s;
	char err[512];
	struct master_info a = {.port = 41234, .pid = 999, .started = 1700000000.5}, b;
	strcpy(a.host, "127.0.0.1");
	strcpy(a.node, "n1");
	strcpy(a.version, "0.1.0");
	assert_int_equal(rundir_read_master(tmp, &b, err, sizeof err), -1);
	assert_non_null(strstr(err, "mtslurm start"));
	assert_int_equal(rundir_write_master(tmp, &a, err, sizeof err), 0);
	assert_int_equal(rundir_read_master(tmp, &b, err, sizeof err), 0);
	assert_string_equal(b.host, "127.0.0.1");
	assert_int_equal(b.port, 41234);
	assert_int_equal(b.pid, 999);
	assert_string_equal(b.node, "n1");
	assert_true(b.started > 1700000000.4 && b.started < 1700000000.6);
	/* Corrupt files are reported, not half-read. */
	char p[RUNDIR_PATH_MAX];
	rundir_path(p, tmp, "master.json");
	FILE *f = fopen(p, "w");
	fputs("{\"host\":\"x\",", f);
	fclose(f);
	assert_int_equal(rundir_read_master(tmp, &b, err, sizeof err), -1);
	assert_non_null(strstr(err, "corrupt"));
	assert_int_equal(rundir_remove_master(tmp), 0);
	assert_int_equal(rundir_remove_master(tmp), 0); /* already gone is fine */
	assert_true(rundir_pid_alive(getpid()));
	assert_false(rundir_pid_alive(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_order),
		cmocka_unit_test_setup_teardown(test_create_private, setup, teardown),
		cmocka_unit_test_setup_teardown(test_master_json, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
