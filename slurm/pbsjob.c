/* SPDX-License-Identifier: MIT */
/*
 * pbsjob: PBS jobs through qsub, qstat and qdel. See pbsjob.h. The script
 * carries every request as #PBS directives, because that is the one form
 * PBS Pro, Torque and Slurm's wrappers all read; values are checked against
 * a narrow alphabet first, since Slurm's wrappers paste them into a shell
 * command line of their own.
 */
#include "pbsjob.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "msg.h"

extern char **environ;

#define CMD_OUT_CAP (1u << 20)

static void say(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *err, size_t n, const char *fmt, ...)
{
	if (!err || !n)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
}

/* ---- values ---- */

/* s is non-empty, at most max bytes, and every byte is alnum or in extra. */
static int charset_ok(const char *s, const char *extra, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(extra, s[i]))
			return 0;
	return 1;
}

long pbsjob_parse_walltime(const char *s)
{
	if (!s || !*s)
		return -1;
	long f[3];
	int nf = 0;
	const char *p = s;
	while (1) {
		size_t len = strspn(p, "0123456789");
		if (len == 0 || len > 9 || nf == 3)
			return -1;
		f[nf++] = strtol(p, NULL, 10);
		p += len;
		if (*p == '\0')
			break;
		if (*p != ':')
			return -1;
		p++;
	}
	/* A later field is a remainder: "1:75" is a typo, not 2:15. */
	for (int i = 1; i < nf; i++)
		if (f[i] > 59)
			return -1;
	long sec = 0;
	for (int i = 0; i < nf; i++)
		sec = sec * 60 + f[i];
	if (sec <= 0 || sec > 10L * 366 * 86400)
		return -1;
	return sec;
}

long pbsjob_parse_mem(const char *s)
{
	if (!s || !*s || !isdigit((unsigned char)*s))
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || v > (1ULL << 40))
		return -1;
	unsigned long long kb;
	switch (tolower((unsigned char)*end)) {
	case '\0': kb = v * 1024; break;
	case 'k': kb = v; end++; break;
	case 'm': kb = v * 1024; end++; break;
	case 'g': kb = v * 1024 * 1024; end++; break;
	case 't': kb = v * 1024 * 1024 * 1024; end++; break;
	default: return -1;
	}
	if (tolower((unsigned char)*end) == 'b')
		end++;
	if (*end || kb == 0 || kb / 1024 > (unsigned long long)LONG_MAX / 4)
		return -1;
	return (long)((kb + 1023) / 1024);
}

/* ---- rendering ---- */

/* Append s to b single-quoted for sh: ' becomes '\''. */
static int add_quoted(struct buf *b, const char *s)
{
	int rc = buf_add(b, "'", 1);
	for (const char *p = s; *p && rc == 0; p++)
		rc = *p == '\'' ? buf_add(b, "'\\''", 4) : buf_add(b, p, 1);
	return rc ? rc : buf_add(b, "'", 1);
}

/* Paths go unquoted into #PBS lines and Slurm's wrapper shell: a plain
 * absolute path only (a ':' would read as host:path to PBS). */
static int path_ok(const char *p)
{
	return p[0] == '/' && charset_ok(p, "/._+,=@%-", 900);
}

