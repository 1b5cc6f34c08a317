/*-------------------------------------------------------------------------
 *
 * cnid_parse.c
 *	  Validation rules of Chinese identifiers, in pure C (cnid_parse.h).
 *
 * Resident ID number, GB 11643-1999 公民身份号码:
 *	  6-digit address code (GB/T 2260), 8-digit birth date YYYYMMDD,
 *	  3-digit sequence code (odd for men, even for women), check character
 *	  by ISO 7064 MOD 11-2 (0-9 or X).
 *
 * Unified social credit code, GB 32100-2015 法人和其他组织统一社会信用代码编码规则:
 *	  18 characters from a 31-character alphabet (digits and capital letters
 *	  without I, O, S, V, Z): registration department (1), organization
 *	  category (2), registration authority's division code (3-8, GB/T 2260,
 *	  digits), subject identifier = organization code per GB 11714 (9-17,
 *	  with its own MOD 11 check at 17), check character MOD 31 (18).
 *
 * Mobile: 11 digits, 1 then 3-9 (the mainland's mobile number plan), with
 *	  an optional +86 / 0086 / 86 country prefix, spaces and hyphens.
 *
 * Nothing here depends on the clock, the locale or the server: what is
 * valid today is valid when a dump is restored.
 *
 *-------------------------------------------------------------------------
 */
#include "cnid_parse.h"

#include <stdio.h>
#include <string.h>

/* The GB 32100 alphabet; a character's value is its index. */
static const char uscc_alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

static bool
is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static void
trim(const char **s, size_t *len)
{
	while (*len > 0 && is_blank((unsigned char) (*s)[0]))
	{
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && is_blank((unsigned char) (*s)[*len - 1]))
		(*len)--;
}

static CnidResult
result(CnidStatus status, size_t pos, size_t count)
{
	CnidResult	r;

	r.status = status;
	r.pos = pos;
	r.count = count;
	return r;
}

/*
 * Province-level codes of GB/T 2260 (the first two digits of an address
 * code), plus 83: 830000 is the address code of residence permits for
 * Taiwan residents (as 810000 and 820000 are for Hong Kong and Macao).
 */
static bool
province_ok(int p)
{
	switch (p / 10)
	{
		case 1:
			return p >= 11 && p <= 15;
		case 2:
			return p >= 21 && p <= 23;
		case 3:
			return p >= 31 && p <= 37;
		case 4:
			return p >= 41 && p <= 46;
		case 5:
			return p >= 50 && p <= 54;
		case 6:
			return p >= 61 && p <= 65;
		case 7:
			return p == 71;
		case 8:
			return p >= 81 && p <= 83;
		default:
			return false;
	}
}

static int
num(const char *s, int n)
{
	int			v = 0;

	while (n-- > 0)
		v = v * 10 + (*s++ - '0');
	return v;
}

static bool
calendar_date(int y, int m, int d)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int			last;

	if (m < 1 || m > 12 || d < 1)
		return false;
	last = mdays[m - 1];
	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		last = 29;
	return d <= last;
}

/* Region and birth date of an 18-digit body (digits already checked). */
static CnidResult
check_region_date(const char *id)
{
	int			y = num(id + 6, 4);

	if (!province_ok(num(id, 2)))
		return result(CNID_BAD_REGION, 1, 0);
	if (!calendar_date(y, num(id + 10, 2), num(id + 12, 2)))
		return result(CNID_BAD_DATE, 7, 0);
	if (y < CNID_MIN_BIRTH_YEAR || y > CNID_MAX_BIRTH_YEAR)
		return result(CNID_DATE_RANGE, 7, 0);
	return result(CNID_OK, 0, 0);
}

/*
 * ISO 7064 MOD 11-2: weights 2^(18-i) mod 11 for positions i = 1..17;
 * the check character is the one that makes the weighted sum of all 18
 * congruent to 1 mod 11, i.e. "10X98765432"[sum mod 11].
 */
char
finsec_cnid_resident_id_check_char(const char digits17[17])
{
	static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
	static const char map[] = "10X98765432";
	int			sum = 0;
	int			i;

	for (i = 0; i < 17; i++)
		sum += (digits17[i] - '0') * weights[i];
	return map[sum % 11];
}

