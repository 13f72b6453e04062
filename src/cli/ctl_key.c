/* custctl key: the master key's life (R2.6: technical keeps storage secure).
 *
 *   key rotate STORE       a fresh master key, everything it wraps rewrapped
 *                          in one transaction; running mounts switch at once
 *   key passphrase STORE   adds, changes or removes the passphrase around it
 *
 * Root, on the store files. Each is on the audit record before it happens. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "i18n.h"
#include "passphrase.h"
#include "runreg.h"

enum { OPT_PASSFILE = 256, OPT_NEWPASS, OPT_REMOVE, OPT_DATA, OPT_ALL };

static int usage(void)
{
	fprintf(stderr, _("usage: custctl key rotate STORE [--passphrase-file FILE]\n"
			"       custctl key rotate STORE --data CUSTOMER | --all [--passphrase-file FILE]\n"
			"                   (fresh data keys: every version re-encrypted; --all resumes\n"
			"                   where a crash stopped it)\n"
			"       custctl key passphrase STORE [--passphrase-file FILE]\n"
			"                   (--new-passphrase-file FILE | --remove)\n"));
	return EXIT_USAGE;
}

struct ids {
	int64_t id[256];
	int n;
};

static int collect_id(void *ctx, const struct customer *c)
{
	struct ids *x = ctx;
	x->id[x->n++] = c->id;
	return x->n == 256;
}

#define REKEY_MARK "rekey_data_after"

/* Fresh data keys for one customer, or for all (resuming after the last one
 * done, which is kept in the store as the run goes). */
static int rekey_data(struct vault *v, const char *name)
{
	size_t versions = 0, total = 0, customers = 0;
	struct customer c;
	if (name) {
		if (vault_customer_by_name(v, name, &c) != 0) {
			fprintf(stderr, _("custctl: no customer '%s'\n"), name);
			return EXIT_REFUSED;
		}
		if (ctl_audit(v, "key-rekey", c.id, "", true, "fresh data key, every version "
			      "re-encrypted") != 0)
			return EXIT_REFUSED;
		int rc = vault_rekey_customer(v, c.id, &versions);
		if (rc) {
			fprintf(stderr, _("custctl: cannot re-encrypt: %s; nothing changed\n"), strerror(rc));
			return EXIT_REFUSED;
		}
		printf(_("customer #%lld: a fresh data key; %zu versions re-encrypted\n"),
		       (long long)c.id, versions);
		return EXIT_OK;
	}
	char mark[24] = "";
	size_t len = 0;
	int64_t after = 0;
	if (store_meta_get(v->db, REKEY_MARK, mark, sizeof mark - 1, &len) == 0) {
		mark[len] = '\0';
		after = atoll(mark);
		fprintf(stderr, _("custctl: resuming after customer #%lld\n"), (long long)after);
	}
	if (ctl_audit(v, "key-rekey", 0, "", true, "fresh data keys for every customer") != 0)
		return EXIT_REFUSED;
	bool tty = isatty(STDERR_FILENO);
	for (;;) {
		struct ids page = { .n = 0 };
		int rc = vault_customer_list(v, after, 256, collect_id, &page);
		if (rc || page.n == 0) {
			if (rc) {
				fprintf(stderr, _("custctl: cannot list customers: %s\n"), strerror(rc));
				return EXIT_REFUSED;
			}
			break;
		}
		for (int i = 0; i < page.n; i++) {
			rc = vault_rekey_customer(v, page.id[i], &versions);
			if (rc) {
				fprintf(stderr, _("custctl: customer #%lld: %s; run it again to resume\n"),
					(long long)page.id[i], strerror(rc));
				return EXIT_REFUSED;
			}
			after = page.id[i];
			int n = snprintf(mark, sizeof mark, "%lld", (long long)after);
			if (db_begin(v->db, true) == 0) {
				if (store_meta_put(v->db, REKEY_MARK, mark, (size_t)n) == 0)
					db_commit(v->db);
				else
					db_rollback(v->db);
			}
			total += versions;
			customers++;
			/* A crash mid-run, for the test of resuming (nothing else reads it). */
			const char *crash = getenv("CUSTCTL_TEST_CRASH");
			if (crash && !strcmp(crash, "rekey-after-3") && customers == 3)
				_exit(99);
			if (tty && customers % 100 == 0)
				fprintf(stderr, _("\rre-encrypting: %zu customers, %zu versions"), customers,
					total);
		}
	}
	if (tty)
		fprintf(stderr, "\r\033[K");
	if (db_begin(v->db, true) == 0) {
		if (store_meta_delete(v->db, REKEY_MARK) == 0)
			db_commit(v->db);
		else
			db_rollback(v->db);
	}
	printf(_("fresh data keys: %zu customers, %zu versions re-encrypted\n"), customers, total);
	return EXIT_OK;
}

