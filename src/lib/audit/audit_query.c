/* Reading the log: filtered queries and counts (R5.1); the spot-check
 * sample is report_sample's (report.h). */
#include "audit_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct db_sql q_query = DB_SQL(
	AUDIT_SELECT "WHERE (?1 = 0 OR time_ns >= ?1) AND (?2 = 0 OR time_ns < ?2) "
	"AND (?3 IS NULL OR login = ?3) AND (?4 IS NULL OR department = ?4) "
	"AND (?5 = 0 OR customer_id = ?5) AND (?6 IS NULL OR class = ?6) "
	"AND (?7 IS NULL OR action = ?7) AND (?8 < 0 OR allow = ?8) ORDER BY seq");
static struct db_sql q_total = DB_SQL("SELECT count(*) FROM audit");
static struct db_sql q_last_seq = DB_SQL("SELECT coalesce(max(seq), 0) FROM audit");
static struct db_sql q_denied_after = DB_SQL(
	"SELECT 1 FROM audit WHERE seq > ?1 AND action = ?2 AND allow = 0 AND customer_id = ?3 "
	"AND field = ?4 AND detail = ?5 AND uid = ?6 LIMIT 1");
/* A daemon's records: its mount point and view, until the next daemon
 * mounted there (two live daemons never share a mount point). */
static struct db_sql q_run = DB_SQL(
	AUDIT_SELECT "WHERE seq > ?1 AND mount = ?2 AND (action = 'mount' OR "
	"(action = ?3 AND view = ?4)) ORDER BY seq");
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

int audit_last_seq(struct audit *a, int64_t *seq)
{
	int err = 0, rc;
	sqlite3_stmt *q = db_stmt(a->db, &q_last_seq, &err);
	if (!q)
		return err;
	if ((rc = sqlite3_step(q)) == SQLITE_ROW)
		*seq = sqlite3_column_int64(q, 0);
	else
		err = db_map_rc(db_conn(q), rc, "read the audit log");
	db_done(q);
	return err;
}

int audit_denied_after(struct audit *a, const struct audit_record *r, bool *denied)
{
	int err = 0, rc;
	sqlite3_stmt *q = db_stmt(a->db, &q_denied_after, &err);
	if (!q)
		return err;
	sqlite3_bind_int64(q, 1, r->seq);
	sqlite3_bind_text(q, 2, r->ev.action, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, r->ev.customer_id);
	sqlite3_bind_text(q, 4, r->ev.field, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, r->ev.detail, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, (int64_t)r->ev.uid);
	if ((rc = sqlite3_step(q)) == SQLITE_ROW || rc == SQLITE_DONE)
		*denied = rc == SQLITE_ROW;
	else
		err = db_map_rc(db_conn(q), rc, "read the audit log");
	db_done(q);
	return err;
}

struct run_walk {
	pid_t daemon;
	int (*fn)(void *ctx, const struct audit_record *r);
	void *ctx;
};

static int until_next_mount(void *p, const struct audit_record *r)
{
	struct run_walk *w = p;
	if (strcmp(r->ev.action, "mount") != 0)
		return w->fn(w->ctx, r);
	return r->ev.pid != w->daemon; /* its own mount record: go on */
}

int audit_run_records(struct audit *a, int64_t after, const char *mount, const char *view,
		      pid_t daemon, const char *action,
		      int (*fn)(void *ctx, const struct audit_record *r), void *ctx)
{
	int err = 0;
	sqlite3_stmt *q = db_stmt(a->db, &q_run, &err);
	if (!q)
		return err;
	sqlite3_bind_int64(q, 1, after);
	sqlite3_bind_text(q, 2, mount, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, view, -1, SQLITE_STATIC);
	struct run_walk w = { daemon, fn, ctx };
	return each_record(q, true, until_next_mount, &w); /* a malformed row claims nothing */
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
