/* Unit tests for safe names (names.h): name_problem, name_ok and utf8_valid;
 * and typed whole numbers (text.h). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cname.h"
#include "names.h"
#include "text.h"

/* LEN_STRLEN: use strlen(name); otherwise the exact byte count (for NULs). */
#define LEN_STRLEN ((size_t)-1)

struct name_case {
	const char *name;
	size_t len;
	bool allow_dot;
	bool ok;
	const char *reason; /* for refusals: a word the reason must contain */
};

static const struct name_case name_cases[] = {
	/* Accepted. */
	{ "C1001", LEN_STRLEN, false, true, NULL },
	{ "杭州西湖茶庄", LEN_STRLEN, false, true, NULL },
	{ "a b", LEN_STRLEN, false, true, NULL },
	{ "a.", LEN_STRLEN, false, true, NULL },
	{ "a..b", LEN_STRLEN, false, true, NULL },
	{ "x", LEN_STRLEN, false, true, NULL },
	{ "phone_2", LEN_STRLEN, false, true, NULL },
	{ "U+10FFFF \xf4\x8f\xbf\xbf", LEN_STRLEN, false, true, NULL },
	{ "emoji \xf0\x9f\x98\x80", LEN_STRLEN, false, true, NULL },
	/* Only LEN bytes count: what follows is not looked at. */
	{ "abc/def", 3, false, true, NULL },
	{ "ab\xff", 2, false, true, NULL },

	/* Refused. */
	{ "", LEN_STRLEN, false, false, "empty" },
	{ "", LEN_STRLEN, true, false, "empty" },
	{ ".", LEN_STRLEN, false, false, "." },
	{ "..", LEN_STRLEN, false, false, "." },
	{ "a/b", LEN_STRLEN, false, false, "/" },
	{ "/", LEN_STRLEN, false, false, "/" },
	{ "a/", LEN_STRLEN, true, false, "/" },
	{ "/a", LEN_STRLEN, true, false, "/" },
	{ "../x", LEN_STRLEN, true, false, "/" },
	{ "ab\0cd", 5, false, false, "NUL" },
	{ "\0", 1, false, false, "NUL" },
	{ "ab\0", 3, true, false, "NUL" },
	{ "\x01x", LEN_STRLEN, false, false, "control" },
	{ "x\x7f", LEN_STRLEN, false, false, "control" },
	{ "a\tb", LEN_STRLEN, false, false, "control" },
	{ "a\nb", LEN_STRLEN, false, false, "control" },
	{ "a\rb", LEN_STRLEN, false, false, "control" },
	{ "\x1b[31m", LEN_STRLEN, false, false, "control" },
	{ "a\xc2\x85" "b", LEN_STRLEN, false, false, "control" },        /* C1: NEL */
	{ "\xc2\x9b" "31m", LEN_STRLEN, true, false, "control" },        /* C1: CSI */
	{ "\xc2\xa0nbsp", LEN_STRLEN, false, true, NULL },                /* U+00A0 is text */
	{ "\xff", LEN_STRLEN, false, false, "UTF-8" },
	{ "\xfe", LEN_STRLEN, false, false, "UTF-8" },
	{ "\x80", LEN_STRLEN, false, false, "UTF-8" },
	{ "a\xbf", LEN_STRLEN, false, false, "UTF-8" },
	{ "\xc0\x80", LEN_STRLEN, false, false, "UTF-8" },             /* overlong NUL */
	{ "\xc0\xaf", LEN_STRLEN, false, false, "UTF-8" },             /* overlong '/' */
	{ "\xe0\x80\xaf", LEN_STRLEN, false, false, "UTF-8" },         /* overlong '/' */
	{ "\xf0\x80\x80\xaf", LEN_STRLEN, false, false, "UTF-8" },     /* overlong '/' */
	{ "\xed\xa0\x80", LEN_STRLEN, false, false, "UTF-8" },         /* surrogate D800 */
	{ "\xed\xbf\xbf", LEN_STRLEN, false, false, "UTF-8" },         /* surrogate DFFF */
	{ "\xf4\x90\x80\x80", LEN_STRLEN, false, false, "UTF-8" },     /* > U+10FFFF */
	{ "\xe6\x9d", LEN_STRLEN, false, false, "UTF-8" },             /* truncated 杭 */
	{ "\xe6\x9d" "a", LEN_STRLEN, false, false, "UTF-8" },         /* bad continuation */
	{ "\xe6\x9d\xad", 2, false, false, "UTF-8" },                  /* cut by LEN */
	{ "杭州\xe6", LEN_STRLEN, false, false, "UTF-8" },

	/* Leading dot. */
	{ ".swp", LEN_STRLEN, false, false, "." },
	{ ".swp", LEN_STRLEN, true, true, NULL },
	{ ".custfs", LEN_STRLEN, true, true, NULL },
	{ "...", LEN_STRLEN, true, true, NULL },
	{ "...", LEN_STRLEN, false, false, "." },
	{ ".", LEN_STRLEN, true, false, "." },
	{ "..", LEN_STRLEN, true, false, "." },
	{ ".", 1, true, false, "." },
	{ "..", 2, true, false, "." },
	{ "..abc", 2, true, false, "." }, /* ".." by length */
	{ ".\x01", LEN_STRLEN, true, false, "control" },
	{ ".\xff", LEN_STRLEN, true, false, "UTF-8" },
};

