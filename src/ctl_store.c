/* custctl init, policy check, history. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <getopt.h>
#include <pwd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "cmd.h"
#include "policy.h"
#include "runreg.h"
#include "ctl.h"
#include "names.h"
#include "passphrase.h"
#include "vault.h"

#ifndef CUSTFS_DEFAULT_POLICY
#define CUSTFS_DEFAULT_POLICY "/usr/share/custfs/policy"
#endif

enum { OPT_POLICY = 256, OPT_PASSFILE, OPT_SHOW, OPT_JSON, OPT_ADMIN, OPT_TECH };

/* custctl init --admin/--tech: the first administration supervisor (head of
 * the approving department, leader of the information management group, R2.1)
 * and the first technical administrator, so the procedures can start. */
static int init_first_staff(const char *store, const char *passfile, const char *admin,
			    const char *tech)
{
	struct vault *v = ctl_open_vault(store, passfile);
	if (!v)
		return CTL_REFUSED;
	const struct department *ad = v->policy->procedure[PROC_APPROVE];
	const struct department *td = v->policy->procedure[PROC_IMPLEMENT];
	struct cmd_env e = { .v = v, .pol = v->policy, .root = true, .out = stdout,
			     .err = stderr };
	int rc = CTL_OK;
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

int ctl_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "passphrase-file", required_argument, NULL, OPT_PASSFILE },
		{ "admin", required_argument, NULL, OPT_ADMIN },
		{ "tech", required_argument, NULL, OPT_TECH },
		{ NULL, 0, NULL, 0 },
	};
	const char *policy = CUSTFS_DEFAULT_POLICY, *passfile = NULL, *admin = NULL, *tech = NULL;
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
			fprintf(stderr, "custctl: --%s %s: %s; nothing was created\n",
				i ? "tech" : "admin", who[i], pw ? "root is not staff" : "no such account");
			return CTL_REFUSED;
		}
	}
	if (argc - optind != 1)
		goto usage;
	const char *store = argv[optind];

	char *pass = NULL;
	size_t passlen = 0;
	if (passfile && !(pass = passphrase_from_file(passfile, &passlen, err, sizeof err))) {
		fprintf(stderr, "custctl: %s\n", err);
		return CTL_REFUSED;
	}
	int rc = vault_init(store, policy, pass, passlen, stderr, err, sizeof err);
	passphrase_free(pass);
	if (rc) {
		fprintf(stderr, "custctl: %s\n", err);
		return CTL_REFUSED;
	}
	printf("created store %s (policy from %s, master key %s)\n", store, policy,
	       passfile ? "wrapped with the passphrase" : "in " VAULT_KEY_FILE ", root only");
	/* The audit log begins with the store (and its signing key). */
	struct vault *v = ctl_open_vault(store, passfile);
	if (!v || ctl_audit(v, "init", 0, "", true, policy) != 0) {
		vault_close(v);
		return CTL_REFUSED;
	}
	vault_close(v);
	if (admin || tech)
		return init_first_staff(store, passfile, admin, tech);
	return CTL_OK;
usage:
	fprintf(stderr, "usage: custctl init STORE [--policy DIR] [--passphrase-file FILE]\n"
			"                    [--admin LOGIN] [--tech LOGIN]\n");
	return CTL_USAGE;
}

static int policy_check(const char *dir)
{
	struct policy *p = NULL;
	int nerr = policy_load(dir, stderr, &p);
	if (nerr) {
		fprintf(stderr, "custctl: %s: %d error%s; policy refused\n", dir, nerr < 0 ? 1 : nerr,
			nerr == 1 ? "" : "s");
		return CTL_REFUSED;
	}
	printf("%s: ok (%zu classes, %zu fields, %zu staff types, %zu departments, %zu roles)\n",
	       dir, p->cat->nclasses, p->cat->nfields, p->nstafftypes, p->ndepartments, p->nroles);
	policy_free(p);
	return CTL_OK;
}

