/* For the store layer's own modules (store.c, staff.c): prepared statements on
 * the calling thread's connection. Nothing above the store layer includes this. */
#ifndef CUSTFS_STORE_INTERNAL_H
#define CUSTFS_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"

/* The calling thread's statement for SQL (a string constant: cached by its
 * address), reset and ready to bind. NULL with *ERR set on failure. */
sqlite3_stmt *store_prepare(struct store *st, const char *sql, sqlite3 **db, int *err);
/* Opens (CREATE: creates, refusing an existing file) an sqlite database with
 * the store's connection handling and CREATE_SQL / UPGRADE_SQL schemas. */
int store_open_schema(const char *dbpath, bool create, const char *create_sql,
		      const char *upgrade_sql, struct store **out);
/* Opens DBPATH (existing) with one connection that every thread uses: the
 * caller makes them take turns. Its page cache stays warm across threads. */
int store_open_single(const char *dbpath, struct store **out);
/* Resets a statement after use. */
void store_done(sqlite3_stmt *s);
/* An sqlite result code as 0 or a positive errno (logged where useful). */
int store_map_rc(sqlite3 *db, int rc, const char *what);

#endif
