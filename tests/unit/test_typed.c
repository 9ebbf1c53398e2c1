/* SPDX-License-Identifier: MIT */
/*
 * test_typed: jobs of a worker type (worker/typed.c) without a master --
 * the command template (fields, quoting, braces, a missing field), the
 * {"status","output"} shapes of echo, exec, func and run-script, echo's
 * delay on a real libuv loop that keeps turning meanwhile, timeouts,
 * cancel, the 1 MiB capture cap, a type the master has not defined, and
 * the sorted tables (executors, endpoints, kinds). Commands and functions
 * run for real through worker/exec.c and worker/func.c (mtslurm-fhost and
 * libsweep.so from this build). Every wait is bounded by a timer.
 */
#include <uv.h> /* before cmocka.h, which upsets pthread.h's cpu_set_t */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"
#include "func.h"
#include "job.h"
#include "joblog.h"
#include "msg.h"
#include "typed.h"
#include "wapi.h"

struct outcome {
	int done, ok, rc, crashed;
	char *output; /* {"status","output"} text, malloc'd */
	char error[2048];
};

static uv_loop_t loop;
static struct exec *x;
static struct func *fn;
static struct typed *ty;
static struct joblog_writer *jl;
static char logpath[128], libdir[4096];
static struct outcome got;
static int ticks; /* a 20 ms timer's runs while a job waits */

static void on_done(void *arg, struct job *j, const struct job_result *r)
{
	(void)arg;
	got.done = 1;
	got.ok = r->ok;
	got.rc = r->rc;
	got.crashed = r->crashed;
	free(got.output);
	got.output = r->output ? strndup(r->output, r->output_len) : NULL;
	snprintf(got.error, sizeof got.error, "%s", r->error ? r->error : "");
	job_free(j);
}

static void on_deadline(uv_timer_t *t)
{
	uv_stop(t->loop);
}

static void on_tick(uv_timer_t *t)
{
	(void)t;
	ticks++;
}

static void on_cancel(uv_timer_t *t)
{
	typed_cancel(ty, t->data, "cancelled");
}

/* Start a typed job with payload (and timeout_s > 0: a timeout); with
 * cancel_ms > 0 cancel it then. Run the loop until its result (<= 15 s). */
static void run_typed_ex(const char *payload, double timeout_s, unsigned cancel_ms)
{
	msg *m = msg_new_object();
	msg_set_int(m, "id", 7);
	msg_set_str(m, "type", "typed");
	msg_set_str(m, "input", payload);
	if (timeout_s > 0)
		msg_set_num(m, "timeout", timeout_s);
	char err[128];
	struct job *j = job_new(m, NULL, err, sizeof err);
	msg_free(m);
	assert_non_null(j);
	assert_int_equal(j->kind, JOB_TYPED);
	free(got.output);
	memset(&got, 0, sizeof got);
	ticks = 0;
	uv_timer_t t, tick, cancel;
	uv_timer_init(&loop, &t);
	uv_timer_init(&loop, &tick);
	uv_timer_init(&loop, &cancel);
	cancel.data = j;
	uv_timer_start(&t, on_deadline, 15000, 0);
	uv_timer_start(&tick, on_tick, 20, 20);
	typed_start(ty, j, on_done, NULL);
	if (cancel_ms && !got.done)
		uv_timer_start(&cancel, on_cancel, cancel_ms, 0);
	while (!got.done && uv_is_active((uv_handle_t *)&t))
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_close((uv_handle_t *)&cancel, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_true(got.done);
	assert_non_null(got.output);
}

static void run_typed(const char *payload)
{
	run_typed_ex(payload, 0, 0);
}

static void define(const char *def_json)
{
	char err[300];
	msg *d = msg_parse(def_json, strlen(def_json), err, sizeof err);
	assert_non_null(d);
	int rc = typed_set_def(ty, d, err, sizeof err);
	msg_free(d);
	if (rc)
		fail_msg("typed_set_def: %s", err);
}

/* The output text parsed; the caller frees it. */
static msg *output_msg(void)
{
	char err[128];
	msg *o = msg_parse(got.output, strlen(got.output), err, sizeof err);
	assert_non_null(o);
	return o;
}

static int setup(void **state)
{
	(void)state;
	uv_loop_init(&loop);
	snprintf(logpath, sizeof logpath, "/tmp/test_typed.%ld.log", (long)getpid());
	char err[200];
	jl = joblog_writer_open(logpath, 0, err, sizeof err);
	assert_non_null(jl);
	struct exec_opts eo = {jl, NULL, on_done, NULL, NULL, NULL, NULL, NULL, NULL};
	x = exec_new(&loop, &eo, err, sizeof err);
	assert_non_null(x);
	struct func_opts fo = {jl, NULL, on_done, NULL, NULL, NULL, NULL, NULL};
	fn = func_new(&loop, &fo, err, sizeof err);
	assert_non_null(fn);
	struct typed_opts to = {&loop, "tw", x, fn, jl, NULL, NULL, NULL};
	ty = typed_new(&to);
	assert_non_null(ty);
	/* libsweep.so is built next to this test */
	ssize_t n = readlink("/proc/self/exe", libdir, sizeof libdir - 1);
	assert_true(n > 0);
	libdir[n] = '\0';
	*strrchr(libdir, '/') = '\0';
	return 0;
}

static int closed;
static void on_closed(void *arg)
{
	(void)arg;
	closed++;
}

static int teardown(void **state)
{
	(void)state;
	typed_close(ty, on_closed, NULL);
	exec_close(x, on_closed, NULL);
	func_close(fn, on_closed, NULL);
	for (int i = 0; i < 1000 && closed < 3; i++)
		uv_run(&loop, UV_RUN_ONCE);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_close(&loop), 0);
	joblog_writer_close(jl);
	unlink(logpath);
	free(got.output);
	return closed == 3 ? 0 : -1;
}

