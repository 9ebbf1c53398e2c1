/* SPDX-License-Identifier: MIT */
/*
 * sched: the scheduler's data structures, with no I/O so they can be tested
 * alone. It owns every unfinished job (struct mjob) and knows where each one
 * is: waiting for dependencies, queued with its client, or assigned to a
 * worker. The server tells it what happened (a submit, a result, a lost
 * worker, a revoked list) and it reports the consequences through callbacks
 * (assign this job to that worker, this job is queued again, this job failed,
 * revoke this job for stealing), which the server turns into SQL and frames.
 *
 * Policies:
 *  - Pools: every job is in its client's pool (sched_client.pool, a small
 *    id; 0 is the plain pool) and a worker takes jobs only from the pools it
 *    serves (sched_worker_set_pools; {0} by default). Typed jobs (job types
 *    served by the workers of a worker type) are clients of their own pool.
 *    A job of a pool no worker serves waits until one does. Dispatch,
 *    preemption and stealing all stay within what a worker serves: it is
 *    never given or stolen a job of a pool it does not serve. With only pool
 *    0 in use every step below costs what it did before pools.
 *  - Fair share: each client has its own queue (prio desc, id asc); each
 *    pool keeps its clients with queued jobs in a heap keyed by (assigned,
 *    last pick). A worker with room takes from the client with the fewest
 *    assigned jobs, ties to the client served least recently, among the
 *    best clients of the pools it serves -- so a worker of two pools
 *    alternates between them as it would between two clients of one pool.
 *  - Prefetch window, sized from measured run times: a worker holds at most
 *    slots + prefetch jobs, where prefetch covers about cover_us of work per
 *    slot: slots * cover_us / est, capped at the worker's prefetch_max. est is
 *    the larger of the worker's smoothed job run time and the age of the job
 *    at the head of its list (a job already running long says the estimate is
 *    stale). Until a worker's first result its run times are unknown and it
 *    gets no prefetch. So tiny jobs get the full window (throughput is window
 *    / round trip) and long ones none (a fairer job never waits behind them).
 *    Free slots of all workers are filled before any prefetch window. Beyond
 *    its slots a worker also holds at most SCHED_PREFETCH_BYTES of input.
 *  - Preemption of prefetched jobs (sched_preempt): when a queued job should
 *    precede jobs a worker holds but has not started -- a job of a client
 *    with at least two fewer assigned jobs than theirs (fair share), or a
 *    higher-priority job of the same client -- and that worker's unstarted
 *    jobs amount to more than preempt_us of work (est per job), those jobs
 *    are revoked (why "steal") and queued again. With a right estimate the
 *    window never holds that much, so this only corrects stale estimates.
 *    The queued job is the one that worker would take next: the best of the
 *    pools it serves (a job of a pool it does not serve never preempts
 *    there).
 *  - Stealing: the worker runs its jobs FIFO, so the first `slots` jobs of its
 *    assignment list count as started and the rest as not started (unless
 *    the worker reported them started). When a worker has a free slot and
 *    nothing is queued in the pools it serves, unstarted jobs of those pools
 *    held by other workers are revoked (why "steal"), newest first, one per
 *    free slot (less the revokes already in flight in those pools).
 *  - Started: the worker reports each start of a job still running at the
 *    end of its loop turn (sched_started); status counts those as running
 *    and the other assigned jobs as prefetched.
 *  - Attempts count starts: an assignment consumes one; a job given back
 *    unstarted (revoked, or beyond the started prefix of a lost worker and
 *    never reported started) gets it back. A job lost while started with
 *    attempts > retries fails.
 *  - Resources (mres.h): a job that asks for CPUs, GPUs or memory
 *    (MJOB_F_RES) goes only to a worker that has them free now and a free
 *    slot (never into a prefetch window: what it is given is held from its
 *    assignment to its result), and takes them there -- specific GPUs, the
 *    lowest free ids. Such a job is never revoked for stealing or
 *    preemption. A job that fits no worker now stays queued (looked past,
 *    as a job whose treq does not fit; sched_explain says why). A job
 *    without a request costs one flag test.
 *  - Deps: a job waits until all its dependencies completed; when one fails
 *    or is cancelled the job fails with "dependency N failed", transitively
 *    (iteratively, so long chains cannot overflow the stack). A job may
 *    depend on jobs of any pool.
 */
