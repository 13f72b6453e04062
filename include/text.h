/* Text that people type (reasons, purposes, notes, names of people) and text
 * custfs prints that came from elsewhere (process names, stored texts).
 *
 * MUST: typed text is refused at input if it is not UTF-8 or holds a control
 * character (C0, DEL, C1) or a bidirectional control; every untrusted string
 * printed for a terminal goes through text_inert (or text_json), so it shows
 * and does nothing: no forged line, no cleared screen, no reordered text. */
#ifndef CUSTFS_TEXT_H
#define CUSTFS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* NULL if LEN bytes of S are acceptable typed text, else a reason in plain
 * words. MULTILINE allows '\n' (appeals, reports). */
const char *text_problem(const char *s, size_t len, bool multiline);
/* Whether the UTF-8 sequence at S (N bytes) is a bidirectional control
 * (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069). */
bool text_is_bidi(const unsigned char *s, size_t n);

/* Whether S is a whole number from LO to HI written in digits only (no sign,
 * no space, nothing after it; atoi took "1x" and overflowed on long ones). */
bool text_whole_number(const char *s, long lo, long hi, long *out);

/* S made inert for a terminal: controls, DEL, C1, bidi controls and invalid
 * bytes become \xNN or \u{XXXX}; everything else (Chinese included) as is.
 * Returns a thread-local buffer valid until the eighth next call. */
const char *text_inert(const char *s);
/* S as an exact JSON string, quotes included: ", \ and every character
 * text_inert would escape become \uXXXX (invalid bytes as U+FFFD). */
void text_json(FILE *out, const char *s);

#endif
