#include "catalog.h"
#include "i18n.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf.h"
#include "names.h"


static const char *const format_names[] = {
	[FORMAT_TEXT] = "text",       [FORMAT_PHONE] = "phone",
	[FORMAT_EMAIL] = "email",     [FORMAT_DATE] = "date",
	[FORMAT_INTEGER] = "integer", [FORMAT_DECIMAL] = "decimal",
};

const char *value_format_name(enum value_format fmt)
{
	return format_names[fmt];
}

static int by_name(const void *a, const void *b)
{
	const struct field_def *const *x = a, *const *y = b;
	return strcmp((*x)->name, (*y)->name);
}

const struct field_def *catalog_field(const struct catalog *c, const char *name)
{
	struct field_def key = { .name = (char *)name };
	struct field_def *kp = &key;
	struct field_def **hit = bsearch(&kp, c->sorted, c->nfields, sizeof *c->sorted, by_name);
	return hit ? *hit : NULL;
}

void catalog_free(struct catalog *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nclasses; i++)
		free(c->classes[i].name);
	for (size_t i = 0; i < c->nfields; i++)
		free(c->fields[i].name);
	free(c->classes);
	free(c->fields);
	free(c->sorted);
	free(c);
}

static const struct field_class *find_class(const struct catalog *c, const char *name)
{
	for (size_t i = 0; i < c->nclasses; i++)
		if (strcmp(c->classes[i].name, name) == 0)
			return &c->classes[i];
	return NULL;
}

static bool find_field_linear(const struct catalog *c, const char *name)
{
	for (size_t i = 0; i < c->nfields; i++)
		if (strcmp(c->fields[i].name, name) == 0)
			return true;
	return false;
}

static int parse_format(const char *s, enum value_format *out)
{
	for (size_t i = 0; i < sizeof format_names / sizeof *format_names; i++) {
		if (strcmp(s, format_names[i]) == 0) {
			*out = (enum value_format)i;
			return 0;
		}
	}
	return -1;
}

#define ERR(...) conf_error(&r, __VA_ARGS__)

int catalog_parse(FILE *in, const char *path, FILE *errs, struct catalog **out)
{
	struct catalog *c = calloc(1, sizeof *c);
	struct conf_reader r;
	char *tok[CONF_MAX_WORDS];
	size_t capc = 0, capf = 0;
	int n;

	if (!c)
		goto nomem;
	conf_init(&r, in, path, errs);
	while ((n = conf_next(&r, tok)) > 0) {
		if (strcmp(tok[0], "class") == 0) {
			/* class NAME level N [sensitive] */
			char *end = NULL;
			long level = 0;
			bool sensitive = false;

			if (n < 4 || strcmp(tok[2], "level") != 0) {
				ERR(_("expected: class NAME level N [sensitive]"));
				continue;
			}
			const char *why = name_problem(tok[1], strlen(tok[1]), false);
			if (why) {
				ERR(_("class name '%s': %s"), tok[1], _(why));
				continue;
			}
			errno = 0;
			level = strtol(tok[3], &end, 10);
			if (errno || *end || end == tok[3] || level < 0 || level > 99) {
				ERR(_("level '%s' is not a whole number from 0 to 99"), tok[3]);
				continue;
			}
			if (n >= 5) {
				if (strcmp(tok[4], "sensitive") != 0) {
					ERR(_("unexpected '%s' after the level (only 'sensitive' may follow)"),
					    tok[4]);
					continue;
				}
				if (n > 5) {
					ERR(_("unexpected '%s' after 'sensitive'"), tok[5]);
					continue;
				}
				sensitive = true;
			}
			if (find_class(c, tok[1])) {
				ERR(_("class '%s' is defined twice"), tok[1]);
				continue;
			}
			if (c->nfields > 0) {
				/* Fields point into the class array: keep classes first. */
				ERR(_("class '%s' must come before the first field"), tok[1]);
				continue;
			}
			if (c->nclasses == capc) {
				capc = capc ? capc * 2 : 8;
				void *p = realloc(c->classes, capc * sizeof *c->classes);
				if (!p)
					goto nomem;
				c->classes = p;
			}
			struct field_class *fc = &c->classes[c->nclasses];
			fc->name = strdup(tok[1]);
			if (!fc->name)
				goto nomem;
			fc->level = (int)level;
			fc->sensitive = sensitive;
			c->nclasses++;
		} else if (strcmp(tok[0], "field") == 0) {
			/* field NAME CLASS [format FMT] */
			enum value_format fmt = FORMAT_TEXT;
			const struct field_class *cls;

			if (n != 3 && !(n == 5 && strcmp(tok[3], "format") == 0)) {
				ERR(_("expected: field NAME CLASS [format FORMAT]"));
				continue;
			}
			const char *why = name_problem(tok[1], strlen(tok[1]), false);
			if (why) {
				ERR(_("field name '%s': %s"), tok[1], _(why));
				continue;
			}
			cls = find_class(c, tok[2]);
			if (!cls) {
				ERR(_("field '%s': unknown class '%s'"), tok[1], tok[2]);
				continue;
			}
			if (n == 5 && parse_format(tok[4], &fmt) != 0) {
				ERR(_("field '%s': unknown format '%s' (known: text, phone, email, date, "
				    "integer, decimal)"), tok[1], tok[4]);
				continue;
			}
			if (find_field_linear(c, tok[1])) {
				ERR(_("field '%s' is defined twice"), tok[1]);
				continue;
			}
			if (find_class(c, tok[1])) {
				ERR(_("field '%s' has the name of a class"), tok[1]);
				continue;
			}
			if (c->nfields == capf) {
				capf = capf ? capf * 2 : 32;
				void *p = realloc(c->fields, capf * sizeof *c->fields);
				if (!p)
					goto nomem;
				c->fields = p;
			}
			struct field_def *fd = &c->fields[c->nfields];
			fd->name = strdup(tok[1]);
			if (!fd->name)
				goto nomem;
			fd->cls = cls;
			fd->format = fmt;
			fd->index = c->nfields;
			c->nfields++;
		} else {
			ERR(_("unknown statement '%s' (expected 'class' or 'field')"), tok[0]);
		}
	}
	if (r.nerr == 0 && c->nfields == 0) {
		fprintf(errs, _("%s: no fields are defined\n"), path);
		r.nerr++;
	}
	if (r.nerr) {
		catalog_free(c);
		return r.nerr;
	}
	c->sorted = malloc(c->nfields * sizeof *c->sorted);
	if (!c->sorted)
		goto nomem;
	for (size_t i = 0; i < c->nfields; i++)
		c->sorted[i] = &c->fields[i];
	qsort(c->sorted, c->nfields, sizeof *c->sorted, by_name);
	*out = c;
	return 0;
nomem:
	catalog_free(c);
	fprintf(errs, _("%s: out of memory\n"), path);
	return -1;
}

