#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "store_internal.h"

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_SYNC_FULL,
	S_SYNC_NORMAL,
	S_META_GET,
	S_META_PUT,
	S_CUST_BY_MAC,
	S_CUST_GET,
	S_CUST_KEY,
	S_CUST_INSERT,
	S_CUST_LIST,
	S_FIELD_BY_NAME,
	S_FIELD_GET,
	S_FIELD_INSERT,
	S_FIELD_LIST,
	S_FIELD_SET_CURRENT,
	S_SEALED_GET,
	S_VERSION_INSERT,
	S_VERSION_LIST,
	S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SYNC_FULL] = "PRAGMA synchronous=FULL",
	[S_SYNC_NORMAL] = "PRAGMA synchronous=NORMAL",
	[S_META_GET] = "SELECT value FROM meta WHERE key=?1",
	[S_META_PUT] = "INSERT INTO meta(key, value) VALUES(?1, ?2)",
	[S_CUST_BY_MAC] = "SELECT id, name_mac, name_sealed, created_ns FROM customers "
			  "WHERE name_mac=?1",
	[S_CUST_GET] = "SELECT id, name_mac, name_sealed, created_ns FROM customers WHERE id=?1",
	[S_CUST_KEY] = "SELECT wrapped_key FROM customers WHERE id=?1",
	[S_CUST_INSERT] = "INSERT INTO customers(name_mac, name_sealed, wrapped_key, created_ns, "
			  "created_uid) VALUES(?1, ?2, ?3, ?4, ?5)",
	[S_CUST_LIST] = "SELECT id, name_mac, name_sealed, created_ns FROM customers "
			"WHERE id > ?1 ORDER BY id LIMIT ?2",
	[S_FIELD_BY_NAME] = "SELECT id, customer_id, name, cur_version, cur_size, mtime_ns "
			    "FROM fields WHERE customer_id=?1 AND name=?2",
	[S_FIELD_GET] = "SELECT id, customer_id, name, cur_version, cur_size, mtime_ns "
			"FROM fields WHERE id=?1",
	[S_FIELD_INSERT] = "INSERT INTO fields(customer_id, name) VALUES(?1, ?2)",
	[S_FIELD_LIST] = "SELECT id, customer_id, name, cur_version, cur_size, mtime_ns "
			 "FROM fields WHERE customer_id=?1 AND cur_version > 0 ORDER BY id",
	[S_FIELD_SET_CURRENT] = "UPDATE fields SET cur_version=?2, cur_size=?3, mtime_ns=?4 "
				"WHERE id=?1 AND cur_version=?2 - 1",
	[S_SEALED_GET] = "SELECT c.name_mac, c.name_sealed, c.wrapped_key, f.name, v.version, "
			 "v.sealed, f.customer_id, f.cur_version, f.cur_size, f.mtime_ns "
			 "FROM fields f JOIN customers c ON c.id = f.customer_id "
			 "LEFT JOIN versions v ON v.field_id = f.id AND v.version = "
			 "CASE WHEN ?2 = 0 THEN f.cur_version ELSE ?2 END WHERE f.id = ?1",
	[S_VERSION_INSERT] = "INSERT INTO versions(field_id, version, time_ns, uid, size, sealed) "
			     "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[S_VERSION_LIST] = "SELECT version, time_ns, uid, size FROM versions "
			   "WHERE field_id=?1 ORDER BY version",
};

