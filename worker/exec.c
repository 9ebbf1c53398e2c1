/* SPDX-License-Identifier: MIT */
/*
 * exec: command-line jobs, started by spawn.c (clone3 into the job's cgroup
 * leaf, or vfork+execve) -- see exec.h for why not uv_spawn or posix_spawn.
 *
 * Life of a run: spawn (pipes for stdout/stderr, stdin = /dev/null, own
 * session) -> the SIGCHLD watcher kills what is left of the group and reaps
 * the pid -> once both pipes
 * reached EOF (or EXEC_DRAIN_MS after the exit, for a background grandchild
 * that keeps them open) the result is reported -> the handles close -> the
 * run is freed. The job and the run are separate allocations so that the
 * worker can forget a job (abandon) while the run still waits for its
 * handles.
 *
 * Most jobs are short, so the pipes are not watched at first: a job that
 * exits within EXEC_LAZY_MS has its output read at the reap with one poll()
 * (the kernel closes a process's files before it signals its parent), which
 * saves the nine or so syscalls of putting two pipes into epoll and taking
 * them out again. Only a job still running then, or a pipe still held open
 * at the reap, gets uv_pipe_t handles that stream its output.
 */
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "container.h"
#include "envcache.h"
#include "jobenv.h"
#include "log.h"
#include "resource.h"
#include "spawn.h"
#include "util.h"

extern char **environ;

#define PATH_CACHE 64

enum timer_mode { T_NONE, T_LAZY, T_TIMEOUT, T_KILL, T_DRAIN };

struct exec_run {
	struct exec *x;
	struct job *job; /* NULL once reported or abandoned */
	int64_t id;
	int attempt;
	pid_t pid;
	int reaped;
	int status_known;
	int status;
	int open[2];    /* stdout, stderr: not at EOF yet (fd still ours) */
	int fd[2];      /* read ends */
	int streaming;  /* the pipes have uv handles (else plain fds) */
	uint64_t deadline; /* uv_now() at which the timeout fires; 0: none */
	int handles;    /* initialised and not yet closed */
	int reported;
	enum timer_mode tmode;
	char why[96]; /* kill reason, "" if none */
	uv_pipe_t pipe[2];
	uv_timer_t timer;
	struct cgroup_leaf *leaf; /* its cgroup (cgroup.h) until the reap; NULL: none */
	struct buf output;
	size_t cap;         /* the job's capture_bytes: 0, or what is kept of each stream */
	struct buf errout;  /* stderr kept when cap is set */
	char tail[EXEC_STDERR_TAIL];
	size_t tail_len;
	uint64_t logged[2];
	struct exec_run *prev, *next; /* x->runs: every run not yet freed */
	cpu_set_t pin;  /* the CPUs its process is bound to (pinned) */
	int pinned;     /* pin is in use (counted in x->pin_use until the reap) */
	uint64_t mem_b; /* its --mem, enforced how mem_how says */
	enum { MEM_NONE, MEM_CGROUP, MEM_RLIMIT } mem_how;
	int oom; /* the kernel's OOM killer killed in its cgroup */
	/* argv and the copy of the command follow */
};

struct path_ent {
	char *name;
	char *path;
};

struct exec {
	uv_loop_t *loop;
	struct exec_opts o;
	uv_signal_t sigchld;
	uv_timer_t close_timer;
	struct spawn_sigs dflt; /* signals a child gets with their default action */
	uint64_t dflt_at;   /* uv_now() when dflt was last brought up to date */
	struct spawner sp;  /* how children start (spawn.h) */
	pid_t self;         /* getpid(), once: a child checks its parent against it */
	int devnull;
	char *rbuf;
	struct exec_run *runs;
	size_t nruns;    /* allocated runs */
	size_t nrunning; /* runs with a job attached */
	struct path_ent cache[PATH_CACHE];
	unsigned cache_next;
	char *cache_path;  /* the PATH the cache was filled for */
	struct runtimes *rt; /* container runtimes (container.h), made at the first container job */
	char **fallback;   /* base of jobs without a snapshot (fallback_env) */
	size_t nfallback;
	cpu_set_t avail;  /* the worker's own affinity: what jobs are pinned to */
	unsigned char pin_use[CPU_SETSIZE]; /* running pinned jobs on each CPU */
	int closing;
	int close_stage;
	int cg_warned;
	int enforce; /* --mem and --cpus are enforced (MTSLURM_ENFORCE is not off) */
	int x_handles;
	void (*close_cb)(void *);
	void *close_arg;
};

static void run_maybe_complete(struct exec_run *r);
static void on_sigchld(uv_signal_t *s, int signum);

/* The list of signals a child gets back with their default action
 * (spawn.h), brought up to date at most once a second. */
static void dflt_refresh(struct exec *x)
{
	spawn_sigs_refresh(&x->dflt);
	x->dflt_at = uv_now(x->loop);
}

/* ---- setup ---- */

struct exec *exec_new(uv_loop_t *loop, const struct exec_opts *o, char *err, size_t errlen)
{
	struct exec *x = calloc(1, sizeof(*x));
	if (!x || !(x->rbuf = malloc(64 << 10))) {
		free(x);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	x->loop = loop;
	x->o = *o;
	/* /dev/null kept above fd 2 so that dup2(devnull, 0) never is a no-op */
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fd < 3) {
		int hi = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		close(fd);
		fd = hi;
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot open /dev/null: %s", strerror(errno));
		free(x->rbuf);
		free(x);
		return NULL;
	}
	x->devnull = fd;
	uv_signal_init(loop, &x->sigchld);
	uv_timer_init(loop, &x->close_timer);
	x->sigchld.data = x;
	x->close_timer.data = x;
	x->x_handles = 2;
	uv_signal_start(&x->sigchld, on_sigchld, SIGCHLD);
	spawn_init(&x->sp);
	x->self = getpid();
	dflt_refresh(x);
	const char *enf = getenv("MTSLURM_ENFORCE");
	x->enforce = !enf || !(strcmp(enf, "off") == 0 || strcmp(enf, "0") == 0 || strcmp(enf, "no") == 0);
	if (o->pin_cpus && CPU_COUNT(o->pin_cpus))
		x->avail = *o->pin_cpus;
	else if (sched_getaffinity(0, sizeof x->avail, &x->avail) < 0 || !CPU_COUNT(&x->avail)) {
		CPU_ZERO(&x->avail);
		CPU_SET(0, &x->avail);
	}
	return x;
}

