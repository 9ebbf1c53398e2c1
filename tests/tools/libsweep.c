/* SPDX-License-Identifier: MIT */
/*
 * libsweep: a sample shared library for the "func" executor, used by the
 * tests and the demo. Every function has the executor's signature
 *
 *     int fn(const char *input_json, char **output_json);
 *
 * simulate  {"t":0.1} -> {"t":0.1,"y":0.01}: copies the input object and adds
 *           y = t * t (t defaults to 0); 0 on success, 1 with
 *           {"error":"..."} when the input is not a JSON object.
 * fail_always  returns 1 with {"error":"fail_always always fails"}.
 * crash     calls abort(): the worker dies (the "worker lost" path).
 * jobenv    {} -> {"job":"ID","attempt":"A","worker":"W","run_dir":"D"}: the
 *           MTSLURM_* variables the function sees (values without quotes or
 *           backslashes assumed).
 *
 * Deliberately free of dependencies (no cJSON, not even libm): a tiny scan
 * for "t" is enough for a sample, and the library builds with `cc -shared`
 * and loads into any process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set_out(char **out, const char *s)
{
	*out = strdup(s);
	return *out ? 0 : -1;
}

/* The number after the key "t" at the top level of a flat object, or dflt. */
static double get_t(const char *json, double dflt)
{
	const char *p = json;
	while ((p = strstr(p, "\"t\"")) != NULL) {
		p += 3;
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (*p != ':')
			continue;
		char *end;
		double v = strtod(p + 1, &end);
		if (end != p + 1)
			return v;
	}
	return dflt;
}

int simulate(const char *input_json, char **output_json)
{
	const char *s = input_json ? input_json : "";
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t'))
		n--;
	if (n < 2 || s[0] != '{' || s[n - 1] != '}') {
		set_out(output_json, "{\"error\":\"simulate wants a JSON object such as {\\\"t\\\":0.1}\"}");
		return 1;
	}
	double t = get_t(s, 0.0);
	double y = t * t;
	/* the input object with "y" appended: {...,"y":Y} or {"y":Y} */
	int empty = 1;
	for (size_t i = 1; i + 1 < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			empty = 0;
	size_t cap = n + 64;
	char *out = malloc(cap);
	if (!out)
		return 2;
	int k;
	if (empty)
		k = snprintf(out, cap, "{\"y\":%.17g}", y);
	else
		k = snprintf(out, cap, "%.*s,\"y\":%.17g}", (int)(n - 1), s, y);
	if (k < 0 || (size_t)k >= cap) {
		free(out);
		return 2;
	}
	*output_json = out;
	return 0;
}

int fail_always(const char *input_json, char **output_json)
{
	(void)input_json;
	set_out(output_json, "{\"error\":\"fail_always always fails\"}");
	return 1;
}

int crash(const char *input_json, char **output_json)
{
	(void)input_json;
	(void)output_json;
	abort();
}

int jobenv(const char *input_json, char **output_json)
{
	(void)input_json;
	const char *v[4] = {getenv("MTSLURM_JOB_ID"), getenv("MTSLURM_ATTEMPT"), getenv("MTSLURM_WORKER"),
			    getenv("MTSLURM_RUN_DIR")};
	char buf[8192];
	snprintf(buf, sizeof buf, "{\"job\":\"%s\",\"attempt\":\"%s\",\"worker\":\"%s\",\"run_dir\":\"%s\"}",
		 v[0] ? v[0] : "", v[1] ? v[1] : "", v[2] ? v[2] : "", v[3] ? v[3] : "");
	return set_out(output_json, buf) ? 1 : 0;
}
