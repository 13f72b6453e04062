/* Unit tests for the CSV reader and writer (csv.h), driven from memory streams. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crypto.h"
#include "csv.h"

/* Reads every record of IN and renders them as "L[f1][f2]...;" per record, where
 * L is the record's first line. On a malformed record, appends
 * "!LINE:COLUMN:reason" (from r.err_line, r.err_col and ERR) and stops. The
 * result is malloc'd. */
static char *render(const char *in, size_t inlen, uint64_t *bytes)
{
	FILE *f = fmemopen((void *)in, inlen, "r");
	char *out = NULL;
	size_t outlen = 0;
	FILE *o = open_memstream(&out, &outlen);
	struct csv_reader r;
	char err[256];
	size_t line = 0;
	int rc;

	if (!f || !o) {
		fprintf(stderr, "fmemopen/open_memstream failed\n");
		exit(2);
	}
	csv_reader_init(&r, f);
	while ((rc = csv_next(&r, &line, err, sizeof err)) == 1) {
		fprintf(o, "%zu", line);
		for (size_t i = 0; i < r.nfields; i++) {
			size_t len;
			const char *s = csv_field(&r, i, &len);
			fputc('[', o);
			fwrite(s, 1, len, o);
			fputc(']', o);
			if (s[len] != '\0') /* fields are NUL-terminated */
				fputs("<not NUL-terminated>", o);
		}
		fputc(';', o);
	}
	if (rc < 0)
		fprintf(o, "!%zu:%zu:%s", r.err_line, r.err_col, err);
	else if (csv_next(&r, &line, err, sizeof err) != 0) /* EOF stays EOF */
		fputs("<read past EOF>", o);
	if (bytes)
		*bytes = r.bytes;
	csv_reader_free(&r);
	fclose(f);
	fclose(o);
	return out;
}

struct read_case {
	const char *what;
	const char *in;
	const char *expect;
};

static const struct read_case read_cases[] = {
	{ "simple record", "a,b,c\n", "1[a][b][c];" },
	{ "two records", "id,name\nC1001,Acme\n", "1[id][name];2[C1001][Acme];" },
	{ "one field", "x\n", "1[x];" },
	{ "spaces kept", " a , b \n", "1[ a ][ b ];" },
	{ "quoted commas", "\"a,b\",c\n", "1[a,b][c];" },
	{ "quoted all", "\"a\",\"b\",\"c\"\n", "1[a][b][c];" },
	{ "empty quoted", "\"\",x,\"\"\n", "1[][x][];" },
	{ "only an empty quoted field", "\"\"\n", "1[];" },
	{ "doubled quotes", "\"say \"\"hi\"\"\",x\n", "1[say \"hi\"][x];" },
	{ "only a doubled quote", "\"\"\"\"\n", "1[\"];" },
	{ "newline inside quotes",
	  "\"line1\nline2\",b\nnext,row\n\"x\ny\nz\"\nlast\n",
	  "1[line1\nline2][b];3[next][row];4[x\ny\nz];7[last];" },
	{ "blank line inside quotes", "\"a\n\nb\"\nc\n", "1[a\n\nb];4[c];" },
	{ "CRLF", "a,b\r\nc,d\r\n", "1[a][b];2[c][d];" },
	{ "CRLF after quoted", "\"a\",\"b\"\r\n\"c\"\r\n", "1[a][b];2[c];" },
	{ "CRLF inside quotes", "\"a\r\nb\",c\r\nd\r\n", "1[a\r\nb][c];3[d];" },
	{ "CRLF with trailing comma", "a,\r\nb\r\n", "1[a][];2[b];" },
	{ "empty cells", ",,\n", "1[][][];" },
	{ "empty middle cell", "a,,b\n", "1[a][][b];" },
	{ "trailing comma", "a,b,\n", "1[a][b][];" },
	{ "trailing comma at EOF", "a,", "1[a][];" },
	{ "leading comma", ",a\n", "1[][a];" },
	{ "blank lines skipped", "\n\na\n\n\nb\n\n", "3[a];6[b];" },
	{ "CRLF blank lines skipped", "\r\n\r\na\r\n\r\nb\r\n", "3[a];5[b];" },
	{ "Chinese", "杭州西湖茶庄,\"龙井, 明前\",联系人\n",
	  "1[杭州西湖茶庄][龙井, 明前][联系人];" },
	{ "Chinese quoted with quotes", "\"王\"\"老板\"\"\",电话\n", "1[王\"老板\"][电话];" },
	{ "missing final newline", "a,b\nc,d", "1[a][b];2[c][d];" },
	{ "missing final newline, quoted", "a,\"b\nc\"", "1[a][b\nc];" },
	{ "missing final newline, CRLF before", "a\r\nb", "1[a];2[b];" },
	{ "empty input", "", "" },
	{ "only blank lines", "\n\r\n\n", "" },
	{ "tab is data", "a\tb,c\n", "1[a\tb][c];" },
};

