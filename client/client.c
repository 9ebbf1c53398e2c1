/* SPDX-License-Identifier: MIT */
/*
 * client: a handle's connection to the master -- connecting through the run
 * directory, reconnecting after the master restarts, the I/O thread (or the
 * caller's thread in MTS_POLL mode), pending requests and their replies, and
 * delivering callbacks. The other modules build requests and wait on them
 * through client_call().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "nametab.h"
#include "util.h"

#define PING_MS 2000
#define IDLE_MS 10000

void client_seterr(mts_client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
}

static int on_loop_thread(mts_client *c)
{
	return c->opt.mode == MTS_POLL || (c->has_thread && pthread_equal(pthread_self(), c->io_tid));
}

static void conn_ready_cb(struct conn *cn);
static void conn_msg_cb(struct conn *cn, msg *m);
static void conn_close_cb(struct conn *cn, const char *why);
static const struct conn_cb conn_cbs = {conn_ready_cb, conn_msg_cb, conn_close_cb};
static void schedule_retry(mts_client *c);

/* Called with the mutex held, on the loop thread. */
static void try_connect(mts_client *c)
{
	struct master_info mi;
	char err[512];
	char keypath[RUNDIR_PATH_MAX];
	if (c->conn || c->stopping)
		return;
	if (rundir_read_master(c->run_dir, &mi, err, sizeof err)) {
		util_strlcpy(c->why, err, sizeof c->why);
		c->conn_err = MTS_ENOMASTER;
		goto retry;
	}
	rundir_path(keypath, c->run_dir, "key");
	if (auth_key_load(c->key, keypath, 0, err, sizeof err)) {
		util_strlcpy(c->why, err, sizeof c->why);
		c->conn_err = MTS_EAUTH;
		goto retry;
	}
	struct conn_opts o = {.key = c->key, .role = "client", .ping_ms = PING_MS, .idle_ms = IDLE_MS};
	int r = conn_connect(&c->conn, &c->loop, mi.host, mi.port, &o, &conn_cbs, c);
	if (r < 0) {
		c->conn = NULL;
		snprintf(c->why, sizeof c->why, "cannot connect to the master at %s:%d: %s", mi.host, mi.port,
			 uv_strerror(r));
		c->conn_err = MTS_ENOMASTER;
		goto retry;
	}
	c->connecting = 1;
	return;
retry:
	if (!c->loop_ready) {
		/* Still inside mts_connect: report instead of retrying. */
		c->gave_up = 1;
		client_wake(c);
		return;
	}
	schedule_retry(c);
}

static void on_retry(uv_timer_t *t)
{
	mts_client *c = t->data;
	pthread_mutex_lock(&c->mu);
	try_connect(c);
	pthread_mutex_unlock(&c->mu);
}

/* Arm the reconnect timer with exponential backoff (100 ms .. 2 s). */
static void schedule_retry(mts_client *c)
{
	if (c->stopping)
		return;
	c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 100;
	if (c->backoff_ms > 2000)
		c->backoff_ms = 2000;
	uv_timer_start(&c->retry, on_retry, c->backoff_ms, 0);
}

static void send_pending(mts_client *c)
{
	if (!c->conn || !c->ready)
		return;
	for (struct req *r = c->reqs; r; r = r->next) {
		if (r->sent)
			continue;
		if (envsnap_send_for(c, r))
			continue;
		if (conn_send_json(c->conn, r->frame.p, r->frame.len) == 0)
			r->sent = 1;
	}
}

static void conn_ready_cb(struct conn *cn)
{
	mts_client *c = conn_data(cn);
	pthread_mutex_lock(&c->mu);
	c->conn_gen++; /* every env snapshot is new to this connection */
	struct buf b = BUF_INIT;
	buf_addf(&b, "{\"t\":\"hello\",\"client\":\"%s\",\"name\":", c->cid);
	buf_add_json_str(&b, c->name, strlen(c->name));
	/* After a reconnect: the jobs whose results may have been lost with the
	 * old connection (or master). Results already reported are dropped by
	 * handle_done, so bridging gaps between ranges is harmless. */
	mts_job_id *r = NULL;
	size_t n = 0;
	if (jobmap_ranges(&c->jobs, &r, &n, CLIENT_AWAIT_MAX) == 0 && n) {
		buf_adds(&b, ",\"await\":[");
		for (size_t i = 0; i < n; i++)
			buf_addf(&b, "%s[%lld,%lld]", i ? "," : "", (long long)r[2 * i], (long long)r[2 * i + 1]);
		buf_adds(&b, "]");
	}
	free(r);
	buf_adds(&b, "}");
	conn_send_json(cn, b.p, b.len);
	buf_release(&b);
	pthread_mutex_unlock(&c->mu);
}

