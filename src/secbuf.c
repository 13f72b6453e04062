#include "secbuf.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

int secbuf_reserve(struct secbuf *b, size_t cap)
{
	if (cap <= b->cap && b->data)
		return 0;
	if (cap > VALUE_MAX_BYTES)
		return EFBIG;
	/* Grow geometrically from one page: sodium_malloc costs a few syscalls. */
	size_t ncap = b->cap ? b->cap : 4096;
	while (ncap < cap)
		ncap *= 2;
	if (ncap > VALUE_MAX_BYTES)
		ncap = VALUE_MAX_BYTES;
	unsigned char *n = sodium_malloc(ncap);
	if (!n)
		return ENOMEM;
	if (b->data) {
		memcpy(n, b->data, b->len);
		sodium_free(b->data); /* wipes */
	}
	b->data = n;
	b->cap = ncap;
	return 0;
}

int secbuf_write(struct secbuf *b, size_t off, const void *src, size_t n)
{
	if (off > VALUE_MAX_BYTES || n > VALUE_MAX_BYTES - off)
		return EFBIG;
	int rc = secbuf_reserve(b, off + n);
	if (rc)
		return rc;
	if (off > b->len)
		memset(b->data + b->len, 0, off - b->len);
	if (n)
		memcpy(b->data + off, src, n);
	if (off + n > b->len)
		b->len = off + n;
	return 0;
}

int secbuf_truncate(struct secbuf *b, size_t len)
{
	int rc = secbuf_reserve(b, len);
	if (rc)
		return rc;
	if (len > b->len)
		memset(b->data + b->len, 0, len - b->len);
	else if (b->data)
		sodium_memzero(b->data + len, b->len - len);
	b->len = len;
	return 0;
}

int secbuf_set(struct secbuf *b, const void *src, size_t n)
{
	int rc = secbuf_truncate(b, 0);
	return rc ? rc : secbuf_write(b, 0, src, n);
}

void secbuf_free(struct secbuf *b)
{
	if (b->data)
		sodium_free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