static int check_spec(const struct pbsjob_spec *s, char *err, size_t errlen)
{
	if (s->name && (!isalpha((unsigned char)s->name[0]) || !charset_ok(s->name, "_.+-", 236)))
		return say(err, errlen, "bad job name '%s': a letter first, then letters, digits or _.+- (at most 236)", s->name), -1;
	if (s->queue && !charset_ok(s->queue, "_.-@", 200))
		return say(err, errlen, "bad queue '%s': letters, digits or _.-@ only", s->queue), -1;
	if (s->account && !charset_ok(s->account, "_.+-@:/", 200))
		return say(err, errlen, "bad account '%s': letters, digits or _.+-@:/ only", s->account), -1;
	if (s->walltime && pbsjob_parse_walltime(s->walltime) < 0)
		return say(err, errlen, "bad walltime '%s': give SS, MM:SS or HH:MM:SS (e.g. 2:00:00)", s->walltime), -1;
	if (s->mem && pbsjob_parse_mem(s->mem) < 0)
		return say(err, errlen, "bad mem '%s': give MB (4000) or a size with a unit (4G, 512mb)", s->mem), -1;
	if (s->select) {
		if (s->style != PBSJOB_SELECT)
			return say(err, errlen, "a select statement needs the PBS Pro style (-l select=); Torque takes nodes and ppn"), -1;
		if (s->nodes || s->ncpus || s->mem)
			return say(err, errlen, "give either a select statement or nodes/ncpus/mem, not both"), -1;
		if (!charset_ok(s->select, ":=+._-", 900))
			return say(err, errlen, "bad select '%s': chunks like 2:ncpus=8:mem=4gb joined by +", s->select), -1;
	}
	if (s->style != PBSJOB_SELECT && s->style != PBSJOB_NODES)
		return say(err, errlen, "unknown PBS resource style %d", (int)s->style), -1;
	if (!s->work_dir || !path_ok(s->work_dir))
		return say(err, errlen, "bad work directory '%s': an absolute path of letters, digits and /._+,=@%%- only",
			   s->work_dir ? s->work_dir : "(none)"), -1;
	if (s->out_path && !path_ok(s->out_path))
		return say(err, errlen, "bad output path '%s': an absolute path of letters, digits and /._+,=@%%- only", s->out_path), -1;
	if (!s->script || !*s->script)
		return say(err, errlen, "no job script given"), -1;
	for (const char *const *e = s->env; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (!eq || eq == *e || isdigit((unsigned char)**e) || strspn(*e, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != (size_t)(eq - *e))
			return say(err, errlen, "bad environment entry '%.60s': want NAME=value with NAME of letters, digits and _", *e), -1;
	}
	return 0;
}

static int render_resources(struct buf *b, const struct pbsjob_spec *s)
{
	uint32_t n = s->nodes ? s->nodes : 1, c = s->ncpus ? s->ncpus : 1;
	long mb = s->mem ? pbsjob_parse_mem(s->mem) : 0;
	int rc = 0;
	if (s->walltime) {
		long t = pbsjob_parse_walltime(s->walltime);
		rc |= buf_addf(b, "#PBS -l walltime=%02ld:%02ld:%02ld\n", t / 3600, t / 60 % 60, t % 60);
	}
	if (s->style == PBSJOB_NODES) {
		rc |= buf_addf(b, "#PBS -l nodes=%u:ppn=%u\n", n, c);
		if (mb) /* Torque's mem is the whole job's */
			rc |= buf_addf(b, "#PBS -l mem=%lldmb\n", (long long)mb * n);
	} else if (s->select) {
		rc |= buf_addf(b, "#PBS -l select=%s\n", s->select);
	} else {
		rc |= buf_addf(b, "#PBS -l select=%u:ncpus=%u", n, c);
		if (mb)
			rc |= buf_addf(b, ":mem=%ldmb", mb);
		rc |= buf_add(b, "\n", 1);
		if (n > 1) /* else PBS Pro may pack the chunks on one host */
			rc |= buf_addf(b, "#PBS -l place=scatter\n");
	}
	return rc;
}

int pbsjob_render(const struct pbsjob_spec *s, char **out, char *err, size_t errlen)
{
	*out = NULL;
	if (check_spec(s, err, errlen) < 0)
		return -1;
	struct buf b;
	buf_init(&b);
	const char *body = s->script;
	int rc = 0;
	if (strncmp(body, "#!", 2) == 0) { /* the interpreter line stays first */
		size_t len = strcspn(body, "\n");
		rc |= buf_add(&b, body, len);
		rc |= buf_add(&b, "\n", 1);
		body += len + (body[len] == '\n');
	} else {
		rc |= buf_addf(&b, "#!/bin/sh\n");
	}
	if (s->name)
		rc |= buf_addf(&b, "#PBS -N %s\n", s->name);
	if (s->queue)
		rc |= buf_addf(&b, "#PBS -q %s\n", s->queue);
	if (s->account)
		rc |= buf_addf(&b, "#PBS -A %s\n", s->account);
	rc |= render_resources(&b, s);
	rc |= buf_addf(&b, "#PBS -o %s\n#PBS -j oe\n", s->out_path ? s->out_path : "/dev/null");
	/* PBS starts a job in $HOME (Slurm's wrapper: in qsub's directory). */
	rc |= buf_addf(&b, "cd ");
	rc |= add_quoted(&b, s->work_dir);
	rc |= buf_addf(&b, " || exit 1\n");
	for (const char *const *e = s->env; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		rc |= buf_addf(&b, "export %.*s=", (int)(eq - *e), *e);
		rc |= add_quoted(&b, eq + 1);
		rc |= buf_add(&b, "\n", 1);
	}
	rc |= buf_adds(&b, body);
	if (rc) {
		buf_release(&b);
		return say(err, errlen, "out of memory rendering the PBS script"), -1;
	}
	*out = buf_detach(&b, NULL);
	if (!*out)
		return say(err, errlen, "out of memory rendering the PBS script"), -1;
	return 0;
}

/* ---- running a command ---- */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pbsjob_cmd_release(struct pbsjob_cmd *r)
{
	if (!r)
		return;
	free(r->out);
	free(r->errout);
	r->out = r->errout = NULL;
}

/* Read what is there on fd into b (up to the cap; the rest is drained).
 * 1 at EOF or error, else 0. */
static int drain(int fd, struct buf *b)
{
	char chunk[8192];
	ssize_t n = read(fd, chunk, sizeof chunk);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : 1;
	if (n == 0)
		return 1;
	if (b->len < CMD_OUT_CAP)
		buf_add(b, chunk, b->len + (size_t)n > CMD_OUT_CAP ? CMD_OUT_CAP - b->len : (size_t)n);
	return 0;
}

static pid_t spawn(const char *const *argv, const char *cwd, int out_fd, int err_fd, char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
	if (cwd)
		posix_spawn_file_actions_addchdir_np(&fa, cwd);
	/* Its own process group, so a timeout kills what it started too
	 * (Slurm's qsub is perl running sbatch); signals as a fresh program. */
	sigset_t none, deflt;
	sigemptyset(&none);
	sigemptyset(&deflt);
	sigaddset(&deflt, SIGPIPE);
	sigaddset(&deflt, SIGCHLD);
	sigaddset(&deflt, SIGINT);
	sigaddset(&deflt, SIGTERM);
	sigaddset(&deflt, SIGHUP);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &deflt);
	pid_t pid;
	int e = posix_spawnp(&pid, argv[0], &fa, &at, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (e == 0)
		return pid;
	if (e == ENOENT && cwd && access(cwd, X_OK) != 0)
		say(err, errlen, "cannot run %s in %s: %s", argv[0], cwd, strerror(errno));
	else if (e == ENOENT)
		say(err, errlen, "%s: not found on PATH", argv[0]);
	else
		say(err, errlen, "cannot run %s: %s", argv[0], strerror(e));
	return -1;
}

/* Wait for pid, at most until deadline_ms; then SIGKILL its group and
 * reap it. Its exit status, 128+signal, or -1 if it was killed for time.
 * A command that exited in time while something it started still holds
 * its output open keeps its status; the stragglers are killed. */
static int reap(pid_t pid, long long deadline_ms)
{
	int status = -1;
	for (;;) {
		/* WNOWAIT: the leader stays unreaped, so its pid (the group's
		 * id) cannot be reused before the group is killed below. */
		siginfo_t si;
		memset(&si, 0, sizeof si);
		int w = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
		if (w == 0 && si.si_pid == pid) {
			status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
			break;
		}
		if ((w < 0 && errno != EINTR) || now_ms() >= deadline_ms)
			break;
		usleep(5000);
	}
	kill(-pid, SIGKILL); /* what it started may outlive it */
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return status;
}

int pbsjob_run(const char *const *argv, const char *cwd, int timeout_ms, struct pbsjob_cmd *r,
	       char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	int po[2], pe[2];
	if (pipe2(po, O_CLOEXEC) < 0)
		return say(err, errlen, "cannot run %s: pipe: %s", argv[0], strerror(errno)), -1;
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(po[0]);
		close(po[1]);
		return say(err, errlen, "cannot run %s: pipe: %s", argv[0], strerror(errno)), -1;
	}
	pid_t pid = spawn(argv, cwd, po[1], pe[1], err, errlen);
	close(po[1]);
	close(pe[1]);
	if (pid < 0) {
		close(po[0]);
		close(pe[0]);
		return -1;
	}
	long long deadline = now_ms() + timeout_ms;
	struct buf ob = BUF_INIT, eb = BUF_INIT;
	struct pollfd pf[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
	int open_fds = 2;
	while (open_fds > 0) {
		long long left = deadline - now_ms();
		if (left <= 0)
			break;
		int n = poll(pf, 2, (int)left);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2 && n > 0; i++)
			if (pf[i].fd >= 0 && pf[i].revents && drain(pf[i].fd, i ? &eb : &ob)) {
				close(pf[i].fd);
				pf[i].fd = -1;
				open_fds--;
			}
	}
	for (int i = 0; i < 2; i++)
		if (pf[i].fd >= 0)
			close(pf[i].fd);
	r->status = reap(pid, deadline);
	r->out = buf_detach(&ob, NULL);
	r->errout = buf_detach(&eb, NULL);
	if (!r->out || !r->errout) {
		pbsjob_cmd_release(r);
		return say(err, errlen, "out of memory running %s", argv[0]), -1;
	}
	return 0;
}

