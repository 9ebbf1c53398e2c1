/* SPDX-License-Identifier: MIT */
/*
 * fuzz_frame: the frame decoder (share/frame.c) on arbitrary bytes, fed in
 * chunks whose sizes come from the input, both through frame_reader_feed and
 * through the in-place space/commit path the connections use. Every frame
 * handed out must lie inside what was fed and respect the reader's limit; an
 * error must be sticky (the stream is unusable after it).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	/* byte 0: the limit (tiny to 64 MiB); byte 1: the chunk size */
	size_t max = data[0] < 128 ? (size_t)data[0] + 1 : (size_t)data[0] << 18;
	size_t chunk = (size_t)data[1] % 61 + 1;
	data += 2;
	size -= 2;
	struct frame_reader r;
	frame_reader_init(&r, max);
	size_t fed = 0, taken = 0;
	int dead = 0;
	while (fed < size && !dead) {
		size_t n = size - fed < chunk ? size - fed : chunk;
		if (fed & 1) {
			if (frame_reader_feed(&r, (const char *)data + fed, n))
				abort();
		} else {
			char *p;
			size_t room;
			if (frame_reader_space(&r, n, &p, &room) || room < n)
				abort();
			memcpy(p, data + fed, n);
			frame_reader_commit(&r, n);
		}
		fed += n;
		for (;;) {
			const char *payload;
			size_t len;
			int rc = frame_reader_next(&r, &payload, &len);
			if (rc == FRAME_AGAIN)
				break;
			if (rc != FRAME_OK) {
				if (frame_reader_next(&r, &payload, &len) != rc)
					abort(); /* an error is not forgotten */
				(void)frame_strerror(rc);
				(void)frame_reader_announced(&r);
				dead = 1;
				break;
			}
			if (len == 0 || len > max)
				abort();
			taken += len + FRAME_HDR_BYTES;
			if (taken > fed)
				abort();
			/* the payload is the input's bytes, at the right place */
			if (memcmp(payload, data + taken - len, len) != 0)
				abort();
		}
	}
	frame_reader_release(&r);
	return 0;
}
