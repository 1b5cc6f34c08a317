/*-------------------------------------------------------------------------
 *
 * query.c
 *	  The enforced query log of credit data (004 9.3, 9.7 c, 9.8 b,
 *	  8.3.2 b enhanced; docs/credit.md): finsec.credit_query() and
 *	  finsec.credit_batch_query(), the only way a credit user reads a
 *	  registered table.
 *
 * A call is checked (credit user with the duty, institution active, query
 * right not suspended, reason code in the catalog, a dispute reason only
 * by the dispute's handler with the dispute's id for its table and
 * subject), counted (abnormal querying per user per hour, in shared
 * memory seeded from the ledger, rolled-back calls too), then the subject's records
 * are found by probing the subject column with the subject sealed under
 * every live period key (the column is sealed per period, so one probe
 * per period, through the column's index), read as the table's owner
 * inside finsec_credit_read_begin/end, masked, marked when disputed,
 * logged in finsec.credit_query_log (same transaction) and in the ledger
 * (durable: survives the caller's rollback), and only then returned.
 *
 * Every refusal is a durable ledger row credit.query_refused.  The call
 * that crosses a threshold suspends the user's query right and returns no
 * row with a WARNING (an ERROR would roll the suspension back); later
 * calls are refused until two administrators restore it
 * (credit.user_restore).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"
#include "utils/inet.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include <openssl/evp.h>

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_errcodes.h"
#include "finsec_hooks.h"
#include "finsec_owner.h"
#include "finsec_protect.h"
#include "finsec_trusted.h"
#include "credit.h"

#define SUBJECT_MAX_LEN		1024
#define BATCH_MAX_SUBJECTS	10000

int			finsec_credit_query_max_subjects = 200;
int			finsec_credit_query_max_refusals = 20;
int			finsec_credit_query_max_foreign = 50;

/* What a call knows about its caller and table. */
typedef struct QueryCall
{
	Oid			relid;
	char	   *relname;		/* quoted, qualified */
	char	   *role;			/* current_user */
	char	   *institution;
	bool		batch;
	char	   *reason;			/* a known code, else NULL */
	int64		dispute_id;		/* 0: none */
	char	   *dispute_record; /* the disputed record's key: all a handler
								 * sees */
	bool		has_client_address;
	Datum		client_address;
	/* the registration, copied */
	int32		policy_id;
	Interval	retention;
	int			ncolumns;
	FinsecCreditColumn *columns;
	AttrNumber	key_attnum;
	AttrNumber	subject_attnum;
	AttrNumber	behaviour_end_attnum;
	AttrNumber	institution_attnum;
	Oid			subject_typid;
	FinsecProtectKind subject_kind;
	Datum		status_at;		/* credit_user.status_at: counts start after
								 * it */
	/* the day and the probes' periods */
	DateADT		today;
	int			nperiods;
	int32	   *periods;
} QueryCall;

/* One record found. */
typedef struct QueryRecord
{
	char	   *key;
	char	   *json;			/* the record, as JSON text */
	bool		own_institution;
	bool		under_dispute;
	char	   *disputes;		/* JSON text, or NULL */
} QueryRecord;

/* The counts of a user's last hour (ledger). */
typedef struct QueryCounts
{
	int64		other_subjects;
	int64		other_foreign;
	int64		reason_refusals;
} QueryCounts;

/*
 * The fixed statements of a call are prepared once per backend (kept
 * plans, revalidated by the plan cache after any DDL); executed as
 * finsec_spi_execute() would.
 */
static SPIPlanPtr plan_user = NULL;
static SPIPlanPtr plan_reason = NULL;
static SPIPlanPtr plan_dispute = NULL;
static SPIPlanPtr plan_today = NULL;
static SPIPlanPtr plan_periods = NULL;
static SPIPlanPtr plan_disputes = NULL;
static SPIPlanPtr plan_log = NULL;
static SPIPlanPtr plan_read = NULL;
static char *plan_read_sql = NULL;
static Oid	plan_read_type = InvalidOid;

static void
query_execute(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes, Datum *values,
			  const char *nulls, bool read_only, long count, int expected, const char *failure)
{
	int			ret;

	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, argtypes);

		if (p == NULL)
			elog(ERROR, "%s: %s", failure, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "%s: could not keep the plan", failure);
		*plan = p;
	}
	ret = SPI_execute_plan(*plan, values, nulls, read_only, count);
	if (ret != expected)
		elog(ERROR, "%s: %s", failure, SPI_result_code_string(ret));
}

/* ---- small helpers ---------------------------------------------------- */

static Jsonb *
json_to_jsonb(const char *json)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}

static void
json_key(StringInfo s, bool *first, const char *key)
{
	if (!*first)
		appendStringInfoString(s, ", ");
	*first = false;
	escape_json(s, key);
	appendStringInfoString(s, ": ");
}

static void
json_text(StringInfo s, bool *first, const char *key, const char *value)
{
	json_key(s, first, key);
	if (value)
		escape_json(s, value);
	else
		appendStringInfoString(s, "null");
}

static void
json_int(StringInfo s, bool *first, const char *key, int64 value)
{
	json_key(s, first, key);
	appendStringInfo(s, INT64_FORMAT, value);
}

/* The ledger's detail of a call: table, user, reason, ... */
static void
call_detail(StringInfo s, bool *first, QueryCall *c)
{
	json_text(s, first, "table", c->relname);
	json_text(s, first, "institution", c->institution);
	json_text(s, first, "reason", c->reason);
	if (c->dispute_id)
		json_int(s, first, "dispute_id", c->dispute_id);
}

/* ---- the abnormal-querying counts in shared memory ---------------------- */

/*
 * Per credit user (database, role): the distinct subjects of its last hour
 * (first 64 bits of the pseudonym, which is a keyed HMAC: no chosen
 * collision; the minute last queried, the minute last queried without a
 * record of the user's institution) and per-minute buckets: refusals that
 * count, subjects that did not fit (upper bounds).  Updated by every call
 * and refusal when its ledger row is made (never rolled back, as the
 * ledger's durable rows); a missing entry (restart, eviction, status
 * change) is seeded once from the ledger.  A count that the entry cannot
 * decide (subjects dropped) is taken from the ledger as before.
 */
#define CQ_USERS			64
#define CQ_SUBJECTS			1024
#define CQ_WINDOW			60	/* minutes */
#define CQ_BUCKETS			(CQ_WINDOW + 1)

typedef struct CqSubject
{
	uint64		hash;
	int32		last_min;		/* 0: free */
	int32		foreign_min;	/* 0: never foreign */
} CqSubject;

typedef struct CqBucket
{
	int32		minute;
	int32		refusals;
	int32		dropped;
	int32		dropped_foreign;
} CqBucket;

typedef struct CqUser
{
	Oid			dbid;			/* InvalidOid: free */
	Oid			roleid;
	TimestampTz status_at;		/* the entry counts from it */
	int32		used_min;		/* last use (eviction) */
	CqBucket	buckets[CQ_BUCKETS];
	CqSubject	subjects[CQ_SUBJECTS];
} CqUser;

/*
 * A suspension decided for a user in the active state that began at
 * status_at.  The UPDATE of credit_user that records it is the caller's
 * (its ROLLBACK undoes it); this entry is not: while the user's row still
 * shows that same active state, the suspension is applied again.
 */
typedef struct CqPending
{
	Oid			dbid;			/* InvalidOid: free */
	Oid			roleid;
	TimestampTz status_at;
} CqPending;

typedef struct CqShared
{
	LWLock	   *lock;
	int			next_pending;	/* round robin when full */
	CqPending	pending[CQ_USERS];
	CqUser		users[CQ_USERS];
} CqShared;

static CqShared *cq_shared = NULL;

static void
cq_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(CqShared)));
	RequestNamedLWLockTranche("finsec credit query", 1);
}

