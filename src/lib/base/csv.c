#include "csv.h"
#include "i18n.h"

#include <string.h>

void csv_reader_init(struct csv_reader *r, FILE *in)
{
	memset(r, 0, sizeof *r);
	r->in = in;
	/* A record holds many values, each up to 1 MiB (the store checks each):
	 * what an export wrote, an import reads back. */
	r->rec.max = CSV_RECORD_MAX;
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

static void fail(struct csv_reader *r, size_t line, size_t col, char *err, size_t errlen,
		 const char *why)
{
	r->err_line = line;
	r->err_col = col;
	snprintf(err, errlen, "%s", _(why));
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
			fail(r, *line, CSV_MAX_FIELDS + 1, err, errlen, N_("more than 1024 columns"));
			return -1;
		}
		size_t col = r->nfields + 1;
		r->off[r->nfields] = r->rec.len;
		if (c == '"') {
			size_t start_line = r->line + 1;
			for (;;) {
				c = getc_counted(r);
				if (c == EOF) {
					fail(r, start_line, col, err, errlen, N_("quoted value is never closed"));
					return -1;
				}
				if (c == '"') {
					c = getc_counted(r);
					if (c != '"')
						break; /* closing quote */
				}
				if (c == '\0') {
					fail(r, r->line + 1, col, err, errlen, N_("NUL byte in value"));
					return -1;
				}
				if (put(r, (char)c)) {
					fail(r, r->line + 1, col, err, errlen, N_("value is too large"));
					return -1;
				}
			}
			if (c == '\r') {
				int d = getc_counted(r);
				if (d != '\n') {
					fail(r, r->line + 1, col, err, errlen, N_("stray carriage return after quoted value"));
					return -1;
				}
				c = '\n';
			}
			if (c != ',' && c != '\n' && c != EOF) {
				fail(r, c == '\n' ? r->line : r->line + 1, col, err, errlen, N_("unexpected character after closing quote"));
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
					fail(r, r->line + 1, col, err, errlen, N_("stray carriage return"));
					return -1;
				}
				if (c == '"') {
					fail(r, r->line + 1, col, err, errlen, N_("quote inside an unquoted value (quote the whole value and double the quote)"));
					return -1;
				}
				if (c == '\0') {
					fail(r, r->line + 1, col, err, errlen, N_("NUL byte in value"));
					return -1;
				}
				if (put(r, (char)c)) {
					fail(r, r->line + 1, col, err, errlen, N_("value is too large"));
					return -1;
				}
				c = getc_counted(r);
			}
		}
		r->len[r->nfields] = r->rec.len - r->off[r->nfields];
		if (put(r, '\0')) {
			fail(r, *line, r->nfields + 1, err, errlen, N_("record is too large"));
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
