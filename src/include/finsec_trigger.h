/*-------------------------------------------------------------------------
 *
 * finsec_trigger.h
 *	  Reading pg_trigger by a trigger's OID (src/common/trigger.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_TRIGGER_H
#define FINSEC_TRIGGER_H

#include "fmgr.h"

/* A trigger's table, name and function. */
typedef struct FinsecTriggerRow
{
	Oid			tgrelid;
	NameData	tgname;
	Oid			tgfoid;
} FinsecTriggerRow;

/* Fill *row from the trigger with this OID; false (and *row zeroed) if there is none. */
extern bool finsec_trigger_by_oid(Oid trigid, FinsecTriggerRow *row);
extern void finsec_require_before_row_trigger(FunctionCallInfo fcinfo, const char *name);

#endif							/* FINSEC_TRIGGER_H */
