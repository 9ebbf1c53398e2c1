/* SPDX-License-Identifier: MIT */
/*
 * metrics: Prometheus text exposition (see metrics.h). The numbers of the
 * master's families come from query_status_msg(), the very object GET
 * /api/v1/status and `mtslurm status` show, so a scrape and a status taken
 * in the same loop turn never disagree.
 */
#include "metrics.h"
#include "http.h"
#include "master.h"
#include "types.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void metrics_hist_init(struct metrics_hist *h, const double *le, size_t n)
{
	memset(h, 0, sizeof *h);
	h->le = le;
	h->n = n < METRICS_HIST_MAX ? n : METRICS_HIST_MAX;
}

void metrics_hist_observe(struct metrics_hist *h, double v)
{
	size_t i = 0;
	while (i < h->n && !(v <= h->le[i]))
		i++;
	h->bucket[i]++;
	h->count++;
	h->sum += v;
}

/* s with \ and newline escaped, and " too when quoted (label values); the
 * format allows nothing else to be escaped. */
static int add_escaped(struct buf *b, const char *s, int quoted)
{
	int rc = 0;
	for (const char *p = s; *p && rc == 0; p++) {
		if (*p == '\\')
			rc = buf_adds(b, "\\\\");
		else if (*p == '\n')
			rc = buf_adds(b, "\\n");
		else if (*p == '"' && quoted)
			rc = buf_adds(b, "\\\"");
		else
			rc = buf_add(b, p, 1);
	}
	return rc;
}

/* A value as the format reads it: whole numbers without a fraction, others
 * with the fewest digits that read back as the same double. */
static int add_value(struct buf *b, double v)
{
	if (isnan(v))
		return buf_adds(b, "NaN");
	if (isinf(v))
		return buf_adds(b, v > 0 ? "+Inf" : "-Inf");
	if (v == floor(v) && fabs(v) < 9007199254740992.0)
		return buf_add_i64(b, (int64_t)v);
	char s[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(s, sizeof s, "%.*g", prec, v);
		if (strtod(s, NULL) == v)
			break;
	}
	return buf_adds(b, s);
}

int metrics_family(struct buf *b, const char *name, const char *type, const char *help)
{
	int rc = buf_addf(b, "# HELP %s ", name);
	rc |= add_escaped(b, help, 0);
	rc |= buf_addf(b, "\n# TYPE %s %s\n", name, type);
	return rc ? -1 : 0;
}

int metrics_sample(struct buf *b, const char *name, const char *const *labels, double v)
{
	int rc = buf_adds(b, name);
	if (labels && labels[0]) {
		rc |= buf_adds(b, "{");
		for (size_t i = 0; labels[i]; i += 2) {
			rc |= buf_addf(b, "%s%s=\"", i ? "," : "", labels[i]);
			rc |= add_escaped(b, labels[i + 1] ? labels[i + 1] : "", 1);
			rc |= buf_adds(b, "\"");
		}
		rc |= buf_adds(b, "}");
	}
	rc |= buf_adds(b, " ");
	rc |= add_value(b, v);
	rc |= buf_adds(b, "\n");
	return rc ? -1 : 0;
}

int metrics_histogram(struct buf *b, const char *name, const char *help, const struct metrics_hist *h)
{
	char n[200], le[40];
	int rc = metrics_family(b, name, "histogram", help);
	snprintf(n, sizeof n, "%s_bucket", name);
	uint64_t cum = 0;
	for (size_t i = 0; i <= h->n; i++) {
		cum += h->bucket[i];
		if (i < h->n) {
			struct buf lb = BUF_INIT;
			rc |= add_value(&lb, h->le[i]);
			snprintf(le, sizeof le, "%s", lb.p ? lb.p : "0");
			buf_release(&lb);
		} else {
			snprintf(le, sizeof le, "+Inf");
		}
		const char *labels[] = {"le", le, NULL};
		rc |= metrics_sample(b, n, labels, (double)cum);
	}
	snprintf(n, sizeof n, "%s_sum", name);
	rc |= metrics_sample(b, n, NULL, h->sum);
	snprintf(n, sizeof n, "%s_count", name);
	rc |= metrics_sample(b, n, NULL, (double)h->count);
	return rc ? -1 : 0;
}

/* ---- the master's families ---- */

static double num_at(const msg *o, const char *key)
{
	int64_t v = 0;
	msg_get_int(o, key, &v);
	return (double)v;
}

