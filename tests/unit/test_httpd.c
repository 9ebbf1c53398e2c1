/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for share/httpd over real HTTP on 127.0.0.1 (ephemeral port):
 * the server's uv loop runs in this (the main) thread, clients in a second
 * thread, with libcurl's easy interface or raw sockets when the test needs
 * to send what curl would not (a declared 100 MB body, a broken request
 * line, a client that stops reading). Only the main thread asserts: the
 * client thread writes what it saw into `cli` and the main thread checks it
 * after joining. Every wait is bounded. Each test ends with httpd_stop() and
 * uv_loop_close() == 0, so a handle left open fails the test that left it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "buf.h"
#include "httpd.h"
#include "util.h"

#define TOKEN "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
#define MAX_BODY ((size_t)2 << 20)
#define STREAM_MAX ((size_t)256 << 10)
#define FLOOD_EVENT 16384

static uv_loop_t loop;
static struct httpd *srv;
static int port;
static int stopped;
static struct httpd_config cfg_extra; /* per-test overrides of the defaults */

/* What the server side saw (loop thread); the atomics are read by clients. */
static atomic_int n_requests, n_gone, n_stream_end, a_connections, a_suspended_at_echo;
static struct httpd_req *held;
static uint64_t defer_runs; /* MHD_run calls while a deferred reply waited */
static struct httpd_stream *ev_stream, *flood_stream;
static uv_timer_t ev_timer, flood_timer;
static int ev_step;
static size_t flood_total, flood_max_queued;
static int flood_dropped;
static char flood_blob[FLOOD_EVENT];

/* What the client thread saw, checked by the main thread after the join. */
static struct {
	char fail[256];      /* first thing that went wrong in the client */
	long status[16];
	char body[16][1024];
	double secs[16];
	long connects;
	int count;
} cli;

