#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static bool use_syslog;

void log_to_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	use_syslog = true;
}

void log_msg(int priority, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(priority, fmt, ap);
	} else {
		static const char *const level[] = { "emerg", "alert", "crit", "error",
						     "warning", "notice", "info", "debug" };
		/* One fprintf per line keeps lines from threads whole. */
		char line[1024];
		vsnprintf(line, sizeof line, fmt, ap);
		fprintf(stderr, "custfs: %s: %s\n", level[priority & 7], line);
	}
	va_end(ap);
}
