/*-------------------------------------------------------------------------
 *
 * trigger.c
 *	  Reading pg_trigger by a trigger's OID, for the object-access checks
 *	  of the capabilities that attach triggers (there is no syscache of
 *	  pg_trigger by OID).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/trigger.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_trigger.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "finsec_trigger.h"

bool
finsec_trigger_by_oid(Oid trigid, FinsecTriggerRow *row)
{
	Relation	trig;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	if (row == NULL)
		return false;
	memset(row, 0, sizeof(*row));
	if (!OidIsValid(trigid))
		return false;
	trig = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(trigid));
	scan = systable_beginscan(trig, TriggerOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		Form_pg_trigger t = (Form_pg_trigger) GETSTRUCT(tup);

		row->tgrelid = t->tgrelid;
		row->tgname = t->tgname;
		row->tgfoid = t->tgfoid;
		found = true;
	}
	systable_endscan(scan);
	table_close(trig, AccessShareLock);
	return found;
}

/* Refuse a call of trigger function name other than as a BEFORE row trigger. */
void
finsec_require_before_row_trigger(FunctionCallInfo fcinfo, const char *name)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s must be a BEFORE row trigger", name)));
}
