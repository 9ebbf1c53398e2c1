/* SPDX-License-Identifier: MIT */
/*
 * conn: authenticated framed JSON connections on libuv -- see conn.h for the
 * contract. The states are CONNECTING -> HANDSHAKE -> READY -> CLOSING; the
 * struct is freed only from the last uv_close callback, so a conn stays valid
 * for the whole of any callback that closes it.
 *
 * Once READY (unless both ends agreed on "none" on loopback), the byte stream
 * below the frames is sealed records (seal.h): the writer seals everything it
 * has queued at flush time, the reader opens a record only when the frames
 * it has decrypted so far are used up. Frames stay the unit above; raw bytes
 * from conn_send_bytes are sealed like any others.
 */
#include "conn.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "seal.h"
#include "util.h"

/* Record protection names, as announced in the challenge ("rec"). */
#define REC_AEAD "aes-256-gcm"
#define REC_NONE "none"
/* The benchmarking knob (docs/protocol.md, 2.1): honoured only by a server
 * whose listener and connection are both on a loopback address. */
#define PLAINTEXT_ENV "MTSLURM_BENCH_PLAINTEXT"
/* HKDF info labels: one key per direction. */
#define LABEL_S2P AUTH_PROTOCOL " server to peer"
#define LABEL_P2S AUTH_PROTOCOL " peer to server"

enum conn_state { ST_CONNECTING, ST_HANDSHAKE, ST_READY, ST_CLOSING };

struct conn {
	uv_tcp_t tcp;
	uv_timer_t timer;     /* handshake deadline, pings, idle detection */
	uv_prepare_t flusher; /* writes the output buffer before the loop polls */
	uv_connect_t creq;
	uv_write_t wreq;
	uv_loop_t *loop;
	struct frame_reader rd;  /* plaintext frames */
	struct frame_reader rin; /* sealed records, once READY and sealed */
	struct buf out;  /* frames queued this turn */
	struct buf wbuf; /* bytes being written (records, once sealed) */
	struct seal tx, rx;
	int sealed;       /* records after the handshake (rec != "none") */
	size_t out_plain; /* leading bytes of out to send unsealed (the handshake's last frame) */
	char rec[16];     /* record protection of this connection */
	enum conn_state st;
	int server;
	int writing;
	int flush_armed;
	int paused;
	int need_dispatch; /* frames buffered while paused */
	int closed_handles;
	int sent_error;
	unsigned char key[AUTH_KEY_BYTES];
	char role[16];
	char nonce[AUTH_HEX_BYTES];
	char peer_nonce[AUTH_HEX_BYTES];
	char peer[80];
	char why[512];
	unsigned ping_ms, idle_ms, handshake_ms;
	size_t max_frame; /* once authenticated; CONN_HANDSHAKE_FRAME_MAX before */
	size_t out_hwm;
	unsigned stall_ms;
	int out_over;        /* above out_hwm, not yet back to half */
	uint64_t last_tx_ms; /* last write completed (or crossing the mark) */
	struct conn *hs_prev, *hs_next; /* in the thread's handshake list */
	int hs_listed;
	uint64_t last_rx_ms, last_ping_ms, started_ms;
	struct conn_cb cb;
	int (*on_frame)(struct conn *c, const char *json, size_t n); /* conn_set_on_frame */
	void (*on_drain)(struct conn *c);
	void *data;
};

