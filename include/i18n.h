/* Messages people read, translated with gettext (domain "custfs").
 *
 * _() marks and translates a message; N_() only marks one kept in a table and
 * translated where it is printed. The catalogue is chosen by the thread's
 * locale (uselocale), so the daemon can answer each person in their own
 * language. What programs read (--json keys, CSV headers, audit records,
 * policy keywords, the daemon's log) stays untranslated. */
#ifndef CUSTFS_I18N_H
#define CUSTFS_I18N_H

#include <libintl.h>
#include <locale.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CUSTFS_TEXTDOMAIN "custfs"
/* A function, not dgettext itself: GCC's sanitizer builds otherwise see a
 * path where the format string is NULL (dgettext never returns NULL). */
__attribute__((format_arg(1), returns_nonnull)) static inline const char *
custfs_gettext(const char *msgid)
{
	const char *t = dgettext(CUSTFS_TEXTDOMAIN, msgid);
	return t ? t : msgid;
}
#define _(s) custfs_gettext(s)
#define N_(s) (s)

/* At the start of main: the messages' language and the character type from
 * the environment (LC_ALL, LC_MESSAGES, LC_CTYPE, LANG; numbers, dates and
 * sorting stay the C locale's, so outputs parse the same everywhere), and the
 * catalogue: $CUSTFS_LOCALEDIR if set, else the build tree's po/ when the
 * program runs from its build tree, else the installed locale directory. */
void i18n_init(void);

/* Whether NAME is a plausible locale name, strictly:
 * [A-Za-z_]+(\.[A-Za-z0-9-]+)?(@[a-z]+)? of at most 63 bytes. */
bool i18n_locale_name_ok(const char *name);

/* The locale for messages in NAME (a validated name), for uselocale(); other
 * categories are the process's. Every spelling of one language shares one
 * locale: the cache is keyed by the catalogue custfs has for NAME ("C" when
 * none), so it holds a few entries whatever names callers send. NULL if NAME is not valid or not installed; a
 * name of English ("C", "POSIX", "en...") is always the untranslated one. */
locale_t i18n_locale(const char *name);

/* The language a process asks for: LC_ALL, else LC_MESSAGES, else LANG, the
 * first one set and not empty, from ENVIRON (NUL-separated "K=V" entries,
 * LEN bytes). Copies it into OUT when it is a valid name; false otherwise. */
bool i18n_locale_from_environ(const char *environ, size_t len, char *out, size_t cap);

/* The same, read from /proc/PID/environ (a bounded read; the process may be
 * gone or not readable: false). */
bool i18n_locale_of_pid(pid_t pid, char *out, size_t cap);

/* This process's own language for messages (what setlocale chose, "C"
 * included), for a request to custfs: false if it is not a valid name. */
bool i18n_own_locale(char *out, size_t cap);

/* Switches this thread's messages to NAME's locale (if usable) and returns
 * what to restore with i18n_restore(); thread-safe, never setlocale. */
locale_t i18n_use(const char *name);
void i18n_restore(locale_t old);

#endif
