/* custctl backup STORE DEST: an online backup of a store, mounted and being
 * written or not (issue 13, R2.6).
 *
 * The store's database and its audit log are copied with sqlite's online
 * backup API, each from a snapshot held for the whole copy (db_backup.c), so
 * each copy is one consistent point of its database; the two snapshots are
 * taken one right after the other. The copies are the pages sqlite keeps:
 * sealed values, sealed names, wrapped keys; no plaintext is ever written.
 * A plain master key stays out of the backup (--with-key FILE writes it to a
 * file of its own, to be kept apart); a passphrase-wrapped one goes in, as
 * the store keeps it. The manifest is written last.
 *
 * The backup is on the audit record before it starts: no record, no backup. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "i18n.h"
#include "clock.h"
#include "ctl.h"
#include "ctl_backup.h"
#include "keyfile.h"
#include "text.h"

enum { OPT_WITH_KEY = 256, OPT_PASSFILE };

#define PAGES_PER_STEP 1024
#define KEY_FILE_MAX 512

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct progress {
	const char *what;
	int last;
};

/* Percent of pages, on a terminal only. */
static void show_progress(void *p, int done, int total)
{
	struct progress *pr = p;
	int pct = total > 0 ? (int)(100LL * done / total) : 100;
	if (pct == pr->last)
		return;
	pr->last = pct;
	fprintf(stderr, _("\rbackup: %s %3d%% of %d pages"), pr->what, pct, total);
}

static int join(char *out, size_t cap, const char *dir, const char *name)
{
	return (size_t)snprintf(out, cap, "%s/%s", dir, name) < cap ? 0 : ENAMETOOLONG;
}

/* PATH from the root, for the audit record (it may not exist yet). */
static const char *absolute(const char *path, char *out, size_t cap)
{
	char cwd[PATH_MAX];
	if (path[0] == '/' || !getcwd(cwd, sizeof cwd) ||
	    (size_t)snprintf(out, cap, "%s/%s", cwd, path) >= cap)
		snprintf(out, cap, "%s", path);
	return out;
}

/* Hashes the file DIR/NAME into the manifest. */
static int add_hashed(struct manifest *m, const char *dir, const char *name, char *err,
		      size_t errlen)
{
	char path[PATH_MAX];
	unsigned char hash[BACKUP_HASH_BYTES];
	int64_t size = 0;
	int rc = join(path, sizeof path, dir, name);
	int fd = rc ? -1 : open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (!rc)
		rc = fd < 0 ? errno : backup_hash_copy(fd, -1, &size, hash);
	if (fd >= 0)
		close(fd);
	if (!rc)
		rc = manifest_add(m, name, size, hash);
	if (rc)
		snprintf(err, errlen, "%s: %s", path, strerror(rc));
	return rc;
}

/* A copy of STORE/policy: its regular files, opened without following a
 * link, read through the directory as it was when opened (a policy install
 * swaps the whole directory at once). */
static int copy_policy(const char *store, const char *dest, struct manifest *m, size_t *n,
		       char *err, size_t errlen)
{
	char from[PATH_MAX], to[PATH_MAX], name[BACKUP_NAME_MAX + 1];
	if (join(from, sizeof from, store, VAULT_POLICY_DIR) ||
	    join(to, sizeof to, dest, VAULT_POLICY_DIR)) {
		snprintf(err, errlen, _("%s: path is too long"), store);
		return ENAMETOOLONG;
	}
	int dfd = open(from, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d || mkdir(to, 0700) != 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", d ? to : from, strerror(e));
		if (d)
			closedir(d);
		else if (dfd >= 0)
			close(dfd);
		return e;
	}
	int rc = 0;
	struct dirent *e;
	while (!rc && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(name, sizeof name, "%s/%s", VAULT_POLICY_DIR, e->d_name);
		struct stat st;
		int in = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (in < 0 || fstat(in, &st) != 0 || !S_ISREG(st.st_mode) ||
		    !backup_name_ok(name)) {
			fprintf(stderr, _("custctl: %s/%s: not a regular file with a plain name; left out "
				"of the backup\n"), text_inert(from), text_inert(e->d_name));
			if (in >= 0)
				close(in);
			continue;
		}
		char path[PATH_MAX];
		unsigned char hash[BACKUP_HASH_BYTES];
		int64_t size = 0;
		rc = join(path, sizeof path, dest, name);
		int out = rc ? -1
			     : open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (!rc)
			rc = out < 0 ? errno : backup_hash_copy(in, out, &size, hash);
		if (!rc && fsync(out) != 0)
			rc = errno;
		if (out >= 0 && close(out) != 0 && !rc)
			rc = errno;
		close(in);
		if (!rc)
			rc = manifest_add(m, name, size, hash);
		if (rc)
			snprintf(err, errlen, "%s: %s", text_inert(path), strerror(rc));
		else
			(*n)++;
	}
	closedir(d);
	if (!rc && (rc = backup_fsync_dir(to)) != 0)
		snprintf(err, errlen, "%s: %s", to, strerror(rc));
	return rc;
}