static void conn_finish(struct conn *c);
static void arm_flush(struct conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

/* Server-side connections still in the handshake, oldest first. Per thread:
 * a loop runs on one thread, and only the master accepts. */
static _Thread_local struct conn *hs_head, *hs_tail;
static _Thread_local unsigned hs_count;

static void hs_add(struct conn *c)
{
	c->hs_prev = hs_tail;
	c->hs_next = NULL;
	if (hs_tail)
		hs_tail->hs_next = c;
	else
		hs_head = c;
	hs_tail = c;
	c->hs_listed = 1;
	hs_count++;
}

/* Leave the handshake list (authenticated or closing); idempotent. */
static void hs_del(struct conn *c)
{
	if (!c->hs_listed)
		return;
	if (c->hs_prev)
		c->hs_prev->hs_next = c->hs_next;
	else
		hs_head = c->hs_next;
	if (c->hs_next)
		c->hs_next->hs_prev = c->hs_prev;
	else
		hs_tail = c->hs_prev;
	c->hs_prev = c->hs_next = NULL;
	c->hs_listed = 0;
	hs_count--;
}

/* A server reads while neither the owner paused it nor its output to the
 * peer is over the mark: a peer that does not read its replies gets no
 * further requests read (TCP backpressure, one level up). */
static void update_reading(struct conn *c, int was_reading)
{
	int want = c->st == ST_READY && !c->paused && !(c->server && c->out_over);
	if (want && !was_reading) {
		c->last_rx_ms = uv_now(c->loop); /* we were not listening: not the peer's silence */
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	} else if (!want && was_reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
	}
}

static int is_reading(const struct conn *c)
{
	return c->st == ST_READY && !c->paused && !(c->server && c->out_over);
}

/* Called whenever the output queue grew or a write finished. */
static void out_check(struct conn *c)
{
	size_t q = c->out.len + c->wbuf.len;
	if (c->st != ST_READY)
		return;
	if (!c->out_over && q > c->out_hwm) {
		int was = is_reading(c);
		c->out_over = 1;
		c->last_tx_ms = uv_now(c->loop);
		update_reading(c, was);
	} else if (c->out_over && q <= c->out_hwm / 2) {
		int was = is_reading(c);
		c->out_over = 0;
		update_reading(c, was);
		if (c->on_drain)
			c->on_drain(c);
	}
}

/* Handshake done: from now on the peer is trusted with big frames, and
 * (unless rec is "none") everything after the handshake's last frame is
 * sealed. The salt is both nonces, server's first: both ends derive the same
 * two keys. Bytes already read past the last handshake frame are records.
 * Returns 0, or -1 with the conn closing. */
static int become_ready(struct conn *c)
{
	hs_del(c);
	frame_reader_set_max(&c->rd, c->max_frame);
	c->sealed = strcmp(c->rec, REC_NONE) != 0;
	if (c->sealed) {
		char salt[2 * (AUTH_HEX_BYTES - 1)];
		const char *sn = c->server ? c->nonce : c->peer_nonce;
		const char *pn = c->server ? c->peer_nonce : c->nonce;
		memcpy(salt, sn, AUTH_HEX_BYTES - 1);
		memcpy(salt + AUTH_HEX_BYTES - 1, pn, AUTH_HEX_BYTES - 1);
		int r = seal_init(&c->tx, 1, c->key, salt, sizeof salt, c->server ? LABEL_S2P : LABEL_P2S);
		if (r == SEAL_OK)
			r = seal_init(&c->rx, 0, c->key, salt, sizeof salt, c->server ? LABEL_P2S : LABEL_S2P);
		if (r != SEAL_OK) {
			char why[200];
			snprintf(why, sizeof why, "cannot set up the record layer: %s", seal_strerror(r));
			conn_close(c, NULL, why);
			return -1;
		}
		c->out_plain = c->out.len;
		const char *rest;
		size_t n = frame_reader_take_rest(&c->rd, &rest);
		if (n && frame_reader_feed(&c->rin, rest, n)) {
			conn_close(c, NULL, "out of memory after the handshake");
			return -1;
		}
	}
	c->st = ST_READY;
	return 0;
}

static void set_why(struct conn *c, const char *why)
{
	if (!c->why[0])
		util_strlcpy(c->why, why && *why ? why : "closed", sizeof c->why);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	if (++c->closed_handles < 3)
		return;
	if (c->cb.on_close)
		c->cb.on_close(c, c->why);
	frame_reader_release(&c->rd);
	frame_reader_release(&c->rin);
	seal_release(&c->tx);
	seal_release(&c->rx);
	buf_release(&c->out);
	buf_release(&c->wbuf);
	free(c);
}

/* Close the handles now; on_close runs from the last close callback. */
static void conn_finish(struct conn *c)
{
	hs_del(c);
	if (uv_is_closing((uv_handle_t *)&c->timer))
		return;
	c->st = ST_CLOSING;
	uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	uv_close((uv_handle_t *)&c->flusher, on_handle_closed);
}

static void on_close_deadline(uv_timer_t *t)
{
	conn_finish(t->data);
}

void conn_close(struct conn *c, const char *code, const char *why)
{
	if (!c || c->st == ST_CLOSING)
		return;
	int was_connecting = c->st == ST_CONNECTING;
	hs_del(c);
	c->st = ST_CLOSING;
	set_why(c, why);
	if (was_connecting) {
		/* The connect request is still pending; its callback finishes. */
		uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
		uv_close((uv_handle_t *)&c->timer, on_handle_closed);
		uv_close((uv_handle_t *)&c->flusher, on_handle_closed);
		return;
	}
	uv_read_stop((uv_stream_t *)&c->tcp);
	if (code && !c->sent_error) {
		msg *e = msg_new_typed("error");
		if (e && !msg_set_str(e, "code", code) && !msg_set_str(e, "msg", c->why))
			msg_frame(e, &c->out);
		msg_free(e);
		c->sent_error = 1;
	}
	if (c->out.len || c->writing) {
		arm_flush(c);
		/* A peer that does not read must not keep us half-closed forever. */
		uv_timer_start(&c->timer, on_close_deadline, 2000, 0);
		return;
	}
	conn_finish(c);
}

static void on_write(uv_write_t *req, int status)
{
	struct conn *c = req->data;
	c->writing = 0;
	buf_reset(&c->wbuf);
	if (uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	c->last_tx_ms = uv_now(c->loop);
	if (status < 0) {
		c->out.len = 0;
		if (c->st != ST_CLOSING) {
			char why[160];
			snprintf(why, sizeof why, "write to %s failed: %s", c->peer, uv_strerror(status));
			conn_close(c, NULL, why);
		} else {
			conn_finish(c);
		}
		return;
	}
	if (c->out.len)
		arm_flush(c);
	else if (c->st == ST_CLOSING)
		conn_finish(c);
	out_check(c);
}

static void dispatch(struct conn *c);

/* Move out to wbuf as records (after the unsealed handshake bytes, if any).
 * 0, or -1 with the conn closing. */
static int seal_pending(struct conn *c)
{
	buf_reset(&c->wbuf);
	int r = SEAL_OK;
	if (c->out_plain && buf_add(&c->wbuf, c->out.p, c->out_plain))
		r = SEAL_ENOMEM;
	if (r == SEAL_OK)
		r = seal_append(&c->tx, &c->wbuf, c->out.p + c->out_plain, c->out.len - c->out_plain);
	c->out_plain = 0;
	buf_reset(&c->out);
	if (r == SEAL_OK)
		return 0;
	buf_reset(&c->wbuf);
	if (c->st == ST_CLOSING) {
		conn_finish(c);
	} else {
		char why[200];
		snprintf(why, sizeof why, "cannot seal a record for %s: %s", c->peer, seal_strerror(r));
		conn_close(c, NULL, why);
	}
	return -1;
}

static void on_flush(uv_prepare_t *p)
{
	struct conn *c = p->data;
	uv_prepare_stop(p);
	c->flush_armed = 0;
	if (c->need_dispatch && !c->paused && c->st != ST_CLOSING) {
		c->need_dispatch = 0;
		dispatch(c);
	}
	if (c->writing || !c->out.len || uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	if (c->sealed) {
		if (seal_pending(c))
			return;
	} else {
		struct buf t = c->wbuf;
		c->wbuf = c->out;
		c->out = t;
		buf_reset(&c->out);
	}
	uv_buf_t b = uv_buf_init(c->wbuf.p, (unsigned)c->wbuf.len);
	c->wreq.data = c;
	int r = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write);
	if (r < 0) {
		buf_reset(&c->wbuf);
		if (c->st == ST_CLOSING) {
			conn_finish(c);
		} else {
			char why[160];
			snprintf(why, sizeof why, "write to %s failed: %s", c->peer, uv_strerror(r));
			conn_close(c, NULL, why);
		}
		return;
	}
	c->writing = 1;
}

static void arm_flush(struct conn *c)
{
	if (!c->out_over && c->out.len + c->wbuf.len > c->out_hwm)
		out_check(c);
	if (c->flush_armed || uv_is_closing((uv_handle_t *)&c->flusher))
		return;
	c->flush_armed = 1;
	uv_prepare_start(&c->flusher, on_flush);
}

int conn_send(struct conn *c, msg *m)
{
	if (!m)
		return -1;
	if (!c || c->st != ST_READY) {
		msg_free(m);
		return -1;
	}
	int r = msg_frame(m, &c->out);
	msg_free(m);
	if (r)
		return -1;
	arm_flush(c);
	return 0;
}

void conn_set_on_frame(struct conn *c, int (*fn)(struct conn *c, const char *json, size_t n))
{
	if (c)
		c->on_frame = fn;
}

int conn_send_json(struct conn *c, const char *json, size_t n)
{
	unsigned char hdr[FRAME_HDR_BYTES];
	if (!c || c->st != ST_READY || n == 0 || n > UINT32_MAX)
		return -1;
	if (buf_grow(&c->out, n + FRAME_HDR_BYTES))
		return -1;
	frame_put_header(hdr, (uint32_t)n);
	buf_add(&c->out, hdr, sizeof hdr);
	buf_add(&c->out, json, n);
	arm_flush(c);
	return 0;
}

int conn_send_bytes(struct conn *c, const void *data, size_t n)
{
	if (!c || c->st != ST_READY || buf_add(&c->out, data, n))
		return -1;
	arm_flush(c);
	return 0;
}

static int send_handshake(struct conn *c, msg *m)
{
	if (!m)
		return -1;
	int r = msg_frame(m, &c->out);
	msg_free(m);
	if (!r)
		arm_flush(c);
	return r;
}

/* Server: got the peer's auth answer. */
static void handle_auth(struct conn *c, msg *m)
{
	const char *role = msg_get_str(m, "role");
	const char *pn = msg_get_str(m, "nonce");
	const char *mac = msg_get_str(m, "mac");
	char want[AUTH_HEX_BYTES], smac[AUTH_HEX_BYTES];
	if (strcmp(msg_type(m), "auth") != 0) {
		char why[160];
		snprintf(why, sizeof why, "expected an \"auth\" frame during the handshake, got \"%.40s\"",
			 msg_type(m));
		conn_close(c, "protocol", why);
		return;
	}
	int64_t v = 0;
	if (msg_get_int(m, "v", &v) || v != AUTH_PROTOCOL_VERSION) {
		char why[200];
		snprintf(why, sizeof why,
			 "the peer speaks protocol version %lld, this master %d: use the same mtslurm version for "
			 "master, workers and clients",
			 (long long)v, AUTH_PROTOCOL_VERSION);
		conn_close(c, "protocol", why);
		return;
	}
	if (!role || (strcmp(role, "client") != 0 && strcmp(role, "worker") != 0) || !pn ||
	    strlen(pn) != 64 || !mac) {
		conn_close(c, "protocol", "auth frame needs role (client or worker), a 64-hex-digit nonce and a mac");
		return;
	}
	auth_mac(want, c->key, "peer", role, c->nonce, pn, c->rec);
	if (!auth_mac_equal(want, mac)) {
		conn_close(c, "auth",
			   "authentication failed: wrong cluster key (or the handshake was altered in transit); "
			   "use the key file of this cluster's run directory (--run-dir / MTSLURM_RUN_DIR)");
		return;
	}
	util_strlcpy(c->role, role, sizeof c->role);
	util_strlcpy(c->peer_nonce, pn, sizeof c->peer_nonce);
	auth_mac(smac, c->key, "server", role, pn, c->nonce, c->rec);
	msg *w = msg_new_typed("welcome");
	if (!w || msg_set_int(w, "v", AUTH_PROTOCOL_VERSION) || msg_set_str(w, "mac", smac) ||
	    send_handshake(c, w)) {
		conn_close(c, NULL, "out of memory during handshake");
		return;
	}
	if (become_ready(c))
		return;
	if (c->cb.on_ready)
		c->cb.on_ready(c);
}

/* 1 if sa is a loopback address (127.0.0.0/8, ::1, or ::ffff:127.x.y.z). */
static int addr_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
	}
	return 0;
}

