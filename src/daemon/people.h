/* The people using a mount: what each holds (open files, scratch files,
 * locked memory), within the policy's limits, and their open files, so a
 * change of their rights can reach every page the kernel keeps for them.
 *
 * MUST: one person over a limit gets EDQUOT and nobody else is stopped (the
 * totals only guard the daemon); a person's rights change drops every page
 * of every file they hold open (fuse_lowlevel_notify_inval_inode), so no
 * mmap, sendfile or splice serves a byte after the change; never call it
 * from a READ handler of the same inode (the kernel would wait for the page
 * that READ holds). Striped locks: opens of different people rarely meet. */
#ifndef CUSTFS_PEOPLE_H
#define CUSTFS_PEOPLE_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy.h"

struct people;
struct handle;

struct people *people_new(void);
void people_free(struct people *p);
/* The session to send invalidations to (set once the session exists). */
void people_set_session(struct people *p, struct fuse_session *se);

/* What a handle holds, counted against its opener. */
enum hold { HOLD_OPEN, HOLD_WRITER, HOLD_CTL, HOLD_SCRATCH, HOLD_COUNT };

/* A .custfs/why or explain file opens even for someone at the open-files
 * limit (that is when they need it), but only this many beyond it: one
 * person never takes everyone's share. */
#define PEOPLE_NOTES_BEYOND 4

/* Counts H (opened by UID) as held, with MEMORY bytes of locked memory.
 * EDQUOT, with *WHICH the limit that stopped it, when over a bound. NOTE: a
 * .custfs/why or explain file, which opens even for someone at the
 * open-files limit (up to PEOPLE_NOTES_BEYOND more); memory still counts. */
int people_attach(struct people *p, const int64_t *limits, uid_t uid, struct handle *h,
		  bool writer, bool ctl, bool note, size_t memory, enum limit *which);
void people_detach(struct people *p, uid_t uid, struct handle *h, bool writer, bool ctl);
/* Memory (handle buffers, scratch bytes) growing or shrinking by DELTA bytes.
 * EDQUOT when growing past a bound. */
int people_charge(struct people *p, const int64_t *limits, uid_t uid, int64_t delta,
		  bool scratch, enum limit *which);
/* One .custfs/ctl command of UID at NOW_NS: 0, or EDQUOT past the policy's
 * ctl-per-minute (a token bucket: bursts up to the limit, then evenly). */
int people_command(struct people *p, const int64_t *limits, uid_t uid, int64_t now_ns);
/* A scratch file made (+1) or gone (-1). EDQUOT over a bound. */
int people_scratch(struct people *p, const int64_t *limits, uid_t uid, int delta,
		   enum limit *which);

/* A number that grows at every change of UID's rights (theirs, or
 * everyone's): what a scratch file holds was written under the rights of
 * the epoch it was started in. */
uint64_t people_rights_epoch(struct people *p, uid_t uid);
/* Drops the kernel's pages (and attributes) of every file UID holds open. */
void people_invalidate(struct people *p, uid_t uid);
/* FN(CTX, UID) runs after people_invalidate(UID), and once with UID
 * (uid_t)-1 after people_invalidate_all (a one-person mount drops the
 * kernel's names then: fs_cache.c). Set before the mount is live. */
void people_on_invalidate(struct people *p, void (*fn)(void *ctx, uid_t uid), void *ctx);
void people_invalidate_all(struct people *p);

/* What UID holds now (for messages and tests). */
void people_usage(struct people *p, uid_t uid, int64_t out[LIMIT_COUNT]);

#endif
