/* custctl employee, grant and explain: the staff register and its grants
 * (R1.2, R3.1-R3.3, R4.2, R4.3). Root only for now: they work on the store
 * files directly. */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "ctl.h"
#include "names.h"
#include "staff.h"

enum {
	OPT_NAME = 256, OPT_DEPT, OPT_POST, OPT_TYPE, OPT_ORG, OPT_UNTIL, OPT_HEAD, OPT_NO_HEAD,
	OPT_GROUP, OPT_JSON, OPT_CUSTOMERS, OPT_NOTE, OPT_PASSFILE,
};

/* A short free-text attribute: UTF-8, no control characters, bounded. */
static bool text_ok(const char *what, const char *s, size_t cap)
{
	size_t n = strlen(s);
	if (n >= cap || !utf8_valid(s, n)) {
		fprintf(stderr, "custctl: %s must be UTF-8 text of at most %zu bytes\n", what, cap - 1);
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			fprintf(stderr, "custctl: %s contains a control character\n", what);
			return false;
		}
	return true;
}

static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src);
}

void ctl_json_str(FILE *out, const char *s)
{
	putc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			putc(*p, out);
	}
	putc('"', out);
}

struct emp_opts {
	const char *name, *dept, *post, *type, *org, *until, *group;
	int head; /* -1 unset, 0 no, 1 yes */
	bool json;
	const char *passfile;
};

static int parse_emp_opts(int argc, char **argv, struct emp_opts *o)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, OPT_NAME },
		{ "dept", required_argument, NULL, OPT_DEPT },
		{ "department", required_argument, NULL, OPT_DEPT },
		{ "post", required_argument, NULL, OPT_POST },
		{ "type", required_argument, NULL, OPT_TYPE },
		{ "org", required_argument, NULL, OPT_ORG },
		{ "until", required_argument, NULL, OPT_UNTIL },
		{ "head", no_argument, NULL, OPT_HEAD },
		{ "no-head", no_argument, NULL, OPT_NO_HEAD },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "passphrase-file", required_argument, NULL, OPT_PASSFILE },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	memset(o, 0, sizeof *o);
	o->head = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_NAME: o->name = optarg; break;
		case OPT_DEPT: o->dept = optarg; break;
		case OPT_POST: o->post = optarg; break;
		case OPT_TYPE: o->type = optarg; break;
		case OPT_ORG: o->org = optarg; break;
		case OPT_UNTIL: o->until = optarg; break;
		case OPT_HEAD: o->head = 1; break;
		case OPT_NO_HEAD: o->head = 0; break;
		case OPT_GROUP: o->group = optarg; break;
		case OPT_JSON: o->json = true; break;
		case OPT_PASSFILE: o->passfile = optarg; break;
		default: return -1;
		}
	}
	return 0;
}

/* Applies O to E and checks the result against the policy. */
static bool apply_emp_opts(const struct policy *p, const struct emp_opts *o, struct employee *e)
{
	if (o->name && text_ok("--name", o->name, sizeof e->name))
		copy(e->name, sizeof e->name, o->name);
	else if (o->name)
		return false;
	if (o->post && text_ok("--post", o->post, sizeof e->post))
		copy(e->post, sizeof e->post, o->post);
	else if (o->post)
		return false;
	if (o->org && text_ok("--org", o->org, sizeof e->organisation))
		copy(e->organisation, sizeof e->organisation, o->org);
	else if (o->org)
		return false;
	if (o->dept) {
		if (!policy_department(p, o->dept)) {
			fprintf(stderr, "custctl: the policy has no department '%s'\n", o->dept);
			return false;
		}
		copy(e->department, sizeof e->department, o->dept);
	}
	if (o->type) {
		if (!policy_stafftype(p, o->type)) {
			fprintf(stderr, "custctl: the policy has no staff type '%s'\n", o->type);
			return false;
		}
		copy(e->staff_type, sizeof e->staff_type, o->type);
	}
	if (o->until) {
		if (o->until[0] && !staff_date_ok(o->until)) {
			fprintf(stderr, "custctl: --until takes a date YYYY-MM-DD\n");
			return false;
		}
		copy(e->end_date, sizeof e->end_date, o->until);
	}
	if (o->head >= 0)
		e->is_head = o->head;
	if (o->group) {
		if (strcmp(o->group, "none") && strcmp(o->group, "member") && strcmp(o->group, "leader")) {
			fprintf(stderr, "custctl: --group is none, member or leader\n");
			return false;
		}
		copy(e->group_role, sizeof e->group_role, o->group);
	}
	const struct stafftype *st = policy_stafftype(p, e->staff_type);
	if (st && st->expiring && !e->end_date[0]) {
		fprintf(stderr, "custctl: staff type %s needs an end date (--until YYYY-MM-DD, R1.2)\n",
			st->name);
		return false;
	}
	if (st && st->scoped && !e->organisation[0]) {
		fprintf(stderr, "custctl: staff type %s needs the organisation (--org NAME)\n",
			st->name);
		return false;
	}
	return true;
}

