/* custctl prune: removing the old versions the policy's retention lets go
 * (`keep CLASS versions N | days D`), as a procedure (R3.4: nothing is
 * deleted silently). Technical or the information group files it, with what
 * it would remove; administration approves; technical implements it (someone
 * other than who filed or approved it); until then it can be cancelled. The
 * current value of every field always stays; the record says what went. */
#include "cmd.h"

#include <errno.h>
#include <string.h>

#include "clock.h"
#include "erasure.h"
#include "retention.h"
#include "text.h"

static bool may_file(struct cmd_env *e)
{
	return in_procedure(e, PROC_IMPLEMENT) || (e->me && strcmp(e->me->group_role, "none"));
}

static void say_counts(FILE *out, const struct prune_counts *pc)
{
	for (int i = 0; i < pc->n; i++)
		fprintf(out, _("  %s %8lld versions  %10lld bytes\n"), text_padded(pc->cls[i].name, 12),
			(long long)pc->cls[i].versions, (long long)pc->cls[i].bytes);
	fprintf(out, _("  %s %8lld versions  %10lld bytes\n"), text_padded(_("in all"), 12),
		(long long)pc->versions, (long long)pc->bytes);
}

static int record(struct cmd_env *e, const char *action, const struct erasure *x,
		  const struct prune_counts *pc)
{
	char detail[512];
	size_t len = (size_t)snprintf(detail, sizeof detail, "prune #%lld", (long long)x->id);
	for (int i = 0; pc && i < pc->n && len < sizeof detail; i++)
		len += (size_t)snprintf(detail + len, sizeof detail - len, "%s %s %lld",
					i ? "," : ":", pc->cls[i].name, (long long)pc->cls[i].versions);
	return cmd_record_act(e, action, 0, "retention", detail);
}

struct list_ctx {
	struct cmd_env *e;
	const struct staff *s;
	bool json;
};

static int print_one(void *p, const struct erasure *x)
{
	struct list_ctx *l = p;
	const struct employee *by = cmd_employee_by_id(l->s, x->filed_by);
	if (l->json) {
		fprintf(l->e->out, "{\"id\":%lld,\"status\":\"%s\",\"filed_by\":", (long long)x->id,
			erase_status_name(x->status));
		text_json(l->e->out, by ? by->login : "?");
		fprintf(l->e->out, ",\"reason\":");
		text_json(l->e->out, x->reason);
		fprintf(l->e->out, "}\n");
	} else {
		fprintf(l->e->out, _("%5lld  %s by %s %s\n"), (long long)x->id,
			text_padded(_(erase_status_name(x->status)), 10),
			text_padded(by ? by->login : "?", 12), text_inert(x->reason));
	}
	return 0;
}

