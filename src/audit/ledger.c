/*-------------------------------------------------------------------------
 *
 * ledger.c
 *	  Writing to the audit ledger and to protected tables.
 *
 * A protected table (finsec.audit is the first) has two columns finsec
 * fills on every insert: finsec_txid, the inserting top-level transaction
 * (xid8), and finsec_seq, from a sequence the column owns.  A BEFORE INSERT
 * trigger overwrites whatever the writer supplied, so neither can be
 * forged through SQL.  Triggers enabled ALWAYS refuse UPDATE, DELETE and
 * TRUNCATE to everyone, owner and superuser included; only finsec's own
 * statements may change rows (the sealer updates a chain head, a purge
 * deletes expired, sealed periods), and each says so with a permit naming
 * the one relation, the one operation and the rows it may touch, set for
 * that statement only (finsec_ledger_permit_set).
 *
 * Writers take no lock beyond their row: hashing and chaining happen later,
 * in the sealer (seal.c), over transactions that have finished.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_owner.h"
#include "ledger_internal.h"

const FinsecLedgerPermit *finsec_ledger_permit = NULL;

/*
 * Allow finsec's next statement to change the rows the permit names (NULL:
 * nothing); returns the permit it replaces, which the caller restores when
 * the statement ends, also on error.
 */
const FinsecLedgerPermit *
finsec_ledger_permit_set(const FinsecLedgerPermit *permit)
{
	const FinsecLedgerPermit *prev = finsec_ledger_permit;

	finsec_ledger_permit = permit;
	return prev;
}

/*
 * Whether the current permit covers this row change: same relation, same
 * operation, and the row inside the permit's bounds.  A statement-level
 * event (TRUNCATE) is never covered.
 */
static bool
permit_covers(TriggerData *trigdata)
{
	const FinsecLedgerPermit *p = finsec_ledger_permit;
	Relation	rel = trigdata->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	HeapTuple	tup = trigdata->tg_trigtuple;
	bool		isnull;
	Datum		d;

	if (p == NULL || p->relid != RelationGetRelid(rel) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		(trigdata->tg_event & TRIGGER_EVENT_OPMASK) != p->event)
		return false;
	if (p->bounded)
	{
		int			att = SPI_fnumber(desc, FINSEC_TXID_COLUMN);
		uint64		txid;

		if (att <= 0)
			return false;
		d = heap_getattr(tup, att, desc, &isnull);
		if (isnull)
			return false;
		txid = U64FromFullTransactionId(DatumGetFullTransactionId(d));
		if (txid < p->from_txid || txid >= p->to_txid)
			return false;
	}
	if (OidIsValid(p->chain_relid))
	{
		int			att = SPI_fnumber(desc, "relid");

		if (att <= 0)
			return false;
		d = heap_getattr(tup, att, desc, &isnull);
		if (isnull || DatumGetObjectId(d) != p->chain_relid)
			return false;
	}
	return true;
}

int			finsec_audit_retention_minutes = FINSEC_AUDIT_RETENTION_DEFAULT;
int			finsec_audit_capacity_warning_mb = FINSEC_AUDIT_CAPACITY_WARNING_DEFAULT;
int			finsec_audit_capacity_limit_mb = FINSEC_AUDIT_CAPACITY_LIMIT_DEFAULT;

Oid
finsec_audit_relid(void)
{
	Oid			nsp = get_namespace_oid("finsec", false);
	Oid			relid = get_relname_relid("audit", nsp);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the finsec audit ledger does not exist in this database"),
				 errhint("Run CREATE EXTENSION finsec.")));
	return relid;
}

/* ---- protected-relation lookups ---------------------------------------- */

/*
 * A relation is protected when it carries finsec's immutability trigger:
 * named finsec_ledger_immutable and running finsec.ledger_immutable().
 * The trigger cannot be dropped, disabled or renamed while finsec is
 * preloaded (utility.c), so its presence is the registry the hooks consult
 * without running a query.
 */
