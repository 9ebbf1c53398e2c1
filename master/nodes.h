/* SPDX-License-Identifier: MIT */
/*
 * nodes: the node agents (mtslurm-node) the master knows, and the calls it
 * makes to them -- mindtrace's /register_node, /launch_worker and
 * /launch_worker_status, and the wire request "nodes" that lists them.
 * Nodes are kept in memory only, as mindtrace does: each node registers
 * again every few seconds, so a restarted master knows them all within
 * that time, and a node not heard from for NODES_FORGET_S is dropped.
 *
 * The forwarded calls go through one share/hclient on the master's loop
 * (made on first use, closed at shutdown), so a slow or dead node never
 * blocks the loop: the request's reply waits in its outbox (outbox.h) and
 * is answered from the call's callback. A transport whose request is gone
 * drops its pending calls (nodes_drop_calls).
 */
#ifndef MTS_NODES_H
#define MTS_NODES_H

#include "call.h"

struct master;
struct outbox;

/* A node that has not registered for this long is forgotten. */
#define NODES_FORGET_S 30.0
/* Each forwarded call to a node: whole-call timeout. */
#define NODES_CALL_TIMEOUT_S 10.0

/* mindtrace endpoints (mtapi.c's table). */
void nodes_on_register(struct call *c, msg *m);
void nodes_on_launch(struct call *c, msg *m);
void nodes_on_launch_status(struct call *c, msg *m);
/* The wire request "nodes" (call.c's client table):
 * {"t":"nodes","nodes":[{"url","name","pid","registered","last_seen"}...]},
 * times in seconds since the epoch. */
void nodes_on_list(struct call *c, msg *m);

/* Forget the pending calls whose replies go to out (its request is gone). */
void nodes_drop_calls(struct master *m, const struct outbox *out);
/* At shutdown: cancel every pending call, close the HTTP client (counted in
 * m->handles_open until closed). */
void nodes_close(struct master *m);
/* At exit: free the registry. */
void nodes_release(struct master *m);

#endif
