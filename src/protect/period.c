/*-------------------------------------------------------------------------
 *
 * period.c
 *	  Period keys (docs/protected-data.md#periods): the trigger
 *	  finsec_protect_period that seals a protected column under the key of
 *	  its row's period, and the test batch re-keying uses.
 *
 * finsec.protect_period(tbl, col, date_col) installs, as the table's owner,
 * a BEFORE INSERT OR UPDATE trigger (ENABLE ALWAYS) running
 * finsec_protect_period(col, date_col).  For each row it computes the
 * period of date_col under the column's policy (its typmod) and, when the
 * value is not already under that policy and period, opens it and seals it
 * again under "<enc_key>.<period>" (and "<fp_key>.<period>" for a policy
 * fingerprinting per period).  A period that was shredded takes no new
 * value (S9P24); a NULL date is refused (S9P28); a value that cannot be
 * opened is refused (S9P29), never stored as it is.
 *
 * A timestamptz date column counts in UTC, whatever the session's TimeZone:
 * the period a row belongs to must not depend on a client setting.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/indexing.h"
#include "catalog/pg_trigger.h"
#include "commands/extension.h"
#include "nodes/parsenodes.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_errcodes.h"
#include "finsec_hooks.h"
#include "finsec_trigger.h"
#include "finsec_owner.h"
#include "finsec_protect.h"

/* ---- shredded periods, read once per transaction ------------------------ */

typedef struct ShreddedPeriod
{
	char		policy[NAMEDATALEN];
	int32		period;
} ShreddedPeriod;

static ShreddedPeriod *shredded = NULL;
static int	nshredded = 0;
static LocalTransactionId shredded_lxid = InvalidLocalTransactionId;

/* Load finsec.protect_shredded into TopTransactionContext, once per transaction. */
static void
load_shredded(void)
{
	FinsecOwnerContext ctx;
	uint64		i;

	if (shredded_lxid == MyProc->lxid && shredded_lxid != InvalidLocalTransactionId)
		return;
	shredded = NULL;
	nshredded = 0;
	finsec_spi_begin_as_owner(&ctx);
	finsec_spi_execute("SELECT policy_name, period FROM finsec.protect_shredded",
					   0, NULL, NULL, NULL, true, 0, SPI_OK_SELECT,
					   "could not read finsec.protect_shredded");
	if (SPI_processed > 0)
	{
		shredded = MemoryContextAllocZero(TopTransactionContext,
										  sizeof(ShreddedPeriod) * SPI_processed);
		for (i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
			Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);

			if (name == NULL || isnull)
				continue;
			strlcpy(shredded[nshredded].policy, name, NAMEDATALEN);
			shredded[nshredded].period = DatumGetInt32(d);
			nshredded++;
		}
	}
	finsec_spi_end(&ctx);
	shredded_lxid = MyProc->lxid;
}

static bool
period_shredded(const char *policy, int32 period)
{
	int			i;

	load_shredded();
	for (i = 0; i < nshredded; i++)
		if (shredded[i].period == period && strcmp(shredded[i].policy, policy) == 0)
			return true;
	return false;
}

/* ---- the trigger --------------------------------------------------------- */

#define PERIOD_TRIGGER "finsec_protect_period"

/* > 0 while _protect_period_sync changes the trigger itself. */
static int	syncing = 0;

/* Whether a type is one of the protected types (finsec.protected_*). */
static bool
is_protected_type(Oid typid)
{
	char	   *name = format_type_extended(typid, -1, FORMAT_TYPE_FORCE_QUALIFY | FORMAT_TYPE_ALLOW_INVALID);

	return strcmp(name, "finsec.protected_text") == 0 ||
		strcmp(name, "finsec.protected_resident_id") == 0 ||
		strcmp(name, "finsec.protected_uscc") == 0 ||
		strcmp(name, "finsec.protected_mobile") == 0;
}

/* The date (days since 2000-01-01) of a date or timestamptz datum, in UTC. */
static int32
row_date(Datum d, Oid typid)
{
	if (typid == DATEOID)
	{
		DateADT		v = DatumGetDateADT(d);

		if (DATE_NOT_FINITE(v))
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_PROTECT_PERIOD_DATE),
					 errmsg("the period date of a protected value must be finite")));
		return (int32) v;
	}
	else
	{
		TimestampTz v = DatumGetTimestampTz(d);
		int64		days;

		if (TIMESTAMP_NOT_FINITE(v))
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_PROTECT_PERIOD_DATE),
					 errmsg("the period date of a protected value must be finite")));
		days = v / USECS_PER_DAY;
		if (v < 0 && v % USECS_PER_DAY != 0)
			days--;
		return (int32) days;
	}
}