bool
finsec_is_protected_relation(Oid relid)
{
	Relation	trig;
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tup;
	bool		result;

	/*
	 * A catalog index lookup rather than opening the relation: the hook runs
	 * before the command has locked anything.
	 */
	trig = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyInit(&keys[0], Anum_pg_trigger_tgrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	ScanKeyInit(&keys[1], Anum_pg_trigger_tgname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum(FINSEC_IMMUTABLE_TRIGGER));
	scan = systable_beginscan(trig, TriggerRelidNameIndexId, true, NULL, 2, keys);
	tup = systable_getnext(scan);
	/* by its function too: the name alone is anyone's to give (before 0.8) */
	result = HeapTupleIsValid(tup) &&
		finsec_is_ledger_immutable(((Form_pg_trigger) GETSTRUCT(tup))->tgfoid);
	systable_endscan(scan);
	table_close(trig, AccessShareLock);
	return result;
}

/* Whether funcid is finsec.ledger_immutable(), the function of finsec's immutability trigger. */
bool
finsec_is_ledger_immutable(Oid funcid)
{
	char	   *name;

	if (!OidIsValid(funcid) || !finsec_is_own_function(funcid))
		return false;
	name = get_func_name(funcid);
	return name != NULL && strcmp(name, "ledger_immutable") == 0;
}

/* Whether funcid is one of finsec's own functions (a member of the extension). */
bool
finsec_is_own_function(Oid funcid)
{
	Oid			ext = get_extension_oid("finsec", true);

	return OidIsValid(ext) && getExtensionOfObject(ProcedureRelationId, funcid) == ext;
}

/*
 * Whether relid has a BEFORE INSERT row trigger named trigname, and if
 * trigname is NULL, whether it has one named after finsec's stamping
 * trigger (which would fire after it).
 */
bool
finsec_is_before_insert_row_trigger(Oid relid, const char *trigname)
{
	Relation	trig = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		result = false;

	ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(trig, TriggerRelidNameIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_trigger t = (Form_pg_trigger) GETSTRUCT(tup);
		const char *name = NameStr(t->tgname);

		if (!TRIGGER_FOR_ROW(t->tgtype) || !TRIGGER_FOR_BEFORE(t->tgtype) ||
			!TRIGGER_FOR_INSERT(t->tgtype))
			continue;
		/* finsec's own triggers (limits, guards) leave the stamps alone */
		if (!trigname && finsec_is_own_function(t->tgfoid))
			continue;
		if (trigname ? strcmp(name, trigname) == 0 :
			strcmp(name, FINSEC_STAMP_TRIGGER) > 0)
			result = true;
	}
	systable_endscan(scan);
	table_close(trig, AccessShareLock);
	return result;
}

/* The sequence owned by the relation's finsec_seq column. */
static Oid
stamp_sequence(Relation rel, AttrNumber seqatt)
{
	List	   *seqs = getOwnedSequences(RelationGetRelid(rel));
	ListCell   *lc;

	foreach(lc, seqs)
	{
		Oid			seqid = lfirst_oid(lc);
		Oid			tableid;
		int32		colid;

		if (sequenceIsOwned(seqid, DEPENDENCY_AUTO, &tableid, &colid) &&
			tableid == RelationGetRelid(rel) && colid == seqatt)
			return seqid;
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("protected table \"%s\" has no sequence owned by its %s column",
					RelationGetRelationName(rel), FINSEC_SEQ_COLUMN)));
	return InvalidOid;			/* keep compiler quiet */
}

/* ---- triggers ---------------------------------------------------------- */

typedef struct StampCache
{
	Oid			relid;
	AttrNumber	txidatt;
	AttrNumber	seqatt;
	Oid			seqid;
} StampCache;

/*
 * The stamp's per-relation facts (attribute numbers, the sequence's OID)
 * outlive the statement: finding the sequence scans pg_depend, which cost
 * more than the rest of the stamp for a single-row INSERT.  A backend keeps
 * the last few relations' facts; any relcache invalidation of a relation
 * or of its sequence (ALTER TABLE, DROP and OID reuse) forgets its entry.
 */
#define STAMP_CACHE_SIZE 8

