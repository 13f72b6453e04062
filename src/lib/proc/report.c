/* The audit report, computed (report.h): one pass over the period's records,
 * then the per-person checks over each person's accesses in time order.
 *
 * Every tally is hashed (a month of records is one pass whatever the number
 * of people, departments or days); the accesses are kept as 48-byte hits,
 * grouped by person with a counting sort (the log is already in time
 * order), and a ten-minute window slides over each person's (the customers
 * in it counted in a hash). The spot-check sample is drawn while reading
 * (report_sample.c). */
#include "report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "staff.h"
#include "vault.h"

/* qsort of N items (none: no call, as an empty array may be NULL). */
static void sort_items(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

#define NS 1000000000LL
#define WINDOW_NS (10LL * 60 * NS) /* "within ten minutes" */

/* ---- the report's strings: an arena freed at once ---- */

struct report_arena {
	struct report_arena *next;
	size_t used, cap;
	char data[];
};

static const char *arena_dup(struct report *r, const char *s)
{
	size_t n = strlen(s) + 1;
	struct report_arena *a = r->arena;
	if (!a || a->cap - a->used < n) {
		size_t cap = n > 65536 ? n : 65536;
		a = malloc(sizeof *a + cap);
		if (!a)
			return NULL;
		a->next = r->arena;
		a->used = 0;
		a->cap = cap;
		r->arena = a;
	}
	char *p = a->data + a->used;
	memcpy(p, s, n);
	a->used += n;
	return p;
}

/* ---- hashed keys ---- */

static uint64_t hash_str(const char *k)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ULL;
	return h;
}

static uint64_t hash_int(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

/* Keys (strings in the arena, or integers) to dense indexes 0, 1, ... in
 * order of first appearance. */
struct keymap {
	const char **str; /* the string keys, by index (string maps) */
	uint64_t *num;    /* the integer keys, by index (integer maps) */
	size_t n, cap;
	uint32_t *slot;   /* index + 1; 0: empty */
	size_t nslots;
};

static int keymap_grow(struct keymap *m, bool strings)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64;
		void *g = strings ? realloc(m->str, cap * sizeof *m->str)
				  : realloc(m->num, cap * sizeof *m->num);
		if (!g)
			return ENOMEM;
		if (strings)
			m->str = g;
		else
			m->num = g;
		m->cap = cap;
	}
	if (2 * (m->n + 1) > m->nslots) {
		size_t nslots = m->nslots ? 2 * m->nslots : 128;
		uint32_t *slot = calloc(nslots, sizeof *slot);
		if (!slot)
			return ENOMEM;
		for (size_t i = 0; i < m->n; i++) {
			uint64_t h = strings ? hash_str(m->str[i]) : hash_int(m->num[i]);
			size_t k = h & (nslots - 1);
			while (slot[k])
				k = (k + 1) & (nslots - 1);
			slot[k] = (uint32_t)i + 1;
		}
		free(m->slot);
		m->slot = slot;
		m->nslots = nslots;
	}
	return 0;
}

/* KEY's index, added if new (*ADDED); -1 if out of memory. */
static long keymap_str(struct report *r, struct keymap *m, const char *key, bool *added)
{
	*added = false;
	if (keymap_grow(m, true))
		return -1;
	size_t k = hash_str(key) & (m->nslots - 1);
	for (; m->slot[k]; k = (k + 1) & (m->nslots - 1))
		if (!strcmp(m->str[m->slot[k] - 1], key))
			return m->slot[k] - 1;
	const char *copy = arena_dup(r, key);
	if (!copy)
		return -1;
	m->str[m->n] = copy;
	m->slot[k] = (uint32_t)++m->n;
	*added = true;
	return (long)m->n - 1;
}

