/* SPDX-License-Identifier: MIT */
/*
 * gitres: a submit's branches resolved to commits off the loop -- see
 * gitres.h. A held request keeps a copy of its call (the outbox its reply
 * goes to, the client it acts for, held by a reference) and of its
 * message; the distinct (URL, ref) pairs it names are listed on one pool
 * thread, one remote listing each, so a batch or an array naming one
 * branch is resolved once.
 */
#include "gitres.h"
#include "master.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gitcache.h"
#include "log.h"

/* Listings on the thread pool at once: the store's syncs and checkpoints
 * use the same pool (4 threads unless UV_THREADPOOL_SIZE says otherwise),
 * and a listing may wait for the network; the other held submits queue. */
#define GITRES_POOL_MAX 2

struct gitres_ref {
	char *url, *ref; /* ref NULL: HEAD, the repository's default branch */
	char commit[GITCACHE_COMMIT_HEX + 1];
	char err[GITCACHE_ERR_MAX];
	int rc;
};

struct gitres_hold {
	uv_work_t work;
	struct master *m;
	struct call call; /* call.out NULL once its owner is gone */
	msg *req;         /* the request (a copy) */
	enum gitres_shape shape;
	call_fn again;
	const char *code;
	struct gitres_ref *refs;
	size_t nrefs, cap;
	int started; /* on the thread pool */
	struct gitres_hold *next;
};

/* Called for each git object g naming url and ref (NULL: HEAD) without a
 * commit; nonzero stops the walk. */
typedef int (*site_fn)(void *arg, msg *g, const char *url, const char *ref);

/* g a git object whose repository is under urlkey: fn if it lacks a
 * commit. A "commit" that is not a string is left to the validators. */
static int site(msg *g, const char *urlkey, site_fn fn, void *arg)
{
	if (!msg_is_object(g))
		return 0;
	const char *url = msg_get_str(g, urlkey), *ref = msg_get_str(g, "branch");
	const msg *c = msg_get(g, "commit");
	if (!url || !*url || (c && !msg_is_null(c) && (!msg_is_str(c) || *msg_str(c))))
		return 0;
	return fn(arg, g, url, ref && *ref ? ref : NULL);
}

/* A job object (or the defaults): its "git" option, and, for a typed job
 * (typed: its defaults name a job type), a run-script payload's
 * environment.git in its input (a func job's JSON input is left alone). */
static int job_sites(msg *o, int typed, site_fn fn, void *arg)
{
	if (!msg_is_object(o))
		return 0;
	msg *in = msg_get(o, "input");
	typed = typed || msg_get_str(o, "jobtype");
	return site(msg_get(o, "git"), "url", fn, arg) ||
	       (typed && msg_is_object(in) && site(msg_get(msg_get(in, "environment"), "git"), "repo_url", fn, arg));
}

static int walk(msg *m, enum gitres_shape shape, site_fn fn, void *arg)
{
	if (shape == GITRES_JOB)
		return site(msg_get(msg_get(msg_get(m, "payload"), "environment"), "git"), "repo_url", fn, arg);
	msg *dflt = msg_get(m, "defaults"), *jobs = msg_get(m, "jobs");
	int typed = msg_is_object(dflt) && msg_get_str(dflt, "jobtype");
	if (job_sites(dflt, 0, fn, arg))
		return 1;
	for (msg *o = msg_is_array(jobs) ? msg_child(jobs) : NULL; o; o = msg_next(o))
		if (job_sites(o, typed, fn, arg))
			return 1;
	return 0;
}

static int found(void *arg, msg *g, const char *url, const char *ref)
{
	(void)arg, (void)g, (void)url, (void)ref;
	return 1;
}

static struct gitres_ref *ref_find(struct gitres_hold *h, const char *url, const char *ref)
{
	for (size_t i = 0; i < h->nrefs; i++) {
		struct gitres_ref *r = &h->refs[i];
		if (!strcmp(r->url, url) && (r->ref ? ref && !strcmp(r->ref, ref) : !ref))
			return r;
	}
	return NULL;
}

/* Collect the distinct (url, ref) pairs; nonzero: out of memory. */
static int collect(void *arg, msg *g, const char *url, const char *ref)
{
	struct gitres_hold *h = arg;
	(void)g;
	if (ref_find(h, url, ref))
		return 0;
	if (h->nrefs == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 4;
		struct gitres_ref *v = realloc(h->refs, cap * sizeof *v);
		if (!v)
			return 1;
		h->refs = v;
		h->cap = cap;
	}
	struct gitres_ref *r = &h->refs[h->nrefs];
	memset(r, 0, sizeof *r);
	r->url = strdup(url);
	r->ref = ref ? strdup(ref) : NULL;
	if (!r->url || (ref && !r->ref)) {
		free(r->url);
		free(r->ref);
		return 1;
	}
	h->nrefs++;
	return 0;
}

/* Write each resolved commit into its git objects; stops at the first ref
 * that failed (its reason becomes the answer). */