/* Choose n CPUs for a pinned job: of the worker's, the least used by other
 * pinned jobs first (so jobs that fit never share), lowest first among
 * equals. More than the worker has: all of them. */
static void pin_choose(struct exec *x, int n, cpu_set_t *out)
{
	CPU_ZERO(out);
	int have = CPU_COUNT(&x->avail);
	if (n > have)
		n = have;
	for (int k = 0; k < n; k++) {
		int best = -1;
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &x->avail) && !CPU_ISSET(c, out) &&
			    (best < 0 || x->pin_use[c] < x->pin_use[best]))
				best = c;
		if (best < 0)
			break;
		CPU_SET(best, out);
	}
}

static void pin_use(struct exec *x, const cpu_set_t *set, int delta)
{
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, set) && (delta > 0 ? x->pin_use[c] < 255 : x->pin_use[c] > 0))
			x->pin_use[c] = (unsigned char)(x->pin_use[c] + delta);
}

size_t exec_running(const struct exec *x)
{
	return x ? x->nrunning : 0;
}

/* ---- the list of runs ---- */

static void runs_add(struct exec *x, struct exec_run *r)
{
	r->prev = NULL;
	r->next = x->runs;
	if (x->runs)
		x->runs->prev = r;
	x->runs = r;
}

static void runs_del(struct exec *x, struct exec_run *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		x->runs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

/* The job's process is gone: so is everything else in its cgroup now
 * (cgroup_leaf_put kills what is left), and the leaf goes back to the pool. */
static void run_release_leaf(struct exec_run *r)
{
	if (r->mem_how == MEM_CGROUP && cgroup_leaf_oom_killed(r->leaf))
		r->oom = 1;
	cgroup_leaf_put(r->x->o.cg, r->leaf);
	r->leaf = NULL;
	if (r->pinned) {
		pin_use(r->x, &r->pin, -1);
		r->pinned = 0;
	}
}

/* ---- closing ---- */

static void exec_free(struct exec *x)
{
	for (int i = 0; i < PATH_CACHE; i++) {
		free(x->cache[i].name);
		free(x->cache[i].path);
	}
	free(x->cache_path);
	free(x->fallback);
	runtimes_free(x->rt);
	spawn_fini(&x->sp);
	close(x->devnull);
	void (*cb)(void *) = x->close_cb;
	void *arg = x->close_arg;
	free(x->rbuf);
	free(x);
	if (cb)
		cb(arg);
}

static void on_x_handle_closed(uv_handle_t *h)
{
	struct exec *x = h->data;
	if (--x->x_handles == 0)
		exec_free(x);
}

static void maybe_close_x(struct exec *x)
{
	if (!x->closing || x->nruns || uv_is_closing((uv_handle_t *)&x->sigchld))
		return;
	uv_close((uv_handle_t *)&x->sigchld, on_x_handle_closed);
	uv_close((uv_handle_t *)&x->close_timer, on_x_handle_closed);
}

static void on_run_handle_closed(uv_handle_t *h)
{
	struct exec_run *r = h->data;
	if (--r->handles > 0)
		return;
	struct exec *x = r->x;
	run_release_leaf(r);
	runs_del(x, r);
	buf_release(&r->output);
	buf_release(&r->errout);
	free(r);
	x->nruns--;
	maybe_close_x(x);
}

static void close_pipe(struct exec_run *r, int i)
{
	if (!r->open[i])
		return;
	r->open[i] = 0;
	if (r->streaming)
		uv_close((uv_handle_t *)&r->pipe[i], on_run_handle_closed);
	else
		close(r->fd[i]);
}

/* ---- reporting ---- */

static void log_chunk(struct exec_run *r, enum joblog_stream s, const char *data, size_t n)
{
	struct exec *x = r->x;
	if (!x->o.log)
		return;
	joblog_writer_append(x->o.log, r->id, r->attempt, s, data, n, &r->logged[s]);
	if (x->o.log_kick)
		x->o.log_kick(x->o.arg);
}

static void report(struct exec_run *r, const struct job_result *res)
{
	struct exec *x = r->x;
	struct job *j = r->job;
	r->reported = 1;
	if (!j)
		return;
	r->job = NULL;
	j->run = NULL;
	x->nrunning--;
	job_report(j, x->o.done, x->o.arg, res);
}

/* A job that never started (bad command, missing cwd, spawn error). */
static void report_fail(struct exec *x, struct job *j, int rc, const char *error)
{
	struct job_result res = {0, "", 0, error, rc, 0, NULL, 0};
	if (j->capture_bytes)
		res.errout = "";
	job_report(j, x->o.done, x->o.arg, &res);
}

/* Trim trailing whitespace; returns the new length. */
static size_t rtrim(const char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n;
}

static void run_report(struct exec_run *r)
{
	struct job_result res = {0};
	res.output = r->output.p ? r->output.p : "";
	res.output_len = r->output.len;
	if (r->cap) {
		res.errout = r->errout.p ? r->errout.p : "";
		res.errout_len = r->errout.len;
	}
	res.rc = -1;
	char err[EXEC_STDERR_TAIL + 200];
	int sig = 0;
	if (r->status_known) {
		if (WIFEXITED(r->status)) {
			res.rc = WEXITSTATUS(r->status);
		} else if (WIFSIGNALED(r->status)) {
			sig = WTERMSIG(r->status);
			res.rc = 128 + sig;
		}
	}
	char mem[32] = "";
	if (r->mem_how != MEM_NONE)
		resource_size_format(r->mem_b, mem, sizeof mem);
	if (r->why[0]) {
		res.error = r->why;
	} else if (r->status_known && WIFEXITED(r->status) && res.rc == 0) {
		res.ok = 1;
	} else if (r->oom) {
		snprintf(err, sizeof err, "exceeded its --mem %s (killed by the kernel OOM killer)", mem);
		res.error = err;
	} else {
		int n;
		if (!r->status_known)
			n = snprintf(err, sizeof(err), "exit status unknown (reaped elsewhere)");
		else if (sig)
			n = snprintf(err, sizeof(err), "killed by signal %d (%s)", sig, strsignal(sig));
		else if (res.rc == 127)
			n = snprintf(err, sizeof(err), "exit status 127 (command not found)");
		else
			n = snprintf(err, sizeof(err), "exit status %d", res.rc);
		/* a data-size limit does not say when it was hit: the program
		 * saw an allocation fail, and what it did then is its own */
		if (r->mem_how == MEM_RLIMIT && n > 0 && (size_t)n < sizeof err)
			n += snprintf(err + n, sizeof err - (size_t)n,
				      " (it ran with --mem %s as its data-size limit, RLIMIT_DATA: an allocation "
				      "beyond it fails)",
				      mem);
		size_t tl = rtrim(r->tail, r->tail_len);
		if (tl && n > 0 && (size_t)n + tl + 3 < sizeof(err)) {
			memcpy(err + n, ": ", 2);
			memcpy(err + n + 2, r->tail, tl);
			err[n + 2 + tl] = '\0';
		}
		res.error = err;
	}
	report(r, &res);
}

static void run_maybe_complete(struct exec_run *r)
{
	if (!r->reaped || r->open[0] || r->open[1] || r->reported)
		return;
	run_report(r);
	uv_timer_stop(&r->timer);
	uv_close((uv_handle_t *)&r->timer, on_run_handle_closed);
}

/* ---- output ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct exec_run *r = h->data;
	/* one shared buffer: read callbacks run one at a time on the loop */
	b->base = r->x->rbuf;
	b->len = 64 << 10;
}

