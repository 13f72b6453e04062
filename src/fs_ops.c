#include "fs_ops.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "access.h"
#include "cmd.h"
#include "runreg.h"
#include "log.h"
#include "mask.h"
#include "names.h"
#include "staff.h"

/* ---- inode numbers ----
 * Ids come from the database (never reused) or the scratch table, so an inode
 * number names one object for the life of the mount and needs no table:
 *   1               the root
 *   (id << 2) | 0   the control directory .custfs and its files (ids 1..3)
 *   (id << 2) | 1   scratch file id (ids start at 1)
 *   (id << 2) | 2   customer directory, customers.id
 *   (id << 2) | 3   field file, fields.id */
enum kind { K_CTL, K_SCRATCH, K_CUSTOMER, K_FIELD, K_ROOT };
enum { CTL_DIR = 1, CTL_WHY = 2, CTL_EXPLAIN = 3, CTL_CMD = 4 };
#define CTL_NAME ".custfs"

static fuse_ino_t ino_of(enum kind k, int64_t id)
{
	return ((fuse_ino_t)id << 2) | (fuse_ino_t)k;
}

static enum kind kind_of(fuse_ino_t ino, int64_t *id)
{
	if (ino == FUSE_ROOT_ID)
		return K_ROOT;
	*id = (int64_t)(ino >> 2);
	return (enum kind)(ino & 3);
}

/* ---- open files ---- */
enum handle_kind { H_FIELD, H_SCRATCH, H_WHY, H_EXPLAIN, H_CMD };

struct handle {
	pthread_mutex_t lock; /* serialises this handle's reads, writes and commits */
	enum handle_kind kind;
	uid_t uid; /* the person who opened it: release arrives without a uid */
	pid_t pid;
	int64_t customer_id;
	int64_t field_id;
	char field[NAME_MAX_BYTES + 1];
	char customer[NAME_MAX_BYTES + 1];
	bool writable;
	bool append;
	bool masked;     /* shows the masked form; never written */
	bool dirty;      /* written since the last commit */
	bool emptied;    /* opened with O_TRUNC or created, not yet committed: stored
			  * at fsync or release, not at a flush (bash's `>` flushes
			  * once before it writes; an empty version there would be a
			  * torn value others could see) */
	bool registered; /* counted in fs->inflight */
	bool answered;   /* H_CMD: the request ran; buf holds the answer */
	int64_t bytes_read, bytes_written; /* for the close record */
	int64_t checkout_id;
	char login[STAFF_WORD];  /* the opener, for records made without a request */
	char department[STAFF_WORD];
	struct secbuf buf; /* the plaintext this handle reads and writes */
	struct scratch_node *sn; /* H_SCRATCH */
};

int fs_init(struct fs *fs, struct vault *v, const char *view, double entry_timeout)
{
	memset(fs, 0, sizeof *fs);
	fs->v = v;
	fs->entry_timeout = entry_timeout;
	fs->mounted_ns = vault_now_ns();
	atomic_store(&fs->policy, v->policy);
	atomic_store(&fs->acl_epoch, 1);
	pthread_mutex_init(&fs->retired_lock, NULL);
	fs->scratch = scratch_table_new();
	fs->inflight = inflight_new();
	fs->why = notes_new();
	fs->explain = notes_new();
	size_t n = strlen(v->dir) + sizeof "/" VAULT_POLICY_DIR;
	fs->policy_dir = malloc(n);
	if (fs->policy_dir)
		snprintf(fs->policy_dir, n, "%s/%s", v->dir, VAULT_POLICY_DIR);
	fs->view = view ? strdup(view) : NULL;
	if (!fs->scratch || !fs->inflight || !fs->why || !fs->explain || !fs->policy_dir ||
	    (view && !fs->view)) {
		fs_destroy(fs);
		return ENOMEM;
	}
	return 0;
}

void fs_destroy(struct fs *fs)
{
	scratch_table_free(fs->scratch);
	inflight_free(fs->inflight);
	notes_free(fs->why);
	notes_free(fs->explain);
	/* The vault frees the policy it loaded; the daemon frees the ones it swapped in. */
	struct policy *cur = atomic_load(&fs->policy);
	if (fs->v && cur != fs->v->policy)
		policy_free(cur);
	for (size_t i = 0; i < fs->nretired; i++)
		if (!fs->v || fs->retired[i] != fs->v->policy)
			policy_free(fs->retired[i]);
	free(fs->retired);
	pthread_mutex_destroy(&fs->retired_lock);
	free(fs->policy_dir);
	free(fs->view);
	memset(fs, 0, sizeof *fs);
}

void fs_audit_event(struct fs *fs, const char *action, const char *detail)
{
	struct audit_event ev = {
		.uid = getuid(), .pid = getpid(), .comm = "custfs", .exe = "",
		.mount = fs->mountpoint ? fs->mountpoint : "", .view = fs->view ? fs->view : "",
		.action = action, .allow = true, .rule = "", .reason = "", .detail = detail,
	};
	if (!fs->v->audit || audit_append(fs->v->audit, &ev, true) != 0)
		log_err("audit: cannot record %s", action);
}

int fs_reload_policy(struct fs *fs)
{
	char *errs = NULL;
	size_t errlen = 0;
	struct policy *fresh = NULL;
	FILE *mem = open_memstream(&errs, &errlen);
	int nerr = mem ? policy_load(fs->policy_dir, mem, &fresh) : -1;
	if (mem)
		fclose(mem);
	if (nerr == 0 && fs->view && !policy_role(fresh, fs->view)) {
		log_err("policy reload: the new policy has no role '%s' for this mount's view; "
			"keeping the old policy", fs->view);
		policy_free(fresh);
		free(errs);
		return EINVAL;
	}
	if (nerr != 0) {
		for (char *save = NULL, *line = errs ? strtok_r(errs, "\n", &save) : NULL; line;
		     line = strtok_r(NULL, "\n", &save))
			log_err("policy reload: %s", line);
		log_err("policy reload: %d error%s; keeping the old policy", nerr < 0 ? 1 : nerr,
			nerr == 1 ? "" : "s");
		free(errs);
		return EINVAL;
	}
	free(errs);
	/* On the record before it takes effect, or it does not. */
	struct audit_event ev = {
		.uid = getuid(), .pid = getpid(), .comm = "custfs", .exe = "",
		.mount = fs->mountpoint ? fs->mountpoint : "", .view = fs->view ? fs->view : "",
		.action = "policy-reload", .allow = true, .rule = "", .reason = "",
		.detail = fs->policy_dir,
	};
	if (!fs->v->audit || audit_append(fs->v->audit, &ev, true) != 0) {
		log_err("policy reload: the audit record cannot be written; keeping the old policy");
		policy_free(fresh);
		return EIO;
	}
	/* Readers may still hold the old policy for the rest of their request:
	 * keep it until unmount (reloads are rare, policies small). */
	pthread_mutex_lock(&fs->retired_lock);
	struct policy **r = realloc(fs->retired, (fs->nretired + 1) * sizeof *r);
	if (!r) {
		pthread_mutex_unlock(&fs->retired_lock);
		policy_free(fresh);
		log_err("policy reload: out of memory; keeping the old policy");
		return ENOMEM;
	}
	fs->retired = r;
	fs->retired[fs->nretired++] = atomic_exchange(&fs->policy, fresh);
	pthread_mutex_unlock(&fs->retired_lock);
	log_info("policy reloaded from %s", fs->policy_dir);
	return 0;
}

static void log_expired(void *ctx, const struct checkout *c)
{
	struct fs *fs = ctx;
	struct customer cu;
	int err = 0;
	const struct staff *s = staff_current(fs->v->st, 0, &err);
	const struct employee *e = NULL;
	for (size_t i = 0; s && i < s->n && !e; i++)
		if (s->emps[i].id == c->employee_id)
			e = &s->emps[i];
	if (vault_customer_get(fs->v, c->customer_id, &cu) != 0)
		snprintf(cu.name, sizeof cu.name, "#%lld", (long long)c->customer_id);
	log_warn("checkout #%lld of %s%s%s by %s expired unreturned (R3.5); access ended at its "
		 "end time", (long long)c->id, cu.name, c->field[0] || c->cls[0] ? "/" : "",
		 c->field[0] ? c->field : c->cls, e ? e->login : "?");
}

void fs_sweep_checkouts(struct fs *fs)
{
	if (staff_checkouts_expire(fs->v->st, vault_now_ns(), log_expired, fs) == 0)
		atomic_fetch_add(&fs->acl_epoch, 1);
	if (fs->v->audit)
		audit_flush(fs->v->audit);
	/* A signed checkpoint of the audit chain every minute or so. */
	int64_t now = vault_now_ns();
	if (fs->v->audit && now - fs->last_checkpoint_ns > 60LL * 1000000000) {
		char line[512];
		if (audit_checkpoint(fs->v->audit, line, sizeof line) == 0)
			fs->last_checkpoint_ns = now;
	}
}

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct handle *handle_of(struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}

/* ---- who is asking ---- */

/* One request's view of the world: the caller from the kernel, the policy in
 * force, the caller's employee record. Taken once per request. */
