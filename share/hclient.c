/* SPDX-License-Identifier: MIT */
/*
 * hclient: asynchronous HTTP calls on a libuv loop through libcurl's multi
 * socket interface (hclient.h has the contract, docs/hclient.md the policy).
 * curl tells us which sockets to watch (on_sock: one uv_poll_t each) and when
 * to wake it up (on_curl_timer: one uv_timer_t); we hand every event back
 * with curl_multi_socket_action() and collect finished transfers in
 * check_done(). A call owns one easy handle for all its attempts; between
 * attempts it waits on its own timer, created only when first needed, so the
 * thousands of calls that never retry cost no uv handle. User callbacks run
 * only from check_done() or a call's timer, never inside a curl callback, so
 * they may start, cancel or close anything.
 */
#include "hclient.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* One socket curl asked us to watch. */
struct hsock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct hclient *h;
	struct hsock *prev, *next;
};

struct hclient {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;            /* curl's own timeouts */
	/* A nudge every HCLIENT_KICK_MS while transfers are in the multi
	 * handle: libcurl 7.88 can leave a transfer queued behind
	 * CURLMOPT_MAX_HOST_CONNECTIONS without a timer or socket event to move
	 * it on (seen once as 1,000 calls not finishing in 60 s on a loaded
	 * machine); the nudge costs one curl_multi_socket_action per tick. */
	uv_timer_t kick;
	unsigned in_multi;           /* transfers added and not yet removed */
	struct hclient_call *calls;  /* pending: started, not called back nor cancelled */
	struct hsock *socks;         /* watched, not yet closing */
	size_t pending;
	unsigned handles;            /* uv handles initialized and not yet closed */
	int closing;
	void (*on_closed)(void *arg);
	void *closed_arg;
};

struct hclient_call {
	struct hclient *h;
	struct hclient_call *prev, *next;
	CURL *easy;
	struct curl_slist *hdrs;
	char *url, *body;
	char *ca_pem, *ca_file; /* https:// only: trust these, not the system's store */
	int cluster_peer;       /* with ca_pem/ca_file: no host name check (hclient.h) */
	hclient_cb cb;
	void *arg;
	double timeout_s, connect_timeout_s, backoff_s;
	unsigned retries, attempts;
	size_t max_b;
	uint64_t t0_ns;
	char *resp;
	size_t resp_len, resp_cap;
	int too_large, oom, in_multi, delivering, early, timer_init;
	uv_timer_t timer;            /* backoff between attempts; early errors */
	char errbuf[CURL_ERROR_SIZE];
	char msg[512];               /* the result's error line */
};

/* ---- process-wide libcurl initialization ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void) { global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- closing: h is freed when its last uv handle has closed ---- */

static void handle_gone(struct hclient *h)
{
	h->handles--;
	if (!h->closing || h->handles)
		return;
	void (*fn)(void *) = h->on_closed;
	void *arg = h->closed_arg;
	free(h);
	if (fn)
		fn(arg);
}

static void on_timer_closed(uv_handle_t *t) { handle_gone(t->data); }

#define HCLIENT_KICK_MS 250

static void on_sock_closed(uv_handle_t *p)
{
	struct hsock *k = p->data;
	struct hclient *h = k->h;
	free(k);
	handle_gone(h);
}

static void sock_close(struct hsock *k)
{
	struct hclient *h = k->h;
	if (k->prev)
		k->prev->next = k->next;
	else
		h->socks = k->next;
	if (k->next)
		k->next->prev = k->prev;
	uv_close((uv_handle_t *)&k->poll, on_sock_closed);
}

static void on_call_closed(uv_handle_t *t)
{
	struct hclient_call *c = t->data;
	struct hclient *h = c->h;
	free(c);
	handle_gone(h);
}

/* Unlinked calls only: the easy handle, the copies, then the call itself
 * (after its timer has closed, if it ever had one). */
