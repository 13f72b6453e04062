#include "policy.h"
#include "i18n.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "names.h"
#include "scratch_names.h"

const struct stafftype *policy_stafftype(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nstafftypes; i++)
		if (strcmp(p->stafftypes[i].name, name) == 0)
			return &p->stafftypes[i];
	return NULL;
}

const struct department *policy_department(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->ndepartments; i++)
		if (strcmp(p->departments[i].name, name) == 0)
			return &p->departments[i];
	return NULL;
}

const struct role *policy_role(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nroles; i++)
		if (strcmp(p->roles[i].name, name) == 0)
			return &p->roles[i];
	return NULL;
}

static const char *const procedure_names[PROC_COUNT] = {
	[PROC_APPROVE] = "approve",
	[PROC_IMPLEMENT] = "implement",
	[PROC_STAFF] = "staff",
	[PROC_POLICY] = "policy",
	[PROC_FILE_FOR_HEADS] = "file-for-heads",
};

static const struct {
	const char *name;
	int64_t dflt;
	bool bytes;
} limits[LIMIT_COUNT] = {
	[LIMIT_OPEN_FILES] = { "open-files", 256, false },
	[LIMIT_WRITERS] = { "writers", 64, false },
	[LIMIT_CTL_REQUESTS] = { "ctl-requests", 4, false },
	[LIMIT_SCRATCH_FILES] = { "scratch-files", 64, false },
	[LIMIT_SCRATCH_BYTES] = { "scratch-bytes", 16LL << 20, true },
	[LIMIT_MEMORY] = { "memory", 64LL << 20, true },
	[LIMIT_CTL_PER_MINUTE] = { "ctl-per-minute", 600, false },
	[LIMIT_TOTAL_OPEN_FILES] = { "total-open-files", 8192, false },
	[LIMIT_TOTAL_SCRATCH_FILES] = { "total-scratch-files", 2048, false },
	[LIMIT_TOTAL_MEMORY] = { "total-memory", 1LL << 30, true },
};

const char *limit_name(enum limit l)
{
	return limits[l].name;
}

int64_t limit_default(enum limit l)
{
	return limits[l].dflt;
}

/* "300", "64K", "16M", "1G" (bytes) or a count. -1 if malformed. */
static int64_t parse_amount(const char *s, bool bytes)
{
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0)
		return -1;
	int64_t mult = 1;
	if (bytes && *end) {
		mult = *end == 'K' ? 1LL << 10 : *end == 'M' ? 1LL << 20 : *end == 'G' ? 1LL << 30 : 0;
		if (!mult || end[1])
			return -1;
	} else if (*end) {
		return -1;
	}
	if (v > (1LL << 40) / mult)
		return -1;
	return (int64_t)v * mult;
}

const char *procedure_name(enum procedure pr)
{
	return procedure_names[pr];
}

const struct checkout_rule *policy_checkout_rule(const struct policy *p,
						 const struct field_class *cls)
{
	for (size_t i = 0; i < p->ncheckouts; i++)
		if (p->checkouts[i].cls == cls)
			return &p->checkouts[i];
	return NULL;
}

int64_t policy_parse_duration(const char *s)
{
	/* NUMBER[s|m|h|d], several in a row (1h30m); a bare number is seconds. */
	int64_t total = 0;
	const char *p = s;
	if (!*p)
		return -1;
	while (*p) {
		char *end = NULL;
		errno = 0;
		if (*p < '0' || *p > '9')
			return -1;
		long long v = strtoll(p, &end, 10);
		if (errno || end == p || v < 0 || v > 366LL * 86400)
			return -1;
		int64_t mult = *end == 'd' ? 86400 : *end == 'h' ? 3600 : *end == 'm' ? 60 : 1;
		if (*end == '\0' && p != s)
			return -1; /* "1h30": a unit for each part */
		if (*end && !strchr("smhd", *end))
			return -1;
		total += (int64_t)v * mult;
		if (total > 366LL * 86400)
			return -1;
		p = *end ? end + 1 : end;
	}
	return total > 0 ? total : -1;
}

