/*-------------------------------------------------------------------------
 *
 * trusted.c
 *	  What finsec runs on an application's tables and columns while it
 *	  holds raised privileges (docs/security-model.md, "User code").
 *
 * finsec works on tables, columns and types that their owners control.
 * Whatever a non-superuser can define or replace - a trigger, rule,
 * constraint, index expression or predicate, default, cast, operator or
 * function - must never run as finsec's owner.  So:
 *
 *	- registered columns have a trusted type: a built-in type, one of
 *	  finsec's own, an enum (its I/O and comparison are PostgreSQL's
 *	  enum_in, enum_out and enum_cmp; a user cast is never used, because
 *	  finsec converts values in C), or a domain over one of these, handled
 *	  as its base type (its constraints, user code, run only when the
 *	  application writes the column).  Registration checks it, and each use
 *	  checks it again: a column's type can be altered later;
 *	- values become text, and text becomes values, through the base type's
 *	  own output and input functions resolved from the catalog, never
 *	  through a SQL cast;
 *	- SQL that must read a user table runs as that table's owner inside a
 *	  security-restricted operation, as PostgreSQL's own REFRESH
 *	  MATERIALIZED VIEW, VACUUM and foreign-key checks do, never as
 *	  finsec's owner.  The owner already runs whatever code its own table
 *	  carries; nothing of it gains the extension owner's privileges.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/catalog.h"
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "finsec.h"
#include "finsec_errcodes.h"
#include "finsec_trusted.h"
#include "finsec_owner.h"

/* Is the object a member of extension finsec? */
static bool
in_finsec(Oid classid, Oid objid)
{
	Oid			ext = get_extension_oid("finsec", true);

	return OidIsValid(ext) && getExtensionOfObject(classid, objid) == ext;
}

/*
 * The answers of finsec_type_is_trusted(), per type OID, for the backend's
 * life: finsec checks every value it converts (once per row in
 * rebuild_limit_usage and linked_entities, through finsec._trusted_text),
 * and the answer for finsec's own types costs two catalog scans (the
 * extension, then pg_depend).  Any change to pg_type (a type created,
 * dropped or altered, a domain's base, CREATE or DROP EXTENSION finsec,
 * which create and drop its types) empties the cache; extension membership
 * of a type cannot change otherwise (ALTER EXTENSION finsec ADD/DROP is
 * refused, and another extension's members are never trusted for that).
 */
typedef struct TrustedTypeEntry
{
	Oid			typid;			/* hash key */
	bool		trusted;
} TrustedTypeEntry;

static HTAB *trusted_cache = NULL;
static bool trusted_cache_stale = false;
static uint64 trusted_cache_generation = 0;
static bool trusted_callback_registered = false;

static void
trusted_type_inval(Datum arg, int cacheid, uint32 hashvalue)
{
	trusted_cache_stale = true;
	trusted_cache_generation++;
}

static bool type_is_trusted_uncached(Oid typid);

/*
 * Whether finsec may read, compare and convert values of typid: built-in,
 * finsec's own, an enum, a domain over one of these, or an array of one.
 */
bool
finsec_type_is_trusted(Oid typid)
{
	TrustedTypeEntry *entry;
	bool		found;
	bool		result;
	uint64		generation;

	if (!trusted_callback_registered)
	{
		CacheRegisterSyscacheCallback(TYPEOID, trusted_type_inval, (Datum) 0);
		trusted_callback_registered = true;
	}
	if (trusted_cache_stale && trusted_cache != NULL)
	{
		hash_destroy(trusted_cache);
		trusted_cache = NULL;
	}
	trusted_cache_stale = false;
	if (trusted_cache == NULL)
	{
		trusted_cache = finsec_blob_hash_create("finsec trusted types", 64, sizeof(Oid), sizeof(TrustedTypeEntry),
												CacheMemoryContext);
	}
	entry = hash_search(trusted_cache, &typid, HASH_FIND, NULL);
	if (entry)
		return entry->trusted;

	/*
	 * an invalidation while the catalogs are read makes the answer
	 * uncacheable
	 */
	generation = trusted_cache_generation;
	result = type_is_trusted_uncached(typid);
	if (generation == trusted_cache_generation && !trusted_cache_stale && trusted_cache != NULL)
	{
		entry = hash_search(trusted_cache, &typid, HASH_ENTER, &found);
		entry->trusted = result;
	}
	return result;
}

