/*-------------------------------------------------------------------------
 *
 * money_parse.c
 *	  ISO 4217 currency table; text and binary forms of finsec.money.
 *
 * Plain C (no PostgreSQL headers, no allocation, no global state other
 * than a lookup index built on first use) so that a libFuzzer target can
 * link this file alone.  Every function is total: any byte string gives
 * either a value or a status.
 *
 * Text form accepted (docs/money.md), after trimming ASCII white space:
 *
 *	 CNY 12.34     CNY12.34     CNY -12.34    CNY +12.34
 *	 12.34 CNY     12.34CNY     -12.34 CNY
 *	 ¥12.34  ¥ 12.34  ¥-12.34  -¥12.34     (U+00A5 and fullwidth U+FFE5:
 *											 CNY, per GB usage of the sign)
 *
 * The amount is digits with an optional fraction of at most the
 * currency's exponent digits: more is an error, never rounded.  Codes are
 * three upper-case letters from the table.  No grouping separators, no
 * exponent notation, no locale.
 *
 *-------------------------------------------------------------------------
 */
#include "money_parse.h"

#include <string.h>

/*
 * ISO 4217 list one, currencies and funds with minor units (the "N.A."
 * entries -- precious metals, XDR, XSU, XUA, XTS, XXX -- have no exact minor
 * unit and are left out).  Alphabetic order: lookups by code bisect it, and
 * finsec.money sorts by it.  The table is part of the storage format: a
 * stored value records its numeric code and exponent, and recv refuses a
 * value whose exponent disagrees with this table.
 */
