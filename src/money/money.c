/*-------------------------------------------------------------------------
 *
 * money.c
 *	  finsec.money: exact amounts in minor units with an ISO 4217 currency
 *	  (D8; docs/money.md).
 *
 * Parsing, formatting and the currency table are in money_parse.c (plain
 * C, fuzzed on its own); this file turns their statuses into errors and
 * provides the operators, rounding, allocation and aggregates.
 *
 * Rules kept everywhere:
 *	- amounts are int64 minor units, never INT64_MIN; every operation checks
 *	  for overflow and raises 22003, never wraps;
 *	- values of different currencies are never added, compared for order or
 *	  aggregated together (22023, naming both currencies); they are simply
 *	  unequal;
 *	- nothing is rounded unless the caller's function says how
 *	  (the * and / operators use half-even, the documented default).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/int.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/selfuncs.h"
#include "utils/sortsupport.h"

#include "finsec.h"
#include "finsec_apptable.h"
#include "finsec_money.h"
#include "money_parse.h"

#ifndef HAVE_INT128
#error "finsec.money needs a compiler with a 128-bit integer type"
#endif

#define MONEY_TYPE "finsec.money"

/* Most parts finsec.allocate() returns. */
#define MAX_ALLOCATE_PARTS 1000000

/* ---- conversions between the stored form and the parser's ---------------- */

static inline uint32
currency_key(const fm_currency *c)
{
	return ((uint32) (unsigned char) c->code[0] << 16) |
		((uint32) (unsigned char) c->code[1] << 8) |
		(uint32) (unsigned char) c->code[2];
}

static FinsecMoney *
money_make(int64 units, const fm_currency *cur)
{
	FinsecMoney *m = palloc(sizeof(FinsecMoney));

	Assert(units != PG_INT64_MIN);
	m->units = units;
	m->currency = currency_key(cur);
	m->numeric = cur->numeric;
	m->exponent = cur->exponent;
	m->reserved = 0;
	return m;
}

/* The same currency as m, with other units. */
static FinsecMoney *
money_like(const FinsecMoney *m, int64 units)
{
	FinsecMoney *r = palloc(sizeof(FinsecMoney));

	*r = *m;
	r->units = units;
	return r;
}

static const fm_currency *
money_currency_entry(const FinsecMoney *m)
{
	const fm_currency *c = finsec_money_currency_by_numeric(m->numeric);

	/* Stored values are validated on input; this is corruption. */
	if (c == NULL || currency_key(c) != m->currency || c->exponent != m->exponent)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupted " MONEY_TYPE " value: currency %u is not known", m->numeric)));
	return c;
}

static const char *
money_code(const FinsecMoney *m)
{
	return money_currency_entry(m)->code;
}

/* The currency named by a text argument ("CNY"), or an error. */
static const fm_currency *
currency_arg(text *t)
{
	char	   *s = text_to_cstring(t);
	const fm_currency *c = finsec_money_currency_by_code(s, strlen(s));

	if (c == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown currency code \"%s\"", s),
				 errhint("Currencies are ISO 4217 alphabetic codes in upper case; "
						 "finsec.currency lists those finsec knows.")));
	return c;
}

/* ---- errors shared by several functions --------------------------------- */

/*
 * Messages are whole format strings (docs/development.md, "Messages"): the
 * operation or quantity picks one of these, never a word spliced into one.
 */
typedef enum MoneyQuantity
{
	MONEY_SUM,
	MONEY_MINOR_UNITS,
	MONEY_RESULT,
	MONEY_DIFFERENCE
} MoneyQuantity;

static const char *const out_of_range_msg[] = {
	[MONEY_SUM] = MONEY_TYPE " sum out of range",
	[MONEY_MINOR_UNITS] = MONEY_TYPE " minor units out of range",
	[MONEY_RESULT] = MONEY_TYPE " result out of range",
	[MONEY_DIFFERENCE] = MONEY_TYPE " difference out of range",
};

typedef enum MoneyOp
{
	MONEY_ADD,
	MONEY_SUBTRACT,
	MONEY_COMPARE,
	MONEY_AGGREGATE
} MoneyOp;

static const char *const currency_mismatch_msg[] = {
	[MONEY_ADD] = "cannot add " MONEY_TYPE " values in different currencies: %s and %s",
	[MONEY_SUBTRACT] = "cannot subtract " MONEY_TYPE " values in different currencies: %s and %s",
	[MONEY_COMPARE] = "cannot compare " MONEY_TYPE " values in different currencies: %s and %s",
	[MONEY_AGGREGATE] = "cannot aggregate " MONEY_TYPE " values in different currencies: %s and %s",
};

static void money_out_of_range(MoneyQuantity what, const char *code) pg_attribute_noreturn();

