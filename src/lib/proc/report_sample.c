/* Spot checks (R5.1): data accesses drawn at random, every one of the
 * period alike likely, in one pass (reservoir sampling, Algorithm L: about
 * K * (1 + ln(N / K)) random numbers for N records, from libsodium's
 * CSPRNG, so nobody can tell in advance which accesses will be checked).
 * Commands, closes and the procedures' steps are not accesses to customer
 * data: they are never drawn. */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

bool report_data_access(const char *action)
{
	return !strncmp(action, "open", 4) || !strcmp(action, "read") || !strcmp(action, "write") ||
	       !strcmp(action, "create") || !strncmp(action, "read-", 5) ||
	       !strncmp(action, "write-", 6);
}

static double uniform01(void)
{
	uint64_t x;
	randombytes_buf(&x, sizeof x);
	return ((double)(x >> 11) + 0.5) / 9007199254740992.0; /* (0, 1) */
}

static void skip(struct report_reservoir *s)
{
	s->next += 1 + (long)floor(log(uniform01()) / log(1 - s->w));
}

long report_reservoir_offer(struct report_reservoir *s)
{
	long i = s->seen++;
	if (s->k <= 0)
		return -1;
	if (i < s->k) {
		if (i == s->k - 1) {
			s->w = exp(log(uniform01()) / (double)s->k);
			s->next = i;
			skip(s);
		}
		return i;
	}
	if (i < s->next)
		return -1;
	s->w *= exp(log(uniform01()) / (double)s->k);
	skip(s);
	return (long)randombytes_uniform((uint32_t)s->k);
}

struct pick {
	struct report_reservoir res;
	struct audit_record **kept;
	int err;
};

static int offer(void *p, const struct audit_record *r)
{
	struct pick *pk = p;
	if (!report_data_access(r->ev.action))
		return 0;
	long slot = report_reservoir_offer(&pk->res);
	if (slot < 0)
		return 0;
	if (!pk->kept[slot] && !(pk->kept[slot] = malloc(sizeof **pk->kept))) {
		pk->err = ENOMEM;
		return 1;
	}
	struct audit_record *k = pk->kept[slot];
	k->seq = r->seq;
	audit_record_copy(k, &r->ev);
	return 0;
}

static int by_seq(const void *a, const void *b)
{
	const struct audit_record *x = *(struct audit_record *const *)a,
				  *y = *(struct audit_record *const *)b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int report_sample(struct audit *a, const struct audit_filter *f, int n,
		  int (*fn)(void *ctx, const struct audit_record *r), void *ctx)
{
	struct pick pk = { .res = { .k = n } };
	if (n <= 0)
		return 0;
	if (!(pk.kept = calloc((size_t)n, sizeof *pk.kept)))
		return ENOMEM;
	int err = audit_query(a, f, offer, &pk);
	err = err ? err : pk.err;
	size_t got = 0;
	for (int i = 0; i < n; i++)
		if (pk.kept[i])
			pk.kept[got++] = pk.kept[i];
	if (got > 1)
		qsort(pk.kept, got, sizeof *pk.kept, by_seq);
	for (size_t i = 0; !err && i < got; i++)
		if (fn(ctx, pk.kept[i]))
			break;
	for (size_t i = 0; i < got; i++)
		free(pk.kept[i]);
	free(pk.kept);
	return err;
}