/* ---- what a command said ---- */

/* The line of r that says best what went wrong: stderr's last line, else
 * stdout's last line naming an error (Slurm's qsub prints sbatch's errors
 * on stdout, amid its own), else stdout's last line. Trimmed of blanks
 * and the wrapper's quotes. */
static void cmd_line(const struct pbsjob_cmd *r, char *line, size_t n)
{
	const char *best = NULL;
	size_t best_len = 0;
	for (int pass = 0; pass < 3 && !best; pass++) {
		const char *t = pass == 0 ? r->errout : r->out;
		for (const char *p = t; p && *p;) {
			size_t len = strcspn(p, "\n");
			size_t skip = strspn(p, " \t'");
			int has_text = 0;
			for (size_t i = skip; i < len; i++)
				has_text |= isalnum((unsigned char)p[i]);
			int wanted = pass != 1 || memmem(p, len, "error", 5) || memmem(p, len, "fatal", 5);
			if (has_text && wanted) {
				best = p + skip;
				best_len = len - skip;
			}
			p += len + (p[len] == '\n');
		}
	}
	while (best_len && (isspace((unsigned char)best[best_len - 1]) || best[best_len - 1] == '\''))
		best_len--;
	if (!best)
		snprintf(line, n, "exit status %d, no message", r->status);
	else
		snprintf(line, n, "%.*s", (int)best_len, best);
}

