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
 * What keeps it true: every name the kernel holds with a timeout (LOOKUP,
 * CREATE, MKDIR and READDIRPLUS answered, until its FORGET) is remembered
 * before it is answered, and whenever that person's rights may have changed
 * (a grant, a checkout, the staff register, the policy, an erasure, the
 * clock: every people_invalidate) a thread of its own drops each of them,
 * name and attributes, and the root's attributes, so their next request asks
 * again. Names, not just customers: a descriptor (even O_PATH, which sends
 * no OPEN) or a working directory keeps a dentry past its parent's name, and
 * stat through it answers from the cached attributes. (A value written
 * through this mount needs nothing: the kernel drops a file's attributes
 * after each write to it, refused or not; test_person.py checks it.) The
 * notify calls are made by that thread, never inside a request handler.
 *
 * The table is bounded (-o cached_names, default 262144): past it, or out of memory, a name
 * is answered with zero timeouts, as on a shared mount, and needs no drop.
 * So memory and the time a rights change takes follow the names the kernel
 * holds, up to a bound, never the store's size. */
#include "fs.h"

#include "log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A name the kernel holds in the root or below a customer (under
 * known_lock). About 60 bytes each. */
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

/* Names moved by a RENAME, to drop once the kernel has moved them. */
enum { MOVED_MAX = 64 };

struct fs_cache {
	struct fs *fs;
	atomic_bool connected; /* INIT seen: before it the kernel holds no names */
	pthread_mutex_t known_lock;
	struct known *known[KNOWN_BUCKETS];
	size_t nknown; /* under known_lock */
	/* Customers' inodes in the order they were remembered (a ring, under
	 * known_lock): when the table nears its bound, the oldest customers'
	 * names are dropped, and with them the names below them that nothing
	 * holds (their FORGETs empty the table), so a long walk stays cached. */
	fuse_ino_t *order;
	size_t order_head, order_len;
	atomic_bool evicting; /* the thread is asked to, or is dropping the oldest */
	uint64_t pass; /* under known_lock */
	struct drop batch[DROP_BATCH];
	struct fuse_session *se;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake, done;
	uint64_t asked;   /* passes asked for, under lock */
	uint64_t dropped; /* the last pass asked for that is complete, under lock */
	uint64_t batches; /* batches of names dropped so far, under lock */
	struct drop moved[MOVED_MAX]; /* under lock */
	size_t nmoved;                /* under lock */
	bool stop;        /* under lock */
};

/* Asks for a pass and waits for it: the command that changed the rights
 * (custctl grant revoke, return, ...) returns once the kernel has forgotten,
 * however many names it holds (a walk of a large store leaves hundreds of
 * thousands). The wait ends early only if no batch has been dropped for 2 s:
 * the kernel's notify takes a directory's lock, which a request in flight
 * may hold a while. */
static void rights_may_have_changed(void *ctx, uid_t uid)
{
	struct fs_cache *c = ctx;
	if (uid != (uid_t)-1 && uid != c->fs->person_uid)
		return; /* someone else's: nothing of theirs is in this mount's caches */
	pthread_mutex_lock(&c->lock);
	uint64_t mine = ++c->asked;
	pthread_cond_signal(&c->wake);
	uint64_t seen = c->batches;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	while (c->dropped < mine && !c->stop) {
		if (pthread_cond_timedwait(&c->done, &c->lock, &until) != ETIMEDOUT)
			continue;
		if (c->batches == seen) {
			log_warn("the kernel's names are not dropped yet: no progress for 2 s; "
				 "they go soon");
			break;
		}
		seen = c->batches;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 2;
	}
	pthread_mutex_unlock(&c->lock);
}

/* One batch more is dropped: a waiter's sign of progress. */
static void batch_done(struct fs_cache *c)
{
	pthread_mutex_lock(&c->lock);
	c->batches++;
	pthread_cond_broadcast(&c->done);
	pthread_mutex_unlock(&c->lock);
}

static void drop_name(struct fs_cache *c, fuse_ino_t parent, const char *name, const char *what)
{
	int rc = fuse_lowlevel_notify_inval_entry(c->se, parent, name, strlen(name));
	if (rc && rc != -ENOENT)
		log_warn("cannot drop the kernel's entry of %s: %s", what, strerror(-rc));
}

static void drop_attrs(struct fs_cache *c, fuse_ino_t ino, const char *what)
{
	int rc = fuse_lowlevel_notify_inval_inode(c->se, ino, -1, 0);
	if (rc && rc != -ENOENT)
		log_warn("cannot drop the kernel's attributes of %s: %s", what, strerror(-rc));
}

static struct known **bucket(struct fs_cache *c, fuse_ino_t ino)
{
	return &c->known[(ino ^ (ino >> 17) ^ (ino >> 33)) % KNOWN_BUCKETS];
}