/* t's own (peer 0) or its peer's (1) address; 0 or -1. */
static int sock_addr(const uv_tcp_t *t, int peer, struct sockaddr_storage *ss)
{
	int len = sizeof *ss;
	memset(ss, 0, sizeof *ss);
	int r = peer ? uv_tcp_getpeername(t, (struct sockaddr *)ss, &len)
		     : uv_tcp_getsockname(t, (struct sockaddr *)ss, &len);
	return r == 0 ? 0 : -1;
}

static int sock_is_loopback(const uv_tcp_t *t, int peer)
{
	struct sockaddr_storage ss;
	return sock_addr(t, peer, &ss) == 0 && addr_is_loopback(&ss);
}

int conn_plaintext_allowed(const struct sockaddr_storage *listener, const struct sockaddr_storage *local)
{
	return addr_is_loopback(listener) && addr_is_loopback(local);
}

/* Client: the challenge's version and record protection. "none" is taken
 * only from a master on a loopback address; whatever is taken goes into
 * both MACs, so a changed "rec" fails the handshake. 0, or -1 closing. */
static int check_challenge(struct conn *c, msg *m)
{
	int64_t v = 0;
	const char *rec = msg_get_str(m, "rec");
	char why[300];
	if (msg_get_int(m, "v", &v) || v != AUTH_PROTOCOL_VERSION) {
		snprintf(why, sizeof why,
			 "the master at %s speaks protocol version %lld, this program %d: use the same mtslurm "
			 "version for master, workers and clients",
			 c->peer, (long long)v, AUTH_PROTOCOL_VERSION);
		conn_close(c, NULL, why);
		return -1;
	}
	if (!rec || (strcmp(rec, REC_AEAD) != 0 && strcmp(rec, REC_NONE) != 0)) {
		snprintf(why, sizeof why, "the master at %s offers record protection \"%.40s\"; this program "
			 "knows \"" REC_AEAD "\"", c->peer, rec ? rec : "(none given)");
		conn_close(c, "protocol", why);
		return -1;
	}
	if (strcmp(rec, REC_NONE) == 0 && !sock_is_loopback(&c->tcp, 1)) {
		snprintf(why, sizeof why, "the master at %s offers an unencrypted connection on a non-loopback "
			 "address: refused", c->peer);
		conn_close(c, "protocol", why);
		return -1;
	}
	util_strlcpy(c->rec, rec, sizeof c->rec);
	return 0;
}

