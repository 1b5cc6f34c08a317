/*-------------------------------------------------------------------------
 *
 * card_parse.c
 *	  Parsing of bank card and account numbers and of their sealed form.
 *
 * No PostgreSQL headers: every function here is total over its input
 * bytes and is fuzzed on its own (test/fuzz/fuzz_bank_card.c).
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "card_parse.h"
#include "finsec_b64url.h"

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool
finsec_card_luhn_valid(const char *digits, int n)
{
	int			sum = 0;

	for (int i = 0; i < n; i++)
	{
		int			d = digits[n - 1 - i] - '0';

		if (i % 2 == 1)
		{
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return n > 0 && sum % 10 == 0;
}

/*
 * Extract the digits of a card or account number: trims spaces, accepts
 * single spaces or hyphens between digit groups, and checks the digit count;
 * badpos names the first offending position.
 */
FsParseResult
finsec_card_number_digits(const char *in, size_t len, bool account, char *out,
						  int *ndigits, int *badpos)
{
	size_t		start = 0,
				end = len;
	int			n = 0;
	int			maxd = account ? FS_ACCOUNT_MAX_DIGITS : FS_CARD_MAX_DIGITS;
	int			mind = account ? FS_ACCOUNT_MIN_DIGITS : FS_CARD_MIN_DIGITS;
	bool		prev_sep = true;	/* no separator first */

	*ndigits = 0;
	*badpos = 0;
	if (len > FS_NUMBER_MAX_INPUT)
		return FS_ERR_TOO_LONG_INPUT;
	while (start < end && is_space(in[start]))
		start++;
	while (end > start && is_space(in[end - 1]))
		end--;
	if (start == end)
		return FS_ERR_EMPTY;

	for (size_t i = start; i < end; i++)
	{
		char		c = in[i];

		if (is_digit(c))
		{
			if (n == maxd)
				return FS_ERR_LENGTH;
			out[n++] = c;
			prev_sep = false;
		}
		else if ((c == ' ' || c == '-') && !prev_sep)
			prev_sep = true;	/* one separator between digits */
		else
		{
			*badpos = (int) (i - start) + 1;
			return FS_ERR_BAD_CHAR;
		}
	}
	if (prev_sep)
	{
		*badpos = (int) (end - start);
		return FS_ERR_BAD_CHAR; /* ends with a separator */
	}
	*ndigits = n;
	if (n < mind)
		return FS_ERR_LENGTH;
	if (!account && !finsec_card_luhn_valid(out, n))
		return FS_ERR_LUHN;
	return FS_OK;
}

int
finsec_card_clear_prefix_len(bool account, int ndigits)
{
	int			p;

	if (!account)
	{
		/*
		 * PCI DSS 3.4.1: at most the first six and the last four.  The first
		 * eight that PCI DSS FAQ 1091 allows for 16+ digit PANs with an
		 * 8-digit BIN are not kept: nothing here knows a BIN's length, and 8
		 * and 4 leave only 4 digits hidden (1,000 Luhn-valid candidates).
		 */
		return 6;
	}
	/* Accounts: never more than 6, and at least half the digits hidden. */
	p = ndigits - 4 - (ndigits + 1) / 2;
	if (p < 0)
		p = 0;
	return p > 6 ? 6 : p;
}

int
finsec_card_legacy_prefix_len(bool account, int ndigits)
{
	/* finsec 0.5 to 0.7 kept 8 leading digits of cards of 16 or more */
	if (!account && ndigits >= 16)
		return 8;
	return finsec_card_clear_prefix_len(account, ndigits);
}

bool
finsec_card_is_sealed(const char *in, size_t len)
{
	size_t		m = strlen(FS_TOKEN_MARK);

	for (size_t i = 0; i + m <= len; i++)
		if (memcmp(in + i, FS_TOKEN_MARK, m) == 0)
			return true;
	return false;
}

size_t
finsec_card_base64url_encode(const uint8_t *in, size_t len, char *out)
{
	return finsec_b64url_encode(in, len, out);
}

