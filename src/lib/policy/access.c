#include "access.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *access_right_name(enum access_right r)
{
	switch (r) {
	case RIGHT_LIST:
		return "list";
	case RIGHT_READ:
		return "read";
	case RIGHT_WRITE:
		return "write";
	case RIGHT_CREATE:
		return "create";
	}
	return "unknown";
}

struct ctx {
	void (*trace)(void *, const char *);
	void *tctx;
	bool quiet; /* access_request.quiet, and no trace */
};

static void step(const struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void step(const struct ctx *c, const char *fmt, ...)
{
	if (!c->trace)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, _(fmt), ap);
	va_end(ap);
	c->trace(c->tctx, line);
}

static void deny(struct decision *d, const struct ctx *c, const char *rule, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The reason in English for the record, and in the thread's language for
 * the person (the same words: FMT is a message of the catalogue). */
static void deny(struct decision *d, const struct ctx *c, const char *rule, const char *fmt, ...)
{
	va_list ap, tr;
	va_start(ap, fmt);
	va_copy(tr, ap);
	vsnprintf(d->reason, sizeof d->reason, fmt, ap);
	vsnprintf(d->says, sizeof d->says, _(fmt), tr);
	va_end(tr);
	va_end(ap);
	d->allow = false;
	d->masked = false;
	d->rule = rule;
	step(c, N_("DENY (%s): %s"), rule, d->says);
}

static void allow(struct decision *d, const struct ctx *c, const char *rule, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void allow(struct decision *d, const struct ctx *c, const char *rule, const char *fmt, ...)
{
	va_list ap, tr;
	va_start(ap, fmt);
	va_copy(tr, ap);
	if (c->quiet)
		d->reason[0] = '\0';
	else
		vsnprintf(d->reason, sizeof d->reason, fmt, ap);
	/* Only a trace shows an allow's reason to a person. */
	if (c->trace)
		vsnprintf(d->says, sizeof d->says, _(fmt), tr);
	else
		d->says[0] = '\0';
	va_end(tr);
	va_end(ap);
	d->allow = true;
	d->rule = rule;
	step(c, N_("ALLOW (%s): %s"), rule, d->says);
}

/* Whether grant G of employee E counts for this request, with the reason it
 * does not in *WHY. */
static const struct role *usable_grant(const struct policy *p, const struct employee *e,
				       const struct stafftype *st, const struct department *dept,
				       const struct grant *g, const struct access_request *r,
				       const char **why)
{
	const struct role *role = policy_role(p, g->role);
	if (g->status != GRANT_ACTIVE)
		*why = g->status == GRANT_SUSPENDED ? N_("suspended") : N_("revoked");
	else if (g->end_date[0] && strcmp(g->end_date, r->today) < 0)
		*why = N_("ended");
	else if (!role)
		*why = N_("its role is no longer in the policy");
	else if (role->dept != dept)
		*why = N_("its role belongs to another department");
	else if (st->scoped && !g->scoped)
		*why = N_("this staff type needs grants that name customers");
	else if (st->expiring && !g->end_date[0])
		*why = N_("this staff type needs grants with an end date");
	else if (r->customer_id && !grant_covers(g, r->customer_id))
		*why = N_("it does not name this customer");
	else
		return role;
	(void)e;
	return NULL;
}

/* The rights (R_READ|R_WRITE) that ROLE, within the ceilings, gives on field I. */
static unsigned char field_bits(const struct policy *p, const struct role *role,
				const struct department *dept, const struct stafftype *st,
				const struct role *view, size_t i)
{
	unsigned char bits = role->rights.field[i] & dept->ceiling.field[i];
	if (p->cat->fields[i].cls->level > st->max_level)
		bits = 0;
	if (view)
		bits &= view->rights.field[i];
	return bits;
}

/* Words for a trace only: a decision without one (every open and read) does
 * not look up translations it would not show. */
#define TRACE_(c, s) ((c)->trace ? _(s) : "")

static void decide(const struct policy *p, const struct access_request *r, struct decision *d,
		   void (*trace)(void *ctx, const char *line), void *tctx)
{
	const struct ctx c = { trace, tctx, r->quiet && !trace };
	const struct employee *e = r->emp;
	const struct field_def *f = r->field;

	memset(d, 0, sizeof *d);
	d->rule = "default-deny";
	snprintf(d->reason, sizeof d->reason, "no rule grants this");

	if (r->uid == 0) {
		/* Root is not staff: a sensitive record read by root skips the
		 * checkout, so it is on the record as break-glass (R3.5). */
		if (f && f->cls->sensitive)
			allow(d, &c, "break-glass", N_("root reads sensitive class %s without a checkout"),
			      f->cls->name);
		else
			allow(d, &c, "superuser", N_("root administers the store"));
		return;
	}
	if (!e) {
		deny(d, &c, "unknown-user",
		     N_("uid %u is not on the staff register (custctl employee add)"), (unsigned)r->uid);
		return;
	}
	if (e->end_date[0])
		step(&c, N_("%s (%s): department %s, post %s, staff type %s, until %s"), e->login,
		     e->name, e->department, e->post[0] ? e->post : "-", e->staff_type, e->end_date);
	else
		step(&c, N_("%s (%s): department %s, post %s, staff type %s"), e->login, e->name,
		     e->department, e->post[0] ? e->post : "-", e->staff_type);
	if (e->identity_changed) {
		deny(d, &c, "identity", N_("uid %u is no longer the account %s was registered with; "
		     "the register must be corrected before it gets anything (R1.1)"),
		     (unsigned)r->uid, e->login);
		return;
	}
	if (e->departed) {
		deny(d, &c, "departed", N_("%s has left; all access ended (R4.3)"), e->login);
		return;
	}
	const struct stafftype *st = policy_stafftype(p, e->staff_type);
	const struct department *dept = policy_department(p, e->department);
	if (!st || !dept) {
		if (st)
			deny(d, &c, "policy-mismatch", N_("the policy has no department '%s'"),
			     e->department);
		else
			deny(d, &c, "policy-mismatch", N_("the policy has no staff type '%s'"),
			     e->staff_type);
		return;
	}
	step(&c, N_("staff type %s reaches level %d%s%s"), st->name, st->max_level,
	     st->scoped ? TRACE_(&c, ", named customers only") : "",
	     st->expiring ? TRACE_(&c, ", with an end date") : "");
	if (st->expiring && (!e->end_date[0] || strcmp(e->end_date, r->today) < 0)) {
		if (e->end_date[0])
			deny(d, &c, "expired", N_("%s's engagement has ended (R1.2)"), e->login);
		else
			deny(d, &c, "expired", N_("%s's engagement has no end date (R1.2)"), e->login);
		return;
	}
	if (!r->customer_id && !f && r->right == RIGHT_LIST) {
		allow(d, &c, "list", N_("anyone on the staff register may list the customers they "
					"hold rights on"));
		return;
	}

	/* Creating a customer (R3.6): an unscoped grant of a role with "create". */
	if (!f && r->right == RIGHT_CREATE) {
		if (!dept->ceiling.create) {
			deny(d, &c, "department-ceiling", N_("department %s may not create customers"),
			     dept->name);
			return;
		}
		if (r->view && !r->view->rights.create) {
			deny(d, &c, "view", N_("this mount's view (%s) does not create customers"),
			     r->view->name);
			return;
		}
		for (size_t i = 0; i < e->ngrants; i++) {
			const char *why = NULL;
			const struct grant *g = &e->grants[i];
			const struct role *role = usable_grant(p, e, st, dept, g, r, &why);
			if (role && role->rights.create && !g->scoped) {
				d->grant_id = g->id;
				allow(d, &c, "grant", N_("grant #%lld (role %s) creates customers"),
				      (long long)g->id, role->name);
				return;
			}
		}
		deny(d, &c, "no-grant", N_("no grant of yours creates customers"));
		return;
	}

	/* Every grant that counts for this customer, and what it gives. */
	unsigned char bits = 0;
	const struct grant *via = NULL;
	for (size_t i = 0; i < e->ngrants; i++) {
		const char *why = NULL;
		const struct grant *g = &e->grants[i];
		const struct role *role = usable_grant(p, e, st, dept, g, r, &why);
		if (!role) {
			step(&c, N_("grant #%lld (role %s) does not count: %s"), (long long)g->id,
			     g->role, TRACE_(&c, why));
			continue;
		}
		if (!f) {
			unsigned char any = 0;
			for (size_t k = 0; k < p->cat->nfields; k++)
				any |= field_bits(p, role, dept, st, r->view, k);
			if (any)
				step(&c, N_("grant #%lld (role %s) gives rights on this customer"),
				     (long long)g->id, role->name);
			else
				step(&c, N_("grant #%lld (role %s) gives nothing on this customer"),
				     (long long)g->id, role->name);
			if (any && !via)
				via = g;
			bits |= any;
			continue;
		}
		unsigned char b = field_bits(p, role, dept, st, r->view, f->index);
		step(&c, N_("grant #%lld (role %s) gives %s on %s (class %s)"), (long long)g->id,
		     role->name,
		     b == (R_READ | R_WRITE) ? TRACE_(&c, "read and write")
		     : b == R_READ	     ? TRACE_(&c, "read")
		     : b == R_WRITE	     ? TRACE_(&c, "write")
					     : TRACE_(&c, "nothing"),
		     f->name, f->cls->name);
		if (b && !via)
			via = g;
		bits |= b;
	}

	if (!f) {
		/* The customer as a whole: visible, or usable for scratch files. */
		bool ok = r->right == RIGHT_LIST ? bits != 0 : (bits & R_WRITE) != 0;
		if (ok) {
			d->grant_id = via->id;
			allow(d, &c, "grant", N_("grant #%lld gives you rights on this customer"),
			      (long long)via->id);
		} else {
			deny(d, &c, "no-grant", r->right == RIGHT_LIST
			     ? N_("no grant of yours gives any right on this customer")
			     : N_("no grant of yours gives write on this customer"));
		}
		return;
	}

	unsigned char need = r->right == RIGHT_READ ? R_READ
			     : r->right == RIGHT_LIST ? (R_READ | R_WRITE)
						      : R_WRITE;
	if (!(bits & need)) {
		/* Say which ceiling stopped it, if one did: that is what people ask. */
		unsigned char granted = 0;
		for (size_t i = 0; i < e->ngrants; i++) {
			const char *why = NULL;
			const struct role *role = usable_grant(p, e, st, dept, &e->grants[i], r, &why);
			if (role)
				granted |= role->rights.field[f->index];
		}
		if (!(granted & need))
			deny(d, &c, "no-grant", r->right == RIGHT_LIST
			     ? N_("no grant of yours gives any right on %s (class %s)")
			     : r->right == RIGHT_READ ? N_("no grant of yours gives read on %s (class %s)")
			     : N_("no grant of yours gives write on %s (class %s)"),
			     f->name, f->cls->name);
		else if (!(dept->ceiling.field[f->index] & need))
			deny(d, &c, "department-ceiling", r->right == RIGHT_READ
			     ? N_("department %s may not read class %s")
			     : N_("department %s may not write class %s"), dept->name, f->cls->name);
		else if (f->cls->level > st->max_level)
			deny(d, &c, "stafftype-ceiling",
			     N_("class %s is level %d; staff type %s reaches level %d (R1.2)"),
			     f->cls->name, f->cls->level, st->name, st->max_level);
		else
			deny(d, &c, "view", N_("this mount's view (%s) does not show %s"),
			     r->view ? r->view->name : "-", f->name);
		return;
	}
	d->grant_id = via ? via->id : 0;
	bool masked = st->masked[f->index] && p->masks[f->index].kind != MASK_NONE;
	if (masked && r->right != RIGHT_LIST && r->right != RIGHT_READ) {
		deny(d, &c, "masked", N_("staff type %s sees %s masked, and masked fields are "
					 "read-only"), st->name, f->name);
		return;
	}
	if (f->cls->sensitive && r->right != RIGHT_LIST) {
		/* R3.5: reported before use, returned after. */
		const struct checkout *pending = NULL;
		for (size_t i = 0; i < e->ncheckouts; i++) {
			const struct checkout *co = &e->checkouts[i];
			if (!checkout_covers(co, r->customer_id, f))
				continue;
			if (co->status == CO_PENDING) {
				pending = co;
			} else if (co->status == CO_OPEN && r->now_ns < co->expires_ns) {
				d->checkout_id = co->id;
				d->masked = masked;
				allow(d, &c, "checkout", N_("checkout #%lld (%s) is open for %s"), (long long)co->id,
				      co->purpose, f->name);
				return;
			} else if (co->status == CO_OPEN) {
				step(&c, N_("checkout #%lld has run out"), (long long)co->id);
			}
		}
		if (pending)
			deny(d, &c, "checkout-pending",
			     N_("checkout #%lld waits for administration's approval (R3.5)"),
			     (long long)pending->id);
		else
			deny(d, &c, "checkout-required",
			     N_("class %s is sensitive: it opens only inside a checkout registered with "
				"administration (R3.5): custctl checkout CUSTOMER/%s --purpose ... --for ..."),
			     f->cls->name, f->name);
		return;
	}
	d->masked = masked;
	if (r->right == RIGHT_WRITE)
		allow(d, &c, "grant", masked ? N_("grant #%lld gives write on %s (class %s), masked")
					     : N_("grant #%lld gives write on %s (class %s)"),
		      (long long)d->grant_id, f->name, f->cls->name);
	else if (r->right == RIGHT_READ)
		allow(d, &c, "grant", masked ? N_("grant #%lld gives read on %s (class %s), masked")
					     : N_("grant #%lld gives read on %s (class %s)"),
		      (long long)d->grant_id, f->name, f->cls->name);
	else
		allow(d, &c, "grant", masked ? N_("grant #%lld gives %s on %s (class %s), masked")
					     : N_("grant #%lld gives %s on %s (class %s)"),
		      (long long)d->grant_id, access_right_name(r->right), f->name, f->cls->name);
}

bool checkout_covers(const struct checkout *co, int64_t customer_id, const struct field_def *f)
{
	if (co->customer_id != customer_id)
		return false;
	if (co->field[0])
		return strcmp(co->field, f->name) == 0;
	return !co->cls[0] || strcmp(co->cls, f->cls->name) == 0;
}

void access_decide(const struct policy *p, const struct access_request *r, struct decision *d,
		   void (*trace)(void *ctx, const char *line), void *tctx)
{
	decide(p, r, d, trace, tctx);
	/* The default denial stands (deny() gives every other its words). */
	if (!d->allow && !d->says[0])
		snprintf(d->says, sizeof d->says, "%s", _("no rule grants this"));
}
