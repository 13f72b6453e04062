/* Safe names for customer directories, field files and scratch files.
 *
 * Every name that reaches the store or the mount passes through here. A name is
 * refused when it could escape a directory, confuse a tool, or is not text:
 * empty, "." or "..", contains '/' or NUL, is longer than NAME_MAX_BYTES, is not
 * valid UTF-8 (overlong forms and surrogates included), or holds a control
 * character (C0, DEL or C1). Chinese and other UTF-8 names are fine. */
#ifndef CUSTFS_NAMES_H
#define CUSTFS_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define NAME_MAX_BYTES 255

/* Returns NULL if NAME (LEN bytes, not necessarily NUL-terminated) is safe, else a
 * short English reason. Leading '.' is refused unless ALLOW_DOT; custfs keeps
 * dot-names for editors' scratch files and its own control directory. */
const char *name_problem(const char *name, size_t len, bool allow_dot);

/* Convenience for NUL-terminated names: the strlen is part of the check. */
static inline bool name_ok(const char *name, bool allow_dot)
{
	size_t n = 0;
	while (n <= NAME_MAX_BYTES && name[n])
		n++;
	return name_problem(name, n, allow_dot) == NULL;
}

/* A refused name, made safe to log: control and invalid bytes become \xNN,
 * and it is cut at about 80 bytes. Returns OUT. */
#define NAME_LOG_MAX 96
const char *name_for_log(const char *name, char out[NAME_LOG_MAX]);

/* Validates LEN bytes as UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
bool utf8_valid(const char *s, size_t len);

#endif
