/* The store's own tables: customers, fields and sealed versions, in the
 * store's database (custfs.db, a struct db; see db.h for transactions).
 *
 * It knows nothing of crypto or FUSE: it keeps blobs. Versions are
 * append-only: triggers refuse UPDATE and DELETE on them. The staff register
 * (staff.h) and the procedures (workflow.h) keep their own tables in the same
 * database.
 *
 * Functions return 0 or a positive errno (db.h). */
#ifndef CUSTFS_STORE_H
#define CUSTFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "names.h"

#include "db.h"

#define STORE_DB_FILE "custfs.db"

/* Opens DBPATH (close it with db_close). CREATE makes a new database with the
 * store's tables (refusing an existing file). */
int store_open(const char *dbpath, bool create, struct db **out);

int store_meta_get(struct db *db, const char *key, void *buf, size_t cap, size_t *len);
/* Sets KEY (replacing an older value). */
int store_meta_put(struct db *db, const char *key, const void *val, size_t len);
int store_meta_delete(struct db *db, const char *key);

/* Customer names are customer data too: the store keeps a keyed hash of each
 * name (for lookups) and the name sealed (for listings); the vault makes both. */
#define STORE_NAME_MAC_BYTES 32
#define STORE_NAME_SEALED_MAX (NAME_MAX_BYTES + 64)

struct customer_row {
	int64_t id;
	unsigned char name_mac[STORE_NAME_MAC_BYTES];
	unsigned char name_sealed[STORE_NAME_SEALED_MAX];
	size_t name_sealed_len;
	int64_t created_ns;
};

int store_customer_by_mac(struct db *db, const unsigned char mac[STORE_NAME_MAC_BYTES],
			  struct customer_row *out);
int store_customer_get(struct db *db, int64_t id, struct customer_row *out);
/* Copies the customer's wrapped data key into BUF. */
int store_customer_key(struct db *db, int64_t id, void *buf, size_t cap, size_t *len);
int store_customer_insert(struct db *db, const unsigned char mac[STORE_NAME_MAC_BYTES],
			  const void *name_sealed, size_t name_sealed_len, const void *wrapped_key,
			  size_t keylen, uid_t uid, int64_t now_ns,
			  const unsigned char fold_mac[STORE_NAME_MAC_BYTES], int64_t *id);
/* The customer whose lookalike key (cname.h), hashed, is MAC. ENOENT if none. */
int store_customer_by_fold(struct db *db, const unsigned char mac[STORE_NAME_MAC_BYTES],
			   int64_t *id);
/* Customers made before lookalike keys existed (migrations). */
/* Crypto-erases customer ID: its data key and sealed name are destroyed in
 * place, so no version of any field opens again; the row keeps its id.
 * Inside a transaction. 0, or ENOENT (no such customer, or erased). */
int store_customer_erase(struct db *db, int64_t id, int64_t now_ns);
/* Replaces customer ID's sealed name and wrapped data key (a new master key). */
int store_customer_rekey(struct db *db, int64_t id, const void *sealed, size_t sealed_len,
			 const void *wrapped, size_t wrapped_len);
/* Every version of every field of CUSTOMER_ID, in order (FN's strings and
 * blob last until it returns; FN may reseal the version it is given). */
int store_versions_of(struct db *db, int64_t customer_id,
		      int (*fn)(void *ctx, int64_t field_id, const char *field, int64_t version,
				const void *sealed, size_t len),
		      void *ctx);
/* Replaces a version's ciphertext (the same value under a fresh data key). */
int store_version_reseal(struct db *db, int64_t field_id, int64_t version, const void *sealed,
			 size_t len);
/* Copies the write-ahead log into the database file and empties it (best
 * effort): pages replaced by an erase leave the log. */
void store_checkpoint(struct db *db);
/* Forgets every customer's lookalike key (their kind changed): the vault
 * computes them again. */
