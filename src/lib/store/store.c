/* The store's own tables: customers, fields and their sealed versions, and
 * the store's metadata. The staff register (staff.c) and the procedures
 * (workflow.c) create their own tables in the same database. */
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "log.h"

static const char schema_sql[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE customers("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name_mac BLOB NOT NULL UNIQUE,"
	"  name_sealed BLOB NOT NULL,"
	"  fold_mac BLOB UNIQUE,"  /* the keyed hash of its lookalike key (cname.h) */
	"  wrapped_key BLOB NOT NULL,"
	"  created_ns INTEGER NOT NULL,"
	"  created_uid INTEGER NOT NULL,"
	"  erased_ns INTEGER NOT NULL DEFAULT 0);" /* crypto-erased (R3.4, PIPL Art. 47) */
	"CREATE TABLE fields("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  customer_id INTEGER NOT NULL REFERENCES customers(id),"
	"  name TEXT NOT NULL,"
	"  cur_version INTEGER NOT NULL DEFAULT 0,"
	"  cur_size INTEGER NOT NULL DEFAULT 0,"
	"  mtime_ns INTEGER NOT NULL DEFAULT 0,"
	"  row_mac BLOB,"
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
	/* Only the ciphertext may be replaced (a re-encryption under a fresh
	 * data key: same value, same version); nothing else about a version. */
	"CREATE TRIGGER versions_append_only_u BEFORE UPDATE OF field_id, version, time_ns, uid, "
	"size ON versions "
	"  BEGIN SELECT RAISE(ABORT, 'versions are append-only'); END;"
	"CREATE TRIGGER versions_append_only_d BEFORE DELETE ON versions "
	"  BEGIN SELECT RAISE(ABORT, 'versions are append-only'); END;"
	"CREATE TRIGGER customers_kept BEFORE DELETE ON customers "
	"  BEGIN SELECT RAISE(ABORT, 'customers are not deleted'); END;";

static struct db_sql q_meta_get = DB_SQL("SELECT value FROM meta WHERE key=?1");
static struct db_sql q_meta_put = DB_SQL("INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)");
static struct db_sql q_meta_del = DB_SQL("DELETE FROM meta WHERE key=?1");
static struct db_sql q_cust_rekey = DB_SQL(
	"UPDATE customers SET name_sealed = ?2, wrapped_key = ?3 WHERE id = ?1 AND erased_ns = 0");
static struct db_sql q_cust_by_mac = DB_SQL(
	"SELECT id, name_mac, name_sealed, created_ns FROM customers WHERE name_mac=?1 "
	"AND erased_ns = 0");
static struct db_sql q_cust_get = DB_SQL(
	"SELECT id, name_mac, name_sealed, created_ns FROM customers WHERE id=?1 AND erased_ns = 0");
static struct db_sql q_cust_key = DB_SQL(
	"SELECT wrapped_key FROM customers WHERE id=?1 AND erased_ns = 0");
static struct db_sql q_cust_insert = DB_SQL(
	"INSERT INTO customers(name_mac, name_sealed, wrapped_key, created_ns, created_uid, "
	"fold_mac) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
static struct db_sql q_cust_by_fold = DB_SQL("SELECT id FROM customers WHERE fold_mac=?1");
static struct db_sql q_cust_set_fold = DB_SQL("UPDATE customers SET fold_mac=?2 WHERE id=?1");
static struct db_sql q_cust_no_fold = DB_SQL(
	"SELECT id, name_mac, name_sealed, created_ns FROM customers WHERE fold_mac IS NULL "
	"AND erased_ns = 0 ORDER BY id");
static struct db_sql q_has_fold = DB_SQL(
	"SELECT count(*) FROM pragma_table_info('customers') WHERE name = 'fold_mac'");
static struct db_sql q_cust_list = DB_SQL(
	"SELECT id, name_mac, name_sealed, created_ns FROM customers WHERE id > ?1 "
	"AND erased_ns = 0 ORDER BY id LIMIT ?2");
static struct db_sql q_old_trigger = DB_SQL(
	"SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND "
	"name = 'versions_append_only_u' AND sql NOT LIKE '%UPDATE OF%'");
static struct db_sql q_versions_of = DB_SQL(
	"SELECT f.id, f.name, v.version, v.sealed FROM fields f JOIN versions v ON v.field_id = f.id "
	"WHERE f.customer_id = ?1 ORDER BY f.id, v.version");
static struct db_sql q_reseal = DB_SQL(
	"UPDATE versions SET sealed = ?3 WHERE field_id = ?1 AND version = ?2");
static struct db_sql q_has_erased = DB_SQL(
	"SELECT count(*) FROM pragma_table_info('customers') WHERE name = 'erased_ns'");
/* The data key and the sealed name go (every version unreadable at once);
 * the name's lookup hash becomes noise, so nothing finds it; the row stays
 * (its store id is what the audit log names). */
static struct db_sql q_cust_erase = DB_SQL(
	"UPDATE customers SET name_mac = randomblob(32), name_sealed = X'', fold_mac = NULL, "
	"wrapped_key = X'', erased_ns = ?2 WHERE id = ?1 AND erased_ns = 0");
#define FIELD_COLS "id, customer_id, name, cur_version, cur_size, mtime_ns, row_mac"
#define MAX_VERSION "(SELECT coalesce(max(version), 0) FROM versions WHERE field_id = fields.id)"
static struct db_sql q_field_by_name = DB_SQL(
	"SELECT " FIELD_COLS ", " MAX_VERSION " FROM fields WHERE customer_id=?1 AND name=?2");
static struct db_sql q_field_get = DB_SQL(
	"SELECT " FIELD_COLS ", " MAX_VERSION " FROM fields WHERE id=?1");
static struct db_sql q_field_all = DB_SQL("SELECT " FIELD_COLS ", 0 FROM fields ORDER BY id");
static struct db_sql q_field_set_mac = DB_SQL("UPDATE fields SET row_mac=?2 WHERE id=?1");
static struct db_sql q_has_row_mac = DB_SQL(
	"SELECT count(*) FROM pragma_table_info('fields') WHERE name = 'row_mac'");
static struct db_sql q_field_insert = DB_SQL("INSERT INTO fields(customer_id, name) VALUES(?1, ?2)");
static struct db_sql q_field_list = DB_SQL(
	"SELECT " FIELD_COLS ", 0 FROM fields WHERE customer_id=?1 AND cur_version > 0 ORDER BY id");
static struct db_sql q_field_set_current = DB_SQL(
	"UPDATE fields SET cur_version=?2, cur_size=?3, mtime_ns=?4, row_mac=?5 "
	"WHERE id=?1 AND cur_version=?2 - 1");
static struct db_sql q_sealed_get = DB_SQL(
	"SELECT c.name_mac, c.name_sealed, c.wrapped_key, f.name, v.version, v.sealed, "
	"f.customer_id, f.cur_version, f.cur_size, f.mtime_ns, f.row_mac, "
	"(SELECT coalesce(max(version), 0) FROM versions WHERE field_id = f.id) "
	"FROM fields f JOIN customers c ON c.id = f.customer_id "
	"LEFT JOIN versions v ON v.field_id = f.id AND v.version = "
	"CASE WHEN ?2 = 0 THEN f.cur_version ELSE ?2 END WHERE f.id = ?1");
static struct db_sql q_version_insert = DB_SQL(
	"INSERT INTO versions(field_id, version, time_ns, uid, size, sealed) "
	"VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
static struct db_sql q_version_list = DB_SQL(
	"SELECT version, time_ns, uid, size FROM versions WHERE field_id=?1 ORDER BY version");
static struct db_sql q_version_get = DB_SQL(
	"SELECT version, time_ns, uid, size FROM versions WHERE field_id=?1 AND version=?2");

int store_open(const char *dbpath, bool create, struct db **out)
{
	return db_open(dbpath, create, schema_sql, out);
}

int store_meta_get(struct db *db, const char *key, void *buf, size_t cap, size_t *len)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_meta_get, &err);
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
		err = rc == SQLITE_DONE ? ENOENT : db_map_rc(db_conn(s), rc, "read meta");
	}
	db_done(s);
	return err;
}

int store_meta_put(struct db *db, const char *key, const void *val, size_t len)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_meta_put, &err);
	if (!s)
		return err;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, val, (int)len, SQLITE_STATIC);
	return db_step_done(s, "write meta");
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

