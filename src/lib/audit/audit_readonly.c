/* The audit log opened to be verified, without the master key: a backup's
 * log is checked before (or without) anyone handing over the key.
 *
 * The chain is plain hashes and the checkpoints are signed: both check with
 * the public key the log keeps. The secret half stays sealed; without it
 * there is no writer, so nothing can be appended to a log opened here. */
#include "audit_internal.h"
#include "i18n.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backup.h"

static struct db_sql q_meta = DB_SQL("SELECT value FROM meta WHERE key=?1");

static int meta_exact(struct db *db, const char *key, void *buf, size_t len)
{
	int err = 0;
	sqlite3_stmt *s = db_stmt(db, &q_meta, &err);
	if (!s)
		return err;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && (size_t)sqlite3_column_bytes(s, 0) == len)
		memcpy(buf, sqlite3_column_blob(s, 0), len);
	else
		err = rc == SQLITE_ROW || rc == SQLITE_DONE ? EBADMSG : db_map_rc(db_conn(s), rc, key);
	db_done(s);
	return err;
}

int audit_open_readonly(const char *dir, const unsigned char store_id[16], struct audit **out,
			char *err, size_t errlen)
{
	char path[PATH_MAX];
	unsigned char id[16];
	struct stat st;
	struct audit *a = calloc(1, sizeof *a);

	if (!a) {
		snprintf(err, errlen, _("out of memory"));
		return ENOMEM;
	}
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cv, NULL);
	pthread_mutex_init(&a->sync_lock, NULL);
	a->sync_mode = -1;
	a->wal_fd = -1;
	memcpy(a->store_id, store_id, 16);
	int rc = (size_t)snprintf(path, sizeof path, "%s/%s", dir, AUDIT_DB_FILE) < sizeof path
			 ? 0 : ENAMETOOLONG;
	/* Never created here: a missing log is a finding, not a fresh start. */
	if (!rc && lstat(path, &st) != 0)
		rc = errno;
	if (!rc)
		rc = db_open(path, false, NULL, &a->db);
	if (rc) {
		snprintf(err, errlen, _("%s: cannot open the audit log: %s"), path, strerror(rc));
		audit_close(a);
		return rc;
	}
	rc = meta_exact(a->db, "store_id", id, sizeof id);
	if (!rc && memcmp(id, store_id, sizeof id) != 0) {
		snprintf(err, errlen, _("%s belongs to another store"), path);
		rc = EBADMSG;
	} else if (!rc) {
		rc = meta_exact(a->db, "sign_pk", a->pk, sizeof a->pk);
		if (rc)
			snprintf(err, errlen, _("%s: the log's public key is missing or malformed"), path);
	} else {
		snprintf(err, errlen, _("%s: the log's store id is missing or malformed"), path);
	}
	if (rc) {
		audit_close(a);
		return rc;
	}
	*out = a;
	return 0;
}
