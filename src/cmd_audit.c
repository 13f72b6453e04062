/* audit: who saw what, when, and why it was allowed (R5.1, R2.1, R2.5).
 *
 * Administration and the information management group see every record;
 * everyone else sees their own. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "cmd.h"
#include "names.h"

static bool sees_everything(struct cmd_env *e)
{
	if (e->root)
		return true;
	if (!e->me || e->me->departed)
		return false;
	const struct department *d = e->pol->procedure[PROC_APPROVE];
	return (d && !strcmp(e->me->department, d->name)) || strcmp(e->me->group_role, "none");
}

/* YYYY-MM-DD or YYYY-MM-DDTHH:MM (local time) as nanoseconds; 0 on error. */
static int64_t parse_when(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *end = strptime(s, "%Y-%m-%dT%H:%M", &tm);
	if (!end || *end) {
		memset(&tm, 0, sizeof tm);
		end = strptime(s, "%Y-%m-%d", &tm);
		if (!end || *end)
			return 0;
	}
	tm.tm_isdst = -1;
	time_t t = mktime(&tm);
	return t < 0 ? 0 : (int64_t)t * 1000000000;
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

static int minute_of_day(int64_t ns)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	localtime_r(&t, &tm);
	return tm.tm_hour * 60 + tm.tm_min;
}

static bool in_window(int m, int from, int to)
{
	return from <= to ? m >= from && m < to : m >= from || m < to; /* across midnight */
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
};

static int print_record(void *p, const struct audit_record *r)
{
	struct print_ctx *pc = p;
	struct cmd_env *e = pc->e;
	const struct audit_event *v = &r->ev;
	char when[32], cust[NAME_MAX_BYTES + 2];
	cmd_time(v->time_ns, when);
	customer_name(e, v->customer_id, cust, sizeof cust);
	if (pc->json) {
		fprintf(e->out, "{\"seq\":%lld,\"time_ns\":%lld,\"time\":\"%s\",\"uid\":%u,\"login\":",
			(long long)r->seq, (long long)v->time_ns, when, (unsigned)v->uid);
		cmd_json_str(e->out, v->login);
		fprintf(e->out, ",\"department\":");
		cmd_json_str(e->out, v->department);
		fprintf(e->out, ",\"pid\":%d,\"process\":", (int)v->pid);
		cmd_json_str(e->out, v->comm);
		fprintf(e->out, ",\"exe\":");
		cmd_json_str(e->out, v->exe);
		fprintf(e->out, ",\"mount\":");
		cmd_json_str(e->out, v->mount);
		fprintf(e->out, ",\"view\":");
		cmd_json_str(e->out, v->view);
		fprintf(e->out, ",\"customer\":");
		cmd_json_str(e->out, cust);
		fprintf(e->out, ",\"field\":");
		cmd_json_str(e->out, v->field);
		fprintf(e->out, ",\"class\":");
		cmd_json_str(e->out, v->cls);
		fprintf(e->out, ",\"action\":");
		cmd_json_str(e->out, v->action);
		fprintf(e->out, ",\"decision\":\"%s\",\"rule\":", v->allow ? "allow" : "deny");
		cmd_json_str(e->out, v->rule);
		fprintf(e->out, ",\"reason\":");
		cmd_json_str(e->out, v->reason);
		fprintf(e->out, ",\"checkout\":%lld,\"bytes_read\":%lld,\"bytes_written\":%lld,"
				"\"detail\":", (long long)v->checkout_id, (long long)v->bytes_read,
			(long long)v->bytes_written);
		cmd_json_str(e->out, v->detail);
		fprintf(e->out, "}\n");
	} else {
		fprintf(e->out, "%6lld %s %-12s %-13s %-5s %s%s%s [%s]%s%s %s(%d)\n", (long long)r->seq,
			when, v->login[0] ? v->login : "-", v->action, v->allow ? "allow" : "DENY",
			cust, v->field[0] ? "/" : "", v->field, v->rule,
			v->detail[0] ? " " : "", v->detail, v->comm, (int)v->pid);
	}
	pc->n++;
	return 0;
}

struct sample_ctx {
	struct print_ctx pc;
	const char *only; /* a login, or NULL */
};

static int print_if_own(void *p, const struct audit_record *r)
{
	struct sample_ctx *sc = p;
	if (sc->only && strcmp(sc->only, r->ev.login) != 0)
		return 0;
	return print_record(&sc->pc, r);
}

/* ---- report ---- */

struct hit {
	char login[STAFF_WORD];
	int64_t t;
	int64_t customer;
	bool deny;
};

