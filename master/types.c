/* SPDX-License-Identifier: MIT */
/*
 * types: job types and worker types (see types.h). Few of each (tens,
 * hundreds at most): sorted arrays, bisected by name. Pool ids come from
 * a separate name list that only grows, so a pool outlives its type.
 */
#include "types.h"
#include "master.h"
#include "storesvc.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jschema.h"
#include "log.h"
#include "nametab.h"
#include "util.h"

/* A table of records sorted by name, whose first member is their name
 * (char name[]): job types and worker types. */
_Static_assert(offsetof(struct jobtype, name) == 0, "struct jobtype starts with its name");
_Static_assert(offsetof(struct workertype, name) == 0, "struct workertype starts with its name");
struct named {
	void **v;
	size_t n, cap;
};

/* Job types bound to the worker serving url by name (mindtrace's
 * register_job_to_worker), kept across restarts ("bind:URL" settings): a
 * worker that comes back on the same URL serves them again. */
struct bind {
	char *url;
	char **types;
	size_t n;
};

struct types {
	struct named jt; /* struct jobtype * */
	struct named wt; /* struct workertype * */
	struct bind *binds;
	size_t nbinds;
	char **pools; /* pool i + 1 is job type pools[i] */
	size_t npools, cappools;
};

/* Executors a worker type may name, and the parameter each requires. */
struct executor {
	const char *name;
	const char *needs; /* a required string parameter, or NULL */
	const char *what;  /* how to give it */
};
static const struct executor executors[] = {
	{"echo", NULL, NULL},
	{"exec", "command", "--command 'PROGRAM ARGS' (the payload's fields fill {name} and MTSLURM_PAYLOAD)"},
	{"func", "target", "--target /path/lib.so:function"},
	{"run-script", NULL, NULL},
};
#define NEXECUTORS (sizeof executors / sizeof executors[0])

static struct types *T(struct master *m)
{
	if (!m->types)
		m->types = calloc(1, sizeof *m->types);
	return m->types;
}

static int name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (!n || n > TYPES_NAME_MAX)
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

/* ---- pools ---- */

uint32_t types_pool(struct master *m, const char *name)
{
	struct types *t = T(m);
	if (!t)
		return 0;
	for (size_t i = 0; i < t->npools; i++)
		if (strcmp(t->pools[i], name) == 0)
			return (uint32_t)(i + 1);
	if (t->npools == t->cappools) {
		size_t cap = t->cappools ? t->cappools * 2 : 16;
		char **p = realloc(t->pools, cap * sizeof *p);
		if (!p)
			return 0;
		t->pools = p;
		t->cappools = cap;
	}
	if (!(t->pools[t->npools] = strdup(name)))
		return 0;
	return (uint32_t)++t->npools;
}

struct client *types_owner(struct master *m, const char *name)
{
	char cid[MASTER_CID_MAX + 1];
	if (snprintf(cid, sizeof cid, TYPES_OWNER_PREFIX "%s", name) >= (int)sizeof cid)
		return NULL;
	uint32_t pool = types_pool(m, name);
	struct client *c = pool ? clients_get(m, cid, 1) : NULL;
	if (c)
		c->sc.pool = pool;
	return c;
}

/* ---- lookups ---- */

static size_t named_find(const struct named *t, const char *name, int *found)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(name, (const char *)t->v[mid]);
		if (!d)
			return *found = 1, mid;
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return *found = 0, lo;
}

/* Put rec into t; one of its name is replaced and handed back in *old
 * (NULL if none). 0, or -1 on OOM. */
static int named_put(struct named *t, void *rec, void **old)
{
	int f;
	size_t i = named_find(t, (const char *)rec, &f);
	*old = NULL;
	if (f) {
		*old = t->v[i];
		t->v[i] = rec;
		return 0;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		void **p = realloc(t->v, cap * sizeof *p);
		if (!p)
			return -1;
		t->v = p;
		t->cap = cap;
	}
	memmove(t->v + i + 1, t->v + i, (t->n - i) * sizeof *t->v);
	t->v[i] = rec;
	t->n++;
	return 0;
}

