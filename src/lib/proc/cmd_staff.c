/* employee, grant, explain, whoami: the staff register and its grants
 * (R1.2, R3.2, R4.2, R4.3). */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "cmd.h"
#include "names.h"
#include "text.h"

static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src);
}

/* A fresh snapshot of the register (commands are rare: read it every time). */
static bool same_department_head(const struct employee *me, const struct employee *of)
{
	return me && of && me->is_head && !me->departed && strcmp(me->department, of->department) == 0;
}

/* Who may see another person's record and grants: themself, their head, the
 * information management group (R2.1), administration and technical. */
static bool may_see_person(struct cmd_env *e, const struct employee *of)
{
	if (e->root || (e->me && of && e->me->id == of->id) || same_department_head(e->me, of))
		return true;
	if (!e->me || e->me->departed)
		return false;
	if (strcmp(e->me->group_role, "none") != 0)
		return true;
	for (int pr = 0; pr < PROC_COUNT; pr++)
		if (e->pol->procedure[pr] && strcmp(e->me->department, e->pol->procedure[pr]->name) == 0)
			return true;
	return false;
}

/* ---- employee ---- */

struct emp_opts {
	const char *name, *dept, *post, *type, *org, *until, *group;
	bool head, no_head, json;
};

static bool apply_emp_opts(struct cmd_env *e, const struct emp_opts *o, struct employee *x)
{
	const struct policy *p = e->pol;
	if (o->name && !cmd_text_ok(e, "--name", o->name, sizeof x->name, false))
		return false;
	if (o->post && !cmd_text_ok(e, "--post", o->post, sizeof x->post, false))
		return false;
	if (o->org && !cmd_text_ok(e, "--org", o->org, sizeof x->organisation, false))
		return false;
	if (o->name)
		copy(x->name, sizeof x->name, o->name);
	if (o->post)
		copy(x->post, sizeof x->post, o->post);
	if (o->org)
		copy(x->organisation, sizeof x->organisation, o->org);
	if (o->dept) {
		if (!policy_department(p, o->dept)) {
			fprintf(e->err, _("custctl: the policy has no department '%s'\n"), o->dept);
			return false;
		}
		copy(x->department, sizeof x->department, o->dept);
	}
	if (o->type) {
		if (!policy_stafftype(p, o->type)) {
			fprintf(e->err, _("custctl: the policy has no staff type '%s'\n"), o->type);
			return false;
		}
		copy(x->staff_type, sizeof x->staff_type, o->type);
	}
	if (o->until) {
		if (o->until[0] && !staff_date_ok(o->until)) {
			fprintf(e->err, _("custctl: --until takes a date YYYY-MM-DD\n"));
			return false;
		}
		copy(x->end_date, sizeof x->end_date, o->until);
	}
	if (o->head)
		x->is_head = true;
	if (o->no_head)
		x->is_head = false;
	if (o->group) {
		if (strcmp(o->group, "none") && strcmp(o->group, "member") && strcmp(o->group, "leader")) {
			fprintf(e->err, _("custctl: --group is none, member or leader\n"));
			return false;
		}
		copy(x->group_role, sizeof x->group_role, o->group);
	}
	const struct stafftype *st = policy_stafftype(p, x->staff_type);
	if (st && st->expiring && !x->end_date[0]) {
		fprintf(e->err, _("custctl: staff type %s needs an end date (--until YYYY-MM-DD, R1.2)\n"),
			st->name);
		return false;
	}
	if (st && st->scoped && !x->organisation[0]) {
		fprintf(e->err, _("custctl: staff type %s needs the organisation (--org NAME)\n"),
			st->name);
		return false;
	}
	return true;
}

