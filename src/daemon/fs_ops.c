/* The FUSE low-level operations of custfs: one thin handler per operation.
 *
 * Each handler takes the caller from the request (who_from_req), calls the
 * helper that does the work (do_*, open_*, handle_*: 0 or a positive errno),
 * and replies exactly once. No SQL and no crypto here. */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/statvfs.h>

#include "db.h"
#include "log.h"

void reply_err(fuse_req_t req, int err)
{
	if (err < 0 || err > 4095) {
		log_err("internal error: errno %d is out of range; answering EIO", err);
		err = EIO;
	}
	fuse_reply_err(req, err);
}

/* Nothing custfs serves enters the page cache: another user's open would be
 * served from it (masked and plain views share an inode), and a revoked
 * reader's next read() must reach custfs to be refused (FACTS: revocation and
 * the page cache). The price: no shared mmap (ENODEV), and a reader's last
 * read() at end of file is a round trip. */
static void set_open_flags(struct handle *h, fuse_ino_t ino, struct fuse_file_info *fi)
{
	h->ino = ino;
	fi->direct_io = 1;
	fi->keep_cache = 0; /* every open re-reads: the page cache never outlives a decision */
	/* A reader has nothing to flush: spare its close() a round trip. */
	fi->noflush = !h->writable;
	fi->fh = (uint64_t)(uintptr_t)h;
}

/* A request that only reads the store sees one snapshot of it: one read
 * transaction rather than one per statement (sqlite's locks were about 12
 * fcntl calls an open). Anything that writes ends it first (db_begin). */
