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
#include "catalog/heap.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_attrdef.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_policy.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_rewrite.h"
#include "catalog/pg_seclabel.h"
#include "catalog/pg_statistic_ext.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/seclabel.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
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

/*
 * Relations whose constraint errors must not print row values: those with
 * a restricted column of a plain type, by name, for the emit_log callback
 * (which may not read catalogs).  Kept in TopMemoryContext, updated
 * whenever label_rel() computes an entry; a relation is never removed
 * (a dropped one's name hides the details of a new one of that name: the
 * safe side).
 */
typedef struct HiddenRel
{
	Oid			relid;
	bool		hide;
	NameData	nspname;
	NameData	relname;
} HiddenRel;

static void label_error_context(void *arg);

/* Put label_error_context on the error context stack (popped by the caller). */
static void
push_error_context(ErrorContextCallback *cb)
{
	cb->callback = label_error_context;
	cb->arg = NULL;
	cb->previous = error_context_stack;
	error_context_stack = cb;
}

static HiddenRel *hidden_rels = NULL;
static int	n_hidden = 0;
static int	max_hidden = 0;

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
		finsec_register_relcache_callback(label_inval_relcache, (Datum) 0);
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

/* Record whether relid's constraint errors hide their row values. */
static void
note_hidden(Oid relid, bool hide)
{
	int			i;
	char	   *nsp;
	char	   *rel;

	for (i = 0; i < n_hidden; i++)
		if (hidden_rels[i].relid == relid)
			break;
	if (i == n_hidden && !hide)
		return;
	nsp = get_namespace_name(get_rel_namespace(relid));
	rel = get_rel_name(relid);
	if (nsp == NULL || rel == NULL)
		return;
	if (i == n_hidden)
	{
		if (n_hidden == max_hidden)
		{
			int			n = max_hidden ? max_hidden * 2 : 16;

			hidden_rels = hidden_rels ?
				repalloc(hidden_rels, sizeof(HiddenRel) * n) :
				MemoryContextAlloc(TopMemoryContext, sizeof(HiddenRel) * n);
			max_hidden = n;
		}
		hidden_rels[i].relid = relid;
		n_hidden++;
	}
	namestrcpy(&hidden_rels[i].nspname, nsp);
	namestrcpy(&hidden_rels[i].relname, rel);
	/* Once hidden, stays hidden until the relation itself says otherwise. */
	hidden_rels[i].hide = hide;
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
	List	   *descendants;
	bool		hide = false;

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
	descendants = list_delete_first(find_all_inheritors(relid, NoLock, NULL));
	related = list_concat(ancestors_of(relid), descendants);
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
		{
			entry->restricted = true;
			if (!entry->masked[a])
				hide = true;
		}
	}
	MemoryContextSwitchTo(old);
	relation_close(rel, AccessShareLock);

	/*
	 * Constraint errors of this relation, and of its descendants (an error
	 * names the partition or child the row went to, which may never be read
	 * itself), hide row values.
	 */
	note_hidden(relid, hide);
	if (hide)
		foreach(lc, descendants)
			note_hidden(lfirst_oid(lc), true);
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

			/*
			 * A relation written to: its entry (and the names the emit_log
			 * callback hides constraint details of) is made now.
			 */
			if (rte->rtekind == RTE_RELATION &&
				(rte->requiredPerms & (ACL_INSERT | ACL_UPDATE | ACL_DELETE)) &&
				get_rel_namespace(rte->relid) != finsec_nsp)
				(void) label_rel(rte->relid);
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

/* ---- statistics of restricted plain columns (pg_stats) --------------------- */

/*
 * Turn statistics off for column attnum of relid when it is of a plain
 * type: attstattarget 0 (ANALYZE, autovacuum's too, then skips it) and
 * its pg_statistic rows removed.  Columns of protected types keep theirs
 * (they hold sealed values).
 */
static void
scrub_column(Oid relid, AttrNumber attnum)
{
	HeapTuple	tup;
	Form_pg_attribute att;

	tup = SearchSysCacheCopyAttNum(relid, attnum);
	if (!HeapTupleIsValid(tup))
		return;
	att = (Form_pg_attribute) GETSTRUCT(tup);
	if (att->attisdropped || is_protected_type(att->atttypid))
	{
		heap_freetuple(tup);
		return;
	}
	if (att->attstattarget != 0)
	{
		Relation	attrel = table_open(AttributeRelationId, RowExclusiveLock);

		att->attstattarget = 0;
		CatalogTupleUpdate(attrel, &tup->t_self, tup);
		table_close(attrel, RowExclusiveLock);
	}
	heap_freetuple(tup);
	RemoveStatistics(relid, attnum);
}

