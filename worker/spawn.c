/* SPDX-License-Identifier: MIT */
/*
 * spawn: a job process by vfork+execve, or by clone3 straight into its
 * cgroup leaf -- see spawn.h for why.
 *
 * The child shares the worker's memory until execve, so it must not run a
 * handler of the worker's: every signal is blocked across the spawn, and
 * the child sets each signal that has a handler or is ignored back to
 * SIG_DFL before it unblocks them (CLONE_CLEAR_SIGHAND would keep ignored
 * signals ignored, and a job must not inherit the worker's SIGPIPE). The
 * list of signals to reset is the parent's (spawn_sigs_refresh), brought up
 * to date by exec.c at most once a second: handlers are installed at start,
 * by libuv and MPI, not per job.
 */
#include "spawn.h"

#include <errno.h>
#include <linux/sched.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SPAWN_STACK_B (256u << 10)

/* The kernel's struct sigaction (x86-64, arm64 and the generic layout):
 * what rt_sigaction reads and writes, unlike glibc's. */
struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

/* signals a daemon may ignore or handle; a job gets the defaults */
static const int reset_always[] = {SIGPIPE, SIGINT,  SIGTERM, SIGHUP,  SIGQUIT, SIGCHLD, SIGXFSZ,
				   SIGUSR1, SIGUSR2, SIGALRM, SIGTSTP, SIGTTIN, SIGTTOU};

void spawn_sigs_refresh(struct spawn_sigs *s)
{
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(reset_always) / sizeof(reset_always[0]); i++)
		sigaddset(&set, reset_always[i]);
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;
		if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) < 0)
			continue;
		if (sa.sa_handler != SIG_DFL) /* handled, or ignored since whoever started us */
			sigaddset(&set, sig);
	}
	s->n = 0;
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&set, sig) == 1)
			s->sigs[s->n++] = sig;
	/* glibc keeps 32 and 33 to itself: its sigaction refuses them, so
	 * the loop above never sees them. A parent that was itself started
	 * by posix_spawn (GNU make, for one) has them ignored, and a job
	 * must not inherit that (musl and Go runtimes use them): ask the
	 * kernel directly. */
	for (int sig = 32; sig < SIGRTMIN; sig++) {
		struct ksigaction old;
		if (syscall(SYS_rt_sigaction, sig, NULL, &old, sizeof(uint64_t)) == 0 && old.handler)
			s->sigs[s->n++] = sig;
	}
}

void spawn_init(struct spawner *sp)
{
	memset(sp, 0, sizeof *sp);
#if defined(__x86_64__) && defined(SYS_clone3) && defined(CLONE_INTO_CGROUP)
	/* a guard page below, so that an overflow faults instead of writing
	 * into whatever the heap put there */
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *m = mmap(NULL, SPAWN_STACK_B + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
		       -1, 0);
	if (m == MAP_FAILED) {
		sp->no_clone3 = 1;
		return;
	}
	mprotect(m, page, PROT_NONE);
	sp->stack = m;
	sp->stack_b = SPAWN_STACK_B + page;
#else
	sp->no_clone3 = 1;
#endif
}

void spawn_fini(struct spawner *sp)
{
	if (sp->stack)
		munmap(sp->stack, sp->stack_b);
	sp->stack = NULL;
}

/* The child, from its start to execve. It runs on the worker's memory
 * (and for clone3 on sp->stack): only async-signal-safe calls, everything
 * through q, never returns. Not instrumented: under ASan its shadow stack
 * bookkeeping would run on a stack ASan does not know. */
__attribute__((noreturn, noinline, no_sanitize_address)) static void child_run(struct spawn_req *q)
{
	/* through the kernel, not glibc: it refuses 32 and 33 (above) */
	struct ksigaction dfl;
	memset(&dfl, 0, sizeof(dfl)); /* SIG_DFL, no flags, nothing masked */
	for (int i = 0; i < q->dflt->n; i++)
		syscall(SYS_rt_sigaction, q->dflt->sigs[i], &dfl, NULL, sizeof(uint64_t));
	sigset_t none;
	sigemptyset(&none);
	/* its own session and process group, so that cancel, timeout and the
	 * sweep at its end reach what it forks; and it dies with the worker,
	 * even a kill -9'd one */
	if (setsid() < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != q->ppid)
		goto fail;
	/* into the job's cgroup before it can fork anything: what it starts, a
	 * setsid daemon too, cannot leave the group (clone3 put it there) */
	if (!q->in_cg && q->cg_fd >= 0 && write(q->cg_fd, "0", 1) != 1) {
		q->cg_err = errno ? errno : EIO;
		if (!q->data_b) /* its --mem is not lost with its leaf */
			q->data_b = q->cg_mem_b;
	}
	/* bound before exec, so that nothing it starts escapes */
	if (q->pin && sched_setaffinity(0, sizeof *q->pin, q->pin) < 0)
		goto fail;
	if (q->data_b) {
		struct rlimit rl = {q->data_b, q->data_b};
		if (setrlimit(RLIMIT_DATA, &rl) < 0)
			goto fail;
	}
	if (dup2(q->in, 0) < 0 || dup2(q->out, 1) < 0 || dup2(q->err, 2) < 0 || (q->cwd && chdir(q->cwd) < 0))
		goto fail;
	/* fds someone else opened without O_CLOEXEC (MPI...) must not leak
	 * into jobs, and above all no other job's pipe end */
	close_range(3, ~0u, 0);
	sigprocmask(SIG_SETMASK, &none, NULL);
	q->in_exec = 1;
	execve(q->prog, q->argv, q->env);
fail:
	q->err_no = errno ? errno : EINVAL;
	_exit(127);
}

