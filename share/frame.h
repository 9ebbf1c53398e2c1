/* SPDX-License-Identifier: MIT */
/*
 * frame: the wire unit. A frame is a 4-byte big-endian payload length followed
 * by that many bytes of one JSON object. A reader accumulates bytes from a
 * stream and hands out whole frames; it enforces a hard size limit so that a
 * peer announcing a 4 GB frame is refused before a byte of it is buffered.
 *
 * Invariant: after frame_reader_next() returned a payload, that pointer stays
 * valid until the next call to any frame_reader_* function on the reader.
 */
#ifndef MTS_FRAME_H
#define MTS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HDR_BYTES 4
#define FRAME_MAX_DEFAULT (64u << 20) /* 64 MiB: a batch of ~500k small jobs */

/* Error codes returned by frame_reader_next(). */
#define FRAME_OK 1        /* a whole frame was returned */
#define FRAME_AGAIN 0     /* need more bytes */
#define FRAME_ETOOBIG -1  /* the header announces more than the reader's max */
#define FRAME_EEMPTY -2   /* a zero-length frame (never valid JSON) */
#define FRAME_ENOMEM -3

struct frame_reader {
	char *buf;   /* owned */
	size_t len;  /* bytes buffered */
	size_t off;  /* start of the first unconsumed byte */
	size_t cap;
	size_t max;  /* largest payload accepted */
};

/* Initialise an empty reader accepting payloads up to max bytes (0 means
 * FRAME_MAX_DEFAULT). Never fails; the buffer is allocated lazily. */
void frame_reader_init(struct frame_reader *r, size_t max);

/* Free the buffer. The reader may be initialised again afterwards. */
void frame_reader_release(struct frame_reader *r);

/* Give the caller room to read at least want bytes into: *p and *n describe
 * writable space at the end of the buffer. Returns 0, or FRAME_ENOMEM. Used
 * from a libuv alloc callback so that bytes land in place, without a copy. */
int frame_reader_space(struct frame_reader *r, size_t want, char **p, size_t *n);

/* Declare that n bytes were written into the space returned last. */
void frame_reader_commit(struct frame_reader *r, size_t n);

/* Append n bytes (a copy). Returns 0 or FRAME_ENOMEM. */
int frame_reader_feed(struct frame_reader *r, const char *data, size_t n);

/* Change the largest payload accepted from now on (e.g. raise it once a
 * peer has authenticated). 0 means FRAME_MAX_DEFAULT. */
void frame_reader_set_max(struct frame_reader *r, size_t max);

/* Take the next whole frame. Returns FRAME_OK with *payload and *len set
 * (borrowed, see the invariant above), FRAME_AGAIN when incomplete, or a
 * negative error; after an error the stream is unusable and should be closed. */
int frame_reader_next(struct frame_reader *r, const char **payload, size_t *len);

/* Hand out the bytes buffered but not yet returned as frames and drop them
 * from the reader: *p (borrowed, valid until the next frame_reader_* call)
 * and the count. For a stream whose framing changes after some frame (conn
 * switches to sealed records after the handshake). */
size_t frame_reader_take_rest(struct frame_reader *r, const char **p);

/* The length announced by the next buffered header (0 if fewer than 4 bytes
 * are buffered), so an error can say how big the refused frame claimed to be. */
uint32_t frame_reader_announced(const struct frame_reader *r);

/* Write the 4-byte header for a payload of len bytes. */
void frame_put_header(unsigned char hdr[FRAME_HDR_BYTES], uint32_t len);

/* Human-readable text for a FRAME_E* code; never NULL. */
const char *frame_strerror(int code);

#endif
