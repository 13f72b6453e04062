/* What online backup, its verification and restore need from the library's
 * layers (issue 13, R2.6): a consistent copy of a live database, sqlite's own
 * check of a copy, the audit log opened to be verified without the master
 * key, and a store opened with its key from elsewhere (a backup has none).
 *
 * Each part lives with its layer (src/lib/db, src/lib/audit, src/lib/store);
 * custctl's backup, verify and restore (src/cli/ctl_backup.c,
 * ctl_restore.c) join them.
 *
 * MUST: nothing here writes plaintext anywhere: a database is copied page by
 * page as sqlite keeps it (sealed values, sealed names, wrapped keys). */
#ifndef CUSTFS_BACKUP_H
#define CUSTFS_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit.h"
#include "vault.h"

/* ---- src/lib/db/db_backup.c ---- */

/* A read transaction held on a live database: one point in its history that
 * stays put while custfs goes on writing (WAL: a reader blocks no writer; the
 * WAL only grows until the snapshot ends). Taking the snapshots of the store
 * and of its audit log one right after the other puts them within
 * milliseconds of each other. */
struct db_snapshot;

/* Opens PATH read-only and starts its snapshot. EINVAL (with ERR) if the
 * database is not in WAL mode: holding a snapshot of a rollback-journal
 * database would stop every writer. Retries while it is busy. 0 or errno. */
int db_snapshot_begin(const char *path, struct db_snapshot **out, char *err, size_t errlen);

/* Copies the snapshot into a new database file DST with sqlite's online
 * backup API, PAGES pages a step (retrying a step that finds a database busy
 * or locked), and calls PROGRESS (may be NULL) after each step with the pages
 * done and the total. DST is fsynced. *PAGES_OUT the pages copied. 0 or
 * errno, with ERR set. */
int db_snapshot_copy(struct db_snapshot *s, const char *dst, int pages,
		     void (*progress)(void *ctx, int done, int total), void *ctx,
		     int64_t *pages_out, char *err, size_t errlen);

/* Ends the snapshot and closes the database. */
void db_snapshot_end(struct db_snapshot *s);

/* sqlite's PRAGMA integrity_check of the database file PATH (a copy that
 * nobody else uses). 0 with "ok" in MSG, EBADMSG with its first complaint
 * in MSG, or errno. */
int db_integrity_check(const char *path, char *msg, size_t cap);

/* ---- src/lib/audit/audit_readonly.c ---- */

/* Opens STORE_DIR/audit.db to read and verify it only: no master key (the
 * checkpoints' signatures check with the public key kept in the log), no
 * writer. Its store id must be STORE_ID. audit_verify, audit_query and
 * audit_public_key work on it; appending, flushing or checkpointing is a
 * bug (there is nothing to sign with). 0 or errno, with ERR set. */
int audit_open_readonly(const char *store_dir, const unsigned char store_id[16],
			struct audit **out, char *err, size_t errlen);

/* ---- src/lib/store/vault.c ---- */

/* vault_open with the master key read from KEY_FILE (NULL: DIR/master.key),
 * for a backup being verified, whose key is kept apart from it. The same
 * checks of DIR, the key file and the policy as vault_open. */
int vault_open_keyfile(const char *dir, const char *key_file, const char *pass, size_t passlen,
		       FILE *errs, struct vault **out, char *err, size_t errlen);

#endif
