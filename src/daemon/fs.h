/* The daemon's state and the helpers its FUSE operations share. Private to
 * src/daemon (and the unit tests of its modules).
 *
 * The open() path, top-down (docs/architecture.md):
 *   fs_ops.c    op_open: decode the request, reply once
 *   fs_who.c    who_from_req: the caller, from the kernel; the policy in force
 *   fs_file.c   open_field: fetch the row, decide, record, then decrypt
 *   fs_who.c    judge: access_decide for this caller
 *   fs_record.c record_access: the audit record, committed before the reply
 *   vault       fetch (one query) / unseal (crypto)
 *   fs_view.c   the file view: masked or plain, with its newline
 *
 * MUST:
 *  - identity is the FUSE request's uid, read at open and kept with the file
 *    handle (release and deferred writes arrive without it);
 *  - access_decide runs before any decryption; a deny is EACCES, and what a
 *    person may not see at all is ENOENT;
 *  - the kernel caches names and attributes per inode, for all users: custfs
 *    answers with zero timeouts so every lookup and stat is decided for its
 *    caller, and masked or sensitive contents never enter the page cache
 *    (direct_io);
 *  - a field's new value is stored only at flush/fsync/release or rename, as
 *    one atomic version; never a partial value;
 *  - never answer ENOSYS to OPEN (the kernel would stop sending opens). */
#ifndef CUSTFS_FS_H
#define CUSTFS_FS_H

#include <locale.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>

#include "access.h"
#include "inflight.h"
#include "notes.h"
#include "people.h"
#include "policy.h"
#include "scratch.h"
#include "turns.h"
#include "vault.h"

struct fs {
	struct vault *v;
	struct scratch_table *scratch;
	struct inflight *inflight;
	struct turns *turns; /* one writer at a time stores a version of a field */
	struct notes *why;      /* each person's last denial */
	struct notes *explain;  /* each person's last explanation */
	struct people *people;  /* what each person holds; their open files */
	_Atomic(struct policy *) policy; /* the policy in force; swapped on reload */
	pthread_mutex_t retired_lock;    /* guards retired */
	struct policy **retired;         /* replaced policies, freed at unmount */
	size_t nretired;
	atomic_uint_fast64_t acl_epoch; /* bumped when custctl signals a staff change */
	pthread_mutex_t rights_lock;    /* guards rights (fs_rights.c) */
	struct rights_fp *rights;       /* each employee's rights fingerprint, by uid */
	size_t nrights;
	char *policy_dir;
	char *view;           /* -o view=ROLE, or NULL */
	char *mountpoint;     /* for audit records */
	bool audit_durable;   /* every record waits for a power-loss-safe commit */
	int64_t last_checkpoint_ns;
	double entry_timeout; /* seconds the kernel may cache names and attributes */
	bool one_person;      /* -o person=LOGIN: the kernel lets only that person in */
	uid_t person_uid;     /* that person */
	struct fs_cache *cache; /* what drops the kernel's names (fs_cache.c), or NULL */
	size_t cached_names;    /* at most this many names kept by the kernel (person=) */
	int64_t mounted_ns;   /* the root directory's time */
};

/* On a one-person mount: starts the thread that drops the kernel's names
 * when the person's rights may have changed (fs_cache.c). 0 or an errno;
 * nothing to do elsewhere. */
int fs_cache_start(struct fs *fs, struct fuse_session *se);
void fs_cache_stop(struct fs *fs);
/* Entry E for NAME in directory PARENT is about to be answered (a LOOKUP,
 * CREATE, MKDIR or READDIRPLUS): on a one-person mount, a name the next pass
 * must drop with the inode's attributes. True if it is remembered (then
 * fs_cache_forget(1) undoes it if the kernel did not take the answer);
 * false if it need not or cannot be, and then E's timeouts are zero if they
 * had to be (the table is full, or out of memory). Called before the answer. */
bool fs_cache_entry(struct fs *fs, fuse_ino_t parent, const char *name,
		    struct fuse_entry_param *e);
