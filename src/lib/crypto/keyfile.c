#include "keyfile.h"
#include "i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"

/* Layout: magic(8) kind(1) then
 *   'P': key(32)
 *   'W': salt(16) opslimit(8, BE) memlimit(8, BE) nonce(24) sealed key+tag(48)
 * The wrapped form's AAD is the header up to and including memlimit, so the
 * KDF parameters cannot be swapped for weaker ones. */
#define KF_MAGIC "CUSTFSK1"
#define KF_PLAIN_LEN (8 + 1 + CRYPTO_KEY_BYTES)
#define KF_HDR_LEN (8 + 1 + crypto_pwhash_SALTBYTES + 8 + 8)
#define KF_WRAPPED_LEN (KF_HDR_LEN + WRAPPED_KEY_BYTES)

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static int derive(unsigned char *kek, const char *pass, size_t passlen, const unsigned char *salt,
		  uint64_t ops, uint64_t mem)
{
	return crypto_pwhash(kek, CRYPTO_KEY_BYTES, pass, passlen, salt, ops, (size_t)mem,
			     crypto_pwhash_ALG_ARGON2ID13) == 0 ? 0 : ENOMEM;
}

int keyfile_create(const char *path, const unsigned char *master, const char *pass,
		   size_t passlen, char *err, size_t errlen)
{
	unsigned char *buf = sodium_malloc(KF_WRAPPED_LEN);
	unsigned char *kek = NULL;
	size_t len;
	int rc = 0, fd = -1;

	if (!buf) {
		snprintf(err, errlen, _("out of memory"));
		return ENOMEM;
	}
	memcpy(buf, KF_MAGIC, 8);
	if (!pass) {
		buf[8] = 'P';
		memcpy(buf + 9, master, CRYPTO_KEY_BYTES);
		len = KF_PLAIN_LEN;
	} else {
		uint64_t ops = crypto_pwhash_OPSLIMIT_MODERATE;
		uint64_t mem = crypto_pwhash_MEMLIMIT_MODERATE;
		unsigned char *salt = buf + 9;
		struct aad a;

		buf[8] = 'W';
		randombytes_buf(salt, crypto_pwhash_SALTBYTES);
		put_be64(buf + 9 + crypto_pwhash_SALTBYTES, ops);
		put_be64(buf + 9 + crypto_pwhash_SALTBYTES + 8, mem);
		kek = crypto_key_new();
		if (!kek || derive(kek, pass, passlen, salt, ops, mem)) {
			snprintf(err, errlen, _("cannot derive a key from the passphrase (out of memory)"));
			rc = ENOMEM;
			goto out;
		}
		memcpy(a.buf, buf, KF_HDR_LEN);
		a.len = KF_HDR_LEN;
		crypto_wrap_key(kek, &a, master, buf + KF_HDR_LEN);
		len = KF_WRAPPED_LEN;
	}

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (fd < 0) {
		rc = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(rc));
		goto out;
	}
	if (write(fd, buf, len) != (ssize_t)len || fsync(fd) != 0) {
		rc = errno ? errno : EIO;
		snprintf(err, errlen, _("%s: cannot write key: %s"), path, strerror(rc));
		unlink(path);
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	crypto_key_free(kek);
	sodium_free(buf);
	return rc;
}

/* Reads the whole key file after checking it can be trusted. */
static int read_trusted(const char *path, unsigned char *buf, size_t cap, size_t *len, char *err,
			size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return e;
	}
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) != 0) {
		rc = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(rc));
	} else if (!S_ISREG(st.st_mode)) {
		rc = EACCES;
		snprintf(err, errlen, _("%s: not a regular file"), path);
	} else if (st.st_uid != geteuid() || (st.st_mode & 077)) {
		rc = EACCES;
		snprintf(err, errlen, _("%s: refusing a key file not owned by uid %u or open to others "
			 "(mode %04o)"), path, (unsigned)geteuid(), (unsigned)(st.st_mode & 07777));
	} else {
		ssize_t n = read(fd, buf, cap);
		if (n < 0) {
			rc = errno;
			snprintf(err, errlen, "%s: %s", path, strerror(rc));
		} else {
			*len = (size_t)n;
		}
	}
	close(fd);
	return rc;
}

int keyfile_needs_passphrase(const char *path, bool *needs, char *err, size_t errlen)
{
	unsigned char buf[KF_WRAPPED_LEN + 1];
	size_t len = 0;
	int rc = read_trusted(path, buf, sizeof buf, &len, err, errlen);
	if (rc == 0) {
		if (len < 9 || memcmp(buf, KF_MAGIC, 8) != 0) {
			snprintf(err, errlen, _("%s: not a custfs key file"), path);
			rc = EINVAL;
		} else {
			*needs = buf[8] == 'W';
		}
	}
	sodium_memzero(buf, sizeof buf);
	return rc;
}

int keyfile_load(const char *path, const char *pass, size_t passlen, unsigned char *master,
		 char *err, size_t errlen)
{
	unsigned char *buf = sodium_malloc(KF_WRAPPED_LEN + 1);
	unsigned char *kek = NULL, *k = NULL;
	size_t len = 0;
	int rc;

	if (!buf) {
		snprintf(err, errlen, _("out of memory"));
		return ENOMEM;
	}
	rc = read_trusted(path, buf, KF_WRAPPED_LEN + 1, &len, err, errlen);
	if (rc)
		goto out;
	if (len >= 9 && memcmp(buf, KF_MAGIC, 8) == 0 && buf[8] == 'P' && len == KF_PLAIN_LEN) {
		memcpy(master, buf + 9, CRYPTO_KEY_BYTES);
	} else if (len >= 9 && memcmp(buf, KF_MAGIC, 8) == 0 && buf[8] == 'W' &&
		   len == KF_WRAPPED_LEN) {
		const unsigned char *salt = buf + 9;
		uint64_t ops = get_be64(buf + 9 + crypto_pwhash_SALTBYTES);
		uint64_t mem = get_be64(buf + 9 + crypto_pwhash_SALTBYTES + 8);
		struct aad a;

		if (!pass) {
			snprintf(err, errlen, _("%s: the master key is protected by a passphrase"), path);
			rc = EACCES;
			goto out;
		}
		if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > crypto_pwhash_OPSLIMIT_SENSITIVE ||
		    mem < crypto_pwhash_MEMLIMIT_MIN || mem > crypto_pwhash_MEMLIMIT_SENSITIVE) {
			snprintf(err, errlen, _("%s: implausible key derivation parameters"), path);
			rc = EINVAL;
			goto out;
		}
		kek = crypto_key_new();
		if (!kek || derive(kek, pass, passlen, salt, ops, mem)) {
			snprintf(err, errlen, _("cannot derive a key from the passphrase (out of memory)"));
			rc = ENOMEM;
			goto out;
		}
		memcpy(a.buf, buf, KF_HDR_LEN);
		a.len = KF_HDR_LEN;
		rc = crypto_unwrap_key(kek, &a, buf + KF_HDR_LEN, WRAPPED_KEY_BYTES, &k);
		if (rc == EBADMSG) {
			snprintf(err, errlen, _("%s: wrong passphrase"), path);
			rc = EACCES;
			goto out;
		} else if (rc) {
			snprintf(err, errlen, _("out of memory"));
			goto out;
		}
		memcpy(master, k, CRYPTO_KEY_BYTES);
	} else {
		snprintf(err, errlen, _("%s: not a custfs key file"), path);
		rc = EINVAL;
	}
out:
	crypto_key_free(k);
	crypto_key_free(kek);
	sodium_free(buf);
	return rc;
}