static int cmd_says(const struct pbsjob_cmd *r, const char *const *words)
{
	for (; *words; words++)
		if (strcasestr(r->out, *words) || strcasestr(r->errout, *words))
			return 1;
	return 0;
}

/* The server is down or busy: trying later may work. */
static const char *const transient_words[] = {
	"unable to contact", "cannot connect", "connection refused", "communication failure",
	"timed out", "try again", "temporarily", "server is busy", "pbs_iff",
	"problem loading", /* Slurm's qstat when slurmctld does not answer */
	NULL,
};
/* PBSE_UNKJOBID is 15001: qstat and qdel exit with 15001 & 0xff. */
#define EXIT_UNKNOWN_JOB 153
static const char *const unknown_words[] = {"unknown job id", NULL};
static const char *const finished_words[] = {"job has finished", "has already finished", NULL};

static int id_ok(const char *id)
{
	return id && isdigit((unsigned char)id[0]) && charset_ok(id, "._-[]@", 200);
}

/* ---- submitting ---- */

static int write_script(const struct pbsjob_spec *s, const char *text, char *path, size_t pathlen,
			char *err, size_t errlen)
{
	int n = snprintf(path, pathlen, "%s/%s.pbs.XXXXXX", s->work_dir, s->name ? s->name : "mtslurm");
	if (n < 0 || (size_t)n >= pathlen)
		return say(err, errlen, "work directory path too long: %s", s->work_dir), -1;
	int fd = mkstemp(path);
	if (fd < 0)
		return say(err, errlen, "cannot write the PBS script in %s: %s", s->work_dir, strerror(errno)), -1;
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			say(err, errlen, "cannot write %s: %s", path, strerror(errno));
			close(fd);
			unlink(path);
			return -1;
		}
		off += (size_t)w;
	}
	fchmod(fd, 0700);
	close(fd);
	return 0;
}

/* qsub prints the id as its last line ("1234.server"; Slurm's: "1234"). */
static int parse_id(const char *out, char *id, size_t idlen)
{
	const char *last = NULL;
	size_t last_len = 0;
	for (const char *p = out; *p;) {
		size_t len = strcspn(p, "\n");
		size_t lead = strspn(p, " \t");
		size_t tlen = len - lead;
		while (tlen && isspace((unsigned char)p[lead + tlen - 1]))
			tlen--;
		if (tlen) {
			last = p + lead;
			last_len = tlen;
		}
		p += len + (p[len] == '\n');
	}
	if (!last || last_len >= idlen)
		return -1;
	memcpy(id, last, last_len);
	id[last_len] = '\0';
	return id_ok(id) ? 0 : -1;
}

int pbsjob_submit(const struct pbsjob_spec *s, char *id, size_t idlen, char *err, size_t errlen)
{
	if (idlen)
		id[0] = '\0';
	char *text;
	if (pbsjob_render(s, &text, err, errlen) < 0)
		return -1;
	char path[PATH_MAX];
	int rc = write_script(s, text, path, sizeof path, err, errlen);
	free(text);
	if (rc < 0)
		return -1;
	const char *argv[] = {"qsub", "-j", "oe", "-o", s->out_path ? s->out_path : "/dev/null", path, NULL};
	struct pbsjob_cmd r;
	rc = pbsjob_run(argv, s->work_dir, PBSJOB_TIMEOUT_MS, &r, err, errlen);
	unlink(path);
	if (rc < 0)
		return -1;
	char line[400];
	cmd_line(&r, line, sizeof line);
	if (r.status == -1) {
		say(err, errlen, "qsub did not answer within %d s; the job may or may not exist", PBSJOB_TIMEOUT_MS / 1000);
		rc = -2;
	} else if (r.status != 0) {
		rc = cmd_says(&r, transient_words) ? -2 : -1;
		say(err, errlen, rc == -2 ? "qsub failed, try again later: %s" : "qsub refused the job: %s", line);
	} else if (parse_id(r.out, id, idlen) < 0) {
		say(err, errlen, "qsub printed no job id: %s", line);
		rc = -1;
	}
	pbsjob_cmd_release(&r);
	return rc;
}

/* ---- reading qstat ---- */

/* The attributes of `qstat -f` that matter here, text or JSON alike. */
enum attr_key {
	A_STATE, A_QUEUE, A_COMMENT, A_EXEC_HOST, A_WALLTIME, A_NODECT, A_NCPUS,
	A_STIME, A_START_TIME, A_EST_START, A_MTIME, A_CTIME, A_OBITTIME, A_COMP_TIME,
	A_SERVER, A_COUNT
};

