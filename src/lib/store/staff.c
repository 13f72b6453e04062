#include "staff.h"
#include "i18n.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "clock.h"
#include "log.h"
#include "db_internal.h"

/* The staff register's tables (R1.2, R3.1-R3.5, R4.3), created on every open
 * if missing. */
static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS employees("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  login TEXT NOT NULL UNIQUE,"
	"  uid INTEGER NOT NULL UNIQUE,"
	"  name TEXT NOT NULL,"
	"  department TEXT NOT NULL,"
	"  post TEXT NOT NULL DEFAULT '',"
	"  staff_type TEXT NOT NULL,"
	"  organisation TEXT NOT NULL DEFAULT '',"
	"  end_date TEXT NOT NULL DEFAULT '',"
	"  is_head INTEGER NOT NULL DEFAULT 0,"
	"  group_role TEXT NOT NULL DEFAULT 'none',"
	"  departed INTEGER NOT NULL DEFAULT 0,"
	"  created_ns INTEGER NOT NULL,"
	"  updated_ns INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS grants("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  employee_id INTEGER NOT NULL REFERENCES employees(id),"
	"  role TEXT NOT NULL,"
	"  scoped INTEGER NOT NULL DEFAULT 0,"
	"  end_date TEXT NOT NULL DEFAULT '',"
	"  status TEXT NOT NULL DEFAULT 'active',"
	"  created_ns INTEGER NOT NULL,"
	"  created_uid INTEGER NOT NULL,"
	"  ended_ns INTEGER,"
	"  ended_uid INTEGER,"
	"  note TEXT NOT NULL DEFAULT '',"
	"  origin TEXT NOT NULL DEFAULT 'break-glass',"  /* or 'application' */
	"  application_id INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS grants_by_employee ON grants(employee_id);"
	"CREATE TABLE IF NOT EXISTS grant_customers("
	"  grant_id INTEGER NOT NULL REFERENCES grants(id),"
	"  customer_id INTEGER NOT NULL REFERENCES customers(id),"
	"  PRIMARY KEY(grant_id, customer_id)) WITHOUT ROWID;"
	/* Checkouts of sensitive records (R3.5). */
	"CREATE TABLE IF NOT EXISTS checkouts("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  employee_id INTEGER NOT NULL REFERENCES employees(id),"
	"  customer_id INTEGER NOT NULL REFERENCES customers(id),"
	"  class TEXT NOT NULL DEFAULT '',"
	"  field TEXT NOT NULL DEFAULT '',"
	"  purpose TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  requested_ns INTEGER NOT NULL,"
	"  duration_s INTEGER NOT NULL,"
	"  expires_ns INTEGER NOT NULL DEFAULT 0,"
	"  approved_by INTEGER NOT NULL DEFAULT 0,"
	"  ended_ns INTEGER NOT NULL DEFAULT 0,"
	"  ended_by INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS checkouts_live ON checkouts(status, expires_ns);";

int staff_schema(struct db *db)
{
	return db_script(db, schema_sql, "create the staff register's tables");
}

static struct db_sql sql_generation = DB_SQL("SELECT value FROM meta WHERE key='acl_gen'");
static struct db_sql sql_bump = DB_SQL("INSERT INTO meta(key, value) VALUES('acl_gen', 1) "
	"ON CONFLICT(key) DO UPDATE SET value = value + 1");
static struct db_sql sql_all_employees = DB_SQL("SELECT id, uid, login, name, department, post, staff_type, organisation, end_date, "
	"is_head, group_role, departed FROM employees ORDER BY uid");
static struct db_sql sql_all_grants = DB_SQL("SELECT id, employee_id, role, scoped, end_date, status, created_ns, created_uid, note "
	"FROM grants WHERE status = 'active' ORDER BY employee_id, id");
static struct db_sql sql_all_scopes = DB_SQL("SELECT gc.grant_id, gc.customer_id FROM grant_customers gc "
	"JOIN grants g ON g.id = gc.grant_id WHERE g.status = 'active' "
	"ORDER BY gc.grant_id, gc.customer_id");
/* The same, every grant and checkout there ever was (a replay of the log
 * decides as they were then). */
static struct db_sql sql_all_grants_h = DB_SQL("SELECT id, employee_id, role, scoped, end_date, status, created_ns, created_uid, note, "
	"coalesce(ended_ns, 0) FROM grants ORDER BY employee_id, id");
static struct db_sql sql_all_scopes_h = DB_SQL("SELECT gc.grant_id, gc.customer_id FROM grant_customers gc "
	"ORDER BY gc.grant_id, gc.customer_id");
static struct db_sql sql_all_checkouts_h = DB_SQL("SELECT id, employee_id, customer_id, class, field, purpose, status, requested_ns, "
	"duration_s, expires_ns, approved_by, ended_ns FROM checkouts ORDER BY employee_id, id");
static struct db_sql sql_all_checkouts = DB_SQL("SELECT id, employee_id, customer_id, class, field, purpose, status, requested_ns, "
	"duration_s, expires_ns, approved_by, ended_ns FROM checkouts "
	"WHERE status IN ('open', 'pending') ORDER BY employee_id, id");
static struct db_sql sql_employee_insert = DB_SQL("INSERT INTO employees(login, uid, name, department, post, staff_type, organisation, "
	"end_date, is_head, group_role, departed, created_ns, updated_ns) "
	"VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)");
static struct db_sql sql_employee_update = DB_SQL("UPDATE employees SET name=?2, department=?3, post=?4, staff_type=?5, organisation=?6, "
	"end_date=?7, is_head=?8, group_role=?9, departed=?10, updated_ns=?11 WHERE id=?1");
static struct db_sql sql_grants_suspend = DB_SQL("UPDATE grants SET status='suspended', ended_ns=?2, ended_uid=?3 "
	"WHERE employee_id=?1 AND status='active'");
static struct db_sql sql_grant_insert = DB_SQL("INSERT INTO grants(employee_id, role, scoped, end_date, status, created_ns, created_uid, "
	"note, origin, application_id) VALUES(?1, ?2, ?3, ?4, 'active', ?5, ?6, ?7, ?8, ?9)");
static struct db_sql sql_grant_scope = DB_SQL("INSERT INTO grant_customers(grant_id, customer_id) VALUES(?1, ?2)");
static struct db_sql sql_grant_end = DB_SQL("UPDATE grants SET status=?2, ended_ns=?3, ended_uid=?4 WHERE id=?1 AND status='active'");

static struct db_sql sql_grants_list = DB_SQL("SELECT id, employee_id, role, scoped, end_date, status, created_ns, created_uid, note, "
	"application_id FROM grants WHERE ?1 = 0 OR employee_id = ?1 ORDER BY id");
static struct db_sql sql_grant_customers = DB_SQL("SELECT customer_id FROM grant_customers WHERE grant_id=?1 ORDER BY customer_id");

const char *grant_status_name(enum grant_status s)
{
	switch (s) {
	case GRANT_ACTIVE:
		return N_("active");
	case GRANT_REVOKED:
		return "revoked";
	case GRANT_SUSPENDED:
		return "suspended";
	}
	return "unknown";
}

static enum grant_status parse_status(const char *s)
{
	if (s && strcmp(s, "active") == 0)
		return GRANT_ACTIVE;
	if (s && strcmp(s, "suspended") == 0)
		return GRANT_SUSPENDED;
	return GRANT_REVOKED;
}

bool staff_date_ok(const char *s)
{
	return value_format_problem(FORMAT_DATE, s, strlen(s)) == NULL && strlen(s) == 10;
}

static int64_t generation(struct db *db, int *err)
{
	sqlite3_stmt *s = db_stmt(db, &sql_generation, err);
	if (!s)
		return -1;
	int64_t gen = 0;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		gen = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE)
		*err = db_map_rc(db_conn(s), rc, "read ACL generation");
	db_done(s);
	return *err ? -1 : gen;
}