static void call_free(struct hclient_call *c)
{
	if (c->in_multi) {
		curl_multi_remove_handle(c->h->multi, c->easy);
		c->h->in_multi--;
	}
	curl_easy_cleanup(c->easy);
	curl_slist_free_all(c->hdrs);
	free(c->url);
	free(c->body);
	free(c->ca_pem);
	free(c->ca_file);
	free(c->resp);
	if (c->timer_init)
		uv_close((uv_handle_t *)&c->timer, on_call_closed);
	else
		free(c);
}

static void call_unlink(struct hclient_call *c)
{
	struct hclient *h = c->h;
	if (c->prev)
		c->prev->next = c->next;
	else
		h->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	h->pending--;
}

/* ---- results ---- */

static void deliver(struct hclient_call *c, int http_ok, long status)
{
	struct hclient_res r = {.http_ok = http_ok, .status = status, .body = "", .content_type = ""};
	char *ct = NULL;
	if (http_ok && c->resp) {
		r.body = c->resp;
		r.len = c->resp_len;
	}
	if (http_ok && c->easy && curl_easy_getinfo(c->easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		r.content_type = ct;
	r.error = c->msg[0] ? c->msg : NULL;
	r.attempts = c->attempts;
	r.elapsed_s = (double)(util_mono_ns() - c->t0_ns) / 1e9;
	call_unlink(c);
	c->delivering = 1;
	c->cb(c->arg, &r);
	call_free(c);
}

/* " (3 attempts)" after an error that survived retries: the caller sees at
 * once that retrying itself would not help. */
static void note_attempts(struct hclient_call *c)
{
	size_t used = strlen(c->msg);
	if (c->attempts > 1 && used < sizeof c->msg)
		snprintf(c->msg + used, sizeof c->msg - used, " (%u attempts)", c->attempts);
}

/* curl results that a retry may cure, and what to call them. Everything
 * else (a bad reply, TLS certificate errors, our own limits) would fail the
 * same way again. A timeout is decided in describe_failure(). */
static const struct {
	CURLcode code;
	int retry;
	const char *what;
} failures[] = {
	{CURLE_COULDNT_RESOLVE_HOST, 1, "cannot resolve host"},
	{CURLE_COULDNT_CONNECT, 1, "cannot connect"},
	{CURLE_SEND_ERROR, 1, "connection lost while sending"},
	{CURLE_RECV_ERROR, 1, "connection lost while receiving"},
	{CURLE_GOT_NOTHING, 1, "connection closed without an answer"},
	{CURLE_SSL_CONNECT_ERROR, 1, "TLS handshake failed"},
	{CURLE_PEER_FAILED_VERIFICATION, 0, "TLS certificate rejected"},
	{CURLE_WEIRD_SERVER_REPLY, 0, "not an HTTP response"},
	/* the scheme is checked before curl sees the URL, so this is a reply
	 * without a status line (HTTP/0.9, which curl refuses) */
	{CURLE_UNSUPPORTED_PROTOCOL, 0, "not an HTTP response"},
};

/* Fill c->msg for a failed attempt; 1 if a retry may help. */
static int describe_failure(struct hclient_call *c, CURLcode rc)
{
	const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
	if (c->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(c->msg, sizeof c->msg, "response larger than %zu bytes (max_response_b)", c->max_b);
		return 0;
	}
	if (c->oom) {
		snprintf(c->msg, sizeof c->msg, "out of memory reading the response");
		return 0;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		/* Nothing sent yet: the endpoint cannot have started the work,
		 * so another attempt is as safe as the first. */
		long sent_b = 0;
		curl_easy_getinfo(c->easy, CURLINFO_REQUEST_SIZE, &sent_b);
		if (sent_b == 0) {
			snprintf(c->msg, sizeof c->msg, "could not connect within %g s",
				 fmin(c->connect_timeout_s, c->timeout_s));
			return 1;
		}
		snprintf(c->msg, sizeof c->msg, "timed out after %g s", c->timeout_s);
		return 0;
	}
	for (size_t i = 0; i < sizeof failures / sizeof failures[0]; i++)
		if (failures[i].code == rc) {
			snprintf(c->msg, sizeof c->msg, "%s: %s", failures[i].what, detail);
			return failures[i].retry;
		}
	snprintf(c->msg, sizeof c->msg, "%s", detail);
	return 0;
}

static void on_call_timer(uv_timer_t *t);

static int call_timer_init(struct hclient_call *c);

/* Wait the backoff, then attempt again; -1 if no timer could be had. */
static int retry_later(struct hclient_call *c)
{
	if (call_timer_init(c) < 0)
		return -1;
	double delay_s = c->backoff_s * ldexp(1.0, (int)(c->attempts > 30 ? 30 : c->attempts - 1));
	if (delay_s > HCLIENT_BACKOFF_S_MAX)
		delay_s = HCLIENT_BACKOFF_S_MAX;
	return uv_timer_start(&c->timer, on_call_timer, (uint64_t)(delay_s * 1000 + 0.5), 0) ? -1 : 0;
}

/* One attempt is over (curl removed from the multi handle already). */
static void attempt_end(struct hclient_call *c, CURLcode rc)
{
	long status = 0;
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
	int more = c->attempts <= c->retries;
	if (rc == CURLE_OK) {
		if (status >= 500 && more && retry_later(c) == 0)
			return;
		if (status >= 500) {
			snprintf(c->msg, sizeof c->msg, "HTTP %ld", status);
			note_attempts(c);
		}
		deliver(c, 1, status);
		return;
	}
	if (describe_failure(c, rc) && more && retry_later(c) == 0)
		return;
	note_attempts(c);
	deliver(c, 0, status);
}

/* (Re)start an attempt: 0, or -1 with c->msg set. */
static void check_done(struct hclient *h);

static void on_kick(uv_timer_t *t)
{
	struct hclient *h = t->data;
	int running;
	if (!h->in_multi || h->closing) {
		uv_timer_stop(t);
		return;
	}
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(h);
}

static int attempt_start(struct hclient_call *c)
{
	c->resp_len = 0;
	c->too_large = c->oom = 0;
	c->errbuf[0] = 0;
	c->msg[0] = 0;
	CURLMcode mrc = curl_multi_add_handle(c->h->multi, c->easy);
	if (mrc != CURLM_OK) {
		snprintf(c->msg, sizeof c->msg, "cannot start the request: %s", curl_multi_strerror(mrc));
		return -1;
	}
	c->in_multi = 1;
	c->attempts++;
	struct hclient *h = c->h;
	if (!h->in_multi++ && !h->closing)
		uv_timer_start(&h->kick, on_kick, HCLIENT_KICK_MS, HCLIENT_KICK_MS);
	return 0;
}

/* The call's own timer: an early error to report, or the next attempt. */
static void on_call_timer(uv_timer_t *t)
{
	struct hclient_call *c = t->data;
	if (c->early || attempt_start(c) < 0)
		deliver(c, 0, 0);
}

static int call_timer_init(struct hclient_call *c)
{
	if (c->timer_init)
		return 0;
	if (uv_timer_init(c->h->loop, &c->timer))
		return -1;
	c->timer.data = c;
	c->timer_init = 1;
	c->h->handles++;
	return 0;
}

/* ---- driving curl from the loop ---- */

static void check_done(struct hclient *h)
{
	CURLMsg *m;
	int left;
	while (!h->closing && (m = curl_multi_info_read(h->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *e = m->easy_handle;
		CURLcode rc = m->data.result;
		struct hclient_call *c = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&c);
		curl_multi_remove_handle(h->multi, e);
		c->in_multi = 0;
		h->in_multi--;
		attempt_end(c, rc);
	}
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct hsock *k = p->data;
	struct hclient *h = k->h;
	int flags = 0, running;
	if (status < 0)
		flags = CURL_CSELECT_ERR;
	else
		flags = (events & UV_READABLE ? CURL_CSELECT_IN : 0) | (events & UV_WRITABLE ? CURL_CSELECT_OUT : 0);
	curl_multi_socket_action(h->multi, k->fd, flags, &running);
	check_done(h);
}

static void on_timer(uv_timer_t *t)
{
	struct hclient *h = t->data;
	int running;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(h);
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what curl asks, or stop. */
static int on_sock(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct hclient *h = userp;
	struct hsock *k = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (k) {
			sock_close(k);
			if (!h->closing)
				curl_multi_assign(h->multi, s, NULL);
		}
		return 0;
	}
	if (h->closing)
		return 0;
	if (!k) {
		k = calloc(1, sizeof *k);
		if (!k || uv_poll_init_socket(h->loop, &k->poll, s)) {
			free(k);
			return -1; /* curl fails the transfers on this socket */
		}
		k->fd = s;
		k->h = h;
		k->poll.data = k;
		k->next = h->socks;
		if (h->socks)
			h->socks->prev = k;
		h->socks = k;
		h->handles++;
		curl_multi_assign(h->multi, s, k);
	}
	int ev = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
	return uv_poll_start(&k->poll, ev, on_poll) ? -1 : 0;
}

/* CURLMOPT_TIMERFUNCTION: wake curl after timeout_ms (0: on the next loop
 * turn, never from inside this callback), or not at all (-1). */
static int on_curl_timer(CURLM *m, long timeout_ms, void *userp)
{
	struct hclient *h = userp;
	if (h->closing)
		return 0;
	if (timeout_ms < 0)
		return uv_timer_stop(&h->timer) ? -1 : 0;
	return uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0) ? -1 : 0;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct hclient_call *c = userdata;
	size_t n = size * nmemb;
	if (n > c->max_b - c->resp_len) {
		c->too_large = 1;
		return 0; /* != n: curl stops with CURLE_WRITE_ERROR */
	}
	if (c->resp_len + n + 1 > c->resp_cap) {
		size_t cap = c->resp_cap ? c->resp_cap : 4096;
		while (cap < c->resp_len + n + 1)
			cap *= 2;
		char *r = realloc(c->resp, cap);
		if (!r) {
			c->oom = 1;
			return 0;
		}
		c->resp = r;
		c->resp_cap = cap;
	}
	memcpy(c->resp + c->resp_len, p, n);
	c->resp_len += n;
	c->resp[c->resp_len] = 0;
	return n;
}

/* ---- API ---- */

struct hclient *hclient_new(uv_loop_t *loop, char *err, size_t n)
{
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK) {
		snprintf(err, n, "cannot initialize libcurl: %s", curl_easy_strerror(global_rc));
		return NULL;
	}
	struct hclient *h = calloc(1, sizeof *h);
	if (!h || !(h->multi = curl_multi_init())) {
		free(h);
		snprintf(err, n, "out of memory creating an HTTP client");
		return NULL;
	}
	h->loop = loop;
	uv_timer_init(loop, &h->timer); /* cannot fail for a timer */
	h->timer.data = h;
	uv_timer_init(loop, &h->kick);
	h->kick.data = h;
	h->handles = 2;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_sock);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)HCLIENT_HOST_CONNECTIONS_MAX);
	return h;
}

