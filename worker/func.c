/* SPDX-License-Identifier: MIT */
/*
 * func: function jobs in function hosts -- see func.h, and fhost.h for the
 * wire format. Every host has a socketpair (requests and responses) and two
 * pipes (the function's stdout and stderr), all watched with uv_poll on raw
 * non-blocking fds rather than uv_pipe streams: when a response arrives the
 * pipes are read to the end right there (the host flushed them before it
 * responded), so a call's output lands in the log under that call's job and
 * before its result, whatever order epoll reports the fds in.
 *
 * Hosts are started with uv_spawn (fork+exec: libuv's child runs nothing but
 * async-signal-safe code before exec, which is what a process with threads
 * needs) in a session of their own, so that a function's own children are
 * killed with the host's group. A host's exit callback is the one place a
 * crash is reported; a socket that reaches EOF only makes sure the host is
 * killed, so the exit status tells what happened.
 */
#include "func.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "cgroup.h"
#include "fhost.h"
#include "util.h"

extern char **environ;

#define RBUF_BYTES (64u << 10)

struct host {
	struct func *f;
	struct host *prev, *next;
	uv_process_t proc;
	struct cgroup_leaf *leaf; /* its cgroup (cgroup.h); NULL: none */
	uv_poll_t psock, pio[2];
	int sock, io[2];      /* -1 once closed */
	int proc_open;        /* proc handle not yet closed */
	int handles;          /* initialised and not yet closed */
	int exited;           /* the exit callback ran */
	int broken;           /* killed or dying: takes no job */
	struct job *job;      /* the running call's job; NULL if idle or abandoned */
	int64_t log_id;       /* whose output the pipes carry (0: nobody's yet) */
	int log_attempt;
	uint64_t logged[2];
	char fname[128];      /* the running function, for errors */
	struct buf wq;        /* request bytes not yet written */
	size_t woff;
	int poll_out;         /* psock also waits for writability (a full socket) */
	struct buf rb;        /* response bytes read so far */
	char tail[FUNC_STDERR_TAIL];
	size_t tail_len;
};

struct func {
	uv_loop_t *loop;
	struct func_opts o;
	struct host *hosts;
	size_t nhosts;
	char path[PATH_MAX]; /* the host binary */
	char looked[600];    /* where it was looked for, when not found */
	int path_state;      /* 0 not looked yet, 1 found, -1 not found */
	char pidarg[24];
	char *rbuf;
	uv_timer_t close_timer;
	int closing;
	void (*close_cb)(void *);
	void *close_arg;
};

static void host_close(struct host *h);

/* ---- finding the host binary ---- */

static int usable(const char *p)
{
	return access(p, X_OK) == 0;
}

static int find_host_binary(struct func *f)
{
	if (f->path_state)
		return f->path_state;
	const char *e = getenv("MTSLURM_FHOST");
	if (e && *e) {
		util_strlcpy(f->path, e, sizeof f->path);
		f->path_state = usable(f->path) ? 1 : -1;
		snprintf(f->looked, sizeof f->looked, "$MTSLURM_FHOST=%s is not an executable file", e);
		return f->path_state;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	f->path_state = -1;
	if (n <= 0) {
		snprintf(f->looked, sizeof f->looked, "cannot read /proc/self/exe: %s; set MTSLURM_FHOST",
			 strerror(errno));
		return -1;
	}
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	static const char *const rel[] = {"/mtslurm-fhost", "/../mtslurm-fhost", "/../libexec/mtslurm/mtslurm-fhost"};
	for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
		int k = snprintf(f->path, sizeof f->path, "%s%s", exe, rel[i]);
		if (k > 0 && (size_t)k < sizeof f->path && usable(f->path)) {
			f->path_state = 1;
			return 1;
		}
	}
	snprintf(f->looked, sizeof f->looked,
		 "the function host mtslurm-fhost is not in %.400s or ../libexec/mtslurm there; set MTSLURM_FHOST",
		 exe);
	return -1;
}

/* ---- reporting ---- */

static void report(struct func *f, struct job *j, const struct job_result *r)
{
	j->run = NULL;
	job_report(j, f->o.done, f->o.arg, r);
}

static void report_fail(struct func *f, struct job *j, const char *error)
{
	struct job_result r = {0, NULL, 0, error, -1, 0, NULL, 0};
	report(f, j, &r);
}

