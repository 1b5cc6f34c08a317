/*-------------------------------------------------------------------------
 *
 * store.c
 *	  The limit trigger's direct access to finsec's own tables:
 *	  finsec.limit_usage (read and written once or twice per payment),
 *	  finsec.limit_account (read per payment while it has rows) and
 *	  finsec.limit_table (read when configuration changes).
 *
 * A payment's usage row is found through the primary key index and
 * updated in place with the table access method, as the executor would do
 * for "UPDATE ... WHERE key = ..." but without planning, executor start-up
 * or a user switch per row: the trigger is finsec's code, and these tables
 * are finsec's.  The semantics are those of PostgreSQL's own UPDATE:
 *
 *	- READ COMMITTED: the row is read with a fresh snapshot; if another
 *	  transaction changes it first, the update waits for that transaction
 *	  and, if it committed, starts over from the row's newest version, so
 *	  concurrent payments of one payer add up (no lost update) and each one
 *	  is checked against the totals including every payment committed
 *	  before it;
 *	- REPEATABLE READ and SERIALIZABLE: the row is read with the
 *	  transaction's snapshot; a change committed after that snapshot is a
 *	  serialization failure (SQLSTATE 40001), to be retried by the
 *	  application, as for any UPDATE.
 *
 * A payer's first usage row is inserted under a short lock on the row's
 * key (an object lock: class finsec.limit_usage, object id a hash of the
 * key, visible in pg_locks while held), so that two first payments of one
 * payer queue instead of colliding on the primary key: the second finds
 * the first's uncommitted row and waits for its transaction, as
 * INSERT ... ON CONFLICT would.
 *
 * Every change is an ordinary heap change: WAL-logged, crash-safe,
 * replicated, undone by rollback.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/heap.h"
#include "catalog/index.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_class.h"
#include "commands/extension.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_trigger.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "catalog/pg_proc.h"
#include "utils/syscache.h"
#include "utils/acl.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "nodes/plannodes.h"
#include "parser/parse_relation.h"
#include "parser/parse_type.h"
#include "parser/parsetree.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "finsec.h"
#include "finsec_apptable.h"
#include "finsec_hooks.h"
#include "finsec_limits.h"
#include "finsec_trigger.h"
#include "limits_internal.h"

/* Columns of finsec.limit_usage, by name; attribute numbers found at first use. */
enum
{
	U_RELID, U_SUBJECT, U_BUCKET, U_DAY, U_DAY_AMOUNT, U_DAY_COUNT, U_YEAR,
	U_YEAR_AMOUNT, U_YEAR_COUNT, U_LIFE_AMOUNT, U_LIFE_COUNT, U_FLUSHED_AT, U_N
};
static const char *const usage_cols[U_N] = {
	"relid", "subject", "bucket", "day", "day_amount", "day_count", "year",
	"year_amount", "year_count", "life_amount", "life_count", "flushed_at"
};

enum
{
	A_ACCOUNT, A_STATE, A_CLASS, A_RESTRICTED, A_HOLD, A_N
};
static const char *const account_cols[A_N] = {
	"account", "state", "account_class", "restricted_kinds", "hold_settlement"
};

static bool store_valid = false;
static bool store_callback = false;
static FinsecRelid usage_id = FINSEC_RELID_INIT("finsec", "limit_usage_flushed");
static FinsecRelid usage_pkey_id = FINSEC_RELID_INIT("finsec", "limit_usage_flushed_pkey");
static FinsecRelid account_id = FINSEC_RELID_INIT("finsec", "limit_account");
static FinsecRelid account_pkey_id = FINSEC_RELID_INIT("finsec", "limit_account_pkey");
static FinsecRelid table_id = FINSEC_RELID_INIT("finsec", "limit_table");
static Oid	usage_rel = InvalidOid; /* their OIDs, as store_init() last found
									 * them */
static Oid	usage_pkey = InvalidOid;
static Oid	account_rel = InvalidOid;
static Oid	account_pkey = InvalidOid;
static Oid	table_rel = InvalidOid;
static AttrNumber u_att[U_N];
static AttrNumber a_att[A_N];
static AttrNumber t_relid_att;
static int	accounts_empty = -1;
static bool limit_table_contains(Oid relid);	/* -1: not known */

static void
store_invalidate(Datum arg, Oid relid)
{
	if (finsec_relid_matches(&account_id, relid))
		accounts_empty = -1;
	if (finsec_relid_matches(&usage_id, relid) || finsec_relid_matches(&account_id, relid) ||
		finsec_relid_matches(&table_id, relid) || finsec_relid_matches(&usage_pkey_id, relid) ||
		finsec_relid_matches(&account_pkey_id, relid))
		store_valid = false;
}

static Oid
finsec_rel(FinsecRelid *r)
{
	Oid			relid = finsec_relid(r);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"finsec.%s\" does not exist", r->relname),
				 errhint("The finsec extension is not installed in this database, or not at version 0.6 or later.")));
	return relid;
}

static AttrNumber
finsec_att(Oid relid, const char *name)
{
	AttrNumber	att = get_attnum(relid, name);

	if (att == InvalidAttrNumber)
		elog(ERROR, "column \"%s\" of finsec's relation %u is missing", name, relid);
	return att;
}

static void
store_init(void)
{
	int			i;

	if (store_valid)
		return;
	if (!store_callback)
	{
		finsec_register_relcache_callback(store_invalidate, (Datum) 0);
		store_callback = true;
	}
	usage_rel = finsec_rel(&usage_id);
	usage_pkey = finsec_rel(&usage_pkey_id);
	account_rel = finsec_rel(&account_id);
	account_pkey = finsec_rel(&account_pkey_id);
	table_rel = finsec_rel(&table_id);
	for (i = 0; i < U_N; i++)
		u_att[i] = finsec_att(usage_rel, usage_cols[i]);
	for (i = 0; i < A_N; i++)
		a_att[i] = finsec_att(account_rel, account_cols[i]);
	t_relid_att = finsec_att(table_rel, "relid");
	store_valid = true;
}

/* An equality scan key on a text column of an index, in the index's collation. */
static void
text_key(ScanKey key, Relation idx, AttrNumber indexatt, text *value)
{
	ScanKeyInit(key, indexatt, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(value));
	key->sk_collation = idx->rd_indcollation[indexatt - 1];
}

/* The row the keys name, as the snapshot sees it, into slot; false if none. */
static bool
fetch_by_key(Relation rel, Relation idx, ScanKey keys, int nkeys, Snapshot snap,
			 TupleTableSlot *slot)
{
	IndexScanDesc scan = index_beginscan(rel, idx, snap, nkeys, 0);
	bool		found;

	index_rescan(scan, keys, nkeys, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	return found;
}

/*
 * New index entries for a tuple just written: inserted, or updated without
 * HOT.  An update never changes a usage row's key, which stays unique
 * under the row lock the update holds: no uniqueness check is needed then,
 * and the index is told the key is unchanged (bottom-up deletion of the
 * old versions' entries).
 */
static void
insert_index_entries(Relation rel, TupleTableSlot *slot, bool update)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;

	foreach(lc, indexes)
	{
		Relation	irel = index_open(lfirst_oid(lc), RowExclusiveLock);
		IndexInfo  *ii = BuildIndexInfo(irel);
		Datum		values[INDEX_MAX_KEYS];
		bool		isnull[INDEX_MAX_KEYS];

		if (ii->ii_Expressions != NIL || ii->ii_Predicate != NIL)
			elog(ERROR, "index \"%s\" of a finsec table has expressions or a predicate",
				 RelationGetRelationName(irel));
		FormIndexDatum(ii, slot, NULL, values, isnull);
		index_insert(irel, values, isnull, &slot->tts_tid, rel,
					 irel->rd_index->indisunique && !update ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO,
					 update, ii);
		index_close(irel, NoLock);
	}
	list_free(indexes);
}

void
finsec_limit_serialization_failure(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("could not serialize access due to concurrent update"),
			 errdetail("A concurrent payment of the same payer changed its limit usage after this transaction's snapshot was taken."),
			 errhint("Retry the transaction.")));
}

/* ---- numeric helpers ------------------------------------------------------ */

static Datum
numeric_zero(void)
{
	return DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
}

/* GREATEST(base + delta, 0) */
static Datum
add_floor0(Datum base, Datum delta, Datum zero)
{
	Datum		sum = DirectFunctionCall2(numeric_add, base, delta);

	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, sum, zero)) < 0)
		return zero;
	return sum;
}

/* ---- usage ------------------------------------------------------------- */

