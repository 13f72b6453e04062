/* Scratch names: see scratch_names.h. Each pattern was taken from the tool
 * itself (strace of its write), not from its manual. */
#include "scratch_names.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "i18n.h"
#include "names.h"

const char *const scratch_builtin[] = {
	"sed??????",                   /* sed -i: sedXXXXXX */
	"XX??????",                    /* perl -i (its temp file) */
	"%f.bak",                      /* perl -i.bak, sed -i.bak */
	"%f.gawk.??????",              /* gawk -i inplace */
	".%f.??????",                  /* rsync's temporary copy */
	"%f~",                         /* backups: vim, nano, emacs, cp/mv -b, rsync -b */
	"%f.~[0-9]~", "%f.~[0-9][0-9]~", "%f.~[0-9][0-9][0-9]~", /* numbered backups */
	".%f.swp", ".%f.swx", ".%f.swpx", ".%f.sw[a-p]", ".%f.s[a-v][a-z]", /* vim, nano */
	".%f.un~",                     /* vim's undo file */
	"[0-9][0-9][0-9][0-9]", "[0-9][0-9][0-9][0-9][0-9]", /* vim's write probe 4913 */
	".#%f", "#%f#", ".#-emacs??????", "tmp??????", /* emacs: lock, auto-save, temp */
	"tmp????????",                 /* Python's tempfile */
	".~lock.%f#", "lu*.tmp",       /* LibreOffice: lock (needed to save), temp */
	NULL,
};

const char *scratch_pattern_problem(const char *pattern)
{
	size_t len = strlen(pattern);
	if (len == 0 || len > NAME_MAX_BYTES)
		return N_("a pattern is 1 to 255 bytes");
	if (strchr(pattern, '/'))
		return N_("a pattern names a file in the customer's directory: no '/'");
	if (strcmp(pattern, ".") == 0 || strcmp(pattern, "..") == 0)
		return N_("'.' and '..' are not file names");
	const char *f = strstr(pattern, "%f");
	for (const char *p = strchr(pattern, '%'); p; p = strchr(p + 2, '%'))
		if (p[1] != 'f')
			/* xgettext:no-c-format */
			return N_("'%' only as %f (a field's name)");
	if (f && strstr(f + 2, "%f"))
		/* xgettext:no-c-format */
		return N_("%f at most once in a pattern");
	return NULL;
}

/* PATTERN with %f replaced by FIELD, into OUT. False if it does not fit. */
static bool expand(const char *pattern, const char *field, char *out, size_t size)
{
	const char *f = strstr(pattern, "%f");
	size_t pre = (size_t)(f - pattern), flen = strlen(field), post = strlen(f + 2);
	if (pre + flen + post >= size)
		return false;
	memcpy(out, pattern, pre);
	memcpy(out + pre, field, flen);
	memcpy(out + pre + flen, f + 2, post + 1);
	return true;
}

static bool matches(const char *pattern, const struct catalog *cat, const char *name)
{
	if (!strstr(pattern, "%f"))
		return fnmatch(pattern, name, 0) == 0;
	char buf[2 * NAME_MAX_BYTES + 8];
	for (size_t i = 0; i < cat->nfields; i++)
		if (strstr(name, cat->fields[i].name) &&
		    expand(pattern, cat->fields[i].name, buf, sizeof buf) &&
		    fnmatch(buf, name, 0) == 0)
			return true;
	return false;
}

bool scratch_name_allowed(const char *const *patterns, size_t n, const struct catalog *cat,
			  const char *name)
{
	if (n == 0)
		for (patterns = scratch_builtin; patterns[n]; n++)
			;
	for (size_t i = 0; i < n; i++)
		if (matches(patterns[i], cat, name))
			return true;
	return false;
}

/* Optimal string alignment distance (edits, adjacent swaps), capped: a
 * result above CAP means "more than CAP". */
static size_t distance(const char *a, const char *b, size_t cap)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > NAME_MAX_BYTES || lb > NAME_MAX_BYTES || (la > lb ? la - lb : lb - la) > cap)
		return cap + 1;
	size_t rows[3][NAME_MAX_BYTES + 1];
	size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (prev[j - 1] + cost < d)
				d = prev[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < d)
				d = prev2[j - 2] + 1;
			cur[j] = d;
		}
		size_t *t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

const char *scratch_nearest_field(const struct catalog *cat, const char *name)
{
	const char *best = NULL;
	size_t best_d = 3;
	for (size_t i = 0; i < cat->nfields; i++) {
		const char *f = cat->fields[i].name;
		size_t d = distance(name, f, 2);
		if (d < best_d && 2 * d < strlen(f)) {
			best = f;
			best_d = d;
		}
	}
	return best;
}
