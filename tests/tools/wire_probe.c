/* SPDX-License-Identifier: MIT */
/*
 * wire_probe: looks at what a real master puts on the wire after the
 * handshake, for the system tests. It connects to the master of RUN_DIR with
 * a plain blocking socket (not share/conn), runs the client side of the
 * handshake by hand with the cluster key, then sends a hello frame, sealed
 * with the session's peer-to-server key as share/conn.c does (or, with
 * --plain-hello, in clear), and reports one "name value" line each:
 *
 *   rec R           the record protection the challenge announced
 *   raw_frame B     yes if the first bytes after the welcome parse as a
 *                   plaintext JSON frame
 *   raw_hello_ok B  yes if "hello_ok" or the probe's client id appear in
 *                   clear among the bytes received after the welcome
 *   opened T        the type of the first frame opened from the records
 *                   (or read in clear under rec none): hello_ok expected
 *   error MSG       an error frame's msg, opened from the records
 *   closed B        yes if the master closed the connection
 *
 *   wire_probe [--plain-hello] RUN_DIR
 * Exit: 0 when the report is complete, 1 on a setup or handshake failure.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "auth.h"
#include "frame.h"
#include "msg.h"
#include "rundir.h"
#include "seal.h"

static int fd = -1;
static struct buf in = BUF_INIT; /* bytes read, not yet consumed */
static int eof;

static int fill(void)
{
	char b[65536];
	ssize_t r = read(fd, b, sizeof b);
	if (r <= 0) {
		eof = 1;
		return -1;
	}
	return buf_add(&in, b, (size_t)r);
}

/* The next 4-byte-length-prefixed unit (frame or record) of in, whole:
 * its length with the prefix, or 0 at the end of the stream. */
static size_t next_unit(void)
{
	for (;;) {
		if (in.len >= 4) {
			const unsigned char *h = (const unsigned char *)in.p;
			size_t n = 4 + ((size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3]);
			if (n > SEAL_BODY_MAX + 4)
				return 0;
			if (in.len >= n)
				return n;
		}
		if (fill())
			return 0;
	}
}

static msg *read_frame(void)
{
	size_t n = next_unit();
	if (!n)
		return NULL;
	char e[120];
	msg *m = msg_parse(in.p + 4, n - 4, e, sizeof e);
	buf_consume(&in, n);
	return m;
}