static int parse_hhmm(const char *s, int *out)
{
	int h, m;
	char tail;
	if (sscanf(s, "%d:%d%c", &h, &m, &tail) != 2 || h < 0 || h > 24 || m < 0 || m > 59 ||
	    (h == 24 && m != 0))
		return -1;
	*out = h * 60 + m;
	return 0;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->ncheckouts; i++)
		free(p->checkouts[i].approval);
	free(p->checkouts);
	for (size_t i = 0; i < p->nstafftypes; i++) {
		free(p->stafftypes[i].name);
		free(p->stafftypes[i].masked);
	}
	for (size_t i = 0; i < p->ndepartments; i++) {
		free(p->departments[i].name);
		free(p->departments[i].ceiling.field);
	}
	for (size_t i = 0; i < p->nroles; i++) {
		free(p->roles[i].name);
		free(p->roles[i].rights.field);
	}
	free(p->stafftypes);
	free(p->departments);
	free(p->roles);
	free(p->masks);
	free(p->keeps);
	for (size_t i = 0; i < p->nscratch; i++)
		free(p->scratch[i]);
	free(p->scratch);
	catalog_free(p->cat);
	free(p);
}

/* Grows *ARR (of *N items of SIZE bytes) by one zeroed item; NULL on ENOMEM. */
static void *push(void **arr, size_t *n, size_t size)
{
	void *g = realloc(*arr, (*n + 1) * size);
	if (!g)
		return NULL;
	*arr = g;
	char *item = (char *)g + *n * size;
	memset(item, 0, size);
	(*n)++;
	return item;
}

/* Sets BIT in FIELD[] for every class or field named in the comma list LIST.
 * Reports unknown names; returns the number of errors. */
static int mark_targets(struct conf_reader *r, const struct catalog *cat, char *list,
			unsigned char *field, unsigned char bit)
{
	int nerr = 0;
	for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		const struct field_class *cls = catalog_class(cat, t);
		const struct field_def *fd = catalog_field(cat, t);
		if (cls) {
			for (size_t i = 0; i < cat->nfields; i++)
				if (cat->fields[i].cls == cls)
					field[i] |= bit;
		} else if (fd) {
			field[fd->index] |= bit;
		} else {
			conf_error(r, _("'%s' is neither a class nor a field of fields.conf"), t);
			nerr++;
		}
	}
	return nerr;
}

/* Parses "[read T] [write T] [create]" from WORDS[from..n). */
static int parse_rights(struct conf_reader *r, const struct catalog *cat, char **w, int from,
			int n, struct rights *out)
{
	int nerr = 0;
	out->field = calloc(cat->nfields ? cat->nfields : 1, 1);
	if (!out->field)
		return -1;
	for (int i = from; i < n; i++) {
		if ((strcmp(w[i], "read") == 0 || strcmp(w[i], "write") == 0) && i + 1 < n) {
			unsigned char bit = w[i][0] == 'r' ? R_READ : R_WRITE;
			nerr += mark_targets(r, cat, w[++i], out->field, bit);
		} else if (strcmp(w[i], "create") == 0) {
			out->create = true;
		} else {
			conf_error(r, _("unexpected '%s' (expected read TARGETS, write TARGETS or create)"),
				   w[i]);
			nerr++;
		}
	}
	return nerr;
}

static bool name_word(struct conf_reader *r, const char *what, const char *name)
{
	const char *why = name_problem(name, strlen(name), false);
	if (why || strlen(name) > 63) {
		conf_error(r, _("%s name '%s': %s"), _(what), name,
			   why ? _(why) : _("longer than 63 bytes"));
		return false;
	}
	return true;
}

