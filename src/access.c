#include "access.h"

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

void access_decide(const struct access_request *req, struct decision *d)
{
	/* Deny unless a rule permits (R1.1). */
	d->allow = false;
	d->rule = "default-deny";
	d->reason = "no rule grants this access";

	if (req->uid == 0) {
		d->allow = true;
		d->rule = "superuser";
		d->reason = "root administers the store";
		return;
	}
	d->rule = "no-staff-policy";
	d->reason = "no staff policy is configured for this store: only root may access "
		    "customer data";
}
