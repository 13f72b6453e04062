/* Masked forms of values (DOMAIN.md: interns see phone and email masked,
 * e.g. 138****5678). What is kept is counted in characters (Chinese text
 * keeps whole characters); what is hidden becomes one '*' per byte, so a
 * masked value has the value's size and stat needs no decryption. */
#ifndef CUSTFS_MASK_H
#define CUSTFS_MASK_H

#include "policy.h"
#include "secbuf.h"

/* Replaces VALUE (valid UTF-8, no trailing newline) by its masked form.
 * A value too short to keep anything is masked entirely. 0 or ENOMEM/EFBIG. */
int mask_apply(const struct mask *m, struct secbuf *value);

#endif
