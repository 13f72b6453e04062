/* The audit report as text, for a terminal or a mail (report.h).
 *
 * Every string from a record, the register or the store goes through
 * text_inert: it shows and does nothing. Columns are padded by display
 * width (a Chinese character takes two), not by bytes. */
#include "report.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "i18n.h"
#include "text.h"

/* Columns a UTF-8 string takes on a terminal: East Asian wide and
 * fullwidth characters two, combining marks none, the rest one. */
static int width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int w = 0;
	while (*p) {
		uint32_t c = *p;
		int n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		if (n > 1) {
			c &= 0xff >> (n + 1);
			for (int i = 1; i < n && (p[i] & 0xc0) == 0x80; i++)
				c = (c << 6) | (p[i] & 0x3f);
		}
		for (int i = 0; i < n && *p; i++)
			p++;
		if ((c >= 0x300 && c <= 0x36f) || (c >= 0x200b && c <= 0x200f))
			continue;
		w += (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) ||
				     (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
				     (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
				     (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x20000 && c <= 0x3fffd)
			     ? 2
			     : 1;
	}
	return w;
}

/* S, then spaces to COLS columns (at least one). */
static void pad(FILE *out, const char *s, int cols)
{
	fputs(s, out);
	int w = width(s);
	do
		putc(' ', out);
	while (++w < cols);
}

static void heading(FILE *out, const char *title)
{
	fprintf(out, "\n%s\n", title);
}

static void counts(FILE *out, const struct report_count *c)
{
	fprintf(out, "%8ld %8ld\n", c->accesses, c->denied);
}

static void header(FILE *out, const char *first, int cols)
{
	fputs("  ", out);
	pad(out, first, cols);
	fprintf(out, "%8s %8s\n", _("accesses"), _("denied"));
}

static void seqs(FILE *out, const struct report_anomaly *a)
{
	fprintf(out, " (%s", a->records == 1 ? _("record") : _("records"));
	for (size_t i = 0; i < a->nseqs; i++)
		fprintf(out, " %lld", (long long)a->seqs[i]);
	if ((long)a->nseqs < a->records)
		fprintf(out, _(" and %ld more"), a->records - (long)a->nseqs);
	fputs(")\n", out);
}

static void keys(FILE *out, const char *title, const char *column, const struct report_key *k,
		 size_t n)
{
	heading(out, title);
	if (!n) {
		fprintf(out, "  %s\n", _("(none)"));
		return;
	}
	header(out, column, 28);
	for (size_t i = 0; i < n; i++) {
		fputs("  ", out);
		pad(out, text_inert(report_key_label(k[i].name)), 28);
		counts(out, &k[i].c);
	}
}

static void where(FILE *out, const struct report_record *g)
{
	if (g->customer[0])
		fprintf(out, " %s%s%s", text_inert(g->customer), g->field[0] ? "/" : "",
			text_inert(g->field));
}

int report_text(const struct report *r, FILE *out)
{
	char t1[32], t2[32], who[64], night[16];
	report_night(r, night);
	fprintf(out, "%s\n", _("custfs audit report (R5.1)"));
	fprintf(out, _("period: %s to %s"), r->opts.from ? text_inert(r->opts.from) : _("the start"),
		r->opts.to ? text_inert(r->opts.to) : _("now"));
	report_time(r->made_ns, t1);
	fprintf(out, _("; made %s\n"), t1);
	if (r->records)
		fprintf(out, _("records %lld to %lld (%ld read)\n"), (long long)r->first_seq,
			(long long)r->last_seq, r->records);
	else
		fprintf(out, "%s\n", _("no records in the period"));
	fprintf(out, _("%ld accesses, %ld denied, %ld through checkouts; %ld commands, %ld "
		       "break-glass\n"),
		r->total.accesses, r->total.denied, r->through_checkouts, r->commands,
		r->glass_total);

	keys(out, _("accesses by department:"), _("department"), r->departments, r->ndepartments);

	heading(out, _("accesses per department per day:"));
	if (!r->ndays)
		fprintf(out, "  %s\n", _("(none)"));
	else {
		fputs("  ", out);
		pad(out, _("day"), 12);
		header(out, _("department"), 26);
	}
	for (size_t d = 0; d < r->ndays; d++)
		for (size_t k = 0, first = 1; k < r->ndepartments; k++) {
			const struct report_count *c = &r->dept_day[d * r->ndepartments + k];
			if (!c->accesses)
				continue;
			fputs("  ", out);
			pad(out, first ? r->days[d].date : "", 12);
			fputs("  ", out);
			pad(out, text_inert(report_key_label(r->departments[k].name)), 26);
			counts(out, c);
			first = 0;
		}

	heading(out, _("by person:"));
	if (!r->npeople)
		fprintf(out, "  %s\n", _("(none)"));
	else
		header(out, _("person (department)"), 40);
	for (size_t i = 0; i < r->npeople; i++) {
		const struct report_person *p = &r->people[i];
		char label[200];
		snprintf(label, sizeof label, "%s (%s)", text_inert(report_person_label(p, who, sizeof who)),
			 text_inert(report_key_label(p->department)));
		fputs("  ", out);
		pad(out, label, 40);
		counts(out, &p->c);
	}

	keys(out, _("by class:"), _("class"), r->classes, r->nclasses);

	heading(out, _("denials by rule:"));
	if (!r->nrules)
		fprintf(out, "  %s\n", _("(none)"));
	for (size_t i = 0; i < r->nrules; i++) {
		fputs("  ", out);
		pad(out, text_inert(report_key_label(r->rules[i].name)), 28);
		fprintf(out, "%8ld\n", r->rules[i].c.denied);
	}

	heading(out, _("sensitive checkouts (R3.5):"));
	fprintf(out, _("  %zu in the period, %ld late (ran out unreturned)\n"), r->ncheckouts,
		r->late);
	for (size_t i = 0; i < r->ncheckouts; i++) {
		const struct report_checkout *c = &r->checkouts[i];
		report_time(c->requested_ns, t1);
		report_time(c->ended_ns ? c->ended_ns : c->expires_ns, t2);
		fprintf(out, _("  #%lld %s: %s%s%s for \"%s\"; %s %s, %s until %s, %ld accesses%s\n"),
			(long long)c->id, c->login[0] ? text_inert(c->login) : "-",
			text_inert(c->customer), c->target[0] ? "/" : "", text_inert(c->target),
			text_inert(c->purpose), _("requested"), t1, c->status, t2[0] ? t2 : "-",
			c->accesses, c->late ? _(" LATE: not returned in time") : "");
	}

	heading(out, _("policy changes (R2.1):"));
	fprintf(out, "  %ld\n", r->changes_total);
	for (size_t i = 0; i < r->nchanges; i++) {
		const struct report_record *g = &r->changes[i];
		report_time(g->time_ns, t1);
		fprintf(out, _("  %s  %-9s by %-12s %s (record %lld)\n"), t1, text_inert(g->action + 7),
			g->login[0] ? text_inert(g->login) : _("root"), text_inert(g->detail),
			(long long)g->seq);
	}
	if ((long)r->nchanges < r->changes_total)
		fprintf(out, _("  ... and %ld more (custctl audit --action policy-...)\n"),
			r->changes_total - (long)r->nchanges);

	heading(out, _("break-glass uses: root on the store files, and root's reads of sensitive "
		       "records without a checkout (R3.5):"));
	fprintf(out, "  %ld\n", r->glass_total);
	for (size_t i = 0; i < r->nglass; i++) {
		const struct report_record *g = &r->glass[i];
		report_time(g->time_ns, t1);
		fprintf(out, "  %s  %s", t1, text_inert(g->action));
		where(out, g);
		if (g->detail[0])
			fprintf(out, ": %s", text_inert(g->detail));
		fprintf(out, _(" (record %lld)\n"), (long long)g->seq);
	}
	if ((long)r->nglass < r->glass_total)
		fprintf(out, _("  ... and %ld more (custctl audit --json: rule break-glass)\n"),
			r->glass_total - (long)r->nglass);

	heading(out, _("unusual behaviour:"));
	for (size_t i = 0; i < r->nanomalies; i++) {
		const struct report_anomaly *a = &r->anomalies[i];
		const char *p = text_inert(report_person_label(&r->people[a->person], who, sizeof who));
		fputs("  ", out);
		if (a->kind == ANOMALY_MANY_CUSTOMERS)
			fprintf(out, _("%s read %ld different customers within ten minutes"), p,
				a->count);
		else if (a->kind == ANOMALY_NIGHT)
			fprintf(out, dngettext(CUSTFS_TEXTDOMAIN,
					       "%s accessed customer data at night (%s): %ld time",
					       "%s accessed customer data at night (%s): %ld times",
					       (unsigned long)a->count),
				p, night, a->count);
		else
			fprintf(out, _("%s was denied %ld times within ten minutes"), p, a->count);
		seqs(out, a);
	}
	if (!r->nanomalies)
		fprintf(out, "  %s\n", _("(none)"));

	heading(out, _("spot-check sample: data accesses drawn at random:"));
	if (!r->nsample)
		fprintf(out, "  %s\n", _("(none)"));
	for (size_t i = 0; i < r->nsample; i++) {
		const struct report_record *g = &r->sample[i];
		struct report_person p = { .login = g->login, .uid = g->uid };
		report_time(g->time_ns, t1);
		fprintf(out, "  %8lld %s %s (%s) %s %s", (long long)g->seq, t1,
			text_inert(report_person_label(&p, who, sizeof who)),
			text_inert(report_key_label(g->department)), text_inert(g->action),
			g->allow ? _("allow") : _("DENY"));
		where(out, g);
		fprintf(out, " [%s]\n", text_inert(g->rule));
	}
	fflush(out);
	return ferror(out) ? EIO : 0;
}
