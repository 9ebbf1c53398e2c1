/* SPDX-License-Identifier: MIT */
/*
 * syncgate: the test-only wait before, and record after, each WAL sync
 * (see syncgate.h). Syncs run one at a time (the master never starts one
 * while another runs), so the record needs no lock; the environment is read
 * once under pthread_once, as the first sync may run on a pool thread.
 */
#include "syncgate.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char gate[4096], synced[4096 + 8];

static void syncgate_init(void)
{
	const char *p = getenv("MTSLURM_TEST_SYNC_GATE");
	if (!p || !*p || strlen(p) >= sizeof gate)
		return;
	snprintf(gate, sizeof gate, "%s", p);
	snprintf(synced, sizeof synced, "%s.synced", p);
}

int64_t syncgate_wait(int wal_fd)
{
	pthread_once(&once, syncgate_init);
	if (!gate[0])
		return -1;
	struct timespec pause = {0, 1000000}; /* 1 ms */
	for (long i = 0; i < SYNCGATE_MAX_WAIT_S * 1000L && access(gate, F_OK) == 0; i++)
		nanosleep(&pause, NULL);
	struct stat st;
	return fstat(wal_fd, &st) == 0 ? (int64_t)st.st_size : -1;
}

void syncgate_synced(int64_t wal_b)
{
	if (!gate[0] || wal_b < 0)
		return;
	/* written whole, then renamed: a reader never sees half a number */
	char tmp[sizeof synced + 4], text[32];
	snprintf(tmp, sizeof tmp, "%s.tmp", synced);
	int n = snprintf(text, sizeof text, "%lld\n", (long long)wal_b);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	int ok = write(fd, text, (size_t)n) == n;
	close(fd);
	if (ok)
		rename(tmp, synced);
}