static StampCache stamp_cache[STAMP_CACHE_SIZE];
static int	stamp_cache_next = 0;
static bool stamp_cache_registered = false;

static void
stamp_cache_invalidate(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < STAMP_CACHE_SIZE; i++)
		if (!OidIsValid(relid) || stamp_cache[i].relid == relid ||
			stamp_cache[i].seqid == relid)
			stamp_cache[i].relid = InvalidOid;
}

/* The stamp facts of rel, from the backend's cache or looked up. */
static StampCache *
stamp_cache_lookup(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	StampCache	entry;
	int			i;

	for (i = 0; i < STAMP_CACHE_SIZE; i++)
		if (stamp_cache[i].relid == relid)
			return &stamp_cache[i];

	if (!stamp_cache_registered)
	{
		CacheRegisterRelcacheCallback(stamp_cache_invalidate, (Datum) 0);
		stamp_cache_registered = true;
	}
	entry.relid = relid;
	entry.txidatt = SPI_fnumber(RelationGetDescr(rel), FINSEC_TXID_COLUMN);
	entry.seqatt = SPI_fnumber(RelationGetDescr(rel), FINSEC_SEQ_COLUMN);
	if (entry.txidatt <= 0 || entry.seqatt <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" lacks the %s and %s columns of a protected table",
						RelationGetRelationName(rel),
						FINSEC_TXID_COLUMN, FINSEC_SEQ_COLUMN)));
	entry.seqid = stamp_sequence(rel, entry.seqatt);
	/* filled only once complete: an error above leaves no half entry */
	i = stamp_cache_next;
	stamp_cache_next = (stamp_cache_next + 1) % STAMP_CACHE_SIZE;
	stamp_cache[i] = entry;
	return &stamp_cache[i];
}

PG_FUNCTION_INFO_V1(finsec_ledger_stamp);

/*
 * BEFORE INSERT FOR EACH ROW: stamp finsec_txid and finsec_seq.
 */
Datum
finsec_ledger_stamp(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	StampCache *cache;
	int			attnums[2];
	Datum		values[2];
	bool		nulls[2] = {false, false};
	HeapTuple	newtup;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("finsec.ledger_stamp() must be a BEFORE INSERT row trigger")));

	rel = trigdata->tg_relation;
	cache = stamp_cache_lookup(rel);

	/*
	 * pg_restore loads finsec.audit with its original stamps, as a superuser;
	 * keep stamps a superuser supplies in full.  (A superuser can forge rows
	 * in other ways too; forged rows in a sealed range fail verification.)
	 */
	if (superuser())
	{
		bool		txid_null,
					seq_null;

		(void) heap_getattr(trigdata->tg_trigtuple, cache->txidatt, RelationGetDescr(rel), &txid_null);
		(void) heap_getattr(trigdata->tg_trigtuple, cache->seqatt, RelationGetDescr(rel), &seq_null);
		if (!txid_null && !seq_null)
			return PointerGetDatum(trigdata->tg_trigtuple);
	}

	attnums[0] = cache->txidatt;
	attnums[1] = cache->seqatt;
	values[0] = FullTransactionIdGetDatum(GetTopFullTransactionId());
	values[1] = Int64GetDatum(nextval_internal(cache->seqid, false));

	newtup = heap_modify_tuple_by_cols(trigdata->tg_trigtuple, RelationGetDescr(rel),
									   2, attnums, values, nulls);
	return PointerGetDatum(newtup);
}

PG_FUNCTION_INFO_V1(finsec_ledger_immutable);

/*
 * BEFORE UPDATE OR DELETE FOR EACH ROW, and BEFORE TRUNCATE: refuse.
 */