static void
money_out_of_range(MoneyQuantity what, const char *code)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("%s", out_of_range_msg[what]),
			 errdetail("A %s amount is at most 9223372036854775807 minor units either side of zero.",
					   code)));
}

static inline void
same_currency(const FinsecMoney *a, const FinsecMoney *b, MoneyOp op)
{
	if (unlikely(a->currency != b->currency))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg(currency_mismatch_msg[op], money_code(a), money_code(b)),
				 op == MONEY_COMPARE ?
				 errhint("Compare amounts of one currency: filter or group by finsec.currency() "
						 "first.  ORDER BY and indexes sort by currency code, then amount.") :
				 errhint("Convert one amount first, with an explicit rate and rounding: "
						 "finsec.money(finsec.amount(x) * rate, 'CCY', 'half-even').")));
}

/* a + b as minor units, or an overflow error. */
static inline int64
add_units(int64 a, int64 b, const char *code)
{
	int64		r;

	if (unlikely(pg_add_s64_overflow(a, b, &r) || r == PG_INT64_MIN))
		money_out_of_range(MONEY_SUM, code);
	return r;
}

/* ---- I/O ------------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(finsec_money_in);
Datum
finsec_money_in(PG_FUNCTION_ARGS)
{
	char	   *s = PG_GETARG_CSTRING(0);
	fm_value	v;
	fm_parse_info info;
	fm_status	st = finsec_money_parse(s, strlen(s), &v, &info);

	switch (st)
	{
		case FM_OK:
			PG_RETURN_FINSEC_MONEY(money_make(v.units, v.cur));
		case FM_UNKNOWN_CURRENCY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("unknown currency code \"%s\" in " MONEY_TYPE " input: \"%s\"",
							info.code, s),
					 errhint("Currencies are ISO 4217 alphabetic codes in upper case; "
							 "finsec.currency lists those finsec knows.")));
			break;
		case FM_TOO_MANY_DECIMALS:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("too many decimal places for %s in " MONEY_TYPE " input: \"%s\"",
							info.cur->code, s),
					 errdetail("%s has %d decimal places (ISO 4217 minor unit); "
							   "finsec never rounds input.",
							   info.cur->code, info.cur->exponent),
					 errhint("Round explicitly: finsec.money(numeric, '%s', 'half-even').",
							 info.cur->code)));
			break;
		case FM_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg(MONEY_TYPE " input out of range: \"%s\"", s),
					 errdetail("A %s amount is at most 9223372036854775807 minor units either side of zero.",
							   info.cur->code)));
			break;
		case FM_NO_CURRENCY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type " MONEY_TYPE ": \"%s\"", s),
					 errdetail("The amount has no currency."),
					 errhint("Write the ISO 4217 code with the amount, e.g. 'CNY 12.34'.")));
			break;
		case FM_TWO_CURRENCIES:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type " MONEY_TYPE ": \"%s\"", s),
					 errdetail("The currency is given twice."),
					 errhint("Write one currency: 'CNY 12.34', '12.34 CNY' or '¥12.34'.")));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type " MONEY_TYPE ": \"%s\"", s),
					 errhint("Write 'CNY 12.34', '12.34 CNY' or '¥12.34': an ISO 4217 code or the "
							 "yuan sign, an optional sign, digits and at most the currency's "
							 "decimal places; no grouping separators.")));
	}
	PG_RETURN_NULL();			/* not reached */
}

PG_FUNCTION_INFO_V1(finsec_money_out);
Datum
finsec_money_out(PG_FUNCTION_ARGS)
{
	FinsecMoney *m = PG_GETARG_FINSEC_MONEY(0);
	fm_value	v;
	char		buf[FM_TEXT_MAX];

	v.units = m->units;
	v.cur = money_currency_entry(m);
	finsec_money_format(&v, buf);
	PG_RETURN_CSTRING(pstrdup(buf));
}

/*
 * Binary input of finsec.money: decode the wire format and report each
 * decoder status as its own error.
 */
PG_FUNCTION_INFO_V1(finsec_money_recv);
Datum
finsec_money_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			len = buf->len - buf->cursor;
	const unsigned char *b;
	fm_value	v;
	fm_status	st;

	if (len < 0)
		len = 0;
	b = (const unsigned char *) pq_getmsgbytes(buf, len);
	st = finsec_money_decode(b, (size_t) len, &v);
	switch (st)
	{
		case FM_OK:
			PG_RETURN_FINSEC_MONEY(money_make(v.units, v.cur));
		case FM_BAD_LENGTH:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid binary " MONEY_TYPE " value: %d bytes, expected %d",
							len, FM_BINARY_LEN)));
			break;
		case FM_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("binary " MONEY_TYPE " value out of range"),
					 errdetail("An amount is at most 9223372036854775807 minor units either side of zero.")));
			break;
		case FM_UNKNOWN_CURRENCY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid binary " MONEY_TYPE " value: unknown currency code")));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid binary " MONEY_TYPE " value: exponent %d does not match %.3s",
							b[11], (const char *) b + 8),
					 errdetail("The sender's currency table disagrees with finsec's (ISO 4217 minor units).")));
	}
	PG_RETURN_NULL();			/* not reached */
}

