/* custctl: one function per verb; main dispatches (custctl.c). */
#ifndef CUSTFS_CTL_H
#define CUSTFS_CTL_H

#include <stdio.h>

#include "exitcode.h"
#include "vault.h"


/* Opens STORE, reading a passphrase from PASSFILE or, on a terminal, a prompt.
 * Prints the reason and returns NULL on failure. */
struct vault *ctl_open_vault(const char *store, const char *passfile);

/* The policy `custctl init` copies without --policy: the installed one
 * (DATADIR/custfs/policy), or the source tree's for a custctl run from its
 * build directory. */
const char *ctl_default_policy_dir(void);
int ctl_init(int argc, char **argv);
int ctl_policy(int argc, char **argv);
int ctl_history(int argc, char **argv);
int ctl_import(int argc, char **argv);
int ctl_export(int argc, char **argv);
int ctl_key(int argc, char **argv);
int ctl_store_cmd(int argc, char **argv);
/* backup STORE DEST, backup verify DEST, restore DEST STORE (ctl_backup.c,
 * ctl_restore.c; issue 13, R2.6). */
int ctl_backup(int argc, char **argv);
int ctl_backup_verify(int argc, char **argv);
int ctl_restore(int argc, char **argv);
/* Records one of root's operations on the store files in the audit log
 * (R5.1). 0, or errno: the operation must then not happen. */
int ctl_audit(struct vault *v, const char *action, int64_t customer_id, const char *field,
	      bool allow, const char *detail);
/* The same with RULE: "break-glass" for root's reads of sensitive records
 * (R3.5: root needs no checkout, so the report lists them). */
int ctl_audit_rule(struct vault *v, const char *action, int64_t customer_id, const char *field,
		   bool allow, const char *rule, const char *detail);

/* A command that acts as a person (cmd.h): on the store files directly as
 * root (when ARGV names a store), or through the mount as the caller. */
int ctl_person_command(int argc, char **argv);

#endif
