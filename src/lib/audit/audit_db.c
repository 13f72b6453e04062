/* The audit log's database (STORE/audit.db) and the store's signing key.
 *
 * MUST: the signing key's secret half exists in plaintext only in
 * sodium_malloc memory, read-only once loaded; on disk it is sealed under
 * the master key, bound to this store's id. */
#include "audit_internal.h"
#include "i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "log.h"

static const char schema_sql[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE audit(seq INTEGER PRIMARY KEY, " AUDIT_COLUMNS(AUDIT_COLDEF_)
	"  prev BLOB NOT NULL, hash BLOB NOT NULL);"
	"CREATE TABLE checkpoints(seq INTEGER PRIMARY KEY, hash BLOB NOT NULL,"
	"  time_ns INTEGER NOT NULL, sig BLOB NOT NULL);"
	/* The chain already shows tampering; the triggers stop honest mistakes. */
	"CREATE TRIGGER audit_append_only_u BEFORE UPDATE ON audit "
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	/* Records leave only into a signed archive, recorded first (retention). */
	"CREATE TABLE archives(last_seq INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL,"
	"  last_hash BLOB NOT NULL, time_ns INTEGER NOT NULL, file TEXT NOT NULL, sig BLOB NOT NULL);"
	"CREATE TRIGGER audit_append_only_d BEFORE DELETE ON audit "
	"  WHEN OLD.seq > (SELECT coalesce(max(last_seq), 0) FROM archives) "
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;";

struct db_sql audit_q_begin = DB_SQL("BEGIN IMMEDIATE");
struct db_sql audit_q_commit = DB_SQL("COMMIT");
struct db_sql audit_q_last = DB_SQL("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
struct db_sql audit_q_archive_last = DB_SQL(
	"SELECT last_seq, first_seq, last_hash, time_ns, file, sig FROM archives "
	"ORDER BY last_seq DESC LIMIT 1");
static struct db_sql q_rollback = DB_SQL("ROLLBACK");
static struct db_sql q_meta_get = DB_SQL("SELECT value FROM meta WHERE key=?1");
static struct db_sql q_meta_put = DB_SQL("INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)");
static struct db_sql q_meta_del = DB_SQL("DELETE FROM meta WHERE key=?1");

void audit_rollback(struct db *db)
{
	if (db_in_txn(db))
		db_exec(db, &q_rollback);
}

static int meta_get(struct db *db, const char *key, void *buf, size_t cap, size_t *len)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_meta_get, &err);
	if (!s)
		return err;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && (size_t)sqlite3_column_bytes(s, 0) <= cap) {
		*len = (size_t)sqlite3_column_bytes(s, 0);
		memcpy(buf, sqlite3_column_blob(s, 0), *len);
	} else {
		err = rc == SQLITE_DONE ? ENOENT : EIO;
	}
	db_done(s);
	return err;
}

static int meta_put(struct db *db, const char *key, const void *val, size_t len)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_meta_put, &err);
	if (!s)
		return err;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, val, (int)len, SQLITE_STATIC);
	return db_step_done(s, "audit meta");
}

static void key_aad(struct aad *a, const unsigned char store_id[16])
{
	a->len = 0;
	memcpy(a->buf, "custfs/audit-key/1", 18);
	memcpy(a->buf + 18, store_id, 16);
	a->len = 34;
}

/* A new log: the store's signing key, its secret half sealed. */
static int create_key(struct audit *a, const unsigned char *master, const struct aad *aad)
{
	unsigned char sealed[crypto_sign_SECRETKEYBYTES + CRYPTO_OVERHEAD];
	crypto_sign_keypair(a->pk, a->sk);
	crypto_seal(master, aad, a->sk, crypto_sign_SECRETKEYBYTES, sealed);
	int rc = db_exec(a->db, &audit_q_begin);
	if (!rc)
		rc = meta_put(a->db, "sign_pk", a->pk, sizeof a->pk);
	if (!rc)
		rc = meta_put(a->db, "sign_sk", sealed, sizeof sealed);
	if (!rc)
		rc = meta_put(a->db, "store_id", a->store_id, 16);
	rc = rc ? rc : db_exec(a->db, &audit_q_commit);
	if (rc)
		audit_rollback(a->db);
	return rc;
}

