/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for share/gitcache (the shared checkout cache and its
 * cross-node lock) and worker/gitstep (waiting for a checkout off the
 * loop): the lock excludes and recovers from a dead holder and from an old
 * one; four processes racing for one checkout make one clone, one checkout
 * and one setup run; a branch resolves to its commit, a bad branch or URL
 * fails with libgit2's reason; a held checkout survives gc, the least
 * recently used goes first under the cap; gitstep's waiters for one
 * checkout share one request. The repositories are made with the git CLI.
 */
#include <setjmp.h>
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
#include <uv.h>

#include "gitcache.h"
#include "gitstep.h"
#include "util.h"

static char tmp[64], url[128], root[128], c1[48], c2[48];

static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

static void read_line(const char *cmd, char *out, size_t n)
{
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, (int)n, p));
	out[strcspn(out, "\n")] = '\0';
	pclose(p);
}

/* Lines of ROOT/log that contain word. */
static int log_count(const char *word)
{
	char cmd[512], out[32];
	snprintf(cmd, sizeof cmd, "grep -c ' %s ' %s/log || true", word, root);
	read_line(cmd, out, sizeof out);
	return atoi(out);
}

/* A bare repository with two commits on main (c1, then c2): the same
 * files, one byte different, so both checkouts have the same size. */
static int setup(void **s)
{
	(void)s;
	strcpy(tmp, "/tmp/mts-gitcache-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	setenv("GIT_AUTHOR_NAME", "t", 1);
	setenv("GIT_AUTHOR_EMAIL", "t@example.org", 1);
	setenv("GIT_COMMITTER_NAME", "t", 1);
	setenv("GIT_COMMITTER_EMAIL", "t@example.org", 1);
	sh("cd %s && git init -q -b main src && mkdir src/d && echo one > src/d/f && git -C src add -A && "
	   "git -C src commit -qm one && git clone -q --bare src repo.git", tmp);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "git -C %s/repo.git rev-parse main", tmp);
	read_line(cmd, c1, sizeof c1);
	sh("cd %s && echo two > src/d/f && git -C src commit -qam two && git -C src push -q %s/repo.git main", tmp, tmp);
	read_line(cmd, c2, sizeof c2);
	snprintf(url, sizeof url, "file://%s/repo.git", tmp);
	snprintf(root, sizeof root, "%s/git", tmp);
	return 0;
}

static int teardown(void **s)
{
	(void)s;
	sh("rm -rf %s", tmp);
	return 0;
}

/* ---- the lock ---- */

static void test_lock_excludes(void **s)
{
	(void)s;
	char path[256], err[256];
	snprintf(path, sizeof path, "%s/a.lock", tmp);
	assert_int_equal(gitcache_lock(path, 60, 0, err, sizeof err), 0);
	assert_int_equal(gitcache_lock(path, 60, 0.2, err, sizeof err), -1); /* held by a live process: us */
	assert_non_null(strstr(err, "busy"));
	gitcache_unlock(path);
	assert_int_equal(gitcache_lock(path, 60, 0.2, err, sizeof err), 0);
	gitcache_unlock(path);
}

static void write_lock(const char *path, const char *content, int age_s)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	struct timespec ts[2];
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= age_s;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void test_lock_stale_dead_holder(void **s)
{
	(void)s;
	char path[256], err[256], host[256], content[400];
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0); /* its pid is now a dead holder's */
	util_hostname(host, sizeof host);
	snprintf(path, sizeof path, "%s/dead.lock", tmp);
	snprintf(content, sizeof content, "%s %ld deadbeefdeadbeef\n", host, (long)pid);
	write_lock(path, content, 0);
	assert_int_equal(gitcache_lock(path, 600, 2.0, err, sizeof err), 0);
	char now[400];
	FILE *f = fopen(path, "r");
	assert_non_null(fgets(now, sizeof now, f));
	fclose(f);
	assert_string_not_equal(now, content); /* ours now */
	gitcache_unlock(path);
}

static void test_lock_stale_by_age(void **s)
{
	(void)s;
	char path[256], err[256];
	snprintf(path, sizeof path, "%s/old.lock", tmp);
	/* another node's holder: alive as far as we can tell, but fresh */
	write_lock(path, "some-other-node 1 0123456789abcdef\n", 5);
	assert_int_equal(gitcache_lock(path, 60, 0.3, err, sizeof err), -1);
	/* not refreshed for longer than the bound: stale */
	write_lock(path, "some-other-node 1 0123456789abcdef\n", 120);
	assert_int_equal(gitcache_lock(path, 60, 2.0, err, sizeof err), 0);
	gitcache_unlock(path);
}

