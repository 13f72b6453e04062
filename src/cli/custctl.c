/* custctl: everything around the mount (init, import, export, history, policy). */
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "cmd.h"
#include "ctl.h"
#include "passphrase.h"
#include "text.h"

static const struct verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *synopsis;
} verbs[] = {
	{ "init", ctl_init, N_("init STORE [--policy DIR] [--passphrase-file FILE]") },
	{ "import", ctl_import, N_("import STORE FILE.csv [--passphrase-file FILE]") },
	{ "export", ctl_export, N_("export STORE [-o FILE.csv] [--passphrase-file FILE]") },
	{ "key", ctl_key, N_("key rotate|passphrase STORE [--passphrase-file FILE] "
			  "[--new-passphrase-file FILE | --remove]") },
	{ "store", ctl_store_cmd, N_("store stats STORE [--json] [--passphrase-file FILE]") },
	{ "history", ctl_history,
	  N_("history STORE CUSTOMER FIELD [--show VERSION] [--json] [--passphrase-file FILE]") },
	{ "policy", ctl_policy,
	  N_("policy check DIR | policy reload STORE [--from DIR]") },
	{ "backup", ctl_backup,
	  N_("backup STORE DEST [--with-key FILE] [--passphrase-file FILE]\n"
	  "  custctl backup verify DEST [--key FILE] [--passphrase-file FILE]") },
	{ "restore", ctl_restore, N_("restore DEST STORE [--key FILE] [--passphrase-file FILE]") },
};

static void usage(FILE *out)
{
	fprintf(out, _("usage: custctl COMMAND [ARGS]\n\nroot, on the store files:\n"));
	for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
		fprintf(out, "  custctl %s\n", _(verbs[i].synopsis));
	fprintf(out,
		_("\nas yourself, through the mount (inside it, or --mount MNT, or CUSTFS_MOUNT):\n"
		"  custctl whoami\n"
		"  custctl explain CUSTOMER[/FIELD] [read|write]\n"
		"  custctl app new|list|show|approve|reject|implement|withdraw ...\n"
		"  custctl appeal new|list|show|forward|answer|resolve ...\n"
		"  custctl report new|list|show|resolve ...\n"
		"  custctl employee add|set|leave|show|list ...   (administration)\n"
		"  custctl grant list|revoke ...\n"
		"  custctl policy propose DIR --reason TEXT       (technical)\n"
		"  custctl policy proposals | history | show ID | diff ID\n"
		"  custctl policy approve ID                      (the group's leader)\n"
		"  custctl policy install ID | withdraw ID        (technical | who proposed it)\n"
		"  custctl checkout CUSTOMER[/FIELD|/CLASS] --purpose TEXT --for DURATION [--json]\n"
		"  custctl checkout approve|deny ID               (administration)\n"
		"  custctl inbox [--json]                         (what waits for your step)\n"
		"  custctl erase new CUSTOMER --reason TEXT | approve ID | implement ID | cancel ID\n"
		"                | list [--json]                  (erasing a customer, R3.4)\n"
		"  custctl prune preview | new --reason TEXT | approve ID | implement ID | cancel ID\n"
		"                | list [--json]                  (retention, R3.4)\n"
		"  custctl checkouts [--all] [--json]\n"
		"  custctl return ID | --all\n"
		"  custctl with-checkout TARGET --purpose TEXT --for DURATION -- COMMAND ...\n"
		"root may also name the store: custctl employee add STORE LOGIN ...,\n"
		"custctl grant add STORE LOGIN ROLE (break-glass), custctl explain STORE LOGIN ...\n"
		"\nexit codes: 0 done, 1 refused, denied or failed, 2 usage error, 3 no mount found\n"));
}

/* Whether the words after the verb ask for help (--help or -h, before any
 * "--": what follows belongs to with-checkout's command). */
static bool asks_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

/* custctl help [VERB], VERB --help: on standard output, anywhere (no mount
 * or store needed). */
