/* libFuzzer: the audit archive's reader (audit verify --archive) on any
 * bytes, against a real store's key. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct audit *log_once(void)
{
	static struct audit *a;
	if (a)
		return a;
	char dir[] = "/tmp/custfs-fuzz-XXXXXX";
	unsigned char id[16] = { 1, 2, 3 }, *master;
	char err[256] = "";
	if (crypto_init() != 0 || !mkdtemp(dir) || !(master = crypto_key_new_random()) ||
	    audit_open(dir, master, id, &a, err, sizeof err) != 0)
		abort();
	return a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit *a = log_once();
	FILE *in = fmemopen((void *)data, size, "r");
	FILE *out = fopen("/dev/null", "w");
	if (in && out && audit_verify_archive_stream(a, in, out) == 0)
		__builtin_trap(); /* nobody forges a signed archive by chance */
	if (in)
		fclose(in);
	if (out)
		fclose(out);
	return 0;
}