#ifndef MTS_SCHED_H
#define MTS_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "mjob.h"
#include "mres.h"

/* One queue entry: the job's key, copied so that sifting never touches the
 * jobs themselves (a pointer chase per level would cost a cache miss each).
 * Packed: 12 bytes, not 16 -- with 10 million queued jobs the heaps are the
 * master's second largest memory after the jobs (x86-64 and arm64 load
 * unaligned words at no cost). */
struct __attribute__((packed)) sched_hent {
	int64_t id;
	int32_t prio;
};

/* Pool ids are below this: sched_add and sched_worker_set_pools refuse others. */
#define SCHED_POOL_MAX 65536u
/* A worker's pool set of up to this many pools lives in the worker itself
 * (typical sets hold 1 to 8). */
#define SCHED_WORKER_POOLS_INLINE 8

struct sched_client {
	/* This client's queue: a max-heap on (prio, -id) with lazy deletion. A
	 * job leaving the queue other than by a pop (cancel, adopt) leaves its
	 * entry behind; pops skip entries whose job is no longer queued. */
	struct sched_hent *heap;
	uint32_t n;
	size_t cap;
	uint32_t nq;        /* jobs queued now (<= n) */
	uint32_t nrun;      /* assigned jobs (running + prefetched) */
	uint32_t active_idx; /* position in its pool's active-client heap, or UINT32_MAX */
	uint32_t pool;      /* the pool of its jobs (0: plain); set by the owner
			     * before its first job, never while it has live jobs */
	uint64_t last_pick;
	uint64_t nlive;     /* unfinished jobs of this client in memory */
	/* Limits (sched_client_limit; a pipeline stage's instances and
	 * backpressure): at most run_max jobs assigned at once (0: no
	 * limit), none at all while held. A client with queued jobs that is
	 * at a limit is parked (park_idx) instead of in its pool's heap, so
	 * dispatch never looks at it. */
	uint32_t run_max;
	uint32_t park_idx;  /* position in sched.parked, or UINT32_MAX */
	uint8_t held;
};

struct sched_worker {
	struct mjob *head, *tail; /* assigned jobs, in assignment order */
	uint32_t nassigned;
	uint32_t nstarted;  /* of those, reported started (MJOB_F_STARTED) */
	uint32_t extra;     /* slots beyond one that assigned multi-rank jobs hold */
	uint32_t slots;
	uint32_t window;    /* slots + prefetch, as of the last dispatch */
	uint32_t prefetch_max; /* the window never exceeds slots + this */
	uint64_t assigned_b; /* input bytes of its assigned jobs (see SCHED_PREFETCH_BYTES) */
	uint32_t est_us;    /* smoothed run time of its jobs (valid once nsamples > 0) */
	uint32_t nsamples;  /* run times measured (saturates) */
	uint32_t nrevoking; /* steal revokes in flight */
	uint32_t idx;       /* position in sched.workers, or UINT32_MAX */
	int connected;      /* only connected workers get jobs */
	int draining;       /* leaving: gets no jobs (sched_worker_drain) */
	double end;         /* unix time its Slurm job ends; 0: none known */
	uint64_t done;      /* results accepted */
	/* The pools it takes jobs from, sorted (sched_worker_set_pools):
	 * pools_in if npools <= SCHED_WORKER_POOLS_INLINE, else pools_heap.
	 * Not set yet (pools_set 0): sched_worker_add makes it {0}. */
	uint32_t npools;
	int pools_set;
	uint32_t pools_in[SCHED_WORKER_POOLS_INLINE];
	uint32_t *pools_heap;
	uint32_t steal_cap; /* sched_steal's scratch: free slots left to fill */
	/* Its CPUs, memory and GPUs and what is free of them (mres.h), owned
	 * by the caller; NULL: it reported none and takes no job that asks
	 * for resources. Set with sched_worker_set_res. */
	struct mres_worker *res;
};

