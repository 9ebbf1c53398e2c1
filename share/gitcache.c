/* SPDX-License-Identifier: MIT */
/*
 * gitcache: the shared checkout cache -- see gitcache.h. The order of
 * locks is always a tree's lock, then its repository's (never the other
 * way), so two commits of one repository cannot deadlock; a repository's
 * lock is held only while it is cloned or fetched, a tree's while it is
 * checked out and its setup command runs.
 */
#include "gitcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define LOCK_POLL_MS 25
#define BREAK_STALE_S 30.0 /* a ".break" file older than this is itself stale */
#define TOUCH_EVERY_S 5.0  /* refresh a held lock at most this often */

extern char **environ;

static pthread_once_t git_once = PTHREAD_ONCE_INIT;

static void git_init_once(void)
{
	git_libgit2_init();
}

void gitcache_global_init(void)
{
	pthread_once(&git_once, git_init_once);
}

int gitcache_parse_bytes(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || errno || s[0] == '-')
		return -1;
	static const char units[] = "KMGT";
	const char *u = *end ? strchr(units, *end == 'k' ? 'K' : *end) : NULL;
	if (*end && (!u || (end[1] && strcmp(end + 1, "B") && strcmp(end + 1, "iB"))))
		return -1;
	for (int i = u ? (int)(u - units) + 1 : 0; i > 0; i--) {
		if (v > (~0ull >> 10))
			return -1;
		v <<= 10;
	}
	*out = v;
	return 0;
}

int gitcache_is_commit(const char *s)
{
	size_t i = 0;
	for (; s && s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return i == GITCACHE_COMMIT_HEX;
}

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -1;
}

/* libgit2's last error, or a generic one. */
static const char *git_why(void)
{
	const git_error *e = git_error_last();
	return e && e->message ? e->message : "unknown libgit2 error";
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static double now_s(void)
{
	return (double)util_mono_ns() / 1e9;
}

/* ---- keys ---- */

static void sha256_hex(char *out, size_t hexchars, const char *const *parts, size_t nparts)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1) {
		for (size_t i = 0; i < nparts; i++)
			EVP_DigestUpdate(c, parts[i] ? parts[i] : "", parts[i] ? strlen(parts[i]) + 1 : 0);
		EVP_DigestFinal_ex(c, md, &mdlen);
	}
	EVP_MD_CTX_free(c);
	if (mdlen != 32)
		memset(md, 0, sizeof md);
	util_hex(out, md, hexchars / 2);
	out[hexchars] = '\0';
}

static void repo_hash(char out[17], const char *url)
{
	const char *parts[] = {url};
	sha256_hex(out, 16, parts, 1);
}

void gitcache_key(char out[GITCACHE_KEY_MAX], const char *url, const char *commit, const char *setup)
{
	char h[17], c[13];
	const char *parts[] = {url, commit, setup};
	sha256_hex(h, 16, parts, 3);
	snprintf(c, sizeof c, "%.12s", commit);
	for (char *p = c; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	snprintf(out, GITCACHE_KEY_MAX, "%s-%s", c, h);
}

/* ---- the lock ---- */

/* "host pid nonce": who holds a lock. */
static void lock_identity(char *out, size_t n)
{
	char host[256];
	unsigned char nonce[8] = {0};
	char hex[17];
	util_hostname(host, sizeof host);
	RAND_bytes(nonce, sizeof nonce);
	util_hex(hex, nonce, sizeof nonce);
	hex[16] = '\0';
	snprintf(out, n, "%s %ld %s\n", host, (long)getpid(), hex);
}

static int read_small(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t k = read(fd, buf, n - 1);
	close(fd);
	if (k < 0)
		return -1;
	buf[k] = '\0';
	return 0;
}

/* Stale: its holder is on this host and gone, or it is older than stale_s. */
static int lock_is_stale(const char *content, double age_s, double stale_s)
{
	char host[256], me[256];
	long pid = 0;
	if (age_s > stale_s)
		return 1;
	if (sscanf(content, "%255s %ld", host, &pid) != 2)
		return age_s > 2.0; /* being written, or garbage: give its writer a moment */
	util_hostname(me, sizeof me);
	if (strcmp(host, me) != 0 || pid <= 0)
		return 0;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

static double file_age_s(const struct stat *st)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)(ts.tv_sec - st->st_mtim.tv_sec) + (double)(ts.tv_nsec - st->st_mtim.tv_nsec) / 1e9;
}