/*
 * Seal the value of column attnum of tuple under the period of column
 * dattnum; returns the tuple, modified or not.
 */
static HeapTuple
seal_column(Relation rel, HeapTuple tuple, int attnum, int dattnum)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	Form_pg_attribute att;
	Form_pg_attribute datt;
	Datum		value;
	Datum		ddatum;
	bool		isnull;
	const FinsecProtectPolicy *p;
	int32		period;
	struct varlena *v;
	FinsecProtectOpenStatus status;
	char	   *plain = NULL;
	size_t		len = 0;
	struct varlena *sealed = NULL;
	Datum		newvalue;
	bool		newnull = false;

	if (attnum <= 0 || dattnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("table \"%s\" has no column named by its period trigger",
						RelationGetRelationName(rel))));
	att = TupleDescAttr(tupdesc, attnum - 1);
	datt = TupleDescAttr(tupdesc, dattnum - 1);
	if (!is_protected_type(att->atttypid))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_PROTECT_NOT_PERIOD),
				 errmsg("column \"%s\" is not of a protected type", NameStr(att->attname))));
	if (datt->atttypid != DATEOID && datt->atttypid != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the period column \"%s\" must be of type date or timestamptz",
						NameStr(datt->attname))));
	p = finsec_protect_policy(att->atttypmod);
	if (p->period_unit[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_PROTECT_NOT_PERIOD),
				 errmsg("column \"%s\" has no period policy", NameStr(att->attname)),
				 errdetail("Its policy \"%s\" has no period_unit.", p->name)));

	value = heap_getattr(tuple, attnum, tupdesc, &isnull);
	if (isnull)
		return tuple;
	ddatum = heap_getattr(tuple, dattnum, tupdesc, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_PROTECT_PERIOD_DATE),
				 errmsg("the period date \"%s\" of a protected value must not be null",
						NameStr(datt->attname)),
				 errdetail("Column \"%s\" is sealed under the key of the period of its row's date.",
						   NameStr(att->attname))));
	period = finsec_protect_period_of(p->period_unit, row_date(ddatum, datt->atttypid));

	/*
	 * A value already under the row's period stays as it is, shredded or not:
	 * an update of another column of a shredded row is allowed.
	 */
	v = (struct varlena *) PG_DETOAST_DATUM(value);
	if (finsec_protect_value_policy(v) == p->policy_id && finsec_protect_value_period(v) == period)
		return tuple;
	if (period_shredded(p->name, period))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_PROTECT_PERIOD_SHREDDED),
				 errmsg("period %d of protect policy \"%s\" was shredded", period, p->name),
				 errdetail("Its keys were destroyed; no new value can be sealed under them."),
				 errhidestmt(true)));

	status = finsec_protect_open(v, &plain, &len);
	if (status != FINSEC_PROTECT_OPEN_OK)
	{
		if (plain)
		{
			explicit_bzero(plain, len);
			pfree(plain);
		}
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_PROTECT_CANNOT_RESEAL),
				 errmsg("a protected value of column \"%s\" cannot be moved to period %d",
						NameStr(att->attname), period),
				 errdetail(status == FINSEC_PROTECT_OPEN_SHREDDED ? "The key of its period was shredded." :
						   status == FINSEC_PROTECT_OPEN_NO_KEY ? "Its key is not available." :
						   "It failed authentication."),
				 errhidestmt(true)));
	}
	PG_TRY();
	{
		sealed = finsec_protect_seal(finsec_protect_kind(v), p, period, plain, len);
	}
	PG_FINALLY();
	{
		explicit_bzero(plain, len);
		pfree(plain);
	}
	PG_END_TRY();
	newvalue = PointerGetDatum(sealed);
	return heap_modify_tuple_by_cols(tuple, tupdesc, 1, &attnum, &newvalue, &newnull);
}

PG_FUNCTION_INFO_V1(finsec_protect_period);

/*
 * Trigger finsec_protect_period(col, date_col [, col, date_col ...]):
 * BEFORE INSERT OR UPDATE FOR EACH ROW; seals the value of each col under
 * the key of the period of its date_col.
 */
