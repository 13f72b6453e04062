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

/* A record as read back: its text columns live in TEXT (each cut to
 * AUDIT_TEXT_MAX - 1 bytes when it is written, so what is hashed is what is
 * kept). */
#define AUDIT_TEXT_COLUMNS 12
#define AUDIT_TEXT_MAX 512
struct audit_record {
	int64_t seq;
	struct audit_event ev; /* strings point into the record's own storage */
	char text[AUDIT_TEXT_COLUMNS][AUDIT_TEXT_MAX];
	unsigned char prev[AUDIT_HASH_BYTES];
	unsigned char hash[AUDIT_HASH_BYTES];
};

/* Repeated denials are one record with a count (the daemon coalesces them):
 * its detail says "repeated N more times within Ss[; DETAIL]". */
void audit_repeat_detail(char *out, size_t cap, unsigned count, int64_t secs, const char *detail);
/* How many accesses record EV stands for: 1, or N for the count record of N
 * repeats (the first of the kind has a record of its own). */
unsigned audit_record_weight(const struct audit_event *ev);

/* Copies EV into R, its strings into R's own storage (cut to fit). */
void audit_record_copy(struct audit_record *r, const struct audit_event *ev);

/* Opens STORE_DIR/audit.db, creating it (and the store's signing key, sealed
 * with MASTER) if missing. */
int audit_open(const char *store_dir, const unsigned char *master,
	       const unsigned char store_id[16], struct audit **out, char *err, size_t errlen);
void audit_close(struct audit *a);

/* Appends EV as one committed record. DURABLE: survives power loss
 * (synchronous=FULL); otherwise a crash of custfs. 0 or errno. */
int audit_append(struct audit *a, const struct audit_event *ev, bool durable);

/* Queues EV, which gates nothing (a close), to be written with
 * the next appended record or by audit_flush (custfs flushes every second and
 * at unmount). 0 or errno (written at once when the queue is full). */
int audit_note(struct audit *a, const struct audit_event *ev);
int audit_flush(struct audit *a);

/* Master-key rotation: seals the signing key under NEW_MASTER beside the
 * current copy; audit_reseal_done makes it the only one (also done by
 * audit_open when the store was switched but the log not yet). 0 or errno. */
int audit_reseal(struct audit *a, const unsigned char *new_master);
int audit_reseal_done(struct audit *a);

/* Signs the chain's last record, keeps the checkpoint in the log, and writes
 * the one-line form (for admin to keep elsewhere) into LINE. */
int audit_checkpoint(struct audit *a, char *line, size_t cap);
/* The store's public key, hex. */
void audit_public_key(struct audit *a, char *hex, size_t cap);

/* Walks the whole chain. Every signed checkpoint stored in the log must match
 * the chain at its record; KEPT[0..NKEPT) are checkpoint lines kept outside
 * the log (--against, a witness) that it must still extend: a log rewritten,
 * or cut short with its own checkpoints deleted, fails on them. Writes
 * "OK ..." or the first bad record and why to OUT. Returns 0 if all is well. */
int audit_verify(struct audit *a, const char *const *kept, size_t nkept, FILE *out);
/* The same, with what was walked in *V (custctl audit verify --json). */
struct audit_verdict {
	int64_t records;           /* records walked */
	int64_t last_seq;          /* the last one walked */
	int64_t archived;          /* the records up to this seq are in archives */
	size_t signed_checkpoints; /* checkpoints in the log, their signatures checked */
	size_t kept_checkpoints;   /* checkpoints kept outside it, given */
};
int audit_verify_verdict(struct audit *a, const char *const *kept, size_t nkept, FILE *out,
			 struct audit_verdict *v);

/* The witness: a directory outside the store (-o witness=DIR) where every
 * checkpoint is also appended, one line each, to STOREID.checkpoints, and
 * fsynced. Set it once, before checkpoints are made. 0 or errno. */
int audit_set_witness(struct audit *a, const char *dir);
/* The witness file of this store in DIR (or DIR itself, if it is a file):
 * its lines, in a new array of new strings (free both). 0 or errno, with the
 * reason written to OUT. */
int audit_witness_lines(struct audit *a, const char *dir, char ***lines, size_t *n, FILE *out);



/* Retention: moves the records older than BEFORE_NS to a new file PATH
 * (0600), signed, and keeps a signed marker in the log (R5.1: nothing leaves
 * the log without a record that it did). 0 or errno. */
int audit_archive(struct audit *a, int64_t before_ns, const char *path, FILE *out);
/* Checks an archive file's chain and signature. 0 if intact. */
int audit_verify_archive(struct audit *a, const char *path, FILE *out);
/* The same on an open stream (tests, fuzzing). */
int audit_verify_archive_stream(struct audit *a, FILE *in, FILE *out);

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
/* Whether a denial with R's action, customer, field, detail and uid comes
 * anywhere after R (an answer to the claim R). 0 or errno. */
int audit_denied_after(struct audit *a, const struct audit_record *r, bool *denied);
/* The newest record's seq (0: none). */
int audit_last_seq(struct audit *a, int64_t *seq);
/* The records with ACTION and VIEW written at mount point MOUNT after seq
 * AFTER by the daemon DAEMON mounted there, oldest first, up to the next
 * daemon's "mount" record there (two live daemons never share a mount
 * point). */
int audit_run_records(struct audit *a, int64_t after, const char *mount, const char *view,
		      pid_t daemon, const char *action,
		      int (*fn)(void *ctx, const struct audit_record *r), void *ctx);
/* How many records the log holds, and how many were written in each of the
 * last DAYS days (PER_DAY[0]: the last 24 hours). 0 or errno. */
int audit_stats(struct audit *a, int64_t now_ns, int64_t *records, int64_t *per_day, int days);

#endif