static void print_employee(const struct employee *e, bool json)
{
	if (json) {
		printf("{\"login\":");
		ctl_json_str(stdout, e->login);
		printf(",\"uid\":%u,\"name\":", (unsigned)e->uid);
		ctl_json_str(stdout, e->name);
		printf(",\"department\":");
		ctl_json_str(stdout, e->department);
		printf(",\"post\":");
		ctl_json_str(stdout, e->post);
		printf(",\"staff_type\":");
		ctl_json_str(stdout, e->staff_type);
		printf(",\"organisation\":");
		ctl_json_str(stdout, e->organisation);
		printf(",\"end_date\":");
		ctl_json_str(stdout, e->end_date);
		printf(",\"head\":%s,\"group\":", e->is_head ? "true" : "false");
		ctl_json_str(stdout, e->group_role);
		printf(",\"departed\":%s,\"active_grants\":%zu}\n", e->departed ? "true" : "false",
		       e->ngrants);
		return;
	}
	printf("%-16s %6u  %-20s %-11s %-14s %-8s %-10s%s%s%s%s  grants:%zu\n", e->login,
	       (unsigned)e->uid, e->name, e->department, e->post[0] ? e->post : "-",
	       e->staff_type, e->end_date[0] ? e->end_date : "-", e->is_head ? " head" : "",
	       strcmp(e->group_role, "none") ? " group-" : "",
	       strcmp(e->group_role, "none") ? e->group_role : "", e->departed ? " DEPARTED" : "",
	       e->ngrants);
}

static int employee_add(struct vault *v, const char *login, const struct emp_opts *o)
{
	struct employee e;
	struct passwd *pw = getpwnam(login);
	int64_t id;

	memset(&e, 0, sizeof e);
	if (!pw) {
		fprintf(stderr, "custctl: no Linux account '%s' (staff use their own accounts)\n",
			login);
		return CTL_REFUSED;
	}
	if (pw->pw_uid == 0) {
		fprintf(stderr, "custctl: root is the system's administrator, not staff\n");
		return CTL_REFUSED;
	}
	if (!o->name || !o->dept || !o->type) {
		fprintf(stderr, "custctl: employee add needs --name, --dept and --type\n");
		return CTL_USAGE;
	}
	if (strlen(login) >= sizeof e.login) {
		fprintf(stderr, "custctl: login is too long\n");
		return CTL_REFUSED;
	}
	copy(e.login, sizeof e.login, login);
	e.uid = pw->pw_uid;
	copy(e.group_role, sizeof e.group_role, "none");
	if (!apply_emp_opts(v->policy, o, &e))
		return CTL_REFUSED;
	int err = store_begin(v->st, true);
	if (!err)
		err = staff_employee_add(v->st, &e, &id);
	if (!err)
		err = store_commit(v->st);
	else
		store_rollback(v->st);
	if (err == EEXIST) {
		fprintf(stderr, "custctl: %s (uid %u) is already on the staff register\n", login,
			(unsigned)e.uid);
		return CTL_REFUSED;
	}
	if (err) {
		fprintf(stderr, "custctl: cannot add %s: %s\n", login, strerror(err));
		return CTL_REFUSED;
	}
	printf("added %s (uid %u): %s, department %s, staff type %s. Rights come with grants.\n",
	       login, (unsigned)e.uid, e.name, e.department, e.staff_type);
	return CTL_OK;
}