/* ---- resolve ---- */

static void test_resolve(void **s)
{
	(void)s;
	char commit[GITCACHE_COMMIT_HEX + 1], err[GITCACHE_ERR_MAX], bad[256];
	assert_int_equal(gitcache_resolve(url, "main", commit, err, sizeof err), 0);
	assert_string_equal(commit, c2);
	assert_int_equal(gitcache_resolve(url, NULL, commit, err, sizeof err), 0); /* HEAD */
	assert_string_equal(commit, c2);
	assert_int_equal(gitcache_resolve(url, "no-such", commit, err, sizeof err), -1);
	assert_non_null(strstr(err, "branch 'no-such' not found"));
	snprintf(bad, sizeof bad, "file://%s/nowhere.git", tmp);
	assert_int_equal(gitcache_resolve(bad, "main", commit, err, sizeof err), -1);
	assert_non_null(strstr(err, "cannot reach repository"));
	assert_non_null(strstr(err, "nowhere.git")); /* libgit2's own words name the path */
}

/* ---- ensure: four processes race for one checkout ---- */

static void test_race_one_clone(void **s)
{
	(void)s;
	char setup_cmd[300];
	snprintf(setup_cmd, sizeof setup_cmd, "echo x >> %s/setup-runs; sleep 0.3", tmp);
	pid_t kids[4];
	for (int i = 0; i < 4; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			struct gitcache_req q = {root, url, c1, NULL, setup_cmd, 0, 0, 0};
			struct gitcache_res r;
			int rc = gitcache_ensure(&q, &r);
			char f[4200];
			snprintf(f, sizeof f, "%s/d/f", r.tree);
			_exit(rc == 0 && access(f, R_OK) == 0 ? 0 : 1);
		}
	}
	for (int i = 0; i < 4; i++) {
		int st = 0;
		waitpid(kids[i], &st, 0);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_int_equal(log_count("clone"), 1);
	assert_int_equal(log_count("checkout"), 1);
	char cmd[4400], out[32];
	snprintf(cmd, sizeof cmd, "wc -l < %s/setup-runs", tmp);
	read_line(cmd, out, sizeof out);
	assert_int_equal(atoi(out), 1); /* the setup command ran once */

	/* the commit's files; the second commit: a fetch into the same clone */
	struct gitcache_req q = {root, url, c2, NULL, NULL, 0, 0, 0};
	struct gitcache_res r;
	assert_int_equal(gitcache_ensure(&q, &r), 0);
	assert_true(r.checked_out && !r.cloned);
	snprintf(cmd, sizeof cmd, "cat %s/d/f", r.tree);
	read_line(cmd, out, sizeof out);
	assert_string_equal(out, "two");
	gitcache_release(r.hold_fd);
	assert_int_equal(log_count("clone"), 1);

	/* commit wins: a ref is not even looked at when a commit is given */
	struct gitcache_req q2 = {root, url, c1, "no-such-branch", NULL, 0, 0, 0};
	assert_int_equal(gitcache_ensure(&q2, &r), 0);
	snprintf(cmd, sizeof cmd, "cat %s/d/f", r.tree);
	read_line(cmd, out, sizeof out);
	assert_string_equal(out, "one");
	gitcache_release(r.hold_fd);
}

static void test_ensure_errors(void **s)
{
	(void)s;
	char bad[256];
	struct gitcache_res r;
	snprintf(bad, sizeof bad, "file://%s/nowhere.git", tmp);
	struct gitcache_req q = {root, bad, c1, NULL, NULL, 0, 0, 0};
	assert_int_equal(gitcache_ensure(&q, &r), -1);
	assert_non_null(strstr(r.err, "cannot fetch"));
	assert_non_null(strstr(r.err, "nowhere.git"));
	struct gitcache_req q2 = {root, url, "0123456789012345678901234567890123456789", NULL, NULL, 0, 0, 0};
	assert_int_equal(gitcache_ensure(&q2, &r), -1);
	assert_non_null(strstr(r.err, "not found in repository"));
	struct gitcache_req q3 = {root, url, c1, NULL, "echo broken deps >&2; exit 3", 0, 0, 0};
	assert_int_equal(gitcache_ensure(&q3, &r), -1);
	assert_non_null(strstr(r.err, "exit status 3"));
	assert_non_null(strstr(r.err, "broken deps"));
	struct stat st;
	assert_int_equal(stat(r.tree, &st), -1); /* a failed setup leaves no checkout */
}

