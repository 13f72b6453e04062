/* Copies of live databases (sqlite's online backup API) and sqlite's own
 * check of a copy, for custctl backup and restore (issue 13, R2.6).
 *
 * Why a snapshot held across the steps: sqlite3_backup_step opens a read
 * transaction of its own for each step when the source has none, and a
 * write by another process between two steps restarts the copy from the
 * first page, so under steady writes a stepped backup may never end. Holding
 * one read transaction on the source for the whole copy makes every step
 * read the same point in time (a consistent copy) and nothing restarts; in
 * WAL mode that read transaction blocks no writer. */
#include "backup.h"
#include "i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db_internal.h"

/* How long a step may keep finding a database busy or locked before the
 * backup gives up. */
#define BUSY_GIVE_UP_MS 30000
#define BUSY_PAUSE_MS 20

struct db_snapshot {
	sqlite3 *src;
};

static void pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static bool busy(int rc)
{
	return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

/* Opens PATH with the connection settings of the store's own (db.c): no
 * symlinks, no temporary files (temp_store=MEMORY), no trusted schema. */
static int open_conn(const char *path, int flags, sqlite3 **out, char *err, size_t errlen)
{
	sqlite3 *h = NULL;
	int rc = sqlite3_open_v2(path, &h, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
				 NULL);
	if (rc == SQLITE_OK) {
		sqlite3_extended_result_codes(h, 1);
		sqlite3_busy_timeout(h, 5000);
		rc = sqlite3_exec(h, "PRAGMA temp_store=MEMORY; PRAGMA trusted_schema=OFF;", NULL,
				  NULL, NULL);
	}
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
		int e = db_map_rc(h, rc, path);
		sqlite3_close(h);
		return e;
	}
	*out = h;
	return 0;
}

/* Runs SQL, retrying while the database is busy (a checkpoint, a recovery). */
static int exec_retry(sqlite3 *h, const char *sql)
{
	int rc;
	for (int waited = 0;; waited += BUSY_PAUSE_MS) {
		rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
		if (!busy(rc) || waited >= BUSY_GIVE_UP_MS)
			return rc;
		pause_ms(BUSY_PAUSE_MS);
	}
}

int db_snapshot_begin(const char *path, struct db_snapshot **out, char *err, size_t errlen)
{
	struct db_snapshot *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, _("out of memory"));
		return ENOMEM;
	}
	int e = open_conn(path, SQLITE_OPEN_READONLY, &s->src, err, errlen);
	if (e) {
		free(s);
		return e;
	}
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(s->src, "PRAGMA journal_mode", -1, &q, NULL);
	bool wal = rc == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW &&
		   sqlite3_column_text(q, 0) &&
		   strcmp((const char *)sqlite3_column_text(q, 0), "wal") == 0;
	sqlite3_finalize(q);
	if (!wal) {
		snprintf(err, errlen, _("%s: not in WAL mode (not a custfs database?)"), path);
		db_snapshot_end(s);
		return EINVAL;
	}
	/* BEGIN is deferred: the read transaction, and so the snapshot, starts
	 * with the first read. */
	rc = exec_retry(s->src, "BEGIN; SELECT count(*) FROM sqlite_schema;");
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, _("%s: cannot start a snapshot: %s"), path,
			 sqlite3_errmsg(s->src));
		e = db_map_rc(s->src, rc, path);
		db_snapshot_end(s);
		return e;
	}
	*out = s;
	return 0;
}

void db_snapshot_end(struct db_snapshot *s)
{
	if (!s)
		return;
	if (s->src && !sqlite3_get_autocommit(s->src))
		sqlite3_exec(s->src, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(s->src);
	free(s);
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int rc = fsync(fd) == 0 ? 0 : errno;
	close(fd);
	return rc;
}

int db_snapshot_copy(struct db_snapshot *s, const char *dst, int pages,
		     void (*progress)(void *ctx, int done, int total), void *ctx,
		     int64_t *pages_out, char *err, size_t errlen)
{
	struct stat st;
	sqlite3 *d = NULL;

	if (lstat(dst, &st) == 0) {
		snprintf(err, errlen, "%s exists", dst);
		return EEXIST;
	}
	int e = open_conn(dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &d, err, errlen);
	if (e)
		return e;
	/* A copy in the making needs no journal: until the manifest is written
	 * last, a backup cut short is no backup. It is fsynced once, at the end.
	 * The copied first page keeps the source's WAL mode for the restore. */
	int rc = sqlite3_exec(d, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;", NULL, NULL,
			      NULL);
	sqlite3_backup *b = rc == SQLITE_OK ? sqlite3_backup_init(d, "main", s->src, "main") : NULL;
	if (!b) {
		snprintf(err, errlen, _("%s: cannot start the copy: %s"), dst, sqlite3_errmsg(d));
		e = db_map_rc(d, rc == SQLITE_OK ? sqlite3_errcode(d) : rc, dst);
		sqlite3_close(d);
		return e ? e : EIO;
	}
	int waited = 0;
	do {
		rc = sqlite3_backup_step(b, pages > 0 ? pages : -1);
		if (busy(rc) && waited < BUSY_GIVE_UP_MS) {
			pause_ms(BUSY_PAUSE_MS);
			waited += BUSY_PAUSE_MS;
			continue;
		}
		if (rc != SQLITE_OK && rc != SQLITE_DONE)
			break;
		waited = 0;
		if (progress) {
			int total = sqlite3_backup_pagecount(b);
			progress(ctx, total - sqlite3_backup_remaining(b), total);
		}
	} while (rc != SQLITE_DONE);
	if (pages_out)
		*pages_out = sqlite3_backup_pagecount(b);
	int frc = sqlite3_backup_finish(b);
	if (rc == SQLITE_DONE)
		rc = frc;
	if (rc != SQLITE_OK && rc != SQLITE_DONE) {
		snprintf(err, errlen, _("%s: the copy failed: %s%s"), dst, sqlite3_errstr(rc),
			 busy(rc) ? _(" (the database stayed busy)") : "");
		e = db_map_rc(d, rc, dst);
		sqlite3_close(d);
		return e ? e : EIO;
	}
	if (sqlite3_close(d) != SQLITE_OK || (e = fsync_path(dst)) != 0) {
		snprintf(err, errlen, _("%s: cannot write the copy to disk: %s"), dst,
			 strerror(e ? e : EIO));
		return e ? e : EIO;
	}
	return 0;
}

int db_integrity_check(const char *path, char *msg, size_t cap)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *q = NULL;
	int e = open_conn(path, SQLITE_OPEN_READONLY, &h, msg, cap);
	if (e)
		return e;
	int rc = sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &q, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(q, 0);
		snprintf(msg, cap, "%s", t ? t : _("(no answer)"));
		e = t && strcmp(t, "ok") == 0 ? 0 : EBADMSG;
	} else {
		/* A file damaged enough is not even a database: that is its verdict. */
		snprintf(msg, cap, "%s", sqlite3_errmsg(h));
		e = (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB ? EBADMSG
										   : db_map_rc(h, rc, path);
	}
	sqlite3_finalize(q);
	sqlite3_close(h);
	return e;
}
