/* The language of messages: the process's, and one per request in custfs.
 *
 * custfs answers many people at once from its threads, each in the language
 * that person's own process asks for; it never calls setlocale per request
 * (not thread-safe): each answer is rendered under uselocale() of a locale
 * whose LC_MESSAGES is the person's, all other categories being custfs's. */
#include "i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#ifdef CUSTFS_BUILD_ROOT
static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return n > 0 && strncmp(path, dir, n) == 0 && path[n] == '/';
}
#endif

void i18n_init(void)
{
	/* Messages and the character type only: the numbers, dates and order
	 * custfs and custctl print and parse are the C locale's everywhere. */
	setlocale(LC_CTYPE, "");
	setlocale(LC_MESSAGES, "");
	const char *dir = getenv("CUSTFS_LOCALEDIR");
#ifdef CUSTFS_BUILD_ROOT
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = '\0';
	if (!dir || !dir[0])
		dir = n > 0 && under(exe, CUSTFS_BUILD_ROOT) ? CUSTFS_BUILD_LOCALEDIR
							      : CUSTFS_LOCALEDIR;
#else
	if (!dir || !dir[0])
		dir = CUSTFS_LOCALEDIR;
#endif
	bindtextdomain(CUSTFS_TEXTDOMAIN, dir);
	/* The catalogue is UTF-8, and so is everything custfs stores. */
	bind_textdomain_codeset(CUSTFS_TEXTDOMAIN, "UTF-8");
}