static struct req *find_req(mts_client *c, int64_t no, int unlink)
{
	struct req *prev = NULL;
	for (struct req *r = c->reqs; r; prev = r, r = r->next) {
		if (r->no != no)
			continue;
		if (unlink) {
			if (prev)
				prev->next = r->next;
			else
				c->reqs = r->next;
			if (c->reqs_tail == r)
				c->reqs_tail = prev;
			r->next = NULL;
		}
		return r;
	}
	return NULL;
}

static mts_state state_of(const char *s)
{
	if (!s)
		return MTS_FAILED;
	if (!strcmp(s, "completed"))
		return MTS_COMPLETED;
	if (!strcmp(s, "cancelled"))
		return MTS_CANCELLED;
	if (!strcmp(s, "queued"))
		return MTS_QUEUED;
	if (!strcmp(s, "running"))
		return MTS_RUNNING;
	return MTS_FAILED;
}

/* `done`: route each result to its callback, future or map slot. */
static void handle_done(mts_client *c, msg *m)
{
	msg *jobs = msg_get(m, "jobs");
	size_t n = msg_size(jobs);
	struct cbbatch *bt = NULL;
	if (c->opt.on_done) {
		bt = malloc(sizeof *bt + n * sizeof bt->items[0]);
		if (bt) {
			bt->n = 0;
			bt->m = NULL;
			bt->next = NULL;
		}
	}
	for (msg *it = msg_child(jobs); it; it = msg_next(it)) {
		int64_t id = 0, v = 0;
		if (msg_get_int(it, "id", &id))
			continue;
		struct jobent e;
		if (jobmap_take(&c->jobs, id, &e))
			continue; /* not ours, or already reported: callbacks fire once */
		mts_result r;
		memset(&r, 0, sizeof r);
		r.id = id;
		r.state = state_of(msg_get_str(it, "state"));
		r.type = msg_get_str(it, "type");
		r.output = msg_get_str(it, "output");
		r.error = msg_get_str(it, "error");
		r.worker = msg_get_str(it, "worker");
		if (!msg_get_int(it, "rc", &v))
			r.rc = (int)v;
		if (!msg_get_int(it, "attempts", &v))
			r.attempts = (int)v;
		r.user = e.user;
		if (e.fut || e.keep) {
			mts_result *dst = e.fut ? &e.fut->r : e.keep;
			*dst = r;
			dst->type = r.type ? strdup(r.type) : NULL;
			dst->output = r.output ? strdup(r.output) : NULL;
			dst->error = r.error ? strdup(r.error) : NULL;
			dst->worker = r.worker ? strdup(r.worker) : NULL;
			if (e.fut)
				e.fut->done = 1;
			continue;
		}
		if (bt)
			bt->items[bt->n++].r = r;
	}
	if (bt && bt->n) {
		bt->m = m;
		bt->text = NULL;
		bt->ack = 0;
		client_queue_cb(c, bt);
	} else {
		free(bt);
		msg_free(m);
	}
	client_wake(c);
}

void client_queue_cb(mts_client *c, struct cbbatch *b)
{
	b->next = NULL;
	if (c->cbq_tail)
		c->cbq_tail->next = b;
	else
		c->cbq = b;
	c->cbq_tail = b;
	c->cb_pending += b->n;
}

/* Messages from the master; each handler runs under c->mu and owns m. */
static void on_done(mts_client *c, msg *m)
{
	handle_done(c, m);
}

static void on_hello_ok(mts_client *c, msg *m)
{
	c->ready = 1;
	c->connecting = 0;
	c->backoff_ms = 0;
	send_pending(c);
	client_wake(c);
	msg_free(m);
}

