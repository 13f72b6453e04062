/* Reading the log: filtered queries and counts (R5.1); the spot-check
 * sample is report_sample's (report.h). */
#include "audit_internal.h"

#include <errno.h>
#include <stdlib.h>

static struct db_sql q_query = DB_SQL(
	AUDIT_SELECT "WHERE (?1 = 0 OR time_ns >= ?1) AND (?2 = 0 OR time_ns < ?2) "
	"AND (?3 IS NULL OR login = ?3) AND (?4 IS NULL OR department = ?4) "
	"AND (?5 = 0 OR customer_id = ?5) AND (?6 IS NULL OR class = ?6) "
	"AND (?7 IS NULL OR action = ?7) AND (?8 < 0 OR allow = ?8) ORDER BY seq");
static struct db_sql q_total = DB_SQL("SELECT count(*) FROM audit");
/* Only the daemon writes mount and unmount records (one per start and
 * clean stop), with its view. */
static struct db_sql q_last_mount = DB_SQL(
	"SELECT seq FROM audit WHERE action = 'mount' AND view = ?1 ORDER BY seq DESC LIMIT 1");
static struct db_sql q_unmount_after = DB_SQL(
	"SELECT 1 FROM audit WHERE seq > ?1 AND action = 'unmount' AND view = ?2 LIMIT 1");
static struct db_sql q_since = DB_SQL(
	AUDIT_SELECT "WHERE seq > ?1 AND action = ?2 AND view = ?3 ORDER BY seq");
static struct db_sql q_in_day = DB_SQL(
	"SELECT count(*) FROM audit WHERE time_ns >= ?1 AND time_ns < ?2");

/* Steps Q (bound), giving FN each row; WELL_FORMED: only rows that read
 * whole. Finishes Q. 0 or errno. */
static int each_record(sqlite3_stmt *q, bool well_formed,
		       int (*fn)(void *ctx, const struct audit_record *r), void *ctx)
{
	int err = 0, rc;
	struct audit_record *r = malloc(sizeof *r);
	if (!r) {
		db_done(q);
		return ENOMEM;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if ((record_read(q, r) || !well_formed) && fn(ctx, r))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = db_map_rc(db_conn(q), rc, "read the audit log");
	db_done(q);
	free(r);
	return err;
}

int audit_query(struct audit *a, const struct audit_filter *f,
		int (*fn)(void *ctx, const struct audit_record *r), void *ctx)
{
	int err = 0;
	sqlite3_stmt *q = db_stmt(a->db, &q_query, &err);
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
	return each_record(q, false, fn, ctx);
}

/* seq of VIEW's last mount record if no unmount record of VIEW follows it;
 * 0 if it stopped cleanly, or never mounted. */
static int unclean_mount(struct audit *a, const char *view, int64_t *seq)
{
	int err = 0, rc;
	*seq = 0;
	sqlite3_stmt *q = db_stmt(a->db, &q_last_mount, &err);
	if (!q)
		return err;
	sqlite3_bind_text(q, 1, view, -1, SQLITE_STATIC);
	int64_t mounted = 0;
	if ((rc = sqlite3_step(q)) == SQLITE_ROW)
		mounted = sqlite3_column_int64(q, 0);
	else if (rc != SQLITE_DONE)
		err = db_map_rc(db_conn(q), rc, "read the audit log");
	db_done(q);
	if (err || !mounted)
		return err;
	if (!(q = db_stmt(a->db, &q_unmount_after, &err)))
		return err;
	sqlite3_bind_int64(q, 1, mounted);
	sqlite3_bind_text(q, 2, view, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(q)) == SQLITE_DONE)
		*seq = mounted;
	else if (rc != SQLITE_ROW)
		err = db_map_rc(db_conn(q), rc, "read the audit log");
	db_done(q);
	return err;
}

int audit_since_unclean_mount(struct audit *a, const char *view, const char *action,
			      int (*fn)(void *ctx, const struct audit_record *r), void *ctx)
{
	int64_t mounted;
	int err = unclean_mount(a, view, &mounted);
	if (err || !mounted)
		return err;
	sqlite3_stmt *q = db_stmt(a->db, &q_since, &err);
	if (!q)
		return err;
	sqlite3_bind_int64(q, 1, mounted);
	sqlite3_bind_text(q, 2, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, view, -1, SQLITE_STATIC);
	return each_record(q, true, fn, ctx); /* a malformed row claims nothing */
}

int audit_stats(struct audit *a, int64_t now_ns, int64_t *records, int64_t *per_day, int days)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(a->db, &q_total, &err);
	if (!s)
		return err;
	if (sqlite3_step(s) == SQLITE_ROW)
		*records = sqlite3_column_int64(s, 0);
	db_done(s);
	const int64_t day = 86400LL * 1000000000LL;
	for (int d = 0; d < days; d++) {
		if (!(s = db_stmt(a->db, &q_in_day, &err)))
			return err;
		sqlite3_bind_int64(s, 1, now_ns - (d + 1) * day);
		sqlite3_bind_int64(s, 2, now_ns - d * day);
		per_day[d] = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
		db_done(s);
	}
	return 0;
}
