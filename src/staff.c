#include "staff.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "log.h"
#include "store_internal.h"

static const char sql_generation[] = "SELECT value FROM meta WHERE key='acl_gen'";
static const char sql_bump[] =
	"INSERT INTO meta(key, value) VALUES('acl_gen', 1) "
	"ON CONFLICT(key) DO UPDATE SET value = value + 1";
static const char sql_all_employees[] =
	"SELECT id, uid, login, name, department, post, staff_type, organisation, end_date, "
	"is_head, group_role, departed FROM employees ORDER BY uid";
static const char sql_all_grants[] =
	"SELECT id, employee_id, role, scoped, end_date, status, created_ns, created_uid, note "
	"FROM grants WHERE status = 'active' ORDER BY employee_id, id";
static const char sql_all_scopes[] =
	"SELECT gc.grant_id, gc.customer_id FROM grant_customers gc "
	"JOIN grants g ON g.id = gc.grant_id WHERE g.status = 'active' "
	"ORDER BY gc.grant_id, gc.customer_id";
static const char sql_all_checkouts[] =
	"SELECT id, employee_id, customer_id, class, field, purpose, status, requested_ns, "
	"duration_s, expires_ns, approved_by, ended_ns FROM checkouts "
	"WHERE status IN ('open', 'pending') ORDER BY employee_id, id";
static const char sql_employee_insert[] =
	"INSERT INTO employees(login, uid, name, department, post, staff_type, organisation, "
	"end_date, is_head, group_role, departed, created_ns, updated_ns) "
	"VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)";
static const char sql_employee_update[] =
	"UPDATE employees SET name=?2, department=?3, post=?4, staff_type=?5, organisation=?6, "
	"end_date=?7, is_head=?8, group_role=?9, departed=?10, updated_ns=?11 WHERE id=?1";
static const char sql_grants_suspend[] =
	"UPDATE grants SET status='suspended', ended_ns=?2, ended_uid=?3 "
	"WHERE employee_id=?1 AND status='active'";
static const char sql_grant_insert[] =
	"INSERT INTO grants(employee_id, role, scoped, end_date, status, created_ns, created_uid, "
	"note, origin, application_id) VALUES(?1, ?2, ?3, ?4, 'active', ?5, ?6, ?7, ?8, ?9)";
static const char sql_grant_scope[] =
	"INSERT INTO grant_customers(grant_id, customer_id) VALUES(?1, ?2)";
static const char sql_grant_end[] =
	"UPDATE grants SET status=?2, ended_ns=?3, ended_uid=?4 WHERE id=?1 AND status='active'";

static const char sql_grants_list[] =
	"SELECT id, employee_id, role, scoped, end_date, status, created_ns, created_uid, note, "
	"application_id FROM grants WHERE ?1 = 0 OR employee_id = ?1 ORDER BY id";
static const char sql_grant_customers[] =
	"SELECT customer_id FROM grant_customers WHERE grant_id=?1 ORDER BY customer_id";

