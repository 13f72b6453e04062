#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "log.h"
#include "store_internal.h"

struct audit {
	/* Appends are one chain: one writer at a time. A mutex hands the turn
	 * over at once, where sqlite's busy handler would sleep and retry. */
	pthread_mutex_t lock;
	struct store *st;  /* readers: a connection per thread */
	struct store *wst; /* the leader's: one connection, whichever thread leads */
	int sync_mode;     /* wst's synchronous= (leader only): -1 unknown */
	/* The chain's end as this process last wrote it (lock): saves a query per
	 * record; if another mount of the store appended meanwhile, the insert
	 * fails on the sequence number and the end is read again. */
	bool have_last;
	int64_t last_seq;
	unsigned char last_hash[AUDIT_HASH_BYTES];
	/* Group commit (lock): records wait in the queue; one thread at a time
	 * (the leader) writes everything queued in one transaction while the
	 * others wait for it, so concurrent opens share a commit. Records that
	 * gate nothing (closes, versions) have no waiter: they go with the next
	 * batch, or within a second. */
	pthread_cond_t cv;
	bool flushing;
	bool want_durable;
	struct audit_event *pending;
	char (*pending_text)[12][320];
	int **pending_result; /* where the waiter wants its result, or NULL */
	int npending;
	/* The other queue: the leader writes one while followers fill this one. */
	struct audit_event *spare;
	char (*spare_text)[12][320];
	int **spare_result;
	unsigned char store_id[16];
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char *sk; /* sodium_malloc'd, read-only */
};

static const char audit_schema[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE audit("
	"  seq INTEGER PRIMARY KEY,"
	"  time_ns INTEGER NOT NULL, uid INTEGER NOT NULL, login TEXT NOT NULL,"
	"  department TEXT NOT NULL, pid INTEGER NOT NULL, comm TEXT NOT NULL, exe TEXT NOT NULL,"
	"  mount TEXT NOT NULL, view TEXT NOT NULL, customer_id INTEGER NOT NULL,"
	"  field TEXT NOT NULL, class TEXT NOT NULL, action TEXT NOT NULL, allow INTEGER NOT NULL,"
	"  rule TEXT NOT NULL, reason TEXT NOT NULL, checkout_id INTEGER NOT NULL,"
	"  bytes_read INTEGER NOT NULL, bytes_written INTEGER NOT NULL, detail TEXT NOT NULL,"
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

static const char sql_last[] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1";
static const char sql_insert[] =
	"INSERT INTO audit(seq, time_ns, uid, login, department, pid, comm, exe, mount, view, "
	"customer_id, field, class, action, allow, rule, reason, checkout_id, bytes_read, "
	"bytes_written, detail, prev, hash) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
	"?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)";
static const char sql_all[] =
	"SELECT seq, time_ns, uid, login, department, pid, comm, exe, mount, view, customer_id, "
	"field, class, action, allow, rule, reason, checkout_id, bytes_read, bytes_written, "
	"detail, prev, hash FROM audit ORDER BY seq";
static const char sql_query[] =
	"SELECT seq, time_ns, uid, login, department, pid, comm, exe, mount, view, customer_id, "
	"field, class, action, allow, rule, reason, checkout_id, bytes_read, bytes_written, "
	"detail, prev, hash FROM audit WHERE (?1 = 0 OR time_ns >= ?1) AND (?2 = 0 OR time_ns < ?2) "
	"AND (?3 IS NULL OR login = ?3) AND (?4 IS NULL OR department = ?4) "
	"AND (?5 = 0 OR customer_id = ?5) AND (?6 IS NULL OR class = ?6) "
	"AND (?7 IS NULL OR action = ?7) AND (?8 < 0 OR allow = ?8) ORDER BY seq";
static const char sql_sample[] =
	"SELECT seq, time_ns, uid, login, department, pid, comm, exe, mount, view, customer_id, "
	"field, class, action, allow, rule, reason, checkout_id, bytes_read, bytes_written, "
	"detail, prev, hash FROM audit WHERE seq = ?1";
static const char sql_count[] = "SELECT min(seq), max(seq) FROM audit";
static const char sql_cp_insert[] =
	"INSERT OR REPLACE INTO checkpoints(seq, hash, time_ns, sig) VALUES(?1, ?2, ?3, ?4)";
static const char sql_cp_all[] = "SELECT seq, hash, time_ns, sig FROM checkpoints ORDER BY seq";
static const char sql_archive_last[] =
	"SELECT last_seq, first_seq, last_hash, time_ns, file, sig FROM archives "
	"ORDER BY last_seq DESC LIMIT 1";
static const char sql_archive_insert[] =
	"INSERT INTO archives(last_seq, first_seq, last_hash, time_ns, file, sig) "
	"VALUES(?1, ?2, ?3, ?4, ?5, ?6)";
static const char sql_archive_delete[] = "DELETE FROM audit WHERE seq <= ?1";
static const char sql_before[] =
	"SELECT max(seq) FROM audit WHERE seq < (SELECT coalesce(min(seq), 1 << 62) FROM audit "
	"WHERE time_ns >= ?1)";
static const char sql_meta_get[] = "SELECT value FROM meta WHERE key=?1";
static const char sql_meta_put[] = "INSERT INTO meta(key, value) VALUES(?1, ?2)";
static const char sql_begin[] = "BEGIN IMMEDIATE";
static const char sql_commit[] = "COMMIT";
static const char sql_rollback[] = "ROLLBACK";
static const char sql_full[] = "PRAGMA synchronous=FULL";
static const char sql_normal[] = "PRAGMA synchronous=NORMAL";

static int exec1(struct store *st, const char *sql)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = store_prepare(st, sql, &db, &err);
	if (!s)
		return err;
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = store_map_rc(db, rc, sql);
	store_done(s);
	return err;
}

/* Rolls back the calling thread's transaction on the log, if it has one. */
static void rollback(struct store *st)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = store_prepare(st, sql_rollback, &db, &err);
	if (s && !sqlite3_get_autocommit(db))
		sqlite3_step(s);
	if (s)
		store_done(s);
}

