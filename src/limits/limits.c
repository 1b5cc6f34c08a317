/*-------------------------------------------------------------------------
 *
 * limits.c
 *	  Transaction limits, account state and loss controls enforced by a C
 *	  trigger on the application's own payments table (L1-L4).
 *
 * finsec.enable_limits() installs finsec.limit_trigger() as a BEFORE
 * INSERT OR UPDATE OR DELETE row trigger named finsec_limits.  Its
 * configuration travels in the trigger's arguments (cloned to partitions,
 * kept by pg_dump) and is recorded in finsec.limit_table:
 *
 *	 args[0]  customer column			args[5]  authentication tier column
 *	 args[1]  amount column				args[6]  kind column
 *	 args[2]  account column			args[7]  counterparty column
 *	 args[3]  posted-at column			args[8]  account class column
 *	 args[4]  channel column			args[9]  settlement hold column
 *	 args[10] number N of reversal kinds, args[11 .. 11+N-1] reversal kinds,
 *	 the remaining args: exempt kinds.  "" means "not configured".
 *
 * For each new payment, as finsec's owner:
 *
 *	1. the channel must not be switched off (finsec.limit_channel, cached);
 *	2. the payer's and counterparty's rows in finsec.limit_account are read
 *	   FOR SHARE, so that a concurrent freeze waits for the payment or the
 *	   payment for the freeze: frozen and closed accounts, restricted
 *	   kinds and settlement holds are applied;
 *	3. the payer's usage row(s) in finsec.limit_usage are upserted with the
 *	   payment's amount, under row lock (INSERT ... ON CONFLICT DO UPDATE
 *	   ... RETURNING).  Concurrent payments of one payer queue on that
 *	   lock; under READ COMMITTED the second one adds to the first one's
 *	   committed totals, under REPEATABLE READ and SERIALIZABLE it fails
 *	   with SQLSTATE 40001 and is retried by the application;
 *	4. the totals returned, which include this payment, are checked against
 *	   every applicable policy (cached); a breach raises an ERROR, which
 *	   rolls back the payment and the usage update together.
 *
 * One payment locks at most two usage rows, the all-channels row first,
 * always in that order, so payments never deadlock on each other's usage
 * rows; share locks on account rows never conflict between payments.
 *
 * Days and years are calendar periods in finsec.limit_timezone at the
 * statement's server start time; when a posted-at column is named the
 * trigger writes that time into it, so rebuilds see the same periods.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/stratnum.h"
#include "utils/relcache.h"
#include "executor/tuptable.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_index.h"
#include "catalog/pg_am.h"
#include "access/tableam.h"
#include "access/heapam.h"
#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "finsec.h"
#include "finsec_trigger.h"
#include "finsec_apptable.h"
#include "finsec_audit.h"
#include "finsec_limits.h"
#include "finsec_trusted.h"
#include "finsec_owner.h"
#include "limits_internal.h"

char	   *finsec_limit_timezone = NULL;
int			finsec_limit_refusal_retention_minutes = FINSEC_LIMIT_REFUSAL_RETENTION_DEFAULT;

/* ---- amounts: common's amount abstraction (finsec_apptable.h) ------------ */

static void limit_column_type_check(const char *param, const char *name, const char *relname,
									Oid typid);

static int
num_cmp(Datum a, Datum b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, a, b));
}

static Datum
num_sub(Datum a, Datum b)
{
	return DirectFunctionCall2(numeric_sub, a, b);
}

static char *
num_out(Datum a)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, a));
}

/* ---- settings ------------------------------------------------------------ */

/* Defines the limits' settings, then the refusal buffer's (refusals.c). */
void
finsec_limits_define_settings(void)
{
	DefineCustomStringVariable("finsec.limit_timezone",
							   "Time zone in which transaction limits count days and years.",
							   "Daily and yearly limits (finsec.limit_policy) reset at midnight and "
							   "on 1 January in this zone, taken from the server's clock at the start "
							   "of the inserting statement, never from the client. PBOC rules count "
							   "Beijing days.",
							   &finsec_limit_timezone,
							   FINSEC_LIMIT_TIMEZONE_DEFAULT,
							   PGC_SIGHUP, 0,
							   finsec_check_timezone_setting, NULL, NULL);
	DefineCustomIntVariable("finsec.limit_refusal_retention",
							"How long refusal records are kept in finsec.limit_refusal.",
							"The audit sealer deletes older records as it records new ones; "
							"0 keeps them forever.",
							&finsec_limit_refusal_retention_minutes,
							FINSEC_LIMIT_REFUSAL_RETENTION_DEFAULT, 0, 100 * 365 * 24 * 60,
							PGC_SIGHUP, GUC_UNIT_MIN,
							NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.limit_batch_size",
							"Payers whose usage one statement keeps in memory between its payments.",
							"A statement inserting many payments (INSERT ... SELECT, COPY) writes each "
							"payer's usage row at the payer's first payment and at the statement's end, "
							"and counts the payments between in memory (about 200 bytes per payer). "
							"Payers beyond this number are written per payment; 0 writes every payment.",
							&finsec_limit_batch_size,
							FINSEC_LIMIT_BATCH_SIZE_DEFAULT, 0, 16 * 1024 * 1024,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	finsec_limits_define_refusal_settings();
	finsec_limit_cache_define_settings();
}

/* ---- policy and channel cache ------------------------------------------- */

typedef enum LimitPeriod
{
	PERIOD_SINGLE,
	PERIOD_DAY,
	PERIOD_YEAR,
	PERIOD_LIFETIME
} LimitPeriod;

typedef struct LimitPolicy
{
	char	   *name;
	Oid			relid;			/* InvalidOid: any table */
	char	   *account_class;	/* NULL: any */
	bool		has_tier;
	int32		tier;
	char	   *channel;		/* NULL: all channels together */
	char	   *kind;			/* NULL: any */
	LimitPeriod period;
	bool		has_amount;
	Datum		max_amount;
	bool		has_count;
	int64		max_count;
} LimitPolicy;

static MemoryContext limit_cache_cxt = NULL;
static bool limit_cache_valid = false;
static bool limit_callback_registered = false;
static FinsecRelid policy_rel = FINSEC_RELID_INIT("finsec", "limit_policy");
static FinsecRelid channel_rel = FINSEC_RELID_INIT("finsec", "limit_channel");
static LimitPolicy *policies = NULL;
static int	npolicies = 0;
static List *channels_off = NIL;
static Datum numeric_zero_value = (Datum) 0;	/* in limit_cache_cxt */

static void
limit_cache_callback(Datum arg, Oid relid)
{
	if (finsec_relid_matches(&policy_rel, relid) || finsec_relid_matches(&channel_rel, relid))
		limit_cache_valid = false;
}

static char *
cache_text(HeapTuple tup, TupleDesc desc, int col)
{
	char	   *s = SPI_getvalue(tup, desc, col);

	return s ? MemoryContextStrdup(limit_cache_cxt, s) : NULL;
}

/* Read the enabled limit policies and switched-off channels into the backend's cache. */
static void
limit_cache_read(void)
{
	MemoryContext old;
	uint64		i;
	int			ret;

	ret = SPI_execute("SELECT name, relid::pg_catalog.oid, account_class, auth_tier, channel, kind, "
					  "period, max_amount, max_count FROM finsec.limit_policy "
					  "WHERE enabled ORDER BY policy_id", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "limit policy lookup failed: %s", SPI_result_code_string(ret));
	old = MemoryContextSwitchTo(limit_cache_cxt);
	policies = palloc0(sizeof(LimitPolicy) * Max(SPI_processed, 1));
	MemoryContextSwitchTo(old);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		LimitPolicy *p = &policies[npolicies++];
		bool		isnull;
		Datum		d;
		char	   *period;

		p->name = cache_text(tup, desc, 1);
		d = SPI_getbinval(tup, desc, 2, &isnull);
		p->relid = isnull ? InvalidOid : DatumGetObjectId(d);
		p->account_class = cache_text(tup, desc, 3);
		d = SPI_getbinval(tup, desc, 4, &isnull);
		p->has_tier = !isnull;
		p->tier = isnull ? 0 : DatumGetInt32(d);
		p->channel = cache_text(tup, desc, 5);
		p->kind = cache_text(tup, desc, 6);
		period = SPI_getvalue(tup, desc, 7);
		if (strcmp(period, "single") == 0)
			p->period = PERIOD_SINGLE;
		else if (strcmp(period, "day") == 0)
			p->period = PERIOD_DAY;
		else if (strcmp(period, "year") == 0)
			p->period = PERIOD_YEAR;
		else
			p->period = PERIOD_LIFETIME;
		d = SPI_getbinval(tup, desc, 8, &isnull);
		p->has_amount = !isnull;
		if (!isnull)
		{
			old = MemoryContextSwitchTo(limit_cache_cxt);
			p->max_amount = datumCopy(d, false, -1);
			MemoryContextSwitchTo(old);
		}
		d = SPI_getbinval(tup, desc, 9, &isnull);
		p->has_count = !isnull;
		p->max_count = isnull ? 0 : DatumGetInt64(d);
	}

	ret = SPI_execute("SELECT channel FROM finsec.limit_channel WHERE NOT enabled", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "limit channel lookup failed: %s", SPI_result_code_string(ret));
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *c = cache_text(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

		old = MemoryContextSwitchTo(limit_cache_cxt);
		channels_off = lappend(channels_off, c);
		MemoryContextSwitchTo(old);
	}
}

/*
 * Load enabled policies and switched-off channels, if a change invalidated
 * them.  They are read as finsec's owner with a snapshot taken now, whatever
 * the isolation level: a change that committed before this payment's table
 * lock was granted (finsec_limit_lock_tables) applies to it.
 */
