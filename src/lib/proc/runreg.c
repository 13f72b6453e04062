#include "runreg.h"
#include "i18n.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

static int sock_path(const char *dir, long pid, struct sockaddr_un *a)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	return (size_t)snprintf(a->sun_path, sizeof a->sun_path, "%s/%ld.sock", dir, pid) <
			       sizeof a->sun_path ? 0 : ENAMETOOLONG;
}

void runreg_add(const char *store, const char *mnt, const char *view, char *path, size_t cap,
		int *listen_fd)
{
	char dir[PATH_MAX];
	struct sockaddr_un a;
	path[0] = '\0';
	*listen_fd = -1;
	if ((size_t)snprintf(dir, sizeof dir, "%s/run", store) >= sizeof dir)
		return;
	mkdir(dir, 0700);
	if ((size_t)snprintf(path, cap, "%s/%d", dir, (int)getpid()) >= cap) {
		path[0] = '\0';
		return;
	}
	FILE *f = fopen(path, "we");
	if (!f) {
		log_warn("cannot write %s: %s (changes made elsewhere reach this mount within a "
			 "second)", path, strerror(errno));
		path[0] = '\0';
		return;
	}
	fprintf(f, "%s\n%s\n", mnt, view ? view : "");
	fclose(f);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sock_path(dir, (long)getpid(), &a) != 0) {
		if (fd >= 0)
			close(fd);
		log_warn("no control socket: changes made elsewhere reach this mount within a second");
		return;
	}
	unlink(a.sun_path); /* a previous daemon of this pid */
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
	umask(old);
	if (rc != 0 || listen(fd, 16) != 0) {
		log_warn("control socket %s: %s", a.sun_path, strerror(errno));
		close(fd);
		return;
	}
	*listen_fd = fd;
}

/* The lock's name for VIEW: the name itself when it is plain, else a hash
 * (a role's name may hold any UTF-8). */
static void claim_name(const char *view, char *out, size_t cap)
{
	bool plain = view && view[0] && strlen(view) <= 64;
	for (const char *c = view; plain && *c; c++)
		plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			(*c >= '0' && *c <= '9') || *c == '_' || *c == '-';
	if (!view || !view[0]) {
		snprintf(out, cap, "serve.lock");
	} else if (plain) {
		snprintf(out, cap, "serve-%s.lock", view);
	} else {
		uint32_t h = 2166136261u; /* FNV-1a: a name, not a secret */
		for (const unsigned char *c = (const unsigned char *)view; *c; c++)
			h = (h ^ *c) * 16777619u;
		snprintf(out, cap, "serve-%08x.lock", h);
	}
}

int runreg_claim_path(const char *store, const char *view, const char *suffix, char *out,
		      size_t cap)
{
	char name[96];
	claim_name(view, name, sizeof name);
	int n = snprintf(out, cap, "%s/run/%s%s", store, name, suffix);
	return n >= 0 && (size_t)n < cap ? 0 : ENAMETOOLONG;
}

int runreg_claim(const char *store, const char *view, const char *mountpoint, char *why,
		 size_t cap)
{
	char dir[PATH_MAX], path[PATH_MAX + 100];
	if ((size_t)snprintf(dir, sizeof dir, "%s/run", store) >= sizeof dir ||
	    runreg_claim_path(store, view, "", path, sizeof path) != 0) {
		snprintf(why, cap, _("%s: path too long"), store);
		return -1;
	}
	mkdir(dir, 0700);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(why, cap, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int err = errno;
		char holder[PATH_MAX] = "";
		ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
		holder[n > 0 ? n : 0] = '\0';
		holder[strcspn(holder, "\n")] = '\0';
		close(fd);
		if (err == EWOULDBLOCK)
			snprintf(why, cap, _("the store %s%s%s is already served by the custfs mounted "
				 "at %s (unmount it first, or mount another view)"), store,
				 view ? _(" with view ") : "", view ? view : "",
				 holder[0] ? holder : "(unknown)");
		else
			snprintf(why, cap, "%s: %s", path, strerror(err));
		return -1;
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, mountpoint, strlen(mountpoint), 0) < 0 ||
	    pwrite(fd, "\n", 1, (off_t)strlen(mountpoint)) < 0)
		log_warn("%s: %s (the lock holds; only its note is missing)", path, strerror(errno));
	return fd;
}

void runreg_remove(const char *path)
{
	if (!path || !path[0])
		return;
	char sock[PATH_MAX];
	if ((size_t)snprintf(sock, sizeof sock, "%s.sock", path) < sizeof sock)
		unlink(sock);
	unlink(path);
}

/* Whether PID is a running custfs (not a pid reused by something else). */
static bool is_custfs(long pid)
{
	char exe[PATH_MAX], link[64];
	snprintf(link, sizeof link, "/proc/%ld/exe", pid);
	ssize_t len = readlink(link, exe, sizeof exe - 1);
	if (len <= 0)
		return false;
	exe[len] = '\0';
	/* A daemon whose binary was replaced since it started (an upgrade) is
	 * still a running mount: Linux shows its executable as "... (deleted)". */
	static const char deleted[] = " (deleted)";
	size_t n = (size_t)len, d = sizeof deleted - 1;
	if (n > d && strcmp(exe + n - d, deleted) == 0)
		exe[n - d] = '\0';
	const char *base = strrchr(exe, '/');
	return strcmp(base ? base + 1 : exe, "custfs") == 0;
}

static int wait_for(int fd, short ev, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = ev };
	for (;;) {
		int64_t left = deadline - clock_mono_ms();
		if (left <= 0)
			return ETIMEDOUT;
		int rc = poll(&p, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return errno;
	}
}

