/* Checkpoints and verification: is the log still the one custfs wrote?
 *
 * MUST: verify never says OK about a log it could not read in full; it names
 * the first record (or checkpoint) that does not hold. */
#include "audit_internal.h"
#include "i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

static struct db_sql q_all = DB_SQL(AUDIT_SELECT "ORDER BY seq");
static struct db_sql q_cp_insert = DB_SQL(
	"INSERT OR REPLACE INTO checkpoints(seq, hash, time_ns, sig) VALUES(?1, ?2, ?3, ?4)");
static struct db_sql q_cp_all = DB_SQL("SELECT seq, hash, time_ns, sig FROM checkpoints ORDER BY seq");

void checkpoint_text(const struct audit *a, int64_t seq, const unsigned char *hash, int64_t t,
		     char *out, size_t cap)
{
	char id[33], h[AUDIT_HASH_BYTES * 2 + 1];
	sodium_bin2hex(id, sizeof id, a->store_id, 16);
	sodium_bin2hex(h, sizeof h, hash, AUDIT_HASH_BYTES);
	snprintf(out, cap, "custfs-checkpoint 1 %s %lld %s %lld", id, (long long)seq, h,
		 (long long)t);
}

/* ---- the witness ---- */

static int witness_path(const struct audit *a, const char *dir, char *out, size_t cap)
{
	char id[33];
	struct stat st;
	sodium_bin2hex(id, sizeof id, a->store_id, 16);
	if (stat(dir, &st) == 0 && S_ISREG(st.st_mode))
		return (size_t)snprintf(out, cap, "%s", dir) < cap ? 0 : ENAMETOOLONG;
	return (size_t)snprintf(out, cap, "%s/%s.checkpoints", dir, id) < cap ? 0 : ENAMETOOLONG;
}

int audit_set_witness(struct audit *a, const char *dir)
{
	struct stat st;
	if (stat(dir, &st) != 0)
		return errno;
	if (!S_ISDIR(st.st_mode))
		return ENOTDIR;
	free(a->witness);
	a->witness = strdup(dir);
	return a->witness ? 0 : ENOMEM;
}

static int witness_append(struct audit *a, const char *line)
{
	char path[PATH_MAX];
	int rc = witness_path(a, a->witness, path, sizeof path);
	int fd = rc ? -1 : open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return rc ? rc : errno;
	size_t len = strlen(line);
	char *buf = malloc(len + 1);
	if (!buf) {
		close(fd);
		return ENOMEM;
	}
	memcpy(buf, line, len);
	buf[len] = '\n';
	ssize_t w = write(fd, buf, len + 1); /* one write: O_APPEND keeps lines whole */
	rc = w == (ssize_t)len + 1 ? 0 : w < 0 ? errno : EIO;
	free(buf);
	if (!rc && fsync(fd) != 0)
		rc = errno;
	close(fd);
	return rc;
}

int audit_witness_lines(struct audit *a, const char *dir, char ***lines, size_t *n, FILE *out)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0, ncap = 0;
	*lines = NULL;
	*n = 0;
	int rc = witness_path(a, dir, path, sizeof path);
	FILE *f = rc ? NULL : fopen(path, "re");
	if (!f) {
		rc = rc ? rc : errno;
		fprintf(out, _("BAD: the witness %s: %s\n"), path, strerror(rc));
		return rc;
	}
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		if (*n == ncap) {
			ncap = ncap ? ncap * 2 : 64;
			char **g = realloc(*lines, ncap * sizeof *g);
			if (!g) {
				rc = ENOMEM;
				break;
			}
			*lines = g;
		}
		if (!((*lines)[*n] = strdup(line))) {
			rc = ENOMEM;
			break;
		}
		(*n)++;
	}
	free(line);
	fclose(f);
	if (!rc && *n == 0) {
		fprintf(out, _("BAD: the witness %s holds no checkpoint\n"), path);
		rc = ENOENT;
	}
	return rc;
}

