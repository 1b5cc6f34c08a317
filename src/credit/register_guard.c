/*-------------------------------------------------------------------------
 *
 * register_guard.c
 *	  The guards of registered credit tables (docs/credit.md):
 *	  direct reads refused (ExecutorCheckPerms), DDL refused (utility hook),
 *	  rows already expired or from an inactive provider refused on insert
 *	  (trigger finsec_credit_guard).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "nodes/value.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/date.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_errcodes.h"
#include "finsec_hooks.h"
#include "finsec_owner.h"
#include "credit.h"

#define GUARD_TRIGGER "finsec_credit_guard"

static bool in_check = false;

/* finsec's own DDL on an archive table (protect_table at registration) */
static int	own_archive_ddl = 0;

/* a superuser's COPY FROM into an archive table (pg_restore) is running */
static int	archive_copy_from = 0;

/* a superuser's COPY FROM into a registered table (pg_restore) is running */
static Oid	restore_relid = InvalidOid;

static bool is_archive_table(Oid relid);
static void ddl_refuse(const char *what, Oid relid, bool archive);

/* ---- direct reads ------------------------------------------------------ */

static bool
is_auditor(Oid role)
{
	Oid			auditor = get_role_oid("finsec_auditor", true);

	return OidIsValid(auditor) && has_privs_of_role(role, auditor);
}

/* One ledger row for a read of relid: durable, or held in a read-only transaction. */
static void
audit_direct_read(Oid relid, bool allowed, const char *how)
{
	const char *event = allowed ? "credit.direct_read" : "credit.direct_read_refused";
	const char *object = finsec_quoted_relname(relid);
	const char *desc = allowed ? "direct read of a registered credit table" :
	"direct read of a registered credit table refused";
	char	   *detail;

	detail = psprintf("{\"role\": \"%s\", \"session_user\": \"%s\", \"access\": \"%s\"}",
					  GetUserNameFromId(GetUserId(), true),
					  GetUserNameFromId(GetSessionUserId(), true), how);
	if (RecoveryInProgress())
	{
		if (!allowed)
			return;				/* the refusal is in the server log */
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("reading registered credit table %s is refused on a standby", object),
				 errdetail("A direct read must be recorded in the audit ledger, which a standby cannot write."),
				 errhint("Read on the primary.")));
	}
	if (XactReadOnly)
	{
		if (!finsec_audit_put_aborted(GetUserId(), event, object, "read", allowed, desc, detail))
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_AUDIT_BUFFER_FULL),
					 errmsg("reading registered credit table %s is refused: the finsec audit event buffer is full",
							object),
					 errhint("Retry after the audit sealer has flushed the buffer.")));
		return;
	}
	finsec_audit_event_durable(event, object, "read", allowed, desc,
							   DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(detail))));
}

/*
 * Every relation the statement reads (SELECT privilege required: target
 * list, WHERE, RETURNING, count(*), COPY TO, views expanded): a registered
 * table is refused unless finsec reads it itself (finsec_credit_read_begin)
 * or the current role is a superuser or an auditor (audited).
 */
