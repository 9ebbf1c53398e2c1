/* SPDX-License-Identifier: MIT */
/*
 * httpd: an HTTP/1.1 server (libmicrohttpd) on the caller's libuv loop, for
 * the JSON endpoints, the dashboard page and Server-Sent Events of master,
 * node agents and workers. It knows nothing of jobs: it authenticates every
 * request against one API token, reads the body (bounded), hands each
 * complete request to one callback on the loop thread, and sends the reply
 * it is given then or in any later loop turn. docs/http.md describes what
 * a client sees (auth, limits, timeouts, SSE, error bodies).
 *
 * Usage:
 *
 *   static void on_request(struct httpd_req *r, void *arg)
 *   {
 *           if (strcmp(httpd_req_method(r), "GET") == 0)
 *                   httpd_reply(r, 200, "application/json", "{}", 2);
 *           else
 *                   keep r, answer it after the disk sync with httpd_reply()
 *   }
 *   struct httpd_config cfg = {.token = token, .on_request = on_request};
 *   if (httpd_start(&h, loop, &cfg, err, sizeof err) < 0) ...report err...
 *   ... httpd_port(h) ...
 *   httpd_stop(h, on_stopped, arg);   on_stopped: every handle is closed
 *
 * Ownership: every request handed to on_request stays valid until it is
 * answered, exactly once, by httpd_reply(), httpd_reply_error() or
 * httpd_stream_open() -- also when its client has gone (on_gone tells that
 * early; the answer then only frees it) and also after httpd_stop(). Strings
 * returned by the accessors are borrowed until that answer. Strings and
 * bodies passed in are copied.
 *
 * Not thread-safe: call everything on the loop's thread. No threads are
 * started; nothing here blocks the loop (the one blocking call is the
 * getaddrinfo() of the configured host in httpd_start()). With TLS
 * (tls_cert_pem, tls_key_pem) everything above is the same over HTTPS;
 * libmicrohttpd does the TLS (GnuTLS), a plain-HTTP request to the port
 * fails the handshake and is closed unanswered. Library code: it
 * never prints; errors come back as one line of text in err.
 */
#ifndef MTS_HTTPD_H
#define MTS_HTTPD_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define HTTPD_HOST_DEFAULT "127.0.0.1"
#define HTTPD_MAX_BODY_DEFAULT ((size_t)16 << 20)
#define HTTPD_TIMEOUT_S_DEFAULT 30
#define HTTPD_CONNECTIONS_DEFAULT 2048
/* Bytes of events queued for one SSE client before the stream is dropped. */
#define HTTPD_STREAM_MAX_DEFAULT ((size_t)1 << 20)

struct httpd;
struct httpd_req;
struct httpd_stream;

/* One complete, authenticated request (headers and whole body). */
typedef void (*httpd_request_fn)(struct httpd_req *r, void *arg);
/* The client of an unanswered request has disconnected (or httpd_stop()
 * closed it). r must still be answered once; the answer only frees it. */
typedef void (*httpd_gone_fn)(struct httpd_req *r, void *arg);
/* A stream has ended (client gone, dropped as too slow, closed, or
 * httpd_stop()); s is freed when this returns. */
typedef void (*httpd_stream_end_fn)(struct httpd_stream *s, void *arg);

struct httpd_config {
	const char *host;         /* numeric address or name; NULL/"": HTTPD_HOST_DEFAULT */
	int port;                 /* 0: an ephemeral port (httpd_port()) */
	const char *token;        /* API token, required and non-empty; copied */
	size_t max_body_bytes;    /* 0: HTTPD_MAX_BODY_DEFAULT; larger bodies get 413 */
	unsigned timeout_s;       /* idle connection timeout; 0: HTTPD_TIMEOUT_S_DEFAULT */
	unsigned max_connections; /* 0: HTTPD_CONNECTIONS_DEFAULT */
	size_t stream_max_bytes;  /* per SSE client; 0: HTTPD_STREAM_MAX_DEFAULT */
	httpd_request_fn on_request; /* required */
	httpd_gone_fn on_gone;       /* optional */
	void *arg;                   /* passed to on_request and on_gone */
	/* HTTPS: both PEM texts (a certificate, its chain after it if any, and
	 * its private key; copied), or both NULL for plain HTTP. A key that is
	 * not the certificate's, or text that is not PEM, fails httpd_start(). */
	const char *tls_cert_pem;
	const char *tls_key_pem;
};