struct who {
	fuse_req_t req;
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

static void who_init(fuse_req_t req, struct who *w)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int err = 0;
	memset(w, 0, sizeof *w);
	w->req = req;
	w->fs = fs_of(req);
	w->pol = atomic_load(&w->fs->policy);
	w->cat = w->pol->cat;
	w->uid = ctx->uid;
	w->gid = ctx->gid;
	w->pid = ctx->pid;
	staff_today(w->today);
	if (w->fs->view) {
		w->view = policy_role(w->pol, w->fs->view);
		w->broken |= !w->view;
	}
	if (w->uid != 0) {
		const struct staff *s = staff_current(w->fs->v->st, atomic_load(&w->fs->acl_epoch), &err);
		if (s)
			w->emp = staff_by_uid(s, w->uid);
		else
			w->broken = true; /* fail closed */
		if (err)
			log_err("cannot read the staff register: %s; denying", strerror(err));
	}
}

/* Decides without logging; see decide(). */
static void judge(const struct who *w, const struct customer *c, const struct field_def *def,
		  enum access_right right, struct decision *d)
{
	if (w->broken) {
		memset(d, 0, sizeof *d);
		d->rule = "unavailable";
		snprintf(d->reason, sizeof d->reason,
			 "the policy could not be evaluated (see the daemon's log)");
		return;
	}
	struct access_request ar = {
		.uid = w->uid,
		.emp = w->emp,
		.customer_id = c ? c->id : 0,
		.customer = c ? c->name : NULL,
		.field = def,
		.right = right,
		.today = w->today,
		.now_ns = vault_now_ns(),
		.view = w->view,
	};
	access_decide(w->pol, &ar, d, NULL, NULL);
}

/* Decides; logs and remembers every deny of a read, write or create (the
 * person can read it in .custfs/why). 0 or EACCES. */
/* Remembers and logs a deny: the person can read it in .custfs/why. */
static void note_denial(const struct who *w, const struct customer *c,
			const struct field_def *def, enum access_right right,
			const struct decision *d)
{
	char note[NOTE_TEXT];
	snprintf(note, sizeof note,
		 "custfs denied %s of %s%s%s (uid %u, pid %d):\n  %s [rule: %s]\n%s\n"
		 "For the whole decision: echo '%s%s%s %s' > .custfs/explain; cat .custfs/explain\n",
		 access_right_name(right), c ? c->name : "/", def ? "/" : "", def ? def->name : "",
		 (unsigned)w->uid, (int)w->pid, d->reason, d->rule, ACCESS_APPEAL_HINT,
		 c ? c->name : "", def ? "/" : "", def ? def->name : "",
		 right == RIGHT_READ ? "read" : "write");
	notes_record(w->fs->why, w->uid, note);
	log_info("deny: uid %u pid %d %s %s%s%s: %s [%s]", (unsigned)w->uid, (int)w->pid,
		 access_right_name(right), c ? c->name : "/", def ? "/" : "", def ? def->name : "",
		 d->reason, d->rule);
}

/* ---- the audit record of an access (R5.1) ---- */

/* The process behind a request: its name and executable, cached per thread
 * for a moment (reading /proc costs a few system calls). */
struct proc_info {
	pid_t pid;
	int64_t at_ms;
	char comm[32];
	char exe[256];
};

static void proc_info(pid_t pid, struct proc_info *out)
{
	static __thread struct proc_info cache[8];
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	struct proc_info *slot = &cache[(unsigned)pid % 8];
	if (slot->pid == pid && pid > 0 && now - slot->at_ms < 1000) {
		*out = *slot;
		return;
	}
	char path[64];
	memset(out, 0, sizeof *out);
	out->pid = pid;
	out->at_ms = now;
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	FILE *f = fopen(path, "re");
	if (f) {
		if (fgets(out->comm, sizeof out->comm, f))
			out->comm[strcspn(out->comm, "\n")] = '\0';
		fclose(f);
	}
	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(path, out->exe, sizeof out->exe - 1);
	out->exe[n > 0 ? n : 0] = '\0';
	*slot = *out;
}

/* Writes the audit record of one access. 0, or the errno that means the access
 * must be denied (fail closed). */
static int audit_access(const struct who *w, const struct customer *c,
			const struct field_def *def, const char *action, const struct decision *d,
			int64_t bytes_read, int64_t bytes_written, const char *detail)
{
	struct proc_info pi;
	proc_info(w->pid, &pi);
	struct audit_event ev = {
		.uid = w->uid,
		.login = w->emp ? w->emp->login : "",
		.department = w->emp ? w->emp->department : "",
		.pid = w->pid,
		.comm = pi.comm,
		.exe = pi.exe,
		.mount = w->fs->mountpoint ? w->fs->mountpoint : "",
		.view = w->fs->view ? w->fs->view : "",
		.customer_id = c ? c->id : 0,
		.field = def ? def->name : "",
		.cls = def ? def->cls->name : "",
		.action = action,
		.allow = d ? d->allow : true,
		.rule = d ? d->rule : "",
		.reason = d ? d->reason : "",
		.checkout_id = d ? d->checkout_id : 0,
		.bytes_read = bytes_read,
		.bytes_written = bytes_written,
		.detail = detail,
	};
	/* A sensitive access waits for a commit that survives power loss. */
	bool durable = (def && def->cls->sensitive) || w->fs->audit_durable || w->pol->audit_durable;
	/* Closes and new versions gate nothing: they ride with the next record. */
	bool gates = strcmp(action, "close") != 0 && strcmp(action, "version") != 0;
	int rc = !w->fs->v->audit ? EIO
		 : gates || durable ? audit_append(w->fs->v->audit, &ev, durable)
				    : audit_note(w->fs->v->audit, &ev);
	if (rc)
		log_err("audit: the record of %s by uid %u cannot be written (%s): denying",
			action, (unsigned)w->uid, strerror(rc));
	return rc ? EACCES : 0;
}

/* Decides an access that is recorded (a read, write or create), writes its
 * audit record, and notes a deny. 0 or EACCES; a record that cannot be
 * written is a deny. */
static int decide(const struct who *w, const struct customer *c, const struct field_def *def,
		  enum access_right right, struct decision *d)
{
	judge(w, c, def, right, d);
	if (right == RIGHT_LIST)
		return d->allow ? 0 : EACCES;
	if (audit_access(w, c, def, access_right_name(right), d, 0, 0, NULL) != 0)
		return EACCES;
	if (d->allow)
		return 0;
	note_denial(w, c, def, right, d);
	return EACCES;
}

/* Whether the caller may see a node at all: what they may not see is ENOENT. */
static int visible(const struct who *w, const struct customer *c, const struct field_def *def)
{
	struct decision d;
	judge(w, c, def, RIGHT_LIST, &d);
	return d.allow ? 0 : ENOENT;
}

/* ---- the file view of a value ----
 * A stored value has no trailing newline (imports and exports carry it as is);
 * its file ends with one, as text files do, so cat, grep and editors behave.
 * Writing strips exactly one trailing newline back off. */

static off_t presented_size(int64_t stored)
{
	return stored > 0 ? (off_t)stored + 1 : 0;
}

/* Turns a decrypted value in OUT into its file view: masked if MASKED, with
 * its newline. */
static int present_value(const struct policy *pol, const struct field_def *def, bool masked,
			 struct secbuf *out)
{
	int rc = 0;
	if (masked) /* DEF and the mask from the same policy: a reload may reorder fields */
		rc = mask_apply(&pol->masks[def->index], out);
	if (!rc && out->len > 0)
		rc = secbuf_write(out, out->len, "\n", 1);
	if (rc)
		secbuf_truncate(out, 0);
	return rc;
}

/* The current value as MASKED or plain text, with its newline. */
static int load_presented(const struct who *w, const struct field_def *def, bool masked,
			  int64_t field_id, struct secbuf *out)
{
	int rc = vault_read(w->fs->v, field_id, 0, out);
	return rc ? rc : present_value(w->pol, def, masked, out);
}

static int store_presented(const struct who *w, int64_t customer_id, const char *field,
			   const struct secbuf *b, uid_t uid, bool durable, struct write_result *res)
{
	size_t len = b->len;
	if (len > 0 && b->data[len - 1] == '\n')
		len--;
	return vault_write(w->fs->v, w->cat, customer_id, field, b->data, len, uid, durable, res);
}

/* ---- attributes ----
 * Mode bits show the caller's own rights, and the caller owns what they see:
 * with zero attribute timeouts every stat is answered for its caller. */

static void set_time(struct stat *st, int64_t ns)
{
	st->st_mtim.tv_sec = ns / 1000000000;
	st->st_mtim.tv_nsec = ns % 1000000000;
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
}

static void attr_dir(const struct who *w, struct stat *st, fuse_ino_t ino, mode_t mode,
		     int64_t ns)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	st->st_mode = S_IFDIR | mode;
	st->st_nlink = 2;
	st->st_uid = w->uid;
	st->st_gid = w->gid;
	set_time(st, ns);
}

static void attr_customer(const struct who *w, struct stat *st, const struct customer *c)
{
	struct decision d;
	judge(w, c, NULL, RIGHT_WRITE, &d);
	attr_dir(w, st, ino_of(K_CUSTOMER, c->id), d.allow ? 0700 : 0500, c->created_ns);
}