/* ---- pure parts ---- */

static void test_tables(void **state)
{
	(void)state;
	assert_int_equal(typed_executors_check(), 0);
	assert_int_equal(wapi_endpoints_check(), 0);
	assert_int_equal(job_kinds_check(), 0);
}

static void test_quote(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	assert_int_equal(typed_shell_quote(&b, "it's $HOME", 10), 0);
	assert_string_equal(b.p, "'it'\\''s $HOME'");
	buf_reset(&b);
	assert_int_equal(typed_shell_quote(&b, "", 0), 0);
	assert_string_equal(b.p, "''");
	buf_release(&b);
}

static void fill_ok(const char *tmpl, const char *payload, const char *want)
{
	char err[300];
	msg *p = msg_parse(payload, strlen(payload), err, sizeof err);
	assert_non_null(p);
	struct buf b = BUF_INIT;
	int rc = typed_fill(&b, tmpl, p, err, sizeof err);
	if (rc)
		fail_msg("typed_fill(%s): %s", tmpl, err);
	assert_string_equal(b.p, want);
	buf_release(&b);
	msg_free(p);
}

static void test_fill(void **state)
{
	(void)state;
	fill_ok("run {name} --n {n} -b {b}", "{\"name\":\"a b; rm -rf /\",\"n\":3,\"b\":true}",
		"run 'a b; rm -rf /' --n '3' -b 'true'");
	/* non-strings as their JSON text; nested values stay whole */
	fill_ok("x {o} {z} {f}", "{\"o\":{\"k\":[1,\"q\"]},\"z\":null,\"f\":1.5}", "x '{\"k\":[1,\"q\"]}' 'null' '1.5'");
	/* {{ }} are literal braces; a brace not opening {identifier} is text */
	fill_ok("awk '{{print $1}}' {a}", "{\"a\":\"f\"}", "awk '{print $1}' 'f'");
	fill_ok("x {not a field} {1x} { a} {a", "{\"a\":1}", "x {not a field} {1x} { a} {a");
	fill_ok("no fields", "[1]", "no fields");
	fill_ok("", "{}", "");
	/* a quote in a value cannot end the word */
	fill_ok("echo {v}", "{\"v\":\"'; echo pwned; '\"}", "echo ''\\''; echo pwned; '\\'''");

	char err[300];
	msg *p = msg_parse("{\"a\":1}", 7, err, sizeof err);
	struct buf b = BUF_INIT;
	assert_int_equal(typed_fill(&b, "cmd {a} {missing}", p, err, sizeof err), -1);
	assert_non_null(strstr(err, "\"missing\""));
	msg_free(p);
	p = msg_parse("[1]", 3, err, sizeof err);
	assert_int_equal(typed_fill(&b, "cmd {a}", p, err, sizeof err), -1);
	assert_non_null(strstr(err, "\"a\""));
	msg_free(p);
	buf_release(&b);
}

