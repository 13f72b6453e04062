/* app, appeal, report, policy install: the regulation's procedures.
 *
 * R3.1/R3.3: a department head files an application for someone of their own
 * department; the approve procedure's department (administration) approves or
 * rejects it with a reason; the implement procedure's department (technical)
 * implements an approved one, which creates the grant or replaces the one a
 * change application names. Head, approver and implementer are three
 * different people, and nobody takes a step on an application for themself.
 * R4.2: appeals go from the employee to their head to administration.
 * R4.4, R5.2: anyone reports a hazard or violation; administration resolves. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "names.h"
#include "workflow.h"

int cmd_check_grant(struct cmd_env *e, const struct employee *x, const char *rolename,
		    const char *customers, const char *until, struct grant *g);
void cmd_note_ceiling(struct cmd_env *e, const struct employee *x, const char *rolename);

static bool text_ok(struct cmd_env *e, const char *what, const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= WF_TEXT || !utf8_valid(s, n)) {
		fprintf(e->err, "custctl: %s must be UTF-8 text of 1 to %d bytes\n", what, WF_TEXT - 1);
		return false;
	}
	return true;
}

static const char *login_of(const struct staff *s, int64_t id)
{
	const struct employee *x = cmd_employee_by_id(s, id);
	return x ? x->login : id ? "?" : "-";
}

static bool on_register(struct cmd_env *e)
{
	if (e->root) {
		fprintf(e->err, "custctl: refused: root takes no step of the procedures (R3.1); as "
				"root, use the break-glass grant (custctl grant add STORE ...)\n");
		return false;
	}
	if (!e->me || e->me->departed) {
		fprintf(e->err, "custctl: refused: uid %u is not on the staff register\n",
			(unsigned)e->uid);
		return false;
	}
	return true;
}

static bool in_procedure(struct cmd_env *e, enum procedure pr)
{
	const struct department *d = e->pol->procedure[pr];
	return e->me && d && strcmp(e->me->department, d->name) == 0;
}

/* ---- applications ---- */

struct app_print {
	struct cmd_env *e;
	const struct staff *s;
	bool json;
	bool all;
	int n;
};

static bool may_see_app(struct cmd_env *e, const struct staff *s, const struct application *a)
{
	const struct employee *who = cmd_employee_by_id(s, a->employee_id);
	if (in_procedure(e, PROC_APPROVE) || in_procedure(e, PROC_IMPLEMENT))
		return true;
	if (e->me && (e->me->id == a->employee_id || e->me->id == a->filed_by))
		return true;
	return e->me && who && e->me->is_head && !strcmp(e->me->department, who->department);
}

static int print_app(void *ctx, const struct application *a)
{
	struct app_print *ap = ctx;
	struct cmd_env *e = ap->e;
	char filed[32];
	if (!may_see_app(e, ap->s, a))
		return 0;
	cmd_time(a->filed_ns, filed);
	if (ap->json) {
		fprintf(e->out, "{\"id\":%lld,\"for\":", (long long)a->id);
		cmd_json_str(e->out, login_of(ap->s, a->employee_id));
		fprintf(e->out, ",\"role\":");
		cmd_json_str(e->out, a->role);
		fprintf(e->out, ",\"status\":\"%s\",\"filed_by\":", app_status_name(a->status));
		cmd_json_str(e->out, login_of(ap->s, a->filed_by));
		fprintf(e->out, ",\"approved_by\":");
		cmd_json_str(e->out, login_of(ap->s, a->approved_by));
		fprintf(e->out, ",\"implemented_by\":");
		cmd_json_str(e->out, login_of(ap->s, a->implemented_by));
		fprintf(e->out, ",\"replaces\":%lld,\"grant\":%lld,\"until\":", (long long)a->replaces,
			(long long)a->grant_id);
		cmd_json_str(e->out, a->end_date);
		fprintf(e->out, ",\"reason\":");
		cmd_json_str(e->out, a->reason);
		fprintf(e->out, ",\"note\":");
		cmd_json_str(e->out, a->decision_note);
		fprintf(e->out, "}\n");
	} else {
		fprintf(e->out, "%5lld  %-12s %-16s %-16s %-19s by %-12s %s%s\n", (long long)a->id,
			app_status_name(a->status), login_of(ap->s, a->employee_id), a->role, filed,
			login_of(ap->s, a->filed_by), a->replaces ? "replaces #" : "",
			a->replaces ? "" : a->reason);
		if (a->replaces)
			fprintf(e->out, "       replaces grant #%lld: %s\n", (long long)a->replaces,
				a->reason);
	}
	ap->n++;
	return 0;
}

