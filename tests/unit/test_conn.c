/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for share/conn over real loopback TCP: the handshake, message
 * batching, and that bad input (wrong key, oversized frame, bad JSON, a frame
 * before the handshake) gets an error frame and closes only that connection.
 * A relay between a client conn and the server conn (a man in the middle)
 * checks the record layer: what crosses the wire after the handshake is
 * sealed, and a flipped bit, a replayed, reflected or cut record, or a
 * downgraded challenge closes the connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "conn.h"
#include "frame.h"
#include "util.h"

struct side {
	int ready, closed, msgs;
	char why[512];
	char last_type[64];
	int64_t last_n;
	struct conn *c;
};

static uv_loop_t loop;
static uv_tcp_t server;
static int port;
static unsigned char key_srv[AUTH_KEY_BYTES], key_cli[AUTH_KEY_BYTES];
static struct side srv_side, cli_side;
static int echo_back = 1;
static size_t srv_max_frame = 1024;
static unsigned srv_max_hs;
static size_t srv_out_hwm;
static unsigned srv_stall_ms;
static const char *srv_bind = "127.0.0.1";

static void on_ready(struct conn *c) { ((struct side *)conn_data(c))->ready = 1; }

static void on_msg(struct conn *c, msg *m)
{
	struct side *s = conn_data(c);
	s->msgs++;
	util_strlcpy(s->last_type, msg_type(m), sizeof s->last_type);
	msg_get_int(m, "n", &s->last_n);
	if (s == &srv_side && echo_back)
		conn_send(c, m);
	else
		msg_free(m);
}

static void on_close(struct conn *c, const char *why)
{
	struct side *s = conn_data(c);
	s->closed = 1;
	s->c = NULL;
	util_strlcpy(s->why, why, sizeof s->why);
}

static const struct conn_cb cbs = {on_ready, on_msg, on_close};

static void on_connection(uv_stream_t *st, int status)
{
	assert_int_equal(status, 0);
	struct conn_opts o = {.key = key_srv, .max_frame = srv_max_frame, .idle_ms = 0,
			      .max_handshakes = srv_max_hs, .out_hwm = srv_out_hwm, .stall_ms = srv_stall_ms};
	assert_int_equal(conn_accept(&srv_side.c, st, &o, &cbs, &srv_side), 0);
}

static void run_until(int *flag, int ms)
{
	uint64_t end = util_mono_ns() + (uint64_t)ms * 1000000u;
	while (!*flag && util_mono_ns() < end)
		uv_run(&loop, UV_RUN_NOWAIT), usleep(200);
}

