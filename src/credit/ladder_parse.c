/*-------------------------------------------------------------------------
 *
 * ladder_parse.c
 *	  Generalisation ladders: step grammar, order rules, transforms
 *	  (ladder_parse.h).
 *
 * No PostgreSQL headers: every function here is total over its input
 * bytes and is fuzzed on its own (test/fuzz/fuzz_credit_ladder.c).
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <string.h>

#include "ladder_parse.h"

/* Largest N of years:N, prefix:N and round:N. */
#define CL_MAX_YEARS	1000
#define CL_MAX_PREFIX	256
#define CL_MAX_ROUND	INT64_C(1000000000000000)	/* 10^15 */

/* Does s[0..len) equal the NUL-terminated word w? */
static bool
word_is(const char *s, size_t len, const char *w)
{
	return strlen(w) == len && memcmp(s, w, len) == 0;
}

/* A positive decimal integer of at most 16 digits, no sign, no leading zero. */
static bool
parse_count(const char *s, size_t len, int64_t *out)
{
	int64_t		v = 0;

	if (len == 0 || len > 16 || s[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* One step of the grammar: a word (*, month, year, decade) or head:argument. */
ClError
finsec_cl_parse_step(const char *s, size_t len, ClStep *out)
{
	const char *colon;
	size_t		head;
	const char *arg;
	size_t		arglen;

	memset(out, 0, sizeof(*out));
	if (s == NULL || len == 0 || len >= CL_STEP_MAXLEN)
		return CL_ERR_UNKNOWN;

	if (word_is(s, len, "*"))
	{
		out->kind = CL_TOP;
		return CL_OK;
	}
	if (word_is(s, len, "month"))
	{
		out->kind = CL_MONTHS;
		out->n = 1;
		return CL_OK;
	}
	if (word_is(s, len, "year"))
	{
		out->kind = CL_MONTHS;
		out->n = 12;
		return CL_OK;
	}
	if (word_is(s, len, "decade"))
	{
		out->kind = CL_MONTHS;
		out->n = 120;
		return CL_OK;
	}

	colon = memchr(s, ':', len);
	if (colon == NULL)
		return CL_ERR_UNKNOWN;
	head = (size_t) (colon - s);
	arg = colon + 1;
	arglen = len - head - 1;

	if (word_is(s, head, "map"))
	{
		if (arglen == 0 || arglen >= CL_MAP_NAMELEN)
			return CL_ERR_MAP_NAME;
		for (size_t i = 0; i < arglen; i++)
		{
			char		c = arg[i];

			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
				return CL_ERR_MAP_NAME;
		}
		out->kind = CL_MAP;
		memcpy(out->map, arg, arglen);
		out->map[arglen] = '\0';
		return CL_OK;
	}
	if (word_is(s, head, "years"))
	{
		if (!parse_count(arg, arglen, &out->n) || out->n > CL_MAX_YEARS)
			return CL_ERR_NUMBER;
		out->kind = CL_MONTHS;
		out->n *= 12;
		return CL_OK;
	}
	if (word_is(s, head, "prefix"))
	{
		if (!parse_count(arg, arglen, &out->n) || out->n > CL_MAX_PREFIX)
			return CL_ERR_NUMBER;
		out->kind = CL_PREFIX;
		return CL_OK;
	}
	if (word_is(s, head, "round"))
	{
		if (!parse_count(arg, arglen, &out->n) || out->n > CL_MAX_ROUND)
			return CL_ERR_NUMBER;
		out->kind = CL_ROUND;
		return CL_OK;
	}
	return CL_ERR_UNKNOWN;
}

/*
 * The order rules: every step is strictly coarser than the one before and
 * nests in it (each band of the coarser step is a union of bands of the
 * finer), so that the levels form a generalisation hierarchy.  Date and
 * number bands are computed from the clear value, so they may not follow
 * a map (whose output is a label) nor a step of another family; a prefix
 * may follow a map (a prefix of the mapped code).
 */
ClError
finsec_cl_check_order(const ClStep *prev, const ClStep *next, bool seen_map)
{
	if (prev != NULL && prev->kind == CL_TOP)
		return CL_ERR_TOP_NOT_LAST;
	if (next->kind == CL_TOP)
		return CL_OK;
	if (next->kind == CL_MAP)
		return CL_OK;
	if (seen_map && next->kind != CL_PREFIX)
		return CL_ERR_FAMILY;
	if (prev == NULL || prev->kind == CL_MAP)
		return CL_OK;
	if (prev->kind != next->kind)
		return CL_ERR_FAMILY;
	switch (next->kind)
	{
		case CL_MONTHS:
		case CL_ROUND:
			if (next->n <= prev->n)
				return CL_ERR_NOT_COARSER;
			if (next->n % prev->n != 0)
				return CL_ERR_NOT_NESTED;
			return CL_OK;
		case CL_PREFIX:
			if (next->n >= prev->n)
				return CL_ERR_NOT_COARSER;
			return CL_OK;
		default:
			return CL_ERR_UNKNOWN;
	}
}

const char *
finsec_cl_error_message(ClError err)
{
	switch (err)
	{
		case CL_OK:
			return "The ladder is valid.";
		case CL_ERR_UNKNOWN:
			return "A step is not one of month, year, years:N, decade, prefix:N, round:N, map:NAME or *.";
		case CL_ERR_NUMBER:
			return "A step's number is missing, not a positive integer without leading zeros, or too large (years at most 1000, prefix at most 256, round at most 10^15).";
		case CL_ERR_MAP_NAME:
			return "A map name must be 1 to 63 characters of a-z, 0-9, _ and .";
		case CL_ERR_NOT_COARSER:
			return "A step is not coarser than the step before it: each level must generalise the previous one.";
		case CL_ERR_NOT_NESTED:
			return "A band does not nest in the band before it: its width must be a multiple of the previous width.";
		case CL_ERR_FAMILY:
			return "A step cannot follow the step before it: date steps, prefixes and number bands do not mix, and only prefixes and maps may follow a map.";
		case CL_ERR_TOP_NOT_LAST:
			return "\"*\" (the value withheld) can only be the last step.";
		case CL_ERR_TOO_MANY:
			return "A ladder has at most 16 steps.";
	}
	return "The ladder is not valid.";
}

/* n digits at s as an integer, or -1. */
static int
digits(const char *s, int n)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Days in a month of the proleptic Gregorian calendar. */
static int
month_days(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return 29;
	return days[month - 1];
}

/* Year and month of yyyy-mm-dd, yyyymmdd or yyyy-mm (a real date), or false. */
static bool
parse_date(const char *v, size_t len, int *year, int *month)
{
	int			y,
				m,
				d = 1;

	if (len == 10 && v[4] == '-' && v[7] == '-')
	{
		y = digits(v, 4);
		m = digits(v + 5, 2);
		d = digits(v + 8, 2);
	}
	else if (len == 8)
	{
		y = digits(v, 4);
		m = digits(v + 4, 2);
		d = digits(v + 6, 2);
	}
	else if (len == 7 && v[4] == '-')
	{
		y = digits(v, 4);
		m = digits(v + 5, 2);
	}
	else
		return false;
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > month_days(y, m))
		return false;
	*year = y;
	*month = m;
	return true;
}

bool
finsec_cl_apply_months(int64_t n, const char *value, size_t len, char *out)
{
	int			year,
				month;

	out[0] = '\0';
	if (value == NULL || n < 1 || !parse_date(value, len, &year, &month))
		return false;
	if (n == 1)
		snprintf(out, CL_OUT_MAXLEN, "%04d-%02d", year, month);
	else if (n == 12)
		snprintf(out, CL_OUT_MAXLEN, "%04d", year);
	else if (n % 12 == 0)
	{
		int64_t		k = n / 12;
		int64_t		start = (year / k) * k;

		snprintf(out, CL_OUT_MAXLEN, "%04lld-%04lld", (long long) start,
				 (long long) (start + k - 1));
	}
	else
	{
		/* bands of n months counted from January of year 0 */
		int64_t		index = ((int64_t) year * 12 + (month - 1)) / n * n;

		snprintf(out, CL_OUT_MAXLEN, "%04lld-%02lld+%lldm", (long long) (index / 12),
				 (long long) (index % 12 + 1), (long long) n);
	}
	return true;
}

/* A number's band [a, a+n): [-]digits[.digits], at most 16 significant digits. */
bool
finsec_cl_apply_round(int64_t n, const char *value, size_t len, char *out)
{
	size_t		i = 0;
	bool		negative = false;
	bool		fraction = false;
	int64_t		whole = 0;
	int64_t		lo;
	int			ndigits = 0;
	bool		seen_digit = false;

	out[0] = '\0';
	if (value == NULL || n < 1 || len == 0)
		return false;
	if (value[0] == '-' || value[0] == '+')
	{
		negative = (value[0] == '-');
		i = 1;
	}
	for (; i < len && value[i] != '.'; i++)
	{
		if (value[i] < '0' || value[i] > '9')
			return false;
		seen_digit = true;
		if (whole == 0 && value[i] == '0')
			continue;			/* leading zeros are not significant */
		if (++ndigits > 16)
			return false;
		whole = whole * 10 + (value[i] - '0');
	}
	if (!seen_digit)
		return false;			/* no digit before the point */
	if (i < len)
	{
		i++;					/* the point */
		if (i == len)
			return false;
		for (; i < len; i++)
		{
			if (value[i] < '0' || value[i] > '9')
				return false;
			if (value[i] != '0')
				fraction = true;
		}
	}
	/* floor(v / n) * n, with v = ±(whole + fraction) */
	if (!negative)
		lo = whole / n * n;
	else
	{
		int64_t		q = whole / n;

		if (whole % n != 0 || fraction)
			q++;
		lo = -q * n;
	}
	snprintf(out, CL_OUT_MAXLEN, "[%lld,%lld)", (long long) lo, (long long) (lo + n));
	return true;
}

size_t
finsec_cl_prefix_bytes(const char *value, size_t len, int64_t n)
{
	size_t		i = 0;
	int64_t		chars = 0;

	if (value == NULL)
		return 0;
	while (i < len && chars < n)
	{
		unsigned char c = (unsigned char) value[i];
		size_t		k = 1;

		if (c >= 0xC2 && c <= 0xDF)
			k = 2;
		else if (c >= 0xE0 && c <= 0xEF)
			k = 3;
		else if (c >= 0xF0 && c <= 0xF4)
			k = 4;
		if (i + k > len)
			k = 1;
		else
			for (size_t j = 1; j < k; j++)
				if (((unsigned char) value[i + j] & 0xC0) != 0x80)
				{
					k = 1;
					break;
				}
		i += k;
		chars++;
	}
	return i;
}