/* Break the stale lock at path whose content was seen: under path.break
 * (O_EXCL), only if it still has that content, so a lock taken since by
 * someone else survives. */
static void lock_break(const char *path, const char *seen)
{
	char bpath[4200], now[300];
	snprintf(bpath, sizeof bpath, "%s.break", path);
	int fd = open(bpath, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0) {
		struct stat st;
		if (errno == EEXIST && stat(bpath, &st) == 0 && file_age_s(&st) > BREAK_STALE_S)
			unlink(bpath); /* its breaker died in between */
		return;
	}
	close(fd);
	if (read_small(path, now, sizeof now) == 0 && strcmp(now, seen) == 0)
		unlink(path);
	unlink(bpath);
}

int gitcache_lock(const char *path, double stale_s, double deadline_s, char *err, size_t errlen)
{
	char me[300], seen[300];
	if (stale_s <= 0)
		stale_s = GITCACHE_STALE_S_DEFAULT;
	lock_identity(me, sizeof me);
	double start = now_s();
	for (;;) {
		int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd >= 0) {
			size_t len = strlen(me);
			int ok = write(fd, me, len) == (ssize_t)len;
			close(fd);
			if (!ok) {
				unlink(path);
				return fail(err, errlen, "cannot write the lock %s: %s", path, strerror(errno));
			}
			return 0;
		}
		if (errno != EEXIST)
			return fail(err, errlen, "cannot create the lock %s: %s", path, strerror(errno));
		struct stat st;
		if (stat(path, &st) == 0 && read_small(path, seen, sizeof seen) == 0 &&
		    lock_is_stale(seen, file_age_s(&st), stale_s))
			lock_break(path, seen);
		else if (deadline_s > 0 && now_s() - start > deadline_s)
			return fail(err, errlen, "busy: %s is held", path);
		else
			sleep_ms(LOCK_POLL_MS);
	}
}

void gitcache_lock_touch(const char *path)
{
	utimensat(AT_FDCWD, path, NULL, 0);
}

void gitcache_unlock(const char *path)
{
	unlink(path);
}

/* ---- small filesystem helpers ---- */

static int mkdir_p(const char *dir, char *err, size_t n)
{
	char tmp[4096];
	if (util_strlcpy(tmp, dir, sizeof tmp) >= sizeof tmp)
		return fail(err, n, "path too long: %s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return fail(err, n, "cannot create %s: %s", tmp, strerror(errno));
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return fail(err, n, "cannot create %s: %s", tmp, strerror(errno));
	return 0;
}

/* Remove path and everything under it; returns the bytes freed. */
static uint64_t rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return 0;
	uint64_t bytes = S_ISDIR(st.st_mode) ? 0 : (uint64_t)st.st_size;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d)) != NULL) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char sub[4096];
			if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < sizeof sub)
				bytes += rm_rf(sub);
		}
		if (d)
			closedir(d);
		chmod(path, 0700); /* a read-only directory (e.g. Go's module cache) */
		rmdir(path);
	} else {
		unlink(path);
	}
	return bytes;
}

static uint64_t du_bytes(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return (uint64_t)st.st_size;
	uint64_t bytes = 0;
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char sub[4096];
		if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < sizeof sub)
			bytes += du_bytes(sub);
	}
	if (d)
		closedir(d);
	return bytes;
}

/* Append one line to ROOT/log (O_APPEND: lines of several nodes do not mix). */
static void log_line(const char *root, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(const char *root, const char *fmt, ...)
{
	char path[4200], line[4200], host[256];
	snprintf(path, sizeof path, "%s/log", root);
	util_hostname(host, sizeof host);
	int k = snprintf(line, sizeof line, "%.0f %s %ld ", util_wall(), host, (long)getpid());
	va_list ap;
	va_start(ap, fmt);
	if (k > 0 && (size_t)k < sizeof line)
		vsnprintf(line + k, sizeof line - (size_t)k, fmt, ap);
	va_end(ap);
	size_t len = strnlen(line, sizeof line - 2);
	line[len++] = '\n';
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		ssize_t w = write(fd, line, len);
		(void)w;
		close(fd);
	}
}

/* ---- credentials and progress ---- */

struct netctx {
	int attempts;
	const char *lock; /* refreshed while data arrives, or NULL */
	double touched;
};

/* user:password for url from ~/.git-credentials (git's "store" helper
 * file: one https://user:password@host line per host). */