/* A reply (or error) to request "req"; an error without one means the
 * master is closing this connection: keep its reason. */
static void on_reply(mts_client *c, msg *m)
{
	int64_t no = 0;
	int is_error = strcmp(msg_type(m), "error") == 0;
	if (msg_get_int(m, "req", &no) == 0) {
		struct req *r = find_req(c, no, 1);
		if (r && r->nb) { /* only nbq makes such requests: c->nbq is set */
			c->nbq->on_reply(c, r, m, is_error);
			return;
		}
		if (r) {
			if (is_error) {
				const char *code = msg_get_str(m, "code");
				r->err = code && !strcmp(code, "unknown_job") ? MTS_EUNKNOWN_JOB : MTS_EREJECTED;
				snprintf(r->errmsg, sizeof r->errmsg, "%s",
					 msg_get_str(m, "msg") ? msg_get_str(m, "msg") : "the master refused the request");
			} else {
				if (r->reg) {
					int64_t first = 0;
					msg_get_int(m, "first", &first);
					jobmap_apply_reg(&c->jobs, r->reg, first);
				}
				r->reply = m;
				m = NULL;
			}
			r->done = 1;
			client_wake(c);
		}
	} else if (is_error) {
		snprintf(c->why, sizeof c->why, "%s",
			 msg_get_str(m, "msg") ? msg_get_str(m, "msg") : "the master closed the connection");
	}
	msg_free(m);
}

/* Sorted by name; every other type is a reply matched by its "req". */
struct master_msg {
	const char *name;
	void (*fn)(mts_client *c, msg *m);
};
static const struct master_msg master_msgs[] = {
	{"done", on_done},
	{"hello_ok", on_hello_ok},
};

static void conn_msg_cb(struct conn *cn, msg *m)
{
	mts_client *c = conn_data(cn);
	const struct master_msg *h =
		nametab_find(master_msgs, sizeof master_msgs / sizeof master_msgs[0], sizeof master_msgs[0], msg_type(m));
	pthread_mutex_lock(&c->mu);
	(h ? h->fn : on_reply)(c, m);
	pthread_mutex_unlock(&c->mu);
}

static void conn_close_cb(struct conn *cn, const char *why)
{
	mts_client *c = conn_data(cn);
	pthread_mutex_lock(&c->mu);
	c->conn = NULL;
	int was_ready = c->ready;
	c->ready = 0;
	c->connecting = 0;
	if (!was_ready && !strstr(c->why, "wrong cluster key"))
		util_strlcpy(c->why, why, sizeof c->why);
	if (strstr(c->why, "key"))
		c->conn_err = MTS_EAUTH;
	else
		c->conn_err = MTS_ENOMASTER;
	for (struct req *r = c->reqs; r; r = r->next)
		r->sent = 0;
	if (!was_ready && !c->loop_ready) {
		c->gave_up = 1;
	} else {
		schedule_retry(c);
	}
	client_wake(c);
	pthread_mutex_unlock(&c->mu);
}

static void shutdown_handles(mts_client *c)
{
	if (c->conn)
		conn_close(c->conn, NULL, "client closed");
	if (!uv_is_closing((uv_handle_t *)&c->wake)) {
		uv_close((uv_handle_t *)&c->wake, NULL);
		uv_close((uv_handle_t *)&c->retry, NULL);
		uv_close((uv_handle_t *)&c->tick, NULL);
	}
}

static void on_wake(uv_async_t *a)
{
	mts_client *c = a->data;
	pthread_mutex_lock(&c->mu);
	if (c->stopping) {
		shutdown_handles(c);
	} else {
		if (!c->conn && !c->connecting && !uv_is_active((uv_handle_t *)&c->retry))
			try_connect(c);
		send_pending(c);
	}
	pthread_mutex_unlock(&c->mu);
}

