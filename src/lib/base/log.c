#include "log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static bool use_syslog;
static bool journal_stderr; /* stderr is the journal's stream: "<N>" prefixes */
static int log_fd = -1; /* a file, where there is no system log */

bool log_detect_journal(void)
{
	/* systemd sets JOURNAL_STREAM=DEV:INODE of the stream it connected to
	 * stdout or stderr (systemd.exec(5)); it counts only if stderr is still
	 * that stream, not a file or pipe the caller put there instead. */
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;
	journal_stderr = js && sscanf(js, "%llu:%llu%c", &dev, &ino, &end) == 2 &&
			 fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
			 (unsigned long long)st.st_ino == ino;
	return journal_stderr;
}

void log_to_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	use_syslog = true;
}

int log_daemonized(const char *ident, const char *fallback)
{
	struct stat st;
	journal_stderr = false; /* a daemon's stderr is /dev/null */
	/* The system's log when it is there (journald provides /dev/log too); a
	 * machine without one still keeps every line, in FALLBACK. */
	if (stat("/dev/log", &st) == 0 && S_ISSOCK(st.st_mode)) {
		log_to_syslog(ident);
		return 0;
	}
	log_fd = open(fallback, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	return log_fd >= 0 ? 1 : -1;
}

bool log_to_system(void)
{
	return use_syslog || journal_stderr;
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
		if (log_fd >= 0) {
			char stamp[32], out[1100];
			time_t now = time(NULL);
			struct tm tm;
			strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S%z", localtime_r(&now, &tm));
			int n = snprintf(out, sizeof out, "%s custfs[%d]: %s: %s\n", stamp,
					 (int)getpid(), level[priority & 7], line);
			if (n > 0 && write(log_fd, out, (size_t)n < sizeof out ? (size_t)n
									: sizeof out - 1) < 0) {
				/* nowhere else to say it */
			}
		} else if (journal_stderr) {
			/* sd-daemon(3): the journal takes the level from the prefix
			 * (and the name from the unit), so it is kept with each line. */
			fprintf(stderr, "<%d>%s\n", priority & 7, line);
		} else {
			fprintf(stderr, "custfs: %s: %s\n", level[priority & 7], line);
		}
	}
	va_end(ap);
}
