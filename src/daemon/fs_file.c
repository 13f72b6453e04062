/* Open files: opening a field (fetch, decide, record, decrypt), reading and
 * writing a handle's buffer, and committing it as a new version.
 *
 * MUST: nothing is decrypted before the decision and its audit record; every
 * read and write of an open file is decided again (still_allowed), so a
 * revoked right ends access through files already open; a new value is stored
 * only whole, as one version. */
#include "fs.h"
#include "i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assert_held.h"
#include "clock.h"
#include "log.h"

struct handle *handle_new(const struct who *w, enum handle_kind kind)
{
	struct handle *h = calloc(1, sizeof *h);
	if (h) {
		pthread_mutex_init(&h->lock, NULL);
		atomic_init(&h->refs, 1);
		h->kind = kind;
		h->uid = w->uid;
		h->gid = w->gid;
		h->pid = w->pid;
	}
	return h;
}

int handle_hold(const struct who *w, struct handle *h)
{
	enum limit which = LIMIT_OPEN_FILES;
	/* A scratch file's bytes are its owner's, counted with the file. */
	size_t memory = h->kind == H_SCRATCH ? 0 : h->buf.len;
	int rc = people_attach(w->fs->people, w->pol->limits, h->uid, h, h->writable,
			       h->kind == H_CMD, h->kind == H_WHY || h->kind == H_EXPLAIN, memory,
			       &which);
	if (rc == EDQUOT) {
		struct customer c = { .id = h->customer_id };
		return refuse_limit(w, which, h->customer_id ? &c : NULL);
	}
	h->held = rc == 0;
	return rc;
}

