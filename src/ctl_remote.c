/* custctl's commands that act as a person (cmd.h), and how they reach custfs.
 *
 * As root with a store directory among the first words: run here, on the
 * store files (break-glass). Otherwise: find the mount (--mount MNT, then
 * $CUSTFS_MOUNT, then the current directory or one above it, as git finds its
 * repository), write the words to MNT/.custfs/ctl and read the answer. custfs
 * takes the caller's identity from the kernel; nothing typed here names who
 * is asking.
 *
 * Wire format: the request is the words, each ending in NUL; the answer is
 * "EXIT OUTLEN\n", OUTLEN bytes of standard output, then standard error. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "ctl.h"
#include "runreg.h"
#include "staff.h"

#define REQUEST_MAX (1024 * 1024)

/* A store directory, or one the caller may not look into (stores are
 * root's): either way the words name a store, not a mount request. */
static bool is_store(const char *path)
{
	char db[PATH_MAX];
	struct stat st;
	if ((size_t)snprintf(db, sizeof db, "%s/%s", path, STORE_DB_FILE) >= sizeof db)
		return false;
	if (stat(db, &st) == 0)
		return S_ISREG(st.st_mode);
	return errno == EACCES && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void staff_changed_direct(void *ctx)
{
	runreg_signal(ctx, SIGUSR1, 0); /* every mount sees the change at once */
}

/* Root on the store files. ARGV has the store at index AT, which is removed. */
static int run_direct(int argc, char **argv, int at)
{
	const char *store = argv[at];
	if (geteuid() != 0) {
		fprintf(stderr, "custctl: only root works on the store files; as staff, run custctl "
				"inside the mount (or with --mount MNT)\n");
		return CMD_REFUSED;
	}
	struct vault *v = ctl_open_vault(store, NULL);
	if (!v)
		return CMD_REFUSED;
	char **args = malloc((size_t)argc * sizeof *args);
	int n = 0;
	for (int i = 0; args && i < argc; i++)
		if (i != at)
			args[n++] = argv[i];
	struct cmd_env e = {
		.v = v, .pol = v->policy, .uid = 0, .root = true, .out = stdout, .err = stderr,
		.staff_changed = staff_changed_direct, .ctx = (void *)store,
	};
	int rc = args ? cmd_run(&e, n, args) : CMD_REFUSED;
	free(args);
	vault_close(v);
	return rc;
}

static bool has_ctl(const char *dir)
{
	char p[PATH_MAX];
	struct stat st;
	return (size_t)snprintf(p, sizeof p, "%s/.custfs/ctl", dir) < sizeof p && stat(p, &st) == 0;
}

static int find_mount(const char *given, char *out, size_t cap)
{
	const char *env = getenv("CUSTFS_MOUNT");
	if (given || (env && env[0])) {
		snprintf(out, cap, "%s", given ? given : env);
		return has_ctl(out) ? 0 : -1;
	}
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd))
		return -1;
	for (;;) {
		if (has_ctl(cwd)) {
			snprintf(out, cap, "%s", cwd);
			return 0;
		}
		char *slash = strrchr(cwd, '/');
		if (!slash || slash == cwd)
			return -1;
		*slash = '\0';
	}
}

static int append(char **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
	if (*len + n > REQUEST_MAX)
		return -1;
	if (*len + n > *cap) {
		size_t ncap = (*len + n) * 2;
		char *g = realloc(*buf, ncap);
		if (!g)
			return -1;
		*buf = g;
		*cap = ncap;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	return 0;
}

/* policy install DIR: the files are read here, as the caller. */
static int add_policy_files(const char *dir, char **buf, size_t *len, size_t *cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	if (!d) {
		fprintf(stderr, "custctl: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		size_t nl = strlen(e->d_name);
		if (e->d_name[0] == '.' || nl < 6 || strcmp(e->d_name + nl - 5, ".conf") != 0)
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "re");
		if (!f) {
			fprintf(stderr, "custctl: %s: %s\n", path, strerror(errno));
			closedir(d);
			return -1;
		}
		if (append(buf, len, cap, e->d_name, nl + 1) != 0) {
			fclose(f);
			closedir(d);
			return -1;
		}
		char chunk[8192];
		size_t got;
		while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
			if (memchr(chunk, '\0', got) || append(buf, len, cap, chunk, got) != 0) {
				fprintf(stderr, "custctl: %s: not a text file of at most 1 MiB\n", path);
				fclose(f);
				closedir(d);
				return -1;
			}
		}
		fclose(f);
		append(buf, len, cap, "", 1);
		n++;
	}
	closedir(d);
	return n;
}

