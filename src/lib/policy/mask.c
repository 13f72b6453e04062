#include "mask.h"

#include <string.h>

/* Byte offset of the character after N characters from P (UTF-8). */
static size_t skip_chars(const unsigned char *p, size_t len, size_t n)
{
	size_t i = 0;
	while (i < len && n > 0) {
		i++;
		while (i < len && (p[i] & 0xc0) == 0x80)
			i++;
		n--;
	}
	return i;
}

static size_t count_chars(const unsigned char *p, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/* Hides the bytes of [head, tail) behind '*', one star a byte: a masked
 * value is exactly as long as the value, so its size is known without
 * decrypting it (stat never decrypts), and nothing else about it shows. */
static int rebuild(struct secbuf *v, size_t head_end, size_t tail_start)
{
	memset(v->data + head_end, '*', tail_start - head_end);
	return 0;
}

int mask_apply(const struct mask *m, struct secbuf *v)
{
	const unsigned char *p = v->data;
	size_t n = count_chars(p, v->len);

	switch (m->kind) {
	case MASK_NONE:
		return 0;
	case MASK_KEEP:
		if (n <= (size_t)m->first + (size_t)m->last)
			return rebuild(v, 0, v->len); /* too short to show any of it */
		return rebuild(v, skip_chars(p, v->len, (size_t)m->first),
			       skip_chars(p, v->len, n - (size_t)m->last));
	case MASK_EMAIL: {
		const unsigned char *at = v->len ? memchr(p, '@', v->len) : NULL;
		if (!at)
			return rebuild(v, 0, v->len);
		size_t local = (size_t)(at - p);
		size_t keep = count_chars(p, local) > 1 ? skip_chars(p, local, 1) : 0;
		return rebuild(v, keep, local);
	}
	}
	return rebuild(v, 0, v->len);
}
