/* SPDX-License-Identifier: MIT */
/*
 * hclient: an asynchronous HTTP client on a libuv loop, for the master's
 * outgoing calls (the gateway forwarding a job to an HTTP endpoint, proxying
 * a registered app, calling a node agent). It drives libcurl's multi
 * interface from the loop (curl_multi_socket_action: one uv_poll_t per
 * socket curl opens, one uv_timer_t for curl's timeouts), so a slow or dead
 * endpoint never blocks the loop: many calls run at once and each ends in
 * exactly one callback. It knows nothing about jobs; callers build the body
 * and parse the reply.
 *
 * What a call does (docs/hclient.md): one HTTP request to an http:// or
 * https:// URL, no redirects followed (a 3xx is handed back as it is), no
 * signals. Each attempt has a whole-call timeout and a connect timeout.
 * Failed attempts are retried after a backoff on a uv timer (never a sleep)
 * when a retry cannot do harm the first attempt did not already risk: HTTP
 * 5xx, a connection that could not be made or broke (refused, unresolvable,
 * reset, closed without an answer), and a timeout before the request was
 * sent. A timeout after the request was sent is not retried: the endpoint
 * may still be working on it, and a retry could run it twice and multiply
 * the wait. Responses are capped (max_response_b) and never retried when
 * over the cap. Nothing here logs: every failure is a one-line error in the
 * result.
 *
 * Lifecycle: hclient_new() on a loop; hclient_request() any number of times;
 * hclient_close() cancels what is still running and frees everything from
 * the loop. Not thread-safe: use an hclient only on its loop's thread.
 *
 *   static void done(void *arg, const struct hclient_res *r)
 *   {
 *       if (r->http_ok && r->status == 200) use(r->body, r->len);
 *       else report(r->error ? r->error : "unexpected status");
 *   }
 *   struct hclient_opts o = HCLIENT_OPTS_INIT;
 *   o.timeout_s = 5;
 *   hclient_request(h, "http://127.0.0.1:9000/run", json, strlen(json), &o, done, job);
 */
#ifndef MTS_HCLIENT_H
#define MTS_HCLIENT_H

#include <stddef.h>
#include <uv.h>

/* Defaults of struct hclient_opts (HCLIENT_OPTS_INIT, or NULL options). */
#define HCLIENT_TIMEOUT_S_DEFAULT 60.0
#define HCLIENT_CONNECT_TIMEOUT_S_DEFAULT 10.0
#define HCLIENT_RETRIES_DEFAULT 2u
#define HCLIENT_BACKOFF_S_DEFAULT 0.2
#define HCLIENT_MAX_RESPONSE_B_DEFAULT ((size_t)16 << 20)
/* The backoff doubles per retry up to this. */
#define HCLIENT_BACKOFF_S_MAX 5.0
/* At most this many connections to one host at once; more calls to it wait
 * inside curl for a free connection. The wait counts against their
 * timeout_s, which curl enforces when a connection frees up (a call queued
 * behind 256 hung ones fails soon after they time out). Bounds the
 * descriptors a flood of calls can take. */
#define HCLIENT_HOST_CONNECTIONS_MAX 256

struct hclient;
struct hclient_call;

/* Options of one call, copied by hclient_request() (the strings too). A zero
 * double or size field takes its default, so a designated initializer that
 * names only what it changes works; retries is taken literally (0: no
 * retry), so start from HCLIENT_OPTS_INIT to get the default 2. */
struct hclient_opts {
	const char *method;          /* "GET" "POST" "PUT" "DELETE" "PATCH"; NULL: POST */
	const char *const *headers;  /* "Name: value" strings, NULL-terminated; may be NULL */
	const char *bearer;          /* non-empty: adds "Authorization: Bearer <bearer>" */
	double timeout_s;            /* the whole attempt, connect included; 0: 60 */
	double connect_timeout_s;    /* 0: 10 */
	unsigned retries;            /* extra attempts after a retryable failure (above) */
	double backoff_s;            /* first retry delay, doubling, capped at 5 s; 0: 0.2 */
	size_t max_response_b;       /* larger response bodies fail the call; 0: 16 MiB */
	/* For an https:// URL, the certificates to trust INSTEAD of the system's
	 * store: ca_pem (PEM text) or else ca_file (a PEM file's path), e.g. the
	 * cluster's RUN_DIR/tls.crt for its own services. NULL (both): the
	 * system's store. The peer's certificate is always verified; there is
	 * no way to turn that off. Ignored for http://. */
	const char *ca_pem;
	const char *ca_file;
	/* 1: the peer is a service of this cluster (a node agent, a worker, the
	 * master), identified by the certificate alone: it must present the
	 * one of ca_pem/ca_file -- a self-signed certificate whose key only the
	 * cluster holds -- and its host name is not checked, because a node
	 * serves under its own name, which the certificate the master made
	 * need not list. Only with ca_pem or ca_file; 0: the host name is
	 * checked too (any other service). */
	int cluster_peer;
};

