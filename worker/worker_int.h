/* SPDX-License-Identifier: MIT */
/*
 * worker_int: the worker's state (struct worker) and the records it keeps
 * -- results until `result_ok`, this turn's starts, job timers -- for the
 * code of worker.c. Moved out of worker.c as a section of its own; nothing
 * outside worker/ includes it.
 */
#ifndef MTS_WORKER_INT_H
#define MTS_WORKER_INT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "auth.h"
#include "buf.h"
#include "idmap.h"
#include "resource.h"
#include "rhold.h"
#include "rundir.h"
#include "worker.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define MASTER_JSON_POLL_MS 200 /* while there is no master.json */
#define RECONNECT_MAX_DEFAULT_MS (10u * 60 * 1000)
#define FRAME_SPLIT_BYTES (8u << 20)  /* start a new result frame past this */
#define HELLO_RESULTS_BYTES (32u << 20) /* results carried by hello itself */

enum cstate {
	CS_IDLE,       /* no connection; retry timer armed */
	CS_CONNECTING, /* conn exists, handshake not done */
	CS_HELLO,      /* hello sent, waiting for hello_ok */
	CS_ACTIVE,     /* hello_ok received */
	CS_OFF         /* exiting or stopping: no more connections */
};

struct wres {
	int64_t id;
	int in_map;
	int queued;
	struct wres *next; /* send queue */
	size_t len;
	char json[]; /* one WRESULT object */
};

/* A start to tell the master at the end of the turn, if the job still runs. */
struct wstart {
	int64_t id;
	int attempt;
	double at;
};

struct job_timer {
	uv_timer_t h;
	struct job *j; /* NULL once the job is gone */
	struct worker *w;
};

struct worker {
	uv_loop_t *loop;
	struct worker_cfg cfg;
	char *run_dir;
	char id[320];
	char node[256];
	char key_path[RUNDIR_PATH_MAX];
	int slots;
	struct resource_set res; /* told to the master in hello (has_res) */
	int has_res;
	int running;
	struct job *qhead, *qtail;
	unsigned nqueued;
	struct idmap jobs;    /* id -> struct job (queued and running) */
	struct idmap results; /* id -> struct wres (not yet confirmed) */
	struct wres *sq_head, *sq_tail;
	struct wstart *starts; /* this turn's starts (see above) */
	size_t nstarts, cap_starts;
	int in_assign; /* jobs started now start on arrival */
	struct buf scratch, frame;
	struct exec *exec;
	struct func *func;
	struct cgroup *cg; /* job containment (cgroup.h); closed after exec and func */
	struct joblog_writer *jl;
	int jl_failed;
	uv_idle_t flush_idle;
	uv_timer_t hold_timer; /* ends a hold of results (rhold.h) */
	struct rhold hold;
	size_t nsq; /* results in the send queue */
	uv_timer_t retry_timer;
	struct conn *conn;
	enum cstate cs;
	unsigned backoff_ms;
	uint64_t alone_since_ns; /* 0 while connected */
	char last_wait[512];     /* last reason for not being connected, logged once */
	char master_addr[300];
	int pumping;
	int exiting;
	int stopping;
	int draining; /* worker_drain: no new jobs, leave when empty */
	double end;   /* worker_set_end; 0: unknown */
	char stop_why[200]; /* worker_set_stop_reason: what worker_stop tells the master */
	int pending; /* closes worker_stop waits for */
	int timers_open;
	void (*stop_cb)(void *);
	void *stop_arg;
	unsigned char key[AUTH_KEY_BYTES];
	struct worker_stats st;
	struct envcache *envs; /* environment snapshots the master sent (exec jobs) */
	char *run_dir_abs;     /* MTSLURM_RUN_DIR of exec jobs */
	struct typed *typed;   /* typed jobs (typed.h) */
	struct gitstep *git;   /* checkouts of jobs with a "git" option (gitstep.h) */
	struct wapi *wapi;     /* the HTTP endpoints (wapi.h), or NULL */
	char wtype[72];        /* cfg.wtype, "" for a plain worker */
	char url[300];         /* advertised URL of wapi, "" until it serves */
};

#endif