static void attr_file(const struct who *w, struct stat *st, fuse_ino_t ino, mode_t mode,
		      off_t size, int64_t ns)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	st->st_mode = S_IFREG | mode;
	st->st_nlink = 1;
	st->st_uid = w->uid;
	st->st_gid = w->gid;
	st->st_size = size;
	st->st_blocks = (size + 511) / 512;
	st->st_blksize = 4096;
	set_time(st, ns);
}

static int attr_field(const struct who *w, struct stat *st, const struct customer *c,
		      const struct field_def *def, const struct field_row *f)
{
	struct decision rd, wd;

	judge(w, c, def, RIGHT_READ, &rd);
	judge(w, c, def, RIGHT_WRITE, &wd);
	/* The committed size: a masked view has the same size (mask.h), and a
	 * writer's pending bytes are only its own (its fstat sees them). */
	attr_file(w, st, ino_of(K_FIELD, f->id), (rd.allow ? 0400 : 0) | (wd.allow ? 0200 : 0),
		  presented_size(f->size), f->mtime_ns);
	return 0;
}

static void attr_scratch(const struct who *w, struct stat *st, struct scratch_node *n)
{
	pthread_mutex_lock(&n->lock);
	attr_file(w, st, ino_of(K_SCRATCH, (int64_t)n->id), n->mode & 0600, (off_t)n->buf.len,
		  n->mtime_ns);
	pthread_mutex_unlock(&n->lock);
	st->st_uid = n->owner;
}

static void attr_ctl(const struct who *w, struct stat *st, int64_t id)
{
	if (id == CTL_DIR)
		attr_dir(w, st, ino_of(K_CTL, CTL_DIR), 0555, w->fs->mounted_ns);
	else /* sizes are not known before the open: direct_io reads to the end */
		attr_file(w, st, ino_of(K_CTL, id), id == CTL_WHY ? 0444 : 0666, 0,
			  w->fs->mounted_ns);
	/* (.custfs/ctl answers whoever writes to it, as themself: see cmd.h) */
	st->st_uid = 0;
	st->st_gid = 0;
}

static void fill_entry(struct fs *fs, struct fuse_entry_param *e, const struct stat *st)
{
	memset(e, 0, sizeof *e);
	e->ino = st->st_ino;
	e->attr = *st;
	e->attr_timeout = fs->entry_timeout;
	e->entry_timeout = fs->entry_timeout;
}

/* A scratch node the caller may use: their own. Referenced, or NULL. */
static struct scratch_node *scratch_for(const struct who *w, uint64_t id)
{
	struct scratch_node *n = scratch_get(w->fs->scratch, id);
	if (n && n->owner != w->uid) {
		scratch_put(w->fs->scratch, n);
		n = NULL;
	}
	return n;
}

static struct scratch_node *scratch_named(const struct who *w, int64_t cust, const char *name)
{
	return scratch_find(w->fs->scratch, cust, w->uid, name);
}

/* A field that holds a value, or that an open writer is creating. */
static int field_present(struct fs *fs, const struct field_row *f)
{
	size_t pending;
	return f->version > 0 || inflight_size(fs->inflight, f->id, &pending) ? 0 : ENOENT;
}

/* A visible customer by id. */
static int customer_seen(const struct who *w, int64_t id, struct customer *c)
{
	int rc = vault_customer_get(w->fs->v, id, c);
	return rc ? rc : visible(w, c, NULL);
}

/* A visible field by id, with its customer and definition. */
static int field_seen(const struct who *w, int64_t id, struct field_row *f, struct customer *c,
		      const struct field_def **def)
{
	int rc = store_field_get(w->fs->v->st, id, f);
	if (!rc)
		rc = field_present(w->fs, f);
	if (!rc)
		rc = vault_customer_get(w->fs->v, f->customer_id, c);
	if (rc)
		return rc;
	*def = catalog_field(w->cat, f->name);
	if (!*def)
		return ENOENT; /* no longer in the catalogue */
	return visible(w, c, *def);
}

/* Stat of any node, as the caller may see it. */
static int do_getattr(const struct who *w, fuse_ino_t ino, struct stat *st)
{
	const struct field_def *def;
	struct customer c;
	struct field_row f;
	int64_t id = 0;
	int rc;

	switch (kind_of(ino, &id)) {
	case K_ROOT:
		attr_dir(w, st, FUSE_ROOT_ID, 0755, w->fs->mounted_ns);
		st->st_uid = 0;
		st->st_gid = 0;
		return 0;
	case K_CUSTOMER:
		rc = customer_seen(w, id, &c);
		if (!rc)
			attr_customer(w, st, &c);
		return rc;
	case K_FIELD:
		rc = field_seen(w, id, &f, &c, &def);
		return rc ? rc : attr_field(w, st, &c, def, &f);
	case K_SCRATCH: {
		struct scratch_node *n = scratch_for(w, (uint64_t)id);
		if (!n)
			return ENOENT;
		attr_scratch(w, st, n);
		scratch_put(w->fs->scratch, n);
		return 0;
	}
	case K_CTL:
		if (id < CTL_DIR || id > CTL_CMD)
			return ENOENT;
		attr_ctl(w, st, id);
		return 0;
	}
	return ENOENT;
}

/* ---- lookup ---- */

static int do_lookup(const struct who *w, fuse_ino_t parent, const char *name, struct stat *st)
{
	const struct field_def *def;
	struct customer c;
	struct field_row f;
	int64_t pid = 0;
	int rc;

	if (name_problem(name, strlen(name), true))
		return strlen(name) > NAME_MAX_BYTES ? ENAMETOOLONG : ENOENT;
	switch (kind_of(parent, &pid)) {
	case K_ROOT:
		if (strcmp(name, CTL_NAME) == 0) {
			attr_ctl(w, st, CTL_DIR);
			return 0;
		}
		rc = vault_customer_by_name(w->fs->v, name, &c);
		if (!rc)
			rc = visible(w, &c, NULL);
		if (!rc)
			attr_customer(w, st, &c);
		return rc;
	case K_CUSTOMER: {
		rc = customer_seen(w, pid, &c);
		if (rc)
			return rc;
		def = catalog_field(w->cat, name);
		if (def) {
			rc = store_field_by_name(w->fs->v->st, pid, name, &f);
			if (!rc)
				rc = field_present(w->fs, &f);
			if (!rc)
				rc = visible(w, &c, def);
			return rc ? rc : attr_field(w, st, &c, def, &f);
		}
		struct scratch_node *n = scratch_named(w, pid, name);
		if (!n)
			return ENOENT;
		attr_scratch(w, st, n);
		scratch_put(w->fs->scratch, n);
		return 0;
	}
	case K_CTL:
		if (pid != CTL_DIR)
			return ENOTDIR;
		if (strcmp(name, "why") == 0)
			attr_ctl(w, st, CTL_WHY);
		else if (strcmp(name, "explain") == 0)
			attr_ctl(w, st, CTL_EXPLAIN);
		else if (strcmp(name, "ctl") == 0)
			attr_ctl(w, st, CTL_CMD);
		else
			return ENOENT;
		return 0;
	case K_FIELD:
	case K_SCRATCH:
		return ENOTDIR;
	}
	return ENOENT;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	struct stat st;
	struct who w;
	who_init(req, &w);
	int rc = do_lookup(&w, parent, name, &st);
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	fill_entry(w.fs, &e, &st);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	struct who w;
	who_init(req, &w);
	int rc = do_getattr(&w, ino, &st);
	if (!rc && fi && fi->fh && handle_of(fi)->kind == H_FIELD && handle_of(fi)->writable) {
		/* An open writer sees the size of what it has written. */
		struct handle *h = handle_of(fi);
		pthread_mutex_lock(&h->lock);
		st.st_size = (off_t)h->buf.len;
		pthread_mutex_unlock(&h->lock);
	}
	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, w.fs->entry_timeout);
}

/* ---- open, read, write, commit ---- */

static struct handle *handle_new(const struct who *w, enum handle_kind kind)
{
	struct handle *h = calloc(1, sizeof *h);
	if (h) {
		pthread_mutex_init(&h->lock, NULL);
		h->kind = kind;
		h->uid = w->uid;
		h->pid = w->pid;
	}
	return h;
}

static void handle_free(struct fs *fs, struct handle *h)
{
	if (h->registered)
		inflight_remove_writer(fs->inflight, h->field_id);
	if (h->sn)
		scratch_put(fs->scratch, h->sn);
	secbuf_free(&h->buf);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static bool wants_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY;
}

/* The request context of a handle's opener (release and commits arrive
 * without one). */
static void who_of_handle(struct fs *fs, const struct handle *h, struct who *w,
			  struct employee *emp)
{
	memset(w, 0, sizeof *w);
	w->fs = fs;
	w->pol = atomic_load(&fs->policy);
	w->cat = w->pol->cat;
	w->uid = h->uid;
	w->pid = h->pid;
	memset(emp, 0, sizeof *emp);
	if (h->login[0]) {
		snprintf(emp->login, sizeof emp->login, "%s", h->login);
		snprintf(emp->department, sizeof emp->department, "%s", h->department);
		w->emp = emp;
	}
}