static void
limit_cache_load(void)
{
	FinsecOwnerContext ctx;
	MemoryContext old;

	if (limit_cache_valid)
		return;
	if (!limit_callback_registered)
	{
		finsec_register_relcache_callback(limit_cache_callback, (Datum) 0);
		limit_callback_registered = true;
	}
	if (limit_cache_cxt == NULL)
		limit_cache_cxt = AllocSetContextCreate(CacheMemoryContext, "finsec limit cache",
												ALLOCSET_SMALL_SIZES);
	MemoryContextReset(limit_cache_cxt);
	policies = NULL;
	npolicies = 0;
	channels_off = NIL;
	old = MemoryContextSwitchTo(limit_cache_cxt);
	numeric_zero_value = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
	MemoryContextSwitchTo(old);
	(void) finsec_relid(&policy_rel);
	(void) finsec_relid(&channel_rel);
	/* Set before reading: an invalidation arriving meanwhile clears it again. */
	limit_cache_valid = true;

	finsec_spi_begin_as_owner(&ctx);
	PushActiveSnapshot(GetLatestSnapshot());
	PG_TRY();
	{
		limit_cache_read();
	}
	PG_CATCH();
	{
		limit_cache_valid = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
	PopActiveSnapshot();
	finsec_spi_end(&ctx);
}

PG_FUNCTION_INFO_V1(finsec_limit_config_changed);

/*
 * Statement trigger on limit_policy, limit_channel and limit_account:
 * invalidate backends' caches at commit, and wait for the payments in
 * flight on every limited table, holding new ones off until this
 * transaction ends.  So once the change commits, no payment that was
 * checked without it can still commit (docs/limits.md, "Changes and
 * payments in flight").
 */
Datum
finsec_limit_config_changed(PG_FUNCTION_ARGS)
{
	finsec_relcache_trigger(fcinfo, "finsec.limit_config_changed()");
	finsec_limit_lock_tables();
	return PointerGetDatum(NULL);
}

/* ---- trigger configuration, per relation ---------------------------------- */

enum
{
	ARG_CUSTOMER, ARG_AMOUNT, ARG_ACCOUNT, ARG_TIME, ARG_CHANNEL, ARG_TIER,
	ARG_KIND, ARG_COUNTERPARTY, ARG_CLASS, ARG_HOLD, ARG_NREVERSAL, ARG_FIXED
};

static const char *const arg_params[ARG_NREVERSAL] = {
	"customer", "amount", "account", "posted_at", "channel", "auth_tier", "kind",
	"counterparty", "account_class", "settlement_hold"
};

/* How a configured column's value becomes a C string. */
typedef enum ColumnForm
{
	FORM_TEXT,					/* text, varchar: the bytes */
	FORM_BPCHAR,				/* character(n): the bytes without trailing
								 * blanks */
	FORM_OUTPUT					/* anything else: the type's output function */
} ColumnForm;

/*
 * A limited table's (or partition's) trigger configuration: the trigger's
 * arguments resolved against the relation's columns, kept per backend
 * until the relation's relcache entry is invalidated (the trigger was
 * dropped or recreated, a column renamed, ...).
 */
typedef struct LimitRel
{
	Oid			relid;			/* hash key */
	bool		valid;
	MemoryContext cxt;
	Oid			tgoid;
	Oid			root;			/* root of the partition tree, or relid */
	int			att[ARG_NREVERSAL]; /* attribute numbers; 0 = not configured */
	Oid			basetype[ARG_NREVERSAL];
	FinsecAmountType amount_type;	/* how the amount column's values become
									 * numeric */
	ColumnForm	form[ARG_NREVERSAL];
	FmgrInfo	output[ARG_NREVERSAL];
	char	  **reversal;
	int			nreversal;
	char	  **exempt;
	int			nexempt;
	/* reversals name their original payment (0: not configured) */
	int			att_pid;		/* the column identifying a payment */
	int			att_rev;		/* the column of a reversal naming it */
	Oid			pid_type;		/* their type (the reversal_of value's type) */
	FmgrInfo	pid_out;		/* its output function (a built-in type) */
	char	   *lookup_sql;		/* finds the original payment, as the caller */
	TimestampTz usage_since;	/* payments stamped before are not counted for
								 * a payer without roll-up */
} LimitRel;

static HTAB *limit_rels = NULL;
static FinsecRelid limit_table_rel = FINSEC_RELID_INIT("finsec", "limit_table");	/* a change rebuilds
																					 * every entry */

static void
limit_rel_callback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS seq;
	LimitRel   *r;

	if (limit_rels == NULL)
		return;
	if (!finsec_relid_matches(&limit_table_rel, relid))
	{
		r = hash_search(limit_rels, &relid, HASH_FIND, NULL);
		if (r)
			r->valid = false;
		return;
	}
	hash_seq_init(&seq, limit_rels);
	while ((r = hash_seq_search(&seq)) != NULL)
		r->valid = false;
}

static void
refuse_forged(Relation rel, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_LIMIT_TRIGGER_FORGED),
			 errmsg("trigger finsec_limits on \"%s\" is not the one finsec.enable_limits() created",
					RelationGetRelationName(rel)),
			 errdetail("%s", why),
			 errhint("finsec.limit_table records the configuration of each limited table; finsec.enable_limits() creates its trigger.")));
}

/* The base type a payment reference column may have: built-in, with built-in equality and output. */
static bool
limit_reference_type_ok(Oid base)
{
	return base == INT2OID || base == INT4OID || base == INT8OID || base == NUMERICOID ||
		base == TEXTOID || base == VARCHAROID || base == BPCHAROID || base == UUIDOID;
}

/*
 * Check the trigger against the table's registration in finsec.limit_table
 * (read as finsec's owner) and take from it what the trigger's arguments
 * do not carry: the approved exempt kinds and the payment reference
 * columns.  A trigger that a table owner created on a table that is not
 * registered, or with other arguments, refuses every row.
 */
static void
limit_rel_registration(LimitRel *r, Relation rel, Trigger *trig)
{
	TupleDesc	desc = RelationGetDescr(rel);
	FinsecOwnerContext ctx;
	Oid			types[1] = {OIDOID};
	Datum		values[1];
	HeapTuple	tup;
	TupleDesc	tdesc;
	MemoryContext old;
	char	   *pid_col = NULL,
			   *rev_col = NULL;
	int			i;
	Oid			limit_table_relid;

	if (strcmp(trig->tgname, FINSEC_LIMITS_TRIGGER) != 0)
		refuse_forged(rel, psprintf("finsec.limit_trigger() runs only as trigger \"%s\", not as \"%s\".",
									FINSEC_LIMITS_TRIGGER, trig->tgname));
	values[0] = ObjectIdGetDatum(r->root);
	limit_table_relid = finsec_relid(&limit_table_rel);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	finsec_begin_owner(&ctx);

	/*
	 * Before ALTER EXTENSION finsec UPDATE to 0.8 there are no reference
	 * columns: no reversals then.
	 */
	finsec_spi_execute(psprintf("SELECT customer_column, amount_column, account_column, time_column, "
								"channel_column, tier_column, kind_column, counterparty_column, class_column, "
								"hold_column, reversal_kinds, exempt_kinds, %s, %s "
								"FROM finsec.limit_table WHERE relid = $1::pg_catalog.regclass",
								get_attnum(limit_table_relid, "reversal_column") != InvalidAttrNumber ?
								"payment_id_column, reversal_column" :
								"NULL::pg_catalog.text, NULL::pg_catalog.text",
								get_attnum(limit_table_relid, "usage_since") != InvalidAttrNumber ?
								"usage_since" : "NULL::pg_catalog.timestamptz"),
					   1, types, values, NULL, true, 1,
					   SPI_OK_SELECT, "limit table lookup failed");
	finsec_end_owner(&ctx);
	if (SPI_processed == 0)
		refuse_forged(rel, "Its table has no limits enabled.");
	tup = SPI_tuptable->vals[0];
	tdesc = SPI_tuptable->tupdesc;
	for (i = 0; i < ARG_NREVERSAL; i++)
	{
		char	   *v = SPI_getvalue(tup, tdesc, i + 1);

		if (strcmp(v ? v : "", trig->tgargs[i]) != 0)
			refuse_forged(rel, psprintf("Its %s column differs from the registered one.", arg_params[i]));
	}
	{
		bool		isnull;
		Datum		d = SPI_getbinval(tup, tdesc, 11, &isnull);
		Datum	   *elems;
		bool	   *enulls;
		int			n;

		deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT, &elems, &enulls, &n);
		if (n != r->nreversal)
			refuse_forged(rel, "Its reversal kinds differ from the registered ones.");
		for (i = 0; i < n; i++)
			if (enulls[i] || strcmp(TextDatumGetCString(elems[i]), r->reversal[i]) != 0)
				refuse_forged(rel, "Its reversal kinds differ from the registered ones.");
		d = SPI_getbinval(tup, tdesc, 12, &isnull);
		deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT, &elems, &enulls, &n);
		old = MemoryContextSwitchTo(r->cxt);
		r->exempt = palloc(sizeof(char *) * Max(n, 1));
		r->nexempt = 0;
		for (i = 0; i < n; i++)
			if (!enulls[i])
				r->exempt[r->nexempt++] = TextDatumGetCString(elems[i]);
		MemoryContextSwitchTo(old);
	}
	pid_col = SPI_getvalue(tup, tdesc, 13);
	rev_col = SPI_getvalue(tup, tdesc, 14);
	{
		bool		isnull;
		Datum		d = SPI_getbinval(tup, tdesc, 15, &isnull);

		/* payments before limits were enabled are not counted */
		r->usage_since = isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
	}
	r->att_pid = r->att_rev = 0;
	r->lookup_sql = NULL;
	if (pid_col && rev_col)
	{
		Oid			func;
		bool		varlena;
		StringInfoData sql;
		char	   *qroot = finsec_quoted_relname(r->root);

		r->att_pid = SPI_fnumber(desc, pid_col);
		r->att_rev = SPI_fnumber(desc, rev_col);
		if (r->att_pid <= 0 || r->att_rev <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("payment reference column \"%s\" or \"%s\" of limited table \"%s\" does not exist",
							pid_col, rev_col, RelationGetRelationName(rel)),
					 errhint("A limited column was renamed or dropped; run finsec.disable_limits() and finsec.enable_limits() with the new name.")));
		r->pid_type = TupleDescAttr(desc, r->att_pid - 1)->atttypid;
		if (!limit_reference_type_ok(getBaseType(r->pid_type)) ||
			getBaseType(TupleDescAttr(desc, r->att_rev - 1)->atttypid) != getBaseType(r->pid_type))
			refuse_forged(rel, "Its payment reference columns no longer have a type finsec accepts.");
		getTypeOutputInfo(getBaseType(r->pid_type), &func, &varlena);
		fmgr_info_cxt(func, &r->pid_out, r->cxt);

		/*
		 * Built-in equality on a built-in type, qualified names: no user code
		 * but the table's own.
		 */
		initStringInfo(&sql);
		appendStringInfo(&sql, "SELECT %s, %s, %s FROM %s WHERE %s OPERATOR(pg_catalog.=) $1",
						 quote_identifier(trig->tgargs[ARG_ACCOUNT][0] ? trig->tgargs[ARG_ACCOUNT] : trig->tgargs[ARG_CUSTOMER]),
						 quote_identifier(trig->tgargs[ARG_AMOUNT]),
						 trig->tgargs[ARG_KIND][0] ? quote_identifier(trig->tgargs[ARG_KIND]) : "NULL::pg_catalog.text",
						 qroot, quote_identifier(pid_col));
		r->lookup_sql = MemoryContextStrdup(r->cxt, sql.data);
	}
	SPI_finish();
}

/* Build the column map of a payments table from its limit trigger's arguments, checked. */
static void
limit_rel_build(LimitRel *r, Relation rel, Trigger *trig)
{
	TupleDesc	desc = RelationGetDescr(rel);
	const char *relname = RelationGetRelationName(rel);
	char	  **args = trig->tgargs;
	MemoryContext old;
	int			i;

	if (trig->tgnargs < ARG_FIXED)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("finsec limit trigger on \"%s\" has %d arguments", relname, trig->tgnargs),
				 errhint("Only finsec.enable_limits() creates it.")));
	if (r->cxt == NULL)
		r->cxt = AllocSetContextCreate(CacheMemoryContext, "finsec limited relation",
									   ALLOCSET_SMALL_SIZES);
	MemoryContextReset(r->cxt);
	old = MemoryContextSwitchTo(r->cxt);
	for (i = 0; i < ARG_NREVERSAL; i++)
	{
		r->att[i] = 0;
		if (args[i][0] == '\0')
			continue;
		r->att[i] = SPI_fnumber(desc, args[i]);
		if (r->att[i] <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("%s column \"%s\" of limited table \"%s\" does not exist",
							arg_params[i], args[i], relname),
					 errhint("A limited column was renamed or dropped; run finsec.disable_limits() and finsec.enable_limits() with the new name.")));
		limit_column_type_check(arg_params[i], args[i], relname,
								TupleDescAttr(desc, r->att[i] - 1)->atttypid);
		r->basetype[i] = getBaseType(TupleDescAttr(desc, r->att[i] - 1)->atttypid);
		if (i == ARG_AMOUNT)
			(void) finsec_amount_type(r->basetype[i], &r->amount_type);
		if (r->basetype[i] == TEXTOID || r->basetype[i] == VARCHAROID)
			r->form[i] = FORM_TEXT;
		else if (r->basetype[i] == BPCHAROID)
			r->form[i] = FORM_BPCHAR;
		else
		{
			Oid			func;
			bool		varlena;

			/* the base type's own output function: trusted, checked above */
			getTypeOutputInfo(r->basetype[i], &func, &varlena);
			fmgr_info_cxt(func, &r->output[i], r->cxt);
			r->form[i] = FORM_OUTPUT;
		}
	}
	r->nreversal = pg_strtoint32(args[ARG_NREVERSAL]);
	if (r->nreversal < 0 || ARG_FIXED + r->nreversal > trig->tgnargs)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("finsec limit trigger on \"%s\" has malformed arguments", relname)));
	r->reversal = palloc(sizeof(char *) * Max(r->nreversal, 1));
	for (i = 0; i < r->nreversal; i++)
		r->reversal[i] = pstrdup(args[ARG_FIXED + i]);
	MemoryContextSwitchTo(old);
	r->root = rel->rd_rel->relispartition ?
		llast_oid(get_partition_ancestors(RelationGetRelid(rel))) : RelationGetRelid(rel);
	limit_rel_registration(r, rel, trig);
	r->tgoid = trig->tgoid;
	r->valid = true;
}

