/* checkout, checkouts, return: sensitive records are reported to
 * administration before use and returned after (R3.5).
 *
 * Only someone whose grants reach a sensitive class at all may check it out
 * (interns and temps never do under the default policy); the policy's
 * checkout statement sets the longest duration, the most open checkouts per
 * person, the hours, and whose checkouts administration approves first. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access.h"
#include "cmd.h"
#include "names.h"
#include "text.h"

static void describe(const struct checkout *c, const char *customer, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s%s", customer, c->field[0] || c->cls[0] ? "/" : "",
		 c->field[0] ? c->field : c->cls);
}

/* ---- checkout TARGET --purpose P --for D ---- */

static int checkout_new(struct cmd_env *e, const char *target, const char *purpose,
			const char *dur, bool json)
{
	const struct policy *p = e->pol;
	const struct employee *me = e->me;
	char what[NAME_MAX_BYTES * 2 + 2];
	struct customer c;
	struct checkout co;

	memset(&co, 0, sizeof co);
	if (e->root || !me || me->departed) {
		fprintf(e->err, _("custctl: refused: checkouts are staff's, each for themself\n"));
		return EXIT_REFUSED;
	}
	if (!purpose || !purpose[0]) {
		fprintf(e->err, _("custctl: a checkout declares its purpose (--purpose TEXT, R3.5)\n"));
		return EXIT_USAGE;
	}
	if (!cmd_text_ok(e, "--purpose", purpose, sizeof co.purpose, false))
		return EXIT_USAGE;
	int64_t secs = dur ? policy_parse_duration(dur) : -1;
	if (secs <= 0) {
		fprintf(e->err, _("custctl: a checkout has a time limit (--for 30m, 2h, ...)\n"));
		return EXIT_USAGE;
	}
	snprintf(what, sizeof what, "%s", target);
	char *slash = strchr(what, '/');
	if (slash)
		*slash++ = '\0';
	if (cmd_customer(e, what, false, &c) != 0)
		return EXIT_REFUSED;
	const struct field_def *one = slash ? catalog_field(p->cat, slash) : NULL;
	const struct field_class *cls = slash && !one ? catalog_class(p->cat, slash) : NULL;
	if (slash && !one && !cls) {
		fprintf(e->err, _("custctl: '%s' is neither a field nor a class\n"), slash);
		return EXIT_REFUSED;
	}
	co.employee_id = me->id;
	co.customer_id = c.id;
	snprintf(co.field, sizeof co.field, "%s", one ? one->name : "");
	snprintf(co.cls, sizeof co.cls, "%s", cls ? cls->name : "");
	snprintf(co.purpose, sizeof co.purpose, "%s", purpose);

	/* Every sensitive field it covers must be one the person's grants reach:
	 * the decision without a checkout must say "checkout required". */
	char today[DATE_LEN];
	clock_today(today);
	const struct checkout_rule *rule = NULL;
	int covered = 0;
	struct decision d = { 0 };
	for (size_t i = 0; i < p->cat->nfields; i++) {
		const struct field_def *f = &p->cat->fields[i];
		if (!f->cls->sensitive || !checkout_covers(&co, c.id, f))
			continue;
		struct employee bare = *me;
		bare.ncheckouts = 0; /* judge as if no checkout were open */
		struct access_request ar = {
			.uid = e->uid, .emp = &bare, .customer_id = c.id, .customer = c.name,
			.field = f, .right = RIGHT_READ, .today = today, .now_ns = clock_now_ns(),
			.view = e->view ? policy_role(p, e->view) : NULL,
		};
		access_decide(p, &ar, &d, NULL, NULL);
		if (strcmp(d.rule, "checkout-required") != 0 && strcmp(d.rule, "checkout-pending")) {
			if (one || cls) {
				fprintf(e->err, _("custctl: refused: %s: %s [%s]\n"), f->name, d.says,
					d.rule);
				return EXIT_REFUSED;
			}
			continue; /* a whole customer: only the classes the person reaches */
		}
		const struct checkout_rule *r = policy_checkout_rule(p, f->cls);
		if (!r) {
			fprintf(e->err, _("custctl: refused: the policy has no checkout for class %s\n"),
				f->cls->name);
			return EXIT_REFUSED;
		}
		if (rule && rule != r && !one && !cls) {
			fprintf(e->err, _("custctl: refused: name one class (CUSTOMER/CLASS): its "
					"sensitive classes are checked out under different rules\n"));
			return EXIT_REFUSED;
		}
		rule = r;
		covered++;
	}
	if (!covered) {
		fprintf(e->err, _("custctl: refused: %s: %s\n"), target,
			d.rule ? d.says : _("no sensitive field there that your grants reach"));
		return EXIT_REFUSED;
	}
	if (!cls && !one)
		snprintf(co.cls, sizeof co.cls, "%s", rule->cls->name);
	if (secs > rule->max_s) {
		fprintf(e->err, _("custctl: refused: class %s is checked out for at most %llds "
				"(%s asked)\n"), rule->cls->name, (long long)rule->max_s, dur);
		return EXIT_REFUSED;
	}
	if (rule->from_min >= 0) {
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		int m = tm.tm_hour * 60 + tm.tm_min;
		if (m < rule->from_min || m >= rule->to_min) {
			fprintf(e->err, _("custctl: refused: class %s is checked out between %02d:%02d "
					"and %02d:%02d only\n"), rule->cls->name, rule->from_min / 60,
				rule->from_min % 60, rule->to_min / 60, rule->to_min % 60);
			return EXIT_REFUSED;
		}
	}
	int live = 0;
	for (size_t i = 0; i < me->ncheckouts; i++)
		live += me->checkouts[i].status == CO_PENDING ||
			(me->checkouts[i].status == CO_OPEN &&
			 me->checkouts[i].expires_ns > clock_now_ns());
	if (rule->limit && live >= rule->limit) {
		fprintf(e->err, _("custctl: refused: you hold %d open or pending checkouts; the limit "
				"is %d (custctl return ID)\n"), live, rule->limit);
		return EXIT_REFUSED;
	}
	const struct stafftype *st = policy_stafftype(p, me->staff_type);
	bool needs_approval = st && rule->approval[st - p->stafftypes];
	co.duration_s = secs;
	co.status = needs_approval ? CO_PENDING : CO_OPEN;
	co.expires_ns = needs_approval ? 0 : clock_now_ns() + secs * 1000000000LL;
	int64_t id = 0;
	int err = db_begin(e->v->db, true);
	if (!err)
		err = staff_checkout_add(e->v->db, &co, &id);
	if (cmd_finish(e, err, N_("register the checkout"), true))
		return EXIT_REFUSED;
	char desc[NAME_MAX_BYTES * 2 + 2];
	describe(&co, c.name, desc, sizeof desc);
	if (json) {
		fprintf(e->out, "{\"id\":%lld,\"status\":\"%s\",\"target\":", (long long)id,
			checkout_status_name(co.status));
		text_json(e->out, desc);
		fprintf(e->out, ",\"expires_ns\":%lld,\"seconds\":%lld}\n", (long long)co.expires_ns,
			(long long)secs);
	} else if (needs_approval) {
		fprintf(e->out, _("checkout #%lld of %s registered with administration; it opens when "
				"they approve it (custctl checkout approve %lld)\n"), (long long)id, desc,
			(long long)id);
	} else {
		char until[32];
		cmd_time(co.expires_ns, until);
		fprintf(e->out, _("checkout #%lld of %s is open until %s; return it when done "
				"(custctl return %lld)\n"), (long long)id, desc, until, (long long)id);
	}
	return EXIT_OK;
}