/* A usage row's totals (the slot's own datums, not copied). */
static void
totals_from_slot(TupleTableSlot *slot, LimitTotals *t)
{
	Datum	   *v;

	slot_getallattrs(slot);
	v = slot->tts_values;
	t->present = true;
	t->day = DatumGetDateADT(v[u_att[U_DAY] - 1]);
	t->year = DatumGetInt32(v[u_att[U_YEAR] - 1]);
	t->amount[0] = v[u_att[U_DAY_AMOUNT] - 1];
	t->amount[1] = v[u_att[U_YEAR_AMOUNT] - 1];
	t->amount[2] = v[u_att[U_LIFE_AMOUNT] - 1];
	t->count[0] = DatumGetInt64(v[u_att[U_DAY_COUNT] - 1]);
	t->count[1] = DatumGetInt64(v[u_att[U_YEAR_COUNT] - 1]);
	t->count[2] = DatumGetInt64(v[u_att[U_LIFE_COUNT] - 1]);
}

/*
 * Add a payment to totals: the one place that knows how days and years
 * roll over.  A payment stamped before the totals' day (clock skew) counts
 * in that day.  The new amounts are fresh allocations in the current
 * memory context; the old ones are left to the caller.
 */
void
finsec_limit_totals_add(LimitTotals *t, DateADT day, int32 year, Datum delta, int64 count)
{
	Datum		zero = numeric_zero();
	bool		same_day = t->day >= day;
	bool		same_year = t->year >= year;
	int			i;

	t->amount[0] = add_floor0(same_day ? t->amount[0] : zero, delta, zero);
	t->amount[1] = add_floor0(same_year ? t->amount[1] : zero, delta, zero);
	t->amount[2] = add_floor0(t->amount[2], delta, zero);
	for (i = 0; i < 3; i++)
		if (t->amount[i] == zero)
			t->amount[i] = numeric_zero();
	pfree(DatumGetPointer(zero));
	t->count[0] = (same_day ? t->count[0] : 0) + count;
	t->count[1] = (same_year ? t->count[1] : 0) + count;
	t->count[2] += count;
	t->day = Max(t->day, day);
	t->year = Max(t->year, year);
}

/* Fill "next" with the usage row "old" carrying the given totals. */
static void
slot_with_totals(TupleTableSlot *old, TupleTableSlot *next, const LimitTotals *t)
{
	int			natts = next->tts_tupleDescriptor->natts;
	Datum	   *nv = next->tts_values;

	slot_getallattrs(old);
	ExecClearTuple(next);
	memcpy(nv, old->tts_values, sizeof(Datum) * natts);
	memcpy(next->tts_isnull, old->tts_isnull, sizeof(bool) * natts);
	nv[u_att[U_DAY] - 1] = DateADTGetDatum(t->day);
	nv[u_att[U_YEAR] - 1] = Int32GetDatum(t->year);
	nv[u_att[U_DAY_AMOUNT] - 1] = t->amount[0];
	nv[u_att[U_YEAR_AMOUNT] - 1] = t->amount[1];
	nv[u_att[U_LIFE_AMOUNT] - 1] = t->amount[2];
	nv[u_att[U_DAY_COUNT] - 1] = Int64GetDatum(t->count[0]);
	nv[u_att[U_YEAR_COUNT] - 1] = Int64GetDatum(t->count[1]);
	nv[u_att[U_LIFE_COUNT] - 1] = Int64GetDatum(t->count[2]);
	ExecStoreVirtualTuple(next);
}

/* Fill "next" with a subject's first usage row. */
static void
usage_first(TupleTableSlot *next, Oid relid, text *subject, text *bucket, DateADT day,
			int32 year, Datum delta, int64 count, Datum zero)
{
	int			natts = next->tts_tupleDescriptor->natts;
	Datum	   *nv = next->tts_values;
	Datum		amount = add_floor0(zero, delta, zero);

	ExecClearTuple(next);
	memset(next->tts_isnull, true, sizeof(bool) * natts);
#define SET(col, v) (nv[u_att[col] - 1] = (v), next->tts_isnull[u_att[col] - 1] = false)
	SET(U_RELID, ObjectIdGetDatum(relid));
	SET(U_SUBJECT, PointerGetDatum(subject));
	SET(U_BUCKET, PointerGetDatum(bucket));
	SET(U_DAY, DateADTGetDatum(day));
	SET(U_DAY_AMOUNT, amount);
	SET(U_DAY_COUNT, Int64GetDatum(count));
	SET(U_YEAR, Int32GetDatum(year));
	SET(U_YEAR_AMOUNT, amount);
	SET(U_YEAR_COUNT, Int64GetDatum(count));
	SET(U_LIFE_AMOUNT, amount);
	SET(U_LIFE_COUNT, Int64GetDatum(count));
#undef SET
	ExecStoreVirtualTuple(next);
}

/* Add a payment to its usage row in the table; *tid: the row's new version. */
static void
usage_write(Oid relid, const char *subject, const char *bucket, DateADT day, int32 year,
			Datum delta, int64 count, LimitTotals *t, ItemPointer tid)
{
	Relation	urel,
				uidx;
	TupleTableSlot *old,
			   *next;
	ScanKeyData keys[3];
	text	   *subj = cstring_to_text(subject);
	text	   *buck = cstring_to_text(bucket);
	bool		xact_snapshot = IsolationUsesXactSnapshot();
	bool		have_lock_id = false;
	uint32		lock_id = 0;
	Datum		zero = numeric_zero();
	int			attempts = 0;
	int			i;

	store_init();
	urel = table_open(usage_rel, RowExclusiveLock);
	uidx = index_open(usage_pkey, RowExclusiveLock);
	old = table_slot_create(urel, NULL);
	next = MakeSingleTupleTableSlot(RelationGetDescr(urel), &TTSOpsVirtual);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	text_key(&keys[1], uidx, 2, subj);
	text_key(&keys[2], uidx, 3, buck);

	for (;;)
	{
		Snapshot	snap;
		SnapshotData dirty;

		if (++attempts > 1000)
			elog(ERROR, "limit usage row kept changing under a payment; gave up after 1000 attempts");

		/*
		 * See this transaction's earlier changes, including those of earlier
		 * rows of the same statement, as SPI would.
		 */
		CommandCounterIncrement();
		if (xact_snapshot)
			PushCopiedSnapshot(GetTransactionSnapshot());
		else
			PushActiveSnapshot(GetLatestSnapshot());
		UpdateActiveSnapshotCommandId();
		snap = GetActiveSnapshot();

		if (fetch_by_key(urel, uidx, keys, 3, snap, old))
		{
			TM_Result	res;
			TM_FailureData tmfd;
			LockTupleMode lockmode;
			bool		update_indexes;

			LimitTotals cur;

			totals_from_slot(old, &cur);
			finsec_limit_totals_add(&cur, day, year, delta, count);
			slot_with_totals(old, next, &cur);
			res = table_tuple_update(urel, &old->tts_tid, next, GetCurrentCommandId(true),
									 snap, InvalidSnapshot, true, &tmfd, &lockmode,
									 &update_indexes);
			PopActiveSnapshot();
			if (res == TM_Ok)
			{
				if (update_indexes)
					insert_index_entries(urel, next, true);
				break;
			}
			if (res != TM_Updated && res != TM_Deleted)
				elog(ERROR, "unexpected result %d updating limit usage", (int) res);
			/* Changed by a transaction that committed meanwhile. */
			if (xact_snapshot)
				finsec_limit_serialization_failure();
			continue;
		}
		PopActiveSnapshot();

		/*
		 * No row yet: insert it.  The key's lock is held only while looking
		 * for a row that another transaction may be inserting and inserting
		 * ours, so that a bulk load does not keep one lock per payer; a later
		 * payment of the payer finds the new row (or its index entry, through
		 * the dirty snapshot) and waits for its inserter.
		 */
		if (!have_lock_id)
		{
			uint32		h = hash_bytes((const unsigned char *) VARDATA_ANY(subj), VARSIZE_ANY_EXHDR(subj));

			h = hash_combine(h, hash_bytes((const unsigned char *) VARDATA_ANY(buck), VARSIZE_ANY_EXHDR(buck)));
			lock_id = hash_combine(h, hash_bytes_uint32(relid));
			have_lock_id = true;
		}
		LockDatabaseObject(usage_rel, lock_id, 0, ExclusiveLock);
		InitDirtySnapshot(dirty);
		if (fetch_by_key(urel, uidx, keys, 3, &dirty, old))
		{
			TransactionId wait = TransactionIdIsValid(dirty.xmin) ? dirty.xmin : dirty.xmax;

			UnlockDatabaseObject(usage_rel, lock_id, 0, ExclusiveLock);
			if (TransactionIdIsValid(wait))
			{
				/* Being inserted (or removed) by a transaction in progress. */
				ExecClearTuple(old);
				XactLockTableWait(wait, urel, NULL, XLTW_InsertIndex);
				continue;
			}
			/* Inserted by a transaction that committed after our snapshot. */
			if (xact_snapshot)
				finsec_limit_serialization_failure();
			continue;
		}
		usage_first(next, relid, subj, buck, day, year, delta, count, zero);
		table_tuple_insert(urel, next, GetCurrentCommandId(true), 0, NULL);
		insert_index_entries(urel, next, false);
		UnlockDatabaseObject(usage_rel, lock_id, 0, ExclusiveLock);
		break;
	}

	*tid = next->tts_tid;
	totals_from_slot(next, t);
	for (i = 0; i < 3; i++)
		t->amount[i] = PointerGetDatum(PG_DETOAST_DATUM_COPY(t->amount[i]));

	ExecDropSingleTupleTableSlot(old);
	ExecDropSingleTupleTableSlot(next);
	index_close(uidx, NoLock);
	table_close(urel, NoLock);
}

