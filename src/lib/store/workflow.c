#include "workflow.h"
#include "i18n.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "db_internal.h"

static const char *const app_names[] = { N_("filed"), N_("approved"), N_("rejected"), N_("implemented"),
					 N_("withdrawn") };
static const char *const case_names[] = { N_("open"), N_("forwarded"), N_("answered"), N_("resolved") };

const char *app_status_name(enum app_status s)
{
	return app_names[s];
}

const char *case_status_name(enum case_status s)
{
	return case_names[s];
}

static int parse_name(const char *const *names, int n, const unsigned char *s)
{
	for (int i = 0; s && i < n; i++)
		if (strcmp(names[i], (const char *)s) == 0)
			return i;
	return 0;
}

/* The procedures' tables (R3.1-R3.3, R4.2, R4.4), created on every open if
 * missing. */
static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS applications("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  employee_id INTEGER NOT NULL REFERENCES employees(id),"
	"  role TEXT NOT NULL,"
	"  scoped INTEGER NOT NULL DEFAULT 0,"
	"  end_date TEXT NOT NULL DEFAULT '',"
	"  replaces INTEGER NOT NULL DEFAULT 0,"
	"  reason TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  filed_by INTEGER NOT NULL REFERENCES employees(id),"
	"  filed_ns INTEGER NOT NULL,"
	"  approved_by INTEGER NOT NULL DEFAULT 0,"
	"  decided_ns INTEGER NOT NULL DEFAULT 0,"
	"  decision_note TEXT NOT NULL DEFAULT '',"
	"  implemented_by INTEGER NOT NULL DEFAULT 0,"
	"  implemented_ns INTEGER NOT NULL DEFAULT 0,"
	"  grant_id INTEGER NOT NULL DEFAULT 0,"
	"  change TEXT NOT NULL DEFAULT '');" /* KEY=VALUE: a change of the register */
	"CREATE TABLE IF NOT EXISTS application_customers("
	"  application_id INTEGER NOT NULL REFERENCES applications(id),"
	"  customer_id INTEGER NOT NULL REFERENCES customers(id),"
	"  PRIMARY KEY(application_id, customer_id)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS cases("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  kind TEXT NOT NULL,"  /* appeal | report */
	"  filed_by INTEGER NOT NULL,"
	"  filed_ns INTEGER NOT NULL,"
	"  text TEXT NOT NULL,"
	"  cite TEXT NOT NULL DEFAULT '',"
	"  status TEXT NOT NULL,"
	"  head_by INTEGER NOT NULL DEFAULT 0,"
	"  head_ns INTEGER NOT NULL DEFAULT 0,"
	"  head_note TEXT NOT NULL DEFAULT '',"
	"  resolved_by INTEGER NOT NULL DEFAULT 0,"
	"  resolved_ns INTEGER NOT NULL DEFAULT 0,"
	"  resolution TEXT NOT NULL DEFAULT '');";

static struct db_sql q_has_change = DB_SQL(
	"SELECT count(*) FROM pragma_table_info('applications') WHERE name='change'");

int wf_schema(struct db *db)
{
	int err = db_script(db, schema_sql, "create the procedures' tables");
	if (err)
		return err;
	/* Stores from before changes of the register went through applications. */
	sqlite3_stmt *s = db_stmt(db, &q_has_change, &err);
	if (!s)
		return err;
	bool has = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) > 0;
	db_done(s);
	return has ? 0 : db_script(db, "ALTER TABLE applications ADD COLUMN change TEXT NOT NULL "
				   "DEFAULT ''", "upgrade applications");
}

static struct db_sql sql_app_insert = DB_SQL("INSERT INTO applications(employee_id, role, scoped, end_date, replaces, reason, status, "
	"filed_by, filed_ns, change) VALUES(?1, ?2, ?3, ?4, ?5, ?6, 'filed', ?7, ?8, ?9)");
static struct db_sql sql_app_scope = DB_SQL("INSERT OR IGNORE INTO application_customers(application_id, customer_id) VALUES(?1, ?2)");
static struct db_sql sql_app_cols = DB_SQL("SELECT id, employee_id, role, scoped, end_date, replaces, reason, status, filed_by, "
	"approved_by, implemented_by, filed_ns, decided_ns, implemented_ns, decision_note, grant_id, change "
	"FROM applications WHERE id=?1");
static struct db_sql sql_app_all = DB_SQL("SELECT id, employee_id, role, scoped, end_date, replaces, reason, status, filed_by, "
	"approved_by, implemented_by, filed_ns, decided_ns, implemented_ns, decision_note, grant_id, change "
	"FROM applications ORDER BY id");
static struct db_sql sql_app_customers = DB_SQL("SELECT customer_id FROM application_customers WHERE application_id=?1 ORDER BY customer_id");
static struct db_sql sql_app_approve = DB_SQL("UPDATE applications SET status=?3, approved_by=?4, decided_ns=?5, decision_note=?6 "
	"WHERE id=?1 AND status=?2");