/* Take the record called name out of t: it, or NULL. */
static void *named_take(struct named *t, const char *name)
{
	int f = 0;
	size_t i = name ? named_find(t, name, &f) : 0;
	if (!f)
		return NULL;
	void *rec = t->v[i];
	memmove(t->v + i, t->v + i + 1, (t->n - i - 1) * sizeof *t->v);
	t->n--;
	return rec;
}

static void *named_get(const struct named *t, const char *name)
{
	int f = 0;
	size_t i = name ? named_find(t, name, &f) : 0;
	return f ? t->v[i] : NULL;
}

struct jobtype *types_job(struct master *m, const char *name)
{
	struct types *t = T(m);
	return t ? named_get(&t->jt, name) : NULL;
}

struct workertype *types_worker(struct master *m, const char *name)
{
	struct types *t = T(m);
	return t ? named_get(&t->wt, name) : NULL;
}

size_t types_njobs(const struct master *m)
{
	return m->types ? m->types->jt.n : 0;
}

struct jobtype *types_job_at(struct master *m, size_t i)
{
	return m->types && i < m->types->jt.n ? m->types->jt.v[i] : NULL;
}

size_t types_nworkers(const struct master *m)
{
	return m->types ? m->types->wt.n : 0;
}

struct workertype *types_worker_at(struct master *m, size_t i)
{
	return m->types && i < m->types->wt.n ? m->types->wt.v[i] : NULL;
}

/* ---- memory ---- */

static void jt_free(struct jobtype *j)
{
	if (!j)
		return;
	free(j->worker_type);
	free(j->url);
	free(j->schema_text);
	jschema_free(j->schema);
	free(j);
}