Datum
finsec_ledger_immutable(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *what;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("finsec.ledger_immutable() must be a BEFORE trigger")));

	if (permit_covers(trigdata))
		return TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event)
			? PointerGetDatum(trigdata->tg_newtuple)
			: PointerGetDatum(trigdata->tg_trigtuple);

	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		what = "updated";
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		what = "deleted";
	else if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		what = "truncated";
	else
		what = "changed";

	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_LEDGER_IMMUTABLE),
			 errmsg("rows of protected table \"%s\" cannot be %s",
					RelationGetRelationName(trigdata->tg_relation), what),
			 errdetail("The table is append-only: its rows are hash-chained audit evidence."),
			 errhint("Record a correction as a new row. Periods older than finsec.audit_retention are removed only by finsec.audit_purge().")));
	PG_RETURN_NULL();			/* keep compiler quiet */
}

/* ---- the audit ledger -------------------------------------------------- */

static SPIPlanPtr audit_insert_plan = NULL;

/* Backend-local memory of the last capacity check. */
static TimestampTz capacity_checked_at = 0;
static int64 capacity_bytes = 0;
static TimestampTz capacity_warned_at = 0;
static int	capacity_events_since_check = 0;

/* Re-measure after this long, or this many events, whichever comes first. */
#define CAPACITY_RECHECK_MS	1000
#define CAPACITY_RECHECK_EVENTS 256
#define CAPACITY_WARN_EVERY_MS (10 * 60 * 1000)

int64
finsec_audit_size_bytes(void)
{
	Oid			audit = finsec_audit_relid();
	Oid			blocks = get_relname_relid("ledger_block", get_rel_namespace(audit));
	int64		size;

	size = DatumGetInt64(DirectFunctionCall1(pg_total_relation_size, ObjectIdGetDatum(audit)));
	if (OidIsValid(blocks))
		size += DatumGetInt64(DirectFunctionCall1(pg_total_relation_size, ObjectIdGetDatum(blocks)));
	return size;
}

static void insert_event(Oid actor, const char *event_type, const char *subject,
						 const char *object, const char *action, bool success,
						 const char *description, Jsonb *detail, TimestampTz at,
						 int64 *seq_out);

/*
 * W3: refuse when the ledger has reached finsec.audit_capacity_limit, so
 * the auditable operation fails instead of going unaudited; warn (to the
 * client and as a ledger event) when it passes finsec.audit_capacity_warning.
 */
static void
check_capacity(Oid actor)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		limit = (int64) finsec_audit_capacity_limit_mb * 1024 * 1024;
	int64		warn = (int64) finsec_audit_capacity_warning_mb * 1024 * 1024;

	if (limit == 0 && warn == 0)
		return;
	if (capacity_checked_at == 0 ||
		++capacity_events_since_check >= CAPACITY_RECHECK_EVENTS ||
		TimestampDifferenceExceeds(capacity_checked_at, now, CAPACITY_RECHECK_MS))
	{
		capacity_bytes = finsec_audit_size_bytes();
		capacity_checked_at = now;
		capacity_events_since_check = 0;
	}

	if (limit > 0 && capacity_bytes >= limit)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_AUDIT_CAPACITY),
				 errmsg("the finsec audit ledger is full"),
				 errdetail("The ledger uses %lld MB; finsec.audit_capacity_limit is %d MB. Auditable operations are refused until space is made.",
						   (long long) (capacity_bytes / (1024 * 1024)),
						   finsec_audit_capacity_limit_mb),
				 errhint("Purge periods past retention with finsec.audit_purge(), or raise finsec.audit_capacity_limit.")));

	if (warn > 0 && capacity_bytes >= warn &&
		(capacity_warned_at == 0 ||
		 TimestampDifferenceExceeds(capacity_warned_at, now, CAPACITY_WARN_EVERY_MS)))
	{
		char		desc[256];

		capacity_warned_at = now;
		snprintf(desc, sizeof(desc),
				 "audit ledger uses %lld MB, at or above finsec.audit_capacity_warning (%d MB)",
				 (long long) (capacity_bytes / (1024 * 1024)),
				 finsec_audit_capacity_warning_mb);
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("the finsec audit ledger is nearing its capacity"),
				 errdetail("%s.", desc),
				 errhint("Purge periods past retention with finsec.audit_purge(), or add storage and raise the limits.")));
		insert_event(actor, "audit.capacity", NULL, "finsec.audit", "warn", true,
					 desc, NULL, 0, NULL);
	}
}