static void cli_failf(const char *fmt, ...)
{
	if (cli.fail[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cli.fail, sizeof cli.fail, fmt, ap);
	va_end(ap);
}

/* Keep what client request i got (truncated to the slot). */
static void keep(int i, const char *text) { util_strlcpy(cli.body[i], text, sizeof cli.body[i]); }

static double now_s(void) { return (double)util_mono_ns() / 1e9; }

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* ---- the server side: handlers by path ---- */

static void h_echo(struct httpd_req *r)
{
	struct buf b = BUF_INIT;
	struct httpd_stats st;
	size_t n;
	const char *body = httpd_req_body(r, &n);
	const char *q = httpd_req_query(r, "name"), *flag = httpd_req_query(r, "flag");
	const char *probe = httpd_req_header(r, "x-probe");

	httpd_stats(srv, &st);
	atomic_store(&a_suspended_at_echo, (int)st.suspended);
	buf_adds(&b, "{\"method\":");
	buf_add_json_str(&b, httpd_req_method(r), strlen(httpd_req_method(r)));
	buf_adds(&b, ",\"path\":");
	buf_add_json_str(&b, httpd_req_path(r), strlen(httpd_req_path(r)));
	buf_adds(&b, ",\"name\":");
	buf_add_json_str(&b, q, q ? strlen(q) : 0);
	buf_adds(&b, ",\"flag\":");
	buf_add_json_str(&b, flag, flag ? strlen(flag) : 0);
	buf_adds(&b, ",\"probe\":");
	buf_add_json_str(&b, probe, probe ? strlen(probe) : 0);
	buf_addf(&b, ",\"n\":%zu,\"sum\":%u,\"nul\":%d}", n, fnv1a((const unsigned char *)body, n), body[n] == '\0');
	httpd_reply(r, 200, NULL, b.p, b.len);
	buf_release(&b);
}

struct defer {
	uv_timer_t t;
	struct httpd_req *r;
	uint64_t runs0;
};

static void on_defer_closed(uv_handle_t *h) { free(h->data); }

static void on_defer(uv_timer_t *t)
{
	struct defer *d = t->data;
	struct httpd_stats st;
	httpd_stats(srv, &st);
	defer_runs = st.runs - d->runs0;
	httpd_reply(d->r, 200, "text/plain", "deferred", 8);
	uv_close((uv_handle_t *)&d->t, on_defer_closed);
}

static void h_defer(struct httpd_req *r)
{
	struct defer *d = calloc(1, sizeof *d);
	struct httpd_stats st;
	const char *ms = httpd_req_query(r, "ms");
	assert_non_null(d);
	httpd_stats(srv, &st);
	d->r = r;
	d->runs0 = st.runs;
	d->t.data = d;
	uv_timer_init(&loop, &d->t);
	uv_timer_start(&d->t, on_defer, ms ? strtoul(ms, NULL, 10) : 200, 0);
}

static void h_hold(struct httpd_req *r) { held = r; }

/* /kick: from inside one request, answer another (held) and send an event
 * to a waiting stream -- the master's "broadcast on submit". */
static void h_kick(struct httpd_req *r)
{
	int a = held ? httpd_reply(held, 200, "text/plain", "late", 4) : -2;
	int b = ev_stream ? httpd_stream_send(ev_stream, "kick", "k") : -2;
	held = NULL;
	httpd_reply_error(r, a == 0 && b == 0 ? 200 : 500, "kicked %d %d", a, b);
}

static void on_stream_end(struct httpd_stream *s, void *arg)
{
	atomic_fetch_add(&n_stream_end, 1);
	if (s == ev_stream)
		ev_stream = NULL;
	if (s == flood_stream)
		flood_stream = NULL;
}

/* /events: "1" now, "2a\n2b" after 50 ms, "3" after 100 ms, then close;
 * /events?hold=1: "1" and stay open. */
static void on_ev_timer(uv_timer_t *t)
{
	ev_step++;
	if (ev_stream && ev_step == 1)
		httpd_stream_send(ev_stream, "tick", "2a\n2b");
	if (ev_stream && ev_step == 2) {
		httpd_stream_send(ev_stream, "tick", "3");
		httpd_stream_close(ev_stream);
	}
	if (ev_step == 2)
		uv_close((uv_handle_t *)t, NULL);
}

static void h_events(struct httpd_req *r)
{
	int hold = httpd_req_query(r, "hold") != NULL;
	ev_stream = httpd_stream_open(r, on_stream_end, NULL);
	assert_non_null(ev_stream);
	assert_int_equal(httpd_stream_send(ev_stream, "tick", "1"), 0);
	if (hold)
		return;
	ev_step = 0;
	uv_timer_init(&loop, &ev_timer);
	uv_timer_start(&ev_timer, on_ev_timer, 50, 50);
}

/* /flood: 16 KiB events every millisecond until the stream is dropped. */
static void on_flood(uv_timer_t *t)
{
	for (int i = 0; i < 8 && flood_stream && !flood_dropped; i++) {
		if (httpd_stream_send(flood_stream, "blob", flood_blob) < 0) {
			flood_dropped = 1;
			break;
		}
		flood_total += FLOOD_EVENT;
		if (httpd_stream_queued(flood_stream) > flood_max_queued)
			flood_max_queued = httpd_stream_queued(flood_stream);
	}
	if (!flood_stream || flood_dropped || flood_total > ((size_t)256 << 20))
		uv_close((uv_handle_t *)t, NULL);
}

static void h_flood(struct httpd_req *r)
{
	flood_stream = httpd_stream_open(r, on_stream_end, NULL);
	assert_non_null(flood_stream);
	memset(flood_blob, 'x', sizeof flood_blob - 1);
	uv_timer_init(&loop, &flood_timer);
	uv_timer_start(&flood_timer, on_flood, 1, 1);
}

static void h_stopnow(struct httpd_req *r);
static const struct route {
	const char *path;
	void (*fn)(struct httpd_req *r);
} routes[] = {
	{"/", h_echo},           {"/echo", h_echo},     {"/defer", h_defer},
	{"/hold", h_hold},       {"/events", h_events}, {"/flood", h_flood},
	{"/kick", h_kick},       {"/stopnow", h_stopnow},
};

static void on_request(struct httpd_req *r, void *arg)
{
	atomic_fetch_add(&n_requests, 1);
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
		if (strcmp(routes[i].path, httpd_req_path(r)) == 0) {
			routes[i].fn(r);
			return;
		}
	httpd_reply_error(r, 404, "no route \"%s\"", httpd_req_path(r));
}

/* /stopnow: stop the server from inside its own callback. */
static void on_stopped(void *arg);
static void h_stopnow(struct httpd_req *r)
{
	httpd_reply(r, 200, NULL, "{}", 2);
	httpd_stop(srv, on_stopped, NULL);
	srv = NULL;
}

static void on_gone(struct httpd_req *r, void *arg) { atomic_fetch_add(&n_gone, 1); }

static void on_stopped(void *arg) { stopped = 1; }

/* ---- driving the loop ---- */

static atomic_int cli_done;
static pthread_t cli_thread;

static void tick(uv_timer_t *t)
{
	struct httpd_stats st;
	if (srv) {
		httpd_stats(srv, &st);
		atomic_store(&a_connections, (int)st.connections);
	}
}

static void *cli_main(void *arg)
{
	((void (*)(void))arg)();
	atomic_store(&cli_done, 1);
	return NULL;
}

static uv_timer_t tick_timer;

static void client_start(void (*fn)(void))
{
	atomic_store(&cli_done, 0);
	memset(&cli, 0, sizeof cli);
	uv_timer_init(&loop, &tick_timer);
	uv_timer_start(&tick_timer, tick, 2, 2);
	assert_int_equal(pthread_create(&cli_thread, NULL, cli_main, (void *)fn), 0);
}

/* Run the loop until cond() or limit_s, whichever first; 1 if cond(). */
static int loop_until(int (*cond)(void), double limit_s)
{
	double end = now_s() + limit_s;
	while (!cond() && now_s() < end)
		uv_run(&loop, UV_RUN_ONCE);
	return cond();
}

static int client_is_done(void) { return atomic_load(&cli_done); }

static void client_finish(void)
{
	/* clients bound their own waits (curl and socket timeouts) */
	loop_until(client_is_done, 120);
	pthread_join(cli_thread, NULL);
	uv_close((uv_handle_t *)&tick_timer, NULL);
	assert_string_equal(cli.fail, "");
}

static void run_client(void (*fn)(void))
{
	client_start(fn);
	client_finish();
}

static int is_stopped(void) { return stopped; }

static int setup(void **state)
{
	struct httpd_config cfg = cfg_extra;
	char err[256] = "";

	assert_int_equal(uv_loop_init(&loop), 0);
	cfg.token = TOKEN;
	cfg.max_body_bytes = cfg.max_body_bytes ? cfg.max_body_bytes : MAX_BODY;
	cfg.stream_max_bytes = STREAM_MAX;
	cfg.on_request = on_request;
	cfg.on_gone = on_gone;
	if (httpd_start(&srv, &loop, &cfg, err, sizeof err) < 0)
		fail_msg("httpd_start: %s", err);
	port = httpd_port(srv);
	assert_true(port > 0);
	stopped = 0;
	held = NULL;
	n_requests = n_gone = n_stream_end = 0;
	ev_stream = flood_stream = NULL;
	flood_total = flood_max_queued = 0;
	flood_dropped = 0;
	return 0;
}

static int teardown(void **state)
{
	if (srv)
		httpd_stop(srv, on_stopped, NULL);
	srv = NULL;
	assert_true(loop_until(is_stopped, 10));
	if (held)
		httpd_reply(held, 200, NULL, "{}", 2); /* consumed: freed */
	held = NULL;
	for (int i = 0; i < 10; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_close(&loop), 0); /* every handle closed */
	memset(&cfg_extra, 0, sizeof cfg_extra);
	return 0;
}

/* ---- clients ---- */

static size_t on_curl_write(char *p, size_t sz, size_t n, void *ud)
{
	buf_add(ud, p, sz * n);
	return sz * n;
}

struct hdrs {
	char ctype[128], cache[128];
};

static size_t on_curl_header(char *p, size_t sz, size_t n, void *ud)
{
	struct hdrs *h = ud;
	size_t len = sz * n;
	char line[256];
	snprintf(line, sizeof line, "%.*s", (int)(len < 255 ? len : 255), p);
	line[strcspn(line, "\r\n")] = '\0';
	if (strncasecmp(line, "Content-Type: ", 14) == 0)
		util_strlcpy(h->ctype, line + 14, sizeof h->ctype);
	if (strncasecmp(line, "Cache-Control: ", 15) == 0)
		util_strlcpy(h->cache, line + 15, sizeof h->cache);
	return len;
}

/* One request with curl on handle c (reused: keep-alive); the result goes
 * to cli slot i (status, body, seconds). hdr: one extra header or NULL. */
static void curl_req(CURL *c, int i, const char *path, const char *hdr, const void *body, size_t blen,
		     struct hdrs *hd)
{
	char url[512];
	struct buf b = BUF_INIT;
	struct curl_slist *hl = NULL;
	long connects = 0;
	struct hdrs dummy;

	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
	if (hdr)
		hl = curl_slist_append(hl, hdr);
	hl = curl_slist_append(hl, "X-Probe: hello there");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_curl_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_curl_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, hd ? hd : &dummy);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	double t0 = now_s();
	CURLcode rc = curl_easy_perform(c);
	cli.secs[i] = now_s() - t0;
	if (rc != CURLE_OK)
		cli_failf("curl %s: %s", path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &cli.status[i]);
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
	cli.connects += connects;
	snprintf(cli.body[i], sizeof cli.body[i], "%s", b.p ? b.p : "");
	curl_slist_free_all(hl);
	buf_release(&b);
	if (i >= cli.count)
		cli.count = i + 1;
}

