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
#include "text.h"


/* A text of the procedures: one line (an appeal or a report may have several). */
static bool text_ok(struct cmd_env *e, const char *what, const char *s, bool multiline)
{
	if (!s[0]) {
		fprintf(e->err, _("custctl: %s is empty\n"), _(what));
		return false;
	}
	return cmd_text_ok(e, what, s, WF_TEXT, multiline);
}

static const char *login_of(const struct staff *s, int64_t id)
{
	const struct employee *x = cmd_employee_by_id(s, id);
	return x ? x->login : id ? "?" : "-";
}

static bool on_register(struct cmd_env *e)
{
	if (e->root) {
		fprintf(e->err, _("custctl: refused: root takes no step of the procedures (R3.1); as "
				"root, use the break-glass grant (custctl grant add STORE ...)\n"));
		return false;
	}
	if (!e->me || e->me->departed) {
		fprintf(e->err, _("custctl: refused: uid %u is not on the staff register\n"),
			(unsigned)e->uid);
		return false;
	}
	return true;
}

bool in_procedure(struct cmd_env *e, enum procedure pr)
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
	bool pending; /* only those waiting for the actor's step */
};

bool group_leader(const struct employee *x)
{
	return x && !x->departed && !strcmp(x->group_role, "leader");
}

/* Who files an application for X (R3.1): X's head; for a head, the head of
 * the file-for-heads department, or the information group's leader. */
static bool may_file_for(struct cmd_env *e, const struct employee *x)
{
	if (!x->is_head)
		return e->me->is_head && !strcmp(e->me->department, x->department);
	const struct department *d = e->pol->procedure[PROC_FILE_FOR_HEADS];
	return group_leader(e->me) ||
	       (d && e->me->is_head && !strcmp(e->me->department, d->name));
}

/* Whether someone in the approving department is independent of A (neither
 * its subject nor who filed it): if not, the group's leader approves. */
bool independent_approver(struct cmd_env *e, const struct staff *s,
				 const struct application *a)
{
	const struct department *d = e->pol->procedure[PROC_APPROVE];
	for (size_t i = 0; d && i < s->n; i++) {
		const struct employee *x = &s->emps[i];
		if (!x->departed && !x->identity_changed && !strcmp(x->department, d->name) &&
		    x->id != a->employee_id && x->id != a->filed_by)
			return true;
	}
	return false;
}

static bool may_see_app(struct cmd_env *e, const struct staff *s, const struct application *a)
{
	const struct employee *who = cmd_employee_by_id(s, a->employee_id);
	if (in_procedure(e, PROC_APPROVE) || in_procedure(e, PROC_IMPLEMENT))
		return true;
	if (group_leader(e->me) && !independent_approver(e, s, a))
		return true; /* they approve it instead (R3.1) */
	if (e->me && (e->me->id == a->employee_id || e->me->id == a->filed_by))
		return true;
	return e->me && who && e->me->is_head && !strcmp(e->me->department, who->department);
}

bool app_waits_for_me(struct cmd_env *e, const struct staff *s, const struct application *a,
		      char *next, size_t cap)
{
	if (!e->me || e->me->departed || e->me->id == a->employee_id || e->me->id == a->filed_by)
		return false;
	if (a->status == APP_FILED &&
	    (in_procedure(e, PROC_APPROVE) || (group_leader(e->me) && !independent_approver(e, s, a)))) {
		snprintf(next, cap, _("custctl app approve %lld | reject %lld --reason TEXT"),
			 (long long)a->id, (long long)a->id);
		return true;
	}
	if (a->status == APP_APPROVED && in_procedure(e, PROC_IMPLEMENT) &&
	    e->me->id != a->approved_by) {
		snprintf(next, cap, "custctl app implement %lld", (long long)a->id);
		return true;
	}
	return false;
}