/* One pool: its clients with queued jobs and its counts. */
struct sched_pool {
	struct sched_client **active; /* min-heap on (nrun, last_pick) */
	uint32_t nactive;
	size_t cap_active;
	uint64_t nqueued;   /* its jobs queued or waiting for dependencies */
	uint64_t nrevoking; /* its assigned jobs with a revoke in flight */
	uint32_t t_first, t_n, t_cur; /* sched_steal's scratch: its idle workers */
};

struct sched_cb {
	void *arg;
	/* j was assigned to j->worker; j->attempts already counts this start. */
	void (*on_assign)(void *arg, struct mjob *j);
	/* j is queued again (after a lost worker or a steal). */
	void (*on_requeue)(void *arg, struct mjob *j);
	/* j must fail with this error: the callee records it and calls
	 * sched_finish(s, j, MJOB_FAILED). */
	void (*on_fail)(void *arg, struct mjob *j, const char *error);
	/* Ask w to give back j (revoke why "steal"). */
	void (*on_steal)(void *arg, struct sched_worker *w, struct mjob *j);
};

struct sched_page;

struct sched {
	struct sched_cb cb;
	/* id -> job: a directory of 4096-slot pages, freed when empty (ids are
	 * dense and mostly finish in order, so this beats a hash table). */
	struct sched_page **dir;
	size_t ndir;
	/* Pools: the plain one in place (its hot path needs no lookup), the
	 * others by id in a table grown on demand (pools[0] unused). */
	struct sched_pool pool0;
	struct sched_pool **pools;
	uint32_t npools;
	uint32_t nactive;  /* clients with queued jobs, all pools */
	uint64_t ntyped;   /* live jobs in pools other than 0 */
	uint64_t pick_seq;
	struct sched_worker **workers;
	uint32_t nworkers;
	size_t cap_workers;
	uint32_t rr; /* rotating start for dispatch */
	struct mjob *waiting; /* jobs waiting for deps (doubly linked) */
	/* Clients with queued jobs held back by their limits (any pool). */
	struct sched_client **parked;
	uint32_t nparked;
	size_t cap_parked;
	struct sched_worker **steal_buf; /* sched_steal's scratch */
	size_t cap_steal_buf;
	/* jobs to fail because a dependency failed: (job id, dep id) pairs */
	int64_t *failq;
	size_t nfailq, cap_failq;
	int draining;
	/* counters */
	uint64_t nlive, nqueued, nwaiting, nassigned, nstarted;
	uint64_t input_b; /* bytes of input that live jobs hold in memory (mjob_input_held_b) */
	double now; /* unix time, set by the owner before sched_dispatch: a job
		     * asking for treq seconds goes only to a worker whose end
		     * is at least that far away */
	uint32_t now_ms; /* monotonic ms (mod 2^32, the clock of mjob.assigned_ms),
			  * set by the owner before sched_dispatch/sched_preempt */
	uint32_t cover_us;   /* a prefetch window holds about this much work per slot */
	uint32_t preempt_us; /* unstarted work on a worker that a better queued job
			      * does not wait behind (sched_preempt) */
};

/* Defaults of cover_us and preempt_us (sched_init). 50 ms of work per slot
 * bridges a master round trip even on a loaded machine (with 10 ms, exec
 * jobs of 0.5 ms lost 11 % of their throughput on a busy 2-core VM); a
 * fairer job waits at most about 100 ms of someone else's prefetched work
 * before it is revoked. preempt_us must exceed cover_us: a window refilled
 * from a right estimate must never look worth revoking. */
#define SCHED_COVER_US 50000u
#define SCHED_PREEMPT_US 100000u
/* Beyond its slots a worker is given no more jobs once the inputs of those
 * it holds reach this many bytes: what its prefetch window costs in frames
 * and memory (the master reads inputs it does not hold back from state.db
 * to send them) stays what 64 jobs of 64 KiB cost, whatever --prefetch
 * allows -- with the default of 1024, 64 KiB inputs would otherwise put
 * 64 MiB per worker in flight (t0235). */