/* ---- output of the functions ---- */

static void take_output(struct host *h, int i, const char *p, size_t n)
{
	struct func *f = h->f;
	if (f->o.log && h->log_id) {
		joblog_writer_append(f->o.log, h->log_id, h->log_attempt, i ? JOBLOG_ERR : JOBLOG_OUT, p, n,
				     &h->logged[i]);
		if (f->o.log_kick)
			f->o.log_kick(f->o.arg);
	}
	if (i != 1)
		return;
	if (n >= FUNC_STDERR_TAIL) {
		memcpy(h->tail, p + n - FUNC_STDERR_TAIL, FUNC_STDERR_TAIL);
		h->tail_len = FUNC_STDERR_TAIL;
		return;
	}
	if (h->tail_len + n > FUNC_STDERR_TAIL) {
		size_t drop = h->tail_len + n - FUNC_STDERR_TAIL;
		memmove(h->tail, h->tail + drop, h->tail_len - drop);
		h->tail_len -= drop;
	}
	memcpy(h->tail + h->tail_len, p, n);
	h->tail_len += n;
}

static void on_handle_closed(uv_handle_t *hd);

static void close_io(struct host *h, int i)
{
	if (h->io[i] < 0)
		return;
	uv_close((uv_handle_t *)&h->pio[i], on_handle_closed); /* stops watching at once */
	close(h->io[i]);
	h->io[i] = -1;
}

/* Read pipe i until it has nothing more for now (or reached EOF). */
static void drain_io(struct host *h, int i)
{
	while (h->io[i] >= 0) {
		ssize_t n = read(h->io[i], h->f->rbuf, RBUF_BYTES);
		if (n > 0) {
			take_output(h, i, h->f->rbuf, (size_t)n);
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
				close_io(h, i);
			return;
		}
	}
}

static void on_io(uv_poll_t *p, int status, int events)
{
	struct host *h = p->data;
	int i = p == &h->pio[1];
	if (status < 0)
		close_io(h, i);
	else
		drain_io(h, i);
}

/* ---- host life ---- */

static void host_kill(struct host *h)
{
	h->broken = 1;
	if (!h->exited) {
		kill(-h->proc.pid, SIGKILL); /* the host and whatever its function started */
		cgroup_leaf_kill(h->leaf);    /* ... a daemon that left the group too */
	}
}

/* The host is gone: kill what is left in its cgroup and pool the leaf. */
static void host_release_leaf(struct host *h)
{
	cgroup_leaf_put(h->f->o.cg, h->leaf);
	h->leaf = NULL;
}

static size_t rtrim(const char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n;
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
	struct host *h = p->data;
	struct func *f = h->f;
	h->exited = 1;
	h->broken = 1;
	drain_io(h, 0);
	drain_io(h, 1);
	/* the host's group may outlive it (a child the function started) */
	kill(-p->pid, SIGKILL);
	host_release_leaf(h);
	struct job *j = h->job;
	h->job = NULL;
	if (j) {
		char e[FUNC_STDERR_TAIL + 300];
		int n;
		if (sig)
			n = snprintf(e, sizeof e, "killed by signal %d (SIG%s) in %s", sig,
				     sigabbrev_np(sig) ? sigabbrev_np(sig) : "?", h->fname);
		else
			n = snprintf(e, sizeof e, "exited with status %d in %s", (int)status, h->fname);
		size_t tl = rtrim(h->tail, h->tail_len);
		if (tl && n > 0 && (size_t)n + tl + 3 < sizeof e) {
			memcpy(e + n, ": ", 2);
			memcpy(e + n + 2, h->tail, tl);
			e[n + 2 + tl] = '\0';
		}
		struct job_result r = {0, NULL, 0, e, sig ? 128 + sig : (int)status, 1, NULL, 0};
		report(f, j, &r);
	}
	host_close(h);
}

static void on_sock(uv_poll_t *p, int status, int events);

/* Start a new host. NULL with err set. */
/* A host that started: watch its socket and its stdout/stderr pipes (the
 * host's ends of each), and list it among f's hosts. */
