/* Unit tests for the crypto layer (crypto.h) and secure buffers (secbuf.h),
 * against the real libsodium. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "crypto.h"
#include "secbuf.h"

static unsigned char store_id[STORE_ID_BYTES];
static unsigned char *key;

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	return p;
}

/* True if none of B's first N bytes hold anything but zero. */
static bool all_zero(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* Puts a recognisable "previous plaintext" into OUT, so a failed open can be
 * seen to leave it empty (and wiped) rather than untouched. */
#define STALE_BYTES 64
static void make_stale(struct secbuf *out)
{
	unsigned char stale[STALE_BYTES];
	memset(stale, 0xaa, sizeof stale);
	if (secbuf_set(out, stale, sizeof stale) != 0) {
		fprintf(stderr, "secbuf_set failed\n");
		exit(2);
	}
}

/* An open that must fail: EBADMSG, OUT empty, its old contents wiped. */
static bool open_fails(const unsigned char *k, const struct aad *a, const unsigned char *blob,
		       size_t bloblen, struct secbuf *out)
{
	make_stale(out);
	int rc = crypto_open(k, a, blob, bloblen, out);
	return rc == EBADMSG && out->len == 0 && out->data && all_zero(out->data, STALE_BYTES);
}

/* ---- seal / open ---- */

static void test_round_trip(void)
{
	static const size_t sizes[] = { 0, 1, 100, 4096, 4097, VALUE_MAX_BYTES };
	struct aad a;
	crypto_aad_value(&a, store_id, "C1001", "phone", 1);

	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		size_t n = sizes[i];
		unsigned char *pt = xmalloc(n);
		unsigned char *blob = xmalloc(n + CRYPTO_OVERHEAD);
		struct secbuf out = SECBUF_INIT;

		check_ctx("plaintext of %zu bytes", n);
		randombytes_buf(pt, n);
		crypto_seal(key, &a, pt, n, blob);
		CHECK_EQ_INT(crypto_open(key, &a, blob, n + CRYPTO_OVERHEAD, &out), 0);
		CHECK_EQ_INT(out.len, n);
		if (out.len == n)
			CHECK_MEM(out.data, pt, n);
		/* Opening into a buffer that already holds something replaces it. */
		make_stale(&out);
		CHECK_EQ_INT(crypto_open(key, &a, blob, n + CRYPTO_OVERHEAD, &out), 0);
		CHECK_EQ_INT(out.len, n);
		if (out.len == n)
			CHECK_MEM(out.data, pt, n);
		secbuf_free(&out);
		free(blob);
		free(pt);
	}
	check_ctx("%s", "");
}

/* A blob whose plaintext would exceed a buffer's bound (a value and its
 * newline, SECBUF_DEFAULT_MAX) is refused with EFBIG. */
static void test_open_too_big(void)
{
	size_t n = (size_t)SECBUF_DEFAULT_MAX + 1;
	unsigned char *pt = xmalloc(n);
	unsigned char *blob = xmalloc(n + CRYPTO_OVERHEAD);
	struct secbuf out = SECBUF_INIT;
	struct aad a;

	memset(pt, 'x', n);
	crypto_aad_value(&a, store_id, "C1001", "notes", 1);
	crypto_seal(key, &a, pt, n, blob);
	CHECK_EQ_INT(crypto_open(key, &a, blob, n + CRYPTO_OVERHEAD, &out), EFBIG);
	CHECK_EQ_INT(out.len, 0);
	secbuf_free(&out);
	free(blob);
	free(pt);
}

