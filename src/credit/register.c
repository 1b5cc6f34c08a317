/*-------------------------------------------------------------------------
 *
 * register.c
 *	  Registered credit tables (docs/credit.md): the backend cache of
 *	  finsec.credit_table/credit_column (finsec_credit_table()), the C
 *	  helpers of finsec.register_credit_table (section 2 of
 *	  finsec--1.1--1.2.sql), finsec's own-read flag.
 *
 * The cache is read by the ExecutorCheckPerms callback for every relation
 * of every statement, so it keeps negative entries too.  It is loaded with
 * SPI as finsec's owner (finsec's own tables only: no user code) under the
 * latest snapshot, and marked stale by a relcache invalidation of
 * finsec.credit_table or credit_column (their trigger
 * finsec_credit_table_changed sends one on every write), of a registered
 * table (DDL), or of all relations.  A stale cache is rebuilt at the next
 * lookup; the generation before it stays allocated until the one after,
 * so a pointer handed out remains valid across one rebuild.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "finsec.h"
#include "finsec_apptable.h"
#include "finsec_audit.h"
#include "finsec_errcodes.h"
#include "finsec_owner.h"
#include "finsec_trusted.h"
#include "credit.h"

typedef struct CreditCacheEntry
{
	Oid			relid;			/* hash key */
	bool		registered;
	FinsecCreditTable t;
} CreditCacheEntry;

static HTAB *credit_cache = NULL;
static MemoryContext credit_cxt = NULL;
static MemoryContext credit_old_cxt = NULL;
static bool credit_stale = true;
static bool credit_loading = false;
static bool credit_callback_registered = false;
static FinsecRelid credit_table_rel = FINSEC_RELID_INIT("finsec", "credit_table");
static FinsecRelid credit_column_rel = FINSEC_RELID_INIT("finsec", "credit_column");

/* finsec's own reads of registered tables (query, deid): a nesting depth */
static int	credit_read_depth = 0;
static bool credit_xact_callback_registered = false;

static void
credit_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid ||
		finsec_relid_matches(&credit_table_rel, relid) ||
		finsec_relid_matches(&credit_column_rel, relid))
	{
		credit_stale = true;
		return;
	}
	if (credit_cache != NULL && !credit_stale)
	{
		bool		found;
		CreditCacheEntry *e = hash_search(credit_cache, &relid, HASH_FIND, &found);

		/* a negative entry is just forgotten; a registration is rebuilt */
		if (found && e->registered)
			credit_stale = true;
		else if (found)
			(void) hash_search(credit_cache, &relid, HASH_REMOVE, NULL);
	}
}