static int meta_get(struct store *st, const char *key, void *buf, size_t cap, size_t *len)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = store_prepare(st, sql_meta_get, &db, &err);
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
	store_done(s);
	return err;
}

static int meta_put(struct store *st, const char *key, const void *val, size_t len)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = store_prepare(st, sql_meta_put, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, val, (int)len, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = store_map_rc(db, rc, "audit meta");
	store_done(s);
	return err;
}

static void key_aad(struct aad *a, const unsigned char store_id[16])
{
	a->len = 0;
	memcpy(a->buf, "custfs/audit-key/1", 18);
	memcpy(a->buf + 18, store_id, 16);
	a->len = 34;
}

int audit_open(const char *dir, const unsigned char *master, const unsigned char store_id[16],
	       struct audit **out, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct audit *a = calloc(1, sizeof *a);
	unsigned char sealed[crypto_sign_SECRETKEYBYTES + CRYPTO_OVERHEAD];
	size_t len = 0;
	int rc;

	if (!a)
		return ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cv, NULL);
	a->sync_mode = -1;
	memcpy(a->store_id, store_id, 16);
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, AUDIT_DB_FILE) >= sizeof path) {
		free(a);
		return ENAMETOOLONG;
	}
	FILE *probe = fopen(path, "re");
	bool exists = probe != NULL;
	if (probe)
		fclose(probe);
	rc = store_open_schema(path, !exists, audit_schema, NULL, &a->st);
	if (rc) {
		snprintf(err, errlen, "%s: cannot open the audit log: %s", path, strerror(rc));
		free(a);
		return rc;
	}
	a->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	if (!a->sk) {
		audit_close(a);
		return ENOMEM;
	}
	struct aad aad;
	key_aad(&aad, store_id);
	rc = meta_get(a->st, "sign_pk", a->pk, sizeof a->pk, &len);
	if (rc == ENOENT) {
		/* A new log: the store's signing key, its secret half sealed. */
		crypto_sign_keypair(a->pk, a->sk);
		crypto_seal(master, &aad, a->sk, crypto_sign_SECRETKEYBYTES, sealed);
		rc = exec1(a->st, sql_begin);
		if (!rc)
			rc = meta_put(a->st, "sign_pk", a->pk, sizeof a->pk);
		if (!rc)
			rc = meta_put(a->st, "sign_sk", sealed, sizeof sealed);
		if (!rc)
			rc = meta_put(a->st, "store_id", store_id, 16);
		rc = rc ? rc : exec1(a->st, sql_commit);
		if (rc)
			rollback(a->st);
	} else if (rc == 0 && len == sizeof a->pk) {
		unsigned char id[16];
		size_t idlen = 0;
		rc = meta_get(a->st, "store_id", id, sizeof id, &idlen);
		if (!rc && (idlen != 16 || memcmp(id, store_id, 16) != 0)) {
			snprintf(err, errlen, "%s belongs to another store", path);
			rc = EIO;
		}
		if (!rc)
			rc = meta_get(a->st, "sign_sk", sealed, sizeof sealed, &len);
		unsigned long long got = 0;
		if (!rc && (len != sizeof sealed ||
			    crypto_aead_xchacha20poly1305_ietf_decrypt(
				    a->sk, &got, NULL, sealed + CRYPTO_NONCE_BYTES,
				    len - CRYPTO_NONCE_BYTES, aad.buf, aad.len, sealed, master) != 0)) {
			snprintf(err, errlen, "%s: the signing key does not authenticate", path);
			rc = EIO;
		}
	} else if (!rc) {
		rc = EIO;
	}
	sodium_memzero(sealed, sizeof sealed);
	if (rc) {
		if (!err[0])
			snprintf(err, errlen, "%s: %s", path, strerror(rc));
		audit_close(a);
		return rc;
	}
	sodium_mprotect_readonly(a->sk);
	rc = store_open_single(path, &a->wst);
	if (rc) {
		snprintf(err, errlen, "%s: cannot open the audit log for writing: %s", path,
			 strerror(rc));
		audit_close(a);
		return rc;
	}
	*out = a;
	return 0;
}

