/* SPDX-License-Identifier: MIT */
/*
 * httpd: libmicrohttpd (MHD) in external-event mode on a libuv loop.
 *
 * Why epoll and not MHD's fdset interface: with epoll MHD keeps one epoll
 * set of its own whose single descriptor we watch with one uv_poll_t, so the
 * loop's cost does not grow with the number of connections and there is no
 * FD_SETSIZE (1024) ceiling, which the 2048-connection default would pass.
 * A uv_timer_t armed from MHD_get_timeout() after every MHD_run() drives
 * MHD's idle timeouts and its "data already pending" re-runs (timeout 0).
 * MHD_run() never blocks in this mode (it waits 0 ms). No threads.
 *
 * A request is answered later by suspending its connection (MHD leaves a
 * suspended connection out of its epoll set and its timeouts) and resuming
 * it when the owner answers; MHD then calls the access handler again, which
 * queues the stored response. MHD does not see a suspended connection's
 * client go away, so while suspended each connection's socket is watched by
 * a uv_poll_t for a hang-up; one resumes it to let MHD close it and tells
 * the owner (on_gone). SSE streams use a chunked callback response whose
 * reader suspends the connection when the stream's queue is empty.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "buf.h"
#include "httpd.h"
#include "util.h"

/* One header or query parameter: offsets of NUL-terminated strings in
 * req->strs (offsets survive the buffer's reallocation). */
struct kv {
	int header; /* 1: header, 0: query parameter */
	size_t key, val;
};

/* Watches a suspended connection's socket for the client hanging up. */
struct watch {
	uv_poll_t poll;
	struct httpd *h;
	struct httpd_req *r; /* NULL once stopped */
};

struct httpd_req {
	struct httpd *h;
	struct MHD_Connection *conn;   /* NULL once MHD is done with it */
	struct httpd_req *prev, *next; /* h->live, while conn != NULL */
	struct buf body;
	struct buf strs; /* method, path, then keys and values */
	size_t path_off;
	struct kv *kv;
	size_t nkv, kvcap;
	void *data;
	struct MHD_Response *resp; /* the answer, until queued */
	unsigned status;
	struct httpd_stream *stream;
	struct watch *watch;
	unsigned handed : 1;    /* on_request has seen it */
	unsigned answered : 1;  /* httpd_reply or httpd_stream_open called */
	unsigned gone : 1;      /* client known to have gone */
	unsigned gone_told : 1; /* on_gone called */
	unsigned suspended : 1;
	unsigned oom : 1;       /* copying headers ran out of memory */
};

struct httpd_stream {
	struct httpd_req *r;
	struct buf q; /* events not yet handed to MHD, from q.p + off */
	size_t off;
	httpd_stream_end_fn on_end;
	void *arg;
	unsigned closing : 1, dropped : 1;
};

struct httpd {
	uv_loop_t *loop;
	struct MHD_Daemon *d;
	uv_poll_t poll; /* MHD's epoll descriptor */
	uv_timer_t timer;
	int port;
	char *token;
	size_t token_len;
	char *tls_cert, *tls_key; /* PEM copies (TLS), or NULL */
	size_t max_body, stream_max;
	httpd_request_fn on_request;
	httpd_gone_fn on_gone;
	void *arg;
	struct httpd_req *live; /* requests MHD still holds */
	struct httpd_stats st;
	int in_run, kick;
	unsigned zero_runs; /* MHD timeouts of 0 in a row without an event */
	int stop_requested, stop_pending, stopped;
	unsigned handles; /* uv handles not yet closed */
	void (*on_stopped)(void *arg);
	void *stopped_arg;
	char mhd_err[256];
};

static const char auth_detail[] =
	"{\"detail\":\"missing or wrong API token: send the header 'Authorization: Bearer TOKEN' or "
	"put the token first in the path (http://HOST:PORT/TOKEN/...); the token is in RUN_DIR/token\"}";

static void httpd_run(struct httpd *h);
static void httpd_shutdown(struct httpd *h);

