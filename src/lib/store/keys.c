/* The key hierarchy's moving parts: rotation of the master key (online: the
 * running mounts switch without a failed open), the passphrase around it,
 * and the name-hash key kept wrapped so that a rotation leaves every lookup
 * hash as it is.
 *
 *   master key (master.key: plain 0400, or wrapped by Argon2id(passphrase))
 *     wraps: each customer's data key and sealed name; the row-MAC key; the
 *            name-hash key; the audit signing key's seal (audit.db)
 *   data key (one per customer) seals every version of its values
 *
 * MUST: a crash at any instant leaves a store that opens with the key file(s)
 * on disk and the audit log verifiable; the old key is wiped when done. */
#include "vault_internal.h"
#include "i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "keyfile.h"
#include "log.h"

#define NEXT_KEY_FILE VAULT_KEY_FILE ".next"
#define RETIRE_AFTER_MS 5000

static void name_key_aad(struct aad *a, const unsigned char store_id[STORE_ID_BYTES])
{
	memcpy(a->buf, "custfs/name-key/1", 17);
	memcpy(a->buf + 17, store_id, STORE_ID_BYTES);
	a->len = 17 + STORE_ID_BYTES;
}

int64_t vault_stored_key_gen(struct vault *v)
{
	char buf[24] = "";
	size_t len = 0;
	if (store_meta_get(v->db, "key_gen", buf, sizeof buf - 1, &len) != 0)
		return 0;
	buf[len] = '\0';
	return atoll(buf);
}

static int put_key_gen(struct vault *v, int64_t gen)
{
	char buf[24];
	int n = snprintf(buf, sizeof buf, "%lld", (long long)gen);
	return store_meta_put(v->db, "key_gen", buf, (size_t)n);
}

int vault_load_name_key(struct vault *v)
{
	unsigned char wrapped[WRAPPED_KEY_BYTES];
	size_t len = 0;
	struct aad a;
	name_key_aad(&a, v->store_id);
	crypto_key_free(v->name_key);
	v->name_key = NULL;
	int rc = store_meta_get(v->db, "name_key", wrapped, sizeof wrapped, &len);
	if (rc == 0)
		return crypto_unwrap_key(v->master, &a, wrapped, len, &v->name_key) ? EIO : 0;
	if (rc != ENOENT)
		return rc;
	/* Derived from the master key as stores before this one did, so every
	 * name's hash stays valid; kept wrapped from now on. */
	v->name_key = crypto_name_key(v->master);
	if (!v->name_key)
		return ENOMEM;
	crypto_wrap_key(v->master, &a, v->name_key, wrapped);
	rc = db_begin(v->db, true);
	if (!rc)
		rc = store_meta_put(v->db, "name_key", wrapped, sizeof wrapped);
	if (!rc)
		rc = db_commit(v->db);
	else
		db_rollback(v->db);
	return rc;
}

/* Whether KEY is the store's master key now: it unwraps the row key. */
static bool opens_store(struct vault *v, const unsigned char *key)
{
	unsigned char wrapped[WRAPPED_KEY_BYTES], *rk = NULL;
	size_t len = 0;
	struct aad a;
	vault_row_key_aad(&a, v->store_id);
	int rc = store_meta_get(v->db, "row_key", wrapped, sizeof wrapped, &len);
	if (rc == ENOENT)
		return true; /* a store older than row keys: nothing to tell by */
	if (rc)
		return false; /* cannot tell now: not this one (the caller tries again) */
	bool ok = crypto_unwrap_key(key, &a, wrapped, len, &rk) == 0;
	crypto_key_free(rk);
	return ok;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int rc = fsync(fd) ? errno : 0;
	close(fd);
	return rc;
}

/* Swaps NEW in as the master key; the old one is kept a moment for requests
 * still using it (vault_key_retire wipes it). Key lock held. */
static void swap_master(struct vault *v, unsigned char *fresh)
{
	sodium_mprotect_readonly(fresh);
	unsigned char *old = atomic_exchange(&v->master, fresh);
	crypto_key_free(v->retired);
	v->retired = old;
	v->retired_ms = clock_mono_ms();
}