static int help(const char *verb)
{
	if (!verb) {
		usage(stdout);
		return EXIT_OK;
	}
	bool found = false;
	for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
		if (strcmp(verb, verbs[i].name) == 0) {
			printf(_("usage: custctl %s\n"), _(verbs[i].synopsis));
			if (!strcmp(verb, "init"))
				printf(_("the default policy: %s\n"), ctl_default_policy_dir());
			found = true;
		}
	if (!strcmp(verb, "with-checkout")) {
		printf(_("usage: custctl with-checkout CUSTOMER[/FIELD|/CLASS] --purpose TEXT "
		       "--for DURATION -- COMMAND [ARGS...]\n"));
		found = true;
	} else if (cmd_known(verb)) {
		/* The command's own usage lines: it prints them for --help without
		 * touching a store or a policy. */
		struct cmd_env e = { .out = stdout, .err = stdout, .help = true };
		char *av[] = { (char *)verb, "--help", NULL };
		cmd_run(&e, 2, av);
		found = true;
	}
	if (!found) {
		fprintf(stderr, _("custctl: unknown command '%s' (custctl help lists them)\n"), verb);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Verbs (and sub-verbs; NULL: any but EXCEPT) that print JSON themselves
 * with --json; for every other, custctl wraps the outcome. */
static const struct { const char *verb, *sub, *except[3]; } native_json[] = {
	{ "whoami", NULL, { 0 } },       { "employee", "show", { 0 } },
	{ "employee", "list", { 0 } },   { "grant", "list", { 0 } },
	{ "app", "list", { 0 } },        { "app", "show", { 0 } },
	{ "appeal", "list", { 0 } },     { "appeal", "show", { 0 } },
	{ "report", "list", { 0 } },     { "report", "show", { 0 } },
	{ "checkouts", NULL, { 0 } },    { "inbox", NULL, { 0 } },
	{ "erase", "list", { 0 } },      { "prune", "list", { 0 } },
	{ "policy", "proposals", { 0 } }, { "policy", "history", { 0 } },
	{ "policy", "diff", { 0 } },     { "policy", "replay", { 0 } },
	{ "history", NULL, { 0 } },      { "store", NULL, { 0 } },
	/* a new checkout, and the log's lists, records, report and verify */
	{ "checkout", NULL, { "approve", "deny" } },
	{ "audit", NULL, { "archive", "checkpoint", "pubkey" } },
};

/* Whether SUB is among the first words after the verb (a store directory
 * may come first: root on the files). */
static bool has_sub(int argc, char **argv, const char *sub)
{
	for (int i = 2; i < argc && i < 4 && argv[i][0] != '-'; i++)
		if (!strcmp(argv[i], sub))
			return true;
	return false;
}

/* Whether custctl should wrap VERB's outcome in JSON (--json asked, before
 * any "--", and the verb has no JSON of its own); the flag is then taken out
 * of ARGV. */
static bool wants_envelope(int *argc, char **argv)
{
	int at = 0;
	for (int i = 2; i < *argc && !at && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--json"))
			at = i;
	if (!at || !strcmp(argv[1], "with-checkout"))
		return false;
	bool native = false;
	for (size_t i = 0; !native && i < sizeof native_json / sizeof *native_json; i++) {
		native = !strcmp(native_json[i].verb, argv[1]) &&
			 (!native_json[i].sub || has_sub(*argc, argv, native_json[i].sub));
		for (int x = 0; native && x < 3 && native_json[i].except[x]; x++)
			native = !has_sub(*argc, argv, native_json[i].except[x]);
	}
	if (native)
		return false;
	memmove(argv + at, argv + at + 1, (size_t)(*argc - at) * sizeof *argv);
	(*argc)--;
	return true;
}

static void json_lines(const char *key, const char *text, size_t len)
{
	printf("\"%s\":[", key);
	size_t start = 0;
	int n = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && text[i] != '\n')
			continue;
		if (i > start || i < len) {
			char *line = strndup(text + start, i - start);
			printf("%s", n++ ? "," : "");
			text_json(stdout, line ? line : "");
			free(line);
		}
		start = i + 1;
	}
	printf("]");
}

/* Runs the verb in a child with its standard output and error captured, and
 * prints one JSON object: {"command":…,"exit":N,"ok":bool,"output":[lines],
 * "errors":[lines]}. The exit code is the verb's. */
static int run_enveloped(int argc, char **argv, int (*run)(int, char **))
{
	int out[2], err[2];
	if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
		perror("custctl: pipe");
		return EXIT_REFUSED;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("custctl: fork");
		return EXIT_REFUSED;
	}
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		int code = run(argc, argv);
		fflush(stdout);
		fflush(stderr);
		_exit(code & 0xff);
	}
	close(out[1]);
	close(err[1]);
	char *buf[2] = { NULL, NULL };
	size_t len[2] = { 0, 0 }, cap[2] = { 0, 0 };
	struct pollfd p[2] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };
	int open_fds = 2;
	bool lost = false;
	while (open_fds > 0) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		for (int k = 0; k < 2; k++) {
			if (p[k].fd < 0 || !(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (len[k] + 4096 > cap[k]) {
				char *nb = realloc(buf[k], cap[k] * 2 + 8192);
				if (!nb) {
					/* no room for more: stop reading (the child then
					 * gets EPIPE) and say the envelope is not whole */
					close(p[k].fd);
					p[k].fd = -1;
					open_fds--;
					lost = true;
					continue;
				}
				buf[k] = nb;
				cap[k] = cap[k] * 2 + 8192;
			}
			ssize_t n = read(p[k].fd, buf[k] + len[k], cap[k] - len[k]);
			if (n > 0) {
				len[k] += (size_t)n;
			} else if (n == 0 || errno != EINTR) {
				close(p[k].fd);
				p[k].fd = -1;
				open_fds--;
			}
		}
	}
	int status = 0, rc = EXIT_REFUSED;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status))
		rc = WEXITSTATUS(status);
	if (lost && rc == 0)
		rc = EXIT_REFUSED; /* the output is not all there */
	/* The verb and sub-verb, never a path or a customer's name. */
	bool sub = argc > 1 && argv[1][0] >= 'a' && argv[1][0] <= 'z' && !strchr(argv[1], '/');
	char words[256];
	snprintf(words, sizeof words, "%s%s%s", argv[0], sub ? " " : "", sub ? argv[1] : "");
	printf("{\"command\":");
	text_json(stdout, words);
	printf(",\"exit\":%d,\"ok\":%s,", rc, rc == 0 ? "true" : "false");
	json_lines("output", buf[0] ? buf[0] : "", len[0]);
	printf(",");
	json_lines("errors", buf[1] ? buf[1] : "", len[1]);
	printf("}\n");
	free(buf[0]);
	free(buf[1]);
	return rc;
}

