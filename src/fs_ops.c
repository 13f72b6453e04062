#include "fs_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "access.h"
#include "log.h"
#include "names.h"

/* ---- inode numbers ----
 * Ids come from the database (never reused) or the scratch table, so an inode
 * number names one object for the life of the mount and needs no table:
 *   1               the root
 *   (id << 2) | 1   scratch file id (ids start at 1)
 *   (id << 2) | 2   customer directory, customers.id
 *   (id << 2) | 3   field file, fields.id */
enum kind { K_ROOT, K_SCRATCH, K_CUSTOMER, K_FIELD, K_NONE };

static fuse_ino_t ino_of(enum kind k, int64_t id)
{
	return ((fuse_ino_t)id << 2) | (fuse_ino_t)k;
}

static enum kind kind_of(fuse_ino_t ino, int64_t *id)
{
	if (ino == FUSE_ROOT_ID)
		return K_ROOT;
	*id = (int64_t)(ino >> 2);
	switch (ino & 3) {
	case 1:
		return K_SCRATCH;
	case 2:
		return K_CUSTOMER;
	case 3:
		return K_FIELD;
	}
	return K_NONE;
}

/* ---- open files ---- */
enum handle_kind { H_FIELD, H_SCRATCH };

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
	bool dirty;      /* written since the last commit */
	bool emptied;    /* opened with O_TRUNC or created, not yet committed: stored
			  * at fsync or release, not at a flush (bash's `>` flushes
			  * once before it writes; an empty version there would be a
			  * torn value others could see) */
	bool registered; /* counted in fs->inflight */
	struct secbuf buf; /* H_FIELD: the plaintext this handle reads and writes */
	struct scratch_node *sn; /* H_SCRATCH */
};

int fs_init(struct fs *fs, struct vault *v, double entry_timeout)
{
	fs->v = v;
	fs->entry_timeout = entry_timeout;
	fs->mounted_ns = vault_now_ns();
	fs->scratch = scratch_table_new();
	fs->inflight = inflight_new();
	if (!fs->scratch || !fs->inflight) {
		fs_destroy(fs);
		return ENOMEM;
	}
	return 0;
}

void fs_destroy(struct fs *fs)
{
	scratch_table_free(fs->scratch);
	inflight_free(fs->inflight);
	fs->scratch = NULL;
	fs->inflight = NULL;
}

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct handle *handle_of(struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}

/* ---- the file view of a value ----
 * A stored value has no trailing newline (imports and exports carry it as is);
 * its file ends with one, as text files do, so cat, grep and editors behave.
 * Writing strips exactly one trailing newline back off. */

static off_t presented_size(int64_t stored)
{
	return stored > 0 ? (off_t)stored + 1 : 0;
}

static int load_presented(struct fs *fs, int64_t field_id, struct secbuf *out)
{
	int rc = vault_read(fs->v, field_id, 0, out);
	if (!rc && out->len > 0)
		rc = secbuf_write(out, out->len, "\n", 1);
	return rc;
}

static int store_presented(struct fs *fs, int64_t customer_id, const char *field,
			   const struct secbuf *b, uid_t uid, bool durable, struct write_result *res)
{
	size_t len = b->len;
	if (len > 0 && b->data[len - 1] == '\n')
		len--;
	return vault_write(fs->v, customer_id, field, b->data, len, uid, durable, res);
}

/* ---- decisions ---- */

/* Asks the access layer; logs every deny. 0 or EACCES. */
static int decide(fuse_req_t req, const char *customer, const struct field_def *def,
		  enum access_right right)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct access_request ar = {
		.uid = ctx->uid, .pid = ctx->pid, .customer = customer, .field = def, .right = right,
	};
	struct decision d;
	access_decide(&ar, &d);
	if (d.allow)
		return 0;
	log_info("deny: uid %u pid %d %s %s%s%s: %s [%s]", (unsigned)ctx->uid, (int)ctx->pid,
		 access_right_name(right), customer ? customer : "/", def ? "/" : "",
		 def ? def->name : "", d.reason, d.rule);
	return EACCES;
}

/* Whether the caller may see a node at all: what they may not see is ENOENT. */
static int visible(fuse_req_t req, const char *customer, const struct field_def *def)
{
	return decide(req, customer, def, RIGHT_LIST) ? ENOENT : 0;
}

static uid_t req_uid(fuse_req_t req)
{
	return fuse_req_ctx(req)->uid;
}

