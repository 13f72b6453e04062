/* Display width by mbrtowc and wcwidth, under a UTF-8 locale of this
 * thread's own (uselocale), so it does not depend on the locale custfs or
 * custctl was started in, and the daemon's threads may call it at once. */
#include "width.h"

#include <locale.h>
#include <pthread.h>
#include <string.h>
#include <wchar.h>

static locale_t utf8;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void make_utf8(void)
{
	utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	if (!utf8)
		utf8 = newlocale(LC_CTYPE_MASK, "en_US.UTF-8", (locale_t)0);
}

/* Without a UTF-8 locale at all: East Asian wide ranges by hand. */
static int fallback_width(wchar_t c)
{
	if (c < 0x20 || (c >= 0x7f && c < 0xa0))
		return 1;
	if ((c >= 0x0300 && c <= 0x036f) || c == 0x200b)
		return 0;
	if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf && c != 0x303f) ||
	    (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
	    (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
	    (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1faff) ||
	    (c >= 0x20000 && c <= 0x3fffd))
		return 2;
	return 1;
}

int text_width(const char *s)
{
	pthread_once(&once, make_utf8);
	locale_t old = utf8 ? uselocale(utf8) : (locale_t)0;
	mbstate_t st;
	memset(&st, 0, sizeof st);
	size_t len = strlen(s);
	int w = 0;
	while (len > 0) {
		wchar_t c;
		size_t n = utf8 ? mbrtowc(&c, s, len, &st) : (size_t)-1;
		if (!utf8) {
			/* decode by hand */
			const unsigned char *u = (const unsigned char *)s;
			size_t need = u[0] < 0x80 ? 1 : (u[0] >> 5) == 6 ? 2 : (u[0] >> 4) == 14 ? 3
				      : (u[0] >> 3) == 30 ? 4 : 0;
			if (need == 0 || need > len) {
				n = (size_t)-1;
			} else {
				c = need == 1 ? u[0] : (wchar_t)(u[0] & (0x7f >> need));
				for (size_t k = 1; k < need; k++)
					c = (c << 6) | (u[k] & 0x3f);
				n = need;
			}
		}
		if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
			memset(&st, 0, sizeof st);
			w++; /* an invalid byte: shown escaped, at least one column */
			s++;
			len--;
			continue;
		}
		int cw = utf8 ? wcwidth(c) : fallback_width(c);
		w += cw < 0 ? 1 : cw;
		s += n;
		len -= n;
	}
	if (old)
		uselocale(old);
	return w;
}

int text_pad(const char *s, int width)
{
	int w = text_width(s);
	return w >= width ? 0 : width - w;
}

void text_put_padded(FILE *out, const char *s, int width)
{
	fprintf(out, "%s%*s", s, text_pad(s, width), "");
}

const char *text_padded(const char *s, int width)
{
	static __thread char ring[16][1152];
	static __thread unsigned next;
	char *out = ring[next++ % 16];
	int pad = text_pad(s, width);
	snprintf(out, sizeof ring[0], "%s%*s", s, pad, "");
	return out;
}