void audit_close(struct audit *a)
{
	if (!a)
		return;
	if (a->wst)
		audit_flush(a);
	free(a->pending);
	free(a->pending_text);
	free(a->pending_result);
	free(a->spare);
	free(a->spare_text);
	free(a->spare_result);
	pthread_cond_destroy(&a->cv);
	store_close(a->wst);
	store_close(a->st);
	if (a->sk)
		sodium_free(a->sk);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

void audit_public_key(struct audit *a, char *hex, size_t cap)
{
	sodium_bin2hex(hex, cap, a->pk, sizeof a->pk);
}

/* ---- the chain ---- */

static void put_i64(crypto_generichash_state *h, int64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
	crypto_generichash_update(h, b, 8);
}

static void put_str(crypto_generichash_state *h, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	put_i64(h, (int64_t)n);
	if (n)
		crypto_generichash_update(h, (const unsigned char *)s, n);
}

/* The record's hash: its place (seq, predecessor) and every column. */
static void record_hash(int64_t seq, const unsigned char prev[AUDIT_HASH_BYTES],
			const struct audit_event *ev, unsigned char out[AUDIT_HASH_BYTES])
{
	crypto_generichash_state h;
	crypto_generichash_init(&h, NULL, 0, AUDIT_HASH_BYTES);
	crypto_generichash_update(&h, (const unsigned char *)"custfs/audit/1", 14);
	put_i64(&h, seq);
	crypto_generichash_update(&h, prev, AUDIT_HASH_BYTES);
	put_i64(&h, ev->time_ns);
	put_i64(&h, (int64_t)ev->uid);
	put_str(&h, ev->login);
	put_str(&h, ev->department);
	put_i64(&h, (int64_t)ev->pid);
	put_str(&h, ev->comm);
	put_str(&h, ev->exe);
	put_str(&h, ev->mount);
	put_str(&h, ev->view);
	put_i64(&h, ev->customer_id);
	put_str(&h, ev->field);
	put_str(&h, ev->cls);
	put_str(&h, ev->action);
	put_i64(&h, ev->allow);
	put_str(&h, ev->rule);
	put_str(&h, ev->reason);
	put_i64(&h, ev->checkout_id);
	put_i64(&h, ev->bytes_read);
	put_i64(&h, ev->bytes_written);
	put_str(&h, ev->detail);
	crypto_generichash_final(&h, out, AUDIT_HASH_BYTES);
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* Inserts one record at the chain's end. Call inside the transaction. */
static int insert_one(struct audit *a, struct audit_event *ev)
{
	unsigned char prev[AUDIT_HASH_BYTES] = { 0 }, hash[AUDIT_HASH_BYTES];
	int64_t seq = 1;
	sqlite3 *db;
	int err = 0;

	if (!ev->time_ns) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ev->time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!a->have_last) {
			sqlite3_stmt *s = store_prepare(a->wst, sql_last, &db, &err);
			if (!s)
				return err;
			int rc = sqlite3_step(s);
			a->last_seq = 0;
			memset(a->last_hash, 0, sizeof a->last_hash);
			if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 1) == AUDIT_HASH_BYTES) {
				a->last_seq = sqlite3_column_int64(s, 0);
				memcpy(a->last_hash, sqlite3_column_blob(s, 1), AUDIT_HASH_BYTES);
			} else if (rc != SQLITE_DONE) {
				err = store_map_rc(db, rc, "read the audit chain");
			}
			store_done(s);
			if (err)
				return err;
			if (rc == SQLITE_DONE) {
				/* Everything archived: the chain goes on from the archive's end. */
				s = store_prepare(a->wst, sql_archive_last, &db, &err);
				if (!s)
					return err;
				if (sqlite3_step(s) == SQLITE_ROW &&
				    sqlite3_column_bytes(s, 2) == AUDIT_HASH_BYTES) {
					a->last_seq = sqlite3_column_int64(s, 0);
					memcpy(a->last_hash, sqlite3_column_blob(s, 2), AUDIT_HASH_BYTES);
				}
				store_done(s);
			}
			a->have_last = true;
		}
		seq = a->last_seq + 1;
		memcpy(prev, a->last_hash, sizeof prev);
		record_hash(seq, prev, ev, hash);
		sqlite3_stmt *s = store_prepare(a->wst, sql_insert, &db, &err);
		if (!s)
			return err;
		sqlite3_bind_int64(s, 1, seq);
		sqlite3_bind_int64(s, 2, ev->time_ns);
		sqlite3_bind_int64(s, 3, (int64_t)ev->uid);
		sqlite3_bind_text(s, 4, nz(ev->login), -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, nz(ev->department), -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 6, (int64_t)ev->pid);
		sqlite3_bind_text(s, 7, nz(ev->comm), -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 8, nz(ev->exe), -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 9, nz(ev->mount), -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 10, nz(ev->view), -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 11, ev->customer_id);
		sqlite3_bind_text(s, 12, nz(ev->field), -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 13, nz(ev->cls), -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 14, nz(ev->action), -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 15, ev->allow);
		sqlite3_bind_text(s, 16, nz(ev->rule), -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 17, nz(ev->reason), -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 18, ev->checkout_id);
		sqlite3_bind_int64(s, 19, ev->bytes_read);
		sqlite3_bind_int64(s, 20, ev->bytes_written);
		sqlite3_bind_text(s, 21, nz(ev->detail), -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 22, prev, AUDIT_HASH_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(s, 23, hash, AUDIT_HASH_BYTES, SQLITE_STATIC);
		int rc = sqlite3_step(s);
		store_done(s);
		if (rc == SQLITE_DONE) {
			a->last_seq = seq;
			memcpy(a->last_hash, hash, sizeof hash);
			return 0;
		}
		a->have_last = false; /* another mount appended: read the end again */
		if ((rc & 0xff) != SQLITE_CONSTRAINT)
			return store_map_rc(db, rc, "append to the audit log");
	}
	return EIO;
}

#define PENDING_MAX 256

/* Writes a batch in one transaction. Called by the leader without the lock:
 * only the leader touches the chain's end. */
static int write_batch(struct audit *a, struct audit_event *evs, int n, bool durable)
{
	/* synchronous= is a connection's setting; each thread has its own
	 * connection to the log: set it only when it changes. */
	int err = 0;
	if (a->sync_mode != durable) {
		err = exec1(a->wst, durable ? sql_full : sql_normal);
		a->sync_mode = err ? -1 : durable;
	}
	if (!err)
		err = exec1(a->wst, sql_begin);
	for (int i = 0; !err && i < n; i++)
		err = insert_one(a, &evs[i]);
	if (!err)
		err = exec1(a->wst, sql_commit);
	if (err) {
		rollback(a->wst);
		a->have_last = false;
	}
	return err;
}

static void keep_pending(struct audit *a, const struct audit_event *ev, int *result)
{
	struct audit_event *p = &a->pending[a->npending];
	char (*t)[320] = a->pending_text[a->npending];
	const char *src[12] = { ev->login, ev->department, ev->comm, ev->exe, ev->mount, ev->view,
				ev->field, ev->cls, ev->action, ev->rule, ev->reason, ev->detail };
	*p = *ev;
	for (int i = 0; i < 12; i++)
		snprintf(t[i], sizeof t[i], "%s", nz(src[i]));
	p->login = t[0];
	p->department = t[1];
	p->comm = t[2];
	p->exe = t[3];
	p->mount = t[4];
	p->view = t[5];
	p->field = t[6];
	p->cls = t[7];
	p->action = t[8];
	p->rule = t[9];
	p->reason = t[10];
	p->detail = t[11];
	if (!p->time_ns) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		p->time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	}
	a->pending_result[a->npending] = result;
	a->npending++;
}

/* Becomes the leader once: writes everything queued. Call with the lock held
 * and flushing false; returns with the lock held. */