static void
cq_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	cq_shared = ShmemInitStruct("finsec credit query counts", sizeof(CqShared), &found);
	if (!found)
	{
		memset(cq_shared, 0, sizeof(CqShared));
		cq_shared->lock = &(GetNamedLWLockTranche("finsec credit query"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

static int32
cq_minute(TimestampTz t)
{
	return (int32) (t / USECS_PER_MINUTE);
}

static bool
cq_live(int32 minute, int32 now)
{
	/* the minute an hour ago too: never shorter than the ledger's hour */
	return minute != 0 && minute >= now - CQ_WINDOW;
}

static uint64
cq_hash(const char *pseudonym)
{
	uint64		h = 0;

	for (int i = 0; i < 16 && pseudonym[i]; i++)
	{
		char		ch = pseudonym[i];
		int			v = (ch >= '0' && ch <= '9') ? ch - '0' :
		(ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10 : 0;

		h = (h << 4) | (uint64) v;
	}
	return h == 0 ? 1 : h;
}

/* The caller holds the lock.  NULL: no entry for this status. */
static CqUser *
cq_find(QueryCall *c)
{
	Oid			roleid = GetUserId();

	if (cq_shared == NULL)
		return NULL;
	for (int i = 0; i < CQ_USERS; i++)
	{
		CqUser	   *u = &cq_shared->users[i];

		if (u->dbid == MyDatabaseId && u->roleid == roleid)
			return u->status_at == DatumGetTimestampTz(c->status_at) ? u : NULL;
	}
	return NULL;
}

static CqBucket *
cq_bucket(CqUser *u, int32 minute)
{
	CqBucket   *b = &u->buckets[minute % CQ_BUCKETS];

	if (b->minute != minute)
	{
		memset(b, 0, sizeof(*b));
		b->minute = minute;
	}
	return b;
}

/* Add a subject (the caller holds the lock exclusively). */
static void
cq_add_subject(CqUser *u, uint64 hash, bool foreign, int32 minute, int32 now)
{
	CqSubject  *free_slot = NULL;

	for (int i = 0; i < CQ_SUBJECTS; i++)
	{
		CqSubject  *s = &u->subjects[i];

		if (s->last_min != 0 && s->hash == hash)
		{
			s->last_min = Max(s->last_min, minute);
			if (foreign)
				s->foreign_min = Max(s->foreign_min, minute);
			return;
		}
		if (free_slot == NULL && !cq_live(s->last_min, now))
			free_slot = s;
	}
	if (free_slot)
	{
		free_slot->hash = hash;
		free_slot->last_min = minute;
		free_slot->foreign_min = foreign ? minute : 0;
		return;
	}
	{
		CqBucket   *b = cq_bucket(u, minute);

		b->dropped++;
		if (foreign)
			b->dropped_foreign++;
	}
}

/* A call's ledger row credit.query made: count its subject. */
static void
cq_note_query(QueryCall *c, const char *pseudonym, bool foreign)
{
	CqUser	   *u;
	int32		now = cq_minute(GetCurrentTimestamp());

	if (cq_shared == NULL)
		return;
	LWLockAcquire(cq_shared->lock, LW_EXCLUSIVE);
	u = cq_find(c);
	if (u)
	{
		u->used_min = now;
		cq_add_subject(u, cq_hash(pseudonym), foreign, now, now);
	}
	LWLockRelease(cq_shared->lock);
}

/* A refusal that counts made. */
static void
cq_note_refusal(QueryCall *c)
{
	CqUser	   *u;
	int32		now = cq_minute(GetCurrentTimestamp());

	if (cq_shared == NULL)
		return;
	LWLockAcquire(cq_shared->lock, LW_EXCLUSIVE);
	u = cq_find(c);
	if (u)
	{
		u->used_min = now;
		cq_bucket(u, now)->refusals++;
	}
	LWLockRelease(cq_shared->lock);
}

/*
 * The counts from the entry: false when there is none or it cannot decide
 * a limit (subjects dropped).
 */
static bool
cq_counts(QueryCall *c, const char *pseudonym, QueryCounts *out)
{
	CqUser	   *u;
	int32		now = cq_minute(GetCurrentTimestamp());
	uint64		hash = pseudonym ? cq_hash(pseudonym) : 0;
	int64		dropped = 0;
	int64		dropped_foreign = 0;
	bool		ok = false;

	if (cq_shared == NULL)
		return false;
	memset(out, 0, sizeof(*out));
	LWLockAcquire(cq_shared->lock, LW_SHARED);
	u = cq_find(c);
	if (u)
	{
		ok = true;
		for (int i = 0; i < CQ_SUBJECTS; i++)
		{
			CqSubject  *s = &u->subjects[i];

			if (!cq_live(s->last_min, now) || s->hash == hash)
				continue;
			out->other_subjects++;
			if (cq_live(s->foreign_min, now))
				out->other_foreign++;
		}
		for (int i = 0; i < CQ_BUCKETS; i++)
		{
			CqBucket   *b = &u->buckets[i];

			if (!cq_live(b->minute, now))
				continue;
			out->reason_refusals += b->refusals;
			dropped += b->dropped;
			dropped_foreign += b->dropped_foreign;
		}
	}
	LWLockRelease(cq_shared->lock);
	if (!ok)
		return false;

	/*
	 * Subjects dropped: the true counts lie between the entry's and the
	 * entry's plus the dropped; decided only when both sides agree.
	 */
	if (dropped > 0 &&
		(out->other_subjects + 1 > finsec_credit_query_max_subjects) !=
		(out->other_subjects + dropped + 1 > finsec_credit_query_max_subjects))
		return false;
	if (dropped_foreign > 0 &&
		(out->other_foreign + 1 > finsec_credit_query_max_foreign) !=
		(out->other_foreign + dropped_foreign + 1 > finsec_credit_query_max_foreign))
		return false;
	if (dropped > 0 && out->other_subjects + 1 <= finsec_credit_query_max_subjects)
		out->other_subjects += dropped;
	if (dropped_foreign > 0 && out->other_foreign + 1 <= finsec_credit_query_max_foreign)
		out->other_foreign += dropped_foreign;
	return true;
}

/*
 * Seed the entry from the ledger (flushed): the distinct subjects with
 * their last minutes, the refusals per minute.  Replaces an entry of an
 * older status, evicts the least recently used one when full.
 */
static void
cq_seed(QueryCall *c)
{
	FinsecOwnerContext ctx;
	Oid			types[2] = {NAMEOID, TIMESTAMPTZOID};
	Datum		values[2];
	int32		now = cq_minute(GetCurrentTimestamp());
	int			nsub;
	int			nref;
	uint64	   *hashes;
	int32	   *last;
	int32	   *foreign;
	int32	   *rmin;
	int32	   *rcount;
	MemoryContext outer = CurrentMemoryContext;
	CqUser	   *u = NULL;
	Oid			roleid = GetUserId();

	if (cq_shared == NULL)
		return;
	values[0] = DirectFunctionCall1(namein, CStringGetDatum(c->role));
	values[1] = c->status_at;
	finsec_spi_begin_as_owner(&ctx);
	finsec_spi_execute("SELECT finsec.flush_audit_events()", 0, NULL, NULL, NULL, false, 0,
					   SPI_OK_SELECT, "could not flush the audit event buffer");
	finsec_spi_execute("SELECT a.detail ->> 'subject', max(a.event_time), "
					   "       max(a.event_time) FILTER (WHERE a.detail ->> 'foreign' = 'true') "
					   "  FROM finsec.audit a "
					   " WHERE a.db_user = $1 AND a.event_type = 'credit.query' "
					   "   AND a.detail ->> 'subject' IS NOT NULL "
					   "   AND a.event_time > greatest(now() - interval '1 hour', $2) "
					   " GROUP BY 1 ORDER BY 2 DESC",
					   2, types, values, NULL, false, 0, SPI_OK_SELECT,
					   "could not count the credit queries of the last hour");
	nsub = (int) SPI_processed;
	hashes = MemoryContextAlloc(outer, sizeof(uint64) * Max(nsub, 1));
	last = MemoryContextAlloc(outer, sizeof(int32) * Max(nsub, 1));
	foreign = MemoryContextAlloc(outer, sizeof(int32) * Max(nsub, 1));
	for (int i = 0; i < nsub; i++)
	{
		bool		isnull;
		Datum		d;

		hashes[i] = cq_hash(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		last[i] = cq_minute(DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull)));
		foreign[i] = 0;
		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull);
		if (!isnull)
			foreign[i] = cq_minute(DatumGetTimestampTz(d));
	}
	finsec_spi_execute("SELECT min(a.event_time), count(*)::integer "
					   "  FROM finsec.audit a "
					   " WHERE a.db_user = $1 AND a.event_type = 'credit.query_refused' "
					   "   AND a.detail ->> 'category' IN ('reason', 'dispute') "
					   "   AND a.event_time > greatest(now() - interval '1 hour', $2) "
					   " GROUP BY floor(extract(epoch FROM a.event_time) / 60)",
					   2, types, values, NULL, false, 0, SPI_OK_SELECT,
					   "could not count the refused credit queries of the last hour");
	nref = (int) SPI_processed;
	rmin = MemoryContextAlloc(outer, sizeof(int32) * Max(nref, 1));
	rcount = MemoryContextAlloc(outer, sizeof(int32) * Max(nref, 1));
	for (int i = 0; i < nref; i++)
	{
		bool		isnull;

		rmin[i] = cq_minute(DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull)));
		rcount[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
	}
	finsec_spi_end(&ctx);

	LWLockAcquire(cq_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < CQ_USERS && u == NULL; i++)
		if (cq_shared->users[i].dbid == MyDatabaseId && cq_shared->users[i].roleid == roleid)
			u = &cq_shared->users[i];
	for (int i = 0; i < CQ_USERS && u == NULL; i++)
		if (!OidIsValid(cq_shared->users[i].dbid))
			u = &cq_shared->users[i];
	if (u == NULL)
	{
		u = &cq_shared->users[0];
		for (int i = 1; i < CQ_USERS; i++)
			if (cq_shared->users[i].used_min < u->used_min)
				u = &cq_shared->users[i];
	}
	memset(u, 0, sizeof(*u));
	u->dbid = MyDatabaseId;
	u->roleid = roleid;
	u->status_at = DatumGetTimestampTz(c->status_at);
	u->used_min = now;
	for (int i = 0; i < nsub; i++)
		if (cq_live(last[i], now))
		{
			if (i < CQ_SUBJECTS)
			{
				u->subjects[i].hash = hashes[i];
				u->subjects[i].last_min = last[i];
				u->subjects[i].foreign_min = foreign[i];
			}
			else
			{
				CqBucket   *b = cq_bucket(u, last[i]);

				b->dropped++;
				if (cq_live(foreign[i], now))
					b->dropped_foreign++;
			}
		}
	for (int i = 0; i < nref; i++)
		if (cq_live(rmin[i], now))
			cq_bucket(u, rmin[i])->refusals += rcount[i];
	LWLockRelease(cq_shared->lock);
}

/*
 * Record a refusal (durable ledger row credit.query_refused).  category
 * "reason" and "dispute" count against finsec.credit_query_max_refusals.
 */
static void
record_refusal(QueryCall *c, const char *category, int sqlstate, const char *pseudonym)
{
	StringInfoData s;
	bool		first = true;

	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	call_detail(&s, &first, c);
	json_text(&s, &first, "category", category);
	json_text(&s, &first, "sqlstate", unpack_sql_state(sqlstate));
	if (pseudonym)
		json_text(&s, &first, "subject", pseudonym);
	if (c->batch)
		json_text(&s, &first, "batch", "true");
	appendStringInfoChar(&s, '}');
	finsec_audit_event_durable("credit.query_refused", c->relname ? c->relname : "credit_query",
							   "query", false, "credit query refused", json_to_jsonb(s.data));
	pfree(s.data);
	if (strcmp(category, "reason") == 0 || strcmp(category, "dispute") == 0)
		cq_note_refusal(c);
}

/*
 * The user's last hour: distinct subjects queried (other than this one),
 * distinct foreign subjects (no record of the user's institution),
 * refusals for reason or dispute.  From shared memory (seeded from the
 * ledger when its entry is missing); from the ledger when the entry
 * cannot decide.  Rolled-back calls are in the ledger too once flushed:
 * flush first (and count in a new snapshot that sees the flushed rows and
 * this call's own refusal row: not read-only).  Counting starts at the
 * user's last status change (a restore starts a new count).  The caller
 * holds the lock of the user's credit_user row, so calls of one user are
 * counted one after the other.
 */
static void
count_last_hour(QueryCall *c, const char *pseudonym, QueryCounts *out)
{
	FinsecOwnerContext ctx;
	Oid			types[3] = {NAMEOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[3];
	char		nulls[3] = {' ', pseudonym ? ' ' : 'n', ' '};
	bool		isnull;

	/*
	 * Records of rolled-back calls wait in the event buffer: write them to
	 * the ledger first (in the order of the calls, as before).  The counts do
	 * not need them: shared memory has them.
	 */
	if (finsec_audit_events_waiting())
	{
		finsec_spi_begin_as_owner(&ctx);
		finsec_spi_execute("SELECT finsec.flush_audit_events()", 0, NULL, NULL, NULL, false, 0,
						   SPI_OK_SELECT, "could not flush the audit event buffer");
		finsec_spi_end(&ctx);
	}
	/* shared memory; a missing entry seeded once from the ledger */
	if (cq_counts(c, pseudonym, out))
		return;
	cq_seed(c);
	if (cq_counts(c, pseudonym, out))
		return;

	values[0] = DirectFunctionCall1(namein, CStringGetDatum(c->role));
	values[1] = pseudonym ? CStringGetTextDatum(pseudonym) : (Datum) 0;
	values[2] = c->status_at;
	finsec_spi_begin_as_owner(&ctx);
	finsec_spi_execute("SELECT finsec.flush_audit_events()", 0, NULL, NULL, NULL, false, 0,
					   SPI_OK_SELECT, "could not flush the audit event buffer");
	finsec_spi_execute("SELECT count(DISTINCT a.detail ->> 'subject') "
					   "         FILTER (WHERE a.event_type = 'credit.query' "
					   "                 AND (a.detail ->> 'subject') IS DISTINCT FROM $2), "
					   "       count(DISTINCT a.detail ->> 'subject') "
					   "         FILTER (WHERE a.event_type = 'credit.query' "
					   "                 AND (a.detail ->> 'subject') IS DISTINCT FROM $2 "
					   "                 AND a.detail ->> 'foreign' = 'true'), "
					   "       count(*) FILTER (WHERE a.event_type = 'credit.query_refused' "
					   "                 AND a.detail ->> 'category' IN ('reason', 'dispute')) "
					   "  FROM finsec.audit a "
					   " WHERE a.db_user = $1 "
					   "   AND a.event_type IN ('credit.query', 'credit.query_refused') "
					   "   AND a.event_time > greatest(now() - interval '1 hour', $3)",
					   3, types, values, nulls, false, 0, SPI_OK_SELECT,
					   "could not count the credit queries of the last hour");
	out->other_subjects = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	out->other_foreign = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	out->reason_refusals = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	finsec_spi_end(&ctx);
}

/*
 * Suspend the caller's query right (abnormal querying, 004 9.7 c): the
 * credit_user row, a durable ledger row credit.user_suspended, a WARNING.
 * The call then returns no row and commits.
 */
/* Remember, outside any transaction, that this user was suspended. */
static void
cq_note_suspension(QueryCall *c)
{
	Oid			roleid = GetUserId();
	CqPending  *slot = NULL;

	if (cq_shared == NULL)
		return;
	LWLockAcquire(cq_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < CQ_USERS && slot == NULL; i++)
		if (cq_shared->pending[i].dbid == MyDatabaseId && cq_shared->pending[i].roleid == roleid)
			slot = &cq_shared->pending[i];
	for (int i = 0; i < CQ_USERS && slot == NULL; i++)
		if (cq_shared->pending[i].dbid == InvalidOid)
			slot = &cq_shared->pending[i];
	if (slot == NULL)
	{
		slot = &cq_shared->pending[cq_shared->next_pending];
		cq_shared->next_pending = (cq_shared->next_pending + 1) % CQ_USERS;
	}
	slot->dbid = MyDatabaseId;
	slot->roleid = roleid;
	slot->status_at = DatumGetTimestampTz(c->status_at);
	LWLockRelease(cq_shared->lock);
}

/*
 * Was this user suspended in its current active state by a call whose
 * transaction rolled back?  Shared memory says so since the suspension;
 * after a restart (or when the entry was pushed out) the ledger does: a
 * durable credit.user_suspended row of the role later than the state's
 * start.
 */
static bool
suspension_rolled_back(QueryCall *c)
{
	Oid			roleid = GetUserId();
	bool		found = false;
	bool		counted = false;
	FinsecOwnerContext ctx;
	Oid			types[2] = {NAMEOID, TIMESTAMPTZOID};
	Datum		values[2];
	bool		isnull;

	if (cq_shared != NULL)
	{
		LWLockAcquire(cq_shared->lock, LW_SHARED);
		for (int i = 0; i < CQ_USERS && !found; i++)
			found = cq_shared->pending[i].dbid == MyDatabaseId &&
				cq_shared->pending[i].roleid == roleid &&
				cq_shared->pending[i].status_at == DatumGetTimestampTz(c->status_at);
		counted = cq_find(c) != NULL;
		LWLockRelease(cq_shared->lock);
	}
	if (found || counted)
		return found;

	/* not known here since the state began: ask the ledger */
	values[0] = DirectFunctionCall1(namein, CStringGetDatum(c->role));
	values[1] = c->status_at;
	finsec_spi_begin_as_owner(&ctx);
	if (finsec_audit_events_waiting())
		finsec_spi_execute("SELECT finsec.flush_audit_events()", 0, NULL, NULL, NULL, false, 0,
						   SPI_OK_SELECT, "could not flush the audit event buffer");
	finsec_spi_execute("SELECT EXISTS (SELECT 1 FROM finsec.audit a "
					   " WHERE a.db_user = $1 AND a.event_type = 'credit.user_suspended' "
					   "   AND a.event_time > $2)",
					   2, types, values, NULL, false, 0, SPI_OK_SELECT,
					   "could not read the credit user's suspensions");
	found = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	finsec_spi_end(&ctx);
	if (found)
		cq_note_suspension(c);
	return found;
}

static void
suspend_user(QueryCall *c, const char *rule, int64 count, int limit)
{
	FinsecOwnerContext ctx;
	Oid			types[2] = {NAMEOID, TEXTOID};
	Datum		values[2];
	char	   *why = limit > 0 ?
	psprintf("abnormal querying: %s " INT64_FORMAT " in the last hour (limit %d)",
			 rule, count, limit) :
	pstrdup(rule);
	StringInfoData s;
	bool		first = true;

	values[0] = DirectFunctionCall1(namein, CStringGetDatum(c->role));
	values[1] = CStringGetTextDatum(why);
	finsec_spi_begin_as_owner(&ctx);
	finsec_spi_execute("UPDATE finsec.credit_user SET query_status = 'suspended', status_at = now(), "
					   "       status_reason = $2 "
					   " WHERE role_name = $1",
					   2, types, values, NULL, false, 0, SPI_OK_UPDATE,
					   "could not suspend the credit user");
	finsec_spi_end(&ctx);
	cq_note_suspension(c);

	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	json_text(&s, &first, "role", c->role);
	call_detail(&s, &first, c);
	json_text(&s, &first, "rule", rule);
	json_int(&s, &first, "count", count);
	json_int(&s, &first, "limit", limit);
	appendStringInfoChar(&s, '}');
	finsec_audit_event_durable("credit.user_suspended", psprintf("credit_user:%s", c->role),
							   "suspend", true, why, json_to_jsonb(s.data));
	ereport(WARNING,
			(errcode(ERRCODE_FINSEC_CREDIT_SUSPENDED_NOW),
			 errmsg("the query right of credit user \"%s\" is suspended for abnormal querying", c->role),
			 errdetail("%s; this call returns no record.", why),
			 errhint("Two administrators restore it: finsec.credit_user_restore(role, reason), then finsec.approve().")));
}

/* ---- checks ------------------------------------------------------------ */

static void
copy_registration(QueryCall *c, const FinsecCreditTable *t)
{
	c->policy_id = t->policy_id;
	c->retention = t->retention;
	c->ncolumns = t->ncolumns;
	c->columns = palloc(sizeof(FinsecCreditColumn) * t->ncolumns);
	memcpy(c->columns, t->columns, sizeof(FinsecCreditColumn) * t->ncolumns);
	for (int i = 0; i < t->ncolumns; i++)
		c->columns[i].ladder = NULL;	/* not needed here */
	c->key_attnum = t->key_attnum;
	c->subject_attnum = t->subject_attnum;
	c->behaviour_end_attnum = t->behaviour_end_attnum;
	c->institution_attnum = t->institution_attnum;
	for (int i = 0; i < t->ncolumns; i++)
		if (t->columns[i].attnum == t->subject_attnum)
			c->subject_typid = t->columns[i].typid;
}

/*
 * The table is registered, the isolation level READ COMMITTED, the
 * caller a credit user with the duty, its institution active, its query
 * right not suspended.  Locks the caller's credit_user row until the end
 * of the transaction.
 */
static bool
check_caller(QueryCall *c, Oid relid)
{
	const FinsecCreditTable *t;
	FinsecOwnerContext ctx;
	Oid			types[1] = {NAMEOID};
	Datum		values[1];
	bool		found;
	bool		isnull;
	char	   *duties = NULL;
	char	   *query_status = NULL;
	char	   *inst_status = NULL;
	MemoryContext outer = CurrentMemoryContext;
	const char *duty = c->batch ? "batch_query" : "query";

	c->relid = relid;
	c->relname = finsec_quoted_relname(relid);
	c->role = GetUserNameFromId(GetUserId(), false);

	t = finsec_credit_table(relid);
	if (t == NULL)
	{
		record_refusal(c, "table", ERRCODE_FINSEC_CREDIT_NOT_REGISTERED, NULL);
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_NOT_REGISTERED),
				 errmsg("%s is not a registered credit table", c->relname),
				 errhint("Register it with finsec.register_credit_table().")));
	}
	copy_registration(c, t);

	if (IsolationUsesXactSnapshot())
	{
		record_refusal(c, "isolation", ERRCODE_FINSEC_CREDIT_ISOLATION, NULL);
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_ISOLATION),
				 errmsg("credit queries run only at isolation level READ COMMITTED"),
				 errdetail("The abnormal-querying counts must see every earlier query of the user."),
				 errhint("Run the query in a READ COMMITTED transaction.")));
	}

	values[0] = DirectFunctionCall1(namein, CStringGetDatum(c->role));
	finsec_spi_begin_as_owner(&ctx);
	query_execute(&plan_user, "SELECT u.institution, u.duties::text, u.query_status, i.status, u.status_at "
				  "  FROM finsec.credit_user u JOIN finsec.credit_institution i ON i.code = u.institution "
				  " WHERE u.role_name = $1 FOR NO KEY UPDATE OF u",
				  1, types, values, NULL, false, 0, SPI_OK_SELECT,
				  "could not read finsec.credit_user");
	found = SPI_processed == 1;
	if (found)
	{
		MemoryContext spi = MemoryContextSwitchTo(outer);

		c->institution = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		duties = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		query_status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
		inst_status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
		c->status_at = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull);
		MemoryContextSwitchTo(spi);
	}
	finsec_spi_end(&ctx);

	if (!found)
	{
		record_refusal(c, "user", ERRCODE_FINSEC_CREDIT_NOT_USER, NULL);
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_NOT_USER),
				 errmsg("role \"%s\" is not a credit user", c->role),
				 errhint("An administrator makes a role a credit user of an institution with finsec.credit_user_set().")));
	}
	/* duties is a text[] literal of plain words: {batch_query,query} */
	{
		bool		has = false;
		bool		has_dispute = false;
		char	   *p = pstrdup(duties + 1);
		char	   *tok;
		char	   *save;

		p[strlen(p) - 1] = '\0';
		for (tok = strtok_r(p, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		{
			if (strcmp(tok, duty) == 0)
				has = true;
			if (strcmp(tok, "dispute") == 0)
				has_dispute = true;
		}
		/* a handler's query of its dispute needs the dispute duty only */
		if (!has && !(has_dispute && c->dispute_id != 0 && !c->batch))
		{
			record_refusal(c, "user", ERRCODE_FINSEC_CREDIT_NOT_USER, NULL);
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_CREDIT_NOT_USER),
					 errmsg("credit user \"%s\" does not have the duty %s", c->role, duty),
					 errdetail("Its duties are %s.", duties),
					 errhint("An administrator grants duties with finsec.credit_user_set().")));
		}
	}
	if (strcmp(inst_status, "active") != 0)
	{
		record_refusal(c, "institution", ERRCODE_FINSEC_CREDIT_USER_INSTITUTION, NULL);
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_USER_INSTITUTION),
				 errmsg("credit institution \"%s\" of credit user \"%s\" is not active", c->institution, c->role),
				 errdetail("Its status is %s.", inst_status),
				 errhint("Only users of an active institution may query (finsec.credit_institution).")));
	}
	if (strcmp(query_status, "active") != 0)
	{
		record_refusal(c, "suspended", ERRCODE_FINSEC_CREDIT_USER_SUSPENDED, NULL);
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_USER_SUSPENDED),
				 errmsg("the query right of credit user \"%s\" is suspended", c->role),
				 errhint("Two administrators restore it: finsec.credit_user_restore(role, reason), then finsec.approve().")));
	}
	/* a suspension the caller rolled back is applied again (no row returned) */
	if (suspension_rolled_back(c))
	{
		suspend_user(c, "abnormal querying: a suspension that the caller's transaction rolled back, applied again", 0, 0);
		return false;
	}
	return true;
}