void handle_free(struct fs *fs, struct handle *h)
{
	if (h->held)
		people_detach(fs->people, h->uid, h, h->writable, h->kind == H_CMD);
	if (h->registered)
		inflight_remove_writer(fs->inflight, h->field_id, h->uid);
	if (h->sn)
		scratch_put(fs->scratch, h->sn);
	secbuf_free(&h->buf);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

void scratch_restart(struct fs *fs, struct scratch_node *n)
{
	pthread_mutex_lock(&n->lock);
	n->rights_epoch = people_rights_epoch(fs->people, n->owner);
	pthread_mutex_unlock(&n->lock);
}

void handle_put(struct fs *fs, struct handle *h)
{
	if (atomic_fetch_sub(&h->refs, 1) == 1)
		handle_free(fs, h);
}

/* The caller of a request made on H's behalf (a commit at release, a close). */
static void who_of_handle(struct fs *fs, const struct handle *h, struct who *w)
{
	who_init(w, fs, NULL, h->uid, h->gid, h->pid);
}

/* ---- opening a field ---- */

/* The decision of an open(), on the field's row, before any decryption: one
 * decision and one audit record per open(). OUT gets the customer, the
 * definition and the read decision (masking, checkout). */
static int decide_open(const struct who *w, const struct field_row *f, int flags, bool creating,
		       struct customer *c, const struct field_def **def, struct decision *out)
{
	int rc;
	if (!creating && (rc = field_present(w->fs, f)))
		return rc;
	if ((rc = vault_customer_get(w->fs->v, f->customer_id, c)))
		return rc;
	if (!(*def = catalog_field(w->cat, f->name)))
		return ENOENT; /* no longer in the catalogue */
	if (!creating && (rc = visible(w, c, *def)))
		return rc;
	struct decision rd = { 0 }, wd = { 0 };
	bool want_r = (flags & O_ACCMODE) != O_WRONLY, want_w = wants_write(flags);
	enum access_right wright = creating ? RIGHT_CREATE : RIGHT_WRITE;
	if (want_r)
		judge(w, c, *def, RIGHT_READ, &rd);
	if (want_w)
		judge(w, c, *def, wright, &wd);
	const struct decision *fail = want_r && !rd.allow ? &rd : want_w && !wd.allow ? &wd : NULL;
	const struct decision *rep = fail ? fail : want_r ? &rd : &wd;
	const char *action = creating ? "open-create" : want_r && want_w ? "open-rw"
					: want_r ? "open-read" : "open-write";
	if (fail) {
		record_denial(w, c, *def, action, fail, NULL);
		note_denial(w, c, *def, fail == &rd ? RIGHT_READ : wright, fail);
		return EACCES;
	}
	if (record_access(w, c, *def, action, rep, 0, 0, NULL) != 0) {
		/* Told in .custfs/why too: the daemon's log alone answers nobody. */
		note_refusal(w, N_("an open"),
			     N_("its audit record could not be written, and nothing is opened "
				"without one (R5.1); nothing was decrypted. The daemon's log "
				"says why: tell the technical department"));
		return EACCES;
	}
	*out = *rep;
	out->masked = rd.masked;
	return 0;
}

int open_field(const struct who *w, int64_t field_id, int flags, bool creating,
	       struct handle **out)
{
	struct sealed_value sv = { .blob = NULL };
	const struct field_def *def = NULL;
	struct customer c;
	struct decision d;
	bool wr = wants_write(flags);
	bool emptied = creating || (wr && (flags & O_TRUNC));

	struct handle *h = handle_new(w, H_FIELD);
	if (!h)
		return ENOMEM;
	/* One query for the row and the ciphertext (none needed when emptied). */
	int rc = emptied ? vault_field_get(w->fs->v, field_id, &sv.row)
			 : vault_fetch(w->fs->v, field_id, 0, &sv);
	if (!rc)
		rc = decide_open(w, &sv.row, flags, creating, &c, &def, &d);
	if (!rc && !emptied)
		rc = vault_unseal(w->fs->v, &sv, &h->buf);
	if (!rc)
		rc = emptied ? secbuf_truncate(&h->buf, 0)
			     : present_value(w->pol, def, d.masked, &h->buf);
	store_sealed_free(&sv);
	if (rc) {
		handle_free(w->fs, h);
		return rc;
	}
	h->customer_id = c.id;
	h->field_id = sv.row.id;
	snprintf(h->field, sizeof h->field, "%s", sv.row.name);
	h->writable = wr;
	h->masked = d.masked;
	h->checkout_id = d.checkout_id;
	h->emptied = emptied;
	h->append = wr && (flags & O_APPEND);
	if (wr) {
		rc = inflight_add_writer(w->fs->inflight, h->field_id, h->uid, h->buf.len);
		h->registered = rc == 0;
		if (rc) {
			handle_free(w->fs, h);
			return rc;
		}
	}
	*out = h;
	return 0;
}

int open_scratch(const struct who *w, struct scratch_node *n, int flags, struct handle **out)
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
		n->rights_epoch = people_rights_epoch(w->fs->people, n->owner);
		pthread_mutex_unlock(&n->lock);
	}
	*out = h;
	return 0;
}

int open_ctl(const struct who *w, int64_t id, int flags, struct handle **out)
{
	if (id == CTL_DIR)
		return EISDIR;
	if (id < CTL_DIR || id > CTL_CMD)
		return ENOENT;
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
	/* The note goes straight into the handle's locked buffer (it names
	 * customers). */
	int rc = secbuf_reserve(&h->buf, NOTE_TEXT);
	if (!rc && !(flags & O_TRUNC)) {
		char *text = (char *)h->buf.data;
		struct notes *n = id == CTL_WHY ? w->fs->why : w->fs->explain;
		size_t len = notes_get(n, w->uid, text, NOTE_TEXT);
		locale_t old = len == 0 ? who_speak(w) : (locale_t)0;
		if (len == 0 && id == CTL_WHY)
			len = (size_t)snprintf(text, NOTE_TEXT, "%s",
					       _("No access of yours has been denied since this "
						 "mount started.\n"));
		else if (len == 0)
			len = (size_t)snprintf(text, NOTE_TEXT, "%s",
					       _("Write a question here, then read the answer:\n"
						 "  echo 'CUSTOMER/FIELD read' > .custfs/explain\n"
						 "  cat .custfs/explain\n"));
		i18n_restore(old);
		h->buf.len = len < NOTE_TEXT ? len : NOTE_TEXT - 1;
	}
	if (rc) {
		handle_free(w->fs, h);
		return rc;
	}
	*out = h;
	return 0;
}

