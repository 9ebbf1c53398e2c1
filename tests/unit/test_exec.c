/* SPDX-License-Identifier: MIT */
/*
 * test_exec: the exec executor (worker/exec.c) on a real libuv loop -- exit
 * status, captured stdout, the stderr tail in errors, command not found,
 * missing cwd, env, shell vs direct exec, signals reset in the child, a
 * non-executable file, timeout and kill of the whole
 * process group, and the job-log records it writes. Also the pieces it leans
 * on: WRESULT encoding of binary output (worker/job.c) and the id map.
 * Every wait is bounded by a timer.
 */
#include <uv.h> /* before cmocka.h, which upsets pthread.h's cpu_set_t */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"
#include "idmap.h"
#include "job.h"
#include "joblog.h"
#include "msg.h"

struct outcome {
	int done;
	int ok, rc;
	char output[4096];
	size_t output_len;
	char error[2048];
};

static uv_loop_t loop;
static struct exec *x;
static struct joblog_writer *jl;
static char logpath[128];
static struct outcome got;

static void on_done(void *arg, struct job *j, const struct job_result *r)
{
	struct outcome *o = &got;
	o->done = 1;
	o->ok = r->ok;
	o->rc = r->rc;
	o->output_len = r->output_len < sizeof(o->output) ? r->output_len : sizeof(o->output) - 1;
	if (r->output)
		memcpy(o->output, r->output, o->output_len);
	o->output[o->output_len] = '\0';
	snprintf(o->error, sizeof(o->error), "%s", r->error ? r->error : "");
	job_free(j);
}

static void on_deadline(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* Run one job given as WJOB JSON until its result arrives (<= 10 s). */
static void run_job(const char *wjob_json)
{
	char err[128];
	msg *m = msg_parse(wjob_json, strlen(wjob_json), err, sizeof(err));
	assert_non_null(m);
	struct job *j = job_new(m, NULL, err, sizeof(err));
	msg_free(m);
	assert_non_null(j);
	memset(&got, 0, sizeof(got));
	exec_start(x, j);
	uv_timer_t t;
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, on_deadline, 10000, 0);
	while (!got.done && uv_is_active((uv_handle_t *)&t))
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_true(got.done);
}

static int setup(void **state)
{
	uv_loop_init(&loop);
	snprintf(logpath, sizeof(logpath), "/tmp/test_exec.%ld.log", (long)getpid());
	char err[200];
	jl = joblog_writer_open(logpath, 0, err, sizeof(err));
	assert_non_null(jl);
	struct exec_opts o = {jl, NULL, on_done, NULL, NULL, NULL, NULL, NULL, NULL};
	x = exec_new(&loop, &o, err, sizeof(err));
	assert_non_null(x);
	return 0;
}

static int closed;
static void on_closed(void *arg)
{
	closed = 1;
}

static int teardown(void **state)
{
	exec_close(x, on_closed, NULL);
	for (int i = 0; i < 1000 && !closed; i++)
		uv_run(&loop, UV_RUN_ONCE);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_close(&loop), 0);
	joblog_writer_close(jl);
	unlink(logpath);
	return closed ? 0 : -1;
}

static void test_true_false(void **state)
{
	run_job("{\"id\":1,\"type\":\"exec\",\"input\":\"true\"}");
	assert_true(got.ok);
	assert_int_equal(got.rc, 0);
	run_job("{\"id\":2,\"type\":\"exec\",\"input\":\"false\"}");
	assert_false(got.ok);
	assert_int_equal(got.rc, 1);
	assert_string_equal(got.error, "exit status 1");
	run_job("{\"id\":3,\"type\":\"exec\",\"input\":\"exit 7\"}"); /* a builtin: via sh */
	assert_int_equal(got.rc, 7);
}

static int count_bytes(void *arg, const char *s, const char *d, size_t n)
{
	*(size_t *)arg += n;
	return 0;
}

static void test_output(void **state)
{
	run_job("{\"id\":4,\"type\":\"exec\",\"input\":\"echo hello world\"}");
	assert_true(got.ok);
	assert_string_equal(got.output, "hello world\n");
	run_job("{\"id\":5,\"type\":\"exec\",\"input\":\"echo out; echo oops >&2; exit 3\"}");
	assert_false(got.ok);
	assert_int_equal(got.rc, 3);
	assert_string_equal(got.output, "out\n");
	assert_string_equal(got.error, "exit status 3: oops");
	/* only the first 64 KiB of stdout is kept for the result */
	run_job("{\"id\":6,\"type\":\"exec\",\"input\":\"head -c 100000 /dev/zero\"}");
	assert_true(got.ok);
	/* (got.output is clipped by the test's own buffer; the log has it all) */
	joblog_writer_flush(jl);
	char err[200];
	size_t total = 0;
	assert_true(joblog_read(logpath, 6, 0, count_bytes, &total, err, sizeof(err)) >= 1);
	assert_int_equal(total, 100000);
}

static void test_not_found(void **state)
{
	run_job("{\"id\":7,\"type\":\"exec\",\"input\":\"no-such-command-xyz --flag\"}");
	assert_false(got.ok);
	assert_int_equal(got.rc, 127);
	assert_string_equal(got.error, "command not found: no-such-command-xyz");
	run_job("{\"id\":8,\"type\":\"exec\",\"input\":\"no-such-command-xyz && true\"}");
	assert_int_equal(got.rc, 127);
	assert_non_null(strstr(got.error, "exit status 127"));
	run_job("{\"id\":9,\"type\":\"exec\",\"input\":\"   \"}");
	assert_false(got.ok);
	assert_string_equal(got.error, "empty command");
}