/* ---- the roll-up of a table with posted_at (usage.c) ---------------------- */

Oid
finsec_limit_usage_relid(void)
{
	store_init();
	return usage_rel;
}

/* Totals of a payer that has paid nothing yet. */
void
finsec_limit_totals_zero(LimitTotals *t)
{
	int			i;

	t->present = false;
	t->day = DATEVAL_NOBEGIN;
	t->year = PG_INT32_MIN;
	for (i = 0; i < 3; i++)
	{
		t->amount[i] = numeric_zero();
		t->count[i] = 0;
	}
}

/*
 * A payer's roll-up row, read with a fresh snapshot (the caller holds the
 * payer's lock); false if it has none.  Numerics are copied into the
 * current memory context.
 */
bool
finsec_limit_usage_fetch(Oid relid, const char *subject, const char *bucket,
						 LimitTotals *t, TimestampTz *flushed_at, bool *flushed_null)
{
	Relation	urel,
				uidx;
	TupleTableSlot *slot;
	ScanKeyData keys[3];
	bool		found;
	int			i;

	store_init();
	urel = table_open(usage_rel, AccessShareLock);
	uidx = index_open(usage_pkey, AccessShareLock);
	slot = table_slot_create(urel, NULL);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	text_key(&keys[1], uidx, 2, cstring_to_text(subject));
	text_key(&keys[2], uidx, 3, cstring_to_text(bucket));
	CommandCounterIncrement();
	PushActiveSnapshot(GetLatestSnapshot());
	UpdateActiveSnapshotCommandId();
	found = fetch_by_key(urel, uidx, keys, 3, GetActiveSnapshot(), slot);
	PopActiveSnapshot();
	if (found)
	{
		bool		isnull;
		Datum		d;

		totals_from_slot(slot, t);
		for (i = 0; i < 3; i++)
			t->amount[i] = PointerGetDatum(PG_DETOAST_DATUM_COPY(t->amount[i]));
		d = slot_getattr(slot, u_att[U_FLUSHED_AT], &isnull);
		*flushed_null = isnull;
		*flushed_at = isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
	}
	ExecDropSingleTupleTableSlot(slot);
	index_close(uidx, NoLock);
	table_close(urel, NoLock);
	return found;
}

/*
 * Write a payer's roll-up: its totals as of the payment stamped flushed_at.
 * The caller holds the payer's lock, so no other transaction writes the
 * row meanwhile; an ordinary heap update or insert, WAL-logged.
 */
void
finsec_limit_usage_store(Oid relid, const char *subject, const char *bucket,
						 const LimitTotals *t, TimestampTz flushed_at)
{
	Relation	urel,
				uidx;
	TupleTableSlot *old,
			   *next;
	ScanKeyData keys[3];
	text	   *subj = cstring_to_text(subject);
	text	   *buck = cstring_to_text(bucket);
	Datum		zero = numeric_zero();
	int			attempts = 0;

	store_init();
	urel = table_open(usage_rel, RowExclusiveLock);
	uidx = index_open(usage_pkey, RowExclusiveLock);
	old = table_slot_create(urel, NULL);
	next = MakeSingleTupleTableSlot(RelationGetDescr(urel), &TTSOpsVirtual);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	text_key(&keys[1], uidx, 2, subj);
	text_key(&keys[2], uidx, 3, buck);
	for (;;)
	{
		Snapshot	snap;

		if (++attempts > 1000)
			elog(ERROR, "limit usage roll-up kept changing; gave up after 1000 attempts");
		CommandCounterIncrement();
		PushActiveSnapshot(GetLatestSnapshot());
		UpdateActiveSnapshotCommandId();
		snap = GetActiveSnapshot();
		if (fetch_by_key(urel, uidx, keys, 3, snap, old))
		{
			TM_Result	res;
			TM_FailureData tmfd;
			LockTupleMode lockmode;
			bool		update_indexes;

			slot_with_totals(old, next, t);
			next->tts_values[u_att[U_FLUSHED_AT] - 1] = TimestampTzGetDatum(flushed_at);
			next->tts_isnull[u_att[U_FLUSHED_AT] - 1] = false;
			res = table_tuple_update(urel, &old->tts_tid, next, GetCurrentCommandId(true),
									 snap, InvalidSnapshot, true, &tmfd, &lockmode,
									 &update_indexes);
			PopActiveSnapshot();
			if (res == TM_Ok)
			{
				if (update_indexes)
					insert_index_entries(urel, next, true);
				break;
			}
			if (res != TM_Updated && res != TM_Deleted)
				elog(ERROR, "unexpected result %d updating a limit usage roll-up", (int) res);
			continue;
		}
		PopActiveSnapshot();
		usage_first(next, relid, subj, buck, t->day, t->year, zero, 0, zero);
		next->tts_values[u_att[U_DAY_AMOUNT] - 1] = t->amount[0];
		next->tts_values[u_att[U_YEAR_AMOUNT] - 1] = t->amount[1];
		next->tts_values[u_att[U_LIFE_AMOUNT] - 1] = t->amount[2];
		next->tts_values[u_att[U_DAY_COUNT] - 1] = Int64GetDatum(t->count[0]);
		next->tts_values[u_att[U_YEAR_COUNT] - 1] = Int64GetDatum(t->count[1]);
		next->tts_values[u_att[U_LIFE_COUNT] - 1] = Int64GetDatum(t->count[2]);
		next->tts_values[u_att[U_FLUSHED_AT] - 1] = TimestampTzGetDatum(flushed_at);
		next->tts_isnull[u_att[U_FLUSHED_AT] - 1] = false;
		table_tuple_insert(urel, next, GetCurrentCommandId(true), 0, NULL);
		insert_index_entries(urel, next, false);
		break;
	}
	ExecDropSingleTupleTableSlot(old);
	ExecDropSingleTupleTableSlot(next);
	index_close(uidx, NoLock);
	table_close(urel, NoLock);
}

/*
 * Lock a limited table and every partition under it (a bulk payer's
 * escalation: SHARE ROW EXCLUSIVE holds off every other payment).
 */
void
finsec_limit_lock_tree(Oid relid, LOCKMODE mode)
{
	List	   *rels;

	LockRelationOid(relid, mode);
	rels = find_all_inheritors(relid, mode, NULL);
	list_free(rels);
}

/* The limited tables (finsec.limit_table's relids), read as finsec's code. */
List *
finsec_limit_table_relids(void)
{
	Relation	trel;
	TableScanDesc scan;
	TupleTableSlot *slot;
	List	   *out = NIL;

	store_init();
	trel = table_open(table_rel, AccessShareLock);
	slot = table_slot_create(trel, NULL);
	scan = table_beginscan(trel, GetActiveSnapshot(), 0, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, t_relid_att, &isnull);

		if (!isnull)
			out = lappend_oid(out, DatumGetObjectId(d));
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	table_close(trel, AccessShareLock);
	return out;
}

/* The tables that have roll-up rows (finsec.limit_usage_flushed's distinct relids). */
List *
finsec_limit_usage_relids(void)
{
	Relation	urel;
	TableScanDesc scan;
	TupleTableSlot *slot;
	List	   *out = NIL;

	store_init();
	urel = table_open(usage_rel, AccessShareLock);
	slot = table_slot_create(urel, NULL);
	scan = table_beginscan(urel, GetActiveSnapshot(), 0, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, u_att[U_RELID], &isnull);

		out = list_append_unique_oid(out, DatumGetObjectId(d));
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	table_close(urel, AccessShareLock);
	return out;
}

bool
finsec_limit_table_contains(Oid relid)
{
	return limit_table_contains(relid);
}

