/* SPDX-License-Identifier: MIT */
/*
 * bench_http: the master's HTTP service under load, with libcurl easy
 * handles kept alive (one connection per thread), against the cluster of
 * $MTSLURM_RUN_DIR (URL and token from master.json and RUN_DIR/token).
 *
 *   bench_http single N T   T threads submit N echo jobs in all, one per
 *                           POST /api/v1/jobs; prints "jobs_per_s R"
 *   bench_http wire N T     the same through the C API (one mts_submit per
 *                           job, a handle per thread): the wire protocol's
 *                           figure to compare the CPU per job with
 *   bench_http batch N B    N jobs as POST /api/v1/jobs of B jobs each
 *   bench_http rtt N        one job at a time: POST, then GET /api/v1/jobs/ID
 *                           until completed; prints "median US p99 US"
 *   bench_http post N T URL BODY   T threads POST BODY to URL (an absolute
 *                           URL, or a path on the master) N times in all;
 *                           prints "jobs_per_s R median US p99 US"
 *   bench_http mtjob N T URL TYPE  the same with a mindtrace Job of job
 *                           type TYPE and a fresh id each (submit_job, or a
 *                           worker's /run directly for the comparison)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "mtslurm.h"

static char base[600], auth[200];

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct sink {
	char buf[1 << 16];
	size_t n;
};

static size_t on_data(char *p, size_t sz, size_t nm, void *arg)
{
	struct sink *s = arg;
	size_t k = sz * nm;
	if (s->n + k < sizeof s->buf) {
		memcpy(s->buf + s->n, p, k);
		s->n += k;
		s->buf[s->n] = '\0';
	}
	return k;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_http: %s\n", what);
	exit(1);
}

static void load_cluster(void)
{
	const char *dir = getenv("MTSLURM_RUN_DIR");
	char path[512], text[4096], tok[100] = "";
	if (!dir)
		die("set MTSLURM_RUN_DIR");
	snprintf(path, sizeof path, "%s/master.json", dir);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
	if (f)
		fclose(f);
	text[n] = '\0';
	char *h = strstr(text, "\"http\":\"");
	if (!h)
		die("master.json has no http URL");
	h += 8;
	char *e = strchr(h, '"');
	snprintf(base, sizeof base, "%.*s", (int)(e - h), h);
	snprintf(path, sizeof path, "%s/token", dir);
	f = fopen(path, "r");
	if (!f || !fgets(tok, sizeof tok, f))
		die("cannot read the token");
	fclose(f);
	tok[strcspn(tok, "\n")] = '\0';
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
}

/* One POST (or GET when body is NULL); the HTTP status, the body in s. */
static long request(CURL *c, struct curl_slist *hdr, const char *url, const char *body, struct sink *s)
{
	s->n = 0;
	s->buf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POST, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	if (curl_easy_perform(c) != CURLE_OK)
		die("request failed");
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	return code;
}

struct worker {
	pthread_t t;
	int n, no;
	const char *url, *body;
	const char *jobtype; /* mtjob: fresh Job bodies of this type */
	double *lat;
	int wire;
};

static void *run(void *arg)
{
	struct worker *w = arg;
	if (w->wire) {
		mts_client *c;
		mts_options o = MTS_OPTIONS_INIT;
		if (mts_connect(&c, NULL, &o))
			die(mts_errmsg(c));
		mts_job j = MTS_JOB_INIT;
		j.type = "echo";
		j.input = "x";
		for (int i = 0; i < w->n; i++) {
			mts_job_id id;
			if (mts_submit(&id, c, &j))
				die(mts_errmsg(c));
		}
		mts_close(c);
		return NULL;
	}
	CURL *c = curl_easy_init();
	struct curl_slist *hdr = curl_slist_append(NULL, auth);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, "Expect:");
	struct sink *s = malloc(sizeof *s);
	char job[512];
	for (int i = 0; i < w->n; i++) {
		if (w->jobtype)
			snprintf(job, sizeof job,
				 "{\"id\":\"b%d-%d-%ld\",\"name\":\"%s\",\"schema_name\":\"%s\",\"payload\":{\"message\":\"x\"},"
				 "\"status\":\"queued\",\"created_at\":\"2026-01-01T00:00:00\"}",
				 w->no, i, (long)time(NULL), w->jobtype, w->jobtype);
		double a = now_us();
		long code = request(c, hdr, w->url, w->jobtype ? job : w->body, s);
		if (code != 200) {
			fprintf(stderr, "bench_http: HTTP %ld: %s\n", code, s->buf);
			exit(1);
		}
		if (w->lat)
			w->lat[i] = now_us() - a;
	}
	free(s);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return NULL;
}