/* ---- the loop side: run MHD when its epoll set or its timer says so ---- */

static void on_timer(uv_timer_t *t) { httpd_run(t->data); }

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct httpd *h = p->data;
	h->zero_runs = 0;
	httpd_run(h);
}

/* Make MHD run soon: after the current MHD_run() when inside one (MHD must
 * not be re-entered), else in the loop's next turn. */
static void httpd_kick(struct httpd *h)
{
	if (h->stopped)
		return;
	if (h->in_run)
		h->kick = 1;
	else
		uv_timer_start(&h->timer, on_timer, 0, 0);
}

static void httpd_run(struct httpd *h)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (h->stopped)
		return;
	h->in_run = 1;
	h->kick = 0;
	h->st.runs++;
	MHD_run(h->d);
	h->in_run = 0;
	if (h->stop_pending) {
		httpd_shutdown(h);
		return;
	}
	if (h->kick)
		uv_timer_start(&h->timer, on_timer, 0, 0);
	else if (MHD_get_timeout(h->d, &ms) == MHD_YES) {
		/* MHD 0.9.75 also says 0 ("run again now") while a TLS handshake
		 * waits for its peer. A timer re-armed to 0 runs again in the same
		 * pass of libuv's timers, never polling: the peer (maybe on this
		 * very loop) would never be heard. So repeated zeros back off, 1,
		 * 2, 4 ... 64 ms, until an event on MHD's descriptor comes. */
		if (ms == 0 && h->zero_runs++ > 0)
			ms = 1u << (h->zero_runs < 8 ? h->zero_runs - 2 : 6);
		else if (ms > 0)
			h->zero_runs = 0;
		uv_timer_start(&h->timer, on_timer, ms > 86400000 ? 86400000 : (uint64_t)ms, 0);
	} else {
		uv_timer_stop(&h->timer);
	}
}

static void httpd_free(struct httpd *h)
{
	free(h->token);
	free(h->tls_cert);
	if (h->tls_key) {
		OPENSSL_cleanse(h->tls_key, strlen(h->tls_key));
		free(h->tls_key);
	}
	free(h);
}

static void httpd_maybe_freed(struct httpd *h)
{
	if (!h->stopped || h->handles > 0)
		return;
	void (*cb)(void *) = h->on_stopped;
	void *arg = h->stopped_arg;
	httpd_free(h);
	if (cb)
		cb(arg);
}

static void on_handle_closed(uv_handle_t *hd)
{
	struct httpd *h = hd->data;
	h->handles--;
	httpd_maybe_freed(h);
}

/* ---- watching suspended connections for a hang-up ---- */

static void req_gone(struct httpd_req *r);

static void on_watch(uv_poll_t *p, int status, int events)
{
	struct watch *w = p->data;
	if (w->r && (status < 0 || (events & UV_DISCONNECT)))
		req_gone(w->r);
}

static void on_watch_closed(uv_handle_t *hd)
{
	struct watch *w = hd->data;
	struct httpd *h = w->h;
	free(w);
	h->handles--;
	httpd_maybe_freed(h);
}

/* Without a watch (no memory, or libuv refused the descriptor) the request
 * still works; only its client's going unnoticed until the answer. */
static void watch_start(struct httpd_req *r)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct watch *w = calloc(1, sizeof *w);
	if (!ci || !w || uv_poll_init(r->h->loop, &w->poll, ci->connect_fd) < 0) {
		free(w);
		return;
	}
	w->poll.data = w;
	w->h = r->h;
	w->r = r;
	r->watch = w;
	r->h->handles++;
	uv_poll_start(&w->poll, UV_DISCONNECT, on_watch);
}

static void watch_stop(struct httpd_req *r)
{
	if (!r->watch)
		return;
	r->watch->r = NULL;
	uv_close((uv_handle_t *)&r->watch->poll, on_watch_closed);
	r->watch = NULL;
}

/* ---- requests ---- */