static bool
credit_check_perms(List *rangeTable, bool ereport_on_violation)
{
	List	   *seen = NIL;
	ListCell   *lc;
	Oid			refused = InvalidOid;
	Oid			role;
	bool		privileged;

	if (in_check || IsParallelWorker() || !IsTransactionState() ||
		InNoForceRLSOperation() || finsec_credit_reading())
		return true;
	role = GetUserId();
	in_check = true;
	PG_TRY();
	{
		privileged = superuser_arg(role) || is_auditor(role);
		foreach(lc, rangeTable)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

			/*
			 * Archive tables: rows are appended only (by finsec's batch, as
			 * its owner; their ACL lets nobody else insert but superusers);
			 * UPDATE and DELETE are refused here before the chain's trigger.
			 */
			if (rte->rtekind == RTE_RELATION &&
				(rte->requiredPerms & (ACL_UPDATE | ACL_DELETE)) &&
				is_archive_table(rte->relid))
				ddl_refuse("write to", rte->relid, true);
			if (rte->rtekind != RTE_RELATION || !(rte->requiredPerms & ACL_SELECT) ||
				list_member_oid(seen, rte->relid))
				continue;
			seen = lappend_oid(seen, rte->relid);
			if (!finsec_credit_is_registered(rte->relid))
				continue;
			if (!privileged)
			{
				refused = rte->relid;
				break;
			}
		}
		if (ereport_on_violation)
		{
			if (OidIsValid(refused))
				audit_direct_read(refused, false, "refused");
			else
				foreach(lc, seen)
				if (finsec_credit_is_registered(lfirst_oid(lc)))
				audit_direct_read(lfirst_oid(lc), true,
								  superuser_arg(role) ? "superuser" : "auditor");
		}
	}
	PG_FINALLY();
	{
		in_check = false;
	}
	PG_END_TRY();

	if (!OidIsValid(refused))
		return true;
	if (!ereport_on_violation)
		return false;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to read registered credit table %s", finsec_quoted_relname(refused)),
			 errdetail("Credit records are read only through finsec.credit_query(), which records every query (004 9.3, 9.7)."),
			 errhint("Call finsec.credit_query(table, subject, reason); auditors and superusers may read the table directly, audited.")));
	return false;				/* not reached */
}

/* ---- DDL --------------------------------------------------------------- */

static bool
is_archive_table(Oid relid)
{
	Oid			nsp = get_namespace_oid("finsec_archive", true);

	return OidIsValid(nsp) && OidIsValid(relid) && get_rel_namespace(relid) == nsp &&
		get_rel_relkind(relid) == RELKIND_RELATION;
}

static void
ddl_refuse(const char *what, Oid relid, bool archive)
{
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_CREDIT_DDL),
			 errmsg("cannot %s %s %s", what, archive ? "archive table" : "registered credit table",
					finsec_quoted_relname(relid)),
			 errdetail(archive ? "An archive table holds published de-identified batches; only finsec writes it." :
					   "The registration (column roles, period keys, archive layout) depends on the table's columns and on reading it only through finsec."),
			 errhint(archive ? "Archive tables are kept as they are." :
					 "Unregister the table first (finsec.unregister_credit_table, two-person).")));
}

/*
 * ALTER TABLE of a registered table (columns, RLS, inheritance, the guard
 * trigger) or of an archive table (anything).
 */
static void
check_alter(AlterTableStmt *stmt)
{
	Oid			relid;
	bool		archive;
	ListCell   *lc;

	if (stmt->relation == NULL)
		return;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	archive = is_archive_table(relid);
	if (!archive && !finsec_credit_is_registered(relid))
		return;
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = (AlterTableCmd *) lfirst(lc);

		switch (cmd->subtype)
		{
			case AT_AddColumn:
				ddl_refuse("add a column to", relid, archive);
				break;
			case AT_DropColumn:
				ddl_refuse("drop a column of", relid, archive);
				break;
			case AT_AlterColumnType:
				ddl_refuse("change a column type of", relid, archive);
				break;
			case AT_ColumnDefault:
			case AT_CookedColumnDefault:
			case AT_AddIdentity:
			case AT_SetIdentity:
			case AT_DropNotNull:
				ddl_refuse("change a column of", relid, archive);
				break;
			case AT_SetStatistics:
				ddl_refuse("change the statistics target of a column of", relid, archive);
				break;
			case AT_EnableRowSecurity:
			case AT_DisableRowSecurity:
			case AT_ForceRowSecurity:
			case AT_NoForceRowSecurity:
				ddl_refuse("change row-level security of", relid, archive);
				break;
			case AT_AddInherit:
			case AT_AttachPartition:
				ddl_refuse("attach to an inheritance tree", relid, archive);
				break;
			case AT_EnableTrig:
			case AT_EnableReplicaTrig:
			case AT_DisableTrig:
				if (cmd->name && strcmp(cmd->name, GUARD_TRIGGER) == 0)
					ddl_refuse("disable or weaken trigger " GUARD_TRIGGER " of", relid, archive);
				if (archive)
					ddl_refuse("alter", relid, archive);
				break;
			case AT_EnableAlwaysTrig:

				/*
				 * finsec's own triggers made ALWAYS (protect_table,
				 * pg_restore)
				 */
				if (archive && (cmd->name == NULL || strncmp(cmd->name, "finsec_", 7) != 0))
					ddl_refuse("alter", relid, archive);
				break;
			case AT_ChangeOwner:
				/* pg_restore names the owner it has: finsec's, no change */
				if (archive &&
					get_rolespec_oid(cmd->newowner, true) != finsec_owner())
					ddl_refuse("change the owner of", relid, archive);
				break;
			default:
				if (archive)
					ddl_refuse("alter", relid, archive);
				break;
		}
	}
}