static int stored_credential(git_credential **out, const char *url)
{
	const char *home = getenv("HOME");
	char path[4096], line[1024];
	if (!home)
		return -1;
	snprintf(path, sizeof path, "%s/.git-credentials", home);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	const char *hs = strstr(url, "://");
	const char *host = hs ? hs + 3 : url;
	size_t hl = strcspn(host, "/:");
	int rc = -1;
	while (rc < 0 && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		char *s = strstr(line, "://"), *at = s ? strrchr(s, '@') : NULL, *colon;
		if (!at)
			continue;
		*at = '\0';
		colon = strchr(s + 3, ':');
		if (!colon || strncmp(at + 1, host, hl) != 0 || (at[1 + hl] && at[1 + hl] != '/' && at[1 + hl] != ':'))
			continue;
		*colon = '\0';
		rc = git_credential_userpass_plaintext_new(out, s + 3, colon + 1);
	}
	fclose(f);
	return rc;
}

/* The user's own setup: ssh-agent for ssh URLs, ~/.git-credentials for
 * https; libgit2 asks again after a refusal, so each is tried once. */
static int on_credentials(git_credential **out, const char *url, const char *user, unsigned int allowed,
			  void *payload)
{
	struct netctx *c = payload;
	if (c->attempts++ > 0)
		return GIT_EUSER; /* already refused: say so instead of asking forever */
	if (allowed & GIT_CREDENTIAL_SSH_KEY)
		return git_credential_ssh_key_from_agent(out, user ? user : "git");
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && stored_credential(out, url) == 0)
		return 0;
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user ? user : "git");
	return GIT_PASSTHROUGH;
}

static int on_transfer(const git_indexer_progress *st, void *payload)
{
	struct netctx *c = payload;
	(void)st;
	if (c->lock && now_s() - c->touched > TOUCH_EVERY_S) {
		gitcache_lock_touch(c->lock);
		c->touched = now_s();
	}
	return 0;
}

static void callbacks(git_remote_callbacks *cb, struct netctx *c)
{
	cb->credentials = on_credentials;
	cb->transfer_progress = on_transfer;
	cb->payload = c;
}

/* ---- resolve ---- */

/* The name a ref is searched under: exact, refs/heads/REF, refs/tags/REF
 * (an annotated tag: its peeled commit, "REF^{}"). */
static int ref_matches(const char *name, const char *ref, int *peeled)
{
	static const char *const pre[] = {"", "refs/heads/", "refs/tags/"};
	for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) {
		size_t pl = strlen(pre[i]), rl = strlen(ref);
		if (strncmp(name, pre[i], pl) || strncmp(name + pl, ref, rl))
			continue;
		if (!name[pl + rl])
			return *peeled = 0, 1;
		if (!strcmp(name + pl + rl, "^{}"))
			return *peeled = 1, 1;
	}
	return 0;
}

int gitcache_resolve(const char *url, const char *ref, char commit[GITCACHE_COMMIT_HEX + 1], char *err,
		     size_t errlen)
{
	gitcache_global_init();
	git_remote *r = NULL;
	git_remote_callbacks cb;
	git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
	struct netctx c = {0, NULL, 0};
	callbacks(&cb, &c);
	if (!ref || !*ref)
		ref = "HEAD";
	if (git_remote_create_detached(&r, url) < 0)
		return fail(err, errlen, "repository %s: %s", url, git_why());
	if (git_remote_connect(r, GIT_DIRECTION_FETCH, &cb, NULL, NULL) < 0) {
		fail(err, errlen, "cannot reach repository %s: %s", url, git_why());
		git_remote_free(r);
		return -1;
	}
	const git_remote_head **heads;
	size_t n = 0;
	int found = 0, peeled;
	if (git_remote_ls(&heads, &n, r) < 0) {
		fail(err, errlen, "cannot list repository %s: %s", url, git_why());
		git_remote_free(r);
		return -1;
	}
	/* a peeled tag ("^{}", the commit) wins over the tag object itself */
	for (size_t i = 0; i < n; i++) {
		if (ref_matches(heads[i]->name, ref, &peeled) && (!found || peeled)) {
			git_oid_tostr(commit, GITCACHE_COMMIT_HEX + 1, &heads[i]->oid);
			found = 1 + peeled;
		}
	}
	git_remote_free(r);
	if (!found)
		return fail(err, errlen, "branch '%s' not found in repository %s (it has %zu refs; "
			    "give an existing branch or tag, or a full commit id)", ref, url, n);
	return 0;
}

