/* SPDX-License-Identifier: MIT */
/*
 * clients: the client side of the master -- the registry of client ids, the
 * messages clients send (hello, submit, cancel, shutdown; the read-only
 * queries are in query.c) and the `done` callbacks. A client entry lives while
 * it has a connection or unfinished jobs. Callbacks are not kept once sent: a
 * handle that reconnects (after a master restart or a lost connection) lists
 * in hello's "await" the ids it still waits for, and the finished ones among
 * them are read back from state.db -- so the store needs no per-job
 * "callback delivered" write.
 */
#include "master.h"
#include "gitres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobenv.h"
#include "log.h"
#include "util.h"

/* ---- registry ---- */

static uint64_t cid_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static int ctab_grow(struct master *m)
{
	size_t n = m->ctab_size ? m->ctab_size * 2 : 64;
	struct client **t = calloc(n, sizeof *t);
	if (!t)
		return -1;
	for (size_t i = 0; i < m->ctab_size; i++) {
		struct client *c = m->ctab[i];
		while (c) {
			struct client *next = c->hnext;
			size_t k = cid_hash(c->cid) & (n - 1);
			c->hnext = t[k];
			t[k] = c;
			c = next;
		}
	}
	free(m->ctab);
	m->ctab = t;
	m->ctab_size = n;
	return 0;
}

struct client *clients_get(struct master *m, const char *cid, int create)
{
	if (m->ctab_size) {
		for (struct client *c = m->ctab[cid_hash(cid) & (m->ctab_size - 1)]; c; c = c->hnext)
			if (strcmp(c->cid, cid) == 0)
				return c;
	}
	if (!create)
		return NULL;
	if (m->nclients >= m->ctab_size && ctab_grow(m))
		return NULL;
	struct client *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	sched_client_init(&c->sc);
	c->m = m;
	util_strlcpy(c->cid, cid, sizeof c->cid);
	fbuf_init(&c->done, "{\"t\":\"done\",\"jobs\":[", "]}");
	size_t k = cid_hash(c->cid) & (m->ctab_size - 1);
	c->hnext = m->ctab[k];
	m->ctab[k] = c;
	m->nclients++;
	return c;
}

static void client_free(struct client *c)
{
	idranges_release(&c->backlog);
	sched_client_release(&c->sc);
	fbuf_release(&c->done);
	free(c);
}

void clients_maybe_free(struct client *c)
{
	struct master *m = c->m;
	if (c->peer || c->holds || c->sc.nlive || c->sc.n || c->dirty || c->sc.active_idx != UINT32_MAX)
		return;
	/* no connection: a backlog has nobody to go to (the handle asks
	 * again in its next hello) */
	struct client **pp = &m->ctab[cid_hash(c->cid) & (m->ctab_size - 1)];
	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	m->nclients--;
	client_free(c);
}

void clients_release(struct master *m)
{
	for (size_t i = 0; i < m->ctab_size; i++) {
		struct client *c = m->ctab[i];
		while (c) {
			struct client *next = c->hnext;
			client_free(c);
			c = next;
		}
	}
	free(m->ctab);
	m->ctab = NULL;
	m->ctab_size = m->nclients = 0;
	m->dirty_clients = NULL;
}

void clients_dirty(struct client *c)
{
	if (c->dirty)
		return;
	c->dirty = 1;
	c->dirty_next = c->m->dirty_clients;
	c->m->dirty_clients = c;
	master_touch(c->m);
}

/* ---- callbacks ---- */

static void add_result(struct buf *b, int64_t id, const char *type, int state, int attempts,
		       const char *worker, const char *output, size_t output_len, const char *error,
		       int rc_set, int rc)
{
	buf_adds(b, "{\"id\":");
	buf_add_i64(b, id);
	buf_adds(b, ",\"type\":\"");
	buf_adds(b, type);
	buf_adds(b, "\",\"state\":\"");
	buf_adds(b, mjob_state_name(state));
	buf_adds(b, "\",\"attempts\":");
	buf_add_i64(b, attempts);
	buf_adds(b, ",\"worker\":");
	buf_add_json_str(b, worker, worker ? strlen(worker) : 0);
	buf_adds(b, ",\"output\":");
	buf_add_json_str(b, output, output_len);
	buf_adds(b, ",\"error\":");
	buf_add_json_str(b, error, error ? strlen(error) : 0);
	if (rc_set) {
		buf_adds(b, ",\"rc\":");
		buf_add_i64(b, rc);
		buf_add(b, "}", 1);
	} else
		buf_adds(b, ",\"rc\":null}");
}

