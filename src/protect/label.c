/*-------------------------------------------------------------------------
 *
 * label.c
 *	  The finsec sensitivity-label provider (docs/protected-data.md#labels):
 *	  SECURITY LABEL FOR finsec on tables, views, materialized views,
 *	  foreign tables and their columns, and the check that lets a query
 *	  read a column whose effective label is quasi_identifier, identifier
 *	  or sensitive only for a cleared role (004 8.3.4 b enhanced), with a
 *	  durable audit row per statement and relation (002 3.2.7).
 *
 * Labels are stored by PostgreSQL in pg_seclabel (so pg_dump carries
 * them); the provider validates them and refuses lowering or removing a
 * restricted label except while finsec applies an approved
 * protect.label_change request (the permit below).  The effective label of
 * a column is the highest of its own, its table's, and those of the
 * same-named column (and table) of every inheritance ancestor and
 * descendant: rows of a child are read through the parent and the other
 * way round.  Effective labels and clearances are cached per backend and
 * recomputed after relcache invalidations (the provider invalidates the
 * labelled relation; a statement trigger on finsec.label_clearance
 * invalidates that table): an invalidation of a relation marks its entry
 * stale, and those of relations in inheritance trees; a change of roles
 * or memberships reloads the clearances.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_seclabel.h"
#include "catalog/pg_type.h"
#include "commands/seclabel.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "nodes/value.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_errcodes.h"
#include "finsec_hooks.h"
#include "finsec_owner.h"
#include "finsec_protect.h"

#define PROVIDER "finsec"

/* Ranks of the labels; restricted from quasi_identifier on. */
#define RANK_NONE 0
#define RANK_RESTRICTED 3
#define RANK_MAX 5

static const char *const label_names[RANK_MAX + 1] = {
	NULL, "public", "internal", "quasi_identifier", "identifier", "sensitive"
};

/* Types whose output is a mask: readable (audited) without a clearance. */
static const char *const protected_type_names[] = {
	"protected_text", "protected_resident_id", "protected_uscc",
	"protected_mobile", "bank_card", "bank_account"
};

#define N_PROTECTED_TYPES lengthof(protected_type_names)

/* Effective labels of one relation, by attribute number. */
typedef struct LabelRel
{
	Oid			relid;			/* hash key */
	int			natts;
	int			table_rank;		/* effective label of the table itself */
	bool		restricted;		/* some column's effective rank is restricted */
	bool		stale;			/* invalidated: recompute at the next use */
	uint8	   *ranks;			/* [natts + 1]; [0] unused */
	bool	   *masked;			/* [natts + 1]: of a protected type */
	bool		related;		/* has inheritance ancestors or descendants */
} LabelRel;

typedef struct Clearance
{
	Oid			role;
	int			rank;
	bool		audited;
} Clearance;

static MemoryContext label_cxt = NULL;
static HTAB *label_rels = NULL;
static bool cache_stale = true;
static bool callbacks_registered = false;
static Oid	finsec_nsp = InvalidOid;
static Oid	protected_types[N_PROTECTED_TYPES];
static Clearance *clearances = NULL;
static int	n_clearances = 0;
static bool clearances_loaded = false;
static Oid	clearance_relid = InvalidOid;
static uint64 inval_count = 0;	/* relcache invalidations seen */

/* Set while finsec applies an approved protect.label_change (label NULL: removal). */
typedef struct LabelPermit
{
	bool		active;
	Oid			relid;
	int32		subid;
	const char *label;
} LabelPermit;

static LabelPermit permit;

/* Set while the read check runs (its own ledger writes are not checked). */
static bool in_check = false;

static int
label_rank(const char *label)
{
	int			i;

	if (label == NULL)
		return RANK_NONE;
	for (i = 1; i <= RANK_MAX; i++)
		if (strcmp(label, label_names[i]) == 0)
			return i;
	return -1;
}

/* ---- cache ---------------------------------------------------------------- */

/*
 * A relation changed (its labels, columns, inheritance...): mark stale its
 * entry and every entry of a relation in an inheritance tree (whose
 * effective labels depend on relatives, and a new relative need not
 * invalidate them all); InvalidOid: everything.  A relation without
 * relatives gains one only by a change that invalidates it.  Nothing is
 * freed here (callers may hold entries while invalidations are processed).
 */