/* Options given before the verb (custctl --mount MNT checkout ...) are moved
 * after it, before any "--": every verb takes its options anywhere. */
static char **options_after_verb(int argc, char **argv, int *nargc)
{
	static const char *const with_value[] = { "--mount", "--passphrase-file", "--policy" };
	int lead = 1;
	while (lead < argc && argv[lead][0] == '-' && argv[lead][1] == '-' && argv[lead][2] &&
	       strcmp(argv[lead], "--help") && strcmp(argv[lead], "--version")) {
		bool value = false;
		for (size_t i = 0; i < sizeof with_value / sizeof *with_value; i++)
			value |= !strcmp(argv[lead], with_value[i]);
		lead += value && lead + 1 < argc ? 2 : 1;
	}
	*nargc = argc;
	if (lead == 1 || lead >= argc)
		return argv;
	char **out = calloc((size_t)argc + 1, sizeof *out);
	if (!out)
		return argv;
	int n = 0, dash = argc;
	for (int i = lead + 1; i < argc && dash == argc; i++)
		if (!strcmp(argv[i], "--"))
			dash = i;
	out[n++] = argv[0];
	out[n++] = argv[lead]; /* the verb */
	for (int i = lead + 1; i < dash; i++)
		out[n++] = argv[i];
	for (int i = 1; i < lead; i++)
		out[n++] = argv[i];
	for (int i = dash; i < argc; i++)
		out[n++] = argv[i];
	return out;
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
				 _("the store's key needs a passphrase: use --passphrase-file FILE"));
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
	return ctl_audit_rule(v, action, customer_id, field, allow, "root on the store files",
			      detail);
}

int ctl_audit_rule(struct vault *v, const char *action, int64_t customer_id, const char *field,
		   bool allow, const char *rule, const char *detail)
{
	char exe[256] = "";
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = '\0';
	struct audit_event ev = {
		.uid = getuid(), .login = "", .department = "", .pid = getpid(), .comm = "custctl",
		.exe = exe, .mount = "", .view = "", .customer_id = customer_id, .field = field,
		.cls = "", .action = action, .allow = allow, .rule = rule,
		.reason = "", .detail = detail,
	};
	int rc = v->audit ? audit_append(v->audit, &ev, true) : EIO;
	if (rc)
		fprintf(stderr, _("custctl: the audit log cannot be written (%s); nothing done\n"),
			strerror(rc));
	return rc;
}

/* ARGV[0] is the verb. */
static int dispatch(int argc, char **argv)
{
	/* policy check/reload are root's on the files; the rest is the
	 * group's procedure, through the mount. */
	bool install = argc >= 2 && !strcmp(argv[0], "policy") && strcmp(argv[1], "check") &&
		       strcmp(argv[1], "reload");
	for (size_t i = 0; !install && i < sizeof verbs / sizeof *verbs; i++)
		if (strcmp(argv[0], verbs[i].name) == 0)
			return verbs[i].fn(argc, argv);
	if (cmd_known(argv[0]) || !strcmp(argv[0], "with-checkout"))
		return ctl_person_command(argc, argv);
	fprintf(stderr, _("custctl: unknown command '%s'\n"), argv[0]);
	usage(stderr);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	i18n_init();
	if (crypto_init() != 0) {
		fprintf(stderr, _("custctl: libsodium cannot start\n"));
		return EXIT_REFUSED;
	}
	argv = options_after_verb(argc, argv, &argc);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return help(argc > 2 ? argv[2] : NULL);
	if (strcmp(argv[1], "help") == 0)
		return argc > 3 ? (usage(stderr), EXIT_USAGE) : help(argc > 2 ? argv[2] : NULL);
	if (asks_help(argc - 1, argv + 1))
		return help(argv[1]);
	if (strcmp(argv[1], "--version") == 0) {
		printf("custctl %s\n", CUSTFS_VERSION);
		return EXIT_OK;
	}
	if (wants_envelope(&argc, argv))
		return run_enveloped(argc - 1, argv + 1, dispatch);
	return dispatch(argc - 1, argv + 1);
}