void clients_result(struct client *c, const struct mjob *j, int state, const char *worker,
		    const char *output, size_t output_len, const char *error, int rc_set, int rc)
{
	/* Not connected: the result stays in state.db and is sent when the
	 * handle says hello again and awaits it. An id the backlog still
	 * covers is read from the store when the backlog reaches it (this
	 * turn's writes included). */
	if (!c->peer || (!idranges_empty(&c->backlog) && idranges_has(&c->backlog, j->id)))
		return;
	/* Backpressure: a client that does not read gets no more results in
	 * memory; they join the backlog, read back from the store once its
	 * connection drains (clients_on_drain). */
	if (c->peer->conn && conn_out_over(c->peer->conn)) {
		if (idranges_empty(&c->backlog))
			log_info("client %s reads too slowly (over its output high-water mark): its results wait in "
				 "state.db until its connection drains", c->cid);
		idranges_add(&c->backlog, j->id, j->id);
		return;
	}
	if (fbuf_item(&c->done))
		return;
	add_result(&c->done.b, j->id, mjob_kind_name(j->kind), state, j->attempts, worker, output,
		   output_len, error, rc_set, rc);
	/* A final state the master decided (cancel, a lost worker, a
	 * dependency's failure) exists only in its store: it waits for the
	 * sync. A worker's result is kept by the worker until result_ok. */
	if (c->m->worker_result_id != j->id)
		c->done_sync = 1;
	clients_dirty(c);
}

/* The client's connection drained to half its high-water mark: go on with
 * its backlog (results held back meanwhile, or hello's await). */
static void clients_on_drain(struct conn *conn)
{
	struct peer *p = conn_data(conn);
	struct client *c = p ? p->client : NULL;
	if (c && !idranges_empty(&c->backlog))
		clients_dirty(c);
}

struct backlog_scan {
	struct client *c;
	int64_t last;  /* the last id read */
	size_t stop_b; /* stop once the frames reach this many bytes */
	int full;
};

static int backlog_row(void *arg, const struct store_rec *r)
{
	struct backlog_scan *k = arg;
	struct client *c = k->c;
	if (fbuf_item(&c->done))
		return k->full = 1;
	c->done_sync = 1; /* read from the store: maybe a final state only it has */
	add_result(&c->done.b, r->id, r->type ? r->type : "echo", r->state, r->attempts, r->worker, r->output,
		   r->output_len, r->error, !r->rc_null, r->rc);
	k->last = r->id;
	c->backlog_sent++;
	if (c->done.b.len >= k->stop_b)
		return k->full = 1;
	return 0;
}

/* Send the next part of c's backlog: at most *ids_left ids scanned (a
 * rowid range scan each) and MASTER_BACKLOG_BYTES_PER_TURN bytes queued;
 * nothing while the connection is over its high-water mark (the drain
 * resumes it). Returns 1 if some is left for a later turn. */
static int backlog_page(struct master *m, struct client *c, struct conn *conn, int64_t *ids_left)
{
	if (!conn) {
		idranges_release(&c->backlog);
		return 0;
	}
	if (conn_out_over(conn))
		return 0; /* clients_on_drain makes it dirty again */
	struct backlog_scan k = {.c = c, .stop_b = c->done.b.len + MASTER_BACKLOG_BYTES_PER_TURN};
	int64_t lo, hi;
	if (*ids_left > 0)
		c->backlog_turns++;
	while (*ids_left > 0 && !k.full && idranges_first(&c->backlog, &lo, &hi)) {
		if (hi - lo >= *ids_left)
			hi = lo + *ids_left - 1;
		k.last = lo - 1;
		if (store_results(m->store, c->cid, lo, hi, backlog_row, &k) < 0) {
			log_error("client %s: cannot read results %lld..%lld: %s", c->cid, (long long)lo,
				  (long long)hi, store_errmsg(m->store));
			k.full = 1; /* try again next turn */
		}
		int64_t done_to = k.full ? k.last : hi;
		*ids_left -= done_to - lo + 1;
		c->backlog_ids += done_to - lo + 1;
		idranges_consume(&c->backlog, done_to);
	}
	if (idranges_empty(&c->backlog)) {
		if (c->backlog_sent > 0)
			log_info("client %s: resent %lld results it still waited for (%lld ids read in %lld loop turns)",
				 c->cid, (long long)c->backlog_sent, (long long)c->backlog_ids,
				 (long long)c->backlog_turns);
		c->backlog_sent = c->backlog_ids = c->backlog_turns = 0;
		idranges_release(&c->backlog);
		return 0;
	}
	return 1;
}

