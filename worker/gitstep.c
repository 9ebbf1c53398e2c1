/* SPDX-License-Identifier: MIT */
/*
 * gitstep: checkouts for a worker's jobs, off its loop -- see gitstep.h.
 * Two lists: requests on the thread pool (each with the waits that joined
 * it) and held checkouts (each with its reference count). A request is
 * named by url, commit (or "ref:" + branch) and setup; a checkout by url,
 * commit and setup, so a branch resolved at run time still lands on the
 * checkout of its commit.
 */
#include "gitstep.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gitcache.h"
#include "log.h"
#include "util.h"

struct gitstep_ent {
	struct gitstep *g;
	char *name; /* url \n commit \n setup */
	char tree[4096];
	char commit[GITCACHE_COMMIT_HEX + 1];
	int hold_fd;
	unsigned refs;
	uint64_t idle_since; /* uv_now when refs went to 0 */
	struct gitstep_ent *next;
};

struct gitstep_wait {
	struct greq *q; /* NULL once called back or cancelled */
	gitstep_cb cb;
	void *a, *b;
	struct gitstep_wait *next;
};

struct greq {
	uv_work_t work;
	struct gitstep *g;
	char *name;
	struct gitstep_spec spec;
	struct gitcache_req cq;
	struct gitcache_res res;
	struct gitstep_wait *waits;
	struct greq *next;
};

struct gitstep {
	uv_loop_t *loop;
	char *root;
	uint64_t max_bytes;
	double stale_s, setup_timeout_s;
	struct greq *reqs;
	struct gitstep_ent *ents;
	uv_timer_t linger;
	int closing;
	int timer_closed;
	uint64_t nreqs;
	void (*close_cb)(void *);
	void *close_arg;
};

/* ---- specs ---- */

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

void gitstep_spec_free(struct gitstep_spec *s)
{
	free(s->url);
	free(s->commit);
	free(s->ref);
	free(s->setup);
	free(s->workdir);
	memset(s, 0, sizeof *s);
}

/* Fill s from the strings of one object; checks what a job can get wrong. */
static int spec_fill(struct gitstep_spec *s, const char *url, const char *commit, const char *ref,
		     const char *setup, const char *workdir, char *err, size_t n)
{
	memset(s, 0, sizeof *s);
	if (!url || !*url)
		return snprintf(err, n, "git: no repository URL"), -1;
	if (commit && *commit && !gitcache_is_commit(commit))
		return snprintf(err, n, "git: commit '%.60s' is not a full commit id (40 hexadecimal digits)", commit),
		       -1;
	if (workdir && (workdir[0] == '/' || strstr(workdir, "..")))
		return snprintf(err, n, "git: the working directory '%.200s' must be a path inside the checkout", workdir),
		       -1;
	s->url = strdup(url);
	s->commit = dup_or_null(commit); /* the commit wins over the branch */
	s->ref = s->commit ? NULL : dup_or_null(ref);
	s->setup = dup_or_null(setup);
	s->workdir = dup_or_null(workdir);
	if (!s->url || (commit && *commit && !s->commit) || (!s->commit && ref && *ref && !s->ref) ||
	    (setup && *setup && !s->setup) || (workdir && *workdir && !s->workdir)) {
		gitstep_spec_free(s);
		return snprintf(err, n, "out of memory"), -1;
	}
	return 0;
}

static const char *str_or_null(const msg *o, const char *k, int *bad)
{
	const msg *v = msg_get(o, k);
	if (v && !msg_is_null(v) && !msg_is_str(v))
		*bad = 1;
	return msg_str(v);
}

int gitstep_spec_from_opts(struct gitstep_spec *s, const char *opts_json, char *err, size_t n)
{
	memset(s, 0, sizeof *s);
	if (!opts_json || !strstr(opts_json, "\"git\""))
		return 0;
	char perr[80];
	msg *o = msg_parse(opts_json, strlen(opts_json), perr, sizeof perr);
	const msg *g = msg_get(o, "git");
	int rc = 0, bad = 0;
	if (g) {
		const char *url = str_or_null(g, "url", &bad), *commit = str_or_null(g, "commit", &bad),
			   *ref = str_or_null(g, "branch", &bad), *setup = str_or_null(g, "setup", &bad),
			   *wd = str_or_null(g, "workdir", &bad);
		rc = !msg_is_object(g) || bad ? (snprintf(err, n, "git: the option must be an object of strings"), -1)
					      : spec_fill(s, url, commit, ref, setup, wd, err, n);
		rc = rc < 0 ? -1 : 1;
	}
	msg_free(o);
	return rc;
}

