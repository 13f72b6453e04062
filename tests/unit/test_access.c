/* The decision table of the shipped default policy (policy/), row by row:
 * every department x staff type x class x right, each row citing the clause
 * of the regulation that decides it (DOMAIN.md).
 *
 * The expectations are written from DOMAIN.md ("The default grading"), not
 * from the engine: the standard role of each department (R2.2-R2.6), the
 * staff-type ceilings (R1.2), checkouts for sensitive classes (R3.5), masks
 * for interns, and deny by default (R1.1). */
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "check.h"
#include "crypto.h"
#include "policy.h"

/* DOMAIN.md: who reads and writes which class (or field) by default, with the
 * clause. */
static const struct standard {
	const char *dept;
	const char *role; /* the department's standard role, or NULL */
	const char *reads;
	const char *writes;
	bool creates;
	const char *clause;
} standard[] = {
	{ "sales", "sales", "basic business orders", "basic business orders", true, "R2.2" },
	{ "production", "production", "orders company", "", false, "R2.3" }, /* and the name */
	{ "service", "service", "basic business orders service", "service", false, "R2.4" },
	{ "admin", "admin", "basic", "", false, "R2.5" },
	{ "tech", NULL, "", "", false, "R2.6" },
};

/* R1.2: the highest level each staff type reaches. */
static const struct {
	const char *type;
	int max_level;
} ceilings[] = { { "formal", 4 }, { "temp", 2 }, { "intern", 2 }, { "partner", 2 } };

