/* Unit tests for a read-only request's snapshot (db_read_begin/db_read_end,
 * issue 15): its statements see one moment of the store; it nests; any write
 * ends it first, so a write never fails for having started from an old
 * snapshot, and commits as before. A second connection (another process, as
 * custctl would be) writes between the steps. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "db_internal.h"

static struct db_sql q_count = DB_SQL("SELECT count(*) FROM t");
static struct db_sql q_insert = DB_SQL("INSERT INTO t(x) VALUES(1)");

static long long count(struct db *db)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_count, &err);
	if (!s)
		return -1;
	long long n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
	db_done(s);
	return n;
}

static void other_insert(sqlite3 *other)
{
	CHECK_EQ_INT(sqlite3_exec(other, "INSERT INTO t(x) VALUES(2)", NULL, NULL, NULL),
		     SQLITE_OK);
}

int main(void)
{
	char dir[] = "/tmp/custfs-test-db-XXXXXX";
	char path[64];
	struct db *db = NULL;
	sqlite3 *other = NULL;

	CHECK_NOT_NULL(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/t.db", dir);
	CHECK_EQ_INT(db_open(path, true, "PRAGMA journal_mode=WAL; CREATE TABLE t(x);", &db), 0);
	CHECK_EQ_INT(sqlite3_open(path, &other), SQLITE_OK);
	sqlite3_busy_timeout(other, 5000);

	check_ctx("one snapshot");
	db_read_begin(db);
	CHECK_EQ_INT(count(db), 0);
	other_insert(other);
	CHECK_EQ_INT(count(db), 0); /* the same moment throughout */
	CHECK(!db_in_txn(db));      /* a snapshot is not a write transaction */
	db_read_end(db);
	CHECK_EQ_INT(count(db), 1); /* then the newest */

	check_ctx("nested");
	db_read_begin(db);
	db_read_begin(db);
	CHECK_EQ_INT(count(db), 1);
	db_read_end(db);
	other_insert(other);
	CHECK_EQ_INT(count(db), 1); /* the outer snapshot still holds */
	db_read_end(db);
	CHECK_EQ_INT(count(db), 2);

	check_ctx("a write statement inside a snapshot");
	db_read_begin(db);
	CHECK_EQ_INT(count(db), 2);
	other_insert(other); /* an upgrade of this snapshot would fail: BUSY_SNAPSHOT */
	CHECK_EQ_INT(db_exec(db, &q_insert), 0);
	CHECK_EQ_INT(count(db), 4); /* the snapshot ended before the write */
	db_read_end(db);            /* pairs without harm */
	CHECK_EQ_INT(count(db), 4);

	check_ctx("db_begin inside a snapshot");
	db_read_begin(db);
	CHECK_EQ_INT(count(db), 4);
	other_insert(other);
	CHECK_EQ_INT(db_begin(db, false), 0);
	CHECK(db_in_txn(db));
	CHECK_EQ_INT(db_exec(db, &q_insert), 0);
	CHECK_EQ_INT(db_commit(db), 0);
	db_read_end(db);
	CHECK_EQ_INT(count(db), 6);

	check_ctx("a snapshot inside a write transaction is that transaction");
	CHECK_EQ_INT(db_begin(db, false), 0);
	db_read_begin(db);
	CHECK_EQ_INT(db_exec(db, &q_insert), 0);
	db_read_end(db);
	CHECK(db_in_txn(db)); /* still the writer's, uncommitted */
	db_rollback(db);
	CHECK_EQ_INT(count(db), 6);
	check_ctx("%s", "");

	sqlite3_close(other);
	db_close(db);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return check_done();
}
