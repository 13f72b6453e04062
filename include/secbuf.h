/* Buffers for plaintext and keys, in sodium_malloc memory.
 *
 * MUST: every byte of customer plaintext that custfs holds lives in a secbuf:
 * locked (no swap), guarded, excluded from core dumps, and wiped on free. */
/* Needs crypto_init() (sodium_init) first: sodium_malloc aborts otherwise. */
#ifndef CUSTFS_SECBUF_H
#define CUSTFS_SECBUF_H

#include <stddef.h>

/* Hard cap on one field value (and one scratch file): bounds memory per handle. */
#define VALUE_MAX_BYTES (1024 * 1024)

/* A buffer holds at most its MAX bytes (0: SECBUF_DEFAULT_MAX, a value with
 * its file view's newline). */
#define SECBUF_DEFAULT_MAX (VALUE_MAX_BYTES + 1)

struct secbuf {
	unsigned char *data; /* sodium_malloc'd, or NULL while cap == 0 */
	size_t len;
	size_t cap;
	size_t max;
};

#define SECBUF_INIT { NULL, 0, 0, 0 }

/* Ensures room for CAP bytes (at most MAX), keeping the contents. 0, ENOMEM
 * or EFBIG. */
int secbuf_reserve(struct secbuf *b, size_t cap);
/* Writes N bytes at OFF, zero-filling any gap, growing LEN. 0, ENOMEM or EFBIG. */
int secbuf_write(struct secbuf *b, size_t off, const void *src, size_t n);
/* Sets LEN (zero-filling when growing). 0, ENOMEM or EFBIG. */
int secbuf_truncate(struct secbuf *b, size_t len);
/* Replaces the contents with a copy of SRC. */
int secbuf_set(struct secbuf *b, const void *src, size_t n);
/* Wipes and frees; B is empty afterwards and may be reused. */
void secbuf_free(struct secbuf *b);

/* A stdio stream that appends to B (stdio's own buffer is switched off, so
 * nothing written passes through unlocked memory). Fails with EFBIG past
 * VALUE_MAX_BYTES. NULL on ENOMEM. */
#include <stdio.h>
FILE *secbuf_stream(struct secbuf *b);

#endif
