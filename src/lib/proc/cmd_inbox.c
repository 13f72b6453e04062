/* custctl inbox: what waits for the caller's step (R3.1, R3.5, R4.2, R4.4):
 * applications to approve or implement, checkouts to approve, appeals to
 * forward or resolve, reports to resolve. Nobody is left to guess that work
 * waits for them. */
#include "cmd.h"

#include <string.h>

struct inbox {
	struct cmd_env *e;
	const struct staff *s;
	bool json;
	int n;
};

static const char *login_of(const struct staff *s, int64_t id)
{
	const struct employee *x = cmd_employee_by_id(s, id);
	return x ? x->login : "?";
}

/* S for the reader: translated in text, as it is in JSON. */
static const char *w(const struct inbox *ib, const char *s) __attribute__((format_arg(2)));
static const char *w(const struct inbox *ib, const char *s)
{
	return ib->json ? s : _(s);
}

static void item(struct inbox *ib, const char *kind, int64_t id, const char *who,
		 const char *what, const char *next)
{
	FILE *o = ib->e->out;
	ib->n++;
	if (ib->json) {
		fprintf(o, "{\"kind\":\"%s\",\"id\":%lld,\"who\":", kind, (long long)id);
		text_json(o, who);
		fprintf(o, ",\"what\":");
		text_json(o, what);
		fprintf(o, ",\"next\":");
		text_json(o, next);
		fprintf(o, "}\n");
		return;
	}
	char num[32];
	snprintf(num, sizeof num, "#%lld", (long long)id);
	fprintf(o, "%s %s %s %s\n%20s-> %s\n", text_padded(_(kind), 12), text_padded(num, 6),
		text_padded(text_inert(who), 16), text_inert(what), "", next);
}

static int app_item(void *ctx, const struct application *a)
{
	struct inbox *ib = ctx;
	char next[96], what[160];
	if (!app_waits_for_me(ib->e, ib->s, a, next, sizeof next))
		return 0;
	snprintf(what, sizeof what, w(ib, N_("%s %s (%s)")), a->change[0] ? w(ib, N_("change")) : w(ib, N_("role")),
		 a->change[0] ? a->change : a->role, w(ib, app_status_name(a->status)));
	item(ib, N_("application"), a->id, login_of(ib->s, a->employee_id), what, next);
	return 0;
}

static int checkout_item(void *ctx, const struct checkout *c)
{
	struct inbox *ib = ctx;
	struct cmd_env *e = ib->e;
	char next[96], what[720];
	if (c->status != CO_PENDING || !in_procedure(e, PROC_APPROVE) ||
	    c->employee_id == e->me->id)
		return 0;
	struct customer cust;
	if (vault_customer_get(e->v, c->customer_id, &cust) != 0)
		snprintf(cust.name, sizeof cust.name, "#%lld", (long long)c->customer_id);
	snprintf(what, sizeof what, w(ib, N_("checkout of %s/%s for %llds: %s")), cust.name,
		 c->field[0] ? c->field : c->cls[0] ? c->cls : "sensitive",
		 (long long)c->duration_s, c->purpose);
	snprintf(next, sizeof next, _("custctl checkout approve %lld | deny %lld --reason TEXT"),
		 (long long)c->id, (long long)c->id);
	item(ib, N_("checkout"), c->id, login_of(ib->s, c->employee_id), what, next);
	return 0;
}

static int case_item(void *ctx, const struct wf_case *c)
{
	struct inbox *ib = ctx;
	struct cmd_env *e = ib->e;
	const struct employee *who = cmd_employee_by_id(ib->s, c->filed_by);
	char next[96];
	if (c->status == CASE_RESOLVED || c->filed_by == e->me->id)
		return 0;
	bool head_step = c->is_appeal && c->status == CASE_OPEN && who && !who->is_head;
	if (head_step) {
		if (!e->me->is_head || strcmp(e->me->department, who->department))
			return 0;
		snprintf(next, sizeof next, _("custctl appeal forward %lld | answer %lld --note TEXT"),
			 (long long)c->id, (long long)c->id);
	} else {
		if (!in_procedure(e, PROC_APPROVE))
			return 0;
		snprintf(next, sizeof next, _("custctl %s resolve %lld --note TEXT"),
			 c->is_appeal ? "appeal" : "report", (long long)c->id);
	}
	item(ib, c->is_appeal ? N_("appeal") : N_("report"), c->id, login_of(ib->s, c->filed_by), c->text,
	     next);
	return 0;
}

int cmd_inbox(struct cmd_env *e, int argc, char **argv)
{
	bool json = false;
	const struct cmd_opt opts[] = { { "json", false, NULL, &json },
					{ NULL, false, NULL, NULL } };
	char *pos[1];
	int npos;
	if (cmd_parse(e, argc, argv, opts, pos, 0, &npos)) {
		fprintf(e->err, _("usage: custctl inbox [--json]\n"));
		return EXIT_USAGE;
	}
	const struct staff *s = cmd_register(e);
	if (!s)
		return EXIT_REFUSED;
	if (!e->me || e->me->departed) {
		fprintf(e->err, _("custctl: the inbox is for staff: uid %u is not on the staff "
				"register%s\n"), (unsigned)e->uid, e->root ? _(" (root takes no step)") : "");
		return EXIT_REFUSED;
	}
	struct inbox ib = { e, s, json, 0 };
	int err = wf_app_list(e->v->db, app_item, &ib);
	if (!err)
		err = staff_checkouts_list(e->v->db, 0, checkout_item, &ib);
	if (!err)
		err = wf_case_list(e->v->db, true, case_item, &ib);
	if (!err)
		err = wf_case_list(e->v->db, false, case_item, &ib);
	if (err) {
		fprintf(e->err, _("custctl: cannot read the procedures: %s\n"), strerror(err));
		return EXIT_REFUSED;
	}
	if (!json && ib.n == 0)
		fprintf(e->out, _("Nothing waits for you.\n"));
	return EXIT_OK;
}