void hclient_close(struct hclient *h, void (*on_closed)(void *arg), void *arg)
{
	if (!h || h->closing)
		return;
	h->closing = 1;
	h->on_closed = on_closed;
	h->closed_arg = arg;
	while (h->calls) {
		struct hclient_call *c = h->calls;
		call_unlink(c);
		call_free(c);
	}
	/* Closes the cached connections; curl may report their sockets gone
	 * through on_sock, and whatever it does not we close below. */
	curl_multi_cleanup(h->multi);
	h->multi = NULL;
	while (h->socks)
		sock_close(h->socks);
	uv_close((uv_handle_t *)&h->timer, on_timer_closed);
	uv_close((uv_handle_t *)&h->kick, on_timer_closed);
}

size_t hclient_pending(const struct hclient *h) { return h ? h->pending : 0; }

void hclient_cancel(struct hclient_call *c)
{
	if (!c || c->delivering)
		return;
	call_unlink(c);
	call_free(c);
}

/* The methods a call may use. body_always: the request carries the body
 * (possibly empty, "Content-Length: 0") even when len is 0. */
static const struct {
	const char *name;
	int body_always;
} methods[] = {
	{"POST", 1}, {"GET", 0}, {"PUT", 1}, {"DELETE", 0}, {"PATCH", 1},
};