static int employee_set(struct vault *v, const struct employee *cur, const struct emp_opts *o)
{
	struct employee e = *cur;
	int suspended = 0;
	e.grants = NULL;
	e.ngrants = 0;
	if (!apply_emp_opts(v->policy, o, &e))
		return CTL_REFUSED;
	/* R3.2: a new post or department needs a new application. */
	bool job_change = strcmp(e.department, cur->department) || strcmp(e.post, cur->post);
	int err = store_begin(v->st, true);
	if (!err)
		err = staff_employee_update(v->st, &e);
	if (!err && job_change)
		err = staff_grants_suspend_all(v->st, e.id, getuid(), &suspended);
	if (!err)
		err = store_commit(v->st);
	else
		store_rollback(v->st);
	if (err) {
		fprintf(stderr, "custctl: cannot update %s: %s\n", e.login, strerror(err));
		return CTL_REFUSED;
	}
	printf("updated %s\n", e.login);
	if (job_change)
		printf("job change (R3.2): %d grant%s suspended; %s needs a new application\n",
		       suspended, suspended == 1 ? "" : "s", e.login);
	return CTL_OK;
}

static int employee_leave(struct vault *v, const struct employee *cur)
{
	struct employee e = *cur;
	int ended = 0;
	e.grants = NULL;
	e.ngrants = 0;
	e.departed = true;
	int err = store_begin(v->st, true);
	if (!err)
		err = staff_employee_update(v->st, &e);
	for (size_t i = 0; !err && i < cur->ngrants; i++, ended++)
		err = staff_grant_end(v->st, cur->grants[i].id, GRANT_REVOKED, getuid());
	if (!err)
		err = store_commit(v->st);
	else
		store_rollback(v->st);
	if (err) {
		fprintf(stderr, "custctl: cannot record %s's departure: %s\n", e.login, strerror(err));
		return CTL_REFUSED;
	}
	printf("%s has left (R4.3): %d grant%s revoked; access ends at once; history stays\n",
	       e.login, ended, ended == 1 ? "" : "s");
	return CTL_OK;
}

int ctl_employee(int argc, char **argv)
{
	struct emp_opts o;
	if (argc < 3 || parse_emp_opts(argc - 1, argv + 1, &o) != 0)
		goto usage;
	const char *verb = argv[1];
	int npos = argc - 1 - optind; /* positional args after VERB */
	char **pos = argv + 1 + optind;
	if (npos < 1)
		goto usage;
	struct vault *v = ctl_open_vault(pos[0], o.passfile);
	if (!v)
		return CTL_REFUSED;
	int rc = CTL_USAGE, err = 0;
	const struct staff *s = NULL;
	const struct employee *e = NULL;
	if (strcmp(verb, "add") != 0) {
		s = staff_current(v->st, 0, &err);
		if (!s) {
			fprintf(stderr, "custctl: cannot read the staff register: %s\n", strerror(err));
			rc = CTL_REFUSED;
			goto out;
		}
		if (npos >= 2 && !(e = staff_by_login(s, pos[1]))) {
			fprintf(stderr, "custctl: %s is not on the staff register\n", pos[1]);
			rc = CTL_REFUSED;
			goto out;
		}
	}
	bool change = npos == 2 && (strcmp(verb, "add") == 0 || strcmp(verb, "set") == 0 ||
				    strcmp(verb, "leave") == 0);
	if (change) {
		if (verb[0] == 'a')
			rc = employee_add(v, pos[1], &o);
		else if (verb[0] == 's')
			rc = employee_set(v, e, &o);
		else
			rc = employee_leave(v, e);
		if (rc == CTL_OK)
			ctl_signal_daemons(pos[0], SIGUSR1); /* mounts see the change at once */
	} else if (strcmp(verb, "show") == 0 && npos == 2) {
		print_employee(e, o.json);
		rc = CTL_OK;
	} else if (strcmp(verb, "list") == 0 && npos == 1) {
		if (!o.json)
			printf("%-16s %6s  %-20s %-11s %-14s %-8s %-10s\n", "LOGIN", "UID", "NAME",
			       "DEPARTMENT", "POST", "TYPE", "UNTIL");
		for (size_t i = 0; i < s->n; i++)
			print_employee(&s->emps[i], o.json);
		rc = CTL_OK;
	}
out:
	vault_close(v);
	if (rc != CTL_USAGE)
		return rc;
usage:
	fprintf(stderr,
		"usage: custctl employee add STORE LOGIN --name NAME --dept DEPT --type TYPE\n"
		"                            [--post POST] [--org ORG] [--until YYYY-MM-DD]\n"
		"                            [--head] [--group none|member|leader]\n"
		"       custctl employee set STORE LOGIN [the same options] [--no-head]\n"
		"       custctl employee leave STORE LOGIN\n"
		"       custctl employee show STORE LOGIN [--json]\n"
		"       custctl employee list STORE [--json]\n");
	return CTL_USAGE;
}