static LimitRel *
limit_rel(Relation rel, Trigger *trig)
{
	Oid			relid = RelationGetRelid(rel);
	LimitRel   *r;
	bool		found;

	if (limit_rels == NULL)
	{
		limit_rels = finsec_blob_hash_create("finsec limited relations", 16, sizeof(Oid), sizeof(LimitRel),
											 CacheMemoryContext);
		finsec_register_relcache_callback(limit_rel_callback, (Datum) 0);
	}
	r = hash_search(limit_rels, &relid, HASH_ENTER, &found);
	if (!found)
	{
		r->valid = false;
		r->cxt = NULL;
	}
	if (!r->valid || r->tgoid != trig->tgoid)
		limit_rel_build(r, rel, trig);
	return r;
}

/* A configured column's non-null value as a C string. */
static char *
datum_text(LimitRel *r, Datum d, int which)
{
	char	   *s;

	switch (r->form[which])
	{
		case FORM_TEXT:
			return TextDatumGetCString(d);
		case FORM_BPCHAR:
			{
				int			len;

				s = TextDatumGetCString(d);
				len = strlen(s);
				while (len > 0 && s[len - 1] == ' ')
					s[--len] = '\0';
				return s;
			}
		case FORM_OUTPUT:
			break;
	}
	return OutputFunctionCall(&r->output[which], d);
}

/* A configured column's value as a C string; NULL when not configured or null. */
static char *
column_text(LimitRel *r, HeapTuple tup, TupleDesc desc, int which)
{
	int			attno = r->att[which];
	bool		isnull;
	Datum		d;

	if (attno <= 0)
		return NULL;
	d = heap_getattr(tup, attno, desc, &isnull);
	if (isnull)
		return NULL;
	return datum_text(r, d, which);
}

/* Refuse an amount that is not a finite number (NaN, Infinity). */
static void
check_finite(Datum amount, const char *what, const char *relname)
{
	Numeric		n = DatumGetNumeric(amount);

	if (numeric_is_nan(n) || numeric_is_inf(n))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the %s of a payment in \"%s\" must be a finite number", what, relname),
				 errdetail("%s is not an amount.", numeric_is_nan(n) ? "NaN" : "Infinity")));
}

static void
refuse_unlinked(const char *relname, const char *msg, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_REVERSAL_UNLINKED),
			 errmsg("%s", msg),
			 errdetail("A reversal restores allowance only up to the remaining amount of a posted payment of the same payer."),
			 hint ? errhint("%s", hint) : 0,
			 errdetail_log("Table \"%s\".", relname)));
}

/*
 * A reversal names its original payment (reversal_of): a posted payment of
 * the same subject, neither a reversal nor exempt.  The reversed total of
 * that payment, in finsec.limit_reversal, grows by this reversal under the
 * row's lock and never beyond the payment's amount: concurrent reversals
 * of one payment queue on the row (READ COMMITTED) or fail with 40001.
 * The original is looked up as the caller (whose own policies apply);
 * only finsec's ledger row is written as finsec's owner.
 */
static void
limit_reversal_link(LimitRel *r, HeapTuple tup, TupleDesc desc, const char *relname,
					const char *subject, Datum amount)
{
	bool		isnull;
	Datum		ref;
	Oid			argtypes[5];
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	char	   *ref_text;
	char	   *orig_subject;
	char	   *orig_kind;
	Datum		orig_amount;
	Datum		reversed;
	FinsecOwnerContext ctx;
	int			ret;

	if (r->lookup_sql == NULL)
		refuse_unlinked(relname, psprintf("reversals in \"%s\" cannot name the payment they reverse", relname),
						"Enable limits with payment_id => the column identifying a payment and reversal_of => the column of a reversal naming it.");
	ref = heap_getattr(tup, r->att_rev, desc, &isnull);
	if (isnull)
		refuse_unlinked(relname, "a reversal must name the payment it reverses", NULL);
	ref_text = OutputFunctionCall(&r->pid_out, ref);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	argtypes[0] = r->pid_type;
	values[0] = ref;

	/*
	 * Not read-only: a fresh snapshot also sees payments earlier in this
	 * statement.
	 */
	finsec_spi_execute(r->lookup_sql, 1, argtypes, values, NULL, false, 2,
					   SPI_OK_SELECT, "original payment lookup failed");
	if (SPI_processed != 1)
		refuse_unlinked(relname, SPI_processed == 0 ? "a reversal names no posted payment" :
						"a reversal names more than one payment", NULL);
	{
		HeapTuple	o = SPI_tuptable->vals[0];
		TupleDesc	od = SPI_tuptable->tupdesc;
		Datum		d;

		d = SPI_getbinval(o, od, 1, &isnull);
		orig_subject = isnull ? NULL : datum_text(r, d, r->att[ARG_ACCOUNT] ? ARG_ACCOUNT : ARG_CUSTOMER);
		d = SPI_getbinval(o, od, 2, &isnull);
		if (isnull)
			refuse_unlinked(relname, "a reversal names a payment without an amount", NULL);
		orig_amount = finsec_amount_numeric(&r->amount_type, d);
		d = SPI_getbinval(o, od, 3, &isnull);
		orig_kind = isnull ? NULL : (r->att[ARG_KIND] ? datum_text(r, d, ARG_KIND) : NULL);
	}
	if (orig_subject == NULL || strcmp(orig_subject, subject) != 0)
		refuse_unlinked(relname, "a reversal names a payment of another payer", NULL);
	if (finsec_in_list(orig_kind, r->reversal, r->nreversal) || finsec_in_list(orig_kind, r->exempt, r->nexempt))
		refuse_unlinked(relname, "a reversal names a payment that is itself a reversal or exempt", NULL);
	check_finite(orig_amount, "original amount", relname);
	if (num_cmp(amount, orig_amount) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_REVERSAL_EXCEEDS),
				 errmsg("a reversal exceeds the payment it reverses"),
				 errdetail("The payment was %s.", num_out(orig_amount)),
				 errdetail_log("Table \"%s\".", relname)));

	argtypes[0] = OIDOID;
	values[0] = ObjectIdGetDatum(r->root);
	argtypes[1] = TEXTOID;
	values[1] = CStringGetTextDatum(ref_text);
	argtypes[2] = TEXTOID;
	values[2] = CStringGetTextDatum(subject);
	argtypes[3] = NUMERICOID;
	values[3] = orig_amount;
	argtypes[4] = NUMERICOID;
	values[4] = amount;
	finsec_begin_owner(&ctx);
	finsec_spi_execute("INSERT INTO finsec.limit_reversal AS v (relid, payment, subject, amount, reversed) "
					   "VALUES ($1::pg_catalog.regclass, $2, $3, $4, $5) "
					   "ON CONFLICT (relid, payment) DO UPDATE SET reversed = v.reversed OPERATOR(pg_catalog.+) EXCLUDED.reversed "
					   "WHERE v.reversed OPERATOR(pg_catalog.+) EXCLUDED.reversed OPERATOR(pg_catalog.<=) v.amount "
					   "RETURNING v.reversed",
					   5, argtypes, values, nulls, false, 1,
					   SPI_OK_INSERT_RETURNING, "reversal ledger update failed");
	if (SPI_processed == 0)
	{
		/*
		 * The row is locked now (ON CONFLICT took its lock): read what
		 * remains.
		 */
		ret = SPI_execute_with_args("SELECT v.amount OPERATOR(pg_catalog.-) v.reversed FROM finsec.limit_reversal v "
									"WHERE v.relid = $1::pg_catalog.regclass AND v.payment = $2",
									2, argtypes, values, nulls, false, 1);
		finsec_end_owner(&ctx);
		if (ret == SPI_OK_SELECT && SPI_processed == 1)
			reversed = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		else
			reversed = (Datum) 0;
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_REVERSAL_EXCEEDS),
				 errmsg("a reversal exceeds the remaining amount of the payment it reverses"),
				 reversed ? errdetail("Remaining to reverse: %s of %s.", num_out(reversed), num_out(orig_amount)) : 0,
				 errdetail_log("Table \"%s\".", relname)));
	}
	finsec_end_owner(&ctx);
	SPI_finish();
}

/* ---- refusals ------------------------------------------------------------ */

/*
 * The messages of a payment refused by a period's limit, each a whole format
 * string (docs/development.md, "Messages"): exceeds and exceeds_count take
 * the policy name; remaining takes the remaining amount and the limit (text),
 * remaining_count the remaining and maximum counts (long long).
 */
typedef struct PeriodMessages
{
	const char *exceeds;
	const char *exceeds_count;
	const char *remaining;
	const char *remaining_count;
} PeriodMessages;

static const PeriodMessages period_single_msg = {
	"payment exceeds the single-payment limit \"%s\"",
	"payment exceeds the single-payment count limit \"%s\"",
	"Remaining allowance for the account's lifetime: %s of %s.",
	"Remaining allowance for the account's lifetime: %lld of %lld payments.",
};
static const PeriodMessages period_day_msg = {
	"payment exceeds the daily limit \"%s\"",
	"payment exceeds the daily count limit \"%s\"",
	"Remaining allowance today: %s of %s.",
	"Remaining allowance today: %lld of %lld payments.",
};
static const PeriodMessages period_year_msg = {
	"payment exceeds the yearly limit \"%s\"",
	"payment exceeds the yearly count limit \"%s\"",
	"Remaining allowance this year: %s of %s.",
	"Remaining allowance this year: %lld of %lld payments.",
};
static const PeriodMessages period_lifetime_msg = {
	"payment exceeds the lifetime limit \"%s\"",
	"payment exceeds the lifetime count limit \"%s\"",
	"Remaining allowance for the account's lifetime: %s of %s.",
	"Remaining allowance for the account's lifetime: %lld of %lld payments.",
};

static const PeriodMessages *
period_messages(LimitPeriod p)
{
	switch (p)
	{
		case PERIOD_SINGLE:
			return &period_single_msg;
		case PERIOD_DAY:
			return &period_day_msg;
		case PERIOD_YEAR:
			return &period_year_msg;
		case PERIOD_LIFETIME:
			break;
	}
	return &period_lifetime_msg;
}

/* ---- policy evaluation --------------------------------------------------- */

typedef struct Payment
{
	Oid			relid;
	Datum		amount;			/* numeric, >= 0 */
	char	   *account_class;
	bool		has_tier;
	int32		tier;
	char	   *channel;
	char	   *kind;
	LimitTotals all;			/* bucket '' */
	LimitTotals chan;			/* bucket = channel, when a policy limits it */
} Payment;

static bool
policy_applies(LimitPolicy *p, Payment *pay, bool has_tier, int32 tier)
{
	if (OidIsValid(p->relid) && p->relid != pay->relid)
		return false;
	if (p->account_class && (pay->account_class == NULL || strcmp(p->account_class, pay->account_class) != 0))
		return false;
	if (p->has_tier && (!has_tier || p->tier != tier))
		return false;
	if (p->channel && (pay->channel == NULL || strcmp(p->channel, pay->channel) != 0))
		return false;
	if (p->kind && (pay->kind == NULL || strcmp(p->kind, pay->kind) != 0))
		return false;
	return true;
}

typedef struct Breach
{
	LimitPolicy *policy;
	bool		by_count;
	Datum		remaining;		/* amount allowance left before this payment */
	int64		remaining_count;
} Breach;