#define SCHED_PREFETCH_BYTES (4u << 20)
#define SCHED_STORED_INPUT_B (64u << 10)

void sched_init(struct sched *s, const struct sched_cb *cb);
/* Free every job and all structures (clients and workers belong to the
 * caller and are only detached). */
void sched_release(struct sched *s);

/* The unfinished job with this id, or NULL. O(1). */
struct mjob *sched_find(const struct sched *s, int64_t id);

void sched_client_init(struct sched_client *c);
/* Limit c: at most run_max of its jobs assigned at once (0: no limit),
 * and none while held is non-zero (their jobs stay queued). Takes effect
 * at the next sched_dispatch; jobs already assigned stay. Raising or
 * lifting a limit makes its queued jobs eligible again. A job adopted
 * after a restart (sched_adopt) or given back by a worker may exceed the
 * limit for as long as it runs: the limit governs dispatch. */
void sched_client_limit(struct sched *s, struct sched_client *c, uint32_t run_max, int held);
/* Free the client's queue storage (it must hold no jobs). */
void sched_client_release(struct sched_client *c);

/* Register a worker (connected, slots, prefetch_max: the largest prefetch
 * its window may grow to). Re-adding a known worker updates its sizes and
 * keeps its measured run time and its pools; a worker whose pools were
 * never set serves {0}. */
void sched_worker_add(struct sched *s, struct sched_worker *w, uint32_t slots, uint32_t prefetch);
/* The pools w takes jobs from from now on: a copy of pools[0..n) (n = 0:
 * none, w gets no job). Jobs w holds stay. 0, or -1 (nothing changed) if a
 * pool id is SCHED_POOL_MAX or more, or on OOM. */
int sched_worker_set_pools(struct sched *s, struct sched_worker *w, const uint32_t *pools, size_t n);
/* w's resources from now on (NULL: none; borrowed, the caller frees the
 * previous one after this call): everything free less what the jobs w
 * holds asked for (their GPUs kept where they are free). */
void sched_worker_set_res(struct sched *s, struct sched_worker *w, struct mres_worker *res);
/* Why queued job j is not running, in out (one line): it waits for
 * dependencies; no connected worker could ever hold its request ("needs 2
 * GPUs; workers have at most 1"); or what it waits for ("waiting: all 4
 * GPUs busy"). Returns 1 if it can never run on the workers connected
 * now, else 0. */
int sched_explain(const struct sched *s, const struct mjob *j, char *out, size_t n);
/* Can request r never run on the connected workers serving pool
 * (SCHED_POOL_ANY: any)? 1 with the reason in out ("needs 2 GPUs; workers
 * have at most 1"), 0 if one of them could run it, -1 if none is
 * connected (it cannot be judged then). */
#define SCHED_POOL_ANY UINT32_MAX
int sched_res_never(const struct sched *s, uint32_t pool, const struct mjob_res *r, char *out, size_t n);
/* Does w take jobs of this pool? */
int sched_worker_serves(const struct sched_worker *w, uint32_t pool);
/* Free w's pool set storage (the owner calls it before freeing w). */
void sched_worker_release(struct sched_worker *w);
/* Jobs of this pool queued or waiting for dependencies (as nqueued). O(1). */
uint64_t sched_pool_queued(const struct sched *s, uint32_t pool);
/* Connected, non-draining workers serving this pool. O(workers). */
uint32_t sched_pool_workers(const struct sched *s, uint32_t pool);
/* A placeholder for a worker that held jobs when the master stopped: it
 * receives no new jobs and all its jobs count as started. */
void sched_worker_add_orphan_holder(struct sched *s, struct sched_worker *w);
/* w is leaving (its Slurm job ends): no more assignments; what it holds
 * stays until it reports results or gives jobs back. */
void sched_worker_drain(struct sched *s, struct sched_worker *w);

/* Make j (ids, fields, client set; where == MJOB_NEW) wait for dep, a live
 * job. Returns 0, or -1 if dep is not in memory (the caller decides from the
 * store: completed = satisfied, otherwise failed) or on OOM (-2). */
