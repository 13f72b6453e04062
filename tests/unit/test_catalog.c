/* Unit tests for the field catalogue (catalog.h): the shipped policy, parser
 * errors (exact messages, all reported in one pass) and value formats. */
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "check.h"

/* Parses TEXT as "t.conf". *ERRS receives everything written to the error
 * stream (malloc'd; free it). */
static int parse(const char *text, struct catalog **out, char **errs)
{
	size_t errlen = 0;
	FILE *e = open_memstream(errs, &errlen);
	FILE *in = fmemopen((void *)text, strlen(text), "r");
	if (!e || !in) {
		fprintf(stderr, "fmemopen/open_memstream failed\n");
		exit(2);
	}
	int rc = catalog_parse(in, "t.conf", e, out);
	fclose(in);
	fclose(e);
	return rc;
}

static const struct field_class *find_class(const struct catalog *c, const char *name)
{
	for (size_t i = 0; i < c->nclasses; i++)
		if (strcmp(c->classes[i].name, name) == 0)
			return &c->classes[i];
	return NULL;
}

/* ---- the shipped policy ---- */

static void test_shipped_policy(void)
{
	char *errs = NULL;
	size_t errlen = 0;
	FILE *e = open_memstream(&errs, &errlen);
	struct catalog *c = NULL;

	int rc = catalog_load("policy/fields.conf", e, &c);
	fclose(e);
	CHECK_EQ_INT(rc, 0);
	CHECK_STR(errs, "");
	free(errs);
	CHECK_NOT_NULL(c);
	if (!c)
		return;

	CHECK_EQ_INT(c->nclasses, 6);
	CHECK_EQ_INT(c->nfields, 20);

	static const struct {
		const char *name;
		int level;
		bool sensitive;
	} classes[] = {
		{ "basic", 1, false },   { "business", 2, false }, { "orders", 2, false },
		{ "service", 3, false }, { "finance", 4, true },   { "privacy", 4, true },
	};
	for (size_t i = 0; i < sizeof classes / sizeof *classes; i++) {
		const struct field_class *fc = find_class(c, classes[i].name);
		check_ctx("class %s", classes[i].name);
		CHECK_NOT_NULL(fc);
		if (!fc)
			continue;
		CHECK_EQ_INT(fc->level, classes[i].level);
		CHECK(fc->sensitive == classes[i].sensitive);
	}

	static const struct {
		const char *name, *cls;
		enum value_format fmt;
	} fields[] = {
		{ "company", "basic", FORMAT_TEXT },
		{ "phone", "basic", FORMAT_PHONE },
		{ "email", "basic", FORMAT_EMAIL },
		{ "requirements", "business", FORMAT_TEXT },
		{ "order_qty", "orders", FORMAT_INTEGER },
		{ "delivery_date", "orders", FORMAT_DATE },
		{ "complaints", "service", FORMAT_TEXT },
		{ "credit_limit", "finance", FORMAT_DECIMAL },
		{ "bank_account", "finance", FORMAT_TEXT },
		{ "balance", "finance", FORMAT_DECIMAL },
		{ "id_number", "privacy", FORMAT_TEXT },
		{ "personal_phone", "privacy", FORMAT_PHONE },
		{ "home_address", "privacy", FORMAT_TEXT },
	};
	for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
		const struct field_def *fd = catalog_field(c, fields[i].name);
		check_ctx("field %s", fields[i].name);
		CHECK_NOT_NULL(fd);
		if (!fd)
			continue;
		CHECK_STR(fd->name, fields[i].name);
		CHECK_STR(fd->cls->name, fields[i].cls);
		CHECK_EQ_INT(fd->format, fields[i].fmt);
	}
	check_ctx("%s", "");

	const struct field_def *phone = catalog_field(c, "phone");
	CHECK(phone != NULL && phone->format == FORMAT_PHONE);
	CHECK(catalog_field(c, "credit_limit") && catalog_field(c, "credit_limit")->cls->sensitive);
	CHECK(catalog_field(c, "company") && !catalog_field(c, "company")->cls->sensitive);

	/* Unknown names. */
	CHECK_NULL(catalog_field(c, "nonexistent"));
	CHECK_NULL(catalog_field(c, ""));
	CHECK_NULL(catalog_field(c, "Phone"));
	CHECK_NULL(catalog_field(c, "phone "));
	CHECK_NULL(catalog_field(c, "basic")); /* a class, not a field */

	/* File order is kept (and is each field's index); every field is found. */
	CHECK_STR(c->fields[0].name, "company");
	CHECK_STR(c->fields[c->nfields - 1].name, "home_address");
	for (size_t i = 0; i < c->nfields; i++) {
		check_ctx("fields[%zu] %s", i, c->fields[i].name);
		CHECK_EQ_INT(c->fields[i].index, i);
		CHECK(catalog_field(c, c->fields[i].name) == &c->fields[i]);
	}
	check_ctx("%s", "");
	catalog_free(c);
}