/* First breached policy for the payment at the given tier; false if none. */
static bool
first_breach(Payment *pay, bool has_tier, int32 tier, Breach *b, bool *tier_only)
{
	int			i;
	bool		found = false;

	*tier_only = true;
	for (i = 0; i < npolicies; i++)
	{
		LimitPolicy *p = &policies[i];
		LimitTotals *t;
		int			k;

		if (!policy_applies(p, pay, has_tier, tier))
			continue;
		if (p->period == PERIOD_SINGLE)
		{
			if (p->has_amount && num_cmp(pay->amount, p->max_amount) > 0)
			{
				if (!found)
				{
					b->policy = p;
					b->by_count = false;
					b->remaining = p->max_amount;
					found = true;
				}
				if (!p->has_tier)
					*tier_only = false;
			}
			continue;
		}
		t = p->channel ? &pay->chan : &pay->all;
		if (!t->present)
			continue;
		k = p->period == PERIOD_DAY ? 0 : p->period == PERIOD_YEAR ? 1 : 2;
		if (p->has_amount && num_cmp(t->amount[k], p->max_amount) > 0)
		{
			if (!found)
			{
				Datum		before = num_sub(t->amount[k], pay->amount);
				Datum		rem = num_sub(p->max_amount, before);

				b->policy = p;
				b->by_count = false;
				b->remaining = num_cmp(rem, numeric_zero_value) < 0 ? numeric_zero_value : rem;
				found = true;
			}
			if (!p->has_tier)
				*tier_only = false;
		}
		else if (p->has_count && t->count[k] > p->max_count)
		{
			if (!found)
			{
				b->policy = p;
				b->by_count = true;
				b->remaining_count = Max(p->max_count - (t->count[k] - 1), 0);
				found = true;
			}
			if (!p->has_tier)
				*tier_only = false;
		}
	}
	return found;
}

/*
 * Every refusal of a payment goes through here: counted for
 * finsec.status_limit_refusals (rule, table, policy; NULL for none) and
 * raised with sqlstate.  fmt is the whole message; detail, hint and
 * detail_log are whole sentences or NULL.
 */
static void limit_refuse(int rule, Oid relid, const char *policy, int sqlstate,
						 const char *detail, const char *hint, const char *detail_log,
						 const char *fmt,...) pg_attribute_printf(8, 9) pg_attribute_noreturn();

static void
limit_refuse(int rule, Oid relid, const char *policy, int sqlstate,
			 const char *detail, const char *hint, const char *detail_log,
			 const char *fmt,...)
{
	char	   *msg;
	va_list		args;

	finsec_limits_count_refusal(rule, relid, policy);
	va_start(args, fmt);
	msg = finsec_vformat(fmt, args);
	va_end(args);
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg_internal("%s", msg),
			 detail ? errdetail_internal("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0,
			 detail_log ? errdetail_log("%s", detail_log) : 0));
}

/* Lowest tier above the payment's at which no policy is breached; -1 if none. */
static int64
step_up_tier(Payment *pay)
{
	int64		best = -1;
	int			i;

	for (i = 0; i < npolicies; i++)
	{
		LimitPolicy *p = &policies[i];
		Breach		b;
		bool		tier_only;

		if (!p->has_tier || (pay->has_tier && p->tier <= pay->tier))
			continue;
		if (best >= 0 && p->tier >= best)
			continue;
		if (!first_breach(pay, true, p->tier, &b, &tier_only))
			best = p->tier;
	}
	return best;
}

/* Refuse a payment that breaches policy b, naming the tier that would allow it. */
static void
refuse_breach(Payment *pay, Breach *b, const char *relname)
{
	LimitPolicy *p = b->policy;
	int64		tier = -1;
	bool		tier_only;
	Breach		again;
	int			rule;
	int			sqlstate;
	const char *hint = NULL;

	(void) first_breach(pay, pay->has_tier, pay->tier, &again, &tier_only);
	if (tier_only)
		tier = step_up_tier(pay);
	if (tier >= 0)
	{
		rule = LIMIT_RULE_STEP_UP;
		sqlstate = ERRCODE_FINSEC_LIMIT_STEP_UP;
		hint = psprintf("Authentication tier %lld would allow this payment.", (long long) tier);
	}
	else
	{
		rule = p->period == PERIOD_SINGLE ? LIMIT_RULE_SINGLE :
			p->period == PERIOD_DAY ? LIMIT_RULE_DAY :
			p->period == PERIOD_YEAR ? LIMIT_RULE_YEAR : LIMIT_RULE_LIFETIME;
		sqlstate = ERRCODE_FINSEC_LIMIT_EXCEEDED;
	}

	if (p->period == PERIOD_SINGLE)
		limit_refuse(rule, pay->relid, p->name, sqlstate,
					 psprintf("One payment may be at most %s.", num_out(p->max_amount)), hint,
					 psprintf("Table \"%s\", amount %s.", relname, num_out(pay->amount)),
					 "payment exceeds the single-payment limit \"%s\"", p->name);
	if (b->by_count)
		limit_refuse(rule, pay->relid, p->name, sqlstate,
					 psprintf(period_messages(p->period)->remaining_count,
							  (long long) b->remaining_count, (long long) p->max_count), hint,
					 psprintf("Table \"%s\".", relname),
					 period_messages(p->period)->exceeds_count, p->name);
	limit_refuse(rule, pay->relid, p->name, sqlstate,
				 psprintf(period_messages(p->period)->remaining,
						  num_out(b->remaining), num_out(p->max_amount)), hint,
				 psprintf("Table \"%s\", amount %s.", relname, num_out(pay->amount)),
				 period_messages(p->period)->exceeds, p->name);
}

/* ---- account state ------------------------------------------------------- */

static void
refuse_state(const char *state, bool payer, Oid relid)
{
	bool		closed = strcmp(state, "closed") == 0;

	limit_refuse(closed ? LIMIT_RULE_CLOSED : LIMIT_RULE_FROZEN, relid, NULL,
				 closed ? ERRCODE_FINSEC_ACCOUNT_CLOSED : ERRCODE_FINSEC_ACCOUNT_FROZEN,
				 closed ? "Closed accounts cannot transact." :
				 "Payments from or to a frozen account are refused until it is unfrozen.",
				 "finsec.limit_account records the reason and who changed the state.", NULL,
				 "%s", payer ?
				 (closed ? "the paying account is closed" : "the paying account is frozen") :
				 (closed ? "the receiving account is closed" : "the receiving account is frozen"));
}

/* ---- the trigger --------------------------------------------------------- */

static bool
tier_value(LimitRel *r, HeapTuple tup, TupleDesc desc, int32 *tier)
{
	int			attno = r->att[ARG_TIER];
	bool		isnull;
	Datum		d;

	if (attno <= 0)
		return false;
	d = heap_getattr(tup, attno, desc, &isnull);
	if (isnull)
		return false;
	if (r->basetype[ARG_TIER] == INT2OID)
		*tier = DatumGetInt16(d);
	else if (r->basetype[ARG_TIER] == INT8OID)
		*tier = (int32) Min(Max(DatumGetInt64(d), PG_INT32_MIN), PG_INT32_MAX);
	else
		*tier = DatumGetInt32(d);
	return true;
}

static void
check_posted(Relation rel, LimitRel *r, HeapTuple oldtup, HeapTuple newtup)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < ARG_NREVERSAL + 2; i++)
	{
		int			attno = i < ARG_NREVERSAL ? r->att[i] : i == ARG_NREVERSAL ? r->att_pid : r->att_rev;
		Form_pg_attribute att;
		bool		n1,
					n2;
		Datum		d1,
					d2;

		if (attno <= 0 || i == ARG_HOLD)
			continue;
		att = TupleDescAttr(desc, attno - 1);
		d1 = heap_getattr(oldtup, attno, desc, &n1);
		d2 = heap_getattr(newtup, attno, desc, &n2);
		if (n1 != n2 || (!n1 && !datumIsEqual(d1, d2, att->attbyval, att->attlen)))
			limit_refuse(LIMIT_RULE_POSTED, r->root, NULL, ERRCODE_FINSEC_PAYMENT_POSTED,
						 psprintf("Column \"%s\" is a financial field of a payment counted against limits.",
								  NameStr(att->attname)),
						 "Record a reversal row and a new payment instead.", NULL,
						 "the %s of a posted payment in \"%s\" cannot change",
						 i < ARG_NREVERSAL ? arg_params[i] : i == ARG_NREVERSAL ? "payment_id" : "reversal_of",
						 RelationGetRelationName(rel));
	}
}

/*
 * The calendar day and year of the statement's start in
 * finsec.limit_timezone; computed once per statement.
 */
static void
limit_today(TimestampTz now, DateADT *day, int32 *year)
{
	static TimestampTz last_now = DT_NOBEGIN;
	static char last_tz[TZ_STRLEN_MAX + 1] = "";
	static DateADT last_day;
	static int32 last_year;

	if (now != last_now || strcmp(last_tz, finsec_limit_timezone) != 0)
	{
		pg_tz	   *tz = pg_tzset(finsec_limit_timezone);
		struct pg_tm tm;
		fsec_t		fsec;
		int			tzoff;

		if (tz == NULL || timestamp2tm(now, &tzoff, &tm, &fsec, NULL, tz) != 0)
			elog(ERROR, "cannot place the current time in time zone \"%s\"", finsec_limit_timezone);
		last_day = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - POSTGRES_EPOCH_JDATE;
		last_year = tm.tm_year;
		last_now = now;
		strlcpy(last_tz, finsec_limit_timezone, sizeof(last_tz));
	}
	*day = last_day;
	*year = last_year;
}

void
finsec_limit_today(TimestampTz now, DateADT *day, int32 *year)
{
	limit_today(now, day, year);
}

PG_FUNCTION_INFO_V1(finsec_limit_trigger);

/* A payment row being inserted, as the trigger's steps see it. */
typedef struct PaymentRow
{
	Payment		pay;
	const char *relname;
	char	   *subject;		/* account, or customer without one */
	char	   *counterparty;
	bool		reversal;
	bool		exempt;
	bool		hold;			/* settlement held by an account control */
	TimestampTz now;			/* server time of the statement */
	DateADT		day;
	int32		year;
} PaymentRow;

/* The payment's fields from the row; a missing subject or amount is refused. */
static void
read_payment(LimitRel *r, HeapTuple tup, TupleDesc desc, PaymentRow *row)
{
	const char *relname = row->relname;
	Payment    *p = &row->pay;
	char	   *customer,
			   *account;
	bool		isnull;
	Datum		raw;

	customer = column_text(r, tup, desc, ARG_CUSTOMER);
	account = column_text(r, tup, desc, ARG_ACCOUNT);
	row->subject = account ? account : customer;
	if (row->subject == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("a payment in \"%s\" must name its %s", relname, r->att[ARG_ACCOUNT] ? "account" : "customer")));
	raw = heap_getattr(tup, r->att[ARG_AMOUNT], desc, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("a payment in \"%s\" must have an amount", relname)));
	p->amount = finsec_amount_numeric(&r->amount_type, raw);
	check_finite(p->amount, "amount", relname);
	if (num_cmp(p->amount, numeric_zero_value) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the amount of a payment in \"%s\" cannot be negative", relname),
				 errhint("Record refunds and reversals as rows whose kind is a reversal kind, with a positive amount.")));
	p->relid = r->root;
	p->channel = column_text(r, tup, desc, ARG_CHANNEL);
	p->kind = column_text(r, tup, desc, ARG_KIND);
	p->account_class = column_text(r, tup, desc, ARG_CLASS);
	p->has_tier = tier_value(r, tup, desc, &p->tier);
	p->all.present = p->chan.present = false;
	row->counterparty = column_text(r, tup, desc, ARG_COUNTERPARTY);
	row->reversal = finsec_in_list(p->kind, r->reversal, r->nreversal);
	row->exempt = finsec_in_list(p->kind, r->exempt, r->nexempt);
	row->hold = false;

	/* Server time, in the limits' time zone. */
	row->now = GetCurrentStatementStartTimestamp();
	limit_today(row->now, &row->day, &row->year);
}

