/*-------------------------------------------------------------------------
 *
 * ddl.c
 *	  DDL protection of monitored payments tables (docs/monitor.md).
 *
 * While a table is registered in finsec.monitor_table, the statements by
 * which its owner (or anyone) would stop its payments from being stamped,
 * make the monitor read another column, or lose its committed payments
 * before the monitor saw them are refused, for every role: disabling
 * monitoring (two-person) comes first.  The checks run before the
 * statement (ProcessUtility) and, for drops however they are reached
 * (DROP ... CASCADE, DROP OWNED, DROP SCHEMA), in the object-access hook.
 *
 * Cheap for other tables: a table is a candidate when its relcache entry
 * has the trigger finsec_monitor_stamp (partitions have it cloned) or its
 * OID (or its partition root's) is in a cache of registered OIDs, rebuilt
 * after any relcache invalidation; only a candidate's registration is read
 * from the heap of finsec.monitor_table, which decides.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_trigger.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "nodes/parsenodes.h"
#include "parser/parse_relation.h"
#include "parser/parse_type.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "finsec.h"
#include "finsec_apptable.h"
#include "finsec_hooks.h"
#include "finsec_monitor.h"
#include "finsec_trigger.h"

static FinsecRelid monitor_table_id = FINSEC_RELID_INIT("finsec", "monitor_table");

/* Registered OIDs as last read; rebuilt after any relcache invalidation. */
static bool cache_valid = false;
static bool cache_callback = false;
static Oid *cache_oids = NULL;
static int	cache_n = 0;

static void
monitor_ddl_invalidate(Datum arg, Oid relid)
{
	cache_valid = false;
}

/*
 * Scan finsec.monitor_table.  With relid valid: is it registered, and (cols
 * not NULL) the names of its *_column settings (the stamp column included).
 * With relid invalid: fill the OID cache.
 */
static bool
registry_scan(Oid relid, List **cols)
{
	Oid			tab = finsec_relid(&monitor_table_id);
	FinsecHeapScan hs;
	TupleDesc	tdesc;
	AttrNumber	relatt;
	bool		found = false;
	int			n = 0,
				cap = 8;
	Oid		   *oids = NULL;

	if (!OidIsValid(tab))
		return false;
	finsec_heap_scan_begin(&hs, tab);
	tdesc = RelationGetDescr(hs.rel);
	relatt = attnameAttNum(hs.rel, "relid", false);
	if (!OidIsValid(relid))
		oids = MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * cap);
	while (relatt > 0 && finsec_heap_scan_next(&hs))
	{
		bool		isnull;
		Datum		d = slot_getattr(hs.slot, relatt, &isnull);
		Oid			rowrel = isnull ? InvalidOid : DatumGetObjectId(d);
		int			i;

		if (!OidIsValid(relid))
		{
			if (n == cap)
			{
				cap *= 2;
				oids = repalloc(oids, sizeof(Oid) * cap);
			}
			oids[n++] = rowrel;
			continue;
		}
		if (rowrel != relid)
			continue;
		found = true;
		for (i = 0; cols && i < tdesc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(tdesc, i);
			const char *an = NameStr(att->attname);
			size_t		len = strlen(an);

			if (att->attisdropped || att->atttypid != TEXTOID ||
				len < 7 || strcmp(an + len - 7, "_column") != 0)
				continue;
			d = slot_getattr(hs.slot, i + 1, &isnull);
			if (!isnull)
				*cols = lappend(*cols, TextDatumGetCString(d));
		}
		break;
	}
	finsec_heap_scan_end(&hs);
	if (!OidIsValid(relid))
	{
		if (cache_oids)
			pfree(cache_oids);
		cache_oids = oids;
		cache_n = n;
	}
	return found;
}

static bool
in_cache(Oid relid)
{
	int			i;

	if (!cache_callback)
	{
		finsec_register_relcache_callback(monitor_ddl_invalidate, (Datum) 0);
		cache_callback = true;
	}
	if (!cache_valid)
	{
		(void) registry_scan(InvalidOid, NULL);
		cache_valid = true;
	}
	for (i = 0; i < cache_n; i++)
		if (cache_oids[i] == relid)
			return true;
	return false;
}

