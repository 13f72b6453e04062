/* The acts that remove something, as procedures: the erasure of one
 * customer (R3.4; PIPL Art. 47) and the pruning of old versions the policy's
 * retention lets go. Someone files it with a reason, administration
 * approves, technical implements (an erasure once the policy's `erase delay`
 * has passed); until then it can be cancelled. The records keep a
 * customer's store id, never its name. */
#ifndef CUSTFS_ERASURE_H
#define CUSTFS_ERASURE_H

#include <stdint.h>

#include "workflow.h"

enum erase_status { ERASE_FILED, ERASE_APPROVED, ERASE_DONE, ERASE_CANCELLED };

enum act_kind { ACT_ERASE, ACT_PRUNE };

struct erasure {
	int64_t id;
	enum act_kind kind;
	int64_t customer_id; /* ACT_ERASE: whom; ACT_PRUNE: 0 */
	char reason[WF_TEXT];
	enum erase_status status;
	int64_t filed_by, approved_by, implemented_by, cancelled_by; /* employee ids */
	int64_t filed_ns, decided_ns, implemented_ns, cancelled_ns;
	int64_t not_before_ns; /* approved: implemented no sooner than this */
};

const char *erase_status_name(enum erase_status s);

/* The table, created if missing (with the procedures' tables). */
int erasure_schema(struct db *db);
/* Call inside a transaction. */
int erasure_add(struct db *db, const struct erasure *e, int64_t *id);
int erasure_get(struct db *db, int64_t id, struct erasure *out);
/* Moves erasure ID from FROM to TO by BY (approve sets NOT_BEFORE_NS). ESTALE
 * if it is no longer at FROM. */
int erasure_step(struct db *db, int64_t id, enum erase_status from, enum erase_status to,
		 int64_t by, int64_t not_before_ns);
/* The acts of KIND, oldest first. */
int erasure_list(struct db *db, enum act_kind kind,
		 int (*fn)(void *ctx, const struct erasure *e), void *ctx);
/* An open (filed or approved) act of KIND on CUSTOMER_ID (0 for a prune): 0
 * with *ID, or ENOENT. */
int erasure_open_for(struct db *db, enum act_kind kind, int64_t customer_id, int64_t *id);
/* Appeals' citations of the erased customer NAME become "#ID/FIELD": the
 * name is not kept in the store. */
int erasure_scrub_citations(struct db *db, const char *name, int64_t customer_id);

#endif
