/* Checking a backup: its files against the manifest (copied, as they are
 * checked, into a directory of ours: sqlite and the vault write beside a
 * database they open, and a backup is never written to), then sqlite's
 * integrity check, the audit chain, and with the key every sealed thing in
 * the store. `backup verify` throws the copy away; `restore` makes it the
 * store. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup.h"
#include "i18n.h"
#include "ctl_backup.h"
#include "store.h"
#include "text.h"

static int join(char *out, size_t cap, const char *dir, const char *name)
{
	return (size_t)snprintf(out, cap, "%s/%s", dir, name) < cap ? 0 : ENAMETOOLONG;
}

/* Every entry of DEST (and of DEST/policy) must be the manifest's. */
static int only_listed(const char *dest, const struct manifest *m, const char *sub, char *err,
		       size_t errlen)
{
	char path[PATH_MAX], name[PATH_MAX];
	if (join(path, sizeof path, dest, sub ? sub : ".") != 0)
		return ENAMETOOLONG;
	DIR *d = opendir(path);
	if (!d) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return 1;
	}
	struct dirent *e;
	int bad = 0;
	while (!bad && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!sub && !strcmp(e->d_name, BACKUP_MANIFEST))
			continue;
		struct stat st;
		if (!sub && !strcmp(e->d_name, VAULT_POLICY_DIR) &&
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode)) {
			bad = only_listed(dest, m, VAULT_POLICY_DIR, err, errlen);
			continue;
		}
		snprintf(name, sizeof name, "%s%s%s", sub ? sub : "", sub ? "/" : "", e->d_name);
		if (!manifest_find(m, name)) {
			snprintf(err, errlen, _("%s/%s is not in the manifest (the backup was changed)"),
				 text_inert(dest), text_inert(name));
			bad = 1;
		}
	}
	closedir(d);
	return bad;
}

int backup_stage(const char *dest, const struct manifest *m, const char *dir,
		 struct backup_counts *c, char *err, size_t errlen)
{
	char src[PATH_MAX], dst[PATH_MAX];
	unsigned char hash[BACKUP_HASH_BYTES];
	bool policy_made = false;

	if (only_listed(dest, m, NULL, err, errlen))
		return 1;
	for (size_t i = 0; i < m->nfiles; i++) {
		const struct backup_file *f = &m->file[i];
		if (join(src, sizeof src, dest, f->name) || join(dst, sizeof dst, dir, f->name)) {
			snprintf(err, errlen, _("%s: path is too long"), dest);
			return 1;
		}
		if (!policy_made && strchr(f->name, '/')) {
			if (join(dst, sizeof dst, dir, VAULT_POLICY_DIR) || mkdir(dst, 0700) != 0) {
				snprintf(err, errlen, "%s: %s", dst, strerror(errno));
				return 1;
			}
			policy_made = true;
			join(dst, sizeof dst, dir, f->name);
		}
		bool key = !strcmp(f->name, VAULT_KEY_FILE);
		struct stat st;
		int in = open(src, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (in < 0 || fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "%s: %s", text_inert(src),
				 in < 0 ? strerror(errno) : _("not a regular file"));
			if (in >= 0)
				close(in);
			return 1;
		}
		int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			       key ? 0400 : 0600);
		int64_t size = 0;
		int rc = out < 0 ? errno : backup_hash_copy(in, out, &size, hash);
		if (!rc && fsync(out) != 0)
			rc = errno;
		if (out >= 0 && close(out) != 0 && !rc)
			rc = errno;
		close(in);
		if (rc) {
			snprintf(err, errlen, _("%s: cannot copy: %s"), text_inert(src), strerror(rc));
			return 1;
		}
		if (size != f->size) {
			snprintf(err, errlen, _("%s is %lld bytes; the manifest says %lld (damaged or "
				 "changed)"), text_inert(src), (long long)size, (long long)f->size);
			return 1;
		}
		if (sodium_memcmp(hash, f->hash, sizeof hash) != 0) {
			snprintf(err, errlen, _("%s does not match its hash in the manifest (damaged or "
				 "changed)"), text_inert(src));
			return 1;
		}
		c->files++;
		c->bytes += size;
	}
	if ((policy_made && join(dst, sizeof dst, dir, VAULT_POLICY_DIR) == 0 &&
	     backup_fsync_dir(dst) != 0) || backup_fsync_dir(dir) != 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return 1;
	}
	return 0;
}

