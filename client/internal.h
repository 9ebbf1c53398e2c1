/* SPDX-License-Identifier: MIT */
/*
 * internal: the client library's private state, shared by its modules
 * (client.c: connection, thread and requests; jobmap.c: outstanding jobs;
 * submit.c: submitting, futures, map; nbq.c: the non-blocking submit;
 * query.c: the other requests). Never
 * installed; nothing here is exported.
 *
 * Locking: every field below the mutex is guarded by it. The I/O thread
 * (MTS_THREAD) or the caller (MTS_POLL) runs the loop; user callbacks always
 * run with the mutex released and outside uv_run(), so they may call any
 * mts_* function.
 */
#ifndef MTS_CLIENT_INTERNAL_H
#define MTS_CLIENT_INTERNAL_H

#include <pthread.h>
#include <uv.h>

#include "auth.h"
#include "buf.h"
#include "conn.h"
#include "jobenv.h"
#include "msg.h"
#include "mtslurm.h"
#include "rundir.h"

#define CLIENT_BATCH_MAX 50000 /* jobs per submit frame */
#define CLIENT_AWAIT_MAX 65536 /* id ranges in a reconnecting hello's "await" */

/* What to do with a job's result when it arrives. */
struct jobent {
	mts_job_id id; /* 0: empty slot */
	void *user;
	struct mts_future *fut;
	struct mts_result *keep; /* map(): where to copy the result */
};

/* A run of consecutive ids acknowledged by one `submitted`. */
struct idrange {
	mts_job_id first;
	mts_job_id n;
};

struct jobmap {
	struct jobent *v;
	size_t cap, n; /* cap is a power of two */
	/* Every id ever submitted through the handle, as sorted ranges (a batch
	 * is one range), so that waiting for a job already reported can answer
	 * "final" instead of "unknown" without remembering each job. */
	struct idrange *rg;
	size_t nrg, caprg;
};

int jobmap_put(struct jobmap *m, const struct jobent *e);
/* Remove id and copy its entry into *out; 0, or -1 if absent. */
int jobmap_take(struct jobmap *m, mts_job_id id, struct jobent *out);
int jobmap_has(const struct jobmap *m, mts_job_id id);
/* Remember that ids first..first+n-1 were submitted here. 0 or -1 (OOM). */
int jobmap_note(struct jobmap *m, mts_job_id first, mts_job_id n);
/* 1 if id was ever submitted through this handle (final or not). */
int jobmap_submitted(const struct jobmap *m, mts_job_id id);
/* The ids still awaited, sorted, as at most max [first, last] pairs (gaps
 * bridged when there would be more): *out gets 2 * *npairs ids, owned by
 * the caller (NULL when none). 0 or -1 (OOM). */
int jobmap_ranges(const struct jobmap *m, mts_job_id **out, size_t *npairs, size_t max);
void jobmap_release(struct jobmap *m);
/* Enter a submit's jobs, acknowledged as first..first+reg->n-1 (with
 * their user pointers, futures and kept results). */
struct jobreg;
void jobmap_apply_reg(struct jobmap *m, struct jobreg *reg, mts_job_id first);
/* Free a submit's registration (NULL is a no-op). */
void jobreg_free(struct jobreg *reg);

/* Registration of a submit frame's jobs, applied by the loop thread when the
 * `submitted` ack arrives, so that no `done` can overtake it. */
struct jobreg {
	size_t n;
	void **user;
	struct mts_future **fut;
	struct mts_result **keep;
	mts_job_id first; /* filled from the ack */
};

/* An environment snapshot (mts_job.export_env resolved against environ at
 * submit; share/jobenv.h) that submit frames of this handle refer to by
 * key. Its `env` frame goes out once per connection, right before the first
 * frame that needs it (client.c send_pending), so the master can store it
 * once for all the jobs that use it. Interned by key; guarded by the mutex. */
struct envsnap {
	char key[JOBENV_KEY_LEN + 1];
	struct buf frame;  /* {"t":"env","key":...,"base":...,"vars":[...]} */
	unsigned conn_gen; /* connection it was last sent on; 0: never */
	uint64_t sent_ns;  /* when (monotonic) */
	unsigned refs;     /* pending requests that use it */
	uint64_t used_ns;  /* last submit that used it (eviction) */
	struct envsnap *next;
};