/* Every roll-up row of a table (LimitUsageRow list), numerics copied. */
List *
finsec_limit_usage_rows_of(Oid relid)
{
	Relation	urel,
				uidx;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData key;
	List	   *out = NIL;

	store_init();
	urel = table_open(usage_rel, AccessShareLock);
	uidx = index_open(usage_pkey, AccessShareLock);
	slot = table_slot_create(urel, NULL);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = index_beginscan(urel, uidx, GetActiveSnapshot(), 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		LimitUsageRow *u = palloc0(sizeof(LimitUsageRow));
		bool		isnull;
		Datum		d;
		int			i;

		u->subject = TextDatumGetCString(slot_getattr(slot, u_att[U_SUBJECT], &isnull));
		u->bucket = TextDatumGetCString(slot_getattr(slot, u_att[U_BUCKET], &isnull));
		totals_from_slot(slot, &u->totals);
		for (i = 0; i < 3; i++)
			u->totals.amount[i] = PointerGetDatum(PG_DETOAST_DATUM_COPY(u->totals.amount[i]));
		d = slot_getattr(slot, u_att[U_FLUSHED_AT], &isnull);
		u->flushed_null = isnull;
		u->flushed_at = isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
		out = lappend(out, u);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(uidx, AccessShareLock);
	table_close(urel, AccessShareLock);
	return out;
}

/* ---- statement batches ------------------------------------------------------ */

/*
 * A statement that inserts many payments of one payer (INSERT ... SELECT,
 * COPY) writes the payer's usage row once at its first payment, which
 * locks the row for the rest of the transaction, keeps the row's totals in
 * memory while its later payments are checked against them, and writes
 * the final totals once when the statement ends.  The result, and every
 * check, is the same as writing the row per payment; the row lock is taken
 * at the same moment.
 *
 * Bookkeeping that keeps this exact:
 *	- a pending entry belongs to one statement, identified by its executor
 *	  nesting level (counted by ExecutorRun, ExecutorFinish and
 *	  ProcessUtility hooks, as pg_stat_statements does), and to the
 *	  subtransaction it was created in;
 *	- the statement's ExecutorFinish (or, for COPY, the end of the utility
 *	  command) writes its entries; pre-commit and pre-prepare write any
 *	  left;
 *	- a payment of the same payer at another level, or in another
 *	  subtransaction, first writes the entry and then proceeds row by row;
 *	  if that write happens in a subtransaction younger than the entry, the
 *	  entry is remembered as it was, and restored if that subtransaction
 *	  aborts (its write is then undone);
 *	- aborting a subtransaction drops the entries created in it; aborting
 *	  the transaction drops all.
 * Without the preload (no hooks), outside any statement (a logical
 * replication apply worker), or with finsec.limit_batch_size = 0, each
 * payment writes its row.
 */
typedef struct PendingKey
{
	Oid			relid;
	const char *subject;
	const char *bucket;
} PendingKey;

typedef struct Pending
{
	PendingKey	key;			/* hash key; strings in batch_cxt */
	int			level;
	SubTransactionId subxid;
	ItemPointerData tid;		/* the row's version this transaction wrote
								 * last */
	bool		dirty;			/* totals differ from that version */
	LimitTotals totals;			/* numerics in batch_cxt */
} Pending;

typedef struct SavedPending
{
	Pending		entry;
	SubTransactionId written_in;
} SavedPending;

int			finsec_limit_batch_size = FINSEC_LIMIT_BATCH_SIZE_DEFAULT;

static bool batch_hooks = false;
static int	batch_level = 0;
static MemoryContext batch_cxt = NULL;
static HTAB *pending = NULL;
static List *saved = NIL;		/* of SavedPending, in batch_cxt */

static uint32
pending_hash(const void *key, Size keysize)
{
	const PendingKey *k = key;
	uint32		h = hash_bytes((const unsigned char *) k->subject, strlen(k->subject));

	h = hash_combine(h, hash_bytes((const unsigned char *) k->bucket, strlen(k->bucket)));
	return hash_combine(h, hash_bytes_uint32(k->relid));
}

static int
pending_match(const void *key1, const void *key2, Size keysize)
{
	const PendingKey *a = key1;
	const PendingKey *b = key2;

	if (a->relid != b->relid || strcmp(a->subject, b->subject) != 0 ||
		strcmp(a->bucket, b->bucket) != 0)
		return 1;
	return 0;
}

static void *
pending_keycopy(void *dest, const void *src, Size keysize)
{
	PendingKey *d = dest;
	const PendingKey *s = src;

	d->relid = s->relid;
	d->subject = MemoryContextStrdup(batch_cxt, s->subject);
	d->bucket = MemoryContextStrdup(batch_cxt, s->bucket);
	return dest;
}

static bool
batching(void)
{
	return batch_hooks && batch_level > 0 && finsec_limit_batch_size > 0 &&
		!IsParallelWorker();
}

static void
batch_reset(void)
{
	pending = NULL;
	saved = NIL;
	if (batch_cxt)
		MemoryContextReset(batch_cxt);
}

static HTAB *
pending_table(void)
{
	if (pending == NULL)
	{
		HASHCTL		ctl;

		if (batch_cxt == NULL)
			batch_cxt = AllocSetContextCreate(TopMemoryContext, "finsec limit batches",
											  ALLOCSET_DEFAULT_SIZES);
		ctl.keysize = sizeof(PendingKey);
		ctl.entrysize = sizeof(Pending);
		ctl.hash = pending_hash;
		ctl.match = pending_match;
		ctl.keycopy = pending_keycopy;
		ctl.hcxt = batch_cxt;
		pending = hash_create("finsec pending limit usage", 64, &ctl,
							  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_KEYCOPY | HASH_CONTEXT);
	}
	return pending;
}

static void
totals_copy(LimitTotals *dst, const LimitTotals *src)
{
	MemoryContext old = MemoryContextSwitchTo(batch_cxt);
	int			i;

	*dst = *src;
	for (i = 0; i < 3; i++)
		dst->amount[i] = PointerGetDatum(PG_DETOAST_DATUM_COPY(src->amount[i]));
	MemoryContextSwitchTo(old);
}

static void
totals_free(LimitTotals *t)
{
	int			i;

	for (i = 0; i < 3; i++)
		pfree(DatumGetPointer(t->amount[i]));
}

/* The payment added to an entry's totals in memory (totals_add, as for a row). */
static void
pending_apply(Pending *e, DateADT day, int32 year, Datum delta, int64 count)
{
	MemoryContext old = MemoryContextSwitchTo(batch_cxt);
	Datum		prev[3];
	int			i;

	memcpy(prev, e->totals.amount, sizeof(prev));
	finsec_limit_totals_add(&e->totals, day, year, delta, count);
	for (i = 0; i < 3; i++)
		pfree(DatumGetPointer(prev[i]));
	MemoryContextSwitchTo(old);
	e->dirty = true;
}

/*
 * Write an entry's totals to its row.  If this happens in a subtransaction
 * younger than the entry's, remember the entry as it was, for that
 * subtransaction's abort.
 */
static void
pending_write(Pending *e)
{
	Relation	urel;
	TupleTableSlot *old,
			   *next;
	TM_Result	res;
	TM_FailureData tmfd;
	LockTupleMode lockmode;
	bool		update_indexes;
	SubTransactionId current = GetCurrentSubTransactionId();

	if (!e->dirty)
		return;
	if (e->subxid != current)
	{
		MemoryContext mcxt = MemoryContextSwitchTo(batch_cxt);
		SavedPending *sp = palloc(sizeof(SavedPending));

		sp->entry = *e;
		sp->entry.key.subject = pstrdup(e->key.subject);
		sp->entry.key.bucket = pstrdup(e->key.bucket);
		totals_copy(&sp->entry.totals, &e->totals);
		sp->written_in = current;
		saved = lappend(saved, sp);
		MemoryContextSwitchTo(mcxt);
	}

	/* The version to update was written by an earlier command of ours. */
	CommandCounterIncrement();
	store_init();
	urel = table_open(usage_rel, RowExclusiveLock);
	old = table_slot_create(urel, NULL);
	next = MakeSingleTupleTableSlot(RelationGetDescr(urel), &TTSOpsVirtual);
	if (!table_tuple_fetch_row_version(urel, &e->tid, SnapshotAny, old))
		elog(ERROR, "pending limit usage row (%u,%u) is gone",
			 ItemPointerGetBlockNumber(&e->tid), ItemPointerGetOffsetNumber(&e->tid));
	slot_with_totals(old, next, &e->totals);
	res = table_tuple_update(urel, &e->tid, next, GetCurrentCommandId(true), InvalidSnapshot,
							 InvalidSnapshot, true, &tmfd, &lockmode, &update_indexes);
	if (res != TM_Ok)
		elog(ERROR, "pending limit usage row was changed by another command (result %d)", (int) res);
	if (update_indexes)
		insert_index_entries(urel, next, true);
	e->tid = next->tts_tid;
	e->dirty = false;
	ExecDropSingleTupleTableSlot(old);
	ExecDropSingleTupleTableSlot(next);
	table_close(urel, NoLock);
}

/* Write and forget the entries of statements at this level or deeper. */
static void
pending_flush(int min_level)
{
	HASH_SEQ_STATUS seq;
	Pending    *e;

	if (pending == NULL || hash_get_num_entries(pending) == 0)
		return;
	hash_seq_init(&seq, pending);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (e->level < min_level)
			continue;
		pending_write(e);
		totals_free(&e->totals);
		if (hash_search(pending, &e->key, HASH_REMOVE, NULL) == NULL)
			elog(ERROR, "pending limit usage entry vanished");
	}
}