static int run_remote(int argc, char **argv, const char *mount_opt)
{
	char mnt[PATH_MAX], ctl[PATH_MAX + 16];
	char *req = NULL;
	size_t len = 0, cap = 0;

	if (find_mount(mount_opt, mnt, sizeof mnt) != 0) {
		fprintf(stderr, "custctl: no custfs mount found: run custctl inside the mount, or "
				"give --mount MNT or CUSTFS_MOUNT=MNT%s\n",
			geteuid() == 0 ? " (as root, name the store: custctl VERB STORE ...)" : "");
		return CMD_NO_MOUNT;
	}
	bool install = argc == 3 && !strcmp(argv[0], "policy") && !strcmp(argv[1], "install");
	for (int i = 0; i < (install ? 2 : argc); i++)
		if (append(&req, &len, &cap, argv[i], strlen(argv[i]) + 1) != 0) {
			fprintf(stderr, "custctl: request too large\n");
			free(req);
			return CMD_USAGE;
		}
	if (install && add_policy_files(argv[2], &req, &len, &cap) <= 0) {
		fprintf(stderr, "custctl: no policy files (*.conf) to install from %s\n", argv[2]);
		free(req);
		return CMD_REFUSED;
	}
	snprintf(ctl, sizeof ctl, "%s/.custfs/ctl", mnt);
	int fd = open(ctl, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "custctl: %s: %s\n", ctl, strerror(errno));
		free(req);
		return CMD_NO_MOUNT;
	}
	ssize_t w = write(fd, req, len);
	free(req);
	if (w != (ssize_t)len) {
		fprintf(stderr, "custctl: sending the request: %s\n", strerror(errno));
		close(fd);
		return CMD_NO_MOUNT;
	}
	/* The answer, read from its start (custfs runs the request at this read). */
	char *ans = NULL;
	size_t alen = 0, acap = 0;
	for (;;) {
		char chunk[65536];
		ssize_t r = pread(fd, chunk, sizeof chunk, (off_t)alen);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (append(&ans, &alen, &acap, chunk, (size_t)r) != 0)
			break;
	}
	close(fd);
	int code = CMD_NO_MOUNT;
	size_t outlen = 0;
	char *nl = ans ? memchr(ans, '\n', alen) : NULL;
	if (!nl || sscanf(ans, "%d %zu", &code, &outlen) != 2 ||
	    outlen > alen - (size_t)(nl + 1 - ans)) {
		fprintf(stderr, "custctl: no answer from custfs at %s\n", mnt);
		free(ans);
		return CMD_NO_MOUNT;
	}
	char *body = nl + 1;
	fwrite(body, 1, outlen, stdout);
	fwrite(body + outlen, 1, alen - (size_t)(body + outlen - ans), stderr);
	free(ans);
	return code;
}

int ctl_person_command(int argc, char **argv)
{
	/* argv[0] is the verb. --mount MNT may stand anywhere. */
	const char *mount_opt = NULL;
	char **args = malloc(((size_t)argc + 1) * sizeof *args);
	int n = 0;
	if (!args)
		return CMD_REFUSED;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--mount") && i + 1 < argc)
			mount_opt = argv[++i];
		else if (!strncmp(argv[i], "--mount=", 8))
			mount_opt = argv[i] + 8;
		else
			args[n++] = argv[i];
	}
	args[n] = NULL;
	/* A store directory among the first words: root on the files. */
	int at = 0;
	for (int i = 1; !mount_opt && i <= 2 && i < n && !at; i++)
		if (args[i][0] != '-' && is_store(args[i]))
			at = i;
	int rc = at ? run_direct(n, args, at) : run_remote(n, args, mount_opt);
	free(args);
	return rc;
}
