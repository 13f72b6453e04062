#include "workflow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_internal.h"

static const char *const app_names[] = { "filed", "approved", "rejected", "implemented",
					 "withdrawn" };
static const char *const case_names[] = { "open", "forwarded", "answered", "resolved" };

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

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void text(char *dst, size_t cap, sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static const char sql_app_insert[] =
	"INSERT INTO applications(employee_id, role, scoped, end_date, replaces, reason, status, "
	"filed_by, filed_ns) VALUES(?1, ?2, ?3, ?4, ?5, ?6, 'filed', ?7, ?8)";
static const char sql_app_scope[] =
	"INSERT OR IGNORE INTO application_customers(application_id, customer_id) VALUES(?1, ?2)";
static const char sql_app_cols[] =
	"SELECT id, employee_id, role, scoped, end_date, replaces, reason, status, filed_by, "
	"approved_by, implemented_by, filed_ns, decided_ns, implemented_ns, decision_note, grant_id "
	"FROM applications WHERE id=?1";
static const char sql_app_all[] =
	"SELECT id, employee_id, role, scoped, end_date, replaces, reason, status, filed_by, "
	"approved_by, implemented_by, filed_ns, decided_ns, implemented_ns, decision_note, grant_id "
	"FROM applications ORDER BY id";
static const char sql_app_customers[] =
	"SELECT customer_id FROM application_customers WHERE application_id=?1 ORDER BY customer_id";
static const char sql_app_approve[] =
	"UPDATE applications SET status=?3, approved_by=?4, decided_ns=?5, decision_note=?6 "
	"WHERE id=?1 AND status=?2";
static const char sql_app_implement[] =
	"UPDATE applications SET status=?3, implemented_by=?4, implemented_ns=?5, grant_id=?7 "
	"WHERE id=?1 AND status=?2";

static int step_done(sqlite3 *db, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);
	int err = rc == SQLITE_DONE ? 0 : store_map_rc(db, rc, what);
	store_done(s);
	return err;
}

int wf_app_add(struct store *st, const struct application *a, int64_t *id)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = store_prepare(st, sql_app_insert, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, a->employee_id);
	sqlite3_bind_text(s, 2, a->role, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, a->scoped);
	sqlite3_bind_text(s, 4, a->end_date, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, a->replaces);
	sqlite3_bind_text(s, 6, a->reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, a->filed_by);
	sqlite3_bind_int64(s, 8, now_ns());
	if ((err = step_done(db, s, "file application")))
		return err;
	*id = sqlite3_last_insert_rowid(db);
	for (size_t i = 0; i < a->ncustomers; i++) {
		if (!(s = store_prepare(st, sql_app_scope, &db, &err)))
			return err;
		sqlite3_bind_int64(s, 1, *id);
		sqlite3_bind_int64(s, 2, a->customers[i]);
		if ((err = step_done(db, s, "file application scope")))
			return err;
	}
	return 0;
}

static void read_app(sqlite3_stmt *q, struct application *a)
{
	memset(a, 0, sizeof *a);
	a->id = sqlite3_column_int64(q, 0);
	a->employee_id = sqlite3_column_int64(q, 1);
	text(a->role, sizeof a->role, q, 2);
	a->scoped = sqlite3_column_int(q, 3) != 0;
	text(a->end_date, sizeof a->end_date, q, 4);
	a->replaces = sqlite3_column_int64(q, 5);
	text(a->reason, sizeof a->reason, q, 6);
	a->status = (enum app_status)parse_name(app_names, 5, sqlite3_column_text(q, 7));
	a->filed_by = sqlite3_column_int64(q, 8);
	a->approved_by = sqlite3_column_int64(q, 9);
	a->implemented_by = sqlite3_column_int64(q, 10);
	a->filed_ns = sqlite3_column_int64(q, 11);
	a->decided_ns = sqlite3_column_int64(q, 12);
	a->implemented_ns = sqlite3_column_int64(q, 13);
	text(a->decision_note, sizeof a->decision_note, q, 14);
	a->grant_id = sqlite3_column_int64(q, 15);
}

static int load_scope(struct store *st, struct application *a)
{
	sqlite3 *db;
	int err = 0, rc;
	sqlite3_stmt *c = store_prepare(st, sql_app_customers, &db, &err);
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
	store_done(c);
	return err;
}

int wf_app_get(struct store *st, int64_t id, struct application *out)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *q = store_prepare(st, sql_app_cols, &db, &err);
	if (!q)
		return err;
	sqlite3_bind_int64(q, 1, id);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		read_app(q, out);
	else
		err = rc == SQLITE_DONE ? ENOENT : store_map_rc(db, rc, "read application");
	store_done(q);
	return err ? err : load_scope(st, out);
}

void wf_app_clear(struct application *a)
{
	free(a->customers);
	a->customers = NULL;
	a->ncustomers = 0;
}

