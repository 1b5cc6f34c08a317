/*-------------------------------------------------------------------------
 *
 * reveal.c
 *	  The reveal gate: every finsec.reveal() overload (protected values,
 *	  bank cards and accounts) goes through it.
 *
 * finsec_reveal_check_role() refuses a caller without finsec_unmask,
 * whatever the value (a NULL included: the refusal does not depend on the
 * data).  finsec_reveal_record() then, for a value, counts the reveal
 * against the session user's finsec.reveal_budget and writes its durable
 * ledger row (finsec_audit_event_durable: it survives the caller's
 * rollback), before the caller decrypts.
 *
 * The budget is a leaky bucket per SESSION user (SET ROLE, SECURITY
 * DEFINER functions and new sessions share it) in shared memory: it holds
 * finsec.reveal_budget reveals and drains at that many a minute.  A reveal
 * that would overflow it is refused (S9P20); the first refusal of a
 * session user in a minute writes a durable "reveal.refused" row, the
 * following ones of that minute are counted in it no further (the server
 * keeps the count in finsec.reveal_stats()).  Superusers are counted too:
 * they are audited, not exempt.  Counts are not transactional: a rolled
 * back reveal has been shown, and stays counted.
 *
 * The buckets are a fixed table of REVEAL_CELLS cells addressed by a hash
 * of the session user's OID keyed with a random seed drawn at server
 * start; a user lives in one of REVEAL_NEIGHBOURS neighbouring cells, and
 * a new user takes an empty or drained one of them.  Only when every
 * neighbour still holds reveals is the least filled one pushed out
 * (counted as evicted_busy): the session users able to reveal are the
 * members of finsec_unmask, far fewer than the cells.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_errcodes.h"
#include "finsec_hooks.h"
#include "finsec_protect.h"

int			finsec_reveal_budget = FINSEC_REVEAL_BUDGET_DEFAULT;
int			finsec_protect_shredded_read = FINSEC_SHREDDED_READ_NULL;

static const struct config_enum_entry shredded_read_options[] = {
	{"null", FINSEC_SHREDDED_READ_NULL, false},
	{"error", FINSEC_SHREDDED_READ_ERROR, false},
	{NULL, 0, false}
};

#define REVEAL_CELLS 1024
#define REVEAL_NEIGHBOURS 16
#define REVEAL_REFUSAL_INTERVAL_US (60 * USECS_PER_SEC)

typedef struct RevealCell
{
	Oid			user;			/* the session user; InvalidOid: empty */
	double		level;			/* reveals in the bucket, draining */
	TimestampTz last;			/* when level was last brought up to date */
	TimestampTz last_refusal_row;	/* when a reveal.refused row was written */
	uint32		refused_since_row;	/* refusals since that row */
} RevealCell;

typedef struct RevealShared
{
	slock_t		mutex;
	uint64		seed;
	pg_atomic_uint64 revealed;
	pg_atomic_uint64 refused;
	pg_atomic_uint64 evicted_busy;
	TimestampTz since;
	RevealCell	cells[REVEAL_CELLS];
} RevealShared;

static RevealShared *reveal_shared = NULL;

static void
reveal_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(RevealShared)));
}

static void
reveal_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	reveal_shared = ShmemInitStruct("finsec reveal budget", sizeof(RevealShared), &found);
	if (!found)
	{
		memset(reveal_shared, 0, sizeof(RevealShared));
		SpinLockInit(&reveal_shared->mutex);
		if (!pg_strong_random(&reveal_shared->seed, sizeof(reveal_shared->seed)))
			elog(FATAL, "could not generate a random seed for the reveal budget");
		pg_atomic_init_u64(&reveal_shared->revealed, 0);
		pg_atomic_init_u64(&reveal_shared->refused, 0);
		pg_atomic_init_u64(&reveal_shared->evicted_busy, 0);
		reveal_shared->since = GetCurrentTimestamp();
	}
	LWLockRelease(AddinShmemInitLock);
}

void
finsec_protect_reveal_init(void)
{
	finsec_hooks_register_shmem(FINSEC_SHMEM_REVEAL, reveal_shmem_request,
								reveal_shmem_startup);
	finsec_protect_period_init();
}

