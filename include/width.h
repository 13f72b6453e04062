/* The width of text on a terminal, for tables people read: a Chinese
 * character takes two columns, a combining mark none, so padding counted in
 * bytes (printf's %-12s) misaligns every column after a Chinese name. */
#ifndef CUSTFS_WIDTH_H
#define CUSTFS_WIDTH_H

#include <stdio.h>

/* The columns S (UTF-8) takes: wcwidth of each character in a UTF-8 locale
 * (whatever the process's own), 2 for a wide one, 0 for a combining one;
 * an invalid byte or a control counts 1 (text_inert shows it escaped). */
int text_width(const char *s);
/* The spaces that pad S to WIDTH columns (0 if it is as wide or wider), for
 * printf("%s%*s", s, text_pad(s, 12), "") where %-12s would count bytes. */
int text_pad(const char *s, int width);
/* S followed by the spaces that make it WIDTH columns wide, for a "%s" in
 * place of "%-12s": a thread-local buffer, valid until the 16th next call
 * (so one printf may hold up to 16 of them). */
const char *text_padded(const char *s, int width);
/* Prints S left-aligned in WIDTH columns to OUT. */
void text_put_padded(FILE *out, const char *s, int width);

#endif
