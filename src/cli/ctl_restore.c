/* custctl backup verify DEST and custctl restore DEST STORE (issue 13, R2.6).
 *
 * Both copy the backup's files into a new directory of ours, checking each
 * against the manifest as it is read, and check the copy: sqlite's integrity
 * check, the audit chain, and with the key every sealed name, data key, row
 * and version (backup_check.c). The backup itself is only read. verify then
 * removes its copy; restore gives its copy the key, records itself in the
 * copy's audit log and renames it into place, so a crash at any point leaves
 * either no STORE or the whole of it. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup.h"
#include "i18n.h"
#include "ctl.h"
#include "ctl_backup.h"
#include "keyfile.h"
#include "passphrase.h"
#include "text.h"

enum { OPT_KEY = 256, OPT_PASSFILE };

/* The key a check needs: a plain key file (--key) or the backup's own
 * wrapped key and a passphrase (--passphrase-file). */
struct key_source {
	const char *key_file;
	char *pass;
	size_t passlen;
};

/* Matches the options given with the backup's kind of key. 0, or an exit
 * code with the reason printed. */
static int key_options(const struct manifest *m, const char *dest, const char *key_file,
		       const char *passfile, struct key_source *k)
{
	char err[512];
	if (key_file && m->key == BACKUP_KEY_PASSPHRASE) {
		fprintf(stderr, _("custctl: %s holds its key wrapped with the store's passphrase: give "
			"--passphrase-file FILE, not --key\n"), text_inert(dest));
		return EXIT_REFUSED;
	}
	if (passfile && m->key == BACKUP_KEY_PLAIN) {
		fprintf(stderr, _("custctl: %s is of a store with a plain key: give --key FILE (from "
			"backup --with-key), not a passphrase\n"), text_inert(dest));
		return EXIT_REFUSED;
	}
	k->key_file = key_file;
	if (passfile && !(k->pass = passphrase_from_file(passfile, &k->passlen, err, sizeof err))) {
		fprintf(stderr, "custctl: %s\n", err);
		return EXIT_REFUSED;
	}
	/* A wrong plain key is named as such before anything is copied. */
	if (key_file) {
		unsigned char *master = crypto_key_new();
		int rc = master ? keyfile_load(key_file, NULL, 0, master, err, sizeof err) : ENOMEM;
		if (!rc)
			rc = manifest_check_key(m, master, err, sizeof err);
		crypto_key_free(master);
		if (rc) {
			fprintf(stderr, "custctl: %s\n", rc == ENOMEM ? _("out of memory") : err);
			return EXIT_REFUSED;
		}
	}
	return 0;
}

/* The checks that need the key, on the staged store V (its files checked
 * first). 0, or 1 with the problem in ERR. */
static int check_sealed(const struct manifest *m, struct vault *v, struct backup_counts *c,
			char *err, size_t errlen)
{
	/* The passphrase opened the backup's own key: is it the backup's? */
	if (m->key == BACKUP_KEY_PASSPHRASE && manifest_check_key(m, v->master, err, errlen))
		return 1;
	return backup_check_values(v, c, err, errlen);
}

/* "" or "; N fields of erased customers (nothing left to decrypt)". */
static const char *erased_note(const struct backup_counts *c)
{
	static char note[96];
	note[0] = '\0';
	if (c->erased_fields)
		snprintf(note, sizeof note, "; %lld field%s of erased customers (nothing left to "
			 "decrypt)", (long long)c->erased_fields, c->erased_fields == 1 ? "" : "s");
	return note;
}

static void print_ok(const char *dest, const struct manifest *m, const struct backup_counts *c,
		     bool decrypted)
{
	char id[2 * STORE_ID_BYTES + 1], when[64];
	sodium_bin2hex(id, sizeof id, m->store_id, sizeof m->store_id);
	backup_time_text(m->time_ns, when, sizeof when);
	printf(_("OK: %s: backup of store %s taken %s: %zu files (%lld bytes) match the manifest; "
	       "%s and %s pass sqlite's integrity check; audit log: %s; "), text_inert(dest), id,
	       when, c->files, (long long)c->bytes, STORE_DB_FILE, AUDIT_DB_FILE, c->audit);
	if (decrypted)
		printf(_("%lld customers, %lld fields, %lld versions decrypt and authenticate%s\n"),
		       (long long)c->customers, (long long)c->fields, (long long)c->versions,
		       erased_note(c));
	else
		printf(_("values NOT decrypted: give %s to check them too\n"),
		       m->key == BACKUP_KEY_PLAIN ? _("--key FILE") : _("--passphrase-file FILE"));
}