static void
label_inval_relcache(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS seq;
	LabelRel   *e;

	inval_count++;
	if (!OidIsValid(relid))
	{
		cache_stale = true;
		return;
	}
	if (relid == clearance_relid)
		clearances_loaded = false;
	if (label_rels == NULL || cache_stale)
		return;
	hash_seq_init(&seq, label_rels);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (e->relid == relid || e->related)
			e->stale = true;
}

/* Roles or memberships changed: reload the clearances. */
static void
label_inval_roles(Datum arg, int cacheid, uint32 hashvalue)
{
	clearances_loaded = false;
}

/* A schema changed (finsec's may have appeared or gone): start over. */
static void
label_inval_syscache(Datum arg, int cacheid, uint32 hashvalue)
{
	cache_stale = true;
}

/* Start over if anything was invalidated since the last use. */
static void
cache_refresh(void)
{
	HASHCTL		ctl;
	int			i;

	if (!callbacks_registered)
	{
		CacheRegisterRelcacheCallback(label_inval_relcache, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, label_inval_roles, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, label_inval_roles, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACENAME, label_inval_syscache, (Datum) 0);
		callbacks_registered = true;
	}
	if (!cache_stale && label_rels != NULL)
		return;
	if (label_cxt == NULL)
		label_cxt = AllocSetContextCreate(CacheMemoryContext, "finsec labels",
										  ALLOCSET_SMALL_SIZES);
	/* Cleared first: an error below leaves the cache stale, not half-built. */
	cache_stale = false;
	label_rels = NULL;
	clearances = NULL;
	n_clearances = 0;
	clearances_loaded = false;
	MemoryContextReset(label_cxt);
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(LabelRel);
	ctl.hcxt = label_cxt;
	label_rels = hash_create("finsec labels", 64, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	finsec_nsp = get_namespace_oid("finsec", true);
	for (i = 0; i < (int) N_PROTECTED_TYPES; i++)
		protected_types[i] = OidIsValid(finsec_nsp) ?
			GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
							CStringGetDatum(protected_type_names[i]),
							ObjectIdGetDatum(finsec_nsp)) : InvalidOid;
}

static bool
is_protected_type(Oid typid)
{
	int			i;
	Oid			elem;

	typid = getBaseType(typid);
	elem = get_element_type(typid);
	if (OidIsValid(elem))
		typid = getBaseType(elem);
	for (i = 0; i < (int) N_PROTECTED_TYPES; i++)
	{
		/* Created after the cache was (an extension update): look again. */
		if (!OidIsValid(protected_types[i]) && OidIsValid(finsec_nsp))
			protected_types[i] = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
												 CStringGetDatum(protected_type_names[i]),
												 ObjectIdGetDatum(finsec_nsp));
		if (OidIsValid(protected_types[i]) && typid == protected_types[i])
			return true;
	}
	return false;
}

/*
 * The finsec labels of relation relid: rank of the table's own label in
 * *table_rank, those of its columns in a palloc'd array indexed by
 * attribute number (up to natts; unknown labels count as sensitive).
 */
