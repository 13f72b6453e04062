/* custctl import and export: RFC 4180 CSV, header `id,<field>,<field>,...`.
 *
 * An import is one transaction: any error (reported with its line and column,
 * never with the value) and nothing is imported. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csv.h"
#include "ctl.h"
#include "names.h"

enum { OPT_PASSFILE = 256 };
#define MAX_REPORTED_ERRORS 20

struct import {
	struct vault *v;
	const char *file;
	const struct field_def *col[CSV_MAX_FIELDS]; /* col[0] is the id */
	size_t ncols;
	int errors;
	size_t records, values, new_customers;
};

static void import_error(struct import *im, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void import_error(struct import *im, const char *fmt, ...)
{
	va_list ap;
	if (++im->errors > MAX_REPORTED_ERRORS)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "%s:", im->file);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int read_header(struct import *im, struct csv_reader *r)
{
	char err[256];
	size_t line;
	int got = csv_next(r, &line, err, sizeof err);
	if (got < 0) {
		import_error(im, "%zu: column %zu: %s", r->err_line, r->err_col, err);
		return -1;
	}
	if (got == 0) {
		import_error(im, " empty file: expected a header line id,<field>,...");
		return -1;
	}
	size_t len;
	const char *first = csv_field(r, 0, &len);
	if (len != 2 || memcmp(first, "id", 2) != 0) {
		import_error(im, "%zu: column 1: the header must start with 'id'", line);
		return -1;
	}
	im->ncols = r->nfields;
	for (size_t i = 1; i < r->nfields; i++) {
		const char *name = csv_field(r, i, &len);
		im->col[i] = strlen(name) == len ? catalog_field(im->v->policy->cat, name) : NULL;
		if (!im->col[i]) {
			import_error(im, "%zu: column %zu: '%s' is not a field of the catalogue", line,
				     i + 1, name);
			continue;
		}
		for (size_t k = 1; k < i; k++)
			if (im->col[k] == im->col[i])
				import_error(im, "%zu: column %zu: field '%s' appears twice", line,
					     i + 1, name);
	}
	return im->errors ? -1 : 0;
}

static void import_record(struct import *im, struct csv_reader *r, size_t line)
{
	struct customer c;
	size_t len;
	int rc;

	if (r->nfields != im->ncols) {
		import_error(im, "%zu: expected %zu columns, found %zu", line, im->ncols, r->nfields);
		return;
	}
	const char *id = csv_field(r, 0, &len);
	const char *why = name_problem(id, len, false);
	if (why) {
		/* The id is a name, not a value: safe to show unless it is not text. */
		if (utf8_valid(id, len) && strlen(id) == len && len <= NAME_MAX_BYTES)
			import_error(im, "%zu: column 1: customer id '%s': %s", line, id, why);
		else
			import_error(im, "%zu: column 1: customer id: %s", line, why);
		return;
	}
	rc = vault_customer_by_name(im->v, id, &c);
	if (rc == ENOENT) {
		rc = vault_customer_create(im->v, id, getuid(), &c.id);
		if (!rc)
			im->new_customers++;
	}
	if (rc) {
		import_error(im, "%zu: customer '%s': %s", line, id, strerror(rc));
		return;
	}
	for (size_t i = 1; i < r->nfields; i++) {
		struct write_result res;
		const char *val = csv_field(r, i, &len);
		if (len == 0)
			continue; /* an empty cell is "no value" */
		rc = vault_write_in_txn(im->v, im->v->policy->cat, c.id, im->col[i]->name, val, len, getuid(), &res);
		if (rc == EINVAL || rc == EFBIG)
			import_error(im, "%zu: column %zu (%s): %s", line, i + 1, im->col[i]->name,
				     res.why ? res.why : strerror(rc));
		else if (rc)
			import_error(im, "%zu: column %zu (%s): %s", line, i + 1, im->col[i]->name,
				     strerror(rc));
		else
			im->values++;
	}
	im->records++;
}

int ctl_import(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "passphrase-file", required_argument, NULL, OPT_PASSFILE },
		{ NULL, 0, NULL, 0 },
	};
	const char *passfile = NULL;
	int c, rc = CTL_REFUSED;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == OPT_PASSFILE)
			passfile = optarg;
		else
			goto usage;
	}
	if (argc - optind != 2)
		goto usage;

	struct import im = { .file = argv[optind + 1] };
	bool from_stdin = strcmp(im.file, "-") == 0;
	FILE *in = from_stdin ? stdin : fopen(im.file, "re");
	if (!in) {
		fprintf(stderr, "custctl: %s: %s\n", im.file, strerror(errno));
		return CTL_REFUSED;
	}
	struct stat sb;
	off_t total = (!from_stdin && fstat(fileno(in), &sb) == 0) ? sb.st_size : 0;
	bool progress = isatty(STDERR_FILENO) && total > 0;

	im.v = ctl_open_vault(argv[optind], passfile);
	if (!im.v) {
		if (!from_stdin)
			fclose(in);
		return CTL_REFUSED;
	}
	struct csv_reader r;
	csv_reader_init(&r, in);
	int err = store_begin(im.v->st, true);
	if (err) {
		fprintf(stderr, "custctl: cannot start a transaction: %s\n", strerror(err));
		goto out;
	}
	if (read_header(&im, &r) == 0) {
		for (;;) {
			char msg[256];
			size_t line;
			int got = csv_next(&r, &line, msg, sizeof msg);
			if (got == 0)
				break;
			if (got < 0) {
				import_error(&im, "%zu: column %zu: %s", r.err_line, r.err_col, msg);
				break; /* the reader cannot resync after broken quoting */
			}
			import_record(&im, &r, line);
			if (progress && im.records % 500 == 0)
				fprintf(stderr, "\rimporting: %zu records (%d%%)", im.records,
					(int)(100 * r.bytes / (uint64_t)total));
		}
	}
	if (progress)
		fprintf(stderr, "\r\033[K");
	if (im.errors) {
		store_rollback(im.v->st);
		if (im.errors > MAX_REPORTED_ERRORS)
			fprintf(stderr, "%s: ... and %d more errors\n", im.file,
				im.errors - MAX_REPORTED_ERRORS);
		fprintf(stderr, "custctl: %d error%s in %s; nothing was imported\n", im.errors,
			im.errors == 1 ? "" : "s", im.file);
		goto out;
	}
	err = store_commit(im.v->st);
	if (err) {
		fprintf(stderr, "custctl: cannot commit the import: %s; nothing was imported\n",
			strerror(err));
		goto out;
	}
	printf("imported %zu records (%zu new customers), %zu values from %s\n", im.records,
	       im.new_customers, im.values, im.file);
	char detail[PATH_MAX + 64];
	snprintf(detail, sizeof detail, "%zu records, %zu values from %s", im.records, im.values,
		 im.file);
	ctl_audit(im.v, "import", 0, "", true, detail);
	rc = CTL_OK;