CnidResult
finsec_cnid_parse_resident_id(const char *s, size_t len, char out[CNID_RESIDENT_ID_LEN])
{
	CnidResult	r;
	size_t		i;

	trim(&s, &len);
	if (len == 0)
		return result(CNID_EMPTY, 0, 0);
	/* Only digits; X (either case) only last. */
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (is_digit(c) || ((c == 'X' || c == 'x') && i == len - 1))
			continue;
		return result(CNID_BAD_CHAR, i + 1, 0);
	}
	if (len == CNID_RESIDENT_ID15_LEN && is_digit((unsigned char) s[len - 1]))
		return result(CNID_LEGACY_15, 0, len);
	if (len != CNID_RESIDENT_ID_LEN)
		return result(CNID_BAD_LENGTH, 0, len);

	memcpy(out, s, CNID_RESIDENT_ID_LEN);
	if (out[17] == 'x')
		out[17] = 'X';
	r = check_region_date(out);
	if (r.status != CNID_OK)
		return r;
	if (finsec_cnid_resident_id_check_char(out) != out[17])
		return result(CNID_BAD_CHECK, 18, 0);
	return result(CNID_OK, 0, 0);
}

CnidResult
finsec_cnid_parse_resident_id_15(const char *s, size_t len, char out[CNID_RESIDENT_ID_LEN])
{
	CnidResult	r;
	size_t		i;

	trim(&s, &len);
	if (len == 0)
		return result(CNID_EMPTY, 0, 0);
	for (i = 0; i < len; i++)
		if (!is_digit((unsigned char) s[i]))
			return result(CNID_BAD_CHAR, i + 1, 0);
	if (len != CNID_RESIDENT_ID15_LEN)
		return result(CNID_BAD_LENGTH, 0, len);

	/*
	 * Address code, then the century (all were born in the 1900s), YYMMDD and
	 * sequence.
	 */
	memcpy(out, s, 6);
	out[6] = '1';
	out[7] = '9';
	memcpy(out + 8, s + 6, 9);
	r = check_region_date(out);
	if (r.status != CNID_OK)
	{
		r.pos = r.status == CNID_BAD_REGION ? 1 : 7;
		return r;
	}
	out[17] = finsec_cnid_resident_id_check_char(out);
	return result(CNID_OK, 0, 0);
}

/* Value of a character in the GB 32100 alphabet, or -1. */
static int
uscc_value(unsigned char c)
{
	const char *p;

	if (c >= 'a' && c <= 'z')
		c = (unsigned char) (c - 'a' + 'A');
	if (c == '\0')
		return -1;
	p = strchr(uscc_alphabet, c);
	return p ? (int) (p - uscc_alphabet) : -1;
}

/* GB 32100 weights: 3^(i-1) mod 31; the check makes the sum 0 mod 31. */
char
finsec_cnid_uscc_check_char(const char code17[17])
{
	static const int weights[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
	int			sum = 0;
	int			i;

	for (i = 0; i < 17; i++)
		sum += uscc_value((unsigned char) code17[i]) * weights[i];
	return uscc_alphabet[(31 - sum % 31) % 31];
}

/*
 * GB 11714 organization code: 8 characters (digits 0-9, letters A-Z
 * valued 10-35), weights 3 7 9 10 5 8 4 2, check = 11 - sum mod 11,
 * with 10 written X and 11 written 0.
 */
char
finsec_cnid_org_code_check_char(const char code8[8])
{
	static const int weights[8] = {3, 7, 9, 10, 5, 8, 4, 2};
	int			sum = 0;
	int			i;
	int			c;

	for (i = 0; i < 8; i++)
	{
		unsigned char ch = (unsigned char) code8[i];
		int			v = is_digit(ch) ? ch - '0' : ch - 'A' + 10;

		sum += v * weights[i];
	}
	c = 11 - sum % 11;
	if (c == 10)
		return 'X';
	if (c == 11)
		return '0';
	return (char) ('0' + c);
}

CnidResult
finsec_cnid_parse_uscc(const char *s, size_t len, char out[CNID_USCC_LEN])
{
	size_t		i;

	trim(&s, &len);
	if (len == 0)
		return result(CNID_EMPTY, 0, 0);
	for (i = 0; i < len; i++)
		if (uscc_value((unsigned char) s[i]) < 0)
			return result(CNID_BAD_CHAR, i + 1, 0);
	if (len != CNID_USCC_LEN)
		return result(CNID_BAD_LENGTH, 0, len);

	for (i = 0; i < CNID_USCC_LEN; i++)
		out[i] = uscc_alphabet[uscc_value((unsigned char) s[i])];
	for (i = 2; i < 8; i++)
		if (!is_digit((unsigned char) out[i]))
			return result(CNID_BAD_DIVISION, i + 1, 0);
	if (finsec_cnid_uscc_check_char(out) != out[17])
		return result(CNID_BAD_CHECK, 18, 0);
	if (finsec_cnid_org_code_check_char(out + 8) != out[16])
		return result(CNID_BAD_ORG_CHECK, 17, 0);
	return result(CNID_OK, 0, 0);
}

/*
 * Mobile numbers: a leading '+', digits, and spaces or hyphens anywhere
 * after the first character (they are dropped).  A country prefix +86,
 * 0086, or 86 before 11 further digits, is dropped; any other
 * international prefix (+ or 00) is refused.
 */
CnidResult
finsec_cnid_parse_mobile(const char *s, size_t len, char out[CNID_MOBILE_LEN])
{
	char		digits[CNID_MOBILE_LEN + 4];
	size_t		n = 0;			/* digits seen */
	size_t		i;
	size_t		skip;
	bool		plus = false;

	trim(&s, &len);
	if (len == 0)
		return result(CNID_EMPTY, 0, 0);
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (is_digit(c))
		{
			if (n < sizeof(digits))
				digits[n] = (char) c;
			n++;
		}
		else if (c == '+' && i == 0)
			plus = true;
		else if ((c == ' ' || c == '-') && i > 0)
			continue;
		else
			return result(CNID_BAD_CHAR, i + 1, 0);
	}
	if (n == 0)
		return result(CNID_BAD_LENGTH, 0, 0);

	skip = 0;
	if (plus)
	{
		if (n < 2 || digits[0] != '8' || digits[1] != '6')
			return result(CNID_BAD_COUNTRY, 0, 0);
		skip = 2;
	}
	else if (n >= 2 && digits[0] == '0' && digits[1] == '0')
	{
		if (n < 4 || digits[2] != '8' || digits[3] != '6')
			return result(CNID_BAD_COUNTRY, 0, 0);
		skip = 4;
	}
	else if (n == CNID_MOBILE_LEN + 2 && digits[0] == '8' && digits[1] == '6')
		skip = 2;

	if (n - skip != CNID_MOBILE_LEN)
		return result(CNID_BAD_LENGTH, 0, n - skip);
	memcpy(out, digits + skip, CNID_MOBILE_LEN);
	if (out[0] != '1' || out[1] < '3')
		return result(CNID_BAD_PREFIX, 0, 0);
	return result(CNID_OK, 0, 0);
}

