/* Scratch names (scratch_names.h, issue 11): which names beside the fields a
 * customer directory accepts, and the field a mistyped name was meant to be.
 * Names taken from strace of each tool's own write. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "policy.h"
#include "scratch_names.h"

int main(void)
{
	struct policy *p = NULL;
	CHECK_EQ_INT(policy_load("policy", stderr, &p), 0);
	if (!p)
		return 1;
	CHECK(p->nscratch > 0); /* the shipped policy lists them */
	static const char *const allowed[] = {
		"sedAb3xYz", "XXq1w2e3", "requirements.bak", "phone.gawk.Qw3rTy",
		".requirements.Ab12Cd", "requirements~", "requirements.~1~", "requirements.~12~",
		".requirements.swp", ".requirements.swx", ".requirements.swpx", ".requirements.swo",
		".requirements.saa", ".requirements.un~", "4913", "5036", ".#feedback",
		"#feedback#", ".#-emacsAb12Cd", "tmpab12cd", "tmpab12cd_9", ".~lock.feedback#",
		"lu12ab.tmp",
	};
	static const char *const refused[] = {
		"adress", "draft.tmp", "notes.txt", "sed", "sedAb", ".requirements.swp.bak",
		"nosuchfield~", ".nosuchfield.swp", "491", "491300", "requirements.~a~", "qN",
		".dir-locals.el", "x.swp",
	};
	for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++) {
		bool ok = scratch_name_allowed((const char *const *)p->scratch, p->nscratch, p->cat,
					       allowed[i]);
		bool builtin = scratch_name_allowed(NULL, 0, p->cat, allowed[i]);
		if (!ok || !builtin)
			fprintf(stderr, "should be a scratch name: %s\n", allowed[i]);
		CHECK(ok && builtin);
	}
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
		bool ok = scratch_name_allowed((const char *const *)p->scratch, p->nscratch, p->cat,
					       refused[i]);
		bool builtin = scratch_name_allowed(NULL, 0, p->cat, refused[i]);
		if (ok || builtin)
			fprintf(stderr, "should not be a scratch name: %s\n", refused[i]);
		CHECK(!ok && !builtin);
	}

	/* Typos and their field; no guess for what is not near any. */
	CHECK_STR(scratch_nearest_field(p->cat, "adress"), "address");
	CHECK_STR(scratch_nearest_field(p->cat, "phnoe"), "phone");
	CHECK_STR(scratch_nearest_field(p->cat, "order-qty"), "order_qty");
	CHECK_STR(scratch_nearest_field(p->cat, "Phone"), "phone");
	CHECK(scratch_nearest_field(p->cat, "draft.tmp") == NULL);
	CHECK(scratch_nearest_field(p->cat, "x") == NULL);

	/* Patterns a policy may not have. */
	CHECK(scratch_pattern_problem("a/b") != NULL);
	CHECK(scratch_pattern_problem("..") != NULL);
	CHECK(scratch_pattern_problem("") != NULL);
	CHECK(scratch_pattern_problem("%f%f") != NULL);
	CHECK(scratch_pattern_problem("%d.tmp") != NULL);
	CHECK(scratch_pattern_problem(".%f.swp") == NULL);
	CHECK(scratch_pattern_problem("lu*.tmp") == NULL);
	policy_free(p);
	return check_done();
}