int vault_adopt_next_key(struct vault *v)
{
	char next[PATH_MAX], cur[PATH_MAX];
	char err[256];
	vault_join(next, sizeof next, v->dir, NEXT_KEY_FILE);
	vault_join(cur, sizeof cur, v->dir, VAULT_KEY_FILE);
	if (access(next, F_OK) != 0)
		return ENOENT;
	unsigned char *k = crypto_key_new();
	if (!k)
		return ENOMEM;
	int rc = keyfile_load(next, v->pass, v->passlen, k, err, sizeof err);
	if (!rc && !opens_store(v, k))
		rc = EIO;
	if (rc) {
		crypto_key_free(k);
		return rc;
	}
	if (rename(next, cur) != 0 || fsync_dir(v->dir) != 0) {
		crypto_key_free(k);
		return errno ? errno : EIO;
	}
	pthread_mutex_lock(&v->key_lock);
	swap_master(v, k);
	crypto_key_free(v->retired); /* nothing used the old one: it never opened the store */
	v->retired = NULL;
	v->key_gen = vault_stored_key_gen(v);
	pthread_mutex_unlock(&v->key_lock);
	log_info("a master-key rotation cut short was finished (the new key is in place)");
	return 0;
}

int vault_key_reload(struct vault *v)
{
	char path[PATH_MAX], err[256];
	int64_t gen = vault_stored_key_gen(v);
	pthread_mutex_lock(&v->key_lock);
	if (gen == v->key_gen) {
		pthread_mutex_unlock(&v->key_lock);
		return 0;
	}
	unsigned char *k = crypto_key_new();
	int rc = k ? 0 : ENOMEM;
	/* The rotation renames the new key into place after its commit: until
	 * then it is in master.key.next. That one first: the rename may fall
	 * between the two reads, never before the first. */
	static const char *const files[] = { NEXT_KEY_FILE, VAULT_KEY_FILE };
	bool found = false;
	for (int i = 0; !rc && !found && i < 2; i++) {
		vault_join(path, sizeof path, v->dir, files[i]);
		found = keyfile_load(path, v->pass, v->passlen, k, err, sizeof err) == 0 &&
			opens_store(v, k);
	}
	if (!rc && !found)
		rc = EIO;
	if (!rc) {
		swap_master(v, k);
		v->key_gen = gen;
		log_info("the store's master key was rotated: switched to the new one");
	} else {
		crypto_key_free(k);
		log_err("the store's master key was rotated, but the new one cannot be loaded");
	}
	pthread_mutex_unlock(&v->key_lock);
	return rc;
}

void vault_key_retire(struct vault *v)
{
	pthread_mutex_lock(&v->key_lock);
	if (v->retired && clock_mono_ms() - v->retired_ms > RETIRE_AFTER_MS) {
		crypto_key_free(v->retired);
		v->retired = NULL;
	}
	pthread_mutex_unlock(&v->key_lock);
}

int vault_under_master(struct vault *v, int (*op)(void *ctx, const unsigned char *key),
		       void *ctx)
{
	const unsigned char *first = v->master;
	int rc = op(ctx, first);
	if (rc != EBADMSG)
		return rc;
	pthread_mutex_lock(&v->key_lock);
	if (v->retired && v->retired != first)
		rc = op(ctx, v->retired);
	pthread_mutex_unlock(&v->key_lock);
	if (rc != EBADMSG)
		return rc;
	/* Newer than ours: load it (or another request just did). */
	if (vault_stored_key_gen(v) != v->key_gen)
		vault_key_reload(v);
	const unsigned char *now = v->master;
	return now != first ? op(ctx, now) : rc;
}

int vault_key_current(struct vault *v)
{
	return vault_stored_key_gen(v) == v->key_gen ? 0 : vault_key_reload(v);
}

/* ---- rotation ---- */

struct rekey {
	struct vault *v;
	const unsigned char *old, *fresh;
	int64_t last;
	size_t done;
	int err;
};

static int rekey_one(void *ctx, const struct customer_row *r)
{
	struct rekey *k = ctx;
	struct vault *v = k->v;
	unsigned char wrapped[WRAPPED_KEY_BYTES + 1], sealed[NAME_MAX_BYTES + CRYPTO_OVERHEAD];
	char name[NAME_MAX_BYTES + 1];
	size_t wlen = 0, nlen = 0;
	struct aad a;
	unsigned char *dk = crypto_thread_key();
	k->last = r->id;
	if (!dk)
		return k->err = ENOMEM;
	crypto_aad_name(&a, v->store_id, r->name_mac, STORE_NAME_MAC_BYTES);
	int rc = crypto_open_to(k->old, &a, r->name_sealed, r->name_sealed_len,
				(unsigned char *)name, NAME_MAX_BYTES, &nlen);
	if (!rc)
		rc = store_customer_key(v->db, r->id, wrapped, sizeof wrapped, &wlen);
	if (!rc) {
		name[nlen] = '\0';
		crypto_aad_datakey(&a, v->store_id, name);
		rc = crypto_unwrap_key_into(k->old, &a, wrapped, wlen, dk);
	}
	if (!rc) {
		crypto_wrap_key(k->fresh, &a, dk, wrapped);
		crypto_aad_name(&a, v->store_id, r->name_mac, STORE_NAME_MAC_BYTES);
		crypto_seal(k->fresh, &a, (const unsigned char *)name, nlen, sealed);
		rc = store_customer_rekey(v->db, r->id, sealed, nlen + CRYPTO_OVERHEAD, wrapped,
					  WRAPPED_KEY_BYTES);
	}
	sodium_memzero(dk, CRYPTO_KEY_BYTES);
	sodium_memzero(name, sizeof name);
	if (rc) {
		log_err("rotation: customer #%lld: %s", (long long)r->id,
			rc == EBADMSG ? "does not authenticate" : strerror(rc));
		return k->err = rc == EBADMSG ? EIO : rc;
	}
	k->done++;
	return 0;
}

