/* libFuzzer: the field catalogue's parser (policy/fields.conf). */
#include <stdint.h>
#include <stdio.h>

#include "catalog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *in = fmemopen((void *)data, size, "r");
	FILE *errs = fopen("/dev/null", "w");
	struct catalog *c = NULL;
	if (in && errs && catalog_parse(in, "fields.conf", errs, &c) == 0) {
		for (size_t i = 0; i < c->nfields; i++)
			if (catalog_field(c, c->fields[i].name) != &c->fields[i])
				__builtin_trap(); /* every field found by its name */
		catalog_free(c);
	}
	if (in)
		fclose(in);
	if (errs)
		fclose(errs);
	return 0;
}
