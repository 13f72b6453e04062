/* The crypto layer: libsodium XChaCha20-Poly1305 (IETF) envelope encryption.
 *
 * Key hierarchy: a 32-byte master key per store wraps one random data key per
 * customer; each field version is sealed with its customer's data key. Every
 * sealed blob carries associated data that binds it to its place, so a blob
 * copied to another store, customer, field or version fails to open.
 *
 * MUST: keys live only in sodium_malloc memory (crypto_key_new) and are wiped
 * (crypto_key_free) on every path; a failed open yields no plaintext at all. */
#ifndef CUSTFS_CRYPTO_H
#define CUSTFS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "secbuf.h"

#define CRYPTO_KEY_BYTES 32
#define CRYPTO_NONCE_BYTES 24
#define CRYPTO_TAG_BYTES 16
#define CRYPTO_OVERHEAD (CRYPTO_NONCE_BYTES + CRYPTO_TAG_BYTES)
#define STORE_ID_BYTES 16
/* A wrapped data key: nonce || sealed key || tag. */
#define WRAPPED_KEY_BYTES (CRYPTO_KEY_BYTES + CRYPTO_OVERHEAD)
#define AAD_MAX_BYTES 600
/* The largest binding: a value's (label, store id, customer and field names
 * with 2-byte lengths, version). It must fit, or crypto_aad_value aborts. */
_Static_assert(14 + STORE_ID_BYTES + 2 * (2 + 255) + 8 <= AAD_MAX_BYTES,
	       "associated data of a value fits its buffer");

/* Associated data: a domain label, then length-prefixed parts. */
struct aad {
	unsigned char buf[AAD_MAX_BYTES];
	size_t len;
};

/* 0, or -1 if libsodium cannot start (no entropy source). */
int crypto_init(void);

/* A fresh key in sodium_malloc memory: random, or zero for the caller to fill.
 * NULL on ENOMEM. */
unsigned char *crypto_key_new_random(void);
unsigned char *crypto_key_new(void);
void crypto_key_free(unsigned char *key);

/* Binds a field version to store, customer, field name and version number. */
void crypto_aad_value(struct aad *a, const unsigned char store_id[STORE_ID_BYTES],
		      const char *customer, const char *field, int64_t version);
/* Binds a wrapped data key to store and customer. */
void crypto_aad_datakey(struct aad *a, const unsigned char store_id[STORE_ID_BYTES],
			const char *customer);

/* Seals PT into OUT (PTLEN + CRYPTO_OVERHEAD bytes: nonce || ciphertext || tag)
 * with a fresh random nonce. */
void crypto_seal(const unsigned char *key, const struct aad *a,
		 const unsigned char *pt, size_t ptlen, unsigned char *out);
/* Opens BLOB into OUT (replacing its contents). 0, EBADMSG if the blob is not
 * authentic for this key and AAD, or ENOMEM/EFBIG; on any error OUT is empty. */
int crypto_open(const unsigned char *key, const struct aad *a,
		const unsigned char *blob, size_t bloblen, struct secbuf *out);

/* Opens BLOB into the plain buffer OUT[CAP] (for short, non-secret-length
 * items such as names). 0, EBADMSG, or EOVERFLOW if it would not fit. */
int crypto_open_to(const unsigned char *key, const struct aad *a, const unsigned char *blob,
		   size_t bloblen, unsigned char *out, size_t cap, size_t *outlen);

/* Binds a sealed customer name to its store and its lookup hash. */
void crypto_aad_name(struct aad *a, const unsigned char store_id[STORE_ID_BYTES],
		     const unsigned char *mac, size_t maclen);

/* A keyed BLAKE2b hash of NAME: equal names, equal hashes; nothing else leaks. */
void crypto_name_mac(const unsigned char *name_key, const char *name, size_t len,
		     unsigned char out[32]);
/* Derives the name-hash key from the master key (into a new sodium_malloc'd key). */
unsigned char *crypto_name_key(const unsigned char *master);

/* Wraps DATA_KEY under MASTER into OUT[WRAPPED_KEY_BYTES]. */
void crypto_wrap_key(const unsigned char *master, const struct aad *a,
		     const unsigned char *data_key, unsigned char *out);
/* Unwraps into OUT, a CRYPTO_KEY_BYTES buffer in sodium_malloc memory that
 * the caller wipes after use. 0 or EBADMSG (OUT then holds nothing). */
int crypto_unwrap_key_into(const unsigned char *master, const struct aad *a,
			   const unsigned char *wrapped, size_t wrapped_len, unsigned char *out);
/* This thread's scratch key buffer (sodium_malloc'd once per thread, freed at
 * thread exit): for a data key used and wiped within one call. */
unsigned char *crypto_thread_key(void);

/* Unwraps into a new sodium_malloc'd key (*OUT). 0, EBADMSG or ENOMEM. */
int crypto_unwrap_key(const unsigned char *master, const struct aad *a,
		      const unsigned char *wrapped, size_t wrapped_len, unsigned char **out);

#endif
