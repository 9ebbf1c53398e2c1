/* SPDX-License-Identifier: MIT */
/*
 * typed: jobs of a worker type -- see typed.h. A running typed job has a
 * `trun`: the executor it runs with, the parsed payload, and either an
 * inner job (exec, func) whose result comes back through j->done, or a
 * timer (echo's delay; the timeout of echo and func, which exec keeps
 * itself). Timers are separate allocations closed asynchronously, so a
 * run is freed the moment its result is reported.
 */
#include "typed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "func.h"
#include "gitstep.h"
#include "log.h"
#include "nametab.h"
#include "runtime.h"
#include "util.h"

#define TYPED_CLASS_DEFAULT "MtslurmWorker"

struct trun;

struct ttimer {
	uv_timer_t h;
	struct typed *t;
	struct trun *run; /* NULL once the run is gone */
};

struct typed_ex;

struct trun {
	struct typed *t;
	struct job *j; /* the typed job */
	const struct typed_ex *ex;
	job_done_fn done;
	void *arg;
	msg *payload;        /* parsed; NULL if it is not JSON */
	struct job *inner;   /* exec and func: the job they run, or NULL */
	struct ttimer *timer; /* echo and func: delay/timeout, or NULL */
	char *opts;          /* the inner job's options (run-script docker), or NULL */
	int timed_out;       /* the timer is the timeout, not echo's delay */
	struct gitstep_spec git;       /* run-script in a git checkout: what it asked for */
	struct gitstep_wait *gitwait;  /* waiting for that checkout, or NULL */
	struct gitstep_ent *gitent;    /* the checkout it runs in (a reference), or NULL */
	uint64_t git_t0_ms;            /* uv_now when it began waiting for it: the timeout counts from here */
	struct trun *prev, *next;
};

struct typed {
	struct typed_opts o;
	char name[72];
	char *executor; /* NULL until the master defined the type */
	msg *params;
	char *cls;
	const struct typed_ex *ex;
	struct trun *runs;
	size_t running;
	int timers_open;
	int closing;
	void (*close_cb)(void *);
	void *close_arg;
};

/* An executor: start r (its result follows through finish_* now or
 * later) or return -1 with why (the job then fails with {} as output). */
struct typed_ex {
	const char *name;
	const char *needs; /* a required string parameter, or NULL */
	int (*start)(struct trun *r, char *why, size_t n);
};

static int ex_echo(struct trun *r, char *why, size_t n);
static int ex_exec(struct trun *r, char *why, size_t n);
static int ex_func(struct trun *r, char *why, size_t n);
static int ex_run_script(struct trun *r, char *why, size_t n);

/* Sorted by name (nametab). The master keeps the same list (master/types.c). */
static const struct typed_ex executors[] = {
	{"echo", NULL, ex_echo},
	{"exec", "command", ex_exec},
	{"func", "target", ex_func},
	{"run-script", NULL, ex_run_script},
};
#define NEX (sizeof executors / sizeof executors[0])

size_t typed_executors_check(void)
{
	return nametab_check(executors, NEX, sizeof executors[0]);
}

/* ---- pure parts ---- */

int typed_shell_quote(struct buf *out, const char *s, size_t n)
{
	int rc = buf_add(out, "'", 1);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = s[i] == '\'' ? buf_add(out, "'\\''", 4) : buf_add(out, s + i, 1);
	return rc ? rc : buf_add(out, "'", 1);
}

static int is_ident(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

/* The length of the identifier at s followed by '}', or 0. */
static size_t placeholder_len(const char *s)
{
	size_t k = 0;
	while (is_ident(s[k], k == 0))
		k++;
	return k && s[k] == '}' ? k : 0;
}

static int fill_value(struct buf *out, const msg *v)
{
	if (msg_str(v))
		return typed_shell_quote(out, msg_str(v), strlen(msg_str(v)));
	char *text = msg_print(v);
	int rc = text ? typed_shell_quote(out, text, strlen(text)) : -1;
	free(text);
	return rc;
}

int typed_fill(struct buf *out, const char *tmpl, const msg *payload, char *err, size_t errlen)
{
	const char *p = tmpl;
	while (*p) {
		size_t k;
		if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
			if (buf_add(out, p, 1))
				goto oom;
			p += 2;
		} else if (p[0] == '{' && (k = placeholder_len(p + 1)) > 0) {
			char key[128];
			if (k >= sizeof key)
				return snprintf(err, errlen, "the command template's field {%.40s...} is too long", p + 1), -1;
			memcpy(key, p + 1, k);
			key[k] = '\0';
			const msg *v = msg_is_object(payload) ? msg_get(payload, key) : NULL;
			if (!v)
				return snprintf(err, errlen,
						"the command template needs the payload's field \"%s\", which the payload "
						"does not have",
						key),
				       -1;
			if (fill_value(out, v))
				goto oom;
			p += k + 2;
		} else {
			if (buf_add(out, p, 1))
				goto oom;
			p++;
		}
	}
	if (!out->p && buf_add(out, "", 0))
		goto oom;
	return 0;
oom:
	return snprintf(err, errlen, "out of memory"), -1;
}

