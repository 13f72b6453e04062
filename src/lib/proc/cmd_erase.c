/* custctl erase: erasing one customer as a procedure (R3.4; PIPL Art. 47).
 * A department head files it with a reason; administration approves; once
 * the policy's waiting period has passed, technical implements it, which
 * crypto-erases the customer: its data key and sealed name are destroyed, so
 * every version of every field is unreadable at once and the customer
 * vanishes from every view. Until then the filer or administration may
 * cancel it. The records keep the customer's store id, never its name. */
#include "cmd.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "clock.h"
#include "cname.h"
#include "erasure.h"
#include "text.h"

static const char *login_of(const struct staff *s, int64_t id)
{
	const struct employee *x = cmd_employee_by_id(s, id);
	return x ? x->login : id ? "?" : "-";
}

static bool may_see(struct cmd_env *e, const struct erasure *x)
{
	return e->root || in_procedure(e, PROC_APPROVE) || in_procedure(e, PROC_IMPLEMENT) ||
	       group_leader(e->me) || (e->me && e->me->id == x->filed_by);
}

/* The act on the record, with the customer's store id. */
static int record(struct cmd_env *e, const char *action, const struct erasure *x)
{
	char detail[64];
	snprintf(detail, sizeof detail, "erasure #%lld", (long long)x->id);
	return cmd_record_act(e, action, x->customer_id, "erasure", detail);
}

struct list_ctx {
	struct cmd_env *e;
	const struct staff *s;
	bool json;
};

static int print_one(void *p, const struct erasure *x)
{
	struct list_ctx *l = p;
	struct cmd_env *e = l->e;
	struct customer c;
	char who[NAME_MAX_BYTES + 32], when[32] = "-";
	if (!may_see(e, x))
		return 0;
	if (x->status != ERASE_DONE && vault_customer_get(e->v, x->customer_id, &c) == 0)
		snprintf(who, sizeof who, "%s", c.name);
	else
		snprintf(who, sizeof who, "#%lld (erased)", (long long)x->customer_id);
	if (x->not_before_ns)
		cmd_time(x->not_before_ns, when);
	if (l->json) {
		fprintf(e->out, "{\"id\":%lld,\"customer_id\":%lld,\"customer\":", (long long)x->id,
			(long long)x->customer_id);
		text_json(e->out, x->status == ERASE_DONE ? "" : who);
		fprintf(e->out, ",\"status\":\"%s\",\"filed_by\":", erase_status_name(x->status));
		text_json(e->out, login_of(l->s, x->filed_by));
		fprintf(e->out, ",\"approved_by\":");
		text_json(e->out, login_of(l->s, x->approved_by));
		fprintf(e->out, ",\"implemented_by\":");
		text_json(e->out, login_of(l->s, x->implemented_by));
		fprintf(e->out, ",\"not_before_ns\":%lld,\"reason\":", (long long)x->not_before_ns);
		text_json(e->out, x->reason);
		fprintf(e->out, "}\n");
	} else {
		fprintf(e->out, _("%5lld  %s %s by %s not before %-19s %s\n"),
			(long long)x->id, text_padded(_(erase_status_name(x->status)), 10),
			text_padded(text_inert(who), 24), text_padded(login_of(l->s, x->filed_by), 12),
			when, text_inert(x->reason));
	}
	return 0;
}

/* Whether TEXT names NAME, however spelt: compared by lookalike keys
 * (case, accents, compatibility forms, confusables) with runs of blanks as
 * one. */
static bool mentions(const char *text, const char *name)
{
	char squeezed[WF_TEXT], a[CNAME_SKELETON_MAX], b[CNAME_SKELETON_MAX];
	size_t n = 0;
	for (const char *p = text; *p && n + 1 < sizeof squeezed; p++)
		if (!(*p == ' ' || *p == '\t') || (n && squeezed[n - 1] != ' '))
			squeezed[n++] = *p == '\t' ? ' ' : *p;
	squeezed[n] = '\0';
	if (cname_skeleton(squeezed, a) != 0 || cname_skeleton(name, b) != 0)
		return strstr(text, name) != NULL;
	return strstr(a, b) != NULL;
}

