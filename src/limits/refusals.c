/*-------------------------------------------------------------------------
 *
 * refusals.c
 *	  Refusals of the limit trigger: counted per rule, and recorded one by
 *	  one in finsec.limit_refusal by way of a buffer in shared memory.
 *
 * A refused payment rolls back, and with it anything it wrote, so the
 * trigger cannot record the refusal in a table itself.  Right before it
 * raises the refusal it calls finsec_limits_count_refusal(), which
 *
 *	 - adds one to the rule's counter (finsec.limit_refusals(), reset by a
 *	   restart like pg_stat counters), and
 *	 - puts an event (time, database, table, rule, policy name, roles; never
 *	   the payment's data) into a fixed-size buffer of slots in shared
 *	   memory, finsec.limit_refusal_buffer of them.  A spinlock is held for
 *	   a slot's copy; nothing allocates and nothing throws.  When every slot
 *	   is taken the event is counted as dropped, per database, instead.
 *
 * finsec.flush_limit_refusals() (and the audit sealer of the database,
 * every round) moves this database's events into finsec.limit_refusal:
 *
 *	 1. it claims them: under the spinlock, filled slots of this database
 *		become "claimed" by this backend's current (sub)transaction and are
 *		copied out; no other flusher takes a claimed slot;
 *	 2. it inserts one row per event, and writes a ledger event
 *		(limits.refusals_dropped) for the refusals dropped since the last
 *		report, in the same transaction;
 *	 3. transaction callbacks settle the claims: at commit the slots are
 *		freed, at abort (of the transaction, or of the subtransaction that
 *		claimed them) they are filled again and the next flush takes them.
 *
 * So while the server runs each event becomes exactly one row: never lost
 * by a flush that fails or rolls back, never written twice by concurrent
 * flushes.  PREPARE TRANSACTION of a flushing transaction is refused (the
 * claims belong to this backend).  At a clean shutdown the postmaster saves
 * the waiting events to $PGDATA/finsec_limit_refusals and loads them at the
 * next start; after an immediate shutdown it does too, but the events a
 * flush had claimed at that moment are lost unless its transaction had
 * committed.  A crash loses the events not
 * yet flushed -- at most about one sealer interval's worth -- and the
 * counters.
 *
 * The buffer, its claims and its file are src/common/eventring.c's; this
 * file says what a refusal event holds and how it becomes a row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_eventring.h"
#include "finsec_hooks.h"
#include "finsec_limits.h"
#include "finsec_owner.h"
#include "limits_internal.h"
#include "finsec_worker.h"

int			finsec_limit_refusal_slots = FINSEC_LIMIT_REFUSAL_BUFFER_DEFAULT;

/* ---- per-rule counters --------------------------------------------------- */

typedef struct LimitRefusals
{
	pg_atomic_uint64 count[LIMIT_RULE_COUNT];
	TimestampTz since;
} LimitRefusals;

static LimitRefusals *refusals = NULL;

static const char *const rule_names[LIMIT_RULE_COUNT] = {
	"single", "day", "year", "lifetime", "step_up", "frozen", "closed",
	"channel_off", "restricted", "settlement_hold", "posted"
};

/* ---- the buffer of refusal events ---------------------------------------- */

/*
 * One refusal, as the buffer holds it and as the file saved at a clean
 * shutdown holds it.  The two reserved fields keep the layout of the file
 * that libraries before src/common/eventring.c wrote (their slot order and
 * state, now kept by the buffer itself), so that refusals saved by one are
 * restored by the next: a library upgrade is a restart.
 */
typedef struct RefusalEvent
{
	uint64		reserved_seq;	/* zero */
	TimestampTz at;
	Oid			dbid;
	Oid			relid;			/* root of the limited table, or InvalidOid */
	Oid			userid;			/* current role (SET ROLE) of the statement */
	Oid			sessionid;		/* session_user */
	int32		rule;			/* FinsecLimitRule */
	int32		reserved_state; /* zero */
	char		policy[NAMEDATALEN];	/* "" when no policy applies */
} RefusalEvent;