/* One request awaiting its reply. Owned by the caller that waits on it; the
 * client only links it while it is pending. */
struct req {
	int64_t no;
	struct buf frame; /* JSON text; re-sent after a reconnect */
	int sent;         /* on the current connection */
	int done;
	int err;          /* MTS_OK or an error */
	char errmsg[512];
	msg *reply;       /* owned; freed by the waiter */
	struct jobreg *reg;
	struct envsnap **envs; /* snapshots its jobs use (refs held), sent first */
	size_t nenvs;
	struct nbframe *nb;    /* a frame of mts_submit_nb: owned by the handle */
	struct req *next;
};

/* The jobs of a frame built by mts_submit_nb (nbq.c): while it fills, their
 * text in `jobs`; once closed, in the req's frame after `hdr` bytes. off[i]
 * is where job i's text starts (relative to the first job); jobs are
 * separated by one comma. Kept so that a frame the master refuses for one
 * bad job can be sent again without it. */
struct nbframe {
	struct buf jobs;
	size_t hdr;
	size_t *off;
	uint64_t *seq;
	size_t cap;
	int resent; /* the rest of a refused frame: refused again, it splits into single jobs */
};

/* Callbacks waiting to be delivered: one batch per `done` frame, or per
 * acknowledged (or failed) frame of mts_submit_nb. */
struct cbitem {
	union {
		mts_result r; /* on_done */
		mts_ack a;    /* on_ack */
	};
};
struct cbbatch {
	msg *m;     /* owns the strings the items point into */
	char *text; /* or this does (a failed submit's reason); NULL */
	int ack;    /* items are mts_ack for on_ack */
	size_t n;
	struct cbbatch *next;
	struct cbitem items[];
};

struct mts_future {
	mts_client *c;
	mts_job_id id;
	int done;
	mts_result r; /* strings owned (strdup) */
};

struct mts_client {
	mts_options opt;
	mts_ack_fn on_ack; /* mts_set_on_ack; under mu */
	char run_dir[RUNDIR_PATH_MAX];
	char cid[33];
	char name[128];
	unsigned char key[AUTH_KEY_BYTES];
	uv_loop_t loop;
	uv_async_t wake;
	uv_timer_t retry;   /* reconnect backoff */
	uv_timer_t tick;    /* bounds uv_run while a caller drives the loop */
	pthread_t thread;
	int has_thread;
	int loop_inited;
	int loop_ready; /* mts_connect succeeded: reconnect from now on */
	pthread_t io_tid; /* thread that runs the loop */

	pthread_mutex_t mu;
	/* Threads blocked in client_wait_until, each on its own condition
	 * variable: client_wake signals only those whose condition now holds,
	 * so a thread waiting for 10,000 results sleeps until the last one
	 * instead of waking (a futex wake and two context switches) for each. */
	struct waiter *waiters;
	struct conn *conn;
	int ready;      /* hello_ok received on this connection */
	int connecting;
	int gave_up;    /* initial connect failed */
	int conn_err;   /* error code of the last connection failure */
	int stopping;
	unsigned backoff_ms;
	int64_t next_req;
	struct req *reqs, *reqs_tail; /* pending, in send order */
	struct jobmap jobs;           /* submitted here, not final */
	struct cbbatch *cbq, *cbq_tail;
	size_t cb_pending;            /* results queued or being delivered */
	int in_callback;              /* the loop thread is inside on_done */
	struct envsnap *envs;         /* interned snapshots */
	size_t nenvs;
	unsigned conn_gen;            /* counts connections, for envsnap.conn_gen */
	/* mts_submit_nb (nbq.c) */
	const struct nbq_ops *nbq;    /* NULL until the first mts_submit_nb; under mu */
	struct req *nb_open;          /* the frame being filled, not linked yet */
	size_t nb_unsettled;          /* its jobs neither acknowledged nor failed */
	size_t nb_bytes;              /* their text */
	unsigned nb_inflight;         /* its frames linked, not answered */
	uint64_t nb_seq;              /* numbers given so far */
	size_t nb_failed;             /* jobs not stored since the last mts_flush */
	int nb_firsterr;
	char nb_firstmsg[400];
	char err[512];                /* mts_errmsg */
	char why[512];                /* last connection failure */
};

