#include "crypto.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int crypto_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

unsigned char *crypto_key_new(void)
{
	unsigned char *k = sodium_malloc(CRYPTO_KEY_BYTES);
	if (k)
		sodium_memzero(k, CRYPTO_KEY_BYTES);
	return k;
}

unsigned char *crypto_key_new_random(void)
{
	unsigned char *k = sodium_malloc(CRYPTO_KEY_BYTES);
	if (k)
		crypto_aead_xchacha20poly1305_ietf_keygen(k);
	return k;
}

void crypto_key_free(unsigned char *key)
{
	if (key)
		sodium_free(key); /* wipes before unmapping */
}

static void aad_put(struct aad *a, const void *p, size_t n)
{
	/* Callers bound every part (names <= 255 bytes, so at most ~560 bytes in
	 * all). Associated data that does not fit is a bug: a truncated AAD could
	 * let two places share one binding, so stop rather than go on. */
	if (n > sizeof(a->buf) - a->len)
		abort();
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void aad_put_str(struct aad *a, const char *s)
{
	size_t n = strlen(s);
	if (n > 0xffff)
		abort(); /* the length prefix is two bytes */
	unsigned char len[2] = { (unsigned char)(n >> 8), (unsigned char)n };
	aad_put(a, len, 2);
	aad_put(a, s, n);
}

void crypto_aad_value(struct aad *a, const unsigned char store_id[STORE_ID_BYTES],
		      const char *customer, const char *field, int64_t version)
{
	unsigned char v[8];
	for (int i = 0; i < 8; i++)
		v[i] = (unsigned char)((uint64_t)version >> (56 - 8 * i));
	a->len = 0;
	aad_put(a, "custfs/value/1", 14);
	aad_put(a, store_id, STORE_ID_BYTES);
	aad_put_str(a, customer);
	aad_put_str(a, field);
	aad_put(a, v, sizeof v);
}

void crypto_aad_datakey(struct aad *a, const unsigned char store_id[STORE_ID_BYTES],
			const char *customer)
{
	a->len = 0;
	aad_put(a, "custfs/datakey/1", 16);
	aad_put(a, store_id, STORE_ID_BYTES);
	aad_put_str(a, customer);
}

void crypto_seal(const unsigned char *key, const struct aad *a,
		 const unsigned char *pt, size_t ptlen, unsigned char *out)
{
	randombytes_buf(out, CRYPTO_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + CRYPTO_NONCE_BYTES, NULL, pt, ptlen,
						   a->buf, a->len, NULL, out, key);
}

int crypto_open(const unsigned char *key, const struct aad *a,
		const unsigned char *blob, size_t bloblen, struct secbuf *out)
{
	if (bloblen < CRYPTO_OVERHEAD) {
		secbuf_truncate(out, 0);
		return EBADMSG;
	}
	size_t ptlen = bloblen - CRYPTO_OVERHEAD;
	int rc = secbuf_reserve(out, ptlen);
	if (rc) {
		secbuf_truncate(out, 0);
		return rc;
	}
	unsigned long long got = 0;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out->data, &got, NULL,
						       blob + CRYPTO_NONCE_BYTES,
						       bloblen - CRYPTO_NONCE_BYTES,
						       a->buf, a->len, blob, key) != 0) {
		/* libsodium writes nothing on failure, but be explicit. */
		sodium_memzero(out->data, out->cap);
		out->len = 0;
		return EBADMSG;
	}
	out->len = (size_t)got;
	return 0;
}

void crypto_wrap_key(const unsigned char *master, const struct aad *a,
		     const unsigned char *data_key, unsigned char *out)
{
	crypto_seal(master, a, data_key, CRYPTO_KEY_BYTES, out);
}

int crypto_unwrap_key(const unsigned char *master, const struct aad *a,
		      const unsigned char *wrapped, size_t wrapped_len, unsigned char **out)
{
	*out = NULL;
	if (wrapped_len != WRAPPED_KEY_BYTES)
		return EBADMSG;
	unsigned char *k = crypto_key_new();
	if (!k)
		return ENOMEM;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(k, NULL, NULL, wrapped + CRYPTO_NONCE_BYTES,
						       wrapped_len - CRYPTO_NONCE_BYTES, a->buf,
						       a->len, wrapped, master) != 0) {
		crypto_key_free(k);
		return EBADMSG;
	}
	*out = k;
	return 0;
}

int crypto_open_to(const unsigned char *key, const struct aad *a, const unsigned char *blob,
		   size_t bloblen, unsigned char *out, size_t cap, size_t *outlen)
{
	if (bloblen < CRYPTO_OVERHEAD)
		return EBADMSG;
	if (bloblen - CRYPTO_OVERHEAD > cap)
		return EOVERFLOW;
	unsigned long long got = 0;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &got, NULL, blob + CRYPTO_NONCE_BYTES,
						       bloblen - CRYPTO_NONCE_BYTES, a->buf,
						       a->len, blob, key) != 0)
		return EBADMSG;
	*outlen = (size_t)got;
	return 0;
}

void crypto_aad_name(struct aad *a, const unsigned char store_id[STORE_ID_BYTES],
		     const unsigned char *mac, size_t maclen)
{
	a->len = 0;
	aad_put(a, "custfs/name/1", 13);
	aad_put(a, store_id, STORE_ID_BYTES);
	aad_put(a, mac, maclen);
}

void crypto_name_mac(const unsigned char *name_key, const char *name, size_t len,
		     unsigned char out[32])
{
	crypto_generichash(out, 32, (const unsigned char *)name, len, name_key, CRYPTO_KEY_BYTES);
}

unsigned char *crypto_name_key(const unsigned char *master)
{
	static const char label[] = "custfs/name-index/1";
	unsigned char *k = crypto_key_new();
	if (k)
		crypto_generichash(k, CRYPTO_KEY_BYTES, (const unsigned char *)label,
				   sizeof label - 1, master, CRYPTO_KEY_BYTES);
	return k;
}

int crypto_unwrap_key_into(const unsigned char *master, const struct aad *a,
			   const unsigned char *wrapped, size_t wrapped_len, unsigned char *out)
{
	if (wrapped_len != WRAPPED_KEY_BYTES)
		return EBADMSG;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, wrapped + CRYPTO_NONCE_BYTES,
						       wrapped_len - CRYPTO_NONCE_BYTES, a->buf,
						       a->len, wrapped, master) != 0) {
		sodium_memzero(out, CRYPTO_KEY_BYTES);
		return EBADMSG;
	}
	return 0;
}

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_free(void *p)
{
	sodium_free(p);
}

static void tls_init(void)
{
	pthread_key_create(&tls_key, tls_free);
}

unsigned char *crypto_thread_key(void)
{
	pthread_once(&tls_once, tls_init);
	unsigned char *k = pthread_getspecific(tls_key);
	if (!k && (k = sodium_malloc(CRYPTO_KEY_BYTES)))
		pthread_setspecific(tls_key, k);
	return k;
}
