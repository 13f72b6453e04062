/* Masked forms (DOMAIN.md: 138****5678), character by character. */
#include <string.h>

#include "check.h"
#include "crypto.h"
#include "mask.h"

int main(void)
{
	static const struct {
		struct mask m;
		const char *in;
		const char *out;
	} cases[] = {
		{ { MASK_KEEP, 3, 4 }, "13812345678", "138****5678" },
		{ { MASK_KEEP, 3, 4 }, "+8613812345678", "+86*******5678" },
		{ { MASK_KEEP, 3, 4 }, "1234567", "*******" },   /* too short: all masked */
		{ { MASK_KEEP, 3, 4 }, "", "" },
		{ { MASK_KEEP, 1, 1 }, "李小明", "李***明" },     /* keeps characters, hides bytes */
		{ { MASK_KEEP, 0, 0 }, "abc", "***" },
		{ { MASK_EMAIL, 0, 0 }, "li.ming@example.com", "l******@example.com" },
		{ { MASK_EMAIL, 0, 0 }, "x@example.com", "*@example.com" },
		{ { MASK_EMAIL, 0, 0 }, "not an address", "**************" },
		{ { MASK_EMAIL, 0, 0 }, "小明@例子.中国", "小***@例子.中国" },
	};
	if (crypto_init() != 0)
		return 1;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct secbuf b = SECBUF_INIT;
		CHECK(secbuf_set(&b, cases[i].in, strlen(cases[i].in)) == 0);
		CHECK(mask_apply(&cases[i].m, &b) == 0);
		check_ctx("case %zu: %s", i, cases[i].in);
		CHECK(b.len == strlen(cases[i].out));
		CHECK(b.len == 0 || memcmp(b.data, cases[i].out, b.len) == 0);
		secbuf_free(&b);
	}
	return check_done();
}
