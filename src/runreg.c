#include "runreg.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

void runreg_add(const char *store, const char *mnt, const char *view, char *path, size_t cap)
{
	char dir[PATH_MAX];
	path[0] = '\0';
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
			 "second; policy reloads need SIGHUP by hand)", path, strerror(errno));
		path[0] = '\0';
		return;
	}
	fprintf(f, "%s\n%s\n", mnt, view ? view : "");
	fclose(f);
}

void runreg_remove(const char *path)
{
	if (path && path[0])
		unlink(path);
}

int runreg_signal(const char *store, int sig, pid_t except)
{
	char dir[PATH_MAX];
	int n = 0;
	if ((size_t)snprintf(dir, sizeof dir, "%s/run", store) >= sizeof dir)
		return 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char *end, exe[PATH_MAX], link[64];
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || pid == (long)except)
			continue;
		snprintf(link, sizeof link, "/proc/%ld/exe", pid);
		ssize_t len = readlink(link, exe, sizeof exe - 1);
		exe[len > 0 ? len : 0] = '\0';
		const char *base = strrchr(exe, '/');
		if (len <= 0 || strcmp(base ? base + 1 : exe, "custfs") != 0) {
			char stale[PATH_MAX];
			if ((size_t)snprintf(stale, sizeof stale, "%s/%s", dir, e->d_name) < sizeof stale)
				unlink(stale); /* a daemon that is gone */
			continue;
		}
		if (kill((pid_t)pid, sig) == 0)
			n++;
	}
	if (d)
		closedir(d);
	return n;
}