static void lead(struct audit *a)
{
	int n = a->npending;
	bool durable = a->want_durable;
	struct audit_event *evs = a->pending;
	char (*texts)[12][320] = a->pending_text;
	int **results = a->pending_result;
	/* The spare queue takes the followers while this batch is written. */
	a->pending = a->spare;
	a->pending_text = a->spare_text;
	a->pending_result = a->spare_result;
	a->npending = 0;
	a->want_durable = false;
	a->flushing = true;
	pthread_mutex_unlock(&a->lock);
	int err = write_batch(a, evs, n, durable);
	pthread_mutex_lock(&a->lock);
	a->flushing = false;
	int kept = 0;
	for (int i = 0; i < n; i++) {
		if (results[i])
			*results[i] = err; /* a waiter's access is denied */
		else if (err && a->npending < PENDING_MAX) {
			keep_pending(a, &evs[i], NULL); /* a close or version: tried again */
			kept++;
		}
	}
	if (err)
		log_err("audit: %d record%s could not be written: %s (%d kept for the next try)", n,
			n == 1 ? "" : "s", strerror(err), kept);
	a->spare = evs;
	a->spare_text = texts;
	a->spare_result = results;
	pthread_cond_broadcast(&a->cv);
}

static bool queue_ready(struct audit *a)
{
	if (!a->pending) {
		a->pending = calloc(PENDING_MAX, sizeof *a->pending);
		a->pending_text = calloc(PENDING_MAX, sizeof *a->pending_text);
		a->pending_result = calloc(PENDING_MAX, sizeof *a->pending_result);
		a->spare = calloc(PENDING_MAX, sizeof *a->spare);
		a->spare_text = calloc(PENDING_MAX, sizeof *a->spare_text);
		a->spare_result = calloc(PENDING_MAX, sizeof *a->spare_result);
	}
	return a->pending && a->pending_text && a->pending_result && a->spare && a->spare_text &&
	       a->spare_result;
}

/* Queues EV (RESULT: where to report, or NULL) and, with a RESULT, waits
 * until a batch holding it is committed. Call with the lock held. */
static int enqueue(struct audit *a, const struct audit_event *ev, bool durable, bool wait)
{
	int result = -1;
	while (a->npending == PENDING_MAX) {
		if (!a->flushing)
			lead(a);
		else
			pthread_cond_wait(&a->cv, &a->lock);
	}
	keep_pending(a, ev, wait ? &result : NULL);
	a->want_durable |= durable;
	while (wait && result == -1) {
		if (!a->flushing)
			lead(a);
		else
			pthread_cond_wait(&a->cv, &a->lock);
	}
	return wait ? result : 0;
}

int audit_append(struct audit *a, const struct audit_event *ev, bool durable)
{
	pthread_mutex_lock(&a->lock);
	int err = queue_ready(a) ? enqueue(a, ev, durable, true) : ENOMEM;
	pthread_mutex_unlock(&a->lock);
	if (err)
		log_err("audit: cannot record %s by uid %u: %s", nz(ev->action), (unsigned)ev->uid,
			strerror(err));
	return err;
}

int audit_note(struct audit *a, const struct audit_event *ev)
{
	pthread_mutex_lock(&a->lock);
	int err = queue_ready(a) ? enqueue(a, ev, false, false) : ENOMEM;
	pthread_mutex_unlock(&a->lock);
	return err;
}

int audit_flush(struct audit *a)
{
	pthread_mutex_lock(&a->lock);
	while (a->flushing)
		pthread_cond_wait(&a->cv, &a->lock);
	if (a->npending)
		lead(a);
	pthread_mutex_unlock(&a->lock);
	return 0;
}

/* ---- reading ---- */

static void read_record(sqlite3_stmt *q, struct audit_record *r)
{
	static const int text_cols[12] = { 3, 4, 6, 7, 8, 9, 11, 12, 13, 15, 16, 20 };
	memset(r, 0, sizeof *r);
	for (int i = 0; i < 12; i++) {
		const unsigned char *t = sqlite3_column_text(q, text_cols[i]);
		snprintf(r->text[i], sizeof r->text[i], "%s", t ? (const char *)t : "");
	}
	r->seq = sqlite3_column_int64(q, 0);
	r->ev.time_ns = sqlite3_column_int64(q, 1);
	r->ev.uid = (uid_t)sqlite3_column_int64(q, 2);
	r->ev.login = r->text[0];
	r->ev.department = r->text[1];
	r->ev.pid = (pid_t)sqlite3_column_int64(q, 5);
	r->ev.comm = r->text[2];
	r->ev.exe = r->text[3];
	r->ev.mount = r->text[4];
	r->ev.view = r->text[5];
	r->ev.customer_id = sqlite3_column_int64(q, 10);
	r->ev.field = r->text[6];
	r->ev.cls = r->text[7];
	r->ev.action = r->text[8];
	r->ev.allow = sqlite3_column_int(q, 14) != 0;
	r->ev.rule = r->text[9];
	r->ev.reason = r->text[10];
	r->ev.checkout_id = sqlite3_column_int64(q, 17);
	r->ev.bytes_read = sqlite3_column_int64(q, 18);
	r->ev.bytes_written = sqlite3_column_int64(q, 19);
	r->ev.detail = r->text[11];
	if (sqlite3_column_bytes(q, 21) == AUDIT_HASH_BYTES)
		memcpy(r->prev, sqlite3_column_blob(q, 21), AUDIT_HASH_BYTES);
	if (sqlite3_column_bytes(q, 22) == AUDIT_HASH_BYTES)
		memcpy(r->hash, sqlite3_column_blob(q, 22), AUDIT_HASH_BYTES);
}