/* Copies the regular files of FROM into the new directory TO. */
static int copy_dir(const char *from, const char *to)
{
	DIR *d = opendir(from);
	struct dirent *e;
	int rc = 0;
	if (!d || mkdir(to, 0755) != 0) {
		rc = errno;
		if (d)
			closedir(d);
		return rc;
	}
	while (!rc && (e = readdir(d))) {
		char src[PATH_MAX], dst[PATH_MAX], buf[65536];
		if (e->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(src, sizeof src, "%s/%s", from, e->d_name) >= sizeof src ||
		    (size_t)snprintf(dst, sizeof dst, "%s/%s", to, e->d_name) >= sizeof dst) {
			rc = ENAMETOOLONG;
			break;
		}
		int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		struct stat sb;
		if (in < 0 || fstat(in, &sb) != 0 || !S_ISREG(sb.st_mode)) {
			if (in >= 0)
				close(in);
			continue;
		}
		int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		ssize_t n;
		while (out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
			if (write(out, buf, (size_t)n) != n) {
				rc = errno ? errno : EIO;
				break;
			}
		if (out < 0 || fsync(out) != 0)
			rc = rc ? rc : errno;
		if (out >= 0)
			close(out);
		close(in);
	}
	closedir(d);
	return rc;
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char p[PATH_MAX];
		if (e->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < sizeof p)
			unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static int policy_reload(const char *store, const char *from)
{
	char cur[PATH_MAX], next[PATH_MAX];
	if ((size_t)snprintf(cur, sizeof cur, "%s/%s", store, VAULT_POLICY_DIR) >= sizeof cur ||
	    (size_t)snprintf(next, sizeof next, "%s/%s.new", store, VAULT_POLICY_DIR) >= sizeof next)
		return CTL_REFUSED;
	if (from) {
		/* Check, copy beside, then swap in one rename: a daemon never sees a
		 * half-copied policy. */
		if (policy_check(from) != CTL_OK)
			return CTL_REFUSED;
		remove_dir(next);
		int err = copy_dir(from, next);
		if (err || renameat2(AT_FDCWD, next, AT_FDCWD, cur, RENAME_EXCHANGE) != 0) {
			fprintf(stderr, "custctl: cannot install %s into %s: %s\n", from, cur,
				strerror(err ? err : errno));
			remove_dir(next);
			return CTL_REFUSED;
		}
		remove_dir(next); /* the old policy */
	} else if (policy_check(cur) != CTL_OK) {
		return CTL_REFUSED;
	}
	int n = runreg_signal(store, SIGHUP, 0);
	printf("policy of %s %s; %d mount%s asked to reload (each keeps its old policy on any "
	       "error and logs it)\n", store, from ? "installed" : "checked", n, n == 1 ? "" : "s");
	return CTL_OK;
}

int ctl_policy(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "check") == 0)
		return policy_check(argv[2]);
	if (argc == 3 && strcmp(argv[1], "reload") == 0)
		return policy_reload(argv[2], NULL);
	if (argc == 5 && strcmp(argv[1], "reload") == 0 && strcmp(argv[3], "--from") == 0)
		return policy_reload(argv[2], argv[4]);
	fprintf(stderr, "usage: custctl policy check DIR\n"
			"       custctl policy reload STORE [--from DIR]\n");
	return CTL_USAGE;
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
	int c, rc = CTL_REFUSED;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == OPT_SHOW) {
			char *end;
			show = strtoll(optarg, &end, 10);
			if (*end || show <= 0) {
				fprintf(stderr, "custctl: --show takes a version number (1, 2, ...)\n");
				return CTL_USAGE;
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
		return CTL_REFUSED;
	struct customer cr;
	struct field_row fr;
	int err = vault_customer_by_name(v, customer, &cr);
	if (err) {
		fprintf(stderr, "custctl: no customer '%s'\n", customer);
		goto out;
	}
	err = store_field_by_name(v->st, cr.id, field, &fr);
	if (err || fr.version == 0) {
		fprintf(stderr, "custctl: customer '%s' has no field '%s'\n", customer, field);
		goto out;
	}
	if (show) {
		struct secbuf value = SECBUF_INIT;
		char detail[64];
		snprintf(detail, sizeof detail, "history: version %lld", show);
		if (ctl_audit(v, "read", cr.id, field, true, detail) != 0)
			goto out;
		err = vault_read(v, fr.id, show, &value);
		if (err == ENOENT)
			fprintf(stderr, "custctl: %s/%s has no version %lld\n", customer, field, show);
		else if (err)
			fprintf(stderr, "custctl: %s/%s version %lld: %s\n", customer, field, show,
				strerror(err));
		else if (fwrite(value.data, 1, value.len, stdout) == value.len && fflush(stdout) == 0)
			rc = CTL_OK;
		secbuf_free(&value);
		goto out;
	}
	struct history_ctx h = { json, 0 };
	if (!json)
		printf("VERSION  TIME                         UID      SIZE\n");
	err = store_version_list(v->st, fr.id, print_version, &h);
	if (err)
		fprintf(stderr, "custctl: cannot list versions: %s\n", strerror(err));
	else
		rc = CTL_OK;
out:
	vault_close(v);
	return rc;
usage:
	fprintf(stderr, "usage: custctl history STORE CUSTOMER FIELD [--show VERSION] [--json] "
			"[--passphrase-file FILE]\n");
	return CTL_USAGE;
}
