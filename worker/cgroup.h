/* SPDX-License-Identifier: MIT */
/*
 * cgroup: containment of a worker's job processes in cgroup v2 groups. At
 * worker start cgroup_open() finds the unified hierarchy
 * (/proc/self/mountinfo), the worker's own group (the "0::" line of
 * /proc/self/cgroup) and checks that the worker may create a child group
 * there and move a process into it; if so the worker gets a base group
 *
 *     <its own group>/mtslurm-<pid>-<start time>/
 *
 * with one leaf per running exec job and per function host (l<N>). A job's
 * process enters its leaf before it execs (exec.c: the vfork child writes
 * "0" to the leaf's cgroup.procs, a descriptor the worker opened), so
 * everything it forks -- a `setsid` daemon, a double fork -- stays in the
 * leaf, and at the job's end, cancel or timeout the whole leaf is killed
 * (cgroup.kill, or SIGKILL to each pid in cgroup.procs on kernels before
 * 5.14). Leaves are kept in a pool and reused once empty: mkdir and rmdir
 * per job would cost the exec throughput far more than one pread of
 * cgroup.events per job.
 *
 * The base's name carries the worker's pid and start time, so a later worker
 * in the same group (the next start on that node, or any live worker every
 * CGROUP_SWEEP_MS, and any worker at its exit) recognises the base of a
 * worker that died (kill -9), kills its processes and removes it. Where no writable cgroup v2 group is
 * offered (cgroup v1 only, a login session's root-owned scope, Slurm's
 * task group, MTSLURM_CGROUP=off) cgroup_open() says why and every call below
 * is a no-op: the executors then rely on process groups and
 * PR_SET_PDEATHSIG alone (docs/worker.md, "Containment").
 *
 * Not thread-safe: one per worker, used on its loop's thread.
 */
#ifndef MTS_CGROUP_H
#define MTS_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#define CGROUP_SWEEP_MS 5000  /* how often a live worker looks for dead workers' groups */
#define CGROUP_KILL_ROUNDS 50 /* bound on the read-and-kill loop without cgroup.kill */
#define CGROUP_CLOSE_MS 1000   /* cgroup_close waits this long for emptied leaves */
#define CGROUP_CPU_PERIOD_US 100000 /* cpu.max's period: --cpus N is N of these per period */
#define CGROUP_LIMIT_MEM 1     /* memory.max (and memory.swap.max 0) */
#define CGROUP_LIMIT_CPU 2     /* cpu.max */

struct cgroup;
struct cgroup_leaf;

/* Find out which containment this worker gets and set it up: returns a new
 * cgroup (NULL only on OOM) whose cgroup_active() tells the result and
 * cgroup_describe() says it in one line for the log. Honours
 * MTSLURM_CGROUP=off (no cgroup) and MTSLURM_CGROUP=pids (kill pid by pid
 * as on kernels without cgroup.kill: for tests). */
struct cgroup *cgroup_open(void);

/* Sweep for dead workers' groups now (on the loop's next turn) and every
 * CGROUP_SWEEP_MS on loop (the timer is unref'd: it keeps no loop alive).
 * A no-op when not active. */
void cgroup_start_sweeps(struct cgroup *cg, uv_loop_t *loop);

/* 1 if jobs get cgroup leaves, 0 if process groups only. NULL: 0. */
int cgroup_active(const struct cgroup *cg);

/* "cgroup v2: ... under BASE (...)" or "process groups ... (WHY)";
 * borrowed. */
const char *cgroup_describe(const struct cgroup *cg);

/* Which limits leaves can take: CGROUP_LIMIT_MEM if the memory controller
 * is on in them, CGROUP_LIMIT_CPU for cpu; 0 when not active or the
 * worker's group does not pass those controllers down (cgroup_open turns
 * them on in the base when its cgroup.controllers lists them). */
int cgroup_limits(const struct cgroup *cg);

/* The directory of the worker's own group, where bases live; "" when not
 * active. Borrowed. */
const char *cgroup_parent_dir(const struct cgroup *cg);

