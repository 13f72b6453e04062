/* The FUSE low-level operations of custfs.
 *
 * Each handler decodes the request, asks the access layer, calls the vault
 * (store + crypto) or the scratch table, and replies once. No SQL and no
 * crypto here.
 *
 * MUST:
 *  - identity is the FUSE request's uid, read at open and kept with the file
 *    handle (release and deferred writes arrive without it);
 *  - access_decide runs before any decryption, and a deny is EACCES (ENOENT
 *    for what the person may not even see);
 *  - a field's new value is stored only at flush/fsync/release or rename, as
 *    one atomic version; never a partial value;
 *  - never answer ENOSYS to OPEN (the kernel would stop sending opens). */
#ifndef CUSTFS_FS_OPS_H
#define CUSTFS_FS_OPS_H

#include <fuse_lowlevel.h>

#include "inflight.h"
#include "scratch.h"
#include "vault.h"

struct fs {
	struct vault *v;
	struct scratch_table *scratch;
	struct inflight *inflight;
	double entry_timeout; /* seconds the kernel may cache names and attributes */
	int64_t mounted_ns;   /* the root directory's time */
};

/* 0, or ENOMEM. */
int fs_init(struct fs *fs, struct vault *v, double entry_timeout);
void fs_destroy(struct fs *fs);

extern const struct fuse_lowlevel_ops fs_lowlevel_ops;

#endif
