#include "csv.h"

#include <string.h>

void csv_reader_init(struct csv_reader *r, FILE *in)
{
	memset(r, 0, sizeof *r);
	r->in = in;
}

void csv_reader_free(struct csv_reader *r)
{
	secbuf_free(&r->rec);
}

static int getc_counted(struct csv_reader *r)
{
	int c = getc(r->in);
	if (c != EOF) {
		r->bytes++;
		if (c == '\n')
			r->line++;
	}
	return c;
}

static int put(struct csv_reader *r, char c)
{
	return secbuf_write(&r->rec, r->rec.len, &c, 1);
}

int csv_next(struct csv_reader *r, size_t *line, char *err, size_t errlen)
{
	int c;

	secbuf_truncate(&r->rec, 0);
	r->nfields = 0;

	/* Skip blank lines between records. */
	for (;;) {
		c = getc_counted(r);
		if (c == '\r') {
			int d = getc_counted(r);
			if (d == '\n')
				continue;
			if (d != EOF)
				ungetc(d, r->in), r->bytes--;
			break;
		}
		if (c != '\n')
			break;
	}
	if (c == EOF)
		return 0;
	*line = r->line + 1;

	for (;;) {
		/* c is the first character of a field. */
		if (r->nfields == CSV_MAX_FIELDS) {
			snprintf(err, errlen, "line %zu: more than %d columns", *line, CSV_MAX_FIELDS);
			return -1;
		}
		size_t col = r->nfields + 1;
		r->off[r->nfields] = r->rec.len;
		if (c == '"') {
			size_t start_line = r->line + 1;
			for (;;) {
				c = getc_counted(r);
				if (c == EOF) {
					snprintf(err, errlen,
						 "line %zu, column %zu: quoted value is never closed",
						 start_line, col);
					return -1;
				}
				if (c == '"') {
					c = getc_counted(r);
					if (c != '"')
						break; /* closing quote */
				}
				if (c == '\0') {
					snprintf(err, errlen, "line %zu, column %zu: NUL byte in value",
						 r->line + 1, col);
					return -1;
				}
				if (put(r, (char)c)) {
					snprintf(err, errlen, "line %zu, column %zu: value is too large",
						 r->line + 1, col);
					return -1;
				}
			}
			if (c == '\r') {
				int d = getc_counted(r);
				if (d != '\n') {
					snprintf(err, errlen,
						 "line %zu, column %zu: stray carriage return after quoted value",
						 r->line + 1, col);
					return -1;
				}
				c = '\n';
			}
			if (c != ',' && c != '\n' && c != EOF) {
				snprintf(err, errlen,
					 "line %zu, column %zu: unexpected character after closing quote",
					 c == '\n' ? r->line : r->line + 1, col);
				return -1;
			}
		} else {
			while (c != ',' && c != '\n' && c != EOF) {
				if (c == '\r') {
					int d = getc_counted(r);
					if (d == '\n') {
						c = '\n';
						break;
					}
					snprintf(err, errlen,
						 "line %zu, column %zu: stray carriage return", r->line + 1,
						 col);
					return -1;
				}
				if (c == '"') {
					snprintf(err, errlen,
						 "line %zu, column %zu: quote inside an unquoted value "
						 "(quote the whole value and double the quote)",
						 r->line + 1, col);
					return -1;
				}
				if (c == '\0') {
					snprintf(err, errlen, "line %zu, column %zu: NUL byte in value",
						 r->line + 1, col);
					return -1;
				}
				if (put(r, (char)c)) {
					snprintf(err, errlen, "line %zu, column %zu: value is too large",
						 r->line + 1, col);
					return -1;
				}
				c = getc_counted(r);
			}
		}
		r->len[r->nfields] = r->rec.len - r->off[r->nfields];
		if (put(r, '\0')) {
			snprintf(err, errlen, "line %zu: record is too large", *line);
			return -1;
		}
		r->nfields++;
		if (c == '\n' || c == EOF)
			return 1;
		c = getc_counted(r); /* after ',' */
	}
}

void csv_write_field(FILE *out, const char *s, size_t len, bool first)
{
	bool quote = len > 0 && (s[0] == ' ' || s[len - 1] == ' ');
	for (size_t i = 0; i < len && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
	if (!first)
		putc(',', out);
	if (!quote) {
		fwrite(s, 1, len, out);
		return;
	}
	putc('"', out);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			putc('"', out);
		putc(s[i], out);
	}
	putc('"', out);
}