void
finsec_limit_usage_add(Oid relid, const char *subject, const char *bucket, DateADT day, int32 year,
					   Datum delta, int64 count, LimitTotals *t)
{
	PendingKey	key;
	Pending    *e = NULL;
	ItemPointerData tid;
	bool		found;

	if (!batching())
	{
		usage_write(relid, subject, bucket, day, year, delta, count, t, &tid);
		return;
	}
	key.relid = relid;
	key.subject = subject;
	key.bucket = bucket;
	e = hash_search(pending_table(), &key, HASH_FIND, NULL);
	if (e && e->level == batch_level && e->subxid == GetCurrentSubTransactionId())
	{
		/* Same statement: the row is ours until commit; count in memory. */
		pending_apply(e, day, year, delta, count);
		*t = e->totals;
		return;
	}
	if (e)
	{
		/* Another statement's entry: write it, then go row by row. */
		pending_write(e);
		totals_free(&e->totals);
		hash_search(pending, &key, HASH_REMOVE, NULL);
	}
	usage_write(relid, subject, bucket, day, year, delta, count, t, &tid);
	if (hash_get_num_entries(pending) >= finsec_limit_batch_size)
		return;
	e = hash_search(pending, &key, HASH_ENTER, &found);
	e->level = batch_level;
	e->subxid = GetCurrentSubTransactionId();
	e->tid = tid;
	e->dirty = false;
	totals_copy(&e->totals, t);
}

static void
batch_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			pending_flush(0);
			batch_reset();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			batch_reset();
			break;
	}
}

/* Keep pending usage exact across savepoints: drop what an aborted subtransaction added, restore what it overwrote. */
static void
batch_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	HASH_SEQ_STATUS seq;
	Pending    *e;
	ListCell   *lc;

	if (pending == NULL)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		List	   *keep = NIL;
		MemoryContext old = MemoryContextSwitchTo(batch_cxt);

		/*
		 * Entries created in the aborted subtransaction (or its children)
		 * go...
		 */
		hash_seq_init(&seq, pending);
		while ((e = hash_seq_search(&seq)) != NULL)
			if (e->subxid >= mySubid)
				hash_search(pending, &e->key, HASH_REMOVE, NULL);
		/* ...and entries it wrote come back as they were. */
		foreach(lc, saved)
		{
			SavedPending *sp = lfirst(lc);

			if (sp->written_in >= mySubid)
			{
				bool		found;

				e = hash_search(pending, &sp->entry.key, HASH_ENTER, &found);
				e->level = sp->entry.level;
				e->subxid = sp->entry.subxid;
				e->tid = sp->entry.tid;
				e->dirty = true;
				e->totals = sp->entry.totals;
			}
			else
				keep = lappend(keep, sp);
		}
		list_free(saved);
		saved = keep;
		MemoryContextSwitchTo(old);
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		hash_seq_init(&seq, pending);
		while ((e = hash_seq_search(&seq)) != NULL)
			if (e->subxid >= mySubid)
				e->subxid = parentSubid;
		foreach(lc, saved)
		{
			SavedPending *sp = lfirst(lc);

			if (sp->written_in >= mySubid)
				sp->written_in = parentSubid;
		}
	}
}

/*
 * INSERT ... ON CONFLICT fires BEFORE INSERT row triggers for every row
 * proposed, including those that then take the ON CONFLICT path and are
 * not inserted: the limit trigger would count payments that do not exist.
 * Refuse it on a limited table, before any row is processed.
 */
static void
refuse_on_conflict(PlannedStmt *stmt, Plan *plan)
{
	ModifyTable *mt;
	ListCell   *lc;

	if (plan == NULL || !IsA(plan, ModifyTable))
		return;
	mt = (ModifyTable *) plan;
	if (mt->operation != CMD_INSERT || mt->onConflictAction == ONCONFLICT_NONE)
		return;
	foreach(lc, mt->resultRelations)
	{
		RangeTblEntry *rte = rt_fetch(lfirst_int(lc), stmt->rtable);
		Relation	rel = RelationIdGetRelation(rte->relid);
		bool		limited = false;
		char	   *name;
		int			i;

		if (!RelationIsValid(rel))
			continue;
		for (i = 0; rel->trigdesc && i < rel->trigdesc->numtriggers; i++)
			if (strcmp(rel->trigdesc->triggers[i].tgname, FINSEC_LIMITS_TRIGGER) == 0 &&
				rel->trigdesc->triggers[i].tgenabled != TRIGGER_DISABLED)
				limited = true;
		name = pstrdup(RelationGetRelationName(rel));
		RelationClose(rel);
		if (limited)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("INSERT ... ON CONFLICT is not supported on \"%s\", whose payments are limited",
							name),
					 errdetail("PostgreSQL fires the limit trigger also for rows that then take the ON CONFLICT path and are not inserted; they would count against limits."),
					 errhint("Insert without ON CONFLICT and handle unique_violation (23505): it rolls the payment back together with its usage.")));
	}
}

static void
limits_ExecutorRun(FinsecExecutorRunCall *call)
{
	PlannedStmt *stmt = call->queryDesc->plannedstmt;

	if (stmt->commandType == CMD_INSERT)
		refuse_on_conflict(stmt, stmt->planTree);
	if (stmt->hasModifyingCTE)
	{
		ListCell   *lc;

		foreach(lc, stmt->subplans)
			refuse_on_conflict(stmt, (Plan *) lfirst(lc));
	}
	batch_level++;
	PG_TRY();
	{
		finsec_hooks_executor_run_next(call);
	}
	PG_FINALLY();
	{
		batch_level--;
	}
	PG_END_TRY();
}

static void
limits_ExecutorFinish(FinsecExecutorFinishCall *call)
{
	batch_level++;
	PG_TRY();
	{
		/* The statement's payments are all in: write its usage rows. */
		pending_flush(batch_level);
		finsec_hooks_executor_finish_next(call);
	}
	PG_FINALLY();
	{
		batch_level--;
	}
	PG_END_TRY();
}

/* ---- the table owner's statements on a limited table ------------------------ */

static bool registration_scan(Oid tab, Oid relid, const char *colname, Oid nsp);

/* Is relid registered in finsec.limit_table? */
static bool
limit_table_contains(Oid relid)
{
	store_init();
	return OidIsValid(relid) && registration_scan(table_rel, relid, NULL, InvalidOid);
}

/*
 * Scan finsec's registration table tab (finsec.limit_table, order_guard,
 * refund_guard, risk_table: a row per registered table, relid, naming its
 * columns in *_column settings; refund_guard also names the order key
 * column of its orders table) from the heap: no SQL, no privilege needed.
 * With nsp: is some registered table in that schema?  With colname NULL:
 * is relid registered?  Otherwise: does relid's registration name colname?
 */
static bool
registration_scan(Oid tab, Oid relid, const char *colname, Oid nsp)
{
	FinsecHeapScan hs;
	TupleTableSlot *slot;
	TupleDesc	tdesc;
	AttrNumber	relatt,
				ordersatt,
				keyatt;
	bool		found = false;

	if (!OidIsValid(tab))
		return false;
	finsec_heap_scan_begin(&hs, tab);
	slot = hs.slot;
	tdesc = RelationGetDescr(hs.rel);
	relatt = attnameAttNum(hs.rel, "relid", false);
	ordersatt = attnameAttNum(hs.rel, "orders", false);
	keyatt = attnameAttNum(hs.rel, "order_key", false);
	while (!found && finsec_heap_scan_next(&hs))
	{
		bool		isnull;
		Datum		d;
		Oid			rowrel = InvalidOid,
					orders = InvalidOid;
		int			i;

		if (relatt <= 0)
			break;
		d = slot_getattr(slot, relatt, &isnull);
		if (!isnull)
			rowrel = DatumGetObjectId(d);
		if (ordersatt > 0)
		{
			d = slot_getattr(slot, ordersatt, &isnull);
			if (!isnull)
				orders = DatumGetObjectId(d);
		}
		if (OidIsValid(nsp))
		{
			found = (OidIsValid(rowrel) && get_rel_namespace(rowrel) == nsp) ||
				(OidIsValid(orders) && get_rel_namespace(orders) == nsp);
			continue;
		}
		if (colname == NULL)
		{
			found = (rowrel == relid || orders == relid);
			continue;
		}
		if (orders == relid && keyatt > 0)
		{
			d = slot_getattr(slot, keyatt, &isnull);
			if (!isnull && strcmp(TextDatumGetCString(d), colname) == 0)
				found = true;
		}
		if (rowrel != relid)
			continue;
		for (i = 0; i < tdesc->natts && !found; i++)
		{
			Form_pg_attribute att = TupleDescAttr(tdesc, i);
			const char *an = NameStr(att->attname);
			size_t		len = strlen(an);

			if (att->attisdropped || att->atttypid != TEXTOID ||
				len < 7 || strcmp(an + len - 7, "_column") != 0)
				continue;
			d = slot_getattr(slot, i + 1, &isnull);
			if (!isnull && strcmp(TextDatumGetCString(d), colname) == 0)
				found = true;
		}
	}
	finsec_heap_scan_end(&hs);
	return found;
}