static void test_read_table(void)
{
	for (size_t i = 0; i < sizeof read_cases / sizeof *read_cases; i++) {
		const struct read_case *t = &read_cases[i];
		uint64_t bytes = 0;
		char *got = render(t->in, strlen(t->in), &bytes);
		check_ctx("%s", t->what);
		CHECK_STR(got, t->expect);
		/* Progress counts every byte of the input. */
		CHECK_EQ_INT(bytes, strlen(t->in));
		free(got);
	}
	check_ctx("%s", "");
}

/* Errors: csv_next returns -1, ERR holds the reason, r->err_line and r->err_col
 * say where (COLUMN is the 1-based field number). BEFORE is what the records
 * before the error render to. */
struct error_case {
	const char *what;
	const char *in;
	const char *before;
	size_t line, column;
	const char *reason; /* a word the reason contains */
};

static const struct error_case error_cases[] = {
	{ "unterminated quote", "a,\"bc\n", "", 1, 2, "never closed" },
	{ "unterminated quote, first field", "\"abc", "", 1, 1, "never closed" },
	{ "unterminated quote reports its start line", "x\ny,z,\"open\nmore\nstill\n", "1[x];",
	  2, 3, "never closed" },
	{ "unterminated quote after multi-line record", "\"a\nb\",c\nd,\"e\n", "1[a\nb][c];", 3,
	  2, "never closed" },
	{ "quote inside unquoted field", "ab\"c\n", "", 1, 1, "quote" },
	{ "quote inside unquoted field, later record", "a,b\nc,d\"e\n", "1[a][b];", 2, 2,
	  "quote" },
	{ "quote at end of unquoted field", "a,b\"\n", "", 1, 2, "quote" },
	{ "quote inside unquoted field after multi-line record", "\"a\nb\",c\nd,e\"f\n",
	  "1[a\nb][c];", 3, 2, "quote" },
	{ "junk after closing quote", "\"ab\"c\n", "", 1, 1, "after closing quote" },
	{ "junk after closing quote, third field", "x\na,b,\"c\" \n", "1[x];", 2, 3,
	  "after closing quote" },
	{ "junk after closing quote of multi-line value", "x\n\"a\nb\"z,y\n", "1[x];", 3, 1,
	  "after closing quote" },
	{ "stray carriage return", "a\rb\n", "", 1, 1, "carriage return" },
	{ "stray carriage return after quoted", "a,\"b\"\rc\n", "", 1, 2, "carriage return" },
};

static void test_error_table(void)
{
	for (size_t i = 0; i < sizeof error_cases / sizeof *error_cases; i++) {
		const struct error_case *t = &error_cases[i];
		char *got = render(t->in, strlen(t->in), NULL);
		char expect[256];
		int n = snprintf(expect, sizeof expect, "%s!%zu:%zu:", t->before, t->line,
				 t->column);

		check_ctx("%s", t->what);
		/* The records before, then the error with the right line and column. */
		CHECK(strncmp(got, expect, (size_t)n) == 0);
		if (strncmp(got, expect, (size_t)n) != 0) {
			fprintf(stderr, "    got:      %s\n    expected: %s...\n", got, expect);
		} else {
			CHECK(strstr(got + n, t->reason) != NULL);
		}
		free(got);
	}
	check_ctx("%s", "");
}