Datum
finsec_protect_period(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *trigger;
	TupleDesc	tupdesc;
	HeapTuple	tuple;
	int			i;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("finsec_protect_period can only be called as a trigger")));
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) || TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("finsec_protect_period must run BEFORE INSERT OR UPDATE FOR EACH ROW")));
	trigger = trigdata->tg_trigger;
	if (trigger->tgnargs < 2 || trigger->tgnargs % 2 != 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("finsec_protect_period needs pairs of arguments: a protected column and its date column"),
				 errhint("Install it with finsec.protect_period().")));
	tupdesc = RelationGetDescr(trigdata->tg_relation);
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	for (i = 0; i < trigger->tgnargs; i += 2)
		tuple = seal_column(trigdata->tg_relation, tuple,
							SPI_fnumber(tupdesc, trigger->tgargs[i]),
							SPI_fnumber(tupdesc, trigger->tgargs[i + 1]));
	return PointerGetDatum(tuple);
}

PG_FUNCTION_INFO_V1(finsec_protect_period_sync);

/*
 * finsec._protect_period_sync(tbl): make the table's trigger
 * finsec_protect_period cover exactly its columns registered in
 * finsec.protect_period_column (created, replaced or dropped).  The DDL
 * runs as the current user, who must own the table (the table's owner in
 * protect_period, finsec's owner applying protect.period_drop): no raised
 * privilege over the user's table, and no code of the table's owner runs.
 */
Datum
finsec_protect_period_sync(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *qname;
	FinsecOwnerContext ctx;
	Oid			argtype = OIDOID;
	Datum		arg = ObjectIdGetDatum(relid);
	StringInfoData args;
	StringInfoData ddl;
	uint64		n;
	uint64		i;
	bool		exists;

	if (!pg_class_ownercheck(relid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of table %s", get_rel_name(relid))));
	qname = finsec_quoted_relname(relid);

	initStringInfo(&args);
	finsec_spi_begin_as_owner(&ctx);
	n = finsec_spi_execute("SELECT column_name::text, date_column::text FROM finsec.protect_period_column "
						   "WHERE relid OPERATOR(pg_catalog.=) $1 ORDER BY column_name",
						   1, &argtype, &arg, NULL, true, 0, SPI_OK_SELECT,
						   "could not read finsec.protect_period_column");
	for (i = 0; i < n; i++)
	{
		appendStringInfo(&args, "%s%s, %s", i > 0 ? ", " : "",
						 quote_literal_cstr(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1)),
						 quote_literal_cstr(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2)));
	}
	exists = finsec_spi_execute("SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid OPERATOR(pg_catalog.=) $1 "
								"AND tgname OPERATOR(pg_catalog.=) 'finsec_protect_period'",
								1, &argtype, &arg, NULL, true, 0, SPI_OK_SELECT,
								"could not read pg_trigger") > 0;
	finsec_spi_end(&ctx);

	initStringInfo(&ddl);
	if (n > 0)
		appendStringInfo(&ddl, "CREATE OR REPLACE TRIGGER finsec_protect_period BEFORE INSERT OR UPDATE ON %s "
						 "FOR EACH ROW EXECUTE FUNCTION finsec._protect_period_trigger(%s); "
						 "ALTER TABLE %s ENABLE ALWAYS TRIGGER finsec_protect_period",
						 qname, args.data, qname);
	else if (exists)
		appendStringInfo(&ddl, "DROP TRIGGER finsec_protect_period ON %s", qname);
	else
		PG_RETURN_VOID();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	finsec_own_trigger_ddl_begin();
	syncing++;
	PG_TRY();
	{
		if (SPI_execute(ddl.data, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not install the period trigger");
	}
	PG_FINALLY();
	{
		syncing--;
		finsec_own_trigger_ddl_end();
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_VOID();
}

/* ---- whether a value is under the active key versions -------------------- */

/*
 * The value layout after the varlena header (docs/protected-data.md):
 * format, kind, flags, mask (1 byte each), policy_id, enc_version,
 * fp_key_id, fp_version, period (4 bytes each, big-endian).
 */
#define PV_FLAGS_OFF 2
#define PV_FLAG_FP_PERIOD 0x02
#define PV_ENC_VERSION_OFF 8
#define PV_FP_KEY_ID_OFF 12
#define PV_FP_VERSION_OFF 16
#define PV_MIN_LEN 24

static int32
read_be32(const unsigned char *b)
{
	return (int32) (((uint32) b[0] << 24) | ((uint32) b[1] << 16) | ((uint32) b[2] << 8) | (uint32) b[3]);
}

typedef struct ActiveVersionCache
{
	int			n;
	char		labels[8][NAMEDATALEN];
	int32		versions[8];	/* 0: no active version */
} ActiveVersionCache;

/* The active version of a key label (0 when none), cached for the query. */
static int32
active_version(FunctionCallInfo fcinfo, const char *label)
{
	ActiveVersionCache *c = (ActiveVersionCache *) fcinfo->flinfo->fn_extra;
	FinsecOwnerContext ctx;
	Datum		arg;
	Oid			argtype = TEXTOID;
	int32		version = 0;
	int			i;

	if (c == NULL)
	{
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ActiveVersionCache));
		fcinfo->flinfo->fn_extra = c;
	}
	for (i = 0; i < c->n; i++)
		if (strcmp(c->labels[i], label) == 0)
			return c->versions[i];

	arg = CStringGetTextDatum(label);
	finsec_spi_begin_as_owner(&ctx);
	finsec_spi_execute("SELECT kv.version FROM finsec.key_version kv JOIN finsec.key k USING (key_id) "
					   "WHERE k.label = $1 AND kv.state = 'active'",
					   1, &argtype, &arg, NULL, true, 1, SPI_OK_SELECT,
					   "could not read finsec.key_version");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			version = DatumGetInt32(d);
	}
	finsec_spi_end(&ctx);

	i = c->n < 8 ? c->n++ : 7;
	strlcpy(c->labels[i], label, NAMEDATALEN);
	c->versions[i] = version;
	return version;
}