static int master_jobs(struct buf *b, struct master *m, const msg *st)
{
	static const char *const states[] = {"queued", "prefetched", "running", "completed", "failed", "cancelled"};
	const msg *jo = msg_get(st, "jobs");
	int rc = metrics_family(b, "mtslurm_jobs", "gauge",
				"Jobs by state, as `mtslurm status` counts them: queued, prefetched and running now; "
				"completed, failed and cancelled held in state.db (forgetting jobs lowers them)");
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
		const char *labels[] = {"state", states[i], NULL};
		rc |= metrics_sample(b, "mtslurm_jobs", labels, num_at(jo, states[i]));
	}
	rc |= metrics_family(b, "mtslurm_jobs_by_type", "gauge",
			     "Jobs of each job type queued for its workers (its scheduler pool)");
	for (size_t i = 0; i < types_njobs(m); i++) {
		const struct jobtype *t = types_job_at(m, i);
		const char *labels[] = {"type", t->name, "state", "queued", NULL};
		rc |= metrics_sample(b, "mtslurm_jobs_by_type", labels, (double)sched_pool_queued(&m->sched, t->pool));
	}
	/* Job ids are handed out in order, never reused, and every id handed
	 * out is a stored job (store_forget keeps the newest row): so the ids
	 * so far count every job submitted, and those not live any more every
	 * job finished -- forgotten ones included, so both only grow. */
	double submitted = (double)(m->next_id - 1);
	rc |= metrics_family(b, "mtslurm_jobs_submitted_total", "counter",
			     "Jobs submitted since state.db was created (every transport; rate() gives jobs/s)");
	rc |= metrics_sample(b, "mtslurm_jobs_submitted_total", NULL, submitted);
	rc |= metrics_family(b, "mtslurm_jobs_finished_total", "counter",
			     "Jobs that reached a final state (completed, failed or cancelled) since state.db was created");
	rc |= metrics_sample(b, "mtslurm_jobs_finished_total", NULL, submitted - (double)m->sched.nlive);
	return rc;
}

static int master_workers(struct buf *b, const msg *st)
{
	const msg *wo = msg_get(st, "workers");
	int rc = metrics_family(b, "mtslurm_workers_connected", "gauge", "Workers connected to the master");
	rc |= metrics_sample(b, "mtslurm_workers_connected", NULL, num_at(wo, "connected"));
	rc |= metrics_family(b, "mtslurm_workers_lost_total", "counter",
			     "Workers lost (exited, released, connection ended) since the master started");
	rc |= metrics_sample(b, "mtslurm_workers_lost_total", NULL, num_at(wo, "lost"));
	rc |= metrics_family(b, "mtslurm_slots", "gauge", "Job slots of the connected workers");
	rc |= metrics_sample(b, "mtslurm_slots", NULL, num_at(wo, "slots"));
	rc |= metrics_family(b, "mtslurm_slots_busy", "gauge", "Slots holding a job");
	rc |= metrics_sample(b, "mtslurm_slots_busy", NULL, num_at(wo, "busy_slots"));
	return rc;
}

static int master_http(struct buf *b, struct master *m)
{
	struct http_counts c = {0};
	if (m->http)
		http_counts(m->http, &c);
	static const char *const codes[] = {"2xx", "4xx", "5xx"};
	const unsigned long long n[] = {c.s2xx, c.s4xx, c.s5xx};
	int rc = metrics_family(b, "mtslurm_http_requests_total", "counter",
				"HTTP requests answered since the master started, by class of status "
				"(401/413 refusals before routing are not counted)");
	for (size_t i = 0; i < 3; i++) {
		const char *labels[] = {"code", codes[i], NULL};
		rc |= metrics_sample(b, "mtslurm_http_requests_total", labels, (double)n[i]);
	}
	return rc;
}

/* Result gathering (server.c): results per commit is the ratio of the
 * first two. */
static int master_gather(struct buf *b, const struct master *m)
{
	const struct master_gather *g = &m->gather;
	int rc = metrics_family(b, "mtslurm_result_commits_total", "counter",
				"Commits of state.db that carried workers' results, since the master started");
	rc |= metrics_sample(b, "mtslurm_result_commits_total", NULL, (double)g->commits);
	rc |= metrics_family(b, "mtslurm_results_committed_total", "counter",
			     "Workers' results those commits carried (divided by the commits: results per commit)");
	rc |= metrics_sample(b, "mtslurm_results_committed_total", NULL, (double)g->results);
	rc |= metrics_family(b, "mtslurm_result_commits_gathered_total", "counter",
			     "Of those commits, the ones held back to gather more results (result gathering)");
	rc |= metrics_sample(b, "mtslurm_result_commits_gathered_total", NULL, (double)g->gathered);
	return rc;
}

int metrics_master(struct buf *b, struct master *m)
{
	msg *st = query_status_msg(m);
	if (!st)
		return -1;
	int rc = master_jobs(b, m, st);
	rc |= master_workers(b, st);
	msg_free(st);
	rc |= metrics_histogram(b, "mtslurm_store_sync_seconds",
				"Time of one fdatasync of state.db's WAL (a commit's durability), on the loop or the "
				"thread pool",
				&m->sync_hist);
	rc |= master_http(b, m);
	rc |= master_gather(b, m);
	return rc ? -1 : 0;
}
