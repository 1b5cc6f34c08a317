/*-------------------------------------------------------------------------
 *
 * shared.c
 *	  Risk scoring's settings, its per-role rate limit and its decision
 *	  counters in shared memory.
 *
 * The rate limit (JR/T 0199 8.4 g: limit how often an attacker can probe
 * the model) is a token bucket per session user (the login role, whatever
 * SET ROLE or SECURITY DEFINER makes current) in shared memory: a role may make
 * finsec.risk_rate_limit calls per second on average, in bursts of up to
 * one second's worth.  The setting is read in the calling session, so a
 * superuser sets it per role with ALTER ROLE ... SET.  Buckets live in a
 * fixed table of RATE_SLOTS roles; when it is full the least recently used
 * bucket is given to the new role (a role seen again starts with a full
 * bucket, which only ever loosens the limit for roles idle long enough to
 * be evicted).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "finsec.h"
#include "finsec_apptable.h"
#include "finsec_hooks.h"
#include "finsec_risk.h"
#include "risk_engine.h"
#include "risk_internal.h"

char	   *finsec_risk_timezone = NULL;
int			finsec_risk_rate_limit = FINSEC_RISK_RATE_LIMIT_DEFAULT;

#define RATE_SLOTS 256

typedef struct RateSlot
{
	Oid			role;
	double		tokens;
	TimestampTz last;
} RateSlot;

typedef struct RiskShared
{
	slock_t		mutex;
	RateSlot	slots[RATE_SLOTS];
	pg_atomic_uint64 decisions[RISK_DECISION_KINDS];
	pg_atomic_uint64 degraded;
	pg_atomic_uint64 rate_limited;
	pg_atomic_uint64 logstat[RISK_LOGSTAT_KINDS];	/* the decision log's
													 * (log.c) */
	TimestampTz since;
} RiskShared;

static RiskShared *shared = NULL;

/*
 * finsec.restore: set by a superuser around pg_restore so that deployed and
 * retired ruleset versions and their rules load as dumped (the guards on
 * finsec.risk_ruleset and finsec.risk_rule read it; docs/install.md).
 */
#define FINSEC_RESTORE_DEFAULT false
static bool finsec_restore = FINSEC_RESTORE_DEFAULT;

/* Defines risk scoring's settings, then the decision log's (log.c). */
void
finsec_risk_define_settings(void)
{
	DefineCustomStringVariable("finsec.risk_timezone",
							   "Time zone of risk rules' times of day, unless a rule names its own.",
							   NULL,
							   &finsec_risk_timezone,
							   FINSEC_RISK_TIMEZONE_DEFAULT,
							   PGC_SIGHUP,
							   0,
							   finsec_check_timezone_setting, NULL, NULL);
	DefineCustomIntVariable("finsec.risk_rate_limit",
							"Calls of finsec.risk_score() a role may make per second (0: no limit).",
							"Set per role with ALTER ROLE ... SET by a superuser.",
							&finsec_risk_rate_limit,
							FINSEC_RISK_RATE_LIMIT_DEFAULT, 0, 1000000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.risk_scan_limit",
							"Rows of one entity's payment history a risk rule reads before the decision is flagged degraded.",
							NULL,
							&finsec_risk_scan_limit,
							FINSEC_RISK_SCAN_LIMIT_DEFAULT, 10, 100000000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("finsec.restore",
							 "Accept deployed risk ruleset versions and their rules as pg_restore loads them.",
							 "Only for a superuser's session restoring a dump (PGOPTIONS='-c finsec.restore=on'); "
							 "the version's recorded content hash is checked before it scores.",
							 &finsec_restore,
							 FINSEC_RESTORE_DEFAULT,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	finsec_risk_define_log_settings();
}

static void
risk_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(RiskShared)));
}

static void
risk_shmem_startup(void)
{
	bool		found;
	int			i;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("finsec risk scoring", sizeof(RiskShared), &found);
	if (!found)
	{
		memset(shared, 0, sizeof(RiskShared));
		SpinLockInit(&shared->mutex);
		for (i = 0; i < RISK_DECISION_KINDS; i++)
			pg_atomic_init_u64(&shared->decisions[i], 0);
		pg_atomic_init_u64(&shared->degraded, 0);
		pg_atomic_init_u64(&shared->rate_limited, 0);
		for (i = 0; i < RISK_LOGSTAT_KINDS; i++)
			pg_atomic_init_u64(&shared->logstat[i], 0);
		shared->since = GetCurrentTimestamp();
	}
	LWLockRelease(AddinShmemInitLock);
}