static void wt_free(struct workertype *w)
{
	if (!w)
		return;
	free(w->executor);
	free(w->params);
	free(w);
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/* A job type from its parts (schema text compiled): NULL with err. */
static struct jobtype *jt_make(struct master *m, const char *name, const char *worker_type, const char *url,
			       const char *schema_text, double timeout_s, int retries, char *err, size_t n)
{
	struct jobtype *j = calloc(1, sizeof *j);
	if (!j)
		return snprintf(err, n, "out of memory"), NULL;
	util_strlcpy(j->name, name, sizeof j->name);
	j->endpoint = url && *url;
	j->worker_type = dup_or_null(worker_type);
	j->url = dup_or_null(url);
	j->timeout_s = timeout_s;
	j->retries = retries;
	j->pool = types_pool(m, name);
	if (schema_text && *schema_text) {
		char jerr[200];
		msg *s = msg_parse(schema_text, strlen(schema_text), jerr, sizeof jerr);
		if (!s) {
			snprintf(err, n, "job type %s: its schema is not JSON: %s", name, jerr);
			jt_free(j);
			return NULL;
		}
		j->schema = jschema_compile(s, err, n);
		msg_free(s);
		if (!j->schema || !(j->schema_text = strdup(schema_text))) {
			jt_free(j);
			return NULL;
		}
	}
	if (!j->pool) {
		snprintf(err, n, "out of memory");
		jt_free(j);
		return NULL;
	}
	return j;
}

static int jt_insert(struct types *t, struct jobtype *j)
{
	void *old;
	if (named_put(&t->jt, j, &old))
		return -1;
	jt_free(old);
	return 0;
}

static int wt_insert(struct types *t, struct workertype *w)
{
	void *old;
	if (named_put(&t->wt, w, &old))
		return -1;
	wt_free(old);
	return 0;
}

static struct workertype *wt_make(const char *name, const char *executor, const char *params)
{
	struct workertype *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	util_strlcpy(w->name, name, sizeof w->name);
	w->executor = strdup(executor);
	w->params = strdup(params && *params ? params : "{}");
	if (!w->executor || !w->params) {
		wt_free(w);
		return NULL;
	}
	return w;
}

/* ---- load ---- */

struct loadctx {
	struct master *m;
	char *err;
	size_t n;
};

static int load_bind(void *arg, const char *key, const char *value);

static int load_jt(void *arg, const struct store_jobtype *s)
{
	struct loadctx *L = arg;
	char err[400];
	struct jobtype *j = jt_make(L->m, s->name, s->worker_type, s->endpoint, s->schema, s->timeout_s, s->retries,
				    err, sizeof err);
	if (!j) {
		/* A schema this master cannot compile (stored by another
		 * version): keep the type, unvalidated, and say so. */
		log_warn("job type %s: %s; its inputs are not validated until it is registered again", s->name, err);
		if (!(j = jt_make(L->m, s->name, s->worker_type, s->endpoint, NULL, s->timeout_s, s->retries, err,
				  sizeof err)))
			return snprintf(L->err, L->n, "job type %s: %s", s->name, err), -1;
	}
	return jt_insert(T(L->m), j) ? (jt_free(j), snprintf(L->err, L->n, "out of memory"), -1) : 0;
}

static int load_wt(void *arg, const struct store_workertype *s)
{
	struct loadctx *L = arg;
	struct workertype *w = wt_make(s->name, s->executor, s->params);
	if (!w || wt_insert(T(L->m), w))
		return wt_free(w), snprintf(L->err, L->n, "out of memory"), -1;
	return 0;
}

int types_load(struct master *m, char *err, size_t n)
{
	struct loadctx L = {m, err, n};
	if (!T(m))
		return snprintf(err, n, "out of memory"), -1;
	if (store_jobtypes(m->store, load_jt, &L) < 0 || store_workertypes(m->store, load_wt, &L) < 0 ||
	    store_svc_settings(m->store, "bind:", load_bind, &L) < 0) {
		if (!*err)
			snprintf(err, n, "cannot read the job and worker types: %s", store_errmsg(m->store));
		return -1;
	}
	if (m->types->jt.n || m->types->wt.n)
		log_info("%zu job types, %zu worker types", m->types->jt.n, m->types->wt.n);
	return 0;
}

void types_release(struct master *m)
{
	struct types *t = m->types;
	if (!t)
		return;
	for (size_t i = 0; i < t->jt.n; i++)
		jt_free(t->jt.v[i]);
	for (size_t i = 0; i < t->wt.n; i++)
		wt_free(t->wt.v[i]);
	for (size_t i = 0; i < t->npools; i++)
		free(t->pools[i]);
	free(t->jt.v);
	free(t->wt.v);
	for (size_t i = 0; i < t->nbinds; i++) {
		for (size_t k = 0; k < t->binds[i].n; k++)
			free(t->binds[i].types[k]);
		free(t->binds[i].types);
		free(t->binds[i].url);
	}
	free(t->binds);
	free(t->pools);
	free(t);
	m->types = NULL;
}

/* ---- changes ---- */

int types_put_job(struct master *m, const char *name, const char *worker_type, const char *url,
		  const msg *schema, double timeout_s, int retries, char *err, size_t n)
{
	if (!name_ok(name))
		return snprintf(err, n, "a job type's name is 1 to %d characters of A-Z a-z 0-9 _ . -", TYPES_NAME_MAX),
		       -1;
	if (url && (strlen(url) > 900 || strpbrk(url, " \t\r\n")))
		return snprintf(err, n,
				"job type %s: the endpoint must be an http:// or https:// URL, or a path APP/rest "
				"through a registered app, got \"%.100s\"",
				name, url),
		       -1;
	if (worker_type && *worker_type && !name_ok(worker_type))
		return snprintf(err, n, "job type %s: bad worker type name \"%.70s\"", name, worker_type), -1;
	char *text = schema ? msg_print(schema) : NULL;
	if (schema && !text)
		return snprintf(err, n, "out of memory"), -1;
	struct jobtype *j = jt_make(m, name, worker_type, url, text, timeout_s, retries, err, n);
	if (!j) {
		free(text);
		return -1;
	}
	struct store_jobtype s = {.name = name,
				  .mode = j->endpoint ? "endpoint" : "queue",
				  .worker_type = j->worker_type,
				  .endpoint = j->url,
				  .schema = text,
				  .timeout_s = timeout_s,
				  .retries = retries};
	int rc = store_jobtype_put(m->store, &s, util_wall());
	free(text);
	if (rc) {
		snprintf(err, n, "job type %s: %s", name, store_errmsg(m->store));
		jt_free(j);
		return -1;
	}
	if (jt_insert(T(m), j)) {
		jt_free(j);
		return snprintf(err, n, "out of memory"), -1;
	}
	log_info("job type %s registered: %s %s%s", name, j->endpoint ? "forwarded to" : "served by",
		 j->endpoint ? j->url : j->worker_type ? j->worker_type : "(workers bound by name)",
		 j->schema ? ", input schema checked" : "");
	types_rebind_all(m);
	return 0;
}

int types_del_job(struct master *m, const char *name, char *err, size_t n)
{
	struct types *t = T(m);
	if (!t || !named_get(&t->jt, name))
		return 0;
	if (store_jobtype_del(m->store, name) < 0)
		return snprintf(err, n, "%s", store_errmsg(m->store)), -1;
	jt_free(named_take(&t->jt, name));
	types_rebind_all(m);
	return 1;
}

int types_put_worker(struct master *m, const char *name, const char *executor, const msg *params, char *err,
		     size_t n)
{
	if (!name_ok(name))
		return snprintf(err, n, "a worker type's name is 1 to %d characters of A-Z a-z 0-9 _ . -",
				TYPES_NAME_MAX),
		       -1;
	const struct executor *e = nametab_find(executors, NEXECUTORS, sizeof executors[0], executor);
	if (!e)
		return snprintf(err, n, "worker type %s: unknown executor \"%.40s\"; use echo, exec, func or run-script",
				name, executor ? executor : ""),
		       -1;
	if (params && !msg_is_object(params))
		return snprintf(err, n, "worker type %s: \"params\" must be an object", name), -1;
	if (e->needs && !msg_get_str(params, e->needs))
		return snprintf(err, n, "worker type %s: executor %s needs %s", name, e->name, e->what), -1;
	char *text = params ? msg_print(params) : NULL;
	struct store_workertype s = {.name = name, .executor = e->name, .params = text};
	int rc = store_workertype_put(m->store, &s, util_wall());
	if (rc) {
		free(text);
		return snprintf(err, n, "worker type %s: %s", name, store_errmsg(m->store)), -1;
	}
	struct workertype *w = wt_make(name, e->name, text);
	free(text);
	if (!w || wt_insert(T(m), w)) {
		wt_free(w);
		return snprintf(err, n, "out of memory"), -1;
	}
	log_info("worker type %s registered: executor %s", name, e->name);
	/* Its workers connected already learn how to run their jobs now. */
	for (struct wrk *k = m->workers; k; k = k->next) {
		if (!k->peer || !k->peer->conn || strcmp(k->wtype, name) != 0)
			continue;
		msg *d = msg_new_typed("wtype");
		msg_add(d, "wtype", types_worker_msg(w));
		conn_send(k->peer->conn, d);
	}
	types_rebind_all(m);
	return 0;
}

int types_del_worker(struct master *m, const char *name, char *err, size_t n)
{
	struct types *t = T(m);
	if (!t || !named_get(&t->wt, name))
		return 0;
	if (store_workertype_del(m->store, name) < 0)
		return snprintf(err, n, "%s", store_errmsg(m->store)), -1;
	wt_free(named_take(&t->wt, name));
	return 1;
}

int types_validate(const struct jobtype *t, const msg *input, char *err, size_t n)
{
	if (!t->schema)
		return 0;
	char why[400];
	if (jschema_validate(t->schema, input, why, sizeof why) == 0)
		return 0;
	snprintf(err, n, "the input does not match job type %s's schema: %s", t->name, why);
	return -1;
}

/* ---- binds of job types to workers by URL ---- */

static struct bind *find_bind(struct types *t, const char *url)
{
	for (size_t i = 0; t && i < t->nbinds; i++)
		if (strcmp(t->binds[i].url, url) == 0)
			return &t->binds[i];
	return NULL;
}

/* Add jobtype to url's bind in memory (no store write). 0 or -1 (OOM). */
static int bind_add(struct types *t, const char *url, const char *jobtype)
{
	struct bind *b = find_bind(t, url);
	if (!b) {
		struct bind *v = realloc(t->binds, (t->nbinds + 1) * sizeof *v);
		if (!v)
			return -1;
		t->binds = v;
		b = &t->binds[t->nbinds];
		memset(b, 0, sizeof *b);
		if (!(b->url = strdup(url)))
			return -1;
		t->nbinds++;
	}
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->types[i], jobtype) == 0)
			return 0;
	char **v = realloc(b->types, (b->n + 1) * sizeof *v);
	if (!v)
		return -1;
	b->types = v;
	if (!(b->types[b->n] = strdup(jobtype)))
		return -1;
	b->n++;
	return 0;
}