void clients_flush(struct master *m)
{
	struct client *c = m->dirty_clients, *again = NULL;
	m->dirty_clients = NULL;
	int64_t ids_left = MASTER_BACKLOG_IDS_PER_TURN;
	while (c) {
		struct client *next = c->dirty_next;
		c->dirty = 0;
		c->dirty_next = NULL;
		struct conn *conn = c->peer && !c->peer->out.closed ? c->peer->conn : NULL;
		int more = !idranges_empty(&c->backlog) && backlog_page(m, c, conn, &ids_left);
		/* Workers' results need their commit only (outbox_pass): the
		 * worker keeps each until its result_ok, which waits for the
		 * sync (docs/reliability.md). */
		if (c->done_sync)
			fbuf_queue(&c->done, conn ? &c->peer->out : NULL);
		else
			fbuf_pass(&c->done, conn ? &c->peer->out : NULL);
		c->done_sync = 0;
		if (more && !conn_out_over(conn)) {
			c->dirty_next = again; /* the next turn goes on */
			again = c;
		} else {
			clients_maybe_free(c);
		}
		c = next;
	}
	while (again) {
		struct client *next = again->dirty_next;
		again->dirty_next = NULL;
		clients_dirty(again);
		again = next;
	}
}

/* ---- id lists ---- */

#define AWAIT_MAX 100000
#define AWAIT_MAX_TEXT "100000"

/* hello's "await": [[lo,hi],...] into q (absent: none). -1 if malformed.
 * The caller clamps and merges them (idranges_normalize). */
static int read_await(const msg *v, struct idranges *q)
{
	if (!v)
		return 0;
	if (!msg_is_array(v) || msg_size(v) > AWAIT_MAX)
		return -1;
	for (msg *e = msg_child(v); e; e = msg_next(e)) {
		msg *lo = msg_child(e), *hi = lo ? msg_next(lo) : NULL;
		int64_t a, b;
		if (!msg_is_array(e) || msg_size(e) != 2 || !jobs_is_int(lo, 1, INT64_MAX, &a) ||
		    !jobs_is_int(hi, 1, INT64_MAX, &b) || a > b || idranges_add(q, a, b))
			return -1;
	}
	return 0;
}

/* ---- hello ---- */

static msg *master_obj(struct master *m)
{
	msg *o = msg_new_object();
	msg_set_str(o, "host", m->info.host);
	msg_set_int(o, "port", m->info.port);
	msg_set_int(o, "pid", m->info.pid);
	msg_set_str(o, "node", m->info.node);
	msg_set_num(o, "uptime", util_wall() - m->info.started);
	msg_set_str(o, "version", m->info.version);
	return o;
}