/* relid, its inheritance ancestors and its descendants. */
static List *
tree_of(Oid relid)
{
	return lcons_oid(relid, list_concat(ancestors_of(relid),
										list_delete_first(find_all_inheritors(relid, AccessShareLock,
																			  NULL))));
}

/*
 * A restricted label is being set on relid (subid 0) or its column subid:
 * statistics off for the plain columns it restricts in the whole
 * inheritance tree (the label is not stored yet, so from the object).
 */
static void
scrub_for_label(Oid relid, int32 subid)
{
	List	   *tree = tree_of(relid);
	char	   *attname = subid > 0 ? get_attname(relid, subid, true) : NULL;
	ListCell   *lc;

	if (subid > 0 && attname == NULL)
		return;
	foreach(lc, tree)
	{
		Oid			other = lfirst_oid(lc);

		if (subid > 0)
		{
			AttrNumber	oa = get_attnum(other, attname);

			if (oa > 0)
				scrub_column(other, oa);
		}
		else
		{
			int			n = rel_natts(other);
			int			a;

			for (a = 1; a <= n; a++)
				scrub_column(other, a);
		}
	}
}

/*
 * After CREATE or ALTER TABLE of relid: statistics off for every restricted
 * plain column of its inheritance tree (a new partition, child or column).
 */
static void
scrub_tree(Oid relid)
{
	LabelRel   *lr;
	List	   *todo = NIL;
	ListCell   *lc;

	if (!OidIsValid(relid))
		return;
	CommandCounterIncrement();
	lr = label_rel(relid);
	if (lr == NULL || !lr->restricted)
		return;
	foreach(lc, tree_of(relid))
	{
		Oid			other = lfirst_oid(lc);
		LabelRel   *olr = label_rel(other);
		int			a;

		if (olr == NULL)
			continue;
		for (a = 1; a <= olr->natts; a++)
			if (olr->ranks[a] >= RANK_RESTRICTED && !olr->masked[a])
				todo = lappend(todo, list_make2_oid(other, (Oid) a));
	}
	foreach(lc, todo)
	{
		List	   *pair = lfirst(lc);

		scrub_column(linitial_oid(pair), (AttrNumber) lsecond_oid(pair));
	}
}

/* ---- DDL on labelled tables (ProcessUtility) ------------------------------ */

static Oid
rv_relid(RangeVar *rv)
{
	if (rv == NULL)
		return InvalidOid;
	return RangeVarGetRelid(rv, NoLock, true);
}

/* The highest restricted effective label of lr's columns (0: none). */
static int
restricted_rank(LabelRel *lr)
{
	int			rank = lr->table_rank >= RANK_RESTRICTED ? lr->table_rank : RANK_NONE;
	int			a;

	for (a = 1; a <= lr->natts; a++)
		if (lr->ranks[a] >= RANK_RESTRICTED)
			rank = Max(rank, lr->ranks[a]);
	return rank;
}

/* Has lr a restricted column of a plain (not protected) type? */
static bool
has_plain_restricted(LabelRel *lr)
{
	int			a;

	for (a = 1; a <= lr->natts; a++)
		if (lr->ranks[a] >= RANK_RESTRICTED && !lr->masked[a])
			return true;
	return false;
}

/*
 * Refuse what (a statement that evaluates code or expressions on the rows
 * of relid without the read check) to a role not cleared for every
 * restricted label of relid's inheritance tree.  Superusers read audited
 * and can change anything anyway: not refused.
 */
static void
ddl_guard(Oid relid, const char *what)
{
	LabelRel   *lr;
	int			rank;
	Oid			role = GetUserId();

	if (!OidIsValid(relid) || superuser_arg(role) ||
		get_rel_namespace(relid) == finsec_nsp)
		return;
	lr = label_rel(relid);
	if (lr == NULL || !lr->restricted)
		return;
	rank = restricted_rank(lr);
	if (role_cleared(role, rank) != NOT_CLEARED)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_LABEL_DDL),
			 errmsg("%s on %s is refused: the table has columns labelled %s and role %s holds no finsec clearance for them",
					what, finsec_quoted_relname(relid), label_names[rank],
					GetUserNameFromId(role, true)),
			 errdetail("The statement would evaluate expressions or code on the table's rows without the label check."),
			 errhint("The role needs a clearance for %s (finsec.label_grant), or a cleared role runs the statement.",
					 label_names[rank])));
}

