/* Fields being written: which fields have open writers, and, per writer (a
 * person), the size of their pending contents.
 *
 * getattr must report the size a writer sees on their own (per-person) inode,
 * and no one else's; a field created by open(2) but not yet flushed must be
 * visible, yet a crash must leave no trace of it. Striped locks: no global
 * lock on the read path. */
#ifndef CUSTFS_INFLIGHT_H
#define CUSTFS_INFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct inflight;

struct inflight *inflight_new(void);
void inflight_free(struct inflight *f);

/* 0 or ENOMEM. */
int inflight_add_writer(struct inflight *f, int64_t field_id, uid_t uid, size_t size);
void inflight_set_size(struct inflight *f, int64_t field_id, uid_t uid, size_t size);
/* UID's handle has just committed (or been refused): until its next write,
 * stat shows the stored value's size, even while the kernel's RELEASE of a
 * closed file is still on its way. */
void inflight_settled(struct inflight *f, int64_t field_id, uid_t uid);
void inflight_remove_writer(struct inflight *f, int64_t field_id, uid_t uid);
/* True if FIELD_ID has open writers. */
bool inflight_any(struct inflight *f, int64_t field_id);
/* True if UID has FIELD_ID open for writing with bytes not yet committed;
 * *SIZE is then the latest size one of their handles has. */
bool inflight_size(struct inflight *f, int64_t field_id, uid_t uid, size_t *size);

#endif
