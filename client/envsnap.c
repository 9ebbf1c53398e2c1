/* SPDX-License-Identifier: MIT */
/*
 * envsnap: the environment an exec job is submitted with (sbatch's
 * --export: mts_job.export_env), taken from environ at submit time, sorted
 * and named by its SHA-256 (share/jobenv.h), interned per handle and sent
 * to the master once per connection in an `env` frame. Jobs carry only the
 * key: a million jobs submitted from one shell cost one snapshot, in the
 * frames and in the master's store. MPI launcher variables and SLURM_* are
 * never taken from the whole environment: see jobenv.c for why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "util.h"

extern char **environ;

#define ENVSNAP_KEEP 16 /* unused snapshots kept per handle for reuse */
#define ENVSNAP_RESEND_NS (3600ull * 1000000000ull)

struct kv {
	char *s;    /* "K=V", owned */
	size_t nl;  /* length of K */
	size_t idx; /* order added: the later of two equal names wins */
};

struct kvlist {
	struct kv *v;
	size_t n, cap, bytes;
};

static void kvlist_free(struct kvlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].s);
	free(l->v);
}

static int kvlist_add(struct kvlist *l, const char *name, size_t nl, const char *val)
{
	if (util_grow(&l->v, &l->cap, l->n, sizeof *l->v, 64))
		return -1;
	size_t vl = strlen(val);
	char *s = malloc(nl + vl + 2);
	if (!s)
		return -1;
	memcpy(s, name, nl);
	s[nl] = '=';
	memcpy(s + nl + 1, val, vl + 1);
	l->v[l->n] = (struct kv){s, nl, l->n};
	l->n++;
	l->bytes += nl + vl + 2;
	return 0;
}

static int kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	size_t n = x->nl < y->nl ? x->nl : y->nl;
	int c = memcmp(x->s, y->s, n);
	if (c)
		return c;
	if (x->nl != y->nl)
		return x->nl < y->nl ? -1 : 1;
	return x->idx < y->idx ? -1 : 1;
}

/* Sort by name; of equal names keep the one added last. */
static void kvlist_finish(struct kvlist *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof *l->v, kv_cmp);
	size_t k = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (i + 1 < l->n && l->v[i].nl == l->v[i + 1].nl && memcmp(l->v[i].s, l->v[i + 1].s, l->v[i].nl) == 0) {
			l->bytes -= strlen(l->v[i].s) + 1;
			free(l->v[i].s);
			continue;
		}
		l->v[k++] = l->v[i];
	}
	l->n = k;
}

/* One token of a spec: NAME (from environ) or NAME=VALUE. */
static int add_token(struct kvlist *l, const char *t, size_t tl, char *err, size_t errlen)
{
	const char *eq = memchr(t, '=', tl);
	size_t nl = eq ? (size_t)(eq - t) : tl;
	if (nl == 0 || nl > 1024)
		return snprintf(err, errlen, "export_env: \"%.*s\" is not NAME or NAME=VALUE", (int)(tl > 80 ? 80 : tl), t), -1;
	if (eq) {
		char *val = strndup(eq + 1, tl - nl - 1);
		int rc = val ? kvlist_add(l, t, nl, val) : -1;
		free(val);
		return rc ? (snprintf(err, errlen, "out of memory"), -1) : 0;
	}
	char name[1025];
	memcpy(name, t, nl);
	name[nl] = '\0';
	const char *val = getenv(name);
	if (!val)
		return 0; /* as sbatch: a name that is not set is left out */
	return kvlist_add(l, t, nl, val) ? (snprintf(err, errlen, "out of memory"), -1) : 0;
}

/* The variables of spec, sorted, and whether the base is minimal. */
static int build(const char *spec, struct kvlist *l, int *minimal, char *err, size_t errlen)
{
	int all = spec == NULL;
	for (const char *p = spec; p && *p;) {
		size_t tl = strcspn(p, ",");
		if (tl == 3 && strncmp(p, "ALL", 3) == 0)
			all = 1;
		p += tl + (p[tl] == ',');
	}
	if (all) {
		for (char **e = environ; *e; e++) {
			const char *eq = strchr(*e, '=');
			if (!eq || eq == *e || jobenv_launcher_var(*e) || jobenv_slurm_var(*e) ||
			    jobenv_shell_var(*e))
				continue;
			if (kvlist_add(l, *e, (size_t)(eq - *e), eq + 1))
				return snprintf(err, errlen, "out of memory"), -1;
		}
	}
	for (const char *p = spec; p && *p;) {
		size_t tl = strcspn(p, ",");
		int word = (tl == 3 && strncmp(p, "ALL", 3) == 0) || (tl == 4 && strncmp(p, "NONE", 4) == 0);
		if (tl && !word && add_token(l, p, tl, err, errlen))
			return -1;
		p += tl + (p[tl] == ',');
	}
	kvlist_finish(l);
	if (l->bytes > JOBENV_MAX_BYTES)
		return snprintf(err, errlen,
				"the environment to export is %zu bytes, more than %u: export fewer variables "
				"(export_env / --export NAME,...)",
				l->bytes, JOBENV_MAX_BYTES),
		       -1;
	*minimal = !all;
	return 0;
}