/* ---- grants ---- */

struct grant_print {
	const struct staff *s;
	struct vault *v;
	bool json;
	int n;
};

static const char *login_of(const struct staff *s, int64_t employee_id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->emps[i].id == employee_id)
			return s->emps[i].login;
	return "?";
}

static int print_grant(void *ctx, int64_t employee_id, const struct grant *g)
{
	struct grant_print *gp = ctx;
	char scope[1024] = "all customers";
	if (g->scoped) {
		size_t len = 0;
		scope[0] = '\0';
		for (size_t i = 0; i < g->ncustomers && len < sizeof scope - 64; i++) {
			struct customer c;
			if (vault_customer_get(gp->v, g->customers[i], &c) != 0)
				snprintf(c.name, sizeof c.name, "#%lld", (long long)g->customers[i]);
			len += (size_t)snprintf(scope + len, sizeof scope - len, "%s%s", i ? "," : "",
						c.name);
		}
	}
	if (gp->json) {
		printf("{\"id\":%lld,\"login\":", (long long)g->id);
		ctl_json_str(stdout, login_of(gp->s, employee_id));
		printf(",\"role\":");
		ctl_json_str(stdout, g->role);
		printf(",\"scope\":");
		ctl_json_str(stdout, g->scoped ? scope : "*");
		printf(",\"until\":");
		ctl_json_str(stdout, g->end_date);
		printf(",\"status\":\"%s\",\"note\":", grant_status_name(g->status));
		ctl_json_str(stdout, g->note);
		printf("}\n");
	} else {
		printf("%5lld  %-16s %-16s %-10s %-10s %s\n", (long long)g->id,
		       login_of(gp->s, employee_id), g->role, grant_status_name(g->status),
		       g->end_date[0] ? g->end_date : "-", scope);
	}
	gp->n++;
	return 0;
}

static int grant_add(struct vault *v, const struct employee *e, const char *rolename,
		     const char *customers, const char *until, const char *note)
{
	const struct policy *p = v->policy;
	const struct role *role = policy_role(p, rolename);
	const struct stafftype *st = policy_stafftype(p, e->staff_type);
	struct grant g;
	int64_t id = 0;
	int rc = CTL_REFUSED;

	memset(&g, 0, sizeof g);
	if (e->departed) {
		fprintf(stderr, "custctl: %s has left (R4.3)\n", e->login);
		return CTL_REFUSED;
	}
	if (!role) {
		fprintf(stderr, "custctl: the policy has no role '%s'\n", rolename);
		return CTL_REFUSED;
	}
	if (strcmp(role->dept->name, e->department) != 0) {
		fprintf(stderr, "custctl: role %s belongs to department %s; %s is in %s\n", role->name,
			role->dept->name, e->login, e->department);
		return CTL_REFUSED;
	}
	if (until && !staff_date_ok(until)) {
		fprintf(stderr, "custctl: --until takes a date YYYY-MM-DD\n");
		return CTL_USAGE;
	}
	if (st && st->scoped && !customers) {
		fprintf(stderr, "custctl: staff type %s is granted named customers only "
				"(--customers C1,C2; R1.2)\n", st->name);
		return CTL_REFUSED;
	}
	if (st && st->expiring && !until) {
		fprintf(stderr, "custctl: staff type %s is granted until an end date only "
				"(--until YYYY-MM-DD; R1.2)\n", st->name);
		return CTL_REFUSED;
	}
	if (until && e->end_date[0] && strcmp(until, e->end_date) > 0) {
		fprintf(stderr, "custctl: the grant would outlast %s's engagement (until %s)\n",
			e->login, e->end_date);
		return CTL_REFUSED;
	}
	copy(g.role, sizeof g.role, role->name);
	copy(g.end_date, sizeof g.end_date, until ? until : "");
	if (note && !text_ok("--note", note, sizeof g.note))
		return CTL_REFUSED;
	copy(g.note, sizeof g.note, note ? note : "");
	if (customers) {
		char *list = strdup(customers), *save = NULL;
		g.scoped = true;
		for (char *t = list ? strtok_r(list, ",", &save) : NULL; t;
		     t = strtok_r(NULL, ",", &save)) {
			struct customer c;
			if (vault_customer_by_name(v, t, &c) != 0) {
				fprintf(stderr, "custctl: no customer '%s'\n", t);
				goto out;
			}
			int64_t *np = realloc(g.customers, (g.ncustomers + 1) * sizeof *np);
			if (!np)
				goto out;
			g.customers = np;
			g.customers[g.ncustomers++] = c.id;
		}
		free(list);
		if (g.ncustomers == 0) {
			fprintf(stderr, "custctl: --customers names no customer\n");
			goto out;
		}
	}
	int err = store_begin(v->st, true);
	if (!err)
		err = staff_grant_add(v->st, e->id, &g, getuid(), &id);
	if (!err)
		err = store_commit(v->st);
	else
		store_rollback(v->st);
	if (err) {
		fprintf(stderr, "custctl: cannot add the grant: %s\n", strerror(err));
		goto out;
	}
	printf("grant #%lld: %s holds role %s on %s%s%s\n", (long long)id, e->login, role->name,
	       customers ? customers : "all customers", until ? " until " : "", until ? until : "");
	/* Say what the ceilings will keep out, so nobody is surprised later. */
	for (size_t i = 0; st && i < p->cat->nfields; i++) {
		const struct field_def *f = &p->cat->fields[i];
		if (role->rights.field[i] && f->cls->level > st->max_level) {
			printf("note: staff type %s reaches level %d: class %s (level %d) stays out of "
			       "reach\n", st->name, st->max_level, f->cls->name, f->cls->level);
			break;
		}
	}
	rc = CTL_OK;
out:
	free(g.customers);
	return rc;
}