/* n bytes of stream i (0 stdout, 1 stderr) arrived. */
static void take(struct exec_run *r, int i, const char *p, size_t n)
{
	log_chunk(r, i ? JOBLOG_ERR : JOBLOG_OUT, p, n);
	size_t max = r->cap ? r->cap : EXEC_OUTPUT_MAX;
	if (i == 0) {
		if (r->output.len < max) {
			size_t room = max - r->output.len;
			buf_add(&r->output, p, n < room ? n : room);
		}
		return;
	}
	if (r->cap && r->errout.len < max) {
		size_t room = max - r->errout.len;
		buf_add(&r->errout, p, n < room ? n : room);
	}
	if (n >= EXEC_STDERR_TAIL) {
		memcpy(r->tail, p + n - EXEC_STDERR_TAIL, EXEC_STDERR_TAIL);
		r->tail_len = EXEC_STDERR_TAIL;
	} else {
		if (r->tail_len + n > EXEC_STDERR_TAIL) {
			size_t drop = r->tail_len + n - EXEC_STDERR_TAIL;
			memmove(r->tail, r->tail + drop, r->tail_len - drop);
			r->tail_len -= drop;
		}
		memcpy(r->tail + r->tail_len, p, n);
		r->tail_len += n;
	}
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct exec_run *r = s->data;
	int i = s == (uv_stream_t *)&r->pipe[1];
	if (nread > 0) {
		take(r, i, b->base, (size_t)nread);
		return;
	}
	if (nread == 0)
		return;
	/* EOF or a read error: this stream is done */
	close_pipe(r, i);
	run_maybe_complete(r);
}

/* Give the open pipes uv handles so that their output streams. */
static void start_streaming(struct exec_run *r)
{
	if (r->streaming)
		return;
	r->streaming = 1;
	for (int i = 0; i < 2; i++) {
		if (!r->open[i])
			continue;
		uv_pipe_init(r->x->loop, &r->pipe[i], 0);
		r->pipe[i].data = r;
		r->handles++;
		if (uv_pipe_open(&r->pipe[i], r->fd[i]) < 0) {
			close(r->fd[i]); /* not owned by the handle */
			r->open[i] = 1;
			close_pipe(r, i);
		} else if (uv_read_start((uv_stream_t *)&r->pipe[i], on_alloc, on_read) < 0) {
			close_pipe(r, i); /* treated as EOF */
		}
	}
}

/* At the reap of a job whose pipes are not watched: read what is left
 * without blocking. A pipe that is at EOF is closed; one that some
 * background process still holds starts streaming. */
static void read_left(struct exec_run *r)
{
	for (int round = 0; round < 64 && (r->open[0] || r->open[1]); round++) {
		struct pollfd pf[2];
		int k = 0, idx[2];
		for (int i = 0; i < 2; i++) {
			if (r->open[i]) {
				pf[k] = (struct pollfd){r->fd[i], POLLIN, 0};
				idx[k++] = i;
			}
		}
		if (poll(pf, (nfds_t)k, 0) <= 0)
			break;
		int progress = 0;
		for (int m = 0; m < k; m++) {
			int i = idx[m];
			if (pf[m].revents & POLLIN) {
				/* blocking fd, but poll said there is data or EOF */
				ssize_t n = read(r->fd[i], r->x->rbuf, 64 << 10);
				if (n > 0)
					take(r, i, r->x->rbuf, (size_t)n);
				else if (n == 0 || errno != EINTR)
					close_pipe(r, i);
				progress = 1;
			} else if (pf[m].revents & (POLLHUP | POLLERR | POLLNVAL)) {
				close_pipe(r, i);
				progress = 1;
			}
		}
		if (!progress)
			break;
	}
	if (r->open[0] || r->open[1])
		start_streaming(r);
}

/* ---- timers: timeout, kill escalation, drain ---- */

