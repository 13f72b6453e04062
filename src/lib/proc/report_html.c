/* The audit report as one self-contained HTML file, to print or hand on
 * (custctl(1), "audit report --format html").
 *
 * MUST: nothing is loaded from anywhere (no URL at all: the style is inline
 * and the charts are inline SVG) and no script runs (a Content-Security-
 * Policy that forbids both, and none is written); every string from a
 * record, the register or the store is escaped for HTML after text_inert
 * (logins, departments, customer names and purposes are typed by people:
 * hostile). */
#include "report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "i18n.h"
#include "text.h"

#define NCOLOURS 12

static const char *const colours[NCOLOURS] = {
	"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
	"#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#8c564b",
};

static void esc(FILE *out, const char *s)
{
	for (const char *t = text_inert(s ? s : ""); *t; t++)
		switch (*t) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		default:
			putc(*t, out);
		}
}

/* An element holding escaped text: <TAG>S</TAG>. */
static void el(FILE *out, const char *tag, const char *s)
{
	fprintf(out, "<%s>", tag);
	esc(out, s);
	fprintf(out, "</%s>", tag);
}

static void num_td(FILE *out, long long n)
{
	fprintf(out, "<td class=\"n\">%lld</td>", n);
}

static void time_td(FILE *out, int64_t ns)
{
	char t[32];
	report_time(ns, t);
	fprintf(out, "<td class=\"t\">%s</td>", t[0] ? t : "-");
}

static void section(FILE *out, const char *id, const char *title)
{
	fprintf(out, "<section id=\"%s\">\n<h2>", id);
	esc(out, title);
	fputs("</h2>\n", out);
}

static void none(FILE *out)
{
	fputs("<p class=\"none\">", out);
	esc(out, _("(none)"));
	fputs("</p>\n", out);
}

/* The grid of a scale for values up to MAX: a round step (1, 2 or 5 times a
 * power of ten) of about a quarter of it, and the top, a whole number of
 * steps. */
static long scale(long max, long *step)
{
	long want = max > 4 ? (max + 3) / 4 : 1, p = 1;
	for (*step = 0; !*step; p *= 10)
		*step = want <= p ? p : want <= 2 * p ? 2 * p : want <= 5 * p ? 5 * p : 0;
	return max > 0 ? (max + *step - 1) / *step * *step : *step;
}

static void style(FILE *out)
{
	fputs("<style>\n"
	      "body{font-family:'Noto Sans','Noto Sans CJK SC','WenQuanYi Micro Hei',"
	      "'DejaVu Sans',sans-serif;margin:24px auto;max-width:1100px;color:#222;"
	      "padding:0 16px}\n"
	      "h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;border-bottom:2px solid "
	      "#4e79a7;padding-bottom:3px;margin-top:1.6em}\n"
	      "table{border-collapse:collapse;margin:.5em 0;font-size:.9em}\n"
	      "th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}\n"
	      "th{background:#eef2f7}td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
	      "td.t{white-space:nowrap}.wide{overflow-x:auto}\n"
	      ".late{color:#b00;font-weight:bold}.deny{color:#b00}.none{color:#666}\n"
	      ".meta{color:#555}.legend span{display:inline-block;margin-right:14px}\n"
	      ".legend i{display:inline-block;width:12px;height:12px;margin-right:4px;"
	      "vertical-align:middle}\n"
	      "svg{max-width:100%;height:auto}svg text{font-size:11px;fill:#333}\n"
	      "svg .axis{stroke:#999;stroke-width:1}svg .grid{stroke:#e3e3e3;stroke-width:1}\n"
	      "svg .bar{fill:#4e79a7}svg .bar-d{fill:#e15759}\n",
	      out);
	for (int i = 0; i < NCOLOURS; i++)
		fprintf(out, ".c%d{fill:%s;background:%s}\n", i, colours[i], colours[i]);
	fputs("@media print{body{margin:0;max-width:none}h2{break-after:avoid}"
	      "section{break-inside:avoid-page}}\n"
	      "</style>\n",
	      out);
}