static bool
type_is_trusted_uncached(Oid typid)
{
	int			depth;

	for (depth = 0; depth < 32; depth++)
	{
		HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
		Form_pg_type t;
		Oid			next = InvalidOid;
		bool		ok = false;

		if (!HeapTupleIsValid(tup))
			return false;
		t = (Form_pg_type) GETSTRUCT(tup);
		if (t->typtype == TYPTYPE_DOMAIN)
			next = t->typbasetype;
		else if (t->typtype == TYPTYPE_PSEUDO)
			ok = false;
		else if (typid < FirstNormalObjectId)
			ok = true;
		else if (IsTrueArrayType(t))
			next = t->typelem;
		else if (t->typtype == TYPTYPE_ENUM)
			ok = t->typinput == F_ENUM_IN && t->typoutput == F_ENUM_OUT;
		else
			ok = in_finsec(TypeRelationId, typid);
		ReleaseSysCache(tup);
		if (!OidIsValid(next))
			return ok;
		typid = next;
	}
	return false;
}

/* Refuse a column whose type is not trusted (at registration and at use). */
void
finsec_require_trusted_type(Oid typid, const char *param, const char *column,
							const char *relname)
{
	if (finsec_type_is_trusted(typid))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_UNTRUSTED_TYPE),
			 errmsg("%s column \"%s\" of \"%s\" has type %s, which finsec does not accept",
					param, column, relname, format_type_be(typid)),
			 errdetail("finsec reads registered columns only of built-in types, finsec's own types, enums, and domains over these: the input, output, comparison and cast functions of other types are user code."),
			 errhint("Use a column of a built-in type such as text, varchar, bigint, numeric or uuid, or an enum.")));
}

/* The text of a value of a trusted type, by its base type's output function. */
char *
finsec_trusted_output(Oid typid, Datum value)
{
	Oid			func;
	bool		varlena;

	if (!finsec_type_is_trusted(typid))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_UNTRUSTED_TYPE),
				 errmsg("finsec does not convert values of type %s", format_type_be(typid))));
	getTypeOutputInfo(getBaseType(typid), &func, &varlena);
	return OidOutputFunctionCall(func, value);
}

/*
 * A value of a trusted type from its text, by the base type's input
 * function: a domain's constraints (user code) are not run.
 */
Datum
finsec_trusted_input(Oid typid, const char *value)
{
	Oid			base = getBaseType(typid);
	Oid			func;
	Oid			ioparam;

	if (!finsec_type_is_trusted(typid))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_UNTRUSTED_TYPE),
				 errmsg("finsec does not convert values of type %s", format_type_be(typid))));
	getTypeInputInfo(base, &func, &ioparam);
	return OidInputFunctionCall(func, (char *) value, ioparam, -1);
}

/* An operator class finsec may scan with: built-in or finsec's own. */
bool
finsec_opclass_is_trusted(Oid opclass)
{
	return opclass < FirstNormalObjectId || in_finsec(OperatorClassRelationId, opclass);
}

/*
 * Become relid's owner inside a security-restricted operation, with
 * search_path pinned and forced row security not applied to the owner (as
 * foreign-key checks do: finsec's checks must see every row).
 */
void
finsec_begin_table_owner(Oid relid, FinsecTableOwnerContext *ctx)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	GetUserIdAndSecContext(&ctx->save_userid, &ctx->save_sec);
	SetUserIdAndSecContext(owner, ctx->save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION | SECURITY_NOFORCE_RLS);
	ctx->nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

void
finsec_end_table_owner(FinsecTableOwnerContext *ctx)
{
	AtEOXact_GUC(true, ctx->nestlevel);
	SetUserIdAndSecContext(ctx->save_userid, ctx->save_sec);
}

PG_FUNCTION_INFO_V1(finsec_trusted_text);

/*
 * finsec._trusted_text(anyelement) returns text: a value of a trusted type
 * as text, by its output function (character(n) without trailing blanks,
 * as a cast to text gives).  For finsec's own SQL, in place of ::text,
 * whose cast a type's owner can define.
 */
Datum
finsec_trusted_text(PG_FUNCTION_ARGS)
{
	Oid			typid = get_fn_expr_argtype(fcinfo->flinfo, 0);
	char	   *s;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (!OidIsValid(typid))
		elog(ERROR, "could not determine the argument type of finsec._trusted_text()");
	s = finsec_trusted_output(typid, PG_GETARG_DATUM(0));
	if (getBaseType(typid) == BPCHAROID)
	{
		int			len = strlen(s);

		while (len > 0 && s[len - 1] == ' ')
			s[--len] = '\0';
	}
	PG_RETURN_TEXT_P(cstring_to_text(s));
}

