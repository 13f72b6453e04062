#include "turns.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STRIPES 64

struct turn {
	int64_t customer_id;
	char *name;
	unsigned users; /* holding or waiting: freed at none */
	pthread_mutex_t lock;
	struct turn *next;
};

struct stripe {
	pthread_mutex_t lock;
	struct turn *head;
};

struct turns {
	struct stripe s[STRIPES];
};

struct turns *turns_new(void)
{
	struct turns *t = calloc(1, sizeof *t);
	if (t)
		for (int i = 0; i < STRIPES; i++)
			pthread_mutex_init(&t->s[i].lock, NULL);
	return t;
}

static void turn_free(struct turn *u)
{
	pthread_mutex_destroy(&u->lock);
	free(u->name);
	free(u);
}

void turns_free(struct turns *t)
{
	if (!t)
		return;
	for (int i = 0; i < STRIPES; i++) {
		while (t->s[i].head) {
			struct turn *u = t->s[i].head;
			t->s[i].head = u->next;
			turn_free(u);
		}
		pthread_mutex_destroy(&t->s[i].lock);
	}
	free(t);
}

static struct stripe *stripe_of(struct turns *t, int64_t customer_id, const char *name)
{
	uint64_t h = (uint64_t)customer_id * 0x9e3779b97f4a7c15u; /* then FNV-1a, the name */
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3u;
	return &t->s[h % STRIPES];
}

/* Drops a waiter or holder; frees the turn at none (S locked). */
static void turn_leave_locked(struct stripe *s, struct turn *u)
{
	if (--u->users == 0) {
		struct turn **pp = &s->head;
		while (*pp != u)
			pp = &(*pp)->next;
		*pp = u->next;
		turn_free(u);
	}
}

struct turn *turn_take(struct turns *t, int64_t customer_id, const char *name, int wait_ms,
		       int *err)
{
	struct stripe *s = stripe_of(t, customer_id, name);
	pthread_mutex_lock(&s->lock);
	struct turn *u = s->head;
	while (u && !(u->customer_id == customer_id && strcmp(u->name, name) == 0))
		u = u->next;
	if (!u) {
		u = calloc(1, sizeof *u);
		if (!u || !(u->name = strdup(name))) {
			free(u);
			pthread_mutex_unlock(&s->lock);
			*err = ENOMEM;
			return NULL;
		}
		u->customer_id = customer_id;
		pthread_mutex_init(&u->lock, NULL);
		u->next = s->head;
		s->head = u;
	}
	u->users++;
	pthread_mutex_unlock(&s->lock);
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	int rc = pthread_mutex_clocklock(&u->lock, CLOCK_MONOTONIC, &until);
	if (rc == 0)
		return u;
	pthread_mutex_lock(&s->lock);
	turn_leave_locked(s, u);
	pthread_mutex_unlock(&s->lock);
	*err = rc;
	return NULL;
}

void turn_give(struct turns *t, struct turn *u)
{
	struct stripe *s = stripe_of(t, u->customer_id, u->name);
	pthread_mutex_unlock(&u->lock);
	pthread_mutex_lock(&s->lock);
	turn_leave_locked(s, u);
	pthread_mutex_unlock(&s->lock);
}