/* Arguments the caller can be told about through the callback: 0, or -1
 * with c->msg set. */
static int call_check(struct hclient_call *c, const char *url, const struct hclient_opts *o, int *method)
{
	const char *m = o->method ? o->method : "POST";
	*method = -1;
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (!strcmp(methods[i].name, m))
			*method = (int)i;
	if (*method < 0) {
		snprintf(c->msg, sizeof c->msg, "unknown method '%.32s': use GET, POST, PUT, DELETE or PATCH", m);
		return -1;
	}
	if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8)) {
		snprintf(c->msg, sizeof c->msg, "only http:// and https:// URLs are supported, not '%.100s'", url);
		return -1;
	}
	if (!(o->timeout_s >= 0) || !(o->connect_timeout_s >= 0) || !(o->backoff_s >= 0)) {
		snprintf(c->msg, sizeof c->msg, "timeout_s, connect_timeout_s and backoff_s must be >= 0 (0: default)");
		return -1;
	}
	for (unsigned i = 0; o->headers && o->headers[i]; i++) {
		const char *hd = o->headers[i], *colon = strchr(hd, ':');
		if (strpbrk(hd, "\r\n")) {
			snprintf(c->msg, sizeof c->msg, "header %u contains a line break", i + 1);
			return -1;
		}
		if (!colon || colon == hd || memchr(hd, ' ', (size_t)(colon - hd))) {
			snprintf(c->msg, sizeof c->msg, "header %u is not 'Name: value': '%.60s'", i + 1, hd);
			return -1;
		}
	}
	if (o->bearer && strpbrk(o->bearer, "\r\n")) {
		snprintf(c->msg, sizeof c->msg, "bearer token contains a line break");
		return -1;
	}
	return 0;
}

