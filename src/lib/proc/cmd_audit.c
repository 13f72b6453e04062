/* audit: who saw what, when, and why it was allowed (R5.1, R2.1, R2.5).
 *
 * Administration and the information management group see every record;
 * everyone else sees their own. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "cmd.h"
#include "i18n.h"
#include "names.h"
#include "report.h"
#include "text.h"

static bool sees_everything(struct cmd_env *e)
{
	if (e->root)
		return true;
	if (!e->me || e->me->departed)
		return false;
	const struct department *d = e->pol->procedure[PROC_APPROVE];
	return (d && !strcmp(e->me->department, d->name)) || strcmp(e->me->group_role, "none");
}

/* YYYY-MM-DD or YYYY-MM-DDTHH:MM (local time) as nanoseconds; 0 on error.
 * END: a day alone is the end of that day (the next local midnight), so
 * --to DAY includes DAY. */
static int64_t parse_when(const char *s, bool end)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *stop = strptime(s, "%Y-%m-%dT%H:%M", &tm);
	if (!stop || *stop) {
		memset(&tm, 0, sizeof tm);
		stop = strptime(s, "%Y-%m-%d", &tm);
		if (!stop || *stop)
			return 0;
		tm.tm_mday += end;
	}
	tm.tm_isdst = -1;
	time_t t = mktime(&tm);
	/* A time the log's nanoseconds cannot hold (after 2262) is refused, not
	 * wrapped: a wrapped --to or --before would be a period with nothing in
	 * it, a report saying "no records" about a log full of them (R5.1). */
	if (t < 0 || t > INT64_MAX / 1000000000)
		return 0;
	return (int64_t)t * 1000000000;
}

static bool whole_number(const char *s, int lo, int hi, int *out)
{
	long v;
	if (!text_whole_number(s, lo, hi, &v))
		return false;
	*out = (int)v;
	return true;
}

static int parse_window(const char *s, int *from, int *to)
{
	int h1, m1, h2, m2;
	if (sscanf(s, "%d:%d-%d:%d", &h1, &m1, &h2, &m2) != 4 || h1 < 0 || h1 > 23 || h2 < 0 ||
	    h2 > 24 || m1 < 0 || m1 > 59 || m2 < 0 || m2 > 59)
		return -1;
	*from = h1 * 60 + m1;
	*to = h2 * 60 + m2;
	return 0;
}

static void customer_name(struct cmd_env *e, int64_t id, char *out, size_t cap)
{
	struct customer c;
	if (!id)
		snprintf(out, cap, "-");
	else if (vault_customer_get(e->v, id, &c) == 0)
		snprintf(out, cap, "%s", c.name);
	else
		snprintf(out, cap, "#%lld", (long long)id);
}

struct print_ctx {
	struct cmd_env *e;
	bool json;
	int n;
	bool own; /* the caller's own records only */
};

/* A probe of a customer or field hidden from its author: on the record for
 * administration, never shown to the author (that it exists would tell them
 * what they may not know: hidden = nonexistent). */
static bool hidden_probe(const struct audit_event *v)
{
	size_t n = strlen(v->action);
	return n > 7 && !strcmp(v->action + n - 7, "-hidden");
}

