/* libFuzzer: the access policy's parser (policy/access.conf) against the
 * shipped catalogue. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "catalog.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char catalogue[] =
	"class basic level 1\nclass business level 2\nclass orders level 2\n"
	"class service level 3\nclass finance level 4 sensitive\nclass privacy level 4 sensitive\n"
	"field company basic\nfield phone basic format phone\nfield email basic format email\n"
	"field requirements business\nfield order_qty orders format integer\n"
	"field feedback service\nfield credit_limit finance format decimal\n"
	"field id_number privacy\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *errs = fopen("/dev/null", "w");
	FILE *cin = fmemopen((void *)catalogue, sizeof catalogue - 1, "r");
	struct catalog *cat = NULL;
	if (!errs || !cin || catalog_parse(cin, "fields.conf", errs, &cat) != 0)
		abort();
	fclose(cin);
	FILE *in = fmemopen((void *)data, size, "r");
	struct policy *p = NULL;
	if (in && policy_parse(in, "access.conf", errs, cat, &p) == 0)
		policy_free(p);
	else if (!in)
		catalog_free(cat);
	/* policy_parse owns CAT from the call on, policy or not. */
	if (in)
		fclose(in);
	fclose(errs);
	return 0;
}
