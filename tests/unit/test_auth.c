/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for share/auth's key file: processes that create the key at
 * the same moment (a cluster's master and node agent start together) all
 * read the same whole key, and no temporary file is left behind; a key
 * file others may read, or a truncated one, is refused with a line saying
 * what to do.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth.h"

#define ROUNDS 150
#define PROCS 4

static char dir[] = "/tmp/test_auth.XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.' && snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < (int)sizeof p)
			unlink(p);
	if (d)
		closedir(d);
	rmdir(dir);
	return 0;
}

static size_t entries(void)
{
	size_t n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* PROCS processes create round r's key at once; each writes what it read
 * (or its error) into its pipe. */
static void test_concurrent_create(void **state)
{
	(void)state;
	int bad = 0;
	for (int r = 0; r < ROUNDS; r++) {
		char path[256];
		snprintf(path, sizeof path, "%s/key%d", dir, r);
		int fds[PROCS][2];
		pid_t pids[PROCS];
		for (int i = 0; i < PROCS; i++) {
			assert_int_equal(pipe(fds[i]), 0);
			pids[i] = fork();
			assert_true(pids[i] >= 0);
			if (pids[i] == 0) {
				unsigned char k[AUTH_KEY_BYTES];
				char err[512];
				int rc = auth_key_load(k, path, 1, err, sizeof err);
				ssize_t w = rc ? write(fds[i][1], err, strlen(err)) : write(fds[i][1], k, sizeof k);
				_exit(w > 0 && !rc ? 0 : 1);
			}
			close(fds[i][1]);
		}
		unsigned char first[AUTH_KEY_BYTES];
		for (int i = 0; i < PROCS; i++) {
			char got[600] = {0};
			ssize_t n = read(fds[i][0], got, sizeof got - 1);
			close(fds[i][0]);
			int st = 0;
			waitpid(pids[i], &st, 0);
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || n != AUTH_KEY_BYTES) {
				if (!bad++)
					print_error("round %d process %d: %s\n", r, i, got);
				continue;
			}
			if (i == 0)
				memcpy(first, got, sizeof first);
			else if (memcmp(first, got, sizeof first) != 0 && !bad++)
				print_error("round %d: process %d read another key than process 0\n", r, i);
		}
		struct stat sb;
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
	}
	assert_int_equal(bad, 0);
	assert_int_equal(entries(), ROUNDS); /* the keys, and no temporary file */
}

static void test_refused(void **state)
{
	(void)state;
	char path[256], err[512];
	unsigned char k[AUTH_KEY_BYTES];
	snprintf(path, sizeof path, "%s/short", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("abcd\n", f);
	fclose(f);
	chmod(path, 0600);
	assert_int_equal(auth_key_load(k, path, 1, err, sizeof err), -1);
	assert_non_null(strstr(err, "corrupt"));
	assert_non_null(strstr(err, "remove it"));
	unlink(path);
	assert_int_equal(auth_key_load(k, path, 1, err, sizeof err), 0);
	chmod(path, 0644);
	assert_int_equal(auth_key_load(k, path, 0, err, sizeof err), -1);
	assert_non_null(strstr(err, "chmod 600"));
	unlink(path);
	assert_int_equal(auth_key_load(k, path, 0, err, sizeof err), -1);
	assert_non_null(strstr(err, "is the cluster started"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_create),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
