/*-------------------------------------------------------------------------
 *
 * utility.c
 *	  The ProcessUtility hook that keeps protected tables protected.
 *
 * Row triggers stop UPDATE, DELETE and TRUNCATE; this hook stops the DDL
 * that would remove or defeat them, for everyone, superusers included:
 * dropping, truncating or altering a protected table (beyond adding a
 * nullable column or an index), renaming or moving it, putting a rule on
 * it, making it part of an inheritance tree or a partition, reaching it
 * through a parent's recursive ALTER TABLE, disabling, dropping or
 * replacing finsec's triggers on it, renaming its finsec columns, resetting
 * its finsec sequence, dropping the schema or role that owns it or
 * renaming its schema, and dropping the extension while the ledger holds
 * evidence.  It also keeps finsec's own objects as its scripts made them:
 * no CREATE OR REPLACE or ALTER of its functions, no new owner, name or
 * schema for any of its objects, no rule or trigger on its tables, no
 * ALTER EXTENSION finsec ADD/DROP.  Only finsec's own scripts pass
 * (creating_extension for finsec).
 *
 * Behind it, an object-access hook refuses the drop of a protected table,
 * of one of its columns, of finsec's triggers or sequence on it, and of
 * finsec's functions, however the drop is reached (DROP ... CASCADE of a
 * parent, a type, a schema or another extension; DROP OWNED).
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
#include "access/relation.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_event_trigger.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_cast.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_transform.h"
#include "catalog/pg_type.h"
#include "access/xact.h"
#include "parser/parse_type.h"
#include "catalog/pg_trigger.h"
#include "commands/event_trigger.h"
#include "commands/user.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parse_func.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_hooks.h"
#include "finsec_owner.h"
#include "finsec_trigger.h"
#include "ledger_internal.h"

/*
 * True while finsec's own SQL makes a partition of one of its partitioned
 * tables (risk_log_maintain: finsec.risk_decision_log_pYYYYMMDD), which goes
 * in schema finsec with its row type and indexes.
 */
static bool creating_finsec_partition = false;

/* True while an allowed DROP EXTENSION finsec runs. */
static bool dropping_finsec = false;

/*
 * Depth of finsec's own CREATE TRIGGER statements (protect_table,
 * enable_limits, the guards): only they create triggers named finsec_* or
 * running finsec's trigger functions.  Reset when a (sub)transaction aborts.
 */
static int	own_trigger_ddl = 0;

void
finsec_own_trigger_ddl_begin(void)
{
	own_trigger_ddl++;
}

void
finsec_own_trigger_ddl_end(void)
{
	if (own_trigger_ddl > 0)
		own_trigger_ddl--;
}

static void
own_trigger_xact(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		own_trigger_ddl = 0;
}

static void
own_trigger_subxact(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		own_trigger_ddl = 0;
}

static bool
in_own_script(void)
{
	return creating_extension &&
		CurrentExtensionObject == get_extension_oid("finsec", true);
}

/* Whether the object is a member of extension finsec, or its schema. */
static bool
is_finsec_member(Oid classId, Oid objectId)
{
	Oid			ext = get_extension_oid("finsec", true);

	if (!OidIsValid(ext) || !OidIsValid(objectId))
		return false;
	/* the control file fixes the schema: finsec, not relocatable */
	if (classId == NamespaceRelationId && objectId == get_namespace_oid("finsec", true))
		return true;
	return getExtensionOfObject(classId, objectId) == ext;
}

static void
refuse_member(const char *what, Oid classId, Oid objectId)
{
	ObjectAddress addr;

	addr.classId = classId;
	addr.objectId = objectId;
	addr.objectSubId = 0;
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_OBJECT_PROTECTED),
			 errmsg("cannot %s %s, which belongs to extension finsec", what,
					getObjectDescription(&addr, false)),
			 errdetail("finsec's objects are changed only by its own scripts (CREATE EXTENSION, ALTER EXTENSION finsec UPDATE)."),
			 errhint("See \"The guarantee\" in docs/audit.md.")));
}

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
 * Every protected relation in the database, found by finsec's trigger
 * (its name and finsec.ledger_immutable as its function), in OID order (creation order, finsec.audit first), so that refusals name
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

		if (strcmp(NameStr(t->tgname), FINSEC_IMMUTABLE_TRIGGER) == 0 &&
			finsec_is_ledger_immutable(t->tgfoid))
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

/* The name prefix of finsec's triggers (finsec_ledger_*, finsec_limits, finsec_*_guard). */
#define FINSEC_TRIGGER_PREFIX "finsec_"

static void
refuse_trigger_name(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_OBJECT_PROTECTED),
			 errmsg("trigger name \"%s\" is reserved for finsec", name),
			 errdetail("Triggers named finsec_* are created by finsec's functions only (protect_table, enable_limits, the guards); their names mark protected and limited tables."),
			 errhint("Choose a name that does not start with \"%s\".", FINSEC_TRIGGER_PREFIX)));
}