static uint8 *
own_labels(Oid relid, int natts, int *table_rank)
{
	Relation	rel;
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tup;
	uint8	   *ranks = palloc0(natts + 1);

	*table_rank = RANK_NONE;
	rel = table_open(SecLabelRelationId, AccessShareLock);
	ScanKeyInit(&keys[0], Anum_pg_seclabel_objoid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	ScanKeyInit(&keys[1], Anum_pg_seclabel_classoid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(RelationRelationId));
	scan = systable_beginscan(rel, SecLabelObjectIndexId, true, NULL, 2, keys);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		FormData_pg_seclabel *form = (FormData_pg_seclabel *) GETSTRUCT(tup);
		bool		isnull;
		Datum		d;
		char	   *provider;
		int			rank;

		d = heap_getattr(tup, Anum_pg_seclabel_provider, RelationGetDescr(rel), &isnull);
		if (isnull)
			continue;
		provider = TextDatumGetCString(d);
		if (strcmp(provider, PROVIDER) != 0)
			continue;
		d = heap_getattr(tup, Anum_pg_seclabel_label, RelationGetDescr(rel), &isnull);
		rank = isnull ? RANK_NONE : label_rank(TextDatumGetCString(d));
		if (rank < 0)
			rank = RANK_MAX;
		if (form->objsubid == 0)
			*table_rank = Max(*table_rank, rank);
		else if (form->objsubid > 0 && form->objsubid <= natts)
			ranks[form->objsubid] = Max(ranks[form->objsubid], rank);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return ranks;
}

/* The number of attributes of relid, -1 when it is gone. */
static int
rel_natts(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	int			n;

	if (!HeapTupleIsValid(tup))
		return -1;
	n = ((Form_pg_class) GETSTRUCT(tup))->relnatts;
	ReleaseSysCache(tup);
	return n;
}

/* The inheritance ancestors of relid, nearest first (pg_inherits upwards). */
static List *
ancestors_of(Oid relid)
{
	List	   *out = NIL;
	List	   *todo = list_make1_oid(relid);
	Relation	inh = table_open(InheritsRelationId, AccessShareLock);

	while (todo != NIL)
	{
		Oid			child = linitial_oid(todo);
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	tup;

		todo = list_delete_first(todo);
		ScanKeyInit(&key, Anum_pg_inherits_inhrelid, BTEqualStrategyNumber,
					F_OIDEQ, ObjectIdGetDatum(child));
		scan = systable_beginscan(inh, InheritsRelidSeqnoIndexId, true, NULL, 1, &key);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			Oid			parent = ((Form_pg_inherits) GETSTRUCT(tup))->inhparent;

			if (parent != relid && !list_member_oid(out, parent))
			{
				out = lappend_oid(out, parent);
				todo = lappend_oid(todo, parent);
			}
		}
		systable_endscan(scan);
	}
	table_close(inh, AccessShareLock);
	return out;
}

/*
 * Effective labels of relation relid (NULL when it is gone): its own,
 * raised by those of its ancestors' and descendants' tables and
 * same-named columns.
 */
static LabelRel *
label_rel(Oid relid)
{
	LabelRel   *entry;
	bool		found;
	Relation	rel;
	TupleDesc	desc;
	int			natts;
	int			table_rank;
	uint8	   *ranks;
	List	   *related;
	ListCell   *lc;
	int			a;
	MemoryContext old;
	uint64		seen;

	cache_refresh();
	entry = hash_search(label_rels, &relid, HASH_FIND, NULL);
	if (entry && !entry->stale)
		return entry;

	seen = inval_count;

	rel = try_relation_open(relid, AccessShareLock);
	if (rel == NULL)
		return NULL;
	desc = RelationGetDescr(rel);
	natts = desc->natts;
	ranks = own_labels(relid, natts, &table_rank);
	related = list_concat(ancestors_of(relid),
						  list_delete_first(find_all_inheritors(relid, NoLock, NULL)));
	foreach(lc, related)
	{
		Oid			other = lfirst_oid(lc);
		int			other_natts = rel_natts(other);
		int			other_table;
		uint8	   *other_ranks;

		if (other_natts < 0)
			continue;			/* dropped meanwhile */
		other_ranks = own_labels(other, other_natts, &other_table);
		table_rank = Max(table_rank, other_table);
		for (a = 1; a <= natts; a++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, a - 1);
			AttrNumber	oa;

			if (att->attisdropped)
				continue;
			ranks[a] = Max(ranks[a], other_table);
			oa = get_attnum(other, NameStr(att->attname));
			if (oa > 0 && oa <= other_natts)
				ranks[a] = Max(ranks[a], other_ranks[oa]);
		}
	}

	/*
	 * A concurrent invalidation may have reset the cache meanwhile; one
	 * processed while reading may have been about what was read, so the entry
	 * serves this statement and is recomputed at the next.  No caller holds a
	 * stale entry now: its arrays are freed.
	 */
	cache_refresh();
	old = MemoryContextSwitchTo(label_cxt);
	entry = hash_search(label_rels, &relid, HASH_ENTER, &found);
	if (found)
	{
		pfree(entry->ranks);
		pfree(entry->masked);
	}
	entry->natts = natts;
	entry->table_rank = table_rank;
	entry->restricted = false;
	entry->stale = inval_count != seen;
	entry->ranks = palloc0(natts + 1);
	entry->masked = palloc0((natts + 1) * sizeof(bool));
	entry->related = related != NIL;
	for (a = 1; a <= natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a - 1);

		if (att->attisdropped)
			continue;
		entry->ranks[a] = Max(ranks[a], table_rank);
		entry->masked[a] = is_protected_type(att->atttypid);
		if (entry->ranks[a] >= RANK_RESTRICTED)
			entry->restricted = true;
	}
	MemoryContextSwitchTo(old);
	relation_close(rel, AccessShareLock);
	return entry;
}

