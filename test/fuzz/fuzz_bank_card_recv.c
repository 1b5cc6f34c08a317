// sources: src/card/card_parse.c src/common/b64url.c
/*
 * Fuzz target: the binary input of bank card and account numbers
 * (finsec.bank_card_recv, bank_account_recv: number_from_payload in
 * src/card/card.c), which takes the payload bytes as they come from the
 * wire, with no text form around them.  fuzz_bank_card reaches payloads
 * only through base64url; this target gives finsec_card_payload_check raw bytes.
 *
 * Invariants checked (abort on violation):
 *  - a payload accepted has exactly the size its digit count implies, a
 *    known format and flags, and clear parts that are ASCII digits;
 *  - its sealed text form decodes to the same bytes;
 *  - masking it never shows more than the clear prefix and last four.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/card/card_parse.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The backend hands the payload over in palloc'd, aligned memory. */
	union
	{
		FsNumberHeader h;
		uint8_t		b[FS_NUMBER_MAX_INPUT + sizeof(FsNumberHeader)];
	}			p;
	char		text[8 + 4 * (sizeof(p) / 3 + 1)];
	uint8_t		again[sizeof(p)];
	char		out[2 * FS_ACCOUNT_MAX_DIGITS + 1];
	size_t		alen,
				tlen;

	if (size > sizeof(p.b))
		return 0;
	memcpy(p.b, data, size);
	if (finsec_card_payload_check(p.b, size) != FS_OK)
		return 0;

	if (size != FS_NUMBER_SIZE(p.h.ndigits) || p.h.format != FS_NUMBER_FORMAT_V1 ||
		(p.h.flags & ~FS_FLAG_ALL) != 0 || p.h.nprefix > 8)
		abort();
	for (int i = 0; i < p.h.nprefix; i++)
		if (p.h.prefix[i] < '0' || p.h.prefix[i] > '9')
			abort();

	memcpy(text, FS_TOKEN_MARK, strlen(FS_TOKEN_MARK));
	tlen = strlen(FS_TOKEN_MARK) + finsec_card_base64url_encode(p.b, size, text + strlen(FS_TOKEN_MARK));
	if (finsec_card_token_decode(text, tlen, again, sizeof(again), &alen) != FS_OK ||
		alen != size || memcmp(again, p.b, size) != 0)
		abort();

	for (int first = 0; first <= 8; first++)
		for (int last = 0; last <= 4; last++)
		{
			int			shown = 0;

			finsec_card_mask(&p.h, first, last, (first + last) % 2, out);
			for (const char *c = out; *c; c++)
				if (*c >= '0' && *c <= '9')
					shown++;
				else if (*c != '*' && *c != ' ')
					abort();
			if (shown > p.h.nprefix + 4 || shown > first + last)
				abort();
		}
	return 0;
}