/* Step 1: a payment on a switched-off channel is refused. */
static inline void
check_channel(const Payment *pay)
{
	ListCell   *lc;

	if (pay->channel == NULL)
		return;
	foreach(lc, channels_off)
		if (strcmp(pay->channel, (char *) lfirst(lc)) == 0)
		limit_refuse(LIMIT_RULE_CHANNEL_OFF, pay->relid, NULL, ERRCODE_FINSEC_CHANNEL_OFF,
					 NULL, "finsec.limit_channel records why; finsec.set_channel() switches it back on.", NULL,
					 "payment channel \"%s\" is switched off", pay->channel);
}

/*
 * Step 2: account state and loss controls of the payer and the
 * counterparty (frozen, closed, restricted kinds, settlement hold).
 */
static inline void
check_accounts(LimitRel *r, PaymentRow *row)
{
	Payment    *pay = &row->pay;
	AccountState payer_state,
				cp_state;

	memset(&payer_state, 0, sizeof(payer_state));
	memset(&cp_state, 0, sizeof(cp_state));
	if (!finsec_limit_accounts_empty())
	{
		finsec_limit_account_read(row->subject, &payer_state);
		if (row->counterparty)
			finsec_limit_account_read(row->counterparty, &cp_state);
	}
	if (payer_state.found)
	{
		if (strcmp(payer_state.state, "closed") == 0 ||
			(!row->reversal && strcmp(payer_state.state, "frozen") == 0))
			refuse_state(payer_state.state, true, pay->relid);
		if (finsec_in_list(pay->kind, payer_state.restricted, payer_state.nrestricted))
			limit_refuse(LIMIT_RULE_RESTRICTED, pay->relid, NULL, ERRCODE_FINSEC_ACCOUNT_RESTRICTED,
						 NULL, "finsec.restrict_account() sets the account's restricted kinds.", NULL,
						 "payments of kind \"%s\" are restricted for this account", pay->kind);
		if (pay->account_class == NULL && payer_state.account_class)
			pay->account_class = payer_state.account_class;
		row->hold |= payer_state.hold;
	}
	if (cp_state.found)
	{
		if (strcmp(cp_state.state, "normal") != 0)
			refuse_state(cp_state.state, false, pay->relid);
		row->hold |= cp_state.hold;
	}
	if (row->hold && r->att[ARG_HOLD] <= 0)
		limit_refuse(LIMIT_RULE_HOLD, pay->relid, NULL, ERRCODE_FINSEC_ACCOUNT_RESTRICTED,
					 NULL, "Enable limits with settlement_hold => a boolean column, or lift the hold with finsec.restrict_account().", NULL,
					 "settlement is held for this account and \"%s\" cannot mark a payment as held", row->relname);
}

/* ---- a payer's rows, for the cache's misses (usage.c) -------------------- */

/* What a miss needs to find a payer's rows: the payment's relation and payer column. */
typedef struct PayerScan
{
	LimitRel   *r;
	int			subject_arg;	/* ARG_ACCOUNT or ARG_CUSTOMER: the column the
								 * payer's value came from */
	bool		have_datum;
	Datum		subject_datum;	/* its value in the column's base type */
	Oid			subject_type;
} PayerScan;

/* One counted row of the payer, in posted order. */
typedef struct PayerRow
{
	TimestampTz ts;
	int64		seq;
	Datum		delta;
	int64		count;
} PayerRow;

static void
payer_scan_init(PayerScan *ps, LimitRel *r, Relation rel, HeapTuple tup)
{
	TupleDesc	desc = RelationGetDescr(rel);
	bool		isnull = true;
	Datum		d = (Datum) 0;

	ps->r = r;
	ps->subject_arg = ARG_CUSTOMER;
	if (r->att[ARG_ACCOUNT] > 0)
	{
		d = heap_getattr(tup, r->att[ARG_ACCOUNT], desc, &isnull);
		if (!isnull)
			ps->subject_arg = ARG_ACCOUNT;
	}
	if (isnull)
		d = heap_getattr(tup, r->att[ARG_CUSTOMER], desc, &isnull);
	ps->have_datum = !isnull;
	ps->subject_datum = d;
	ps->subject_type = r->basetype[ps->subject_arg];
}

/* The finsec_limits trigger's configuration of a relation; NULL if it has none. */
static LimitRel *
limit_rel_or_null(Relation rel)
{
	int			i;

	for (i = 0; rel->trigdesc && i < rel->trigdesc->numtriggers; i++)
		if (strcmp(rel->trigdesc->triggers[i].tgname, FINSEC_LIMITS_TRIGGER) == 0)
			return limit_rel(rel, &rel->trigdesc->triggers[i]);
	return NULL;
}

/* The same for a partition (or table) whose payments are being read: it must have one. */
static LimitRel *
limit_rel_of(Relation rel)
{
	LimitRel   *lr = limit_rel_or_null(rel);

	if (lr)
		return lr;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("\"%s\" has no finsec_limits trigger, so its payments cannot be counted",
					RelationGetRelationName(rel)),
			 errhint("Run finsec.enable_limits() on the limited table again.")));
	return NULL;				/* keep compiler quiet */
}

/*
 * An index of rel that finds the payer's rows without running any code a
 * user wrote: a valid B-tree whose first column is the payer column, with
 * built-in operator classes, no expression and no predicate.  *with_time:
 * its second column is posted_at.  The payer's column is an account
 * column only if it cannot be null (a payment without account is its
 * customer's).
 */
static Oid
payer_index(Relation rel, LimitRel *lr, PayerScan *ps, bool *with_time, Oid *eqproc, Oid *gtproc)
{
	List	   *indexes;
	ListCell   *lc;
	Oid			found = InvalidOid;
	int			subj_att = lr->att[ps->subject_arg];

	*with_time = false;
	if (!ps->have_datum)
		return InvalidOid;
	if (lr->att[ARG_ACCOUNT] > 0 &&
		(ps->subject_arg != ARG_ACCOUNT ||
		 !TupleDescAttr(RelationGetDescr(rel), lr->att[ARG_ACCOUNT] - 1)->attnotnull))
		return InvalidOid;
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Relation	irel = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index ix = irel->rd_index;
		bool		ok;
		Oid			intype;

		ok = ix->indisvalid && ix->indisready && ix->indislive &&
			irel->rd_rel->relam == BTREE_AM_OID && ix->indnkeyatts >= 1 &&
			ix->indkey.values[0] == subj_att &&
			RelationGetIndexExpressions(irel) == NIL && RelationGetIndexPredicate(irel) == NIL &&
			irel->rd_opfamily[0] < FirstNormalObjectId;
		if (ok)
		{
			intype = irel->rd_opcintype[0];
			ok = intype == ps->subject_type ||
				(ps->subject_type == VARCHAROID && intype == TEXTOID);
			if (ok)
			{
				Oid			op = get_opfamily_member(irel->rd_opfamily[0], intype, intype,
													 BTEqualStrategyNumber);

				ok = OidIsValid(op);
				if (ok)
					*eqproc = get_opcode(op);
			}
		}
		if (ok)
		{
			bool		t = ix->indnkeyatts >= 2 && ix->indkey.values[1] == lr->att[ARG_TIME] &&
			irel->rd_opfamily[1] < FirstNormalObjectId &&
			irel->rd_opcintype[1] == TIMESTAMPTZOID;

			if (t)
			{
				Oid			op = get_opfamily_member(irel->rd_opfamily[1], TIMESTAMPTZOID,
													 TIMESTAMPTZOID, BTGreaterStrategyNumber);

				t = OidIsValid(op);
				if (t)
					*gtproc = get_opcode(op);
			}
			/* prefer an index with posted_at */
			if (!OidIsValid(found) || (t && !*with_time))
			{
				found = RelationGetRelid(irel);
				*with_time = t;
			}
		}
		index_close(irel, AccessShareLock);
	}
	list_free(indexes);
	return found;
}

static int
payer_row_cmp(const void *a, const void *b)
{
	const PayerRow *x = a;
	const PayerRow *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 : 0;
}

/*
 * A stored payment as usage counts it: false if it does not count (no
 * posted_at or not after "since", no payer or amount, an exempt kind, an
 * amount that is not a finite number).  Values in the current context.
 */
static bool
counted_row(LimitRel *lr, HeapTuple tup, TupleDesc desc, TimestampTz since, TimestampTz *ts,
			char **subject, char **channel, Datum *amount, bool *reversal)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, lr->att[ARG_TIME], desc, &isnull);
	char	   *acct;
	char	   *kind;

	if (isnull || DatumGetTimestampTz(d) <= since)
		return false;
	*ts = DatumGetTimestampTz(d);
	acct = column_text(lr, tup, desc, ARG_ACCOUNT);
	*subject = acct ? acct : column_text(lr, tup, desc, ARG_CUSTOMER);
	if (*subject == NULL)
		return false;
	kind = column_text(lr, tup, desc, ARG_KIND);
	if (finsec_in_list(kind, lr->exempt, lr->nexempt))
		return false;
	d = heap_getattr(tup, lr->att[ARG_AMOUNT], desc, &isnull);
	if (isnull)
		return false;
	*amount = finsec_amount_numeric(&lr->amount_type, d);
	if (numeric_is_nan(DatumGetNumeric(*amount)) || numeric_is_inf(DatumGetNumeric(*amount)))
		return false;
	*channel = column_text(lr, tup, desc, ARG_CHANNEL);
	*reversal = finsec_in_list(kind, lr->reversal, lr->nreversal);
	return true;
}

/*
 * The payer's counted rows in one bucket stamped after "since", from every
 * partition of the table, with a fresh snapshot (the caller holds the
 * payer's lock), sorted in posted order.  Read with the table access
 * method, converted in C as the trigger converts a new row: no code of the
 * table's owner runs.  Under REPEATABLE READ and SERIALIZABLE a row that
 * the transaction's snapshot does not see is a serialization failure.
 */
static PayerRow *
payer_rows(PayerScan *ps, Oid root, const char *subject, const char *bucket, TimestampTz since,
		   bool xact_snapshot, int *nrows)
{
	List	   *leaves = find_all_inheritors(root, AccessShareLock, NULL);
	ListCell   *lc;
	PayerRow   *rows = NULL;
	int			n = 0,
				cap = 0;
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext, "finsec payer rows",
												 ALLOCSET_SMALL_SIZES);
	Snapshot	xsnap = xact_snapshot ? GetTransactionSnapshot() : NULL;
	Snapshot	snap;

	CommandCounterIncrement();
	PushActiveSnapshot(GetLatestSnapshot());
	UpdateActiveSnapshotCommandId();
	snap = GetActiveSnapshot();
	foreach(lc, leaves)
	{
		Relation	rel = table_open(lfirst_oid(lc), AccessShareLock);
		TupleDesc	desc = RelationGetDescr(rel);
		LimitRel   *lr;
		TupleTableSlot *slot;
		TableScanDesc hscan = NULL;
		IndexScanDesc iscan = NULL;
		Relation	irel = NULL;
		bool		with_time;
		Oid			eqproc = InvalidOid,
					gtproc = InvalidOid;
		Oid			idx;

		if (rel->rd_rel->relkind != RELKIND_RELATION)
		{
			table_close(rel, AccessShareLock);
			continue;
		}
		lr = limit_rel_of(rel);
		idx = payer_index(rel, lr, ps, &with_time, &eqproc, &gtproc);
		slot = table_slot_create(rel, NULL);
		if (OidIsValid(idx))
		{
			ScanKeyData keys[2];
			int			nkeys = 1;

			irel = index_open(idx, AccessShareLock);
			ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, eqproc, ps->subject_datum);
			keys[0].sk_collation = irel->rd_indcollation[0];
			if (with_time && since != DT_NOBEGIN)
			{
				ScanKeyInit(&keys[1], 2, BTGreaterStrategyNumber, gtproc, TimestampTzGetDatum(since));
				nkeys = 2;
			}
			iscan = index_beginscan(rel, irel, snap, nkeys, 0);
			index_rescan(iscan, keys, nkeys, NULL, 0);
		}
		else
			hscan = table_beginscan(rel, snap, 0, NULL);
		for (;;)
		{
			bool		more = iscan ? index_getnext_slot(iscan, ForwardScanDirection, slot)
			: table_scan_getnextslot(hscan, ForwardScanDirection, slot);
			bool		should_free;
			HeapTuple	tup;
			MemoryContext old;
			char	   *s,
					   *chan;
			TimestampTz ts;
			Datum		amount;
			bool		reversal;

			CHECK_FOR_INTERRUPTS();
			if (!more)
				break;
			old = MemoryContextSwitchTo(rowcxt);
			tup = ExecFetchSlotHeapTuple(slot, false, &should_free);
			if (!counted_row(lr, tup, desc, since, &ts, &s, &chan, &amount, &reversal) ||
				strcmp(s, subject) != 0 ||
				(bucket[0] != '\0' && (chan == NULL || strcmp(chan, bucket) != 0)))
				goto next;
			if (xsnap && !HeapTupleHeaderXminFrozen(tup->t_data))
			{
				TransactionId xmin = HeapTupleHeaderGetRawXmin(tup->t_data);

				if (!TransactionIdIsCurrentTransactionId(xmin) && XidInMVCCSnapshot(xmin, xsnap))
					finsec_limit_serialization_failure();
			}
			MemoryContextSwitchTo(old);
			if (n == cap)
			{
				cap = cap ? cap * 2 : 16;
				rows = rows ? repalloc(rows, sizeof(PayerRow) * cap) : palloc(sizeof(PayerRow) * cap);
			}
			rows[n].ts = ts;
			rows[n].seq = n;
			if (reversal)
			{
				rows[n].delta = DirectFunctionCall1(numeric_uminus, amount);
				rows[n].count = 0;
			}
			else
			{
				rows[n].delta = datumCopy(amount, false, -1);
				rows[n].count = 1;
			}
			n++;
			old = MemoryContextSwitchTo(rowcxt);
	next:
			MemoryContextSwitchTo(old);
			if (should_free)
				heap_freetuple(tup);
			MemoryContextReset(rowcxt);
		}
		if (iscan)
		{
			index_endscan(iscan);
			index_close(irel, AccessShareLock);
		}
		else
			table_endscan(hscan);
		ExecDropSingleTupleTableSlot(slot);
		table_close(rel, AccessShareLock);
	}
	PopActiveSnapshot();
	MemoryContextDelete(rowcxt);
	list_free(leaves);
	if (n > 1)
		qsort(rows, n, sizeof(PayerRow), payer_row_cmp);
	*nrows = n;
	return rows;
}

