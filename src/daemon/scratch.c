#include "scratch.h"

#include <errno.h>

#include "assert_held.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct scratch_table {
	pthread_mutex_t lock;
	struct scratch_node *head; /* linked and still-referenced unlinked nodes */
	unsigned count;
	uint64_t next_id;
	unsigned max_files;
	void (*on_free)(void *ctx, uid_t owner, size_t charged);
	void *ctx;
};

struct scratch_table *scratch_table_new(unsigned max_files,
					void (*on_free)(void *ctx, uid_t owner, size_t charged),
					void *ctx)
{
	struct scratch_table *t = calloc(1, sizeof *t);
	if (t) {
		t->max_files = max_files;
		pthread_mutex_init(&t->lock, NULL);
		t->next_id = 1;
		t->on_free = on_free;
		t->ctx = ctx;
	}
	return t;
}

static void node_free(struct scratch_table *t, struct scratch_node *n)
{
	if (t->on_free)
		t->on_free(t->ctx, n->owner, n->charged);
	secbuf_free(&n->buf);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

void scratch_table_free(struct scratch_table *t)
{
	if (!t)
		return;
	while (t->head) {
		struct scratch_node *n = t->head;
		t->head = n->next;
		node_free(t, n);
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* Each person has their own scratch names: nobody can replace, remove or
 * squat another's editor files. */
static struct scratch_node *find_locked(struct scratch_table *t, int64_t customer_id, uid_t owner,
					const char *name)
{
	ASSERT_HELD(&t->lock);
	for (struct scratch_node *n = t->head; n; n = n->next)
		if (n->linked && n->customer_id == customer_id && n->owner == owner &&
		    strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

static void unlink_node_locked(struct scratch_table *t, struct scratch_node *n)
{
	ASSERT_HELD(&t->lock);
	if (!n->linked)
		return;
	n->linked = false;
	if (--n->refs == 0) {
		for (struct scratch_node **pp = &t->head; *pp; pp = &(*pp)->next) {
			if (*pp == n) {
				*pp = n->next;
				break;
			}
		}
		t->count--;
		node_free(t, n);
	}
}

int scratch_create(struct scratch_table *t, int64_t customer_id, const char *name, uid_t owner,
		   mode_t mode, struct scratch_node **out)
{
	struct scratch_node *n;
	int rc = 0;

	pthread_mutex_lock(&t->lock);
	if (find_locked(t, customer_id, owner, name)) {
		rc = EEXIST;
	} else if (t->count >= t->max_files) {
		rc = ENOSPC;
	} else if (!(n = calloc(1, sizeof *n))) {
		rc = ENOMEM;
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		n->id = t->next_id++;
		n->customer_id = customer_id;
		snprintf(n->name, sizeof n->name, "%s", name);
		n->owner = owner;
		n->mode = mode & 0777;
		n->linked = true;
		n->refs = 2; /* the name, and the caller */
		n->mtime_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		pthread_mutex_init(&n->lock, NULL);
		n->next = t->head;
		t->head = n;
		t->count++;
		*out = n;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

struct scratch_node *scratch_find(struct scratch_table *t, int64_t customer_id, uid_t owner,
				  const char *name)
{
	pthread_mutex_lock(&t->lock);
	struct scratch_node *n = find_locked(t, customer_id, owner, name);
	if (n)
		n->refs++;
	pthread_mutex_unlock(&t->lock);
	return n;
}

struct scratch_node *scratch_get(struct scratch_table *t, uint64_t id)
{
	struct scratch_node *n;
	pthread_mutex_lock(&t->lock);
	for (n = t->head; n; n = n->next)
		if (n->id == id)
			break;
	if (n)
		n->refs++;
	pthread_mutex_unlock(&t->lock);
	return n;
}

void scratch_put(struct scratch_table *t, struct scratch_node *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&t->lock);
	if (--n->refs == 0) {
		for (struct scratch_node **pp = &t->head; *pp; pp = &(*pp)->next) {
			if (*pp == n) {
				*pp = n->next;
				break;
			}
		}
		t->count--;
		node_free(t, n);
	}
	pthread_mutex_unlock(&t->lock);
}

void scratch_unlink(struct scratch_table *t, struct scratch_node *n)
{
	pthread_mutex_lock(&t->lock);
	unlink_node_locked(t, n);
	pthread_mutex_unlock(&t->lock);
}

void scratch_rename(struct scratch_table *t, struct scratch_node *n, const char *newname)
{
	pthread_mutex_lock(&t->lock);
	struct scratch_node *old = find_locked(t, n->customer_id, n->owner, newname);
	if (old && old != n)
		unlink_node_locked(t, old);
	snprintf(n->name, sizeof n->name, "%s", newname);
	pthread_mutex_unlock(&t->lock);
}

void scratch_list(struct scratch_table *t, int64_t customer_id, uid_t uid,
		  void (*fn)(void *ctx, uint64_t id, const char *name), void *ctx)
{
	pthread_mutex_lock(&t->lock);
	for (struct scratch_node *n = t->head; n; n = n->next)
		if (n->linked && n->customer_id == customer_id && n->owner == uid)
			fn(ctx, n->id, n->name);
	pthread_mutex_unlock(&t->lock);
}
