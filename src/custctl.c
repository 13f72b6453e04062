/* custctl: everything around the mount (init, import, export, history, policy). */
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "cmd.h"
#include "ctl.h"
#include "passphrase.h"

static const struct verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *synopsis;
} verbs[] = {
	{ "init", ctl_init, "init STORE [--policy DIR] [--passphrase-file FILE]" },
	{ "import", ctl_import, "import STORE FILE.csv [--passphrase-file FILE]" },
	{ "export", ctl_export, "export STORE [-o FILE.csv] [--passphrase-file FILE]" },
	{ "history", ctl_history,
	  "history STORE CUSTOMER FIELD [--show VERSION] [--json] [--passphrase-file FILE]" },
	{ "policy", ctl_policy,
	  "policy check DIR | policy reload STORE [--from DIR] | policy install DIR" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: custctl COMMAND [ARGS]\n\nroot, on the store files:\n");
	for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
		fprintf(out, "  custctl %s\n", verbs[i].synopsis);
	fprintf(out,
		"\nas yourself, through the mount (inside it, or --mount MNT, or CUSTFS_MOUNT):\n"
		"  custctl whoami\n"
		"  custctl explain CUSTOMER[/FIELD] [read|write]\n"
		"  custctl app new|list|show|approve|reject|implement|withdraw ...\n"
		"  custctl appeal new|list|show|forward|answer|resolve ...\n"
		"  custctl report new|list|show|resolve ...\n"
		"  custctl employee add|set|leave|show|list ...   (administration)\n"
		"  custctl grant list|revoke ...\n"
		"  custctl policy install DIR                     (technical)\n"
		"  custctl checkout CUSTOMER[/FIELD|/CLASS] --purpose TEXT --for DURATION [--json]\n"
		"  custctl checkout approve|deny ID               (administration)\n"
		"  custctl checkouts [--all] [--json]\n"
		"  custctl return ID | --all\n"
		"  custctl with-checkout TARGET --purpose TEXT --for DURATION -- COMMAND ...\n"
		"root may also name the store: custctl employee add STORE LOGIN ...,\n"
		"custctl grant add STORE LOGIN ROLE (break-glass), custctl explain STORE LOGIN ...\n"
		"\nexit codes: 0 done, 1 refused, denied or failed, 2 usage error, 3 no mount found\n");
}

struct vault *ctl_open_vault(const char *store, const char *passfile)
{
	char err[512];
	char *pass = NULL;
	size_t passlen = 0;
	bool needs = false;
	struct vault *v = NULL;

	if (vault_needs_passphrase(store, &needs, err, sizeof err) != 0) {
		fprintf(stderr, "custctl: %s\n", err);
		return NULL;
	}
	if (needs) {
		if (passfile)
			pass = passphrase_from_file(passfile, &passlen, err, sizeof err);
		else if (isatty(STDIN_FILENO))
			pass = passphrase_prompt("passphrase for the store: ", &passlen, err,
						 sizeof err);
		else
			snprintf(err, sizeof err,
				 "the store's key needs a passphrase: use --passphrase-file FILE");
		if (!pass) {
			fprintf(stderr, "custctl: %s\n", err);
			return NULL;
		}
	}
	if (vault_open(store, pass, passlen, stderr, &v, err, sizeof err) != 0) {
		fprintf(stderr, "custctl: %s\n", err);
		v = NULL;
	}
	passphrase_free(pass);
	return v;
}

int ctl_audit(struct vault *v, const char *action, int64_t customer_id, const char *field,
	      bool allow, const char *detail)
{
	char exe[256] = "";
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = '\0';
	struct audit_event ev = {
		.uid = getuid(), .login = "", .department = "", .pid = getpid(), .comm = "custctl",
		.exe = exe, .mount = "", .view = "", .customer_id = customer_id, .field = field,
		.cls = "", .action = action, .allow = allow, .rule = "root on the store files",
		.reason = "", .detail = detail,
	};
	int rc = v->audit ? audit_append(v->audit, &ev, true) : EIO;
	if (rc)
		fprintf(stderr, "custctl: the audit log cannot be written (%s); nothing done\n",
			strerror(rc));
	return rc;
}

int main(int argc, char **argv)
{
	if (crypto_init() != 0) {
		fprintf(stderr, "custctl: libsodium cannot start\n");
		return CTL_REFUSED;
	}
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CTL_USAGE : CTL_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("custctl 0.1.0\n");
		return CTL_OK;
	}
	bool install = argc >= 3 && !strcmp(argv[1], "policy") && !strcmp(argv[2], "install");
	for (size_t i = 0; !install && i < sizeof verbs / sizeof *verbs; i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].fn(argc - 1, argv + 1);
	if (cmd_known(argv[1]) || !strcmp(argv[1], "with-checkout"))
		return ctl_person_command(argc - 1, argv + 1);
	fprintf(stderr, "custctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return CTL_USAGE;
}