static int load_key(struct audit *a, const unsigned char *master, const struct aad *aad,
		    const char *path, char *err, size_t errlen)
{
	unsigned char sealed[crypto_sign_SECRETKEYBYTES + CRYPTO_OVERHEAD];
	unsigned char id[16];
	size_t len = 0, idlen = 0, got = 0;
	int rc = meta_get(a->db, "store_id", id, sizeof id, &idlen);
	if (!rc && (idlen != 16 || memcmp(id, a->store_id, 16) != 0)) {
		snprintf(err, errlen, _("%s belongs to another store"), path);
		return EIO;
	}
	/* The key sealed under the current master key; or, when a rotation was
	 * cut short after the store switched, the copy sealed under the new one. */
	static const char *const keys[] = { "sign_sk", "sign_sk_next" };
	bool opened = false;
	for (int k = 0; !rc && !opened && k < 2; k++) {
		if (meta_get(a->db, keys[k], sealed, sizeof sealed, &len) != 0)
			continue;
		opened = len == sizeof sealed &&
			 crypto_open_to(master, aad, sealed, len, a->sk, crypto_sign_SECRETKEYBYTES,
					&got) == 0 &&
			 got == crypto_sign_SECRETKEYBYTES;
		if (opened && k == 1)
			rc = audit_reseal_done(a);
	}
	if (!rc && !opened) {
		snprintf(err, errlen, _("%s: the signing key does not authenticate"), path);
		rc = EIO;
	}
	sodium_memzero(sealed, sizeof sealed);
	return rc;
}

int audit_reseal(struct audit *a, const unsigned char *new_master)
{
	unsigned char sealed[crypto_sign_SECRETKEYBYTES + CRYPTO_OVERHEAD];
	struct aad aad;
	key_aad(&aad, a->store_id);
	crypto_seal(new_master, &aad, a->sk, crypto_sign_SECRETKEYBYTES, sealed);
	int rc = meta_put(a->db, "sign_sk_next", sealed, sizeof sealed);
	sodium_memzero(sealed, sizeof sealed);
	return rc;
}

int audit_reseal_done(struct audit *a)
{
	unsigned char sealed[crypto_sign_SECRETKEYBYTES + CRYPTO_OVERHEAD];
	size_t len = 0;
	int err = 0;
	int rc = meta_get(a->db, "sign_sk_next", sealed, sizeof sealed, &len);
	if (rc)
		return rc == ENOENT ? 0 : rc;
	rc = db_exec(a->db, &audit_q_begin);
	if (!rc)
		rc = meta_put(a->db, "sign_sk", sealed, len);
	sqlite3_stmt *s = rc ? NULL : db_stmt(a->db, &q_meta_del, &err);
	if (!rc && !s)
		rc = err;
	if (s) {
		sqlite3_bind_text(s, 1, "sign_sk_next", -1, SQLITE_STATIC);
		rc = db_step_done(s, "audit meta");
	}
	rc = rc ? rc : db_exec(a->db, &audit_q_commit);
	if (rc)
		audit_rollback(a->db);
	sodium_memzero(sealed, sizeof sealed);
	return rc;
}

/* A write-back error taken by an earlier process (a mount that failed, or
 * crashed) is reported to nobody opening the log later, yet the frames it
 * lost may still be in the log, and recovery after a power loss drops every
 * frame after the first bad one: our synced records with them. So the log
 * starts afresh: everything in it is copied into the database (from the
 * page cache, which still holds it), the database synced, the log emptied.
 * An I/O error doing so fails every durable append; a log that other
 * connections are using (another mount) cannot be emptied now, and stays
 * as it is (the same as sqlite's own synchronous=FULL would do). */