static void req_suspend(struct httpd_req *r)
{
	MHD_suspend_connection(r->conn);
	r->suspended = 1;
	r->h->st.suspended++;
	watch_start(r);
}

static void req_resume(struct httpd_req *r)
{
	if (!r->suspended)
		return;
	watch_stop(r);
	r->suspended = 0;
	r->h->st.suspended--;
	MHD_resume_connection(r->conn);
	httpd_kick(r->h);
}

static void req_free(struct httpd_req *r)
{
	if (r->resp)
		MHD_destroy_response(r->resp);
	buf_release(&r->body);
	buf_release(&r->strs);
	free(r->kv);
	free(r);
}

static void req_gone(struct httpd_req *r)
{
	struct httpd *h = r->h;
	r->gone = 1;
	req_resume(r); /* MHD closes it: the handler or the stream reader says so */
	if (r->handed && !r->answered && !r->gone_told) {
		r->gone_told = 1;
		if (h->on_gone)
			h->on_gone(r, h->arg);
	}
}

/* MHD is done with the request (answered and sent, client gone, or the
 * server stopping). What the owner still holds stays valid. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct httpd *h = cls;
	struct httpd_req *r = *con_cls;

	if (!r)
		return;
	*con_cls = NULL;
	if (r->prev)
		r->prev->next = r->next;
	else
		h->live = r->next;
	if (r->next)
		r->next->prev = r->prev;
	watch_stop(r);
	if (r->suspended) {
		r->suspended = 0;
		h->st.suspended--;
	}
	r->conn = NULL;
	if (r->resp) {
		MHD_destroy_response(r->resp);
		r->resp = NULL;
	}
	if (r->stream) {
		struct httpd_stream *s = r->stream;
		h->st.streams--;
		s->closing = 1; /* sends from on_end fail */
		s->on_end(s, s->arg);
		buf_release(&s->q);
		free(s);
		req_free(r);
		return;
	}
	if (r->handed && !r->answered) {
		r->gone = 1;
		if (!r->gone_told) {
			r->gone_told = 1;
			if (h->on_gone)
				h->on_gone(r, h->arg);
		}
		return; /* freed by its answer */
	}
	req_free(r);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct httpd *h = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		h->st.connections++;
	else if (h->st.connections > 0)
		h->st.connections--;
}

/* Queue a JSON answer on a connection now (rejections before on_request). */
static enum MHD_Result reply_now(struct MHD_Connection *conn, unsigned status, const char *json, int copy,
				 const char *hdr, const char *val)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(json), (void *)json, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (hdr)
		MHD_add_response_header(resp, hdr, val);
	enum MHD_Result ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* The 413 body (into a buffer of at least 160 bytes). */
static int too_large_body(char *out, size_t n, size_t max)
{
	return snprintf(out, n,
			"{\"detail\":\"request body too large: the limit is %zu bytes; send less, "
			"or split it\"}",
			max);
}

/* Constant time in the token's length, whatever the candidate. */
static int token_eq(const struct httpd *h, const char *s, size_t n)
{
	unsigned char d = (unsigned char)(n != h->token_len);
	for (size_t i = 0; i < h->token_len; i++)
		d |= (unsigned char)((unsigned char)h->token[i] ^ (unsigned char)(i < n ? s[i] : 0));
	return d == 0;
}

/* 1 if the request carries the token (a Bearer header, or the first path
 * segment); *path is the path with a token segment removed. */
static int req_auth(const struct httpd *h, const char *url, const char *authz, const char **path)
{
	int ok = 0;

	*path = url;
	if (url[0] == '/') {
		size_t n = strcspn(url + 1, "/");
		if (token_eq(h, url + 1, n)) {
			ok = 1;
			*path = url[1 + n] ? url + 1 + n : "/";
		}
	}
	if (authz) {
		while (*authz == ' ' || *authz == '\t')
			authz++;
		if (strncasecmp(authz, "Bearer ", 7) == 0) {
			const char *t = authz + 7;
			while (*t == ' ' || *t == '\t')
				t++;
			size_t n = strlen(t);
			while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
				n--;
			ok |= token_eq(h, t, n);
		}
	}
	return ok;
}