/* Deliver queued callbacks, with the mutex released. Returns how many. */
static int deliver(mts_client *c)
{
	int n = 0;
	pthread_mutex_lock(&c->mu);
	if (c->in_callback) {
		pthread_mutex_unlock(&c->mu);
		return 0;
	}
	while (c->cbq) {
		struct cbbatch *b = c->cbq;
		c->cbq = b->next;
		if (!c->cbq)
			c->cbq_tail = NULL;
		c->in_callback = 1;
		mts_ack_fn on_ack = c->on_ack; /* set under mu (mts_set_on_ack) */
		pthread_mutex_unlock(&c->mu);
		for (size_t i = 0; i < b->n; i++) {
			if (!b->ack)
				c->opt.on_done(&b->items[i].r, c->opt.arg);
			else if (on_ack)
				on_ack(&b->items[i].a, c->opt.arg);
		}
		pthread_mutex_lock(&c->mu);
		c->in_callback = 0;
		c->cb_pending -= b->n;
		n += (int)b->n;
		msg_free(b->m);
		free(b->text);
		free(b);
		client_wake(c);
	}
	pthread_mutex_unlock(&c->mu);
	return n;
}

static void *io_main(void *arg)
{
	mts_client *c = arg;
	for (;;) {
		int alive = uv_run(&c->loop, UV_RUN_ONCE);
		deliver(c);
		if (!alive)
			break;
	}
	return NULL;
}

static void on_tick(uv_timer_t *t) { (void)t; }

/* Run the loop in this thread until cond holds or the deadline passes.
 * Callbacks are delivered only if cbs is set: in MTS_POLL mode they run
 * inside mts_poll, mts_wait and mts_wait_all, never inside a submit or a
 * query (a program must be able to submit from any point of its code). */
static int drive(mts_client *c, client_cond cond, void *arg, int timeout_ms, int cbs)
{
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : util_mono_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		/* A result may have arrived while a submit ran the loop: deliver
		 * it before deciding to block, or the wait would sleep a tick. */
		if (cbs && c->opt.mode == MTS_POLL)
			deliver(c);
		pthread_mutex_lock(&c->mu);
		int ok = cond(c, arg, 0);
		pthread_mutex_unlock(&c->mu);
		if (ok)
			return MTS_OK;
		uint64_t now = util_mono_ns();
		if (now >= deadline)
			return MTS_ETIMEDOUT;
		uint64_t left_ms = deadline == UINT64_MAX ? 1000 : (deadline - now) / 1000000u + 1;
		uv_timer_start(&c->tick, on_tick, left_ms > 1000 ? 1000 : left_ms, 0);
		uv_run(&c->loop, UV_RUN_ONCE);
	}
}

struct waiter {
	client_cond cond;
	void *arg;
	pthread_cond_t cv;
	struct waiter *next;
};

void client_wake(mts_client *c)
{
	for (struct waiter *w = c->waiters; w; w = w->next)
		if (c->stopping || w->cond(c, w->arg, 1))
			pthread_cond_signal(&w->cv);
}

static void waiter_unlink(mts_client *c, struct waiter *w)
{
	struct waiter **pp = &c->waiters;
	while (*pp != w)
		pp = &(*pp)->next;
	*pp = w->next;
}

static int wait_until(mts_client *c, client_cond cond, void *arg, int timeout_ms, int cbs)
{
	if (timeout_ms == 0)
		timeout_ms = c->opt.timeout_ms;
	if (on_loop_thread(c))
		return drive(c, cond, arg, timeout_ms, cbs);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (timeout_ms >= 0) {
		ts.tv_sec += timeout_ms / 1000;
		ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
	}
	struct waiter w = {.cond = cond, .arg = arg};
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cv, &ca);
	pthread_condattr_destroy(&ca);
	int rc = MTS_OK;
	pthread_mutex_lock(&c->mu);
	w.next = c->waiters;
	c->waiters = &w;
	while (!cond(c, arg, 0)) {
		if (c->stopping) {
			rc = MTS_ECLOSED;
			break;
		}
		if (timeout_ms < 0) {
			pthread_cond_wait(&w.cv, &c->mu);
		} else if (pthread_cond_timedwait(&w.cv, &c->mu, &ts) == ETIMEDOUT) {
			rc = cond(c, arg, 0) ? MTS_OK : MTS_ETIMEDOUT;
			break;
		}
	}
	waiter_unlink(c, &w);
	pthread_mutex_unlock(&c->mu);
	pthread_cond_destroy(&w.cv);
	return rc;
}