static int add_header(struct curl_slist **l, const char *line)
{
	struct curl_slist *n = curl_slist_append(*l, line);
	if (!n)
		return -1;
	*l = n;
	return 0;
}

/* The header list: ours ("Expect:" turns off curl's 100-continue wait for
 * large bodies, which servers that never answer it turn into a 1 s stall),
 * the caller's, the bearer and a JSON content type if none was given. */
static int call_headers(struct hclient_call *c, const struct hclient_opts *o, int has_body)
{
	int typed = 0, rc = add_header(&c->hdrs, "Expect:");
	for (unsigned i = 0; o->headers && o->headers[i]; i++) {
		rc |= add_header(&c->hdrs, o->headers[i]);
		typed |= !strncasecmp(o->headers[i], "content-type:", 13);
	}
	if (o->bearer && o->bearer[0]) {
		size_t n = strlen(o->bearer) + 32;
		char *line = malloc(n);
		if (!line)
			return -1;
		snprintf(line, n, "Authorization: Bearer %s", o->bearer);
		rc |= add_header(&c->hdrs, line);
		free(line);
	}
	if (has_body && !typed)
		rc |= add_header(&c->hdrs, "Content-Type: application/json");
	return rc ? -1 : 0;
}

static long to_ms(double s) { return s * 1000 < 1 ? 1 : (long)(s * 1000 + 0.5); }