/* finsec.label_clearance, with each grantee resolved to its role now. */
static void
load_clearances(void)
{
	Oid			relid;
	FinsecHeapScan s;
	List	   *rows = NIL;
	ListCell   *lc;
	int			i = 0;

	if (clearances_loaded)
		return;
	relid = OidIsValid(finsec_nsp) ? get_relname_relid("label_clearance", finsec_nsp) : InvalidOid;
	clearance_relid = relid;
	/* Marked loaded before reading: an invalidation meanwhile unmarks it. */
	clearances_loaded = true;
	if (OidIsValid(relid))
	{
		finsec_heap_scan_begin(&s, relid);
		while (finsec_heap_scan_next(&s))
		{
			bool		n1,
						n2,
						n3;
			Datum		label = slot_getattr(s.slot, 1, &n1);
			Datum		grantee = slot_getattr(s.slot, 2, &n2);
			Datum		audited = slot_getattr(s.slot, 3, &n3);
			Clearance  *c;
			Oid			role;

			if (n1 || n2)
				continue;
			role = get_role_oid(NameStr(*DatumGetName(grantee)), true);
			if (!OidIsValid(role))
				continue;		/* dropped or renamed role: no clearance */
			c = palloc(sizeof(Clearance));
			c->role = role;
			c->rank = label_rank(TextDatumGetCString(label));
			c->audited = n3 ? true : DatumGetBool(audited);
			if (c->rank >= RANK_RESTRICTED)
				rows = lappend(rows, c);
		}
		finsec_heap_scan_end(&s);
	}

	/*
	 * No cache_refresh() here: callers hold entries of the cache.  The old
	 * array is no longer used by anyone (role_cleared() loads before its
	 * loop).
	 */
	if (clearances)
		pfree(clearances);
	clearances = MemoryContextAllocZero(label_cxt, sizeof(Clearance) * (list_length(rows) + 1));
	foreach(lc, rows)
		clearances[i++] = *(Clearance *) lfirst(lc);
	n_clearances = i;
}

typedef enum Cleared
{
	NOT_CLEARED,
	CLEARED_AUDITED,
	CLEARED_UNAUDITED
} Cleared;

/*
 * Is role cleared for rank: a clearance of that label or a higher one,
 * held by the role or a role whose privileges it has (INHERIT), as for
 * privileges; a superuser only through its own memberships (superuser
 * status counts as no clearance).  Any applicable clearance with audited
 * = false makes the read unaudited.
 */
static Cleared
role_cleared(Oid role, int rank)
{
	Cleared		out = NOT_CLEARED;
	bool		is_super = superuser_arg(role);
	int			i;

	load_clearances();
	for (i = 0; i < n_clearances; i++)
	{
		Clearance  *c = &clearances[i];

		if (c->rank < rank)
			continue;
		if (is_super ? !is_member_of_role_nosuper(role, c->role) :
			!has_privs_of_role(role, c->role))
			continue;
		if (!c->audited)
			return CLEARED_UNAUDITED;
		out = CLEARED_AUDITED;
	}
	return out;
}

/* ---- the read check --------------------------------------------------------- */

/* One relation a statement reads restricted columns of. */
typedef struct ReadCheck
{
	Oid			relid;
	bool		refused;
	bool		audit;
	StringInfoData detail;
	char	   *first_refused;	/* column name, for the error */
	int			refused_rank;
} ReadCheck;

static void
json_key_value(StringInfo s, const char *key, const char *value, bool *first)
{
	if (!*first)
		appendStringInfoString(s, ", ");
	*first = false;
	escape_json(s, key);
	appendStringInfoString(s, ": ");
	if (value)
		escape_json(s, value);
	else
		appendStringInfoString(s, "null");
}

/*
 * Check the columns cols (selectedCols form) one statement reads of
 * relation relid; NULL when none is restricted.  The detail names the
 * columns, their labels and how each was allowed (cleared, masked,
 * superuser) or refused.
 */
