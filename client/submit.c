/* SPDX-License-Identifier: MIT */
/*
 * submit: turning mts_job structs into `submit` frames, and the three ways to
 * wait for their results -- callbacks, futures, and map. Frames are written
 * as JSON text directly (no cJSON tree per job): at a hundred thousand jobs a
 * second the tree would cost more than the rest of the client.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "jobarray.h"

/* ,"git":{...}: the option object the master checks (master/jobs.c f_git). */
static int submit_encode_git(struct buf *b, const mts_git *g, char *err, size_t errlen)
{
	const char *names[] = {"url", "commit", "branch", "workdir", "setup"};
	const char *vals[] = {g->url, g->commit, g->branch, g->workdir, g->setup};
	if (!g->url || !*g->url) {
		snprintf(err, errlen, "git: a job's checkout needs url (and commit, or branch: the master resolves it)");
		return -1;
	}
	buf_adds(b, ",\"git\":{");
	for (size_t i = 0, k = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!vals[i])
			continue;
		buf_addf(b, "%s\"%s\":", k++ ? "," : "", names[i]);
		buf_add_json_str(b, vals[i], strlen(vals[i]));
	}
	return buf_add(b, "}", 1);
}

static void add_member(struct buf *b, const char *key, const char *v, size_t vlen)
{
	buf_add_json_str(b, key, strlen(key));
	buf_add(b, ":", 1);
	buf_add_json_str(b, v, vlen);
}

/* ,"container":{...} (docs/protocol.md) from c; "SRC:DST[:ro|:rw]" volumes
 * and "K=V" variables become the object's maps. -1 with err if one is
 * malformed. */
static int encode_container(struct buf *b, const mts_container *c, char *err, size_t errlen)
{
	if (!c->image || !*c->image)
		return snprintf(err, errlen, "container without an image"), -1;
	buf_adds(b, ",\"container\":{");
	add_member(b, "image", c->image, strlen(c->image));
	if (c->runtime) {
		buf_add(b, ",", 1);
		add_member(b, "runtime", c->runtime, strlen(c->runtime));
	}
	if (c->workdir) {
		buf_add(b, ",", 1);
		add_member(b, "workdir", c->workdir, strlen(c->workdir));
	}
	for (size_t i = 0; c->volumes && c->volumes[i]; i++) {
		const char *v = c->volumes[i], *colon = strchr(v, ':');
		const char *mode = colon ? strchr(colon + 1, ':') : NULL;
		if (!colon || colon == v || (mode && strcmp(mode, ":ro") && strcmp(mode, ":rw")))
			return snprintf(err, errlen, "volume \"%.200s\" must be SRC:DST or SRC:DST:ro", v), -1;
		size_t dl = mode ? (size_t)(mode - colon - 1) : strlen(colon + 1);
		buf_adds(b, i ? "," : ",\"volumes\":{");
		buf_add_json_str(b, v, (size_t)(colon - v));
		buf_adds(b, ":{");
		add_member(b, "bind", colon + 1, dl);
		buf_adds(b, mode && strcmp(mode, ":ro") == 0 ? ",\"mode\":\"ro\"}" : "}");
	}
	if (c->volumes && c->volumes[0])
		buf_add(b, "}", 1);
	for (size_t i = 0; c->env && c->env[i]; i++) {
		const char *kv = c->env[i], *eq = strchr(kv, '=');
		if (!eq || eq == kv)
			return snprintf(err, errlen, "container variable \"%.200s\" must be K=V", kv), -1;
		buf_adds(b, i ? "," : ",\"env\":{");
		buf_add_json_str(b, kv, (size_t)(eq - kv));
		buf_add(b, ":", 1);
		buf_add_json_str(b, eq + 1, strlen(eq + 1));
	}
	if (c->env && c->env[0])
		buf_add(b, "}", 1);
	buf_add(b, "}", 1);
	return 0;
}