/* Shows NAME readably in failure messages. */
static const char *show(const char *s, size_t n, char *buf, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f)
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

static void test_name_table(void)
{
	char buf[256];
	for (size_t i = 0; i < sizeof name_cases / sizeof *name_cases; i++) {
		const struct name_case *t = &name_cases[i];
		size_t len = t->len == LEN_STRLEN ? strlen(t->name) : t->len;
		const char *why = name_problem(t->name, len, t->allow_dot);

		check_ctx("row %zu: \"%s\" len %zu allow_dot=%d: reason %s", i,
			  show(t->name, len, buf, sizeof buf), len, t->allow_dot,
			  why ? why : "(none)");
		if (t->ok) {
			CHECK_NULL(why);
		} else {
			CHECK_NOT_NULL(why);
			if (why) {
				CHECK(why[0] != '\0');
				CHECK(strstr(why, t->reason) != NULL);
			}
		}
		/* name_ok agrees for NUL-terminated names. */
		if (t->len == LEN_STRLEN)
			CHECK(name_ok(t->name, t->allow_dot) == t->ok);
	}
	check_ctx("%s", "");
}

/* Length limits: 255 bytes is fine, 256 is not, in ASCII and in Chinese. */
static void test_name_lengths(void)
{
	char name[NAME_MAX_BYTES + 2];
	char zh[NAME_MAX_BYTES + 4];

	memset(name, 'a', sizeof name);
	name[255] = '\0';
	CHECK_EQ_INT(strlen(name), 255);
	CHECK_NULL(name_problem(name, 255, false));
	CHECK(name_ok(name, false));
	name[255] = 'a';
	name[256] = '\0';
	CHECK_NOT_NULL(name_problem(name, 256, false));
	CHECK_NOT_NULL(name_problem(name, 256, true));
	CHECK(!name_ok(name, false));
	CHECK(!name_ok(name, true));
	/* The same bytes with LEN 255: only LEN counts. */
	CHECK_NULL(name_problem(name, 255, false));

	/* 85 three-byte characters: exactly 255 bytes of UTF-8. */
	zh[0] = '\0';
	for (int i = 0; i < 85; i++)
		strcat(zh, "杭");
	CHECK_EQ_INT(strlen(zh), 255);
	CHECK_NULL(name_problem(zh, 255, false));
	CHECK(name_ok(zh, false));
	strcat(zh, "a");
	CHECK_NOT_NULL(name_problem(zh, 256, false));
	CHECK(!name_ok(zh, false));

	/* A very long name (name_ok stops counting early, but still refuses). */
	char huge[4096];
	memset(huge, 'x', sizeof huge - 1);
	huge[sizeof huge - 1] = '\0';
	CHECK(!name_ok(huge, true));
	CHECK_NOT_NULL(name_problem(huge, sizeof huge - 1, true));
}

