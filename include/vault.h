/* The vault: one store directory, opened: its database, its keys, the policy
 * it was opened with, and its audit log.
 *
 * This is the layer custfs and custctl share: it joins the store's tables
 * (sqlite, through db, which the staff and procedure modules use too), the
 * crypto layer and the audit log, and knows nothing of FUSE. It loads the
 * policy but never decides with it: deciding is access.c's.
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

#include <stdatomic.h>
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
	struct db *db;        /* custfs.db: customers, fields, staff, procedures */
	/* The master key: sodium_malloc'd, read-only. A rotation swaps it (every
	 * read of it is an atomic load); the one it replaced is kept in RETIRED a
	 * few seconds for requests still using it, then wiped. */
	_Atomic(unsigned char *) master;
	unsigned char *retired;
	int64_t retired_ms;
	int64_t key_gen;      /* the store's key generation this master belongs to */
	pthread_mutex_t key_lock;
	char *pass;           /* the passphrase, if any (locked memory): to load a new key */
	size_t passlen;
	unsigned char *name_key; /* keys the customer-name hash (random, wrapped by master) */
	unsigned char *row_key;  /* keys the fields' MACs (random, wrapped by master) */
	unsigned char store_id[STORE_ID_BYTES];
	bool have_store_id;
	struct policy *policy; /* as loaded at open; the daemon may swap in newer ones */
	struct audit *audit;     /* the store's audit log (audit.db) */
	pthread_key_t cache_key; /* each thread's customer cache (see vault.c) */
	bool have_cache_key;
	/* one more whenever customers may have gone (an erase): every thread's
	 * cache starts afresh */
	atomic_uint_fast64_t customers_epoch;
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

/* Creates customer NAME (kept in NFC) with a fresh data key. EINVAL if the
 * name is not a customer name (cname.h), EEXIST if it, or a lookalike,
 * exists; *WHY says which. */
int vault_customer_create(struct vault *v, const char *name, uid_t uid, int64_t *id,
			  const char **why);
/* ENOENT if there is none; EIO (logged) if a stored name does not authenticate. */
int vault_customer_by_name(struct vault *v, const char *name, struct customer *out);
int vault_customer_get(struct vault *v, int64_t id, struct customer *out);
/* Master-key rotation (keys.c). A fresh master key; every customer's data
 * key and sealed name, the row and name keys, and the audit signing key's
 * seal rewrapped under it in one transaction; the key file replaced
 * (wrapped with NEWPASS, or with the store's passphrase when NEWPASS is
 * NULL and the store has one); the old key wiped. Crash-safe at every step:
 * vault_open finishes or forgets a rotation that was cut short. 0 or errno,
 * with ERR set. */
int vault_key_rotate(struct vault *v, char *err, size_t errlen);
/* Rewrites the key file under NEWPASS (NULL: a plain, root-only key file);
 * nothing else changes. 0 or errno, with ERR set. */
int vault_key_passphrase(struct vault *v, const char *newpass, size_t newlen, char *err,
			 size_t errlen);
/* The store's key moved on (another process rotated it): loads the new one
 * and swaps it in. 0 (also when nothing changed) or errno. */
int vault_key_reload(struct vault *v);
/* Re-encrypts every version of every field of CUSTOMER_ID under a fresh
 * data key, in one transaction (a crash leaves the old key and values, and
 * a rerun does it again). *VERSIONS: how many. 0 or errno. */
int vault_rekey_customer(struct vault *v, int64_t customer_id, size_t *versions);
/* Wipes a retired master key once no request can still be using it. */
void vault_key_retire(struct vault *v);

/* Crypto-erases customer ID (inside a transaction; see store_customer_erase):
 * its name and every version of its values are gone for good. Call
 * vault_customers_changed after the commit. 0 or ENOENT. */
int vault_customer_erase(struct vault *v, int64_t id);
/* Customers may have gone: every thread's cache of them starts afresh. */
void vault_customers_changed(struct vault *v);
/* Up to MAX customers with id > AFTER, in id order; FN returns nonzero to stop. */
int vault_customer_list(struct vault *v, int64_t after, int max,
			int (*fn)(void *ctx, const struct customer *c), void *ctx);

/* A field's row, as the store has it, checked: its MAC must authenticate and
 * no newer version may exist than the one it points at (a rolled-back
 * pointer is EIO, logged as an integrity error). The listing checks the MAC
 * only. ENOENT if there is no such row. */
int vault_field_get(struct vault *v, int64_t field_id, struct field_row *out);
int vault_field_by_name(struct vault *v, int64_t customer_id, const char *name,
			struct field_row *out);
int vault_field_list(struct vault *v, int64_t customer_id,
		     int (*fn)(void *ctx, const struct field_row *f), void *ctx);
/* The field's row id, inserting a never-written placeholder (with its MAC)
 * if needed. */
int vault_field_ensure(struct vault *v, int64_t customer_id, const char *name, int64_t *id);
void vault_row_mac(const struct vault *v, const struct field_row *f,
		   unsigned char out[STORE_ROW_MAC_BYTES]);
int vault_check_row(struct vault *v, const struct field_row *f);

/* Decrypts a version (0 = current) of field FIELD_ID into OUT. ENOENT if there
 * is no such version; EIO (logged) if it does not authenticate. */
int vault_read(struct vault *v, int64_t field_id, int64_t version, struct secbuf *out);

/* The two halves of vault_read, for callers that decide between them (the
 * daemon's open: fetch the row and ciphertext in one query, decide, record,
 * and only then decrypt). A field without a version yet unseals as empty. */
int vault_fetch(struct vault *v, int64_t field_id, int64_t version, struct sealed_value *sv);
int vault_unseal(struct vault *v, const struct sealed_value *sv, struct secbuf *out);

struct write_result {
	int64_t field_id;
	int64_t version;
	const char *why; /* for EINVAL: what is wrong with the name or value */
};

/* Stores PT as a new version of CUSTOMER_ID's field NAME, atomically, creating
 * the field if needed. EINVAL (RES->why) if the field is not in catalogue CAT
 * or the value breaks its format. Only as version EXPECT: EAGAIN if another
 * version came first (the daemon puts a version on the record before it
 * stores it). */
int vault_write(struct vault *v, const struct catalog *cat, int64_t customer_id, const char *name,
		const void *pt, size_t len, uid_t uid, bool durable, int64_t expect,
		struct write_result *res);

/* Same, inside a transaction the caller holds (for imports). */
int vault_write_in_txn(struct vault *v, const struct catalog *cat, int64_t customer_id,
		       const char *name, const void *pt, size_t len, uid_t uid,
		       struct write_result *res);


#endif