static int still_allowed(struct fs *fs, const struct handle *h, enum access_right right);

/* Stores a handle's contents as a new version if they changed (or, with
 * EMPTIED_TOO, were emptied). Call with h->lock held. */
static int commit_locked(struct fs *fs, struct handle *h, bool durable, bool emptied_too)
{
	struct write_result res;
	struct who w = { .fs = fs, .pol = atomic_load(&fs->policy) };
	if (h->kind != H_FIELD || !(h->dirty || (emptied_too && h->emptied)))
		return 0;
	/* The writer may have lost the right since the open (R3.2, R4.3). */
	if (still_allowed(fs, h, RIGHT_WRITE) != 0) {
		log_warn("refused: uid %u %s/%s: no longer allowed to write; nothing stored",
			 (unsigned)h->uid, h->customer, h->field);
		return EACCES;
	}
	w.cat = w.pol->cat;
	int rc = store_presented(&w, h->customer_id, h->field, &h->buf, h->uid, durable, &res);
	if (rc == EINVAL || rc == EFBIG) {
		log_warn("refused: uid %u %s/%s: %s; nothing stored", (unsigned)h->uid, h->customer,
			 h->field, res.why ? res.why : "invalid value");
		return rc;
	}
	if (rc) {
		log_err("write failed: uid %u %s/%s: %s; nothing stored", (unsigned)h->uid,
			h->customer, h->field, strerror(rc));
		return rc;
	}
	h->dirty = h->emptied = false;
	/* The new version, on the record (the value never is). */
	struct who hw;
	struct employee emp;
	char detail[48];
	who_of_handle(fs, h, &hw, &emp);
	struct customer c = { .id = h->customer_id };
	snprintf(c.name, sizeof c.name, "%s", h->customer);
	snprintf(detail, sizeof detail, "version %lld", (long long)res.version);
	struct decision d = { .allow = true, .rule = "write", .checkout_id = h->checkout_id };
	audit_access(&hw, &c, catalog_field(hw.cat, h->field), "version", &d, 0, 0, detail);
	return 0;
}

/* What opening a field needs to decide; filled in by open_gate. */
struct open_ctx {
	const struct who *w;
	int flags;
	bool creating;
	struct field_row f;
	struct customer c;
	const struct field_def *def;
	bool masked;
	int64_t checkout_id;
};

/* The decision of an open(), taken on the field's row before any decryption. */
static int open_gate(void *p, const struct field_row *f)
{
	struct open_ctx *o = p;
	int rc;

	o->f = *f;
	if (!o->creating && (rc = field_present(o->w->fs, f)))
		return rc;
	if ((rc = vault_customer_get(o->w->fs->v, f->customer_id, &o->c)))
		return rc;
	if (!(o->def = catalog_field(o->w->cat, f->name)))
		return ENOENT; /* no longer in the catalogue */
	if (!o->creating && (rc = visible(o->w, &o->c, o->def)))
		return rc;
	/* One decision and one audit record per open(), right before decryption. */
	struct decision rd = { 0 }, wd = { 0 };
	bool want_r = (o->flags & O_ACCMODE) != O_WRONLY, want_w = wants_write(o->flags);
	enum access_right wright = o->creating ? RIGHT_CREATE : RIGHT_WRITE;
	if (want_r)
		judge(o->w, &o->c, o->def, RIGHT_READ, &rd);
	if (want_w)
		judge(o->w, &o->c, o->def, wright, &wd);
	const struct decision *fail = want_r && !rd.allow ? &rd : want_w && !wd.allow ? &wd : NULL;
	const struct decision *rep = fail ? fail : want_r ? &rd : &wd;
	const char *action = o->creating ? "open-create" : want_r && want_w ? "open-rw"
						      : want_r ? "open-read" : "open-write";
	if (audit_access(o->w, &o->c, o->def, action, rep, 0, 0, NULL) != 0)
		return EACCES;
	if (fail) {
		note_denial(o->w, &o->c, o->def, fail == &rd ? RIGHT_READ : wright, fail);
		return EACCES;
	}
	o->masked = rd.masked;
	o->checkout_id = rep->checkout_id;
	return 0;
}

static int open_field(const struct who *w, int64_t field_id, int flags, bool creating,
		      struct handle **out)
{
	struct open_ctx o = { .w = w, .flags = flags, .creating = creating };
	bool wr = wants_write(flags);
	bool emptied = creating || (wr && (flags & O_TRUNC));
	int rc;

	struct handle *h = handle_new(w, H_FIELD);
	if (!h)
		return ENOMEM;
	if (emptied) {
		/* Nothing to decrypt: decide on the row alone. */
		struct field_row f;
		rc = store_field_get(w->fs->v->st, field_id, &f);
		if (!rc)
			rc = open_gate(&o, &f);
		if (!rc)
			rc = secbuf_truncate(&h->buf, 0);
	} else {
		/* One query for the row and the value; the gate decides in between. */
		rc = vault_read_gated(w->fs->v, field_id, open_gate, &o, &h->buf);
		if (!rc)
			rc = present_value(w->pol, o.def, o.masked, &h->buf);
	}
	if (rc) {
		handle_free(w->fs, h);
		return rc;
	}
	h->customer_id = o.c.id;
	h->field_id = o.f.id;
	snprintf(h->field, sizeof h->field, "%s", o.f.name);
	snprintf(h->customer, sizeof h->customer, "%s", o.c.name);
	h->writable = wr;
	h->masked = o.masked;
	h->checkout_id = o.checkout_id;
	if (w->emp) {
		snprintf(h->login, sizeof h->login, "%s", w->emp->login);
		snprintf(h->department, sizeof h->department, "%s", w->emp->department);
	}
	h->emptied = emptied;
	h->append = wr && (flags & O_APPEND);
	if (wr) {
		rc = inflight_add_writer(w->fs->inflight, o.f.id, h->buf.len);
		h->registered = rc == 0;
		if (rc) {
			handle_free(w->fs, h);
			return rc;
		}
	}
	*out = h;
	return 0;
}

static int open_scratch(const struct who *w, struct scratch_node *n, int flags,
			struct handle **out)
{
	struct handle *h = handle_new(w, H_SCRATCH);
	if (!h) {
		scratch_put(w->fs->scratch, n);
		return ENOMEM;
	}
	h->sn = n; /* takes the caller's reference */
	h->customer_id = n->customer_id;
	h->writable = wants_write(flags);
	h->append = h->writable && (flags & O_APPEND);
	if (h->writable && (flags & O_TRUNC)) {
		pthread_mutex_lock(&n->lock);
		secbuf_truncate(&n->buf, 0);
		pthread_mutex_unlock(&n->lock);
	}
	*out = h;
	return 0;
}

static int open_ctl(const struct who *w, int64_t id, int flags, struct handle **out)
{
	if (id == CTL_DIR)
		return EISDIR;
	if (id == CTL_WHY && wants_write(flags))
		return EACCES;
	if (id == CTL_CMD) {
		if ((flags & O_ACCMODE) != O_RDWR)
			return EACCES; /* a request is written, then its answer read */
		struct handle *c = handle_new(w, H_CMD);
		if (!c)
			return ENOMEM;
		c->writable = true;
		*out = c;
		return 0;
	}
	struct handle *h = handle_new(w, id == CTL_WHY ? H_WHY : H_EXPLAIN);
	if (!h)
		return ENOMEM;
	h->writable = wants_write(flags);
	char *text = malloc(NOTE_TEXT);
	int rc = text ? 0 : ENOMEM;
	if (!rc && !(flags & O_TRUNC)) {
		struct notes *n = id == CTL_WHY ? w->fs->why : w->fs->explain;
		size_t len = notes_get(n, w->uid, text, NOTE_TEXT);
		if (len == 0 && id == CTL_WHY)
			len = (size_t)snprintf(text, NOTE_TEXT,
					       "No access of yours has been denied since this "
					       "mount started.\n");
		else if (len == 0)
			len = (size_t)snprintf(text, NOTE_TEXT,
					       "Write a question here, then read the answer:\n"
					       "  echo 'CUSTOMER/FIELD read' > .custfs/explain\n"
					       "  cat .custfs/explain\n");
		rc = secbuf_set(&h->buf, text, len);
	}
	free(text);
	if (rc) {
		handle_free(w->fs, h);
		return rc;
	}
	*out = h;
	return 0;
}

/* Nothing custfs serves enters the page cache: another user's open would be
 * served from it (masked and plain views share an inode), and a revoked
 * reader's next read() must reach custfs to be refused (FACTS: revocation and
 * the page cache). The price: no shared mmap (ENODEV), and a reader's last
 * read() at end of file is a round trip. */
