/* custctl policy: a policy change is the information management group's act
 * (R2.1). Technical proposes a whole policy with its reason (every error
 * file:line, nothing stored on error); anyone involved sees what it changes
 * (statements, and who gains or loses what, evaluated by the same
 * access_decide over today's register); the group's leader approves it;
 * technical installs it. Installed policies are kept as the history. */
#include "cmd.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access.h"
#include "clock.h"
#include "names.h"
#include "proposals.h"
#include "text.h"

static const char *login_of(const struct staff *s, int64_t id)
{
	const struct employee *x = cmd_employee_by_id(s, id);
	return x ? x->login : id ? "?" : "root";
}

/* The files of a policy parsed in memory: 0 and *OUT, or the errors on ERR. */
static int parse_files(char *const *name, char *const *text, size_t n, FILE *err,
		       struct policy **out)
{
	const char *fields = NULL, *access = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(name[i], CATALOG_FILE))
			fields = text[i];
		else if (!strcmp(name[i], POLICY_ACCESS_FILE))
			access = text[i];
	}
	if (!fields || !access) {
		fprintf(err, _("custctl: a policy has %s and %s\n"), CATALOG_FILE, POLICY_ACCESS_FILE);
		return EINVAL;
	}
	struct catalog *cat = NULL;
	FILE *f = fmemopen((void *)fields, strlen(fields), "r");
	int nerr = f ? catalog_parse(f, CATALOG_FILE, err, &cat) : -1;
	if (f)
		fclose(f);
	if (nerr)
		return EINVAL;
	f = fmemopen((void *)access, strlen(access), "r");
	nerr = f ? policy_parse(f, POLICY_ACCESS_FILE, err, cat, out) : -1;
	if (f)
		fclose(f);
	else
		catalog_free(cat);
	return nerr ? EINVAL : 0;
}

/* The policy's hash: BLAKE2b-256 over each file's name and text, in name
 * order (as root's reload hashes a directory). */
static void hash_files(char *const *name, char *const *text, size_t n, char out[65])
{
	unsigned char h[32];
	size_t order[PROPOSAL_FILES + 1];
	crypto_generichash_state st;
	for (size_t i = 0; i < n; i++) {
		size_t k = i;
		for (; k > 0 && strcmp(name[order[k - 1]], name[i]) > 0; k--)
			order[k] = order[k - 1];
		order[k] = i;
	}
	crypto_generichash_init(&st, NULL, 0, sizeof h);
	for (size_t j = 0; j < n; j++) {
		size_t i = order[j];
		crypto_generichash_update(&st, (const unsigned char *)name[i], strlen(name[i]) + 1);
		crypto_generichash_update(&st, (const unsigned char *)text[i], strlen(text[i]) + 1);
	}
	crypto_generichash_final(&st, h, sizeof h);
	sodium_bin2hex(out, 65, h, sizeof h);
}

/* ---- what a change does ---- */

/* The statements of TEXT, one a line, blanks squeezed, comments gone. */
static char **statements(const char *text, size_t *n)
{
	char **v = NULL;
	*n = 0;
	const char *p = text;
	while (*p) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *line = malloc(len + 1), *o = line;
		if (!line)
			break;
		bool space = true;
		/* As the parser reads it: '#' starts a comment, "\#" is a '#'. */
		for (size_t i = 0; i < len && (p[i] != '#' || (i > 0 && p[i - 1] == '\\')); i++) {
			bool blank = p[i] == ' ' || p[i] == '\t' || p[i] == '\r';
			if (blank && !space)
				*o++ = ' ';
			else if (!blank)
				*o++ = p[i];
			space = blank;
		}
		while (o > line && o[-1] == ' ')
			o--;
		*o = '\0';
		char **g = *line ? realloc(v, (*n + 1) * sizeof *v) : v;
		if (*line && g) {
			v = g;
			v[(*n)++] = line;
		} else {
			free(line);
		}
		p += len + (end ? 1 : 0);
	}
	return v;
}

