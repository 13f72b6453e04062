/* sqlite connections, one per thread, and the statements prepared on them.
 *
 * Every module declares its statements as static struct db_sql; each gets a
 * slot number on first use, the same on every connection, so a connection's
 * statements are an array indexed by slot: no lookup, no cap, no lock. */
#include "db_internal.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

struct conn {
	struct db *db;
	sqlite3 *handle;
	sqlite3_stmt **stmt; /* by slot - 1 */
	size_t nstmt;
	int reading; /* depth of db_read_begin; its transaction is open while > 0 */
};

struct db {
	char *path;
	pthread_key_t key;        /* the calling thread's struct conn */
	pthread_mutex_t all_lock; /* guards the list below; taken only on connect/close */
	struct conn **all;
	size_t nall, capall;
	struct conn *single;      /* db_open_single: one connection, callers take turns */
};

static atomic_int next_slot = 1;

int db_map_rc(sqlite3 *conn, int rc, const char *what)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		log_warn("store: %s: database stays locked", what);
		return EBUSY;
	case SQLITE_CONSTRAINT:
		return EEXIST;
	case SQLITE_FULL:
		log_err("store: %s: disk full", what);
		return ENOSPC;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_CANTOPEN:
	case SQLITE_AUTH:
		log_err("store: %s: %s", what, conn ? sqlite3_errmsg(conn) : sqlite3_errstr(rc));
		return EACCES;
	case SQLITE_NOMEM:
		return ENOMEM;
	default:
		log_err("store: %s: %s", what, conn ? sqlite3_errmsg(conn) : sqlite3_errstr(rc));
		return EIO;
	}
}

static void conn_close(struct conn *c)
{
	for (size_t i = 0; i < c->nstmt; i++)
		sqlite3_finalize(c->stmt[i]);
	free(c->stmt);
	sqlite3_close(c->handle);
	free(c);
}

static int conn_open(const char *path, bool create, struct conn **out)
{
	struct conn *c = calloc(1, sizeof *c);
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW |
		    (create ? SQLITE_OPEN_CREATE : 0);
	if (!c)
		return ENOMEM;
	int rc = sqlite3_open_v2(path, &c->handle, flags, NULL);
	if (rc != SQLITE_OK) {
		int e = db_map_rc(c->handle, rc, path);
		conn_close(c);
		return e;
	}
	sqlite3_extended_result_codes(c->handle, 1);
	sqlite3_busy_timeout(c->handle, DB_BUSY_TIMEOUT_MS);
	/* temp_store=MEMORY: sqlite never writes temp files; foreign keys guard ids. */
	rc = sqlite3_exec(c->handle,
			  "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;"
			  "PRAGMA temp_store=MEMORY; PRAGMA trusted_schema=OFF;"
			  /* an erased key's bytes are zeroed, not left in free pages */
			  "PRAGMA secure_delete=ON;",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int e = db_map_rc(c->handle, rc, "configure connection");
		conn_close(c);
		return e;
	}
	*out = c;
	return 0;
}

/* Thread exit (libfuse starts and stops workers as load changes): close the
 * thread's connection so their number stays bounded by live threads. */
static void conn_release(void *p)
{
	struct conn *c = p;
	struct db *db = c->db;

	pthread_mutex_lock(&db->all_lock);
	for (size_t i = 0; i < db->nall; i++) {
		if (db->all[i] == c) {
			db->all[i] = db->all[--db->nall];
			break;
		}
	}
	pthread_mutex_unlock(&db->all_lock);
	conn_close(c);
}

/* The calling thread's connection, opened on first use. */
static struct conn *conn_get(struct db *db, int *err)
{
	if (db->single)
		return db->single;
	struct conn *c = pthread_getspecific(db->key);
	if (c)
		return c;
	*err = conn_open(db->path, false, &c);
	if (*err)
		return NULL;
	c->db = db;
	pthread_mutex_lock(&db->all_lock);
	if (db->nall == db->capall) {
		size_t ncap = db->capall ? db->capall * 2 : 16;
		struct conn **n = realloc(db->all, ncap * sizeof *n);
		if (!n) {
			pthread_mutex_unlock(&db->all_lock);
			conn_close(c);
			*err = ENOMEM;
			return NULL;
		}
		db->all = n;
		db->capall = ncap;
	}
	db->all[db->nall++] = c;
	pthread_mutex_unlock(&db->all_lock);
	pthread_setspecific(db->key, c);
	return c;
}