int64_t
finsec_cnid_resident_id_pack(const char id[CNID_RESIDENT_ID_LEN])
{
	int64_t		v = 0;
	int			i;

	for (i = 0; i < 17; i++)
		v = v * 10 + (id[i] - '0');
	return v;
}

bool
finsec_cnid_resident_id_unpack(int64_t v, char out[CNID_RESIDENT_ID_LEN])
{
	int			i;

	if (v < 0 || v >= INT64_C(100000000000000000))	/* 10^17 */
		return false;
	for (i = 16; i >= 0; i--)
	{
		out[i] = (char) ('0' + v % 10);
		v /= 10;
	}
	out[17] = finsec_cnid_resident_id_check_char(out);
	return true;
}

int64_t
finsec_cnid_mobile_pack(const char m[CNID_MOBILE_LEN])
{
	int64_t		v = 0;
	int			i;

	for (i = 0; i < CNID_MOBILE_LEN; i++)
		v = v * 10 + (m[i] - '0');
	return v;
}

bool
finsec_cnid_mobile_unpack(int64_t v, char out[CNID_MOBILE_LEN])
{
	int			i;

	if (v < INT64_C(13000000000) || v > INT64_C(19999999999))
		return false;
	for (i = CNID_MOBILE_LEN - 1; i >= 0; i--)
	{
		out[i] = (char) ('0' + v % 10);
		v /= 10;
	}
	return true;
}

void
finsec_cnid_resident_id_birth(const char id[CNID_RESIDENT_ID_LEN], int *year, int *month, int *day)
{
	*year = num(id + 6, 4);
	*month = num(id + 10, 2);
	*day = num(id + 12, 2);
}

bool
finsec_cnid_resident_id_is_male(const char id[CNID_RESIDENT_ID_LEN])
{
	return (id[16] - '0') % 2 == 1;
}

static void
mask(const char *in, char *out, size_t len, size_t keep_head, size_t keep_tail)
{
	size_t		i;

	for (i = 0; i < len; i++)
		out[i] = (i < keep_head || i >= len - keep_tail) ? in[i] : '*';
}

void
finsec_cnid_mask_resident_id(const char id[CNID_RESIDENT_ID_LEN], char out[CNID_RESIDENT_ID_LEN])
{
	mask(id, out, CNID_RESIDENT_ID_LEN, 6, 4);
}

