/* custctl init, policy check and reload, history. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <getopt.h>
#include <pwd.h>
#include <sodium.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "config.h"
#include "cmd.h"
#include "policy.h"
#include "runreg.h"
#include "ctl.h"
#include "proposals.h"
#include "names.h"
#include "passphrase.h"
#include "vault.h"


enum { OPT_POLICY = 256, OPT_PASSFILE, OPT_SHOW, OPT_JSON, OPT_ADMIN, OPT_TECH };

/* custctl init --admin/--tech: the first administration supervisor (head of
 * the approving department, leader of the information management group, R2.1)
 * and the first technical administrator, so the procedures can start. */
static int init_first_staff(const char *store, const char *passfile, const char *admin,
			    const char *tech)
{
	struct vault *v = ctl_open_vault(store, passfile);
	if (!v)
		return EXIT_REFUSED;
	const struct department *ad = v->policy->procedure[PROC_APPROVE];
	const struct department *td = v->policy->procedure[PROC_IMPLEMENT];
	struct cmd_env e = { .v = v, .pol = v->policy, .root = true, .out = stdout,
			     .err = stderr };
	int rc = EXIT_OK;
	if (admin && ad) {
		char *args[] = { "employee", "add", (char *)admin, "--name", (char *)admin, "--dept",
				 ad->name, "--type", "formal", "--head", "--group", "leader",
				 "--post", "administration supervisor" };
		rc = cmd_run(&e, (int)(sizeof args / sizeof *args), args);
	}
	if (!rc && tech && td) {
		char *args[] = { "employee", "add", (char *)tech, "--name", (char *)tech, "--dept",
				 td->name, "--type", "formal", "--post", "system administrator" };
		rc = cmd_run(&e, (int)(sizeof args / sizeof *args), args);
	}
	vault_close(v);
	return rc;
}

const char *ctl_default_policy_dir(void)
{
#ifdef CUSTFS_BUILD_DIR
	/* Not installed yet: a custctl in its own build directory copies the
	 * source tree's policy/, which the data directory does not hold yet. */
	char exe[PATH_MAX], build[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0 && realpath(CUSTFS_BUILD_DIR, build)) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash && (*slash = '\0', !strcmp(exe, build)))
			return CUSTFS_SOURCE_POLICY_DIR;
	}
#endif
	return CUSTFS_DEFAULT_POLICY_DIR;
}

int ctl_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "passphrase-file", required_argument, NULL, OPT_PASSFILE },
		{ "admin", required_argument, NULL, OPT_ADMIN },
		{ "tech", required_argument, NULL, OPT_TECH },
		{ NULL, 0, NULL, 0 },
	};
	const char *policy = ctl_default_policy_dir(), *passfile = NULL, *admin = NULL, *tech = NULL;
	char err[512];
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == OPT_POLICY)
			policy = optarg;
		else if (c == OPT_PASSFILE)
			passfile = optarg;
		else if (c == OPT_ADMIN)
			admin = optarg;
		else if (c == OPT_TECH)
			tech = optarg;
		else
			goto usage;
	}
	/* The first administration supervisor and technical administrator must be
	 * real accounts: checked before anything is created. */
	const char *who[2] = { admin, tech };
	for (int i = 0; i < 2; i++) {
		struct passwd *pw = who[i] ? getpwnam(who[i]) : NULL;
		if (who[i] && (!pw || pw->pw_uid == 0)) {
			fprintf(stderr, _("custctl: --%s %s: %s; nothing was created\n"),
				i ? "tech" : "admin", who[i], pw ? _("root is not staff") : _("no such account"));
			return EXIT_REFUSED;
		}
	}
	if (argc - optind != 1)
		goto usage;
	const char *store = argv[optind];

	char *pass = NULL;
	size_t passlen = 0;
	if (passfile && !(pass = passphrase_from_file(passfile, &passlen, err, sizeof err))) {
		fprintf(stderr, "custctl: %s\n", err);
		return EXIT_REFUSED;
	}
	int rc = vault_init(store, policy, pass, passlen, stderr, err, sizeof err);
	passphrase_free(pass);
	if (rc) {
		fprintf(stderr, "custctl: %s\n", err);
		return EXIT_REFUSED;
	}
	if (passfile)
		printf(_("created store %s (policy from %s, master key wrapped with the "
			 "passphrase)\n"), store, policy);
	else
		printf(_("created store %s (policy from %s, master key in %s, root only)\n"), store,
		       policy, VAULT_KEY_FILE);
	/* The audit log begins with the store (and its signing key). */
	struct vault *v = ctl_open_vault(store, passfile);
	if (!v || ctl_audit(v, "init", 0, "", true, policy) != 0) {
		vault_close(v);
		return EXIT_REFUSED;
	}
	vault_close(v);
	if (admin || tech)
		return init_first_staff(store, passfile, admin, tech);
	return EXIT_OK;