PG_FUNCTION_INFO_V1(finsec_money_send);
Datum
finsec_money_send(PG_FUNCTION_ARGS)
{
	FinsecMoney *m = PG_GETARG_FINSEC_MONEY(0);
	fm_value	v;
	unsigned char b[FM_BINARY_LEN];
	StringInfoData buf;

	v.units = m->units;
	v.cur = money_currency_entry(m);
	finsec_money_encode(&v, b);
	pq_begintypsend(&buf);
	pq_sendbytes(&buf, (const char *) b, FM_BINARY_LEN);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---- accessors and constructors ------------------------------------------- */

PG_FUNCTION_INFO_V1(finsec_money_currency);
Datum
finsec_money_currency(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(money_code(PG_GETARG_FINSEC_MONEY(0))));
}

PG_FUNCTION_INFO_V1(finsec_money_minor_units);
Datum
finsec_money_minor_units(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(PG_GETARG_FINSEC_MONEY(0)->units);
}

/* Major units as numeric, with exactly the currency's decimal places. */
PG_FUNCTION_INFO_V1(finsec_money_amount);
Datum
finsec_money_amount(PG_FUNCTION_ARGS)
{
	FinsecMoney *m = PG_GETARG_FINSEC_MONEY(0);

	PG_RETURN_NUMERIC(int64_div_fast_to_numeric(m->units, m->exponent));
}

/*
 * finsec.money is an amount type of every payments table (limits, guards,
 * risk): common reads it through finsec_money_amount, in major units.
 */
void
finsec_money_init(void)
{
	finsec_apptable_register_amount_type("finsec", "money", finsec_money_amount,
										 finsec_money_currency);
}

PG_FUNCTION_INFO_V1(finsec_money_from_minor);
Datum
finsec_money_from_minor(PG_FUNCTION_ARGS)
{
	int64		units = PG_GETARG_INT64(0);
	const fm_currency *c = currency_arg(PG_GETARG_TEXT_PP(1));

	if (units == PG_INT64_MIN)
		money_out_of_range(MONEY_MINOR_UNITS, c->code);
	PG_RETURN_FINSEC_MONEY(money_make(units, c));
}

/* ---- rounding ---------------------------------------------------------------- */

typedef enum MoneyRounding
{
	ROUND_HALF_EVEN,
	ROUND_HALF_UP,
	ROUND_HALF_DOWN,
	ROUND_UP,
	ROUND_DOWN,
	ROUND_CEILING,
	ROUND_FLOOR,
	ROUND_UNNECESSARY
} MoneyRounding;

static const char *const rounding_names[] = {
	"half-even", "half-up", "half-down", "up", "down", "ceiling", "floor", "unnecessary"
};

static MoneyRounding
rounding_arg(text *t)
{
	char	   *s = text_to_cstring(t);

	for (int i = 0; i < lengthof(rounding_names); i++)
		if (strcmp(s, rounding_names[i]) == 0)
			return (MoneyRounding) i;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown rounding mode \"%s\"", s),
			 errhint("Use one of half-even (the default), half-up, half-down, up, down, "
					 "ceiling, floor, unnecessary.")));
	return ROUND_HALF_EVEN;		/* not reached */
}

static Numeric
num_int64(int64 v)
{
	return int64_to_numeric(v);
}

static int
num_cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

static Numeric
num_op(PGFunction f, Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(f, NumericGetDatum(a), NumericGetDatum(b)));
}

static Numeric
num_abs(Numeric a)
{
	return DatumGetNumeric(DirectFunctionCall1(numeric_abs, NumericGetDatum(a)));
}

static int
num_sign(Numeric a)
{
	return num_cmp(a, num_int64(0));
}

/*
 * num / den rounded to an integer by mode, exactly: the truncated quotient
 * and the remainder are computed in numeric without any intermediate
 * rounding, so ties are real ties.  Returns minor units, or raises 22003
 * (out of range) or, for "unnecessary", the caller's error.
 */