void req_begin(mts_client *c, struct req *r, const char *type)
{
	memset(r, 0, sizeof *r);
	pthread_mutex_lock(&c->mu);
	r->no = ++c->next_req;
	pthread_mutex_unlock(&c->mu);
	buf_addf(&r->frame, "{\"t\":\"%s\",\"req\":%lld", type, (long long)r->no);
}

int64_t req_low(mts_client *c, const struct req *self)
{
	pthread_mutex_lock(&c->mu);
	int64_t low = self->no;
	for (struct req *r = c->reqs; r; r = r->next)
		if (r->no < low)
			low = r->no;
	pthread_mutex_unlock(&c->mu);
	return low;
}

void req_release(struct req *r)
{
	buf_release(&r->frame);
	msg_free(r->reply);
	r->reply = NULL;
	jobreg_free(r->reg);
	r->reg = NULL;
}

void client_link_locked(mts_client *c, struct req *r)
{
	if (c->reqs_tail)
		c->reqs_tail->next = r;
	else
		c->reqs = r;
	c->reqs_tail = r;
	if (on_loop_thread(c))
		send_pending(c);
	else
		uv_async_send(&c->wake);
}

/* Link r into the pending list and get it onto the wire. */
static void req_enqueue(mts_client *c, struct req *r)
{
	pthread_mutex_lock(&c->mu);
	client_link_locked(c, r);
	pthread_mutex_unlock(&c->mu);
}

static int req_is_done(mts_client *c, void *arg, int peek)
{
	(void)c;
	(void)peek;
	return ((struct req *)arg)->done;
}

static void req_unlink(mts_client *c, struct req *r)
{
	pthread_mutex_lock(&c->mu);
	if (!r->done)
		find_req(c, r->no, 1);
	pthread_mutex_unlock(&c->mu);
}

void client_send(mts_client *c, struct req *r)
{
	buf_adds(&r->frame, "}");
	req_enqueue(c, r);
}

int client_call(mts_client *c, struct req *r, int timeout_ms)
{
	client_send(c, r);
	return client_await(c, r, timeout_ms);
}

int client_await(mts_client *c, struct req *r, int timeout_ms)
{
	int rc = client_wait_until(c, req_is_done, r, timeout_ms);
	if (rc != MTS_OK) {
		req_unlink(c, r);
		if (rc == MTS_ETIMEDOUT) {
			pthread_mutex_lock(&c->mu);
			if (!c->ready)
				client_seterr(c, "no answer from the master within the timeout: %s", c->why);
			else
				client_seterr(c, "no answer from the master within the timeout");
			pthread_mutex_unlock(&c->mu);
		}
		return rc;
	}
	if (r->err)
		client_seterr(c, "%s", r->errmsg);
	return r->err;
}

int client_wait_until(mts_client *c, client_cond cond, void *arg, int timeout_ms)
{
	return wait_until(c, cond, arg, timeout_ms, 0);
}

/* After a failed connect: if master.json names a master on this node whose
 * process is gone, say so (the usual case after a crash or a reboot) and
 * return 1. Called with the mutex held. */
static int master_is_dead(mts_client *c)
{
	struct master_info mi;
	char err[512], host[256];
	if (rundir_read_master(c->run_dir, &mi, err, sizeof err))
		return 0;
	util_hostname(host, sizeof host);
	if (strcmp(mi.node, host) || mi.pid <= 0 || rundir_pid_alive(mi.pid))
		return 0;
	client_seterr(c, "the master of %s (pid %ld) is not running; mtslurm start restarts it, mtslurm stop cleans up",
		      c->run_dir, mi.pid);
	return 1;
}

static int connect_settled(mts_client *c, void *arg, int peek)
{
	(void)arg;
	(void)peek;
	return c->ready || c->gave_up;
}

