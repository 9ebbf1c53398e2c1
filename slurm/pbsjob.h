/* SPDX-License-Identifier: MIT */
/*
 * pbsjob: PBS batch jobs through PBS's command line -- render a job script
 * with #PBS directives, submit it with qsub, look a job up with qstat, cancel
 * it with qdel, check that the commands answer, and read $PBS_NODEFILE. It
 * mirrors slurm/sljob.h so that the backend table can wrap it thinly. No PBS
 * C library is packaged (OpenPBS's IFL headers are not in Debian), so every
 * call runs a command: by PATH lookup, without a shell (user values are
 * never interpolated), in its own process group, with stdout and stderr
 * captured and a bounded time (PBSJOB_TIMEOUT_MS, then SIGKILL to the whole
 * group). Calls block for that long at most: the master runs them on
 * libuv's thread pool, the CLI directly. They keep no state but one flag
 * (does `qstat -F json` work here), so they may run on several threads.
 *
 * Three dialects are understood: PBS Pro / OpenPBS (`-l select=`, `qstat -f
 * -F json`, `stime`, `obittime`), Torque (`-l nodes=N:ppn=C`, `start_time`,
 * `comp_time`) and Slurm's PBS wrappers (Debian's slurm-wlm-torque: both
 * resource styles, text `qstat -f` only, `mtime`/`ctime` for start/end).
 * docs/pbs.md says which directive each honours and what was verified
 * against which.
 *
 * Errors: functions return -1 (or -2, see each) and write one line into
 * err saying what was wrong and, where it helps, what to do. No function
 * prints, exits or aborts.
 */
#ifndef MTS_PBSJOB_H
#define MTS_PBSJOB_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Each qsub/qstat/qdel gets this long before it is killed. */
#define PBSJOB_TIMEOUT_MS 30000

/* How the nodes are asked for. */
enum pbsjob_style {
	PBSJOB_SELECT, /* PBS Pro / OpenPBS: -l select=N:ncpus=C[:mem=M] -l place=scatter */
	PBSJOB_NODES,  /* Torque (and Slurm's wrappers): -l nodes=N:ppn=C [-l mem=N*M] */
};

/* What a batch job asks for. Strings may be NULL (PBS's default) unless
 * marked required. Nothing is kept after the call. */
struct pbsjob_spec {
	const char *name;     /* -N: a letter first, then [A-Za-z0-9_.+-], <= 236 chars */
	const char *queue;    /* -q: "batch", "workq", "q@server" */
	const char *account;  /* -A */
	const char *walltime; /* -l walltime=: "SS", "MM:SS" or "HH:MM:SS"; rendered HH:MM:SS */
	enum pbsjob_style style;
	uint32_t nodes;       /* nodes (chunks); 0: 1 */
	uint32_t ncpus;       /* per node (ncpus= / ppn=); 0: 1 */
	const char *mem;      /* per node: "4000" (MB), "4G", "512mb", "2gb" */
	/* PBS Pro's select statement, verbatim ("2:ncpus=8:mpiprocs=8"): only
	 * with PBSJOB_SELECT, and then nodes, ncpus and mem must be 0/NULL. */
	const char *select;
	const char *work_dir; /* required, absolute: the script file goes here, qsub runs here, the job cd's here */
	const char *out_path; /* stdout+stderr of the job (-o PATH -j oe); NULL: /dev/null */
	const char *script;   /* required: the job's shell script ("#!/bin/sh\n..."); directives go after its #! line */
	/* NULL-terminated "NAME=value" list the script exports before running;
	 * NULL: none. No -V: on PBS the job does not get qsub's environment
	 * (Slurm's wrappers export it anyway, as sbatch does by default). */
	const char *const *env;
};

/* "SS", "MM:SS", "HH:MM:SS" (fields of digits, minutes and seconds may
 * exceed 59 only in the first field) into seconds; -1 if malformed or 0. */
long pbsjob_parse_walltime(const char *s);
/* A memory size into MB (rounded up): digits with an optional k/m/g/t,
 * optionally followed by b, any case; no suffix means MB. -1 if malformed. */
long pbsjob_parse_mem(const char *s);

/* Render the job script. 0 and *out (a new string, free with free()), or
 * -1 with err naming the bad field. Pure: runs nothing. */
int pbsjob_render(const struct pbsjob_spec *spec, char **out, char *err, size_t errlen);

/* Is prog an executable on $PATH? 1 or 0. */
int pbsjob_on_path(const char *prog);

