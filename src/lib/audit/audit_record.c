/* One audit record's columns, every use generated from AUDIT_COLUMNS: its
 * hash, its copy, its binds and reader, and its archive line. */
#include "audit_internal.h"

#include <stdlib.h>
#include <string.h>

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* ---- the hash ---- */

static void put_i64(crypto_generichash_state *h, int64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
	crypto_generichash_update(h, b, 8);
}

static void put_text(crypto_generichash_state *h, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	put_i64(h, (int64_t)n);
	if (n)
		crypto_generichash_update(h, (const unsigned char *)s, n);
}

#define PUT_I64_(h, v) put_i64(h, (int64_t)(v))
#define PUT_TEXT_(h, v) put_text(h, v)
#define HASH_COLUMN_(col, kind, member) PUT_##kind##_(&h, ev->member);

void record_hash(int64_t seq, const unsigned char prev[AUDIT_HASH_BYTES],
		 const struct audit_event *ev, unsigned char out[AUDIT_HASH_BYTES])
{
	crypto_generichash_state h;
	crypto_generichash_init(&h, NULL, 0, AUDIT_HASH_BYTES);
	crypto_generichash_update(&h, (const unsigned char *)"custfs/audit/1", 14);
	put_i64(&h, seq);
	crypto_generichash_update(&h, prev, AUDIT_HASH_BYTES);
	AUDIT_COLUMNS(HASH_COLUMN_)
	crypto_generichash_final(&h, out, AUDIT_HASH_BYTES);
}

/* ---- repeated denials ---- */

void audit_repeat_detail(char *out, size_t cap, unsigned count, int64_t secs, const char *detail)
{
	snprintf(out, cap, "repeated %u more time%s within %llds%s%s", count, count == 1 ? "" : "s",
		 (long long)secs, detail && detail[0] ? "; " : "", detail ? detail : "");
}

unsigned audit_record_weight(const struct audit_event *ev)
{
	unsigned n = 0;
	if (!ev->allow && ev->detail && sscanf(ev->detail, "repeated %u more time", &n) == 1 && n)
		return n;
	return 1;
}

/* ---- copies ---- */

#define COPY_I64_(r, ev, member) ((void)0)
#define COPY_TEXT_(r, ev, member)                                                     \
	do {                                                                          \
		snprintf(r->text[t], sizeof r->text[t], "%s", nz(ev->member));        \
		r->ev.member = r->text[t++];                                          \
	} while (0)
#define COPY_COLUMN_(col, kind, member) COPY_##kind##_(r, ev, member);

void audit_record_copy(struct audit_record *r, const struct audit_event *ev)
{
	int t = 0;
	r->ev = *ev;
	AUDIT_COLUMNS(COPY_COLUMN_)
}

/* ---- sqlite ---- */

#define BIND_I64_(s, i, v) sqlite3_bind_int64(s, i, (int64_t)(v))
#define BIND_TEXT_(s, i, v) sqlite3_bind_text(s, i, nz(v), -1, SQLITE_STATIC)
#define BIND_COLUMN_(col, kind, member) BIND_##kind##_(s, i++, ev->member);

int record_bind(sqlite3_stmt *s, int first, const struct audit_event *ev)
{
	int i = first;
	AUDIT_COLUMNS(BIND_COLUMN_)
	return i;
}

/* A value that does not fit its member, or a column of the wrong type, makes
 * the row malformed: what the hash covers would not be what queries see. */
#define READ_I64_(q, c, member)                                                       \
	do {                                                                          \
		/* the type first: reading a column may convert it */              \
		ok &= sqlite3_column_type(q, c) == SQLITE_INTEGER;                    \
		int64_t v = sqlite3_column_int64(q, c);                               \
		r->ev.member = (__typeof__(r->ev.member))v;                           \
		ok &= (int64_t)r->ev.member == v;                                     \
	} while (0)
#define READ_TEXT_(q, c, member)                                                      \
	do {                                                                          \
		ok &= sqlite3_column_type(q, c) == SQLITE_TEXT;                       \
		db_column_text(q, c, r->text[t], sizeof r->text[t]);                  \
		r->ev.member = r->text[t++];                                          \
		ok &= (size_t)sqlite3_column_bytes(q, c) < AUDIT_TEXT_MAX;            \
	} while (0)
#define READ_COLUMN_(col, kind, member) READ_##kind##_(q, c, member); c++;

bool record_read(sqlite3_stmt *q, struct audit_record *r)
{
	int c = 1, t = 0;
	memset(r, 0, sizeof *r);
	bool ok = sqlite3_column_type(q, 0) == SQLITE_INTEGER;
	r->seq = sqlite3_column_int64(q, 0);
	AUDIT_COLUMNS(READ_COLUMN_)
	if (sqlite3_column_bytes(q, c) == AUDIT_HASH_BYTES)
		memcpy(r->prev, sqlite3_column_blob(q, c), AUDIT_HASH_BYTES);
	else
		ok = false;
	c++;
	if (sqlite3_column_bytes(q, c) == AUDIT_HASH_BYTES)
		memcpy(r->hash, sqlite3_column_blob(q, c), AUDIT_HASH_BYTES);
	else
		ok = false;
	return ok;
}

