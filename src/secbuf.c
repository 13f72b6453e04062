#include "secbuf.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

/* sodium_malloc costs mmap, mprotect and mlock, and sodium_free munmap with a
 * TLB shootdown on every core: too much for every open(). Page-sized buffers
 * (most values) are kept for reuse in a small per-thread pool instead, wiped
 * when returned, still locked and guarded. No lock: each thread its own pool. */
#define POOL_CAP 4096
#define POOL_MAX 32

struct pool {
	unsigned char *buf[POOL_MAX];
	int n;
};

static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_release(void *p)
{
	struct pool *pl = p;
	for (int i = 0; i < pl->n; i++)
		sodium_free(pl->buf[i]);
	sodium_free(pl);
}

static void pool_init(void)
{
	pthread_key_create(&pool_key, pool_release);
}

static struct pool *pool_get(void)
{
	pthread_once(&pool_once, pool_init);
	struct pool *pl = pthread_getspecific(pool_key);
	if (!pl && (pl = sodium_malloc(sizeof *pl))) {
		pl->n = 0;
		pthread_setspecific(pool_key, pl);
	}
	return pl;
}

static unsigned char *page_alloc(void)
{
	struct pool *pl = pool_get();
	if (pl && pl->n > 0)
		return pl->buf[--pl->n];
	return sodium_malloc(POOL_CAP);
}

static void page_free(unsigned char *p)
{
	struct pool *pl = pool_get();
	sodium_memzero(p, POOL_CAP);
	if (pl && pl->n < POOL_MAX)
		pl->buf[pl->n++] = p;
	else
		sodium_free(p);
}

static void release(unsigned char *p, size_t cap)
{
	if (cap == POOL_CAP)
		page_free(p);
	else
		sodium_free(p); /* wipes */
}

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
	unsigned char *n = ncap == POOL_CAP ? page_alloc() : sodium_malloc(ncap);
	if (!n)
		return ENOMEM;
	if (b->data) {
		memcpy(n, b->data, b->len);
		release(b->data, b->cap);
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
		release(b->data, b->cap);
	b->data = NULL;
	b->len = b->cap = 0;
}