/* Client: got challenge or welcome. */
static void handle_client_handshake(struct conn *c, msg *m)
{
	const char *t = msg_type(m);
	if (strcmp(t, "error") == 0) {
		char why[400];
		snprintf(why, sizeof why, "the master refused the connection: %.300s",
			 msg_get_str(m, "msg") ? msg_get_str(m, "msg") : "no reason given");
		conn_close(c, NULL, why);
		return;
	}
	if (!c->peer_nonce[0]) {
		const char *sn = msg_get_str(m, "nonce");
		if (strcmp(t, "challenge") != 0 || !sn || strlen(sn) != 64) {
			conn_close(c, "protocol", "expected a challenge frame from the master");
			return;
		}
		if (check_challenge(c, m))
			return;
		util_strlcpy(c->peer_nonce, sn, sizeof c->peer_nonce);
		char mac[AUTH_HEX_BYTES];
		if (auth_nonce(c->nonce)) {
			conn_close(c, NULL, "cannot get random bytes for the handshake");
			return;
		}
		auth_mac(mac, c->key, "peer", c->role, c->peer_nonce, c->nonce, c->rec);
		msg *a = msg_new_typed("auth");
		if (!a || msg_set_int(a, "v", AUTH_PROTOCOL_VERSION) || msg_set_str(a, "role", c->role) ||
		    msg_set_str(a, "nonce", c->nonce) || msg_set_str(a, "mac", mac) || send_handshake(c, a))
			conn_close(c, NULL, "out of memory during handshake");
		return;
	}
	const char *mac = msg_get_str(m, "mac");
	char want[AUTH_HEX_BYTES];
	auth_mac(want, c->key, "server", c->role, c->nonce, c->peer_nonce, c->rec);
	if (strcmp(t, "welcome") != 0 || !mac || !auth_mac_equal(want, mac)) {
		char why[200];
		snprintf(why, sizeof why,
			 "the process at %s could not prove it holds this cluster's key; is master.json stale?",
			 c->peer);
		conn_close(c, NULL, why);
		return;
	}
	if (become_ready(c))
		return;
	if (c->cb.on_ready)
		c->cb.on_ready(c);
}

