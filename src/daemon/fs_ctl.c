/* .custfs/ctl: custctl's words, run as the person who sent them.
 *
 * custctl writes the words (each ending in NUL) and reads the answer; custfs
 * runs the command (src/lib/proc) at that read, as the uid the kernel gave
 * for the opener. Nothing in the words names who is asking (cmd.h).
 *
 * MUST: the command is on the audit record before it runs, or it does not
 * run; a policy sent here is installed by the one routine of the library
 * (policy_install): checked whole, swapped in atomically, old one kept on any
 * error. */
#include "fs.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "i18n.h"
#include "cmd.h"
#include "log.h"
#include "runreg.h"
#include "text.h"

int ctl_request_split(const unsigned char *buf, size_t len, int *argc, char ***argv)
{
	*argc = 0;
	*argv = NULL;
	if (len == 0 || len > CTL_REQUEST_MAX || buf[len - 1] != '\0')
		return EINVAL;
	int n = 0;
	for (size_t i = 0; i < len; i++)
		n += buf[i] == '\0';
	if (n > CTL_MAX_WORDS)
		return EINVAL;
	char **v = calloc((size_t)n + 1, sizeof *v);
	if (!v)
		return ENOMEM;
	const char *p = (const char *)buf;
	for (int i = 0; i < n; i++) {
		v[i] = (char *)p;
		p += strlen(p) + 1;
	}
	*argc = n;
	*argv = v;
	return 0;
}

int ctl_same_person(struct handle *h, const struct fuse_ctx *ctx, bool writing)
{
	if (!h->have_writer) {
		if (!writing)
			return 0; /* nothing written yet: the answer is "malformed" */
		h->have_writer = true;
		h->writer_uid = ctx->uid;
		h->writer_gid = ctx->gid;
		h->writer_pid = ctx->pid;
		return 0;
	}
	return ctx->uid == h->writer_uid ? 0 : EACCES;
}

/* A change made through this mount: this mount acts on it at once, then the
 * store's other mounts, each confirming. */
static int staff_changed(void *ctx, FILE *err)
{
	struct fs *fs = ctx;
	int told = 0;
	fs_rights_check(fs, true);
	return runreg_tell(fs->v->dir, RUNREG_STAFF, getpid(), &told, err);
}

static int customers_changed(void *ctx, FILE *err)
{
	struct fs *fs = ctx;
	int told = 0;
	fs_customers_gone(fs);
	return runreg_tell(fs->v->dir, RUNREG_CUSTOMERS, getpid(), &told, err);
}

static bool has_view_role(const struct policy *p, void *ctx, FILE *errs)
{
	const char *view = ctx;
	if (!view || policy_role(p, view))
		return true;
	fprintf(errs, _("custctl: policy refused: it has no role '%s' for a mounted view\n"), view);
	return false;
}

/* Installs the policy files sent through the mount over the store's policy;
 * then this mount and the others reload. */
static int install_policy(void *ctx, int n, char **names, char **texts, FILE *err)
{
	struct fs *fs = ctx;
	struct policy_file files[32];
	if (n < 0 || n > (int)(sizeof files / sizeof *files))
		return EINVAL;
	for (int i = 0; i < n; i++)
		files[i] = (struct policy_file){ names[i], texts[i], strlen(texts[i]) };
	int rc = policy_install(fs->policy_dir, NULL, files, n, has_view_role, fs->view, err, NULL);
	if (rc) {
		fprintf(err, _("custctl: policy refused; the old one stays in force\n"));
		return rc;
	}
	rc = fs_reload_policy(fs);
	int told = 0;
	if (runreg_tell(fs->v->dir, RUNREG_POLICY, getpid(), &told, err) > 0 && !rc)
		rc = EAGAIN;
	return rc;
}

/* The answer: "EXIT OUTLEN\n", OUTLEN bytes of standard output, then error. */
static void set_answer(struct handle *h, int code, const char *out, size_t outlen,
		       const char *err, size_t errlen)
{
	char head[64];
	int hl = snprintf(head, sizeof head, "%d %zu\n", code, out ? outlen : 0);
	secbuf_truncate(&h->buf, 0);
	if (secbuf_write(&h->buf, 0, head, (size_t)hl) == 0 && out)
		secbuf_write(&h->buf, h->buf.len, out, outlen);
	if (err)
		secbuf_write(&h->buf, h->buf.len, err, errlen);
}

