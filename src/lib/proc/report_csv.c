/* The audit report as CSV: one long table, a `section` column saying what
 * each row is (custctl(1), "audit report --format csv").
 *
 * RFC 4180: CRLF line ends, a field quoted when it holds a comma, a quote
 * or a line break (quotes doubled). A cell that a spreadsheet would take
 * for a formula (starting with = + - @, a tab or a carriage return) gets a
 * leading ' : names in the log are typed by people. Never translated: it is
 * for programs. */
#include "report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

enum col {
	C_SECTION, C_ITEM, C_VALUE, C_DAY, C_DEPARTMENT, C_LOGIN, C_UID, C_CLASS, C_RULE,
	C_CUSTOMER, C_FIELD, C_ACTION, C_DECISION, C_STATUS, C_ACCESSES, C_DENIED, C_SEQ, C_TIME,
	C_DETAIL, NCOLS
};

static const char *const col_names[NCOLS] = {
	"section", "item", "value", "day", "department", "login", "uid", "class", "rule",
	"customer", "field", "action", "decision", "status", "accesses", "denied", "seq", "time",
	"detail",
};

struct row {
	const char *v[NCOLS];
	char num[NCOLS][32];
};

static void row_start(struct row *w, const char *section)
{
	memset(w, 0, sizeof *w);
	w->v[C_SECTION] = section;
}

static void set_num(struct row *w, enum col c, long long n)
{
	snprintf(w->num[c], sizeof w->num[c], "%lld", n);
	w->v[c] = w->num[c];
}

static void set_time(struct row *w, enum col c, int64_t ns)
{
	report_time_iso(ns, w->num[c]);
	w->v[c] = w->num[c];
}

static void cell(FILE *out, const char *s, bool first)
{
	if (!s)
		s = "";
	if (s[0] && strchr("=+-@\t\r", s[0])) {
		/* A formula to a spreadsheet: shown as text instead. */
		size_t n = strlen(s);
		char *g = malloc(n + 2);
		if (g) {
			g[0] = '\'';
			memcpy(g + 1, s, n + 1);
			csv_write_field(out, g, n + 1, first);
			free(g);
			return;
		}
	}
	csv_write_field(out, s, strlen(s), first);
}

static void row_end(FILE *out, const struct row *w)
{
	for (int c = 0; c < NCOLS; c++)
		cell(out, w->v[c], c == 0);
	fputs("\r\n", out);
}

static void count_cols(struct row *w, const struct report_count *c)
{
	set_num(w, C_ACCESSES, c->accesses);
	set_num(w, C_DENIED, c->denied);
}

static void summary(FILE *out, const char *item, const char *value)
{
	struct row w;
	row_start(&w, "summary");
	w.v[C_ITEM] = item;
	w.v[C_VALUE] = value;
	row_end(out, &w);
}

static void summary_n(FILE *out, const char *item, long long n)
{
	char v[32];
	snprintf(v, sizeof v, "%lld", n);
	summary(out, item, v);
}

static void record_cols(struct row *w, const struct report_record *g)
{
	set_num(w, C_SEQ, g->seq);
	set_time(w, C_TIME, g->time_ns);
	w->v[C_LOGIN] = g->login;
	set_num(w, C_UID, g->uid);
	w->v[C_DEPARTMENT] = g->department;
	w->v[C_ACTION] = g->action;
	w->v[C_DECISION] = g->allow ? "allow" : "deny";
	w->v[C_CUSTOMER] = g->customer;
	w->v[C_FIELD] = g->field;
	w->v[C_CLASS] = g->cls;
	w->v[C_RULE] = g->rule;
	w->v[C_DETAIL] = g->detail;
}