/* First call for a request (headers in): authenticate, check the declared
 * body size, and make the request. */
static enum MHD_Result req_begin(struct httpd *h, struct MHD_Connection *conn, const char *url,
				 const char *method, void **con_cls)
{
	const char *path;
	char tmp[256];

	if (!req_auth(h, url, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
		      &path)) {
		h->st.rejected++;
		return reply_now(conn, MHD_HTTP_UNAUTHORIZED, auth_detail, 0, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
				 "Bearer");
	}
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) {
		/* MHD has checked the syntax; only the size is ours. A response
		 * queued now makes MHD skip the body and close afterwards. */
		errno = 0;
		unsigned long long n = strtoull(cl, NULL, 10);
		if (errno == ERANGE || n > h->max_body) {
			h->st.rejected++;
			too_large_body(tmp, sizeof tmp, h->max_body);
			return reply_now(conn, MHD_HTTP_CONTENT_TOO_LARGE, tmp, 1, NULL, NULL);
		}
	}
	struct httpd_req *r = calloc(1, sizeof *r);
	if (!r)
		return MHD_NO;
	r->h = h;
	r->conn = conn;
	if (buf_add(&r->strs, method, strlen(method) + 1) < 0 ||
	    (r->path_off = r->strs.len, buf_add(&r->strs, path, strlen(path) + 1) < 0)) {
		req_free(r);
		return MHD_NO;
	}
	r->next = h->live;
	if (h->live)
		h->live->prev = r;
	h->live = r;
	*con_cls = r;
	return MHD_YES;
}

/* A body that grows past the limit without a Content-Length (chunked).
 * MHD 0.9.75 refuses MHD_queue_response() while a body is being received,
 * so the 413 goes onto the socket here (a few hundred bytes: the socket's
 * send buffer takes them at once, and MHD has nothing else queued while it
 * reads a body) and MHD_NO makes MHD close the connection unread. */
static enum MHD_Result req_overflow(struct httpd_req *r)
{
	char body[256], all[512];
	int bn = too_large_body(body, sizeof body, r->h->max_body);
	int n = snprintf(all, sizeof all,
			 "HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Type: application/json\r\n"
			 "Content-Length: %d\r\n\r\n%s",
			 bn, body);
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	r->h->st.rejected++;
	/* Over TLS the bytes would have to go through the session: just close. */
	if (ci && n > 0 && !r->h->tls_cert && (size_t)n < sizeof all)
		(void)!send(ci->connect_fd, all, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	return MHD_NO;
}

static enum MHD_Result kv_add(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct httpd_req *r = cls;
	if (r->nkv == r->kvcap) {
		size_t cap = r->kvcap ? 2 * r->kvcap : 16;
		struct kv *kv = realloc(r->kv, cap * sizeof *kv);
		if (!kv)
			return r->oom = 1, MHD_NO;
		r->kv = kv;
		r->kvcap = cap;
	}
	struct kv *e = &r->kv[r->nkv];
	e->header = kind == MHD_HEADER_KIND;
	e->key = r->strs.len;
	if (!value)
		value = "";
	e->val = e->key + strlen(key) + 1;
	if (buf_add(&r->strs, key, strlen(key) + 1) < 0 || buf_add(&r->strs, value, strlen(value) + 1) < 0)
		return r->oom = 1, MHD_NO;
	r->nkv++;
	return MHD_YES;
}

static enum MHD_Result req_queue(struct httpd_req *r)
{
	enum MHD_Result ret = MHD_queue_response(r->conn, r->status, r->resp);
	MHD_destroy_response(r->resp);
	r->resp = NULL;
	return ret;
}

/* Headers and body are in: hand the request over, or, on a later call after
 * a resume, queue its answer. */
static enum MHD_Result req_ready(struct httpd_req *r)
{
	struct httpd *h = r->h;

