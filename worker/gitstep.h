/* SPDX-License-Identifier: MIT */
/*
 * gitstep: the git step of a worker's jobs -- the checkout a job runs in,
 * from the shared cache (gitcache.h), without blocking the worker's loop.
 * gitcache_ensure runs on libuv's thread pool; every job that asks for the
 * same checkout while it is being made waits on that one request; a ready
 * checkout is kept held (gitcache's shared lock, so `mtslurm git gc` and
 * the size cap leave it alone) while jobs use it and GITSTEP_LINGER_MS
 * after the last one, so a stream of jobs on one commit costs one lookup,
 * not one per job.
 *
 * A job names its checkout in its options ("git":{"url","commit","branch",
 * "workdir","setup"}, docs/protocol.md) or, for run-script, in mindtrace's
 * environment ({"repo_url","branch","commit","working_dir","setup"}); the
 * commit wins over the branch when both are given.
 *
 * Not thread-safe: one gitstep per loop, used on the loop's thread.
 */
#ifndef MTS_GITSTEP_H
#define MTS_GITSTEP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "msg.h"

#define GITSTEP_LINGER_MS 30000 /* a checkout no job uses is held this long */

struct gitstep;
struct gitstep_ent;  /* a ready checkout this worker holds */
struct gitstep_wait; /* one caller waiting for a checkout */

struct gitstep_opts {
	uv_loop_t *loop;
	const char *root;   /* RUN_DIR/git (copied) */
	uint64_t max_bytes; /* the cache's size cap; 0: GITCACHE_MAX_BYTES_DEFAULT */
	double stale_s;     /* lock bound; 0: gitcache's default */
	double setup_timeout_s; /* a setup command's bound (MTSLURM_GIT_SETUP_TIMEOUT);
				 * 0: gitcache's default */
};

/* What a job asks for; strings owned by the spec (gitstep_spec_free). */
struct gitstep_spec {
	char *url, *commit, *ref, *setup, *workdir;
};

/* The job options' "git" member into s. 1 with s filled, 0 if opts_json
 * (may be NULL) has none, -1 with err if it is malformed. */
int gitstep_spec_from_opts(struct gitstep_spec *s, const char *opts_json, char *err, size_t errlen);

/* mindtrace's run-script environment "git" object into s. 0, or -1 with err. */
int gitstep_spec_from_env(struct gitstep_spec *s, const msg *git, char *err, size_t errlen);
void gitstep_spec_free(struct gitstep_spec *s);

/* Called once per gitstep_get that returned a wait (unless cancelled),
 * with the two arguments given to it: e is a reference to the ready
 * checkout (gitstep_put it when done), or NULL with why (libgit2's reason,
 * or the setup command's output). */
typedef void (*gitstep_cb)(void *a, void *b, struct gitstep_ent *e, const char *why);

struct gitstep *gitstep_new(const struct gitstep_opts *o, char *err, size_t errlen);

/* Ask for s's checkout. If it is held already, *ready gets a reference
 * and NULL is returned (no callback). Otherwise returns a wait whose cb
 * follows from the loop later; NULL with *ready NULL on OOM. */
struct gitstep_wait *gitstep_get(struct gitstep *g, const struct gitstep_spec *s, gitstep_cb cb, void *a,
				 void *b, struct gitstep_ent **ready);

/* Forget a wait: its callback is not called. */
void gitstep_cancel(struct gitstep_wait *w);

/* The checkout's directory and commit; borrowed while the reference is held. */
const char *gitstep_tree(const struct gitstep_ent *e);
const char *gitstep_commit(const struct gitstep_ent *e);

/* The directory a job runs in: the tree, or workdir below it (which must
 * exist and stay inside it). A new string (free()), or NULL with err. */
char *gitstep_dir(const struct gitstep_ent *e, const char *workdir, char *err, size_t errlen);

/* Requests sent to the thread pool so far (one per checkout being made
 * or looked up, however many jobs waited for it). */
uint64_t gitstep_requests(const struct gitstep *g);

/* Drop a reference (NULL: no-op). */
void gitstep_put(struct gitstep_ent *e);

/* Close: waits for the requests running on the thread pool, releases
 * every hold, then frees g and calls cb(arg). Waits not yet called back
 * are forgotten. */
void gitstep_close(struct gitstep *g, void (*cb)(void *arg), void *arg);

#endif