static void
credit_cache_reset(void)
{
	HASHCTL		ctl;

	if (!credit_callback_registered)
	{
		finsec_register_relcache_callback(credit_relcache_callback, (Datum) 0);
		credit_callback_registered = true;
	}
	/* the generation before the current one goes; the current one stays */
	if (credit_old_cxt != NULL)
		MemoryContextDelete(credit_old_cxt);
	credit_old_cxt = credit_cxt;
	credit_cxt = AllocSetContextCreate(CacheMemoryContext, "finsec credit tables",
									   ALLOCSET_SMALL_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(CreditCacheEntry);
	ctl.hcxt = credit_cxt;
	credit_cache = hash_create("finsec credit tables", 32, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	credit_stale = false;
}

static FinsecCreditColumnRole
role_of(const char *role)
{
	if (strcmp(role, "key") == 0)
		return FINSEC_CREDIT_KEY;
	if (strcmp(role, "subject") == 0)
		return FINSEC_CREDIT_SUBJECT;
	if (strcmp(role, "identifier") == 0)
		return FINSEC_CREDIT_IDENTIFIER;
	if (strcmp(role, "quasi_identifier") == 0)
		return FINSEC_CREDIT_QUASI_IDENTIFIER;
	if (strcmp(role, "sensitive") == 0)
		return FINSEC_CREDIT_SENSITIVE;
	if (strcmp(role, "behaviour_end") == 0)
		return FINSEC_CREDIT_BEHAVIOUR_END;
	if (strcmp(role, "institution") == 0)
		return FINSEC_CREDIT_INSTITUTION;
	return FINSEC_CREDIT_PUBLIC;
}

/*
 * Read the registration of relid into e (SPI is connected, as finsec's
 * owner).  Columns come in attnum order (the table's current attnums:
 * registered columns cannot be dropped or renamed, the DDL guard refuses).
 */
static void
load_entry(Oid relid, CreditCacheEntry *e)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	int			ret;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	MemoryContext old;
	uint64		n;

	values[0] = ObjectIdGetDatum(relid);
	ret = SPI_execute_with_args("SELECT t.period_unit, t.retention, t.action = 'delete', t.k, t.l, "
								"       t.max_suppression::pg_catalog.float8, "
								"       pg_catalog.to_regclass(t.archive_table)::pg_catalog.oid, "
								"       t.policy_name, p.policy_id "
								"  FROM finsec.credit_table t "
								"  LEFT JOIN finsec.protect_policy p ON p.policy_name OPERATOR(pg_catalog.=) t.policy_name "
								" WHERE t.relid::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
								1, argtypes, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read finsec.credit_table: %s", SPI_result_code_string(ret));
	e->registered = SPI_processed > 0;
	if (!e->registered)
		return;

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	e->t.relid = relid;
	strlcpy(e->t.period_unit, SPI_getvalue(tup, desc, 1), sizeof(e->t.period_unit));
	e->t.retention = *DatumGetIntervalP(SPI_getbinval(tup, desc, 2, &isnull));
	e->t.delete_only = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
	e->t.k = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
	e->t.l = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));
	e->t.max_suppression = DatumGetFloat8(SPI_getbinval(tup, desc, 6, &isnull));
	e->t.archive_relid = DatumGetObjectId(SPI_getbinval(tup, desc, 7, &isnull));
	if (isnull)
		e->t.archive_relid = InvalidOid;
	strlcpy(e->t.policy_name, SPI_getvalue(tup, desc, 8), NAMEDATALEN);
	e->t.policy_id = DatumGetInt32(SPI_getbinval(tup, desc, 9, &isnull));
	if (isnull)
		e->t.policy_id = -1;

	ret = SPI_execute_with_args("SELECT a.attnum, c.column_name::pg_catalog.text, c.column_role, c.ladder, a.atttypid "
								"  FROM finsec.credit_column c "
								"  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.relid::pg_catalog.oid "
								"   AND a.attname OPERATOR(pg_catalog.=) c.column_name AND NOT a.attisdropped "
								" WHERE c.relid::pg_catalog.oid OPERATOR(pg_catalog.=) $1 ORDER BY a.attnum",
								1, argtypes, values, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read finsec.credit_column: %s", SPI_result_code_string(ret));
	n = SPI_processed;
	desc = SPI_tuptable->tupdesc;
	old = MemoryContextSwitchTo(credit_cxt);
	e->t.ncolumns = (int) n;
	e->t.columns = palloc0(sizeof(FinsecCreditColumn) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		FinsecCreditColumn *c = &e->t.columns[i];
		Datum		ladder;

		tup = SPI_tuptable->vals[i];
		c->attnum = DatumGetInt16(SPI_getbinval(tup, desc, 1, &isnull));
		strlcpy(c->name, SPI_getvalue(tup, desc, 2), NAMEDATALEN);
		c->role = role_of(SPI_getvalue(tup, desc, 3));
		ladder = SPI_getbinval(tup, desc, 4, &isnull);
		c->ladder = isnull ? NULL : DatumGetJsonbPCopy(ladder);
		c->typid = DatumGetObjectId(SPI_getbinval(tup, desc, 5, &isnull));
		switch (c->role)
		{
			case FINSEC_CREDIT_KEY:
				e->t.key_attnum = c->attnum;
				break;
			case FINSEC_CREDIT_SUBJECT:
				e->t.subject_attnum = c->attnum;
				break;
			case FINSEC_CREDIT_BEHAVIOUR_END:
				e->t.behaviour_end_attnum = c->attnum;
				break;
			case FINSEC_CREDIT_INSTITUTION:
				e->t.institution_attnum = c->attnum;
				break;
			default:
				break;
		}
	}
	MemoryContextSwitchTo(old);
}

/*
 * The registration of relid, or NULL (also without the extension, before
 * schema 1.2, outside a transaction, and while the cache itself loads).
 */
const FinsecCreditTable *
finsec_credit_table(Oid relid)
{
	CreditCacheEntry *e;
	bool		found;
	FinsecOwnerContext ctx;
	bool		pushed = false;
	bool		connected = false;

	if (!OidIsValid(relid) || credit_loading || !IsTransactionState())
		return NULL;
	if (credit_stale || credit_cache == NULL)
		credit_cache_reset();
	e = hash_search(credit_cache, &relid, HASH_FIND, &found);
	if (found)
		return e->registered ? &e->t : NULL;

	/* finsec's own relations are never registered (and the lookup recurses) */
	if (!OidIsValid(finsec_relid(&credit_table_rel)) ||
		!OidIsValid(finsec_relid(&credit_column_rel)) ||
		finsec_is_system_or_finsec_namespace(get_rel_namespace(relid)))
	{
		e = hash_search(credit_cache, &relid, HASH_ENTER, &found);
		e->registered = false;
		return NULL;
	}

	credit_loading = true;
	PG_TRY();
	{
		CreditCacheEntry fresh;

		memset(&fresh, 0, sizeof(fresh));
		fresh.relid = relid;
		PushActiveSnapshot(GetLatestSnapshot());
		pushed = true;
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		connected = true;
		finsec_begin_owner(&ctx);
		load_entry(relid, &fresh);
		finsec_end_owner(&ctx);
		SPI_finish();
		connected = false;
		PopActiveSnapshot();
		pushed = false;
		/* an invalidation while loading: the entry may be old already */
		if (credit_stale)
			credit_cache_reset();
		e = hash_search(credit_cache, &relid, HASH_ENTER, &found);
		*e = fresh;
	}
	PG_FINALLY();
	{
		credit_loading = false;
	}
	PG_END_TRY();
	(void) connected;
	(void) pushed;
	return e->registered ? &e->t : NULL;
}

bool
finsec_credit_is_registered(Oid relid)
{
	return finsec_credit_table(relid) != NULL;
}

/* ---- finsec's own reads of registered tables -------------------------- */

static void
credit_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
		credit_read_depth = 0;
}

