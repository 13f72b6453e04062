/* Customer names: one spelling, and no lookalikes.
 *
 * A customer's name is stored in Unicode NFC (every way of typing it finds
 * it); bidirectional controls, invisible (default-ignorable) characters and
 * leading or trailing spaces are refused; and a name whose case-folded
 * confusable skeleton (Unicode TS #39, via ICU) equals an existing one's is
 * refused: "c1001" beside "C1001", Cyrillic "С1001", "C100l". */
#ifndef CUSTFS_CNAME_H
#define CUSTFS_CNAME_H

#include <stddef.h>

#define CNAME_SKELETON_MAX 1024

/* NAME in NFC into OUT[NAME_MAX_BYTES + 1]. NULL if it is a customer name,
 * else the reason (name_problem's, or this module's). */
const char *cname_normalize(const char *name, char *out);
/* The lookalike key of a normalized name (case-folded skeleton), UTF-8 in
 * OUT. 0, or -1 if ICU cannot make one. */
int cname_skeleton(const char *nfc, char out[CNAME_SKELETON_MAX]);

#endif