static const struct {
	const char *name;
	enum attr_key key;
} attr_names[] = {
	{"job_state", A_STATE},
	{"queue", A_QUEUE},
	{"comment", A_COMMENT},
	{"exec_host", A_EXEC_HOST},
	{"Resource_List.walltime", A_WALLTIME},
	{"Resource_List.nodect", A_NODECT},
	{"Resource_List.ncpus", A_NCPUS},
	{"stime", A_STIME},                    /* PBS Pro: started */
	{"start_time", A_START_TIME},          /* Torque: started */
	{"estimated.start_time", A_EST_START}, /* PBS Pro: queued, expected start */
	{"mtime", A_MTIME},                    /* wrappers: started (PBS: modified) */
	{"ctime", A_CTIME},                    /* wrappers: end (PBS: created) */
	{"obittime", A_OBITTIME},              /* PBS Pro: ended */
	{"comp_time", A_COMP_TIME},            /* Torque: ended */
	{"server", A_SERVER},                  /* a real server prints it; the wrappers do not */
};

struct attrs {
	char *v[A_COUNT];
};

static void attrs_release(struct attrs *a)
{
	for (int i = 0; i < A_COUNT; i++)
		free(a->v[i]);
}

/* Set (or, append: continue) attribute name; names not in the table are
 * skipped. The index of the attribute, or -1. */
static int attrs_put(struct attrs *a, const char *name, size_t name_len, const char *val, size_t len)
{
	for (size_t i = 0; i < sizeof attr_names / sizeof attr_names[0]; i++) {
		if (strlen(attr_names[i].name) != name_len || memcmp(attr_names[i].name, name, name_len) != 0)
			continue;
		int k = attr_names[i].key;
		free(a->v[k]);
		a->v[k] = strndup(val, len);
		return a->v[k] ? k : -1;
	}
	return -1;
}

static void attrs_append(struct attrs *a, int k, const char *val, size_t len)
{
	size_t old = strlen(a->v[k]);
	char *p = realloc(a->v[k], old + len + 1);
	if (!p)
		return;
	memcpy(p + old, val, len);
	p[old + len] = '\0';
	a->v[k] = p;
}

/* "Mon Nov 30 18:06:06 2026" (local time) or seconds since the epoch. */
static time_t parse_time(const char *s)
{
	if (!s || !*s)
		return 0;
	if (strspn(s, "0123456789") == strlen(s))
		return (time_t)strtoll(s, NULL, 10);
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *end = strptime(s, "%a %b %d %H:%M:%S %Y", &tm);
	if (!end)
		return 0;
	tm.tm_isdst = -1;
	time_t t = mktime(&tm);
	return t < 0 ? 0 : t;
}

static const struct {
	char letter;
	enum pbsjob_state state;
	const char *name;
} state_letters[] = {
	{'Q', PBSJOB_PENDING, "QUEUED"},   {'H', PBSJOB_PENDING, "HELD"},
	{'W', PBSJOB_PENDING, "WAITING"},  {'T', PBSJOB_PENDING, "TRANSIT"},
	{'R', PBSJOB_RUNNING, "RUNNING"},  {'B', PBSJOB_RUNNING, "BEGUN"},
	{'S', PBSJOB_RUNNING, "SUSPENDED"}, {'U', PBSJOB_RUNNING, "USER_SUSPENDED"},
	{'E', PBSJOB_ENDING, "EXITING"},   {'C', PBSJOB_ENDED, "COMPLETED"},
	{'F', PBSJOB_ENDED, "FINISHED"},   {'X', PBSJOB_ENDED, "EXPIRED"},
	{'M', PBSJOB_ENDED, "MOVED"},
};

/* exec_host "n1/1+n2/1" (wrappers), "n1/0*2+n2/0*2" (PBS Pro),
 * "n1/0+n1/1+n2/0" or "n1/0-1+n2/0-1" (Torque): the distinct hosts. */
static void exec_hosts(const char *s, struct pbsjob_info *info)
{
	char *out = info->nodes;
	size_t cap = sizeof info->nodes, used = 0;
	for (const char *p = s; *p;) {
		size_t part = strcspn(p, "+");
		size_t host = strcspn(p, "/+");
		int seen = 0;
		for (const char *q = out; q < out + used && !seen;) { /* out is "a,b,c" */
			size_t l = strcspn(q, ",");
			seen = l == host && memcmp(q, p, host) == 0;
			q += l + 1;
		}
		if (!seen && host) {
			if (used + (used ? 1 : 0) + host + 1 > cap)
				break;
			if (used)
				out[used++] = ',';
			memcpy(out + used, p, host);
			used += host;
			out[used] = '\0';
			info->nnodes++;
		}
		p += part + (p[part] == '+');
	}
}

