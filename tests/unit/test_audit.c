/* Unit tests for the tamper-evident audit log (audit.h): a table of tampered
 * logs and archives, each with the exact verdict audit_verify /
 * audit_verify_archive must give (return value and the first line written
 * to OUT).
 *
 * Every case runs in a fresh temporary directory with a fresh log: 50 records
 * of varied content (some queued with audit_note), signed checkpoints at
 * records 10, 25 and 40, record times T0 + seq seconds. Tampering goes
 * straight at audit.db with sqlite3, the append-only triggers dropped first
 * (as root could), while the log is closed; then the log is opened again
 * and verified.
 *
 * A case may carry .hole: a known hole, with the verdict the fixed code must
 * give; such a case still fails the run (nothing is hidden). None is open. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <sodium.h>
#include <sqlite3.h>

#include "audit.h"
#include "check.h"
#include "crypto.h"

#define NREC 50
#define T0 1700000000000000000LL
#define SEC 1000000000LL
#define ARCH_LAST 30   /* audit_archive(before T0 + 31 s) moves records 1..30 */
#define INTL_NREC 12
#define INTL_ARCH_LAST 8

static const int64_t cp_seqs[] = { 10, 25, 40 };
#define NCP (sizeof cp_seqs / sizeof *cp_seqs)

static unsigned char *master;
static unsigned char store_id[16];

/* Bytes the log keeps of a text column (what read_record copies). */
#define TEXT_CAP sizeof(((struct audit_record *)0)->text[0])

/* ---- one case's world ---- */

struct ctx {
	char dir[PATH_MAX];
	char db[PATH_MAX + 16];
	char archive[PATH_MAX + 32];
	char line[NCP][512];     /* audit_checkpoint's line, kept at cp_seqs[i] */
	char against_buf[1024];  /* an AGAINST line a tamper function made */
	const char *against;
	struct audit *a;
};

enum setup { SETUP_STD, SETUP_STD_ARCHIVED, SETUP_INTL, SETUP_INTL_ARCHIVED };
enum check { VERIFY, VERIFY_ARCHIVE };

struct tcase {
	const char *name;
	enum setup setup;
	int (*tamper)(struct ctx *c, const struct tcase *t); /* NULL: untouched */
	const char *sql;       /* arguments for the tamper function */
	int64_t n1, n2;
	const char *s1, *s2;
	enum check check;
	int against;           /* 0 none; 10/25/40: the line kept at that checkpoint; -1: c->against_buf */
	int rc;                /* the return value the verdict must have */
	const char *prefix;    /* the first line of the verdict starts with this */
	const char *substr;    /* ... and contains this (NULL: prefix only) */
	const char *hole;      /* non-NULL: expected to fail on today's code, and why */
};

/* ---- the record hash, reimplemented exactly as audit.c's record_hash ---- */

static void t_put_i64(crypto_generichash_state *h, int64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
	crypto_generichash_update(h, b, 8);
}

static void t_put_str(crypto_generichash_state *h, const unsigned char *s)
{
	/* As read back by read_record: NUL-terminated, cut to TEXT_CAP - 1. */
	size_t n = s ? strlen((const char *)s) : 0;
	if (n > TEXT_CAP - 1)
		n = TEXT_CAP - 1;
	t_put_i64(h, (int64_t)n);
	if (n)
		crypto_generichash_update(h, s, n);
}

/* ROW: a row of SELECT_ALL below. */
static void t_record_hash(sqlite3_stmt *row, const unsigned char prev[AUDIT_HASH_BYTES],
			  unsigned char out[AUDIT_HASH_BYTES])
{
	crypto_generichash_state h;
	crypto_generichash_init(&h, NULL, 0, AUDIT_HASH_BYTES);
	crypto_generichash_update(&h, (const unsigned char *)"custfs/audit/1", 14);
	t_put_i64(&h, sqlite3_column_int64(row, 0));                    /* seq */
	crypto_generichash_update(&h, prev, AUDIT_HASH_BYTES);
	t_put_i64(&h, sqlite3_column_int64(row, 1));                    /* time_ns */
	t_put_i64(&h, (int64_t)(uid_t)sqlite3_column_int64(row, 2));    /* uid */
	t_put_str(&h, sqlite3_column_text(row, 3));                     /* login */
	t_put_str(&h, sqlite3_column_text(row, 4));                     /* department */
	t_put_i64(&h, (int64_t)(pid_t)sqlite3_column_int64(row, 5));    /* pid */
	t_put_str(&h, sqlite3_column_text(row, 6));                     /* comm */
	t_put_str(&h, sqlite3_column_text(row, 7));                     /* exe */
	t_put_str(&h, sqlite3_column_text(row, 8));                     /* mount */
	t_put_str(&h, sqlite3_column_text(row, 9));                     /* view */
	t_put_i64(&h, sqlite3_column_int64(row, 10));                   /* customer_id */
	t_put_str(&h, sqlite3_column_text(row, 11));                    /* field */
	t_put_str(&h, sqlite3_column_text(row, 12));                    /* class */
	t_put_str(&h, sqlite3_column_text(row, 13));                    /* action */
	t_put_i64(&h, sqlite3_column_int(row, 14) != 0);                /* allow */
	t_put_str(&h, sqlite3_column_text(row, 15));                    /* rule */
	t_put_str(&h, sqlite3_column_text(row, 16));                    /* reason */
	t_put_i64(&h, sqlite3_column_int64(row, 17));                   /* checkout_id */
	t_put_i64(&h, sqlite3_column_int64(row, 18));                   /* bytes_read */
	t_put_i64(&h, sqlite3_column_int64(row, 19));                   /* bytes_written */
	t_put_str(&h, sqlite3_column_text(row, 20));                    /* detail */
	crypto_generichash_final(&h, out, AUDIT_HASH_BYTES);
}

static const char SELECT_ALL[] =
	"SELECT seq, time_ns, uid, login, department, pid, comm, exe, mount, view, customer_id, "
	"field, class, action, allow, rule, reason, checkout_id, bytes_read, bytes_written, "
	"detail, prev, hash FROM audit ORDER BY seq";

/* ---- direct access to audit.db, as root ---- */

