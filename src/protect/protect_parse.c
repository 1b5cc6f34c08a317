/*-------------------------------------------------------------------------
 *
 * protect_parse.c
 *	  Structure of protected values, their sealed text form and masks
 *	  (protect_parse.h).
 *
 * No PostgreSQL headers: every function here is total over its input
 * bytes and is fuzzed on its own (test/fuzz/fuzz_protected_*.c).
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "protect_parse.h"
#include "cnid_parse.h"
#include "finsec_b64url.h"

_Static_assert(sizeof(FpValueHeader) == FP_HEADER_LEN, "FpValueHeader has no padding");
_Static_assert(offsetof(FpValueHeader, nonce) == FP_AAD_LEN, "the additional data ends at the nonce");

uint32_t
finsec_fp_get_be32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

void
finsec_fp_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

size_t
finsec_fp_kind_length(int kind)
{
	switch (kind)
	{
		case FP_KIND_RESIDENT_ID:
			return CNID_RESIDENT_ID_LEN;
		case FP_KIND_USCC:
			return CNID_USCC_LEN;
		case FP_KIND_MOBILE:
			return CNID_MOBILE_LEN;
		default:
			return 0;
	}
}

bool
finsec_fp_period_valid(uint32_t period)
{
	uint32_t	month,
				day;

	if (period == 0)
		return true;
	if (period >= 1000 && period <= 9999)
		return true;			/* yyyy */
	if (period >= 100001 && period <= 999912)
	{
		month = period % 100;	/* yyyymm */
		return month >= 1 && month <= 12;
	}
	if (period >= 10000101 && period <= 99991231)
	{
		month = (period / 100) % 100;	/* yyyymmdd */
		day = period % 100;
		return month >= 1 && month <= 12 && day >= 1 && day <= 31;
	}
	return false;
}

FpParseResult
finsec_fp_payload_check(const uint8_t *p, size_t len)
{
	const FpValueHeader *h = (const FpValueHeader *) p;
	size_t		n;
	size_t		klen;

	if (len < FP_VALUE_SIZE(0))
		return FP_ERR_STRUCTURE;
	if (len > FP_MAX_PAYLOAD)
		return FP_ERR_TOO_LONG;
	if (h->format != FP_FORMAT_V1 || h->kind > FP_KIND_MAX ||
		(h->flags & ~FP_FLAG_ALL) != 0 || h->mask > FP_MASK_MAX)
		return FP_ERR_STRUCTURE;
	if (finsec_fp_get_be32(h->policy_id) > FP_POLICY_ID_MAX)
		return FP_ERR_STRUCTURE;
	if (!finsec_fp_period_valid(finsec_fp_get_be32(h->period)))
		return FP_ERR_STRUCTURE;
	if (h->flags & FP_FLAG_HAS_FP)
	{
		if (finsec_fp_get_be32(h->fp_key_id) == 0)
			return FP_ERR_STRUCTURE;
		if ((h->flags & FP_FLAG_FP_PERIOD) && finsec_fp_get_be32(h->period) == 0)
			return FP_ERR_STRUCTURE;
	}
	else
	{
		if ((h->flags & FP_FLAG_FP_PERIOD) || finsec_fp_get_be32(h->fp_key_id) != 0 ||
			finsec_fp_get_be32(h->fp_version) != 0)
			return FP_ERR_STRUCTURE;
		for (int i = 0; i < FP_FP_LEN; i++)
			if (h->fp[i] != 0)
				return FP_ERR_STRUCTURE;
	}
	n = FP_PLAIN_LEN(len);
	klen = finsec_fp_kind_length(h->kind);
	if (klen != 0 && n != klen)
		return FP_ERR_STRUCTURE;
	return FP_OK;
}