/* ---- every read and write is decided again ---- */

int still_allowed(struct fs *fs, struct handle *h, enum access_right right)
{
	if ((h->kind != H_FIELD && h->kind != H_SCRATCH) || h->uid == 0)
		return 0;
	if (atomic_load(&h->revoked))
		return EACCES;
	struct who w;
	struct customer c;
	struct decision d;
	who_of_handle(fs, h, &w);
	if (vault_customer_get(fs->v, h->customer_id, &c) != 0)
		return EACCES;
	if (h->kind == H_SCRATCH) {
		/* An editor's scratch copy stays usable only while its owner may still
		 * write to the customer (R4.3: leaving ends it too); and what it holds
		 * was written under the rights of its start: after any change of them
		 * it reads no more (a copy of a returned checkout's value, or of an
		 * unmasked phone, outlives nothing). */
		judge_quiet(&w, &c, NULL, RIGHT_WRITE, &d);
		if (!d.allow)
			return EACCES;
		if (right == RIGHT_READ) {
			pthread_mutex_lock(&h->sn->lock);
			bool stale = h->sn->rights_epoch != people_rights_epoch(fs->people, h->uid);
			pthread_mutex_unlock(&h->sn->lock);
			if (stale) {
				note_refusal(&w, N_("a read of a scratch file"),
					     N_("it was written under rights of yours that have changed "
						"since; it can still be renamed over its field or removed"));
				return EACCES;
			}
		}
		return 0;
	}
	const struct field_def *def = catalog_field(w.cat, h->field);
	if (!def)
		return EACCES;
	judge_quiet(&w, &c, def, right, &d);
	/* The same right it was opened under: a sensitive field's checkout is
	 * that checkout, not a later one. */
	if (d.allow && d.masked == h->masked && d.checkout_id == h->checkout_id)
		return 0;
	atomic_store(&h->revoked, true);
	if (d.allow && d.masked == h->masked)
		snprintf(d.reason, sizeof d.reason, "it was opened under checkout #%lld, which has "
			 "ended; open it again", (long long)h->checkout_id);
	else if (d.allow) /* a quiet allow has no words of its own */
		snprintf(d.reason, sizeof d.reason, "its masking has changed since it was opened; "
			 "open it again");
	log_info("deny: uid %u %s customer #%lld/%s on an open file: %s [%s]", (unsigned)h->uid,
		 access_right_name(right), (long long)h->customer_id, h->field,
		 d.allow ? "its masking changed" : d.reason, d.allow ? "mask" : d.rule);
	record_denial(&w, &c, def, right == RIGHT_READ ? "read-open-file" : "write-open-file", &d,
		      NULL);
	return EACCES;
}

/* ---- commits ---- */

/* H's value cannot be stored: from now on the handle stores nothing (not a
 * cut-off part of it either) and each write, fsync and close says so. */
static void stop_handle(struct fs *fs, struct handle *h, int rc)
{
	ASSERT_HELD(&h->lock);
	h->refused = rc;
	h->dirty = h->emptied = false;
	if (h->registered)
		inflight_settled(fs->inflight, h->field_id, h->uid);
}

static int refuse_handle(const struct who *w, struct handle *h, int rc, const char *why)
{
	struct customer c;
	stop_handle(w->fs, h, rc);
	if (vault_customer_get(w->fs->v, h->customer_id, &c) != 0) {
		c = (struct customer){ .id = h->customer_id };
		snprintf(c.name, sizeof c.name, "#%lld", (long long)h->customer_id);
	}
	return refuse_value(w, &c, h->field, why, rc);
}