MTS_API int mts_connect(mts_client **out, const char *run_dir, const mts_options *opt)
{
	if (!out)
		return MTS_EINVAL;
	mts_client *c = calloc(1, sizeof *c);
	*out = c;
	if (!c)
		return MTS_ENOMEM;
	mts_options dflt = MTS_OPTIONS_INIT;
	c->opt = opt ? *opt : dflt;
	if (c->opt.timeout_ms <= 0)
		c->opt.timeout_ms = 30000;
	util_strlcpy(c->name, c->opt.name ? c->opt.name : "libmtslurm", sizeof c->name);
	c->opt.name = NULL;
	pthread_mutex_init(&c->mu, NULL);
	char err[512];
	if (rundir_resolve(c->run_dir, run_dir, err, sizeof err)) {
		client_seterr(c, "%s", err);
		return MTS_EINVAL;
	}
	char nonce[AUTH_HEX_BYTES];
	if (auth_nonce(nonce)) {
		client_seterr(c, "cannot get random bytes for the client id");
		return MTS_ENOMEM;
	}
	util_strlcpy(c->cid, nonce, sizeof c->cid);
	if (uv_loop_init(&c->loop)) {
		client_seterr(c, "cannot create an event loop");
		return MTS_ENOMEM;
	}
	c->loop_inited = 1;
	uv_async_init(&c->loop, &c->wake, on_wake);
	uv_timer_init(&c->loop, &c->retry);
	uv_timer_init(&c->loop, &c->tick);
	c->wake.data = c->retry.data = c->tick.data = c;
	c->io_tid = pthread_self();
	pthread_mutex_lock(&c->mu);
	try_connect(c);
	int gave_up = c->gave_up;
	pthread_mutex_unlock(&c->mu);
	if (!gave_up && c->opt.mode == MTS_THREAD) {
		if (pthread_create(&c->thread, NULL, io_main, c) != 0) {
			client_seterr(c, "cannot start the I/O thread");
			return MTS_ENOMEM;
		}
		c->has_thread = 1;
		c->io_tid = c->thread;
	}
	int rc = gave_up ? MTS_OK : client_wait_until(c, connect_settled, NULL, c->opt.timeout_ms);
	pthread_mutex_lock(&c->mu);
	if (!c->ready) {
		if (c->gave_up || rc == MTS_OK) {
			rc = c->conn_err ? c->conn_err : MTS_ENOMASTER;
			if (rc == MTS_ENOMASTER && master_is_dead(c))
				; /* master_is_dead said it */
			else if (rc == MTS_ENOMASTER && !strstr(c->why, "mtslurm start") && !strstr(c->why, "no master"))
				client_seterr(c, "%s; is the cluster running? (mtslurm status, mtslurm start)", c->why);
			else
				client_seterr(c, "%s", c->why);
		} else {
			client_seterr(c, "the master did not answer within %d ms (%s)", c->opt.timeout_ms, c->why);
		}
		pthread_mutex_unlock(&c->mu);
		return rc == MTS_OK ? MTS_ETIMEDOUT : rc;
	}
	c->loop_ready = 1;
	pthread_mutex_unlock(&c->mu);
	return MTS_OK;
}