/* The bytes of STORE/master.key, into locked memory. */
static int read_key_bytes(const char *store, unsigned char *buf, size_t *len, char *err,
			  size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	int rc = join(path, sizeof path, store, VAULT_KEY_FILE);
	int fd = rc ? -1 : open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (!rc && fd < 0)
		rc = errno;
	if (!rc && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)))
		rc = EINVAL;
	ssize_t n = rc ? -1 : read(fd, buf, KEY_FILE_MAX);
	if (!rc && (n <= 0 || n == KEY_FILE_MAX))
		rc = n < 0 ? errno : EINVAL;
	if (fd >= 0)
		close(fd);
	if (rc)
		snprintf(err, errlen, "%s: %s", path, strerror(rc));
	else
		*len = (size_t)n;
	return rc;
}

/* Writes LEN bytes to a new file PATH (MODE, O_EXCL, fsynced, and its
 * directory too). */
static int write_new(const char *path, mode_t mode, const unsigned char *buf, size_t len,
		     char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	int rc = fd < 0 ? errno : 0;
	if (!rc && write(fd, buf, len) != (ssize_t)len)
		rc = errno ? errno : EIO;
	if (!rc && fsync(fd) != 0)
		rc = errno;
	if (fd >= 0 && close(fd) != 0 && !rc)
		rc = errno;
	if (rc && fd >= 0)
		unlink(path);
	char d[PATH_MAX];
	snprintf(d, sizeof d, "%s", path);
	if (!rc)
		rc = backup_fsync_dir(dirname(d));
	if (rc)
		snprintf(err, errlen, "%s: %s", text_inert(path), strerror(rc));
	return rc;
}

/* Whether the directory PATH is to be written in exists. DEST does not exist
 * yet, so this also keeps the key out of the backup it unlocks. */
static bool dir_exists(const char *path)
{
	char a[PATH_MAX], r[PATH_MAX];
	snprintf(a, sizeof a, "%s", path);
	return realpath(dirname(a), r) != NULL;
}

struct backup {
	const char *store, *dest, *keyout;
	struct vault *v;
	bool wrapped;
	struct manifest m;
	int64_t pages[2];
	size_t npolicy;
	bool made_dest, made_key;
};