void clients_on_hello(struct call *k, msg *m)
{
	struct master *ms = k->m;
	struct peer *p = k->peer;
	const char *cid = msg_get_str(m, "client");
	if (!cid || !*cid || strlen(cid) > MASTER_CID_MAX || cid[0] == '@') {
		conn_close(p->conn, "bad_message",
			   "hello needs \"client\": an id of 1 to 64 characters, not starting with '@' (the master's own)");
		return;
	}
	if (p->client) {
		if (strcmp(p->client->cid, cid) == 0) {
			conn_close(p->conn, "protocol", "second hello on one client connection");
			return;
		}
		struct client *old = p->client;
		old->peer = NULL;
		p->client = NULL;
		clients_maybe_free(old);
	}
	struct idranges await = IDRANGES_INIT;
	if (read_await(msg_get(m, "await"), &await)) {
		idranges_release(&await);
		conn_close(p->conn, "bad_message",
			   "hello: \"await\" must be an array of at most " AWAIT_MAX_TEXT
			   " [first,last] pairs of job ids, first <= last");
		return;
	}
	/* Only ids that exist can have results: 1,000 copies of [1, 2^62]
	 * become one range of at most the table, paged over the turns. */
	size_t nawait = await.n;
	idranges_normalize(&await, 1, ms->next_id - 1);
	struct client *c = clients_get(ms, cid, 1);
	if (!c) {
		idranges_release(&await);
		conn_close(p->conn, NULL, "out of memory");
		return;
	}
	if (c->peer && c->peer != p)
		c->peer->client = NULL; /* the older connection of this id stops getting callbacks */
	c->peer = p;
	p->client = c;
	conn_set_on_drain(p->conn, clients_on_drain);
	log_debug("client %s connected from %s (%s), awaiting %zu id ranges", cid, conn_peer(p->conn),
		  msg_get_str(m, "name") ? msg_get_str(m, "name") : "", nawait);
	idranges_release(&c->backlog);
	c->backlog = await;
	c->backlog_sent = c->backlog_ids = c->backlog_turns = 0;
	msg *r = call_new_reply(k, "hello_ok");
	msg_set_str(r, "client", cid);
	msg_add(r, "master", master_obj(ms));
	call_reply(k, r);
	/* Results this handle still waits for come from the store after the
	 * commit, a page per turn (jobs that finish later with ids outside
	 * the part still to read call back as usual). */
	fbuf_release(&p->client->done);
	clients_dirty(p->client);
}

/* ---- env ---- */

/* An environment snapshot a client will name in its exec jobs ("envk"):
 * checked against its key and stored once (store_env_offer). No reply: a
 * refused one is reported by an error frame, and the submit that names it
 * is refused as naming an unknown environment. */
void clients_on_env(struct call *c, msg *m)
{
	struct master *ms = c->m;
	const char *key = msg_get_str(m, "key"), *base = msg_get_str(m, "base");
	msg *vars = msg_get(m, "vars");
	char why[200] = "";
	const char **v = NULL;
	size_t n = msg_size(vars), bytes = 0, k = 0;
	if (!key || strlen(key) != JOBENV_KEY_LEN || strspn(key, "0123456789abcdef") != JOBENV_KEY_LEN)
		snprintf(why, sizeof why, "\"key\" must be %d lowercase hex digits (SHA-256)", JOBENV_KEY_LEN);
	else if (!base || (strcmp(base, "all") != 0 && strcmp(base, "none") != 0))
		snprintf(why, sizeof why, "\"base\" must be \"all\" or \"none\"");
	else if (!msg_is_array(vars) || !(v = malloc((n ? n : 1) * sizeof *v)))
		snprintf(why, sizeof why, "\"vars\" must be an array of \"K=V\" strings");
	for (msg *e = v ? msg_child(vars) : NULL; e && !*why; e = msg_next(e)) {
		const char *t = msg_str(e);
		if (!t || t[0] == '=' || !strchr(t, '='))
			snprintf(why, sizeof why, "\"vars\" must be an array of \"K=V\" strings");
		else if ((bytes += strlen(t) + 1) > JOBENV_MAX_BYTES)
			snprintf(why, sizeof why, "more than %u bytes of variables", JOBENV_MAX_BYTES);
		else
			v[k++] = t;
	}
	char sum[JOBENV_KEY_LEN + 1];
	if (!*why && (jobenv_key(sum, base[0] == 'n', v, k) || strcmp(sum, key) != 0))
		snprintf(why, sizeof why, "\"key\" is not the SHA-256 of the snapshot (docs/protocol.md)");
	free(v);
	char *text = *why ? NULL : msg_print(vars);
	if (!*why && (!text || store_env_offer(ms->store, key, base[0] == 'n', text, util_wall())))
		snprintf(why, sizeof why, "cannot store it: %s", text ? store_errmsg(ms->store) : "out of memory");
	free(text);
	if (*why)
		call_error(c, "bad_request", "env: %s", why);
}

/* ---- submit ---- */

/* ---- submit and cancel: the wire protocol's side of jobs.c ---- */

/* A submit frame re-sent after a lost acknowledgement (same client id and
 * req) gets the ids it got the first time: submission is exactly once.
 * 1 if m was such a frame (answered), else 0. Also forgets the client's
 * submit records below its "low". */
