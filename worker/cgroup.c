/* SPDX-License-Identifier: MIT */
/*
 * cgroup: a group per job in cgroup v2 -- see cgroup.h for the layout and
 * docs/worker.md ("Containment") for what it guarantees.
 *
 * Each leaf keeps its descriptors open (the directory, cgroup.procs for
 * writing, cgroup.events and cgroup.procs for reading, cgroup.kill), so that
 * a job costs the worker one pread of cgroup.events at its end, and a job
 * that left nothing behind needs nothing more. A leaf goes back to the pool
 * as "draining" when something was still in it: it is reused only once
 * cgroup.events says it is empty, so a job never shares a leaf with the
 * dying leftovers of the previous one.
 */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define CLOSE_POLL_MS 20

enum leaf_state { LEAF_FREE, LEAF_BUSY, LEAF_DRAINING };

struct cgroup_leaf {
	struct cgroup_leaf *next;
	enum leaf_state state;
	int dirfd, procs_w, procs_r, events, killfd; /* killfd -1: no cgroup.kill */
	int limited;           /* memory.max or cpu.max set for its job: reset at put */
	uint64_t oom_kills_at; /* memory.events oom_kill when its job's limit was set */
	int killed;            /* cgroup.kill was written to it: see cgroup_leaf_dir_fd */
	char name[16];
};

struct cgroup {
	int active;
	char desc[PATH_MAX + 200];
	char parent[PATH_MAX]; /* the worker's own group (a directory) */
	char base[PATH_MAX];   /* parent/mtslurm-PID-START-N */
	const char *base_name; /* the last component of base */
	int has_kill;
	int has_mem, has_cpu; /* the memory, cpu controller is on in the leaves */
	int pid_by_pid; /* MTSLURM_CGROUP=pids: as without cgroup.kill (tests) */
	unsigned next_leaf;
	struct cgroup_leaf *leaves;
	int warned;
	uv_timer_t timer;
	int timer_on;
	int close_polls;
	void (*close_cb)(void *);
	void *close_arg;
};

/* ---- parsing ---- */

int cgroup_find_mount(const char *mi, char *mnt, size_t mntlen, char *root, size_t rootlen)
{
	/* "36 25 0:30 ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER" */
	for (const char *line = mi; line && *line;) {
		const char *eol = strchr(line, '\n');
		size_t ll = eol ? (size_t)(eol - line) : strlen(line);
		char buf[4096];
		if (ll < sizeof buf) {
			memcpy(buf, line, ll);
			buf[ll] = '\0';
			char *sep = strstr(buf, " - ");
			char r[PATH_MAX], m[PATH_MAX], fs[64];
			if (sep && sscanf(sep + 3, "%63s", fs) == 1 && strcmp(fs, "cgroup2") == 0 &&
			    sscanf(buf, "%*s %*s %*s %4095s %4095s", r, m) == 2 && strlen(m) < mntlen &&
			    strlen(r) < rootlen) {
				/* mountinfo escapes blanks as \040: a mount point
				 * with one is not supported (never seen for cgroup2) */
				util_strlcpy(mnt, m, mntlen);
				util_strlcpy(root, r, rootlen);
				return 0;
			}
		}
		line = eol ? eol + 1 : NULL;
	}
	return -1;
}

int cgroup_find_own(const char *pc, char *path, size_t pathlen)
{
	for (const char *line = pc; line && *line;) {
		const char *eol = strchr(line, '\n');
		size_t ll = eol ? (size_t)(eol - line) : strlen(line);
		if (ll >= 3 && memcmp(line, "0::", 3) == 0 && ll - 3 < pathlen && ll > 3) {
			memcpy(path, line + 3, ll - 3);
			path[ll - 3] = '\0';
			return 0;
		}
		line = eol ? eol + 1 : NULL;
	}
	return -1;
}

