/* The access decision: may this person do this to this customer's field?
 *
 * Every open(), every listing and every create asks here, right before any
 * decryption. A decision is allow or deny plus the reason and the rule that
 * decided; anything unexpected is a deny (fail closed).
 *
 * Today's rule set is the foundation's: only root may see or touch customer
 * data. The policy engine (staff, grants, roles, checkouts) replaces the body
 * of access_decide, not its callers. */
#ifndef CUSTFS_ACCESS_H
#define CUSTFS_ACCESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "catalog.h"

enum access_right {
	RIGHT_LIST,   /* see that a customer or field exists */
	RIGHT_READ,
	RIGHT_WRITE,
	RIGHT_CREATE, /* create a customer or a new field */
};

struct access_request {
	uid_t uid; /* from the kernel (the FUSE request), never from user input */
	pid_t pid;
	const char *customer;         /* NULL: the list of customers itself */
	const struct field_def *field; /* NULL: the customer as a whole */
	enum access_right right;
};

struct decision {
	bool allow;
	const char *reason; /* plain words, for the person and the log */
	const char *rule;   /* which rule decided */
};

void access_decide(const struct access_request *req, struct decision *d);
const char *access_right_name(enum access_right r);

#endif