static sqlite3 *tdb_open(struct ctx *c)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(c->db, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: %s\n", c->db, db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	/* Drop whatever triggers guard the log (their names are the code's business). */
	char drops[2048] = "";
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'trigger'", -1, &s,
			       NULL) == SQLITE_OK) {
		while (sqlite3_step(s) == SQLITE_ROW) {
			size_t l = strlen(drops);
			snprintf(drops + l, sizeof drops - l, "DROP TRIGGER \"%s\";",
				 (const char *)sqlite3_column_text(s, 0));
		}
	}
	sqlite3_finalize(s);
	char *msg = NULL;
	if (drops[0] && sqlite3_exec(db, drops, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "drop triggers: %s\n", msg ? msg : "?");
		sqlite3_free(msg);
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

static int tdb_exec(struct ctx *c, const char *sql)
{
	sqlite3 *db = tdb_open(c);
	if (!db)
		return -1;
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		fprintf(stderr, "tamper SQL failed: %s: %s\n", sql, msg ? msg : "?");
	sqlite3_free(msg);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* Recomputes prev and hash of every record from FROM on, exactly as an
 * attacker who knows the (keyless) formula would. */
static int recompute_from(struct ctx *c, int64_t from)
{
	sqlite3 *db = tdb_open(c);
	if (!db)
		return -1;
	struct fix {
		int64_t seq;
		unsigned char prev[AUDIT_HASH_BYTES], hash[AUDIT_HASH_BYTES];
	} *fixes = calloc(NREC * 2, sizeof *fixes);
	size_t nfix = 0;
	unsigned char prev[AUDIT_HASH_BYTES] = { 0 };
	sqlite3_stmt *q = NULL;
	int ret = -1;
	if (!fixes || sqlite3_prepare_v2(db, SELECT_ALL, -1, &q, NULL) != SQLITE_OK)
		goto out;
	while (sqlite3_step(q) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(q, 0);
		if (seq < from) {
			if (sqlite3_column_bytes(q, 22) == AUDIT_HASH_BYTES)
				memcpy(prev, sqlite3_column_blob(q, 22), AUDIT_HASH_BYTES);
			continue;
		}
		if (nfix == NREC * 2)
			break;
		struct fix *f = &fixes[nfix++];
		f->seq = seq;
		memcpy(f->prev, prev, AUDIT_HASH_BYTES);
		t_record_hash(q, prev, f->hash);
		memcpy(prev, f->hash, AUDIT_HASH_BYTES);
	}
	sqlite3_finalize(q);
	q = NULL;
	if (sqlite3_prepare_v2(db, "UPDATE audit SET prev = ?1, hash = ?2 WHERE seq = ?3", -1, &q,
			       NULL) != SQLITE_OK)
		goto out;
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (size_t i = 0; i < nfix; i++) {
		sqlite3_bind_blob(q, 1, fixes[i].prev, AUDIT_HASH_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(q, 2, fixes[i].hash, AUDIT_HASH_BYTES, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, fixes[i].seq);
		if (sqlite3_step(q) != SQLITE_DONE)
			goto out;
		sqlite3_reset(q);
	}
	ret = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
out:
	sqlite3_finalize(q);
	sqlite3_close(db);
	free(fixes);
	return ret;
}

/* Checks that the reimplemented formula reproduces every stored hash of an
 * untouched log (else the rewrite cases would prove nothing). */
static void check_formula(struct ctx *c)
{
	sqlite3 *db = tdb_open(c);
	sqlite3_stmt *q = NULL;
	int n = 0, same = 0;
	if (db && sqlite3_prepare_v2(db, SELECT_ALL, -1, &q, NULL) == SQLITE_OK) {
		while (sqlite3_step(q) == SQLITE_ROW) {
			unsigned char h[AUDIT_HASH_BYTES];
			n++;
			t_record_hash(q, sqlite3_column_blob(q, 21), h);
			same += sqlite3_column_bytes(q, 22) == AUDIT_HASH_BYTES &&
				memcmp(h, sqlite3_column_blob(q, 22), AUDIT_HASH_BYTES) == 0;
		}
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
	CHECK(n > 0);
	CHECK_EQ_INT(same, n);
}

/* Flips bit 0 of byte AT of a blob column. */
static int flip_blob(struct ctx *c, const char *table, const char *col, const char *keycol,
		     int64_t key, int at)
{
	sqlite3 *db = tdb_open(c);
	if (!db)
		return -1;
	char sql[256];
	unsigned char buf[256];
	int n = 0, ret = -1;
	sqlite3_stmt *q = NULL;
	snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE %s = ?1", col, table, keycol);
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, key);
		if (sqlite3_step(q) == SQLITE_ROW) {
			n = sqlite3_column_bytes(q, 0);
			if (n > 0 && n <= (int)sizeof buf)
				memcpy(buf, sqlite3_column_blob(q, 0), (size_t)n);
		}
	}
	sqlite3_finalize(q);
	q = NULL;
	if (n > at && n <= (int)sizeof buf) {
		buf[at] ^= 1;
		snprintf(sql, sizeof sql, "UPDATE %s SET %s = ?1 WHERE %s = ?2", table, col, keycol);
		if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
			sqlite3_bind_blob(q, 1, buf, n, SQLITE_STATIC);
			sqlite3_bind_int64(q, 2, key);
			ret = sqlite3_step(q) == SQLITE_DONE && sqlite3_changes(db) == 1 ? 0 : -1;
		}
		sqlite3_finalize(q);
	}
	sqlite3_close(db);
	return ret;
}

/* ---- building the logs ---- */

static const char *const logins[] = { "alice", "bob", "carol", "" };
static const char *const depts[] = { "sales", "support", "finance", "production" };
static const char *const comms[] = { "cat", "python3", "custctl", "" };
static const char *const exes[] = { "/usr/bin/cat", "/usr/bin/python3.11", "/usr/local/bin/custctl", "" };
static const char *const fields[] = { "phone", "email", "name", "" };
static const char *const classes[] = { "basic", "contact", "sensitive", "" };
static const char *const actions[] = { "read", "write", "create", "close", "version", "mkdir",
				       "command", "mount" };

static void std_event(int i, struct audit_event *ev, char *detail, size_t cap)
{
	if (i == 12)
		snprintf(detail, cap, "colour \x1b[31mred\x1b[0m and a bell \x07");
	else if (i % 6 == 0)
		snprintf(detail, cap, "path C:\\tmp\\x%d \"quoted\"", i);
	else if (i % 9 == 0)
		snprintf(detail, cap, "tab\there\nnewline %d", i);
	else
		snprintf(detail, cap, "detail #%d", i);
	bool allow = i % 3 != 0;
	*ev = (struct audit_event){
		.time_ns = T0 + i * SEC,
		.uid = (uid_t)(1000 + i % 4),
		.login = logins[i % 4],
		.department = depts[i % 4],
		.pid = 4000 + i,
		.comm = comms[i % 4],
		.exe = exes[i % 4],
		.mount = i % 5 ? "/mnt/cust" : "",
		.view = i % 2 ? "sales" : "full",
		.customer_id = (i * 37) % 11,
		.field = fields[i % 4],
		.cls = classes[i % 4],
		.action = actions[i % 8],
		.allow = allow,
		.rule = allow ? "sales-read" : "",
		.reason = allow ? "granted" : "denied: level 2 < 3",
		.checkout_id = i % 4 ? i : 0,
		.bytes_read = i * 100,
		.bytes_written = i % 2 ? i * 10 : 0,
		.detail = detail,
	};
}

/* Text column COL (0..11, audit_record order) of the international log's
 * record I: control characters, quotes, a backslash-u that is data, Chinese,
 * a 4-byte emoji, in every text column. */
static void intl_text(int i, int col, char *out, size_t cap)
{
	static const char *const names[12] = { "登录", "部门", "进程", "程序", "挂载", "视图",
					       "字段", "类别", "动作", "规则", "原因", "详情" };
	snprintf(out, cap, "%s\x01\x02\t\n\r\x1b\x1f\x7f \"q\" \\ \\u0041 客户资料 é ✓ 😀 #%d",
		 names[col], i);
}

struct intl_buf {
	char t[12][200];
};

static void intl_event(int i, struct audit_event *ev, struct intl_buf *b)
{
	for (int k = 0; k < 12; k++)
		intl_text(i, k, b->t[k], sizeof b->t[k]);
	*ev = (struct audit_event){
		.time_ns = T0 + i * SEC, .uid = 2000, .login = b->t[0], .department = b->t[1],
		.pid = 77, .comm = b->t[2], .exe = b->t[3], .mount = b->t[4], .view = b->t[5],
		.customer_id = i, .field = b->t[6], .cls = b->t[7], .action = b->t[8],
		.allow = i % 2, .rule = b->t[9], .reason = b->t[10], .checkout_id = 0,
		.bytes_read = i, .bytes_written = 0, .detail = b->t[11],
	};
}

static int open_log(struct ctx *c)
{
	char err[512] = "";
	int rc = audit_open(c->dir, master, store_id, &c->a, err, sizeof err);
	if (rc)
		fprintf(stderr, "audit_open(%s): %d %s\n", c->dir, rc, err);
	return rc;
}

static void close_log(struct ctx *c)
{
	audit_close(c->a);
	c->a = NULL;
}

/* Archives the records before BEFORE_NS to c->archive; expects records 1..LAST. */
static int archive_log(struct ctx *c, int64_t before_ns, int64_t last)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	int rc = audit_archive(c->a, before_ns, c->archive, out);
	fclose(out);
	char want[PATH_MAX + 100];
	snprintf(want, sizeof want, "archived records 1..%lld to %s (signed)", (long long)last,
		 c->archive);
	CHECK_EQ_INT(rc, 0);
	CHECK(buf && strncmp(buf, want, strlen(want)) == 0);
	if (!buf || strncmp(buf, want, strlen(want)) != 0)
		fprintf(stderr, "    audit_archive said: %s\n", buf ? buf : "(nothing)");
	free(buf);
	return rc;
}