void staff_free(struct staff *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		for (size_t g = 0; g < s->emps[i].ngrants; g++)
			free(s->emps[i].grants[g].customers);
		free(s->emps[i].grants);
		free(s->emps[i].checkouts);
	}
	free(s->emps);
	free(s);
}

static const char *const co_names[] = { N_("pending"), N_("open"), N_("returned"), N_("expired"), N_("denied"),
					N_("revoked") };

const char *checkout_status_name(enum checkout_status st)
{
	return co_names[st];
}

static enum checkout_status parse_co(const unsigned char *t)
{
	for (int i = 0; t && i < 6; i++)
		if (strcmp(co_names[i], (const char *)t) == 0)
			return (enum checkout_status)i;
	return CO_REVOKED;
}

static void read_checkout(sqlite3_stmt *q, struct checkout *c)
{
	memset(c, 0, sizeof *c);
	c->id = sqlite3_column_int64(q, 0);
	c->employee_id = sqlite3_column_int64(q, 1);
	c->customer_id = sqlite3_column_int64(q, 2);
	db_column_text(q, 3, c->cls, sizeof c->cls);
	db_column_text(q, 4, c->field, sizeof c->field);
	db_column_text(q, 5, c->purpose, sizeof c->purpose);
	c->status = parse_co(sqlite3_column_text(q, 6));
	c->requested_ns = sqlite3_column_int64(q, 7);
	c->duration_s = sqlite3_column_int64(q, 8);
	c->expires_ns = sqlite3_column_int64(q, 9);
	c->approved_by = sqlite3_column_int64(q, 10);
	c->ended_ns = sqlite3_column_int64(q, 11);
}