static void show_app(struct cmd_env *e, const struct staff *s, const struct application *a)
{
	char t1[32], t2[32], t3[32], scope[1024] = "all customers", replaces[32] = "-";
	if (a->replaces)
		snprintf(replaces, sizeof replaces, "grant #%lld", (long long)a->replaces);
	cmd_time(a->filed_ns, t1);
	cmd_time(a->decided_ns, t2);
	cmd_time(a->implemented_ns, t3);
	if (a->scoped) {
		size_t len = 0;
		scope[0] = '\0';
		for (size_t i = 0; i < a->ncustomers && len + 64 < sizeof scope; i++) {
			struct customer c;
			if (vault_customer_get(e->v, a->customers[i], &c) != 0)
				snprintf(c.name, sizeof c.name, "#%lld", (long long)a->customers[i]);
			len += (size_t)snprintf(scope + len, sizeof scope - len, "%s%s", i ? "," : "",
						c.name);
		}
	}
	fprintf(e->out,
		"application #%lld (%s)\n"
		"  for:         %s\n  role:        %s\n  customers:   %s\n  until:       %s\n"
		"  replaces:    %s\n  reason:      %s\n"
		"  filed:       %s by %s\n  decided:     %s by %s%s%s\n"
		"  implemented: %s by %s (grant #%lld)\n",
		(long long)a->id, app_status_name(a->status), login_of(s, a->employee_id), a->role,
		scope, a->end_date[0] ? a->end_date : "-", replaces, a->reason, t1, login_of(s, a->filed_by), t2,
		login_of(s, a->approved_by), a->decision_note[0] ? ": " : "", a->decision_note, t3,
		login_of(s, a->implemented_by), (long long)a->grant_id);
}

static int app_new(struct cmd_env *e, const struct staff *s, const char *login,
		   const char *rolename, const char *customers, const char *until,
		   const char *replaces, const char *reason)
{
	const struct employee *x = staff_by_login(s, login);
	struct application a;
	struct grant g;
	int64_t id = 0;

	memset(&a, 0, sizeof a);
	memset(&g, 0, sizeof g);
	if (!x) {
		fprintf(e->err, "custctl: %s is not on the staff register\n", login);
		return CMD_REFUSED;
	}
	if (x->id == e->me->id) {
		fprintf(e->err, "custctl: refused: nobody files an application for themself (R3.1)\n");
		return CMD_REFUSED;
	}
	if (!e->me->is_head || strcmp(e->me->department, x->department) != 0) {
		fprintf(e->err, "custctl: refused: applications for %s are filed by the head of "
				"department %s (R3.1)\n", x->login, x->department);
		return CMD_REFUSED;
	}
	if (!reason || !text_ok(e, "--reason", reason)) {
		fprintf(e->err, "custctl: an application states its reason (--reason TEXT, R3.1)\n");
		return CMD_USAGE;
	}
	int rc = cmd_check_grant(e, x, rolename, customers, until, &g);
	if (rc) {
		free(g.customers);
		return rc;
	}
	if (replaces) {
		a.replaces = cmd_parse_id(replaces);
		bool found = false;
		for (size_t i = 0; i < x->ngrants; i++)
			found |= x->grants[i].id == a.replaces;
		if (!found) {
			fprintf(e->err, "custctl: %s holds no active grant #%s to replace\n", x->login,
				replaces);
			free(g.customers);
			return CMD_REFUSED;
		}
	}
	a.employee_id = x->id;
	snprintf(a.role, sizeof a.role, "%s", g.role);
	a.scoped = g.scoped;
	a.customers = g.customers;
	a.ncustomers = g.ncustomers;
	snprintf(a.end_date, sizeof a.end_date, "%s", g.end_date);
	snprintf(a.reason, sizeof a.reason, "%s", reason);
	a.filed_by = e->me->id;
	int err = store_begin(e->v->st, true);
	if (!err)
		err = wf_app_add(e->v->st, &a, &id);
	free(g.customers);
	if (cmd_finish(e, err, "file the application", false))
		return CMD_REFUSED;
	fprintf(e->out, "application #%lld filed: %s for role %s%s. Next: administration approves "
			"or rejects it (custctl app approve %lld)\n", (long long)id, x->login, a.role,
		a.replaces ? " (a change)" : "", (long long)id);
	return CMD_OK;
}