struct tally {
	char key[STAFF_WORD * 2];
	long n, denied;
};

struct report {
	struct cmd_env *e;
	int night_from, night_to;
	struct hit *hits;
	size_t nhits, caphits;
	struct tally by_dept[64], by_person[256], by_class[32];
	size_t ndept, nperson, nclass;
	long total, denials, sensitive, breakglass, commands;
};

static void count(struct tally *t, size_t *n, size_t cap, const char *key, bool deny)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(t[i].key, key)) {
			t[i].n++;
			t[i].denied += deny;
			return;
		}
	if (*n < cap) {
		snprintf(t[*n].key, sizeof t[*n].key, "%s", key[0] ? key : "-");
		t[*n].n = 1;
		t[*n].denied = deny;
		(*n)++;
	}
}

static int tally_record(void *p, const struct audit_record *r)
{
	struct report *rp = p;
	const struct audit_event *v = &r->ev;
	if (!strcmp(v->action, "command")) {
		rp->commands++;
		if (strstr(v->detail, "break-glass"))
			rp->breakglass++;
		return 0;
	}
	if (!strcmp(v->action, "command-done"))
		return 0;
	if (strncmp(v->action, "open", 4) && strcmp(v->action, "read") && strcmp(v->action, "write") &&
	    strcmp(v->action, "create") && strncmp(v->action, "read-", 5) &&
	    strncmp(v->action, "write-", 6))
		return 0;
	rp->total++;
	rp->denials += !v->allow;
	rp->sensitive += v->checkout_id != 0;
	count(rp->by_dept, &rp->ndept, 64, v->department, !v->allow);
	count(rp->by_person, &rp->nperson, 256, v->login[0] ? v->login : "(not staff)", !v->allow);
	count(rp->by_class, &rp->nclass, 32, v->cls, !v->allow);
	if (rp->nhits == rp->caphits) {
		size_t ncap = rp->caphits ? rp->caphits * 2 : 1024;
		struct hit *h = realloc(rp->hits, ncap * sizeof *h);
		if (!h)
			return 1;
		rp->hits = h;
		rp->caphits = ncap;
	}
	struct hit *h = &rp->hits[rp->nhits++];
	snprintf(h->login, sizeof h->login, "%s", v->login);
	h->t = v->time_ns;
	h->customer = v->customer_id;
	h->deny = !v->allow;
	return 0;
}

static void print_tally(struct cmd_env *e, const char *title, const struct tally *t, size_t n)
{
	fprintf(e->out, "%s:\n", title);
	for (size_t i = 0; i < n; i++)
		fprintf(e->out, "  %-24s %6ld accesses, %4ld denied\n", t[i].key, t[i].n, t[i].denied);
	if (!n)
		fprintf(e->out, "  (none)\n");
}

struct late_ctx {
	struct cmd_env *e;
	int n;
};

static int print_late(void *p, const struct checkout *c)
{
	struct late_ctx *lc = p;
	char cust[NAME_MAX_BYTES + 2], end[32];
	if (c->status != CO_EXPIRED && !(c->status == CO_OPEN && c->expires_ns < vault_now_ns()))
		return 0;
	customer_name(lc->e, c->customer_id, cust, sizeof cust);
	cmd_time(c->expires_ns, end);
	fprintf(lc->e->out, "  checkout #%lld of %s%s%s by employee #%lld ran out at %s "
			    "unreturned\n", (long long)c->id, cust, c->field[0] || c->cls[0] ? "/" : "",
		c->field[0] ? c->field : c->cls, (long long)c->employee_id, end);
	lc->n++;
	return 0;
}