#define HCLIENT_OPTS_INIT                                                                  \
	{                                                                                  \
		.method = "POST", .timeout_s = HCLIENT_TIMEOUT_S_DEFAULT,                   \
		.connect_timeout_s = HCLIENT_CONNECT_TIMEOUT_S_DEFAULT,                     \
		.retries = HCLIENT_RETRIES_DEFAULT, .backoff_s = HCLIENT_BACKOFF_S_DEFAULT, \
		.max_response_b = HCLIENT_MAX_RESPONSE_B_DEFAULT                           \
	}

/* What a call ended with; every pointer in it is borrowed for the duration
 * of the callback only (copy what you keep). */
struct hclient_res {
	int http_ok;              /* 1: a whole HTTP response was received (any status) */
	long status;              /* its status line's code; 0 when none came (it may be set
	                           * with !http_ok: a status line, then a body over the cap) */
	const char *body;         /* never NULL, NUL-terminated; "" unless http_ok */
	size_t len;               /* bytes in body, not counting the NUL */
	const char *content_type; /* the response's Content-Type, or "" */
	/* One line, no newline, when !http_ok or status >= 500 (after the last
	 * retry), else NULL. E.g. "timed out after 60 s", "cannot connect:
	 * Failed to connect to 127.0.0.1 port 9 ...: Couldn't connect to server
	 * (3 attempts)", "HTTP 503 (3 attempts)", "response larger than 16777216
	 * bytes (max_response_b)", "not an HTTP response: ...". */
	const char *error;
	unsigned attempts;        /* attempts made; 0 if the request was refused before any */
	double elapsed_s;         /* from hclient_request() to this callback, retries included */
};

/* Called exactly once per call that hclient_request() returned, always from
 * the loop (never from inside hclient_request()), unless the call was
 * cancelled (hclient_cancel(), hclient_close()). The call handle is invalid
 * once the callback returns. The callback may start new calls, cancel other
 * calls, and close the hclient. */
typedef void (*hclient_cb)(void *arg, const struct hclient_res *r);

/* A new client on loop. Initializes libcurl once per process (thread-safe).
 * Returns NULL with a one-line reason in err (n bytes) if libcurl cannot be
 * initialized or memory runs out. Owns nothing of the loop's; the loop must
 * outlive hclient_close()'s on_closed. */
struct hclient *hclient_new(uv_loop_t *loop, char *err, size_t n);

/* Cancel every call still running or waiting to retry -- their callbacks are
 * NOT called -- close every uv handle and connection of h, free h, then call
 * on_closed(arg) from the loop (the loop must run for that). h is invalid
 * as soon as this returns. NULL h: nothing happens (on_closed not called);
 * a second close of the same h is a caller bug. on_closed may be NULL. Safe
 * from inside an hclient callback. */
void hclient_close(struct hclient *h, void (*on_closed)(void *arg), void *arg);

/* Start one call: method o->method to url with body (len bytes, may be NULL
 * with len 0; GET and DELETE send it only when len > 0). url, body, headers
 * and bearer are copied. A request with a body and no Content-Type header
 * goes as "Content-Type: application/json" (curl's form default never fits
 * what the master sends). NULL o: HCLIENT_OPTS_INIT.
 *
 * Returns the call handle, valid until its callback returns or it is
 * cancelled; cb(arg, result) follows exactly once, later, from the loop.
 * Returns NULL -- and cb is never called -- only when it cannot start at all:
 * h, url or cb NULL, body NULL with len > 0, h closing, or out of memory
 * (libcurl refusing an option counts as that). Bad arguments that can be
 * reported (a URL that is not http:// or https://, an unknown method, a
 * header with a line break or without "Name:", a negative timeout) come to
 * cb as an error with attempts 0. */
struct hclient_call *hclient_request(struct hclient *h, const char *url, const void *body, size_t len,
				     const struct hclient_opts *o, hclient_cb cb, void *arg);

/* Stop a call and free it; its callback is not called. A connection it had
 * open is closed (never reused half-read). NULL, or a call whose callback is
 * running: nothing happens. A call whose callback has returned is gone:
 * cancelling it is a use after free. */
void hclient_cancel(struct hclient_call *c);

/* Calls started and not yet called back or cancelled (0 for NULL). */
size_t hclient_pending(const struct hclient *h);

#endif
