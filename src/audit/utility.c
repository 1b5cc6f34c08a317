/*-------------------------------------------------------------------------
 *
 * utility.c
 *	  The ProcessUtility hook that keeps protected tables protected.
 *
 * Row triggers stop UPDATE, DELETE and TRUNCATE; this hook stops the DDL
 * that would remove or defeat them, for everyone, superusers included:
 * dropping, truncating or altering a protected table (beyond adding a
 * nullable column or an index), disabling, dropping or replacing finsec's
 * triggers on it, renaming its finsec columns, resetting its finsec
 * sequence, dropping the schema or role that owns it, and dropping the
 * extension while the ledger holds evidence.  finsec's own scripts and
 * functions pass (creating_extension for finsec, or an internal write).
 *
 * What a superuser can still do (edit catalogs or files directly, load
 * other code, start the server without finsec) is beyond any hook; such
 * tampering is detected by finsec.audit_verify() and the auditor's digest.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "commands/user.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_auth.h"
#include "ledger_internal.h"

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

static void
refuse(const char *what, const char *relname)
{
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_LEDGER_PROTECTED),
			 errmsg("cannot %s protected table \"%s\"", what, relname),
			 errdetail("Protected tables are append-only, hash-chained audit evidence."),
			 errhint("Rows older than finsec.audit_retention are removed with finsec.audit_purge(); see docs/audit.md.")));
}

static Oid
protected_rangevar(RangeVar *rv)
{
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);

	return (OidIsValid(relid) && finsec_is_protected_relation(relid)) ? relid : InvalidOid;
}

/*
 * Every protected relation in the database, found by finsec's trigger name,
 * in OID order (creation order, finsec.audit first), so that refusals name
 * the same table whatever the physical order of pg_trigger.
 */
static List *
all_protected(void)
{
	Relation	trig = table_open(TriggerRelationId, AccessShareLock);
	SysScanDesc scan = systable_beginscan(trig, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tup;
	List	   *result = NIL;

	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_trigger t = (Form_pg_trigger) GETSTRUCT(tup);

		if (strcmp(NameStr(t->tgname), FINSEC_IMMUTABLE_TRIGGER) == 0)
			result = list_append_unique_oid(result, t->tgrelid);
	}
	systable_endscan(scan);
	table_close(trig, AccessShareLock);
	list_sort(result, list_oid_cmp);
	return result;
}