int ctl_backup_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, OPT_KEY },
		{ "passphrase-file", required_argument, NULL, OPT_PASSFILE },
		{ NULL, 0, NULL, 0 },
	};
	const char *key_file = NULL, *passfile = NULL;
	char err[PATH_MAX + 512], tmp[PATH_MAX];
	struct manifest m;
	struct key_source k = { NULL, NULL, 0 };
	struct backup_counts c = { .files = 0 };
	struct vault *v = NULL;
	int opt, rc = EXIT_REFUSED;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt == OPT_KEY)
			key_file = optarg;
		else if (opt == OPT_PASSFILE)
			passfile = optarg;
		else
			goto usage;
	}
	if (argc - optind != 1)
		goto usage;
	const char *dest = argv[optind];
	umask(077);
	if (manifest_read(dest, &m, err, sizeof err) != 0) {
		fprintf(stderr, _("custctl: backup verify: %s\n"), err);
		return EXIT_REFUSED;
	}
	if ((rc = key_options(&m, dest, key_file, passfile, &k)) != 0)
		goto out;
	rc = EXIT_REFUSED;
	/* Beside the backup (it had room), or where a backup on read-only media
	 * leaves room. */
	int te = backup_temp_dir(dest, "verify", tmp, sizeof tmp);
	if (te == EACCES || te == EROFS || te == EPERM) {
		char elsewhere[PATH_MAX];
		char *base = strrchr(dest, '/');
		snprintf(elsewhere, sizeof elsewhere, "/var/tmp/%s", base && base[1] ? base + 1 : dest);
		te = backup_temp_dir(elsewhere, "verify", tmp, sizeof tmp);
	}
	if (te) {
		fprintf(stderr, _("custctl: backup verify: cannot make a working copy beside %s: %s\n"),
			text_inert(dest), strerror(te));
		goto out;
	}
	bool with_key = key_file || k.pass;
	/* The vault opens the copy only once its files are known good. */
	if (backup_stage(dest, &m, tmp, &c, err, sizeof err) == 0 &&
	    backup_check_files(tmp, &m, &c, err, sizeof err) == 0) {
		if (!with_key)
			rc = EXIT_OK;
		else if (vault_open_keyfile(tmp, key_file, k.pass, k.passlen, stderr, &v, err,
					    sizeof err) != 0)
			v = NULL;
		else if (check_sealed(&m, v, &c, err, sizeof err) == 0)
			rc = EXIT_OK;
	}
	vault_close(v);
	backup_remove_dir(tmp);
	if (rc == EXIT_OK)
		print_ok(dest, &m, &c, with_key);
	else
		fprintf(stderr, _("custctl: backup verify: %s\n"), err);
out:
	passphrase_free(k.pass);
	manifest_free(&m);
	return rc;
usage:
	fprintf(stderr, _("usage: custctl backup verify DEST [--key FILE] [--passphrase-file FILE]\n"));
	return EXIT_USAGE;
}

static int fsync_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	int fd = open(path, (flag == FTW_F ? O_RDONLY : O_RDONLY | O_DIRECTORY) | O_NOFOLLOW |
				    O_CLOEXEC);
	if (fd < 0)
		return errno;
	int rc = fsync(fd) == 0 ? 0 : errno;
	close(fd);
	return rc;
}