static int app_decide(struct cmd_env *e, const struct staff *s, struct application *a,
		      bool approve, const char *note)
{
	if (!cmd_may(e, PROC_APPROVE, approve ? "approving applications" : "rejecting applications"))
		return CMD_REFUSED;
	if (e->me->id == a->employee_id || e->me->id == a->filed_by) {
		fprintf(e->err, "custctl: refused: the approver is neither the person it is for nor "
				"the head who filed it (R3.1)\n");
		return CMD_REFUSED;
	}
	if (a->status != APP_FILED) {
		fprintf(e->err, "custctl: refused: application #%lld is %s, not waiting for a "
				"decision\n", (long long)a->id, app_status_name(a->status));
		return CMD_REFUSED;
	}
	if (!approve && (!note || !text_ok(e, "--reason", note))) {
		fprintf(e->err, "custctl: a rejection states its reason (--reason TEXT)\n");
		return CMD_USAGE;
	}
	if (note && approve && !text_ok(e, "--note", note))
		return CMD_USAGE;
	int err = store_begin(e->v->st, true);
	if (!err)
		err = wf_app_step(e->v->st, a->id, APP_FILED, approve ? APP_APPROVED : APP_REJECTED,
				  e->me->id, note, 0);
	if (cmd_finish(e, err, approve ? "approve" : "reject", false))
		return CMD_REFUSED;
	fprintf(e->out, "application #%lld %s by %s%s\n", (long long)a->id,
		approve ? "approved" : "rejected", e->me->login,
		approve ? ". Next: technical implements it (custctl app implement)" : "");
	(void)s;
	return CMD_OK;
}

static int app_implement(struct cmd_env *e, const struct staff *s, struct application *a)
{
	if (!cmd_may(e, PROC_IMPLEMENT, "implementing applications"))
		return CMD_REFUSED;
	if (e->me->id == a->employee_id || e->me->id == a->filed_by || e->me->id == a->approved_by) {
		fprintf(e->err, "custctl: refused: the implementer is not the person it is for, nor "
				"the head who filed it, nor the one who approved it (R3.1)\n");
		return CMD_REFUSED;
	}
	if (a->status != APP_APPROVED) {
		fprintf(e->err, "custctl: refused: application #%lld is %s; only approved ones are "
				"implemented\n", (long long)a->id, app_status_name(a->status));
		return CMD_REFUSED;
	}
	const struct employee *x = cmd_employee_by_id(s, a->employee_id);
	struct grant g;
	int64_t gid = 0;
	memset(&g, 0, sizeof g);
	if (!x) {
		fprintf(e->err, "custctl: the application's employee is gone from the register\n");
		return CMD_REFUSED;
	}
	/* Check again: the person may have changed department since (R3.2). */
	int rc = cmd_check_grant(e, x, a->role, NULL, a->end_date[0] ? a->end_date : NULL, &g);
	if (rc)
		return rc;
	g.scoped = a->scoped;
	g.customers = a->customers;
	g.ncustomers = a->ncustomers;
	g.application_id = a->id;
	snprintf(g.note, sizeof g.note, "application #%lld", (long long)a->id);
	int err = store_begin(e->v->st, true);
	if (!err && a->replaces)
		err = staff_grant_end(e->v->st, a->replaces, GRANT_REVOKED, e->uid);
	if (err == ENOENT)
		err = ESTALE;
	if (!err)
		err = staff_grant_add(e->v->st, x->id, &g, e->uid, &gid);
	if (!err)
		err = wf_app_step(e->v->st, a->id, APP_APPROVED, APP_IMPLEMENTED, e->me->id, NULL, gid);
	if (cmd_finish(e, err, "implement the application", true))
		return CMD_REFUSED;
	fprintf(e->out, "application #%lld implemented: grant #%lld gives %s role %s\n",
		(long long)a->id, (long long)gid, x->login, a->role);
	if (a->replaces)
		fprintf(e->out, "grant #%lld ended: replaced by grant #%lld (R3.3)\n",
			(long long)a->replaces, (long long)gid);
	cmd_note_ceiling(e, x, a->role);
	return CMD_OK;
}