static bool refusal_restorable(void *payload);

static FinsecEventRing ring = {
	.shmem_name = "finsec limit refusal buffer",
	.setting = "finsec.limit_refusal_buffer",
	.slots = &finsec_limit_refusal_slots,
	.payload_size = sizeof(RefusalEvent),
	.dbid_offset = offsetof(RefusalEvent, dbid),
	.file = "finsec_limit_refusals",
	.file_magic = 0x46534c52,	/* "FSLR" */
	.restorable = refusal_restorable,
	.msg = {
		.save_failed_one = "finsec: could not save %d limit refusal not yet recorded to \"%s\": %m",
		.save_failed_many = "finsec: could not save %d limit refusals not yet recorded to \"%s\": %m",
		.save_lost = "They are lost; the server log has each refusal.",
		.read_failed = "finsec: could not read saved limit refusals \"%s\": %m",
		.unknown_format = "finsec: ignoring saved limit refusals \"%s\" of an unknown format",
		.truncated = "finsec: saved limit refusals \"%s\" are truncated; restored %d",
		.restored_one = "finsec: restored %d limit refusal not yet recorded at shutdown",
		.restored_many = "finsec: restored %d limit refusals not yet recorded at shutdown",
		.prepare_held = "cannot prepare a transaction that has limit refusals that must survive its rollback",
		.prepare_claimed = "cannot prepare a transaction that has flushed limit refusals",
		.prepare_claimed_detail = "The refusals it took from the shared buffer belong to this session until the transaction ends.",
		.prepare_claimed_hint = "Call finsec.flush_limit_refusals() in a transaction of its own.",
		.unavailable = "the refusal buffer is not available",
		.dropped_one = "%llu limit refusal of this database was not recorded because the refusal buffer was full",
		.dropped_many = "%llu limit refusals of this database were not recorded because the refusal buffer was full",
		.dropped_unattributed = "%llu limit refusals of this database, and %llu of databases the buffer could not tell apart, were not recorded because the refusal buffer was full",
		.dropped_hint = "Raise %s (now %d), or record refusals more often.",
		.flush_failed = "finsec: limit refusals not recorded in finsec.limit_refusal: %s",
	},
	.write_drop_event = finsec_audit_event_internal,
	.drop_event = "limits.refusals_dropped",
	.drop_object = "finsec.limit_refusal",
};

static bool
refusal_restorable(void *payload)
{
	RefusalEvent *ev = (RefusalEvent *) payload;

	ev->policy[NAMEDATALEN - 1] = '\0';
	ev->reserved_seq = 0;
	ev->reserved_state = 0;
	return ev->rule >= 0 && ev->rule < LIMIT_RULE_COUNT;
}

static void
refusals_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(LimitRefusals)));
}

