/* Turns to store a field's new version: one writer at a time per field in
 * this daemon, from choosing the version's number through its record to its
 * commit.
 *
 * A version goes on the record before it is stored, as the number it will
 * have; a sensitive one (or an fsync's) waits for the disk on the way. Taken
 * in turns, writers of one field no longer race for the number (a loser's
 * write was refused as busy), and writers of other fields wait for nothing.
 * Other processes (another mount, custctl) can still come first: the store
 * refuses a number already taken. Striped locks: no global lock. */
#ifndef CUSTFS_TURNS_H
#define CUSTFS_TURNS_H

#include <stdint.h>

struct turns;
struct turn;

struct turns *turns_new(void);
void turns_free(struct turns *t);

/* Waits at most WAIT_MS for the turn at CUSTOMER_ID's field NAME: NULL with
 * *ERR ETIMEDOUT (a holder is stuck, e.g. on a log another process holds:
 * each waiter would otherwise wait out every holder before it in turn), or
 * ENOMEM. Taken after a handle's (or scratch file's) lock, before the
 * store's and the audit log's. */
struct turn *turn_take(struct turns *t, int64_t customer_id, const char *name, int wait_ms,
		       int *err);
void turn_give(struct turns *t, struct turn *turn);

#endif
