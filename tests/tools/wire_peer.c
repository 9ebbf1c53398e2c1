/* SPDX-License-Identifier: MIT */
/*
 * wire_peer: a scriptable protocol peer for the system tests. It connects to
 * the master of a run directory, authenticates (or not), sends the frames it
 * is given, and prints every frame it receives, one JSON object per line,
 * until the master closes the connection or the time is up.
 *
 *   wire_peer [--role client|worker] [--key FILE] [--ms N] [--raw-hex HEX]
 *             RUN_DIR [JSON ...]
 *
 * --raw-hex sends those bytes as they are after the handshake and the JSON
 * frames (malformed frames).
 * Exit: 0 if the connection reached the end of the time limit or was closed
 * by the master; 1 on usage or connection errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "conn.h"
#include "rundir.h"
#include "util.h"

static const char *role = "client";
static char **frames;
static int nframes;
static unsigned char rawbytes[4096];
static size_t nraw;
static uv_timer_t deadline;
static struct conn *cc;

static void send_all(struct conn *c)
{
	for (int i = 0; i < nframes; i++)
		if (conn_send_json(c, frames[i], strlen(frames[i])))
			fprintf(stderr, "wire_peer: cannot queue frame %d\n", i);
}

static void on_ready(struct conn *c)
{
	printf("{\"t\":\"(ready)\"}\n");
	fflush(stdout);
	send_all(c);
	if (nraw)
		conn_send_bytes(c, rawbytes, nraw);
}

static void on_msg(struct conn *c, msg *m)
{
	(void)c;
	char *s = msg_print(m);
	printf("%s\n", s ? s : "?");
	fflush(stdout);
	free(s);
	msg_free(m);
}

static void on_close(struct conn *c, const char *why)
{
	(void)c;
	cc = NULL;
	printf("{\"t\":\"(closed)\",\"why\":\"%s\"}\n", why);
	fflush(stdout);
	uv_close((uv_handle_t *)&deadline, NULL);
}

static void on_deadline(uv_timer_t *t)
{
	(void)t;
	if (cc)
		conn_close(cc, NULL, "time limit");
}

int main(int argc, char **argv)
{
	const char *keyfile = NULL;
	unsigned ms = 1500;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--role") && i + 1 < argc)
			role = argv[++i];
		else if (!strcmp(argv[i], "--key") && i + 1 < argc)
			keyfile = argv[++i];
		else if (!strcmp(argv[i], "--ms") && i + 1 < argc)
			ms = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--raw-hex") && i + 1 < argc) {
			const char *h = argv[++i];
			nraw = strlen(h) / 2;
			if (nraw > sizeof rawbytes || util_unhex(rawbytes, h, nraw)) {
				fprintf(stderr, "wire_peer: bad --raw-hex\n");
				return 1;
			}
		} else {
			fprintf(stderr, "usage: wire_peer [--role R] [--key FILE] [--ms N] [--raw-hex HEX] RUN_DIR [JSON...]\n");
			return 1;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "wire_peer: RUN_DIR missing\n");
		return 1;
	}
	const char *dir = argv[i++];
	frames = argv + i;
	nframes = argc - i;
	char err[512], kp[RUNDIR_PATH_MAX];
	struct master_info mi;
	unsigned char key[AUTH_KEY_BYTES];
	if (rundir_read_master(dir, &mi, err, sizeof err)) {
		fprintf(stderr, "wire_peer: %s\n", err);
		return 1;
	}
	if (!keyfile) {
		rundir_path(kp, dir, "key");
		keyfile = kp;
	}
	if (auth_key_load(key, keyfile, 0, err, sizeof err)) {
		fprintf(stderr, "wire_peer: %s\n", err);
		return 1;
	}
	uv_loop_t *loop = uv_default_loop();
	struct conn_opts o = {.key = key, .role = role};
	struct conn_cb cb = {on_ready, on_msg, on_close};
	int r = conn_connect(&cc, loop, mi.host, mi.port, &o, &cb, NULL);
	if (r) {
		fprintf(stderr, "wire_peer: connect: %s\n", uv_strerror(r));
		return 1;
	}
	uv_timer_init(loop, &deadline);
	uv_timer_start(&deadline, on_deadline, ms, 0);
	uv_run(loop, UV_RUN_DEFAULT);
	return 0;
}