/* ---- clone / fetch ---- */

struct paths {
	char repo[4200], repo_lock[4200];
	char tree[4200], tree_lock[4200], meta[4200], use[4200], setup_log[4200];
};

static void make_paths(struct paths *p, const char *root, const char *url, const char *key)
{
	char uh[17];
	repo_hash(uh, url);
	snprintf(p->repo, sizeof p->repo, "%s/repos/%s.git", root, uh);
	snprintf(p->repo_lock, sizeof p->repo_lock, "%s/repos/%s.lock", root, uh);
	snprintf(p->tree, sizeof p->tree, "%s/trees/%s", root, key);
	snprintf(p->tree_lock, sizeof p->tree_lock, "%s/trees/%s.lock", root, key);
	snprintf(p->meta, sizeof p->meta, "%s/trees/%s.meta", root, key);
	snprintf(p->use, sizeof p->use, "%s/trees/%s.use", root, key);
	snprintf(p->setup_log, sizeof p->setup_log, "%s/trees/%s.setup.log", root, key);
}

/* Fetch every branch and tag of url into the bare repository. */
static int fetch_all(git_repository *repo, const char *url, const char *lock, char *err, size_t n)
{
	git_remote *r = NULL;
	git_fetch_options fo;
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	struct netctx c = {0, lock, now_s()};
	callbacks(&fo.callbacks, &c);
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL;
	char *specs[] = {"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"};
	git_strarray refspecs = {specs, 2};
	if (git_remote_create_anonymous(&r, repo, url) < 0)
		return fail(err, n, "repository %s: %s", url, git_why());
	int rc = git_remote_fetch(r, &refspecs, &fo, NULL);
	if (rc < 0)
		fail(err, n, "cannot fetch %s: %s", url, git_why());
	git_remote_free(r);
	return rc < 0 ? -1 : 0;
}

/* Open the bare clone of url with commit in it: clone it first if there
 * is none, fetch if the commit is missing. Under the repository's lock. */
static int repo_with_commit(git_repository **out, const struct gitcache_req *q, const struct paths *p,
			    const git_oid *oid, struct gitcache_res *res)
{
	char *err = res->err;
	size_t n = sizeof res->err;
	*out = NULL;
	if (gitcache_lock(p->repo_lock, q->stale_s, 0, err, n) < 0)
		return -1;
	git_repository *repo = NULL;
	git_commit *cm = NULL;
	int rc = -1;
	struct stat st;
	int fresh = stat(p->repo, &st) < 0;
	if (fresh) {
		char tmp[4300];
		snprintf(tmp, sizeof tmp, "%s.tmp", p->repo);
		rm_rf(tmp); /* left by a holder that died */
		if (git_repository_init(&repo, tmp, 1) < 0) {
			fail(err, n, "cannot create a repository in %s: %s", tmp, git_why());
			goto out;
		}
		if (fetch_all(repo, q->url, p->repo_lock, err, n) < 0)
			goto out;
		git_repository_free(repo);
		repo = NULL;
		if (rename(tmp, p->repo) < 0) {
			fail(err, n, "cannot rename %s: %s", tmp, strerror(errno));
			goto out;
		}
		res->cloned = 1;
		log_line(q->root, "clone %s", q->url);
	}
	if (git_repository_open_bare(&repo, p->repo) < 0) {
		fail(err, n, "cannot open %s: %s", p->repo, git_why());
		goto out;
	}
	if (git_commit_lookup(&cm, repo, oid) < 0 && !fresh) {
		if (fetch_all(repo, q->url, p->repo_lock, err, n) < 0)
			goto out;
		res->fetched = 1;
		log_line(q->root, "fetch %s", q->url);
	}
	if (!cm && git_commit_lookup(&cm, repo, oid) < 0) {
		char hex[GITCACHE_COMMIT_HEX + 1];
		git_oid_tostr(hex, sizeof hex, oid);
		fail(err, n, "commit %s not found in repository %s (fetched every branch and tag)", hex, q->url);
		goto out;
	}
	rc = 0;
out:
	git_commit_free(cm);
	if (rc < 0) {
		git_repository_free(repo);
		repo = NULL;
	}
	gitcache_unlock(p->repo_lock);
	*out = repo;
	return rc;
}

/* ---- checkout and setup ---- */

