/* The kernel's caches of names and attributes on a one-person mount.
 *
 * The kernel keeps one cache of names (dentries) and attributes for all the
 * users of a mount, and answers stat --cached=always from it without asking
 * custfs: on a mount that serves several people a cached entry would show
 * one person what only another may see, so those mounts cache nothing (zero
 * timeouts, main.c). A one-person mount (-o person=LOGIN) is one the kernel
 * itself lets no one else use (user_id is that person's, no allow_other):
 * every cached entry is theirs, and may be kept for entry_timeout seconds.
 *
 * What keeps it true: whenever that person's rights may have changed (a
 * grant, a checkout, the staff register, the policy, an erasure, the clock:
 * every people_invalidate), a thread of its own drops every customer's name
 * from the kernel (a customer's name takes its fields' names with it) and
 * the root's attributes, so their next request asks again. (A value written
 * through this mount needs nothing: the kernel drops a file's attributes
 * after each write to it, refused or not; test_person.py checks it.) The
 * notify calls are made by that thread, never inside a request handler.
 *
 * A field's name outlives its customer's: a descriptor (even O_PATH, which
 * sends no OPEN) or a working directory keeps the field's dentry, and stat
 * through it answers from the cached attributes. So the thread also keeps
 * every field name the kernel holds (LOOKUP, CREATE and READDIRPLUS
 * answered, until its FORGET) and drops each of them, name and attributes, in every pass. */
#include "fs.h"

#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A name the kernel holds below a customer (under known_lock). About 60
 * bytes each, so memory follows the names the kernel keeps (it FORGETs them
 * under memory pressure), never the store's size. */
struct known {
	struct known *next;
	fuse_ino_t ino, parent;
	uint64_t nlookup;
	uint64_t pass; /* the last pass that dropped it */
	char name[];
};
enum { KNOWN_BUCKETS = 1 << 16, DROP_BATCH = 256 };

/* One batch of names to drop, copied out of the table (the cache thread's). */
struct drop {
	fuse_ino_t ino, parent;
	char name[NAME_MAX_BYTES + 1];
};

struct fs_cache {
	struct fs *fs;
	pthread_mutex_t known_lock;
	struct known *known[KNOWN_BUCKETS];
	uint64_t pass; /* under known_lock */
	struct drop batch[DROP_BATCH];
	struct fuse_session *se;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake, done;
	uint64_t asked;   /* passes asked for, under lock */
	uint64_t dropped; /* the last pass asked for that is complete, under lock */
	bool stop;        /* under lock */
};

/* Asks for a pass and waits for it: the command that changed the rights
 * (custctl grant revoke, return, ...) returns once the kernel has forgotten.
 * The wait is bounded, as the kernel's notify takes the root directory's
 * lock, which a request in flight may hold a while. */
static void rights_may_have_changed(void *ctx, uid_t uid)
{
	struct fs_cache *c = ctx;
	if (uid != (uid_t)-1 && uid != c->fs->person_uid)
		return; /* someone else's: nothing of theirs is in this mount's caches */
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	pthread_mutex_lock(&c->lock);
	uint64_t mine = ++c->asked;
	pthread_cond_signal(&c->wake);
	while (c->dropped < mine && !c->stop)
		if (pthread_cond_timedwait(&c->done, &c->lock, &until) == ETIMEDOUT) {
			log_warn("the kernel's names are not dropped yet after 2 s; they go soon");
			break;
		}
	pthread_mutex_unlock(&c->lock);
}

struct batch {
	struct fs_cache *c;
	int64_t last; /* the last customer id seen */
	int n;
};

static int drop_one(void *ctx, const struct customer *cust)
{
	struct batch *b = ctx;
	b->last = cust->id;
	b->n++;
	int rc = fuse_lowlevel_notify_inval_entry(b->c->se, FUSE_ROOT_ID, cust->name,
						  strlen(cust->name));
	if (rc && rc != -ENOENT)
		log_warn("cannot drop the kernel's entry of customer #%lld: %s",
			 (long long)cust->id, strerror(-rc));
	return 0;
}

static struct known **bucket(struct fs_cache *c, fuse_ino_t ino)
{
	return &c->known[(ino ^ (ino >> 17) ^ (ino >> 33)) % KNOWN_BUCKETS];
}

int fs_cache_looked_up(struct fs *fs, fuse_ino_t parent, const char *name, fuse_ino_t ino)
{
	struct fs_cache *c = fs->cache;
	int64_t id;
	if (!c || kind_of(parent, &id) != K_CUSTOMER)
		return 0;
	size_t len = strlen(name);
	if (len > NAME_MAX_BYTES)
		return ENAMETOOLONG;
	pthread_mutex_lock(&c->known_lock);
	struct known **p = bucket(c, ino);
	while (*p && (*p)->ino != ino)
		p = &(*p)->next;
	struct known *k = *p;
	if (!k || k->parent != parent || strcmp(k->name, name)) {
		/* new, or the same inode under another name (a rename) */
		struct known *n = malloc(sizeof *n + len + 1);
		if (!n) {
			pthread_mutex_unlock(&c->known_lock);
			return ENOMEM; /* not answered: a name we could not drop */
		}
		n->ino = ino;
		n->parent = parent;
		n->nlookup = k ? k->nlookup : 0;
		n->pass = 0;
		memcpy(n->name, name, len + 1);
		n->next = k ? k->next : NULL;
		*p = n;
		free(k);
		k = n;
	}
	k->nlookup++;
	pthread_mutex_unlock(&c->known_lock);
	return 0;
}