static void on_run_timer(uv_timer_t *t)
{
	struct exec_run *r = t->data;
	switch (r->tmode) {
	case T_TIMEOUT:
		if (r->job)
			snprintf(r->why, sizeof(r->why), "timed out after %g s", r->job->timeout_s);
		if (!r->reaped) {
			kill(-r->pid, SIGTERM);
			cgroup_leaf_signal(r->leaf, SIGTERM, 0);
		}
		r->tmode = T_KILL;
		uv_timer_start(&r->timer, on_run_timer, EXEC_KILL_GRACE_MS, 0);
		break;
	case T_KILL:
		kill(-r->pid, SIGKILL);
		cgroup_leaf_kill(r->leaf);
		r->tmode = T_NONE;
		break;
	case T_LAZY: {
		/* still running: stream its output from now on */
		start_streaming(r);
		r->tmode = T_NONE;
		if (r->deadline) {
			uint64_t now = uv_now(r->x->loop);
			r->tmode = T_TIMEOUT;
			uv_timer_start(&r->timer, on_run_timer, r->deadline > now ? r->deadline - now : 0, 0);
		}
		break;
	}
	case T_DRAIN:
		r->tmode = T_NONE;
		close_pipe(r, 0);
		close_pipe(r, 1);
		run_maybe_complete(r);
		break;
	case T_NONE:
		break;
	}
}

static void run_reaped(struct exec_run *r, int status, int known)
{
	r->reaped = 1;
	run_release_leaf(r);
	r->status = status;
	r->status_known = known;
	if (!r->streaming)
		read_left(r);
	if (r->open[0] || r->open[1]) {
		/* something else in the group holds the pipes: a killed job's
		 * leftovers go now; a finished job gets EXEC_DRAIN_MS */
		if (r->why[0])
			kill(-r->pid, SIGKILL);
		r->tmode = T_DRAIN;
		uv_timer_start(&r->timer, on_run_timer, EXEC_DRAIN_MS, 0);
	} else {
		uv_timer_stop(&r->timer);
		r->tmode = T_NONE;
	}
	run_maybe_complete(r);
}

static void on_sigchld(uv_signal_t *s, int signum)
{
	struct exec *x = s->data;
	struct exec_run *r = x->runs, *next;
	for (; r; r = next) {
		next = r->next;
		if (r->reaped)
			continue;
		/* The job is over when its process is: before reaping it (its
		 * zombie keeps the group id from being reused) kill what is left
		 * of its group -- a `cmd &` that outlived it */
		siginfo_t si;
		si.si_pid = 0;
		if (waitid(P_PID, (id_t)r->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == r->pid)
			kill(-r->pid, SIGKILL);
		int st;
		pid_t p = waitpid(r->pid, &st, WNOHANG);
		if (p == r->pid)
			run_reaped(r, st, 1);
		else if (p < 0 && errno == ECHILD)
			run_reaped(r, 0, 0); /* someone else's waitpid(-1) took it */
	}
	maybe_close_x(x);
}

/* ---- command line ---- */

static int is_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("_./=:,+@%-", c) != NULL;
}

/* Words that only make sense to a shell, so "exit 3" or "cd /x" go to sh. */
static int shell_word(const char *w, size_t n)
{
	static const char *const words[] = {
		"exit", "cd", "export", "set", "unset", "source", ".", "alias", "eval", "exec",
		"readonly", "shift", "trap", "wait", "ulimit", "umask", "return", "break",
		"continue", "times", "type", "hash", "read", "local", "getopts", "command",
		"if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done",
		"case", "esac", "function", "select", "unalias", "jobs", "fg", "bg", NULL};
	for (int i = 0; words[i]; i++)
		if (strlen(words[i]) == n && memcmp(words[i], w, n) == 0)
			return 1;
	return 0;
}

/* Direct exec is possible when the line is plain words separated by spaces,
 * the first of which is neither an assignment nor a shell builtin. Returns the
 * number of words, 0 for "use the shell" (or an empty line). */
static size_t count_direct_words(const char *s, size_t n)
{
	size_t words = 0, i = 0;
	for (size_t k = 0; k < n; k++)
		if (s[k] != ' ' && !is_plain((unsigned char)s[k]))
			return 0;
	while (i < n) {
		while (i < n && s[i] == ' ')
			i++;
		if (i == n)
			break;
		size_t st = i;
		while (i < n && s[i] != ' ')
			i++;
		if (words == 0 && (memchr(s + st, '=', i - st) || shell_word(s + st, i - st)))
			return 0;
		words++;
	}
	return words;
}

/* Find name on pathvar; result in out. 0 found, -1 not found. */
static int search_path(const char *name, const char *pathvar, char *out, size_t outlen)
{
	if (!pathvar)
		pathvar = "/usr/local/bin:/usr/bin:/bin";
	const char *p = pathvar;
	for (;;) {
		const char *e = strchr(p, ':');
		size_t dl = e ? (size_t)(e - p) : strlen(p);
		int n = dl ? snprintf(out, outlen, "%.*s/%s", (int)dl, p, name)
			   : snprintf(out, outlen, "./%s", name);
		struct stat st;
		if (n > 0 && (size_t)n < outlen && stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(out, X_OK) == 0)
			return 0;
		if (!e)
			return -1;
		p = e + 1;
	}
}

static const char *cache_get(struct exec *x, const char *name)
{
	for (int i = 0; i < PATH_CACHE && x->cache[i].name; i++)
		if (strcmp(x->cache[i].name, name) == 0)
			return x->cache[i].path;
	return NULL;
}

static void cache_put(struct exec *x, const char *name, const char *path)
{
	unsigned i = x->cache_next++ % PATH_CACHE;
	char *n = strdup(name), *p = strdup(path);
	if (!n || !p) {
		free(n);
		free(p);
		return;
	}
	free(x->cache[i].name);
	free(x->cache[i].path);
	x->cache[i].name = n;
	x->cache[i].path = p;
}

static void cache_drop(struct exec *x, const char *name)
{
	for (int i = 0; i < PATH_CACHE && x->cache[i].name; i++) {
		if (strcmp(x->cache[i].name, name) == 0) {
			/* keep the table dense: overwrite with a path that fails */
			free(x->cache[i].path);
			x->cache[i].path = strdup("/nonexistent/.mtslurm-dropped");
		}
	}
}

/* The cache holds paths found on one PATH: a job with another PATH (another
 * submitter's) starts it afresh. 1 if it may be used for pathvar. */
