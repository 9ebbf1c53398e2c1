/* SPDX-License-Identifier: MIT */
/*
 * master: the state one mtslurm-master process shares between its modules
 * (server, clients, workers, query) -- the loop, the store, the scheduler,
 * the registries of clients and workers, and the per-turn output that is
 * held back until the turn's transaction is committed.
 *
 * The turn: message handlers (I/O phase), timers and close callbacks change
 * memory and write to the store's open transaction; they queue replies in
 * "after-commit" buffers and mark the owner dirty. A uv_check callback then
 * dispatches jobs, commits once, and only then sends everything queued, so no
 * acknowledgement ever describes state that is not durable.
 */
#ifndef MTS_MASTER_H
#define MTS_MASTER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "auth.h"
#include "buf.h"
#include "call.h"
#include "conn.h"
#include "fbuf.h"
#include "gather.h"
#include "idranges.h"
#include "arrays.h"
#include "jobclock.h"
#include "jobs.h"
#include "metrics.h"
#include "msg.h"
#include "outbox.h"
#include "rundir.h"
#include "sched.h"
#include "store.h"

#define MASTER_VERSION "0.1.0"
#define MASTER_CID_MAX 64
#define MASTER_WID_MAX 128
#define MASTER_PREFETCH_MIN 1024 /* default prefetch: max(slots, this) */
/* A job's assignment reaches state.db only if it still runs this long after
 * it: most short jobs then cost one row update (their final one) instead of
 * two. A master restarted in between finds such a job queued and gives it
 * back to the worker that reports holding it (workers.c, hello). */
#define MASTER_ASSIGN_DEFER_MS 100 /* default of --assign-defer-ms */
/* After a restart, queued jobs wait at most this long for the workers that
 * were connected before (table `workers`) -- a little more than a worker's
 * longest reconnect backoff -- so none is handed a job another one holds. */
#define MASTER_SETTLE_MS 3000
/* Submit frames remembered for duplicate detection are pruned in steps of
 * this many reqs, and forgotten at startup after MASTER_SUBMIT_KEEP_S. */
#define MASTER_SUBMIT_PRUNE_STEP 256
#define MASTER_SUBMIT_KEEP_S (7 * 86400.0)
/* A sync that only `result_ok` frames wait for is put off this long, for
 * a client's next submit to share it (docs/master.md, the turn). */
#define MASTER_LAZY_SYNC_MS 2
/* Ids a cancel-all sweep rewrites per turn (a few ms of SQLite). */
#define MASTER_SWEEP_IDS 16384
/* Lost workers `status` lists (the newest; all of them are counted). */
#define MASTER_LOST_KEEP 16
/* Inputs: one of at most this many bytes is kept in memory while the
 * bytes held stay within cfg.input_mem_b (--input-memory); a larger one,
 * or one beyond the budget, lives only in state.db and is read back when
 * the job is assigned (store_input_json: one rowid lookup, small next to
 * sending that many bytes). So tiny jobs never touch the store for their
 * input, and the memory for queued inputs is bounded whatever the queue. */
#define MASTER_INPUT_HOLD_MAX 4096
/* Default budget: 1 GiB, at most an eighth of the machine's memory. */
#define MASTER_INPUT_MEM_DEFAULT (1ull << 30)
/* Ids of a client's backlog (results read back from state.db: hello's
 * "await", held-back results) scanned per loop turn, over all clients, and
 * result bytes queued per client and turn, so one client never stalls the
 * loop: the rest follows in the next turns. */
#define MASTER_BACKLOG_IDS_PER_TURN 16384
#define MASTER_BACKLOG_BYTES_PER_TURN (4u << 20)

/* One accepted connection. Its replies go through out (outbox.h), which
 * also decides when the peer is freed (server.c, peer_release). */
struct peer {
	struct master *m;
	struct conn *conn; /* NULL once closed */
	struct client *client; /* after a client hello */
	struct wrk *worker;    /* after a worker hello */
	struct outbox out;
	struct peer *prev, *next; /* all peers */
	int paused, is_worker, is_client;
	int git_held; /* a submit of it waits for its branches (gitres.h): not read meanwhile */
	int query_held; /* a listing of it runs on the reader (listing.h): not read meanwhile */
};

/* Everything the master knows about one client id (kept across reconnects
 * while it has unfinished jobs or a connection). */