static long keymap_num(struct keymap *m, uint64_t key, bool *added)
{
	*added = false;
	if (keymap_grow(m, false))
		return -1;
	size_t k = hash_int(key) & (m->nslots - 1);
	for (; m->slot[k]; k = (k + 1) & (m->nslots - 1))
		if (m->num[m->slot[k] - 1] == key)
			return m->slot[k] - 1;
	m->num[m->n] = key;
	m->slot[k] = (uint32_t)++m->n;
	*added = true;
	return (long)m->n - 1;
}

/* KEY's index, or -1 if it is not in M. */
static long keymap_find_num(const struct keymap *m, uint64_t key)
{
	if (!m->nslots)
		return -1;
	size_t k = hash_int(key) & (m->nslots - 1);
	for (; m->slot[k]; k = (k + 1) & (m->nslots - 1))
		if (m->num[m->slot[k] - 1] == key)
			return m->slot[k] - 1;
	return -1;
}

static void keymap_free(struct keymap *m)
{
	free(m->str);
	free(m->num);
	free(m->slot);
}

/* Grows *V (of *CAP elements of SIZE) to hold N. */
static int reserve(void *v, size_t *cap, size_t n, size_t size)
{
	if (n <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < n)
		ncap *= 2;
	void *g = realloc(*(void **)v, ncap * size);
	if (!g)
		return ENOMEM;
	*(void **)v = g;
	*cap = ncap;
	return 0;
}

/* ---- the pass ---- */

/* One access, for the per-person checks. */
struct hit {
	int64_t t, customer, seq;
	uint32_t person;
	uint32_t weight; /* accesses it stands for (repeated denials are counted) */
	bool deny, night;
};

struct builder {
	struct report *r;
	struct vault *v;
	int err;
	struct keymap depts, people, classes, rules, cells, checkouts, customers, dayids;
	struct report_count *dept_c, *class_c, *rule_c, *cell_c;
	size_t dept_cap, class_cap, rule_cap, cell_cap;
	struct report_person *people_v;
	size_t people_cap;
	long *co_accesses;
	size_t co_cap;
	const char **cust_names;
	size_t cust_cap;
	struct report_day *days; /* in order of first appearance */
	size_t ndays, days_cap;
	long cur_day;
	struct hit *hits;
	size_t nhits, hits_cap;
	size_t changes_cap, glass_cap;
	struct report_reservoir sample;
};

static const char *customer_of(struct builder *b, int64_t id)
{
	if (!id)
		return "";
	bool added;
	if (reserve(&b->cust_names, &b->cust_cap, b->customers.n + 1, sizeof *b->cust_names))
		return "";
	long i = keymap_num(&b->customers, (uint64_t)id, &added);
	if (i < 0)
		return "";
	if (added) {
		struct customer c;
		char hash[32];
		snprintf(hash, sizeof hash, "#%lld", (long long)id);
		const char *name = arena_dup(b->r, vault_customer_get(b->v, id, &c) == 0 ? c.name
											  : hash);
		b->cust_names[i] = name ? name : "";
	}
	return b->cust_names[i];
}