const char *grant_status_name(enum grant_status s)
{
	switch (s) {
	case GRANT_ACTIVE:
		return "active";
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

void staff_today(char out[DATE_LEN])
{
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(out, DATE_LEN, "%Y-%m-%d", &tm);
}

bool staff_date_ok(const char *s)
{
	return value_format_problem(FORMAT_DATE, s, strlen(s)) == NULL && strlen(s) == 10;
}

static void text(char *dst, size_t cap, sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static int64_t generation(struct store *st, int *err)
{
	sqlite3 *db;
	sqlite3_stmt *s = store_prepare(st, sql_generation, &db, err);
	if (!s)
		return -1;
	int64_t gen = 0;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		gen = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE)
		*err = store_map_rc(db, rc, "read ACL generation");
	store_done(s);
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

static const char *const co_names[] = { "pending", "open", "returned", "expired", "denied",
					"revoked" };

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
	text(c->cls, sizeof c->cls, q, 3);
	text(c->field, sizeof c->field, q, 4);
	text(c->purpose, sizeof c->purpose, q, 5);
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

int staff_load(struct store *st, struct staff **out)
{
	struct staff *s = calloc(1, sizeof *s);
	sqlite3 *db;
	sqlite3_stmt *q;
	size_t cap = 0;
	int err = 0, rc;

	if (!s)
		return ENOMEM;
	/* One read transaction: employees, grants and scopes of one moment (or the
	 * caller's own transaction, if it holds one). */
	sqlite3_stmt *b = store_prepare(st, "BEGIN", &db, &err);
	if (!b)
		goto fail;
	bool own_txn = sqlite3_get_autocommit(db) != 0;
	if (own_txn)
		sqlite3_step(b);
	store_done(b);
	s->generation = generation(st, &err);
	if (err)
		goto out;

	if (!(q = store_prepare(st, sql_all_employees, &db, &err)))
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
		text(e->login, sizeof e->login, q, 2);
		text(e->name, sizeof e->name, q, 3);
		text(e->department, sizeof e->department, q, 4);
		text(e->post, sizeof e->post, q, 5);
		text(e->staff_type, sizeof e->staff_type, q, 6);
		text(e->organisation, sizeof e->organisation, q, 7);
		text(e->end_date, sizeof e->end_date, q, 8);
		e->is_head = sqlite3_column_int(q, 9) != 0;
		text(e->group_role, sizeof e->group_role, q, 10);
		e->departed = sqlite3_column_int(q, 11) != 0;
	}
	if (!err && rc != SQLITE_DONE)
		err = store_map_rc(db, rc, "load employees");
	store_done(q);
	if (err)
		goto out;

	if (!(q = store_prepare(st, sql_all_grants, &db, &err)))
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
		text(g->role, sizeof g->role, q, 2);
		g->scoped = sqlite3_column_int(q, 3) != 0;
		text(g->end_date, sizeof g->end_date, q, 4);
		g->status = parse_status((const char *)sqlite3_column_text(q, 5));
		g->created_ns = sqlite3_column_int64(q, 6);
		g->created_uid = (uid_t)sqlite3_column_int64(q, 7);
		text(g->note, sizeof g->note, q, 8);
	}
	if (!err && rc != SQLITE_DONE)
		err = store_map_rc(db, rc, "load grants");
	store_done(q);
	if (err)
		goto out;

	if (!(q = store_prepare(st, sql_all_scopes, &db, &err)))
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
		err = store_map_rc(db, rc, "load grant scopes");
	store_done(q);
	if (err)
		goto out;

	if (!(q = store_prepare(st, sql_all_checkouts, &db, &err)))
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
		err = store_map_rc(db, rc, "load checkouts");
	store_done(q);
out:
	b = own_txn ? store_prepare(st, "COMMIT", &db, &rc) : NULL;
	if (b) {
		sqlite3_step(b);
		store_done(b);
	}
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

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const struct staff *staff_current(struct store *st, uint64_t epoch, int *err)
{
	pthread_once(&tls_once, tls_init);
	struct staff *s = pthread_getspecific(tls_key);
	int64_t now = monotonic_ms();
	*err = 0;
	if (s && epoch && s->epoch == epoch && now - s->checked_ms < STAFF_RECHECK_MS)
		return s;
	int64_t gen = generation(st, err);
	if (*err)
		return NULL; /* fail closed: callers deny */
	if (!s || s->generation != gen) {
		struct staff *fresh = NULL;
		*err = staff_load(st, &fresh);
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

static int bump(struct store *st)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = store_prepare(st, sql_bump, &db, &err);
	if (!s)
		return err;
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = store_map_rc(db, rc, "bump ACL generation");
	store_done(s);
	return err;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int staff_employee_add(struct store *st, const struct employee *e, int64_t *id)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = store_prepare(st, sql_employee_insert, &db, &err);
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
	sqlite3_bind_int64(s, 12, now_ns());
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		*id = sqlite3_last_insert_rowid(db);
	else
		err = store_map_rc(db, rc, "add employee");
	store_done(s);
	return err ? err : bump(st);
}

int staff_employee_update(struct store *st, const struct employee *e)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = store_prepare(st, sql_employee_update, &db, &err);
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
	sqlite3_bind_int64(s, 11, now_ns());
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = store_map_rc(db, rc, "update employee");
	else if (sqlite3_changes(db) != 1)
		err = ENOENT;
	store_done(s);
	return err ? err : bump(st);
}

int staff_grants_suspend_all(struct store *st, int64_t employee_id, uid_t by, int *n)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = store_prepare(st, sql_grants_suspend, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, employee_id);
	sqlite3_bind_int64(s, 2, now_ns());
	sqlite3_bind_int64(s, 3, (int64_t)by);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = store_map_rc(db, rc, "suspend grants");
	else
		*n = sqlite3_changes(db);
	store_done(s);
	return err ? err : bump(st);
}

int staff_grant_add(struct store *st, int64_t employee_id, const struct grant *g, uid_t by,
		    int64_t *id)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = store_prepare(st, sql_grant_insert, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, employee_id);
	sqlite3_bind_text(s, 2, g->role, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, g->scoped);
	sqlite3_bind_text(s, 4, g->end_date, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, now_ns());
	sqlite3_bind_int64(s, 6, (int64_t)by);
	sqlite3_bind_text(s, 7, g->note, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, g->application_id ? "application" : "break-glass", -1,
			  SQLITE_STATIC);
	sqlite3_bind_int64(s, 9, g->application_id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		*id = sqlite3_last_insert_rowid(db);
	else
		err = store_map_rc(db, rc, "add grant");
	store_done(s);
	for (size_t i = 0; !err && i < g->ncustomers; i++) {
		s = store_prepare(st, sql_grant_scope, &db, &err);
		if (!s)
			break;
		sqlite3_bind_int64(s, 1, *id);
		sqlite3_bind_int64(s, 2, g->customers[i]);
		rc = sqlite3_step(s);
		if (rc != SQLITE_DONE && (rc & 0xff) != SQLITE_CONSTRAINT) /* duplicates: once */
			err = store_map_rc(db, rc, "add grant scope");
		store_done(s);
	}
	return err ? err : bump(st);
}

int staff_grant_end(struct store *st, int64_t grant_id, enum grant_status status, uid_t by)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = store_prepare(st, sql_grant_end, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, grant_id);
	sqlite3_bind_text(s, 2, grant_status_name(status), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now_ns());
	sqlite3_bind_int64(s, 4, (int64_t)by);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = store_map_rc(db, rc, "end grant");
	else if (sqlite3_changes(db) != 1)
		err = ENOENT;
	store_done(s);
	return err ? err : bump(st);
}