int audit_query(struct audit *a, const struct audit_filter *f,
		int (*fn)(void *ctx, const struct audit_record *r), void *ctx)
{
	sqlite3 *db;
	int err = 0, rc;
	sqlite3_stmt *q = store_prepare(a->st, sql_query, &db, &err);
	if (!q)
		return err;
	sqlite3_bind_int64(q, 1, f->from_ns);
	sqlite3_bind_int64(q, 2, f->to_ns);
	if (f->login)
		sqlite3_bind_text(q, 3, f->login, -1, SQLITE_STATIC);
	if (f->department)
		sqlite3_bind_text(q, 4, f->department, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, f->customer_id);
	if (f->cls)
		sqlite3_bind_text(q, 6, f->cls, -1, SQLITE_STATIC);
	if (f->action)
		sqlite3_bind_text(q, 7, f->action, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 8, f->decision);
	struct audit_record *r = malloc(sizeof *r);
	if (!r) {
		store_done(q);
		return ENOMEM;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		read_record(q, r);
		if (fn(ctx, r))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = store_map_rc(db, rc, "read the audit log");
	store_done(q);
	free(r);
	return err;
}

int audit_sample(struct audit *a, int n, int (*fn)(void *ctx, const struct audit_record *r),
		 void *ctx)
{
	sqlite3 *db;
	int err = 0;
	int64_t lo = 0, hi = 0;
	sqlite3_stmt *q = store_prepare(a->st, sql_count, &db, &err);
	if (!q)
		return err;
	if (sqlite3_step(q) == SQLITE_ROW) {
		lo = sqlite3_column_int64(q, 0);
		hi = sqlite3_column_int64(q, 1);
	}
	store_done(q);
	if (hi < lo || hi == 0)
		return 0;
	uint64_t span = (uint64_t)(hi - lo + 1);
	if ((uint64_t)n > span)
		n = (int)span;
	int64_t *picked = calloc((size_t)n, sizeof *picked);
	struct audit_record *r = malloc(sizeof *r);
	if (!picked || !r) {
		free(picked);
		free(r);
		return ENOMEM;
	}
	for (int k = 0; k < n;) {
		/* randombytes_uniform: unbiased, from the kernel's CSPRNG */
		int64_t seq = lo + (int64_t)randombytes_uniform((uint32_t)(span > UINT32_MAX ? UINT32_MAX
											: span));
		bool dup = false;
		for (int j = 0; j < k; j++)
			dup |= picked[j] == seq;
		if (dup)
			continue;
		picked[k++] = seq;
		q = store_prepare(a->st, sql_sample, &db, &err);
		if (!q)
			break;
		sqlite3_bind_int64(q, 1, seq);
		if (sqlite3_step(q) == SQLITE_ROW) {
			read_record(q, r);
			store_done(q);
			if (fn(ctx, r))
				break;
		} else {
			store_done(q);
		}
	}
	free(picked);
	free(r);
	return err;
}

/* ---- checkpoints and verification ---- */

static void checkpoint_text(const struct audit *a, int64_t seq, const unsigned char *hash,
			    int64_t t, char *out, size_t cap)
{
	char id[33], h[AUDIT_HASH_BYTES * 2 + 1];
	sodium_bin2hex(id, sizeof id, a->store_id, 16);
	sodium_bin2hex(h, sizeof h, hash, AUDIT_HASH_BYTES);
	snprintf(out, cap, "custfs-checkpoint 1 %s %lld %s %lld", id, (long long)seq, h,
		 (long long)t);
}

int audit_checkpoint(struct audit *a, char *line, size_t cap)
{
	sqlite3 *db;
	int err = 0;
	int64_t seq = 0;
	unsigned char hash[AUDIT_HASH_BYTES] = { 0 }, sig[crypto_sign_BYTES];
	char text[256], sighex[crypto_sign_BYTES * 2 + 1];
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	audit_flush(a);
	pthread_mutex_lock(&a->lock);
	while (a->flushing)
		pthread_cond_wait(&a->cv, &a->lock);
	if ((err = exec1(a->st, sql_begin))) {
		pthread_mutex_unlock(&a->lock);
		return err;
	}
	sqlite3_stmt *s = store_prepare(a->st, sql_last, &db, &err);
	if (s) {
		if (sqlite3_step(s) == SQLITE_ROW) {
			seq = sqlite3_column_int64(s, 0);
			memcpy(hash, sqlite3_column_blob(s, 1), AUDIT_HASH_BYTES);
		}
		store_done(s);
	}
	checkpoint_text(a, seq, hash, t, text, sizeof text);
	crypto_sign_detached(sig, NULL, (const unsigned char *)text, strlen(text), a->sk);
	if (!err && seq > 0 && (s = store_prepare(a->st, sql_cp_insert, &db, &err))) {
		sqlite3_bind_int64(s, 1, seq);
		sqlite3_bind_blob(s, 2, hash, AUDIT_HASH_BYTES, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, t);
		sqlite3_bind_blob(s, 4, sig, sizeof sig, SQLITE_STATIC);
		int rc = sqlite3_step(s);
		if (rc != SQLITE_DONE)
			err = store_map_rc(db, rc, "keep the checkpoint");
		store_done(s);
	}
	err = err ? err : exec1(a->st, sql_commit);
	if (err)
		rollback(a->st);
	pthread_mutex_unlock(&a->lock);
	if (err)
		return err;
	sodium_bin2hex(sighex, sizeof sighex, sig, sizeof sig);
	snprintf(line, cap, "%s %s", text, sighex);
	return 0;
}

/* Parses and checks a checkpoint line's signature. */
static int parse_line(const struct audit *a, const char *line, int64_t *seq,
		      unsigned char hash[AUDIT_HASH_BYTES], FILE *out)
{
	char id[64], h[128], sighex[256];
	long long s = 0, t = 0;
	int ver = 0;
	unsigned char sig[crypto_sign_BYTES];
	if (sscanf(line, "custfs-checkpoint %d %63s %lld %127s %lld %255s", &ver, id, &s, h, &t,
		   sighex) != 6 || ver != 1) {
		fprintf(out, "BAD: not a custfs checkpoint line\n");
		return -1;
	}
	char text[256];
	size_t n = 0;
	if (sodium_hex2bin(hash, AUDIT_HASH_BYTES, h, strlen(h), NULL, &n, NULL) != 0 ||
	    n != AUDIT_HASH_BYTES ||
	    sodium_hex2bin(sig, sizeof sig, sighex, strlen(sighex), NULL, &n, NULL) != 0 ||
	    n != sizeof sig) {
		fprintf(out, "BAD: malformed checkpoint line\n");
		return -1;
	}
	checkpoint_text(a, s, hash, t, text, sizeof text);
	if (strncmp(line, text, strlen(text)) != 0 ||
	    crypto_sign_verify_detached(sig, (const unsigned char *)text, strlen(text), a->pk) != 0) {
		fprintf(out, "BAD: the checkpoint's signature does not verify with this store's key\n");
		return -1;
	}
	*seq = s;
	return 0;
}

static void archive_text(const struct audit *a, int64_t first, int64_t last,
			 const unsigned char *hash, int64_t t, const char *file, char *out,
			 size_t cap)
{
	char id[33], h[AUDIT_HASH_BYTES * 2 + 1] = "";
	sodium_bin2hex(id, sizeof id, a->store_id, 16);
	if (hash)
		sodium_bin2hex(h, sizeof h, hash, AUDIT_HASH_BYTES);
	snprintf(out, cap, "custfs-archive 1 %s %lld %lld %s %lld %s", id, (long long)first,
		 (long long)last, h, (long long)t, file ? file : "");
}

static void hexline(FILE *f, const char *key, const unsigned char *b, size_t n)
{
	char hex[AUDIT_HASH_BYTES * 2 + 1];
	sodium_bin2hex(hex, sizeof hex, b, n);
	fprintf(f, ",\"%s\":\"%s\"", key, hex);
}

static void jstr(FILE *f, const char *key, const char *s)
{
	fprintf(f, ",\"%s\":\"", key);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			putc(*p, f);
	}
	putc('"', f);
}