/* Does a registered column of some table in registration table tab have type typid (or a domain over it)? */
static bool
registration_uses_type(Oid tab, Oid typid)
{
	FinsecHeapScan hs;
	TupleTableSlot *slot;
	TupleDesc	tdesc;
	AttrNumber	relatt;
	bool		found = false;

	if (!OidIsValid(tab))
		return false;
	finsec_heap_scan_begin(&hs, tab);
	slot = hs.slot;
	tdesc = RelationGetDescr(hs.rel);
	relatt = attnameAttNum(hs.rel, "relid", false);
	while (!found && relatt > 0 && finsec_heap_scan_next(&hs))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, relatt, &isnull);
		Oid			rowrel = isnull ? InvalidOid : DatumGetObjectId(d);
		int			i;

		for (i = 0; OidIsValid(rowrel) && i < tdesc->natts && !found; i++)
		{
			Form_pg_attribute att = TupleDescAttr(tdesc, i);
			const char *an = NameStr(att->attname);
			size_t		len = strlen(an);
			AttrNumber	attno;

			if (att->attisdropped || att->atttypid != TEXTOID ||
				len < 7 || strcmp(an + len - 7, "_column") != 0)
				continue;
			d = slot_getattr(slot, i + 1, &isnull);
			if (isnull)
				continue;
			attno = get_attnum(rowrel, TextDatumGetCString(d));
			if (attno > 0 && getBaseType(get_atttype(rowrel, attno)) == typid)
				found = true;
		}
	}
	finsec_heap_scan_end(&hs);
	return found;
}

static bool
limit_table_names_column(Oid relid, const char *colname)
{
	store_init();
	return registration_scan(table_rel, relid, colname, InvalidOid);
}

static bool
limit_table_in_schema(Oid nsp)
{
	store_init();
	return registration_scan(table_rel, InvalidOid, NULL, nsp);
}

/*
 * Which capability other than limits (an order or refund guard, risk
 * scoring) registered relid (colname NULL) or its column colname, or a
 * table in schema nsp?  NULL if none.
 */
static const char *
registered_elsewhere(Oid relid, const char *colname, Oid nsp)
{
	static const char *const tabs[][2] = {
		{"order_guard", "an order guard"},
		{"refund_guard", "a refund guard"},
		{"risk_table", "risk scoring"},
	};
	Oid			fs = get_namespace_oid("finsec", true);
	int			i;

	if (!OidIsValid(fs) || (!OidIsValid(relid) && !OidIsValid(nsp)))
		return NULL;
	for (i = 0; i < lengthof(tabs); i++)
		if (registration_scan(get_relname_relid(tabs[i][0], fs), relid, colname, nsp))
			return tabs[i][1];
	return NULL;
}

/* Is column colname of relid (or, for a partition, of its root) a registered limits column? */
static bool
limited_column(Oid relid, const char *colname)
{
	if (!OidIsValid(relid) || colname == NULL || !finsec_limit_rel_is_limited(relid))
		return false;
	if (get_rel_relispartition(relid))
		relid = llast_oid(get_partition_ancestors(relid));
	return limit_table_names_column(relid, colname);
}

bool
finsec_limit_rel_is_limited(Oid relid)
{
	Relation	rel;
	bool		limited = false;
	bool		ispartition;
	int			i;

	if (!OidIsValid(relid))
		return false;
	rel = RelationIdGetRelation(relid);
	if (!RelationIsValid(rel))
		return false;
	for (i = 0; rel->trigdesc && i < rel->trigdesc->numtriggers; i++)
		if (strcmp(rel->trigdesc->triggers[i].tgname, FINSEC_LIMITS_TRIGGER) == 0)
			limited = true;
	ispartition = rel->rd_rel->relispartition;
	RelationClose(rel);
	if (limited)
		return true;
	if (get_namespace_oid("finsec", true) == InvalidOid)
		return false;
	if (ispartition)
		relid = llast_oid(get_partition_ancestors(relid));
	return limit_table_contains(relid);
}

static void
refuse_ddl(const char *relname, const char *what, const char *detail, bool posted)
{
	ereport(ERROR,
			(errcode(posted ? ERRCODE_FINSEC_PAYMENT_POSTED : ERRCODE_FINSEC_LIMITED_TABLE_DDL),
			 errmsg("cannot %s \"%s\": its payments are limited", what, relname),
			 errdetail("%s", detail),
			 errhint("finsec.disable_limits() (two-person) removes the limits, and this protection, from the table.")));
}

/* A statement that would make an order or refund guard or risk scoring read another column, or no table. */
static void
refuse_registered(const char *relname, const char *what, const char *capability)
{
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_REGISTERED_TABLE_DDL),
			 errmsg("cannot %s \"%s\": %s reads it", what, relname, capability),
			 errdetail("finsec registered the table and its columns by name: after this statement it would read another column, or another table, or none."),
			 errhint("Disable %s on the table, make the change, and enable it again.", capability)));
}

static Oid
rv_relid(RangeVar *rv)
{
	return rv ? RangeVarGetRelid(rv, NoLock, true) : InvalidOid;
}

/* Some relation among relid and (with inh) its inheritors is limited? */
static bool
tree_limited(Oid relid, bool inh)
{
	List	   *rels;
	ListCell   *lc;

	if (!OidIsValid(relid))
		return false;
	if (finsec_limit_rel_is_limited(relid))
		return true;
	if (!inh)
		return false;
	rels = find_all_inheritors(relid, NoLock, NULL);
	foreach(lc, rels)
		if (lfirst_oid(lc) != relid && finsec_limit_rel_is_limited(lfirst_oid(lc)))
		return true;
	return false;
}

/*
 * A new partition of a limited table clones finsec_limits as the current
 * user, which needs EXECUTE on finsec.limit_trigger(); without it
 * PostgreSQL says "permission denied for function " with no name.  Say
 * what is missing instead.
 */
static void
check_partition_clone(RangeVar *parent)
{
	Oid			fn;

	if (!tree_limited(rv_relid(parent), false))
		return;

	/*
	 * By catalog, not by name: the owner need not have USAGE on schema
	 * finsec.
	 */
	fn = GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid, CStringGetDatum("limit_trigger"),
						 PointerGetDatum(buildoidvector(NULL, 0)),
						 ObjectIdGetDatum(get_namespace_oid("finsec", false)));
	if (OidIsValid(fn) && pg_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to add a partition to \"%s\", whose payments are limited", parent->relname),
				 errdetail("The new partition gets the limit trigger, which needs EXECUTE on finsec.limit_trigger()."),
				 errhint("finsec.enable_limits() grants it to the table's owner; after a change of owner, a superuser runs GRANT EXECUTE ON FUNCTION finsec.limit_trigger() TO the new owner.")));
}

/*
 * Statements by which a table's owner would take a limited table's
 * payments out of the limits or delete posted ones (docs/limits.md,
 * "The table owner"): refused before they run.  TRUNCATE is refused for
 * everyone, as for the audit ledger; the others for roles other than
 * superusers (whose statements finsec.status() flags).
 */