static void test_result_json(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	assert_int_equal(typed_result_json(&b, "failed", NULL), 0);
	assert_string_equal(b.p, "{\"status\":\"failed\",\"output\":{}}");
	buf_reset(&b);
	assert_int_equal(typed_result_json(&b, "completed", "{\"echoed\":\"x\"}"), 0);
	assert_string_equal(b.p, "{\"status\":\"completed\",\"output\":{\"echoed\":\"x\"}}");
	buf_release(&b);
}

/* ---- definitions ---- */

static void test_definitions(void **state)
{
	(void)state;
	/* no definition yet: a clear error, status "error" */
	run_typed("{\"message\":\"hi\"}");
	assert_false(got.ok);
	assert_string_equal(got.output, "{\"status\":\"error\",\"output\":{}}");
	assert_non_null(strstr(got.error, "worker type tw is not registered with the master"));
	char err[300];
	const char *bad[] = {"{\"name\":\"other\",\"executor\":\"echo\"}", "{\"name\":\"tw\",\"executor\":\"nope\"}",
			     "{\"name\":\"tw\",\"executor\":\"exec\",\"params\":{}}",
			     "{\"name\":\"tw\",\"executor\":\"func\",\"params\":{\"command\":\"x\"}}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		msg *d = msg_parse(bad[i], strlen(bad[i]), err, sizeof err);
		assert_int_equal(typed_set_def(ty, d, err, sizeof err), -1);
		msg_free(d);
	}
	assert_string_equal(typed_executor(ty), "");
	define("{\"name\":\"tw\",\"executor\":\"echo\",\"params\":{\"worker_class\":\"EchoWorker\"}}");
	assert_string_equal(typed_executor(ty), "echo");
	assert_string_equal(typed_class(ty), "EchoWorker");
}

/* ---- echo ---- */

static void test_echo(void **state)
{
	(void)state;
	define("{\"name\":\"tw\",\"executor\":\"echo\",\"params\":{}}");
	run_typed("{\"message\":\"hi\",\"delay\":0}");
	assert_true(got.ok);
	assert_string_equal(got.output, "{\"status\":\"completed\",\"output\":{\"echoed\":\"hi\"}}");
	/* mindtrace: no message (KeyError) -> failed with {} */
	run_typed("{\"delay\":0}");
	assert_false(got.ok);
	assert_string_equal(got.output, "{\"status\":\"failed\",\"output\":{}}");
	run_typed("{\"message\":5}");
	assert_string_equal(got.output, "{\"status\":\"failed\",\"output\":{}}");
	run_typed("not json");
	assert_string_equal(got.output, "{\"status\":\"failed\",\"output\":{}}");
	assert_non_null(strstr(got.error, "not JSON"));
	run_typed("{\"message\":\"x\",\"delay\":\"soon\"}");
	assert_non_null(strstr(got.error, "\"delay\" must be a number"));

	/* the delay is a timer: the loop keeps turning meanwhile */
	uint64_t t0 = uv_hrtime();
	run_typed("{\"message\":\"later\",\"delay\":0.4}");
	double s = (double)(uv_hrtime() - t0) / 1e9;
	assert_true(got.ok);
	assert_string_equal(got.output, "{\"status\":\"completed\",\"output\":{\"echoed\":\"later\"}}");
	assert_true(s >= 0.39 && s < 3);
	assert_true(ticks >= 10); /* 20 ms ticks during 400 ms: not blocked */

	/* a timeout shorter than the delay fails the job at the timeout */
	t0 = uv_hrtime();
	run_typed_ex("{\"message\":\"x\",\"delay\":10}", 0.2, 0);
	assert_false(got.ok);
	assert_string_equal(got.error, "timed out after 0.2 s");
	assert_string_equal(got.output, "{\"status\":\"failed\",\"output\":{}}");
	assert_true(uv_hrtime() - t0 < 3000000000ull);

	/* cancel ends a waiting echo at once */
	run_typed_ex("{\"message\":\"x\",\"delay\":10}", 0, 100);
	assert_false(got.ok);
	assert_string_equal(got.error, "cancelled");
	assert_int_equal(typed_running(ty), 0);
}

/* ---- exec and run-script ---- */