struct client {
	struct sched_client sc;
	struct master *m;
	char cid[MASTER_CID_MAX + 1];
	struct peer *peer;  /* current connection, or NULL */
	struct fbuf done;   /* RESULTs to send after the commit */
	/* Results to read back from state.db and send (a backlog): hello's
	 * "await", ids of a re-sent submit, results held back while the
	 * connection was over its output high-water mark. Paged a bounded
	 * number of ids per turn (clients_flush); a job that ends with its id
	 * still in here is sent from the store, not by clients_result. */
	struct idranges backlog;
	int64_t pruned_below; /* submit frames below this req were forgotten (store_submit_prune) */
	int64_t backlog_sent, backlog_ids, backlog_turns; /* results sent, ids scanned, turns: for the log */
	int dirty;
	int done_sync;      /* `done` holds a result no worker keeps: it waits for the sync */
	unsigned holds;     /* jobs_finalize frames using it: not freed while > 0 */
	struct client *dirty_next;
	struct client *hnext; /* hash chain */
};

/* A worker: connected, or a placeholder for one that held jobs when the
 * master stopped (peer NULL, until it reconnects or the grace period ends). */
struct wrk {
	struct sched_worker sw;
	struct master *m;
	char wid[MASTER_WID_MAX + 1];
	char host[256], node[256];
	char slurm_job[64]; /* the worker's batch job id (slurm/batch.h), "" outside one */
	long pid;
	int rank;
	double since, last_seen;
	struct peer *peer;
	struct fbuf assign, result_ok, revoke_cancel, revoke_steal;
	int dirty, dead;
	double idle_since; /* autoscale: holding no job since (0: busy) */
	int told_exit;     /* autoscale released it */
	char leave_why[300]; /* its `leaving` message: why it exits ("" if none came) */
	char drain_why[200]; /* its `drain` message's why ("" if it never drained) */
	char wtype[65];      /* its worker type (types.c), "" for a plain worker */
	char url[256];       /* its HTTP address (mindtrace's worker_url), "" if it serves none */
	uint32_t *envs_sent; /* environment snapshots sent on this connection (workers.c) */
	size_t nenvs_sent, cap_envs_sent;
	struct wrk *dirty_next;
	struct wrk *prev, *next; /* all workers */
};

/* A worker that was lost (workers_lost), as `status` shows it. cause is
 * "exited" (it said why in a `leaving` message), "released" (the autoscaler
 * told it to exit), "connection" (its connection ended without a word: the
 * process died or was killed, its node failed, the network) or "not_back"
 * (it did not reconnect after a master restart). */
struct lost_worker {
	char wid[MASTER_WID_MAX + 1];
	char node[256];
	char slurm_job[64];
	long pid;
	int rank;
	double at; /* unix time */
	const char *cause;
	char reason[640];
	uint32_t jobs, requeued, failed; /* it held; queued again; failed out of retries */
};

struct http;
struct types;
struct gateway;
struct nodes;
struct pipelines;

struct waiter {
	struct call call; /* answered through its transport when ready */
	int all;
	int64_t *ids;
	size_t n, cursor;
	int64_t lo, hi; /* a job array's members lo..hi (ids NULL); lo advances */
	struct waiter *next;
};

struct master_cfg {
	const char *run_dir;
	const char *host;      /* bind address */
	int port;
	const char *advertise; /* address written to master.json, NULL: host */
	uint32_t prefetch;     /* UINT32_MAX: max(the worker's slots, MASTER_PREFETCH_MIN) */
	uint64_t max_queued;
	uint64_t input_mem_b;  /* bytes of job inputs held in memory; 0: the default */
	unsigned ping_ms, idle_ms;
	unsigned orphan_grace_ms;
	unsigned assign_defer_ms; /* see MASTER_ASSIGN_DEFER_MS; used if assign_defer_set */
	int assign_defer_set;
	int sync_normal;
	int master_works;
	const char *autoscale; /* RUN_DIR/autoscale.json, or NULL */
	const char *http_host; /* HTTP service address; NULL: 127.0.0.1 */
	int http_port;         /* 0: ephemeral */
	int no_http;           /* --no-http */
	int http_tls;          /* --http-tls[=on|off]: 1, 0; -1: on unless the address is loopback */
	int http_insecure;     /* --http-insecure: plain HTTP beyond loopback allowed */
};

