/* employee, grant, explain, whoami: the staff register and its grants
 * (R1.2, R3.2, R4.2, R4.3). */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "cmd.h"
#include "names.h"

/* A short free-text attribute: UTF-8, no control characters, bounded. */
static bool text_ok(struct cmd_env *e, const char *what, const char *s, size_t cap)
{
	size_t n = strlen(s);
	if (n >= cap || !utf8_valid(s, n)) {
		fprintf(e->err, "custctl: %s must be UTF-8 text of at most %zu bytes\n", what, cap - 1);
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			fprintf(e->err, "custctl: %s contains a control character\n", what);
			return false;
		}
	return true;
}

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

static void changed(struct cmd_env *e)
{
	if (e->staff_changed)
		e->staff_changed(e->ctx);
}

/* ---- employee ---- */

struct emp_opts {
	const char *name, *dept, *post, *type, *org, *until, *group;
	bool head, no_head, json;
};

static bool apply_emp_opts(struct cmd_env *e, const struct emp_opts *o, struct employee *x)
{
	const struct policy *p = e->pol;
	if (o->name && !text_ok(e, "--name", o->name, sizeof x->name))
		return false;
	if (o->post && !text_ok(e, "--post", o->post, sizeof x->post))
		return false;
	if (o->org && !text_ok(e, "--org", o->org, sizeof x->organisation))
		return false;
	if (o->name)
		copy(x->name, sizeof x->name, o->name);
	if (o->post)
		copy(x->post, sizeof x->post, o->post);
	if (o->org)
		copy(x->organisation, sizeof x->organisation, o->org);
	if (o->dept) {
		if (!policy_department(p, o->dept)) {
			fprintf(e->err, "custctl: the policy has no department '%s'\n", o->dept);
			return false;
		}
		copy(x->department, sizeof x->department, o->dept);
	}
	if (o->type) {
		if (!policy_stafftype(p, o->type)) {
			fprintf(e->err, "custctl: the policy has no staff type '%s'\n", o->type);
			return false;
		}
		copy(x->staff_type, sizeof x->staff_type, o->type);
	}
	if (o->until) {
		if (o->until[0] && !staff_date_ok(o->until)) {
			fprintf(e->err, "custctl: --until takes a date YYYY-MM-DD\n");
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
			fprintf(e->err, "custctl: --group is none, member or leader\n");
			return false;
		}
		copy(x->group_role, sizeof x->group_role, o->group);
	}
	const struct stafftype *st = policy_stafftype(p, x->staff_type);
	if (st && st->expiring && !x->end_date[0]) {
		fprintf(e->err, "custctl: staff type %s needs an end date (--until YYYY-MM-DD, R1.2)\n",
			st->name);
		return false;
	}
	if (st && st->scoped && !x->organisation[0]) {
		fprintf(e->err, "custctl: staff type %s needs the organisation (--org NAME)\n",
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
		cmd_json_str(o, x->login);
		fprintf(o, ",\"uid\":%u,\"name\":", (unsigned)x->uid);
		cmd_json_str(o, x->name);
		fprintf(o, ",\"department\":");
		cmd_json_str(o, x->department);
		fprintf(o, ",\"post\":");
		cmd_json_str(o, x->post);
		fprintf(o, ",\"staff_type\":");
		cmd_json_str(o, x->staff_type);
		fprintf(o, ",\"organisation\":");
		cmd_json_str(o, x->organisation);
		fprintf(o, ",\"end_date\":");
		cmd_json_str(o, x->end_date);
		fprintf(o, ",\"head\":%s,\"group\":", x->is_head ? "true" : "false");
		cmd_json_str(o, x->group_role);
		fprintf(o, ",\"departed\":%s,\"active_grants\":%zu}\n", x->departed ? "true" : "false",
			x->ngrants);
		return;
	}
	fprintf(o, "%-16s %6u  %-20s %-11s %-14s %-8s %-10s%s%s%s%s  grants:%zu\n", x->login,
		(unsigned)x->uid, x->name, x->department, x->post[0] ? x->post : "-", x->staff_type,
		x->end_date[0] ? x->end_date : "-", x->is_head ? " head" : "",
		strcmp(x->group_role, "none") ? " group-" : "",
		strcmp(x->group_role, "none") ? x->group_role : "", x->departed ? " DEPARTED" : "",
		x->ngrants);
}

static int commit_or_report(struct cmd_env *e, int err, const char *what)
{
	if (!err)
		err = store_commit(e->v->st);
	else
		store_rollback(e->v->st);
	if (err) {
		fprintf(e->err, "custctl: cannot %s: %s\n", what, strerror(err));
		return CMD_REFUSED;
	}
	changed(e);
	return CMD_OK;
}

static int employee_add(struct cmd_env *e, const char *login, const struct emp_opts *o)
{
	struct employee x;
	struct passwd pw, *res = NULL;
	char buf[4096];
	int64_t id;

	memset(&x, 0, sizeof x);
	if (getpwnam_r(login, &pw, buf, sizeof buf, &res) != 0 || !res) {
		fprintf(e->err, "custctl: no Linux account '%s' (staff use their own accounts)\n",
			login);
		return CMD_REFUSED;
	}
	if (pw.pw_uid == 0) {
		fprintf(e->err, "custctl: root is the system's administrator, not staff\n");
		return CMD_REFUSED;
	}
	if (!o->name || !o->dept || !o->type) {
		fprintf(e->err, "custctl: employee add needs --name, --dept and --type\n");
		return CMD_USAGE;
	}
	if (strlen(login) >= sizeof x.login) {
		fprintf(e->err, "custctl: login is too long\n");
		return CMD_REFUSED;
	}
	copy(x.login, sizeof x.login, login);
	x.uid = pw.pw_uid;
	copy(x.group_role, sizeof x.group_role, "none");
	if (!apply_emp_opts(e, o, &x))
		return CMD_REFUSED;
	int err = store_begin(e->v->st, true);
	if (!err)
		err = staff_employee_add(e->v->st, &x, &id);
	if (err == EEXIST) {
		store_rollback(e->v->st);
		fprintf(e->err, "custctl: %s (uid %u) is already on the staff register\n", login,
			(unsigned)x.uid);
		return CMD_REFUSED;
	}
	if (commit_or_report(e, err, "add the employee"))
		return CMD_REFUSED;
	fprintf(e->out, "added %s (uid %u): %s, department %s, staff type %s. Rights come with "
			"grants.\n", login, (unsigned)x.uid, x.name, x.department, x.staff_type);
	return CMD_OK;
}

static int employee_set(struct cmd_env *e, const struct employee *cur, const struct emp_opts *o)
{
	struct employee x = *cur;
	int suspended = 0;
	x.grants = NULL;
	x.ngrants = 0;
	if (!apply_emp_opts(e, o, &x))
		return CMD_REFUSED;
	/* R3.2: a new post or department needs a new application. */
	bool job_change = strcmp(x.department, cur->department) || strcmp(x.post, cur->post);
	int err = store_begin(e->v->st, true);
	if (!err)
		err = staff_employee_update(e->v->st, &x);
	if (!err && job_change)
		err = staff_grants_suspend_all(e->v->st, x.id, e->uid, &suspended);
	if (commit_or_report(e, err, "update the employee"))
		return CMD_REFUSED;
	fprintf(e->out, "updated %s\n", x.login);
	if (job_change)
		fprintf(e->out, "job change (R3.2): %d grant%s suspended; %s needs a new application\n",
			suspended, suspended == 1 ? "" : "s", x.login);
	return CMD_OK;
}

static int employee_leave(struct cmd_env *e, const struct employee *cur)
{
	struct employee x = *cur;
	int ended = 0;
	x.grants = NULL;
	x.ngrants = 0;
	x.departed = true;
	int err = store_begin(e->v->st, true);
	if (!err)
		err = staff_employee_update(e->v->st, &x);
	int closed = 0;
	for (size_t i = 0; !err && i < cur->ngrants; i++, ended++)
		err = staff_grant_end(e->v->st, cur->grants[i].id, GRANT_REVOKED, e->uid);
	if (!err)
		err = staff_checkouts_end_all(e->v->st, x.id, &closed);
	if (commit_or_report(e, err, "record the departure"))
		return CMD_REFUSED;
	fprintf(e->out, "%s has left (R4.3): %d grant%s revoked, %d checkout%s closed; access ends "
			"at once, open files included; history stays\n", x.login, ended,
		ended == 1 ? "" : "s", closed, closed == 1 ? "" : "s");
	return CMD_OK;
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
		return CMD_REFUSED;
	const struct employee *x = npos == 2 ? staff_by_login(s, pos[1]) : NULL;
	bool change = !strcmp(verb, "add") || !strcmp(verb, "set") || !strcmp(verb, "leave");

	if (change && npos == 2) {
		if (!cmd_may(e, PROC_STAFF, "keeping the staff register"))
			return CMD_REFUSED;
		if (e->me && x && e->me->id == x->id) {
			fprintf(e->err, "custctl: refused: nobody changes their own record\n");
			return CMD_REFUSED;
		}
		if (verb[0] == 'a')
			return employee_add(e, pos[1], &o);
		if (!x) {
			fprintf(e->err, "custctl: %s is not on the staff register\n", pos[1]);
			return CMD_REFUSED;
		}
		return verb[0] == 's' ? employee_set(e, x, &o) : employee_leave(e, x);
	}
	if (!strcmp(verb, "show") && npos == 2) {
		if (!x) {
			fprintf(e->err, "custctl: %s is not on the staff register\n", pos[1]);
			return CMD_REFUSED;
		}
		if (!may_see_person(e, x)) {
			fprintf(e->err, "custctl: refused: %s's record is for them, their head and "
					"administration\n", x->login);
			return CMD_REFUSED;
		}
		print_employee(e, x, o.json);
		return CMD_OK;
	}
	if (!strcmp(verb, "list") && npos == 1) {
		if (!o.json)
			fprintf(e->out, "%-16s %6s  %-20s %-11s %-14s %-8s %-10s\n", "LOGIN", "UID",
				"NAME", "DEPARTMENT", "POST", "TYPE", "UNTIL");
		for (size_t i = 0; i < s->n; i++)
			if (may_see_person(e, &s->emps[i]))
				print_employee(e, &s->emps[i], o.json);
		return CMD_OK;
	}
usage:
	fprintf(e->err,
		"usage: custctl employee add LOGIN --name NAME --dept DEPT --type TYPE [--post POST]\n"
		"                            [--org ORG] [--until YYYY-MM-DD] [--head]\n"
		"                            [--group none|member|leader]\n"
		"       custctl employee set LOGIN [the same options] [--no-head]\n"
		"       custctl employee leave LOGIN\n"
		"       custctl employee show LOGIN [--json]\n"
		"       custctl employee list [--json]\n"
		"(root on the store files: custctl employee VERB STORE ...)\n");
	return CMD_USAGE;
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
		cmd_json_str(o, x ? x->login : "?");
		fprintf(o, ",\"role\":");
		cmd_json_str(o, g->role);
		fprintf(o, ",\"scope\":");
		cmd_json_str(o, g->scoped ? scope : "*");
		fprintf(o, ",\"until\":");
		cmd_json_str(o, g->end_date);
		fprintf(o, ",\"status\":\"%s\",\"origin\":\"%s\",\"application\":%lld,\"note\":",
			grant_status_name(g->status), origin, (long long)g->application_id);
		cmd_json_str(o, g->note);
		fprintf(o, "}\n");
	} else {
		fprintf(o, "%5lld  %-16s %-16s %-10s %-10s %-12s %s\n", (long long)g->id,
			x ? x->login : "?", g->role, grant_status_name(g->status),
			g->end_date[0] ? g->end_date : "-", origin, scope);
	}
	return 0;
}