int audit_checkpoint(struct audit *a, char *line, size_t cap)
{
	int err = 0;
	int64_t seq = 0;
	unsigned char hash[AUDIT_HASH_BYTES] = { 0 }, sig[crypto_sign_BYTES];
	char text[256], sighex[crypto_sign_BYTES * 2 + 1];
	int64_t t = clock_now_ns();

	audit_flush(a);
	audit_take_turn(a);
	if ((err = db_exec(a->db, &audit_q_begin))) {
		audit_give_turn(a);
		return err;
	}
	sqlite3_stmt *s = db_stmt(a->db, &audit_q_last, &err);
	if (s) {
		if (sqlite3_step(s) == SQLITE_ROW &&
		    sqlite3_column_bytes(s, 1) == AUDIT_HASH_BYTES) {
			seq = sqlite3_column_int64(s, 0);
			memcpy(hash, sqlite3_column_blob(s, 1), AUDIT_HASH_BYTES);
		}
		db_done(s);
	}
	checkpoint_text(a, seq, hash, t, text, sizeof text);
	crypto_sign_detached(sig, NULL, (const unsigned char *)text, strlen(text), a->sk);
	if (!err && seq > 0 && (s = db_stmt(a->db, &q_cp_insert, &err))) {
		sqlite3_bind_int64(s, 1, seq);
		sqlite3_bind_blob(s, 2, hash, AUDIT_HASH_BYTES, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, t);
		sqlite3_bind_blob(s, 4, sig, sizeof sig, SQLITE_STATIC);
		err = db_step_done(s, "keep the checkpoint");
	}
	err = err ? err : db_exec(a->db, &audit_q_commit);
	if (err)
		audit_rollback(a->db);
	audit_give_turn(a);
	if (err)
		return err;
	sodium_bin2hex(sighex, sizeof sighex, sig, sizeof sig);
	snprintf(line, cap, "%s %s", text, sighex);
	if (a->witness && seq > 0 && (err = witness_append(a, line)) != 0) {
		log_err("audit: the checkpoint at record %lld cannot be written to the witness %s: "
			"%s", (long long)seq, a->witness, strerror(err));
		return err;
	}
	if (seq > 0 && log_to_system())
		log_info("audit checkpoint: %s", line); /* the journal keeps a copy too */
	return 0;
}

/* Parses and checks a checkpoint line's signature. */
static int parse_line(const struct audit *a, const char *line, int64_t *seq,
		      unsigned char hash[AUDIT_HASH_BYTES], FILE *out)
{
	char id[64], h[128], sighex[256];
	long long s = 0, t = 0;
	int ver = 0;
	unsigned char sig[crypto_sign_BYTES];
	if (sscanf(line, "custfs-checkpoint %d %63s %lld %127s %lld %255s", &ver, id, &s, h, &t,
		   sighex) != 6 || ver != 1) {
		fprintf(out, _("BAD: not a custfs checkpoint line\n"));
		return -1;
	}
	char text[256];
	size_t n = 0;
	if (sodium_hex2bin(hash, AUDIT_HASH_BYTES, h, strlen(h), NULL, &n, NULL) != 0 ||
	    n != AUDIT_HASH_BYTES ||
	    sodium_hex2bin(sig, sizeof sig, sighex, strlen(sighex), NULL, &n, NULL) != 0 ||
	    n != sizeof sig) {
		fprintf(out, _("BAD: malformed checkpoint line\n"));
		return -1;
	}
	checkpoint_text(a, s, hash, t, text, sizeof text);
	if (strncmp(line, text, strlen(text)) != 0 ||
	    crypto_sign_verify_detached(sig, (const unsigned char *)text, strlen(text), a->pk) != 0) {
		fprintf(out, _("BAD: the checkpoint's signature does not verify with this store's key\n"));
		return -1;
	}
	*seq = s;
	return 0;
}

/* A signed checkpoint, checked: from the log itself, or kept elsewhere (a
 * line given with --against, or a witness file). */
struct kept_cp {
	int64_t seq;
	unsigned char hash[AUDIT_HASH_BYTES];
	bool outside; /* kept outside the log */
};

static int push_cp(struct kept_cp **v, size_t *n, size_t *cap, int64_t seq,
		   const unsigned char *hash, bool outside)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct kept_cp *g = realloc(*v, ncap * sizeof *g);
		if (!g)
			return ENOMEM;
		*v = g;
		*cap = ncap;
	}
	(*v)[*n].seq = seq;
	memcpy((*v)[*n].hash, hash, AUDIT_HASH_BYTES);
	(*v)[*n].outside = outside;
	(*n)++;
	return 0;
}

/* Loads every checkpoint stored in the log, checking each one's signature.
 * 0, or 1 with the verdict written. */
