/* The vault: a store directory with its keys, catalogue and database.
 *
 * This is the layer custfs and custctl share: it joins the store (sqlite), the
 * crypto layer and the field catalogue, and knows nothing of FUSE or policy.
 *
 * Store directory layout (mode 0700, owned by root):
 *   custfs.db (+ -wal, -shm)  customers, fields, sealed versions, meta
 *   master.key                the master key, plain (0400) or passphrase-wrapped
 *   policy/                   the grading strategy; fields.conf first
 *
 * MUST: vault_read returns plaintext only for a version that authenticates
 * under its own store, customer, field and version; anything else is EIO. */
#ifndef CUSTFS_VAULT_H
#define CUSTFS_VAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/types.h>

#include "audit.h"
#include "catalog.h"
#include "policy.h"
#include "crypto.h"
#include "secbuf.h"
#include "store.h"

#define VAULT_KEY_FILE "master.key"
#define VAULT_POLICY_DIR "policy"

struct vault {
	char *dir;
	struct store *st;
	unsigned char *master; /* sodium_malloc'd, read-only after load */
	unsigned char *name_key; /* derived from master: keys the customer-name hash */
	unsigned char store_id[STORE_ID_BYTES];
	bool have_store_id;
	struct policy *policy; /* as loaded at open; the daemon may swap in newer ones */
	struct audit *audit;     /* the store's audit log (audit.db) */
	pthread_key_t cache_key; /* each thread's customer cache (see vault.c) */
	bool have_cache_key;
};

/* Creates a new store in DIR with a copy of POLICY_DIR. PASS (may be NULL)
 * wraps the master key. Refuses, changing nothing, if DIR already holds a store
 * or the policy has errors (written to ERRS). 0 or errno, with ERR set. */
int vault_init(const char *dir, const char *policy_dir, const char *pass, size_t passlen,
	       FILE *errs, char *err, size_t errlen);

/* Whether DIR's master key needs a passphrase. */
int vault_needs_passphrase(const char *dir, bool *needs, char *err, size_t errlen);

/* Opens DIR. Policy errors go to ERRS. 0 or errno, with ERR set. */
int vault_open(const char *dir, const char *pass, size_t passlen, FILE *errs,
	       struct vault **out, char *err, size_t errlen);
void vault_close(struct vault *v);

/* sqlite connections must not cross fork() (its locks are per process): the
 * daemon detaches the store before daemonizing and attaches it again after. */
void vault_store_detach(struct vault *v);
int vault_store_attach(struct vault *v, char *err, size_t errlen);

/* A customer as the layers above see it: its name decrypted. */
struct customer {
	int64_t id;
	char name[NAME_MAX_BYTES + 1];
	int64_t created_ns;
};

/* Creates customer NAME with a fresh data key. EEXIST if it exists, EINVAL if
 * the name is not safe. */
int vault_customer_create(struct vault *v, const char *name, uid_t uid, int64_t *id);
/* ENOENT if there is none; EIO (logged) if a stored name does not authenticate. */
int vault_customer_by_name(struct vault *v, const char *name, struct customer *out);
int vault_customer_get(struct vault *v, int64_t id, struct customer *out);
/* Up to MAX customers with id > AFTER, in id order; FN returns nonzero to stop. */
int vault_customer_list(struct vault *v, int64_t after, int max,
			int (*fn)(void *ctx, const struct customer *c), void *ctx);

/* Decrypts a version (0 = current) of field FIELD_ID into OUT. ENOENT if there
 * is no such version; EIO (logged) if it does not authenticate. */
int vault_read(struct vault *v, int64_t field_id, int64_t version, struct secbuf *out);

/* Reads field FIELD_ID's row and current version in one query, calls GATE
 * with the row before anything is decrypted, and decrypts into OUT only if
 * GATE returns 0 (its error is returned otherwise). A field without a version
 * yet reads as empty. */
int vault_read_gated(struct vault *v, int64_t field_id,
		     int (*gate)(void *ctx, const struct field_row *f), void *ctx,
		     struct secbuf *out);

struct write_result {
	int64_t field_id;
	int64_t version;
	const char *why; /* for EINVAL: what is wrong with the name or value */
};

/* Stores PT as a new version of CUSTOMER_ID's field NAME, atomically, creating
 * the field if needed. EINVAL (RES->why) if the field is not in catalogue CAT
 * or the value breaks its format. */
int vault_write(struct vault *v, const struct catalog *cat, int64_t customer_id, const char *name,
		const void *pt, size_t len, uid_t uid, bool durable, struct write_result *res);

/* Same, inside a transaction the caller holds (for imports). */
int vault_write_in_txn(struct vault *v, const struct catalog *cat, int64_t customer_id,
		       const char *name, const void *pt, size_t len, uid_t uid,
		       struct write_result *res);

int64_t vault_now_ns(void);

#endif
