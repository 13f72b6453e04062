/* custfs: the FUSE daemon. `custfs [options] STORE MOUNTPOINT`.
 *
 * Checks everything it can (options, store, keys, policy) before mounting, so a
 * mistake is a message and exit code 1 or 2, never a half-mounted filesystem. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <limits.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "crypto.h"
#include "fs_ops.h"
#include "log.h"
#include "passphrase.h"
#include "runreg.h"
#include "vault.h"

/* Exit codes (README, "Exit codes"). */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct options {
	char *store;
	char *passfile;
	char *entry_timeout;
	char *view;
	int audit_durable;
	int nonopts;
	int bad;
};

#define OPT(t, p) { t, offsetof(struct options, p), 1 }
static const struct fuse_opt option_spec[] = {
	OPT("passfile=%s", passfile),
	OPT("entry_timeout=%s", entry_timeout),
	OPT("view=%s", view),
	OPT("audit_durable", audit_durable),
	FUSE_OPT_END
};

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
		fprintf(stderr, "custfs: unexpected argument '%s'\n", arg);
		o->bad = 1;
		return 0;
	}
	return 1;
}

static void usage(const char *prog)
{
	printf("usage: %s [options] STORE MOUNTPOINT\n\n"
	       "Mounts the custfs store STORE (made by `custctl init`) at MOUNTPOINT.\n\n"
	       "custfs options:\n"
	       "    -o passfile=FILE       read the master key's passphrase from FILE\n"
	       "                           (default: ask on the terminal, if the key has one)\n"
	       "    -o view=ROLE           show only what ROLE may ever see (per-role views)\n"
	       "    -o audit_durable       every audit record survives power loss (by default\n"
	       "                           only sensitive ones do; others survive a crash)\n"
	       "    -o entry_timeout=SECS  how long the kernel may cache names and\n"
	       "                           attributes (default 0: every access is decided;\n"
	       "                           more is only safe for a single-user mount)\n\n"
	       "Signals: SIGHUP re-reads STORE/policy (custctl policy reload); the old\n"
	       "policy stays in force if the new one has errors.\n\n"
	       "FUSE options:\n", prog);
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
	struct timespec last = { 0, 0 };
	for (;;) {
		/* Every second, also sweep checkouts that ran out (and log them) and
		 * write queued audit records, however many signals arrive. */
		struct timespec tick = { 1, 0 }, now;
		int sig = sigtimedwait(&set, NULL, &tick);
		if (stopping)
			return NULL;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - last.tv_sec >= 1) {
			fs_sweep_checkouts(fs);
			last = now;
		}
		if (sig < 0)
			continue;
		if (sig == SIGUSR1)
			atomic_fetch_add(&fs->acl_epoch, 1); /* the staff register changed */
		else
			fs_reload_policy(fs);
	}
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
	pthread_t reloader;
	bool have_reloader = false;
	int rc = EXIT_FAIL;

	/* Keys and plaintext stay out of core dumps and same-uid ptrace. */
	prctl(PR_SET_DUMPABLE, 0);
	if (crypto_init() != 0) {
		fprintf(stderr, "custfs: libsodium cannot start\n");
		return EXIT_FAIL;
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
		printf("custfs %s\n", "0.1.0");
		fuse_lowlevel_version();
		rc = EXIT_OK;
		goto out;
	}
	if (!o.store || !cli.mountpoint) {
		fprintf(stderr, "usage: %s [options] STORE MOUNTPOINT (--help for more)\n", argv[0]);
		goto usage_error;
	}
	if (o.entry_timeout && parse_timeout(o.entry_timeout, &entry_timeout) != 0) {
		fprintf(stderr, "custfs: entry_timeout=%s: expected seconds from 0 to 86400\n",
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
	if (o.view && !policy_role(v->policy, o.view)) {
		fprintf(stderr, "custfs: view=%s: the store's policy has no such role\n", o.view);
		goto usage_error;
	}
	if (fs_init(&fs, v, o.view, entry_timeout) != 0) {
		fprintf(stderr, "custfs: out of memory\n");
		goto out;
	}

	/* Root serves every staff member through one mount: the kernel must let
	 * other users in; custfs's own decisions then apply per request. */
	if (geteuid() == 0 && fuse_opt_add_arg(&args, "-oallow_other") != 0)
		goto out;
	char fsname[PATH_MAX + 16];
	snprintf(fsname, sizeof fsname, "-ofsname=custfs:%s", store);
	if (fuse_opt_add_arg(&args, fsname) != 0 || fuse_opt_add_arg(&args, "-osubtype=custfs") != 0)
		goto out;

	se = fuse_session_new(&args, &fs_lowlevel_ops, sizeof fs_lowlevel_ops, &fs);
	if (!se)
		goto out; /* libfuse said why (unknown option) */
	if (fuse_set_signal_handlers(se) != 0)
		goto out;
	if (fuse_session_mount(se, cli.mountpoint) != 0)
		goto out_handlers;
	if (!cli.foreground)
		log_to_syslog("custfs");
	if (!cli.foreground)
		vault_store_detach(v);
	if (fuse_daemonize(cli.foreground) != 0)
		goto out_unmount;
	if (!v->st && vault_store_attach(v, err, sizeof err) != 0) {
		log_err("%s", err);
		goto out_unmount;
	}
	sigset_t hup;
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	sigaddset(&hup, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &hup, NULL); /* inherited by every thread from here */
	if (pthread_create(&reloader, NULL, reload_thread, &fs) == 0)
		have_reloader = true;
	else
		log_warn("no reload thread: SIGHUP will be ignored");
	runreg_add(store, cli.mountpoint, o.view, runfile, sizeof runfile);
	/* Memory locks do not survive fork(): lock the master key again. */
	sodium_mlock(v->master, CRYPTO_KEY_BYTES);
	log_info("mounted %s at %s", store, cli.mountpoint);
	fs.mountpoint = cli.mountpoint;
	fs.audit_durable = o.audit_durable;
	fs_audit_event(&fs, "mount", store);

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
	rc = rc == 0 ? EXIT_OK : EXIT_FAIL;
	log_info("unmounted %s", cli.mountpoint);
	fs_audit_event(&fs, "unmount", store);
	if (v->audit) { /* a signed checkpoint at every unmount */
		char line[512];
		audit_checkpoint(v->audit, line, sizeof line);
	}
out_unmount:
	if (have_reloader) {
		stopping = 1;
		pthread_kill(reloader, SIGHUP);
		pthread_join(reloader, NULL);
	}
	runreg_remove(runfile);
	fuse_session_unmount(se);
out_handlers:
	fuse_remove_signal_handlers(se);
out:
	if (se)
		fuse_session_destroy(se);
	fs_destroy(&fs);
	vault_close(v);
	passphrase_free(pass);
	free(cli.mountpoint);
	free(o.store);
	free(o.passfile);
	free(o.entry_timeout);
	free(o.view);
	fuse_opt_free_args(&args);
	return rc;
usage_error:
	rc = EXIT_USAGE;
	goto out;
}
