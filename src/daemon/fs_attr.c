/* Attributes: what stat, lookups and access(2) answer, for the caller.
 *
 * Mode bits show the caller's own rights, and the caller owns what they see:
 * with zero attribute timeouts every stat is answered for its caller. */
#include "fs.h"

#include "log.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static void set_time(struct stat *st, int64_t ns)
{
	st->st_mtim.tv_sec = ns / 1000000000;
	st->st_mtim.tv_nsec = ns % 1000000000;
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
}

void attr_dir(const struct who *w, struct stat *st, fuse_ino_t ino, mode_t mode,
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

void attr_customer(const struct who *w, struct stat *st, const struct customer *c)
{
	struct decision d;
	judge_quiet(w, c, NULL, RIGHT_WRITE, &d);
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

int attr_field(const struct who *w, struct stat *st, const struct customer *c,
		      const struct field_def *def, const struct field_row *f)
{
	struct decision rd, wd;

	if (f->id > INO_PERSONAL_ID_MAX) {
		log_err("field #%lld: its id does not fit an inode number", (long long)f->id);
		return EOVERFLOW;
	}
	judge_quiet(w, c, def, RIGHT_READ, &rd);
	judge_quiet(w, c, def, RIGHT_WRITE, &wd);
	/* The committed size (a masked view has the same size: mask.h), except
	 * for a person writing it: their inode is theirs alone, so their stat
	 * and fstat show their pending bytes. */
	size_t pending;
	off_t size = inflight_size(w->fs->inflight, f->id, w->uid, &pending) ? (off_t)pending
									     : presented_size(f->size);
	attr_file(w, st, ino_for(K_FIELD, w->uid, f->id), (rd.allow ? 0400 : 0) | (wd.allow ? 0200 : 0),
		  size, f->mtime_ns);
	return 0;
}

void attr_scratch(const struct who *w, struct stat *st, struct scratch_node *n)
{
	pthread_mutex_lock(&n->lock);
	attr_file(w, st, ino_of(K_SCRATCH, (int64_t)n->id), n->mode & 0600, (off_t)n->buf.len,
		  n->mtime_ns);
	pthread_mutex_unlock(&n->lock);
	st->st_uid = n->owner;
}

void attr_ctl(const struct who *w, struct stat *st, int64_t id)
{
	if (id == CTL_DIR)
		attr_dir(w, st, ino_of(K_CTL, CTL_DIR), 0555, w->fs->mounted_ns);
	else /* sizes are not known before the open: direct_io reads to the end */
		attr_file(w, st, ino_for(K_CTL, w->uid, id), id == CTL_WHY ? 0444 : 0666, 0,
			  w->fs->mounted_ns);
	/* (.custfs/ctl answers whoever writes to it, as themself: see cmd.h) */
	st->st_uid = 0;
	st->st_gid = 0;
}

void fill_entry(struct fs *fs, struct fuse_entry_param *e, const struct stat *st)
{
	memset(e, 0, sizeof *e);
	e->ino = st->st_ino;
	e->attr = *st;
	e->attr_timeout = fs->entry_timeout;
	e->entry_timeout = fs->entry_timeout;
}

/* A scratch node the caller may use: their own. Referenced, or NULL. */
struct scratch_node *scratch_for(const struct who *w, uint64_t id)
{
	struct scratch_node *n = scratch_get(w->fs->scratch, id);
	if (n && n->owner != w->uid) {
		scratch_put(w->fs->scratch, n);
		n = NULL;
	}
	return n;
}

int scratch_gone(const struct who *w)
{
	/* On a one-person mount the kernel may still hold a name a RENAME moved
	 * onto the scratch file that rename used up (mv x.bak x): ESTALE makes
	 * the kernel look the name up again (LOOKUP_REVAL), which finds x. */
	return w->fs->cache ? ESTALE : ENOENT;
}

struct scratch_node *scratch_named(const struct who *w, int64_t cust, const char *name)
{
	return scratch_find(w->fs->scratch, cust, w->uid, name);
}

/* A field that holds a value, or that an open writer is creating. */
int field_present(struct fs *fs, const struct field_row *f)
{
	return f->version > 0 || inflight_any(fs->inflight, f->id) ? 0 : ENOENT;
}

/* A visible customer by id. */
int customer_seen(const struct who *w, int64_t id, struct customer *c)
{
	int rc = vault_customer_get(w->fs->v, id, c);
	return rc ? rc : visible(w, c, NULL);
}

/* A visible field by id, with its customer and definition. */
int field_seen(const struct who *w, int64_t id, struct field_row *f, struct customer *c,
		      const struct field_def **def)
{
	int rc = vault_field_get(w->fs->v, id, f);
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
int ino_check_owner(const struct who *w, fuse_ino_t ino)
{
	int64_t id = 0;
	enum kind k = kind_of(ino, &id);
	return k != K_ROOT && kind_is_personal(k, id) && ino_uid(ino) != w->uid ? ESTALE : 0;
}

int do_getattr(const struct who *w, fuse_ino_t ino, struct stat *st)
{
	const struct field_def *def;
	struct customer c;
	struct field_row f;
	int64_t id = 0;
	int rc;

	if ((rc = ino_check_owner(w, ino)))
		return rc;
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
			return scratch_gone(w);
		/* Hidden is nonexistent, through a descriptor held from before too. */
		rc = customer_seen(w, n->customer_id, &c);
		if (!rc)
			attr_scratch(w, st, n);
		scratch_put(w->fs->scratch, n);
		return rc;
	}
	case K_CTL:
		if (id < CTL_DIR || id > CTL_CMD)
			return ENOENT;
		attr_ctl(w, st, id);
		return 0;
	}
	return ENOENT;
}

/* access(2) answers by policy, quietly (a probe is not an attempt). */
int do_access(const struct who *w, fuse_ino_t ino, int mask)
{
	const struct field_def *def;
	struct decision d;
	struct customer c;
	struct field_row f;
	struct stat st;
	int64_t id = 0;

	int rc = do_getattr(w, ino, &st);
	if (!rc && mask != F_OK) {
		switch (kind_of(ino, &id)) {
		case K_FIELD:
			rc = field_seen(w, id, &f, &c, &def);
			if (!rc && (mask & R_OK)) {
				judge(w, &c, def, RIGHT_READ, &d);
				rc = d.allow ? 0 : EACCES;
			}
			if (!rc && (mask & W_OK)) {
				judge(w, &c, def, RIGHT_WRITE, &d);
				rc = d.allow ? 0 : EACCES;
			}
			if (!rc && (mask & X_OK))
				rc = EACCES; /* field files are data, never programs */
			break;
		case K_CUSTOMER:
			if (mask & W_OK) {
				rc = vault_customer_get(w->fs->v, id, &c);
				if (!rc) {
					judge(w, &c, NULL, RIGHT_WRITE, &d);
					rc = d.allow ? 0 : EACCES;
				}
			}
			break;
		case K_ROOT:
			if (mask & W_OK) {
				judge(w, NULL, NULL, RIGHT_CREATE, &d);
				rc = d.allow ? 0 : EACCES;
			}
			break;
		default: {
			mode_t m = st.st_mode;
			bool mine = st.st_uid == w->uid;
			mode_t bits = mine ? (m >> 6) & 7 : m & 7;
			if (((mask & R_OK) && !(bits & 4)) || ((mask & W_OK) && !(bits & 2)) ||
			    ((mask & X_OK) && !(bits & 1)))
				rc = EACCES;
		}
		}
	}
	return rc;
}