static void test_wrong_aad(void)
{
	static const char pt[] = "13812345678";
	unsigned char blob[sizeof pt - 1 + CRYPTO_OVERHEAD];
	unsigned char other_store[STORE_ID_BYTES];
	struct secbuf out = SECBUF_INIT;
	struct aad good;

	memcpy(other_store, store_id, STORE_ID_BYTES);
	other_store[STORE_ID_BYTES - 1] ^= 1;

	crypto_aad_value(&good, store_id, "C1001", "phone", 7);
	crypto_seal(key, &good, (const unsigned char *)pt, sizeof pt - 1, blob);
	CHECK_EQ_INT(crypto_open(key, &good, blob, sizeof blob, &out), 0);

	/* Each part of the AAD different on its own. */
	static const struct {
		const char *what;
		bool other_store;
		const char *customer, *field;
		int64_t version;
	} bad[] = {
		{ "store id", true, "C1001", "phone", 7 },
		{ "customer", false, "C1002", "phone", 7 },
		{ "customer (prefix)", false, "C100", "phone", 7 },
		{ "field", false, "C1001", "email", 7 },
		{ "field (empty)", false, "C1001", "", 7 },
		{ "version", false, "C1001", "phone", 8 },
		{ "version (high byte)", false, "C1001", "phone", 7 + ((int64_t)1 << 56) },
		{ "version (negative)", false, "C1001", "phone", -7 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct aad a;
		check_ctx("wrong %s", bad[i].what);
		crypto_aad_value(&a, bad[i].other_store ? other_store : store_id, bad[i].customer,
				 bad[i].field, bad[i].version);
		CHECK(open_fails(key, &a, blob, sizeof blob, &out));
	}

	/* A data-key AAD for the same store and customer is another domain. */
	struct aad dk;
	check_ctx("datakey AAD used for a value");
	crypto_aad_datakey(&dk, store_id, "C1001");
	CHECK(open_fails(key, &dk, blob, sizeof blob, &out));
	check_ctx("%s", "");

	/* And the right AAD still works after all that. */
	CHECK_EQ_INT(crypto_open(key, &good, blob, sizeof blob, &out), 0);
	CHECK_EQ_INT(out.len, sizeof pt - 1);
	secbuf_free(&out);
}

static void test_wrong_key(void)
{
	static const char pt[] = "credit limit 50000";
	unsigned char blob[sizeof pt - 1 + CRYPTO_OVERHEAD];
	unsigned char *other = crypto_key_new_random();
	unsigned char *zero = crypto_key_new();
	struct secbuf out = SECBUF_INIT;
	struct aad a;

	CHECK_NOT_NULL(other);
	CHECK_NOT_NULL(zero);
	crypto_aad_value(&a, store_id, "C1001", "credit_limit", 1);
	crypto_seal(key, &a, (const unsigned char *)pt, sizeof pt - 1, blob);
	CHECK(open_fails(other, &a, blob, sizeof blob, &out));
	CHECK(open_fails(zero, &a, blob, sizeof blob, &out));
	/* A key that differs in one bit. */
	memcpy(other, key, CRYPTO_KEY_BYTES);
	other[CRYPTO_KEY_BYTES - 1] ^= 0x80;
	CHECK(open_fails(other, &a, blob, sizeof blob, &out));
	crypto_key_free(other);
	crypto_key_free(zero);
	secbuf_free(&out);
}

static void test_truncated(void)
{
	static const size_t ptlens[] = { 0, 1, 100 };
	struct aad a;
	crypto_aad_value(&a, store_id, "C1001", "address", 2);

	for (size_t p = 0; p < sizeof ptlens / sizeof *ptlens; p++) {
		size_t n = ptlens[p], bloblen = n + CRYPTO_OVERHEAD;
		unsigned char *pt = xmalloc(n);
		unsigned char *blob = xmalloc(bloblen);
		struct secbuf out = SECBUF_INIT;
		size_t bad = 0, first_bad = SIZE_MAX;

		randombytes_buf(pt, n);
		crypto_seal(key, &a, pt, n, blob);
		/* Every length 0..CRYPTO_OVERHEAD, then bloblen - 1. Each prefix is
		 * passed in an exact-size heap copy so ASan sees any over-read. */
		for (size_t len = 0; len <= CRYPTO_OVERHEAD + 1; len++) {
			size_t l = len <= CRYPTO_OVERHEAD ? len : bloblen - 1;
			if (l >= bloblen)
				continue;
			unsigned char *cut = xmalloc(l);
			memcpy(cut, blob, l);
			if (!open_fails(key, &a, cut, l, &out)) {
				bad++;
				if (first_bad == SIZE_MAX)
					first_bad = l;
			}
			free(cut);
		}
		check_ctx("plaintext %zu bytes: %zu truncations opened, first at length %zu", n,
			  bad, first_bad);
		CHECK_EQ_INT(bad, 0);
		/* The untruncated blob still opens. */
		CHECK_EQ_INT(crypto_open(key, &a, blob, bloblen, &out), 0);
		CHECK_EQ_INT(out.len, n);
		secbuf_free(&out);
		free(blob);
		free(pt);
	}
	check_ctx("%s", "");
}

/* One flipped bit anywhere (nonce, body, tag) must be detected. */
static void test_bit_flips(void)
{
	enum { N = 100, BLOB = N + CRYPTO_OVERHEAD };
	unsigned char pt[N], blob[BLOB];
	struct secbuf out = SECBUF_INIT;
	struct aad a;
	struct {
		const char *name;
		size_t from, to;
		size_t bad, first_bad;
	} region[] = {
		{ "nonce", 0, CRYPTO_NONCE_BYTES, 0, SIZE_MAX },
		{ "body", CRYPTO_NONCE_BYTES, CRYPTO_NONCE_BYTES + N, 0, SIZE_MAX },
		{ "tag", CRYPTO_NONCE_BYTES + N, BLOB, 0, SIZE_MAX },
	};

	randombytes_buf(pt, sizeof pt);
	crypto_aad_value(&a, store_id, "C1001", "feedback", 3);
	crypto_seal(key, &a, pt, sizeof pt, blob);

	for (size_t r = 0; r < sizeof region / sizeof *region; r++) {
		for (size_t i = region[r].from; i < region[r].to; i++) {
			for (int bit = 0; bit < 8; bit++) {
				blob[i] ^= (unsigned char)(1u << bit);
				if (!open_fails(key, &a, blob, sizeof blob, &out)) {
					region[r].bad++;
					if (region[r].first_bad == SIZE_MAX)
						region[r].first_bad = i * 8 + (size_t)bit;
				}
				blob[i] ^= (unsigned char)(1u << bit);
			}
		}
		check_ctx("%s: %zu flipped bits went unnoticed, first at bit %zu", region[r].name,
			  region[r].bad, region[r].first_bad);
		CHECK_EQ_INT(region[r].bad, 0);
	}
	check_ctx("%s", "");
	CHECK_EQ_INT(crypto_open(key, &a, blob, sizeof blob, &out), 0);
	CHECK_EQ_INT(out.len, N);
	if (out.len == N)
		CHECK_MEM(out.data, pt, N);
	secbuf_free(&out);
}

static void test_fresh_nonce(void)
{
	static const char pt[] = "same plaintext";
	enum { LEN = sizeof pt - 1 + CRYPTO_OVERHEAD };
	unsigned char b1[LEN], b2[LEN];
	struct secbuf out = SECBUF_INIT;
	struct aad a;

	crypto_aad_value(&a, store_id, "C1001", "contact", 1);
	crypto_seal(key, &a, (const unsigned char *)pt, sizeof pt - 1, b1);
	crypto_seal(key, &a, (const unsigned char *)pt, sizeof pt - 1, b2);
	CHECK(memcmp(b1, b2, CRYPTO_NONCE_BYTES) != 0);
	CHECK(memcmp(b1 + CRYPTO_NONCE_BYTES, b2 + CRYPTO_NONCE_BYTES,
		     LEN - CRYPTO_NONCE_BYTES) != 0);
	/* The plaintext does not appear in the blob. */
	CHECK(memmem(b1, LEN, pt, sizeof pt - 1) == NULL);
	CHECK_EQ_INT(crypto_open(key, &a, b1, LEN, &out), 0);
	CHECK_EQ_INT(crypto_open(key, &a, b2, LEN, &out), 0);
	CHECK_EQ_INT(out.len, sizeof pt - 1);
	if (out.len == sizeof pt - 1)
		CHECK_MEM(out.data, pt, sizeof pt - 1);
	secbuf_free(&out);
}

/* ---- keys ---- */

static void test_keys(void)
{
	unsigned char *z = crypto_key_new();
	unsigned char *r1 = crypto_key_new_random();
	unsigned char *r2 = crypto_key_new_random();

	CHECK_NOT_NULL(z);
	CHECK_NOT_NULL(r1);
	CHECK_NOT_NULL(r2);
	if (z && r1 && r2) {
		CHECK(all_zero(z, CRYPTO_KEY_BYTES));
		CHECK(!all_zero(r1, CRYPTO_KEY_BYTES));
		CHECK(memcmp(r1, r2, CRYPTO_KEY_BYTES) != 0);
	}
	crypto_key_free(z);
	crypto_key_free(r1);
	crypto_key_free(r2);
	crypto_key_free(NULL); /* harmless */
}

static void test_wrap_unwrap(void)
{
	unsigned char *master = crypto_key_new_random();
	unsigned char *other_master = crypto_key_new_random();
	unsigned char *data_key = crypto_key_new_random();
	unsigned char wrapped[WRAPPED_KEY_BYTES], wrapped2[WRAPPED_KEY_BYTES];
	unsigned char sentinel_byte;
	unsigned char *const sentinel = &sentinel_byte;
	unsigned char *out;
	unsigned char other_store[STORE_ID_BYTES];
	struct aad a, bad;

	memcpy(other_store, store_id, STORE_ID_BYTES);
	other_store[0] ^= 0x01;

	crypto_aad_datakey(&a, store_id, "C1001");
	crypto_wrap_key(master, &a, data_key, wrapped);

	out = sentinel;
	CHECK_EQ_INT(crypto_unwrap_key(master, &a, wrapped, sizeof wrapped, &out), 0);
	CHECK(out != NULL && out != sentinel);
	if (out && out != sentinel)
		CHECK_MEM(out, data_key, CRYPTO_KEY_BYTES);
	if (out != sentinel)
		crypto_key_free(out);

	/* Wrapping twice gives different blobs that unwrap to the same key. */
	crypto_wrap_key(master, &a, data_key, wrapped2);
	CHECK(memcmp(wrapped, wrapped2, sizeof wrapped) != 0);
	out = sentinel;
	CHECK_EQ_INT(crypto_unwrap_key(master, &a, wrapped2, sizeof wrapped2, &out), 0);
	if (out && out != sentinel) {
		CHECK_MEM(out, data_key, CRYPTO_KEY_BYTES);
		crypto_key_free(out);
	}

	/* Wrong master. */
	out = sentinel;
	CHECK_EQ_INT(crypto_unwrap_key(other_master, &a, wrapped, sizeof wrapped, &out), EBADMSG);
	CHECK_NULL(out);

	/* Wrong customer, wrong store, value-domain AAD. */
	crypto_aad_datakey(&bad, store_id, "C1002");
	out = sentinel;
	CHECK_EQ_INT(crypto_unwrap_key(master, &bad, wrapped, sizeof wrapped, &out), EBADMSG);
	CHECK_NULL(out);
	crypto_aad_datakey(&bad, other_store, "C1001");
	out = sentinel;
	CHECK_EQ_INT(crypto_unwrap_key(master, &bad, wrapped, sizeof wrapped, &out), EBADMSG);
	CHECK_NULL(out);
	crypto_aad_value(&bad, store_id, "C1001", "phone", 1);
	out = sentinel;
	CHECK_EQ_INT(crypto_unwrap_key(master, &bad, wrapped, sizeof wrapped, &out), EBADMSG);
	CHECK_NULL(out);

	/* Wrong lengths. The buffer is big enough for the longer reads. */
	static const size_t lens[] = { 0, 1, CRYPTO_OVERHEAD, WRAPPED_KEY_BYTES - 1,
				       WRAPPED_KEY_BYTES + 1, 2 * WRAPPED_KEY_BYTES };
	unsigned char big[2 * WRAPPED_KEY_BYTES];
	memcpy(big, wrapped, WRAPPED_KEY_BYTES);
	memcpy(big + WRAPPED_KEY_BYTES, wrapped, WRAPPED_KEY_BYTES);
	for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
		check_ctx("wrapped_len %zu", lens[i]);
		out = sentinel;
		CHECK_EQ_INT(crypto_unwrap_key(master, &a, big, lens[i], &out), EBADMSG);
		CHECK_NULL(out);
	}
	check_ctx("%s", "");

	/* A flipped bit in each byte of the wrapped key. */
	size_t flips_ok = 0;
	for (size_t i = 0; i < sizeof wrapped; i++) {
		wrapped[i] ^= 0x10;
		out = sentinel;
		if (crypto_unwrap_key(master, &a, wrapped, sizeof wrapped, &out) != EBADMSG ||
		    out != NULL) {
			flips_ok++;
			if (out && out != sentinel)
				crypto_key_free(out);
		}
		wrapped[i] ^= 0x10;
	}
	CHECK_EQ_INT(flips_ok, 0);

	crypto_key_free(master);
	crypto_key_free(other_master);
	crypto_key_free(data_key);
}

