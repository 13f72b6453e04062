/* Commands that act as a person: the staff register, grants, the procedures
 * (applications, appeals, reports), explanations.
 *
 * One implementation, two ways in:
 *  - staff run `custctl VERB ...` as themselves; custctl hands the words to
 *    the mount (MOUNT/.custfs/ctl) and custfs runs them here with the caller's
 *    uid from the FUSE request — identity comes from the kernel, never from a
 *    name anyone types;
 *  - root runs `custctl VERB STORE ...` on the store files directly: the
 *    break-glass path, and every change it makes is recorded as such.
 *
 * MUST: every step checks the actor against the policy's procedures and the
 * separation of duties before it changes anything; each change is one
 * transaction. Thread-safe: no getopt, no globals. */
#ifndef CUSTFS_CMD_H
#define CUSTFS_CMD_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "policy.h"
#include "staff.h"
#include "vault.h"

/* Exit codes (README, "Exit codes"). */
enum { CMD_OK = 0, CMD_REFUSED = 1, CMD_USAGE = 2, CMD_NO_MOUNT = 3 };

struct cmd_env {
	struct vault *v;
	const struct policy *pol;
	uid_t uid;                  /* the actor */
	const struct employee *me;  /* the actor's record; NULL for root or a stranger */
	bool root;                  /* break-glass: root on the store files */
	FILE *out;
	FILE *err;
	const char *view;           /* the mount's view, for explanations */
	/* Called after a committed change to the staff register or grants, so
	 * every mount of the store sees it at its next request. */
	void (*staff_changed)(void *ctx);
	void *ctx;
	/* Installs policy files (daemon only): NAMES[i] gets TEXTS[i]. */
	int (*install_policy)(void *ctx, int n, char **names, char **texts, FILE *err);
};

/* Runs ARGV (argv[0] is the verb). Returns a CMD_ exit code. */
int cmd_run(struct cmd_env *e, int argc, char **argv);
/* Whether VERB is one cmd_run knows. */
bool cmd_known(const char *verb);

/* ---- for the cmd_*.c files ---- */

struct cmd_opt {
	const char *name;  /* without the leading "--" */
	bool takes_value;
	const char **value; /* set when given (takes_value) */
	bool *flag;         /* set when given (no value) */
};

/* Splits ARGV[1..] into options (from OPTS) and up to MAXPOS positionals.
 * Reports a bad option or too many words to e->err; returns 0 or CMD_USAGE. */
int cmd_parse(struct cmd_env *e, int argc, char **argv, const struct cmd_opt *opts, char **pos,
	      int maxpos, int *npos);

/* The actor's department takes procedure PR (or the actor is root). Prints
 * the refusal otherwise. */
bool cmd_may(struct cmd_env *e, enum procedure pr, const char *what);
void cmd_json_str(FILE *out, const char *s);
/* A fresh snapshot of the staff register (commands are rare: read it each
 * time); NULL, said to e->err, if it cannot be read. It replaces the
 * thread's previous snapshot: e->me is re-pointed into the new one, and no
 * other pointer into the old one may be used after the call. */
const struct staff *cmd_register(struct cmd_env *e);
/* The words of a command as the audit log keeps them: the verb, its
 * sub-verb, ids and option names; never free text or customer names (they
 * are customer data), which become "_". */
void cmd_describe(int argc, char **argv, char *out, size_t cap);
/* A positive id, or 0. */
int64_t cmd_parse_id(const char *s);
/* Commits (or, with ERR, rolls back) the command's transaction and says why
 * it failed; ESTALE means someone else took the step first. On success,
 * STAFF_CHANGED tells the store's mounts. A CMD_ code. */
int cmd_finish(struct cmd_env *e, int err, const char *what, bool staff_changed);
const struct employee *cmd_employee_by_id(const struct staff *s, int64_t id);
void cmd_time(int64_t ns, char out[32]);

int cmd_employee(struct cmd_env *e, int argc, char **argv);
int cmd_grant(struct cmd_env *e, int argc, char **argv);
int cmd_explain(struct cmd_env *e, int argc, char **argv);
int cmd_whoami(struct cmd_env *e, int argc, char **argv);
int cmd_app(struct cmd_env *e, int argc, char **argv);
int cmd_appeal(struct cmd_env *e, int argc, char **argv);
int cmd_report(struct cmd_env *e, int argc, char **argv);
int cmd_policy(struct cmd_env *e, int argc, char **argv);
int cmd_checkout(struct cmd_env *e, int argc, char **argv);
int cmd_checkouts(struct cmd_env *e, int argc, char **argv);
int cmd_return(struct cmd_env *e, int argc, char **argv);
int cmd_audit(struct cmd_env *e, int argc, char **argv);

#endif
