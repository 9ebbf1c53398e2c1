/* SPDX-License-Identifier: MIT */
/*
 * wapi: mindtrace's Worker endpoints on a worker (share/httpd.h on the
 * worker's loop, the cluster's API token). All POST, bodies and answers as
 * mindtrace's Worker and Service (docs/worker.md, "HTTP endpoints"):
 *
 *   /run                 a Job object: its payload runs through typed.h at
 *                        once, off the master; answers {"status","output"}
 *   /get_status          {"worker_id","status":"idle"|"running","job_id"}
 *   /connect_to_cluster  null (an mtslurm worker is connected by its wire
 *                        protocol already, and serves several job types)
 *   /start               null
 *   /status /heartbeat /server_id /class_name /endpoints /shutdown
 *
 * It knows nothing of the master: what runs there and how to leave come
 * from its owner's callbacks (wapi_ops). Not thread-safe: on the loop's
 * thread.
 */
#ifndef MTS_WAPI_H
#define MTS_WAPI_H

#include <stddef.h>
#include <uv.h>

struct wapi;
struct typed;

struct wapi_ops {
	/* The id of a job that runs now for the master, into id (n bytes):
	 * 1, or 0 if none does. */
	int (*running)(void *arg, char *id, size_t n);
	/* /shutdown was asked (called once its answer is out): leave as a
	 * drained worker does. */
	void (*shutdown)(void *arg);
	/* A /run job finished and was answered (a draining owner may be done). */
	void (*run_done)(void *arg);
};

struct wapi_cfg {
	const char *host;      /* NULL: 127.0.0.1 */
	int port;              /* 0: ephemeral */
	const char *token;     /* the cluster's API token (RUN_DIR/token) */
	const char *server_id; /* the worker's id (copied) */
	struct typed *typed;   /* /run runs here; borrowed, outlives the wapi */
	const struct wapi_ops *ops;
	void *arg;
	/* HTTPS with the cluster's identity (share/tlsid.h, PEM texts, copied
	 * by httpd), or both NULL for plain HTTP. */
	const char *tls_cert_pem;
	const char *tls_key_pem;
};

/* Listen and serve. 0, or -1 with a one-line reason in err. */
int wapi_start(struct wapi **out, uv_loop_t *loop, const struct wapi_cfg *cfg, char *err, size_t errlen);

/* The bound port. */
int wapi_port(const struct wapi *a);

/* /run jobs in progress. */
size_t wapi_running(const struct wapi *a);

/* Stop: /run jobs in progress are abandoned (answered 503), the listener
 * and every connection closed; done(arg) once every handle is closed. */
void wapi_stop(struct wapi *a, void (*done)(void *arg), void *arg);

/* 0 if the endpoint table is sorted (nametab_check): for the unit test. */
size_t wapi_endpoints_check(void);

#endif