static int print_app(void *ctx, const struct application *a)
{
	struct app_print *ap = ctx;
	struct cmd_env *e = ap->e;
	char filed[32], next[96];
	if (!may_see_app(e, ap->s, a))
		return 0;
	if (ap->pending && !app_waits_for_me(e, ap->s, a, next, sizeof next))
		return 0;
	cmd_time(a->filed_ns, filed);
	if (ap->json) {
		fprintf(e->out, "{\"id\":%lld,\"for\":", (long long)a->id);
		text_json(e->out, login_of(ap->s, a->employee_id));
		fprintf(e->out, ",\"role\":");
		text_json(e->out, a->role);
		fprintf(e->out, ",\"change\":");
		text_json(e->out, a->change);
		fprintf(e->out, ",\"status\":\"%s\",\"filed_by\":", app_status_name(a->status));
		text_json(e->out, login_of(ap->s, a->filed_by));
		fprintf(e->out, ",\"approved_by\":");
		text_json(e->out, login_of(ap->s, a->approved_by));
		fprintf(e->out, ",\"implemented_by\":");
		text_json(e->out, login_of(ap->s, a->implemented_by));
		fprintf(e->out, ",\"replaces\":%lld,\"grant\":%lld,\"until\":", (long long)a->replaces,
			(long long)a->grant_id);
		text_json(e->out, a->end_date);
		fprintf(e->out, ",\"reason\":");
		text_json(e->out, a->reason);
		fprintf(e->out, ",\"note\":");
		text_json(e->out, a->decision_note);
		fprintf(e->out, "}\n");
	} else {
		/* "by" and the statuses are words: padded by display width. */
		fprintf(e->out, "%5lld  %s %s %s %-19s %s %s %s\n", (long long)a->id,
			text_padded(_(app_status_name(a->status)), 12),
			text_padded(login_of(ap->s, a->employee_id), 16),
			text_padded(a->change[0] ? a->change : a->role, 16), filed,
			text_padded(_("by"), 3), text_padded(login_of(ap->s, a->filed_by), 12),
			a->replaces ? "" : text_inert(a->reason));
		if (a->replaces)
			fprintf(e->out, _("       replaces grant #%lld: %s\n"), (long long)a->replaces,
				text_inert(a->reason));
	}
	ap->n++;
	return 0;
}

static void show_app(struct cmd_env *e, const struct staff *s, const struct application *a)
{
	char t1[32], t2[32], t3[32], scope[1024], replaces[64] = "-";
	snprintf(scope, sizeof scope, "%s", _("all customers"));
	if (a->replaces)
		snprintf(replaces, sizeof replaces, _("grant #%lld"), (long long)a->replaces);
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
		_("application #%lld (%s)\n"
		"  for:         %s\n  %s        %s\n  customers:   %s\n  until:       %s\n"
		"  replaces:    %s\n  reason:      %s\n"
		"  filed:       %s by %s\n  decided:     %s by %s%s%s\n"
		"  implemented: %s by %s (grant #%lld)\n"),
		(long long)a->id, _(app_status_name(a->status)), login_of(s, a->employee_id),
		a->change[0] ? _("change:") : _("role:  "), a->change[0] ? a->change : a->role,
		text_inert(scope), a->end_date[0] ? a->end_date : "-", replaces, text_inert(a->reason),
		t1, login_of(s, a->filed_by), t2, login_of(s, a->approved_by),
		a->decision_note[0] ? ": " : "", text_inert(a->decision_note), t3,
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
		fprintf(e->err, _("custctl: %s is not on the staff register\n"), login);
		return EXIT_REFUSED;
	}
	if (x->id == e->me->id) {
		fprintf(e->err, _("custctl: refused: nobody files an application for themself (R3.1)\n"));
		return EXIT_REFUSED;
	}
	if (!may_file_for(e, x)) {
		const struct department *d = e->pol->procedure[PROC_FILE_FOR_HEADS];
		if (x->is_head)
			fprintf(e->err, _("custctl: refused: applications for a department head (%s) are "
					"filed by the head of department %s or by the information "
					"group's leader (procedure file-for-heads, R3.1)\n"), x->login,
				d ? d->name : _("(none in the policy)"));
		else
			fprintf(e->err, _("custctl: refused: applications for %s are filed by the head of "
					"department %s (R3.1)\n"), x->login, x->department);
		return EXIT_REFUSED;
	}
	if (!reason || !text_ok(e, "--reason", reason, false)) {
		fprintf(e->err, _("custctl: an application states its reason (--reason TEXT, R3.1)\n"));
		return EXIT_USAGE;
	}
	int rc = cmd_check_grant(e, x, rolename, customers, 0, until, &g);
	if (!rc)
		rc = cmd_role_reachable(e, x, rolename);
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
			fprintf(e->err, _("custctl: %s holds no active grant #%s to replace\n"), x->login,
				replaces);
			free(g.customers);
			return EXIT_REFUSED;
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
	int err = db_begin(e->v->db, true);
	if (!err)
		err = wf_app_add(e->v->db, &a, &id);
	free(g.customers);
	if (cmd_finish(e, err, N_("file the application"), false))
		return EXIT_REFUSED;
	fprintf(e->out, _("application #%lld filed: %s for role %s%s. Next: administration approves "
			"or rejects it (custctl app approve %lld)\n"), (long long)id, x->login, a.role,
		a.replaces ? _(" (a change)") : "", (long long)id);
	return EXIT_OK;
}

