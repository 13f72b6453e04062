/* The backup's manifest (ctl_backup.h has the format) and the file helpers
 * the backup, its verification and restore share. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "i18n.h"
#include "ctl_backup.h"
#include "store.h"

#define MANIFEST_MAX_BYTES 65536
#define KEY_CHECK_LABEL "custfs/backup/key-check/1"
#define MAC_LABEL "custfs/backup/manifest/1"

bool backup_name_ok(const char *name)
{
	static const char policy[] = VAULT_POLICY_DIR "/";
	if (!strcmp(name, STORE_DB_FILE) || !strcmp(name, AUDIT_DB_FILE) ||
	    !strcmp(name, VAULT_KEY_FILE))
		return true;
	return strncmp(name, policy, sizeof policy - 1) == 0 &&
	       name_ok(name + sizeof policy - 1, true);
}

int manifest_add(struct manifest *m, const char *name, int64_t size,
		 const unsigned char hash[BACKUP_HASH_BYTES])
{
	if (!backup_name_ok(name) || strlen(name) > BACKUP_NAME_MAX || manifest_find(m, name))
		return EINVAL;
	if (m->nfiles == BACKUP_MAX_FILES)
		return ENOSPC;
	struct backup_file *f = &m->file[m->nfiles++];
	snprintf(f->name, sizeof f->name, "%s", name);
	f->size = size;
	memcpy(f->hash, hash, BACKUP_HASH_BYTES);
	return 0;
}

const struct backup_file *manifest_find(const struct manifest *m, const char *name)
{
	for (size_t i = 0; i < m->nfiles; i++)
		if (!strcmp(m->file[i].name, name))
			return &m->file[i];
	return NULL;
}

void backup_key_check(const unsigned char *master, unsigned char out[BACKUP_HASH_BYTES])
{
	crypto_generichash(out, BACKUP_HASH_BYTES, (const unsigned char *)KEY_CHECK_LABEL,
			   sizeof KEY_CHECK_LABEL - 1, master, CRYPTO_KEY_BYTES);
}

static void manifest_mac(const unsigned char *master, const char *text, size_t len,
			 unsigned char out[BACKUP_HASH_BYTES])
{
	crypto_generichash_state h;
	crypto_generichash_init(&h, master, CRYPTO_KEY_BYTES, BACKUP_HASH_BYTES);
	crypto_generichash_update(&h, (const unsigned char *)MAC_LABEL, sizeof MAC_LABEL);
	crypto_generichash_update(&h, (const unsigned char *)text, len);
	crypto_generichash_final(&h, out, BACKUP_HASH_BYTES);
}

void backup_time_text(int64_t ns, char *out, size_t cap)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%S%z", &tm);
}

static void hex(char *out, const unsigned char *bin, size_t n)
{
	sodium_bin2hex(out, 2 * n + 1, bin, n);
}

int manifest_write(const struct manifest *m, const unsigned char *master, const char *dir,
		   char *err, size_t errlen)
{
	char *text = NULL, h[2 * BACKUP_HASH_BYTES + 1], id[2 * STORE_ID_BYTES + 1], when[64];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f) {
		snprintf(err, errlen, _("out of memory"));
		return ENOMEM;
	}
	hex(id, m->store_id, sizeof m->store_id);
	backup_time_text(m->time_ns, when, sizeof when);
	hex(h, m->key_check, sizeof m->key_check);
	fprintf(f, "custfs-backup %d\nstore %s\ntime %lld %s\nkey %s\nkey-check %s\n",
		BACKUP_FORMAT, id, (long long)m->time_ns, when,
		m->key == BACKUP_KEY_PLAIN ? "plain" : "passphrase", h);
	for (size_t i = 0; i < m->nfiles; i++) {
		hex(h, m->file[i].hash, BACKUP_HASH_BYTES);
		fprintf(f, "file %lld %s %s\n", (long long)m->file[i].size, h, m->file[i].name);
	}
	if (fflush(f) != 0) {
		fclose(f);
		free(text);
		snprintf(err, errlen, _("out of memory"));
		return ENOMEM;
	}
	unsigned char mac[BACKUP_HASH_BYTES];
	manifest_mac(master, text, len, mac);
	hex(h, mac, sizeof mac);
	fprintf(f, "mac %s\n", h);
	fclose(f);

	/* Written last, whole, in one rename: its presence says the backup is
	 * complete. */
	char tmp[PATH_MAX], path[PATH_MAX];
	int rc = 0;
	if ((size_t)snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, BACKUP_MANIFEST) >= sizeof tmp ||
	    (size_t)snprintf(path, sizeof path, "%s/%s", dir, BACKUP_MANIFEST) >= sizeof path)
		rc = ENAMETOOLONG;
	int fd = rc ? -1 : open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (!rc && fd < 0)
		rc = errno;
	len = strlen(text);
	if (!rc && write(fd, text, len) != (ssize_t)len)
		rc = errno ? errno : EIO;
	if (!rc && fsync(fd) != 0)
		rc = errno;
	if (fd >= 0 && close(fd) != 0 && !rc)
		rc = errno;
	if (!rc && rename(tmp, path) != 0)
		rc = errno;
	if (!rc)
		rc = backup_fsync_dir(dir);
	if (rc) {
		if (fd >= 0)
			unlink(tmp);
		snprintf(err, errlen, _("%s: cannot write the manifest: %s"), path, strerror(rc));
	}
	free(text);
	return rc;
}