int backup_check_files(const char *dir, const struct manifest *m, struct backup_counts *c,
		       char *err, size_t errlen)
{
	char path[PATH_MAX], msg[512];
	static const char *const dbs[] = { STORE_DB_FILE, AUDIT_DB_FILE };

	for (size_t i = 0; i < sizeof dbs / sizeof *dbs; i++) {
		if (join(path, sizeof path, dir, dbs[i]))
			return 1;
		int rc = db_integrity_check(path, msg, sizeof msg);
		if (rc) {
			snprintf(err, errlen, _("%s fails sqlite's integrity check: %s"), dbs[i],
				 text_inert(msg));
			return 1;
		}
	}
	/* The store id: the manifest's, the store's and the log's are one. */
	struct db *db = NULL;
	unsigned char id[STORE_ID_BYTES];
	size_t idlen = 0;
	join(path, sizeof path, dir, STORE_DB_FILE);
	int rc = store_open(path, false, &db);
	if (!rc)
		rc = store_meta_get(db, "store_id", id, sizeof id, &idlen);
	db_close(db);
	if (rc || idlen != sizeof id || memcmp(id, m->store_id, sizeof id) != 0) {
		snprintf(err, errlen, "%s: %s", STORE_DB_FILE,
			 rc ? _("has no store id: not a custfs database")
			    : _("belongs to another store than the manifest's"));
		return 1;
	}
	struct audit *a = NULL;
	if (audit_open_readonly(dir, m->store_id, &a, msg, sizeof msg) != 0) {
		snprintf(err, errlen, "%s", msg);
		return 1;
	}
	char *verdict = NULL;
	size_t vlen = 0;
	FILE *out = open_memstream(&verdict, &vlen);
	rc = out ? audit_verify(a, NULL, 0, out) : ENOMEM;
	if (out)
		fclose(out);
	audit_close(a);
	if (verdict)
		verdict[strcspn(verdict, "\n")] = '\0';
	if (rc) {
		snprintf(err, errlen, "%s: %s", AUDIT_DB_FILE, verdict ? verdict : _("out of memory"));
		free(verdict);
		return 1;
	}
	snprintf(c->audit, sizeof c->audit, "%s",
		 verdict && !strncmp(verdict, "OK: ", 4) ? verdict + 4 : "intact");
	free(verdict);
	return 0;
}

/* ---- every sealed thing, through the vault ---- */

struct walk {
	struct vault *v;
	struct backup_counts *c;
	char *err;
	size_t errlen;
	int bad;
	int64_t last;       /* the last customer id listed */
	int64_t field_id;   /* the field whose versions are walked */
	int64_t customer_id;
	char field[1100];   /* the field's name, made inert for messages */
	int64_t expect;     /* the next version number */
	struct secbuf value;
	bool progress;
};

static void show_progress(struct walk *w)
{
	if (w->progress && (w->c->versions % 2000) == 0)
		fprintf(stderr, _("\rverifying: %lld customers, %lld fields, %lld versions"),
			(long long)w->c->customers, (long long)w->c->fields,
			(long long)w->c->versions);
}

static int check_customer(void *p, const struct customer_row *r)
{
	struct walk *w = p;
	struct customer cust;
	unsigned char wrapped[STORE_WRAPPED_KEY_MAX];
	size_t len = 0;
	struct aad a;

	w->last = r->id;
	w->c->customers++;
	if (vault_customer_get(w->v, r->id, &cust) != 0) {
		snprintf(w->err, w->errlen, _("customer #%lld: its name does not authenticate"),
			 (long long)r->id);
		w->bad = 1;
		return 1;
	}
	unsigned char *dk = crypto_thread_key();
	int rc = dk ? store_customer_key(w->v->db, r->id, wrapped, sizeof wrapped, &len) : ENOMEM;
	if (!rc) {
		crypto_aad_datakey(&a, w->v->store_id, cust.name);
		rc = crypto_unwrap_key_into(w->v->master, &a, wrapped, len, dk);
		sodium_memzero(dk, CRYPTO_KEY_BYTES);
	}
	sodium_memzero(&cust, sizeof cust);
	if (rc) {
		snprintf(w->err, w->errlen, _("customer #%lld: its data key %s"), (long long)r->id,
			 rc == EBADMSG ? _("does not authenticate") : strerror(rc));
		w->bad = 1;
		return 1;
	}
	return 0;
}

