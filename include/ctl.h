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
int ctl_employee(int argc, char **argv);
int ctl_grant(int argc, char **argv);
int ctl_explain(int argc, char **argv);

/* Signals the store's running daemons (SIGHUP: reload the policy; SIGUSR1:
 * the staff register changed). Returns how many were signalled. */
int ctl_signal_daemons(const char *store, int sig);

/* Writes S as a JSON string. */
void ctl_json_str(FILE *out, const char *s);

#endif
