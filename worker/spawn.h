/* SPDX-License-Identifier: MIT */
/*
 * spawn: start one job process the fast way, for exec.c. The child shares
 * the worker's memory until execve (vfork, or clone3 with CLONE_VM |
 * CLONE_VFORK), so nothing is copied; it resets the signals the worker
 * handles or ignores, enters its own session (and dies with the worker),
 * its cgroup leaf, its CPUs, its data-size limit, its stdio and working
 * directory, closes every other descriptor and execs.
 *
 * A job with a cgroup leaf is started with clone3(CLONE_INTO_CGROUP) where
 * the kernel (5.7+) and the CPU (x86-64) allow: the kernel places the child
 * in the leaf as it creates it. The other way, the child writing its pid to
 * the leaf's cgroup.procs, migrates a running process: it takes the
 * cgroup hierarchy's thread-group lock for writing, which cost 8-13 % of
 * exec jobs/s at 8 workers on 2 cores (docs/performance.md, "Exec jobs").
 * Without clone3 (other CPUs, older kernels, a leaf the kernel refuses)
 * the child is started with vfork and writes cgroup.procs itself, as
 * before. Not thread-safe: one spawner per loop thread.
 */
#ifndef MTS_SPAWN_H
#define MTS_SPAWN_H

#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The signals a child gets back with their default action: those the
 * worker handles or ignores now, and a fixed list a daemon may have
 * changed. Kept by the parent (posix_spawn asks the kernel about all 64
 * in every child) and brought up to date by spawn_sigs_refresh. */
struct spawn_sigs {
	int sigs[NSIG];
	int n;
};

void spawn_sigs_refresh(struct spawn_sigs *s);

struct spawn_req {
	const char *prog;
	char **argv, **env;
	int in, out, err;
	const char *cwd;
	const struct spawn_sigs *dflt;
	pid_t ppid;           /* the worker: the child dies with it */
	volatile int err_no;  /* written by the child when it could not exec */
	volatile int in_exec; /* ... and whether execve itself failed */
	int cg_fd;            /* cgroup.procs of the job's leaf; -1: none */
	int cg_dir;           /* the leaf's directory, for CLONE_INTO_CGROUP; -1: none */
	volatile int cg_err;  /* the child could not enter it (it runs anyway) */
	const cpu_set_t *pin; /* bind the child to these CPUs; NULL: inherit */
	uint64_t data_b;      /* its RLIMIT_DATA (--mem without a memory cgroup); 0: none */
	uint64_t cg_mem_b;    /* its memory.max in the leaf: the RLIMIT_DATA it gets
			       * instead when it cannot enter the leaf; 0: none */
	int in_cg;            /* internal: the kernel put the child in the leaf */
};

/* The stack a clone3 child runs on until execve, and whether clone3 is
 * usable here. */
struct spawner {
	void *stack;
	size_t stack_b;
	int no_clone3; /* the kernel or CPU has no clone3 with CLONE_INTO_CGROUP */
};

/* Set up sp (never fails: without a stack, every child is vforked). */
void spawn_init(struct spawner *sp);
void spawn_fini(struct spawner *sp);

/* Start q. Returns the pid, or -1 with q->err_no set (and q->in_exec: it
 * was execve that failed; the failed child is already reaped). q->cg_err:
 * the child runs but outside its leaf. */
pid_t spawn_start(struct spawner *sp, struct spawn_req *q);

#endif