int ctl_grant(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "customers", required_argument, NULL, OPT_CUSTOMERS },
		{ "until", required_argument, NULL, OPT_UNTIL },
		{ "note", required_argument, NULL, OPT_NOTE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "passphrase-file", required_argument, NULL, OPT_PASSFILE },
		{ NULL, 0, NULL, 0 },
	};
	const char *customers = NULL, *until = NULL, *note = NULL, *passfile = NULL;
	bool json = false;
	int c;

	if (argc < 3)
		goto usage;
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_CUSTOMERS: customers = optarg; break;
		case OPT_UNTIL: until = optarg; break;
		case OPT_NOTE: note = optarg; break;
		case OPT_JSON: json = true; break;
		case OPT_PASSFILE: passfile = optarg; break;
		default: goto usage;
		}
	}
	const char *verb = argv[1];
	int npos = argc - 1 - optind;
	char **pos = argv + 1 + optind;
	if (npos < 1)
		goto usage;
	struct vault *v = ctl_open_vault(pos[0], passfile);
	if (!v)
		return CTL_REFUSED;
	int err = 0, rc = CTL_USAGE;
	const struct staff *s = staff_current(v->st, 0, &err);
	if (!s) {
		fprintf(stderr, "custctl: cannot read the staff register: %s\n", strerror(err));
		vault_close(v);
		return CTL_REFUSED;
	}
	if (strcmp(verb, "add") == 0 && npos == 3) {
		const struct employee *e = staff_by_login(s, pos[1]);
		if (!e) {
			fprintf(stderr, "custctl: %s is not on the staff register\n", pos[1]);
			rc = CTL_REFUSED;
		} else {
			rc = grant_add(v, e, pos[2], customers, until, note);
		}
	} else if (strcmp(verb, "revoke") == 0 && npos == 2) {
		char *end;
		long long id = strtoll(pos[1], &end, 10);
		err = *end || id <= 0 ? EINVAL : store_begin(v->st, true);
		if (!err)
			err = staff_grant_end(v->st, id, GRANT_REVOKED, getuid());
		if (!err)
			err = store_commit(v->st);
		else
			store_rollback(v->st);
		if (err)
			fprintf(stderr, "custctl: grant %s: %s\n", pos[1],
				err == ENOENT ? "no such active grant" : strerror(err));
		else
			printf("grant #%lld revoked; it stops working at once\n", id);
		rc = err ? CTL_REFUSED : CTL_OK;
	}
	if (rc == CTL_OK)
		ctl_signal_daemons(pos[0], SIGUSR1); /* mounts see the change at once */
	if (strcmp(verb, "list") == 0 && (npos == 1 || npos == 2)) {
		const struct employee *e = npos == 2 ? staff_by_login(s, pos[1]) : NULL;
		if (npos == 2 && !e) {
			fprintf(stderr, "custctl: %s is not on the staff register\n", pos[1]);
			rc = CTL_REFUSED;
		} else {
			struct grant_print gp = { s, v, json, 0 };
			if (!json)
				printf("%5s  %-16s %-16s %-10s %-10s %s\n", "ID", "LOGIN", "ROLE",
				       "STATUS", "UNTIL", "CUSTOMERS");
			err = staff_grants_list(v->st, e ? e->id : 0, print_grant, &gp);
			rc = err ? CTL_REFUSED : CTL_OK;
		}
	}
	vault_close(v);
	if (rc != CTL_USAGE)
		return rc;
