/* SPDX-License-Identifier: MIT */
/*
 * cmdline: mtslurm-master's options as a table (see cmdline.h). An option
 * is found by its whole argument: a value is always the next argument
 * (`--port 7000`, never `--port=7000`); --http-tls=on and --http-tls=off
 * are options of their own. Every value is checked where it is read, so a
 * bad one is refused before anything starts.
 */
#include "cmdline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nametab.h"

const char cmdline_usage[] =
	"usage: mtslurm-master --run-dir DIR [--host 127.0.0.1] [--port 0] [--advertise HOST]\n"
	"                      [--master-works] [--prefetch N] [--max-queued N] [--input-memory BYTES]\n"
	"                      [--sync full|normal]\n"
	"                      [--idle-ms N] [--ping-ms N] [--orphan-grace-ms N] [--assign-defer-ms N]\n"
	"                      [--log-level LEVEL] [--autoscale RUN_DIR/autoscale.json]\n"
	"                      [--http HOST:PORT | --no-http] [--http-tls[=off]] [--http-insecure]\n"
	"                      [--foreground]\n"
	"  --http-tls: HTTPS with RUN_DIR/tls.crt (the default when --http is not a loopback address)\n"
	"  --http-insecure: allow plain HTTP (--http-tls=off) on an address other than loopback\n";

/* ---- values ---- */

/* A whole number from 0 to max into *out. */
static int num_arg(unsigned long long *out, const char *opt, const char *v, unsigned long long max, char *err,
		   size_t n)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (!*v || *end || errno || x > max || v[0] == '-')
		return snprintf(err, n, "%s needs a number from 0 to %llu, got \"%s\"; see mtslurm-master --help", opt,
				max, v),
		       -1;
	*out = x;
	return 0;
}

/* A byte count: digits with an optional K, M, G or T (powers of 1024). */
static int size_arg(uint64_t *out, const char *opt, const char *v, char *err, size_t n)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	int shift = 0;
	if (*v && v[0] != '-' && !errno && end != v && end[0] && !end[1]) {
		const char *units = "KMGT", *u = strchr(units, end[0] & ~0x20);
		shift = u ? 10 * (int)(u - units + 1) : -1;
		end++;
	}
	if (!*v || v[0] == '-' || errno || end == v || *end || shift < 0 || x < 1 || x > (1ull << 50) >> shift)
		return snprintf(err, n,
				"%s needs a size in bytes from 1 to 2^50, with an optional K, M, G or T (e.g. 512M), "
				"got \"%s\"; see mtslurm-master --help",
				opt, v),
		       -1;
	*out = (uint64_t)x << shift;
	return 0;
}

/* ---- setters: one per option, in the table's order ---- */

typedef int (*set_fn)(struct cmdline *cl, const char *opt, const char *v, char *err, size_t n);

/* A setter of a numeric field of cfg: the value checked from 0 to max. */
#define NUM_SETTER(fn, field, type, max)                                                            \
	static int fn(struct cmdline *cl, const char *opt, const char *v, char *err, size_t n)      \
	{                                                                                           \
		unsigned long long x;                                                               \
		if (num_arg(&x, opt, v, max, err, n))                                               \
			return -1;                                                                  \
		cl->cfg.field = (type)x;                                                            \
		return 0;                                                                           \
	}

static int set_advertise(struct cmdline *cl, const char *opt, const char *v, char *err, size_t n)
{
	cl->cfg.advertise = v;
	return 0;
}

static int set_assign_defer(struct cmdline *cl, const char *opt, const char *v, char *err, size_t n)
{
	unsigned long long x;
	if (num_arg(&x, opt, v, 86400000, err, n))
		return -1;
	cl->cfg.assign_defer_ms = (unsigned)x;
	cl->cfg.assign_defer_set = 1;
	return 0;
}

static int set_autoscale(struct cmdline *cl, const char *opt, const char *v, char *err, size_t n)
{
	cl->cfg.autoscale = v;
	return 0;
}

static int set_foreground(struct cmdline *cl, const char *opt, const char *v, char *err, size_t n)
{
	return 0; /* the master always runs in the foreground */
}

static int set_help(struct cmdline *cl, const char *opt, const char *v, char *err, size_t n)
{
	cl->help = 1;
	return 0;
}

static int set_host(struct cmdline *cl, const char *opt, const char *v, char *err, size_t n)
{
	cl->cfg.host = v;
	return 0;
}

/* --http HOST:PORT, [HOST]:PORT, :PORT or PORT (host 127.0.0.1). */
static int set_http(struct cmdline *cl, const char *opt, const char *v, char *err, size_t n)
{
	const char *colon = strrchr(v, ':');
	const char *port = colon ? colon + 1 : v;
	size_t hl = colon ? (size_t)(colon - v) : 0;
	unsigned long long p;
	if (hl >= 2 && v[0] == '[' && v[hl - 1] == ']')
		v++, hl -= 2;
	if (hl >= sizeof cl->http_host)
		return snprintf(err, n, "--http: host too long"), -1;
	memcpy(cl->http_host, v, hl);
	cl->http_host[hl] = '\0';
	cl->cfg.http_host = hl ? cl->http_host : NULL;
	if (num_arg(&p, "--http", port, 65535, err, n))
		return -1;
	cl->cfg.http_port = (int)p;
	return 0;
}