int commit_locked(struct fs *fs, struct handle *h, bool durable, bool emptied_too)
{
	struct write_result res;
	struct who w;
	ASSERT_HELD(&h->lock);
	if (h->kind == H_FIELD && h->refused)
		return h->refused;
	if (h->kind != H_FIELD || !(h->dirty || (emptied_too && h->emptied)))
		return 0;
	/* The writer may have lost the right since the open (R3.2, R4.3). */
	if (still_allowed(fs, h, RIGHT_WRITE) != 0) {
		log_warn("refused: uid %u customer #%lld/%s: no longer allowed to write; nothing "
			 "stored", (unsigned)h->uid, (long long)h->customer_id, h->field);
		return EACCES;
	}
	who_of_handle(fs, h, &w);
	struct customer c = { .id = h->customer_id };
	int rc = store_presented(&w, &c, h->field, &h->buf, h->checkout_id, durable, &res);
	if (rc == EINVAL || rc == EFBIG)
		return refuse_handle(&w, h, rc, res.why ? res.why : N_("invalid value"));
	if (rc) {
		/* The writer is told it failed (and why, store_presented), so it is
		 * not stored later either (at a flush again, or the release). */
		stop_handle(fs, h, rc);
		return rc;
	}
	h->dirty = h->emptied = false;
	/* Stored: a stat from now on shows the stored size, not these bytes. */
	if (h->registered)
		inflight_settled(fs->inflight, h->field_id, h->uid);
	return 0;
}

void record_close(struct fs *fs, const struct handle *h)
{
	struct who w;
	if (h->kind != H_FIELD)
		return;
	who_of_handle(fs, h, &w);
	struct customer c = { .id = h->customer_id };
	struct decision d = { .allow = true, .rule = "close", .checkout_id = h->checkout_id };
	record_access(&w, &c, catalog_field(w.cat, h->field), "close", &d,
		      __atomic_load_n(&h->bytes_read, __ATOMIC_RELAXED), h->bytes_written, NULL);
}

int truncate_field(const struct who *w, int64_t field_id, off_t size)
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

/* ---- a handle's bytes ---- */

static pthread_mutex_t *buf_lock(struct handle *h)
{
	return h->sn ? &h->sn->lock : &h->lock;
}

static struct secbuf *buf_of(struct handle *h)
{
	return h->sn ? &h->sn->buf : &h->buf;
}

bool handle_value_fixed(const struct handle *h)
{
	/* all three are set at the open and never change */
	return h->kind == H_FIELD && !h->writable && !h->sn;
}

int handle_read(struct fs *fs, struct handle *h, size_t size, off_t off, const void **data,
		size_t *len)
{
	(void)fs;
	struct secbuf *b = buf_of(h);
	if (h->kind == H_CMD && !h->answered)
		ctl_answer(fs, h);
	if ((uint64_t)off >= b->len)
		size = 0;
	else if (size > b->len - (size_t)off)
		size = b->len - (size_t)off;
	/* atomic: a fixed value is read without the lock (handle_value_fixed) */
	__atomic_fetch_add(&h->bytes_read, (int64_t)size, __ATOMIC_RELAXED);
	*data = size ? b->data + off : NULL;
	*len = size;
	return 0;
}

/* Counts the bytes a write or truncate will need (a high-water mark against
 * the owner's limits: the buffer does not shrink) before it happens. Buffer
 * lock held. 0 or EDQUOT. */