/* More than CSV_MAX_FIELDS columns is an error; exactly that many is fine. */
static void test_max_fields(void)
{
	size_t cap = CSV_MAX_FIELDS * 2 + 8;
	char *in = malloc(cap);
	if (!in)
		exit(2);
	size_t n = 0;
	for (int i = 0; i < CSV_MAX_FIELDS; i++) {
		if (i)
			in[n++] = ',';
		in[n++] = 'x';
	}
	in[n++] = '\n';

	FILE *f = fmemopen(in, n, "r");
	struct csv_reader r;
	char err[256];
	size_t line;
	csv_reader_init(&r, f);
	CHECK_EQ_INT(csv_next(&r, &line, err, sizeof err), 1);
	CHECK_EQ_INT(r.nfields, CSV_MAX_FIELDS);
	CHECK_EQ_INT(csv_next(&r, &line, err, sizeof err), 0);
	csv_reader_free(&r);
	fclose(f);

	/* One more column (a trailing comma makes an empty last field). */
	in[n - 1] = ',';
	in[n++] = '\n';
	f = fmemopen(in, n, "r");
	csv_reader_init(&r, f);
	CHECK_EQ_INT(csv_next(&r, &line, err, sizeof err), -1);
	CHECK_EQ_INT(r.err_line, 1);
	CHECK_EQ_INT(r.err_col, CSV_MAX_FIELDS + 1);
	CHECK(strstr(err, "columns") != NULL);
	csv_reader_free(&r);
	fclose(f);
	free(in);
}

/* A NUL byte in a value is refused (the fields are C strings). */
static void test_nul_byte(void)
{
	static const char in1[] = "a,b\0c\n";
	static const char in2[] = "x\n\"a\0\"\n";
	char *got = render(in1, sizeof in1 - 1, NULL);
	CHECK_STR(got, "!1:2:NUL byte in value");
	free(got);
	got = render(in2, sizeof in2 - 1, NULL);
	CHECK_STR(got, "1[x];!2:1:NUL byte in value");
	free(got);
}

/* ---- writer ---- */

struct write_case {
	const char *value;
	const char *written; /* as the first field */
};

static const struct write_case write_cases[] = {
	{ "plain", "plain" },
	{ "", "" },
	{ "杭州西湖茶庄", "杭州西湖茶庄" },
	{ "a,b", "\"a,b\"" },
	{ "say \"hi\"", "\"say \"\"hi\"\"\"" },
	{ "\"", "\"\"\"\"" },
	{ "line1\nline2", "\"line1\nline2\"" },
	{ "a\rb", "\"a\rb\"" },
	{ " leading", "\" leading\"" },
	{ "trailing ", "\"trailing \"" },
	{ " ", "\" \"" },
	{ "in side", "in side" },
};

static void test_write_exact(void)
{
	for (size_t i = 0; i < sizeof write_cases / sizeof *write_cases; i++) {
		const struct write_case *t = &write_cases[i];
		char *buf = NULL;
		size_t len = 0;
		FILE *o = open_memstream(&buf, &len);
		char expect[128];

		csv_write_field(o, t->value, strlen(t->value), true);
		csv_write_field(o, t->value, strlen(t->value), false);
		fclose(o);
		snprintf(expect, sizeof expect, "%s,%s", t->written, t->written);
		check_ctx("value %zu", i);
		CHECK_STR(buf, expect);
		free(buf);
	}
	check_ctx("%s", "");
}

/* Values written with csv_write_field read back unchanged. */
static const char *const round_trip_values[] = {
	"plain",
	"with,comma",
	",",
	",,,",
	"say \"hi\"",
	"\"",
	"\"\"",
	"\"quoted\"",
	"x\"y",
	"line1\nline2",
	"\n",
	"ends with newline\n",
	"crlf\r\ninside",
	"lone\rcr",
	" leading space",
	"  two leading",
	"trailing space ",
	" ",
	"\t tab and space",
	"杭州西湖茶庄",
	"杭州, \"西湖\"\n茶庄",
	"",
	"a,\"b\"\r\n, c ",
};