static ReadCheck *
check_rel(Oid relid, Bitmapset *cols, Oid role, bool is_super)
{
	LabelRel   *lr;
	bool		whole_row;
	int			a;
	ReadCheck  *rc = NULL;
	bool		first_col = true;
	bool		unaudited_all = true;

	if (get_rel_namespace(relid) == finsec_nsp)
		return NULL;
	lr = label_rel(relid);
	if (lr == NULL || !lr->restricted)
		return NULL;
	whole_row = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, cols);

	for (a = 1; a <= lr->natts; a++)
	{
		const char *how;
		Cleared		cl;
		char	   *attname;

		if (lr->ranks[a] < RANK_RESTRICTED)
			continue;
		if (!whole_row && !bms_is_member(a - FirstLowInvalidHeapAttributeNumber, cols))
			continue;
		attname = get_attname(relid, a, true);
		if (attname == NULL)
			continue;
		if (rc == NULL)
		{
			rc = palloc0(sizeof(ReadCheck));
			rc->relid = relid;
			initStringInfo(&rc->detail);
			appendStringInfoString(&rc->detail, "{\"columns\": [");
		}
		cl = role_cleared(role, lr->ranks[a]);
		if (cl == CLEARED_UNAUDITED)
			how = "cleared";
		else if (cl == CLEARED_AUDITED)
		{
			how = "cleared";
			unaudited_all = false;
		}
		else if (is_super)
		{
			how = "superuser";
			unaudited_all = false;
		}
		else if (lr->masked[a])
		{
			how = "masked";
			unaudited_all = false;
		}
		else
		{
			how = "refused";
			unaudited_all = false;
			if (!rc->refused)
			{
				rc->refused = true;
				rc->first_refused = attname;
				rc->refused_rank = lr->ranks[a];
			}
		}
		if (!first_col)
			appendStringInfoString(&rc->detail, ", ");
		first_col = false;
		appendStringInfoChar(&rc->detail, '{');
		{
			bool		first = true;

			json_key_value(&rc->detail, "column", attname, &first);
			json_key_value(&rc->detail, "label", label_names[lr->ranks[a]], &first);
			json_key_value(&rc->detail, "access", how, &first);
		}
		appendStringInfoChar(&rc->detail, '}');
	}
	if (rc == NULL)
		return NULL;
	rc->audit = rc->refused || !unaudited_all;
	{
		bool		first = false;

		appendStringInfoChar(&rc->detail, ']');
		json_key_value(&rc->detail, "role", GetUserNameFromId(role, true), &first);
		json_key_value(&rc->detail, "session_user",
					   GetUserNameFromId(GetSessionUserId(), true), &first);
		json_key_value(&rc->detail, "whole_row", whole_row ? "yes" : "no", &first);
		appendStringInfoChar(&rc->detail, '}');
	}
	return rc;
}

/* Write one relation's audit row: durable, or held for the next flush. */
static void
audit_read(ReadCheck *rc)
{
	const char *event = rc->refused ? "label.read_refused" : "label.read";
	const char *object = finsec_quoted_relname(rc->relid);
	const char *desc = "read of labelled columns";

	if (rc->refused)
		desc = "read of labelled columns refused: no clearance";

	if (RecoveryInProgress())
	{
		if (rc->refused)
			return;				/* the refusal is in the server log */
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_LABEL_UNAUDITABLE),
				 errmsg("reading labelled columns of %s is refused on a standby", object),
				 errdetail("The read must be recorded in the audit ledger, which a standby cannot write."),
				 errhint("Read on the primary, or grant a clearance with audited = false.")));
	}
	if (XactReadOnly)
	{
		/* A read-only transaction writes no row: the ledger flush does. */
		if (!finsec_audit_put_aborted(GetUserId(), event, object, "read", !rc->refused,
									  desc, rc->detail.data))
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_AUDIT_BUFFER_FULL),
					 errmsg("reading labelled columns of %s is refused: the finsec audit event buffer is full", object),
					 errhint("Retry after the audit sealer has flushed the buffer.")));
		return;
	}
	finsec_audit_event_durable(event, object, "read", !rc->refused, desc,
							   DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																  CStringGetDatum(rc->detail.data))));
}

