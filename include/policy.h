/* The policy: the grading strategy a store enforces, read from its policy/
 * directory: fields.conf (the catalogue) and access.conf (staff types,
 * department ceilings, roles, masks). See policy/access.conf for the language.
 *
 * A policy is immutable once loaded. Reloading builds a new one and swaps it in
 * (policy_current); any error keeps the old one (fapolicyd's habit). */
#ifndef CUSTFS_POLICY_H
#define CUSTFS_POLICY_H

#include <stdbool.h>
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

struct policy {
	struct catalog *cat;
	struct checkout_rule *checkouts;
	size_t ncheckouts;
	const struct department *procedure[PROC_COUNT]; /* NULL: nobody may */
	bool audit_durable; /* every audit record survives power loss, not only sensitive ones */
	struct stafftype *stafftypes;
	size_t nstafftypes;
	struct department *departments;
	size_t ndepartments;
	struct role *roles;
	size_t nroles;
	struct mask *masks; /* [nfields] */
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
const struct checkout_rule *policy_checkout_rule(const struct policy *p,
						 const struct field_class *cls);
/* Parses "90m", "8h", "2d" or seconds; -1 if malformed. */
int64_t policy_parse_duration(const char *s);

#endif