static int customer_one(struct db *db, struct db_sql *q, int64_t num, const unsigned char *mac,
			struct customer_row *out)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, q, &err);
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
		err = rc == SQLITE_DONE ? ENOENT : db_map_rc(db_conn(s), rc, "read customer");
	db_done(s);
	return err;
}

int store_customer_by_mac(struct db *db, const unsigned char mac[STORE_NAME_MAC_BYTES],
			  struct customer_row *out)
{
	return customer_one(db, &q_cust_by_mac, 0, mac, out);
}

int store_customer_get(struct db *db, int64_t id, struct customer_row *out)
{
	return customer_one(db, &q_cust_get, id, NULL, out);
}

int store_customer_key(struct db *db, int64_t id, void *buf, size_t cap, size_t *len)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_cust_key, &err);
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
		err = rc == SQLITE_DONE ? ENOENT : db_map_rc(db_conn(s), rc, "read customer key");
	}
	db_done(s);
	return err;
}

int store_customer_insert(struct db *db, const unsigned char mac[STORE_NAME_MAC_BYTES],
			  const void *name_sealed, size_t name_sealed_len, const void *wrapped_key,
			  size_t keylen, uid_t uid, int64_t now_ns,
			  const unsigned char fold_mac[STORE_NAME_MAC_BYTES], int64_t *id)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_cust_insert, &err);
	if (!s)
		return err;
	sqlite3_bind_blob(s, 1, mac, STORE_NAME_MAC_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, name_sealed, (int)name_sealed_len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, wrapped_key, (int)keylen, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now_ns);
	sqlite3_bind_int64(s, 5, (int64_t)uid);
	sqlite3_bind_blob(s, 6, fold_mac, STORE_NAME_MAC_BYTES, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		*id = sqlite3_last_insert_rowid(db_conn(s));
	else
		err = db_map_rc(db_conn(s), rc, "insert customer");
	db_done(s);
	return err;
}

