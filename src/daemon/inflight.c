#include "inflight.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#define STRIPES 64

struct entry {
	int64_t field_id;
	uid_t uid;
	unsigned writers;
	size_t size;
	bool pending; /* size is bytes not yet committed (false once stored) */
	struct entry *next;
};

struct stripe {
	pthread_mutex_t lock;
	struct entry *head;
};

struct inflight {
	struct stripe s[STRIPES];
};

struct inflight *inflight_new(void)
{
	struct inflight *f = calloc(1, sizeof *f);
	if (f)
		for (int i = 0; i < STRIPES; i++)
			pthread_mutex_init(&f->s[i].lock, NULL);
	return f;
}

void inflight_free(struct inflight *f)
{
	if (!f)
		return;
	for (int i = 0; i < STRIPES; i++) {
		while (f->s[i].head) {
			struct entry *e = f->s[i].head;
			f->s[i].head = e->next;
			free(e);
		}
		pthread_mutex_destroy(&f->s[i].lock);
	}
	free(f);
}

static struct stripe *stripe_of(struct inflight *f, int64_t id)
{
	return &f->s[(uint64_t)id % STRIPES];
}

static struct entry *find(struct stripe *s, int64_t id, uid_t uid)
{
	for (struct entry *e = s->head; e; e = e->next)
		if (e->field_id == id && e->uid == uid)
			return e;
	return NULL;
}

int inflight_add_writer(struct inflight *f, int64_t field_id, uid_t uid, size_t size)
{
	struct stripe *s = stripe_of(f, field_id);
	int rc = 0;
	pthread_mutex_lock(&s->lock);
	struct entry *e = find(s, field_id, uid);
	if (!e) {
		e = calloc(1, sizeof *e);
		if (e) {
			e->field_id = field_id;
			e->uid = uid;
			e->next = s->head;
			s->head = e;
		}
	}
	if (e) {
		e->writers++;
		e->size = size;
		e->pending = true;
	} else {
		rc = ENOMEM;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void inflight_set_size(struct inflight *f, int64_t field_id, uid_t uid, size_t size)
{
	struct stripe *s = stripe_of(f, field_id);
	pthread_mutex_lock(&s->lock);
	struct entry *e = find(s, field_id, uid);
	if (e) {
		e->size = size;
		e->pending = true;
	}
	pthread_mutex_unlock(&s->lock);
}

void inflight_settled(struct inflight *f, int64_t field_id, uid_t uid)
{
	struct stripe *s = stripe_of(f, field_id);
	pthread_mutex_lock(&s->lock);
	struct entry *e = find(s, field_id, uid);
	if (e)
		e->pending = false;
	pthread_mutex_unlock(&s->lock);
}

void inflight_remove_writer(struct inflight *f, int64_t field_id, uid_t uid)
{
	struct stripe *s = stripe_of(f, field_id);
	pthread_mutex_lock(&s->lock);
	for (struct entry **pp = &s->head; *pp; pp = &(*pp)->next) {
		struct entry *e = *pp;
		if (e->field_id == field_id && e->uid == uid) {
			if (--e->writers == 0) {
				*pp = e->next;
				free(e);
			}
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
}

bool inflight_any(struct inflight *f, int64_t field_id)
{
	struct stripe *s = stripe_of(f, field_id);
	bool any = false;
	pthread_mutex_lock(&s->lock);
	for (struct entry *e = s->head; e && !any; e = e->next)
		any = e->field_id == field_id;
	pthread_mutex_unlock(&s->lock);
	return any;
}

bool inflight_size(struct inflight *f, int64_t field_id, uid_t uid, size_t *size)
{
	struct stripe *s = stripe_of(f, field_id);
	pthread_mutex_lock(&s->lock);
	struct entry *e = find(s, field_id, uid);
	bool pending = e && e->pending;
	if (pending)
		*size = e->size;
	pthread_mutex_unlock(&s->lock);
	return pending;
}