/*
 * Whether the type named has a default of its own (a domain's DEFAULT,
 * inherited down a chain of domains, a base type's, or serial's); a type that does
 * not exist yet has none (the ALTER TABLE then fails by itself).
 */
static bool
type_has_default(TypeName *typeName)
{
	Type		tup;
	bool		result;

	if (typeName == NULL)
		return false;
	/* serial types are a sequence and a nextval() default (parse_utilcmd.c) */
	if (!typeName->pct_type &&
		(list_length(typeName->names) == 1 ||
		 (list_length(typeName->names) == 2 &&
		  strcmp(strVal(linitial(typeName->names)), "pg_catalog") == 0)))
	{
		const char *name = strVal(llast(typeName->names));

		if (strcmp(name, "smallserial") == 0 || strcmp(name, "serial2") == 0 ||
			strcmp(name, "serial") == 0 || strcmp(name, "serial4") == 0 ||
			strcmp(name, "bigserial") == 0 || strcmp(name, "serial8") == 0)
			return true;
	}
	tup = LookupTypeName(NULL, typeName, NULL, true);
	if (tup == NULL)
		return false;
	result = !heap_attisnull(tup, Anum_pg_type_typdefaultbin, NULL) ||
		!heap_attisnull(tup, Anum_pg_type_typdefault, NULL);
	ReleaseSysCache(tup);
	return result;
}

/* May this ALTER TABLE subcommand run on a protected table without breaking its sealed hashes? */
static bool
alter_table_cmd_allowed(AlterTableCmd *cmd)
{
	switch (cmd->subtype)
	{
		case AT_AddColumn:
			{
				/*
				 * A nullable column without a default leaves row hashes
				 * unchanged (NULL columns contribute nothing, encoding.c). A
				 * type's own default counts as one: a domain's DEFAULT (or a
				 * base type's) fills the column of every existing row, sealed
				 * rows included, whose hashes would then no longer verify.
				 */
				ColumnDef  *def = (ColumnDef *) cmd->def;

				return def->raw_default == NULL && def->cooked_default == NULL &&
					def->constraints == NIL && !def->is_not_null &&
					def->identity == 0 && def->generated == 0 &&
					!type_has_default(def->typeName);
			}
		case AT_EnableAlwaysTrig:
			return true;		/* only ever strengthens; pg_restore issues it */
		case AT_DropInherit:
		case AT_DetachPartition:
		case AT_DetachPartitionFinalize:
			return true;		/* leaving an inheritance tree (one left by
								 * 0.7) */
		case AT_EnableTrig:
		case AT_EnableReplicaTrig:
		case AT_DisableTrig:

			/*
			 * the application's own triggers are its business; finsec's are
			 * not
			 */
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

/* Refuse a DROP of a protected table, of its columns' types, or of finsec's own objects. */
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

/*
 * The protected relation among relid and, when the statement recurses
 * (no ONLY), its inheritance children and partitions; InvalidOid if none.
 * Protected tables cannot join a tree since 0.8, but a 0.7 database may
 * hold one.
 */
static Oid
protected_in_tree(Oid relid, bool recurse)
{
	ListCell   *lc;

	if (!OidIsValid(relid))
		return InvalidOid;
	if (finsec_is_protected_relation(relid))
		return relid;
	if (!recurse || !has_subclass(relid))
		return InvalidOid;
	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
		if (finsec_is_protected_relation(lfirst_oid(lc)))
		return lfirst_oid(lc);
	return InvalidOid;
}

/* A table made to inherit from, or attached as a partition, must not be protected. */
static void
check_inherit_target(RangeVar *rv, const char *what)
{
	Oid			relid = protected_rangevar(rv);

	if (OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_LEDGER_PROTECTED),
				 errmsg("cannot %s protected table \"%s\"", what, get_rel_name(relid)),
				 errdetail("A child's rows would appear in the protected table's scans, and a parent's statements would reach it."),
				 errhint("Protected tables take no part in inheritance or partitioning; see docs/audit.md.")));
}

/*
 * PostgreSQL fires a table's BEFORE triggers in name order; an owner's
 * BEFORE INSERT row trigger named after finsec_ledger_stamp would run after
 * it and could overwrite the stamps.
 */
static void
check_stamp_order(Oid relid, const char *trigname)
{
	if (strcmp(trigname, FINSEC_STAMP_TRIGGER) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_LEDGER_PROTECTED),
				 errmsg("a BEFORE INSERT row trigger on protected table \"%s\" must be named to fire before %s",
						get_rel_name(relid), FINSEC_STAMP_TRIGGER),
				 errdetail("Triggers fire in name order; one firing after finsec's stamping trigger could change the stamps finsec_txid and finsec_seq."),
				 errhint("Choose a name that sorts before \"%s\".", FINSEC_STAMP_TRIGGER)));
}