static int cache_for_path(struct exec *x, const char *pathvar)
{
	if (!pathvar)
		pathvar = "";
	if (x->cache_path && strcmp(x->cache_path, pathvar) == 0)
		return 1;
	for (int i = 0; i < PATH_CACHE; i++) {
		free(x->cache[i].name);
		free(x->cache[i].path);
		x->cache[i].name = x->cache[i].path = NULL;
	}
	x->cache_next = 0;
	free(x->cache_path);
	x->cache_path = strdup(pathvar);
	return x->cache_path != NULL;
}

/* The base of a job that came without a snapshot (a client that speaks the
 * protocol itself and sent no "envk"): the worker's environment without
 * what was set for mtslurm's own processes -- launcher variables and every
 * OMPI_MCA_* (mtslurm start's btl and interface choices). Built once. */
static char **fallback_env(struct exec *x, size_t *n)
{
	if (!x->fallback) {
		char **base = x->o.env ? x->o.env : environ;
		size_t nb = 0;
		while (base[nb])
			nb++;
		char **v = malloc((nb + 1) * sizeof *v);
		if (!v)
			return NULL;
		size_t k = 0;
		for (size_t i = 0; i < nb; i++)
			if (!jobenv_launcher_var(base[i]) && strncmp(base[i], "OMPI_MCA_", 9) != 0)
				v[k++] = base[i];
		v[k] = NULL;
		x->fallback = v;
		x->nfallback = k;
	}
	*n = x->nfallback;
	return x->fallback;
}

/* The variables the worker sets per job (job_env); 1 if kv is one of them
 * or in the job's own "env" list, which win over the base. */
static int worker_sets(const struct job *j, const char *kv)
{
	static const char *const own[] = {"MTSLURM_JOB_ID", "MTSLURM_ATTEMPT", "MTSLURM_WORKER", "MTSLURM_RUN_DIR"};
	static const char *const gpu[] = {"MTSLURM_GPUS", "CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"};
	size_t nl = strcspn(kv, "=");
	if (nl > 8 && strncmp(kv, "MTSLURM_", 8) == 0)
		for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
			if (strlen(own[i]) == nl && strncmp(kv, own[i], nl) == 0)
				return 1;
	/* the GPUs it was given are facts too: no one else's list wins */
	for (size_t i = 0; j->gpus && i < sizeof gpu / sizeof gpu[0]; i++)
		if (strlen(gpu[i]) == nl && strncmp(kv, gpu[i], nl) == 0)
			return 1;
	return j->cwd && nl == 3 && strncmp(kv, "PWD", 3) == 0;
}

/* MTSLURM_GPUS, CUDA_VISIBLE_DEVICES and (AMD's) ROCR_VISIBLE_DEVICES of
 * a job given GPUs: exactly the ids the master chose. */
static size_t gpu_env(const struct job *j, char **env, size_t k, char **p, char *end)
{
	static const char *const names[] = {"MTSLURM_GPUS", "CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"};
	for (size_t i = 0; j->gpus && i < (j->gpus_amd ? 3u : 2u); i++) {
		int n = snprintf(*p, (size_t)(end - *p), "%s=%s", names[i], j->gpus);
		env[k++] = *p;
		*p += n + 1;
	}
	return k;
}

static int job_sets(const struct job *j, const char *kv)
{
	size_t nl = strcspn(kv, "=");
	if (worker_sets(j, kv))
		return 1;
	for (size_t m = 0; m < j->nenv; m++)
		if (strncmp(j->env[m], kv, nl) == 0 && j->env[m][nl] == '=')
			return 1;
	return 0;
}

/* The job's environment (docs/user-guide.md, "The environment a job sees"):
 * its snapshot's base (envcache.c: the submitter's variables or the minimal
 * set, with the worker's SLURM_*) or, without one, fallback_env; then the
 * job's "env" list; then MTSLURM_JOB_ID, MTSLURM_ATTEMPT, MTSLURM_WORKER,
 * MTSLURM_RUN_DIR and PWD (= the working directory). A new array with its
 * strings in the same allocation: free() it. NULL on OOM. */
static char **job_env(struct exec *x, const struct job *j, const char **pathvar)
{
	size_t nb = 0;
	char **base = j->envbase ? j->envbase->base : fallback_env(x, &nb);
	if (!base)
		return NULL;
	if (j->envbase)
		nb = j->envbase->n;
	const char *wid = x->o.worker_id ? x->o.worker_id : "";
	const char *rd = x->o.run_dir ? x->o.run_dir : "";
	size_t sbytes = 96 + strlen(wid) + 16 + strlen(rd) + 18 + (j->cwd ? strlen(j->cwd) + 5 : 0) +
			(j->gpus ? 3 * (strlen(j->gpus) + 24) : 0);
	size_t nmax = nb + j->nenv + 9;
	char **env = malloc(nmax * sizeof(char *) + sbytes);
	if (!env)
		return NULL;
	char *p = (char *)(env + nmax), *end = p + sbytes;
	size_t k = 0;
	for (size_t i = 0; i < nb; i++)
		if (!job_sets(j, base[i]))
			env[k++] = base[i];
	for (size_t m = 0; m < j->nenv; m++) /* the worker's own are the job's facts */
		if (strchr(j->env[m], '=') && !worker_sets(j, j->env[m]))
			env[k++] = (char *)j->env[m];
	int n = snprintf(p, (size_t)(end - p), "MTSLURM_JOB_ID=%lld", (long long)j->id);
	env[k++] = p;
	p += n + 1;
	n = snprintf(p, (size_t)(end - p), "MTSLURM_ATTEMPT=%d", j->attempt);
	env[k++] = p;
	p += n + 1;
	n = snprintf(p, (size_t)(end - p), "MTSLURM_WORKER=%s", wid);
	env[k++] = p;
	p += n + 1;
	n = snprintf(p, (size_t)(end - p), "MTSLURM_RUN_DIR=%s", rd);
	env[k++] = p;
	p += n + 1;
	k = gpu_env(j, env, k, &p, end);
	if (j->cwd) {
		snprintf(p, (size_t)(end - p), "PWD=%s", j->cwd);
		env[k++] = p;
	}
	env[k] = NULL;
	*pathvar = NULL;
	for (size_t i = 0; i < k && !*pathvar; i++)
		if (strncmp(env[i], "PATH=", 5) == 0)
			*pathvar = env[i] + 5;
	return env;
}