static int run(struct backup *b, char *err, size_t errlen)
{
	static const char *const dbs[] = { STORE_DB_FILE, AUDIT_DB_FILE };
	struct db_snapshot *snap[2] = { NULL, NULL };
	char src[PATH_MAX], dst[PATH_MAX];
	unsigned char *key = sodium_malloc(KEY_FILE_MAX);
	size_t keylen = 0;
	int rc = key ? 0 : ENOMEM;

	if (!rc && mkdir(b->dest, 0700) != 0) {
		rc = errno;
		snprintf(err, errlen, "%s: %s", text_inert(b->dest), strerror(rc));
	}
	b->made_dest = !rc;
	/* Both snapshots first, back to back: the store and its log as close to
	 * one instant as two databases allow. */
	for (int i = 0; !rc && i < 2; i++) {
		rc = join(src, sizeof src, b->store, dbs[i]);
		if (!rc)
			rc = db_snapshot_begin(src, &snap[i], err, errlen);
	}
	b->m.time_ns = clock_now_ns();
	/* A rotation that committed but has not yet renamed its key into place
	 * (keys.c): the snapshot may need the key master.key.next holds. */
	if (!rc && join(src, sizeof src, b->store, VAULT_KEY_FILE ".next") == 0 &&
	    access(src, F_OK) == 0) {
		rc = EAGAIN;
		snprintf(err, errlen, _("a master-key rotation is under way; run the backup again "
			 "when it is done"));
	}
	/* The key as it is now, with the snapshots held. */
	if (!rc && (b->wrapped || b->keyout))
		rc = read_key_bytes(b->store, key, &keylen, err, errlen);
	if (!rc && !b->wrapped) {
		unsigned char *now = crypto_key_new();
		char msg[256];
		rc = now ? join(src, sizeof src, b->store, VAULT_KEY_FILE) : ENOMEM;
		if (!rc)
			rc = keyfile_load(src, NULL, 0, now, msg, sizeof msg);
		if (!rc && sodium_memcmp(now, b->v->master, CRYPTO_KEY_BYTES) != 0)
			rc = EAGAIN;
		if (rc == EAGAIN)
			snprintf(err, errlen, _("the store's master key changed during the backup; "
				 "run it again"));
		else if (rc)
			snprintf(err, errlen, "%s", msg);
		crypto_key_free(now);
	}
	bool tty = isatty(STDERR_FILENO);
	for (int i = 0; !rc && i < 2; i++) {
		struct progress pr = { dbs[i], -1 };
		rc = join(dst, sizeof dst, b->dest, dbs[i]);
		if (!rc)
			rc = db_snapshot_copy(snap[i], dst, PAGES_PER_STEP, tty ? show_progress : NULL,
					      &pr, &b->pages[i], err, errlen);
		if (tty)
			fprintf(stderr, "\r\033[K");
		db_snapshot_end(snap[i]);
		snap[i] = NULL;
		if (!rc)
			rc = add_hashed(&b->m, b->dest, dbs[i], err, errlen);
	}
	for (int i = 0; i < 2; i++)
		db_snapshot_end(snap[i]);
	if (!rc)
		rc = copy_policy(b->store, b->dest, &b->m, &b->npolicy, err, errlen);
	if (!rc && b->wrapped) {
		rc = join(dst, sizeof dst, b->dest, VAULT_KEY_FILE);
		if (!rc)
			rc = write_new(dst, 0400, key, keylen, err, errlen);
		if (!rc)
			rc = add_hashed(&b->m, b->dest, VAULT_KEY_FILE, err, errlen);
	}
	if (!rc && b->keyout && !b->wrapped) {
		rc = write_new(b->keyout, 0600, key, keylen, err, errlen);
		b->made_key = !rc;
	}
	if (key)
		sodium_free(key);
	if (!rc) {
		memcpy(b->m.store_id, b->v->store_id, STORE_ID_BYTES);
		b->m.key = b->wrapped ? BACKUP_KEY_PASSPHRASE : BACKUP_KEY_PLAIN;
		backup_key_check(b->v->master, b->m.key_check);
		rc = manifest_write(&b->m, b->v->master, b->dest, err, errlen);
	}
	if (!rc) {
		char parent[PATH_MAX];
		snprintf(parent, sizeof parent, "%s", b->dest);
		rc = backup_fsync_dir(dirname(parent));
		if (rc)
			snprintf(err, errlen, "%s: %s", parent, strerror(rc));
	}
	return rc;
}