/* Does the relation's relcache entry hold a trigger named name?  Its tgtype in *tgtype. */
static bool
rel_has_trigger(Oid relid, const char *name, int16 *tgtype)
{
	Relation	rel = RelationIdGetRelation(relid);
	bool		found = false;
	int			i;

	if (!RelationIsValid(rel))
		return false;
	for (i = 0; rel->trigdesc && i < rel->trigdesc->numtriggers && !found; i++)
		if (strcmp(rel->trigdesc->triggers[i].tgname, name) == 0)
		{
			found = true;
			if (tgtype)
				*tgtype = rel->trigdesc->triggers[i].tgtype;
		}
	RelationClose(rel);
	return found;
}

static bool
checks_active(void)
{
	return IsTransactionState() && !creating_extension &&
		OidIsValid(get_namespace_oid("finsec", true));
}

/*
 * The registered table relid belongs to: relid itself, or for a partition
 * its root; InvalidOid if none.  cols (if not NULL) gets the registered
 * column names.
 */
static Oid
monitored_root(Oid relid, List **cols)
{
	Oid			root = relid;
	char		kind;

	if (!OidIsValid(relid))
		return InvalidOid;
	kind = get_rel_relkind(relid);
	if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
		return InvalidOid;
	if (get_rel_relispartition(relid))
	{
		/* none while DETACH PARTITION runs: pg_inherits already lost the row */
		List	   *ancestors = get_partition_ancestors(relid);

		if (ancestors != NIL)
			root = llast_oid(ancestors);
	}
	if (!rel_has_trigger(relid, FINSEC_MONITOR_TRIGGER, NULL) && !in_cache(root))
		return InvalidOid;
	return registry_scan(root, cols) ? root : InvalidOid;
}

/* relid itself is registered (not a partition of a registered table). */
static bool
is_registered(Oid relid, List **cols)
{
	return OidIsValid(relid) && monitored_root(relid, cols) == relid;
}

static bool
names_column(List *cols, const char *col)
{
	ListCell   *lc;

	if (col == NULL)
		return false;
	foreach(lc, cols)
		if (strcmp((char *) lfirst(lc), col) == 0)
		return true;
	return false;
}

static void
refuse(int code, const char *what, Oid relid, const char *detail)
{
	ereport(ERROR,
			(errcode(code),
			 errmsg("cannot %s \"%s\": its payments are monitored", what, get_rel_name(relid)),
			 errdetail("%s", detail),
			 errhint("Disable monitoring first (two-person): finsec.disable_monitoring(%s).",
					 quote_identifier(get_rel_name(relid)))));
}

#define DROP_DETAIL "The table is registered for transaction monitoring: its payments committed since the monitor's last batch would be lost, and its registration would name no table."

static Oid
rv_relid(RangeVar *rv)
{
	return rv ? RangeVarGetRelid(rv, NoLock, true) : InvalidOid;
}

/* A BEFORE row trigger on INSERT or UPDATE runs in name order with the stamp trigger. */
static bool
stamp_relevant(int16 tgtype)
{
	return TRIGGER_FOR_ROW(tgtype) && TRIGGER_FOR_BEFORE(tgtype) &&
		(TRIGGER_FOR_INSERT(tgtype) || TRIGGER_FOR_UPDATE(tgtype));
}

/*
 * Refuse if relid (or, with tree, a relation below it) has a BEFORE INSERT
 * or UPDATE row trigger whose name sorts after finsec_monitor_stamp: it
 * would run after the stamp was set and could change it.  Called at
 * registration (finsec._monitor_attach) and for ATTACH PARTITION.
 */
void
finsec_monitor_check_trigger_order(Oid relid, bool tree)
{
	List	   *rels = tree ? find_all_inheritors(relid, NoLock, NULL) : list_make1_oid(relid);
	ListCell   *lc;

	foreach(lc, rels)
	{
		Relation	rel = RelationIdGetRelation(lfirst_oid(lc));
		int			i;

		if (!RelationIsValid(rel))
			continue;
		for (i = 0; rel->trigdesc && i < rel->trigdesc->numtriggers; i++)
		{
			Trigger    *tg = &rel->trigdesc->triggers[i];

			if (stamp_relevant(tg->tgtype) && strcmp(tg->tgname, FINSEC_MONITOR_TRIGGER) > 0)
			{
				char	   *name = pstrdup(tg->tgname);
				char	   *relname = pstrdup(RelationGetRelationName(rel));

				RelationClose(rel);
				ereport(ERROR,
						(errcode(ERRCODE_FINSEC_MONITOR_TRIGGER_ORDER),
						 errmsg("trigger \"%s\" of \"%s\" would fire after %s", name, relname,
								FINSEC_MONITOR_TRIGGER),
						 errdetail("BEFORE row triggers fire in name order: a BEFORE INSERT or UPDATE row trigger named after %s could change the stamp finsec_mon_txid after finsec set it.",
								   FINSEC_MONITOR_TRIGGER),
						 errhint("Rename the trigger to a name that sorts before \"%s\".", FINSEC_MONITOR_TRIGGER)));
			}
		}
		RelationClose(rel);
	}
}