	if (r->resp)
		return req_queue(r);
	if (r->gone)
		return MHD_NO;
	if (!r->handed) {
		MHD_get_connection_values(r->conn, MHD_HEADER_KIND, kv_add, r);
		MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, kv_add, r);
		if (r->oom || buf_add(&r->body, "", 0) < 0)
			return MHD_NO; /* no memory: drop the connection */
		r->handed = 1;
		h->st.requests++;
		h->on_request(r, h->arg);
		if (r->resp)
			return req_queue(r);
	}
	req_suspend(r);
	return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				 const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct httpd_req *r = *con_cls;

	if (!r)
		return req_begin(cls, conn, url, method, con_cls);
	if (*upload_size == 0)
		return req_ready(r);
	if (*upload_size > r->h->max_body - r->body.len)
		return req_overflow(r);
	if (buf_add(&r->body, upload, *upload_size) < 0)
		return MHD_NO;
	*upload_size = 0;
	return MHD_YES;
}

/* ---- answers ---- */

/* r takes resp: queued now if inside on_request, else on the resume. */
static void req_answer(struct httpd_req *r, unsigned status, struct MHD_Response *resp)
{
	r->resp = resp;
	r->status = status;
	req_resume(r);
}

int httpd_reply(struct httpd_req *r, unsigned status, const char *content_type, const void *body, size_t len)
{
	r->answered = 1;
	if (!r->conn) {
		req_free(r);
		return -1;
	}
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
	if (!resp || MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					     content_type ? content_type : "application/json") != MHD_YES) {
		if (resp)
			MHD_destroy_response(resp);
		r->gone = 1; /* no memory: the handler drops the connection */
		req_resume(r);
		return -1;
	}
	req_answer(r, status, resp);
	return 0;
}

int httpd_reply_error(struct httpd_req *r, unsigned status, const char *fmt, ...)
{
	struct buf text = BUF_INIT, json = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	int rc = buf_vaddf(&text, fmt, ap);
	va_end(ap);
	if (rc == 0)
		rc = buf_adds(&json, "{\"detail\":");
	if (rc == 0)
		rc = buf_add_json_str(&json, text.p ? text.p : "", text.len);
	if (rc == 0)
		rc = buf_adds(&json, "}");
	if (rc < 0) {
		buf_release(&json);
		buf_adds(&json, "{\"detail\":\"out of memory\"}");
	}
	rc = httpd_reply(r, status, "application/json", json.p, json.len);
	buf_release(&text);
	buf_release(&json);
	return rc;
}

/* ---- Server-Sent Events ---- */

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct httpd_stream *s = cls;
	struct httpd_req *r = s->r;

	if (r->gone || s->dropped)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	size_t n = s->q.len - s->off;
	if (n > 0) {
		if (n > max)
			n = max;
		memcpy(out, s->q.p + s->off, n);
		s->off += n;
		if (s->off == s->q.len) {
			buf_reset(&s->q);
			s->off = 0;
		}
		return (ssize_t)n;
	}
	if (s->closing)
		return MHD_CONTENT_READER_END_OF_STREAM;
	/* 0 makes MHD ask again at once: suspend until httpd_stream_send() */
	req_suspend(r);
	return 0;
}

struct httpd_stream *httpd_stream_open(struct httpd_req *r, httpd_stream_end_fn on_end, void *arg)
{
	if (!r->conn) {
		r->answered = 1;
		req_free(r);
		return NULL;
	}
	struct httpd_stream *s = calloc(1, sizeof *s);
	struct MHD_Response *resp =
		s ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, s, NULL) : NULL;
	if (!resp || MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream") != MHD_YES ||
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache") != MHD_YES) {
		if (resp)
			MHD_destroy_response(resp);
		free(s);
		httpd_reply_error(r, 500, "out of memory opening the event stream");
		return NULL;
	}
	s->r = r;
	s->on_end = on_end;
	s->arg = arg;
	r->stream = s;
	r->answered = 1;
	r->h->st.streams++;
	req_answer(r, 200, resp);
	return s;
}

