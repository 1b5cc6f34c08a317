/*-------------------------------------------------------------------------
 *
 * refusals.c
 *	  Counting refusals of the limit trigger per rule, in shared memory.
 *
 * A refused payment rolls back, and with it anything it wrote; a counter
 * in shared memory is not transactional, so the refusal stays counted.
 * The counters are a monitoring aid (finsec.limit_refusals), reset by a
 * restart like pg_stat counters; the refusal itself is in the server log
 * and in the application's error handling.  Without the preload nothing
 * is counted (the trigger works, the view shows zeros).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "finsec.h"
#include "finsec_limits.h"

typedef struct LimitRefusals
{
	pg_atomic_uint64 count[LIMIT_RULE_COUNT];
	TimestampTz since;
} LimitRefusals;

static LimitRefusals *refusals = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static const char *const rule_names[LIMIT_RULE_COUNT] = {
	"single", "day", "year", "lifetime", "step_up", "frozen", "closed",
	"channel_off", "restricted", "settlement_hold", "posted"
};

static void
refusals_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(LimitRefusals)));
}

static void
refusals_shmem_startup(void)
{
	bool		found;
	int			i;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	refusals = ShmemInitStruct("finsec limit refusals", sizeof(LimitRefusals), &found);
	if (!found)
	{
		for (i = 0; i < LIMIT_RULE_COUNT; i++)
			pg_atomic_init_u64(&refusals->count[i], 0);
		refusals->since = GetCurrentTimestamp();
	}
	LWLockRelease(AddinShmemInitLock);
}

void
finsec_limits_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = refusals_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = refusals_shmem_startup;
}

void
finsec_limits_count_refusal(int rule, Oid relid, const char *policy)
{
	if (refusals != NULL && rule >= 0 && rule < LIMIT_RULE_COUNT)
		pg_atomic_fetch_add_u64(&refusals->count[rule], 1);
}

PG_FUNCTION_INFO_V1(finsec_limit_refusals);

/* finsec.limit_refusals(OUT rule text, OUT refusals bigint, OUT since timestamptz) */
Datum
finsec_limit_refusals(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < LIMIT_RULE_COUNT; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = CStringGetTextDatum(rule_names[i]);
		values[1] = Int64GetDatum(refusals ? (int64) pg_atomic_read_u64(&refusals->count[i]) : 0);
		if (refusals)
			values[2] = TimestampTzGetDatum(refusals->since);
		else
			nulls[2] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
