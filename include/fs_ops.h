/* The FUSE low-level operations of custfs.
 *
 * Each handler decodes the request, asks the access layer, calls the vault
 * (store + crypto) or the scratch table, and replies once. No SQL and no
 * crypto here.
 *
 * MUST:
 *  - identity is the FUSE request's uid, read at open and kept with the file
 *    handle (release and deferred writes arrive without it);
 *  - access_decide runs before any decryption; a deny is EACCES, and what a
 *    person may not see at all is ENOENT;
 *  - the kernel caches names and attributes per inode, for all users: custfs
 *    answers with zero timeouts so every lookup and stat is decided for its
 *    caller, and masked or sensitive contents never enter the page cache
 *    (direct_io);
 *  - a field's new value is stored only at flush/fsync/release or rename, as
 *    one atomic version; never a partial value;
 *  - never answer ENOSYS to OPEN (the kernel would stop sending opens). */
#ifndef CUSTFS_FS_OPS_H
#define CUSTFS_FS_OPS_H

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>

#include "inflight.h"
#include "notes.h"
#include "policy.h"
#include "scratch.h"
#include "vault.h"

struct fs {
	struct vault *v;
	struct scratch_table *scratch;
	struct inflight *inflight;
	struct notes *why;      /* each person's last denial */
	struct notes *explain;  /* each person's last explanation */
	_Atomic(struct policy *) policy; /* the policy in force; swapped on reload */
	pthread_mutex_t retired_lock;    /* guards retired */
	struct policy **retired;         /* replaced policies, freed at unmount */
	size_t nretired;
	atomic_uint_fast64_t acl_epoch; /* bumped when custctl signals a staff change */
	char *policy_dir;
	char *view;           /* -o view=ROLE, or NULL */
	char *mountpoint;     /* for audit records */
	bool audit_durable;   /* every record waits for a power-loss-safe commit */
	int64_t last_checkpoint_ns;
	double entry_timeout; /* seconds the kernel may cache names and attributes */
	int64_t mounted_ns;   /* the root directory's time */
};

/* FS takes V's policy as the first in force. 0, or ENOMEM. */
int fs_init(struct fs *fs, struct vault *v, const char *view, double entry_timeout);
void fs_destroy(struct fs *fs);

/* Re-reads the store's policy. On any error the old policy stays in force and
 * the errors are logged as file:line: message. 0 or EINVAL. */
int fs_reload_policy(struct fs *fs);

/* Marks checkouts whose time ran out as expired and logs each one
 * (unreturned, R3.5). Their access already ended at their end time: every
 * decision compares it with the clock. */
void fs_sweep_checkouts(struct fs *fs);

/* Records a daemon event (mount, unmount, policy reload) in the audit log. */
void fs_audit_event(struct fs *fs, const char *action, const char *detail);

extern const struct fuse_lowlevel_ops fs_lowlevel_ops;

#endif