static int checkout(git_repository *repo, const git_oid *oid, const char *dir, char *err, size_t n)
{
	git_commit *cm = NULL;
	git_checkout_options co;
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX;
	co.target_directory = dir;
	if (git_commit_lookup(&cm, repo, oid) < 0)
		return fail(err, n, "%s", git_why());
	int rc = git_checkout_tree(repo, (const git_object *)cm, &co);
	git_commit_free(cm);
	if (rc < 0)
		return fail(err, n, "cannot check out into %s: %s", dir, git_why());
	return 0;
}

/* The last GITCACHE_SETUP_TAIL bytes of the setup's output. */
static void setup_tail(const char *log, char *out, size_t n)
{
	out[0] = '\0';
	int fd = open(log, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	off_t end = lseek(fd, 0, SEEK_END);
	off_t from = end > GITCACHE_SETUP_TAIL ? end - GITCACHE_SETUP_TAIL : 0;
	ssize_t k = pread(fd, out, n - 1 < GITCACHE_SETUP_TAIL ? n - 1 : GITCACHE_SETUP_TAIL, from);
	close(fd);
	out[k > 0 ? k : 0] = '\0';
	size_t len = strlen(out);
	while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
		out[--len] = '\0';
}

/* Wait for the setup's process, refreshing the tree's lock; past the
 * bound its process group (it leads one) is killed. 1 if it was killed for
 * that, else 0; *status its wait status. */
static int setup_wait(pid_t pid, const char *lock, double bound_s, int *status)
{
	double start = now_s(), touched = start, termed = 0;
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			return termed > 0;
		double t = now_s();
		if (t - touched > TOUCH_EVERY_S) {
			gitcache_lock_touch(lock);
			touched = t;
		}
		if (!termed && t - start > bound_s) {
			kill(-pid, SIGTERM);
			termed = t;
		} else if (termed && t - termed > GITCACHE_SETUP_KILL_GRACE_S) {
			kill(-pid, SIGKILL);
			termed = t + 1e9; /* once */
		}
		sleep_ms(20);
	}
}

/* Run q->setup with sh -c in the tree (output into its setup log), in its
 * own process group, refreshing the tree's lock while it runs, killed past
 * its bound. */
static int run_setup(const struct gitcache_req *q, const struct paths *p, const char *commit, char *err,
		     size_t n)
{
	int fd = open(p->setup_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(err, n, "cannot create %s: %s", p->setup_log, strerror(errno));
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fd, 1);
	posix_spawn_file_actions_adddup2(&fa, fd, 2);
	posix_spawn_file_actions_addchdir_np(&fa, p->tree);
	size_t ne = 0;
	while (environ[ne])
		ne++;
	char **env = calloc(ne + 4, sizeof *env);
	char e1[4300], e2[4300], e3[80];
	snprintf(e1, sizeof e1, "MTSLURM_GIT_URL=%s", q->url);
	snprintf(e2, sizeof e2, "MTSLURM_GIT_TREE=%s", p->tree);
	snprintf(e3, sizeof e3, "MTSLURM_GIT_COMMIT=%s", commit);
	pid_t pid = -1;
	int rc = ENOMEM;
	if (env) {
		size_t k = 0;
		for (size_t i = 0; i < ne; i++)
			if (strncmp(environ[i], "MTSLURM_GIT_", 12) != 0)
				env[k++] = environ[i];
		env[k++] = e1;
		env[k++] = e2;
		env[k++] = e3;
		env[k] = NULL;
		char *argv[] = {"sh", "-c", (char *)q->setup, NULL};
		posix_spawnattr_t at;
		posix_spawnattr_init(&at);
		posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP); /* its own group: killed whole */
		posix_spawnattr_setpgroup(&at, 0);
		rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, env);
		posix_spawnattr_destroy(&at);
	}
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	close(fd);
	if (rc != 0)
		return fail(err, n, "cannot run the setup command: %s", strerror(rc));
	int status = 0;
	double bound = q->setup_timeout_s > 0 ? q->setup_timeout_s : GITCACHE_SETUP_TIMEOUT_S_DEFAULT;
	int killed = setup_wait(pid, p->tree_lock, bound, &status);
	if (killed)
		kill(-pid, SIGKILL); /* what of its group outlived its shell */
	if (!killed && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	char tail[GITCACHE_SETUP_TAIL + 1];
	setup_tail(p->setup_log, tail, sizeof tail);
	if (killed)
		return fail(err, n, "the setup command '%.200s' ran longer than its bound of %g s "
			    "(MTSLURM_GIT_SETUP_TIMEOUT) and was killed; its output: %s", q->setup, bound, tail);
	if (WIFSIGNALED(status))
		return fail(err, n, "the setup command '%.200s' was killed by signal %d; its output: %s", q->setup,
			    WTERMSIG(status), tail);
	return fail(err, n, "the setup command '%.200s' failed with exit status %d; its output: %s", q->setup,
		    WEXITSTATUS(status), tail);
}

