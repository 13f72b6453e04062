/* Appending to the chain: group commit.
 *
 * MUST: audit_append returns 0 only after the record is committed (durably
 * when asked): callers grant an access only then. A batch that fails is
 * reported to every waiter; records without a waiter are kept for the next
 * try. Only the leader touches the chain's end. */
#include "audit_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "assert_held.h"
#include "clock.h"
#include "log.h"

static struct db_sql q_insert = DB_SQL(
	"INSERT INTO audit(seq, " AUDIT_COLUMN_LIST "prev, hash) "
	"VALUES(?, " AUDIT_COLUMNS(AUDIT_PARAM_) "?, ?)");
static struct db_sql q_full = DB_SQL("PRAGMA synchronous=FULL");
static struct db_sql q_normal = DB_SQL("PRAGMA synchronous=NORMAL");

/* Reads the chain's end into a->last_*: the last record, or (everything
 * archived) the last archive's end. */
static int read_end(struct audit *a)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(a->wdb, &audit_q_last, &err);
	if (!s)
		return err;
	int rc = sqlite3_step(s);
	a->last_seq = 0;
	memset(a->last_hash, 0, sizeof a->last_hash);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 1) == AUDIT_HASH_BYTES) {
		a->last_seq = sqlite3_column_int64(s, 0);
		memcpy(a->last_hash, sqlite3_column_blob(s, 1), AUDIT_HASH_BYTES);
	} else if (rc != SQLITE_DONE) {
		err = db_map_rc(db_conn(s), rc, "read the audit chain");
	}
	db_done(s);
	if (err || rc != SQLITE_DONE)
		return err;
	s = db_stmt(a->wdb, &audit_q_archive_last, &err);
	if (!s)
		return err;
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_bytes(s, 2) == AUDIT_HASH_BYTES) {
		a->last_seq = sqlite3_column_int64(s, 0);
		memcpy(a->last_hash, sqlite3_column_blob(s, 2), AUDIT_HASH_BYTES);
	}
	db_done(s);
	return 0;
}

/* Inserts one record at the chain's end. Call inside the transaction. */
static int insert_one(struct audit *a, const struct audit_event *ev)
{
	unsigned char hash[AUDIT_HASH_BYTES];
	int err = 0;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (!a->have_last) {
			if ((err = read_end(a)))
				return err;
			a->have_last = true;
		}
		int64_t seq = a->last_seq + 1;
		record_hash(seq, a->last_hash, ev, hash);
		sqlite3_stmt *s = db_stmt(a->wdb, &q_insert, &err);
		if (!s)
			return err;
		sqlite3_bind_int64(s, 1, seq);
		int i = record_bind(s, 2, ev);
		sqlite3_bind_blob(s, i++, a->last_hash, AUDIT_HASH_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(s, i, hash, AUDIT_HASH_BYTES, SQLITE_STATIC);
		int rc = sqlite3_step(s);
		sqlite3 *conn = db_conn(s);
		db_done(s);
		if (rc == SQLITE_DONE) {
			a->last_seq = seq;
			memcpy(a->last_hash, hash, sizeof hash);
			return 0;
		}
		a->have_last = false; /* another mount appended: read the end again */
		if ((rc & 0xff) != SQLITE_CONSTRAINT)
			return db_map_rc(conn, rc, "append to the audit log");
	}
	return EIO;
}

/* Writes a batch in one transaction. Called by the leader without the lock. */
static int write_batch(struct audit *a, const struct audit_record *recs, int n, bool durable)
{
	/* synchronous= is a connection's setting: set it only when it changes. */
	int err = 0;
	if (a->sync_mode != durable) {
		err = db_exec(a->wdb, durable ? &q_full : &q_normal);
		a->sync_mode = err ? -1 : durable;
	}
	if (!err)
		err = db_exec(a->wdb, &audit_q_begin);
	for (int i = 0; !err && i < n; i++)
		err = insert_one(a, &recs[i].ev);
	if (!err)
		err = db_exec(a->wdb, &audit_q_commit);
	if (err) {
		audit_rollback(a->wdb);
		a->have_last = false;
	}
	return err;
}