static void set_open_flags(const struct who *w, struct handle *h, struct fuse_file_info *fi)
{
	(void)w;
	fi->direct_io = 1;
	fi->keep_cache = 0; /* every open re-reads: the page cache never outlives a decision */
	/* A reader has nothing to flush: spare its close() a round trip. */
	fi->noflush = !h->writable;
	fi->fh = (uint64_t)(uintptr_t)h;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = NULL;
	struct who w;
	int64_t id = 0;
	int rc;

	who_init(req, &w);
	switch (kind_of(ino, &id)) {
	case K_FIELD:
		rc = open_field(&w, id, fi->flags, false, &h);
		break;
	case K_SCRATCH: {
		struct scratch_node *n = scratch_for(&w, (uint64_t)id);
		rc = n ? open_scratch(&w, n, fi->flags, &h) : ENOENT;
		break;
	}
	case K_CTL:
		rc = open_ctl(&w, id, fi->flags, &h);
		break;
	default:
		rc = EISDIR;
	}
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	set_open_flags(&w, h, fi);
	if (fuse_reply_open(req, fi) != 0)
		handle_free(w.fs, h); /* the opener went away (interrupted) */
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	const struct field_def *def;
	struct decision d;
	struct customer c;
	struct field_row f;
	struct handle *h = NULL;
	struct stat st;
	struct who w;
	int64_t pid = 0, field_id = 0;
	int rc;

	who_init(req, &w);
	if (kind_of(parent, &pid) != K_CUSTOMER) {
		fuse_reply_err(req, kind_of(parent, &pid) == K_ROOT || parent == FUSE_ROOT_ID
					    ? EPERM : EACCES);
		return;
	}
	const char *why = name_problem(name, strlen(name), true);
	if (why) {
		char shown[NAME_LOG_MAX];
		log_info("refused: create '%s': %s", name_for_log(name, shown), why);
		fuse_reply_err(req, strlen(name) > NAME_MAX_BYTES ? ENAMETOOLONG : EINVAL);
		return;
	}
	rc = customer_seen(&w, pid, &c);
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	def = catalog_field(w.cat, name);
	if (def) {
		rc = store_field_by_name(w.fs->v->st, pid, name, &f);
		if (rc == 0 && field_present(w.fs, &f) == 0) {
			/* Exists: the kernel sends CREATE for O_EXCL, or after a racing lookup. */
			if (fi->flags & O_EXCL)
				rc = EEXIST;
			else
				rc = open_field(&w, f.id, fi->flags, false, &h);
		} else if (rc == 0 || rc == ENOENT) {
			/* open_gate records the open; a deny here is recorded by decide. */
			judge(&w, &c, def, RIGHT_CREATE, &d);
			rc = d.allow ? 0 : decide(&w, &c, def, RIGHT_CREATE, &d);
			if (!rc) /* an invisible placeholder until its first version commits */
				rc = store_field_ensure(w.fs->v->st, pid, name, &field_id);
			if (!rc)
				rc = open_field(&w, field_id, fi->flags | O_TRUNC, true, &h);
		}
		if (!rc)
			rc = store_field_get(w.fs->v->st, h->field_id, &f);
		if (!rc)
			rc = attr_field(&w, &st, &c, def, &f);
	} else {
		struct scratch_node *n = NULL;
		judge(&w, &c, NULL, RIGHT_WRITE, &d); /* scratch files: only denials are recorded */
		rc = d.allow ? 0 : decide(&w, &c, NULL, RIGHT_WRITE, &d);
		if (!rc)
			rc = scratch_create(w.fs->scratch, pid, name, w.uid, mode, &n);
		if (rc == EEXIST && !(fi->flags & O_EXCL)) {
			n = scratch_named(&w, pid, name);
			rc = n ? 0 : EACCES;
		}
		if (!rc)
			rc = open_scratch(&w, n, fi->flags, &h);
		if (!rc)
			attr_scratch(&w, &st, h->sn);
	}
	if (rc) {
		if (h)
			handle_free(w.fs, h);
		fuse_reply_err(req, rc);
		return;
	}
	struct fuse_entry_param e;
	fill_entry(w.fs, &e, &st);
	set_open_flags(&w, h, fi);
	if (fuse_reply_create(req, &e, fi) != 0)
		handle_free(w.fs, h);
}

/* Whether the person who opened H may still do RIGHT to its field: a grant
 * revoked, a job change, a departure (R4.3) or a returned checkout ends access
 * through files already open too, at their next read or write. In-memory. */
/* Records the close of a field handle: what was read and written (R5.1). */
static void audit_close_handle(struct fs *fs, const struct handle *h)
{
	struct who w;
	struct employee emp;
	if (h->kind != H_FIELD)
		return;
	who_of_handle(fs, h, &w, &emp);
	struct customer c = { .id = h->customer_id };
	snprintf(c.name, sizeof c.name, "%s", h->customer);
	struct decision d = { .allow = true, .rule = "close", .checkout_id = h->checkout_id };
	audit_access(&w, &c, catalog_field(w.cat, h->field), "close", &d, h->bytes_read,
		     h->bytes_written, NULL);
}

static int still_allowed(struct fs *fs, const struct handle *h, enum access_right right)
{
	if ((h->kind != H_FIELD && h->kind != H_SCRATCH) || h->uid == 0)
		return 0;
	struct who w = { .fs = fs, .pol = atomic_load(&fs->policy), .uid = h->uid };
	int err = 0;
	w.cat = w.pol->cat;
	staff_today(w.today);
	if (fs->view) {
		w.view = policy_role(w.pol, fs->view);
		w.broken |= !w.view;
	}
	const struct staff *st = staff_current(fs->v->st, atomic_load(&fs->acl_epoch), &err);
	w.emp = st ? staff_by_uid(st, h->uid) : NULL;
	w.broken |= !st;
	struct customer c = { .id = h->customer_id };
	struct decision d;
	if (h->kind == H_SCRATCH) {
		/* An editor's scratch copy stays usable only while its owner may still
		 * write to the customer (R4.3: leaving ends it too). */
		if (vault_customer_get(fs->v, h->customer_id, &c) != 0)
			return EACCES;
		judge(&w, &c, NULL, RIGHT_WRITE, &d);
		return d.allow ? 0 : EACCES;
	}
	const struct field_def *def = catalog_field(w.cat, h->field);
	snprintf(c.name, sizeof c.name, "%s", h->customer);
	if (!def)
		return EACCES;
	judge(&w, &c, def, right, &d);
	if (d.allow && d.masked == h->masked)
		return 0;
	log_info("deny: uid %u %s %s/%s on an open file: %s [%s]", (unsigned)h->uid,
		 access_right_name(right), h->customer, h->field,
		 d.allow ? "its masking changed" : d.reason, d.allow ? "mask" : d.rule);
	w.pid = h->pid;
	d.allow = false;
	audit_access(&w, &c, def, right == RIGHT_READ ? "read-open-file" : "write-open-file", &d,
		     0, 0, NULL);
	return EACCES;
}

static void answer_command(struct fs *fs, struct handle *h);

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);
	(void)ino;
	pthread_mutex_t *lock = h->sn ? &h->sn->lock : &h->lock;
	struct secbuf *b = h->sn ? &h->sn->buf : &h->buf;

	int rc = still_allowed(fs_of(req), h, RIGHT_READ);
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	pthread_mutex_lock(lock);
	if (h->kind == H_CMD && !h->answered)
		answer_command(fs_of(req), h);
	size_t len = b->len;
	if ((uint64_t)off >= len)
		size = 0;
	else if (size > len - (size_t)off)
		size = len - (size_t)off;
	h->bytes_read += (int64_t)size;
	/* fuse_reply_buf copies into the kernel before returning. */
	fuse_reply_buf(req, size ? (const char *)b->data + off : NULL, size);
	pthread_mutex_unlock(lock);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct handle *h = handle_of(fi);
	(void)ino;
	if (!h->writable || h->kind == H_WHY) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	pthread_mutex_t *lock = h->sn ? &h->sn->lock : &h->lock;
	struct secbuf *b = h->sn ? &h->sn->buf : &h->buf;
	int allowed = still_allowed(fs, h, RIGHT_WRITE);
	if (allowed || (h->kind == H_CMD && h->answered)) {
		fuse_reply_err(req, allowed ? allowed : EBADF);
		return;
	}
	pthread_mutex_lock(lock);
	if (h->append)
		off = (off_t)b->len;
	int rc = h->kind == H_EXPLAIN && (size_t)off + size > 1024
			 ? EFBIG
			 : secbuf_write(b, (size_t)off, buf, size);
	if (!rc) {
		if (h->sn) {
			h->sn->mtime_ns = vault_now_ns();
		} else {
			h->dirty = true;
			h->bytes_written += (int64_t)size;
			if (h->registered)
				inflight_set_size(fs->inflight, h->field_id, b->len);
		}
	}
	pthread_mutex_unlock(lock);
	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_write(req, size);
}

/* ---- explanations (.custfs/explain) ---- */

struct trace_buf {
	char *p;
	size_t len, cap;
};

static void trace_line(void *ctx, const char *line)
{
	struct trace_buf *t = ctx;
	int n = snprintf(t->p + t->len, t->cap - t->len, "  %s\n", line);
	if (n > 0)
		t->len += (size_t)n < t->cap - t->len ? (size_t)n : t->cap - t->len - 1;
}

