/* The audit report (R5.1, R2.1, R3.5): what administration and the
 * information management group hand on for a period.
 *
 * report_build reads the period's records once (audit_query, oldest first)
 * and computes a struct report: tallies by department, person, class, day
 * and denial rule, the checkouts of sensitive records and their late
 * returns, policy changes, break-glass uses, the unusual behaviour of each
 * person (with the records that show it) and a random spot-check sample of
 * data accesses. The four writers only print it: report_text.c,
 * report_csv.c, report_json.c, report_html.c, one format each.
 *
 * Every string in a report that came from a record, the register or the
 * store (logins, departments, customer names, purposes, details) is the
 * writer's to escape: they are hostile input. Text and HTML are for people
 * and translated (_()); CSV and JSON are for programs and never are. */
#ifndef CUSTFS_REPORT_H
#define CUSTFS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit.h"

struct vault;

#define REPORT_JSON_VERSION 1
#define REPORT_LIST_MAX 1000   /* rows kept of a list (policy changes, break-glass, ...) */
#define REPORT_SEQS_MAX 50     /* records named for one anomaly */

enum report_format { REPORT_TEXT, REPORT_CSV, REPORT_JSON, REPORT_HTML };

struct report_opts {
	struct audit_filter filter; /* the period (from_ns, to_ns: exclusive) and any filters */
	const char *from, *to;      /* the dates as given, for the heading (NULL: open) */
	int night_from, night_to;   /* minutes of the day: night is [from, to), across midnight */
	int many;                   /* different customers in ten minutes that stand out */
	int denials;                /* denials in ten minutes that stand out */
	int sample;                 /* the spot-check sample's size */
	int64_t now_ns;             /* when the report is made (0: now) */
};

/* Accesses (a repeated denial counts for as many as it stands for) and how
 * many of them were denied. */
struct report_count {
	long accesses, denied;
};

struct report_person {
	const char *login;      /* "" for root on the store files and uids not on the register */
	unsigned uid;
	const char *department; /* of their last access in the period */
	struct report_count c;
};

struct report_key {
	const char *name; /* a department ("": none), class ("": none) or rule */
	struct report_count c;
};

struct report_day {
	int64_t start_ns, end_ns; /* local midnight to midnight */
	char date[11];            /* YYYY-MM-DD */
	struct report_count c;
};

struct report_checkout {
	int64_t id;
	const char *login;    /* who checked out ("" if no longer on the register) */
	const char *customer; /* the customer's name ("#ID" if gone) */
	const char *target;   /* a field, a class, or "" for the customer's sensitive classes */
	const char *purpose;
	const char *status;   /* pending, open, returned, expired, denied, revoked */
	int64_t requested_ns, expires_ns, ended_ns, duration_s;
	long accesses;        /* in the period, through this checkout */
	bool late;            /* ran out unreturned (or is open past its end) */
};

/* A record listed in a section: a policy change, a break-glass use, a
 * sampled access. */
struct report_record {
	int64_t seq, time_ns;
	unsigned uid;
	const char *login, *department, *action, *customer, *field, *cls, *rule, *detail;
	bool allow;
};

enum report_anomaly_kind { ANOMALY_MANY_CUSTOMERS, ANOMALY_NIGHT, ANOMALY_DENIALS };

struct report_anomaly {
	enum report_anomaly_kind kind;
	size_t person;            /* index into people */
	long count;               /* customers, night accesses, or denials */
	int64_t from_ns, to_ns;   /* the window (the first and last record's times) */
	int64_t seqs[REPORT_SEQS_MAX];
	size_t nseqs;             /* records named (at most REPORT_SEQS_MAX) */
	long records;             /* records that show it in all */
};

struct report {
	struct report_opts opts;
	int64_t made_ns;
	long records;             /* records of the period read */
	int64_t first_seq, last_seq, first_ns, last_ns;
	long commands;            /* commands run (custctl, through a mount or on the files) */
	long through_checkouts;   /* accesses through a checkout of sensitive records */
	struct report_count total;
	/* sorted by name (people by login, then uid) */
	struct report_key *departments, *classes;
	size_t ndepartments, nclasses;
	struct report_person *people;
	size_t npeople;
	/* denials by rule, most first */
	struct report_key *rules;
	size_t nrules;
	/* the days with accesses, in order; accesses per department per day in
	 * dept_day[day * ndepartments + department] */
	struct report_day *days;
	size_t ndays;
	struct report_count *dept_day;
	/* newest first */
	struct report_checkout *checkouts;
	size_t ncheckouts;
	long late;
	/* oldest first; at most REPORT_LIST_MAX kept of the total */
	struct report_record *changes, *glass, *sample;
	size_t nchanges, nglass, nsample;
	long changes_total, glass_total;
	/* by person, then kind */
	struct report_anomaly *anomalies;
	size_t nanomalies;
	/* the report's strings */
	struct report_arena *arena;
};

/* Builds the report of V's audit log for O. 0, or errno with ERR set. */
int report_build(struct vault *v, const struct report_opts *o, struct report **out, char *err,
		 size_t errlen);
void report_free(struct report *r);

/* The writers: 0, or errno (OUT could not be written). */
int report_text(const struct report *r, FILE *out);
int report_csv(const struct report *r, FILE *out);
int report_json(const struct report *r, FILE *out);
int report_html(const struct report *r, FILE *out);
int report_write(const struct report *r, enum report_format f, FILE *out);
/* "text", "csv", "json", "html"; -1 for anything else. */
int report_format_parse(const char *s);

/* N data accesses (report_data_access) of the records matching F drawn at
 * random, every one alike likely, in log order: FN for each. 0 or errno. */
int report_sample(struct audit *a, const struct audit_filter *f, int n,
		  int (*fn)(void *ctx, const struct audit_record *r), void *ctx);
/* Whether ACTION is an access to customer data: an open, read, write or
 * create (not a close, command or procedure step). */
bool report_data_access(const char *action);

/* Reservoir sampling of K of a stream: report_reservoir_offer says, for
 * each item in turn, which of the K slots it takes, or -1. */
struct report_reservoir {
	long k, seen, next;
	double w;
};
long report_reservoir_offer(struct report_reservoir *s);

/* ---- shared by the writers ---- */

/* A person as people read it: the login, "root", or "uid N". */
const char *report_person_label(const struct report_person *p, char *buf, size_t cap);
/* A department or class as people read it: "(none)" for "". */
const char *report_key_label(const char *name);
/* NS as local "YYYY-MM-DD HH:MM:SS" (text, HTML) or ISO 8601 with the UTC
 * offset, "YYYY-MM-DDTHH:MM:SS+08:00" (CSV, JSON); "" for 0. */
void report_time(int64_t ns, char out[32]);
void report_time_iso(int64_t ns, char out[32]);
/* The night window, "HH:MM-HH:MM". */
void report_night(const struct report *r, char out[16]);
const char *report_anomaly_name(enum report_anomaly_kind k); /* many-customers, night, denials */

#endif