static void test_load_errors(void)
{
	char *errs = NULL;
	size_t errlen = 0;
	FILE *e = open_memstream(&errs, &errlen);
	struct catalog *c = NULL;

	CHECK_EQ_INT(catalog_load("policy/no-such-file.conf", e, &c), 1);
	CHECK_NULL(c);
	CHECK_EQ_INT(catalog_load("policy", e, &c), 1); /* a directory */
	CHECK_NULL(c);
	fclose(e);
	CHECK(strstr(errs, "policy/no-such-file.conf: ") == errs);
	CHECK(strstr(errs, "\npolicy: ") != NULL);
	free(errs);
}

/* ---- good inputs ---- */

static void test_parse_good(void)
{
	static const char text[] =
		"# a comment\n"
		"\n"
		"   \t\n"
		"class  pub\tlevel 0   # trailing comment\n"
		"class 机密 level 99 sensitive\r\n"
		"field 电话 机密 format phone\n"
		"field note pub#comment right after\n"
		"field when pub format date\n"
		"field qty pub format integer\n"
		"field amount 机密 format decimal\n"
		"field mail pub format email\n"
		"field text pub format text\n"
		"field last pub"; /* no final newline */
	struct catalog *c = NULL;
	char *errs = NULL;

	CHECK_EQ_INT(parse(text, &c, &errs), 0);
	CHECK_STR(errs, "");
	free(errs);
	CHECK_NOT_NULL(c);
	if (!c)
		return;
	CHECK_EQ_INT(c->nclasses, 2);
	CHECK_EQ_INT(c->nfields, 8);
	const struct field_class *pub = find_class(c, "pub"), *secret = find_class(c, "机密");
	CHECK(pub && pub->level == 0 && !pub->sensitive);
	CHECK(secret && secret->level == 99 && secret->sensitive);

	static const struct {
		const char *name, *cls;
		enum value_format fmt;
	} want[] = {
		{ "电话", "机密", FORMAT_PHONE },    { "note", "pub", FORMAT_TEXT },
		{ "when", "pub", FORMAT_DATE },      { "qty", "pub", FORMAT_INTEGER },
		{ "amount", "机密", FORMAT_DECIMAL }, { "mail", "pub", FORMAT_EMAIL },
		{ "text", "pub", FORMAT_TEXT },      { "last", "pub", FORMAT_TEXT },
	};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		const struct field_def *fd = catalog_field(c, want[i].name);
		check_ctx("field %s", want[i].name);
		CHECK_NOT_NULL(fd);
		if (!fd)
			continue;
		CHECK_STR(fd->cls->name, want[i].cls);
		CHECK_EQ_INT(fd->format, want[i].fmt);
		CHECK_EQ_INT(fd->index, i);
	}
	check_ctx("%s", "");
	catalog_free(c);
	catalog_free(NULL); /* harmless */
}

/* ---- bad inputs: the exact error text ---- */

struct bad_case {
	const char *what;
	const char *text;
	const char *errors; /* everything written to the error stream */
	int nerr;
};

#define FMT_LIST "(known: text, phone, email, date, integer, decimal)"