PG_FUNCTION_INFO_V1(finsec_protected_is_current);

/*
 * finsec._protected_is_current(value): false when the value's encryption or
 * fingerprint version is not the active one of its key; true otherwise,
 * also when its key has no active version (shredded, or not created):
 * then there is nothing to re-key to.  Decrypts nothing.
 */
Datum
finsec_protected_is_current(PG_FUNCTION_ARGS)
{
	struct varlena *v = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	const unsigned char *b = (const unsigned char *) VARDATA_ANY(v);
	const FinsecProtectPolicy *p;
	int32		period;
	char		label[NAMEDATALEN];
	int32		active;

	if (VARSIZE_ANY_EXHDR(v) < PV_MIN_LEN)
		PG_RETURN_BOOL(true);
	p = finsec_protect_policy(finsec_protect_value_policy(v));
	period = finsec_protect_value_period(v);
	if (period != 0)
		snprintf(label, sizeof(label), "%s.%d", p->enc_key, period);
	else
		strlcpy(label, p->enc_key, sizeof(label));
	active = active_version(fcinfo, label);
	if (active != 0 && active != read_be32(b + PV_ENC_VERSION_OFF))
		PG_RETURN_BOOL(false);
	if (read_be32(b + PV_FP_KEY_ID_OFF) != 0 && p->fp_key[0] != '\0')
	{
		if (period != 0 && (b[PV_FLAGS_OFF] & PV_FLAG_FP_PERIOD))
			snprintf(label, sizeof(label), "%s.%d", p->fp_key, period);
		else
			strlcpy(label, p->fp_key, sizeof(label));
		active = active_version(fcinfo, label);
		if (active != 0 && active != read_be32(b + PV_FP_VERSION_OFF))
			PG_RETURN_BOOL(false);
	}
	PG_RETURN_BOOL(true);
}

/* ---- refusing DDL that would remove the period trigger ------------------- */

static bool
period_checks_active(void)
{
	Oid			nsp;

	if (!IsTransactionState() || creating_extension || syncing > 0)
		return false;
	nsp = get_namespace_oid("finsec", true);
	return OidIsValid(nsp) && OidIsValid(get_relname_relid("protect_period_column", nsp));
}

/*
 * Whether relid has registered period columns; *cols (if not NULL) gets
 * their names and those of their date columns.
 */