static void
refusals_shmem_startup(void)
{
	bool		found;
	int			i;

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

/* the worker task, below */
static bool flush_has_work(void *arg);
static int64 flush_run(void *arg);

void
finsec_limits_shmem_init(void)
{
	FinsecWorkerTask flush = {
		.name = "limits.refusal_flush",
		.has_work = flush_has_work,
		.run = flush_run,
		.failure_message = ring.msg.flush_failed,
		.failure_detail = "They stay in the shared buffer for the next round; sealing continues.",
	};

	finsec_hooks_register_shmem(FINSEC_SHMEM_LIMIT_REFUSALS, refusals_shmem_request,
								refusals_shmem_startup);
	finsec_eventring_register(&ring);
	finsec_worker_register_task(&flush);
	finsec_limit_cache_shmem_init();
}

/* Called by finsec_limits_define_settings(); postmaster settings need the preload. */
void
finsec_limits_define_refusal_settings(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("finsec.limit_refusal_buffer",
							"Number of limit refusals shared memory holds until they are recorded.",
							"Refusals wait there until finsec.flush_limit_refusals(), or the audit "
							"sealer of their database, records them in finsec.limit_refusal; when "
							"every slot is taken, further refusals are counted as dropped. "
							"About 100 bytes each.",
							&finsec_limit_refusal_slots,
							FINSEC_LIMIT_REFUSAL_BUFFER_DEFAULT, 16, 262144,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);
}

/*
 * Count and record a refusal.  Called right before ereport(ERROR): must not
 * throw, must not allocate.  The policy name is copied whole up to
 * NAMEDATALEN - 1 bytes, cut at a character boundary.
 */
void
finsec_limits_count_refusal(int rule, Oid relid, const char *policy)
{
	RefusalEvent ev;

	if (rule < 0 || rule >= LIMIT_RULE_COUNT)
		return;
	if (refusals != NULL)
		pg_atomic_fetch_add_u64(&refusals->count[rule], 1);
	if (!finsec_eventring_available(&ring))
		return;

	memset(&ev, 0, sizeof(ev));
	ev.at = GetCurrentTimestamp();
	ev.dbid = MyDatabaseId;
	ev.relid = relid;
	ev.userid = GetOuterUserId();
	ev.sessionid = GetSessionUserId();
	ev.rule = rule;
	if (policy != NULL)
	{
		int			len = (int) strnlen(policy, NAMEDATALEN);

		len = pg_mbcliplen(policy, len, NAMEDATALEN - 1);
		memcpy(ev.policy, policy, len);
		ev.policy[len] = '\0';
	}
	(void) finsec_eventring_put(&ring, &ev);
}

/* ---- recording ----------------------------------------------------------- */

static Datum
text_or_null(const char *s, bool *isnull)
{
	*isnull = (s == NULL);
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/*
 * Record this database's waiting refusals in finsec.limit_refusal, in the
 * current transaction.  The caller has SPI connected and runs as finsec's
 * owner; actor is the role it acts for, named in the ledger.
 */
static int64
flush_refusals(Oid actor)
{
	static const Oid argtypes[7] = {TIMESTAMPTZOID, TEXTOID, OIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	RefusalEvent *events;
	uint64		dropped_here;
	uint64		dropped_unattributed;
	int			capacity = *ring.slots;
	int			cursor = 0;
	int			n;
	int			i;

	/* All of them at once, so that they are recorded in the order refused. */
	events = palloc(sizeof(RefusalEvent) * capacity);
	n = finsec_eventring_claim(&ring, events, capacity, &cursor);
	finsec_eventring_claim_drops(&ring, &dropped_here, &dropped_unattributed);

	if (n > 0)
	{
		SPIPlanPtr	plan;

		plan = SPI_prepare("INSERT INTO finsec.limit_refusal (refused_at, rule, relid, relation, policy, "
						   "db_user, session_user_name) VALUES ($1, $2, $3, $4, $5, $6, $7)",
						   7, (Oid *) argtypes);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		for (i = 0; i < n; i++)
		{
			RefusalEvent *e = &events[i];
			Datum		values[7];
			char		nulls[7];
			bool		isnull;
			char	   *relname = NULL;

			if (OidIsValid(e->relid))
			{
				char	   *rel = get_rel_name(e->relid);
				char	   *nsp = rel ? get_namespace_name(get_rel_namespace(e->relid)) : NULL;

				if (rel && nsp)
					relname = quote_qualified_identifier(nsp, rel);
			}
			memset(nulls, ' ', sizeof(nulls));
			values[0] = TimestampTzGetDatum(e->at);
			values[1] = CStringGetTextDatum(rule_names[e->rule]);
			values[2] = ObjectIdGetDatum(e->relid);
			if (!OidIsValid(e->relid))
				nulls[2] = 'n';
			values[3] = text_or_null(relname, &isnull);
			if (isnull)
				nulls[3] = 'n';
			values[4] = text_or_null(e->policy[0] ? e->policy : NULL, &isnull);
			if (isnull)
				nulls[4] = 'n';
			values[5] = text_or_null(GetUserNameFromId(e->userid, true), &isnull);
			if (isnull)
				nulls[5] = 'n';
			values[6] = text_or_null(GetUserNameFromId(e->sessionid, true), &isnull);
			if (isnull)
				nulls[6] = 'n';
			if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not record a limit refusal in finsec.limit_refusal");
		}
		SPI_freeplan(plan);
	}

	finsec_eventring_report_drops(&ring, actor, dropped_here, dropped_unattributed);
	pfree(events);
	return n;
}

PG_FUNCTION_INFO_V1(finsec_flush_limit_refusals);

/* finsec.flush_limit_refusals() returns bigint */
Datum
finsec_flush_limit_refusals(PG_FUNCTION_ARGS)
{
	finsec_require_preload("finsec.flush_limit_refusals()");
	PG_RETURN_INT64(finsec_eventring_flush_as_owner(&ring, flush_refusals));
}


/*
 * Delete refusal records older than finsec.limit_refusal_retention, oldest
 * first, at most 10,000 per round so that a first purge of a large table
 * does not hold up the sealer.
 */
static TimestampTz last_purge = 0;

static void
purge_refusals(void)
{
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		values[1];

	if (finsec_limit_refusal_retention_minutes <= 0)
		return;
	values[0] = TimestampTzGetDatum(GetCurrentTimestamp() -
									(int64) finsec_limit_refusal_retention_minutes * USECS_PER_MINUTE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	finsec_spi_execute("DELETE FROM finsec.limit_refusal WHERE refusal_id IN "
					   "(SELECT refusal_id FROM finsec.limit_refusal WHERE refused_at OPERATOR(pg_catalog.<) $1 "
					   "ORDER BY refused_at LIMIT 10000)",
					   1, argtypes, values, NULL, false, 0,
					   SPI_OK_DELETE, "purging limit refusal records failed");
	SPI_finish();
}

/* What the worker task does this round, decided by flush_has_work(). */
static bool task_flush_due;
static bool task_purge_due;

static bool
flush_has_work(void *arg)
{
	if (!finsec_eventring_available(&ring))
		return false;
	task_flush_due = finsec_eventring_work_here(&ring);
	/* Old records go at least once a minute, and whenever new ones come. */
	task_purge_due = finsec_limit_refusal_retention_minutes > 0 &&
		(task_flush_due || TimestampDifferenceExceeds(last_purge, GetCurrentTimestamp(), 60 * 1000));
	return task_flush_due || task_purge_due;
}

/*
 * The worker task, in its own transaction (SPI connected): record this
 * database's refusals and purge old ones, as finsec's owner.  A failure
 * (the table dropped, the ledger at its capacity limit, ...) rolls back,
 * leaving the refusals in the buffer for the next round.  Nothing happens
 * in a database whose finsec has no finsec.limit_refusal (an older version).
 */
static int64
flush_task(Oid actor)
{
	int64		rows = task_flush_due ? flush_refusals(actor) : 0;

	if (task_purge_due)
	{
		purge_refusals();
		last_purge = GetCurrentTimestamp();
	}
	return rows;
}

static int64
flush_run(void *arg)
{
	Oid			nsp = get_namespace_oid("finsec", true);

	if (!OidIsValid(nsp) || !OidIsValid(get_relname_relid("limit_refusal", nsp)))
		return 0;
	return finsec_eventring_flush_as_owner(&ring, flush_task);
}

/* ---- SQL: counters and the buffer's state -------------------------------- */

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

PG_FUNCTION_INFO_V1(finsec_limit_refusal_buffer);

/*
 * finsec.limit_refusal_buffer(OUT capacity integer, OUT waiting integer,
 *	 OUT waiting_here integer, OUT flushing integer, OUT dropped bigint,
 *	 OUT dropped_unreported bigint); all NULL without the preload.
 */
Datum
finsec_limit_refusal_buffer(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(finsec_eventring_status(&ring, fcinfo));
}