/* ---- attributes ---- */

static void set_time(struct stat *st, int64_t ns)
{
	st->st_mtim.tv_sec = ns / 1000000000;
	st->st_mtim.tv_nsec = ns % 1000000000;
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
}

static void attr_root(struct fs *fs, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = FUSE_ROOT_ID;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	set_time(st, fs->mounted_ns);
}

static void attr_customer(struct stat *st, const struct customer *c)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino_of(K_CUSTOMER, c->id);
	st->st_mode = S_IFDIR | 0700;
	st->st_nlink = 2;
	set_time(st, c->created_ns);
}

static void attr_field(struct fs *fs, struct stat *st, const struct field_row *f)
{
	size_t pending;
	memset(st, 0, sizeof *st);
	st->st_ino = ino_of(K_FIELD, f->id);
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_size = inflight_size(fs->inflight, f->id, &pending) ? (off_t)pending
								   : presented_size(f->size);
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_blksize = 4096;
	set_time(st, f->mtime_ns);
}

static void attr_scratch(struct stat *st, struct scratch_node *n)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino_of(K_SCRATCH, (int64_t)n->id);
	st->st_mode = S_IFREG | n->mode;
	st->st_nlink = 1;
	st->st_uid = n->owner;
	pthread_mutex_lock(&n->lock);
	st->st_size = (off_t)n->buf.len;
	set_time(st, n->mtime_ns);
	pthread_mutex_unlock(&n->lock);
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_blksize = 4096;
}

static void fill_entry(struct fs *fs, struct fuse_entry_param *e, const struct stat *st)
{
	memset(e, 0, sizeof *e);
	e->ino = st->st_ino;
	e->attr = *st;
	e->attr_timeout = fs->entry_timeout;
	e->entry_timeout = fs->entry_timeout;
}

/* A scratch node the caller may use: its owner or root. Referenced, or NULL. */
static struct scratch_node *scratch_for(struct fs *fs, fuse_req_t req, uint64_t id)
{
	struct scratch_node *n = scratch_get(fs->scratch, id);
	uid_t uid = req_uid(req);
	if (n && uid != 0 && n->owner != uid) {
		scratch_put(fs->scratch, n);
		n = NULL;
	}
	return n;
}

static struct scratch_node *scratch_named(struct fs *fs, fuse_req_t req, int64_t cust,
					  const char *name)
{
	struct scratch_node *n = scratch_find(fs->scratch, cust, name);
	uid_t uid = req_uid(req);
	if (n && uid != 0 && n->owner != uid) {
		scratch_put(fs->scratch, n);
		n = NULL;
	}
	return n;
}

/* A field that holds a value, or that an open writer is creating. */
static int field_present(struct fs *fs, const struct field_row *f)
{
	size_t pending;
	return f->version > 0 || inflight_size(fs->inflight, f->id, &pending) ? 0 : ENOENT;
}

/* Stat of any node, as the caller may see it. */
static int do_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st)
{
	struct fs *fs = fs_of(req);
	struct customer c;
	struct field_row f;
	int64_t id = 0;
	int rc;

	switch (kind_of(ino, &id)) {
	case K_ROOT:
		attr_root(fs, st);
		return 0;
	case K_CUSTOMER:
		rc = vault_customer_get(fs->v, id, &c);
		if (!rc)
			rc = visible(req, c.name, NULL);
		if (!rc)
			attr_customer(st, &c);
		return rc;
	case K_FIELD:
		rc = store_field_get(fs->v->st, id, &f);
		if (!rc)
			rc = field_present(fs, &f);
		if (!rc)
			rc = vault_customer_get(fs->v, f.customer_id, &c);
		if (!rc) {
			const struct field_def *def = catalog_field(fs->v->cat, f.name);
			rc = def ? visible(req, c.name, def) : ENOENT;
		}
		if (!rc)
			attr_field(fs, st, &f);
		return rc;
	case K_SCRATCH: {
		struct scratch_node *n = scratch_for(fs, req, (uint64_t)id);
		if (!n)
			return ENOENT;
		attr_scratch(st, n);
		scratch_put(fs->scratch, n);
		return 0;
	}
	case K_NONE:
		break;
	}
	return ENOENT;
}

/* ---- lookup ---- */

