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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobenv.h"
#include "log.h"
#include "util.h"

#define KNOWN_TYPES "echo, exec, func"

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
		struct conn *conn = c->peer && !c->peer->closed ? c->peer->conn : NULL;
		int more = !idranges_empty(&c->backlog) && backlog_page(m, c, conn, &ids_left);
		fbuf_gate(&c->done, conn ? c->peer : NULL);
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

static int is_int(const msg *v, int64_t lo, int64_t hi, int64_t *out)
{
	int64_t x;
	if (msg_to_int(v, &x) || x < lo || x > hi)
		return 0;
	*out = x;
	return 1;
}


/* Read an array of ids; NULL with *n = 0 for an empty array. Returns -1 if
 * v is not an array of integers. */
static int read_ids(const msg *v, int64_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!msg_is_array(v))
		return -1;
	size_t cap = msg_size(v);
	if (!cap)
		return 0;
	int64_t *ids = malloc(cap * sizeof *ids);
	if (!ids)
		return -1;
	size_t k = 0;
	for (msg *e = msg_child(v); e; e = msg_next(e)) {
		if (!is_int(e, INT64_MIN / 2, INT64_MAX / 2, &ids[k])) {
			free(ids);
			return -1;
		}
		k++;
	}
	*out = ids;
	*n = k;
	return 0;
}


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
		if (!msg_is_array(e) || msg_size(e) != 2 || !is_int(lo, 1, INT64_MAX, &a) ||
		    !is_int(hi, 1, INT64_MAX, &b) || a > b || idranges_add(q, a, b))
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

