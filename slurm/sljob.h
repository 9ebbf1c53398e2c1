/* SPDX-License-Identifier: MIT */
/*
 * sljob: Slurm jobs through libslurm -- submit a batch job, look one up,
 * cancel one, and check that a controller answers. Everything mtslurm asks
 * Slurm goes through here; it asks about its own allocations (the master's
 * job, worker jobs), never about mtslurm jobs.
 *
 * Every call blocks on a round trip to slurmctld (libslurm's MessageTimeout,
 * ~10 s when the controller is down), so the master runs them on libuv's
 * thread pool and the CLI runs them directly. libslurm is used from one
 * thread at a time (calls here are serialised by a mutex) because its
 * configuration cache is initialised lazily.
 *
 * The rest of mtslurm reaches it through batch.h's table (batch_slurm_ops,
 * at the end of sljob.c), not through these functions.
 *
 * Errors: functions return -1 and write one line into err that names what
 * Slurm said (slurm_strerror) and, where it helps, what to do. No function
 * prints or exits.
 */
#ifndef MTS_SLJOB_H
#define MTS_SLJOB_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* What a batch job asks for. Strings may be NULL (Slurm's default). */
struct sljob_spec {
	const char *name;       /* --job-name */
	const char *partition;  /* --partition */
	const char *account;    /* --account */
	const char *qos;        /* --qos */
	const char *constraint; /* --constraint */
	const char *gres;       /* --gres, e.g. "gpu:1" (per node) */
	const char *mem;        /* --mem per node: "4000" (MB), "4G", "512M" */
	const char *time;       /* --time: "MM", "MM:SS", "HH:MM:SS", "D-HH[:MM[:SS]]" */
	uint32_t nodes;         /* --nodes (minimum); 0: Slurm decides */
	uint32_t ntasks;        /* --ntasks; 0: 1 */
	uint32_t ntasks_per_node;
	uint32_t cpus_per_task;
	const char *work_dir;   /* required */
	const char *out_path;   /* stdout+stderr of the batch script; NULL: /dev/null */
	const char *script;     /* the batch script, "#!/bin/sh\n..." (required) */
	char **env;             /* NULL-terminated; NULL: this process's environment */
	int warn_signal;        /* signal the job's steps get warn_time s before its end; 0: none */
	int warn_time;
	/* --sbatch-arg values ("--reservation=r", "--exclusive", ...): the
	 * ones sljob_extra_names() lists are mapped onto the job description;
	 * any other is refused with a message saying so. */
	const char *const *extra;
	size_t nextra;
};

/* Parse a Slurm time limit into minutes (rounded up). -1 if malformed. */
long sljob_parse_time(const char *s);
/* Parse --mem into MB. -1 if malformed. */
long sljob_parse_mem(const char *s);
/* The --sbatch-arg options that are supported, for messages. */
const char *sljob_extra_names(void);

/* Is there a Slurm configuration file on this machine? No round trip:
 * batch.c's "auto" asks this. */
int sljob_configured(void);

/* Is there a Slurm configuration, and does slurmctld answer? 0, or -1 with
 * err saying which (and suggesting --local). Without a configuration file
 * libslurm would block for a minute, so this checks for one first
 * ($SLURM_CONF, else /etc/slurm/slurm.conf, else a configless cache). */
int sljob_available(char *err, size_t errlen);

/* Submit a batch job; *id is its Slurm job id. -1 when Slurm (or the
 * spec) refuses it, so trying again is pointless, with the reason (e.g.
 * "Invalid partition name specified") in err; -2 when it may work later
 * (slurmctld unreachable or busy). */
int sljob_submit(const struct sljob_spec *spec, uint32_t *id, char *err, size_t errlen);

enum sljob_state {
	SLJOB_PENDING,
	SLJOB_RUNNING,
	SLJOB_ENDING,  /* ended, its processes still being cleaned up (squeue: CG) */
	SLJOB_ENDED,   /* completed, cancelled, failed, timed out, node failure... */
	SLJOB_UNKNOWN, /* Slurm no longer knows it (purged after it ended) */
};

struct sljob_info {
	enum sljob_state state;
	char state_name[24]; /* Slurm's, e.g. "PENDING", "TIMEOUT" */
	char reason[160];    /* why pending or why it ended; "" if none */
	char nodes[256];     /* allocated nodes ("n[1-2]"), "" if none yet */
	uint32_t ntasks;
	uint32_t nnodes;     /* nodes allocated (or asked for, while pending) */
	time_t start, end;   /* actual or expected; 0 if unknown */
	uint32_t time_limit; /* minutes; 0 if none */
};

/* Look a job up. 0 (info filled; state SLJOB_UNKNOWN if Slurm has forgotten
 * it) or -1. */
int sljob_query(uint32_t id, struct sljob_info *info, char *err, size_t errlen);

/* Cancel a job (SIGKILL to all its steps and the batch script). A job that
 * already ended or that Slurm has forgotten is not an error. 0 or -1. */
int sljob_cancel(uint32_t id, char *err, size_t errlen);

#endif
