/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  Compliance clause catalog: the one fact its guard trigger needs from C.
 *
 * The builtin rows of finsec.clause, finsec.compliance_check_def and
 * finsec.clause_check are finsec's: only finsec's own extension scripts
 * (CREATE EXTENSION, ALTER EXTENSION UPDATE) write them.  PL/pgSQL cannot
 * see whether it runs inside such a script, so the guard asks here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/extension.h"
#include "fmgr.h"

PG_FUNCTION_INFO_V1(finsec_compliance_in_own_script);

/*
 * finsec._compliance_in_own_script() returns boolean: whether the current
 * command runs in a script of extension finsec.
 */
Datum
finsec_compliance_in_own_script(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(creating_extension &&
				   CurrentExtensionObject == get_extension_oid("finsec", true));
}