static bool is_subverb(const char *s)
{
	static const char *const words[] = {
		"new", "list", "show", "approve", "reject", "deny", "implement", "withdraw",
		"forward", "answer", "resolve", "add", "set", "leave", "revoke", "install",
		"check", "reload", "report", "sample", "verify", "checkpoint", "pubkey", "archive",
		"cancel", "preview", "replay", "propose", "proposals", "history", "diff",
	};
	for (size_t i = 0; i < sizeof words / sizeof *words; i++)
		if (!strcmp(s, words[i]))
			return true;
	return false;
}

static int run(struct fs *fs, struct handle *h, int argc, char **argv, FILE *out, FILE *err)
{
	struct who w;
	who_init(&w, fs, NULL, h->writer_uid, h->writer_gid, h->writer_pid);
	if (w.broken) {
		fprintf(err, _("custctl: custfs cannot read the staff register\n"));
		return EXIT_REFUSED;
	}
	struct cmd_env env = {
		.v = fs->v,
		.pol = w.pol,
		.uid = w.uid,
		.me = w.emp,
		.root = w.uid == 0,
		.out = out,
		.err = err,
		.view = fs->view,
		.staff_changed = staff_changed,
		.customers_changed = customers_changed,
		.ctx = fs,
		.install_policy = install_policy,
	};
	char detail[512], rule[32];
	if (people_command(fs->people, w.pol->limits, w.uid, clock_mono_ms() * 1000000) == EDQUOT) {
		/* Each command is two durable records: one person may not fill the
		 * disk the audit log needs (a full log denies everyone). */
		refuse_limit(&w, LIMIT_CTL_PER_MINUTE, NULL);
		fprintf(err, _("custctl: refused: you ran more than %lld commands in a minute (limit "
			       "ctl-per-minute); try again shortly\n"),
			(long long)w.pol->limits[LIMIT_CTL_PER_MINUTE]);
		return EXIT_REFUSED;
	}
	cmd_describe(argc, argv, detail, sizeof detail);
	struct decision req = { .allow = true, .rule = "requested" };
	/* On the record before it happens, or it does not happen. */
	if (record_access(&w, NULL, NULL, "command", &req, 0, 0, detail) != 0) {
		fprintf(err, _("custctl: refused: custfs cannot write the audit record\n"));
		return EXIT_REFUSED;
	}
	int code = cmd_run(&env, argc, argv);
	/* The verb and a sub-verb only: arguments may name customers. */
	log_info("command: uid %u pid %d: %s %s: exit %d", (unsigned)w.uid, (int)w.pid,
		 text_inert(argv[0]), argc > 1 && is_subverb(argv[1]) ? argv[1] : "", code);
	snprintf(rule, sizeof rule, "exit %d", code);
	w.emp = env.me; /* cmd_register may have re-pointed it */
	struct decision d = { .allow = code == 0, .rule = rule };
	record_access(&w, NULL, NULL, "command-done", &d, 0, 0, detail);
	return code;
}

void ctl_answer(struct fs *fs, struct handle *h)
{
	/* The answer may name customers: it is kept in locked memory only. */
	struct secbuf outbuf = { .max = CTL_ANSWER_MAX }, errbuf = { .max = CTL_ANSWER_MAX };
	char **argv = NULL;
	int argc = 0, code = EXIT_USAGE;
	FILE *out = secbuf_stream(&outbuf);
	FILE *err = secbuf_stream(&errbuf);

	h->answered = true;
	locale_t old = (locale_t)0;
	if (out && err) {
		int split = h->have_writer ? ctl_request_split(h->buf.data, h->buf.len, &argc, &argv)
					   : EINVAL;
		/* The language the caller asks the answer in (custctl sends its
		 * own first), for the words only; else its process's. */
		char **words = argv;
		if (!split && argc > 0 && !strncmp(argv[0], CTL_LOCALE_WORD, strlen(CTL_LOCALE_WORD))) {
			old = i18n_use(argv[0] + strlen(CTL_LOCALE_WORD));
			words++;
			argc--;
		} else if (h->have_writer) {
			old = who_speak_pid(h->writer_pid);
		}
		if (split || argc == 0)
			fprintf(err, _("custctl: malformed request\n"));
		else
			code = run(fs, h, argc, words, out, err);
	}
	i18n_restore(old);
	if (out)
		fclose(out);
	if (err)
		fclose(err);
	h->buf.max = 2 * CTL_ANSWER_MAX + 64;
	set_answer(h, code, (const char *)outbuf.data, outbuf.len, (const char *)errbuf.data,
		   errbuf.len);
	secbuf_free(&outbuf);
	secbuf_free(&errbuf);
	free(argv);
}