static int rewrap_meta(struct vault *v, const char *key, void (*aad)(struct aad *,
			const unsigned char *), const unsigned char *old, const unsigned char *fresh)
{
	unsigned char wrapped[WRAPPED_KEY_BYTES], *inner = NULL;
	size_t len = 0;
	struct aad a;
	aad(&a, v->store_id);
	int rc = store_meta_get(v->db, key, wrapped, sizeof wrapped, &len);
	if (rc == ENOENT)
		return 0;
	if (!rc && crypto_unwrap_key(old, &a, wrapped, len, &inner) != 0)
		rc = EIO;
	if (!rc) {
		crypto_wrap_key(fresh, &a, inner, wrapped);
		rc = store_meta_put(v->db, key, wrapped, sizeof wrapped);
	}
	crypto_key_free(inner);
	return rc;
}

/* A crash at the named step, for the tests of recovery (nothing else reads
 * CUSTCTL_TEST_CRASH). */
static void test_crash(const char *step)
{
	const char *at = getenv("CUSTCTL_TEST_CRASH");
	if (at && !strcmp(at, step))
		_exit(99);
}

int vault_key_rotate(struct vault *v, char *err, size_t errlen)
{
	char next[PATH_MAX], cur[PATH_MAX];
	vault_join(next, sizeof next, v->dir, NEXT_KEY_FILE);
	vault_join(cur, sizeof cur, v->dir, VAULT_KEY_FILE);
	unsigned char *fresh = crypto_key_new_random();
	if (!fresh) {
		snprintf(err, errlen, _("out of memory"));
		return ENOMEM;
	}
	pthread_mutex_lock(&v->key_lock);
	const unsigned char *old = v->master;
	/* 1. The new key beside the old, wrapped as the old one is. */
	unlink(next);
	int rc = keyfile_create(next, fresh, v->pass, v->passlen, err, errlen);
	if (!rc && (rc = fsync_dir(v->dir)) != 0)
		snprintf(err, errlen, "%s: %s", v->dir, strerror(rc));
	/* 2. The audit signing key sealed under it too (the old seal stays). */
	if (!rc && v->audit && (rc = audit_reseal(v->audit, fresh)) != 0)
		snprintf(err, errlen, _("the audit log: %s"), strerror(rc));
	test_crash("before-commit");
	/* 3. Everything the master key wraps, in one transaction. */
	struct rekey k = { v, old, fresh, 0, 0, 0 };
	if (!rc && !(rc = db_begin(v->db, true))) {
		while (!rc && !k.err) {
			size_t before = k.done;
			rc = store_customer_list(v->db, k.last, 512, rekey_one, &k);
			if (k.done == before)
				break;
		}
		rc = rc ? rc : k.err;
		if (!rc)
			rc = rewrap_meta(v, "row_key", vault_row_key_aad, old, fresh);
		if (!rc)
			rc = rewrap_meta(v, "name_key", name_key_aad, old, fresh);
		if (!rc)
			rc = put_key_gen(v, v->key_gen + 1);
		if (!rc)
			rc = db_commit(v->db);
		else
			db_rollback(v->db);
		if (rc)
			snprintf(err, errlen, _("cannot rewrap the store's keys: %s; nothing changed"),
				 strerror(rc));
	}
	if (rc) {
		unlink(next);
		pthread_mutex_unlock(&v->key_lock);
		crypto_key_free(fresh);
		return rc;
	}
	test_crash("after-commit");
	/* 4. The new key file in place; 5. the audit log's old seal gone. From
	 * the commit on, a crash is finished by the next open (the key in .next
	 * opens the store; the log's second seal opens the log). */
	if (rename(next, cur) != 0 || fsync_dir(v->dir) != 0)
		log_err("rotation: %s stays in place of %s until the next open: %s", NEXT_KEY_FILE,
			VAULT_KEY_FILE, strerror(errno));
	if (v->audit)
		audit_reseal_done(v->audit);
	v->key_gen++;
	swap_master(v, fresh);
	crypto_key_free(v->retired); /* this process is done with it */
	v->retired = NULL;
	pthread_mutex_unlock(&v->key_lock);
	snprintf(err, errlen, "%zu customers", k.done);
	return 0;
}