static void start_log_afresh(struct audit *a)
{
	int log_pages = 0, copied = 0;
	sqlite3 *conn = db_single_conn(a->wdb);
	/* Another mount at work: copy what can be copied, wait for nobody. */
	sqlite3_busy_timeout(conn, 100);
	int rc = sqlite3_wal_checkpoint_v2(conn, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log_pages,
					   &copied);
	sqlite3_busy_timeout(conn, DB_BUSY_TIMEOUT_MS);
	bool busy = rc == SQLITE_BUSY || (rc == SQLITE_OK && copied < log_pages);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
		a->sync_failed = true;
		log_err("audit: %s cannot be written to the database (%s): every access that needs "
			"a durable record is denied until custfs is mounted again", a->wal_path,
			sqlite3_errmsg(conn));
	} else if (busy) {
		log_info("audit: %s is in use by another process: not started afresh", a->wal_path);
	}
}

int audit_open(const char *dir, const unsigned char *master, const unsigned char store_id[16],
	       struct audit **out, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct audit *a = calloc(1, sizeof *a);
	struct stat st;
	struct aad aad;
	size_t len = 0;
	int rc;

	if (!a)
		return ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cv, NULL);
	pthread_mutex_init(&a->sync_lock, NULL);
	a->sync_mode = -1;
	a->wal_fd = -1;
	memcpy(a->store_id, store_id, 16);
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, AUDIT_DB_FILE) >= sizeof path) {
		audit_close(a);
		return ENAMETOOLONG;
	}
	rc = db_open(path, lstat(path, &st) != 0, schema_sql, &a->db);
	if (rc) {
		snprintf(err, errlen, _("%s: cannot open the audit log: %s"), path, strerror(rc));
		audit_close(a);
		return rc;
	}
	a->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	if (!a->sk) {
		audit_close(a);
		return ENOMEM;
	}
	key_aad(&aad, store_id);
	rc = meta_get(a->db, "sign_pk", a->pk, sizeof a->pk, &len);
	if (rc == ENOENT)
		rc = create_key(a, master, &aad);
	else if (rc == 0 && len == sizeof a->pk)
		rc = load_key(a, master, &aad, path, err, errlen);
	else if (!rc)
		rc = EIO;
	if (rc) {
		if (!err[0])
			snprintf(err, errlen, "%s: %s", path, strerror(rc));
		audit_close(a);
		return rc;
	}
	sodium_mprotect_readonly(a->sk);
	/* sqlite's name for the write-ahead log, synced for durable records */
	if (strlen(path) + sizeof "-wal" > sizeof a->wal_path) {
		audit_close(a);
		return ENAMETOOLONG;
	}
	memcpy(a->wal_path, path, strlen(path));
	memcpy(a->wal_path + strlen(path), "-wal", sizeof "-wal");
	rc = db_open_single(path, &a->wdb);
	if (rc) {
		snprintf(err, errlen, _("%s: cannot open the audit log for writing: %s"), path,
			 strerror(rc));
		audit_close(a);
		return rc;
	}
	/* The log exists once a connection has read the database (meta_get). */
	a->wal_fd = open(a->wal_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (a->wal_fd < 0) {
		rc = errno;
		snprintf(err, errlen, _("%s: cannot open the audit log for writing: %s"),
			 a->wal_path, strerror(rc));
		audit_close(a);
		return rc;
	}
	start_log_afresh(a);
	*out = a;
	return 0;
}

void audit_close(struct audit *a)
{
	if (!a)
		return;
	if (a->wdb)
		audit_flush(a);
	free(a->pending);
	free(a->pending_result);
	free(a->spare);
	free(a->spare_result);
	pthread_cond_destroy(&a->cv);
	if (a->wal_fd >= 0)
		close(a->wal_fd);
	db_close(a->wdb);
	db_close(a->db);
	if (a->sk)
		sodium_free(a->sk);
	free(a->witness);
	pthread_mutex_destroy(&a->sync_lock);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

void audit_public_key(struct audit *a, char *hex, size_t cap)
{
	sodium_bin2hex(hex, cap, a->pk, sizeof a->pk);
}

void audit_take_turn(struct audit *a)
{
	pthread_mutex_lock(&a->lock);
	while (a->flushing)
		pthread_cond_wait(&a->cv, &a->lock);
}

void audit_give_turn(struct audit *a)
{
	a->have_last = false; /* the chain's end may have moved */
	pthread_mutex_unlock(&a->lock);
}
