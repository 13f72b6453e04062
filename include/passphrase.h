/* Reading a passphrase without leaving copies of it behind.
 *
 * MUST: the passphrase goes straight from read(2) into sodium_malloc memory;
 * no stdio buffer ever holds it. */
#ifndef CUSTFS_PASSPHRASE_H
#define CUSTFS_PASSPHRASE_H

#include <stddef.h>

#define PASSPHRASE_MAX 1024

/* Reads the first line of FILE (a trailing newline is not part of it).
 * Returns a sodium_malloc'd NUL-terminated buffer, or NULL with ERR set. */
char *passphrase_from_file(const char *file, size_t *len, char *err, size_t errlen);
/* Prompts on /dev/tty with echo off. NULL with ERR set if there is no terminal. */
char *passphrase_prompt(const char *prompt, size_t *len, char *err, size_t errlen);
void passphrase_free(char *p);

#endif
