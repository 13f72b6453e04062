/* The audit log (R5.1): one record for every access, allowed or denied, and
 * every change; tamper-evident and verifiable.
 *
 * Kept in its own sqlite database in the store (audit.db), local, never a
 * logger that needs a decision from custfs. Each record carries the BLAKE2b
 * hash of its predecessor and itself (a hash chain); custfs signs checkpoints
 * of the chain with the store's Ed25519 key, whose secret half is sealed
 * under the master key. A checkpoint line kept outside the machine proves the
 * log still extends it.
 *
 * MUST: a record never holds a field value; customers are recorded by their
 * store id (their names are customer data, sealed at rest). An access is
 * granted only after its record is committed: callers deny when
 * audit_append fails. */
#ifndef CUSTFS_AUDIT_H
#define CUSTFS_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define AUDIT_DB_FILE "audit.db"
#define AUDIT_HASH_BYTES 32

struct audit;

struct audit_event {
	int64_t time_ns;     /* 0: now */
	uid_t uid;
	const char *login;   /* the employee, or "" */
	const char *department;
	pid_t pid;
	const char *comm;    /* process name and executable, or "" */
	const char *exe;
	const char *mount;   /* mount point and view, or "" */
	const char *view;
	int64_t customer_id; /* 0: none */
	const char *field;
	const char *cls;
	const char *action;  /* read, write, create, close, version, mkdir, command, mount, ... */
	bool allow;
	const char *rule;
	const char *reason;
	int64_t checkout_id;
	int64_t bytes_read;
	int64_t bytes_written;
	const char *detail;
};

struct audit_record {
	int64_t seq;
	struct audit_event ev; /* strings point into the record's own storage */
	char text[12][320];
	unsigned char prev[AUDIT_HASH_BYTES];
	unsigned char hash[AUDIT_HASH_BYTES];
};

/* Opens STORE_DIR/audit.db, creating it (and the store's signing key, sealed
 * with MASTER) if missing. */
int audit_open(const char *store_dir, const unsigned char *master,
	       const unsigned char store_id[16], struct audit **out, char *err, size_t errlen);
void audit_close(struct audit *a);

/* Appends EV as one committed record. DURABLE: survives power loss
 * (synchronous=FULL); otherwise a crash of custfs. 0 or errno. */
int audit_append(struct audit *a, const struct audit_event *ev, bool durable);

/* Queues EV, which gates nothing (a close, a new version), to be written with
 * the next appended record or by audit_flush (custfs flushes every second and
 * at unmount). 0 or errno (written at once when the queue is full). */
int audit_note(struct audit *a, const struct audit_event *ev);
int audit_flush(struct audit *a);

/* Signs the chain's last record, keeps the checkpoint in the log, and writes
 * the one-line form (for admin to keep elsewhere) into LINE. */
int audit_checkpoint(struct audit *a, char *line, size_t cap);
/* The store's public key, hex. */
void audit_public_key(struct audit *a, char *hex, size_t cap);

/* Walks the whole chain (and the kept checkpoints). Writes "OK ..." or the
 * first bad record and why to OUT. AGAINST, if not NULL, is a checkpoint line
 * the log must still extend. Returns 0 if all is well. */
int audit_verify(struct audit *a, const char *against, FILE *out);

/* Retention: moves the records older than BEFORE_NS to a new file PATH
 * (0600), signed, and keeps a signed marker in the log (R5.1: nothing leaves
 * the log without a record that it did). 0 or errno. */
int audit_archive(struct audit *a, int64_t before_ns, const char *path, FILE *out);
/* Checks an archive file's chain and signature. 0 if intact. */
int audit_verify_archive(struct audit *a, const char *path, FILE *out);

struct audit_filter {
	int64_t from_ns, to_ns;   /* 0: open-ended */
	const char *login;
	const char *department;
	int64_t customer_id;
	const char *cls;
	const char *action;
	int decision;             /* -1 any, 0 deny, 1 allow */
};

/* Records matching F, oldest first; FN returns nonzero to stop. */
int audit_query(struct audit *a, const struct audit_filter *f,
		int (*fn)(void *ctx, const struct audit_record *r), void *ctx);
/* N records drawn at random (spot checks, R5.1). */
int audit_sample(struct audit *a, int n, int (*fn)(void *ctx, const struct audit_record *r),
		 void *ctx);

#endif
