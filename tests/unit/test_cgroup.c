/* SPDX-License-Identifier: MIT */
/* Unit tests for worker/cgroup: parsing /proc/self/mountinfo, /proc/self/cgroup
 * and base names; and, where this machine lets the test make cgroup v2 groups,
 * a leaf's life (enter, kill what a daemon left, reuse once empty) and the
 * sweep of a dead worker's base. Without a writable group those tests say so
 * and check the fallback's description instead. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup.h"

static void test_parse(void **s)
{
	(void)s;
	char mnt[256], root[256], own[256];
	const char *debian = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
			     "25 22 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
			     "rw,nsdelegate,memory_recursiveprot\n";
	assert_int_equal(cgroup_find_mount(debian, mnt, sizeof mnt, root, sizeof root), 0);
	assert_string_equal(mnt, "/sys/fs/cgroup");
	assert_string_equal(root, "/");
	const char *hybrid = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
			     "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
			     "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw";
	assert_int_equal(cgroup_find_mount(hybrid, mnt, sizeof mnt, root, sizeof root), 0);
	assert_string_equal(mnt, "/sys/fs/cgroup/unified");
	const char *v1only = "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n";
	assert_int_equal(cgroup_find_mount(v1only, mnt, sizeof mnt, root, sizeof root), -1);

	assert_int_equal(cgroup_find_own("12:pids:/x\n0::/user.slice/session-3.scope\n", own, sizeof own), 0);
	assert_string_equal(own, "/user.slice/session-3.scope");
	assert_int_equal(cgroup_find_own("0::/\n", own, sizeof own), 0);
	assert_string_equal(own, "/");
	assert_int_equal(cgroup_find_own("4:memory:/a\n1:cpu:/\n", own, sizeof own), -1);

	long pid;
	unsigned long long st;
	assert_int_equal(cgroup_parse_base("mtslurm-4711-3551-0", &pid, &st), 0);
	assert_int_equal(pid, 4711);
	assert_int_equal(st, 3551);
	assert_int_equal(cgroup_parse_base("mtslurm-4711-3551", &pid, &st), 0);
	assert_int_equal(cgroup_parse_base("mtslurm-x-1-0", &pid, &st), -1);
	assert_int_equal(cgroup_parse_base("mtslurm-12", &pid, &st), -1);
	assert_int_equal(cgroup_parse_base("other-1-2-0", &pid, &st), -1);
	assert_int_equal(cgroup_parse_base("mtslurm-0-5-0", &pid, &st), -1);
}

static void test_off(void **s)
{
	(void)s;
	setenv("MTSLURM_CGROUP", "off", 1);
	struct cgroup *cg = cgroup_open();
	unsetenv("MTSLURM_CGROUP");
	assert_non_null(cg);
	assert_false(cgroup_active(cg));
	assert_non_null(strstr(cgroup_describe(cg), "MTSLURM_CGROUP=off"));
	assert_null(cgroup_leaf_get(cg));
	cgroup_leaf_put(cg, NULL);
	cgroup_close(cg, NULL, NULL);
}

/* c was SIGKILLed (within 2 s); if not, end c and d and fail. */
static void reap_killed(pid_t c, pid_t d)
{
	int st = 0;
	pid_t r = 0;
	for (int i = 0; i < 200 && (r = waitpid(c, &st, WNOHANG)) == 0; i++)
		usleep(10000);
	if (r != c) {
		kill(c, SIGKILL);
		kill(d, SIGKILL);
		waitpid(c, &st, 0);
		fail_msg("process %ld was not killed", (long)c);
	}
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* A child that enters the leaf through fd and starts a setsid daemon; the
 * daemon's pid comes back through a pipe. */
static pid_t start_with_daemon(int fd, pid_t *daemon)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t c = fork();
	if (c == 0) {
		if (write(fd, "0", 1) != 1)
			_exit(1);
		pid_t d = fork();
		if (d == 0) {
			setsid();
			pause();
			_exit(0);
		}
		if (write(p[1], &d, sizeof d) != sizeof d)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(p[0], daemon, sizeof *daemon), (ssize_t)sizeof *daemon);
	close(p[0]);
	close(p[1]);
	return c;
}

static int gone(pid_t p) /* not ours to reap: it is gone or a zombie */
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)p);
	FILE *f = fopen(path, "r");
	if (!f)
		return 1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *r = strrchr(buf, ')');
	return r && (r[2] == 'Z' || r[2] == 'X');
}

static void wait_gone(pid_t p)
{
	for (int i = 0; i < 200 && !gone(p); i++)
		usleep(10000);
	if (!gone(p)) {
		kill(p, SIGKILL);
		fail_msg("daemon %ld was not killed", (long)p);
	}
}

