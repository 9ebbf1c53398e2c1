/* SPDX-License-Identifier: MIT */
/*
 * node: the state of one mtslurm-node process -- mindtrace's Node, one per
 * machine: it serves the Node endpoints over HTTP (api.c), launches workers
 * of a registered worker type as mtslurm-worker processes on ports of its
 * range (launch.c), keeps the table of the processes it started (procs.c)
 * and registers with the master every few seconds (registration.c). One
 * libuv loop, nothing blocking it: launches progress on a tick timer, every
 * HTTP call goes through share/hclient, children are reaped by uv_process.
 * docs/service-api.md ("Nodes") describes what a client sees.
 */
#ifndef MTS_NODE_H
#define MTS_NODE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "auth.h"
#include "hclient.h"
#include "httpd.h"
#include "msg.h"
#include "rundir.h"

/* mindtrace's WORKER_PORTS_RANGE default. */
#define NODE_PORTS_DEFAULT "8092-8111"
/* A launch that has not reached ready after this long fails (mindtrace's
 * wait_for_launch timeout). */
#define NODE_LAUNCH_TIMEOUT_S 60.0
/* Registration with the master: every this often, so that a restarted
 * master (which keeps nodes in memory) learns the node again. */
#define NODE_REGISTER_EVERY_MS 5000
/* ... and this often while it has not succeeded (no master yet). */
#define NODE_REGISTER_RETRY_MS 1000
/* Launches progress on this tick (port waits, /status polls). */
#define NODE_TICK_MS 100
/* A launching worker's /status is asked at most this often. */
#define NODE_POLL_MS 200
/* A worker asked to /shutdown that is still there after this gets SIGTERM,
 * and SIGKILL after as long again. */
#define NODE_GRACE_MS 3000
/* Finished launches are kept this long for /launch_worker_status, and at
 * most this many launches are kept at all (the oldest finished go first). */
#define NODE_LAUNCH_KEEP_S 3600.0
#define NODE_LAUNCH_MAX 1024
/* auto_connect_job_type: the worker's wire hello may reach the master a
 * little after its HTTP service answers, so a 503 ("no worker serves")
 * from /register_job_to_worker is retried this long. */
#define NODE_CONNECT_RETRY_S 15.0

struct launch;
struct proc;

struct node {
	uv_loop_t *loop;
	char run_dir[RUNDIR_PATH_MAX];
	char token[AUTH_HEX_BYTES];
	char ca_file[RUNDIR_PATH_MAX]; /* RUN_DIR/tls.crt: what an https:// master must show */
	char host[256];        /* where the node and its workers bind */
	char url_host[256];    /* the host in their URLs */
	int port;              /* the node's HTTP port (bound) */
	char url[300];         /* "http://HOST:PORT" ("https://" with tls); "" until it serves */
	int tls;               /* it serves HTTPS: the master does (master.json says https://) */
	char name[256];        /* util_nodename() */
	char server_id[37];    /* a uuid made at start */
	int port_lo, port_hi;  /* the workers' port range, inclusive */
	char worker_bin[PATH_MAX];
	struct httpd *d;
	struct hclient *hc;
	struct launch *launches; /* oldest first */
	size_t nlaunches;
	struct proc *procs;
	uv_timer_t tick;
	uv_timer_t reg_timer;
	struct hclient_call *reg_call; /* a /register_node in flight */
	char reg_master[300];          /* the master URL last registered with ("" none) */
	int reg_failing;               /* the last attempt failed (logged once) */
	uv_signal_t sigterm, sigint;
	int stopping;   /* shutting down: workers first, then the node */
	int handles;    /* uv handles open, the loop ends when they are closed */
	uint64_t stop_deadline_ns;
	/* Set by main.c at start, called by the parts below it (so that none
	 * of them calls back up into main.c): begin the node's shutdown, its
	 * workers first (POST /shutdown); serve the Node endpoints once
	 * master.json can be read (asked again at each registration; nothing
	 * while serving already), exiting with one line if it cannot. */
	void (*shutdown)(struct node *n, const char *why);
	void (*serve)(struct node *n);
};