static void
refuse_trigger_order(Oid relid, const char *trigname)
{
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_MONITOR_TRIGGER_ORDER),
			 errmsg("a BEFORE INSERT or UPDATE row trigger on monitored table \"%s\" must be named to fire before %s, not \"%s\"",
					get_rel_name(relid), FINSEC_MONITOR_TRIGGER, trigname),
			 errdetail("BEFORE row triggers fire in name order: one firing after %s could change the stamp finsec_mon_txid after finsec set it, and hide the payment from the monitor.",
					   FINSEC_MONITOR_TRIGGER),
			 errhint("Choose a name that sorts before \"%s\", or disable monitoring first (two-person).",
					 FINSEC_MONITOR_TRIGGER)));
}

/* The stamp trigger exactly as finsec._monitor_attach() (and pg_dump of it) writes it. */
static bool
canonical_stamp_trigger(CreateTrigStmt *ct)
{
	char	   *schema;
	char	   *fname;

	if (ct->replace || ct->isconstraint || !ct->row || ct->timing != TRIGGER_TYPE_BEFORE ||
		ct->events != (TRIGGER_TYPE_INSERT | TRIGGER_TYPE_UPDATE) ||
		ct->columns != NIL || ct->whenClause != NULL || ct->args != NIL ||
		ct->transitionRels != NIL)
		return false;
	DeconstructQualifiedName(ct->funcname, &schema, &fname);
	return schema != NULL && strcmp(schema, "finsec") == 0 && strcmp(fname, "monitor_stamp") == 0;
}

/* Is index indexoid a valid plain index whose first key is column att? */
static bool
stamp_index(Oid indexoid, AttrNumber att)
{
	HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
	Form_pg_index ind;
	bool		ok;

	if (!HeapTupleIsValid(tup))
		return false;
	ind = (Form_pg_index) GETSTRUCT(tup);
	ok = ind->indisvalid && ind->indnkeyatts >= 1 && ind->indkey.values[0] == att &&
		heap_attisnull(tup, Anum_pg_index_indexprs, NULL) &&
		heap_attisnull(tup, Anum_pg_index_indpred, NULL);
	ReleaseSysCache(tup);
	return ok;
}

/* DROP INDEX: refuse the drop of the last valid index on the stamp column of a registered table. */
static void
check_drop_indexes(DropStmt *ds)
{
	List	   *dropped = NIL;
	List	   *tables = NIL;
	ListCell   *lc;

	foreach(lc, ds->objects)
	{
		RangeVar   *rv = makeRangeVarFromNameList((List *) lfirst(lc));
		Oid			idx = rv_relid(rv);
		Oid			tab;

		if (!OidIsValid(idx))
			continue;
		dropped = lappend_oid(dropped, idx);
		tab = IndexGetRelation(idx, true);
		if (OidIsValid(tab))
			tables = list_append_unique_oid(tables, tab);
	}
	foreach(lc, tables)
	{
		Oid			tab = lfirst_oid(lc);
		List	   *cols = NIL;
		AttrNumber	att;
		Relation	rel;
		List	   *indexes;
		ListCell   *li;
		bool		drops_one = false,
					keeps_one = false;

		if (!is_registered(tab, &cols))
			continue;
		att = get_attnum(tab, FINSEC_MONITOR_STAMP_COLUMN);
		rel = RelationIdGetRelation(tab);
		if (!RelationIsValid(rel))
			continue;
		indexes = RelationGetIndexList(rel);
		RelationClose(rel);
		foreach(li, indexes)
		{
			if (!stamp_index(lfirst_oid(li), att))
				continue;
			if (list_member_oid(dropped, lfirst_oid(li)))
				drops_one = true;
			else
				keeps_one = true;
		}
		if (drops_one && !keeps_one)
			refuse(ERRCODE_FINSEC_MONITORED_TABLE_DDL, "drop the last index on finsec_mon_txid of", tab,
				   "Each batch of the monitor finds the new payments through this index: without it every batch reads the whole table.");
	}
}

