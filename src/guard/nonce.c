/*-------------------------------------------------------------------------
 *
 * nonce.c
 *	  finsec.consume_nonce(): accept a message's nonce once per scope within
 *	  a time window, refuse replays and stale or future timestamps (M2).
 *
 * Uniqueness comes from the primary key of finsec.nonce (scope, nonce):
 * INSERT ... ON CONFLICT DO NOTHING waits for a concurrent inserter of the
 * same key to end, then inserts (it rolled back) or does nothing (it
 * committed), so exactly one of N concurrent callers wins.
 *
 * Expiry: a message is accepted only if its timestamp lies within
 * [clock - finsec.nonce_window, clock + finsec.nonce_max_skew].  A stored
 * nonce whose timestamp is older than clock - window can be forgotten:
 * replaying it is refused as stale anyway.  Deletion is batched along the
 * (ts) index: each READ COMMITTED call removes a few expired rows, and
 * finsec.nonce_purge() removes them in bulk.
 *
 * The clock is read twice: before the insert (a cheap refusal) and after
 * it.  A purge that deleted an old copy of the nonce between the two reads
 * did so because its timestamp fell behind the purge's clock minus the
 * window, so the second read refuses it as stale: a purge can never let a
 * replay through.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "finsec.h"
#include "finsec_guard.h"
#include "finsec_owner.h"

int			finsec_nonce_window_s = FINSEC_NONCE_WINDOW_DEFAULT;
int			finsec_nonce_max_skew_s = FINSEC_NONCE_MAX_SKEW_DEFAULT;

void
finsec_guard_define_settings(void)
{
	DefineCustomIntVariable("finsec.nonce_window",
							"How long a message timestamp stays acceptable, and a nonce remembered.",
							"finsec.consume_nonce() refuses a timestamp older than this as stale "
							"(SQLSTATE S9G02), and remembers each accepted nonce until its timestamp "
							"leaves the window. JR/T 0096.5 4.4.4 asks that replayed transactions be "
							"refused. Raising it lets nonces forgotten under the old value be "
							"accepted again during one window; see docs/guards.md.",
							&finsec_nonce_window_s,
							FINSEC_NONCE_WINDOW_DEFAULT, 1, 7 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.nonce_max_skew",
							"How far a message timestamp may lie ahead of the server clock.",
							"finsec.consume_nonce() refuses a timestamp further in the future "
							"(SQLSTATE S9G03); it allows for senders whose clocks run fast.",
							&finsec_nonce_max_skew_s,
							FINSEC_NONCE_MAX_SKEW_DEFAULT, 0, 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
}

/* The nonce's bytes: text and bytea are both varlena. */
typedef struct NonceArgs
{
	text	   *scope;
	bytea	   *nonce;
	TimestampTz ts;
	int64		window_us;
} NonceArgs;

/*
 * Read and check the arguments of the nonce functions (scope, nonce,
 * timestamp, window), refusing NULLs and out-of-range lengths.
 */
static void
get_args(FunctionCallInfo fcinfo, NonceArgs *a)
{
	int			len;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("scope, nonce and timestamp must not be null")));
	a->scope = PG_GETARG_TEXT_PP(0);
	len = VARSIZE_ANY_EXHDR(a->scope);
	if (len < 1 || len > FINSEC_NONCE_SCOPE_MAX_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("nonce scope must be 1 to %d bytes long", FINSEC_NONCE_SCOPE_MAX_LEN)));

	/* text and bytea share the varlena layout; the bytes are the nonce. */
	a->nonce = (bytea *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(1));
	len = VARSIZE_ANY_EXHDR(a->nonce);
	if (len < 1 || len > FINSEC_NONCE_MAX_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("nonce must be 1 to %d bytes long", FINSEC_NONCE_MAX_LEN),
				 errhint("Use a random value of 16 to 32 bytes, hex- or base64-encoded if text.")));

	a->ts = PG_GETARG_TIMESTAMPTZ(2);
	if (TIMESTAMP_NOT_FINITE(a->ts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("message timestamp must be finite")));

	a->window_us = (int64) finsec_nonce_window_s * USECS_PER_SEC;
	if (PG_NARGS() > 3 && !PG_ARGISNULL(3))
	{
		Interval   *w = PG_GETARG_INTERVAL_P(3);
		int64		us;

		if (w->month != 0 || w->day < 0 || w->day > 7 ||
			(us = w->time + (int64) w->day * USECS_PER_DAY) <= 0 ||
			us > a->window_us)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("nonce window must be positive and at most finsec.nonce_window (%d s)",
							finsec_nonce_window_s),
					 errhint("A caller may narrow the window, not widen it; raise finsec.nonce_window instead.")));
		a->window_us = us;
	}
}