/* ---- associated data ---- */

static bool aad_equal(const struct aad *x, const struct aad *y)
{
	return x->len == y->len && memcmp(x->buf, y->buf, x->len) == 0;
}

static void test_aad(void)
{
	struct aad a, b;

	/* Deterministic. */
	crypto_aad_value(&a, store_id, "C1001", "phone", 1);
	crypto_aad_value(&b, store_id, "C1001", "phone", 1);
	CHECK(aad_equal(&a, &b));

	/* Length-prefixing: "ab" + "c" is not "a" + "bc". */
	crypto_aad_value(&a, store_id, "ab", "c", 1);
	crypto_aad_value(&b, store_id, "a", "bc", 1);
	CHECK(!aad_equal(&a, &b));
	{
		static const unsigned char pt[] = "x";
		unsigned char blob[1 + CRYPTO_OVERHEAD];
		struct secbuf out = SECBUF_INIT;
		crypto_seal(key, &a, pt, 1, blob);
		CHECK(open_fails(key, &b, blob, sizeof blob, &out));
		secbuf_free(&out);
	}
	/* The same with the empty string at either end. */
	crypto_aad_value(&a, store_id, "", "ab", 1);
	crypto_aad_value(&b, store_id, "ab", "", 1);
	CHECK(!aad_equal(&a, &b));

	/* Value and data-key AADs never coincide. */
	crypto_aad_value(&a, store_id, "C1001", "", 0);
	crypto_aad_datakey(&b, store_id, "C1001");
	CHECK(!aad_equal(&a, &b));
	crypto_aad_datakey(&a, store_id, "C1001");
	crypto_aad_datakey(&b, store_id, "C1002");
	CHECK(!aad_equal(&a, &b));

	/* Chinese names. */
	static const char cust[] = "杭州西湖茶庄", field[] = "联系电话";
	static const char pt[] = "手机 13812345678";
	unsigned char blob[sizeof pt - 1 + CRYPTO_OVERHEAD];
	struct secbuf out = SECBUF_INIT;
	crypto_aad_value(&a, store_id, cust, field, 1);
	CHECK_EQ_INT(a.len, 14 + STORE_ID_BYTES + 2 + strlen(cust) + 2 + strlen(field) + 8);
	crypto_seal(key, &a, (const unsigned char *)pt, sizeof pt - 1, blob);
	CHECK_EQ_INT(crypto_open(key, &a, blob, sizeof blob, &out), 0);
	CHECK_EQ_INT(out.len, sizeof pt - 1);
	if (out.len == sizeof pt - 1)
		CHECK_MEM(out.data, pt, sizeof pt - 1);
	/* One character different (庄 -> 厂). */
	crypto_aad_value(&b, store_id, "杭州西湖茶厂", field, 1);
	CHECK(!aad_equal(&a, &b));
	CHECK(open_fails(key, &b, blob, sizeof blob, &out));
	crypto_aad_datakey(&a, store_id, cust);
	crypto_aad_datakey(&b, store_id, "杭州西湖茶厂");
	CHECK(!aad_equal(&a, &b));

	/* Longest names (255 bytes each): nothing is cut off, the version still counts. */
	char longc[256], longf[256];
	memset(longc, 'c', 255);
	longc[255] = '\0';
	memset(longf, 'f', 255);
	longf[255] = '\0';
	crypto_aad_value(&a, store_id, longc, longf, 1);
	crypto_aad_value(&b, store_id, longc, longf, 2);
	CHECK_EQ_INT(a.len, 14 + STORE_ID_BYTES + 2 + 255 + 2 + 255 + 8);
	CHECK(a.len <= AAD_MAX_BYTES);
	CHECK(!aad_equal(&a, &b));
	secbuf_free(&out);
}