/* Drop a stream whose client does not keep up: free its queue now, and end
 * the connection. A suspended one resumes into the reader's error; one that
 * MHD waits to write to is shut down, which MHD's next write sees. */
static void stream_drop(struct httpd_stream *s)
{
	struct httpd_req *r = s->r;
	s->dropped = 1;
	buf_release(&s->q);
	s->off = 0;
	if (r->suspended) {
		req_resume(r);
	} else if (r->conn) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci)
			shutdown(ci->connect_fd, SHUT_RDWR);
		httpd_kick(r->h);
	}
}

/* Bytes of one event: "event: NAME\n", "data: LINE\n" per line, "\n".
 * Lines end at CR, LF or CRLF, as the client splits them. */
static size_t sse_size(const char *event, const char *data)
{
	size_t n = (event && *event) ? 8 + strlen(event) : 0;
	const char *p = data;
	for (;;) {
		size_t len = strcspn(p, "\r\n");
		n += 7 + len;
		p += len;
		if (!*p)
			break;
		p += (p[0] == '\r' && p[1] == '\n') ? 2 : 1;
	}
	return n + 1;
}

int httpd_stream_send(struct httpd_stream *s, const char *event, const char *data)
{
	if (s->closing || s->dropped || (event && strpbrk(event, "\r\n")))
		return -1;
	if (!data)
		data = "";
	size_t need = sse_size(event, data);
	if (s->q.len - s->off + need > s->r->h->stream_max) {
		stream_drop(s);
		return -1;
	}
	if (s->off > 0 && s->off >= s->q.len / 2) {
		buf_consume(&s->q, s->off);
		s->off = 0;
	}
	size_t before = s->q.len;
	int rc = buf_grow(&s->q, need);
	if (rc == 0 && event && *event)
		rc = buf_addf(&s->q, "event: %s\n", event);
	for (const char *p = data; rc == 0;) {
		size_t len = strcspn(p, "\r\n");
		rc = buf_adds(&s->q, "data: ") < 0 || buf_add(&s->q, p, len) < 0 || buf_adds(&s->q, "\n") < 0;
		p += len;
		if (!*p)
			break;
		p += (p[0] == '\r' && p[1] == '\n') ? 2 : 1;
	}
	if (rc != 0 || buf_adds(&s->q, "\n") < 0 || s->q.len - before != need) {
		stream_drop(s);
		return -1;
	}
	req_resume(s->r);
	return 0;
}

size_t httpd_stream_queued(const struct httpd_stream *s) { return s->q.len - s->off; }

void httpd_stream_close(struct httpd_stream *s)
{
	if (s->closing || s->dropped)
		return;
	s->closing = 1;
	req_resume(s->r);
}

/* ---- accessors ---- */

const char *httpd_req_method(const struct httpd_req *r) { return r->strs.p; }
const char *httpd_req_path(const struct httpd_req *r) { return r->strs.p + r->path_off; }
void *httpd_req_data(const struct httpd_req *r) { return r->data; }
void httpd_req_set_data(struct httpd_req *r, void *data) { r->data = data; }
int httpd_req_gone(const struct httpd_req *r) { return r->gone; }

static const char *req_lookup(const struct httpd_req *r, int header, const char *key)
{
	for (size_t i = 0; i < r->nkv; i++) {
		const char *k = r->strs.p + r->kv[i].key;
		if (r->kv[i].header == header && (header ? strcasecmp(k, key) : strcmp(k, key)) == 0)
			return r->strs.p + r->kv[i].val;
	}
	return NULL;
}

const char *httpd_req_query(const struct httpd_req *r, const char *key) { return req_lookup(r, 0, key); }
const char *httpd_req_header(const struct httpd_req *r, const char *name) { return req_lookup(r, 1, name); }

