/*-------------------------------------------------------------------------
 *
 * money_parse.h
 *	  The ISO 4217 currency table and the text and binary forms of
 *	  finsec.money, in plain C.
 *
 * Nothing here includes a PostgreSQL header, allocates memory or reports
 * errors: every function is total over its input and returns a status that
 * src/money/money.c turns into an ereport.  That keeps the code a libFuzzer
 * target can link on its own (test/fuzz/fuzz_money_in.c,
 * test/fuzz/fuzz_money_recv.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_MONEY_PARSE_H
#define FINSEC_MONEY_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One ISO 4217 currency that has minor units. */
typedef struct fm_currency
{
	char		code[4];		/* alphabetic code, NUL-terminated: "CNY" */
	uint16_t	numeric;		/* numeric code: 156 */
	uint8_t		exponent;		/* minor units: 2 */
} fm_currency;

/*
 * A money value: an amount in minor units and its currency.  units is never
 * INT64_MIN (FM_UNITS_MAX bounds both signs, so that negation and the text
 * form are symmetric); cur points into the built-in table.
 */
typedef struct fm_value
{
	int64_t		units;
	const fm_currency *cur;
} fm_value;

#define FM_UNITS_MAX INT64_MAX

/* Longest text form: "CCC -" + 19 digits + "." + NUL, with room to spare. */
#define FM_TEXT_MAX 32

/* Binary (send/recv) form: int64 units big-endian, 3 code bytes, exponent. */
#define FM_BINARY_LEN 12

typedef enum fm_status
{
	FM_OK = 0,
	FM_EMPTY,					/* nothing but white space */
	FM_SYNTAX,					/* not one of the accepted forms */
	FM_NO_CURRENCY,				/* an amount without code or symbol */
	FM_TWO_CURRENCIES,			/* both a code and a symbol, or two codes */
	FM_UNKNOWN_CURRENCY,		/* three letters that are not in the table */
	FM_TOO_MANY_DECIMALS,		/* more fraction digits than the exponent */
	FM_OUT_OF_RANGE,			/* |units| > FM_UNITS_MAX */
	FM_BAD_LENGTH,				/* binary: not FM_BINARY_LEN bytes */
	FM_BAD_EXPONENT				/* binary: exponent differs from the table */
} fm_status;

/* Where parsing stopped, for messages: the currency seen and its offset. */
typedef struct fm_parse_info
{
	const fm_currency *cur;		/* currency, once known */
	char		code[4];		/* the three letters of an unknown code */
} fm_parse_info;

/* The table, in alphabetic order. */
extern size_t finsec_money_currency_count(void);
extern const fm_currency *finsec_money_currency_at(size_t i);

/* Lookups; NULL when not found.  by_code wants exactly 3 upper-case letters. */
extern const fm_currency *finsec_money_currency_by_code(const char *s, size_t len);
extern const fm_currency *finsec_money_currency_by_numeric(unsigned numeric);

/*
 * Parse len bytes (no NUL needed; a NUL byte is a syntax error).  On FM_OK
 * *out holds the value.  info, if not NULL, says which currency the input
 * named (for FM_TOO_MANY_DECIMALS and FM_OUT_OF_RANGE) or which letters were
 * unknown (FM_UNKNOWN_CURRENCY).
 */
extern fm_status finsec_money_parse(const char *s, size_t len, fm_value *out,
									fm_parse_info *info);

/* "CNY 12.34": writes a NUL-terminated string, returns its length. */
extern size_t finsec_money_format(const fm_value *v, char buf[FM_TEXT_MAX]);

/* Binary form; decode checks the code, the exponent and the range. */
extern void finsec_money_encode(const fm_value *v, unsigned char buf[FM_BINARY_LEN]);
extern fm_status finsec_money_decode(const unsigned char *buf, size_t len, fm_value *out);

#endif							/* FINSEC_MONEY_PARSE_H */