/*
 * Statistics on restricted plain columns stay off (pg_stats would show
 * their values to roles with SELECT): refuse a target other than 0 for
 * such a column of relid, to everyone.
 */
static void
statistics_guard(Oid relid, AlterTableCmd *cmd)
{
	LabelRel   *lr;
	AttrNumber	attnum;

	if (cmd->name == NULL || cmd->def == NULL || !IsA(cmd->def, Integer) ||
		intVal(cmd->def) == 0)
		return;
	attnum = get_attnum(relid, cmd->name);
	lr = label_rel(relid);
	if (lr == NULL || attnum <= 0 || attnum > lr->natts ||
		lr->ranks[attnum] < RANK_RESTRICTED || lr->masked[attnum])
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_LABEL_STATISTICS),
			 errmsg("statistics of column %s of %s stay off: it is labelled %s",
					quote_identifier(cmd->name), finsec_quoted_relname(relid),
					label_names[lr->ranks[attnum]]),
			 errdetail("pg_stats would show the column's most common values to roles with SELECT on it."),
			 errhint("Store the values in a protected type (finsec.protected_text) to have statistics.")));
}

/* Refuse CREATE STATISTICS on a table with restricted plain columns. */
static void
extended_statistics_guard(Oid relid)
{
	LabelRel   *lr;

	if (!OidIsValid(relid) || get_rel_namespace(relid) == finsec_nsp)
		return;
	lr = label_rel(relid);
	if (lr == NULL || !has_plain_restricted(lr))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_LABEL_STATISTICS),
			 errmsg("extended statistics on %s are refused: it has labelled columns of plain types",
					finsec_quoted_relname(relid)),
			 errdetail("pg_stats_ext would show their most common values to roles with SELECT on them.")));
}

static void
append_label_statement(StringInfo hint, Oid relid, const char *attname, int rank)
{
	if (hint->len > 0)
		appendStringInfoChar(hint, ' ');
	if (attname)
		appendStringInfo(hint, "SECURITY LABEL FOR finsec ON COLUMN %s.%s IS '%s';",
						 finsec_quoted_relname(relid), quote_identifier(attname),
						 label_names[rank]);
	else
		appendStringInfo(hint, "SECURITY LABEL FOR finsec ON TABLE %s IS '%s';",
						 finsec_quoted_relname(relid), label_names[rank]);
}

/*
 * DETACH PARTITION child from parent, or child NO INHERIT parent (what):
 * the child's rows keep only its own labels (and those of its
 * descendants), so refuse while its own labels do not cover the
 * restricted ones it has through parent and parent's ancestors; the hint
 * gives the statements that label the child first.
 */
static void
detach_guard(Oid child, Oid parent, const char *what)
{
	int			natts;
	int			own_table;
	int			need_table = RANK_NONE;
	uint8	   *own;
	uint8	   *need;
	List	   *up;
	ListCell   *lc;
	int			a;
	StringInfoData hint;

	if (!OidIsValid(child) || !OidIsValid(parent) ||
		get_rel_namespace(child) == finsec_nsp)
		return;
	natts = rel_natts(child);
	if (natts < 0)
		return;
	own = own_labels(child, natts, &own_table);
	need = palloc0(natts + 1);
	up = lcons_oid(parent, ancestors_of(parent));
	foreach(lc, up)
	{
		Oid			other = lfirst_oid(lc);
		int			on = rel_natts(other);
		int			ot;
		uint8	   *oranks;

		if (on < 0)
			continue;
		oranks = own_labels(other, on, &ot);
		need_table = Max(need_table, ot);
		for (a = 1; a <= natts; a++)
		{
			char	   *name = get_attname(child, a, true);
			AttrNumber	oa;

			if (name == NULL)
				continue;
			oa = get_attnum(other, name);
			if (oa > 0 && oa <= on)
				need[a] = Max(need[a], oranks[oa]);
		}
	}
	initStringInfo(&hint);
	if (need_table >= RANK_RESTRICTED && own_table < need_table)
	{
		append_label_statement(&hint, child, NULL, need_table);
		own_table = need_table;
	}
	for (a = 1; a <= natts; a++)
	{
		char	   *name;

		if (need[a] < RANK_RESTRICTED || Max(own[a], own_table) >= need[a])
			continue;
		name = get_attname(child, a, true);
		if (name)
			append_label_statement(&hint, child, name, need[a]);
	}
	if (hint.len == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_LABEL_WOULD_DROP),
			 errmsg("%s of %s from %s is refused: its rows would lose the finsec labels they have through %s",
					what, finsec_quoted_relname(child), finsec_quoted_relname(parent),
					finsec_quoted_relname(parent)),
			 errdetail("Lowering or removing a restricted label takes two administrators (finsec.label_change); raising one is the owner's."),
			 errhint("Label the table itself first: %s", hint.data)));
}