/* A setup command past its bound: its whole process group is killed, the
 * checkout fails with the reason, its lock is released, and the next
 * request (a setup that ends) makes it cleanly. */
static void test_setup_bound(void **s)
{
	(void)s;
	char setup[1200], pidf[300], cmd[400], out[64];
	snprintf(pidf, sizeof pidf, "%s/setup-bg.pid", tmp);
	char flag[300];
	snprintf(flag, sizeof flag, "%s/setup-slow", tmp);
	snprintf(cmd, sizeof cmd, "touch %s", flag);
	assert_int_equal(system(cmd), 0);
	/* slow while the flag file exists */
	snprintf(setup, sizeof setup, "if [ -e %s ]; then sleep 60 & echo $! > %s; echo slow deps; sleep 60; fi",
		 flag, pidf);
	struct gitcache_req q = {root, url, c1, NULL, setup, 0, 0, 0.5};
	struct gitcache_res r;
	uint64_t t0 = util_mono_ns();
	assert_int_equal(gitcache_ensure(&q, &r), -1);
	double took_s = (double)(util_mono_ns() - t0) / 1e9;
	assert_true(took_s < 10.0);
	assert_non_null(strstr(r.err, "ran longer than its bound of 0.5 s"));
	assert_non_null(strstr(r.err, "slow deps"));
	snprintf(cmd, sizeof cmd, "cat %s", pidf);
	read_line(cmd, out, sizeof out);
	pid_t bg = (pid_t)atoi(out);
	assert_true(bg > 0);
	int gone = 0;
	for (int i = 0; i < 100 && !gone; i++) {
		char st_path[64], line[256] = "";
		snprintf(st_path, sizeof st_path, "/proc/%d/stat", (int)bg);
		FILE *f = fopen(st_path, "r");
		gone = !f || !fgets(line, sizeof line, f) || strstr(line, ") Z ") != NULL;
		if (f)
			fclose(f);
		if (!gone)
			usleep(50000);
	}
	assert_true(gone); /* the background child of its group too */
	char lock[4400];
	snprintf(lock, sizeof lock, "%s/trees/%s.lock", root, r.key);
	struct stat st;
	assert_int_equal(stat(lock, &st), -1);
	assert_int_equal(stat(r.tree, &st), -1);
	/* the same checkout again, its setup now quick: made cleanly (the
	 * killed one left no lock and no half-made tree) */
	unlink(flag);
	assert_int_equal(gitcache_ensure(&q, &r), 0);
	assert_true(r.checked_out);
	gitcache_release(r.hold_fd);
}

/* ---- gc and the cap ---- */

static void test_gc_holds_and_lru(void **s)
{
	(void)s;
	struct gitcache_res a, b;
	struct gitcache_req qa = {root, url, c1, NULL, NULL, 0, 0, 0}, qb = {root, url, c2, NULL, NULL, 0, 0, 0};
	uint64_t freed = 0;
	char err[256];
	assert_int_equal(gitcache_gc(root, 0, NULL, NULL, NULL, &freed, err, sizeof err), 0); /* a clean start */
	int removed = log_count("remove repository");
	assert_int_equal(gitcache_ensure(&qa, &a), 0);
	sleep(1); /* b's last use is later than a's */
	assert_int_equal(gitcache_ensure(&qb, &b), 0);
	/* held: gc removes nothing */
	assert_int_equal(gitcache_gc(root, 0, NULL, NULL, NULL, &freed, err, sizeof err), 0);
	struct stat st;
	assert_int_equal(stat(a.tree, &st), 0);
	assert_int_equal(stat(b.tree, &st), 0);
	gitcache_release(a.hold_fd);
	gitcache_release(b.hold_fd);
	/* a cap that fits one of them (4 bytes each): the least recently used (a) goes */
	assert_int_equal(gitcache_gc(root, 4, NULL, NULL, NULL, &freed, err, sizeof err), 0);
	assert_int_equal(stat(a.tree, &st), -1);
	assert_int_equal(stat(b.tree, &st), 0);
	assert_true(freed == 4);
	/* no cap: every unused checkout and the clone go */
	assert_int_equal(gitcache_gc(root, 0, NULL, NULL, NULL, &freed, err, sizeof err), 0);
	assert_int_equal(stat(b.tree, &st), -1);
	assert_int_equal(log_count("remove repository"), removed + 1);
	/* nor anything of the checkouts that never became ready */
	char cmd[300], out[32];
	snprintf(cmd, sizeof cmd, "ls %s/trees | wc -l", root);
	read_line(cmd, out, sizeof out);
	assert_string_equal(out, "0");
}

