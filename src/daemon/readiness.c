#include "readiness.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct sockaddr_un addr;
static socklen_t addr_len; /* 0: no manager */

bool readiness_init(void)
{
	const char *name = getenv("NOTIFY_SOCKET");
	addr_len = 0;
	if (!name || !*name)
		return false;
	size_t n = strlen(name);
	memset(&addr, 0, sizeof addr);
	addr.sun_family = AF_UNIX;
	if ((name[0] != '/' && name[0] != '@') || n < 2 || n > sizeof addr.sun_path - (name[0] == '/')) {
		fprintf(stderr, "custfs: NOTIFY_SOCKET=%s: not an absolute path or an '@' abstract "
				"name; readiness is not reported\n", name);
		unsetenv("NOTIFY_SOCKET");
		return false;
	}
	memcpy(addr.sun_path, name, n);
	if (name[0] == '@')
		addr.sun_path[0] = '\0'; /* abstract: the name is the bytes after it, no NUL */
	addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (name[0] == '/'));
	unsetenv("NOTIFY_SOCKET");
	return true;
}

int readiness_notify(const char *fmt, ...)
{
	if (!addr_len)
		return 0;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof msg)
		return EMSGSIZE;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	int rc = 0;
	/* The kernel adds our credentials: the manager checks who speaks. */
	if (sendto(fd, msg, (size_t)len, MSG_NOSIGNAL, (const struct sockaddr *)&addr, addr_len) < 0)
		rc = errno;
	close(fd);
	return rc;
}