long
finsec_fp_token_start(const char *in, size_t len)
{
	if (len < FP_TOKEN_MARK_LEN)
		return -1;
	for (size_t i = len - FP_TOKEN_MARK_LEN + 1; i-- > 0;)
		if (memcmp(in + i, FP_TOKEN_MARK, FP_TOKEN_MARK_LEN) == 0)
			return (long) (i + FP_TOKEN_MARK_LEN);
	return -1;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

FpParseResult
finsec_fp_token_decode(const char *in, size_t len, uint8_t *out, size_t outcap,
					   size_t *outlen)
{
	long		start = finsec_fp_token_start(in, len);
	size_t		end = len;
	size_t		o = 0;

	*outlen = 0;
	if (start < 0)
		return FP_ERR_ENCODING;
	while (end > (size_t) start && is_space(in[end - 1]))
		end--;
	if (end - (size_t) start > FINSEC_B64URL_ENCODED_LEN(FP_MAX_PAYLOAD))
		return FP_ERR_TOO_LONG;
	if (!finsec_b64url_decode(in + start, end - (size_t) start, out, outcap, &o))
		return FP_ERR_ENCODING;
	*outlen = o;
	return finsec_fp_payload_check(out, o);
}

/* ---- masks ----------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (at most len bytes), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t len)
{
	size_t		n;

	if (len == 0 || s[0] == 0)
		return 0;				/* NUL is masked like invalid bytes */
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4;
	else
		return 0;
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	if (n == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0)))
		return 0;
	if (n == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90)))
		return 0;
	return n;
}

/* Advance over one character (an invalid byte counts as one). */
static size_t
char_step(const unsigned char *s, size_t len)
{
	size_t		n = utf8_len(s, len);

	return n == 0 ? 1 : n;
}

/* The first character of s copied to out (invalid UTF-8: '*'); bytes written. */
static size_t
copy_first(const unsigned char *s, size_t len, char *out)
{
	size_t		n = utf8_len(s, len);

	if (n == 0)
	{
		out[0] = '*';
		return 1;
	}
	memcpy(out, s, n);
	return n;
}

/* One '*' per character of s[0..len). */
static size_t
stars(const unsigned char *s, size_t len, char *out)
{
	size_t		o = 0;

	for (size_t i = 0; i < len; i += char_step(s + i, len - i))
		out[o++] = '*';
	return o;
}

/* Copy the character at s (invalid byte or NUL: '*') to out; bytes read. */
static size_t
copy_char(const unsigned char *s, size_t len, char *out, size_t *o)
{
	size_t		n = utf8_len(s, len);

	if (n == 0)
	{
		out[(*o)++] = '*';
		return 1;
	}
	memcpy(out + *o, s, n);
	*o += n;
	return n;
}

/* Copy valid UTF-8 of s[0..len), invalid bytes as '*'. */
static size_t
copy_valid(const unsigned char *s, size_t len, char *out)
{
	size_t		o = 0;

	for (size_t i = 0; i < len;)
		i += copy_char(s + i, len - i, out, &o);
	return o;
}

static size_t
mask_name(const unsigned char *s, size_t len, char *out)
{
	size_t		o;
	size_t		first;

	if (len == 0)
		return 0;
	o = copy_first(s, len, out);
	first = char_step(s, len);
	return o + stars(s + first, len - first, out + o);
}

/* The phone mask: 3 + 4 digits kept, a "+<country code>" prefix kept. */
static size_t
mask_phone(const unsigned char *s, size_t len, char *out)
{
	size_t		nd = 0;
	size_t		d = 0;
	size_t		o = 0;
	size_t		cc_end = 0;		/* end of a "+<country code>" prefix */

	while (cc_end < len && s[cc_end] == ' ')
		cc_end++;
	if (cc_end < len && s[cc_end] == '+')
	{
		cc_end++;
		while (cc_end < len && s[cc_end] >= '0' && s[cc_end] <= '9')
			cc_end++;
	}
	else
		cc_end = 0;
	for (size_t i = cc_end; i < len; i++)
		if (s[i] >= '0' && s[i] <= '9')
			nd++;
	memcpy(out, s, cc_end);		/* the country code is kept */
	o = cc_end;
	for (size_t i = cc_end; i < len;)
	{
		if (s[i] >= '0' && s[i] <= '9')
		{
			bool		keep = nd >= 8 ? (d < 3 || d >= nd - 4) : (nd >= 2 ? d >= nd - 2 : false);

			out[o++] = keep ? (char) s[i] : '*';
			d++;
			i++;
		}
		else if (s[i] == ' ' || s[i] == '-' || s[i] == '+' || s[i] == '(' || s[i] == ')' ||
				 s[i] == '.')
			out[o++] = (char) s[i++];
		else
		{
			/* anything else (a name under a phone mask) shows nothing */
			out[o++] = '*';
			i += char_step(s + i, len - i);
		}
	}
	return o;
}

