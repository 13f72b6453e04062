/* libFuzzer: the CSV reader (custctl import) on any bytes. */
#include <stdint.h>
#include <stdio.h>

#include "crypto.h"
#include "csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready && crypto_init() == 0)
		ready = 1;
	FILE *in = fmemopen((void *)data, size, "r");
	if (!in)
		return 0;
	struct csv_reader r;
	csv_reader_init(&r, in);
	char err[256];
	size_t line;
	for (int i = 0; i < 100000; i++) {
		int got = csv_next(&r, &line, err, sizeof err);
		if (got <= 0)
			break;
		for (size_t f = 0; f < r.nfields; f++) {
			size_t len;
			const char *v = csv_field(&r, f, &len);
			(void)v;
		}
	}
	csv_reader_free(&r);
	fclose(in);
	return 0;
}