static int build_std(struct ctx *c, bool archived)
{
	if (open_log(c))
		return -1;
	size_t k = 0;
	int rc = 0;
	for (int i = 1; i <= NREC && !rc; i++) {
		struct audit_event ev;
		char detail[128];
		std_event(i, &ev, detail, sizeof detail);
		if (i % 7 == 0)
			rc = audit_note(c->a, &ev); /* written with the next append */
		else
			rc = audit_append(c->a, &ev, i % 5 == 0);
		if (!rc && k < NCP && i == cp_seqs[k]) {
			audit_flush(c->a);
			rc = audit_checkpoint(c->a, c->line[k], sizeof c->line[k]);
			k++;
		}
	}
	audit_flush(c->a);
	CHECK_EQ_INT(rc, 0);
	if (!rc && archived)
		rc = archive_log(c, T0 + (ARCH_LAST + 1) * SEC, ARCH_LAST);
	close_log(c);
	if (!rc && !archived)
		check_formula(c);
	return rc;
}

/* audit_query's callback: every column of the international log reads back
 * byte for byte. */
static int intl_check_cb(void *ctx, const struct audit_record *r)
{
	int *n = ctx;
	const char *got[12] = { r->ev.login, r->ev.department, r->ev.comm, r->ev.exe,
				r->ev.mount, r->ev.view, r->ev.field, r->ev.cls,
				r->ev.action, r->ev.rule, r->ev.reason, r->ev.detail };
	(*n)++;
	CHECK_EQ_INT(r->seq, *n);
	for (int k = 0; k < 12; k++) {
		char want[200];
		intl_text((int)r->seq, k, want, sizeof want);
		check_ctx("international record %lld, text column %d", (long long)r->seq, k);
		CHECK_STR(got[k], want);
	}
	CHECK_EQ_INT(r->ev.time_ns, T0 + r->seq * SEC);
	CHECK_EQ_INT(r->ev.customer_id, r->seq);
	CHECK_EQ_INT(r->ev.allow, r->seq % 2);
	return 0;
}

static int build_intl(struct ctx *c, bool archived)
{
	if (open_log(c))
		return -1;
	int rc = 0;
	for (int i = 1; i <= INTL_NREC && !rc; i++) {
		struct audit_event ev;
		struct intl_buf b;
		intl_event(i, &ev, &b);
		rc = audit_append(c->a, &ev, false);
	}
	char line[512];
	if (!rc)
		rc = audit_checkpoint(c->a, line, sizeof line);
	CHECK_EQ_INT(rc, 0);
	struct audit_filter f = { .decision = -1 };
	int n = 0;
	CHECK_EQ_INT(audit_query(c->a, &f, intl_check_cb, &n), 0);
	CHECK_EQ_INT(n, INTL_NREC);
	if (!rc && archived) {
		rc = archive_log(c, T0 + (INTL_ARCH_LAST + 1) * SEC, INTL_ARCH_LAST);
		/* Control characters escaped, everything else (UTF-8) raw. */
		FILE *f2 = fopen(c->archive, "re");
		char *l = NULL;
		size_t cap = 0;
		CHECK(f2 && getline(&l, &cap, f2) > 0);
		if (l) {
			check_ctx("archive line 1: %.200s", l);
			CHECK_NOT_NULL(strstr(l, "\"login\":\"登录\\u0001\\u0002\\u0009\\u000a\\u000d"
						 "\\u001b\\u001f\\u007f \\\"q\\\" \\\\ \\\\u0041 客户资料 é ✓ 😀 #1\""));
			check_ctx("%s", "");
		}
		free(l);
		if (f2)
			fclose(f2);
	}
	close_log(c);
	return rc;
}

/* ---- editing an archive file ---- */

struct lines {
	char **l;
	size_t *len;
	size_t n;
};

static int lines_read(const char *path, struct lines *L)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	memset(L, 0, sizeof *L);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		L->l = realloc(L->l, (L->n + 1) * sizeof *L->l);
		L->len = realloc(L->len, (L->n + 1) * sizeof *L->len);
		L->l[L->n] = malloc((size_t)len + 1);
		memcpy(L->l[L->n], line, (size_t)len + 1);
		L->len[L->n] = (size_t)len;
		L->n++;
	}
	free(line);
	fclose(f);
	return 0;
}

static int lines_write(const char *path, struct lines *L)
{
	FILE *f = fopen(path, "we");
	if (!f)
		return -1;
	for (size_t i = 0; i < L->n; i++)
		if (L->l[i])
			fwrite(L->l[i], 1, L->len[i], f);
	fclose(f);
	for (size_t i = 0; i < L->n; i++)
		free(L->l[i]);
	free(L->l);
	free(L->len);
	return 0;
}

static void lines_set(struct lines *L, size_t i, const void *bytes, size_t n)
{
	free(L->l[i]);
	L->l[i] = malloc(n + 1);
	memcpy(L->l[i], bytes, n);
	L->l[i][n] = '\0';
	L->len[i] = n;
}

static void lines_insert(struct lines *L, size_t at, const void *bytes, size_t n)
{
	L->l = realloc(L->l, (L->n + 1) * sizeof *L->l);
	L->len = realloc(L->len, (L->n + 1) * sizeof *L->len);
	memmove(L->l + at + 1, L->l + at, (L->n - at) * sizeof *L->l);
	memmove(L->len + at + 1, L->len + at, (L->n - at) * sizeof *L->len);
	L->n++;
	L->l[at] = NULL;
	lines_set(L, at, bytes, n);
}

/* ---- tamper functions ---- */

static int t_sql(struct ctx *c, const struct tcase *t)
{
	return tdb_exec(c, t->sql);
}

/* SQL, then recompute the chain from N1 on. */
static int t_sql_rechain(struct ctx *c, const struct tcase *t)
{
	return tdb_exec(c, t->sql) || recompute_from(c, t->n1);
}

/* Deletes record N1 and renumbers the later ones to close the gap; N2: then
 * recompute the chain. */
static int t_delete_renumber(struct ctx *c, const struct tcase *t)
{
	char sql[128];
	snprintf(sql, sizeof sql, "DELETE FROM audit WHERE seq = %lld", (long long)t->n1);
	if (tdb_exec(c, sql))
		return -1;
	for (int64_t s = t->n1 + 1; s <= NREC; s++) {
		snprintf(sql, sizeof sql, "UPDATE audit SET seq = %lld WHERE seq = %lld",
			 (long long)s - 1, (long long)s);
		if (tdb_exec(c, sql))
			return -1;
	}
	return t->n2 ? recompute_from(c, t->n1) : 0;
}

/* Flips a bit of checkpoints.<S1> (byte N2) at seq N1. */
static int t_flip_checkpoint(struct ctx *c, const struct tcase *t)
{
	return flip_blob(c, "checkpoints", t->s1, "seq", t->n1, (int)t->n2);
}

static int t_flip_archive_marker(struct ctx *c, const struct tcase *t)
{
	return flip_blob(c, "archives", t->s1, "last_seq", t->n1, (int)t->n2);
}

/* A checkpoint line kept at record 50 (its copy in the log then deleted),
 * then SQL. */
static int t_keep_line_then_sql(struct ctx *c, const struct tcase *t)
{
	if (open_log(c))
		return -1;
	int rc = audit_checkpoint(c->a, c->against_buf, sizeof c->against_buf);
	close_log(c);
	c->against = c->against_buf;
	return rc || tdb_exec(c, "DELETE FROM checkpoints WHERE seq = 50") || tdb_exec(c, t->sql);
}

/* AGAINST: the literal S1. */
static int t_against_literal(struct ctx *c, const struct tcase *t)
{
	snprintf(c->against_buf, sizeof c->against_buf, "%s", t->s1);
	c->against = c->against_buf;
	return 0;
}

/* AGAINST: the line kept at record 40 with its first S1 replaced by S2 (S1
 * NULL: with its last N1 bytes cut). */
static int t_against_edit(struct ctx *c, const struct tcase *t)
{
	char *l = c->against_buf;
	snprintf(l, sizeof c->against_buf, "%s", c->line[2]);
	c->against = l;
	if (!t->s1) {
		size_t n = strlen(l);
		l[n > (size_t)t->n1 ? n - (size_t)t->n1 : 0] = '\0';
		return 0;
	}
	char *p = strstr(l, t->s1);
	if (!p)
		return -1;
	char tail[1024];
	snprintf(tail, sizeof tail, "%s", p + strlen(t->s1));
	snprintf(p, sizeof c->against_buf - (size_t)(p - l), "%s%s", t->s2, tail);
	return 0;
}

/* AGAINST: a checkpoint line at record 40 from another store: N1 = 0 a
 * different store id and key, 1 the same store id but another key (the store
 * recreated). */
