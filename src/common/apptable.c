/*-------------------------------------------------------------------------
 *
 * apptable.c
 *	  The one layer for application tables: opening and checking a table a
 *	  capability registers (finsec.enable_limits, enable_order_guard,
 *	  enable_refund_guard, enable_risk, protect_table), amount columns,
 *	  the relation-OID cache of finsec's own tables and the time-zone
 *	  setting check.  finsec_apptable.h describes the rules.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "pgtime.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "finsec.h"
#include "finsec_apptable.h"
#include "finsec_trusted.h"

/* ---- opening a registered table ------------------------------------------ */

static void refuse_missing(Oid relid) pg_attribute_noreturn();

/* 42P01 for an OID that names no relation (rather than "cache lookup failed"). */
static void
refuse_missing(Oid relid)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_TABLE),
			 errmsg("relation with OID %u does not exist", relid)));
	pg_unreachable();
}

/*
 * A regclass argument names an existing relation: its input function checks
 * a name, not a number, so finsec.f(0) or finsec.f(123456789) arrive here.
 * 42P01 rather than an internal "cache lookup failed".
 */
void
finsec_check_relation_exists(Oid relid)
{
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		refuse_missing(relid);
}

/*
 * table_open() of a relation a caller named by OID: the lock is taken
 * first and the relation's existence checked under it, so that an OID that
 * names nothing (or a relation dropped meanwhile) is 42P01, not the
 * internal error "could not open relation".
 */
Relation
finsec_table_open_arg(Oid relid, int lockmode)
{
	LockRelationOid(relid, lockmode);
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
	{
		UnlockRelationOid(relid, lockmode);
		refuse_missing(relid);
	}
	return table_open(relid, lockmode);
}

/*
 * A relation given by OID gets the check a name gets: USAGE on its schema
 * (a regclass argument given as a number skips it otherwise).
 */
void
finsec_check_relation_usage(Oid relid)
{
	Oid			nsp = get_rel_namespace(relid);

	if (!OidIsValid(nsp))
		refuse_missing(relid);
	if (pg_namespace_aclcheck(nsp, GetUserId(), ACL_USAGE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for schema %s", get_namespace_name(nsp)),
				 errdetail("A table given by OID is checked as one given by name.")));
}

/* pg_catalog, pg_toast, information_schema and finsec: no capability registers their tables. */
bool
finsec_is_system_or_finsec_namespace(Oid nsp)
{
	char	   *name;

	if (IsCatalogNamespace(nsp) || IsToastNamespace(nsp) ||
		nsp == get_namespace_oid("finsec", true))
		return true;
	name = get_namespace_name(nsp);
	return name != NULL && strcmp(name, "information_schema") == 0;
}

/* The caller must own relid (as for ALTER TABLE). */
static void
require_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	char	   *relname;
	char		relkind;

	if (!HeapTupleIsValid(tup))
		refuse_missing(relid);
	relname = pstrdup(NameStr(((Form_pg_class) GETSTRUCT(tup))->relname));
	relkind = ((Form_pg_class) GETSTRUCT(tup))->relkind;
	ReleaseSysCache(tup);
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(relkind), relname);
}

/*
 * Open the application table relid that function (e.g.
 * "finsec.enable_limits()") registers, with lockmode, after the checks
 * every capability shares: the schema's USAGE (a table given by OID is
 * checked as one given by name), ownership when required (before the lock,
 * so that no one locks another's table, and again under it), an ordinary
 * table (or a partitioned one, when the capability accepts it; never a
 * partition), permanent when required, not a table of the system or of
 * finsec, and the privilege the capability needs.  One set of messages:
 * 42809 for the table's kind and schema, 42501 for privileges.
 */
