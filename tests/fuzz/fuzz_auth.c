/* SPDX-License-Identifier: MIT */
/*
 * fuzz_auth: the authentication handshake (share/auth.c through
 * share/conn.c) over real loopback TCP, both ways. Byte 0 picks the mode:
 *   0  an unauthenticated peer sends arbitrary bytes to a server conn;
 *   1  a peer that holds the key answers the challenge correctly (byte 1:
 *      bit 0 the role, bit 1 "raw"), then sends the rest as an authenticated
 *      peer: sealed into records with the session's key (so the fuzzer
 *      reaches the frames and messages behind the record layer), or with
 *      "raw" as they are (the record parser and its authentication);
 *   2  a fake master sends arbitrary bytes to a client conn.
 * The conn must end in on_close (or stay open harmlessly) without touching
 * memory it does not own; the harness then closes its socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "conn.h"
#include "frame.h"
#include "msg.h"
#include "seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static uv_tcp_t server;
/* Fake masters listen on 127.0.0.1 .. 127.0.0.NFAKE (all loopback): a conn
 * that closes first leaves a TIME_WAIT per run, and rotating the address
 * multiplies the local ports available by NFAKE. */
#define NFAKE 16
static int port, inited, raw_listen[NFAKE], raw_port[NFAKE];
static char raw_host[NFAKE][16];
static unsigned next_fake;
static unsigned char key[AUTH_KEY_BYTES];
static int live, ready, accepted;

static void on_ready(struct conn *c)
{
	(void)c;
	ready = 1;
}

static void on_msg(struct conn *c, msg *m)
{
	(void)c;
	msg_free(m);
}

static void on_close(struct conn *c, const char *why)
{
	(void)c;
	if (!why || !*why)
		abort(); /* every close says why */
	live--;
}

static const struct conn_cb cbs = {on_ready, on_msg, on_close};

static void on_connection(uv_stream_t *s, int status)
{
	struct conn *c;
	struct conn_opts o = {.key = key, .max_frame = 1 << 16};
	if (status == 0 && conn_accept(&c, s, &o, &cbs, NULL) == 0) {
		live++;
		accepted = 1;
	}
}

static void init_once(void)
{
	for (int i = 0; i < AUTH_KEY_BYTES; i++)
		key[i] = (unsigned char)(i * 13 + 5);
	uv_loop_init(&loop);
	uv_tcp_init(&loop, &server);
	struct sockaddr_in a;
	uv_ip4_addr("127.0.0.1", 0, &a);
	if (uv_tcp_bind(&server, (struct sockaddr *)&a, 0) || uv_listen((uv_stream_t *)&server, 64, on_connection))
		abort();
	int len = sizeof a;
	uv_tcp_getsockname(&server, (struct sockaddr *)&a, &len);
	port = ntohs(a.sin_port);
	/* plain sockets playing a fake master for mode 2 */
	for (int i = 0; i < NFAKE; i++) {
		raw_listen[i] = socket(AF_INET, SOCK_STREAM, 0);
		snprintf(raw_host[i], sizeof raw_host[i], "127.0.0.%d", i + 1);
		struct sockaddr_in b = {.sin_family = AF_INET};
		inet_pton(AF_INET, raw_host[i], &b.sin_addr);
		socklen_t bl = sizeof b;
		if (bind(raw_listen[i], (struct sockaddr *)&b, sizeof b) || listen(raw_listen[i], 16) ||
		    getsockname(raw_listen[i], (struct sockaddr *)&b, &bl))
			abort();
		raw_port[i] = ntohs(b.sin_port);
	}
	inited = 1;
}

/* Turn the loop a few times, reading and discarding what fd was sent. */
static void spin(int fd, int turns)
{
	char sink[65536];
	for (int i = 0; i < turns; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		while (fd >= 0 && read(fd, sink, sizeof sink) > 0)
			;
	}
}

/* Close with a reset, not a FIN: hundreds of thousands of runs would
 * otherwise leave as many TIME_WAIT sockets and exhaust the local ports. */
static void close_hard(int fd)
{
	struct linger l = {1, 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	close(fd);
}

static void write_all(int fd, const void *p, size_t n)
{
	const char *s = p;
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w > 0) {
			s += w;
			n -= (size_t)w;
		} else {
			spin(-1, 1);
			struct pollfd pf = {fd, POLLOUT, 0};
			if (poll(&pf, 1, 100) < 0 || (pf.revents & (POLLERR | POLLHUP)))
				return; /* the conn closed on us: fine */
		}
	}
}

