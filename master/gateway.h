/* SPDX-License-Identifier: MIT */
/*
 * gateway: job types served by an HTTP endpoint (mindtrace's gateway mode)
 * and registered apps (register_app's proxy routes), on the master's loop
 * through share/hclient (libcurl multi) -- no call ever waits on the loop.
 *
 * A job of an endpoint type is stored like any typed job and its whole Job
 * object POSTed to the endpoint in the same turn (the answer, which comes
 * in a later turn, is always recorded after the job's row);
 * the answer is parsed by mindtrace's rules (a missing or null status is
 * "completed", a missing output {}, a body that is not JSON reads as
 * {"status":"completed","output":{}}) and recorded as the job's final
 * state. Connection errors and 5xx answers are retried with backoff; a
 * timeout (the type's, default 60 s), a 4xx or the last failed retry
 * fails the job with the reason -- never mindtrace's stale "running". A
 * master restarted while a job was in flight forwards it again
 * (at-least-once, as for workers).
 *
 * An endpoint is a URL, or a path "APP/rest" resolved through the apps
 * (register_app name -> URL), or else a path on the master itself.
 */
#ifndef MTS_GATEWAY_H
#define MTS_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "call.h"

struct master;
struct outbox;
struct jobtype;
struct httpd_req;

/* Forward job id (a typed job of endpoint type t, already stored with
 * input payload and Job object job_json) now. If c is not NULL, the
 * call is answered with the job's JobStatus once the endpoint answered
 * (or with the error). 0, or -1 (out of memory: the job failed). */
int gateway_forward(struct master *m, const struct jobtype *t, int64_t id, const char *job_json,
		    const struct call *c);
/* The submit c waits for job id's answer (if it is in flight): 1, or 0
 * if it is not (the caller answers at once). */
int gateway_attach(struct master *m, int64_t id, const struct call *c);
/* Job id is in flight here (its JobStatus says running). */
int gateway_has(const struct master *m, int64_t id);
/* The transport of out is gone: answer nothing there. */
void gateway_forget_outbox(struct master *m, const struct outbox *out);

/* Apps (register_app): name -> url, in memory and in state.db (a setting
 * "app:NAME"); gateway_load reads them back at start. 0, or -1 with err. */
int gateway_load(struct master *m, char *err, size_t n);
int gateway_app_put(struct master *m, const char *name, const char *url, char *err, size_t n);
/* The URL of app name, or NULL. */
const char *gateway_app(const struct master *m, const char *name);

/* register_app's proxy route: if path is /NAME/rest for an app NAME, send
 * the request (method, body, its content type; never the caller's
 * Authorization) to the app's URL/rest and call done(arg, ...) with the
 * answer (status 502 and a {"detail"} body if the app could not be
 * reached); *call is the call, for gateway_proxy_cancel. 1 if it was an
 * app's path (done will be called, unless cancelled), 0 if not. */
typedef void (*gateway_proxy_fn)(void *arg, unsigned status, const char *content_type, const char *body,
				 size_t len);
int gateway_proxy(struct master *m, const char *method, const char *path, const char *body, size_t len,
		  const char *content_type, gateway_proxy_fn done, void *arg, void **call);
/* The caller is gone: done is not called. */
void gateway_proxy_cancel(void *call);

/* Close every call (at shutdown); on_closed(arg) once the client is gone. */
void gateway_close(struct master *m, void (*on_closed)(void *arg), void *arg);

/* The mindtrace endpoint register_app. */
void gateway_on_register_app(struct call *c, msg *m);

/* The mindtrace rules for an endpoint's answer (status, body) as the JSON
 * text {"status": S, "output": O} recorded as the job's output; *ok set to
 * 1 when S is "completed". Returns a new string, NULL for a status that is
 * not one of mindtrace's (the job then fails). Exposed for the unit test. */
char *gateway_parse_result(const char *body, size_t len, int *ok);

#endif