static int64
round_quotient(Numeric num, Numeric den, MoneyRounding mode, const char *code,
			   const char *inexact_msg, const char *inexact_hint)
{
	Numeric		q = num_op(numeric_div_trunc, num, den);
	Numeric		r = num_op(numeric_sub, num, num_op(numeric_mul, q, den));
	int64		units;
	int			s,
				half;
	bool		away = false;
	static Numeric max_units = NULL;

	if (max_units == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		max_units = num_int64(PG_INT64_MAX);
		MemoryContextSwitchTo(old);
	}
	if (num_cmp(num_abs(q), max_units) > 0)
		money_out_of_range(MONEY_RESULT, code);
	units = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(q)));

	if (num_sign(r) == 0)
		return units;

	/* sign of the exact quotient, and |r| against |den|/2 */
	s = num_sign(num) * num_sign(den);
	half = num_cmp(num_abs(num_op(numeric_add, r, r)), num_abs(den));

	switch (mode)
	{
		case ROUND_HALF_EVEN:
			away = half > 0 || (half == 0 && (units & 1) != 0);
			break;
		case ROUND_HALF_UP:
			away = half >= 0;
			break;
		case ROUND_HALF_DOWN:
			away = half > 0;
			break;
		case ROUND_UP:
			away = true;
			break;
		case ROUND_DOWN:
			away = false;
			break;
		case ROUND_CEILING:
			away = s > 0;
			break;
		case ROUND_FLOOR:
			away = s < 0;
			break;
		case ROUND_UNNECESSARY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s", inexact_msg),
					 errhint("%s", inexact_hint)));
	}
	if (away)
		units = add_units(units, s, code);
	return units;
}

static void
check_finite(Numeric n, bool multiply)
{
	if (numeric_is_nan(n) || numeric_is_inf(n))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 multiply ?
				 errmsg("cannot multiply " MONEY_TYPE " by %s", numeric_is_nan(n) ? "NaN" : "infinity") :
				 errmsg("cannot divide " MONEY_TYPE " by %s", numeric_is_nan(n) ? "NaN" : "infinity")));
}

static Datum
money_mul_internal(FinsecMoney *m, Numeric factor, MoneyRounding mode)
{
	const char *code = money_code(m);

	check_finite(factor, true);
	return PointerGetDatum(money_like(m,
									  round_quotient(num_op(numeric_mul, num_int64(m->units), factor),
													 num_int64(1), mode, code,
													 "the product needs rounding",
													 "Pass a rounding mode to finsec.money_mul().")));
}

static Datum
money_div_internal(FinsecMoney *m, Numeric divisor, MoneyRounding mode)
{
	const char *code = money_code(m);

	check_finite(divisor, false);
	if (num_sign(divisor) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DIVISION_BY_ZERO),
				 errmsg("division by zero")));
	return PointerGetDatum(money_like(m,
									  round_quotient(num_int64(m->units), divisor, mode, code,
													 "the quotient needs rounding",
													 "Pass a rounding mode to finsec.money_div().")));
}

/* money * numeric, numeric * money: half-even */
PG_FUNCTION_INFO_V1(finsec_money_mul_numeric);
Datum
finsec_money_mul_numeric(PG_FUNCTION_ARGS)
{
	return money_mul_internal(PG_GETARG_FINSEC_MONEY(0), PG_GETARG_NUMERIC(1), ROUND_HALF_EVEN);
}

PG_FUNCTION_INFO_V1(finsec_numeric_mul_money);
Datum
finsec_numeric_mul_money(PG_FUNCTION_ARGS)
{
	return money_mul_internal(PG_GETARG_FINSEC_MONEY(1), PG_GETARG_NUMERIC(0), ROUND_HALF_EVEN);
}

PG_FUNCTION_INFO_V1(finsec_money_div_numeric);
Datum
finsec_money_div_numeric(PG_FUNCTION_ARGS)
{
	return money_div_internal(PG_GETARG_FINSEC_MONEY(0), PG_GETARG_NUMERIC(1), ROUND_HALF_EVEN);
}

/* finsec.money_mul(money, numeric, rounding text) */
PG_FUNCTION_INFO_V1(finsec_money_mul);
Datum
finsec_money_mul(PG_FUNCTION_ARGS)
{
	return money_mul_internal(PG_GETARG_FINSEC_MONEY(0), PG_GETARG_NUMERIC(1),
							  rounding_arg(PG_GETARG_TEXT_PP(2)));
}

/* finsec.money_div(money, numeric, rounding text) */
PG_FUNCTION_INFO_V1(finsec_money_div);
Datum
finsec_money_div(PG_FUNCTION_ARGS)
{
	return money_div_internal(PG_GETARG_FINSEC_MONEY(0), PG_GETARG_NUMERIC(1),
							  rounding_arg(PG_GETARG_TEXT_PP(2)));
}