/* A payer's usage in one bucket, recomputed: its roll-up plus its rows stamped after it. */
void
finsec_limit_usage_recompute(LimitPayer *p, const char *bucket, bool xact_snapshot,
							 LimitTotals *t, TimestampTz *flushed_at, TimestampTz *last_stamp,
							 int32 *rows, bool *force)
{
	PayerScan  *ps = p->ctx;
	bool		flushed_null = false;
	TimestampTz since;
	PayerRow   *found;
	int			n,
				i;

	*force = false;
	*rows = 0;
	if (!finsec_limit_usage_fetch(p->relid, p->subject, bucket, t, flushed_at, &flushed_null))
	{
		/* no roll-up: the payer's payments since limits were enabled */
		finsec_limit_totals_zero(t);
		*flushed_at = ps->r->usage_since;
	}
	else if (flushed_null)
	{
		/*
		 * Written per payment (before 1.4, or while the table had no
		 * posted_at): complete.  Later payments are stamped after now, and
		 * the roll-up gets its stamp at commit.
		 */
		*flushed_at = GetCurrentTimestamp();
		*last_stamp = *flushed_at;
		*force = true;
		return;
	}
	since = *flushed_at;
	*last_stamp = *flushed_at;
	found = payer_rows(ps, p->relid, p->subject, bucket, since, xact_snapshot, &n);
	for (i = 0; i < n; i++)
	{
		DateADT		day;
		int32		year;

		finsec_limit_today(found[i].ts, &day, &year);
		finsec_limit_totals_add(t, day, year, found[i].delta, found[i].count);
		if (found[i].ts > *last_stamp)
			*last_stamp = found[i].ts;
	}
	*rows = n;
}

/*
 * Steps 3 and 4: the payment (a reversal with a negative amount) into the
 * subject's usage, overall and for its channel when a policy limits that;
 * then the first breached policy refuses it.
 */
static inline void
count_and_check_limits(LimitRel *r, Relation rel, HeapTuple tup, PaymentRow *row)
{
	Payment    *pay = &row->pay;
	bool		reversal = row->reversal;
	bool		chan_limited = false;
	Datum		signed_amount = reversal ? DirectFunctionCall1(numeric_uminus, pay->amount) : pay->amount;
	Breach		b;
	bool		tier_only;
	int			i;

	if (pay->channel)
		for (i = 0; i < npolicies && !chan_limited; i++)
			if (policies[i].channel && policies[i].period != PERIOD_SINGLE &&
				strcmp(policies[i].channel, pay->channel) == 0 &&
				(!OidIsValid(policies[i].relid) || policies[i].relid == pay->relid))
				chan_limited = true;
	if (r->att[ARG_TIME] > 0)
	{
		/* posted_at: usage is a cache of the payments table (usage.c) */
		LimitPayer	p;
		PayerScan	ps;

		payer_scan_init(&ps, r, rel, tup);
		p.relid = pay->relid;
		p.subject = row->subject;
		p.chan_bucket = chan_limited ? pay->channel : NULL;
		p.ctx = &ps;
		row->now = finsec_limit_cache_add(&p, row->now, signed_amount, reversal ? 0 : 1,
										  &pay->all, &pay->chan);
	}
	else
	{
		finsec_limit_usage_add(pay->relid, row->subject, "", row->day, row->year, signed_amount,
							   reversal ? 0 : 1, &pay->all);
		if (chan_limited)
			finsec_limit_usage_add(pay->relid, row->subject, pay->channel, row->day, row->year, signed_amount,
								   reversal ? 0 : 1, &pay->chan);
	}
	if (!reversal && first_breach(pay, pay->has_tier, pay->tier, &b, &tier_only))
		refuse_breach(pay, &b, row->relname);
}

/* Server time and settlement hold into the row, when it has those columns. */
static inline HeapTuple
stamp_row(LimitRel *r, HeapTuple tup, TupleDesc desc, const PaymentRow *row)
{
	int			cols[2];
	Datum		vals[2];
	bool		nulls[2] = {false, false};
	int			n = 0;

	if (r->att[ARG_TIME] > 0)
	{
		cols[n] = r->att[ARG_TIME];
		vals[n++] = TimestampTzGetDatum(row->now);
	}
	if (row->hold && r->att[ARG_HOLD] > 0)
	{
		cols[n] = r->att[ARG_HOLD];
		vals[n++] = BoolGetDatum(true);
	}
	if (n == 0)
		return tup;
	return heap_modify_tuple_by_cols(tup, desc, n, cols, vals, nulls);
}

/*
 * BEFORE row trigger of a payments table: posted payments are immutable;
 * a new one passes the channel switches, account controls and limits, is
 * counted, and gets the server time.
 */
Datum
finsec_limit_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	tup;
	LimitRel   *r;
	PaymentRow	row;

	finsec_require_before_row_trigger(fcinfo, "finsec.limit_trigger()");
	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	row.relname = RelationGetRelationName(rel);
	r = limit_rel(rel, td->tg_trigger);

	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		limit_refuse(LIMIT_RULE_POSTED, r->root, NULL, ERRCODE_FINSEC_PAYMENT_POSTED,
					 "Payments counted against limits are kept; corrections are reversal rows.",
					 "finsec.disable_limits() removes the limits, and this protection, from the table.", NULL,
					 "posted payments in \"%s\" cannot be deleted", row.relname);
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		check_posted(rel, r, td->tg_trigtuple, td->tg_newtuple);
		return PointerGetDatum(td->tg_newtuple);
	}
	tup = td->tg_trigtuple;
	limit_cache_load();

	read_payment(r, tup, desc, &row);
	check_channel(&row.pay);
	check_accounts(r, &row);
	/* A reversal restores at most what remains of the payment it names. */
	if (row.reversal)
		limit_reversal_link(r, tup, desc, row.relname, row.subject, row.pay.amount);
	if (!row.exempt)
		count_and_check_limits(r, rel, tup, &row);
	return PointerGetDatum(stamp_row(r, tup, desc, &row));
}

/* ---- enable and disable -------------------------------------------------- */

/*
 * The type a configured column must have: per parameter, and trusted in
 * every case (docs/limits.md, "Column types").  Checked at enable and again
 * whenever a backend reads the trigger's configuration, since the table's
 * owner can alter a column's type.
 */
static void
limit_column_type_check(const char *param, const char *name, const char *relname, Oid typid)
{
	Oid			t = getBaseType(typid);

	if (strcmp(param, "amount") == 0 && !finsec_amount_type_ok(t))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("amount column \"%s\" of \"%s\" has type %s", name,
						relname, format_type_be(typid)),
				 errhint("Amounts must be " FINSEC_AMOUNT_TYPES_TEXT ".")));
	if (strcmp(param, "posted_at") == 0 && t != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("posted_at column \"%s\" of \"%s\" has type %s, not timestamp with time zone", name,
						relname, format_type_be(typid))));
	if (strcmp(param, "auth_tier") == 0 && t != INT2OID && t != INT4OID && t != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("auth_tier column \"%s\" of \"%s\" has type %s, not an integer type", name,
						relname, format_type_be(typid))));
	if (strcmp(param, "settlement_hold") == 0 && t != BOOLOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("settlement_hold column \"%s\" of \"%s\" has type %s, not boolean", name,
						relname, format_type_be(typid))));
	finsec_require_trusted_type(typid, param, name, relname);
}

static void
check_column(Relation rel, const char *param, const char *name)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || strcmp(NameStr(att->attname), name) != 0)
			continue;
		limit_column_type_check(param, name, RelationGetRelationName(rel), att->atttypid);
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("%s column \"%s\" does not exist in \"%s\"", param, name,
					RelationGetRelationName(rel))));
}

/* What common's finsec_apptable_open() requires of a payments table for limits. */
static const FinsecAppTableCheck limitable = {
	.flags = FINSEC_APPTABLE_PARTITIONED,
	.privilege = ACL_TRIGGER,
	.privilege_name = "TRIGGER",
	.privilege_hint = "Enabling limits creates a trigger on the table: the table's owner grants TRIGGER on it, or enables limits as a member of finsec_admin.",
};

static void
exec_args(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls)
{
	int			ret = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);

	if (ret < 0)
		elog(ERROR, "limits step failed (%s): %s", SPI_result_code_string(ret), sql);
}

bool		finsec_limit_internal_ddl = false;

/* Run one of finsec's own statements on the finsec_limits trigger (the hook lets it through). */
static void
exec_internal_ddl(const char *sql)
{
	bool		save = finsec_limit_internal_ddl;

	finsec_limit_internal_ddl = true;
	PG_TRY();
	{
		exec_args(sql, 0, NULL, NULL, NULL);
	}
	PG_FINALLY();
	{
		finsec_limit_internal_ddl = save;
	}
	PG_END_TRY();
}

static Oid
get_rel_owner_oid(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	Oid			owner = rel->rd_rel->relowner;

	table_close(rel, AccessShareLock);
	return owner;
}

static bool
names_member(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp((char *) lfirst(lc), name) == 0)
		return true;
	return false;
}

PG_FUNCTION_INFO_V1(finsec_enable_limits);

/*
 * finsec.enable_limits(payments regclass, customer, amount, account,
 *		posted_at, channel, auth_tier, kind, counterparty, account_class,
 *		settlement_hold text, reversal_kinds text[], exempt_kinds text[],
 *		payment_id, reversal_of text) returns bigint: the id of the change
 *		request for exempt kinds asked by an administrator, else NULL.
 */
