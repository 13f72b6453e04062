/* The access decision: may this person do this to this customer's field?
 *
 * Every lookup, open, listing and create asks here, before any decryption.
 * A person's rights on a field are
 *     their grants' roles ∩ their department's ceiling ∩ their staff type's
 *     ceiling (level) ∩ the mount's view,
 * and sensitive classes also need an open checkout (R3.5). A decision is allow
 * or deny plus the rule that decided and the reason in plain words; no
 * matching rule, or anything unexpected, is a deny (R1.1).
 *
 * access_decide is a pure function of its inputs (policy, employee record,
 * request, today's date), so the unit tests drive it with tables. */
#ifndef CUSTFS_ACCESS_H
#define CUSTFS_ACCESS_H

#include "i18n.h"
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy.h"
#include "staff.h"

enum access_right {
	RIGHT_LIST,   /* see that a customer or field exists */
	RIGHT_READ,
	RIGHT_WRITE,
	RIGHT_CREATE, /* a new customer (field NULL) or a new field */
};

struct access_request {
	uid_t uid;                    /* from the kernel, never from user input */
	const struct employee *emp;   /* the uid's employee record, or NULL */
	int64_t customer_id;          /* 0: no particular customer */
	const char *customer;         /* its name, for messages */
	const struct field_def *field; /* NULL: the customer as a whole */
	enum access_right right;
	const char *today;            /* YYYY-MM-DD */
	int64_t now_ns;               /* for checkouts' end times */
	const struct role *view;      /* the mount's view, or NULL */
	/* Only a denial is put in words (a listing, a stat, a re-check at a
	 * read: nothing records an allow of theirs); reason is then "". */
	bool quiet;
};

struct decision {
	bool allow;
	bool masked;      /* allowed, but shown masked and read-only */
	const char *rule; /* the rule that decided, e.g. "grant", "stafftype-ceiling" */
	int64_t grant_id; /* the grant that allowed, if any */
	int64_t checkout_id; /* the checkout a sensitive access went through */
	char reason[320]; /* plain words in English, for the audit record and the log */
	char says[640];   /* the same in the thread's language (i18n.h), for the person */
};

/* Whether checkout C covers field F of customer CUSTOMER_ID. */
bool checkout_covers(const struct checkout *c, int64_t customer_id, const struct field_def *f);

/* TRACE, if not NULL, receives each step in plain words (custctl explain). */
void access_decide(const struct policy *p, const struct access_request *req, struct decision *d,
		   void (*trace)(void *ctx, const char *line), void *tctx);

const char *access_right_name(enum access_right r);

/* How to appeal a denial (R4.2), for messages. */
#define ACCESS_APPEAL_HINT \
	N_("If you need this for your work, ask your department head to file an " \
	   "application or take up an appeal with administration (R4.2).")

#endif