static int audit_report(struct cmd_env *e, struct audit_filter *f, const char *night,
			const char *many)
{
	struct report rp = { .e = e, .night_from = 22 * 60, .night_to = 6 * 60 };
	int many_n = many ? atoi(many) : 20;
	const int64_t window = 10LL * 60 * 1000000000; /* ten minutes */
	if (night && parse_window(night, &rp.night_from, &rp.night_to) != 0) {
		fprintf(e->err, "custctl: --night takes HH:MM-HH:MM\n");
		return CMD_USAGE;
	}
	if (many_n < 2)
		many_n = 2;
	int err = audit_query(e->v->audit, f, tally_record, &rp);
	if (err) {
		fprintf(e->err, "custctl: cannot read the audit log: %s\n", strerror(err));
		free(rp.hits);
		return CMD_REFUSED;
	}
	fprintf(e->out, "custfs audit report (R5.1): %ld accesses, %ld denied, %ld through "
			"checkouts; %ld commands, %ld break-glass\n\n", rp.total, rp.denials,
		rp.sensitive, rp.commands, rp.breakglass);
	print_tally(e, "by department", rp.by_dept, rp.ndept);
	print_tally(e, "by person", rp.by_person, rp.nperson);
	print_tally(e, "by class", rp.by_class, rp.nclass);

	fprintf(e->out, "\nsensitive checkouts that ran out unreturned:\n");
	struct late_ctx lc = { e, 0 };
	staff_checkouts_list(e->v->st, 0, print_late, &lc);
	if (!lc.n)
		fprintf(e->out, "  (none)\n");

	fprintf(e->out, "\nunusual behaviour:\n");
	int flagged = 0;
	/* Per person: many customers in a short time, night access, repeated denials. */
	for (size_t p = 0; p < rp.nperson; p++) {
		const char *who = rp.by_person[p].key;
		int night_hits = 0, best_distinct = 0, best_denials = 0;
		for (size_t i = 0; i < rp.nhits; i++) {
			const struct hit *h = &rp.hits[i];
			if (strcmp(h->login[0] ? h->login : "(not staff)", who))
				continue;
			if (in_window(minute_of_day(h->t), rp.night_from, rp.night_to))
				night_hits++;
			int distinct = 0, denials = 0;
			int64_t seen[512];
			for (size_t j = i; j < rp.nhits && rp.hits[j].t - h->t < window; j++) {
				const struct hit *k = &rp.hits[j];
				if (strcmp(k->login[0] ? k->login : "(not staff)", who))
					continue;
				denials += k->deny;
				bool dup = false;
				for (int d = 0; d < distinct && !dup; d++)
					dup = seen[d] == k->customer;
				if (!dup && k->customer && distinct < 512)
					seen[distinct++] = k->customer;
			}
			if (distinct > best_distinct)
				best_distinct = distinct;
			if (denials > best_denials)
				best_denials = denials;
		}
		if (best_distinct >= many_n) {
			fprintf(e->out, "  %s read %d different customers within ten minutes\n", who,
				best_distinct);
			flagged++;
		}
		if (night_hits) {
			fprintf(e->out, "  %s accessed customer data %d time%s at night (%02d:%02d-%02d:%02d)\n",
				who, night_hits, night_hits == 1 ? "" : "s", rp.night_from / 60,
				rp.night_from % 60, rp.night_to / 60, rp.night_to % 60);
			flagged++;
		}
		if (best_denials >= 5) {
			fprintf(e->out, "  %s was denied %d times within ten minutes\n", who, best_denials);
			flagged++;
		}
	}
	if (!flagged)
		fprintf(e->out, "  (none)\n");
	free(rp.hits);
	return CMD_OK;
}