/* Answers "CUSTOMER/FIELD [read|write]" for the asker, into their note. */
static void explain_query(struct fs *fs, uid_t uid, gid_t gid, pid_t pid, const char *q,
			  size_t len)
{
	char query[1025], *save = NULL;
	struct trace_buf t = { malloc(NOTE_TEXT), 0, NOTE_TEXT };
	struct who w;
	if (!t.p)
		return;
	snprintf(query, sizeof query, "%.*s", (int)len, q);
	/* The asker is the handle's opener, as at open(). */
	memset(&w, 0, sizeof w);
	w.fs = fs;
	w.pol = atomic_load(&fs->policy);
	w.cat = w.pol->cat;
	w.uid = uid;
	w.gid = gid;
	w.pid = pid;
	staff_today(w.today);
	if (fs->view) {
		w.view = policy_role(w.pol, fs->view);
		w.broken |= !w.view;
	}
	int err = 0;
	const struct staff *s = uid ? staff_current(fs->v->st, atomic_load(&fs->acl_epoch), &err) : NULL;
	w.emp = s ? staff_by_uid(s, uid) : NULL;
	w.broken |= uid && !s;

	char *path = strtok_r(query, " \t\n", &save);
	char *right = strtok_r(NULL, " \t\n", &save);
	char *slash = path ? strchr(path, '/') : NULL;
	enum access_right r = right && strcmp(right, "write") == 0 ? RIGHT_WRITE : RIGHT_READ;
	struct customer c;
	const struct field_def *def = NULL;
	struct decision d;

	if (!path || (right && strcmp(right, "read") != 0 && strcmp(right, "write") != 0)) {
		t.len = (size_t)snprintf(t.p, t.cap, "Ask: CUSTOMER/FIELD [read|write]\n");
		goto out;
	}
	if (slash)
		*slash = '\0';
	if (uid != 0 && !w.emp) {
		t.len = (size_t)snprintf(t.p, t.cap, "uid %u is not on the staff register: custfs "
					 "gives you nothing (R1.1)\n", (unsigned)uid);
		goto out;
	}
	/* A customer you may not see is answered as one that does not exist. */
	if (vault_customer_by_name(fs->v, path, &c) != 0 || visible(&w, &c, NULL) != 0 ||
	    (slash && !(def = catalog_field(w.cat, slash + 1)))) {
		t.len = (size_t)snprintf(t.p, t.cap, "No such customer or field: %s%s%s\n", path,
					 slash ? "/" : "", slash ? slash + 1 : "");
		goto out;
	}
	t.len = (size_t)snprintf(t.p, t.cap, "custfs explains: uid %u, %s of %s%s%s\n",
				 (unsigned)uid, access_right_name(r), c.name, def ? "/" : "",
				 def ? def->name : "");
	if (w.broken) {
		trace_line(&t, "the policy could not be evaluated (see the daemon's log): DENY");
	} else {
		struct access_request ar = {
			.uid = uid, .emp = w.emp, .customer_id = c.id, .customer = c.name,
			.field = def, .right = def ? r : RIGHT_LIST, .today = w.today, .now_ns = vault_now_ns(),
			.view = w.view,
		};
		access_decide(w.pol, &ar, &d, trace_line, &t);
		t.len += (size_t)snprintf(t.p + t.len, t.cap - t.len, "Decision: %s%s\n%s",
					  d.allow ? "ALLOW" : "DENY", d.masked ? " (masked)" : "",
					  d.allow ? "" : ACCESS_APPEAL_HINT "\n");
	}
out:
	if (t.len >= t.cap)
		t.len = t.cap - 1;
	t.p[t.len] = '\0';
	notes_record(fs->explain, uid, t.p);
	free(t.p);
}

/* ---- commands (.custfs/ctl): custctl as the caller ---- */

static bool join(char *out, size_t cap, const char *dir, const char *name)
{
	return (size_t)snprintf(out, cap, "%s/%s", dir, name) < cap;
}

static void cmd_staff_changed(void *ctx)
{
	struct fs *fs = ctx;
	atomic_fetch_add(&fs->acl_epoch, 1);
	runreg_signal(fs->v->dir, SIGUSR1, getpid()); /* the store's other mounts */
}

/* Writes the policy files, checks them, and swaps them in for the store's
 * policy in one rename; then this mount and the others reload. The old policy
 * stays on any error. */
static int cmd_install_policy(void *ctx, int n, char **names, char **texts, FILE *err)
{
	struct fs *fs = ctx;
	char next[PATH_MAX], path[PATH_MAX];
	struct policy *p = NULL;
	int rc = EIO;

	if ((size_t)snprintf(next, sizeof next, "%s.new", fs->policy_dir) >= sizeof next)
		return ENAMETOOLONG;
	/* Start from the policy in force, so files not sent are kept. */
	DIR *old = opendir(fs->policy_dir);
	struct dirent *de;
	mkdir(next, 0755);
	while (old && (de = readdir(old))) {
		char from[PATH_MAX], to[PATH_MAX], buf[65536];
		if (de->d_name[0] == '.')
			continue;
		if (!join(from, sizeof from, fs->policy_dir, de->d_name) ||
		    !join(to, sizeof to, next, de->d_name))
			continue;
		FILE *in = fopen(from, "re"), *o = fopen(to, "we");
		size_t got;
		while (in && o && (got = fread(buf, 1, sizeof buf, in)) > 0)
			fwrite(buf, 1, got, o);
		if (in)
			fclose(in);
		if (o)
			fclose(o);
	}
	if (old)
		closedir(old);
	for (int i = 0; i < n; i++) {
		FILE *f = join(path, sizeof path, next, names[i]) ? fopen(path, "we") : NULL;
		if (!f || fputs(texts[i], f) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
			fprintf(err, "custctl: cannot write %s\n", names[i]);
			if (f)
				fclose(f);
			goto out;
		}
		fclose(f);
	}
	if (policy_load(next, err, &p) != 0) {
		fprintf(err, "custctl: policy refused; the old one stays in force\n");
		goto out;
	}
	if (fs->view && !policy_role(p, fs->view)) {
		fprintf(err, "custctl: policy refused: it has no role '%s' for a mounted view\n",
			fs->view);
		goto out;
	}
	if (renameat2(AT_FDCWD, next, AT_FDCWD, fs->policy_dir, RENAME_EXCHANGE) != 0) {
		fprintf(err, "custctl: cannot install the policy: %s\n", strerror(errno));
		goto out;
	}
	rc = fs_reload_policy(fs);
	runreg_signal(fs->v->dir, SIGHUP, getpid());
out:
	policy_free(p);
	/* Whatever is left at NEXT now (the new files on failure, the old policy
	 * on success) goes. */
	DIR *d = opendir(next);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] != '.' && join(path, sizeof path, next, de->d_name))
			unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(next);
	return rc;
}

/* Runs the request in h->buf (words, each ending in NUL) as the handle's
 * opener and replaces it with the answer. Call with h->lock held. */
static void answer_command(struct fs *fs, struct handle *h)
{
	char *outbuf = NULL, *errbuf = NULL;
	size_t outlen = 0, errlen = 0;
	char **argv = NULL;
	int argc = 0, code = CMD_USAGE;
	FILE *out = open_memstream(&outbuf, &outlen);
	FILE *err = open_memstream(&errbuf, &errlen);

	h->answered = true;
	if (!out || !err)
		goto reply;
	if (h->buf.len == 0 || h->buf.data[h->buf.len - 1] != '\0') {
		fprintf(err, "custctl: malformed request\n");
		goto reply;
	}
	for (size_t i = 0; i < h->buf.len; i++)
		argc += h->buf.data[i] == '\0';
	argv = calloc((size_t)argc + 1, sizeof *argv);
	if (!argv)
		goto reply;
	char *p = (char *)h->buf.data;
	for (int i = 0; i < argc; i++) {
		argv[i] = p;
		p += strlen(p) + 1;
	}
	int e = 0;
	const struct staff *st = staff_current(fs->v->st, 0, &e);
	struct cmd_env env = {
		.v = fs->v,
		.pol = atomic_load(&fs->policy),
		.uid = h->uid,
		.me = st && h->uid ? staff_by_uid(st, h->uid) : NULL,
		.root = h->uid == 0,
		.out = out,
		.err = err,
		.view = fs->view,
		.staff_changed = cmd_staff_changed,
		.ctx = fs,
		.install_policy = cmd_install_policy,
	};
	char detail[512], rule[32];
	cmd_describe(argc, argv, detail, sizeof detail);
	struct who cw;
	struct employee emp;
	who_of_handle(fs, h, &cw, &emp);
	cw.emp = env.me;
	struct decision req = { .allow = true, .rule = "requested" };
	if (!st) {
		fprintf(err, "custctl: custfs cannot read the staff register: %s\n", strerror(e));
		code = CMD_REFUSED;
	} else if (audit_access(&cw, NULL, NULL, "command", &req, 0, 0, detail) != 0) {
		/* On the record before it happens, or it does not happen. */
		fprintf(err, "custctl: refused: custfs cannot write the audit record\n");
		code = CMD_REFUSED;
	} else {
		code = cmd_run(&env, argc, argv);
		log_info("command: uid %u pid %d: %s %s: exit %d", (unsigned)h->uid, (int)h->pid,
			 argv[0], argc > 1 ? argv[1] : "", code);
		snprintf(rule, sizeof rule, "exit %d", code);
		cw.emp = env.me; /* cmd_register may have re-pointed it */
		struct decision d = { .allow = code == 0, .rule = rule };
		audit_access(&cw, NULL, NULL, "command-done", &d, 0, 0, detail);
	}
reply:
	if (out)
		fclose(out);
	if (err)
		fclose(err);
	char head[64];
	int hl = snprintf(head, sizeof head, "%d %zu\n", code, outbuf ? outlen : 0);
	secbuf_truncate(&h->buf, 0);
	if (secbuf_write(&h->buf, 0, head, (size_t)hl) == 0 && outbuf)
		secbuf_write(&h->buf, h->buf.len, outbuf, outlen);
	if (errbuf)
		secbuf_write(&h->buf, h->buf.len, errbuf, errlen);
	free(outbuf);
	free(errbuf);
	free(argv);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);
	(void)ino;
	int rc = 0;
	pthread_mutex_lock(&h->lock);
	if (h->kind == H_EXPLAIN && h->dirty) {
		const struct fuse_ctx *ctx = fuse_req_ctx(req);
		explain_query(fs_of(req), h->uid, ctx->gid, h->pid, (const char *)h->buf.data,
			      h->buf.len);
		h->dirty = false;
	} else {
		rc = commit_locked(fs_of(req), h, false, false);
	}
	pthread_mutex_unlock(&h->lock);
	fuse_reply_err(req, rc);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);
	(void)ino;
	(void)datasync;
	pthread_mutex_lock(&h->lock);
	int rc = commit_locked(fs_of(req), h, true, true);
	pthread_mutex_unlock(&h->lock);
	fuse_reply_err(req, rc);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct handle *h = handle_of(fi);
	(void)ino;
	pthread_mutex_lock(&h->lock);
	if ((h->dirty || h->emptied) && commit_locked(fs, h, false, true) != 0)
		log_warn("discarded unsaved changes: uid %u %s/%s", (unsigned)h->uid, h->customer,
			 h->field);
	audit_close_handle(fs, h);
	pthread_mutex_unlock(&h->lock);
	handle_free(fs, h);
	fuse_reply_err(req, 0);
}