static void attrs_to_info(const struct attrs *a, struct pbsjob_info *info)
{
	const char *st = a->v[A_STATE] ? a->v[A_STATE] : "";
	info->state = PBSJOB_UNKNOWN;
	info->state_letter = st[0];
	snprintf(info->state_name, sizeof info->state_name, "%s", st);
	for (size_t i = 0; i < sizeof state_letters / sizeof state_letters[0]; i++)
		if (state_letters[i].letter == st[0]) {
			info->state = state_letters[i].state;
			snprintf(info->state_name, sizeof info->state_name, "%s", state_letters[i].name);
		}
	snprintf(info->reason, sizeof info->reason, "%s", a->v[A_COMMENT] ? a->v[A_COMMENT] : "");
	snprintf(info->queue, sizeof info->queue, "%s", a->v[A_QUEUE] ? a->v[A_QUEUE] : "");
	if (a->v[A_EXEC_HOST])
		exec_hosts(a->v[A_EXEC_HOST], info);
	if (!info->nnodes && a->v[A_NODECT])
		info->nnodes = (uint32_t)strtoul(a->v[A_NODECT], NULL, 10);
	if (a->v[A_NCPUS])
		info->ncpus = (uint32_t)strtoul(a->v[A_NCPUS], NULL, 10);
	long w = a->v[A_WALLTIME] ? pbsjob_parse_walltime(a->v[A_WALLTIME]) : -1;
	info->walltime_s = w > 0 ? w : 0;
	/* A real server's mtime and ctime are "modified" and "created"; only
	 * Slurm's wrappers (no `server` line) print start and end there. */
	int wrapper = a->v[A_SERVER] == NULL;
	info->start = parse_time(a->v[A_STIME]);
	if (!info->start)
		info->start = parse_time(a->v[A_START_TIME]);
	if (!info->start && wrapper && info->state != PBSJOB_PENDING)
		info->start = parse_time(a->v[A_MTIME]);
	if (!info->start && info->state == PBSJOB_PENDING)
		info->start = parse_time(a->v[A_EST_START]);
	info->end = parse_time(a->v[A_OBITTIME]);
	if (!info->end)
		info->end = parse_time(a->v[A_COMP_TIME]);
	if (!info->end && wrapper && info->state != PBSJOB_PENDING)
		info->end = parse_time(a->v[A_CTIME]);
	if (!info->end && info->start && info->walltime_s)
		info->end = info->start + info->walltime_s;
}

/* A line "<blanks>name = value": the name's length and where the value
 * starts, else 0. */
static size_t attr_line(const char *p, size_t len, const char **name, const char **val)
{
	size_t lead = strspn(p, " \t");
	if (lead == 0 || lead >= len)
		return 0;
	size_t n = 0;
	while (lead + n < len && (isalnum((unsigned char)p[lead + n]) || strchr("_.", p[lead + n])))
		n++;
	if (n == 0 || lead + n + 3 > len || memcmp(p + lead + n, " = ", 3) != 0)
		return 0;
	*name = p + lead;
	*val = p + lead + n + 3;
	return n;
}

int pbsjob_parse_qstat(const char *text, struct pbsjob_info *info, char *err, size_t errlen)
{
	memset(info, 0, sizeof *info);
	struct attrs a = {{0}};
	int in_job = 0, cur = -1;
	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");
		const char *name, *val;
		size_t nlen;
		if (strncmp(p, "Job Id:", 7) == 0) {
			if (in_job)
				break; /* one job only */
			in_job = 1;
		} else if (in_job && (nlen = attr_line(p, len, &name, &val)) > 0) {
			cur = attrs_put(&a, name, nlen, val, len - (size_t)(val - p));
		} else if (in_job && cur >= 0 && (*p == '\t' || *p == ' ')) {
			/* PBS Pro and Torque wrap long values onto lines that
			 * start with a tab; the break may fall inside a word. */
			size_t lead = strspn(p, " \t");
			attrs_append(&a, cur, p + lead, len - lead);
		} else {
			cur = -1;
		}
		p += len + (p[len] == '\n');
	}
	if (!in_job || !a.v[A_STATE]) {
		attrs_release(&a);
		return say(err, errlen, "qstat printed no job (no 'Job Id:' with a job_state)"), -1;
	}
	attrs_to_info(&a, info);
	attrs_release(&a);
	return 0;
}

/* One attribute of the JSON form: numbers as their text, objects
 * (Resource_List, estimated) flattened to "Resource_List.walltime". */
static void json_attr(struct attrs *a, const char *prefix, const msg *m)
{
	char name[128];
	snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", msg_key(m));
	if (msg_is_object(m) && !*prefix) {
		for (const msg *c = msg_child(m); c; c = msg_next(c))
			json_attr(a, name, c);
	} else if (msg_is_str(m)) {
		attrs_put(a, name, strlen(name), msg_str(m), strlen(msg_str(m)));
	} else if (msg_is_num(m)) {
		char num[32];
		snprintf(num, sizeof num, "%.0f", msg_num(m));
		attrs_put(a, name, strlen(name), num, strlen(num));
	}
}

