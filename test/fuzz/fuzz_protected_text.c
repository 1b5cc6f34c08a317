// fuzz_protected_text.c -- libFuzzer target for the sealed text form and
// the payload structure check of the protected types (finsec.protected_*
// input and binary receive: value_in / value_from_payload in
// src/protect/value.c).
// sources: src/protect/protect_parse.c src/common/b64url.c src/cnid/cnid_parse.c
//
// Invariants (abort() on violation):
//  - the input as a text form either decodes to a payload that passes the
//    structure check, or is refused; nothing is read outside the input;
//  - a decoded payload re-encodes to the same base64url text (one encoding
//    per payload), and the decoder never writes past its buffer;
//  - the input as raw payload bytes (binary receive): accepted only with a
//    known format, kind, flags and mask, a 30-bit policy id, a well-formed
//    period, a fingerprint exactly when flagged, and the exact length of an
//    identifier kind;
//  - masking an accepted payload's bytes stays within FP_MASK_BOUND.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "finsec_b64url.h"
#include "../../src/protect/protect_parse.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_payload(const uint8_t *p, size_t len)
{
	const FpValueHeader *h = (const FpValueHeader *) p;
	size_t		n;
	size_t		klen;
	char	   *mask;
	size_t		m;

	if (len < FP_VALUE_SIZE(0) || len > FP_MAX_PAYLOAD)
		abort();
	if (h->format != FP_FORMAT_V1 || h->kind > FP_KIND_MAX || (h->flags & ~FP_FLAG_ALL) ||
		h->mask > FP_MASK_MAX || finsec_fp_get_be32(h->policy_id) > FP_POLICY_ID_MAX)
		abort();
	if (!finsec_fp_period_valid(finsec_fp_get_be32(h->period)))
		abort();
	if (!(h->flags & FP_FLAG_HAS_FP))
	{
		if (finsec_fp_get_be32(h->fp_key_id) != 0 || (h->flags & FP_FLAG_FP_PERIOD))
			abort();
		for (int i = 0; i < FP_FP_LEN; i++)
			if (h->fp[i])
				abort();
	}
	else if (finsec_fp_get_be32(h->fp_key_id) == 0)
		abort();
	n = FP_PLAIN_LEN(len);
	klen = finsec_fp_kind_length(h->kind);
	if (klen && n != klen)
		abort();
	/* the ciphertext bytes stand in for a clear value of that length */
	mask = malloc(FP_MASK_BOUND(n));
	if (mask == NULL)
		abort();
	memset(mask, 0x5A, FP_MASK_BOUND(n));
	m = finsec_fp_mask_value(h->kind, h->mask, (const char *) p + FP_HEADER_LEN, n, mask);
	if (m >= FP_MASK_BOUND(n) || mask[m] != '\0' || strlen(mask) != m)
		abort();
	free(mask);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		cap = size * 3 / 4 + 3;
	uint8_t    *out;
	size_t		outlen = 0;
	FpParseResult r;

	if (size > 4 * FP_VALUE_SIZE(4096))
		return 0;

	/* as raw payload bytes (binary receive) */
	if (finsec_fp_payload_check(data, size) == FP_OK)
		check_payload(data, size);

	/* as a text form */
	out = malloc(cap + 1);
	if (out == NULL)
		abort();
	r = finsec_fp_token_decode((const char *) data, size, out, cap, &outlen);
	if (outlen > cap)
		abort();
	if (r == FP_OK)
	{
		long		start = finsec_fp_token_start((const char *) data, size);
		size_t		end = size;
		char	   *enc = malloc(FINSEC_B64URL_ENCODED_LEN(outlen) + 1);
		size_t		e;

		if (start < 0 || enc == NULL)
			abort();
		check_payload(out, outlen);
		while (end > (size_t) start && (data[end - 1] == ' ' || data[end - 1] == '\t' ||
										data[end - 1] == '\n' || data[end - 1] == '\r' ||
										data[end - 1] == '\f' || data[end - 1] == '\v'))
			end--;
		e = finsec_b64url_encode(out, outlen, enc);
		if (e != end - (size_t) start || memcmp(enc, data + start, e) != 0)
			abort();
		free(enc);
	}
	free(out);
	return 0;
}