/* The address of the object a RenameStmt, AlterObjectSchemaStmt or AlterOwnerStmt names. */
static bool
stmt_object(ObjectType type, Node *object, ObjectAddress *addr)
{
	Relation	rel = NULL;

	if (object == NULL)
		return false;
	switch (type)
	{
		case OBJECT_ROLE:
		case OBJECT_DATABASE:
		case OBJECT_TABLESPACE:
		case OBJECT_SUBSCRIPTION:
		case OBJECT_PUBLICATION:
			return false;		/* never a member of finsec */
		default:
			break;
	}
	*addr = get_object_address(type, object, &rel, AccessShareLock, true);
	if (rel)
		relation_close(rel, NoLock);
	return OidIsValid(addr->objectId);
}

/* Refuse a change of a finsec member object through its address. */
static void
check_member_object(ObjectType type, Node *object, const char *what)
{
	ObjectAddress addr;

	if (stmt_object(type, object, &addr) && is_finsec_member(addr.classId, addr.objectId))
		refuse_member(what, addr.classId, addr.objectId);
}

/* A relation named by a statement that is finsec's, or protected. */
static void
check_member_relation(RangeVar *rv, const char *what)
{
	Oid			relid = rv ? RangeVarGetRelid(rv, NoLock, true) : InvalidOid;

	if (OidIsValid(relid) && is_finsec_member(RelationRelationId, relid))
		refuse_member(what, RelationRelationId, relid);
}

static void
check_schema_rename(const char *nspname)
{
	Oid			nsp = get_namespace_oid(nspname, true);
	ListCell   *lc;

	if (!OidIsValid(nsp))
		return;
	if (is_finsec_member(NamespaceRelationId, nsp))
		refuse_member("rename", NamespaceRelationId, nsp);
	foreach(lc, all_protected())
		if (get_rel_namespace(lfirst_oid(lc)) == nsp)
		refuse("rename the schema of", get_rel_name(lfirst_oid(lc)));
}

/* CREATE OR REPLACE FUNCTION/PROCEDURE of a name finsec's functions have. */
static void
check_function_replace(CreateFunctionStmt *stmt)
{
	char	   *fname;
	Oid			nsp;
	CatCList   *list;
	int			i;

	if (!stmt->replace)
		return;
	nsp = QualifiedNameGetCreationNamespace(stmt->funcname, &fname);
	list = SearchSysCacheList1(PROCNAMEARGSNSP, CStringGetDatum(fname));
	for (i = 0; i < list->n_members; i++)
	{
		HeapTuple	tup = &list->members[i]->tuple;
		Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(tup);

		if (proc->pronamespace == nsp && is_finsec_member(ProcedureRelationId, proc->oid))
		{
			Oid			oid = proc->oid;

			ReleaseSysCacheList(list);
			refuse_member("replace", ProcedureRelationId, oid);
		}
	}
	ReleaseSysCacheList(list);
}

static void
check_alter_table(AlterTableStmt *stmt)
{
	Oid			relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	Oid			target;
	ListCell   *lc;

	if (!OidIsValid(relid))
		return;
	if (stmt->objtype != OBJECT_TABLE && stmt->objtype != OBJECT_FOREIGN_TABLE)
		return;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = (AlterTableCmd *) lfirst(lc);

		if (cmd->subtype == AT_AttachPartition)
			check_inherit_target(((PartitionCmd *) cmd->def)->name, "attach as a partition");
		else if (cmd->subtype == AT_AddInherit)
			check_inherit_target((RangeVar *) cmd->def, "inherit from");
		else if (cmd->subtype == AT_ChangeOwner &&
				 is_finsec_member(RelationRelationId, relid))
			refuse_member("change the owner of", RelationRelationId, relid);
	}

	/* The protected table itself or, without ONLY, one below it. */
	target = protected_in_tree(relid, stmt->relation->inh);
	if (!OidIsValid(target))
		return;
	foreach(lc, stmt->cmds)
		if (!alter_table_cmd_allowed((AlterTableCmd *) lfirst(lc)))
		refuse("alter", get_rel_name(target));
}

static void check_protected_rename(RenameStmt *stmt, Oid relid);

