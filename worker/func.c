/* SPDX-License-Identifier: MIT */
/*
 * func: dlopen'd function calls on the thread pool -- see func.h. Each call
 * carries its own copies of the target and input, so the job (owned by the
 * loop thread) may be freed while the call is still running.
 */
#include "func.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*func_fn)(const char *input_json, char **output_json);

struct lib {
	char *path;
	void *handle;
	struct lib *next;
};

static pthread_mutex_t libs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lib *libs;
static atomic_uint in_flight;

struct func_call {
	uv_work_t req;
	struct job *job; /* NULL once abandoned */
	job_done_fn done;
	void *arg;
	char *path;  /* in data */
	char *fname; /* in data */
	char *input; /* in data */
	int ret;
	int failed; /* load or lookup failed: error holds why */
	char *output;
	char error[600];
	/* path, fname, input follow */
};

/* Find or load the library at path (thread pool side). */
static void *lib_get(const char *path, char *err, size_t errlen)
{
	void *h = NULL;
	pthread_mutex_lock(&libs_lock);
	for (struct lib *l = libs; l; l = l->next) {
		if (strcmp(l->path, path) == 0) {
			h = l->handle;
			break;
		}
	}
	if (!h) {
		h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			const char *e = dlerror();
			snprintf(err, errlen, "cannot load %s: %s", path, e ? e : "unknown error");
		} else {
			struct lib *l = malloc(sizeof(*l));
			if (l && (l->path = strdup(path))) {
				l->handle = h;
				l->next = libs;
				libs = l;
			} else {
				free(l); /* not cached: loaded again next time (refcounted) */
			}
		}
	}
	pthread_mutex_unlock(&libs_lock);
	return h;
}

static void work(uv_work_t *req)
{
	struct func_call *c = req->data;
	void *h = lib_get(c->path, c->error, sizeof(c->error));
	if (!h) {
		c->failed = 1;
		return;
	}
	dlerror();
	func_fn fn = (func_fn)(uintptr_t)dlsym(h, c->fname);
	if (!fn) {
		snprintf(c->error, sizeof(c->error), "no function '%s' in %s", c->fname, c->path);
		c->failed = 1;
		return;
	}
	c->output = NULL;
	c->ret = fn(c->input, &c->output);
}

static void after_work(uv_work_t *req, int status)
{
	struct func_call *c = req->data;
	atomic_fetch_sub(&in_flight, 1);
	if (c->job) {
		struct job *j = c->job;
		j->run = NULL;
		struct job_result r = {0};
		r.output = c->output;
		r.output_len = c->output ? strlen(c->output) : 0;
		if (status == UV_ECANCELED) {
			r.error = "cancelled";
			r.rc = -1;
		} else if (c->failed) {
			r.error = c->error;
			r.rc = -1;
		} else if (c->ret != 0) {
			r.rc = c->ret;
			if (c->output && r.output_len < 400)
				snprintf(c->error, sizeof(c->error), "%s returned %d: %s", c->fname, c->ret,
					 c->output);
			else
				snprintf(c->error, sizeof(c->error), "%s returned %d", c->fname, c->ret);
			r.error = c->error;
		} else {
			r.ok = 1;
		}
		c->done(c->arg, j, &r);
	}
	free(c->output);
	free(c);
}

void func_start(uv_loop_t *loop, struct job *j, job_done_fn done, void *arg)
{
	const char *t = j->target;
	const char *colon = t ? strrchr(t, ':') : NULL;
	if (!t || !colon || colon == t || !colon[1]) {
		char e[300];
		snprintf(e, sizeof(e), "bad target '%s': expected /path/lib.so:function", t ? t : "");
		struct job_result r = {0, NULL, 0, e, -1};
		done(arg, j, &r);
		return;
	}
	size_t pl = (size_t)(colon - t), fl = strlen(colon + 1);
	struct func_call *c = malloc(sizeof(*c) + pl + fl + j->input_len + 3);
	if (!c) {
		struct job_result r = {0, NULL, 0, "out of memory", -1};
		done(arg, j, &r);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->path = (char *)(c + 1);
	memcpy(c->path, t, pl);
	c->path[pl] = '\0';
	c->fname = c->path + pl + 1;
	memcpy(c->fname, colon + 1, fl + 1);
	c->input = c->fname + fl + 1;
	memcpy(c->input, j->input, j->input_len + 1);
	c->job = j;
	c->done = done;
	c->arg = arg;
	c->req.data = c;
	j->run = c;
	atomic_fetch_add(&in_flight, 1);
	int e = uv_queue_work(loop, &c->req, work, after_work);
	if (e < 0) {
		atomic_fetch_sub(&in_flight, 1);
		j->run = NULL;
		free(c);
		char why[128];
		snprintf(why, sizeof(why), "cannot queue the call: %s", uv_strerror(e));
		struct job_result r = {0, NULL, 0, why, -1};
		done(arg, j, &r);
	}
}

void func_abandon(struct job *j)
{
	struct func_call *c = j->run;
	if (!c)
		return;
	c->job = NULL;
	j->run = NULL;
	uv_cancel((uv_req_t *)&c->req); /* only succeeds if not started yet */
}

unsigned func_in_flight(void)
{
	return atomic_load(&in_flight);
}