static void host_attach(struct func *f, struct host *h, int sock, int out, int errfd)
{
	h->proc_open = 1;
	h->sock = sock;
	h->io[0] = out;
	h->io[1] = errfd;
	h->handles = 4;
	uv_poll_init(f->loop, &h->psock, h->sock); /* also makes the fd non-blocking */
	h->psock.data = h;
	uv_poll_start(&h->psock, UV_READABLE, on_sock);
	for (int i = 0; i < 2; i++) {
		uv_poll_init(f->loop, &h->pio[i], h->io[i]);
		h->pio[i].data = h;
		uv_poll_start(&h->pio[i], UV_READABLE, on_io);
	}
	h->next = f->hosts;
	if (f->hosts)
		f->hosts->prev = h;
	f->hosts = h;
	f->nhosts++;
}

static struct host *host_spawn(struct func *f, char *err, size_t errlen)
{
	int sv[2] = {-1, -1}, po[2] = {-1, -1}, pe[2] = {-1, -1};
	struct host *h = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe2(po, O_CLOEXEC) < 0 ||
	    pipe2(pe, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot start a function host: %s", strerror(errno));
		goto fail;
	}
	h = calloc(1, sizeof *h);
	if (!h) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	h->f = f;
	/* with a cgroup, fd 4 is its cgroup.procs: the host enters it first */
	h->leaf = cgroup_leaf_get(f->o.cg);
	char *args[] = {f->path, f->pidarg, (char *)(f->o.worker_id ? f->o.worker_id : ""),
			(char *)(f->o.run_dir ? f->o.run_dir : ""), h->leaf ? "4" : NULL, NULL};
	uv_stdio_container_t st[5];
	st[0].flags = UV_IGNORE; /* /dev/null */
	st[1].flags = UV_INHERIT_FD;
	st[1].data.fd = po[1];
	st[2].flags = UV_INHERIT_FD;
	st[2].data.fd = pe[1];
	st[3].flags = UV_INHERIT_FD;
	st[3].data.fd = sv[1];
	st[4].flags = UV_INHERIT_FD;
	st[4].data.fd = cgroup_leaf_procs_fd(h->leaf);
	uv_process_options_t o;
	memset(&o, 0, sizeof o);
	o.file = f->path;
	o.args = args;
	o.env = f->o.env ? f->o.env : environ;
	o.flags = UV_PROCESS_DETACHED; /* setsid: its own session and group */
	o.stdio_count = h->leaf ? 5 : 4;
	o.stdio = st;
	o.exit_cb = on_exit_cb;
	h->proc.data = h;
	int r = uv_spawn(f->loop, &h->proc, &o);
	close(sv[1]);
	close(po[1]);
	close(pe[1]);
	sv[1] = po[1] = pe[1] = -1;
	if (r < 0) {
		snprintf(err, errlen, "cannot start the function host %.500s: %s", f->path, uv_strerror(r));
		/* an initialised handle even on failure: it frees h once closed */
		h->handles = 1;
		h->proc_open = 1;
		h->sock = h->io[0] = h->io[1] = -1;
		h->exited = 1;
		host_release_leaf(h);
		close(sv[0]);
		close(po[0]);
		close(pe[0]);
		host_close(h);
		return NULL;
	}
	host_attach(f, h, sv[0], po[0], pe[0]);
	return h;
fail:
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	free(h);
	return NULL;
}

static void func_free(struct func *f);

static void on_handle_closed(uv_handle_t *hd)
{
	struct host *h = hd->data;
	if (--h->handles > 0)
		return;
	struct func *f = h->f;
	host_release_leaf(h); /* given up on (func_close): its leaf is killed */
	if (h->prev || f->hosts == h) {
		if (h->prev)
			h->prev->next = h->next;
		else
			f->hosts = h->next;
		if (h->next)
			h->next->prev = h->prev;
		f->nhosts--;
	}
	buf_release(&h->wq);
	buf_release(&h->rb);
	free(h);
	if (f->closing && !f->hosts && !uv_is_closing((uv_handle_t *)&f->close_timer))
		func_free(f);
}

/* Close the host's handles; the process handle only once it was reaped
 * (or when func_close gives up on it). */