static int do_lookup(fuse_req_t req, fuse_ino_t parent, const char *name, struct stat *st)
{
	struct fs *fs = fs_of(req);
	struct customer c;
	struct field_row f;
	int64_t pid = 0;
	int rc;

	if (name_problem(name, strlen(name), true))
		return strlen(name) > NAME_MAX_BYTES ? ENAMETOOLONG : ENOENT;
	switch (kind_of(parent, &pid)) {
	case K_ROOT:
		rc = vault_customer_by_name(fs->v, name, &c);
		if (!rc)
			rc = visible(req, c.name, NULL);
		if (!rc)
			attr_customer(st, &c);
		return rc;
	case K_CUSTOMER: {
		rc = vault_customer_get(fs->v, pid, &c);
		if (rc)
			return rc;
		if (visible(req, c.name, NULL))
			return ENOENT;
		const struct field_def *def = catalog_field(fs->v->cat, name);
		if (def) {
			rc = store_field_by_name(fs->v->st, pid, name, &f);
			if (!rc)
				rc = field_present(fs, &f);
			if (!rc)
				rc = visible(req, c.name, def);
			if (!rc)
				attr_field(fs, st, &f);
			return rc;
		}
		struct scratch_node *n = scratch_named(fs, req, pid, name);
		if (!n)
			return ENOENT;
		attr_scratch(st, n);
		scratch_put(fs->scratch, n);
		return 0;
	}
	case K_FIELD:
	case K_SCRATCH:
		return ENOTDIR;
	case K_NONE:
		break;
	}
	return ENOENT;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	struct stat st;
	int rc = do_lookup(req, parent, name, &st);
	if (rc == ENOENT && fs_of(req)->entry_timeout > 0) {
		/* A negative entry (ino 0) lets the kernel cache the miss. */
		memset(&e, 0, sizeof e);
		e.entry_timeout = fs_of(req)->entry_timeout;
		fuse_reply_entry(req, &e);
		return;
	}
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	fill_entry(fs_of(req), &e, &st);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int rc;
	if (fi && fi->fh && handle_of(fi)->kind == H_FIELD) {
		/* An open handle knows the size its writer sees. */
		struct handle *h = handle_of(fi);
		rc = do_getattr(req, ino, &st);
		if (!rc && h->writable) {
			pthread_mutex_lock(&h->lock);
			st.st_size = (off_t)h->buf.len;
			pthread_mutex_unlock(&h->lock);
		}
	} else {
		rc = do_getattr(req, ino, &st);
	}
	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, fs_of(req)->entry_timeout);
}

/* ---- open, read, write, commit ---- */