int gitstep_spec_from_env(struct gitstep_spec *s, const msg *g, char *err, size_t n)
{
	int bad = 0;
	memset(s, 0, sizeof *s);
	if (!msg_is_object(g))
		return snprintf(err, n, "run-script: \"git\" must be an object {\"repo_url\", \"branch\", \"commit\", "
			       "\"working_dir\", \"setup\"}"), -1;
	const char *url = str_or_null(g, "repo_url", &bad), *commit = str_or_null(g, "commit", &bad),
		   *ref = str_or_null(g, "branch", &bad), *setup = str_or_null(g, "setup", &bad),
		   *wd = str_or_null(g, "working_dir", &bad);
	if (bad)
		return snprintf(err, n, "run-script: the fields of \"git\" must be strings"), -1;
	return spec_fill(s, url, commit, ref, setup, wd, err, n);
}

/* ---- names ---- */

static char *req_name(const struct gitstep_spec *s)
{
	size_t n = strlen(s->url) + (s->commit ? strlen(s->commit) : 4 + (s->ref ? strlen(s->ref) : 0)) +
		   (s->setup ? strlen(s->setup) : 0) + 4;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s\n%s%s\n%s", s->url, s->commit ? "" : "ref:", s->commit ? s->commit : s->ref ? s->ref : "",
			 s->setup ? s->setup : "");
	return p;
}

static char *ent_name(const char *url, const char *commit, const char *setup)
{
	size_t n = strlen(url) + strlen(commit) + (setup ? strlen(setup) : 0) + 3;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s\n%s\n%s", url, commit, setup ? setup : "");
	return p;
}

/* ---- the context ---- */

static void on_linger(uv_timer_t *t);

struct gitstep *gitstep_new(const struct gitstep_opts *o, char *err, size_t errlen)
{
	struct gitstep *g = calloc(1, sizeof *g);
	if (!g || !(g->root = strdup(o->root))) {
		free(g);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	gitcache_global_init();
	g->loop = o->loop;
	g->max_bytes = o->max_bytes ? o->max_bytes : GITCACHE_MAX_BYTES_DEFAULT;
	g->stale_s = o->stale_s;
	g->setup_timeout_s = o->setup_timeout_s;
	uv_timer_init(o->loop, &g->linger);
	g->linger.data = g;
	uv_unref((uv_handle_t *)&g->linger); /* a held checkout keeps no loop alive */
	return g;
}

static struct gitstep_ent *ent_find(struct gitstep *g, const char *name)
{
	for (struct gitstep_ent *e = g->ents; e; e = e->next)
		if (!strcmp(e->name, name))
			return e;
	return NULL;
}

static void ent_unlink_free(struct gitstep_ent *e)
{
	struct gitstep *g = e->g;
	for (struct gitstep_ent **pp = &g->ents; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	gitcache_release(e->hold_fd);
	free(e->name);
	free(e);
}

/* Release the checkouts idle for GITSTEP_LINGER_MS. */
static void on_linger(uv_timer_t *t)
{
	struct gitstep *g = t->data;
	uint64_t now = uv_now(g->loop);
	int idle_left = 0;
	for (struct gitstep_ent *e = g->ents, *next; e; e = next) {
		next = e->next;
		if (e->refs)
			continue;
		if (now - e->idle_since >= GITSTEP_LINGER_MS)
			ent_unlink_free(e);
		else
			idle_left = 1;
	}
	if (!idle_left)
		uv_timer_stop(t);
}

void gitstep_put(struct gitstep_ent *e)
{
	if (!e || --e->refs)
		return;
	struct gitstep *g = e->g;
	e->idle_since = uv_now(g->loop);
	if (g->closing) {
		ent_unlink_free(e);
		return;
	}
	if (!uv_is_active((uv_handle_t *)&g->linger))
		uv_timer_start(&g->linger, on_linger, GITSTEP_LINGER_MS / 2, GITSTEP_LINGER_MS / 2);
}

uint64_t gitstep_requests(const struct gitstep *g)
{
	return g->nreqs;
}

const char *gitstep_tree(const struct gitstep_ent *e)
{
	return e->tree;
}

const char *gitstep_commit(const struct gitstep_ent *e)
{
	return e->commit;
}

char *gitstep_dir(const struct gitstep_ent *e, const char *workdir, char *err, size_t errlen)
{
	char path[PATH_MAX + 8];
	if (!workdir || !*workdir)
		return strdup(e->tree);
	if ((size_t)snprintf(path, sizeof path, "%s/%s", e->tree, workdir) >= sizeof path)
		return snprintf(err, errlen, "git: the working directory's path is too long"), NULL;
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "git: the working directory '%.200s' does not exist in commit %.12s of %.300s",
			 workdir, e->commit, e->tree);
		return NULL;
	}
	return strdup(path);
}

/* ---- requests ---- */

static void on_work(uv_work_t *w)
{
	struct greq *q = w->data;
	gitcache_ensure(&q->cq, &q->res);
}

static void maybe_closed(struct gitstep *g);