/*
 * A refusal that counts against finsec.credit_query_max_refusals: the
 * one that crosses it suspends the user and returns false (the call
 * returns no row); otherwise the caller raises.
 */
static bool
reason_refusal_suspends(QueryCall *c, const char *category, int sqlstate, const char *pseudonym)
{
	QueryCounts counts;

	record_refusal(c, category, sqlstate, pseudonym);
	count_last_hour(c, pseudonym, &counts);
	if (counts.reason_refusals > finsec_credit_query_max_refusals)
	{
		suspend_user(c, "refused queries", counts.reason_refusals, finsec_credit_query_max_refusals);
		return true;
	}
	return false;
}

/*
 * The reason code: given, in the catalog, active; one requiring a dispute
 * only with a dispute id, a dispute id only with such a reason.  False:
 * the user was suspended (return no row).
 */
static bool
check_reason(QueryCall *c, const char *reason)
{
	FinsecOwnerContext ctx;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		found = false;
	bool		active = false;
	bool		requires_dispute = false;
	bool		isnull;

	if (reason == NULL || reason[0] == '\0')
	{
		if (reason_refusal_suspends(c, "reason", ERRCODE_FINSEC_CREDIT_REASON_MISSING, NULL))
			return false;
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_REASON_MISSING),
				 errmsg("a credit query needs a reason code"),
				 errhint("Name one of the active codes of finsec.credit_reason.")));
	}
	values[0] = CStringGetTextDatum(reason);
	finsec_spi_begin_as_owner(&ctx);
	query_execute(&plan_reason, "SELECT r.active, r.requires_dispute FROM finsec.credit_reason r WHERE r.code = $1",
				  1, types, values, NULL, true, 0, SPI_OK_SELECT,
				  "could not read finsec.credit_reason");
	if (SPI_processed == 1)
	{
		found = true;
		active = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		requires_dispute = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	}
	finsec_spi_end(&ctx);

	if (!found || !active)
	{
		/* an unknown text is never written to the ledger: it may be anything */
		if (found)
			c->reason = pstrdup(reason);
		if (reason_refusal_suspends(c, "reason", ERRCODE_FINSEC_CREDIT_REASON_UNKNOWN, NULL))
			return false;
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_CREDIT_REASON_UNKNOWN),
					 errmsg("unknown credit query reason code"),
					 errhint("Name one of the active codes of finsec.credit_reason.")));
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_REASON_UNKNOWN),
				 errmsg("credit query reason code \"%s\" is retired", reason),
				 errhint("Name one of the active codes of finsec.credit_reason.")));
	}
	c->reason = pstrdup(reason);
	if (requires_dispute && c->dispute_id == 0)
	{
		if (reason_refusal_suspends(c, "reason", ERRCODE_FINSEC_CREDIT_REASON_DISPUTE, NULL))
			return false;
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_REASON_DISPUTE),
				 errmsg("credit query reason \"%s\" needs a dispute id", reason),
				 errhint("The handler of an open dispute passes its id: finsec.credit_query(tbl, subject, reason, dispute_id => ...).")));
	}
	if (!requires_dispute && c->dispute_id != 0)
	{
		if (reason_refusal_suspends(c, "reason", ERRCODE_FINSEC_CREDIT_REASON_NOT_DISPUTE, NULL))
			return false;
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_REASON_NOT_DISPUTE),
				 errmsg("a query for a dispute must give a dispute reason, not \"%s\"", reason),
				 errdetail("A dispute handler's queries are bound to the dispute (004 9.8 b)."),
				 errhint("Use a reason code with requires_dispute, e.g. dispute_check.")));
	}
	return true;
}