static int load_checkpoints(struct audit *a, struct kept_cp **v, size_t *n, size_t *cap,
			    FILE *o)
{
	int err = 0, rc, bad = 0;
	sqlite3_stmt *q = db_stmt(a->db, &q_cp_all, &err);
	if (!q) {
		fprintf(o, _("BAD: cannot read the checkpoints: %s\n"), strerror(err));
		return 1;
	}
	while (!bad && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(q, 0);
		const unsigned char *h = sqlite3_column_blob(q, 1);
		int64_t t = sqlite3_column_int64(q, 2);
		char text[256];
		if (!h || sqlite3_column_bytes(q, 1) != AUDIT_HASH_BYTES ||
		    sqlite3_column_bytes(q, 3) != crypto_sign_BYTES) {
			fprintf(o, _("BAD: checkpoint at record %lld is malformed\n"), (long long)seq);
			bad = 1;
			break;
		}
		checkpoint_text(a, seq, h, t, text, sizeof text);
		if (crypto_sign_verify_detached(sqlite3_column_blob(q, 3),
						(const unsigned char *)text, strlen(text), a->pk) != 0) {
			fprintf(o, _("BAD: checkpoint at record %lld has a bad signature\n"),
				(long long)seq);
			bad = 1;
			break;
		}
		if (push_cp(v, n, cap, seq, h, false)) {
			fprintf(o, _("BAD: out of memory\n"));
			bad = 1;
		}
	}
	if (!bad && rc != SQLITE_DONE) {
		fprintf(o, _("BAD: cannot read the checkpoints\n"));
		bad = 1;
	}
	db_done(q);
	return bad;
}

/* Where the chain starts: after the last archive's signed end. */
static int chain_start(struct audit *a, int64_t *archived, unsigned char prev[AUDIT_HASH_BYTES],
		       FILE *out)
{
	int err = 0, bad = 0;
	*archived = 0;
	sqlite3_stmt *aq = db_stmt(a->db, &audit_q_archive_last, &err);
	if (!aq) {
		fprintf(out, _("BAD: cannot read the archive markers: %s\n"), strerror(err));
		return 1;
	}
	if (sqlite3_step(aq) == SQLITE_ROW) {
		char text[512];
		*archived = sqlite3_column_int64(aq, 0);
		const unsigned char *h = sqlite3_column_blob(aq, 2);
		if (!h || sqlite3_column_bytes(aq, 2) != AUDIT_HASH_BYTES ||
		    sqlite3_column_bytes(aq, 5) != crypto_sign_BYTES) {
			bad = 1;
		} else {
			archive_text(a, sqlite3_column_int64(aq, 1), *archived, h,
				     sqlite3_column_int64(aq, 3),
				     (const char *)sqlite3_column_text(aq, 4), text, sizeof text);
			bad = crypto_sign_verify_detached(sqlite3_column_blob(aq, 5),
							  (const unsigned char *)text, strlen(text),
							  a->pk) != 0;
			memcpy(prev, h, AUDIT_HASH_BYTES);
		}
		if (bad)
			fprintf(out, _("BAD: the archive marker (records up to %lld) has a bad "
				     "signature\n"), (long long)*archived);
	}
	db_done(aq);
	return bad;
}

static int by_seq(const void *x, const void *y)
{
	const struct kept_cp *a = x, *b = y;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return (int)b->outside - (int)a->outside; /* kept outside first: the stronger proof */
}

/* Walks the chain from the archive's end, comparing each record with the
 * checkpoints at its seq. 0 or 1 (verdict written); *LAST the last record. */