static int checkout_decide(struct cmd_env *e, int64_t id, bool approve, const char *note)
{
	struct checkout co;
	if (!cmd_may(e, PROC_APPROVE, approve ? N_("approving checkouts") : N_("denying checkouts")))
		return EXIT_REFUSED;
	if (staff_checkout_get(e->v->db, id, &co) != 0) {
		fprintf(e->err, _("custctl: no checkout #%lld\n"), (long long)id);
		return EXIT_REFUSED;
	}
	if (e->me && e->me->id == co.employee_id) {
		fprintf(e->err, _("custctl: refused: nobody approves their own checkout\n"));
		return EXIT_REFUSED;
	}
	if (co.status != CO_PENDING) {
		fprintf(e->err, _("custctl: refused: checkout #%lld is %s, not waiting for approval\n"),
			(long long)id, _(checkout_status_name(co.status)));
		return EXIT_REFUSED;
	}
	if (!approve && (!note || !note[0])) {
		fprintf(e->err, _("custctl: a denial states its reason (--reason TEXT)\n"));
		return EXIT_USAGE;
	}
	int64_t expires = clock_now_ns() + co.duration_s * 1000000000LL;
	int err = db_begin(e->v->db, true);
	if (!err)
		err = staff_checkout_step(e->v->db, id, CO_PENDING, approve ? CO_OPEN : CO_DENIED,
					  e->me ? e->me->id : 0, expires);
	if (cmd_finish(e, err, approve ? N_("approve") : N_("deny"), true))
		return EXIT_REFUSED;
	char until[32];
	cmd_time(expires, until);
	if (approve)
		fprintf(e->out, _("checkout #%lld approved; open until %s\n"), (long long)id, until);
	else
		fprintf(e->out, _("checkout #%lld denied: %s\n"), (long long)id, note);
	return EXIT_OK;
}

