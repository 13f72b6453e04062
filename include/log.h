/* Diagnostics for operators: stderr in the foreground (under systemd, whose
 * journal reads it, each line with its "<N>" level prefix, sd-daemon(3));
 * daemonized, the system's log (syslog, or the journal through it), or where
 * there is none (no /dev/log) a file, so no line is lost.
 *
 * MUST: never pass a field value (plaintext) to these functions. Names of
 * customers and fields, uids and error texts are fine. */
#ifndef CUSTFS_LOG_H
#define CUSTFS_LOG_H

#include <stdbool.h>
#include <syslog.h>

void log_to_syslog(const char *ident);
/* Whether stderr is the journal's stream ($JOURNAL_STREAM names it): lines
 * to stderr then carry "<N>" level prefixes instead of "custfs: LEVEL:". */
bool log_detect_journal(void);
/* For a daemon: syslog if /dev/log is there (0), else append to FALLBACK
 * (1; -1 if it cannot be opened: stderr then). */
int log_daemonized(const char *ident, const char *fallback);
/* Whether messages go to the system's log (syslog or the journal, either
 * way). */
bool log_to_system(void);
void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)

#endif