struct utf8_case {
	const char *s;
	size_t len;
	bool valid;
};

static const struct utf8_case utf8_cases[] = {
	{ "", 0, true },
	{ "plain ASCII \x01\x7f", LEN_STRLEN, true }, /* controls are valid UTF-8 */
	{ "杭州西湖茶庄", LEN_STRLEN, true },
	{ "\0", 1, true },                     /* U+0000 is valid UTF-8 */
	{ "\xc2\x80", LEN_STRLEN, true },      /* U+0080, smallest 2-byte */
	{ "\xdf\xbf", LEN_STRLEN, true },      /* U+07FF */
	{ "\xe0\xa0\x80", LEN_STRLEN, true },  /* U+0800, smallest 3-byte */
	{ "\xed\x9f\xbf", LEN_STRLEN, true },  /* U+D7FF, just below surrogates */
	{ "\xee\x80\x80", LEN_STRLEN, true },  /* U+E000, just above */
	{ "\xef\xbf\xbf", LEN_STRLEN, true },  /* U+FFFF */
	{ "\xf0\x90\x80\x80", LEN_STRLEN, true }, /* U+10000, smallest 4-byte */
	{ "\xf4\x8f\xbf\xbf", LEN_STRLEN, true }, /* U+10FFFF */
	{ "ab\xff", 2, true },                 /* only LEN bytes */

	{ "\xff", LEN_STRLEN, false },
	{ "\xfe", LEN_STRLEN, false },
	{ "\x80", LEN_STRLEN, false },          /* lone continuation */
	{ "\xbf", LEN_STRLEN, false },
	{ "\xc0\x80", LEN_STRLEN, false },      /* overlong NUL */
	{ "\xc1\xbf", LEN_STRLEN, false },      /* overlong U+007F */
	{ "\xe0\x80\xaf", LEN_STRLEN, false },  /* overlong '/' */
	{ "\xe0\x9f\xbf", LEN_STRLEN, false },  /* overlong U+07FF */
	{ "\xf0\x80\x80\x80", LEN_STRLEN, false },
	{ "\xf0\x8f\xbf\xbf", LEN_STRLEN, false }, /* overlong U+FFFF */
	{ "\xed\xa0\x80", LEN_STRLEN, false },  /* U+D800 */
	{ "\xed\xbf\xbf", LEN_STRLEN, false },  /* U+DFFF */
	{ "\xf4\x90\x80\x80", LEN_STRLEN, false }, /* U+110000 */
	{ "\xf5\x80\x80\x80", LEN_STRLEN, false },
	{ "\xf8\x88\x80\x80\x80", LEN_STRLEN, false }, /* 5-byte form */
	{ "\xe6\x9d", LEN_STRLEN, false },      /* truncated */
	{ "\xe6", LEN_STRLEN, false },
	{ "\xc3", LEN_STRLEN, false },
	{ "\xf0\x9f\x98", LEN_STRLEN, false },
	{ "\xe6\x9d\xad", 2, false },           /* cut by LEN */
	{ "\xe6\x9d\x41", LEN_STRLEN, false },  /* ASCII where a continuation belongs */
	{ "\xc3\xc3\xa9", LEN_STRLEN, false },
	{ "ok\xed\xa0\x80ok", LEN_STRLEN, false },
};