PG_FUNCTION_INFO_V1(finsec_select_as_table_owner);

/*
 * finsec._select_as_table_owner(relid regclass, query text, params text[],
 *		param_types regtype[]) returns setof record
 *
 * Run a read-only query of finsec's own SQL over the user table relid as
 * the table's owner in a security-restricted operation (finsec_begin_table_owner),
 * and return its rows, whose column types must be those the caller
 * declares.  Parameter $n is params[n] read by the input function of
 * param_types[n], a trusted type.  Only finsec's owner may call it.
 */
Datum
finsec_select_as_table_owner(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid;
	char	   *query;
	char		relkind;
	int			nparams = 0;
	Oid		   *types = NULL;
	Datum	   *values = NULL;
	char	   *nulls = NULL;
	TupleDesc	want;
	TupleDesc	got;
	FinsecTableOwnerContext ctx;
	int			ret;
	uint64		i;
	int			a;

	if (GetUserId() != finsec_owner() && !superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("finsec._select_as_table_owner() is for finsec's own functions")));
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table and query must not be null")));
	relid = PG_GETARG_OID(0);
	query = text_to_cstring(PG_GETARG_TEXT_PP(1));
	relkind = get_rel_relkind(relid);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("relation with OID %u is not a table", relid)));

	if (!PG_ARGISNULL(2) && !PG_ARGISNULL(3))
	{
		Datum	   *texts;
		bool	   *tnulls;
		Datum	   *oids;
		bool	   *onulls;
		int			ntypes;

		deconstruct_array(PG_GETARG_ARRAYTYPE_P(2), TEXTOID, -1, false, TYPALIGN_INT,
						  &texts, &tnulls, &nparams);
		deconstruct_array(PG_GETARG_ARRAYTYPE_P(3), REGTYPEOID, sizeof(Oid), true, TYPALIGN_INT,
						  &oids, &onulls, &ntypes);
		if (ntypes != nparams)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("params and param_types differ in length")));
		types = palloc(sizeof(Oid) * Max(nparams, 1));
		values = palloc(sizeof(Datum) * Max(nparams, 1));
		nulls = palloc(Max(nparams, 1) + 1);
		for (a = 0; a < nparams; a++)
		{
			if (onulls[a])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("param_types must not contain nulls")));
			types[a] = getBaseType(DatumGetObjectId(oids[a]));
			nulls[a] = tnulls[a] ? 'n' : ' ';
			values[a] = tnulls[a] ? (Datum) 0 :
				finsec_trusted_input(DatumGetObjectId(oids[a]), TextDatumGetCString(texts[a]));
		}
		nulls[nparams] = '\0';
	}

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	want = rsinfo->setDesc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	finsec_begin_table_owner(relid, &ctx);
	/* read_only: a statement that writes is refused */
	ret = SPI_execute_with_args(query, nparams, types, values, nulls, true, 0);
	finsec_end_table_owner(&ctx);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "finsec._select_as_table_owner: not a query (%s)", SPI_result_code_string(ret));
	got = SPI_tuptable->tupdesc;
	if (got->natts != want->natts)
		elog(ERROR, "finsec._select_as_table_owner: the query returns %d columns, not %d",
			 got->natts, want->natts);
	for (a = 0; a < want->natts; a++)
	{
		if (TupleDescAttr(got, a)->atttypid != TupleDescAttr(want, a)->atttypid)
			elog(ERROR, "finsec._select_as_table_owner: column %d is of type %s, not %s", a + 1,
				 format_type_be(TupleDescAttr(got, a)->atttypid),
				 format_type_be(TupleDescAttr(want, a)->atttypid));
		/* what finsec's owner then reads must be of a trusted type */
		finsec_require_trusted_type(TupleDescAttr(got, a)->atttypid, "registered",
									NameStr(TupleDescAttr(got, a)->attname), get_rel_name(relid));
	}
	{
		Datum	   *v = palloc(sizeof(Datum) * Max(want->natts, 1));
		bool	   *n = palloc(sizeof(bool) * Max(want->natts, 1));

		for (i = 0; i < SPI_processed; i++)
		{
			heap_deform_tuple(SPI_tuptable->vals[i], got, v, n);
			tuplestore_putvalues(rsinfo->setResult, want, v, n);
		}
	}
	SPI_finish();
	return (Datum) 0;
}