void
finsec_risk_shmem_init(void)
{
	finsec_hooks_register_shmem(FINSEC_SHMEM_RISK, risk_shmem_request, risk_shmem_startup);
}

/*
 * Take one token from the session user's bucket, or refuse the call.  The
 * login role, not the current one: SET ROLE to another role (or a SECURITY
 * DEFINER wrapper) would otherwise give a session one more bucket per role.
 */
void
finsec_risk_rate_check(void)
{
	Oid			role = GetSessionUserId();
	TimestampTz now;
	RateSlot   *slot = NULL;
	RateSlot   *oldest = NULL;
	double		rate = finsec_risk_rate_limit;
	bool		ok;
	int			i;

	if (finsec_risk_rate_limit <= 0 || shared == NULL)
		return;
	now = GetCurrentTimestamp();
	SpinLockAcquire(&shared->mutex);
	for (i = 0; i < RATE_SLOTS; i++)
	{
		RateSlot   *s = &shared->slots[(role + i) % RATE_SLOTS];

		if (s->role == role)
		{
			slot = s;
			break;
		}
		if (!OidIsValid(s->role))
		{
			oldest = s;
			break;
		}
		if (oldest == NULL || s->last < oldest->last)
			oldest = s;
	}
	if (slot == NULL)
	{
		slot = oldest;
		slot->role = role;
		slot->tokens = rate;
		slot->last = now;
	}
	slot->tokens += (double) (now - slot->last) / USECS_PER_SEC * rate;
	if (slot->tokens > rate)
		slot->tokens = rate;
	slot->last = now;
	ok = slot->tokens >= 1.0;
	if (ok)
		slot->tokens -= 1.0;
	SpinLockRelease(&shared->mutex);

	if (!ok)
	{
		pg_atomic_fetch_add_u64(&shared->rate_limited, 1);
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_RISK_RATE_LIMITED),
				 errmsg("risk scoring rate limit exceeded"),
				 errdetail("Sessions of role \"%s\" may call finsec.risk_score() %d times per second, whatever role they set.",
						   GetUserNameFromId(role, false), finsec_risk_rate_limit),
				 errhint("Retry later; a superuser can raise finsec.risk_rate_limit for the role.")));
	}
}

void
finsec_risk_count_decision(int decision, bool degraded)
{
	if (shared == NULL)
		return;
	pg_atomic_fetch_add_u64(&shared->decisions[decision], 1);
	if (degraded)
		pg_atomic_fetch_add_u64(&shared->degraded, 1);
}

/* The decision log's counters (RiskLogStat), in shared memory; 0 without it. */
void
finsec_risk_logstat_add(int which, uint64 n)
{
	if (shared != NULL)
		pg_atomic_fetch_add_u64(&shared->logstat[which], n);
}

uint64
finsec_risk_logstat_read(int which)
{
	return shared == NULL ? 0 : pg_atomic_read_u64(&shared->logstat[which]);
}

PG_FUNCTION_INFO_V1(finsec_risk_stats);

/* finsec.risk_stats(OUT decision text, OUT decisions bigint, OUT since timestamptz) */
Datum
finsec_risk_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	finsec_require_preload("finsec.risk_stats()");
	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < RISK_DECISION_KINDS + 2; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		uint64		n;

		if (i < RISK_DECISION_KINDS)
			n = pg_atomic_read_u64(&shared->decisions[i]);
		else if (i == RISK_DECISION_KINDS)
			n = pg_atomic_read_u64(&shared->degraded);
		else
			n = pg_atomic_read_u64(&shared->rate_limited);
		values[0] = CStringGetTextDatum(i < RISK_DECISION_KINDS ? finsec_risk_decision_names[i]
										: i == RISK_DECISION_KINDS ? "degraded" : "rate_limited");
		values[1] = Int64GetDatum((int64) n);
		values[2] = TimestampTzGetDatum(shared->since);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