static int erase_new(struct cmd_env *e, const char *name, const char *reason)
{
	struct customer c;
	struct erasure x;
	int64_t id = 0, open_id = 0;
	if (!e->me->is_head) {
		fprintf(e->err, _("custctl: refused: a department head files an erasure (R3.4)\n"));
		return EXIT_REFUSED;
	}
	if (!reason || !cmd_text_ok(e, "--reason", reason, WF_TEXT, false) || !reason[0]) {
		fprintf(e->err, _("custctl: an erasure states its reason (--reason TEXT)\n"));
		return EXIT_USAGE;
	}
	if (cmd_customer(e, name, false, &c) != 0) /* hidden = nonexistent */
		return EXIT_REFUSED;
	if (mentions(reason, c.name)) {
		/* The records outlive the customer: they must not name it. */
		fprintf(e->err, _("custctl: refused: the reason names the customer; the erasure's "
				"records outlive it, so say why without its name\n"));
		return EXIT_REFUSED;
	}
	if (erasure_open_for(e->v->db, ACT_ERASE, c.id, &open_id) == 0) {
		fprintf(e->err, _("custctl: erasure #%lld of this customer is already open\n"),
			(long long)open_id);
		return EXIT_REFUSED;
	}
	memset(&x, 0, sizeof x);
	x.kind = ACT_ERASE;
	x.customer_id = c.id;
	x.filed_by = e->me->id;
	snprintf(x.reason, sizeof x.reason, "%s", reason);
	int err = db_begin(e->v->db, true);
	if (!err)
		err = erasure_add(e->v->db, &x, &id);
	if (cmd_finish(e, err, N_("file the erasure"), false))
		return EXIT_REFUSED;
	x.id = id;
	record(e, "erase-filed", &x);
	fprintf(e->out, _("erasure #%lld filed (customer #%lld). Next: administration approves it "
			"(custctl erase approve %lld)\n"), (long long)id, (long long)c.id, (long long)id);
	return EXIT_OK;
}

static int erase_approve(struct cmd_env *e, struct erasure *x)
{
	if (!cmd_may(e, PROC_APPROVE, N_("approving erasures")))
		return EXIT_REFUSED;
	if (e->me && e->me->id == x->filed_by) {
		fprintf(e->err, _("custctl: refused: the approver is not who filed it (R3.1)\n"));
		return EXIT_REFUSED;
	}
	int64_t not_before = clock_now_ns() + e->pol->erase_delay_s * 1000000000LL;
	int err = x->status == ERASE_FILED ? db_begin(e->v->db, true) : ESTALE;
	if (!err)
		err = erasure_step(e->v->db, x->id, ERASE_FILED, ERASE_APPROVED,
				   e->me ? e->me->id : 0, not_before);
	if (cmd_finish(e, err, N_("approve the erasure"), false))
		return EXIT_REFUSED;
	record(e, "erase-approved", x);
	char when[32];
	cmd_time(not_before, when);
	fprintf(e->out, _("erasure #%lld approved; technical may implement it from %s (custctl erase "
			"implement %lld); until then it can be cancelled\n"), (long long)x->id, when,
		(long long)x->id);
	return EXIT_OK;
}

static int erase_implement(struct cmd_env *e, struct erasure *x)
{
	struct customer c;
	if (!cmd_may(e, PROC_IMPLEMENT, N_("implementing erasures")))
		return EXIT_REFUSED;
	if (e->me && (e->me->id == x->filed_by || e->me->id == x->approved_by)) {
		fprintf(e->err, _("custctl: refused: the implementer is neither who filed it nor who "
				"approved it (R3.1)\n"));
		return EXIT_REFUSED;
	}
	if (x->status != ERASE_APPROVED) {
		fprintf(e->err, _("custctl: refused: erasure #%lld is %s; only approved ones are "
				"implemented\n"), (long long)x->id, _(erase_status_name(x->status)));
		return EXIT_REFUSED;
	}
	if (clock_now_ns() < x->not_before_ns) {
		char when[32];
		cmd_time(x->not_before_ns, when);
		fprintf(e->err, _("custctl: refused: erasure #%lld waits until %s (the policy's erase "
				"delay); it can still be cancelled\n"), (long long)x->id, when);
		return EXIT_REFUSED;
	}
	/* On the record first: no record, no erasure. */
	if (record(e, "erase", x) != 0) {
		fprintf(e->err, _("custctl: refused: the audit record cannot be written\n"));
		return EXIT_REFUSED;
	}
	int err = vault_customer_get(e->v, x->customer_id, &c);
	if (!err)
		err = db_begin(e->v->db, true);
	if (!err)
		err = erasure_scrub_citations(e->v->db, c.name, c.id);
	if (!err)
		err = vault_customer_erase(e->v, c.id);
	if (!err)
		err = erasure_step(e->v->db, x->id, ERASE_APPROVED, ERASE_DONE,
				   e->me ? e->me->id : 0, 0);
	sodium_memzero(&c, sizeof c);
	if (cmd_finish(e, err, N_("erase the customer"), false))
		return EXIT_REFUSED;
	store_checkpoint(e->v->db); /* the old pages leave the write-ahead log */
	int unconfirmed = e->customers_changed ? e->customers_changed(e->ctx, e->err) : 0;
	fprintf(e->out, _("erasure #%lld implemented: customer #%lld is erased; no version of its "
			"values opens again\n"), (long long)x->id, (long long)x->customer_id);
	return unconfirmed > 0 ? EXIT_REFUSED : EXIT_OK;
}