/* The easy handle for every attempt of c: 0, or -1 (out of memory). */
static int call_easy(struct hclient_call *c, int method, size_t len)
{
	CURL *e = c->easy = curl_easy_init();
	if (!e)
		return -1;
	int has_body = methods[method].body_always || len > 0;
	CURLcode rc = curl_easy_setopt(e, CURLOPT_URL, c->url);
	rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, to_ms(c->timeout_s));
	rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, to_ms(c->connect_timeout_s));
	rc |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_b);
	rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
	rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, c);
	rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
	rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->hdrs);
	if (has_body) {
		rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
	} else {
		rc |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	}
	/* curl sends POST with a body, GET without; any other verb replaces it */
	if (strcmp(methods[method].name, has_body ? "POST" : "GET"))
		rc |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, methods[method].name);
	/* A CA of the caller's replaces the system store (file and directory):
	 * a service of this cluster must show this cluster's certificate. */
	if (c->ca_pem) {
		struct curl_blob blob = {c->ca_pem, strlen(c->ca_pem), CURL_BLOB_COPY};
		rc |= curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
		rc |= curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	} else if (c->ca_file) {
		rc |= curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
		rc |= curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	}
	/* The certificate is still verified against that CA alone. */
	if (c->cluster_peer && (c->ca_pem || c->ca_file))
		rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	return rc == CURLE_OK ? 0 : -1;
}

/* Copy what the call keeps and apply the defaults of zero fields. */
static int call_copy(struct hclient_call *c, const char *url, const void *body, size_t len,
		     const struct hclient_opts *o)
{
	c->timeout_s = o->timeout_s > 0 ? o->timeout_s : HCLIENT_TIMEOUT_S_DEFAULT;
	c->connect_timeout_s = o->connect_timeout_s > 0 ? o->connect_timeout_s : HCLIENT_CONNECT_TIMEOUT_S_DEFAULT;
	c->backoff_s = o->backoff_s > 0 ? o->backoff_s : HCLIENT_BACKOFF_S_DEFAULT;
	c->max_b = o->max_response_b ? o->max_response_b : HCLIENT_MAX_RESPONSE_B_DEFAULT;
	c->retries = o->retries;
	c->url = strdup(url);
	c->body = malloc(len + 1);
	if (!c->url || !c->body)
		return -1;
	if (strncasecmp(url, "https://", 8) == 0) {
		if (o->ca_pem && !(c->ca_pem = strdup(o->ca_pem)))
			return -1;
		if (!o->ca_pem && o->ca_file && !(c->ca_file = strdup(o->ca_file)))
			return -1;
		c->cluster_peer = o->cluster_peer;
	}
	if (len)
		memcpy(c->body, body, len);
	c->body[len] = 0;
	return 0;
}

struct hclient_call *hclient_request(struct hclient *h, const char *url, const void *body, size_t len,
				     const struct hclient_opts *o, hclient_cb cb, void *arg)
{
	static const struct hclient_opts defaults = HCLIENT_OPTS_INIT;
	if (!h || h->closing || !url || !cb || (!body && len))
		return NULL;
	if (!o)
		o = &defaults;
	struct hclient_call *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->h = h;
	c->cb = cb;
	c->arg = arg;
	c->t0_ns = util_mono_ns();
	int method;
	if (call_check(c, url, o, &method) < 0) {
		/* reported through the callback, from the loop */
		c->early = 1;
		if (call_timer_init(c) < 0 || uv_timer_start(&c->timer, on_call_timer, 0, 0))
			goto fail;
	} else if (call_copy(c, url, body, len, o) < 0 ||
		   call_headers(c, o, methods[method].body_always || len > 0) < 0 ||
		   call_easy(c, method, len) < 0 || attempt_start(c) < 0) {
		goto fail;
	}
	c->next = h->calls;
	if (h->calls)
		h->calls->prev = c;
	h->calls = c;
	h->pending++;
	return c;
fail:
	call_free(c);
	return NULL;
}