static int print_record(void *p, const struct audit_record *r)
{
	struct print_ctx *pc = p;
	struct cmd_env *e = pc->e;
	const struct audit_event *v = &r->ev;
	if (pc->own && hidden_probe(v))
		return 0;
	char when[32], cust[NAME_MAX_BYTES + 2];
	cmd_time(v->time_ns, when);
	customer_name(e, v->customer_id, cust, sizeof cust);
	if (pc->json) {
		fprintf(e->out, "{\"seq\":%lld,\"time_ns\":%lld,\"time\":\"%s\",\"uid\":%u,\"login\":",
			(long long)r->seq, (long long)v->time_ns, when, (unsigned)v->uid);
		text_json(e->out, v->login);
		fprintf(e->out, ",\"department\":");
		text_json(e->out, v->department);
		fprintf(e->out, ",\"pid\":%d,\"process\":", (int)v->pid);
		text_json(e->out, v->comm);
		fprintf(e->out, ",\"exe\":");
		text_json(e->out, v->exe);
		fprintf(e->out, ",\"mount\":");
		text_json(e->out, v->mount);
		fprintf(e->out, ",\"view\":");
		text_json(e->out, v->view);
		fprintf(e->out, ",\"customer\":");
		text_json(e->out, cust);
		fprintf(e->out, ",\"field\":");
		text_json(e->out, v->field);
		fprintf(e->out, ",\"class\":");
		text_json(e->out, v->cls);
		fprintf(e->out, ",\"action\":");
		text_json(e->out, v->action);
		fprintf(e->out, ",\"decision\":\"%s\",\"rule\":", v->allow ? "allow" : "deny");
		text_json(e->out, v->rule);
		fprintf(e->out, ",\"reason\":");
		text_json(e->out, v->reason);
		fprintf(e->out, ",\"checkout\":%lld,\"bytes_read\":%lld,\"bytes_written\":%lld,"
				"\"detail\":", (long long)v->checkout_id, (long long)v->bytes_read,
			(long long)v->bytes_written);
		text_json(e->out, v->detail);
		fprintf(e->out, "}\n");
	} else {
		/* The record's own fields (action, rule) stay as recorded. */
		fprintf(e->out, "%6lld %s %s %s %s %s%s%s [%s]%s%s %s(%d)\n", (long long)r->seq,
			when, text_padded(v->login[0] ? text_inert(v->login) : "-", 12),
			text_padded(text_inert(v->action), 13),
			text_padded(v->allow ? _("allow") : _("DENY"), 5), text_inert(cust), v->field[0] ? "/" : "",
			text_inert(v->field), text_inert(v->rule), v->detail[0] ? " " : "",
			text_inert(v->detail), text_inert(v->comm), (int)v->pid);
	}
	pc->n++;
	return 0;
}

/* ---- report (report.h) ---- */

static int audit_report(struct cmd_env *e, const struct audit_filter *f, const char *from,
			const char *to, const char *night, const char *many, const char *sample,
			const char *format, bool json)
{
	struct report_opts o = { .filter = *f, .from = from, .to = to, .night_from = 22 * 60,
				 .night_to = 6 * 60, .many = 20, .denials = 5, .sample = 20 };
	int fmt = json ? REPORT_JSON : REPORT_TEXT;
	if (format && (fmt = report_format_parse(format)) < 0) {
		fprintf(e->err, "%s", _("custctl: --format is text, csv, json or html\n"));
		return EXIT_USAGE;
	}
	if (json && fmt != REPORT_JSON) {
		fprintf(e->err, "%s", _("custctl: --json is --format json\n"));
		return EXIT_USAGE;
	}
	if (night && parse_window(night, &o.night_from, &o.night_to) != 0) {
		fprintf(e->err, "%s", _("custctl: --night takes HH:MM-HH:MM\n"));
		return EXIT_USAGE;
	}
	if (many && !whole_number(many, 2, 1000000, &o.many)) {
		fprintf(e->err, "%s", _("custctl: --many takes 2 to 1000000\n"));
		return EXIT_USAGE;
	}
	if (sample && !whole_number(sample, 0, 10000, &o.sample)) {
		fprintf(e->err, "%s", _("custctl: --sample takes 0 to 10000\n"));
		return EXIT_USAGE;
	}
	struct report *r;
	char err[256];
	if (report_build(e->v, &o, &r, err, sizeof err) != 0) {
		fprintf(e->err, "custctl: %s\n", err);
		return EXIT_REFUSED;
	}
	int rc = report_write(r, (enum report_format)fmt, e->out);
	report_free(r);
	return rc ? EXIT_REFUSED : EXIT_OK;
}

/* The verdict's last line (OK: ... or BAD: ...) of TEXT, without the word. */
static void verdict_json(FILE *out, const char *text, size_t len)
{
	while (len && text[len - 1] == '\n')
		len--;
	size_t start = len;
	while (start && text[start - 1] != '\n')
		start--;
	char *line = strndup(text + start, len - start);
	const char *msg = line ? line : "";
	if (!strncmp(msg, "OK: ", 4))
		msg += 4;
	else if (!strncmp(msg, "BAD: ", 5))
		msg += 5;
	fputs(",\"verdict\":", out);
	text_json(out, msg);
	free(line);
}

/* verify [--against LINE] [--witness DIR] [--archive FILE] [--json]: the log
 * against itself and against the checkpoints kept outside it; or an
 * archive. --json: one object, {"ok", "verdict", and what was walked}. */
