/* The store's master key file.
 *
 * Two forms: the key itself in a root-only file (0400, created O_EXCL), or the
 * key wrapped with a key derived from a passphrase by Argon2id (crypto_pwhash).
 * MUST: the file is opened O_NOFOLLOW and trusted only if it is a regular file
 * owned by the caller's euid with no group or other permission bits. */
#ifndef CUSTFS_KEYFILE_H
#define CUSTFS_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>

/* Writes MASTER to a new file PATH. With PASS, wraps it under Argon2id(PASS).
 * 0 or errno (EEXIST if PATH exists). ERR receives a message on failure. */
int keyfile_create(const char *path, const unsigned char *master, const char *pass,
		   size_t passlen, char *err, size_t errlen);

/* Whether PATH holds a passphrase-wrapped key. 0 or errno. */
int keyfile_needs_passphrase(const char *path, bool *needs, char *err, size_t errlen);

/* Reads the master key into MASTER (a sodium_malloc'd CRYPTO_KEY_BYTES buffer).
 * PASS may be NULL for a plain key file. 0, or errno with ERR set
 * (EACCES for a wrong passphrase or an untrusted file). */
int keyfile_load(const char *path, const char *pass, size_t passlen, unsigned char *master,
		 char *err, size_t errlen);

#endif
