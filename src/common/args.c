/*-------------------------------------------------------------------------
 *
 * args.c
 *	  Text arguments of finsec's SQL-callable C functions.
 *
 * Most finsec functions are not STRICT, so that a NULL argument gets a
 * message naming it rather than a silent NULL result; these two helpers
 * are that rule in one place.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "finsec.h"

/* Argument n as a C string; "<what> must not be null" if it is NULL. */
char *
finsec_text_arg(FunctionCallInfo fcinfo, int n, const char *what)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
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
