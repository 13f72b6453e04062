/* custctl import and export: RFC 4180 CSV, header `id,<field>,<field>,...`.
 *
 * An import is one transaction: any error (reported with its line and column,
 * never with the value) and nothing is imported. It is exact and idempotent:
 * one row per customer, and a value equal to the stored one is no new version.
 * Its audit record is written before the commit (R5.1). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csv.h"
#include "i18n.h"
#include "ctl.h"
#include "names.h"
#include "text.h"

enum { OPT_PASSFILE = 256 };
#define MAX_REPORTED_ERRORS 20

/* The customers this import has seen (store ids, not names: names are
 * customer data), and the line of each: a second row for one is an error. */
struct seen {
	struct seen_slot {
		int64_t id;   /* 0: empty */
		size_t line;
	} *slot;
	size_t cap, used;
};

/* The line CUSTOMER_ID was first seen on (0: not before; then it is now on
 * LINE). ENOMEM is reported as line SIZE_MAX. */
static size_t seen_add(struct seen *s, int64_t customer_id, size_t line)
{
	if (2 * (s->used + 1) > s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		struct seen_slot *g = calloc(cap, sizeof *g);
		if (!g)
			return SIZE_MAX;
		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i].id) {
				size_t k = (uint64_t)s->slot[i].id * 0x9e3779b97f4a7c15ULL % cap;
				while (g[k].id)
					k = (k + 1) % cap;
				g[k] = s->slot[i];
			}
		free(s->slot);
		s->slot = g;
		s->cap = cap;
	}
	size_t k = (uint64_t)customer_id * 0x9e3779b97f4a7c15ULL % s->cap;
	for (; s->slot[k].id; k = (k + 1) % s->cap)
		if (s->slot[k].id == customer_id)
			return s->slot[k].line;
	s->slot[k] = (struct seen_slot){ customer_id, line };
	s->used++;
	return 0;
}

