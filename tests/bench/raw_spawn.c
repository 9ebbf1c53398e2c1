/* SPDX-License-Identifier: MIT */
/*
 * raw_spawn: the yardstick for exec jobs -- a bare C loop that runs `true`
 * with vfork+exec and waits for it, N times, and prints spawns per second.
 * mtslurm's exec throughput is reported beside this figure from the same run.
 *   raw_spawn [N] [parallel]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int run(int n, int par);

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 5000;
	int par = argc > 2 ? atoi(argv[2]) : 2;
	return run(n, par);
}

/* Separate from main so vfork cannot clobber argc/argv in this frame. */
static int run(int n, int par)
{
	if (n <= 0 || par <= 0) {
		fprintf(stderr, "usage: raw_spawn [N] [parallel]\n");
		return 2;
	}
	char *const args[] = {"true", NULL};
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int started = 0, running = 0, done = 0;
	while (done < n) {
		while (running < par && started < n) {
			pid_t p = vfork();
			if (p == 0) {
				execve("/bin/true", args, environ);
				_exit(127);
			}
			if (p < 0) {
				perror("vfork");
				return 1;
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
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("%.0f\n", n / s);
	return 0;
}