static void test_exec(void **state)
{
	(void)state;
	define("{\"name\":\"tw\",\"executor\":\"exec\",\"params\":{\"command\":"
	       "\"printf '%s|%s' {msg} {n}; echo err >&2; exit {code}\"}}");
	run_typed("{\"msg\":\"it's $HOME `id`\",\"n\":2,\"code\":0}");
	assert_true(got.ok);
	assert_string_equal(got.output, "{\"status\":\"completed\",\"output\":{\"stdout\":\"it's $HOME `id`|2\","
					"\"stderr\":\"err\\n\",\"rc\":0}}");
	run_typed("{\"msg\":\"m\",\"n\":1,\"code\":3}");
	assert_false(got.ok);
	assert_int_equal(got.rc, 3);
	assert_string_equal(got.output,
			    "{\"status\":\"failed\",\"output\":{\"stdout\":\"m|1\",\"stderr\":\"err\\n\",\"rc\":3}}");
	assert_non_null(strstr(got.error, "exit status 3"));
	run_typed("{\"msg\":\"m\",\"code\":0}");
	assert_false(got.ok);
	assert_string_equal(got.output, "{\"status\":\"failed\",\"output\":{}}");
	assert_non_null(strstr(got.error, "field \"n\""));

	/* the payload in MTSLURM_PAYLOAD */
	define("{\"name\":\"tw\",\"executor\":\"exec\",\"params\":{\"command\":\"printf %s \\\"$MTSLURM_PAYLOAD\\\"\"}}");
	run_typed("{\"a\":[1,2],\"b\":\"c\"}");
	assert_true(got.ok);
	assert_string_equal(got.output, "{\"status\":\"completed\",\"output\":{\"stdout\":\"{\\\"a\\\":[1,2],"
					"\\\"b\\\":\\\"c\\\"}\",\"stderr\":\"\",\"rc\":0}}");

	/* stdout and stderr are kept up to TYPED_CAPTURE_MAX each */
	define("{\"name\":\"tw\",\"executor\":\"exec\",\"params\":{\"command\":"
	       "\"head -c 3000000 /dev/zero | tr '\\\\0' a; head -c 1500000 /dev/zero | tr '\\\\0' b >&2\"}}");
	run_typed("{}");
	assert_true(got.ok);
	msg *o = output_msg();
	assert_int_equal(strlen(msg_get_str(msg_get(o, "output"), "stdout")), TYPED_CAPTURE_MAX);
	assert_int_equal(strlen(msg_get_str(msg_get(o, "output"), "stderr")), TYPED_CAPTURE_MAX);
	assert_int_equal(msg_get_str(msg_get(o, "output"), "stderr")[0], 'b');
	msg_free(o);

	/* timeout and cancel go through exec: the process group is killed */
	define("{\"name\":\"tw\",\"executor\":\"exec\",\"params\":{\"command\":\"sleep 20 & sleep 20\"}}");
	uint64_t t0 = uv_hrtime();
	run_typed_ex("{}", 0.3, 0);
	assert_false(got.ok);
	assert_string_equal(got.error, "timed out after 0.3 s");
	run_typed_ex("{}", 0, 200);
	assert_false(got.ok);
	assert_string_equal(got.error, "cancelled");
	assert_non_null(strstr(got.output, "\"status\":\"failed\""));
	assert_true(uv_hrtime() - t0 < 8000000000ull);
}