int cgroup_parse_base(const char *name, long *pid, unsigned long long *start)
{
	if (strncmp(name, "mtslurm-", 8) != 0)
		return -1;
	char *e;
	errno = 0;
	long p = strtol(name + 8, &e, 10);
	if (e == name + 8 || *e != '-' || p <= 0 || errno)
		return -1;
	const char *s = e + 1;
	unsigned long long st = strtoull(s, &e, 10);
	if (e == s || (*e != '-' && *e != '\0') || errno)
		return -1;
	*pid = p;
	*start = st;
	return 0;
}

int cgroup_has_controller(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p;) {
		p += strspn(p, " \t\n");
		size_t w = strcspn(p, " \t\n");
		if (w == n && !strncmp(p, name, n))
			return 1;
		p += w;
	}
	return 0;
}

int cgroup_event_count(const char *text, const char *key, uint64_t *out)
{
	size_t n = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, key, n) && p[n] == ' ') {
			char *end;
			unsigned long long v = strtoull(p + n + 1, &end, 10);
			if (end == p + n + 1)
				return -1;
			*out = v;
			return 0;
		}
	}
	return -1;
}

/* ---- small file helpers ---- */

static ssize_t read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t got = 0;
	while (got + 1 < len) {
		ssize_t n = read(fd, buf + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

/* The start time of pid in clock ticks since boot (field 22 of its stat),
 * 0 if it does not exist. With the pid it names one process for good. */
static unsigned long long proc_start(long pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if (read_file(path, buf, sizeof buf) <= 0)
		return 0;
	char *p = strrchr(buf, ')'); /* the command name may hold anything */
	if (!p)
		return 0;
	unsigned long long st = 0;
	/* after ")": state is field 3, start time field 22 */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		   &st) != 1)
		return 0;
	return st;
}

/* Every pid listed in the cgroup.procs open on fd (read from offset 0),
 * into a malloc'd array; the count, or -1. */