/* Open the next whole record into the frame reader. 1: opened; 0: none
 * complete yet; -1: the conn is closing (bad length or authentication). */
static int open_record(struct conn *c)
{
	const char *body;
	size_t body_len, n;
	char why[400];
	int r = frame_reader_next(&c->rin, &body, &body_len);
	if (r == FRAME_AGAIN)
		return 0;
	if (r != FRAME_OK || seal_check_length((uint32_t)body_len, &n) != SEAL_OK) {
		snprintf(why, sizeof why, "record of %u bytes from %s is outside %u..%u: not a record of this protocol",
			 r == FRAME_OK ? (unsigned)body_len : frame_reader_announced(&c->rin), c->peer,
			 SEAL_TAG_BYTES + 1, SEAL_BODY_MAX);
		conn_close(c, "bad_record", why);
		return -1;
	}
	char *p;
	size_t room;
	if (frame_reader_space(&c->rd, n, &p, &room)) {
		conn_close(c, NULL, "out of memory opening a record");
		return -1;
	}
	unsigned long long seq = (unsigned long long)c->rx.seq;
	r = seal_open(&c->rx, (const unsigned char *)body - SEAL_HDR_BYTES, (const unsigned char *)body, body_len,
		      (unsigned char *)p);
	if (r != SEAL_OK) {
		snprintf(why, sizeof why, "record failed authentication: record %llu from %s: %s", seq, c->peer,
			 seal_strerror(r));
		conn_close(c, "bad_record", why);
		return -1;
	}
	frame_reader_commit(&c->rd, n);
	return 1;
}