static void on_after_work(uv_work_t *w, int status)
{
	struct greq *q = w->data;
	struct gitstep *g = q->g;
	for (struct greq **pp = &g->reqs; *pp; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	struct gitstep_ent *e = NULL;
	const char *why = status < 0 ? "cancelled" : q->res.err;
	if (status == 0 && q->res.hold_fd >= 0) {
		char *name = ent_name(q->spec.url, q->res.commit, q->spec.setup);
		e = name ? ent_find(g, name) : NULL;
		if (e) {
			gitcache_release(q->res.hold_fd); /* held already (a branch and its commit) */
			free(name);
		} else if (name && (e = calloc(1, sizeof *e)) != NULL) {
			e->g = g;
			e->name = name;
			e->hold_fd = q->res.hold_fd;
			util_strlcpy(e->tree, q->res.tree, sizeof e->tree);
			util_strlcpy(e->commit, q->res.commit, sizeof e->commit);
			e->next = g->ents;
			g->ents = e;
		} else {
			free(name);
			gitcache_release(q->res.hold_fd);
			why = "out of memory";
		}
		if (q->res.checked_out)
			log_info("git: checked out %s at %s in %s", q->spec.url, q->res.commit, q->res.tree);
	}
	/* the request holds a reference while it calls back (a callback may
	 * cancel a later wait of this list: that one gets none); each wait
	 * called back gets its own, the last put starts the linger */
	if (e)
		e->refs++;
	for (struct gitstep_wait *x = q->waits, *next; x; x = next) {
		next = x->next;
		if (x->q && !g->closing) {
			if (e)
				e->refs++;
			x->cb(x->a, x->b, e, e ? NULL : why);
		}
		free(x);
	}
	if (e)
		gitstep_put(e); /* the request's own */
	gitstep_spec_free(&q->spec);
	free(q->name);
	free(q);
	maybe_closed(g);
}

static int spec_copy(struct gitstep_spec *d, const struct gitstep_spec *s)
{
	char err[8];
	return spec_fill(d, s->url, s->commit, s->ref, s->setup, s->workdir, err, sizeof err);
}

struct gitstep_wait *gitstep_get(struct gitstep *g, const struct gitstep_spec *s, gitstep_cb cb, void *a,
				 void *b, struct gitstep_ent **ready)
{
	*ready = NULL;
	if (s->commit) {
		char *name = ent_name(s->url, s->commit, s->setup);
		struct gitstep_ent *e = name ? ent_find(g, name) : NULL;
		free(name);
		if (e) {
			e->refs++;
			*ready = e;
			return NULL;
		}
	}
	char *rname = req_name(s);
	struct gitstep_wait *w = calloc(1, sizeof *w);
	if (!rname || !w) {
		free(rname);
		free(w);
		return NULL;
	}
	struct greq *q = g->reqs;
	while (q && strcmp(q->name, rname))
		q = q->next;
	if (q) {
		free(rname);
	} else {
		q = calloc(1, sizeof *q);
		if (!q || spec_copy(&q->spec, s) < 0) {
			free(q);
			free(rname);
			free(w);
			return NULL;
		}
		q->g = g;
		q->name = rname;
		q->work.data = q;
		q->cq = (struct gitcache_req){g->root, q->spec.url, q->spec.commit, q->spec.ref, q->spec.setup,
					      g->max_bytes, g->stale_s, g->setup_timeout_s};
		q->next = g->reqs;
		g->reqs = q;
		g->nreqs++;
		uv_queue_work(g->loop, &q->work, on_work, on_after_work);
	}
	w->q = q;
	w->cb = cb;
	w->a = a;
	w->b = b;
	w->next = q->waits;
	q->waits = w;
	return w;
}

void gitstep_cancel(struct gitstep_wait *w)
{
	if (w)
		w->q = NULL; /* freed with its request */
}

/* ---- closing ---- */

static void on_linger_closed(uv_handle_t *h)
{
	struct gitstep *g = h->data;
	g->timer_closed = 1;
	maybe_closed(g);
}

static void maybe_closed(struct gitstep *g)
{
	if (!g->closing || g->reqs || !g->timer_closed)
		return;
	while (g->ents)
		ent_unlink_free(g->ents);
	void (*cb)(void *) = g->close_cb;
	void *arg = g->close_arg;
	free(g->root);
	free(g);
	if (cb)
		cb(arg);
}

void gitstep_close(struct gitstep *g, void (*cb)(void *arg), void *arg)
{
	if (!g) {
		if (cb)
			cb(arg);
		return;
	}
	g->closing = 1;
	g->close_cb = cb;
	g->close_arg = arg;
	for (struct greq *q = g->reqs; q; q = q->next)
		uv_cancel((uv_req_t *)&q->work); /* one not started yet ends now */
	for (struct gitstep_ent *e = g->ents, *next; e; e = next) {
		next = e->next;
		if (!e->refs)
			ent_unlink_free(e);
	}
	uv_timer_stop(&g->linger);
	uv_close((uv_handle_t *)&g->linger, on_linger_closed);
}