int staff_grants_list(struct store *st, int64_t employee_id,
		      int (*fn)(void *ctx, int64_t employee_id, const struct grant *g), void *ctx)
{
	sqlite3 *db;
	int err = 0, rc;
	sqlite3_stmt *q = store_prepare(st, sql_grants_list, &db, &err);
	if (!q)
		return err;
	sqlite3_bind_int64(q, 1, employee_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct grant g;
		memset(&g, 0, sizeof g);
		g.id = sqlite3_column_int64(q, 0);
		int64_t emp = sqlite3_column_int64(q, 1);
		text(g.role, sizeof g.role, q, 2);
		g.scoped = sqlite3_column_int(q, 3) != 0;
		text(g.end_date, sizeof g.end_date, q, 4);
		g.status = parse_status((const char *)sqlite3_column_text(q, 5));
		g.created_ns = sqlite3_column_int64(q, 6);
		g.created_uid = (uid_t)sqlite3_column_int64(q, 7);
		text(g.note, sizeof g.note, q, 8);
		g.application_id = sqlite3_column_int64(q, 9);
		sqlite3_stmt *c = store_prepare(st, sql_grant_customers, &db, &err);
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
		store_done(c);
		int stop = err ? 1 : fn(ctx, emp, &g);
		free(g.customers);
		if (stop)
			break;
	}
	store_done(q);
	return err;
}

/* ---- checkouts ---- */

static const char sql_co_insert[] =
	"INSERT INTO checkouts(employee_id, customer_id, class, field, purpose, status, "
	"requested_ns, duration_s, expires_ns) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char sql_co_get[] =
	"SELECT id, employee_id, customer_id, class, field, purpose, status, requested_ns, "
	"duration_s, expires_ns, approved_by, ended_ns FROM checkouts WHERE id=?1";
static const char sql_co_list[] =
	"SELECT id, employee_id, customer_id, class, field, purpose, status, requested_ns, "
	"duration_s, expires_ns, approved_by, ended_ns FROM checkouts "
	"WHERE ?1 = 0 OR employee_id = ?1 ORDER BY id DESC LIMIT 1000";
static const char sql_co_open[] =
	"UPDATE checkouts SET status='open', approved_by=?3, expires_ns=?4 "
	"WHERE id=?1 AND status=?2";
