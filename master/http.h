/* SPDX-License-Identifier: MIT */
/*
 * http: the master's HTTP service -- share/httpd (libmicrohttpd) on the
 * master's loop, bound to 127.0.0.1 by default. Every request is a call
 * (call.h) to a handler its route names: the native JSON API under
 * /api/v1 reuses the wire protocol's handlers, and mindtrace-cluster's
 * endpoints (mtapi.c) sit beside them. A reply waits in the request's
 * outbox for the turn's commit and disk sync, exactly like a reply on a TCP
 * connection, so a 200 to anything that changes state means it is durable.
 * docs/service-api.md lists the routes.
 */
#ifndef MTS_HTTP_H
#define MTS_HTTP_H

#include <stddef.h>

#include "msg.h"

struct master;
struct http;
struct call;

struct http_cfg {
	const char *host; /* NULL: 127.0.0.1 */
	int port;         /* 0: an ephemeral port */
	int tls;          /* 1: HTTPS, 0: HTTP, -1: HTTPS unless host is a loopback address */
	int insecure;     /* 1: plain HTTP on a non-loopback address is allowed */
};

/* Load or create RUN_DIR/token and serve. With TLS, load or create the
 * cluster's TLS identity (RUN_DIR/tls.key, tls.crt; share/tlsid.h) and
 * serve HTTPS. Plain HTTP on an address other than loopback is refused
 * unless cfg->insecure: the token would cross the network in clear. The
 * base URL ("http://HOST:PORT" or "https://HOST:PORT") goes to url. 0, or
 * -1 with one line in err. */
int http_start(struct http **out, struct master *m, const struct http_cfg *cfg, char *url, size_t urln,
	       char *err, size_t errlen);
/* Stop serving (unanswered requests are dropped); on_stopped(m) once every
 * handle is closed. */
void http_stop(struct http *h, void (*on_stopped)(void *arg), void *arg);

/* Requests served since the start, by class of status (for /metrics). */
struct http_counts {
	unsigned long long requests, s2xx, s4xx, s5xx;
};
void http_counts(const struct http *h, struct http_counts *c);
/* The service's certificate (PEM) when it serves HTTPS, else NULL: what the
 * master's own calls to this cluster's services trust (hclient ca_pem).
 * NULL h: NULL. */
const char *http_ca_pem(const struct http *h);
/* The API token (RUN_DIR/token, read at start), for the master's calls to
 * its own services; NULL without the HTTP service. Borrowed from h. */
const char *http_token(const struct http *h);
/* 0 if the route table is sorted (for the unit test). */
size_t http_routes_check(void);

#endif