static const char schema_sql[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE customers("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name_mac BLOB NOT NULL UNIQUE,"
	"  name_sealed BLOB NOT NULL,"
	"  wrapped_key BLOB NOT NULL,"
	"  created_ns INTEGER NOT NULL,"
	"  created_uid INTEGER NOT NULL);"
	"CREATE TABLE fields("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  customer_id INTEGER NOT NULL REFERENCES customers(id),"
	"  name TEXT NOT NULL,"
	"  cur_version INTEGER NOT NULL DEFAULT 0,"
	"  cur_size INTEGER NOT NULL DEFAULT 0,"
	"  mtime_ns INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE(customer_id, name));"
	"CREATE TABLE versions("
	"  field_id INTEGER NOT NULL REFERENCES fields(id),"
	"  version INTEGER NOT NULL,"
	"  time_ns INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  sealed BLOB NOT NULL,"
	"  UNIQUE(field_id, version));"
	/* Nothing is overwritten (R3.4): versions are append-only. */
	"CREATE TRIGGER versions_append_only_u BEFORE UPDATE ON versions "
	"  BEGIN SELECT RAISE(ABORT, 'versions are append-only'); END;"
	"CREATE TRIGGER versions_append_only_d BEFORE DELETE ON versions "
	"  BEGIN SELECT RAISE(ABORT, 'versions are append-only'); END;"
	"CREATE TRIGGER customers_kept BEFORE DELETE ON customers "
	"  BEGIN SELECT RAISE(ABORT, 'customers are not deleted'); END;";

#define EXTRA_STMTS 64

/* Tables added after the first format: created on every open if missing. */
static const char schema_staff_sql[] =
	"CREATE TABLE IF NOT EXISTS employees("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  login TEXT NOT NULL UNIQUE,"
	"  uid INTEGER NOT NULL UNIQUE,"
	"  name TEXT NOT NULL,"
	"  department TEXT NOT NULL,"
	"  post TEXT NOT NULL DEFAULT '',"
	"  staff_type TEXT NOT NULL,"
	"  organisation TEXT NOT NULL DEFAULT '',"
	"  end_date TEXT NOT NULL DEFAULT '',"
	"  is_head INTEGER NOT NULL DEFAULT 0,"
	"  group_role TEXT NOT NULL DEFAULT 'none',"
	"  departed INTEGER NOT NULL DEFAULT 0,"
	"  created_ns INTEGER NOT NULL,"
	"  updated_ns INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS grants("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  employee_id INTEGER NOT NULL REFERENCES employees(id),"
	"  role TEXT NOT NULL,"
	"  scoped INTEGER NOT NULL DEFAULT 0,"
	"  end_date TEXT NOT NULL DEFAULT '',"
	"  status TEXT NOT NULL DEFAULT 'active',"
	"  created_ns INTEGER NOT NULL,"
	"  created_uid INTEGER NOT NULL,"
	"  ended_ns INTEGER,"
	"  ended_uid INTEGER,"
	"  note TEXT NOT NULL DEFAULT '',"
	"  origin TEXT NOT NULL DEFAULT 'break-glass',"  /* or 'application' */
	"  application_id INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS grants_by_employee ON grants(employee_id);"
	"CREATE TABLE IF NOT EXISTS grant_customers("
	"  grant_id INTEGER NOT NULL REFERENCES grants(id),"
	"  customer_id INTEGER NOT NULL REFERENCES customers(id),"
	"  PRIMARY KEY(grant_id, customer_id)) WITHOUT ROWID;"
	/* The procedures (R3.1-R3.3, R4.2, R4.4): applications, appeals, reports. */
	"CREATE TABLE IF NOT EXISTS applications("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  employee_id INTEGER NOT NULL REFERENCES employees(id),"
	"  role TEXT NOT NULL,"
	"  scoped INTEGER NOT NULL DEFAULT 0,"
	"  end_date TEXT NOT NULL DEFAULT '',"
	"  replaces INTEGER NOT NULL DEFAULT 0,"
	"  reason TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  filed_by INTEGER NOT NULL REFERENCES employees(id),"
	"  filed_ns INTEGER NOT NULL,"
	"  approved_by INTEGER NOT NULL DEFAULT 0,"
	"  decided_ns INTEGER NOT NULL DEFAULT 0,"
	"  decision_note TEXT NOT NULL DEFAULT '',"
	"  implemented_by INTEGER NOT NULL DEFAULT 0,"
	"  implemented_ns INTEGER NOT NULL DEFAULT 0,"
	"  grant_id INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS application_customers("
	"  application_id INTEGER NOT NULL REFERENCES applications(id),"
	"  customer_id INTEGER NOT NULL REFERENCES customers(id),"
	"  PRIMARY KEY(application_id, customer_id)) WITHOUT ROWID;"
	/* Checkouts of sensitive records (R3.5). */
	"CREATE TABLE IF NOT EXISTS checkouts("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  employee_id INTEGER NOT NULL REFERENCES employees(id),"
	"  customer_id INTEGER NOT NULL REFERENCES customers(id),"
	"  class TEXT NOT NULL DEFAULT '',"
	"  field TEXT NOT NULL DEFAULT '',"
	"  purpose TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  requested_ns INTEGER NOT NULL,"
	"  duration_s INTEGER NOT NULL,"
	"  expires_ns INTEGER NOT NULL DEFAULT 0,"
	"  approved_by INTEGER NOT NULL DEFAULT 0,"
	"  ended_ns INTEGER NOT NULL DEFAULT 0,"
	"  ended_by INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS checkouts_live ON checkouts(status, expires_ns);"
	"CREATE TABLE IF NOT EXISTS cases("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  kind TEXT NOT NULL,"  /* appeal | report */
	"  filed_by INTEGER NOT NULL,"
	"  filed_ns INTEGER NOT NULL,"
	"  text TEXT NOT NULL,"
	"  cite TEXT NOT NULL DEFAULT '',"
	"  status TEXT NOT NULL,"
	"  head_by INTEGER NOT NULL DEFAULT 0,"
	"  head_ns INTEGER NOT NULL DEFAULT 0,"
	"  head_note TEXT NOT NULL DEFAULT '',"
	"  resolved_by INTEGER NOT NULL DEFAULT 0,"
	"  resolved_ns INTEGER NOT NULL DEFAULT 0,"
	"  resolution TEXT NOT NULL DEFAULT '');";

struct conn {
	struct store *st;
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
	/* Statements of the store's other modules (store_prepare), by SQL text. */
	const char *extra_sql[EXTRA_STMTS];
	sqlite3_stmt *extra[EXTRA_STMTS];
	size_t nextra;
};

struct store {
	char *path;
	pthread_key_t key; /* the calling thread's struct conn */
	pthread_mutex_t all_lock; /* guards the list below; taken only on connect/close */
	struct conn **all;
	size_t nall, capall;
	struct conn *single; /* store_open_single: one connection, callers take turns */
};

static int map_rc(sqlite3 *db, int rc, const char *what)
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
		log_err("store: %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		return EACCES;
	case SQLITE_NOMEM:
		return ENOMEM;
	default:
		log_err("store: %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		return EIO;
	}
}

static void conn_close(struct conn *c)
{
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(c->stmt[i]);
	for (size_t i = 0; i < c->nextra; i++)
		sqlite3_finalize(c->extra[i]);
	sqlite3_close(c->db);
	free(c);
}

static int conn_open(const char *path, bool create, struct conn **out)
{
	struct conn *c = calloc(1, sizeof *c);
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW |
		    (create ? SQLITE_OPEN_CREATE : 0);
	if (!c)
		return ENOMEM;
	int rc = sqlite3_open_v2(path, &c->db, flags, NULL);
	if (rc != SQLITE_OK) {
		int e = map_rc(c->db, rc, path);
		conn_close(c);
		return e;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, 5000);
	/* temp_store=MEMORY: sqlite never writes temp files; foreign keys guard ids. */
	rc = sqlite3_exec(c->db,
			  "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;"
			  "PRAGMA temp_store=MEMORY; PRAGMA trusted_schema=OFF;",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int e = map_rc(c->db, rc, "configure connection");
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
	struct store *st = c->st;

	pthread_mutex_lock(&st->all_lock);
	for (size_t i = 0; i < st->nall; i++) {
		if (st->all[i] == c) {
			st->all[i] = st->all[--st->nall];
			break;
		}
	}
	pthread_mutex_unlock(&st->all_lock);
	conn_close(c);
}

/* The calling thread's connection, opened on first use. */
static struct conn *conn_get(struct store *st, int *err)
{
	if (st->single)
		return st->single;
	struct conn *c = pthread_getspecific(st->key);
	if (c)
		return c;
	*err = conn_open(st->path, false, &c);
	if (*err)
		return NULL;
	c->st = st;
	pthread_mutex_lock(&st->all_lock);
	if (st->nall == st->capall) {
		size_t ncap = st->capall ? st->capall * 2 : 16;
		struct conn **n = realloc(st->all, ncap * sizeof *n);
		if (!n) {
			pthread_mutex_unlock(&st->all_lock);
			conn_close(c);
			*err = ENOMEM;
			return NULL;
		}
		st->all = n;
		st->capall = ncap;
	}
	st->all[st->nall++] = c;
	pthread_mutex_unlock(&st->all_lock);
	pthread_setspecific(st->key, c);
	return c;
}

/* A reset prepared statement of the calling thread. */
static sqlite3_stmt *stmt(struct store *st, enum stmt_id id, sqlite3 **db, int *err)
{
	struct conn *c = conn_get(st, err);
	if (!c)
		return NULL;
	*db = c->db;
	if (!c->stmt[id]) {
		int rc = sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					    &c->stmt[id], NULL);
		if (rc != SQLITE_OK) {
			*err = map_rc(c->db, rc, stmt_sql[id]);
			return NULL;
		}
	}
	return c->stmt[id];
}

static void done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

sqlite3_stmt *store_prepare(struct store *st, const char *sql, sqlite3 **db, int *err)
{
	struct conn *c = conn_get(st, err);
	if (!c)
		return NULL;
	*db = c->db;
	for (size_t i = 0; i < c->nextra; i++)
		if (c->extra_sql[i] == sql)
			return c->extra[i];
	if (c->nextra == EXTRA_STMTS) {
		log_err("store: more than %d distinct statements", EXTRA_STMTS);
		*err = EIO;
		return NULL;
	}
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
	if (rc != SQLITE_OK) {
		*err = map_rc(c->db, rc, sql);
		return NULL;
	}
	c->extra_sql[c->nextra] = sql;
	c->extra[c->nextra++] = s;
	return s;
}

void store_done(sqlite3_stmt *s)
{
	done(s);
}

int store_map_rc(sqlite3 *db, int rc, const char *what)
{
	return map_rc(db, rc, what);
}

/* Runs a statement that returns no rows. */
static int exec_simple(struct store *st, enum stmt_id id)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = stmt(st, id, &db, &err);
	if (!s)
		return err;
	int rc = sqlite3_step(s);
	err = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : map_rc(db, rc, stmt_sql[id]);
	done(s);
	return err;
}

/* An empty store handle for DBPATH; no connection yet. NULL on ENOMEM. */
static struct store *store_new(const char *dbpath)
{
	struct store *st = calloc(1, sizeof *st);
	if (!st || !(st->path = strdup(dbpath))) {
		free(st);
		return NULL;
	}
	pthread_mutex_init(&st->all_lock, NULL);
	if (pthread_key_create(&st->key, conn_release) != 0) {
		free(st->path);
		free(st);
		return NULL;
	}
	return st;
}

int store_open(const char *dbpath, bool create, struct store **out)
{
	return store_open_schema(dbpath, create, schema_sql, schema_staff_sql, out);
}

int store_open_schema(const char *dbpath, bool create, const char *create_sql,
		      const char *upgrade_sql, struct store **out)
{
	struct store *st = store_new(dbpath);
	struct conn *c = NULL;
	int err;

	if (!st)
		return ENOMEM;
	if (create) {
		struct stat sb;
		if (lstat(dbpath, &sb) == 0) {
			err = EEXIST;
			goto fail;
		}
		err = conn_open(dbpath, true, &c);
		if (err)
			goto fail;
		int rc = sqlite3_exec(c->db, create_sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			err = map_rc(c->db, rc, "create schema");
			conn_close(c);
			goto fail;
		}
		conn_close(c);
		c = NULL;
	}
	/* Open this thread's connection now so a bad path fails here, not later. */
	struct conn *main_conn = conn_get(st, &err);
	if (!main_conn)
		goto fail;
	int rc = upgrade_sql ? sqlite3_exec(main_conn->db, upgrade_sql, NULL, NULL, NULL) : SQLITE_OK;
	if (rc != SQLITE_OK) {
		err = map_rc(main_conn->db, rc, "upgrade schema");
		store_close(st);
		return err;
	}
	*out = st;
	return 0;
fail:
	pthread_key_delete(st->key);
	free(st->path);
	free(st);
	return err;
}

int store_open_single(const char *dbpath, struct store **out)
{
	struct store *st = store_new(dbpath);
	if (!st)
		return ENOMEM;
	int err = conn_open(dbpath, false, &st->single);
	if (err) {
		pthread_key_delete(st->key);
		free(st->path);
		free(st);
		return err;
	}
	st->single->st = st;
	*out = st;
	return 0;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	if (st->single)
		conn_close(st->single);
	for (size_t i = 0; i < st->nall; i++)
		conn_close(st->all[i]);
	free(st->all);
	pthread_key_delete(st->key);
	pthread_mutex_destroy(&st->all_lock);
	free(st->path);
	free(st);
}

int store_begin(struct store *st, bool durable)
{
	int err = exec_simple(st, durable ? S_SYNC_FULL : S_SYNC_NORMAL);
	return err ? err : exec_simple(st, S_BEGIN);
}

int store_commit(struct store *st)
{
	int err = exec_simple(st, S_COMMIT);
	if (err)
		store_rollback(st);
	return err;
}

void store_rollback(struct store *st)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = stmt(st, S_ROLLBACK, &db, &err);
	if (s && sqlite3_get_autocommit(db) == 0) {
		sqlite3_step(s);
		done(s);
	}
}