/* Are qsub and qstat on PATH, and does `qstat -Q` (the queues) answer?
 * 0, or -1 with err saying which (and suggesting another backend). */
int pbsjob_available(char *err, size_t errlen);

/* Render the script, write it to a new file in work_dir, run
 * `qsub -j oe -o OUT FILE` there (the -o/-j are given on the command line
 * too because Slurm's qsub overrides the script's with its own defaults),
 * and remove the file (qsub has copied it). *id gets the job id qsub
 * printed ("1234.server"; the wrappers print "1234"). -1 when the spec or
 * PBS refuses the job, so trying again is pointless, with qsub's reason in
 * err; -2 when it may work later (qsub timed out, server unreachable). */
int pbsjob_submit(const struct pbsjob_spec *spec, char *id, size_t idlen, char *err, size_t errlen);

enum pbsjob_state {
	PBSJOB_PENDING, /* Q, H, W, T */
	PBSJOB_RUNNING, /* R, B, S, U */
	PBSJOB_ENDING,  /* E: exiting, processes being cleaned up */
	PBSJOB_ENDED,   /* C (Torque, wrappers), F, X (PBS Pro history), M */
	PBSJOB_UNKNOWN, /* the server no longer knows it */
};

struct pbsjob_info {
	enum pbsjob_state state;
	char state_letter;   /* qstat's job_state, e.g. 'R'; '\0' if UNKNOWN */
	char state_name[16]; /* "QUEUED", "RUNNING", "FINISHED"... */
	char reason[160];    /* the job's comment (why queued, how it ended); "" if none */
	char queue[64];
	char nodes[256];     /* distinct exec hosts, "n1,n2"; "" if none yet (cut at a host if too long) */
	uint32_t nnodes;     /* distinct exec hosts, else Resource_List.nodect */
	uint32_t ncpus;      /* Resource_List.ncpus; 0 if not given */
	long walltime_s;     /* Resource_List.walltime; 0 if none */
	time_t start, end;   /* actual or expected (start + walltime); 0 if unknown */
};

/* Look a job up: `qstat -f -F json ID` where that works (PBS Pro,
 * OpenPBS), else `qstat -f ID`. 0 (info filled; PBSJOB_UNKNOWN if the
 * server has forgotten it), -1 (bad id, unreadable answer), or -2 (qstat
 * timed out or the server is unreachable: ask again later). */
int pbsjob_query(const char *id, struct pbsjob_info *info, char *err, size_t errlen);

/* Parse the answer of `qstat -f ID` (text) or `qstat -f -F json ID` for
 * one job. 0, or -1 if no job is in it. For pbsjob_query and the tests. */
int pbsjob_parse_qstat(const char *text, struct pbsjob_info *info, char *err, size_t errlen);
int pbsjob_parse_qstat_json(const char *json, struct pbsjob_info *info, char *err, size_t errlen);

/* Cancel a job (`qdel ID`). A job that already ended or that the server
 * has forgotten is not an error. 0, -1, or -2 (as pbsjob_query). */
int pbsjob_cancel(const char *id, char *err, size_t errlen);

/* One host of a PBS node file and how many lines (slots) name it. */
struct pbsjob_host {
	char name[256];
	uint32_t slots;
};

/* Read a PBS node file (one host per line, a host once per slot; path NULL:
 * $PBS_NODEFILE) into its distinct hosts in first-seen order. 0 and
 * *hosts (a new array, free with free()) of *nhosts >= 1, or -1. */
int pbsjob_nodefile(const char *path, struct pbsjob_host **hosts, size_t *nhosts, char *err, size_t errlen);

/* What a command did (pbsjob_run). */
struct pbsjob_cmd {
	int status;    /* exit status; 128+N if killed by signal N; -1 if it timed out (then killed) */
	char *out;     /* its stdout, NUL-terminated (first 1 MiB), free with free() */
	char *errout;  /* its stderr, likewise */
};

/* Run argv (argv[0] looked up on PATH; no shell) in cwd (NULL: here) with
 * stdin from /dev/null, for at most timeout_ms, then SIGKILL to its process
 * group. 0 and *r filled (free with pbsjob_cmd_release), or -1 with err
 * when it could not be started (e.g. "qsub: not found on PATH"). */
int pbsjob_run(const char *const *argv, const char *cwd, int timeout_ms, struct pbsjob_cmd *r,
	       char *err, size_t errlen);
void pbsjob_cmd_release(struct pbsjob_cmd *r);

#endif
