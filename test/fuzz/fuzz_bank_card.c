// sources: src/card/card_parse.c src/common/b64url.c
/*
 * Fuzz target: parsing of bank card and account numbers and of their
 * sealed text form (src/card/card_parse.c), over arbitrary bytes.
 *
 * Invariants checked (abort on violation):
 *  - digits parsed are ASCII digits, within the kind's length bounds;
 *  - a card number accepted has a valid Luhn digit;
 *  - a payload decoded from a sealed form passes finsec_card_payload_check, and
 *    encoding it again and decoding gives the same bytes;
 *  - masking never shows more than the clear prefix and last four, and
 *    never a digit beyond the payload's clear fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/card/card_parse.h"

static void
check_mask(const FsNumberHeader *h)
{
	char		out[2 * FS_ACCOUNT_MAX_DIGITS + 1];

	for (int first = 0; first <= 8; first++)
		for (int last = 0; last <= 4; last++)
		{
			int			shown = 0;

			finsec_card_mask(h, first, last, (first + last) % 2, out);
			for (const char *p = out; *p; p++)
				if (*p >= '0' && *p <= '9')
					shown++;
				else if (*p != '*' && *p != ' ')
					abort();
			if (shown > h->nprefix + 4 || shown > first + last)
				abort();
		}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		digits[FS_ACCOUNT_MAX_DIGITS + 1];
	uint8_t		payload[FS_NUMBER_MAX_INPUT];
	size_t		plen;
	int			n,
				badpos;

	for (int account = 0; account <= 1; account++)
	{
		FsParseResult r = finsec_card_number_digits((const char *) data, size, account,
										   digits, &n, &badpos);

		if (r == FS_OK || r == FS_ERR_LUHN)
		{
			int			mind = account ? FS_ACCOUNT_MIN_DIGITS : FS_CARD_MIN_DIGITS;
			int			maxd = account ? FS_ACCOUNT_MAX_DIGITS : FS_CARD_MAX_DIGITS;

			if (n < mind || n > maxd)
				abort();
			for (int i = 0; i < n; i++)
				if (digits[i] < '0' || digits[i] > '9')
					abort();
			if (r == FS_OK && !account && !finsec_card_luhn_valid(digits, n))
				abort();
			if (finsec_card_clear_prefix_len(account, n) + 4 > n)
				abort();
		}
	}

	if (finsec_card_is_sealed((const char *) data, size) &&
		finsec_card_token_decode((const char *) data, size, payload, sizeof(payload), &plen) == FS_OK)
	{
		char		text[8 + 4 * (FS_NUMBER_MAX_INPUT / 3 + 1)];
		uint8_t		again[FS_NUMBER_MAX_INPUT];
		size_t		alen,
					tlen;

		if (finsec_card_payload_check(payload, plen) != FS_OK)
			abort();
		memcpy(text, FS_TOKEN_MARK, strlen(FS_TOKEN_MARK));
		tlen = strlen(FS_TOKEN_MARK) + finsec_card_base64url_encode(payload, plen, text + strlen(FS_TOKEN_MARK));
		if (finsec_card_token_decode(text, tlen, again, sizeof(again), &alen) != FS_OK ||
			alen != plen || memcmp(again, payload, plen) != 0)
			abort();
		check_mask((const FsNumberHeader *) payload);
	}
	return 0;
}
