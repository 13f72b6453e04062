#include "cmd.h"

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
	fprintf(e->err, "custctl: unknown command '%s'\n", argc > 0 ? argv[0] : "");
	return CMD_USAGE;
}

int cmd_parse(struct cmd_env *e, int argc, char **argv, const struct cmd_opt *opts, char **pos,
	      int maxpos, int *npos)
{
	*npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] == '-' && a[1] == '-' && a[2]) {
			const char *name = a + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			const struct cmd_opt *o = opts;
			while (o && o->name && (strlen(o->name) != len || strncmp(o->name, name, len)))
				o++;
			if (!o || !o->name) {
				fprintf(e->err, "custctl: unknown option '%s'\n", a);
				return CMD_USAGE;
			}
			if (o->takes_value) {
				if (eq) {
					*o->value = eq + 1;
				} else if (i + 1 < argc) {
					*o->value = argv[++i];
				} else {
					fprintf(e->err, "custctl: option '%s' needs a value\n", a);
					return CMD_USAGE;
				}
			} else if (eq) {
				fprintf(e->err, "custctl: option '--%s' takes no value\n", o->name);
				return CMD_USAGE;
			} else {
				*o->flag = true;
			}
		} else {
			if (*npos == maxpos) {
				fprintf(e->err, "custctl: unexpected '%s'\n", a);
				return CMD_USAGE;
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
	fprintf(e->err, "custctl: refused: %s is for department %s (procedure %s)%s\n", what,
		d ? d->name : "(none in the policy)", procedure_name(pr),
		e->me ? "" : "; you are not on the staff register");
	return false;
}

void cmd_json_str(FILE *out, const char *s)
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
	const struct staff *s = staff_current(e->v->st, 0, &err);
	/* A fresh snapshot frees the old one, which e->me pointed into. */
	e->me = s && !e->root ? staff_by_uid(s, e->uid) : NULL;
	if (!s)
		fprintf(e->err, "custctl: cannot read the staff register: %s\n", strerror(err));
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
		err = store_commit(e->v->st);
	else
		store_rollback(e->v->st);
	if (err == ESTALE) {
		fprintf(e->err, "custctl: refused: %s: it is no longer at that step (someone acted "
				"first)\n", what);
		return CMD_REFUSED;
	}
	if (err) {
		fprintf(e->err, "custctl: cannot %s: %s\n", what, strerror(err));
		return CMD_REFUSED;
	}
	if (staff_changed && e->staff_changed)
		e->staff_changed(e->ctx);
	return CMD_OK;
}

void cmd_describe(int argc, char **argv, char *out, size_t cap)
{
	static const char *const keywords[] = {
		"new", "list", "show", "approve", "reject", "implement", "withdraw", "forward",
		"answer", "resolve", "add", "set", "leave", "revoke", "install", "reload", "archive",
		"verify", "checkpoint", "pubkey", "report", "sample", "deny", "check", NULL,
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