static void
check_rename(RenameStmt *stmt)
{
	Oid			relid;

	if (stmt->renameType == OBJECT_SCHEMA)
	{
		check_schema_rename(stmt->subname);
		return;
	}
	if (stmt->relation == NULL)
	{
		check_member_object(stmt->renameType, stmt->object, "rename");
		return;
	}

	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid))
		return;
	if (stmt->renameType == OBJECT_TRIGGER && stmt->newname &&
		strncmp(stmt->newname, FINSEC_TRIGGER_PREFIX, strlen(FINSEC_TRIGGER_PREFIX)) == 0)
		refuse_trigger_name(stmt->newname);
	if (finsec_is_protected_relation(relid))
		check_protected_rename(stmt, relid);

	/*
	 * finsec's tables, their columns, triggers and constraints keep their
	 * names
	 */
	if (is_finsec_member(RelationRelationId, relid))
		refuse_member(stmt->renameType == OBJECT_COLUMN ? "rename a column of" :
					  stmt->renameType == OBJECT_TRIGGER ? "rename a trigger of" :
					  stmt->renameType == OBJECT_TABCONSTRAINT ? "rename a constraint of" :
					  stmt->renameType == OBJECT_RULE ? "rename a rule of" :
					  stmt->renameType == OBJECT_POLICY ? "rename a policy of" : "rename",
					  RelationRelationId, relid);
}

static void
check_protected_rename(RenameStmt *stmt, Oid relid)
{
	switch (stmt->renameType)
	{
		case OBJECT_TABLE:
		case OBJECT_VIEW:
		case OBJECT_MATVIEW:
		case OBJECT_FOREIGN_TABLE:
		case OBJECT_INDEX:
		case OBJECT_SEQUENCE:
			/* a new table under the old name would take the writes */
			refuse("rename", get_rel_name(relid));
			break;
		case OBJECT_TRIGGER:
			if (is_finsec_trigger_name(stmt->subname))
				refuse("rename a finsec trigger of", get_rel_name(relid));
			if (finsec_is_before_insert_row_trigger(relid, stmt->subname))
				check_stamp_order(relid, stmt->newname);
			break;
		case OBJECT_COLUMN:
			if (strcmp(stmt->subname, FINSEC_TXID_COLUMN) == 0 ||
				strcmp(stmt->subname, FINSEC_SEQ_COLUMN) == 0)
				refuse("rename a finsec column of", get_rel_name(relid));
			break;
		default:
			break;
	}
}

/*
 * CREATE TRIGGER outside finsec's own functions: no finsec_* name, and none
 * of finsec's trigger functions, which finsec attaches itself.
 */
/*
 * A trigger of finsec's, as pg_restore recreates it: its name, finsec's
 * function for that name, and a table that finsec's restored registry
 * holds for it (a chain in finsec.ledger_chain, a row of limit_table,
 * order_guard or refund_guard).  pg_restore loads the registry (table data)
 * before the triggers (post-data).
 */
static bool
restored_finsec_trigger(CreateTrigStmt *stmt)
{
	static const struct
	{
		const char *trigger;
		const char *function;
		const char *registry;
	}			known[] = {
		{FINSEC_STAMP_TRIGGER, "ledger_stamp", "ledger_chain"},
		{FINSEC_IMMUTABLE_TRIGGER, "ledger_immutable", "ledger_chain"},
		{FINSEC_TRUNCATE_TRIGGER, "ledger_immutable", "ledger_chain"},
		{"finsec_limits", "limit_trigger", "limit_table"},
		{"finsec_order_guard", "order_guard_trigger", "order_guard"},
		{"finsec_refund_guard", "refund_guard_trigger", "refund_guard"},
		{"finsec_monitor_stamp", "monitor_stamp", "monitor_table"},
		{"finsec_protect_period", "_protect_period_trigger", "protect_period_column"},
		{"finsec_credit_guard", "_credit_guard", "credit_table"},
	};
	Oid			funcid;
	Oid			relid;
	char	   *fname;
	int			i;
	bool		found = false;

	if (stmt->trigname == NULL || stmt->relation == NULL || stmt->isconstraint)
		return false;
	funcid = LookupFuncName(stmt->funcname, 0, NULL, true);
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(funcid) || !OidIsValid(relid) || !finsec_is_own_function(funcid))
		return false;
	fname = get_func_name(funcid);
	for (i = 0; i < lengthof(known); i++)
	{
		FinsecOwnerContext ctx;
		Oid			argtypes[1] = {OIDOID};
		Datum		values[1];
		int			ret;

		if (strcmp(stmt->trigname, known[i].trigger) != 0 || fname == NULL ||
			strcmp(fname, known[i].function) != 0)
			continue;
		values[0] = ObjectIdGetDatum(relid);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		PushActiveSnapshot(GetTransactionSnapshot());
		finsec_begin_owner(&ctx);
		ret = SPI_execute_with_args(psprintf("SELECT 1 FROM finsec.%s WHERE relid OPERATOR(pg_catalog.=) $1",
											 known[i].registry),
									1, argtypes, values, NULL, true, 1);
		finsec_end_owner(&ctx);
		found = ret == SPI_OK_SELECT && SPI_processed > 0;
		PopActiveSnapshot();
		SPI_finish();
		break;
	}
	return found;
}

