/*-------------------------------------------------------------------------
 *
 * payment.c
 *	  The payment MAC: a MAC over the key elements of a payment message
 *	  (JR/T 0096.5 4.4.3: merchant code, order number, order date-time,
 *	  amount), in a canonical encoding any language can reproduce.
 *
 * Encoding version 1 (docs/mac.md has a worked example):
 *
 *	 "FSPM" 0x01, then for each field in order -- merchant code, order
 *	 number, order time, amount, currency, then each extra element -- its
 *	 length in bytes as a 4-byte big-endian unsigned integer followed by its
 *	 UTF-8 bytes, where
 *	   order time  is UTC, YYYYMMDDhhmmss, followed by .ffffff only when
 *	               the microseconds are not zero;
 *	   amount      is the plain decimal without exponent, leading zeros,
 *	               trailing fractional zeros or a trailing point ("12.3",
 *	               "100", "0", "-5.01");
 *	   currency    is the ISO 4217 letter code in capitals.
 *
 * Length prefixes make the encoding injective: no two different sets of
 * elements encode to the same bytes, whatever characters they contain.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "pgtime.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "finsec.h"
#include "finsec_mac.h"

#define PAYMENT_MAC_MAGIC "FSPM\001"
#define PAYMENT_FIELD_MAX (64 * 1024)

static void
append_field(StringInfo buf, const char *what, const char *value, size_t len)
{
	unsigned char prefix[4];
	char	   *utf8;

	if (len > PAYMENT_FIELD_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s is longer than %d bytes", what, PAYMENT_FIELD_MAX)));
	/* Returns its input, not NUL-terminated, when no conversion is needed. */
	utf8 = pg_server_to_any(value, (int) len, PG_UTF8);
	if (utf8 != value)
		len = strlen(utf8);

	/*
	 * The limit is on the encoded field: UTF-8 can be longer (EUC_CN 2 bytes,
	 * UTF-8 3).
	 */
	if (len > PAYMENT_FIELD_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s is longer than %d bytes", what, PAYMENT_FIELD_MAX),
				 errdetail("It is %zu bytes in UTF-8, the encoding the payment MAC covers.", len)));
	prefix[0] = (unsigned char) (len >> 24);
	prefix[1] = (unsigned char) (len >> 16);
	prefix[2] = (unsigned char) (len >> 8);
	prefix[3] = (unsigned char) len;
	appendBinaryStringInfo(buf, (char *) prefix, 4);
	appendBinaryStringInfo(buf, utf8, (int) len);
}

