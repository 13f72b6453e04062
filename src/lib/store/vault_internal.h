/* What vault.c and keys.c share (the store library's own). */
#ifndef CUSTFS_VAULT_INTERNAL_H
#define CUSTFS_VAULT_INTERNAL_H

#include "vault.h"

void vault_join(char *out, size_t cap, const char *dir, const char *name);
void vault_row_key_aad(struct aad *a, const unsigned char store_id[STORE_ID_BYTES]);
/* The name-hash key: from the store (wrapped by the master key), or, in a
 * store made before it was kept, derived as it then was and kept now. */
int vault_load_name_key(struct vault *v);
/* At open: the key file did not open the store; a rotation that committed
 * left its key in master.key.next: adopt it and finish the rotation. */
int vault_adopt_next_key(struct vault *v);
/* The store's key generation (meta key_gen; 0 before any rotation). */
int64_t vault_stored_key_gen(struct vault *v);
/* Runs OP with the master key; where it does not authenticate, with the key
 * a rotation just retired, then with a newer one (another process rotated
 * the key): requests in flight across a rotation do not fail. */
int vault_under_master(struct vault *v, int (*op)(void *ctx, const unsigned char *key),
		       void *ctx);
/* Before wrapping anything new under the master key: the key is the store's
 * current one. 0 or errno. */
int vault_key_current(struct vault *v);

#endif