static int charge(struct fs *fs, struct handle *h, size_t end, size_t len)
{
	size_t need = end > len ? end : len;
	size_t *charged = h->sn ? &h->sn->charged : &h->charged;
	if (need <= *charged || (!h->held && !h->sn))
		return 0;
	enum limit which;
	struct who w;
	uid_t owner = h->sn ? h->sn->owner : h->uid;
	who_init(&w, fs, NULL, owner, h->gid, h->pid);
	int rc = people_charge(fs->people, w.pol->limits, owner, (int64_t)(need - *charged),
			       h->sn != NULL, &which);
	if (rc == EDQUOT) {
		struct customer c = { .id = h->customer_id };
		return refuse_limit(&w, which, &c);
	}
	if (!rc)
		*charged = need;
	return rc;
}

/* A write ending at END completes a value when it ends the contents with a
 * newline. */
static bool completes_value(const struct secbuf *b, size_t end)
{
	return end == b->len && b->len > 0 && b->data[b->len - 1] == '\n';
}

int handle_write(struct fs *fs, struct handle *h, const char *buf, size_t size, off_t off)
{
	if (!h->writable || h->kind == H_WHY || (h->kind == H_CMD && h->answered))
		return EBADF;
	if (off < 0)
		return EINVAL;
	int rc = still_allowed(fs, h, RIGHT_WRITE);
	if (rc)
		return rc;
	pthread_mutex_t *lock = buf_lock(h);
	struct secbuf *b = buf_of(h);
	pthread_mutex_lock(lock);
	if (h->append)
		off = (off_t)b->len;
	if ((rc = charge(fs, h, (size_t)off + size, b->len))) {
		pthread_mutex_unlock(lock);
		return rc;
	}
	rc = h->kind == H_EXPLAIN && (size_t)off + size > 1024 ? EFBIG
	     : h->kind == H_CMD && (size_t)off + size > CTL_REQUEST_MAX ? EFBIG
	     : h->refused ? h->refused
			  : secbuf_write(b, (size_t)off, buf, size);
	if (h->kind == H_FIELD && !h->refused &&
	    (rc == EFBIG || (!rc && completes_value(b, (size_t)off + size)))) {
		/* Over the limit, or a value completed by this write (it ends in
		 * the newline that echo and editors end a value with) that is not
		 * valid: the write itself fails, so the writer hears of it. */
		struct who w;
		const char *why = N_("the value is larger than 1 MiB");
		who_of_handle(fs, h, &w);
		if (!rc)
			rc = presented_problem(w.cat, h->field, b, &why);
		if (rc)
			rc = refuse_handle(&w, h, rc, why);
	}
	if (!rc) {
		if (h->sn) {
			h->sn->mtime_ns = clock_now_ns();
		} else {
			h->dirty = true;
			h->bytes_written += (int64_t)size;
			if (h->registered)
				inflight_set_size(fs->inflight, h->field_id, h->uid, b->len);
		}
	}
	pthread_mutex_unlock(lock);
	return rc;
}

int handle_truncate(struct fs *fs, struct handle *h, off_t size)
{
	if (h->kind == H_EXPLAIN)
		return 0; /* O_TRUNC of the question file */
	if (!h->writable || (h->kind != H_FIELD && h->kind != H_SCRATCH))
		return EBADF;
	if (h->refused)
		return h->refused;
	int rc = still_allowed(fs, h, RIGHT_WRITE);
	if (rc)
		return rc;
	pthread_mutex_t *lock = buf_lock(h);
	struct secbuf *b = buf_of(h);
	pthread_mutex_lock(lock);
	if ((rc = charge(fs, h, (size_t)size, b->len))) {
		pthread_mutex_unlock(lock);
		return rc;
	}
	rc = secbuf_truncate(b, (size_t)size);
	if (!rc && h->sn && size == 0)
		h->sn->rights_epoch = people_rights_epoch(fs->people, h->sn->owner);
	if (!rc && !h->sn) {
		h->dirty = true;
		inflight_set_size(fs->inflight, h->field_id, h->uid, b->len);
	}
	pthread_mutex_unlock(lock);
	return rc;
}