int types_bind(struct master *m, const char *url, const char *jobtype, char *err, size_t n)
{
	struct types *t = T(m);
	if (!t || bind_add(t, url, jobtype))
		return snprintf(err, n, "out of memory"), -1;
	struct bind *b = find_bind(t, url);
	msg *a = msg_new_array();
	for (size_t i = 0; i < b->n; i++)
		msg_push(a, msg_new_str(b->types[i]));
	char *text = msg_print(a), key[400];
	msg_free(a);
	snprintf(key, sizeof key, "bind:%s", url);
	int rc = text ? store_svc_set(m->store, key, text) : -1;
	free(text);
	if (rc)
		return snprintf(err, n, "cannot store the bind: %s", store_errmsg(m->store)), -1;
	types_rebind_all(m);
	return 0;
}

void types_unbind_all(struct master *m)
{
	struct types *t = T(m);
	char key[400];
	for (size_t i = 0; t && i < t->nbinds; i++) {
		snprintf(key, sizeof key, "bind:%s", t->binds[i].url);
		store_svc_set(m->store, key, NULL);
		for (size_t k = 0; k < t->binds[i].n; k++)
			free(t->binds[i].types[k]);
		free(t->binds[i].types);
		free(t->binds[i].url);
	}
	if (t) {
		free(t->binds);
		t->binds = NULL;
		t->nbinds = 0;
	}
	types_rebind_all(m);
}

