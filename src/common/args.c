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

#include "access/table.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "utils/snapmgr.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
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

/* Whether value (NULL: never) is one of the n strings of list. */
bool
finsec_in_list(const char *value, char *const *list, int n)
{
	int			i;

	if (value == NULL)
		return false;
	for (i = 0; i < n; i++)
		if (strcmp(value, list[i]) == 0)
			return true;
	return false;
}

/*
 * Switching a control off is applied by an approved change request
 * (finsec.approve runs as finsec's owner) or in a superuser's session; an
 * administrator calling the internal function directly is refused.
 * public_name is the function that files the request.
 */
void
finsec_require_switch_authority(const char *public_name)
{
	if (!superuser_arg(GetUserId()) && !superuser_arg(GetSessionUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to switch the control off directly"),
				 errdetail("Disabling a control takes two administrators."),
				 errhint("Call %s: it files a change request that a second member of finsec_admin approves.",
						 public_name)));
}

/* A hash table keyed by keysize bytes compared as a blob, in cxt. */
HTAB *
finsec_blob_hash_create(const char *name, long nelem, Size keysize, Size entrysize,
						MemoryContext cxt)
{
	HASHCTL		ctl;

	ctl.keysize = keysize;
	ctl.entrysize = entrysize;
	ctl.hcxt = cxt;
	return hash_create(name, nelem, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * A sequential heap scan of one of finsec's own tables with a snapshot
 * taken now, without SQL: begin, next (false at the end), end.
 */
void
finsec_heap_scan_begin(FinsecHeapScan *s, Oid relid)
{
	s->rel = table_open(relid, AccessShareLock);
	s->slot = table_slot_create(s->rel, NULL);
	PushActiveSnapshot(GetLatestSnapshot());
	s->scan = table_beginscan(s->rel, GetActiveSnapshot(), 0, NULL);
}

bool
finsec_heap_scan_next(FinsecHeapScan *s)
{
	return table_scan_getnextslot(s->scan, ForwardScanDirection, s->slot);
}

void
finsec_heap_scan_end(FinsecHeapScan *s)
{
	table_endscan(s->scan);
	PopActiveSnapshot();
	ExecDropSingleTupleTableSlot(s->slot);
	table_close(s->rel, AccessShareLock);
}