struct httpd_stats {
	unsigned connections;  /* open TCP connections */
	unsigned suspended;    /* requests waiting for an answer or an SSE event */
	unsigned streams;      /* open SSE streams */
	uint64_t requests;     /* handed to on_request since the start */
	uint64_t rejected;     /* answered 401 or 413 without on_request */
	uint64_t runs;         /* MHD_run calls (a busy loop shows here) */
};

/* Listen on cfg->host:cfg->port and serve on loop. 0, or -1 with a one-line
 * reason in err (bad config, address in use, ...), nothing left open. */
int httpd_start(struct httpd **out, uv_loop_t *loop, const struct httpd_config *cfg, char *err,
		size_t errlen);
/* The bound port (the ephemeral one when cfg->port was 0). */
int httpd_port(const struct httpd *h);
void httpd_stats(const struct httpd *h, struct httpd_stats *st);
/* Close the listener and every connection, now (or, called from inside a
 * callback of this server, right after it returns): on_gone fires for
 * unanswered requests and the end callback for each stream, synchronously.
 * on_stopped(arg) fires from the loop once every uv handle of this server
 * is closed; h is freed then. A second call is ignored. on_stopped may be
 * NULL. */
void httpd_stop(struct httpd *h, void (*on_stopped)(void *arg), void *arg);

/* Request accessors; strings are borrowed until r is answered. */
const char *httpd_req_method(const struct httpd_req *r); /* "GET" */
/* The URL path, %-decoded, without the query string and without the token
 * segment: "/TOKEN/submit_job?x=1" gives "/submit_job", "/TOKEN" gives "/". */
const char *httpd_req_path(const struct httpd_req *r);
/* A query parameter, URL-decoded; "" for "?key" with no value; NULL if
 * absent. The first of repeated keys. */
const char *httpd_req_query(const struct httpd_req *r, const char *key);
/* A request header by name (case-insensitive); NULL if absent. */
const char *httpd_req_header(const struct httpd_req *r, const char *name);
/* The body (a NUL-terminated copy, "" when empty); len may be NULL. */
const char *httpd_req_body(const struct httpd_req *r, size_t *len);
void *httpd_req_data(const struct httpd_req *r);
void httpd_req_set_data(struct httpd_req *r, void *data);
/* 1 once the client is known to have gone. */
int httpd_req_gone(const struct httpd_req *r);

/* Answer r with status and body (copied), inside on_request or in any later
 * loop turn; content_type NULL means "application/json". Exactly once per
 * request: r is consumed (freed now or when sent) and must not be used
 * again. 0, or -1 if the client is gone or memory ran out (r is consumed
 * all the same). Keep-alive is kept unless the request said otherwise. */
int httpd_reply(struct httpd_req *r, unsigned status, const char *content_type, const void *body,
		size_t len);
/* httpd_reply() with the JSON body {"detail":"TEXT"} (FastAPI's error shape,
 * which mindtrace clients parse); TEXT is formatted like printf. */
int httpd_reply_error(struct httpd_req *r, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Answer r with 200 text/event-stream (Cache-Control: no-cache) and return
 * the stream, which stays valid until on_end(s, arg) has returned. r is
 * consumed. NULL if the client is gone or memory ran out (r is consumed;
 * on_end never fires). */
struct httpd_stream *httpd_stream_open(struct httpd_req *r, httpd_stream_end_fn on_end, void *arg);
/* Queue one event: "event: NAME" (NAME NULL or "": none) and one "data:"
 * line per line of data. A client that does not read cannot grow memory:
 * when its queue would pass stream_max_bytes the stream is dropped (its
 * connection closed, on_end follows) rather than losing events silently,
 * so an EventSource reconnects and reloads whole state. 0, or -1 if the
 * stream is closing, was dropped, or the name has a line break. */
int httpd_stream_send(struct httpd_stream *s, const char *event, const char *data);
/* Bytes queued and not yet handed to the connection. */
size_t httpd_stream_queued(const struct httpd_stream *s);
/* End the stream after what is queued has been sent; on_end follows. */
void httpd_stream_close(struct httpd_stream *s);

#endif