static int erase_cancel(struct cmd_env *e, struct erasure *x)
{
	bool mine = e->me && e->me->id == x->filed_by;
	if (!mine && !in_procedure(e, PROC_APPROVE)) {
		fprintf(e->err, _("custctl: refused: the head who filed it or administration cancels "
				"an erasure\n"));
		return EXIT_REFUSED;
	}
	enum erase_status from = x->status;
	int err = from == ERASE_FILED || from == ERASE_APPROVED ? db_begin(e->v->db, true) : ESTALE;
	if (!err)
		err = erasure_step(e->v->db, x->id, from, ERASE_CANCELLED, e->me->id, 0);
	if (cmd_finish(e, err, N_("cancel the erasure"), false))
		return EXIT_REFUSED;
	record(e, "erase-cancelled", x);
	fprintf(e->out, _("erasure #%lld cancelled; the customer stays\n"), (long long)x->id);
	return EXIT_OK;
}

int cmd_erase(struct cmd_env *e, int argc, char **argv)
{
	const char *reason = NULL;
	bool json = false;
	const struct cmd_opt opts[] = { { "reason", true, &reason, NULL },
					{ "json", false, NULL, &json },
					{ NULL, false, NULL, NULL } };
	char *pos[3];
	int npos;
	if (cmd_parse(e, argc, argv, opts, pos, 3, &npos) || npos < 1)
		goto usage;
	const struct staff *s = cmd_register(e);
	if (!s)
		return EXIT_REFUSED;
	if (e->root || !e->me || e->me->departed) {
		fprintf(e->err, _("custctl: refused: erasures are the procedure's steps, taken by staff "
				"as themselves (R3.1)\n"));
		return EXIT_REFUSED;
	}
	const char *verb = pos[0];
	if (!strcmp(verb, "new") && npos == 2)
		return erase_new(e, pos[1], reason);
	if (!strcmp(verb, "list") && npos == 1) {
		struct list_ctx l = { e, s, json };
		return erasure_list(e->v->db, ACT_ERASE, print_one, &l) ? EXIT_REFUSED : EXIT_OK;
	}
	if (npos != 2)
		goto usage;
	struct erasure x;
	int64_t id = cmd_parse_id(pos[1]);
	if (!id || erasure_get(e->v->db, id, &x) != 0 || x.kind != ACT_ERASE || !may_see(e, &x)) {
		fprintf(e->err, _("custctl: no erasure #%s of yours to see\n"), text_inert(pos[1]));
		return EXIT_REFUSED;
	}
	if (!strcmp(verb, "approve"))
		return erase_approve(e, &x);
	if (!strcmp(verb, "implement"))
		return erase_implement(e, &x);
	if (!strcmp(verb, "cancel"))
		return erase_cancel(e, &x);
usage:
	fprintf(e->err,
		_("usage: custctl erase new CUSTOMER --reason TEXT   (a department head)\n"
		"       custctl erase approve ID                  (administration)\n"
		"       custctl erase implement ID                (technical, after the delay)\n"
		"       custctl erase cancel ID                   (who filed it, or administration)\n"
		"       custctl erase list [--json]\n"));
	return EXIT_USAGE;
}
