#include "conf.h"
#include "i18n.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "names.h"

#define FILE_MAX_BYTES (1024 * 1024)

void conf_init(struct conf_reader *r, FILE *in, const char *path, FILE *errs)
{
	r->in = in;
	r->path = path;
	r->errs = errs;
	r->lineno = 0;
	r->nerr = 0;
}

void conf_error(struct conf_reader *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(r->errs, "%s:%zu: ", r->path, r->lineno);
	vfprintf(r->errs, fmt, ap);
	fputc('\n', r->errs);
	va_end(ap);
	r->nerr++;
}

static int split(char *p, char **words)
{
	int n = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p == '\0' || *p == '#')
			return n;
		if (n == CONF_MAX_WORDS)
			return n + 1;
		words[n++] = p;
		/* '#' starts a comment; \# is a '#' in a word (scratch patterns like
		 * .#%f): the backslash is dropped in place. */
		char *to = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != '#') {
			if (p[0] == '\\' && p[1] == '#')
				p++;
			*to++ = *p++;
		}
		if (*p == '#') {
			*to = '\0';
			return n;
		}
		if (*p)
			p++;
		*to = '\0';
	}
}

int conf_next(struct conf_reader *r, char **words)
{
	while (fgets(r->line, sizeof r->line, r->in)) {
		size_t len = strlen(r->line);
		r->lineno++;
		if (len > CONF_LINE_MAX && r->line[len - 1] != '\n') {
			conf_error(r, _("line is longer than %d bytes"), CONF_LINE_MAX);
			int ch;
			while ((ch = fgetc(r->in)) != EOF && ch != '\n')
				;
			continue;
		}
		if (!utf8_valid(r->line, len)) {
			conf_error(r, _("line is not valid UTF-8"));
			continue;
		}
		int n = split(r->line, words);
		if (n > CONF_MAX_WORDS) {
			conf_error(r, _("too many words (at most %d)"), CONF_MAX_WORDS);
			continue;
		}
		if (n > 0)
			return n;
	}
	if (ferror(r->in)) {
		fprintf(r->errs, _("%s: read error\n"), r->path);
		r->nerr++;
	}
	return 0;
}

FILE *conf_open_file(const char *path, FILE *errs)
{
	FILE *f = fopen(path, "re");
	struct stat st;
	if (!f) {
		fprintf(errs, "%s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > FILE_MAX_BYTES) {
		fprintf(errs, _("%s: not a regular file of at most 1 MiB\n"), path);
		fclose(f);
		return NULL;
	}
	return f;
}
