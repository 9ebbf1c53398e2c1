/* SPDX-License-Identifier: MIT */
/*
 * localjob: the batch table's "local" entry -- an allocation is a batch
 * script run here by /bin/sh, detached (its own session, so that cancel
 * ends it with all it started and it outlives the command that submitted
 * it). Its id is "PID@START" (START: the process's start time in clock
 * ticks since boot, /proc/PID/stat field 22), so that a pid the kernel has
 * given to another process since is never taken for the job: such a job
 * has ended, and cancel leaves the other process alone. There is no queue
 * and no time limit here: walltime, queue, account and the like are
 * ignored; a local job runs until its script ends or it is cancelled.
 * The script's environment says which job it is (MTSLURM_LOCAL_JOB, the
 * table's alloc_env: a worker it starts tells the master's autoscaler its
 * allocation, as SLURM_JOB_ID does) and how many tasks it was asked for
 * (MTSLURM_BATCH_NTASKS, as pbsbatch.c's jobs have it).
 */
#include "batch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

extern char **environ;

static int parse_id(const char *id, long *pid, unsigned long long *start, char *err, size_t n)
{
	char *end;
	errno = 0;
	*pid = id ? strtol(id, &end, 10) : 0;
	if (*pid > 0 && !errno && *end == '@') {
		const char *s = end + 1;
		*start = strtoull(s, &end, 10);
		if (end != s && !*end && !errno)
			return 0;
	}
	snprintf(err, n, "'%.64s' is not a local job id (PID@START)", id ? id : "");
	return -1;
}

/* out_path with every "%j" replaced by id. */
static void out_name(char *dst, size_t n, const char *path, const char *id)
{
	size_t k = 0;
	for (const char *p = path; *p && k + 1 < n; p++) {
		if (p[0] == '%' && p[1] == 'j') {
			k += (size_t)snprintf(dst + k, n - k, "%s", id);
			p++;
		} else {
			dst[k++] = *p;
		}
	}
	dst[k < n ? k : n - 1] = '\0';
}

#define LOCAL_JOB_ENV "MTSLURM_LOCAL_JOB"

/* The job's environment: env (or this process's) without our two
 * variables, then MTSLURM_BATCH_NTASKS=ntasks and a free slot (filled by
 * run_job with MTSLURM_LOCAL_JOB=ID once the id is known), NULL-ended.
 * Built before fork: the master submits from a thread pool. NULL: no
 * memory. */
static char **job_env(char *const *env, uint32_t ntasks, char *ntasks_var, size_t n)
{
	size_t k = 0, i = 0;
	while (env[k])
		k++;
	char **v = calloc(k + 3, sizeof *v);
	if (!v)
		return NULL;
	for (size_t j = 0; j < k; j++)
		if (strncmp(env[j], LOCAL_JOB_ENV "=", sizeof LOCAL_JOB_ENV) != 0 &&
		    strncmp(env[j], "MTSLURM_BATCH_NTASKS=", 21) != 0)
			v[i++] = env[j];
	snprintf(ntasks_var, n, "MTSLURM_BATCH_NTASKS=%u", ntasks ? ntasks : 1);
	v[i++] = ntasks_var;
	v[i] = NULL; /* the slot run_job fills */
	return v;
}

/* In the grandchild: become the job -- its own session, the working
 * directory, output, then the shell. On failure, says why on fd and exits. */
