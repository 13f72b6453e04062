#include "cmd.h"

#include "access.h"
#include "clock.h"
#include "text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct {
	const char *verb;
	int (*fn)(struct cmd_env *e, int argc, char **argv);
} verbs[] = {
	{ "whoami", cmd_whoami },   { "employee", cmd_employee }, { "grant", cmd_grant },
	{ "explain", cmd_explain }, { "app", cmd_app },           { "appeal", cmd_appeal },
	{ "report", cmd_report },   { "policy", cmd_policy },     { "checkout", cmd_checkout },
	{ "checkouts", cmd_checkouts }, { "return", cmd_return }, { "audit", cmd_audit },
	{ "inbox", cmd_inbox },     { "erase", cmd_erase },       { "prune", cmd_prune },
};

bool cmd_known(const char *verb)
{
	for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
		if (strcmp(verbs[i].verb, verb) == 0)
			return true;
	return false;
}

int cmd_run(struct cmd_env *e, int argc, char **argv)
{
	for (size_t i = 0; argc > 0 && i < sizeof verbs / sizeof *verbs; i++)
		if (strcmp(verbs[i].verb, argv[0]) == 0)
			return verbs[i].fn(e, argc, argv);
	fprintf(e->err, _("custctl: unknown command '%s'\n"), argc > 0 ? argv[0] : "");
	return EXIT_USAGE;
}

int cmd_parse(struct cmd_env *e, int argc, char **argv, const struct cmd_opt *opts, char **pos,
	      int maxpos, int *npos)
{
	*npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (e->help || !strcmp(a, "--help"))
			return EXIT_USAGE; /* the caller prints its usage lines */
		if (a[0] == '-' && a[1] == '-' && a[2]) {
			const char *name = a + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			const struct cmd_opt *o = opts;
			while (o && o->name && (strlen(o->name) != len || strncmp(o->name, name, len)))
				o++;
			if (!o || !o->name) {
				fprintf(e->err, _("custctl: unknown option '%s'\n"), a);
				return EXIT_USAGE;
			}
			if (o->takes_value) {
				if (eq) {
					*o->value = eq + 1;
				} else if (i + 1 < argc) {
					*o->value = argv[++i];
				} else {
					fprintf(e->err, _("custctl: option '%s' needs a value\n"), a);
					return EXIT_USAGE;
				}
			} else if (eq) {
				fprintf(e->err, _("custctl: option '--%s' takes no value\n"), o->name);
				return EXIT_USAGE;
			} else {
				*o->flag = true;
			}
		} else {
			if (*npos == maxpos) {
				fprintf(e->err, _("custctl: unexpected '%s'\n"), a);
				return EXIT_USAGE;
			}
			pos[(*npos)++] = argv[i];
		}
	}
	return 0;
}

bool cmd_may(struct cmd_env *e, enum procedure pr, const char *what)
{
	if (e->root)
		return true;
	const struct department *d = e->pol->procedure[pr];
	if (e->me && !e->me->departed && d && strcmp(e->me->department, d->name) == 0)
		return true;
	fprintf(e->err, _("custctl: refused: %s is for department %s (procedure %s)%s\n"), _(what),
		d ? d->name : _("(none in the policy)"), procedure_name(pr),
		e->me ? "" : _("; you are not on the staff register"));
	return false;
}

bool cmd_text_ok(struct cmd_env *e, const char *what, const char *s, size_t cap, bool multiline)
{
	size_t n = strlen(s);
	const char *why = n >= cap ? N_("is too long") : text_problem(s, n, multiline);
	if (why) {
		fprintf(e->err, _("custctl: %s %s (at most %zu bytes of UTF-8 text, no control "
				"characters)\n"), _(what), _(why), cap - 1);
		return false;
	}
	return true;
}

bool cmd_sees_customer(struct cmd_env *e, const struct customer *c)
{
	if (e->root)
		return true;
	char today[DATE_LEN];
	struct decision d;
	clock_today(today);
	struct access_request ar = {
		.uid = e->uid, .emp = e->me, .customer_id = c->id, .customer = c->name,
		.right = RIGHT_LIST, .today = today, .now_ns = clock_now_ns(),
		.view = e->view ? policy_role(e->pol, e->view) : NULL,
	};
	access_decide(e->pol, &ar, &d, NULL, NULL);
	return d.allow;
}