static void print_employee(struct cmd_env *e, const struct employee *x, bool json)
{
	FILE *o = e->out;
	if (json) {
		fprintf(o, "{\"login\":");
		text_json(o, x->login);
		fprintf(o, ",\"uid\":%u,\"name\":", (unsigned)x->uid);
		text_json(o, x->name);
		fprintf(o, ",\"department\":");
		text_json(o, x->department);
		fprintf(o, ",\"post\":");
		text_json(o, x->post);
		fprintf(o, ",\"staff_type\":");
		text_json(o, x->staff_type);
		fprintf(o, ",\"organisation\":");
		text_json(o, x->organisation);
		fprintf(o, ",\"end_date\":");
		text_json(o, x->end_date);
		fprintf(o, ",\"head\":%s,\"group\":", x->is_head ? "true" : "false");
		text_json(o, x->group_role);
		fprintf(o, ",\"departed\":%s,\"active_grants\":%zu}\n", x->departed ? "true" : "false",
			x->ngrants);
		return;
	}
	/* Padded by display width: a Chinese name takes two columns a character. */
	fprintf(o, "%s %6u  %s %s %s %s %s%s%s%s  %s%zu\n", text_padded(text_inert(x->login), 16),
		(unsigned)x->uid, text_padded(text_inert(x->name), 20), text_padded(x->department, 11),
		text_padded(x->post[0] ? text_inert(x->post) : "-", 14), text_padded(x->staff_type, 8),
		text_padded(x->end_date[0] ? x->end_date : "-", 10), x->is_head ? _(" head") : "",
		!strcmp(x->group_role, "leader") ? _(" group leader")
		: !strcmp(x->group_role, "member") ? _(" group member") : "",
		x->departed ? _(" DEPARTED") : "", _("grants:"), x->ngrants);
}

/* Whether DEPT takes a step of the procedures (its members approve, keep the
 * register, implement, install policy or file for heads). */
static bool procedure_department(const struct policy *p, const char *dept)
{
	for (int pr = 0; pr < PROC_COUNT; pr++)
		if (p->procedure[pr] && !strcmp(p->procedure[pr]->name, dept))
			return true;
	return false;
}

static int employee_add(struct cmd_env *e, const char *login, const struct emp_opts *o)
{
	struct employee x;
	struct passwd pw, *res = NULL;
	char buf[4096];
	int64_t id;

	memset(&x, 0, sizeof x);
	if (getpwnam_r(login, &pw, buf, sizeof buf, &res) != 0 || !res) {
		fprintf(e->err, _("custctl: no Linux account '%s' (staff use their own accounts)\n"),
			login);
		return EXIT_REFUSED;
	}
	if (pw.pw_uid == 0) {
		fprintf(e->err, _("custctl: root is the system's administrator, not staff\n"));
		return EXIT_REFUSED;
	}
	if (!o->name || !o->dept || !o->type) {
		fprintf(e->err, _("custctl: employee add needs --name, --dept and --type\n"));
		return EXIT_USAGE;
	}
	if (strlen(login) >= sizeof x.login) {
		fprintf(e->err, _("custctl: login is too long\n"));
		return EXIT_REFUSED;
	}
	copy(x.login, sizeof x.login, login);
	x.uid = pw.pw_uid;
	copy(x.group_role, sizeof x.group_role, "none");
	if (!apply_emp_opts(e, o, &x))
		return EXIT_REFUSED;
	if (!e->root && (x.is_head || strcmp(x.group_role, "none") ||
			 procedure_department(e->pol, x.department))) {
		/* One administrator does not hand a newcomer powers (R3.1). */
		fprintf(e->err, _("custctl: refused: a newcomer who is a head, in the information "
				"group or in a department that takes steps of the procedures gets it "
				"through an application: add them without it (e.g. --dept of their "
				"work, no --head/--group), then file custctl app new %s --set "
				"dept=...|head=yes|group=... (R3.1)\n"), login);
		return EXIT_REFUSED;
	}
	int err = db_begin(e->v->db, true);
	if (!err)
		err = staff_employee_add(e->v->db, &x, &id);
	if (err == EEXIST) {
		db_rollback(e->v->db);
		fprintf(e->err, _("custctl: %s (uid %u) is already on the staff register\n"), login,
			(unsigned)x.uid);
		return EXIT_REFUSED;
	}
	if (cmd_finish(e, err, N_("add the employee"), true))
		return EXIT_REFUSED;
	fprintf(e->out, _("added %s (uid %u): %s, department %s, staff type %s. Rights come with "
			"grants.\n"), login, (unsigned)x.uid, x.name, x.department, x.staff_type);
	return EXIT_OK;
}

static int group_rank(const char *g)
{
	return !strcmp(g, "leader") ? 2 : !strcmp(g, "member") ? 1 : 0;
}

/* Whether NEXT reaches further than CUR (R3.1: such a change goes through an
 * application, like a grant): a staff type with a higher ceiling, fewer
 * masks, no scope or no end date; a place in the information group (the
 * whole audit log) or a higher one; a later or no end date; becoming a head.
 * The first such change as KEY=VALUE into CHANGE, its description into WHAT. */