/*
 * The dispute of a dispute query: open (or being checked), handled by the
 * caller, of this table and subject.  False: suspended.
 */
static bool
check_dispute(QueryCall *c, const char *subject, const char *pseudonym)
{
	FinsecOwnerContext ctx;
	Oid			types[2] = {INT8OID, OIDOID};
	Datum		values[2];
	bool		ok = false;
	MemoryContext outer = CurrentMemoryContext;
	char	   *handler = NULL;
	char	   *status = NULL;
	char	   *stored = NULL;

	if (c->dispute_id == 0)
		return true;
	values[0] = Int64GetDatum(c->dispute_id);
	values[1] = ObjectIdGetDatum(c->relid);
	finsec_spi_begin_as_owner(&ctx);
	query_execute(&plan_dispute, "SELECT d.handler::text, d.status, d.subject_pseudonym, d.record_key FROM finsec.credit_dispute d "
				  " WHERE d.id = $1 AND d.relid = $2::regclass",
				  2, types, values, NULL, true, 0, SPI_OK_SELECT,
				  "could not read finsec.credit_dispute");
	if (SPI_processed == 1)
	{
		MemoryContext spi = MemoryContextSwitchTo(outer);

		handler = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		stored = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
		c->dispute_record = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
		MemoryContextSwitchTo(spi);
	}
	finsec_spi_end(&ctx);
	ok = handler != NULL && strcmp(handler, c->role) == 0 &&
		(strcmp(status, "open") == 0 || strcmp(status, "checking") == 0) &&
		finsec_credit_pseudonym_matches(subject, stored);
	if (ok)
		return true;
	if (reason_refusal_suspends(c, "dispute", ERRCODE_FINSEC_CREDIT_DISPUTE_BINDING, pseudonym))
		return false;
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_CREDIT_DISPUTE_BINDING),
			 errmsg("dispute " INT64_FORMAT " does not allow this query", c->dispute_id),
			 errdetail("A dispute query must name an open dispute of this table and subject whose handler is the caller (004 9.8 b)."),
			 errhint("See finsec.credit_dispute.")));
	return false;				/* not reached */
}

