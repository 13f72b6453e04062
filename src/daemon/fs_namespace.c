/* Names: lookups, listings, and the operations that make or move a name
 * (mkdir of a customer, create of a field or scratch file, unlink, rename).
 * Nothing is deleted (R3.4): fields and customers are never removed. */
#include "fs.h"
#include "i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cname.h"
#include "log.h"
#include "names.h"
#include "scratch_names.h"
#include "text.h"

/* Whether NAME may be a scratch file (the policy's scratch patterns): if
 * not, it is most likely a mistyped field, and the person is told which
 * (R3.6: a value written there would look saved and vanish). 0 or EPERM. */
static int scratch_name_ok(const struct who *w, const char *name)
{
	if (scratch_name_allowed((const char *const *)w->pol->scratch, w->pol->nscratch, w->cat,
				 name))
		return 0;
	char why[NOTE_TEXT / 2], shown[NAME_LOG_MAX];
	const char *near = scratch_nearest_field(w->cat, name);
	/* Shown inert: a name may hold bidirectional or invisible characters. */
	snprintf(shown, sizeof shown, "%s", text_inert(name));
	locale_t old = who_speak(w);
	if (near)
		snprintf(why, sizeof why, _("there is no field '%s'; did you mean '%s'?"), shown,
			 near);
	else
		snprintf(why, sizeof why,
			 _("there is no field '%s'. A customer's directory holds the catalogue's "
			   "fields (ls shows those you may see) and editors' scratch files (the "
			   "policy's scratch patterns)"), shown);
	note_refusal(w, N_("a name"), why);
	i18n_restore(old);
	log_info("refused: name '%s': not a field or a scratch name", shown);
	return EPERM;
}

/* A new scratch file of the caller, counted against their limits. */
static int scratch_make(const struct who *w, const struct customer *c, const char *name,
			mode_t mode, struct scratch_node **out)
{
	enum limit which;
	int rc = scratch_name_ok(w, name);
	if (rc)
		return rc;
	rc = people_scratch(w->fs->people, w->pol->limits, w->uid, 1, &which);
	if (rc == EDQUOT)
		return refuse_limit(w, which, c);
	if (rc)
		return rc;
	rc = scratch_create(w->fs->scratch, c->id, name, w->uid, mode, out);
	if (rc) {
		people_scratch(w->fs->people, w->pol->limits, w->uid, -1, &which);
		return rc;
	}
	scratch_restart(w->fs, *out);
	return 0;
}