int ctl_restore(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, OPT_KEY },
		{ "passphrase-file", required_argument, NULL, OPT_PASSFILE },
		{ NULL, 0, NULL, 0 },
	};
	const char *key_file = NULL, *passfile = NULL;
	char err[PATH_MAX + 512], tmp[PATH_MAX], path[PATH_MAX];
	struct manifest m;
	struct key_source k = { NULL, NULL, 0 };
	struct backup_counts c = { .files = 0 };
	struct vault *v = NULL;
	struct stat st;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt == OPT_KEY)
			key_file = optarg;
		else if (opt == OPT_PASSFILE)
			passfile = optarg;
		else
			goto usage;
	}
	if (argc - optind != 2)
		goto usage;
	const char *dest = argv[optind], *store = argv[optind + 1];
	umask(077);
	int e = lstat(store, &st) == 0 ? EEXIST : errno;
	if (e != ENOENT) {
		fprintf(stderr, _("custctl: %s: %s; nothing was changed\n"), text_inert(store),
			e == EEXIST ? _("exists: restore makes a new store, it never overwrites one")
				    : strerror(e));
		return EXIT_REFUSED;
	}
	if (manifest_read(dest, &m, err, sizeof err) != 0) {
		fprintf(stderr, _("custctl: restore: %s\n"), err);
		return EXIT_REFUSED;
	}
	if (m.key == BACKUP_KEY_PLAIN && !key_file) {
		fprintf(stderr, _("custctl: %s holds no key (the store's key is never part of a "
			"backup): give --key FILE, the file backup --with-key wrote\n"),
			text_inert(dest));
		manifest_free(&m);
		return EXIT_REFUSED;
	}
	if (m.key == BACKUP_KEY_PASSPHRASE && !passfile && !isatty(STDIN_FILENO)) {
		fprintf(stderr, _("custctl: %s holds its key wrapped with the store's passphrase: give "
			"--passphrase-file FILE\n"), text_inert(dest));
		manifest_free(&m);
		return EXIT_REFUSED;
	}
	if ((rc = key_options(&m, dest, key_file, passfile, &k)) != 0)
		goto out;
	rc = EXIT_REFUSED;
	if ((e = backup_temp_dir(store, "restore", tmp, sizeof tmp)) != 0) {
		fprintf(stderr, _("custctl: restore: cannot make a directory beside %s: %s\n"),
			text_inert(store), strerror(e));
		goto out;
	}
	if (backup_stage(dest, &m, tmp, &c, err, sizeof err) != 0 ||
	    backup_check_files(tmp, &m, &c, err, sizeof err) != 0)
		goto fail;
	if (key_file) {
		unsigned char *master = crypto_key_new();
		e = master ? keyfile_load(key_file, NULL, 0, master, err, sizeof err) : ENOMEM;
		if (!e && (size_t)snprintf(path, sizeof path, "%s/%s", tmp, VAULT_KEY_FILE) >=
				  sizeof path)
			e = ENAMETOOLONG;
		if (!e)
			e = keyfile_create(path, master, NULL, 0, err, sizeof err); /* 0400, fsynced */
		crypto_key_free(master);
		if (e)
			goto fail;
	}
	/* The passphrase from the file, or asked for on a terminal. */
	v = k.pass ? NULL : ctl_open_vault(tmp, NULL);
	if (k.pass && vault_open_keyfile(tmp, NULL, k.pass, k.passlen, stderr, &v, err,
					 sizeof err) != 0)
		goto fail;
	if (!v) {
		snprintf(err, sizeof err, _("the restored store does not open"));
		goto fail;
	}
	if (check_sealed(&m, v, &c, err, sizeof err) != 0)
		goto fail;
	char when[64], digest[2 * BACKUP_HASH_BYTES + 1], detail[PATH_MAX + 256];
	backup_time_text(m.time_ns, when, sizeof when);
	sodium_bin2hex(digest, sizeof digest, m.digest, sizeof m.digest);
	char from[PATH_MAX];
	snprintf(detail, sizeof detail, "from %s, the backup taken %s (manifest blake2b %s)",
		 text_inert(realpath(dest, from) ? from : dest), when, digest);
	/* In the restored store's own log, before it exists as a store. */
	if (ctl_audit(v, "restore", 0, "", true, detail) != 0) {
		snprintf(err, sizeof err, _("the restore cannot be recorded"));
		goto fail;
	}
	vault_close(v);
	v = NULL;
	if ((errno = nftw(tmp, fsync_one, 8, FTW_PHYS | FTW_MOUNT)) != 0) {
		snprintf(err, sizeof err, _("%s: cannot write to disk: %s"), tmp, strerror(errno));
		goto fail;
	}
	/* Never onto something that appeared meanwhile. A file system without
	 * RENAME_NOREPLACE (EINVAL) gets the plain rename, which still fails on
	 * anything but an empty directory. */
	int moved = renameat2(AT_FDCWD, tmp, AT_FDCWD, store, RENAME_NOREPLACE);
	if (moved != 0 && errno == EINVAL)
		moved = lstat(store, &st) == 0 ? (errno = EEXIST, -1) : rename(tmp, store);
	if (moved != 0) {
		snprintf(err, sizeof err, "%s: %s", text_inert(store),
			 errno == EEXIST ? _("appeared meanwhile; it was left as it is")
					 : strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof path, "%s", store);
	backup_fsync_dir(dirname(path));
	printf(_("restored %s from %s (the backup taken %s): %zu files; audit log: %s; %lld "
	       "customers, %lld fields, %lld versions decrypt and authenticate%s\n"),
	       text_inert(store), text_inert(dest), when, c.files, c.audit,
	       (long long)c.customers, (long long)c.fields, (long long)c.versions,
	       erased_note(&c));
	rc = EXIT_OK;
	goto out;
fail:
	fprintf(stderr, _("custctl: restore: %s; nothing was restored\n"), err);
	vault_close(v);
	backup_remove_dir(tmp);
out:
	passphrase_free(k.pass);
	manifest_free(&m);
	return rc;
usage:
	fprintf(stderr, _("usage: custctl restore DEST STORE [--key FILE] [--passphrase-file FILE]\n"));
	return EXIT_USAGE;
}