static bool in_set(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

static void free_set(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The installed file NAME's text (malloc'd), or NULL. */
static char *installed_text(struct cmd_env *e, const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s/%s", e->v->dir, VAULT_POLICY_DIR, name);
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *buf = malloc(POLICY_FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, POLICY_FILE_MAX, f) : 0;
	fclose(f);
	if (buf)
		buf[n] = '\0';
	return buf;
}

/* Where a diff goes: text for people, or JSON objects (N so far). */
struct sink {
	FILE *out; /* NULL: counting only */
	bool json;
	int n;
	int review; /* added statements of powers or bounds */
};

/* Statements that move powers or bounds (who approves, checkout rules,
 * limits, scratch names, retention, erasure, audit durability): a reader
 * must weigh each added one, so it is marked. */
static bool moves_powers(const char *stmt)
{
	static const char *const kinds[] = { "procedure ", "checkout ", "limit ", "scratch ",
					     "keep ", "erase ", "audit " };
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
		if (!strncmp(stmt, kinds[i], strlen(kinds[i])))
			return true;
	return false;
}

static void emit_statement(struct sink *k, const char *file, char sign, const char *stmt)
{
	if (!k->out)
		return;
	bool review = sign == '+' && moves_powers(stmt);
	if (!k->json) {
		fprintf(k->out, "  %c %s%s\n", sign, text_inert(stmt),
			review ? _("   <- WIDENS? (a rule of powers or bounds: weigh it)") : "");
		return;
	}
	fprintf(k->out, "%s{\"file\":", k->n++ ? "," : "");
	text_json(k->out, file);
	fprintf(k->out, ",\"change\":\"%s\",\"review\":%s,\"statement\":",
		sign == '+' ? "added" : "removed", review ? "true" : "false");
	text_json(k->out, stmt);
	fprintf(k->out, "}");
}

static void emit_person(struct sink *k, bool widens, const struct employee *x, const char *what,
			const char *change, const char *field, const char *note)
{
	if (!k->out)
		return;
	if (!k->json) {
		fprintf(k->out, "  %s  %s (%s): %s%s %s%s\n", widens ? "WIDENS" : "      ",
			text_inert(x->login), x->department, change, what, field, note);
		return;
	}
	fprintf(k->out, "%s{\"login\":", k->n++ ? "," : "");
	text_json(k->out, x->login);
	fprintf(k->out, ",\"department\":");
	text_json(k->out, x->department);
	fprintf(k->out, ",\"widens\":%s,\"right\":\"%s\",\"field\":\"%s\",\"change\":",
		widens ? "true" : "false", what, field);
	text_json(k->out, note[0] ? note + 1 : change[0] == '+' ? "gains" : "loses");
	fprintf(k->out, "}");
}

static void diff_statements(struct cmd_env *e, const struct proposal *p, struct sink *k,
			    int *added, int *removed)
{
	FILE *out = k->json ? NULL : k->out;
	*added = *removed = 0;
	for (size_t i = 0; i < p->nfiles; i++) {
		char *old = installed_text(e, p->name[i]);
		size_t no = 0, nn = 0;
		char **a = statements(old ? old : "", &no), **b = statements(p->text[i], &nn);
		if (out)
			fprintf(out, "%s:\n", p->name[i]);
		int shown = 0;
		for (size_t j = 0; j < no; j++)
			if (!in_set(b, nn, a[j])) {
				emit_statement(k, p->name[i], '-', a[j]);
				shown++;
				(*removed)++;
			}
		for (size_t j = 0; j < nn; j++)
			if (!in_set(a, no, b[j])) {
				emit_statement(k, p->name[i], '+', b[j]);
				shown++;
				(*added)++;
				k->review += moves_powers(b[j]);
			}
		if (!shown && out)
			fprintf(out, _("  (no change)\n"));
		free_set(a, no);
		free_set(b, nn);
		free(old);
	}
}

/* What each person on the register may do to each field, now and under NEXT
 * (their grants and checkouts as they are today): the gains (widening, so
 * marked) and the losses. How many gains, or -1. */
static int diff_people(struct cmd_env *e, const struct staff *s, const struct policy *next,
		       struct sink *k, int *lost)
{
	FILE *out = k->json ? NULL : k->out;
	static const enum access_right rights[] = { RIGHT_READ, RIGHT_WRITE };
	char today[DATE_LEN];
	int gains = 0, losses = 0;
	clock_today(today);
	for (size_t i = 0; i < s->n; i++) {
		const struct employee *x = &s->emps[i];
		if (x->departed)
			continue;
		for (size_t f = 0; f < e->pol->cat->nfields; f++) {
			const struct field_def *now_def = &e->pol->cat->fields[f];
			const struct field_def *next_def = catalog_field(next->cat, now_def->name);
			for (int r = 0; r < 2; r++) {
				struct access_request q = { .uid = x->uid, .emp = x, .field = now_def,
							    .right = rights[r], .today = today,
							    .now_ns = clock_now_ns() };
				struct decision before, after;
				access_decide(e->pol, &q, &before, NULL, NULL);
				if (next_def) {
					q.field = next_def;
					access_decide(next, &q, &after, NULL, NULL);
				} else {
					after = (struct decision){ .allow = false };
				}
				bool was = before.allow && !before.masked, is = after.allow && !after.masked;
				bool was_masked = before.allow && before.masked;
				bool is_masked = after.allow && after.masked;
				const char *what = rights[r] == RIGHT_READ ? "read" : "write";
				if (!was && is) {
					emit_person(k, true, x, what, "+ ", now_def->name,
						    now_def->cls->sensitive && !next_def->cls->sensitive
							    ? " without a checkout"
							    : was_masked ? " unmasked" : "");
					gains++;
				} else if (!was_masked && is_masked && !was) {
					emit_person(k, true, x, what, "+ ", now_def->name, " (masked)");
					gains++;
				} else if ((was || was_masked) && !is && !is_masked) {
					emit_person(k, false, x, what, "- ", now_def->name, "");
					losses++;
				} else if (was && is_masked) {
					emit_person(k, false, x, what, "", now_def->name, " now masked");
					losses++;
				}
			}
		}
	}
	if (!out)
		;
	else if (!gains && !losses)
		fprintf(out, _("  nobody on the register gains or loses anything\n"));
	else
		fprintf(out, _("  %d gain%s (WIDENS), %d loss%s\n"), gains, gains == 1 ? "" : "s",
			losses, losses == 1 ? "" : "es");
	*lost = losses;
	return gains;
}

/* One line saying what P changes, for the audit record (with its hash). */
static void summary(struct cmd_env *e, const struct staff *s, const struct proposal *p,
		    char *out, size_t cap)
{
	int added = 0, removed = 0, gains = 0, losses = 0;
	struct policy *next = NULL;
	struct sink none = { NULL, false, 0, 0 };
	diff_statements(e, p, &none, &added, &removed);
	FILE *devnull = fopen("/dev/null", "we");
	if (parse_files(p->name, p->text, p->nfiles, devnull ? devnull : e->err, &next) == 0) {
		gains = diff_people(e, s, next, &none, &losses);
		policy_free(next);
	}
	if (devnull)
		fclose(devnull);
	snprintf(out, cap, "proposal #%lld %.16s: %d statements added (%d of powers or bounds), "
		 "%d removed; %d gains (widening), %d losses on today's register", (long long)p->id,
		 p->hash, added, none.review, removed, gains, losses);
}

static void record_step(struct cmd_env *e, const struct staff *s, const char *action,
			const struct proposal *p, const char *note)
{
	char detail[512], sum[400];
	summary(e, s, p, sum, sizeof sum);
	snprintf(detail, sizeof detail, "%s%s%s", sum, note ? "; note: " : "",
		 note ? text_inert(note) : "");
	cmd_record_act(e, action, 0, "policy", detail);
}

struct policy *cmd_proposal_policy(struct cmd_env *e, int64_t id)
{
	struct proposal p;
	struct policy *next = NULL;
	if (proposal_get(e->v->db, id, true, &p) != 0) {
		fprintf(e->err, _("custctl: no policy proposal #%lld\n"), (long long)id);
		return NULL;
	}
	parse_files(p.name, p.text, p.nfiles, e->err, &next);
	proposal_clear(&p);
	return next;
}

/* ---- replaying the log under a proposal ---- */

#define REPLAY_EXAMPLES 5

struct change_count {
	char key[STAFF_WORD * 2];
	long to_deny, to_allow;
};

struct replay {
	const struct policy *next;
	const struct staff *hist;
	struct grant *gbuf;
	struct checkout *cbuf;
	size_t gcap, ccap;
	long opens, to_deny, to_allow;
	long *by_emp_deny, *by_emp_allow; /* [hist->n] */
	struct change_count dept[64], cls[64];
	size_t ndept, ncls;
	int64_t ex_deny[REPLAY_EXAMPLES], ex_allow[REPLAY_EXAMPLES];
	int nex_deny, nex_allow;
};

static void tally_change(struct change_count *t, size_t *n, const char *key, bool to_deny)
{
	size_t i = 0;
	for (; i < *n && strcmp(t[i].key, key); i++)
		;
	if (i == *n) {
		if (*n == 64)
			return;
		memset(&t[i], 0, sizeof t[i]);
		snprintf(t[i].key, sizeof t[i].key, "%s", key[0] ? key : "-");
		(*n)++;
	}
	if (to_deny)
		t[i].to_deny++;
	else
		t[i].to_allow++;
}

/* X as things stood at T: the grants and checkouts that were in force. */
static int as_of(struct replay *rp, const struct employee *x, int64_t t, struct employee *out)
{
	if (x->ngrants > rp->gcap || x->ncheckouts > rp->ccap) {
		size_t g = x->ngrants > rp->gcap ? x->ngrants : rp->gcap;
		size_t c = x->ncheckouts > rp->ccap ? x->ncheckouts : rp->ccap;
		struct grant *ng = realloc(rp->gbuf, (g ? g : 1) * sizeof *ng);
		if (!ng)
			return ENOMEM;
		rp->gbuf = ng;
		rp->gcap = g;
		struct checkout *nc = realloc(rp->cbuf, (c ? c : 1) * sizeof *nc);
		if (!nc)
			return ENOMEM;
		rp->cbuf = nc;
		rp->ccap = c;
	}
	*out = *x;
	out->grants = rp->gbuf;
	out->ngrants = 0;
	for (size_t i = 0; i < x->ngrants; i++) {
		const struct grant *g = &x->grants[i];
		if (g->created_ns <= t && (g->ended_ns == 0 || t < g->ended_ns)) {
			rp->gbuf[out->ngrants] = *g;
			rp->gbuf[out->ngrants++].status = GRANT_ACTIVE;
		}
	}
	out->checkouts = rp->cbuf;
	out->ncheckouts = 0;
	for (size_t i = 0; i < x->ncheckouts; i++) {
		const struct checkout *c = &x->checkouts[i];
		if (c->status == CO_PENDING || c->status == CO_DENIED || c->requested_ns > t ||
		    (c->ended_ns && t >= c->ended_ns) || (c->expires_ns && t >= c->expires_ns))
			continue;
		rp->cbuf[out->ncheckouts] = *c;
		rp->cbuf[out->ncheckouts++].status = CO_OPEN;
	}
	return 0;
}

static int replay_one(void *ctx, const struct audit_record *r)
{
	struct replay *rp = ctx;
	const struct audit_event *v = &r->ev;
	if (strncmp(v->action, "open-", 5) || !v->field[0] || v->uid == 0)
		return 0;
	const struct employee *x = staff_by_uid(rp->hist, v->uid);
	if (!x)
		return 0; /* not staff: denied under every policy */
	rp->opens++;
	struct employee snap;
	if (as_of(rp, x, v->time_ns, &snap) != 0)
		return 1;
	const struct field_def *def = catalog_field(rp->next->cat, v->field);
	bool allow = false;
	if (def) {
		char today[DATE_LEN];
		time_t secs = (time_t)(v->time_ns / 1000000000);
		struct tm tm;
		localtime_r(&secs, &tm);
		strftime(today, sizeof today, "%Y-%m-%d", &tm);
		const char *a = v->action + 5;
		enum access_right rights[2];
		int n = 0;
		if (!strcmp(a, "read") || !strcmp(a, "rw"))
			rights[n++] = RIGHT_READ;
		if (!strcmp(a, "write") || !strcmp(a, "rw"))
			rights[n++] = RIGHT_WRITE;
		if (!strcmp(a, "create"))
			rights[n++] = RIGHT_CREATE;
		allow = n > 0;
		for (int i = 0; i < n && allow; i++) {
			struct access_request q = { .uid = v->uid, .emp = &snap,
						    .customer_id = v->customer_id, .field = def,
						    .right = rights[i], .today = today,
						    .now_ns = v->time_ns };
			struct decision d;
			access_decide(rp->next, &q, &d, NULL, NULL);
			allow = d.allow;
		}
	}
	if (allow == v->allow)
		return 0;
	bool to_deny = v->allow;
	size_t idx = (size_t)(x - rp->hist->emps);
	if (to_deny) {
		rp->to_deny++;
		rp->by_emp_deny[idx]++;
		if (rp->nex_deny < REPLAY_EXAMPLES)
			rp->ex_deny[rp->nex_deny++] = r->seq;
	} else {
		rp->to_allow++;
		rp->by_emp_allow[idx]++;
		if (rp->nex_allow < REPLAY_EXAMPLES)
			rp->ex_allow[rp->nex_allow++] = r->seq;
	}
	tally_change(rp->dept, &rp->ndept, x->department, to_deny);
	tally_change(rp->cls, &rp->ncls, def ? def->cls->name : v->cls, to_deny);
	return 0;
}

static int64_t parse_day(const char *s, bool end)
{
	struct tm tm = { 0 };
	if (!s || !strptime(s, "%Y-%m-%d", &tm))
		return -1;
	tm.tm_isdst = -1;
	int64_t t = (int64_t)mktime(&tm) * 1000000000LL;
	return end ? t + 86400LL * 1000000000LL : t;
}

static void print_examples(FILE *o, const int64_t *ex, int n, bool json)
{
	for (int i = 0; i < n; i++)
		fprintf(o, json ? "%s%lld" : "%s#%lld", i ? (json ? "," : " ") : "", (long long)ex[i]);
}

static int replay(struct cmd_env *e, const struct proposal *p, const char *from, const char *to,
		  bool json)
{
	struct replay rp = { 0 };
	struct policy *next = NULL;
	struct staff *hist = NULL;
	struct audit_filter f = { .decision = -1 };
	int rc = EXIT_REFUSED;
	if ((from && (f.from_ns = parse_day(from, false)) < 0) ||
	    (to && (f.to_ns = parse_day(to, true)) < 0)) {
		fprintf(e->err, _("custctl: --from and --to take YYYY-MM-DD\n"));
		return EXIT_USAGE;
	}
	if (parse_files(p->name, p->text, p->nfiles, e->err, &next) != 0)
		return EXIT_REFUSED;
	if (staff_load_history(e->v->db, &hist) != 0) {
		fprintf(e->err, _("custctl: cannot read the staff register's history\n"));
		goto out;
	}
	rp.next = next;
	rp.hist = hist;
	rp.by_emp_deny = calloc(hist->n ? hist->n : 1, sizeof *rp.by_emp_deny);
	rp.by_emp_allow = calloc(hist->n ? hist->n : 1, sizeof *rp.by_emp_allow);
	if (!rp.by_emp_deny || !rp.by_emp_allow || !e->v->audit ||
	    audit_query(e->v->audit, &f, replay_one, &rp) != 0) {
		fprintf(e->err, _("custctl: cannot replay the audit log\n"));
		goto out;
	}
	FILE *o = e->out;
	if (json) {
		fprintf(o, "{\"proposal\":%lld,\"opens\":%ld,\"allow_to_deny\":%ld,"
			   "\"deny_to_allow\":%ld,\"people\":[", (long long)p->id, rp.opens,
			rp.to_deny, rp.to_allow);
		int k = 0;
		for (size_t i = 0; i < hist->n; i++)
			if (rp.by_emp_deny[i] || rp.by_emp_allow[i]) {
				fprintf(o, "%s{\"login\":", k++ ? "," : "");
				text_json(o, hist->emps[i].login);
				fprintf(o, ",\"allow_to_deny\":%ld,\"deny_to_allow\":%ld}",
					rp.by_emp_deny[i], rp.by_emp_allow[i]);
			}
		fprintf(o, "],\"departments\":[");
		for (size_t i = 0; i < rp.ndept; i++) {
			fprintf(o, "%s{\"department\":", i ? "," : "");
			text_json(o, rp.dept[i].key);
			fprintf(o, ",\"allow_to_deny\":%ld,\"deny_to_allow\":%ld}", rp.dept[i].to_deny,
				rp.dept[i].to_allow);
		}
		fprintf(o, "],\"classes\":[");
		for (size_t i = 0; i < rp.ncls; i++) {
			fprintf(o, "%s{\"class\":", i ? "," : "");
			text_json(o, rp.cls[i].key);
			fprintf(o, ",\"allow_to_deny\":%ld,\"deny_to_allow\":%ld}", rp.cls[i].to_deny,
				rp.cls[i].to_allow);
		}
		fprintf(o, "],\"examples_allow_to_deny\":[");
		print_examples(o, rp.ex_deny, rp.nex_deny, true);
		fprintf(o, "],\"examples_deny_to_allow\":[");
		print_examples(o, rp.ex_allow, rp.nex_allow, true);
		fprintf(o, "]}\n");
	} else {
		fprintf(o, _("replay of %ld audited opens under proposal #%lld (the register as it is, "
			   "its grants and checkouts as they were then): %ld allow -> deny, %ld deny -> "
			   "allow\n"), rp.opens, (long long)p->id, rp.to_deny, rp.to_allow);
		for (size_t i = 0; i < hist->n; i++)
			if (rp.by_emp_deny[i] || rp.by_emp_allow[i])
				fprintf(o, _("  %-16s %6ld allow -> deny  %6ld deny -> allow\n"),
					text_inert(hist->emps[i].login), rp.by_emp_deny[i],
					rp.by_emp_allow[i]);
		for (size_t i = 0; i < rp.ndept; i++)
			fprintf(o, _("  department %-12s %6ld allow -> deny  %6ld deny -> allow\n"),
				rp.dept[i].key, rp.dept[i].to_deny, rp.dept[i].to_allow);
		for (size_t i = 0; i < rp.ncls; i++)
			fprintf(o, _("  class %-17s %6ld allow -> deny  %6ld deny -> allow\n"),
				rp.cls[i].key, rp.cls[i].to_deny, rp.cls[i].to_allow);
		if (rp.nex_deny) {
			fprintf(o, _("  e.g. allow -> deny: records "));
			print_examples(o, rp.ex_deny, rp.nex_deny, false);
			fprintf(o, "\n");
		}
		if (rp.nex_allow) {
			fprintf(o, _("  e.g. deny -> allow: records "));
			print_examples(o, rp.ex_allow, rp.nex_allow, false);
			fprintf(o, "\n");
		}
	}
	rc = EXIT_OK;
out:
	free(rp.by_emp_deny);
	free(rp.by_emp_allow);
	free(rp.gbuf);
	free(rp.cbuf);
	staff_free(hist);
	policy_free(next);
	return rc;
}

/* ---- the verbs ---- */

struct list_ctx {
	struct cmd_env *e;
	const struct staff *s;
	bool json;
	bool installed_only;
};

static int print_one(void *p, const struct proposal *x)
{
	struct list_ctx *l = p;
	char t[32];
	if (l->installed_only && x->status != PROP_INSTALLED)
		return 0;
	cmd_time(l->installed_only ? x->installed_ns : x->filed_ns, t);
	if (l->json) {
		fprintf(l->e->out, "{\"id\":%lld,\"status\":\"%s\",\"hash\":\"%s\",\"filed_by\":",
			(long long)x->id, proposal_status_name(x->status), x->hash);
		text_json(l->e->out, login_of(l->s, x->filed_by));
		fprintf(l->e->out, ",\"approved_by\":");
		text_json(l->e->out, x->approved_by ? login_of(l->s, x->approved_by) : "");
		fprintf(l->e->out, ",\"installed_by\":");
		text_json(l->e->out, x->status == PROP_INSTALLED ? login_of(l->s, x->installed_by) : "");
		fprintf(l->e->out, ",\"reason\":");
		text_json(l->e->out, x->reason);
		fprintf(l->e->out, ",\"summary\":");
		text_json(l->e->out, x->summary);
		fprintf(l->e->out, "}\n");
	} else {
		fprintf(l->e->out, _("%5lld  %s %s  by %s %.12s  %s\n"), (long long)x->id,
			text_padded(_(proposal_status_name(x->status)), 10), t,
			text_padded(login_of(l->s, x->filed_by), 12), x->hash, text_inert(x->reason));
		if (l->installed_only)
			fprintf(l->e->out, _("       approved by %s, installed by %s: %s\n"),
				x->approved_by ? login_of(l->s, x->approved_by) : "-",
				login_of(l->s, x->installed_by), text_inert(x->summary));
	}
	return 0;
}

static int propose(struct cmd_env *e, const char *reason, int n, char **name, char **text)
{
	struct policy *next = NULL;
	struct proposal p = { .status = PROP_FILED, .filed_by = e->me->id };
	int64_t id = 0;
	if (!reason || !reason[0] || !cmd_text_ok(e, "--reason", reason, WF_TEXT, false)) {
		fprintf(e->err, _("custctl: a proposal states its reason (--reason TEXT, R2.1)\n"));
		return EXIT_USAGE;
	}
	if (n > PROPOSAL_FILES) {
		fprintf(e->err, _("custctl: a policy has at most %d files\n"), PROPOSAL_FILES);
		return EXIT_USAGE;
	}
	for (int i = 0; i < n; i++) {
		/* The two files the parser reads, once each: nothing rides along
		 * unparsed. */
		if (strcmp(name[i], CATALOG_FILE) && strcmp(name[i], POLICY_ACCESS_FILE)) {
			fprintf(e->err, _("custctl: '%s': a policy is %s and %s, nothing else\n"),
				text_inert(name[i]), CATALOG_FILE, POLICY_ACCESS_FILE);
			return EXIT_USAGE;
		}
		for (int k = 0; k < i; k++)
			if (!strcmp(name[k], name[i])) {
				fprintf(e->err, _("custctl: %s is there twice\n"), name[i]);
				return EXIT_USAGE;
			}
		/* Text only: no control characters (comments included), so show,
		 * diff and history print nothing a terminal would act on. */
		for (const unsigned char *c = (const unsigned char *)text[i]; *c; c++)
			if ((*c < 0x20 && *c != '\n' && *c != '\t' && *c != '\r') || *c == 0x7f) {
				fprintf(e->err, _("custctl: %s holds a control character: policies are "
						"text\n"), name[i]);
				return EXIT_REFUSED;
			}
		const char *why = text_problem(text[i], strlen(text[i]), true);
		if (why && strstr(why, "UTF-8")) {
			fprintf(e->err, "custctl: %s: %s\n", name[i], why);
			return EXIT_REFUSED;
		}
	}
	if (parse_files(name, text, (size_t)n, e->err, &next) != 0) {
		fprintf(e->err, _("custctl: the proposed policy has errors; nothing was stored\n"));
		return EXIT_REFUSED;
	}
	policy_free(next);
	snprintf(p.reason, sizeof p.reason, "%s", reason);
	hash_files(name, text, (size_t)n, p.hash);
	p.nfiles = (size_t)n;
	for (int i = 0; i < n; i++) {
		p.name[i] = name[i];
		p.text[i] = text[i];
	}
	int err = db_begin(e->v->db, true);
	if (!err)
		err = proposal_add(e->v->db, &p, &id);
	if (cmd_finish(e, err, N_("store the proposal"), false))
		return EXIT_REFUSED;
	p.id = id;
	record_step(e, cmd_register(e), "policy-propose", &p, reason);
	fprintf(e->out, _("policy proposal #%lld stored (%.12s). See what it changes: custctl policy "
			"diff %lld; the information group's leader approves it (custctl policy "
			"approve %lld)\n"), (long long)id, p.hash, (long long)id, (long long)id);
	return EXIT_OK;
}

int cmd_policy(struct cmd_env *e, int argc, char **argv)
{
	if (argc < 2 || e->help)
		goto usage;
	const char *verb = argv[1];
	const struct staff *s = cmd_register(e);
	if (!s)
		return EXIT_REFUSED;
	if (!strcmp(verb, "install") && argc >= 4 && (argc - 2) % 2 == 0) {
		/* A whole policy from files: no longer one person's act. */
		fprintf(e->err, _("custctl: refused: a policy change is the information management "
				"group's act (R2.1): custctl policy propose DIR --reason TEXT, then "
				"the group's leader approves it and technical installs it (custctl "
				"policy install ID)\n"));
		return EXIT_REFUSED;
	}
	if (!strcmp(verb, "propose")) {
		/* policy propose --reason TEXT NAME TEXT [NAME TEXT]... (custctl read the
		 * files as the caller) */
		if (!cmd_may(e, PROC_POLICY, N_("proposing policy changes")))
			return EXIT_REFUSED;
		if (argc == 6 && !strcmp(argv[2], "--version") && !strcmp(argv[4], "--reason")) {
			/* Going back: an earlier version's files, proposed anew. */
			struct proposal old;
			int64_t vid = cmd_parse_id(argv[3]);
			if (!vid || proposal_get(e->v->db, vid, true, &old) != 0) {
				fprintf(e->err, _("custctl: no policy version #%s\n"), text_inert(argv[3]));
				return EXIT_REFUSED;
			}
			int rc = propose(e, argv[5], (int)old.nfiles, old.name, old.text);
			proposal_clear(&old);
			return rc;
		}
		if (argc < 6 || strcmp(argv[2], "--reason") || (argc - 4) % 2)
			goto usage;
		int n = (argc - 4) / 2;
		char *name[PROPOSAL_FILES + 1], *text[PROPOSAL_FILES + 1];
		for (int i = 0; i < n && i <= PROPOSAL_FILES; i++) {
			name[i] = argv[4 + 2 * i];
			text[i] = argv[5 + 2 * i];
		}
		return propose(e, argv[3], n, name, text);
	}
	bool json = argc > 2 && !strcmp(argv[argc - 1], "--json");
	if (!strcmp(verb, "proposals") || !strcmp(verb, "history")) {
		struct list_ctx l = { e, s, json, verb[0] == 'h' };
		return proposal_list(e->v->db, print_one, &l) ? EXIT_REFUSED : EXIT_OK;
	}
	if (argc < 3)
		goto usage;
	struct proposal p;
	int64_t id = cmd_parse_id(argv[2]);
	if (!id || proposal_get(e->v->db, id, true, &p) != 0) {
		fprintf(e->err, _("custctl: no policy proposal #%s\n"), text_inert(argv[2]));
		return EXIT_REFUSED;
	}
	int rc = EXIT_REFUSED, err = 0;
	if (!strcmp(verb, "show")) {
		for (size_t i = 0; i < p.nfiles; i++) {
			fprintf(e->out, "==> %s <==\n", p.name[i]);
			/* line by line, inert (a stored file from before the checks) */
			for (char *line = p.text[i], *nl; *line; line = nl ? nl + 1 : line + strlen(line)) {
				nl = strchr(line, '\n');
				if (nl)
					*nl = '\0';
				fprintf(e->out, "%s\n", text_inert(line));
				if (!nl)
					break;
			}
		}
		rc = EXIT_OK;
	} else if (!strcmp(verb, "diff")) {
		struct policy *next = NULL;
		if (!json)
			fprintf(e->out, _("policy proposal #%lld (%s): %s\n"), (long long)id,
				_(proposal_status_name(p.status)), text_inert(p.reason));
		int added, removed, lost;
		struct sink k = { e->out, json, 0, 0 };
		if (json) {
			fprintf(e->out, "{\"proposal\":%lld,\"status\":\"%s\",\"hash\":\"%s\","
					"\"statements\":[", (long long)id,
				proposal_status_name(p.status), p.hash);
		}
		diff_statements(e, &p, &k, &added, &removed);
		if (parse_files(p.name, p.text, p.nfiles, e->err, &next) == 0) {
			if (json)
				fprintf(e->out, "],\"people\":[");
			else
				fprintf(e->out, _("who gains or loses what (today's register and grants):\n"));
			k.n = 0;
			int gains = diff_people(e, s, next, &k, &lost);
			if (json)
				fprintf(e->out, "],\"gains\":%d,\"losses\":%d,\"rules_to_review\":%d}\n",
					gains, lost, k.review);
			else if (k.review)
				fprintf(e->out, _("  and %d rule%s of powers or bounds to weigh (marked "
						"WIDENS? above)\n"), k.review, k.review == 1 ? "" : "s");
			policy_free(next);
			rc = EXIT_OK;
		}
	} else if (!strcmp(verb, "replay")) {
		const char *from = NULL, *to = NULL;
		for (int i = 3; i + 1 < argc; i++) {
			if (!strcmp(argv[i], "--from"))
				from = argv[++i];
			else if (!strcmp(argv[i], "--to"))
				to = argv[++i];
		}
		if (!e->root && !in_procedure(e, PROC_POLICY) && !in_procedure(e, PROC_APPROVE) &&
		    !(e->me && strcmp(e->me->group_role, "none"))) {
			fprintf(e->err, _("custctl: refused: a replay reads the whole audit log: for "
					"technical, administration and the information group\n"));
		} else {
			rc = replay(e, &p, from, to, json);
		}
	} else if (!strcmp(verb, "withdraw")) {
		if (!e->me || e->me->id != p.filed_by) {
			fprintf(e->err, _("custctl: refused: only who proposed it withdraws it\n"));
		} else {
			err = p.status == PROP_FILED || p.status == PROP_APPROVED
				      ? db_begin(e->v->db, true) : ESTALE;
			if (!err)
				err = proposal_step(e->v->db, id, p.status, PROP_WITHDRAWN, e->me->id);
			if (!cmd_finish(e, err, N_("withdraw the proposal"), false)) {
				record_step(e, s, "policy-withdraw", &p, NULL);
				fprintf(e->out, _("policy proposal #%lld withdrawn\n"), (long long)id);
				rc = EXIT_OK;
			}
		}
	} else if (!strcmp(verb, "approve") || !strcmp(verb, "reject")) {
		bool approve = verb[0] == 'a';
		const char *note = argc >= 5 && (!strcmp(argv[3], "--note") ||
						 !strcmp(argv[3], "--reason")) ? argv[4] : NULL;
		if (!approve && (!note || !note[0])) {
			fprintf(e->err, _("custctl: a rejection states its reason (--reason TEXT)\n"));
			proposal_clear(&p);
			return EXIT_USAGE;
		}
		if (note && !cmd_text_ok(e, N_("the note"), note, WF_TEXT, false)) {
			proposal_clear(&p);
			return EXIT_USAGE;
		}
		if (!group_leader(e->me)) {
			fprintf(e->err, _("custctl: refused: the information management group's leader "
					"approves policy changes (R2.1)\n"));
		} else if (e->me->id == p.filed_by) {
			fprintf(e->err, _("custctl: refused: who proposed it does not approve it\n"));
		} else {
			err = p.status == PROP_FILED ? db_begin(e->v->db, true) : ESTALE;
			if (!err)
				err = proposal_step(e->v->db, id, PROP_FILED,
						    approve ? PROP_APPROVED : PROP_REJECTED, e->me->id);
			if (!cmd_finish(e, err, approve ? N_("approve the proposal") : N_("reject it"), false)) {
				record_step(e, s, approve ? "policy-approve" : "policy-reject", &p, note);
				if (approve)
					fprintf(e->out, _("policy proposal #%lld approved by %s. Next: "
							"technical installs it (custctl policy install "
							"%lld)\n"), (long long)id, e->me->login, (long long)id);
				else
					fprintf(e->out, _("policy proposal #%lld rejected\n"), (long long)id);
				rc = EXIT_OK;
			}
		}
	} else if (!strcmp(verb, "install")) {
		if (!cmd_may(e, PROC_POLICY, N_("installing policy changes"))) {
			/* said */
		} else if (p.status != PROP_APPROVED) {
			fprintf(e->err, _("custctl: refused: proposal #%lld is %s; only approved ones are "
					"installed\n"), (long long)id, _(proposal_status_name(p.status)));
		} else if (!e->install_policy) {
			fprintf(e->err, _("custctl: policies are installed through a mount\n"));
		} else {
			/* What it changes, against the policy it replaces: kept with it. */
			char sum[400];
			summary(e, s, &p, sum, sizeof sum);
			/* The step first (a withdrawal racing the install then finds it
			 * taken), the files after; undone if the mounts refuse them. */
			err = db_begin(e->v->db, true);
			if (!err)
				err = proposal_step(e->v->db, id, PROP_APPROVED, PROP_INSTALLED,
						    e->me ? e->me->id : 0);
			if (!err)
				err = proposal_set_summary(e->v->db, id, sum);
			if (cmd_finish(e, err, N_("install the proposal"), false))
				goto installed_not;
			/* EAGAIN: installed, but not every mount confirmed its reload. */
			int inst = e->install_policy(e->ctx, (int)p.nfiles, p.name, p.text, e->err);
			if (inst != 0 && inst != EAGAIN) {
				if (db_begin(e->v->db, true) == 0) {
					if (proposal_step(e->v->db, id, PROP_INSTALLED, PROP_APPROVED, 0))
						db_rollback(e->v->db);
					else
						db_commit(e->v->db);
				}
				goto installed_not;
			}
			{
				cmd_record_act(e, "policy-install", 0, "policy", sum);
				if (inst == EAGAIN) {
					fprintf(e->err, _("custctl: policy installed (proposal #%lld), but "
							"not every mount confirmed it (see above): those "
							"keep their old policy\n"), (long long)id);
				} else {
					fprintf(e->out, _("policy installed (proposal #%lld, %.12s) and in "
							"force on every mount of the store\n"),
						(long long)id, p.hash);
					rc = EXIT_OK;
				}
			}
		}
installed_not:;
	} else {
		proposal_clear(&p);
		goto usage;
	}
	proposal_clear(&p);
	return rc;
usage:
	fprintf(e->err,
		_("usage: custctl policy propose DIR --reason TEXT      (technical)\n"
		"       custctl policy propose --version ID --reason TEXT   (going back to ID)\n"
		"       custctl policy proposals | history [--json]\n"
		"       custctl policy show ID | diff ID | replay ID [--from DATE] [--to DATE] [--json]\n"
		"       custctl policy approve ID [--note TEXT] | reject ID --reason TEXT\n"
		"                                                     (the group's leader)\n"
		"       custctl policy install ID                     (technical)\n"
		"       custctl policy withdraw ID                    (who proposed it)\n"));
	return EXIT_USAGE;
}