int submit_encode_job(struct buf *b, const mts_job *j, const char *envkey, const char *cwd, char *err,
		      size_t errlen)
{
	if (!j->type || !*j->type) {
		snprintf(err, errlen, "job without a type (echo, exec or func)");
		return -1;
	}
	buf_adds(b, "{\"type\":");
	buf_add_json_str(b, j->type, strlen(j->type));
	if (j->input) {
		buf_adds(b, ",\"input\":");
		buf_add_json_str(b, j->input, strlen(j->input));
	}
	if (j->delay > 0)
		buf_addf(b, ",\"delay\":%.17g", j->delay);
	if (j->target) {
		buf_adds(b, ",\"target\":");
		buf_add_json_str(b, j->target, strlen(j->target));
	}
	if (cwd) {
		buf_adds(b, ",\"cwd\":");
		buf_add_json_str(b, cwd, strlen(cwd));
	}
	if (envkey) {
		buf_adds(b, ",\"envk\":\"");
		buf_adds(b, envkey);
		buf_add(b, "\"", 1);
	}
	if (j->env) {
		buf_adds(b, ",\"env\":[");
		for (size_t i = 0; j->env[i]; i++) {
			if (i)
				buf_add(b, ",", 1);
			buf_add_json_str(b, j->env[i], strlen(j->env[i]));
		}
		buf_add(b, "]", 1);
	}
	if (j->prio)
		buf_addf(b, ",\"prio\":%d", j->prio);
	if (j->retries >= 0)
		buf_addf(b, ",\"retries\":%d", j->retries);
	if (j->ndeps) {
		buf_adds(b, ",\"deps\":[");
		for (size_t i = 0; i < j->ndeps; i++)
			buf_addf(b, "%s%lld", i ? "," : "", (long long)j->deps[i]);
		buf_add(b, "]", 1);
	}
	if (j->timeout > 0)
		buf_addf(b, ",\"timeout\":%.17g", j->timeout);
	if (j->time_request > 0)
		buf_addf(b, ",\"treq\":%.17g", j->time_request);
	if (j->ranks > 1)
		buf_addf(b, ",\"ranks\":%d", j->ranks);
	if (j->crash_limit > 0)
		buf_addf(b, ",\"crash_limit\":%d", j->crash_limit);
	if (j->git && submit_encode_git(b, j->git, err, errlen) < 0)
		return -1;
	if (j->container && encode_container(b, j->container, err, errlen))
		return -1;
	if (j->cpus < 0 || j->gpus < 0 || (j->pin && j->cpus <= 0)) {
		snprintf(err, errlen, j->pin ? "pin binds a job to the CPUs it asks for: set cpus too"
					     : "cpus and gpus must be 0 or more");
		return -1;
	}
	if (j->cpus || j->gpus || j->mem_bytes) {
		/* the "res" option (docs/protocol.md): only what was asked */
		const char *sep = "";
		buf_adds(b, ",\"res\":{");
		if (j->cpus)
			buf_addf(b, "\"cpus\":%d", j->cpus), sep = ",";
		if (j->gpus)
			buf_addf(b, "%s\"gpus\":%d", sep, j->gpus), sep = ",";
		if (j->mem_bytes)
			buf_addf(b, "%s\"mem\":%llu", sep, j->mem_bytes);
		if (j->pin)
			buf_adds(b, ",\"pin\":true");
		buf_add(b, "}", 1);
	}
	buf_add(b, "}", 1);
	return 0;
}

/* What an exec job of a submit call runs with: the snapshot of its
 * export_env (computed once per distinct spec in a row of jobs) and the
 * caller's working directory (read once per call). */
struct submit_ctx {
	mts_client *c;
	struct envsnap *snap;
	const char *spec; /* of snap */
	char cwd[RUNDIR_PATH_MAX];
	int have_cwd;
};