static void test_utf8_table(void)
{
	char buf[256];
	for (size_t i = 0; i < sizeof utf8_cases / sizeof *utf8_cases; i++) {
		const struct utf8_case *t = &utf8_cases[i];
		size_t len = t->len == LEN_STRLEN ? strlen(t->s) : t->len;
		check_ctx("row %zu: \"%s\" len %zu", i, show(t->s, len, buf, sizeof buf), len);
		CHECK(utf8_valid(t->s, len) == t->valid);
	}
	check_ctx("%s", "");
}

/* Every truncation of a valid multi-byte sequence is invalid, and the read never
 * goes past LEN (the bytes sit at the end of an exact-size buffer for ASan). */
static void test_utf8_truncations(void)
{
	static const char *const seqs[] = { "\xc3\xa9", "\xe6\x9d\xad", "\xf0\x9f\x98\x80" };
	for (size_t s = 0; s < sizeof seqs / sizeof *seqs; s++) {
		size_t n = strlen(seqs[s]);
		for (size_t cut = 1; cut < n; cut++) {
			char *p = malloc(cut);
			if (!p)
				return;
			memcpy(p, seqs[s], cut);
			check_ctx("sequence %zu cut to %zu bytes", s, cut);
			CHECK(!utf8_valid(p, cut));
			CHECK_NOT_NULL(name_problem(p, cut, true));
			free(p);
		}
		char *p = malloc(n);
		if (!p)
			return;
		memcpy(p, seqs[s], n);
		check_ctx("sequence %zu whole", s);
		CHECK(utf8_valid(p, n));
		CHECK_NULL(name_problem(p, n, false));
		free(p);
	}
	check_ctx("%s", "");
}

/* Exhaustive over all 2-byte lead/continuation pairs: valid exactly when the
 * lead is C2..DF and the second byte is 80..BF. */
static void test_utf8_two_byte_exhaustive(void)
{
	size_t wrong = 0;
	for (unsigned a = 0x80; a <= 0xff; a++) {
		for (unsigned b = 0; b <= 0xff; b++) {
			char s[2] = { (char)a, (char)b };
			bool expect = a >= 0xc2 && a <= 0xdf && b >= 0x80 && b <= 0xbf;
			if (utf8_valid(s, 2) != expect) {
				if (!wrong)
					fprintf(stderr, "    first mismatch: \\x%02x\\x%02x\n", a, b);
				wrong++;
			}
		}
	}
	CHECK_EQ_INT(wrong, 0);
}

/* Refused names are logged through name_for_log: nothing in the result may
 * start a new log line or a terminal escape; readable text stays readable. */
static void test_name_for_log(void)
{
	static const struct {
		const char *in;
		const char *out;
	} cases[] = {
		{ "C1001", "C1001" },
		{ "杭州西湖茶庄", "杭州西湖茶庄" },
		{ "a\nforged: line", "a\\x0aforged: line" },
		{ "\x1b[31mred", "\\x1b[31mred" },
		{ "bad\xff", "bad\\xff" },
		{ "a\\b", "a\\x5cb" },
		{ "\xc2\x85", "\\xc2\\x85" },
		{ "\xe6\x9d", "\\xe6\\x9d" },
	};
	char buf[NAME_LOG_MAX];
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		CHECK_STR(name_for_log(cases[i].in, buf), cases[i].out);
	char longname[400];
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	name_for_log(longname, buf);
	CHECK(strlen(buf) < NAME_LOG_MAX);
	CHECK(strcmp(buf + strlen(buf) - 3, "...") == 0);
}

/* Customer names: one spelling (NFC), no invisible or bidi characters, no
 * spaces at the ends; lookalikes share a key. */