/*
 * ALTER TABLE relid DROP COLUMN colname: a descendant whose column of that
 * name stays (its own, or inherited from another parent, or ONLY) keeps its
 * rows without the column labels it had through relid and its ancestors;
 * refuse while its own labels do not cover them.
 */
static void
drop_column_guard(Oid relid, const char *colname, bool recurse)
{
	int			need = RANK_NONE;
	ListCell   *lc;
	StringInfoData hint;

	if (colname == NULL || get_rel_namespace(relid) == finsec_nsp)
		return;
	foreach(lc, lcons_oid(relid, ancestors_of(relid)))
	{
		Oid			other = lfirst_oid(lc);
		int			on = rel_natts(other);
		int			ot;
		AttrNumber	oa = get_attnum(other, colname);

		if (on < 0 || oa <= 0 || oa > on)
			continue;
		need = Max(need, own_labels(other, on, &ot)[oa]);
	}
	if (need < RANK_RESTRICTED)
		return;
	initStringInfo(&hint);
	foreach(lc, list_delete_first(find_all_inheritors(relid, AccessShareLock, NULL)))
	{
		Oid			d = lfirst_oid(lc);
		HeapTuple	tup = SearchSysCacheAttName(d, colname);
		Form_pg_attribute att;
		bool		stays;
		AttrNumber	da;
		int			dn;
		int			ot;
		int			have;
		LabelRel   *dlr;

		if (!HeapTupleIsValid(tup))
			continue;
		att = (Form_pg_attribute) GETSTRUCT(tup);
		stays = !recurse || att->attislocal || att->attinhcount > 1;
		da = att->attnum;
		ReleaseSysCache(tup);
		dn = rel_natts(d);
		if (!stays || dn < 0 || da > dn)
			continue;
		have = own_labels(d, dn, &ot)[da];
		dlr = label_rel(d);
		if (dlr)
			have = Max(have, dlr->table_rank);
		if (have < need)
			append_label_statement(&hint, d, colname, need);
	}
	if (hint.len == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_LABEL_WOULD_DROP),
			 errmsg("DROP COLUMN %s of %s is refused: inheriting tables keep the column without its finsec label",
					quote_identifier(colname), finsec_quoted_relname(relid)),
			 errdetail("Lowering or removing a restricted label takes two administrators (finsec.label_change); raising one is the owner's."),
			 errhint("Label their columns first: %s", hint.data)));
}

