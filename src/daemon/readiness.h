/* Telling a service manager how the mount is doing: systemd's notification
 * protocol (sd_notify(3)), spoken directly, without libsystemd: one datagram
 * of "NAME=VALUE" lines to the AF_UNIX socket named by $NOTIFY_SOCKET (a path,
 * or '@' for an abstract name). Without $NOTIFY_SOCKET it says nothing. */
#ifndef CUSTFS_READINESS_H
#define CUSTFS_READINESS_H

#include <stdbool.h>

/* Reads $NOTIFY_SOCKET and removes it from the environment (nothing custfs
 * starts inherits it). Whether there is a manager to tell; false also for an
 * address that is not an absolute path or '@' name (said on stderr). */
bool readiness_init(void);
/* Sends STATE ("READY=1", "STOPPING=1", ...), printf-style. 0, or an errno;
 * 0 too when there is no manager to tell. */
int readiness_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