static void
check_trigger_name_and_function(CreateTrigStmt *stmt)
{
	Oid			funcid;

	if (own_trigger_ddl > 0 || restored_finsec_trigger(stmt))
		return;
	if (stmt->trigname &&
		strncmp(stmt->trigname, FINSEC_TRIGGER_PREFIX, strlen(FINSEC_TRIGGER_PREFIX)) == 0)
		refuse_trigger_name(stmt->trigname);
	funcid = LookupFuncName(stmt->funcname, 0, NULL, true);
	if (OidIsValid(funcid) && finsec_is_own_function(funcid))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_OBJECT_PROTECTED),
				 errmsg("cannot create a trigger that runs %s, which belongs to extension finsec",
						format_procedure(funcid)),
				 errdetail("finsec attaches its trigger functions itself (protect_table, enable_limits, the guards)."),
				 errhint("Call the finsec function that sets up the protection you want.")));
}

static void
refuse_new_in_finsec(const char *what, const ObjectAddress *unused)
{
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_OBJECT_PROTECTED),
			 errmsg("cannot %s", what),
			 errdetail("Schema finsec and finsec's types and functions hold only what the extension's scripts made; a new function, operator, type, table or cast there could capture finsec's own calls."),
			 errhint("Create the object in another schema.")));
}

/* Refuse a utility statement that would remove, rewrite or bypass the protection of a protected table or of finsec's objects. */
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
					RangeVar   *rv = (RangeVar *) lfirst(lc);
					Oid			relid = protected_in_tree(RangeVarGetRelid(rv, NoLock, true), rv->inh);

					if (OidIsValid(relid))
						refuse("truncate", get_rel_name(relid));
				}
				break;
			}

		case T_AlterTableStmt:
			check_alter_table((AlterTableStmt *) parsetree);
			break;

		case T_CreateStmt:
		case T_CreateForeignTableStmt:
			{
				/*
				 * CREATE TABLE ... INHERITS (protected) / PARTITION OF
				 * protected
				 */
				ListCell   *lc;

				foreach(lc, ((CreateStmt *) parsetree)->inhRelations)
					check_inherit_target((RangeVar *) lfirst(lc),
										 ((CreateStmt *) parsetree)->partbound
										 ? "create a partition of" : "inherit from");
				break;
			}

		case T_RenameStmt:
			check_rename((RenameStmt *) parsetree);
			break;

		case T_AlterObjectSchemaStmt:
			{
				AlterObjectSchemaStmt *stmt = (AlterObjectSchemaStmt *) parsetree;

				if (stmt->newschema && strcmp(stmt->newschema, "finsec") == 0 &&
					OidIsValid(get_namespace_oid("finsec", true)))
					refuse_new_in_finsec("move an object into schema finsec", NULL);
				if (stmt->relation)
				{
					Oid			relid = RangeVarGetRelid(stmt->relation, NoLock, true);

					check_member_relation(stmt->relation, "move");
					if (OidIsValid(relid) && finsec_is_protected_relation(relid))
						refuse("move", get_rel_name(relid));
				}
				else
					check_member_object(stmt->objectType, stmt->object, "move");
				break;
			}

		case T_AlterOwnerStmt:
			{
				AlterOwnerStmt *stmt = (AlterOwnerStmt *) parsetree;

				if (stmt->relation)
					check_member_relation(stmt->relation, "change the owner of");
				else
					check_member_object(stmt->objectType, stmt->object, "change the owner of");
				break;
			}

		case T_AlterFunctionStmt:
			{
				AlterFunctionStmt *stmt = (AlterFunctionStmt *) parsetree;
				Oid			funcid = LookupFuncWithArgs(stmt->objtype, stmt->func, true);

				if (OidIsValid(funcid) && is_finsec_member(ProcedureRelationId, funcid))
					refuse_member("alter", ProcedureRelationId, funcid);
				break;
			}

		case T_CreateFunctionStmt:
			check_function_replace((CreateFunctionStmt *) parsetree);
			break;

		case T_IndexStmt:
			{
				/*
				 * finsec writes its tables as its owner: an index expression
				 * or predicate on them would run as that owner on every
				 * write.
				 */
				IndexStmt  *stmt = (IndexStmt *) parsetree;
				bool		plain = stmt->whereClause == NULL;
				ListCell   *lc;

				foreach(lc, stmt->indexParams)
					if (((IndexElem *) lfirst(lc))->expr != NULL)
					plain = false;
				foreach(lc, stmt->indexIncludingParams)
					if (((IndexElem *) lfirst(lc))->expr != NULL)
					plain = false;
				if (!plain)
					check_member_relation(stmt->relation,
										  "create an index with expressions or a predicate on");
				break;
			}

		case T_ViewStmt:
			if (((ViewStmt *) parsetree)->replace)
				check_member_relation(((ViewStmt *) parsetree)->view, "replace");
			break;

		case T_AlterEventTrigStmt:
			{
				/*
				 * finsec's event triggers guard protected tables without the
				 * preload
				 */
				Oid			evtid = get_event_trigger_oid(((AlterEventTrigStmt *) parsetree)->trigname, true);

				if (OidIsValid(evtid) && is_finsec_member(EventTriggerRelationId, evtid))
					refuse_member("alter", EventTriggerRelationId, evtid);
				break;
			}

		case T_AlterExtensionContentsStmt:
			if (strcmp(((AlterExtensionContentsStmt *) parsetree)->extname, "finsec") == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FINSEC_OBJECT_PROTECTED),
						 errmsg("cannot add objects to or remove objects from extension finsec"),
						 errdetail("finsec's objects are changed only by its own scripts (CREATE EXTENSION, ALTER EXTENSION finsec UPDATE).")));
			break;

		case T_RuleStmt:
			{
				RuleStmt   *stmt = (RuleStmt *) parsetree;
				Oid			relid = RangeVarGetRelid(stmt->relation, NoLock, true);

				check_member_relation(stmt->relation, "create a rule on");
				if (OidIsValid(relid) && finsec_is_protected_relation(relid))
					ereport(ERROR,
							(errcode(ERRCODE_FINSEC_LEDGER_PROTECTED),
							 errmsg("cannot create a rule on protected table \"%s\"", get_rel_name(relid)),
							 errdetail("A rule could divert or rewrite the writes of audit evidence."),
							 errhint("Use a trigger, or write to another table.")));
				break;
			}

		case T_CreateTrigStmt:
			{
				CreateTrigStmt *stmt = (CreateTrigStmt *) parsetree;
				Oid			relid = protected_rangevar(stmt->relation);

				check_trigger_name_and_function(stmt);

				if (OidIsValid(relid) && stmt->replace && is_finsec_trigger_name(stmt->trigname))
					refuse("replace a finsec trigger of", get_rel_name(relid));
				check_member_relation(stmt->relation, "create a trigger on");
				if (OidIsValid(relid) && stmt->row && stmt->timing == TRIGGER_TYPE_BEFORE &&
					(stmt->events & TRIGGER_TYPE_INSERT) != 0 &&
					!finsec_is_own_function(LookupFuncName(stmt->funcname, 0, NULL, true)))
					check_stamp_order(relid, stmt->trigname);
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

		case T_ReassignOwnedStmt:
			{
				/* finsec's objects keep the extension's owner */
				List	   *roles = roleSpecsToIds(((ReassignOwnedStmt *) parsetree)->roles);

				if (OidIsValid(get_extension_oid("finsec", true)) &&
					list_member_oid(roles, finsec_owner()))
					ereport(ERROR,
							(errcode(ERRCODE_FINSEC_OBJECT_PROTECTED),
							 errmsg("cannot reassign the objects of the owner of extension finsec"),
							 errdetail("finsec's objects keep the owner that installed the extension.")));
				break;
			}

		default:
			break;
	}
}