int store_meta_get(struct store *st, const char *key, void *buf, size_t cap, size_t *len)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = stmt(st, S_META_GET, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(s, 0);
		if (n > cap) {
			err = EOVERFLOW;
		} else {
			memcpy(buf, sqlite3_column_blob(s, 0), n);
			*len = n;
		}
	} else {
		err = rc == SQLITE_DONE ? ENOENT : map_rc(db, rc, "read meta");
	}
	done(s);
	return err;
}

int store_meta_put(struct store *st, const char *key, const void *val, size_t len)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = stmt(st, S_META_PUT, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, val, (int)len, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	err = rc == SQLITE_DONE ? 0 : map_rc(db, rc, "write meta");
	done(s);
	return err;
}

static void copy_text(char *dst, size_t cap, sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	size_t n = (size_t)sqlite3_column_bytes(s, col);
	if (n >= cap)
		n = cap - 1;
	if (t)
		memcpy(dst, t, n);
	dst[t ? n : 0] = '\0';
}

static int read_customer(sqlite3_stmt *s, struct customer_row *c)
{
	size_t maclen = (size_t)sqlite3_column_bytes(s, 1);
	size_t namelen = (size_t)sqlite3_column_bytes(s, 2);
	if (maclen != STORE_NAME_MAC_BYTES || namelen > sizeof c->name_sealed)
		return EIO;
	c->id = sqlite3_column_int64(s, 0);
	memcpy(c->name_mac, sqlite3_column_blob(s, 1), maclen);
	memcpy(c->name_sealed, sqlite3_column_blob(s, 2), namelen);
	c->name_sealed_len = namelen;
	c->created_ns = sqlite3_column_int64(s, 3);
	return 0;
}