/* The kernel forgot NLOOKUP lookups of INO (FORGET). */
void fs_cache_forget(struct fs *fs, fuse_ino_t ino, uint64_t nlookup);
/* How long the kernel may keep INO's attributes from a GETATTR: on a
 * one-person mount, only an inode whose name is remembered (or the root) may
 * keep them, as only those are dropped when rights change. */
double fs_cache_attr_timeout(struct fs *fs, fuse_ino_t ino);
/* INIT is answered: from now on the kernel may hold names. */
void fs_cache_connected(struct fs *fs);
/* A RENAME to NEWNAME in NEWPARENT was answered: the kernel's moved entry is
 * dropped soon after (custfs's rename copies, so the moved entry is not what
 * a LOOKUP of the new name gives). Called after the answer. */
void fs_cache_renamed(struct fs *fs, fuse_ino_t newparent, const char *newname);

/* FS takes V's policy as the first in force. 0, or ENOMEM. */
int fs_init(struct fs *fs, struct vault *v, const char *view, double entry_timeout);
void fs_destroy(struct fs *fs);

/* Re-reads the store's policy. On any error the old policy stays in force and
 * the errors are logged as file:line: message. 0 or EINVAL. */
int fs_reload_policy(struct fs *fs);

/* Marks checkouts whose time ran out as expired and logs each one
 * (unreturned, R3.5). Their access already ended at their end time: every
 * decision compares it with the clock, and fs_rights_check drops their pages.
 * Also writes queued audit records and a checkpoint every minute. Returns
 * when to run again at the latest (a checkout's end). */
int64_t fs_sweep_checkouts(struct fs *fs);

/* Finds whose rights changed since the last check (the staff register, the
 * clock) and drops the kernel's pages of their open files. Returns the next
 * moment rights change by themselves (a checkout's end; INT64_MAX if none). */
/* Customers were erased: forget them everywhere in this mount. */
void fs_customers_gone(struct fs *fs);
int64_t fs_rights_check(struct fs *fs, bool told);

/* Records a daemon event (mount, unmount, policy reload) in the audit log. */
int fs_audit_event(struct fs *fs, const char *action, const char *detail);
/* Before serving: answers each version a daemon that held this store's lock
 * before (named in PATH, beside the lock) claimed but neither stored nor
 * answered, having died between the two (what it cannot answer now is
 * logged and tried at the next start), and names this daemon's run in PATH
 * (R5.1; fs_unanswered.c). 0, or the errno of naming the run: then this
 * daemon must not serve. *ANSWERED counts the answers. */
int fs_unanswered_start(struct fs *fs, const char *path, int *answered);
/* After the unmount record: this run is over, and left nothing to answer. */
void fs_unanswered_stop(struct fs *fs, const char *path);

extern const struct fuse_lowlevel_ops fs_lowlevel_ops;

/* ---- inode numbers ----
 * The kernel caches pages and attributes per inode, for everyone who reaches
 * it. So what one person reads (a field's value, masked or not; their notes
 * in .custfs) lives in an inode of their own: its number holds their uid.
 * Directories are shared, so a person's working directory stays theirs when
 * someone else walks the same path (per-person directories would make the
 * kernel drop the other person's dentry). A request on someone else's inode
 * (an fd or a directory passed to another person) is answered ESTALE: path
 * walks then look the name up again, for the caller.
 *
 * Ids come from the database (never reused) or the scratch table, so a number
 * names one object for the life of the mount and needs no table:
 *   1                                the root
 *   (id << 2) | 1                    scratch file id (seen by its owner only)
 *   (id << 2) | 2                    customer directory, customers.id
 *   (id << 34) | (uid << 2) | 3      field file, fields.id, as seen by uid
 *   (id << 34) | (uid << 2) | 0      .custfs/why, explain, ctl of uid (id 2..4);
 *                                    .custfs itself is id 1 with uid 0, shared */
