/* Reading custfs's line-oriented configuration files (policy/).
 *
 * One statement a line, words separated by blanks, '#' starts a comment (\#
 * is a '#' inside a word).
 * Every error is reported as "path:line: message" and counted, so a parser
 * reports all its errors in one pass and then refuses the whole file. */
#ifndef CUSTFS_CONF_H
#define CUSTFS_CONF_H

#include <stddef.h>
#include <stdio.h>

#define CONF_LINE_MAX 4096
#define CONF_MAX_WORDS 16

struct conf_reader {
	FILE *in;
	const char *path;
	FILE *errs;
	size_t lineno;
	int nerr;
	char line[CONF_LINE_MAX + 2];
};

void conf_init(struct conf_reader *r, FILE *in, const char *path, FILE *errs);
/* Splits the next statement into WORDS; returns how many (1..CONF_MAX_WORDS),
 * or 0 at the end of the file. Over-long lines, invalid UTF-8 and too many
 * words are reported and skipped. */
int conf_next(struct conf_reader *r, char **words);
void conf_error(struct conf_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Opens PATH for a parser, refusing anything but a regular file of at most
 * 1 MiB. NULL (reported to ERRS) on failure. */
FILE *conf_open_file(const char *path, FILE *errs);

#endif