void
finsec_protect_reveal_define_settings(void)
{
	DefineCustomIntVariable("finsec.reveal_budget",
							"Values a session user may reveal per minute with finsec.reveal().",
							"Protected values, card and account numbers alike, counted per session user "
							"(SET ROLE and new sessions share it) as a leaky bucket of this many reveals "
							"draining at this many a minute; past it, reveal() is refused and audited. "
							"Superusers are counted too. 0: no limit. Set per role with ALTER ROLE ... SET "
							"by a superuser.",
							&finsec_reveal_budget,
							FINSEC_REVEAL_BUDGET_DEFAULT, 0, 1000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomEnumVariable("finsec.protect_shredded_read",
							 "What finsec.reveal() and finsec.mask() give for a value whose period key was shredded.",
							 "null: NULL (the reveal's audit row says shredded); error: an error (S9P21).",
							 &finsec_protect_shredded_read,
							 FINSEC_SHREDDED_READ_NULL, shredded_read_options,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
}

/* Refuse a caller that is not a member of finsec_unmask. */
void
finsec_reveal_check_role(const char *what)
{
	if (!has_privs_of_role(GetUserId(), get_role_oid("finsec_unmask", false)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to reveal %s", what),
				 errhint("Revealing needs membership in finsec_unmask.")));
}

/*
 * The cell of the session user in its neighbourhood, or a new one in place
 * of an empty or drained cell there (else the least filled).  Caller holds
 * the mutex.
 */
static RevealCell *
reveal_cell(Oid user, TimestampTz now, double rate)
{
	uint64		h = hash_bytes_extended((const unsigned char *) &user, sizeof(Oid),
										reveal_shared->seed);
	RevealCell *victim = NULL;
	double		victim_level = 0;
	int			i;

	for (i = 0; i < REVEAL_NEIGHBOURS; i++)
	{
		RevealCell *c = &reveal_shared->cells[(h + i) % REVEAL_CELLS];
		double		lvl;

		if (c->user == user && OidIsValid(user))
			return c;
		lvl = !OidIsValid(c->user) ? -1.0 :
			c->level - (double) (now - c->last) * rate;
		if (victim == NULL || lvl < victim_level)
		{
			victim = c;
			victim_level = lvl;
		}
	}
	if (victim_level >= 1.0)
		pg_atomic_fetch_add_u64(&reveal_shared->evicted_busy, 1);
	memset(victim, 0, sizeof(RevealCell));
	victim->user = user;
	victim->last = now;
	return victim;
}

/*
 * Count one reveal against the session user's budget.  Returns true when it
 * is within the budget; false when refused, with *write_row set when this
 * refusal is the one of the minute to be recorded (and *nrefused the
 * refusals since the last recorded one, this one included).
 */
static bool
reveal_count(Oid user, int budget, bool *write_row, uint32 *nrefused)
{
	TimestampTz now = GetCurrentTimestamp();
	double		rate = (double) budget / (60.0 * USECS_PER_SEC);
	RevealCell *cell;
	bool		ok;

	*write_row = false;
	*nrefused = 0;
	SpinLockAcquire(&reveal_shared->mutex);
	cell = reveal_cell(user, now, rate);
	if (now > cell->last)
		cell->level -= (double) (now - cell->last) * rate;
	if (cell->level < 0)
		cell->level = 0;
	cell->last = now;
	ok = cell->level + 1.0 <= (double) budget;
	if (ok)
		cell->level += 1.0;
	else
	{
		cell->refused_since_row++;
		if (cell->last_refusal_row == 0 ||
			now - cell->last_refusal_row >= REVEAL_REFUSAL_INTERVAL_US)
		{
			*write_row = true;
			*nrefused = cell->refused_since_row;
			cell->refused_since_row = 0;
			cell->last_refusal_row = now;
		}
	}
	SpinLockRelease(&reveal_shared->mutex);
	pg_atomic_fetch_add_u64(ok ? &reveal_shared->revealed : &reveal_shared->refused, 1);
	return ok;
}

/*
 * Count the reveal of one value against the session user's
 * finsec.reveal_budget (refused past it: S9P20, with a durable
 * reveal.refused row at most once per session user and minute), then write
 * the durable row event_type of the reveal.  The caller decrypts only
 * after this returns.
 */
void
finsec_reveal_record(const char *event_type, const char *what,
					 const char *reason, const char *context, Jsonb *detail)
{
	int			budget = finsec_reveal_budget;
	Oid			user = GetSessionUserId();

	finsec_require_preload("finsec.reveal()");
	if (reveal_shared == NULL)
		finsec_require_preload("finsec.reveal_budget");
	if (budget > 0)
	{
		bool		write_row;
		uint32		nrefused;

		if (!reveal_count(user, budget, &write_row, &nrefused))
		{
			if (write_row)
			{
				StringInfoData d;

				initStringInfo(&d);
				appendStringInfoString(&d, "{\"event\": ");
				escape_json(&d, event_type);
				appendStringInfo(&d, ", \"budget\": %d, \"refused\": %u, \"session_user\": ",
								 budget, nrefused);
				escape_json(&d, GetUserNameFromId(user, false));
				appendStringInfoString(&d, ", \"context\": ");
				if (context)
					escape_json(&d, context);
				else
					appendStringInfoString(&d, "null");
				appendStringInfoChar(&d, '}');
				finsec_audit_event_durable("reveal.refused", context, "reveal", false,
										   psprintf("reveal of %s refused: over finsec.reveal_budget (%d a minute)",
													what, budget),
										   DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																			  CStringGetDatum(d.data))));
			}
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_REVEAL_BUDGET),
					 errmsg("too many values revealed by session user \"%s\"",
							GetUserNameFromId(user, false)),
					 errdetail("A session user may reveal %d values a minute (finsec.reveal_budget); this refusal is audited.",
							   budget),
					 errhint("Wait, or have a superuser raise the budget of the role (ALTER ROLE ... SET finsec.reveal_budget)."),
					 errhidestmt(true)));
		}
	}
	else
		pg_atomic_fetch_add_u64(&reveal_shared->revealed, 1);

	/*
	 * The audit row is written before the caller decrypts: no reveal without
	 * its record, which survives a rollback of the caller's transaction or
	 * savepoint.
	 */
	finsec_audit_event_durable(event_type, context, "reveal", true, reason, detail);
}

