/* SPDX-License-Identifier: MIT */
/*
 * fuzz_joblog: the job-log reader (share/joblog.c) on an arbitrary file: it
 * must finish (bounded by the file), never read or emit more than the file
 * holds, and find the same records through joblog_read and joblog_read_dir.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "joblog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct tally {
	size_t bytes;
	int records;
};

static int count(void *arg, const char *stream, const char *d, size_t n)
{
	struct tally *t = arg;
	if (strcmp(stream, "out") != 0 && strcmp(stream, "err") != 0)
		abort();
	if (d[n] != '\0')
		abort(); /* payloads are NUL-terminated for the caller */
	t->bytes += n;
	t->records++;
	return 0;
}

static char dir[64];

static void cleanup(void)
{
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		strcpy(dir, "/tmp/fuzz_joblog.XXXXXX");
		if (!mkdtemp(dir))
			abort();
		atexit(cleanup);
	}
	if (size < 1)
		return 0;
	int64_t id = data[0] % 8;
	char path[128], err[300];
	snprintf(path, sizeof path, "%s/worker-f.log", dir);
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	if (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1)
		abort();
	fclose(f);
	for (int attempt = 0; attempt < 2; attempt++) {
		struct tally a = {0, 0}, b = {0, 0};
		int ra = joblog_read(path, id, attempt, count, &a, err, sizeof err);
		int rb = joblog_read_dir(dir, id, attempt, count, &b, err, sizeof err);
		if (a.bytes > size || ra != a.records)
			abort();
		if (ra != rb || a.bytes != b.bytes)
			abort();
	}
	unlink(path);
	return 0;
}