/*
 * The DDL guard: ALTER TABLE, renames, policies, rules, triggers on archive
 * tables, and DROP TRIGGER finsec_credit_guard; only checks, then the rest.
 */
static void
credit_ProcessUtility(FinsecUtilityCall *call)
{
	Node	   *stmt = call->pstmt->utilityStmt;

	if (IsTransactionState() && own_archive_ddl == 0)
	{
		if (IsA(stmt, AlterTableStmt))
			check_alter((AlterTableStmt *) stmt);
		else if (IsA(stmt, RenameStmt))
		{
			RenameStmt *rs = (RenameStmt *) stmt;
			Oid			relid = rs->relation ? RangeVarGetRelid(rs->relation, NoLock, true) : InvalidOid;

			if (OidIsValid(relid) && (is_archive_table(relid) ||
									  (rs->renameType == OBJECT_COLUMN &&
									   finsec_credit_is_registered(relid))))
				ddl_refuse(rs->renameType == OBJECT_COLUMN ? "rename a column of" : "rename",
						   relid, is_archive_table(relid));
			if (OidIsValid(relid) && rs->renameType == OBJECT_TRIGGER && rs->subname &&
				strcmp(rs->subname, GUARD_TRIGGER) == 0 && finsec_credit_is_registered(relid))
				ddl_refuse("rename trigger " GUARD_TRIGGER " of", relid, false);
		}
		else if (IsA(stmt, DropStmt) && ((DropStmt *) stmt)->removeType == OBJECT_TRIGGER)
		{
			ListCell   *lc;

			/* each object: the table's qualified name, then the trigger's */
			foreach(lc, ((DropStmt *) stmt)->objects)
			{
				List	   *names = (List *) lfirst(lc);
				RangeVar   *rv;
				Oid			relid;

				if (list_length(names) < 2 ||
					strcmp(strVal(llast(names)), GUARD_TRIGGER) != 0)
					continue;
				rv = makeRangeVarFromNameList(list_truncate(list_copy(names), list_length(names) - 1));
				relid = RangeVarGetRelid(rv, NoLock, true);
				if (finsec_credit_is_registered(relid))
					ddl_refuse("drop trigger " GUARD_TRIGGER " of", relid, false);
			}
		}
		else if (IsA(stmt, CreatePolicyStmt))
		{
			CreatePolicyStmt *ps = (CreatePolicyStmt *) stmt;
			Oid			relid = RangeVarGetRelid(ps->table, NoLock, true);

			if (finsec_credit_is_registered(relid) || is_archive_table(relid))
				ddl_refuse("create a policy on", relid, is_archive_table(relid));
		}
		else if (IsA(stmt, CreateTrigStmt))
		{
			CreateTrigStmt *ts = (CreateTrigStmt *) stmt;
			Oid			relid = RangeVarGetRelid(ts->relation, NoLock, true);

			/* finsec's own trigger names are audit's to check */
			if (is_archive_table(relid) && ts->trigname &&
				strncmp(ts->trigname, "finsec_", 7) != 0)
				ddl_refuse("create a trigger on", relid, true);
		}
		else if (IsA(stmt, RuleStmt))
		{
			RuleStmt   *rs = (RuleStmt *) stmt;
			Oid			relid = RangeVarGetRelid(rs->relation, NoLock, true);

			if (finsec_credit_is_registered(relid) || is_archive_table(relid))
				ddl_refuse("create a rule on", relid, is_archive_table(relid));
		}
	}
	if (IsTransactionState() && IsA(stmt, CopyStmt) && ((CopyStmt *) stmt)->is_from &&
		((CopyStmt *) stmt)->relation != NULL)
	{
		Oid			relid = RangeVarGetRelid(((CopyStmt *) stmt)->relation, NoLock, true);

		if (finsec_credit_is_registered(relid) && superuser())
		{
			/*
			 * pg_restore reloads a registered table's rows, expired ones
			 * included (their periods may be shredded): the insert guard lets
			 * a superuser's COPY FROM pass, recorded.
			 */
			Oid			save = restore_relid;

			finsec_audit_event_durable("credit.restore_load", finsec_quoted_relname(relid), "copy", true,
									   "COPY FROM into a registered credit table by a superuser (restore): the insert guard passes its rows",
									   NULL);
			restore_relid = relid;
			PG_TRY();
			{
				finsec_hooks_utility_next(call);
			}
			PG_FINALLY();
			{
				restore_relid = save;
			}
			PG_END_TRY();
			return;
		}
		if (is_archive_table(relid))
		{
			/*
			 * pg_restore loads an archive table with COPY FROM as a
			 * superuser: allowed (and recorded); anyone else is refused by
			 * the write check.
			 */
			if (!superuser())
				ddl_refuse("copy into", relid, true);
			finsec_audit_event_durable("credit.archive_load", finsec_quoted_relname(relid), "copy", true,
									   "COPY FROM into an archive table by a superuser (restore)", NULL);
			archive_copy_from++;
			PG_TRY();
			{
				finsec_hooks_utility_next(call);
			}
			PG_FINALLY();
			{
				archive_copy_from--;
			}
			PG_END_TRY();
			return;
		}
	}
	finsec_hooks_utility_next(call);
}