static long day_of(struct builder *b, int64_t t)
{
	if (b->cur_day >= 0 && t >= b->days[b->cur_day].start_ns && t < b->days[b->cur_day].end_ns)
		return b->cur_day;
	time_t s = (time_t)(t / NS);
	struct tm tm;
	localtime_r(&s, &tm);
	int64_t key = (int64_t)(tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
	bool added;
	long i = keymap_num(&b->dayids, (uint64_t)key, &added);
	if (i < 0)
		return -1;
	if (added) {
		if (reserve(&b->days, &b->days_cap, (size_t)i + 1, sizeof *b->days))
			return -1;
		struct report_day *d = &b->days[i];
		memset(d, 0, sizeof *d);
		strftime(d->date, sizeof d->date, "%Y-%m-%d", &tm);
		struct tm m = tm;
		m.tm_hour = m.tm_min = m.tm_sec = 0;
		m.tm_isdst = -1;
		d->start_ns = (int64_t)mktime(&m) * NS;
		m = tm;
		m.tm_mday++;
		m.tm_hour = m.tm_min = m.tm_sec = 0;
		m.tm_isdst = -1;
		d->end_ns = (int64_t)mktime(&m) * NS;
		b->ndays = (size_t)i + 1;
	}
	b->cur_day = i;
	return i;
}

static bool at_night(const struct report *r, const struct report_day *d, int64_t t)
{
	int m;
	if (d->end_ns - d->start_ns == 86400 * NS) {
		m = (int)((t - d->start_ns) / (60 * NS));
	} else { /* a day with a clock change */
		time_t s = (time_t)(t / NS);
		struct tm tm;
		localtime_r(&s, &tm);
		m = tm.tm_hour * 60 + tm.tm_min;
	}
	int from = r->opts.night_from, to = r->opts.night_to;
	return from <= to ? m >= from && m < to : m >= from || m < to; /* across midnight */
}

static int keep_record(struct builder *b, struct report_record *dst, const struct audit_record *rec)
{
	const struct audit_event *v = &rec->ev;
	struct report *r = b->r;
	dst->seq = rec->seq;
	dst->time_ns = v->time_ns;
	dst->uid = (unsigned)v->uid;
	dst->allow = v->allow;
	dst->login = arena_dup(r, v->login);
	dst->department = arena_dup(r, v->department);
	dst->action = arena_dup(r, v->action);
	dst->customer = arena_dup(r, customer_of(b, v->customer_id));
	dst->field = arena_dup(r, v->field);
	dst->cls = arena_dup(r, v->cls);
	dst->rule = arena_dup(r, v->rule);
	dst->detail = arena_dup(r, v->detail);
	return dst->login && dst->department && dst->action && dst->customer && dst->field &&
			       dst->cls && dst->rule && dst->detail
		       ? 0
		       : ENOMEM;
}

/* Appends REC to the list *V (*N kept of *TOTAL, at most REPORT_LIST_MAX). */
static int list_record(struct builder *b, struct report_record **v, size_t *n, size_t *cap,
		       long *total, const struct audit_record *rec)
{
	(*total)++;
	if (*n >= REPORT_LIST_MAX)
		return 0;
	if (reserve(v, cap, *n + 1, sizeof **v))
		return ENOMEM;
	int err = keep_record(b, &(*v)[*n], rec);
	if (!err)
		(*n)++;
	return err;
}

static int offer_sample(struct builder *b, const struct audit_record *rec)
{
	long slot = report_reservoir_offer(&b->sample);
	if (slot < 0)
		return 0;
	int err = keep_record(b, &b->r->sample[slot], rec);
	if (!err && (size_t)slot >= b->r->nsample)
		b->r->nsample = (size_t)slot + 1;
	return err;
}

static struct report_count *count_at(struct report_count **v, size_t *cap, long i)
{
	if (i < 0 || reserve(v, cap, (size_t)i + 1, sizeof **v))
		return NULL;
	return &(*v)[i];
}

static void add(struct report_count *c, bool added, bool deny, unsigned w)
{
	if (added)
		c->accesses = c->denied = 0;
	c->accesses += w;
	c->denied += deny ? w : 0;
}

static int tally(void *p, const struct audit_record *rec)
{
	struct builder *b = p;
	struct report *r = b->r;
	const struct audit_event *v = &rec->ev;
	bool added;
	if (!r->records++) {
		r->first_seq = rec->seq;
		r->first_ns = v->time_ns;
	}
	r->last_seq = rec->seq;
	r->last_ns = v->time_ns;

	if (!strcmp(v->action, "command")) {
		r->commands++;
		if (!strncmp(v->detail, "break-glass", 11))
			b->err = list_record(b, &r->glass, &r->nglass, &b->glass_cap, &r->glass_total,
					     rec);
		return b->err;
	}
	if (!strcmp(v->action, "command-done"))
		return 0;
	/* Root's reads of sensitive records without a checkout (R3.5): in the
	 * mount, by history --show, by export; root's policy reloads. */
	if (v->allow && !strcmp(v->rule, "break-glass") &&
	    (b->err = list_record(b, &r->glass, &r->nglass, &b->glass_cap, &r->glass_total, rec)))
		return b->err;
	/* The policy's changes (R2.1): proposals, approvals, installs, reloads. */
	if (!strncmp(v->action, "policy-", 7))
		return b->err = list_record(b, &r->changes, &r->nchanges, &b->changes_cap,
					    &r->changes_total, rec);
	if (!report_data_access(v->action))
		return 0;

	unsigned w = audit_record_weight(v);
	bool deny = !v->allow;
	add(&r->total, false, deny, w);
	r->through_checkouts += v->checkout_id != 0;

	long dept = keymap_str(r, &b->depts, v->department, &added);
	struct report_count *c = count_at(&b->dept_c, &b->dept_cap, dept);
	if (!c)
		return b->err = ENOMEM;
	add(c, added, deny, w);

	char uidkey[24];
	const char *pkey = v->login;
	if (!pkey[0]) { /* no login: one person per uid (root, strangers) */
		snprintf(uidkey, sizeof uidkey, "\x01%u", (unsigned)v->uid);
		pkey = uidkey;
	}
	long person = keymap_str(r, &b->people, pkey, &added);
	if (person < 0 ||
	    reserve(&b->people_v, &b->people_cap, (size_t)person + 1, sizeof *b->people_v))
		return b->err = ENOMEM;
	struct report_person *pp = &b->people_v[person];
	if (added) {
		memset(pp, 0, sizeof *pp);
		pp->login = v->login[0] ? b->people.str[person] : "";
		pp->uid = (unsigned)v->uid;
	}
	pp->department = b->depts.str[dept]; /* as of their last access */
	add(&pp->c, false, deny, w);

	long cls = keymap_str(r, &b->classes, v->cls, &added);
	if (!(c = count_at(&b->class_c, &b->class_cap, cls)))
		return b->err = ENOMEM;
	add(c, added, deny, w);

	if (deny) {
		long rule = keymap_str(r, &b->rules, v->rule, &added);
		if (!(c = count_at(&b->rule_c, &b->rule_cap, rule)))
			return b->err = ENOMEM;
		add(c, added, deny, w);
	}

	long day = day_of(b, v->time_ns);
	if (day < 0)
		return b->err = ENOMEM;
	add(&b->days[day].c, false, deny, w);
	long cell = keymap_num(&b->cells, ((uint64_t)day << 32) | (uint64_t)dept, &added);
	if (!(c = count_at(&b->cell_c, &b->cell_cap, cell)))
		return b->err = ENOMEM;
	add(c, added, deny, w);

	if (v->checkout_id) {
		long co = keymap_num(&b->checkouts, (uint64_t)v->checkout_id, &added);
		if (co < 0 || reserve(&b->co_accesses, &b->co_cap, (size_t)co + 1,
				      sizeof *b->co_accesses))
			return b->err = ENOMEM;
		if (added)
			b->co_accesses[co] = 0;
		b->co_accesses[co] += w;
	}

	if (reserve(&b->hits, &b->hits_cap, b->nhits + 1, sizeof *b->hits))
		return b->err = ENOMEM;
	struct hit *h = &b->hits[b->nhits++];
	h->t = v->time_ns;
	h->customer = v->customer_id;
	h->seq = rec->seq;
	h->person = (uint32_t)person;
	h->weight = w;
	h->deny = deny;
	h->night = at_night(r, &b->days[day], v->time_ns);

	return b->err = offer_sample(b, rec);
}

/* ---- after the pass ---- */

static int by_time(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Customers in the sliding window, with how many of its accesses are theirs. */
struct seen {
	int64_t customer;
	unsigned n;
	bool used; /* a slot once taken stays that customer's */
};

static unsigned seen_add(struct seen *seen, size_t nslots, int64_t customer, int delta)
{
	size_t k = hash_int((uint64_t)customer) & (nslots - 1);
	while (seen[k].used && seen[k].customer != customer)
		k = (k + 1) & (nslots - 1);
	seen[k].used = true;
	seen[k].customer = customer;
	seen[k].n = (unsigned)((int)seen[k].n + delta);
	return seen[k].n;
}

static struct report_anomaly *new_anomaly(struct report *r, size_t *cap,
					  enum report_anomaly_kind kind, size_t person, long count)
{
	if (reserve(&r->anomalies, cap, r->nanomalies + 1, sizeof *r->anomalies))
		return NULL;
	struct report_anomaly *a = &r->anomalies[r->nanomalies++];
	memset(a, 0, sizeof *a);
	a->kind = kind;
	a->person = person;
	a->count = count;
	return a;
}

static void name_seq(struct report_anomaly *a, const struct hit *h)
{
	if (!a->records++)
		a->from_ns = h->t;
	a->to_ns = h->t;
	if (a->nseqs < REPORT_SEQS_MAX)
		a->seqs[a->nseqs++] = h->seq;
}

/* Per person: many customers in ten minutes, night access, repeated denials;
 * one pass over each person's accesses in time order. */
static int check_people(struct builder *b)
{
	struct report *r = b->r;
	size_t np = b->people.n, n = b->nhits, cap = 0;
	size_t *start = calloc(np + 1, sizeof *start);
	struct hit *by = malloc((n ? n : 1) * sizeof *by);
	struct seen *seen = NULL;
	size_t seen_cap = 0;
	int err = 0;
	if (!start || !by) {
		free(start);
		free(by);
		return ENOMEM;
	}
	/* Counting sort by person: stable, so each person's stay in log order. */
	for (size_t i = 0; i < n; i++)
		start[b->hits[i].person + 1]++;
	for (size_t p = 0; p < np; p++)
		start[p + 1] += start[p];
	for (size_t i = 0; i < n; i++)
		by[start[b->hits[i].person]++] = b->hits[i];
	for (size_t p = np; p > 0; p--)
		start[p] = start[p - 1];
	start[0] = 0;
	free(b->hits);
	b->hits = NULL;

	for (size_t p = 0; p < np && !err; p++) {
		struct hit *h = by + start[p];
		size_t m = start[p + 1] - start[p];
		for (size_t i = 1; i < m; i++)
			if (h[i].t < h[i - 1].t) { /* a clock stepped back: sort this person's */
				sort_items(h, m, sizeof *h, by_time);
				break;
			}
		size_t nslots = 16;
		while (nslots < 2 * m)
			nslots *= 2;
		if (nslots > seen_cap) {
			free(seen);
			seen = malloc(nslots * sizeof *seen);
			seen_cap = seen ? nslots : 0;
			if (!seen) {
				err = ENOMEM;
				break;
			}
		}
		memset(seen, 0, nslots * sizeof *seen);
		long distinct = 0, best_distinct = 0, denials = 0, best_denials = 0, night = 0;
		size_t md_lo = 0, md_hi = 0, dn_lo = 0, dn_hi = 0;
		for (size_t lo = 0, hi = 0; hi < m; hi++) {
			night += h[hi].night;
			if (h[hi].customer && seen_add(seen, nslots, h[hi].customer, 1) == 1)
				distinct++;
			denials += h[hi].deny ? h[hi].weight : 0;
			for (; h[hi].t - h[lo].t >= WINDOW_NS; lo++) {
				if (h[lo].customer && seen_add(seen, nslots, h[lo].customer, -1) == 0)
					distinct--;
				denials -= h[lo].deny ? h[lo].weight : 0;
			}
			if (distinct > best_distinct) {
				best_distinct = distinct;
				md_lo = lo;
				md_hi = hi;
			}
			if (denials > best_denials) {
				best_denials = denials;
				dn_lo = lo;
				dn_hi = hi;
			}
		}
		struct report_anomaly *a;
		if (best_distinct >= r->opts.many) {
			if (!(a = new_anomaly(r, &cap, ANOMALY_MANY_CUSTOMERS, p, best_distinct)))
				err = ENOMEM;
			for (size_t i = md_lo; a && i <= md_hi; i++)
				name_seq(a, &h[i]);
		}
		if (!err && night) {
			if (!(a = new_anomaly(r, &cap, ANOMALY_NIGHT, p, night)))
				err = ENOMEM;
			for (size_t i = 0; a && i < m; i++)
				if (h[i].night)
					name_seq(a, &h[i]);
		}
		if (!err && best_denials >= r->opts.denials) {
			if (!(a = new_anomaly(r, &cap, ANOMALY_DENIALS, p, best_denials)))
				err = ENOMEM;
			for (size_t i = dn_lo; a && i <= dn_hi; i++)
				if (h[i].deny)
					name_seq(a, &h[i]);
		}
	}
	free(seen);
	free(start);
	free(by);
	return err;
}

struct late_ctx {
	struct builder *b;
	const struct staff *s;
	size_t cap;
	int err;
};

static const struct employee *employee_by_id(const struct staff *s, int64_t id)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (s->emps[i].id == id)
			return &s->emps[i];
	return NULL;
}

static int take_checkout(void *p, const struct checkout *c)
{
	struct late_ctx *lc = p;
	struct builder *b = lc->b;
	struct report *r = b->r;
	const struct audit_filter *f = &r->opts.filter;
	int64_t now = r->made_ns;
	int64_t end = c->ended_ns ? c->ended_ns : c->expires_ns ? c->expires_ns : now;
	if (c->status == CO_OPEN || c->status == CO_PENDING)
		end = end > now ? end : now;
	if ((f->to_ns && c->requested_ns >= f->to_ns) || (f->from_ns && end < f->from_ns))
		return 0; /* not in the period */
	const struct employee *x = employee_by_id(lc->s, c->employee_id);
	if ((f->login && (!x || strcmp(f->login, x->login))) ||
	    (f->department && (!x || strcmp(f->department, x->department))) ||
	    (f->customer_id && f->customer_id != c->customer_id))
		return 0;
	if (reserve(&r->checkouts, &lc->cap, r->ncheckouts + 1, sizeof *r->checkouts)) {
		lc->err = ENOMEM;
		return 1;
	}
	struct report_checkout *o = &r->checkouts[r->ncheckouts];
	memset(o, 0, sizeof *o);
	o->id = c->id;
	o->login = arena_dup(r, x ? x->login : "");
	o->customer = arena_dup(r, customer_of(b, c->customer_id));
	o->target = arena_dup(r, c->field[0] ? c->field : c->cls);
	o->purpose = arena_dup(r, c->purpose);
	o->status = checkout_status_name(c->status);
	o->requested_ns = c->requested_ns;
	o->expires_ns = c->expires_ns;
	o->ended_ns = c->ended_ns;
	o->duration_s = c->duration_s;
	o->late = c->status == CO_EXPIRED || (c->status == CO_OPEN && c->expires_ns < now);
	long i = keymap_find_num(&b->checkouts, (uint64_t)c->id);
	o->accesses = i >= 0 ? b->co_accesses[i] : 0;
	if (!o->login || !o->customer || !o->target || !o->purpose) {
		lc->err = ENOMEM;
		return 1;
	}
	r->late += o->late;
	r->ncheckouts++;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct report_key *)a)->name, ((const struct report_key *)b)->name);
}

