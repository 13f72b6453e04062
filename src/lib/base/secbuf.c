#include "secbuf.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <sodium.h>
#include <string.h>

/* sodium_malloc costs mmap, mprotect and mlock, and sodium_free munmap with a
 * TLB shootdown on every core: too much for every open(). Page-sized buffers
 * (most values) are kept for reuse instead, wiped when returned, still locked
 * and guarded: first in a small pool of the thread's own (no lock), and when
 * that is empty or full, in a shared one. An open and its release usually run
 * on different threads of libfuse's pool, so without the shared pool one
 * thread's pool empties while another's overflows: 0.65 sodium_malloc and
 * sodium_free an open (issue 15). */
#define POOL_CAP 4096
#define POOL_MAX 32
#define SHARED_MAX 256 /* 1 MiB of wiped pages at most */

struct pool {
	unsigned char *buf[POOL_MAX];
	int n;
};

static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static struct {
	pthread_mutex_t lock;
	unsigned char *buf[SHARED_MAX];
	int n;
} shared = { .lock = PTHREAD_MUTEX_INITIALIZER };

static unsigned char *shared_take(void)
{
	unsigned char *p = NULL;
	pthread_mutex_lock(&shared.lock);
	if (shared.n > 0)
		p = shared.buf[--shared.n];
	pthread_mutex_unlock(&shared.lock);
	return p;
}

/* Gives a wiped page to the shared pool; false when it is full. */
static bool shared_give(unsigned char *p)
{
	pthread_mutex_lock(&shared.lock);
	bool kept = shared.n < SHARED_MAX;
	if (kept)
		shared.buf[shared.n++] = p;
	pthread_mutex_unlock(&shared.lock);
	return kept;
}

static void pool_release(void *p)
{
	struct pool *pl = p;
	for (int i = 0; i < pl->n; i++)
		if (!shared_give(pl->buf[i]))
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
	unsigned char *p = shared_take();
	return p ? p : sodium_malloc(POOL_CAP);
}

static void page_free(unsigned char *p)
{
	struct pool *pl = pool_get();
	sodium_memzero(p, POOL_CAP);
	if (pl && pl->n < POOL_MAX)
		pl->buf[pl->n++] = p;
	else if (!shared_give(p))
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
	size_t max = b->max ? b->max : SECBUF_DEFAULT_MAX;
	if (cap > max)
		return EFBIG;
	/* Grow geometrically from one page: sodium_malloc costs a few syscalls. */
	size_t ncap = b->cap ? b->cap : 4096;
	while (ncap < cap)
		ncap *= 2;
	if (ncap > max)
		ncap = max;
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
	size_t max = b->max ? b->max : SECBUF_DEFAULT_MAX;
	if (off > max || n > max - off)
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

static ssize_t stream_write(void *cookie, const char *buf, size_t n)
{
	struct secbuf *b = cookie;
	if (secbuf_write(b, b->len, buf, n) != 0) {
		errno = EFBIG;
		return -1;
	}
	return (ssize_t)n;
}

FILE *secbuf_stream(struct secbuf *b)
{
	cookie_io_functions_t io = { .write = stream_write };
	FILE *f = fopencookie(b, "w", io);
	if (f)
		setvbuf(f, NULL, _IONBF, 0);
	return f;
}