static int walk(struct audit *a, int64_t archived, unsigned char prev[AUDIT_HASH_BYTES],
		const struct kept_cp *cps, size_t ncp, size_t *k, int64_t *n, int64_t *last,
		FILE *out)
{
	int err = 0, rc = SQLITE_DONE, bad = 0;
	unsigned char want[AUDIT_HASH_BYTES];
	int64_t expect = archived + 1;
	struct audit_record *r = malloc(sizeof *r);
	sqlite3_stmt *q = r ? db_stmt(a->db, &q_all, &err) : NULL;
	if (!q) {
		fprintf(out, _("BAD: cannot read the log: %s\n"), strerror(err ? err : ENOMEM));
		free(r);
		return 1;
	}
	while (!bad && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		bool well_formed = record_read(q, r);
		(*n)++;
		if (r->seq != expect) {
			fprintf(out, _("BAD: record %lld is missing (deleted): the log jumps from %lld "
				     "to %lld\n"), (long long)expect, (long long)expect - 1,
				(long long)r->seq);
			bad = 1;
			break;
		}
		if (memcmp(r->prev, prev, AUDIT_HASH_BYTES) != 0) {
			fprintf(out, _("BAD: record %lld does not follow record %lld (records deleted, "
				     "swapped or edited before it)\n"), (long long)r->seq,
				(long long)r->seq - 1);
			bad = 1;
			break;
		}
		record_hash(r->seq, prev, &r->ev, want);
		if (!well_formed || memcmp(want, r->hash, AUDIT_HASH_BYTES) != 0) {
			fprintf(out, _("BAD: record %lld was edited (its contents do not match its "
				     "hash)\n"), (long long)r->seq);
			bad = 1;
			break;
		}
		/* Each signed checkpoint pins the chain at its record: a chain
		 * recomputed after an edit no longer passes through it. */
		for (; !bad && *k < ncp && cps[*k].seq == r->seq; (*k)++) {
			if (memcmp(cps[*k].hash, r->hash, AUDIT_HASH_BYTES) == 0)
				continue;
			if (cps[*k].outside)
				fprintf(out, _("BAD: record %lld differs from the checkpoint you kept (the "
					     "log was rewritten)\n"), (long long)r->seq);
			else
				fprintf(out, _("BAD: the signed checkpoint at record %lld does not "
					     "match the log (the log was rewritten)\n"),
					(long long)r->seq);
			bad = 1;
		}
		memcpy(prev, r->hash, AUDIT_HASH_BYTES);
		expect++;
	}
	if (!bad && rc != SQLITE_DONE) {
		fprintf(out, _("BAD: cannot read the log to its end\n"));
		bad = 1;
	}
	db_done(q);
	free(r);
	*last = expect - 1;
	return bad;
}

int audit_verify(struct audit *a, const char *const *kept, size_t nkept, FILE *out)
{
	return audit_verify_verdict(a, kept, nkept, out, NULL);
}

int audit_verify_verdict(struct audit *a, const char *const *kept, size_t nkept, FILE *out,
			 struct audit_verdict *v)
{
	unsigned char prev[AUDIT_HASH_BYTES] = { 0 };
	int64_t archived = 0, n = 0, last = 0;
	struct kept_cp *cps = NULL;
	size_t ncp = 0, cap = 0, k = 0, nstored = 0;
	int bad = 0;

	for (size_t i = 0; !bad && i < nkept; i++) {
		int64_t seq = 0;
		unsigned char hash[AUDIT_HASH_BYTES];
		bad = parse_line(a, kept[i], &seq, hash, out) != 0 ||
		      push_cp(&cps, &ncp, &cap, seq, hash, true) != 0;
	}
	if (!bad)
		bad = chain_start(a, &archived, prev, out);
	if (!bad) {
		size_t before = ncp;
		bad = load_checkpoints(a, &cps, &ncp, &cap, out);
		nstored = ncp - before;
	}
	if (!bad) {
		if (ncp)
			qsort(cps, ncp, sizeof *cps, by_seq);
		/* Checkpoints inside the archived part are the archive file's to prove. */
		while (k < ncp && cps[k].seq <= archived)
			k++;
		bad = walk(a, archived, prev, cps, ncp, &k, &n, &last, out);
	}
	if (!bad && k < ncp) {
		/* The log ends before a checkpoint: cut short. The last one decides
		 * the message: kept outside, the log cannot have forged it. */
		const struct kept_cp *c = &cps[ncp - 1];
		if (c->outside)
			fprintf(out, _("BAD: the log ends at record %lld, before the checkpoint you kept "
				     "(record %lld): truncated\n"), (long long)last, (long long)c->seq);
		else
			fprintf(out, _("BAD: the log ends at record %lld but was checkpointed at record "
				     "%lld: truncated after the checkpoint\n"), (long long)last,
				(long long)c->seq);
		bad = 1;
	}
	free(cps);
	if (v) {
		v->records = n;
		v->last_seq = last;
		v->archived = archived;
		v->signed_checkpoints = nstored;
		v->kept_checkpoints = nkept;
	}
	if (bad)
		return 1;
	fprintf(out, _("OK: %lld records, hash chain intact%s%s%s\n"), (long long)n,
		nstored ? _(", signed checkpoints verified") : "",
		archived ? _(", resuming after the signed archive marker") : "",
		nkept == 1 ? _(", and it extends the checkpoint you kept")
		: nkept > 1 ? _(", and it extends every checkpoint kept outside it") : "");
	return 0;
}
