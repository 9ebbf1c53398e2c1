/* SPDX-License-Identifier: MIT */
/*
 * floor: what this machine allows a round trip, measured beside the
 * mtslurm figures -- a one-byte TCP ping-pong between two processes over
 * loopback (a mtslurm round trip has two: client <-> master, master <->
 * worker), and one 4 KiB write + fdatasync in DIR (a durable round trip
 * waits for one: its submit's; the result's shares the next submit's).
 * Prints "pingpong_us X fdatasync_us Y".
 *   floor DIR
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double pingpong(int n)
{
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &al))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		char b[8];
		if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a))
			_exit(1);
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		while (read(c, b, sizeof b) > 0)
			if (write(c, b, 1) != 1)
				break;
		_exit(0);
	}
	int s = accept(l, NULL, NULL);
	if (s < 0)
		return -1;
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	char b[8];
	double t0 = now_us();
	for (int i = 0; i < n; i++)
		if (write(s, "x", 1) != 1 || read(s, b, sizeof b) != 1)
			return -1;
	double us = (now_us() - t0) / n;
	close(s);
	close(l);
	waitpid(pid, NULL, 0);
	return us;
}

static double fsync_us(const char *dir, int n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/floor.tmp", dir);
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	char b[4096];
	memset(b, 'x', sizeof b);
	double t0 = now_us();
	for (int i = 0; i < n; i++)
		if (pwrite(fd, b, sizeof b, (off_t)(i % 64) * 4096) != (ssize_t)sizeof b || fdatasync(fd))
			return -1;
	double us = (now_us() - t0) / n;
	close(fd);
	unlink(path);
	return us;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: floor DIR\n");
		return 2;
	}
	printf("pingpong_us %.1f fdatasync_us %.1f\n", pingpong(20000), fsync_us(argv[1], 2000));
	return 0;
}