int audit_archive(struct audit *a, int64_t before_ns, const char *path, FILE *out)
{
	sqlite3 *db;
	int err = 0, rc;
	int64_t last = 0, first = 0;
	unsigned char last_hash[AUDIT_HASH_BYTES];
	sqlite3_stmt *q = store_prepare(a->st, sql_before, &db, &err);
	if (!q)
		return err;
	sqlite3_bind_int64(q, 1, before_ns);
	if (sqlite3_step(q) == SQLITE_ROW)
		last = sqlite3_column_int64(q, 0);
	store_done(q);
	if (last <= 0) {
		fprintf(out, "nothing to archive before that date\n");
		return 0;
	}
	FILE *f = NULL;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		err = errno;
		fprintf(out, "custctl: %s: %s\n", path, strerror(err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	/* The records, as they are in the chain, then a signed trailer. */
	struct audit_record *r = malloc(sizeof *r);
	q = r ? store_prepare(a->st, sql_all, &db, &err) : NULL;
	while (q && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		read_record(q, r);
		if (r->seq > last)
			break;
		if (!first)
			first = r->seq;
		const struct audit_event *v = &r->ev;
		fprintf(f, "{\"seq\":%lld,\"time_ns\":%lld,\"uid\":%u", (long long)r->seq,
			(long long)v->time_ns, (unsigned)v->uid);
		jstr(f, "login", v->login);
		jstr(f, "department", v->department);
		fprintf(f, ",\"pid\":%d", (int)v->pid);
		jstr(f, "comm", v->comm);
		jstr(f, "exe", v->exe);
		jstr(f, "mount", v->mount);
		jstr(f, "view", v->view);
		fprintf(f, ",\"customer_id\":%lld", (long long)v->customer_id);
		jstr(f, "field", v->field);
		jstr(f, "class", v->cls);
		jstr(f, "action", v->action);
		fprintf(f, ",\"allow\":%d", v->allow);
		jstr(f, "rule", v->rule);
		jstr(f, "reason", v->reason);
		fprintf(f, ",\"checkout_id\":%lld,\"bytes_read\":%lld,\"bytes_written\":%lld",
			(long long)v->checkout_id, (long long)v->bytes_read,
			(long long)v->bytes_written);
		jstr(f, "detail", v->detail);
		hexline(f, "prev", r->prev, AUDIT_HASH_BYTES);
		hexline(f, "hash", r->hash, AUDIT_HASH_BYTES);
		fprintf(f, "}\n");
		memcpy(last_hash, r->hash, AUDIT_HASH_BYTES);
	}
	if (q)
		store_done(q);
	free(r);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	char text[1024], sighex[crypto_sign_BYTES * 2 + 1];
	unsigned char sig[crypto_sign_BYTES];
	archive_text(a, first, last, last_hash, t, path, text, sizeof text);
	crypto_sign_detached(sig, NULL, (const unsigned char *)text, strlen(text), a->sk);
	sodium_bin2hex(sighex, sizeof sighex, sig, sizeof sig);
	fprintf(f, "%s %s\n", text, sighex);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		err = errno ? errno : EIO;
		fclose(f);
		unlink(path);
		return err;
	}
	fclose(f);

	/* The log keeps a signed marker of what left, and a record that it did. */
	pthread_mutex_lock(&a->lock);
	while (a->flushing)
		pthread_cond_wait(&a->cv, &a->lock);
	err = exec1(a->st, sql_begin);
	sqlite3_stmt *s = err ? NULL : store_prepare(a->st, sql_archive_insert, &db, &err);
	if (s) {
		sqlite3_bind_int64(s, 1, last);
		sqlite3_bind_int64(s, 2, first);
		sqlite3_bind_blob(s, 3, last_hash, AUDIT_HASH_BYTES, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, t);
		sqlite3_bind_text(s, 5, path, -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 6, sig, sizeof sig, SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc != SQLITE_DONE)
			err = store_map_rc(db, rc, "keep the archive marker");
		store_done(s);
	}
	if (!err && (s = store_prepare(a->st, sql_archive_delete, &db, &err))) {
		sqlite3_bind_int64(s, 1, last);
		rc = sqlite3_step(s);
		if (rc != SQLITE_DONE)
			err = store_map_rc(db, rc, "archive records");
		store_done(s);
	}
	err = err ? err : exec1(a->st, sql_commit);
	if (err)
		rollback(a->st);
	a->have_last = false;
	pthread_mutex_unlock(&a->lock);
	if (err) {
		unlink(path);
		return err;
	}
	fprintf(out, "archived records %lld..%lld to %s (signed); the log keeps a signed marker\n",
		(long long)first, (long long)last, path);
	return 0;
}

int audit_verify_archive(struct audit *a, const char *path, FILE *out)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		fprintf(out, "BAD: %s: %s\n", path, strerror(errno));
		return 1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int64_t n = 0, expect = 0, first = 0, last = 0;
	unsigned char prev[AUDIT_HASH_BYTES] = { 0 }, h[AUDIT_HASH_BYTES];
	int bad = 0;
	while (!bad && (len = getline(&line, &cap, f)) > 0) {
		if (!strncmp(line, "custfs-archive ", 15)) {
			/* trailer: the signed summary of the file */
			char id[64], hh[128], file[1024], sighex[256];
			long long fs = 0, ls = 0, t = 0;
			unsigned char sig[crypto_sign_BYTES];
			size_t got = 0;
			char text[1024];
			line[strcspn(line, "\n")] = '\0';
			char *lastsp = strrchr(line, ' ');
			if (!lastsp || sscanf(line, "custfs-archive 1 %63s %lld %lld %127s %lld %1023s", id,
					      &fs, &ls, hh, &t, file) != 6 ||
			    sodium_hex2bin(h, sizeof h, hh, strlen(hh), NULL, &got, NULL) ||
			    got != sizeof h) {
				fprintf(out, "BAD: malformed archive trailer\n");
				bad = 1;
				break;
			}
			snprintf(sighex, sizeof sighex, "%s", lastsp + 1);
			*lastsp = '\0';
			archive_text(a, fs, ls, h, t, file, text, sizeof text);
			if (strcmp(text, line) != 0 ||
			    sodium_hex2bin(sig, sizeof sig, sighex, strlen(sighex), NULL, &got, NULL) ||
			    got != sizeof sig ||
			    crypto_sign_verify_detached(sig, (const unsigned char *)text, strlen(text),
							a->pk) != 0) {
				fprintf(out, "BAD: the archive's signature does not verify\n");
				bad = 1;
				break;
			}
			if (fs != first || ls != last || memcmp(h, prev, sizeof h) != 0) {
				fprintf(out, "BAD: the archive's records do not match its signed summary\n");
				bad = 1;
				break;
			}
			fprintf(out, "OK: archive of records %lld..%lld intact and signed by this store\n",
				fs, ls);
			free(line);
			fclose(f);
			return 0;
		}
		/* A record line: recompute its hash from its fields. */
		struct audit_event ev = { 0 };
		char text[12][320];
		long long seq = 0, tns = 0, pid = 0, cid = 0, co = 0, br = 0, bw = 0;
		unsigned uid = 0;
		int allow = 0;
		char ph[80], hh[80];
		if (sscanf(line, "{\"seq\":%lld,\"time_ns\":%lld,\"uid\":%u", &seq, &tns, &uid) != 3) {
			fprintf(out, "BAD: malformed archive line %lld\n", (long long)n + 1);
			bad = 1;
			break;
		}
		/* Field extraction for the fixed layout written above. */
		const char *keys[12] = { "login", "department", "comm", "exe", "mount", "view",
					 "field", "class", "action", "rule", "reason", "detail" };
		for (int i = 0; i < 12; i++) {
			char pat[32];
			snprintf(pat, sizeof pat, "\"%s\":\"", keys[i]);
			const char *p = strstr(line, pat);
			size_t o = 0;
			text[i][0] = '\0';
			if (!p)
				continue;
			for (p += strlen(pat); *p && *p != '"' && o < sizeof text[i] - 1; p++) {
				if (*p == '\\' && p[1] == 'u' && strnlen(p + 2, 4) == 4) {
					unsigned c = 0;
					sscanf(p + 2, "%4x", &c);
					text[i][o++] = (char)c;
					p += 5;
				} else if (*p == '\\' && p[1]) {
					text[i][o++] = *++p;
				} else if (*p == '\\') {
					break; /* a cut line: the hash check below catches it */
				} else {
					text[i][o++] = *p;
				}
			}
			text[i][o] = '\0';
		}
		const char *p;
		if ((p = strstr(line, "\"pid\":")))
			pid = strtoll(p + 6, NULL, 10);
		if ((p = strstr(line, "\"customer_id\":")))
			cid = strtoll(p + 14, NULL, 10);
		if ((p = strstr(line, "\"allow\":")))
			allow = (int)strtol(p + 8, NULL, 10);
		if ((p = strstr(line, "\"checkout_id\":")))
			co = strtoll(p + 14, NULL, 10);
		if ((p = strstr(line, "\"bytes_read\":")))
			br = strtoll(p + 13, NULL, 10);
		if ((p = strstr(line, "\"bytes_written\":")))
			bw = strtoll(p + 16, NULL, 10);
		if (!(p = strstr(line, "\"prev\":\"")) || sscanf(p + 8, "%64[0-9a-f]", ph) != 1 ||
		    !(p = strstr(line, "\"hash\":\"")) || sscanf(p + 8, "%64[0-9a-f]", hh) != 1) {
			fprintf(out, "BAD: archive record %lld has no hashes\n", seq);
			bad = 1;
			break;
		}
		ev = (struct audit_event){
			.time_ns = tns, .uid = uid, .login = text[0], .department = text[1],
			.pid = (pid_t)pid, .comm = text[2], .exe = text[3], .mount = text[4],
			.view = text[5], .customer_id = cid, .field = text[6], .cls = text[7],
			.action = text[8], .allow = allow, .rule = text[9], .reason = text[10],
			.checkout_id = co, .bytes_read = br, .bytes_written = bw, .detail = text[11],
		};
		unsigned char file_prev[AUDIT_HASH_BYTES], file_hash[AUDIT_HASH_BYTES], calc[AUDIT_HASH_BYTES];
		size_t got = 0;
		sodium_hex2bin(file_prev, sizeof file_prev, ph, strlen(ph), NULL, &got, NULL);
		sodium_hex2bin(file_hash, sizeof file_hash, hh, strlen(hh), NULL, &got, NULL);
		if (n == 0) {
			first = expect = seq;
			memcpy(prev, file_prev, sizeof prev);
		}
		record_hash(seq, prev, &ev, calc);
		if (seq != expect || memcmp(file_prev, prev, sizeof prev) ||
		    memcmp(calc, file_hash, sizeof calc)) {
			fprintf(out, "BAD: archived record %lld was edited, moved or removed\n", seq);
			bad = 1;
			break;
		}
		memcpy(prev, calc, sizeof prev);
		last = seq;
		expect++;
		n++;
	}
	free(line);
	fclose(f);
	if (!bad)
		fprintf(out, "BAD: the archive has no signed trailer (cut short)\n");
	return 1;
}