int cmd_checkout(struct cmd_env *e, int argc, char **argv)
{
	const char *purpose = NULL, *dur = NULL, *note = NULL, *reason = NULL;
	bool json = false;
	const struct cmd_opt opts[] = {
		{ "purpose", true, &purpose, NULL }, { "for", true, &dur, NULL },
		{ "note", true, &note, NULL },       { "reason", true, &reason, NULL },
		{ "json", false, NULL, &json },      { NULL, false, NULL, NULL },
	};
	char *pos[2];
	int npos;
	if (cmd_parse(e, argc, argv, opts, pos, 2, &npos) || npos < 1)
		goto usage;
	if (!cmd_register(e))
		return EXIT_REFUSED;
	if (npos == 2 && (!strcmp(pos[0], "approve") || !strcmp(pos[0], "deny"))) {
		int64_t id = cmd_parse_id(pos[1]);
		if (!id)
			goto usage;
		return checkout_decide(e, id, pos[0][0] == 'a', reason ? reason : note);
	}
	if (npos == 1)
		return checkout_new(e, pos[0], purpose, dur, json);
usage:
	fprintf(e->err,
		_("usage: custctl checkout CUSTOMER[/FIELD|/CLASS] --purpose TEXT --for DURATION [--json]\n"
		"       custctl checkout approve ID            (administration)\n"
		"       custctl checkout deny ID --reason TEXT (administration)\n"
		"       custctl return ID | --all\n"
		"       custctl checkouts [--all] [--json]\n"
		"       custctl with-checkout TARGET --purpose TEXT --for DURATION -- COMMAND ...\n"));
	return EXIT_USAGE;
}

/* ---- checkouts, return ---- */

struct co_print {
	struct cmd_env *e;
	const struct staff *s;
	bool json;
	bool all;
	int64_t now;
};

static int print_co(void *ctx, const struct checkout *co)
{
	struct co_print *cp = ctx;
	struct cmd_env *e = cp->e;
	const struct employee *who = cmd_employee_by_id(cp->s, co->employee_id);
	struct customer c;
	char desc[NAME_MAX_BYTES * 2 + 2], left[64];
	bool live = co->status == CO_OPEN || co->status == CO_PENDING;
	if (!cp->all && !live)
		return 0;
	if (vault_customer_get(e->v, co->customer_id, &c) != 0)
		snprintf(c.name, sizeof c.name, "#%lld", (long long)co->customer_id);
	describe(co, c.name, desc, sizeof desc);
	bool overdue = co->status == CO_OPEN && co->expires_ns <= cp->now;
	if (co->status == CO_OPEN && !overdue)
		snprintf(left, sizeof left, _("%lldm left"),
			 (long long)((co->expires_ns - cp->now) / 60000000000LL) + 1);
	else
		snprintf(left, sizeof left, "%s", overdue ? _("EXPIRED, unreturned") :
			 co->status == CO_EXPIRED ? _("expired unreturned") : "-");
	if (cp->json) {
		fprintf(e->out, "{\"id\":%lld,\"login\":", (long long)co->id);
		text_json(e->out, who ? who->login : "?");
		fprintf(e->out, ",\"target\":");
		text_json(e->out, desc);
		fprintf(e->out, ",\"status\":\"%s\",\"overdue\":%s,\"purpose\":",
			overdue ? "expired" : checkout_status_name(co->status), overdue ? "true" : "false");
		text_json(e->out, co->purpose);
		fprintf(e->out, ",\"expires_ns\":%lld,\"seconds_left\":%lld}\n",
			(long long)co->expires_ns,
			(long long)(co->status == CO_OPEN && !overdue ? (co->expires_ns - cp->now) / 1000000000
								       : 0));
	} else {
		fprintf(e->out, "%5lld  %s %s %s %s %s\n", (long long)co->id,
			text_padded(who ? text_inert(who->login) : "?", 14),
			text_padded(text_inert(desc), 28),
			text_padded(overdue ? _("expired") : _(checkout_status_name(co->status)), 9),
			text_padded(left, 20), text_inert(co->purpose));
	}
	return 0;
}

