/* The field catalogue: which field files exist, their class and value format.
 *
 * It is the first file of a store's policy (policy/fields.conf). The parser
 * reads from a FILE * so tests can drive it from a string, reports every error
 * in one pass as "file:line: message", and a catalogue with any error is not
 * used at all. */
#ifndef CUSTFS_CATALOG_H
#define CUSTFS_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum value_format {
	FORMAT_TEXT,
	FORMAT_PHONE,
	FORMAT_EMAIL,
	FORMAT_DATE,
	FORMAT_INTEGER,
	FORMAT_DECIMAL,
};

struct field_class {
	char *name;
	int level;
	bool sensitive;
};

struct field_def {
	char *name;
	const struct field_class *cls;
	enum value_format format;
	size_t index; /* position in the file: the column order of exports */
};

struct catalog {
	struct field_class *classes;
	size_t nclasses;
	struct field_def *fields;  /* in file order */
	size_t nfields;
	struct field_def **sorted; /* by name, for lookups */
};

#define CATALOG_FILE "fields.conf"

/* Parses IN (named PATH in messages). Writes each error to ERRS. Returns the
 * number of errors; *OUT is set only when there are none. -1 on ENOMEM. */
int catalog_parse(FILE *in, const char *path, FILE *errs, struct catalog **out);
/* Opens and parses PATH (refusing files over 1 MiB). Returns as catalog_parse. */
int catalog_load(const char *path, FILE *errs, struct catalog **out);
void catalog_free(struct catalog *c);

const struct field_def *catalog_field(const struct catalog *c, const char *name);
const struct field_class *catalog_class(const struct catalog *c, const char *name);

/* NULL if VALUE (LEN bytes) is acceptable for FMT, else a reason in plain words. */
const char *value_format_problem(enum value_format fmt, const char *value, size_t len);
const char *value_format_name(enum value_format fmt);

#endif
