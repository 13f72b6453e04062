/* Diagnostics for operators: stderr in the foreground, syslog when daemonized.
 *
 * MUST: never pass a field value (plaintext) to these functions. Names of
 * customers and fields, uids and error texts are fine. */
#ifndef CUSTFS_LOG_H
#define CUSTFS_LOG_H

#include <stdbool.h>
#include <syslog.h>

void log_to_syslog(const char *ident);
void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)

#endif
