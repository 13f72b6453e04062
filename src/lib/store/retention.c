/* Retention and the store's figures: which old versions the policy lets go
 * (a prune, approved like an erasure, removes them; the current value always
 * stays) and how big the store is and grows. */
#include "retention.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db_internal.h"

/* The versions of fields named in the JSON array ?1 that are neither current,
 * nor among the newest ?2 (0: no such bound), nor newer than ?3 (0: none). */
#define PRUNABLE                                                                            \
	"FROM versions WHERE field_id IN (SELECT id FROM fields WHERE name IN "                 \
	"(SELECT value FROM json_each(?1))) AND version < (SELECT cur_version FROM fields f "   \
	"WHERE f.id = versions.field_id) AND (?2 = 0 OR version <= (SELECT cur_version FROM "   \
	"fields f WHERE f.id = versions.field_id) - ?2) AND (?3 = 0 OR time_ns < ?3)"

static struct db_sql q_count = DB_SQL("SELECT count(*), coalesce(sum(size), 0) " PRUNABLE);
static struct db_sql q_delete = DB_SQL("DELETE " PRUNABLE);

/* CLASS's field names as a JSON array, into OUT. */
static bool names_json(const struct catalog *cat, const struct field_class *cls, char *out,
		       size_t cap)
{
	size_t len = 0;
	bool any = false;
	len += (size_t)snprintf(out, cap, "[");
	for (size_t i = 0; i < cat->nfields && len < cap; i++)
		if (cat->fields[i].cls == cls) {
			/* catalogue names are [a-z0-9_]: nothing to escape */
			len += (size_t)snprintf(out + len, cap - len, "%s\"%s\"", any ? "," : "",
						cat->fields[i].name);
			any = true;
		}
	if (len < cap)
		len += (size_t)snprintf(out + len, cap - len, "]");
	return any && len < cap;
}

static int run_one(struct db *db, struct db_sql *q, const char *names, const struct retention *k,
		   int64_t now_ns, int64_t *count, int64_t *bytes)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, q, &err);
	if (!s)
		return err;
	sqlite3_bind_text(s, 1, names, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, k->versions);
	sqlite3_bind_int64(s, 3, k->days ? now_ns - k->days * 86400LL * 1000000000LL : 0);
	int rc = sqlite3_step(s);
	if (q == &q_count && rc == SQLITE_ROW) {
		*count = sqlite3_column_int64(s, 0);
		*bytes = sqlite3_column_int64(s, 1);
	} else if (q == &q_delete && rc == SQLITE_DONE) {
		*count = sqlite3_changes(db_conn(s));
	} else {
		err = db_map_rc(db_conn(s), rc, "prune");
	}
	db_done(s);
	return err;
}

int retention_prune(struct db *db, const struct policy *p, int64_t now_ns, bool remove,
		    struct prune_counts *out)
{
	char names[8192];
	int err = 0;
	memset(out, 0, sizeof *out);
	/* The append-only trigger stands aside for this one statement only,
	 * inside the caller's transaction. */
	if (remove)
		err = db_script(db, "DROP TRIGGER versions_append_only_d", "prune");
	for (size_t i = 0; !err && i < p->nkeeps && i < PRUNE_MAX_CLASSES; i++) {
		const struct retention *k = &p->keeps[i];
		struct prune_class *c = &out->cls[out->n++];
		snprintf(c->name, sizeof c->name, "%s", k->cls->name);
		if (!names_json(p->cat, k->cls, names, sizeof names))
			continue;
		int64_t bytes = 0;
		err = run_one(db, &q_count, names, k, now_ns, &c->versions, &bytes);
		c->bytes = bytes;
		if (!err && remove)
			err = run_one(db, &q_delete, names, k, now_ns, &c->versions, &bytes);
		out->versions += c->versions;
		out->bytes += c->bytes;
	}
	if (remove && !err)
		err = db_script(db, "CREATE TRIGGER versions_append_only_d BEFORE DELETE ON versions "
				    "  BEGIN SELECT RAISE(ABORT, 'versions are append-only'); END;",
				"prune");
	return err;
}

static struct db_sql q_by_field = DB_SQL(
	"SELECT f.name, count(DISTINCT f.id), count(v.version), coalesce(sum(length(v.sealed)), 0) "
	"FROM fields f LEFT JOIN versions v ON v.field_id = f.id GROUP BY f.name");
static struct db_sql q_customers = DB_SQL(
	"SELECT count(*), coalesce(sum(erased_ns != 0), 0) FROM customers");
static struct db_sql q_per_day = DB_SQL(
	"SELECT count(*) FROM versions WHERE time_ns >= ?1 AND time_ns < ?2");

int store_stats(struct db *db, const struct catalog *cat, int64_t now_ns, struct store_stats *st)
{
	int err = 0, rc;
	memset(st, 0, sizeof *st);
	sqlite3_stmt *s = db_stmt(db, &q_by_field, &err);
	if (!s)
		return err;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const struct field_def *def = catalog_field(cat, (const char *)sqlite3_column_text(s, 0));
		const char *cls = def ? def->cls->name : "(not in the catalogue)";
		struct class_stats *c = NULL;
		for (int i = 0; i < st->nclasses && !c; i++)
			if (!strcmp(st->cls[i].name, cls))
				c = &st->cls[i];
		if (!c && st->nclasses < STATS_MAX_CLASSES) {
			c = &st->cls[st->nclasses++];
			snprintf(c->name, sizeof c->name, "%s", cls);
		}
		if (c) {
			c->fields += sqlite3_column_int64(s, 1);
			c->versions += sqlite3_column_int64(s, 2);
			c->bytes += sqlite3_column_int64(s, 3);
		}
	}
	if (rc != SQLITE_DONE)
		err = db_map_rc(db_conn(s), rc, "store stats");
	db_done(s);
	if (!err && (s = db_stmt(db, &q_customers, &err))) {
		if (sqlite3_step(s) == SQLITE_ROW) {
			st->customers = sqlite3_column_int64(s, 0);
			st->erased = sqlite3_column_int64(s, 1);
		}
		db_done(s);
	}
	const int64_t day = 86400LL * 1000000000LL;
	for (int d = 0; !err && d < STATS_DAYS; d++) {
		if (!(s = db_stmt(db, &q_per_day, &err)))
			break;
		sqlite3_bind_int64(s, 1, now_ns - (d + 1) * day);
		sqlite3_bind_int64(s, 2, now_ns - d * day);
		if (sqlite3_step(s) == SQLITE_ROW)
			st->versions_per_day[d] = sqlite3_column_int64(s, 0);
		db_done(s);
	}
	return err;
}