static void host_close(struct host *h)
{
	h->broken = 1;
	if (h->sock >= 0) {
		uv_close((uv_handle_t *)&h->psock, on_handle_closed);
		close(h->sock);
		h->sock = -1;
	}
	close_io(h, 0);
	close_io(h, 1);
	if (h->proc_open && (h->exited || h->f->closing > 1)) {
		h->proc_open = 0;
		uv_close((uv_handle_t *)&h->proc, on_handle_closed);
	}
}

/* ---- requests and responses ---- */

static void sock_write(struct host *h)
{
	while (h->woff < h->wq.len) {
		ssize_t n = send(h->sock, h->wq.p + h->woff, h->wq.len - h->woff, MSG_NOSIGNAL);
		if (n > 0) {
			h->woff += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!h->poll_out) {
				h->poll_out = 1;
				uv_poll_start(&h->psock, UV_READABLE | UV_WRITABLE, on_sock);
			}
			return;
		} else {
			host_kill(h); /* the host is gone: its exit reports the job */
			return;
		}
	}
	buf_reset(&h->wq);
	h->woff = 0;
	/* Back to readable only if writability was asked for: restarting a
	 * poll handle costs epoll_ctl calls, three per job when done always. */
	if (h->poll_out) {
		h->poll_out = 0;
		uv_poll_start(&h->psock, UV_READABLE, on_sock);
	}
}

/* A complete response is in h->rb: report it. */
static void take_response(struct host *h, const struct fhost_resp *hd, char *text)
{
	struct func *f = h->f;
	struct job *j = h->job;
	h->job = NULL;
	/* the host flushed before responding: what the call printed is in the
	 * pipes now, and belongs to this job */
	if (hd->pending & FHOST_PENDING_OUT)
		drain_io(h, 0);
	if (hd->pending & FHOST_PENDING_ERR)
		drain_io(h, 1);
	/* the call is over: so is whatever it started and left running */
	if (hd->pending & FHOST_PENDING_KIDS)
		cgroup_leaf_signal(h->leaf, SIGKILL, h->proc.pid);
	if (!j)
		return;
	char e[600];
	struct job_result r = {0, NULL, 0, NULL, -1, 0, NULL, 0};
	if (hd->status != FHOST_CALLED) {
		r.error = text;
	} else {
		if (hd->has_output) {
			r.output = text;
			r.output_len = hd->len;
		}
		r.rc = hd->ret;
		if (hd->ret == 0) {
			r.ok = 1;
		} else {
			if (hd->has_output && hd->len < 400)
				snprintf(e, sizeof e, "%s returned %d: %s", h->fname, hd->ret, text);
			else
				snprintf(e, sizeof e, "%s returned %d", h->fname, hd->ret);
			r.error = e;
		}
	}
	report(f, j, &r);
}

static void sock_read(struct host *h)
{
	struct func *f = h->f;
	for (;;) {
		ssize_t n = read(h->sock, f->rbuf, RBUF_BYTES);
		if (n > 0) {
			if (buf_add(&h->rb, f->rbuf, (size_t)n) < 0) {
				host_kill(h);
				return;
			}
			if ((size_t)n == RBUF_BYTES)
				continue;
			break; /* level-triggered: more to come wakes us again */
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			/* the host closed its end: it is dying or broken; the
			 * exit callback reports its job */
			uv_poll_stop(&h->psock);
			host_kill(h);
			return;
		}
		break;
	}
	while (h->rb.len >= sizeof(struct fhost_resp)) {
		struct fhost_resp hd;
		memcpy(&hd, h->rb.p, sizeof hd);
		if (hd.magic != FHOST_MAGIC || hd.len > FUNC_OUTPUT_MAX) {
			struct job *j = h->job;
			h->job = NULL;
			host_kill(h);
			if (j) {
				char e[200];
				snprintf(e, sizeof e, "%.120s: %s", h->fname,
					 hd.magic != FHOST_MAGIC ? "garbled response from the function host"
								 : "output larger than 64 MiB");
				report_fail(f, j, e);
			}
			return;
		}
		size_t total = sizeof hd + hd.len;
		if (h->rb.len < total)
			return;
		/* NUL-terminate the text in place: buf keeps a NUL at p[len], so
		 * p[total] is ours to borrow */
		char saved = h->rb.p[total];
		h->rb.p[total] = '\0';
		take_response(h, &hd, h->rb.p + sizeof hd);
		h->rb.p[total] = saved;
		buf_consume(&h->rb, total);
	}
	if (h->rb.cap > (1u << 20) && !h->rb.len)
		buf_release(&h->rb); /* not a big buffer per idle host */
}