static void keep_pending_locked(struct audit *a, const struct audit_event *ev, int *result)
{
	ASSERT_HELD(&a->lock);
	assert(a->npending < PENDING_MAX);
	struct audit_record *r = &a->pending[a->npending];
	audit_record_copy(r, ev);
	if (!r->ev.time_ns)
		r->ev.time_ns = clock_now_ns();
	a->pending_result[a->npending] = result;
	a->npending++;
}

/* Becomes the leader once: writes everything queued. Call with the lock held
 * and flushing false; returns with the lock held. */
static void lead_locked(struct audit *a)
{
	ASSERT_HELD(&a->lock);
	assert(!a->flushing);
	int n = a->npending;
	bool durable = a->want_durable;
	struct audit_record *recs = a->pending;
	int **results = a->pending_result;
	/* The spare queue takes the followers while this batch is written. */
	a->pending = a->spare;
	a->pending_result = a->spare_result;
	a->npending = 0;
	a->want_durable = false;
	a->flushing = true;
	pthread_mutex_unlock(&a->lock);
	int err = write_batch(a, recs, n, durable);
	pthread_mutex_lock(&a->lock);
	a->flushing = false;
	int kept = 0;
	for (int i = 0; i < n; i++) {
		if (results[i])
			*results[i] = err; /* a waiter's access is denied */
		else if (err && a->npending < PENDING_MAX) {
			keep_pending_locked(a, &recs[i].ev, NULL); /* a close or version: tried again */
			kept++;
		}
	}
	if (err)
		log_err("audit: %d record%s could not be written: %s (%d kept for the next try)", n,
			n == 1 ? "" : "s", strerror(err), kept);
	a->spare = recs;
	a->spare_result = results;
	pthread_cond_broadcast(&a->cv);
}

static bool queue_ready_locked(struct audit *a)
{
	if (!a->pending) {
		a->pending = calloc(PENDING_MAX, sizeof *a->pending);
		a->pending_result = calloc(PENDING_MAX, sizeof *a->pending_result);
		a->spare = calloc(PENDING_MAX, sizeof *a->spare);
		a->spare_result = calloc(PENDING_MAX, sizeof *a->spare_result);
	}
	return a->pending && a->pending_result && a->spare && a->spare_result;
}

/* Queues EV and, with WAIT, waits until a batch holding it is committed.
 * Call with the lock held. */
static int enqueue_locked(struct audit *a, const struct audit_event *ev, bool durable, bool wait)
{
	int result = -1;
	ASSERT_HELD(&a->lock);
	while (a->npending == PENDING_MAX) {
		if (!a->flushing)
			lead_locked(a);
		else
			pthread_cond_wait(&a->cv, &a->lock);
	}
	keep_pending_locked(a, ev, wait ? &result : NULL);
	a->want_durable |= durable;
	while (wait && result == -1) {
		if (!a->flushing)
			lead_locked(a);
		else
			pthread_cond_wait(&a->cv, &a->lock);
	}
	return wait ? result : 0;
}

int audit_append(struct audit *a, const struct audit_event *ev, bool durable)
{
	pthread_mutex_lock(&a->lock);
	int err = queue_ready_locked(a) ? enqueue_locked(a, ev, durable, true) : ENOMEM;
	pthread_mutex_unlock(&a->lock);
	if (err)
		log_err("audit: cannot record %s by uid %u: %s", ev->action ? ev->action : "",
			(unsigned)ev->uid, strerror(err));
	return err;
}

int audit_note(struct audit *a, const struct audit_event *ev)
{
	pthread_mutex_lock(&a->lock);
	int err = queue_ready_locked(a) ? enqueue_locked(a, ev, false, false) : ENOMEM;
	pthread_mutex_unlock(&a->lock);
	return err;
}

int audit_flush(struct audit *a)
{
	pthread_mutex_lock(&a->lock);
	while (a->flushing)
		pthread_cond_wait(&a->cv, &a->lock);
	if (a->npending && queue_ready_locked(a))
		lead_locked(a);
	pthread_mutex_unlock(&a->lock);
	return 0;
}
