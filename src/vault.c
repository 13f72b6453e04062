#include "vault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "keyfile.h"
#include "log.h"
#include "names.h"

#define POLICY_FILE_MAX (1024 * 1024)

int64_t vault_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Paths are checked for length where a store is named (path_fits), so joins
 * below cannot truncate; a truncation would still be caught here. */
static void join(char *out, size_t cap, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, cap, "%s/%s", dir, name) >= cap)
		out[0] = '\0'; /* an empty path opens nothing */
}

static bool path_fits(const char *dir, char *err, size_t errlen)
{
	if (strlen(dir) + 2 * NAME_MAX_BYTES + 2 < PATH_MAX)
		return true;
	snprintf(err, errlen, "%s: path is too long", dir);
	return false;
}

/* Copies the regular files of SRC (not recursive) into the new directory DST. */
static int copy_policy(const char *src, const char *dst, char *err, size_t errlen)
{
	DIR *d = opendir(src);
	struct dirent *e;
	int rc = 0;
	char *buf = NULL;

	if (!d) {
		rc = errno;
		snprintf(err, errlen, "%s: %s", src, strerror(rc));
		return rc;
	}
	if (mkdir(dst, 0755) != 0) {
		rc = errno;
		snprintf(err, errlen, "%s: %s", dst, strerror(rc));
		goto out;
	}
	buf = malloc(POLICY_FILE_MAX);
	if (!buf) {
		rc = ENOMEM;
		goto out;
	}
	while ((e = readdir(d))) {
		char from[PATH_MAX], to[PATH_MAX];
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		join(from, sizeof from, src, e->d_name);
		join(to, sizeof to, dst, e->d_name);
		int in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (in < 0 || fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
			if (in >= 0)
				close(in);
			continue; /* only regular files are policy */
		}
		ssize_t n = read(in, buf, POLICY_FILE_MAX);
		close(in);
		if (n < 0 || n >= POLICY_FILE_MAX) {
			rc = n < 0 ? errno : EFBIG;
			snprintf(err, errlen, "%s: %s", from, strerror(rc));
			goto out;
		}
		int outfd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (outfd < 0 || write(outfd, buf, (size_t)n) != n || fsync(outfd) != 0) {
			rc = errno ? errno : EIO;
			snprintf(err, errlen, "%s: %s", to, strerror(rc));
			if (outfd >= 0)
				close(outfd);
			goto out;
		}
		close(outfd);
	}
out:
	free(buf);
	closedir(d);
	return rc;
}

/* Removes what vault_init created, so a failed init changes nothing. */
static void remove_partial(const char *dir)
{
	char p[PATH_MAX];
	static const char *const files[] = { STORE_DB_FILE, STORE_DB_FILE "-wal",
					     STORE_DB_FILE "-shm", VAULT_KEY_FILE };
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		join(p, sizeof p, dir, files[i]);
		unlink(p);
	}
	join(p, sizeof p, dir, VAULT_POLICY_DIR);
	DIR *d = opendir(p);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			char f[PATH_MAX];
			if (e->d_name[0] == '.')
				continue;
			join(f, sizeof f, p, e->d_name);
			unlink(f);
		}
		closedir(d);
		rmdir(p);
	}
	rmdir(dir);
}