int cmd_app(struct cmd_env *e, int argc, char **argv)
{
	const char *customers = NULL, *until = NULL, *reason = NULL, *note = NULL, *replaces = NULL;
	bool json = false;
	const struct cmd_opt opts[] = {
		{ "customers", true, &customers, NULL }, { "until", true, &until, NULL },
		{ "reason", true, &reason, NULL },       { "note", true, &note, NULL },
		{ "replaces", true, &replaces, NULL },   { "json", false, NULL, &json },
		{ NULL, false, NULL, NULL },
	};
	char *pos[3];
	int npos;
	if (cmd_parse(e, argc, argv, opts, pos, 3, &npos) || npos < 1)
		goto usage;
	const char *verb = pos[0];
	const struct staff *s = cmd_register(e);
	if (!s || !on_register(e))
		return CMD_REFUSED;
	if (!strcmp(verb, "new") && npos == 3)
		return app_new(e, s, pos[1], pos[2], customers, until, replaces, reason);
	if (!strcmp(verb, "list") && npos == 1) {
		struct app_print ap = { e, s, json, true, 0 };
		if (!json)
			fprintf(e->out, "%5s  %-12s %-16s %-16s %-19s    %-12s %s\n", "ID", "STATUS",
				"FOR", "ROLE", "FILED", "BY", "REASON");
		return wf_app_list(e->v->st, print_app, &ap) ? CMD_REFUSED : CMD_OK;
	}
	if (npos != 2)
		goto usage;
	struct application a;
	int64_t id = cmd_parse_id(pos[1]);
	if (!id || wf_app_get(e->v->st, id, &a) != 0) {
		fprintf(e->err, "custctl: no application #%s\n", pos[1]);
		return CMD_REFUSED;
	}
	int rc = CMD_USAGE;
	if (!may_see_app(e, s, &a)) {
		fprintf(e->err, "custctl: refused: application #%lld is not yours to see\n",
			(long long)id);
		rc = CMD_REFUSED;
	} else if (!strcmp(verb, "show")) {
		if (json) {
			struct app_print ap = { e, s, true, true, 0 };
			print_app(&ap, &a);
		} else {
			show_app(e, s, &a);
		}
		rc = CMD_OK;
	} else if (!strcmp(verb, "approve")) {
		rc = app_decide(e, s, &a, true, note ? note : reason);
	} else if (!strcmp(verb, "reject")) {
		rc = app_decide(e, s, &a, false, reason ? reason : note);
	} else if (!strcmp(verb, "implement")) {
		rc = app_implement(e, s, &a);
	} else if (!strcmp(verb, "withdraw")) {
		if (e->me->id != a.filed_by) {
			fprintf(e->err, "custctl: refused: only the head who filed it withdraws it\n");
			rc = CMD_REFUSED;
		} else {
			enum app_status from = a.status;
			int err = from == APP_FILED || from == APP_APPROVED
					  ? store_begin(e->v->st, true) : ESTALE;
			if (!err)
				err = wf_app_step(e->v->st, id, from, APP_WITHDRAWN, e->me->id, note, 0);
			rc = cmd_finish(e, err, "withdraw", false);
			if (!rc)
				fprintf(e->out, "application #%lld withdrawn\n", (long long)id);
		}
	}
	wf_app_clear(&a);
	if (rc != CMD_USAGE)
		return rc;
usage:
	fprintf(e->err,
		"usage: custctl app new LOGIN ROLE --reason TEXT [--customers C1,C2] "
		"[--until YYYY-MM-DD]\n"
		"                       [--replaces GRANT_ID]      (a head, for their department)\n"
		"       custctl app list [--json]\n"
		"       custctl app show ID [--json]\n"
		"       custctl app approve ID [--note TEXT]       (administration)\n"
		"       custctl app reject ID --reason TEXT        (administration)\n"
		"       custctl app implement ID                   (technical)\n"
		"       custctl app withdraw ID                    (the head who filed it)\n");
	return CMD_USAGE;
}

/* ---- appeals and reports ---- */

struct case_print {
	struct cmd_env *e;
	const struct staff *s;
	bool json;
};

static bool may_see_case(struct cmd_env *e, const struct staff *s, const struct wf_case *c)
{
	const struct employee *who = cmd_employee_by_id(s, c->filed_by);
	if (in_procedure(e, PROC_APPROVE) || (e->me && e->me->id == c->filed_by))
		return true;
	return c->is_appeal && e->me && who && e->me->is_head &&
	       !strcmp(e->me->department, who->department);
}