#if defined(__x86_64__) && defined(SYS_clone3) && defined(CLONE_INTO_CGROUP)
__attribute__((no_sanitize_address)) static int clone_child(void *arg)
{
	child_run(arg);
}

/* clone3(ca) with the child calling fn(arg) on the stack in ca and exiting
 * with what it returns (glibc 2.36 exports no clone3; this is its
 * x86_64/clone3.S). The child's pid, or -errno. */
__attribute__((noinline)) static long clone3_call(struct clone_args *ca, int (*fn)(void *), void *arg)
{
	long ret;
	register void *r8 __asm__("r8") = arg;
	register void *r9 __asm__("r9") = (void *)fn;
	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "xor %%ebp, %%ebp\n\t"
			 "and $-16, %%rsp\n\t"
			 "mov %%r8, %%rdi\n\t"
			 "call *%%r9\n\t"
			 "mov %%eax, %%edi\n\t"
			 "mov $60, %%eax\n\t" /* SYS_exit */
			 "syscall\n\t"
			 "hlt\n"
			 "1:\n\t"
			 : "=a"(ret)
			 : "0"((long)SYS_clone3), "D"(ca), "S"(sizeof *ca), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory", "cc");
	return ret;
}

/* The child straight into its leaf. The pid, or -errno. */
static long spawn_clone3(struct spawner *sp, struct spawn_req *q)
{
	struct clone_args ca;
	memset(&ca, 0, sizeof ca);
	ca.flags = CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP;
	ca.exit_signal = SIGCHLD;
	ca.stack = (uint64_t)(uintptr_t)sp->stack;
	ca.stack_size = sp->stack_b;
	ca.cgroup = (uint64_t)q->cg_dir;
	q->in_cg = 1;
	long pid = clone3_call(&ca, clone_child, q);
	if (pid > 0 && !q->in_exec && !q->err_no) {
		/* It never reached execve and said nothing: killed at birth.
		 * Linux 6.18 does that to a child started in a group whose
		 * cgroup.kill count is not its parent's group's (cgroup.c
		 * keeps killed leaves away from here; this catches a worker
		 * whose own group was killed once). vfork from now on. */
		while (waitpid((pid_t)pid, NULL, 0) < 0 && errno == EINTR)
			;
		sp->no_clone3 = 1;
		q->in_cg = 0;
		return -EAGAIN;
	}
	if (pid < 0) {
		q->in_cg = 0;
		/* no clone3, or none that knows CLONE_INTO_CGROUP: vfork from
		 * now on; anything else (a leaf the kernel refuses...) is left
		 * to the vfork path of this one job */
		if (pid == -ENOSYS || pid == -E2BIG || pid == -EINVAL)
			sp->no_clone3 = 1;
	}
	return pid;
}
#endif

/* Kept out of line, and given everything through q, so that nothing in
 * the caller's frame lives across vfork. */
__attribute__((noinline)) static pid_t spawn_vfork(struct spawn_req *q)
{
	pid_t pid = vfork();
	if (pid == 0)
		child_run(q);
	return pid;
}

pid_t spawn_start(struct spawner *sp, struct spawn_req *q)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	q->err_no = 0;
	q->in_exec = 0;
	q->cg_err = 0;
	q->in_cg = 0;
	long pid = -1;
#if defined(__x86_64__) && defined(SYS_clone3) && defined(CLONE_INTO_CGROUP)
	if (q->cg_dir >= 0 && !sp->no_clone3)
		pid = spawn_clone3(sp, q);
#else
	(void)sp;
#endif
	int e = 0;
	if (pid < 0) {
		pid = spawn_vfork(q);
		e = pid < 0 ? errno : 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		q->err_no = e;
		return -1;
	}
	if (q->err_no) {
		/* the spawn returns only after the child exec'd or exited, so
		 * this waits for a child that is already gone */
		while (waitpid((pid_t)pid, NULL, 0) < 0 && errno == EINTR)
			;
		return -1;
	}
	return (pid_t)pid;
}