int cmd_checkouts(struct cmd_env *e, int argc, char **argv)
{
	bool json = false, all = false;
	const struct cmd_opt opts[] = { { "json", false, NULL, &json }, { "all", false, NULL, &all },
					{ NULL, false, NULL, NULL } };
	char *pos[1];
	int npos;
	if (cmd_parse(e, argc, argv, opts, pos, 0, &npos)) {
		fprintf(e->err, _("usage: custctl checkouts [--all] [--json]\n"));
		return EXIT_USAGE;
	}
	const struct staff *s = cmd_register(e);
	if (!s)
		return EXIT_REFUSED;
	/* Mine; administration and the information management group see everyone's. */
	bool everyone = e->root || (e->me && ((e->pol->procedure[PROC_APPROVE] &&
					       !strcmp(e->me->department,
						       e->pol->procedure[PROC_APPROVE]->name)) ||
					      strcmp(e->me->group_role, "none")));
	if (!everyone && !e->me) {
		fprintf(e->err, _("custctl: uid %u is not on the staff register\n"), (unsigned)e->uid);
		return EXIT_REFUSED;
	}
	struct co_print cp = { e, s, json, all, clock_now_ns() };
	if (!json)
		fprintf(e->out, "%5s  %s %s %s %s %s\n", "ID", text_padded(_("LOGIN"), 14),
			text_padded(_("WHAT"), 28), text_padded(_("STATUS"), 9), text_padded(_("TIME"), 20),
			_("PURPOSE"));
	return staff_checkouts_list(e->v->db, everyone ? 0 : e->me->id, print_co, &cp)
		       ? EXIT_REFUSED : EXIT_OK;
}

int cmd_return(struct cmd_env *e, int argc, char **argv)
{
	bool all = false;
	const struct cmd_opt opts[] = { { "all", false, NULL, &all }, { NULL, false, NULL, NULL } };
	char *pos[1];
	int npos;
	if (cmd_parse(e, argc, argv, opts, pos, 1, &npos) || (npos == 1) == all) {
		fprintf(e->err, _("usage: custctl return ID | --all\n"));
		return EXIT_USAGE;
	}
	const struct staff *s = cmd_register(e);
	if (!s || !e->me) {
		fprintf(e->err, _("custctl: refused: checkouts are returned by the staff who hold them\n"));
		return EXIT_REFUSED;
	}
	int n = 0, err = db_begin(e->v->db, true);
	for (size_t i = 0; !err && i < e->me->ncheckouts; i++) {
		const struct checkout *co = &e->me->checkouts[i];
		if (!all && co->id != cmd_parse_id(pos[0]))
			continue;
		err = staff_checkout_step(e->v->db, co->id, co->status, CO_RETURNED, e->me->id, 0);
		n++;
	}
	if (!err && n == 0 && !all) {
		db_rollback(e->v->db);
		fprintf(e->err, _("custctl: you hold no open checkout #%s\n"), text_inert(pos[0]));
		return EXIT_REFUSED;
	}
	if (cmd_finish(e, err, N_("return"), true))
		return EXIT_REFUSED;
	fprintf(e->out, _("%d checkout%s returned; access through %s ends now\n"), n,
		n == 1 ? "" : "s", n == 1 ? "it" : "them");
	return EXIT_OK;
}