static int t_against_other_store(struct ctx *c, const struct tcase *t)
{
	char dir[PATH_MAX + 16], err[512] = "";
	unsigned char other_id[16];
	unsigned char *other_master = crypto_key_new_random();
	struct audit *o = NULL;
	snprintf(dir, sizeof dir, "%s/other", c->dir);
	if (!other_master || mkdir(dir, 0700) != 0)
		return -1;
	if (t->n1)
		memcpy(other_id, store_id, sizeof other_id);
	else
		randombytes_buf(other_id, sizeof other_id);
	int rc = audit_open(dir, other_master, other_id, &o, err, sizeof err);
	for (int i = 1; !rc && i <= 40; i++) {
		struct audit_event ev;
		char detail[128];
		std_event(i, &ev, detail, sizeof detail);
		rc = audit_append(o, &ev, false);
	}
	if (!rc)
		rc = audit_checkpoint(o, c->against_buf, sizeof c->against_buf);
	audit_close(o);
	crypto_key_free(other_master);
	c->against = c->against_buf;
	return rc;
}

/* Archive line N1 (1-based): its first S1 replaced by S2. */
static int t_arch_replace(struct ctx *c, const struct tcase *t)
{
	struct lines L;
	if (lines_read(c->archive, &L) || (size_t)t->n1 > L.n)
		return -1;
	size_t i = (size_t)t->n1 - 1;
	char *p = strstr(L.l[i], t->s1);
	int ret = -1;
	if (p) {
		size_t pre = (size_t)(p - L.l[i]), a = strlen(t->s1), b = strlen(t->s2);
		size_t n = L.len[i] - a + b;
		char *nl = malloc(n + 1);
		memcpy(nl, L.l[i], pre);
		memcpy(nl + pre, t->s2, b);
		memcpy(nl + pre + b, p + a, L.len[i] - pre - a + 1);
		lines_set(&L, i, nl, n);
		free(nl);
		ret = 0;
	}
	return lines_write(c->archive, &L) || ret;
}

/* Deletes archive line N1 (1-based; 0: the last line). */
static int t_arch_delete(struct ctx *c, const struct tcase *t)
{
	struct lines L;
	if (lines_read(c->archive, &L) || (size_t)t->n1 > L.n || L.n == 0)
		return -1;
	size_t i = t->n1 ? (size_t)t->n1 - 1 : L.n - 1;
	free(L.l[i]);
	L.l[i] = NULL;
	return lines_write(c->archive, &L);
}

/* Swaps archive lines N1 and N2. */
static int t_arch_swap(struct ctx *c, const struct tcase *t)
{
	struct lines L;
	if (lines_read(c->archive, &L) || (size_t)t->n1 > L.n || (size_t)t->n2 > L.n)
		return -1;
	size_t a = (size_t)t->n1 - 1, b = (size_t)t->n2 - 1;
	char *l = L.l[a];
	size_t n = L.len[a];
	L.l[a] = L.l[b];
	L.len[a] = L.len[b];
	L.l[b] = l;
	L.len[b] = n;
	return lines_write(c->archive, &L);
}

/* Flips hex digit N1 (counted from the end of the line, before '\n') of the
 * last line: the trailer's signature. */
static int t_arch_trailer_sig(struct ctx *c, const struct tcase *t)
{
	struct lines L;
	if (lines_read(c->archive, &L) || L.n == 0)
		return -1;
	char *l = L.l[L.n - 1];
	size_t n = strcspn(l, "\n");
	bool ok = (size_t)t->n1 < n;
	if (ok) {
		char *d = &l[n - 1 - (size_t)t->n1];
		*d = *d == '0' ? '1' : '0';
	}
	return lines_write(c->archive, &L) || !ok;
}

/* Keeps only the first N1 bytes of the trailer (the last line). */
static int t_arch_cut_trailer(struct ctx *c, const struct tcase *t)
{
	struct lines L;
	if (lines_read(c->archive, &L) || L.n == 0)
		return -1;
	bool ok = L.len[L.n - 1] > (size_t)t->n1;
	if (ok) {
		char *cut = malloc((size_t)t->n1 + 2);
		memcpy(cut, L.l[L.n - 1], (size_t)t->n1);
		cut[t->n1] = '\n';
		lines_set(&L, L.n - 1, cut, (size_t)t->n1 + 1);
		free(cut);
	}
	return lines_write(c->archive, &L) || !ok;
}

/* Inserts before archive line N1 (0: at the end): N2 bytes of S1 (N2 0:
 * strlen), or, S1 NULL, a record-like line with a 5000-byte login and no
 * hashes. */
static int t_arch_insert(struct ctx *c, const struct tcase *t)
{
	struct lines L;
	if (lines_read(c->archive, &L))
		return -1;
	size_t at = t->n1 ? (size_t)t->n1 - 1 : L.n;
	if (at > L.n)
		at = L.n;
	if (t->s1) {
		lines_insert(&L, at, t->s1, t->n2 ? (size_t)t->n2 : strlen(t->s1));
	} else {
		char *big = malloc(6000);
		int n = snprintf(big, 6000, "{\"seq\":%zu,\"time_ns\":1,\"uid\":2,\"login\":\"", at + 1);
		memset(big + n, 'A', 5000);
		memcpy(big + n + 5000, "\\u\n", 4);
		lines_insert(&L, at, big, strlen(big));
		free(big);
	}
	return lines_write(c->archive, &L);
}

/* Truncates the archive file to N1 bytes. */
static int t_arch_truncate(struct ctx *c, const struct tcase *t)
{
	return truncate(c->archive, (off_t)t->n1);
}

/* ---- the table ---- */

#define BAD_EDITED(n) "BAD: record " #n " was edited (its contents do not match its hash)"
#define BAD_FOLLOW(n, m) "BAD: record " #n " does not follow record " #m \
	" (records deleted, swapped or edited before it)"
#define OK_STD "OK: 50 records, hash chain intact, signed checkpoints verified"
#define ARCH_EDITED(n) "BAD: archived record " #n " was edited, moved or removed"
/* A line the strict reader cannot take for a record at all (cut, bad escapes, garbage). */
#define ARCH_NOT_RECORD(n) "BAD: archive line " #n " is not a record"

/* One column edited in one record: the verdict names that record. */
#define COL(col, seq, expr)                                                             \
	{ "2 column " col " of record " #seq " edited", SETUP_STD, t_sql,                  \
	  "UPDATE audit SET " col " = " expr " WHERE seq = " #seq, .rc = 1, .prefix = "BAD:", \
	  .substr = BAD_EDITED(seq) }

static const char SWAP_CONTENTS[] =
	"CREATE TEMP TABLE t AS SELECT * FROM audit WHERE seq IN (20, 21);"
	"UPDATE audit SET (time_ns, uid, login, department, pid, comm, exe, mount, view, "
	"customer_id, field, class, action, allow, rule, reason, checkout_id, bytes_read, "
	"bytes_written, detail) = (SELECT time_ns, uid, login, department, pid, comm, exe, mount, "
	"view, customer_id, field, class, action, allow, rule, reason, checkout_id, bytes_read, "
	"bytes_written, detail FROM t WHERE t.seq = 41 - audit.seq) WHERE seq IN (20, 21);";

static const char GARBAGE[] = "\x00\xff\xfe{\"seq\x01\x80garbage\x00\x00\n";