static int fd_above_2(int fd)
{
	if (fd > 2)
		return fd;
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return hi;
}

static int make_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	p[0] = fd_above_2(p[0]);
	p[1] = fd_above_2(p[1]);
	if (p[0] < 0 || p[1] < 0) {
		if (p[0] >= 0)
			close(p[0]);
		if (p[1] >= 0)
			close(p[1]);
		return -1;
	}
	return 0;
}

/* ---- start ---- */

/* What a job runs: its words (or sh -c LINE), the program resolved on its
 * PATH, and for a job with ranks the launcher line around them. The
 * buffers live here so that argv may point into them. */
struct plan {
	char **argv;
	const char *prog;
	const char *pathvar; /* the job's PATH */
	int direct;          /* argv is the command's own words (no shell) */
	int cached;          /* prog came from the worker's PATH cache */
	char **cargv;        /* the container runtime's argv (free it), or NULL */
	const char *runtime; /* ... and the runtime's name */
	char found[PATH_MAX];
	char *largv[64 + 4];
	char lbuf[512], jobid[48], nranks[16], launcher[PATH_MAX];
};

/* What makes a job fail before anything is started: an empty command, an
 * environment this worker was not sent, a working directory that is not
 * one. 0, or -1 with why in why. */
static int precheck(const struct job *j, int direct, char *why, size_t n)
{
	if (!direct) {
		size_t k = 0;
		while (k < j->input_len && (j->input[k] == ' ' || j->input[k] == '\t' || j->input[k] == '\n'))
			k++;
		if (k == j->input_len)
			return snprintf(why, n, "empty command"), -1;
	}
	if (j->env_missing)
		return snprintf(why, n,
				"this worker was not sent environment snapshot %u with the job (a reconnect in "
				"between?); submit it again",
				(unsigned)j->env_missing),
		       -1;
	struct stat st;
	if (j->cwd && stat(j->cwd, &st) < 0)
		return snprintf(why, n, "working directory %s does not exist", j->cwd), -1;
	if (j->cwd && !S_ISDIR(st.st_mode))
		return snprintf(why, n, "working directory %s is not a directory", j->cwd), -1;
	return 0;
}

/* The run record, with room after it for argv and a copy of the command
 * line that argv points into: the command's words, or sh -c LINE. */
static struct exec_run *run_alloc(const struct job *j, size_t words, char ***argv_out)
{
	size_t cl = j->input_len, nargv = words ? words + 1 : 4;
	struct exec_run *r = calloc(1, sizeof(*r) + nargv * sizeof(char *) + cl + 1);
	if (!r)
		return NULL;
	char **argv = (char **)(r + 1);
	char *line = (char *)(argv + nargv);
	memcpy(line, j->input, cl + 1);
	if (words) {
		size_t w = 0;
		for (char *p = line; *p;) {
			while (*p == ' ')
				*p++ = '\0';
			if (!*p)
				break;
			argv[w++] = p;
			while (*p && *p != ' ')
				p++;
		}
		argv[w] = NULL;
	} else {
		argv[0] = "sh";
		argv[1] = "-c";
		argv[2] = line;
		argv[3] = NULL;
	}
	*argv_out = argv;
	return r;
}

/* The program of a direct command on the job's PATH, cached while that is
 * the worker's own. 0, or 127 with "command not found" in why. */
static int resolve_prog(struct exec *x, struct plan *p, char *why, size_t n)
{
	p->prog = p->direct ? p->argv[0] : "/bin/sh";
	if (!p->direct || strchr(p->argv[0], '/'))
		return 0;
	int use_cache = cache_for_path(x, p->pathvar);
	const char *c = use_cache ? cache_get(x, p->argv[0]) : NULL;
	if (c) {
		p->prog = c;
		p->cached = 1;
		return 0;
	}
	if (search_path(p->argv[0], p->pathvar, p->found, sizeof(p->found)) != 0)
		return snprintf(why, n, "command not found: %s", p->argv[0]), 127;
	p->prog = p->found;
	if (use_cache)
		cache_put(x, p->argv[0], p->found);
	return 0;
}

/* A job in a container: its words (or sh -c LINE) become the {command} of
 * its runtime's template, and the runtime's program is what runs (found
 * on the job's PATH by resolve_prog; the command itself is looked up
 * inside the image). 0, or -1 with why in why. */
static int wrap_container(struct exec *x, struct plan *p, const struct job *j, char *why, size_t n)
{
	if (!x->rt && !(x->rt = runtimes_new(x->o.run_dir, NULL)))
		return snprintf(why, n, "out of memory"), -1;
	if (container_wrap(x->rt, j, p->argv, p->pathvar, &p->cargv, &p->runtime, why, n))
		return -1;
	if (p->cargv) {
		p->argv = p->cargv;
		p->direct = 1;
	}
	return 0;
}

/* A multi-rank job: its program under srun (inside Slurm: a step of the
 * worker's own allocation that may share its CPUs, --overlap) or mpirun
 * (outside). 0, or -1 with why in why. */
