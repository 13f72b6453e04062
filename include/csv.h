/* RFC 4180 CSV: a streaming reader and a writer.
 *
 * The reader keeps one record at a time in sodium_malloc memory (records hold
 * customer plaintext). Quoted fields may hold commas, doubled quotes and line
 * breaks; both LF and CRLF end a record; a blank line is skipped. */
/* Needs crypto_init() (sodium_init) first: sodium_malloc aborts otherwise. */
#ifndef CUSTFS_CSV_H
#define CUSTFS_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "secbuf.h"

#define CSV_MAX_FIELDS 1024
#define CSV_RECORD_MAX (64u * 1024 * 1024) /* bytes of one record, all its values */

struct csv_reader {
	FILE *in;
	size_t line;        /* lines consumed so far */
	uint64_t bytes;     /* bytes consumed so far, for progress */
	struct secbuf rec;  /* the fields, each NUL-terminated, back to back */
	size_t off[CSV_MAX_FIELDS];
	size_t len[CSV_MAX_FIELDS];
	size_t nfields;
	size_t err_line; /* where the last error was */
	size_t err_col;
};

void csv_reader_init(struct csv_reader *r, FILE *in);
void csv_reader_free(struct csv_reader *r);

/* Reads the next record. Returns 1 with a record (*LINE = its first line),
 * 0 at end of input, -1 on a malformed record with ERR set to the reason and
 * r->err_line, r->err_col to where it is. */
int csv_next(struct csv_reader *r, size_t *line, char *err, size_t errlen);

static inline const char *csv_field(const struct csv_reader *r, size_t i, size_t *len)
{
	*len = r->len[i];
	return (const char *)r->rec.data + r->off[i];
}

/* Writes one field, quoted when it needs to be; FIRST omits the separator. */
void csv_write_field(FILE *out, const char *s, size_t len, bool first);

#endif