int pbsjob_parse_qstat_json(const char *json, struct pbsjob_info *info, char *err, size_t errlen)
{
	memset(info, 0, sizeof *info);
	char perr[160];
	msg *m = msg_parse(json, strlen(json), perr, sizeof perr);
	if (!m)
		return say(err, errlen, "qstat -F json printed no JSON: %s", perr), -1;
	const msg *job = msg_child(msg_get(m, "Jobs"));
	if (!job || !msg_is_object(job)) {
		msg_free(m);
		return say(err, errlen, "qstat -F json printed no job (no \"Jobs\" object)"), -1;
	}
	struct attrs a = {{0}};
	for (const msg *c = msg_child(job); c; c = msg_next(c))
		json_attr(&a, "", c);
	/* pbs_server sits at the top in the JSON form. */
	const char *srv = msg_get_str(m, "pbs_server");
	if (srv && !a.v[A_SERVER])
		attrs_put(&a, "server", 6, srv, strlen(srv));
	int rc = 0;
	if (!a.v[A_STATE]) {
		say(err, errlen, "qstat -F json printed a job without job_state");
		rc = -1;
	} else {
		attrs_to_info(&a, info);
	}
	attrs_release(&a);
	msg_free(m);
	return rc;
}

/* ---- query, cancel, available ---- */

/* Does `qstat -F json` work here: 0 not tried yet, 1 yes, -1 no (Torque,
 * Slurm's wrappers, PBS Pro before 18). Learnt once per process. */
static atomic_int json_works;

static void set_state(struct pbsjob_info *info, enum pbsjob_state st, const char *name)
{
	memset(info, 0, sizeof *info);
	info->state = st;
	snprintf(info->state_name, sizeof info->state_name, "%s", name);
}

/* What a failed qstat (or qdel) means for the job: 0 when it settles the
 * question (info set: forgotten or finished), -2 transient, -1 otherwise. */
static int failed_answer(const struct pbsjob_cmd *r, const char *what, struct pbsjob_info *info,
			 char *err, size_t errlen)
{
	char line[300];
	cmd_line(r, line, sizeof line);
	if (r->status == -1)
		return say(err, errlen, "%s did not answer within %d s", what, PBSJOB_TIMEOUT_MS / 1000), -2;
	if (cmd_says(r, finished_words))
		return set_state(info, PBSJOB_ENDED, "FINISHED"), 0;
	if (r->status == EXIT_UNKNOWN_JOB || cmd_says(r, unknown_words))
		return set_state(info, PBSJOB_UNKNOWN, "UNKNOWN"), 0;
	say(err, errlen, "%s failed: %s", what, line);
	return cmd_says(r, transient_words) ? -2 : -1;
}

static const char *const option_words[] = {"option", "usage", NULL};

/* `qstat -f -F json ID`: 0 or -2/-1 as pbsjob_query, or 1 when JSON is
 * not spoken here (then the text form is asked). */
static int query_json(const char *id, struct pbsjob_info *info, char *err, size_t errlen)
{
	const char *argv[] = {"qstat", "-f", "-F", "json", id, NULL};
	struct pbsjob_cmd r;
	if (pbsjob_run(argv, NULL, PBSJOB_TIMEOUT_MS, &r, err, errlen) < 0)
		return -1;
	int rc;
	if (r.status == 0 && pbsjob_parse_qstat_json(r.out, info, err, errlen) == 0) {
		atomic_store(&json_works, 1);
		rc = 0;
	} else if (r.status != 0 && atomic_load(&json_works) == 0 && cmd_says(&r, option_words)) {
		atomic_store(&json_works, -1);
		rc = 1;
	} else if (r.status == 0) {
		rc = atomic_load(&json_works) == 1 ? -1 : 1; /* err says why */
		if (rc == 1)
			atomic_store(&json_works, -1);
	} else {
		rc = failed_answer(&r, "qstat", info, err, errlen);
	}
	pbsjob_cmd_release(&r);
	return rc;
}

int pbsjob_query(const char *id, struct pbsjob_info *info, char *err, size_t errlen)
{
	memset(info, 0, sizeof *info);
	if (!id_ok(id))
		return say(err, errlen, "bad PBS job id '%s': digits first, then letters, digits or ._-[]@", id ? id : ""), -1;
	if (atomic_load(&json_works) >= 0) {
		int rc = query_json(id, info, err, errlen);
		if (rc <= 0)
			return rc;
	}
	const char *argv[] = {"qstat", "-f", id, NULL};
	struct pbsjob_cmd r;
	if (pbsjob_run(argv, NULL, PBSJOB_TIMEOUT_MS, &r, err, errlen) < 0)
		return -1;
	int rc;
	if (r.status != 0)
		rc = failed_answer(&r, "qstat", info, err, errlen);
	else
		rc = pbsjob_parse_qstat(r.out, info, err, errlen);
	pbsjob_cmd_release(&r);
	return rc;
}