/* ---- finding and reading the records ----------------------------------- */

/* Today (finsec.deid_timezone) and the live periods of the policy's keys. */
static void
find_periods(QueryCall *c, const FinsecProtectPolicy *p)
{
	FinsecOwnerContext ctx;
	const char *tz = GetConfigOption("finsec.deid_timezone", true, false);
	Oid			types[4] = {TEXTOID, TEXTOID, INTERVALOID, TEXTOID};
	Datum		values[4];
	bool		isnull;
	DateADT		oldest;
	int32		min_period;
	MemoryContext outer = CurrentMemoryContext;

	if (tz == NULL || tz[0] == '\0')
		tz = "Asia/Shanghai";
	if (p->fp_key[0] == '\0' || !p->fp_per_period)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_PROTECT_NOT_PERIOD),
				 errmsg("protect policy \"%s\" keeps no fingerprint per period", p->name),
				 errhint("A registered credit table's policy is a period policy with fp_scope period.")));
	values[0] = CStringGetTextDatum(tz);
	values[2] = IntervalPGetDatum(&c->retention);
	finsec_spi_begin_as_owner(&ctx);
	query_execute(&plan_today, "SELECT (now() AT TIME ZONE $1)::date, "
				  "       ((now() AT TIME ZONE $1)::date - $3::interval)::date",
				  3, types, values, "  n", true, 0, SPI_OK_SELECT,
				  "could not compute the current date");
	c->today = DatumGetDateADT(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	oldest = DatumGetDateADT(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));

	/*
	 * a record of the day before that may still be live: one period earlier
	 * at most
	 */
	min_period = finsec_protect_period_of(p->period_unit, oldest - 1);

	values[0] = CStringGetTextDatum(p->fp_key);
	values[1] = CStringGetTextDatum(p->name);
	values[3] = CStringGetTextDatum(psprintf("%d", min_period));
	query_execute(&plan_periods, "SELECT substr(k.label, length($1) + 2)::integer "
				  "  FROM finsec.key k "
				  " WHERE left(k.label, length($1) + 1) = $1 || '.' "
				  "   AND substr(k.label, length($1) + 2) ~ '^[0-9]{4,8}$' "
				  "   AND substr(k.label, length($1) + 2)::integer >= $4::integer "
				  "   AND EXISTS (SELECT 1 FROM finsec.key_version v "
				  "                WHERE v.key_id = k.key_id AND v.state IN ('active', 'retired')) "
				  "   AND NOT EXISTS (SELECT 1 FROM finsec.protect_shredded s "
				  "                    WHERE s.policy_name = $2 "
				  "                      AND s.period = substr(k.label, length($1) + 2)::integer) "
				  " ORDER BY 1",
				  4, types, values, "  n ", true, 0, SPI_OK_SELECT,
				  "could not read the period keys");
	c->nperiods = (int) SPI_processed;
	c->periods = MemoryContextAlloc(outer, sizeof(int32) * Max(c->nperiods, 1));
	for (int i = 0; i < c->nperiods; i++)
		c->periods[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	finsec_spi_end(&ctx);
}