/* The link that points at INO's record, or at the end of its bucket (under
 * known_lock). */
static struct known **link_of(struct fs_cache *c, fuse_ino_t ino)
{
	struct known **p = bucket(c, ino);
	while (*p && (*p)->ino != ino)
		p = &(*p)->next;
	return p;
}

/* Under known_lock. The ring holds at most cached_names inodes; when full,
 * the oldest goes (it is still dropped at a rights change, like any name). */
static void remember_order(struct fs_cache *c, fuse_ino_t ino)
{
	size_t cap = c->fs->cached_names;
	if (c->order_len == cap) {
		c->order_head = (c->order_head + 1) % cap;
		c->order_len--;
	}
	c->order[(c->order_head + c->order_len) % cap] = ino;
	c->order_len++;
}

bool fs_cache_entry(struct fs *fs, fuse_ino_t parent, const char *name,
		    struct fuse_entry_param *e)
{
	struct fs_cache *c = fs->cache;
	int64_t id;
	enum kind k_parent = kind_of(parent, &id);
	if (!c || (k_parent != K_ROOT && k_parent != K_CUSTOMER))
		return false;
	size_t len = strlen(name);
	bool near_full = false;
	pthread_mutex_lock(&c->known_lock);
	struct known **p = link_of(c, e->ino);
	struct known *k = *p;
	if (!k || k->parent != parent || strcmp(k->name, name)) {
		/* new, or the same inode under another name (a rename) */
		struct known *n = len <= NAME_MAX_BYTES && (k || c->nknown < fs->cached_names)
					  ? malloc(sizeof *n + len + 1)
					  : NULL;
		if (!n) {
			pthread_mutex_unlock(&c->known_lock);
			/* Not remembered, so not kept: the kernel asks again each time. */
			e->entry_timeout = e->attr_timeout = 0;
			return false;
		}
		n->ino = e->ino;
		n->parent = parent;
		n->nlookup = k ? k->nlookup : 0;
		n->pass = 0;
		memcpy(n->name, name, len + 1);
		n->next = k ? k->next : NULL;
		*p = n;
		if (k) {
			free(k);
		} else {
			c->nknown++;
			if (parent == FUSE_ROOT_ID)
				remember_order(c, n->ino);
			near_full = c->nknown >= fs->cached_names - fs->cached_names / 8;
		}
		k = n;
	}
	k->nlookup++;
	pthread_mutex_unlock(&c->known_lock);
	if (near_full && !atomic_exchange(&c->evicting, true)) {
		pthread_mutex_lock(&c->lock);
		pthread_cond_signal(&c->wake);
		pthread_mutex_unlock(&c->lock);
	}
	return true;
}

double fs_cache_attr_timeout(struct fs *fs, fuse_ino_t ino)
{
	struct fs_cache *c = fs->cache;
	if (!c || ino == FUSE_ROOT_ID)
		return fs->entry_timeout;
	pthread_mutex_lock(&c->known_lock);
	bool known = *link_of(c, ino) != NULL;
	pthread_mutex_unlock(&c->known_lock);
	return known ? fs->entry_timeout : 0;
}

void fs_cache_forget(struct fs *fs, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs_cache *c = fs->cache;
	if (!c)
		return;
	pthread_mutex_lock(&c->known_lock);
	struct known **p = link_of(c, ino), *k = *p;
	if (k && k->nlookup <= nlookup) {
		*p = k->next;
		free(k);
		c->nknown--;
	} else if (k) {
		k->nlookup -= nlookup;
	}
	pthread_mutex_unlock(&c->known_lock);
}

/* Copies up to DROP_BATCH names this pass has not dropped, from bucket *AT
 * on, marking them; the count. CUSTOMERS: only the names in the root. */