/* The checks of ALTER TABLE (and ALTER INDEX, ALTER FOREIGN TABLE...). */
static Oid
alter_table_guard(AlterTableStmt *stmt)
{
	Oid			relid = rv_relid(stmt->relation);
	ListCell   *lc;
	char		relkind;

	if (!OidIsValid(relid))
		return InvalidOid;
	relkind = get_rel_relkind(relid);
	if (relkind == RELKIND_INDEX || relkind == RELKIND_PARTITIONED_INDEX)
	{
		ddl_guard(IndexGetRelation(relid, true), "ALTER INDEX");
		return InvalidOid;
	}
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		switch (cmd->subtype)
		{
			case AT_DetachPartition:
			case AT_DetachPartitionFinalize:
				detach_guard(rv_relid(((PartitionCmd *) cmd->def)->name), relid,
							 "DETACH PARTITION");
				break;
			case AT_DropInherit:
				detach_guard(relid, rv_relid((RangeVar *) cmd->def), "NO INHERIT");
				break;
			case AT_DropColumn:
				drop_column_guard(relid, cmd->name, stmt->relation->inh);
				break;
			case AT_SetStatistics:
				statistics_guard(relid, cmd);
				ddl_guard(relid, "ALTER COLUMN SET STATISTICS");
				break;
			case AT_AttachPartition:
				ddl_guard(relid, "ATTACH PARTITION");
				ddl_guard(rv_relid(((PartitionCmd *) cmd->def)->name), "ATTACH PARTITION");
				break;
			case AT_AddInherit:
				ddl_guard(relid, "INHERIT");
				ddl_guard(rv_relid((RangeVar *) cmd->def), "INHERIT");
				break;
			case AT_AddColumn:
			case AT_AddColumnToView:
				ddl_guard(relid, "ADD COLUMN");
				break;
			case AT_AlterColumnType:
				ddl_guard(relid, "ALTER COLUMN TYPE");
				break;
			case AT_AddConstraint:
				ddl_guard(relid, "ADD CONSTRAINT");
				break;
			case AT_ValidateConstraint:
				ddl_guard(relid, "VALIDATE CONSTRAINT");
				break;
			case AT_EnableTrig:
			case AT_EnableAlwaysTrig:
			case AT_EnableReplicaTrig:
			case AT_EnableTrigAll:
			case AT_EnableTrigUser:
				ddl_guard(relid, "ENABLE TRIGGER");
				break;
			case AT_EnableRule:
			case AT_EnableAlwaysRule:
			case AT_EnableReplicaRule:
				ddl_guard(relid, "ENABLE RULE");
				break;
			case AT_EnableRowSecurity:
			case AT_ForceRowSecurity:
				ddl_guard(relid, "ENABLE ROW LEVEL SECURITY");
				break;
			default:
				break;
		}
	}
	return relid;
}

/*
 * The table an object depending on a function belongs to (a trigger,
 * constraint, policy, rule, column default or generated column, index,
 * extended statistics), InvalidOid for other objects.
 */
static Oid
dependent_relid(Oid classid, Oid objid)
{
	Relation	cat;
	HeapTuple	tup;
	AttrNumber	col;
	Oid			relid = InvalidOid;

	if (classid == RelationRelationId)
	{
		char		kind = get_rel_relkind(objid);

		if (kind == RELKIND_INDEX || kind == RELKIND_PARTITIONED_INDEX)
			return IndexGetRelation(objid, true);
		return objid;
	}
	switch (classid)
	{
		case TriggerRelationId:
			col = Anum_pg_trigger_tgrelid;
			break;
		case ConstraintRelationId:
			col = Anum_pg_constraint_conrelid;
			break;
		case PolicyRelationId:
			col = Anum_pg_policy_polrelid;
			break;
		case RewriteRelationId:
			col = Anum_pg_rewrite_ev_class;
			break;
		case AttrDefaultRelationId:
			col = Anum_pg_attrdef_adrelid;
			break;
		case StatisticExtRelationId:
			col = Anum_pg_statistic_ext_stxrelid;
			break;
		default:
			return InvalidOid;
	}
	cat = table_open(classid, AccessShareLock);
	tup = get_catalog_object_by_oid(cat, get_object_attnum_oid(classid), objid);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, col, RelationGetDescr(cat), &isnull);

		if (!isnull)
			relid = DatumGetObjectId(d);
	}
	table_close(cat, AccessShareLock);
	return relid;
}

/*
 * CREATE OR REPLACE FUNCTION of an existing function that a trigger,
 * constraint, policy, rule, default, index or statistics object of a
 * labelled table uses (pg_depend): replacing its body is new code on the
 * table's rows, so the DDL guard of each such table applies.
 */
static void
replace_function_guard(CreateFunctionStmt *stmt)
{
	ObjectWithArgs *owa;
	ListCell   *lc;
	Oid			fn;
	Relation	dep;
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *rels = NIL;

	if (!stmt->replace || superuser())
		return;
	owa = makeNode(ObjectWithArgs);
	owa->objname = stmt->funcname;
	foreach(lc, stmt->parameters)
	{
		FunctionParameter *p = lfirst_node(FunctionParameter, lc);

		if (p->mode == FUNC_PARAM_IN || p->mode == FUNC_PARAM_INOUT ||
			p->mode == FUNC_PARAM_VARIADIC || p->mode == FUNC_PARAM_DEFAULT)
			owa->objargs = lappend(owa->objargs, p->argType);
	}
	fn = LookupFuncWithArgs(stmt->is_procedure ? OBJECT_PROCEDURE : OBJECT_FUNCTION, owa, true);
	if (!OidIsValid(fn) || get_func_namespace(fn) == finsec_nsp)
		return;
	dep = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&keys[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(ProcedureRelationId));
	ScanKeyInit(&keys[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(fn));
	scan = systable_beginscan(dep, DependReferenceIndexId, true, NULL, 2, keys);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend d = (Form_pg_depend) GETSTRUCT(tup);

		rels = lappend_oid(rels, dependent_relid(d->classid, d->objid));
	}
	systable_endscan(scan);
	table_close(dep, AccessShareLock);
	foreach(lc, rels)
		ddl_guard(lfirst_oid(lc), "CREATE OR REPLACE FUNCTION of a function it uses");
}