static bool
ledger_has_rows(void)
{
	Oid			nsp = get_namespace_oid("finsec", true);
	Oid			audit = OidIsValid(nsp) ? get_relname_relid("audit", nsp) : InvalidOid;
	bool		result;

	if (!OidIsValid(audit))
		return false;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute("SELECT 1 FROM finsec.audit LIMIT 1", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read finsec.audit");
	result = SPI_processed > 0;
	PopActiveSnapshot();
	SPI_finish();
	return result;
}

static bool
is_finsec_trigger_name(const char *name)
{
	return strcmp(name, FINSEC_STAMP_TRIGGER) == 0 ||
		strcmp(name, FINSEC_IMMUTABLE_TRIGGER) == 0 ||
		strcmp(name, FINSEC_TRUNCATE_TRIGGER) == 0;
}

static bool
alter_table_cmd_allowed(AlterTableCmd *cmd)
{
	switch (cmd->subtype)
	{
		case AT_AddColumn:
			{
				/* A nullable column without a default leaves row hashes unchanged. */
				ColumnDef  *def = (ColumnDef *) cmd->def;

				return def->raw_default == NULL && def->cooked_default == NULL &&
					def->constraints == NIL && !def->is_not_null &&
					def->identity == 0 && def->generated == 0;
			}
		case AT_EnableAlwaysTrig:
			return true;		/* only ever strengthens; pg_restore issues it */
		case AT_EnableTrig:
		case AT_EnableReplicaTrig:
		case AT_DisableTrig:
			/* the application's own triggers are its business; finsec's are not */
			return cmd->name != NULL && !is_finsec_trigger_name(cmd->name);
		case AT_SetStatistics:
		case AT_SetOptions:
		case AT_ResetOptions:
		case AT_SetRelOptions:
		case AT_ResetRelOptions:
		case AT_ReplaceRelOptions:
		case AT_ChangeOwner:
		case AT_ClusterOn:
		case AT_DropCluster:
		case AT_AddIndex:
		case AT_AddConstraint:
		case AT_ValidateConstraint:
		case AT_ReplicaIdentity:
			return true;
		default:
			return false;
	}
}

static void
check_drop(DropStmt *stmt)
{
	ListCell   *lc;

	switch (stmt->removeType)
	{
		case OBJECT_TABLE:
			foreach(lc, stmt->objects)
			{
				RangeVar   *rv = makeRangeVarFromNameList((List *) lfirst(lc));
				Oid			relid = protected_rangevar(rv);

				if (OidIsValid(relid))
					refuse("drop", get_rel_name(relid));
			}
			break;
		case OBJECT_TRIGGER:
			foreach(lc, stmt->objects)
			{
				List	   *names = (List *) lfirst(lc);
				char	   *trigname = strVal(llast(names));
				RangeVar   *rv = makeRangeVarFromNameList(list_truncate(list_copy(names),
																		list_length(names) - 1));
				Oid			relid = protected_rangevar(rv);

				if (OidIsValid(relid) && is_finsec_trigger_name(trigname))
					refuse("drop a finsec trigger of", get_rel_name(relid));
			}
			break;
		case OBJECT_SCHEMA:
			foreach(lc, stmt->objects)
			{
				Oid			nsp = get_namespace_oid(strVal(lfirst(lc)), true);
				ListCell   *lc2;

				if (!OidIsValid(nsp))
					continue;
				foreach(lc2, all_protected())
					if (get_rel_namespace(lfirst_oid(lc2)) == nsp)
						refuse("drop the schema of", get_rel_name(lfirst_oid(lc2)));
			}
			break;
		case OBJECT_EXTENSION:
			foreach(lc, stmt->objects)
			{
				if (strcmp(strVal(lfirst(lc)), "finsec") != 0)
					continue;
				if (ledger_has_rows())
					ereport(ERROR,
							(errcode(ERRCODE_FINSEC_LEDGER_PROTECTED),
							 errmsg("cannot drop extension finsec while its audit ledger holds records"),
							 errdetail("Dropping the extension would drop finsec.audit."),
							 errhint("Records are kept at least finsec.audit_retention; purge expired periods with finsec.audit_purge().")));
				{
					Oid			audit = get_relname_relid("audit", get_namespace_oid("finsec", true));
					ListCell   *lc2;

					foreach(lc2, all_protected())
						if (lfirst_oid(lc2) != audit &&
							get_rel_namespace(lfirst_oid(lc2)) != get_namespace_oid("finsec", true))
							refuse("drop extension finsec, which guards", get_rel_name(lfirst_oid(lc2)));
				}
			}
			break;
		default:
			break;
	}
}

static void
check_statement(Node *parsetree)
{
	switch (nodeTag(parsetree))
	{
		case T_DropStmt:
			check_drop((DropStmt *) parsetree);
			break;

		case T_TruncateStmt:
			{
				ListCell   *lc;

				foreach(lc, ((TruncateStmt *) parsetree)->relations)
				{
					Oid			relid = protected_rangevar((RangeVar *) lfirst(lc));

					if (OidIsValid(relid))
						refuse("truncate", get_rel_name(relid));
				}
				break;
			}

		case T_AlterTableStmt:
			{
				AlterTableStmt *stmt = (AlterTableStmt *) parsetree;
				Oid			relid;
				ListCell   *lc;

				if (stmt->objtype != OBJECT_TABLE)
					break;
				relid = protected_rangevar(stmt->relation);
				if (!OidIsValid(relid))
					break;
				foreach(lc, stmt->cmds)
					if (!alter_table_cmd_allowed((AlterTableCmd *) lfirst(lc)))
						refuse("alter", get_rel_name(relid));
				break;
			}

		case T_RenameStmt:
			{
				RenameStmt *stmt = (RenameStmt *) parsetree;
				Oid			relid;

				if (stmt->renameType != OBJECT_TRIGGER && stmt->renameType != OBJECT_COLUMN)
					break;
				relid = stmt->relation ? protected_rangevar(stmt->relation) : InvalidOid;
				if (!OidIsValid(relid))
					break;
				if (stmt->renameType == OBJECT_TRIGGER && is_finsec_trigger_name(stmt->subname))
					refuse("rename a finsec trigger of", get_rel_name(relid));
				if (stmt->renameType == OBJECT_COLUMN &&
					(strcmp(stmt->subname, FINSEC_TXID_COLUMN) == 0 ||
					 strcmp(stmt->subname, FINSEC_SEQ_COLUMN) == 0))
					refuse("rename a finsec column of", get_rel_name(relid));
				break;
			}

		case T_CreateTrigStmt:
			{
				CreateTrigStmt *stmt = (CreateTrigStmt *) parsetree;
				Oid			relid = protected_rangevar(stmt->relation);

				if (OidIsValid(relid) && stmt->replace && is_finsec_trigger_name(stmt->trigname))
					refuse("replace a finsec trigger of", get_rel_name(relid));
				break;
			}

		case T_AlterSeqStmt:
			{
				AlterSeqStmt *stmt = (AlterSeqStmt *) parsetree;
				Oid			seqid = RangeVarGetRelid(stmt->sequence, NoLock, true);
				Oid			tableid;
				int32		colid;

				if (OidIsValid(seqid) &&
					sequenceIsOwned(seqid, DEPENDENCY_AUTO, &tableid, &colid) &&
					finsec_is_protected_relation(tableid) &&
					strcmp(get_attname(tableid, colid, false), FINSEC_SEQ_COLUMN) == 0)
					refuse("alter the finsec sequence of", get_rel_name(tableid));
				break;
			}

		case T_DropOwnedStmt:
			{
				List	   *roles = roleSpecsToIds(((DropOwnedStmt *) parsetree)->roles);
				ListCell   *lc;

				foreach(lc, all_protected())
				{
					HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(lfirst_oid(lc)));

					if (HeapTupleIsValid(tup))
					{
						Oid			owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;

						ReleaseSysCache(tup);
						if (list_member_oid(roles, owner))
							refuse("drop the owner's objects, which include", get_rel_name(lfirst_oid(lc)));
					}
				}
				break;
			}

		default:
			break;
	}
}