/* client.c */
void client_seterr(mts_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Start a request: r->frame must hold the JSON text with "req":r->no (use
 * req_begin to get a numbered frame open). */
void req_begin(mts_client *c, struct req *r, const char *type);
/* Send r and block until answered or deadline; returns r->err or timeout.
 * client_send + client_await do the same in two steps, so that several
 * requests can be in flight at once. timeout_ms 0: the handle's default. */
int client_call(mts_client *c, struct req *r, int timeout_ms);
void client_send(mts_client *c, struct req *r);
int client_await(mts_client *c, struct req *r, int timeout_ms);
/* A condition a thread waits for, checked under the mutex. peek 1: the I/O
 * thread asks whether to wake the waiter, and the check must have no side
 * effects; peek 0: the waiter itself checks (and may, e.g., send what a
 * non-blocking submit queued). */
typedef int (*client_cond)(mts_client *c, void *arg, int peek);
/* Wait until cond(c, arg, 0) holds or timeout. */
int client_wait_until(mts_client *c, client_cond cond, void *arg, int timeout_ms);
/* Something a waiter may wait for changed: wake the waiters whose
 * condition holds (all of them if the handle is closing). Call with the
 * mutex held. */
void client_wake(mts_client *c);
/* The lowest req number still waiting for its reply (self included): the
 * master forgets submit frames below it (duplicate detection, see
 * master/clients.c on_submit). Takes the mutex. */
int64_t req_low(mts_client *c, const struct req *self);
void req_release(struct req *r);

/* Mutex held: link r (numbered, its frame complete) as a pending request
 * and get it onto the wire (now if on the loop thread, else wake it). */
void client_link_locked(mts_client *c, struct req *r);
/* Mutex held: queue a callback batch for deliver(). */
void client_queue_cb(mts_client *c, struct cbbatch *b);

/* The non-blocking submit queue's entry points for the connection's code
 * (nbq.c), registered on a handle (mts_client.nbq) by its first
 * mts_submit_nb: client.c reaches nbq.c only through them, so the queue is
 * a layer above the connection rather than a circle with it. */
struct nbq_ops {
	/* Mutex held, loop thread: the master answered nb frame r (unlinked):
	 * acknowledge or fail its jobs, free r. Takes ownership of m. */
	void (*on_reply)(mts_client *c, struct req *r, msg *m, int is_error);
	/* Mutex held: close the open frame and send it if the window allows
	 * (force: whatever its size). */
	void (*kick)(mts_client *c, int force);
	/* mts_close: free every nb frame (open or linked). Mutex not needed. */
	void (*release)(mts_client *c);
};

/* submit.c */
/* Append j as a job object; envkey (exec: the snapshot's key) and cwd (exec:
 * j->cwd, or the caller's directory) may be NULL. */
int submit_encode_job(struct buf *b, const mts_job *j, const char *envkey, const char *cwd, char *err,
		      size_t errlen);

/* envsnap.c */
/* The snapshot for export spec (NULL: "ALL"), interned in c with one more
 * reference. 0, or -1 with a one-line reason in err (a bad spec, an
 * environment over JOBENV_MAX_BYTES, out of memory). Takes the mutex. */
int envsnap_get(mts_client *c, const char *spec, struct envsnap **out, char *err, size_t errlen);
/* One more / one less reference (s NULL: no-op); take the mutex. */
void envsnap_ref(mts_client *c, struct envsnap *s);
void envsnap_unref(mts_client *c, struct envsnap *s);
/* Drop r's references (r->envs); takes the mutex. */
void envsnap_req_release(mts_client *c, struct req *r);
void envsnap_req_release_locked(mts_client *c, struct req *r);
/* Mutex held, on the loop thread, connected: send the `env` frames r needs
 * that this connection has not had (or had over an hour ago: the master may
 * have forgotten a snapshot no job used for a day). 0, or -1 if one could
 * not be queued (then r must not be sent yet). */
int envsnap_send_for(mts_client *c, const struct req *r);
/* Free every snapshot (mts_close). */
void envsnap_release_all(mts_client *c);

#endif