static void on_hello(struct peer *p, msg *m)
{
	struct master *ms = p->m;
	const char *cid = msg_get_str(m, "client");
	if (!cid || !*cid || strlen(cid) > MASTER_CID_MAX) {
		conn_close(p->conn, "bad_message", "hello needs \"client\": an id of 1 to 64 characters");
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
	msg *r = msg_new_typed("hello_ok");
	msg_set_str(r, "client", cid);
	msg_add(r, "master", master_obj(ms));
	master_ack(p, r);
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
static void on_env(struct peer *p, msg *m)
{
	struct master *ms = p->m;
	const char *key = msg_get_str(m, "key"), *base = msg_get_str(m, "base");
	msg *vars = msg_get(m, "vars");
	char why[200] = "";
	const char **v = NULL;
	size_t n = msg_size(vars), bytes = 0, k = 0;
	if (!p->client) {
		master_error(p, 0, 0, "bad_request", "send hello before env");
		return;
	}
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
		master_error(p, 0, 0, "bad_request", "env: %s", why);
}

/* ---- submit ---- */

struct spec {
	const char *type;
	msg *input;
	const char *target, *cwd, *envk;
	msg *env, *deps;
	double delay, timeout, treq;
	int64_t prio, retries, ranks, crash_limit;
};

/* Read the fields of one job (or defaults) object over s. */
static int spec_parse(struct spec *s, const msg *o, char *err, size_t n)
{
	for (msg *f = msg_child(o); f; f = msg_next(f)) {
		const char *k = msg_key(f);
		if (!k)
			continue;
		switch (k[0]) {
		case 't':
			if (strcmp(k, "type") == 0) {
				if (!msg_is_str(f))
					return snprintf(err, n, "\"type\" must be a string (" KNOWN_TYPES ")"), -1;
				s->type = msg_str(f);
			} else if (strcmp(k, "target") == 0) {
				if (!msg_is_str(f))
					return snprintf(err, n, "\"target\" must be a string /path/lib.so:function"), -1;
				s->target = msg_str(f);
			} else if (strcmp(k, "timeout") == 0) {
				if (!msg_is_num(f) || !(msg_num(f) >= 0 && msg_num(f) <= 4e9))
					return snprintf(err, n, "\"timeout\" must be a number of seconds from 0 to 4e9"), -1;
				s->timeout = msg_num(f);
			} else if (strcmp(k, "treq") == 0) {
				if (!msg_is_num(f) || !(msg_num(f) >= 0 && msg_num(f) <= 4e9))
					return snprintf(err, n, "\"treq\" must be a number of seconds from 0 to 4e9"), -1;
				s->treq = msg_num(f);
			}
			break;
		case 'i':
			if (strcmp(k, "input") == 0)
				s->input = f;
			break;
		case 'd':
			if (strcmp(k, "delay") == 0) {
				if (!msg_is_num(f) || !(msg_num(f) >= 0 && msg_num(f) <= 4e9))
					return snprintf(err, n, "\"delay\" must be a number of seconds from 0 to 4e9"), -1;
				s->delay = msg_num(f);
			} else if (strcmp(k, "deps") == 0) {
				if (!msg_is_array(f))
					return snprintf(err, n, "\"deps\" must be an array of job ids"), -1;
				s->deps = f;
			}
			break;
		case 'c':
			if (strcmp(k, "cwd") == 0) {
				if (!msg_is_str(f))
					return snprintf(err, n, "\"cwd\" must be a string (an absolute directory)"), -1;
				s->cwd = msg_str(f);
			} else if (strcmp(k, "crash_limit") == 0 && !is_int(f, 1, 255, &s->crash_limit)) {
				return snprintf(err, n, "\"crash_limit\" must be an integer from 1 to 255"), -1;
			}
			break;
		case 'e':
			if (strcmp(k, "env") == 0) {
				if (!msg_is_array(f))
					return snprintf(err, n, "\"env\" must be an array of \"K=V\" strings"), -1;
				for (msg *e = msg_child(f); e; e = msg_next(e))
					if (!msg_is_str(e) || !strchr(msg_str(e), '=') || msg_str(e)[0] == '=')
						return snprintf(err, n, "\"env\" must be an array of \"K=V\" strings"), -1;
				s->env = f;
			} else if (strcmp(k, "envk") == 0) {
				if (!msg_is_str(f))
					return snprintf(err, n, "\"envk\" must be the key of an env message"), -1;
				s->envk = msg_str(f);
			}
			break;
		case 'p':
			if (strcmp(k, "prio") == 0 && !is_int(f, INT32_MIN, INT32_MAX, &s->prio))
				return snprintf(err, n, "\"prio\" must be an integer"), -1;
			break;
		case 'r':
			if (strcmp(k, "retries") == 0 && !is_int(f, 0, 10000, &s->retries))
				return snprintf(err, n, "\"retries\" must be an integer from 0 to 10000"), -1;
			if (strcmp(k, "ranks") == 0 && !is_int(f, 1, 4096, &s->ranks))
				return snprintf(err, n, "\"ranks\" must be a number of MPI ranks from 1 to 4096"), -1;
			break;
		default:
			break;
		}
	}
	return 0;
}

/* Check a complete spec and fill the parts of a job that need no memory. */
static int spec_check(const struct spec *s, int *kind, char *err, size_t n)
{
	if (!s->type)
		return snprintf(err, n, "missing \"type\"; known types: " KNOWN_TYPES), -1;
	*kind = mjob_kind_parse(s->type);
	if (*kind < 0)
		return snprintf(err, n, "unknown type \"%.60s\"; known types: " KNOWN_TYPES, s->type), -1;
	if (s->input && !msg_is_str(s->input) && *kind != MJOB_FUNC)
		return snprintf(err, n, "\"input\" must be a string"), -1;
	if (*kind == MJOB_EXEC && (!s->input || !msg_str(s->input)[0]))
		return snprintf(err, n, "exec needs \"input\": the command line"), -1;
	if (s->ranks > 1 && *kind != MJOB_EXEC)
		return snprintf(err, n, "\"ranks\" is for exec jobs (an MPI program started with srun or mpirun)"), -1;
	if (*kind == MJOB_FUNC) {
		if (!s->target)
			return snprintf(err, n, "func needs \"target\": /path/lib.so:function"), -1;
		const char *colon = strrchr(s->target, ':');
		if (!colon || colon == s->target || !colon[1])
			return snprintf(err, n, "func target \"%.200s\" must look like /path/lib.so:function",
					s->target),
			       -1;
	}
	return 0;
}

/* One job object over optional defaults, parsed and checked exactly as
 * on_submit does (ids in "deps" included, not their existence): its kind,
 * or -1 with err set. Exposed for tests/fuzz/fuzz_jobspec.c and the unit
 * test of hostile job specs. */
int clients_spec_check(const msg *dflt, const msg *job, char *err, size_t n)
{
	struct spec d = {.retries = 3}, s;
	int kind = -1;
	int64_t dep;
	if (dflt && !msg_is_object(dflt))
		return snprintf(err, n, "\"defaults\" must be an object"), -1;
	if (dflt && spec_parse(&d, dflt, err, n))
		return -1;
	s = d;
	if (!msg_is_object(job))
		return snprintf(err, n, "a job must be an object"), -1;
	if (spec_parse(&s, job, err, n) || spec_check(&s, &kind, err, n))
		return -1;
	for (msg *x = msg_child(s.deps); x; x = msg_next(x))
		if (!is_int(x, 1, INT64_MAX / 2, &dep))
			return snprintf(err, n, "\"deps\" must be an array of job ids"), -1;
	return kind;
}

struct batch {
	struct mjob **jobs;
	msg **deps;
	char **deps_text;
	const char **input;  /* each job's input text, for the store (borrowed or in input_owned) */
	char **input_owned;  /* a func job's non-string input, printed */
	size_t n;
	char *dflt_env;
	uint64_t held_b;     /* input bytes the batch's jobs keep in memory */
};

static void batch_free(struct batch *b, int free_jobs)
{
	for (size_t i = 0; i < b->n; i++) {
		if (free_jobs)
			mjob_free(b->jobs[i]);
		free(b->deps_text[i]);
		free(b->input_owned[i]);
	}
	free(b->dflt_env);
	free(b->jobs);
	free(b->deps);
	free(b->deps_text);
	free(b->input);
	free(b->input_owned);
}

/* A submit frame re-sent after a lost acknowledgement (same client id and
 * req) gets the ids it got the first time: submission is exactly once.
 * 1 if m was such a frame (answered), else 0. Also forgets the client's
 * submit records below its "low". */
static int submit_again(struct peer *p, const msg *m, int64_t req)
{
	struct master *ms = p->m;
	struct client *cl = p->client;
	int64_t f0 = 0, n0 = 0;
	if (store_submit_find(ms->store, cl->cid, req, &f0, &n0) > 0) {
		log_info("client %s: submit req %lld again; it was stored as jobs %lld..%lld", cl->cid,
			 (long long)req, (long long)f0, (long long)(f0 + n0 - 1));
		msg *r = msg_new_typed("submitted");
		msg_set_int(r, "req", req);
		msg_set_int(r, "first", f0);
		msg_set_int(r, "n", n0);
		master_ack(p, r);
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

static int batch_alloc(struct batch *b, size_t n)
{
	memset(b, 0, sizeof *b);
	size_t k = n ? n : 1;
	b->jobs = calloc(k, sizeof *b->jobs);
	b->deps = calloc(k, sizeof *b->deps);
	b->deps_text = calloc(k, sizeof *b->deps_text);
	b->input = calloc(k, sizeof *b->input);
	b->input_owned = calloc(k, sizeof *b->input_owned);
	return b->jobs && b->deps && b->deps_text && b->input && b->input_owned ? 0 : -1;
}

/* Where job i (id) of a batch starting at first is checked against the
 * cluster: its ranks fit a connected worker, its deps name earlier jobs,
 * its environment was sent. The environment's id in *env_id (looked up
 * once per run of jobs sharing a key: *envk_last). 0, or -1 with err. */
static int job_admit(struct master *ms, const struct spec *s, int kind, size_t i, int64_t id, int64_t first,
		     const char **envk_last, int64_t *env_id, char *err, size_t n)
{
	/* All ranks hold slots of one worker: with workers connected and none
	 * that large, the job could never start. Before any worker connected
	 * it cannot be judged and is accepted. */
	uint32_t most = s->ranks > 1 ? workers_max_slots(ms) : 0;
	if (most && s->ranks > (int64_t)most)
		return snprintf(err, n,
				"job %zu: \"ranks\" %lld is more than the %u slots of the largest connected worker "
				"(a multi-rank job holds its ranks' slots on one worker); start workers with "
				"--slots %lld or more",
				i, (long long)s->ranks, most, (long long)s->ranks),
		       -1;
	for (msg *x = msg_child(s->deps); x; x = msg_next(x)) {
		int64_t dep;
		if (!is_int(x, 1, INT64_MAX / 2, &dep))
			return snprintf(err, n, "job %zu: \"deps\" must be an array of job ids", i), -1;
		if (dep >= id || (dep < first && !sched_find(&ms->sched, dep) && store_state(ms->store, dep) < 0))
			return snprintf(err, n, "job %zu: unknown dependency %lld (no earlier job has that id)", i,
					(long long)dep),
			       -1;
	}
	if (kind == MJOB_EXEC && s->envk && (!*envk_last || strcmp(*envk_last, s->envk) != 0)) {
		*env_id = store_env_find(ms->store, s->envk);
		*envk_last = s->envk;
		if (*env_id <= 0 || *env_id > UINT32_MAX)
			return snprintf(err, n,
					"job %zu: unknown environment \"%.64s\": send it in an env message on this "
					"connection first",
					i, s->envk),
			       -1;
	}
	return 0;
}

/* The job i of b from its spec s (defaults d), with its input held in
 * memory or left to the store (master_holds_input). 0, or -1 with err. */
static int job_build(struct peer *p, struct batch *b, const struct spec *s, const struct spec *d, int kind,
		     size_t i, int64_t id, int64_t env_id, char *err, size_t n)
{
	struct master *ms = p->m;
	const char *input = "";
	if (s->input)
		input = msg_is_str(s->input) ? msg_str(s->input) : (b->input_owned[i] = msg_print(s->input));
	if (!input) {
		b->n = i + 1;
		return snprintf(err, n, "out of memory for job %zu", i), -1;
	}
	size_t input_len = strlen(input);
	int hold = master_holds_input(ms, input_len, b->held_b);
	char *env_owned = NULL;
	const char *env = NULL;
	if (s->env)
		env = s->env == d->env ? b->dflt_env : (env_owned = msg_print(s->env));
	struct mjob *j = mjob_new(hold ? input : NULL, hold ? input_len : 0, kind == MJOB_FUNC ? s->target : NULL,
				  kind == MJOB_EXEC ? s->cwd : NULL, kind == MJOB_EXEC ? env : NULL,
				  kind == MJOB_EXEC && s->envk ? (uint32_t)env_id : 0);
	free(env_owned);
	b->input[i] = input;
	b->n = i + 1;
	if (!j)
		return snprintf(err, n, "out of memory for job %zu", i), -1;
	if (hold)
		b->held_b += input_len;
	else
		j->flags |= MJOB_F_STORED;
	j->id = id;
	j->kind = (uint8_t)kind;
	j->client = &p->client->sc;
	j->delay_s = kind == MJOB_ECHO ? s->delay : 0;
	j->timeout_s = s->timeout;
	j->treq = (uint32_t)(s->treq + 0.999);
	j->ranks = (uint16_t)(s->ranks > 1 ? s->ranks : 0);
	j->prio = (int32_t)s->prio;
	j->retries = (uint16_t)s->retries;
	j->crash_limit = (uint8_t)(s->crash_limit ? s->crash_limit : 1);
	b->jobs[i] = j;
	if (msg_size(s->deps)) {
		b->deps[i] = s->deps;
		b->deps_text[i] = msg_print(s->deps);
	}
	return 0;
}

/* Every job of a batch that passed its checks: stored and scheduled; one
 * whose dependency already failed fails at once. */
static void batch_commit(struct peer *p, struct batch *b, double now)
{
	struct master *ms = p->m;
	char why[64];
	for (size_t i = 0; i < b->n; i++) {
		struct mjob *j = b->jobs[i];
		store_insert(ms->store, j, b->input[i], strlen(b->input[i]), p->client->cid, b->deps_text[i], now);
		int64_t failed_dep = 0;
		for (msg *x = msg_child(b->deps[i]); x; x = msg_next(x)) {
			int64_t dep = msg_int(x);
			if (sched_wait_for(&ms->sched, j, dep) == 0)
				continue;
			if (store_state(ms->store, dep) != MJOB_COMPLETED && !failed_dep)
				failed_dep = dep;
		}
		if (sched_add(&ms->sched, j)) {
			store_finish(ms->store, j->id, MJOB_FAILED, 0, NULL, 0, NULL, 0, "out of memory in the master", 0, 0,
				     now);
			mjob_free(j);
			continue;
		}
		if (failed_dep) {
			snprintf(why, sizeof why, "dependency %lld failed", (long long)failed_dep);
			master_finalize(ms, j, MJOB_FAILED, NULL, 0, why, 0, 0);
		}
	}
}

static void on_submit(struct peer *p, msg *m)
{
	struct master *ms = p->m;
	int64_t req = 0;
	int has_req = msg_get_int(m, "req", &req) == 0;
	if (!p->client) {
		master_error(p, has_req, req, "bad_request", "send hello before submit");
		return;
	}
	if (has_req && submit_again(p, m, req))
		return;
	msg *jobs = msg_get(m, "jobs");
	msg *dflt = msg_get(m, "defaults");
	char err[400], why[300];
	if (!msg_is_array(jobs)) {
		master_error(p, has_req, req, "bad_request", "submit needs \"jobs\": an array of job objects");
		return;
	}
	struct spec d = {.retries = 3};
	if (dflt && (!msg_is_object(dflt) || spec_parse(&d, dflt, why, sizeof why))) {
		master_error(p, has_req, req, "bad_request", "defaults: %s",
			     msg_is_object(dflt) ? why : "must be an object");
		return;
	}
	size_t n = msg_size(jobs);
	struct batch b;
	if (batch_alloc(&b, n)) {
		batch_free(&b, 1);
		master_error(p, has_req, req, "busy", "out of memory for a batch of %zu jobs", n);
		return;
	}
	if (d.env)
		b.dflt_env = msg_print(d.env);
	int64_t first = ms->next_id, env_id = 0;
	const char *envk_last = NULL; /* jobs of a frame mostly share one snapshot */
	size_t i = 0;
	for (msg *e = msg_child(jobs); e; e = msg_next(e), i++) {
		struct spec s = d;
		int kind = 0;
		int64_t id = first + (int64_t)i;
		if (!msg_is_object(e)) {
			snprintf(err, sizeof err, "job %zu: not an object", i);
			goto refuse;
		}
		if (spec_parse(&s, e, why, sizeof why) || spec_check(&s, &kind, why, sizeof why)) {
			snprintf(err, sizeof err, "job %zu: %s", i, why);
			goto refuse;
		}
		if (job_admit(ms, &s, kind, i, id, first, &envk_last, &env_id, err, sizeof err) ||
		    job_build(p, &b, &s, &d, kind, i, id, env_id, err, sizeof err))
			goto refuse;
	}
	double now = util_wall();
	batch_commit(p, &b, now);
	ms->next_id += (int64_t)b.n;
	if (has_req)
		store_submit_add(ms->store, p->client->cid, req, first, (int64_t)n, now);
	batch_free(&b, 0);
	msg *r = msg_new_typed("submitted");
	if (has_req)
		msg_set_int(r, "req", req);
	msg_set_int(r, "first", first);
	msg_set_int(r, "n", (int64_t)n);
	master_ack(p, r);
	return;
refuse:
	batch_free(&b, 1);
	master_error(p, has_req, req, "bad_request", "%s", err);
}

/* ---- cancel ---- */

static void revoke_cancel(struct mjob *j)
{
	if (j->where != MJOB_ASSIGNED || !j->worker)
		return;
	struct wrk *w = wrk_of(j->worker);
	if (!w->peer || fbuf_item(&w->revoke_cancel))
		return;
	buf_addf(&w->revoke_cancel.b, "%lld", (long long)j->id);
	workers_dirty(w);
}

static void cancel_all_one(void *arg, struct mjob *j)
{
	struct master *m = arg;
	revoke_cancel(j);
	const char *wid = j->worker ? wrk_of(j->worker)->wid : NULL;
	clients_result(client_of(j->client), j, MJOB_CANCELLED, wid, NULL, 0, "cancelled", 0, 0);
	m->counts[MJOB_CANCELLED]++;
}

static void on_cancel(struct peer *p, msg *m)
{
	struct master *ms = p->m;
	int64_t req = 0;
	int has_req = msg_get_int(m, "req", &req) == 0;
	msg *r = msg_new_typed("cancelled");
	msg *unknown = msg_new_array(), *final = msg_new_array();
	int64_t n = 0;
	if (msg_get_bool(m, "all", 0)) {
		uint64_t t0 = util_mono_ns();
		/* Only a mark goes to the store now; the rows are rewritten a
		 * chunk per turn (on_check), so dispatch never stalls. */
		if (store_cancel_all(ms->store, util_wall(), ms->next_id, (int64_t)ms->sched.nlive)) {
			msg_free(r);
			msg_free(unknown);
			msg_free(final);
			master_error(p, has_req, req, "internal", "cancel failed: %s", store_errmsg(ms->store));
			return;
		}
		n = (int64_t)sched_cancel_all(&ms->sched, cancel_all_one, ms);
		for (size_t i = 0; i < ms->ctab_size; i++) {
			struct client *c = ms->ctab[i];
			while (c) {
				struct client *next = c->hnext;
				clients_maybe_free(c);
				c = next;
			}
		}
		log_info("cancelled all %lld unfinished jobs in %.3f s", (long long)n,
			 (double)(util_mono_ns() - t0) / 1e9);
	} else {
		int64_t *ids;
		size_t k;
		if (read_ids(msg_get(m, "ids"), &ids, &k)) {
			msg_free(r);
			msg_free(unknown);
			msg_free(final);
			master_error(p, has_req, req, "bad_request",
				     "cancel needs \"ids\": an array of job ids, or \"all\": true");
			return;
		}
		for (size_t i = 0; i < k; i++) {
			struct mjob *j = sched_find(&ms->sched, ids[i]);
			if (j) {
				revoke_cancel(j);
				master_finalize(ms, j, MJOB_CANCELLED, NULL, 0, "cancelled", 0, 0);
				n++;
				continue;
			}
			int st = ids[i] > 0 && ids[i] < ms->next_id ? store_state(ms->store, ids[i]) : -1;
			msg_push(st >= 0 ? final : unknown, msg_new_int(ids[i]));
		}
		free(ids);
	}
	if (has_req)
		msg_set_int(r, "req", req);
	msg_set_int(r, "n", n);
	msg_add(r, "unknown", unknown);
	msg_add(r, "final", final);
	master_ack(p, r);
}

/* ---- routing ---- */

void clients_on_msg(struct peer *p, msg *m)
{
	const char *t = msg_type(m);
	switch (t[0]) {
	case 'h':
		if (strcmp(t, "hello") == 0)
			return on_hello(p, m);
		break;
	case 's':
		if (strcmp(t, "submit") == 0)
			return on_submit(p, m);
		if (strcmp(t, "status") == 0)
			return query_status(p, m);
		if (strcmp(t, "shutdown") == 0) {
			msg *r = msg_new_typed("bye");
			int64_t req;
			if (msg_get_int(m, "req", &req) == 0)
				msg_set_int(r, "req", req);
			master_ack(p, r);
			master_shutdown(p->m);
			return;
		}
		break;
	case 'c':
		if (strcmp(t, "cancel") == 0)
			return on_cancel(p, m);
		break;
	case 'e':
		if (strcmp(t, "env") == 0)
			return on_env(p, m);
		break;
	case 'f':
		if (strcmp(t, "forget") == 0)
			return query_forget(p, m);
		break;
	case 'j':
		if (strcmp(t, "jobs") == 0)
			return query_jobs(p, m);
		break;
	case 'w':
		if (strcmp(t, "workers") == 0)
			return query_workers(p, m);
		if (strcmp(t, "wait") == 0)
			return query_wait(p, m);
		break;
	default:
		break;
	}
	int64_t req = 0;
	int has_req = msg_get_int(m, "req", &req) == 0;
	master_error(p, has_req, req, "protocol",
		     "unknown message type \"%.40s\" from a client; expected hello, env, submit, cancel, "
		     "status, jobs, workers, wait, forget or shutdown",
		     t);
}