static size_t next_batch(struct fs_cache *c, uint64_t pass, bool customers, size_t *at)
{
	size_t n = 0;
	pthread_mutex_lock(&c->known_lock);
	for (; *at < KNOWN_BUCKETS; ++*at) {
		for (struct known *k = c->known[*at]; k; k = k->next) {
			if (k->pass == pass || (customers && k->parent != FUSE_ROOT_ID))
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

/* Every name the kernel holds, and its attributes, in batches: copied under
 * the lock, dropped after it (a notify waits for the directory's lock, which
 * a LOOKUP in flight, waiting for known_lock, may hold). A fixed buffer, so
 * a pass needs no memory it might not get. Customers first: a customer's
 * name takes with it every name below it that nothing holds, so most of the
 * field names that follow are no longer there to drop. */
static void drop_known(struct fs_cache *c)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_mutex_lock(&c->known_lock);
	uint64_t pass = ++c->pass;
	pthread_mutex_unlock(&c->known_lock);
	size_t total = 0;
	for (int customers = 1; customers >= 0; customers--) {
		size_t at = 0, n;
		while ((n = next_batch(c, pass, customers, &at)) > 0) {
			for (size_t i = 0; i < n; i++) {
				const struct drop *d = &c->batch[i];
				drop_name(c, d->parent, d->name, "a name");
				drop_attrs(c, d->ino, "a name");
			}
			total += n;
			batch_done(c);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_info("rights changed: dropped the kernel's %zu names in %lld ms", total,
		 (long long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
}

/* The names RENAMEs moved (custfs keeps a field where it was and copies its
 * value to the scratch file: the kernel's moved entry would be the field's
 * inode under the scratch name, kept past a rights change). Copied under the
 * lock, dropped after it. */
static void drop_moved(struct fs_cache *c)
{
	pthread_mutex_lock(&c->lock);
	size_t n = c->nmoved;
	memcpy(c->batch, c->moved, n * sizeof *c->moved);
	c->nmoved = 0;
	pthread_cond_broadcast(&c->done); /* room again */
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; i < n; i++)
		drop_name(c, c->batch[i].parent, c->batch[i].name, "a renamed name");
}

static void drop_every_name(struct fs_cache *c)
{
	if (!atomic_load(&c->connected))
		return; /* before INIT: the kernel holds no names yet */
	drop_moved(c);
	drop_known(c);
	int rc = fuse_lowlevel_notify_inval_inode(c->se, FUSE_ROOT_ID, 0, 0);
	if (rc && rc != -ENOENT)
		log_warn("cannot drop the kernel's attributes of the root: %s", strerror(-rc));
}

/* The table nears its bound: drops the oldest customers' names (not their
 * attributes: nobody's rights changed) until the kernel's FORGETs have
 * brought it down to three quarters, or no customer is left to drop. */
static void evict_oldest(struct fs_cache *c)
{
	size_t cap = c->fs->cached_names, low = cap - cap / 4;
	for (;;) {
		size_t n = 0;
		pthread_mutex_lock(&c->known_lock);
		bool enough = c->nknown < low;
		while (!enough && n < DROP_BATCH && c->order_len > 0) {
			fuse_ino_t ino = c->order[c->order_head];
			c->order_head = (c->order_head + 1) % cap;
			c->order_len--;
			struct known *k = *link_of(c, ino);
			if (!k || k->parent != FUSE_ROOT_ID)
				continue; /* forgotten already */
			c->batch[n].ino = ino;
			memcpy(c->batch[n].name, k->name, strlen(k->name) + 1);
			n++;
		}
		pthread_mutex_unlock(&c->known_lock);
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++)
			drop_name(c, FUSE_ROOT_ID, c->batch[i].name, "a customer");
		/* The kernel's FORGETs of what went with them come a moment later. */
		struct timespec pause = { 0, 2 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	atomic_store(&c->evicting, false);
}

void fs_cache_connected(struct fs *fs)
{
	if (fs->cache)
		atomic_store(&fs->cache->connected, true);
}

void fs_cache_renamed(struct fs *fs, fuse_ino_t newparent, const char *newname)
{
	struct fs_cache *c = fs->cache;
	if (!c || strlen(newname) > NAME_MAX_BYTES)
		return;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	pthread_mutex_lock(&c->lock);
	while (c->nmoved == MOVED_MAX && !c->stop)
		if (pthread_cond_timedwait(&c->done, &c->lock, &until) == ETIMEDOUT)
			break;
	if (c->nmoved < MOVED_MAX) {
		struct drop *d = &c->moved[c->nmoved++];
		d->ino = 0;
		d->parent = newparent;
		memcpy(d->name, newname, strlen(newname) + 1);
		pthread_cond_signal(&c->wake);
	} else {
		/* Only while the thread is stuck on the kernel's locks: the moved
		 * entry stays until its timeout (its inode's attributes are still
		 * dropped at a rights change). */
		log_warn("renamed names are not dropped as fast as they come");
	}
	pthread_mutex_unlock(&c->lock);
}

static void *cache_thread(void *arg)
{
	struct fs_cache *c = arg;
	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		if (c->nmoved > 0 && atomic_load(&c->connected)) {
			pthread_mutex_unlock(&c->lock);
			drop_moved(c);
			pthread_mutex_lock(&c->lock);
			continue;
		}
		if (c->dropped == c->asked) {
			if (atomic_load(&c->evicting) && atomic_load(&c->connected)) {
				pthread_mutex_unlock(&c->lock);
				evict_oldest(c);
				pthread_mutex_lock(&c->lock);
				continue;
			}
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
	if (fs->cached_names > 0 && !(c->order = calloc(fs->cached_names, sizeof *c->order))) {
		free(c);
		return ENOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->known_lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	pthread_cond_init(&c->done, NULL);
	int rc = pthread_create(&c->thread, NULL, cache_thread, c);
	if (rc) {
		free(c->order);
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
	free(c->order);
	free(c);
	fs->cache = NULL;
}