struct import {
	struct vault *v;
	const char *file;
	const struct field_def *col[CSV_MAX_FIELDS]; /* col[0] is the id */
	size_t ncols;
	int errors;
	size_t records, new_customers;
	size_t added, changed, unchanged; /* values: first of their field, new, the same */
	struct seen seen;
	struct secbuf current; /* a stored value, compared with the file's */
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
	vfprintf(stderr, _(fmt), ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int read_header(struct import *im, struct csv_reader *r)
{
	char err[256];
	size_t line;
	int got = csv_next(r, &line, err, sizeof err);
	if (got < 0) {
		import_error(im, N_("%zu: column %zu: %s"), r->err_line, r->err_col, err);
		return -1;
	}
	if (got == 0) {
		import_error(im, N_(" empty file: expected a header line id,<field>,..."));
		return -1;
	}
	size_t len;
	const char *first = csv_field(r, 0, &len);
	if (len != 2 || memcmp(first, "id", 2) != 0) {
		import_error(im, N_("%zu: column 1: the header must start with 'id'"), line);
		return -1;
	}
	im->ncols = r->nfields;
	for (size_t i = 1; i < r->nfields; i++) {
		const char *name = csv_field(r, i, &len);
		im->col[i] = strlen(name) == len ? catalog_field(im->v->policy->cat, name) : NULL;
		if (!im->col[i]) {
			import_error(im, N_("%zu: column %zu: '%s' is not a field of the catalogue"), line,
				     i + 1, name);
			continue;
		}
		for (size_t k = 1; k < i; k++)
			if (im->col[k] == im->col[i])
				import_error(im, N_("%zu: column %zu: field '%s' appears twice"), line,
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
		import_error(im, N_("%zu: expected %zu columns, found %zu"), line, im->ncols, r->nfields);
		return;
	}
	const char *id = csv_field(r, 0, &len);
	const char *why = name_problem(id, len, false);
	if (why) {
		/* The id is a name, not a value: safe to show unless it is not text. */
		if (utf8_valid(id, len) && strlen(id) == len && len <= NAME_MAX_BYTES)
			import_error(im, N_("%zu: column 1: customer id '%s': %s"), line, id, _(why));
		else
			import_error(im, N_("%zu: column 1: customer id: %s"), line, _(why));
		return;
	}
	rc = vault_customer_by_name(im->v, id, &c);
	if (rc == ENOENT) {
		const char *refused = NULL;
		rc = vault_customer_create(im->v, id, getuid(), &c.id, &refused);
		if (rc && refused) {
			import_error(im, N_("%zu: column 1: customer id '%s': %s"), line, text_inert(id),
				     _(refused));
			return;
		}
		if (!rc)
			im->new_customers++;
	}
	if (rc) {
		import_error(im, N_("%zu: customer '%s': %s"), line, text_inert(id), strerror(rc));
		return;
	}
	size_t before = seen_add(&im->seen, c.id, line);
	if (before == SIZE_MAX) {
		import_error(im, N_("%zu: out of memory"), line);
		return;
	}
	if (before) {
		/* One row per customer: which of two would be meant is a guess. */
		import_error(im, N_("%zu: column 1: customer id '%s' is also on line %zu (one row "
			     "per customer)"), line, text_inert(id), before);
		return;
	}
	for (size_t i = 1; i < r->nfields; i++) {
		struct write_result res;
		struct field_row f;
		const char *val = csv_field(r, i, &len);
		const char *name = im->col[i]->name;
		if (len == 0)
			continue; /* an empty cell is "no value" */
		rc = vault_field_by_name(im->v, c.id, name, &f);
		bool first = rc == ENOENT || (rc == 0 && f.version == 0);
		if (rc == 0 && f.version > 0) {
			/* The same value again is no change: no new version. */
			rc = vault_read(im->v, f.id, 0, &im->current);
			bool same = rc == 0 && im->current.len == len &&
				    sodium_memcmp(im->current.data, val, len) == 0;
			secbuf_truncate(&im->current, 0);
			if (same) {
				im->unchanged++;
				continue;
			}
		}
		if (rc && rc != ENOENT) {
			import_error(im, N_("%zu: column %zu (%s): %s"), line, i + 1, name, strerror(rc));
			continue;
		}
		rc = vault_write_in_txn(im->v, im->v->policy->cat, c.id, name, val, len, getuid(),
					&res);
		if (rc == EINVAL || rc == EFBIG)
			import_error(im, N_("%zu: column %zu (%s): %s"), line, i + 1, name,
				     res.why ? _(res.why) : strerror(rc));
		else if (rc)
			import_error(im, N_("%zu: column %zu (%s): %s"), line, i + 1, name, strerror(rc));
		else if (first)
			im->added++;
		else
			im->changed++;
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
	int c, rc = EXIT_REFUSED;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == OPT_PASSFILE)
			passfile = optarg;
		else
			goto usage;
	}
	if (argc - optind != 2)
		goto usage;

	struct import im = { .file = argv[optind + 1], .current = SECBUF_INIT };
	bool from_stdin = strcmp(im.file, "-") == 0;
	FILE *in = from_stdin ? stdin : fopen(im.file, "re");
	if (!in) {
		fprintf(stderr, "custctl: %s: %s\n", im.file, strerror(errno));
		return EXIT_REFUSED;
	}
	struct stat sb;
	off_t total = (!from_stdin && fstat(fileno(in), &sb) == 0) ? sb.st_size : 0;
	bool progress = isatty(STDERR_FILENO) && total > 0;

	im.v = ctl_open_vault(argv[optind], passfile);
	if (!im.v) {
		if (!from_stdin)
			fclose(in);
		return EXIT_REFUSED;
	}
	struct csv_reader r;
	csv_reader_init(&r, in);
	int err = db_begin(im.v->db, true);
	if (err) {
		fprintf(stderr, _("custctl: cannot start a transaction: %s\n"), strerror(err));
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
				import_error(&im, N_("%zu: column %zu: %s"), r.err_line, r.err_col, msg);
				break; /* the reader cannot resync after broken quoting */
			}
			import_record(&im, &r, line);
			if (progress && im.records % 500 == 0)
				fprintf(stderr, _("\rimporting: %zu records (%d%%)"), im.records,
					(int)(100 * r.bytes / (uint64_t)total));
		}
	}
	if (progress)
		fprintf(stderr, "\r\033[K");
	if (im.errors) {
		db_rollback(im.v->db);
		if (im.errors > MAX_REPORTED_ERRORS)
			fprintf(stderr, _("%s: ... and %d more errors\n"), im.file,
				im.errors - MAX_REPORTED_ERRORS);
		fprintf(stderr, _("custctl: %d error%s in %s; nothing was imported\n"), im.errors,
			im.errors == 1 ? "" : "s", im.file);
		goto out;
	}
	/* On the record before it takes effect: no record, no import. */
	char detail[PATH_MAX + 160];
	snprintf(detail, sizeof detail,
		 "%zu records (%zu new customers): %zu values new, %zu changed, %zu unchanged, "
		 "from %s", im.records, im.new_customers, im.added, im.changed, im.unchanged,
		 text_inert(im.file));
	if (ctl_audit(im.v, "import", 0, "", true, detail) != 0) {
		db_rollback(im.v->db);
		goto out;
	}
	err = db_commit(im.v->db);
	if (err) {
		fprintf(stderr, _("custctl: cannot commit the import: %s; nothing was imported\n"),
			strerror(err));
		snprintf(detail, sizeof detail, "the import just recorded was not committed: %s",
			 strerror(err));
		ctl_audit(im.v, "import-failed", 0, "", false, detail);
		goto out;
	}
	printf(_("imported %zu records (%zu new customers): %zu values new, %zu changed, %zu "
	       "unchanged, from %s\n"), im.records, im.new_customers, im.added, im.changed,
	       im.unchanged, text_inert(im.file));
	rc = EXIT_OK;
out:
	csv_reader_free(&r);
	free(im.seen.slot);
	secbuf_free(&im.current);
	vault_close(im.v);
	if (!from_stdin)
		fclose(in);
	return rc;
usage:
	fprintf(stderr, _("usage: custctl import STORE FILE.csv [--passphrase-file FILE]\n"));
	return EXIT_USAGE;
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
	ex->err = vault_field_list(ex->v, c->id, note_field, ex);
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
	int c, rc = EXIT_REFUSED;

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
		return EXIT_REFUSED;
	if (outfile) {
		/* Plaintext leaves custfs here, by the operator's choice: owner-only file. */
		int fd = open(outfile, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		ex.out = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!ex.out) {
			fprintf(stderr, "custctl: %s: %s\n", outfile, strerror(errno));
			if (fd >= 0)
				close(fd);
			vault_close(ex.v);
			return EXIT_REFUSED;
		}
	}
	char *iobuf = NULL;
	/* Every value leaves custfs here: on the record first, or not at all. */
	/* Every value, sensitive classes included: root's break-glass (R3.5). */
	if (ctl_audit_rule(ex.v, "export", 0, "", true, "break-glass",
			   outfile ? outfile : "(standard output)") != 0)
		goto out;
	/* Keep stdio's copy of the plaintext in locked, wiped memory too. */
	iobuf = sodium_malloc(65536);
	if (iobuf)
		setvbuf(ex.out, iobuf, _IOFBF, 65536);
	ex.field_of = calloc(ex.v->policy->cat->nfields, sizeof *ex.field_of);
	if (!ex.field_of) {
		fprintf(stderr, _("custctl: out of memory\n"));
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
				fprintf(stderr, _("custctl: cannot list customers: %s\n"), strerror(err));
			goto out;
		}
		if (ex.last == before)
			break;
	}
	if (fflush(ex.out) != 0) {
		fprintf(stderr, _("custctl: write error: %s\n"), strerror(errno));
		goto out;
	}
	rc = EXIT_OK;
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
	fprintf(stderr, _("usage: custctl export STORE [-o FILE.csv] [--passphrase-file FILE]\n"));
	return EXIT_USAGE;
}