/* ---- setattr ---- */

/* truncate(2) on a field without an open handle: one new version. */
static int truncate_field(const struct who *w, int64_t field_id, off_t size)
{
	struct handle *h = NULL;
	int rc = open_field(w, field_id, O_RDWR, false, &h);
	if (rc)
		return rc;
	pthread_mutex_lock(&h->lock);
	rc = secbuf_truncate(&h->buf, (size_t)size);
	if (!rc) {
		h->dirty = true;
		rc = commit_locked(w->fs, h, false, true);
	}
	h->dirty = h->emptied = false;
	pthread_mutex_unlock(&h->lock);
	handle_free(w->fs, h);
	return rc;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct handle *h = fi && fi->fh ? handle_of(fi) : NULL;
	struct who w;
	int64_t id = 0;
	int rc = 0;
	enum kind k = kind_of(ino, &id);

	who_init(req, &w);
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (attr->st_size < 0 || attr->st_size > VALUE_MAX_BYTES) {
			rc = EFBIG;
		} else if (h && h->writable && (h->kind == H_FIELD || h->kind == H_SCRATCH) &&
			   (rc = still_allowed(w.fs, h, RIGHT_WRITE)) != 0) {
			/* refused below */
		} else if (h && h->writable && (h->kind == H_FIELD || h->kind == H_SCRATCH)) {
			pthread_mutex_t *lock = h->sn ? &h->sn->lock : &h->lock;
			struct secbuf *b = h->sn ? &h->sn->buf : &h->buf;
			pthread_mutex_lock(lock);
			rc = secbuf_truncate(b, (size_t)attr->st_size);
			if (!rc && !h->sn) {
				h->dirty = true;
				inflight_set_size(w.fs->inflight, h->field_id, b->len);
			}
			pthread_mutex_unlock(lock);
		} else if (h && h->kind == H_EXPLAIN) {
			rc = 0; /* O_TRUNC of the question file */
		} else if (h) {
			rc = EBADF;
		} else if (k == K_FIELD) {
			rc = truncate_field(&w, id, attr->st_size);
		} else if (k == K_SCRATCH) {
			struct scratch_node *n = scratch_for(&w, (uint64_t)id);
			if (!n) {
				rc = ENOENT;
			} else {
				pthread_mutex_lock(&n->lock);
				rc = secbuf_truncate(&n->buf, (size_t)attr->st_size);
				pthread_mutex_unlock(&n->lock);
				scratch_put(w.fs->scratch, n);
			}
		} else if (k == K_CTL && id == CTL_EXPLAIN) {
			rc = 0;
		} else {
			rc = k == K_CTL ? EACCES : EISDIR;
		}
	}
	/* Mode, owner and times are not stored: mode bits show rights, times come
	 * from versions. Accepting them lets cp -a, rsync and vim work. */
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	op_getattr(req, ino, fi);
}

/* ---- directories ---- */

struct dirbuf {
	const struct who *w;
	char *buf;
	size_t size;
	size_t used;
	off_t skip; /* entries at or before this offset were already returned */
	off_t next; /* offset of the entry being added */
	bool full;
};

static bool dir_add(struct dirbuf *d, const char *name, fuse_ino_t ino, mode_t type, off_t off)
{
	if (off <= d->skip)
		return true;
	struct stat st = { .st_ino = ino, .st_mode = type };
	size_t need =
		fuse_add_direntry(d->w->req, d->buf + d->used, d->size - d->used, name, &st, off);
	if (need > d->size - d->used) {
		d->full = true;
		return false;
	}
	d->used += need;
	return true;
}

/* Root offsets: 1 ".", 2 "..", then customers.id + 3, so a listing resumes by
 * id however the table grows. */
#define ROOT_FIRST_ID_OFF 3

static int root_entry(void *ctx, const struct customer *c)
{
	struct dirbuf *d = ctx;
	d->next = c->id + ROOT_FIRST_ID_OFF;
	if (visible(d->w, c, NULL))
		return 0;
	return dir_add(d, c->name, ino_of(K_CUSTOMER, c->id), S_IFDIR, d->next) ? 0 : 1;
}

struct custdir {
	struct dirbuf *d;
	const struct customer *c;
	off_t idx;
};

static int field_entry(void *ctx, const struct field_row *f)
{
	struct custdir *cd = ctx;
	const struct field_def *def = catalog_field(cd->d->w->cat, f->name);
	if (!def || visible(cd->d->w, cd->c, def))
		return 0;
	return dir_add(cd->d, f->name, ino_of(K_FIELD, f->id), S_IFREG, ++cd->idx) ? 0 : 1;
}