static void
limits_check_utility(Node *stmt)
{
	bool		super;
	ListCell   *lc;

	if (finsec_limit_internal_ddl || !IsTransactionState())
		return;
	if (get_namespace_oid("finsec", true) == InvalidOid)
		return;
	super = superuser_arg(GetUserId());
	switch (nodeTag(stmt))
	{
		case T_TruncateStmt:
			{
				TruncateStmt *ts = (TruncateStmt *) stmt;
				List	   *relids = NIL;

				foreach(lc, ts->relations)
				{
					RangeVar   *rv = lfirst_node(RangeVar, lc);
					Oid			relid = rv_relid(rv);

					if (tree_limited(relid, rv->inh))
						refuse_ddl(rv->relname, "truncate",
								   "Posted payments are kept: TRUNCATE would delete them without the limit trigger seeing it.",
								   true);
					if (OidIsValid(relid))
						relids = list_concat_unique_oid(relids, rv->inh ?
														find_all_inheritors(relid, NoLock, NULL) :
														list_make1_oid(relid));
				}

				/*
				 * TRUNCATE ... CASCADE also empties the tables whose foreign
				 * keys reference these.
				 */
				if (ts->behavior == DROP_CASCADE)
				{
					List	   *more;

					while ((more = heap_truncate_find_FKs(relids)) != NIL)
					{
						foreach(lc, more)
							if (tree_limited(lfirst_oid(lc), false))
							refuse_ddl(get_rel_name(lfirst_oid(lc)), "truncate (by cascade)",
									   "Posted payments are kept: TRUNCATE would delete them without the limit trigger seeing it.",
									   true);
						relids = list_concat_unique_oid(relids, more);
					}
				}
			}
			break;
		case T_AlterTableStmt:
			{
				AlterTableStmt *at = (AlterTableStmt *) stmt;
				Oid			relid;
				const char *cap;

				if (super || at->objtype != OBJECT_TABLE)
					break;
				relid = rv_relid(at->relation);
				foreach(lc, at->cmds)
				{
					AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

					switch (cmd->subtype)
					{
						case AT_DisableTrig:
						case AT_EnableReplicaTrig:
							if (cmd->name && strcmp(cmd->name, FINSEC_LIMITS_TRIGGER) == 0 &&
								tree_limited(relid, true))
								refuse_ddl(at->relation->relname, "disable trigger finsec_limits of",
										   "The trigger is what enforces the limits.", false);
							break;
						case AT_DisableTrigAll:
						case AT_DisableTrigUser:
							if (tree_limited(relid, true))
								refuse_ddl(at->relation->relname, "disable the triggers of",
										   "Trigger finsec_limits is what enforces the limits.", false);
							break;
						case AT_DetachPartition:
						case AT_DetachPartitionFinalize:
							if (tree_limited(relid, false))
								refuse_ddl(at->relation->relname, "detach a partition from",
										   "A detached partition loses the limit trigger, and its posted payments could be deleted.",
										   true);
							break;
						case AT_AttachPartition:
							check_partition_clone(at->relation);
							break;
						case AT_DropColumn:
						case AT_AlterColumnType:
							if (limited_column(relid, cmd->name))
								refuse_ddl(at->relation->relname,
										   psprintf(cmd->subtype == AT_DropColumn ? "drop column \"%s\" of" :
													"change the type of column \"%s\" of", cmd->name),
										   "finsec.enable_limits() registered the column by name: the limits would read another column, or none.",
										   false);
							if ((cap = registered_elsewhere(relid, cmd->name, InvalidOid)) != NULL)
								refuse_registered(at->relation->relname,
												  psprintf(cmd->subtype == AT_DropColumn ? "drop column \"%s\" of" :
														   "change the type of column \"%s\" of", cmd->name), cap);
							break;
						case AT_AddInherit:
							if (tree_limited(rv_relid((RangeVar *) cmd->def), false))
								refuse_ddl(((RangeVar *) cmd->def)->relname, "make a table inherit from",
										   "Rows of an inheritance child appear in the limited table but are not checked by its limit trigger.",
										   false);
							break;
						default:
							break;
					}
				}
			}
			break;
		case T_CreateStmt:
			{
				CreateStmt *cs = (CreateStmt *) stmt;

				if (cs->partbound != NULL)
				{
					if (!super)
						check_partition_clone(linitial_node(RangeVar, cs->inhRelations));
					break;
				}
				if (super)
					break;
				foreach(lc, cs->inhRelations)
				{
					RangeVar   *rv = lfirst_node(RangeVar, lc);

					if (tree_limited(rv_relid(rv), false))
						refuse_ddl(rv->relname, "create an inheritance child of",
								   "Rows of an inheritance child appear in the limited table but are not checked by its limit trigger; create a partition instead.",
								   false);
				}
			}
			break;
		case T_CreateTrigStmt:
			{
				CreateTrigStmt *ct = (CreateTrigStmt *) stmt;

				if (super)
					break;
				if (ct->replace && strcmp(ct->trigname, FINSEC_LIMITS_TRIGGER) == 0 &&
					tree_limited(rv_relid(ct->relation), true))
					refuse_ddl(ct->relation->relname, "replace trigger finsec_limits of",
							   "The trigger is what enforces the limits.", false);

				/*
				 * BEFORE row triggers run in name order: one after
				 * finsec_limits could change a checked payment.
				 */
				if (ct->row && (ct->timing & TRIGGER_TYPE_BEFORE) &&
					(ct->events & (TRIGGER_TYPE_INSERT | TRIGGER_TYPE_UPDATE)) &&
					strcmp(ct->trigname, FINSEC_LIMITS_TRIGGER) > 0 &&
					tree_limited(rv_relid(ct->relation), true))
					refuse_ddl(ct->relation->relname, psprintf("create trigger \"%s\" on", ct->trigname),
							   "A BEFORE row trigger whose name sorts after finsec_limits runs after it and could change a payment already checked; give it a name that sorts before.",
							   false);
			}
			break;
		case T_RenameStmt:
			{
				RenameStmt *rs = (RenameStmt *) stmt;
				const char *cap;

				if (super)
					break;
				if (rs->renameType == OBJECT_COLUMN)
				{
					if (limited_column(rv_relid(rs->relation), rs->subname))
						refuse_ddl(rs->relation->relname, psprintf("rename column \"%s\" of", rs->subname),
								   "finsec.enable_limits() registered the column by name: a new column under the old name would take the payments out of the limits.",
								   false);
					if ((cap = registered_elsewhere(rv_relid(rs->relation), rs->subname, InvalidOid)) != NULL)
						refuse_registered(rs->relation->relname, psprintf("rename column \"%s\" of", rs->subname), cap);
					break;
				}
				if (rs->renameType == OBJECT_TABLE)
				{
					Oid			relid = rv_relid(rs->relation);

					if (OidIsValid(relid) && limit_table_contains(relid))
						refuse_ddl(rs->relation->relname, "rename",
								   "The application would write its payments to a new table under the old name, which has no limits.",
								   false);
					if ((cap = registered_elsewhere(relid, NULL, InvalidOid)) != NULL)
						refuse_registered(rs->relation->relname, "rename", cap);
					break;
				}
				if (rs->renameType == OBJECT_SCHEMA)
				{
					Oid			nsp = get_namespace_oid(rs->subname, true);

					if (OidIsValid(nsp) && limit_table_in_schema(nsp))
						refuse_ddl(rs->subname, "rename schema",
								   "A limited table is in it: the application would write its payments to a new table under the old name, which has no limits.",
								   false);
					if (OidIsValid(nsp) && (cap = registered_elsewhere(InvalidOid, NULL, nsp)) != NULL)
						refuse_registered(rs->subname, "rename schema", cap);
					break;
				}
				if (rs->renameType != OBJECT_TRIGGER)
					break;
				if (tree_limited(rv_relid(rs->relation), true) &&
					(strcmp(rs->subname, FINSEC_LIMITS_TRIGGER) == 0 ||
					 strcmp(rs->newname, FINSEC_LIMITS_TRIGGER) >= 0))
					refuse_ddl(rs->relation->relname, psprintf("rename trigger \"%s\" of", rs->subname),
							   "finsec_limits must keep its name, and BEFORE row triggers run in name order: none may be renamed to run after it.",
							   false);
			}
			break;
		case T_AlterEnumStmt:
			{
				/*
				 * Renaming an enum value would change the kind (or status) of
				 * every row already written.
				 */
				AlterEnumStmt *ae = (AlterEnumStmt *) stmt;
				Oid			typid;
				Oid			fs = get_namespace_oid("finsec", true);

				if (super || ae->oldVal == NULL)
					break;
				typid = LookupTypeNameOid(NULL, makeTypeNameFromNameList(ae->typeName), true);
				if (!OidIsValid(typid))
					break;
				store_init();
				if (registration_uses_type(table_rel, typid))
					refuse_ddl(format_type_be(typid), psprintf("rename value \"%s\" of type", ae->oldVal),
							   "A registered column of a limited table has this type: the renamed value would change the kind of payments already posted.",
							   false);
				if (registration_uses_type(get_relname_relid("order_guard", fs), typid) ||
					registration_uses_type(get_relname_relid("refund_guard", fs), typid) ||
					registration_uses_type(get_relname_relid("risk_table", fs), typid))
					refuse_registered(format_type_be(typid), psprintf("rename value \"%s\" of type", ae->oldVal),
									  "a guard or risk scoring");
			}
			break;
		case T_AlterObjectSchemaStmt:
			{
				AlterObjectSchemaStmt *as = (AlterObjectSchemaStmt *) stmt;
				Oid			relid;
				const char *cap;

				if (super || as->objectType != OBJECT_TABLE)
					break;
				relid = rv_relid(as->relation);
				if (OidIsValid(relid) && limit_table_contains(relid))
					refuse_ddl(as->relation->relname, "move to another schema",
							   "The application would write its payments to a new table under the old name, which has no limits.",
							   false);
				if ((cap = registered_elsewhere(relid, NULL, InvalidOid)) != NULL)
					refuse_registered(as->relation->relname, "move to another schema", cap);
			}
			break;
		case T_DropStmt:
			{
				DropStmt   *ds = (DropStmt *) stmt;

				if (super)
					break;
				foreach(lc, ds->objects)
				{
					if (ds->removeType == OBJECT_TRIGGER)
					{
						List	   *names = (List *) lfirst(lc);
						char	   *tg = strVal(llast(names));
						RangeVar   *rv;

						if (strcmp(tg, FINSEC_LIMITS_TRIGGER) != 0)
							continue;
						rv = makeRangeVarFromNameList(list_truncate(list_copy(names), list_length(names) - 1));
						if (tree_limited(rv_relid(rv), false))
							refuse_ddl(rv->relname, "drop trigger finsec_limits of",
									   "The trigger is what enforces the limits.", false);
					}
					else if (ds->removeType == OBJECT_TABLE)
					{
						RangeVar   *rv = makeRangeVarFromNameList((List *) lfirst(lc));

						if (tree_limited(rv_relid(rv), true))
							refuse_ddl(rv->relname, "drop",
									   "Posted payments are kept: dropping the table (or a partition) would delete them.",
									   true);
					}
				}
			}
			break;
		default:
			break;
	}
}

