/* A tiny unit-test harness: header only, no dependencies beyond libc.
 *
 *   CHECK(cond)            cond must be true
 *   CHECK_EQ_INT(a, b)     integers (compared as long long)
 *   CHECK_STR(a, b)        NUL-terminated strings; NULL is allowed on either side
 *   CHECK_MEM(a, b, n)     n bytes
 *   CHECK_NULL(p), CHECK_NOT_NULL(p)
 *
 * Each failure prints "file:line: expression" (plus the values, and the current
 * context set with check_ctx() for table-driven loops) to stderr. check_done()
 * prints "N passed, N failed" and returns main's exit status: 1 if anything failed. */
#ifndef CUSTFS_TEST_CHECK_H
#define CUSTFS_TEST_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static int check_passed_;
static int check_failed_;
static char check_ctx_[512];

/* Context for the following checks (e.g. the table row); "" clears it. */
__attribute__((format(printf, 1, 2))) static inline void check_ctx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(check_ctx_, sizeof check_ctx_, fmt, ap);
	va_end(ap);
}

static inline bool check_result_(bool ok, const char *file, int line, const char *expr)
{
	if (ok) {
		check_passed_++;
		return true;
	}
	check_failed_++;
	fprintf(stderr, "%s:%d: FAILED: %s", file, line, expr);
	if (check_ctx_[0])
		fprintf(stderr, "  [%s]", check_ctx_);
	fputc('\n', stderr);
	return false;
}

/* Prints bytes readably: printable ASCII as is, everything else as \xNN. */
static inline void check_dump_(const char *label, const void *p, size_t n)
{
	const unsigned char *s = p;
	fprintf(stderr, "    %s: \"", label);
	for (size_t i = 0; i < n && i < 300; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
			fputc(s[i], stderr);
		else
			fprintf(stderr, "\\x%02x", s[i]);
	}
	fprintf(stderr, "\"%s\n", n > 300 ? "..." : "");
}

static inline bool check_int_(long long a, long long b, const char *file, int line,
			      const char *ea, const char *eb)
{
	char expr[512];
	snprintf(expr, sizeof expr, "CHECK_EQ_INT(%s, %s)", ea, eb);
	if (check_result_(a == b, file, line, expr))
		return true;
	fprintf(stderr, "    got %lld, expected %lld\n", a, b);
	return false;
}

static inline bool check_str_(const char *a, const char *b, const char *file, int line,
			      const char *ea, const char *eb)
{
	char expr[512];
	bool ok = (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
	snprintf(expr, sizeof expr, "CHECK_STR(%s, %s)", ea, eb);
	if (check_result_(ok, file, line, expr))
		return true;
	if (a)
		check_dump_("got     ", a, strlen(a));
	else
		fprintf(stderr, "    got     : NULL\n");
	if (b)
		check_dump_("expected", b, strlen(b));
	else
		fprintf(stderr, "    expected: NULL\n");
	return false;
}

static inline bool check_mem_(const void *a, const void *b, size_t n, const char *file,
			      int line, const char *ea, const char *eb)
{
	char expr[512];
	snprintf(expr, sizeof expr, "CHECK_MEM(%s, %s, %zu)", ea, eb, n);
	if (check_result_(n == 0 || memcmp(a, b, n) == 0, file, line, expr))
		return true;
	check_dump_("got     ", a, n);
	check_dump_("expected", b, n);
	return false;
}

#define CHECK(cond) check_result_((cond) ? true : false, __FILE__, __LINE__, #cond)
#define CHECK_EQ_INT(a, b) check_int_((long long)(a), (long long)(b), __FILE__, __LINE__, #a, #b)
#define CHECK_STR(a, b) check_str_((a), (b), __FILE__, __LINE__, #a, #b)
#define CHECK_MEM(a, b, n) check_mem_((a), (b), (n), __FILE__, __LINE__, #a, #b)
#define CHECK_NULL(p) CHECK((p) == NULL)
#define CHECK_NOT_NULL(p) CHECK((p) != NULL)

/* Ends main: prints the tally, returns 1 if any check failed. */
static inline int check_done(void)
{
	printf("%d passed, %d failed\n", check_passed_, check_failed_);
	fflush(stdout);
	return check_failed_ ? 1 : 0;
}

#endif
