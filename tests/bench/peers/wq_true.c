/* SPDX-License-Identifier: MIT */
/*
 * wq_true: Work Queue (cctools, Debian's coop-computing-tools), the exec
 * peer of `make bench` (tests/bench/peers.sh). A manager made with the C
 * API (coop-computing-tools-dev: libwork_queue.a) runs N tasks `true` on W
 * work_queue_worker processes it starts on 127.0.0.1 (one core each, so one
 * task at a time per worker, as raw_spawn runs W at a time), and prints
 * "rate TASKS_PER_S elapsed S". Keeps WINDOW tasks in flight (default W,
 * one per worker: the fastest here); the clock starts once a first round
 * of W tasks has come back, so the workers' connecting is not counted. The manager listens on every
 * interface (the API has no address to bind), so peers.sh runs it in a
 * network namespace of its own where loopback is the only interface.
 *   wq_true N W [WINDOW]
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <work_queue.h>

/* the workers connect within the first; the tasks run within the second */
enum { WQ_CONNECT_S = 30, WQ_DEADLINE_S = 240, WQ_MAX_WORKERS = 64 };

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Start one work_queue_worker for the manager on port; its pid, or -1. */
static pid_t wq_worker_start(int port)
{
	char p[16];
	snprintf(p, sizeof p, "%d", port);
	pid_t pid = fork();
	if (pid == 0) {
		/* its chatter would mix with the figure on stdout */
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		/* --timeout: a worker whose manager is gone exits by itself */
		execlp("work_queue_worker", "work_queue_worker", "--cores", "1", "--timeout", "60", "127.0.0.1", p,
		       (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Run n tasks `true`, keeping at most window of them submitted and not
 * yet returned (the manager scans its whole ready list on every wait, so
 * submitting all N at once made it 33 tasks/s for 2,000 here, a window of 4 W 523/s, of W 883/s);
 * 0, or -1 if one failed or the deadline passed. */
static int wq_run(struct work_queue *q, int n, int window, double deadline)
{
	int sent = 0, done = 0;
	while (done < n) {
		for (; sent < n && sent - done < window; sent++)
			work_queue_submit(q, work_queue_task_create("true"));
		if (now_s() > deadline) {
			fprintf(stderr, "wq_true: %d of %d tasks done at the deadline\n", done, n);
			return -1;
		}
		struct work_queue_task *t = work_queue_wait(q, 5);
		if (!t)
			continue;
		int ok = t->result == WORK_QUEUE_RESULT_SUCCESS && t->return_status == 0;
		work_queue_task_delete(t);
		if (!ok) {
			fprintf(stderr, "wq_true: a task `true` failed\n");
			return -1;
		}
		done++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 0;
	int w = argc > 2 ? atoi(argv[2]) : 0;
	int window = argc > 3 ? atoi(argv[3]) : w;
	if (n <= 0 || w <= 0 || w > WQ_MAX_WORKERS || window <= 0) {
		fprintf(stderr, "usage: wq_true N W [WINDOW]   (N tasks > 0, 1 <= W <= %d workers, WINDOW > 0 in flight)\n", WQ_MAX_WORKERS);
		return 2;
	}
	struct work_queue *q = work_queue_create(-1);
	if (!q) {
		perror("wq_true: work_queue_create");
		return 1;
	}
	pid_t pids[WQ_MAX_WORKERS];
	for (int i = 0; i < w; i++)
		pids[i] = wq_worker_start(work_queue_port(q));
	int rc = wq_run(q, w, w, now_s() + WQ_CONNECT_S);
	double a = now_s();
	if (rc == 0)
		rc = wq_run(q, n, window, a + WQ_DEADLINE_S);
	double s = now_s() - a;
	if (rc == 0)
		printf("rate %.0f elapsed %.3f\n", n / s, s);
	for (int i = 0; i < w; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	for (int i = 0; i < w; i++)
		if (pids[i] > 0)
			waitpid(pids[i], NULL, 0);
	work_queue_delete(q);
	return rc == 0 ? 0 : 1;
}