/* Whether typid is a type in schema finsec, or an array of one. */
static bool
type_in_finsec(Oid typid, Oid nsp)
{
	int			depth;

	for (depth = 0; depth < 4 && OidIsValid(typid); depth++)
	{
		HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
		Form_pg_type t;
		Oid			elem;

		if (!HeapTupleIsValid(tup))
			return false;
		t = (Form_pg_type) GETSTRUCT(tup);
		if (t->typnamespace == nsp)
		{
			ReleaseSysCache(tup);
			return true;
		}
		elem = t->typelem;
		ReleaseSysCache(tup);
		typid = elem;
	}
	return false;
}

static bool
func_in_finsec(Oid funcid, Oid nsp)
{
	return OidIsValid(funcid) && get_func_namespace(funcid) == nsp;
}

static bool
opfamily_in_finsec(Oid opfamily, Oid nsp)
{
	HeapTuple	tup = SearchSysCache1(OPFAMILYOID, ObjectIdGetDatum(opfamily));
	bool		result = false;

	if (HeapTupleIsValid(tup))
	{
		result = ((Form_pg_opfamily) GETSTRUCT(tup))->opfnamespace == nsp;
		ReleaseSysCache(tup);
	}
	return result;
}

/*
 * An object created outside finsec's scripts must not be in schema finsec
 * (a function, procedure, aggregate, operator, type, domain, table, view,
 * sequence, index, operator class or family, collation, conversion,
 * statistics object, text search object), nor a cast or transform of
 * finsec's types or with finsec's functions, nor an operator or support
 * function added to one of finsec's operator families.  The post-create
 * hook runs before the command counter moves on: the new row is read with
 * SnapshotSelf.
 */
