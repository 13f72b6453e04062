/* The regulation's procedures, kept in the store (R3.1-R3.3, R4.2, R4.4,
 * R5.2): access applications, appeals, and hazard or violation reports.
 * Store layer only: who may take which step is decided in cmd_workflow.c. */
#ifndef CUSTFS_WORKFLOW_H
#define CUSTFS_WORKFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "staff.h"
#include "db.h"

#define WF_TEXT 1024

enum app_status { APP_FILED, APP_APPROVED, APP_REJECTED, APP_IMPLEMENTED, APP_WITHDRAWN };

struct application {
	int64_t id;
	int64_t employee_id;  /* for whom */
	char role[STAFF_WORD];
	bool scoped;
	int64_t *customers;
	size_t ncustomers;
	char end_date[DATE_LEN];
	int64_t replaces;     /* a change application (R3.3): the grant it replaces */
	char reason[WF_TEXT];
	enum app_status status;
	int64_t filed_by, approved_by, implemented_by; /* employee ids; 0 = not yet */
	int64_t filed_ns, decided_ns, implemented_ns;
	char decision_note[WF_TEXT];
	int64_t grant_id;     /* the grant it created */
	/* A change of the register that widens access (R3.1), KEY=VALUE:
	 * type=TYPE, group=member|leader, until=DATE|none, head=yes; then ROLE
	 * is empty and implementing it changes the record, not the grants. */
	char change[STAFF_WORD * 2];
};

enum case_status { CASE_OPEN, CASE_FORWARDED, CASE_ANSWERED, CASE_RESOLVED };

/* An appeal (R4.2) or a report (R4.4, R5.2). */
struct wf_case {
	int64_t id;
	bool is_appeal;
	int64_t filed_by; /* employee id */
	int64_t filed_ns;
	char text[WF_TEXT];
	char cite[WF_TEXT];          /* appeals: the denied access it cites */
	enum case_status status;
	int64_t head_by, head_ns;    /* appeals: the department head's step */
	char head_note[WF_TEXT];
	int64_t resolved_by, resolved_ns;
	char resolution[WF_TEXT];
};

const char *app_status_name(enum app_status s);
const char *case_status_name(enum case_status s);

/* Creates the procedures' tables if missing (the vault does, at every open). */
int wf_schema(struct db *db);

/* Call inside a transaction. */
int wf_app_add(struct db *db, const struct application *a, int64_t *id);
int wf_app_get(struct db *db, int64_t id, struct application *out); /* frees with wf_app_clear */
void wf_app_clear(struct application *a);
/* Moves an application from status FROM to TO, recording BY and NOTE. ESTALE
 * if it is no longer in FROM (someone else acted first). */
int wf_app_step(struct db *db, int64_t id, enum app_status from, enum app_status to,
		int64_t by, const char *note, int64_t grant_id);
int wf_app_list(struct db *db, int (*fn)(void *ctx, const struct application *a), void *ctx);

int wf_case_add(struct db *db, const struct wf_case *c, int64_t *id);
int wf_case_get(struct db *db, bool appeal, int64_t id, struct wf_case *out);
int wf_case_head_step(struct db *db, int64_t id, enum case_status to, int64_t by,
		      const char *note);
int wf_case_resolve(struct db *db, bool appeal, int64_t id, int64_t by, const char *text);
int wf_case_list(struct db *db, bool appeal, int (*fn)(void *ctx, const struct wf_case *c),
		 void *ctx);

#endif