static void test_run_script(void **state)
{
	(void)state;
	define("{\"name\":\"tw\",\"executor\":\"run-script\",\"params\":{}}");
	run_typed("{\"environment\":{},\"command\":\"true\"}");
	assert_false(got.ok);
	assert_string_equal(got.output, "{\"status\":\"failed\",\"output\":{}}");
	assert_non_null(strstr(got.error, "\"git\" or \"docker\""));
	/* git environments (their checkouts: test_gitcache, t0840): malformed ones fail first */
	run_typed("{\"environment\":{\"git\":{\"repo_url\":\"https://github.com/x/y\",\"commit\":\"abc\"}},\"command\":\"true\"}");
	assert_false(got.ok);
	assert_non_null(strstr(got.error, "40 hexadecimal digits"));
	run_typed("{\"environment\":{\"git\":{\"branch\":\"main\"}},\"command\":\"true\"}");
	assert_non_null(strstr(got.error, "no repository URL"));
	run_typed("{\"environment\":{\"git\":{\"repo_url\":\"x\",\"working_dir\":\"../etc\"}},\"command\":\"true\"}");
	assert_non_null(strstr(got.error, "inside the checkout"));
	/* docker: the container step of exec (a real one runs in t0860) */
	define("{\"name\":\"tw\",\"executor\":\"run-script\",\"params\":{\"runtime\":\"bwrap\"}}");
	run_typed("{\"environment\":{\"docker\":{\"image\":\"/no/such/image\",\"working_dir\":\"/app\"}},"
		  "\"command\":\"true\"}");
	assert_false(got.ok);
	assert_string_equal(got.output, "{\"status\":\"failed\",\"output\":{\"stdout\":\"\",\"stderr\":\"\"}}");
	assert_string_equal(got.error, "container image /no/such/image: No such file or directory on this node");
	run_typed("{\"environment\":{\"docker\":{\"image\":\"/\",\"volumes\":{\"GCP_CREDENTIALS\":\"/k\"}}},"
		  "\"command\":\"true\"}");
	assert_false(got.ok);
	assert_non_null(strstr(got.error, "run-script: docker environment: container volume \"GCP_CREDENTIALS\""));
	run_typed("{\"environment\":{\"docker\":\"alpine\"},\"command\":\"true\"}");
	assert_non_null(strstr(got.error, "\"docker\" must be an object"));
	define("{\"name\":\"tw\",\"executor\":\"run-script\",\"params\":{\"runtime\":\"nosuch\"}}");
	run_typed("{\"environment\":{\"docker\":{\"image\":\"/\"}},\"command\":\"true\"}");
	assert_non_null(strstr(got.error, "unknown container runtime \"nosuch\""));
	define("{\"name\":\"tw\",\"executor\":\"run-script\",\"params\":{}}");
	run_typed("{\"environment\":{\"local\":{}}}");
	assert_non_null(strstr(got.error, "\"command\""));
	run_typed("{\"environment\":{\"local\":{\"working_dir\":\"/tmp\"}},\"command\":\"pwd; echo e >&2\"}");
	assert_true(got.ok);
	assert_string_equal(got.output, "{\"status\":\"completed\",\"output\":{\"stdout\":\"/tmp\\n\",\"stderr\":\"e\\n\"}}");
	run_typed("{\"environment\":{\"local\":{\"working_dir\":\"/tmp\"}},\"command\":\"exit 4\"}");
	assert_false(got.ok);
	assert_string_equal(got.output, "{\"status\":\"failed\",\"output\":{\"stdout\":\"\",\"stderr\":\"\"}}");
	run_typed("{\"environment\":{\"local\":{\"working_dir\":\"/no/such/dir\"}},\"command\":\"true\"}");
	assert_false(got.ok);
	assert_non_null(strstr(got.error, "/no/such/dir does not exist"));
}

/* ---- func ---- */

static void test_func(void **state)
{
	(void)state;
	char def[4400];
	snprintf(def, sizeof def, "{\"name\":\"tw\",\"executor\":\"func\",\"params\":{\"target\":\"%s/libsweep.so:simulate\"}}",
		 libdir);
	define(def);
	run_typed("{\"t\":3}");
	assert_true(got.ok);
	assert_string_equal(got.output, "{\"status\":\"completed\",\"output\":{\"t\":3,\"y\":9}}");
	/* a failing function's output object is the output too */
	run_typed("[1]");
	assert_false(got.ok);
	assert_string_equal(got.output, "{\"status\":\"failed\",\"output\":{\"error\":\"simulate wants a JSON "
					"object such as {\\\"t\\\":0.1}\"}}");
	snprintf(def, sizeof def, "{\"name\":\"tw\",\"executor\":\"func\",\"params\":{\"target\":\"%s/libsweep.so:crash\"}}",
		 libdir);
	define(def);
	run_typed("{}");
	assert_false(got.ok);
	assert_true(got.crashed); /* counted against the crash limit, as a func job */
	/* no output, which is not an object: {"output": text} */
	assert_string_equal(got.output, "{\"status\":\"failed\",\"output\":{\"output\":\"\"}}");
	snprintf(def, sizeof def, "{\"name\":\"tw\",\"executor\":\"func\",\"params\":{\"target\":\"%s/libbadfunc.so:sleeps\"}}",
		 libdir);
	define(def);
	uint64_t t0 = uv_hrtime();
	run_typed_ex("{\"s\":20}", 0.3, 0);
	assert_false(got.ok);
	assert_string_equal(got.error, "timed out after 0.3 s");
	assert_true(uv_hrtime() - t0 < 5000000000ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables),	    cmocka_unit_test(test_quote),
		cmocka_unit_test(test_fill),	    cmocka_unit_test(test_result_json),
		cmocka_unit_test(test_definitions), cmocka_unit_test(test_echo),
		cmocka_unit_test(test_exec),	    cmocka_unit_test(test_run_script),
		cmocka_unit_test(test_func),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