int store_customer_list(struct db *db, int64_t after, int max,
			int (*fn)(void *ctx, const struct customer_row *c), void *ctx)
{
	int err = 0, rc;
	sqlite3_stmt *s = db_stmt(db, &q_cust_list, &err);
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
		err = db_map_rc(db_conn(s), rc, "list customers");
	db_done(s);
	return err;
}

static void read_mac(sqlite3_stmt *s, int col, struct field_row *f)
{
	f->has_mac = sqlite3_column_bytes(s, col) == STORE_ROW_MAC_BYTES;
	if (f->has_mac)
		memcpy(f->mac, sqlite3_column_blob(s, col), STORE_ROW_MAC_BYTES);
}

static void read_field(sqlite3_stmt *s, struct field_row *f)
{
	f->id = sqlite3_column_int64(s, 0);
	f->customer_id = sqlite3_column_int64(s, 1);
	db_column_text(s, 2, f->name, sizeof f->name);
	f->version = sqlite3_column_int64(s, 3);
	f->size = sqlite3_column_int64(s, 4);
	f->mtime_ns = sqlite3_column_int64(s, 5);
	read_mac(s, 6, f);
	f->max_version = sqlite3_column_int64(s, 7);
}

int store_field_by_name(struct db *db, int64_t customer_id, const char *name,
			struct field_row *out)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_field_by_name, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, customer_id);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		read_field(s, out);
	else
		err = rc == SQLITE_DONE ? ENOENT : db_map_rc(db_conn(s), rc, "read field");
	db_done(s);
	return err;
}