static const struct bad_case bad_cases[] = {
	{ "unknown class", "class x level 1\nfield a y\n",
	  "t.conf:2: field 'a': unknown class 'y'\n", 1 },
	{ "unknown statement", "class x level 1\nfield a x\nfiled b x\n",
	  "t.conf:3: unknown statement 'filed' (expected 'class' or 'field')\n", 1 },
	{ "unknown statement, first line", "fields a x\nclass x level 1\nfield a x\n",
	  "t.conf:1: unknown statement 'fields' (expected 'class' or 'field')\n", 1 },
	{ "level abc", "class x level abc\nfield a x\n",
	  "t.conf:1: level 'abc' is not a whole number from 0 to 99\n"
	  "t.conf:2: field 'a': unknown class 'x'\n", 2 },
	{ "level 100", "class x level 100\n",
	  "t.conf:1: level '100' is not a whole number from 0 to 99\n", 1 },
	{ "level -1", "class x level -1\n",
	  "t.conf:1: level '-1' is not a whole number from 0 to 99\n", 1 },
	{ "level 1x", "class x level 1x\n",
	  "t.conf:1: level '1x' is not a whole number from 0 to 99\n", 1 },
	{ "level 1.5", "class x level 1.5\n",
	  "t.conf:1: level '1.5' is not a whole number from 0 to 99\n", 1 },
	{ "level overflow", "class x level 99999999999999999999999\n",
	  "t.conf:1: level '99999999999999999999999' is not a whole number from 0 to 99\n", 1 },
	{ "class without level", "class x\n",
	  "t.conf:1: expected: class NAME level N [sensitive]\n", 1 },
	{ "class with 'lvl'", "class x lvl 1\n",
	  "t.conf:1: expected: class NAME level N [sensitive]\n", 1 },
	{ "class missing level number", "class x level\n",
	  "t.conf:1: expected: class NAME level N [sensitive]\n", 1 },
	{ "duplicate class", "class x level 1\nclass x level 2\nfield a x\n",
	  "t.conf:2: class 'x' is defined twice\n", 1 },
	{ "duplicate field", "class x level 1\nfield a x\nfield b x\nfield a x format phone\n",
	  "t.conf:4: field 'a' is defined twice\n", 1 },
	{ "class after field", "class x level 1\nfield a x\nclass y level 2\n",
	  "t.conf:3: class 'y' must come before the first field\n", 1 },
	{ "bad format name", "class x level 1\nfield a x format colour\n",
	  "t.conf:2: field 'a': unknown format 'colour' " FMT_LIST "\n", 1 },
	{ "format name is case-sensitive", "class x level 1\nfield a x format Phone\n",
	  "t.conf:2: field 'a': unknown format 'Phone' " FMT_LIST "\n", 1 },
	{ "field name .hidden", "class x level 1\nfield .hidden x\n",
	  "t.conf:2: field name '.hidden': name starts with '.'\n", 1 },
	{ "field name a/b", "class x level 1\nfield a/b x\n",
	  "t.conf:2: field name 'a/b': name contains '/'\n", 1 },
	{ "field name ..", "class x level 1\nfield .. x\n",
	  "t.conf:2: field name '..': name is '.' or '..'\n", 1 },
	{ "class name .x", "class .x level 1\n",
	  "t.conf:1: class name '.x': name starts with '.'\n", 1 },
	{ "field: extra word", "class x level 1\nfield a x extra\n",
	  "t.conf:2: expected: field NAME CLASS [format FORMAT]\n", 1 },
	{ "field: extra word after format", "class x level 1\nfield a x format phone extra\n",
	  "t.conf:2: expected: field NAME CLASS [format FORMAT]\n", 1 },
	{ "field: 'format' without a value", "class x level 1\nfield a x format\n",
	  "t.conf:2: expected: field NAME CLASS [format FORMAT]\n", 1 },
	{ "field: 'fmt' instead of 'format'", "class x level 1\nfield a x fmt phone\n",
	  "t.conf:2: expected: field NAME CLASS [format FORMAT]\n", 1 },
	{ "field: no class", "class x level 1\nfield a\n",
	  "t.conf:2: expected: field NAME CLASS [format FORMAT]\n", 1 },
	{ "class: extra word", "class x level 1 loud\n",
	  "t.conf:1: unexpected 'loud' after the level (only 'sensitive' may follow)\n", 1 },
	{ "too many words", "class x level 1\nfield a x a b c d e f g h i j k l m n o\n",
	  "t.conf:2: too many words (at most 16)\n", 1 },
	{ "invalid UTF-8", "class x level 1\nfield caf\xe9 x\nfield b x\n",
	  "t.conf:2: line is not valid UTF-8\n", 1 },
	{ "no fields at all", "class x level 1\nclass y level 2 sensitive\n",
	  "t.conf: no fields are defined\n", 1 },
	{ "empty file", "", "t.conf: no fields are defined\n", 1 },
	{ "only comments", "# nothing\n\n   # here\n", "t.conf: no fields are defined\n", 1 },
	/* Three errors on lines 2, 4 and 5, all reported in one pass. */
	{ "three errors",
	  "class x level 1\n"
	  "class y level abc\n"
	  "field a x\n"
	  "field b nope\n"
	  "bogus statement\n"
	  "field c x\n",
	  "t.conf:2: level 'abc' is not a whole number from 0 to 99\n"
	  "t.conf:4: field 'b': unknown class 'nope'\n"
	  "t.conf:5: unknown statement 'bogus' (expected 'class' or 'field')\n",
	  3 },
};

