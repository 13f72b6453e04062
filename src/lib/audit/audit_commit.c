/* Appending to the chain: group commit.
 *
 * MUST: audit_append returns 0 only after the record is committed (durably
 * when asked): callers grant an access only then. A batch that fails is
 * reported to every waiter; records without a waiter are kept for the next
 * try. Only the leader touches the chain's end.
 *
 * Durably: every batch commits with synchronous=NORMAL, and a waiter that
 * asked for durability then syncs the write-ahead log itself, after the
 * leader has handed the turn on. In WAL mode that is all synchronous=FULL
 * does at a commit (sync the log), but the next batch is written meanwhile:
 * a sensitive read no longer holds every other open behind its fsync.
 *
 * MUST: a sync that failed once fails every durable append after it, until
 * the log is opened again (a write-back error is reported once; the pages it
 * lost are not written again). */
#include "audit_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assert_held.h"
#include "clock.h"
#include "log.h"

static struct db_sql q_insert = DB_SQL(
	"INSERT INTO audit(seq, " AUDIT_COLUMN_LIST "prev, hash) "
	"VALUES(?, " AUDIT_COLUMNS(AUDIT_PARAM_) "?, ?)");
static struct db_sql q_normal = DB_SQL("PRAGMA synchronous=NORMAL");

/* A waiter's result while it waits, and once its batch is in the log but
 * not yet on disk (a durable waiter then syncs the log itself). */