static void on_sock(uv_poll_t *p, int status, int events)
{
	struct host *h = p->data;
	if (status < 0) {
		uv_poll_stop(p);
		host_kill(h);
		return;
	}
	if (events & UV_WRITABLE)
		sock_write(h);
	if ((events & UV_READABLE) && h->sock >= 0)
		sock_read(h);
}

/* ---- the executor ---- */

struct func *func_new(uv_loop_t *loop, const struct func_opts *o, char *err, size_t errlen)
{
	struct func *f = calloc(1, sizeof *f);
	if (!f || !(f->rbuf = malloc(RBUF_BYTES))) {
		free(f);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	f->loop = loop;
	f->o = *o;
	snprintf(f->pidarg, sizeof f->pidarg, "%ld", (long)getpid());
	return f;
}

size_t func_hosts(const struct func *f)
{
	return f ? f->nhosts : 0;
}

void func_start(struct func *f, struct job *j)
{
	char e[700];
	const char *t = j->target;
	const char *colon = t ? strrchr(t, ':') : NULL;
	if (!t || !colon || colon == t || !colon[1]) {
		snprintf(e, sizeof e, "bad target '%.300s': expected /path/lib.so:function", t ? t : "");
		report_fail(f, j, e);
		return;
	}
	if (find_host_binary(f) < 0) {
		report_fail(f, j, f->looked);
		return;
	}
	struct host *h = f->hosts;
	while (h && (h->job || h->broken))
		h = h->next;
	if (!h && !(h = host_spawn(f, e, sizeof e))) {
		report_fail(f, j, e);
		return;
	}
	size_t pl = (size_t)(colon - t), fl = strlen(colon + 1);
	struct fhost_req q = {FHOST_MAGIC, (uint32_t)pl, (uint32_t)fl, (uint32_t)j->input_len, j->id,
			      (uint32_t)j->attempt, 0};
	buf_reset(&h->wq);
	h->woff = 0;
	if (buf_add(&h->wq, &q, sizeof q) < 0 || buf_add(&h->wq, t, pl) < 0 || buf_add(&h->wq, colon + 1, fl) < 0 ||
	    buf_add(&h->wq, j->input, j->input_len) < 0) {
		report_fail(f, j, "out of memory");
		return;
	}
	util_strlcpy(h->fname, colon + 1, sizeof h->fname);
	h->job = j;
	h->log_id = j->id;
	h->log_attempt = j->attempt;
	h->logged[0] = h->logged[1] = 0;
	h->tail_len = 0;
	j->run = h;
	sock_write(h);
}

void func_abandon(struct func *f, struct job *j)
{
	struct host *h = j->run;
	if (!h)
		return;
	j->run = NULL;
	h->job = NULL;
	host_kill(h);
}

static void on_timer_freed(uv_handle_t *hd)
{
	struct func *f = hd->data;
	void (*cb)(void *) = f->close_cb;
	void *arg = f->close_arg;
	free(f->rbuf);
	free(f);
	if (cb)
		cb(arg);
}

static void func_free(struct func *f)
{
	uv_close((uv_handle_t *)&f->close_timer, on_timer_freed);
}

/* FUNC_CLOSE_MS after func_close: stop waiting for hosts not reaped yet
 * (stuck in the kernel); their handles close now. */
static void on_close_timer(uv_timer_t *t)
{
	struct func *f = t->data;
	f->closing = 2;
	struct host *h = f->hosts, *next;
	for (; h; h = next) {
		next = h->next;
		host_close(h);
	}
}

void func_close(struct func *f, void (*cb)(void *arg), void *arg)
{
	f->closing = 1;
	f->close_cb = cb;
	f->close_arg = arg;
	uv_timer_init(f->loop, &f->close_timer);
	f->close_timer.data = f;
	for (struct host *h = f->hosts; h; h = h->next) {
		if (h->job) {
			h->job->run = NULL;
			h->job = NULL;
		}
		host_kill(h);
	}
	if (!f->hosts) {
		func_free(f);
		return;
	}
	uv_timer_start(&f->close_timer, on_close_timer, FUNC_CLOSE_MS, 0);
}