bool i18n_locale_name_ok(const char *s)
{
	size_t i = 0, n = strlen(s);
	if (n == 0 || n > 63)
		return false;
	while (s[i] && (s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
		i++;
	if (i == 0)
		return false;
	if (s[i] == '.') {
		size_t start = ++i;
		while (s[i] && (s[i] == '-' || (s[i] >= 'a' && s[i] <= 'z') ||
				(s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			i++;
		if (i == start)
			return false;
	}
	if (s[i] == '@') {
		size_t start = ++i;
		while (s[i] >= 'a' && s[i] <= 'z')
			i++;
		if (i == start)
			return false;
	}
	return s[i] == '\0';
}

static bool english(const char *name)
{
	return !strcmp(name, "C") || !strcmp(name, "POSIX") || !strncmp(name, "C.", 2) ||
	       (name[0] == 'e' && name[1] == 'n' && (name[2] == '\0' || name[2] == '_' ||
						      name[2] == '.' || name[2] == '@'));
}

#define LOCALES_MAX 16

static struct {
	pthread_mutex_t lock;
	int n;
	struct {
		char name[64];
		locale_t loc; /* (locale_t)0: not installed */
	} e[LOCALES_MAX];
} cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

static locale_t make(const char *name)
{
	locale_t base = duplocale(LC_GLOBAL_LOCALE);
	if (!base)
		return (locale_t)0;
	locale_t loc = newlocale(LC_MESSAGES_MASK, english(name) ? "C" : name, base);
	if (!loc && !strchr(name, '.')) {
		/* "zh_CN" alone: its UTF-8 form is what Debian generates */
		char utf8[80];
		snprintf(utf8, sizeof utf8, "%s.UTF-8", name);
		loc = newlocale(LC_MESSAGES_MASK, utf8, base);
	}
	if (!loc)
		freelocale(base);
	return loc;
}

/* Whether custfs has a catalogue for CAND (a part of a valid name: no '/'). */
static bool has_catalogue(const char *dir, const char *cand)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof path, "%s/%s/LC_MESSAGES/%s.mo", dir, cand,
			 CUSTFS_TEXTDOMAIN);
	return n > 0 && (size_t)n < sizeof path && access(path, R_OK) == 0;
}

/* The one name that stands for every spelling of NAME's language (a valid
 * name), as gettext would find the catalogue: "ll_TT@mod", "ll_TT", "ll@mod"
 * or "ll" when custfs has that catalogue, else "C" (no catalogue: the
 * untranslated words). The codeset is dropped: answers are UTF-8 whatever it
 * says. So the cache below holds one entry per catalogue, whatever names
 * callers send (a caller could otherwise fill it with made-up spellings and
 * leave everyone else in English, R1.3). */
static void language_key(const char *name, char key[64])
{
	memcpy(key, "C", 2);
	if (english(name))
		return;
	const char *dir = bindtextdomain(CUSTFS_TEXTDOMAIN, NULL);
	size_t lt = strcspn(name, ".@"), ll = strcspn(name, "_.@");
	const char *at = strchr(name, '@');
	size_t al = at ? strlen(at) : 0;
	/* Each candidate is at most as long as NAME (< 64 bytes). */
	size_t part[4], k = 0;
	bool mod[4];
	if (at)
		part[k] = lt, mod[k++] = true;
	part[k] = lt, mod[k++] = false;
	if (ll < lt) {
		if (at)
			part[k] = ll, mod[k++] = true;
		part[k] = ll, mod[k++] = false;
	}
	for (size_t i = 0; dir && i < k; i++) {
		char cand[64];
		size_t n = part[i] + (mod[i] ? al : 0);
		if (part[i] == 0 || n >= sizeof cand)
			continue;
		memcpy(cand, name, part[i]);
		if (mod[i])
			memcpy(cand + part[i], at, al);
		cand[n] = '\0';
		if (has_catalogue(dir, cand)) {
			memcpy(key, cand, n + 1);
			return;
		}
	}
}

locale_t i18n_locale(const char *asked)
{
	if (!asked || !i18n_locale_name_ok(asked))
		return (locale_t)0;
	char name[64];
	language_key(asked, name);
	locale_t loc = (locale_t)0;
	pthread_mutex_lock(&cache.lock);
	int i = 0;
	while (i < cache.n && strcmp(cache.e[i].name, name))
		i++;
	if (i < cache.n) {
		loc = cache.e[i].loc;
	} else {
		loc = make(name);
		/* Remembered while there is room: the names are few. */
		if (cache.n < LOCALES_MAX) {
			snprintf(cache.e[cache.n].name, sizeof cache.e[cache.n].name, "%s", name);
			cache.e[cache.n++].loc = loc;
		} else if (loc) {
			/* The table is full: the request gets the process's language
			 * rather than a locale nobody would free. */
			freelocale(loc);
			loc = (locale_t)0;
		}
	}
	pthread_mutex_unlock(&cache.lock);
	return loc;
}

bool i18n_locale_from_environ(const char *env, size_t len, char *out, size_t cap)
{
	static const char *const keys[] = { "LC_ALL=", "LC_MESSAGES=", "LANG=" };
	for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
		size_t kl = strlen(keys[k]);
		for (size_t i = 0; i < len;) {
			const char *e = env + i;
			const char *end = memchr(e, '\0', len - i);
			size_t el = end ? (size_t)(end - e) : len - i;
			if (el > kl && !strncmp(e, keys[k], kl)) {
				size_t vl = el - kl;
				if (vl >= cap || vl >= 64)
					return false;
				memcpy(out, e + kl, vl);
				out[vl] = '\0';
				return i18n_locale_name_ok(out);
			}
			i += el + 1;
		}
	}
	return false;
}

bool i18n_locale_of_pid(pid_t pid, char *out, size_t cap)
{
	char path[64];
	if (pid <= 0)
		return false;
	snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	/* Bounded: the variables that matter are near the start of any sane
	 * environment, and a huge one costs no more than this. */
	enum { ENV_MAX = 32768 };
	char *buf = malloc(ENV_MAX);
	size_t len = 0;
	while (buf && len < ENV_MAX) {
		ssize_t r = read(fd, buf + len, ENV_MAX - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	bool ok = buf && i18n_locale_from_environ(buf, len, out, cap);
	if (buf)
		explicit_bzero(buf, len); /* another person's environment: tokens, passwords */
	free(buf);
	return ok;
}

bool i18n_own_locale(char *out, size_t cap)
{
	const char *name = setlocale(LC_MESSAGES, NULL);
	const char *language = getenv("LANGUAGE");
	if (name && strcmp(name, "C") && strcmp(name, "POSIX") && language && language[0]) {
		/* gettext's own order: LANGUAGE's first choice over the locale's */
		char first[64];
		size_t n = strcspn(language, ":");
		if (n < sizeof first && n < cap) {
			memcpy(first, language, n);
			first[n] = '\0';
			if (i18n_locale_name_ok(first)) {
				memcpy(out, first, n + 1);
				return true;
			}
		}
	}
	if (!name || strlen(name) >= cap || !i18n_locale_name_ok(name))
		return false;
	snprintf(out, cap, "%s", name);
	return true;
}

locale_t i18n_use(const char *name)
{
	locale_t loc = i18n_locale(name);
	return loc ? uselocale(loc) : (locale_t)0;
}

void i18n_restore(locale_t old)
{
	if (old)
		uselocale(old);
}