static void run_job(const struct batch_spec *s, char **env, int fd)
{
	char id[BATCH_ID_MAX], out[4096], why[600], idvar[BATCH_ID_MAX + 32];
	unsigned long long start = 0;
	char st;
	setsid();
	util_proc_stat((long)getpid(), &start, &st);
	snprintf(id, sizeof id, "%ld@%llu", (long)getpid(), start);
	snprintf(idvar, sizeof idvar, LOCAL_JOB_ENV "=%s", id);
	size_t k = 0;
	while (env[k])
		k++;
	env[k] = idvar; /* job_env left this slot and the NULL after it */
	out_name(out, sizeof out, s->out_path ? s->out_path : "/dev/null", id);
	int o = -1;
	if (chdir(s->work_dir) != 0)
		snprintf(why, sizeof why, "E cannot enter %.400s: %s", s->work_dir, strerror(errno));
	else if ((o = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
		snprintf(why, sizeof why, "E cannot open %.400s: %s", out, strerror(errno));
	if (o >= 0) {
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (in >= 0 && in != 0)
			dup2(in, 0);
		dup2(o, 1);
		dup2(o, 2);
		char *argv[] = {"sh", "-c", (char *)s->script, NULL};
		execve("/bin/sh", argv, env);
		snprintf(why, sizeof why, "E cannot run /bin/sh: %s", strerror(errno));
	}
	ssize_t w = write(fd, why, strlen(why));
	(void)w;
	_exit(127);
}

/* Reads what the submitting child and the job wrote: "PID@START\n", then
 * "E why" if the job could not start. */
static int read_start(int fd, char id[BATCH_ID_MAX], char *err, size_t errlen)
{
	char text[800];
	size_t k = 0;
	ssize_t n;
	while (k + 1 < sizeof text && ((n = read(fd, text + k, sizeof text - 1 - k)) > 0 || (n < 0 && errno == EINTR)))
		k += n > 0 ? (size_t)n : 0;
	text[k] = '\0';
	char *nl = strchr(text, '\n');
	if (!nl) {
		snprintf(err, errlen, "cannot start a local job: fork failed");
		return -1;
	}
	*nl = '\0';
	if (nl[1] == 'E') {
		snprintf(err, errlen, "the local job did not start: %s", nl + 3);
		return -1;
	}
	util_strlcpy(id, text, BATCH_ID_MAX);
	return 0;
}

static int local_submit(const struct batch_spec *s, char id[BATCH_ID_MAX], char *err, size_t errlen)
{
	if (!s->script || !s->work_dir) {
		snprintf(err, errlen, "a local job needs a script and a working directory");
		return -1;
	}
	if (s->nextra) {
		snprintf(err, errlen, "%s: the local backend takes no batch-system options", s->extra[0]);
		return -1;
	}
	int p[2];
	char ntasks_var[48];
	char **env = job_env(s->env ? s->env : environ, s->ntasks, ntasks_var, sizeof ntasks_var);
	if (!env || pipe2(p, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "cannot start a local job: %s", env ? strerror(errno) : "out of memory");
		free(env);
		return -1;
	}
	pid_t a = fork();
	if (a == 0) { /* the middle child: exits at once, so the job is nobody's child */
		close(p[0]);
		pid_t b = fork();
		if (b == 0)
			run_job(s, env, p[1]);
		unsigned long long start = 0;
		char st, line[BATCH_ID_MAX + 2];
		if (b > 0)
			util_proc_stat((long)b, &start, &st);
		int n = b > 0 ? snprintf(line, sizeof line, "%ld@%llu\n", (long)b, start) : 0;
		ssize_t w = n > 0 ? write(p[1], line, (size_t)n) : 0;
		_exit(w == n && b > 0 ? 0 : 1);
	}
	close(p[1]);
	free(env);
	if (a < 0) {
		close(p[0]);
		snprintf(err, errlen, "cannot start a local job: %s", strerror(errno));
		return -1;
	}
	int rc = read_start(p[0], id, err, errlen);
	close(p[0]);
	while (waitpid(a, NULL, 0) < 0 && errno == EINTR)
		;
	return rc;
}

static int local_query(const char *id, struct batch_info *info, char *err, size_t errlen)
{
	long pid;
	unsigned long long want, start;
	char st = 0;
	memset(info, 0, sizeof *info);
	if (parse_id(id, &pid, &want, err, errlen))
		return -1;
	if (util_proc_stat(pid, &start, &st) == 0 && start == want && st != 'Z' && st != 'X') {
		info->state = BATCH_RUNNING;
		util_strlcpy(info->state_name, "RUNNING", sizeof info->state_name);
		util_nodename(info->nodes, sizeof info->nodes);
		info->nnodes = 1;
	} else {
		info->state = BATCH_ENDED;
		util_strlcpy(info->state_name, "ENDED", sizeof info->state_name);
	}
	return 0;
}

/* SIGTERM to the job's session (its shell and all it started: mpirun
 * passes it on to its ranks), SIGKILL to what is left after 3 s. */
static int local_cancel(const char *id, char *err, size_t errlen)
{
	struct batch_info in;
	long pid;
	unsigned long long start;
	if (parse_id(id, &pid, &start, err, errlen) || local_query(id, &in, err, errlen))
		return -1;
	if (in.state != BATCH_RUNNING)
		return 0;
	kill(-(pid_t)pid, SIGTERM);
	for (int ms = 0; ms < 3000 && kill(-(pid_t)pid, 0) == 0; ms += 20)
		usleep(20 * 1000);
	/* the session is ours: it was a moment ago, and its id cannot be
	 * reused while a member lives */
	if (kill(-(pid_t)pid, 0) == 0)
		kill(-(pid_t)pid, SIGKILL);
	return 0;
}

static int local_detect(void)
{
	return 1;
}

static int local_available(char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return 0;
}

const struct batch_ops batch_local_ops = {
	.name = "local",
	.title = "local",
	.detect = local_detect,
	.available = local_available,
	.submit = local_submit,
	.query = local_query,
	.cancel = local_cancel,
	.alloc_env = LOCAL_JOB_ENV,
};
