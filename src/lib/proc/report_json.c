/* The audit report as one JSON object (custctl(1), "audit report --format
 * json"). Its shape is stable: fields are added, never renamed or removed,
 * without a new "version". Strings through text_json; never translated. */
#include "report.h"

#include <errno.h>

#include "text.h"

static void key(FILE *out, const char *k, bool *first)
{
	fprintf(out, "%s\"%s\":", *first ? "" : ",", k);
	*first = false;
}

static void str(FILE *out, const char *k, const char *v, bool *first)
{
	key(out, k, first);
	text_json(out, v ? v : "");
}

static void num(FILE *out, const char *k, long long v, bool *first)
{
	key(out, k, first);
	fprintf(out, "%lld", v);
}

static void when(FILE *out, const char *k, int64_t ns, bool *first)
{
	char t[32];
	key(out, k, first);
	if (!ns) {
		fputs("null", out);
		return;
	}
	report_time_iso(ns, t);
	text_json(out, t);
}

static void counts(FILE *out, const struct report_count *c, bool *first)
{
	num(out, "accesses", c->accesses, first);
	num(out, "denied", c->denied, first);
}

static void keys(FILE *out, const char *name, const char *k, const struct report_key *v,
		 size_t n, bool denials_only)
{
	fprintf(out, ",\"%s\":[", name);
	for (size_t i = 0; i < n; i++) {
		bool f = true;
		fputs(i ? ",{" : "{", out);
		str(out, k, v[i].name, &f);
		if (denials_only)
			num(out, "denied", v[i].c.denied, &f);
		else
			counts(out, &v[i].c, &f);
		fputs("}", out);
	}
	fputs("]", out);
}

static void record(FILE *out, const struct report_record *g)
{
	bool f = true;
	fputs("{", out);
	num(out, "seq", g->seq, &f);
	when(out, "time", g->time_ns, &f);
	num(out, "uid", g->uid, &f);
	str(out, "login", g->login, &f);
	str(out, "department", g->department, &f);
	str(out, "action", g->action, &f);
	str(out, "decision", g->allow ? "allow" : "deny", &f);
	str(out, "customer", g->customer, &f);
	str(out, "field", g->field, &f);
	str(out, "class", g->cls, &f);
	str(out, "rule", g->rule, &f);
	str(out, "detail", g->detail, &f);
	fputs("}", out);
}

static void records(FILE *out, const char *name, const struct report_record *v, size_t n)
{
	fprintf(out, ",\"%s\":[", name);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(",", out);
		record(out, &v[i]);
	}
	fputs("]", out);
}