enum kind { K_CTL = 0, K_SCRATCH = 1, K_CUSTOMER = 2, K_FIELD = 3, K_ROOT = 4 };
enum { CTL_DIR = 1, CTL_WHY = 2, CTL_EXPLAIN = 3, CTL_CMD = 4 };
#define CTL_NAME ".custfs"
#define INO_KIND_BITS 2
#define INO_KIND_MASK ((fuse_ino_t)((1u << INO_KIND_BITS) - 1))
#define INO_UID_BITS 32
#define INO_ID_SHIFT (INO_KIND_BITS + INO_UID_BITS)
/* Field ids above this do not fit a per-person inode number. */
#define INO_PERSONAL_ID_MAX (((int64_t)1 << (64 - INO_ID_SHIFT)) - 1)
_Static_assert(K_FIELD <= INO_KIND_MASK, "every kind but the root fits the kind bits");
_Static_assert(((fuse_ino_t)1 << INO_KIND_BITS | K_SCRATCH) != FUSE_ROOT_ID,
	       "no encoded inode is the root's");
_Static_assert(sizeof(fuse_ino_t) == 8 && sizeof(uid_t) * 8 == INO_UID_BITS,
	       "inode numbers are 64 bits and hold a whole uid");

static inline bool kind_is_personal(enum kind k, int64_t id)
{
	return k == K_FIELD || (k == K_CTL && id != CTL_DIR);
}

/* A shared object's inode (customers, scratch files, .custfs). */
static inline fuse_ino_t ino_of(enum kind k, int64_t id)
{
	if (k == K_CTL)
		return ((fuse_ino_t)id << INO_ID_SHIFT) | (fuse_ino_t)k;
	return ((fuse_ino_t)id << INO_KIND_BITS) | (fuse_ino_t)k;
}

/* UID's own inode of a per-person object (fields, .custfs files). */
static inline fuse_ino_t ino_for(enum kind k, uid_t uid, int64_t id)
{
	return ((fuse_ino_t)id << INO_ID_SHIFT) | ((fuse_ino_t)uid << INO_KIND_BITS) |
	       (fuse_ino_t)k;
}

static inline enum kind kind_of(fuse_ino_t ino, int64_t *id)
{
	if (ino == FUSE_ROOT_ID)
		return K_ROOT;
	enum kind k = (enum kind)(ino & INO_KIND_MASK);
	*id = k == K_FIELD || k == K_CTL ? (int64_t)(ino >> INO_ID_SHIFT)
					 : (int64_t)(ino >> INO_KIND_BITS);
	return k;
}

/* The uid whose inode INO is (per-person kinds). */
static inline uid_t ino_uid(fuse_ino_t ino)
{
	return (uid_t)(ino >> INO_KIND_BITS);
}

/* ---- who is asking (fs_who.c) ---- */

/* One request's view of the world: the caller from the kernel, the policy in
 * force, the caller's employee record, the mount's view, today. Built by
 * who_init only, once per request (or per handle, for requests that arrive
 * without a caller: release, deferred commits). */
struct who {
	fuse_req_t req; /* NULL when built for a handle */
	struct fs *fs;
	const struct policy *pol;
	const struct catalog *cat;
	const struct employee *emp;
	const struct role *view;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool broken; /* staff or view could not be evaluated: every decision denies */
	char today[DATE_LEN];
};

void who_init(struct who *w, struct fs *fs, fuse_req_t req, uid_t uid, gid_t gid, pid_t pid);
void who_from_req(struct who *w, fuse_req_t req);
/* Switches this thread to the language the caller's process asks for (its
 * LC_ALL, LC_MESSAGES or LANG), for what custfs says to them; returns what
 * i18n_restore() puts back ((locale_t)0: unknown, custfs's own stays). */
locale_t who_speak(const struct who *w);
locale_t who_speak_pid(pid_t pid);

/* Decides without recording, wording an allow for a caller that records it
 * (an open, a create); judge_quiet for one that uses only the verdict. */
void judge(const struct who *w, const struct customer *c, const struct field_def *def,
	   enum access_right right, struct decision *d);
/* judge, for a caller that records no allow (a stat, a listing, a re-check):
 * an allow's reason is left unwritten (""); a denial's is as judge's. */
void judge_quiet(const struct who *w, const struct customer *c, const struct field_def *def,
		 enum access_right right, struct decision *d);
/* Whether the caller may see a node at all: what they may not see is ENOENT. */
int visible(const struct who *w, const struct customer *c, const struct field_def *def);

