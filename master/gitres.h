/* SPDX-License-Identifier: MIT */
/*
 * gitres: branch names of submitted jobs resolved to commits by the master,
 * once, at submit -- so that every job of a submit (an array's members
 * too) records one commit and a branch that moves later cannot make them
 * run two versions. A submit naming a git checkout by branch only (a job's
 * or the defaults' "git" option without "commit"; a run-script payload's
 * environment.git without "commit") is held: the branches are listed in
 * their repositories by libgit2 on the libuv thread pool (share/gitcache.h,
 * gitcache_resolve), never on the loop; then the request, its git objects
 * completed with "commit", goes through its handler as if it had been sent
 * so, and is acknowledged after the turn's commit like any other. A ref
 * that does not exist or a repository that cannot be reached refuses the
 * submit with libgit2's reason. While a TCP client's submit is held its
 * connection is not read: its later frames are handled after it, in order.
 */
#ifndef MTS_GITRES_H
#define MTS_GITRES_H

#include "call.h"

struct master;
struct outbox;

/* Where a request's git objects are. */
enum gitres_shape {
	GITRES_SUBMIT, /* a submit message: "jobs":[JOB...], "defaults":JOB */
	GITRES_JOB,    /* a mindtrace Job: "payload" (run-script) */
};

/* If request m of call c names a branch without its commit, hold it: 1, and
 * later again(c', m') with m' = m completed with the commits, or an error
 * reply with code (e.g. "bad_request") naming the ref and libgit2's
 * reason. 0: nothing to resolve, the caller goes on. m stays the caller's. */
int gitres_hold(struct call *c, msg *m, enum gitres_shape shape, call_fn again, const char *code);

/* The owner of out is gone: its held requests are dropped when resolved
 * (never acknowledged, so a client that sends them again loses nothing). */
void gitres_forget_outbox(struct master *m, const struct outbox *out);

/* Held requests (for shutdown and the tests). */
size_t gitres_pending(const struct master *m);

#endif