static bool widens(const struct policy *p, const struct employee *cur,
		   const struct employee *next, char *change, size_t cap, char *what, size_t wcap)
{
	/* Membership of a procedure's department is a power of its own (the
	 * register, the whole audit log, the policy): moving in is widening. */
	if (strcmp(cur->department, next->department) &&
	    procedure_department(p, next->department)) {
		snprintf(change, cap, "dept=%s", next->department);
		snprintf(what, wcap, "a move to department %s, which takes steps of the "
			 "procedures", next->department);
		return true;
	}
	const struct stafftype *a = policy_stafftype(p, cur->staff_type);
	const struct stafftype *b = policy_stafftype(p, next->staff_type);
	if (a && b && a != b) {
		bool wider = b->max_level > a->max_level || (a->scoped && !b->scoped) ||
			     (a->expiring && !b->expiring);
		for (size_t i = 0; !wider && i < p->cat->nfields; i++)
			wider = a->masked[i] && !b->masked[i];
		if (wider) {
			snprintf(change, cap, "type=%s", b->name);
			snprintf(what, wcap, "staff type %s to %s", a->name, b->name);
			return true;
		}
	}
	if (group_rank(next->group_role) > group_rank(cur->group_role)) {
		snprintf(change, cap, "group=%s", next->group_role);
		snprintf(what, wcap, "information group: %s to %s", cur->group_role,
			 next->group_role);
		return true;
	}
	if (cur->end_date[0] && (!next->end_date[0] || strcmp(next->end_date, cur->end_date) > 0)) {
		snprintf(change, cap, "until=%s", next->end_date[0] ? next->end_date : "none");
		snprintf(what, wcap, "engagement until %s to %s", cur->end_date,
			 next->end_date[0] ? next->end_date : "no end");
		return true;
	}
	if (!cur->is_head && next->is_head) {
		snprintf(change, cap, "head=yes");
		snprintf(what, wcap, "becoming head of %s", next->department);
		return true;
	}
	return false;
}

int cmd_register_change(struct cmd_env *e, const struct employee *cur, const char *change,
			struct employee *out)
{
	struct emp_opts o = { 0 };
	char key[16], value[STAFF_WORD];
	const char *eq = strchr(change, '=');
	size_t klen = eq ? (size_t)(eq - change) : 0;
	if (!eq || klen >= sizeof key || strlen(eq + 1) >= sizeof value || !eq[1]) {
		fprintf(e->err, _("custctl: --set takes KEY=VALUE: type=TYPE, dept=DEPT, "
				"group=member|leader, until=YYYY-MM-DD|none or head=yes\n"));
		return EXIT_USAGE;
	}
	memcpy(key, change, klen);
	key[klen] = '\0';
	snprintf(value, sizeof value, "%s", eq + 1);
	if (!strcmp(key, "type"))
		o.type = value;
	else if (!strcmp(key, "dept"))
		o.dept = value;
	else if (!strcmp(key, "group"))
		o.group = value;
	else if (!strcmp(key, "until"))
		o.until = strcmp(value, "none") ? value : "";
	else if (!strcmp(key, "head") && !strcmp(value, "yes"))
		o.head = true;
	else
		return cmd_register_change(e, cur, "", out); /* the usage line */
	*out = *cur;
	out->grants = NULL;
	out->ngrants = 0;
	out->checkouts = NULL;
	out->ncheckouts = 0;
	return apply_emp_opts(e, &o, out) ? EXIT_OK : EXIT_REFUSED;
}

static int employee_set(struct cmd_env *e, const struct employee *cur, const struct emp_opts *o)
{
	struct employee x = *cur;
	int suspended = 0;
	char change[STAFF_WORD * 2], what[STAFF_WORD * 4];
	x.grants = NULL;
	x.ngrants = 0;
	if (!apply_emp_opts(e, o, &x))
		return EXIT_REFUSED;
	/* A head of one department is not the head of the next. */
	if (strcmp(x.department, cur->department) && !o->head)
		x.is_head = false;
	if (!e->root && widens(e->pol, cur, &x, change, sizeof change, what, sizeof what)) {
		/* Narrowing acts at once; widening is not one person's act (R3.1). */
		fprintf(e->err, _("custctl: refused: %s widens %s's access; it goes through an "
				"application: the head files it (custctl app new %s --set %s --reason "
				"TEXT), administration approves, technical implements (R3.1)\n"), what,
			cur->login, cur->login, change);
		return EXIT_REFUSED;
	}
	/* R3.2: a new post or department needs a new application. */
	bool job_change = strcmp(x.department, cur->department) || strcmp(x.post, cur->post);
	int err = db_begin(e->v->db, true);
	if (!err)
		err = staff_employee_update(e->v->db, &x);
	if (!err && job_change)
		err = staff_grants_suspend_all(e->v->db, x.id, e->uid, &suspended);
	if (cmd_finish(e, err, N_("update the employee"), true))
		return EXIT_REFUSED;
	fprintf(e->out, "updated %s\n", x.login);
	if (job_change)
		fprintf(e->out, _("job change (R3.2): %d grant%s suspended; %s needs a new application\n"),
			suspended, suspended == 1 ? "" : "s", x.login);
	return EXIT_OK;
}