static int customer_one(struct store *st, enum stmt_id id, int64_t num,
			const unsigned char *mac, struct customer_row *out)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = stmt(st, id, &db, &err);
	if (!s)
		return err;
	if (mac)
		sqlite3_bind_blob(s, 1, mac, STORE_NAME_MAC_BYTES, SQLITE_STATIC);
	else
		sqlite3_bind_int64(s, 1, num);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		err = read_customer(s, out);
	else
		err = rc == SQLITE_DONE ? ENOENT : map_rc(db, rc, "read customer");
	done(s);
	return err;
}

int store_customer_by_mac(struct store *st, const unsigned char mac[STORE_NAME_MAC_BYTES],
			  struct customer_row *out)
{
	return customer_one(st, S_CUST_BY_MAC, 0, mac, out);
}

int store_customer_get(struct store *st, int64_t id, struct customer_row *out)
{
	return customer_one(st, S_CUST_GET, id, NULL, out);
}

int store_customer_key(struct store *st, int64_t id, void *buf, size_t cap, size_t *len)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = stmt(st, S_CUST_KEY, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(s, 0);
		if (n > cap) {
			err = EIO;
		} else {
			memcpy(buf, sqlite3_column_blob(s, 0), n);
			*len = n;
		}
	} else {
		err = rc == SQLITE_DONE ? ENOENT : map_rc(db, rc, "read customer key");
	}
	done(s);
	return err;
}

