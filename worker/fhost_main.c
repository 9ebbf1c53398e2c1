/* SPDX-License-Identifier: MIT */
/*
 * mtslurm-fhost: the function host -- see fhost.h for the protocol. A worker
 * starts one per slot that runs function jobs and keeps it between jobs:
 *
 *     mtslurm-fhost PARENT_PID [WORKER_ID RUN_DIR [CGROUP_FD]]
 *         (fd 3: the socketpair, 1/2: log pipes, CGROUP_FD: the
 *          cgroup.procs of the host's own cgroup, which it enters first)
 *
 * It dies with its worker (PR_SET_PDEATHSIG) and exits when the socket
 * closes. Libraries stay dlopen'd for the life of the host, so a sweep of
 * many calls into one library loads it once per slot. Nothing here survives a
 * crash of the function: that is the point. The worker reports the crash,
 * kills what is left of the host's process group and starts a new host for
 * the next job.
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fhost.h"

typedef int (*fhost_fn)(const char *input_json, char **output_json);

struct lib {
	char *path;
	void *handle;
	struct lib *next;
};

static struct lib *libs;

/* The request being read: bytes from the socket, grown as needed. One
 * read(2) usually brings a whole request. */
static char *in;
static size_t in_cap, in_len;

/* Read until at least n bytes are in `in`; 0, or -1 at EOF or on an error. */
static int fill(size_t n)
{
	if (n + 1 > in_cap) {
		size_t cap = in_cap ? in_cap : 64 << 10;
		while (cap < n + 1)
			cap *= 2;
		char *p = realloc(in, cap);
		if (!p)
			return -1;
		in = p;
		in_cap = cap;
	}
	while (in_len < n) {
		ssize_t k = read(FHOST_FD, in + in_len, in_cap - 1 - in_len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		in_len += (size_t)k;
	}
	return 0;
}

static int writev_full(struct iovec *v, int n)
{
	while (n > 0) {
		ssize_t k = writev(FHOST_FD, v, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		while (n > 0 && (size_t)k >= v->iov_len) {
			k -= (ssize_t)v->iov_len;
			v++;
			n--;
		}
		if (n > 0) {
			v->iov_base = (char *)v->iov_base + k;
			v->iov_len -= (size_t)k;
		}
	}
	return 0;
}

static void *lib_get(const char *path, char *err, size_t errlen)
{
	for (struct lib *l = libs; l; l = l->next)
		if (strcmp(l->path, path) == 0)
			return l->handle;
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		snprintf(err, errlen, "cannot load %s: %s", path, e ? e : "unknown error");
		return NULL;
	}
	struct lib *l = malloc(sizeof(*l));
	if (l && (l->path = strdup(path))) {
		l->handle = h;
		l->next = libs;
		libs = l;
	} else {
		free(l); /* not cached: dlopen again next time (refcounted) */
	}
	return h;
}

/* Does the host have a child after a call? Exited ones are reaped first
 * (their leftovers were reparented to the host, a subreaper); a live child,
 * or one that another thread of the function still has to reap, answers
 * yes. One syscall when the call started nothing. */
static int has_kids(void)
{
	pid_t r;
	while ((r = waitpid(-1, NULL, WNOHANG)) > 0)
		;
	if (r < 0 && errno == ECHILD)
		return 0; /* no child at all: the usual call, one syscall */
	siginfo_t si;
	memset(&si, 0, sizeof si);
	return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

/* Unread bytes in the pipe on fd (1 if that cannot be told: the worker
 * then reads it to the end, which costs it one read). */
static int pending(int fd)
{
	int n = 0;
	return ioctl(fd, FIONREAD, &n) < 0 || n > 0;
}

static int respond(enum fhost_status st, int ret, const char *text, int has_output)
{
	/* what the function printed reaches the pipes before the worker
	 * learns that the call is over */
	fflush(stdout);
	fflush(stderr);
	size_t len = text ? strlen(text) : 0;
	if (len > FHOST_STR_MAX)
		len = FHOST_STR_MAX;
	struct fhost_resp r = {FHOST_MAGIC, (uint32_t)st, ret, (uint32_t)has_output, 0, (uint32_t)len};
	r.pending = (pending(1) ? FHOST_PENDING_OUT : 0) | (pending(2) ? FHOST_PENDING_ERR : 0) |
		    (has_kids() ? FHOST_PENDING_KIDS : 0);
	struct iovec v[2] = {{&r, sizeof r}, {(void *)(text ? text : ""), len}};
	return writev_full(v, len ? 2 : 1);
}

/* One request: read, load, call, respond. -1 ends the host. */
static int serve_one(void)
{
	struct fhost_req q;
	if (fill(sizeof q) < 0)
		return -1; /* the worker closed the socket: leave */
	memcpy(&q, in, sizeof q);
	if (q.magic != FHOST_MAGIC || q.path_len > FHOST_STR_MAX || q.fname_len > FHOST_STR_MAX ||
	    q.input_len > FHOST_STR_MAX)
		return -1;
	size_t total = sizeof q + (size_t)q.path_len + q.fname_len + q.input_len;
	if (fill(total) < 0)
		return -1;
	/* one request at a time: nothing follows it in the buffer */
	char *path = malloc(total - sizeof q + 3);
	if (!path)
		return -1;
	char *fname = path + q.path_len + 1, *input = fname + q.fname_len + 1;
	const char *src = in + sizeof q;
	memcpy(path, src, q.path_len);
	memcpy(fname, src + q.path_len, q.fname_len);
	memcpy(input, src + q.path_len + q.fname_len, q.input_len);
	path[q.path_len] = fname[q.fname_len] = input[q.input_len] = '\0';
	in_len = 0;
	char err[600];
	int rc;
	void *h = lib_get(path, err, sizeof err);
	if (!h) {
		rc = respond(FHOST_NO_CALL, 0, err, 0);
	} else {
		dlerror();
		fhost_fn fn = (fhost_fn)(uintptr_t)dlsym(h, fname);
		if (!fn) {
			snprintf(err, sizeof err, "no function '%s' in %s", fname, path);
			rc = respond(FHOST_NO_CALL, 0, err, 0);
		} else {
			/* The job's own MTSLURM_* (the host lives for many jobs),
			 * rewritten in place: setenv would keep every old value
			 * (glibc never frees them), a few bytes per job forever. */
			static char idkv[48], akv[32];
			snprintf(idkv, sizeof idkv, "MTSLURM_JOB_ID=%lld", (long long)q.job_id);
			snprintf(akv, sizeof akv, "MTSLURM_ATTEMPT=%u", (unsigned)q.attempt);
			if (getenv("MTSLURM_JOB_ID") != idkv + 15) {
				putenv(idkv);
				putenv(akv);
			}
			char *out = NULL;
			int ret = fn(input, &out);
			rc = respond(FHOST_CALLED, ret, out, out != NULL);
			free(out);
		}
	}
	free(path);
	return rc;
}

int main(int argc, char **argv)
{
	long parent = argc == 2 || argc == 4 || argc == 5 ? strtol(argv[1], NULL, 10) : 0;
	if (parent <= 0) {
		fprintf(stderr, "usage: mtslurm-fhost PARENT_PID [WORKER_ID RUN_DIR [CGROUP_FD]] (started by an "
				"mtslurm worker, fd 3 its socket)\n");
		return 2;
	}
	/* into the host's cgroup before any function runs, so that what a
	 * function starts stays where the worker can kill it */
	if (argc == 5) {
		int cgfd = atoi(argv[4]);
		if (cgfd <= FHOST_FD || write(cgfd, "0", 1) != 1)
			fprintf(stderr, "mtslurm-fhost: cannot enter its cgroup (fd %s): %s\n", argv[4],
				strerror(errno));
	}
	if (argc >= 4) {
		setenv("MTSLURM_WORKER", argv[2], 1);
		setenv("MTSLURM_RUN_DIR", argv[3], 1);
	}
	/* die with the worker; if it is already gone, leave now. Orphans of
	 * what a function starts come to the host (subreaper): has_kids()
	 * sees them */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (getppid() != (pid_t)parent)
		return 0;
	/* no descriptor of the worker's (MPI's, say) reaches the function */
	close_range(FHOST_FD + 1, ~0u, 0);
	/* a line printed just before a crash still reaches the job log */
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (serve_one() == 0)
		;
	return 0;
}

/* Under AddressSanitizer (make SANITIZE=1) a crash of the function must still
 * end the host by its signal, as in a normal build: ASan's own handlers would
 * turn SIGSEGV and abort() into "exited with status 1". Unused otherwise. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:handle_abort=0";
}