static int verify(struct cmd_env *e, const char *against, const char *witness,
		  const char *archive, bool json)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = json ? open_memstream(&text, &len) : e->out;
	if (!out) {
		fprintf(e->err, _("custctl: out of memory\n"));
		return EXIT_REFUSED;
	}
	struct audit_verdict v = { 0 };
	char **lines = NULL;
	size_t n = 0;
	const char **kept = NULL;
	int rc;
	if (archive) {
		rc = audit_verify_archive(e->v->audit, archive, out);
	} else if (witness && audit_witness_lines(e->v->audit, witness, &lines, &n, out) != 0) {
		rc = 1;
	} else if (!(kept = calloc(n + 1, sizeof *kept))) {
		fprintf(out, "BAD: out of memory\n");
		rc = 1;
	} else {
		for (size_t i = 0; i < n; i++)
			kept[i] = lines[i];
		if (against)
			kept[n] = against;
		rc = audit_verify_verdict(e->v->audit, kept, n + (against != NULL), out, &v);
	}
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	free(kept);
	if (json) {
		fclose(out);
		fprintf(e->out, "{\"ok\":%s", rc ? "false" : "true");
		verdict_json(e->out, text ? text : "", len);
		if (archive) {
			fputs(",\"archive\":", e->out);
			text_json(e->out, archive);
		} else {
			fprintf(e->out, ",\"records\":%lld,\"last_seq\":%lld,\"archived_through\":%lld,"
					"\"signed_checkpoints\":%zu,\"kept_checkpoints\":%zu",
				(long long)v.records, (long long)v.last_seq, (long long)v.archived,
				v.signed_checkpoints, v.kept_checkpoints);
		}
		fputs("}\n", e->out);
		free(text);
	}
	return rc ? EXIT_REFUSED : EXIT_OK;
}

