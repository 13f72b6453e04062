/* Fields being written: which field inodes have open writers, and the size of
 * their pending contents.
 *
 * getattr must report the size a writer sees, and a field created by open(2)
 * but not yet flushed must be visible to its writer, yet a crash must leave no
 * trace of it. Striped locks: no global lock on the read path. */
#ifndef CUSTFS_INFLIGHT_H
#define CUSTFS_INFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct inflight;

struct inflight *inflight_new(void);
void inflight_free(struct inflight *f);

/* 0 or ENOMEM. */
int inflight_add_writer(struct inflight *f, int64_t field_id, size_t size);
void inflight_set_size(struct inflight *f, int64_t field_id, size_t size);
void inflight_remove_writer(struct inflight *f, int64_t field_id);
/* True if FIELD_ID has open writers; *SIZE is then their latest size. */
bool inflight_size(struct inflight *f, int64_t field_id, size_t *size);

#endif