static void
next_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					bool readOnlyTree, ProcessUtilityContext context,
					ParamListInfo params, QueryEnvironment *queryEnv,
					DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
							queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

static void
finsec_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					  bool readOnlyTree, ProcessUtilityContext context,
					  ParamListInfo params, QueryEnvironment *queryEnv,
					  DestReceiver *dest, QueryCompletion *qc)
{
	bool		own_script = creating_extension &&
		CurrentExtensionObject == get_extension_oid("finsec", true);

	Node	   *parsetree = pstmt->utilityStmt;
	bool		role_stmt = IsA(parsetree, CreateRoleStmt) || IsA(parsetree, AlterRoleStmt);

	if (!finsec_ledger_internal_write && !own_script && IsTransactionState())
		check_statement(parsetree);

	if (!role_stmt)
	{
		next_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
							queryEnv, dest, qc);
		/* Password history follows its role. */
		if (IsA(parsetree, DropRoleStmt) ||
			(IsA(parsetree, RenameStmt) && ((RenameStmt *) parsetree)->renameType == OBJECT_ROLE))
			finsec_password_history_follow(parsetree);
		return;
	}

	/* Role statements: password policy state lives for the statement only. */
	finsec_auth_before_utility(parsetree);
	PG_TRY();
	{
		next_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
							queryEnv, dest, qc);
	}
	PG_CATCH();
	{
		finsec_auth_utility_cleanup();
		PG_RE_THROW();
	}
	PG_END_TRY();
	finsec_auth_after_utility(parsetree);
}

void
finsec_audit_init_hooks(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = finsec_ProcessUtility;
}
