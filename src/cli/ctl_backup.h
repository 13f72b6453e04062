/* custctl backup, backup verify and restore: the parts they share (issue 13,
 * R2.6).
 *
 * A backup is a directory (0700) holding copies of the store's two databases,
 * its policy/, the passphrase-wrapped master.key of a passphrase store (a
 * plain key never: --with-key writes it to a file of its own), and last the
 * manifest BACKUP, which says what each file must be. A directory without a
 * manifest is a backup that did not finish.
 *
 * Manifest (text, one item a line):
 *   custfs-backup 1
 *   store <store id, hex>
 *   time <ns since the epoch> <ISO 8601>
 *   key plain|passphrase
 *   key-check <hex>        keyed BLAKE2b of a label under the master key
 *   file <size> <BLAKE2b-256, hex> <name>   (custfs.db, audit.db, policy/F, master.key)
 *   mac <hex>              keyed BLAKE2b of every line above, under the master key
 * The hashes find a damaged or changed file without the key; the key-check
 * tells a wrong key from a damaged backup; the MAC ties the manifest to the
 * key, so with the key nobody can have rewritten files and manifest together. */
#ifndef CUSTFS_CTL_BACKUP_H
#define CUSTFS_CTL_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "names.h"
#include "vault.h"

#define BACKUP_MANIFEST "BACKUP"
#define BACKUP_FORMAT 1
#define BACKUP_HASH_BYTES 32
#define BACKUP_MAX_FILES 64
#define BACKUP_NAME_MAX (sizeof VAULT_POLICY_DIR + NAME_MAX_BYTES)

enum backup_key { BACKUP_KEY_PLAIN, BACKUP_KEY_PASSPHRASE };

struct backup_file {
	char name[BACKUP_NAME_MAX + 1];
	int64_t size;
	unsigned char hash[BACKUP_HASH_BYTES];
};

struct manifest {
	unsigned char store_id[STORE_ID_BYTES];
	int64_t time_ns;
	enum backup_key key;
	unsigned char key_check[BACKUP_HASH_BYTES];
	struct backup_file file[BACKUP_MAX_FILES];
	size_t nfiles;
	unsigned char mac[BACKUP_HASH_BYTES];
	/* As read: the text the MAC covers, and the whole manifest's hash (named
	 * in the restore's audit record). */
	char *signed_text;
	size_t signed_len;
	unsigned char digest[BACKUP_HASH_BYTES];
};

/* ---- backup_manifest.c ---- */

/* Whether NAME may be a file of a backup (and so of a restored store). */
bool backup_name_ok(const char *name);
/* Adds a file; ENOSPC past BACKUP_MAX_FILES, EINVAL for a bad name. */
int manifest_add(struct manifest *m, const char *name, int64_t size,
		 const unsigned char hash[BACKUP_HASH_BYTES]);
const struct backup_file *manifest_find(const struct manifest *m, const char *name);
/* Writes DIR/BACKUP (through a temporary file, fsynced, renamed, the
 * directory fsynced), its MAC under MASTER. 0 or errno, with ERR. */
int manifest_write(const struct manifest *m, const unsigned char *master, const char *dir,
		   char *err, size_t errlen);
/* Reads and parses DIR/BACKUP. 0, or errno with the problem in ERR. */
int manifest_read(const char *dir, struct manifest *m, char *err, size_t errlen);
void manifest_free(struct manifest *m);
/* The key-check of MASTER. */
void backup_key_check(const unsigned char *master, unsigned char out[BACKUP_HASH_BYTES]);
/* Checks MASTER against M's key-check and M's MAC. 0, or EACCES (not this
 * backup's key) or EBADMSG (the manifest was changed), with ERR. */
int manifest_check_key(const struct manifest *m, const unsigned char *master, char *err,
		       size_t errlen);

/* Copies IN to OUT (-1: only reads), hashing what it reads. 0 or errno. */
int backup_hash_copy(int in, int out, int64_t *size, unsigned char hash[BACKUP_HASH_BYTES]);
/* fsyncs a directory (after creating or renaming entries in it). */
int backup_fsync_dir(const char *dir);
/* A new directory 0700 beside PATH, named .BASENAME.WHAT-XXXXXX, into OUT.
 * 0 or errno. */
int backup_temp_dir(const char *path, const char *what, char *out, size_t cap);
/* Removes a directory made here (its files, its policy/ and itself). */
void backup_remove_dir(const char *dir);
/* "2025-01-31T12:00:00+0800" */
void backup_time_text(int64_t ns, char *out, size_t cap);

/* ---- backup_check.c ---- */

struct backup_counts {
	size_t files;
	int64_t bytes;
	int64_t customers, fields, versions;
	int64_t erased_fields; /* fields of crypto-erased customers: nothing to open */
	char audit[256]; /* audit_verify's verdict */
};

/* Copies the files M lists from backup DEST into the empty directory DIR,
 * each checked against its size and hash as it is read, and fsynced; checks
 * that DEST holds nothing the manifest does not list. 0, or 1 with the first
 * problem in ERR. */
int backup_stage(const char *dest, const struct manifest *m, const char *dir,
		 struct backup_counts *c, char *err, size_t errlen);
/* On a staged copy DIR: sqlite's integrity_check of both databases, the
 * store id of each, the audit chain. 0, or 1 with the problem in ERR. */
int backup_check_files(const char *dir, const struct manifest *m, struct backup_counts *c,
		       char *err, size_t errlen);
/* Through the vault: every customer's name and data key, every field's row
 * (MAC, version pointer) and every version of every value decrypts and
 * authenticates. 0, or 1 with the first problem in ERR. */
int backup_check_values(struct vault *v, struct backup_counts *c, char *err, size_t errlen);

#endif
