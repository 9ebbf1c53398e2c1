/* SPDX-License-Identifier: MIT */
/*
 * fuzz_jobspec: the master's parsing of a submit message into jobs
 * (jobs_spec_check in master/clients.c, the checks on_submit runs on
 * "defaults" and each element of "jobs") on arbitrary JSON.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "master.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[400];
	msg *m = msg_parse((const char *)data, size, err, sizeof err);
	if (!m)
		return 0;
	const msg *dflt = msg_get(m, "defaults");
	const msg *jobs = msg_get(m, "jobs");
	if (!jobs)
		jobs = m; /* a bare job object */
	if (msg_is_object(jobs)) {
		err[0] = '\0';
		int k = jobs_spec_check(dflt, jobs, err, sizeof err);
		if (k < 0 && !err[0])
			abort(); /* a refusal says why */
	}
	for (msg *j = msg_is_array(jobs) ? msg_child(jobs) : NULL; j; j = msg_next(j)) {
		err[0] = '\0';
		int k = jobs_spec_check(dflt, j, err, sizeof err);
		if (k < 0 && !err[0])
			abort();
	}
	msg_free(m);
	return 0;
}
