#include "erasure.h"
#include "i18n.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "db_internal.h"

static const char *const names[] = { N_("filed"), N_("approved"), N_("erased"), N_("cancelled") };

const char *erase_status_name(enum erase_status s)
{
	return names[s];
}

static enum erase_status parse(const unsigned char *s)
{
	for (int i = 0; s && i < 4; i++)
		if (!strcmp(names[i], (const char *)s))
			return (enum erase_status)i;
	return ERASE_FILED;
}

int erasure_schema(struct db *db)
{
	return db_script(db,
			 "CREATE TABLE IF NOT EXISTS erasures("
			 "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
			 "  kind TEXT NOT NULL DEFAULT 'erase'," /* erase | prune */
			 "  customer_id INTEGER REFERENCES customers(id)," /* NULL: a prune */
			 "  reason TEXT NOT NULL,"
			 "  status TEXT NOT NULL,"
			 "  filed_by INTEGER NOT NULL, filed_ns INTEGER NOT NULL,"
			 "  approved_by INTEGER NOT NULL DEFAULT 0,"
			 "  decided_ns INTEGER NOT NULL DEFAULT 0,"
			 "  not_before_ns INTEGER NOT NULL DEFAULT 0,"
			 "  implemented_by INTEGER NOT NULL DEFAULT 0,"
			 "  implemented_ns INTEGER NOT NULL DEFAULT 0,"
			 "  cancelled_by INTEGER NOT NULL DEFAULT 0,"
			 "  cancelled_ns INTEGER NOT NULL DEFAULT 0);",
			 "create the erasures table");
}

#define COLS "id, coalesce(customer_id, 0), reason, status, filed_by, filed_ns, approved_by, decided_ns, " \
	     "not_before_ns, implemented_by, implemented_ns, cancelled_by, cancelled_ns"
static struct db_sql q_add = DB_SQL(
	"INSERT INTO erasures(customer_id, reason, status, filed_by, filed_ns, kind) "
	"VALUES(nullif(?1, 0), ?2, 'filed', ?3, ?4, ?5)");
static struct db_sql q_get = DB_SQL("SELECT " COLS ", kind FROM erasures WHERE id=?1");
static struct db_sql q_all = DB_SQL("SELECT " COLS ", kind FROM erasures WHERE kind=?1 ORDER BY id");
static struct db_sql q_open = DB_SQL(
	"SELECT id FROM erasures WHERE kind=?2 AND coalesce(customer_id, 0)=?1 AND "
	"status IN ('filed', 'approved')");
static struct db_sql q_approve = DB_SQL(
	"UPDATE erasures SET status=?3, approved_by=?4, decided_ns=?5, not_before_ns=?6 "
	"WHERE id=?1 AND status=?2");
static struct db_sql q_done = DB_SQL(
	"UPDATE erasures SET status=?3, implemented_by=?4, implemented_ns=?5 "
	"WHERE id=?1 AND status=?2");
static struct db_sql q_cancel = DB_SQL(
	"UPDATE erasures SET status=?3, cancelled_by=?4, cancelled_ns=?5 WHERE id=?1 AND status=?2");
static struct db_sql q_scrub = DB_SQL(
	"UPDATE cases SET cite = '#' || ?2 || substr(cite, length(?1) + 1) "
	"WHERE cite = ?1 OR substr(cite, 1, length(?1) + 1) = ?1 || '/'");

int erasure_add(struct db *db, const struct erasure *e, int64_t *id)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_add, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, e->customer_id);
	sqlite3_bind_text(s, 2, e->reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, e->filed_by);
	sqlite3_bind_int64(s, 4, clock_now_ns());
	sqlite3_bind_text(s, 5, e->kind == ACT_PRUNE ? "prune" : "erase", -1, SQLITE_STATIC);
	if ((err = db_step_done(s, "file an erasure")))
		return err;
	*id = sqlite3_last_insert_rowid(db_conn(s));
	return 0;
}

static void read_row(sqlite3_stmt *q, struct erasure *e)
{
	memset(e, 0, sizeof *e);
	e->id = sqlite3_column_int64(q, 0);
	e->customer_id = sqlite3_column_int64(q, 1);
	db_column_text(q, 2, e->reason, sizeof e->reason);
	e->status = parse(sqlite3_column_text(q, 3));
	e->filed_by = sqlite3_column_int64(q, 4);
	e->filed_ns = sqlite3_column_int64(q, 5);
	e->approved_by = sqlite3_column_int64(q, 6);
	e->decided_ns = sqlite3_column_int64(q, 7);
	e->not_before_ns = sqlite3_column_int64(q, 8);
	e->implemented_by = sqlite3_column_int64(q, 9);
	e->implemented_ns = sqlite3_column_int64(q, 10);
	e->cancelled_by = sqlite3_column_int64(q, 11);
	e->cancelled_ns = sqlite3_column_int64(q, 12);
	const unsigned char *kind = sqlite3_column_text(q, 13);
	e->kind = kind && !strcmp((const char *)kind, "prune") ? ACT_PRUNE : ACT_ERASE;
}

int erasure_get(struct db *db, int64_t id, struct erasure *out)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_get, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		read_row(s, out);
	else
		err = rc == SQLITE_DONE ? ENOENT : db_map_rc(db_conn(s), rc, "read an erasure");
	db_done(s);
	return err;
}

int erasure_step(struct db *db, int64_t id, enum erase_status from, enum erase_status to,
		 int64_t by, int64_t not_before_ns)
{
	int err = 0;
	struct db_sql *q = to == ERASE_APPROVED ? &q_approve : to == ERASE_DONE ? &q_done : &q_cancel;
	sqlite3_stmt *s = db_stmt(db, q, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, names[from], -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, names[to], -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, by);
	sqlite3_bind_int64(s, 5, clock_now_ns());
	if (to == ERASE_APPROVED)
		sqlite3_bind_int64(s, 6, not_before_ns);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = db_map_rc(db_conn(s), rc, "update an erasure");
	else if (sqlite3_changes(db_conn(s)) != 1)
		err = ESTALE;
	db_done(s);
	return err;
}

int erasure_list(struct db *db, enum act_kind kind,
		 int (*fn)(void *ctx, const struct erasure *e), void *ctx)
{
	int err = 0, rc;
	sqlite3_stmt *s = db_stmt(db, &q_all, &err);
	if (!s)
		return err;
	sqlite3_bind_text(s, 1, kind == ACT_PRUNE ? "prune" : "erase", -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct erasure e;
		read_row(s, &e);
		if ((err = fn(ctx, &e)))
			break;
	}
	if (!err && rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = db_map_rc(db_conn(s), rc, "list erasures");
	db_done(s);
	return err;
}

int erasure_open_for(struct db *db, enum act_kind kind, int64_t customer_id, int64_t *id)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_open, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, customer_id);
	sqlite3_bind_text(s, 2, kind == ACT_PRUNE ? "prune" : "erase", -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(s, 0);
	else
		err = rc == SQLITE_DONE ? ENOENT : db_map_rc(db_conn(s), rc, "read erasures");
	db_done(s);
	return err;
}

int erasure_scrub_citations(struct db *db, const char *name, int64_t customer_id)
{
	int err = 0;
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)customer_id);
	sqlite3_stmt *s = db_stmt(db, &q_scrub, &err);
	if (!s)
		return err;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_TRANSIENT);
	return db_step_done(s, "scrub citations");
}