int store_field_get(struct db *db, int64_t field_id, struct field_row *out)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_field_get, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, field_id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		read_field(s, out);
	else
		err = rc == SQLITE_DONE ? ENOENT : db_map_rc(db_conn(s), rc, "read field");
	db_done(s);
	return err;
}

int store_field_ensure(struct db *db, int64_t customer_id, const char *name, int64_t *id)
{
	struct field_row f;
	int err = store_field_by_name(db, customer_id, name, &f);
	if (err == 0) {
		*id = f.id;
		return 0;
	}
	if (err != ENOENT)
		return err;
	err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_field_insert, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, customer_id);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		*id = sqlite3_last_insert_rowid(db_conn(s));
	else
		err = db_map_rc(db_conn(s), rc, "insert field");
	db_done(s);
	if (err == EEXIST) { /* another writer created it first */
		err = store_field_by_name(db, customer_id, name, &f);
		if (err == 0)
			*id = f.id;
	}
	return err;
}

int store_field_set_mac(struct db *db, int64_t field_id, const unsigned char mac[STORE_ROW_MAC_BYTES])
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_field_set_mac, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, field_id);
	sqlite3_bind_blob(s, 2, mac, STORE_ROW_MAC_BYTES, SQLITE_STATIC);
	return db_step_done(s, "set a field's MAC");
}

int store_field_all(struct db *db, int (*fn)(void *ctx, const struct field_row *f), void *ctx)
{
	int err = 0, rc;
	sqlite3_stmt *s = db_stmt(db, &q_field_all, &err);
	if (!s)
		return err;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct field_row f;
		read_field(s, &f);
		if ((err = fn(ctx, &f)))
			break;
	}
	if (!err && rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = db_map_rc(db_conn(s), rc, "read fields");
	db_done(s);
	return err;
}

static bool has_column(struct db *db, struct db_sql *q)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, q, &err);
	if (!s)
		return true; /* cannot tell: the ALTER would fail and say why */
	bool has = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) > 0;
	db_done(s);
	return has;
}

int store_upgrade(struct db *db)
{
	int err = 0;
	if (!has_column(db, &q_has_row_mac))
		err = db_script(db, "ALTER TABLE fields ADD COLUMN row_mac BLOB", "upgrade fields");
	if (!err && !has_column(db, &q_has_fold))
		err = db_script(db, "ALTER TABLE customers ADD COLUMN fold_mac BLOB;"
				    "CREATE UNIQUE INDEX customers_fold ON customers(fold_mac)",
				"upgrade customers");
	if (!err && has_column(db, &q_old_trigger))
		err = db_script(db, "DROP TRIGGER versions_append_only_u;"
				    "CREATE TRIGGER versions_append_only_u BEFORE UPDATE OF field_id, "
				    "version, time_ns, uid, size ON versions "
				    "  BEGIN SELECT RAISE(ABORT, 'versions are append-only'); END;",
				"upgrade versions");
	if (!err && !has_column(db, &q_has_erased))
		err = db_script(db, "ALTER TABLE customers ADD COLUMN erased_ns INTEGER NOT NULL "
				    "DEFAULT 0", "upgrade customers");
	return err;
}

int store_meta_delete(struct db *db, const char *key)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_meta_del, &err);
	if (!s)
		return err;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	return db_step_done(s, "meta");
}

int store_customer_rekey(struct db *db, int64_t id, const void *sealed, size_t sealed_len,
			 const void *wrapped, size_t wrapped_len)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_cust_rekey, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_blob(s, 2, sealed, (int)sealed_len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, wrapped, (int)wrapped_len, SQLITE_STATIC);
	return db_step_done(s, "rewrap a customer's keys");
}

int store_versions_of(struct db *db, int64_t customer_id,
		      int (*fn)(void *ctx, int64_t field_id, const char *field, int64_t version,
				const void *sealed, size_t len),
		      void *ctx)
{
	int err = 0, rc;
	sqlite3_stmt *s = db_stmt(db, &q_versions_of, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, customer_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((err = fn(ctx, sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1),
			      sqlite3_column_int64(s, 2), sqlite3_column_blob(s, 3),
			      (size_t)sqlite3_column_bytes(s, 3))))
			break;
	}
	if (!err && rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = db_map_rc(db_conn(s), rc, "read versions");
	db_done(s);
	return err;
}