static void dispatch(struct conn *c)
{
	while (c->st == ST_HANDSHAKE || c->st == ST_READY) {
		if (c->paused) {
			c->need_dispatch = 1;
			return;
		}
		const char *p;
		size_t n;
		int r = frame_reader_next(&c->rd, &p, &n);
		if (r == FRAME_AGAIN) {
			/* Frames decrypted so far are used up: open the next record. */
			if (c->st == ST_READY && c->sealed && open_record(c) > 0)
				continue;
			return;
		}
		if (r != FRAME_OK) {
			char why[160];
			if (r == FRAME_ETOOBIG)
				snprintf(why, sizeof why, "frame of %u bytes exceeds the %zu-byte limit%s",
					 frame_reader_announced(&c->rd), c->rd.max,
					 c->st == ST_READY ? "" : " before authentication");
			else
				snprintf(why, sizeof why, "%s", frame_strerror(r));
			conn_close(c, "bad_frame", why);
			return;
		}
		if (c->st == ST_READY && c->on_frame && c->on_frame(c, p, n))
			continue;
		char jerr[120];
		msg *m = msg_parse(p, n, jerr, sizeof jerr);
		if (!m) {
			conn_close(c, "bad_json", jerr);
			return;
		}
		if (!msg_is_object(m) || !msg_get_str(m, "t")) {
			msg_free(m);
			conn_close(c, "bad_message", "frame is not a JSON object with a string \"t\" member");
			return;
		}
		const char *t = msg_type(m);
		if (strcmp(t, "ping") == 0) {
			msg_free(m);
			if (c->st == ST_READY)
				conn_send(c, msg_new_typed("pong"));
			continue;
		}
		if (strcmp(t, "pong") == 0) {
			msg_free(m);
			continue;
		}
		if (c->st == ST_HANDSHAKE) {
			if (c->server)
				handle_auth(c, m);
			else
				handle_client_handshake(c, m);
			msg_free(m);
			continue;
		}
		c->cb.on_msg(c, m);
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct conn *c = h->data;
	char *p;
	size_t n;
	(void)suggested;
	size_t want = c->st == ST_READY ? 65536 : CONN_HANDSHAKE_FRAME_MAX + FRAME_HDR_BYTES;
	struct frame_reader *into = c->st == ST_READY && c->sealed ? &c->rin : &c->rd;
	if (frame_reader_space(into, want, &p, &n)) {
		*b = uv_buf_init(NULL, 0);
		return;
	}
	if (n > UINT32_MAX)
		n = UINT32_MAX;
	*b = uv_buf_init(p, (unsigned)n);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct conn *c = s->data;
	(void)b;
	if (nread == 0)
		return;
	if (nread < 0) {
		char why[200];
		if (nread == UV_EOF && c->sealed && c->rin.len > c->rin.off)
			snprintf(why, sizeof why, "%s closed the connection in the middle of a record (%zu bytes of it "
				 "received): cut short", c->peer, c->rin.len - c->rin.off);
		else if (nread == UV_EOF)
			snprintf(why, sizeof why, "%s closed the connection", c->peer);
		else if (nread == UV_ENOBUFS)
			snprintf(why, sizeof why, "out of memory reading from %s", c->peer);
		else
			snprintf(why, sizeof why, "read from %s failed: %s", c->peer, uv_strerror((int)nread));
		conn_close(c, NULL, why);
		return;
	}
	frame_reader_commit(c->st == ST_READY && c->sealed ? &c->rin : &c->rd, (size_t)nread);
	c->last_rx_ms = uv_now(c->loop);
	dispatch(c);
}

static void on_tick(uv_timer_t *t)
{
	struct conn *c = t->data;
	uint64_t now = uv_now(c->loop);
	if (c->st == ST_HANDSHAKE || c->st == ST_CONNECTING) {
		if (now - c->started_ms >= c->handshake_ms) {
			char why[160];
			snprintf(why, sizeof why, "handshake with %s did not finish within %u ms", c->peer,
				 c->handshake_ms);
			conn_close(c, c->st == ST_HANDSHAKE ? "timeout" : NULL, why);
		}
		return;
	}
	if (c->st != ST_READY)
		return;
	/* While paused we are the silent one: the peer's pings sit unread. */
	if (!is_reading(c))
		c->last_rx_ms = now;
	if (c->server && c->out_over && now - c->last_tx_ms >= c->stall_ms) {
		char why[200];
		snprintf(why, sizeof why, "%s read nothing for %.1f s with %zu bytes queued for it (limit %zu)",
			 c->peer, (double)(now - c->last_tx_ms) / 1000, c->out.len + c->wbuf.len, c->out_hwm);
		conn_close(c, NULL, why);
		return;
	}
	if (c->idle_ms && now - c->last_rx_ms >= c->idle_ms) {
		char why[160];
		snprintf(why, sizeof why, "%s silent for %.1f s (heartbeat timeout)", c->peer,
			 (double)(now - c->last_rx_ms) / 1000);
		conn_close(c, "timeout", why);
		return;
	}
	if (c->ping_ms && now - c->last_ping_ms >= c->ping_ms) {
		c->last_ping_ms = now;
		conn_send(c, msg_new_typed("ping"));
	}
}

static struct conn *conn_alloc(uv_loop_t *loop, const struct conn_opts *o, const struct conn_cb *cb,
			       void *data)
{
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->loop = loop;
	frame_reader_init(&c->rd, CONN_HANDSHAKE_FRAME_MAX);
	frame_reader_init(&c->rin, SEAL_BODY_MAX);
	util_strlcpy(c->rec, REC_AEAD, sizeof c->rec);
	c->max_frame = o->max_frame ? o->max_frame : FRAME_MAX_DEFAULT;
	buf_init(&c->out);
	buf_init(&c->wbuf);
	memcpy(c->key, o->key, AUTH_KEY_BYTES);
	if (o->role)
		util_strlcpy(c->role, o->role, sizeof c->role);
	c->ping_ms = o->ping_ms;
	c->idle_ms = o->idle_ms;
	c->handshake_ms = o->handshake_ms ? o->handshake_ms : 10000;
	c->out_hwm = o->out_hwm ? o->out_hwm : CONN_OUT_HWM_DEFAULT;
	c->stall_ms = o->stall_ms ? o->stall_ms : CONN_STALL_MS_DEFAULT;
	c->cb = *cb;
	c->data = data;
	uv_tcp_init(loop, &c->tcp);
	uv_timer_init(loop, &c->timer);
	uv_prepare_init(loop, &c->flusher);
	c->tcp.data = c->timer.data = c->flusher.data = c;
	c->started_ms = c->last_rx_ms = c->last_ping_ms = uv_now(loop);
	return c;
}

static unsigned tick_ms(const struct conn *c)
{
	unsigned t = 1000;
	if (c->ping_ms && c->ping_ms / 2 < t)
		t = c->ping_ms / 2;
	if (c->idle_ms && c->idle_ms / 4 < t)
		t = c->idle_ms / 4;
	if (c->handshake_ms / 4 < t)
		t = c->handshake_ms / 4;
	return t < 20 ? 20 : t;
}

static void fill_peer(struct conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof ss;
	char ip[64] = "?";
	int port = 0;
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		}
	}
	snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
}

