#include "people.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "assert_held.h"
#include "fs.h"
#include "log.h"

#define STRIPES 64

struct person {
	uid_t uid;
	struct person *next; /* in its stripe */
	struct handle *handles; /* open files, linked through handle.pnext */
	int64_t used[LIMIT_COUNT]; /* by the per-person limits' index */
	/* ctl-per-minute: a token bucket, full at the limit, refilled evenly */
	double tokens;
	int64_t tokens_ns;
	uint64_t rights_epoch; /* one more at each change of their rights */
};

struct stripe {
	pthread_mutex_t lock;
	struct person *head;
};

struct people {
	struct stripe s[STRIPES];
	atomic_int_fast64_t open_files, scratch_files, memory; /* everyone's */
	atomic_uint_fast64_t all_epoch; /* one more at each change of everyone's */
	struct fuse_session *se;
	void (*on_invalidate)(void *ctx, uid_t uid);
	void *on_invalidate_ctx;
};

struct people *people_new(void)
{
	struct people *p = calloc(1, sizeof *p);
	if (p)
		for (int i = 0; i < STRIPES; i++)
			pthread_mutex_init(&p->s[i].lock, NULL);
	return p;
}

void people_free(struct people *p)
{
	if (!p)
		return;
	for (int i = 0; i < STRIPES; i++) {
		while (p->s[i].head) {
			struct person *x = p->s[i].head;
			p->s[i].head = x->next;
			free(x);
		}
		pthread_mutex_destroy(&p->s[i].lock);
	}
	free(p);
}

void people_set_session(struct people *p, struct fuse_session *se)
{
	p->se = se;
}

static struct stripe *stripe_of(struct people *p, uid_t uid)
{
	return &p->s[(uid * 2654435761u) % STRIPES];
}

/* UID's entry, made if missing (stripe lock held). NULL on ENOMEM. */
static struct person *find_locked(struct stripe *s, uid_t uid, bool make)
{
	ASSERT_HELD(&s->lock);
	for (struct person *x = s->head; x; x = x->next)
		if (x->uid == uid)
			return x;
	if (!make)
		return NULL;
	struct person *x = calloc(1, sizeof *x);
	if (x) {
		x->uid = uid;
		x->next = s->head;
		s->head = x;
	}
	return x;
}

/* Adds N to an everyone's counter unless that passes LIMIT. */
static bool take_total(atomic_int_fast64_t *c, int64_t n, int64_t limit)
{
	int64_t now = atomic_fetch_add(c, n);
	if (n > 0 && now + n > limit) {
		atomic_fetch_sub(c, n);
		return false;
	}
	return true;
}

