#include "vault.h"
#include "i18n.h"
#include "backup.h"
#include "vault_internal.h"

#include "erasure.h"
#include "proposals.h"

#include <errno.h>
#include <stdarg.h>
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
#include "cname.h"
#include "names.h"
#include "staff.h"
#include "workflow.h"
#include "clock.h"

static void cache_free(void *p)
{
	if (p)
		sodium_free(p);
}

/* Paths are checked for length where a store is named (path_fits), so joins
 * below cannot truncate; a truncation would still be caught here. */
void vault_join(char *out, size_t cap, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, cap, "%s/%s", dir, name) >= cap)
		out[0] = '\0'; /* an empty path opens nothing */
}

static bool path_fits(const char *dir, char *err, size_t errlen)
{
	if (strlen(dir) + 2 * NAME_MAX_BYTES + 2 < PATH_MAX)
		return true;
	snprintf(err, errlen, _("%s: path is too long"), dir);
	return false;
}

/* Removes what vault_init created, so a failed init changes nothing. */
static void remove_partial(const char *dir)
{
	char p[PATH_MAX];
	static const char *const files[] = { STORE_DB_FILE, STORE_DB_FILE "-wal",
					     STORE_DB_FILE "-shm", VAULT_KEY_FILE };
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		vault_join(p, sizeof p, dir, files[i]);
		unlink(p);
	}
	vault_join(p, sizeof p, dir, VAULT_POLICY_DIR);
	policy_remove_dir(p);
	rmdir(dir);
}

int vault_init(const char *dir, const char *policy_dir, const char *pass, size_t passlen,
	       FILE *errs, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct policy *pol = NULL;
	struct db *st = NULL;
	unsigned char *master = NULL;
	unsigned char store_id[STORE_ID_BYTES];
	int rc;

	/* Check everything before creating anything. */
	if (!path_fits(dir, err, errlen) || !path_fits(policy_dir, err, errlen))
		return ENAMETOOLONG;
	if (policy_load(policy_dir, errs, &pol) != 0) {
		snprintf(err, errlen, _("the policy in %s has errors; nothing was created"), policy_dir);
		return EINVAL;
	}
	policy_free(pol);
	if (mkdir(dir, 0700) != 0) {
		rc = errno;
		if (rc == EEXIST)
			snprintf(err, errlen, _("%s already exists; nothing was changed"), dir);
		else
			snprintf(err, errlen, "%s: %s", dir, strerror(rc));
		return rc;
	}

	vault_join(path, sizeof path, dir, VAULT_POLICY_DIR);
	rc = policy_install(path, policy_dir, NULL, 0, NULL, NULL, errs, NULL);
	if (rc) {
		snprintf(err, errlen, _("cannot copy the policy from %s: %s"), policy_dir,
			 strerror(rc));
		goto fail;
	}

	master = crypto_key_new_random();
	if (!master) {
		rc = ENOMEM;
		snprintf(err, errlen, _("out of memory"));
		goto fail;
	}
	vault_join(path, sizeof path, dir, VAULT_KEY_FILE);
	rc = keyfile_create(path, master, pass, passlen, err, errlen);
	if (rc)
		goto fail;

	vault_join(path, sizeof path, dir, STORE_DB_FILE);
	rc = store_open(path, true, &st);
	if (rc) {
		snprintf(err, errlen, _("%s: cannot create database: %s"), path, strerror(rc));
		goto fail;
	}
	randombytes_buf(store_id, sizeof store_id);
	char created[32];
	snprintf(created, sizeof created, "%lld", (long long)clock_now_ns());
	rc = db_begin(st, true);
	if (!rc)
		rc = store_meta_put(st, "store_id", store_id, sizeof store_id);
	if (!rc)
		rc = store_meta_put(st, "format", "1", 1);
	if (!rc)
		rc = store_meta_put(st, "created_ns", created, strlen(created));
	if (!rc)
		rc = db_commit(st);
	if (rc) {
		db_rollback(st);
		snprintf(err, errlen, _("%s: cannot initialise database: %s"), path, strerror(rc));
		goto fail;
	}
	db_close(st);
	crypto_key_free(master);
	return 0;
fail:
	db_close(st);
	crypto_key_free(master);
	remove_partial(dir);
	return rc;
}

