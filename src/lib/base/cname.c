#include "cname.h"
#include "i18n.h"

#include <pthread.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/uspoof.h>

#include "names.h"
#include "text.h"

#define U16_MAX (NAME_MAX_BYTES * 2 + 8)

static bool ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* Refusals that are about characters, on the UTF-16 form. */
static const char *char_problem(const UChar *u, int32_t n)
{
	UChar32 c = 0;
	int32_t i = 0, first = 1;
	UChar32 last = 0;
	while (i < n) {
		U16_NEXT(u, i, n, c);
		if (first && u_isUWhiteSpace(c))
			return N_("name begins with a space");
		first = 0;
		if (c == 0x061c || c == 0x200e || c == 0x200f || (c >= 0x202a && c <= 0x202e) ||
		    (c >= 0x2066 && c <= 0x2069))
			return N_("name contains a bidirectional control character");
		if (u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT))
			return N_("name contains an invisible character");
		last = c;
	}
	if (n > 0 && u_isUWhiteSpace(last))
		return N_("name ends with a space");
	return NULL;
}

const char *cname_normalize(const char *name, char *out)
{
	size_t len = strlen(name);
	const char *why = name_problem(name, len, false);
	if (why)
		return why;
	if (ascii(name)) {
		if (name[0] == ' ' || name[len - 1] == ' ')
			return name[0] == ' ' ? N_("name begins with a space") : N_("name ends with a space");
		memcpy(out, name, len + 1);
		return NULL;
	}
	UChar u[U16_MAX], nfc[U16_MAX];
	int32_t n = 0, m = 0;
	UErrorCode st = U_ZERO_ERROR;
	u_strFromUTF8(u, U16_MAX, &n, name, (int32_t)len, &st);
	const UNormalizer2 *norm = U_SUCCESS(st) ? unorm2_getNFCInstance(&st) : NULL;
	if (norm)
		m = unorm2_normalize(norm, u, n, nfc, U16_MAX, &st);
	if (U_FAILURE(st))
		return N_("name cannot be normalised (Unicode NFC)");
	if ((why = char_problem(nfc, m)))
		return why;
	int32_t olen = 0;
	u_strToUTF8(out, NAME_MAX_BYTES + 1, &olen, nfc, m, &st);
	if (U_FAILURE(st) || olen > NAME_MAX_BYTES)
		return N_("name is longer than 255 bytes in Unicode NFC");
	out[olen] = '\0';
	return name_problem(out, (size_t)olen, false);
}

static USpoofChecker *checker;
static pthread_once_t checker_once = PTHREAD_ONCE_INIT;

static void checker_init(void)
{
	UErrorCode st = U_ZERO_ERROR;
	checker = uspoof_open(&st);
	if (U_FAILURE(st))
		checker = NULL;
}

/* Case-folds U (N units) into OUT. */
static int32_t fold(const UChar *u, int32_t n, UChar *out, UErrorCode *st)
{
	return u_strFoldCase(out, CNAME_SKELETON_MAX, u, n, U_FOLD_CASE_DEFAULT, st);
}

static int32_t skeleton(const UChar *u, int32_t n, UChar *out, UErrorCode *st)
{
	return uspoof_getSkeleton(checker, 0, u, n, out, CNAME_SKELETON_MAX, st);
}

int cname_skeleton(const char *nfc, char out[CNAME_SKELETON_MAX])
{
	UChar a[CNAME_SKELETON_MAX], b[CNAME_SKELETON_MAX];
	int32_t n = 0, olen = 0;
	UErrorCode st = U_ZERO_ERROR;
	pthread_once(&checker_once, checker_init);
	if (!checker)
		return -1;
	u_strFromUTF8(a, CNAME_SKELETON_MAX, &n, nfc, -1, &st);
	/* Compatibility forms (fullwidth, black-letter, circled) as their plain
	 * letters, then without combining marks (C1001 + U+0301). */
	const UNormalizer2 *nfkd = U_SUCCESS(st) ? unorm2_getNFKDInstance(&st) : NULL;
	if (nfkd)
		n = unorm2_normalize(nfkd, a, n, b, CNAME_SKELETON_MAX, &st);
	int32_t m = 0;
	for (int32_t i = 0; U_SUCCESS(st) && i < n;) {
		UChar32 c;
		int32_t at = i;
		U16_NEXT(b, i, n, c);
		int8_t t = u_charType(c);
		if (t != U_NON_SPACING_MARK && t != U_ENCLOSING_MARK)
			for (int32_t k = at; k < i; k++)
				a[m++] = b[k];
	}
	/* Then the confusables' skeleton, case-blind: skeletons map to letters of
	 * either case (0 to O, 1 to l), so fold around each pass until stable. */
	if (U_SUCCESS(st))
		n = fold(a, m, b, &st);
	if (U_SUCCESS(st))
		n = skeleton(b, n, a, &st);
	if (U_SUCCESS(st))
		n = fold(a, n, b, &st);
	if (U_SUCCESS(st))
		n = skeleton(b, n, a, &st);
	if (U_SUCCESS(st))
		n = fold(a, n, b, &st);
	if (U_SUCCESS(st))
		u_strToUTF8(out, CNAME_SKELETON_MAX, &olen, b, n, &st);
	if (U_FAILURE(st) || olen >= CNAME_SKELETON_MAX)
		return -1;
	out[olen] = '\0';
	return 0;
}