static int employee_leave(struct cmd_env *e, const struct employee *cur)
{
	struct employee x = *cur;
	int ended = 0;
	x.grants = NULL;
	x.ngrants = 0;
	x.departed = true;
	int err = db_begin(e->v->db, true);
	if (!err)
		err = staff_employee_update(e->v->db, &x);
	int closed = 0;
	for (size_t i = 0; !err && i < cur->ngrants; i++, ended++)
		err = staff_grant_end(e->v->db, cur->grants[i].id, GRANT_REVOKED, e->uid);
	if (!err)
		err = staff_checkouts_end_all(e->v->db, x.id, &closed);
	if (cmd_finish(e, err, N_("record the departure"), true))
		return EXIT_REFUSED;
	fprintf(e->out, _("%s has left (R4.3): %d grant%s revoked, %d checkout%s closed; access ends "
			"at once, open files included; history stays\n"), x.login, ended,
		ended == 1 ? "" : "s", closed, closed == 1 ? "" : "s");
	return EXIT_OK;
}

int cmd_employee(struct cmd_env *e, int argc, char **argv)
{
	struct emp_opts o = { 0 };
	const struct cmd_opt opts[] = {
		{ "name", true, &o.name, NULL },   { "dept", true, &o.dept, NULL },
		{ "department", true, &o.dept, NULL }, { "post", true, &o.post, NULL },
		{ "type", true, &o.type, NULL },   { "org", true, &o.org, NULL },
		{ "until", true, &o.until, NULL }, { "group", true, &o.group, NULL },
		{ "head", false, NULL, &o.head },  { "no-head", false, NULL, &o.no_head },
		{ "json", false, NULL, &o.json },  { NULL, false, NULL, NULL },
	};
	char *pos[3];
	int npos;
	if (cmd_parse(e, argc, argv, opts, pos, 3, &npos) || npos < 1)
		goto usage;
	const char *verb = pos[0];
	const struct staff *s = cmd_register(e);
	if (!s)
		return EXIT_REFUSED;
	const struct employee *x = npos == 2 ? staff_by_login(s, pos[1]) : NULL;
	bool change = !strcmp(verb, "add") || !strcmp(verb, "set") || !strcmp(verb, "leave");

	if (change && npos == 2) {
		if (!cmd_may(e, PROC_STAFF, N_("keeping the staff register")))
			return EXIT_REFUSED;
		if (e->me && x && e->me->id == x->id) {
			fprintf(e->err, _("custctl: refused: nobody changes their own record\n"));
			return EXIT_REFUSED;
		}
		if (verb[0] == 'a')
			return employee_add(e, pos[1], &o);
		if (!x) {
			fprintf(e->err, _("custctl: %s is not on the staff register\n"), text_inert(pos[1]));
			return EXIT_REFUSED;
		}
		return verb[0] == 's' ? employee_set(e, x, &o) : employee_leave(e, x);
	}
	if (!strcmp(verb, "show") && npos == 2) {
		if (!x) {
			fprintf(e->err, _("custctl: %s is not on the staff register\n"), text_inert(pos[1]));
			return EXIT_REFUSED;
		}
		if (!may_see_person(e, x)) {
			fprintf(e->err, _("custctl: refused: %s's record is for them, their head and "
					"administration\n"), x->login);
			return EXIT_REFUSED;
		}
		print_employee(e, x, o.json);
		return EXIT_OK;
	}
	if (!strcmp(verb, "list") && npos == 1) {
		if (!o.json)
			fprintf(e->out, "%s %6s  %s %s %s %s %s\n", text_padded(_("LOGIN"), 16), "UID",
				text_padded(_("NAME"), 20), text_padded(_("DEPARTMENT"), 11),
				text_padded(_("POST"), 14), text_padded(_("TYPE"), 8), _("UNTIL"));
		for (size_t i = 0; i < s->n; i++)
			if (may_see_person(e, &s->emps[i]))
				print_employee(e, &s->emps[i], o.json);
		return EXIT_OK;
	}
usage:
	fprintf(e->err,
		_("usage: custctl employee add LOGIN --name NAME --dept DEPT --type TYPE [--post POST]\n"
		"                            [--org ORG] [--until YYYY-MM-DD] [--head]\n"
		"                            [--group none|member|leader]\n"
		"       custctl employee set LOGIN [the same options] [--no-head]\n"
		"       custctl employee leave LOGIN\n"
		"       custctl employee show LOGIN [--json]\n"
		"       custctl employee list [--json]\n"
		"(root on the store files: custctl employee VERB STORE ...)\n"));
	return EXIT_USAGE;
}

