/* custctl store stats: how big the store is, by class, and how it grows
 * (R2.6: technical keeps storage in order). Root, on the store files. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "i18n.h"
#include "width.h"
#include "ctl.h"
#include "retention.h"

enum { OPT_PASSFILE = 256, OPT_JSON };

static long long file_size(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

int ctl_store_cmd(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "passphrase-file", required_argument, NULL, OPT_PASSFILE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	const char *passfile = NULL;
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == OPT_PASSFILE)
			passfile = optarg;
		else if (c == OPT_JSON)
			json = true;
		else
			goto usage;
	}
	if (argc - optind != 2 || strcmp(argv[optind], "stats"))
		goto usage;
	const char *store = argv[optind + 1];
	struct vault *v = ctl_open_vault(store, passfile);
	if (!v)
		return EXIT_REFUSED;
	struct store_stats st;
	int64_t records = 0, audit_day[STATS_DAYS] = { 0 };
	int64_t now = clock_now_ns();
	int rc = store_stats(v->db, v->policy->cat, now, &st);
	if (!rc && v->audit)
		rc = audit_stats(v->audit, now, &records, audit_day, STATS_DAYS);
	if (rc) {
		fprintf(stderr, _("custctl: cannot read the store's figures: %s\n"), strerror(rc));
		vault_close(v);
		return EXIT_REFUSED;
	}
	long long db = file_size(store, "custfs.db") + file_size(store, "custfs.db-wal");
	long long adb = file_size(store, "audit.db") + file_size(store, "audit.db-wal");
	if (json) {
		printf("{\"customers\":%lld,\"erased\":%lld,\"store_bytes\":%lld,\"audit_bytes\":%lld,"
		       "\"audit_records\":%lld,\"classes\":[", (long long)st.customers,
		       (long long)st.erased, db, adb, (long long)records);
		for (int i = 0; i < st.nclasses; i++)
			printf("%s{\"class\":\"%s\",\"fields\":%lld,\"versions\":%lld,\"bytes\":%lld}",
			       i ? "," : "", st.cls[i].name, (long long)st.cls[i].fields,
			       (long long)st.cls[i].versions, (long long)st.cls[i].bytes);
		printf("],\"versions_per_day\":[");
		for (int d = 0; d < STATS_DAYS; d++)
			printf("%s%lld", d ? "," : "", (long long)st.versions_per_day[d]);
		printf("],\"audit_records_per_day\":[");
		for (int d = 0; d < STATS_DAYS; d++)
			printf("%s%lld", d ? "," : "", (long long)audit_day[d]);
		printf("]}\n");
	} else {
		printf(_("%s: %lld customers (%lld erased); store %lld bytes, audit log %lld bytes "
		       "(%lld records)\n"), store, (long long)st.customers, (long long)st.erased, db, adb,
		       (long long)records);
		const char *h[3] = { _("fields"), _("versions"), _("ciphertext bytes") };
		printf("%s %*s%s %*s%s %*s%s\n", text_padded(_("class"), 24), text_pad(h[0], 8), "",
		       h[0], text_pad(h[1], 10), "", h[1], text_pad(h[2], 14), "", h[2]);
		for (int i = 0; i < st.nclasses; i++)
			printf("%s %8lld %10lld %14lld\n", text_padded(st.cls[i].name, 24), (long long)st.cls[i].fields,
			       (long long)st.cls[i].versions, (long long)st.cls[i].bytes);
		printf(_("growth, the last %d days (newest first):\n  new versions:  "), STATS_DAYS);
		for (int d = 0; d < STATS_DAYS; d++)
			printf(" %lld", (long long)st.versions_per_day[d]);
		printf(_("\n  audit records: "));
		for (int d = 0; d < STATS_DAYS; d++)
			printf(" %lld", (long long)audit_day[d]);
		printf("\n");
	}
	vault_close(v);
	return EXIT_OK;
usage:
	fprintf(stderr, _("usage: custctl store stats STORE [--json] [--passphrase-file FILE]\n"));
	return EXIT_USAGE;
}