/*
 * Insert one event into finsec.audit with a prepared, parameterised plan
 * (kept for the session); *seq_out receives its finsec_seq.
 */
static void
insert_event(Oid actor, const char *event_type, const char *subject,
			 const char *object, const char *action, bool success,
			 const char *description, Jsonb *detail, TimestampTz at,
			 int64 *seq_out)
{
	Datum		values[9];
	char		nulls[9];
	int			ret;

	if (audit_insert_plan == NULL)
	{
		Oid			argtypes[9] = {NAMEOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		BOOLOID, TEXTOID, JSONBOID, TIMESTAMPTZOID};
		SPIPlanPtr	plan;

		plan = SPI_prepare("INSERT INTO finsec.audit "
						   "(event_time, db_user, session_user_name, client_addr, "
						   " application_name, backend_pid, event_type, subject, "
						   " object, action, success, description, detail) "
						   "VALUES (coalesce($9, pg_catalog.clock_timestamp()), $1, session_user, "
						   " pg_catalog.inet_client_addr(), "
						   " pg_catalog.current_setting('application_name'), "
						   " pg_catalog.pg_backend_pid(), $2, "
						   " coalesce($3, $1::pg_catalog.text), $4, $5, $6, $7, $8) "
						   "RETURNING finsec_seq",
						   9, argtypes);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		audit_insert_plan = plan;
	}

	memset(nulls, ' ', sizeof(nulls));
	values[0] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(actor, false)));
	values[1] = CStringGetTextDatum(event_type);
	if (subject)
		values[2] = CStringGetTextDatum(subject);
	else
		nulls[2] = 'n';
	if (object)
		values[3] = CStringGetTextDatum(object);
	else
		nulls[3] = 'n';
	if (action)
		values[4] = CStringGetTextDatum(action);
	else
		nulls[4] = 'n';
	values[5] = BoolGetDatum(success);
	if (description)
		values[6] = CStringGetTextDatum(description);
	else
		nulls[6] = 'n';
	if (detail)
		values[7] = JsonbPGetDatum(detail);
	else
		nulls[7] = 'n';
	if (at != 0)
		values[8] = TimestampTzGetDatum(at);
	else
		nulls[8] = 'n';

	ret = SPI_execute_plan(audit_insert_plan, values, nulls, false, 1);
	if (ret != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not write audit event: %s", SPI_result_code_string(ret));
	if (seq_out)
	{
		bool		isnull;

		*seq_out = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	}
}

static void
validate_event_type(const char *event_type)
{
	const char *p;

	if (event_type == NULL || *event_type == '\0' || strlen(event_type) > 63)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("audit event type must be 1 to 63 characters")));
	for (p = event_type; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			  *p == '.' || *p == '_' || *p == '-'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid audit event type \"%s\"", event_type),
					 errdetail("Event types use lower-case letters, digits, '.', '_' and '-', such as \"key.use\" or \"payment.refund\".")));
}

/*
 * Write one event as "actor"; returns its finsec_seq.  Caller has SPI
 * connected and runs as finsec's owner.
 */
int64
finsec_audit_event_internal(Oid actor, const char *event_type, const char *subject,
							const char *object, const char *action, bool success,
							const char *description, Jsonb *detail)
{
	return finsec_audit_event_at(actor, event_type, subject, object, action, success,
								 description, detail, 0);
}

/* The same, for an event that happened earlier, at "at" (0: now). */
int64
finsec_audit_event_at(Oid actor, const char *event_type, const char *subject,
					  const char *object, const char *action, bool success,
					  const char *description, Jsonb *detail, TimestampTz at)
{
	int64		seq;

	validate_event_type(event_type);
	check_capacity(actor);
	insert_event(actor, event_type, subject, object, action, success,
				 description, detail, at, &seq);
	return seq;
}

/*
 * Write an event recorded earlier by another transaction (one that rolled
 * back: src/audit/pending.c), with the identity, session and time it was
 * recorded with.  Caller has SPI connected and runs as finsec's owner;
 * actor is the role flushing, for the capacity warning.
 */