int cmd_prune(struct cmd_env *e, int argc, char **argv)
{
	const char *reason = NULL;
	bool json = false;
	const struct cmd_opt opts[] = { { "reason", true, &reason, NULL },
					{ "json", false, NULL, &json },
					{ NULL, false, NULL, NULL } };
	char *pos[3];
	int npos;
	struct prune_counts pc;
	if (cmd_parse(e, argc, argv, opts, pos, 3, &npos) || npos < 1)
		goto usage;
	const struct staff *s = cmd_register(e);
	if (!s)
		return EXIT_REFUSED;
	const char *verb = pos[0];
	if (!strcmp(verb, "preview") && npos == 1) {
		if (retention_prune(e->v->db, e->pol, clock_now_ns(), false, &pc) != 0)
			return EXIT_REFUSED;
		fprintf(e->out, _("the policy's retention would remove (current values stay):\n"));
		say_counts(e->out, &pc);
		return EXIT_OK;
	}
	if (e->root || !e->me || e->me->departed) {
		fprintf(e->err, _("custctl: refused: prunes are the procedure's steps, taken by staff "
				"as themselves (R3.1)\n"));
		return EXIT_REFUSED;
	}
	if (!strcmp(verb, "list") && npos == 1) {
		struct list_ctx l = { e, s, json };
		return erasure_list(e->v->db, ACT_PRUNE, print_one, &l) ? EXIT_REFUSED : EXIT_OK;
	}
	if (!strcmp(verb, "new") && npos == 1) {
		struct erasure x = { .kind = ACT_PRUNE, .filed_by = e->me->id };
		int64_t id = 0, open_id = 0;
		if (!may_file(e)) {
			fprintf(e->err, _("custctl: refused: technical or the information group files a "
					"prune\n"));
			return EXIT_REFUSED;
		}
		if (!reason || !reason[0] || !cmd_text_ok(e, "--reason", reason, WF_TEXT, false)) {
			fprintf(e->err, _("custctl: a prune states its reason (--reason TEXT)\n"));
			return EXIT_USAGE;
		}
		if (erasure_open_for(e->v->db, ACT_PRUNE, 0, &open_id) == 0) {
			fprintf(e->err, _("custctl: prune #%lld is already open\n"), (long long)open_id);
			return EXIT_REFUSED;
		}
		snprintf(x.reason, sizeof x.reason, "%s", reason);
		int err = db_begin(e->v->db, true);
		if (!err)
			err = erasure_add(e->v->db, &x, &id);
		if (cmd_finish(e, err, N_("file the prune"), false))
			return EXIT_REFUSED;
		x.id = id;
		record(e, "prune-filed", &x, NULL);
		if (retention_prune(e->v->db, e->pol, clock_now_ns(), false, &pc) == 0) {
			fprintf(e->out, _("prune #%lld filed; as of now it would remove:\n"), (long long)id);
			say_counts(e->out, &pc);
		}
		fprintf(e->out, _("Next: administration approves it (custctl prune approve %lld)\n"),
			(long long)id);
		return EXIT_OK;
	}
	if (npos != 2)
		goto usage;
	struct erasure x;
	int64_t id = cmd_parse_id(pos[1]);
	if (!id || erasure_get(e->v->db, id, &x) != 0 || x.kind != ACT_PRUNE) {
		fprintf(e->err, _("custctl: no prune #%s\n"), text_inert(pos[1]));
		return EXIT_REFUSED;
	}
	int err;
	if (!strcmp(verb, "approve")) {
		if (!cmd_may(e, PROC_APPROVE, N_("approving prunes")))
			return EXIT_REFUSED;
		if (e->me->id == x.filed_by) {
			fprintf(e->err, _("custctl: refused: the approver is not who filed it (R3.1)\n"));
			return EXIT_REFUSED;
		}
		err = x.status == ERASE_FILED ? db_begin(e->v->db, true) : ESTALE;
		if (!err)
			err = erasure_step(e->v->db, id, ERASE_FILED, ERASE_APPROVED, e->me->id, 0);
		if (cmd_finish(e, err, N_("approve the prune"), false))
			return EXIT_REFUSED;
		record(e, "prune-approved", &x, NULL);
		fprintf(e->out, _("prune #%lld approved. Next: technical implements it\n"), (long long)id);
		return EXIT_OK;
	}
	if (!strcmp(verb, "implement")) {
		if (!cmd_may(e, PROC_IMPLEMENT, N_("implementing prunes")))
			return EXIT_REFUSED;
		if (e->me->id == x.filed_by || e->me->id == x.approved_by) {
			fprintf(e->err, _("custctl: refused: the implementer is neither who filed it nor "
					"who approved it (R3.1)\n"));
			return EXIT_REFUSED;
		}
		if (x.status != ERASE_APPROVED) {
			fprintf(e->err, _("custctl: refused: prune #%lld is %s; only approved ones are "
					"implemented\n"), (long long)id, _(erase_status_name(x.status)));
			return EXIT_REFUSED;
		}
		err = db_begin(e->v->db, true);
		if (!err)
			err = retention_prune(e->v->db, e->pol, clock_now_ns(), true, &pc);
		/* On the record in the same breath: no record, nothing removed. */
		if (!err)
			err = record(e, "prune", &x, &pc);
		if (!err)
			err = erasure_step(e->v->db, id, ERASE_APPROVED, ERASE_DONE, e->me->id, 0);
		if (cmd_finish(e, err, N_("prune"), false))
			return EXIT_REFUSED;
		store_checkpoint(e->v->db);
		fprintf(e->out, _("prune #%lld implemented; removed (current values stay):\n"),
			(long long)id);
		say_counts(e->out, &pc);
		return EXIT_OK;
	}
	if (!strcmp(verb, "cancel")) {
		if (e->me->id != x.filed_by && !in_procedure(e, PROC_APPROVE)) {
			fprintf(e->err, _("custctl: refused: who filed it or administration cancels a "
					"prune\n"));
			return EXIT_REFUSED;
		}
		enum erase_status from = x.status;
		err = from == ERASE_FILED || from == ERASE_APPROVED ? db_begin(e->v->db, true) : ESTALE;
		if (!err)
			err = erasure_step(e->v->db, id, from, ERASE_CANCELLED, e->me->id, 0);
		if (cmd_finish(e, err, N_("cancel the prune"), false))
			return EXIT_REFUSED;
		record(e, "prune-cancelled", &x, NULL);
		fprintf(e->out, _("prune #%lld cancelled\n"), (long long)id);
		return EXIT_OK;
	}
usage:
	fprintf(e->err,
		_("usage: custctl prune preview                 (what the retention would remove)\n"
		"       custctl prune new --reason TEXT       (technical, or the information group)\n"
		"       custctl prune approve ID              (administration)\n"
		"       custctl prune implement ID            (technical, another person)\n"
		"       custctl prune cancel ID | list [--json]\n"));
	return EXIT_USAGE;
}