static void test_parse_bad(void)
{
	struct catalog sentinel_cat;
	struct catalog *const sentinel = &sentinel_cat;

	for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
		const struct bad_case *t = &bad_cases[i];
		struct catalog *c = sentinel;
		char *errs = NULL;
		int rc = parse(t->text, &c, &errs);

		check_ctx("%s", t->what);
		CHECK_EQ_INT(rc, t->nerr);
		CHECK_STR(errs, t->errors);
		CHECK(c == sentinel); /* *OUT is set only when there are no errors */
		free(errs);
	}
	check_ctx("%s", "");
}

/* A word after "sensitive" is named in the error (it once named 'sensitive'
 * itself, contradicting the message). */
static void test_parse_bad_sensitive_extra(void)
{
	struct catalog *c = NULL;
	char *errs = NULL;
	int rc = parse("class x level 1 sensitive extra\nfield a x\n", &c, &errs);

	CHECK_EQ_INT(rc, 2); /* the class is refused, so field 'a' has no class */
	CHECK(strncmp(errs, "t.conf:1: ", 10) == 0);
	CHECK(strstr(errs, "t.conf:1: unexpected 'extra' after 'sensitive'\n") != NULL);
	CHECK(strstr(errs, "unexpected 'sensitive'") == NULL);
	CHECK(strstr(errs, "t.conf:2: field 'a': unknown class 'x'\n") != NULL);
	CHECK_NULL(c);
	free(errs);
}

/* Lines: 4096 bytes (plus newline) are accepted, longer ones are refused and
 * the rest of the long line is skipped, not read as another line. */