/* Read the challenge frame from fd; fills nonce and rec. 0 or -1. */
static int read_challenge(int fd, char nonce[AUTH_HEX_BYTES], char rec[16])
{
	struct frame_reader r;
	frame_reader_init(&r, 4096);
	int rc = -1;
	for (int i = 0; i < 2000 && rc < 0; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		char b[512];
		ssize_t k = read(fd, b, sizeof b);
		if (k > 0)
			frame_reader_feed(&r, b, (size_t)k);
		const char *p;
		size_t n;
		if (frame_reader_next(&r, &p, &n) == FRAME_OK) {
			char e[64];
			msg *m = msg_parse(p, n, e, sizeof e);
			const char *s = msg_get_str(m, "nonce");
			const char *rp = msg_get_str(m, "rec");
			if (s && strlen(s) == 64 && rp && strlen(rp) < 16) {
				memcpy(nonce, s, 65);
				strcpy(rec, rp);
				rc = 0;
			}
			msg_free(m);
			break;
		}
	}
	frame_reader_release(&r);
	return rc;
}

static void server_side(const uint8_t *data, size_t size, int authed)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	/* non-blocking, so a signal (libFuzzer's timers) cannot interrupt it */
	if (connect(fd, (struct sockaddr *)&a, sizeof a) && errno != EINPROGRESS && errno != EINTR) {
		perror("fuzz_auth: connect to the conn under test");
		abort();
	}
	accepted = 0;
	for (int i = 0; i < 2000 && !accepted; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	struct buf b;
	buf_init(&b);
	if (authed && size >= 1) {
		char sn[AUTH_HEX_BYTES], pn[AUTH_HEX_BYTES], mac[AUTH_HEX_BYTES], rec[16];
		if (read_challenge(fd, sn, rec) == 0) {
			const char *role = data[0] & 1 ? "worker" : "client";
			memset(pn, 'a', 64);
			pn[64] = '\0';
			auth_mac(mac, key, "peer", role, sn, pn, rec);
			msg *m = msg_new_typed("auth");
			msg_set_int(m, "v", AUTH_PROTOCOL_VERSION);
			msg_set_str(m, "role", role);
			msg_set_str(m, "nonce", pn);
			msg_set_str(m, "mac", mac);
			msg_frame(m, &b);
			msg_free(m);
			/* The conn's peer-to-server key, as in share/conn.c. */
			struct seal tx;
			char salt[128];
			memcpy(salt, sn, 64);
			memcpy(salt + 64, pn, 64);
			if (!(data[0] & 2) && strcmp(rec, "none") != 0 &&
			    seal_init(&tx, 1, key, salt, sizeof salt, AUTH_PROTOCOL " peer to server") == SEAL_OK) {
				seal_append(&tx, &b, data + 1, size - 1);
				seal_release(&tx);
				size = 1; /* the rest went in sealed */
			}
		}
		data++;
		size--;
	}
	buf_add(&b, data, size);
	write_all(fd, b.p, b.len);
	buf_release(&b);
	spin(fd, 20);
	close_hard(fd);
	for (int i = 0; i < 2000 && live > 0; i++)
		spin(-1, 1);
}

static void client_side(const uint8_t *data, size_t size)
{
	struct conn *c;
	struct conn_opts o = {.key = key, .role = "client"};
	unsigned k = next_fake++ % NFAKE;
	if (conn_connect(&c, &loop, raw_host[k], raw_port[k], &o, &cbs, NULL) != 0)
		abort();
	live++;
	int fd = -1;
	for (int i = 0; i < 2000 && fd < 0; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		struct pollfd pf = {raw_listen[k], POLLIN, 0};
		if (poll(&pf, 1, 1) == 1)
			fd = accept(raw_listen[k], NULL, NULL);
	}
	if (fd < 0)
		abort();
	fcntl(fd, F_SETFL, O_NONBLOCK);
	write_all(fd, data, size);
	spin(fd, 20);
	close_hard(fd);
	for (int i = 0; i < 2000 && live > 0; i++)
		spin(-1, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!inited)
		init_once();
	if (size < 1)
		return 0;
	ready = 0;
	switch (data[0] % 3) {
	case 0:
		server_side(data + 1, size - 1, 0);
		break;
	case 1:
		server_side(data + 1, size - 1, 1);
		break;
	default:
		client_side(data + 1, size - 1);
		break;
	}
	if (live != 0)
		abort(); /* a conn outlived its peer's socket */
	return 0;
}
