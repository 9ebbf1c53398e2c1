/* SPDX-License-Identifier: MIT */
/*
 * procs: the worker processes a node started, and mindtrace's NodeWorker
 * table over them. A process is spawned with uv_spawn (so libuv reaps it
 * and tells us its exit), its output appended to RUN_DIR/logs/; once its
 * launch is ready it is a row (READY), found by name, id or port. A row
 * whose process ended stays as DEAD until a launch reuses its port (pass 2
 * of the port choice) or a shutdown deletes it; a shutdown of a live row
 * deletes the row at once and stops the process in the background (POST
 * /shutdown, then SIGTERM, then SIGKILL), so its port is free for the next
 * launch, which waits for the old process to be gone before it binds.
 */
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static void proc_unlink(struct proc *p)
{
	for (struct proc **pp = &p->n->procs; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			return;
		}
}

/* Free p once it is no row and none of its handles is open. */
static void proc_maybe_free(struct proc *p)
{
	if (p->handles || p->state == PROC_READY || p->state == PROC_DEAD || p->owner)
		return;
	proc_unlink(p);
	free(p);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct proc *p = h->data;
	p->handles--;
	p->n->handles--;
	proc_maybe_free(p);
}

static void on_proc_exit(uv_process_t *h, int64_t status, int sig)
{
	struct proc *p = h->data;
	char why[200];
	if (sig)
		snprintf(why, sizeof why, "killed by signal %d", sig);
	else
		snprintf(why, sizeof why, "exited with status %lld", (long long)status);
	log_info("worker %s (pid %ld, port %d) %s", p->id, p->pid, p->port, why);
	p->exited = 1;
	uv_timer_stop(&p->grace);
	uv_close((uv_handle_t *)&p->grace, on_handle_closed);
	uv_close((uv_handle_t *)&p->p, on_handle_closed);
	if (p->state == PROC_READY)
		p->state = PROC_DEAD;
	if (p->state == PROC_LAUNCHING && p->owner)
		p->on_exit(p->owner, why); /* it stops (frees) p */
}

struct proc *procs_spawn(struct node *n, const char *wtype, const char *id, const char *bind_host, int port,
			 const char *url, char *err, size_t errlen)
{
	struct proc *p = calloc(1, sizeof *p);
	if (!p)
		return snprintf(err, errlen, "out of memory"), NULL;
	p->n = n;
	p->port = port;
	util_strlcpy(p->id, id, sizeof p->id);
	util_strlcpy(p->name, id, sizeof p->name);
	util_strlcpy(p->url, url, sizeof p->url);
	util_strlcpy(p->wtype, wtype, sizeof p->wtype);
	char name[128], http[300];
	snprintf(name, sizeof name, "logs/worker-%s.out", id);
	snprintf(http, sizeof http, strchr(bind_host, ':') ? "[%s]:%d" : "%s:%d", bind_host, port);
	if (rundir_path(p->log, n->run_dir, name)) {
		free(p);
		return snprintf(err, errlen, "run directory path too long"), NULL;
	}
	int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", p->log, strerror(errno));
		free(p);
		return NULL;
	}
	/* --url: the master must know it by exactly the URL the node reports
	 * (register_job_to_worker finds the worker by it) */
	char *args[] = {n->worker_bin, "--no-mpi",    "--run-dir", n->run_dir, "--worker-type", (char *)wtype,
			"--http",      http,	      "--url",	   p->url,     "--id",	       p->id, NULL};
	uv_stdio_container_t io[3] = {{.flags = UV_IGNORE},
				      {.flags = UV_INHERIT_FD, .data.fd = fd},
				      {.flags = UV_INHERIT_FD, .data.fd = fd}};
	uv_process_options_t o = {.exit_cb = on_proc_exit, .file = n->worker_bin, .args = args, .stdio_count = 3,
				  .stdio = io};
	p->p.data = p->grace.data = p;
	int rc = uv_spawn(n->loop, &p->p, &o);
	close(fd);
	if (rc) {
		/* libuv: the handle must be closed even after a failed spawn */
		snprintf(err, errlen, "cannot run %s: %s", n->worker_bin, uv_strerror(rc));
		p->state = PROC_STOPPING;
		p->exited = 1;
		p->handles = 1;
		n->handles++;
		p->next = n->procs;
		n->procs = p;
		uv_close((uv_handle_t *)&p->p, on_handle_closed);
		return NULL;
	}
	uv_timer_init(n->loop, &p->grace);
	p->handles = 2;
	n->handles += 2;
	p->pid = p->p.pid;
	p->state = PROC_LAUNCHING;
	p->next = n->procs;
	n->procs = p;
	log_info("worker %s of type %s started: pid %ld, %s, output in %s", p->id, wtype, p->pid, url, p->log);
	return p;
}

static void on_grace(uv_timer_t *t)
{
	struct proc *p = t->data;
	if (p->exited)
		return;
	int sig = p->killed ? SIGKILL : SIGTERM;
	log_info("worker %s (pid %ld) still there after %d ms: %s", p->id, p->pid, NODE_GRACE_MS,
		 sig == SIGKILL ? "SIGKILL" : "SIGTERM");
	uv_process_kill(&p->p, sig);
	if (!p->killed++)
		uv_timer_start(&p->grace, on_grace, NODE_GRACE_MS, 0);
}

/* The reply to a worker's /shutdown changes nothing: the exit callback or
 * the grace timer decide. */
static void on_shutdown_sent(void *arg, const struct hclient_res *r)
{
	(void)arg;
	(void)r;
}

void procs_stop(struct proc *p)
{
	if (p->state == PROC_STOPPING)
		return;
	p->state = PROC_STOPPING;
	p->owner = NULL;
	if (p->exited) {
		proc_maybe_free(p);
		return;
	}
	struct hclient_opts o;
	node_call_opts(p->n, &o, 2.0, 0);
	char url[340];
	snprintf(url, sizeof url, "%s/shutdown", p->url);
	hclient_request(p->n->hc, url, "{}", 2, &o, on_shutdown_sent, NULL);
	uv_timer_start(&p->grace, on_grace, NODE_GRACE_MS, 0);
	log_info("worker %s (pid %ld, port %d) asked to shut down", p->id, p->pid, p->port);
}

int procs_alive(const struct proc *p)
{
	return !p->exited && rundir_pid_alive(p->pid);
}

struct proc *procs_row_by(struct node *n, const char *name, const char *id, int port)
{
	for (struct proc *p = n->procs; p; p = p->next) {
		if (p->state != PROC_READY && p->state != PROC_DEAD)
			continue;
		if ((name && !strcmp(p->name, name)) || (id && !strcmp(p->id, id)) || (port > 0 && p->port == port))
			return p;
	}
	return NULL;
}

struct proc *procs_on_port(struct node *n, int port, unsigned mask)
{
	for (struct proc *p = n->procs; p; p = p->next)
		if (p->port == port && (mask & (1u << p->state)))
			return p;
	return NULL;
}

void procs_forget(struct proc *p)
{
	p->state = PROC_STOPPING;
	proc_maybe_free(p);
}

size_t procs_running(const struct node *n)
{
	size_t k = 0;
	for (const struct proc *p = n->procs; p; p = p->next)
		k += !p->exited;
	return k;
}