static void test_long_lines(void)
{
	enum { MAX = 4096 };
	char *text = malloc(3 * MAX + 200);
	struct catalog *c = NULL;
	char *errs = NULL;
	if (!text)
		exit(2);

	/* "class x level 1   ...spaces...  # pad" exactly MAX bytes, then newline. */
	strcpy(text, "class x level 1 #");
	size_t n = strlen(text);
	memset(text + n, 'p', MAX - n);
	text[MAX] = '\n';
	strcpy(text + MAX + 1, "field a x\n");
	CHECK_EQ_INT(parse(text, &c, &errs), 0);
	CHECK_STR(errs, "");
	CHECK(c != NULL && c->nfields == 1);
	catalog_free(c);
	free(errs);

	/* One byte longer (4097 bytes before the newline): an error. */
	c = NULL;
	strcpy(text, "class x level 1\nfield z x #");
	n = strlen(text);
	memset(text + n, 'p', 16 + MAX + 1 - n);
	strcpy(text + 16 + MAX + 1, "\nfield a x\nfield q y\n");
	CHECK_EQ_INT(parse(text, &c, &errs), 2);
	CHECK_STR(errs, "t.conf:2: line is longer than 4096 bytes\n"
			"t.conf:4: field 'q': unknown class 'y'\n");
	free(errs);

	/* Much longer: the rest of the line (with "bogus" at its end) is skipped,
	 * not read as further lines. */
	c = NULL;
	strcpy(text, "class x level 1\nfield z x ");
	n = strlen(text);
	memset(text + n, 'p', 2 * MAX - n);
	strcpy(text + 2 * MAX, " bogus\nfield a x\nfield q y\n");
	CHECK_EQ_INT(parse(text, &c, &errs), 2);
	CHECK_STR(errs, "t.conf:2: line is longer than 4096 bytes\n"
			"t.conf:4: field 'q': unknown class 'y'\n");
	free(errs);
	free(text);
}

/* ---- value formats ---- */

struct fmt_case {
	enum value_format fmt;
	const char *value;
	bool ok;
};

static const struct fmt_case fmt_cases[] = {
	{ FORMAT_TEXT, "", true },
	{ FORMAT_TEXT, "任何文字, any text\n", true },
	{ FORMAT_TEXT, "bad \xff utf-8", false },

	{ FORMAT_PHONE, "13812345678", true },
	{ FORMAT_PHONE, "+86 138-1234-5678", true },
	{ FORMAT_PHONE, "0571-8888 6666", true },
	{ FORMAT_PHONE, "12345", true },           /* 5 digits */
	{ FORMAT_PHONE, "123456789012345", true }, /* 15 digits */
	{ FORMAT_PHONE, "13812345678\n", false },   /* a newline of its own: the file view's was taken off */
	{ FORMAT_PHONE, "12ab", false },
	{ FORMAT_PHONE, "123", false },
	{ FORMAT_PHONE, "1234", false },
	{ FORMAT_PHONE, "1234567890123456", false }, /* 16 digits */
	{ FORMAT_PHONE, "", false },
	{ FORMAT_PHONE, "+", false },
	{ FORMAT_PHONE, "- - -", false },
	{ FORMAT_PHONE, "++8613812345678", false },
	{ FORMAT_PHONE, "138+12345678", false },
	{ FORMAT_PHONE, "(0571) 88886666", false },
	{ FORMAT_PHONE, "13812345678\n\n", false },
	{ FORMAT_PHONE, "13812345678\r\n", false },

	{ FORMAT_EMAIL, "li@example.com", true },
	{ FORMAT_EMAIL, "wang.wei+crm@mail.example.cn", true },
	{ FORMAT_EMAIL, "li@example.com\n", false },
	{ FORMAT_EMAIL, "", false },
	{ FORMAT_EMAIL, "li.example.com", false },
	{ FORMAT_EMAIL, "@example.com", false },
	{ FORMAT_EMAIL, "li@example", false },
	{ FORMAT_EMAIL, "li@example.", false },
	{ FORMAT_EMAIL, "li@@example.com", false },
	{ FORMAT_EMAIL, "li@ex@ample.com", false },
	{ FORMAT_EMAIL, "li wei@example.com", false },
	{ FORMAT_EMAIL, "li@example.com\n\n", false },

	{ FORMAT_DATE, "2026-02-28", true },
	{ FORMAT_DATE, "2028-02-29", true },
	{ FORMAT_DATE, "2000-02-29", true },
	{ FORMAT_DATE, "2026-12-31", true },
	{ FORMAT_DATE, "2026-01-01\n", false },
	{ FORMAT_DATE, "2026-02-29", false },
	{ FORMAT_DATE, "1900-02-29", false },
	{ FORMAT_DATE, "2026-13-01", false },
	{ FORMAT_DATE, "2026-00-10", false },
	{ FORMAT_DATE, "2026-04-31", false },
	{ FORMAT_DATE, "2026-01-00", false },
	{ FORMAT_DATE, "2026-01-32", false },
	{ FORMAT_DATE, "2026-1-01", false },
	{ FORMAT_DATE, "2026/01/01", false },
	{ FORMAT_DATE, "20260101", false },
	{ FORMAT_DATE, "2026-01-01 ", false },
	{ FORMAT_DATE, "+026-01-01", false },
	{ FORMAT_DATE, "", false },

	{ FORMAT_INTEGER, "0", true },
	{ FORMAT_INTEGER, "42", true },
	{ FORMAT_INTEGER, "-5", true },
	{ FORMAT_INTEGER, "42\n", false },
	{ FORMAT_INTEGER, "123456789012345678", true },  /* 18 digits */
	{ FORMAT_INTEGER, "-123456789012345678", true },
	{ FORMAT_INTEGER, "1234567890123456789", false }, /* 19 digits */
	{ FORMAT_INTEGER, "", false },
	{ FORMAT_INTEGER, "-", false },
	{ FORMAT_INTEGER, "+5", false },
	{ FORMAT_INTEGER, "1.0", false },
	{ FORMAT_INTEGER, "1,000", false },
	{ FORMAT_INTEGER, " 1", false },
	{ FORMAT_INTEGER, "1e3", false },
	{ FORMAT_INTEGER, "42\n\n", false },

	{ FORMAT_DECIMAL, "1200.50", true },
	{ FORMAT_DECIMAL, "-5", true },
	{ FORMAT_DECIMAL, "0", true },
	{ FORMAT_DECIMAL, "0.001", true },
	{ FORMAT_DECIMAL, "-1200.50", true },
	{ FORMAT_DECIMAL, "1200.50\n", false },
	{ FORMAT_DECIMAL, "1.2.3", false },
	{ FORMAT_DECIMAL, "", false },
	{ FORMAT_DECIMAL, "\n", false },
	{ FORMAT_DECIMAL, "-", false },
	{ FORMAT_DECIMAL, ".5", false },
	{ FORMAT_DECIMAL, "5.", false },
	{ FORMAT_DECIMAL, "1,200.50", false },
	{ FORMAT_DECIMAL, "1e5", false },
	{ FORMAT_DECIMAL, "+1.5", false },
	{ FORMAT_DECIMAL, "--1", false },
	{ FORMAT_DECIMAL, "1234567890123456789.5", false }, /* 19 integer digits */
};

