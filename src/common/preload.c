/*-------------------------------------------------------------------------
 *
 * preload.c
 *	  Knowing whether finsec was preloaded, and refusing loudly if not.
 *
 * finsec's types and pure functions work in any session that loads the
 * library on demand.  Its hooks, shared memory and background workers exist
 * only when the postmaster loaded it through shared_preload_libraries.  A
 * feature that needs them calls finsec_require_preload() first: it must
 * never silently do less than it claims.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "finsec.h"

bool		finsec_preloaded = false;

void
finsec_require_preload(const char *feature)
{
	if (!finsec_preloaded)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s requires finsec to be loaded through shared_preload_libraries",
						feature),
				 errdetail("The finsec library was loaded on demand in this session, so its hooks and background workers are not active."),
				 errhint("Add finsec to shared_preload_libraries in postgresql.conf and restart the server.")));
}

PG_FUNCTION_INFO_V1(finsec_preloaded_sql);

/*
 * finsec.preloaded() returns boolean
 */
Datum
finsec_preloaded_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(finsec_preloaded);
}

PG_FUNCTION_INFO_V1(finsec_library_version);

/*
 * finsec.library_version() returns text
 *
 * The version of the loaded shared library, to compare with the installed
 * SQL schema version (pg_extension.extversion) after a binary upgrade.
 */
Datum
finsec_library_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(FINSEC_LIBRARY_VERSION));
}
