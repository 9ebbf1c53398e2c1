/* SPDX-License-Identifier: MIT */
/*
 * worker: the worker runtime -- one connection to the master, S slots, a
 * local FIFO of prefetched jobs, the executors (echo, exec, func), the job
 * output log, and the results kept until the master confirms them durable.
 * It runs on a libuv loop it does not own: mtslurm-worker (mpi/main.c) gives
 * it one loop per process, the master gives it its own loop for
 * --master-works.
 *
 * Life cycle: worker_new() reads RUN_DIR/master.json and RUN_DIR/key and
 * connects (retrying with backoff while there is no master yet). When the
 * master goes away the worker keeps its running jobs and their results,
 * reconnects to whatever master.json names (100 ms doubling to 2 s) and tells
 * the new connection what it holds (`hello` with `held` and `results`). It
 * gives up after reconnect_max_ms without a master, or leaves when the master
 * sends `exit`; either way cfg.on_exit is called once and the owner then calls
 * worker_stop(). See docs/worker.md and docs/protocol.md section 5.
 *
 * Not thread-safe: call everything on the loop's thread.
 */
#ifndef MTS_WORKER_H
#define MTS_WORKER_H

#include <stddef.h>
#include <uv.h>

#define WORKER_EXIT_OK 0       /* the master said exit */
#define WORKER_EXIT_CANNOT_START 2 /* e.g. its HTTP port is taken */
#define WORKER_EXIT_NO_MASTER 3 /* gave up after reconnect_max_ms alone */

struct worker_cfg {
	const char *run_dir;
	int slots;                 /* <= 0: 1 */
	int rank;
	const char *id;            /* NULL: NODE-PID-RANK */
	unsigned reconnect_max_ms; /* give up after this long without a master, 0 = 10 min */
	/* Additions (all optional, zero = default): */
	void (*on_exit)(void *arg, int code, const char *why); /* see WORKER_EXIT_* */
	void *arg;
	char **job_env;    /* base environment for exec jobs; NULL: environ */
	unsigned ping_ms;  /* 0: 2000 */
	unsigned idle_ms;  /* 0: 10000 */
	unsigned long long log_cap_bytes; /* job log cap per job and stream; 0: 16 MiB */
	/* Worker types (docs/worker.md, "Worker types"): */
	const char *wtype;     /* its worker type, told to the master in hello; NULL: a plain worker */
	int http;              /* serve mindtrace's Worker endpoints (worker/wapi.h) */
	const char *http_host; /* NULL: 127.0.0.1 */
	int http_port;         /* 0: an ephemeral port */
	const char *url;       /* advertised in hello; NULL: http://HOST:PORT as bound */
	/* Its CPUs, memory and GPUs (resource.h), told to the master in hello
	 * (copied); NULL: none (it takes no job that asks for resources). */
	const struct resource_set *res;
};

struct worker;
struct resource_set;

/* Create the worker and start connecting. Returns NULL with a one-line
 * reason in err when it cannot work at all (bad key file permissions, the
 * log directory cannot be written, out of memory). A missing master.json or
 * key is not an error: the worker waits for them (up to reconnect_max_ms). */
struct worker *worker_new(uv_loop_t *loop, const struct worker_cfg *cfg, char *err, size_t errlen);

/* Kill running jobs (SIGTERM, SIGKILL after 2 s), drop queued ones, close the
 * connection and free the worker; done(arg) is called when all its handles
 * are closed. Results not yet confirmed are lost (the master retries those
 * jobs). Functions still running on the thread pool are abandoned; they must
 * return before the loop can be closed. */
void worker_stop(struct worker *w, void (*done)(void *arg), void *arg);

/* The reason worker_stop() gives the master in its `leaving` message
 * ("got SIGTERM"; copied; default "stopped by its process"). */
void worker_set_stop_reason(struct worker *w, const char *why);

/* Leave gracefully (the worker's Slurm job nears its end): take no more
 * jobs, give the queued ones back to the master (message "drain"), finish
 * the running ones, and once every result is confirmed exit with code 0
 * through cfg.on_exit. why (copied) goes to the log and the master. */
void worker_drain(struct worker *w, const char *why);

/* The unix time the worker's Slurm job ends (known after start): told to
 * the master now and in every hello, so that it does not give this worker
 * a job asking for more time than is left. */
void worker_set_end(struct worker *w, double end);

/* The URL its HTTP endpoints are advertised at ("" until they serve). */
const char *worker_url(const struct worker *w);

/* The worker id (NODE-PID-RANK unless cfg.id was set). */
const char *worker_id(const struct worker *w);

/* Fill out with the default id NODE-PID-RANK. */
void worker_default_id(char *out, size_t n, int rank);

/* Counters for tests and the daemon log. */
struct worker_stats {
	unsigned long long started, finished, results_sent, results_confirmed;
	unsigned running, queued, unconfirmed, connects;
	int connected; /* hello_ok received on the current connection */
};
void worker_get_stats(const struct worker *w, struct worker_stats *st);
/* 0 if the table of messages from the master is sorted (nametab_check):
 * for the unit test. */
size_t worker_msgs_check(void);

#endif