/* A leaf for one job or host, empty: from the pool or newly made. NULL when
 * not active or the group cannot be made (the job then runs in its process
 * group only; the first such failure is logged). */
struct cgroup_leaf *cgroup_leaf_get(struct cgroup *cg);

/* The leaf's cgroup.procs, open for writing: a process writes "0" to it to
 * enter the leaf (async-signal-safe: usable in a vfork child). */
int cgroup_leaf_procs_fd(const struct cgroup_leaf *l);

/* The leaf's directory, open: clone3(CLONE_INTO_CGROUP) starts a child in
 * it (spawn.h). -1 for NULL l, and for a leaf cgroup.kill was written to
 * (the kernel would kill the child: cgroup.c). */
int cgroup_leaf_dir_fd(const struct cgroup_leaf *l);

/* 1 if a live process is in the leaf (zombies do not count), 0 if not,
 * -1 if that cannot be read. */
int cgroup_leaf_populated(struct cgroup_leaf *l);

/* Send sig to every process in the leaf but except (0: none). Returns how
 * many were signalled. */
int cgroup_leaf_signal(struct cgroup_leaf *l, int sig, pid_t except);

/* SIGKILL every process in the leaf now (cgroup.kill, else a bounded
 * read-and-kill loop). */
void cgroup_leaf_kill(struct cgroup_leaf *l);

/* Limit the leaf's next job, before it enters: memory.max = mem_b and
 * memory.swap.max = 0 (mem_b > 0), cpu.max = cpus periods (cpus > 0), as
 * far as the controllers are on. Returns the CGROUP_LIMIT_* bits set; the
 * limits are lifted again by cgroup_leaf_put. NULL l: 0. */
int cgroup_leaf_limit(struct cgroup *cg, struct cgroup_leaf *l, uint64_t mem_b, uint32_t cpus);

/* 1 if the kernel's OOM killer killed a process of the leaf since its
 * memory limit was set (memory.events oom_kill grew), else 0. Read it
 * before cgroup_leaf_put. */
int cgroup_leaf_oom_killed(struct cgroup_leaf *l);

/* The job is over: lift its limits, kill what is left in the leaf and give
 * it back to the pool (reused once empty). NULL l: no-op. */
void cgroup_leaf_put(struct cgroup *cg, struct cgroup_leaf *l);

/* Remove the groups of dead workers next to this worker's base: kill their
 * processes and rmdir them. Returns how many bases were removed (one whose
 * killed processes are still leaving is removed by a later sweep, which
 * the timer then runs 20 ms later). Run by the sweep timer and by
 * cgroup_close. */
int cgroup_sweep(struct cgroup *cg);

/* Worker exit: kill every process in every leaf, remove the leaves and the
 * base (waiting up to CGROUP_CLOSE_MS for killed processes to leave them,
 * when the sweep timer runs: else at once), free cg, then cb(arg) (which
 * may be NULL; called before this returns when there was no timer). NULL
 * cg: just cb. */
void cgroup_close(struct cgroup *cg, void (*cb)(void *arg), void *arg);

/* Parsing helpers, exposed for the unit tests. */

/* From the text of /proc/self/mountinfo: the mount point and mount root of
 * the cgroup2 hierarchy. 0, or -1 if there is none. */
int cgroup_find_mount(const char *mountinfo, char *mnt, size_t mntlen, char *root, size_t rootlen);

/* From the text of /proc/self/cgroup: the path of the "0::" line. 0 or -1. */
int cgroup_find_own(const char *proc_cgroup, char *path, size_t pathlen);

/* 1 if the word name is in a controller list ("cpuset cpu io memory
 * pids" of cgroup.controllers or cgroup.subtree_control), else 0. */
int cgroup_has_controller(const char *list, const char *name);

/* The count of key in a "key N" per line file (memory.events): 0 with
 * *out set, -1 if key is not there. */
int cgroup_event_count(const char *text, const char *key, uint64_t *out);

/* Base names "mtslurm-PID-START": 0 with pid and start set, -1 if name is
 * not one. */
int cgroup_parse_base(const char *name, long *pid, unsigned long long *start);

#endif