/* Accesses per department per day: a bar a day, stacked by department. */
static void chart_days(FILE *out, const struct report *r)
{
	const int W = 1000, H = 320, ml = 60, mr = 10, mt = 12, mb = 44;
	const double pw = W - ml - mr, ph = H - mt - mb;
	long max = 0;
	for (size_t d = 0; d < r->ndays; d++)
		max = r->days[d].c.accesses > max ? r->days[d].c.accesses : max;
	long step, top = scale(max, &step);
	fprintf(out, "<svg id=\"chart-days\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
		     "role=\"img\" aria-label=\"", W, H, W, H);
	esc(out, _("accesses per department per day"));
	fputs("\">\n", out);
	for (long v = 0; v <= top; v += step) {
		double y = mt + ph - ph * (double)v / (double)top;
		fprintf(out, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
			     "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%ld</text>\n",
			ml, y, W - mr, y, ml - 6, y + 4, v);
	}
	double slot = pw / (double)(r->ndays ? r->ndays : 1);
	double bw = slot * 0.8 < 1 ? 1 : slot * 0.8;
	size_t every = (r->ndays + 14) / 15;
	for (size_t d = 0; d < r->ndays; d++) {
		double x = ml + slot * (double)d + (slot - bw) / 2, y = mt + ph;
		for (size_t k = 0; k < r->ndepartments; k++) {
			long v = r->dept_day[d * r->ndepartments + k].accesses;
			if (!v)
				continue;
			double h = ph * (double)v / (double)top;
			y -= h;
			fprintf(out, "<rect class=\"c%zu\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
				     "height=\"%.2f\"><title>%s ", k % NCOLOURS, x, y, bw, h,
				r->days[d].date);
			esc(out, report_key_label(r->departments[k].name));
			fprintf(out, ": %ld</title></rect>\n", v);
		}
		if (d % (every ? every : 1) == 0)
			fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
				x + bw / 2, H - mb + 16, r->days[d].date + 5);
	}
	fprintf(out, "<line class=\"axis\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n", ml,
		mt + ph, W - mr, mt + ph);
	fputs("</svg>\n<p class=\"legend\">", out);
	for (size_t k = 0; k < r->ndepartments; k++) {
		fprintf(out, "<span><i class=\"c%zu\"></i>", k % NCOLOURS);
		esc(out, report_key_label(r->departments[k].name));
		fputs("</span>", out);
	}
	fputs("</p>\n", out);
}

/* Horizontal bars: LABELS[i] with A[i] (and B[i], drawn over it in red). */
static void chart_bars(FILE *out, const char *id, const char *what, size_t n,
		       const char *(*label)(const struct report *, size_t), const long *a,
		       const long *b, const struct report *r)
{
	const int W = 1000, lw = 240, row = 22;
	if (n > 30)
		n = 30; /* the rest in the table */
	long max = 0;
	for (size_t i = 0; i < n; i++)
		max = a[i] > max ? a[i] : max;
	long step, top = scale(max, &step);
	int H = (int)n * row + 8;
	fprintf(out, "<svg id=\"%s\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
		     "aria-label=\"", id, W, H, W, H);
	esc(out, what);
	fputs("\">\n", out);
	for (size_t i = 0; i < n; i++) {
		int y = 4 + (int)i * row;
		double w = (W - lw - 80) * (double)a[i] / (double)top;
		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", lw - 8, y + 15);
		esc(out, label(r, i));
		fprintf(out, "</text><rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%.2f\" "
			     "height=\"%d\"><title>%ld</title></rect>",
			lw, y + 2, w, row - 6, a[i]);
		if (b && b[i])
			fprintf(out, "<rect class=\"bar-d\" x=\"%d\" y=\"%d\" width=\"%.2f\" "
				     "height=\"%d\"><title>%ld</title></rect>",
				lw, y + 2, (W - lw - 80) * (double)b[i] / (double)top, row - 6, b[i]);
		fprintf(out, "<text x=\"%.1f\" y=\"%d\">%ld</text>\n", lw + w + 6, y + 15, a[i]);
	}
	fputs("</svg>\n", out);
}

static const char *dept_label(const struct report *r, size_t i)
{
	return report_key_label(r->departments[i].name);
}

static const char *rule_label(const struct report *r, size_t i)
{
	return report_key_label(r->rules[i].name);
}

static void count_table(FILE *out, const char *id, const char *column,
			const struct report_key *k, size_t n)
{
	if (!n) {
		none(out);
		return;
	}
	fprintf(out, "<table id=\"%s\"><thead><tr>", id);
	el(out, "th", column);
	el(out, "th", _("accesses"));
	el(out, "th", _("denied"));
	fputs("</tr></thead><tbody>\n", out);
	for (size_t i = 0; i < n; i++) {
		fputs("<tr>", out);
		el(out, "td", report_key_label(k[i].name));
		num_td(out, k[i].c.accesses);
		num_td(out, k[i].c.denied);
		fputs("</tr>\n", out);
	}
	fputs("</tbody></table>\n", out);
}

