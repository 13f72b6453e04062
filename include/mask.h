/* Masked forms of values (DOMAIN.md: interns see phone and email masked,
 * e.g. 138****5678). Masking works on characters, not bytes, so Chinese text
 * is masked whole characters at a time. */
#ifndef CUSTFS_MASK_H
#define CUSTFS_MASK_H

#include "policy.h"
#include "secbuf.h"

/* Replaces VALUE (valid UTF-8, no trailing newline) by its masked form.
 * A value too short to keep anything is masked entirely. 0 or ENOMEM/EFBIG. */
int mask_apply(const struct mask *m, struct secbuf *value);

#endif