static int wrap_ranks(struct plan *p, const struct job *j, char *why, size_t n)
{
	const char *sj = getenv("SLURM_JOB_ID");
	int k = 0, nw = 0;
	while (p->argv[nw])
		nw++;
	if (nw > 48)
		return snprintf(why, n, "too many words for a job with ranks (%d, at most 48)", nw), -1;
	const char *lname = sj && *sj ? "srun" : "mpirun";
	if (search_path(lname, p->pathvar, p->launcher, sizeof(p->launcher)) != 0)
		return snprintf(why, n, "%s not found on PATH: a job with ranks needs it", lname), -1;
	snprintf(p->nranks, sizeof(p->nranks), "%d", j->ranks);
	p->largv[k++] = p->launcher;
	if (sj && *sj) {
		snprintf(p->jobid, sizeof(p->jobid), "--jobid=%s", sj);
		p->largv[k++] = "--overlap";
		p->largv[k++] = p->jobid;
		p->largv[k++] = "--kill-on-bad-exit=1";
		const char *extra = getenv("MTSLURM_SRUN_ARGS");
		util_strlcpy(p->lbuf, extra && *extra ? extra : "--mpi=pmix", sizeof(p->lbuf));
		for (char *save = NULL, *t = strtok_r(p->lbuf, " \t", &save); t && k < 16;
		     t = strtok_r(NULL, " \t", &save))
			p->largv[k++] = t;
	} else {
		p->largv[k++] = "--oversubscribe";
		if (geteuid() == 0)
			p->largv[k++] = "--allow-run-as-root";
	}
	p->largv[k++] = "-n";
	p->largv[k++] = p->nranks;
	p->largv[k++] = (char *)p->prog;
	for (int i = 1; p->argv[i]; i++)
		p->largv[k++] = p->argv[i];
	p->largv[k] = NULL;
	p->argv = p->largv;
	p->prog = p->launcher;
	p->direct = 1;
	p->cached = 0;
	return 0;
}

/* Why a spawn failed (e: its errno), as the job's error; the job's exit
 * status for it (127 not found, 126 not executable, else -1). */
static int spawn_error(char *why, size_t n, int e, const struct spawn_req *q, const struct job *j,
		       const struct plan *p)
{
	const char *what = p->direct ? p->argv[0] : p->prog;
	if (!q->in_exec && j->cwd && e != EAGAIN && e != ENOMEM)
		snprintf(why, n, "cannot enter working directory %s: %s", j->cwd, strerror(e));
	else if (!q->in_exec)
		snprintf(why, n, "cannot start a process: %s", strerror(e));
	else if (e == ENOENT && p->direct)
		return snprintf(why, n, "command not found: %s", p->argv[0]), 127;
	else if (e == EACCES)
		return snprintf(why, n, "permission denied: %s", what), 126;
	else
		snprintf(why, n, "cannot run %s: %s", what, strerror(e));
	return -1;
}

/* The job's process runs: track it (its pipes are read lazily, its
 * timeout armed). */
static void run_begin(struct exec *x, struct job *j, struct exec_run *r, pid_t pid, struct cgroup_leaf *leaf,
		      int out_fd, int err_fd)
{
	r->x = x;
	r->job = j;
	r->id = j->id;
	r->attempt = j->attempt;
	r->pid = pid;
	r->leaf = leaf;
	r->cap = j->capture_bytes;
	j->run = r;
	x->nruns++;
	x->nrunning++;
	runs_add(x, r);
	uv_timer_init(x->loop, &r->timer);
	r->timer.data = r;
	r->handles = 1;
	r->fd[0] = out_fd;
	r->fd[1] = err_fd;
	r->open[0] = r->open[1] = 1;
	uint64_t lazy = EXEC_LAZY_MS;
	if (j->timeout_s > 0) {
		/* counted from t0_ms when the job waited for its checkout first */
		uint64_t ms = (uint64_t)(j->timeout_s * 1000.0), now = uv_now(x->loop);
		uint64_t from = j->t0_ms && j->t0_ms <= now ? j->t0_ms : now;
		r->deadline = from + (ms ? ms : 1);
		if (r->deadline <= now)
			r->deadline = now + 1;
		if (r->deadline - now < lazy)
			lazy = r->deadline - now;
	}
	r->tmode = T_LAZY;
	uv_timer_start(&r->timer, on_run_timer, lazy, 0);
}

/* Spawn q (into leaf's cgroup); a program the PATH cache named that went
 * away is looked up once more. The pid, or -1 with the errno in *e. */
static pid_t spawn_job(struct exec *x, struct spawn_req *q, struct plan *p, int *e)
{
	pid_t pid = spawn_start(&x->sp, q);
	*e = pid < 0 ? q->err_no : 0;
	if (*e == ENOENT && p->cached) {
		cache_drop(x, p->argv[0]);
		if (search_path(p->argv[0], p->pathvar, p->found, sizeof(p->found)) == 0) {
			cache_put(x, p->argv[0], p->found);
			q->prog = p->found;
			pid = spawn_start(&x->sp, q);
			*e = pid < 0 ? q->err_no : 0;
		}
	}
	return pid;
}

/* Enforce the job's --mem and --cpus: in its cgroup leaf where the memory
 * and cpu controllers are on (memory.max, cpu.max), else --mem as the
 * child's RLIMIT_DATA (docs/user-guide.md, "Resources": why not RLIMIT_AS)
 * and --cpus by nothing beyond --pin. */
static void limit_job(struct exec *x, const struct job *j, struct exec_run *r, struct cgroup_leaf *leaf,
		      struct spawn_req *q)
{
	int got = cgroup_leaf_limit(x->o.cg, leaf, j->res_mem_b, (uint32_t)j->res_cpus);
	if (!j->res_mem_b)
		return;
	r->mem_b = j->res_mem_b;
	if (got & CGROUP_LIMIT_MEM) {
		r->mem_how = MEM_CGROUP;
		q->cg_mem_b = j->res_mem_b;
	} else {
		r->mem_how = MEM_RLIMIT;
		q->data_b = j->res_mem_b;
	}
}

/* The steps after parsing: wrap for a container, resolve the program,
 * wrap for MPI ranks (outside the container: mpirun starts N runtimes).
 * 0, or the exit status to report (-1, 127) with why. */
static int plan_program(struct exec *x, struct plan *p, const struct job *j, char *why, size_t n)
{
	int rc = container_wanted(j) ? wrap_container(x, p, j, why, n) : 0;
	if (!rc && (rc = resolve_prog(x, p, why, n)) == 127 && p->runtime)
		snprintf(why, n, "container runtime %s: its program %.200s is not on the job's PATH on this node "
			 "(install it, or choose another runtime)", p->runtime, p->argv[0]);
	if (!rc && j->ranks > 1)
		rc = wrap_ranks(p, j, why, n);
	return rc;
}

