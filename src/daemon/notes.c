#include "notes.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	uid_t uid;
	unsigned long long seq; /* for eviction: smallest is oldest */
	char text[NOTE_TEXT];
};

struct notes {
	pthread_mutex_t lock;
	struct entry e[NOTES_MAX];
	size_t n;
	unsigned long long seq;
};

struct notes *notes_new(void)
{
	/* The notes name customers (customer data): locked, wiped memory. */
	struct notes *d = sodium_malloc(sizeof *d);
	if (d) {
		memset(d, 0, sizeof *d);
		pthread_mutex_init(&d->lock, NULL);
	}
	return d;
}

void notes_free(struct notes *d)
{
	if (d) {
		pthread_mutex_destroy(&d->lock);
		sodium_free(d);
	}
}

void notes_record(struct notes *d, uid_t uid, const char *text)
{
	pthread_mutex_lock(&d->lock);
	struct entry *slot = NULL;
	for (size_t i = 0; i < d->n && !slot; i++)
		if (d->e[i].uid == uid)
			slot = &d->e[i];
	if (!slot && d->n < NOTES_MAX)
		slot = &d->e[d->n++];
	if (!slot) {
		slot = &d->e[0];
		for (size_t i = 1; i < d->n; i++)
			if (d->e[i].seq < slot->seq)
				slot = &d->e[i];
	}
	slot->uid = uid;
	slot->seq = ++d->seq;
	snprintf(slot->text, sizeof slot->text, "%s", text);
	pthread_mutex_unlock(&d->lock);
}

size_t notes_get(struct notes *d, uid_t uid, char *out, size_t cap)
{
	size_t n = 0;
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->n; i++) {
		if (d->e[i].uid == uid) {
			n = (size_t)snprintf(out, cap, "%s", d->e[i].text);
			if (n >= cap)
				n = cap - 1;
			break;
		}
	}
	pthread_mutex_unlock(&d->lock);
	return n;
}
