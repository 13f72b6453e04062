/* The policy: the grading strategy a store enforces, read from its policy/
 * directory: fields.conf (the catalogue) and access.conf (staff types,
 * department ceilings, roles, masks). See policy/access.conf for the language.
 *
 * A policy is immutable once loaded. Reloading builds a new one and swaps it in
 * (policy_current); any error keeps the old one (fapolicyd's habit). */
#ifndef CUSTFS_POLICY_H
#define CUSTFS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "catalog.h"

#define POLICY_ACCESS_FILE "access.conf"

/* Per-field rights, as bits. */
enum { R_READ = 1, R_WRITE = 2 };

struct rights {
	unsigned char *field; /* [catalogue nfields]: R_READ | R_WRITE */
	bool create;          /* may create customers */
};

struct stafftype {
	char *name;
	int max_level;
	bool scoped;   /* grants must name customers */
	bool expiring; /* grants and the employee must have an end date */
	unsigned char *masked; /* [nfields]: 1 if shown masked */
	size_t line;           /* where it was defined, for messages */
};

struct department {
	char *name;
	struct rights ceiling;
};

struct role {
	char *name;
	const struct department *dept;
	struct rights rights;
};

enum mask_kind { MASK_NONE, MASK_KEEP, MASK_EMAIL };

struct mask {
	enum mask_kind kind;
	int first;
	int last;
};

/* Who takes which step of the procedures (R3.1, R2.1, R2.5, R2.6). */
enum procedure {
	PROC_APPROVE,   /* reviews access applications (administration) */
	PROC_IMPLEMENT, /* sets approved rights in the system (technical) */
	PROC_STAFF,     /* keeps the staff register: hires, job changes, departures */
	PROC_POLICY,    /* installs policy changes decided by the group */
	/* files applications for department heads: that department's head (the
	 * administration supervisor); the information group's leader may too */
	PROC_FILE_FOR_HEADS,
	PROC_COUNT
};

/* How a sensitive class is checked out (R3.5). */
struct checkout_rule {
	const struct field_class *cls;
	int64_t max_s;        /* longest checkout */
	int limit;            /* most open or pending checkouts per person (0: no limit) */
	int from_min, to_min; /* working hours, minutes after midnight; -1: any time */
	unsigned char *approval; /* [nstafftypes]: 1 if admin must approve first */
};

/* Bounds on what one person, and everyone together, may hold in a mount
 * (open files, scratch files, the daemon's locked memory): over a bound the
 * person gets EDQUOT, and nobody else is stopped. `limit NAME VALUE`. */
enum limit {
	LIMIT_OPEN_FILES,     /* open files of one person */
	LIMIT_WRITERS,        /* of them, open for writing */
	LIMIT_CTL_REQUESTS,   /* .custfs/ctl requests open at once */
	LIMIT_SCRATCH_FILES,  /* editors' scratch files of one person */
	LIMIT_SCRATCH_BYTES,  /* their bytes */
	LIMIT_MEMORY,         /* locked memory of one person's open files */
	LIMIT_CTL_PER_MINUTE, /* .custfs/ctl commands one person runs a minute (each
			       * is two audit records) */
	LIMIT_TOTAL_OPEN_FILES,
	LIMIT_TOTAL_SCRATCH_FILES,
	LIMIT_TOTAL_MEMORY,   /* locked memory of everyone's open and scratch files */
	LIMIT_COUNT
};

struct policy {
	struct catalog *cat;
	int64_t limits[LIMIT_COUNT];
	struct checkout_rule *checkouts;
	size_t ncheckouts;
	const struct department *procedure[PROC_COUNT]; /* NULL: nobody may */
	bool audit_durable; /* every audit record survives power loss, not only sensitive ones */
	int64_t erase_delay_s; /* `erase delay D`: an approved erasure waits this long */
	/* `keep CLASS versions N | days D`: how much history a class keeps (an
	 * approved prune removes the rest; the current value always stays) */
	struct retention {
		const struct field_class *cls;
		int64_t versions; /* the newest N; 0: no bound by count */
		int64_t days;     /* those newer than D days; 0: no bound by age */
	} *keeps;
	size_t nkeeps;
	struct stafftype *stafftypes;
	size_t nstafftypes;
	struct department *departments;
	size_t ndepartments;
	struct role *roles;
	size_t nroles;
	struct mask *masks; /* [nfields] */
	/* `scratch PATTERN...`: the scratch names a customer directory accepts
	 * (scratch_names.h); none: the built-in list */
	char **scratch;
	size_t nscratch;
};

/* Parses DIR/fields.conf and DIR/access.conf. Every error goes to ERRS as
 * "file:line: message"; returns the number of errors (0: *OUT is set). */
int policy_load(const char *dir, FILE *errs, struct policy **out);
/* Parses access.conf text from IN against CAT (which the policy then owns). */
int policy_parse(FILE *in, const char *path, FILE *errs, struct catalog *cat,
		 struct policy **out);
void policy_free(struct policy *p);

const struct stafftype *policy_stafftype(const struct policy *p, const char *name);
const struct department *policy_department(const struct policy *p, const char *name);
const struct role *policy_role(const struct policy *p, const char *name);
const char *procedure_name(enum procedure pr);
const char *limit_name(enum limit l);
/* The built-in value of each limit (a policy without a limit statement). */
int64_t limit_default(enum limit l);
const struct checkout_rule *policy_checkout_rule(const struct policy *p,
						 const struct field_class *cls);
/* Installing a policy (custctl init, root's reload --from, the daemon's
 * policy install): writes a candidate beside DIR, starting from the regular
 * files of FROM (or, if FROM is NULL, of DIR itself) and overlaying FILES;
 * parses it in full, asks ACCEPT (may be NULL), then swaps it in with one
 * rename. Any error is written to ERRS and leaves DIR as it was. With LOADED,
 * the installed policy is returned to the caller (who frees it). 0 or errno. */
#define POLICY_FILE_MAX (1024 * 1024)
struct policy_file {
	const char *name; /* NAME.conf */
	const char *text;
	size_t len;
};
int policy_install(const char *dir, const char *from, const struct policy_file *files,
		   int nfiles, bool (*accept)(const struct policy *p, void *ctx, FILE *errs),
		   void *ctx, FILE *errs, struct policy **loaded);
/* Removes a policy directory's files and the directory. 0 or errno. */
int policy_remove_dir(const char *dir);

/* Parses "90m", "8h", "2d" or seconds; -1 if malformed. */
int64_t policy_parse_duration(const char *s);

#endif
