/* SPDX-License-Identifier: MIT */
/*
 * conn: one authenticated, encrypted, framed, JSON-message TCP connection on
 * a libuv loop. Master, workers and the client library all talk through it,
 * so the handshake, the record layer, framing limits, batching of writes,
 * heartbeats and the rule "a bad frame closes only this connection, with an
 * error frame first" live in one place.
 *
 * Lifecycle: conn_accept()/conn_connect() create it; the handshake runs (see
 * auth.h and docs/protocol.md); from its end every byte either way travels
 * in AES-256-GCM records keyed from the cluster key and both nonces (seal.h),
 * and a record that fails authentication closes the connection ("record
 * failed authentication: ..."). The one exception: a server whose listener
 * and connection are both on a loopback address, with
 * MTSLURM_BENCH_PLAINTEXT=1 in its environment, offers "none" (a
 * benchmarking knob; the choice is under both handshake MACs, and a client
 * takes "none" only from a loopback address). on_ready fires once; then every received
 * message goes to on_msg; on_close fires exactly once, however the connection
 * ended (peer gone, bad frame, timeout, conn_close()), and the conn is freed
 * right after on_close returns. If conn_connect() itself fails synchronously
 * it returns an error and no callback is ever called (libuv's rule).
 *
 * Writes are batched: conn_send() appends to an output buffer that is written
 * in one uv_write in the loop's next prepare phase, before the loop can block
 * in poll. So many sends in one loop turn become one system call, and a send
 * made from a check callback (e.g. after a group commit) still goes out
 * before the loop sleeps.
 *
 * Heartbeats: with ping_ms > 0 a ready conn sends {"t":"ping"} that often.
 * Pings are answered and pongs swallowed here; the application never sees
 * them. With idle_ms > 0 a conn that has received nothing for idle_ms closes
 * itself ("peer silent for ...").
 *
 * Not thread-safe: use a conn only on its loop's thread.
 */
#ifndef MTS_CONN_H
#define MTS_CONN_H

#include <stddef.h>
#include <uv.h>

#include "auth.h"
#include "msg.h"

/* Limits for peers that have not proved they hold the key (docs/protocol.md,
 * "Limits"): a frame before authentication is at most 4 KiB (the largest
 * handshake frame is ~250 bytes), and a server keeps at most
 * CONN_HANDSHAKES_MAX connections in the handshake per thread, dropping the
 * oldest when a new one arrives; each has handshake_ms to finish. */
#define CONN_HANDSHAKE_FRAME_MAX 4096
#define CONN_HANDSHAKES_MAX 512

/* Output backpressure (docs/protocol.md, "Limits"): above out_hwm bytes
 * queued for a peer, conn_out_over() is 1 so the owner stops producing for
 * it, and a server-side conn stops reading the peer's requests; at half of
 * it on_drain fires and reading resumes. A server-side peer that reads
 * nothing for stall_ms while over the mark is disconnected. */
#define CONN_OUT_HWM_DEFAULT (8u << 20)
#define CONN_STALL_MS_DEFAULT 60000

struct conn;

struct conn_cb {
	/* Handshake finished; conn_role() is now known. */
	void (*on_ready)(struct conn *c);
	/* One message; the callee owns m and must msg_free() it. Never called
	 * after conn_close() or before on_ready. */
	void (*on_msg)(struct conn *c, msg *m);
	/* The connection is gone; why is a one-line reason (borrowed). */
	void (*on_close)(struct conn *c, const char *why);
};

struct conn_opts {
	const unsigned char *key; /* AUTH_KEY_BYTES, copied */
	const char *role;         /* client side: "client" or "worker" */
	size_t max_frame;         /* after the handshake; 0: FRAME_MAX_DEFAULT */
	unsigned ping_ms;         /* 0: no pings */
	unsigned idle_ms;         /* 0: no idle timeout */
	unsigned handshake_ms;    /* 0: 10 s */
	unsigned max_handshakes;  /* server side; 0: CONN_HANDSHAKES_MAX */
	size_t out_hwm;           /* 0: CONN_OUT_HWM_DEFAULT */
	unsigned stall_ms;        /* server side; 0: CONN_STALL_MS_DEFAULT */
};

/* Accept a pending connection on a listening stream and start the server side
 * of the handshake. Returns 0, or a negative libuv error code (no callbacks). */
int conn_accept(struct conn **out, uv_stream_t *server, const struct conn_opts *o,
		const struct conn_cb *cb, void *data);

/* Connect to host:port (numeric IPv4/IPv6 or a name resolved synchronously with
 * getaddrinfo) and run the client side of the handshake. Returns 0 and later
 * on_ready or on_close, or a negative libuv code with no callback. */
int conn_connect(struct conn **out, uv_loop_t *loop, const char *host, int port,
		 const struct conn_opts *o, const struct conn_cb *cb, void *data);

/* Optional hook (NULL, the default: every frame goes to on_msg): from now
 * on each frame's JSON bytes (borrowed) come to fn before they are parsed,
 * once the conn is ready. fn returns 1 if it handled the frame from its
 * bytes (the hot frames, read with jscan.h), 0 for any other (pings too) to
 * have it parsed and given to on_msg as usual, which also reports a
 * malformed frame as it always did. */
void conn_set_on_frame(struct conn *c, int (*fn)(struct conn *c, const char *json, size_t n));

/* Queue one message. Takes ownership of m (freed here, also on failure).
 * Returns 0, or -1 if the conn is not ready (connecting, in the handshake:
 * nothing of the application's may cross the wire unsealed), closing, or
 * out of memory. */
int conn_send(struct conn *c, msg *m);
/* Queue one frame whose payload is already serialized JSON (copied). */
int conn_send_json(struct conn *c, const char *json, size_t n);

/* Queue bytes exactly as given, with no frame header (pre-built frames, or
 * malformed ones from test peers); they are sealed like any others. 0 or -1
 * (as conn_send). */
int conn_send_bytes(struct conn *c, const void *data, size_t n);

/* Close. If code is non-NULL, first send {"t":"error","code":code,"msg":why}.
 * on_close(c, why or "closed") follows from the loop. Safe to call twice and
 * from inside on_msg. */
void conn_close(struct conn *c, const char *code, const char *why);

/* Stop / restart reading (backpressure). Frames already buffered are held
 * while paused and delivered after conn_resume(). */
void conn_pause(struct conn *c);
void conn_resume(struct conn *c);

/* Bytes queued for writing and not yet written. */
size_t conn_out_bytes(const struct conn *c);
/* 1 from when the queued output exceeds the high-water mark until it has
 * fallen to half of it (on_drain then fires); 0 for NULL. */
int conn_out_over(const struct conn *c);
/* Call fn (from the loop) each time the output queue falls from above the
 * high-water mark to half of it: produce for this peer again. NULL: none. */
void conn_set_on_drain(struct conn *c, void (*fn)(struct conn *c));

const char *conn_role(const struct conn *c); /* "client", "worker" or "" */
const char *conn_peer(const struct conn *c); /* "127.0.0.1:40512" */
int conn_is_ready(const struct conn *c);
void *conn_data(const struct conn *c);
/* Whether the benchmarking knob may leave a connection unencrypted: only
 * when the listener's address and the connection's own address are both
 * loopback (a listener on 0.0.0.0 reaches beyond this machine even for a
 * peer that came over 127.0.0.1). A pure function of the two addresses. */
struct sockaddr_storage;
int conn_plaintext_allowed(const struct sockaddr_storage *listener, const struct sockaddr_storage *local);
void conn_set_data(struct conn *c, void *data);

#endif