static struct db_sql sql_app_implement = DB_SQL("UPDATE applications SET status=?3, implemented_by=?4, implemented_ns=?5, grant_id=?7 "
	"WHERE id=?1 AND status=?2");

int wf_app_add(struct db *db, const struct application *a, int64_t *id)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &sql_app_insert, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, a->employee_id);
	sqlite3_bind_text(s, 2, a->role, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, a->scoped);
	sqlite3_bind_text(s, 4, a->end_date, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, a->replaces);
	sqlite3_bind_text(s, 6, a->reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, a->filed_by);
	sqlite3_bind_int64(s, 8, clock_now_ns());
	sqlite3_bind_text(s, 9, a->change, -1, SQLITE_STATIC);
	if ((err = db_step_done(s, "file application")))
		return err;
	*id = sqlite3_last_insert_rowid(db_conn(s));
	for (size_t i = 0; i < a->ncustomers; i++) {
		if (!(s = db_stmt(db, &sql_app_scope, &err)))
			return err;
		sqlite3_bind_int64(s, 1, *id);
		sqlite3_bind_int64(s, 2, a->customers[i]);
		if ((err = db_step_done(s, "file application scope")))
			return err;
	}
	return 0;
}

static void read_app(sqlite3_stmt *q, struct application *a)
{
	memset(a, 0, sizeof *a);
	a->id = sqlite3_column_int64(q, 0);
	a->employee_id = sqlite3_column_int64(q, 1);
	db_column_text(q, 2, a->role, sizeof a->role);
	a->scoped = sqlite3_column_int(q, 3) != 0;
	db_column_text(q, 4, a->end_date, sizeof a->end_date);
	a->replaces = sqlite3_column_int64(q, 5);
	db_column_text(q, 6, a->reason, sizeof a->reason);
	a->status = (enum app_status)parse_name(app_names, 5, sqlite3_column_text(q, 7));
	a->filed_by = sqlite3_column_int64(q, 8);
	a->approved_by = sqlite3_column_int64(q, 9);
	a->implemented_by = sqlite3_column_int64(q, 10);
	a->filed_ns = sqlite3_column_int64(q, 11);
	a->decided_ns = sqlite3_column_int64(q, 12);
	a->implemented_ns = sqlite3_column_int64(q, 13);
	db_column_text(q, 14, a->decision_note, sizeof a->decision_note);
	a->grant_id = sqlite3_column_int64(q, 15);
	db_column_text(q, 16, a->change, sizeof a->change);
}

static int load_scope(struct db *db, struct application *a)
{
	int err = 0, rc;
	sqlite3_stmt *c = db_stmt(db, &sql_app_customers, &err);
	if (!c)
		return err;
	sqlite3_bind_int64(c, 1, a->id);
	while ((rc = sqlite3_step(c)) == SQLITE_ROW) {
		int64_t *p = realloc(a->customers, (a->ncustomers + 1) * sizeof *p);
		if (!p) {
			err = ENOMEM;
			break;
		}
		a->customers = p;
		a->customers[a->ncustomers++] = sqlite3_column_int64(c, 0);
	}
	db_done(c);
	return err;
}

int wf_app_get(struct db *db, int64_t id, struct application *out)
{
	int err = 0;
	sqlite3_stmt *q = db_stmt(db, &sql_app_cols, &err);
	if (!q)
		return err;
	sqlite3_bind_int64(q, 1, id);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		read_app(q, out);
	else
		err = rc == SQLITE_DONE ? ENOENT : db_map_rc(db_conn(q), rc, "read application");
	db_done(q);
	return err ? err : load_scope(db, out);
}

void wf_app_clear(struct application *a)
{
	free(a->customers);
	a->customers = NULL;
	a->ncustomers = 0;
}

int wf_app_step(struct db *db, int64_t id, enum app_status from, enum app_status to,
		int64_t by, const char *note, int64_t grant_id)
{
	int err = 0;
	bool implementing = to == APP_IMPLEMENTED;
	sqlite3_stmt *s = db_stmt(db, implementing ? &sql_app_implement : &sql_app_approve, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, app_names[from], -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, app_names[to], -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, by);
	sqlite3_bind_int64(s, 5, clock_now_ns());
	if (!implementing)
		sqlite3_bind_text(s, 6, note ? note : "", -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(s, 7, grant_id);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = db_map_rc(db_conn(s), rc, "update application");
	else if (sqlite3_changes(db_conn(s)) != 1)
		err = ESTALE;
	db_done(s);
	return err;
}

int wf_app_list(struct db *db, int (*fn)(void *ctx, const struct application *a), void *ctx)
{
	int err = 0, rc;
	sqlite3_stmt *q = db_stmt(db, &sql_app_all, &err);
	if (!q)
		return err;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct application a;
		read_app(q, &a);
		if (fn(ctx, &a))
			break;
	}
	db_done(q);
	return err;
}

