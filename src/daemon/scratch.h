/* Scratch files: the temporary files editors and tools make beside a field.
 *
 * `sed -i` writes sedXXXXXX then renames it over the field; rsync writes
 * .NAME.XXXXXX; vim writes .NAME.swp and NAME~. A name in a customer directory
 * that is not a catalogue field is a scratch file: it lives only in this
 * daemon's memory (sodium_malloc, never on disk), is seen only by the uid that
 * made it (each person has their own scratch names), and is gone at unmount. Renaming one over a field name
 * stores a new version of that field.
 *
 * Memory is bounded: the policy's limits per person (people.h), and at most
 * SCRATCH_MAX_FILES files of at most VALUE_MAX_BYTES each. One mutex guards the table; the field read path never
 * takes it. Each node's contents have their own lock. */
#ifndef CUSTFS_SCRATCH_H
#define CUSTFS_SCRATCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "names.h"
#include "secbuf.h"

/* A hard cap of the table; the policy's limits (scratch-files) come first. */
#define SCRATCH_MAX_FILES 65536

struct scratch_node {
	uint64_t id; /* unique for the daemon's life; part of the inode number */
	int64_t customer_id;
	char name[NAME_MAX_BYTES + 1]; /* guarded by the table lock */
	uid_t owner;
	mode_t mode;
	bool linked;   /* still has a name; guarded by the table lock */
	unsigned refs; /* table lock */
	pthread_mutex_t lock; /* guards buf, mtime_ns and charged */
	struct secbuf buf;
	size_t charged; /* bytes counted against the owner (people.h) */
	int64_t mtime_ns;
	/* The owner's rights epoch when it was started (made, or emptied):
	 * after a change of their rights it reads no more (it may hold what
	 * they could read then and not now). Guarded by lock. */
	uint64_t rights_epoch;
	struct scratch_node *next;
};

struct scratch_table;

/* ON_FREE (may be NULL) hears of every node freed: its owner and the bytes
 * counted against them. */
struct scratch_table *scratch_table_new(unsigned max_files,
					void (*on_free)(void *ctx, uid_t owner, size_t charged),
					void *ctx);
void scratch_table_free(struct scratch_table *t);

/* Creates NAME in CUSTOMER_ID owned by OWNER. Returns a referenced node.
 * EEXIST, ENOSPC (too many scratch files) or ENOMEM. */
int scratch_create(struct scratch_table *t, int64_t customer_id, const char *name, uid_t owner,
		   mode_t mode, struct scratch_node **out);
/* OWNER's referenced node by name, or any by id; NULL if none. */
struct scratch_node *scratch_find(struct scratch_table *t, int64_t customer_id, uid_t owner,
				  const char *name);
struct scratch_node *scratch_get(struct scratch_table *t, uint64_t id);
/* Drops a reference; frees (wiping) an unlinked node with none left. */
void scratch_put(struct scratch_table *t, struct scratch_node *n);
/* Removes N's name. */
void scratch_unlink(struct scratch_table *t, struct scratch_node *n);
/* Renames N to NEWNAME in the same customer, unlinking any scratch file there. */
void scratch_rename(struct scratch_table *t, struct scratch_node *n, const char *newname);

/* Calls FN for each linked scratch file of CUSTOMER_ID owned by UID. */
void scratch_list(struct scratch_table *t, int64_t customer_id, uid_t uid,
		  void (*fn)(void *ctx, uint64_t id, const char *name), void *ctx);

#endif
