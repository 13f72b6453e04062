#include "passphrase.h"
#include "i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static char *read_line_fd(int fd, size_t *len, char *err, size_t errlen)
{
	char *p = sodium_malloc(PASSPHRASE_MAX + 1);
	if (!p) {
		snprintf(err, errlen, _("out of memory"));
		return NULL;
	}
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1); /* one byte at a time: nothing read past the line */
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, _("cannot read passphrase: %s"), strerror(errno));
			sodium_free(p);
			return NULL;
		}
		if (r == 0 || c == '\n')
			break;
		if (n == PASSPHRASE_MAX) {
			snprintf(err, errlen, _("passphrase is longer than %d bytes"), PASSPHRASE_MAX);
			sodium_free(p);
			return NULL;
		}
		p[n++] = c;
	}
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n == 0) {
		snprintf(err, errlen, _("passphrase is empty"));
		sodium_free(p);
		return NULL;
	}
	p[n] = '\0';
	*len = n;
	return p;
}

char *passphrase_from_file(const char *file, size_t *len, char *err, size_t errlen)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return NULL;
	}
	char *p = read_line_fd(fd, len, err, errlen);
	close(fd);
	return p;
}

char *passphrase_prompt(const char *prompt, size_t *len, char *err, size_t errlen)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || !isatty(fd)) {
		snprintf(err, errlen, _("no terminal to ask for the passphrase (use -o passfile=FILE)"));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	struct termios old, quiet;
	if (tcgetattr(fd, &old) != 0) {
		snprintf(err, errlen, _("cannot read terminal settings: %s"), strerror(errno));
		close(fd);
		return NULL;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (write(fd, prompt, strlen(prompt)) < 0) {
		/* The prompt is a courtesy; reading still works. */
	}
	tcsetattr(fd, TCSAFLUSH, &quiet);
	char *p = read_line_fd(fd, len, err, errlen);
	tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0) {
		/* as above */
	}
	close(fd);
	return p;
}

void passphrase_free(char *p)
{
	if (p)
		sodium_free(p);
}
