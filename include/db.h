/* A database handle of the library: one sqlite connection per thread (no lock
 * of ours on the read path; sqlite's WAL lets readers run beside one writer),
 * or one connection that callers take turns on (db_open_single, the audit
 * log's writer).
 *
 * Public part: transactions. Statements and schemas are the business of the
 * modules that own tables (src/lib/store, src/lib/audit), through the private
 * header src/lib/db/db_internal.h; nothing above them runs SQL.
 *
 * Functions return 0 or a positive errno: ENOENT when a row is missing, EEXIST
 * on a uniqueness conflict, EBUSY when the database stays locked, ENOSPC when
 * the disk is full, EIO otherwise (logged). */
#ifndef CUSTFS_DB_H
#define CUSTFS_DB_H

#include <stdbool.h>

struct db;

/* Transactions on the calling thread's connection. DURABLE commits survive
 * power loss (synchronous=FULL); others survive a crash of the process. */
int db_begin(struct db *db, bool durable);
int db_commit(struct db *db); /* rolls back on failure */
void db_rollback(struct db *db);
/* A request that only reads: its statements share one snapshot (one read
 * transaction, so one WAL read lock and one look at the file, not one per
 * statement). Nests; inside a write transaction it does nothing; a write
 * (db_begin, or any statement that is not read-only) ends the snapshot first.
 * Pair every db_read_begin with a db_read_end. */
void db_read_begin(struct db *db);
void db_read_end(struct db *db);
/* Whether the calling thread's connection is inside a transaction other than
 * db_read_begin's snapshot. */
bool db_in_txn(struct db *db);

void db_close(struct db *db);

#endif