/* The calling thread's connection if it is already open (NULL otherwise). */
static struct conn *conn_current(struct db *db)
{
	return db->single ? db->single : pthread_getspecific(db->key);
}

static sqlite3_stmt *conn_stmt(struct conn *c, struct db_sql *q, int *err);
static struct db_sql q_end_read = DB_SQL("COMMIT");

/* Ends the snapshot whatever its depth: a write is about to start. Prepared,
 * as BEGIN is: the end of every request's snapshot was a parse of "COMMIT". */
static void read_stop(struct conn *c)
{
	int err = 0;
	c->reading = 0;
	/* A failed statement may have ended the transaction already. */
	if (sqlite3_get_autocommit(c->handle))
		return;
	sqlite3_stmt *s = conn_stmt(c, &q_end_read, &err);
	if (s) {
		sqlite3_step(s);
		sqlite3_reset(s);
	} else {
		sqlite3_exec(c->handle, "COMMIT", NULL, NULL, NULL);
	}
}

static int slot_of(struct db_sql *q)
{
	int s = atomic_load_explicit(&q->slot, memory_order_acquire);
	if (s)
		return s;
	int fresh = atomic_fetch_add(&next_slot, 1);
	/* Two threads may race: the first assignment wins, the other number is
	 * simply never used. */
	if (atomic_compare_exchange_strong(&q->slot, &s, fresh))
		return fresh;
	return s;
}

/* Q's statement on connection C, prepared on first use. */
static sqlite3_stmt *conn_stmt(struct conn *c, struct db_sql *q, int *err)
{
	size_t i = (size_t)slot_of(q) - 1;
	if (i >= c->nstmt) {
		size_t n = c->nstmt ? c->nstmt : 32;
		while (n <= i)
			n *= 2;
		sqlite3_stmt **g = realloc(c->stmt, n * sizeof *g);
		if (!g) {
			*err = ENOMEM;
			return NULL;
		}
		memset(g + c->nstmt, 0, (n - c->nstmt) * sizeof *g);
		c->stmt = g;
		c->nstmt = n;
	}
	if (!c->stmt[i]) {
		int rc = sqlite3_prepare_v3(c->handle, q->text, -1, SQLITE_PREPARE_PERSISTENT,
					    &c->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			*err = db_map_rc(c->handle, rc, q->text);
			return NULL;
		}
	}
	return c->stmt[i];
}

sqlite3_stmt *db_stmt(struct db *db, struct db_sql *q, int *err)
{
	struct conn *c = conn_get(db, err);
	if (!c)
		return NULL;
	sqlite3_stmt *s = conn_stmt(c, q, err);
	if (!s)
		return NULL;
	/* A write in a read-only request: the snapshot ends first (it could not
	 * become a write once another writer has committed). */
	if (c->reading && !sqlite3_stmt_readonly(s))
		read_stop(c);
	return s;
}

void db_done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

sqlite3 *db_conn(sqlite3_stmt *s)
{
	return sqlite3_db_handle(s);
}

int db_step_done(sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);
	int err = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_map_rc(db_conn(s), rc, what);
	db_done(s);
	return err;
}

int db_exec(struct db *db, struct db_sql *q)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, q, &err);
	return s ? db_step_done(s, q->text) : err;
}

void db_column_text(sqlite3_stmt *s, int col, char *dst, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	size_t n = t ? (size_t)sqlite3_column_bytes(s, col) : 0;
	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, t, n);
	dst[n] = '\0';
}