Datum
finsec_enable_limits(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Relation	rel;
	char	   *cols[ARG_NREVERSAL];
	char	   *pid_col,
			   *rev_col;
	List	   *reversal,
			   *exempt;
	ListCell   *lc;
	StringInfoData trig;
	FinsecOwnerContext ctx;
	char	   *qname;
	Oid			types[16];
	Datum		values[16];
	char		nulls[16];
	bool		exempt_now;
	int64		request = 0;
	int			i;

	finsec_require_preload("finsec.enable_limits()");
	finsec_require_arg(fcinfo, 0, "payments table");
	relid = PG_GETARG_OID(0);
	for (i = 0; i < ARG_NREVERSAL; i++)
		cols[i] = finsec_name_arg(fcinfo, i + 1, arg_params[i], i == ARG_CUSTOMER || i == ARG_AMOUNT);
	reversal = finsec_names_arg(fcinfo, 11, "reversal_kinds");
	exempt = finsec_names_arg(fcinfo, 12, "exempt_kinds");
	/* The SQL of 0.7 (before ALTER EXTENSION UPDATE) passes 13 arguments. */
	pid_col = PG_NARGS() > 13 ? finsec_name_arg(fcinfo, 13, "payment_id", false) : NULL;
	rev_col = PG_NARGS() > 14 ? finsec_name_arg(fcinfo, 14, "reversal_of", false) : NULL;
	if (exempt != NIL && cols[ARG_KIND] == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("exempt_kinds needs a kind column")));
	foreach(lc, exempt)
		if (names_member(reversal, lfirst(lc)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("kind \"%s\" cannot be both a reversal and exempt", (char *) lfirst(lc))));
	if ((pid_col == NULL) != (rev_col == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("payment_id and reversal_of go together"),
				 errhint("payment_id names the column identifying a payment, reversal_of the column of a reversal naming it.")));
	if (rev_col && cols[ARG_KIND] == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("reversal_of needs a kind column"),
				 errhint("Reversals are the rows whose kind is one of reversal_kinds.")));

	rel = finsec_apptable_open(relid, ShareRowExclusiveLock, "finsec.enable_limits()", &limitable);
	for (i = 0; i < ARG_NREVERSAL; i++)
		if (cols[i])
			check_column(rel, arg_params[i], cols[i]);
	if (pid_col)
	{
		TupleDesc	desc = RelationGetDescr(rel);
		Oid			pid_type,
					rev_type;

		check_column(rel, "payment_id", pid_col);
		check_column(rel, "reversal_of", rev_col);
		pid_type = getBaseType(TupleDescAttr(desc, SPI_fnumber(desc, pid_col) - 1)->atttypid);
		rev_type = getBaseType(TupleDescAttr(desc, SPI_fnumber(desc, rev_col) - 1)->atttypid);
		if (!limit_reference_type_ok(pid_type))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("payment_id column \"%s\" of \"%s\" has type %s", pid_col,
							RelationGetRelationName(rel), format_type_be(pid_type)),
					 errhint("Payment references are integers, numeric, text, varchar, character or uuid.")));
		if (pid_type != rev_type)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("reversal_of column \"%s\" and payment_id column \"%s\" have different types",
							rev_col, pid_col)));
	}
	table_close(rel, NoLock);

	/*
	 * Exempt kinds are neither checked nor counted: a policy decision.  In a
	 * superuser's session they apply at once; an administrator's become a
	 * change request that a second administrator approves.
	 */
	exempt_now = exempt == NIL || superuser_arg(GetSessionUserId());

	qname = finsec_quoted_relname(relid);
	initStringInfo(&trig);
	appendStringInfo(&trig, "CREATE TRIGGER " FINSEC_LIMITS_TRIGGER " BEFORE INSERT OR UPDATE OR DELETE ON %s "
					 "FOR EACH ROW EXECUTE FUNCTION finsec.limit_trigger(", qname);
	for (i = 0; i < ARG_NREVERSAL; i++)
		appendStringInfo(&trig, "%s, ", quote_literal_cstr(cols[i] ? cols[i] : ""));
	appendStringInfo(&trig, "'%d'", list_length(reversal));
	foreach(lc, reversal)
		appendStringInfo(&trig, ", %s", quote_literal_cstr(lfirst(lc)));
	appendStringInfoChar(&trig, ')');

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	finsec_begin_owner(&ctx);
	types[0] = OIDOID;
	values[0] = ObjectIdGetDatum(relid);
	exec_args("SELECT 1 FROM finsec.limit_table WHERE relid = $1::pg_catalog.regclass", 1, types, values, NULL);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("table %s already has limits enabled", qname),
				 errhint("Run finsec.disable_limits() first to change its configuration.")));
	memset(nulls, ' ', sizeof(nulls));
	for (i = 0; i < ARG_NREVERSAL; i++)
	{
		types[i + 1] = TEXTOID;
		if (cols[i])
			values[i + 1] = CStringGetTextDatum(cols[i]);
		else
			nulls[i + 1] = 'n';
	}
	types[11] = TEXTARRAYOID;
	values[11] = PG_GETARG_DATUM(11);
	types[12] = TEXTARRAYOID;
	values[12] = exempt_now ? PG_GETARG_DATUM(12) :
		PointerGetDatum(construct_empty_array(TEXTOID));
	types[13] = TEXTOID;
	values[13] = CStringGetTextDatum(GetUserNameFromId(ctx.caller, false));
	types[14] = TEXTOID;
	types[15] = TEXTOID;
	if (pid_col)
	{
		values[14] = CStringGetTextDatum(pid_col);
		values[15] = CStringGetTextDatum(rev_col);
	}
	else
		nulls[14] = nulls[15] = 'n';
	exec_args("INSERT INTO finsec.limit_table (relid, customer_column, amount_column, account_column, "
			  "time_column, channel_column, tier_column, kind_column, counterparty_column, class_column, "
			  "hold_column, reversal_kinds, exempt_kinds, enabled_by, payment_id_column, reversal_column) "
			  "VALUES ($1::pg_catalog.regclass, "
			  "$2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::pg_catalog.name, $15, $16)",
			  16, types, values, nulls);
	finsec_own_trigger_ddl_begin();
	exec_internal_ddl(trig.data);
	/* a new registration: no payer's cached usage carries over */
	finsec_limit_cache_forget_table(relid);
	finsec_own_trigger_ddl_end();

	/*
	 * Partitions added later clone the trigger as the table's owner
	 * (docs/limits.md).
	 */
	{
		Oid			owner = get_rel_owner_oid(relid);

		if (!superuser_arg(owner))
			exec_args(psprintf("GRANT EXECUTE ON FUNCTION finsec.limit_trigger() TO %s",
							   quote_identifier(GetUserNameFromId(owner, false))), 0, NULL, NULL, NULL);
	}
	finsec_end_owner(&ctx);

	finsec_audit_event("limits.enable", qname, "enable_limits", true,
					   psprintf("transaction limits enabled: customer \"%s\", amount \"%s\"%s",
								cols[ARG_CUSTOMER], cols[ARG_AMOUNT],
								pid_col ? psprintf(", reversals name payments by \"%s\"", pid_col) : ""),
					   NULL);

	/* The exemption, as the caller (request_change checks who asks). */
	if (!exempt_now)
	{
		Oid			rtypes[3] = {TEXTOID, TEXTOID, TEXTARRAYOID};
		Datum		rvalues[3];
		bool		isnull;

		rvalues[0] = CStringGetTextDatum(qname);
		rvalues[1] = ObjectIdGetDatum(relid);
		rvalues[2] = PG_GETARG_DATUM(12);
		rtypes[1] = OIDOID;
		exec_args("SELECT finsec.request_change('limits.exempt', $1, pg_catalog.jsonb_build_object("
				  "'relid', $2::pg_catalog.int8, 'exempt_kinds', pg_catalog.to_jsonb($3)), "
				  "'exempt kinds asked with finsec.enable_limits()')",
				  3, rtypes, rvalues, NULL);
		request = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	if (request == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(request);
}

PG_FUNCTION_INFO_V1(finsec_disable_limits);

/*
 * finsec._disable_limits(payments regclass, reset_usage boolean): what an
 * approved limits.disable request (or a superuser) does.  Usage and the
 * reversal ledger are kept unless reset_usage.
 */
Datum
finsec_disable_limits(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Relation	rel;
	FinsecOwnerContext ctx;
	char	   *qname;
	bool		reset;
	Oid			types[1] = {OIDOID};
	Datum		values[1];

	finsec_require_preload("finsec.disable_limits()");
	finsec_require_switch_authority("finsec.disable_limits()");

	/*
	 * The SQL of 0.7 (before ALTER EXTENSION UPDATE) passes the table only,
	 * and forgot usage.
	 */
	if (PG_ARGISNULL(0) || (PG_NARGS() > 1 && PG_ARGISNULL(1)))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("payments table and reset_usage must not be null")));
	relid = PG_GETARG_OID(0);
	reset = PG_NARGS() > 1 ? PG_GETARG_BOOL(1) : true;
	rel = finsec_apptable_open(relid, ShareRowExclusiveLock, "finsec.disable_limits()", &limitable);
	table_close(rel, NoLock);
	qname = finsec_quoted_relname(relid);
	values[0] = ObjectIdGetDatum(relid);
	if (!reset && finsec_limit_table_contains(relid))
	{
		/*
		 * Usage kept: the payers' current usage into the roll-up.  A table
		 * whose registered columns no longer have a type finsec reads (its
		 * trigger refuses every payment) keeps the roll-up as it is.
		 */
		MemoryContext mcxt = CurrentMemoryContext;
		ResourceOwner owner = CurrentResourceOwner;

		BeginInternalSubTransaction(NULL);
		PG_TRY();
		{
			finsec_limit_usage_keep(relid);
			ReleaseCurrentSubTransaction();
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(mcxt);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			ereport(WARNING,
					(errmsg("usage of %s kept as last written: its payments cannot be read", qname),
					 errdetail("%s", edata->message)));
			FreeErrorData(edata);
		}
		PG_END_TRY();
		MemoryContextSwitchTo(mcxt);
		CurrentResourceOwner = owner;
	}

	finsec_spi_begin_as_owner(&ctx);
	exec_args("DELETE FROM finsec.limit_table WHERE relid = $1::pg_catalog.regclass", 1, types, values, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("table %s has no limits enabled", qname)));
	if (reset)
	{
		exec_args("DELETE FROM finsec.limit_usage_flushed WHERE relid = $1", 1, types, values, NULL);
		exec_args("DELETE FROM finsec.limit_reversal WHERE relid = $1::pg_catalog.regclass", 1, types, values, NULL);
	}
	exec_internal_ddl(psprintf("DROP TRIGGER IF EXISTS " FINSEC_LIMITS_TRIGGER " ON %s", qname));
	finsec_limit_cache_forget_table(relid);
	finsec_spi_end(&ctx);

	finsec_audit_event("limits.disable", qname, "disable_limits", true,
					   reset ? "transaction limits disabled; usage forgotten" :
					   "transaction limits disabled; usage kept", NULL);
	PG_RETURN_VOID();
}

/* ---- current usage (the view finsec.limit_usage) ---------------------------- */

/* One (subject, bucket) of the view being computed. */
typedef struct UsageAcc
{
	uint8		digest[FINSEC_LIMIT_USAGE_KEY_SIZE];	/* hash key */
	char	   *subject;
	char	   *bucket;
	LimitTotals totals;
	TimestampTz since;
	bool		complete;		/* a roll-up written per payment */
	PayerRow   *rows;
	int			nrows;
	int			cap;
} UsageAcc;

static UsageAcc *
usage_acc(HTAB *h, const char *subject, const char *bucket, bool create, TimestampTz since)
{
	uint8		d[FINSEC_LIMIT_USAGE_KEY_SIZE];
	UsageAcc   *a;
	bool		found;

	finsec_limit_usage_digest(subject, bucket, d);
	a = hash_search(h, d, create ? HASH_ENTER : HASH_FIND, &found);
	if (a && !found)
	{
		a->subject = pstrdup(subject);
		a->bucket = pstrdup(bucket);
		finsec_limit_totals_zero(&a->totals);
		a->since = since;
		a->complete = false;
		a->rows = NULL;
		a->nrows = a->cap = 0;
	}
	return a;
}