static void where_td(FILE *out, const char *customer, const char *field)
{
	fputs("<td>", out);
	esc(out, customer);
	if (field[0]) {
		fputs("/", out);
		esc(out, field);
	}
	fputs("</td>", out);
}

static void records_table(FILE *out, const char *id, const struct report_record *v, size_t n,
			  bool sample)
{
	if (!n) {
		none(out);
		return;
	}
	fprintf(out, "<div class=\"wide\"><table id=\"%s\"><thead><tr>", id);
	el(out, "th", _("record"));
	el(out, "th", _("time"));
	el(out, "th", _("person"));
	if (sample)
		el(out, "th", _("department"));
	el(out, "th", _("action"));
	if (sample)
		el(out, "th", _("decision"));
	el(out, "th", _("customer/field"));
	el(out, "th", sample ? _("rule") : _("detail"));
	fputs("</tr></thead><tbody>\n", out);
	for (size_t i = 0; i < n; i++) {
		const struct report_record *g = &v[i];
		struct report_person p = { .login = g->login, .uid = g->uid };
		char who[64];
		fputs("<tr>", out);
		num_td(out, g->seq);
		time_td(out, g->time_ns);
		el(out, "td", report_person_label(&p, who, sizeof who));
		if (sample)
			el(out, "td", report_key_label(g->department));
		el(out, "td", g->action);
		if (sample)
			fprintf(out, "<td%s>%s</td>", g->allow ? "" : " class=\"deny\"",
				g->allow ? _("allow") : _("DENY"));
		where_td(out, g->customer, g->field);
		el(out, "td", sample ? g->rule : g->detail);
		fputs("</tr>\n", out);
	}
	fputs("</tbody></table></div>\n", out);
}

static void summary_row(FILE *out, const char *key, const char *label, long long n)
{
	fprintf(out, "<tr data-key=\"%s\">", key);
	el(out, "th", label);
	num_td(out, n);
	fputs("</tr>\n", out);
}

