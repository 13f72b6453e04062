/* Staff records and grants (R1.2, R3.1-R3.3, R4.3), kept in the store.
 *
 * The daemon decides on every request from a snapshot of all employees and
 * their grants, kept per thread and rebuilt when the store's ACL generation
 * changes (every change below bumps it in the same transaction), so a revoked
 * grant stops working at the next request and no lock is shared on the read
 * path. Memory grows with the staff, not with the customers. */
#ifndef CUSTFS_STAFF_H
#define CUSTFS_STAFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "clock.h"
#include "db.h"

#define STAFF_WORD 64   /* login, department, post, staff type, role */
#define STAFF_TEXT 128  /* display name, organisation */

enum grant_status { GRANT_ACTIVE, GRANT_REVOKED, GRANT_SUSPENDED };

struct grant {
	int64_t id;
	char role[STAFF_WORD];
	bool scoped;          /* only the customers listed */
	int64_t *customers;   /* sorted customer ids, when scoped */
	size_t ncustomers;
	char end_date[DATE_LEN]; /* "" = open-ended; last valid day otherwise */
	enum grant_status status;
	int64_t created_ns;
	uid_t created_uid;
	char note[STAFF_TEXT];
	int64_t application_id; /* the application that created it; 0 = break-glass (root) */
	int64_t ended_ns;       /* staff_load_history only: when it stopped (0: it has not) */
};

/* A checkout of sensitive records (R3.5): declared before use, returned after. */
enum checkout_status { CO_PENDING, CO_OPEN, CO_RETURNED, CO_EXPIRED, CO_DENIED, CO_REVOKED };

struct checkout {
	int64_t id;
	int64_t employee_id;
	int64_t customer_id;
	char cls[STAFF_WORD];   /* a class name, or "" for the customer's sensitive classes */
	char field[STAFF_WORD]; /* one field, or "" */
	char purpose[256];
	enum checkout_status status;
	int64_t requested_ns;
	int64_t duration_s;
	int64_t expires_ns;     /* open only: the moment it ends by itself */
	int64_t approved_by;    /* employee id, 0 if registration alone opened it */
	int64_t ended_ns;
};

struct employee {
	int64_t id;
	uid_t uid;
	char login[STAFF_WORD];
	char name[STAFF_TEXT];
	char department[STAFF_WORD];
	char post[STAFF_WORD];
	char staff_type[STAFF_WORD];
	char organisation[STAFF_TEXT];
	char end_date[DATE_LEN];
	bool is_head;
	char group_role[STAFF_WORD]; /* none, member, leader (information group, R2.1) */
	bool departed;
	/* The Linux account of this uid is no longer LOGIN (userdel, then useradd
	 * handed the uid to someone else): every decision denies (R1.1). */
	bool identity_changed;
	struct grant *grants;
	size_t ngrants;
	struct checkout *checkouts; /* open and pending ones */
	size_t ncheckouts;
};

struct staff {
	int64_t generation;
	uint64_t epoch;      /* the caller's epoch when last checked */
	int64_t checked_ms;  /* monotonic time of that check */
	struct employee *emps; /* sorted by uid */
	size_t n;
	int64_t passwd_stamp; /* /etc/passwd as it was when the identities were checked */
};

/* The calling thread's snapshot, rebuilt if the store changed since it was
 * taken. Valid until this thread's next call. NULL (with *ERR) on failure.
 *
 * EPOCH lets a daemon skip the store: custctl signals every daemon after a
 * change (SIGUSR1), which bumps its epoch; while the epoch is unchanged the
 * snapshot is trusted for up to STAFF_RECHECK_MS, then the store's generation
 * is read again anyway (a lost signal delays a change by that much at most).
 * EPOCH 0 always reads the generation. */
#define STAFF_RECHECK_MS 1000
const struct staff *staff_current(struct db *db, uint64_t epoch, int *err);
const struct employee *staff_by_uid(const struct staff *s, uid_t uid);
const struct employee *staff_by_login(const struct staff *s, const char *login);
bool grant_covers(const struct grant *g, int64_t customer_id);

/* Creates the register's tables if missing (the vault does, at every open). */
int staff_schema(struct db *db);

/* A stamp of the account database (/etc/passwd): when it changes, snapshots
 * check every employee's login and uid again. */
int64_t staff_passwd_stamp(void);

/* Loads a fresh snapshot (the caller frees it). */
int staff_load(struct db *db, struct staff **out);
/* The register with every grant and checkout there ever was, ended ones
 * included (for replaying the audit log as things were then). */
int staff_load_history(struct db *db, struct staff **out);
void staff_free(struct staff *s);

/* Changes: call inside a store transaction; each bumps the ACL generation.
 * Employee fields are validated by the caller against the policy. */
int staff_employee_add(struct db *db, const struct employee *e, int64_t *id);
int staff_employee_update(struct db *db, const struct employee *e);
/* Suspends every active grant of an employee (job change, R3.2). Returns how
 * many through *N. */
int staff_grants_suspend_all(struct db *db, int64_t employee_id, uid_t by, int *n);
int staff_grant_add(struct db *db, int64_t employee_id, const struct grant *g, uid_t by,
		    int64_t *id);
int staff_grant_end(struct db *db, int64_t grant_id, enum grant_status status, uid_t by);

const char *grant_status_name(enum grant_status s);
const char *checkout_status_name(enum checkout_status s);

/* Checkouts: call inside a transaction; each bumps the ACL generation. */
int staff_checkout_add(struct db *db, const struct checkout *c, int64_t *id);
int staff_checkout_get(struct db *db, int64_t id, struct checkout *out);
/* Moves checkout ID from status FROM to TO (opening it until EXPIRES_NS, or
 * ending it now). ESTALE if it is no longer in FROM. */
int staff_checkout_step(struct db *db, int64_t id, enum checkout_status from,
			enum checkout_status to, int64_t by, int64_t expires_ns);
/* Ends every open or pending checkout of EMPLOYEE_ID (R4.3). */
int staff_checkouts_end_all(struct db *db, int64_t employee_id, int *n);
/* Every checkout (EMPLOYEE_ID 0: everyone's), newest first. */
int staff_checkouts_list(struct db *db, int64_t employee_id,
			 int (*fn)(void *ctx, const struct checkout *c), void *ctx);
/* Marks open checkouts whose time ran out as expired; FN hears of each. */
int staff_checkouts_expire(struct db *db, int64_t now_ns,
			   void (*fn)(void *ctx, const struct checkout *c), void *ctx);

/* Every grant of EMPLOYEE_ID (0: of everyone), active or not, oldest first.
 * The grant passed to FN has its scope filled in; FN returns nonzero to stop. */
int staff_grants_list(struct db *db, int64_t employee_id,
		      int (*fn)(void *ctx, int64_t employee_id, const struct grant *g), void *ctx);

/* Whether S is a valid YYYY-MM-DD date. */
bool staff_date_ok(const char *s);

#endif
