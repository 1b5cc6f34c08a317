/*-------------------------------------------------------------------------
 *
 * finsec_money.h
 *	  finsec.money: an exact amount in minor units with its ISO 4217
 *	  currency (D8; docs/money.md).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_MONEY_H
#define FINSEC_MONEY_H

#include "fmgr.h"

/*
 * The stored form: 16 bytes, fixed length, passed by reference, double
 * aligned.  The currency is kept three ways so that no operation needs the
 * table: currency (the alphabetic code packed big-endian into the low 24
 * bits, so that comparing it as an integer sorts by code) identifies it;
 * numeric and exponent come with it.  units is never INT64_MIN.
 */
typedef struct FinsecMoney
{
	int64		units;			/* amount in minor units */
	uint32		currency;		/* 'C' << 16 | 'N' << 8 | 'Y' */
	uint16		numeric;		/* ISO 4217 numeric code: 156 */
	uint8		exponent;		/* minor units: 2 */
	uint8		reserved;		/* always 0 */
} FinsecMoney;

StaticAssertDecl(sizeof(FinsecMoney) == 16, "finsec.money is 16 bytes");

#define DatumGetFinsecMoney(d)	((FinsecMoney *) DatumGetPointer(d))
#define PG_GETARG_FINSEC_MONEY(n) DatumGetFinsecMoney(PG_GETARG_DATUM(n))
#define PG_RETURN_FINSEC_MONEY(m) PG_RETURN_POINTER(m)

/* Registers finsec.money as an amount type of common's application-table layer (_PG_init). */
extern void finsec_money_init(void);

#endif							/* FINSEC_MONEY_H */