static void test_cwd_env(void **state)
{
	run_job("{\"id\":10,\"type\":\"exec\",\"input\":\"pwd\",\"cwd\":\"/tmp\"}");
	assert_true(got.ok);
	assert_string_equal(got.output, "/tmp\n");
	run_job("{\"id\":11,\"type\":\"exec\",\"input\":\"pwd\",\"cwd\":\"/no/such/dir\"}");
	assert_false(got.ok);
	assert_string_equal(got.error, "working directory /no/such/dir does not exist");
	run_job("{\"id\":12,\"type\":\"exec\",\"input\":\"printenv MTS_A\",\"env\":[\"MTS_A=b c\"]}");
	assert_true(got.ok);
	assert_string_equal(got.output, "b c\n");
	/* a job's PATH is used to find its command */
	run_job("{\"id\":13,\"type\":\"exec\",\"input\":\"ls /\",\"env\":[\"PATH=/nonexistent\"]}");
	assert_int_equal(got.rc, 127);
}

static void test_signal_timeout(void **state)
{
	run_job("{\"id\":14,\"type\":\"exec\",\"input\":\"kill -9 $$\"}");
	assert_false(got.ok);
	assert_int_equal(got.rc, 128 + 9);
	assert_non_null(strstr(got.error, "killed by signal 9"));
	/* the timeout kills the whole group: the background sleep too (else
	 * the pipes would stay open and the result would wait) */
	uint64_t t0 = uv_hrtime();
	run_job("{\"id\":15,\"type\":\"exec\",\"input\":\"sleep 20 & sleep 20\",\"timeout\":0.3}");
	assert_false(got.ok);
	assert_string_equal(got.error, "timed out after 0.3 s");
	assert_true(uv_hrtime() - t0 < 3000000000ull);
}

static void on_usr1(int sig) { (void)sig; }

/* A job starts with no signal blocked or ignored, whatever the worker
 * blocks, ignores or handles (it ignores SIGPIPE; MPI and libuv install
 * handlers), and a file that is not executable is refused with 126. */
static void test_child_signals(void **state)
{
	signal(SIGUSR1, on_usr1);
	sigset_t usr2, old;
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &usr2, &old);
	run_job("{\"id\":16,\"type\":\"exec\",\"input\":\"cat /proc/self/status\"}");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR1, SIG_DFL);
	assert_true(got.ok);
	/* only the signals this test set up: the harness that runs it may
	 * itself ignore others (glibc's internal ones cannot be reset) */
	unsigned long long m = 1ull << (SIGPIPE - 1) | 1ull << (SIGUSR1 - 1) | 1ull << (SIGUSR2 - 1);
	const char *keys[] = {"SigBlk:", "SigIgn:", "SigCgt:"};
	for (int k = 0; k < 3; k++) {
		const char *l = strstr(got.output, keys[k]);
		assert_non_null(l);
		unsigned long long v = strtoull(l + strlen(keys[k]), NULL, 16);
		if (v & m)
			fail_msg("%s %llx: SIGPIPE, SIGUSR1 or SIGUSR2 not at its default", keys[k], v);
	}
	char path[64], job[160], want[96];
	snprintf(path, sizeof path, "/tmp/test_exec.%ld.noexec", (long)getpid());
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("echo should not run\n", f);
	fclose(f);
	chmod(path, 0644);
	snprintf(job, sizeof job, "{\"id\":17,\"type\":\"exec\",\"input\":\"%s\"}", path);
	run_job(job);
	unlink(path);
	assert_false(got.ok);
	assert_int_equal(got.rc, 126);
	snprintf(want, sizeof want, "permission denied: %s", path);
	assert_string_equal(got.error, want);
}

static void test_encoding(void **state)
{
	struct buf b = BUF_INIT;
	struct job_result r = {0, NULL, 0, "exit status 1", 1, 0, NULL, 0};
	assert_int_equal(job_result_json(&b, 42, 2, &r), 0);
	assert_string_equal(b.p, "{\"id\":42,\"a\":2,\"ok\":false,\"output\":null,\"error\":\"exit status 1\",\"rc\":1}");
	char err[64];
	msg *m = msg_parse(b.p, b.len, err, sizeof(err)); /* valid JSON */
	assert_non_null(m);
	msg_free(m);
	buf_release(&b);
}

static void test_idmap(void **state)
{
	struct idmap m = IDMAP_INIT;
	static int vals[5000];
	for (int i = 0; i < 5000; i++)
		assert_int_equal(idmap_put(&m, i * 7, &vals[i]), 0);
	assert_int_equal(idmap_count(&m), 5000);
	for (int i = 0; i < 5000; i += 2)
		assert_ptr_equal(idmap_del(&m, i * 7), &vals[i]);
	for (int i = 0; i < 5000; i++)
		assert_ptr_equal(idmap_get(&m, i * 7), i % 2 ? &vals[i] : NULL);
	size_t pos = 0, n = 0;
	while (idmap_next(&m, &pos, NULL))
		n++;
	assert_int_equal(n, 2500);
	assert_null(idmap_del(&m, 3));
	idmap_release(&m);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_true_false), cmocka_unit_test(test_output),
		cmocka_unit_test(test_not_found),  cmocka_unit_test(test_cwd_env),
		cmocka_unit_test(test_signal_timeout), cmocka_unit_test(test_child_signals),
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_idmap),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