/* ---- insert guard ------------------------------------------------------ */

/* Today in finsec.deid_timezone (default Asia/Shanghai). */
static DateADT
credit_today(void)
{
	const char *tz = GetConfigOption("finsec.deid_timezone", true, false);
	Datum		local;

	if (tz == NULL || tz[0] == '\0')
		tz = "Asia/Shanghai";
	local = DirectFunctionCall2(timestamptz_zone, CStringGetTextDatum(tz),
								TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()));
	return DatumGetDateADT(DirectFunctionCall1(timestamp_date, local));
}

static void
check_institution(const FinsecCreditTable *t, HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	Datum		v = heap_getattr(tup, t->institution_attnum, desc, &isnull);
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	FinsecOwnerContext ctx;
	int			ret;
	bool		ok;

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_INSTITUTION),
				 errmsg("a record of %s names no providing institution", finsec_quoted_relname(t->relid)),
				 errhint("Set the institution column to the code of an active provider (finsec.credit_institution).")));
	values[0] = v;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	finsec_begin_owner(&ctx);
	ret = SPI_execute_with_args("SELECT 1 FROM finsec.credit_institution "
								" WHERE code OPERATOR(pg_catalog.=) $1::pg_catalog.text "
								"   AND status OPERATOR(pg_catalog.=) 'active' "
								"   AND kind OPERATOR(pg_catalog.<>) 'user'",
								1, argtypes, values, NULL, true, 1);
	finsec_end_owner(&ctx);
	ok = ret == SPI_OK_SELECT && SPI_processed > 0;
	SPI_finish();
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_INSTITUTION),
				 errmsg("a record of %s names an institution that is not an active provider",
						finsec_quoted_relname(t->relid)),
				 errhint("Only institutions registered as providers with status active (finsec.credit_institution) submit records.")));
}

PG_FUNCTION_INFO_V1(finsec_credit_guard);

/*
 * Trigger finsec_credit_guard, BEFORE INSERT FOR EACH ROW, ENABLE ALWAYS:
 * a record whose own retention has already ended (behaviour_end +
 * retention < today) is refused (it would never be queried and could race
 * its period's batch), and so is one whose institution is not an active
 * provider.  A table no longer registered passes its rows.
 */