static struct employee *by_id(struct staff *s, int64_t id)
{
	for (size_t i = 0; i < s->n; i++) /* staff sizes are small; loads are rare */
		if (s->emps[i].id == id)
			return &s->emps[i];
	return NULL;
}

static struct grant *grant_by_id(struct staff *s, int64_t id)
{
	for (size_t i = 0; i < s->n; i++)
		for (size_t g = 0; g < s->emps[i].ngrants; g++)
			if (s->emps[i].grants[g].id == id)
				return &s->emps[i].grants[g];
	return NULL;
}

int64_t staff_passwd_stamp(void)
{
	struct stat st;
	if (stat("/etc/passwd", &st) != 0)
		return -1;
	return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec + (int64_t)st.st_size +
	       (int64_t)st.st_ino * 7919;
}

/* The register binds login and uid: an employee whose uid now belongs to
 * another account (or to none) is marked, and denied everything. */
static void check_identities(struct staff *s)
{
	char buf[4096];
	s->passwd_stamp = staff_passwd_stamp();
	for (size_t i = 0; i < s->n; i++) {
		struct passwd pw, *res = NULL;
		struct employee *e = &s->emps[i];
		e->identity_changed = getpwuid_r(e->uid, &pw, buf, sizeof buf, &res) != 0 || !res ||
				      strcmp(pw.pw_name, e->login) != 0;
	}
}

static int load(struct db *db, bool history, struct staff **out);

int staff_load(struct db *db, struct staff **out)
{
	return load(db, false, out);
}

int staff_load_history(struct db *db, struct staff **out)
{
	return load(db, true, out);
}

