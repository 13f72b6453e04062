/* Policy proposals (R2.1: the grading strategy is the information management
 * group's act): technical proposes a whole policy with its reason, the
 * group's leader approves it, technical installs it; every installed policy
 * stays, with who did what, as its history. */
#ifndef CUSTFS_PROPOSALS_H
#define CUSTFS_PROPOSALS_H

#include <stddef.h>
#include <stdint.h>

#include "workflow.h"

enum proposal_status { PROP_FILED, PROP_APPROVED, PROP_INSTALLED, PROP_WITHDRAWN, PROP_REJECTED };

#define PROPOSAL_FILES 8

struct proposal {
	int64_t id;
	char reason[WF_TEXT];
	enum proposal_status status;
	char hash[65];          /* BLAKE2b-256 of the files, hex */
	int64_t filed_by, approved_by, installed_by; /* employee ids; 0: root or not yet */
	int64_t filed_ns, approved_ns, installed_ns;
	char summary[WF_TEXT]; /* what it changed, as installed (one line) */
	size_t nfiles;
	char *name[PROPOSAL_FILES], *text[PROPOSAL_FILES]; /* malloc'd (proposal_clear) */
};

const char *proposal_status_name(enum proposal_status s);
int proposal_schema(struct db *db);
/* Inside a transaction. P's files are stored with it. */
int proposal_add(struct db *db, const struct proposal *p, int64_t *id);
/* With its files (WITH_FILES). */
int proposal_get(struct db *db, int64_t id, bool with_files, struct proposal *out);
void proposal_clear(struct proposal *p);
/* FROM to TO by BY. ESTALE if it is no longer at FROM. */
int proposal_step(struct db *db, int64_t id, enum proposal_status from, enum proposal_status to,
		  int64_t by);
/* What the proposal changed against the policy it replaced, kept at install. */
int proposal_set_summary(struct db *db, int64_t id, const char *summary);
int proposal_list(struct db *db, int (*fn)(void *ctx, const struct proposal *p), void *ctx);

#endif