/* ---- the audit record of an access (fs_record.c) ---- */

/* Writes the audit record of one access. 0, or EACCES: the access must then
 * be denied (fail closed). */
int record_access(const struct who *w, const struct customer *c, const struct field_def *def,
		  const char *action, const struct decision *d, int64_t bytes_read,
		  int64_t bytes_written, const char *detail);
/* Remembers a deny for .custfs/why and logs it. */
void note_denial(const struct who *w, const struct customer *c, const struct field_def *def,
		 enum access_right right, const struct decision *d);
/* Something the person asked for was refused (a name, a value): their
 * .custfs/why says what and why, since the errno alone says too little. */
void note_refusal(const struct who *w, const char *what, const char *why);
/* A value that cannot be stored (RC: EINVAL or EFBIG, WHY: the rule): noted
 * in .custfs/why with the field, logged by id, on the record (coalesced).
 * Returns RC. */
int refuse_value(const struct who *w, const struct customer *c, const char *field,
		 const char *why, int rc);
/* A refusal because the person reached a limit: their .custfs/why says which,
 * and the audit log has it (coalesced). Returns EDQUOT. */
int refuse_limit(const struct who *w, enum limit which, const struct customer *c);
/* Records a denial without waiting for it, coalescing the same denial of
 * the same person within a window into one record with a count. */
int record_denial(const struct who *w, const struct customer *c, const struct field_def *def,
		  const char *action, const struct decision *d, const char *detail);
/* A new version, on the record before it is stored (never its value):
 * queued, or waited for as its field's records are (DURABLE: on disk, for an
 * fsync). 0 or EACCES. */
int record_version(const struct who *w, const struct customer *c, const struct field_def *def,
		   int64_t checkout_id, int64_t version, bool durable);
/* A version on the record that was then not stored (ERR: EAGAIN, another
 * came first; or the store's error). */
void record_not_stored(const struct who *w, const struct customer *c,
		       const struct field_def *def, int64_t checkout_id, int64_t version, int err);
/* Writes the counts of windows that closed (ALL: every window, at unmount). */
void record_flush_repeats(struct fs *fs, bool all);
/* Decides an access that is recorded (read, write, create), writes its record
 * and notes a deny. 0 or EACCES. */
int decide(const struct who *w, const struct customer *c, const struct field_def *def,
	   enum access_right right, struct decision *d);

/* ---- open files (fs_file.c) ---- */

enum handle_kind { H_FIELD, H_SCRATCH, H_WHY, H_EXPLAIN, H_CMD };

struct handle {
	/* serialises this handle's reads, writes and commits (a value opened
	 * only to read is read without it: handle_value_fixed) */
	pthread_mutex_t lock;
	/* The open file's reference, plus one per read in progress: a read
	 * replies from the buffer, and the RELEASE its reply lets through may
	 * run at once on another thread (handle_put). */
	atomic_int refs;
	enum handle_kind kind;
	fuse_ino_t ino; /* the inode it was opened on: the kernel's pages of it */
	uid_t uid; /* the person who opened it: release arrives without a uid */
	gid_t gid;
	pid_t pid;
	int64_t customer_id;
	int64_t field_id;
	char field[NAME_MAX_BYTES + 1];
	bool writable;
	bool append;
	bool masked;     /* shows the masked form; never written */
	bool dirty;      /* written since the last commit */
	bool emptied;    /* opened with O_TRUNC or created, not yet committed: stored
			  * at fsync or release, not at a flush (bash's `>` flushes
			  * once before it writes; an empty version there would be a
			  * torn value others could see) */
	bool registered; /* counted in fs->inflight */
	/* H_FIELD: the errno a write was refused with (a value over the limit or
	 * invalid). The handle then stores nothing: its writes, fsync and close
	 * fail with it, and the stored value stays as it was. */
	int refused;
	bool answered;   /* H_CMD: the request ran; buf holds the answer */
	/* H_CMD: who wrote the request (the command acts for them, not for the
	 * opener: an fd passed to someone else writes as its new holder) */
	bool have_writer;
	uid_t writer_uid;
	gid_t writer_gid;
	pid_t writer_pid;
	int64_t bytes_read, bytes_written; /* for the close record */
	int64_t checkout_id;
	/* Once a read or write of it was refused (a right revoked, a checkout
	 * returned), it stays refused: a later grant or checkout is a new open's
	 * (and a new record's), never this one's. */
	atomic_bool revoked;
	struct secbuf buf; /* the plaintext this handle reads and writes */
	struct scratch_node *sn; /* H_SCRATCH */
	/* people.c's (its stripe lock): the opener's list, and the bytes counted
	 * against them */
	bool held;
	struct handle *pnext, *pprev;
	size_t charged;
};