static void test_leaf(void **s)
{
	(void)s;
	struct cgroup *cg = cgroup_open();
	assert_non_null(cg);
	if (!cgroup_active(cg)) {
		printf("no writable cgroup here (%s): leaf test skipped\n", cgroup_describe(cg));
		cgroup_close(cg, NULL, NULL);
		skip();
	}
	struct cgroup_leaf *l = cgroup_leaf_get(cg);
	assert_non_null(l);
	assert_int_equal(cgroup_leaf_populated(l), 0);
	pid_t d, c = start_with_daemon(cgroup_leaf_procs_fd(l), &d);
	assert_int_equal(cgroup_leaf_populated(l), 1);
	/* SIGCONT harms nobody: it counts the leaf's processes */
	assert_int_equal(cgroup_leaf_signal(l, SIGCONT, 0), 2);
	assert_int_equal(cgroup_leaf_signal(l, SIGCONT, c), 1);
	/* the job is over: the daemon, in its own session, goes too */
	cgroup_leaf_put(cg, l);
	reap_killed(c, d);
	wait_gone(d);
	/* the same leaf comes back once it is empty */
	for (int i = 0; i < 100 && cgroup_leaf_populated(l) != 0; i++)
		usleep(10000);
	assert_ptr_equal(cgroup_leaf_get(cg), l);
	/* a second one at the same time is another leaf */
	struct cgroup_leaf *l2 = cgroup_leaf_get(cg);
	assert_non_null(l2);
	assert_ptr_not_equal(l2, l);
	c = start_with_daemon(cgroup_leaf_procs_fd(l2), &d);
	cgroup_leaf_kill(l2);
	reap_killed(c, d);
	wait_gone(d);
	cgroup_leaf_put(cg, l2);
	cgroup_leaf_put(cg, l);
	/* close removes the base */
	char base[4200];
	const char *desc = cgroup_describe(cg), *u = strstr(desc, " under ");
	assert_non_null(u);
	snprintf(base, sizeof base, "%.*s", (int)strcspn(u + 7, " "), u + 7);
	struct stat sb;
	assert_int_equal(stat(base, &sb), 0);
	cgroup_close(cg, NULL, NULL);
	assert_int_equal(stat(base, &sb), -1);
}

/* Controller lists, memory.events, and the limits a leaf takes here. */
static void test_limits(void **s)
{
	(void)s;
	assert_int_equal(cgroup_has_controller("cpuset cpu io memory pids\n", "memory"), 1);
	assert_int_equal(cgroup_has_controller("cpuset cpu io memory pids\n", "cpu"), 1);
	assert_int_equal(cgroup_has_controller("cpuset io pids\n", "cpu"), 0);
	assert_int_equal(cgroup_has_controller("", "memory"), 0);
	assert_int_equal(cgroup_has_controller("memoryx", "memory"), 0);
	uint64_t v = 7;
	const char *ev = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n";
	assert_int_equal(cgroup_event_count(ev, "oom_kill", &v), 0);
	assert_true(v == 2);
	assert_int_equal(cgroup_event_count(ev, "oom", &v), 0);
	assert_true(v == 3);
	assert_int_equal(cgroup_event_count(ev, "oom_group", &v), -1);
	assert_int_equal(cgroup_event_count("", "oom_kill", &v), -1);
	struct cgroup *cg = cgroup_open();
	assert_non_null(cg);
	struct cgroup_leaf *l = cgroup_leaf_get(cg);
	int lim = cgroup_limits(cg);
	printf("limits here: %s\n", cgroup_describe(cg));
	/* what the leaf takes is what cgroup_limits promised, nothing more */
	assert_int_equal(cgroup_leaf_limit(cg, l, 64 << 20, 1), l ? lim : 0);
	assert_int_equal(cgroup_leaf_oom_killed(l), 0);
	cgroup_leaf_put(cg, l);
	cgroup_close(cg, NULL, NULL);
}

/* The same on a kernel without cgroup.kill (before 5.14): pid by pid */
static void test_leaf_pids(void **s)
{
	setenv("MTSLURM_CGROUP", "pids", 1);
	struct cgroup *cg = cgroup_open();
	int ok = cg && (!cgroup_active(cg) || strstr(cgroup_describe(cg), "pid by pid"));
	cgroup_close(cg, NULL, NULL);
	assert_true(ok);
	test_leaf(s);
	unsetenv("MTSLURM_CGROUP");
}

/* A base named for a worker that is gone (a live pid, the wrong start
 * time): the sweep kills what is in it and removes it. */
static void test_sweep(void **s)
{
	(void)s;
	struct cgroup *cg = cgroup_open();
	assert_non_null(cg);
	if (!cgroup_active(cg)) {
		printf("no writable cgroup here: sweep test skipped\n");
		cgroup_close(cg, NULL, NULL);
		skip();
	}
	char dead[4300], leaf[4400], procs[4500];
	snprintf(dead, sizeof dead, "%s/mtslurm-%ld-1-0", cgroup_parent_dir(cg), (long)getpid());
	snprintf(leaf, sizeof leaf, "%s/l0", dead);
	snprintf(procs, sizeof procs, "%s/cgroup.procs", leaf);
	assert_int_equal(mkdir(dead, 0755), 0);
	assert_int_equal(mkdir(leaf, 0755), 0);
	FILE *f = fopen(procs, "w");
	assert_non_null(f);
	pid_t d, c = start_with_daemon(fileno(f), &d);
	fclose(f);
	int removed = 0;
	for (int i = 0; i < 100 && !removed; i++) {
		removed = cgroup_sweep(cg);
		if (!removed)
			usleep(10000);
	}
	reap_killed(c, d);
	assert_int_equal(removed, 1);
	wait_gone(d);
	struct stat sb;
	assert_int_equal(stat(dead, &sb), -1);
	/* our own base is not a dead worker's */
	assert_int_equal(cgroup_sweep(cg), 0);
	cgroup_close(cg, NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_off),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_leaf),
		cmocka_unit_test(test_leaf_pids),
		cmocka_unit_test(test_sweep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