struct master {
	struct master_cfg cfg;
	uv_loop_t *loop;
	struct jobclock clock; /* job times (jobclock.h): one clock, read off the loop's */
	unsigned char key[AUTH_KEY_BYTES];
	struct store *store;
	struct sched sched;
	uv_tcp_t listener;
	uv_check_t check;
	uv_idle_t idle; /* keeps poll from blocking while a turn has work */
	uv_timer_t orphan_timer;
	uv_timer_t assign_timer; /* writes deferred assignments of jobs still running */
	uv_timer_t settle_timer; /* ends the post-restart wait for known workers */
	uv_work_t sync_req;      /* store_sync on the thread pool */
	uv_work_t ckpt_req;      /* store_checkpoint on the thread pool */
	int sync_busy, sync_rc, unsynced, ckpt_busy, ckpt_rc;
	/* Only `result_ok` waits for a sync: it may wait for the next reply's
	 * sync, at most MASTER_LAZY_SYNC_MS (lazy_timer ends the wait). */
	int lazy_due;
	uv_timer_t lazy_timer;
	/* The job whose result a worker reported and keeps until its
	 * result_ok: its `done` needs the commit only (clients_result). */
	int64_t worker_result_id;
	double sync_s;                  /* how long the last store_sync took */
	struct metrics_hist sync_hist;  /* of those, for /metrics */
	char ckpt_err[256];
	struct master_gather gather; /* result gathering (gather.c) */
	struct outbox_set outs;  /* replies of every transport, held until durable */
	int settling;            /* after a restart: no dispatch until known workers are back */
	struct pend_assign *pa;  /* ring of assignments not yet written to the store */
	size_t pa_cap, pa_head, pa_n;
	struct master_info info;
	char db_path[RUNDIR_PATH_MAX];
	int64_t next_id;
	int64_t counts[5]; /* final states (history) from the store, plus this run */
	struct peer *peers;
	struct client *dirty_clients;
	struct wrk *dirty_workers;
	struct wrk *workers;
	struct client **ctab; /* cid hash */
	size_t ctab_size, nclients;
	struct waiter *waiters;
	const char *lost_wid; /* worker being dropped, for error texts */
	struct lost_worker lost[MASTER_LOST_KEEP]; /* ring: the newest lost workers */
	int64_t nlost;                /* workers lost since the master started */
	struct lost_worker *losing;   /* the record workers_lost is filling */
	int losing_fail;              /* inside a lost job's on_fail (its dependents do not count) */
	int npaused;
	int shutting_down, stopped, exit_code;
	int keep_workers; /* master_leave: do not tell the workers to exit */
	int handles_open;
	void (*on_stopped)(struct master *m); /* all handles closed */
	void *self_worker;                    /* --master-works */
	struct autoscale *autoscale;          /* --autoscale, or NULL */
	struct http *http;                    /* the HTTP service, or NULL (--no-http) */
	struct types *types;                  /* job types and worker types (types.c) */
	struct gateway *gateway;              /* endpoint job types and apps (gateway.c), or NULL */
	struct nodes *nodes;                  /* node agents and calls to them (nodes.c), or NULL */
	struct runtimes *runtimes;            /* container runtimes (share/runtime.h) for submit's
						 checks, made at the first named one; or NULL */
	struct pipelines *pipelines;          /* running pipelines (pipeline.c), or NULL */
	char server_id[40];                   /* a uuid made at start (mindtrace's server_id) */
	struct arrays *arrays;                /* job arrays (arrays.h) */
	struct gitres_hold *gitres;           /* submits held while their branches resolve (gitres.h) */
	int gitres_again;                     /* inside the handler of a resolved one */
	struct reader *reader;                /* the reader thread (reader.h), made at the first listing */
	struct listing *listings;             /* listings queued or running (listing.h) */
};

/* 1 if a new job's input of len bytes is kept in memory, with pending_b
 * bytes of not yet scheduled jobs held already (see MASTER_INPUT_HOLD_MAX). */
/* A job time (submitted, started, finished) of now, and of a job's 32-bit
 * loop time (assigned_ms): both on the one job clock (jobclock.h). Take
 * master_job_now before master_job_at in one event: a step of the wall
 * clock re-anchors in the former. */
static inline double master_job_now(struct master *m) { return jobclock_now(&m->clock, uv_now(m->loop)); }
static inline double master_job_at(const struct master *m, uint32_t loop_ms)
{
	return jobclock_at(&m->clock, jobclock_widen(uv_now(m->loop), loop_ms));
}

