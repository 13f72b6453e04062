/* For the audit module's own files: the log's state and its one column table.
 *
 * Everything about a record's columns (the schema, the INSERT and SELECT
 * lists, the binds, the hash, the reader, the archive's line format and its
 * parser) is generated from AUDIT_COLUMNS: adding a column is one line here. */
#ifndef CUSTFS_AUDIT_INTERNAL_H
#define CUSTFS_AUDIT_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <sqlite3.h>

#include "audit.h"
#include "db_internal.h"

/* The record's columns in table, hash and archive order: X(column, kind,
 * member of struct audit_event). Kinds: I64 (an integer of any width) and
 * TEXT. The hash (record_hash) feeds them in this order: reordering or
 * inserting a column changes every hash, so new columns go at the end. */
#define AUDIT_COLUMNS(X)                      \
	X(time_ns, I64, time_ns)              \
	X(uid, I64, uid)                      \
	X(login, TEXT, login)                 \
	X(department, TEXT, department)       \
	X(pid, I64, pid)                      \
	X(comm, TEXT, comm)                   \
	X(exe, TEXT, exe)                     \
	X(mount, TEXT, mount)                 \
	X(view, TEXT, view)                   \
	X(customer_id, I64, customer_id)      \
	X(field, TEXT, field)                 \
	X(class, TEXT, cls)                   \
	X(action, TEXT, action)               \
	X(allow, I64, allow)                  \
	X(rule, TEXT, rule)                   \
	X(reason, TEXT, reason)               \
	X(checkout_id, I64, checkout_id)      \
	X(bytes_read, I64, bytes_read)        \
	X(bytes_written, I64, bytes_written)  \
	X(detail, TEXT, detail)

#define AUDIT_IS_TEXT_I64 0
#define AUDIT_IS_TEXT_TEXT 1
#define AUDIT_COUNT_TEXT_(col, kind, member) +AUDIT_IS_TEXT_##kind
#define AUDIT_COUNT_ALL_(col, kind, member) +1
enum {
	AUDIT_NTEXT_ = 0 AUDIT_COLUMNS(AUDIT_COUNT_TEXT_),
	AUDIT_NCOLUMNS = 0 AUDIT_COLUMNS(AUDIT_COUNT_ALL_),
};
_Static_assert(AUDIT_NTEXT_ == AUDIT_TEXT_COLUMNS,
	       "audit.h's AUDIT_TEXT_COLUMNS must count the TEXT columns of AUDIT_COLUMNS");

#define AUDIT_SQLTYPE_I64 "INTEGER"
#define AUDIT_SQLTYPE_TEXT "TEXT"
#define AUDIT_COLDEF_(col, kind, member) #col " " AUDIT_SQLTYPE_##kind " NOT NULL, "
#define AUDIT_COLNAME_(col, kind, member) #col ", "
#define AUDIT_PARAM_(col, kind, member) "?, "
/* "time_ns, uid, ..., detail, " (with a trailing ", "). */
#define AUDIT_COLUMN_LIST AUDIT_COLUMNS(AUDIT_COLNAME_)
#define AUDIT_SELECT "SELECT seq, " AUDIT_COLUMN_LIST "prev, hash FROM audit "

#define PENDING_MAX 256

struct audit {
	/* Appends are one chain: one writer at a time. A mutex hands the turn
	 * over at once, where sqlite's busy handler would sleep and retry. */
	pthread_mutex_t lock;
	struct db *db;  /* readers: a connection per thread */
	struct db *wdb; /* the leader's: one connection, whichever thread leads */
	/* Its write-ahead log, synced for durable records through one descriptor
	 * held from the open on: Linux reports a write-back error to every
	 * descriptor open when it happened, but to a descriptor opened later
	 * not at all once another sync (sqlite's checkpoint, another mount's)
	 * has taken it. A failed sync stays failed (sync_failed, under lock):
	 * a second sync on the same descriptor would no longer see the error. */
	char wal_path[PATH_MAX];
	int wal_fd;
	/* One sync covers every batch committed before it started: batches are
	 * numbered as they commit, and a durable waiter whose batch a finished
	 * sync covered needs none of its own. */
	atomic_uint_fast64_t committed;  /* batches committed so far */
	pthread_mutex_t sync_lock;       /* the syncs, one at a time, and: */
	uint64_t synced;                 /* the batches a finished sync covers */
	bool sync_failed;
	int last_batch_err; /* the last batch's result (lock): a full queue after a failure denies */
	int sync_mode;  /* wdb's synchronous= (leader only): -1 unknown */
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
	struct audit_record *pending; /* a record's strings point into its own text */
	int **pending_result;         /* where the waiter wants its result, or NULL */
	int npending;
	/* The other queue: the leader writes one while followers fill this one. */
	struct audit_record *spare;
	int **spare_result;
	unsigned char store_id[16];
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char *sk; /* sodium_malloc'd, read-only */
	char *witness;     /* a directory outside the store that every checkpoint goes to */
};

/* ---- records (audit_record.c), all from AUDIT_COLUMNS ---- */

/* The record's hash: its place (seq, predecessor) and every column. */
void record_hash(int64_t seq, const unsigned char prev[AUDIT_HASH_BYTES],
		 const struct audit_event *ev, unsigned char out[AUDIT_HASH_BYTES]);
/* Binds EV's columns to parameters FIRST.. of S; returns the next index. */
int record_bind(sqlite3_stmt *s, int first, const struct audit_event *ev);
/* Reads a row of AUDIT_SELECT into R. False if the row is malformed (a
 * column of the wrong type, a value out of its member's range, a bad hash
 * length): verify calls such a record edited. */
bool record_read(sqlite3_stmt *q, struct audit_record *r);
/* The archive's line for R (JSON, one object, no newline). */
void record_write_json(FILE *f, const struct audit_record *r);
/* Parses one archive line back into R. 0, or -1 if it is not exactly the
 * format record_write_json writes. */
int record_parse_json(const char *line, struct audit_record *r);

/* ---- shared by the files of the module ---- */

/* Rolls back the calling thread's transaction on DB, if it has one. */
void audit_rollback(struct db *db);
/* The signed text of a checkpoint, and of an archive's summary. */
void checkpoint_text(const struct audit *a, int64_t seq, const unsigned char *hash, int64_t t,
		     char *out, size_t cap);
void archive_text(const struct audit *a, int64_t first, int64_t last, const unsigned char *hash,
		  int64_t t, const char *file, char *out, size_t cap);
/* Waits until no batch is being written and takes the turn (lock held on
 * return): for the writers outside the group commit (checkpoints, archive). */
void audit_take_turn(struct audit *a);
void audit_give_turn(struct audit *a);

extern struct db_sql audit_q_begin, audit_q_commit, audit_q_last, audit_q_archive_last;

#endif
