/* SPDX-License-Identifier: MIT */
/*
 * raw_spawn: the yardstick for exec jobs -- bare C loops that run /bin/true
 * with vfork+execve and wait for it, and print spawns per second. mtslurm's
 * exec throughput is reported beside this figure from the same run.
 *   raw_spawn N [K]      one process, K children at a time (the old line)
 *   raw_spawn -w W N     W processes side by side, each a loop of one
 *                        vfork+execve+wait at a time, taking turns from one
 *                        pool of N spawns: the fair floor for W workers of
 *                        one slot each (docs/performance.md, "Exec jobs")
 * One process spawning with vfork is suspended until each child has called
 * execve, so K children at a time overlap only the children's run of
 * `true`, never two spawns; mtslurm's W workers spawn from W processes, so
 * the floor it is held to spawns from W processes too. The rate is N over
 * the wall time from the moment all W loops are released to the last
 * child reaped, as bench_exec measures mtslurm. Every child gets the
 * caller's environment plus four variables shaped like the ones a worker
 * adds to a job's (MTSLURM_JOB_ID, _ATTEMPT, _WORKER, _RUN_DIR), so that
 * execve copies as much as it does for a job.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char **child_env;

/* environ + the four per-job variables + NULL; NULL on OOM */
static char **make_env(void)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **e = malloc((n + 5) * sizeof *e);
	if (!e)
		return NULL;
	memcpy(e, environ, n * sizeof *e);
	e[n++] = "MTSLURM_JOB_ID=1000000";
	e[n++] = "MTSLURM_ATTEMPT=1";
	e[n++] = "MTSLURM_WORKER=w0000000000000001";
	e[n++] = "MTSLURM_RUN_DIR=/tmp/mts-bench.XXXXXX/run-w2";
	e[n] = NULL;
	return e;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Kept out of line so that vfork cannot clobber the caller's frame. */
__attribute__((noinline)) static pid_t spawn_true(void)
{
	static char *const args[] = {"true", NULL};
	pid_t p = vfork();
	if (p == 0) {
		execve("/bin/true", args, child_env);
		_exit(127);
	}
	return p;
}

/* One process, par children at a time, n in all; spawns/s or -1. */
static double run_one(int n, int par)
{
	double t0 = now_s();
	int started = 0, running = 0, done = 0;
	while (done < n) {
		while (running < par && started < n) {
			if (spawn_true() < 0) {
				perror("raw_spawn: vfork");
				return -1;
			}
			started++;
			running++;
		}
		int st;
		if (wait(&st) > 0) {
			running--;
			done++;
		}
	}
	return n / (now_s() - t0);
}

/* One of W loops: wait for the go (EOF on go_fd), then take spawns from
 * the shared pool one at a time until it is empty. */
static int loop_worker(atomic_int *pool, int go_fd)
{
	char c;
	while (read(go_fd, &c, 1) > 0)
		;
	while (atomic_fetch_sub(pool, 1) > 0) {
		pid_t p = spawn_true();
		int st;
		if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "raw_spawn: a spawn of /bin/true failed\n");
			return 1;
		}
	}
	return 0;
}

/* W processes side by side, n spawns in all; spawns/s or -1. */
static double run_many(int n, int w)
{
	atomic_int *pool = mmap(NULL, sizeof *pool, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int go[2];
	if (pool == MAP_FAILED || pipe(go) < 0) {
		perror("raw_spawn");
		return -1;
	}
	atomic_store(pool, n);
	for (int i = 0; i < w; i++) {
		pid_t p = fork();
		if (p < 0) {
			perror("raw_spawn: fork");
			return -1;
		}
		if (p == 0) {
			close(go[1]);
			_exit(loop_worker(pool, go[0]));
		}
	}
	close(go[0]);
	usleep(100000); /* let every loop reach its read */
	double t0 = now_s();
	close(go[1]);
	int bad = 0, st;
	for (int i = 0; i < w; i++)
		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad = 1;
	double dt = now_s() - t0;
	return bad ? -1 : n / dt;
}

int main(int argc, char **argv)
{
	int w = 0, k = 1;
	if (argc > 2 && strcmp(argv[1], "-w") == 0) {
		w = atoi(argv[2]);
		k += 2;
	}
	int n = argc > k ? atoi(argv[k]) : 5000;
	int par = argc > k + 1 ? atoi(argv[k + 1]) : 2;
	if (n <= 0 || par <= 0 || (k > 1 && w <= 0)) {
		fprintf(stderr, "usage: raw_spawn N [PARALLEL]  or  raw_spawn -w PROCESSES N\n");
		return 2;
	}
	if (!(child_env = make_env())) {
		fprintf(stderr, "raw_spawn: out of memory\n");
		return 1;
	}
	double rate = w ? run_many(n, w) : run_one(n, par);
	if (rate < 0)
		return 1;
	printf("%.0f\n", rate);
	return 0;
}
