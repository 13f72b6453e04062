/* custfs: the FUSE daemon. `custfs [options] STORE MOUNTPOINT`.
 *
 * Checks everything it can (options, store, keys, policy) before mounting, so a
 * mistake is a message and exit code 1 or 2, never a half-mounted filesystem. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <limits.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "config.h"
#include "crypto.h"
#include "exitcode.h"
#include "fs.h"
#include "i18n.h"
#include "log.h"
#include "passphrase.h"
#include "readiness.h"
#include "clock.h"
#include "runreg.h"
#include "text.h"
#include "vault.h"


struct options {
	char *store;
	char *passfile;
	char *entry_timeout;
	char *cached_names;
	char *person;
	char *view;
	char *witness;
	int audit_durable;
	int nonempty;
	int nonopts;
	int bad;
};

#define OPT(t, p) { t, offsetof(struct options, p), 1 }
static const struct fuse_opt option_spec[] = {
	OPT("passfile=%s", passfile),
	OPT("entry_timeout=%s", entry_timeout),
	OPT("cached_names=%s", cached_names),
	OPT("view=%s", view),
	OPT("person=%s", person),
	OPT("witness=%s", witness),
	OPT("audit_durable", audit_durable),
	OPT("nonempty", nonempty),
	FUSE_OPT_END
};

/* Whether an -o option string in ARGS holds NAME (e.g. "fsname="). */
static bool has_fuse_opt(const struct fuse_args *args, const char *name)
{
	size_t n = strlen(name);
	for (int i = 0; i < args->argc; i++) {
		const char *a = args->argv[i];
		if (!strncmp(a, "-o", 2))
			a += 2;
		for (const char *p = a; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
			if (!strncmp(p, name, n))
				return true;
	}
	return false;
}

/* 0, or EXIT_USAGE with the reason said: MNT is already a mount point, or
 * holds files (unless NONEMPTY). */
static int check_mountpoint(const char *mnt, bool nonempty)
{
	struct stat st, up;
	char parent[PATH_MAX + 4];
	snprintf(parent, sizeof parent, "%s/..", mnt);
	if (stat(mnt, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, _("custfs: %s: not a directory\n"), mnt);
		return EXIT_USAGE;
	}
	if (stat(parent, &up) == 0 && (up.st_dev != st.st_dev || up.st_ino == st.st_ino)) {
		fprintf(stderr, _("custfs: %s is already a mount point\n"), mnt);
		return EXIT_USAGE;
	}
	DIR *d = opendir(mnt);
	struct dirent *e;
	bool empty = true;
	while (d && empty && (e = readdir(d)))
		empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	if (!empty && !nonempty) {
		fprintf(stderr, _("custfs: %s is not empty (-o nonempty mounts over its files)\n"), mnt);
		return EXIT_USAGE;
	}
	return 0;
}

/* The first non-option is STORE; the next is left for fuse_parse_cmdline. */
static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct options *o = data;
	(void)outargs;
	if (key == FUSE_OPT_KEY_NONOPT && o->nonopts++ == 0) {
		o->store = strdup(arg);
		return 0;
	}
	if (key == FUSE_OPT_KEY_NONOPT && o->nonopts > 2) {
		fprintf(stderr, _("custfs: unexpected argument '%s'\n"), arg);
		o->bad = 1;
		return 0;
	}
	return 1;
}