int store_customer_insert(struct store *st, const unsigned char mac[STORE_NAME_MAC_BYTES],
			  const void *name_sealed, size_t name_sealed_len, const void *wrapped_key,
			  size_t keylen, uid_t uid, int64_t now_ns, int64_t *id)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = stmt(st, S_CUST_INSERT, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_blob(s, 1, mac, STORE_NAME_MAC_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, name_sealed, (int)name_sealed_len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, wrapped_key, (int)keylen, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now_ns);
	sqlite3_bind_int64(s, 5, (int64_t)uid);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		*id = sqlite3_last_insert_rowid(db);
	else
		err = map_rc(db, rc, "insert customer");
	done(s);
	return err;
}

int store_customer_list(struct store *st, int64_t after, int max,
			int (*fn)(void *ctx, const struct customer_row *c), void *ctx)
{
	sqlite3 *db;
	int err = 0, rc;
	sqlite3_stmt *s = stmt(st, S_CUST_LIST, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int(s, 2, max);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct customer_row c;
		err = read_customer(s, &c);
		if (err || fn(ctx, &c))
			break;
	}
	if (!err && rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = map_rc(db, rc, "list customers");
	done(s);
	return err;
}

static void read_field(sqlite3_stmt *s, struct field_row *f)
{
	f->id = sqlite3_column_int64(s, 0);
	f->customer_id = sqlite3_column_int64(s, 1);
	copy_text(f->name, sizeof f->name, s, 2);
	f->version = sqlite3_column_int64(s, 3);
	f->size = sqlite3_column_int64(s, 4);
	f->mtime_ns = sqlite3_column_int64(s, 5);
}

int store_field_by_name(struct store *st, int64_t customer_id, const char *name,
			struct field_row *out)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = stmt(st, S_FIELD_BY_NAME, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, customer_id);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		read_field(s, out);
	else
		err = rc == SQLITE_DONE ? ENOENT : map_rc(db, rc, "read field");
	done(s);
	return err;
}