/* Write K.meta (atomically: temp, rename): from now on K is ready. */
static int write_meta(const struct gitcache_req *q, const struct paths *p, const char *commit, uint64_t bytes,
		      char *err, size_t n)
{
	char tmp[4300];
	snprintf(tmp, sizeof tmp, "%s.tmp", p->meta);
	FILE *f = fopen(tmp, "we");
	if (!f)
		return fail(err, n, "cannot write %s: %s", tmp, strerror(errno));
	fprintf(f, "url %s\ncommit %s\nbytes %llu\nsetup %s\n", q->url, commit, (unsigned long long)bytes,
		q->setup ? q->setup : "");
	if (fclose(f) != 0 || rename(tmp, p->meta) < 0) {
		unlink(tmp);
		return fail(err, n, "cannot write %s: %s", p->meta, strerror(errno));
	}
	return 0;
}

/* Take a shared hold on K.use and check K is (still) ready: gc removes
 * K.meta under an exclusive hold, so a ready K stays while we hold it.
 * The hold's fd, -1 if K is not ready, -2 on an error (err). */
static int hold(const struct paths *p, char *err, size_t n)
{
	int fd = open(p->use, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(err, n, "cannot open %s: %s", p->use, strerror(errno)), -2;
	struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
	while (fcntl(fd, F_OFD_SETLKW, &fl) < 0) {
		if (errno != EINTR) {
			fail(err, n, "cannot lock %s: %s", p->use, strerror(errno));
			close(fd);
			return -2;
		}
	}
	struct stat st;
	if (stat(p->meta, &st) < 0) {
		close(fd);
		return -1;
	}
	futimens(fd, NULL); /* last use: the least recently used go first */
	return fd;
}

void gitcache_release(int hold_fd)
{
	if (hold_fd >= 0)
		close(hold_fd);
}

/* Under the tree's lock: K is not ready; make it. */
static int make_tree(const struct gitcache_req *q, const struct paths *p, const git_oid *oid, const char *commit,
		     struct gitcache_res *res)
{
	char *err = res->err;
	size_t n = sizeof res->err;
	git_repository *repo = NULL;
	rm_rf(p->tree); /* a half-made one whose maker died */
	unlink(p->setup_log);
	if (repo_with_commit(&repo, q, p, oid, res) < 0)
		return -1;
	int rc = checkout(repo, oid, p->tree, err, n);
	git_repository_free(repo);
	if (rc == 0) {
		res->checked_out = 1;
		log_line(q->root, "checkout %s %s %s", res->key, q->url, commit);
	}
	if (rc == 0 && q->setup && *q->setup) {
		rc = run_setup(q, p, commit, err, n);
		log_line(q->root, "setup %s %s", res->key, rc == 0 ? "ok" : "failed");
	}
	if (rc == 0)
		rc = write_meta(q, p, commit, du_bytes(p->tree), err, n);
	if (rc < 0)
		rm_rf(p->tree);
	return rc;
}

static int ensure_dirs(const char *root, char *err, size_t n)
{
	char d[4200];
	snprintf(d, sizeof d, "%s/repos", root);
	if (mkdir_p(d, err, n) < 0)
		return -1;
	snprintf(d, sizeof d, "%s/trees", root);
	return mkdir_p(d, err, n);
}

int gitcache_ensure(const struct gitcache_req *q, struct gitcache_res *res)
{
	memset(res, 0, sizeof *res);
	res->hold_fd = -1;
	gitcache_global_init();
	if (!q->url || !*q->url)
		return fail(res->err, sizeof res->err, "no repository URL");
	if (q->commit && !gitcache_is_commit(q->commit))
		return fail(res->err, sizeof res->err, "'%.80s' is not a commit id (40 hexadecimal digits)", q->commit);
	if (q->commit)
		util_strlcpy(res->commit, q->commit, sizeof res->commit);
	else if (gitcache_resolve(q->url, q->ref, res->commit, res->err, sizeof res->err) < 0)
		return -1;
	for (char *c = res->commit; *c; c++)
		if (*c >= 'A' && *c <= 'F')
			*c = (char)(*c - 'A' + 'a');
	git_oid oid;
	if (git_oid_fromstr(&oid, res->commit) < 0)
		return fail(res->err, sizeof res->err, "bad commit id %s", res->commit);
	if (ensure_dirs(q->root, res->err, sizeof res->err) < 0)
		return -1;
	gitcache_key(res->key, q->url, res->commit, q->setup);
	struct paths p;
	make_paths(&p, q->root, q->url, res->key);
	util_strlcpy(res->tree, p.tree, sizeof res->tree);
	int fd = hold(&p, res->err, sizeof res->err);
	if (fd == -2)
		return -1;
	if (fd >= 0) {
		res->hold_fd = fd; /* ready: the usual case, no lock taken */
		return 0;
	}
	/* not ready: make it, unless someone else does (then it is ready
	 * when we get the lock) */
	if (gitcache_lock(p.tree_lock, q->stale_s, 0, res->err, sizeof res->err) < 0)
		return -1;
	int rc = 0;
	struct stat st;
	if (stat(p.meta, &st) < 0)
		rc = make_tree(q, &p, &oid, res->commit, res);
	if (rc == 0) {
		fd = hold(&p, res->err, sizeof res->err);
		if (fd == -1)
			fail(res->err, sizeof res->err, "checkout %s was removed while it was being made", res->key);
		rc = fd >= 0 ? 0 : -1;
		res->hold_fd = fd >= 0 ? fd : -1;
	}
	gitcache_unlock(p.tree_lock);
	if (rc == 0 && res->checked_out && q->max_bytes)
		gitcache_gc(q->root, q->max_bytes, res->key, NULL, NULL, NULL, NULL, 0);
	return rc;
}

/* ---- gc ---- */

struct tree_ent {
	char key[GITCACHE_KEY_MAX];
	char url[2048], commit[GITCACHE_COMMIT_HEX + 1];
	uint64_t bytes;
	double used; /* mtime of K.use (else K.meta) */
};

static int parse_meta(const char *path, struct tree_ent *t)
{
	FILE *f = fopen(path, "re");
	char line[2100];
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "url ", 4))
			util_strlcpy(t->url, line + 4, sizeof t->url);
		else if (!strncmp(line, "commit ", 7))
			util_strlcpy(t->commit, line + 7, sizeof t->commit);
		else if (!strncmp(line, "bytes ", 6))
			t->bytes = strtoull(line + 6, NULL, 10);
	}
	fclose(f);
	return 0;
}