/* ---- grants ---- */

struct grant_print {
	struct cmd_env *e;
	const struct staff *s;
	bool json;
};

static void scope_text(struct cmd_env *e, const int64_t *ids, size_t n, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && len + 64 < cap; i++) {
		struct customer c;
		if (vault_customer_get(e->v, ids[i], &c) != 0)
			snprintf(c.name, sizeof c.name, "#%lld", (long long)ids[i]);
		len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "," : "", c.name);
	}
}

static int print_grant(void *ctx, int64_t employee_id, const struct grant *g)
{
	struct grant_print *gp = ctx;
	const struct employee *x = cmd_employee_by_id(gp->s, employee_id);
	char scope[1024] = "all customers";
	if (!may_see_person(gp->e, x))
		return 0;
	if (g->scoped)
		scope_text(gp->e, g->customers, g->ncustomers, scope, sizeof scope);
	FILE *o = gp->e->out;
	const char *origin = g->application_id ? "application" : "break-glass";
	if (gp->json) {
		fprintf(o, "{\"id\":%lld,\"login\":", (long long)g->id);
		text_json(o, x ? x->login : "?");
		fprintf(o, ",\"role\":");
		text_json(o, g->role);
		fprintf(o, ",\"scope\":");
		text_json(o, g->scoped ? scope : "*");
		fprintf(o, ",\"until\":");
		text_json(o, g->end_date);
		fprintf(o, ",\"status\":\"%s\",\"origin\":\"%s\",\"application\":%lld,\"note\":",
			grant_status_name(g->status), origin, (long long)g->application_id);
		text_json(o, g->note);
		fprintf(o, "}\n");
	} else {
		fprintf(o, "%5lld  %s %s %s %s %s %s\n", (long long)g->id,
			text_padded(x ? x->login : "?", 16), text_padded(g->role, 16),
			text_padded(_(grant_status_name(g->status)), 10),
			text_padded(g->end_date[0] ? g->end_date : "-", 10),
			text_padded(g->application_id ? _("application") : _("break-glass"), 12), scope);
	}
	return 0;
}

/* Checks a grant for employee X against the policy (R1.2, R3.1) and resolves
 * its customers. Shared by root's break-glass grant and implemented
 * applications. */
int cmd_check_grant(struct cmd_env *e, const struct employee *x, const char *rolename,
		    const char *customers, size_t resolved, const char *until, struct grant *g)
{
	const struct role *role = policy_role(e->pol, rolename);
	const struct stafftype *st = policy_stafftype(e->pol, x->staff_type);

	if (x->departed) {
		fprintf(e->err, _("custctl: %s has left (R4.3)\n"), x->login);
		return EXIT_REFUSED;
	}
	if (!role) {
		fprintf(e->err, _("custctl: the policy has no role '%s'\n"), rolename);
		return EXIT_REFUSED;
	}
	if (strcmp(role->dept->name, x->department) != 0) {
		fprintf(e->err, _("custctl: role %s belongs to department %s; %s is in %s\n"), role->name,
			role->dept->name, x->login, x->department);
		return EXIT_REFUSED;
	}
	if (until && !staff_date_ok(until)) {
		fprintf(e->err, _("custctl: --until takes a date YYYY-MM-DD\n"));
		return EXIT_USAGE;
	}
	if (st && st->scoped && !customers && !resolved) {
		fprintf(e->err, _("custctl: staff type %s is granted named customers only "
				"(--customers C1,C2; R1.2)\n"), st->name);
		return EXIT_REFUSED;
	}
	if (st && st->expiring && !until) {
		fprintf(e->err, _("custctl: staff type %s is granted until an end date only "
				"(--until YYYY-MM-DD; R1.2)\n"), st->name);
		return EXIT_REFUSED;
	}
	if (until && x->end_date[0] && strcmp(until, x->end_date) > 0) {
		fprintf(e->err, _("custctl: the grant would outlast %s's engagement (until %s)\n"),
			x->login, x->end_date);
		return EXIT_REFUSED;
	}
	copy(g->role, sizeof g->role, role->name);
	copy(g->end_date, sizeof g->end_date, until ? until : "");
	if (customers) {
		char *list = strdup(customers), *save = NULL;
		g->scoped = true;
		for (char *t = list ? strtok_r(list, ",", &save) : NULL; t;
		     t = strtok_r(NULL, ",", &save)) {
			struct customer c;
			/* The head states the scope of an application (R3.1): of
			 * customers they may see (a hidden one is one that does not
			 * exist, for them as for anyone). Root names any. */
			if (cmd_customer(e, t, e->root, &c) != 0) {
				free(list);
				return EXIT_REFUSED;
			}
			int64_t *np = realloc(g->customers, (g->ncustomers + 1) * sizeof *np);
			if (!np) {
				free(list);
				return EXIT_REFUSED;
			}
			g->customers = np;
			g->customers[g->ncustomers++] = c.id;
		}
		free(list);
		if (g->ncustomers == 0) {
			fprintf(e->err, _("custctl: --customers names no customer\n"));
			return EXIT_REFUSED;
		}
	}
	return EXIT_OK;
}

