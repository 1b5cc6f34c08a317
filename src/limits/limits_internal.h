/*-------------------------------------------------------------------------
 *
 * limits_internal.h
 *	  Shared between the limit trigger (limits.c) and its direct access to
 *	  finsec's own tables (store.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_LIMITS_INTERNAL_H
#define FINSEC_LIMITS_INTERNAL_H

#include "utils/date.h"

/* The refusal buffer's setting (refusals.c), for finsec_limits_define_settings(). */
extern void finsec_limits_define_refusal_settings(void);

/* Totals of one usage row after a payment was added to it. */
typedef struct LimitTotals
{
	bool		present;
	Datum		amount[3];		/* day, year, lifetime (numeric); include this
								 * payment */
	int64		count[3];
	DateADT		day;			/* the row's day and year after the payment */
	int32		year;
} LimitTotals;

/* A row of finsec.limit_account; found = false means "normal, no controls". */
typedef struct AccountState
{
	bool		found;
	char	   *state;
	char	   *account_class;
	char	  **restricted;
	int			nrestricted;
	bool		hold;
} AccountState;

/*
 * Add a payment (delta: signed numeric amount, count: 0 or 1) to the usage
 * row (relid, subject, bucket), creating it if needed, and return the row's
 * new totals.  Concurrent payments of one subject serialize on the row;
 * under REPEATABLE READ and SERIALIZABLE a concurrent committed change is a
 * serialization failure (40001).
 */
extern void finsec_limit_usage_add(Oid relid, const char *subject, const char *bucket,
								   DateADT day, int32 year, Datum delta, int64 count,
								   LimitTotals *t);

/* Is finsec.limit_account empty?  Cached; invalidated when it changes. */
extern bool finsec_limit_accounts_empty(void);

/* Read an account's state with a fresh snapshot. */
extern void finsec_limit_account_read(const char *account, AccountState *s);

/*
 * Wait for every payment in flight on a limited table, and hold them off
 * until this transaction ends (SHARE lock on each limited table and its
 * partitions).  Called when limits' configuration or an account's state
 * changes.
 */
extern void finsec_limit_lock_tables(void);

/*
 * Set while finsec itself creates or drops the finsec_limits trigger
 * (enable_limits, disable_limits): the ProcessUtility hook lets those
 * statements through.
 */
extern bool finsec_limit_internal_ddl;

/* Is the relation limited: registered, a partition of a registered table, or carrying finsec_limits? */
extern bool finsec_limit_rel_is_limited(Oid relid);

#endif							/* FINSEC_LIMITS_INTERNAL_H */