static void test_customer_names(void)
{
	static const struct {
		const char *in;
		const char *nfc;  /* NULL: refused */
	} cases[] = {
		{ "C1001", "C1001" },
		{ "杭州西湖茶庄", "杭州西湖茶庄" },
		{ "Cafe\xcc\x81", "Caf\xc3\xa9" },          /* e + combining acute -> é */
		{ "Caf\xc3\xa9", "Caf\xc3\xa9" },
		{ "C1001 ", NULL },                            /* trailing space */
		{ " C1001", NULL },
		{ "C1001\xe3\x80\x80", NULL },                 /* ideographic space at the end */
		{ "C10\xe2\x80\xae" "01", NULL },                 /* right-to-left override */
		{ "C10\xe2\x80\x8b" "01", NULL },                 /* zero-width space */
		{ "C\xe2\x81\xa6" "1001", NULL },                 /* LRI */
		{ "..", NULL },
		{ "a/b", NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char out[NAME_MAX_BYTES + 1] = "";
		check_ctx("customer name %zu", i);
		const char *why = cname_normalize(cases[i].in, out);
		if (!cases[i].nfc) {
			CHECK_NOT_NULL(why);
			continue;
		}
		CHECK_NULL(why);
		CHECK_STR(out, cases[i].nfc);
	}
	check_ctx("%s", "");
	/* Lookalikes: the same key; different names: different keys. */
	static const char *const same[][2] = {
		{ "C1001", "c1001" },
		{ "C1001", "\xd0\xa1" "1001" },   /* Cyrillic Es */
		{ "C1001", "C100l" },            /* one and ell */
		{ "Caf\xc3\xa9", "CAF\xc3\x89" },
		/* found by the attack review of issue 10 */
		{ "C1001", "\xe2\x84\xad" "1001" },   /* black-letter capital C */
		{ "C1001", "C1OO1" },                  /* letter O for zero */
		{ "C1001", "C1001\xcc\x81" },         /* a combining acute after it */
		{ "C1002", "\xef\xbc\xa3" "1002" },   /* fullwidth C */
		{ "Cafe", "Caf\xc3\xa9" },            /* an accent is no difference */
	};
	for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
		char a[CNAME_SKELETON_MAX], b[CNAME_SKELETON_MAX], na[NAME_MAX_BYTES + 1],
			nb[NAME_MAX_BYTES + 1];
		check_ctx("lookalike %zu", i);
		CHECK_NULL(cname_normalize(same[i][0], na));
		CHECK_NULL(cname_normalize(same[i][1], nb));
		CHECK_EQ_INT(cname_skeleton(na, a), 0);
		CHECK_EQ_INT(cname_skeleton(nb, b), 0);
		CHECK_STR(a, b);
	}
	char a[CNAME_SKELETON_MAX], b[CNAME_SKELETON_MAX];
	check_ctx("%s", "");
	CHECK_EQ_INT(cname_skeleton("C1001", a), 0);
	CHECK_EQ_INT(cname_skeleton("C1002", b), 0);
	CHECK(strcmp(a, b) != 0);
	CHECK_EQ_INT(cname_skeleton("杭州西湖茶庄", a), 0);
	CHECK_EQ_INT(cname_skeleton("杭州西湖茶行", b), 0);
	CHECK(strcmp(a, b) != 0);
}

static void test_whole_numbers(void)
{
	long v = -1;
	CHECK(text_whole_number("0", 0, 10, &v) && v == 0);
	CHECK(text_whole_number("262144", 0, 4194304, &v) && v == 262144);
	CHECK(text_whole_number("4194304", 0, 4194304, &v) && v == 4194304);
	const char *bad[] = { "", "-1", "+1", " 1", "1 ", "1x", "0x10", "4194305",
			      "99999999999999999999999" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECK(!text_whole_number(bad[i], 0, 4194304, &v));
	CHECK(!text_whole_number("1", 2, 10, &v));
}

int main(void)
{
	test_whole_numbers();
	test_customer_names();
	test_name_table();
	test_name_lengths();
	test_utf8_table();
	test_utf8_truncations();
	test_utf8_two_byte_exhaustive();
	test_name_for_log();
	return check_done();
}