usage:
	fprintf(stderr, _("usage: custctl init STORE [--policy DIR] [--passphrase-file FILE]\n"
			"                    [--admin LOGIN] [--tech LOGIN]\n"
			"the default policy: %s\n"), ctl_default_policy_dir());
	return EXIT_USAGE;
}

static int policy_check(const char *dir)
{
	struct policy *p = NULL;
	int nerr = policy_load(dir, stderr, &p);
	if (nerr) {
		fprintf(stderr, _("custctl: %s: %d error%s; policy refused\n"), dir, nerr < 0 ? 1 : nerr,
			nerr == 1 ? "" : "s");
		return EXIT_REFUSED;
	}
	printf(_("%s: ok (%zu classes, %zu fields, %zu staff types, %zu departments, %zu roles)\n"),
	       dir, p->cat->nclasses, p->cat->nfields, p->nstafftypes, p->ndepartments, p->nroles);
	policy_free(p);
	return EXIT_OK;
}

/* The BLAKE2b-256 of DIR's policy files (name and text of each *.conf, in
 * name order), hex; as the proposals' hash. A static buffer. */
static const char *dir_hash(const char *dir)
{
	static char hex[65];
	struct dirent **list = NULL;
	unsigned char h[32];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof h);
	int n = scandir(dir, &list, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		size_t nl = strlen(name);
		if (name[0] != '.' && nl > 5 && !strcmp(name + nl - 5, ".conf")) {
			char path[PATH_MAX + 256];
			snprintf(path, sizeof path, "%s/%s", dir, name);
			FILE *f = fopen(path, "re");
			char *text = f ? malloc(POLICY_FILE_MAX + 1) : NULL;
			size_t len = text ? fread(text, 1, POLICY_FILE_MAX, f) : 0;
			if (f)
				fclose(f);
			if (text) {
				text[len] = '\0';
				crypto_generichash_update(&st, (const unsigned char *)name, nl + 1);
				crypto_generichash_update(&st, (const unsigned char *)text, len + 1);
				free(text);
			}
		}
		free(list[i]);
	}
	free(list);
	crypto_generichash_final(&st, h, sizeof h);
	sodium_bin2hex(hex, sizeof hex, h, sizeof h);
	return hex;
}

/* Root's break-glass install goes into the policy's history too (R2.1):
 * the installed files, as a proposal installed by root. */
static void record_break_glass_policy(struct vault *v, const char *dir)
{
	struct proposal p = { .status = PROP_INSTALLED };
	snprintf(p.reason, sizeof p.reason, "break-glass: root's policy reload --from");
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)) && p.nfiles < PROPOSAL_FILES) {
		size_t nl = strlen(de->d_name);
		if (de->d_name[0] == '.' || nl < 6 || strcmp(de->d_name + nl - 5, ".conf"))
			continue;
		char path[PATH_MAX + 256];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "re");
		char *text = f ? malloc(POLICY_FILE_MAX + 1) : NULL;
		size_t n = text ? fread(text, 1, POLICY_FILE_MAX, f) : 0;
		if (f)
			fclose(f);
		if (!text)
			continue;
		text[n] = '\0';
		p.name[p.nfiles] = strdup(de->d_name);
		p.text[p.nfiles++] = text;
	}
	if (d)
		closedir(d);
	snprintf(p.hash, sizeof p.hash, "%s", dir_hash(dir));
	int64_t id = 0;
	if (db_begin(v->db, true) == 0) {
		if (proposal_add(v->db, &p, &id) == 0)
			db_commit(v->db);
		else
			db_rollback(v->db);
	}
	proposal_clear(&p);
}

static int policy_reload(const char *store, const char *from)
{
	char cur[PATH_MAX];
	if ((size_t)snprintf(cur, sizeof cur, "%s/%s", store, VAULT_POLICY_DIR) >= sizeof cur)
		return EXIT_REFUSED;
	if (from) {
		/* On the record before it happens, as break-glass (R2.1: policy is
		 * the group's act; root's is the exception). */
		struct vault *v = ctl_open_vault(store, NULL);
		char detail[PATH_MAX + 128];
		snprintf(detail, sizeof detail, "break-glass: root's reload from %s, %.64s", from,
			 dir_hash(from));
		if (!v || ctl_audit_rule(v, "policy-reload", 0, "", true, "break-glass", detail) != 0) {
			vault_close(v);
			return EXIT_REFUSED;
		}
		/* Checked whole, copied beside, swapped in with one rename: a daemon
		 * never sees a half-copied policy. */
		int err = policy_install(cur, from, NULL, 0, NULL, NULL, stderr, NULL);
		if (err) {
			fprintf(stderr, _("custctl: cannot install %s into %s: %s\n"), from, cur,
				strerror(err));
			vault_close(v);
			return EXIT_REFUSED;
		}
		record_break_glass_policy(v, cur);
		vault_close(v);
	} else if (policy_check(cur) != EXIT_OK) {
		return EXIT_REFUSED;
	}
	int n = 0, failed = runreg_tell(store, RUNREG_POLICY, 0, &n, stderr);
	printf(_("policy of %s %s; %d of %d mount%s reloaded it%s\n"), store,
	       from ? _("installed") : _("checked"), n - failed, n, n == 1 ? "" : "s",
	       failed ? _(" (the others keep their old policy; see their logs)") : "");
	return failed ? EXIT_REFUSED : EXIT_OK;
}