/* The ready trees (NULL and 0 if none); -1 if ROOT/trees cannot be read. */
static int list_trees(const char *root, struct tree_ent **out, size_t *count)
{
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/trees", root);
	*out = NULL;
	*count = 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	struct dirent *e;
	size_t n = 0, cap = 0;
	struct tree_ent *v = NULL;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 6 || strcmp(e->d_name + l - 5, ".meta") || l - 5 >= GITCACHE_KEY_MAX)
			continue;
		if (n == cap) {
			struct tree_ent *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof *v);
			if (!nv)
				break;
			v = nv;
		}
		struct tree_ent *t = &v[n];
		memset(t, 0, sizeof *t);
		memcpy(t->key, e->d_name, l - 5);
		char path[4400];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (parse_meta(path, t) < 0)
			continue;
		if (stat(path, &st) == 0)
			t->used = (double)st.st_mtim.tv_sec;
		snprintf(path, sizeof path, "%s/%s.use", dir, t->key);
		if (stat(path, &st) == 0)
			t->used = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9;
		n++;
	}
	closedir(d);
	*out = v;
	*count = n;
	return 0;
}

static int by_used(const void *a, const void *b)
{
	const struct tree_ent *x = a, *y = b;
	return x->used < y->used ? -1 : x->used > y->used;
}