/*
 * The ExecutorCheckPerms callback: every relation of the statement that
 * reads a restricted column; refusals and audited reads each leave one
 * ledger row per relation, then the first refusal raises 42501.
 */
static bool
label_check_perms(List *rangeTable, bool ereport_on_violation)
{
	List	   *checks = NIL;
	List	   *relids = NIL;
	List	   *colsets = NIL;
	ListCell   *lc;
	ListCell   *lc2;
	ReadCheck  *refused = NULL;
	Oid			role;
	bool		is_super;

	/*
	 * Not checked: finsec's own ledger writes (in_check), parallel workers
	 * (the leader checked the statement) and the queries of foreign-key
	 * triggers (the only ones run with SECURITY_NOFORCE_RLS): they return no
	 * value, run once per row, and need REFERENCES on the labelled table,
	 * which its owner grants.
	 */
	if (in_check || IsParallelWorker() || !IsTransactionState() ||
		InNoForceRLSOperation())
		return true;
	role = GetUserId();
	is_super = superuser_arg(role);
	in_check = true;
	PG_TRY();
	{
		cache_refresh();
		/* Without the extension in this database, labels are inert. */
		foreach(lc, OidIsValid(finsec_nsp) ? rangeTable : NIL)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
			int			i;

			if (rte->rtekind != RTE_RELATION || !(rte->requiredPerms & ACL_SELECT) ||
				bms_is_empty(rte->selectedCols))
				continue;
			/* One check (and row) per relation: a self-join reads it once. */
			if (!list_member_oid(relids, rte->relid))
			{
				relids = lappend_oid(relids, rte->relid);
				colsets = lappend(colsets, bms_copy(rte->selectedCols));
				continue;
			}
			i = 0;
			foreach(lc2, relids)
			{
				if (lfirst_oid(lc2) == rte->relid)
				{
					ListCell   *cs = list_nth_cell(colsets, i);

					lfirst(cs) = bms_union(lfirst(cs), rte->selectedCols);
					break;
				}
				i++;
			}
		}
		forboth(lc, relids, lc2, colsets)
		{
			ReadCheck  *rc = check_rel(lfirst_oid(lc), lfirst(lc2), role, is_super);

			if (rc == NULL)
				continue;
			if (rc->refused && refused == NULL)
				refused = rc;
			checks = lappend(checks, rc);
		}
		if (ereport_on_violation)
		{
			foreach(lc, checks)
			{
				ReadCheck  *rc = lfirst(lc);

				/* A refused statement reads nothing: only refusals count. */
				if (refused ? rc->refused : rc->audit)
					audit_read(rc);
			}
		}
	}
	PG_FINALLY();
	{
		in_check = false;
	}
	PG_END_TRY();

	if (refused == NULL)
		return true;
	if (!ereport_on_violation)
		return false;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to read column %s of %s",
					quote_identifier(refused->first_refused),
					finsec_quoted_relname(refused->relid)),
			 errdetail("The column is labelled %s and role %s holds no finsec clearance for it.",
					   label_names[refused->refused_rank],
					   GetUserNameFromId(role, true)),
			 errhint("A clearance is granted with finsec.label_grant() and approved by a second finsec administrator.")));
	return false;				/* not reached */
}

/* ---- the label provider ----------------------------------------------------- */

/* The relation or column described by object, for messages. */
static char *
object_name(Oid relid, int32 subid)
{
	char	   *rel = finsec_quoted_relname(relid);
	char	   *att;

	if (subid <= 0)
		return psprintf("table %s", rel);
	att = get_attname(relid, subid, true);
	return psprintf("column %s of %s", quote_identifier(att ? att : "?"), rel);
}

/* Refuse objects other than tables (and the like) and their columns. */
static void
check_labelled_object(Oid classId, Oid relid, int32 subid)
{
	char		relkind;

	if (classId != RelationRelationId)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("finsec sensitivity labels apply only to tables, views, materialized views, foreign tables and their columns")));
	relkind = get_rel_relkind(relid);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE &&
		relkind != RELKIND_VIEW && relkind != RELKIND_MATVIEW &&
		relkind != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("finsec sensitivity labels apply only to tables, views, materialized views, foreign tables and their columns"),
				 errdetail("%s is of another kind.", finsec_quoted_relname(relid))));
	if (subid < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("system columns carry no finsec sensitivity label")));
	if (get_rel_namespace(relid) == get_namespace_oid("finsec", true))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("finsec's own tables carry no sensitivity label"),
				 errdetail("Access to them is governed by finsec's roles.")));
}