/* ---- the archive's line: {"seq":N,"time_ns":N,...,"prev":"hex","hash":"hex"} ---- */

static void json_text(FILE *f, const char *s)
{
	putc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			putc(*p, f);
	}
	putc('"', f);
}

static void json_hex(FILE *f, const char *key, const unsigned char *b)
{
	char hex[AUDIT_HASH_BYTES * 2 + 1];
	sodium_bin2hex(hex, sizeof hex, b, AUDIT_HASH_BYTES);
	fprintf(f, ",\"%s\":\"%s\"", key, hex);
}

#define JSON_I64_(f, v) fprintf(f, "%lld", (long long)(v))
#define JSON_TEXT_(f, v) json_text(f, nz(v))
#define JSON_COLUMN_(col, kind, member)        \
	fputs(",\"" #col "\":", f);            \
	JSON_##kind##_(f, r->ev.member);

void record_write_json(FILE *f, const struct audit_record *r)
{
	fprintf(f, "{\"seq\":%lld", (long long)r->seq);
	AUDIT_COLUMNS(JSON_COLUMN_)
	json_hex(f, "prev", r->prev);
	json_hex(f, "hash", r->hash);
	putc('}', f);
}

/* A strict reader of exactly that format: keys in order, nothing else. */
static bool expect(const char **p, const char *lit)
{
	size_t n = strlen(lit);
	if (strncmp(*p, lit, n) != 0)
		return false;
	*p += n;
	return true;
}

static bool parse_key(const char **p, const char *key, bool first)
{
	if (!first && !expect(p, ","))
		return false;
	return expect(p, "\"") && expect(p, key) && expect(p, "\":");
}

static bool parse_i64(const char **p, int64_t *out)
{
	const char *s = *p;
	bool neg = *s == '-';
	uint64_t v = 0;
	if (neg)
		s++;
	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v > (uint64_t)INT64_MAX + (neg ? 1 : 0))
		return false;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	*p = s;
	return true;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool parse_text(const char **p, char *out, size_t cap)
{
	const char *s = *p;
	size_t o = 0;
	if (*s++ != '"')
		return false;
	while (*s != '"') {
		unsigned char c = (unsigned char)*s;
		if (c == '\0' || c < 0x20 || o + 1 >= cap)
			return false;
		if (c == '\\') {
			s++;
			if (*s == '"' || *s == '\\') {
				c = (unsigned char)*s++;
			} else if (*s == 'u' && s[1] == '0' && s[2] == '0' && hexval(s[3]) >= 0 &&
				   hexval(s[4]) >= 0) {
				c = (unsigned char)(hexval(s[3]) * 16 + hexval(s[4]));
				if (c >= 0x20 && c != 0x7f)
					return false; /* the writer escapes only controls */
				s += 5;
			} else {
				return false;
			}
		} else {
			s++;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	*p = s + 1;
	return true;
}

static bool parse_hex(const char **p, unsigned char *out)
{
	char hex[AUDIT_HASH_BYTES * 2 + 1];
	size_t got = 0;
	if (!parse_text(p, hex, sizeof hex) || strlen(hex) != AUDIT_HASH_BYTES * 2)
		return false;
	return sodium_hex2bin(out, AUDIT_HASH_BYTES, hex, strlen(hex), NULL, &got, NULL) == 0 &&
	       got == AUDIT_HASH_BYTES;
}

#define PARSE_I64_(member)                                                          \
	do {                                                                        \
		int64_t v;                                                          \
		if (!parse_i64(&p, &v))                                             \
			return -1;                                                  \
		r->ev.member = (__typeof__(r->ev.member))v;                         \
		if ((int64_t)r->ev.member != v)                                     \
			return -1; /* out of the member's range */                  \
	} while (0)
#define PARSE_TEXT_(member)                                                         \
	do {                                                                        \
		if (!parse_text(&p, r->text[t], sizeof r->text[t]))                 \
			return -1;                                                  \
		r->ev.member = r->text[t++];                                        \
	} while (0)
#define PARSE_COLUMN_(col, kind, member)                                            \
	if (!parse_key(&p, #col, false))                                            \
		return -1;                                                          \
	PARSE_##kind##_(member);

int record_parse_json(const char *line, struct audit_record *r)
{
	const char *p = line;
	int t = 0;
	memset(r, 0, sizeof *r);
	if (!expect(&p, "{") || !parse_key(&p, "seq", true) || !parse_i64(&p, &r->seq))
		return -1;
	AUDIT_COLUMNS(PARSE_COLUMN_)
	if (!parse_key(&p, "prev", false) || !parse_hex(&p, r->prev) ||
	    !parse_key(&p, "hash", false) || !parse_hex(&p, r->hash) || !expect(&p, "}"))
		return -1;
	if (*p == '\n')
		p++;
	return *p == '\0' ? 0 : -1;
}