static bool parse_int(const char *s, int lo, int hi, int *out)
{
	char *end = NULL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

int policy_parse(FILE *in, const char *path, FILE *errs, struct catalog *cat,
		 struct policy **out)
{
	struct policy *p = calloc(1, sizeof *p);
	struct conf_reader r;
	char *w[CONF_MAX_WORDS];
	int n, extra = 0;

	if (!p) {
		catalog_free(cat);
		goto nomem;
	}
	p->cat = cat;
	p->masks = calloc(cat->nfields ? cat->nfields : 1, sizeof *p->masks);
	if (!p->masks)
		goto nomem;
	for (int l = 0; l < LIMIT_COUNT; l++)
		p->limits[l] = limits[l].dflt;
	bool limit_seen[LIMIT_COUNT] = { false };
	conf_init(&r, in, path, errs);
	while ((n = conf_next(&r, w)) > 0) {
		if (strcmp(w[0], "stafftype") == 0) {
			/* stafftype NAME max-level N [mask FIELDS] [scoped] [expiring] */
			if (n < 4 || strcmp(w[2], "max-level") != 0) {
				conf_error(&r, _("expected: stafftype NAME max-level N [mask FIELDS] "
					       "[scoped] [expiring]"));
				continue;
			}
			if (!name_word(&r, N_("staff type"), w[1]))
				continue;
			if (policy_stafftype(p, w[1])) {
				conf_error(&r, _("staff type '%s' is defined twice"), w[1]);
				continue;
			}
			if (p->ncheckouts > 0) {
				/* Checkout rules index the staff types: keep staff types first. */
				conf_error(&r, _("staff type '%s' must come before the first checkout"), w[1]);
				continue;
			}
			struct stafftype st = { 0 };
			st.line = r.lineno;
			if (!parse_int(w[3], 0, 99, &st.max_level)) {
				conf_error(&r, _("max-level '%s' is not a whole number from 0 to 99"), w[3]);
				continue;
			}
			st.masked = calloc(cat->nfields ? cat->nfields : 1, 1);
			if (!st.masked)
				goto nomem;
			int bad = 0;
			for (int i = 4; i < n; i++) {
				if (strcmp(w[i], "mask") == 0 && i + 1 < n) {
					bad += mark_targets(&r, cat, w[++i], st.masked, 1);
				} else if (strcmp(w[i], "scoped") == 0) {
					st.scoped = true;
				} else if (strcmp(w[i], "expiring") == 0) {
					st.expiring = true;
				} else {
					conf_error(&r, _("unexpected '%s' (expected mask FIELDS, scoped or "
						       "expiring)"), w[i]);
					bad++;
				}
			}
			struct stafftype *slot;
			if (bad || !(slot = push((void **)&p->stafftypes, &p->nstafftypes, sizeof *slot))) {
				free(st.masked);
				if (!bad)
					goto nomem;
				continue;
			}
			st.name = strdup(w[1]);
			*slot = st;
			if (!slot->name)
				goto nomem;
		} else if (strcmp(w[0], "department") == 0) {
			/* department NAME [read T] [write T] [create] */
			if (n < 2) {
				conf_error(&r, _("expected: department NAME [read TARGETS] [write TARGETS] "
					       "[create]"));
				continue;
			}
			if (!name_word(&r, N_("department"), w[1]))
				continue;
			if (policy_department(p, w[1])) {
				conf_error(&r, _("department '%s' is defined twice"), w[1]);
				continue;
			}
			bool any_procedure = false;
			for (int k = 0; k < PROC_COUNT; k++)
				any_procedure |= p->procedure[k] != NULL;
			if (p->nroles > 0 || any_procedure) {
				/* Roles and procedures point into the department array: keep
				 * departments first. */
				conf_error(&r, _("department '%s' must come before the first role and "
					       "procedure"), w[1]);
				continue;
			}
			struct rights rt = { 0 };
			int bad = parse_rights(&r, cat, w, 2, n, &rt);
			if (bad < 0)
				goto nomem;
			struct department *slot;
			if (bad || !(slot = push((void **)&p->departments, &p->ndepartments,
						 sizeof *slot))) {
				free(rt.field);
				if (!bad)
					goto nomem;
				continue;
			}
			slot->ceiling = rt;
			slot->name = strdup(w[1]);
			if (!slot->name)
				goto nomem;
		} else if (strcmp(w[0], "role") == 0) {
			/* role NAME department DEPT [read T] [write T] [create] */
			if (n < 4 || strcmp(w[2], "department") != 0) {
				conf_error(&r, _("expected: role NAME department DEPT [read TARGETS] "
					       "[write TARGETS] [create]"));
				continue;
			}
			if (!name_word(&r, N_("role"), w[1]))
				continue;
			if (policy_role(p, w[1])) {
				conf_error(&r, _("role '%s' is defined twice"), w[1]);
				continue;
			}
			const struct department *d = policy_department(p, w[3]);
			if (!d) {
				conf_error(&r, _("role '%s': unknown department '%s'"), w[1], w[3]);
				continue;
			}
			struct rights rt = { 0 };
			int bad = parse_rights(&r, cat, w, 4, n, &rt);
			if (bad < 0)
				goto nomem;
			/* A role that reaches past its department's ceiling is a policy
			 * mistake: say so now rather than deny silently later. */
			for (size_t i = 0; !bad && i < cat->nfields; i++) {
				unsigned char over = rt.field[i] & (unsigned char)~d->ceiling.field[i];
				if (over) {
					conf_error(&r, _("role '%s': %s on field '%s' is beyond department "
						       "'%s''s ceiling"), w[1],
						   over & R_WRITE ? "write" : "read", cat->fields[i].name,
						   d->name);
					bad++;
				}
			}
			if (!bad && rt.create && !d->ceiling.create) {
				conf_error(&r, _("role '%s': create is beyond department '%s''s ceiling"),
					   w[1], d->name);
				bad++;
			}
			struct role *slot;
			if (bad || !(slot = push((void **)&p->roles, &p->nroles, sizeof *slot))) {
				free(rt.field);
				if (!bad)
					goto nomem;
				continue;
			}
			slot->rights = rt;
			slot->dept = d;
			slot->name = strdup(w[1]);
			if (!slot->name)
				goto nomem;
		} else if (strcmp(w[0], "procedure") == 0) {
			/* procedure NAME department DEPT */
			int pr = -1;
			for (int i = 0; n == 4 && i < PROC_COUNT; i++)
				if (strcmp(w[1], procedure_names[i]) == 0)
					pr = i;
			if (n != 4 || strcmp(w[2], "department") != 0) {
				conf_error(&r, _("expected: procedure approve|implement|staff|policy|"
					       "file-for-heads department DEPT"));
				continue;
			}
			if (pr < 0) {
				conf_error(&r, _("unknown procedure '%s' (known: approve, implement, staff, "
					       "policy, file-for-heads)"), w[1]);
				continue;
			}
			const struct department *d = policy_department(p, w[3]);
			if (!d) {
				conf_error(&r, _("procedure %s: unknown department '%s'"), w[1], w[3]);
				continue;
			}
			if (p->procedure[pr]) {
				conf_error(&r, _("procedure %s is defined twice"), w[1]);
				continue;
			}
			p->procedure[pr] = d;
		} else if (strcmp(w[0], "checkout") == 0) {
			/* checkout CLASS max DURATION [limit N] [hours HH:MM-HH:MM] [approval TYPES|all] */
			const struct field_class *cls = n >= 4 ? catalog_class(cat, w[1]) : NULL;
			if (n < 4 || strcmp(w[2], "max") != 0) {
				conf_error(&r, _("expected: checkout CLASS max DURATION [limit N] "
					       "[hours HH:MM-HH:MM] [approval TYPES|all]"));
				continue;
			}
			if (!cls || !cls->sensitive) {
				conf_error(&r, _("checkout: '%s' is not a sensitive class"), w[1]);
				continue;
			}
			if (policy_checkout_rule(p, cls)) {
				conf_error(&r, _("checkout for class '%s' is defined twice"), w[1]);
				continue;
			}
			struct checkout_rule cr = { .cls = cls, .from_min = -1, .to_min = -1 };
			cr.max_s = policy_parse_duration(w[3]);
			int bad = 0;
			if (cr.max_s <= 0) {
				conf_error(&r, _("checkout: '%s' is not a duration (like 90m, 8h, 2d)"), w[3]);
				bad++;
			}
			cr.approval = calloc(p->nstafftypes ? p->nstafftypes : 1, 1);
			if (!cr.approval)
				goto nomem;
			for (int i = 4; !bad && i < n; i++) {
				if (strcmp(w[i], "limit") == 0 && i + 1 < n) {
					if (!parse_int(w[++i], 1, 100, &cr.limit)) {
						conf_error(&r, _("checkout: limit '%s' is not from 1 to 100"), w[i]);
						bad++;
					}
				} else if (strcmp(w[i], "hours") == 0 && i + 1 < n) {
					char *dash = strchr(w[++i], '-');
					if (!dash || (*dash = '\0', parse_hhmm(w[i], &cr.from_min)) ||
					    parse_hhmm(dash + 1, &cr.to_min) || cr.from_min >= cr.to_min) {
						conf_error(&r, _("checkout: hours are HH:MM-HH:MM, the first earlier"));
						bad++;
					}
				} else if (strcmp(w[i], "approval") == 0 && i + 1 < n) {
					char *save = NULL;
					for (char *t = strtok_r(w[++i], ",", &save); t && !bad;
					     t = strtok_r(NULL, ",", &save)) {
						if (strcmp(t, "all") == 0) {
							memset(cr.approval, 1, p->nstafftypes);
							continue;
						}
						const struct stafftype *st = policy_stafftype(p, t);
						if (!st) {
							conf_error(&r, _("checkout: unknown staff type '%s'"), t);
							bad++;
						} else {
							cr.approval[st - p->stafftypes] = 1;
						}
					}
				} else {
					conf_error(&r, _("checkout: unexpected '%s'"), w[i]);
					bad++;
				}
			}
			struct checkout_rule *slot;
			if (bad || !(slot = push((void **)&p->checkouts, &p->ncheckouts, sizeof *slot))) {
				free(cr.approval);
				if (!bad)
					goto nomem;
				continue;
			}
			*slot = cr;
		} else if (strcmp(w[0], "audit") == 0) {
			/* audit durable all|sensitive */
			if (n != 3 || strcmp(w[1], "durable") != 0 ||
			    (strcmp(w[2], "all") != 0 && strcmp(w[2], "sensitive") != 0)) {
				conf_error(&r, _("expected: audit durable all|sensitive"));
				continue;
			}
			p->audit_durable = strcmp(w[2], "all") == 0;
		} else if (strcmp(w[0], "keep") == 0) {
			/* keep CLASS versions N | keep CLASS days D */
			const struct field_class *cls = n == 4 ? catalog_class(cat, w[1]) : NULL;
			int64_t num = 0;
			bool by_count = n == 4 && !strcmp(w[2], "versions");
			bool by_age = n == 4 && !strcmp(w[2], "days");
			char *end = NULL;
			if (n == 4)
				num = strtoll(w[3], &end, 10);
			if (n != 4 || !(by_count || by_age) || !end || *end || num < 1 ||
			    num > 1000000) {
				conf_error(&r, _("expected: keep CLASS versions N, or keep CLASS days D "
					       "(N, D at least 1)"));
				continue;
			}
			if (!cls) {
				conf_error(&r, _("keep: unknown class '%s'"), w[1]);
				continue;
			}
			struct retention *k = NULL;
			for (size_t i = 0; i < p->nkeeps; i++)
				if (p->keeps[i].cls == cls)
					k = &p->keeps[i];
			if (!k && !(k = push((void **)&p->keeps, &p->nkeeps, sizeof *k)))
				goto nomem;
			k->cls = cls;
			if ((by_count && k->versions) || (by_age && k->days)) {
				conf_error(&r, _("keep %s %s is defined twice"), w[1], w[2]);
				continue;
			}
			if (by_count)
				k->versions = num;
			else
				k->days = num;
		} else if (strcmp(w[0], "erase") == 0) {
			/* erase delay DURATION|0 */
			int64_t d = n == 3 && !strcmp(w[2], "0") ? 0
				    : n == 3 ? policy_parse_duration(w[2]) : -1;
			if (n != 3 || strcmp(w[1], "delay") != 0 || d < 0) {
				conf_error(&r, _("expected: erase delay DURATION (like 7d, or 0)"));
				continue;
			}
			p->erase_delay_s = d;
		} else if (strcmp(w[0], "limit") == 0) {
			/* limit NAME VALUE */
			int l = -1;
			for (int k = 0; n == 3 && k < LIMIT_COUNT; k++)
				if (strcmp(w[1], limits[k].name) == 0)
					l = k;
			if (n != 3) {
				conf_error(&r, _("expected: limit NAME VALUE"));
				continue;
			}
			if (l < 0) {
				conf_error(&r, _("unknown limit '%s' (known: open-files, writers, "
					       "ctl-requests, ctl-per-minute, scratch-files, scratch-bytes, memory, "
					       "total-open-files, total-scratch-files, total-memory)"), w[1]);
				continue;
			}
			int64_t v = parse_amount(w[2], limits[l].bytes);
			if (v < 1) {
				conf_error(&r, _("limit %s: '%s' is not a positive %s"), w[1], w[2],
					   limits[l].bytes ? _("size (like 512K, 16M, 1G)") : _("number"));
				continue;
			}
			if (limit_seen[l]) {
				conf_error(&r, _("limit %s is defined twice"), w[1]);
				continue;
			}
			limit_seen[l] = true;
			p->limits[l] = v;
		} else if (strcmp(w[0], "scratch") == 0) {
			/* scratch PATTERN... */
			if (n < 2)
				conf_error(&r, _("expected: scratch PATTERN... (fnmatch globs; %%f is a "
					       "field's name)"));
			for (int i = 1; i < n; i++) {
				const char *why = scratch_pattern_problem(w[i]);
				char **slot;
				if (why) {
					conf_error(&r, _("scratch '%s': %s"), w[i], _(why));
				} else if (!(slot = push((void **)&p->scratch, &p->nscratch,
							 sizeof *slot)) ||
					   !(*slot = strdup(w[i]))) {
					if (slot)
						p->nscratch--;
					goto nomem;
				}
			}
		} else if (strcmp(w[0], "mask") == 0) {
			/* mask FIELD first N last M | mask FIELD email */
			const struct field_def *fd = n >= 3 ? catalog_field(cat, w[1]) : NULL;
			struct mask m = { MASK_NONE, 0, 0 };
			if (n >= 3 && !fd) {
				conf_error(&r, _("mask: unknown field '%s'"), w[1]);
				continue;
			}
			if (n == 3 && strcmp(w[2], "email") == 0) {
				m.kind = MASK_EMAIL;
			} else if (n == 6 && strcmp(w[2], "first") == 0 && strcmp(w[4], "last") == 0 &&
				   parse_int(w[3], 0, 64, &m.first) && parse_int(w[5], 0, 64, &m.last)) {
				m.kind = MASK_KEEP;
			} else {
				conf_error(&r, _("expected: mask FIELD first N last M, or mask FIELD email"));
				continue;
			}
			if (p->masks[fd->index].kind != MASK_NONE) {
				conf_error(&r, _("mask for field '%s' is defined twice"), w[1]);
				continue;
			}
			p->masks[fd->index] = m;
		} else {
			conf_error(&r, _("unknown statement '%s' (expected stafftype, department, role, "
				       "procedure, checkout, audit, erase, keep, limit, scratch or mask)"), w[0]);
		}
	}
	/* A staff type that masks a field needs to know how. */
	for (size_t s = 0; s < p->nstafftypes; s++)
		for (size_t i = 0; i < cat->nfields; i++)
			if (p->stafftypes[s].masked[i] && p->masks[i].kind == MASK_NONE) {
				fprintf(errs, _("%s:%zu: staff type '%s' masks field '%s', which has no "
					      "mask statement\n"), path, p->stafftypes[s].line,
					p->stafftypes[s].name, cat->fields[i].name);
				extra++;
			}
	if (r.nerr + extra == 0 && p->nstafftypes == 0) {
		fprintf(errs, _("%s: no staff types are defined\n"), path);
		extra++;
	}
	if (r.nerr + extra) {
		policy_free(p);
		return r.nerr + extra;
	}
	*out = p;
	return 0;
nomem:
	policy_free(p);
	fprintf(errs, _("%s: out of memory\n"), path);
	return -1;
}

int policy_load(const char *dir, FILE *errs, struct policy **out)
{
	char path[PATH_MAX];
	struct catalog *cat = NULL;

	snprintf(path, sizeof path, "%s/%s", dir, CATALOG_FILE);
	int nerr = catalog_load(path, errs, &cat);
	if (nerr)
		return nerr;
	snprintf(path, sizeof path, "%s/%s", dir, POLICY_ACCESS_FILE);
	FILE *f = conf_open_file(path, errs);
	if (!f) {
		catalog_free(cat);
		return 1;
	}
	nerr = policy_parse(f, path, errs, cat, out);
	fclose(f);
	return nerr;
}