/*
 * Object-access hook: a limited table, a registered column of it or its
 * finsec_limits trigger dropped however the drop is reached (DROP SCHEMA
 * ... CASCADE, DROP OWNED BY, DROP TYPE ... CASCADE, a parent's drop):
 * refused for roles other than superusers, like DROP TABLE.
 */
static void
limits_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					 int subId, void *arg)
{
	if (access != OAT_DROP || finsec_limit_internal_ddl || creating_extension ||
		!IsTransactionState() || superuser_arg(GetUserId()))
		return;
	if (get_namespace_oid("finsec", true) == InvalidOid)
		return;
	if (classId == RelationRelationId)
	{
		char		relkind = get_rel_relkind(objectId);

		if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
			return;
		if (subId == 0)
		{
			if (finsec_limit_rel_is_limited(objectId))
				refuse_ddl(get_rel_name(objectId), "drop",
						   "Posted payments are kept: dropping the table (or a partition) would delete them.",
						   true);
		}
		else
		{
			char	   *col = get_attname(objectId, subId, true);
			const char *cap;

			if (col && limited_column(objectId, col))
				refuse_ddl(get_rel_name(objectId), psprintf("drop column \"%s\" of", col),
						   "finsec.enable_limits() registered the column by name: the limits would read another column, or none.",
						   false);
			if (col && (cap = registered_elsewhere(objectId, col, InvalidOid)) != NULL)
				refuse_registered(get_rel_name(objectId), psprintf("drop column \"%s\" of", col), cap);
		}
	}
	else if (classId == TriggerRelationId)
	{
		FinsecTriggerRow t;

		if (finsec_trigger_by_oid(objectId, &t) &&
			strcmp(NameStr(t.tgname), FINSEC_LIMITS_TRIGGER) == 0 &&
			finsec_limit_rel_is_limited(t.tgrelid))
			refuse_ddl(get_rel_name(t.tgrelid), "drop trigger finsec_limits of",
					   "The trigger is what enforces the limits.", false);
	}
}

static void
limits_ProcessUtility(FinsecUtilityCall *call)
{
	limits_check_utility(call->pstmt->utilityStmt);
	batch_level++;
	PG_TRY();
	{
		finsec_hooks_utility_next(call);
		/* COPY FROM and the like fire row triggers without an executor run. */
		if (IsTransactionState())
			pending_flush(batch_level);
	}
	PG_FINALLY();
	{
		batch_level--;
	}
	PG_END_TRY();
}

void
finsec_limits_init_hooks(void)
{
	finsec_hooks_register_executor(FINSEC_EXECUTOR_LIMITS, limits_ExecutorRun,
								   limits_ExecutorFinish);
	finsec_hooks_register_utility(FINSEC_UTILITY_LIMITS, limits_ProcessUtility);
	finsec_hooks_register_object_access(FINSEC_OBJECT_ACCESS_LIMITS, limits_object_access);
	RegisterXactCallback(batch_xact_callback, NULL);
	RegisterSubXactCallback(batch_subxact_callback, NULL);
	batch_hooks = true;
}

/* ---- account state ---------------------------------------------------------- */

bool
finsec_limit_accounts_empty(void)
{
	store_init();
	if (accounts_empty < 0)
	{
		FinsecHeapScan hs;
		bool		any;

		finsec_heap_scan_begin(&hs, account_rel);
		any = finsec_heap_scan_next(&hs);
		finsec_heap_scan_end(&hs);
		accounts_empty = any ? 0 : 1;
	}
	return accounts_empty == 1;
}

/*
 * The account's row, read with a snapshot taken now, whatever the
 * isolation level: a freeze that committed before this payment's table
 * lock was granted (finsec_limit_lock_tables) applies to it.
 */
void
finsec_limit_account_read(const char *account, AccountState *s)
{
	Relation	arel,
				aidx;
	TupleTableSlot *slot;
	ScanKeyData key;

	memset(s, 0, sizeof(*s));
	store_init();
	arel = table_open(account_rel, AccessShareLock);
	aidx = index_open(account_pkey, AccessShareLock);
	slot = table_slot_create(arel, NULL);
	text_key(&key, aidx, 1, cstring_to_text(account));
	PushActiveSnapshot(GetLatestSnapshot());
	if (fetch_by_key(arel, aidx, &key, 1, GetActiveSnapshot(), slot))
	{
		Datum	   *v;
		bool	   *n;

		slot_getallattrs(slot);
		v = slot->tts_values;
		n = slot->tts_isnull;
		s->found = true;
		s->state = TextDatumGetCString(v[a_att[A_STATE] - 1]);
		s->account_class = n[a_att[A_CLASS] - 1] ? NULL : TextDatumGetCString(v[a_att[A_CLASS] - 1]);
		s->hold = DatumGetBool(v[a_att[A_HOLD] - 1]);
		if (!n[a_att[A_RESTRICTED] - 1])
		{
			Datum	   *elems;
			bool	   *enulls;
			int			nelems,
						j;

			deconstruct_array(DatumGetArrayTypeP(v[a_att[A_RESTRICTED] - 1]), TEXTOID, -1, false,
							  TYPALIGN_INT, &elems, &enulls, &nelems);
			s->restricted = palloc(sizeof(char *) * Max(nelems, 1));
			for (j = 0; j < nelems; j++)
				if (!enulls[j])
					s->restricted[s->nrestricted++] = TextDatumGetCString(elems[j]);
		}
	}
	PopActiveSnapshot();
	ExecDropSingleTupleTableSlot(slot);
	index_close(aidx, AccessShareLock);
	table_close(arel, AccessShareLock);
}

/* ---- configuration changes ---------------------------------------------------- */

static int
relid_cmp(const void *a, const void *b)
{
	Oid			x = *(const Oid *) a;
	Oid			y = *(const Oid *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* Share-lock every limited table and its partitions, in OID order, so that a configuration change waits for running payments. */
void
finsec_limit_lock_tables(void)
{
	FinsecHeapScan hs;
	Oid		   *relids = NULL;
	int			n = 0,
				cap = 0,
				i;

	store_init();
	finsec_heap_scan_begin(&hs, table_rel);
	while (finsec_heap_scan_next(&hs))
	{
		bool		isnull;
		Datum		d = slot_getattr(hs.slot, t_relid_att, &isnull);

		if (isnull)
			continue;
		if (n == cap)
		{
			cap = cap ? cap * 2 : 8;
			relids = relids ? repalloc(relids, sizeof(Oid) * cap) : palloc(sizeof(Oid) * cap);
		}
		relids[n++] = DatumGetObjectId(d);
	}
	finsec_heap_scan_end(&hs);

	/*
	 * Always in the same order, so that two changes never deadlock on each
	 * other.
	 */
	if (n > 1)
		qsort(relids, n, sizeof(Oid), relid_cmp);
	for (i = 0; i < n; i++)
	{
		LockRelationOid(relids[i], ShareLock);
		/* Partitions, which may take payments directly. */
		(void) find_all_inheritors(relids[i], ShareLock, NULL);
	}
}