int typed_result_json(struct buf *out, const char *status, const char *output_json)
{
	if (buf_adds(out, "{\"status\":") || buf_add_json_str(out, status, strlen(status)) ||
	    buf_adds(out, ",\"output\":") || buf_adds(out, output_json ? output_json : "{}"))
		return -1;
	return buf_add(out, "}", 1);
}

/* ---- the context ---- */

struct typed *typed_new(const struct typed_opts *o)
{
	struct typed *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->o = *o;
	t->o.name = NULL;
	util_strlcpy(t->name, o->name ? o->name : "", sizeof t->name);
	return t;
}

const char *typed_name(const struct typed *t)
{
	return t->name;
}

const char *typed_executor(const struct typed *t)
{
	return t->executor ? t->executor : "";
}

const char *typed_class(const struct typed *t)
{
	return t->cls ? t->cls : TYPED_CLASS_DEFAULT;
}

size_t typed_running(const struct typed *t)
{
	return t->running;
}

int typed_set_def(struct typed *t, const msg *def, char *err, size_t errlen)
{
	const char *name = msg_get_str(def, "name"), *executor = msg_get_str(def, "executor");
	const msg *params = msg_get(def, "params");
	if (!msg_is_object(def) || !name)
		return snprintf(err, errlen, "a worker type definition needs \"name\" and \"executor\""), -1;
	if (strcmp(name, t->name) != 0)
		return snprintf(err, errlen, "the master defined worker type %.64s, but this worker serves %.64s", name,
				t->name[0] ? t->name : "none (no --worker-type)"),
		       -1;
	const struct typed_ex *ex = nametab_find(executors, NEX, sizeof executors[0], executor);
	if (!ex)
		return snprintf(err, errlen, "worker type %s: unknown executor \"%.40s\" (this worker knows echo, exec, "
				"func and run-script)", name, executor ? executor : ""),
		       -1;
	if (params && !msg_is_object(params) && !msg_is_null(params))
		return snprintf(err, errlen, "worker type %s: \"params\" must be an object", name), -1;
	if (ex->needs && !msg_get_str(params, ex->needs))
		return snprintf(err, errlen, "worker type %s: executor %s needs the parameter \"%s\"", name, ex->name,
				ex->needs),
		       -1;
	msg *p = msg_is_object(params) ? msg_dup(params) : msg_new_object();
	char *e = strdup(ex->name);
	const char *c = msg_get_str(p, "worker_class");
	char *cls = c ? strdup(c) : NULL;
	if (!p || !e || (c && !cls)) {
		msg_free(p);
		free(e);
		free(cls);
		return snprintf(err, errlen, "out of memory"), -1;
	}
	msg_free(t->params);
	free(t->executor);
	free(t->cls);
	t->params = p;
	t->executor = e;
	t->cls = cls;
	t->ex = ex;
	return 0;
}

/* ---- runs ---- */

static void on_ttimer_closed(uv_handle_t *h)
{
	struct ttimer *tt = h->data;
	struct typed *t = tt->t;
	free(tt);
	t->timers_open--;
	if (t->closing && !t->timers_open) {
		void (*cb)(void *) = t->close_cb;
		void *arg = t->close_arg;
		free(t->executor);
		free(t->cls);
		msg_free(t->params);
		free(t);
		if (cb)
			cb(arg);
	}
}

static void run_drop_timer(struct trun *r)
{
	if (!r->timer)
		return;
	uv_timer_stop(&r->timer->h);
	r->timer->run = NULL;
	uv_close((uv_handle_t *)&r->timer->h, on_ttimer_closed);
	r->timer = NULL;
}