int vault_key_passphrase(struct vault *v, const char *newpass, size_t newlen, char *err,
			 size_t errlen)
{
	char tmp[PATH_MAX], cur[PATH_MAX];
	vault_join(tmp, sizeof tmp, v->dir, VAULT_KEY_FILE ".tmp");
	vault_join(cur, sizeof cur, v->dir, VAULT_KEY_FILE);
	unlink(tmp);
	int rc = keyfile_create(tmp, v->master, newpass, newlen, err, errlen);
	if (!rc && (rename(tmp, cur) != 0 || fsync_dir(v->dir) != 0)) {
		rc = errno ? errno : EIO;
		snprintf(err, errlen, "%s: %s", cur, strerror(rc));
	}
	if (rc)
		unlink(tmp);
	return rc;
}

/* ---- fresh data keys: every version re-encrypted ---- */

struct version_ref {
	int64_t field_id, version;
};

struct version_list {
	struct version_ref *v;
	size_t n, cap;
};

static int collect(void *ctx, int64_t field_id, const char *field, int64_t version,
		   const void *sealed, size_t len)
{
	struct version_list *l = ctx;
	(void)field;
	(void)sealed;
	(void)len;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct version_ref *g = realloc(l->v, cap * sizeof *g);
		if (!g)
			return ENOMEM;
		l->v = g;
		l->cap = cap;
	}
	l->v[l->n++] = (struct version_ref){ field_id, version };
	return 0;
}

int vault_rekey_customer(struct vault *v, int64_t customer_id, size_t *versions)
{
	unsigned char wrapped[WRAPPED_KEY_BYTES + 1];
	struct version_list l = { 0 };
	struct customer c;
	struct secbuf pt = SECBUF_INIT;
	size_t wlen = 0;
	struct aad a;
	unsigned char *old = NULL, *fresh = crypto_key_new_random();
	*versions = 0;
	if (!fresh)
		return ENOMEM;
	int rc = db_begin(v->db, true);
	if (rc) {
		crypto_key_free(fresh);
		return rc;
	}
	rc = vault_customer_get(v, customer_id, &c);
	if (!rc)
		rc = store_customer_key(v->db, customer_id, wrapped, sizeof wrapped, &wlen);
	if (!rc) {
		crypto_aad_datakey(&a, v->store_id, c.name);
		rc = crypto_unwrap_key(v->master, &a, wrapped, wlen, &old) ? EIO : 0;
	}
	if (!rc)
		rc = store_versions_of(v->db, customer_id, collect, &l);
	struct sealed_value sv = { 0 };
	for (size_t i = 0; !rc && i < l.n; i++) {
		rc = store_sealed_fetch(v->db, l.v[i].field_id, l.v[i].version, &sv);
		if (rc)
			break;
		crypto_aad_value(&a, v->store_id, c.name, sv.row.name, l.v[i].version);
		rc = crypto_open(old, &a, sv.blob, sv.blob_len, &pt) ? EIO : 0;
		unsigned char *sealed = rc ? NULL : malloc(pt.len + CRYPTO_OVERHEAD);
		if (!rc && !sealed)
			rc = ENOMEM;
		if (!rc) {
			crypto_seal(fresh, &a, pt.data, pt.len, sealed);
			rc = store_version_reseal(v->db, l.v[i].field_id, l.v[i].version, sealed,
						  pt.len + CRYPTO_OVERHEAD);
		}
		free(sealed);
		secbuf_truncate(&pt, 0);
		if (!rc)
			(*versions)++;
	}
	store_sealed_free(&sv);
	if (!rc) {
		crypto_aad_datakey(&a, v->store_id, c.name);
		crypto_wrap_key(v->master, &a, fresh, wrapped);
		unsigned char sealed_name[NAME_MAX_BYTES + CRYPTO_OVERHEAD];
		struct customer_row r;
		rc = store_customer_get(v->db, customer_id, &r);
		if (!rc) {
			memcpy(sealed_name, r.name_sealed, r.name_sealed_len);
			rc = store_customer_rekey(v->db, customer_id, sealed_name, r.name_sealed_len,
						  wrapped, WRAPPED_KEY_BYTES);
		}
	}
	if (!rc)
		rc = db_commit(v->db);
	else
		db_rollback(v->db);
	free(l.v);
	secbuf_free(&pt);
	sodium_memzero(&c, sizeof c);
	crypto_key_free(old);
	crypto_key_free(fresh);
	return rc;
}