int64
finsec_audit_event_replay(Oid actor, const FinsecAuditReplay *r)
{
	static SPIPlanPtr plan = NULL;
	Datum		values[14];
	char		nulls[14];
	int			ret;
	bool		isnull;

	validate_event_type(r->event_type);
	check_capacity(actor);
	if (plan == NULL)
	{
		Oid			argtypes[14] = {TIMESTAMPTZOID, NAMEOID, NAMEOID, TEXTOID, TEXTOID, INT4OID,
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, BOOLOID, TEXTOID, JSONBOID, JSONBOID};
		SPIPlanPtr	p;

		p = SPI_prepare("INSERT INTO finsec.audit "
						"(event_time, db_user, session_user_name, client_addr, "
						" application_name, backend_pid, event_type, subject, "
						" object, action, success, description, detail) "
						"VALUES ($1, $2, $3, pg_catalog.inet_in(pg_catalog.textout($4)), $5, $6, $7, "
						" coalesce($8, $2::pg_catalog.text), $9, $10, $11, $12, "
						" CASE WHEN $13 IS NULL THEN $14 "
						"      WHEN pg_catalog.jsonb_typeof($13) OPERATOR(pg_catalog.=) 'object' "
						"      THEN $13 OPERATOR(pg_catalog.||) $14 "
						"      ELSE pg_catalog.jsonb_build_object('detail', $13) OPERATOR(pg_catalog.||) $14 END) "
						"RETURNING finsec_seq",
						14, argtypes);
		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		plan = p;
	}
	memset(nulls, ' ', sizeof(nulls));
	values[0] = TimestampTzGetDatum(r->at);
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(r->db_user));
	values[2] = DirectFunctionCall1(namein, CStringGetDatum(r->session_user));
	if (r->client_addr && *r->client_addr)
		values[3] = CStringGetTextDatum(r->client_addr);
	else
		nulls[3] = 'n';
	values[4] = CStringGetTextDatum(r->application_name ? r->application_name : "");
	values[5] = Int32GetDatum(r->backend_pid);
	values[6] = CStringGetTextDatum(r->event_type);
#define REPLAY_TEXT(i, v) do { if (v) values[i] = CStringGetTextDatum(v); else nulls[i] = 'n'; } while (0)
	REPLAY_TEXT(7, r->subject);
	REPLAY_TEXT(8, r->object);
	REPLAY_TEXT(9, r->action);
	values[10] = BoolGetDatum(r->success);
	REPLAY_TEXT(11, r->description);