static bool
period_registered(Oid relid, List **cols)
{
	FinsecOwnerContext ctx;
	Oid			argtype = OIDOID;
	Datum		arg = ObjectIdGetDatum(relid);
	uint64		n;
	uint64		i;

	MemoryContext caller = CurrentMemoryContext;

	if (cols)
		*cols = NIL;
	if (!OidIsValid(relid) || !period_checks_active())
		return false;
	finsec_spi_begin_as_owner(&ctx);
	n = finsec_spi_execute("SELECT column_name::text, date_column::text FROM finsec.protect_period_column "
						   "WHERE relid OPERATOR(pg_catalog.=) $1",
						   1, &argtype, &arg, NULL, true, 0, SPI_OK_SELECT,
						   "could not read finsec.protect_period_column");
	if (cols)
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		for (i = 0; i < n; i++)
		{
			*cols = lappend(*cols, pstrdup(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1)));
			*cols = lappend(*cols, pstrdup(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2)));
		}
		MemoryContextSwitchTo(old);
	}
	finsec_spi_end(&ctx);
	return n > 0;
}

static void
period_refuse(const char *what, Oid relid)
{
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_PROTECT_PERIOD_DDL),
			 errmsg("cannot %s \"%s\": its protected values are sealed under period keys", what,
					get_rel_name(relid)),
			 errdetail("The trigger finsec_protect_period seals each value under the key of its row's period; without it new values would escape crypto-shredding."),
			 errhint("Remove the period keying first (two-person): finsec.protect_period_drop(%s, column).",
					 quote_literal_cstr(get_rel_name(relid)))));
}

static bool
names_column(List *cols, const char *col)
{
	ListCell   *lc;

	if (col == NULL)
		return false;
	foreach(lc, cols)
		if (strcmp((char *) lfirst(lc), col) == 0)
		return true;
	return false;
}

/* ---- every stored protected value names its policy --------------------- */

/*
 * Whether a column or domain of type typid with typmod would hold protected
 * values bound to no policy: a protected type without a typmod, through
 * domains and arrays.
 */
static bool
unbound_protected(Oid typid, int32 typmod)
{
	for (int depth = 0; depth < 64; depth++)
	{
		HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
		Form_pg_type t;

		if (!HeapTupleIsValid(tup))
			return false;
		t = (Form_pg_type) GETSTRUCT(tup);
		if (t->typtype == TYPTYPE_DOMAIN)
		{
			if (typmod < 0)
				typmod = t->typtypmod;
			typid = t->typbasetype;
		}
		else if (IsTrueArrayType(t))
			typid = t->typelem;
		else
		{
			ReleaseSysCache(tup);
			return is_protected_type(typid) && typmod < 0;
		}
		ReleaseSysCache(tup);
	}
	return false;
}

static void
unbound_refuse(const char *what, const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_PROTECT_UNBOUND_COLUMN),
			 errmsg("%s \"%s\" of a protected type names no protection policy", what, name),
			 errdetail("Every stored protected value is sealed under a policy, its type modifier."),
			 errhint("Declare it finsec.protected_text(\"default\"), or with the name of a policy (finsec.protect_policy).")));
}

/*
 * A new or altered table, matview, foreign table or composite type column
 * (subId, or every column of a new relation), or a new domain, of a
 * protected type without a policy: refused (S9P08).  The catalog rows are
 * read with SnapshotSelf: they were written by the current command.
 */