static int
checked_rank(const char *seclabel)
{
	int			rank = label_rank(seclabel);

	if (rank < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not a finsec sensitivity label", seclabel),
				 errhint("The labels are public, internal, quasi_identifier, identifier and sensitive.")));
	return rank;
}

/*
 * The provider's check of SECURITY LABEL FOR finsec (PostgreSQL has
 * already checked ownership): valid object and label; a restricted label
 * is lowered or removed only under the permit of an approved
 * protect.label_change.  Every backend recomputes the relation's
 * effective labels (and those of its relatives: any relcache invalidation
 * drops the whole cache).
 */
static void
label_provider_check(const ObjectAddress *object, const char *seclabel)
{
	int			new_rank;
	int			old_rank;

	check_labelled_object(object->classId, object->objectId, object->objectSubId);
	new_rank = checked_rank(seclabel);
	old_rank = label_rank(GetSecurityLabel(object, PROVIDER));
	if (old_rank < 0)
		old_rank = RANK_MAX;
	if (old_rank >= RANK_RESTRICTED && new_rank < old_rank &&
		!(permit.active && permit.relid == object->objectId &&
		  permit.subid == object->objectSubId &&
		  label_rank(permit.label) == new_rank))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_LABEL_LOWERING),
				 errmsg("the finsec label %s of %s cannot be %s directly",
						label_names[old_rank],
						object_name(object->objectId, object->objectSubId),
						seclabel ? "lowered" : "removed"),
				 errdetail("Lowering or removing a quasi_identifier, identifier or sensitive label takes two administrators."),
				 errhint("Request it with finsec.label_change(); a second finsec administrator approves it.")));
	CacheInvalidateRelcacheByRelid(object->objectId);
}

/* ---- SQL functions ----------------------------------------------------------- */

/* Resolve (tbl, col or NULL) to an attribute number (0: the table). */
static int32
arg_subid(FunctionCallInfo fcinfo, Oid relid, int n)
{
	char	   *col;
	AttrNumber	att;

	if (PG_ARGISNULL(n))
		return 0;
	col = NameStr(*PG_GETARG_NAME(n));
	att = get_attnum(relid, col);
	if (att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column %s of %s does not exist", quote_identifier(col),
						finsec_quoted_relname(relid))));
	return att;
}

PG_FUNCTION_INFO_V1(finsec_label_current);

/*
 * finsec._label_current(tbl regclass, col name): the finsec label of a
 * table (col NULL) or column itself, after checking it can carry one.
 */
Datum
finsec_label_current(PG_FUNCTION_ARGS)
{
	Oid			relid;
	ObjectAddress obj;
	char	   *label;

	finsec_require_arg(fcinfo, 0, "table");
	relid = PG_GETARG_OID(0);
	finsec_check_relation_exists(relid);
	obj.classId = RelationRelationId;
	obj.objectId = relid;
	obj.objectSubId = arg_subid(fcinfo, relid, 1);
	check_labelled_object(obj.classId, relid, obj.objectSubId);
	label = GetSecurityLabel(&obj, PROVIDER);
	if (label == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(label));
}

PG_FUNCTION_INFO_V1(finsec_label_apply);

/*
 * finsec._label_apply(tbl, col, new_label, expected): the apply step of an
 * approved protect.label_change, called by finsec's PL/pgSQL apply
 * function (in finsec.approve, as finsec's owner): the label must still
 * be the one the request pinned; SECURITY LABEL then runs with the
 * permit that lets the provider lower or remove it.
 */