int vault_init(const char *dir, const char *policy_dir, const char *pass, size_t passlen,
	       FILE *errs, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct policy *pol = NULL;
	struct store *st = NULL;
	unsigned char *master = NULL;
	unsigned char store_id[STORE_ID_BYTES];
	int rc;

	/* Check everything before creating anything. */
	if (!path_fits(dir, err, errlen) || !path_fits(policy_dir, err, errlen))
		return ENAMETOOLONG;
	if (policy_load(policy_dir, errs, &pol) != 0) {
		snprintf(err, errlen, "the policy in %s has errors; nothing was created", policy_dir);
		return EINVAL;
	}
	policy_free(pol);
	if (mkdir(dir, 0700) != 0) {
		rc = errno;
		if (rc == EEXIST)
			snprintf(err, errlen, "%s already exists; nothing was changed", dir);
		else
			snprintf(err, errlen, "%s: %s", dir, strerror(rc));
		return rc;
	}

	join(path, sizeof path, dir, VAULT_POLICY_DIR);
	rc = copy_policy(policy_dir, path, err, errlen);
	if (rc)
		goto fail;

	master = crypto_key_new_random();
	if (!master) {
		rc = ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	join(path, sizeof path, dir, VAULT_KEY_FILE);
	rc = keyfile_create(path, master, pass, passlen, err, errlen);
	if (rc)
		goto fail;

	join(path, sizeof path, dir, STORE_DB_FILE);
	rc = store_open(path, true, &st);
	if (rc) {
		snprintf(err, errlen, "%s: cannot create database: %s", path, strerror(rc));
		goto fail;
	}
	randombytes_buf(store_id, sizeof store_id);
	char created[32];
	snprintf(created, sizeof created, "%lld", (long long)vault_now_ns());
	rc = store_begin(st, true);
	if (!rc)
		rc = store_meta_put(st, "store_id", store_id, sizeof store_id);
	if (!rc)
		rc = store_meta_put(st, "format", "1", 1);
	if (!rc)
		rc = store_meta_put(st, "created_ns", created, strlen(created));
	if (!rc)
		rc = store_commit(st);
	if (rc) {
		store_rollback(st);
		snprintf(err, errlen, "%s: cannot initialise database: %s", path, strerror(rc));
		goto fail;
	}
	store_close(st);
	crypto_key_free(master);
	return 0;
fail:
	store_close(st);
	crypto_key_free(master);
	remove_partial(dir);
	return rc;
}

int vault_needs_passphrase(const char *dir, bool *needs, char *err, size_t errlen)
{
	char path[PATH_MAX];
	join(path, sizeof path, dir, VAULT_KEY_FILE);
	return keyfile_needs_passphrase(path, needs, err, errlen);
}

int vault_open(const char *dir, const char *pass, size_t passlen, FILE *errs,
	       struct vault **out, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat sb;
	int rc;
	struct vault *v = calloc(1, sizeof *v);

	if (!path_fits(dir, err, errlen)) {
		free(v);
		return ENAMETOOLONG;
	}
	if (!v || !(v->dir = strdup(dir))) {
		free(v);
		snprintf(err, errlen, "out of memory");
		return ENOMEM;
	}
	v->have_cache_key = pthread_key_create(&v->cache_key, free) == 0;
	if (lstat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		rc = errno ? errno : ENOTDIR;
		snprintf(err, errlen, "%s: not a store directory", dir);
		goto fail;
	}
	if (sb.st_uid != geteuid() || (sb.st_mode & 077)) {
		rc = EACCES;
		snprintf(err, errlen, "%s: refusing a store not owned by uid %u or open to others "
			 "(mode %04o)", dir, (unsigned)geteuid(), (unsigned)(sb.st_mode & 07777));
		goto fail;
	}
	join(path, sizeof path, dir, VAULT_POLICY_DIR);
	if (policy_load(path, errs, &v->policy) != 0) {
		rc = EINVAL;
		snprintf(err, errlen, "the store's policy has errors");
		goto fail;
	}
	v->master = crypto_key_new();
	if (!v->master) {
		rc = ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	join(path, sizeof path, dir, VAULT_KEY_FILE);
	rc = keyfile_load(path, pass, passlen, v->master, err, errlen);
	if (rc)
		goto fail;
	v->name_key = crypto_name_key(v->master);
	if (!v->name_key) {
		rc = ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	sodium_mprotect_readonly(v->master);
	sodium_mprotect_readonly(v->name_key);
	rc = vault_store_attach(v, err, errlen);
	if (rc)
		goto fail;
	*out = v;
	return 0;
fail:
	vault_close(v);
	return rc;
}

void vault_store_detach(struct vault *v)
{
	store_close(v->st);
	v->st = NULL;
	audit_close(v->audit);
	v->audit = NULL;
}

int vault_store_attach(struct vault *v, char *err, size_t errlen)
{
	char path[PATH_MAX];
	unsigned char id[STORE_ID_BYTES];
	size_t idlen = 0;

	join(path, sizeof path, v->dir, STORE_DB_FILE);
	int rc = store_open(path, false, &v->st);
	if (rc) {
		snprintf(err, errlen, "%s: cannot open database: %s", path, strerror(rc));
		return rc;
	}
	rc = store_meta_get(v->st, "store_id", id, sizeof id, &idlen);
	if (rc || idlen != STORE_ID_BYTES) {
		snprintf(err, errlen, "%s: not a custfs database (no store id)", path);
		return rc ? rc : EIO;
	}
	if (v->have_store_id && memcmp(id, v->store_id, sizeof id) != 0) {
		snprintf(err, errlen, "%s: the database was replaced by another store's", path);
		return EIO;
	}
	memcpy(v->store_id, id, sizeof id);
	v->have_store_id = true;
	err[0] = '\0';
	return audit_open(v->dir, v->master, v->store_id, &v->audit, err, errlen);
}

void vault_close(struct vault *v)
{
	if (!v)
		return;
	store_close(v->st);
	audit_close(v->audit);
	if (v->have_cache_key) {
		free(pthread_getspecific(v->cache_key));
		pthread_key_delete(v->cache_key);
	}
	crypto_key_free(v->master);
	crypto_key_free(v->name_key);
	policy_free(v->policy);
	free(v->dir);
	free(v);
}

int vault_customer_create(struct vault *v, const char *name, uid_t uid, int64_t *id)
{
	unsigned char wrapped[WRAPPED_KEY_BYTES];
	unsigned char mac[STORE_NAME_MAC_BYTES];
	unsigned char sealed[NAME_MAX_BYTES + CRYPTO_OVERHEAD];
	size_t len = strlen(name);
	struct aad a;

	if (!name_ok(name, false))
		return EINVAL;
	crypto_name_mac(v->name_key, name, len, mac);
	crypto_aad_name(&a, v->store_id, mac, sizeof mac);
	crypto_seal(v->master, &a, (const unsigned char *)name, len, sealed);
	unsigned char *dk = crypto_key_new_random();
	if (!dk)
		return ENOMEM;
	crypto_aad_datakey(&a, v->store_id, name);
	crypto_wrap_key(v->master, &a, dk, wrapped);
	crypto_key_free(dk);
	return store_customer_insert(v->st, mac, sealed, len + CRYPTO_OVERHEAD, wrapped,
				     sizeof wrapped, uid, vault_now_ns(), id);
}

/* Customers never change their name nor go away (R3.4), so their id, name
 * and time can be cached without invalidation. Each thread has a small
 * direct-mapped cache (no lock); memory is bounded whatever the store's size. */
#define CUSTOMER_CACHE 256

struct customer_cache {
	struct customer by_id[CUSTOMER_CACHE];
	struct {
		unsigned char mac[STORE_NAME_MAC_BYTES];
		struct customer c;
	} by_mac[CUSTOMER_CACHE];
};

static struct customer_cache *cache_of(struct vault *v)
{
	if (!v->have_cache_key)
		return NULL;
	struct customer_cache *cc = pthread_getspecific(v->cache_key);
	if (!cc && (cc = calloc(1, sizeof *cc)))
		pthread_setspecific(v->cache_key, cc);
	return cc;
}

/* Opens a stored name and checks it against its lookup hash. */
static int open_name(struct vault *v, const unsigned char *mac, const void *sealed,
		     size_t sealed_len, char *out)
{
	unsigned char check[STORE_NAME_MAC_BYTES];
	struct aad a;
	size_t len = 0;

	crypto_aad_name(&a, v->store_id, mac, STORE_NAME_MAC_BYTES);
	int rc = crypto_open_to(v->master, &a, sealed, sealed_len, (unsigned char *)out,
				NAME_MAX_BYTES, &len);
	if (rc == 0) {
		out[len] = '\0';
		crypto_name_mac(v->name_key, out, len, check);
		if (sodium_memcmp(check, mac, sizeof check) != 0 || strlen(out) != len)
			rc = EBADMSG;
	}
	if (rc) {
		out[0] = '\0';
		log_err("integrity: a customer name does not authenticate (tampered store)");
		return EIO;
	}
	return 0;
}

static int customer_from_row(struct vault *v, const struct customer_row *r, struct customer *c)
{
	c->id = r->id;
	c->created_ns = r->created_ns;
	return open_name(v, r->name_mac, r->name_sealed, r->name_sealed_len, c->name);
}

int vault_customer_by_name(struct vault *v, const char *name, struct customer *out)
{
	unsigned char mac[STORE_NAME_MAC_BYTES];
	struct customer_row r;
	size_t len = strlen(name);
	if (len > NAME_MAX_BYTES)
		return ENOENT;
	crypto_name_mac(v->name_key, name, len, mac);
	struct customer_cache *cc = cache_of(v);
	size_t slot = ((size_t)mac[0] | (size_t)mac[1] << 8) % CUSTOMER_CACHE;
	if (cc && cc->by_mac[slot].c.id && memcmp(cc->by_mac[slot].mac, mac, sizeof mac) == 0) {
		*out = cc->by_mac[slot].c;
		return 0;
	}
	int rc = store_customer_by_mac(v->st, mac, &r);
	if (!rc)
		rc = customer_from_row(v, &r, out);
	if (!rc && cc) {
		memcpy(cc->by_mac[slot].mac, mac, sizeof mac);
		cc->by_mac[slot].c = *out;
	}
	return rc;
}

int vault_customer_get(struct vault *v, int64_t id, struct customer *out)
{
	struct customer_row r;
	struct customer_cache *cc = cache_of(v);
	size_t slot = (size_t)id % CUSTOMER_CACHE;
	if (cc && cc->by_id[slot].id == id && id != 0) {
		*out = cc->by_id[slot];
		return 0;
	}
	int rc = store_customer_get(v->st, id, &r);
	if (!rc)
		rc = customer_from_row(v, &r, out);
	if (!rc && cc)
		cc->by_id[slot] = *out;
	return rc;
}

struct list_ctx {
	struct vault *v;
	int (*fn)(void *ctx, const struct customer *c);
	void *ctx;
};

static int list_one(void *p, const struct customer_row *r)
{
	struct list_ctx *l = p;
	struct customer c;
	/* A row that does not authenticate is left out (and logged), not served;
	 * the rest of the listing still works. */
	if (customer_from_row(l->v, r, &c) != 0)
		return 0;
	return l->fn(l->ctx, &c);
}

int vault_customer_list(struct vault *v, int64_t after, int max,
			int (*fn)(void *ctx, const struct customer *c), void *ctx)
{
	struct list_ctx l = { v, fn, ctx };
	return store_customer_list(v->st, after, max, list_one, &l);
}

struct read_ctx {
	struct vault *v;
	struct secbuf *out;
	int (*gate)(void *ctx, const struct field_row *f);
	void *gctx;
};

static int open_sealed(void *p, const struct sealed_view *sv)
{
	struct read_ctx *ctx = p;
	struct aad a;
	char customer[NAME_MAX_BYTES + 1];
	unsigned char *dk = crypto_thread_key();

	if (!dk)
		return ENOMEM;
	/* The caller's decision comes before any decryption. */
	int rc = ctx->gate ? ctx->gate(ctx->gctx, &sv->row) : 0;
	if (rc)
		return rc;
	if (!sv->sealed) /* created, never written */
		return secbuf_truncate(ctx->out, 0);
	rc = open_name(ctx->v, sv->name_mac, sv->name_sealed, sv->name_sealed_len, customer);
	if (rc)
		return rc;
	crypto_aad_datakey(&a, ctx->v->store_id, customer);
	rc = crypto_unwrap_key_into(ctx->v->master, &a, sv->wrapped_key, sv->wrapped_len, dk);
	if (rc == 0) {
		crypto_aad_value(&a, ctx->v->store_id, customer, sv->field, sv->version);
		rc = crypto_open(dk, &a, sv->sealed, sv->sealed_len, ctx->out);
		sodium_memzero(dk, CRYPTO_KEY_BYTES);
	}
	if (rc == EBADMSG) {
		log_err("integrity: customer '%s' field '%s' version %lld does not authenticate "
			"(tampered or misplaced ciphertext); nothing served",
			customer, sv->field, (long long)sv->version);
		return EIO;
	}
	return rc;
}

int vault_read(struct vault *v, int64_t field_id, int64_t version, struct secbuf *out)
{
	struct read_ctx ctx = { v, out, NULL, NULL };
	int rc = store_sealed_get(v->st, field_id, version, open_sealed, &ctx);
	if (rc)
		secbuf_truncate(out, 0);
	return rc;
}

int vault_read_gated(struct vault *v, int64_t field_id,
		     int (*gate)(void *ctx, const struct field_row *f), void *gctx,
		     struct secbuf *out)
{
	struct read_ctx ctx = { v, out, gate, gctx };
	int rc = store_sealed_get(v->st, field_id, 0, open_sealed, &ctx);
	if (rc)
		secbuf_truncate(out, 0);
	return rc;
}

int vault_write_in_txn(struct vault *v, const struct catalog *cat, int64_t customer_id,
		       const char *name, const void *pt, size_t len, uid_t uid,
		       struct write_result *res)
{
	unsigned char wrapped[WRAPPED_KEY_BYTES + 1];
	struct customer cust;
	struct field_row f;
	struct aad a;
	unsigned char *dk = NULL, *sealed = NULL;
	size_t wlen = 0;
	int rc;

	res->why = NULL;
	const struct field_def *def = catalog_field(cat, name);
	if (!def) {
		res->why = "not a field of the catalogue";
		return EINVAL;
	}
	if (len > VALUE_MAX_BYTES) {
		res->why = "value is larger than 1 MiB";
		return EFBIG;
	}
	res->why = value_format_problem(def->format, pt, len);
	if (res->why)
		return EINVAL;

	rc = vault_customer_get(v, customer_id, &cust);
	if (!rc)
		rc = store_customer_key(v->st, customer_id, wrapped, sizeof wrapped, &wlen);
	if (!rc)
		rc = store_field_ensure(v->st, customer_id, name, &res->field_id);
	if (!rc)
		rc = store_field_get(v->st, res->field_id, &f);
	if (rc)
		return rc;
	dk = crypto_thread_key();
	if (!dk)
		return ENOMEM;
	crypto_aad_datakey(&a, v->store_id, cust.name);
	rc = crypto_unwrap_key_into(v->master, &a, wrapped, wlen, dk);
	if (rc == EBADMSG) {
		log_err("integrity: data key of customer '%s' does not authenticate", cust.name);
		return EIO;
	}
	sealed = malloc(len + CRYPTO_OVERHEAD); /* ciphertext: ordinary memory is fine */
	if (!sealed) {
		sodium_memzero(dk, CRYPTO_KEY_BYTES);
		return ENOMEM;
	}
	res->version = f.version + 1;
	crypto_aad_value(&a, v->store_id, cust.name, name, res->version);
	crypto_seal(dk, &a, pt, len, sealed);
	sodium_memzero(dk, CRYPTO_KEY_BYTES);
	rc = store_version_append(v->st, res->field_id, res->version, vault_now_ns(), uid,
				  (int64_t)len, sealed, len + CRYPTO_OVERHEAD);
	free(sealed);
	return rc;
}

int vault_write(struct vault *v, const struct catalog *cat, int64_t customer_id, const char *name,
		const void *pt, size_t len, uid_t uid, bool durable, struct write_result *res)
{
	int rc = store_begin(v->st, durable);
	if (rc)
		return rc;
	rc = vault_write_in_txn(v, cat, customer_id, name, pt, len, uid, res);
	if (rc) {
		store_rollback(v->st);
		return rc;
	}
	return store_commit(v->st);
}
