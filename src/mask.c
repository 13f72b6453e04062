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

/* Writes KEEP_HEAD bytes, then '*' for each character of [head, tail), then the tail. */
static int rebuild(struct secbuf *v, size_t head_end, size_t tail_start)
{
	struct secbuf out = SECBUF_INIT;
	size_t stars = count_chars(v->data + head_end, tail_start - head_end);
	int rc = secbuf_write(&out, 0, v->data, head_end);
	for (size_t i = 0; !rc && i < stars; i++)
		rc = secbuf_write(&out, out.len, "*", 1);
	if (!rc)
		rc = secbuf_write(&out, out.len, v->data + tail_start, v->len - tail_start);
	if (!rc)
		rc = secbuf_set(v, out.data, out.len);
	secbuf_free(&out);
	return rc;
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