enum { WAITING = -1, WAITING_DURABLE = -2, COMMITTED_UNSYNCED = -3 };

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
static int write_batch(struct audit *a, const struct audit_record *recs, int n)
{
	/* synchronous= is a connection's setting: set it once. */
	int err = 0;
	if (a->sync_mode != 0) {
		err = db_exec(a->wdb, &q_normal);
		a->sync_mode = err ? -1 : 0;
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
 * and flushing false; returns with the lock held, and the batch's result. */
static int lead_locked(struct audit *a)
{
	ASSERT_HELD(&a->lock);
	assert(!a->flushing);
	int n = a->npending;
	struct audit_record *recs = a->pending;
	int **results = a->pending_result;
	/* The spare queue takes the followers while this batch is written. */
	a->pending = a->spare;
	a->pending_result = a->spare_result;
	a->npending = 0;
	a->flushing = true;
	pthread_mutex_unlock(&a->lock);
	int err = write_batch(a, recs, n);
	if (!err)
		atomic_fetch_add(&a->committed, 1); /* before any waiter reads it */
	pthread_mutex_lock(&a->lock);
	a->flushing = false;
	a->last_batch_err = err;
	/* Records nobody waits for (closes, answers) are tried again, ahead of
	 * those queued meanwhile: the chain keeps the order they happened in
	 * (a version's not-stored answer before the next claim to its number). */
	int kept = 0, room = PENDING_MAX - a->npending;
	for (int i = 0; i < n; i++) {
		if (results[i])
			/* err: a waiter's access is denied */
			*results[i] = !err && *results[i] == WAITING_DURABLE ? COMMITTED_UNSYNCED : err;
		else if (err && kept < room) {
			if (kept != i) /* a record's strings point into its own slot: copied */
				audit_record_copy(&recs[kept], &recs[i].ev);
			results[kept++] = NULL;
		}
	}
	if (err)
		log_err("audit: %d record%s could not be written: %s (%d kept for the next try)", n,
			n == 1 ? "" : "s", strerror(err), kept);
	if (kept) {
		for (int j = 0; j < a->npending; j++) {
			audit_record_copy(&recs[kept + j], &a->pending[j].ev);
			results[kept + j] = a->pending_result[j];
		}
		struct audit_record *meanwhile = a->pending;
		int **meanwhile_result = a->pending_result;
		a->pending = recs;
		a->pending_result = results;
		a->npending += kept;
		recs = meanwhile;
		results = meanwhile_result;
	}
	a->spare = recs;
	a->spare_result = results;
	pthread_cond_broadcast(&a->cv);
	return err;
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

/* Whether the descriptor still is the file sqlite writes the log to (the
 * name is only how it was found). */
static int still_the_log(struct audit *a)
{
	struct stat held, named;
	if (fstat(a->wal_fd, &held) != 0)
		return errno;
	if (lstat(a->wal_path, &named) != 0)
		return errno;
	return held.st_dev == named.st_dev && held.st_ino == named.st_ino ? 0 : ESTALE;
}

/* Syncs the write-ahead log until it holds batch MINE (and every batch
 * before it): fdatasync reaches every byte written to the file, by
 * whichever descriptor, and a sync that started after MINE committed covers
 * it. The log is not removed while this process's writer connection is open. */
static int sync_log(struct audit *a, uint64_t mine)
{
	int err = 0;
	pthread_mutex_lock(&a->sync_lock);
	if (a->sync_failed) {
		err = EIO;
	} else if (a->synced < mine) {
		uint64_t upto = atomic_load(&a->committed); /* >= mine: committed before we came */
		err = still_the_log(a);
		if (!err && fdatasync(a->wal_fd) != 0)
			err = errno;
		if (err) {
			a->sync_failed = true;
			log_err("audit: %s cannot be synced (%s): every access that needs a durable "
				"record is denied until custfs is mounted again", a->wal_path,
				strerror(err));
		} else {
			a->synced = upto;
		}
	}
	pthread_mutex_unlock(&a->sync_lock);
	return err;
}

/* Queues EV and, with WAIT, waits until a batch holding it is committed.
 * Call with the lock held. A DURABLE record's wait can end with
 * COMMITTED_UNSYNCED: the caller then syncs the log (sync_log). */
static int enqueue_locked(struct audit *a, const struct audit_event *ev, bool durable, bool wait)
{
	int result = durable ? WAITING_DURABLE : WAITING;
	ASSERT_HELD(&a->lock);
	assert(wait || !durable); /* a durable record gates an access: it has a waiter */
	while (a->npending == PENDING_MAX) {
		/* Full of records kept from a failed batch: leading again at once
		 * would fail again (and again); the per-second flush retries. */
		if (a->last_batch_err)
			return a->last_batch_err;
		if (!a->flushing)
			lead_locked(a);
		else
			pthread_cond_wait(&a->cv, &a->lock);
	}
	keep_pending_locked(a, ev, wait ? &result : NULL);
	while (wait && (result == WAITING || result == WAITING_DURABLE)) {
		if (!a->flushing)
			lead_locked(a);
		else
			pthread_cond_wait(&a->cv, &a->lock);
	}
	return wait ? result : 0;
}

/* EV's access, denied because its record cannot be made durable: on the
 * record as such (written if the log still takes writes). */
static void note_not_durable(struct audit *a, const struct audit_event *ev)
{
	struct audit_event denied = *ev;
	denied.time_ns = 0;
	denied.allow = false;
	denied.rule = "not-durable";
	denied.reason = "its record could not be synced to disk: denied";
	audit_note(a, &denied);
}

static bool sync_has_failed(struct audit *a)
{
	pthread_mutex_lock(&a->sync_lock);
	bool failed = a->sync_failed;
	pthread_mutex_unlock(&a->sync_lock);
	return failed;
}

int audit_append(struct audit *a, const struct audit_event *ev, bool durable)
{
	int err;
	if (durable && sync_has_failed(a)) {
		/* Known to fail: no record that says allowed, only the denial. */
		note_not_durable(a, ev);
		err = EIO;
	} else {
		pthread_mutex_lock(&a->lock);
		err = queue_ready_locked(a) ? enqueue_locked(a, ev, durable, true) : ENOMEM;
		pthread_mutex_unlock(&a->lock);
		/* Committed (the count includes its batch): now on disk, or denied;
		 * its record says allowed, and the log then says what happened. */
		if (err == COMMITTED_UNSYNCED && (err = sync_log(a, atomic_load(&a->committed))))
			note_not_durable(a, ev);
	}
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
	int err = 0;
	pthread_mutex_lock(&a->lock);
	while (a->flushing)
		pthread_cond_wait(&a->cv, &a->lock);
	if (a->npending && queue_ready_locked(a))
		err = lead_locked(a);
	pthread_mutex_unlock(&a->lock);
	return err;
}