out:
	csv_reader_free(&r);
	vault_close(im.v);
	if (!from_stdin)
		fclose(in);
	return rc;
usage:
	fprintf(stderr, "usage: custctl import STORE FILE.csv [--passphrase-file FILE]\n");
	return CTL_USAGE;
}

struct export {
	struct vault *v;
	FILE *out;
	int64_t *field_of; /* catalogue index -> field id holding a value, or 0 */
	struct secbuf value;
	int err;
	int64_t last;
};

static int note_field(void *p, const struct field_row *f)
{
	struct export *ex = p;
	const struct field_def *def = catalog_field(ex->v->policy->cat, f->name);
	if (def)
		ex->field_of[def->index] = f->id;
	return 0;
}

static int export_customer(void *p, const struct customer *c)
{
	struct export *ex = p;
	const struct catalog *cat = ex->v->policy->cat;
	ex->last = c->id;
	memset(ex->field_of, 0, cat->nfields * sizeof *ex->field_of);
	ex->err = store_field_list(ex->v->st, c->id, note_field, ex);
	if (ex->err)
		return 1;
	csv_write_field(ex->out, c->name, strlen(c->name), true);
	for (size_t i = 0; i < cat->nfields; i++) {
		if (!ex->field_of[i]) {
			csv_write_field(ex->out, "", 0, false);
			continue;
		}
		ex->err = vault_read(ex->v, ex->field_of[i], 0, &ex->value);
		if (ex->err) {
			fprintf(stderr, "custctl: %s/%s: %s\n", c->name, cat->fields[i].name,
				strerror(ex->err));
			return 1;
		}
		csv_write_field(ex->out, (const char *)ex->value.data, ex->value.len, false);
	}
	fputc('\n', ex->out);
	return 0;
}