int cmd_audit(struct cmd_env *e, int argc, char **argv)
{
	const char *from = NULL, *to = NULL, *login = NULL, *dept = NULL, *cust = NULL, *cls = NULL,
		   *decision = NULL, *action = NULL, *against = NULL, *night = NULL, *many = NULL,
		   *before = NULL, *output = NULL, *archive = NULL, *witness = NULL,
		   *format = NULL, *sample = NULL;
	bool json = false;
	const struct cmd_opt opts[] = {
		{ "from", true, &from, NULL },         { "to", true, &to, NULL },
		{ "employee", true, &login, NULL },    { "department", true, &dept, NULL },
		{ "customer", true, &cust, NULL },     { "class", true, &cls, NULL },
		{ "decision", true, &decision, NULL }, { "action", true, &action, NULL },
		{ "against", true, &against, NULL },   { "night", true, &night, NULL },
		{ "many", true, &many, NULL },         { "json", false, NULL, &json },
		{ "before", true, &before, NULL },     { "output", true, &output, NULL },
		{ "archive", true, &archive, NULL },   { "witness", true, &witness, NULL },
		{ "format", true, &format, NULL },     { "sample", true, &sample, NULL },
		{ NULL, false, NULL, NULL },
	};
	char *pos[2];
	int npos;
	if (cmd_parse(e, argc, argv, opts, pos, 2, &npos))
		goto usage;
	const char *verb = npos ? pos[0] : "list";
	if (!e->v->audit) {
		fprintf(e->err, _("custctl: the audit log is not open\n"));
		return EXIT_REFUSED;
	}
	bool all = sees_everything(e);
	if (!all && !e->me) {
		fprintf(e->err, _("custctl: refused: uid %u is not on the staff register\n"),
			(unsigned)e->uid);
		return EXIT_REFUSED;
	}
	struct audit_filter f = { .decision = -1, .login = login, .department = dept, .cls = cls,
				  .action = action };
	if ((from && !(f.from_ns = parse_when(from, false))) ||
	    (to && !(f.to_ns = parse_when(to, true)))) {
		fprintf(e->err, _("custctl: dates are YYYY-MM-DD or YYYY-MM-DDTHH:MM\n"));
		return EXIT_USAGE;
	}
	if (decision)
		f.decision = !strcmp(decision, "allow") ? 1 : !strcmp(decision, "deny") ? 0 : -2;
	if (f.decision == -2) {
		fprintf(e->err, _("custctl: --decision is allow or deny\n"));
		return EXIT_USAGE;
	}
	if (cust) {
		struct customer c;
		if (cmd_customer(e, cust, all, &c) != 0)
			return EXIT_REFUSED;
		f.customer_id = c.id;
	}
	if (!all)
		f.login = e->me->login; /* your own records only */

	if (!strcmp(verb, "list") && npos <= 1) {
		struct print_ctx pc = { e, json, 0, !all };
		int err = audit_query(e->v->audit, &f, print_record, &pc);
		return err ? EXIT_REFUSED : EXIT_OK;
	}
	if (!all) {
		fprintf(e->err, _("custctl: refused: audit %s is for administration and the information "
				"management group (R2.1, R5.1)\n"), verb);
		return EXIT_REFUSED;
	}
	if (!strcmp(verb, "report") && npos == 1 && output) {
		/* custctl writes the file, as its caller: custfs never does. */
		fprintf(e->err, "%s", _("custctl: audit report --output is written by custctl; "
					"this custfs got it from an older custctl\n"));
		return EXIT_USAGE;
	}
	if (!strcmp(verb, "report") && npos == 1)
		return audit_report(e, &f, from, to, night, many, sample, format, json);
	if (!strcmp(verb, "sample") && npos == 2) {
		/* data accesses only: commands and procedure steps are not drawn */
		struct print_ctx pc = { e, json, 0, false };
		int n;
		if (!whole_number(pos[1], 1, 10000, &n))
			goto usage;
		return report_sample(e->v->audit, &f, n, print_record, &pc) ? EXIT_REFUSED : EXIT_OK;
	}
	if (!strcmp(verb, "verify") && npos == 1)
		return verify(e, against, witness, archive, json);
	if (!strcmp(verb, "archive") && npos == 1) {
		int64_t cut = before ? parse_when(before, false) : 0;
		if (!cut || !output || output[0] != '/') {
			fprintf(e->err, _("custctl: audit archive --before DATE --output /ABSOLUTE/FILE\n"));
			return EXIT_USAGE;
		}
		if (!e->root) {
			fprintf(e->err, _("custctl: refused: archiving writes a file: root's, on the store "
					"files (custctl audit archive STORE ...)\n"));
			return EXIT_REFUSED;
		}
		int err = audit_archive(e->v->audit, cut, output, e->out);
		if (err) {
			fprintf(e->err, _("custctl: archive failed: %s; nothing left the log\n"),
				strerror(err));
			return EXIT_REFUSED;
		}
		struct audit_event ev = { .uid = e->uid, .login = e->me ? e->me->login : "",
					  .action = "archive", .allow = true, .detail = output };
		audit_append(e->v->audit, &ev, true);
		return EXIT_OK;
	}
	if (!strcmp(verb, "checkpoint") && npos == 1) {
		char line[512];
		int err = audit_checkpoint(e->v->audit, line, sizeof line);
		if (err) {
			fprintf(e->err, _("custctl: cannot sign a checkpoint: %s\n"), strerror(err));
			return EXIT_REFUSED;
		}
		fprintf(e->out, "%s\n", line);
		return EXIT_OK;
	}
	if (!strcmp(verb, "pubkey") && npos == 1) {
		char hex[128];
		audit_public_key(e->v->audit, hex, sizeof hex);
		fprintf(e->out, "%s\n", hex);
		return EXIT_OK;
	}
usage:
	fprintf(e->err,
		_("usage: custctl audit [list] [--from DATE] [--to DATE] [--employee LOGIN]\n"
		"                    [--department DEPT] [--customer ID] [--class CLASS]\n"
		"                    [--decision allow|deny] [--action ACTION] [--json]\n"
		"       custctl audit report [--from DATE] [--to DATE] [--format text|csv|json|html]\n"
		"                            [--output FILE] [--json] [--night HH:MM-HH:MM] [--many N]\n"
		"                            [--sample N]\n"
		"       custctl audit sample N [--from DATE] [--to DATE] [--json]\n"
		"       custctl audit verify [--against 'CHECKPOINT LINE'] [--witness DIR]\n"
		"                            [--archive FILE] [--json]\n"
		"       custctl audit archive --before DATE --output FILE   (root)\n"
		"       custctl audit checkpoint\n"
		"       custctl audit pubkey\n"));
	return EXIT_USAGE;
}