/* Whether ROLE gives X anything their staff type can reach: a role whose
 * every field lies above the ceiling would pass every step of an application
 * and grant nothing (R1.2). An exit code, with the reason said. */
int cmd_role_reachable(struct cmd_env *e, const struct employee *x, const char *rolename)
{
	const struct role *role = policy_role(e->pol, rolename);
	const struct stafftype *st = policy_stafftype(e->pol, x->staff_type);
	bool any = false, reachable = false;
	for (size_t i = 0; role && st && i < e->pol->cat->nfields; i++)
		if (role->rights.field[i]) {
			any = true;
			reachable |= e->pol->cat->fields[i].cls->level <= st->max_level;
		}
	if (any && !reachable) {
		fprintf(e->err, _("custctl: role %s gives only classes above level %d, which staff "
				"type %s never reaches (R1.2): it would grant %s nothing\n"),
			role->name, st->max_level, st->name, x->login);
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

/* Says what the staff-type ceiling will keep out of a role, so nobody is
 * surprised later. */
void cmd_note_ceiling(struct cmd_env *e, const struct employee *x, const char *rolename)
{
	const struct role *role = policy_role(e->pol, rolename);
	const struct stafftype *st = policy_stafftype(e->pol, x->staff_type);
	for (size_t i = 0; role && st && i < e->pol->cat->nfields; i++) {
		const struct field_def *f = &e->pol->cat->fields[i];
		if (role->rights.field[i] && f->cls->level > st->max_level) {
			fprintf(e->out, _("note: staff type %s reaches level %d: class %s (level %d) stays "
					"out of reach\n"), st->name, st->max_level, f->cls->name,
				f->cls->level);
			return;
		}
	}
}

int cmd_grant(struct cmd_env *e, int argc, char **argv)
{
	const char *customers = NULL, *until = NULL, *note = NULL;
	bool json = false;
	const struct cmd_opt opts[] = {
		{ "customers", true, &customers, NULL }, { "until", true, &until, NULL },
		{ "note", true, &note, NULL },           { "json", false, NULL, &json },
		{ NULL, false, NULL, NULL },
	};
	char *pos[4];
	int npos;
	if (cmd_parse(e, argc, argv, opts, pos, 4, &npos) || npos < 1)
		goto usage;
	const struct staff *s = cmd_register(e);
	if (!s)
		return EXIT_REFUSED;
	const char *verb = pos[0];

	if (!strcmp(verb, "add") && npos == 3) {
		/* Rights come through applications (R3.1); this is root's break-glass. */
		if (!e->root) {
			fprintf(e->err, _("custctl: refused: grants come through applications: a head "
					"files one (custctl app new), administration approves, technical "
					"implements (R3.1)\n"));
			return EXIT_REFUSED;
		}
		const struct employee *x = staff_by_login(s, pos[1]);
		struct grant g;
		int64_t id = 0;
		memset(&g, 0, sizeof g);
		if (!x) {
			fprintf(e->err, _("custctl: %s is not on the staff register\n"), text_inert(pos[1]));
			return EXIT_REFUSED;
		}
		if (note && !cmd_text_ok(e, "--note", note, sizeof g.note, false))
			return EXIT_REFUSED;
		int rc = cmd_check_grant(e, x, pos[2], customers, 0, until, &g);
		if (rc) {
			free(g.customers);
			return rc;
		}
		snprintf(g.note, sizeof g.note, "break-glass by root%s%s", note ? ": " : "",
			 note ? note : "");
		int err = db_begin(e->v->db, true);
		if (!err)
			err = staff_grant_add(e->v->db, x->id, &g, e->uid, &id);
		free(g.customers);
		if (cmd_finish(e, err, N_("add the grant"), true))
			return EXIT_REFUSED;
		fprintf(e->out, _("grant #%lld (break-glass): %s holds role %s on %s%s%s\n"),
			(long long)id, x->login, g.role, customers ? customers : _("all customers"),
			until ? " until " : "", until ? until : "");
		cmd_note_ceiling(e, x, g.role);
		return EXIT_OK;
	}
	if (!strcmp(verb, "revoke") && npos == 2) {
		if (!cmd_may(e, PROC_APPROVE, N_("revoking a grant")))
			return EXIT_REFUSED;
		char *end;
		long long id = strtoll(pos[1], &end, 10);
		if (*end || id <= 0)
			goto usage;
		int err = db_begin(e->v->db, true);
		if (!err)
			err = staff_grant_end(e->v->db, id, GRANT_REVOKED, e->uid);
		if (err == ENOENT) {
			db_rollback(e->v->db);
			fprintf(e->err, _("custctl: grant %lld: no such active grant\n"), id);
			return EXIT_REFUSED;
		}
		if (cmd_finish(e, err, N_("revoke the grant"), true))
			return EXIT_REFUSED;
		fprintf(e->out, _("grant #%lld revoked; it stops working at once\n"), id);
		return EXIT_OK;
	}
	if (!strcmp(verb, "list") && npos <= 2) {
		const struct employee *x = npos == 2 ? staff_by_login(s, pos[1]) : NULL;
		if (npos == 2 && !x) {
			fprintf(e->err, _("custctl: %s is not on the staff register\n"), text_inert(pos[1]));
			return EXIT_REFUSED;
		}
		struct grant_print gp = { e, s, json };
		if (!json)
			fprintf(e->out, "%5s  %s %s %s %s %s %s\n", "ID", text_padded(_("LOGIN"), 16),
				text_padded(_("ROLE"), 16), text_padded(_("STATUS"), 10),
				text_padded(_("UNTIL"), 10), text_padded(_("ORIGIN"), 12), _("CUSTOMERS"));
		int err = staff_grants_list(e->v->db, x ? x->id : 0, print_grant, &gp);
		return err ? EXIT_REFUSED : EXIT_OK;
	}
usage:
	fprintf(e->err,
		_("usage: custctl grant list [LOGIN] [--json]\n"
		"       custctl grant revoke GRANT_ID\n"
		"       custctl grant add STORE LOGIN ROLE [--customers C1,C2] [--until YYYY-MM-DD]\n"
		"                         [--note TEXT]   (root only: break-glass)\n"));
	return EXIT_USAGE;
}

/* ---- explain, whoami ---- */

static void print_step(void *ctx, const char *line)
{
	fprintf(ctx, "  %s\n", line);
}

static int explain_under(struct cmd_env *e, const struct policy *pol, char **pos, int npos);

int cmd_explain(struct cmd_env *e, int argc, char **argv)
{
	char *pos[3];
	int npos;
	const char *proposal = NULL;
	const struct cmd_opt opts[] = { { "policy", true, &proposal, NULL },
					{ NULL, false, NULL, NULL } };
	if (cmd_parse(e, argc, argv, opts, pos, 3, &npos) || npos < 1)
		goto usage;
	/* --policy N: the decision under proposal N instead (a dry run, R2.1). */
	struct policy *dry = NULL;
	const struct policy *pol = e->pol;
	if (proposal) {
		int64_t pid = cmd_parse_id(proposal);
		if (!pid || !(dry = cmd_proposal_policy(e, pid)))
			return EXIT_REFUSED;
		pol = dry;
	}
	int rc = explain_under(e, pol, pos, npos);
	policy_free(dry);
	return rc;
usage:
	fprintf(e->err, _("usage: custctl explain [--policy PROPOSAL] [LOGIN] CUSTOMER[/FIELD] "
			"[read|write]\n"
			"(root on the store files: custctl explain STORE LOGIN CUSTOMER[/FIELD])\n"));
	return EXIT_USAGE;
}

static int explain_under(struct cmd_env *e, const struct policy *pol, char **pos, int npos)
{
	/* [LOGIN] CUSTOMER[/FIELD] [read|write] */
	bool last_is_right = !strcmp(pos[npos - 1], "read") || !strcmp(pos[npos - 1], "write");
	int at = npos == 3 || (npos == 2 && !last_is_right) ? 1 : 0;
	const char *login = at ? pos[0] : NULL;
	const char *rightname = npos > at + 1 ? pos[at + 1] : "read";
	enum access_right right;
	if (!strcmp(rightname, "read"))
		right = RIGHT_READ;
	else if (!strcmp(rightname, "write"))
		right = RIGHT_WRITE;
	else
		goto usage;
	if (npos > at + 2)
		goto usage;
	const struct staff *s = cmd_register(e);
	if (!s)
		return EXIT_REFUSED;
	const struct employee *x = login ? staff_by_login(s, login) : e->me;
	uid_t uid = x ? x->uid : e->uid;
	if (login && !x) {
		fprintf(e->err, _("custctl: %s is not on the staff register\n"), login);
		return EXIT_REFUSED;
	}
	if (e->root && !login) {
		fprintf(e->err, _("custctl: explain for whom? (custctl explain STORE LOGIN ...)\n"));
		return EXIT_USAGE;
	}
	if (!e->root && x != e->me && !(cmd_may(e, PROC_APPROVE, N_("explaining another person's "
							      "access"))))
		return EXIT_REFUSED;

	char what[NAME_MAX_BYTES * 2 + 2];
	copy(what, sizeof what, pos[at]);
	char *slash = strchr(what, '/');
	if (slash)
		*slash++ = '\0';
	struct customer c;
	const struct field_def *def = slash ? catalog_field(pol->cat, slash) : NULL;
	if (cmd_customer(e, what, false, &c) != 0)
		return EXIT_REFUSED;
	if (slash && !def) {
		fprintf(e->err, _("custctl: no field '%s' in the catalogue\n"), slash);
		return EXIT_REFUSED;
	}
	char today[DATE_LEN];
	struct decision d;
	clock_today(today);
	struct access_request ar = {
		.uid = uid, .emp = x, .customer_id = c.id, .customer = c.name, .field = def,
		.right = def ? right : RIGHT_LIST, .today = today, .now_ns = clock_now_ns(),
		.view = e->view ? policy_role(pol, e->view) : NULL,
	};
	fprintf(e->out, _("custfs explains: %s %s %s%s%s\n"), x ? x->login : _("you"),
		!def ? _("seeing") : right == RIGHT_WRITE ? _("write") : _("read"), c.name,
		def ? "/" : "", def ? def->name : "");
	access_decide(pol, &ar, &d, print_step, e->out);
	fprintf(e->out, _("Decision: %s%s (rule %s)\n"), d.allow ? _("ALLOW") : _("DENY"),
		d.masked ? _(", masked") : "", d.rule);
	if (!d.allow)
		fprintf(e->out, "%s\n", _(ACCESS_APPEAL_HINT));
	return d.allow ? EXIT_OK : EXIT_REFUSED;
usage:
	fprintf(e->err, _("usage: custctl explain [--policy PROPOSAL] [LOGIN] CUSTOMER[/FIELD] "
			"[read|write]\n"));
	return EXIT_USAGE;
}

int cmd_whoami(struct cmd_env *e, int argc, char **argv)
{
	bool json = false;
	const struct cmd_opt opts[] = { { "json", false, NULL, &json }, { NULL, false, NULL, NULL } };
	char *pos[1];
	int npos;
	if (cmd_parse(e, argc, argv, opts, pos, 0, &npos)) {
		fprintf(e->err, _("usage: custctl whoami [--json]\n"));
		return EXIT_USAGE;
	}
	if (e->root) {
		fprintf(e->out, _("root (uid 0): the system's administrator; break-glass changes are "
				"recorded as such\n"));
		return EXIT_OK;
	}
	const struct staff *s = cmd_register(e);
	const struct employee *x = s ? staff_by_uid(s, e->uid) : NULL;
	if (!x) {
		fprintf(e->out, _("uid %u is not on the staff register\n"), (unsigned)e->uid);
		return EXIT_REFUSED;
	}
	print_employee(e, x, json);
	return EXIT_OK;
}