static int print_case(void *ctx, const struct wf_case *c)
{
	struct case_print *cp = ctx;
	FILE *o = cp->e->out;
	char t[32];
	if (!may_see_case(cp->e, cp->s, c))
		return 0;
	cmd_time(c->filed_ns, t);
	if (cp->json) {
		fprintf(o, "{\"id\":%lld,\"kind\":\"%s\",\"status\":\"%s\",\"by\":", (long long)c->id,
			c->is_appeal ? "appeal" : "report", case_status_name(c->status));
		cmd_json_str(o, login_of(cp->s, c->filed_by));
		fprintf(o, ",\"text\":");
		cmd_json_str(o, c->text);
		fprintf(o, ",\"cite\":");
		cmd_json_str(o, c->cite);
		fprintf(o, ",\"head\":");
		cmd_json_str(o, login_of(cp->s, c->head_by));
		fprintf(o, ",\"head_note\":");
		cmd_json_str(o, c->head_note);
		fprintf(o, ",\"resolved_by\":");
		cmd_json_str(o, login_of(cp->s, c->resolved_by));
		fprintf(o, ",\"resolution\":");
		cmd_json_str(o, c->resolution);
		fprintf(o, "}\n");
	} else {
		fprintf(o, "%5lld  %-10s %-12s %-19s %s%s%s\n", (long long)c->id,
			case_status_name(c->status), login_of(cp->s, c->filed_by), t, c->text,
			c->cite[0] ? "  [cites " : "", c->cite[0] ? c->cite : "");
		if (c->head_note[0])
			fprintf(o, "       head %s: %s\n", login_of(cp->s, c->head_by), c->head_note);
		if (c->resolution[0])
			fprintf(o, "       resolved by %s: %s\n", login_of(cp->s, c->resolved_by),
				c->resolution);
	}
	return 0;
}

static int cmd_case(struct cmd_env *e, int argc, char **argv, bool appeal)
{
	const char *cite = NULL, *note = NULL;
	bool json = false;
	const struct cmd_opt opts[] = {
		{ "cite", true, &cite, NULL }, { "note", true, &note, NULL },
		{ "json", false, NULL, &json }, { NULL, false, NULL, NULL },
	};
	const char *kind = appeal ? "appeal" : "report";
	char *pos[3];
	int npos;
	if (cmd_parse(e, argc, argv, opts, pos, 3, &npos) || npos < 1)
		goto usage;
	const struct staff *s = cmd_register(e);
	if (!s || !on_register(e))
		return CMD_REFUSED;
	const char *verb = pos[0];
	if (!strcmp(verb, "new") && npos == 2) {
		struct wf_case c;
		int64_t id = 0;
		memset(&c, 0, sizeof c);
		if (!text_ok(e, "the text", pos[1]) || (cite && !text_ok(e, "--cite", cite)))
			return CMD_USAGE;
		c.is_appeal = appeal;
		c.filed_by = e->me->id;
		snprintf(c.text, sizeof c.text, "%s", pos[1]);
		snprintf(c.cite, sizeof c.cite, "%s", appeal && cite ? cite : "");
		int err = store_begin(e->v->st, true);
		if (!err)
			err = wf_case_add(e->v->st, &c, &id);
		if (cmd_finish(e, err, "file it", false))
			return CMD_REFUSED;
		if (appeal)
			fprintf(e->out, "appeal #%lld filed (R4.2): the head of %s takes it up with "
					"administration\n", (long long)id, e->me->department);
		else
			fprintf(e->out, "report #%lld filed with administration (R4.4, R5.2)\n",
				(long long)id);
		return CMD_OK;
	}
	if (!strcmp(verb, "list") && npos == 1) {
		struct case_print cp = { e, s, json };
		return wf_case_list(e->v->st, appeal, print_case, &cp) ? CMD_REFUSED : CMD_OK;
	}
	if (npos != 2)
		goto usage;
	struct wf_case c;
	int64_t id = cmd_parse_id(pos[1]);
	if (!id || wf_case_get(e->v->st, appeal, id, &c) != 0) {
		fprintf(e->err, "custctl: no %s #%s\n", kind, pos[1]);
		return CMD_REFUSED;
	}
	if (!may_see_case(e, s, &c)) {
		fprintf(e->err, "custctl: refused: %s #%lld is not yours to see\n", kind, (long long)id);
		return CMD_REFUSED;
	}
	if (!strcmp(verb, "show")) {
		struct case_print cp = { e, s, json };
		print_case(&cp, &c);
		return CMD_OK;
	}
	if (appeal && (!strcmp(verb, "forward") || !strcmp(verb, "answer"))) {
		const struct employee *who = cmd_employee_by_id(s, c.filed_by);
		bool answer = verb[0] == 'a';
		if (!who || !e->me->is_head || strcmp(e->me->department, who->department) ||
		    e->me->id == who->id) {
			fprintf(e->err, "custctl: refused: the appellant's department head %ss an "
					"appeal (R4.2)\n", verb);
			return CMD_REFUSED;
		}
		if (answer && (!note || !text_ok(e, "--note", note)))
			return CMD_USAGE;
		if (note && !text_ok(e, "--note", note))
			return CMD_USAGE;
		int err = store_begin(e->v->st, true);
		if (!err)
			err = wf_case_head_step(e->v->st, id, answer ? CASE_ANSWERED : CASE_FORWARDED,
						e->me->id, note);
		if (cmd_finish(e, err, verb, false))
			return CMD_REFUSED;
		fprintf(e->out, "appeal #%lld %s%s\n", (long long)id,
			answer ? "answered" : "forwarded to administration",
			answer ? "; administration closes it" : "");
		return CMD_OK;
	}
	if (!strcmp(verb, "resolve")) {
		if (!cmd_may(e, PROC_APPROVE, "resolving appeals and reports"))
			return CMD_REFUSED;
		if (e->me->id == c.filed_by) {
			fprintf(e->err, "custctl: refused: nobody resolves their own %s\n", kind);
			return CMD_REFUSED;
		}
		if (!note || !text_ok(e, "--note", note)) {
			fprintf(e->err, "custctl: a resolution says what was done (--note TEXT)\n");
			return CMD_USAGE;
		}
		int err = store_begin(e->v->st, true);
		if (!err)
			err = wf_case_resolve(e->v->st, appeal, id, e->me->id, note);
		if (cmd_finish(e, err, "resolve it", false))
			return CMD_REFUSED;
		fprintf(e->out, "%s #%lld resolved\n", kind, (long long)id);
		return CMD_OK;
	}
usage:
	if (appeal)
		fprintf(e->err,
			"usage: custctl appeal new TEXT [--cite CUSTOMER/FIELD]   (anyone, R4.2)\n"
			"       custctl appeal list|show ID [--json]\n"
			"       custctl appeal forward ID [--note TEXT]      (your department head)\n"
			"       custctl appeal answer ID --note TEXT         (your department head)\n"
			"       custctl appeal resolve ID --note TEXT        (administration)\n");
	else
		fprintf(e->err,
			"usage: custctl report new TEXT                      (anyone, R4.4, R5.2)\n"
			"       custctl report list|show ID [--json]\n"
			"       custctl report resolve ID --note TEXT        (administration)\n");
	return CMD_USAGE;
}