MTS_API void mts_close(mts_client *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stopping = 1;
	client_wake(c);
	pthread_mutex_unlock(&c->mu);
	if (c->loop_inited) {
		if (c->has_thread) {
			uv_async_send(&c->wake);
			pthread_join(c->thread, NULL);
		} else {
			pthread_mutex_lock(&c->mu);
			shutdown_handles(c);
			pthread_mutex_unlock(&c->mu);
			uv_run(&c->loop, UV_RUN_DEFAULT);
		}
		uv_loop_close(&c->loop);
	}
	while (c->cbq) {
		struct cbbatch *b = c->cbq;
		c->cbq = b->next;
		msg_free(b->m);
		free(b->text);
		free(b);
	}
	if (c->nbq)
		c->nbq->release(c);
	/* Futures still alive keep their memory; the map forgets them. */
	jobmap_release(&c->jobs);
	envsnap_release_all(c);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

MTS_API int mts_poll(mts_client *c, int timeout_ms)
{
	if (!c || c->opt.mode != MTS_POLL)
		return MTS_EINVAL;
	int n = deliver(c);
	if (n || timeout_ms == 0) {
		uv_run(&c->loop, UV_RUN_NOWAIT);
		return n + deliver(c);
	}
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : util_mono_ns() + (uint64_t)timeout_ms * 1000000u;
	while (!n) {
		uint64_t now = util_mono_ns();
		if (now >= deadline)
			break;
		uint64_t left_ms = deadline == UINT64_MAX ? 1000 : (deadline - now) / 1000000u + 1;
		uv_timer_start(&c->tick, on_tick, left_ms > 1000 ? 1000 : left_ms, 0);
		uv_run(&c->loop, UV_RUN_ONCE);
		n = deliver(c);
	}
	return n;
}

static int all_final(mts_client *c, void *arg, int peek)
{
	(void)arg;
	if (c->nbq && !peek)
		c->nbq->kick(c, 1); /* non-blocking submits count too: send what waits */
	return c->jobs.n == 0 && c->cb_pending == 0 && c->nb_unsettled == 0;
}

/* Waiting for callbacks from inside a callback could only time out: the
 * callbacks waited for are queued behind the one running. */
static int inside_callback(mts_client *c, const char *fn)
{
	pthread_mutex_lock(&c->mu);
	int inside = c->in_callback && on_loop_thread(c);
	pthread_mutex_unlock(&c->mu);
	if (inside)
		client_seterr(c, "%s cannot be called from inside on_done (it would wait for itself)", fn);
	return inside;
}

MTS_API int mts_wait_all(mts_client *c, int timeout_ms)
{
	if (!c)
		return MTS_EINVAL;
	if (inside_callback(c, "mts_wait_all"))
		return MTS_EINVAL;
	int rc = wait_until(c, all_final, NULL, timeout_ms < 0 ? -1 : timeout_ms ? timeout_ms : 1, 1);
	if (c->opt.mode == MTS_POLL)
		deliver(c);
	if (rc == MTS_ETIMEDOUT)
		client_seterr(c, "%zu jobs still unfinished after %d ms", mts_pending(c), timeout_ms);
	return rc;
}

struct waitone {
	mts_job_id id;
};

static int one_final(mts_client *c, void *arg, int peek)
{
	(void)peek;
	return !jobmap_has(&c->jobs, ((struct waitone *)arg)->id) && c->cb_pending == 0;
}

MTS_API int mts_wait(mts_client *c, mts_job_id id, int timeout_ms)
{
	if (!c)
		return MTS_EINVAL;
	if (inside_callback(c, "mts_wait"))
		return MTS_EINVAL;
	pthread_mutex_lock(&c->mu);
	int known = jobmap_has(&c->jobs, id);
	int ever = known || jobmap_submitted(&c->jobs, id);
	pthread_mutex_unlock(&c->mu);
	if (!ever) {
		client_seterr(c, "job %lld was not submitted through this handle (mts_wait_jobs waits for any job)",
			      (long long)id);
		return MTS_EUNKNOWN_JOB;
	}
	struct waitone w = {id};
	int rc = wait_until(c, one_final, &w, timeout_ms < 0 ? -1 : timeout_ms ? timeout_ms : 1, 1);
	if (c->opt.mode == MTS_POLL)
		deliver(c);
	if (rc == MTS_ETIMEDOUT)
		client_seterr(c, "job %lld still unfinished after %d ms", (long long)id, timeout_ms);
	return rc;
}

MTS_API size_t mts_pending(mts_client *c)
{
	if (!c)
		return 0;
	pthread_mutex_lock(&c->mu);
	size_t n = c->jobs.n + c->nb_unsettled;
	pthread_mutex_unlock(&c->mu);
	return n;
}

MTS_API const char *mts_state_name(int state)
{
	static const char *names[] = {"queued", "running", "completed", "failed", "cancelled"};
	return state >= 0 && state <= 4 ? names[state] : "unknown";
}

MTS_API const char *mts_strerror(int code)
{
	switch (code) {
	case MTS_OK:
		return "success";
	case MTS_EINVAL:
		return "invalid argument";
	case MTS_ENOMEM:
		return "out of memory";
	case MTS_ENOMASTER:
		return "no master reachable";
	case MTS_EAUTH:
		return "authentication failed";
	case MTS_ETIMEDOUT:
		return "timed out";
	case MTS_EREJECTED:
		return "rejected by the master";
	case MTS_EPROTO:
		return "protocol error";
	case MTS_ECLOSED:
		return "handle closed";
	case MTS_EUNKNOWN_JOB:
		return "unknown job";
	}
	return "unknown error code";
}

MTS_API const char *mts_errmsg(const mts_client *c)
{
	if (!c)
		return "no client handle (mts_connect ran out of memory?)";
	return c->err;
}

MTS_API void mts_free(void *p) { free(p); }