int audit_verify(struct audit *a, const char *against, FILE *out)
{
	sqlite3 *db;
	int err = 0, rc, bad = 0;
	unsigned char prev[AUDIT_HASH_BYTES] = { 0 }, want[AUDIT_HASH_BYTES];
	int64_t expect = 1, n = 0;
	int64_t want_seq = 0;
	unsigned char want_hash[AUDIT_HASH_BYTES];
	bool want_found = false;

	if (against && parse_line(a, against, &want_seq, want_hash, out) != 0)
		return 1;
	/* Records archived away: the chain resumes after the last archive's
	 * (signed) end. */
	int64_t archived = 0;
	sqlite3_stmt *aq = store_prepare(a->st, sql_archive_last, &db, &err);
	if (aq && sqlite3_step(aq) == SQLITE_ROW) {
		char text[512];
		archived = sqlite3_column_int64(aq, 0);
		const unsigned char *h = sqlite3_column_blob(aq, 2);
		archive_text(a, sqlite3_column_int64(aq, 1), archived, h,
			     sqlite3_column_int64(aq, 3), (const char *)sqlite3_column_text(aq, 4),
			     text, sizeof text);
		if (!h || sqlite3_column_bytes(aq, 2) != AUDIT_HASH_BYTES ||
		    sqlite3_column_bytes(aq, 5) != crypto_sign_BYTES ||
		    crypto_sign_verify_detached(sqlite3_column_blob(aq, 5), (const unsigned char *)text,
						strlen(text), a->pk) != 0) {
			fprintf(out, "BAD: the archive marker (records up to %lld) has a bad "
				     "signature\n", (long long)archived);
			store_done(aq);
			return 1;
		}
		memcpy(prev, h, AUDIT_HASH_BYTES);
		expect = archived + 1;
	}
	if (aq)
		store_done(aq);
	struct audit_record *r = malloc(sizeof *r);
	if (!r)
		return ENOMEM;
	sqlite3_stmt *q = store_prepare(a->st, sql_all, &db, &err);
	if (!q) {
		free(r);
		return err;
	}
	while (!bad && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		read_record(q, r);
		n++;
		if (r->seq != expect) {
			fprintf(out, "BAD: record %lld is missing (deleted): the log jumps from %lld "
				     "to %lld\n", (long long)expect, (long long)expect - 1,
				(long long)r->seq);
			bad = 1;
			break;
		}
		if (memcmp(r->prev, prev, AUDIT_HASH_BYTES) != 0) {
			fprintf(out, "BAD: record %lld does not follow record %lld (records deleted, "
				     "swapped or edited before it)\n", (long long)r->seq,
				(long long)r->seq - 1);
			bad = 1;
			break;
		}
		record_hash(r->seq, prev, &r->ev, want);
		if (memcmp(want, r->hash, AUDIT_HASH_BYTES) != 0) {
			fprintf(out, "BAD: record %lld was edited (its contents do not match its "
				     "hash)\n", (long long)r->seq);
			bad = 1;
			break;
		}
		if (against && r->seq == want_seq) {
			want_found = true;
			if (memcmp(r->hash, want_hash, AUDIT_HASH_BYTES) != 0) {
				fprintf(out, "BAD: record %lld differs from the checkpoint you kept (the "
					     "log was rewritten)\n", (long long)r->seq);
				bad = 1;
				break;
			}
		}
		memcpy(prev, r->hash, AUDIT_HASH_BYTES);
		expect++;
	}
	store_done(q);
	free(r);
	if (bad)
		return 1;
	/* The checkpoints kept in the log: each signed, each still in the chain. */
	int64_t last_cp = 0;
	q = store_prepare(a->st, sql_cp_all, &db, &err);
	while (q && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(q, 0);
		const unsigned char *h = sqlite3_column_blob(q, 1);
		int64_t t = sqlite3_column_int64(q, 2);
		char text[256];
		if (!h || sqlite3_column_bytes(q, 1) != AUDIT_HASH_BYTES ||
		    sqlite3_column_bytes(q, 3) != crypto_sign_BYTES)
			continue;
		checkpoint_text(a, seq, h, t, text, sizeof text);
		if (crypto_sign_verify_detached(sqlite3_column_blob(q, 3),
						(const unsigned char *)text, strlen(text), a->pk) != 0) {
			fprintf(out, "BAD: checkpoint at record %lld has a bad signature\n",
				(long long)seq);
			bad = 1;
			break;
		}
		if (seq > last_cp)
			last_cp = seq;
	}
	if (q)
		store_done(q);
	if (bad)
		return 1;
	int64_t last = archived + n;
	if (last_cp > last) {
		fprintf(out, "BAD: the log ends at record %lld but was checkpointed at record %lld: "
			     "truncated after the checkpoint\n", (long long)last, (long long)last_cp);
		return 1;
	}
	if (against && want_seq <= archived)
		want_found = true; /* archived: the archive file holds it (verify it with --archive) */
	if (against && !want_found) {
		fprintf(out, "BAD: the log ends at record %lld, before the checkpoint you kept "
			     "(record %lld): truncated\n", (long long)last, (long long)want_seq);
		return 1;
	}
	fprintf(out, "OK: %lld records, hash chain intact%s%s%s\n", (long long)n,
		last_cp ? ", signed checkpoints verified" : "",
		archived ? ", resuming after the signed archive marker" : "",
		against ? ", and it extends the checkpoint you kept" : "");
	return err ? 1 : 0;
}