static const fm_currency currencies[] = {
	{"AED", 784, 2}, {"AFN", 971, 2}, {"ALL", 8, 2}, {"AMD", 51, 2},
	{"ANG", 532, 2}, {"AOA", 973, 2}, {"ARS", 32, 2}, {"AUD", 36, 2},
	{"AWG", 533, 2}, {"AZN", 944, 2}, {"BAM", 977, 2}, {"BBD", 52, 2},
	{"BDT", 50, 2}, {"BGN", 975, 2}, {"BHD", 48, 3}, {"BIF", 108, 0},
	{"BMD", 60, 2}, {"BND", 96, 2}, {"BOB", 68, 2}, {"BOV", 984, 2},
	{"BRL", 986, 2}, {"BSD", 44, 2}, {"BTN", 64, 2}, {"BWP", 72, 2},
	{"BYN", 933, 2}, {"BZD", 84, 2}, {"CAD", 124, 2}, {"CDF", 976, 2},
	{"CHE", 947, 2}, {"CHF", 756, 2}, {"CHW", 948, 2}, {"CLF", 990, 4},
	{"CLP", 152, 0}, {"CNY", 156, 2}, {"COP", 170, 2}, {"COU", 970, 2},
	{"CRC", 188, 2}, {"CUC", 931, 2}, {"CUP", 192, 2}, {"CVE", 132, 2},
	{"CZK", 203, 2}, {"DJF", 262, 0}, {"DKK", 208, 2}, {"DOP", 214, 2},
	{"DZD", 12, 2}, {"EGP", 818, 2}, {"ERN", 232, 2}, {"ETB", 230, 2},
	{"EUR", 978, 2}, {"FJD", 242, 2}, {"FKP", 238, 2}, {"GBP", 826, 2},
	{"GEL", 981, 2}, {"GHS", 936, 2}, {"GIP", 292, 2}, {"GMD", 270, 2},
	{"GNF", 324, 0}, {"GTQ", 320, 2}, {"GYD", 328, 2}, {"HKD", 344, 2},
	{"HNL", 340, 2}, {"HTG", 332, 2}, {"HUF", 348, 2}, {"IDR", 360, 2},
	{"ILS", 376, 2}, {"INR", 356, 2}, {"IQD", 368, 3}, {"IRR", 364, 2},
	{"ISK", 352, 0}, {"JMD", 388, 2}, {"JOD", 400, 3}, {"JPY", 392, 0},
	{"KES", 404, 2}, {"KGS", 417, 2}, {"KHR", 116, 2}, {"KMF", 174, 0},
	{"KPW", 408, 2}, {"KRW", 410, 0}, {"KWD", 414, 3}, {"KYD", 136, 2},
	{"KZT", 398, 2}, {"LAK", 418, 2}, {"LBP", 422, 2}, {"LKR", 144, 2},
	{"LRD", 430, 2}, {"LSL", 426, 2}, {"LYD", 434, 3}, {"MAD", 504, 2},
	{"MDL", 498, 2}, {"MGA", 969, 2}, {"MKD", 807, 2}, {"MMK", 104, 2},
	{"MNT", 496, 2}, {"MOP", 446, 2}, {"MRU", 929, 2}, {"MUR", 480, 2},
	{"MVR", 462, 2}, {"MWK", 454, 2}, {"MXN", 484, 2}, {"MXV", 979, 2},
	{"MYR", 458, 2}, {"MZN", 943, 2}, {"NAD", 516, 2}, {"NGN", 566, 2},
	{"NIO", 558, 2}, {"NOK", 578, 2}, {"NPR", 524, 2}, {"NZD", 554, 2},
	{"OMR", 512, 3}, {"PAB", 590, 2}, {"PEN", 604, 2}, {"PGK", 598, 2},
	{"PHP", 608, 2}, {"PKR", 586, 2}, {"PLN", 985, 2}, {"PYG", 600, 0},
	{"QAR", 634, 2}, {"RON", 946, 2}, {"RSD", 941, 2}, {"RUB", 643, 2},
	{"RWF", 646, 0}, {"SAR", 682, 2}, {"SBD", 90, 2}, {"SCR", 690, 2},
	{"SDG", 938, 2}, {"SEK", 752, 2}, {"SGD", 702, 2}, {"SHP", 654, 2},
	{"SLE", 925, 2}, {"SLL", 694, 2}, {"SOS", 706, 2}, {"SRD", 968, 2},
	{"SSP", 728, 2}, {"STN", 930, 2}, {"SVC", 222, 2}, {"SYP", 760, 2},
	{"SZL", 748, 2}, {"THB", 764, 2}, {"TJS", 972, 2}, {"TMT", 934, 2},
	{"TND", 788, 3}, {"TOP", 776, 2}, {"TRY", 949, 2}, {"TTD", 780, 2},
	{"TWD", 901, 2}, {"TZS", 834, 2}, {"UAH", 980, 2}, {"UGX", 800, 0},
	{"USD", 840, 2}, {"USN", 997, 2}, {"UYI", 940, 0}, {"UYU", 858, 2},
	{"UYW", 927, 4}, {"UZS", 860, 2}, {"VED", 926, 2}, {"VES", 928, 2},
	{"VND", 704, 0}, {"VUV", 548, 0}, {"WST", 882, 2}, {"XAF", 950, 0},
	{"XCD", 951, 2}, {"XOF", 952, 0}, {"XPF", 953, 0}, {"YER", 886, 2},
	{"ZAR", 710, 2}, {"ZMW", 967, 2}, {"ZWG", 924, 2}, {"ZWL", 932, 2},
};

#define NCURRENCIES (sizeof(currencies) / sizeof(currencies[0]))

/* Numeric code -> table index + 1 (0: none); built on first use. */
static uint8_t by_numeric[1000];
static bool by_numeric_ready = false;

size_t
finsec_money_currency_count(void)
{
	return NCURRENCIES;
}

const fm_currency *
finsec_money_currency_at(size_t i)
{
	return i < NCURRENCIES ? &currencies[i] : NULL;
}