static void curl_one(int i, const char *path, const char *hdr)
{
	CURL *c = curl_easy_init();
	curl_req(c, i, path, hdr, NULL, 0, NULL);
	curl_easy_cleanup(c);
}

static int raw_connect(int rcvbuf)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {5, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return cli_failf("socket: %s", strerror(errno)), -1;
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		cli_failf("connect: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int raw_send(int fd, const void *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read one response (headers, then Content-Length bytes or until EOF) into
 * out; its length, or -1 if nothing complete came within the socket's
 * receive timeout. */
static ssize_t raw_response(int fd, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = '\0';
	for (;;) {
		char *eoh = strstr(out, "\r\n\r\n");
		if (eoh) {
			const char *cl = strcasestr(out, "\r\nContent-Length:");
			size_t want = (size_t)(eoh + 4 - out) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
			if (len >= want)
				return (ssize_t)len;
		}
		if (len + 1 >= cap)
			return -1;
		ssize_t n = recv(fd, out + len, cap - 1 - len, 0);
		if (n <= 0)
			return eoh ? (ssize_t)len : -1;
		len += (size_t)n;
		out[len] = '\0';
	}
}

/* Read into out until it holds needle (1), or EOF / the socket's receive
 * timeout (0). */
static int raw_read_until(int fd, char *out, size_t cap, const char *needle)
{
	size_t len = 0;
	out[0] = '\0';
	while (!strstr(out, needle) && len + 1 < cap) {
		ssize_t n = recv(fd, out + len, cap - 1 - len, 0);
		if (n <= 0)
			return 0;
		len += (size_t)n;
		out[len] = '\0';
	}
	return strstr(out, needle) != NULL;
}

/* 1 if the peer closes fd within limit_s (reads and drops what comes). */
static int raw_closed_within(int fd, double limit_s)
{
	char tmp[4096];
	double end = now_s() + limit_s;
	while (now_s() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		ssize_t n = recv(fd, tmp, sizeof tmp, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			return 1;
	}
	return 0;
}

static int wait_atomic(atomic_int *v, int want, double limit_s)
{
	double end = now_s() + limit_s;
	while (atomic_load(v) < want && now_s() < end)
		usleep(1000);
	return atomic_load(v) >= want;
}

/* ---- auth ---- */

static void cli_auth(void)
{
	CURL *c = curl_easy_init();
	curl_req(c, 0, "/echo", NULL, NULL, 0, NULL);
	curl_req(c, 1, "/echo", "Authorization: Bearer wrong", NULL, 0, NULL);
	curl_req(c, 2, "/wrong/echo", NULL, NULL, 0, NULL);
	curl_req(c, 3, "/" TOKEN "x/echo", NULL, NULL, 0, NULL);
	curl_req(c, 4, "/echo", "Authorization: Bearer " TOKEN, NULL, 0, NULL);
	curl_req(c, 5, "/" TOKEN "/echo", NULL, NULL, 0, NULL);
	curl_req(c, 6, "/" TOKEN, NULL, NULL, 0, NULL);
	curl_req(c, 7, "/" TOKEN "/", NULL, NULL, 0, NULL);
	curl_req(c, 8, "/echo", "Authorization: bearer  " TOKEN " ", NULL, 0, NULL);
	curl_req(c, 9, "/" TOKEN "/nope", NULL, NULL, 0, NULL);
	curl_req(c, 10, "/echo", "Authorization: Bearer " TOKEN "0", "x=1", 3, NULL);
	curl_req(c, 11, "/echo/" TOKEN, NULL, NULL, 0, NULL);
	curl_easy_cleanup(c);
}

static void test_auth(void **state)
{
	run_client(cli_auth);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(cli.status[i], 401);
		assert_non_null(strstr(cli.body[i], "{\"detail\":\""));
		assert_non_null(strstr(cli.body[i], "Authorization: Bearer TOKEN"));
		assert_non_null(strstr(cli.body[i], "RUN_DIR/token"));
	}
	assert_int_equal(cli.status[4], 200);
	assert_non_null(strstr(cli.body[4], "\"path\":\"/echo\""));
	assert_int_equal(cli.status[5], 200);
	assert_non_null(strstr(cli.body[5], "\"path\":\"/echo\""));
	assert_int_equal(cli.status[6], 200);
	assert_non_null(strstr(cli.body[6], "\"path\":\"/\""));
	assert_int_equal(cli.status[7], 200);
	assert_non_null(strstr(cli.body[7], "\"path\":\"/\""));
	assert_int_equal(cli.status[8], 200);
	assert_int_equal(cli.status[9], 404);
	assert_string_equal(cli.body[9], "{\"detail\":\"no route \\\"/nope\\\"\"}");
	assert_int_equal(cli.status[10], 401); /* a longer token is not the token */
	assert_int_equal(cli.status[11], 401); /* the token counts only first */
	/* the callback never saw a rejected request */
	assert_int_equal(atomic_load(&n_requests), 6);
}

/* ---- query, headers, bodies ---- */

static void cli_query(void) { curl_one(0, "/" TOKEN "/echo?name=a%20b%26c%2B&x=1&flag", NULL); }

static void test_query(void **state)
{
	run_client(cli_query);
	assert_int_equal(cli.status[0], 200);
	assert_non_null(strstr(cli.body[0], "\"method\":\"GET\""));
	assert_non_null(strstr(cli.body[0], "\"path\":\"/echo\""));
	assert_non_null(strstr(cli.body[0], "\"name\":\"a b&c+\""));
	assert_non_null(strstr(cli.body[0], "\"flag\":\"\""));
	assert_non_null(strstr(cli.body[0], "\"probe\":\"hello there\""));
	assert_non_null(strstr(cli.body[0], "\"n\":0,"));
}

static unsigned char *big;
static uint32_t big_sum_1m, big_sum_max;

static void cli_post(void)
{
	CURL *c = curl_easy_init();
	curl_req(c, 0, "/echo", "Authorization: Bearer " TOKEN, big, (size_t)1 << 20, NULL);
	curl_req(c, 1, "/echo", "Authorization: Bearer " TOKEN, big, MAX_BODY, NULL);
	curl_easy_cleanup(c);
	/* one byte over: answered before the body (curl waits for 100 Continue) */
	c = curl_easy_init();
	curl_req(c, 2, "/" TOKEN "/echo", "Expect: 100-continue", big, MAX_BODY + 1, NULL);
	curl_easy_cleanup(c);
}

static void test_post_body(void **state)
{
	char want[128];
	big = malloc(MAX_BODY + 1);
	assert_non_null(big);
	for (size_t i = 0; i < MAX_BODY + 1; i++)
		big[i] = (unsigned char)((i * 2654435761u) >> 13); /* includes NULs */
	big_sum_1m = fnv1a(big, (size_t)1 << 20);
	big_sum_max = fnv1a(big, MAX_BODY);
	run_client(cli_post);
	assert_int_equal(cli.status[0], 200);
	snprintf(want, sizeof want, "\"n\":%zu,\"sum\":%u,\"nul\":1", (size_t)1 << 20, big_sum_1m);
	assert_non_null(strstr(cli.body[0], want));
	assert_int_equal(cli.status[1], 200); /* exactly the limit passes */
	snprintf(want, sizeof want, "\"n\":%zu,\"sum\":%u,", MAX_BODY, big_sum_max);
	assert_non_null(strstr(cli.body[1], want));
	assert_int_equal(cli.status[2], 413);
	assert_non_null(strstr(cli.body[2], "{\"detail\":\"request body too large"));
	assert_int_equal(atomic_load(&n_requests), 2);
	free(big);
}

/* A declared 100 MB body: 413 comes back at once, after 64 KiB sent; a
 * chunked body that grows past the limit: 413 too, and the rest unread. */
static void cli_413(void)
{
	char resp[2048];
	static char chunk[65536 + 32];
	int fd = raw_connect(0);
	if (fd < 0)
		return;
	const char *head = "POST /echo HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " TOKEN
			   "\r\nContent-Type: application/octet-stream\r\nContent-Length: 104857600\r\n\r\n";
	double t0 = now_s();
	raw_send(fd, head, strlen(head));
	memset(chunk, 'y', 65536);
	send(fd, chunk, 65536, MSG_NOSIGNAL);
	ssize_t n = raw_response(fd, resp, sizeof resp);
	cli.secs[0] = now_s() - t0;
	keep(0, n > 0 ? resp : "(no response)");
	cli.status[0] = raw_closed_within(fd, 3); /* the rest is refused, not read */
	close(fd);

	fd = raw_connect(0);
	if (fd < 0)
		return;
	head = "POST /" TOKEN "/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
	raw_send(fd, head, strlen(head));
	int hl = snprintf(chunk, sizeof chunk, "10000\r\n");
	memset(chunk + hl, 'z', 65536);
	memcpy(chunk + hl + 65536, "\r\n", 2);
	size_t sent = 0;
	while (sent < ((size_t)64 << 20) &&
	       send(fd, chunk, (size_t)hl + 65538, MSG_NOSIGNAL) == hl + 65538)
		sent += 65536;
	n = raw_response(fd, resp, sizeof resp);
	keep(1, n > 0 ? resp : "(no response)");
	cli.status[1] = raw_closed_within(fd, 3);
	cli.secs[1] = (double)sent;
	close(fd);
}

static void test_413(void **state)
{
	struct httpd_stats st;
	run_client(cli_413);
	assert_non_null(strstr(cli.body[0], "HTTP/1.1 413"));
	assert_non_null(strstr(cli.body[0], "{\"detail\":\"request body too large: the limit is 2097152 bytes"));
	assert_true(cli.secs[0] < 2.0);
	assert_int_equal(cli.status[0], 1);
	assert_non_null(strstr(cli.body[1], "HTTP/1.1 413"));
	assert_non_null(strstr(cli.body[1], "{\"detail\":\"request body too large"));
	assert_int_equal(cli.status[1], 1);
	/* sending failed long before 64 MiB: the server closed, not drained */
	assert_true(cli.secs[1] < (double)((size_t)32 << 20));
	assert_int_equal(atomic_load(&n_requests), 0);
	httpd_stats(srv, &st);
	assert_int_equal(st.rejected, 2);
}

/* ---- deferred replies ---- */

static void cli_defer(void)
{
	char resp[2048];
	int fd = raw_connect(0);
	if (fd < 0)
		return;
	const char *req = "GET /" TOKEN "/defer?ms=200 HTTP/1.1\r\nHost: t\r\n\r\n";
	double t0 = now_s();
	raw_send(fd, req, strlen(req));
	if (!wait_atomic(&n_requests, 1, 5))
		return cli_failf("the deferred request never reached the callback");
	curl_one(1, "/" TOKEN "/echo", NULL); /* another connection, meanwhile */
	cli.secs[2] = now_s() - t0;
	cli.status[4] = atomic_load(&a_suspended_at_echo);
	ssize_t n = raw_response(fd, resp, sizeof resp);
	cli.secs[0] = now_s() - t0;
	keep(0, n > 0 ? resp : "(no response)");
	/* the same connection serves the next request (keep-alive) */
	req = "GET /" TOKEN "/echo HTTP/1.1\r\nHost: t\r\n\r\n";
	raw_send(fd, req, strlen(req));
	n = raw_response(fd, resp, sizeof resp);
	keep(3, n > 0 ? resp : "(no response)");
	close(fd);
}

static void test_deferred(void **state)
{
	run_client(cli_defer);
	assert_non_null(strstr(cli.body[0], "HTTP/1.1 200"));
	assert_non_null(strstr(cli.body[0], "\r\n\r\ndeferred"));
	/* libuv timers run on a coarse, ms-floored clock: a few ms early is fine */
	assert_true(cli.secs[0] >= 0.19);
	assert_true(cli.secs[0] < 2.0);
	assert_int_equal(cli.status[1], 200);
	assert_int_equal(cli.status[4], 1); /* B was served while A waited, suspended */
	assert_true(defer_runs < 40); /* no busy loop while suspended */
	assert_non_null(strstr(cli.body[3], "HTTP/1.1 200"));
	assert_non_null(strstr(cli.body[3], "\"path\":\"/echo\""));
}

static void cli_keepalive(void)
{
	CURL *c = curl_easy_init();
	char path[128];
	for (int i = 0; i < 300 && !cli.fail[0]; i++) {
		int k = i % 3;
		snprintf(path, sizeof path, "/%s/%s", TOKEN, k == 1 ? "defer?ms=1" : "echo");
		curl_req(c, k, path, NULL, k == 2 ? "body" : NULL, 4, NULL);
		if (cli.status[k] != 200)
			cli_failf("request %d: status %ld", i, cli.status[k]);
	}
	curl_easy_cleanup(c);
}

static void test_keepalive(void **state)
{
	run_client(cli_keepalive);
	assert_int_equal(cli.connects, 1);
	assert_int_equal(atomic_load(&n_requests), 300);
}

/* A client that goes away before its deferred reply: on_gone, and the
 * late reply frees the request (ASan: no leak, no use after free). */
static void cli_gone(void)
{
	int fd = raw_connect(0);
	if (fd < 0)
		return;
	const char *req = "GET /" TOKEN "/hold HTTP/1.1\r\nHost: t\r\n\r\n";
	raw_send(fd, req, strlen(req));
	if (!wait_atomic(&n_requests, 1, 5))
		return cli_failf("the request never reached the callback");
	close(fd);
	if (!wait_atomic(&n_gone, 1, 5))
		cli_failf("on_gone not called within 5 s of the client leaving");
}

static void test_gone(void **state)
{
	struct httpd_stats st;
	run_client(cli_gone);
	assert_non_null(held);
	assert_int_equal(httpd_req_gone(held), 1);
	assert_string_equal(httpd_req_path(held), "/hold");
	assert_int_equal(httpd_reply(held, 200, NULL, "{}", 2), -1);
	held = NULL;
	assert_int_equal(atomic_load(&n_gone), 1);
	for (int i = 0; i < 5; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	httpd_stats(srv, &st);
	assert_int_equal(st.suspended, 0);
	assert_int_equal(st.connections, 0);
}

/* ---- many idle connections and the idle timeout ---- */

#define IDLE_CONNS 1000
static int idle_fd[IDLE_CONNS];

static void cli_idle(void)
{
	char resp[2048];
	int dfd = raw_connect(0);
	if (dfd < 0)
		return;
	/* a request that waits longer than the idle timeout: not cut */
	const char *req = "GET /" TOKEN "/defer?ms=2500 HTTP/1.1\r\nHost: t\r\n\r\n";
	raw_send(dfd, req, strlen(req));
	double t0 = now_s();
	for (int i = 0; i < IDLE_CONNS; i++)
		if ((idle_fd[i] = raw_connect(0)) < 0)
			return;
	if (!wait_atomic(&a_connections, IDLE_CONNS + 1, 10))
		return cli_failf("server saw %d of %d connections", atomic_load(&a_connections), IDLE_CONNS + 1);
	cli.secs[1] = now_s() - t0;
	curl_one(0, "/" TOKEN "/echo", NULL);
	int closed = 0;
	for (int i = 0; i < IDLE_CONNS; i++) {
		closed += raw_closed_within(idle_fd[i], closed == i ? 6 : 0.001);
		close(idle_fd[i]);
	}
	cli.status[1] = closed;
	cli.secs[2] = now_s() - t0;
	ssize_t n = raw_response(dfd, resp, sizeof resp);
	keep(2, n > 0 ? resp : "(no response)");
	close(dfd);
}

static void test_idle(void **state)
{
	teardown(state);
	cfg_extra.timeout_s = 2;
	setup(state);
	run_client(cli_idle);
	assert_int_equal(cli.status[0], 200);
	assert_true(cli.secs[0] < 1.0); /* served promptly among 1000 idle */
	assert_int_equal(cli.status[1], IDLE_CONNS);
	assert_true(cli.secs[2] < 8.0);
	assert_non_null(strstr(cli.body[2], "\r\n\r\ndeferred"));
}

/* ---- malformed requests ---- */

static void cli_malformed(void)
{
	static const char *bad[] = {
		"GARBAGE HERE\r\n\r\n",
		"GET /" TOKEN "/echo FOO/1.1\r\nHost: t\r\n\r\n",
		"GET /" TOKEN "/echo HTTP/1.1\r\nHost: t\r\nno colon here\r\n\r\n",
		"GET /" TOKEN "/echo HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
	};
	char resp[2048];
	for (int i = 0; i < 4; i++) {
		int fd = raw_connect(0);
		if (fd < 0)
			return;
		raw_send(fd, bad[i], strlen(bad[i]));
		ssize_t n = raw_response(fd, resp, sizeof resp);
		keep(i, n > 0 ? resp : "(no response)");
		close(fd);
	}
	/* no space at all: MHD 0.9.75 closes without an answer */
	int fd = raw_connect(0);
	if (fd < 0)
		return;
	raw_send(fd, "GARBAGE\r\n\r\n", 11);
	cli.status[5] = raw_closed_within(fd, 3);
	close(fd);
	curl_one(4, "/" TOKEN "/echo", NULL);
}

static void test_malformed(void **state)
{
	run_client(cli_malformed);
	for (int i = 0; i < 4; i++)
		if (strncmp(cli.body[i], "HTTP/1.1 400", 12) != 0)
			fail_msg("bad request %d got: %.80s", i, cli.body[i]);
	assert_int_equal(cli.status[5], 1);
	assert_int_equal(cli.status[4], 200); /* and the server keeps serving */
	assert_int_equal(atomic_load(&n_requests), 1);
}

/* ---- Server-Sent Events ---- */

static struct hdrs sse_hdrs;

static void cli_sse(void)
{
	char resp[1024];
	CURL *c = curl_easy_init();
	memset(&sse_hdrs, 0, sizeof sse_hdrs);
	curl_req(c, 0, "/" TOKEN "/events", NULL, NULL, 0, &sse_hdrs);
	curl_easy_cleanup(c);
	/* a stream whose client leaves: the server ends it */
	int fd = raw_connect(0);
	if (fd < 0)
		return;
	const char *req = "GET /" TOKEN "/events?hold=1 HTTP/1.1\r\nHost: t\r\n\r\n";
	raw_send(fd, req, strlen(req));
	ssize_t n = recv(fd, resp, sizeof resp - 1, 0);
	snprintf(cli.body[1], sizeof cli.body[1], "%.*s", n > 0 ? (int)n : 0, resp);
	close(fd);
	if (!wait_atomic(&n_stream_end, 2, 5))
		cli_failf("the server did not end the stream of a client that left");
}

static void test_sse(void **state)
{
	run_client(cli_sse);
	assert_int_equal(cli.status[0], 200);
	assert_string_equal(sse_hdrs.ctype, "text/event-stream");
	assert_string_equal(sse_hdrs.cache, "no-cache");
	assert_string_equal(cli.body[0], "event: tick\ndata: 1\n\n"
					 "event: tick\ndata: 2a\ndata: 2b\n\n"
					 "event: tick\ndata: 3\n\n");
	assert_non_null(strstr(cli.body[1], "HTTP/1.1 200"));
	assert_int_equal(atomic_load(&n_stream_end), 2);
	assert_null(ev_stream);
}

static void cli_cross(void)
{
	char resp[2048], ev[1024];
	int sfd = raw_connect(0), afd = raw_connect(0);
	if (sfd < 0 || afd < 0)
		return;
	const char *req = "GET /" TOKEN "/events?hold=1 HTTP/1.1\r\nHost: t\r\n\r\n";
	raw_send(sfd, req, strlen(req));
	if (!raw_read_until(sfd, ev, sizeof ev, "data: 1\n\n"))
		return cli_failf("no first event: %.100s", ev);
	req = "GET /" TOKEN "/hold HTTP/1.1\r\nHost: t\r\n\r\n";
	raw_send(afd, req, strlen(req));
	if (!wait_atomic(&n_requests, 2, 5))
		return cli_failf("the held request never reached the callback");
	usleep(50000); /* both connections suspended by now */
	curl_one(0, "/" TOKEN "/kick", NULL);
	ssize_t n = raw_response(afd, resp, sizeof resp);
	keep(1, n > 0 ? resp : "(no response)");
	raw_read_until(sfd, ev, sizeof ev, "data: k\n\n");
	keep(2, ev);
	close(afd);
	close(sfd);
}

static void test_cross(void **state)
{
	run_client(cli_cross);
	assert_int_equal(cli.status[0], 200);
	assert_string_equal(cli.body[0], "{\"detail\":\"kicked 0 0\"}");
	assert_non_null(strstr(cli.body[1], "\r\n\r\nlate"));
	assert_non_null(strstr(cli.body[2], "event: kick\ndata: k\n\n"));
}

/* A client that stops reading: the queue stays under stream_max_bytes and
 * the stream is dropped. */
static void cli_sse_slow(void)
{
	char resp[512];
	int fd = raw_connect(4096);
	if (fd < 0)
		return;
	const char *req = "GET /" TOKEN "/flood HTTP/1.1\r\nHost: t\r\n\r\n";
	raw_send(fd, req, strlen(req));
	if (recv(fd, resp, sizeof resp, 0) <= 0)
		cli_failf("no response to /flood");
	/* now read nothing */
	if (!wait_atomic(&n_stream_end, 1, 20))
		cli_failf("the stream of a client that reads nothing was not dropped");
	close(fd);
}

static void test_sse_slow(void **state)
{
	run_client(cli_sse_slow);
	assert_int_equal(flood_dropped, 1);
	assert_true(flood_max_queued <= STREAM_MAX);
	assert_true(flood_total < ((size_t)64 << 20)); /* the socket buffers, not more */
	assert_null(flood_stream);
}

/* ---- stop with everything open ---- */

static int stop_fd[3];
static atomic_int stop_ready;

static void cli_stop(void)
{
	char resp[2048];
	static const char *reqs[] = {
		"GET /" TOKEN "/echo HTTP/1.1\r\nHost: t\r\n\r\n", /* then idle, kept alive */
		"GET /" TOKEN "/hold HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /" TOKEN "/events?hold=1 HTTP/1.1\r\nHost: t\r\n\r\n",
	};
	for (int i = 0; i < 3; i++) {
		if ((stop_fd[i] = raw_connect(0)) < 0)
			return;
		raw_send(stop_fd[i], reqs[i], strlen(reqs[i]));
		if (i == 0 && raw_response(stop_fd[0], resp, sizeof resp) <= 0)
			cli_failf("no answer to the first request");
	}
	if (!wait_atomic(&n_requests, 3, 5))
		return cli_failf("the server saw %d of 3 requests", atomic_load(&n_requests));
	atomic_store(&stop_ready, 1);
	for (int i = 0; i < 3; i++) {
		cli.status[i] = raw_closed_within(stop_fd[i], 5);
		close(stop_fd[i]);
	}
}

static int stop_is_ready(void) { return atomic_load(&stop_ready); }

static void test_stop(void **state)
{
	atomic_store(&stop_ready, 0);
	client_start(cli_stop);
	assert_true(loop_until(stop_is_ready, 10));
	assert_non_null(held);
	assert_non_null(ev_stream);
	httpd_stop(srv, on_stopped, NULL);
	httpd_stop(srv, on_stopped, NULL); /* ignored */
	srv = NULL;
	/* told synchronously: the held request and the stream */
	assert_int_equal(atomic_load(&n_gone), 1);
	assert_int_equal(atomic_load(&n_stream_end), 1);
	assert_null(ev_stream);
	client_finish();
	for (int i = 0; i < 3; i++)
		assert_int_equal(cli.status[i], 1);
	assert_true(loop_until(is_stopped, 5));
	/* the held request outlives the server until answered */
	assert_string_equal(httpd_req_method(held), "GET");
	assert_int_equal(httpd_reply(held, 200, NULL, "{}", 2), -1);
	held = NULL;
}

static void cli_stopnow(void)
{
	CURL *c = curl_easy_init();
	curl_req(c, 0, "/" TOKEN "/stopnow", NULL, NULL, 0, NULL);
	curl_easy_cleanup(c);
	cli.fail[0] = '\0'; /* the answer may be cut by the stop: no matter */
}

static void test_stop_inside(void **state)
{
	run_client(cli_stopnow);
	assert_null(srv);
	assert_true(loop_until(is_stopped, 5));
	assert_int_equal(atomic_load(&n_requests), 1);
}

/* ---- configuration errors ---- */

static void test_config_errors(void **state)
{
	struct httpd *h2 = NULL;
	struct httpd_config cfg = {.token = "", .on_request = on_request};
	char err[256];

	assert_int_equal(httpd_start(&h2, &loop, &cfg, err, sizeof err), -1);
	assert_non_null(strstr(err, "no API token"));
	cfg.token = "a/b";
	assert_int_equal(httpd_start(&h2, &loop, &cfg, err, sizeof err), -1);
	assert_non_null(strstr(err, "must not contain"));
	cfg.token = TOKEN;
	cfg.port = port; /* taken by srv */
	assert_int_equal(httpd_start(&h2, &loop, &cfg, err, sizeof err), -1);
	assert_non_null(strstr(err, "cannot listen on 127.0.0.1:"));
	assert_non_null(strstr(err, "in use"));
	cfg.port = 0;
	cfg.host = "no.such.host.invalid";
	assert_int_equal(httpd_start(&h2, &loop, &cfg, err, sizeof err), -1);
	assert_non_null(strstr(err, "cannot resolve"));
	assert_null(h2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_post_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_413, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cross, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sse_slow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_inside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