static bool parse_hex(const char *s, size_t slen, unsigned char *out, size_t n)
{
	size_t got = 0;
	return slen == 2 * n && sodium_hex2bin(out, n, s, slen, NULL, &got, NULL) == 0 && got == n;
}

/* The line at *P (without its newline) into LINE/LEN; advances *P. */
static bool next_line(const char **p, const char *end, const char **line, size_t *len)
{
	if (*p >= end)
		return false;
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	if (!nl)
		return false;
	*line = *p;
	*len = (size_t)(nl - *p);
	*p = nl + 1;
	return true;
}

static bool starts(const char *line, size_t len, const char *word)
{
	size_t n = strlen(word);
	return len > n && memcmp(line, word, n) == 0 && line[n] == ' ';
}

static int parse_file_line(struct manifest *m, const char *l, size_t len)
{
	char buf[BACKUP_NAME_MAX + 2 * BACKUP_HASH_BYTES + 64];
	unsigned char hash[BACKUP_HASH_BYTES];
	if (len >= sizeof buf)
		return EINVAL;
	memcpy(buf, l, len);
	buf[len] = '\0';
	char *p = buf + 5, *end;
	errno = 0;
	long long size = strtoll(p, &end, 10);
	if (errno || end == p || *end != ' ' || size < 0)
		return EINVAL;
	p = end + 1;
	char *sp = strchr(p, ' ');
	if (!sp || !parse_hex(p, (size_t)(sp - p), hash, sizeof hash))
		return EINVAL;
	return manifest_add(m, sp + 1, size, hash);
}

static int parse(struct manifest *m, const char *text, size_t n, char *err, size_t errlen)
{
	const char *p = text, *end = text + n, *l;
	size_t len;
	int version = 0;
	char kind[16];

	if (!next_line(&p, end, &l, &len) || len < 15 || memcmp(l, "custfs-backup ", 14) != 0) {
		snprintf(err, errlen, _("not a custfs backup manifest"));
		return EINVAL;
	}
	version = atoi(l + 14);
	if (version != BACKUP_FORMAT) {
		snprintf(err, errlen, _("backup format %d: this custctl reads format %d"), version,
			 BACKUP_FORMAT);
		return EINVAL;
	}
	if (!next_line(&p, end, &l, &len) || !starts(l, len, "store") ||
	    !parse_hex(l + 6, len - 6, m->store_id, sizeof m->store_id))
		goto bad;
	if (!next_line(&p, end, &l, &len) || !starts(l, len, "time"))
		goto bad;
	char *e;
	m->time_ns = strtoll(l + 5, &e, 10);
	if (e == l + 5 || *e != ' ' || m->time_ns <= 0)
		goto bad;
	if (!next_line(&p, end, &l, &len) || !starts(l, len, "key") || len - 4 >= sizeof kind)
		goto bad;
	memcpy(kind, l + 4, len - 4);
	kind[len - 4] = '\0';
	if (!strcmp(kind, "plain"))
		m->key = BACKUP_KEY_PLAIN;
	else if (!strcmp(kind, "passphrase"))
		m->key = BACKUP_KEY_PASSPHRASE;
	else
		goto bad;
	if (!next_line(&p, end, &l, &len) || !starts(l, len, "key-check") ||
	    !parse_hex(l + 10, len - 10, m->key_check, sizeof m->key_check))
		goto bad;
	for (;;) {
		const char *at = p;
		if (!next_line(&p, end, &l, &len))
			goto bad;
		if (starts(l, len, "file")) {
			if (parse_file_line(m, l, len) != 0) {
				snprintf(err, errlen, _("malformed or repeated file line %.*s"),
					 (int)(len > 80 ? 80 : len), l);
				return EINVAL;
			}
			continue;
		}
		if (!starts(l, len, "mac") || !parse_hex(l + 4, len - 4, m->mac, sizeof m->mac) ||
		    p != end)
			goto bad;
		m->signed_len = (size_t)(at - text);
		break;
	}
	if (!(m->signed_text = malloc(m->signed_len + 1))) {
		snprintf(err, errlen, _("out of memory"));
		return ENOMEM;
	}
	memcpy(m->signed_text, text, m->signed_len);
	m->signed_text[m->signed_len] = '\0';
	static const char *const needed[] = { STORE_DB_FILE, AUDIT_DB_FILE, VAULT_POLICY_DIR "/fields.conf" };
	for (size_t i = 0; i < sizeof needed / sizeof *needed; i++)
		if (!manifest_find(m, needed[i])) {
			snprintf(err, errlen, _("the manifest lists no %s"), needed[i]);
			return EINVAL;
		}
	/* A plain key is never part of a backup; a wrapped one always is. */
	bool has_key = manifest_find(m, VAULT_KEY_FILE) != NULL;
	if (has_key != (m->key == BACKUP_KEY_PASSPHRASE)) {
		snprintf(err, errlen, has_key ? _("the manifest lists a plain master key")
					      : _("the manifest lists no passphrase-wrapped key"));
		return EINVAL;
	}
	return 0;
bad:
	snprintf(err, errlen, _("malformed manifest (near byte %zu)"), (size_t)(p - text));
	return EINVAL;
}