static int by_denials(const void *a, const void *b)
{
	const struct report_key *x = a, *y = b;
	if (x->c.denied != y->c.denied)
		return x->c.denied > y->c.denied ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int by_login(const void *a, const void *b)
{
	const struct report_person *x = a, *y = b;
	int c = strcmp(x->login, y->login);
	return c ? c : x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int by_person_kind(const void *a, const void *b)
{
	const struct report_anomaly *x = a, *y = b;
	if (x->person != y->person)
		return x->person < y->person ? -1 : 1;
	return (int)x->kind - (int)y->kind;
}

static int by_seq(const void *a, const void *b)
{
	const struct report_record *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int by_day(const void *a, const void *b)
{
	const struct report_day *x = a, *y = b;
	return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

static int by_key_at(const void *a, const void *b, void *keys)
{
	const struct report_key *k = keys;
	return strcmp(k[*(const size_t *)a].name, k[*(const size_t *)b].name);
}

/* Keys and counts of a map as an array sorted by CMP; with MAP_TO,
 * (*MAP_TO)[old index] is the key's place in the sorted array. */
static int sorted_keys(const struct keymap *m, const struct report_count *c,
		       struct report_key **out, size_t *n, size_t **map_to,
		       int (*cmp)(const void *, const void *))
{
	size_t k = m->n ? m->n : 1;
	struct report_key *keys = calloc(k, sizeof *keys);
	*out = NULL;
	*n = m->n;
	if (!keys)
		return ENOMEM;
	for (size_t i = 0; i < m->n; i++) {
		keys[i].name = m->str[i];
		keys[i].c = c[i];
	}
	if (!map_to) {
		sort_items(keys, m->n, sizeof *keys, cmp);
		*out = keys;
		return 0;
	}
	/* by name: the indexes sorted, then the keys laid out in that order */
	size_t *order = malloc(k * sizeof *order);
	struct report_key *sorted = calloc(k, sizeof *sorted);
	*map_to = malloc(k * sizeof **map_to);
	if (!order || !sorted || !*map_to) {
		free(order);
		free(sorted);
		free(keys);
		return ENOMEM;
	}
	for (size_t i = 0; i < m->n; i++)
		order[i] = i;
	qsort_r(order, m->n, sizeof *order, by_key_at, keys);
	for (size_t i = 0; i < m->n; i++) {
		sorted[i] = keys[order[i]];
		(*map_to)[order[i]] = i;
	}
	free(order);
	free(keys);
	*out = sorted;
	return 0;
}

static int finish(struct builder *b)
{
	struct report *r = b->r;
	int err;
	size_t *dept_to = NULL, *day_to = NULL, *person_to = NULL;

	if ((err = sorted_keys(&b->depts, b->dept_c, &r->departments, &r->ndepartments, &dept_to,
			       NULL)) ||
	    (err = sorted_keys(&b->classes, b->class_c, &r->classes, &r->nclasses, NULL, by_name)) ||
	    (err = sorted_keys(&b->rules, b->rule_c, &r->rules, &r->nrules, NULL, by_denials)))
		goto out;

	/* The days in order, and the department-by-day matrix. */
	r->ndays = b->ndays;
	r->days = calloc(b->ndays ? b->ndays : 1, sizeof *r->days);
	day_to = malloc((b->ndays ? b->ndays : 1) * sizeof *day_to);
	r->dept_day = calloc(b->ndays * r->ndepartments + 1, sizeof *r->dept_day);
	if (!r->days || !day_to || !r->dept_day) {
		err = ENOMEM;
		goto out;
	}
	if (b->ndays)
		memcpy(r->days, b->days, b->ndays * sizeof *r->days);
	sort_items(r->days, r->ndays, sizeof *r->days, by_day);
	for (size_t i = 0; i < b->ndays; i++)
		for (size_t j = 0; j < r->ndays; j++)
			if (r->days[j].start_ns == b->days[i].start_ns) {
				day_to[i] = j;
				break;
			}
	for (size_t i = 0; i < b->cells.n; i++) {
		size_t day = (size_t)(b->cells.num[i] >> 32), dept = (size_t)(b->cells.num[i] & 0xffffffff);
		r->dept_day[day_to[day] * r->ndepartments + dept_to[dept]] = b->cell_c[i];
	}
	/* The per-person checks, then the people in order of login (and uid:
	 * one person per uid for those with no login). */
	if ((err = check_people(b)))
		goto out;
	r->npeople = b->people.n;
	r->people = calloc(r->npeople ? r->npeople : 1, sizeof *r->people);
	person_to = malloc((r->npeople ? r->npeople : 1) * sizeof *person_to);
	if (!r->people || !person_to) {
		err = ENOMEM;
		goto out;
	}
	if (r->npeople)
		memcpy(r->people, b->people_v, r->npeople * sizeof *r->people);
	sort_items(r->people, r->npeople, sizeof *r->people, by_login);
	for (size_t old = 0; old < b->people.n; old++) {
		size_t lo = 0, hi = r->npeople; /* (login, uid) is each one's own */
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (by_login(&r->people[mid], &b->people_v[old]) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		person_to[old] = lo;
	}
	for (size_t i = 0; i < r->nanomalies; i++)
		r->anomalies[i].person = person_to[r->anomalies[i].person];
	sort_items(r->anomalies, r->nanomalies, sizeof *r->anomalies, by_person_kind);

	sort_items(r->sample, r->nsample, sizeof *r->sample, by_seq);

	/* The checkouts of the period, with their late returns. */
	struct staff *s = NULL;
	if ((err = staff_load_history(b->v->db, &s)))
		goto out;
	struct late_ctx lc = { b, s, 0, 0 };
	err = staff_checkouts_list(b->v->db, 0, take_checkout, &lc);
	staff_free(s);
	err = err ? err : lc.err;
out:
	free(dept_to);
	free(day_to);
	free(person_to);
	return err;
}

int report_build(struct vault *v, const struct report_opts *o, struct report **out, char *err,
		 size_t errlen)
{
	struct report *r = calloc(1, sizeof *r);
	struct builder b = { .r = r, .v = v, .cur_day = -1, .sample = { .k = o->sample } };
	*out = NULL;
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return ENOMEM;
	}
	r->opts = *o;
	r->made_ns = o->now_ns ? o->now_ns : clock_now_ns();
	if (r->opts.sample > 0 && !(r->sample = calloc((size_t)r->opts.sample, sizeof *r->sample))) {
		free(r);
		snprintf(err, errlen, "out of memory");
		return ENOMEM;
	}
	int rc = audit_query(v->audit, &o->filter, tally, &b);
	if (!rc)
		rc = b.err;
	if (!rc)
		rc = finish(&b);
	keymap_free(&b.depts);
	keymap_free(&b.people);
	keymap_free(&b.classes);
	keymap_free(&b.rules);
	keymap_free(&b.cells);
	keymap_free(&b.checkouts);
	keymap_free(&b.customers);
	keymap_free(&b.dayids);
	free(b.dept_c);
	free(b.class_c);
	free(b.rule_c);
	free(b.cell_c);
	free(b.people_v);
	free(b.co_accesses);
	free(b.cust_names);
	free(b.days);
	free(b.hits);
	if (rc) {
		snprintf(err, errlen, "cannot read the audit log: %s", strerror(rc));
		report_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void report_free(struct report *r)
{
	if (!r)
		return;
	free(r->departments);
	free(r->classes);
	free(r->rules);
	free(r->people);
	free(r->days);
	free(r->dept_day);
	free(r->checkouts);
	free(r->changes);
	free(r->glass);
	free(r->sample);
	free(r->anomalies);
	while (r->arena) {
		struct report_arena *next = r->arena->next;
		free(r->arena);
		r->arena = next;
	}
	free(r);
}