static int load(struct db *db, bool history, struct staff **out)
{
	struct staff *s = calloc(1, sizeof *s);
	sqlite3_stmt *q;
	size_t cap = 0;
	int err = 0, rc;

	if (!s)
		return ENOMEM;
	/* One read transaction: employees, grants and scopes of one moment (or the
	 * caller's own transaction, if it holds one). */
	db_read_begin(db);
	s->generation = generation(db, &err);
	if (err)
		goto out;

	if (!(q = db_stmt(db, &sql_all_employees, &err)))
		goto out;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (s->n == cap) {
			cap = cap ? cap * 2 : 16;
			void *p = realloc(s->emps, cap * sizeof *s->emps);
			if (!p) {
				err = ENOMEM;
				break;
			}
			s->emps = p;
		}
		struct employee *e = &s->emps[s->n++];
		memset(e, 0, sizeof *e);
		e->id = sqlite3_column_int64(q, 0);
		e->uid = (uid_t)sqlite3_column_int64(q, 1);
		db_column_text(q, 2, e->login, sizeof e->login);
		db_column_text(q, 3, e->name, sizeof e->name);
		db_column_text(q, 4, e->department, sizeof e->department);
		db_column_text(q, 5, e->post, sizeof e->post);
		db_column_text(q, 6, e->staff_type, sizeof e->staff_type);
		db_column_text(q, 7, e->organisation, sizeof e->organisation);
		db_column_text(q, 8, e->end_date, sizeof e->end_date);
		e->is_head = sqlite3_column_int(q, 9) != 0;
		db_column_text(q, 10, e->group_role, sizeof e->group_role);
		e->departed = sqlite3_column_int(q, 11) != 0;
	}
	if (!err && rc != SQLITE_DONE)
		err = db_map_rc(db_conn(q), rc, "load employees");
	db_done(q);
	if (err)
		goto out;

	if (!(q = db_stmt(db, history ? &sql_all_grants_h : &sql_all_grants, &err)))
		goto out;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct employee *e = by_id(s, sqlite3_column_int64(q, 1));
		if (!e)
			continue;
		void *p = realloc(e->grants, (e->ngrants + 1) * sizeof *e->grants);
		if (!p) {
			err = ENOMEM;
			break;
		}
		e->grants = p;
		struct grant *g = &e->grants[e->ngrants++];
		memset(g, 0, sizeof *g);
		g->id = sqlite3_column_int64(q, 0);
		db_column_text(q, 2, g->role, sizeof g->role);
		g->scoped = sqlite3_column_int(q, 3) != 0;
		db_column_text(q, 4, g->end_date, sizeof g->end_date);
		g->status = parse_status((const char *)sqlite3_column_text(q, 5));
		g->created_ns = sqlite3_column_int64(q, 6);
		g->created_uid = (uid_t)sqlite3_column_int64(q, 7);
		db_column_text(q, 8, g->note, sizeof g->note);
		if (history)
			g->ended_ns = sqlite3_column_int64(q, 9);
	}
	if (!err && rc != SQLITE_DONE)
		err = db_map_rc(db_conn(q), rc, "load grants");
	db_done(q);
	if (err)
		goto out;

	if (!(q = db_stmt(db, history ? &sql_all_scopes_h : &sql_all_scopes, &err)))
		goto out;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct grant *g = grant_by_id(s, sqlite3_column_int64(q, 0));
		if (!g)
			continue;
		void *p = realloc(g->customers, (g->ncustomers + 1) * sizeof *g->customers);
		if (!p) {
			err = ENOMEM;
			break;
		}
		g->customers = p;
		g->customers[g->ncustomers++] = sqlite3_column_int64(q, 1); /* ordered by SQL */
	}
	if (!err && rc != SQLITE_DONE)
		err = db_map_rc(db_conn(q), rc, "load grant scopes");
	db_done(q);
	if (err)
		goto out;

	if (!(q = db_stmt(db, history ? &sql_all_checkouts_h : &sql_all_checkouts, &err)))
		goto out;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct employee *e = by_id(s, sqlite3_column_int64(q, 1));
		if (!e)
			continue;
		void *p = realloc(e->checkouts, (e->ncheckouts + 1) * sizeof *e->checkouts);
		if (!p) {
			err = ENOMEM;
			break;
		}
		e->checkouts = p;
		read_checkout(q, &e->checkouts[e->ncheckouts++]);
	}
	if (!err && rc != SQLITE_DONE)
		err = db_map_rc(db_conn(q), rc, "load checkouts");
	db_done(q);
out:
	db_read_end(db);
	if (!err)
		check_identities(s);
	if (err)
		goto fail;
	*out = s;
	return 0;
fail:
	staff_free(s);
	return err;
}

/* ---- the per-thread snapshot ---- */

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_free(void *p)
{
	staff_free(p);
}

static void tls_init(void)
{
	pthread_key_create(&tls_key, tls_free);
}