int store_version_reseal(struct db *db, int64_t field_id, int64_t version, const void *sealed,
			 size_t len)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_reseal, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, field_id);
	sqlite3_bind_int64(s, 2, version);
	sqlite3_bind_blob(s, 3, sealed, (int)len, SQLITE_STATIC);
	return db_step_done(s, "re-encrypt a version");
}

void store_checkpoint(struct db *db)
{
	/* Best effort: readers of other connections may hold it back. */
	db_script(db, "PRAGMA wal_checkpoint(TRUNCATE)", "checkpoint");
}

int store_customer_erase(struct db *db, int64_t id, int64_t now_ns)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_cust_erase, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, now_ns);
	if ((err = db_step_done(s, "erase a customer")))
		return err;
	return sqlite3_changes(db_conn(s)) == 1 ? 0 : ENOENT;
}

int store_customer_by_fold(struct db *db, const unsigned char mac[STORE_NAME_MAC_BYTES],
			   int64_t *id)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_cust_by_fold, &err);
	if (!s)
		return err;
	sqlite3_bind_blob(s, 1, mac, STORE_NAME_MAC_BYTES, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(s, 0);
	else
		err = rc == SQLITE_DONE ? ENOENT : db_map_rc(db_conn(s), rc, "read customer");
	db_done(s);
	return err;
}

int store_customers_clear_fold(struct db *db)
{
	return db_script(db, "UPDATE customers SET fold_mac = NULL", "renew lookalike keys");
}

int store_customers_without_fold(struct db *db,
				 int (*fn)(void *ctx, const struct customer_row *c), void *ctx)
{
	int err = 0, rc;
	sqlite3_stmt *s = db_stmt(db, &q_cust_no_fold, &err);
	if (!s)
		return err;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct customer_row c;
		if ((err = read_customer(s, &c)) || (err = fn(ctx, &c)))
			break;
	}
	if (!err && rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = db_map_rc(db_conn(s), rc, "list customers");
	db_done(s);
	return err;
}

int store_customer_set_fold(struct db *db, int64_t id, const unsigned char mac[STORE_NAME_MAC_BYTES])
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_cust_set_fold, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_blob(s, 2, mac, STORE_NAME_MAC_BYTES, SQLITE_STATIC);
	return db_step_done(s, "set a customer's lookalike key");
}

int store_field_list(struct db *db, int64_t customer_id,
		     int (*fn)(void *ctx, const struct field_row *f), void *ctx)
{
	int err = 0, rc;
	sqlite3_stmt *s = db_stmt(db, &q_field_list, &err);
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
		err = db_map_rc(db_conn(s), rc, "list fields");
	db_done(s);
	return err;
}

static int copy_blob(sqlite3_stmt *s, int col, unsigned char *dst, size_t cap, size_t *len)
{
	size_t n = (size_t)sqlite3_column_bytes(s, col);
	const void *p = sqlite3_column_blob(s, col);
	if (!p || n > cap)
		return EIO;
	memcpy(dst, p, n);
	*len = n;
	return 0;
}