void exec_start(struct exec *x, struct job *j)
{
	char msgbuf[PATH_MAX + 128];
	struct plan p = {0};
	size_t words = count_direct_words(j->input, j->input_len);
	p.direct = words > 0;
	if (precheck(j, p.direct, msgbuf, sizeof msgbuf)) {
		report_fail(x, j, -1, msgbuf);
		return;
	}
	struct exec_run *r = run_alloc(j, words, &p.argv);
	char **env = r ? job_env(x, j, &p.pathvar) : NULL;
	if (!env) {
		free(r);
		report_fail(x, j, -1, "out of memory");
		return;
	}
	int rc = plan_program(x, &p, j, msgbuf, sizeof msgbuf);
	int po[2] = {-1, -1}, pe[2] = {-1, -1};
	if (!rc && (make_pipe(po) < 0 || make_pipe(pe) < 0)) {
		snprintf(msgbuf, sizeof(msgbuf), "cannot create a pipe: %s", strerror(errno));
		rc = -1;
	}
	if (rc) {
		for (int i = 0; i < 2; i++) {
			if (po[i] >= 0)
				close(po[i]);
			if (pe[i] >= 0)
				close(pe[i]);
		}
		free(env);
		free(r);
		free(p.cargv);
		report_fail(x, j, rc, msgbuf);
		return;
	}
	if (uv_now(x->loop) - x->dflt_at >= 1000)
		dflt_refresh(x);
	struct cgroup_leaf *leaf = cgroup_leaf_get(x->o.cg);
	struct spawn_req q = {.prog = p.prog, .argv = p.argv, .env = env, .in = x->devnull, .out = po[1],
			      .err = pe[1], .cwd = j->cwd, .dflt = &x->dflt, .ppid = x->self,
			      .cg_fd = cgroup_leaf_procs_fd(leaf), .cg_dir = cgroup_leaf_dir_fd(leaf)};
	if (j->pin_cpus) {
		pin_choose(x, j->pin_cpus, &r->pin);
		q.pin = &r->pin;
	}
	if (x->enforce && (j->res_mem_b || j->res_cpus))
		limit_job(x, j, r, leaf, &q);
	int e;
	pid_t pid = spawn_job(x, &q, &p, &e);
	close(po[1]);
	close(pe[1]);
	free(env);
	if (e || q.cg_err) {
		if (r->mem_how == MEM_CGROUP) /* the child took q.data_b instead */
			r->mem_how = MEM_RLIMIT;
		if (!e && !x->cg_warned++)
			log_warn("job %lld could not enter its cgroup (%s): it runs in its process group only",
				 (long long)j->id, strerror(q.cg_err));
		cgroup_leaf_put(x->o.cg, leaf);
		leaf = NULL;
	}
	if (e) {
		close(po[0]);
		close(pe[0]);
		rc = spawn_error(msgbuf, sizeof msgbuf, e, &q, j, &p);
		free(p.cargv);
		free(r);
		report_fail(x, j, rc, msgbuf);
		return;
	}
	free(p.cargv);
	if (q.pin) {
		r->pinned = 1;
		pin_use(x, &r->pin, +1);
	}
	run_begin(x, j, r, pid, leaf, po[0], pe[0]);
}

/* ---- stopping ---- */

void exec_kill(struct exec *x, struct job *j, const char *why)
{
	struct exec_run *r = j->run;
	if (!r || r->reported)
		return;
	if (!r->why[0])
		util_strlcpy(r->why, why, sizeof(r->why));
	if (r->reaped)
		return; /* only its pipes are draining; the report follows */
	start_streaming(r); /* what it prints on its way out must not block it */
	kill(-r->pid, SIGTERM);
	cgroup_leaf_signal(r->leaf, SIGTERM, 0); /* daemons that left the group too */
	r->tmode = T_KILL;
	uv_timer_start(&r->timer, on_run_timer, EXEC_KILL_GRACE_MS, 0);
}

/* Forget one run's job and stop its process as exec_abandon_all does. */
static void run_abandon(struct exec *x, struct exec_run *r, int sig)
{
	if (r->job) {
		r->job->run = NULL;
		r->job = NULL;
		x->nrunning--;
	}
	if (r->reaped)
		return;
	kill(-r->pid, sig);
	if (sig == SIGKILL)
		cgroup_leaf_kill(r->leaf);
	else
		cgroup_leaf_signal(r->leaf, sig, 0);
	if (sig != SIGKILL && !r->reported) {
		r->tmode = T_KILL;
		uv_timer_start(&r->timer, on_run_timer, EXEC_KILL_GRACE_MS, 0);
	}
}

void exec_abandon(struct exec *x, struct job *j)
{
	struct exec_run *r = j->run;
	if (r && r->job == j)
		run_abandon(x, r, SIGTERM);
}

void exec_abandon_all(struct exec *x, int sig)
{
	for (struct exec_run *r = x->runs; r; r = r->next)
		run_abandon(x, r, sig);
}

/* Close deadline: stage 1 SIGKILLs what survived SIGTERM, stage 2 stops
 * waiting for children that cannot be reaped (stuck in the kernel). */
static void on_close_timer(uv_timer_t *t)
{
	struct exec *x = t->data;
	if (x->close_stage++ == 0) {
		for (struct exec_run *r = x->runs; r; r = r->next)
			if (!r->reaped) {
				kill(-r->pid, SIGKILL);
				cgroup_leaf_kill(r->leaf);
			}
		uv_timer_start(&x->close_timer, on_close_timer, EXEC_KILL_GRACE_MS, 0);
		return;
	}
	struct exec_run *r, *next;
	for (r = x->runs; r; r = next) {
		next = r->next;
		if (!r->reaped)
			run_reaped(r, 0, 0);
		if (r->open[0] || r->open[1]) {
			r->tmode = T_DRAIN; /* finish draining now */
			on_run_timer(&r->timer);
		}
	}
	maybe_close_x(x);
}

void exec_close(struct exec *x, void (*cb)(void *arg), void *arg)
{
	x->closing = 1;
	x->close_cb = cb;
	x->close_arg = arg;
	exec_abandon_all(x, SIGTERM);
	uv_timer_start(&x->close_timer, on_close_timer, EXEC_KILL_GRACE_MS, 0);
	maybe_close_x(x);
}