usage:
	fprintf(stderr,
		"usage: custctl grant add STORE LOGIN ROLE [--customers C1,C2] [--until YYYY-MM-DD]\n"
		"                         [--note TEXT]\n"
		"       custctl grant revoke STORE GRANT_ID\n"
		"       custctl grant list STORE [LOGIN] [--json]\n");
	return CTL_USAGE;
}

/* ---- explain ---- */

static void print_step(void *ctx, const char *line)
{
	(void)ctx;
	printf("  %s\n", line);
}

int ctl_explain(int argc, char **argv)
{
	if (argc < 4 || argc > 5)
		goto usage;
	const char *store = argv[1], *login = argv[2];
	char *what = strdup(argv[3]);
	const char *rightname = argc == 5 ? argv[4] : "read";
	enum access_right right;
	if (strcmp(rightname, "read") == 0)
		right = RIGHT_READ;
	else if (strcmp(rightname, "write") == 0)
		right = RIGHT_WRITE;
	else
		goto usage;
	if (!what)
		return CTL_REFUSED;
	char *slash = strchr(what, '/');
	if (slash)
		*slash++ = '\0';

	struct vault *v = ctl_open_vault(store, NULL);
	if (!v) {
		free(what);
		return CTL_REFUSED;
	}
	int rc = CTL_REFUSED, err = 0;
	const struct staff *s = staff_current(v->st, 0, &err);
	const struct employee *e = s ? staff_by_login(s, login) : NULL;
	struct passwd *pw = getpwnam(login);
	struct customer c;
	const struct field_def *def = slash ? catalog_field(v->policy->cat, slash) : NULL;
	if (!s) {
		fprintf(stderr, "custctl: cannot read the staff register: %s\n", strerror(err));
	} else if (!pw && !e) {
		fprintf(stderr, "custctl: no such user '%s'\n", login);
	} else if (vault_customer_by_name(v, what, &c) != 0) {
		fprintf(stderr, "custctl: no customer '%s'\n", what);
	} else if (slash && !def) {
		fprintf(stderr, "custctl: no field '%s' in the catalogue\n", slash);
	} else {
		char today[DATE_LEN];
		struct decision d;
		staff_today(today);
		struct access_request ar = {
			.uid = e ? e->uid : pw->pw_uid,
			.emp = e,
			.customer_id = c.id,
			.customer = c.name,
			.field = def,
			.right = def ? right : RIGHT_LIST,
			.today = today,
		};
		printf("custfs explains: %s %s %s%s%s\n", login, def ? rightname : "seeing", c.name,
		       def ? "/" : "", def ? def->name : "");
		access_decide(v->policy, &ar, &d, print_step, NULL);
		printf("Decision: %s%s (rule %s)\n", d.allow ? "ALLOW" : "DENY",
		       d.masked ? ", masked" : "", d.rule);
		if (!d.allow)
			printf("%s\n", ACCESS_APPEAL_HINT);
		rc = d.allow ? CTL_OK : CTL_REFUSED;
	}
	vault_close(v);
	free(what);
	return rc;
usage:
	fprintf(stderr, "usage: custctl explain STORE LOGIN CUSTOMER[/FIELD] [read|write]\n"
			"       (inside a mount, as yourself: echo 'CUSTOMER/FIELD read' > "
			"MOUNT/.custfs/explain; cat MOUNT/.custfs/explain)\n");
	return CTL_USAGE;
}
