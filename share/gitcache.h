/* SPDX-License-Identifier: MIT */
/*
 * gitcache: git checkouts through libgit2, shared by every worker of a
 * cluster on the run directory's (shared) filesystem. One bare clone per
 * repository URL and one checkout per (URL, commit, setup command), each
 * made once per cluster whatever the number of jobs and workers:
 *
 *   ROOT/repos/U.git    bare clone of the URL whose hash is U
 *   ROOT/repos/U.lock   held while it is cloned or fetched
 *   ROOT/trees/K/       the commit's files (no .git), K = COMMIT12-HASH16
 *   ROOT/trees/K.lock   held while it is checked out and set up
 *   ROOT/trees/K.meta   written last: its presence means K is ready; it
 *                       records url, commit, setup and bytes; the mtime
 *                       of K.use is its last use (least recently used goes first)
 *   ROOT/trees/K.use    users hold a shared OFD lock on it; removal takes
 *                       an exclusive one (so nothing in use is removed)
 *   ROOT/log            one line per clone, fetch, checkout, setup, removal
 *
 * Locks are files made with O_EXCL (they work across nodes on NFS),
 * holding "host pid nonce". A lock is stale when its holder ran on this host
 * and is gone, or when it was not refreshed for stale_s seconds (a holder
 * refreshes it while it clones, fetches and runs the setup command); a
 * stale lock is broken under a second O_EXCL file, so two waiters cannot
 * both break it and then both take it.
 *
 * Everything here blocks (network, disk, a setup command): call it from a
 * thread, never from an event loop (gitstep.h does that for the worker).
 * Thread-safe for distinct requests. Errors: -1 with a one-line reason,
 * libgit2's own message included. Links libgit2; libmtslurm.so never
 * references this module.
 */
#ifndef MTS_GITCACHE_H
#define MTS_GITCACHE_H

#include <stddef.h>
#include <stdint.h>

#define GITCACHE_COMMIT_HEX 40
#define GITCACHE_KEY_MAX 64
#define GITCACHE_ERR_MAX 2048
#define GITCACHE_STALE_S_DEFAULT 300.0        /* a lock not refreshed this long is stale */
#define GITCACHE_MAX_BYTES_DEFAULT (20ull << 30) /* cache size cap */
#define GITCACHE_SETUP_TAIL 1500              /* bytes of a failed setup's output quoted */
#define GITCACHE_SETUP_TIMEOUT_S_DEFAULT 3600.0 /* a setup command running longer is killed */
#define GITCACHE_SETUP_KILL_GRACE_S 2.0       /* from its SIGTERM to its SIGKILL */

/* Initialise libgit2 once per process (idempotent, thread-safe). */
void gitcache_global_init(void);

/* A size such as 500M, 20G, 1048576 (suffixes K M G T, powers of 1024)
 * into *out. 0, or -1 if it is not one. */
int gitcache_parse_bytes(const char *s, uint64_t *out);

/* 1 if s is a full commit id: 40 hexadecimal digits. */
int gitcache_is_commit(const char *s);

/* The commit ref (a branch, a tag, HEAD, or refs/...) names in the
 * repository at url now (libgit2's remote ls: no clone). 0, or -1 with why
 * in err ("branch 'x' not found in URL", libgit2's message for an
 * unreachable repository). */
int gitcache_resolve(const char *url, const char *ref, char commit[GITCACHE_COMMIT_HEX + 1], char *err,
		     size_t errlen);

/* The checkout key of (url, commit, setup): COMMIT12-HASH16. */
void gitcache_key(char out[GITCACHE_KEY_MAX], const char *url, const char *commit, const char *setup);

struct gitcache_req {
	const char *root;   /* RUN_DIR/git */
	const char *url;
	const char *commit; /* 40 hex; NULL: resolve ref now */
	const char *ref;    /* when commit is NULL */
	const char *setup;  /* shell command run once in the new checkout, or NULL */
	uint64_t max_bytes; /* cache cap (0: none); after a new checkout, least
			     * recently used unused ones go until it fits */
	double stale_s;     /* lock bound; <= 0: GITCACHE_STALE_S_DEFAULT */
	double setup_timeout_s; /* the setup command's bound: past it its process
				 * group is killed (SIGTERM, then SIGKILL after
				 * GITCACHE_SETUP_KILL_GRACE_S) and the checkout
				 * fails, lock released, so the next request makes
				 * it anew; <= 0: GITCACHE_SETUP_TIMEOUT_S_DEFAULT */
};

struct gitcache_res {
	char tree[4096];                    /* the checkout's directory */
	char key[GITCACHE_KEY_MAX];
	char commit[GITCACHE_COMMIT_HEX + 1];
	int hold_fd;      /* shared lock on K.use: keep it while the tree is used,
			   * then gitcache_release(); -1 on failure */
	int cloned;       /* this call cloned the repository */
	int fetched;      /* this call fetched into an existing clone */
	int checked_out;  /* this call made the checkout */
	char err[GITCACHE_ERR_MAX];
};

/* Make (or find) the checkout of req and hold it: the result's tree exists,
 * set up, until gitcache_release(res->hold_fd). Waits for another
 * process's lock as long as its holder lives and refreshes it. 0, or -1
 * with res->err. */
int gitcache_ensure(const struct gitcache_req *req, struct gitcache_res *res);

/* Drop a hold (close the fd; -1 is a no-op). */
void gitcache_release(int hold_fd);

/* One checkout gitcache_gc removed (or, with keep_key, kept). */
struct gitcache_gone {
	const char *key, *url, *commit;
	uint64_t bytes;
};

/* Remove checkouts nobody holds, least recently used first, until the
 * cache is at most max_bytes (0: remove every unused one), never keep_key
 * (NULL: none); then the bare clones no checkout needs (0 bytes: all of
 * them that are unused). each (may be NULL) is told of every removal.
 * *freed gets the bytes removed. 0, or -1 with err (a directory that
 * cannot be read). */
int gitcache_gc(const char *root, uint64_t max_bytes, const char *keep_key,
		void (*each)(void *arg, const struct gitcache_gone *g), void *arg, uint64_t *freed, char *err,
		size_t errlen);

/* ---- the cross-node lock (exposed for the unit test) ---- */

/* Take the lock file path: O_EXCL, breaking a stale one (see above).
 * Returns 0 when held, -1 with err on an error other than "held".
 * deadline_s > 0 gives up after that many seconds (-1, err "busy"). */
int gitcache_lock(const char *path, double stale_s, double deadline_s, char *err, size_t errlen);
/* Refresh a lock we hold (its mtime: "still working"). */
void gitcache_lock_touch(const char *path);
void gitcache_unlock(const char *path);

#endif