int db_script(struct db *db, const char *sql, const char *what)
{
	int err = 0;
	struct conn *c = conn_get(db, &err);
	if (!c)
		return err;
	int rc = sqlite3_exec(c->handle, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : db_map_rc(c->handle, rc, what);
}

/* An empty handle for PATH; no connection yet. NULL on ENOMEM. */
static struct db *db_new(const char *path)
{
	struct db *db = calloc(1, sizeof *db);
	if (!db || !(db->path = strdup(path))) {
		free(db);
		return NULL;
	}
	pthread_mutex_init(&db->all_lock, NULL);
	if (pthread_key_create(&db->key, conn_release) != 0) {
		free(db->path);
		free(db);
		return NULL;
	}
	return db;
}

static void db_free_empty(struct db *db)
{
	pthread_key_delete(db->key);
	pthread_mutex_destroy(&db->all_lock);
	free(db->path);
	free(db);
}

int db_open(const char *path, bool create, const char *create_sql, struct db **out)
{
	struct db *db = db_new(path);
	struct conn *c = NULL;
	int err;

	if (!db)
		return ENOMEM;
	if (create) {
		struct stat sb;
		if (lstat(path, &sb) == 0) {
			db_free_empty(db);
			return EEXIST;
		}
		err = conn_open(path, true, &c);
		if (err) {
			db_free_empty(db);
			return err;
		}
		int rc = sqlite3_exec(c->handle, create_sql, NULL, NULL, NULL);
		err = rc == SQLITE_OK ? 0 : db_map_rc(c->handle, rc, "create schema");
		conn_close(c);
		if (err) {
			db_free_empty(db);
			return err;
		}
	}
	/* Open this thread's connection now so a bad path fails here, not later. */
	if (!conn_get(db, &err)) {
		db_free_empty(db);
		return err;
	}
	*out = db;
	return 0;
}

int db_open_single(const char *path, struct db **out)
{
	struct db *db = db_new(path);
	if (!db)
		return ENOMEM;
	int err = conn_open(path, false, &db->single);
	if (err) {
		db_free_empty(db);
		return err;
	}
	db->single->db = db;
	*out = db;
	return 0;
}

sqlite3 *db_single_conn(struct db *db)
{
	return db->single ? db->single->handle : NULL;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	if (db->single)
		conn_close(db->single);
	for (size_t i = 0; i < db->nall; i++)
		conn_close(db->all[i]);
	free(db->all);
	db_free_empty(db);
}

static struct db_sql q_begin = DB_SQL("BEGIN IMMEDIATE");
static struct db_sql q_begin_read = DB_SQL("BEGIN DEFERRED");
static struct db_sql q_commit = DB_SQL("COMMIT");
static struct db_sql q_rollback = DB_SQL("ROLLBACK");
static struct db_sql q_sync_full = DB_SQL("PRAGMA synchronous=FULL");
static struct db_sql q_sync_normal = DB_SQL("PRAGMA synchronous=NORMAL");

void db_read_begin(struct db *db)
{
	int err = 0;
	struct conn *c = conn_get(db, &err);
	if (!c)
		return;
	if (c->reading)
		c->reading++;
	else if (sqlite3_get_autocommit(c->handle) && db_exec(db, &q_begin_read) == 0)
		c->reading = 1;
	/* else: inside a write transaction, which is already one snapshot */
}

void db_read_end(struct db *db)
{
	struct conn *c = conn_current(db);
	if (c && c->reading && --c->reading == 0)
		read_stop(c);
}

int db_begin(struct db *db, bool durable)
{
	/* A write inside a read-only request: its snapshot ends first (it holds no
	 * changes), so the write starts from the newest state. */
	struct conn *c = conn_current(db);
	if (c && c->reading)
		read_stop(c);
	int err = db_exec(db, durable ? &q_sync_full : &q_sync_normal);
	return err ? err : db_exec(db, &q_begin);
}

int db_commit(struct db *db)
{
	int err = db_exec(db, &q_commit);
	if (err)
		db_rollback(db);
	return err;
}

bool db_in_txn(struct db *db)
{
	int err = 0;
	struct conn *c = conn_get(db, &err);
	return c && !c->reading && !sqlite3_get_autocommit(c->handle);
}

void db_rollback(struct db *db)
{
	if (db_in_txn(db))
		db_exec(db, &q_rollback);
}