static const struct tcase cases[] = {
	/* 1 */
	{ "1 untouched log", SETUP_STD, NULL, .rc = 0, .prefix = "OK:", .substr = OK_STD },

	/* 2: every column, each kind (text, integer, allow flipped), and the chain's own */
	COL("time_ns", 2, "time_ns + 1"),
	COL("uid", 3, "uid + 1"),
	COL("login", 4, "'mallory'"),
	COL("department", 5, "department || 'x'"),
	COL("pid", 6, "pid + 1"),
	COL("comm", 7, "comm || 'x'"),
	COL("exe", 8, "'/tmp/evil'"),
	COL("mount", 9, "mount || 'x'"),
	COL("view", 11, "'full'"),
	COL("customer_id", 13, "customer_id + 1"),
	COL("field", 14, "field || 'x'"),
	COL("class", 15, "'basic'"),
	COL("action", 16, "'delete'"),
	COL("allow", 17, "1 - allow"),
	COL("allow", 18, "1 - allow"),
	COL("rule", 19, "rule || 'x'"),
	COL("reason", 21, "''"),
	COL("checkout_id", 22, "checkout_id + 1"),
	COL("bytes_read", 23, "bytes_read + 1"),
	COL("bytes_written", 24, "bytes_written + 1"),
	COL("detail", 26, "detail || 'x'"),
	COL("detail", 1, "'x'"),
	COL("detail", 50, "'x'"),
	COL("login", 44, "'mallory'"),
	COL("hash", 20, "randomblob(32)"),
	{ "2 column prev of record 20 edited", SETUP_STD, t_sql,
	  "UPDATE audit SET prev = randomblob(32) WHERE seq = 20", .rc = 1, .prefix = "BAD:",
	  .substr = BAD_FOLLOW(20, 19) },
	/* Extra: edits that read back the same through the API (read_record casts
	 * and reads text) yet change what SQL filters see; verify does not notice. */
	{ "2x allow 1 -> 2 (hides record 20 from the allow=1 query filter)", SETUP_STD, t_sql,
	  "UPDATE audit SET allow = 2 WHERE seq = 20", .rc = 1, .prefix = "BAD:",
	  .substr = BAD_EDITED(20) },
	{ "2x login stored as a BLOB of the same bytes (hides it from --login)", SETUP_STD, t_sql,
	  "UPDATE audit SET login = CAST(login AS BLOB) WHERE seq = 21", .rc = 1, .prefix = "BAD:",
	  .substr = BAD_EDITED(21) },
	/* 3 */
	{ "3 record 20 deleted", SETUP_STD, t_sql, "DELETE FROM audit WHERE seq = 20", .rc = 1,
	  .prefix = "BAD:", .substr = "BAD: record 20 is missing (deleted): the log jumps from 19 to 21" },
	{ "3 record 1 deleted", SETUP_STD, t_sql, "DELETE FROM audit WHERE seq = 1", .rc = 1,
	  .prefix = "BAD:", .substr = "BAD: record 1 is missing (deleted): the log jumps from 0 to 2" },
	{ "3 records 20..22 deleted", SETUP_STD, t_sql,
	  "DELETE FROM audit WHERE seq BETWEEN 20 AND 22", .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: record 20 is missing (deleted): the log jumps from 19 to 23" },
	{ "3 record 20 deleted, later ones renumbered", SETUP_STD, t_delete_renumber, .n1 = 20,
	  .rc = 1, .prefix = "BAD:", .substr = BAD_FOLLOW(20, 19) },

	/* 4 */
	{ "4 records 20 and 21 swap contents (prev/hash stay)", SETUP_STD, t_sql, SWAP_CONTENTS,
	  .rc = 1, .prefix = "BAD:", .substr = BAD_EDITED(20) },
	{ "4 records 20 and 21 swap places (whole rows)", SETUP_STD, t_sql,
	  "UPDATE audit SET seq = -21 WHERE seq = 20; UPDATE audit SET seq = 20 WHERE seq = 21;"
	  "UPDATE audit SET seq = 21 WHERE seq = -21;",
	  .rc = 1, .prefix = "BAD:", .substr = BAD_FOLLOW(20, 19) },

	/* 5 */
	/* NOTE: inherent, not a bug: records after the last checkpoint can be cut
	 * and nothing in the log can tell; only a checkpoint line kept elsewhere
	 * can (the "kept at 50" case below). */
	{ "5 tail 46..50 deleted after the last checkpoint (40): undetectable, OK", SETUP_STD,
	  t_sql, "DELETE FROM audit WHERE seq > 45", .rc = 0, .prefix = "OK:",
	  .substr = "OK: 45 records, hash chain intact, signed checkpoints verified" },
	{ "5 tail 35..50 deleted, below the checkpoint at 40", SETUP_STD, t_sql,
	  "DELETE FROM audit WHERE seq >= 35", .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: the log ends at record 34 but was checkpointed at record 40: "
		    "truncated after the checkpoint" },
	{ "5 tail 40..50 deleted, from the checkpointed record on", SETUP_STD, t_sql,
	  "DELETE FROM audit WHERE seq >= 40", .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: the log ends at record 39 but was checkpointed at record 40: "
		    "truncated after the checkpoint" },
	{ "5 every record deleted", SETUP_STD, t_sql, "DELETE FROM audit", .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: the log ends at record 0 but was checkpointed at record 40: "
		    "truncated after the checkpoint" },
	{ "5 tail 46..50 deleted, against a line kept at 50", SETUP_STD, t_keep_line_then_sql,
	  "DELETE FROM audit WHERE seq > 45", .against = -1, .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: the log ends at record 45, before the checkpoint you kept (record 50): "
		    "truncated" },

	/* 6: the chain rewritten after an edit, the checkpoints left alone: each
	 * stored checkpoint pins the chain at its record (issue 10). */
	{ "6 record 30 edited, chain recomputed, checkpoints kept", SETUP_STD, t_sql_rechain,
	  "UPDATE audit SET detail = 'nothing happened' WHERE seq = 30", .n1 = 30, .rc = 1,
	  .prefix = "BAD:", .substr = "checkpoint at record 40 does not match" },
	{ "6 record 5 edited, chain recomputed, checkpoints kept", SETUP_STD, t_sql_rechain,
	  "UPDATE audit SET allow = 1 - allow WHERE seq = 5", .n1 = 5, .rc = 1, .prefix = "BAD:",
	  .substr = "checkpoint at record 10 does not match" },
	{ "6 record 30 deleted, renumbered, chain recomputed, checkpoints kept", SETUP_STD,
	  t_delete_renumber, .n1 = 30, .n2 = 1, .rc = 1, .prefix = "BAD:",
	  .substr = "checkpoint at record 40 does not match" },
	/* Controls for the rewrite tool: where no checkpoint covers the edit,
	 * a consistent rewrite is undetectable (inherent), so OK proves the
	 * recomputed chain is exactly what audit.c would have written. */
	{ "6 record 45 edited, chain recomputed (after the last checkpoint): OK", SETUP_STD,
	  t_sql_rechain, "UPDATE audit SET detail = 'nothing happened' WHERE seq = 45", .n1 = 45,
	  .rc = 0, .prefix = "OK:", .substr = OK_STD },
	{ "6 record 30 edited, chain recomputed, checkpoints emptied, nothing kept: OK",
	  SETUP_STD, t_sql_rechain,
	  "UPDATE audit SET detail = 'nothing happened' WHERE seq = 30; DELETE FROM checkpoints",
	  .n1 = 30, .rc = 0, .prefix = "OK:", .substr = "OK: 50 records, hash chain intact" },

	/* 7 */
	{ "7 record 30 edited, chain recomputed, checkpoints emptied, against line at 40",
	  SETUP_STD, t_sql_rechain,
	  "UPDATE audit SET detail = 'nothing happened' WHERE seq = 30; DELETE FROM checkpoints",
	  .n1 = 30, .against = 40, .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: record 40 differs from the checkpoint you kept (the log was rewritten)" },
	{ "7 record 5 edited, chain recomputed, checkpoints emptied, against line at 10",
	  SETUP_STD, t_sql_rechain,
	  "UPDATE audit SET login = 'mallory' WHERE seq = 5; DELETE FROM checkpoints", .n1 = 5,
	  .against = 10, .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: record 10 differs from the checkpoint you kept (the log was rewritten)" },
	{ "7 record 30 edited, chain recomputed, checkpoints kept, against line at 40",
	  SETUP_STD, t_sql_rechain, "UPDATE audit SET detail = 'x' WHERE seq = 30", .n1 = 30,
	  .against = 40, .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: record 40 differs from the checkpoint you kept (the log was rewritten)"},
	{ "7 untouched, against line at 40", SETUP_STD, NULL, .against = 40, .rc = 0,
	  .prefix = "OK:", .substr = OK_STD ", and it extends the checkpoint you kept" },
	{ "7 record 45 rewritten after the kept line at 40: OK", SETUP_STD, t_sql_rechain,
	  "UPDATE audit SET detail = 'x' WHERE seq = 45; DELETE FROM checkpoints", .n1 = 45,
	  .against = 40, .rc = 0, .prefix = "OK:",
	  .substr = "OK: 50 records, hash chain intact, and it extends the checkpoint you kept" },

	/* 8 */
	{ "8 checkpoint 25: a bit of its signature flipped", SETUP_STD, t_flip_checkpoint,
	  .n1 = 25, .n2 = 7, .s1 = "sig", .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: checkpoint at record 25 has a bad signature" },
	{ "8 checkpoint 10: a bit of its hash flipped", SETUP_STD, t_flip_checkpoint, .n1 = 10,
	  .n2 = 0, .s1 = "hash", .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: checkpoint at record 10 has a bad signature" },
	{ "8 checkpoint 40: its time changed", SETUP_STD, t_sql,
	  "UPDATE checkpoints SET time_ns = time_ns + 1 WHERE seq = 40", .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: checkpoint at record 40 has a bad signature" },
	{ "8 checkpoint 25 moved to record 26", SETUP_STD, t_sql,
	  "UPDATE checkpoints SET seq = 26 WHERE seq = 25", .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: checkpoint at record 26 has a bad signature" },
	{ "8x checkpoint 25: signature cut to 63 bytes", SETUP_STD, t_sql,
	  "UPDATE checkpoints SET sig = substr(sig, 1, 63) WHERE seq = 25", .rc = 1,
	  .prefix = "BAD:", .substr = "checkpoint at record 25" },

	/* 9: archives (records 1..30 moved to a signed file) */
	{ "9 archive intact", SETUP_STD_ARCHIVED, NULL, .check = VERIFY_ARCHIVE, .rc = 0,
	  .prefix = "OK:", .substr = "OK: archive of records 1..30 intact and signed by this store" },
	{ "9 archive: record line 10, an integer edited", SETUP_STD_ARCHIVED, t_arch_replace,
	  .n1 = 10, .s1 = "\"bytes_read\":1000,", .s2 = "\"bytes_read\":1001,",
	  .check = VERIFY_ARCHIVE, .rc = 1, .prefix = "BAD:", .substr = ARCH_EDITED(10) },
	{ "9 archive: record line 17, login edited", SETUP_STD_ARCHIVED, t_arch_replace, .n1 = 17,
	  .s1 = "\"login\":\"bob\"", .s2 = "\"login\":\"eve\"", .check = VERIFY_ARCHIVE, .rc = 1,
	  .prefix = "BAD:", .substr = ARCH_EDITED(17) },
	{ "9 archive: record line 17, allow flipped", SETUP_STD_ARCHIVED, t_arch_replace, .n1 = 17,
	  .s1 = "\"allow\":1", .s2 = "\"allow\":0", .check = VERIFY_ARCHIVE, .rc = 1,
	  .prefix = "BAD:", .substr = ARCH_EDITED(17) },
	{ "9 archive: line 10 deleted", SETUP_STD_ARCHIVED, t_arch_delete, .n1 = 10,
	  .check = VERIFY_ARCHIVE, .rc = 1, .prefix = "BAD:", .substr = ARCH_EDITED(11) },
	{ "9 archive: first line deleted", SETUP_STD_ARCHIVED, t_arch_delete, .n1 = 1,
	  .check = VERIFY_ARCHIVE, .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: the archive's records do not match its signed summary" },
	{ "9 archive: last record line (30) deleted", SETUP_STD_ARCHIVED, t_arch_delete, .n1 = 30,
	  .check = VERIFY_ARCHIVE, .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: the archive's records do not match its signed summary" },
	{ "9 archive: lines 10 and 11 swapped", SETUP_STD_ARCHIVED, t_arch_swap, .n1 = 10,
	  .n2 = 11, .check = VERIFY_ARCHIVE, .rc = 1, .prefix = "BAD:", .substr = ARCH_EDITED(11) },
	{ "9 archive: trailer removed", SETUP_STD_ARCHIVED, t_arch_delete, .n1 = 0,
	  .check = VERIFY_ARCHIVE, .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: the archive has no signed trailer (cut short)" },
	{ "9 archive: cut at byte 7600 (inside line 15, no trailer)", SETUP_STD_ARCHIVED,
	  t_arch_truncate, .n1 = 7600, .check = VERIFY_ARCHIVE, .rc = 1, .prefix = "BAD:",
	  .substr = ARCH_NOT_RECORD(15)},
	{ "9 archive: empty file", SETUP_STD_ARCHIVED, t_arch_truncate, .n1 = 0,
	  .check = VERIFY_ARCHIVE, .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: the archive has no signed trailer (cut short)" },
	{ "9 archive: trailer's signature altered", SETUP_STD_ARCHIVED, t_arch_trailer_sig,
	  .n1 = 5, .check = VERIFY_ARCHIVE, .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: the archive's signature does not verify" },
	{ "9 archive: trailer's last seq altered", SETUP_STD_ARCHIVED, t_arch_replace, .n1 = 31,
	  .s1 = " 1 30 ", .s2 = " 1 29 ", .check = VERIFY_ARCHIVE, .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: the archive's signature does not verify" },
	{ "9 archive: trailer cut to its first words", SETUP_STD_ARCHIVED, t_arch_cut_trailer,
	  .n1 = 40, .check = VERIFY_ARCHIVE, .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: malformed archive trailer" },
	{ "9 archive: a \\u001b escape altered (line 12)", SETUP_STD_ARCHIVED, t_arch_replace,
	  .n1 = 12, .s1 = "\\u001b[31m", .s2 = "\\u001c[31m", .check = VERIFY_ARCHIVE, .rc = 1,
	  .prefix = "BAD:", .substr = ARCH_EDITED(12) },
	{ "9 archive: a \\u001b escape cut short (line 12)", SETUP_STD_ARCHIVED, t_arch_replace,
	  .n1 = 12, .s1 = "\\u001b[31m", .s2 = "\\u01[31m", .check = VERIFY_ARCHIVE, .rc = 1,
	  .prefix = "BAD:", .substr = ARCH_NOT_RECORD(12)},
	{ "9 archive: \\uffff escapes spliced into line 12", SETUP_STD_ARCHIVED, t_arch_replace,
	  .n1 = 12, .s1 = "\\u001b[31m", .s2 = "\\uffff\\uzzzz\\u\\", .check = VERIFY_ARCHIVE,
	  .rc = 1, .prefix = "BAD:", .substr = ARCH_NOT_RECORD(12)},
	{ "9 archive: binary garbage line before line 11", SETUP_STD_ARCHIVED, t_arch_insert,
	  .n1 = 11, .s1 = GARBAGE, .n2 = sizeof GARBAGE - 1,
	  .check = VERIFY_ARCHIVE, .rc = 1, .prefix = "BAD:",
	  .substr = ARCH_NOT_RECORD(11)},
	{ "9 archive: record-like line with a 5000-byte field, no hashes", SETUP_STD_ARCHIVED,
	  t_arch_insert, .n1 = 11, .s1 = NULL, .check = VERIFY_ARCHIVE, .rc = 1, .prefix = "BAD:",
	  .substr = ARCH_NOT_RECORD(11)},
	{ "9 archive: trailer-looking garbage", SETUP_STD_ARCHIVED, t_arch_insert, .n1 = 5,
	  .s1 = "custfs-archive 1 zz 1 2 zz 3 /x zz\n", .check = VERIFY_ARCHIVE, .rc = 1,
	  .prefix = "BAD:", .substr = "BAD: malformed archive trailer" },
	{ "9x archive: a forged record appended after the trailer", SETUP_STD_ARCHIVED,
	  t_arch_insert, .n1 = 0,
	  .s1 = "{\"seq\":31,\"time_ns\":1,\"uid\":0,\"login\":\"root\",\"detail\":\"forged\"}\n",
	  .check = VERIFY_ARCHIVE, .rc = 1, .prefix = "BAD:", .substr = NULL },
	{ "9 log after archiving", SETUP_STD_ARCHIVED, NULL, .rc = 0, .prefix = "OK:",
	  .substr = "OK: 20 records, hash chain intact, signed checkpoints verified, resuming "
		    "after the signed archive marker" },
	{ "9 log after archiving, against the line kept at 40", SETUP_STD_ARCHIVED, NULL,
	  .against = 40, .rc = 0, .prefix = "OK:",
	  .substr = "OK: 20 records, hash chain intact, signed checkpoints verified, resuming "
		    "after the signed archive marker, and it extends the checkpoint you kept" },
	{ "9 log after archiving: the marker's signature flipped", SETUP_STD_ARCHIVED,
	  t_flip_archive_marker, .n1 = ARCH_LAST, .n2 = 3, .s1 = "sig", .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: the archive marker (records up to 30) has a bad signature" },
	{ "9 log after archiving: the marker's last hash flipped", SETUP_STD_ARCHIVED,
	  t_flip_archive_marker, .n1 = ARCH_LAST, .n2 = 0, .s1 = "last_hash", .rc = 1,
	  .prefix = "BAD:", .substr = "BAD: the archive marker (records up to 30) has a bad signature" },
	{ "9 log after archiving: the marker deleted", SETUP_STD_ARCHIVED, t_sql,
	  "DELETE FROM archives", .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: record 1 is missing (deleted): the log jumps from 0 to 31" },
	{ "9 log after archiving: record 31 deleted", SETUP_STD_ARCHIVED, t_sql,
	  "DELETE FROM audit WHERE seq = 31", .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: record 31 is missing (deleted): the log jumps from 30 to 32" },
	{ "9 log after archiving: record 31 edited", SETUP_STD_ARCHIVED, t_sql,
	  "UPDATE audit SET detail = 'x' WHERE seq = 31", .rc = 1, .prefix = "BAD:",
	  .substr = BAD_EDITED(31) },

	/* 10 */
	{ "10 against: not a checkpoint line", SETUP_STD, t_against_literal, .s1 = "hello world",
	  .against = -1, .rc = 1, .prefix = "BAD:", .substr = "BAD: not a custfs checkpoint line" },
	{ "10 against: empty line", SETUP_STD, t_against_literal, .s1 = "", .against = -1, .rc = 1,
	  .prefix = "BAD:", .substr = "BAD: not a custfs checkpoint line" },
	{ "10 against: version 2", SETUP_STD, t_against_edit, .s1 = "custfs-checkpoint 1 ",
	  .s2 = "custfs-checkpoint 2 ", .against = -1, .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: not a custfs checkpoint line" },
	{ "10 against: cut before the signature", SETUP_STD, t_against_edit, .s1 = NULL,
	  .n1 = 129, .against = -1, .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: not a custfs checkpoint line" },
	{ "10 against: signature cut by 2 hex digits", SETUP_STD, t_against_edit, .s1 = NULL,
	  .n1 = 2, .against = -1, .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: malformed checkpoint line" },
	{ "10 against: seq 40 -> 41", SETUP_STD, t_against_edit, .s1 = " 40 ", .s2 = " 41 ",
	  .against = -1, .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: the checkpoint's signature does not verify with this store's key" },
	{ "10 against: a line from another store", SETUP_STD, t_against_other_store, .n1 = 0,
	  .against = -1, .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: the checkpoint's signature does not verify with this store's key" },
	{ "10 against: same store id, another key", SETUP_STD, t_against_other_store, .n1 = 1,
	  .against = -1, .rc = 1, .prefix = "BAD:",
	  .substr = "BAD: the checkpoint's signature does not verify with this store's key" },

	/* 11: control characters and Chinese in every text column */
	{ "11 control chars + Chinese: verify", SETUP_INTL, NULL, .rc = 0, .prefix = "OK:",
	  .substr = "OK: 12 records, hash chain intact, signed checkpoints verified" },
	{ "11 control chars + Chinese: archive verifies", SETUP_INTL_ARCHIVED, NULL,
	  .check = VERIFY_ARCHIVE, .rc = 0, .prefix = "OK:",
	  .substr = "OK: archive of records 1..8 intact and signed by this store" },
	{ "11 control chars + Chinese: log after archiving", SETUP_INTL_ARCHIVED, NULL, .rc = 0,
	  .prefix = "OK:",
	  .substr = "OK: 4 records, hash chain intact, signed checkpoints verified, resuming after "
		    "the signed archive marker" },
	{ "11 control chars + Chinese: one Chinese character altered in the archive",
	  SETUP_INTL_ARCHIVED, t_arch_replace, .n1 = 3, .s1 = "客户", .s2 = "客戶",
	  .check = VERIFY_ARCHIVE, .rc = 1, .prefix = "BAD:", .substr = ARCH_EDITED(3) },
	{ "11 control chars + Chinese: a \\u0009 escape altered in the archive",
	  SETUP_INTL_ARCHIVED, t_arch_replace, .n1 = 4, .s1 = "\\u0009", .s2 = "\\u0020",
	  .check = VERIFY_ARCHIVE, .rc = 1, .prefix = "BAD:", .substr = ARCH_NOT_RECORD(4)},
};

/* ---- the harness ---- */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* *C, zeroed, with a fresh temporary directory for a log of its own. */
static void fresh_dir(struct ctx *c)
{
	memset(c, 0, sizeof *c);
	const char *tmp = getenv("TMPDIR");
	snprintf(c->dir, sizeof c->dir, "%s/custfs-audit-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(c->dir)) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(c->db, sizeof c->db, "%s/%s", c->dir, AUDIT_DB_FILE);
}

/* Runs one case; true if it gave exactly the expected verdict. */
static bool run_case(const struct tcase *t, char *seen, size_t seencap)
{
	struct ctx c;
	int failed_before = check_failed_;
	fresh_dir(&c);
	snprintf(seen, seencap, "(no verdict)");
	snprintf(c.archive, sizeof c.archive, "%s/archive-1.jsonl", c.dir);
	check_ctx("%s", t->name);

	int rc = -1;
	switch (t->setup) {
	case SETUP_STD: rc = build_std(&c, false); break;
	case SETUP_STD_ARCHIVED: rc = build_std(&c, true); break;
	case SETUP_INTL: rc = build_intl(&c, false); break;
	case SETUP_INTL_ARCHIVED: rc = build_intl(&c, true); break;
	}
	check_ctx("%s", t->name);
	if (!CHECK_EQ_INT(rc, 0)) {
		snprintf(seen, seencap, "(setup failed)");
		goto out;
	}
	if (t->tamper && !CHECK_EQ_INT(t->tamper(&c, t), 0)) {
		snprintf(seen, seencap, "(tampering failed)");
		goto out;
	}
	if (t->against > 0) {
		for (size_t k = 0; k < NCP; k++)
			if (cp_seqs[k] == t->against)
				c.against = c.line[k];
	} else if (t->against == 0) {
		c.against = NULL;
	}
	if (!CHECK_EQ_INT(open_log(&c), 0)) {
		snprintf(seen, seencap, "(audit_open failed)");
		goto out;
	}
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	if (!out) {
		perror("open_memstream");
		exit(2);
	}
	int got = t->check == VERIFY_ARCHIVE ? audit_verify_archive(c.a, c.archive, out)
					     : audit_verify(c.a, (const char *const *)&c.against, c.against ? 1 : 0, out);
	fclose(out);
	close_log(&c);
	char first[1024] = "";
	if (buf)
		snprintf(first, sizeof first, "%.*s", (int)strcspn(buf, "\n"), buf);
	free(buf);
	snprintf(seen, seencap, "rc=%d \"%s\"", got, first);
	CHECK_EQ_INT(got, t->rc);
	if (!CHECK(strncmp(first, t->prefix, strlen(t->prefix)) == 0))
		check_dump_("verdict ", first, strlen(first));
	if (t->substr && !CHECK(strstr(first, t->substr) != NULL)) {
		check_dump_("verdict ", first, strlen(first));
		check_dump_("wanted  ", t->substr, strlen(t->substr));
	}
out:
	if (c.a)
		close_log(&c);
	check_ctx("%s", "");
	if (getenv("KEEP_TMP"))
		fprintf(stderr, "    kept %s\n", c.dir);
	else
		nftw(c.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return check_failed_ == failed_before;
}

static int64_t count_rows(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *q = NULL;
	int64_t n = -1;
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(h);
	return n;
}


/* A durable record is granted only once the write-ahead log is synced, and
 * a sync that failed once fails every durable append after it (Linux
 * reports a write-back error once): here the log's name leads to another
 * file, so the sync cannot be of the file sqlite writes. Ordinary appends go
 * on; a new open of the log starts afresh. */
static void test_a_failed_sync_stays_failed(void)
{
	struct ctx c;
	fresh_dir(&c);
	check_ctx("a failed sync stays failed");
	struct audit_event ev = {
		.time_ns = T0, .uid = 2000, .login = "sync", .department = "admin", .pid = 77,
		.comm = "cat", .exe = "/usr/bin/cat", .mount = "/m", .view = "", .customer_id = 1,
		.field = "credit_limit", .cls = "finance", .action = "open-read", .allow = true,
		.rule = "checkout", .reason = "checkout #1", .checkout_id = 1, .detail = "",
	};
	char wal[PATH_MAX + 32], moved[PATH_MAX + 48];
	snprintf(wal, sizeof wal, "%s-wal", c.db);
	snprintf(moved, sizeof moved, "%s-wal.moved", c.db);
	if (!CHECK_EQ_INT(open_log(&c), 0))
		return;
	CHECK_EQ_INT(audit_append(c.a, &ev, true), 0);
	CHECK_EQ_INT(rename(wal, moved), 0);
	int fd = open(wal, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK(audit_append(c.a, &ev, true) != 0);      /* another file: denied */
	CHECK_EQ_INT(audit_append(c.a, &ev, false), 0); /* not durable: written */
	CHECK_EQ_INT(unlink(wal), 0);
	CHECK_EQ_INT(rename(moved, wal), 0);            /* the right name again */
	CHECK(audit_append(c.a, &ev, true) != 0);      /* still denied */
	audit_flush(c.a);
	/* Each denied one is on the record as denied: the first after its
	 * allowed record, the later one (known to fail) instead of one. */
	CHECK_EQ_INT(count_rows(c.db, "SELECT count(*) FROM audit WHERE rule='not-durable' "
				      "AND allow=0 AND action='open-read'"), 2);
	CHECK_EQ_INT(count_rows(c.db, "SELECT count(*) FROM audit WHERE allow=1"), 3);
	close_log(&c);
	if (CHECK_EQ_INT(open_log(&c), 0)) {
		CHECK_EQ_INT(audit_append(c.a, &ev, true), 0); /* a new open starts afresh */
		close_log(&c);
	}

	/* Afresh: a log left with frames (another connection kept it; a mount
	 * that failed or crashed leaves one so) is copied into the database and
	 * emptied when the log is opened, so no new record chains on its frames. */
	check_ctx("the log starts afresh");
	sqlite3 *other = NULL;
	CHECK_EQ_INT(sqlite3_open_v2(c.db, &other, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(other, "SELECT count(*) FROM audit", NULL, NULL, NULL), SQLITE_OK);
	if (CHECK_EQ_INT(open_log(&c), 0)) {
		for (int i = 0; i < 20; i++)
			CHECK_EQ_INT(audit_append(c.a, &ev, false), 0);
		close_log(&c); /* not the last connection: the log keeps its frames */
	}
	struct stat st;
	CHECK(stat(wal, &st) == 0 && st.st_size > 0);
	int64_t before = count_rows(c.db, "SELECT count(*) FROM audit");
	if (CHECK_EQ_INT(open_log(&c), 0)) {
		CHECK(stat(wal, &st) == 0 && st.st_size == 0);
		CHECK_EQ_INT(count_rows(c.db, "SELECT count(*) FROM audit"), before);
		close_log(&c);
	}
	sqlite3_close(other);
	check_ctx("%s", "");
	nftw(c.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Group commit under contention: threads append at once (some durably,
 * some notes with no waiter), the last appends all together; every append
 * returns, every one that returned 0 is in the log once, and the chain
 * verifies. */
enum { APPENDERS = 8, APPENDS_EACH = 250 };

struct appender {
	struct audit *a;
	pthread_barrier_t *last; /* the last appends start together */
	int n;
	int ok, notes;
};

static void *append_many(void *p)
{
	struct appender *ap = p;
	for (int i = 0; i < APPENDS_EACH; i++) {
		bool last = i == APPENDS_EACH - 1;
		bool note = i % 5 == 4 && !last; /* a close: no waiter */
		struct audit_event ev = {
			.uid = 3000 + (uid_t)ap->n, .login = "many", .department = "sales",
			.pid = 100 + ap->n, .comm = "cat", .exe = "/usr/bin/cat", .mount = "/m",
			.view = "", .customer_id = i + 1, .field = "phone", .cls = "contact",
			.action = note ? "close" : "open-read", .allow = true, .rule = "grant",
			.reason = "", .detail = "",
		};
		/* All at once: one writes, the rest queue behind it with no one
		 * after them; one of them must write the rest. */
		if (last)
			pthread_barrier_wait(ap->last);
		if (note)
			ap->notes += audit_note(ap->a, &ev) == 0;
		else
			ap->ok += audit_append(ap->a, &ev, i % 7 == 3) == 0;
	}
	return NULL;
}

static void test_appends_at_once_each_get_their_batch(void)
{
	struct ctx c;
	fresh_dir(&c);
	check_ctx("appends at once each get their batch");
	if (!CHECK_EQ_INT(open_log(&c), 0))
		return;
	pthread_t t[APPENDERS];
	struct appender ap[APPENDERS];
	pthread_barrier_t last;
	pthread_barrier_init(&last, NULL, APPENDERS);
	for (int i = 0; i < APPENDERS; i++) {
		ap[i] = (struct appender){ .a = c.a, .last = &last, .n = i };
		CHECK_EQ_INT(pthread_create(&t[i], NULL, append_many, &ap[i]), 0);
	}
	int ok = 0, notes = 0;
	for (int i = 0; i < APPENDERS; i++) {
		pthread_join(t[i], NULL);
		ok += ap[i].ok;
		notes += ap[i].notes;
	}
	pthread_barrier_destroy(&last);
	CHECK_EQ_INT(ok, APPENDERS * (APPENDS_EACH * 4 / 5 + 1));
	CHECK_EQ_INT(audit_flush(c.a), 0);
	CHECK_EQ_INT(count_rows(c.db, "SELECT count(*) FROM audit WHERE action='open-read'"), ok);
	CHECK_EQ_INT(count_rows(c.db, "SELECT count(*) FROM audit WHERE action='close'"), notes);
	CHECK_EQ_INT(count_rows(c.db, "SELECT max(seq) - min(seq) + 1 - count(*) FROM audit"), 0);
	char out[4096] = "";
	FILE *f = fmemopen(out, sizeof out, "w");
	CHECK_EQ_INT(audit_verify(c.a, NULL, 0, f), 0);
	fclose(f);
	close_log(&c);
	check_ctx("%s", "");
	nftw(c.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv)
{
	if (crypto_init() != 0) {
		fprintf(stderr, "crypto_init failed\n");
		return 2;
	}
	master = crypto_key_new_random();
	if (!master) {
		fprintf(stderr, "crypto_key_new_random failed\n");
		return 2;
	}
	randombytes_buf(store_id, sizeof store_id);

	size_t ncases = sizeof cases / sizeof *cases, npass = 0, nholes = 0;
	const char *failed[sizeof cases / sizeof *cases];
	size_t nfailed = 0;
	for (size_t i = 0; i < ncases; i++) {
		const struct tcase *t = &cases[i];
		if (argc > 1 && !strstr(t->name, argv[1]))
			continue;
		char seen[1200];
		bool ok = run_case(t, seen, sizeof seen);
		if (ok) {
			npass++;
			printf("PASS  %s\n      got  %s\n", t->name, seen);
			if (t->hole)
				printf("      (marked as a known hole, but passes: fixed?)\n");
		} else {
			failed[nfailed++] = t->name;
			nholes += t->hole != NULL;
			printf("FAIL  %s%s\n      got  %s\n      want rc=%d \"%s...%s\"\n", t->name,
			       t->hole ? "  [known hole, expected to fail on today's code]" : "",
			       seen, t->rc, t->prefix, t->substr ? t->substr : "");
			if (t->hole)
				printf("      why: %s\n", t->hole);
		}
		fflush(stdout);
	}
	if (argc <= 1) {
		test_a_failed_sync_stays_failed();
		test_appends_at_once_each_get_their_batch();
	}
	printf("\ncases: %zu passed, %zu failed (%zu of them known holes)\n", npass, nfailed, nholes);
	for (size_t i = 0; i < nfailed; i++)
		printf("  failed: %s\n", failed[i]);
	crypto_key_free(master);
	return check_done();
}