/* Unlink and free r (its inner job too: the executor is done with it). */
static void run_free(struct trun *r)
{
	struct typed *t = r->t;
	run_drop_timer(r);
	if (r->prev)
		r->prev->next = r->next;
	else
		t->runs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	t->running--;
	if (r->j)
		r->j->run = NULL;
	job_free(r->inner);
	free(r->opts);
	msg_free(r->payload);
	gitstep_cancel(r->gitwait);
	gitstep_put(r->gitent);
	gitstep_spec_free(&r->git);
	free(r);
}

/* Report r's job: {"status","output"} with output_json (NULL: {}). */
static void finish(struct trun *r, const char *status, const char *output_json, const char *error, int rc,
		   int crashed)
{
	struct buf b = BUF_INIT;
	int ok = strcmp(status, "completed") == 0;
	if (typed_result_json(&b, status, output_json)) {
		buf_release(&b);
		ok = 0;
		error = "out of memory encoding the output";
	}
	struct job_result res = {ok, b.p, b.len, ok ? NULL : error ? error : status, rc, crashed, NULL, 0};
	struct job *j = r->j;
	job_done_fn done = r->done;
	void *arg = r->arg;
	run_free(r);
	done(arg, j, &res);
	buf_release(&b);
}

static void fail(struct trun *r, const char *status, const char *why)
{
	finish(r, status, NULL, why, -1, 0);
}

static int arm(struct trun *r, double seconds, uv_timer_cb cb)
{
	struct ttimer *tt = malloc(sizeof *tt);
	if (!tt)
		return -1;
	uv_timer_init(r->t->o.loop, &tt->h);
	tt->h.data = tt;
	tt->t = r->t;
	tt->run = r;
	r->t->timers_open++;
	r->timer = tt;
	if (!(seconds >= 0))
		seconds = 0;
	if (seconds > 4e9)
		seconds = 4e9;
	uv_timer_start(&tt->h, cb, (uint64_t)(seconds * 1000.0 + 0.5), 0);
	return 0;
}

void typed_start(struct typed *t, struct job *j, job_done_fn done, void *arg)
{
	struct trun *r = calloc(1, sizeof *r);
	if (!r) {
		struct job_result res = {0, NULL, 0, "out of memory", -1, 0, NULL, 0};
		done(arg, j, &res);
		return;
	}
	r->t = t;
	r->j = j;
	r->done = done;
	r->arg = arg;
	r->ex = t->ex;
	r->next = t->runs;
	if (t->runs)
		t->runs->prev = r;
	t->runs = r;
	t->running++;
	j->run = r;
	char why[600], perr[120];
	if (!t->name[0]) {
		fail(r, "error", "this worker serves no worker type (start it with --worker-type NAME)");
		return;
	}
	if (!r->ex) {
		snprintf(why, sizeof why, "worker type %s is not registered with the master (register it, e.g. POST "
			 "/register_worker_type, and the master tells this worker)", t->name);
		fail(r, "error", why);
		return;
	}
	r->payload = msg_parse(j->input, j->input_len, perr, sizeof perr);
	if (!r->payload) {
		snprintf(why, sizeof why, "%s: the payload is not JSON (%s)", r->ex->name, perr);
		fail(r, "failed", why);
		return;
	}
	if (r->ex->start(r, why, sizeof why) < 0)
		fail(r, "failed", why);
}

/* ---- inner jobs (exec, func) ---- */

static void on_inner_done(void *arg, struct job *inner, const struct job_result *res);

/* A job of kind type for r: input, target, cwd and the payload in
 * MTSLURM_PAYLOAD; it reports to on_inner_done. */
static struct job *inner_new(struct trun *r, const char *type, const char *input, const char *target,
			     const char *cwd, char *why, size_t n)
{
	msg *w = msg_new_object(), *env = msg_new_array();
	struct buf kv = BUF_INIT;
	int bad = !w || !env || msg_set_int(w, "id", r->j->id) || msg_set_int(w, "a", r->j->attempt) ||
		  msg_set_str(w, "type", type) || msg_set_str(w, "input", input) ||
		  (r->j->timeout_s > 0 && msg_set_num(w, "timeout", r->j->timeout_s)) ||
		  (target && msg_set_str(w, "target", target)) || (cwd && msg_set_str(w, "cwd", cwd)) ||
		  buf_adds(&kv, "MTSLURM_PAYLOAD=") || buf_add(&kv, r->j->input, r->j->input_len) ||
		  msg_push(env, msg_new_str(kv.p));
	buf_release(&kv);
	if (!bad) {
		bad = msg_add(w, "env", env);
		env = NULL;
	}
	struct job *in = bad ? NULL : job_new(w, NULL, why, n);
	if (bad)
		snprintf(why, n, "out of memory");
	msg_free(env);
	msg_free(w);
	if (in) {
		in->done = on_inner_done;
		in->done_arg = r;
	}
	return in;
}