const fm_currency *
finsec_money_currency_by_code(const char *s, size_t len)
{
	size_t		lo = 0,
				hi = NCURRENCIES;

	if (s == NULL || len != 3)
		return NULL;
	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;
		int			c = memcmp(s, currencies[mid].code, 3);

		if (c == 0)
			return &currencies[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const fm_currency *
finsec_money_currency_by_numeric(unsigned numeric)
{
	if (!by_numeric_ready)
	{
		for (size_t i = 0; i < NCURRENCIES; i++)
			by_numeric[currencies[i].numeric] = (uint8_t) (i + 1);
		by_numeric_ready = true;
	}
	if (numeric >= 1000 || by_numeric[numeric] == 0)
		return NULL;
	return &currencies[by_numeric[numeric] - 1];
}

/* ---- text form ---------------------------------------------------------- */

static bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool
is_letter(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Length of a yuan sign (U+00A5 or U+FFE5 in UTF-8) at s, or 0. */
static size_t
yuan_sign(const unsigned char *s, size_t len)
{
	if (len >= 2 && s[0] == 0xC2 && s[1] == 0xA5)
		return 2;
	if (len >= 3 && s[0] == 0xEF && s[1] == 0xBF && s[2] == 0xA5)
		return 3;
	return 0;
}

/*
 * A currency code token at s: exactly three letters not followed by a
 * letter.  Returns FM_OK with *cur set, FM_UNKNOWN_CURRENCY (letters copied
 * to info), or FM_SYNTAX when s does not start with such a token.
 */
static fm_status
code_token(const unsigned char *s, size_t len, const fm_currency **cur,
		   fm_parse_info *info)
{
	if (len < 3 || !is_letter(s[0]) || !is_letter(s[1]) || !is_letter(s[2]) ||
		(len > 3 && is_letter(s[3])))
		return FM_SYNTAX;
	*cur = finsec_money_currency_by_code((const char *) s, 3);
	if (*cur == NULL)
	{
		memcpy(info->code, s, 3);
		info->code[3] = '\0';
		return FM_UNKNOWN_CURRENCY;
	}
	return FM_OK;
}

/*
 * Parse the text form of a money amount (currency code, sign, digits,
 * decimal separator) into minor units of its currency; info says what was
 * found, for the caller's messages.
 */
fm_status
finsec_money_parse(const char *str, size_t len, fm_value *out, fm_parse_info *info)
{
	const unsigned char *s = (const unsigned char *) str;
	fm_parse_info dummy;
	const fm_currency *cur = NULL;
	size_t		p = 0,
				n;
	bool		neg = false,
				signed_ = false;
	size_t		int_start,
				int_len,
				frac_start = 0,
				frac_len = 0;
	uint64_t	mag = 0;
	fm_status	st;

	if (info == NULL)
		info = &dummy;
	info->cur = NULL;
	info->code[0] = '\0';
	if (s == NULL)
		return FM_EMPTY;

	/* trim */
	while (len > 0 && is_space(s[len - 1]))
		len--;
	while (p < len && is_space(s[p]))
		p++;
	if (p == len)
		return FM_EMPTY;

	/* a sign may precede the yuan sign ("-¥12.34"), not a code */
	if ((s[p] == '-' || s[p] == '+') && yuan_sign(s + p + 1, len - p - 1) > 0)
	{
		neg = s[p] == '-';
		signed_ = true;
		p++;
	}

	/* prefix: yuan sign or code */
	if ((n = yuan_sign(s + p, len - p)) > 0)
	{
		cur = finsec_money_currency_by_code("CNY", 3);
		p += n;
	}
	else if (is_letter(s[p]))
	{
		st = code_token(s + p, len - p, &cur, info);
		if (st != FM_OK)
			return st;
		p += 3;
	}
	info->cur = cur;
	while (p < len && is_space(s[p]))
		p++;

	/* amount */
	if (p < len && (s[p] == '-' || s[p] == '+'))
	{
		if (signed_)
			return FM_SYNTAX;
		neg = s[p] == '-';
		p++;
	}
	int_start = p;
	while (p < len && is_digit(s[p]))
		p++;
	int_len = p - int_start;
	if (int_len == 0)
		return FM_SYNTAX;
	if (p < len && s[p] == '.')
	{
		p++;
		frac_start = p;
		while (p < len && is_digit(s[p]))
			p++;
		frac_len = p - frac_start;
		if (frac_len == 0)
			return FM_SYNTAX;
	}

	/* suffix: a code, after optional white space */
	while (p < len && is_space(s[p]))
		p++;
	if (p < len)
	{
		const fm_currency *suffix;

		if (yuan_sign(s + p, len - p) > 0)
			return cur != NULL ? FM_TWO_CURRENCIES : FM_SYNTAX;
		st = code_token(s + p, len - p, &suffix, info);
		if (st == FM_OK && cur != NULL)
			return FM_TWO_CURRENCIES;
		if (st != FM_OK)
			return st;
		cur = suffix;
		info->cur = cur;
		p += 3;
		if (p != len)
			return FM_SYNTAX;
	}
	if (cur == NULL)
		return FM_NO_CURRENCY;

	if (frac_len > cur->exponent)
		return FM_TOO_MANY_DECIMALS;

	/* digits -> minor units, refusing anything above FM_UNITS_MAX */
	for (size_t i = 0; i < int_len + cur->exponent; i++)
	{
		unsigned	d;

		if (i < int_len)
			d = s[int_start + i] - '0';
		else if (i - int_len < frac_len)
			d = s[frac_start + (i - int_len)] - '0';
		else
			d = 0;
		if (mag > (FM_UNITS_MAX - d) / 10)
			return FM_OUT_OF_RANGE;
		mag = mag * 10 + d;
	}
	out->units = neg ? -(int64_t) mag : (int64_t) mag;
	out->cur = cur;
	return FM_OK;
}

size_t
finsec_money_format(const fm_value *v, char buf[FM_TEXT_MAX])
{
	char		digits[24];
	size_t		nd = 0,
				p = 0;
	uint64_t	mag;
	unsigned	exp = v->cur->exponent;

	mag = v->units < 0 ? (uint64_t) 0 - (uint64_t) v->units : (uint64_t) v->units;
	do
	{
		digits[nd++] = (char) ('0' + mag % 10);
		mag /= 10;
	} while (mag > 0);
	/* at least one integer digit before the fraction */
	while (nd < exp + 1)
		digits[nd++] = '0';

	memcpy(buf, v->cur->code, 3);
	buf[3] = ' ';
	p = 4;
	if (v->units < 0)
		buf[p++] = '-';
	while (nd > 0)
	{
		if (nd == exp && exp > 0)
			buf[p++] = '.';
		buf[p++] = digits[--nd];
	}
	buf[p] = '\0';
	return p;
}

/* ---- binary form ---------------------------------------------------------- */

void
finsec_money_encode(const fm_value *v, unsigned char buf[FM_BINARY_LEN])
{
	uint64_t	u = (uint64_t) v->units;

	for (int i = 7; i >= 0; i--)
	{
		buf[i] = (unsigned char) (u & 0xFF);
		u >>= 8;
	}
	memcpy(buf + 8, v->cur->code, 3);
	buf[11] = v->cur->exponent;
}

fm_status
finsec_money_decode(const unsigned char *buf, size_t len, fm_value *out)
{
	uint64_t	u = 0;
	const fm_currency *cur;

	if (buf == NULL || len != FM_BINARY_LEN)
		return FM_BAD_LENGTH;
	for (int i = 0; i < 8; i++)
		u = (u << 8) | buf[i];
	if (u == (uint64_t) 1 << 63)
		return FM_OUT_OF_RANGE;
	cur = finsec_money_currency_by_code((const char *) buf + 8, 3);
	if (cur == NULL)
		return FM_UNKNOWN_CURRENCY;
	if (buf[11] != cur->exponent)
		return FM_BAD_EXPONENT;
	out->units = (int64_t) u;
	out->cur = cur;
	return FM_OK;
}