int people_attach(struct people *p, const int64_t *limits, uid_t uid, struct handle *h,
		  bool writer, bool ctl, bool note, size_t memory, enum limit *which)
{
	struct stripe *s = stripe_of(p, uid);
	int rc = 0;
	pthread_mutex_lock(&s->lock);
	struct person *x = find_locked(s, uid, true);
	if (!x)
		rc = ENOMEM;
	else if (x->used[LIMIT_OPEN_FILES] + 1 >
		 limits[LIMIT_OPEN_FILES] + (note ? PEOPLE_NOTES_BEYOND : 0))
		*which = LIMIT_OPEN_FILES, rc = EDQUOT;
	else if (writer && x->used[LIMIT_WRITERS] + 1 > limits[LIMIT_WRITERS])
		*which = LIMIT_WRITERS, rc = EDQUOT;
	else if (ctl && x->used[LIMIT_CTL_REQUESTS] + 1 > limits[LIMIT_CTL_REQUESTS])
		*which = LIMIT_CTL_REQUESTS, rc = EDQUOT;
	else if (x->used[LIMIT_MEMORY] + (int64_t)memory > limits[LIMIT_MEMORY])
		*which = LIMIT_MEMORY, rc = EDQUOT;
	else if (!take_total(&p->open_files, 1, limits[LIMIT_TOTAL_OPEN_FILES]))
		*which = LIMIT_TOTAL_OPEN_FILES, rc = EDQUOT;
	else if (!take_total(&p->memory, (int64_t)memory, limits[LIMIT_TOTAL_MEMORY])) {
		atomic_fetch_sub(&p->open_files, 1);
		*which = LIMIT_TOTAL_MEMORY, rc = EDQUOT;
	}
	if (!rc) {
		x->used[LIMIT_OPEN_FILES]++;
		x->used[LIMIT_WRITERS] += writer;
		x->used[LIMIT_CTL_REQUESTS] += ctl;
		x->used[LIMIT_MEMORY] += (int64_t)memory;
		h->pnext = x->handles;
		h->pprev = NULL;
		if (x->handles)
			x->handles->pprev = h;
		x->handles = h;
		h->charged = memory;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void people_detach(struct people *p, uid_t uid, struct handle *h, bool writer, bool ctl)
{
	struct stripe *s = stripe_of(p, uid);
	pthread_mutex_lock(&s->lock);
	struct person *x = find_locked(s, uid, false);
	if (x) {
		x->used[LIMIT_OPEN_FILES]--;
		x->used[LIMIT_WRITERS] -= writer;
		x->used[LIMIT_CTL_REQUESTS] -= ctl;
		x->used[LIMIT_MEMORY] -= (int64_t)h->charged;
		if (h->pprev)
			h->pprev->pnext = h->pnext;
		else
			x->handles = h->pnext;
		if (h->pnext)
			h->pnext->pprev = h->pprev;
	}
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_sub(&p->open_files, 1);
	atomic_fetch_sub(&p->memory, (int64_t)h->charged);
	h->charged = 0;
	h->pnext = h->pprev = NULL;
}

int people_charge(struct people *p, const int64_t *limits, uid_t uid, int64_t delta,
		  bool scratch, enum limit *which)
{
	struct stripe *s = stripe_of(p, uid);
	enum limit own = scratch ? LIMIT_SCRATCH_BYTES : LIMIT_MEMORY;
	int rc = 0;
	pthread_mutex_lock(&s->lock);
	struct person *x = find_locked(s, uid, true);
	if (!x)
		rc = ENOMEM;
	else if (delta > 0 && x->used[own] + delta > limits[own])
		*which = own, rc = EDQUOT;
	else if (!take_total(&p->memory, delta, limits[LIMIT_TOTAL_MEMORY]))
		*which = LIMIT_TOTAL_MEMORY, rc = EDQUOT;
	else
		x->used[own] += delta;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int people_command(struct people *p, const int64_t *limits, uid_t uid, int64_t now_ns)
{
	struct stripe *s = stripe_of(p, uid);
	int rc = 0;
	double cap = (double)limits[LIMIT_CTL_PER_MINUTE];
	pthread_mutex_lock(&s->lock);
	struct person *x = find_locked(s, uid, true);
	if (!x) {
		rc = ENOMEM;
	} else {
		if (x->tokens_ns == 0)
			x->tokens = cap;
		else
			x->tokens += cap * (double)(now_ns - x->tokens_ns) / 60e9;
		if (x->tokens > cap)
			x->tokens = cap;
		x->tokens_ns = now_ns;
		if (x->tokens >= 1.0)
			x->tokens -= 1.0;
		else
			rc = EDQUOT;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int people_scratch(struct people *p, const int64_t *limits, uid_t uid, int delta,
		   enum limit *which)
{
	struct stripe *s = stripe_of(p, uid);
	int rc = 0;
	pthread_mutex_lock(&s->lock);
	struct person *x = find_locked(s, uid, true);
	if (!x)
		rc = ENOMEM;
	else if (delta > 0 && x->used[LIMIT_SCRATCH_FILES] + delta > limits[LIMIT_SCRATCH_FILES])
		*which = LIMIT_SCRATCH_FILES, rc = EDQUOT;
	else if (!take_total(&p->scratch_files, delta, limits[LIMIT_TOTAL_SCRATCH_FILES]))
		*which = LIMIT_TOTAL_SCRATCH_FILES, rc = EDQUOT;
	else
		x->used[LIMIT_SCRATCH_FILES] += delta;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* The inodes of UID's open files, copied out so the kernel is not called
 * with a lock held. *N of them, in a new array. */
static fuse_ino_t *inodes_of(struct people *p, uid_t uid, size_t *n)
{
	struct stripe *s = stripe_of(p, uid);
	fuse_ino_t *v = NULL;
	size_t cap = 0;
	*n = 0;
	pthread_mutex_lock(&s->lock);
	struct person *x = find_locked(s, uid, false);
	for (struct handle *h = x ? x->handles : NULL; h; h = h->pnext) {
		if (!h->ino)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			fuse_ino_t *g = realloc(v, cap * sizeof *g);
			if (!g)
				break;
			v = g;
		}
		v[(*n)++] = h->ino;
	}
	pthread_mutex_unlock(&s->lock);
	return v;
}

uint64_t people_rights_epoch(struct people *p, uid_t uid)
{
	struct stripe *s = stripe_of(p, uid);
	uint64_t e = atomic_load(&p->all_epoch);
	pthread_mutex_lock(&s->lock);
	struct person *x = find_locked(s, uid, false);
	if (x)
		e += x->rights_epoch;
	pthread_mutex_unlock(&s->lock);
	return e;
}

static void invalidate(struct people *p, uid_t uid, bool tell)
{
	struct stripe *s = stripe_of(p, uid);
	pthread_mutex_lock(&s->lock);
	struct person *x = find_locked(s, uid, false);
	if (x)
		x->rights_epoch++;
	pthread_mutex_unlock(&s->lock);
	size_t n = 0;
	fuse_ino_t *v = inodes_of(p, uid, &n);
	for (size_t i = 0; p->se && i < n; i++) {
		int rc = fuse_lowlevel_notify_inval_inode(p->se, v[i], 0, 0);
		if (rc && rc != -ENOENT)
			log_warn("cannot drop the kernel's pages of an open file of uid %u: %s",
				 (unsigned)uid, strerror(-rc));
	}
	free(v);
	if (tell && p->on_invalidate)
		p->on_invalidate(p->on_invalidate_ctx, uid);
}

void people_invalidate(struct people *p, uid_t uid)
{
	invalidate(p, uid, true);
}

void people_on_invalidate(struct people *p, void (*fn)(void *ctx, uid_t uid), void *ctx)
{
	p->on_invalidate = fn;
	p->on_invalidate_ctx = ctx;
}

void people_invalidate_all(struct people *p)
{
	atomic_fetch_add(&p->all_epoch, 1);
	for (int i = 0; i < STRIPES; i++) {
		/* The uids of the stripe, then each person's files. */
		uid_t uids[256];
		size_t n = 0;
		bool more = true;
		struct person *from = NULL;
		while (more) {
			more = false;
			n = 0;
			pthread_mutex_lock(&p->s[i].lock);
			struct person *x = from ? from->next : p->s[i].head;
			for (; x && n < 256; x = x->next) {
				uids[n++] = x->uid;
				from = x;
			}
			more = x != NULL;
			pthread_mutex_unlock(&p->s[i].lock);
			for (size_t k = 0; k < n; k++)
				invalidate(p, uids[k], false);
		}
	}
	if (p->on_invalidate)
		p->on_invalidate(p->on_invalidate_ctx, (uid_t)-1);
}

void people_usage(struct people *p, uid_t uid, int64_t out[LIMIT_COUNT])
{
	struct stripe *s = stripe_of(p, uid);
	memset(out, 0, LIMIT_COUNT * sizeof *out);
	pthread_mutex_lock(&s->lock);
	struct person *x = find_locked(s, uid, false);
	if (x)
		memcpy(out, x->used, sizeof x->used);
	pthread_mutex_unlock(&s->lock);
	out[LIMIT_TOTAL_OPEN_FILES] = atomic_load(&p->open_files);
	out[LIMIT_TOTAL_SCRATCH_FILES] = atomic_load(&p->scratch_files);
	out[LIMIT_TOTAL_MEMORY] = atomic_load(&p->memory);
}