int do_lookup(const struct who *w, fuse_ino_t parent, const char *name, struct stat *st)
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
		if (!rc) {
			struct decision d;
			judge_quiet(w, &c, NULL, RIGHT_LIST, &d);
			if (!d.allow) {
				/* Hidden is nonexistent, and the probe is on the record
				 * (coalesced: ls and shells ask again and again). */
				record_denial(w, &c, NULL, "lookup-hidden", &d, NULL);
				return ENOENT;
			}
			attr_customer(w, st, &c);
		}
		return rc;
	case K_CUSTOMER: {
		rc = customer_seen(w, pid, &c);
		if (rc)
			return rc;
		def = catalog_field(w->cat, name);
		if (def) {
			struct decision d;
			judge_quiet(w, &c, def, RIGHT_LIST, &d);
			if (!d.allow) {
				/* A field out of the person's reach is not there for them,
				 * whether it holds a value or not, and the probe is on the
				 * record (coalesced). */
				record_denial(w, &c, def, "lookup-hidden", &d, NULL);
				return ENOENT;
			}
			rc = vault_field_by_name(w->fs->v, pid, name, &f);
			if (!rc)
				rc = field_present(w->fs, &f);
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



struct dirbuf {
	const struct who *w;
	struct listing *out;
	fuse_ino_t dir;
	off_t skip; /* entries at or before this offset were already returned */
	off_t next; /* offset of the entry being added */
	bool full;
};

/* NAME listed with its inode number and type only: in a READDIRPLUS reply,
 * an entry with node id 0, which the kernel lists but does not keep. */
static bool dir_add(struct dirbuf *d, const char *name, fuse_ino_t ino, mode_t type, off_t off)
{
	struct listing *o = d->out;
	if (off <= d->skip)
		return true;
	struct stat st = { .st_ino = ino, .st_mode = type };
	size_t room = o->size - o->used, need;
	if (o->plus) {
		struct fuse_entry_param e = { .attr = st };
		need = fuse_add_direntry_plus(d->w->req, o->buf + o->used, room, name, &e, off);
	} else {
		need = fuse_add_direntry(d->w->req, o->buf + o->used, room, name, &st, off);
	}
	if (need > room) {
		d->full = true;
		return false;
	}
	o->used += need;
	return true;
}

/* NAME with its attributes ST: in a READDIRPLUS reply, an entry the kernel
 * keeps as it would a LOOKUP's, so the name is remembered before it is
 * answered (or listed without its entry if it cannot be). */
static bool dir_add_entry(struct dirbuf *d, const char *name, const struct stat *st, off_t off)
{
	struct listing *o = d->out;
	if (!o->plus || off <= d->skip)
		return dir_add(d, name, st->st_ino, st->st_mode & S_IFMT, off);
	struct fuse_entry_param e;
	fill_entry(d->w->fs, &e, st);
	size_t room = o->size - o->used;
	size_t need = fuse_add_direntry_plus(d->w->req, o->buf + o->used, room, name, &e, off);
	if (need > room) {
		d->full = true;
		return false;
	}
	if (o->nheld == o->cap || !fs_cache_entry(d->w->fs, d->dir, name, &e))
		return dir_add(d, name, st->st_ino, st->st_mode & S_IFMT, off);
	o->held[o->nheld++] = e.ino;
	o->used += need;
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
	if (!d->out->plus)
		return dir_add(d, c->name, ino_of(K_CUSTOMER, c->id), S_IFDIR, d->next) ? 0 : 1;
	struct stat st;
	attr_customer(d->w, &st, c);
	return dir_add_entry(d, c->name, &st, d->next) ? 0 : 1;
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
	struct stat st;
	if (!def || visible(cd->d->w, cd->c, def))
		return 0;
	fuse_ino_t ino = ino_for(K_FIELD, cd->d->w->uid, f->id);
	++cd->idx;
	/* Attributes only as a LOOKUP would give them: of a field that is there. */
	if (!cd->d->out->plus || field_present(cd->d->w->fs, f) ||
	    attr_field(cd->d->w, &st, cd->c, def, f))
		return dir_add(cd->d, f->name, ino, S_IFREG, cd->idx) ? 0 : 1;
	return dir_add_entry(cd->d, f->name, &st, cd->idx) ? 0 : 1;
}

static void scratch_entry(void *ctx, uint64_t id, const char *name)
{
	struct custdir *cd = ctx;
	if (!cd->d->full)
		dir_add(cd->d, name, ino_of(K_SCRATCH, (int64_t)id), S_IFREG, ++cd->idx);
}



int do_readdir(const struct who *w, fuse_ino_t ino, off_t off, struct listing *out)
{
	struct dirbuf d = { .w = w, .out = out, .dir = ino, .skip = off };
	int64_t id = 0;
	int rc = 0;

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
				rc = vault_customer_list(w->fs->v, after, 256, root_entry, &d);
				if (d.next == 0)
					break;
				after = d.next - ROOT_FIRST_ID_OFF;
			}
		}
		break;
	case K_CUSTOMER: {
		struct customer c;
		rc = customer_seen(w, id, &c);
		if (rc)
			break;
		struct custdir cd = { &d, &c, 2 };
		if (dir_add(&d, ".", ino, S_IFDIR, 1) && dir_add(&d, "..", FUSE_ROOT_ID, S_IFDIR, 2)) {
			rc = vault_field_list(w->fs->v, id, field_entry, &cd);
			if (!rc && !d.full)
				scratch_list(w->fs->scratch, id, w->uid, scratch_entry, &cd);
		}
		break;
	}
	case K_CTL:
		if (id != CTL_DIR) {
			rc = ENOTDIR;
			break;
		}
		if (dir_add(&d, ".", ino, S_IFDIR, 1) && dir_add(&d, "..", FUSE_ROOT_ID, S_IFDIR, 2) &&
		    dir_add(&d, "why", ino_for(K_CTL, w->uid, CTL_WHY), S_IFREG, 3) &&
		    dir_add(&d, "explain", ino_for(K_CTL, w->uid, CTL_EXPLAIN), S_IFREG, 4))
			dir_add(&d, "ctl", ino_for(K_CTL, w->uid, CTL_CMD), S_IFREG, 5);
		break;
	default:
		rc = ENOTDIR;
	}
	return rc && out->used == 0 ? rc : 0;
}

