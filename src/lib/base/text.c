#include "text.h"
#include "i18n.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

/* The length of the UTF-8 sequence at S (at most N bytes) and its code
 * point, or 0 if it is not valid UTF-8. */
static size_t decode(const unsigned char *s, size_t n, unsigned *cp)
{
	size_t need = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
		      : s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
	if (!need || need > n || !utf8_valid((const char *)s, need))
		return 0;
	unsigned c = need == 1 ? s[0] : need == 2 ? s[0] & 0x1f : need == 3 ? s[0] & 0x0f : s[0] & 0x07;
	for (size_t i = 1; i < need; i++)
		c = (c << 6) | (s[i] & 0x3f);
	*cp = c;
	return need;
}

static bool is_bidi(unsigned cp)
{
	return cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

static bool is_control(unsigned cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
}

bool text_is_bidi(const unsigned char *s, size_t n)
{
	unsigned cp = 0;
	return decode(s, n, &cp) > 1 && is_bidi(cp);
}

const char *text_problem(const char *str, size_t len, bool multiline)
{
	const unsigned char *s = (const unsigned char *)str;
	if (!utf8_valid(str, len))
		return N_("is not valid UTF-8 text");
	for (size_t i = 0; i < len;) {
		unsigned cp = 0;
		size_t n = decode(s + i, len - i, &cp);
		if (!n)
			return N_("is not valid UTF-8 text");
		if (cp == '\n' && multiline) {
			i += n;
			continue;
		}
		if (is_control(cp))
			return N_("contains a control character");
		if (is_bidi(cp))
			return N_("contains a bidirectional control character");
		i += n;
	}
	return NULL;
}

#define INERT_BUFS 8
#define INERT_CAP 4200

const char *text_inert(const char *str)
{
	static __thread char bufs[INERT_BUFS][INERT_CAP];
	static __thread unsigned next;
	char *out = bufs[next++ % INERT_BUFS];
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	size_t len = strlen((const char *)s), o = 0;
	for (size_t i = 0; i < len && o + 12 < INERT_CAP;) {
		unsigned cp = 0;
		size_t n = decode(s + i, len - i, &cp);
		if (!n) {
			o += (size_t)snprintf(out + o, INERT_CAP - o, "\\x%02x", s[i]);
			i++;
		} else if (is_control(cp) || is_bidi(cp) || cp == '\\') {
			if (cp == '\\')
				o += (size_t)snprintf(out + o, INERT_CAP - o, "\\\\");
			else if (cp < 0x80)
				o += (size_t)snprintf(out + o, INERT_CAP - o, "\\x%02x", cp);
			else
				o += (size_t)snprintf(out + o, INERT_CAP - o, "\\u{%04x}", cp);
			i += n;
		} else {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		}
	}
	out[o] = '\0';
	return out;
}

void text_json(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	size_t len = strlen((const char *)s);
	putc('"', f);
	for (size_t i = 0; i < len;) {
		unsigned cp = 0;
		size_t n = decode(s + i, len - i, &cp);
		if (!n) {
			fputs("\\ufffd", f);
			i++;
			continue;
		}
		if (cp == '"' || cp == '\\')
			fprintf(f, "\\%c", (int)cp);
		else if (is_control(cp) || is_bidi(cp))
			fprintf(f, "\\u%04x", cp);
		else
			fwrite(s + i, 1, n, f);
		i += n;
	}
	putc('"', f);
}

bool text_whole_number(const char *s, long lo, long hi, long *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (*end || errno || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}