static struct db *reading_begin(fuse_req_t req)
{
	struct fs *fs = fuse_req_userdata(req);
	db_read_begin(fs->v->db);
	return fs->v->db;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	struct stat st;
	struct who w;
	struct db *db = reading_begin(req);
	who_from_req(&w, req);
	int rc = do_lookup(&w, parent, name, &st);
	db_read_end(db);
	if (rc) {
		reply_err(req, rc);
		return;
	}
	fill_entry(w.fs, &e, &st);
	/* A one-person mount remembers the name first: one it could not drop
	 * when rights change is never handed to the kernel to keep. */
	bool remembered = fs_cache_entry(w.fs, parent, name, &e);
	if (fuse_reply_entry(req, &e) != 0 && remembered)
		fs_cache_forget(w.fs, e.ino, 1);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_cache_forget(fuse_req_userdata(req), ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		fs_cache_forget(fuse_req_userdata(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	struct who w;
	struct db *db = reading_begin(req);
	who_from_req(&w, req);
	int rc = do_getattr(&w, ino, &st);
	db_read_end(db);
	if (!rc && fi && fi->fh && handle_of(fi)->kind == H_FIELD && handle_of(fi)->writable) {
		/* An open writer sees the size of what it has written. */
		struct handle *h = handle_of(fi);
		pthread_mutex_lock(&h->lock);
		st.st_size = (off_t)h->buf.len;
		pthread_mutex_unlock(&h->lock);
	}
	if (rc)
		reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, fs_cache_attr_timeout(w.fs, ino));
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = NULL;
	struct who w;
	int64_t id = 0;
	int rc;

	struct db *db = (fi->flags & O_ACCMODE) == O_RDONLY && !(fi->flags & O_TRUNC)
				? reading_begin(req) : NULL;
	who_from_req(&w, req);
	if ((rc = ino_check_owner(&w, ino))) {
		if (db)
			db_read_end(db);
		reply_err(req, rc);
		return;
	}
	switch (kind_of(ino, &id)) {
	case K_FIELD:
		rc = open_field(&w, id, fi->flags, false, &h);
		break;
	case K_SCRATCH: {
		struct scratch_node *n = scratch_for(&w, (uint64_t)id);
		rc = n ? open_scratch(&w, n, fi->flags, &h) : scratch_gone(&w);
		break;
	}
	case K_CTL:
		rc = open_ctl(&w, id, fi->flags, &h);
		break;
	default:
		rc = EISDIR;
	}
	if (!rc && (rc = handle_hold(&w, h)))
		handle_free(w.fs, h);
	if (db)
		db_read_end(db);
	if (rc) {
		reply_err(req, rc);
		return;
	}
	set_open_flags(h, ino, fi);
	if (fuse_reply_open(req, fi) != 0)
		handle_free(w.fs, h); /* the opener went away (interrupted) */
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	struct handle *h = NULL;
	struct stat st;
	struct who w;
	who_from_req(&w, req);
	int rc = do_create(&w, parent, name, mode, fi->flags, &h, &st);
	if (!rc && (rc = handle_hold(&w, h)))
		handle_free(w.fs, h);
	if (rc) {
		reply_err(req, rc);
		return;
	}
	fill_entry(w.fs, &e, &st);
	bool remembered = fs_cache_entry(w.fs, parent, name, &e);
	set_open_flags(h, e.ino, fi);
	if (fuse_reply_create(req, &e, fi) != 0) {
		if (remembered)
			fs_cache_forget(w.fs, e.ino, 1);
		handle_free(w.fs, h);
	}
}

static pthread_mutex_t *buf_lock(struct handle *h)
{
	return h->sn ? &h->sn->lock : &h->lock;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs *fs = fuse_req_userdata(req);
	struct handle *h = handle_of(fi);
	const void *data;
	size_t len;
	(void)ino;

	int rc = h->kind == H_CMD ? ctl_same_person(h, fuse_req_ctx(req), false) : 0;
	if (!rc) {
		db_read_begin(fs->v->db);
		rc = still_allowed(fs, h, RIGHT_READ);
		db_read_end(fs->v->db);
	}
	if (rc) {
		reply_err(req, rc);
		return;
	}
	atomic_fetch_add(&h->refs, 1); /* the reply may let the RELEASE through */
	/* A value that cannot change is read without the lock: the RELEASE the
	 * reply lets through then does not wait for this thread to unlock (it
	 * did, about once an open: a futex wait and a wake-up). */
	pthread_mutex_t *lock = handle_value_fixed(h) ? NULL : buf_lock(h);
	if (lock)
		pthread_mutex_lock(lock);
	rc = handle_read(fs, h, size, off, &data, &len);
	/* fuse_reply_buf copies into the kernel before returning. */
	if (rc)
		reply_err(req, rc);
	else
		fuse_reply_buf(req, data, len);
	if (lock)
		pthread_mutex_unlock(lock);
	handle_put(fs, h);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);
	(void)ino;
	int rc = 0;
	if (h->kind == H_CMD) {
		pthread_mutex_lock(&h->lock);
		rc = ctl_same_person(h, fuse_req_ctx(req), true);
		pthread_mutex_unlock(&h->lock);
	}
	if (!rc)
		rc = handle_write(fuse_req_userdata(req), h, buf, size, off);
	if (rc)
		reply_err(req, rc);
	else
		fuse_reply_write(req, size);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);
	(void)ino;
	int rc = 0;
	pthread_mutex_lock(&h->lock);
	if (h->kind == H_EXPLAIN && h->dirty) {
		explain_answer(fuse_req_userdata(req), h);
		h->dirty = false;
	} else {
		rc = commit_locked(fuse_req_userdata(req), h, false, false);
	}
	pthread_mutex_unlock(&h->lock);
	reply_err(req, rc);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);
	(void)ino;
	(void)datasync;
	pthread_mutex_lock(&h->lock);
	int rc = commit_locked(fuse_req_userdata(req), h, true, true);
	pthread_mutex_unlock(&h->lock);
	reply_err(req, rc);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fuse_req_userdata(req);
	struct handle *h = handle_of(fi);
	(void)ino;
	pthread_mutex_lock(&h->lock);
	if ((h->dirty || h->emptied) && commit_locked(fs, h, false, true) != 0)
		log_warn("discarded unsaved changes: uid %u customer #%lld/%s", (unsigned)h->uid,
			 (long long)h->customer_id, h->field);
	record_close(fs, h);
	pthread_mutex_unlock(&h->lock);
	handle_put(fs, h);
	reply_err(req, 0);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct handle *h = fi && fi->fh ? handle_of(fi) : NULL;
	struct who w;
	int64_t id = 0;
	int rc = 0;
	enum kind k = kind_of(ino, &id);

	who_from_req(&w, req);
	if (!h && (rc = ino_check_owner(&w, ino))) {
		reply_err(req, rc);
		return;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (attr->st_size < 0 || attr->st_size > VALUE_MAX_BYTES) {
			rc = EFBIG;
		} else if (h) {
			rc = handle_truncate(w.fs, h, attr->st_size);
		} else if (k == K_FIELD) {
			rc = truncate_field(&w, id, attr->st_size);
		} else if (k == K_SCRATCH) {
			struct scratch_node *n = scratch_for(&w, (uint64_t)id);
			if (!n) {
				rc = scratch_gone(&w);
			} else {
				pthread_mutex_lock(&n->lock);
				rc = secbuf_truncate(&n->buf, (size_t)attr->st_size);
				if (!rc && attr->st_size == 0)
					n->rights_epoch = people_rights_epoch(w.fs->people, n->owner);
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
		reply_err(req, rc);
		return;
	}
	op_getattr(req, ino, fi);
}

static void reply_listing(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct who w;
	/* The smallest READDIRPLUS entry is over 128 bytes: CAP always suffices. */
	struct listing l = { .size = size, .plus = plus, .cap = plus ? size / 128 + 1 : 0 };
	l.buf = malloc(size);
	l.held = plus ? calloc(l.cap, sizeof *l.held) : NULL;
	if (!l.buf || (plus && !l.held)) {
		free(l.buf);
		free(l.held);
		reply_err(req, ENOMEM);
		return;
	}
	struct db *db = reading_begin(req);
	who_from_req(&w, req);
	int rc = do_readdir(&w, ino, off, &l);
	db_read_end(db);
	if (rc)
		reply_err(req, rc);
	else if (fuse_reply_buf(req, l.buf, l.used) != 0)
		for (size_t i = 0; i < l.nheld; i++)
			fs_cache_forget(w.fs, l.held[i], 1); /* the kernel keeps none of them */
	free(l.buf);
	free(l.held);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	reply_listing(req, ino, size, off, false);
}

/* Asked for only on a one-person mount (op_init): a walk's or ls -l's stat of
 * each name is then answered from the kernel's cache, as after a LOOKUP. */
static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)fi;
	reply_listing(req, ino, size, off, true);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fuse_entry_param e;
	struct stat st;
	struct who w;
	(void)mode;
	who_from_req(&w, req);
	int rc = do_mkdir(&w, parent, name, &st);
	if (rc) {
		reply_err(req, rc);
		return;
	}
	fill_entry(w.fs, &e, &st);
	bool remembered = fs_cache_entry(w.fs, parent, name, &e);
	if (fuse_reply_entry(req, &e) != 0 && remembered)
		fs_cache_forget(w.fs, e.ino, 1);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	(void)name;
	/* Deleting a customer is its own approved act (R3.4), not rmdir. */
	reply_err(req, EPERM);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct who w;
	who_from_req(&w, req);
	reply_err(req, do_unlink(&w, parent, name));
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct who w;
	who_from_req(&w, req);
	int rc = do_rename(&w, parent, name, newparent, newname, flags);
	reply_err(req, rc);
	if (!rc)
		fs_cache_renamed(w.fs, newparent, newname);
}

/* access(2) answers by policy, quietly (a probe is not an attempt). */
static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct who w;
	who_from_req(&w, req);
	reply_err(req, do_access(&w, ino, mask));
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fuse_req_userdata(req);
	struct statvfs sv;
	(void)ino;
	if (statvfs(fs->v->dir, &sv) != 0) {
		reply_err(req, errno);
		return;
	}
	sv.f_namemax = NAME_MAX_BYTES;
	fuse_reply_statfs(req, &sv);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;
	/* A listing with attributes is only worth anything where the kernel may
	 * keep them: on a mount that serves several people it keeps nothing. */
	if (!fs->one_person)
		conn->want &= ~(unsigned)(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
	fs_cache_connected(fs);
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
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
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
