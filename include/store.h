/* The store layer: sqlite tables of customers, fields and sealed versions.
 *
 * It knows nothing of crypto or FUSE: it keeps blobs. Each thread gets its own
 * connection with its own prepared statements (no lock of ours on the read
 * path; sqlite's WAL lets readers run beside one writer). Versions are
 * append-only: triggers refuse UPDATE and DELETE on them.
 *
 * Functions return 0 or a positive errno: ENOENT when a row is missing, EEXIST
 * on a uniqueness conflict, EBUSY when the database stays locked, EIO otherwise
 * (logged). */
#ifndef CUSTFS_STORE_H
#define CUSTFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "names.h"

struct store;

#define STORE_DB_FILE "custfs.db"

/* Opens DBPATH. CREATE makes a new database (refusing an existing file). */
int store_open(const char *dbpath, bool create, struct store **out);
void store_close(struct store *st);

/* Transactions on the calling thread's connection. DURABLE commits survive
 * power loss (synchronous=FULL); others survive a crash of the process. */
int store_begin(struct store *st, bool durable);
int store_commit(struct store *st);
void store_rollback(struct store *st);

int store_meta_get(struct store *st, const char *key, void *buf, size_t cap, size_t *len);
int store_meta_put(struct store *st, const char *key, const void *val, size_t len);

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

int store_customer_by_mac(struct store *st, const unsigned char mac[STORE_NAME_MAC_BYTES],
			  struct customer_row *out);
int store_customer_get(struct store *st, int64_t id, struct customer_row *out);
/* Copies the customer's wrapped data key into BUF. */
int store_customer_key(struct store *st, int64_t id, void *buf, size_t cap, size_t *len);
int store_customer_insert(struct store *st, const unsigned char mac[STORE_NAME_MAC_BYTES],
			  const void *name_sealed, size_t name_sealed_len, const void *wrapped_key,
			  size_t keylen, uid_t uid, int64_t now_ns, int64_t *id);
/* Calls FN for up to MAX customers with id > AFTER, in id order. FN returns
 * nonzero to stop early. */
int store_customer_list(struct store *st, int64_t after, int max,
			int (*fn)(void *ctx, const struct customer_row *c), void *ctx);

struct field_row {
	int64_t id;
	int64_t customer_id;
	char name[NAME_MAX_BYTES + 1];
	int64_t version; /* current version; 0 = created but never written */
	int64_t size;    /* plaintext size of the current version */
	int64_t mtime_ns;
};

int store_field_by_name(struct store *st, int64_t customer_id, const char *name,
			struct field_row *out);
int store_field_get(struct store *st, int64_t field_id, struct field_row *out);
/* Returns the field's row id, inserting a never-written row if needed. */
int store_field_ensure(struct store *st, int64_t customer_id, const char *name, int64_t *id);
/* Fields of a customer that hold a value, in id order. */
int store_field_list(struct store *st, int64_t customer_id,
		     int (*fn)(void *ctx, const struct field_row *f), void *ctx);

/* What opening one version needs, all from one query. Pointers are valid only
 * during the callback. */
struct sealed_view {
	struct field_row row;          /* the field itself */
	const unsigned char *name_mac; /* the customer's */
	const void *name_sealed;
	size_t name_sealed_len;
	const void *wrapped_key;
	size_t wrapped_len;
	const char *field;
	int64_t version;
	const void *sealed; /* NULL: the field has no version yet (VERSION 0 only) */
	size_t sealed_len;
};

/* VERSION 0 means the current one. ENOENT if there is no such field or
 * version. */
int store_sealed_get(struct store *st, int64_t field_id, int64_t version,
		     int (*fn)(void *ctx, const struct sealed_view *v), void *ctx);

/* Appends version VERSION and makes it current. Call inside a transaction. */
int store_version_append(struct store *st, int64_t field_id, int64_t version, int64_t time_ns,
			 uid_t uid, int64_t size, const void *sealed, size_t sealed_len);

struct version_row {
	int64_t version;
	int64_t time_ns;
	int64_t uid;
	int64_t size;
};

int store_version_list(struct store *st, int64_t field_id,
		       int (*fn)(void *ctx, const struct version_row *v), void *ctx);

#endif