static void usage(const char *prog)
{
	printf(_("usage: %s [options] STORE MOUNTPOINT\n\n"
	       "Mounts the custfs store STORE (made by `custctl init`) at MOUNTPOINT.\n\n"
	       "custfs options:\n"
	       "    -o passfile=FILE       read the master key's passphrase from FILE\n"
	       "                           (default: ask on the terminal, if the key has one)\n"
	       "    -o view=ROLE           show only what ROLE may ever see (per-role views)\n"
	       "    -o witness=DIR         also append every signed checkpoint of the audit\n"
	       "                           log to DIR/STOREID.checkpoints (keep DIR where\n"
	       "                           root on this machine cannot rewrite it)\n"
	       "    -o audit_durable       every audit record survives power loss (by default\n"
	       "                           only sensitive ones do; others survive a crash)\n"
	       "    -o person=LOGIN        a mount for that person alone (the kernel lets\n"
	       "                           no one else in, root included): names and\n"
	       "                           attributes are cached (entry_timeout, default 1)\n"
	       "    -o entry_timeout=SECS  how long the kernel may cache names and\n"
	       "                           attributes (default 0: every access is decided;\n"
	       "                           more only on a mount run by its one user,\n"
	       "                           refused when custfs serves several people)\n"
	       "    -o cached_names=N      on a person's mount, at most N names kept by\n"
	       "                           the kernel (default 262144): a rights change\n"
	       "                           drops each; past N, names are not kept\n\n"
	       "Signals: SIGHUP re-reads STORE/policy (custctl policy reload); the old\n"
	       "policy stays in force if the new one has errors.\n\n"
	       "FUSE options:\n"), prog);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

/* ---- policy reload on SIGHUP, staff changes on SIGUSR1 ----
 * SIGHUP is blocked in every thread and taken by sigwait in this one, so a
 * reload runs in an ordinary thread (not a signal handler) and libfuse's own
 * SIGHUP handler (which would unmount) never runs. */
static volatile sig_atomic_t stopping;

static void *reload_thread(void *arg)
{
	struct fs *fs = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	int64_t next_sweep = 0, due = INT64_MAX;
	for (;;) {
		/* Every second, and at the moment a checkout ends, sweep: checkouts
		 * that ran out, queued audit records, whose rights changed by the
		 * clock. However many signals arrive. */
		int64_t now = clock_now_ns(), wait = 1000000000;
		if (due != INT64_MAX && due - now < wait)
			wait = due > now ? due - now : 0;
		struct timespec tick = { wait / 1000000000, wait % 1000000000 };
		int sig = sigtimedwait(&set, NULL, &tick);
		if (stopping)
			return NULL;
		now = clock_now_ns();
		if (now >= next_sweep || now >= due) {
			due = fs_sweep_checkouts(fs);
			next_sweep = now + 1000000000;
		}
		if (sig == SIGUSR1)
			due = fs_rights_check(fs, true); /* the staff register changed */
		else if (sig == SIGHUP) {
			/* systemd's ExecReload= (kill -HUP): reloading, then ready. */
			struct timespec mono;
			clock_gettime(CLOCK_MONOTONIC, &mono);
			readiness_notify("RELOADING=1\nMONOTONIC_USEC=%llu",
					 (unsigned long long)mono.tv_sec * 1000000ULL +
						 (unsigned long long)mono.tv_nsec / 1000);
			fs_reload_policy(fs);
			readiness_notify("READY=1");
		}
	}
}

/* The control socket: custctl (as root, or another mount) tells this mount
 * of a change and waits for it to have acted (runreg.h). */
struct control {
	struct fs *fs;
	int fd;
};

/* The account database changed (userdel, useradd): whoever's uid now belongs
 * to another login loses everything at once, not at the next recheck. */
static bool passwd_changed(int ifd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;
	ssize_t n;
	while ((n = read(ifd, buf, sizeof buf)) > 0)
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			hit |= ev->len && !strcmp(ev->name, "passwd");
			p += sizeof *ev + ev->len;
		}
	return hit;
}

static void *control_thread(void *arg)
{
	struct control *c = arg;
	char msg[64];
	int conn;
	int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd >= 0 && inotify_add_watch(ifd, "/etc", IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
		close(ifd);
		ifd = -1;
	}
	if (ifd < 0)
		log_warn("cannot watch /etc/passwd: a reused uid is noticed within a second");
	while (!stopping) {
		struct pollfd p[2] = { { .fd = c->fd, .events = POLLIN }, { .fd = ifd, .events = POLLIN } };
		int ready = poll(p, ifd >= 0 ? 2 : 1, 1000);
		vault_key_retire(c->fs->v); /* a rotated-away key lives seconds, not longer */
		if (ready <= 0)
			continue;
		if (ifd >= 0 && (p[1].revents & POLLIN) && passwd_changed(ifd))
			fs_rights_check(c->fs, true);
		if (!(p[0].revents & POLLIN) || runreg_accept(c->fd, 0, &conn, msg, sizeof msg) <= 0)
			continue;
		if (!strcmp(msg, RUNREG_STAFF)) {
			fs_rights_check(c->fs, true);
			runreg_answer(conn, 0, NULL);
		} else if (!strcmp(msg, RUNREG_KEY)) {
			int rc = vault_key_reload(c->fs->v);
			runreg_answer(conn, rc, "the new master key cannot be loaded (see the "
						"mount's log)");
		} else if (!strcmp(msg, RUNREG_CUSTOMERS)) {
			fs_customers_gone(c->fs);
			runreg_answer(conn, 0, NULL);
		} else if (!strcmp(msg, RUNREG_POLICY)) {
			int rc = fs_reload_policy(c->fs);
			runreg_answer(conn, rc, "the policy was refused; the old one stays (see "
						"the mount's log)");
		} else {
			runreg_answer(conn, strcmp(msg, "ping") ? EINVAL : 0, "unknown request");
		}
	}
	if (ifd >= 0)
		close(ifd);
	return NULL;
}