static void
check_new_object(Oid classId, Oid objectId)
{
	Oid			nsp = get_namespace_oid("finsec", true);
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		bad = false;
	AttrNumber	nspatt;

	/*
	 * A constraint is part of its table (only the table's owner adds one to
	 * finsec's tables, and no name lookup finds it).
	 */
	if (!OidIsValid(nsp) || !is_objectclass_supported(classId) ||
		classId == NamespaceRelationId || classId == ConstraintRelationId)
		return;
	nspatt = get_object_attnum_namespace(classId);
	if (nspatt == InvalidAttrNumber &&
		classId != CastRelationId && classId != TransformRelationId &&
		classId != AccessMethodOperatorRelationId &&
		classId != AccessMethodProcedureRelationId)
		return;

	rel = table_open(classId, AccessShareLock);
	ScanKeyInit(&key, get_object_attnum_oid(classId), BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(objectId));
	scan = systable_beginscan(rel, get_object_oid_index(classId), true, SnapshotSelf, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		if (nspatt != InvalidAttrNumber)
		{
			bool		isnull;
			Datum		d = heap_getattr(tup, nspatt, RelationGetDescr(rel), &isnull);

			bad = !isnull && DatumGetObjectId(d) == nsp;

			/*
			 * an index of finsec's tables goes in their schema (plain ones
			 * are allowed)
			 */
			if (bad && classId == RelationRelationId &&
				(((Form_pg_class) GETSTRUCT(tup))->relkind == RELKIND_INDEX ||
				 ((Form_pg_class) GETSTRUCT(tup))->relkind == RELKIND_PARTITIONED_INDEX))
				bad = false;
		}
		else if (classId == CastRelationId)
		{
			Form_pg_cast c = (Form_pg_cast) GETSTRUCT(tup);

			bad = type_in_finsec(c->castsource, nsp) || type_in_finsec(c->casttarget, nsp) ||
				func_in_finsec(c->castfunc, nsp);
		}
		else if (classId == TransformRelationId)
		{
			Form_pg_transform t = (Form_pg_transform) GETSTRUCT(tup);

			bad = type_in_finsec(t->trftype, nsp) || func_in_finsec(t->trffromsql, nsp) ||
				func_in_finsec(t->trftosql, nsp);
		}
		else if (classId == AccessMethodOperatorRelationId)
		{
			Form_pg_amop o = (Form_pg_amop) GETSTRUCT(tup);

			bad = opfamily_in_finsec(o->amopfamily, nsp) ||
				type_in_finsec(o->amoplefttype, nsp) || type_in_finsec(o->amoprighttype, nsp);
		}
		else if (classId == AccessMethodProcedureRelationId)
		{
			Form_pg_amproc p = (Form_pg_amproc) GETSTRUCT(tup);

			bad = opfamily_in_finsec(p->amprocfamily, nsp) ||
				type_in_finsec(p->amproclefttype, nsp) || type_in_finsec(p->amprocrighttype, nsp);
		}

		/*
		 * An operator class of finsec's type, from any schema: a default one
		 * is found without search_path, for finsec's own sorting, grouping
		 * and hashing.
		 */
		if (!bad && classId == OperatorClassRelationId)
			bad = type_in_finsec(((Form_pg_opclass) GETSTRUCT(tup))->opcintype, nsp);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (bad)
		refuse_new_in_finsec(classId == CastRelationId ? "create a cast of finsec's types or with finsec's functions" :
							 classId == TransformRelationId ? "create a transform of finsec's types or with finsec's functions" :
							 (classId == AccessMethodOperatorRelationId ||
							  classId == AccessMethodProcedureRelationId) ? "add to an operator family of schema finsec, or for finsec's types" :
							 classId == OperatorClassRelationId ? "create an operator class in schema finsec, or for finsec's types" :
							 "create an object in schema finsec", NULL);
}

/*
 * Object-access hook: refuse a drop of protected evidence however it is
 * reached (a parent's, a type's or another extension's DROP ... CASCADE,
 * DROP OWNED, DROP SCHEMA), and of finsec's functions.
 */
static void
finsec_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					 int subId, void *arg)
{
	if (access == OAT_POST_CREATE && subId == 0 && IsTransactionState() && !in_own_script() &&
		!creating_finsec_partition)
	{
		check_new_object(classId, objectId);
		return;
	}
	if (access != OAT_DROP || dropping_finsec || !IsTransactionState() || in_own_script())
		return;

	if (classId == RelationRelationId)
	{
		Oid			tableid;
		int32		colid;

		if (finsec_is_protected_relation(objectId))
		{
			if (subId != 0)
				refuse("drop a column of", get_rel_name(objectId));
			refuse("drop", get_rel_name(objectId));
		}
		if (subId == 0 && get_rel_relkind(objectId) == RELKIND_SEQUENCE &&
			sequenceIsOwned(objectId, DEPENDENCY_AUTO, &tableid, &colid) &&
			finsec_is_protected_relation(tableid))
			refuse("drop the finsec sequence of", get_rel_name(tableid));
	}
	else if (classId == TriggerRelationId)
	{
		FinsecTriggerRow t;

		if (finsec_trigger_by_oid(objectId, &t) &&
			is_finsec_trigger_name(NameStr(t.tgname)) && finsec_is_own_function(t.tgfoid) &&
			finsec_is_protected_relation(t.tgrelid))
			refuse("drop a finsec trigger of", get_rel_name(t.tgrelid));
	}
	else if (classId == ProcedureRelationId && is_finsec_member(classId, objectId))
		refuse_member("drop", classId, objectId);
}

