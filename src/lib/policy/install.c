/* Installing a policy directory: the one routine that custctl init, root's
 * `policy reload --from`, and the daemon's `policy install` share.
 *
 * MUST: a reader never sees a half-written policy: the candidate is written
 * beside the target (DIR.new), every file fsynced, parsed in full, and only
 * then swapped in with one rename; on any error the old policy stays and the
 * candidate goes. Only regular files are copied, opened O_NOFOLLOW, at most
 * POLICY_FILE_MAX bytes each. */
#include "policy.h"
#include "i18n.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "names.h"

#define POLICY_MAX_FILES 32

static int join(char *out, size_t cap, const char *dir, const char *name)
{
	return (size_t)snprintf(out, cap, "%s/%s", dir, name) < cap ? 0 : ENAMETOOLONG;
}

static int write_file(const char *dir, const char *name, const void *data, size_t len, FILE *errs)
{
	char path[PATH_MAX];
	int rc = join(path, sizeof path, dir, name);
	int fd = rc ? -1 : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = rc ? rc : errno;
		fprintf(errs, "%s: %s\n", path, strerror(rc));
		return rc;
	}
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? errno : EIO;
			break;
		}
		p += w;
		left -= (size_t)w;
	}
	if (!rc && fsync(fd) != 0)
		rc = errno;
	if (close(fd) != 0 && !rc)
		rc = errno;
	if (rc)
		fprintf(errs, "%s: %s\n", path, strerror(rc));
	return rc;
}

/* Reads the regular file DIR/NAME (O_NOFOLLOW) into a new buffer. ENOTSUP for
 * anything but a regular file (skipped by the caller). */
static int read_file(const char *dir, const char *name, char **out, size_t *len, FILE *errs)
{
	char path[PATH_MAX];
	struct stat st;
	int rc = join(path, sizeof path, dir, name);
	int fd = rc ? -1 : open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		rc = rc ? rc : errno;
		if (rc == ELOOP)
			return ENOTSUP; /* a symlink: not policy */
		fprintf(errs, "%s: %s\n", path, strerror(rc));
		return rc;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ENOTSUP;
	}
	if (st.st_size > POLICY_FILE_MAX) {
		close(fd);
		fprintf(errs, _("%s: larger than %d bytes\n"), path, POLICY_FILE_MAX);
		return EFBIG;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	if (!buf) {
		close(fd);
		return ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? errno : EIO;
			break;
		}
		got += (size_t)r;
	}
	close(fd);
	if (rc) {
		fprintf(errs, "%s: %s\n", path, strerror(rc));
		free(buf);
		return rc;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

int policy_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = 0;
	if (!d)
		return errno == ENOENT ? 0 : errno;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) != 0 && !rc)
			rc = errno;
	}
	closedir(d);
	if (rmdir(dir) != 0 && !rc)
		rc = errno;
	return rc;
}

/* Copies the regular files of FROM into the new directory TO. */
static int copy_files(const char *from, const char *to, FILE *errs)
{
	DIR *d = opendir(from);
	struct dirent *e;
	int rc = 0, n = 0;
	if (!d) {
		rc = errno;
		fprintf(errs, "%s: %s\n", from, strerror(rc));
		return rc;
	}
	while (!rc && (e = readdir(d))) {
		char *text = NULL;
		size_t len = 0;
		if (e->d_name[0] == '.')
			continue;
		if (++n > POLICY_MAX_FILES) {
			fprintf(errs, _("%s: more than %d files\n"), from, POLICY_MAX_FILES);
			rc = EFBIG;
			break;
		}
		rc = read_file(from, e->d_name, &text, &len, errs);
		if (rc == ENOTSUP) {
			rc = 0;
			continue;
		}
		if (!rc)
			rc = write_file(to, e->d_name, text, len, errs);
		free(text);
	}
	closedir(d);
	return rc;
}

static int sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int rc = fsync(fd) != 0 ? errno : 0;
	close(fd);
	return rc;
}

static int parent_of(const char *path, char *out, size_t cap)
{
	if ((size_t)snprintf(out, cap, "%s", path) >= cap)
		return ENAMETOOLONG;
	char *slash = strrchr(out, '/');
	if (!slash)
		snprintf(out, cap, ".");
	else if (slash == out)
		out[1] = '\0';
	else
		*slash = '\0';
	return 0;
}

int policy_install(const char *dir, const char *from, const struct policy_file *files,
		   int nfiles, bool (*accept)(const struct policy *p, void *ctx, FILE *errs),
		   void *ctx, FILE *errs, struct policy **loaded)
{
	char next[PATH_MAX], parent[PATH_MAX];
	struct policy *p = NULL;
	struct stat st;
	int rc;

	if (loaded)
		*loaded = NULL;
	if ((size_t)snprintf(next, sizeof next, "%s.new", dir) >= sizeof next ||
	    parent_of(dir, parent, sizeof parent))
		return ENAMETOOLONG;
	for (int i = 0; i < nfiles; i++)
		if (!name_ok(files[i].name, false) || strlen(files[i].name) < 6 ||
		    strcmp(files[i].name + strlen(files[i].name) - 5, ".conf") != 0 ||
		    files[i].len > POLICY_FILE_MAX) {
			fprintf(errs, _("'%s' is not a policy file name, or the file is too large\n"),
				files[i].name);
			return EINVAL;
		}
	bool exists = lstat(dir, &st) == 0;
	if (exists && !S_ISDIR(st.st_mode)) {
		fprintf(errs, _("%s: not a directory\n"), dir);
		return ENOTDIR;
	}
	/* A candidate left by a crash is a leftover, never a policy. */
	policy_remove_dir(next);
	if (mkdir(next, 0755) != 0) {
		rc = errno;
		fprintf(errs, "%s: %s\n", next, strerror(rc));
		return rc;
	}
	rc = from ? copy_files(from, next, errs) : exists ? copy_files(dir, next, errs) : 0;
	for (int i = 0; !rc && i < nfiles; i++)
		rc = write_file(next, files[i].name, files[i].text, files[i].len, errs);
	if (rc)
		goto fail;
	int nerr = policy_load(next, errs, &p);
	if (nerr) {
		fprintf(errs, _("the policy has %d error%s; the old one stays in force\n"),
			nerr < 0 ? 1 : nerr, nerr == 1 ? "" : "s");
		rc = EINVAL;
		goto fail;
	}
	if (accept && !accept(p, ctx, errs)) {
		rc = EINVAL;
		goto fail;
	}
	if ((rc = sync_dir(next)))
		goto fail;
	if (exists ? renameat2(AT_FDCWD, next, AT_FDCWD, dir, RENAME_EXCHANGE) != 0
		   : rename(next, dir) != 0) {
		rc = errno;
		fprintf(errs, _("cannot install the policy in %s: %s\n"), dir, strerror(rc));
		goto fail;
	}
	sync_dir(parent);
	if (exists)
		policy_remove_dir(next); /* the old policy */
	if (loaded)
		*loaded = p;
	else
		policy_free(p);
	return 0;
fail:
	policy_free(p);
	policy_remove_dir(next);
	return rc;
}