static void
append_text_arg(StringInfo buf, FunctionCallInfo fcinfo, int argno, const char *what)
{
	text	   *t;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	t = PG_GETARG_TEXT_PP(argno);
	if (VARSIZE_ANY_EXHDR(t) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what)));
	append_field(buf, what, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

/* The canonical decimal of a finite numeric. */
static char *
canonical_amount(Numeric num)
{
	char	   *s;
	char	   *dot;
	size_t		len;

	if (numeric_is_nan(num) || numeric_is_inf(num))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a payment amount must be a finite number")));
	s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	dot = strchr(s, '.');
	if (dot != NULL)
	{
		len = strlen(s);
		while (len > 0 && s[len - 1] == '0')
			s[--len] = '\0';
		if (s[len - 1] == '.')
			s[--len] = '\0';
	}
	if (strcmp(s, "-0") == 0)
		return pstrdup("0");
	return s;
}

static char *
canonical_time(TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(ts) ||
		timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("a payment order time must be a finite timestamp")));
	if (tm.tm_year < 1 || tm.tm_year > 9999)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("a payment order time must fall in the years 1 to 9999")));
	if (fsec != 0)
		return psprintf("%04d%02d%02d%02d%02d%02d.%06d", tm.tm_year, tm.tm_mon, tm.tm_mday,
						tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
	return psprintf("%04d%02d%02d%02d%02d%02d", tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * The canonical bytes of the payment elements: arguments first..first+3
 * are merchant_code, order_no, order_time, amount; currency and extra
 * (text[]) are at arguments cur_arg and cur_arg + 1.
 */
static StringInfo
payment_encoding(FunctionCallInfo fcinfo, int first, int cur_arg)
{
	StringInfo	buf = makeStringInfo();
	char	   *s;
	char		cur[4];
	text	   *t;

	appendBinaryStringInfo(buf, PAYMENT_MAC_MAGIC, 5);
	append_text_arg(buf, fcinfo, first, "merchant code");
	append_text_arg(buf, fcinfo, first + 1, "order number");

	if (PG_ARGISNULL(first + 2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("order time must not be null")));
	s = canonical_time(PG_GETARG_TIMESTAMPTZ(first + 2));
	append_field(buf, "order time", s, strlen(s));

	if (PG_ARGISNULL(first + 3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("amount must not be null")));
	s = canonical_amount(PG_GETARG_NUMERIC(first + 3));
	append_field(buf, "amount", s, strlen(s));

	if (PG_ARGISNULL(cur_arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("currency must not be null")));
	t = PG_GETARG_TEXT_PP(cur_arg);
	if (VARSIZE_ANY_EXHDR(t) != 3)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("currency must be an ISO 4217 three-letter code")));
	for (int i = 0; i < 3; i++)
	{
		char		c = VARDATA_ANY(t)[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("currency must be an ISO 4217 three-letter code")));
		cur[i] = pg_ascii_toupper(c);
	}
	cur[3] = '\0';
	append_field(buf, "currency", cur, 3);

	if (PG_NARGS() > cur_arg + 1 && !PG_ARGISNULL(cur_arg + 1))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(cur_arg + 1);
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		if (ARR_NDIM(arr) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("extra payment elements must be a one-dimensional array")));
		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
		{
			if (nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("extra payment elements must not be null")));
			t = DatumGetTextPP(elems[i]);
			append_field(buf, "extra element", VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
		}
	}
	return buf;
}


PG_FUNCTION_INFO_V1(finsec_payment_mac_input);

/* finsec.payment_mac_input(merchant_code, order_no, order_time, amount, currency, extra) */
Datum
finsec_payment_mac_input(PG_FUNCTION_ARGS)
{
	StringInfo	buf = payment_encoding(fcinfo, 0, 4);

	PG_RETURN_BYTEA_P(finsec_bytea(buf->data, buf->len));
}

PG_FUNCTION_INFO_V1(finsec_payment_mac);

/*
 * finsec.payment_mac(label, algorithm, merchant_code, order_no, order_time,
 *					  amount, currency, extra, length)
 */
Datum
finsec_payment_mac(PG_FUNCTION_ARGS)
{
	char	   *label = finsec_text_arg(fcinfo, 0, "key label");
	char	   *algorithm = finsec_text_arg(fcinfo, 1, "algorithm");
	StringInfo	buf = payment_encoding(fcinfo, 2, 6);
	int			length = PG_ARGISNULL(8) ? -1 : PG_GETARG_INT32(8);

	PG_RETURN_BYTEA_P(finsec_mac_compute(label, algorithm, (unsigned char *) buf->data,
										 buf->len, length, 0));
}

PG_FUNCTION_INFO_V1(finsec_payment_mac_verify);

/*
 * finsec.payment_mac_verify(label, algorithm, merchant_code, order_no,
 *							 order_time, amount, mac, currency, extra)
 */
Datum
finsec_payment_mac_verify(PG_FUNCTION_ARGS)
{
	char	   *label = finsec_text_arg(fcinfo, 0, "key label");
	char	   *algorithm = finsec_text_arg(fcinfo, 1, "algorithm");
	StringInfo	buf = payment_encoding(fcinfo, 2, 7);
	bytea	   *mac;

	finsec_require_arg(fcinfo, 6, "mac");
	mac = PG_GETARG_BYTEA_PP(6);
	PG_RETURN_BOOL(finsec_mac_check(label, algorithm, (unsigned char *) buf->data, buf->len,
									(unsigned char *) VARDATA_ANY(mac), VARSIZE_ANY_EXHDR(mac), 0));
}
