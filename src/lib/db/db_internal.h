/* For the modules that own tables (src/lib/store, src/lib/audit): opening a
 * database with its schema, and prepared statements on the calling thread's
 * connection. Only those folders have this directory on their include path:
 * nothing above the store runs SQL. */
#ifndef CUSTFS_DB_INTERNAL_H
#define CUSTFS_DB_INTERNAL_H

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "db.h"

/* Opens PATH. CREATE makes a new database (refusing an existing file) and runs
 * CREATE_SQL on it. */
int db_open(const char *path, bool create, const char *create_sql, struct db **out);
/* Opens PATH (existing) with one connection that every thread uses: the
 * caller makes them take turns. Its page cache stays warm across threads. */
int db_open_single(const char *path, struct db **out);
/* How long a statement waits for another connection's lock. */
#define DB_BUSY_TIMEOUT_MS 5000

/* The one connection of a db_open_single database (checkpoints). */
sqlite3 *db_single_conn(struct db *db);
/* Runs a script of statements (schemas, upgrades) on the calling thread's
 * connection. 0 or errno. */
int db_script(struct db *db, const char *sql, const char *what);

/* A statement of a module: its SQL and the slot it is kept in on every
 * connection, assigned on first use. Declare each one static:
 *     static struct db_sql q_field = DB_SQL("SELECT ... WHERE id=?1");  */
struct db_sql {
	const char *text;
	atomic_int slot; /* 0: not assigned yet */
};
#define DB_SQL(s) { .text = (s), .slot = 0 }

/* The calling thread's prepared statement for Q, reset and ready to bind.
 * NULL with *ERR set on failure. Give it back with db_done. */
sqlite3_stmt *db_stmt(struct db *db, struct db_sql *q, int *err);
void db_done(sqlite3_stmt *s);
/* The connection a statement from db_stmt belongs to (for errors, changes). */
sqlite3 *db_conn(sqlite3_stmt *s);
/* Runs Q (no rows wanted). 0 or errno. */
int db_exec(struct db *db, struct db_sql *q);
/* Steps S once expecting SQLITE_DONE, maps the result and gives S back. */
int db_step_done(sqlite3_stmt *s, const char *what);
/* An sqlite result code as 0 or a positive errno (logged where useful). */
int db_map_rc(sqlite3 *conn, int rc, const char *what);
/* Copies text column COL into DST[CAP] (cut, always terminated). */
void db_column_text(sqlite3_stmt *s, int col, char *dst, size_t cap);

#endif
