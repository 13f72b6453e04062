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
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "ctl.h"
#include "runreg.h"
#include "staff.h"

#define REQUEST_MAX (1024 * 1024)
/* custfs's answer: at most 16 MiB of output and of errors (fs.h). */
#define ANSWER_MAX (2 * 16 * 1024 * 1024 + 64)

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

/* Every mount of the store acts on the change before the command returns. */
static int staff_changed_direct(void *ctx, FILE *err)
{
	int told = 0;
	return runreg_tell(ctx, RUNREG_STAFF, 0, &told, err);
}

static int customers_changed_direct(void *ctx, FILE *err)
{
	int told = 0;
	return runreg_tell(ctx, RUNREG_CUSTOMERS, 0, &told, err);
}

/* Root on the store files. ARGV has the store at index AT, which is removed;
 * the command's output goes to OUT. */
static int run_direct(int argc, char **argv, int at, FILE *out)
{
	const char *store = argv[at];
	if (geteuid() != 0) {
		fprintf(stderr, _("custctl: only root works on the store files; as staff, run custctl "
				"inside the mount (or with --mount MNT)\n"));
		return EXIT_REFUSED;
	}
	struct vault *v = ctl_open_vault(store, NULL);
	if (!v)
		return EXIT_REFUSED;
	char **args = malloc((size_t)argc * sizeof *args);
	int n = 0;
	for (int i = 0; args && i < argc; i++)
		if (i != at)
			args[n++] = argv[i];
	struct cmd_env e = {
		.v = v, .pol = v->policy, .uid = 0, .root = true, .out = out, .err = stderr,
		.staff_changed = staff_changed_direct, .customers_changed = customers_changed_direct,
		.ctx = (void *)store,
	};
	char detail[512];
	int rc = EXIT_REFUSED;
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

/* Whether PATH (relative to DIRFD; "" with AT_EMPTY_PATH: DIRFD itself) is
 * custfs's ctl file as root's daemon serves it: a regular file of uid 0 on a
 * FUSE mount (fuse.custfs unless root chose another -o subtype=) whose
 * owner is root or the caller (user_id in /proc/self/mountinfo, for the
 * mount statx names: fusermount writes the real uid of whoever mounts). Anyone can
 * make a directory holding .custfs/ctl (in /tmp, say), and anyone allowed
 * FUSE can mount a file system that calls itself custfs (as themselves:
 * user_id is theirs): a request sent there hands its words (customers,
 * reasons, policy files) to that person, and its answer is theirs to forge. */
static bool on_custfs(int dirfd, const char *path, int flags)
{
	struct statx sx;
	const unsigned want = STATX_MNT_ID | STATX_UID | STATX_TYPE;
	if (statx(dirfd, path, flags | AT_STATX_DONT_SYNC, want, &sx) != 0 ||
	    (sx.stx_mask & want) != want || sx.stx_uid != 0 || !S_ISREG(sx.stx_mode))
		return false;
	FILE *m = fopen("/proc/self/mountinfo", "re");
	if (!m)
		return false;
	char *line = NULL;
	size_t cap = 0;
	bool ok = false;
	while (getline(&line, &cap, m) > 0) {
		char *end;
		unsigned long long id = strtoull(line, &end, 10);
		if (end == line || id != sx.stx_mnt_id)
			continue;
		/* "... - FSTYPE SOURCE SUPEROPTS": no field holds a raw space */
		char *sep = strstr(line, " - ");
		char *type = sep ? sep + 3 : NULL;
		char *src = type ? strchr(type, ' ') : NULL;
		char *opts = src ? strchr(src + 1, ' ') : NULL;
		if (opts) {
			opts[strcspn(opts, "\n")] = '\0';
			/* fuse or fuse.SUBTYPE: root may name the subtype (-o subtype=) */
			ok = (src - type == 4 && !strncmp(type, "fuse", 4)) ||
			     (src - type > 5 && !strncmp(type, "fuse.", 5));
			/* root's, or the caller's own: root mounts a person's own
			 * mount with their uid (custfs -o person=), and a FUSE
			 * server the caller runs themself deceives no one else */
			char own[32];
			snprintf(own, sizeof own, "user_id=%u", (unsigned)getuid());
			bool trusted = false;
			for (char *o = strtok(opts + 1, ","); o; o = strtok(NULL, ","))
				trusted |= !strcmp(o, "user_id=0") || !strcmp(o, own);
			ok &= trusted;
		}
		break;
	}
	free(line);
	fclose(m);
	return ok;
}

static bool has_ctl(const char *dir)
{
	char p[PATH_MAX];
	return (size_t)snprintf(p, sizeof p, "%s/.custfs/ctl", dir) < sizeof p &&
	       on_custfs(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW);
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

static int append_max(char **buf, size_t *len, size_t *cap, const void *p, size_t n, size_t max)
{
	if (*len + n > max)
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

static int append(char **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
	return append_max(buf, len, cap, p, n, REQUEST_MAX);
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
				fprintf(stderr, _("custctl: %s: not a text file of at most 1 MiB\n"), path);
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
		fprintf(stderr, _("custctl: no custfs mount found: run custctl inside the mount, or "
				"give --mount MNT or CUSTFS_MOUNT=MNT%s\n"),
			geteuid() == 0 ? _(" (as root, name the store: custctl VERB STORE ...)") : "");
		return EXIT_NO_MOUNT;
	}
	/* A policy directory named in the request (policy propose DIR --reason
	 * TEXT; policy install DIR, which custfs refuses and explains): its files
	 * are read here, as the caller, and sent after the other words. */
	const char *dir = NULL;
	bool policy = argc >= 3 && !strcmp(argv[0], "policy");
	if (policy && !strcmp(argv[1], "propose")) {
		for (int i = 2; i < argc && !dir; i++) {
			if (strcmp(argv[i], "--reason") == 0 || strcmp(argv[i], "--version") == 0)
				i++;
			else
				dir = argv[i];
		}
	}
	if (policy && argc == 3 && !strcmp(argv[1], "install") && strspn(argv[2], "0123456789") !=
									  strlen(argv[2]))
		dir = argv[2];
	/* The language of the answer: custctl's own (i18n.h). */
	char loc[64], word[80];
	if (i18n_own_locale(loc, sizeof loc)) {
		snprintf(word, sizeof word, "%s%s", CTL_LOCALE_WORD, loc);
		append(&req, &len, &cap, word, strlen(word) + 1);
	}
	for (int i = 0; i < argc; i++)
		if (argv[i] != dir && append(&req, &len, &cap, argv[i], strlen(argv[i]) + 1) != 0) {
			fprintf(stderr, _("custctl: request too large\n"));
			free(req);
			return EXIT_USAGE;
		}
	if (dir && add_policy_files(dir, &req, &len, &cap) <= 0) {
		fprintf(stderr, _("custctl: no policy files (*.conf) in %s\n"), dir);
		free(req);
		return EXIT_REFUSED;
	}
	snprintf(ctl, sizeof ctl, "%s/.custfs/ctl", mnt);
	int fd = open(ctl, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		fprintf(stderr, "custctl: %s: %s\n", ctl, strerror(errno));
		free(req);
		return EXIT_NO_MOUNT;
	}
	/* The file opened, not only the one looked at: it may have been swapped. */
	if (!on_custfs(fd, "", AT_EMPTY_PATH)) {
		fprintf(stderr, _("custctl: %s is not on a custfs mount; nothing was sent\n"), ctl);
		close(fd);
		free(req);
		return EXIT_NO_MOUNT;
	}
	ssize_t w = write(fd, req, len);
	free(req);
	if (w != (ssize_t)len) {
		fprintf(stderr, _("custctl: sending the request: %s\n"), strerror(errno));
		close(fd);
		return EXIT_NO_MOUNT;
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
		if (append_max(&ans, &alen, &acap, chunk, (size_t)r, ANSWER_MAX) != 0)
			break;
	}
	close(fd);
	int code = EXIT_NO_MOUNT;
	size_t olen = 0;
	char *nl = ans ? memchr(ans, '\n', alen) : NULL;
	if (!nl || sscanf(ans, "%d %zu", &code, &olen) != 2 ||
	    olen > alen - (size_t)(nl + 1 - ans)) {
		fprintf(stderr, _("custctl: no answer from custfs at %s\n"), mnt);
		free(ans);
		return EXIT_NO_MOUNT;
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

/* ---- with-checkout: check out, run a command, always return (R3.5) ---- */

static volatile sig_atomic_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
}

static const int ending_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

/* The first ending signal pending on custctl, or 0. */
static int pending_ending_signal(void)
{
	sigset_t pending;
	if (sigpending(&pending) != 0)
		return 0;
	for (size_t i = 0; i < sizeof ending_signals / sizeof *ending_signals; i++)
		if (sigismember(&pending, ending_signals[i]))
			return ending_signals[i];
	return 0;
}

/* A pause between the checkout and the command, for tests of signals that
 * land there (CUSTCTL_TEST_PAUSE_MS; nothing else reads it). */
static void test_pause(void)
{
	const char *ms = getenv("CUSTCTL_TEST_PAUSE_MS");
	if (ms && *ms) {
		struct timespec t = { atol(ms) / 1000, (atol(ms) % 1000) * 1000000L };
		while (nanosleep(&t, &t) != 0 && errno == EINTR)
			;
	}
}

static int run_checked_out(int argc, char **argv, int dash, const char *mount_opt,
			   const sigset_t *old_mask);

static int with_checkout(int argc, char **argv, const char *mount_opt)
{
	int dash = 0;
	for (int i = 1; i < argc && !dash; i++)
		if (!strcmp(argv[i], "--"))
			dash = i;
	if (!dash || dash + 1 >= argc) {
		fprintf(stderr, _("usage: custctl with-checkout CUSTOMER[/FIELD|/CLASS] --purpose TEXT "
				"--for DURATION -- COMMAND [ARGS...]\n"));
		return EXIT_USAGE;
	}
	/* The signals that would end custctl are blocked from before the checkout
	 * exists until the command runs (then they are forwarded to it), so the
	 * checkout is returned whenever one lands. */
	sigset_t ending, old_mask;
	sigemptyset(&ending);
	for (size_t i = 0; i < sizeof ending_signals / sizeof *ending_signals; i++)
		sigaddset(&ending, ending_signals[i]);
	sigprocmask(SIG_BLOCK, &ending, &old_mask);
	int rc = run_checked_out(argc, argv, dash, mount_opt, &old_mask);
	sigprocmask(SIG_SETMASK, &old_mask, NULL); /* a signal held until now acts now */
	return rc;
}

static int run_checked_out(int argc, char **argv, int dash, const char *mount_opt,
			   const sigset_t *old_mask)
{
	(void)argc;
	/* checkout ARGS --json */
	char **req = calloc((size_t)dash + 2, sizeof *req);
	if (!req)
		return EXIT_REFUSED;
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
		return code ? code : EXIT_REFUSED;
	char idtext[32];
	snprintf(idtext, sizeof idtext, "%lld", id);
	char *ret[] = { "return", idtext };
	if (strcmp(status, "open") != 0) {
		fprintf(stderr, _("custctl: checkout #%lld waits for administration's approval; the "
				"command was not run\n"), id);
		run_remote_to(2, ret, mount_opt, stderr); /* withdraw the request */
		return EXIT_REFUSED;
	}
	/* Run the command; signals that would end custctl reach it instead, and the
	 * checkout is returned however it ends. A signal that came before the
	 * command started means it is not started at all. */
	test_pause();
	int sig = pending_ending_signal();
	int wstatus = 0;
	pid_t pid = 0;
	if (sig) {
		fprintf(stderr, _("custctl: %s before the command started: not run\n"), strsignal(sig));
		wstatus = sig; /* reported as killed by it, below */
	} else {
		struct sigaction sa = { .sa_handler = forward };
		sigemptyset(&sa.sa_mask);
		for (size_t i = 0; i < sizeof ending_signals / sizeof *ending_signals; i++)
			sigaction(ending_signals[i], &sa, NULL);
		pid = fork();
		if (pid == 0) {
			for (size_t i = 0; i < sizeof ending_signals / sizeof *ending_signals; i++)
				signal(ending_signals[i], SIG_DFL);
			sigprocmask(SIG_SETMASK, old_mask, NULL);
			execvp(argv[dash + 1], argv + dash + 1);
			fprintf(stderr, "custctl: %s: %s\n", argv[dash + 1], strerror(errno));
			_exit(127);
		}
		if (pid > 0) {
			child_pid = pid;
			sigset_t now;
			sigemptyset(&now);
			for (size_t i = 0; i < sizeof ending_signals / sizeof *ending_signals; i++)
				sigaddset(&now, ending_signals[i]);
			sigprocmask(SIG_UNBLOCK, &now, NULL); /* forwarded from here on */
			while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
				;
			sigprocmask(SIG_BLOCK, &now, NULL);
			child_pid = 0;
		}
	}
	/* The command's standard output stays its own: our words go to stderr. */
	int rrc = run_remote_to(2, ret, mount_opt, stderr);
	if (rrc != 0)
		fprintf(stderr, _("custctl: could not return checkout #%lld: return it by hand "
				"(custctl return %lld)\n"), id, id);
	if (pid < 0)
		return EXIT_REFUSED;
	if (sig) {
		/* Handled: custctl ends as the signal asked, with nothing open. */
		signal(sig, SIG_IGN);
		return 128 + sig;
	}
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return WEXITSTATUS(wstatus);
}

/* audit report --output FILE: written here, as the caller (custfs never
 * writes a file anyone names): into a new file beside FILE (0600: a report
 * names people and customers), renamed over FILE once the report is whole,
 * removed if it is not. Takes --output out of ARGV; NULL if not asked. */
static const char *report_output(int *argc, char **argv)
{
	/* The sub-verb: the first or second word that is no option or an option's
	 * value (every option of audit but --json takes one). */
	bool report = false;
	if (*argc < 2 || strcmp(argv[0], "audit"))
		return NULL;
	for (int i = 1, words = 0; i < *argc && words < 2; i++) {
		if (argv[i][0] == '-' && argv[i][1] == '-') {
			if (strcmp(argv[i], "--json") && !strchr(argv[i], '='))
				i++; /* its value */
			continue;
		}
		report |= !strcmp(argv[i], "report");
		words++;
	}
	if (!report)
		return NULL;
	for (int i = 1; i < *argc; i++) {
		const char *path = NULL;
		int take = 0;
		if (!strcmp(argv[i], "--output") && i + 1 < *argc)
			path = argv[i + 1], take = 2;
		else if (!strncmp(argv[i], "--output=", 9))
			path = argv[i] + 9, take = 1;
		if (take) {
			memmove(argv + i, argv + i + take, (size_t)(*argc - i - take + 1) * sizeof *argv);
			*argc -= take;
			return path;
		}
	}
	return NULL;
}

static FILE *output_open(const char *path, char *tmp, size_t cap)
{
	const char *slash = strrchr(path, '/');
	int n = slash ? snprintf(tmp, cap, "%.*s/.%s.XXXXXX", (int)(slash - path), path, slash + 1)
		      : snprintf(tmp, cap, ".%s.XXXXXX", path);
	if (!path[0] || (slash && !slash[1]) || n < 0 || (size_t)n >= cap) {
		fprintf(stderr, "custctl: --output %s: not a file name\n", path);
		return NULL;
	}
	int fd = mkostemp(tmp, O_CLOEXEC);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		fprintf(stderr, "custctl: --output %s: %s\n", path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
	}
	return f;
}

static int output_close(FILE *f, const char *tmp, const char *path, int rc)
{
	bool ok = fflush(f) == 0 && !ferror(f);
	ok &= fclose(f) == 0;
	if (rc == 0 && !ok) {
		fprintf(stderr, "custctl: --output %s: %s\n", path, strerror(errno));
		rc = EXIT_REFUSED;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		fprintf(stderr, "custctl: --output %s: %s\n", path, strerror(errno));
		rc = EXIT_REFUSED;
	}
	if (rc != 0)
		unlink(tmp);
	return rc;
}

int ctl_person_command(int argc, char **argv)
{
	/* argv[0] is the verb. --mount MNT may stand anywhere. */
	const char *mount_opt = NULL;
	char **args = malloc(((size_t)argc + 1) * sizeof *args);
	int n = 0;
	if (!args)
		return EXIT_REFUSED;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--mount") && i + 1 < argc)
			mount_opt = argv[++i];
		else if (!strncmp(argv[i], "--mount=", 8))
			mount_opt = argv[i] + 8;
		else
			args[n++] = argv[i];
	}
	args[n] = NULL;
	const char *output = report_output(&n, args);
	char tmp[PATH_MAX];
	FILE *out = output ? output_open(output, tmp, sizeof tmp) : stdout;
	if (!out) {
		free(args);
		return EXIT_REFUSED;
	}
	/* A store directory among the first words: root on the files. */
	int at = 0;
	for (int i = 1; !mount_opt && i <= 2 && i < n && !at; i++)
		if (args[i][0] != '-' && is_store(args[i]))
			at = i;
	int rc = !strcmp(args[0], "with-checkout") ? with_checkout(n, args, mount_opt)
		 : at ? run_direct(n, args, at, out) : run_remote_to(n, args, mount_opt, out);
	if (output)
		rc = output_close(out, tmp, output, rc);
	free(args);
	return rc;
}