/* finsec.money(amount numeric, currency text, rounding text) */
PG_FUNCTION_INFO_V1(finsec_money_from_numeric);
Datum
finsec_money_from_numeric(PG_FUNCTION_ARGS)
{
	Numeric		amount = PG_GETARG_NUMERIC(0);
	const fm_currency *c = currency_arg(PG_GETARG_TEXT_PP(1));
	MoneyRounding mode = rounding_arg(PG_GETARG_TEXT_PP(2));
	int64		scale = 1;
	char	   *msg,
			   *hint;

	if (numeric_is_nan(amount) || numeric_is_inf(amount))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is not an amount of money", numeric_is_nan(amount) ? "NaN" : "infinity")));
	for (int i = 0; i < c->exponent; i++)
		scale *= 10;
	msg = psprintf("amount %s has more decimal places than %s allows (%d)",
				   DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(amount))),
				   c->code, c->exponent);
	hint = psprintf("Pass a rounding mode: finsec.money(amount, '%s', 'half-even').", c->code);
	PG_RETURN_FINSEC_MONEY(money_make(round_quotient(num_op(numeric_mul, amount, num_int64(scale)),
													 num_int64(1), mode, c->code, msg, hint),
									  c));
}

/* ---- additive arithmetic ------------------------------------------------------- */

PG_FUNCTION_INFO_V1(finsec_money_add);
Datum
finsec_money_add(PG_FUNCTION_ARGS)
{
	FinsecMoney *a = PG_GETARG_FINSEC_MONEY(0);
	FinsecMoney *b = PG_GETARG_FINSEC_MONEY(1);

	same_currency(a, b, MONEY_ADD);
	PG_RETURN_FINSEC_MONEY(money_like(a, add_units(a->units, b->units, money_code(a))));
}

PG_FUNCTION_INFO_V1(finsec_money_sub);
Datum
finsec_money_sub(PG_FUNCTION_ARGS)
{
	FinsecMoney *a = PG_GETARG_FINSEC_MONEY(0);
	FinsecMoney *b = PG_GETARG_FINSEC_MONEY(1);
	int64		r;

	same_currency(a, b, MONEY_SUBTRACT);
	if (pg_sub_s64_overflow(a->units, b->units, &r) || r == PG_INT64_MIN)
		money_out_of_range(MONEY_DIFFERENCE, money_code(a));
	PG_RETURN_FINSEC_MONEY(money_like(a, r));
}

/* Never overflows: units is never INT64_MIN. */
PG_FUNCTION_INFO_V1(finsec_money_neg);
Datum
finsec_money_neg(PG_FUNCTION_ARGS)
{
	FinsecMoney *a = PG_GETARG_FINSEC_MONEY(0);

	PG_RETURN_FINSEC_MONEY(money_like(a, -a->units));
}

PG_FUNCTION_INFO_V1(finsec_money_abs);
Datum
finsec_money_abs(PG_FUNCTION_ARGS)
{
	FinsecMoney *a = PG_GETARG_FINSEC_MONEY(0);

	PG_RETURN_FINSEC_MONEY(money_like(a, a->units < 0 ? -a->units : a->units));
}

/* ---- comparison -------------------------------------------------------------------- */

/* The total order of indexes and sorting: currency code, then amount. */
static inline int
money_order(const FinsecMoney *a, const FinsecMoney *b)
{
	if (a->currency != b->currency)
		return a->currency < b->currency ? -1 : 1;
	if (a->units != b->units)
		return a->units < b->units ? -1 : 1;
	return 0;
}

/* Comparison of amounts: one currency only. */
static inline int
money_compare_amounts(const FinsecMoney *a, const FinsecMoney *b)
{
	same_currency(a, b, MONEY_COMPARE);
	return money_order(a, b);
}

#define MONEY_CMP_FN(name, expr) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	FinsecMoney *a = PG_GETARG_FINSEC_MONEY(0); \
	FinsecMoney *b = PG_GETARG_FINSEC_MONEY(1); \
	PG_RETURN_BOOL(expr); \
}

MONEY_CMP_FN(finsec_money_eq, a->currency == b->currency && a->units == b->units)
MONEY_CMP_FN(finsec_money_ne, a->currency != b->currency || a->units != b->units)
MONEY_CMP_FN(finsec_money_lt, money_compare_amounts(a, b) < 0)
MONEY_CMP_FN(finsec_money_le, money_compare_amounts(a, b) <= 0)
MONEY_CMP_FN(finsec_money_gt, money_compare_amounts(a, b) > 0)
MONEY_CMP_FN(finsec_money_ge, money_compare_amounts(a, b) >= 0)
MONEY_CMP_FN(finsec_money_order_lt, money_order(a, b) < 0)
MONEY_CMP_FN(finsec_money_order_le, money_order(a, b) <= 0)
MONEY_CMP_FN(finsec_money_order_gt, money_order(a, b) > 0)
MONEY_CMP_FN(finsec_money_order_ge, money_order(a, b) >= 0)

PG_FUNCTION_INFO_V1(finsec_money_cmp);
Datum
finsec_money_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(money_order(PG_GETARG_FINSEC_MONEY(0), PG_GETARG_FINSEC_MONEY(1)));
}

