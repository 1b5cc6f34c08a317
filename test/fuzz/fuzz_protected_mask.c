// fuzz_protected_mask.c -- libFuzzer target for the masks of protected
// values (finsec.mask(), the output function: src/protect/protect_parse.c).
// sources: src/protect/protect_parse.c src/common/b64url.c src/cnid/cnid_parse.c
//
// The first byte picks the mask code and kind; the rest is the value.
// Invariants (abort() on violation):
//  - the mask fits FP_MASK_BOUND and is NUL-terminated, for any bytes;
//  - it is valid UTF-8 without NUL (invalid bytes and NUL are masked,
//    never copied);
//  - name: as many characters as the input (first kept, then '*');
//  - phone: at most 7 digits shown besides a "+<country code>" prefix,
//    fewer than 8 digits: at most 2; as many bytes as the input;
//  - none: exactly "****"; email: "****" or contains "***@";
//  - address: ends with "****".
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/protect/protect_parse.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Characters of valid UTF-8, or -1 if invalid (same rules as the masks). */
static long
utf8_chars(const unsigned char *s, size_t len)
{
	long		n = 0;

	for (size_t i = 0; i < len;)
	{
		size_t		k;

		if (s[i] == 0)
			return -1;
		if (s[i] < 0x80)
			k = 1;
		else if (s[i] >= 0xC2 && s[i] <= 0xDF)
			k = 2;
		else if (s[i] >= 0xE0 && s[i] <= 0xEF)
			k = 3;
		else if (s[i] >= 0xF0 && s[i] <= 0xF4)
			k = 4;
		else
			return -1;
		if (i + k > len)
			return -1;
		for (size_t j = 1; j < k; j++)
			if ((s[i + j] & 0xC0) != 0x80)
				return -1;
		if (k == 3 && ((s[i] == 0xE0 && s[i + 1] < 0xA0) || (s[i] == 0xED && s[i + 1] >= 0xA0)))
			return -1;
		if (k == 4 && ((s[i] == 0xF0 && s[i + 1] < 0x90) || (s[i] == 0xF4 && s[i + 1] >= 0x90)))
			return -1;
		i += k;
		n++;
	}
	return n;
}

/* Characters counting an invalid byte as one (as the masks do). */
static long
loose_chars(const unsigned char *s, size_t len)
{
	long		n = 0;

	for (size_t i = 0; i < len; n++)
	{
		long		c = -1;

		for (size_t k = 4; k >= 1; k--)
			if (i + k <= len && utf8_chars(s + i, k) == 1)
			{
				c = (long) k;
				break;
			}
		i += c > 0 ? (size_t) c : 1;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			mask;
	int			kind;
	const char *v;
	size_t		len;
	char	   *out;
	size_t		m;

	if (size < 1 || size > 65536)
		return 0;
	mask = data[0] % (FP_MASK_MAX + 1);
	kind = (data[0] >> 4) % (FP_KIND_MAX + 1);
	v = (const char *) data + 1;
	len = size - 1;
	out = malloc(FP_MASK_BOUND(len));
	if (out == NULL)
		abort();
	m = finsec_fp_mask_value(kind, mask, v, len, out);
	if (m >= FP_MASK_BOUND(len) || out[m] != '\0' || strlen(out) != m)
		abort();
	if (utf8_chars((const unsigned char *) out, m) < 0)
		abort();
	if (kind == FP_KIND_TEXT)
	{
		if (mask == FP_MASK_NONE && strcmp(out, "****") != 0)
			abort();
		if (mask == FP_MASK_NAME && utf8_chars((const unsigned char *) out, m) != loose_chars((const unsigned char *) v, len))
			abort();
		if (mask == FP_MASK_ADDRESS && (m < 4 || memcmp(out + m - 4, "****", 4) != 0))
			abort();
		if (mask == FP_MASK_EMAIL && strcmp(out, "****") != 0 && strstr(out, "***@") == NULL)
			abort();
		if (mask == FP_MASK_PHONE)
		{
			size_t		i = 0;
			size_t		shown = 0;
			size_t		total = 0;

			while (i < len && v[i] == ' ')
				i++;
			if (i < len && v[i] == '+')
			{
				i++;
				while (i < len && v[i] >= '0' && v[i] <= '9')
					i++;
			}
			else
				i = 0;
			for (size_t j = i; j < len; j++)
				total += v[j] >= '0' && v[j] <= '9';
			for (size_t j = i; j < m; j++)
				shown += out[j] >= '0' && out[j] <= '9';
			if (shown > (total >= 8 ? 7 : 2))
				abort();
		}
	}
	free(out);
	return 0;
}
