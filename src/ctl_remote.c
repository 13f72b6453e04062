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
#include <sys/wait.h>
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
	char detail[512];
	int rc = CMD_REFUSED;
	if (args) {
		char words[480];
		cmd_describe(n, args, words, sizeof words);
		snprintf(detail, sizeof detail, "break-glass: %s", words);
		/* On the record before it happens, or it does not happen. */
		if (ctl_audit(v, "command", 0, "", true, detail) == 0) {
			rc = cmd_run(&e, n, args);
			ctl_audit(v, "command-done", 0, "", rc == 0, detail);
		}
	}
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

/* Sends ARGV to the mount and returns the exit code, with the answer's
 * standard output and error in *OUT and *ERR (malloc'd, the caller frees). */
static int remote_call(int argc, char **argv, const char *mount_opt, char **out, size_t *outlen,
		       char **err, size_t *errlen)
{
	char mnt[PATH_MAX], ctl[PATH_MAX + 16];
	char *req = NULL;
	size_t len = 0, cap = 0;

	*out = *err = NULL;
	*outlen = *errlen = 0;
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
	size_t olen = 0;
	char *nl = ans ? memchr(ans, '\n', alen) : NULL;
	if (!nl || sscanf(ans, "%d %zu", &code, &olen) != 2 ||
	    olen > alen - (size_t)(nl + 1 - ans)) {
		fprintf(stderr, "custctl: no answer from custfs at %s\n", mnt);
		free(ans);
		return CMD_NO_MOUNT;
	}
	char *body = nl + 1;
	size_t elen = alen - (size_t)(body + olen - ans);
	*out = malloc(olen + 1);
	*err = malloc(elen + 1);
	if (*out) {
		memcpy(*out, body, olen);
		(*out)[olen] = '\0';
		*outlen = olen;
	}
	if (*err) {
		memcpy(*err, body + olen, elen);
		(*err)[elen] = '\0';
		*errlen = elen;
	}
	free(ans);
	return code;
}

static int run_remote_to(int argc, char **argv, const char *mount_opt, FILE *to)
{
	char *out, *err;
	size_t outlen, errlen;
	int code = remote_call(argc, argv, mount_opt, &out, &outlen, &err, &errlen);
	if (out)
		fwrite(out, 1, outlen, to);
	if (err)
		fwrite(err, 1, errlen, stderr);
	free(out);
	free(err);
	return code;
}

static int run_remote(int argc, char **argv, const char *mount_opt)
{
	return run_remote_to(argc, argv, mount_opt, stdout);
}

/* ---- with-checkout: check out, run a command, always return (R3.5) ---- */

static volatile sig_atomic_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
}

static int with_checkout(int argc, char **argv, const char *mount_opt)
{
	int dash = 0;
	for (int i = 1; i < argc && !dash; i++)
		if (!strcmp(argv[i], "--"))
			dash = i;
	if (!dash || dash + 1 >= argc) {
		fprintf(stderr, "usage: custctl with-checkout CUSTOMER[/FIELD|/CLASS] --purpose TEXT "
				"--for DURATION -- COMMAND [ARGS...]\n");
		return CMD_USAGE;
	}
	/* checkout ARGS --json */
	char **req = calloc((size_t)dash + 2, sizeof *req);
	if (!req)
		return CMD_REFUSED;
	req[0] = "checkout";
	for (int i = 1; i < dash; i++)
		req[i] = argv[i];
	req[dash] = "--json";
	char *out, *err;
	size_t outlen, errlen;
	int code = remote_call(dash + 1, req, mount_opt, &out, &outlen, &err, &errlen);
	free(req);
	if (err)
		fwrite(err, 1, errlen, stderr);
	long long id = 0;
	char status[16] = "";
	if (code == 0 && out)
		sscanf(out, "{\"id\":%lld,\"status\":\"%15[a-z]", &id, status);
	free(out);
	free(err);
	if (code != 0 || id <= 0)
		return code ? code : CMD_REFUSED;
	char idtext[32];
	snprintf(idtext, sizeof idtext, "%lld", id);
	char *ret[] = { "return", idtext };
	if (strcmp(status, "open") != 0) {
		fprintf(stderr, "custctl: checkout #%lld waits for administration's approval; the "
				"command was not run\n", id);
		run_remote_to(2, ret, mount_opt, stderr); /* withdraw the request */
		return CMD_REFUSED;
	}
	/* Run the command; signals that would end custctl reach it instead, and the
	 * checkout is returned however it ends. */
	struct sigaction sa = { .sa_handler = forward };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		execvp(argv[dash + 1], argv + dash + 1);
		fprintf(stderr, "custctl: %s: %s\n", argv[dash + 1], strerror(errno));
		_exit(127);
	}
	int wstatus = 0;
	if (pid > 0) {
		child_pid = pid;
		while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
			;
		child_pid = 0;
	}
	/* The command's standard output stays its own: our words go to stderr. */
	int rrc = run_remote_to(2, ret, mount_opt, stderr);
	if (rrc != 0)
		fprintf(stderr, "custctl: could not return checkout #%lld: return it by hand "
				"(custctl return %lld)\n", id, id);
	if (pid < 0)
		return CMD_REFUSED;
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return WEXITSTATUS(wstatus);
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
	int rc = !strcmp(args[0], "with-checkout") ? with_checkout(n, args, mount_opt)
		 : at ? run_direct(n, args, at) : run_remote(n, args, mount_opt);
	free(args);
	return rc;
}