/* api.c: the HTTP endpoints (a name-sorted table). */
void api_on_request(struct httpd_req *r, void *arg);
/* The table is sorted (for the unit check). 0, else the first bad index. */
size_t api_check(void);

/* launch.c: launches of workers (mindtrace's background launch thread). */
/* A new launch, pending; NULL with err (a refusal: 422) or on OOM. */
struct launch *launch_new(struct node *n, const msg *req, char *err, size_t errlen);
const char *launch_id(const struct launch *l);
struct launch *launch_find(struct node *n, const char *id);
/* LaunchWorkerStatusOutput of l (new msg). */
msg *launch_status(const struct launch *l);
/* Advance every unfinished launch (the tick). */
void launch_tick(struct node *n);
/* Fail every unfinished launch (the node stops). */
void launch_abort_all(struct node *n, const char *why);
void launch_free_all(struct node *n);

/* procs.c: the worker processes this node started. */
enum proc_state {
	PROC_LAUNCHING, /* started, not ready yet: holds its port */
	PROC_READY,     /* mindtrace's NodeWorker row, process alive */
	PROC_DEAD,      /* a row whose process ended: its port is reused in pass 2 */
	PROC_STOPPING,  /* row deleted, process asked to stop and not yet gone */
};
struct proc {
	struct node *n;
	enum proc_state state;
	uv_process_t p;
	uv_timer_t grace;
	int handles;      /* open uv handles of this proc */
	int exited;       /* its exit callback ran */
	int killed;       /* 0: none yet, 1: SIGTERM sent, 2: SIGKILL sent */
	long pid;
	int port;
	char id[64], name[128], url[300], wtype[65];
	char log[RUNDIR_PATH_MAX];
	/* While launching: its owner (a launch) and what to tell it when the
	 * process ends before it is ready (the owner then stops p). */
	void *owner;
	void (*on_exit)(void *owner, const char *why);
	struct proc *next;
};
/* Start mtslurm-worker for worker type wtype, id, on host:port; NULL with
 * err. */
struct proc *procs_spawn(struct node *n, const char *wtype, const char *id, const char *bind_host, int port,
			 const char *url, char *err, size_t errlen);
/* Mindtrace's shutdown of a worker: delete its row and stop it (POST
 * /shutdown, SIGTERM after NODE_GRACE_MS, SIGKILL after as long again). */
void procs_stop(struct proc *p);
/* The proc of a row (READY or DEAD) by name, id or port; NULL if none. */
struct proc *procs_row_by(struct node *n, const char *name, const char *id, int port);
/* Any proc on port in one of the states of mask (1u << state). */
struct proc *procs_on_port(struct node *n, int port, unsigned mask);
/* Whether p's process is alive (exit not seen and the pid not gone). */
int procs_alive(const struct proc *p);
/* Forget a DEAD row (its process has ended). */
void procs_forget(struct proc *p);
/* Processes still running (any state). */
size_t procs_running(const struct node *n);

/* registration.c: /register_node at the master, and the master calls. */
void registration_start(struct node *n);
void registration_stop(struct node *n);
/* The master's HTTP URL from master.json into out; 0, or -1 with err. */
int registration_master_url(struct node *n, char *out, size_t outn, char *err, size_t errlen);

/* node.c */
/* "SCHEME://HOST:PORT" of a service of this node (itself, its workers):
 * https when the node serves HTTPS; [HOST] for an IPv6 address. */
void node_url(const struct node *n, char *out, size_t outn, const char *host, int port);
/* hclient options with the node's token: timeout_s, retries. */
void node_call_opts(const struct node *n, struct hclient_opts *o, double timeout_s, unsigned retries);

#endif