static int
money_fastcmp(Datum x, Datum y, SortSupport ssup)
{
	return money_order(DatumGetFinsecMoney(x), DatumGetFinsecMoney(y));
}

PG_FUNCTION_INFO_V1(finsec_money_sortsupport);
Datum
finsec_money_sortsupport(PG_FUNCTION_ARGS)
{
	SortSupport ssup = (SortSupport) PG_GETARG_POINTER(0);

	ssup->comparator = money_fastcmp;
	PG_RETURN_VOID();
}

/* The hashed bytes: units and currency, nothing else (no padding). */
static void
hash_input(const FinsecMoney *m, unsigned char buf[12])
{
	memcpy(buf, &m->units, 8);
	memcpy(buf + 8, &m->currency, 4);
}

PG_FUNCTION_INFO_V1(finsec_money_hash);
Datum
finsec_money_hash(PG_FUNCTION_ARGS)
{
	unsigned char buf[12];

	hash_input(PG_GETARG_FINSEC_MONEY(0), buf);
	PG_RETURN_UINT32(hash_bytes(buf, sizeof(buf)));
}

PG_FUNCTION_INFO_V1(finsec_money_hash_extended);
Datum
finsec_money_hash_extended(PG_FUNCTION_ARGS)
{
	unsigned char buf[12];

	hash_input(PG_GETARG_FINSEC_MONEY(0), buf);
	PG_RETURN_UINT64(hash_bytes_extended(buf, sizeof(buf), PG_GETARG_INT64(1)));
}

/* min and max: one currency only */
PG_FUNCTION_INFO_V1(finsec_money_smaller);
Datum
finsec_money_smaller(PG_FUNCTION_ARGS)
{
	FinsecMoney *a = PG_GETARG_FINSEC_MONEY(0);
	FinsecMoney *b = PG_GETARG_FINSEC_MONEY(1);

	same_currency(a, b, MONEY_COMPARE);
	PG_RETURN_FINSEC_MONEY(b->units < a->units ? b : a);
}

PG_FUNCTION_INFO_V1(finsec_money_larger);
Datum
finsec_money_larger(PG_FUNCTION_ARGS)
{
	FinsecMoney *a = PG_GETARG_FINSEC_MONEY(0);
	FinsecMoney *b = PG_GETARG_FINSEC_MONEY(1);

	same_currency(a, b, MONEY_COMPARE);
	PG_RETURN_FINSEC_MONEY(b->units > a->units ? b : a);
}

/* ---- sum and avg ---------------------------------------------------------------- */

/*
 * Transition state of sum() and avg(): an int128 total cannot overflow
 * (2^64 rows of the largest amount), so the per-row work is a currency
 * check and an addition; the range is checked once, at the end.
 */
typedef struct MoneyAggState
{
	int128		sum;
	int64		count;
	FinsecMoney proto;			/* currency of the first value; units unused */
} MoneyAggState;

#define AGG_SERIAL_LEN (16 + 8 + 4 + 2 + 1)

static MoneyAggState *
agg_state(FunctionCallInfo fcinfo, MoneyAggState *state)
{
	MemoryContext aggcontext;

	if (state != NULL)
		return state;
	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "finsec.money aggregate function called in non-aggregate context");
	state = MemoryContextAllocZero(aggcontext, sizeof(MoneyAggState));
	return state;
}

static inline void
agg_same_currency(MoneyAggState *state, const FinsecMoney *m)
{
	if (unlikely(state->proto.currency != m->currency))
	{
		if (state->count == 0)
			state->proto = *m;
		else
			same_currency(&state->proto, m, MONEY_AGGREGATE);
	}
}