int conn_accept(struct conn **out, uv_stream_t *server, const struct conn_opts *o,
		const struct conn_cb *cb, void *data)
{
	struct conn *c = conn_alloc(server->loop, o, cb, data);
	if (!c)
		return UV_ENOMEM;
	int r = uv_accept(server, (uv_stream_t *)&c->tcp);
	if (r == 0 && auth_nonce(c->nonce) != 0)
		r = UV_EIO;
	if (r < 0) {
		/* No callbacks on a failed accept: close quietly. */
		c->cb.on_close = NULL;
		util_strlcpy(c->why, "accept failed", sizeof c->why);
		conn_finish(c);
		return r;
	}
	c->server = 1;
	c->st = ST_HANDSHAKE;
	fill_peer(c);
	/* Bound unauthenticated peers: a genuine one finishes in one round
	 * trip, so the oldest is the likeliest to be stuck or hostile. */
	unsigned max_hs = o->max_handshakes ? o->max_handshakes : CONN_HANDSHAKES_MAX;
	while (hs_count >= max_hs && hs_head) {
		char why[200];
		snprintf(why, sizeof why,
			 "%u connections are in the handshake (limit %u): dropped the oldest, from %s",
			 hs_count, max_hs, hs_head->peer);
		conn_close(hs_head, "busy", why);
	}
	hs_add(c);
	uv_tcp_nodelay(&c->tcp, 1);
	/* Plaintext only when asked for and nothing beyond this machine can
	 * reach the listener: a master bound to 0.0.0.0 always seals, even
	 * for a peer that came in over 127.0.0.1. */
	const char *plain = getenv(PLAINTEXT_ENV);
	struct sockaddr_storage la, ca;
	if (plain && strcmp(plain, "1") == 0 && sock_addr((uv_tcp_t *)server, 0, &la) == 0 &&
	    sock_addr(&c->tcp, 0, &ca) == 0 && conn_plaintext_allowed(&la, &ca))
		util_strlcpy(c->rec, REC_NONE, sizeof c->rec);
	msg *ch = msg_new_typed("challenge");
	if (!ch || msg_set_int(ch, "v", AUTH_PROTOCOL_VERSION) || msg_set_str(ch, "nonce", c->nonce) ||
	    msg_set_str(ch, "rec", c->rec) || send_handshake(c, ch) ||
	    (r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) < 0) {
		c->cb.on_close = NULL;
		conn_finish(c);
		return r < 0 ? r : UV_ENOMEM;
	}
	uv_timer_start(&c->timer, on_tick, tick_ms(c), tick_ms(c));
	*out = c;
	return 0;
}