/* The inner job's output shape per executor. */
static void exec_output(struct buf *o, const struct job_result *res, int with_rc)
{
	buf_adds(o, "{\"stdout\":");
	buf_add_json_str(o, res->output ? res->output : "", res->output ? res->output_len : 0);
	buf_adds(o, ",\"stderr\":");
	buf_add_json_str(o, res->errout ? res->errout : "", res->errout ? res->errout_len : 0);
	if (with_rc)
		buf_addf(o, ",\"rc\":%d", res->rc);
	buf_add(o, "}", 1);
}

/* A function's output: itself if it is a JSON object, else {"output":TEXT}. */
static void func_output(struct buf *o, const struct job_result *res)
{
	char perr[8];
	const char *text = res->output ? res->output : "";
	size_t n = res->output ? res->output_len : 0;
	msg *m = n ? msg_parse(text, n, perr, sizeof perr) : NULL;
	if (msg_is_object(m)) {
		buf_add(o, text, n);
	} else {
		buf_adds(o, "{\"output\":");
		buf_add_json_str(o, text, n);
		buf_add(o, "}", 1);
	}
	msg_free(m);
}

static void on_inner_done(void *arg, struct job *inner, const struct job_result *res)
{
	struct trun *r = arg;
	(void)inner;
	struct buf o = BUF_INIT;
	if (strcmp(r->ex->name, "func") == 0)
		func_output(&o, res);
	else
		exec_output(&o, res, strcmp(r->ex->name, "exec") == 0);
	if (!o.p) {
		fail(r, "failed", "out of memory encoding the output");
		return;
	}
	finish(r, res->ok ? "completed" : "failed", o.p, res->error, res->rc, res->crashed);
	buf_release(&o);
}

/* Run command in cwd (NULL: the worker's) as r's inner exec job. */
static int run_command(struct trun *r, const char *command, const char *cwd, char *why, size_t n)
{
	struct job *in = inner_new(r, "exec", command, NULL, cwd, why, n);
	if (!in)
		return -1;
	in->capture_bytes = TYPED_CAPTURE_MAX;
	in->t0_ms = r->git_t0_ms; /* after a wait for its checkout: the time left */
	r->inner = in;
	exec_start(r->t->o.exec, in); /* the result may come now: r may be gone */
	return 0;
}

/* ---- executors ---- */

static void on_echo_timer(uv_timer_t *h)
{
	struct ttimer *tt = h->data;
	struct trun *r = tt->run;
	if (!r)
		return;
	char why[64];
	if (r->timed_out) {
		snprintf(why, sizeof why, "timed out after %g s", r->j->timeout_s);
		fail(r, "failed", why);
		return;
	}
	const char *message = msg_get_str(r->payload, "message");
	struct typed *t = r->t;
	if (t->o.log) {
		/* mindtrace's EchoWorker prints it */
		struct buf line = BUF_INIT;
		uint64_t written = 0;
		if (buf_adds(&line, message) == 0 && buf_add(&line, "\n", 1) == 0)
			joblog_writer_append(t->o.log, r->j->id, r->j->attempt, JOBLOG_OUT, line.p, line.len, &written);
		buf_release(&line);
		if (t->o.log_kick)
			t->o.log_kick(t->o.kick_arg);
	}
	struct buf o = BUF_INIT;
	buf_adds(&o, "{\"echoed\":");
	buf_add_json_str(&o, message, strlen(message));
	buf_add(&o, "}", 1);
	if (o.p)
		finish(r, "completed", o.p, NULL, 0, 0);
	else
		fail(r, "failed", "out of memory encoding the output");
	buf_release(&o);
}

static int ex_echo(struct trun *r, char *why, size_t n)
{
	if (!msg_get_str(r->payload, "message"))
		return snprintf(why, n, "echo: the payload needs \"message\", a string"), -1;
	double delay = 0;
	const msg *d = msg_get(r->payload, "delay");
	if (d && !msg_is_null(d) && msg_get_num(r->payload, "delay", &delay) < 0)
		return snprintf(why, n, "echo: \"delay\" must be a number of seconds"), -1;
	if (!(delay > 0))
		delay = 0;
	double timeout = r->j->timeout_s;
	r->timed_out = timeout > 0 && timeout < delay;
	if (arm(r, r->timed_out ? timeout : delay, on_echo_timer) < 0)
		return snprintf(why, n, "out of memory"), -1;
	return 0;
}