int cmd_appeal(struct cmd_env *e, int argc, char **argv)
{
	return cmd_case(e, argc, argv, true);
}

int cmd_report(struct cmd_env *e, int argc, char **argv)
{
	return cmd_case(e, argc, argv, false);
}

/* ---- policy changes (R2.1) ---- */

int cmd_policy(struct cmd_env *e, int argc, char **argv)
{
	/* policy install NAME TEXT [NAME TEXT]...: custctl read the files as the
	 * caller and sends their text, so custfs never opens a path it was given. */
	if (argc < 4 || (argc - 2) % 2 != 0 || strcmp(argv[1], "install") != 0 || !e->install_policy) {
		fprintf(e->err, "usage: custctl policy install DIR     (technical, for the "
				"information management group)\n");
		return CMD_USAGE;
	}
	if (!cmd_may(e, PROC_POLICY, "installing policy changes"))
		return CMD_REFUSED;
	int n = (argc - 2) / 2;
	char *names[8], *texts[8];
	if (n > 8) {
		fprintf(e->err, "custctl: a policy has at most 8 files\n");
		return CMD_USAGE;
	}
	for (int i = 0; i < n; i++) {
		names[i] = argv[2 + 2 * i];
		texts[i] = argv[3 + 2 * i];
		if (!name_ok(names[i], false) || !strstr(names[i], ".conf")) {
			fprintf(e->err, "custctl: '%s' is not a policy file name\n", names[i]);
			return CMD_USAGE;
		}
	}
	if (e->install_policy(e->ctx, n, names, texts, e->err) != 0)
		return CMD_REFUSED;
	fprintf(e->out, "policy installed by %s and in force on every mount of the store\n",
		e->me ? e->me->login : "root");
	return CMD_OK;
}