void fs_cache_forget(struct fs *fs, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs_cache *c = fs->cache;
	if (!c)
		return;
	pthread_mutex_lock(&c->known_lock);
	for (struct known **p = bucket(c, ino); *p; p = &(*p)->next) {
		if ((*p)->ino != ino)
			continue;
		struct known *k = *p;
		if (k->nlookup <= nlookup) {
			*p = k->next;
			free(k);
		} else {
			k->nlookup -= nlookup;
		}
		break;
	}
	pthread_mutex_unlock(&c->known_lock);
}

/* Copies up to DROP_BATCH names this pass has not dropped, from bucket *AT
 * on, marking them; the count. */
static size_t next_batch(struct fs_cache *c, uint64_t pass, size_t *at)
{
	size_t n = 0;
	pthread_mutex_lock(&c->known_lock);
	for (; *at < KNOWN_BUCKETS; ++*at) {
		for (struct known *k = c->known[*at]; k; k = k->next) {
			if (k->pass == pass)
				continue;
			if (n == DROP_BATCH)
				goto full; /* this bucket again next time */
			k->pass = pass;
			c->batch[n].ino = k->ino;
			c->batch[n].parent = k->parent;
			memcpy(c->batch[n].name, k->name, strlen(k->name) + 1);
			n++;
		}
	}
full:
	pthread_mutex_unlock(&c->known_lock);
	return n;
}

/* Every field name the kernel holds, and its attributes, in batches: copied
 * under the lock, dropped after it (a notify waits for the directory's lock,
 * which a LOOKUP in flight, waiting for known_lock, may hold). A fixed
 * buffer, so a pass needs no memory it might not get. */
static void drop_known_fields(struct fs_cache *c)
{
	pthread_mutex_lock(&c->known_lock);
	uint64_t pass = ++c->pass;
	pthread_mutex_unlock(&c->known_lock);
	size_t at = 0, n;
	while ((n = next_batch(c, pass, &at)) > 0)
		for (size_t i = 0; i < n; i++) {
			const struct drop *d = &c->batch[i];
			int rc = fuse_lowlevel_notify_inval_entry(c->se, d->parent, d->name,
								  strlen(d->name));
			if (rc && rc != -ENOENT)
				log_warn("cannot drop the kernel's entry of a field: %s",
					 strerror(-rc));
			rc = fuse_lowlevel_notify_inval_inode(c->se, d->ino, -1, 0);
			if (rc && rc != -ENOENT)
				log_warn("cannot drop the kernel's attributes of a field: %s",
					 strerror(-rc));
		}
}

static void drop_every_name(struct fs_cache *c)
{
	drop_known_fields(c);
	enum { BATCH = 256 };
	struct batch b = { c, 0, BATCH };
	while (b.n == BATCH) {
		b.n = 0;
		if (vault_customer_list(c->fs->v, b.last, BATCH, drop_one, &b) != 0) {
			log_err("cannot list the customers to drop the kernel's names: "
				"retrying in a second");
			sleep(1);
			pthread_mutex_lock(&c->lock);
			c->asked++;
			pthread_mutex_unlock(&c->lock);
			break;
		}
	}
	int rc = fuse_lowlevel_notify_inval_inode(c->se, FUSE_ROOT_ID, 0, 0);
	if (rc && rc != -ENOENT)
		log_warn("cannot drop the kernel's attributes of the root: %s", strerror(-rc));
}

static void *cache_thread(void *arg)
{
	struct fs_cache *c = arg;
	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		if (c->dropped == c->asked) {
			pthread_cond_wait(&c->wake, &c->lock);
			continue;
		}
		uint64_t target = c->asked;
		pthread_mutex_unlock(&c->lock);
		drop_every_name(c);
		pthread_mutex_lock(&c->lock);
		c->dropped = target;
		pthread_cond_broadcast(&c->done);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int fs_cache_start(struct fs *fs, struct fuse_session *se)
{
	if (!fs->one_person)
		return 0;
	struct fs_cache *c = calloc(1, sizeof *c);
	if (!c)
		return ENOMEM;
	c->fs = fs;
	c->se = se;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->known_lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	pthread_cond_init(&c->done, NULL);
	int rc = pthread_create(&c->thread, NULL, cache_thread, c);
	if (rc) {
		free(c);
		return rc;
	}
	fs->cache = c;
	people_on_invalidate(fs->people, rights_may_have_changed, c);
	return 0;
}

void fs_cache_stop(struct fs *fs)
{
	struct fs_cache *c = fs->cache;
	if (!c)
		return;
	people_on_invalidate(fs->people, NULL, NULL);
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_signal(&c->wake);
	pthread_cond_broadcast(&c->done);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->wake);
	pthread_cond_destroy(&c->done);
	pthread_mutex_destroy(&c->lock);
	for (size_t i = 0; i < KNOWN_BUCKETS; i++)
		for (struct known *k = c->known[i], *nx; k; k = nx) {
			nx = k->next;
			free(k);
		}
	pthread_mutex_destroy(&c->known_lock);
	free(c);
	fs->cache = NULL;
}