int store_customers_clear_fold(struct db *db);
int store_customers_without_fold(struct db *db,
				 int (*fn)(void *ctx, const struct customer_row *c), void *ctx);
int store_customer_set_fold(struct db *db, int64_t id, const unsigned char mac[STORE_NAME_MAC_BYTES]);
/* Calls FN for up to MAX customers with id > AFTER, in id order. FN returns
 * nonzero to stop early. */
int store_customer_list(struct db *db, int64_t after, int max,
			int (*fn)(void *ctx, const struct customer_row *c), void *ctx);

#define STORE_ROW_MAC_BYTES 32
struct field_row {
	int64_t id;
	int64_t customer_id;
	char name[NAME_MAX_BYTES + 1];
	int64_t version; /* current version; 0 = created but never written */
	int64_t size;    /* plaintext size of the current version */
	int64_t mtime_ns;
	/* The row's keyed MAC (the vault's): a current-version pointer moved back
	 * by editing the database no longer authenticates. */
	unsigned char mac[STORE_ROW_MAC_BYTES];
	bool has_mac;
	int64_t max_version; /* the newest version stored (field_get, by_name, fetch) */
};

int store_field_by_name(struct db *db, int64_t customer_id, const char *name,
			struct field_row *out);
int store_field_get(struct db *db, int64_t field_id, struct field_row *out);
/* Returns the field's row id, inserting a never-written row if needed. */
int store_field_ensure(struct db *db, int64_t customer_id, const char *name, int64_t *id);
/* Sets a row's MAC (a new placeholder, or the migration of an old store). */
int store_field_set_mac(struct db *db, int64_t field_id, const unsigned char mac[STORE_ROW_MAC_BYTES]);
/* Every field row, in id order (migrations). */
int store_field_all(struct db *db, int (*fn)(void *ctx, const struct field_row *f), void *ctx);
/* Adds what later formats added to an older store's tables. */
int store_upgrade(struct db *db);

/* Fields of a customer that hold a value, in id order. */
int store_field_list(struct db *db, int64_t customer_id,
		     int (*fn)(void *ctx, const struct field_row *f), void *ctx);

/* What opening one version needs, from one query: the field's row, the
 * customer's sealed name and wrapped data key, and the version's ciphertext
 * (BLOB, malloc'd, kept across calls; free with store_sealed_free). */
#define STORE_WRAPPED_KEY_MAX 128
struct sealed_value {
	struct field_row row;
	unsigned char name_mac[STORE_NAME_MAC_BYTES];
	unsigned char name_sealed[STORE_NAME_SEALED_MAX];
	size_t name_sealed_len;
	unsigned char wrapped_key[STORE_WRAPPED_KEY_MAX];
	size_t wrapped_len;
	int64_t version; /* the version fetched; 0: the field has none yet */
	unsigned char *blob;
	size_t blob_len, blob_cap;
};

/* VERSION 0 means the current one. ENOENT if there is no such field or
 * version; EIO if the row points at a version that is not there. */
int store_sealed_fetch(struct db *db, int64_t field_id, int64_t version, struct sealed_value *out);
void store_sealed_free(struct sealed_value *sv);

/* Appends version VERSION and makes it current, with the row's new MAC.
 * Call inside a transaction. */
int store_version_append(struct db *db, int64_t field_id, int64_t version, int64_t time_ns,
			 uid_t uid, int64_t size, const void *sealed, size_t sealed_len,
			 const unsigned char mac[STORE_ROW_MAC_BYTES]);

struct version_row {
	int64_t version;
	int64_t time_ns;
	int64_t uid;
	int64_t size;
};

int store_version_list(struct db *db, int64_t field_id,
		       int (*fn)(void *ctx, const struct version_row *v), void *ctx);
/* Version VERSION of FIELD_ID (its number, time, writer and size): ENOENT if
 * it was never stored. */
int store_version_get(struct db *db, int64_t field_id, int64_t version, struct version_row *out);

#endif