static int ex_exec(struct trun *r, char *why, size_t n)
{
	struct buf cmd = BUF_INIT;
	char err[300];
	if (typed_fill(&cmd, msg_get_str(r->t->params, "command"), r->payload, err, sizeof err)) {
		buf_release(&cmd);
		return snprintf(why, n, "exec: %s", err), -1;
	}
	int rc = run_command(r, cmd.p, NULL, why, n);
	buf_release(&cmd);
	return rc;
}

static void on_func_timeout(uv_timer_t *h)
{
	struct ttimer *tt = h->data;
	struct trun *r = tt->run;
	if (!r)
		return;
	char why[64];
	snprintf(why, sizeof why, "timed out after %g s", r->j->timeout_s);
	func_abandon(r->t->o.func, r->inner); /* kills its host: nothing of the call keeps running */
	fail(r, "failed", why);
}

static int ex_func(struct trun *r, char *why, size_t n)
{
	struct job *in = inner_new(r, "func", r->j->input, msg_get_str(r->t->params, "target"), NULL, why, n);
	if (!in)
		return -1;
	r->inner = in;
	if (r->j->timeout_s > 0 && arm(r, r->j->timeout_s, on_func_timeout) < 0)
		return snprintf(why, n, "out of memory"), -1;
	func_start(r->t->o.func, in); /* the result may come now: r may be gone */
	return 0;
}

/* --timeout passed while run-script waited for its checkout. */
static void on_git_timeout(uv_timer_t *h)
{
	struct ttimer *tt = h->data;
	struct trun *r = tt->run;
	if (!r || !r->gitwait)
		return;
	char why[200];
	snprintf(why, sizeof why, "timed out after %g s waiting for its git checkout (clone, checkout and setup "
		 "command count against the timeout)", r->j->timeout_s);
	fail(r, "failed", why); /* the checkout goes on for the jobs that still want it */
}

/* run-script's checkout is ready (or failed): run the command in it. */
static void on_git_ready(void *a, void *b, struct gitstep_ent *e, const char *gwhy)
{
	struct trun *r = a;
	char why[700];
	(void)b;
	r->gitwait = NULL;
	run_drop_timer(r); /* the wait's timeout: the command's counts on from git_t0_ms */
	if (!e) {
		snprintf(why, sizeof why, "run-script: git: %s", gwhy);
		fail(r, "failed", why);
		return;
	}
	r->gitent = e;
	char *dir = gitstep_dir(e, r->git.workdir, why, sizeof why);
	int rc = dir ? run_command(r, msg_get_str(r->payload, "command"), dir, why, sizeof why) : -1;
	free(dir);
	if (rc < 0)
		fail(r, "failed", why);
}

/* mindtrace's git environment: the command runs in the cached checkout of
 * repo_url at commit (else branch, resolved now), in working_dir. */
static int run_in_git(struct trun *r, const msg *git, char *why, size_t n)
{
	if (gitstep_spec_from_env(&r->git, git, why, n) < 0)
		return -1;
	if (!r->t->o.git)
		return snprintf(why, n, "run-script: this worker has no git cache"), -1;
	struct gitstep_ent *e = NULL;
	r->git_t0_ms = uv_now(r->t->o.loop);
	r->gitwait = gitstep_get(r->t->o.git, &r->git, on_git_ready, r, NULL, &e);
	if (e)
		on_git_ready(r, NULL, e, NULL); /* held already: the result may come now */
	else if (!r->gitwait)
		return snprintf(why, n, "out of memory"), -1;
	else if (r->j->timeout_s > 0 && arm(r, r->j->timeout_s, on_git_timeout) < 0)
		return snprintf(why, n, "out of memory"), -1;
	return 0;
}

/* mindtrace's docker environment {image, working_dir, volumes, environment}
 * as the job option "container" (container.h): volumes keep docker-py's
 * form {HOST: DST | {"bind": DST, "mode": "ro"}}, the runtime is the
 * worker type's parameter "runtime" (else the site's default, else the
 * first on PATH). A new object (msg_free it), or NULL with why. */