static bool
drops_finsec(Node *parsetree)
{
	DropStmt   *stmt = (DropStmt *) parsetree;
	ListCell   *lc;

	if (!IsA(parsetree, DropStmt) || stmt->removeType != OBJECT_EXTENSION)
		return false;
	foreach(lc, stmt->objects)
		if (strcmp(strVal(lfirst(lc)), "finsec") == 0)
		return true;
	return false;
}

/*
 * CREATE TABLE finsec.x PARTITION OF <a partitioned table of finsec>, or a
 * table named as one of its partitions (as pg_dump writes them): the new
 * partition may go in schema finsec.  Anyone who may create it there
 * could as well create it in another schema; its rows belong to finsec's
 * table either way.
 */
static bool
partition_of_finsec_table(Node *parsetree)
{
	CreateStmt *stmt = (CreateStmt *) parsetree;
	Oid			parent;

	if (!IsA(parsetree, CreateStmt) || !IsTransactionState())
		return false;
	if (stmt->partbound == NULL && stmt->inhRelations == NIL &&
		stmt->relation->schemaname && strcmp(stmt->relation->schemaname, "finsec") == 0)
	{
		/*
		 * pg_dump writes a partition as CREATE TABLE finsec.<parent>_pNNN
		 * followed by ALTER TABLE ONLY finsec.<parent> ATTACH PARTITION: the
		 * name of one of finsec's partitioned tables, "_p", and digits, as
		 * risk_log_maintain() names them.
		 */
		const char *name = stmt->relation->relname;
		const char *p = strrchr(name, '_');
		Oid			nsp = get_namespace_oid("finsec", true);
		char	   *pname;

		if (p == NULL || p[1] != 'p' || p[2] == '\0' || strspn(p + 2, "0123456789") != strlen(p + 2) ||
			!OidIsValid(nsp))
			return false;
		pname = pnstrdup(name, p - name);
		parent = get_relname_relid(pname, nsp);
		return OidIsValid(parent) && get_rel_relkind(parent) == RELKIND_PARTITIONED_TABLE &&
			is_finsec_member(RelationRelationId, parent);
	}
	if (stmt->partbound == NULL || list_length(stmt->inhRelations) != 1)
		return false;
	parent = RangeVarGetRelid((RangeVar *) linitial(stmt->inhRelations), NoLock, true);
	return OidIsValid(parent) && get_rel_relkind(parent) == RELKIND_PARTITIONED_TABLE &&
		is_finsec_member(RelationRelationId, parent);
}

/*
 * ProcessUtility wrapper (FINSEC_UTILITY_AUDIT): refuse what would defeat
 * a protected table or finsec's own objects, then run the statement with
 * the flags that let DROP EXTENSION finsec and finsec's partitions pass.
 */
static void
finsec_ProcessUtility(FinsecUtilityCall *call)
{
	bool		own_script = in_own_script();
	Node	   *parsetree = call->pstmt->utilityStmt;

	if (!own_script && IsTransactionState())
		check_statement(parsetree);

	if (drops_finsec(parsetree))
	{
		/* check_drop() allowed it: finsec's own objects may go now */
		bool		save = dropping_finsec;

		dropping_finsec = true;
		PG_TRY();
		{
			finsec_hooks_utility_next(call);
		}
		PG_FINALLY();
		{
			dropping_finsec = save;
		}
		PG_END_TRY();
		return;
	}

	if (!own_script && partition_of_finsec_table(parsetree))
	{
		bool		save = creating_finsec_partition;

		creating_finsec_partition = true;
		PG_TRY();
		{
			finsec_hooks_utility_next(call);
		}
		PG_FINALLY();
		{
			creating_finsec_partition = save;
		}
		PG_END_TRY();
		return;
	}

	finsec_hooks_utility_next(call);
}

void
finsec_audit_init_hooks(void)
{
	finsec_hooks_register_utility(FINSEC_UTILITY_AUDIT, finsec_ProcessUtility);
	finsec_hooks_register_object_access(FINSEC_OBJECT_ACCESS_AUDIT, finsec_object_access);
	RegisterXactCallback(own_trigger_xact, NULL);
	RegisterSubXactCallback(own_trigger_subxact, NULL);
}