static void scratch_entry(void *ctx, uint64_t id, const char *name)
{
	struct custdir *cd = ctx;
	if (!cd->d->full)
		dir_add(cd->d, name, ino_of(K_SCRATCH, (int64_t)id), S_IFREG, ++cd->idx);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct who w;
	struct dirbuf d = { .w = &w, .size = size, .skip = off };
	int64_t id = 0;
	int rc = 0;
	(void)fi;

	who_init(req, &w);
	d.buf = malloc(size);
	if (!d.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	switch (kind_of(ino, &id)) {
	case K_ROOT:
		/* .custfs is reachable by name but not listed: scripts that take every
		 * entry of the root for a customer stay right. */
		if (dir_add(&d, ".", FUSE_ROOT_ID, S_IFDIR, 1) &&
		    dir_add(&d, "..", FUSE_ROOT_ID, S_IFDIR, 2)) {
			int64_t after = off > ROOT_FIRST_ID_OFF ? off - ROOT_FIRST_ID_OFF : 0;
			/* Page through customers by id: bounded memory for any store size. */
			while (!d.full && !rc) {
				d.next = 0;
				rc = vault_customer_list(w.fs->v, after, 256, root_entry, &d);
				if (d.next == 0)
					break;
				after = d.next - ROOT_FIRST_ID_OFF;
			}
		}
		break;
	case K_CUSTOMER: {
		struct customer c;
		rc = customer_seen(&w, id, &c);
		if (rc)
			break;
		struct custdir cd = { &d, &c, 2 };
		if (dir_add(&d, ".", ino, S_IFDIR, 1) && dir_add(&d, "..", FUSE_ROOT_ID, S_IFDIR, 2)) {
			rc = store_field_list(w.fs->v->st, id, field_entry, &cd);
			if (!rc && !d.full)
				scratch_list(w.fs->scratch, id, w.uid, scratch_entry, &cd);
		}
		break;
	}
	case K_CTL:
		if (id != CTL_DIR) {
			rc = ENOTDIR;
			break;
		}
		if (dir_add(&d, ".", ino, S_IFDIR, 1) && dir_add(&d, "..", FUSE_ROOT_ID, S_IFDIR, 2) &&
		    dir_add(&d, "why", ino_of(K_CTL, CTL_WHY), S_IFREG, 3) &&
		    dir_add(&d, "explain", ino_of(K_CTL, CTL_EXPLAIN), S_IFREG, 4))
			dir_add(&d, "ctl", ino_of(K_CTL, CTL_CMD), S_IFREG, 5);
		break;
	default:
		rc = ENOTDIR;
	}
	if (rc && d.used == 0)
		fuse_reply_err(req, rc);
	else
		fuse_reply_buf(req, d.buf, d.used);
	free(d.buf);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fuse_entry_param e;
	struct decision d;
	struct customer c;
	struct stat st;
	struct who w;
	int64_t id;
	(void)mode;

	who_init(req, &w);
	if (parent != FUSE_ROOT_ID) {
		fuse_reply_err(req, EPERM); /* customers hold fields, not directories */
		return;
	}
	const char *why = name_problem(name, strlen(name), false);
	if (why) {
		char shown[NAME_LOG_MAX];
		log_info("refused: new customer '%s': %s", name_for_log(name, shown), why);
		fuse_reply_err(req, strlen(name) > NAME_MAX_BYTES ? ENAMETOOLONG : EINVAL);
		return;
	}
	struct customer want = { .id = 0 };
	snprintf(want.name, sizeof want.name, "%s", name);
	int rc = decide(&w, &want, NULL, RIGHT_CREATE, &d);
	if (!rc)
		rc = vault_customer_create(w.fs->v, name, w.uid, &id);
	if (!rc)
		rc = vault_customer_get(w.fs->v, id, &c);
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	log_info("new customer '%s' by uid %u", name, (unsigned)w.uid);
	attr_customer(&w, &st, &c);
	fill_entry(w.fs, &e, &st);
	fuse_reply_entry(req, &e);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	(void)name;
	/* Deleting a customer is its own approved act (R3.4), not rmdir. */
	fuse_reply_err(req, EPERM);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct who w;
	int64_t pid = 0;
	who_init(req, &w);
	if (kind_of(parent, &pid) != K_CUSTOMER) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (catalog_field(w.cat, name)) {
		fuse_reply_err(req, EPERM); /* nothing is deleted (R3.4) */
		return;
	}
	struct scratch_node *n = scratch_named(&w, pid, name);
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	scratch_unlink(w.fs->scratch, n);
	scratch_put(w.fs->scratch, n);
	fuse_reply_err(req, 0);
}

/* ---- rename: how editors and tools save ---- */

/* A scratch file renamed over a field name stores a new version of the field:
 * history follows the name, not the inode. */
static int rename_scratch_to_field(const struct who *w, struct scratch_node *n,
				   const struct customer *c, const struct field_def *def)
{
	struct field_row f;
	struct write_result res;
	struct decision d;
	int rc = store_field_by_name(w->fs->v->st, c->id, def->name, &f);
	bool exists = rc == 0 && f.version > 0;
	if (rc && rc != ENOENT)
		return rc;
	rc = decide(w, c, def, exists ? RIGHT_WRITE : RIGHT_CREATE, &d);
	if (rc)
		return rc;
	pthread_mutex_lock(&n->lock);
	rc = store_presented(w, c->id, def->name, &n->buf, w->uid, false, &res);
	pthread_mutex_unlock(&n->lock);
	if (rc == EINVAL || rc == EFBIG)
		log_warn("refused: uid %u %s/%s: %s; nothing stored", (unsigned)w->uid, c->name,
			 def->name, res.why ? res.why : "invalid value");
	if (!rc)
		scratch_unlink(w->fs->scratch, n);
	return rc;
}

/* A field renamed to a scratch name (vim's backup) copies its value: the field
 * itself is never removed (R3.4). */
static int rename_field_to_scratch(const struct who *w, const struct customer *c,
				   const struct field_def *def, const char *newname)
{
	struct field_row f;
	struct decision d;
	struct secbuf value = SECBUF_INIT;
	struct scratch_node *n = NULL;
	int rc = store_field_by_name(w->fs->v->st, c->id, def->name, &f);
	if (!rc)
		rc = field_present(w->fs, &f);
	if (!rc)
		rc = decide(w, c, def, RIGHT_READ, &d);
	if (!rc && (d.masked || def->cls->sensitive))
		rc = EACCES; /* masked and sensitive values are never copied to scratch files */
	if (!rc && f.version > 0)
		rc = load_presented(w, def, false, f.id, &value);
	if (rc)
		goto out;
	n = scratch_named(w, c->id, newname);
	if (!n) {
		rc = scratch_create(w->fs->scratch, c->id, newname, w->uid, 0600, &n);
		if (rc)
			goto out;
	}
	pthread_mutex_lock(&n->lock);
	rc = secbuf_set(&n->buf, value.data, value.len);
	n->mtime_ns = vault_now_ns();
	pthread_mutex_unlock(&n->lock);
out:
	if (n)
		scratch_put(w->fs->scratch, n);
	secbuf_free(&value);
	return rc;
}

static int do_rename(const struct who *w, fuse_ino_t parent, const char *name,
		     fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct customer c;
	int64_t pid = 0, npid = 0;
	int rc;

	if (kind_of(parent, &pid) != K_CUSTOMER || kind_of(newparent, &npid) != K_CUSTOMER)
		return EPERM; /* customers are not renamed */
	if (pid != npid)
		return EXDEV; /* a field belongs to its customer */
	if (flags & RENAME_EXCHANGE)
		return EINVAL;
	const char *why = name_problem(newname, strlen(newname), true);
	if (why) {
		char shown[NAME_LOG_MAX];
		log_info("refused: rename to '%s': %s", name_for_log(newname, shown), why);
		return strlen(newname) > NAME_MAX_BYTES ? ENAMETOOLONG : EINVAL;
	}
	rc = customer_seen(w, pid, &c);
	if (rc)
		return rc;
	if (strcmp(name, newname) == 0)
		return 0;

	const struct field_def *src_def = catalog_field(w->cat, name);
	const struct field_def *dst_def = catalog_field(w->cat, newname);
	if (flags & RENAME_NOREPLACE) {
		struct stat st;
		if (do_lookup(w, parent, newname, &st) == 0)
			return EEXIST;
	}
	if (src_def && dst_def)
		return EPERM; /* one field's value does not become another's */
	if (src_def)
		return rename_field_to_scratch(w, &c, src_def, newname);

	struct scratch_node *n = scratch_named(w, pid, name);
	if (!n)
		return ENOENT;
	if (dst_def)
		rc = rename_scratch_to_field(w, n, &c, dst_def);
	else
		scratch_rename(w->fs->scratch, n, newname);
	scratch_put(w->fs->scratch, n);
	return rc;
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct who w;
	who_init(req, &w);
	fuse_reply_err(req, do_rename(&w, parent, name, newparent, newname, flags));
}

/* ---- the rest ---- */

/* access(2) answers by policy, quietly (a probe is not an attempt). */
static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	const struct field_def *def;
	struct decision d;
	struct customer c;
	struct field_row f;
	struct stat st;
	struct who w;
	int64_t id = 0;

	who_init(req, &w);
	int rc = do_getattr(&w, ino, &st);
	if (!rc && mask != F_OK) {
		switch (kind_of(ino, &id)) {
		case K_FIELD:
			rc = field_seen(&w, id, &f, &c, &def);
			if (!rc && (mask & R_OK)) {
				judge(&w, &c, def, RIGHT_READ, &d);
				rc = d.allow ? 0 : EACCES;
			}
			if (!rc && (mask & W_OK)) {
				judge(&w, &c, def, RIGHT_WRITE, &d);
				rc = d.allow ? 0 : EACCES;
			}
			if (!rc && (mask & X_OK))
				rc = EACCES; /* field files are data, never programs */
			break;
		case K_CUSTOMER:
			if (mask & W_OK) {
				rc = vault_customer_get(w.fs->v, id, &c);
				if (!rc) {
					judge(&w, &c, NULL, RIGHT_WRITE, &d);
					rc = d.allow ? 0 : EACCES;
				}
			}
			break;
		case K_ROOT:
			if (mask & W_OK) {
				judge(&w, NULL, NULL, RIGHT_CREATE, &d);
				rc = d.allow ? 0 : EACCES;
			}
			break;
		default: {
			mode_t m = st.st_mode;
			bool mine = st.st_uid == w.uid;
			mode_t bits = mine ? (m >> 6) & 7 : m & 7;
			if (((mask & R_OK) && !(bits & 4)) || ((mask & W_OK) && !(bits & 2)) ||
			    ((mask & X_OK) && !(bits & 1)))
				rc = EACCES;
		}
		}
	}
	fuse_reply_err(req, rc);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	(void)ino;
	if (statvfs(fs_of(req)->v->dir, &sv) != 0) {
		fuse_reply_err(req, errno);
		return;
	}
	sv.f_namemax = NAME_MAX_BYTES;
	fuse_reply_statfs(req, &sv);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* Writes must reach custfs as the writer, synchronously: never writeback. */
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
				  FUSE_CAP_SPLICE_MOVE);
}

const struct fuse_lowlevel_ops fs_lowlevel_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readdir = op_readdir,
	.mkdir = op_mkdir,
	.rmdir = op_rmdir,
	.unlink = op_unlink,
	.rename = op_rename,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.fsync = op_fsync,
	.release = op_release,
	.access = op_access,
	.statfs = op_statfs,
};