static int set_http_insecure(struct cmdline *cl, const char *opt, const char *v, char *err, size_t n)
{
	cl->cfg.http_insecure = 1;
	return 0;
}

static int set_http_tls_on(struct cmdline *cl, const char *opt, const char *v, char *err, size_t n)
{
	cl->cfg.http_tls = 1;
	return 0;
}

static int set_http_tls_off(struct cmdline *cl, const char *opt, const char *v, char *err, size_t n)
{
	cl->cfg.http_tls = 0;
	return 0;
}

NUM_SETTER(set_idle, idle_ms, unsigned, 86400000)

static int set_input_memory(struct cmdline *cl, const char *opt, const char *v, char *err, size_t n)
{
	return size_arg(&cl->cfg.input_mem_b, opt, v, err, n);
}

/* Checked once the log is open (main.c): an unknown level leaves info. */
static int set_log_level(struct cmdline *cl, const char *opt, const char *v, char *err, size_t n)
{
	cl->log_level = v;
	return 0;
}

static int set_master_works(struct cmdline *cl, const char *opt, const char *v, char *err, size_t n)
{
	cl->cfg.master_works = 1;
	return 0;
}

NUM_SETTER(set_max_queued, max_queued, uint64_t, 1ull << 40)

static int set_no_http(struct cmdline *cl, const char *opt, const char *v, char *err, size_t n)
{
	cl->cfg.no_http = 1;
	return 0;
}

NUM_SETTER(set_orphan_grace, orphan_grace_ms, unsigned, 86400000)
NUM_SETTER(set_ping, ping_ms, unsigned, 86400000)
NUM_SETTER(set_port, port, int, 65535)
NUM_SETTER(set_prefetch, prefetch, uint32_t, 1000000)

static int set_run_dir(struct cmdline *cl, const char *opt, const char *v, char *err, size_t n)
{
	cl->run_dir = v;
	return 0;
}

static int set_sync(struct cmdline *cl, const char *opt, const char *v, char *err, size_t n)
{
	if (strcmp(v, "normal") != 0 && strcmp(v, "full") != 0)
		return snprintf(err, n, "--sync takes full or normal, got \"%s\"", v), -1;
	cl->cfg.sync_normal = strcmp(v, "normal") == 0;
	return 0;
}

/* Sorted by name (strcmp order; nametab), checked by test_call. */
static const struct cmdline_option {
	const char *name;
	int takes_value; /* 1: the next argument is its value */
	set_fn set;
} options[] = {
	{"--advertise", 1, set_advertise},
	{"--assign-defer-ms", 1, set_assign_defer},
	{"--autoscale", 1, set_autoscale},
	{"--foreground", 0, set_foreground},
	{"--help", 0, set_help},
	{"--host", 1, set_host},
	{"--http", 1, set_http},
	{"--http-insecure", 0, set_http_insecure},
	{"--http-tls", 0, set_http_tls_on},
	{"--http-tls=off", 0, set_http_tls_off},
	{"--http-tls=on", 0, set_http_tls_on},
	{"--idle-ms", 1, set_idle},
	{"--input-memory", 1, set_input_memory},
	{"--log-level", 1, set_log_level},
	{"--master-works", 0, set_master_works},
	{"--max-queued", 1, set_max_queued},
	{"--no-http", 0, set_no_http},
	{"--orphan-grace-ms", 1, set_orphan_grace},
	{"--ping-ms", 1, set_ping},
	{"--port", 1, set_port},
	{"--prefetch", 1, set_prefetch},
	{"--run-dir", 1, set_run_dir},
	{"--sync", 1, set_sync},
	{"-h", 0, set_help},
};

#define NOPTIONS (sizeof options / sizeof options[0])

size_t cmdline_check(void)
{
	return nametab_check(options, NOPTIONS, sizeof options[0]);
}

int cmdline_parse(struct cmdline *cl, int argc, char **argv, char *err, size_t n)
{
	memset(cl, 0, sizeof *cl);
	cl->cfg.host = "127.0.0.1";
	cl->cfg.prefetch = UINT32_MAX;
	cl->cfg.http_tls = -1;
	for (int i = 1; i < argc && !cl->help; i++) {
		const char *a = argv[i], *v = NULL;
		const struct cmdline_option *o = nametab_find(options, NOPTIONS, sizeof options[0], a);
		if (!o)
			return snprintf(err, n, "unknown option \"%s\"; see mtslurm-master --help", a), -1;
		if (o->takes_value) {
			if (i + 1 >= argc)
				return snprintf(err, n, "%s needs a value; see mtslurm-master --help", o->name), -1;
			v = argv[++i];
		}
		if (o->set(cl, o->name, v, err, n))
			return -1;
	}
	return 0;
}
