/* The run registry: STORE/run/PID names each mounted daemon of a store, so a
 * change made anywhere (custctl as root, or one mount on a staff member's
 * behalf) can reach every mount: SIGHUP re-reads the policy, SIGUSR1 says the
 * staff register changed. */
#ifndef CUSTFS_RUNREG_H
#define CUSTFS_RUNREG_H

#include <stddef.h>
#include <sys/types.h>

/* Writes STORE/run/PID (MOUNTPOINT and VIEW inside). PATH receives the
 * file's name for runreg_remove; empty on failure (logged). */
void runreg_add(const char *store, const char *mountpoint, const char *view, char *path,
		size_t cap);
void runreg_remove(const char *path);
/* Signals every live custfs daemon of STORE but EXCEPT; removes stale
 * entries. Returns how many were signalled. */
int runreg_signal(const char *store, int sig, pid_t except);

#endif