#undef REPLAY_TEXT
	if (r->detail)
		values[12] = JsonbPGetDatum(r->detail);
	else
		nulls[12] = 'n';
	values[13] = JsonbPGetDatum(r->marker);
	ret = SPI_execute_plan(plan, values, nulls, false, 1);
	if (ret != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not write audit event: %s", SPI_result_code_string(ret));
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

void
finsec_audit_event(const char *event_type, const char *object,
				   const char *action, bool success,
				   const char *description, Jsonb *detail)
{
	FinsecOwnerContext ctx;

	finsec_require_preload("the finsec audit ledger");
	finsec_spi_begin_as_owner(&ctx);
	(void) finsec_audit_event_internal(ctx.caller, event_type, NULL, object, action,
									   success, description, detail);
	finsec_spi_end(&ctx);
}


/*
 * Event namespaces finsec itself writes (docs/audit.md#event-types): an
 * event type equal to one of these words or starting with it and a dot is
 * written through finsec.audit_event() only by finsec's own PL/pgSQL
 * functions (the innermost PL/pgSQL function running belongs to the
 * extension: plcaller.c) or by a superuser, so that an application cannot
 * forge a card.reveal or an audit.purge.
 */
static const char *const reserved_namespaces[] = {
	"account", "audit", "auth", "card", "change", "compliance", "credit", "deid", "finsec",
	"guard", "key", "label", "ledger", "limits", "monitor", "operator", "otp",
	"protect", "reveal", "risk", "role", "signature", NULL
};

/*
 * Event types that stand for a verification or a self-check having run
 * (finsec.key_verify(), finsec.audit_verify(), finsec.compliance_check(),
 * the monthly ledger analysis): the compliance self-check judges by them,
 * so nobody writes them through finsec.audit_event(), superusers included;
 * finsec's C code writes them, or finsec's own PL/pgSQL functions.
 */
static const char *const evidence_event_types[] = {
	"audit.verify", "key.verify", "compliance.check", "audit.analysis", NULL
};

static bool
evidence_event_type(const char *event_type)
{
	for (int i = 0; evidence_event_types[i]; i++)
		if (strcmp(event_type, evidence_event_types[i]) == 0)
			return true;
	return false;
}

static const char *
reserved_namespace(const char *event_type)
{
	for (int i = 0; reserved_namespaces[i]; i++)
	{
		size_t		n = strlen(reserved_namespaces[i]);

		if (strncmp(event_type, reserved_namespaces[i], n) == 0 &&
			(event_type[n] == '\0' || event_type[n] == '.'))
			return reserved_namespaces[i];
	}
	return NULL;
}

/*
 * The role an event through finsec.audit_event() is recorded for: the
 * current role, except inside finsec's own SECURITY DEFINER functions
 * (current role the extension's owner, switched by the definer call),
 * where it is the role before the switch (the outer role: the login role
 * or the one SET ROLE chose).
 */
static Oid
audit_event_actor(void)
{
	Oid			userid;
	int			sec;

	GetUserIdAndSecContext(&userid, &sec);
	if ((sec & SECURITY_LOCAL_USERID_CHANGE) != 0 && userid != GetOuterUserId() &&
		userid == finsec_owner())
		return GetOuterUserId();
	return userid;
}

PG_FUNCTION_INFO_V1(finsec_audit_event_sql);

/*
 * finsec.audit_event(event_type, object, action, success, description,
 *					  detail, subject) returns bigint
 */
Datum
finsec_audit_event_sql(PG_FUNCTION_ARGS)
{
	FinsecOwnerContext ctx;
	int64		seq;
	Oid			actor;
	const char *ns;
	char	   *event_type;

	finsec_require_preload("finsec.audit_event()");
	finsec_require_arg(fcinfo, 0, "audit event type");
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("audit event success must not be null"),
				 errhint("Pass true for a successful operation, false for a refused or failed one.")));

	event_type = text_to_cstring(PG_GETARG_TEXT_PP(0));
	validate_event_type(event_type);
	ns = reserved_namespace(event_type);
	if (ns != NULL && !superuser() && !finsec_called_by_finsec_plpgsql())
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_EVENT_RESERVED),
				 errmsg("audit event type \"%s\" is reserved for finsec", event_type),
				 errdetail("finsec itself writes the events of namespace \"%s\"; an application's event of that type could be taken for one of them.",
						   ns),
				 errhint("Name the application's events in a namespace of its own, such as \"app.%s\".",
						 event_type)));
	if (evidence_event_type(event_type) && !finsec_called_by_finsec_plpgsql())
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_EVENT_RESERVED),
				 errmsg("audit event type \"%s\" is written by finsec only", event_type),
				 errdetail("An event of this type records that a verification or a compliance self-check ran; the self-check judges by it, so not even a superuser writes one through finsec.audit_event()."),
				 errhint("Run the verification itself (finsec.key_verify(), finsec.audit_verify(), finsec.compliance_check(), finsec.report_audit()).")));
	actor = audit_event_actor();

	finsec_spi_begin_as_owner(&ctx);
	seq = finsec_audit_event_internal(actor,
									  event_type,
									  finsec_text_arg_opt(fcinfo, 6),
									  finsec_text_arg_opt(fcinfo, 1),
									  finsec_text_arg_opt(fcinfo, 2),
									  PG_GETARG_BOOL(3),
									  finsec_text_arg_opt(fcinfo, 4),
									  PG_ARGISNULL(5) ? NULL : PG_GETARG_JSONB_P(5));
	finsec_spi_end(&ctx);
	PG_RETURN_INT64(seq);
}