/* ---- sealed names (crypto_open_to, name MAC, name key, name AAD) ---- */

static void test_names(void)
{
	static const char name[] = "杭州西湖茶庄";
	enum { NL = sizeof name - 1 };
	unsigned char *master = crypto_key_new_random();
	unsigned char *master2 = crypto_key_new_random();
	unsigned char *nk = crypto_name_key(master);
	unsigned char *nk_again = crypto_name_key(master);
	unsigned char *nk2 = crypto_name_key(master2);
	unsigned char mac[32], mac2[32];
	struct aad a, b;

	CHECK(nk && nk_again && nk2);
	if (!(master && master2 && nk && nk_again && nk2))
		return;
	/* The name key is derived: same master, same key; not the master itself. */
	CHECK_MEM(nk, nk_again, CRYPTO_KEY_BYTES);
	CHECK(memcmp(nk, nk2, CRYPTO_KEY_BYTES) != 0);
	CHECK(memcmp(nk, master, CRYPTO_KEY_BYTES) != 0);
	CHECK(!all_zero(nk, CRYPTO_KEY_BYTES));

	/* The MAC: equal names equal MACs; another name or key, another MAC. */
	crypto_name_mac(nk, name, NL, mac);
	crypto_name_mac(nk_again, name, NL, mac2);
	CHECK_MEM(mac, mac2, 32);
	crypto_name_mac(nk, "杭州西湖茶厂", NL, mac2);
	CHECK(memcmp(mac, mac2, 32) != 0);
	crypto_name_mac(nk2, name, NL, mac2);
	CHECK(memcmp(mac, mac2, 32) != 0);
	crypto_name_mac(nk, name, NL - 3, mac2); /* LEN counts, not the NUL */
	CHECK(memcmp(mac, mac2, 32) != 0);
	crypto_name_mac(nk, "ab", 1, mac2);
	{
		unsigned char mac_a[32];
		crypto_name_mac(nk, "a", 1, mac_a);
		CHECK_MEM(mac2, mac_a, 32);
	}

	/* The name AAD binds store and MAC, and is its own domain. */
	crypto_aad_name(&a, store_id, mac, 32);
	crypto_aad_name(&b, store_id, mac, 32);
	CHECK(aad_equal(&a, &b));
	crypto_name_mac(nk, "C1001", 5, mac2);
	crypto_aad_name(&b, store_id, mac2, 32);
	CHECK(!aad_equal(&a, &b));
	crypto_aad_datakey(&b, store_id, name);
	CHECK(!aad_equal(&a, &b));

	/* crypto_open_to: round trip into a plain buffer. */
	unsigned char blob[NL + CRYPTO_OVERHEAD], out[NL + 8];
	size_t outlen = 0;
	crypto_seal(master, &a, (const unsigned char *)name, NL, blob);
	CHECK_EQ_INT(crypto_open_to(master, &a, blob, sizeof blob, out, sizeof out, &outlen), 0);
	CHECK_EQ_INT(outlen, NL);
	CHECK_MEM(out, name, NL);
	/* Exactly the right capacity is enough; one byte less is EOVERFLOW. */
	outlen = 0;
	CHECK_EQ_INT(crypto_open_to(master, &a, blob, sizeof blob, out, NL, &outlen), 0);
	CHECK_EQ_INT(outlen, NL);
	CHECK_EQ_INT(crypto_open_to(master, &a, blob, sizeof blob, out, NL - 1, &outlen),
		     EOVERFLOW);
	CHECK_EQ_INT(crypto_open_to(master, &a, blob, sizeof blob, out, 0, &outlen), EOVERFLOW);

	/* Failures: EBADMSG, and no plaintext in OUT. */
	memset(out, 0xaa, sizeof out);
	CHECK_EQ_INT(crypto_open_to(master, &b, blob, sizeof blob, out, sizeof out, &outlen),
		     EBADMSG);
	CHECK(memmem(out, sizeof out, name, 3) == NULL);
	CHECK_EQ_INT(crypto_open_to(master2, &a, blob, sizeof blob, out, sizeof out, &outlen),
		     EBADMSG);
	CHECK(memmem(out, sizeof out, name, 3) == NULL);
	size_t bad = 0;
	for (size_t len = 0; len < sizeof blob; len++) {
		unsigned char *cut = xmalloc(len);
		memcpy(cut, blob, len);
		if (crypto_open_to(master, &a, cut, len, out, sizeof out, &outlen) != EBADMSG)
			bad++;
		free(cut);
	}
	CHECK_EQ_INT(bad, 0);
	bad = 0;
	for (size_t i = 0; i < sizeof blob; i++) {
		blob[i] ^= 0x01;
		if (crypto_open_to(master, &a, blob, sizeof blob, out, sizeof out, &outlen) !=
		    EBADMSG)
			bad++;
		blob[i] ^= 0x01;
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(memmem(out, sizeof out, name, 3) == NULL);

	crypto_key_free(master);
	crypto_key_free(master2);
	crypto_key_free(nk);
	crypto_key_free(nk_again);
	crypto_key_free(nk2);
}

/* ---- secbuf ---- */

static void test_secbuf(void)
{
	struct secbuf b = SECBUF_INIT;

	/* Write with a gap into an empty buffer: the gap is zero. */
	CHECK_EQ_INT(secbuf_write(&b, 10, "abc", 3), 0);
	CHECK_EQ_INT(b.len, 13);
	CHECK(b.data && all_zero(b.data, 10));
	CHECK_MEM(b.data + 10, "abc", 3);

	/* Overwrite in the middle does not change the length. */
	CHECK_EQ_INT(secbuf_write(&b, 0, "XY", 2), 0);
	CHECK_EQ_INT(b.len, 13);
	CHECK_MEM(b.data, "XY\0\0\0\0\0\0\0\0abc", 13);

	/* Gap after stale bytes: shrink (old bytes beyond len), then write past them. */
	unsigned char ff[100];
	memset(ff, 0xff, sizeof ff);
	CHECK_EQ_INT(secbuf_set(&b, ff, sizeof ff), 0);
	CHECK_EQ_INT(b.len, 100);
	CHECK_EQ_INT(secbuf_truncate(&b, 2), 0);
	CHECK_EQ_INT(b.len, 2);
	CHECK_EQ_INT(secbuf_write(&b, 50, "q", 1), 0);
	CHECK_EQ_INT(b.len, 51);
	CHECK_MEM(b.data, "\xff\xff", 2);
	CHECK(all_zero(b.data + 2, 48));
	CHECK_EQ_INT(b.data[50], 'q');

	/* Zero-length write at a gap extends with zeros. */
	CHECK_EQ_INT(secbuf_set(&b, "hi", 2), 0);
	CHECK_EQ_INT(secbuf_write(&b, 5, NULL, 0), 0);
	CHECK_EQ_INT(b.len, 5);
	CHECK_MEM(b.data, "hi\0\0\0", 5);

	/* Truncate: grow zero-fills, shrink keeps the head, regrow does not resurrect. */
	CHECK_EQ_INT(secbuf_set(&b, "abcdef", 6), 0);
	CHECK_EQ_INT(secbuf_truncate(&b, 10), 0);
	CHECK_EQ_INT(b.len, 10);
	CHECK_MEM(b.data, "abcdef\0\0\0\0", 10);
	CHECK_EQ_INT(secbuf_truncate(&b, 2), 0);
	CHECK_EQ_INT(b.len, 2);
	CHECK_MEM(b.data, "ab", 2);
	CHECK_EQ_INT(secbuf_truncate(&b, 6), 0);
	CHECK_EQ_INT(b.len, 6);
	CHECK_MEM(b.data, "ab\0\0\0\0", 6);
	CHECK_EQ_INT(secbuf_truncate(&b, 0), 0);
	CHECK_EQ_INT(b.len, 0);

	/* Growth across reallocations keeps the contents. */
	unsigned char *pat = xmalloc(SECBUF_DEFAULT_MAX);
	for (size_t i = 0; i < SECBUF_DEFAULT_MAX; i++)
		pat[i] = (unsigned char)(i * 7 + 3);
	CHECK_EQ_INT(secbuf_set(&b, pat, 4000), 0);
	CHECK_EQ_INT(secbuf_write(&b, 4000, pat + 4000, 6000), 0);
	CHECK_EQ_INT(b.len, 10000);
	CHECK(b.cap >= 10000);
	CHECK_MEM(b.data, pat, 10000);
	CHECK_EQ_INT(secbuf_write(&b, 10000, pat + 10000, SECBUF_DEFAULT_MAX - 10000), 0);
	CHECK_EQ_INT(b.len, SECBUF_DEFAULT_MAX);
	CHECK_MEM(b.data, pat, SECBUF_DEFAULT_MAX);

	/* EFBIG beyond SECBUF_DEFAULT_MAX (a value and its newline), and nothing changes. */
	static const struct {
		size_t off, n;
	} big[] = {
		{ SECBUF_DEFAULT_MAX, 1 },
		{ SECBUF_DEFAULT_MAX - 1, 2 },
		{ 0, (size_t)SECBUF_DEFAULT_MAX + 1 },
		{ (size_t)SECBUF_DEFAULT_MAX + 1, 0 },
		{ SIZE_MAX, 1 },
		{ 1, SIZE_MAX },
		{ SIZE_MAX, SIZE_MAX },
	};
	for (size_t i = 0; i < sizeof big / sizeof *big; i++) {
		check_ctx("secbuf_write(off=%zu, n=%zu)", big[i].off, big[i].n);
		CHECK_EQ_INT(secbuf_write(&b, big[i].off, pat, big[i].n), EFBIG);
		CHECK_EQ_INT(b.len, SECBUF_DEFAULT_MAX);
	}
	check_ctx("%s", "");
	CHECK_EQ_INT(secbuf_truncate(&b, (size_t)SECBUF_DEFAULT_MAX + 1), EFBIG);
	CHECK_EQ_INT(b.len, SECBUF_DEFAULT_MAX);
	CHECK_EQ_INT(secbuf_reserve(&b, (size_t)SECBUF_DEFAULT_MAX + 1), EFBIG);
	CHECK_EQ_INT(secbuf_truncate(&b, SECBUF_DEFAULT_MAX), 0);
	CHECK_MEM(b.data, pat, SECBUF_DEFAULT_MAX);
	/* Exactly at the limit is fine. */
	CHECK_EQ_INT(secbuf_write(&b, SECBUF_DEFAULT_MAX - 1, "z", 1), 0);
	CHECK_EQ_INT(b.len, SECBUF_DEFAULT_MAX);
	CHECK_EQ_INT(secbuf_write(&b, SECBUF_DEFAULT_MAX, NULL, 0), 0);
	CHECK_EQ_INT(b.len, SECBUF_DEFAULT_MAX);

	/* EFBIG also from a fresh, empty buffer (nothing allocated). */
	struct secbuf e = SECBUF_INIT;
	CHECK_EQ_INT(secbuf_truncate(&e, (size_t)SECBUF_DEFAULT_MAX + 1), EFBIG);
	CHECK_EQ_INT(secbuf_write(&e, 0, pat, (size_t)SECBUF_DEFAULT_MAX + 1), EFBIG);
	CHECK_EQ_INT(e.len, 0);
	secbuf_free(&e);
	/* A buffer with a bound of its own (a command's answer). */
	struct secbuf small = { .max = 100 };
	CHECK_EQ_INT(secbuf_write(&small, 0, pat, 100), 0);
	CHECK_EQ_INT(secbuf_write(&small, 100, pat, 1), EFBIG);
	CHECK_EQ_INT(small.len, 100);
	secbuf_free(&small);
	free(pat);

	/* secbuf_free empties it; it can be reused, and freed again. */
	secbuf_free(&b);
	CHECK(b.data == NULL);
	CHECK_EQ_INT(b.len, 0);
	CHECK_EQ_INT(b.cap, 0);
	CHECK_EQ_INT(secbuf_set(&b, "hello", 5), 0);
	CHECK_EQ_INT(b.len, 5);
	CHECK_MEM(b.data, "hello", 5);
	secbuf_free(&b);
	secbuf_free(&b);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
	CHECK_EQ_INT(secbuf_write(&b, 3, "x", 1), 0);
	CHECK_MEM(b.data, "\0\0\0x", 4);
	secbuf_free(&b);
}

int main(void)
{
	if (crypto_init() != 0) {
		fprintf(stderr, "crypto_init failed\n");
		return 2;
	}
	randombytes_buf(store_id, sizeof store_id);
	key = crypto_key_new_random();
	if (!key) {
		fprintf(stderr, "crypto_key_new_random failed\n");
		return 2;
	}

	test_round_trip();
	test_open_too_big();
	test_wrong_aad();
	test_wrong_key();
	test_truncated();
	test_bit_flips();
	test_fresh_nonce();
	test_keys();
	test_wrap_unwrap();
	test_aad();
	test_names();
	test_secbuf();

	crypto_key_free(key);
	return check_done();
}