/*
 * The subject in its canonical clear form (the type's own input under the
 * column's policy validates and normalises it, then it is opened):
 * palloc'd, the caller zeroizes it.
 */
static char *
canonical_subject(QueryCall *c, const char *subject, size_t *len)
{
	Oid			infunc;
	Oid			ioparam;
	Datum		v;
	struct varlena *val;
	char	   *plain = NULL;

	getTypeInputInfo(c->subject_typid, &infunc, &ioparam);
	v = OidInputFunctionCall(infunc, (char *) subject, ioparam, c->policy_id);
	val = PG_DETOAST_DATUM(v);
	c->subject_kind = finsec_protect_kind(val);
	if (finsec_protect_open(val, &plain, len) != FINSEC_PROTECT_OPEN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_SUBJECT),
				 errmsg("the subject could not be sealed and opened under the table's policy"),
				 errhint("Check the policy's base keys (docs/protected-data.md, \"Keys\").")));
	return plain;
}

/* The output of a column value: masked for protected values. */
static char *
column_text(const FinsecCreditColumn *col, Datum value)
{
	char	   *out = finsec_trusted_output(col->typid, value);

	switch (col->role)
	{
		case FINSEC_CREDIT_SUBJECT:
		case FINSEC_CREDIT_IDENTIFIER:
		case FINSEC_CREDIT_QUASI_IDENTIFIER:
		case FINSEC_CREDIT_SENSITIVE:
			{
				/*
				 * "<mask>~fp1.<payload>": the mask only, never the sealed
				 * form
				 */
				char	   *mark = strstr(out, "~fp1.");

				if (mark)
					*mark = '\0';
				break;
			}
		default:
			break;
	}
	return out;
}

/*
 * The live records of the subject: probes (the subject sealed under each
 * live period) against the subject column, records whose own retention
 * ended excluded; read as the table's owner within
 * finsec_credit_read_begin/end.  Returns a List of QueryRecord.
 */
static List *
read_records(QueryCall *c, const char *plain, size_t len)
{
	const FinsecProtectPolicy *p = finsec_protect_policy(c->policy_id);
	Datum	   *probes;
	ArrayType  *arr;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Oid			arraytype = get_array_type(c->subject_typid);
	StringInfoData sql;
	FinsecTableOwnerContext tctx;
	Oid			types[3];
	Datum		values[3];
	List	   *records = NIL;
	MemoryContext outer = CurrentMemoryContext;
	const char *subject_name = NULL;
	const char *be_name = NULL;
	FinsecProtectKind kind;
	uint64		n;
	HeapTuple  *rows;
	TupleDesc	desc;

	if (c->nperiods == 0)
		return NIL;
	if (!OidIsValid(arraytype))
		elog(ERROR, "protected type %u has no array type", c->subject_typid);

	kind = c->subject_kind;
	probes = palloc(sizeof(Datum) * c->nperiods);
	for (int i = 0; i < c->nperiods; i++)
		probes[i] = PointerGetDatum(finsec_protect_seal(kind, p, c->periods[i], plain, len));
	get_typlenbyvalalign(c->subject_typid, &typlen, &typbyval, &typalign);
	arr = construct_array(probes, c->nperiods, c->subject_typid, typlen, typbyval, typalign);

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (int i = 0; i < c->ncolumns; i++)
	{
		if (i > 0)
			appendStringInfoString(&sql, ", ");
		appendStringInfoString(&sql, quote_identifier(c->columns[i].name));
		if (c->columns[i].attnum == c->subject_attnum)
			subject_name = c->columns[i].name;
		if (c->columns[i].attnum == c->behaviour_end_attnum)
			be_name = c->columns[i].name;
	}
	if (subject_name == NULL || be_name == NULL)
		elog(ERROR, "registration of %s lacks its subject or behaviour_end column", c->relname);
	appendStringInfo(&sql, " FROM ONLY %s WHERE %s OPERATOR(pg_catalog.=) ANY ($1)"
					 " AND (%s OPERATOR(pg_catalog.+) $3) OPERATOR(pg_catalog.>=) $2",
					 c->relname, quote_identifier(subject_name), quote_identifier(be_name));
	types[0] = arraytype;
	values[0] = PointerGetDatum(arr);
	types[1] = TIMESTAMPOID;
	values[1] = TimestampGetDatum(date2timestamp_no_overflow(c->today));
	types[2] = INTERVALOID;
	values[2] = IntervalPGetDatum(&c->retention);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	finsec_begin_table_owner(c->relid, &tctx);
	finsec_credit_read_begin();
	PG_TRY();
	{
		if (plan_read != NULL &&
			(plan_read_type != arraytype || strcmp(plan_read_sql, sql.data) != 0))
		{
			SPI_freeplan(plan_read);
			plan_read = NULL;
		}
		if (plan_read == NULL)
		{
			if (plan_read_sql)
				pfree(plan_read_sql);
			plan_read_sql = MemoryContextStrdup(TopMemoryContext, sql.data);
			plan_read_type = arraytype;
		}
		query_execute(&plan_read, sql.data, 3, types, values, NULL, true, 0, SPI_OK_SELECT,
					  "could not read the registered table");
	}
	PG_FINALLY();
	{
		/* never leave the read permission open (a caller's savepoint) */
		finsec_credit_read_end();
	}
	PG_END_TRY();
	finsec_end_table_owner(&tctx);
	/* copy the rows out of SPI's memory, then output them as the caller */
	n = SPI_processed;
	{
		MemoryContext spi = MemoryContextSwitchTo(outer);

		desc = CreateTupleDescCopy(SPI_tuptable->tupdesc);
		rows = palloc(sizeof(HeapTuple) * Max(n, 1));
		for (uint64 i = 0; i < n; i++)
			rows[i] = heap_copytuple(SPI_tuptable->vals[i]);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();

	for (uint64 r = 0; r < n; r++)
	{
		QueryRecord *rec = palloc0(sizeof(QueryRecord));
		StringInfoData j;
		bool		first = true;

		initStringInfo(&j);
		appendStringInfoChar(&j, '{');
		for (int i = 0; i < c->ncolumns; i++)
		{
			bool		isnull;
			Datum		d = heap_getattr(rows[r], i + 1, desc, &isnull);
			char	   *val = isnull ? NULL : column_text(&c->columns[i], d);

			json_text(&j, &first, c->columns[i].name, val);
			if (c->columns[i].attnum == c->key_attnum)
				rec->key = val ? pstrdup(val) : pstrdup("");

			if (c->institution_attnum != 0 && c->columns[i].attnum == c->institution_attnum &&
				val && c->institution && strcmp(val, c->institution) == 0)
				rec->own_institution = true;
		}
		appendStringInfoChar(&j, '}');
		rec->json = j.data;
		records = lappend(records, rec);
	}
	return records;
}

/* Mark the records under dispute and attach their disputes. */
static void
attach_disputes(QueryCall *c, List *records)
{
	FinsecOwnerContext ctx;
	Oid			types[2] = {OIDOID, TEXTARRAYOID};
	Datum		values[2];
	Datum	   *keys;
	int			i = 0;
	ListCell   *lc;
	MemoryContext outer = CurrentMemoryContext;

	if (records == NIL)
		return;
	keys = palloc(sizeof(Datum) * list_length(records));
	foreach(lc, records)
		keys[i++] = CStringGetTextDatum(((QueryRecord *) lfirst(lc))->key);
	values[0] = ObjectIdGetDatum(c->relid);
	values[1] = PointerGetDatum(construct_array(keys, i, TEXTOID, -1, false, TYPALIGN_INT));
	finsec_spi_begin_as_owner(&ctx);
	query_execute(&plan_disputes, "SELECT d.record_key, bool_or(d.status IN ('open', 'checking')), "
				  "       jsonb_agg(jsonb_build_object('id', d.id, 'status', d.status, "
				  "                 'received_at', d.received_at, 'due_at', d.due_at, "
				  "                 'closed_at', d.closed_at) ORDER BY d.id)::text "
				  "  FROM finsec.credit_dispute d "
				  " WHERE d.relid = $1::regclass AND d.record_key = ANY ($2) "
				  " GROUP BY d.record_key",
				  2, types, values, NULL, true, 0, SPI_OK_SELECT,
				  "could not read finsec.credit_dispute");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		char	   *key = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
		bool		isnull;
		bool		open = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
		char	   *list = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 3);

		foreach(lc, records)
		{
			QueryRecord *rec = lfirst(lc);

			if (strcmp(rec->key, key) == 0)
			{
				rec->under_dispute = open;
				rec->disputes = MemoryContextStrdup(outer, list);
			}
		}
	}
	finsec_spi_end(&ctx);

	/*
	 * The subject's personal statements (dispute part: unconfirmed disputes),
	 * on their dispute's entry: "statement" (clear text, null once shredded)
	 * and "statement_shredded".
	 */
	foreach(lc, records)
	{
		QueryRecord *rec = lfirst(lc);
		Jsonb	   *st;
		char	   *st_text;
		Oid			t2[2] = {JSONBOID, JSONBOID};
		Datum		v2[2];

		if (rec->disputes == NULL)
			continue;
		st = finsec_credit_statements(c->relid, rec->key);
		st_text = JsonbToCString(NULL, &st->root, VARSIZE(st));
		if (strcmp(st_text, "[]") == 0)
			continue;
		v2[0] = JsonbPGetDatum(json_to_jsonb(rec->disputes));
		v2[1] = JsonbPGetDatum(st);
		finsec_spi_begin_as_owner(&ctx);
		finsec_spi_execute("SELECT jsonb_agg(d.value || coalesce((SELECT jsonb_build_object("
						   "       'statement', s.value -> 'statement', 'statement_shredded', s.value -> 'shredded') "
						   "  FROM jsonb_array_elements($2) s "
						   " WHERE s.value ->> 'dispute_id' = d.value ->> 'id' LIMIT 1), '{}'::jsonb) "
						   " ORDER BY d.ordinality)::text "
						   "  FROM jsonb_array_elements($1) WITH ORDINALITY d",
						   2, t2, v2, NULL, true, 0, SPI_OK_SELECT,
						   "could not attach the personal statements");
		rec->disputes = MemoryContextStrdup(outer, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
		finsec_spi_end(&ctx);
		explicit_bzero(st_text, strlen(st_text));
	}
}