const char *httpd_req_body(const struct httpd_req *r, size_t *len)
{
	if (len)
		*len = r->body.len;
	return r->body.p ? r->body.p : "";
}

/* ---- start and stop ---- */

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct httpd *h = cls;
	vsnprintf(h->mhd_err, sizeof h->mhd_err, fmt, ap);
	h->mhd_err[strcspn(h->mhd_err, "\r\n")] = '\0';
}

/* Our own listening socket, for a precise error ("address in use") and the
 * bound port. Returns the descriptor or -1. */
static int listen_socket(const char *host, int port, int *family, int *bound, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char ps[16];
	int one = 1;

	snprintf(ps, sizeof ps, "%d", port);
	int rc = getaddrinfo(host, ps, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "http: cannot resolve listen address '%s': %s", host, gai_strerror(rc));
		return -1;
	}
	const char *step = "socket";
	int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && (step = "bind", setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one),
			bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
				(step = "listen", listen(fd, 511) < 0) ||
				(step = "getsockname", getsockname(fd, (struct sockaddr *)&ss, &sl) < 0))) {
		close(fd);
		fd = -1;
	}
	*family = res->ai_family;
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "http: cannot listen on %s:%d: %s: %s (another --http address or port?)", host,
			 port, step, strerror(errno));
		return -1;
	}
	*bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						: ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* The PEM pair, checked with OpenSSL before libmicrohttpd sees it, so a
 * bad one is refused with a reason rather than GnuTLS's error code. */
static int check_tls(const struct httpd_config *cfg, char *err, size_t errlen)
{
	if (!cfg->tls_cert_pem != !cfg->tls_key_pem)
		return snprintf(err, errlen, "http: TLS needs both a certificate and its key; got only the %s",
				cfg->tls_cert_pem ? "certificate" : "key"),
		       -1;
	if (!cfg->tls_cert_pem)
		return 0;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return snprintf(err, errlen, "http: this libmicrohttpd was built without TLS: no HTTPS"), -1;
	BIO *cb = BIO_new_mem_buf(cfg->tls_cert_pem, -1), *kb = BIO_new_mem_buf(cfg->tls_key_pem, -1);
	X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	int rc = -1;
	if (!x)
		snprintf(err, errlen, "http: the TLS certificate is not a PEM certificate");
	else if (!k)
		snprintf(err, errlen, "http: the TLS key is not a PEM private key");
	else if (X509_check_private_key(x, k) != 1)
		snprintf(err, errlen, "http: the TLS key does not belong to the TLS certificate");
	else
		rc = 0;
	X509_free(x);
	EVP_PKEY_free(k);
	BIO_free(cb);
	BIO_free(kb);
	return rc;
}

static int httpd_check_config(const struct httpd_config *cfg, char *err, size_t errlen)
{
	if (!cfg->token || !*cfg->token)
		snprintf(err, errlen, "http: no API token given: the server refuses to run without one");
	else if (strpbrk(cfg->token, "/?# \t\r\n"))
		snprintf(err, errlen, "http: the API token must not contain '/', '?', '#' or white space");
	else if (cfg->port < 0 || cfg->port > 65535)
		snprintf(err, errlen, "http: port %d out of range: give 0 (any free port) to 65535", cfg->port);
	else if (!cfg->on_request)
		snprintf(err, errlen, "http: no request callback given");
	else
		return check_tls(cfg, err, errlen);
	return -1;
}

/* libmicrohttpd with our socket, our logger and, with TLS, the PEM pair. */
static struct MHD_Daemon *daemon_start(struct httpd *h, const struct httpd_config *cfg, int family, int fd)
{
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
			 (family == AF_INET6 ? MHD_USE_IPv6 : 0) | (h->tls_cert ? MHD_USE_TLS : 0);
	struct MHD_OptionItem tls[] = {
		{h->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, h->tls_cert},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key},
		{MHD_OPTION_END, 0, NULL},
	};
	/* MHD owns fd from here: it closes it on stop and on its failure paths. */
	return MHD_start_daemon(
		flags, 0, NULL, NULL, on_access, h, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(cfg->timeout_s ? cfg->timeout_s : HTTPD_TIMEOUT_S_DEFAULT),
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)(cfg->max_connections ? cfg->max_connections : HTTPD_CONNECTIONS_DEFAULT),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
}

