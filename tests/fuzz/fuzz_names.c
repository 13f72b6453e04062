/* libFuzzer: name validation and the log form of a refused name. */
#include <stdint.h>
#include <string.h>

#include "names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[NAME_MAX_BYTES + 2];
	char shown[NAME_LOG_MAX];
	const char *s = (const char *)data;
	for (int dot = 0; dot < 2; dot++) {
		const char *why = name_problem(s, size, dot);
		if (!why) {
			/* Accepted: text, no '/', NUL or control character, not . or .. */
			if (size == 0 || size > NAME_MAX_BYTES || memchr(s, '/', size) ||
			    memchr(s, '\0', size) || !utf8_valid(s, size))
				__builtin_trap();
		}
	}
	size_t n = size < sizeof name - 1 ? size : sizeof name - 1;
	memcpy(name, data, n);
	name[n] = '\0';
	name_for_log(name, shown);
	if (strlen(shown) >= NAME_LOG_MAX)
		__builtin_trap();
	return 0;
}