int vault_needs_passphrase(const char *dir, bool *needs, char *err, size_t errlen)
{
	char path[PATH_MAX];
	vault_join(path, sizeof path, dir, VAULT_KEY_FILE);
	return keyfile_needs_passphrase(path, needs, err, errlen);
}

int vault_open(const char *dir, const char *pass, size_t passlen, FILE *errs,
	       struct vault **out, char *err, size_t errlen)
{
	return vault_open_keyfile(dir, NULL, pass, passlen, errs, out, err, errlen);
}

int vault_open_keyfile(const char *dir, const char *key_file, const char *pass, size_t passlen,
		       FILE *errs, struct vault **out, char *err, size_t errlen)
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
		snprintf(err, errlen, _("out of memory"));
		return ENOMEM;
	}
	v->have_cache_key = pthread_key_create(&v->cache_key, cache_free) == 0;
	pthread_mutex_init(&v->key_lock, NULL);
	if (lstat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		rc = errno ? errno : ENOTDIR;
		snprintf(err, errlen, _("%s: not a store directory"), dir);
		goto fail;
	}
	if (sb.st_uid != geteuid() || (sb.st_mode & 077)) {
		rc = EACCES;
		snprintf(err, errlen, _("%s: refusing a store not owned by uid %u or open to others "
			 "(mode %04o)"), dir, (unsigned)geteuid(), (unsigned)(sb.st_mode & 07777));
		goto fail;
	}
	vault_join(path, sizeof path, dir, VAULT_POLICY_DIR);
	if (policy_load(path, errs, &v->policy) != 0) {
		rc = EINVAL;
		snprintf(err, errlen, _("the store's policy has errors"));
		goto fail;
	}
	v->master = crypto_key_new();
	if (!v->master) {
		rc = ENOMEM;
		snprintf(err, errlen, _("out of memory"));
		goto fail;
	}
	if (key_file && strlen(key_file) >= sizeof path) {
		rc = ENAMETOOLONG;
		snprintf(err, errlen, _("%s: path is too long"), key_file);
		goto fail;
	}
	if (key_file)
		snprintf(path, sizeof path, "%s", key_file);
	else
		vault_join(path, sizeof path, dir, VAULT_KEY_FILE);
	rc = keyfile_load(path, pass, passlen, v->master, err, errlen);
	if (rc)
		goto fail;
	if (pass && passlen) { /* kept, locked, to load the key a rotation makes */
		v->pass = sodium_malloc(passlen + 1);
		if (!v->pass) {
			rc = ENOMEM;
			snprintf(err, errlen, _("out of memory"));
			goto fail;
		}
		memcpy(v->pass, pass, passlen);
		v->pass[passlen] = '\0';
		v->passlen = passlen;
	}
	sodium_mprotect_readonly(v->master);
	rc = vault_store_attach(v, err, errlen);
	if (rc)
		goto fail;
	*out = v;
	return 0;
fail:
	vault_close(v);
	return rc;
}

/* ---- the fields' MACs: a moved-back version pointer does not authenticate ---- */

void vault_row_key_aad(struct aad *a, const unsigned char store_id[STORE_ID_BYTES])
{
	a->len = 0;
	memcpy(a->buf, "custfs/row-key/1", 16);
	memcpy(a->buf + 16, store_id, STORE_ID_BYTES);
	a->len = 16 + STORE_ID_BYTES;
}

void vault_row_mac(const struct vault *v, const struct field_row *f,
		   unsigned char out[STORE_ROW_MAC_BYTES])
{
	crypto_generichash_state h;
	unsigned char n[8 * 5];
	int64_t nums[5] = { f->id, f->customer_id, f->version, f->size, f->mtime_ns };
	for (int i = 0; i < 5; i++)
		for (int b = 0; b < 8; b++)
			n[8 * i + b] = (unsigned char)((uint64_t)nums[i] >> (56 - 8 * b));
	crypto_generichash_init(&h, v->row_key, CRYPTO_KEY_BYTES, STORE_ROW_MAC_BYTES);
	crypto_generichash_update(&h, (const unsigned char *)"custfs/row/1", 12);
	crypto_generichash_update(&h, v->store_id, STORE_ID_BYTES);
	crypto_generichash_update(&h, n, sizeof n);
	crypto_generichash_update(&h, (const unsigned char *)f->name, strlen(f->name) + 1);
	crypto_generichash_final(&h, out, STORE_ROW_MAC_BYTES);
}