static int setup(void **state)
{
	(void)state;
	memset(&srv_side, 0, sizeof srv_side);
	memset(&cli_side, 0, sizeof cli_side);
	echo_back = 1;
	srv_max_frame = 1024;
	srv_max_hs = 0;
	srv_out_hwm = 0;
	srv_stall_ms = 0;
	uv_loop_init(&loop);
	uv_tcp_init(&loop, &server);
	struct sockaddr_in a;
	uv_ip4_addr(srv_bind, 0, &a);
	assert_int_equal(uv_tcp_bind(&server, (struct sockaddr *)&a, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&server, 16, on_connection), 0);
	unsetenv("MTSLURM_BENCH_PLAINTEXT");
	int len = sizeof a;
	uv_tcp_getsockname(&server, (struct sockaddr *)&a, &len);
	port = ntohs(a.sin_port);
	for (int i = 0; i < AUTH_KEY_BYTES; i++)
		key_srv[i] = key_cli[i] = (unsigned char)(i * 7 + 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (srv_side.c)
		conn_close(srv_side.c, NULL, "test over");
	if (cli_side.c)
		conn_close(cli_side.c, NULL, "test over");
	uv_close((uv_handle_t *)&server, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	return 0;
}

static void connect_client(void)
{
	struct conn_opts o = {.key = key_cli, .role = "client", .max_frame = 0};
	assert_int_equal(conn_connect(&cli_side.c, &loop, "127.0.0.1", port, &o, &cbs, &cli_side), 0);
}

static void test_handshake_and_batch(void **state)
{
	(void)state;
	connect_client();
	run_until(&cli_side.ready, 3000);
	assert_true(cli_side.ready);
	run_until(&srv_side.ready, 1000);
	assert_string_equal(conn_role(srv_side.c), "client");
	for (int i = 1; i <= 1000; i++) {
		msg *m = msg_new_typed("hello");
		msg_set_int(m, "n", i);
		assert_int_equal(conn_send(cli_side.c, m), 0);
	}
	for (int i = 0; i < 2000 && cli_side.msgs < 1000; i++)
		uv_run(&loop, UV_RUN_NOWAIT), usleep(100);
	assert_int_equal(srv_side.msgs, 1000);
	assert_int_equal(cli_side.msgs, 1000);
	assert_int_equal(cli_side.last_n, 1000); /* order preserved */
}

static void test_wrong_key_refused(void **state)
{
	(void)state;
	key_cli[5] ^= 0x40;
	connect_client();
	run_until(&cli_side.closed, 3000);
	assert_true(cli_side.closed);
	assert_false(cli_side.ready);
	assert_non_null(strstr(cli_side.why, "wrong cluster key"));
	run_until(&srv_side.closed, 1000);
	assert_false(srv_side.ready);
	/* The server still accepts good peers afterwards. */
	key_cli[5] ^= 0x40;
	memset(&cli_side, 0, sizeof cli_side);
	memset(&srv_side, 0, sizeof srv_side);
	connect_client();
	run_until(&cli_side.ready, 3000);
	assert_true(cli_side.ready);
}

/* A raw socket peer that sends bytes and collects what comes back. */
static int raw_connect(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static size_t raw_drain(int fd, char *out, size_t cap, int ms)
{
	size_t n = 0;
	uint64_t end = util_mono_ns() + (uint64_t)ms * 1000000u;
	while (util_mono_ns() < end) {
		uv_run(&loop, UV_RUN_NOWAIT);
		ssize_t r = read(fd, out + n, cap - 1 - n);
		if (r > 0)
			n += (size_t)r;
		else if (r == 0)
			break; /* closed by the server */
		usleep(200);
	}
	out[n] = 0;
	return n;
}

static void check_error_frame(const char *bytes, size_t n, const char *code)
{
	/* Skip the challenge frame, then the error frame must follow. */
	struct frame_reader r;
	frame_reader_init(&r, 0);
	frame_reader_feed(&r, bytes, n);
	const char *p;
	size_t len;
	int found = 0;
	while (frame_reader_next(&r, &p, &len) == FRAME_OK) {
		char e[64];
		msg *m = msg_parse(p, len, e, sizeof e);
		assert_non_null(m);
		if (strcmp(msg_type(m), "error") == 0) {
			assert_string_equal(msg_get_str(m, "code"), code);
			assert_non_null(msg_get_str(m, "msg"));
			found = 1;
		}
		msg_free(m);
	}
	frame_reader_release(&r);
	assert_true(found);
}

static void test_oversized_frame(void **state)
{
	(void)state;
	int fd = raw_connect();
	unsigned char h[4];
	frame_put_header(h, 5000); /* limit is 1024 */
	assert_int_equal(write(fd, h, 4), 4);
	char out[4096];
	size_t n = raw_drain(fd, out, sizeof out, 1500);
	check_error_frame(out, n, "bad_frame");
	assert_non_null(memmem(out, n, "5000", 4));
	close(fd);
	run_until(&srv_side.closed, 1000);
	assert_true(srv_side.closed);
}

static void test_bad_json_and_early_frame(void **state)
{
	(void)state;
	int fd = raw_connect();
	const char *bad = "{\"t\":\"auth\",";
	unsigned char h[4];
	frame_put_header(h, (uint32_t)strlen(bad));
	assert_int_equal(write(fd, h, 4), 4);
	assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
	char out[4096];
	size_t n = raw_drain(fd, out, sizeof out, 1500);
	check_error_frame(out, n, "bad_json");
	close(fd);

	fd = raw_connect();
	const char *early = "{\"t\":\"submit\",\"jobs\":[]}";
	frame_put_header(h, (uint32_t)strlen(early));
	assert_int_equal(write(fd, h, 4), 4);
	assert_int_equal(write(fd, early, strlen(early)), (ssize_t)strlen(early));
	n = raw_drain(fd, out, sizeof out, 1500);
	check_error_frame(out, n, "protocol");
	close(fd);
}

/* Before authentication a frame is at most CONN_HANDSHAKE_FRAME_MAX bytes,
 * whatever the limit after it: one unauthenticated 64 MiB frame took the
 * master from 418 MB to 2.66 GB. After the handshake the configured limit
 * holds again. */
static void test_handshake_frame_limit(void **state)
{
	(void)state;
	srv_max_frame = 0; /* FRAME_MAX_DEFAULT (64 MiB) once authenticated */
	int fd = raw_connect();
	unsigned char h[4];
	frame_put_header(h, CONN_HANDSHAKE_FRAME_MAX + 1);
	assert_int_equal(write(fd, h, 4), 4);
	char out[4096];
	size_t n = raw_drain(fd, out, sizeof out, 1500);
	check_error_frame(out, n, "bad_frame");
	assert_non_null(memmem(out, n, "before authentication", 21));
	close(fd);
	run_until(&srv_side.closed, 1000);
	assert_true(srv_side.closed);

	/* an authenticated client may send a frame far above 4 KiB */
	memset(&srv_side, 0, sizeof srv_side);
	echo_back = 0;
	connect_client();
	run_until(&srv_side.ready, 3000);
	assert_true(srv_side.ready);
	run_until(&cli_side.ready, 3000); /* a conn sends nothing before its handshake ended */
	assert_true(cli_side.ready);
	size_t big = 200000;
	char *text = malloc(big + 1);
	assert_non_null(text);
	memset(text, 'x', big);
	text[big] = '\0';
	msg *m = msg_new_typed("big");
	assert_int_equal(msg_set_str(m, "s", text), 0);
	free(text);
	assert_int_equal(conn_send(cli_side.c, m), 0);
	for (int i = 0; i < 10000 && srv_side.msgs < 1; i++)
		uv_run(&loop, UV_RUN_NOWAIT), usleep(100);
	assert_int_equal(srv_side.msgs, 1);
	assert_string_equal(srv_side.last_type, "big");
	assert_false(srv_side.closed);
}

/* At most max_handshakes connections wait in the handshake: a new one
 * drops the oldest (with a "busy" error frame), and a genuine peer still
 * gets in. */
static void test_handshake_count(void **state)
{
	(void)state;
	srv_max_hs = 4;
	int fds[5];
	char out[4096];
	for (int i = 0; i < 5; i++) {
		fds[i] = raw_connect();
		raw_drain(fds[i], out, sizeof out, 50); /* let the server accept it */
	}
	size_t n = raw_drain(fds[0], out, sizeof out, 500);
	check_error_frame(out, n, "busy");
	assert_non_null(memmem(out, n, "handshake", 9));
	for (int i = 1; i < 5; i++) {
		n = raw_drain(fds[i], out, sizeof out, 20);
		assert_null(memmem(out, n, "\"error\"", 7)); /* still waiting, not dropped */
	}
	memset(&srv_side, 0, sizeof srv_side);
	connect_client();
	run_until(&cli_side.ready, 3000);
	assert_true(cli_side.ready);
	for (int i = 0; i < 5; i++)
		close(fds[i]);
	run_until(&srv_side.closed, 200); /* let the server see the EOFs */
}

static int drains;
static void on_drain(struct conn *c)
{
	(void)c;
	drains++;
}

/* Queue n bytes of frames for the peer of c. */
static void queue_bytes(struct conn *c, size_t n)
{
	static char chunk[65536];
	memset(chunk, 'y', sizeof chunk);
	memcpy(chunk, "{\"t\":\"fill\",\"s\":\"", 17);
	memcpy(chunk + sizeof chunk - 2, "\"}", 2);
	for (size_t done = 0; done < n; done += sizeof chunk)
		assert_int_equal(conn_send_json(c, chunk, sizeof chunk), 0);
}

/* A peer that does not read what it is sent: past the high-water mark the
 * owner is told (conn_out_over), the server stops reading that peer's
 * requests, on_drain fires once it reads again; and a peer that reads
 * nothing at all for stall_ms is disconnected, so its queue cannot grow
 * without bound (a client not reading its results held +1.1 GB). */
static void test_output_backpressure(void **state)
{
	(void)state;
	srv_out_hwm = 64 << 10;
	srv_stall_ms = 1500;
	echo_back = 0;
	drains = 0;
	connect_client();
	run_until(&srv_side.ready, 3000);
	assert_true(srv_side.ready);
	run_until(&cli_side.ready, 3000);
	conn_set_on_drain(srv_side.c, on_drain);
	conn_pause(cli_side.c); /* the client stops reading */
	assert_false(conn_out_over(srv_side.c));
	queue_bytes(srv_side.c, 32u << 20); /* more than loopback's socket buffers */
	assert_true(conn_out_over(srv_side.c));
	/* while over the mark the server does not read the client's requests */
	msg *m = msg_new_typed("hello");
	msg_set_int(m, "n", 7);
	assert_int_equal(conn_send(cli_side.c, m), 0);
	int never = 0;
	run_until(&never, 500);
	assert_int_equal(srv_side.msgs, 0);
	assert_true(conn_out_over(srv_side.c));
	assert_int_equal(drains, 0);
	/* the client reads again: the queue drains, on_drain fires once, and
	 * the request waiting in the socket is read */
	conn_resume(cli_side.c);
	uint64_t end = util_mono_ns() + 10000000000ull;
	while ((drains == 0 || srv_side.msgs == 0) && util_mono_ns() < end)
		uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(drains, 1);
	assert_false(conn_out_over(srv_side.c));
	assert_int_equal(srv_side.msgs, 1);
	assert_int_equal(srv_side.last_n, 7);
	assert_false(srv_side.closed);

	/* a client that never reads again is dropped after stall_ms */
	while (conn_out_bytes(srv_side.c) && util_mono_ns() < end)
		uv_run(&loop, UV_RUN_NOWAIT);
	conn_pause(cli_side.c);
	queue_bytes(srv_side.c, 32u << 20);
	uint64_t t0 = util_mono_ns();
	run_until(&srv_side.closed, 6000);
	assert_true(srv_side.closed);
	assert_non_null(strstr(srv_side.why, "read nothing"));
	assert_true(util_mono_ns() - t0 >= 1000000000ull); /* not before stall_ms */
}

static void test_idle_timeout(void **state)
{
	(void)state;
	struct conn_opts o = {.key = key_cli, .role = "worker", .idle_ms = 300};
	echo_back = 0;
	assert_int_equal(conn_connect(&cli_side.c, &loop, "127.0.0.1", port, &o, &cbs, &cli_side), 0);
	/* The server never pings, so the client must give up on it. */
	run_until(&cli_side.closed, 3000);
	assert_true(cli_side.ready);
	assert_true(cli_side.closed);
	assert_non_null(strstr(cli_side.why, "silent"));
}

static void test_connect_refused(void **state)
{
	(void)state;
	struct conn_opts o = {.key = key_cli, .role = "client"};
	assert_int_equal(conn_connect(&cli_side.c, &loop, "127.0.0.1", 1, &o, &cbs, &cli_side), 0);
	run_until(&cli_side.closed, 3000);
	assert_true(cli_side.closed);
	assert_non_null(strstr(cli_side.why, "cannot connect"));
}

/* ---- a man in the middle ----
 * The client conn connects to the relay, the relay to the server. Each
 * direction's stream is cut into units by their 4-byte length prefix
 * (frames during the handshake, records after it: both are prefixed so),
 * recorded, and forwarded, or tampered with: d[0] is client to server
 * (unit 0 the auth frame, then records), d[1] server to client (challenge,
 * welcome, then records). */
enum tamper { T_NONE, T_FLIP, T_REPLAY, T_REFLECT, T_CUT, T_DOWNGRADE };
struct mitm_dir {
	int from, to;
	struct buf pend, seen;
	unsigned units;
	int eof;
};
static struct {
	int lfd, lport, cfd, sfd;
	struct mitm_dir d[2];
	enum tamper tamper;
} mitm;

static void mitm_start(enum tamper t)
{
	memset(&mitm, 0, sizeof mitm);
	mitm.cfd = mitm.sfd = -1;
	mitm.tamper = t;
	mitm.lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	socklen_t al = sizeof a;
	assert_int_equal(bind(mitm.lfd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(mitm.lfd, 4), 0);
	getsockname(mitm.lfd, (struct sockaddr *)&a, &al);
	mitm.lport = ntohs(a.sin_port);
	fcntl(mitm.lfd, F_SETFL, O_NONBLOCK);
}

static void mitm_stop(void)
{
	for (int i = 0; i < 2; i++) {
		buf_release(&mitm.d[i].pend);
		buf_release(&mitm.d[i].seen);
	}
	if (mitm.cfd >= 0)
		close(mitm.cfd);
	if (mitm.sfd >= 0)
		close(mitm.sfd);
	close(mitm.lfd);
}

/* Small units on loopback fit the socket buffer; a peer that has closed
 * (after refusing a record) just loses them. */
static void mitm_write(int fd, const void *p, size_t n)
{
	if (fd >= 0 && send(fd, p, n, MSG_NOSIGNAL) < 0)
		assert_true(errno == EPIPE || errno == ECONNRESET);
}

/* Forward (or not) one whole unit of direction i. */
static void mitm_unit(int i, char *u, size_t n)
{
	struct mitm_dir *d = &mitm.d[i];
	unsigned k = d->units++;
	if (i == 1 && k == 0 && mitm.tamper == T_DOWNGRADE) {
		/* rewrite the challenge's record protection to "none" */
		char *rec = memmem(u, n, "aes-256-gcm", 11);
		assert_non_null(rec);
		char frame[512];
		int len = snprintf(frame + 4, sizeof frame - 4, "%.*snone%.*s", (int)(rec - u - 4), u + 4,
				   (int)(u + n - rec - 11), rec + 11);
		frame_put_header((unsigned char *)frame, (uint32_t)len);
		buf_add(&d->seen, frame, (size_t)len + 4);
		mitm_write(d->to, frame, (size_t)len + 4);
		return;
	}
	int first_record = i == 0 && k == 1;
	if (first_record && mitm.tamper == T_FLIP)
		u[4 + (n - 4) / 2] ^= 0x01;
	if (first_record && mitm.tamper == T_CUT) {
		mitm_write(d->to, u, n / 2);
		shutdown(mitm.sfd, SHUT_WR); /* the server sees the end mid-record */
		return;
	}
	buf_add(&d->seen, u, n);
	mitm_write(d->to, u, n);
	if (first_record && mitm.tamper == T_REPLAY)
		mitm_write(d->to, u, n);
	if (i == 1 && k == 2 && mitm.tamper == T_REFLECT)
		mitm_write(mitm.sfd, u, n); /* the server's own record, back to it */
}

/* Accept, connect onwards, and move whatever bytes are there. */
static void mitm_pump(void)
{
	if (mitm.cfd < 0) {
		mitm.cfd = accept(mitm.lfd, NULL, NULL);
		if (mitm.cfd < 0)
			return;
		mitm.sfd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
		assert_int_equal(connect(mitm.sfd, (struct sockaddr *)&a, sizeof a), 0);
		fcntl(mitm.cfd, F_SETFL, O_NONBLOCK);
		fcntl(mitm.sfd, F_SETFL, O_NONBLOCK);
		mitm.d[0].from = mitm.cfd, mitm.d[0].to = mitm.sfd;
		mitm.d[1].from = mitm.sfd, mitm.d[1].to = mitm.cfd;
	}
	for (int i = 0; i < 2; i++) {
		struct mitm_dir *d = &mitm.d[i];
		char b[65536];
		ssize_t r;
		while ((r = read(d->from, b, sizeof b)) > 0)
			buf_add(&d->pend, b, (size_t)r);
		while (d->pend.len >= 4) {
			const unsigned char *h = (const unsigned char *)d->pend.p;
			size_t n = 4 + ((size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3]);
			if (d->pend.len < n)
				break;
			mitm_unit(i, d->pend.p, n);
			buf_consume(&d->pend, n);
		}
		if (r == 0 && !d->eof) {
			d->eof = 1;
			shutdown(d->to, SHUT_WR); /* pass the end on, after what came before it */
		}
	}
}

static void mitm_run(int *flag, int ms)
{
	uint64_t end = util_mono_ns() + (uint64_t)ms * 1000000u;
	while (!*flag && util_mono_ns() < end)
		uv_run(&loop, UV_RUN_NOWAIT), mitm_pump(), usleep(200);
}

/* Connect the client conn through the relay, wait for both ends to be
 * ready, and send one message carrying a marker. */
static void mitm_connect_and_send(const char *marker)
{
	struct conn_opts o = {.key = key_cli, .role = "client"};
	assert_int_equal(conn_connect(&cli_side.c, &loop, "127.0.0.1", mitm.lport, &o, &cbs, &cli_side), 0);
	mitm_run(&cli_side.ready, 3000);
	assert_true(cli_side.ready);
	mitm_run(&srv_side.ready, 1000);
	assert_true(srv_side.ready);
	msg *m = msg_new_typed("hello");
	msg_set_str(m, "secret", marker);
	msg_set_int(m, "n", 42);
	assert_int_equal(conn_send(cli_side.c, m), 0);
}

/* Frames round-trip through the relay, and neither direction carries the
 * marker or a readable frame type after the handshake. */
static void test_sealed_on_the_wire(void **state)
{
	(void)state;
	mitm_start(T_NONE);
	mitm_connect_and_send("PLAINTEXT-MARKER-42");
	mitm_run(&cli_side.msgs, 3000); /* the server echoes it */
	assert_int_equal(srv_side.msgs, 1);
	assert_int_equal(cli_side.msgs, 1);
	assert_string_equal(cli_side.last_type, "hello");
	assert_int_equal(cli_side.last_n, 42);
	for (int i = 0; i < 2; i++) {
		struct buf *w = &mitm.d[i].seen;
		assert_null(memmem(w->p, w->len, "PLAINTEXT-MARKER-42", 19));
		assert_null(memmem(w->p, w->len, "\"hello\"", 7));
	}
	assert_int_equal(mitm.d[0].units, 2); /* auth, one record */
	assert_int_equal(mitm.d[1].units, 3); /* challenge, welcome, one record */
	assert_non_null(memmem(mitm.d[1].seen.p, mitm.d[1].seen.len, "\"rec\":\"aes-256-gcm\"", 19));
	mitm_stop();
}

static void expect_auth_failure(int delivered)
{
	mitm_run(&srv_side.closed, 3000);
	assert_true(srv_side.closed);
	assert_non_null(strstr(srv_side.why, "record failed authentication"));
	assert_int_equal(srv_side.msgs, delivered);
}

static void test_flipped_bit_closes(void **state)
{
	(void)state;
	mitm_start(T_FLIP);
	mitm_connect_and_send("x");
	expect_auth_failure(0);
	/* the client hears why: the server's error frame is sealed and opens */
	mitm_run(&cli_side.closed, 3000);
	assert_true(cli_side.closed);
	assert_string_equal(cli_side.last_type, "error");
	mitm_stop();
}

static void test_replayed_record_rejected(void **state)
{
	(void)state;
	echo_back = 0;
	mitm_start(T_REPLAY);
	mitm_connect_and_send("x");
	expect_auth_failure(1); /* the first copy was delivered, once */
	mitm_stop();
}

/* A record sealed with the server's own key (the other direction's) sent
 * back to the server. */
static void test_reflected_record_rejected(void **state)
{
	(void)state;
	mitm_start(T_REFLECT);
	mitm_connect_and_send("x");
	expect_auth_failure(1);
	mitm_stop();
}

static void test_cut_record(void **state)
{
	(void)state;
	mitm_start(T_CUT);
	mitm_connect_and_send("x");
	mitm_run(&srv_side.closed, 3000);
	assert_true(srv_side.closed);
	assert_non_null(strstr(srv_side.why, "middle of a record"));
	assert_int_equal(srv_side.msgs, 0);
	mitm_stop();
}

/* A man in the middle who rewrites the challenge to "none" (plaintext) gets
 * a handshake that fails: the record protection is under both MACs. */
static void test_downgrade_refused(void **state)
{
	(void)state;
	mitm_start(T_DOWNGRADE);
	struct conn_opts o = {.key = key_cli, .role = "client"};
	assert_int_equal(conn_connect(&cli_side.c, &loop, "127.0.0.1", mitm.lport, &o, &cbs, &cli_side), 0);
	mitm_run(&cli_side.closed, 3000);
	assert_true(cli_side.closed);
	assert_false(cli_side.ready);
	assert_non_null(strstr(cli_side.why, "altered in transit"));
	mitm_run(&srv_side.closed, 1000);
	assert_false(srv_side.ready);
	mitm_stop();
}

/* The benchmarking knob: a loopback listener leaves frames in clear... */
static void test_plaintext_knob_on_loopback(void **state)
{
	(void)state;
	setenv("MTSLURM_BENCH_PLAINTEXT", "1", 1);
	mitm_start(T_NONE);
	mitm_connect_and_send("PLAINTEXT-MARKER-42");
	mitm_run(&cli_side.msgs, 3000);
	assert_int_equal(cli_side.msgs, 1);
	assert_non_null(memmem(mitm.d[0].seen.p, mitm.d[0].seen.len, "PLAINTEXT-MARKER-42", 19));
	assert_non_null(memmem(mitm.d[1].seen.p, mitm.d[1].seen.len, "\"rec\":\"none\"", 12));
	mitm_stop();
}

/* ...but a listener on the wildcard address seals every connection, even
 * one that arrives over 127.0.0.1: the decision, on addresses made here
 * (a test never listens beyond loopback). */
static struct sockaddr_storage addr(const char *text)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	if (strchr(text, ':'))
		assert_int_equal(uv_ip6_addr(text, 0, (struct sockaddr_in6 *)&ss), 0);
	else
		assert_int_equal(uv_ip4_addr(text, 0, (struct sockaddr_in *)&ss), 0);
	return ss;
}

static void test_plaintext_only_on_loopback(void **state)
{
	(void)state;
	struct sockaddr_storage lo = addr("127.0.0.1"), lo2 = addr("127.3.4.5"), any = addr("0.0.0.0"),
				lan = addr("10.1.2.3"), lo6 = addr("::1"), any6 = addr("::"),
				mapped = addr("::ffff:127.0.0.1");
	assert_true(conn_plaintext_allowed(&lo, &lo));
	assert_true(conn_plaintext_allowed(&lo2, &lo));
	assert_true(conn_plaintext_allowed(&lo6, &lo6));
	assert_true(conn_plaintext_allowed(&mapped, &lo));
	assert_false(conn_plaintext_allowed(&any, &lo));
	assert_false(conn_plaintext_allowed(&any6, &lo6));
	assert_false(conn_plaintext_allowed(&lan, &lan));
	assert_false(conn_plaintext_allowed(&lo, &lan));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake_and_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_json_and_early_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handshake_frame_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handshake_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_backpressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sealed_on_the_wire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_bit_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replayed_record_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reflected_record_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_downgrade_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plaintext_knob_on_loopback, setup, teardown),
		cmocka_unit_test(test_plaintext_only_on_loopback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