static inline int master_holds_input(const struct master *m, size_t len, uint64_t pending_b)
{
	return len <= MASTER_INPUT_HOLD_MAX && m->sched.input_b + pending_b + len <= m->cfg.input_mem_b;
}

/* server.c */
int master_start(struct master *m, uv_loop_t *loop, const struct master_cfg *cfg, char *err,
		 size_t errlen);
/* Begin a clean shutdown (shutdown message, SIGTERM). */
void master_shutdown(struct master *m);
/* Stop like master_shutdown, but leave the workers running: they keep
 * reconnecting, and the next master (mtslurm start) gets them back. */
void master_leave(struct master *m);
/* Wake the loop so this turn's check runs even if the change came from a
 * timer or a close callback. */
void master_touch(struct master *m);
/* master_touch for work that may wait for a result gathering's hold
 * (results, starts, a finished sync, deferred writes): it does not make
 * the next turn urgent. */
void master_touch_quiet(struct master *m);
void master_free(struct master *m);

/* clients.c */
struct client *clients_get(struct master *m, const char *cid, int create);
void clients_maybe_free(struct client *c);
void clients_dirty(struct client *c);
/* Queue a RESULT for a job that is about to be freed. */
void clients_result(struct client *c, const struct mjob *j, int state, const char *worker,
		    const char *output, size_t output_len, const char *error, int rc_set, int rc);
/* Handlers of client requests (call.c's table). */
void clients_on_hello(struct call *c, msg *m);
void clients_on_env(struct call *c, msg *m);
void clients_on_submit(struct call *c, msg *m);
void clients_on_cancel(struct call *c, msg *m);
void clients_on_shutdown(struct call *c, msg *m);
/* After the commit: send pending callbacks (and backlogs) of dirty clients. */
void clients_flush(struct master *m);
void clients_release(struct master *m);

/* workers.c */
struct wrk *workers_find(struct master *m, const char *wid);
struct wrk *workers_new(struct master *m, const char *wid);
void workers_dirty(struct wrk *w);
/* A message from a worker's connection (sink: how replies are framed). */
void workers_on_msg(struct peer *p, msg *m, const struct call_sink *sink);
/* The worker messages' handler table, sorted by name (for its unit test). */
extern const struct call_handler *const workers_calls;
extern const size_t workers_ncalls;
/* The worker's connection is gone (or its grace period ended). */
void workers_lost(struct wrk *w, const char *why);
/* Send queued assignments and revokes. seal = 1: also hold the result
 * confirmations for the disk sync (a worker forgets a result once
 * confirmed, so the confirmation must not outrun its durability). */
void workers_flush(struct master *m, int seal);
void workers_expire_orphans(struct master *m);
void workers_release(struct master *m);
/* The most slots of any connected worker, 0 while none is connected. */
uint32_t workers_max_slots(const struct master *m);
/* Write the assignments (state running) of jobs assigned at least
 * cfg.assign_defer_ms ago that still run; all = 1: of every job assigned
 * so far (before a `jobs` listing, at shutdown). Jobs that finished before
 * that are written once, by their final update. */
void workers_flush_assigns(struct master *m, int all);
/* Wall-clock time of j's last assignment (j assigned), or of its start once
 * the worker reported it (MJOB_F_STARTED). */
double workers_assigned_at(const struct master *m, const struct mjob *j);
/* Wall-clock time j started on its worker, or 0 if it has not (prefetched). */
double workers_started_at(const struct master *m, const struct mjob *j);
extern const struct sched_cb workers_sched_cb;

/* query.c */
void query_status(struct call *c, msg *m);
/* The `status` reply's object (without "req"): new, the caller frees it;
 * NULL if memory ran out. GET /api/v1/status, the dashboard's event stream
 * and /metrics all show this one object. */
msg *query_status_msg(struct master *m);
void query_explain(struct call *c, msg *m);
void query_workers(struct call *c, msg *m);
void query_wait(struct call *c, msg *m);
void query_forget(struct call *c, msg *m);
/* After each commit: answer waits whose jobs are all final. */
void query_check_waiters(struct master *m);
/* The transport of out is gone: forget its waits. */
void query_drop_waiters(struct master *m, const struct outbox *out);

static inline struct client *client_of(struct sched_client *sc) { return (struct client *)sc; }
static inline struct wrk *wrk_of(struct sched_worker *sw) { return (struct wrk *)sw; }

#endif