int pbsjob_cancel(const char *id, char *err, size_t errlen)
{
	if (!id_ok(id))
		return say(err, errlen, "bad PBS job id '%s': digits first, then letters, digits or ._-[]@", id ? id : ""), -1;
	const char *argv[] = {"qdel", id, NULL};
	struct pbsjob_cmd r;
	if (pbsjob_run(argv, NULL, PBSJOB_TIMEOUT_MS, &r, err, errlen) < 0)
		return -1;
	if (r.status == 0) {
		pbsjob_cmd_release(&r);
		return 0;
	}
	/* Slurm's qdel fails silently for an ended job; PBS's says why. Either
	 * way the job's state decides. */
	struct pbsjob_info info;
	char line[300];
	cmd_line(&r, line, sizeof line);
	int rc = failed_answer(&r, "qdel", &info, err, errlen);
	if (rc == 0 || r.status == -1) {
		pbsjob_cmd_release(&r);
		return rc;
	}
	pbsjob_cmd_release(&r);
	char qerr[300];
	int q = pbsjob_query(id, &info, qerr, sizeof qerr);
	if (q == 0 && info.state != PBSJOB_PENDING && info.state != PBSJOB_RUNNING)
		return 0;
	if (q == 0)
		say(err, errlen, "qdel %s failed and the job is still %s: %s", id, info.state_name, line);
	return q == -2 ? -2 : -1;
}

int pbsjob_on_path(const char *prog)
{
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/bin:/bin";
	char full[PATH_MAX];
	for (const char *p = path; *p;) {
		size_t len = strcspn(p, ":");
		int n = snprintf(full, sizeof full, "%.*s/%s", (int)len, len ? p : ".", prog);
		if (n > 0 && (size_t)n < sizeof full && access(full, X_OK) == 0)
			return 1;
		p += len + (p[len] == ':');
	}
	return 0;
}

int pbsjob_available(char *err, size_t errlen)
{
	static const char *const progs[] = {"qsub", "qstat", "qdel"};
	for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++)
		if (!pbsjob_on_path(progs[i]))
			return say(err, errlen, "no PBS here: %s is not on PATH (install PBS's client commands, or use another backend)",
				   progs[i]), -1;
	const char *argv[] = {"qstat", "-Q", NULL};
	struct pbsjob_cmd r;
	if (pbsjob_run(argv, NULL, PBSJOB_TIMEOUT_MS, &r, err, errlen) < 0)
		return -1;
	int rc = 0;
	if (r.status != 0) {
		char line[300];
		cmd_line(&r, line, sizeof line);
		if (r.status == -1)
			say(err, errlen, "the PBS server does not answer: qstat -Q took over %d s", PBSJOB_TIMEOUT_MS / 1000);
		else
			say(err, errlen, "the PBS server does not answer: qstat -Q: %s", line);
		rc = -1;
	}
	pbsjob_cmd_release(&r);
	return rc;
}

/* ---- the node file ---- */

static int add_host(struct pbsjob_host **hosts, size_t *n, size_t *cap, const char *name, size_t len)
{
	for (size_t i = 0; i < *n; i++)
		if (strlen((*hosts)[i].name) == len && memcmp((*hosts)[i].name, name, len) == 0)
			return (*hosts)[i].slots++, 0;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct pbsjob_host *h = realloc(*hosts, nc * sizeof *h);
		if (!h)
			return -1;
		*hosts = h;
		*cap = nc;
	}
	memcpy((*hosts)[*n].name, name, len);
	(*hosts)[*n].name[len] = '\0';
	(*hosts)[*n].slots = 1;
	(*n)++;
	return 0;
}

int pbsjob_nodefile(const char *path, struct pbsjob_host **hosts, size_t *nhosts, char *err, size_t errlen)
{
	*hosts = NULL;
	*nhosts = 0;
	if (!path)
		path = getenv("PBS_NODEFILE");
	if (!path || !*path)
		return say(err, errlen, "PBS_NODEFILE is not set: not inside a PBS job"), -1;
	FILE *f = fopen(path, "r");
	if (!f)
		return say(err, errlen, "cannot read the PBS node file %s: %s", path, strerror(errno)), -1;
	char *line = NULL;
	size_t lcap = 0, cap = 0;
	ssize_t len;
	int rc = 0, lineno = 0;
	while (rc == 0 && (len = getline(&line, &lcap, f)) >= 0) {
		lineno++;
		size_t lead = strspn(line, " \t");
		size_t n = strcspn(line + lead, " \t\r\n");
		if (n == 0)
			continue;
		if (n >= sizeof((*hosts)->name)) {
			say(err, errlen, "%s line %d: host name longer than %zu bytes", path, lineno, sizeof((*hosts)->name) - 1);
			rc = -1;
		} else if (add_host(hosts, nhosts, &cap, line + lead, n) < 0) {
			say(err, errlen, "out of memory reading %s", path);
			rc = -1;
		}
	}
	free(line);
	fclose(f);
	if (rc == 0 && *nhosts == 0) {
		say(err, errlen, "the PBS node file %s names no host", path);
		rc = -1;
	}
	if (rc < 0) {
		free(*hosts);
		*hosts = NULL;
		*nhosts = 0;
	}
	return rc;
}