static void on_connect(uv_connect_t *req, int status)
{
	struct conn *c = req->data;
	if (c->st == ST_CLOSING)
		return; /* closed while connecting; the close callbacks finish */
	if (status < 0) {
		char why[200];
		snprintf(why, sizeof why, "cannot connect to the master at %s: %s", c->peer, uv_strerror(status));
		set_why(c, why);
		conn_finish(c);
		return;
	}
	c->st = ST_HANDSHAKE;
	c->started_ms = c->last_rx_ms = uv_now(c->loop);
	uv_tcp_nodelay(&c->tcp, 1);
	int r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (r < 0) {
		char why[200];
		snprintf(why, sizeof why, "cannot read from %s: %s", c->peer, uv_strerror(r));
		conn_close(c, NULL, why);
	}
}

int conn_connect(struct conn **out, uv_loop_t *loop, const char *host, int port,
		 const struct conn_opts *o, const struct conn_cb *cb, void *data)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
		struct addrinfo hints, *res = NULL;
		memset(&hints, 0, sizeof hints);
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
			return UV_EAI_NONAME;
		memcpy(&ss, res->ai_addr, res->ai_addrlen);
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		else
			((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		freeaddrinfo(res);
	}
	struct conn *c = conn_alloc(loop, o, cb, data);
	if (!c)
		return UV_ENOMEM;
	snprintf(c->peer, sizeof c->peer, "%s:%d", host, port);
	c->st = ST_CONNECTING;
	c->creq.data = c;
	int r = uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&ss, on_connect);
	if (r < 0) {
		c->cb.on_close = NULL;
		c->st = ST_HANDSHAKE; /* not connecting: nothing pending */
		conn_finish(c);
		return r;
	}
	uv_timer_start(&c->timer, on_tick, tick_ms(c), tick_ms(c));
	*out = c;
	return 0;
}

void conn_pause(struct conn *c)
{
	if (!c || c->paused || c->st == ST_CLOSING)
		return;
	int was = is_reading(c);
	c->paused = 1;
	if (c->st == ST_READY)
		update_reading(c, was);
	else
		uv_read_stop((uv_stream_t *)&c->tcp);
}

void conn_resume(struct conn *c)
{
	if (!c || !c->paused || c->st == ST_CLOSING)
		return;
	int was = c->st == ST_READY ? is_reading(c) : 0;
	c->paused = 0;
	c->last_rx_ms = uv_now(c->loop); /* we were not listening: not the peer's silence */
	if (c->st == ST_READY)
		update_reading(c, was);
	else
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (c->need_dispatch)
		arm_flush(c); /* deliver buffered frames from the loop, not from our caller */
}

size_t conn_out_bytes(const struct conn *c) { return c ? c->out.len + c->wbuf.len : 0; }
int conn_out_over(const struct conn *c) { return c && c->out_over; }
void conn_set_on_drain(struct conn *c, void (*fn)(struct conn *c))
{
	if (c)
		c->on_drain = fn;
}
const char *conn_role(const struct conn *c) { return c ? c->role : ""; }
const char *conn_peer(const struct conn *c) { return c ? c->peer : ""; }
int conn_is_ready(const struct conn *c) { return c && c->st == ST_READY; }
void *conn_data(const struct conn *c) { return c ? c->data : NULL; }
void conn_set_data(struct conn *c, void *data)
{
	if (c)
		c->data = data;
}
