#include "names.h"
#include "i18n.h"

#include <string.h>

bool utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t need;
		unsigned int cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i - 1 < need)
			return false;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

const char *name_problem(const char *name, size_t len, bool allow_dot)
{
	if (len == 0)
		return N_("name is empty");
	if (len > NAME_MAX_BYTES)
		return N_("name is longer than 255 bytes");
	if (memchr(name, '\0', len))
		return N_("name contains a NUL byte");
	if (memchr(name, '/', len))
		return N_("name contains '/'");
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return N_("name is '.' or '..'");
	if (!allow_dot && name[0] == '.')
		return N_("name starts with '.'");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f)
			return N_("name contains a control character");
	}
	if (!utf8_valid(name, len))
		return N_("name is not valid UTF-8");
	for (size_t i = 0; i + 1 < len; i++) /* C1 controls: U+0080..U+009F */
		if ((unsigned char)name[i] == 0xc2 && (unsigned char)name[i + 1] < 0xa0)
			return N_("name contains a control character");
	return NULL;
}

const char *name_for_log(const char *name, char out[NAME_LOG_MAX])
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)name;
	size_t o = 0;

	while (*p) {
		size_t n = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;
		if (o + 8 >= NAME_LOG_MAX) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (n == 1 && *p >= 0x20 && *p < 0x7f && *p != '\\') {
			out[o++] = (char)*p++;
		} else if (n > 1 && strnlen((const char *)p, n) == n &&
			   utf8_valid((const char *)p, n) && !(p[0] == 0xc2 && p[1] < 0xa0)) {
			memcpy(out + o, p, n); /* readable text, Chinese included */
			o += n;
			p += n;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
			p++;
		}
	}
	out[o] = '\0';
	return out;
}
