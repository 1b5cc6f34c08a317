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

#include "nodes/pg_list.h"
#include "storage/lockdefs.h"
#include "utils/date.h"
#include "utils/timestamp.h"

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


/* ---- usage as a cache of the payments table (usage.c, 1.4) ------------------ */

/*
 * A payer of a table with posted_at, as the cache sees it.  ctx is the
 * trigger's (limits.c): what finsec_limit_usage_recompute() needs to read
 * the payer's rows.
 */
typedef struct LimitPayer
{
	Oid			relid;			/* the limited (root) table */
	const char *subject;
	const char *chan_bucket;	/* the payment's channel, when a policy limits
								 * it; else NULL */
	void	   *ctx;
} LimitPayer;

extern int	finsec_limit_cache_size;
extern int	finsec_limit_flush_every;
extern int	finsec_limit_lock_threshold;

extern void finsec_limit_cache_shmem_init(void);
extern void finsec_limit_cache_define_settings(void);

/*
 * Count a payment (delta signed, count 0 or 1) into its payer's usage
 * through the cache; returns the payment's stamp (its posted_at).
 */
extern TimestampTz finsec_limit_cache_add(LimitPayer *p, TimestampTz stmt_start, Datum delta,
										  int64 count, LimitTotals *all, LimitTotals *chan);
extern void finsec_limit_cache_forget(Oid relid, const char *subject, const char *bucket);
extern void finsec_limit_cache_forget_table(Oid relid);

/*
 * A payer's usage in one bucket recomputed from the payments table: its
 * roll-up (finsec.limit_usage_flushed) and its rows stamped after it
 * (limits.c).  *rows: how many rows were added; *force: the roll-up must
 * be written at commit (a row written before 1.4 without flushed_at).
 */
extern void finsec_limit_usage_recompute(LimitPayer *p, const char *bucket, bool xact_snapshot,
										 LimitTotals *t, TimestampTz *flushed_at,
										 TimestampTz *last_stamp, int32 *rows, bool *force);

/* The calendar day and year of a time in finsec.limit_timezone. */
extern void finsec_limit_today(TimestampTz now, DateADT *day, int32 *year);

/* store.c */
extern Oid	finsec_limit_usage_relid(void);
extern void finsec_limit_totals_add(LimitTotals *t, DateADT day, int32 year, Datum delta, int64 count);
extern void finsec_limit_totals_zero(LimitTotals *t);
extern void finsec_limit_serialization_failure(void) pg_attribute_noreturn();
extern bool finsec_limit_usage_fetch(Oid relid, const char *subject, const char *bucket,
									 LimitTotals *t, TimestampTz *flushed_at, bool *flushed_null);
extern void finsec_limit_usage_store(Oid relid, const char *subject, const char *bucket,
									 const LimitTotals *t, TimestampTz flushed_at);
extern void finsec_limit_lock_tree(Oid relid, LOCKMODE mode);

/* A roll-up row of finsec.limit_usage_flushed, as finsec_limit_usage_rows_of() returns it. */
typedef struct LimitUsageRow
{
	char	   *subject;
	char	   *bucket;
	LimitTotals totals;
	TimestampTz flushed_at;
	bool		flushed_null;
} LimitUsageRow;

extern List *finsec_limit_table_relids(void);
extern List *finsec_limit_usage_relids(void);
extern bool finsec_limit_table_contains(Oid relid);
extern void finsec_limit_usage_keep(Oid relid);

/* The cache's key of a payer's bucket (without table), FINSEC_LIMIT_USAGE_KEY_SIZE bytes. */
#define FINSEC_LIMIT_USAGE_KEY_SIZE 80
extern void finsec_limit_usage_digest(const char *subject, const char *bucket, uint8 *out);
extern List *finsec_limit_usage_rows_of(Oid relid);
extern void finsec_limit_lock_payer(Oid relid, const char *subject);
extern bool finsec_limit_cache_peek_stamps(Oid relid, const char *subject, const char *bucket,
										   LimitTotals *t, TimestampTz *last_stamp);

#endif							/* FINSEC_LIMITS_INTERNAL_H */