int store_field_get(struct store *st, int64_t field_id, struct field_row *out)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = stmt(st, S_FIELD_GET, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, field_id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		read_field(s, out);
	else
		err = rc == SQLITE_DONE ? ENOENT : map_rc(db, rc, "read field");
	done(s);
	return err;
}

int store_field_ensure(struct store *st, int64_t customer_id, const char *name, int64_t *id)
{
	struct field_row f;
	int err = store_field_by_name(st, customer_id, name, &f);
	if (err == 0) {
		*id = f.id;
		return 0;
	}
	if (err != ENOENT)
		return err;
	err = 0;
	sqlite3 *db;
	sqlite3_stmt *s = stmt(st, S_FIELD_INSERT, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, customer_id);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		*id = sqlite3_last_insert_rowid(db);
	else
		err = map_rc(db, rc, "insert field");
	done(s);
	if (err == EEXIST) { /* another writer created it first */
		err = store_field_by_name(st, customer_id, name, &f);
		if (err == 0)
			*id = f.id;
	}
	return err;
}

int store_field_list(struct store *st, int64_t customer_id,
		     int (*fn)(void *ctx, const struct field_row *f), void *ctx)
{
	sqlite3 *db;
	int err = 0, rc;
	sqlite3_stmt *s = stmt(st, S_FIELD_LIST, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, customer_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct field_row f;
		read_field(s, &f);
		if (fn(ctx, &f))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = map_rc(db, rc, "list fields");
	done(s);
	return err;
}

int store_sealed_get(struct store *st, int64_t field_id, int64_t version,
		     int (*fn)(void *ctx, const struct sealed_view *v), void *ctx)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = stmt(st, S_SEALED_GET, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, field_id);
	sqlite3_bind_int64(s, 2, version);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		struct sealed_view v = {
			.name_mac = sqlite3_column_blob(s, 0),
			.name_sealed = sqlite3_column_blob(s, 1),
			.name_sealed_len = (size_t)sqlite3_column_bytes(s, 1),
			.wrapped_key = sqlite3_column_blob(s, 2),
			.wrapped_len = (size_t)sqlite3_column_bytes(s, 2),
			.field = (const char *)sqlite3_column_text(s, 3),
			.version = sqlite3_column_int64(s, 4),
			.sealed = sqlite3_column_blob(s, 5),
			.sealed_len = (size_t)sqlite3_column_bytes(s, 5),
		};
		v.row.id = field_id;
		v.row.customer_id = sqlite3_column_int64(s, 6);
		copy_text(v.row.name, sizeof v.row.name, s, 3);
		v.row.version = sqlite3_column_int64(s, 7);
		v.row.size = sqlite3_column_int64(s, 8);
		v.row.mtime_ns = sqlite3_column_int64(s, 9);
		if (!v.name_mac || sqlite3_column_bytes(s, 0) != STORE_NAME_MAC_BYTES ||
		    !v.name_sealed || !v.field || !v.wrapped_key)
			err = EIO;
		else if (!v.sealed && version != 0)
			err = ENOENT; /* no such version */
		else
			err = fn(ctx, &v);
	} else {
		err = rc == SQLITE_DONE ? ENOENT : map_rc(db, rc, "read version");
	}
	done(s);
	return err;
}

