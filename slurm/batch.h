/* SPDX-License-Identifier: MIT */
/*
 * batch: the one table through which mtslurm talks to whatever runs its
 * master and workers -- a batch system (Slurm) or this machine. Each backend
 * is one file filling a struct batch_ops (Work Queue's batch_queue_module is
 * the model): submit an allocation (the master's, or one of N worker tasks),
 * look one up (state, nodes, start and end), cancel one, say whether this
 * process runs inside an allocation of that system and which. The CLI
 * (start, stop, status, add-workers), the master's autoscaler and the
 * worker's time-limit drain use only this table; sljob.h is Slurm's module
 * behind it, pbsjob.h PBS's (through pbsbatch.c).
 *
 * Job ids are strings (Slurm's "123", PBS's "123.server", a local
 * "PID@START"), at most BATCH_ID_MAX - 1 printable bytes without quotes,
 * backslashes or blanks (files write them into JSON as they are).
 *
 * Every call may block on a round trip to the batch system's server (up to
 * its timeout), so the master runs them on libuv's thread pool. Errors:
 * functions return -1 (-2: may work later) and write one line into err; no
 * function prints or exits.
 */
#ifndef MTS_BATCH_H
#define MTS_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define BATCH_ID_MAX 64

/* What an allocation asks for. Strings may be NULL (the system's default). */
struct batch_spec {
	const char *name;       /* job name */
	const char *queue;      /* Slurm partition, PBS queue */
	const char *account;
	const char *qos;
	const char *constraint; /* node features */
	const char *gres;       /* generic resources per node, e.g. "gpu:1" */
	const char *mem;        /* per node: "4000" (MB), "4G", "512M" */
	const char *walltime;   /* "MM", "MM:SS", "HH:MM:SS", "D-HH[:MM[:SS]]" (Slurm's forms; PBS gets HH:MM:SS) */
	/* PBS Pro's select statement, verbatim ("2:ncpus=8:mpiprocs=8"),
	 * instead of nodes/ntasks_per_node/cpus_per_task/mem; only PBS takes
	 * it, the other backends refuse it */
	const char *select;
	uint32_t nodes;         /* minimum; 0: the system decides */
	uint32_t ntasks;        /* 0: 1 */
	uint32_t ntasks_per_node;
	uint32_t cpus_per_task;
	const char *work_dir;   /* required */
	const char *out_path;   /* stdout+stderr of the script, "%j" = the job id; NULL: /dev/null */
	const char *script;     /* the batch script, "#!/bin/sh\n..." (required) */
	char **env;             /* NULL-terminated; NULL: this process's environment */
	int warn_signal;        /* signal sent warn_time_s before the end; 0: none */
	int warn_time_s;
	/* system-specific options ("--reservation=r"); a backend refuses the
	 * ones it does not know with a message listing those it does */
	const char *const *extra;
	size_t nextra;
};

enum batch_state {
	BATCH_PENDING,
	BATCH_RUNNING,
	BATCH_ENDING,  /* ended, its processes still being cleaned up */
	BATCH_ENDED,   /* completed, cancelled, failed, timed out... */
	BATCH_UNKNOWN, /* the system no longer knows it (purged after it ended) */
};

struct batch_info {
	enum batch_state state;
	char state_name[24]; /* the system's, e.g. "PENDING", "TIMEOUT" */
	char reason[160];    /* why pending or why it ended; "" if none */
	char nodes[256];     /* allocated nodes ("n[1-2]"), "" if none yet */
	uint32_t ntasks;
	uint32_t nnodes;     /* nodes allocated (or asked for, while pending) */
	time_t start, end;   /* actual or expected; 0 if unknown */
	uint32_t time_limit_min; /* 0 if none */
};

struct batch_ops {
	const char *name;  /* "slurm", "pbs", "local": --backend NAME */
	const char *title; /* for messages: "Slurm" */
	/* Does this machine have the system (its configuration, its commands)?
	 * Cheap and local: no round trip. For "auto". */
	int (*detect)(void);
	/* Is the system there and answering? 0, or -1 with err saying which
	 * and what to do. */
	int (*available)(char *err, size_t errlen);
	/* Would submit refuse spec whatever the system's state (an option
	 * this system cannot express, a malformed value)? 0, or -1 with err
	 * naming the option and what to use instead. Runs nothing: the CLI
	 * asks before it submits anything. NULL: submit alone decides. */
	int (*check)(const struct batch_spec *spec, char *err, size_t errlen);
	/* Submit; id gets the new job's id. -1: refused (retrying is
	 * pointless; err says why), -2: may work later. */
	int (*submit)(const struct batch_spec *spec, char id[BATCH_ID_MAX], char *err, size_t errlen);
	/* Look a job up: 0 (state BATCH_UNKNOWN if forgotten) or -1. */
	int (*query)(const char *id, struct batch_info *info, char *err, size_t errlen);
	/* End a job; one already over or forgotten is not an error. 0 or -1. */
	int (*cancel)(const char *id, char *err, size_t errlen);
	/* The environment variable naming the allocation a process runs in
	 * (SLURM_JOB_ID; a local job's MTSLURM_LOCAL_JOB); NULL: the backend
	 * has no allocations. */
	const char *alloc_env;
};

/* The backend modules, one file each: sljob.c (Slurm, through libslurm),
 * pbsbatch.c (PBS, through its commands: pbsjob.h) and localjob.c (this
 * machine), in batch_backends in that order, which is "auto"'s. */
extern const struct batch_ops batch_slurm_ops;
extern const struct batch_ops batch_pbs_ops;
extern const struct batch_ops batch_local_ops;

/* The backends built in, in "auto" order; NULL-terminated. */
extern const struct batch_ops *const batch_backends[];

/* A batch_spec's walltime -- Slurm's forms for every backend: "MM",
 * "MM:SS", "HH:MM:SS", "D-HH[:MM[:SS]]" -- into seconds; -1 if malformed.
 * A field after the first must be below 60 (hours after days: 24). */
long batch_walltime_s(const char *s);
/* The same for PBS, where 0 is refused too (-1); pbsbatch.c. */
long pbsbatch_walltime_s(const char *s);

/* The backend named name ("slurm", "pbs", "local"); "auto" or NULL: batch_detect().
 * NULL if there is none of that name, with err listing those there are. */
const struct batch_ops *batch_find(const char *name, char *err, size_t errlen);

/* What this machine has: the first backend (in table order) whose detect()
 * says yes; the last one ("local") always does. */
const struct batch_ops *batch_detect(void);

/* The names of the backends built in, ", " separated, for messages. */
const char *batch_names(void);

/* The backend of the allocation this process runs in (its alloc_env is
 * set), id filled with that allocation's id; NULL outside one. */
const struct batch_ops *batch_in_allocation(char id[BATCH_ID_MAX]);

/* The allocation this process runs in: which backend, its id and what the
 * system says about it (nodes, end time). 0, 1 outside an allocation,
 * -1 (err) when the system cannot say. Blocks like query. */
int batch_alloc_info(const struct batch_ops **ops, char id[BATCH_ID_MAX], struct batch_info *info, char *err,
		     size_t errlen);

/* Is id a plain number (Slurm's ids are)? Then *n is it, and JSON files
 * and replies carry it as a number, as they did before ids were strings;
 * other ids ("123.server") are JSON strings. */
int batch_id_number(const char *id, int64_t *n);

#endif