/* The log row (same transaction) and the durable ledger row of one call. */
static void
log_query(QueryCall *c, const char *pseudonym, int nrows, bool foreign, int64 batch_id)
{
	FinsecOwnerContext ctx;
	Oid			types[9] = {TEXTOID, NAMEOID, INETOID, TEXTOID, TEXTOID, OIDOID, INT4OID, INT8OID, INT8OID};
	Datum		values[9];
	char		nulls[9] = "         ";
	bool		isnull;
	int64		log_id;
	char	   *row_hash;
	MemoryContext outer = CurrentMemoryContext;
	StringInfoData s;
	bool		first = true;

	values[0] = CStringGetTextDatum(c->institution);
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(c->role));
	if (c->has_client_address)
		values[2] = c->client_address;
	else
		nulls[2] = 'n';
	values[3] = CStringGetTextDatum(c->reason);
	values[4] = CStringGetTextDatum(pseudonym);
	values[5] = ObjectIdGetDatum(c->relid);
	values[6] = Int32GetDatum(nrows);
	values[7] = Int64GetDatum(c->dispute_id);
	if (c->dispute_id == 0)
		nulls[7] = 'n';
	values[8] = Int64GetDatum(batch_id);
	if (batch_id == 0)
		nulls[8] = 'n';
	finsec_spi_begin_as_owner(&ctx);
	query_execute(&plan_log, "INSERT INTO finsec.credit_query_log AS l (institution, user_name, session_user_name, "
				  "       client_addr, client_address, reason, subject_pseudonym, relid, rows_returned, "
				  "       dispute_id, batch_id, outcome) "
				  "VALUES ($1, $2, session_user, inet_client_addr(), $3, $4, $5, $6::regclass, $7, $8, $9, 'ok') "
				  "RETURNING l.id, finsec.credit_query_log_hash(l)",
				  9, types, values, nulls, false, 0, SPI_OK_INSERT_RETURNING,
				  "could not write finsec.credit_query_log");
	log_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	row_hash = MemoryContextStrdup(outer, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
	finsec_spi_end(&ctx);

	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	json_int(&s, &first, "log_id", log_id);
	json_text(&s, &first, "log_sha256", row_hash);
	call_detail(&s, &first, c);
	json_text(&s, &first, "subject", pseudonym);
	json_int(&s, &first, "rows", nrows);
	if (c->institution_attnum != 0)
	{
		json_key(&s, &first, "foreign");
		appendStringInfoString(&s, foreign ? "true" : "false");
	}
	if (batch_id)
		json_int(&s, &first, "batch_id", batch_id);
	appendStringInfoChar(&s, '}');
	finsec_audit_event_durable("credit.query", c->relname, "query", true, NULL, json_to_jsonb(s.data));
	cq_note_query(c, pseudonym, c->institution_attnum != 0 && foreign);
}

/*
 * One subject: probe, count, read, mark, log.  Returns the records, or
 * NIL with *suspended when the call crossed a threshold.
 */
static List *
query_subject(QueryCall *c, const char *subject, int64 batch_id, bool *suspended, bool check_binding)
{
	char	   *plain = NULL;
	size_t		len = 0;
	char	   *pseudonym = NULL;
	List	   *records = NIL;
	bool		foreign = false;

	*suspended = false;
	if (subject == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the subject of a credit query must not be null")));
	if (subject[0] == '\0' || strlen(subject) > SUBJECT_MAX_LEN)
	{
		record_refusal(c, "subject", ERRCODE_FINSEC_CREDIT_SUBJECT, NULL);
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_SUBJECT),
				 errmsg("the subject of a credit query must be 1 to %d bytes", SUBJECT_MAX_LEN),
				 errhint("Pass the subject's identifier as the table's subject column holds it.")));
	}

	PG_TRY();
	{
		plain = canonical_subject(c, subject, &len);
		pseudonym = finsec_credit_pseudonym(plain);
		if (check_binding && !check_dispute(c, plain, pseudonym))
			*suspended = true;
		if (!*suspended)
		{
			QueryCounts counts;

			count_last_hour(c, pseudonym, &counts);
			if (counts.other_subjects + 1 > finsec_credit_query_max_subjects)
			{
				suspend_user(c, "distinct subjects", counts.other_subjects + 1,
							 finsec_credit_query_max_subjects);
				*suspended = true;
			}
			else
			{
				ListCell   *lc;

				records = read_records(c, plain, len);
				if (c->dispute_record)
				{
					/* a handler sees the disputed record only (004 9.8 b) */
					List	   *kept = NIL;

					foreach(lc, records)
						if (strcmp(((QueryRecord *) lfirst(lc))->key, c->dispute_record) == 0)
						kept = lappend(kept, lfirst(lc));
					records = kept;
				}
				if (c->institution_attnum != 0)
				{
					foreign = true;
					foreach(lc, records)
						if (((QueryRecord *) lfirst(lc))->own_institution)
						foreign = false;
				}
				if (foreign && counts.other_foreign + 1 > finsec_credit_query_max_foreign)
				{
					suspend_user(c, "subjects without a record of the user's institution",
								 counts.other_foreign + 1, finsec_credit_query_max_foreign);
					*suspended = true;
					records = NIL;
				}
			}
		}
	}
	PG_FINALLY();
	{
		if (plain)
		{
			explicit_bzero(plain, len);
			pfree(plain);
		}
	}
	PG_END_TRY();
	if (*suspended)
		return NIL;
	attach_disputes(c, records);
	log_query(c, pseudonym, list_length(records), foreign, batch_id);
	return records;
}

static void
init_call(QueryCall *c, FunctionCallInfo fcinfo, int client_arg)
{
	memset(c, 0, sizeof(*c));
	finsec_require_preload("finsec.credit_query()");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the table of a credit query must not be null")));
	if (!PG_ARGISNULL(client_arg))
	{
		c->has_client_address = true;
		c->client_address = PG_GETARG_DATUM(client_arg);
	}
}

static void
put_record(Tuplestorestate *ts, TupleDesc desc, QueryRecord *rec, int subject_index)
{
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	int			i = 0;

	if (subject_index > 0)
		values[i++] = Int32GetDatum(subject_index);
	values[i++] = CStringGetTextDatum(rec->key);
	values[i++] = JsonbPGetDatum(json_to_jsonb(rec->json));
	values[i++] = BoolGetDatum(rec->under_dispute);
	if (rec->disputes)
		values[i] = JsonbPGetDatum(json_to_jsonb(rec->disputes));
	else
		nulls[i] = true;
	tuplestore_putvalues(ts, desc, values, nulls);
}