int report_csv(const struct report *r, FILE *out)
{
	struct row w;
	char t[32], night[16];
	for (int c = 0; c < NCOLS; c++)
		cell(out, col_names[c], c == 0);
	fputs("\r\n", out);

	summary_n(out, "version", REPORT_JSON_VERSION);
	report_time_iso(r->made_ns, t);
	summary(out, "made", t);
	summary(out, "from", r->opts.from ? r->opts.from : "");
	summary(out, "to", r->opts.to ? r->opts.to : "");
	report_night(r, night);
	summary(out, "night", night);
	summary_n(out, "many", r->opts.many);
	summary_n(out, "records", r->records);
	summary_n(out, "first_seq", r->first_seq);
	summary_n(out, "last_seq", r->last_seq);
	summary_n(out, "accesses", r->total.accesses);
	summary_n(out, "denied", r->total.denied);
	summary_n(out, "through_checkouts", r->through_checkouts);
	summary_n(out, "commands", r->commands);
	summary_n(out, "break_glass", r->glass_total);
	summary_n(out, "policy_changes", r->changes_total);
	summary_n(out, "checkouts", (long long)r->ncheckouts);
	summary_n(out, "late_returns", r->late);
	summary_n(out, "anomalies", (long long)r->nanomalies);

	for (size_t i = 0; i < r->ndepartments; i++) {
		row_start(&w, "department");
		w.v[C_DEPARTMENT] = r->departments[i].name;
		count_cols(&w, &r->departments[i].c);
		row_end(out, &w);
	}
	for (size_t d = 0; d < r->ndays; d++) {
		row_start(&w, "day");
		w.v[C_DAY] = r->days[d].date;
		count_cols(&w, &r->days[d].c);
		row_end(out, &w);
	}
	for (size_t d = 0; d < r->ndays; d++)
		for (size_t k = 0; k < r->ndepartments; k++) {
			const struct report_count *c = &r->dept_day[d * r->ndepartments + k];
			if (!c->accesses)
				continue;
			row_start(&w, "department_day");
			w.v[C_DAY] = r->days[d].date;
			w.v[C_DEPARTMENT] = r->departments[k].name;
			count_cols(&w, c);
			row_end(out, &w);
		}
	for (size_t i = 0; i < r->npeople; i++) {
		const struct report_person *p = &r->people[i];
		row_start(&w, "person");
		w.v[C_LOGIN] = p->login;
		set_num(&w, C_UID, p->uid);
		w.v[C_DEPARTMENT] = p->department;
		count_cols(&w, &p->c);
		row_end(out, &w);
	}
	for (size_t i = 0; i < r->nclasses; i++) {
		row_start(&w, "class");
		w.v[C_CLASS] = r->classes[i].name;
		count_cols(&w, &r->classes[i].c);
		row_end(out, &w);
	}
	for (size_t i = 0; i < r->nrules; i++) {
		row_start(&w, "denial_rule");
		w.v[C_RULE] = r->rules[i].name;
		set_num(&w, C_DENIED, r->rules[i].c.denied);
		row_end(out, &w);
	}
	for (size_t i = 0; i < r->ncheckouts; i++) {
		const struct report_checkout *c = &r->checkouts[i];
		row_start(&w, "checkout");
		w.v[C_ITEM] = c->late ? "late" : "";
		set_num(&w, C_VALUE, c->id);
		w.v[C_LOGIN] = c->login;
		w.v[C_CUSTOMER] = c->customer;
		w.v[C_FIELD] = c->target;
		w.v[C_STATUS] = c->status;
		set_time(&w, C_TIME, c->requested_ns);
		set_num(&w, C_ACCESSES, c->accesses);
		w.v[C_DETAIL] = c->purpose;
		row_end(out, &w);
	}
	for (size_t i = 0; i < r->nchanges; i++) {
		row_start(&w, "policy_change");
		record_cols(&w, &r->changes[i]);
		row_end(out, &w);
	}
	for (size_t i = 0; i < r->nglass; i++) {
		row_start(&w, "break_glass");
		record_cols(&w, &r->glass[i]);
		row_end(out, &w);
	}
	for (size_t i = 0; i < r->nanomalies; i++) {
		const struct report_anomaly *a = &r->anomalies[i];
		const struct report_person *p = &r->people[a->person];
		char list[REPORT_SEQS_MAX * 21 + 1];
		size_t n = 0;
		list[0] = '\0';
		for (size_t k = 0; k < a->nseqs && n < sizeof list - 22; k++)
			n += (size_t)snprintf(list + n, sizeof list - n, "%s%lld", k ? " " : "",
					      (long long)a->seqs[k]);
		row_start(&w, "anomaly");
		w.v[C_ITEM] = report_anomaly_name(a->kind);
		set_num(&w, C_VALUE, a->count);
		w.v[C_LOGIN] = p->login;
		set_num(&w, C_UID, p->uid);
		w.v[C_DEPARTMENT] = p->department;
		set_num(&w, C_ACCESSES, a->records);
		set_num(&w, C_SEQ, a->nseqs ? a->seqs[0] : 0);
		set_time(&w, C_TIME, a->from_ns);
		w.v[C_DETAIL] = list;
		row_end(out, &w);
	}
	for (size_t i = 0; i < r->nsample; i++) {
		row_start(&w, "sample");
		record_cols(&w, &r->sample[i]);
		row_end(out, &w);
	}
	fflush(out);
	return ferror(out) ? EIO : 0;
}