/* ---- appeals and reports: one table, told apart by kind ---- */

static struct db_sql sql_case_insert = DB_SQL("INSERT INTO cases(kind, filed_by, filed_ns, text, cite, status) "
	"VALUES(?1, ?2, ?3, ?4, ?5, 'open')");
static struct db_sql sql_case_get = DB_SQL("SELECT id, kind, filed_by, filed_ns, text, cite, status, head_by, head_ns, head_note, "
	"resolved_by, resolved_ns, resolution FROM cases WHERE id=?1 AND kind=?2");
static struct db_sql sql_case_all = DB_SQL("SELECT id, kind, filed_by, filed_ns, text, cite, status, head_by, head_ns, head_note, "
	"resolved_by, resolved_ns, resolution FROM cases WHERE kind=?1 ORDER BY id");
static struct db_sql sql_case_head = DB_SQL("UPDATE cases SET status=?2, head_by=?3, head_ns=?4, head_note=?5 "
	"WHERE id=?1 AND kind='appeal' AND status='open'");
static struct db_sql sql_case_resolve = DB_SQL("UPDATE cases SET status='resolved', resolved_by=?3, resolved_ns=?4, resolution=?5 "
	"WHERE id=?1 AND kind=?2 AND status<>'resolved'");

int wf_case_add(struct db *db, const struct wf_case *c, int64_t *id)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &sql_case_insert, &err);
	if (!s)
		return err;
	sqlite3_bind_text(s, 1, c->is_appeal ? "appeal" : "report", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, c->filed_by);
	sqlite3_bind_int64(s, 3, clock_now_ns());
	sqlite3_bind_text(s, 4, c->text, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, c->cite, -1, SQLITE_STATIC);
	if ((err = db_step_done(s, "file case")))
		return err;
	*id = sqlite3_last_insert_rowid(db_conn(s));
	return 0;
}

static void read_case(sqlite3_stmt *q, struct wf_case *c)
{
	memset(c, 0, sizeof *c);
	c->id = sqlite3_column_int64(q, 0);
	c->is_appeal = strcmp((const char *)sqlite3_column_text(q, 1), "appeal") == 0;
	c->filed_by = sqlite3_column_int64(q, 2);
	c->filed_ns = sqlite3_column_int64(q, 3);
	db_column_text(q, 4, c->text, sizeof c->text);
	db_column_text(q, 5, c->cite, sizeof c->cite);
	c->status = (enum case_status)parse_name(case_names, 4, sqlite3_column_text(q, 6));
	c->head_by = sqlite3_column_int64(q, 7);
	c->head_ns = sqlite3_column_int64(q, 8);
	db_column_text(q, 9, c->head_note, sizeof c->head_note);
	c->resolved_by = sqlite3_column_int64(q, 10);
	c->resolved_ns = sqlite3_column_int64(q, 11);
	db_column_text(q, 12, c->resolution, sizeof c->resolution);
}

int wf_case_get(struct db *db, bool appeal, int64_t id, struct wf_case *out)
{
	int err = 0;
	sqlite3_stmt *q = db_stmt(db, &sql_case_get, &err);
	if (!q)
		return err;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_text(q, 2, appeal ? "appeal" : "report", -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		read_case(q, out);
	else
		err = rc == SQLITE_DONE ? ENOENT : db_map_rc(db_conn(q), rc, "read case");
	db_done(q);
	return err;
}

int wf_case_head_step(struct db *db, int64_t id, enum case_status to, int64_t by,
		      const char *note)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &sql_case_head, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, case_names[to], -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, by);
	sqlite3_bind_int64(s, 4, clock_now_ns());
	sqlite3_bind_text(s, 5, note ? note : "", -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = db_map_rc(db_conn(s), rc, "update appeal");
	else if (sqlite3_changes(db_conn(s)) != 1)
		err = ESTALE;
	db_done(s);
	return err;
}

int wf_case_resolve(struct db *db, bool appeal, int64_t id, int64_t by, const char *txt)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &sql_case_resolve, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, appeal ? "appeal" : "report", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, by);
	sqlite3_bind_int64(s, 4, clock_now_ns());
	sqlite3_bind_text(s, 5, txt, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = db_map_rc(db_conn(s), rc, "resolve case");
	else if (sqlite3_changes(db_conn(s)) != 1)
		err = ESTALE;
	db_done(s);
	return err;
}

int wf_case_list(struct db *db, bool appeal, int (*fn)(void *ctx, const struct wf_case *c),
		 void *ctx)
{
	int err = 0, rc;
	sqlite3_stmt *q = db_stmt(db, &sql_case_all, &err);
	if (!q)
		return err;
	sqlite3_bind_text(q, 1, appeal ? "appeal" : "report", -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct wf_case c;
		read_case(q, &c);
		if (fn(ctx, &c))
			break;
	}
	db_done(q);
	return err;
}