int store_sealed_fetch(struct db *db, int64_t field_id, int64_t version, struct sealed_value *out)
{
	int err = 0;
	size_t maclen = 0;
	sqlite3_stmt *s = db_stmt(db, &q_sealed_get, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, field_id);
	sqlite3_bind_int64(s, 2, version);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		err = rc == SQLITE_DONE ? ENOENT : db_map_rc(db_conn(s), rc, "read version");
		goto out;
	}
	out->row.id = field_id;
	out->row.customer_id = sqlite3_column_int64(s, 6);
	db_column_text(s, 3, out->row.name, sizeof out->row.name);
	out->row.version = sqlite3_column_int64(s, 7);
	out->row.size = sqlite3_column_int64(s, 8);
	out->row.mtime_ns = sqlite3_column_int64(s, 9);
	read_mac(s, 10, &out->row);
	out->row.max_version = sqlite3_column_int64(s, 11);
	out->version = sqlite3_column_int64(s, 4);
	if ((err = copy_blob(s, 0, out->name_mac, sizeof out->name_mac, &maclen)) ||
	    maclen != STORE_NAME_MAC_BYTES ||
	    (err = copy_blob(s, 1, out->name_sealed, sizeof out->name_sealed,
			     &out->name_sealed_len)) ||
	    (err = copy_blob(s, 2, out->wrapped_key, sizeof out->wrapped_key,
			     &out->wrapped_len))) {
		err = EIO;
		goto out;
	}
	out->blob_len = 0;
	if (sqlite3_column_type(s, 5) == SQLITE_NULL) {
		if (version != 0 || out->row.version != 0)
			err = version != 0 ? ENOENT : EIO; /* no such version; or a dangling pointer */
		out->version = 0;
		goto out;
	}
	size_t n = (size_t)sqlite3_column_bytes(s, 5);
	if (n > out->blob_cap) {
		unsigned char *g = realloc(out->blob, n);
		if (!g) {
			err = ENOMEM;
			goto out;
		}
		out->blob = g;
		out->blob_cap = n;
	}
	memcpy(out->blob, sqlite3_column_blob(s, 5), n);
	out->blob_len = n;
out:
	db_done(s);
	return err;
}

void store_sealed_free(struct sealed_value *sv)
{
	free(sv->blob);
	sv->blob = NULL;
	sv->blob_len = sv->blob_cap = 0;
}

int store_version_append(struct db *db, int64_t field_id, int64_t version, int64_t time_ns,
			 uid_t uid, int64_t size, const void *sealed, size_t sealed_len,
			 const unsigned char mac[STORE_ROW_MAC_BYTES])
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_version_insert, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, field_id);
	sqlite3_bind_int64(s, 2, version);
	sqlite3_bind_int64(s, 3, time_ns);
	sqlite3_bind_int64(s, 4, (int64_t)uid);
	sqlite3_bind_int64(s, 5, size);
	sqlite3_bind_blob(s, 6, sealed, (int)sealed_len, SQLITE_STATIC);
	if ((err = db_step_done(s, "insert version")))
		return err;

	s = db_stmt(db, &q_field_set_current, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, field_id);
	sqlite3_bind_int64(s, 2, version);
	sqlite3_bind_int64(s, 3, size);
	sqlite3_bind_int64(s, 4, time_ns);
	sqlite3_bind_blob(s, 5, mac, STORE_ROW_MAC_BYTES, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = db_map_rc(db_conn(s), rc, "set current version");
	else if (sqlite3_changes(db_conn(s)) != 1)
		err = EAGAIN; /* the field moved on under us: caller retries */
	db_done(s);
	return err;
}

/* A row of q_version_list or q_version_get. */
static struct version_row version_row_of(sqlite3_stmt *s)
{
	return (struct version_row){
		.version = sqlite3_column_int64(s, 0),
		.time_ns = sqlite3_column_int64(s, 1),
		.uid = sqlite3_column_int64(s, 2),
		.size = sqlite3_column_int64(s, 3),
	};
}

int store_version_list(struct db *db, int64_t field_id,
		       int (*fn)(void *ctx, const struct version_row *v), void *ctx)
{
	int err = 0, rc;
	sqlite3_stmt *s = db_stmt(db, &q_version_list, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, field_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct version_row v = version_row_of(s);
		if (fn(ctx, &v))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = db_map_rc(db_conn(s), rc, "list versions");
	db_done(s);
	return err;
}

int store_version_get(struct db *db, int64_t field_id, int64_t version, struct version_row *out)
{
	int err = 0, rc;
	sqlite3_stmt *s = db_stmt(db, &q_version_get, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, field_id);
	sqlite3_bind_int64(s, 2, version);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = version_row_of(s);
	else
		err = rc == SQLITE_DONE ? ENOENT : db_map_rc(db_conn(s), rc, "read a version");
	db_done(s);
	return err;
}
