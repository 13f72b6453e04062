/* custctl: one function per verb; main dispatches (custctl.c). */
#ifndef CUSTFS_CTL_H
#define CUSTFS_CTL_H

#include <stdio.h>

#include "vault.h"

/* Exit codes (README, "Exit codes"). */
enum {
	CTL_OK = 0,     /* done */
	CTL_REFUSED = 1, /* refused, denied, invalid input or a failure */
	CTL_USAGE = 2,  /* bad command line */
};

/* Opens STORE, reading a passphrase from PASSFILE or, on a terminal, a prompt.
 * Prints the reason and returns NULL on failure. */
struct vault *ctl_open_vault(const char *store, const char *passfile);

int ctl_init(int argc, char **argv);
int ctl_policy(int argc, char **argv);
int ctl_history(int argc, char **argv);
int ctl_import(int argc, char **argv);
int ctl_export(int argc, char **argv);
/* Records one of root's operations on the store files in the audit log
 * (R5.1). 0, or errno: the operation must then not happen. */
int ctl_audit(struct vault *v, const char *action, int64_t customer_id, const char *field,
	      bool allow, const char *detail);

/* A command that acts as a person (cmd.h): on the store files directly as
 * root (when ARGV names a store), or through the mount as the caller. */
int ctl_person_command(int argc, char **argv);

#endif