Datum
finsec_label_apply(PG_FUNCTION_ARGS)
{
	Oid			relid;
	int32		subid;
	char	   *new_label;
	char	   *expected;
	char	   *current;
	ObjectAddress obj;
	SecLabelStmt *stmt;
	char	   *nsp;
	char	   *rel;
	char		relkind;

	if (!finsec_called_by_finsec_plpgsql() && !superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to change a finsec label directly"),
				 errhint("Request it with finsec.label_change(); a second finsec administrator approves it.")));
	finsec_require_arg(fcinfo, 0, "table");
	relid = PG_GETARG_OID(0);
	finsec_check_relation_exists(relid);
	subid = arg_subid(fcinfo, relid, 1);
	new_label = finsec_text_arg_opt(fcinfo, 2);
	expected = finsec_text_arg_opt(fcinfo, 3);
	check_labelled_object(RelationRelationId, relid, subid);
	(void) checked_rank(new_label);

	obj.classId = RelationRelationId;
	obj.objectId = relid;
	obj.objectSubId = subid;
	current = GetSecurityLabel(&obj, PROVIDER);
	if ((current == NULL) != (expected == NULL) ||
		(current && strcmp(current, expected) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_LABEL_CHANGED),
				 errmsg("the finsec label of %s is no longer the one the request pinned",
						object_name(relid, subid)),
				 errdetail("It is %s now; the request expected %s.",
						   current ? current : "(none)", expected ? expected : "(none)"),
				 errhint("Reject this request and file a new one.")));

	nsp = get_namespace_name(get_rel_namespace(relid));
	rel = get_rel_name(relid);
	relkind = get_rel_relkind(relid);
	stmt = makeNode(SecLabelStmt);
	stmt->provider = pstrdup(PROVIDER);
	stmt->label = new_label;
	if (subid > 0)
	{
		stmt->objtype = OBJECT_COLUMN;
		stmt->object = (Node *) list_make3(makeString(nsp), makeString(rel),
										   makeString(get_attname(relid, subid, false)));
	}
	else
	{
		stmt->objtype = relkind == RELKIND_VIEW ? OBJECT_VIEW :
			relkind == RELKIND_MATVIEW ? OBJECT_MATVIEW :
			relkind == RELKIND_FOREIGN_TABLE ? OBJECT_FOREIGN_TABLE : OBJECT_TABLE;
		stmt->object = (Node *) list_make2(makeString(nsp), makeString(rel));
	}
	permit.relid = relid;
	permit.subid = subid;
	permit.label = new_label;
	permit.active = true;
	PG_TRY();
	{
		ExecSecLabelStmt(stmt);
	}
	PG_FINALLY();
	{
		permit.active = false;
	}
	PG_END_TRY();
	if (current == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(current));
}

PG_FUNCTION_INFO_V1(finsec_label_effective);

/*
 * finsec._label_effective(tbl regclass, attnum smallint): the effective
 * label of a column (attnum 0: of the table), NULL when it has none.
 */
Datum
finsec_label_effective(PG_FUNCTION_ARGS)
{
	Oid			relid;
	int			attnum;
	LabelRel   *lr;
	int			rank;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	relid = PG_GETARG_OID(0);
	attnum = PG_GETARG_INT16(1);
	lr = label_rel(relid);
	if (lr == NULL || attnum < 0 || attnum > lr->natts)
		PG_RETURN_NULL();
	rank = attnum == 0 ? lr->table_rank : lr->ranks[attnum];
	if (rank == RANK_NONE)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(label_names[rank]));
}

PG_FUNCTION_INFO_V1(finsec_label_masked_type);

/* finsec._label_masked_type(type oid): is it a protected (masked) type? */
Datum
finsec_label_masked_type(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	cache_refresh();
	PG_RETURN_BOOL(is_protected_type(PG_GETARG_OID(0)));
}

PG_FUNCTION_INFO_V1(finsec_label_clearance_changed);

/* Statement trigger on finsec.label_clearance: every backend reloads it. */
Datum
finsec_label_clearance_changed(PG_FUNCTION_ARGS)
{
	finsec_relcache_trigger(fcinfo, "finsec._label_clearance_changed()");
	return PointerGetDatum(NULL);
}

/* ---- wiring ------------------------------------------------------------------- */

void
finsec_protect_label_define_settings(void)
{
}

/*
 * Preloaded only, like every hook of finsec: without the library preloaded
 * there is no provider, so SECURITY LABEL FOR finsec (and pg_restore of
 * finsec labels) fails rather than storing labels nothing enforces.
 */
void
finsec_protect_label_init(void)
{
	register_label_provider(PROVIDER, label_provider_check);
	finsec_hooks_register_check_perms(FINSEC_CHECK_PERMS_LABELS, label_check_perms);
}