static bool in_list(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

/* The first field of a class: what a row opens. */
static const struct field_def *field_of_class(const struct catalog *c, const char *cls)
{
	for (size_t i = 0; i < c->nfields; i++)
		if (strcmp(c->fields[i].cls->name, cls) == 0)
			return &c->fields[i];
	return NULL;
}

static struct employee person(const char *dept, const char *type, struct grant *g,
			      const char *role)
{
	struct employee e;
	memset(&e, 0, sizeof e);
	e.id = 7;
	e.uid = 1007;
	snprintf(e.login, sizeof e.login, "someone");
	snprintf(e.department, sizeof e.department, "%s", dept);
	snprintf(e.staff_type, sizeof e.staff_type, "%s", type);
	snprintf(e.group_role, sizeof e.group_role, "none");
	if (strcmp(type, "partner") == 0)
		snprintf(e.end_date, sizeof e.end_date, "2099-12-31");
	if (role) {
		memset(g, 0, sizeof *g);
		g->id = 1;
		snprintf(g->role, sizeof g->role, "%s", role);
		g->status = GRANT_ACTIVE;
		if (strcmp(type, "partner") == 0) {
			/* R1.2: partners hold named customers until an end date. */
			static int64_t named[] = { 42 };
			g->scoped = true;
			g->customers = named;
			g->ncustomers = 1;
			snprintf(g->end_date, sizeof g->end_date, "2099-06-30");
		}
		e.grants = g;
		e.ngrants = 1;
	}
	return e;
}

static struct decision ask_as(const struct policy *p, const struct employee *e,
			      const struct field_def *f, enum access_right r, bool quiet)
{
	struct decision d;
	struct access_request req = {
		.uid = e->uid, .emp = e, .customer_id = 42, .customer = "C42",
		.field = f, .right = r, .today = "2026-11-30", .quiet = quiet,
	};
	access_decide(p, &req, &d, NULL, NULL);
	return d;
}

static struct decision ask(const struct policy *p, const struct employee *e,
			   const struct field_def *f, enum access_right r)
{
	return ask_as(p, e, f, r, false);
}

static void test_decision_table(const struct policy *p)
{
	static const char *const classes[] = { "basic", "business", "orders",
					       "service", "finance", "privacy" };
	static const enum access_right rights[] = { RIGHT_READ, RIGHT_WRITE, RIGHT_CREATE };
	int rows = 0;

	for (size_t di = 0; di < sizeof standard / sizeof *standard; di++) {
		const struct standard *s = &standard[di];
		for (size_t ti = 0; ti < sizeof ceilings / sizeof *ceilings; ti++) {
			struct grant g;
			struct employee e = person(s->dept, ceilings[ti].type, &g, s->role);
			for (size_t ci = 0; ci < sizeof classes / sizeof *classes; ci++) {
				const struct field_def *f = field_of_class(p->cat, classes[ci]);
				for (size_t ri = 0; ri < 3; ri++) {
					enum access_right r = rights[ri];
					const char *want_rule, *clause;
					const char *list = r == RIGHT_READ ? s->reads : s->writes;
					bool given = in_list(list, classes[ci]) || in_list(list, f->name);
					if (!given) {
						want_rule = "no-grant";
						clause = s->clause; /* and R1.1: deny by default */
					} else if (f->cls->level > ceilings[ti].max_level) {
						want_rule = "stafftype-ceiling";
						clause = "R1.2";
					} else if (f->cls->sensitive) {
						want_rule = "checkout-required";
						clause = "R3.5";
					} else {
						want_rule = "grant";
						clause = s->clause;
					}
					check_ctx("%s: %s %s, %s %s (class %s)", clause, ceilings[ti].type,
						  s->dept, access_right_name(r), f->name, classes[ci]);
					struct decision d = ask(p, &e, f, r);
					CHECK_STR(d.rule, want_rule);
					CHECK(d.allow == (strcmp(want_rule, "grant") == 0));
					CHECK(d.reason[0] != '\0');
					CHECK(d.allow || d.says[0] != '\0');
					/* Quietly: the same verdict; only an allow goes unworded. */
					struct decision q = ask_as(p, &e, f, r, true);
					CHECK(q.allow == d.allow && q.masked == d.masked);
					CHECK_STR(q.rule, d.rule);
					CHECK_STR(q.reason, d.allow ? "" : d.reason);
					rows++;
				}
			}
			/* R3.6: creating customers, sales only (unscoped grants). */
			check_ctx("R3.6: %s %s creates a customer", ceilings[ti].type, s->dept);
			struct decision d = ask(p, &e, NULL, RIGHT_CREATE);
			bool want = s->creates && strcmp(ceilings[ti].type, "partner") != 0;
			CHECK(d.allow == want);
			rows++;
		}
	}
	check_ctx("%s", "");
	CHECK(rows == 5 * 4 * (6 * 3 + 1));
	printf("decision table: %d rows\n", rows);
}

/* DOMAIN.md: interns see phone and email masked (138****5678), read-only. */
static void test_intern_masks(const struct policy *p)
{
	struct grant g;
	struct employee e = person("sales", "intern", &g, "sales");
	const struct field_def *phone = catalog_field(p->cat, "phone");
	const struct field_def *email = catalog_field(p->cat, "email");
	const struct field_def *company = catalog_field(p->cat, "company");

	check_ctx("R1.2 intern masks");
	struct decision d = ask(p, &e, phone, RIGHT_READ);
	CHECK(d.allow && d.masked);
	d = ask(p, &e, email, RIGHT_READ);
	CHECK(d.allow && d.masked);
	d = ask(p, &e, phone, RIGHT_WRITE);
	CHECK(!d.allow);
	CHECK_STR(d.rule, "masked");
	d = ask(p, &e, company, RIGHT_READ);
	CHECK(d.allow && !d.masked);
	d = ask(p, &e, company, RIGHT_WRITE);
	CHECK(d.allow);

	struct employee f = person("sales", "formal", &g, "sales");
	d = ask(p, &f, phone, RIGHT_READ);
	CHECK(d.allow && !d.masked);
	check_ctx("%s", "");
}

/* R3.5: a sensitive role reaches the class, but only through a checkout. */
static void test_sensitive_roles(const struct policy *p)
{
	struct grant g;
	struct employee e = person("admin", "formal", &g, "finance-clerk");
	const struct field_def *credit = catalog_field(p->cat, "credit_limit");
	const struct field_def *idno = catalog_field(p->cat, "id_number");

	check_ctx("R3.5 finance clerk");
	struct decision d = ask(p, &e, credit, RIGHT_READ);
	CHECK(!d.allow);
	CHECK_STR(d.rule, "checkout-required");
	d = ask(p, &e, credit, RIGHT_LIST);
	CHECK(d.allow); /* listed, so it can be checked out */
	d = ask(p, &e, idno, RIGHT_READ);
	CHECK_STR(d.rule, "no-grant");

	struct employee t = person("admin", "temp", &g, "finance-clerk");
	d = ask(p, &t, credit, RIGHT_READ);
	CHECK_STR(d.rule, "stafftype-ceiling"); /* R1.2: temps never reach level 4 */
	check_ctx("%s", "");
}

/* R1.1: deny by default, whoever is not on the register or has left. */
static void test_default_deny(const struct policy *p)
{
	const struct field_def *company = catalog_field(p->cat, "company");
	struct grant g;
	struct decision d;
	struct access_request req = {
		.uid = 1234, .emp = NULL, .customer_id = 42, .customer = "C42",
		.field = company, .right = RIGHT_READ, .today = "2026-11-30",
	};
	check_ctx("R1.1 default deny");
	access_decide(p, &req, &d, NULL, NULL);
	CHECK(!d.allow);
	CHECK_STR(d.rule, "unknown-user");

	struct employee e = person("sales", "formal", &g, NULL);
	d = ask(p, &e, company, RIGHT_READ);
	CHECK_STR(d.rule, "no-grant");

	check_ctx("R4.3 departed");
	e = person("sales", "formal", &g, "sales");
	e.departed = true;
	d = ask(p, &e, company, RIGHT_READ);
	CHECK_STR(d.rule, "departed");

	check_ctx("R3.2 suspended grant");
	e = person("sales", "formal", &g, "sales");
	g.status = GRANT_SUSPENDED;
	d = ask(p, &e, company, RIGHT_READ);
	CHECK_STR(d.rule, "no-grant");

	check_ctx("grant ended yesterday");
	e = person("sales", "formal", &g, "sales");
	snprintf(g.end_date, sizeof g.end_date, "2026-11-29");
	d = ask(p, &e, company, RIGHT_READ);
	CHECK_STR(d.rule, "no-grant");
	snprintf(g.end_date, sizeof g.end_date, "2026-11-30"); /* the last day still counts */
	d = ask(p, &e, company, RIGHT_READ);
	CHECK(d.allow);

	check_ctx("R1.2 partner outside its named customers");
	e = person("service", "partner", &g, "service");
	struct access_request other = {
		.uid = e.uid, .emp = &e, .customer_id = 43, .customer = "C43",
		.field = company, .right = RIGHT_READ, .today = "2026-11-30",
	};
	access_decide(p, &other, &d, NULL, NULL);
	CHECK_STR(d.rule, "no-grant");
	check_ctx("R1.2 partner past its end date");
	snprintf(e.end_date, sizeof e.end_date, "2026-01-01");
	d = ask(p, &e, company, RIGHT_READ);
	CHECK_STR(d.rule, "expired");
	check_ctx("%s", "");
}

/* R3.5: an open, covering, unexpired checkout opens a sensitive field. */
static void test_checkouts(const struct policy *p)
{
	struct grant g;
	struct employee e = person("admin", "formal", &g, "finance-clerk");
	const struct field_def *credit = catalog_field(p->cat, "credit_limit");
	const struct field_def *idno = catalog_field(p->cat, "id_number");
	struct checkout co = { .id = 9, .customer_id = 42, .status = CO_OPEN,
			       .expires_ns = 2000, .purpose = "review" };
	snprintf(co.cls, sizeof co.cls, "finance");
	e.checkouts = &co;
	e.ncheckouts = 1;
	struct access_request req = {
		.uid = e.uid, .emp = &e, .customer_id = 42, .customer = "C42", .field = credit,
		.right = RIGHT_READ, .today = "2026-11-30", .now_ns = 1000,
	};
	struct decision d;
	check_ctx("R3.5 open checkout");
	access_decide(p, &req, &d, NULL, NULL);
	CHECK(d.allow);
	CHECK_STR(d.rule, "checkout");
	CHECK(d.checkout_id == 9);
	check_ctx("R3.5 after its end");
	req.now_ns = 2000;
	access_decide(p, &req, &d, NULL, NULL);
	CHECK_STR(d.rule, "checkout-required");
	check_ctx("R3.5 another customer");
	req.now_ns = 1000;
	req.customer_id = 43;
	access_decide(p, &req, &d, NULL, NULL);
	CHECK(!d.allow);
	check_ctx("R3.5 another class");
	req.customer_id = 42;
	req.field = idno;
	access_decide(p, &req, &d, NULL, NULL);
	CHECK(!d.allow);
	check_ctx("R3.5 pending");
	co.status = CO_PENDING;
	req.field = credit;
	access_decide(p, &req, &d, NULL, NULL);
	CHECK_STR(d.rule, "checkout-pending");
	check_ctx("%s", "");
}

/* -o view=production: a view narrows, never widens (R2.3). */
static void test_views(const struct policy *p)
{
	struct grant g;
	struct employee e = person("sales", "formal", &g, "sales");
	const struct role *view = policy_role(p, "production");
	struct decision d;
	struct access_request req = {
		.uid = e.uid, .emp = &e, .customer_id = 42, .customer = "C42",
		.field = catalog_field(p->cat, "phone"), .right = RIGHT_READ,
		.today = "2026-11-30", .view = view,
	};
	check_ctx("view production");
	access_decide(p, &req, &d, NULL, NULL);
	CHECK_STR(d.rule, "view");
	req.field = catalog_field(p->cat, "order_qty");
	access_decide(p, &req, &d, NULL, NULL);
	CHECK(d.allow);
	req.right = RIGHT_WRITE; /* sales may write orders, but the view only reads */
	access_decide(p, &req, &d, NULL, NULL);
	CHECK(!d.allow);
	check_ctx("%s", "");
}

/* The policy parser's own table: bad access.conf lines and their exact errors. */
static void test_policy_errors(void)
{
	static const struct {
		const char *text;
		const char *error;
	} cases[] = {
		{ "stafftype formal max-level 4\nstafftype formal max-level 2\n",
		  "a.conf:2: staff type 'formal' is defined twice\n" },
		{ "stafftype formal max-level 400\n",
		  "a.conf:1: max-level '400' is not a whole number from 0 to 99\n" },
		{ "stafftype formal max-level 4\ndepartment d read nosuch\n",
		  "a.conf:2: 'nosuch' is neither a class nor a field of fields.conf\n" },
		{ "stafftype formal max-level 4\nrole r department d\n",
		  "a.conf:2: role 'r': unknown department 'd'\n" },
		{ "stafftype formal max-level 4\ndepartment d read basic\nrole r department d "
		  "write basic\n",
		  "a.conf:3: role 'r': write on field 'company' is beyond department 'd''s ceiling\n" },
		{ "stafftype formal max-level 4\nmask phone first 3\n",
		  "a.conf:2: expected: mask FIELD first N last M, or mask FIELD email\n" },
		{ "stafftype i max-level 2 mask phone\n",
		  "a.conf:1: staff type 'i' masks field 'phone', which has no mask statement\n" },
		{ "stafftype formal max-level 4\nboss everyone\n",
		  "a.conf:2: unknown statement 'boss' (expected stafftype, department, role, "
		  "procedure, checkout, audit, erase, keep, limit, scratch or mask)\n" },
		{ "stafftype formal max-level 4\nlimit memory 16M\nlimit memory 8M\n",
		  "a.conf:3: limit memory is defined twice\n" },
		{ "stafftype formal max-level 4\nlimit open-files lots\n",
		  "a.conf:2: limit open-files: 'lots' is not a positive number\n" },
		{ "stafftype formal max-level 4\nlimit memory 16Q\n",
		  "a.conf:2: limit memory: '16Q' is not a positive size (like 512K, 16M, 1G)\n" },
		{ "stafftype formal max-level 4\nlimit everything 1\n",
		  "a.conf:2: unknown limit 'everything' (known: open-files, writers, ctl-requests, ctl-per-minute, "
		  "scratch-files, scratch-bytes, memory, total-open-files, total-scratch-files, "
		  "total-memory)\n" },
		{ "stafftype formal max-level 4\naudit durable sometimes\n",
		  "a.conf:2: expected: audit durable all|sensitive\n" },
		{ "stafftype formal max-level 4\ncheckout basic max 8h\n",
		  "a.conf:2: checkout: 'basic' is not a sensitive class\n" },
		{ "stafftype formal max-level 4\ncheckout finance max forever\n",
		  "a.conf:2: checkout: 'forever' is not a duration (like 90m, 8h, 2d)\n" },
		{ "stafftype formal max-level 4\ncheckout finance max 8h hours 20:00-08:00\n",
		  "a.conf:2: checkout: hours are HH:MM-HH:MM, the first earlier\n" },
		{ "stafftype formal max-level 4\nprocedure approve department nowhere\n",
		  "a.conf:2: procedure approve: unknown department 'nowhere'\n" },
		{ "stafftype formal max-level 4\nprocedure bless department d\n",
		  "a.conf:2: unknown procedure 'bless' (known: approve, implement, staff, policy, file-for-heads)\n" },
		{ "# nothing\n", "a.conf: no staff types are defined\n" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct catalog *cat = NULL;
		struct policy *p = NULL;
		char *errs = NULL;
		size_t len = 0;
		FILE *err = open_memstream(&errs, &len);
		FILE *fc = fopen("policy/fields.conf", "re");
		CHECK(catalog_parse(fc, "fields.conf", err, &cat) == 0);
		fclose(fc);
		FILE *in = fmemopen((void *)cases[i].text, strlen(cases[i].text), "r");
		int n = policy_parse(in, "a.conf", err, cat, &p);
		fclose(in);
		fclose(err);
		check_ctx("access.conf case %zu", i);
		CHECK(n == 1);
		CHECK(p == NULL);
		CHECK_STR(errs, cases[i].error);
		free(errs);
	}
	check_ctx("%s", "");
}

int main(void)
{
	struct policy *p = NULL;
	if (crypto_init() != 0 || policy_load("policy", stderr, &p) != 0) {
		fprintf(stderr, "cannot load the shipped policy\n");
		return 1;
	}
	test_decision_table(p);
	test_intern_masks(p);
	test_sensitive_roles(p);
	test_default_deny(p);
	test_views(p);
	test_checkouts(p);
	test_policy_errors();
	policy_free(p);
	return check_done();
}