static struct handle *handle_new(fuse_req_t req, enum handle_kind kind)
{
	struct handle *h = calloc(1, sizeof *h);
	if (h) {
		const struct fuse_ctx *ctx = fuse_req_ctx(req);
		pthread_mutex_init(&h->lock, NULL);
		h->kind = kind;
		h->uid = ctx->uid;
		h->pid = ctx->pid;
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

/* Stores a handle's contents as a new version if they changed (or, with
 * EMPTIED_TOO, were emptied). Call with h->lock held. */
static int commit_locked(struct fs *fs, struct handle *h, bool durable, bool emptied_too)
{
	struct write_result res;
	if (h->kind != H_FIELD || !(h->dirty || (emptied_too && h->emptied)))
		return 0;
	int rc = store_presented(fs, h->customer_id, h->field, &h->buf, h->uid, durable, &res);
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
	return 0;
}

static int open_field(fuse_req_t req, int64_t field_id, int flags, bool creating,
		      struct handle **out)
{
	struct fs *fs = fs_of(req);
	struct customer c;
	struct field_row f;
	bool wr = wants_write(flags);
	int rc;

	rc = store_field_get(fs->v->st, field_id, &f);
	if (!rc && !creating)
		rc = field_present(fs, &f);
	if (!rc)
		rc = vault_customer_get(fs->v, f.customer_id, &c);
	if (rc)
		return rc;
	const struct field_def *def = catalog_field(fs->v->cat, f.name);
	if (!def)
		return ENOENT; /* no longer in the catalogue */
	if (visible(req, c.name, def))
		return ENOENT;
	/* The decision sits right before decryption. */
	if ((flags & O_ACCMODE) != O_WRONLY && (rc = decide(req, c.name, def, RIGHT_READ)))
		return rc;
	if (wr && (rc = decide(req, c.name, def, creating ? RIGHT_CREATE : RIGHT_WRITE)))
		return rc;

	struct handle *h = handle_new(req, H_FIELD);
	if (!h)
		return ENOMEM;
	h->customer_id = c.id;
	h->field_id = f.id;
	snprintf(h->field, sizeof h->field, "%s", f.name);
	snprintf(h->customer, sizeof h->customer, "%s", c.name);
	h->writable = wr;
	h->append = wr && (flags & O_APPEND);
	if (creating || (wr && (flags & O_TRUNC))) {
		rc = secbuf_truncate(&h->buf, 0);
		h->emptied = true;
	} else if (f.version > 0) {
		rc = load_presented(fs, f.id, &h->buf);
	}
	if (!rc && wr) {
		rc = inflight_add_writer(fs->inflight, f.id, h->buf.len);
		h->registered = rc == 0;
	}
	if (rc) {
		handle_free(fs, h);
		return rc;
	}
	*out = h;
	return 0;
}

static int open_scratch(fuse_req_t req, struct scratch_node *n, int flags, struct handle **out)
{
	struct handle *h = handle_new(req, H_SCRATCH);
	if (!h) {
		scratch_put(fs_of(req)->scratch, n);
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

/* Sensitive classes are never served from the page cache, so a revoked
 * reader's next read() reaches custfs (FACTS: revocation and the page cache). */
static void set_open_flags(struct fs *fs, struct handle *h, struct fuse_file_info *fi)
{
	const struct field_def *def =
		h->kind == H_FIELD ? catalog_field(fs->v->cat, h->field) : NULL;
	fi->direct_io = (def && def->cls->sensitive) || h->kind == H_SCRATCH;
	fi->keep_cache = 0; /* every open re-reads: the page cache never outlives a decision */
	/* A reader has nothing to flush: spare its close() a round trip. */
	fi->noflush = !h->writable;
	fi->fh = (uint64_t)(uintptr_t)h;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct handle *h = NULL;
	int64_t id = 0;
	int rc;

	switch (kind_of(ino, &id)) {
	case K_FIELD:
		rc = open_field(req, id, fi->flags, false, &h);
		break;
	case K_SCRATCH: {
		struct scratch_node *n = scratch_for(fs, req, (uint64_t)id);
		rc = n ? open_scratch(req, n, fi->flags, &h) : ENOENT;
		break;
	}
	case K_ROOT:
	case K_CUSTOMER:
		rc = EISDIR;
		break;
	default:
		rc = ENOENT;
	}
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	set_open_flags(fs, h, fi);
	if (fuse_reply_open(req, fi) != 0)
		handle_free(fs, h); /* the opener went away (interrupted) */
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct customer c;
	struct field_row f;
	struct handle *h = NULL;
	struct stat st;
	int64_t pid = 0, field_id = 0;
	int rc;

	if (kind_of(parent, &pid) != K_CUSTOMER) {
		fuse_reply_err(req, kind_of(parent, &pid) == K_ROOT ? EPERM : ENOTDIR);
		return;
	}
	const char *why = name_problem(name, strlen(name), true);
	if (why) {
		char shown[NAME_LOG_MAX];
		log_info("refused: create '%s': %s", name_for_log(name, shown), why);
		fuse_reply_err(req, strlen(name) > NAME_MAX_BYTES ? ENAMETOOLONG : EINVAL);
		return;
	}
	rc = vault_customer_get(fs->v, pid, &c);
	if (!rc && visible(req, c.name, NULL))
		rc = ENOENT;
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	const struct field_def *def = catalog_field(fs->v->cat, name);
	if (def) {
		rc = store_field_by_name(fs->v->st, pid, name, &f);
		if (rc == 0 && field_present(fs, &f) == 0) {
			/* Exists: the kernel sends CREATE for O_EXCL, or after a racing lookup. */
			if (fi->flags & O_EXCL)
				rc = EEXIST;
			else
				rc = open_field(req, f.id, fi->flags, false, &h);
		} else if (rc == 0 || rc == ENOENT) {
			rc = decide(req, c.name, def, RIGHT_CREATE);
			if (!rc) /* an invisible placeholder until its first version commits */
				rc = store_field_ensure(fs->v->st, pid, name, &field_id);
			if (!rc)
				rc = open_field(req, field_id, fi->flags | O_TRUNC, true, &h);
		}
		if (!rc)
			rc = store_field_get(fs->v->st, h->field_id, &f);
		if (!rc)
			attr_field(fs, &st, &f);
	} else {
		struct scratch_node *n = NULL;
		rc = decide(req, c.name, NULL, RIGHT_WRITE);
		if (!rc)
			rc = scratch_create(fs->scratch, pid, name, req_uid(req), mode, &n);
		if (rc == EEXIST && !(fi->flags & O_EXCL)) {
			n = scratch_named(fs, req, pid, name);
			rc = n ? 0 : EACCES;
		}
		if (!rc)
			rc = open_scratch(req, n, fi->flags, &h);
		if (!rc)
			attr_scratch(&st, h->sn);
	}
	if (rc) {
		if (h)
			handle_free(fs, h);
		fuse_reply_err(req, rc);
		return;
	}
	struct fuse_entry_param e;
	fill_entry(fs, &e, &st);
	set_open_flags(fs, h, fi);
	if (fuse_reply_create(req, &e, fi) != 0)
		handle_free(fs, h);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);
	(void)ino;
	pthread_mutex_t *lock = h->sn ? &h->sn->lock : &h->lock;
	struct secbuf *b = h->sn ? &h->sn->buf : &h->buf;

	pthread_mutex_lock(lock);
	size_t len = b->len;
	if ((uint64_t)off >= len)
		size = 0;
	else if (size > len - (size_t)off)
		size = len - (size_t)off;
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
	if (!h->writable) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	pthread_mutex_t *lock = h->sn ? &h->sn->lock : &h->lock;
	struct secbuf *b = h->sn ? &h->sn->buf : &h->buf;
	pthread_mutex_lock(lock);
	if (h->append)
		off = (off_t)b->len;
	int rc = secbuf_write(b, (size_t)off, buf, size);
	if (!rc) {
		if (h->sn) {
			h->sn->mtime_ns = vault_now_ns();
		} else {
			h->dirty = true;
			inflight_set_size(fs->inflight, h->field_id, b->len);
		}
	}
	pthread_mutex_unlock(lock);
	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_write(req, size);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);
	(void)ino;
	pthread_mutex_lock(&h->lock);
	int rc = commit_locked(fs_of(req), h, false, false);
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
	pthread_mutex_unlock(&h->lock);
	handle_free(fs, h);
	fuse_reply_err(req, 0);
}

/* ---- setattr ---- */

/* truncate(2) on a field without an open handle: one new version. */
static int truncate_field(fuse_req_t req, int64_t field_id, off_t size)
{
	struct handle *h = NULL;
	int rc = open_field(req, field_id, O_RDWR, false, &h);
	if (rc)
		return rc;
	pthread_mutex_lock(&h->lock);
	rc = secbuf_truncate(&h->buf, (size_t)size);
	if (!rc) {
		h->dirty = true;
		rc = commit_locked(fs_of(req), h, false, true);
	}
	h->dirty = h->emptied = false;
	pthread_mutex_unlock(&h->lock);
	handle_free(fs_of(req), h);
	return rc;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct handle *h = fi && fi->fh ? handle_of(fi) : NULL;
	int64_t id = 0;
	int rc = 0;
	enum kind k = kind_of(ino, &id);

	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (attr->st_size < 0 || attr->st_size > VALUE_MAX_BYTES) {
			rc = EFBIG;
		} else if (h && h->writable) {
			pthread_mutex_t *lock = h->sn ? &h->sn->lock : &h->lock;
			struct secbuf *b = h->sn ? &h->sn->buf : &h->buf;
			pthread_mutex_lock(lock);
			rc = secbuf_truncate(b, (size_t)attr->st_size);
			if (!rc && !h->sn) {
				h->dirty = true;
				inflight_set_size(fs->inflight, h->field_id, b->len);
			}
			pthread_mutex_unlock(lock);
		} else if (h) {
			rc = EBADF;
		} else if (k == K_FIELD) {
			rc = truncate_field(req, id, attr->st_size);
		} else if (k == K_SCRATCH) {
			struct scratch_node *n = scratch_for(fs, req, (uint64_t)id);
			if (!n) {
				rc = ENOENT;
			} else {
				pthread_mutex_lock(&n->lock);
				rc = secbuf_truncate(&n->buf, (size_t)attr->st_size);
				pthread_mutex_unlock(&n->lock);
				scratch_put(fs->scratch, n);
			}
		} else {
			rc = EISDIR;
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
	fuse_req_t req;
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
	size_t need = fuse_add_direntry(d->req, d->buf + d->used, d->size - d->used, name, &st, off);
	if (need > d->size - d->used) {
		d->full = true;
		return false;
	}
	d->used += need;
	return true;
}

/* Root offsets: 1 ".", 2 "..", then customers.id + 2, so a listing resumes
 * by id however the table grows. */
static int root_entry(void *ctx, const struct customer *c)
{
	struct dirbuf *d = ctx;
	d->next = c->id + 2;
	if (visible(d->req, c->name, NULL))
		return 0;
	return dir_add(d, c->name, ino_of(K_CUSTOMER, c->id), S_IFDIR, c->id + 2) ? 0 : 1;
}

struct custdir {
	struct dirbuf *d;
	struct fs *fs;
	const char *customer;
	off_t idx;
};

static int field_entry(void *ctx, const struct field_row *f)
{
	struct custdir *cd = ctx;
	const struct field_def *def = catalog_field(cd->fs->v->cat, f->name);
	if (!def || visible(cd->d->req, cd->customer, def))
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
	struct fs *fs = fs_of(req);
	struct dirbuf d = { .req = req, .size = size, .skip = off };
	int64_t id = 0;
	int rc = 0;
	(void)fi;

	d.buf = malloc(size);
	if (!d.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	switch (kind_of(ino, &id)) {
	case K_ROOT:
		if (dir_add(&d, ".", FUSE_ROOT_ID, S_IFDIR, 1) &&
		    dir_add(&d, "..", FUSE_ROOT_ID, S_IFDIR, 2)) {
			int64_t after = off > 2 ? off - 2 : 0;
			/* Page through customers by id: bounded memory for any store size. */
			while (!d.full && !rc) {
				d.next = 0;
				rc = vault_customer_list(fs->v, after, 256, root_entry, &d);
				if (d.next == 0)
					break;
				after = d.next - 2;
			}
		}
		break;
	case K_CUSTOMER: {
		struct customer c;
		rc = vault_customer_get(fs->v, id, &c);
		if (!rc)
			rc = visible(req, c.name, NULL);
		if (rc)
			break;
		struct custdir cd = { &d, fs, c.name, 2 };
		if (dir_add(&d, ".", ino, S_IFDIR, 1) && dir_add(&d, "..", FUSE_ROOT_ID, S_IFDIR, 2)) {
			rc = store_field_list(fs->v->st, id, field_entry, &cd);
			if (!rc && !d.full)
				scratch_list(fs->scratch, id, req_uid(req), scratch_entry, &cd);
		}
		break;
	}
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
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct customer c;
	struct stat st;
	int64_t id;
	(void)mode;

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
	int rc = decide(req, name, NULL, RIGHT_CREATE);
	if (!rc)
		rc = vault_customer_create(fs->v, name, req_uid(req), &id);
	if (!rc)
		rc = vault_customer_get(fs->v, id, &c);
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	log_info("new customer '%s' by uid %u", name, (unsigned)req_uid(req));
	attr_customer(&st, &c);
	fill_entry(fs, &e, &st);
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
	struct fs *fs = fs_of(req);
	int64_t pid = 0;
	if (kind_of(parent, &pid) != K_CUSTOMER) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (catalog_field(fs->v->cat, name)) {
		fuse_reply_err(req, EPERM); /* nothing is deleted (R3.4) */
		return;
	}
	struct scratch_node *n = scratch_named(fs, req, pid, name);
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	scratch_unlink(fs->scratch, n);
	scratch_put(fs->scratch, n);
	fuse_reply_err(req, 0);
}

/* ---- rename: how editors and tools save ---- */

/* A scratch file renamed over a field name stores a new version of the field:
 * history follows the name, not the inode. */
static int rename_scratch_to_field(fuse_req_t req, struct scratch_node *n,
				   const struct customer *c, const struct field_def *def)
{
	struct fs *fs = fs_of(req);
	struct field_row f;
	struct write_result res;
	int rc = store_field_by_name(fs->v->st, c->id, def->name, &f);
	bool exists = rc == 0 && f.version > 0;
	if (rc && rc != ENOENT)
		return rc;
	rc = decide(req, c->name, def, exists ? RIGHT_WRITE : RIGHT_CREATE);
	if (rc)
		return rc;
	pthread_mutex_lock(&n->lock);
	rc = store_presented(fs, c->id, def->name, &n->buf, req_uid(req), false, &res);
	pthread_mutex_unlock(&n->lock);
	if (rc == EINVAL || rc == EFBIG)
		log_warn("refused: uid %u %s/%s: %s; nothing stored", (unsigned)req_uid(req),
			 c->name, def->name, res.why ? res.why : "invalid value");
	if (!rc)
		scratch_unlink(fs->scratch, n);
	return rc;
}

/* A field renamed to a scratch name (vim's backup) copies its value: the field
 * itself is never removed (R3.4). */
static int rename_field_to_scratch(fuse_req_t req, const struct customer *c,
				   const struct field_def *def, const char *newname)
{
	struct fs *fs = fs_of(req);
	struct field_row f;
	struct secbuf value = SECBUF_INIT;
	struct scratch_node *n = NULL;
	int rc = store_field_by_name(fs->v->st, c->id, def->name, &f);
	if (!rc)
		rc = field_present(fs, &f);
	if (!rc)
		rc = decide(req, c->name, def, RIGHT_READ);
	if (!rc && f.version > 0)
		rc = load_presented(fs, f.id, &value);
	if (rc)
		goto out;
	n = scratch_named(fs, req, c->id, newname);
	if (!n) {
		rc = scratch_create(fs->scratch, c->id, newname, req_uid(req), 0600, &n);
		if (rc)
			goto out;
	}
	pthread_mutex_lock(&n->lock);
	rc = secbuf_set(&n->buf, value.data, value.len);
	n->mtime_ns = vault_now_ns();
	pthread_mutex_unlock(&n->lock);
out:
	if (n)
		scratch_put(fs->scratch, n);
	secbuf_free(&value);
	return rc;
}

static int do_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		     const char *newname, unsigned int flags)
{
	struct fs *fs = fs_of(req);
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
	rc = vault_customer_get(fs->v, pid, &c);
	if (!rc && visible(req, c.name, NULL))
		rc = ENOENT;
	if (rc)
		return rc;
	if (strcmp(name, newname) == 0)
		return 0;

	const struct field_def *src_def = catalog_field(fs->v->cat, name);
	const struct field_def *dst_def = catalog_field(fs->v->cat, newname);
	if (flags & RENAME_NOREPLACE) {
		struct stat st;
		if (do_lookup(req, parent, newname, &st) == 0)
			return EEXIST;
	}
	if (src_def && dst_def)
		return EPERM; /* one field's value does not become another's */
	if (src_def)
		return rename_field_to_scratch(req, &c, src_def, newname);

	struct scratch_node *n = scratch_named(fs, req, pid, name);
	if (!n)
		return ENOENT;
	if (dst_def)
		rc = rename_scratch_to_field(req, n, &c, dst_def);
	else
		scratch_rename(fs->scratch, n, newname);
	scratch_put(fs->scratch, n);
	return rc;
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	fuse_reply_err(req, do_rename(req, parent, name, newparent, newname, flags));
}

/* ---- the rest ---- */

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct stat st;
	int rc = do_getattr(req, ino, &st); /* visibility */
	int64_t id = 0;
	if (!rc && mask != F_OK && kind_of(ino, &id) == K_FIELD) {
		struct fs *fs = fs_of(req);
		struct field_row f;
		struct customer c;
		rc = store_field_get(fs->v->st, id, &f);
		if (!rc)
			rc = vault_customer_get(fs->v, f.customer_id, &c);
		const struct field_def *def = rc ? NULL : catalog_field(fs->v->cat, f.name);
		if (!rc && !def)
			rc = ENOENT;
		if (!rc && (mask & R_OK))
			rc = decide(req, c.name, def, RIGHT_READ);
		if (!rc && (mask & W_OK))
			rc = decide(req, c.name, def, RIGHT_WRITE);
		if (!rc && (mask & X_OK))
			rc = EACCES; /* field files are data, never programs */
	} else if (!rc && mask != F_OK && kind_of(ino, &id) == K_CUSTOMER && (mask & W_OK)) {
		struct customer c;
		rc = vault_customer_get(fs_of(req)->v, id, &c);
		if (!rc)
			rc = decide(req, c.name, NULL, RIGHT_WRITE);
	} else if (!rc && kind_of(ino, &id) == K_ROOT && (mask & W_OK)) {
		rc = decide(req, NULL, NULL, RIGHT_CREATE);
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
