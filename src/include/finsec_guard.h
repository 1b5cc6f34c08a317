/*-------------------------------------------------------------------------
 *
 * finsec_guard.h
 *	  Replay and duplicate-payment guards (requirements M2, M3): public C
 *	  API and settings.  docs/guards.md describes the model.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_GUARD_H
#define FINSEC_GUARD_H

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/fmgrprotos.h"

/* Longest scope and nonce accepted by finsec.consume_nonce(), in bytes. */
#define FINSEC_NONCE_SCOPE_MAX_LEN	128
#define FINSEC_NONCE_MAX_LEN		256

/* Expired nonces each READ COMMITTED consume_nonce() call deletes, at most. */
#define FINSEC_NONCE_PURGE_PER_CALL	4

/*
 * How the guards compare, add and print amounts: as numeric in major
 * units, the form common's amount abstraction gives every amount column
 * (numeric, integers, finsec.money; finsec_apptable.h).
 */
static inline int
finsec_amount_cmp(Datum a, Datum b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, a, b));
}
static inline Datum
finsec_amount_add(Datum a, Datum b)
{
	return DirectFunctionCall2(numeric_add, a, b);
}
static inline Datum
finsec_amount_sub(Datum a, Datum b)
{
	return DirectFunctionCall2(numeric_sub, a, b);
}
static inline Datum
finsec_amount_zero(void)
{
	return DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
}
static inline char *
finsec_amount_out(Datum a)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, a));
}

/* Settings (src/guard/nonce.c). */
extern int	finsec_nonce_window_s;
extern int	finsec_nonce_max_skew_s;
#define FINSEC_NONCE_WINDOW_DEFAULT 300 /* s */
#define FINSEC_NONCE_MAX_SKEW_DEFAULT 30	/* s */

extern void finsec_guard_define_settings(void);

#endif							/* FINSEC_GUARD_H */