typedef enum NonceVerdict
{
	NONCE_OK,
	NONCE_STALE,
	NONCE_FUTURE,
	NONCE_REPLAY
} NonceVerdict;

static NonceVerdict
check_clock(const NonceArgs *a, int64 *diff_us)
{
	TimestampTz now = GetCurrentTimestamp();

	if (a->ts > now + (int64) finsec_nonce_max_skew_s * USECS_PER_SEC)
	{
		*diff_us = a->ts - now;
		return NONCE_FUTURE;
	}
	if (a->ts < now - a->window_us)
	{
		*diff_us = now - a->ts;
		return NONCE_STALE;
	}
	return NONCE_OK;
}

/*
 * Delete at most "limit" nonces whose timestamp left the window; returns how
 * many.  Caller has SPI connected and runs as finsec's owner.  Rows another
 * transaction is deleting are skipped, never waited for.
 */
static uint64
purge_expired(int64 limit)
{
	static SPIPlanPtr plan = NULL;
	Datum		values[2];
	int			ret;

	if (plan == NULL)
	{
		Oid			types[2] = {TIMESTAMPTZOID, INT8OID};

		plan = SPI_prepare("DELETE FROM finsec.nonce WHERE ctid = ANY (ARRAY("
						   "SELECT ctid FROM finsec.nonce WHERE ts < $1 "
						   "ORDER BY ts LIMIT $2 FOR UPDATE SKIP LOCKED))",
						   2, types);
		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare nonce purge: %s", SPI_result_code_string(SPI_result));
	}
	values[0] = TimestampTzGetDatum(GetCurrentTimestamp() -
									(int64) finsec_nonce_window_s * USECS_PER_SEC);
	values[1] = Int64GetDatum(limit);
	ret = SPI_execute_plan(plan, values, NULL, false, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "nonce purge failed: %s", SPI_result_code_string(ret));
	return SPI_processed;
}

/*
 * Record a nonce as used, as finsec's owner: NONCE_REPLAY when the scope
 * already has it, a clock verdict when the timestamp is (or, by the time of
 * the insert, has left) the window; a bounded purge of expired nonces first.
 */
static NonceVerdict
consume(const NonceArgs *a, int64 *diff_us)
{
	static SPIPlanPtr insert_plan = NULL;
	static SPIPlanPtr delete_plan = NULL;
	FinsecOwnerContext ctx;
	NonceVerdict verdict;
	Datum		values[3];
	int			ret;

	verdict = check_clock(a, diff_us);
	if (verdict != NONCE_OK)
		return verdict;

	finsec_spi_begin_as_owner(&ctx);

	if (insert_plan == NULL)
	{
		Oid			types[3] = {TEXTOID, BYTEAOID, TIMESTAMPTZOID};
		Oid			dtypes[1] = {TIDOID};
		SPIPlanPtr	ins,
					del;

		/* Both or neither are kept, so that neither is ever used unset. */
		ins = SPI_prepare("INSERT INTO finsec.nonce (scope, nonce, ts) "
						  "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING ctid",
						  3, types);
		del = SPI_prepare("DELETE FROM finsec.nonce WHERE ctid = $1", 1, dtypes);
		if (ins == NULL || del == NULL || SPI_keepplan(ins) != 0 || SPI_keepplan(del) != 0)
			elog(ERROR, "could not prepare nonce statements: %s", SPI_result_code_string(SPI_result));
		delete_plan = del;
		insert_plan = ins;
	}

	/*
	 * Opportunistic, bounded cleanup, so the table stays near one window of
	 * traffic without a scheduler.  Only under READ COMMITTED: a snapshot
	 * transaction would get a serialization failure for a row another purge
	 * deleted after its snapshot.
	 */
	if (!IsolationUsesXactSnapshot())
		(void) purge_expired(FINSEC_NONCE_PURGE_PER_CALL);

	values[0] = PointerGetDatum(a->scope);
	values[1] = PointerGetDatum(a->nonce);
	values[2] = TimestampTzGetDatum(a->ts);
	ret = SPI_execute_plan(insert_plan, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "nonce insert failed: %s", SPI_result_code_string(ret));

	if (SPI_processed == 0)
		verdict = NONCE_REPLAY;
	else if ((verdict = check_clock(a, diff_us)) != NONCE_OK)
	{
		/* Slow enough to leave the window meanwhile: take the row back. */
		bool		isnull;

		values[0] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		ret = SPI_execute_plan(delete_plan, values, NULL, false, 0);
		if (ret != SPI_OK_DELETE)
			elog(ERROR, "nonce delete failed: %s", SPI_result_code_string(ret));
	}

	finsec_spi_end(&ctx);
	return verdict;
}