/* ALTER TABLE on or involving a monitored table: every subcommand that would take payments out of monitoring. */
static void
check_alter_table(AlterTableStmt *at)
{
	Oid			relid;
	Oid			root;
	List	   *cols = NIL;
	ListCell   *lc;

	if (at->objtype != OBJECT_TABLE)
		return;
	relid = rv_relid(at->relation);

	/*
	 * the monitored table attached as a partition of another, or made an
	 * inheritance child
	 */
	foreach(lc, at->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (cmd->subtype == AT_AttachPartition)
		{
			Oid			part = rv_relid(((PartitionCmd *) cmd->def)->name);

			if (is_registered(part, NULL))
				refuse(ERRCODE_FINSEC_MONITORED_TABLE_DDL, "attach as a partition", part,
					   "The monitor reads the registered table itself; as a partition of another table its payments would also be reached, and written, through a table that is not monitored.");
			if (OidIsValid(part) && OidIsValid(monitored_root(relid, NULL)))
				finsec_monitor_check_trigger_order(part, true);
		}
		else if (cmd->subtype == AT_AddInherit)
		{
			Oid			parent = rv_relid((RangeVar *) cmd->def);

			if (OidIsValid(monitored_root(parent, NULL)))
				refuse(ERRCODE_FINSEC_MONITORED_TABLE_DDL, "make a table inherit from", parent,
					   "Rows of an inheritance child appear in the monitored table but are neither stamped nor read by the monitor.");
			if (OidIsValid(monitored_root(relid, NULL)))
				refuse(ERRCODE_FINSEC_MONITORED_TABLE_DDL, "make an inheritance child of", relid,
					   "The monitored table takes no part in inheritance: its parent's statements would reach its payments.");
		}
	}

	root = monitored_root(relid, &cols);
	if (!OidIsValid(root))
		return;
	foreach(lc, at->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		switch (cmd->subtype)
		{
			case AT_DisableTrig:
			case AT_EnableTrig:
			case AT_EnableReplicaTrig:
				if (cmd->name && strcmp(cmd->name, FINSEC_MONITOR_TRIGGER) == 0)
					refuse(ERRCODE_FINSEC_MONITORED_TABLE_DDL,
						   cmd->subtype == AT_DisableTrig ? "disable trigger finsec_monitor_stamp of" :
						   "change when trigger finsec_monitor_stamp of", relid,
						   "The trigger stamps each payment with its transaction: payments written while it does not fire are never seen by the monitor.");
				break;
			case AT_DisableTrigAll:
			case AT_DisableTrigUser:
			case AT_EnableTrigAll:
			case AT_EnableTrigUser:
				refuse(ERRCODE_FINSEC_MONITORED_TABLE_DDL,
					   (cmd->subtype == AT_DisableTrigAll || cmd->subtype == AT_DisableTrigUser) ?
					   "disable the triggers of" : "change when the triggers fire of", relid,
					   "Trigger finsec_monitor_stamp (ENABLE ALWAYS) stamps each payment with its transaction: payments written while it does not fire are never seen by the monitor.");
				break;
			case AT_DropColumn:
			case AT_AlterColumnType:
				if (names_column(cols, cmd->name))
					refuse(ERRCODE_FINSEC_MONITORED_TABLE_DDL,
						   psprintf(cmd->subtype == AT_DropColumn ? "drop column \"%s\" of" :
									"change the type of column \"%s\" of", cmd->name), relid,
						   "finsec.enable_monitoring() registered the column by name and type: the monitor would read another column, or none.");
				break;
			case AT_SetUnLogged:
				refuse(ERRCODE_FINSEC_MONITORED_TABLE_DDL, "make unlogged", relid,
					   "An unlogged table's payments are lost at a crash and absent on standbys: the monitor's exactly-once history would no longer match the table.");
				break;
			default:
				break;
		}
	}
}

