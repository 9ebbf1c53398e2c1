/* SPDX-License-Identifier: MIT */
/*
 * rhold: the worker's choice between sending its results now and holding
 * them up to RHOLD_MS for the next ones -- see rhold.h for why and when.
 */
#include "rhold.h"

uint64_t rhold_wait(struct rhold *h, uint64_t now_ms, int queued, size_t nheld)
{
	/* nothing queued: no further result is coming soon, and a lone job
	 * (a round trip) must not wait */
	if (!queued || nheld >= RHOLD_MAX)
		return 0;
	if (!h->since_ms) {
		/* the first frame, or one after a pause: no stream to wait for */
		if (!h->sent_ms || now_ms - h->sent_ms >= RHOLD_GAP_MS)
			return 0;
		h->since_ms = now_ms;
	}
	uint64_t end = h->since_ms + RHOLD_MS;
	return end > now_ms ? end - now_ms : 0;
}

void rhold_sent(struct rhold *h, uint64_t now_ms)
{
	h->sent_ms = now_ms ? now_ms : 1;
	h->since_ms = 0;
}