int do_mkdir(const struct who *w, fuse_ino_t parent, const char *name, struct stat *st)
{
	struct decision d;
	struct customer c;
	int64_t id;

	if (parent != FUSE_ROOT_ID)
		return EPERM; /* customers hold fields, not directories */
	struct customer want = { .id = 0 };
	const char *why = cname_normalize(name, want.name);
	if (why) {
		/* Even a refused name may be customer data: the log has only why. */
		log_info("refused: a new customer's name: %s", why);
		note_refusal(w, N_("the new customer's name"), why);
		return strlen(name) > NAME_MAX_BYTES ? ENAMETOOLONG : EINVAL;
	}
	int rc = decide(w, &want, NULL, RIGHT_CREATE, &d);
	if (!rc && (rc = vault_customer_create(w->fs->v, want.name, w->uid, &id, &why)) &&
	    why)
		note_refusal(w, N_("the new customer's name"), why);
	if (!rc)
		rc = vault_customer_get(w->fs->v, id, &c);
	if (rc)
		return rc;
	log_info("new customer #%lld by uid %u", (long long)id, (unsigned)w->uid);
	attr_customer(w, st, &c);
	return 0;
}

int do_unlink(const struct who *w, fuse_ino_t parent, const char *name)
{
	int64_t pid = 0;
	if (kind_of(parent, &pid) != K_CUSTOMER)
		return EPERM;
	if (catalog_field(w->cat, name))
		return EPERM; /* nothing is deleted (R3.4) */
	struct scratch_node *n = scratch_named(w, pid, name);
	if (!n)
		return ENOENT;
	scratch_unlink(w->fs->scratch, n);
	scratch_put(w->fs->scratch, n);
	return 0;
}

static int rename_scratch_to_field(const struct who *w, struct scratch_node *n,
				   const struct customer *c, const struct field_def *def)
{
	struct field_row f;
	struct write_result res;
	struct decision d;
	judge_quiet(w, c, def, RIGHT_LIST, &d);
	if (!d.allow) {
		/* A field the caller may not see: refused alike whether it holds a
		 * value or not ("denied write" or "create" would tell them). */
		note_denial(w, c, def, RIGHT_WRITE, &d);
		record_denial(w, c, def, "rename", &d, NULL);
		return EACCES;
	}
	int rc = vault_field_by_name(w->fs->v, c->id, def->name, &f);
	bool exists = rc == 0 && f.version > 0;
	if (rc && rc != ENOENT)
		return rc;
	rc = decide(w, c, def, exists ? RIGHT_WRITE : RIGHT_CREATE, &d);
	if (rc)
		return rc;
	pthread_mutex_lock(&n->lock);
	if (n->rights_epoch != people_rights_epoch(w->fs->people, n->owner)) {
		/* Written under rights its owner no longer has (a returned checkout,
		 * an unmasked value): it does not become a field's value either. */
		pthread_mutex_unlock(&n->lock);
		note_refusal(w, N_("a rename of a scratch file over a field"),
			     N_("it was written under rights of yours that have changed since; "
				"write the value afresh"));
		return EACCES;
	}
	rc = store_presented(w, c, def->name, &n->buf, d.checkout_id, false, &res);
	pthread_mutex_unlock(&n->lock);
	if (rc == EINVAL || rc == EFBIG)
		rc = refuse_value(w, c, def->name, res.why ? res.why : N_("invalid value"), rc);
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
	int rc = vault_field_by_name(w->fs->v, c->id, def->name, &f);
	if (!rc)
		rc = field_present(w->fs, &f);
	if (!rc)
		rc = decide(w, c, def, RIGHT_READ, &d);
	if (!rc && (d.masked || def->cls->sensitive)) {
		/* A copy would outlive the masking or the checkout (R1.2, R3.5). */
		note_refusal(w, N_("a copy of a field to a scratch file (a rename, as an editor's "
				   "backup does)"),
			     N_("masked and sensitive values are never copied to scratch files; an "
				"editor can do without the backup (vim: set nobackup nowritebackup)"));
		struct decision no = { .rule = "no-scratch-copy" };
		snprintf(no.reason, sizeof no.reason,
			 "masked and sensitive values are never copied to scratch files");
		record_denial(w, c, def, "rename", &no, NULL);
		rc = EACCES;
	}
	struct decision wd;
	if (!rc && (judge_quiet(w, c, NULL, RIGHT_WRITE, &wd), !wd.allow)) {
		/* Scratch files are for those who may write to the customer. */
		note_denial(w, c, NULL, RIGHT_WRITE, &wd);
		record_denial(w, c, NULL, "rename", &wd, def->name);
		rc = EACCES;
	}
	if (!rc && f.version > 0)
		rc = load_presented(w, def, false, f.id, &value);
	if (rc)
		goto out;
	n = scratch_named(w, c->id, newname);
	if (!n) {
		rc = scratch_make(w, c, newname, 0600, &n);
		if (rc)
			goto out;
	}
	pthread_mutex_lock(&n->lock);
	enum limit which;
	if (value.len > n->charged &&
	    (rc = people_charge(w->fs->people, w->pol->limits, w->uid,
				(int64_t)(value.len - n->charged), true, &which)) == 0)
		n->charged = value.len;
	if (!rc)
		rc = secbuf_set(&n->buf, value.data, value.len);
	n->mtime_ns = clock_now_ns();
	n->rights_epoch = people_rights_epoch(w->fs->people, w->uid); /* read just now */
	pthread_mutex_unlock(&n->lock);
	if (rc == EDQUOT)
		rc = refuse_limit(w, which, c);
out:
	if (n)
		scratch_put(w->fs->scratch, n);
	secbuf_free(&value);
	return rc;
}

