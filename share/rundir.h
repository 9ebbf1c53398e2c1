/* SPDX-License-Identifier: MIT */
/*
 * rundir: the run directory is how the pieces of one cluster find each other
 * on a shared filesystem (cluster-workers' master_host()). Layout:
 *
 *   DIR/            mode 0700
 *   DIR/master.json where the master serves (written atomically, see below)
 *   DIR/key         the cluster secret, 0600 (auth.h)
 *   DIR/token       the HTTP API token, 0600 (auth_token_load)
 *   DIR/state.db    the master's SQLite store (WAL)
 *   DIR/logs/       master.log, worker-*.log (job output records), launch logs
 *   DIR/launch.json what `mtslurm start` launched (pids of mpirun etc.)
 *
 * All functions return 0 or -1 with a one-line reason in err.
 */
#ifndef MTS_RUNDIR_H
#define MTS_RUNDIR_H

#include <stddef.h>

#define RUNDIR_PATH_MAX 4096

/* Pick the run directory: opt if non-NULL and non-empty, else
 * $MTSLURM_RUN_DIR, else $HOME/.mtslurm/default. Made absolute. */
int rundir_resolve(char out[RUNDIR_PATH_MAX], const char *opt, char *err, size_t errlen);

/* Create DIR (and parents) and DIR/logs with mode 0700, and tighten DIR to
 * 0700 if it exists with looser permissions. */
int rundir_create(const char *dir, char *err, size_t errlen);

/* out = dir + "/" + name. Returns -1 if it does not fit. */
int rundir_path(char out[RUNDIR_PATH_MAX], const char *dir, const char *name);

struct master_info {
	char host[256];      /* address peers connect to */
	int port;
	long pid;
	char node[256];      /* node the master runs on (util_nodename) */
	char slurm_job[64];  /* its batch job id ($SLURM_JOB_ID...: slurm/batch.h), "" outside one */
	double started;      /* unix time */
	char version[32];
	char http[300];      /* the HTTP service's base URL, "http://HOST:PORT"; "" if none */
};

/* Write n bytes of text to DIR/NAME atomically and durably: a temp file,
 * fsync, rename, so a reader never sees half a file and a crash leaves the
 * old one or the new one. Mode 0600. 0, or -1 with a one-line err. */
int rundir_write_file(const char *dir, const char *name, const char *text, size_t n, char *err, size_t errlen);
/* Write DIR/master.json (rundir_write_file). */
int rundir_write_master(const char *dir, const struct master_info *mi, char *err, size_t errlen);
/* Read DIR/master.json. err says "no master.json in DIR: is the cluster
 * started? (mtslurm start)" when it is missing. */
int rundir_read_master(const char *dir, struct master_info *mi, char *err, size_t errlen);
/* Remove DIR/master.json (a clean stop). */
int rundir_remove_master(const char *dir);

/* 1 if a process with this pid exists and is not a zombie. */
int rundir_pid_alive(long pid);

#endif