FsParseResult
finsec_card_payload_check(const uint8_t *p, size_t len)
{
	const FsNumberHeader *h = (const FsNumberHeader *) p;
	bool		account;
	int			mind,
				maxd;

	if (len < sizeof(FsNumberHeader))
		return FS_ERR_TOKEN_STRUCTURE;
	if (h->format != FS_NUMBER_FORMAT_V1 || (h->flags & ~FS_FLAG_ALL) != 0)
		return FS_ERR_TOKEN_STRUCTURE;
	account = (h->flags & FS_FLAG_ACCOUNT) != 0;
	if (account && (h->flags & FS_FLAG_LENIENT))
		return FS_ERR_TOKEN_STRUCTURE;
	mind = account ? FS_ACCOUNT_MIN_DIGITS : FS_CARD_MIN_DIGITS;
	maxd = account ? FS_ACCOUNT_MAX_DIGITS : FS_CARD_MAX_DIGITS;
	if (h->ndigits < mind || h->ndigits > maxd)
		return FS_ERR_TOKEN_STRUCTURE;
	if (h->nprefix != finsec_card_clear_prefix_len(account, h->ndigits) &&
		h->nprefix != finsec_card_legacy_prefix_len(account, h->ndigits))
		return FS_ERR_TOKEN_STRUCTURE;
	for (int i = 0; i < 8; i++)
		if (!is_digit(h->prefix[i]) || (i >= h->nprefix && h->prefix[i] != '0'))
			return FS_ERR_TOKEN_STRUCTURE;
	for (int i = 0; i < 4; i++)
		if (!is_digit(h->last4[i]))
			return FS_ERR_TOKEN_STRUCTURE;
	if (len != FS_NUMBER_SIZE(h->ndigits))
		return FS_ERR_TOKEN_STRUCTURE;
	return FS_OK;
}

/*
 * Decode the base64 payload that follows the token mark of a tokenized number
 * into out (at most outcap bytes; one encoding per payload), and check it.
 */
FsParseResult
finsec_card_token_decode(const char *in, size_t len, uint8_t *out, size_t outcap, size_t *outlen)
{
	size_t		m = strlen(FS_TOKEN_MARK);
	size_t		start = 0;
	size_t		end = len;
	size_t		o = 0;
	bool		found = false;

	*outlen = 0;
	if (len > FS_NUMBER_MAX_INPUT)
		return FS_ERR_TOO_LONG_INPUT;
	for (size_t i = 0; i + m <= len; i++)
		if (memcmp(in + i, FS_TOKEN_MARK, m) == 0)
		{
			start = i + m;
			found = true;
			break;
		}
	if (!found)
		return FS_ERR_TOKEN_ENCODING;
	while (end > start && is_space(in[end - 1]))
		end--;
	if (!finsec_b64url_decode(in + start, end - start, out, outcap, &o))
		return FS_ERR_TOKEN_ENCODING;
	*outlen = o;
	return finsec_card_payload_check(out, o);
}

void
finsec_card_mask(const FsNumberHeader *h, int keep_first, int keep_last, bool group, char *out)
{
	int			n = h->ndigits;
	int			cap = finsec_card_clear_prefix_len((h->flags & FS_FLAG_ACCOUNT) != 0, n);
	int			first = keep_first < h->nprefix ? keep_first : h->nprefix;
	int			last = keep_last < 4 ? keep_last : 4;
	int			o = 0;

	if (first > cap)
		first = cap;			/* a value written by 0.7 keeps 8 in clear */
	if (first < 0)
		first = 0;
	if (last < 0)
		last = 0;
	if (first + last > n)
		last = n - first;
	for (int i = 0; i < n; i++)
	{
		char		c;

		if (group && i > 0 && i % 4 == 0)
			out[o++] = ' ';
		if (i < first)
			c = h->prefix[i];
		else if (i >= n - last)
			c = h->last4[4 - (n - i)];
		else
			c = '*';
		out[o++] = c;
	}
	out[o] = '\0';
}