int ctl_key(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "passphrase-file", required_argument, NULL, OPT_PASSFILE },
		{ "new-passphrase-file", required_argument, NULL, OPT_NEWPASS },
		{ "remove", no_argument, NULL, OPT_REMOVE },
		{ "data", required_argument, NULL, OPT_DATA },
		{ "all", no_argument, NULL, OPT_ALL },
		{ NULL, 0, NULL, 0 },
	};
	const char *passfile = NULL, *newfile = NULL, *data = NULL;
	bool remove = false, all = false;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == OPT_PASSFILE)
			passfile = optarg;
		else if (c == OPT_NEWPASS)
			newfile = optarg;
		else if (c == OPT_REMOVE)
			remove = true;
		else if (c == OPT_DATA)
			data = optarg;
		else if (c == OPT_ALL)
			all = true;
		else
			return usage();
	}
	if (argc - optind != 2)
		return usage();
	const char *verb = argv[optind], *store = argv[optind + 1];
	bool rotate = !strcmp(verb, "rotate");
	if (!rotate && strcmp(verb, "passphrase"))
		return usage();
	if (rotate ? (newfile || remove || (data && all)) : (!newfile == !remove || data || all))
		return usage();
	if (geteuid() != 0) {
		fprintf(stderr, _("custctl: only root works on the store's key\n"));
		return EXIT_REFUSED;
	}
	struct vault *v = ctl_open_vault(store, passfile);
	if (!v)
		return EXIT_REFUSED;
	char err[512] = "", *newpass = NULL;
	size_t newlen = 0;
	int rc = EXIT_REFUSED;
	if (newfile && !(newpass = passphrase_from_file(newfile, &newlen, err, sizeof err))) {
		fprintf(stderr, "custctl: %s\n", err);
		goto out;
	}
	if (newpass && newlen == 0) {
		fprintf(stderr, _("custctl: the new passphrase is empty\n"));
		goto out;
	}
	if (data || all) {
		rc = rekey_data(v, data);
		goto out;
	}
	if (ctl_audit(v, rotate ? "key-rotate" : "key-passphrase", 0, "", true,
		      rotate ? "the master key is replaced"
		      : remove ? "the passphrase is removed" : "the passphrase is set") != 0)
		goto out;
	if (rotate) {
		if (vault_key_rotate(v, err, sizeof err) != 0) {
			fprintf(stderr, "custctl: %s\n", err);
			goto out;
		}
		printf(_("master key rotated: %s rewrapped, the audit signing key resealed; the old "
		       "key is wiped\n"), err);
		/* Every running mount switches before the command returns. */
		int told = 0;
		if (runreg_tell(store, RUNREG_KEY, 0, &told, stderr) > 0) {
			fprintf(stderr, _("custctl: rotated, but not every mount confirmed the switch "
					"(it switches at its next use of the key)\n"));
			goto out;
		}
	} else {
		if (vault_key_passphrase(v, newpass, newlen, err, sizeof err) != 0) {
			fprintf(stderr, "custctl: %s\n", err);
			goto out;
		}
		printf(_("%s: the master key is now %s; no data changed\n"), store,
		       remove ? _("in a root-only file with no passphrase")
			      : _("wrapped by the new passphrase (Argon2id)"));
	}
	rc = EXIT_OK;
out:
	passphrase_free(newpass);
	vault_close(v);
	return rc;
}
