/*-------------------------------------------------------------------------
 *
 * args.c
 *	  Text arguments of finsec's SQL-callable C functions.
 *
 * Also the body of the statement triggers that invalidate the caches of a
 * configuration table.
 *
 * Most finsec functions are not STRICT, so that a NULL argument gets a
 * message naming it rather than a silent NULL result; these two helpers
 * are that rule in one place.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"

#include "finsec.h"

/* "<what> must not be null" if argument n is NULL. */
void
finsec_require_arg(FunctionCallInfo fcinfo, int n, const char *what)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
}

/* Argument n as a C string; "<what> must not be null" if it is NULL. */
char *
finsec_text_arg(FunctionCallInfo fcinfo, int n, const char *what)
{
	finsec_require_arg(fcinfo, n, what);
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* Argument n as a C string, or NULL when it is NULL or not passed. */
char *
finsec_text_arg_opt(FunctionCallInfo fcinfo, int n)
{
	return (PG_NARGS() > n && !PG_ARGISNULL(n)) ? text_to_cstring(PG_GETARG_TEXT_PP(n)) : NULL;
}

/*
 * A text argument naming something (a column, a status, a reference): NULL
 * is an error when required and NULL otherwise; an empty string is always
 * an error.
 */
char *
finsec_name_arg(FunctionCallInfo fcinfo, int n, const char *what, bool required)
{
	char	   *s;

	if (PG_ARGISNULL(n))
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null", what)));
		return NULL;
	}
	s = text_to_cstring(PG_GETARG_TEXT_PP(n));
	if (*s == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what)));
	return s;
}

/*
 * The elements of a text[] argument naming things, as a List of C strings:
 * the array must not be NULL, nor hold NULL or empty elements.
 */
List *
finsec_names_arg(FunctionCallInfo fcinfo, int n, const char *what)
{
	Datum	   *elems;
	bool	   *nulls;
	int			nelems,
				i;
	List	   *out = NIL;

	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(n), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &nelems);
	for (i = 0; i < nelems; i++)
	{
		char	   *s;

		if (nulls[i] || *(s = TextDatumGetCString(elems[i])) == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain null or empty values", what)));
		out = lappend(out, s);
	}
	return out;
}

/*
 * The body of a statement trigger on a configuration table: every backend
 * drops what it cached of the table at its next transaction (relcache
 * invalidation, sent at commit).  name is the trigger function's, for the
 * error when it is called otherwise.
 */
void
finsec_relcache_trigger(FunctionCallInfo fcinfo, const char *name)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "%s must be a trigger", name);
	CacheInvalidateRelcacheByRelid(RelationGetRelid(td->tg_relation));
}