int cmd_audit(struct cmd_env *e, int argc, char **argv)
{
	const char *from = NULL, *to = NULL, *login = NULL, *dept = NULL, *cust = NULL, *cls = NULL,
		   *decision = NULL, *action = NULL, *against = NULL, *night = NULL, *many = NULL,
		   *before = NULL, *output = NULL, *archive = NULL;
	bool json = false;
	const struct cmd_opt opts[] = {
		{ "from", true, &from, NULL },         { "to", true, &to, NULL },
		{ "employee", true, &login, NULL },    { "department", true, &dept, NULL },
		{ "customer", true, &cust, NULL },     { "class", true, &cls, NULL },
		{ "decision", true, &decision, NULL }, { "action", true, &action, NULL },
		{ "against", true, &against, NULL },   { "night", true, &night, NULL },
		{ "many", true, &many, NULL },         { "json", false, NULL, &json },
		{ "before", true, &before, NULL },     { "output", true, &output, NULL },
		{ "archive", true, &archive, NULL },
		{ NULL, false, NULL, NULL },
	};
	char *pos[2];
	int npos;
	if (cmd_parse(e, argc, argv, opts, pos, 2, &npos))
		goto usage;
	const char *verb = npos ? pos[0] : "list";
	if (!e->v->audit) {
		fprintf(e->err, "custctl: the audit log is not open\n");
		return CMD_REFUSED;
	}
	bool all = sees_everything(e);
	if (!all && !e->me) {
		fprintf(e->err, "custctl: refused: uid %u is not on the staff register\n",
			(unsigned)e->uid);
		return CMD_REFUSED;
	}
	struct audit_filter f = { .decision = -1, .login = login, .department = dept, .cls = cls,
				  .action = action };
	if ((from && !(f.from_ns = parse_when(from))) || (to && !(f.to_ns = parse_when(to)))) {
		fprintf(e->err, "custctl: dates are YYYY-MM-DD or YYYY-MM-DDTHH:MM\n");
		return CMD_USAGE;
	}
	if (to && strlen(to) == 10)
		f.to_ns += 86400LL * 1000000000; /* --to a day includes it */
	if (decision)
		f.decision = !strcmp(decision, "allow") ? 1 : !strcmp(decision, "deny") ? 0 : -2;
	if (f.decision == -2) {
		fprintf(e->err, "custctl: --decision is allow or deny\n");
		return CMD_USAGE;
	}
	if (cust) {
		struct customer c;
		if (vault_customer_by_name(e->v, cust, &c) != 0) {
			fprintf(e->err, "custctl: no customer '%s'\n", cust);
			return CMD_REFUSED;
		}
		f.customer_id = c.id;
	}
	if (!all)
		f.login = e->me->login; /* your own records only */

	if (!strcmp(verb, "list") && npos <= 1) {
		struct print_ctx pc = { e, json, 0 };
		int err = audit_query(e->v->audit, &f, print_record, &pc);
		return err ? CMD_REFUSED : CMD_OK;
	}
	if (!all) {
		fprintf(e->err, "custctl: refused: audit %s is for administration and the information "
				"management group (R2.1, R5.1)\n", verb);
		return CMD_REFUSED;
	}
	if (!strcmp(verb, "report") && npos == 1)
		return audit_report(e, &f, night, many);
	if (!strcmp(verb, "sample") && npos == 2) {
		struct sample_ctx sc = { { e, json, 0 }, NULL };
		int n = atoi(pos[1]);
		if (n <= 0 || n > 10000)
			goto usage;
		return audit_sample(e->v->audit, n, print_if_own, &sc) ? CMD_REFUSED : CMD_OK;
	}
	if (!strcmp(verb, "verify") && npos == 1 && archive)
		return audit_verify_archive(e->v->audit, archive, e->out) ? CMD_REFUSED : CMD_OK;
	if (!strcmp(verb, "verify") && npos == 1)
		return audit_verify(e->v->audit, against, e->out) ? CMD_REFUSED : CMD_OK;
	if (!strcmp(verb, "archive") && npos == 1) {
		int64_t cut = before ? parse_when(before) : 0;
		if (!cut || !output || output[0] != '/') {
			fprintf(e->err, "custctl: audit archive --before DATE --output /ABSOLUTE/FILE\n");
			return CMD_USAGE;
		}
		if (!e->root) {
			fprintf(e->err, "custctl: refused: archiving writes a file: root's, on the store "
					"files (custctl audit archive STORE ...)\n");
			return CMD_REFUSED;
		}
		int err = audit_archive(e->v->audit, cut, output, e->out);
		if (err) {
			fprintf(e->err, "custctl: archive failed: %s; nothing left the log\n",
				strerror(err));
			return CMD_REFUSED;
		}
		struct audit_event ev = { .uid = e->uid, .login = e->me ? e->me->login : "",
					  .action = "archive", .allow = true, .detail = output };
		audit_append(e->v->audit, &ev, true);
		return CMD_OK;
	}
	if (!strcmp(verb, "checkpoint") && npos == 1) {
		char line[512];
		int err = audit_checkpoint(e->v->audit, line, sizeof line);
		if (err) {
			fprintf(e->err, "custctl: cannot sign a checkpoint: %s\n", strerror(err));
			return CMD_REFUSED;
		}
		fprintf(e->out, "%s\n", line);
		return CMD_OK;
	}
	if (!strcmp(verb, "pubkey") && npos == 1) {
		char hex[128];
		audit_public_key(e->v->audit, hex, sizeof hex);
		fprintf(e->out, "%s\n", hex);
		return CMD_OK;
	}
usage:
	fprintf(e->err,
		"usage: custctl audit [list] [--from DATE] [--to DATE] [--employee LOGIN]\n"
		"                    [--department DEPT] [--customer ID] [--class CLASS]\n"
		"                    [--decision allow|deny] [--action ACTION] [--json]\n"
		"       custctl audit report [--from DATE] [--to DATE] [--night HH:MM-HH:MM] [--many N]\n"
		"       custctl audit sample N [--json]\n"
		"       custctl audit verify [--against 'CHECKPOINT LINE'] [--archive FILE]\n"
		"       custctl audit archive --before DATE --output FILE   (root)\n"
		"       custctl audit checkpoint\n"
		"       custctl audit pubkey\n");
	return CMD_USAGE;
}