int manifest_read(const char *dir, struct manifest *m, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	memset(m, 0, sizeof *m);
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, BACKUP_MANIFEST) >= sizeof path) {
		snprintf(err, errlen, _("%s: path is too long"), dir);
		return ENAMETOOLONG;
	}
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			snprintf(err, errlen, _("%s has no manifest (%s): not a backup, or one that did "
				 "not finish"), dir, BACKUP_MANIFEST);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(e));
		return e;
	}
	char *text = NULL;
	int rc = 0;
	if (fstat(fd, &st) != 0)
		rc = errno;
	else if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > MANIFEST_MAX_BYTES)
		rc = EINVAL;
	else if (!(text = malloc((size_t)st.st_size)))
		rc = ENOMEM;
	size_t n = 0;
	while (!rc && n < (size_t)st.st_size) {
		ssize_t r = read(fd, text + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			rc = r < 0 ? errno : EIO;
		else
			n += (size_t)r;
	}
	close(fd);
	if (rc) {
		snprintf(err, errlen, "%s: %s", path,
			 rc == EINVAL ? _("not a manifest (not a regular file, or its size)") : strerror(rc));
	} else if (memchr(text, '\0', n)) {
		snprintf(err, errlen, _("%s: not a text file"), path);
		rc = EINVAL;
	} else {
		crypto_generichash(m->digest, sizeof m->digest, (const unsigned char *)text, n, NULL, 0);
		char why[256];
		rc = parse(m, text, n, why, sizeof why);
		if (rc)
			snprintf(err, errlen, "%s: %s", path, why);
	}
	free(text);
	return rc;
}

void manifest_free(struct manifest *m)
{
	free(m->signed_text);
	m->signed_text = NULL;
}

int manifest_check_key(const struct manifest *m, const unsigned char *master, char *err,
		       size_t errlen)
{
	unsigned char want[BACKUP_HASH_BYTES];
	backup_key_check(master, want);
	if (sodium_memcmp(want, m->key_check, sizeof want) != 0) {
		snprintf(err, errlen, _("the key given is not the master key of this backup"));
		return EACCES;
	}
	manifest_mac(master, m->signed_text, m->signed_len, want);
	if (sodium_memcmp(want, m->mac, sizeof want) != 0) {
		snprintf(err, errlen, _("the manifest does not authenticate under the backup's key: "
			 "it was changed after the backup"));
		return EBADMSG;
	}
	return 0;
}

int backup_hash_copy(int in, int out, int64_t *size, unsigned char hash[BACKUP_HASH_BYTES])
{
	static unsigned char buf[1 << 16]; /* ciphertext and pages: not secret */
	crypto_generichash_state h;
	crypto_generichash_init(&h, NULL, 0, BACKUP_HASH_BYTES);
	*size = 0;
	for (;;) {
		ssize_t r = read(in, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			break;
		crypto_generichash_update(&h, buf, (size_t)r);
		*size += r;
		for (ssize_t done = 0; out >= 0 && done < r;) {
			ssize_t w = write(out, buf + done, (size_t)(r - done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return w < 0 ? errno : EIO;
			done += w;
		}
	}
	crypto_generichash_final(&h, hash, BACKUP_HASH_BYTES);
	return 0;
}

int backup_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int rc = fsync(fd) == 0 ? 0 : errno;
	close(fd);
	return rc;
}

int backup_temp_dir(const char *path, const char *what, char *out, size_t cap)
{
	char a[PATH_MAX], b[PATH_MAX];
	if (strlen(path) >= sizeof a)
		return ENAMETOOLONG;
	strcpy(a, path);
	strcpy(b, path);
	const char *base = basename(a), *parent = dirname(b);
	if ((size_t)snprintf(out, cap, "%s/.%s.%s-XXXXXX", parent, base, what) >= cap)
		return ENAMETOOLONG;
	return mkdtemp(out) ? 0 : errno;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void backup_remove_dir(const char *dir)
{
	/* Depth first, never following a link out of the directory. */
	nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}