int report_json(const struct report *r, FILE *out)
{
	bool f = true;
	char night[16];
	fputs("{", out);
	str(out, "report", "custfs-audit-report", &f);
	num(out, "version", REPORT_JSON_VERSION, &f);
	when(out, "made", r->made_ns, &f);

	fputs(",\"period\":{", out);
	f = true;
	key(out, "from", &f);
	if (r->opts.from)
		text_json(out, r->opts.from);
	else
		fputs("null", out);
	key(out, "to", &f);
	if (r->opts.to)
		text_json(out, r->opts.to);
	else
		fputs("null", out);
	when(out, "from_time", r->opts.filter.from_ns, &f);
	when(out, "until_time", r->opts.filter.to_ns, &f);
	fputs("}", out);

	fputs(",\"options\":{", out);
	f = true;
	report_night(r, night);
	str(out, "night", night, &f);
	num(out, "many", r->opts.many, &f);
	num(out, "denials", r->opts.denials, &f);
	num(out, "sample", r->opts.sample, &f);
	fputs("}", out);

	fputs(",\"records\":{", out);
	f = true;
	num(out, "read", r->records, &f);
	num(out, "first_seq", r->first_seq, &f);
	num(out, "last_seq", r->last_seq, &f);
	when(out, "first_time", r->first_ns, &f);
	when(out, "last_time", r->last_ns, &f);
	fputs("}", out);

	fputs(",\"totals\":{", out);
	f = true;
	counts(out, &r->total, &f);
	num(out, "through_checkouts", r->through_checkouts, &f);
	num(out, "commands", r->commands, &f);
	num(out, "break_glass", r->glass_total, &f);
	num(out, "policy_changes", r->changes_total, &f);
	num(out, "checkouts", (long long)r->ncheckouts, &f);
	num(out, "late_returns", r->late, &f);
	num(out, "anomalies", (long long)r->nanomalies, &f);
	fputs("}", out);

	keys(out, "departments", "department", r->departments, r->ndepartments, false);

	fputs(",\"days\":[", out);
	for (size_t d = 0; d < r->ndays; d++) {
		f = true;
		fputs(d ? ",{" : "{", out);
		str(out, "day", r->days[d].date, &f);
		counts(out, &r->days[d].c, &f);
		fputs(",\"departments\":[", out);
		for (size_t k = 0, n = 0; k < r->ndepartments; k++) {
			const struct report_count *c = &r->dept_day[d * r->ndepartments + k];
			if (!c->accesses)
				continue;
			bool g = true;
			fputs(n++ ? ",{" : "{", out);
			str(out, "department", r->departments[k].name, &g);
			counts(out, c, &g);
			fputs("}", out);
		}
		fputs("]}", out);
	}
	fputs("]", out);

	fputs(",\"people\":[", out);
	for (size_t i = 0; i < r->npeople; i++) {
		const struct report_person *p = &r->people[i];
		f = true;
		fputs(i ? ",{" : "{", out);
		str(out, "login", p->login, &f);
		num(out, "uid", p->uid, &f);
		str(out, "department", p->department, &f);
		counts(out, &p->c, &f);
		fputs("}", out);
	}
	fputs("]", out);

	keys(out, "classes", "class", r->classes, r->nclasses, false);
	keys(out, "denials_by_rule", "rule", r->rules, r->nrules, true);

	fputs(",\"checkouts\":[", out);
	for (size_t i = 0; i < r->ncheckouts; i++) {
		const struct report_checkout *c = &r->checkouts[i];
		f = true;
		fputs(i ? ",{" : "{", out);
		num(out, "id", c->id, &f);
		str(out, "login", c->login, &f);
		str(out, "customer", c->customer, &f);
		str(out, "target", c->target, &f);
		str(out, "purpose", c->purpose, &f);
		str(out, "status", c->status, &f);
		when(out, "requested", c->requested_ns, &f);
		num(out, "duration_s", c->duration_s, &f);
		when(out, "expires", c->expires_ns, &f);
		when(out, "ended", c->ended_ns, &f);
		num(out, "accesses", c->accesses, &f);
		key(out, "late", &f);
		fputs(c->late ? "true" : "false", out);
		fputs("}", out);
	}
	fputs("]", out);

	records(out, "policy_changes", r->changes, r->nchanges);
	records(out, "break_glass", r->glass, r->nglass);

	fputs(",\"anomalies\":[", out);
	for (size_t i = 0; i < r->nanomalies; i++) {
		const struct report_anomaly *a = &r->anomalies[i];
		const struct report_person *p = &r->people[a->person];
		f = true;
		fputs(i ? ",{" : "{", out);
		str(out, "kind", report_anomaly_name(a->kind), &f);
		str(out, "login", p->login, &f);
		num(out, "uid", p->uid, &f);
		str(out, "department", p->department, &f);
		num(out, "count", a->count, &f);
		when(out, "from", a->from_ns, &f);
		when(out, "to", a->to_ns, &f);
		num(out, "records", a->records, &f);
		fputs(",\"seqs\":[", out);
		for (size_t k = 0; k < a->nseqs; k++)
			fprintf(out, "%s%lld", k ? "," : "", (long long)a->seqs[k]);
		fputs("]}", out);
	}
	fputs("]", out);

	records(out, "sample", r->sample, r->nsample);
	fputs("}\n", out);
	fflush(out);
	return ferror(out) ? EIO : 0;
}