/* A trigger whose function is finsec's own (limits, monitor, periods). */
static bool
finsec_trigger_function(CreateTrigStmt *stmt)
{
	Oid			fn = LookupFuncName(stmt->funcname, 0, NULL, true);

	return OidIsValid(fn) && get_func_namespace(fn) == finsec_nsp;
}

/*
 * ProcessUtility wrapper (FINSEC_UTILITY_LABELS, finsec_hooks.h): refuse
 * DDL that would copy labelled values out without the read check or drop
 * a label path, then run the statement, then turn statistics off on
 * restricted plain columns of a new or changed table's tree.
 */
static void
label_ProcessUtility(FinsecUtilityCall *call)
{
	Node	   *parsetree = call->pstmt->utilityStmt;
	Oid			scrub = InvalidOid;
	bool		active;
	ListCell   *lc;
	ErrorContextCallback cb;

	active = IsTransactionState() && !in_check &&
		(IsA(parsetree, AlterTableStmt) || IsA(parsetree, CreateStmt) ||
		 IsA(parsetree, IndexStmt) || IsA(parsetree, CreateTrigStmt) ||
		 IsA(parsetree, RuleStmt) || IsA(parsetree, CreatePolicyStmt) ||
		 IsA(parsetree, AlterPolicyStmt) || IsA(parsetree, CreateStatsStmt) ||
		 IsA(parsetree, CreateFunctionStmt));
	if (active)
	{
		cache_refresh();
		active = OidIsValid(finsec_nsp);
	}
	if (active)
	{
		switch (nodeTag(parsetree))
		{
			case T_AlterTableStmt:
				scrub = alter_table_guard((AlterTableStmt *) parsetree);
				break;
			case T_IndexStmt:
				ddl_guard(rv_relid(((IndexStmt *) parsetree)->relation), "CREATE INDEX");
				break;
			case T_CreateTrigStmt:
				if (!finsec_trigger_function((CreateTrigStmt *) parsetree))
					ddl_guard(rv_relid(((CreateTrigStmt *) parsetree)->relation),
							  "CREATE TRIGGER");
				break;
			case T_RuleStmt:
				ddl_guard(rv_relid(((RuleStmt *) parsetree)->relation), "CREATE RULE");
				break;
			case T_CreatePolicyStmt:
				ddl_guard(rv_relid(((CreatePolicyStmt *) parsetree)->table), "CREATE POLICY");
				break;
			case T_AlterPolicyStmt:
				ddl_guard(rv_relid(((AlterPolicyStmt *) parsetree)->table), "ALTER POLICY");
				break;
			case T_CreateFunctionStmt:
				replace_function_guard((CreateFunctionStmt *) parsetree);
				break;
			case T_CreateStatsStmt:
				foreach(lc, ((CreateStatsStmt *) parsetree)->relations)
				{
					Node	   *n = lfirst(lc);

					if (IsA(n, RangeVar))
					{
						Oid			r = rv_relid((RangeVar *) n);

						ddl_guard(r, "CREATE STATISTICS");
						extended_statistics_guard(r);
					}
				}
				break;
			default:
				break;
		}
	}
	push_error_context(&cb);
	finsec_hooks_utility_next(call);
	error_context_stack = cb.previous;
	if (!active || !IsTransactionState())
		return;
	if (IsA(parsetree, CreateStmt))
	{
		CreateStmt *cs = (CreateStmt *) parsetree;

		if (cs->inhRelations != NIL || cs->partbound != NULL)
			scrub = rv_relid(cs->relation);
	}
	if (OidIsValid(scrub))
		scrub_tree(scrub);
}

/* ---- constraint errors (emit_log, error context) -------------------------- */

