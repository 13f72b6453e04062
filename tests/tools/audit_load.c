/* audit-load: appends records to a store's audit log, chained and signed as
 * custfs writes them, for tests and benchmarks of the audit report (never
 * installed).
 *
 *   audit-load STORE                   records from standard input, one a
 *                                      line, tab-separated (below); then a
 *                                      signed checkpoint
 *   audit-load STORE --customers       the store's customers: ID TAB NAME
 *   audit-load STORE --make-customers N   N customers "S000001" ... first
 *
 * A line: time_ns uid login department customer_id field class action
 * allow(0|1) rule checkout_id detail -- twelve fields, none holding a tab
 * or a line break. The records go through audit_note, custfs's own group
 * commit (256 a transaction): a million in a few seconds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "crypto.h"
#include "vault.h"

struct page {
	int64_t last;
	int n;
};

static int print_customer(void *ctx, const struct customer *c)
{
	struct page *pg = ctx;
	printf("%lld\t%s\n", (long long)c->id, c->name);
	pg->last = c->id;
	pg->n++;
	return 0;
}

static int list_customers(struct vault *v)
{
	struct page pg = { 0, 1000 };
	while (pg.n == 1000) {
		pg.n = 0;
		int rc = vault_customer_list(v, pg.last, 1000, print_customer, &pg);
		if (rc)
			return rc;
	}
	return 0;
}

static int make_customers(struct vault *v, long n)
{
	for (long i = 1; i <= n; i++) {
		char name[32];
		int64_t id;
		const char *why = NULL;
		snprintf(name, sizeof name, "S%06ld", i);
		int rc = vault_customer_create(v, name, 0, &id, &why);
		if (rc && rc != EEXIST) {
			fprintf(stderr, "audit-load: customer %s: %s\n", name, why ? why : strerror(rc));
			return rc;
		}
	}
	return 0;
}

static int load(struct vault *v)
{
	char *line = NULL;
	size_t cap = 0;
	long n = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, stdin)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		char *f[12];
		int k = 0;
		for (char *p = line; k < 12; k++) {
			f[k] = p;
			char *tab = strchr(p, '\t');
			if (!tab) {
				k++;
				break;
			}
			*tab = '\0';
			p = tab + 1;
		}
		if (k != 12) {
			fprintf(stderr, "audit-load: line %ld: %d fields, not 12\n", n + 1, k);
			free(line);
			return EINVAL;
		}
		bool data = f[5][0] != '\0';
		struct audit_event ev = {
			.time_ns = strtoll(f[0], NULL, 10), .uid = (uid_t)strtoul(f[1], NULL, 10),
			.login = f[2], .department = f[3], .pid = 1000 + (pid_t)(n % 30000),
			.comm = data ? "cat" : "custctl", .exe = data ? "/usr/bin/cat" : "/usr/bin/custctl",
			.mount = data ? "/srv/customers" : "", .view = "",
			.customer_id = strtoll(f[4], NULL, 10), .field = f[5], .cls = f[6],
			.action = f[7], .allow = f[8][0] == '1', .rule = f[9], .reason = "",
			.checkout_id = strtoll(f[10], NULL, 10), .detail = f[11],
		};
		if (!ev.time_ns) {
			fprintf(stderr, "audit-load: line %ld: no time\n", n + 1);
			free(line);
			return EINVAL;
		}
		int rc = audit_note(v->audit, &ev);
		if (rc) {
			fprintf(stderr, "audit-load: line %ld: %s\n", n + 1, strerror(rc));
			free(line);
			return rc;
		}
		n++;
	}
	free(line);
	audit_flush(v->audit);
	char cp[512];
	int rc = audit_checkpoint(v->audit, cp, sizeof cp);
	if (rc)
		fprintf(stderr, "audit-load: checkpoint: %s\n", strerror(rc));
	else
		fprintf(stderr, "audit-load: %ld records\n", n);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2 || crypto_init() != 0) {
		fprintf(stderr, "usage: audit-load STORE [--customers | --make-customers N] < TSV\n");
		return 2;
	}
	struct vault *v;
	char err[512];
	if (vault_open(argv[1], NULL, 0, stderr, &v, err, sizeof err) != 0) {
		fprintf(stderr, "audit-load: %s\n", err);
		return 1;
	}
	int rc;
	if (argc == 3 && !strcmp(argv[2], "--customers"))
		rc = list_customers(v);
	else if (argc == 4 && !strcmp(argv[2], "--make-customers"))
		rc = make_customers(v, atol(argv[3]));
	else if (argc == 2)
		rc = load(v);
	else
		rc = EINVAL;
	vault_close(v);
	return rc ? 1 : 0;
}