int wf_app_step(struct store *st, int64_t id, enum app_status from, enum app_status to,
		int64_t by, const char *note, int64_t grant_id)
{
	sqlite3 *db;
	int err = 0;
	bool implementing = to == APP_IMPLEMENTED;
	sqlite3_stmt *s = store_prepare(st, implementing ? sql_app_implement : sql_app_approve, &db,
					&err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, app_names[from], -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, app_names[to], -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, by);
	sqlite3_bind_int64(s, 5, now_ns());
	if (!implementing)
		sqlite3_bind_text(s, 6, note ? note : "", -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(s, 7, grant_id);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = store_map_rc(db, rc, "update application");
	else if (sqlite3_changes(db) != 1)
		err = ESTALE;
	store_done(s);
	return err;
}

int wf_app_list(struct store *st, int (*fn)(void *ctx, const struct application *a), void *ctx)
{
	sqlite3 *db;
	int err = 0, rc;
	sqlite3_stmt *q = store_prepare(st, sql_app_all, &db, &err);
	if (!q)
		return err;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct application a;
		read_app(q, &a);
		if (fn(ctx, &a))
			break;
	}
	store_done(q);
	return err;
}

/* ---- appeals and reports: one table, told apart by kind ---- */

static const char sql_case_insert[] =
	"INSERT INTO cases(kind, filed_by, filed_ns, text, cite, status) "
	"VALUES(?1, ?2, ?3, ?4, ?5, 'open')";
static const char sql_case_get[] =
	"SELECT id, kind, filed_by, filed_ns, text, cite, status, head_by, head_ns, head_note, "
	"resolved_by, resolved_ns, resolution FROM cases WHERE id=?1 AND kind=?2";
static const char sql_case_all[] =
	"SELECT id, kind, filed_by, filed_ns, text, cite, status, head_by, head_ns, head_note, "
	"resolved_by, resolved_ns, resolution FROM cases WHERE kind=?1 ORDER BY id";
static const char sql_case_head[] =
	"UPDATE cases SET status=?2, head_by=?3, head_ns=?4, head_note=?5 "
	"WHERE id=?1 AND kind='appeal' AND status='open'";
static const char sql_case_resolve[] =
	"UPDATE cases SET status='resolved', resolved_by=?3, resolved_ns=?4, resolution=?5 "
	"WHERE id=?1 AND kind=?2 AND status<>'resolved'";

int wf_case_add(struct store *st, const struct wf_case *c, int64_t *id)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = store_prepare(st, sql_case_insert, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_text(s, 1, c->is_appeal ? "appeal" : "report", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, c->filed_by);
	sqlite3_bind_int64(s, 3, now_ns());
	sqlite3_bind_text(s, 4, c->text, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, c->cite, -1, SQLITE_STATIC);
	if ((err = step_done(db, s, "file case")))
		return err;
	*id = sqlite3_last_insert_rowid(db);
	return 0;
}

static void read_case(sqlite3_stmt *q, struct wf_case *c)
{
	memset(c, 0, sizeof *c);
	c->id = sqlite3_column_int64(q, 0);
	c->is_appeal = strcmp((const char *)sqlite3_column_text(q, 1), "appeal") == 0;
	c->filed_by = sqlite3_column_int64(q, 2);
	c->filed_ns = sqlite3_column_int64(q, 3);
	text(c->text, sizeof c->text, q, 4);
	text(c->cite, sizeof c->cite, q, 5);
	c->status = (enum case_status)parse_name(case_names, 4, sqlite3_column_text(q, 6));
	c->head_by = sqlite3_column_int64(q, 7);
	c->head_ns = sqlite3_column_int64(q, 8);
	text(c->head_note, sizeof c->head_note, q, 9);
	c->resolved_by = sqlite3_column_int64(q, 10);
	c->resolved_ns = sqlite3_column_int64(q, 11);
	text(c->resolution, sizeof c->resolution, q, 12);
}

int wf_case_get(struct store *st, bool appeal, int64_t id, struct wf_case *out)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *q = store_prepare(st, sql_case_get, &db, &err);
	if (!q)
		return err;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_text(q, 2, appeal ? "appeal" : "report", -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		read_case(q, out);
	else
		err = rc == SQLITE_DONE ? ENOENT : store_map_rc(db, rc, "read case");
	store_done(q);
	return err;
}

int wf_case_head_step(struct store *st, int64_t id, enum case_status to, int64_t by,
		      const char *note)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = store_prepare(st, sql_case_head, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, case_names[to], -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, by);
	sqlite3_bind_int64(s, 4, now_ns());
	sqlite3_bind_text(s, 5, note ? note : "", -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = store_map_rc(db, rc, "update appeal");
	else if (sqlite3_changes(db) != 1)
		err = ESTALE;
	store_done(s);
	return err;
}

int wf_case_resolve(struct store *st, bool appeal, int64_t id, int64_t by, const char *txt)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = store_prepare(st, sql_case_resolve, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, appeal ? "appeal" : "report", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, by);
	sqlite3_bind_int64(s, 4, now_ns());
	sqlite3_bind_text(s, 5, txt, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = store_map_rc(db, rc, "resolve case");
	else if (sqlite3_changes(db) != 1)
		err = ESTALE;
	store_done(s);
	return err;
}

int wf_case_list(struct store *st, bool appeal, int (*fn)(void *ctx, const struct wf_case *c),
		 void *ctx)
{
	sqlite3 *db;
	int err = 0, rc;
	sqlite3_stmt *q = store_prepare(st, sql_case_all, &db, &err);
	if (!q)
		return err;
	sqlite3_bind_text(q, 1, appeal ? "appeal" : "report", -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct wf_case c;
		read_case(q, &c);
		if (fn(ctx, &c))
			break;
	}
	store_done(q);
	return err;
}
