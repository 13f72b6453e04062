/* Retention: records older than a date leave the log into a signed archive
 * file (one JSON line per record, then a signed trailer), and the log keeps a
 * signed marker of what left (R5.1: nothing leaves without a record).
 *
 * MUST: the reader trusts nothing in the file: every line is parsed strictly
 * (record_parse_json), every hash recomputed, the trailer's signature checked
 * against this store's key; any doubt is BAD. */
#include "audit_internal.h"
#include "i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

static struct db_sql q_all = DB_SQL(AUDIT_SELECT "ORDER BY seq");
static struct db_sql q_before = DB_SQL(
	"SELECT max(seq) FROM audit WHERE seq < (SELECT coalesce(min(seq), 1 << 62) FROM audit "
	"WHERE time_ns >= ?1)");
static struct db_sql q_archive_insert = DB_SQL(
	"INSERT INTO archives(last_seq, first_seq, last_hash, time_ns, file, sig) "
	"VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
static struct db_sql q_archive_delete = DB_SQL("DELETE FROM audit WHERE seq <= ?1");

void archive_text(const struct audit *a, int64_t first, int64_t last, const unsigned char *hash,
		  int64_t t, const char *file, char *out, size_t cap)
{
	char id[33], h[AUDIT_HASH_BYTES * 2 + 1] = "";
	sodium_bin2hex(id, sizeof id, a->store_id, 16);
	if (hash)
		sodium_bin2hex(h, sizeof h, hash, AUDIT_HASH_BYTES);
	snprintf(out, cap, "custfs-archive 1 %s %lld %lld %s %lld %s", id, (long long)first,
		 (long long)last, h, (long long)t, file ? file : "");
}

/* Writes records FIRST..LAST to F; *FIRST and LAST_HASH tell what was written. */
static int write_records(struct audit *a, FILE *f, int64_t last, int64_t *first,
			 unsigned char last_hash[AUDIT_HASH_BYTES])
{
	int err = 0, rc;
	struct audit_record *r = malloc(sizeof *r);
	sqlite3_stmt *q = r ? db_stmt(a->db, &q_all, &err) : NULL;
	if (!r)
		return ENOMEM;
	if (!q) {
		free(r);
		return err;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		(void)record_read(q, r);
		if (r->seq > last)
			break;
		if (!*first)
			*first = r->seq;
		record_write_json(f, r);
		putc('\n', f);
		memcpy(last_hash, r->hash, AUDIT_HASH_BYTES);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = db_map_rc(db_conn(q), rc, "read the audit log");
	db_done(q);
	free(r);
	return err;
}

/* The log keeps a signed marker of what left, and the records go. */
static int keep_marker(struct audit *a, int64_t first, int64_t last, const unsigned char *hash,
		       int64_t t, const char *path, const unsigned char *sig)
{
	int err = 0;
	audit_take_turn(a);
	err = db_exec(a->db, &audit_q_begin);
	sqlite3_stmt *s = err ? NULL : db_stmt(a->db, &q_archive_insert, &err);
	if (s) {
		sqlite3_bind_int64(s, 1, last);
		sqlite3_bind_int64(s, 2, first);
		sqlite3_bind_blob(s, 3, hash, AUDIT_HASH_BYTES, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, t);
		sqlite3_bind_text(s, 5, path, -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 6, sig, crypto_sign_BYTES, SQLITE_STATIC);
		err = db_step_done(s, "keep the archive marker");
	}
	if (!err && (s = db_stmt(a->db, &q_archive_delete, &err))) {
		sqlite3_bind_int64(s, 1, last);
		err = db_step_done(s, "archive records");
	}
	err = err ? err : db_exec(a->db, &audit_q_commit);
	if (err)
		audit_rollback(a->db);
	audit_give_turn(a);
	return err;
}

int audit_archive(struct audit *a, int64_t before_ns, const char *path, FILE *out)
{
	int err = 0;
	int64_t last = 0, first = 0;
	unsigned char last_hash[AUDIT_HASH_BYTES] = { 0 };
	sqlite3_stmt *q = db_stmt(a->db, &q_before, &err);
	if (!q)
		return err;
	sqlite3_bind_int64(q, 1, before_ns);
	if (sqlite3_step(q) == SQLITE_ROW)
		last = sqlite3_column_int64(q, 0);
	db_done(q);
	if (last <= 0) {
		fprintf(out, _("nothing to archive before that date\n"));
		return 0;
	}
	if (strchr(path, ' ') || strchr(path, '\n')) {
		fprintf(out, _("custctl: %s: an archive's name may not contain blanks\n"), path);
		return EINVAL;
	}
	FILE *f = NULL;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		err = errno;
		fprintf(out, "custctl: %s: %s\n", path, strerror(err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	err = write_records(a, f, last, &first, last_hash);
	int64_t t = clock_now_ns();
	char text[1024], sighex[crypto_sign_BYTES * 2 + 1];
	unsigned char sig[crypto_sign_BYTES];
	archive_text(a, first, last, last_hash, t, path, text, sizeof text);
	crypto_sign_detached(sig, NULL, (const unsigned char *)text, strlen(text), a->sk);
	sodium_bin2hex(sighex, sizeof sighex, sig, sizeof sig);
	fprintf(f, "%s %s\n", text, sighex);
	if (!err && (fflush(f) != 0 || fsync(fileno(f)) != 0))
		err = errno ? errno : EIO;
	fclose(f);
	if (!err)
		err = keep_marker(a, first, last, last_hash, t, path, sig);
	if (err) {
		unlink(path);
		return err;
	}
	fprintf(out, _("archived records %lld..%lld to %s (signed); the log keeps a signed marker\n"),
		(long long)first, (long long)last, path);
	return 0;
}

/* The trailer: "custfs-archive 1 ID FIRST LAST HASH TIME FILE SIG". */
static int check_trailer(struct audit *a, char *line, int64_t first, int64_t last,
			 const unsigned char *prev, FILE *out)
{
	char id[64], hh[128], file[1024], sighex[256], text[1024];
	long long fs = 0, ls = 0, t = 0;
	unsigned char sig[crypto_sign_BYTES], h[AUDIT_HASH_BYTES];
	size_t got = 0;
	line[strcspn(line, "\n")] = '\0';
	char *lastsp = strrchr(line, ' ');
	if (!lastsp || sscanf(line, "custfs-archive 1 %63s %lld %lld %127s %lld %1023s", id, &fs,
			      &ls, hh, &t, file) != 6 ||
	    sodium_hex2bin(h, sizeof h, hh, strlen(hh), NULL, &got, NULL) || got != sizeof h) {
		fprintf(out, _("BAD: malformed archive trailer\n"));
		return 1;
	}
	snprintf(sighex, sizeof sighex, "%s", lastsp + 1);
	*lastsp = '\0';
	archive_text(a, fs, ls, h, t, file, text, sizeof text);
	if (strcmp(text, line) != 0 ||
	    sodium_hex2bin(sig, sizeof sig, sighex, strlen(sighex), NULL, &got, NULL) ||
	    got != sizeof sig ||
	    crypto_sign_verify_detached(sig, (const unsigned char *)text, strlen(text), a->pk) != 0) {
		fprintf(out, _("BAD: the archive's signature does not verify\n"));
		return 1;
	}
	if (fs != first || ls != last || memcmp(h, prev, sizeof h) != 0) {
		fprintf(out, _("BAD: the archive's records do not match its signed summary\n"));
		return 1;
	}
	return 0;
}

int audit_verify_archive_stream(struct audit *a, FILE *f, FILE *out)
{
	char *line = NULL;
	size_t cap = 0;
	int64_t n = 0, expect = 0, first = 0, last = 0;
	unsigned char prev[AUDIT_HASH_BYTES] = { 0 }, calc[AUDIT_HASH_BYTES];
	struct audit_record *r = malloc(sizeof *r);
	int verdict = -1;
	if (!r) {
		fprintf(out, _("BAD: out of memory\n"));
		return 1;
	}
	while (verdict < 0 && getline(&line, &cap, f) > 0) {
		if (!strncmp(line, "custfs-archive ", 15)) {
			verdict = check_trailer(a, line, first, last, prev, out);
			/* Nothing may follow the signed trailer. */
			if (verdict == 0 && getline(&line, &cap, f) > 0) {
				fprintf(out, _("BAD: the archive goes on after its signed trailer\n"));
				verdict = 1;
			}
			if (verdict == 0)
				fprintf(out, _("OK: archive of records %lld..%lld intact and signed by "
					     "this store\n"), (long long)first, (long long)last);
			break;
		}
		if (record_parse_json(line, r) != 0) {
			fprintf(out, _("BAD: archive line %lld is not a record\n"), (long long)n + 1);
			verdict = 1;
			break;
		}
		if (n == 0) {
			first = expect = r->seq;
			memcpy(prev, r->prev, sizeof prev);
		}
		record_hash(r->seq, prev, &r->ev, calc);
		if (r->seq != expect || memcmp(r->prev, prev, sizeof prev) ||
		    memcmp(calc, r->hash, sizeof calc)) {
			fprintf(out, _("BAD: archived record %lld was edited, moved or removed\n"),
				(long long)r->seq);
			verdict = 1;
			break;
		}
		memcpy(prev, calc, sizeof prev);
		last = r->seq;
		expect++;
		n++;
	}
	if (verdict < 0) {
		fprintf(out, _("BAD: the archive has no signed trailer (cut short)\n"));
		verdict = 1;
	}
	free(line);
	free(r);
	return verdict;
}

int audit_verify_archive(struct audit *a, const char *path, FILE *out)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		fprintf(out, _("BAD: %s: %s\n"), path, strerror(errno));
		return 1;
	}
	int rc = audit_verify_archive_stream(a, f, out);
	fclose(f);
	return rc;
}