/* An application for a change of the register that widens access (R3.1):
 * filed, approved and implemented like one for a grant. */
static int app_change_new(struct cmd_env *e, const struct staff *s, const char *login,
			  const char *change, const char *reason)
{
	const struct employee *x = staff_by_login(s, login);
	struct employee next;
	struct application a;
	int64_t id = 0;
	if (!x) {
		fprintf(e->err, _("custctl: %s is not on the staff register\n"), login);
		return EXIT_REFUSED;
	}
	if (x->id == e->me->id) {
		fprintf(e->err, _("custctl: refused: nobody files an application for themself (R3.1)\n"));
		return EXIT_REFUSED;
	}
	if (!may_file_for(e, x)) {
		fprintf(e->err, _("custctl: refused: applications for %s are filed by %s (R3.1)\n"),
			x->login, x->is_head ? _("the file-for-heads procedure's head or the group's "
					       "leader") : _("their department head"));
		return EXIT_REFUSED;
	}
	if (!reason || !text_ok(e, "--reason", reason, false)) {
		fprintf(e->err, _("custctl: an application states its reason (--reason TEXT, R3.1)\n"));
		return EXIT_USAGE;
	}
	int rc = cmd_register_change(e, x, change, &next);
	if (rc)
		return rc;
	memset(&a, 0, sizeof a);
	a.employee_id = x->id;
	snprintf(a.change, sizeof a.change, "%s", change);
	snprintf(a.reason, sizeof a.reason, "%s", reason);
	a.filed_by = e->me->id;
	int err = db_begin(e->v->db, true);
	if (!err)
		err = wf_app_add(e->v->db, &a, &id);
	if (cmd_finish(e, err, N_("file the application"), false))
		return EXIT_REFUSED;
	fprintf(e->out, _("application #%lld filed: %s, %s. Next: administration approves or rejects "
			"it (custctl app approve %lld)\n"), (long long)id, x->login, change,
		(long long)id);
	return EXIT_OK;
}