const struct staff *staff_current(struct db *db, uint64_t epoch, int *err)
{
	pthread_once(&tls_once, tls_init);
	struct staff *s = pthread_getspecific(tls_key);
	int64_t now = clock_mono_ms();
	*err = 0;
	if (s && epoch && s->epoch == epoch && now - s->checked_ms < STAFF_RECHECK_MS)
		return s;
	int64_t gen = generation(db, err);
	if (*err)
		return NULL; /* fail closed: callers deny */
	if (!s || s->generation != gen || s->passwd_stamp != staff_passwd_stamp()) {
		struct staff *fresh = NULL;
		*err = staff_load(db, &fresh);
		if (*err)
			return NULL;
		staff_free(s);
		pthread_setspecific(tls_key, fresh);
		s = fresh;
	}
	s->epoch = epoch;
	s->checked_ms = now;
	return s;
}

const struct employee *staff_by_uid(const struct staff *s, uid_t uid)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->emps[mid].uid == uid)
			return &s->emps[mid];
		if (s->emps[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct employee *staff_by_login(const struct staff *s, const char *login)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->emps[i].login, login) == 0)
			return &s->emps[i];
	return NULL;
}

bool grant_covers(const struct grant *g, int64_t customer_id)
{
	if (!g->scoped)
		return true;
	size_t lo = 0, hi = g->ncustomers;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (g->customers[mid] == customer_id)
			return true;
		if (g->customers[mid] < customer_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* ---- changes ---- */

static int bump(struct db *db)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &sql_bump, &err);
	if (!s)
		return err;
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = db_map_rc(db_conn(s), rc, "bump ACL generation");
	db_done(s);
	return err;
}

int staff_employee_add(struct db *db, const struct employee *e, int64_t *id)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &sql_employee_insert, &err);
	if (!s)
		return err;
	sqlite3_bind_text(s, 1, e->login, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)e->uid);
	sqlite3_bind_text(s, 3, e->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, e->department, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, e->post, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, e->staff_type, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, e->organisation, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, e->end_date, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 9, e->is_head);
	sqlite3_bind_text(s, 10, e->group_role[0] ? e->group_role : "none", -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 11, e->departed);
	sqlite3_bind_int64(s, 12, clock_now_ns());
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		*id = sqlite3_last_insert_rowid(db_conn(s));
	else
		err = db_map_rc(db_conn(s), rc, "add employee");
	db_done(s);
	return err ? err : bump(db);
}

int staff_employee_update(struct db *db, const struct employee *e)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &sql_employee_update, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, e->id);
	sqlite3_bind_text(s, 2, e->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, e->department, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, e->post, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, e->staff_type, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, e->organisation, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, e->end_date, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 8, e->is_head);
	sqlite3_bind_text(s, 9, e->group_role[0] ? e->group_role : "none", -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 10, e->departed);
	sqlite3_bind_int64(s, 11, clock_now_ns());
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = db_map_rc(db_conn(s), rc, "update employee");
	else if (sqlite3_changes(db_conn(s)) != 1)
		err = ENOENT;
	db_done(s);
	return err ? err : bump(db);
}

int staff_grants_suspend_all(struct db *db, int64_t employee_id, uid_t by, int *n)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &sql_grants_suspend, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, employee_id);
	sqlite3_bind_int64(s, 2, clock_now_ns());
	sqlite3_bind_int64(s, 3, (int64_t)by);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = db_map_rc(db_conn(s), rc, "suspend grants");
	else
		*n = sqlite3_changes(db_conn(s));
	db_done(s);
	return err ? err : bump(db);
}

int staff_grant_add(struct db *db, int64_t employee_id, const struct grant *g, uid_t by,
		    int64_t *id)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &sql_grant_insert, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, employee_id);
	sqlite3_bind_text(s, 2, g->role, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, g->scoped);
	sqlite3_bind_text(s, 4, g->end_date, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, clock_now_ns());
	sqlite3_bind_int64(s, 6, (int64_t)by);
	sqlite3_bind_text(s, 7, g->note, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, g->application_id ? "application" : "break-glass", -1,
			  SQLITE_STATIC);
	sqlite3_bind_int64(s, 9, g->application_id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		*id = sqlite3_last_insert_rowid(db_conn(s));
	else
		err = db_map_rc(db_conn(s), rc, "add grant");
	db_done(s);
	for (size_t i = 0; !err && i < g->ncustomers; i++) {
		s = db_stmt(db, &sql_grant_scope, &err);
		if (!s)
			break;
		sqlite3_bind_int64(s, 1, *id);
		sqlite3_bind_int64(s, 2, g->customers[i]);
		rc = sqlite3_step(s);
		if (rc != SQLITE_DONE && (rc & 0xff) != SQLITE_CONSTRAINT) /* duplicates: once */
			err = db_map_rc(db_conn(s), rc, "add grant scope");
		db_done(s);
	}
	return err ? err : bump(db);
}