static bool
at(const unsigned char *s, size_t len, size_t i, const char *u)
{
	size_t		n = strlen(u);

	return i + n <= len && memcmp(s + i, u, n) == 0;
}

static size_t
mask_address(const unsigned char *s, size_t len, char *out)
{
	size_t		cut = 0;
	bool		found = false;
	size_t		o;

	/* The first district-level unit; the 区 of a 自治区 is a province. */
	for (size_t i = 0; i < len && !found; i += char_step(s + i, len - i))
	{
		if ((at(s, len, i, "区") && !(i >= 6 && at(s, len, i - 6, "自治"))) ||
			at(s, len, i, "县") || at(s, len, i, "旗"))
		{
			cut = i + 3;
			found = true;
		}
	}
	for (size_t i = 0; i < len && !found; i += char_step(s + i, len - i))
	{
		if (at(s, len, i, "市"))
		{
			cut = i + 3;
			found = true;
		}
	}
	o = found ? copy_valid(s, cut, out) : 0;
	memcpy(out + o, "****", 4);
	return o + 4;
}

static size_t
mask_email(const unsigned char *s, size_t len, char *out)
{
	size_t		atpos = len;
	size_t		o = 0;

	for (size_t i = len; i-- > 0;)
		if (s[i] == '@')
		{
			atpos = i;
			break;
		}
	if (atpos == len)
	{
		memcpy(out, "****", 4);
		return 4;
	}
	if (atpos > 0)
		o = copy_first(s, atpos, out);
	memcpy(out + o, "***@", 4);
	o += 4;
	return o + copy_valid(s + atpos + 1, len - atpos - 1, out + o);
}

size_t
finsec_fp_mask_text(int mask, const char *str, size_t len, char *out)
{
	const unsigned char *s = (const unsigned char *) str;
	size_t		o;

	switch (mask)
	{
		case FP_MASK_NAME:
			o = mask_name(s, len, out);
			break;
		case FP_MASK_PHONE:
			o = mask_phone(s, len, out);
			break;
		case FP_MASK_ADDRESS:
			o = mask_address(s, len, out);
			break;
		case FP_MASK_EMAIL:
			o = mask_email(s, len, out);
			break;
		default:
			memcpy(out, "****", 4);
			o = 4;
			break;
	}
	out[o] = '\0';
	return o;
}

size_t
finsec_fp_mask_value(int kind, int mask, const char *s, size_t len, char *out)
{
	size_t		klen = finsec_fp_kind_length(kind);

	if (kind == FP_KIND_TEXT)
		return finsec_fp_mask_text(mask, s, len, out);
	if (len != klen)
		return finsec_fp_mask_text(FP_MASK_NONE, s, len, out);
	/* canonical identifiers are digits and upper-case letters only */
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z')))
			return finsec_fp_mask_text(FP_MASK_NONE, s, len, out);
	switch (kind)
	{
		case FP_KIND_RESIDENT_ID:
			finsec_cnid_mask_resident_id(s, out);
			break;
		case FP_KIND_USCC:
			finsec_cnid_mask_uscc(s, out);
			break;
		default:
			finsec_cnid_mask_mobile(s, out);
			break;
	}
	out[klen] = '\0';
	return klen;
}

static const char *const mask_names[] = {"none", "name", "phone", "address", "email"};

int
finsec_fp_mask_code(const char *name)
{
	for (int i = 0; i <= FP_MASK_MAX; i++)
		if (strcmp(name, mask_names[i]) == 0)
			return i;
	return -1;
}

const char *
finsec_fp_mask_name(int code)
{
	return code >= 0 && code <= FP_MASK_MAX ? mask_names[code] : "none";
}

uint32_t
finsec_fp_name_hash32(const char *s, size_t len)
{
	uint32_t	h = 2166136261u;

	for (size_t i = 0; i < len; i++)
	{
		h ^= (unsigned char) s[i];
		h *= 16777619u;
	}
	return h == 0 ? 1 : h;
}
