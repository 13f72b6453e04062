/* Which names, besides the catalogue's fields, a customer directory accepts:
 * the temporary and backup files of the tools people edit fields with (sed
 * -i, perl -i, gawk -i inplace, vim, nano, emacs, rsync, cp --backup,
 * LibreOffice, Python's tempfile). Any other name is a mistake (a mistyped
 * field would otherwise look saved and vanish at unmount: R3.6).
 *
 * Patterns are fnmatch(3) globs in which %f stands for any field of the
 * catalogue (`scratch PATTERN...` statements in access.conf; without one,
 * the built-in list below). */
#ifndef CUSTFS_SCRATCH_NAMES_H
#define CUSTFS_SCRATCH_NAMES_H

#include <stdbool.h>
#include <stddef.h>

struct catalog;

/* The built-in patterns, NULL-terminated. */
extern const char *const scratch_builtin[];

/* Why PATTERN cannot be a scratch pattern, or NULL. */
const char *scratch_pattern_problem(const char *pattern);

/* Whether NAME matches one of PATTERNS[0..N) (N == 0: the built-in list),
 * with %f standing for any field of CAT. */
bool scratch_name_allowed(const char *const *patterns, size_t n, const struct catalog *cat,
			  const char *name);

/* The catalogue field nearest to NAME (a typo: at most two edits away, and
 * closer than half its length), or NULL. */
const char *scratch_nearest_field(const struct catalog *cat, const char *name);

#endif