int store_version_append(struct store *st, int64_t field_id, int64_t version, int64_t time_ns,
			 uid_t uid, int64_t size, const void *sealed, size_t sealed_len)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = stmt(st, S_VERSION_INSERT, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, field_id);
	sqlite3_bind_int64(s, 2, version);
	sqlite3_bind_int64(s, 3, time_ns);
	sqlite3_bind_int64(s, 4, (int64_t)uid);
	sqlite3_bind_int64(s, 5, size);
	sqlite3_bind_blob(s, 6, sealed, (int)sealed_len, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	err = rc == SQLITE_DONE ? 0 : map_rc(db, rc, "insert version");
	done(s);
	if (err)
		return err;

	s = stmt(st, S_FIELD_SET_CURRENT, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, field_id);
	sqlite3_bind_int64(s, 2, version);
	sqlite3_bind_int64(s, 3, size);
	sqlite3_bind_int64(s, 4, time_ns);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = map_rc(db, rc, "set current version");
	else if (sqlite3_changes(db) != 1)
		err = EAGAIN; /* the field moved on under us: caller retries */
	done(s);
	return err;
}

int store_version_list(struct store *st, int64_t field_id,
		       int (*fn)(void *ctx, const struct version_row *v), void *ctx)
{
	sqlite3 *db;
	int err = 0, rc;
	sqlite3_stmt *s = stmt(st, S_VERSION_LIST, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, field_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct version_row v = {
			.version = sqlite3_column_int64(s, 0),
			.time_ns = sqlite3_column_int64(s, 1),
			.uid = sqlite3_column_int64(s, 2),
			.size = sqlite3_column_int64(s, 3),
		};
		if (fn(ctx, &v))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = map_rc(db, rc, "list versions");
	done(s);
	return err;
}