int do_rename(const struct who *w, fuse_ino_t parent, const char *name,
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
	else if (!(rc = scratch_name_ok(w, newname)))
		scratch_rename(w->fs->scratch, n, newname);
	scratch_put(w->fs->scratch, n);
	return rc;
}



int do_create(const struct who *w, fuse_ino_t parent, const char *name, mode_t mode, int flags,
	      struct handle **out, struct stat *st)
{
	const struct field_def *def;
	struct decision d;
	struct customer c;
	struct field_row f;
	struct handle *h = NULL;
	int64_t pid = 0, field_id = 0;
	int rc;

	if (kind_of(parent, &pid) != K_CUSTOMER)
		return parent == FUSE_ROOT_ID ? EPERM : EACCES;
	const char *why = name_problem(name, strlen(name), true);
	if (why) {
		char shown[NAME_LOG_MAX];
		log_info("refused: create '%s': %s", name_for_log(name, shown), why);
		return strlen(name) > NAME_MAX_BYTES ? ENAMETOOLONG : EINVAL;
	}
	if ((rc = customer_seen(w, pid, &c)))
		return rc;
	def = catalog_field(w->cat, name);
	if (def && (judge_quiet(w, &c, def, RIGHT_LIST, &d), !d.allow)) {
		/* A field the caller may not see: refused alike whether it holds a
		 * value or not (EEXIST or ENOENT would tell them). */
		note_denial(w, &c, def, RIGHT_CREATE, &d);
		record_denial(w, &c, def, "create", &d, NULL);
		return EACCES;
	}
	if (def) {
		rc = vault_field_by_name(w->fs->v, pid, name, &f);
		if (rc == 0 && field_present(w->fs, &f) == 0) {
			/* Exists: the kernel sends CREATE for O_EXCL, or after a racing lookup. */
			rc = flags & O_EXCL ? EEXIST : open_field(w, f.id, flags, false, &h);
		} else if (rc == 0 || rc == ENOENT) {
			/* open_field records the open; a deny here is recorded by decide. */
			judge(w, &c, def, RIGHT_CREATE, &d);
			rc = d.allow ? 0 : decide(w, &c, def, RIGHT_CREATE, &d);
			if (!rc) /* an invisible placeholder until its first version commits */
				rc = vault_field_ensure(w->fs->v, pid, name, &field_id);
			if (!rc)
				rc = open_field(w, field_id, flags | O_TRUNC, true, &h);
		}
		if (!rc)
			rc = vault_field_get(w->fs->v, h->field_id, &f);
		if (!rc)
			rc = attr_field(w, st, &c, def, &f);
	} else {
		struct scratch_node *n = NULL;
		judge(w, &c, NULL, RIGHT_WRITE, &d); /* scratch files: only denials are recorded */
		rc = d.allow ? 0 : decide(w, &c, NULL, RIGHT_WRITE, &d);
		if (!rc)
			rc = scratch_make(w, &c, name, mode, &n);
		if (rc == EEXIST && !(flags & O_EXCL)) {
			n = scratch_named(w, pid, name);
			rc = n ? 0 : EACCES;
		}
		if (!rc)
			rc = open_scratch(w, n, flags, &h);
		if (!rc)
			attr_scratch(w, st, h->sn);
	}
	if (rc && h)
		handle_free(w->fs, h);
	if (!rc)
		*out = h;
	return rc;
}