int report_html(const struct report *r, FILE *out)
{
	char t1[32], t2[32], night[16], who[64];
	const char *from = r->opts.from ? r->opts.from : _("the start");
	const char *to = r->opts.to ? r->opts.to : _("now");
	report_night(r, night);

	fputs("<!DOCTYPE html>\n<html lang=\"", out);
	/* TRANSLATORS: the language tag (BCP 47) of the HTML report. */
	esc(out, _("en"));
	fputs("\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">\n"
	      "<meta name=\"referrer\" content=\"no-referrer\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<title>",
	      out);
	esc(out, _("custfs audit report"));
	fputs(": ", out);
	esc(out, from);
	fputs(" – ", out);
	esc(out, to);
	fputs("</title>\n", out);
	style(out);
	fputs("</head>\n<body>\n<h1>", out);
	esc(out, _("custfs audit report"));
	fputs("</h1>\n<p class=\"meta\" id=\"period\">", out);
	esc(out, _("Period:"));
	fputs(" <b>", out);
	esc(out, from);
	fputs("</b> – <b>", out);
	esc(out, to);
	fputs("</b>. ", out);
	report_time(r->made_ns, t1);
	esc(out, _("Made"));
	fprintf(out, " %s. ", t1);
	if (r->records) {
		char line[160];
		snprintf(line, sizeof line, _("Records %lld to %lld (%ld read)."),
			 (long long)r->first_seq, (long long)r->last_seq, r->records);
		esc(out, line);
	} else {
		esc(out, _("No records in the period."));
	}
	fputs("</p>\n", out);

	section(out, "summary", _("Summary"));
	fputs("<table id=\"t-summary\"><tbody>\n", out);
	summary_row(out, "accesses", _("accesses to customer data"), r->total.accesses);
	summary_row(out, "denied", _("denied"), r->total.denied);
	summary_row(out, "through_checkouts", _("through checkouts of sensitive records"),
		    r->through_checkouts);
	summary_row(out, "commands", _("commands"), r->commands);
	summary_row(out, "break_glass", _("break-glass uses"), r->glass_total);
	summary_row(out, "policy_changes", _("policy changes"), r->changes_total);
	summary_row(out, "checkouts", _("sensitive checkouts"), (long long)r->ncheckouts);
	summary_row(out, "late_returns", _("late returns"), r->late);
	summary_row(out, "anomalies", _("unusual behaviour"), (long long)r->nanomalies);
	fputs("</tbody></table>\n</section>\n", out);

	section(out, "departments", _("Accesses by department"));
	if (r->ndepartments) {
		long *a = malloc(r->ndepartments * sizeof *a), *d = malloc(r->ndepartments * sizeof *d);
		for (size_t i = 0; a && d && i < r->ndepartments; i++) {
			a[i] = r->departments[i].c.accesses;
			d[i] = r->departments[i].c.denied;
		}
		if (a && d)
			chart_bars(out, "chart-departments", _("accesses by department (denied in red)"),
				   r->ndepartments, dept_label, a, d, r);
		free(a);
		free(d);
	}
	count_table(out, "t-departments", _("department"), r->departments, r->ndepartments);
	fputs("</section>\n", out);

	section(out, "department-days", _("Accesses per department per day"));
	if (!r->ndays) {
		none(out);
	} else {
		chart_days(out, r);
		fputs("<div class=\"wide\"><table id=\"t-department-days\"><thead><tr>", out);
		el(out, "th", _("day"));
		for (size_t k = 0; k < r->ndepartments; k++)
			el(out, "th", report_key_label(r->departments[k].name));
		el(out, "th", _("all"));
		el(out, "th", _("denied"));
		fputs("</tr></thead><tbody>\n", out);
		for (size_t d = 0; d < r->ndays; d++) {
			fprintf(out, "<tr><td class=\"t\">%s</td>", r->days[d].date);
			for (size_t k = 0; k < r->ndepartments; k++)
				num_td(out, r->dept_day[d * r->ndepartments + k].accesses);
			num_td(out, r->days[d].c.accesses);
			num_td(out, r->days[d].c.denied);
			fputs("</tr>\n", out);
		}
		fputs("</tbody></table></div>\n", out);
	}
	fputs("</section>\n", out);

	section(out, "people", _("Accesses by person"));
	if (!r->npeople) {
		none(out);
	} else {
		fputs("<div class=\"wide\"><table id=\"t-people\"><thead><tr>", out);
		el(out, "th", _("person"));
		el(out, "th", _("department"));
		el(out, "th", _("accesses"));
		el(out, "th", _("denied"));
		fputs("</tr></thead><tbody>\n", out);
		for (size_t i = 0; i < r->npeople; i++) {
			fputs("<tr>", out);
			el(out, "td", report_person_label(&r->people[i], who, sizeof who));
			el(out, "td", report_key_label(r->people[i].department));
			num_td(out, r->people[i].c.accesses);
			num_td(out, r->people[i].c.denied);
			fputs("</tr>\n", out);
		}
		fputs("</tbody></table></div>\n", out);
	}
	fputs("</section>\n", out);

	section(out, "classes", _("Accesses by class"));
	count_table(out, "t-classes", _("class"), r->classes, r->nclasses);
	fputs("</section>\n", out);

	section(out, "rules", _("Denials by rule"));
	if (!r->nrules) {
		none(out);
	} else {
		long *a = malloc(r->nrules * sizeof *a);
		for (size_t i = 0; a && i < r->nrules; i++)
			a[i] = r->rules[i].c.denied;
		if (a)
			chart_bars(out, "chart-rules", _("denials by rule"), r->nrules, rule_label, a,
				   NULL, r);
		free(a);
		fputs("<table id=\"t-rules\"><thead><tr>", out);
		el(out, "th", _("rule"));
		el(out, "th", _("denied"));
		fputs("</tr></thead><tbody>\n", out);
		for (size_t i = 0; i < r->nrules; i++) {
			fputs("<tr>", out);
			el(out, "td", report_key_label(r->rules[i].name));
			num_td(out, r->rules[i].c.denied);
			fputs("</tr>\n", out);
		}
		fputs("</tbody></table>\n", out);
	}
	fputs("</section>\n", out);

	section(out, "checkouts", _("Sensitive checkouts and late returns"));
	if (!r->ncheckouts) {
		none(out);
	} else {
		fputs("<div class=\"wide\"><table id=\"t-checkouts\"><thead><tr>", out);
		el(out, "th", _("checkout"));
		el(out, "th", _("person"));
		el(out, "th", _("customer/target"));
		el(out, "th", _("purpose"));
		el(out, "th", _("requested"));
		el(out, "th", _("until"));
		el(out, "th", _("status"));
		el(out, "th", _("accesses"));
		fputs("</tr></thead><tbody>\n", out);
		for (size_t i = 0; i < r->ncheckouts; i++) {
			const struct report_checkout *c = &r->checkouts[i];
			fputs(c->late ? "<tr class=\"late\">" : "<tr>", out);
			fprintf(out, "<td class=\"n\">#%lld</td>", (long long)c->id);
			el(out, "td", c->login[0] ? c->login : "-");
			where_td(out, c->customer, c->target);
			el(out, "td", c->purpose);
			time_td(out, c->requested_ns);
			time_td(out, c->ended_ns ? c->ended_ns : c->expires_ns);
			fputs("<td>", out);
			esc(out, c->status);
			if (c->late) {
				fputs(" — ", out);
				esc(out, _("LATE: not returned in time"));
			}
			fputs("</td>", out);
			num_td(out, c->accesses);
			fputs("</tr>\n", out);
		}
		fputs("</tbody></table></div>\n", out);
	}
	fputs("</section>\n", out);

	section(out, "policy", _("Policy changes"));
	records_table(out, "t-policy", r->changes, r->nchanges, false);
	if ((long)r->nchanges < r->changes_total) {
		snprintf(t2, sizeof t2, "%ld", r->changes_total - (long)r->nchanges);
		fputs("<p class=\"meta\">", out);
		esc(out, _("More not listed:"));
		fprintf(out, " %s</p>\n", t2);
	}
	fputs("</section>\n", out);

	section(out, "break-glass", _("Break-glass uses"));
	fputs("<p class=\"meta\">", out);
	esc(out, _("Root on the store files, and root's reads of sensitive records without a "
		   "checkout (R3.5)."));
	fputs("</p>\n", out);
	records_table(out, "t-break-glass", r->glass, r->nglass, false);
	if ((long)r->nglass < r->glass_total) {
		fputs("<p class=\"meta\">", out);
		esc(out, _("More not listed:"));
		fprintf(out, " %ld</p>\n", r->glass_total - (long)r->nglass);
	}
	fputs("</section>\n", out);

	section(out, "anomalies", _("Unusual behaviour"));
	fputs("<p class=\"meta\">", out);
	{
		char line[300];
		snprintf(line, sizeof line,
			 _("Many customers: %d or more different customers within ten minutes. "
			   "Night: %s. Denials: %d or more within ten minutes."),
			 r->opts.many, night, r->opts.denials);
		esc(out, line);
	}
	fputs("</p>\n", out);
	if (!r->nanomalies) {
		none(out);
	} else {
		fputs("<div class=\"wide\"><table id=\"t-anomalies\"><thead><tr>", out);
		el(out, "th", _("person"));
		el(out, "th", _("department"));
		el(out, "th", _("what"));
		el(out, "th", _("count"));
		el(out, "th", _("from"));
		el(out, "th", _("to"));
		el(out, "th", _("records"));
		fputs("</tr></thead><tbody>\n", out);
		for (size_t i = 0; i < r->nanomalies; i++) {
			const struct report_anomaly *a = &r->anomalies[i];
			const struct report_person *p = &r->people[a->person];
			fputs("<tr>", out);
			el(out, "td", report_person_label(p, who, sizeof who));
			el(out, "td", report_key_label(p->department));
			el(out, "td", a->kind == ANOMALY_MANY_CUSTOMERS
					      ? _("different customers within ten minutes")
				      : a->kind == ANOMALY_NIGHT ? _("accesses at night")
								 : _("denials within ten minutes"));
			num_td(out, a->count);
			time_td(out, a->from_ns);
			time_td(out, a->to_ns);
			fputs("<td class=\"seqs\">", out);
			for (size_t k = 0; k < a->nseqs; k++)
				fprintf(out, "%s%lld", k ? " " : "", (long long)a->seqs[k]);
			if ((long)a->nseqs < a->records) {
				char more[64];
				snprintf(more, sizeof more, _(" and %ld more"),
					 a->records - (long)a->nseqs);
				esc(out, more);
			}
			fputs("</td></tr>\n", out);
		}
		fputs("</tbody></table></div>\n", out);
	}
	fputs("</section>\n", out);

	section(out, "sample", _("Spot-check sample"));
	fputs("<p class=\"meta\">", out);
	esc(out, _("Data accesses drawn at random from the period, to check against their "
		   "reasons."));
	fputs("</p>\n", out);
	records_table(out, "t-sample", r->sample, r->nsample, true);
	fputs("</section>\n", out);

	fputs("<footer class=\"meta\"><p>", out);
	esc(out, _("Made by custfs"));
	fprintf(out, " %s.</p></footer>\n</body>\n</html>\n", CUSTFS_VERSION);
	fflush(out);
	return ferror(out) ? EIO : 0;
}
