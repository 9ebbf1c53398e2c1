/* SPDX-License-Identifier: MIT */
/*
 * rhold: the worker's choice between sending its results now and holding
 * them up to RHOLD_US for the next ones -- see rhold.h for why and when.
 */
#include "rhold.h"

uint64_t rhold_wait(struct rhold *h, uint64_t now_us, int queued, size_t nheld)
{
	/* nothing queued: no further result is coming soon, and a lone job
	 * (a round trip) must not wait */
	if (!queued || nheld >= RHOLD_MAX)
		return 0;
	if (!h->since_us) {
		/* the first frame, or one after a pause: no stream to wait for */
		if (!h->sent_us || now_us - h->sent_us >= RHOLD_GAP_US)
			return 0;
		h->since_us = now_us;
	}
	uint64_t end = h->since_us + RHOLD_US;
	return end > now_us ? (end - now_us + 999) / 1000 : 0;
}

void rhold_sent(struct rhold *h, uint64_t now_us)
{
	h->sent_us = now_us ? now_us : 1;
	h->since_us = 0;
}
