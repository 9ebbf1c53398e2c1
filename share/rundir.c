/* SPDX-License-Identifier: MIT */
/*
 * rundir: locating and creating the run directory and reading/writing
 * master.json -- see rundir.h. master.json is written to a temporary file and
 * renamed into place, because workers on other nodes poll it while a
 * restarted master rewrites it.
 */
#include "rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msg.h"
#include "util.h"

int rundir_resolve(char out[RUNDIR_PATH_MAX], const char *opt, char *err, size_t errlen)
{
	char tmp[RUNDIR_PATH_MAX];
	const char *d = opt && *opt ? opt : getenv("MTSLURM_RUN_DIR");
	if (d && *d) {
		if (util_strlcpy(tmp, d, sizeof tmp) >= sizeof tmp)
			goto toolong;
	} else {
		const char *home = getenv("HOME");
		if (!home || !*home) {
			snprintf(err, errlen, "HOME is not set; pass --run-dir DIR or set MTSLURM_RUN_DIR");
			return -1;
		}
		if ((size_t)snprintf(tmp, sizeof tmp, "%s/.mtslurm/default", home) >= sizeof tmp)
			goto toolong;
	}
	if (tmp[0] == '/') {
		util_strlcpy(out, tmp, RUNDIR_PATH_MAX);
	} else {
		char cwd[RUNDIR_PATH_MAX];
		if (!getcwd(cwd, sizeof cwd)) {
			snprintf(err, errlen, "cannot get the current directory: %s", strerror(errno));
			return -1;
		}
		if ((size_t)snprintf(out, RUNDIR_PATH_MAX, "%s/%s", cwd, tmp) >= RUNDIR_PATH_MAX)
			goto toolong;
	}
	/* Drop trailing slashes so paths built from it look right. */
	size_t n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	return 0;
toolong:
	snprintf(err, errlen, "run directory path is too long");
	return -1;
}

static int mkdir_p(const char *dir, char *err, size_t errlen)
{
	char tmp[RUNDIR_PATH_MAX];
	util_strlcpy(tmp, dir, sizeof tmp);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
			return -1;
		}
		*p = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		return -1;
	}
	return 0;
}

int rundir_create(const char *dir, char *err, size_t errlen)
{
	char logs[RUNDIR_PATH_MAX];
	struct stat st;
	if (mkdir_p(dir, err, errlen))
		return -1;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", dir);
		return -1;
	}
	/* Anyone who can read the run directory can read the key: keep it ours. */
	if ((st.st_mode & 077) && chmod(dir, 0700) != 0) {
		snprintf(err, errlen, "cannot make %s private (chmod 700): %s", dir, strerror(errno));
		return -1;
	}
	if (rundir_path(logs, dir, "logs") || mkdir_p(logs, err, errlen))
		return -1;
	return 0;
}

int rundir_path(char out[RUNDIR_PATH_MAX], const char *dir, const char *name)
{
	return (size_t)snprintf(out, RUNDIR_PATH_MAX, "%s/%s", dir, name) >= RUNDIR_PATH_MAX ? -1 : 0;
}

int rundir_write_file(const char *dir, const char *name, const char *text, size_t n, char *err, size_t errlen)
{
	char path[RUNDIR_PATH_MAX], tmp[RUNDIR_PATH_MAX + 32];
	if (rundir_path(path, dir, name))
		return snprintf(err, errlen, "run directory path too long: %s", dir), -1;
	snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno)), -1;
	int ok = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
	int e = errno;
	close(fd);
	if (ok && rename(tmp, path) != 0) {
		ok = 0;
		e = errno;
	}
	if (!ok) {
		unlink(tmp);
		return snprintf(err, errlen, "cannot write %s: %s; check the disk", path, strerror(e)), -1;
	}
	return 0;
}

int rundir_write_master(const char *dir, const struct master_info *mi, char *err, size_t errlen)
{
	int rc = -1;
	char *text = NULL;
	msg *m = msg_new_object();
	if (!m || msg_set_str(m, "host", mi->host) || msg_set_int(m, "port", mi->port) ||
	    msg_set_int(m, "pid", mi->pid) || msg_set_str(m, "node", mi->node) ||
	    msg_set_num(m, "started", mi->started) || msg_set_str(m, "version", mi->version) ||
	    (mi->slurm_job[0] && msg_set_str(m, "slurm_job", mi->slurm_job)) ||
	    (mi->http[0] && msg_set_str(m, "http", mi->http)) || !(text = msg_print(m))) {
		snprintf(err, errlen, "out of memory writing master.json");
		goto out;
	}
	size_t n = strlen(text);
	char *line = realloc(text, n + 2);
	if (!line) {
		snprintf(err, errlen, "out of memory writing master.json");
		goto out;
	}
	text = line;
	text[n] = '\n';
	text[n + 1] = '\0';
	rc = rundir_write_file(dir, "master.json", text, n + 1, err, errlen);
out:
	free(text);
	msg_free(m);
	return rc;
}

int rundir_read_master(const char *dir, struct master_info *mi, char *err, size_t errlen)
{
	char path[RUNDIR_PATH_MAX], text[4096];
	rundir_path(path, dir, "master.json");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			snprintf(err, errlen, "no master.json in %s: is the cluster started? (mtslurm start)", dir);
		else
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n <= 0) {
		snprintf(err, errlen, "%s is empty or unreadable", path);
		return -1;
	}
	char jerr[128];
	msg *m = msg_parse(text, (size_t)n, jerr, sizeof jerr);
	int64_t port = 0, pid = 0;
	const char *host = msg_get_str(m, "host");
	if (!m || !host || msg_get_int(m, "port", &port) || msg_get_int(m, "pid", &pid) || port <= 0 ||
	    port > 65535) {
		snprintf(err, errlen, "%s is corrupt (%s); stop and start the cluster again", path,
			 m ? "missing host, port or pid" : jerr);
		msg_free(m);
		return -1;
	}
	memset(mi, 0, sizeof *mi);
	util_strlcpy(mi->host, host, sizeof mi->host);
	mi->port = (int)port;
	mi->pid = (long)pid;
	util_strlcpy(mi->node, msg_get_str(m, "node") ? msg_get_str(m, "node") : "", sizeof mi->node);
	util_strlcpy(mi->version, msg_get_str(m, "version") ? msg_get_str(m, "version") : "",
		     sizeof mi->version);
	util_strlcpy(mi->slurm_job, msg_get_str(m, "slurm_job") ? msg_get_str(m, "slurm_job") : "",
		     sizeof mi->slurm_job);
	util_strlcpy(mi->http, msg_get_str(m, "http") ? msg_get_str(m, "http") : "", sizeof mi->http);
	msg_get_num(m, "started", &mi->started);
	msg_free(m);
	return 0;
}

int rundir_remove_master(const char *dir)
{
	char path[RUNDIR_PATH_MAX];
	rundir_path(path, dir, "master.json");
	return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

int rundir_pid_alive(long pid)
{
	if (pid <= 0)
		return 0;
	if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
		return 0;
	/* A zombie answers kill(pid, 0) but is dead: its parent (often an init
	 * that does not reap, in containers) just has not collected it. */
	char path[64], st[512];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	ssize_t n = read(fd, st, sizeof st - 1);
	close(fd);
	if (n <= 0)
		return 1;
	st[n] = '\0';
	const char *rp = strrchr(st, ')');
	return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}