int ctl_policy(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "check") == 0)
		return policy_check(argv[2]);
	if (argc == 3 && strcmp(argv[1], "reload") == 0)
		return policy_reload(argv[2], NULL);
	if (argc == 5 && strcmp(argv[1], "reload") == 0 && strcmp(argv[3], "--from") == 0)
		return policy_reload(argv[2], argv[4]);
	fprintf(stderr, _("usage: custctl policy check DIR\n"
			"       custctl policy reload STORE [--from DIR]\n"));
	return EXIT_USAGE;
}

struct history_ctx {
	bool json;
	size_t n;
};

static int print_version(void *p, const struct version_row *v)
{
	struct history_ctx *h = p;
	char when[64];
	time_t t = (time_t)(v->time_ns / 1000000000);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S%z", &tm);
	if (h->json)
		printf("{\"version\":%lld,\"time\":\"%s\",\"time_ns\":%lld,\"uid\":%lld,\"size\":%lld}\n",
		       (long long)v->version, when, (long long)v->time_ns, (long long)v->uid,
		       (long long)v->size);
	else
		printf("%7lld  %s  %6lld  %8lld\n", (long long)v->version, when, (long long)v->uid,
		       (long long)v->size);
	h->n++;
	return 0;
}

int ctl_history(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "show", required_argument, NULL, OPT_SHOW },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "passphrase-file", required_argument, NULL, OPT_PASSFILE },
		{ NULL, 0, NULL, 0 },
	};
	const char *passfile = NULL;
	long long show = 0;
	bool json = false;
	int c, rc = EXIT_REFUSED;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == OPT_SHOW) {
			char *end;
			show = strtoll(optarg, &end, 10);
			if (*end || show <= 0) {
				fprintf(stderr, _("custctl: --show takes a version number (1, 2, ...)\n"));
				return EXIT_USAGE;
			}
		} else if (c == OPT_JSON) {
			json = true;
		} else if (c == OPT_PASSFILE) {
			passfile = optarg;
		} else {
			goto usage;
		}
	}
	if (argc - optind != 3)
		goto usage;
	const char *customer = argv[optind + 1], *field = argv[optind + 2];

	struct vault *v = ctl_open_vault(argv[optind], passfile);
	if (!v)
		return EXIT_REFUSED;
	struct customer cr;
	struct field_row fr;
	int err = vault_customer_by_name(v, customer, &cr);
	if (err) {
		fprintf(stderr, _("custctl: no customer '%s'\n"), customer);
		goto out;
	}
	err = vault_field_by_name(v, cr.id, field, &fr);
	if (err || fr.version == 0) {
		fprintf(stderr, _("custctl: customer '%s' has no field '%s'\n"), customer, field);
		goto out;
	}
	if (show) {
		struct secbuf value = SECBUF_INIT;
		char detail[64];
		snprintf(detail, sizeof detail, "history: version %lld", show);
		const struct field_def *def = catalog_field(v->policy->cat, field);
		bool sensitive = def && def->cls->sensitive;
		if (ctl_audit_rule(v, "read", cr.id, field, true,
				   sensitive ? "break-glass" : "root on the store files", detail) != 0)
			goto out;
		err = vault_read(v, fr.id, show, &value);
		if (err == ENOENT)
			fprintf(stderr, _("custctl: %s/%s has no version %lld\n"), customer, field, show);
		else if (err)
			fprintf(stderr, _("custctl: %s/%s version %lld: %s\n"), customer, field, show,
				strerror(err));
		else if (fwrite(value.data, 1, value.len, stdout) == value.len &&
			 /* the value as the field's file in the mount shows it */
			 (value.len == 0 || putchar('\n') != EOF) &&
			 fflush(stdout) == 0)
			rc = EXIT_OK;
		secbuf_free(&value);
		goto out;
	}
	struct history_ctx h = { json, 0 };
	if (!json)
		printf(_("VERSION  TIME                         UID      SIZE\n"));
	err = store_version_list(v->db, fr.id, print_version, &h);
	if (err)
		fprintf(stderr, _("custctl: cannot list versions: %s\n"), strerror(err));
	else
		rc = EXIT_OK;
out:
	vault_close(v);
	return rc;
usage:
	fprintf(stderr, _("usage: custctl history STORE CUSTOMER FIELD [--show VERSION] [--json] "
			"[--passphrase-file FILE]\n"));
	return EXIT_USAGE;
}