Relation
finsec_apptable_open(Oid relid, LOCKMODE lockmode, const char *function,
					 const FinsecAppTableCheck *check)
{
	Relation	rel;
	const char *relname;
	int			flags = check ? check->flags : 0;

	finsec_check_relation_usage(relid);
	if (flags & FINSEC_APPTABLE_OWNER)
		require_owner(relid);
	rel = finsec_table_open_arg(relid, lockmode);
	if (flags & FINSEC_APPTABLE_OWNER)
		require_owner(relid);	/* the owner may have changed meanwhile */
	relname = RelationGetRelationName(rel);

	if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE &&
		!(flags & FINSEC_APPTABLE_PARTITIONED))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot use \"%s\" with %s: it is a partitioned table", relname, function),
				 (check && check->partitioned_hint) ? errhint("%s", check->partitioned_hint) : 0));
	if (rel->rd_rel->relispartition)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot use \"%s\" with %s: it is a partition", relname, function),
				 (flags & FINSEC_APPTABLE_PARTITIONED)
				 ? errhint("Use %s on the partitioned table; it covers every partition.", function)
				 : errhint("A partition's rows and columns follow its partitioned table; use an ordinary table.")));
	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot use \"%s\" with %s: it is not a table", relname, function)));
	if ((flags & FINSEC_APPTABLE_PERMANENT) &&
		rel->rd_rel->relpersistence != RELPERSISTENCE_PERMANENT)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot use \"%s\" with %s: it is not a permanent table", relname, function),
				 errhint("Unlogged and temporary tables lose their rows on a crash or at session end.")));
	if (IsCatalogRelation(rel) || finsec_is_system_or_finsec_namespace(RelationGetNamespace(rel)))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot use \"%s\" with %s: it belongs to the system or to finsec",
						relname, function)));
	if (check && check->privilege != 0 &&
		pg_class_aclcheck(relid, GetUserId(), check->privilege) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to use \"%s\" with %s", relname, function),
				 errdetail("%s needs the %s privilege on the table.", function,
						   check->privilege_name ? check->privilege_name : "required"),
				 check->privilege_hint ? errhint("%s", check->privilege_hint) : 0));
	return rel;
}

/* ---- amounts ------------------------------------------------------------- */

/*
 * Amount types registered by capabilities (finsec.money), with their OIDs
 * resolved once and forgotten when a type or schema changes.
 */
typedef struct AmountRegistration
{
	const char *nspname;
	const char *typname;
	PGFunction	to_numeric;
	PGFunction	currency;
	Oid			typid;
	bool		valid;
} AmountRegistration;

#define MAX_AMOUNT_TYPES 4
static AmountRegistration amount_types[MAX_AMOUNT_TYPES];
static int	n_amount_types = 0;

static void
amount_types_inval(Datum arg, int cacheid, uint32 hashvalue)
{
	int			i;

	for (i = 0; i < n_amount_types; i++)
		amount_types[i].valid = false;
}

/*
 * Register an amount type of a capability: values of nspname.typname
 * become numeric (major units) by to_numeric.  Called from _PG_init.
 */
void
finsec_apptable_register_amount_type(const char *nspname, const char *typname,
									 PGFunction to_numeric, PGFunction currency)
{
	AmountRegistration *a;

	if (nspname == NULL || typname == NULL || to_numeric == NULL)
		elog(ERROR, "finsec_apptable_register_amount_type: null argument");
	if (n_amount_types >= MAX_AMOUNT_TYPES)
		elog(ERROR, "too many finsec amount types");
	if (n_amount_types == 0)
	{
		CacheRegisterSyscacheCallback(TYPEOID, amount_types_inval, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, amount_types_inval, (Datum) 0);
	}
	a = &amount_types[n_amount_types++];
	a->nspname = nspname;
	a->typname = typname;
	a->to_numeric = to_numeric;
	a->currency = currency;
	a->typid = InvalidOid;
	a->valid = false;
}

/* The registered amount type whose OID is base, or NULL. */
static AmountRegistration *
registered_amount_type(Oid base)
{
	int			i;

	for (i = 0; i < n_amount_types; i++)
	{
		AmountRegistration *a = &amount_types[i];

		if (!a->valid)
		{
			Oid			nsp = get_namespace_oid(a->nspname, true);

			a->typid = OidIsValid(nsp)
				? GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
								  CStringGetDatum(a->typname), ObjectIdGetDatum(nsp))
				: InvalidOid;
			a->valid = true;
		}
		if (OidIsValid(a->typid) && a->typid == base)
			return a;
	}
	return NULL;
}

/*
 * How values of typid (a domain counts as its base type) become amounts;
 * false if typid is no amount type.  Looks at the catalog: call it when a
 * relation's configuration is read, not per row.
 */
bool
finsec_amount_type(Oid typid, FinsecAmountType *out)
{
	static const struct
	{
		Oid			typid;
		FinsecAmountKind kind;
	}			builtin[] = {
		{NUMERICOID, FINSEC_AMOUNT_NUMERIC},
		{INT2OID, FINSEC_AMOUNT_INT2},
		{INT4OID, FINSEC_AMOUNT_INT4},
		{INT8OID, FINSEC_AMOUNT_INT8},
	};
	Oid			base = OidIsValid(typid) ? getBaseType(typid) : InvalidOid;
	AmountRegistration *a;
	int			i;

	out->kind = FINSEC_AMOUNT_NONE;
	out->basetype = base;
	out->to_numeric = NULL;
	out->currency = NULL;
	if (!OidIsValid(base))
		return false;
	for (i = 0; i < lengthof(builtin); i++)
		if (builtin[i].typid == base)
		{
			out->kind = builtin[i].kind;
			return true;
		}
	a = registered_amount_type(base);
	if (a == NULL)
		return false;
	out->kind = FINSEC_AMOUNT_REGISTERED;
	out->to_numeric = a->to_numeric;
	out->currency = a->currency;
	return true;
}

