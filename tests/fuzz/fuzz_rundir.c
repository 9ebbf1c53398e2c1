/* SPDX-License-Identifier: MIT */
/*
 * fuzz_rundir: the run directory's files as the daemons and the CLI read
 * them (share/rundir.c, share/auth.c): arbitrary bytes as master.json
 * (rundir_read_master: where every peer finds the master) and as the
 * cluster key file (auth_key_load). A refusal must say why; an accepted
 * master.json must give a usable port and NUL-terminated strings.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "rundir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void cleanup(void)
{
	char p[128];
	snprintf(p, sizeof p, "%s/master.json", dir);
	unlink(p);
	snprintf(p, sizeof p, "%s/key", dir);
	unlink(p);
	rmdir(dir);
}

static void put(const char *name, const uint8_t *data, size_t size)
{
	char p[128];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		strcpy(dir, "/tmp/fuzz_rundir.XXXXXX");
		if (!mkdtemp(dir))
			abort();
		atexit(cleanup);
	}
	char err[600];
	put("master.json", data, size);
	struct master_info mi;
	err[0] = '\0';
	if (rundir_read_master(dir, &mi, err, sizeof err) == 0) {
		if (mi.port <= 0 || mi.port > 65535 || !memchr(mi.host, 0, sizeof mi.host) ||
		    !memchr(mi.node, 0, sizeof mi.node) || !memchr(mi.version, 0, sizeof mi.version) ||
		    !memchr(mi.slurm_job, 0, sizeof mi.slurm_job))
			abort();
	} else if (!err[0]) {
		abort();
	}
	put("key", data, size);
	char kp[128];
	unsigned char key[AUTH_KEY_BYTES];
	snprintf(kp, sizeof kp, "%s/key", dir);
	err[0] = '\0';
	if (auth_key_load(key, kp, 0, err, sizeof err) != 0 && !err[0])
		abort();
	return 0;
}