static void
check_create_trigger(CreateTrigStmt *ct)
{
	Oid			relid = rv_relid(ct->relation);
	Oid			root;
	int16		tgtype = 0;

	if (!OidIsValid(relid) || ct->trigname == NULL)
		return;
	root = monitored_root(relid, NULL);
	if (!OidIsValid(root))
		return;
	if (strcmp(ct->trigname, FINSEC_MONITOR_TRIGGER) == 0)
	{
		/* pg_restore recreates it as finsec wrote it; nothing replaces it */
		if (rel_has_trigger(relid, FINSEC_MONITOR_TRIGGER, &tgtype) || !canonical_stamp_trigger(ct) ||
			root != relid)
			refuse(ERRCODE_FINSEC_MONITORED_TABLE_DDL, "create or replace trigger finsec_monitor_stamp of", relid,
				   "finsec attaches the stamp trigger itself, BEFORE INSERT OR UPDATE FOR EACH ROW EXECUTE FUNCTION finsec.monitor_stamp().");
		return;
	}
	if (ct->row && (ct->timing & TRIGGER_TYPE_BEFORE) &&
		(ct->events & (TRIGGER_TYPE_INSERT | TRIGGER_TYPE_UPDATE)) &&
		strcmp(ct->trigname, FINSEC_MONITOR_TRIGGER) > 0)
		refuse_trigger_order(relid, ct->trigname);
}

static void
check_rename(RenameStmt *rs)
{
	Oid			relid;
	List	   *cols = NIL;
	int16		tgtype = 0;

	if (rs->renameType != OBJECT_COLUMN && rs->renameType != OBJECT_TRIGGER)
		return;
	relid = rv_relid(rs->relation);
	if (!OidIsValid(monitored_root(relid, &cols)))
		return;
	if (rs->renameType == OBJECT_COLUMN)
	{
		if (is_registered(relid, NULL) && names_column(cols, rs->subname))
			refuse(ERRCODE_FINSEC_MONITORED_TABLE_DDL, psprintf("rename column \"%s\" of", rs->subname), relid,
				   "finsec.enable_monitoring() registered the column by name: the monitor would read another column under the old name, or fail.");
		return;
	}
	if (strcmp(rs->subname, FINSEC_MONITOR_TRIGGER) == 0)
		refuse(ERRCODE_FINSEC_MONITORED_TABLE_DDL, "rename trigger finsec_monitor_stamp of", relid,
			   "finsec finds, dumps and restores the stamp trigger by its name, and it must keep its place in the firing order.");
	if (rel_has_trigger(relid, rs->subname, &tgtype) && stamp_relevant(tgtype) &&
		strcmp(rs->newname, FINSEC_MONITOR_TRIGGER) > 0)
		refuse_trigger_order(relid, rs->newname);
}

static void
check_create_table(CreateStmt *cs)
{
	ListCell   *lc;

	if (cs->partbound != NULL)
		return;					/* a partition gets the trigger cloned */
	foreach(lc, cs->inhRelations)
	{
		Oid			parent = rv_relid(lfirst_node(RangeVar, lc));

		if (OidIsValid(monitored_root(parent, NULL)))
			refuse(ERRCODE_FINSEC_MONITORED_TABLE_DDL, "create an inheritance child of", parent,
				   "Rows of an inheritance child appear in the monitored table but are neither stamped nor read by the monitor; create a partition of a partitioned table instead.");
	}
}

static void
check_drop(DropStmt *ds)
{
	ListCell   *lc;

	if (ds->removeType == OBJECT_INDEX)
	{
		check_drop_indexes(ds);
		return;
	}
	if (ds->removeType == OBJECT_TABLE)
	{
		/*
		 * the message of the table, not of its trigger the drop reaches
		 * first; CASCADE paths: the object-access hook
		 */
		foreach(lc, ds->objects)
		{
			Oid			relid = rv_relid(makeRangeVarFromNameList((List *) lfirst(lc)));

			if (is_registered(relid, NULL))
				refuse(ERRCODE_FINSEC_MONITORED_TABLE_DROP, "drop", relid, DROP_DETAIL);
		}
		return;
	}
	if (ds->removeType != OBJECT_TRIGGER)
		return;
	foreach(lc, ds->objects)
	{
		List	   *names = (List *) lfirst(lc);
		RangeVar   *rv;
		Oid			relid;

		if (strcmp(strVal(llast(names)), FINSEC_MONITOR_TRIGGER) != 0)
			continue;
		rv = makeRangeVarFromNameList(list_truncate(list_copy(names), list_length(names) - 1));
		relid = rv_relid(rv);
		if (is_registered(relid, NULL))
			refuse(ERRCODE_FINSEC_MONITORED_TABLE_DDL, "drop trigger finsec_monitor_stamp of", relid,
				   "The trigger stamps each payment with its transaction: payments written without it are never seen by the monitor.");
	}
}

