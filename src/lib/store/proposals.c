#include "proposals.h"
#include "i18n.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db_internal.h"

static const char *const names[] = { N_("proposed"), N_("approved"), N_("installed"), N_("withdrawn"),
				     N_("rejected") };

const char *proposal_status_name(enum proposal_status s)
{
	return names[s];
}

int proposal_schema(struct db *db)
{
	return db_script(db,
			 "CREATE TABLE IF NOT EXISTS policy_proposals("
			 "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
			 "  reason TEXT NOT NULL, status TEXT NOT NULL, hash TEXT NOT NULL,"
			 "  filed_by INTEGER NOT NULL, filed_ns INTEGER NOT NULL,"
			 "  approved_by INTEGER NOT NULL DEFAULT 0, approved_ns INTEGER NOT NULL DEFAULT 0,"
			 "  installed_by INTEGER NOT NULL DEFAULT 0, installed_ns INTEGER NOT NULL DEFAULT 0,"
			 "  summary TEXT NOT NULL DEFAULT '');"
			 "CREATE TABLE IF NOT EXISTS policy_files("
			 "  proposal_id INTEGER NOT NULL REFERENCES policy_proposals(id),"
			 "  name TEXT NOT NULL, text TEXT NOT NULL,"
			 "  PRIMARY KEY(proposal_id, name)) WITHOUT ROWID;",
			 "create the policy proposals' tables");
}

#define COLS "id, reason, status, hash, filed_by, filed_ns, approved_by, approved_ns, " \
	     "installed_by, installed_ns, summary"
static struct db_sql q_add = DB_SQL(
	"INSERT INTO policy_proposals(reason, status, hash, filed_by, filed_ns, installed_by, "
	"installed_ns) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
static struct db_sql q_file = DB_SQL(
	"INSERT INTO policy_files(proposal_id, name, text) VALUES(?1, ?2, ?3)");
static struct db_sql q_get = DB_SQL("SELECT " COLS " FROM policy_proposals WHERE id=?1");
static struct db_sql q_all = DB_SQL("SELECT " COLS " FROM policy_proposals ORDER BY id");
static struct db_sql q_files = DB_SQL(
	"SELECT name, text FROM policy_files WHERE proposal_id=?1 ORDER BY name");
static struct db_sql q_approve = DB_SQL(
	"UPDATE policy_proposals SET status=?3, approved_by=?4, approved_ns=?5 "
	"WHERE id=?1 AND status=?2");
static struct db_sql q_install = DB_SQL(
	"UPDATE policy_proposals SET status=?3, installed_by=?4, installed_ns=?5 "
	"WHERE id=?1 AND status=?2");
static struct db_sql q_summary = DB_SQL("UPDATE policy_proposals SET summary=?2 WHERE id=?1");
static struct db_sql q_other = DB_SQL(
	"UPDATE policy_proposals SET status=?3 WHERE id=?1 AND status=?2");

int proposal_add(struct db *db, const struct proposal *p, int64_t *id)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_add, &err);
	if (!s)
		return err;
	int64_t now = clock_now_ns();
	sqlite3_bind_text(s, 1, p->reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, names[p->status], -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, p->hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, p->filed_by);
	sqlite3_bind_int64(s, 5, now);
	sqlite3_bind_int64(s, 6, p->installed_by);
	sqlite3_bind_int64(s, 7, p->status == PROP_INSTALLED ? now : 0);
	if ((err = db_step_done(s, "file a policy proposal")))
		return err;
	*id = sqlite3_last_insert_rowid(db_conn(s));
	for (size_t i = 0; i < p->nfiles; i++) {
		if (!(s = db_stmt(db, &q_file, &err)))
			return err;
		sqlite3_bind_int64(s, 1, *id);
		sqlite3_bind_text(s, 2, p->name[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, p->text[i], -1, SQLITE_STATIC);
		if ((err = db_step_done(s, "store a proposed policy file")))
			return err;
	}
	return 0;
}

static void read_row(sqlite3_stmt *q, struct proposal *p)
{
	memset(p, 0, sizeof *p);
	p->id = sqlite3_column_int64(q, 0);
	db_column_text(q, 1, p->reason, sizeof p->reason);
	const unsigned char *st = sqlite3_column_text(q, 2);
	for (int i = 0; st && i < 5; i++)
		if (!strcmp((const char *)st, names[i]))
			p->status = (enum proposal_status)i;
	db_column_text(q, 3, p->hash, sizeof p->hash);
	p->filed_by = sqlite3_column_int64(q, 4);
	p->filed_ns = sqlite3_column_int64(q, 5);
	p->approved_by = sqlite3_column_int64(q, 6);
	p->approved_ns = sqlite3_column_int64(q, 7);
	p->installed_by = sqlite3_column_int64(q, 8);
	p->installed_ns = sqlite3_column_int64(q, 9);
	db_column_text(q, 10, p->summary, sizeof p->summary);
}

void proposal_clear(struct proposal *p)
{
	for (size_t i = 0; i < p->nfiles; i++) {
		free(p->name[i]);
		free(p->text[i]);
	}
	p->nfiles = 0;
}

int proposal_get(struct db *db, int64_t id, bool with_files, struct proposal *out)
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
		err = rc == SQLITE_DONE ? ENOENT : db_map_rc(db_conn(s), rc, "read a proposal");
	db_done(s);
	if (err || !with_files)
		return err;
	if (!(s = db_stmt(db, &q_files, &err)))
		return err;
	sqlite3_bind_int64(s, 1, id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && out->nfiles < PROPOSAL_FILES) {
		out->name[out->nfiles] = strdup((const char *)sqlite3_column_text(s, 0));
		out->text[out->nfiles] = strdup((const char *)sqlite3_column_text(s, 1));
		if (!out->name[out->nfiles] || !out->text[out->nfiles]) {
			free(out->name[out->nfiles]);
			free(out->text[out->nfiles]);
			err = ENOMEM;
			break;
		}
		out->nfiles++;
	}
	db_done(s);
	if (err)
		proposal_clear(out);
	return err;
}

int proposal_step(struct db *db, int64_t id, enum proposal_status from, enum proposal_status to,
		  int64_t by)
{
	int err = 0;
	/* (back from installed to approved: an install the mounts refused) */
	struct db_sql *q = from == PROP_INSTALLED ? &q_other
			   : to == PROP_APPROVED ? &q_approve
			   : to == PROP_INSTALLED ? &q_install : &q_other;
	sqlite3_stmt *s = db_stmt(db, q, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, names[from], -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, names[to], -1, SQLITE_STATIC);
	if (q != &q_other) {
		sqlite3_bind_int64(s, 4, by);
		sqlite3_bind_int64(s, 5, clock_now_ns());
	}
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = db_map_rc(db_conn(s), rc, "update a proposal");
	else if (sqlite3_changes(db_conn(s)) != 1)
		err = ESTALE;
	db_done(s);
	return err;
}

int proposal_set_summary(struct db *db, int64_t id, const char *summary)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_summary, &err);
	if (!s)
		return err;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, summary, -1, SQLITE_STATIC);
	return db_step_done(s, "keep a proposal's summary");
}

int proposal_list(struct db *db, int (*fn)(void *ctx, const struct proposal *p), void *ctx)
{
	int err = 0, rc;
	sqlite3_stmt *s = db_stmt(db, &q_all, &err);
	if (!s)
		return err;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct proposal p;
		read_row(s, &p);
		if ((err = fn(ctx, &p)))
			break;
	}
	if (!err && rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = db_map_rc(db_conn(s), rc, "list proposals");
	db_done(s);
	return err;
}