static int read_pids(int fd, pid_t **out)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		return -1;
	for (;;) {
		ssize_t n = pread(fd, buf + len, cap - len - 1, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len + 1 == cap) {
			if (cap >= (8u << 20))
				break; /* a million pids: enough for one round */
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	buf[len] = '\0';
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += buf[i] == '\n';
	pid_t *v = malloc((n + 1) * sizeof *v);
	if (!v) {
		free(buf);
		return -1;
	}
	int k = 0;
	for (char *p = buf, *e; *p; p = e) {
		long pid = strtol(p, &e, 10);
		if (e == p)
			break;
		if (pid > 0 && (size_t)k < n + 1)
			v[k++] = (pid_t)pid;
		while (*e == '\n')
			e++;
	}
	free(buf);
	*out = v;
	return k;
}

/* ---- killing a group, ours or a dead worker's ---- */

/* Signal every process of the group open as dirfd but except. */
static int signal_dir(int dirfd, int procs_r, int sig, pid_t except)
{
	int fd = procs_r >= 0 ? procs_r : openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	pid_t *pids = NULL;
	int n = read_pids(fd, &pids), sent = 0;
	for (int i = 0; i < n; i++)
		if (pids[i] != except && kill(pids[i], sig) == 0)
			sent++;
	free(pids);
	if (fd != procs_r)
		close(fd);
	return sent;
}

#define KILL_OPEN (-2) /* kill_dir's killfd: open cgroup.kill for this call */

/* SIGKILL everything in the group: cgroup.kill (Linux >= 5.14) kills what
 * forks meanwhile too; without it (killfd -1), read and kill until nothing
 * is left to signal (bounded). */
static void kill_dir(int dirfd, int killfd, int procs_r)
{
	int own = -1;
	if (killfd == KILL_OPEN)
		killfd = own = openat(dirfd, "cgroup.kill", O_WRONLY | O_CLOEXEC);
	if (killfd >= 0) {
		ssize_t n = write(killfd, "1", 1);
		if (own >= 0)
			close(own);
		if (n == 1)
			return;
	}
	for (int round = 0; round < CGROUP_KILL_ROUNDS; round++)
		if (signal_dir(dirfd, procs_r, SIGKILL, 0) == 0)
			return;
}

/* Kill and remove a dead worker's base (its leaves first). 1 if the base
 * is gone, 0 if something is still dying in it (the next sweep ends it). */
static int remove_base(int parentfd, const char *name, int killfd)
{
	int bfd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0)
		return errno == ENOENT;
	DIR *d = fdopendir(bfd);
	if (!d) {
		close(bfd);
		return 0;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		int lfd = openat(bfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (lfd < 0)
			continue;
		kill_dir(lfd, killfd, -1);
		close(lfd);
		unlinkat(bfd, de->d_name, AT_REMOVEDIR); /* EBUSY while they die */
	}
	kill_dir(bfd, killfd, -1); /* nothing should be in the base itself */
	closedir(d);
	return unlinkat(parentfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT;
}

/* One pass over the parent; *left counts dead workers' bases that are
 * still there (processes dying: killed, but not yet out). */
static int sweep_pass(struct cgroup *cg, int *left)
{
	*left = 0;
	if (!cg || !cg->active)
		return 0;
	int pfd = open(cg->parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return 0;
	DIR *d = fdopendir(pfd);
	if (!d) {
		close(pfd);
		return 0;
	}
	int removed = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		long pid;
		unsigned long long start;
		if (de->d_type != DT_DIR || cgroup_parse_base(de->d_name, &pid, &start) < 0 ||
		    strcmp(de->d_name, cg->base_name) == 0)
			continue;
		if (proc_start(pid) == start)
			continue; /* its worker is alive */
		if (remove_base(pfd, de->d_name, cg->has_kill ? KILL_OPEN : -1)) {
			removed++;
			log_info("removed %s/%s, the group of a worker that is gone, and its processes",
				 cg->parent, de->d_name);
		} else {
			(*left)++;
		}
	}
	closedir(d);
	return removed;
}

int cgroup_sweep(struct cgroup *cg)
{
	int left;
	return sweep_pass(cg, &left);
}

/* ---- leaves ---- */

static void leaf_free(struct cgroup_leaf *l)
{
	int fds[] = {l->procs_w, l->procs_r, l->events, l->killfd, l->dirfd};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(l);
}

/* mkdir base/lN and open its files. NULL with errno set. */
static struct cgroup_leaf *leaf_make(struct cgroup *cg, int basefd)
{
	struct cgroup_leaf *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->dirfd = l->procs_w = l->procs_r = l->events = l->killfd = -1;
	snprintf(l->name, sizeof l->name, "l%u", cg->next_leaf++);
	if (mkdirat(basefd, l->name, 0755) < 0 && errno != EEXIST)
		goto fail;
	l->dirfd = openat(basefd, l->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->dirfd < 0)
		goto fail;
	l->procs_w = openat(l->dirfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	l->procs_r = openat(l->dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	l->events = openat(l->dirfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	if (l->procs_w < 0 || l->procs_r < 0 || l->events < 0)
		goto fail;
	if (!cg->pid_by_pid)
		l->killfd = openat(l->dirfd, "cgroup.kill", O_WRONLY | O_CLOEXEC);
	return l;
fail:;
	int e = errno;
	if (l->dirfd >= 0)
		unlinkat(basefd, l->name, AT_REMOVEDIR);
	leaf_free(l);
	errno = e;
	return NULL;
}

int cgroup_leaf_procs_fd(const struct cgroup_leaf *l)
{
	return l ? l->procs_w : -1;
}

int cgroup_leaf_dir_fd(const struct cgroup_leaf *l)
{
	/* Linux 6.18 (at least) kills a child that clone3 starts in a group
	 * whose cgroup.kill count differs from its parent's group's, i.e. in
	 * any leaf that cgroup.kill was ever written to: such a leaf is
	 * entered the old way, through cgroup.procs. */
	return l && !l->killed ? l->dirfd : -1;
}

int cgroup_leaf_populated(struct cgroup_leaf *l)
{
	char buf[256];
	ssize_t n = pread(l->events, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	const char *p = strstr(buf, "populated ");
	return p ? p[10] == '1' : -1;
}

int cgroup_leaf_signal(struct cgroup_leaf *l, int sig, pid_t except)
{
	return l ? signal_dir(l->dirfd, l->procs_r, sig, except) : 0;
}

void cgroup_leaf_kill(struct cgroup_leaf *l)
{
	if (!l)
		return;
	kill_dir(l->dirfd, l->killfd, l->procs_r);
	l->killed |= l->killfd >= 0;
}

struct cgroup_leaf *cgroup_leaf_get(struct cgroup *cg)
{
	if (!cg || !cg->active)
		return NULL;
	struct cgroup_leaf *l;
	for (l = cg->leaves; l; l = l->next)
		if (l->state == LEAF_FREE)
			break;
	for (struct cgroup_leaf *d = cg->leaves; !l && d; d = d->next)
		if (d->state == LEAF_DRAINING && cgroup_leaf_populated(d) == 0)
			l = d;
	if (!l) {
		int bfd = open(cg->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		l = bfd >= 0 ? leaf_make(cg, bfd) : NULL;
		int e = errno;
		if (bfd >= 0)
			close(bfd);
		if (!l) {
			if (!cg->warned++)
				log_warn("cannot make a job's group in %s: %s; jobs run in their process group "
					 "only until one can be made",
					 cg->base, strerror(e));
			return NULL;
		}
		l->next = cg->leaves;
		cg->leaves = l;
	}
	l->state = LEAF_BUSY;
	return l;
}

/* Write text to the file name of directory dirfd. 0 or -1 (errno). */
static int write_at(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = strlen(text);
	int ok = write(fd, text, len) == (ssize_t)len;
	int e = errno;
	close(fd);
	errno = e;
	return ok ? 0 : -1;
}

/* The oom_kill count of the leaf's memory.events; 0 if it cannot be read. */
static uint64_t leaf_oom_kills(struct cgroup_leaf *l)
{
	char buf[512];
	uint64_t v = 0;
	int fd = openat(l->dirfd, "memory.events", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return cgroup_event_count(buf, "oom_kill", &v) ? 0 : v;
}

int cgroup_leaf_limit(struct cgroup *cg, struct cgroup_leaf *l, uint64_t mem_b, uint32_t cpus)
{
	int got = 0;
	char v[64];
	if (!l)
		return 0;
	if (mem_b && cg->has_mem) {
		snprintf(v, sizeof v, "%llu", (unsigned long long)mem_b);
		l->limited = 1;
		if (write_at(l->dirfd, "memory.max", v) == 0) {
			/* no swap either: else the job pages out instead of
			 * being stopped, and the node slows down for everyone */
			write_at(l->dirfd, "memory.swap.max", "0");
			l->oom_kills_at = leaf_oom_kills(l);
			got |= CGROUP_LIMIT_MEM;
		}
	}
	if (cpus && cg->has_cpu) {
		snprintf(v, sizeof v, "%llu %u", (unsigned long long)cpus * CGROUP_CPU_PERIOD_US, CGROUP_CPU_PERIOD_US);
		l->limited = 1;
		if (write_at(l->dirfd, "cpu.max", v) == 0)
			got |= CGROUP_LIMIT_CPU;
	}
	return got;
}

int cgroup_leaf_oom_killed(struct cgroup_leaf *l)
{
	return l && l->limited && leaf_oom_kills(l) > l->oom_kills_at;
}

/* The next job in the leaf gets no limit of this one's. */
static void leaf_unlimit(struct cgroup *cg, struct cgroup_leaf *l)
{
	char v[64];
	if (cg->has_mem) {
		write_at(l->dirfd, "memory.max", "max");
		write_at(l->dirfd, "memory.swap.max", "max");
	}
	snprintf(v, sizeof v, "max %u", CGROUP_CPU_PERIOD_US);
	if (cg->has_cpu)
		write_at(l->dirfd, "cpu.max", v);
	l->limited = 0;
}

void cgroup_leaf_put(struct cgroup *cg, struct cgroup_leaf *l)
{
	if (!l)
		return;
	if (l->limited && cg)
		leaf_unlimit(cg, l);
	if (cgroup_leaf_populated(l) == 0) {
		l->state = LEAF_FREE;
		return;
	}
	kill_dir(l->dirfd, l->killfd, l->procs_r);
	l->killed |= l->killfd >= 0;
	l->state = LEAF_DRAINING;
}

/* ---- set-up ---- */

/* Can a process enter leaf l? A vfork child tries and reports by its exit
 * status: the kernel's rule (write access to cgroup.procs of the common
 * ancestor, nsdelegate) is easier to test than to reimplement. */
static int leaf_try_enter(struct cgroup_leaf *l)
{
	int fd = l->procs_w;
	pid_t pid = vfork();
	if (pid == 0)
		_exit(write(fd, "0", 1) == 1 ? 0 : (errno & 0x7f) ? (errno & 0x7f) : 1);
	if (pid < 0)
		return errno;
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : EINVAL;
}

/* The directory of the worker's own cgroup v2 group, or -1 with why. */
static int find_parent(struct cgroup *cg, char *why, size_t whylen)
{
	/* /proc/self/cgroup lists the v1 hierarchies before the v2 line
	 * ("0::"), and a v1 path can be long (nested container runtimes):
	 * read it whole, like mountinfo. */
	static char mi[1 << 16], pc[1 << 16];
	char own[PATH_MAX], mnt[PATH_MAX], root[PATH_MAX];
	if (read_file("/proc/self/cgroup", pc, sizeof pc) < 0 || cgroup_find_own(pc, own, sizeof own) < 0) {
		snprintf(why, whylen, "no cgroup v2 group in /proc/self/cgroup (cgroup v1 only)");
		return -1;
	}
	if (read_file("/proc/self/mountinfo", mi, sizeof mi) < 0 ||
	    cgroup_find_mount(mi, mnt, sizeof mnt, root, sizeof root) < 0) {
		snprintf(why, whylen, "no cgroup2 file system mounted");
		return -1;
	}
	/* own is relative to the hierarchy's root; the mount may show a
	 * subtree of it (a container's) */
	const char *rel = own;
	size_t rl = strlen(root);
	if (strcmp(root, "/") != 0) {
		if (strncmp(own, root, rl) != 0 || (own[rl] != '/' && own[rl] != '\0')) {
			snprintf(why, whylen, "this process's group %.400s is not under the mount of %.400s at %.400s",
				 own, root, mnt);
			return -1;
		}
		rel = own + rl;
	}
	if (strstr(rel, " (deleted)")) {
		snprintf(why, whylen, "this process's group %.400s was removed", own);
		return -1;
	}
	int n = snprintf(cg->parent, sizeof cg->parent, "%s%s%s", mnt, *rel == '/' || !*rel ? "" : "/",
			 strcmp(rel, "/") == 0 ? "" : rel);
	if (n < 0 || (size_t)n >= sizeof cg->parent) {
		snprintf(why, whylen, "group path too long");
		return -1;
	}
	return 0;
}

/* Make the base and its first leaf, and check that a process can enter
 * it. 0, or -1 with why (nothing left behind). */
/* Turn on the memory and cpu controllers for the leaves, where the
 * worker's own group passes them down (the base's cgroup.controllers
 * lists them: a systemd Delegate=yes unit, a container's own cgroup
 * namespace). Where it does not, --mem falls back to RLIMIT_DATA (exec.c)
 * and --cpus to --pin. */
static void enable_limits(struct cgroup *cg)
{
	char path[PATH_MAX + 40], list[512];
	static const char *const ctl[] = {"memory", "cpu"};
	snprintf(path, sizeof path, "%s/cgroup.controllers", cg->base);
	if (read_file(path, list, sizeof list) < 0)
		return;
	int bfd = open(cg->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; bfd >= 0 && i < sizeof ctl / sizeof ctl[0]; i++) {
		char plus[32];
		snprintf(plus, sizeof plus, "+%s", ctl[i]);
		if (cgroup_has_controller(list, ctl[i]) && write_at(bfd, "cgroup.subtree_control", plus) < 0)
			log_warn("cannot enable the %s controller in %s: %s (%s)", ctl[i], cg->base, strerror(errno),
				 i ? "--cpus is then bound by --pin only" : "--mem is then a data-size limit, RLIMIT_DATA");
	}
	if (bfd >= 0)
		close(bfd);
	snprintf(path, sizeof path, "%s/cgroup.subtree_control", cg->base);
	if (read_file(path, list, sizeof list) < 0)
		return;
	cg->has_mem = cgroup_has_controller(list, "memory");
	cg->has_cpu = cgroup_has_controller(list, "cpu");
}

static int make_base(struct cgroup *cg, char *why, size_t whylen)
{
	static unsigned seq;
	long pid = (long)getpid();
	int n = snprintf(cg->base, sizeof cg->base, "%s/mtslurm-%ld-%llu-%u", cg->parent, pid, proc_start(pid),
			 seq++);
	if (n < 0 || (size_t)n >= sizeof cg->base) {
		snprintf(why, whylen, "group path too long");
		return -1;
	}
	cg->base_name = strrchr(cg->base, '/') + 1;
	if (mkdir(cg->base, 0755) < 0) {
		snprintf(why, whylen, "cannot create a group in %.1000s: %s", cg->parent, strerror(errno));
		return -1;
	}
	int bfd = open(cg->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct cgroup_leaf *l = bfd >= 0 ? leaf_make(cg, bfd) : NULL;
	if (bfd >= 0)
		close(bfd);
	int e = l ? leaf_try_enter(l) : errno;
	if (e) {
		snprintf(why, whylen, "cannot move a process into a group under %.1000s: %s", cg->parent, strerror(e));
		if (l) {
			rmdir(cg->base); /* EBUSY: the leaf first */
			char lp[PATH_MAX + 20];
			snprintf(lp, sizeof lp, "%s/%s", cg->base, l->name);
			leaf_free(l);
			rmdir(lp);
		}
		rmdir(cg->base);
		return -1;
	}
	l->state = LEAF_FREE;
	cg->leaves = l;
	cg->has_kill = l->killfd >= 0;
	enable_limits(cg);
	return 0;
}

struct cgroup *cgroup_open(void)
{
	struct cgroup *cg = calloc(1, sizeof *cg);
	if (!cg)
		return NULL;
	char why[PATH_MAX + 100];
	const char *env = getenv("MTSLURM_CGROUP");
	cg->pid_by_pid = env && strcmp(env, "pids") == 0;
	if (env && (strcmp(env, "off") == 0 || strcmp(env, "0") == 0 || strcmp(env, "no") == 0)) {
		snprintf(why, sizeof why, "MTSLURM_CGROUP=%s", env);
	} else if (find_parent(cg, why, sizeof why) == 0 && make_base(cg, why, sizeof why) == 0) {
		cg->active = 1;
		snprintf(cg->desc, sizeof cg->desc, "cgroup v2: a group per job under %s (%s; --mem: %s; --cpus: %s)",
			 cg->base, cg->has_kill ? "cgroup.kill" : "no cgroup.kill before Linux 5.14: killed pid by pid",
			 cg->has_mem ? "memory.max" : "no memory controller, RLIMIT_DATA",
			 cg->has_cpu ? "cpu.max" : "no cpu controller, --pin only");
		return cg;
	}
	snprintf(cg->desc, sizeof cg->desc, "process groups and PR_SET_PDEATHSIG, no cgroup (%s)", why);
	return cg;
}

int cgroup_active(const struct cgroup *cg)
{
	return cg && cg->active;
}

const char *cgroup_describe(const struct cgroup *cg)
{
	return cg ? cg->desc : "process groups and PR_SET_PDEATHSIG, no cgroup (out of memory)";
}

/* A base whose killed processes are still on their way out is looked at
 * again soon, so that it is gone before anyone looks. */
int cgroup_limits(const struct cgroup *cg)
{
	return cg && cg->active ? (cg->has_mem ? CGROUP_LIMIT_MEM : 0) | (cg->has_cpu ? CGROUP_LIMIT_CPU : 0) : 0;
}

const char *cgroup_parent_dir(const struct cgroup *cg)
{
	return cg && cg->active ? cg->parent : "";
}

static void on_sweep_timer(uv_timer_t *t)
{
	int left;
	sweep_pass(t->data, &left);
	if (left)
		uv_timer_start(t, on_sweep_timer, CLOSE_POLL_MS, CGROUP_SWEEP_MS);
}

void cgroup_start_sweeps(struct cgroup *cg, uv_loop_t *loop)
{
	if (!cg || !cg->active || cg->timer_on)
		return;
	uv_timer_init(loop, &cg->timer);
	cg->timer.data = cg;
	cg->timer_on = 1;
	uv_timer_start(&cg->timer, on_sweep_timer, 0, CGROUP_SWEEP_MS); /* the first one now */
	uv_unref((uv_handle_t *)&cg->timer);
}

/* ---- closing ---- */

/* The empty groups a job made inside its leaf (podman --cgroups=split
 * leaves "runtime" and "libpod-payload-ID" behind): removed, so that the
 * leaf itself can be. */
static void leaf_rmdir_children(int bfd, const char *name)
{
	int fd = openat(bfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_type == DT_DIR && e->d_name[0] != '.')
			unlinkat(fd, e->d_name, AT_REMOVEDIR);
	closedir(d);
}

/* Remove every empty leaf, then the base, and what is left of dead
 * workers' groups; 1 once all are gone. */
static int remove_all(struct cgroup *cg)
{
	int left;
	sweep_pass(cg, &left);
	int bfd = open(cg->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct cgroup_leaf **pp = &cg->leaves;
	while (*pp) {
		struct cgroup_leaf *l = *pp;
		if (bfd >= 0)
			leaf_rmdir_children(bfd, l->name);
		if (bfd >= 0 && unlinkat(bfd, l->name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
			pp = &l->next;
			continue;
		}
		*pp = l->next;
		leaf_free(l);
	}
	if (bfd >= 0)
		close(bfd);
	return !left && !cg->leaves && (rmdir(cg->base) == 0 || errno == ENOENT);
}

static void close_done(struct cgroup *cg)
{
	if (cg->leaves)
		log_warn("%s: processes did not leave in %d ms; the next worker here removes them", cg->base,
			 CGROUP_CLOSE_MS);
	for (struct cgroup_leaf *l = cg->leaves, *next; l; l = next) {
		next = l->next;
		leaf_free(l);
	}
	void (*cb)(void *) = cg->close_cb;
	void *arg = cg->close_arg;
	free(cg);
	if (cb)
		cb(arg);
}

static void on_timer_closed(uv_handle_t *h)
{
	close_done(h->data);
}

static void on_close_poll(uv_timer_t *t)
{
	struct cgroup *cg = t->data;
	if (remove_all(cg) || ++cg->close_polls * CLOSE_POLL_MS >= CGROUP_CLOSE_MS)
		uv_close((uv_handle_t *)&cg->timer, on_timer_closed);
}

void cgroup_close(struct cgroup *cg, void (*cb)(void *arg), void *arg)
{
	if (!cg) {
		if (cb)
			cb(arg);
		return;
	}
	cg->close_cb = cb;
	cg->close_arg = arg;
	for (struct cgroup_leaf *l = cg->leaves; l; l = l->next)
		if (l->state != LEAF_FREE || cgroup_leaf_populated(l) != 0)
			kill_dir(l->dirfd, l->killfd, l->procs_r);
	if (!cg->active) {
		close_done(cg);
		return;
	}
	if (remove_all(cg) || !cg->timer_on) {
		if (cg->timer_on) {
			uv_timer_stop(&cg->timer);
			uv_close((uv_handle_t *)&cg->timer, on_timer_closed);
		} else {
			close_done(cg);
		}
		return;
	}
	uv_ref((uv_handle_t *)&cg->timer); /* the loop must run until this is done */
	uv_timer_start(&cg->timer, on_close_poll, CLOSE_POLL_MS, CLOSE_POLL_MS);
}