static void
report(NonceVerdict verdict, const NonceArgs *a, int64 diff_us)
{
	switch (verdict)
	{
		case NONCE_OK:
			break;
		case NONCE_REPLAY:
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_NONCE_REPLAY),
					 errmsg("replayed message: the nonce was already used in this scope"),
					 errdetail("Each nonce is accepted once per scope while its timestamp is within finsec.nonce_window (%d s).",
							   finsec_nonce_window_s),
					 errhint("The sender must use a new random nonce for every message.")));
			break;
		case NONCE_STALE:
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_NONCE_STALE),
					 errmsg("message timestamp is older than the replay window"),
					 errdetail("The timestamp is " INT64_FORMAT " s old; the window is " INT64_FORMAT " s.",
							   (diff_us + USECS_PER_SEC / 2) / USECS_PER_SEC,
							   a->window_us / USECS_PER_SEC),
					 errhint("The sender must send a new message with a fresh timestamp and nonce.")));
			break;
		case NONCE_FUTURE:
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_NONCE_FUTURE),
					 errmsg("message timestamp is ahead of the server clock by more than the allowed skew"),
					 errdetail("The timestamp is " INT64_FORMAT " s ahead; finsec.nonce_max_skew allows %d s.",
							   (diff_us + USECS_PER_SEC / 2) / USECS_PER_SEC,
							   finsec_nonce_max_skew_s),
					 errhint("Check the sender's clock, or raise finsec.nonce_max_skew.")));
			break;
	}
}

PG_FUNCTION_INFO_V1(finsec_consume_nonce);

/*
 * finsec.consume_nonce(scope text, nonce text|bytea, ts timestamptz,
 *						"window" interval DEFAULT NULL) returns void
 *
 * Raises S9G01 (replay), S9G02 (stale) or S9G03 (future), which aborts the
 * caller's transaction: the payment it protects does not happen.
 */
Datum
finsec_consume_nonce(PG_FUNCTION_ARGS)
{
	NonceArgs	a;
	int64		diff_us = 0;
	NonceVerdict verdict;

	get_args(fcinfo, &a);
	verdict = consume(&a, &diff_us);
	report(verdict, &a, diff_us);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(finsec_try_consume_nonce);

/*
 * finsec.try_consume_nonce(...) returns boolean: the same, but false instead
 * of the three refusals.  Bad input still raises.
 */
Datum
finsec_try_consume_nonce(PG_FUNCTION_ARGS)
{
	NonceArgs	a;
	int64		diff_us = 0;

	get_args(fcinfo, &a);
	PG_RETURN_BOOL(consume(&a, &diff_us) == NONCE_OK);
}

PG_FUNCTION_INFO_V1(finsec_nonce_purge);

/*
 * finsec.nonce_purge(max_rows bigint DEFAULT 100000) returns bigint: delete
 * expired nonces, at most max_rows of them; returns how many.
 */
Datum
finsec_nonce_purge(PG_FUNCTION_ARGS)
{
	FinsecOwnerContext ctx;
	int64		limit = PG_ARGISNULL(0) ? 100000 : PG_GETARG_INT64(0);
	uint64		n;

	if (limit < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_rows must be positive")));
	finsec_spi_begin_as_owner(&ctx);
	n = purge_expired(limit);
	finsec_spi_end(&ctx);
	PG_RETURN_INT64((int64) n);
}