static void
unbound_check(Oid classId, Oid objectId, int subId)
{
	Relation	rel;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;

	if (classId == TypeRelationId)
	{
		rel = table_open(TypeRelationId, AccessShareLock);
		ScanKeyInit(&key[0], Anum_pg_type_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(objectId));
		scan = systable_beginscan(rel, TypeOidIndexId, true, SnapshotSelf, 1, key);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			Form_pg_type t = (Form_pg_type) GETSTRUCT(tup);

			if (t->typtype == TYPTYPE_DOMAIN && unbound_protected(t->typbasetype, t->typtypmod))
				unbound_refuse("domain", NameStr(t->typname));
		}
		systable_endscan(scan);
		table_close(rel, AccessShareLock);
		return;
	}
	if (classId != RelationRelationId)
		return;
	rel = table_open(RelationRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_class_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(objectId));
	scan = systable_beginscan(rel, ClassOidIndexId, true, SnapshotSelf, 1, key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		char		relkind = ((Form_pg_class) GETSTRUCT(tup))->relkind;

		if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE &&
			relkind != RELKIND_MATVIEW && relkind != RELKIND_FOREIGN_TABLE &&
			relkind != RELKIND_COMPOSITE_TYPE)
			tup = NULL;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!HeapTupleIsValid(tup))
		return;
	rel = table_open(AttributeRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_attribute_attrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(objectId));
	ScanKeyInit(&key[1], Anum_pg_attribute_attnum, BTEqualStrategyNumber, F_INT2EQ,
				Int16GetDatum((int16) subId));
	scan = systable_beginscan(rel, AttributeRelidNumIndexId, true, SnapshotSelf, subId > 0 ? 2 : 1, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_attribute a = (Form_pg_attribute) GETSTRUCT(tup);

		if (a->attnum > 0 && !a->attisdropped && unbound_protected(a->atttypid, a->atttypmod))
			unbound_refuse("column", NameStr(a->attname));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/*
 * Drops however they are reached: the table, its period or date columns,
 * its trigger; new columns and domains of a protected type without policy.
 */
static void
period_object_access(ObjectAccessType access, Oid classId, Oid objectId, int subId, void *arg)
{
	if ((access == OAT_POST_CREATE || (access == OAT_POST_ALTER && subId > 0)) &&
		IsTransactionState())
	{
		unbound_check(classId, objectId, subId);
		return;
	}
	if (access != OAT_DROP)
		return;
	if (classId == RelationRelationId)
	{
		List	   *cols;

		if (!period_registered(objectId, &cols))
			return;
		if (subId == 0)
			period_refuse("drop table", objectId);
		else if (names_column(cols, get_attname(objectId, subId, true)))
			period_refuse(psprintf("drop column \"%s\" of", get_attname(objectId, subId, true)), objectId);
	}
	else if (classId == TriggerRelationId)
	{
		FinsecTriggerRow t;

		if (finsec_trigger_by_oid(objectId, &t) &&
			strcmp(NameStr(t.tgname), PERIOD_TRIGGER) == 0 &&
			period_registered(t.tgrelid, NULL))
			period_refuse("drop trigger finsec_protect_period of", t.tgrelid);
	}
}

/* ALTER TABLE that disables or weakens the trigger, or retypes a registered column. */
static void
period_check_alter_table(AlterTableStmt *stmt)
{
	Oid			relid;
	List	   *cols;
	ListCell   *lc;

	if (stmt->objtype != OBJECT_TABLE || stmt->relation == NULL)
		return;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!period_registered(relid, &cols))
		return;
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = (AlterTableCmd *) lfirst(lc);

		switch (cmd->subtype)
		{
			case AT_DisableTrig:
			case AT_EnableTrig:
			case AT_EnableReplicaTrig:
				if (cmd->name && strcmp(cmd->name, PERIOD_TRIGGER) == 0)
					period_refuse("disable or weaken trigger finsec_protect_period of", relid);
				break;
			case AT_DisableTrigAll:
			case AT_DisableTrigUser:
				period_refuse("disable the triggers of", relid);
				break;
			case AT_AlterColumnType:
				if (names_column(cols, cmd->name))
					period_refuse(psprintf("change the type of column \"%s\" of", cmd->name), relid);
				break;
			default:
				break;
		}
	}
}

static void
period_ProcessUtility(FinsecUtilityCall *call)
{
	Node	   *stmt = call->pstmt->utilityStmt;

	if (IsA(stmt, AlterTableStmt))
		period_check_alter_table((AlterTableStmt *) stmt);
	else if (IsA(stmt, RenameStmt))
	{
		RenameStmt *rs = (RenameStmt *) stmt;

		if (rs->relation && rs->subname &&
			((rs->renameType == OBJECT_TRIGGER && strcmp(rs->subname, PERIOD_TRIGGER) == 0) ||
			 rs->renameType == OBJECT_COLUMN))
		{
			Oid			relid = RangeVarGetRelid(rs->relation, NoLock, true);
			List	   *cols;

			if (period_registered(relid, &cols) &&
				(rs->renameType == OBJECT_TRIGGER || names_column(cols, rs->subname)))
				period_refuse(rs->renameType == OBJECT_TRIGGER ? "rename trigger finsec_protect_period of" :
							  psprintf("rename column \"%s\" of", rs->subname), relid);
		}
	}
	finsec_hooks_utility_next(call);
}

void
finsec_protect_period_init(void)
{
	finsec_hooks_register_utility(FINSEC_UTILITY_PROTECT, period_ProcessUtility);
	finsec_hooks_register_object_access(FINSEC_OBJECT_ACCESS_PROTECT, period_object_access);
}