static int check_version(void *p, const struct version_row *vr)
{
	struct walk *w = p;
	/* A prune removes a field's oldest versions (retention.h), never one
	 * between two it keeps: the versions run without a gap from the first
	 * kept to the current one. */
	if (w->expect == 0)
		w->expect = vr->version;
	if (vr->version != w->expect) {
		snprintf(w->err, w->errlen, _("customer #%lld field '%s': version %lld is missing"),
			 (long long)w->customer_id, w->field, (long long)w->expect);
		w->bad = 1;
		return 1;
	}
	int rc = vault_read(w->v, w->field_id, vr->version, &w->value);
	if (!rc && (int64_t)w->value.len != vr->size)
		rc = ERANGE;
	secbuf_truncate(&w->value, 0);
	if (rc) {
		snprintf(w->err, w->errlen, _("customer #%lld field '%s' version %lld %s"),
			 (long long)w->customer_id, w->field, (long long)vr->version,
			 rc == EIO ? _("does not decrypt and authenticate")
			 : rc == ERANGE ? _("is not the size its row says") : strerror(rc));
		w->bad = 1;
		return 1;
	}
	w->expect++;
	w->c->versions++;
	show_progress(w);
	return 0;
}

static int check_field(void *p, const struct field_row *f)
{
	struct walk *w = p;
	struct field_row row;
	w->c->fields++;
	/* The row's MAC, and no version newer than the one it points at. */
	int rc = vault_field_get(w->v, f->id, &row);
	if (rc) {
		snprintf(w->err, w->errlen, _("customer #%lld field '%s': %s"),
			 (long long)f->customer_id, text_inert(f->name),
			 rc == EIO ? _("its row does not authenticate (or points at an older version "
				     "than it has)") : strerror(rc));
		w->bad = 1;
		return 1;
	}
	/* An erased customer's data key and name are gone by design (erasure.h):
	 * its fields' rows are checked, their versions cannot be. Customers are
	 * never deleted, so a customer that is not there was erased. */
	struct customer cust;
	rc = vault_customer_get(w->v, row.customer_id, &cust);
	sodium_memzero(&cust, sizeof cust);
	if (rc == ENOENT) {
		w->c->fields--;
		w->c->erased_fields++;
		return 0;
	}
	if (rc) {
		snprintf(w->err, w->errlen, _("customer #%lld: its name does not authenticate"),
			 (long long)row.customer_id);
		w->bad = 1;
		return 1;
	}
	w->field_id = row.id;
	w->customer_id = row.customer_id;
	snprintf(w->field, sizeof w->field, "%s", text_inert(row.name));
	w->expect = 0;
	rc = store_version_list(w->v->db, row.id, check_version, w);
	if (w->expect == 0)
		w->expect = 1; /* no version at all */
	if (!w->bad && rc) {
		snprintf(w->err, w->errlen, _("cannot list versions: %s"), strerror(rc));
		w->bad = 1;
	}
	if (!w->bad && w->expect - 1 != row.version) {
		snprintf(w->err, w->errlen, _("customer #%lld field '%s': its row says version %lld, "
			 "the versions end at %lld"), (long long)row.customer_id, w->field,
			 (long long)row.version, (long long)(w->expect - 1));
		w->bad = 1;
	}
	return w->bad;
}

int backup_check_values(struct vault *v, struct backup_counts *c, char *err, size_t errlen)
{
	struct walk w = { .v = v, .c = c, .err = err, .errlen = errlen, .value = SECBUF_INIT,
			  .progress = isatty(STDERR_FILENO) };
	int rc = 0;
	for (;;) {
		int64_t before = w.last;
		rc = store_customer_list(v->db, w.last, 256, check_customer, &w);
		if (rc || w.bad || w.last == before)
			break;
	}
	if (!rc && !w.bad)
		rc = store_field_all(v->db, check_field, &w);
	if (w.progress)
		fprintf(stderr, "\r\033[K");
	secbuf_free(&w.value);
	if (w.bad)
		return 1;
	if (rc) {
		snprintf(err, errlen, _("cannot read the store: %s"), strerror(rc));
		return 1;
	}
	return 0;
}