PG_FUNCTION_INFO_V1(finsec_reveal_stats);

/*
 * finsec.reveal_stats(OUT budget integer, OUT revealed bigint,
 *	 OUT refused bigint, OUT evicted_busy bigint, OUT level double precision,
 *	 OUT since timestamptz): counters since start, and the session user's
 *	 bucket now.
 */
Datum
finsec_reveal_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};
	Oid			user = GetSessionUserId();
	double		level = 0;
	int			i;

	finsec_require_preload("finsec.reveal_stats()");
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (reveal_shared)
	{
		TimestampTz now = GetCurrentTimestamp();
		double		rate = (double) Max(finsec_reveal_budget, 0) / (60.0 * USECS_PER_SEC);

		SpinLockAcquire(&reveal_shared->mutex);
		for (i = 0; i < REVEAL_CELLS; i++)
		{
			RevealCell *c = &reveal_shared->cells[i];

			if (c->user == user)
			{
				level = c->level - (now > c->last ? (double) (now - c->last) * rate : 0);
				break;
			}
		}
		SpinLockRelease(&reveal_shared->mutex);
	}
	values[0] = Int32GetDatum(finsec_reveal_budget);
	values[1] = Int64GetDatum(reveal_shared ? (int64) pg_atomic_read_u64(&reveal_shared->revealed) : 0);
	values[2] = Int64GetDatum(reveal_shared ? (int64) pg_atomic_read_u64(&reveal_shared->refused) : 0);
	values[3] = Int64GetDatum(reveal_shared ? (int64) pg_atomic_read_u64(&reveal_shared->evicted_busy) : 0);
	values[4] = Float8GetDatum(level > 0 ? level : 0);
	if (reveal_shared)
		values[5] = TimestampTzGetDatum(reveal_shared->since);
	else
		nulls[5] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