/* Tells one daemon and waits for its answer. 0, or why it did not confirm. */
static int tell_one(const char *dir, long pid, const char *msg, char *why, size_t cap)
{
	struct sockaddr_un a;
	int64_t deadline = clock_mono_ms() + RUNREG_TIMEOUT_MS;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int rc = fd < 0 ? errno : sock_path(dir, pid, &a);
	if (!rc && connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS)
		rc = errno;
	if (!rc)
		rc = wait_for(fd, POLLOUT, deadline);
	char line[256];
	int n = snprintf(line, sizeof line, "%s\n", msg);
	if (!rc && write(fd, line, (size_t)n) != n)
		rc = errno ? errno : EIO;
	size_t got = 0;
	while (!rc && got < sizeof line - 1 && !memchr(line, '\n', got)) {
		if ((rc = wait_for(fd, POLLIN, deadline)))
			break;
		ssize_t r = read(fd, line + got, sizeof line - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? errno : EPIPE;
			break;
		}
		got += (size_t)r;
	}
	if (fd >= 0)
		close(fd);
	if (rc) {
		snprintf(why, cap, "%s", strerror(rc));
		return rc;
	}
	line[got] = '\0';
	line[strcspn(line, "\n")] = '\0';
	if (strcmp(line, "ok") != 0) {
		snprintf(why, cap, "%s", line);
		return EIO;
	}
	return 0;
}

/* Calls FN for each running custfs registered in STORE/run but EXCEPT (its
 * run directory, pid and entry), removing entries of daemons that are gone,
 * until FN returns nonzero. */
static void each_daemon(const char *store, pid_t except,
			int (*fn)(void *ctx, const char *dir, long pid, const char *entry),
			void *ctx)
{
	char dir[PATH_MAX];
	if ((size_t)snprintf(dir, sizeof dir, "%s/run", store) >= sizeof dir)
		return;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char *end, entry[PATH_MAX];
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || pid == (long)except)
			continue;
		if ((size_t)snprintf(entry, sizeof entry, "%s/%s", dir, e->d_name) >= sizeof entry)
			continue;
		if (!is_custfs(pid))
			runreg_remove(entry); /* a daemon that is gone */
		else if (fn(ctx, dir, pid, entry))
			break;
	}
	if (d)
		closedir(d);
}

struct telling {
	const char *msg;
	FILE *errs;
	int told, failed;
};

static int tell_daemon(void *ctx, const char *dir, long pid, const char *entry)
{
	struct telling *t = ctx;
	char why[256], mnt[PATH_MAX] = "?";
	FILE *f = fopen(entry, "re");
	if (f) {
		if (fgets(mnt, sizeof mnt, f))
			mnt[strcspn(mnt, "\n")] = '\0';
		fclose(f);
	}
	t->told++;
	if (tell_one(dir, pid, t->msg, why, sizeof why) != 0) {
		/* An older daemon without a socket still hears the signal. */
		kill((pid_t)pid, !strcmp(t->msg, RUNREG_POLICY) ? SIGHUP : SIGUSR1);
		if (t->errs)
			fprintf(t->errs, _("custctl: the mount at %s (custfs pid %ld) did not confirm "
					   "the change (%s); until it does, it may still serve what "
					   "the change ended\n"), mnt, pid, why);
		t->failed++;
	}
	return 0;
}

int runreg_tell(const char *store, const char *msg, pid_t except, int *told, FILE *errs)
{
	struct telling t = { .msg = msg, .errs = errs };
	each_daemon(store, except, tell_daemon, &t);
	*told = t.told;
	return t.failed;
}

struct serving {
	const char *mountpoint;
	long pid;
};

static int serves_there(void *ctx, const char *dir, long pid, const char *entry)
{
	(void)dir;
	struct serving *s = ctx;
	char mnt[PATH_MAX + 2];
	FILE *f = fopen(entry, "re");
	if (!f)
		return 0;
	size_t n = fread(mnt, 1, sizeof mnt - 1, f);
	fclose(f);
	mnt[n] = '\0';
	size_t len = strlen(s->mountpoint); /* the entry: MOUNTPOINT\nVIEW\n */
	if (n > len && memcmp(mnt, s->mountpoint, len) == 0 && mnt[len] == '\n')
		s->pid = pid;
	return s->pid != 0;
}

long runreg_serving_at(const char *store, const char *mountpoint, pid_t except)
{
	struct serving s = { mountpoint, 0 };
	each_daemon(store, except, serves_there, &s);
	return s.pid;
}

int runreg_accept(int listen_fd, int timeout_ms, int *conn, char *msg, size_t cap)
{
	struct pollfd p = { .fd = listen_fd, .events = POLLIN };
	int rc = poll(&p, 1, timeout_ms);
	if (rc <= 0)
		return rc < 0 && errno != EINTR ? -1 : 0;
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return 0;
	struct ucred cred;
	socklen_t len = sizeof cred;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != 0) {
		close(fd); /* only root changes a store */
		return 0;
	}
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	size_t got = 0;
	while (got < cap - 1) {
		ssize_t r = read(fd, msg + got, cap - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (memchr(msg, '\n', got))
			break;
	}
	msg[got] = '\0';
	msg[strcspn(msg, "\n")] = '\0';
	*conn = fd;
	return 1;
}

void runreg_answer(int conn, int err, const char *why)
{
	char line[256];
	int n = err ? snprintf(line, sizeof line, "error: %s\n", why ? why : strerror(err))
		    : snprintf(line, sizeof line, "ok\n");
	if (write(conn, line, (size_t)n) < 0)
		log_warn("control socket: the answer did not reach custctl: %s", strerror(errno));
	close(conn);
}