int httpd_start(struct httpd **out, uv_loop_t *loop, const struct httpd_config *cfg, char *err, size_t errlen)
{
	int family = AF_INET, fd;
	const char *host = cfg->host && *cfg->host ? cfg->host : HTTPD_HOST_DEFAULT;

	*out = NULL;
	if (httpd_check_config(cfg, err, errlen) < 0)
		return -1;
	struct httpd *h = calloc(1, sizeof *h);
	if (!h || !(h->token = strdup(cfg->token)) ||
	    (cfg->tls_cert_pem &&
	     (!(h->tls_cert = strdup(cfg->tls_cert_pem)) || !(h->tls_key = strdup(cfg->tls_key_pem))))) {
		if (h)
			httpd_free(h);
		snprintf(err, errlen, "http: out of memory");
		return -1;
	}
	h->loop = loop;
	h->token_len = strlen(h->token);
	h->max_body = cfg->max_body_bytes ? cfg->max_body_bytes : HTTPD_MAX_BODY_DEFAULT;
	h->stream_max = cfg->stream_max_bytes ? cfg->stream_max_bytes : HTTPD_STREAM_MAX_DEFAULT;
	h->on_request = cfg->on_request;
	h->on_gone = cfg->on_gone;
	h->arg = cfg->arg;
	if ((fd = listen_socket(host, cfg->port, &family, &h->port, err, errlen)) < 0) {
		httpd_free(h);
		return -1;
	}
	h->d = daemon_start(h, cfg, family, fd);
	const union MHD_DaemonInfo *di = h->d ? MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (!di || uv_poll_init(loop, &h->poll, di->epoll_fd) < 0) {
		snprintf(err, errlen, "http: cannot start the server on %s:%d: %s", host, h->port,
			 h->mhd_err[0] ? h->mhd_err : "libmicrohttpd refused");
		if (h->d)
			MHD_stop_daemon(h->d);
		httpd_free(h);
		return -1;
	}
	uv_timer_init(loop, &h->timer);
	h->poll.data = h;
	h->timer.data = h;
	h->handles = 2;
	uv_poll_start(&h->poll, UV_READABLE, on_poll);
	httpd_kick(h);
	*out = h;
	return 0;
}

int httpd_port(const struct httpd *h) { return h->port; }

void httpd_stats(const struct httpd *h, struct httpd_stats *st) { *st = h->st; }

/* Resume every suspended connection (MHD_stop_daemon() aborts the process
 * on a suspended one), close our handles, then let MHD close everything:
 * its completion callbacks tell the owner (on_gone, stream ends). */
static void httpd_shutdown(struct httpd *h)
{
	h->stopped = 1;
	h->stop_pending = 0;
	for (struct httpd_req *r = h->live; r; r = r->next) {
		if (!r->suspended)
			continue;
		watch_stop(r);
		r->suspended = 0;
		h->st.suspended--;
		r->gone = 1;
		MHD_resume_connection(r->conn);
	}
	uv_close((uv_handle_t *)&h->poll, on_handle_closed);
	uv_close((uv_handle_t *)&h->timer, on_handle_closed);
	MHD_stop_daemon(h->d);
	h->d = NULL;
}

void httpd_stop(struct httpd *h, void (*on_stopped)(void *arg), void *arg)
{
	if (!h || h->stop_requested)
		return;
	h->stop_requested = 1;
	h->on_stopped = on_stopped;
	h->stopped_arg = arg;
	if (h->in_run)
		h->stop_pending = 1;
	else
		httpd_shutdown(h);
}