void
finsec_cnid_mask_uscc(const char code[CNID_USCC_LEN], char out[CNID_USCC_LEN])
{
	mask(code, out, CNID_USCC_LEN, 8, 2);
}

void
finsec_cnid_mask_mobile(const char m[CNID_MOBILE_LEN], char out[CNID_MOBILE_LEN])
{
	mask(m, out, CNID_MOBILE_LEN, 3, 4);
}

/* ---- problem texts ------------------------------------------------------ */

/*
 * The sentence for a result, a whole format string (PostgreSQL's message
 * style: no sentence is assembled from words): it receives the position
 * or the count found (%zu) and, for lengths, the length expected (%zu).
 */
static const char *
problem_format(CnidKind kind, CnidStatus status)
{
	switch (status)
	{
		case CNID_OK:
			return "";
		case CNID_EMPTY:
			return "the value is empty";
		case CNID_BAD_CHAR:
			switch (kind)
			{
				case CNID_RESIDENT_ID:
					return "character %zu is not a digit (only the last character may be X)";
				case CNID_RESIDENT_ID_15:
					return "character %zu is not a digit";
				case CNID_USCC:
					return "character %zu is not in the code's alphabet (digits and capital letters other than I, O, S, V, Z)";
				case CNID_MOBILE:
					return "character %zu is not a digit, space or hyphen (or a leading +)";
			}
			break;
		case CNID_BAD_LENGTH:
			return kind == CNID_MOBILE
				? "has %zu digits, not %zu (a country code not counted)"
				: "length is %zu characters, not %zu";
		case CNID_LEGACY_15:
			return "15-digit first-generation number, not the 18-character form";
		case CNID_BAD_REGION:
			return "characters 1-2 are not a province-level region code (GB/T 2260)";
		case CNID_BAD_DATE:
			return kind == CNID_RESIDENT_ID_15
				? "characters 7-12 are not a birth date (YYMMDD)"
				: "characters 7-14 are not a birth date (YYYYMMDD)";
		case CNID_DATE_RANGE:
			return "birth year is outside 1800-2099";
		case CNID_FUTURE_DATE:
			return "birth date is after the reference date";
		case CNID_BAD_CHECK:
			return kind == CNID_USCC
				? "check character (character 18) does not match characters 1-17 (GB 32100)"
				: "check character (character 18) does not match characters 1-17 (ISO 7064 MOD 11-2)";
		case CNID_BAD_DIVISION:
			return "character %zu is not a digit (characters 3-8 are the administrative division code)";
		case CNID_BAD_ORG_CHECK:
			return "character 17 does not match the organization code's check (GB 11714)";
		case CNID_BAD_COUNTRY:
			return "international prefix is not +86 (mainland China)";
		case CNID_BAD_PREFIX:
			return "does not begin with 13-19 (mainland mobile numbers)";
	}
	return "";
}

/*
 * Write into buf a sentence that explains a validation result of a Chinese
 * identifier (what was wrong and where); returns the length it needed.
 */
size_t
finsec_cnid_problem_text(CnidKind kind, CnidResult r, char *buf, size_t cap)
{
	size_t		expect = kind == CNID_MOBILE ? CNID_MOBILE_LEN
	: kind == CNID_RESIDENT_ID_15 ? CNID_RESIDENT_ID15_LEN : CNID_RESIDENT_ID_LEN;
	size_t		found = r.status == CNID_BAD_LENGTH ? r.count : r.pos;
	char		dummy[1];
	int			n;

	if (cap == 0)
	{
		buf = dummy;
		cap = sizeof(dummy);
	}
	/* Formats without conversions ignore the arguments, as C allows. */
	n = snprintf(buf, cap, problem_format(kind, r.status), found, expect);
	return n < 0 ? 0 : (size_t) n;
}

const char *
finsec_cnid_problem_hint(CnidKind kind, CnidResult r)
{
	if (kind == CNID_RESIDENT_ID && r.status == CNID_LEGACY_15)
		return "Convert first-generation numbers with finsec.cn_resident_id_from_15().";
	if (kind == CNID_RESIDENT_ID_15 && r.status == CNID_BAD_LENGTH && r.count == CNID_RESIDENT_ID_LEN)
		return "An 18-character number is already in the current form: cast it to finsec.cn_resident_id.";
	if (kind == CNID_USCC && r.status == CNID_BAD_LENGTH && (r.count == 9 || r.count == 15))
		return "A 9-character organization code or a 15-digit business registration number is not a unified social credit code.";
	if (kind == CNID_MOBILE && r.status == CNID_BAD_PREFIX)
		return "Landline and non-mainland numbers are not accepted by finsec.cn_mobile.";
	return NULL;
}