/* ---- gitstep: waiters for one checkout share one request ---- */

struct got {
	int calls;
	struct gitstep_ent *e[3];
};

static void on_got(void *a, void *b, struct gitstep_ent *e, const char *why)
{
	struct got *g = a;
	(void)b;
	assert_non_null(e);
	(void)why;
	g->e[g->calls++] = e;
}

static void on_closed(void *arg)
{
	*(int *)arg = 1;
}

static void test_gitstep_shared_wait(void **s)
{
	(void)s;
	uv_loop_t loop;
	uv_loop_init(&loop);
	char err[256];
	struct gitstep_opts o = {&loop, root, 0, 0, 0};
	struct gitstep *g = gitstep_new(&o, err, sizeof err);
	assert_non_null(g);
	struct gitstep_spec sp;
	char opts[512];
	snprintf(opts, sizeof opts, "{\"git\":{\"url\":\"%s\",\"commit\":\"%s\",\"workdir\":\"d\"}}", url, c1);
	assert_int_equal(gitstep_spec_from_opts(&sp, opts, err, sizeof err), 1);
	struct got got = {0, {NULL}};
	struct gitstep_ent *ready = NULL;
	int before = log_count("checkout");
	assert_non_null(gitstep_get(g, &sp, on_got, &got, NULL, &ready));
	assert_non_null(gitstep_get(g, &sp, on_got, &got, NULL, &ready));
	assert_null(ready);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(got.calls, 2);
	assert_ptr_equal(got.e[0], got.e[1]);
	assert_int_equal(gitstep_requests(g), 1); /* the two waited together */
	assert_int_equal(log_count("checkout"), before + 1);
	/* held now: the next job gets it at once, off no thread */
	assert_null(gitstep_get(g, &sp, on_got, &got, NULL, &ready));
	assert_ptr_equal(ready, got.e[0]);
	assert_int_equal(gitstep_requests(g), 1);
	char *dir = gitstep_dir(ready, sp.workdir, err, sizeof err);
	assert_non_null(dir);
	assert_non_null(strstr(dir, "/trees/"));
	free(dir);
	assert_null(gitstep_dir(ready, "missing", err, sizeof err));
	assert_non_null(strstr(err, "does not exist"));
	gitstep_put(ready);
	gitstep_put(got.e[0]);
	gitstep_put(got.e[1]);
	gitstep_spec_free(&sp);
	/* malformed options */
	assert_int_equal(gitstep_spec_from_opts(&sp, "{\"git\":{\"url\":\"x\",\"commit\":\"abc\"}}", err, sizeof err), -1);
	assert_non_null(strstr(err, "40 hexadecimal"));
	assert_int_equal(gitstep_spec_from_opts(&sp, "{\"git\":{\"url\":\"x\",\"workdir\":\"../up\"}}", err, sizeof err), -1);
	assert_int_equal(gitstep_spec_from_opts(&sp, "{\"res\":{}}", err, sizeof err), 0);
	int closed = 0;
	gitstep_close(g, on_closed, &closed);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(closed);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_parse_bytes(void **s)
{
	(void)s;
	uint64_t v;
	assert_int_equal(gitcache_parse_bytes("20G", &v), 0);
	assert_true(v == 20ull << 30);
	assert_int_equal(gitcache_parse_bytes("512", &v), 0);
	assert_true(v == 512);
	assert_int_equal(gitcache_parse_bytes("3MiB", &v), 0);
	assert_true(v == 3ull << 20);
	assert_int_equal(gitcache_parse_bytes("x", &v), -1);
	assert_int_equal(gitcache_parse_bytes("5Q", &v), -1);
	assert_int_equal(gitcache_parse_bytes("-1", &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_excludes),	  cmocka_unit_test(test_lock_stale_dead_holder),
		cmocka_unit_test(test_lock_stale_by_age), cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_race_one_clone),	  cmocka_unit_test(test_ensure_errors),
		cmocka_unit_test(test_setup_bound),
		cmocka_unit_test(test_gc_holds_and_lru),  cmocka_unit_test(test_gitstep_shared_wait),
		cmocka_unit_test(test_parse_bytes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