static const char *g_jobtype;

static double threads(int n, int nt, const char *url, const char *body, int wire, double *lat)
{
	struct worker *w = calloc((size_t)nt, sizeof *w);
	double t0 = now_us();
	for (int i = 0; i < nt; i++) {
		w[i].n = n / nt + (i < n % nt);
		w[i].url = url;
		w[i].body = body;
		w[i].wire = wire;
		w[i].no = i;
		w[i].jobtype = g_jobtype;
		w[i].lat = lat ? lat + (size_t)i * (size_t)(n / nt + 1) : NULL;
		pthread_create(&w[i].t, NULL, run, &w[i]);
	}
	for (int i = 0; i < nt; i++)
		pthread_join(w[i].t, NULL);
	free(w);
	return (now_us() - t0) / 1e6;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		die("usage: bench_http single|wire|batch|rtt|post N ...");
	const char *mode = argv[1];
	int n = atoi(argv[2]), k = argc > 3 ? atoi(argv[3]) : 4;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	load_cluster();
	char url[800];
	snprintf(url, sizeof url, "%s/api/v1/jobs", base);
	if (!strcmp(mode, "single") || !strcmp(mode, "wire")) {
		double s = threads(n, k, url, "{\"type\":\"echo\",\"input\":\"x\"}", !strcmp(mode, "wire"), NULL);
		printf("jobs_per_s %.0f\n", n / s);
	} else if (!strcmp(mode, "batch")) {
		size_t cap = (size_t)k * 40 + 100;
		char *body = malloc(cap), *p = body;
		p += sprintf(p, "[");
		for (int i = 0; i < k; i++)
			p += sprintf(p, "%s{\"type\":\"echo\",\"input\":\"x\"}", i ? "," : "");
		sprintf(p, "]");
		double s = threads(n / k, 1, url, body, 0, NULL);
		printf("jobs_per_s %.0f\n", (double)(n / k) * k / s);
		free(body);
	} else if (!strcmp(mode, "rtt")) {
		CURL *c = curl_easy_init();
		struct curl_slist *hdr = curl_slist_append(NULL, auth);
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		struct sink *s = malloc(sizeof *s);
		double *t = calloc((size_t)n, sizeof *t);
		char one[900];
		for (int i = 0; i < n; i++) {
			double a = now_us();
			if (request(c, hdr, url, "{\"type\":\"echo\",\"input\":\"x\"}", s) != 200)
				die(s->buf);
			char *f = strstr(s->buf, "\"first\":");
			long long id = f ? atoll(f + 8) : 0;
			snprintf(one, sizeof one, "%s/%lld", url, id);
			for (int tries = 0;; tries++) {
				request(c, hdr, one, NULL, s);
				if (strstr(s->buf, "\"completed\""))
					break;
				if (tries > 100000)
					die("a job did not complete");
			}
			t[i] = now_us() - a;
		}
		qsort(t, (size_t)n, sizeof *t, cmp);
		printf("median %.0f p99 %.0f\n", t[n / 2], t[(size_t)((double)n * 0.99)]);
	} else if ((!strcmp(mode, "post") || !strcmp(mode, "mtjob")) && argc > 5) {
		if (!strcmp(mode, "mtjob"))
			g_jobtype = argv[5];
		char target[900];
		snprintf(target, sizeof target, "%s%s", strncmp(argv[4], "http", 4) ? base : "", argv[4]);
		double *lat = calloc((size_t)n + (size_t)k, sizeof *lat);
		double s = threads(n, k, target, argv[5], 0, lat);
		int m = 0;
		for (int i = 0; i < n + k; i++)
			if (lat[i] > 0)
				lat[m++] = lat[i];
		qsort(lat, (size_t)m, sizeof *lat, cmp);
		printf("jobs_per_s %.0f median %.0f p99 %.0f\n", n / s, lat[m / 2], lat[(size_t)((double)m * 0.99)]);
	} else {
		die("unknown mode");
	}
	return 0;
}