int staff_grant_end(struct db *db, int64_t grant_id, enum grant_status status, uid_t by)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &sql_grant_end, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, grant_id);
	sqlite3_bind_text(s, 2, grant_status_name(status), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, clock_now_ns());
	sqlite3_bind_int64(s, 4, (int64_t)by);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = db_map_rc(db_conn(s), rc, "end grant");
	else if (sqlite3_changes(db_conn(s)) != 1)
		err = ENOENT;
	db_done(s);
	return err ? err : bump(db);
}

int staff_grants_list(struct db *db, int64_t employee_id,
		      int (*fn)(void *ctx, int64_t employee_id, const struct grant *g), void *ctx)
{
	int err = 0, rc;
	sqlite3_stmt *q = db_stmt(db, &sql_grants_list, &err);
	if (!q)
		return err;
	sqlite3_bind_int64(q, 1, employee_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct grant g;
		memset(&g, 0, sizeof g);
		g.id = sqlite3_column_int64(q, 0);
		int64_t emp = sqlite3_column_int64(q, 1);
		db_column_text(q, 2, g.role, sizeof g.role);
		g.scoped = sqlite3_column_int(q, 3) != 0;
		db_column_text(q, 4, g.end_date, sizeof g.end_date);
		g.status = parse_status((const char *)sqlite3_column_text(q, 5));
		g.created_ns = sqlite3_column_int64(q, 6);
		g.created_uid = (uid_t)sqlite3_column_int64(q, 7);
		db_column_text(q, 8, g.note, sizeof g.note);
		g.application_id = sqlite3_column_int64(q, 9);
		sqlite3_stmt *c = db_stmt(db, &sql_grant_customers, &err);
		if (!c)
			break;
		sqlite3_bind_int64(c, 1, g.id);
		while ((rc = sqlite3_step(c)) == SQLITE_ROW) {
			void *p = realloc(g.customers, (g.ncustomers + 1) * sizeof *g.customers);
			if (!p) {
				err = ENOMEM;
				break;
			}
			g.customers = p;
			g.customers[g.ncustomers++] = sqlite3_column_int64(c, 0);
		}
		db_done(c);
		int stop = err ? 1 : fn(ctx, emp, &g);
		free(g.customers);
		if (stop)
			break;
	}
	db_done(q);
	return err;
}

/* ---- checkouts ---- */

static struct db_sql sql_co_insert = DB_SQL("INSERT INTO checkouts(employee_id, customer_id, class, field, purpose, status, "
	"requested_ns, duration_s, expires_ns) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
static struct db_sql sql_co_get = DB_SQL("SELECT id, employee_id, customer_id, class, field, purpose, status, requested_ns, "
	"duration_s, expires_ns, approved_by, ended_ns FROM checkouts WHERE id=?1");
static struct db_sql sql_co_list = DB_SQL("SELECT id, employee_id, customer_id, class, field, purpose, status, requested_ns, "
	"duration_s, expires_ns, approved_by, ended_ns FROM checkouts "
	"WHERE ?1 = 0 OR employee_id = ?1 ORDER BY id DESC LIMIT 1000");
static struct db_sql sql_co_open = DB_SQL("UPDATE checkouts SET status='open', approved_by=?3, expires_ns=?4 "
	"WHERE id=?1 AND status=?2");
static struct db_sql sql_co_end = DB_SQL("UPDATE checkouts SET status=?3, ended_ns=?5, ended_by=?4 WHERE id=?1 AND status=?2");
static struct db_sql sql_co_end_all = DB_SQL("UPDATE checkouts SET status='revoked', ended_ns=?2 "
	"WHERE employee_id=?1 AND status IN ('open', 'pending')");
static struct db_sql sql_co_due = DB_SQL("SELECT id, employee_id, customer_id, class, field, purpose, status, requested_ns, "
	"duration_s, expires_ns, approved_by, ended_ns FROM checkouts "
	"WHERE status='open' AND expires_ns <= ?1");
static struct db_sql sql_co_expire = DB_SQL("UPDATE checkouts SET status='expired', ended_ns=expires_ns WHERE id=?1 AND status='open'");

int staff_checkout_add(struct db *db, const struct checkout *c, int64_t *id)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &sql_co_insert, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, c->employee_id);
	sqlite3_bind_int64(s, 2, c->customer_id);
	sqlite3_bind_text(s, 3, c->cls, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, c->field, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, c->purpose, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, co_names[c->status], -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, clock_now_ns());
	sqlite3_bind_int64(s, 8, c->duration_s);
	sqlite3_bind_int64(s, 9, c->expires_ns);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		*id = sqlite3_last_insert_rowid(db_conn(s));
	else
		err = db_map_rc(db_conn(s), rc, "add checkout");
	db_done(s);
	return err ? err : bump(db);
}