static int submit_again(struct call *c, const msg *m, int64_t req)
{
	struct master *ms = c->m;
	struct client *cl = c->client;
	int64_t f0 = 0, n0 = 0;
	if (store_submit_find(ms->store, cl->cid, req, &f0, &n0) > 0) {
		log_info("client %s: submit req %lld again; it was stored as jobs %lld..%lld", cl->cid,
			 (long long)req, (long long)f0, (long long)(f0 + n0 - 1));
		msg *r = call_new_reply(c, "submitted");
		msg_set_int(r, "first", f0);
		msg_set_int(r, "n", n0);
		if (msg_has(m, "array"))
			msg_set_int(r, "array", f0);
		call_reply(c, r);
		/* The handle only now learns these ids: results of those that
		 * finished meanwhile join its backlog, read back from the store
		 * after the commit and sealed after the reply; a duplicate of a
		 * later callback is dropped by the library. */
		if (n0 > 0 && cl->peer) {
			idranges_add(&cl->backlog, f0, f0 + n0 - 1);
			clients_dirty(cl);
		}
		return 1;
	}
	int64_t low = 0;
	if (msg_get_int(m, "low", &low) == 0 && low > cl->pruned_below + MASTER_SUBMIT_PRUNE_STEP) {
		store_submit_prune(ms->store, cl->cid, low);
		cl->pruned_below = low;
	}
	return 0;
}

void clients_on_submit(struct call *c, msg *m)
{
	char err[400];
	int64_t first = 0;
	if (c->has_req && submit_again(c, m, c->req))
		return;
	/* a git checkout named by branch: its commit first, off the loop
	 * (this handler runs again with it) */
	if (gitres_hold(c, m, GITRES_SUBMIT, clients_on_submit, "bad_request"))
		return;
	msg *jobs = msg_get(m, "jobs"), *array = msg_get(m, "array");
	int64_t n = (int64_t)msg_size(jobs);
	int rc = array ? arrays_admit(c->m, c->client, array, msg_get(m, "defaults"), &first, &n, err, sizeof err)
		       : jobs_admit(c->m, c->client, jobs, msg_get(m, "defaults"), &first, err, sizeof err);
	if (rc < 0) {
		call_error(c, rc == -JOBS_EBUSY ? "busy" : "bad_request", "%s", err);
		return;
	}
	if (c->has_req)
		store_submit_add(c->m->store, c->client->cid, c->req, first, n, util_wall());
	msg *r = call_new_reply(c, "submitted");
	msg_set_int(r, "first", first);
	msg_set_int(r, "n", n);
	if (array)
		msg_set_int(r, "array", first);
	call_reply(c, r);
}

void clients_on_cancel(struct call *c, msg *m)
{
	char err[300];
	int64_t n = 0;
	msg *unknown = msg_new_array(), *final = msg_new_array();
	int64_t aid = 0;
	if (msg_has(m, "array")) {
		if (msg_get_int(m, "array", &aid) || (n = arrays_cancel(c->m, aid)) < 0) {
			msg_free(unknown);
			msg_free(final);
			call_error(c, "unknown_job", "cancel: no job array %lld (an array's id is its first job id)",
				   (long long)aid);
			return;
		}
	} else if (msg_get_bool(m, "all", 0)) {
		n = jobs_cancel_all(c->m, err, sizeof err);
		if (n < 0) {
			msg_free(unknown);
			msg_free(final);
			call_error(c, "internal", "%s", err);
			return;
		}
	} else {
		int64_t *ids;
		size_t k;
		if (jobs_read_ids(msg_get(m, "ids"), &ids, &k)) {
			msg_free(unknown);
			msg_free(final);
			call_error(c, "bad_request", "cancel needs \"ids\": an array of job ids, or \"all\": true");
			return;
		}
		for (size_t i = 0; i < k; i++) {
			int rc = jobs_cancel(c->m, ids[i]);
			if (rc > 0)
				n++;
			else
				msg_push(rc == 0 ? final : unknown, msg_new_int(ids[i]));
		}
		free(ids);
	}
	msg *r = call_new_reply(c, "cancelled");
	msg_set_int(r, "n", n);
	msg_add(r, "unknown", unknown);
	msg_add(r, "final", final);
	call_reply(c, r);
}

void clients_on_shutdown(struct call *c, msg *m)
{
	(void)m;
	call_reply(c, call_new_reply(c, "bye"));
	master_shutdown(c->m);
}
