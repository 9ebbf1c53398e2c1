/* SPDX-License-Identifier: MIT */
/*
 * mtapi: mindtrace-cluster's service API on the master -- the endpoints of
 * its ClusterManager and the base endpoints every mindtrace service has,
 * with the request and response shapes of /work/shared/mindtrace-api.md
 * (docs/service-api.md says where mtslurm differs: 404 for unknown ids,
 * at-least-once delivery, server-side schema validation, ...). Each
 * endpoint is a call handler (call.h) whose request is the POSTed body, so
 * any transport could carry them; http.c serves them at POST /NAME.
 */
#ifndef MTS_MTAPI_H
#define MTS_MTAPI_H

#include <stddef.h>

#include "call.h"

/* The endpoints, sorted by name ("submit_job", "status", ...). */
extern const struct call_handler mtapi_calls[];
extern const size_t mtapi_ncalls;

#endif