static int connect_master(const char *dir)
{
	struct master_info mi;
	char err[512];
	if (rundir_read_master(dir, &mi, err, sizeof err)) {
		fprintf(stderr, "wire_probe: %s\n", err);
		return -1;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	char port[16];
	snprintf(port, sizeof port, "%d", mi.port);
	if (getaddrinfo(mi.host, port, &hints, &res)) {
		fprintf(stderr, "wire_probe: cannot resolve %s\n", mi.host);
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	int r = connect(fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (r) {
		perror("wire_probe: connect");
		return -1;
	}
	struct timeval tv = {5, 0}; /* every read is bounded */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return 0;
}

static void send_frame(msg *m)
{
	struct buf b = BUF_INIT;
	msg_frame(m, &b);
	if (write(fd, b.p, b.len) != (ssize_t)b.len)
		perror("wire_probe: write");
	buf_release(&b);
	msg_free(m);
}

static unsigned char key[AUTH_KEY_BYTES];
static char srv_nonce[AUTH_HEX_BYTES], pn[AUTH_HEX_BYTES], rec[16];
static const char cid[] = "77697265707262656d61726b65723432"; /* to look for on the wire */

/* The client side of the handshake, by hand. 0 or -1. */
static int handshake(void)
{
	char mac[AUTH_HEX_BYTES];
	msg *ch = read_frame();
	const char *sn = ch ? msg_get_str(ch, "nonce") : NULL, *rp = ch ? msg_get_str(ch, "rec") : NULL;
	if (!sn || !rp || strlen(sn) != 64) {
		fprintf(stderr, "wire_probe: no challenge from the master\n");
		msg_free(ch);
		return -1;
	}
	snprintf(srv_nonce, sizeof srv_nonce, "%s", sn);
	snprintf(rec, sizeof rec, "%s", rp);
	msg_free(ch);
	printf("rec %s\n", rec);
	auth_nonce(pn);
	auth_mac(mac, key, "peer", "client", srv_nonce, pn, rec);
	msg *a = msg_new_typed("auth");
	msg_set_int(a, "v", AUTH_PROTOCOL_VERSION);
	msg_set_str(a, "role", "client");
	msg_set_str(a, "nonce", pn);
	msg_set_str(a, "mac", mac);
	send_frame(a);
	msg *w = read_frame();
	auth_mac(mac, key, "server", "client", pn, srv_nonce, rec);
	int ok = w && strcmp(msg_type(w), "welcome") == 0 && auth_mac_equal(mac, msg_get_str(w, "mac"));
	msg_free(w);
	if (!ok)
		fprintf(stderr, "wire_probe: no valid welcome from the master\n");
	return ok ? 0 : -1;
}

/* hello as one frame: sealed with tx, or in clear when tx is NULL. */
static void send_hello(struct seal *tx)
{
	char hello[160];
	int hl = snprintf(hello, sizeof hello, "{\"t\":\"hello\",\"client\":\"%s\",\"name\":\"wire_probe\"}", cid);
	struct buf out = BUF_INIT, wire = BUF_INIT;
	unsigned char hdr[4];
	frame_put_header(hdr, (uint32_t)hl);
	buf_add(&out, hdr, 4);
	buf_add(&out, hello, (size_t)hl);
	if (tx)
		seal_append(tx, &wire, out.p, out.len);
	else
		buf_add(&wire, out.p, out.len);
	if (write(fd, wire.p, wire.len) != (ssize_t)wire.len)
		perror("wire_probe: write");
	buf_release(&out);
	buf_release(&wire);
}

/* Read what comes back until hello_ok or an error is opened (and with
 * wait_close, until the master closes); print the report. rx NULL: in clear. */
static void report(struct seal *rx, int wait_close)
{
	while (!eof && in.len < 4)
		fill();
	size_t n = next_unit();
	int raw_frame = 0;
	char e[120];
	if (n) {
		msg *m = msg_parse(in.p + 4, n - 4, e, sizeof e);
		raw_frame = m && msg_is_object(m) && msg_get_str(m, "t");
		msg_free(m);
	}
	struct buf clear = BUF_INIT, raw = BUF_INIT; /* the stream opened, and as it came */
	static char pt[SEAL_PLAIN_MAX];
	while ((n = next_unit()) > 0) {
		buf_add(&raw, in.p, n);
		if (!rx)
			buf_add(&clear, in.p, n);
		else if (seal_open(rx, (unsigned char *)in.p, (unsigned char *)in.p + 4, n - 4, (unsigned char *)pt))
			break;
		else
			buf_add(&clear, pt, n - 4 - SEAL_TAG_BYTES);
		buf_consume(&in, n);
		if (memmem(clear.p, clear.len, "hello_ok", 8) || memmem(clear.p, clear.len, "\"error\"", 7))
			break;
	}
	while (wait_close && !eof)
		fill(); /* the master must close on us */
	int readable = raw.p && (memmem(raw.p, raw.len, "hello_ok", 8) || memmem(raw.p, raw.len, cid, strlen(cid)));
	printf("raw_frame %s\nraw_hello_ok %s\n", raw_frame ? "yes" : "no", readable ? "yes" : "no");
	if (clear.len > 4) {
		const unsigned char *h = (const unsigned char *)clear.p;
		size_t fl = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
		msg *m = msg_parse(clear.p + 4, fl < clear.len - 4 ? fl : clear.len - 4, e, sizeof e);
		printf("opened %s\n", m ? msg_type(m) : "?");
		if (m && strcmp(msg_type(m), "error") == 0)
			printf("error %s\n", msg_get_str(m, "msg") ? msg_get_str(m, "msg") : "");
		msg_free(m);
	} else {
		printf("opened (nothing)\n");
	}
	printf("closed %s\n", eof ? "yes" : "no");
	buf_release(&raw);
	buf_release(&clear);
}

int main(int argc, char **argv)
{
	int plain_hello = argc > 2 && strcmp(argv[1], "--plain-hello") == 0;
	const char *dir = argv[argc - 1];
	char err[512], kp[RUNDIR_PATH_MAX];
	if (argc < 2) {
		fprintf(stderr, "usage: wire_probe [--plain-hello] RUN_DIR\n");
		return 1;
	}
	rundir_path(kp, dir, "key");
	if (auth_key_load(key, kp, 0, err, sizeof err)) {
		fprintf(stderr, "wire_probe: %s\n", err);
		return 1;
	}
	if (connect_master(dir))
		return 1; /* it said why */
	if (handshake())
		return 1;
	int sealed = strcmp(rec, "none") != 0;
	struct seal tx, rx;
	char salt[128]; /* as share/conn.c: both nonces, the server's first */
	memcpy(salt, srv_nonce, 64);
	memcpy(salt + 64, pn, 64);
	if (sealed && (seal_init(&tx, 1, key, salt, sizeof salt, AUTH_PROTOCOL " peer to server") ||
		       seal_init(&rx, 0, key, salt, sizeof salt, AUTH_PROTOCOL " server to peer"))) {
		fprintf(stderr, "wire_probe: cannot derive the session keys\n");
		return 1;
	}
	send_hello(sealed && !plain_hello ? &tx : NULL);
	report(sealed ? &rx : NULL, plain_hello);
	buf_release(&in);
	if (sealed) {
		seal_release(&tx);
		seal_release(&rx);
	}
	close(fd);
	return 0;
}