static int app_decide(struct cmd_env *e, const struct staff *s, struct application *a,
		      bool approve, const char *note)
{
	bool fallback = !e->root && group_leader(e->me) && !independent_approver(e, s, a);
	if (!fallback &&
	    !cmd_may(e, PROC_APPROVE, approve ? N_("approving applications") : N_("rejecting applications")))
		return EXIT_REFUSED;
	if (e->me->id == a->employee_id || e->me->id == a->filed_by) {
		fprintf(e->err, _("custctl: refused: the approver is neither the person it is for nor "
				"the head who filed it (R3.1)\n"));
		return EXIT_REFUSED;
	}
	if (a->status != APP_FILED) {
		fprintf(e->err, _("custctl: refused: application #%lld is %s, not waiting for a "
				"decision\n"), (long long)a->id, _(app_status_name(a->status)));
		return EXIT_REFUSED;
	}
	if (!approve && (!note || !text_ok(e, "--reason", note, false))) {
		fprintf(e->err, _("custctl: a rejection states its reason (--reason TEXT)\n"));
		return EXIT_USAGE;
	}
	if (note && approve && !text_ok(e, "--note", note, false))
		return EXIT_USAGE;
	int err = db_begin(e->v->db, true);
	if (!err)
		err = wf_app_step(e->v->db, a->id, APP_FILED, approve ? APP_APPROVED : APP_REJECTED,
				  e->me->id, note, 0);
	if (cmd_finish(e, err, approve ? N_("approve") : N_("reject"), false))
		return EXIT_REFUSED;
	fprintf(e->out, approve ? _("application #%lld approved by %s%s\n")
				: _("application #%lld rejected by %s%s\n"), (long long)a->id, e->me->login,
		approve ? _(". Next: technical implements it (custctl app implement)") : "");
	if (fallback)
		fprintf(e->out, _("(as the information group's leader: administration has nobody "
				"independent of this application)\n"));
	return EXIT_OK;
}

static int app_implement(struct cmd_env *e, const struct staff *s, struct application *a)
{
	if (!cmd_may(e, PROC_IMPLEMENT, N_("implementing applications")))
		return EXIT_REFUSED;
	if (e->me->id == a->employee_id || e->me->id == a->filed_by || e->me->id == a->approved_by) {
		fprintf(e->err, _("custctl: refused: the implementer is not the person it is for, nor "
				"the head who filed it, nor the one who approved it (R3.1)\n"));
		return EXIT_REFUSED;
	}
	if (a->status != APP_APPROVED) {
		fprintf(e->err, _("custctl: refused: application #%lld is %s; only approved ones are "
				"implemented\n"), (long long)a->id, _(app_status_name(a->status)));
		return EXIT_REFUSED;
	}
	const struct employee *x = cmd_employee_by_id(s, a->employee_id);
	struct grant g;
	int64_t gid = 0;
	memset(&g, 0, sizeof g);
	if (!x) {
		fprintf(e->err, _("custctl: the application's employee is gone from the register\n"));
		return EXIT_REFUSED;
	}
	if (a->change[0]) {
		/* A change of the register that widens access (R3.1). */
		struct employee next;
		int rc = cmd_register_change(e, x, a->change, &next);
		if (rc)
			return rc;
		int err = db_begin(e->v->db, true);
		if (!err)
			err = staff_employee_update(e->v->db, &next);
		if (!err)
			err = wf_app_step(e->v->db, a->id, APP_APPROVED, APP_IMPLEMENTED, e->me->id,
					  NULL, 0);
		if (cmd_finish(e, err, N_("implement the application"), true))
			return EXIT_REFUSED;
		fprintf(e->out, _("application #%lld implemented: %s's record now has %s\n"),
			(long long)a->id, x->login, a->change);
		return EXIT_OK;
	}
	/* Check again: the person may have changed department since (R3.2); the
	 * customers and end date are the application's. */
	int rc = cmd_check_grant(e, x, a->role, NULL, a->ncustomers,
				 a->end_date[0] ? a->end_date : NULL, &g);
	if (rc)
		return rc;
	g.scoped = a->scoped;
	g.customers = a->customers;
	g.ncustomers = a->ncustomers;
	g.application_id = a->id;
	snprintf(g.note, sizeof g.note, "application #%lld", (long long)a->id);
	int err = db_begin(e->v->db, true);
	if (!err && a->replaces)
		err = staff_grant_end(e->v->db, a->replaces, GRANT_REVOKED, e->uid);
	if (err == ENOENT)
		err = ESTALE;
	if (!err)
		err = staff_grant_add(e->v->db, x->id, &g, e->uid, &gid);
	if (!err)
		err = wf_app_step(e->v->db, a->id, APP_APPROVED, APP_IMPLEMENTED, e->me->id, NULL, gid);
	if (cmd_finish(e, err, N_("implement the application"), true))
		return EXIT_REFUSED;
	fprintf(e->out, _("application #%lld implemented: grant #%lld gives %s role %s\n"),
		(long long)a->id, (long long)gid, x->login, a->role);
	if (a->replaces)
		fprintf(e->out, _("grant #%lld ended: replaced by grant #%lld (R3.3)\n"),
			(long long)a->replaces, (long long)gid);
	cmd_note_ceiling(e, x, a->role);
	return EXIT_OK;
}