static int parse_timeout(const char *s, double *out)
{
	char *end = NULL;
	errno = 0;
	double d = strtod(s, &end);
	if (errno || end == s || *end || d < 0 || d > 86400)
		return -1;
	*out = d;
	return 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cli = { 0 };
	struct options o = { 0 };
	struct fuse_session *se = NULL;
	struct vault *v = NULL;
	struct fs fs = { 0 };
	char *pass = NULL;
	size_t passlen = 0;
	double entry_timeout = 0;
	char err[512], store[PATH_MAX], runfile[PATH_MAX] = "";
	pthread_t reloader, controller;

	/* The mount's language, for its own messages and for callers whose
	 * language cannot be known; LANGUAGE would override every caller's. */
	i18n_init();
	unsetenv("LANGUAGE");
	bool have_reloader = false, have_controller = false;
	int listen_fd = -1, claim_fd = -1;
	char runs_path[PATH_MAX + 16] = ""; /* beside the lock: fs_unanswered.c */
	int rc = EXIT_REFUSED;

	/* Keys and plaintext stay out of core dumps and same-uid ptrace. */
	prctl(PR_SET_DUMPABLE, 0);
	/* Under systemd: the journal reads stderr, and the manager waits for
	 * READY=1 (Type=notify). */
	log_detect_journal();
	readiness_init();
	if (crypto_init() != 0) {
		fprintf(stderr, _("custfs: libsodium cannot start\n"));
		return EXIT_REFUSED;
	}
	if (fuse_opt_parse(&args, &o, option_spec, opt_proc) != 0 || o.bad)
		goto usage_error;
	if (fuse_parse_cmdline(&args, &cli) != 0)
		goto usage_error;
	if (cli.show_help) {
		usage(argv[0]);
		rc = EXIT_OK;
		goto out;
	}
	if (cli.show_version) {
		printf("custfs %s\n", CUSTFS_VERSION);
		fuse_lowlevel_version();
		rc = EXIT_OK;
		goto out;
	}
	if (!o.store || !cli.mountpoint) {
		fprintf(stderr, _("usage: %s [options] STORE MOUNTPOINT (--help for more)\n"), argv[0]);
		goto usage_error;
	}
	if (o.entry_timeout && parse_timeout(o.entry_timeout, &entry_timeout) != 0) {
		fprintf(stderr, _("custfs: entry_timeout=%s: expected seconds from 0 to 86400\n"),
			o.entry_timeout);
		goto usage_error;
	}
	long cached_names = 262144;
	if (o.cached_names && !text_whole_number(o.cached_names, 0, 4194304, &cached_names)) {
		fprintf(stderr, _("custfs: cached_names=%s: expected a count from 0 to 4194304\n"),
			o.cached_names);
		goto usage_error;
	}
	/* -o person=LOGIN: a mount the kernel lets only that person use. */
	uid_t person_uid = 0;
	gid_t person_gid = 0;
	if (o.person) {
		struct passwd *pw = geteuid() == 0 ? getpwnam(o.person) : NULL;
		if (geteuid() != 0) {
			fprintf(stderr, _("custfs: person=%s: only root mounts for a person\n"),
				o.person);
			goto usage_error;
		}
		if (!pw || pw->pw_uid == 0) {
			fprintf(stderr, _("custfs: person=%s: no such login (root is not one)\n"),
				o.person);
			goto usage_error;
		}
		if (has_fuse_opt(&args, "allow_other") || has_fuse_opt(&args, "allow_root")) {
			fprintf(stderr, _("custfs: person=%s: a person's own mount takes no "
					  "allow_other or allow_root\n"), o.person);
			goto usage_error;
		}
		person_uid = pw->pw_uid;
		person_gid = pw->pw_gid;
		if (!o.entry_timeout)
			entry_timeout = 1.0;
	}
	/* The kernel's name and attribute caches are one for all users: on a
	 * mount several people use, a name another person looked up answers
	 * stat --cached=always (AT_STATX_DONT_SYNC) with no request to custfs,
	 * for a customer the caller may not see. Measured on Linux 6.18. */
	if (entry_timeout > 0 && !o.person &&
	    (geteuid() == 0 || has_fuse_opt(&args, "allow_other") ||
				  has_fuse_opt(&args, "allow_root"))) {
		fprintf(stderr, _("custfs: entry_timeout=%s: this mount serves several people, and "
				  "the kernel's cache of names is shared by them all (one person "
				  "could stat what only another may see); it is for a single "
				  "person's own mount only (custfs run by that person)\n"),
			o.entry_timeout);
		goto usage_error;
	}
	/* fuse_daemonize changes to '/': hold the store by its absolute path. */
	if (!realpath(o.store, store)) {
		fprintf(stderr, "custfs: %s: %s\n", o.store, strerror(errno));
		goto out;
	}

	bool needs = false;
	if (vault_needs_passphrase(store, &needs, err, sizeof err) != 0) {
		fprintf(stderr, "custfs: %s\n", err);
		goto out;
	}
	if (needs) {
		pass = o.passfile ? passphrase_from_file(o.passfile, &passlen, err, sizeof err)
				  : passphrase_prompt("custfs: passphrase for the store: ", &passlen,
						      err, sizeof err);
		if (!pass) {
			fprintf(stderr, "custfs: %s\n", err);
			goto out;
		}
	}
	if (vault_open(store, pass, passlen, stderr, &v, err, sizeof err) != 0) {
		fprintf(stderr, "custfs: %s\n", err);
		goto out;
	}
	passphrase_free(pass);
	pass = NULL;
	char witness[PATH_MAX];
	if (o.witness && !realpath(o.witness, witness)) {
		fprintf(stderr, _("custfs: witness=%s: %s\n"), o.witness, strerror(errno));
		goto usage_error;
	}
	if (o.witness && audit_set_witness(v->audit, witness) != 0) {
		fprintf(stderr, _("custfs: witness=%s: not a directory\n"), o.witness);
		goto usage_error;
	}
	if (o.view && !policy_role(v->policy, o.view)) {
		fprintf(stderr, _("custfs: view=%s: the store's policy has no such role\n"), o.view);
		goto usage_error;
	}
	if (fs_init(&fs, v, o.view, entry_timeout) != 0) {
		fprintf(stderr, _("custfs: out of memory\n"));
		goto out;
	}
	fs.one_person = o.person != NULL;
	fs.cached_names = (size_t)cached_names;
	fs.person_uid = person_uid;

	/* As FUSE file systems do: not over files already there (unless -o
	 * nonempty), never over another mount. */
	if ((rc = check_mountpoint(cli.mountpoint, o.nonempty)) != 0)
		goto out;
	/* One daemon per store and view: a second would only race the first. */
	/* (a person's own mount is a view of its own: one per person and view) */
	char claim[256];
	if (o.person)
		snprintf(claim, sizeof claim, "%s%sperson=%s", o.view ? o.view : "",
			 o.view ? "," : "", o.person);
	if ((claim_fd = runreg_claim(store, o.person ? claim : o.view, cli.mountpoint, err,
				     sizeof err)) < 0) {
		fprintf(stderr, "custfs: %s\n", err);
		rc = EXIT_REFUSED;
		goto out;
	}
	/* A daemon's records are told apart by their mount point (fs_unanswered.c):
	 * never two running daemons of one store at one, a lazily unmounted one
	 * included. */
	long serving = runreg_serving_at(store, cli.mountpoint, getpid());
	if (serving) {
		fprintf(stderr, _("custfs: %s is still served by custfs pid %ld of this store "
				  "(unmounted lazily, with files open): wait for it to exit, or "
				  "mount elsewhere\n"), cli.mountpoint, serving);
		rc = EXIT_REFUSED;
		goto out;
	}
	rc = EXIT_REFUSED;
	/* Root serves every staff member through one mount: the kernel must let
	 * other users in; custfs's own decisions then apply per request. */
	if (geteuid() == 0 && !o.person && fuse_opt_add_arg(&args, "-oallow_other") != 0)
		goto out;
	/* fsname and subtype: the user's, when given. */
	char fsname[PATH_MAX + 16];
	snprintf(fsname, sizeof fsname, "-ofsname=custfs:%s", store);
	if ((!has_fuse_opt(&args, "fsname=") && fuse_opt_add_arg(&args, fsname) != 0) ||
	    (!has_fuse_opt(&args, "subtype=") && fuse_opt_add_arg(&args, "-osubtype=custfs") != 0))
		goto out;

	se = fuse_session_new(&args, &fs_lowlevel_ops, sizeof fs_lowlevel_ops, &fs);
	if (!se) {
		/* libfuse said why, in its own words (an unknown option) */
		fprintf(stderr, _("custfs: an option above is neither custfs's nor libfuse's "
				  "(custfs --help lists them)\n"));
		rc = EXIT_USAGE;
		goto out;
	}
	if (fuse_set_signal_handlers(se) != 0)
		goto out;
	/* A person's mount: libfuse gives the kernel the real uid and gid as the
	 * mount's owner (user_id, group_id), whom alone it then lets in. They
	 * are the person's for the mount call only; root stays the effective
	 * and saved user throughout. */
	if (o.person && (setresgid(person_gid, (gid_t)-1, (gid_t)-1) != 0 ||
			 setresuid(person_uid, (uid_t)-1, (uid_t)-1) != 0)) {
		fprintf(stderr, "custfs: person=%s: %s\n", o.person, strerror(errno));
		goto out_handlers;
	}
	int mounted = fuse_session_mount(se, cli.mountpoint);
	if (o.person && (setresuid(0, (uid_t)-1, (uid_t)-1) != 0 ||
			 setresgid(0, (gid_t)-1, (gid_t)-1) != 0)) {
		fprintf(stderr, "custfs: cannot become root again: %s\n", strerror(errno));
		abort(); /* never go on half another user */
	}
	if (mounted != 0)
		goto out_handlers;
	char logfile[PATH_MAX + 32] = "";
	if (!cli.foreground) {
		snprintf(logfile, sizeof logfile, "%s/run", store);
		mkdir(logfile, 0700); /* the mounts' own directory (runreg.h) */
		snprintf(logfile, sizeof logfile, "%s/run/custfs.log", store);
		if (log_daemonized("custfs", logfile) < 0)
			fprintf(stderr, _("custfs: no system log and cannot write %s: messages are "
					"lost\n"), logfile);
	}
	if (!cli.foreground)
		vault_store_detach(v);
	if (fuse_daemonize(cli.foreground) != 0)
		goto out_unmount;
	if (!v->db && vault_store_attach(v, err, sizeof err) != 0) {
		log_err("%s", err);
		goto out_unmount;
	}
	if (o.witness && (rc = audit_set_witness(v->audit, witness)) != 0) {
		log_err("witness=%s: %s", witness, strerror(rc));
		rc = EXIT_REFUSED;
		goto out_unmount;
	}
	sigset_t hup, stop;
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	sigaddset(&hup, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &hup, NULL); /* inherited by every thread from here */
	/* libfuse's SIGTERM/SIGINT handler only marks the session ended; the loop
	 * notices when the signal interrupts the main thread's wait. So, as
	 * libfuse's workers do, our helper threads block those signals, or a
	 * stop taken by one of them waits for the next request (seen: 7 stops in
	 * 150 under load never ended). Blocked here too until they have started;
	 * one that comes meanwhile waits, and ends the loop before it begins. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	if (pthread_create(&reloader, NULL, reload_thread, &fs) == 0)
		have_reloader = true;
	else
		log_warn("no reload thread: SIGHUP will be ignored");
	runreg_add(store, cli.mountpoint, o.view, runfile, sizeof runfile, &listen_fd);
	struct control control = { &fs, listen_fd };
	if (listen_fd >= 0 && pthread_create(&controller, NULL, control_thread, &control) == 0)
		have_controller = true;
	people_set_session(fs.people, se);
	if (fs_cache_start(&fs, se) != 0) {
		log_err("cannot start the thread that keeps the kernel's names true: not mounting");
		rc = EXIT_REFUSED;
		goto out_unmount;
	}
	pthread_sigmask(SIG_UNBLOCK, &stop, NULL); /* every helper thread has started */
	fs_rights_check(&fs, false); /* who holds what rights, at the start */
	/* Memory locks do not survive fork(): lock the master key again. */
	sodium_mlock(v->master, CRYPTO_KEY_BYTES);
	log_info("mounted %s at %s", store, cli.mountpoint);
	fs.mountpoint = cli.mountpoint;
	fs.audit_durable = o.audit_durable;
	/* The loop below has not started: nothing is written before this. */
	int answered = 0, named = ENAMETOOLONG;
	if (runreg_claim_path(store, o.person ? claim : o.view, ".running", runs_path,
			      sizeof runs_path) == 0)
		named = fs_unanswered_start(&fs, runs_path, &answered);
	if (answered)
		log_warn("audit: answered %d version(s) an earlier daemon of this view "
			 "claimed but did not store", answered);
	if (named) { /* a crash would leave its claims unanswered for good */
		log_err("audit: cannot name this daemon's run in %s: %s; not serving",
			runs_path, strerror(named));
		runs_path[0] = '\0';
		rc = EXIT_REFUSED;
		goto out_unmount;
	}
	fs_audit_event(&fs, "mount", store);
	/* The mount is live: the kernel queues requests for the loop below. A
	 * daemonized custfs names itself, being the parent's child. */
	char mainpid[32] = "";
	if (!cli.foreground)
		snprintf(mainpid, sizeof mainpid, "\nMAINPID=%d", (int)getpid());
	readiness_notify("READY=1\nSTATUS=serving %s at %s%s", store, cli.mountpoint, mainpid);

	if (cli.singlethread) {
		rc = fuse_session_loop(se);
	} else {
		struct fuse_loop_config *cfg = fuse_loop_cfg_create();
		if (!cfg)
			goto out_unmount;
		fuse_loop_cfg_set_clone_fd(cfg, cli.clone_fd);
		/* libfuse leaves both at UINT_MAX unless -o max_threads/max_idle_threads. */
		if (cli.max_threads != UINT_MAX)
			fuse_loop_cfg_set_max_threads(cfg, cli.max_threads);
		if (cli.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(cfg, cli.max_idle_threads);
		rc = fuse_session_loop_mt(se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	readiness_notify("STOPPING=1");
	if (rc == -ECONNABORTED) {
		/* Linux ends the connection this way when the mount goes away while
		 * requests (releases, mostly) are still queued, or when an
		 * administrator aborts it: the mount is gone either way, as asked. */
		log_info("the kernel ended the connection (unmounted with requests still "
			 "queued, or aborted); closes not yet answered have no close record");
		rc = 0;
	}
	/* libfuse's signal handlers end the loop with the signal's number: a
	 * SIGTERM or SIGINT is a stop asked for, as an unmount is. */
	if (rc == SIGTERM || rc == SIGINT)
		rc = 0;
	rc = rc == 0 ? EXIT_OK : EXIT_REFUSED;
	log_info("unmounted %s", cli.mountpoint);
	record_flush_repeats(&fs, true);
	if (fs_audit_event(&fs, "unmount", store) == 0 && runs_path[0])
		fs_unanswered_stop(&fs, runs_path); /* the run ended cleanly */
	if (v->audit) { /* a signed checkpoint at every unmount */
		char line[512];
		audit_checkpoint(v->audit, line, sizeof line);
	}
out_unmount:
	stopping = 1;
	if (have_reloader) {
		pthread_kill(reloader, SIGHUP);
		pthread_join(reloader, NULL);
	}
	if (have_controller) {
		shutdown(listen_fd, SHUT_RDWR); /* wakes its poll at once */
		pthread_join(controller, NULL);
	}
	if (listen_fd >= 0)
		close(listen_fd);
	runreg_remove(runfile);
	fs_cache_stop(&fs);
	fuse_session_unmount(se);
out_handlers:
	fuse_remove_signal_handlers(se);
out:
	if (se)
		fuse_session_destroy(se);
	fs_destroy(&fs);
	vault_close(v);
	if (claim_fd >= 0)
		close(claim_fd);
	passphrase_free(pass);
	free(cli.mountpoint);
	free(o.store);
	free(o.passfile);
	free(o.entry_timeout);
	free(o.cached_names);
	free(o.person);
	free(o.view);
	free(o.witness);
	fuse_opt_free_args(&args);
	return rc;
usage_error:
	rc = EXIT_USAGE;
	goto out;
}
