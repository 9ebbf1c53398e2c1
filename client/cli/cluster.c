/* SPDX-License-Identifier: MIT */
/*
 * cluster: what start, stop, add-workers and status share about a running
 * cluster, whatever launched it (local, inside an allocation, Slurm): its
 * run directory's small JSON files, the binaries installed beside mtslurm,
 * the last line of a log, a quiet connection and the workers connected.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "msg.h"
#include "util.h"

void cli_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

msg *cli_read_json(const char *dir, const char *name)
{
	char path[RUNDIR_PATH_MAX], text[65536], err[128];
	rundir_path(path, dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	return n > 0 ? msg_parse(text, (size_t)n, err, sizeof err) : NULL;
}

void cli_write_file(const char *dir, const char *name, const char *text, size_t n)
{
	char err[RUNDIR_PATH_MAX + 128];
	if (!text || rundir_write_file(dir, name, text, n, err, sizeof err))
		cli_die(1, "%s", text ? err : "out of memory");
}

/* Where mtslurm-master and mtslurm-worker are: $MTSLURM_LIBEXEC, else next
 * to this executable. */
void cli_sibling(char *out, size_t n, const char *name)
{
	const char *env = getenv("MTSLURM_LIBEXEC");
	char self[PATH_MAX];
	if (env && *env) {
		snprintf(out, n, "%s/%s", env, name);
	} else {
		ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
		if (k <= 0)
			cli_die(1, "cannot find my own executable; set MTSLURM_LIBEXEC to the directory of %s", name);
		self[k] = '\0';
		snprintf(out, n, "%s/%s", dirname(self), name);
	}
	if (access(out, X_OK) != 0)
		cli_die(1, "%s not found or not executable; set MTSLURM_LIBEXEC to its directory", out);
}

/* Last non-empty line of a file, for "why did it die". */
void cli_last_line(const char *path, char *out, size_t n)
{
	char buf[8192];
	out[0] = '\0';
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > (off_t)sizeof buf - 1 ? size - (off_t)sizeof buf + 1 : 0;
	ssize_t k = pread(fd, buf, sizeof buf - 1, from);
	close(fd);
	if (k <= 0)
		return;
	buf[k] = '\0';
	while (k > 0 && (buf[k - 1] == '\n' || buf[k - 1] == ' '))
		buf[--k] = '\0';
	char *nl = strrchr(buf, '\n');
	util_strlcpy(out, nl ? nl + 1 : buf, n);
}

/* Connected workers, or -1 if the master cannot be asked. */
int cli_connected_workers(mts_client *c)
{
	char *s = NULL;
	if (mts_status(&s, c) != MTS_OK)
		return -1;
	char err[64];
	msg *m = msg_parse(s, strlen(s), err, sizeof err);
	int64_t n = -1;
	msg_get_int(msg_get(m, "workers"), "connected", &n);
	msg_free(m);
	mts_free(s);
	return (int)n;
}

mts_client *cli_connect_quiet(struct cli *cli)
{
	mts_client *c = NULL;
	mts_options o = MTS_OPTIONS_INIT;
	o.timeout_ms = 5000;
	o.name = "mtslurm-cli";
	if (mts_connect(&c, cli->run_dir, &o) != MTS_OK) {
		mts_close(c);
		return NULL;
	}
	return c;
}