/*
 * Around finsec's own reads of a registered table (credit_query, the
 * de-identification batch): the direct-read check lets them pass.  Nesting
 * counts; the end of the transaction resets it (an error between begin and
 * end leaves no open permission behind).
 */
void
finsec_credit_read_begin(void)
{
	if (!credit_xact_callback_registered)
	{
		RegisterXactCallback(credit_xact_callback, NULL);
		credit_xact_callback_registered = true;
	}
	credit_read_depth++;
}

void
finsec_credit_read_end(void)
{
	if (credit_read_depth > 0)
		credit_read_depth--;
}

bool
finsec_credit_reading(void)
{
	return credit_read_depth > 0;
}

/* ---- SQL helpers of register_credit_table ------------------------------ */

PG_FUNCTION_INFO_V1(finsec_credit_table_changed);

/* Trigger on finsec.credit_table and credit_column: every backend rebuilds. */
Datum
finsec_credit_table_changed(PG_FUNCTION_ARGS)
{
	finsec_relcache_trigger(fcinfo, "finsec_credit_table_changed");
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(finsec_credit_ladder_check);

/*
 * finsec._credit_ladder_check(ladder jsonb, col text, typ regtype) -> levels:
 * the ladder parsed as the engine will (S9D40/S9D41 on a bad one).
 */
Datum
finsec_credit_ladder_check(PG_FUNCTION_ARGS)
{
	FinsecCreditLadder *l;
	char	   *col;

	if (PG_ARGISNULL(1))
		PG_RETURN_NULL();
	col = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (strlen(col) >= NAMEDATALEN)
		col[NAMEDATALEN - 1] = '\0';
	l = finsec_credit_ladder_parse(PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0), col,
								   PG_ARGISNULL(2) ? InvalidOid : PG_GETARG_OID(2));
	PG_RETURN_INT32(finsec_credit_ladder_levels(l));
}

PG_FUNCTION_INFO_V1(finsec_credit_type_trusted);

/* finsec._credit_type_trusted(regtype): finsec_type_is_trusted; NULL: false. */
Datum
finsec_credit_type_trusted(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(finsec_type_is_trusted(PG_GETARG_OID(0)));
}

PG_FUNCTION_INFO_V1(finsec_credit_protected);

/* finsec._credit_protected(regclass): protect_table()'d?  NULL: false. */
Datum
finsec_credit_protected(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(finsec_is_protected_relation(PG_GETARG_OID(0)));
}

PG_FUNCTION_INFO_V1(finsec_credit_table_sql);

/*
 * finsec._credit_cached(regclass) -> jsonb: what this backend's cache holds
 * for a table (tests: the cache follows registration and unregistration).
 */
Datum
finsec_credit_table_sql(PG_FUNCTION_ARGS)
{
	const FinsecCreditTable *t;
	StringInfoData buf;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	t = finsec_credit_table(PG_GETARG_OID(0));
	if (t == NULL)
		PG_RETURN_NULL();
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"policy\": \"%s\", \"policy_found\": %s, \"period_unit\": \"%s\", "
					 "\"delete\": %s, \"k\": %d, \"l\": %d, \"max_suppression\": %g, "
					 "\"archive\": %s, \"key\": %d, \"subject\": %d, \"behaviour_end\": %d, "
					 "\"institution\": %d, \"columns\": [",
					 t->policy_name, t->policy_id >= 0 ? "true" : "false", t->period_unit,
					 t->delete_only ? "true" : "false", t->k, t->l, t->max_suppression,
					 OidIsValid(t->archive_relid) ? "true" : "false",
					 t->key_attnum, t->subject_attnum, t->behaviour_end_attnum,
					 t->institution_attnum);
	for (int i = 0; i < t->ncolumns; i++)
	{
		static const char *const names[] = {"key", "subject", "identifier", "quasi_identifier",
		"sensitive", "public", "behaviour_end", "institution"};

		appendStringInfo(&buf, "%s[%d, \"%s\", %s]", i > 0 ? ", " : "",
						 t->columns[i].attnum, names[t->columns[i].role],
						 t->columns[i].ladder ? "true" : "false");
	}
	appendStringInfoString(&buf, "]}");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

void
finsec_credit_register_define_settings(void)
{
}

void
finsec_credit_register_init(void)
{
	finsec_credit_guard_init();
}
