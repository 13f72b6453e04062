/* The run registry: every mounted daemon of a store announces itself in
 * STORE/run (PID: mount point and view; PID.sock: a socket only root may
 * use, the store being root's), so a change made anywhere (custctl as root,
 * or one mount on a staff member's behalf) reaches every mount, and the
 * command that made it returns only once each mount has acted on it.
 *
 * MUST: the socket answers only a peer with uid 0 (SO_PEERCRED); a mount
 * that does not confirm is named to the caller, never passed over. */
#ifndef CUSTFS_RUNREG_H
#define CUSTFS_RUNREG_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* What a mount is told. */
#define RUNREG_STAFF "staff"   /* the staff register, grants or checkouts changed */
#define RUNREG_POLICY "policy" /* the store's policy changed: reload it */
#define RUNREG_CUSTOMERS "customers" /* customers were erased: forget them */
#define RUNREG_KEY "key"       /* the master key was rotated: switch to the new one */
#define RUNREG_TIMEOUT_MS 10000

/* Writes STORE/run/PID (MOUNTPOINT and VIEW inside) and listens on
 * STORE/run/PID.sock. PATH receives the entry's name for runreg_remove;
 * *LISTEN_FD the socket (-1 on failure, logged). */
void runreg_add(const char *store, const char *mountpoint, const char *view, char *path,
		size_t cap, int *listen_fd);
void runreg_remove(const char *path);

/* One daemon per store and view: takes STORE/run/serve-VIEW.lock (an
 * flock, gone with the process, so never stale) and writes MOUNTPOINT into
 * it. Returns the lock's fd (kept open for the daemon's life), or -1 with
 * the reason in WHY (for a busy store: the mount that serves it). */
int runreg_claim(const char *store, const char *view, const char *mountpoint, char *why,
		 size_t cap);
/* The pid of a running custfs of STORE but EXCEPT registered at
 * MOUNTPOINT (one unmounted lazily, -z, serves on while files stay open),
 * or 0. */
long runreg_serving_at(const char *store, const char *mountpoint, pid_t except);
/* The path of that lock with SUFFIX ("" for the lock itself), for files that
 * belong to its holder. 0 or ENAMETOOLONG. */
int runreg_claim_path(const char *store, const char *view, const char *suffix, char *out,
		      size_t cap);

/* Tells every live custfs daemon of STORE but EXCEPT about MSG and waits for
 * each to confirm it acted. *TOLD is how many were told; returns how many did
 * not confirm, each named on ERRS (may be NULL). Removes stale entries. */
int runreg_tell(const char *store, const char *msg, pid_t except, int *told, FILE *errs);

/* The daemon's side: accepts one request on LISTEN_FD within TIMEOUT_MS.
 * 1 with *CONN and MSG set, 0 if none came, -1 on error. Peers other than
 * root are turned away. */
int runreg_accept(int listen_fd, int timeout_ms, int *conn, char *msg, size_t cap);
/* Answers the request on CONN (ERR 0: done) and closes it. */
void runreg_answer(int conn, int err, const char *why);

#endif