/* Whether a column of typid may be an amount. */
bool
finsec_amount_type_ok(Oid typid)
{
	FinsecAmountType t;

	return finsec_amount_type(typid, &t);
}

/*
 * A (not null) value as a numeric amount in major units.  No catalog
 * access: the per-row half of finsec_amount_type().  A finsec.money value
 * drops its currency, as limits always did (docs/money.md).
 */
Datum
finsec_amount_numeric(const FinsecAmountType *t, Datum value)
{
	if (t == NULL)
		elog(ERROR, "finsec_amount_numeric: no amount type");
	switch (t->kind)
	{
		case FINSEC_AMOUNT_NUMERIC:
			return value;
		case FINSEC_AMOUNT_INT2:
			return DirectFunctionCall1(int2_numeric, value);
		case FINSEC_AMOUNT_INT4:
			return DirectFunctionCall1(int4_numeric, value);
		case FINSEC_AMOUNT_INT8:
			return DirectFunctionCall1(int8_numeric, value);
		case FINSEC_AMOUNT_REGISTERED:
			return DirectFunctionCall1(t->to_numeric, value);
		case FINSEC_AMOUNT_NONE:
			break;
	}
	elog(ERROR, "finsec_amount_numeric: type %u is not an amount type", t->basetype);
	return (Datum) 0;			/* keep compiler quiet */
}

/*
 * The currency code of a (not null) amount of a type that carries one
 * (finsec.money), palloc'd; NULL for numeric and integer amounts, which
 * carry none.  No catalog access.
 */
char *
finsec_amount_currency(const FinsecAmountType *t, Datum value)
{
	if (t == NULL || t->kind != FINSEC_AMOUNT_REGISTERED || t->currency == NULL)
		return NULL;
	return TextDatumGetCString(DirectFunctionCall1(t->currency, value));
}

/* finsec_amount_type() and finsec_amount_numeric() in one call, for a value of typid. */
Datum
finsec_amount_numeric_of(Oid typid, Datum value)
{
	FinsecAmountType t;

	if (!finsec_amount_type(typid, &t))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("type %s is not an amount type", format_type_be(typid)),
				 errhint("Amounts must be " FINSEC_AMOUNT_TYPES_TEXT ".")));
	return finsec_amount_numeric(&t, value);
}

/* ---- relation OIDs of finsec's own tables -------------------------------- */

static FinsecRelid *relids = NULL;
static bool relid_callbacks = false;

static void
relid_relcache_inval(Datum arg, Oid relid)
{
	FinsecRelid *r;

	for (r = relids; r != NULL; r = r->next)
		if (relid == InvalidOid || r->relid == relid)
			r->valid = false;
}

static void
relid_namespace_inval(Datum arg, int cacheid, uint32 hashvalue)
{
	FinsecRelid *r;

	for (r = relids; r != NULL; r = r->next)
		r->valid = false;
}

/*
 * The OID of r's relation, looked up when r is invalid; InvalidOid if it
 * does not exist (not cached: the next call looks again).
 */
Oid
finsec_relid(FinsecRelid *r)
{
	Oid			nsp;
	Oid			relid;

	if (r == NULL)
		return InvalidOid;
	if (r->valid)
		return r->relid;
	if (!relid_callbacks)
	{
		finsec_register_relcache_callback(relid_relcache_inval, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, relid_namespace_inval, (Datum) 0);
		relid_callbacks = true;
	}
	if (!r->linked)
	{
		r->next = relids;
		relids = r;
		r->linked = true;
	}
	nsp = get_namespace_oid(r->nspname, true);
	relid = OidIsValid(nsp) ? get_relname_relid(r->relname, nsp) : InvalidOid;
	if (OidIsValid(relid))
	{
		r->relid = relid;
		r->valid = true;
	}
	return relid;
}

/*
 * In a relcache invalidation callback (which must not look anything up):
 * whether an invalidation of relid concerns r's relation, by the last OID
 * found.  InvalidOid (every relation) concerns all.
 */
bool
finsec_relid_matches(const FinsecRelid *r, Oid relid)
{
	return relid == InvalidOid || (r != NULL && OidIsValid(r->relid) && r->relid == relid);
}

/* ---- time zones ---------------------------------------------------------- */

/* GUC check hook of the time-zone settings (finsec.limit_timezone, finsec.risk_timezone). */
bool
finsec_check_timezone_setting(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || pg_tzset(*newval) == NULL)
	{
		GUC_check_errdetail("\"%s\" is not a time zone this server knows.", *newval ? *newval : "");
		return false;
	}
	return true;
}