PG_FUNCTION_INFO_V1(finsec_credit_query);

/*
 * finsec.credit_query(tbl regclass, subject text, reason text,
 *	 dispute_id bigint, client_address inet)
 *	 RETURNS TABLE (record_key text, record jsonb, under_dispute boolean, disputes jsonb)
 */
Datum
finsec_credit_query(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	QueryCall	c;
	List	   *records;
	bool		suspended;
	ListCell   *lc;

	init_call(&c, fcinfo, 4);
	if (!PG_ARGISNULL(3))
	{
		c.dispute_id = PG_GETARG_INT64(3);
		if (c.dispute_id <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a dispute id is a positive number")));
	}
	InitMaterializedSRF(fcinfo, 0);
	if (!check_caller(&c, PG_GETARG_OID(0)))
		PG_RETURN_NULL();
	if (!check_reason(&c, PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2))))
		PG_RETURN_NULL();
	find_periods(&c, finsec_protect_policy(c.policy_id));
	records = query_subject(&c, PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)),
							0, &suspended, true);
	foreach(lc, records)
		put_record(rsinfo->setResult, rsinfo->setDesc, lfirst(lc), 0);
	PG_RETURN_NULL();
}

PG_FUNCTION_INFO_V1(finsec_credit_batch_query);

/*
 * finsec.credit_batch_query(tbl regclass, request_name text, request bytea,
 *	 subjects text[], reason text, client_address inet)
 *	 RETURNS TABLE (subject_index integer, record_key text, record jsonb,
 *	 under_dispute boolean, disputes jsonb)
 *
 * The batch row (name, SHA-256 of the request file, counts) is written
 * after the subjects are read, before any row is returned; each subject's
 * log row names the batch.
 */
Datum
finsec_credit_batch_query(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	QueryCall	c;
	char	   *request_name;
	bytea	   *request;
	ArrayType  *subjects;
	Datum	   *elems;
	bool	   *enulls;
	int			nelems;
	List	  **found;
	int			nfound = 0;
	int			nrows = 0;
	int64		batch_id;
	unsigned char digest[32];
	char		hex[65];
	FinsecOwnerContext ctx;
	bool		isnull;

	init_call(&c, fcinfo, 5);
	c.batch = true;
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a batch credit query needs the request's name, the request file and its subjects")));
	request_name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	request = PG_GETARG_BYTEA_PP(2);
	subjects = PG_GETARG_ARRAYTYPE_P(3);
	if (request_name[0] == '\0' || strlen(request_name) > 255)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_BATCH),
				 errmsg("the request name must be 1 to 255 bytes")));
	if (ARR_NDIM(subjects) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_BATCH),
				 errmsg("the subjects of a batch query are a one-dimensional array")));
	deconstruct_array(subjects, TEXTOID, -1, false, TYPALIGN_INT, &elems, &enulls, &nelems);
	if (nelems == 0 || nelems > BATCH_MAX_SUBJECTS)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_BATCH),
				 errmsg("a batch query has 1 to %d subjects", BATCH_MAX_SUBJECTS),
				 errdetail("It has %d.", nelems)));
	for (int i = 0; i < nelems; i++)
		if (enulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("subject %d of the batch is null", i + 1)));

	InitMaterializedSRF(fcinfo, 0);
	if (!check_caller(&c, PG_GETARG_OID(0)))
		PG_RETURN_NULL();
	if (!check_reason(&c, PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4))))
		PG_RETURN_NULL();
	find_periods(&c, finsec_protect_policy(c.policy_id));

	/* the batch's id first: every log row names it */
	finsec_spi_begin_as_owner(&ctx);
	finsec_spi_execute("SELECT nextval('finsec.credit_query_batch_id_seq')", 0, NULL, NULL, NULL, false, 0,
					   SPI_OK_SELECT, "could not allocate a batch id");
	batch_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	finsec_spi_end(&ctx);

	found = palloc0(sizeof(List *) * nelems);
	for (int i = 0; i < nelems; i++)
	{
		bool		suspended;
		char	   *subject = TextDatumGetCString(elems[i]);

		found[i] = query_subject(&c, subject, batch_id, &suspended, false);
		explicit_bzero(subject, strlen(subject));
		if (suspended)
			PG_RETURN_NULL();	/* nothing returned; the log rows so far stay */
		if (found[i] != NIL)
			nfound++;
		nrows += list_length(found[i]);
	}

	{
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		unsigned int dlen = 0;

		if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
			EVP_DigestUpdate(md, VARDATA_ANY(request), VARSIZE_ANY_EXHDR(request)) != 1 ||
			EVP_DigestFinal_ex(md, digest, &dlen) != 1)
			elog(ERROR, "SHA-256 failed");
		EVP_MD_CTX_free(md);
		hex_encode((char *) digest, 32, hex);
		hex[64] = '\0';
	}
	{
		Oid			types[10] = {INT8OID, TEXTOID, NAMEOID, OIDOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, INT4OID, INT4OID};
		Datum		values[10];
		StringInfoData s;
		bool		first = true;
		char	   *row_hash;
		MemoryContext outer = CurrentMemoryContext;

		values[0] = Int64GetDatum(batch_id);
		values[1] = CStringGetTextDatum(c.institution);
		values[2] = DirectFunctionCall1(namein, CStringGetDatum(c.role));
		values[3] = ObjectIdGetDatum(c.relid);
		values[4] = CStringGetTextDatum(request_name);
		values[5] = CStringGetTextDatum(hex);
		values[6] = CStringGetTextDatum(c.reason);
		values[7] = Int32GetDatum(nelems);
		values[8] = Int32GetDatum(nfound);
		values[9] = Int32GetDatum(nrows);
		finsec_spi_begin_as_owner(&ctx);
		finsec_spi_execute("INSERT INTO finsec.credit_query_batch AS b "
						   "       (id, institution, user_name, relid, request_name, request_sha256, "
						   "        reason, requested, found, rows_returned) OVERRIDING SYSTEM VALUE "
						   "VALUES ($1, $2, $3, $4::regclass, $5, $6, $7, $8, $9, $10) "
						   "RETURNING finsec.credit_query_batch_hash(b)",
						   10, types, values, NULL, false, 0, SPI_OK_INSERT_RETURNING,
						   "could not write finsec.credit_query_batch");
		row_hash = MemoryContextStrdup(outer, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
		finsec_spi_end(&ctx);

		initStringInfo(&s);
		appendStringInfoChar(&s, '{');
		json_int(&s, &first, "batch_id", batch_id);
		call_detail(&s, &first, &c);
		json_text(&s, &first, "request_sha256", hex);
		json_text(&s, &first, "batch_sha256", row_hash);
		json_int(&s, &first, "requested", nelems);
		json_int(&s, &first, "found", nfound);
		json_int(&s, &first, "rows", nrows);
		appendStringInfoChar(&s, '}');
		finsec_audit_event_durable("credit.batch_query", c.relname, "query", true, NULL,
								   json_to_jsonb(s.data));
	}

	for (int i = 0; i < nelems; i++)
	{
		ListCell   *lc;

		foreach(lc, found[i])
			put_record(rsinfo->setResult, rsinfo->setDesc, lfirst(lc), i + 1);
	}
	PG_RETURN_NULL();
}

/* ---- settings ---------------------------------------------------------- */

void
finsec_credit_query_define_settings(void)
{
	DefineCustomIntVariable("finsec.credit_query_max_subjects",
							"Distinct subjects a credit user may query per hour before its query right is suspended.",
							"Counted from the ledger (rolled-back queries too). Set per role with ALTER ROLE ... SET "
							"by a superuser, e.g. for a batch user.",
							&finsec_credit_query_max_subjects,
							200, 1, 10000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.credit_query_max_refusals",
							"Credit queries refused for their reason or dispute a user may make per hour before its query right is suspended.",
							NULL,
							&finsec_credit_query_max_refusals,
							20, 1, 10000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.credit_query_max_foreign",
							"Distinct subjects without a record of the user's institution a credit user may query per hour before its query right is suspended.",
							"Only for tables registered with an institution column.",
							&finsec_credit_query_max_foreign,
							50, 1, 10000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
}

void
finsec_credit_query_init(void)
{
	finsec_hooks_register_shmem(FINSEC_SHMEM_CREDIT_QUERY, cq_shmem_request,
								cq_shmem_startup);
}
