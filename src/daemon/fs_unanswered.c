/* What a daemon that died left unanswered on the record (R5.1).
 *
 * A new version is claimed on the record ("version N", allowed) before the
 * store takes it, and a claim the store did not take gets its answer (a
 * "version N" denial) after. A daemon killed between the two leaves a claim
 * that looks stored but is not, and the next writer claims N again. One
 * daemon serves a store and view at a time, so its successor, before it
 * serves anything, answers each claim of its view since the last start that
 * has no answer and that the store does not hold as that person's version N.
 *
 * A claim is held stored when the store's version N was written by the
 * claimer's uid no earlier than the claim. (The same person storing N through
 * another mount between the crash and this start would pass for it.) */
#include "fs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "log.h"
#include "store.h"

/* Claims the store does not hold, waiting for their answer further on: a
 * claim that lost the race is answered within a moment, so few wait at once.
 * Past the bound a claim is left as it is (never answered wrongly). */
enum { PENDING_MAX = 1024 };

struct unanswered {
	struct fs *fs;
	struct audit_record **pending;
	size_t n;
	bool overflowed;
};

static bool same_claim(const struct audit_event *a, const struct audit_event *b)
{
	return a->customer_id == b->customer_id && a->uid == b->uid &&
	       strcmp(a->field, b->field) == 0 && strcmp(a->detail, b->detail) == 0;
}

static bool stored_as_claimed(struct fs *fs, const struct audit_event *claim)
{
	long long version;
	char end;
	if (sscanf(claim->detail, "version %lld%c", &version, &end) != 1 || version <= 0)
		return true; /* not a claim this daemon writes: leave it be */
	struct field_row row;
	struct version_row got;
	if (store_field_by_name(fs->v->db, claim->customer_id, claim->field, &row) != 0 ||
	    store_version_get(fs->v->db, row.id, version, &got) != 0)
		return false;
	return got.uid == (int64_t)claim->uid && got.time_ns >= claim->time_ns;
}

static int take_record(void *ctx, const struct audit_record *r)
{
	struct unanswered *u = ctx;
	if (!r->ev.allow) { /* an answer: to the oldest claim it fits */
		for (size_t i = 0; i < u->n; i++)
			if (same_claim(&u->pending[i]->ev, &r->ev)) {
				free(u->pending[i]);
				memmove(&u->pending[i], &u->pending[i + 1],
					(u->n - i - 1) * sizeof *u->pending);
				u->n--;
				break;
			}
		return 0;
	}
	if (stored_as_claimed(u->fs, &r->ev))
		return 0;
	struct audit_record *copy = u->n < PENDING_MAX ? malloc(sizeof *copy) : NULL;
	if (!copy) {
		u->overflowed = true;
		return 0;
	}
	*copy = *r;
	audit_record_copy(copy, &r->ev); /* its strings into its own storage */
	u->pending[u->n++] = copy;
	return 0;
}

static int answer(struct fs *fs, const struct audit_record *claim)
{
	struct audit_event ev = claim->ev;
	ev.time_ns = 0; /* now */
	ev.allow = false;
	ev.rule = "not-stored";
	ev.reason = "custfs stopped before it was stored (answered when the view was "
		    "mounted again)";
	ev.bytes_read = ev.bytes_written = 0;
	return audit_append(fs->v->audit, &ev, false);
}

int fs_answer_unanswered(struct fs *fs, int *answered)
{
	*answered = 0;
	struct unanswered u = { .fs = fs, .pending = calloc(PENDING_MAX, sizeof *u.pending) };
	if (!u.pending)
		return ENOMEM;
	int rc = audit_since_unclean_mount(fs->v->audit, fs->view ? fs->view : "", "version",
					   take_record, &u);
	for (size_t i = 0; i < u.n; i++) {
		if (!rc && (rc = answer(fs, u.pending[i])) == 0) {
			(*answered)++;
			log_warn("audit: %s of customer #%" PRId64 "/%s (uid %u) was claimed "
				 "but not stored when the last daemon of this view stopped: "
				 "answered as not stored", u.pending[i]->ev.detail,
				 u.pending[i]->ev.customer_id, u.pending[i]->ev.field,
				 (unsigned)u.pending[i]->ev.uid);
		}
		free(u.pending[i]);
	}
	free(u.pending);
	if (u.overflowed)
		log_err("audit: more than %d claimed versions wait for an answer; the rest "
			"are left as they are", PENDING_MAX);
	return rc;
}
