/* Retention (the policy's `keep` statements) and the store's figures. */
#ifndef CUSTFS_RETENTION_H
#define CUSTFS_RETENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"
#include "store.h"

#define PRUNE_MAX_CLASSES 32

struct prune_counts {
	struct prune_class {
		char name[64];
		int64_t versions, bytes;
	} cls[PRUNE_MAX_CLASSES];
	int n;
	int64_t versions, bytes;
};

/* The versions the policy's retention lets go, per class, at NOW_NS; with
 * REMOVE, removes them (inside the caller's transaction). Never a field's
 * current version. 0 or errno. */
int retention_prune(struct db *db, const struct policy *p, int64_t now_ns, bool remove,
		    struct prune_counts *out);

#define STATS_MAX_CLASSES 32
#define STATS_DAYS 7

struct store_stats {
	struct class_stats {
		char name[64];
		int64_t fields, versions, bytes; /* bytes: of ciphertext */
	} cls[STATS_MAX_CLASSES];
	int nclasses;
	int64_t customers, erased;
	int64_t versions_per_day[STATS_DAYS]; /* [0]: the last 24 hours */
};

int store_stats(struct db *db, const struct catalog *cat, int64_t now_ns, struct store_stats *st);

#endif