int cmd_app(struct cmd_env *e, int argc, char **argv)
{
	const char *customers = NULL, *until = NULL, *reason = NULL, *note = NULL, *replaces = NULL;
	const char *set = NULL;
	bool json = false, pending = false;
	const struct cmd_opt opts[] = {
		{ "customers", true, &customers, NULL }, { "until", true, &until, NULL },
		{ "reason", true, &reason, NULL },       { "note", true, &note, NULL },
		{ "replaces", true, &replaces, NULL },   { "json", false, NULL, &json },
		{ "set", true, &set, NULL },             { "pending", false, NULL, &pending },
		{ NULL, false, NULL, NULL },
	};
	char *pos[3];
	int npos;
	if (cmd_parse(e, argc, argv, opts, pos, 3, &npos) || npos < 1)
		goto usage;
	const char *verb = pos[0];
	const struct staff *s = cmd_register(e);
	if (!s || !on_register(e))
		return EXIT_REFUSED;
	if (!strcmp(verb, "new") && npos == 3 && !set)
		return app_new(e, s, pos[1], pos[2], customers, until, replaces, reason);
	if (!strcmp(verb, "new") && npos == 2 && set && !customers && !until && !replaces)
		return app_change_new(e, s, pos[1], set, reason);
	if (!strcmp(verb, "list") && npos == 1) {
		struct app_print ap = { e, s, json, true, 0, pending };
		if (!json)
			fprintf(e->out, "%5s  %s %s %s %s %s %s\n", "ID", text_padded(_("STATUS"), 12),
				text_padded(_("FOR"), 16), text_padded(_("ROLE"), 16),
				text_padded(_("FILED"), 19), text_padded(_("BY"), 16), _("REASON"));
		return wf_app_list(e->v->db, print_app, &ap) ? EXIT_REFUSED : EXIT_OK;
	}
	if (npos != 2)
		goto usage;
	struct application a;
	int64_t id = cmd_parse_id(pos[1]);
	if (!id || wf_app_get(e->v->db, id, &a) != 0) {
		fprintf(e->err, _("custctl: no application #%s\n"), text_inert(pos[1]));
		return EXIT_REFUSED;
	}
	int rc = EXIT_USAGE;
	if (!may_see_app(e, s, &a)) {
		fprintf(e->err, _("custctl: refused: application #%lld is not yours to see\n"),
			(long long)id);
		rc = EXIT_REFUSED;
	} else if (!strcmp(verb, "show")) {
		if (json) {
			struct app_print ap = { e, s, true, true, 0, false };
			print_app(&ap, &a);
		} else {
			show_app(e, s, &a);
		}
		rc = EXIT_OK;
	} else if (!strcmp(verb, "approve")) {
		rc = app_decide(e, s, &a, true, note ? note : reason);
	} else if (!strcmp(verb, "reject")) {
		rc = app_decide(e, s, &a, false, reason ? reason : note);
	} else if (!strcmp(verb, "implement")) {
		rc = app_implement(e, s, &a);
	} else if (!strcmp(verb, "withdraw")) {
		if (e->me->id != a.filed_by) {
			fprintf(e->err, _("custctl: refused: only the head who filed it withdraws it\n"));
			rc = EXIT_REFUSED;
		} else {
			enum app_status from = a.status;
			int err = from == APP_FILED || from == APP_APPROVED
					  ? db_begin(e->v->db, true) : ESTALE;
			if (!err)
				err = wf_app_step(e->v->db, id, from, APP_WITHDRAWN, e->me->id, note, 0);
			rc = cmd_finish(e, err, N_("withdraw"), false);
			if (!rc)
				fprintf(e->out, _("application #%lld withdrawn\n"), (long long)id);
		}
	}
	wf_app_clear(&a);
	if (rc != EXIT_USAGE)
		return rc;
usage:
	fprintf(e->err,
		_("usage: custctl app new LOGIN ROLE --reason TEXT [--customers C1,C2] "
		"[--until YYYY-MM-DD]\n"
		"                       [--replaces GRANT_ID]      (a head, for their department)\n"
		"       custctl app new LOGIN --set KEY=VALUE --reason TEXT   (a widening change of\n"
		"                       the register: type=TYPE, dept=DEPT, group=member|leader,\n"
		"                       until=YYYY-MM-DD|none, head=yes)\n"
		"       custctl app list [--pending] [--json]\n"
		"       custctl app show ID [--json]\n"
		"       custctl app approve ID [--note TEXT]       (administration)\n"
		"       custctl app reject ID --reason TEXT        (administration)\n"
		"       custctl app implement ID                   (technical)\n"
		"       custctl app withdraw ID                    (the head who filed it)\n"));
	return EXIT_USAGE;
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
		text_json(o, login_of(cp->s, c->filed_by));
		fprintf(o, ",\"text\":");
		text_json(o, c->text);
		fprintf(o, ",\"cite\":");
		text_json(o, c->cite);
		fprintf(o, ",\"head\":");
		text_json(o, login_of(cp->s, c->head_by));
		fprintf(o, ",\"head_note\":");
		text_json(o, c->head_note);
		fprintf(o, ",\"resolved_by\":");
		text_json(o, login_of(cp->s, c->resolved_by));
		fprintf(o, ",\"resolution\":");
		text_json(o, c->resolution);
		fprintf(o, "}\n");
	} else {
		fprintf(o, "%5lld  %s %s %-19s %s%s%s\n", (long long)c->id,
			text_padded(_(case_status_name(c->status)), 10),
			text_padded(login_of(cp->s, c->filed_by), 12), t, text_inert(c->text),
			c->cite[0] ? _("  [cites ") : "", c->cite[0] ? text_inert(c->cite) : "");
		if (c->head_note[0])
			fprintf(o, _("       head %s: %s\n"), login_of(cp->s, c->head_by),
				text_inert(c->head_note));
		if (c->resolution[0])
			fprintf(o, _("       resolved by %s: %s\n"), login_of(cp->s, c->resolved_by),
				text_inert(c->resolution));
	}
	return 0;
}