static bool
channel_limited(Oid relid, const char *channel)
{
	int			i;

	for (i = 0; i < npolicies; i++)
		if (policies[i].channel && policies[i].period != PERIOD_SINGLE &&
			strcmp(policies[i].channel, channel) == 0 &&
			(!OidIsValid(policies[i].relid) || policies[i].relid == relid))
			return true;
	return false;
}

/* Every counted row of a table with posted_at into the accumulators it belongs to. */
static void
usage_scan_table(Oid root, HTAB *h, TimestampTz usage_since)
{
	List	   *leaves = find_all_inheritors(root, AccessShareLock, NULL);
	ListCell   *lc;
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext, "finsec usage rows",
												 ALLOCSET_SMALL_SIZES);

	foreach(lc, leaves)
	{
		Relation	rel = table_open(lfirst_oid(lc), AccessShareLock);
		TupleDesc	desc = RelationGetDescr(rel);
		LimitRel   *lr;
		TupleTableSlot *slot;
		TableScanDesc scan;

		if (rel->rd_rel->relkind != RELKIND_RELATION)
		{
			table_close(rel, AccessShareLock);
			continue;
		}
		lr = limit_rel_of(rel);
		slot = table_slot_create(rel, NULL);
		scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
		while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
		{
			MemoryContext old = MemoryContextSwitchTo(rowcxt);
			bool		should_free;
			HeapTuple	tup = ExecFetchSlotHeapTuple(slot, false, &should_free);
			TimestampTz ts;
			char	   *s,
					   *chan;
			Datum		amount;
			bool		reversal;
			int			b;

			CHECK_FOR_INTERRUPTS();
			if (!counted_row(lr, tup, desc, DT_NOBEGIN, &ts, &s, &chan, &amount, &reversal))
				goto next;
			for (b = 0; b < 2; b++)
			{
				UsageAcc   *a;
				const char *bucket = b == 0 ? "" : chan;

				if (b == 1 && chan == NULL)
					break;
				MemoryContextSwitchTo(old);
				a = usage_acc(h, s, bucket, b == 0 || channel_limited(root, chan), usage_since);
				if (a && !a->complete && ts > a->since)
				{
					if (a->nrows == a->cap)
					{
						a->cap = a->cap ? a->cap * 2 : 8;
						a->rows = a->rows ? repalloc(a->rows, sizeof(PayerRow) * a->cap)
							: palloc(sizeof(PayerRow) * a->cap);
					}
					a->rows[a->nrows].ts = ts;
					a->rows[a->nrows].seq = a->nrows;
					a->rows[a->nrows].delta = reversal ? DirectFunctionCall1(numeric_uminus, amount)
						: datumCopy(amount, false, -1);
					a->rows[a->nrows].count = reversal ? 0 : 1;
					a->nrows++;
				}
				MemoryContextSwitchTo(rowcxt);
			}
	next:
			MemoryContextSwitchTo(old);
			if (should_free)
				heap_freetuple(tup);
			MemoryContextReset(rowcxt);
		}
		table_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		table_close(rel, AccessShareLock);
	}
	MemoryContextDelete(rowcxt);
	list_free(leaves);
}

static void
usage_put(Tuplestorestate *ts, TupleDesc desc, Oid relid, const char *subject, const char *bucket,
		  const LimitTotals *t, bool cached)
{
	Datum		v[12];
	bool		n[12] = {false};

	v[0] = ObjectIdGetDatum(relid);
	v[1] = CStringGetTextDatum(subject);
	v[2] = CStringGetTextDatum(bucket);
	v[3] = DateADTGetDatum(t->day);
	v[4] = t->amount[0];
	v[5] = Int64GetDatum(t->count[0]);
	v[6] = Int32GetDatum(t->year);
	v[7] = t->amount[1];
	v[8] = Int64GetDatum(t->count[1]);
	v[9] = t->amount[2];
	v[10] = Int64GetDatum(t->count[2]);
	v[11] = BoolGetDatum(cached);
	tuplestore_putvalues(ts, desc, v, n);
}

/* What usage_compute() gives for each (subject, bucket). */
typedef void (*UsageEmit) (void *arg, const char *subject, const char *bucket,
						   const LimitTotals *t, TimestampTz last_stamp, bool cached);

/*
 * The current usage of every subject of a table with posted_at: each
 * payer's cached usage, or its roll-up plus its rows stamped after it (one
 * scan of the table).
 */
static void
usage_compute(Oid relid, LimitRel *lr, List *rows, UsageEmit emit, void *arg)
{
	HTAB	   *h;
	HASHCTL		ctl;
	HASH_SEQ_STATUS seq;
	UsageAcc   *a;
	ListCell   *rc;

	ctl.keysize = FINSEC_LIMIT_USAGE_KEY_SIZE;
	ctl.entrysize = sizeof(UsageAcc);
	ctl.hcxt = CurrentMemoryContext;
	h = hash_create("finsec usage view", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	foreach(rc, rows)
	{
		LimitUsageRow *u = lfirst(rc);

		a = usage_acc(h, u->subject, u->bucket, true, u->flushed_at);
		a->totals = u->totals;
		a->complete = u->flushed_null;
	}
	usage_scan_table(relid, h, lr->usage_since);
	hash_seq_init(&seq, h);
	while ((a = hash_seq_search(&seq)) != NULL)
	{
		LimitTotals cached;
		TimestampTz stamp = a->since;
		int			i;

		if (finsec_limit_cache_peek_stamps(relid, a->subject, a->bucket, &cached, &stamp))
		{
			emit(arg, a->subject, a->bucket, &cached, stamp, true);
			continue;
		}
		if (a->complete)
			stamp = GetCurrentTimestamp();
		if (a->nrows > 1)
			qsort(a->rows, a->nrows, sizeof(PayerRow), payer_row_cmp);
		for (i = 0; i < a->nrows; i++)
		{
			DateADT		day;
			int32		year;

			finsec_limit_today(a->rows[i].ts, &day, &year);
			finsec_limit_totals_add(&a->totals, day, year, a->rows[i].delta, a->rows[i].count);
			if (a->rows[i].ts > stamp)
				stamp = a->rows[i].ts;
		}
		emit(arg, a->subject, a->bucket, &a->totals, stamp, false);
	}
	hash_destroy(h);
}

typedef struct UsageOut
{
	ReturnSetInfo *rsinfo;
	Oid			relid;
} UsageOut;

static void
usage_emit_row(void *arg, const char *subject, const char *bucket, const LimitTotals *t,
			   TimestampTz last_stamp, bool cached)
{
	UsageOut   *o = arg;

	usage_put(o->rsinfo->setResult, o->rsinfo->setDesc, o->relid, subject, bucket, t, cached);
}

static void
usage_emit_store(void *arg, const char *subject, const char *bucket, const LimitTotals *t,
				 TimestampTz last_stamp, bool cached)
{
	Oid			relid = *(Oid *) arg;

	finsec_limit_usage_store(relid, subject, bucket, t, last_stamp);
}

/*
 * Before limits are disabled with usage kept: every payer's current usage
 * into its roll-up (the table is locked against payments), so that it
 * counts again when limits are enabled again.
 */
void
finsec_limit_usage_keep(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	LimitRel   *lr = limit_rel_or_null(rel);

	if (lr && lr->att[ARG_TIME] > 0)
	{
		limit_cache_load();
		usage_compute(relid, lr, finsec_limit_usage_rows_of(relid), usage_emit_store, &relid);
	}
	table_close(rel, AccessShareLock);
}

PG_FUNCTION_INFO_V1(finsec_limit_usage_rows);

/*
 * finsec._limit_usage_rows(), the view finsec.limit_usage: for a table
 * without posted_at (or no longer limited) its usage rows; for one with
 * posted_at each payer's current usage (usage_compute).
 */
Datum
finsec_limit_usage_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *relids;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	limit_cache_load();
	relids = list_concat_unique_oid(finsec_limit_table_relids(), finsec_limit_usage_relids());
	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		Relation	rel = try_relation_open(relid, AccessShareLock);
		LimitRel   *lr = NULL;
		List	   *rows = finsec_limit_usage_rows_of(relid);
		ListCell   *rc;

		if (rel != NULL && finsec_limit_table_contains(relid))
			lr = limit_rel_or_null(rel);
		if (lr == NULL || lr->att[ARG_TIME] <= 0)
		{
			/* written per payment, or kept when limits were disabled */
			foreach(rc, rows)
			{
				LimitUsageRow *u = lfirst(rc);

				usage_put(rsinfo->setResult, rsinfo->setDesc, relid, u->subject, u->bucket, &u->totals, false);
			}
		}
		else
		{
			UsageOut	o = {rsinfo, relid};

			usage_compute(relid, lr, rows, usage_emit_row, &o);
		}
		if (rel != NULL)
			table_close(rel, AccessShareLock);
	}
	return (Datum) 0;
}

static List *
bucket_add(List *buckets, const char *bucket)
{
	ListCell   *lc;

	foreach(lc, buckets)
		if (strcmp(lfirst(lc), bucket) == 0)
		return buckets;
	return lappend(buckets, pstrdup(bucket));
}

PG_FUNCTION_INFO_V1(finsec_limit_usage_flush);

/*
 * finsec._limit_usage_flush(relid, subject): write a payer's current usage
 * (every bucket) to its roll-up and forget its cached usage, under the
 * payer's lock; for a superuser's correction through the view.
 */
Datum
finsec_limit_usage_flush(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *subject = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Relation	rel = try_relation_open(relid, AccessShareLock);
	LimitRel   *lr;
	List	   *buckets = list_make1(pstrdup(""));
	List	   *rows;
	ListCell   *lc;
	int			i;

	if (rel == NULL)
		PG_RETURN_VOID();
	lr = limit_rel_or_null(rel);
	if (lr == NULL || lr->att[ARG_TIME] <= 0)
	{
		table_close(rel, AccessShareLock);
		PG_RETURN_VOID();
	}
	limit_cache_load();
	finsec_limit_lock_payer(relid, subject);
	rows = finsec_limit_usage_rows_of(relid);
	foreach(lc, rows)
	{
		LimitUsageRow *u = lfirst(lc);

		if (strcmp(u->subject, subject) == 0 && u->bucket[0] != '\0')
			buckets = bucket_add(buckets, u->bucket);
	}
	for (i = 0; i < npolicies; i++)
		if (policies[i].channel && policies[i].period != PERIOD_SINGLE &&
			(!OidIsValid(policies[i].relid) || policies[i].relid == relid))
			buckets = bucket_add(buckets, policies[i].channel);
	foreach(lc, buckets)
	{
		const char *bucket = lfirst(lc);
		LimitTotals t;
		TimestampTz flushed_at,
					last_stamp;
		int32		nrows;
		bool		force;

		if (!finsec_limit_cache_peek_stamps(relid, subject, bucket, &t, &last_stamp))
		{
			LimitPayer	p;
			PayerScan	ps;

			memset(&ps, 0, sizeof(ps));
			ps.r = lr;
			ps.subject_arg = lr->att[ARG_ACCOUNT] > 0 ? ARG_ACCOUNT : ARG_CUSTOMER;
			ps.have_datum = false;
			p.relid = relid;
			p.subject = subject;
			p.chan_bucket = NULL;
			p.ctx = &ps;
			finsec_limit_usage_recompute(&p, bucket, false, &t, &flushed_at, &last_stamp, &nrows, &force);
			if (nrows == 0 && !force && flushed_at == lr->usage_since && !t.present)
				continue;
		}
		finsec_limit_usage_store(relid, subject, bucket, &t, last_stamp);
		finsec_limit_cache_forget(relid, subject, bucket);
	}
	table_close(rel, AccessShareLock);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(finsec_limit_cache_forget_fn);

/* finsec._limit_cache_forget(table): its payers are recomputed from their roll-ups. */
Datum
finsec_limit_cache_forget_fn(PG_FUNCTION_ARGS)
{
	finsec_limit_cache_forget_table(PG_GETARG_OID(0));
	PG_RETURN_VOID();
}