static int load_bind(void *arg, const char *key, const char *value)
{
	struct loadctx *L = arg;
	char jerr[100];
	msg *a = value ? msg_parse(value, strlen(value), jerr, sizeof jerr) : NULL;
	const char *url = key + strlen("bind:");
	for (msg *e = msg_child(a); e; e = msg_next(e))
		if (msg_is_str(e) && bind_add(T(L->m), url, msg_str(e)))
			return msg_free(a), snprintf(L->err, L->n, "out of memory"), -1;
	msg_free(a);
	return 0;
}

/* ---- workers' pools ---- */

void types_worker_pools(struct master *m, struct wrk *w)
{
	uint32_t pools[64];
	size_t k = 0;
	if (!w->wtype[0]) {
		pools[k++] = 0;
	} else {
		struct types *t = T(m);
		for (size_t i = 0; t && i < t->jt.n && k < 64; i++) {
			const struct jobtype *j = t->jt.v[i];
			if (!j->endpoint && j->worker_type && strcmp(j->worker_type, w->wtype) == 0)
				pools[k++] = j->pool;
		}
		const struct bind *b = w->url[0] ? find_bind(T(m), w->url) : NULL;
		for (size_t i = 0; b && i < b->n && k < 64; i++) {
			uint32_t p = types_pool(m, b->types[i]);
			size_t j = 0;
			while (j < k && pools[j] != p)
				j++;
			if (j == k && p)
				pools[k++] = p;
		}
	}
	sched_worker_set_pools(&m->sched, &w->sw, pools, k);
	master_touch(m);
}

void types_rebind_all(struct master *m)
{
	for (struct wrk *w = m->workers; w; w = w->next)
		if (w->peer && w->wtype[0])
			types_worker_pools(m, w);
}

/* ---- wire requests ---- */

msg *types_job_msg(const struct jobtype *t)
{
	msg *o = msg_new_object();
	msg_set_str(o, "name", t->name);
	msg_set_str(o, "mode", t->endpoint ? "endpoint" : "queue");
	if (t->worker_type)
		msg_set_str(o, "worker_type", t->worker_type);
	else
		msg_set_null(o, "worker_type");
	if (t->url)
		msg_set_str(o, "endpoint", t->url);
	else
		msg_set_null(o, "endpoint");
	if (t->schema_text)
		msg_set_raw(o, "schema", t->schema_text);
	else
		msg_set_null(o, "schema");
	if (t->timeout_s > 0)
		msg_set_num(o, "timeout", t->timeout_s);
	if (t->retries >= 0)
		msg_set_int(o, "retries", t->retries);
	return o;
}