struct handle *handle_new(const struct who *w, enum handle_kind kind);
/* Counts an opened handle against its opener's limits. EDQUOT (noted in
 * .custfs/why and on the record) when over one. */
int handle_hold(const struct who *w, struct handle *h);
void handle_free(struct fs *fs, struct handle *h);
/* N starts afresh (made, or emptied): it holds what its owner writes under
 * their rights as they are now. */
void scratch_restart(struct fs *fs, struct scratch_node *n);
/* Drops a reference; the last frees the handle. */
void handle_put(struct fs *fs, struct handle *h);
static inline struct handle *handle_of(struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}
static inline bool wants_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY;
}

int open_field(const struct who *w, int64_t field_id, int flags, bool creating,
	       struct handle **out);
int open_scratch(const struct who *w, struct scratch_node *n, int flags, struct handle **out);
int open_ctl(const struct who *w, int64_t id, int flags, struct handle **out);
/* Whether the person who opened H may still do RIGHT to its field (R3.2,
 * R4.3, R3.5): checked at every read and write. 0 or EACCES. */
int still_allowed(struct fs *fs, struct handle *h, enum access_right right);
/* Stores a handle's contents as a new version if they changed (or, with
 * EMPTIED_TOO, were emptied). Call with h->lock held. */
int commit_locked(struct fs *fs, struct handle *h, bool durable, bool emptied_too);
void record_close(struct fs *fs, const struct handle *h);
int truncate_field(const struct who *w, int64_t field_id, off_t size);
/* Whether a handle's bytes can no longer change: a field opened only to read
 * (its value was decided and decrypted at the open). Such a handle is read
 * without its lock. */
bool handle_value_fixed(const struct handle *h);
int handle_read(struct fs *fs, struct handle *h, size_t size, off_t off, const void **data,
		size_t *len);
int handle_write(struct fs *fs, struct handle *h, const char *buf, size_t size, off_t off);
/* The request writing to or reading from a .custfs/ctl handle must come from
 * one person: the first writer. 0 or EACCES. */
int ctl_same_person(struct handle *h, const struct fuse_ctx *ctx, bool writing);
int handle_truncate(struct fs *fs, struct handle *h, off_t size);

/* ---- the file view of a value (fs_view.c) ---- */

off_t presented_size(int64_t stored);
int present_value(const struct policy *pol, const struct field_def *def, bool masked,
		  struct secbuf *out);
int load_presented(const struct who *w, const struct field_def *def, bool masked,
		   int64_t field_id, struct secbuf *out);
/* Stores B as a new version of C's FIELD by W, its record written first (a
 * version the log cannot take is refused, EACCES, and noted). */
int store_presented(const struct who *w, const struct customer *c, const char *field,
		    const struct secbuf *b, int64_t checkout_id, bool durable,
		    struct write_result *res);
/* Whether B, as written, would be refused as FIELD's value: 0, or EINVAL or
 * EFBIG with *WHY the rule it breaks (what the store would say, without
 * storing). */
int presented_problem(const struct catalog *cat, const char *field, const struct secbuf *b,
		      const char **why);

/* ---- attributes (fs_attr.c) ---- */

void attr_dir(const struct who *w, struct stat *st, fuse_ino_t ino, mode_t mode, int64_t ns);
void attr_customer(const struct who *w, struct stat *st, const struct customer *c);
int attr_field(const struct who *w, struct stat *st, const struct customer *c,
	       const struct field_def *def, const struct field_row *f);