static msg *docker_container(const struct trun *r, const msg *docker, char *why, size_t n)
{
	static const char *const map[][2] = {
		{"image", "image"}, {"working_dir", "workdir"}, {"volumes", "volumes"}, {"environment", "env"}};
	msg *c = msg_new_object();
	if (!c || !msg_is_object(docker)) {
		msg_free(c);
		return snprintf(why, n, c ? "run-script: \"docker\" must be an object {\"image\", \"working_dir\", "
					    "\"volumes\", \"environment\"}" : "out of memory"), NULL;
	}
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
		const msg *v = msg_get(docker, map[i][0]);
		if (v && !msg_is_null(v) && msg_add(c, map[i][1], msg_dup(v))) {
			msg_free(c);
			return snprintf(why, n, "out of memory"), NULL;
		}
	}
	const char *rt = msg_get_str(r->t->params, "runtime");
	char err[300];
	if ((rt && msg_set_str(c, "runtime", rt)) || runtime_container_check(c, err, sizeof err)) {
		snprintf(why, n, "run-script: docker environment: %s", rt ? err : "out of memory");
		msg_free(c);
		return NULL;
	}
	return c;
}

/* Run command inside r's docker environment: an inner exec job with
 * {"container": ...} as its options, so the container step of exec.c
 * wraps it (one spawner, the same kills and timeouts). */
static int run_script_docker(struct trun *r, const msg *docker, const char *command, char *why, size_t n)
{
	msg *c = docker_container(r, docker, why, n);
	if (!c)
		return -1;
	msg *o = msg_new_object();
	if (!o)
		msg_free(c);
	else if (msg_add(o, "container", c) == 0) /* takes c, also when it fails */
		r->opts = msg_print(o);
	msg_free(o);
	if (!r->opts)
		return snprintf(why, n, "out of memory"), -1;
	struct job *in = inner_new(r, "exec", command, NULL, NULL, why, n);
	if (!in)
		return -1;
	in->capture_bytes = TYPED_CAPTURE_MAX;
	in->opts = r->opts;
	r->inner = in;
	exec_start(r->t->o.exec, in); /* the result may come now: r may be gone */
	return 0;
}

static int ex_run_script(struct trun *r, char *why, size_t n)
{
	const msg *env = msg_get(r->payload, "environment");
	const char *command = msg_get_str(r->payload, "command");
	if (!msg_is_object(r->payload) || !command)
		return snprintf(why, n, "run-script: the payload needs \"command\", a string, and \"environment\""), -1;
	if (msg_get(env, "git"))
		return run_in_git(r, msg_get(env, "git"), why, n);
	if (msg_get(env, "docker"))
		return run_script_docker(r, msg_get(env, "docker"), command, why, n);
	const msg *local = msg_get(env, "local");
	if (!msg_is_object(local))
		return snprintf(why, n,
				"run-script: the environment needs \"git\" or \"docker\" (mindtrace), or mtslurm's "
				"{\"local\": {\"working_dir\": DIR}}"),
		       -1;
	const msg *wd = msg_get(local, "working_dir");
	if (wd && !msg_is_null(wd) && !msg_str(wd))
		return snprintf(why, n, "run-script: \"working_dir\" must be a directory's path"), -1;
	return run_command(r, command, msg_str(wd), why, n);
}

/* ---- stopping ---- */

void typed_cancel(struct typed *t, struct job *j, const char *why)
{
	struct trun *r = j->run;
	if (!r || r->t != t)
		return;
	if (r->gitwait) {
		fail(r, "failed", why); /* still waiting for its checkout */
		return;
	}
	if (r->inner && r->inner->kind == JOB_EXEC && r->inner->run) {
		exec_kill(t->o.exec, r->inner, why); /* its result follows */
		return;
	}
	if (r->inner && r->inner->kind == JOB_FUNC)
		func_abandon(t->o.func, r->inner);
	fail(r, "failed", why);
}

void typed_abandon(struct typed *t, struct job *j)
{
	struct trun *r = j->run;
	if (!r || r->t != t)
		return;
	if (r->inner && r->inner->kind == JOB_EXEC)
		exec_abandon(t->o.exec, r->inner);
	else if (r->inner && r->inner->kind == JOB_FUNC)
		func_abandon(t->o.func, r->inner);
	run_free(r);
}

void typed_close(struct typed *t, void (*cb)(void *arg), void *arg)
{
	if (!t) {
		if (cb)
			cb(arg);
		return;
	}
	while (t->runs)
		typed_abandon(t, t->runs->j);
	t->closing = 1;
	t->close_cb = cb;
	t->close_arg = arg;
	if (t->timers_open)
		return;
	free(t->executor);
	free(t->cls);
	msg_free(t->params);
	free(t);
	if (cb)
		cb(arg);
}
