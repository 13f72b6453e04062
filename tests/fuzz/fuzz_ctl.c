/* libFuzzer: the control channel's request parser (.custfs/ctl) and the
 * command-line parsing every command does, up to the point where a command
 * would touch the store. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int argc;
	char **argv;
	unsigned char *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (ctl_request_split(copy, size, &argc, &argv) == 0) {
		char detail[512];
		cmd_describe(argc, argv, detail, sizeof detail);
		if (strlen(detail) >= sizeof detail)
			__builtin_trap();
		const char *v1 = NULL, *v2 = NULL;
		bool f1 = false;
		const struct cmd_opt opts[] = {
			{ "reason", true, &v1, NULL }, { "customers", true, &v2, NULL },
			{ "json", false, NULL, &f1 }, { NULL, false, NULL, NULL },
		};
		FILE *null = fopen("/dev/null", "w");
		struct cmd_env e = { .out = null, .err = null };
		char *pos[4];
		int npos;
		if (null && argc > 0)
			cmd_parse(&e, argc, argv, opts, pos, 4, &npos);
		if (null)
			fclose(null);
		cmd_known(argc > 0 ? argv[0] : "");
		free(argv);
	}
	free(copy);
	return 0;
}