static void test_round_trip(void)
{
	enum { N = sizeof round_trip_values / sizeof *round_trip_values };
	char *buf = NULL;
	size_t len = 0;
	FILE *o = open_memstream(&buf, &len);

	/* Record 1: every value as one wide record. Then one record per value,
	 * as "id,value" (an "id" column like custctl's export), then all again. */
	for (size_t i = 0; i < N; i++)
		csv_write_field(o, round_trip_values[i], strlen(round_trip_values[i]), i == 0);
	fputc('\n', o);
	for (size_t i = 0; i < N; i++) {
		char id[16];
		snprintf(id, sizeof id, "C%zu", i);
		csv_write_field(o, id, strlen(id), true);
		csv_write_field(o, round_trip_values[i], strlen(round_trip_values[i]), false);
		fputs(i % 2 ? "\r\n" : "\n", o); /* either line ending */
	}
	for (size_t i = 0; i < N; i++)
		csv_write_field(o, round_trip_values[i], strlen(round_trip_values[i]), i == 0);
	/* no final newline */
	fclose(o);

	FILE *f = fmemopen(buf, len, "r");
	struct csv_reader r;
	char err[256];
	size_t line = 0, expect_line = 1;
	csv_reader_init(&r, f);

	CHECK_EQ_INT(csv_next(&r, &line, err, sizeof err), 1);
	CHECK_EQ_INT(line, 1);
	CHECK_EQ_INT(r.nfields, N);
	for (size_t i = 0; i < N && i < r.nfields; i++) {
		size_t flen;
		const char *s = csv_field(&r, i, &flen);
		check_ctx("wide record, value %zu", i);
		CHECK_EQ_INT(flen, strlen(round_trip_values[i]));
		if (flen == strlen(round_trip_values[i]))
			CHECK_MEM(s, round_trip_values[i], flen);
	}
	/* Lines consumed by a record: 1 + newlines in its values. */
	for (size_t i = 0; i < N; i++)
		for (const char *p = round_trip_values[i]; *p; p++)
			expect_line += *p == '\n';
	expect_line++;

	for (size_t i = 0; i < N; i++) {
		char id[16];
		size_t flen;
		snprintf(id, sizeof id, "C%zu", i);
		check_ctx("record for value %zu", i);
		int rc = csv_next(&r, &line, err, sizeof err);
		CHECK_EQ_INT(rc, 1);
		if (rc != 1) {
			fprintf(stderr, "    error: %s\n", err);
			break;
		}
		CHECK_EQ_INT(line, expect_line);
		CHECK_EQ_INT(r.nfields, 2);
		if (r.nfields != 2)
			continue;
		CHECK_STR(csv_field(&r, 0, &flen), id);
		const char *s = csv_field(&r, 1, &flen);
		CHECK_EQ_INT(flen, strlen(round_trip_values[i]));
		if (flen == strlen(round_trip_values[i]))
			CHECK_MEM(s, round_trip_values[i], flen);
		expect_line++;
		for (const char *p = round_trip_values[i]; *p; p++)
			expect_line += *p == '\n';
	}
	check_ctx("last record");
	CHECK_EQ_INT(csv_next(&r, &line, err, sizeof err), 1);
	CHECK_EQ_INT(line, expect_line);
	CHECK_EQ_INT(r.nfields, N);
	for (size_t i = 0; i < N && i < r.nfields; i++) {
		size_t flen;
		const char *s = csv_field(&r, i, &flen);
		check_ctx("last record, value %zu", i);
		CHECK_EQ_INT(flen, strlen(round_trip_values[i]));
		if (flen == strlen(round_trip_values[i]))
			CHECK_MEM(s, round_trip_values[i], flen);
	}
	check_ctx("%s", "");
	CHECK_EQ_INT(csv_next(&r, &line, err, sizeof err), 0);
	CHECK_EQ_INT(r.bytes, len);
	csv_reader_free(&r);
	fclose(f);
	free(buf);
}

int main(void)
{
	/* The reader keeps records in sodium_malloc memory (secbuf): libsodium must
	 * be initialised first, or sodium_malloc aborts. */
	if (crypto_init() != 0) {
		fprintf(stderr, "crypto_init failed\n");
		return 2;
	}
	test_read_table();
	test_error_table();
	test_max_fields();
	test_nul_byte();
	test_write_exact();
	test_round_trip();
	return check_done();
}