msg *types_worker_msg(const struct workertype *t)
{
	msg *o = msg_new_object();
	msg_set_str(o, "name", t->name);
	msg_set_str(o, "executor", t->executor);
	msg_set_raw(o, "params", t->params);
	return o;
}

void types_on_type_add(struct call *c, msg *m)
{
	char err[500];
	double timeout = 0;
	int64_t retries = -1;
	if (msg_has(m, "timeout") && (msg_get_num(m, "timeout", &timeout) || !(timeout >= 0 && timeout <= 4e9))) {
		call_error(c, "bad_request", "type_add: \"timeout\" must be a number of seconds");
		return;
	}
	if (msg_has(m, "retries") && (msg_get_int(m, "retries", &retries) || retries < 0 || retries > 10000)) {
		call_error(c, "bad_request", "type_add: \"retries\" must be an integer from 0 to 10000");
		return;
	}
	const char *wt = msg_get_str(m, "worker_type"), *url = msg_get_str(m, "endpoint");
	if (wt && url) {
		call_error(c, "bad_request", "type_add: give \"worker_type\" or \"endpoint\", not both");
		return;
	}
	msg *schema = msg_get(m, "schema");
	if (schema && !msg_is_object(schema)) {
		call_error(c, "bad_request", "type_add: \"schema\" must be a JSON Schema object");
		return;
	}
	if (types_put_job(c->m, msg_get_str(m, "name"), wt, url, schema, timeout, (int)retries, err, sizeof err)) {
		call_error(c, "bad_request", "%s", err);
		return;
	}
	msg *r = call_new_reply(c, "type");
	msg_add(r, "type", types_job_msg(types_job(c->m, msg_get_str(m, "name"))));
	call_reply(c, r);
}

void types_on_type_del(struct call *c, msg *m)
{
	char err[300];
	const char *name = msg_get_str(m, "name");
	int rc = types_del_job(c->m, name, err, sizeof err);
	if (rc < 0)
		call_error(c, "internal", "type_del: %s", err);
	else if (rc == 0)
		call_error(c, "not_found", "no job type \"%.70s\" (mtslurm types lists them)", name ? name : "");
	else
		call_reply(c, call_new_reply(c, "deleted"));
}

void types_on_types(struct call *c, msg *m)
{
	(void)m;
	msg *r = call_new_reply(c, "types"), *a = msg_new_array();
	for (size_t i = 0; i < types_njobs(c->m); i++) {
		struct jobtype *t = types_job_at(c->m, i);
		msg *o = types_job_msg(t);
		msg_set_int(o, "queued", (int64_t)sched_pool_queued(&c->m->sched, t->pool));
		msg_set_int(o, "workers", sched_pool_workers(&c->m->sched, t->pool));
		msg_push(a, o);
	}
	msg_add(r, "types", a);
	call_reply(c, r);
}

void types_on_wtype_add(struct call *c, msg *m)
{
	char err[500];
	const char *name = msg_get_str(m, "name");
	if (types_put_worker(c->m, name, msg_get_str(m, "executor"), msg_get(m, "params"), err, sizeof err)) {
		call_error(c, "bad_request", "%s", err);
		return;
	}
	msg *r = call_new_reply(c, "wtype");
	msg_add(r, "wtype", types_worker_msg(types_worker(c->m, name)));
	call_reply(c, r);
}

void types_on_wtype_del(struct call *c, msg *m)
{
	char err[300];
	const char *name = msg_get_str(m, "name");
	int rc = types_del_worker(c->m, name, err, sizeof err);
	if (rc < 0)
		call_error(c, "internal", "wtype_del: %s", err);
	else if (rc == 0)
		call_error(c, "not_found", "no worker type \"%.70s\" (mtslurm worker-types lists them)", name ? name : "");
	else
		call_reply(c, call_new_reply(c, "deleted"));
}

void types_on_wtypes(struct call *c, msg *m)
{
	(void)m;
	msg *r = call_new_reply(c, "wtypes"), *a = msg_new_array();
	for (size_t i = 0; i < types_nworkers(c->m); i++)
		msg_push(a, types_worker_msg(types_worker_at(c->m, i)));
	msg_add(r, "wtypes", a);
	call_reply(c, r);
}
