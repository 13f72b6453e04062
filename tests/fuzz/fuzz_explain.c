/* libFuzzer: the question parser of .custfs/explain. */
#include <stdint.h>
#include <string.h>

#include "fs.h"
#include "names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct explain_query q;
	if (explain_parse((const char *)data, size, &q) == 0) {
		/* What it accepts names a safe customer (and field). */
		if (!name_ok(q.customer, false) || (q.field[0] && !name_ok(q.field, false)))
			__builtin_trap();
	}
	return 0;
}
