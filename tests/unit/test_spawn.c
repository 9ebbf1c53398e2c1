/* SPDX-License-Identifier: MIT */
/* Unit tests for worker/spawn: a child gets the default action back for a
 * signal the parent ignores or handles, its stdio and working directory, its
 * own session; where this machine lets the test make cgroup v2 groups, a
 * child given a leaf runs in it -- placed there by clone3(CLONE_INTO_CGROUP)
 * on x86-64 with a kernel that has it, and by the vfork fallback (the child
 * writes cgroup.procs) when clone3 refuses the leaf's descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup.h"
#include "spawn.h"

extern char **environ;

static void on_usr1(int sig)
{
	(void)sig;
}

/* Run sh -c SCRIPT through spawn_start with q's cgroup settings; its
 * stdout into out (NUL-terminated). Returns the exit status. */
static int run_sh(struct spawner *sp, struct spawn_req *q, const char *script, char *out, size_t outlen)
{
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(devnull > 2);
	struct spawn_sigs sigs;
	spawn_sigs_refresh(&sigs);
	char *argv[] = {"sh", "-c", (char *)script, NULL};
	q->prog = "/bin/sh";
	q->argv = argv;
	q->env = environ;
	q->in = devnull;
	q->out = p[1];
	q->err = p[1];
	q->dflt = &sigs;
	q->ppid = getpid();
	pid_t pid = spawn_start(sp, q);
	close(p[1]);
	close(devnull);
	assert_true(pid > 0);
	size_t n = 0;
	ssize_t k;
	while (n + 1 < outlen && ((k = read(p[0], out + n, outlen - 1 - n)) > 0 || (k < 0 && errno == EINTR)))
		n += k > 0 ? (size_t)k : 0;
	out[n] = '\0';
	close(p[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

/* Signals the parent ignores (SIGPIPE) or handles (SIGUSR1) are back to
 * their defaults in the child, nothing is blocked, and it leads its own
 * session in the working directory it was given. */
static void test_child_state(void **s)
{
	(void)s;
	struct spawner sp;
	spawn_init(&sp);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, on_usr1);
	/* 33, which glibc's sigaction refuses, ignored as a parent started by
	 * posix_spawn (GNU make) has it: through the kernel */
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} ign = {SIG_IGN, 0, NULL, 0}, was;
	assert_int_equal(syscall(SYS_rt_sigaction, 33, &ign, &was, sizeof(uint64_t)), 0);
	struct spawn_req q = {.cwd = "/tmp", .cg_fd = -1, .cg_dir = -1};
	char out[512];
	int st = run_sh(&sp, &q,
			"grep -E '^Sig(Ign|Blk|Cgt):' /proc/self/status; pwd; "
			"[ \"$(ps -o sid= -p $$ | tr -d ' ')\" = $$ ] && echo session",
			out, sizeof out);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
	syscall(SYS_rt_sigaction, 33, &was, NULL, sizeof(uint64_t));
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* sh itself catches and ignores nothing it was not told to (what
	 * the child said, printed when it is not so) */
	if (!strstr(out, "SigIgn:\t0000000000000000") || !strstr(out, "SigBlk:\t0000000000000000"))
		fail_msg("the child's signals are not all default and unblocked:\n%s", out);
	assert_non_null(strstr(out, "/tmp\n"));
	assert_non_null(strstr(out, "session"));
	/* a program that is not there: the error comes back, no pid */
	char *argv[] = {"nope", NULL};
	struct spawn_sigs sigs;
	spawn_sigs_refresh(&sigs);
	struct spawn_req bad = {.prog = "/nonexistent/nope", .argv = argv, .env = environ, .in = 0, .out = 1, .err = 2,
				.dflt = &sigs, .ppid = getpid(), .cg_fd = -1, .cg_dir = -1};
	assert_int_equal(spawn_start(&sp, &bad), -1);
	assert_int_equal(bad.err_no, ENOENT);
	assert_int_equal(bad.in_exec, 1);
	spawn_fini(&sp);
}

/* 1 if this kernel has clone3 with CLONE_INTO_CGROUP (5.7) and the CPU
 * is one spawn.c has the clone3 call for. */
static int have_clone3(void)
{
#if defined(__x86_64__)
	struct utsname u;
	int maj = 0, min = 0;
	return uname(&u) == 0 && sscanf(u.release, "%d.%d", &maj, &min) == 2 && (maj > 5 || (maj == 5 && min >= 7));
#else
	return 0;
#endif
}

/* The leaf's name as /proc/PID/cgroup shows it: the tail of its path. */
static int in_leaf(const char *out, const char *leafdir)
{
	const char *tail = strstr(leafdir, "/mtslurm-");
	const char *line = strstr(out, "0::");
	return tail && line && strncmp(line + 3, tail, strlen(tail)) == 0 && line[3 + strlen(tail)] == '\n';
}

/* A child given a leaf runs in it: by clone3 where there is one, else (and
 * when clone3 refuses the descriptor) by the vfork child's own write. */
static void test_leaf(void **s)
{
	(void)s;
	struct cgroup *cg = cgroup_open();
	assert_non_null(cg);
	if (!cgroup_active(cg)) {
		printf("no writable cgroup here: leaf test skipped\n");
		cgroup_close(cg, NULL, NULL);
		skip();
	}
	struct cgroup_leaf *l = cgroup_leaf_get(cg);
	assert_non_null(l);
	char leafdir[4096], link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", cgroup_leaf_dir_fd(l));
	ssize_t n = readlink(link, leafdir, sizeof leafdir - 1);
	assert_true(n > 0);
	leafdir[n] = '\0';
	struct spawner sp;
	spawn_init(&sp);
	char out[512];

	struct spawn_req q = {.cg_fd = cgroup_leaf_procs_fd(l), .cg_dir = cgroup_leaf_dir_fd(l)};
	int st = run_sh(&sp, &q, "grep ^0:: /proc/self/cgroup", out, sizeof out);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(in_leaf(out, leafdir));
	assert_int_equal(q.cg_err, 0);
	if (have_clone3()) /* the kernel put it there, not its own write */
		assert_int_equal(q.in_cg, 1);
	cgroup_leaf_put(cg, l);

	/* a descriptor clone3 refuses (not a cgroup): the vfork child enters
	 * through cgroup.procs, and clone3 stays in use for the next one */
	l = cgroup_leaf_get(cg);
	assert_non_null(l);
	snprintf(link, sizeof link, "/proc/self/fd/%d", cgroup_leaf_dir_fd(l));
	n = readlink(link, leafdir, sizeof leafdir - 1);
	assert_true(n > 0);
	leafdir[n] = '\0';
	int notcg = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(notcg >= 0);
	struct spawn_req f = {.cg_fd = cgroup_leaf_procs_fd(l), .cg_dir = notcg};
	st = run_sh(&sp, &f, "grep ^0:: /proc/self/cgroup", out, sizeof out);
	close(notcg);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(in_leaf(out, leafdir));
	assert_int_equal(f.in_cg, 0);
	assert_int_equal(f.cg_err, 0);
	if (have_clone3())
		assert_int_equal(sp.no_clone3, 0);

	/* a leaf cgroup.kill was written to (a cancelled job's): Linux 6.18
	 * kills a child clone3 starts there, so it is entered through
	 * cgroup.procs -- and clone3 stays on for the other leaves */
	cgroup_leaf_kill(l);
	if (!strstr(cgroup_describe(cg), "no cgroup.kill"))
		assert_int_equal(cgroup_leaf_dir_fd(l), -1);
	struct spawn_req k = {.cg_fd = cgroup_leaf_procs_fd(l), .cg_dir = cgroup_leaf_dir_fd(l)};
	st = run_sh(&sp, &k, "grep ^0:: /proc/self/cgroup", out, sizeof out);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(in_leaf(out, leafdir));
	if (have_clone3())
		assert_int_equal(sp.no_clone3, 0);

	/* the same leaf given to clone3 anyway: a child killed at birth is
	 * caught, the job runs through vfork, and clone3 is off from then on */
	int raw = open(leafdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(raw >= 0);
	struct spawn_req b = {.cg_fd = cgroup_leaf_procs_fd(l), .cg_dir = raw};
	st = run_sh(&sp, &b, "grep ^0:: /proc/self/cgroup", out, sizeof out);
	close(raw);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(in_leaf(out, leafdir));
	if (!b.in_cg && have_clone3())
		assert_int_equal(sp.no_clone3, 1);
	cgroup_leaf_put(cg, l);
	spawn_fini(&sp);
	cgroup_close(cg, NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_child_state),
		cmocka_unit_test(test_leaf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