int ctl_backup(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "with-key", required_argument, NULL, OPT_WITH_KEY },
		{ "passphrase-file", required_argument, NULL, OPT_PASSFILE },
		{ NULL, 0, NULL, 0 },
	};
	struct backup b = { .keyout = NULL };
	const char *passfile = NULL;
	char err[PATH_MAX + 256];
	struct stat st;
	int c;

	if (argc >= 2 && !strcmp(argv[1], "verify"))
		return ctl_backup_verify(argc - 1, argv + 1);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == OPT_WITH_KEY)
			b.keyout = optarg;
		else if (c == OPT_PASSFILE)
			passfile = optarg;
		else
			goto usage;
	}
	if (argc - optind != 2)
		goto usage;
	b.store = argv[optind];
	b.dest = argv[optind + 1];
	umask(077); /* every file of a backup is root's alone */

	/* Refusals change nothing and record nothing. */
	const char *paths[2] = { b.dest, b.keyout };
	for (int i = 0; i < 2; i++) {
		int e = !paths[i] ? ENOENT : lstat(paths[i], &st) == 0 ? EEXIST : errno;
		if (e == ENOENT)
			continue;
		fprintf(stderr, _("custctl: %s: %s; nothing was done\n"), text_inert(paths[i]),
			e == EEXIST ? "exists" : strerror(e));
		return EXIT_REFUSED;
	}
	if (b.keyout && !dir_exists(b.keyout)) {
		fprintf(stderr, _("custctl: --with-key %s: no such directory (and the key may not go "
			"into the backup it unlocks); nothing was done\n"), text_inert(b.keyout));
		return EXIT_REFUSED;
	}
	if (vault_needs_passphrase(b.store, &b.wrapped, err, sizeof err) != 0) {
		fprintf(stderr, "custctl: %s\n", err);
		return EXIT_REFUSED;
	}
	b.v = ctl_open_vault(b.store, passfile);
	if (!b.v)
		return EXIT_REFUSED;

	char detail[4 * PATH_MAX + 128], to[PATH_MAX], keyto[PATH_MAX];
	snprintf(detail, sizeof detail, "to %s%s", text_inert(absolute(b.dest, to, sizeof to)),
		 b.keyout && !b.wrapped ? "; the master key to " : "");
	if (b.keyout && !b.wrapped)
		snprintf(detail + strlen(detail), sizeof detail - strlen(detail), "%s",
			 text_inert(absolute(b.keyout, keyto, sizeof keyto)));
	if (ctl_audit(b.v, "backup", 0, "", true, detail) != 0) {
		vault_close(b.v);
		return EXIT_REFUSED;
	}
	double t0 = now_s();
	err[0] = '\0';
	int rc = run(&b, err, sizeof err);
	double took = now_s() - t0;
	if (rc) {
		fprintf(stderr, _("custctl: backup failed: %s; nothing was kept\n"),
			err[0] ? err : strerror(rc));
		if (b.made_dest)
			backup_remove_dir(b.dest);
		if (b.made_key)
			unlink(b.keyout);
		snprintf(detail, sizeof detail, "the backup just recorded failed: %s",
			 err[0] ? err : strerror(rc));
		ctl_audit(b.v, "backup-failed", 0, "", false, detail);
		vault_close(b.v);
		return EXIT_REFUSED;
	}
	const struct backup_file *db = manifest_find(&b.m, STORE_DB_FILE);
	const struct backup_file *log = manifest_find(&b.m, AUDIT_DB_FILE);
	printf(_("backed up %s to %s in %.2f s: %s %lld pages (%lld bytes), %s %lld pages "
	       "(%lld bytes), %zu policy file%s\n"), text_inert(b.store), text_inert(b.dest), took,
	       STORE_DB_FILE, (long long)b.pages[0], (long long)db->size, AUDIT_DB_FILE,
	       (long long)b.pages[1], (long long)log->size, b.npolicy, b.npolicy == 1 ? "" : "s");
	if (b.wrapped)
		printf(_("the master key is in the backup wrapped with the store's passphrase: "
		       "verify and restore need the passphrase%s\n"),
		       b.keyout ? _(" (no key file was written)") : "");
	else if (b.keyout)
		printf(_("the master key is in %s (0600): keep it apart from the backup; verify "
		       "and restore take it with --key\n"), text_inert(b.keyout));
	else
		printf(_("the master key is not in the backup: restore needs it (--key FILE; "
		       "backup --with-key FILE writes one)\n"));
	vault_close(b.v);
	return EXIT_OK;
usage:
	fprintf(stderr, _("usage: custctl backup STORE DEST [--with-key FILE] "
			"[--passphrase-file FILE]\n"
			"       custctl backup verify DEST [--key FILE] [--passphrase-file FILE]\n"));
	return EXIT_USAGE;
}