/*
 * ALTER TYPE ... RENAME VALUE of an enum a mapped column of a monitored
 * table has (direction, customer type, status, currency): the payments
 * still to come would change their meaning, those processed keep theirs.
 */
static void
check_enum_rename(AlterEnumStmt *ae)
{
	Oid			typid;
	int			i;

	if (ae->oldVal == NULL)
		return;
	typid = LookupTypeNameOid(NULL, makeTypeNameFromNameList(ae->typeName), true);
	if (!OidIsValid(typid))
		return;
	(void) in_cache(InvalidOid);
	for (i = 0; i < cache_n; i++)
	{
		Oid			relid = cache_oids[i];
		List	   *cols = NIL;
		ListCell   *lc;

		if (!registry_scan(relid, &cols))
			continue;
		foreach(lc, cols)
		{
			AttrNumber	att = get_attnum(relid, (char *) lfirst(lc));

			if (att > 0 && getBaseType(get_atttype(relid, att)) == typid)
				ereport(ERROR,
						(errcode(ERRCODE_FINSEC_MONITORED_TABLE_DDL),
						 errmsg("cannot rename value \"%s\" of type %s: column \"%s\" of monitored table \"%s\" has it",
								ae->oldVal, format_type_be(typid), (char *) lfirst(lc), get_rel_name(relid)),
						 errdetail("The monitor reads the column's values by their labels: payments to come would change their meaning (a direction, a customer type, a status)."),
						 errhint("Disable monitoring first (two-person): finsec.disable_monitoring(%s).",
								 quote_identifier(get_rel_name(relid)))));
		}
	}
}

static void
monitor_check_utility(Node *stmt)
{
	if (!checks_active())
		return;
	switch (nodeTag(stmt))
	{
		case T_AlterTableStmt:
			check_alter_table((AlterTableStmt *) stmt);
			break;
		case T_CreateTrigStmt:
			check_create_trigger((CreateTrigStmt *) stmt);
			break;
		case T_RenameStmt:
			check_rename((RenameStmt *) stmt);
			break;
		case T_CreateStmt:
			check_create_table((CreateStmt *) stmt);
			break;
		case T_DropStmt:
			check_drop((DropStmt *) stmt);
			break;
		case T_AlterEnumStmt:
			check_enum_rename((AlterEnumStmt *) stmt);
			break;
		default:
			break;
	}
}

static void
monitor_ProcessUtility(FinsecUtilityCall *call)
{
	monitor_check_utility(call->pstmt->utilityStmt);
	finsec_hooks_utility_next(call);
}

/*
 * Drops however they are reached: the registered table, its stamp or
 * mapped columns, its stamp trigger.  A partition, and the trigger cloned
 * on it (dropped by DETACH PARTITION too), may go.
 */
static void
monitor_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					  int subId, void *arg)
{
	if (access != OAT_DROP || !checks_active())
		return;
	if (classId == RelationRelationId)
	{
		List	   *cols = NIL;

		if (!is_registered(objectId, &cols))
			return;
		if (subId == 0)
			refuse(ERRCODE_FINSEC_MONITORED_TABLE_DROP, "drop", objectId, DROP_DETAIL);
		else
		{
			char	   *col = get_attname(objectId, subId, true);

			if (names_column(cols, col))
				refuse(ERRCODE_FINSEC_MONITORED_TABLE_DDL, psprintf("drop column \"%s\" of", col), objectId,
					   "finsec.enable_monitoring() registered the column by name and type: the monitor would read another column, or none.");
		}
	}
	else if (classId == TriggerRelationId)
	{
		FinsecTriggerRow t;

		if (finsec_trigger_by_oid(objectId, &t) &&
			strcmp(NameStr(t.tgname), FINSEC_MONITOR_TRIGGER) == 0 &&
			is_registered(t.tgrelid, NULL))
			refuse(ERRCODE_FINSEC_MONITORED_TABLE_DDL, "drop trigger finsec_monitor_stamp of", t.tgrelid,
				   "The trigger stamps each payment with its transaction: payments written without it are never seen by the monitor.");
	}
}

void
finsec_monitor_init_hooks(void)
{
	finsec_hooks_register_utility(FINSEC_UTILITY_MONITOR, monitor_ProcessUtility);
	finsec_hooks_register_object_access(FINSEC_OBJECT_ACCESS_MONITOR, monitor_object_access);
}
