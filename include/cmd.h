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

#include "exitcode.h"
#include "i18n.h"
#include "text.h"
#include "width.h"
#include "policy.h"
#include "staff.h"
#include "vault.h"
#include "workflow.h"

/* The first word of a request through the mount may name the language the
 * caller reads (custctl sends its own): "@locale=zh_CN.UTF-8". Used for the
 * words of the answer only, after a strict check of the name (i18n.h). */
#define CTL_LOCALE_WORD "@locale="

struct cmd_env {
	struct vault *v;
	const struct policy *pol;
	uid_t uid;                  /* the actor */
	const struct employee *me;  /* the actor's record; NULL for root or a stranger */
	bool root;                  /* break-glass: root on the store files */
	FILE *out;
	FILE *err;
	const char *view;           /* the mount's view, for explanations */
	bool help;                  /* only the command's usage lines are asked for */
	/* Called after a committed change to the staff register, grants or
	 * checkouts: every mount of the store acts on it (drops what the change
	 * ended) before the command returns. Returns how many mounts did not
	 * confirm (named on ERR). */
	int (*staff_changed)(void *ctx, FILE *err);
	/* The same after customers went away (an erase): every mount forgets them
	 * and drops their pages. */
	int (*customers_changed)(void *ctx, FILE *err);
	void *ctx;
	/* Installs policy files (daemon only): NAMES[i] gets TEXTS[i]. */
	int (*install_policy)(void *ctx, int n, char **names, char **texts, FILE *err);
};

/* Runs ARGV (argv[0] is the verb). Returns an exit code (exitcode.h). */
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
 * Reports a bad option or too many words to e->err; returns 0 or EXIT_USAGE. */
int cmd_parse(struct cmd_env *e, int argc, char **argv, const struct cmd_opt *opts, char **pos,
	      int maxpos, int *npos);

/* The actor's department takes procedure PR (or the actor is root). Prints
 * the refusal otherwise. */
bool cmd_may(struct cmd_env *e, enum procedure pr, const char *what);
/* Typed text (a reason, purpose, note, name): refuses with a message what is
 * too long (CAP includes the NUL) or not inert text (text.h). */
bool cmd_text_ok(struct cmd_env *e, const char *what, const char *s, size_t cap, bool multiline);
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
 * STAFF_CHANGED tells the store's mounts. An exit code. */
int cmd_finish(struct cmd_env *e, int err, const char *what, bool staff_changed);
const struct employee *cmd_employee_by_id(const struct staff *s, int64_t id);
/* Whether the actor may see customer C at all (root: every customer). */
bool cmd_sees_customer(struct cmd_env *e, const struct customer *c);
/* Customer NAME as the actor may see it: one that is hidden from them is
 * answered exactly as one that does not exist ("no customer 'NAME'", ENOENT),
 * and the probe is recorded with its store id. ANY: the actor may name every
 * customer (the audit review of administration and the group). */
int cmd_customer(struct cmd_env *e, const char *name, bool any, struct customer *c);
void cmd_time(int64_t ns, char out[32]);
/* Whether X may be granted ROLE (department, staff type: scope, end date,
 * ceiling) and, if so, the grant in G (CUSTOMERS: the names of a scoped one,
 * or RESOLVED of them already in G). An exit code, with the reason said. */
int cmd_check_grant(struct cmd_env *e, const struct employee *x, const char *rolename,
		    const char *customers, size_t resolved, const char *until, struct grant *g);
/* Whether ROLE gives X anything their staff type reaches (else refused at
 * filing, with the reason). An exit code. */
int cmd_role_reachable(struct cmd_env *e, const struct employee *x, const char *rolename);
/* CUR's record with the register change CHANGE (KEY=VALUE of an application:
 * type=, group=, until=DATE|none, head=yes) applied, in OUT (no grants). An
 * exit code, with the reason said. */
int cmd_register_change(struct cmd_env *e, const struct employee *cur, const char *change,
			struct employee *out);
/* The procedures' roles (cmd_workflow.c): whether the actor is in the
 * department of procedure PR; whether X leads the information group; whether
 * the approving department has someone independent of application A. */
bool in_procedure(struct cmd_env *e, enum procedure pr);
bool group_leader(const struct employee *x);
bool independent_approver(struct cmd_env *e, const struct staff *s,
			  const struct application *a);
/* Whether application A waits for the actor's step, and which (the command). */
bool app_waits_for_me(struct cmd_env *e, const struct staff *s, const struct application *a,
		      char *next, size_t cap);
int cmd_inbox(struct cmd_env *e, int argc, char **argv);
int cmd_erase(struct cmd_env *e, int argc, char **argv);
/* A step of a procedure on the audit record (durable), by the actor, with
 * CUSTOMER_ID (0: none) and RULE: 0 or errno (no record: no step). */
int cmd_record_act(struct cmd_env *e, const char *action, int64_t customer_id, const char *rule,
		   const char *detail);
int cmd_prune(struct cmd_env *e, int argc, char **argv);
/* Proposal ID's policy, parsed (the caller frees it), or NULL with the reason. */
struct policy *cmd_proposal_policy(struct cmd_env *e, int64_t id);
/* Says what the staff-type ceiling will keep out of a role. */
void cmd_note_ceiling(struct cmd_env *e, const struct employee *x, const char *rolename);

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