int staff_checkout_get(struct db *db, int64_t id, struct checkout *out)
{
	int err = 0;
	sqlite3_stmt *q = db_stmt(db, &sql_co_get, &err);
	if (!q)
		return err;
	sqlite3_bind_int64(q, 1, id);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		read_checkout(q, out);
	else
		err = rc == SQLITE_DONE ? ENOENT : db_map_rc(db_conn(q), rc, "read checkout");
	db_done(q);
	return err;
}

int staff_checkout_step(struct db *db, int64_t id, enum checkout_status from,
			enum checkout_status to, int64_t by, int64_t expires_ns)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, to == CO_OPEN ? &sql_co_open : &sql_co_end, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, co_names[from], -1, SQLITE_STATIC);
	if (to == CO_OPEN) {
		sqlite3_bind_int64(s, 3, by);
		sqlite3_bind_int64(s, 4, expires_ns);
	} else {
		sqlite3_bind_text(s, 3, co_names[to], -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, by);
		sqlite3_bind_int64(s, 5, clock_now_ns());
	}
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = db_map_rc(db_conn(s), rc, "update checkout");
	else if (sqlite3_changes(db_conn(s)) != 1)
		err = ESTALE;
	db_done(s);
	return err ? err : bump(db);
}

int staff_checkouts_end_all(struct db *db, int64_t employee_id, int *n)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &sql_co_end_all, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, employee_id);
	sqlite3_bind_int64(s, 2, clock_now_ns());
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = db_map_rc(db_conn(s), rc, "end checkouts");
	else
		*n = sqlite3_changes(db_conn(s));
	db_done(s);
	return err ? err : bump(db);
}

int staff_checkouts_list(struct db *db, int64_t employee_id,
			 int (*fn)(void *ctx, const struct checkout *c), void *ctx)
{
	int err = 0, rc;
	sqlite3_stmt *q = db_stmt(db, &sql_co_list, &err);
	if (!q)
		return err;
	sqlite3_bind_int64(q, 1, employee_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct checkout c;
		read_checkout(q, &c);
		if (fn(ctx, &c))
			break;
	}
	db_done(q);
	return err;
}

int staff_checkouts_expire(struct db *db, int64_t now, void (*fn)(void *ctx,
			   const struct checkout *c), void *ctx)
{
	int err = 0, rc;
	struct checkout due[64];
	int n = 0;
	sqlite3_stmt *q = db_stmt(db, &sql_co_due, &err);
	if (!q)
		return err;
	sqlite3_bind_int64(q, 1, now);
	while (n < 64 && (rc = sqlite3_step(q)) == SQLITE_ROW)
		read_checkout(q, &due[n++]);
	db_done(q);
	for (int i = 0; i < n; i++) {
		sqlite3_stmt *u = db_stmt(db, &sql_co_expire, &err);
		if (!u)
			return err;
		sqlite3_bind_int64(u, 1, due[i].id);
		rc = sqlite3_step(u);
		db_done(u);
		if (rc == SQLITE_DONE && sqlite3_changes(db_conn(u)) == 1 && fn)
			fn(ctx, &due[i]);
	}
	return n ? bump(db) : 0;
}