/* Something in the store does not authenticate: the log says what, and so
 * does the audit log (R5.1: an integrity error is an incident). EIO. */
static int integrity(struct vault *v, int64_t customer_id, const char *field,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int integrity(struct vault *v, int64_t customer_id, const char *field,
		     const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	log_err("integrity: %s; nothing served", what);
	struct audit_event ev = {
		.uid = getuid(), .pid = getpid(), .comm = "custfs", .customer_id = customer_id,
		.field = field ? field : "", .action = "integrity", .allow = false,
		.rule = "integrity", .reason = what,
	};
	if (v->audit)
		audit_note(v->audit, &ev);
	return EIO;
}

int vault_check_row(struct vault *v, const struct field_row *f)
{
	unsigned char want[STORE_ROW_MAC_BYTES];
	vault_row_mac(v, f, want);
	if (f->has_mac && sodium_memcmp(want, f->mac, sizeof want) == 0 &&
	    f->max_version <= f->version)
		return 0;
	return integrity(v, f->customer_id, f->name,
			 "field #%lld of customer #%lld: its row does not authenticate (current "
			 "version %lld%s)", (long long)f->id, (long long)f->customer_id,
			 (long long)f->version,
			 f->max_version > f->version ? ", a newer version exists: moved back" : "");
}

static int mac_one(void *ctx, const struct field_row *f)
{
	struct vault *v = ctx;
	unsigned char mac[STORE_ROW_MAC_BYTES];
	vault_row_mac(v, f, mac);
	return store_field_set_mac(v->db, f->id, mac);
}

/* The key of the fields' MACs: random, wrapped by the master key. A store
 * made before it existed gets one now, and every row its MAC, at once. */
static int load_row_key(struct vault *v)
{
	unsigned char wrapped[WRAPPED_KEY_BYTES];
	size_t len = 0;
	struct aad a;
	vault_row_key_aad(&a, v->store_id);
	int rc = store_meta_get(v->db, "row_key", wrapped, sizeof wrapped, &len);
	if (rc == 0)
		return crypto_unwrap_key(v->master, &a, wrapped, len, &v->row_key) ? EIO : 0;
	if (rc != ENOENT)
		return rc;
	v->row_key = crypto_key_new_random();
	if (!v->row_key)
		return ENOMEM;
	crypto_wrap_key(v->master, &a, v->row_key, wrapped);
	rc = db_begin(v->db, true);
	if (!rc)
		rc = store_meta_put(v->db, "row_key", wrapped, sizeof wrapped);
	if (!rc)
		rc = store_field_all(v->db, mac_one, v);
	if (!rc)
		rc = db_commit(v->db);
	else
		db_rollback(v->db);
	if (rc) {
		crypto_key_free(v->row_key);
		v->row_key = NULL;
	}
	return rc;
}

int vault_field_get(struct vault *v, int64_t field_id, struct field_row *out)
{
	int rc = store_field_get(v->db, field_id, out);
	return rc ? rc : vault_check_row(v, out);
}

int vault_field_by_name(struct vault *v, int64_t customer_id, const char *name,
			struct field_row *out)
{
	int rc = store_field_by_name(v->db, customer_id, name, out);
	return rc ? rc : vault_check_row(v, out);
}

struct field_list_ctx {
	struct vault *v;
	int (*fn)(void *ctx, const struct field_row *f);
	void *ctx;
};

static int list_checked(void *p, const struct field_row *f)
{
	struct field_list_ctx *l = p;
	struct field_row row = *f;
	row.max_version = row.version; /* the listing does not read the versions */
	/* A row that does not authenticate is left out (and logged), not shown. */
	return vault_check_row(l->v, &row) ? 0 : l->fn(l->ctx, f);
}

int vault_field_list(struct vault *v, int64_t customer_id,
		     int (*fn)(void *ctx, const struct field_row *f), void *ctx)
{
	struct field_list_ctx l = { v, fn, ctx };
	return store_field_list(v->db, customer_id, list_checked, &l);
}

int vault_field_ensure(struct vault *v, int64_t customer_id, const char *name, int64_t *id)
{
	struct field_row f;
	int rc = store_field_ensure(v->db, customer_id, name, id);
	if (!rc)
		rc = store_field_get(v->db, *id, &f);
	if (!rc && !f.has_mac && f.version == 0) {
		unsigned char mac[STORE_ROW_MAC_BYTES];
		vault_row_mac(v, &f, mac);
		rc = store_field_set_mac(v->db, f.id, mac);
	}
	return rc;
}

static int fold_mac(const struct vault *v, const char *nfc, unsigned char out[STORE_NAME_MAC_BYTES]);
static int customer_from_row(struct vault *v, const struct customer_row *r, struct customer *c);

static int fold_one(void *ctx, const struct customer_row *r)
{
	struct vault *v = ctx;
	struct customer c;
	unsigned char fold[STORE_NAME_MAC_BYTES];
	if (customer_from_row(v, r, &c) != 0 || fold_mac(v, c.name, fold) != 0)
		return 0; /* logged; the row stays without one */
	if (store_customer_set_fold(v->db, r->id, fold) == EEXIST)
		log_warn("customers: #%lld looks the same as another customer's name; new "
			 "customers may not look like either", (long long)r->id);
	sodium_memzero(&c, sizeof c);
	return 0;
}

/* The lookalike keys' version: a store made before them, or with an older
 * kind, gets them (again) now. */
#define FOLD_VERSION "2"

static int fold_old_names(struct vault *v)
{
	char have[8] = "";
	size_t len = 0;
	int rc = db_begin(v->db, true);
	if (!rc && store_meta_get(v->db, "fold_version", have, sizeof have - 1, &len) == 0)
		have[len] = '\0';
	if (!rc && strcmp(have, FOLD_VERSION) != 0) {
		rc = store_customers_clear_fold(v->db);
		if (!rc)
			rc = store_meta_put(v->db, "fold_version", FOLD_VERSION, 1);
	}
	if (!rc)
		rc = store_customers_without_fold(v->db, fold_one, v);
	if (!rc)
		rc = db_commit(v->db);
	else
		db_rollback(v->db);
	return rc;
}

void vault_store_detach(struct vault *v)
{
	db_close(v->db);
	v->db = NULL;
	audit_close(v->audit);
	v->audit = NULL;
}

int vault_store_attach(struct vault *v, char *err, size_t errlen)
{
	char path[PATH_MAX];
	unsigned char id[STORE_ID_BYTES];
	size_t idlen = 0;

	vault_join(path, sizeof path, v->dir, STORE_DB_FILE);
	int rc = store_open(path, false, &v->db);
	if (rc) {
		snprintf(err, errlen, _("%s: cannot open database: %s"), path, strerror(rc));
		return rc;
	}
	rc = store_upgrade(v->db);
	if (!rc)
		rc = staff_schema(v->db);
	if (!rc)
		rc = wf_schema(v->db);
	if (!rc)
		rc = erasure_schema(v->db);
	if (!rc)
		rc = proposal_schema(v->db);
	if (rc) {
		snprintf(err, errlen, _("%s: cannot create the register's tables: %s"), path,
			 strerror(rc));
		return rc;
	}
	rc = store_meta_get(v->db, "store_id", id, sizeof id, &idlen);
	if (rc || idlen != STORE_ID_BYTES) {
		snprintf(err, errlen, _("%s: not a custfs database (no store id)"), path);
		return rc ? rc : EIO;
	}
	if (v->have_store_id && memcmp(id, v->store_id, sizeof id) != 0) {
		snprintf(err, errlen, _("%s: the database was replaced by another store's"), path);
		return EIO;
	}
	memcpy(v->store_id, id, sizeof id);
	v->have_store_id = true;
	err[0] = '\0';
	if (!v->row_key) {
		rc = load_row_key(v);
		/* A rotation cut short after its commit: the new key is beside. */
		if (rc == EIO && vault_adopt_next_key(v) == 0)
			rc = load_row_key(v);
		if (!rc) {
			v->key_gen = vault_stored_key_gen(v);
			rc = vault_load_name_key(v);
		}
		if (!rc)
			rc = fold_old_names(v);
	}
	if (rc) {
		if (rc == EIO)
			snprintf(err, errlen, _("%s: the master key does not open this store (a wrong "
				 "key file, or one a rotation replaced)"), path);
		else
			snprintf(err, errlen, _("%s: cannot load the store's keys: %s"), path,
				 strerror(rc));
		return rc;
	}
	return audit_open(v->dir, v->master, v->store_id, &v->audit, err, errlen);
}

void vault_close(struct vault *v)
{
	if (!v)
		return;
	db_close(v->db);
	audit_close(v->audit);
	if (v->have_cache_key) {
		cache_free(pthread_getspecific(v->cache_key));
		pthread_key_delete(v->cache_key);
	}
	crypto_key_free(v->master);
	crypto_key_free(v->retired);
	crypto_key_free(v->name_key);
	crypto_key_free(v->row_key);
	if (v->pass) {
		sodium_free(v->pass);
		v->pass = NULL;
	}
	pthread_mutex_destroy(&v->key_lock);
	policy_free(v->policy);
	free(v->dir);
	free(v);
}

/* The keyed hash of a normalized name's lookalike key: equal for "C1001",
 * "c1001", Cyrillic "С1001", black-letter "ℭ1001", "C1OO1" and "C1001" with
 * a combining accent. */
static int fold_mac(const struct vault *v, const char *nfc, unsigned char out[STORE_NAME_MAC_BYTES])
{
	char skel[CNAME_SKELETON_MAX];
	if (cname_skeleton(nfc, skel) != 0)
		return EINVAL;
	crypto_generichash_state h;
	crypto_generichash_init(&h, v->name_key, CRYPTO_KEY_BYTES, STORE_NAME_MAC_BYTES);
	crypto_generichash_update(&h, (const unsigned char *)"custfs/fold/" FOLD_VERSION, 13);
	crypto_generichash_update(&h, (const unsigned char *)skel, strlen(skel));
	crypto_generichash_final(&h, out, STORE_NAME_MAC_BYTES);
	sodium_memzero(skel, sizeof skel);
	return 0;
}

static int customer_create_in_txn(struct vault *v, const char *given, uid_t uid, int64_t *id,
				  const char **why);

int vault_customer_create(struct vault *v, const char *given, uid_t uid, int64_t *id,
			  const char **why)
{
	/* In a write transaction, so the key it wraps under is the store's until
	 * the insert commits (a rotation waits for it, or it for the rotation). */
	bool own = !db_in_txn(v->db);
	*why = NULL;
	int rc = own ? db_begin(v->db, false) : 0;
	if (rc)
		return rc;
	rc = customer_create_in_txn(v, given, uid, id, why);
	if (own && rc)
		db_rollback(v->db);
	else if (own)
		rc = db_commit(v->db);
	return rc;
}

static int customer_create_in_txn(struct vault *v, const char *given, uid_t uid, int64_t *id,
				  const char **why)
{
	unsigned char wrapped[WRAPPED_KEY_BYTES];
	unsigned char mac[STORE_NAME_MAC_BYTES], fold[STORE_NAME_MAC_BYTES];
	unsigned char sealed[NAME_MAX_BYTES + CRYPTO_OVERHEAD];
	char name[NAME_MAX_BYTES + 1];
	struct aad a;
	int64_t other = 0;

	if ((*why = cname_normalize(given, name)))
		return EINVAL;
	int rc = vault_key_current(v); /* never wrap under a key already rotated away */
	if (rc)
		return rc;
	if (fold_mac(v, name, fold) != 0) {
		*why = N_("name cannot be compared with the others (Unicode)");
		return EINVAL;
	}
	if (store_customer_by_fold(v->db, fold, &other) == 0) {
		*why = N_("a customer of that name, or of one that looks the same, exists");
		return EEXIST;
	}
	size_t len = strlen(name);
	crypto_name_mac(v->name_key, name, len, mac);
	crypto_aad_name(&a, v->store_id, mac, sizeof mac);
	crypto_seal(v->master, &a, (const unsigned char *)name, len, sealed);
	unsigned char *dk = crypto_key_new_random();
	if (!dk)
		return ENOMEM;
	crypto_aad_datakey(&a, v->store_id, name);
	crypto_wrap_key(v->master, &a, dk, wrapped);
	crypto_key_free(dk);
	rc = store_customer_insert(v->db, mac, sealed, len + CRYPTO_OVERHEAD, wrapped,
				       sizeof wrapped, uid, clock_now_ns(), fold, id);
	if (rc == EEXIST)
		*why = N_("a customer of that name, or of one that looks the same, exists");
	sodium_memzero(name, sizeof name);
	return rc;
}

/* Customers never change their name, and go away only by an erase (which
 * bumps customers_epoch), so their id, name and time are cached. Each thread
 * has a small direct-mapped cache (no lock); memory is bounded whatever the
 * store's size. */
#define CUSTOMER_CACHE 256

struct customer_cache {
	uint64_t epoch;
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
	/* Names are customer data: the cache lives in locked, wiped memory. */
	if (!cc && (cc = sodium_malloc(sizeof *cc))) {
		memset(cc, 0, sizeof *cc);
		cc->epoch = atomic_load(&v->customers_epoch);
		pthread_setspecific(v->cache_key, cc);
	}
	uint64_t now = atomic_load(&v->customers_epoch);
	if (cc && cc->epoch != now) {
		sodium_memzero(cc, sizeof *cc);
		cc->epoch = now;
	}
	return cc;
}

void vault_customers_changed(struct vault *v)
{
	atomic_fetch_add(&v->customers_epoch, 1);
}

int vault_customer_erase(struct vault *v, int64_t id)
{
	int rc = store_customer_erase(v->db, id, clock_now_ns());
	if (!rc)
		vault_customers_changed(v); /* this thread's cache too, at once */
	return rc;
}

/* crypto_open_to and crypto_unwrap_key_into under whichever master key
 * (vault_under_master). */
struct open_op {
	const struct aad *a;
	const void *blob;
	size_t len;
	unsigned char *out;
	size_t cap;
	size_t *outlen;
};

static int open_with(void *ctx, const unsigned char *key)
{
	struct open_op *o = ctx;
	return crypto_open_to(key, o->a, o->blob, o->len, o->out, o->cap, o->outlen);
}

static int unwrap_with(void *ctx, const unsigned char *key)
{
	struct open_op *o = ctx;
	return crypto_unwrap_key_into(key, o->a, o->blob, o->len, o->out);
}

/* Opens a stored name and checks it against its lookup hash. */
static int open_name(struct vault *v, const unsigned char *mac, const void *sealed,
		     size_t sealed_len, char *out)
{
	unsigned char check[STORE_NAME_MAC_BYTES];
	struct aad a;
	size_t len = 0;

	crypto_aad_name(&a, v->store_id, mac, STORE_NAME_MAC_BYTES);
	struct open_op op = { &a, sealed, sealed_len, (unsigned char *)out, NAME_MAX_BYTES, &len };
	int rc = vault_under_master(v, open_with, &op);
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

int vault_customer_by_name(struct vault *v, const char *given, struct customer *out)
{
	unsigned char mac[STORE_NAME_MAC_BYTES];
	struct customer_row r;
	char name[NAME_MAX_BYTES + 1];
	/* Every spelling of a name finds it: names are kept in NFC. */
	if (strlen(given) > NAME_MAX_BYTES || cname_normalize(given, name))
		return ENOENT;
	size_t len = strlen(name);
	crypto_name_mac(v->name_key, name, len, mac);
	struct customer_cache *cc = cache_of(v);
	size_t slot = ((size_t)mac[0] | (size_t)mac[1] << 8) % CUSTOMER_CACHE;
	if (cc && cc->by_mac[slot].c.id && memcmp(cc->by_mac[slot].mac, mac, sizeof mac) == 0) {
		*out = cc->by_mac[slot].c;
		return 0;
	}
	int rc = store_customer_by_mac(v->db, mac, &r);
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
	int rc = store_customer_get(v->db, id, &r);
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
	return store_customer_list(v->db, after, max, list_one, &l);
}

int vault_fetch(struct vault *v, int64_t field_id, int64_t version, struct sealed_value *sv)
{
	int rc = store_sealed_fetch(v->db, field_id, version, sv);
	return rc ? rc : vault_check_row(v, &sv->row);
}

int vault_unseal(struct vault *v, const struct sealed_value *sv, struct secbuf *out)
{
	struct aad a;
	char customer[NAME_MAX_BYTES + 1];
	unsigned char *dk = crypto_thread_key();

	if (!dk)
		return ENOMEM;
	if (!sv->version) /* created, never written */
		return secbuf_truncate(out, 0);
	int rc = open_name(v, sv->name_mac, sv->name_sealed, sv->name_sealed_len, customer);
	if (rc)
		return rc;
	crypto_aad_datakey(&a, v->store_id, customer);
	struct open_op op = { &a, sv->wrapped_key, sv->wrapped_len, dk, 0, NULL };
	rc = vault_under_master(v, unwrap_with, &op);
	if (rc == 0) {
		crypto_aad_value(&a, v->store_id, customer, sv->row.name, sv->version);
		rc = crypto_open(dk, &a, sv->blob, sv->blob_len, out);
		sodium_memzero(dk, CRYPTO_KEY_BYTES);
	}
	sodium_memzero(customer, sizeof customer);
	if (rc == EBADMSG)
		return integrity(v, sv->row.customer_id, sv->row.name,
				 "customer #%lld field '%s' version %lld does not authenticate "
				 "(tampered or misplaced ciphertext)",
				 (long long)sv->row.customer_id, sv->row.name, (long long)sv->version);
	return rc;
}

int vault_read(struct vault *v, int64_t field_id, int64_t version, struct secbuf *out)
{
	struct sealed_value sv = { .blob = NULL };
	int rc = vault_fetch(v, field_id, version, &sv);
	if (!rc)
		rc = vault_unseal(v, &sv, out);
	store_sealed_free(&sv);
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
		res->why = N_("not a field of the catalogue");
		return EINVAL;
	}
	if (len > VALUE_MAX_BYTES) {
		res->why = N_("value is larger than 1 MiB");
		return EFBIG;
	}
	res->why = value_format_problem(def->format, pt, len);
	if (res->why)
		return EINVAL;

	rc = vault_customer_get(v, customer_id, &cust);
	if (!rc)
		rc = store_customer_key(v->db, customer_id, wrapped, sizeof wrapped, &wlen);
	if (!rc)
		rc = store_field_ensure(v->db, customer_id, name, &res->field_id);
	if (!rc)
		rc = store_field_get(v->db, res->field_id, &f);
	if (!rc && (f.has_mac || f.version > 0)) /* a placeholder made just now has none yet */
		rc = vault_check_row(v, &f);
	if (rc)
		return rc;
	dk = crypto_thread_key();
	if (!dk)
		return ENOMEM;
	crypto_aad_datakey(&a, v->store_id, cust.name);
	struct open_op op = { &a, wrapped, wlen, dk, 0, NULL };
	rc = vault_under_master(v, unwrap_with, &op);
	if (rc == EBADMSG)
		return integrity(v, customer_id, name, "data key of customer #%lld does not "
				 "authenticate", (long long)customer_id);
	sealed = malloc(len + CRYPTO_OVERHEAD); /* ciphertext: ordinary memory is fine */
	if (!sealed) {
		sodium_memzero(dk, CRYPTO_KEY_BYTES);
		return ENOMEM;
	}
	res->version = f.version + 1;
	crypto_aad_value(&a, v->store_id, cust.name, name, res->version);
	crypto_seal(dk, &a, pt, len, sealed);
	sodium_memzero(dk, CRYPTO_KEY_BYTES);
	struct field_row next = f;
	next.version = res->version;
	next.size = (int64_t)len;
	next.mtime_ns = clock_now_ns();
	unsigned char mac[STORE_ROW_MAC_BYTES];
	vault_row_mac(v, &next, mac);
	rc = store_version_append(v->db, res->field_id, res->version, next.mtime_ns, uid,
				  (int64_t)len, sealed, len + CRYPTO_OVERHEAD, mac);
	free(sealed);
	return rc;
}

int vault_write(struct vault *v, const struct catalog *cat, int64_t customer_id, const char *name,
		const void *pt, size_t len, uid_t uid, bool durable, int64_t expect,
		struct write_result *res)
{
	int rc = db_begin(v->db, durable);
	if (rc)
		return rc;
	rc = vault_write_in_txn(v, cat, customer_id, name, pt, len, uid, res);
	if (!rc && res->version != expect)
		rc = EAGAIN;
	if (rc) {
		db_rollback(v->db);
		return rc;
	}
	return db_commit(v->db);
}