Datum
finsec_credit_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	const FinsecCreditTable *t;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		be;
	Timestamp	expiry;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("finsec_credit_guard must run BEFORE INSERT FOR EACH ROW")));
	tup = td->tg_trigtuple;
	desc = RelationGetDescr(td->tg_relation);
	t = finsec_credit_table(RelationGetRelid(td->tg_relation));
	if (t == NULL || (OidIsValid(restore_relid) && restore_relid == t->relid))
		return PointerGetDatum(tup);
	be = heap_getattr(tup, t->behaviour_end_attnum, desc, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("a record of %s has no behaviour end", finsec_quoted_relname(t->relid))));
	expiry = DatumGetTimestamp(DirectFunctionCall2(date_pl_interval, be,
												   IntervalPGetDatum(&t->retention)));
	if (expiry < date2timestamp_no_overflow(credit_today()))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_EXPIRED),
				 errmsg("a record of %s is refused: its retention ended before it arrived",
						finsec_quoted_relname(t->relid)),
				 errdetail("Its behaviour ended on %s; records are kept for the retention from that day only.",
						   DatumGetCString(DirectFunctionCall1(date_out, be))),
				 errhint("Do not load records whose retention has ended (征信业管理条例 art. 16).")));
	if (t->institution_attnum > 0)
		check_institution(t, tup, desc);
	return PointerGetDatum(tup);
}

PG_FUNCTION_INFO_V1(finsec_credit_guard_sync);

/*
 * finsec._credit_guard_sync(tbl): create the trigger finsec_credit_guard
 * on tbl as the current user, who must own it (register_credit_table).
 */
Datum
finsec_credit_guard_sync(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *qname;
	int			ret;

	if (PG_ARGISNULL(0))
		PG_RETURN_VOID();
	relid = PG_GETARG_OID(0);
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(relid));
	qname = finsec_quoted_relname(relid);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	finsec_own_trigger_ddl_begin();
	PG_TRY();
	{
		ret = SPI_execute(psprintf("CREATE TRIGGER " GUARD_TRIGGER " BEFORE INSERT ON %s "
								   "FOR EACH ROW EXECUTE FUNCTION finsec._credit_guard(); "
								   "ALTER TABLE %s ENABLE ALWAYS TRIGGER " GUARD_TRIGGER,
								   qname, qname), false, 0);
		if (ret < 0)
			elog(ERROR, "could not create trigger " GUARD_TRIGGER ": %s", SPI_result_code_string(ret));
	}
	PG_FINALLY();
	{
		finsec_own_trigger_ddl_end();
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(finsec_credit_archive_protect);

/*
 * finsec._credit_archive_protect(archive regclass): protect_table() of a
 * new archive table, with finsec's own DDL let through the archive guard
 * (protect_table adds finsec_txid and finsec_seq).  Only in finsec_archive.
 */
Datum
finsec_credit_archive_protect(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Oid			argtypes[1] = {REGCLASSOID};
	Datum		values[1];
	int			ret;

	if (PG_ARGISNULL(0))
		PG_RETURN_VOID();
	relid = PG_GETARG_OID(0);
	if (!is_archive_table(relid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s is not a table of schema finsec_archive", finsec_quoted_relname(relid))));
	values[0] = ObjectIdGetDatum(relid);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	own_archive_ddl++;
	PG_TRY();
	{
		ret = SPI_execute_with_args("SELECT finsec.protect_table($1)", 1, argtypes, values, NULL, false, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not protect the archive table: %s", SPI_result_code_string(ret));
	}
	PG_FINALLY();
	{
		own_archive_ddl--;
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_VOID();
}

/* Hooks of registered tables (register.c's init). */
void
finsec_credit_guard_init(void)
{
	finsec_hooks_register_check_perms(FINSEC_CHECK_PERMS_CREDIT, credit_check_perms);
	finsec_hooks_register_utility(FINSEC_UTILITY_CREDIT, credit_ProcessUtility);
}