/* Checks a grant for employee X against the policy (R1.2, R3.1) and resolves
 * its customers. Shared by root's break-glass grant and implemented
 * applications. */
int cmd_check_grant(struct cmd_env *e, const struct employee *x, const char *rolename,
		    const char *customers, const char *until, struct grant *g);
int cmd_check_grant(struct cmd_env *e, const struct employee *x, const char *rolename,
		    const char *customers, const char *until, struct grant *g)
{
	const struct role *role = policy_role(e->pol, rolename);
	const struct stafftype *st = policy_stafftype(e->pol, x->staff_type);

	if (x->departed) {
		fprintf(e->err, "custctl: %s has left (R4.3)\n", x->login);
		return CMD_REFUSED;
	}
	if (!role) {
		fprintf(e->err, "custctl: the policy has no role '%s'\n", rolename);
		return CMD_REFUSED;
	}
	if (strcmp(role->dept->name, x->department) != 0) {
		fprintf(e->err, "custctl: role %s belongs to department %s; %s is in %s\n", role->name,
			role->dept->name, x->login, x->department);
		return CMD_REFUSED;
	}
	if (until && !staff_date_ok(until)) {
		fprintf(e->err, "custctl: --until takes a date YYYY-MM-DD\n");
		return CMD_USAGE;
	}
	if (st && st->scoped && !customers) {
		fprintf(e->err, "custctl: staff type %s is granted named customers only "
				"(--customers C1,C2; R1.2)\n", st->name);
		return CMD_REFUSED;
	}
	if (st && st->expiring && !until) {
		fprintf(e->err, "custctl: staff type %s is granted until an end date only "
				"(--until YYYY-MM-DD; R1.2)\n", st->name);
		return CMD_REFUSED;
	}
	if (until && x->end_date[0] && strcmp(until, x->end_date) > 0) {
		fprintf(e->err, "custctl: the grant would outlast %s's engagement (until %s)\n",
			x->login, x->end_date);
		return CMD_REFUSED;
	}
	copy(g->role, sizeof g->role, role->name);
	copy(g->end_date, sizeof g->end_date, until ? until : "");
	if (customers) {
		char *list = strdup(customers), *save = NULL;
		g->scoped = true;
		for (char *t = list ? strtok_r(list, ",", &save) : NULL; t;
		     t = strtok_r(NULL, ",", &save)) {
			struct customer c;
			if (vault_customer_by_name(e->v, t, &c) != 0) {
				fprintf(e->err, "custctl: no customer '%s'\n", t);
				free(list);
				return CMD_REFUSED;
			}
			int64_t *np = realloc(g->customers, (g->ncustomers + 1) * sizeof *np);
			if (!np) {
				free(list);
				return CMD_REFUSED;
			}
			g->customers = np;
			g->customers[g->ncustomers++] = c.id;
		}
		free(list);
		if (g->ncustomers == 0) {
			fprintf(e->err, "custctl: --customers names no customer\n");
			return CMD_REFUSED;
		}
	}
	return CMD_OK;
}

