/* SPDX-License-Identifier: MIT */
/*
 * node: what every part of the node agent asks of the node itself -- the
 * options of its HTTP calls (its token, the cluster's CA) and the URLs of
 * its services. A leaf: it calls none of the other node modules, so api,
 * launch, procs and registration depend on it and main.c on them all.
 */
#include "node.h"

#include <stdio.h>
#include <string.h>

void node_call_opts(const struct node *n, struct hclient_opts *o, double timeout_s, unsigned retries)
{
	struct hclient_opts d = HCLIENT_OPTS_INIT;
	*o = d;
	o->bearer = n->token;
	o->ca_file = n->ca_file; /* used for https:// URLs only */
	o->cluster_peer = 1;     /* the master and this node's workers: the cluster's certificate */
	o->timeout_s = timeout_s;
	o->connect_timeout_s = timeout_s < HCLIENT_CONNECT_TIMEOUT_S_DEFAULT ? timeout_s : HCLIENT_CONNECT_TIMEOUT_S_DEFAULT;
	o->retries = retries;
}

void node_url(const struct node *n, char *out, size_t outn, const char *host, int port)
{
	snprintf(out, outn, strchr(host, ':') ? "%s://[%s]:%d" : "%s://%s:%d", n->tls ? "https" : "http", host, port);
}