PG_FUNCTION_INFO_V1(finsec_money_agg_trans);
Datum
finsec_money_agg_trans(PG_FUNCTION_ARGS)
{
	MoneyAggState *state = PG_ARGISNULL(0) ? NULL : (MoneyAggState *) PG_GETARG_POINTER(0);
	FinsecMoney *m;

	if (PG_ARGISNULL(1))
	{
		if (state == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(state);
	}
	m = PG_GETARG_FINSEC_MONEY(1);
	state = agg_state(fcinfo, state);
	agg_same_currency(state, m);
	state->sum += m->units;
	state->count++;
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(finsec_money_agg_combine);
Datum
finsec_money_agg_combine(PG_FUNCTION_ARGS)
{
	MoneyAggState *s1 = PG_ARGISNULL(0) ? NULL : (MoneyAggState *) PG_GETARG_POINTER(0);
	MoneyAggState *s2 = PG_ARGISNULL(1) ? NULL : (MoneyAggState *) PG_GETARG_POINTER(1);

	if (s2 == NULL || s2->count == 0)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}
	s1 = agg_state(fcinfo, s1);
	agg_same_currency(s1, &s2->proto);
	s1->sum += s2->sum;
	s1->count += s2->count;
	PG_RETURN_POINTER(s1);
}

PG_FUNCTION_INFO_V1(finsec_money_agg_serialize);
Datum
finsec_money_agg_serialize(PG_FUNCTION_ARGS)
{
	MoneyAggState *state = (MoneyAggState *) PG_GETARG_POINTER(0);
	StringInfoData buf;
	uint128		u = (uint128) state->sum;

	pq_begintypsend(&buf);
	pq_sendint64(&buf, (int64) (uint64) (u >> 64));
	pq_sendint64(&buf, (int64) (uint64) u);
	pq_sendint64(&buf, state->count);
	pq_sendint32(&buf, state->proto.currency);
	pq_sendint16(&buf, state->proto.numeric);
	pq_sendbyte(&buf, state->proto.exponent);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(finsec_money_agg_deserialize);
Datum
finsec_money_agg_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	MoneyAggState *state = agg_state(fcinfo, NULL);
	StringInfoData buf;
	uint64		hi,
				lo;

	if (VARSIZE_ANY_EXHDR(b) != AGG_SERIAL_LEN)
		elog(ERROR, "finsec.money aggregate state of %zu bytes", (size_t) VARSIZE_ANY_EXHDR(b));
	buf.data = VARDATA_ANY(b);
	buf.len = VARSIZE_ANY_EXHDR(b);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	hi = (uint64) pq_getmsgint64(&buf);
	lo = (uint64) pq_getmsgint64(&buf);
	state->sum = (int128) (((uint128) hi << 64) | lo);
	state->count = pq_getmsgint64(&buf);
	state->proto.currency = pq_getmsgint(&buf, 4);
	state->proto.numeric = pq_getmsgint(&buf, 2);
	state->proto.exponent = pq_getmsgbyte(&buf);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(finsec_money_sum_final);
Datum
finsec_money_sum_final(PG_FUNCTION_ARGS)
{
	MoneyAggState *state = PG_ARGISNULL(0) ? NULL : (MoneyAggState *) PG_GETARG_POINTER(0);

	if (state == NULL || state->count == 0)
		PG_RETURN_NULL();
	if (state->sum > PG_INT64_MAX || state->sum < -PG_INT64_MAX)
		money_out_of_range(MONEY_SUM, money_code(&state->proto));
	PG_RETURN_FINSEC_MONEY(money_like(&state->proto, (int64) state->sum));
}

/* The mean, rounded half-even to the minor unit; always in range. */
PG_FUNCTION_INFO_V1(finsec_money_avg_final);
Datum
finsec_money_avg_final(PG_FUNCTION_ARGS)
{
	MoneyAggState *state = PG_ARGISNULL(0) ? NULL : (MoneyAggState *) PG_GETARG_POINTER(0);
	int128		q,
				r,
				twice;

	if (state == NULL || state->count == 0)
		PG_RETURN_NULL();
	q = state->sum / state->count;
	r = state->sum % state->count;
	twice = (r < 0 ? -r : r) * 2;
	if (twice > state->count || (twice == state->count && (q & 1) != 0))
		q += state->sum < 0 ? -1 : 1;
	PG_RETURN_FINSEC_MONEY(money_like(&state->proto, (int64) q));
}

/* ---- allocation ----------------------------------------------------------------- */

static ArrayType *
money_array(FunctionCallInfo fcinfo, FinsecMoney *parts, int n)
{
	Oid			arraytype = get_fn_expr_rettype(fcinfo->flinfo);
	Oid			elemtype = OidIsValid(arraytype) ? get_element_type(arraytype) : InvalidOid;
	Datum	   *elems = palloc(sizeof(Datum) * n);

	if (!OidIsValid(elemtype))
		elog(ERROR, "could not determine the element type of finsec.allocate's result");
	for (int i = 0; i < n; i++)
		elems[i] = PointerGetDatum(&parts[i]);
	return construct_array(elems, n, elemtype, sizeof(FinsecMoney), false, TYPALIGN_DOUBLE);
}

/*
 * finsec.allocate(money, parts int): n parts differing by at most one minor
 * unit, summing exactly to the amount; the first |amount mod n| parts carry
 * the extra unit (allocate(-x, n) = -allocate(x, n)).
 */
PG_FUNCTION_INFO_V1(finsec_money_allocate_n);
Datum
finsec_money_allocate_n(PG_FUNCTION_ARGS)
{
	FinsecMoney *m = PG_GETARG_FINSEC_MONEY(0);
	int32		n = PG_GETARG_INT32(1);
	FinsecMoney *parts;
	int64		q,
				r;

	if (n < 1 || n > MAX_ALLOCATE_PARTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot allocate into %d parts", n),
				 errdetail("The number of parts must be between 1 and %d.", MAX_ALLOCATE_PARTS)));
	q = m->units / n;
	r = m->units % n;
	parts = palloc(sizeof(FinsecMoney) * n);
	for (int i = 0; i < n; i++)
	{
		parts[i] = *m;
		parts[i].units = q + (i < (r < 0 ? -r : r) ? (r < 0 ? -1 : 1) : 0);
	}
	PG_RETURN_ARRAYTYPE_P(money_array(fcinfo, parts, n));
}

typedef struct RatioShare
{
	int			index;
	Numeric		remainder;
} RatioShare;

/* Larger remainder first; among equal remainders, the earlier part. */
static int
share_cmp(const void *a, const void *b)
{
	const RatioShare *x = a;
	const RatioShare *y = b;
	int			c = num_cmp(y->remainder, x->remainder);

	if (c != 0)
		return c;
	return x->index - y->index;
}

/*
 * finsec.allocate(money, ratios numeric[]): largest remainder method.
 * Each part gets |amount| * ratio / total truncated; the minor units left
 * over (fewer than the number of parts) go one each to the parts with the
 * largest remainders, ties to the earlier part.  The signs follow the
 * amount, so allocate(-x, r) = -allocate(x, r).  All arithmetic is exact.
 */
PG_FUNCTION_INFO_V1(finsec_money_allocate_ratios);
Datum
finsec_money_allocate_ratios(PG_FUNCTION_ARGS)
{
	FinsecMoney *m = PG_GETARG_FINSEC_MONEY(0);
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *ratios;
	bool	   *nulls;
	int			n;
	Numeric		total;
	Numeric		magnitude;
	FinsecMoney *parts;
	RatioShare *shares;
	int64		left;
	int64		sign = m->units < 0 ? -1 : 1;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("allocation ratios must be a one-dimensional array")));
	deconstruct_array(arr, NUMERICOID, -1, false, TYPALIGN_INT, &ratios, &nulls, &n);
	if (n < 1 || n > MAX_ALLOCATE_PARTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot allocate into %d parts", n),
				 errdetail("The number of ratios must be between 1 and %d.", MAX_ALLOCATE_PARTS)));
	total = num_int64(0);
	for (int i = 0; i < n; i++)
	{
		Numeric		r;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("allocation ratio %d is null", i + 1)));
		r = DatumGetNumeric(ratios[i]);
		if (numeric_is_nan(r) || numeric_is_inf(r) || num_sign(r) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("allocation ratio %d is not a finite non-negative number", i + 1)));
		total = num_op(numeric_add, total, r);
	}
	if (num_sign(total) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("allocation ratios are all zero")));

	magnitude = num_int64(m->units < 0 ? -m->units : m->units);
	parts = palloc(sizeof(FinsecMoney) * n);
	shares = palloc(sizeof(RatioShare) * n);
	left = m->units < 0 ? -m->units : m->units;
	for (int i = 0; i < n; i++)
	{
		Numeric		num = num_op(numeric_mul, magnitude, DatumGetNumeric(ratios[i]));
		Numeric		q = num_op(numeric_div_trunc, num, total);
		int64		units = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(q)));

		shares[i].index = i;
		shares[i].remainder = num_op(numeric_sub, num, num_op(numeric_mul, q, total));
		parts[i] = *m;
		parts[i].units = units;
		left -= units;
	}
	/* 0 <= left < n: the sum of the fractions, each below one */
	Assert(left >= 0 && left < n);
	qsort(shares, n, sizeof(RatioShare), share_cmp);
	for (int64 i = 0; i < left; i++)
		parts[shares[i].index].units++;
	for (int i = 0; i < n; i++)
		parts[i].units *= sign;
	PG_RETURN_ARRAYTYPE_P(money_array(fcinfo, parts, n));
}

/* ---- the currency table ---------------------------------------------------------- */

PG_FUNCTION_INFO_V1(finsec_money_currencies);
Datum
finsec_money_currencies(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (size_t i = 0; i < finsec_money_currency_count(); i++)
	{
		const fm_currency *c = finsec_money_currency_at(i);
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = PointerGetDatum(cstring_to_text(c->code));
		values[1] = Int16GetDatum((int16) c->numeric);
		values[2] = Int16GetDatum((int16) c->exponent);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * Restriction estimate of < <= > >=.  scalarltsel would evaluate the
 * operator against the column's histogram, which holds every currency and
 * would raise the mismatch error while planning; without per-currency
 * statistics the honest estimate is PostgreSQL's default for inequalities.
 */
PG_FUNCTION_INFO_V1(finsec_money_ineqsel);
Datum
finsec_money_ineqsel(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(DEFAULT_INEQ_SEL);
}