int catalog_load(const char *path, FILE *errs, struct catalog **out)
{
	FILE *f = conf_open_file(path, errs);
	if (!f)
		return 1;
	int rc = catalog_parse(f, path, errs, out);
	fclose(f);
	return rc;
}

const struct field_class *catalog_class(const struct catalog *c, const char *name)
{
	return find_class(c, name);
}

/* ---- value formats ---- */

static bool all_digits(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool valid_date(const char *s, size_t len)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (len != 10 || s[4] != '-' || s[7] != '-' || !all_digits(s, 4) ||
	    !all_digits(s + 5, 2) || !all_digits(s + 8, 2))
		return false;
	int y = atoi(s), m = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return !(m == 2 && d == 29 && !leap);
}

const char *value_format_problem(enum value_format fmt, const char *v, size_t len)
{
	/* (The file view's one trailing newline was taken off by the mount: a
	 * value itself ending in a newline is two, and an integer is not that.) */
	if (!utf8_valid(v, len))
		return N_("value is not valid UTF-8 text");
	if (memchr(v, '\0', len))
		return N_("value holds a NUL byte (text has none)");
	if (fmt != FORMAT_TEXT && len > 0 && (v[len - 1] == '\n' || v[len - 1] == '\r'))
		return N_("value ends with a line break (one is the file's own; this is a second)");
	switch (fmt) {
	case FORMAT_TEXT:
		return NULL;
	case FORMAT_PHONE: {
		size_t i = (len > 0 && v[0] == '+') ? 1 : 0;
		size_t digits = 0;
		for (; i < len; i++) {
			if (isdigit((unsigned char)v[i]))
				digits++;
			else if (v[i] != ' ' && v[i] != '-')
				return N_("a phone number has only digits, spaces, '-' and a leading '+'");
		}
		if (digits < 5 || digits > 15)
			return N_("a phone number has 5 to 15 digits");
		return NULL;
	}
	case FORMAT_EMAIL: {
		const char *at = memchr(v, '@', len);
		if (!at || at == v || memchr(at + 1, '@', len - (size_t)(at + 1 - v)) ||
		    !memchr(at + 1, '.', len - (size_t)(at + 1 - v)) || v[len - 1] == '.')
			return N_("an e-mail address looks like name@example.com");
		for (size_t i = 0; i < len; i++)
			if (v[i] == ' ' || v[i] == '\t' || v[i] == '\n')
				return N_("an e-mail address has no spaces");
		return NULL;
	}
	case FORMAT_DATE:
		return valid_date(v, len) ? NULL : N_("a date is written YYYY-MM-DD");
	case FORMAT_INTEGER: {
		size_t i = (len > 0 && v[0] == '-') ? 1 : 0;
		return all_digits(v + i, len - i) && len - i <= 18 ? NULL
								 : N_("expected a whole number");
	}
	case FORMAT_DECIMAL: {
		size_t i = (len > 0 && v[0] == '-') ? 1 : 0;
		const char *dot = memchr(v + i, '.', len - i);
		size_t intlen = dot ? (size_t)(dot - (v + i)) : len - i;
		if (!all_digits(v + i, intlen) || intlen > 18)
			return N_("expected a decimal number such as 1200.50");
		if (dot && !all_digits(dot + 1, len - (size_t)(dot + 1 - v)))
			return N_("expected a decimal number such as 1200.50");
		return NULL;
	}
	}
	return N_("unknown format");
}