static void test_value_formats(void)
{
	for (size_t i = 0; i < sizeof fmt_cases / sizeof *fmt_cases; i++) {
		const struct fmt_case *t = &fmt_cases[i];
		const char *why = value_format_problem(t->fmt, t->value, strlen(t->value));
		check_ctx("row %zu: %s \"%s\": %s", i, value_format_name(t->fmt), t->value,
			  why ? why : "(accepted)");
		if (t->ok)
			CHECK_NULL(why);
		else
			CHECK(why != NULL && why[0] != '\0');
	}
	check_ctx("%s", "");

	/* LEN is honoured: bytes beyond it are not looked at. */
	CHECK_NULL(value_format_problem(FORMAT_INTEGER, "42abc", 2));
	CHECK_NULL(value_format_problem(FORMAT_DATE, "2026-02-28T10:00", 10));
	CHECK_NOT_NULL(value_format_problem(FORMAT_INTEGER, "42abc", 3));

	static const struct {
		enum value_format fmt;
		const char *name;
	} names[] = {
		{ FORMAT_TEXT, "text" },       { FORMAT_PHONE, "phone" },
		{ FORMAT_EMAIL, "email" },     { FORMAT_DATE, "date" },
		{ FORMAT_INTEGER, "integer" }, { FORMAT_DECIMAL, "decimal" },
	};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		CHECK_STR(value_format_name(names[i].fmt), names[i].name);
}

int main(void)
{
	test_shipped_policy();
	test_load_errors();
	test_parse_good();
	test_parse_bad();
	test_parse_bad_sensitive_extra();
	test_long_lines();
	test_value_formats();
	return check_done();
}