void attr_scratch(const struct who *w, struct stat *st, struct scratch_node *n);
void attr_ctl(const struct who *w, struct stat *st, int64_t id);
void fill_entry(struct fs *fs, struct fuse_entry_param *e, const struct stat *st);
struct scratch_node *scratch_for(const struct who *w, uint64_t id);
/* The error for a scratch inode that is no longer there: ENOENT, or ESTALE
 * on a one-person mount (a name the kernel holds is looked up again). */
int scratch_gone(const struct who *w);
struct scratch_node *scratch_named(const struct who *w, int64_t cust, const char *name);
int field_present(struct fs *fs, const struct field_row *f);
int customer_seen(const struct who *w, int64_t id, struct customer *c);
int field_seen(const struct who *w, int64_t id, struct field_row *f, struct customer *c,
	       const struct field_def **def);
int do_getattr(const struct who *w, fuse_ino_t ino, struct stat *st);
int do_access(const struct who *w, fuse_ino_t ino, int mask);

/* ---- names (fs_namespace.c) ---- */

int do_lookup(const struct who *w, fuse_ino_t parent, const char *name, struct stat *st);
int do_create(const struct who *w, fuse_ino_t parent, const char *name, mode_t mode, int flags,
	      struct handle **out, struct stat *st);
int do_mkdir(const struct who *w, fuse_ino_t parent, const char *name, struct stat *st);
int do_unlink(const struct who *w, fuse_ino_t parent, const char *name);
int do_rename(const struct who *w, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	      const char *newname, unsigned int flags);
/* A listing being answered: BUF[SIZE], of which USED is filled. With PLUS
 * (READDIRPLUS, asked for only on a one-person mount) each customer and field
 * comes with its attributes for the kernel to keep, remembered first as a
 * LOOKUP's are (fs_cache.c); their inodes go in HELD[CAP] so that a reply
 * the kernel never got can be undone with fs_cache_forget. */
struct listing {
	char *buf;
	size_t size, used;
	bool plus;
	fuse_ino_t *held;
	size_t cap, nheld;
};
/* Fills OUT with the entries of directory INO after offset OFF. */
int do_readdir(const struct who *w, fuse_ino_t ino, off_t off, struct listing *out);

/* ---- .custfs/explain and .custfs/ctl (fs_explain.c, fs_ctl.c) ---- */

/* A question written to .custfs/explain: "CUSTOMER[/FIELD] [read|write]". */
struct explain_query {
	char customer[NAME_MAX_BYTES + 1];
	char field[NAME_MAX_BYTES + 1]; /* "" for the customer as a whole */
	enum access_right right;
};
/* 0, or EINVAL if Q (LEN bytes) is not such a question. */
int explain_parse(const char *q, size_t len, struct explain_query *out);
/* Answers the question in H's buffer for its opener, into their note. */
void explain_answer(struct fs *fs, const struct handle *h);

/* A request written to .custfs/ctl: words, each ending in NUL. Splits BUF
 * into a new argv (free it; its words point into BUF). 0 or EINVAL/ENOMEM. */
#define CTL_REQUEST_MAX (1024 * 1024)
/* The most a command's output (and its errors) may be through the mount:
 * root on the store files has no such bound. */
#define CTL_ANSWER_MAX (16 * 1024 * 1024)
#define CTL_MAX_WORDS 4096
int ctl_request_split(const unsigned char *buf, size_t len, int *argc, char ***argv);
/* Runs the request in h->buf as the handle's opener and replaces it with the
 * answer ("EXIT OUTLEN\n", standard output, standard error). Lock held. */
void ctl_answer(struct fs *fs, struct handle *h);

/* Whether the caller may use inode INO at all: a per-person inode of someone
 * else is ESTALE (the kernel then looks the path up again, for the caller). */
int ino_check_owner(const struct who *w, fuse_ino_t ino);

/* ---- replies ---- */

/* The one place errors reach the kernel: an errno outside 1..4095 is a bug
 * (libfuse rejects it too) and becomes EIO. */
void reply_err(fuse_req_t req, int err);

#endif