static const char sql_co_end[] =
	"UPDATE checkouts SET status=?3, ended_ns=?5, ended_by=?4 WHERE id=?1 AND status=?2";
static const char sql_co_end_all[] =
	"UPDATE checkouts SET status='revoked', ended_ns=?2 "
	"WHERE employee_id=?1 AND status IN ('open', 'pending')";
static const char sql_co_due[] =
	"SELECT id, employee_id, customer_id, class, field, purpose, status, requested_ns, "
	"duration_s, expires_ns, approved_by, ended_ns FROM checkouts "
	"WHERE status='open' AND expires_ns <= ?1";
static const char sql_co_expire[] =
	"UPDATE checkouts SET status='expired', ended_ns=expires_ns WHERE id=?1 AND status='open'";

int staff_checkout_add(struct store *st, const struct checkout *c, int64_t *id)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = store_prepare(st, sql_co_insert, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, c->employee_id);
	sqlite3_bind_int64(s, 2, c->customer_id);
	sqlite3_bind_text(s, 3, c->cls, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, c->field, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, c->purpose, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, co_names[c->status], -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, now_ns());
	sqlite3_bind_int64(s, 8, c->duration_s);
	sqlite3_bind_int64(s, 9, c->expires_ns);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		*id = sqlite3_last_insert_rowid(db);
	else
		err = store_map_rc(db, rc, "add checkout");
	store_done(s);
	return err ? err : bump(st);
}

int staff_checkout_get(struct store *st, int64_t id, struct checkout *out)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *q = store_prepare(st, sql_co_get, &db, &err);
	if (!q)
		return err;
	sqlite3_bind_int64(q, 1, id);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		read_checkout(q, out);
	else
		err = rc == SQLITE_DONE ? ENOENT : store_map_rc(db, rc, "read checkout");
	store_done(q);
	return err;
}

int staff_checkout_step(struct store *st, int64_t id, enum checkout_status from,
			enum checkout_status to, int64_t by, int64_t expires_ns)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = store_prepare(st, to == CO_OPEN ? sql_co_open : sql_co_end, &db, &err);
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
		sqlite3_bind_int64(s, 5, now_ns());
	}
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = store_map_rc(db, rc, "update checkout");
	else if (sqlite3_changes(db) != 1)
		err = ESTALE;
	store_done(s);
	return err ? err : bump(st);
}

int staff_checkouts_end_all(struct store *st, int64_t employee_id, int *n)
{
	sqlite3 *db;
	int err = 0;
	sqlite3_stmt *s = store_prepare(st, sql_co_end_all, &db, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, employee_id);
	sqlite3_bind_int64(s, 2, now_ns());
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = store_map_rc(db, rc, "end checkouts");
	else
		*n = sqlite3_changes(db);
	store_done(s);
	return err ? err : bump(st);
}

int staff_checkouts_list(struct store *st, int64_t employee_id,
			 int (*fn)(void *ctx, const struct checkout *c), void *ctx)
{
	sqlite3 *db;
	int err = 0, rc;
	sqlite3_stmt *q = store_prepare(st, sql_co_list, &db, &err);
	if (!q)
		return err;
	sqlite3_bind_int64(q, 1, employee_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct checkout c;
		read_checkout(q, &c);
		if (fn(ctx, &c))
			break;
	}
	store_done(q);
	return err;
}

int staff_checkouts_expire(struct store *st, int64_t now, void (*fn)(void *ctx,
			   const struct checkout *c), void *ctx)
{
	sqlite3 *db;
	int err = 0, rc;
	struct checkout due[64];
	int n = 0;
	sqlite3_stmt *q = store_prepare(st, sql_co_due, &db, &err);
	if (!q)
		return err;
	sqlite3_bind_int64(q, 1, now);
	while (n < 64 && (rc = sqlite3_step(q)) == SQLITE_ROW)
		read_checkout(q, &due[n++]);
	store_done(q);
	for (int i = 0; i < n; i++) {
		sqlite3_stmt *u = store_prepare(st, sql_co_expire, &db, &err);
		if (!u)
			return err;
		sqlite3_bind_int64(u, 1, due[i].id);
		rc = sqlite3_step(u);
		store_done(u);
		if (rc == SQLITE_DONE && sqlite3_changes(db) == 1 && fn)
			fn(ctx, &due[i]);
	}
	return n ? bump(st) : 0;
}
