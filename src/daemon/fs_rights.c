/* Revocation that reaches every read path: when what someone may do changes
 * (a grant revoked, a checkout returned or run out, a departure, a job or
 * staff-type change, a policy reload), the kernel's pages of every file they
 * hold open are dropped, so their next mmap access, sendfile or splice asks
 * custfs again and is refused.
 *
 * What may change is found by comparing each employee's "rights fingerprint"
 * (their record, grants and checkouts, as they count at this moment) with the
 * last one seen: only the people whose fingerprint moved are touched. */
#include "fs.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

struct rights_fp {
	uid_t uid;
	unsigned char fp[16];
};

static void put(crypto_generichash_state *h, const void *p, size_t n)
{
	crypto_generichash_update(h, p, n);
}

static void put_str(crypto_generichash_state *h, const char *s)
{
	put(h, s, strlen(s) + 1);
}

static void put_i64(crypto_generichash_state *h, int64_t v)
{
	put(h, &v, sizeof v);
}

/* E's rights as they count at NOW / TODAY. *NEXT_NS becomes the earliest
 * moment after NOW at which they change by themselves (a checkout's end). */
static void fingerprint(const struct employee *e, int64_t now, const char *today,
			unsigned char out[16], int64_t *next_ns)
{
	crypto_generichash_state h;
	crypto_generichash_init(&h, NULL, 0, 16);
	put_i64(&h, e->id);
	put_str(&h, e->login);
	put_str(&h, e->department);
	put_str(&h, e->post);
	put_str(&h, e->staff_type);
	put_str(&h, e->group_role);
	put_i64(&h, e->is_head | e->departed << 1 | e->identity_changed << 2 |
			    (e->end_date[0] && strcmp(e->end_date, today) < 0) << 3);
	for (size_t i = 0; i < e->ngrants; i++) {
		const struct grant *g = &e->grants[i];
		put_i64(&h, g->id);
		put_str(&h, g->role);
		put_i64(&h, g->status | g->scoped << 4 |
				    (g->end_date[0] && strcmp(g->end_date, today) < 0) << 5);
		for (size_t k = 0; k < g->ncustomers; k++)
			put_i64(&h, g->customers[k]);
	}
	for (size_t i = 0; i < e->ncheckouts; i++) {
		const struct checkout *c = &e->checkouts[i];
		bool open = c->status == CO_OPEN && now < c->expires_ns;
		put_i64(&h, c->id);
		put_i64(&h, c->status | open << 4);
		if (open && c->expires_ns < *next_ns)
			*next_ns = c->expires_ns;
	}
	crypto_generichash_final(&h, out, 16);
}

static int by_uid(const void *a, const void *b)
{
	const struct rights_fp *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

int64_t fs_rights_check(struct fs *fs, bool told)
{
	int64_t now = clock_now_ns(), next = INT64_MAX;
	char today[DATE_LEN];
	struct staff *s = NULL;
	clock_today(today);
	/* Told of a change: every thread's snapshot is stale from here on. */
	if (told)
		atomic_fetch_add(&fs->acl_epoch, 1);
	int err = staff_load(fs->v->db, &s);
	if (err) {
		/* Unknown: treat everyone as changed (their next request decides). */
		log_err("cannot read the staff register (%s): dropping every cached page", strerror(err));
		people_invalidate_all(fs->people);
		return now + 1000000000;
	}
	struct rights_fp *fresh = calloc(s->n ? s->n : 1, sizeof *fresh);
	if (!fresh) {
		staff_free(s);
		people_invalidate_all(fs->people);
		return now + 1000000000;
	}
	for (size_t i = 0; i < s->n; i++) {
		fresh[i].uid = s->emps[i].uid;
		fingerprint(&s->emps[i], now, today, fresh[i].fp, &next);
	}
	size_t n = s->n;
	staff_free(s);
	qsort(fresh, n, sizeof *fresh, by_uid);

	pthread_mutex_lock(&fs->rights_lock);
	const struct rights_fp *old = fs->rights;
	size_t i = 0, j = 0, nold = fs->nrights;
	/* A merge of the two sorted lists: added, removed and changed people. */
	bool changed = false;
	while (i < nold || j < n) {
		uid_t who;
		if (j == n || (i < nold && old[i].uid < fresh[j].uid)) {
			who = old[i++].uid;
		} else if (i == nold || fresh[j].uid < old[i].uid) {
			who = fresh[j++].uid;
		} else {
			bool same = memcmp(old[i].fp, fresh[j].fp, sizeof fresh[j].fp) == 0;
			who = fresh[j].uid;
			i++;
			j++;
			if (same)
				continue;
		}
		if (!changed && !told)
			atomic_fetch_add(&fs->acl_epoch, 1); /* a change by the clock alone */
		changed = true;
		people_invalidate(fs->people, who);
	}
	free(fs->rights);
	fs->rights = fresh;
	fs->nrights = n;
	pthread_mutex_unlock(&fs->rights_lock);
	return next;
}

void fs_customers_gone(struct fs *fs)
{
	/* Every thread forgets its cached customers; every open file's pages go
	 * (an erased customer's open files then refuse their next read). */
	vault_customers_changed(fs->v);
	atomic_fetch_add(&fs->acl_epoch, 1);
	people_invalidate_all(fs->people);
}