int cmd_customer(struct cmd_env *e, const char *name, bool any, struct customer *c)
{
	int rc = vault_customer_by_name(e->v, name, c);
	if (rc == 0 && !any && !cmd_sees_customer(e, c)) {
		/* Hidden is nonexistent: the same answer; the probe is on the record
		 * with the customer's store id (never the name). */
		struct audit_event ev = {
			.uid = e->uid, .login = e->me ? e->me->login : "",
			.department = e->me ? e->me->department : "", .pid = 0, .comm = "custctl",
			.customer_id = c->id, .action = "probe-hidden", .allow = false,
			.rule = "hidden", .reason = "a command named a customer hidden from its caller",
		};
		if (e->v->audit)
			audit_note(e->v->audit, &ev);
		rc = ENOENT;
	}
	if (rc) {
		fprintf(e->err, _("custctl: no customer '%s'\n"), text_inert(name));
		memset(c, 0, sizeof *c);
	}
	return rc;
}

const struct employee *cmd_employee_by_id(const struct staff *s, int64_t id)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (s->emps[i].id == id)
			return &s->emps[i];
	return NULL;
}

void cmd_time(int64_t ns, char out[32])
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	if (ns == 0) {
		snprintf(out, 32, "-");
		return;
	}
	localtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
}

const struct staff *cmd_register(struct cmd_env *e)
{
	int err = 0;
	const struct staff *s = staff_current(e->v->db, 0, &err);
	/* A fresh snapshot frees the old one, which e->me pointed into. */
	e->me = s && !e->root ? staff_by_uid(s, e->uid) : NULL;
	if (!s)
		fprintf(e->err, _("custctl: cannot read the staff register: %s\n"), strerror(err));
	return s;
}

int64_t cmd_parse_id(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	return *end || v <= 0 ? 0 : (int64_t)v;
}

int cmd_finish(struct cmd_env *e, int err, const char *what, bool staff_changed)
{
	if (!err)
		err = db_commit(e->v->db);
	else
		db_rollback(e->v->db);
	if (err == ESTALE) {
		fprintf(e->err, _("custctl: refused: %s: it is no longer at that step (someone acted "
				"first)\n"), _(what));
		return EXIT_REFUSED;
	}
	if (err) {
		fprintf(e->err, _("custctl: cannot %s: %s\n"), _(what), strerror(err));
		return EXIT_REFUSED;
	}
	if (staff_changed && e->staff_changed && e->staff_changed(e->ctx, e->err) > 0) {
		fprintf(e->err, _("custctl: %s: done and recorded, but not every mount confirmed it "
				"(see above)\n"), _(what));
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

void cmd_describe(int argc, char **argv, char *out, size_t cap)
{
	static const char *const keywords[] = {
		"new", "list", "show", "approve", "reject", "implement", "withdraw", "forward",
		"answer", "resolve", "add", "set", "leave", "revoke", "install", "reload", "archive",
		"verify", "checkpoint", "pubkey", "report", "sample", "deny", "check", "cancel",
		"preview", "replay", "propose", "proposals", "history", "diff", NULL,
	};
	size_t len = 0;
	out[0] = '\0';
	for (int i = 0; i < argc && len + 2 < cap; i++) {
		const char *a = argv[i];
		bool keep = i == 0 || a[strspn(a, "0123456789")] == '\0';
		for (int k = 0; !keep && keywords[k]; k++)
			keep = i == 1 && !strcmp(a, keywords[k]);
		if (!keep && a[0] == '-' && a[1] == '-') {
			/* the option's name, never its value */
			size_t n = strcspn(a, "=");
			len += (size_t)snprintf(out + len, cap - len, "%s%.*s", len ? " " : "", (int)n, a);
			continue;
		}
		if (!keep)
			a = "_";
		len += (size_t)snprintf(out + len, cap - len, "%s%.60s", len ? " " : "", a);
	}
}

int cmd_record_act(struct cmd_env *e, const char *action, int64_t customer_id, const char *rule,
		   const char *detail)
{
	struct audit_event ev = {
		.uid = e->uid, .login = e->me ? e->me->login : "",
		.department = e->me ? e->me->department : "", .comm = "custctl",
		.customer_id = customer_id, .action = action, .allow = true,
		.rule = rule, .reason = "", .detail = detail,
	};
	return e->v->audit ? audit_append(e->v->audit, &ev, true) : EIO;
}