static void evict(mts_client *c)
{
	while (c->nenvs > ENVSNAP_KEEP) {
		struct envsnap **pp = NULL, **old = NULL;
		for (pp = &c->envs; *pp; pp = &(*pp)->next)
			if (!(*pp)->refs && (!old || (*pp)->used_ns < (*old)->used_ns))
				old = pp;
		if (!old)
			return;
		struct envsnap *s = *old;
		*old = s->next;
		buf_release(&s->frame);
		free(s);
		c->nenvs--;
	}
}

int envsnap_get(mts_client *c, const char *spec, struct envsnap **out, char *err, size_t errlen)
{
	struct kvlist l = {0};
	int minimal = 0, rc = -1;
	const char **vars = NULL;
	char key[JOBENV_KEY_LEN + 1];
	if (build(spec, &l, &minimal, err, errlen))
		goto out;
	vars = malloc((l.n ? l.n : 1) * sizeof *vars);
	if (!vars) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < l.n; i++)
		vars[i] = l.v[i].s;
	if (jobenv_key(key, minimal, vars, l.n)) {
		snprintf(err, errlen, "cannot compute SHA-256 (libcrypto)");
		goto out;
	}
	pthread_mutex_lock(&c->mu);
	struct envsnap *s = c->envs;
	while (s && strcmp(s->key, key) != 0)
		s = s->next;
	if (!s && (s = calloc(1, sizeof *s)) != NULL) {
		memcpy(s->key, key, sizeof key);
		buf_addf(&s->frame, "{\"t\":\"env\",\"key\":\"%s\",\"base\":\"%s\",\"vars\":[", key,
			 minimal ? "none" : "all");
		for (size_t i = 0; i < l.n; i++) {
			if (i)
				buf_add(&s->frame, ",", 1);
			buf_add_json_str(&s->frame, vars[i], strlen(vars[i]));
		}
		buf_adds(&s->frame, "]}");
		s->next = c->envs;
		c->envs = s;
		c->nenvs++;
	}
	if (s) {
		s->refs++;
		s->used_ns = util_mono_ns();
		evict(c);
		*out = s;
		rc = 0;
	} else {
		snprintf(err, errlen, "out of memory");
	}
	pthread_mutex_unlock(&c->mu);
out:
	free(vars);
	kvlist_free(&l);
	return rc;
}

void envsnap_ref(mts_client *c, struct envsnap *s)
{
	pthread_mutex_lock(&c->mu);
	s->refs++;
	pthread_mutex_unlock(&c->mu);
}

void envsnap_unref(mts_client *c, struct envsnap *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&c->mu);
	s->refs--;
	evict(c);
	pthread_mutex_unlock(&c->mu);
}

void envsnap_req_release_locked(mts_client *c, struct req *r)
{
	for (size_t i = 0; i < r->nenvs; i++)
		r->envs[i]->refs--;
	if (r->nenvs)
		evict(c);
	free(r->envs);
	r->envs = NULL;
	r->nenvs = 0;
}

void envsnap_req_release(mts_client *c, struct req *r)
{
	if (!r->nenvs) {
		free(r->envs);
		r->envs = NULL;
		return;
	}
	pthread_mutex_lock(&c->mu);
	envsnap_req_release_locked(c, r);
	pthread_mutex_unlock(&c->mu);
}

int envsnap_send_for(mts_client *c, const struct req *r)
{
	uint64_t now = r->nenvs ? util_mono_ns() : 0;
	for (size_t i = 0; i < r->nenvs; i++) {
		struct envsnap *s = r->envs[i];
		if (s->conn_gen == c->conn_gen && now - s->sent_ns < ENVSNAP_RESEND_NS)
			continue;
		if (conn_send_json(c->conn, s->frame.p, s->frame.len) != 0)
			return -1;
		s->conn_gen = c->conn_gen;
		s->sent_ns = now;
	}
	return 0;
}

void envsnap_release_all(mts_client *c)
{
	while (c->envs) {
		struct envsnap *s = c->envs;
		c->envs = s->next;
		buf_release(&s->frame);
		free(s);
	}
	c->nenvs = 0;
}