int sched_wait_for(struct sched *s, struct mjob *j, int64_t dep);
/* Hand j to the scheduler: queued, or waiting if ndeps_left > 0. Returns 0 or
 * -1 (OOM, or its client's pool is SCHED_POOL_MAX or more; j is not
 * registered). */
int sched_add(struct sched *s, struct mjob *j);
/* Restore j as assigned to w (a job that was running when the master
 * stopped); attempts are kept. 0 or -1 (OOM, or a pool id too large). */
int sched_add_assigned(struct sched *s, struct mjob *j, struct sched_worker *w);

/* Fill free slots, then prefetch windows, of connected workers from the
 * client queues of the pools each serves (fair share). Returns the number
 * of jobs assigned. */
size_t sched_dispatch(struct sched *s);
/* The job limit of w now: slots + prefetch sized from its run times (see
 * above). */
uint32_t sched_worker_window(const struct sched *s, const struct sched_worker *w);
/* One job of w ran run_us (0 for a job that finished within the worker's
 * loop turn it started in): update the smoothed estimate, quick to rise
 * (half the difference) and slow to fall (an eighth), so one long job
 * shrinks the window at once and tiny jobs widen it again within tens of
 * results. */
void sched_worker_runtime(struct sched_worker *w, uint32_t run_us);
/* After sched_dispatch, with jobs still queued: revoke (on_steal) the
 * prefetched jobs that the best queued job should precede, on workers whose
 * unstarted work exceeds preempt_us (see above). Returns the number of jobs
 * revoked. */
size_t sched_preempt(struct sched *s);
/* j (assigned) started on its worker: it counts as running, no longer as
 * prefetched, and is never revoked for stealing. No-op if already started or
 * not assigned. The caller sets j->assigned_ms to the start. */
void sched_started(struct sched *s, struct mjob *j);
/* Workers with free slots and nothing queued in their pools: revoke
 * unstarted jobs of their pools held by others (on_steal). Returns the
 * number of jobs revoked. */
size_t sched_steal(struct sched *s);
/* w answered a steal: ids were given back (requeued, attempt returned); its
 * other in-flight steals did not happen. */
void sched_revoked(struct sched *s, struct sched_worker *w, const int64_t *ids, size_t n);

/* j reached a final state (a result, a cancel, or on_fail). It is removed
 * from wherever it is, its dependents are released or failed, and it is
 * freed. */
void sched_finish(struct sched *s, struct mjob *j, int state);
/* Take j (assigned) off its worker and queue it again; give_back returns the
 * attempt it consumed. */
void sched_unassign(struct sched *s, struct mjob *j, int give_back);
/* A queued job turns out to be held by w (a worker reconnecting to a
 * restarted master that never wrote the assignment): move it from its queue
 * to w as attempt `attempts`, without calling on_assign. -1 if j is not
 * queued. */
int sched_adopt(struct sched *s, struct mjob *j, struct sched_worker *w, uint16_t attempts);

/* The worker is gone: its jobs are requeued, or fail via on_fail when they
 * had started and are out of retries (error names wid). The worker is
 * unregistered. */
void sched_worker_lost(struct sched *s, struct sched_worker *w, const char *wid);

/* Cancel every unfinished job: each is passed to fn (still valid, with its
 * worker if assigned) and then freed; dependents are not failed (they are
 * cancelled too). Returns the number of jobs cancelled. */
size_t sched_cancel_all(struct sched *s, void (*fn)(void *arg, struct mjob *j), void *arg);

/* j (assigned) crashed its function host (a result marked "crash"): count
 * it. Below j's crash limit the job is queued again (the attempt it used
 * stays used, on_requeue is called) and 1 is returned; at the limit 0, and
 * the caller fails it. Crashes do not count against retries, which cover
 * lost workers. */
int sched_crashed(struct sched *s, struct mjob *j);

/* Error text for a job lost with its worker and out of retries. */
void sched_lost_error(char *out, size_t n, const char *wid, const struct mjob *j);

#endif