/* The replacement of a constraint error's DETAIL on table schema.table, or NULL. */
static const char *
hidden_detail(const char *schema, const char *table, int sqlerrcode)
{
	int			i;

	if (table == NULL ||
		ERRCODE_TO_CATEGORY(sqlerrcode) != ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION)
		return NULL;
	for (i = 0; i < n_hidden; i++)
	{
		HiddenRel  *h = &hidden_rels[i];

		if (!h->hide || strcmp(NameStr(h->relname), table) != 0 ||
			(schema && strcmp(NameStr(h->nspname), schema) != 0))
			continue;
		if (sqlerrcode == ERRCODE_UNIQUE_VIOLATION ||
			sqlerrcode == ERRCODE_EXCLUSION_VIOLATION ||
			sqlerrcode == ERRCODE_FOREIGN_KEY_VIOLATION)
			return "Key values of labelled columns (hidden by finsec).";
		return "Failing row contains values of labelled columns (hidden by finsec).";
	}
	return NULL;
}

static MemoryContext errcopy_cxt = NULL;

/*
 * Error context callback, on the stack while a statement executes (see
 * FINSEC_EXECUTOR_LABELS and FINSEC_UTILITY_LABELS): errfinish calls it
 * for every error, also one a PL/pgSQL handler will catch, after the
 * error's fields are set; it reads the table the error names and replaces
 * the DETAIL (errdetail applies to the error being raised).
 */
static void
label_error_context(void *arg)
{
	ErrorData  *copy;
	MemoryContext old;
	const char *detail;

	if (n_hidden == 0 ||
		ERRCODE_TO_CATEGORY(geterrcode()) != ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION)
		return;
	if (errcopy_cxt == NULL)
		errcopy_cxt = AllocSetContextCreate(TopMemoryContext, "finsec label errors",
											ALLOCSET_SMALL_SIZES);
	/* CopyErrorData may not copy into ErrorContext, where callbacks run */
	old = MemoryContextSwitchTo(errcopy_cxt);
	copy = CopyErrorData();
	MemoryContextSwitchTo(old);
	detail = (copy->detail || copy->detail_log) ?
		hidden_detail(copy->schema_name, copy->table_name, copy->sqlerrcode) : NULL;
	MemoryContextReset(errcopy_cxt);
	if (detail)
		errdetail("%s", detail);
}

/* ExecutorRun wrapper (FINSEC_EXECUTOR_LABELS): the context callback around the rest. */
static void
label_ExecutorRun(FinsecExecutorRunCall *call)
{
	ErrorContextCallback cb;

	push_error_context(&cb);
	finsec_hooks_executor_run_next(call);
	error_context_stack = cb.previous;
}

/* ExecutorFinish wrapper: the same (AFTER triggers: deferred checks of the statement). */
static void
label_ExecutorFinish(FinsecExecutorFinishCall *call)
{
	ErrorContextCallback cb;

	push_error_context(&cb);
	finsec_hooks_executor_finish_next(call);
	error_context_stack = cb.previous;
}

/*
 * emit_log callback (FINSEC_EMIT_LOG_LABELS): the DETAIL of an integrity-
 * constraint error on a relation with restricted plain columns would print
 * the row or key values, labelled ones included, to the client and the
 * server log; replace it.  Only the names the read check cached: no
 * catalog access, no throw.  Runs only for errors that go to the server
 * log (output_to_server), which PostgreSQL decides before the hook.
 */
static void
label_emit_log(ErrorData *edata)
{
	const char *detail;

	if (edata->detail == NULL && edata->detail_log == NULL)
		return;
	detail = hidden_detail(edata->schema_name, edata->table_name, edata->sqlerrcode);
	if (detail == NULL || (edata->detail && strcmp(edata->detail, detail) == 0))
		return;
	edata->detail = pstrdup(detail);
	edata->detail_log = NULL;
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
	/* pg_stats shows no value of a restricted plain column */
	if (new_rank >= RANK_RESTRICTED)
	{
		cache_refresh();
		scrub_for_label(object->objectId, object->objectSubId);
	}
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
	finsec_hooks_register_utility(FINSEC_UTILITY_LABELS, label_ProcessUtility);
	finsec_hooks_register_emit_log(FINSEC_EMIT_LOG_LABELS, label_emit_log);
	finsec_hooks_register_executor(FINSEC_EXECUTOR_LABELS, label_ExecutorRun,
								   label_ExecutorFinish);
}