int ctl_export(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "passphrase-file", required_argument, NULL, OPT_PASSFILE },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *passfile = NULL, *outfile = NULL;
	int c, rc = CTL_REFUSED;

	while ((c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		if (c == OPT_PASSFILE)
			passfile = optarg;
		else if (c == 'o')
			outfile = optarg;
		else
			goto usage;
	}
	if (argc - optind != 1)
		goto usage;

	struct export ex = { .out = stdout };
	ex.v = ctl_open_vault(argv[optind], passfile);
	if (!ex.v)
		return CTL_REFUSED;
	if (outfile) {
		/* Plaintext leaves custfs here, by the operator's choice: owner-only file. */
		int fd = open(outfile, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		ex.out = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!ex.out) {
			fprintf(stderr, "custctl: %s: %s\n", outfile, strerror(errno));
			if (fd >= 0)
				close(fd);
			vault_close(ex.v);
			return CTL_REFUSED;
		}
	}
	char *iobuf = NULL;
	/* Every value leaves custfs here: on the record first, or not at all. */
	if (ctl_audit(ex.v, "export", 0, "", true, outfile ? outfile : "(standard output)") != 0)
		goto out;
	/* Keep stdio's copy of the plaintext in locked, wiped memory too. */
	iobuf = sodium_malloc(65536);
	if (iobuf)
		setvbuf(ex.out, iobuf, _IOFBF, 65536);
	ex.field_of = calloc(ex.v->policy->cat->nfields, sizeof *ex.field_of);
	if (!ex.field_of) {
		fprintf(stderr, "custctl: out of memory\n");
		goto out;
	}
	csv_write_field(ex.out, "id", 2, true);
	for (size_t i = 0; i < ex.v->policy->cat->nfields; i++)
		csv_write_field(ex.out, ex.v->policy->cat->fields[i].name, strlen(ex.v->policy->cat->fields[i].name),
				false);
	fputc('\n', ex.out);
	for (;;) {
		int64_t before = ex.last;
		int err = vault_customer_list(ex.v, ex.last, 256, export_customer, &ex);
		if (err || ex.err) {
			if (err)
				fprintf(stderr, "custctl: cannot list customers: %s\n", strerror(err));
			goto out;
		}
		if (ex.last == before)
			break;
	}
	if (fflush(ex.out) != 0) {
		fprintf(stderr, "custctl: write error: %s\n", strerror(errno));
		goto out;
	}
	rc = CTL_OK;
out:
	if (ex.out != stdout)
		fclose(ex.out);
	else
		fflush(stdout);
	if (iobuf && ex.out == stdout)
		setvbuf(stdout, NULL, _IONBF, 0); /* before freeing the buffer stdio points at */
	if (iobuf)
		sodium_free(iobuf);
	secbuf_free(&ex.value);
	free(ex.field_of);
	vault_close(ex.v);
	return rc;
usage:
	fprintf(stderr, "usage: custctl export STORE [-o FILE.csv] [--passphrase-file FILE]\n");
	return CTL_USAGE;
}