/* Remove tree t if nobody holds it or makes it: 1 removed, 0 in use. */
static int remove_tree(const char *root, const struct tree_ent *t, uint64_t *freed)
{
	struct paths p;
	char err[200];
	make_paths(&p, root, t->url, t->key);
	if (gitcache_lock(p.tree_lock, 0, 0.001, err, sizeof err) < 0)
		return 0;
	int fd = open(p.use, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int removed = 0;
	if (fd >= 0 && fcntl(fd, F_OFD_SETLK, &fl) == 0) {
		unlink(p.meta); /* first: a hold taken from now on sees it gone */
		*freed += rm_rf(p.tree);
		unlink(p.setup_log);
		unlink(p.use);
		removed = 1;
		log_line(root, "remove %s %s %s", t->key, t->url, t->commit);
	}
	if (fd >= 0)
		close(fd);
	gitcache_unlock(p.tree_lock);
	return removed;
}

/* Remove the bare clones no ready tree names (under their locks). */
static void gc_repos(const char *root, const struct tree_ent *v, const int *gone, size_t n,
		     void (*each)(void *, const struct gitcache_gone *), void *arg, uint64_t *freed)
{
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/repos", root);
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l != 16 + 4 || strcmp(e->d_name + 16, ".git"))
			continue;
		int needed = 0;
		for (size_t i = 0; i < n && !needed; i++) {
			char uh[17];
			repo_hash(uh, v[i].url);
			needed = !gone[i] && !strncmp(uh, e->d_name, 16);
		}
		if (needed)
			continue;
		char lock[4300], path[4300], err[200];
		snprintf(lock, sizeof lock, "%s/%.16s.lock", dir, e->d_name);
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (gitcache_lock(lock, 0, 0.001, err, sizeof err) < 0)
			continue;
		uint64_t b = rm_rf(path);
		*freed += b;
		log_line(root, "remove repository %s", e->d_name);
		if (each) {
			struct gitcache_gone g = {e->d_name, "", "", b};
			each(arg, &g);
		}
		gitcache_unlock(lock);
	}
	if (d)
		closedir(d);
}

/* The leftovers of checkouts that never became ready (a failed clone or
 * setup, a maker that died): their .use, .setup.log and half-made tree,
 * unless someone is making them now (their lock). */
static void gc_leftovers(const char *root)
{
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/trees", root);
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 5 || l - 4 >= GITCACHE_KEY_MAX || strcmp(e->d_name + l - 4, ".use"))
			continue;
		char key[GITCACHE_KEY_MAX], path[4400], err[200];
		struct stat st;
		memcpy(key, e->d_name, l - 4);
		key[l - 4] = '\0';
		snprintf(path, sizeof path, "%s/%s.meta", dir, key);
		if (stat(path, &st) == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s.lock", dir, key);
		if (gitcache_lock(path, 0, 0.001, err, sizeof err) < 0)
			continue;
		char p2[4400];
		snprintf(p2, sizeof p2, "%s/%s", dir, key);
		rm_rf(p2);
		snprintf(p2, sizeof p2, "%s/%s.setup.log", dir, key);
		unlink(p2);
		snprintf(p2, sizeof p2, "%s/%s.use", dir, key);
		unlink(p2);
		gitcache_unlock(path);
	}
	if (d)
		closedir(d);
}

int gitcache_gc(const char *root, uint64_t max_bytes, const char *keep_key,
		void (*each)(void *arg, const struct gitcache_gone *g), void *arg, uint64_t *freed, char *err,
		size_t errlen)
{
	struct tree_ent *v;
	size_t n;
	uint64_t dummy = 0, total = 0;
	if (!freed)
		freed = &dummy;
	*freed = 0;
	if (list_trees(root, &v, &n) < 0)
		return err ? fail(err, errlen, "cannot read %s/trees: %s", root, strerror(errno)) : -1;
	qsort(v, n, sizeof *v, by_used);
	for (size_t i = 0; i < n; i++)
		total += v[i].bytes;
	int *gone = calloc(n ? n : 1, sizeof *gone);
	if (!gone) {
		free(v);
		return err ? fail(err, errlen, "out of memory") : -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (max_bytes && total <= max_bytes)
			break;
		if (keep_key && !strcmp(v[i].key, keep_key))
			continue;
		uint64_t before = *freed;
		if (remove_tree(root, &v[i], freed)) {
			gone[i] = 1;
			total -= v[i].bytes < total ? v[i].bytes : total;
			if (each) {
				struct gitcache_gone g = {v[i].key, v[i].url, v[i].commit, *freed - before};
				each(arg, &g);
			}
		}
	}
	if (!max_bytes) {
		gc_repos(root, v, gone, n, each, arg, freed);
		gc_leftovers(root);
	}
	free(gone);
	free(v);
	return 0;
}