/* Says what the staff-type ceiling will keep out of a role, so nobody is
 * surprised later. */
void cmd_note_ceiling(struct cmd_env *e, const struct employee *x, const char *rolename);
void cmd_note_ceiling(struct cmd_env *e, const struct employee *x, const char *rolename)
{
	const struct role *role = policy_role(e->pol, rolename);
	const struct stafftype *st = policy_stafftype(e->pol, x->staff_type);
	for (size_t i = 0; role && st && i < e->pol->cat->nfields; i++) {
		const struct field_def *f = &e->pol->cat->fields[i];
		if (role->rights.field[i] && f->cls->level > st->max_level) {
			fprintf(e->out, "note: staff type %s reaches level %d: class %s (level %d) stays "
					"out of reach\n", st->name, st->max_level, f->cls->name,
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
		return CMD_REFUSED;
	const char *verb = pos[0];

	if (!strcmp(verb, "add") && npos == 3) {
		/* Rights come through applications (R3.1); this is root's break-glass. */
		if (!e->root) {
			fprintf(e->err, "custctl: refused: grants come through applications: a head "
					"files one (custctl app new), administration approves, technical "
					"implements (R3.1)\n");
			return CMD_REFUSED;
		}
		const struct employee *x = staff_by_login(s, pos[1]);
		struct grant g;
		int64_t id = 0;
		memset(&g, 0, sizeof g);
		if (!x) {
			fprintf(e->err, "custctl: %s is not on the staff register\n", pos[1]);
			return CMD_REFUSED;
		}
		if (note && !text_ok(e, "--note", note, sizeof g.note))
			return CMD_REFUSED;
		int rc = cmd_check_grant(e, x, pos[2], customers, until, &g);
		if (rc) {
			free(g.customers);
			return rc;
		}
		snprintf(g.note, sizeof g.note, "break-glass by root%s%s", note ? ": " : "",
			 note ? note : "");
		int err = store_begin(e->v->st, true);
		if (!err)
			err = staff_grant_add(e->v->st, x->id, &g, e->uid, &id);
		free(g.customers);
		if (commit_or_report(e, err, "add the grant"))
			return CMD_REFUSED;
		fprintf(e->out, "grant #%lld (break-glass): %s holds role %s on %s%s%s\n",
			(long long)id, x->login, g.role, customers ? customers : "all customers",
			until ? " until " : "", until ? until : "");
		cmd_note_ceiling(e, x, g.role);
		return CMD_OK;
	}
	if (!strcmp(verb, "revoke") && npos == 2) {
		if (!cmd_may(e, PROC_APPROVE, "revoking a grant"))
			return CMD_REFUSED;
		char *end;
		long long id = strtoll(pos[1], &end, 10);
		if (*end || id <= 0)
			goto usage;
		int err = store_begin(e->v->st, true);
		if (!err)
			err = staff_grant_end(e->v->st, id, GRANT_REVOKED, e->uid);
		if (err == ENOENT) {
			store_rollback(e->v->st);
			fprintf(e->err, "custctl: grant %lld: no such active grant\n", id);
			return CMD_REFUSED;
		}
		if (commit_or_report(e, err, "revoke the grant"))
			return CMD_REFUSED;
		fprintf(e->out, "grant #%lld revoked; it stops working at once\n", id);
		return CMD_OK;
	}
	if (!strcmp(verb, "list") && npos <= 2) {
		const struct employee *x = npos == 2 ? staff_by_login(s, pos[1]) : NULL;
		if (npos == 2 && !x) {
			fprintf(e->err, "custctl: %s is not on the staff register\n", pos[1]);
			return CMD_REFUSED;
		}
		struct grant_print gp = { e, s, json };
		if (!json)
			fprintf(e->out, "%5s  %-16s %-16s %-10s %-10s %-12s %s\n", "ID", "LOGIN",
				"ROLE", "STATUS", "UNTIL", "ORIGIN", "CUSTOMERS");
		int err = staff_grants_list(e->v->st, x ? x->id : 0, print_grant, &gp);
		return err ? CMD_REFUSED : CMD_OK;
	}
usage:
	fprintf(e->err,
		"usage: custctl grant list [LOGIN] [--json]\n"
		"       custctl grant revoke GRANT_ID\n"
		"       custctl grant add STORE LOGIN ROLE [--customers C1,C2] [--until YYYY-MM-DD]\n"
		"                         [--note TEXT]   (root only: break-glass)\n");
	return CMD_USAGE;
}

/* ---- explain, whoami ---- */

static void print_step(void *ctx, const char *line)
{
	fprintf(ctx, "  %s\n", line);
}

int cmd_explain(struct cmd_env *e, int argc, char **argv)
{
	char *pos[3];
	int npos;
	if (cmd_parse(e, argc, argv, NULL, pos, 3, &npos) || npos < 1)
		goto usage;
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
		return CMD_REFUSED;
	const struct employee *x = login ? staff_by_login(s, login) : e->me;
	uid_t uid = x ? x->uid : e->uid;
	if (login && !x) {
		fprintf(e->err, "custctl: %s is not on the staff register\n", login);
		return CMD_REFUSED;
	}
	if (e->root && !login) {
		fprintf(e->err, "custctl: explain for whom? (custctl explain STORE LOGIN ...)\n");
		return CMD_USAGE;
	}
	if (!e->root && x != e->me && !(cmd_may(e, PROC_APPROVE, "explaining another person's "
							      "access")))
		return CMD_REFUSED;

	char what[NAME_MAX_BYTES * 2 + 2];
	copy(what, sizeof what, pos[at]);
	char *slash = strchr(what, '/');
	if (slash)
		*slash++ = '\0';
	struct customer c;
	const struct field_def *def = slash ? catalog_field(e->pol->cat, slash) : NULL;
	if (vault_customer_by_name(e->v, what, &c) != 0) {
		fprintf(e->err, "custctl: no customer '%s'\n", what);
		return CMD_REFUSED;
	}
	if (slash && !def) {
		fprintf(e->err, "custctl: no field '%s' in the catalogue\n", slash);
		return CMD_REFUSED;
	}
	char today[DATE_LEN];
	struct decision d;
	staff_today(today);
	struct access_request ar = {
		.uid = uid, .emp = x, .customer_id = c.id, .customer = c.name, .field = def,
		.right = def ? right : RIGHT_LIST, .today = today, .now_ns = vault_now_ns(),
		.view = e->view ? policy_role(e->pol, e->view) : NULL,
	};
	fprintf(e->out, "custfs explains: %s %s %s%s%s\n", x ? x->login : "you",
		def ? rightname : "seeing", c.name, def ? "/" : "", def ? def->name : "");
	access_decide(e->pol, &ar, &d, print_step, e->out);
	fprintf(e->out, "Decision: %s%s (rule %s)\n", d.allow ? "ALLOW" : "DENY",
		d.masked ? ", masked" : "", d.rule);
	if (!d.allow)
		fprintf(e->out, "%s\n", ACCESS_APPEAL_HINT);
	return d.allow ? CMD_OK : CMD_REFUSED;
usage:
	fprintf(e->err, "usage: custctl explain [LOGIN] CUSTOMER[/FIELD] [read|write]\n"
			"(root on the store files: custctl explain STORE LOGIN CUSTOMER[/FIELD])\n");
	return CMD_USAGE;
}

int cmd_whoami(struct cmd_env *e, int argc, char **argv)
{
	bool json = false;
	const struct cmd_opt opts[] = { { "json", false, NULL, &json }, { NULL, false, NULL, NULL } };
	char *pos[1];
	int npos;
	if (cmd_parse(e, argc, argv, opts, pos, 0, &npos))
		return CMD_USAGE;
	if (e->root) {
		fprintf(e->out, "root (uid 0): the system's administrator; break-glass changes are "
				"recorded as such\n");
		return CMD_OK;
	}
	const struct staff *s = cmd_register(e);
	const struct employee *x = s ? staff_by_uid(s, e->uid) : NULL;
	if (!x) {
		fprintf(e->out, "uid %u is not on the staff register\n", (unsigned)e->uid);
		return CMD_REFUSED;
	}
	print_employee(e, x, json);
	return CMD_OK;
}