static int same_spec(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* The snapshot and directory of exec job j; r holds a reference to the
 * snapshot until it is released. */
static int submit_exec_ctx(struct submit_ctx *x, struct req *r, const mts_job *j, const char **envkey,
			   const char **cwd, char *err, size_t errlen)
{
	if (!j->cwd && !x->have_cwd) {
		if (!getcwd(x->cwd, sizeof x->cwd))
			return snprintf(err, errlen,
					"cannot get the working directory (%s): set mts_job.cwd", strerror(errno)),
			       -1;
		x->have_cwd = 1;
	}
	*cwd = j->cwd ? j->cwd : x->cwd;
	if (!x->snap || !same_spec(x->spec, j->export_env)) {
		struct envsnap *sn;
		if (envsnap_get(x->c, j->export_env, &sn, err, errlen))
			return -1;
		envsnap_unref(x->c, x->snap);
		x->snap = sn;
		x->spec = j->export_env;
	}
	size_t i = 0;
	while (i < r->nenvs && r->envs[i] != x->snap)
		i++;
	if (i == r->nenvs) {
		struct envsnap **v = realloc(r->envs, (r->nenvs + 1) * sizeof *v);
		if (!v)
			return snprintf(err, errlen, "out of memory"), -1;
		r->envs = v;
		r->envs[r->nenvs++] = x->snap;
		envsnap_ref(x->c, x->snap);
	}
	*envkey = x->snap->key;
	return 0;
}

/* Build the frame of one submit request for jobs[lo, hi): its registration
 * (user pointers, futures, kept results) and the jobs' encodings. On error
 * the request keeps what was built; the caller releases it. */
static int submit_build_req(mts_client *c, struct submit_ctx *x, struct req *r, const struct req *first,
			    const mts_job *jobs, size_t lo, size_t hi, struct mts_future **futs, mts_result **keeps)
{
	char err[256];
	req_begin(c, r, "submit");
	buf_addf(&r->frame, ",\"low\":%lld", (long long)req_low(c, first));
	struct jobreg *reg = calloc(1, sizeof *reg);
	if (!reg || !(reg->user = calloc(hi - lo, sizeof *reg->user))) {
		free(reg);
		return MTS_ENOMEM;
	}
	reg->n = hi - lo;
	r->reg = reg;
	if (futs && !(reg->fut = calloc(hi - lo, sizeof *reg->fut)))
		return MTS_ENOMEM;
	if (keeps && !(reg->keep = calloc(hi - lo, sizeof *reg->keep)))
		return MTS_ENOMEM;
	buf_adds(&r->frame, ",\"jobs\":[");
	for (size_t i = lo; i < hi; i++) {
		if (i > lo)
			buf_add(&r->frame, ",", 1);
		const char *envkey = NULL, *cwd = jobs[i].cwd;
		if ((jobs[i].type && strcmp(jobs[i].type, "exec") == 0 &&
		     submit_exec_ctx(x, r, &jobs[i], &envkey, &cwd, err, sizeof err)) ||
		    submit_encode_job(&r->frame, &jobs[i], envkey, cwd, err, sizeof err)) {
			client_seterr(c, "job %zu: %s", i, err);
			return MTS_EINVAL;
		}
		reg->user[i - lo] = jobs[i].user;
		if (futs)
			reg->fut[i - lo] = futs[i];
		if (keeps)
			reg->keep[i - lo] = keeps[i];
	}
	buf_add(&r->frame, "]", 1);
	return MTS_OK;
}

/* Send the built requests all at once (pipelined), wait for each, fill ids
 * and release them. Returns the first error, its message left on c. */
static int submit_send_await(mts_job_id *ids, mts_client *c, struct req *reqs, size_t built)
{
	int firsterr = MTS_OK;
	char firstmsg[512] = "";
	for (size_t k = 0; k < built; k++)
		client_send(c, &reqs[k]);
	for (size_t k = 0; k < built; k++)
		client_await(c, &reqs[k], 0);
	for (size_t k = 0; k < built; k++) {
		struct req *r = &reqs[k];
		if (!r->done && firsterr == MTS_OK) {
			firsterr = MTS_ETIMEDOUT;
			snprintf(firstmsg, sizeof firstmsg, "%s", mts_errmsg(c));
		} else if (r->err && firsterr == MTS_OK) {
			firsterr = r->err;
			snprintf(firstmsg, sizeof firstmsg, "%s", r->errmsg);
		}
		if (ids && r->done && !r->err) {
			size_t lo = k * CLIENT_BATCH_MAX;
			for (size_t i = 0; i < r->reg->n; i++)
				ids[lo + i] = r->reg->first + (mts_job_id)i;
		}
		envsnap_req_release(c, r);
		req_release(r);
	}
	if (firsterr)
		client_seterr(c, "%s", firstmsg);
	return firsterr;
}

/* Submit n jobs in frames of CLIENT_BATCH_MAX, all in flight at once. futs
 * and keeps, when given, have n entries. */
static int submit_many(mts_job_id *ids, mts_client *c, const mts_job *jobs, size_t n, struct mts_future **futs,
		       mts_result **keeps)
{
	if (!c || (!jobs && n))
		return MTS_EINVAL;
	size_t nreq = (n + CLIENT_BATCH_MAX - 1) / CLIENT_BATCH_MAX;
	struct req *reqs = calloc(nreq ? nreq : 1, sizeof *reqs);
	if (!reqs)
		return MTS_ENOMEM;
	int rc = MTS_OK;
	size_t built = 0;
	struct submit_ctx x = {.c = c};
	for (size_t k = 0; k < nreq && rc == MTS_OK; k++) {
		size_t lo = k * CLIENT_BATCH_MAX, hi = lo + CLIENT_BATCH_MAX < n ? lo + CLIENT_BATCH_MAX : n;
		rc = submit_build_req(c, &x, &reqs[k], &reqs[0], jobs, lo, hi, futs, keeps);
		if (rc == MTS_OK)
			built++;
	}
	envsnap_unref(c, x.snap);
	if (rc) {
		for (size_t k = 0; k < nreq; k++) {
			envsnap_req_release(c, &reqs[k]);
			req_release(&reqs[k]);
		}
		free(reqs);
		return rc;
	}
	rc = submit_send_await(ids, c, reqs, built);
	free(reqs);
	return rc;
}

MTS_API int mts_submit_batch(mts_job_id *ids_out, mts_client *c, const mts_job *jobs, size_t n)
{
	return submit_many(ids_out, c, jobs, n, NULL, NULL);
}

MTS_API int mts_submit(mts_job_id *out, mts_client *c, const mts_job *job)
{
	mts_job_id id = 0;
	if (!job)
		return MTS_EINVAL;
	int rc = submit_many(&id, c, job, 1, NULL, NULL);
	if (rc == MTS_OK && out)
		*out = id;
	return rc;
}

MTS_API int mts_submit_future(mts_future **out, mts_client *c, const mts_job *job)
{
	if (!out || !c || !job)
		return MTS_EINVAL;
	mts_future *f = calloc(1, sizeof *f);
	if (!f)
		return MTS_ENOMEM;
	f->c = c;
	int rc = submit_many(NULL, c, job, 1, &f, NULL);
	if (rc) {
		free(f);
		return rc;
	}
	*out = f;
	return MTS_OK;
}

static int future_final(mts_client *c, void *arg, int peek)
{
	(void)c;
	(void)peek;
	return ((mts_future *)arg)->done;
}

MTS_API int mts_future_wait(mts_future *f, int timeout_ms)
{
	if (!f)
		return MTS_EINVAL;
	int rc = client_wait_until(f->c, future_final, f, timeout_ms < 0 ? -1 : timeout_ms ? timeout_ms : 1);
	if (rc == MTS_ETIMEDOUT)
		client_seterr(f->c, "job %lld still unfinished after %d ms", (long long)f->id, timeout_ms);
	return rc;
}

MTS_API int mts_future_done(mts_future *f)
{
	if (!f)
		return 0;
	pthread_mutex_lock(&f->c->mu);
	int d = f->done;
	pthread_mutex_unlock(&f->c->mu);
	return d;
}

MTS_API const mts_result *mts_future_result(mts_future *f)
{
	return mts_future_done(f) ? &f->r : NULL;
}

MTS_API mts_job_id mts_future_id(const mts_future *f) { return f ? f->id : 0; }

static void result_strings_free(mts_result *r)
{
	free((char *)r->type);
	free((char *)r->output);
	free((char *)r->error);
	free((char *)r->worker);
}

MTS_API void mts_future_free(mts_future *f)
{
	if (!f)
		return;
	mts_client *c = f->c;
	pthread_mutex_lock(&c->mu);
	struct jobent e;
	if (!f->done)
		jobmap_take(&c->jobs, f->id, &e); /* no result will be written into f */
	pthread_mutex_unlock(&c->mu);
	result_strings_free(&f->r);
	free(f);
}

struct mapwait {
	mts_job_id *ids;
	size_t n;
};

static int map_final(mts_client *c, void *arg, int peek)
{
	(void)peek;
	struct mapwait *w = arg;
	while (w->n && !jobmap_has(&c->jobs, w->ids[w->n - 1]))
		w->n--;
	return w->n == 0;
}

MTS_API int mts_map(mts_result **out, mts_client *c, const char *target, const char *const *args, size_t n,
		    int timeout_ms)
{
	if (!out || !c || !target || (!args && n))
		return MTS_EINVAL;
	*out = NULL;
	mts_result *res = calloc(n ? n : 1, sizeof *res);
	mts_job *jobs = calloc(n ? n : 1, sizeof *jobs);
	mts_result **keeps = calloc(n ? n : 1, sizeof *keeps);
	mts_job_id *ids = calloc(n ? n : 1, sizeof *ids);
	int rc = MTS_ENOMEM;
	if (!res || !jobs || !keeps || !ids)
		goto out;
	mts_job init = MTS_JOB_INIT;
	for (size_t i = 0; i < n; i++) {
		jobs[i] = init;
		jobs[i].type = "func";
		jobs[i].target = target;
		jobs[i].input = args[i] ? args[i] : "null";
		keeps[i] = &res[i];
		res[i].state = MTS_QUEUED;
	}
	rc = submit_many(ids, c, jobs, n, NULL, keeps);
	if (rc)
		goto out;
	struct mapwait w = {ids, n};
	rc = client_wait_until(c, map_final, &w, timeout_ms < 0 ? -1 : timeout_ms ? timeout_ms : 1);
	if (rc == MTS_ETIMEDOUT) {
		/* Stop expecting the rest, so no result is written after we return. */
		pthread_mutex_lock(&c->mu);
		struct jobent e;
		for (size_t i = 0; i < n; i++)
			jobmap_take(&c->jobs, ids[i], &e);
		pthread_mutex_unlock(&c->mu);
		client_seterr(c, "map: not every call finished within %d ms", timeout_ms);
	}
	for (size_t i = 0; i < n; i++)
		res[i].id = ids[i];
	*out = res;
	res = NULL;
out:
	if (res)
		mts_map_free(res, n);
	free(jobs);
	free(keeps);
	free(ids);
	return rc;
}

MTS_API void mts_map_free(mts_result *results, size_t n)
{
	if (!results)
		return;
	for (size_t i = 0; i < n; i++)
		result_strings_free(&results[i]);
	free(results);
}

/* The "array" object of an array's submit frame into r->frame; *n its
 * members. 0, or -1 with the handle's error set. */
static int array_encode(mts_client *c, struct buf *f, const mts_array *a, size_t *n)
{
	char err[200];
	struct jobarray set = {0};
	if (a->tasks && jobarray_parse(&set, a->tasks, err, sizeof err)) {
		jobarray_release(&set);
		client_seterr(c, "array: bad task ids: %s", err);
		return -1;
	}
	*n = a->entries ? a->nentries : (size_t)set.count;
	jobarray_release(&set);
	if (!a->tasks && (!a->entries || !a->nentries)) {
		client_seterr(c, "array: give task ids (tasks) or entries");
		return -1;
	}
	buf_adds(f, ",\"array\":{");
	if (a->tasks) {
		buf_adds(f, "\"tasks\":");
		buf_add_json_str(f, a->tasks, strlen(a->tasks));
	}
	if (a->entries) {
		buf_adds(f, a->tasks ? ",\"entries\":[" : "\"entries\":[");
		for (size_t i = 0; i < a->nentries; i++) {
			const char *e = a->entries[i] ? a->entries[i] : "";
			if (i)
				buf_add(f, ",", 1);
			if (!a->entries_json) {
				buf_add_json_str(f, e, strlen(e));
				continue;
			}
			/* raw JSON goes into the frame: it must parse, or the
			 * whole frame would be refused as bad JSON */
			msg *v = msg_parse(e, strlen(e), err, sizeof err);
			msg_free(v);
			if (!v) {
				client_seterr(c, "array: entry %zu is not JSON: %s", i, err);
				return -1;
			}
			buf_adds(f, e);
		}
		buf_add(f, "]", 1);
	}
	buf_add(f, "}", 1);
	return 0;
}

MTS_API int mts_submit_array(mts_job_id *first_out, size_t *n_out, mts_client *c, const mts_job *tmpl,
			     const mts_array *a)
{
	if (!c || !tmpl || !a)
		return MTS_EINVAL;
	char err[256];
	struct req r = {0};
	struct submit_ctx x = {.c = c};
	const char *envkey = NULL, *cwd = tmpl->cwd;
	size_t n = 0;
	int rc = MTS_EINVAL;
	req_begin(c, &r, "submit");
	if (tmpl->type && strcmp(tmpl->type, "exec") == 0 &&
	    submit_exec_ctx(&x, &r, tmpl, &envkey, &cwd, err, sizeof err)) {
		client_seterr(c, "array: %s", err);
		goto out;
	}
	buf_adds(&r.frame, ",\"defaults\":");
	if (submit_encode_job(&r.frame, tmpl, envkey, cwd, err, sizeof err)) {
		client_seterr(c, "array: %s", err);
		goto out;
	}
	if (array_encode(c, &r.frame, a, &n))
		goto out;
	if (!r.frame.p) {
		rc = MTS_ENOMEM;
		goto out;
	}
	if (r.frame.len > (60u << 20)) {
		client_seterr(c, "array: the request is %zu MiB, over the 64 MiB frame limit: split the array",
			      r.frame.len >> 20);
		goto out;
	}
	if (!a->detach) {
		if (!(r.reg = calloc(1, sizeof *r.reg))) {
			rc = MTS_ENOMEM;
			goto out;
		}
		r.reg->n = n;
	}
	rc = client_call(c, &r, 0);
	if (rc == MTS_OK) {
		int64_t first = 0, got = 0;
		msg_get_int(r.reply, "first", &first);
		msg_get_int(r.reply, "n", &got);
		if (first_out)
			*first_out = first;
		if (n_out)
			*n_out = (size_t)got;
	}
out:
	envsnap_unref(c, x.snap);
	envsnap_req_release(c, &r);
	req_release(&r);
	return rc;
}