struct cite_search {
	uid_t uid;
	const char *field;
	bool found;
};

static int cite_match(void *ctx, const struct audit_record *r)
{
	struct cite_search *cs = ctx;
	/* A refusal at the customer (a hidden one) names no field. */
	if (r->ev.uid == cs->uid &&
	    (!cs->field[0] || !r->ev.field[0] || !strcmp(r->ev.field, cs->field)))
		cs->found = true;
	return cs->found;
}

/* An appeal cites an access of the appellant's that is on the record
 * (CUSTOMER/FIELD, or CUSTOMER) of a customer they may see. 0, or an exit
 * code with the reason said. */
static int cite_problem(struct cmd_env *e, const char *cite, char *norm, size_t cap)
{
	char name[NAME_MAX_BYTES + 1];
	const char *slash = strchr(cite, '/');
	size_t len = slash ? (size_t)(slash - cite) : strlen(cite);
	struct cite_search cs = { e->uid, slash ? slash + 1 : "", false };
	struct customer c;
	if (len == 0 || len > NAME_MAX_BYTES || (slash && !catalog_field(e->pol->cat, slash + 1))) {
		fprintf(e->err, _("custctl: --cite takes CUSTOMER/FIELD (or CUSTOMER): an access of "
				"yours on the record\n"));
		return EXIT_USAGE;
	}
	memcpy(name, cite, len);
	name[len] = '\0';
	/* A customer hidden from the appellant is one that does not exist (R1.1):
	 * a record of their probe of it would otherwise tell it apart. */
	if (cmd_customer(e, name, false, &c) != 0)
		return EXIT_REFUSED;
	if (e->v->audit) {
		struct audit_filter f = { .login = e->me->login, .customer_id = c.id, .decision = -1 };
		audit_query(e->v->audit, &f, cite_match, &cs);
	}
	if (!cs.found) {
		fprintf(e->err, _("custctl: no access of yours to %s is on the record: an appeal cites "
				"one (custctl audit shows yours)\n"), text_inert(cite));
		return EXIT_REFUSED;
	}
	/* Kept as the store spells the name (NFC), so an erase finds it. */
	snprintf(norm, cap, "%s%s%s", c.name, slash ? "/" : "", slash ? slash + 1 : "");
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
	const char *kind = appeal ? _("appeal") : _("report");
	char *pos[3];
	int npos;
	if (cmd_parse(e, argc, argv, opts, pos, 3, &npos) || npos < 1)
		goto usage;
	const struct staff *s = cmd_register(e);
	if (!s || !on_register(e))
		return EXIT_REFUSED;
	const char *verb = pos[0];
	if (!strcmp(verb, "new") && npos == 2) {
		struct wf_case c;
		int64_t id = 0;
		memset(&c, 0, sizeof c);
		if (!text_ok(e, N_("the text"), pos[1], true) || (cite && !text_ok(e, "--cite", cite, false)))
			return EXIT_USAGE;
		char norm[WF_TEXT] = "";
		if (appeal && cite && cite_problem(e, cite, norm, sizeof norm) != 0)
			return EXIT_REFUSED;
		c.is_appeal = appeal;
		c.filed_by = e->me->id;
		snprintf(c.text, sizeof c.text, "%s", pos[1]);
		snprintf(c.cite, sizeof c.cite, "%s", norm);
		int err = db_begin(e->v->db, true);
		if (!err)
			err = wf_case_add(e->v->db, &c, &id);
		if (cmd_finish(e, err, N_("file it"), false))
			return EXIT_REFUSED;
		if (appeal)
			fprintf(e->out, _("appeal #%lld filed (R4.2): the head of %s takes it up with "
					"administration\n"), (long long)id, e->me->department);
		else
			fprintf(e->out, _("report #%lld filed with administration (R4.4, R5.2)\n"),
				(long long)id);
		return EXIT_OK;
	}
	if (!strcmp(verb, "list") && npos == 1) {
		struct case_print cp = { e, s, json };
		return wf_case_list(e->v->db, appeal, print_case, &cp) ? EXIT_REFUSED : EXIT_OK;
	}
	if (npos != 2)
		goto usage;
	struct wf_case c;
	int64_t id = cmd_parse_id(pos[1]);
	if (!id || wf_case_get(e->v->db, appeal, id, &c) != 0) {
		fprintf(e->err, _("custctl: no %s #%s\n"), kind, text_inert(pos[1]));
		return EXIT_REFUSED;
	}
	if (!may_see_case(e, s, &c)) {
		fprintf(e->err, _("custctl: refused: %s #%lld is not yours to see\n"), kind, (long long)id);
		return EXIT_REFUSED;
	}
	if (!strcmp(verb, "show")) {
		struct case_print cp = { e, s, json };
		print_case(&cp, &c);
		return EXIT_OK;
	}
	if (appeal && (!strcmp(verb, "forward") || !strcmp(verb, "answer"))) {
		const struct employee *who = cmd_employee_by_id(s, c.filed_by);
		bool answer = verb[0] == 'a';
		if (!who || !e->me->is_head || strcmp(e->me->department, who->department) ||
		    e->me->id == who->id) {
			fprintf(e->err, answer ? _("custctl: refused: the appellant's department head "
						   "answers an appeal (R4.2)\n")
					       : _("custctl: refused: the appellant's department head "
						   "forwards an appeal (R4.2)\n"));
			return EXIT_REFUSED;
		}
		if (answer && (!note || !text_ok(e, "--note", note, false)))
			return EXIT_USAGE;
		if (note && !text_ok(e, "--note", note, false))
			return EXIT_USAGE;
		int err = db_begin(e->v->db, true);
		if (!err)
			err = wf_case_head_step(e->v->db, id, answer ? CASE_ANSWERED : CASE_FORWARDED,
						e->me->id, note);
		if (cmd_finish(e, err, answer ? N_("answer the appeal") : N_("forward the appeal"),
			       false))
			return EXIT_REFUSED;
		fprintf(e->out, _("appeal #%lld %s%s\n"), (long long)id,
			answer ? _("answered") : _("forwarded to administration"),
			answer ? _("; administration closes it") : "");
		return EXIT_OK;
	}
	if (!strcmp(verb, "resolve")) {
		if (!cmd_may(e, PROC_APPROVE, N_("resolving appeals and reports")))
			return EXIT_REFUSED;
		if (e->me->id == c.filed_by) {
			fprintf(e->err, _("custctl: refused: nobody resolves their own %s\n"), kind);
			return EXIT_REFUSED;
		}
		const struct employee *who = cmd_employee_by_id(s, c.filed_by);
		if (appeal && c.head_by && e->me->id == c.head_by) {
			fprintf(e->err, _("custctl: refused: the head who took the appeal up does not "
					"also resolve it (R4.2)\n"));
			return EXIT_REFUSED;
		}
		if (appeal && c.status == CASE_OPEN && who && !who->is_head) {
			/* R4.2: the appellant's head takes it up with administration. */
			fprintf(e->err, _("custctl: refused: appeal #%lld waits for the head of %s, who "
					"forwards or answers it first (R4.2)\n"), (long long)id,
				who->department);
			return EXIT_REFUSED;
		}
		if (!note || !text_ok(e, "--note", note, false)) {
			fprintf(e->err, _("custctl: a resolution says what was done (--note TEXT)\n"));
			return EXIT_USAGE;
		}
		int err = db_begin(e->v->db, true);
		if (!err)
			err = wf_case_resolve(e->v->db, appeal, id, e->me->id, note);
		if (cmd_finish(e, err, N_("resolve it"), false))
			return EXIT_REFUSED;
		fprintf(e->out, _("%s #%lld resolved\n"), kind, (long long)id);
		return EXIT_OK;
	}
usage:
	if (appeal)
		fprintf(e->err,
			_("usage: custctl appeal new TEXT [--cite CUSTOMER/FIELD]   (anyone, R4.2)\n"
			"       custctl appeal list|show ID [--json]\n"
			"       custctl appeal forward ID [--note TEXT]      (your department head)\n"
			"       custctl appeal answer ID --note TEXT         (your department head)\n"
			"       custctl appeal resolve ID --note TEXT        (administration)\n"));
	else
		fprintf(e->err,
			_("usage: custctl report new TEXT                      (anyone, R4.4, R5.2)\n"
			"       custctl report list|show ID [--json]\n"
			"       custctl report resolve ID --note TEXT        (administration)\n"));
	return EXIT_USAGE;
}

int cmd_appeal(struct cmd_env *e, int argc, char **argv)
{
	return cmd_case(e, argc, argv, true);
}

int cmd_report(struct cmd_env *e, int argc, char **argv)
{
	return cmd_case(e, argc, argv, false);
}