struct apply {
	struct gitres_hold *h;
	const struct gitres_ref *failed;
	int oom;
};

static int apply(void *arg, msg *g, const char *url, const char *ref)
{
	struct apply *a = arg;
	struct gitres_ref *r = ref_find(a->h, url, ref);
	if (!r || r->rc < 0)
		return a->failed = r, a->oom = !r, 1;
	return a->oom = msg_set_str(g, "commit", r->commit) != 0;
}

static void hold_free(struct gitres_hold *h)
{
	for (size_t i = 0; i < h->nrefs; i++) {
		free(h->refs[i].url);
		free(h->refs[i].ref);
	}
	free(h->refs);
	msg_free(h->req);
	free(h);
}

static void on_work(uv_work_t *w)
{
	struct gitres_hold *h = w->data;
	for (size_t i = 0; i < h->nrefs; i++) {
		struct gitres_ref *r = &h->refs[i];
		r->rc = gitcache_resolve(r->url, r->ref, r->commit, r->err, sizeof r->err);
	}
}

/* The request's connection is read again (unless backpressure holds it). */
static void unhold_peer(struct gitres_hold *h)
{
	struct peer *p = h->call.peer;
	if (!p)
		return;
	p->git_held = 0;
	if (!p->paused && p->conn)
		conn_resume(p->conn);
}

static void on_after_work(uv_work_t *w, int status);

/* Start held requests, oldest first, while fewer than GITRES_POOL_MAX run;
 * one that cannot start is answered busy. */
static void start_some(struct master *m)
{
	size_t running = 0;
	for (struct gitres_hold *h = m->gitres; h; h = h->next)
		running += (size_t)h->started;
	for (struct gitres_hold *h = m->gitres, *next; h && running < GITRES_POOL_MAX; h = next) {
		next = h->next; /* the list is oldest first */
		if (h->started)
			continue;
		h->started = 1;
		running++;
		if (uv_queue_work(m->loop, &h->work, on_work, on_after_work) < 0) {
			on_after_work(&h->work, UV_ECANCELED); /* answers it, frees it, starts the next */
			return;
		}
	}
}

static void on_after_work(uv_work_t *w, int status)
{
	struct gitres_hold *h = w->data;
	struct master *m = h->m;
	for (struct gitres_hold **pp = &m->gitres; *pp; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	if (h->call.out && !m->stopped) {
		struct apply a = {h, NULL, 0};
		if (status < 0) {
			call_error(&h->call, "busy", "git: resolving the branches was cancelled; submit again");
		} else if (walk(h->req, h->shape, apply, &a) && (a.failed || a.oom)) {
			if (a.failed)
				call_error(&h->call, h->code, "git: %s", a.failed->err);
			else
				call_error(&h->call, "busy", "git: out of memory; submit again");
		} else {
			for (size_t i = 0; i < h->nrefs; i++)
				log_info("git: %s %s is commit %s (resolved at submit)", h->refs[i].url,
					 h->refs[i].ref ? h->refs[i].ref : "HEAD", h->refs[i].commit);
			h->m->gitres_again = 1; /* handled now, never held twice */
			h->again(&h->call, h->req);
			h->m->gitres_again = 0;
		}
		unhold_peer(h);
	}
	if (h->call.client) {
		h->call.client->holds--;
		clients_maybe_free(h->call.client);
	}
	hold_free(h);
	master_touch(m); /* the turn commits and answers it */
	start_some(m);
}

int gitres_hold(struct call *c, msg *m, enum gitres_shape shape, call_fn again, const char *code)
{
	if (c->m->gitres_again || !walk(m, shape, found, NULL))
		return 0;
	struct gitres_hold *h = calloc(1, sizeof *h);
	if (!h || !(h->req = msg_dup(m)) || walk(h->req, shape, collect, h)) {
		if (h)
			hold_free(h);
		call_error(c, "busy", "git: out of memory resolving the branches; submit again");
		return 1;
	}
	h->m = c->m;
	h->call = *c;
	h->shape = shape;
	h->again = again;
	h->code = code;
	h->work.data = h;
	if (h->call.client)
		h->call.client->holds++;
	if (c->peer && c->peer->conn) {
		/* its later frames wait for this one's answer: order is kept */
		c->peer->git_held = 1;
		conn_pause(c->peer->conn);
	}
	struct gitres_hold **pp = &c->m->gitres;
	while (*pp)
		pp = &(*pp)->next;
	*pp = h; /* oldest first: they start in the order they came */
	start_some(c->m);
	return 1;
}

void gitres_forget_outbox(struct master *m, const struct outbox *out)
{
	for (struct gitres_hold *h = m->gitres; h; h = h->next)
		if (h->call.out == out) {
			h->call.out = NULL;
			h->call.peer = NULL;
		}
}

size_t gitres_pending(const struct master *m)
{
	size_t n = 0;
	for (const struct gitres_hold *h = m->gitres; h; h = h->next)
		n++;
	return n;
}
