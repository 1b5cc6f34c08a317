/*-------------------------------------------------------------------------
 *
 * history.c
 *	  What risk rules read besides the payment itself: list entries and
 *	  the payment history of a registered payments table.
 *
 * Both are read at scoring time through their indexes with the caller's
 * snapshot, with the table access method (no SPI, no plan per call).  So
 * velocity is exact and transaction-consistent by construction: a payment
 * that rolled back was never visible, a concurrent one is counted once it
 * committed (READ COMMITTED takes a snapshot per statement), and after a
 * restart the history is simply the table.  There is no counter to keep,
 * truncate or rebuild.  What is bounded is the work: a history scan stops
 * after finsec.risk_scan_limit rows of one entity, and the decision is
 * then flagged degraded (unless the partial count already fires the rule,
 * which a longer scan could only confirm: count, sum of non-negative
 * amounts and distinct values only grow).
 *
 * A velocity rule over entity E needs a B-tree index whose leading columns
 * are E's column(s) then the time column: (customer, posted_at),
 * (device, posted_at), (customer, counterparty, posted_at) for pairs (or
 * (customer, posted_at), filtering the counterparty).  First-seen rules use
 * an index on (E, of) when there is one.  A missing index makes the rules
 * that need it "unavailable" and the decision degraded, never a sequential
 * scan of the payments table.  finsec.risk_index_advice() names them.
 * A partitioned table is read partition by partition.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"
#include "utils/geo_decls.h"
#include "utils/inet.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "finsec.h"
#include "finsec_apptable.h"
#include "finsec_errcodes.h"
#include "finsec_trusted.h"
#include "finsec_owner.h"
#include "risk_engine.h"

int			finsec_risk_scan_limit = FINSEC_RISK_SCAN_LIMIT_DEFAULT;

/* ---- lists --------------------------------------------------------------- */

static FinsecRelid list_rel_id = FINSEC_RELID_INIT("finsec", "risk_list_entry");
static FinsecRelid list_value_idx_id = FINSEC_RELID_INIT("finsec", "risk_list_entry_value_idx");
static FinsecRelid list_net_idx_id = FINSEC_RELID_INIT("finsec", "risk_list_entry_net_idx");
static Oid	list_rel = InvalidOid;	/* as list_init() last found them */
static Oid	list_value_idx = InvalidOid;
static Oid	list_net_idx = InvalidOid;
static AttrNumber l_color,
			l_side,
			l_expires,
			l_removed,
			l_entry;

/* The list table, its indexes and columns; again after common's relid cache forgot them. */
static void
list_init(void)
{
	if (list_rel_id.valid && list_value_idx_id.valid && list_net_idx_id.valid)
		return;
	list_value_idx = finsec_relid(&list_value_idx_id);
	list_net_idx = finsec_relid(&list_net_idx_id);
	list_rel = finsec_relid(&list_rel_id);
	if (!OidIsValid(list_rel) || !OidIsValid(list_value_idx) || !OidIsValid(list_net_idx))
		elog(ERROR, "finsec's risk list relations are missing");
	l_color = get_attnum(list_rel, "color");
	l_side = get_attnum(list_rel, "side");
	l_expires = get_attnum(list_rel, "expires_at");
	l_removed = get_attnum(list_rel, "removed_at");
	l_entry = get_attnum(list_rel, "entry_id");
}

/* Per list type and side: the value probed, and what the probe found. */
typedef struct ListProbe
{
	bool		done;
	bool		hit[3];			/* per RiskColor */
	int64		entry[3];		/* an entry that matched, per color */
} ListProbe;

static const char *
list_value(const RiskInput *in, RiskListType t, bool payee)
{
	RiskAttr	a;

	if (payee)
		a = (t == RL_ACCOUNT) ? RA_COUNTERPARTY : RA_MERCHANT;
	else if (t == RL_CARD)
		return in->card_key;
	else
		a = (t == RL_CUSTOMER) ? RA_CUSTOMER : (t == RL_ACCOUNT) ? RA_ACCOUNT :
			(t == RL_DEVICE) ? RA_DEVICE : (t == RL_IP) ? RA_IP : RA_PHONE;
	return in->present[a] ? in->text[a] : NULL;
}

/*
 * What the probes of one call share: the list relation, its two indexes
 * and a scan of each, opened at the first probe that needs them and
 * rescanned for the next ones.
 */
typedef struct ListScans
{
	Relation	rel;
	Relation	vidx;
	Relation	nidx;
	IndexScanDesc vscan;
	IndexScanDesc nscan;
	TupleTableSlot *slot;
} ListScans;

/* Look the payment's value of list type t (payer or payee side) up in finsec.risk_list_entry. */
static void
probe_list(ListScans *ls, const RiskInput *in, RiskListType t, bool payee, ListProbe *p)
{
	IndexScanDesc scan;
	ScanKeyData keys[2];
	const char *value = list_value(in, t, payee);

	p->done = true;
	if (value == NULL && !(t == RL_IP && !payee && in->present[RA_IP]))
		return;
	if (ls->rel == NULL)
	{
		list_init();
		ls->rel = table_open(list_rel, AccessShareLock);
		ls->slot = table_slot_create(ls->rel, NULL);
	}
	if (t == RL_IP)
	{
		if (ls->nidx == NULL)
		{
			ls->nidx = index_open(list_net_idx, AccessShareLock);
			ls->nscan = index_beginscan(ls->rel, ls->nidx, GetActiveSnapshot(), 1, 0);
		}
		ScanKeyInit(&keys[0], 1, RTSuperEqualStrategyNumber, F_NETWORK_SUPEQ, in->ip);
		scan = ls->nscan;
		index_rescan(scan, keys, 1, NULL, 0);
	}
	else
	{
		if (ls->vidx == NULL)
		{
			ls->vidx = index_open(list_value_idx, AccessShareLock);
			ls->vscan = index_beginscan(ls->rel, ls->vidx, GetActiveSnapshot(), 2, 0);
		}
		ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_TEXTEQ,
					CStringGetTextDatum(finsec_risk_list_type_names[t]));
		keys[0].sk_collation = ls->vidx->rd_indcollation[0];
		ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(value));
		keys[1].sk_collation = ls->vidx->rd_indcollation[1];
		scan = ls->vscan;
		index_rescan(scan, keys, 2, NULL, 0);
	}
	while (index_getnext_slot(scan, ForwardScanDirection, ls->slot))
	{
		TupleTableSlot *slot = ls->slot;
		bool		isnull;
		Datum		d;
		char	   *s;
		int color;

		(void) slot_getattr(slot, l_removed, &isnull);
		if (!isnull)
			continue;
		d = slot_getattr(slot, l_expires, &isnull);
		if (!isnull && DatumGetTimestampTz(d) <= in->at)
			continue;
		s = TextDatumGetCString(slot_getattr(slot, l_side, &isnull));
		if (strcmp(s, "any") != 0 && strcmp(s, payee ? "payee" : "payer") != 0)
			continue;
		s = TextDatumGetCString(slot_getattr(slot, l_color, &isnull));
		color = s[0] == 'b' ? RC_BLACK : s[0] == 'g' ? RC_GREY : RC_WHITE;

		if (!p->hit[color])
		{
			p->hit[color] = true;
			p->entry[color] = DatumGetInt64(slot_getattr(slot, l_entry, &isnull));
		}
	}
}

/* Evaluate every list rule; each (type, side) is probed once. */
void
finsec_risk_probe_lists(const RiskRuleset *rs, const RiskInput *in, RiskHit *hits)
{
	ListProbe	probes[RL_COUNT][2];
	ListScans	ls;
	int			i;

	memset(probes, 0, sizeof(probes));
	memset(&ls, 0, sizeof(ls));
	for (i = 0; i < rs->nrules; i++)
	{
		const RiskRule *r = &rs->rules[i];
		ListProbe  *p;

		if (r->kind != RK_LIST || hits[i].evaluated)
			continue;
		if (r->has_when && !finsec_risk_when_matches(&r->when, in))
			continue;
		p = &probes[r->list_type][r->payee_side ? 1 : 0];
		if (!p->done)
			probe_list(&ls, in, r->list_type, r->payee_side, p);
		if (list_value(in, r->list_type, r->payee_side) == NULL &&
			!(r->list_type == RL_IP && in->present[RA_IP]))
			continue;
		hits[i].evaluated = true;
		hits[i].fired = p->hit[r->color] != r->absent;
		hits[i].observed = p->hit[r->color] ? (double) p->entry[r->color] : 0;
		hits[i].observed_text = p->hit[r->color] ? psprintf("entry %lld", (long long) p->entry[r->color])
			: pstrdup("not listed");
	}
	if (ls.vscan)
		index_endscan(ls.vscan);
	if (ls.nscan)
		index_endscan(ls.nscan);
	if (ls.vidx)
		index_close(ls.vidx, AccessShareLock);
	if (ls.nidx)
		index_close(ls.nidx, AccessShareLock);
	if (ls.slot)
		ExecDropSingleTupleTableSlot(ls.slot);
	if (ls.rel)
		table_close(ls.rel, AccessShareLock);
}

/* ---- the registered payments tables -------------------------------------- */

/* How one leaf (plain table or partition) is read. */
typedef struct HistLeaf
{
	Oid			relid;
	AttrNumber	att[RA_COUNT];	/* 0: not mapped */
	Oid			atttype[RA_COUNT];
	FinsecAmountType amount_type;	/* how the amount column becomes numeric */
	int16		typlen[RA_COUNT];
	bool		typbyval[RA_COUNT];
	Oid			time_idx[RE_COUNT]; /* (entity column(s), time) */
	bool		pair_by_customer;	/* pair scans filter the customer's index */
	Oid			seen_idx[RE_COUNT][RA_COUNT];	/* (entity column, of column) */
} HistLeaf;

typedef struct HistTable
{
	Oid			relid;
	RiskTableMap map;
	int			nleaves;
	HistLeaf   *leaves;
	struct HistTable *next;
} HistTable;

static MemoryContext hist_cxt = NULL;
static HistTable *hist_tables = NULL;
static bool hist_default_known = false;
static Oid	hist_default = InvalidOid;
static bool hist_default_ambiguous = false;

void
finsec_risk_history_invalidate(Oid relid)
{
	HistTable  *t;
	bool		drop = !OidIsValid(relid);

	for (t = hist_tables; t && !drop; t = t->next)
	{
		int			i;

		if (t->relid == relid)
			drop = true;
		for (i = 0; i < t->nleaves && !drop; i++)
			if (t->leaves[i].relid == relid)
				drop = true;
	}
	if (drop)
	{
		hist_tables = NULL;
		hist_default_known = false;

		/*
		 * This runs from a relcache callback, at any lock a history scan
		 * takes (an ANALYZE or index build on the payments table in another
		 * session is enough), while the scan holds pointers to a table's
		 * leaves: the old maps are kept until the end of the transaction, and
		 * the next lookup builds new ones.  Resetting them here was a use
		 * after free.
		 */
		if (hist_cxt)
		{
			if (IsTransactionState() && TopTransactionContext != NULL)
				MemoryContextSetParent(hist_cxt, TopTransactionContext);
			else
				MemoryContextDelete(hist_cxt);
			hist_cxt = NULL;
		}
	}
}

static const char *const map_columns[RA_COUNT] = {
	"customer_column", "account_column", "counterparty_column", "currency_column", "channel_column",
	"mcc_column", "device_column", "ip_column", "phone_column", "geo_column", "region_column",
	"merchant_column", "tier_column", "card_column", "reference_column", "amount_column",
	"posted_at_column"
};

/*
 * Read registrations from finsec.risk_table as finsec's owner.  relid
 * InvalidOid: count them, and return the only one in *only.
 */
static bool
read_map(Oid relid, RiskTableMap *map, MemoryContext cxt, int *count, Oid *only)
{
	FinsecOwnerContext ctx;
	StringInfoData sql;
	int			ret;
	int			a;
	bool		found = false;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT relid::oid");
	for (a = 0; a < RA_COUNT; a++)
		appendStringInfo(&sql, ", %s", map_columns[a]);
	/* a registration of a table dropped since is ignored */
	appendStringInfoString(&sql, " FROM finsec.risk_table t WHERE EXISTS "
						   "(SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) t.relid)");
	if (OidIsValid(relid))
		appendStringInfoString(&sql, " AND t.relid = $1");
	finsec_spi_begin_as_owner(&ctx);
	{
		Oid			argtypes[1] = {OIDOID};
		Datum		args[1] = {ObjectIdGetDatum(relid)};

		ret = SPI_execute_with_args(sql.data, OidIsValid(relid) ? 1 : 0, argtypes, args, NULL, true, 0);
	}
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading finsec.risk_table failed: %s", SPI_result_code_string(ret));
	if (count)
		*count = (int) SPI_processed;
	if (SPI_processed >= 1)
	{
		bool		isnull;
		HeapTuple	tup = SPI_tuptable->vals[0];

		found = true;
		if (only)
			*only = DatumGetObjectId(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		if (map)
		{
			map->relid = DatumGetObjectId(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
			for (a = 0; a < RA_COUNT; a++)
			{
				char	   *v = SPI_getvalue(tup, SPI_tuptable->tupdesc, a + 2);

				map->column[a] = v ? MemoryContextStrdup(cxt, v) : NULL;
			}
		}
	}
	finsec_spi_end(&ctx);
	return found;
}

Oid
finsec_risk_default_table(bool *ambiguous)
{
	if (!hist_default_known)
	{
		int			n = 0;
		Oid			only = InvalidOid;

		if (hist_cxt == NULL)
			hist_cxt = AllocSetContextCreate(CacheMemoryContext, "finsec risk history", ALLOCSET_SMALL_SIZES);
		(void) read_map(InvalidOid, NULL, NULL, &n, &only);
		hist_default = (n == 1) ? only : InvalidOid;
		hist_default_ambiguous = n > 1;
		hist_default_known = true;
	}
	*ambiguous = hist_default_ambiguous;
	return hist_default;
}

/* Columns of entity e, in index order; returns how many. */
static int
entity_attrs(RiskEntity e, RiskAttr *out)
{
	if (e == RE_PAIR)
	{
		out[0] = RA_CUSTOMER;
		out[1] = RA_COUNTERPARTY;
		return 2;
	}
	out[0] = finsec_risk_entity_attr[e];
	return 1;
}

static Oid
rel_am(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			am;

	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	am = ((Form_pg_class) GETSTRUCT(tup))->relam;
	ReleaseSysCache(tup);
	return am;
}

/* A valid plain B-tree index whose leading key columns are exactly atts (in order). */
static Oid
find_index(Relation rel, const AttrNumber *atts, int n)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			found = InvalidOid;

	foreach(lc, indexes)
	{
		Oid			ioid = lfirst_oid(lc);
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(ioid));
		Form_pg_index ind;
		bool		ok;
		int			i;

		if (!HeapTupleIsValid(tup))
			continue;
		ind = (Form_pg_index) GETSTRUCT(tup);
		ok = ind->indisvalid && ind->indisready && ind->indislive && ind->indnkeyatts >= n &&
			heap_attisnull(tup, Anum_pg_index_indpred, NULL) &&
			rel_am(ioid) == BTREE_AM_OID;
		for (i = 0; ok && i < n; i++)
			ok = ind->indkey.values[i] == atts[i];
		if (ok)
		{
			/* scanned with its operator classes: built-in or finsec's only */
			bool		isnull;
			oidvector  *classes = (oidvector *) DatumGetPointer(SysCacheGetAttr(INDEXRELID, tup,
																				Anum_pg_index_indclass,
																				&isnull));

			for (i = 0; ok && i < n; i++)
				ok = !isnull && finsec_opclass_is_trusted(classes->values[i]);
		}
		ReleaseSysCache(tup);
		if (ok)
		{
			found = ioid;
			break;
		}
	}
	list_free(indexes);
	return found;
}

/* Map the risk columns of one leaf of a payments table, and find its history indexes. */
static void
leaf_init(HistLeaf *leaf, Oid relid, const RiskTableMap *map)
{
	Relation	rel = table_open(relid, AccessShareLock);
	int			a;
	int			e;

	memset(leaf, 0, sizeof(HistLeaf));
	leaf->relid = relid;
	for (a = 0; a < RA_COUNT; a++)
	{
		if (map->column[a] == NULL)
			continue;
		leaf->att[a] = get_attnum(relid, map->column[a]);
		if (leaf->att[a] == InvalidAttrNumber)
			continue;
		leaf->atttype[a] = get_atttype(relid, leaf->att[a]);
		{
			const char *want;

			/* again at use: the table's owner can alter a column's type */
			if (!finsec_risk_type_ok(a, leaf->atttype[a], &want))
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column \"%s\" of \"%s\" registered for risk scoring is of type %s",
								map->column[a], get_rel_name(relid), format_type_be(leaf->atttype[a])),
						 errdetail("It must be %s.", want),
						 errhint("The column's type was altered after finsec.enable_risk(); restore it, or register the table again.")));
			finsec_require_trusted_type(leaf->atttype[a], "registered", map->column[a], get_rel_name(relid));
		}
		get_typlenbyval(leaf->atttype[a], &leaf->typlen[a], &leaf->typbyval[a]);
		if (a == RA_AMOUNT)
			(void) finsec_amount_type(leaf->atttype[a], &leaf->amount_type);
	}
	for (e = 0; e < RE_COUNT; e++)
	{
		RiskAttr	ea[2];
		AttrNumber	atts[3];
		int			n = entity_attrs(e, ea);
		int			i;
		bool		mapped = leaf->att[RA_AT] != 0;

		for (i = 0; i < n; i++)
		{
			atts[i] = leaf->att[ea[i]];
			mapped &= atts[i] != 0;
		}
		if (!mapped)
			continue;
		atts[n] = leaf->att[RA_AT];
		leaf->time_idx[e] = find_index(rel, atts, n + 1);
		if (e == RE_PAIR && !OidIsValid(leaf->time_idx[e]))
		{
			AttrNumber	c[2] = {leaf->att[RA_CUSTOMER], leaf->att[RA_AT]};

			leaf->time_idx[e] = find_index(rel, c, 2);
			leaf->pair_by_customer = OidIsValid(leaf->time_idx[e]);
		}
		if (e == RE_PAIR)
			continue;
		for (a = 0; a < RA_COUNT; a++)
		{
			AttrNumber	pa[2] = {atts[0], leaf->att[a]};

			if (leaf->att[a] != 0 && a != RA_AT && a != RA_AMOUNT && pa[1] != pa[0])
				leaf->seen_idx[e][a] = find_index(rel, pa, 2);
		}
	}
	table_close(rel, AccessShareLock);
}

/* The cached description of payments table relid and its leaves, built on first use. */
static HistTable *
hist_table(Oid relid)
{
	HistTable  *t;
	MemoryContext cxt;
	MemoryContext built_under;
	MemoryContext old;
	List	   *leaves;
	ListCell   *lc;
	int			n = 0;

	for (t = hist_tables; t; t = t->next)
		if (t->relid == relid)
			return t;
	if (hist_cxt == NULL)
		hist_cxt = AllocSetContextCreate(CacheMemoryContext, "finsec risk history", ALLOCSET_SMALL_SIZES);

	/*
	 * The entry is built in a context of its own under the transaction, so
	 * that a lookup failing part way (no registration, a column type that the
	 * type checks refuse) leaves nothing behind in CacheMemoryContext; only a
	 * complete entry moves under hist_cxt.  An invalidation during the build
	 * retires hist_cxt (finsec_risk_history_invalidate): the entry then stays
	 * with the transaction and serves it only.
	 */
	built_under = hist_cxt;
	cxt = AllocSetContextCreate(TopTransactionContext, "finsec risk history table",
								ALLOCSET_SMALL_SIZES);
	t = MemoryContextAllocZero(cxt, sizeof(HistTable));
	if (!read_map(relid, &t->map, cxt, NULL, NULL))
	{
		MemoryContextDelete(cxt);
		return NULL;
	}
	t->relid = relid;
	leaves = find_all_inheritors(relid, AccessShareLock, NULL);
	old = MemoryContextSwitchTo(cxt);
	t->leaves = palloc0(sizeof(HistLeaf) * list_length(leaves));
	MemoryContextSwitchTo(old);
	foreach(lc, leaves)
	{
		Oid			leaf = lfirst_oid(lc);

		if (get_rel_relkind(leaf) != RELKIND_RELATION)
			continue;
		leaf_init(&t->leaves[n++], leaf, &t->map);
	}
	t->nleaves = n;
	/* Cached only if still current; otherwise it serves this transaction. */
	if (built_under == hist_cxt)
	{
		MemoryContextSetParent(cxt, hist_cxt);
		t->next = hist_tables;
		hist_tables = t;
	}
	return t;
}

RiskTableMap *
finsec_risk_table_map(Oid relid, bool missing_ok)
{
	HistTable  *t;

	/*
	 * A caller's OID that names no relation: 42P01, before any catalog
	 * lookup.
	 */
	if (!missing_ok)
		finsec_check_relation_exists(relid);
	t = hist_table(relid);
	if (t == NULL)
	{
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table %s is not registered for risk scoring", get_rel_name(relid)),
				 errhint("Register it with finsec.enable_risk().")));
	}
	return &t->map;
}

/*
 * Whether a leaf has the index an entity's history needs, for
 * finsec.risk_index_advice(): 'time' or 'seen' (with of).
 */
bool
finsec_risk_leaf_has_index(Oid table, int leafno, RiskEntity e, int of, Oid *leaf)
{
	HistTable  *t = hist_table(table);

	if (t == NULL || leafno >= t->nleaves)
		return false;
	*leaf = t->leaves[leafno].relid;
	if (of < 0)
		return OidIsValid(t->leaves[leafno].time_idx[e]);
	return OidIsValid(t->leaves[leafno].seen_idx[e][of]);
}

int
finsec_risk_table_leaves(Oid table)
{
	HistTable  *t = hist_table(table);

	return t ? t->nleaves : 0;
}

/* ---- values in the column's own type ------------------------------------- */

/* The payment's attribute a as a value of leaf's column type. */
static Datum
column_value(const HistLeaf *leaf, RiskAttr a, const RiskInput *in)
{
	Oid			typ = leaf->atttype[a];

	if (a == RA_IP && (typ == INETOID || typ == CIDROID))
		return in->ip;
	if (typ == TEXTOID || typ == VARCHAROID)
		return CStringGetTextDatum(in->text[a]);
	if (a == RA_CARD)
	{
		if (typ == TEXTOID)
			return CStringGetTextDatum(in->card_key);
		return in->card;
	}
	/* the base type's input function: a domain's constraints are user code */
	return finsec_trusted_input(typ, in->text[a]);
}

static void
eq_key(ScanKey key, Relation idx, int indexatt, Oid coltype, Datum value)
{
	Oid			opfamily = idx->rd_opfamily[indexatt - 1];
	Oid			opno = get_opfamily_member(opfamily, coltype, coltype, BTEqualStrategyNumber);

	if (!OidIsValid(opno))
		opno = get_opfamily_member(opfamily, idx->rd_opcintype[indexatt - 1],
								   idx->rd_opcintype[indexatt - 1], BTEqualStrategyNumber);
	if (!OidIsValid(opno))
		elog(ERROR, "no equality operator in the operator family of index %s", RelationGetRelationName(idx));
	ScanKeyInit(key, indexatt, BTEqualStrategyNumber, get_opcode(opno), value);
	key->sk_collation = idx->rd_indcollation[indexatt - 1];
}

static void
time_key(ScanKey key, Relation idx, int indexatt, StrategyNumber strategy, TimestampTz t)
{
	Oid			opfamily = idx->rd_opfamily[indexatt - 1];
	Oid			opno = get_opfamily_member(opfamily, TIMESTAMPTZOID, TIMESTAMPTZOID, strategy);

	if (!OidIsValid(opno))
		elog(ERROR, "no timestamptz comparison in the operator family of index %s", RelationGetRelationName(idx));
	ScanKeyInit(key, indexatt, strategy, get_opcode(opno), TimestampTzGetDatum(t));
}

/* A history row's amount as numeric (common's amount abstraction; no catalog access). */
static Numeric
amount_numeric(const HistLeaf *leaf, Datum d)
{
	return DatumGetNumeric(finsec_amount_numeric(&leaf->amount_type, d));
}

static int
num_cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

/* ---- a small set of distinct values -------------------------------------- */

typedef struct DistinctSet
{
	int			n;
	int			cap;
	uint32	   *hash;
	Datum	   *val;
	int16		typlen;
	bool		typbyval;
} DistinctSet;

static void
set_add(DistinctSet *s, Datum v)
{
	uint32		h = datum_image_hash(v, s->typbyval, s->typlen);
	int			i;

	for (i = 0; i < s->n; i++)
		if (s->hash[i] == h && datum_image_eq(s->val[i], v, s->typbyval, s->typlen))
			return;
	if (s->n == s->cap)
	{
		s->cap = s->cap ? s->cap * 2 : 16;
		s->hash = s->hash ? repalloc(s->hash, sizeof(uint32) * s->cap) : palloc(sizeof(uint32) * s->cap);
		s->val = s->val ? repalloc(s->val, sizeof(Datum) * s->cap) : palloc(sizeof(Datum) * s->cap);
	}
	s->hash[s->n] = h;
	s->val[s->n] = datumCopy(v, s->typbyval, s->typlen);
	s->n++;
}

/* ---- evaluation ---------------------------------------------------------- */

/* Per rule accumulators while scanning one entity's history. */
typedef struct Acc
{
	int64		count;
	Numeric		sum;
	DistinctSet set;
	int64		structured;
	bool		applies;
} Acc;

static bool
entity_present(RiskEntity e, const RiskInput *in)
{
	if (e == RE_PAIR)
		return in->present[RA_CUSTOMER] && in->present[RA_COUNTERPARTY];
	if (e == RE_CARD)
		return in->card_key != NULL;
	return in->present[finsec_risk_entity_attr[e]];
}

static void
unavailable(RiskHit *h, const char *why, bool *degraded)
{
	h->evaluated = false;
	h->unavailable = true;
	h->why = why;
	*degraded = true;
}

/* ---- the history-scan iterator ------------------------------------------- */

/*
 * One index scan of one leaf over an entity's earlier payments:
 * hist_scan_begin (a time window on the (entity, time) index) or
 * hist_scan_begin_seen (entity and attribute equal, on the (entity, of)
 * index), then hist_scan_next until false, then hist_scan_end.  Rows are
 * counted in *rows (when not NULL) against finsec.risk_scan_limit; a scan
 * that reaches it stops with partial set.  Nothing is allocated per row.
 */
typedef struct HistScan
{
	const HistLeaf *leaf;
	Relation	rel;
	Relation	idx;
	IndexScanDesc scan;
	TupleTableSlot *slot;		/* the current row */
	ScanDirection dir;
	ScanKeyData keys[4];
	Datum		pair_value;		/* counterparty a pair scan keeps, or 0 */
	int64	   *rows;
	bool		partial;
} HistScan;

/* Open the leaf, its index and a slot (keys are set by the caller). */
static void
hist_scan_open(HistScan *hs, const HistLeaf *leaf, Oid indexid, ScanDirection dir, int64 *rows)
{
	hs->leaf = leaf;
	hs->rel = table_open(leaf->relid, AccessShareLock);
	hs->idx = index_open(indexid, AccessShareLock);
	hs->slot = table_slot_create(hs->rel, NULL);
	hs->dir = dir;
	hs->pair_value = (Datum) 0;
	hs->rows = rows;
	hs->partial = false;
}

static void
hist_scan_start(HistScan *hs, int nkeys)
{
	hs->scan = index_beginscan(hs->rel, hs->idx, GetActiveSnapshot(), nkeys, 0);
	index_rescan(hs->scan, hs->keys, nkeys, NULL, 0);
}

/*
 * Entity e's payments with from < time < to (to = DT_NOEND: up to and
 * including the payment's own time).  A pair on an index of the customer
 * alone keeps the rows of the payment's counterparty.
 */
static void
hist_scan_begin(HistScan *hs, const HistLeaf *leaf, RiskEntity e, const RiskInput *in,
				TimestampTz from, TimestampTz to, ScanDirection dir, int64 *rows)
{
	bool		pair_filter = e == RE_PAIR && leaf->pair_by_customer;
	RiskAttr	ea[2];
	int			n = entity_attrs(e, ea);
	int			k = 0;
	int			i;

	hist_scan_open(hs, leaf, leaf->time_idx[e], dir, rows);
	if (pair_filter)
	{
		n = 1;
		hs->pair_value = column_value(leaf, RA_COUNTERPARTY, in);
	}
	for (i = 0; i < n; i++)
	{
		eq_key(&hs->keys[k], hs->idx, k + 1, leaf->atttype[ea[i]], column_value(leaf, ea[i], in));
		k++;
	}
	time_key(&hs->keys[k++], hs->idx, n + 1, BTGreaterStrategyNumber, from);
	time_key(&hs->keys[k++], hs->idx, n + 1, to == DT_NOEND ? BTLessEqualStrategyNumber : BTLessStrategyNumber,
			 to == DT_NOEND ? in->at : to);
	hist_scan_start(hs, k);
}

/* Entity e's payments whose attribute "of" is ofv, on the (entity, of) index; not counted. */
static void
hist_scan_begin_seen(HistScan *hs, const HistLeaf *leaf, RiskEntity e, RiskAttr of, Datum ofv,
					 const RiskInput *in)
{
	RiskAttr	ea = finsec_risk_entity_attr[e];

	hist_scan_open(hs, leaf, leaf->seen_idx[e][of], ForwardScanDirection, NULL);
	eq_key(&hs->keys[0], hs->idx, 1, leaf->atttype[ea], column_value(leaf, ea, in));
	eq_key(&hs->keys[1], hs->idx, 2, leaf->atttype[of], ofv);
	hist_scan_start(hs, 2);
}

/* The next row into hs->slot; false at the end or at the scan limit. */
static inline bool
hist_scan_next(HistScan *hs)
{
	const HistLeaf *leaf = hs->leaf;

	while (index_getnext_slot(hs->scan, hs->dir, hs->slot))
	{
		CHECK_FOR_INTERRUPTS();
		if (hs->pair_value != (Datum) 0)
		{
			bool		isnull;
			Datum		cp = slot_getattr(hs->slot, leaf->att[RA_COUNTERPARTY], &isnull);

			if (isnull || !datum_image_eq(cp, hs->pair_value, leaf->typbyval[RA_COUNTERPARTY],
										  leaf->typlen[RA_COUNTERPARTY]))
				continue;
		}
		if (hs->rows && ++(*hs->rows) > finsec_risk_scan_limit)
		{
			hs->partial = true;
			return false;
		}
		return true;
	}
	return false;
}

static void
hist_scan_end(HistScan *hs)
{
	index_endscan(hs->scan);
	ExecDropSingleTupleTableSlot(hs->slot);
	index_close(hs->idx, AccessShareLock);
	table_close(hs->rel, AccessShareLock);
}

/* ---- velocity and structuring -------------------------------------------- */

/*
 * Mark the velocity and structuring rules of entity e that apply to the
 * payment; the longest of their windows, 0 when none applies.
 */
static int64
select_window_rules(const RiskRuleset *rs, const RiskInput *in, RiskEntity e, Acc *acc)
{
	int64		longest = 0;
	int			i;

	for (i = 0; i < rs->nrules; i++)
	{
		const RiskRule *r = &rs->rules[i];

		if ((r->kind != RK_VELOCITY && r->kind != RK_STRUCTURING) || r->entity != e)
			continue;
		if (r->has_when && !finsec_risk_when_matches(&r->when, in))
			continue;
		if (r->kind == RK_VELOCITY && r->measure == RM_SUM && !in->present[RA_AMOUNT])
			continue;
		acc[i].applies = true;
		longest = Max(longest, r->window_us);
	}
	return longest;
}

/* One earlier payment (the scan's current row) into every applying rule's accumulator. */
static inline void
accumulate_row(const RiskRuleset *rs, const RiskInput *in, const HistLeaf *leaf,
			   TupleTableSlot *slot, Acc *acc)
{
	bool		isnull;
	TimestampTz when = DatumGetTimestampTz(slot_getattr(slot, leaf->att[RA_AT], &isnull));
	Numeric		amount = NULL;
	int			i;

	for (i = 0; i < rs->nrules; i++)
	{
		const RiskRule *r = &rs->rules[i];
		Acc		   *a = &acc[i];

		if (!a->applies || when <= in->at - r->window_us)
			continue;
		if (r->kind == RK_STRUCTURING || r->measure == RM_SUM)
		{
			if (amount == NULL)
			{
				Datum		d = slot_getattr(slot, leaf->att[RA_AMOUNT], &isnull);

				if (isnull)
					continue;
				amount = amount_numeric(leaf, d);

				/*
				 * NaN or Infinity is no amount: such a row counts for
				 * nothing.
				 */
				if (numeric_is_nan(amount) || numeric_is_inf(amount))
					continue;
			}
		}
		if (r->kind == RK_STRUCTURING)
		{
			if (num_cmp(amount, r->lower) >= 0 && num_cmp(amount, r->threshold) < 0)
				a->structured++;
			continue;
		}
		switch (r->measure)
		{
			case RM_COUNT:
				a->count++;
				break;
			case RM_SUM:
				a->sum = a->sum ? DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(a->sum),
																	  NumericGetDatum(amount)))
					: amount;
				break;
			case RM_DISTINCT:
				{
					AttrNumber	att = leaf->att[r->measure_attr];
					Datum		v;

					if (att == 0)
						break;
					v = slot_getattr(slot, att, &isnull);
					if (!isnull)
					{
						a->set.typlen = leaf->typlen[r->measure_attr];
						a->set.typbyval = leaf->typbyval[r->measure_attr];
						set_add(&a->set, v);
					}
				}
				break;
		}
	}
}

/* A velocity or structuring rule's result, counting the payment being scored too. */
static void
finish_window_rule(const RiskRule *r, const RiskInput *in, HistTable *t, Acc *a, RiskHit *h)
{
	if (r->kind == RK_STRUCTURING)
	{
		if (in->present[RA_AMOUNT] && num_cmp(in->amount, r->lower) >= 0 &&
			num_cmp(in->amount, r->threshold) < 0)
			a->structured++;
		h->observed = (double) a->structured;
		h->observed_text = psprintf("%lld", (long long) a->structured);
		h->fired = a->structured >= r->min_count;
	}
	else if (r->measure == RM_COUNT)
	{
		a->count++;
		h->observed = (double) a->count;
		h->observed_text = psprintf("%lld", (long long) a->count);
		h->fired = num_cmp(DatumGetNumeric(DirectFunctionCall1(int8_numeric, Int64GetDatum(a->count))),
						   r->max) > 0;
	}
	else if (r->measure == RM_SUM)
	{
		Numeric		s = a->sum ? DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(a->sum),
																	 NumericGetDatum(in->amount)))
		: in->amount;

		h->observed = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(s)));
		h->observed_text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(s)));
		h->fired = num_cmp(s, r->max) > 0;
	}
	else
	{
		RiskAttr	ma = r->measure_attr;

		if (in->present[ma] || (ma == RA_CARD && in->card_key))
		{
			HistLeaf   *leaf0 = &t->leaves[0];

			if (t->nleaves > 0 && leaf0->att[ma] != 0)
			{
				a->set.typlen = leaf0->typlen[ma];
				a->set.typbyval = leaf0->typbyval[ma];
				set_add(&a->set, column_value(leaf0, ma, in));
			}
		}
		h->observed = (double) a->set.n;
		h->observed_text = psprintf("%d", a->set.n);
		h->fired = num_cmp(DatumGetNumeric(DirectFunctionCall1(int4_numeric, Int32GetDatum(a->set.n))),
						   r->max) > 0;
	}
}

/*
 * Velocity and structuring rules over one entity: one scan of its history
 * over the longest window among them, per leaf.
 */
static void
eval_window_rules(const RiskRuleset *rs, const RiskInput *in, HistTable *t, RiskEntity e,
				  RiskHit *hits, bool *degraded)
{
	Acc		   *acc = palloc0(sizeof(Acc) * rs->nrules);
	int64		longest;
	int64		rows = 0;
	bool		partial = false;
	int			i;
	int			l;

	longest = select_window_rules(rs, in, e, acc);
	for (i = 0; i < rs->nrules && !acc[i].applies; i++)
		;
	if (i == rs->nrules)
		return;

	for (l = 0; l < t->nleaves && !partial; l++)
	{
		HistLeaf   *leaf = &t->leaves[l];
		HistScan	hs;

		if (!OidIsValid(leaf->time_idx[e]))
		{
			for (i = 0; i < rs->nrules; i++)
				if (acc[i].applies)
				{
					unavailable(&hits[i], "no index on the entity and time columns", degraded);
					acc[i].applies = false;
				}
			return;
		}
		hist_scan_begin(&hs, leaf, e, in, in->at - longest, DT_NOEND, ForwardScanDirection, &rows);
		while (hist_scan_next(&hs))
			accumulate_row(rs, in, leaf, hs.slot, acc);
		partial = hs.partial;
		hist_scan_end(&hs);
	}

	for (i = 0; i < rs->nrules; i++)
	{
		RiskHit    *h = &hits[i];

		if (!acc[i].applies)
			continue;
		h->evaluated = true;
		h->partial = partial;
		finish_window_rule(&rs->rules[i], in, t, &acc[i], h);

		/*
		 * A partial count that fires is final; one that does not is
		 * uncertain.
		 */
		if (partial && !h->fired)
			*degraded = true;
	}
}

/*
 * First seen: is there an earlier payment of this entity with this value
 * of "of"?  Through an index on (entity, of) when there is one, else by
 * scanning the entity's history (bounded; degraded when the scan stops
 * before it found one).
 */
static void
eval_first_seen(const RiskRule *r, const RiskInput *in, HistTable *t, RiskHit *h, bool *degraded)
{
	int			l;
	bool		seen = false;
	bool		partial = false;
	int64		rows = 0;
	RiskAttr	of = r->measure_attr;
	TimestampTz from = r->window_us > 0 ? in->at - r->window_us : DT_NOBEGIN;

	if (!in->present[of] && !(of == RA_CARD && in->card_key))
		return;
	for (l = 0; l < t->nleaves && !seen && !partial; l++)
	{
		HistLeaf   *leaf = &t->leaves[l];
		HistScan	hs;
		Datum		ofv;
		bool		by_pair = OidIsValid(leaf->seen_idx[r->entity][of]);

		if (leaf->att[of] == 0)
		{
			unavailable(h, "the payments table maps no column for it", degraded);
			return;
		}
		if (!by_pair && !OidIsValid(leaf->time_idx[r->entity]))
		{
			unavailable(h, "no index on the entity and time columns, nor on the entity and the attribute", degraded);
			return;
		}
		ofv = column_value(leaf, of, in);
		if (by_pair)
			hist_scan_begin_seen(&hs, leaf, r->entity, of, ofv, in);
		else
			hist_scan_begin(&hs, leaf, r->entity, in, from, in->at, ForwardScanDirection, &rows);
		while (hist_scan_next(&hs))
		{
			bool		isnull;
			TimestampTz when = DatumGetTimestampTz(slot_getattr(hs.slot, leaf->att[RA_AT], &isnull));

			if (isnull || when >= in->at || when <= from)
				continue;
			if (!by_pair)
			{
				Datum		v = slot_getattr(hs.slot, leaf->att[of], &isnull);

				if (isnull || !datum_image_eq(v, ofv, leaf->typbyval[of], leaf->typlen[of]))
					continue;
			}
			seen = true;
			break;
		}
		partial = hs.partial;
		hist_scan_end(&hs);
	}
	h->evaluated = true;
	h->partial = partial && !seen;
	h->fired = !seen && !partial;
	h->observed = seen ? 0 : 1;
	h->observed_text = pstrdup(seen ? "seen before" : partial ? "not found in the rows scanned" : "first seen");
	if (h->partial)
		*degraded = true;
}

/* Great-circle distance in km (haversine, mean Earth radius). */
static double
distance_km(double lat1, double lon1, double lat2, double lon2)
{
	double		p1 = lat1 * M_PI / 180,
				p2 = lat2 * M_PI / 180;
	double		dp = (lat2 - lat1) * M_PI / 180,
				dl = (lon2 - lon1) * M_PI / 180;
	double		a = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);

	return 6371.0088 * 2 * atan2(sqrt(a), sqrt(1 - a));
}

/*
 * Travel: the entity's latest earlier payment with a location, within the
 * rule's window; impossible if the speed needed exceeds max_kmh,
 * relocation if the distance exceeds max_km.
 */
static void
eval_travel(const RiskRule *r, const RiskInput *in, HistTable *t, RiskHit *h, bool *degraded)
{
	int			l;
	bool		found = false;
	bool		partial = false;
	TimestampTz prev_at = 0;
	double		prev_lat = 0,
				prev_lon = 0;

	if (!in->present[RA_GEO])
		return;
	for (l = 0; l < t->nleaves; l++)
	{
		HistLeaf   *leaf = &t->leaves[l];
		HistScan	hs;
		int64		rows = 0;

		if (leaf->att[RA_GEO] == 0 || !OidIsValid(leaf->time_idx[r->entity]))
		{
			unavailable(h, leaf->att[RA_GEO] == 0 ? "the payments table maps no location column"
						: "no index on the entity and time columns", degraded);
			return;
		}
		hist_scan_begin(&hs, leaf, r->entity, in,
						found ? Max(prev_at, in->at - r->window_us) : in->at - r->window_us,
						in->at, BackwardScanDirection, &rows);
		while (hist_scan_next(&hs))
		{
			bool		isnull;
			Datum		g;
			TimestampTz when;

			g = slot_getattr(hs.slot, leaf->att[RA_GEO], &isnull);
			if (isnull)
				continue;
			when = DatumGetTimestampTz(slot_getattr(hs.slot, leaf->att[RA_AT], &isnull));
			if (!found || when > prev_at)
			{
				Point	   *p = DatumGetPointP(g);

				found = true;
				prev_at = when;
				prev_lon = p->x;
				prev_lat = p->y;
			}
			break;
		}
		partial |= hs.partial;
		hist_scan_end(&hs);
	}
	h->evaluated = true;
	if (!found)
	{
		h->partial = partial;
		if (partial)
			*degraded = true;
		h->observed_text = pstrdup("no earlier located payment");
		return;
	}
	{
		double		km = distance_km(prev_lat, prev_lon, in->lat, in->lon);
		double		hours = (double) (in->at - prev_at) / USECS_PER_HOUR;

		if (r->max_kmh > 0)
		{
			double		kmh = hours > 0 ? km / hours : (km > 0 ? INFINITY : 0);

			h->observed = kmh;
			h->observed_text = isinf(kmh) ? psprintf("%.1f km at once", km)
				: psprintf("%.1f km/h (%.1f km in %.2f h)", kmh, km, hours);
			h->fired = km > r->min_km && kmh > r->max_kmh;
		}
		else
		{
			h->observed = km;
			h->observed_text = psprintf("%.1f km", km);
			h->fired = km > r->max_km;
		}
	}
}

/* Evaluate every history rule (velocity, structuring, first seen, travel) of the ruleset for the payment. */
void
finsec_risk_eval_history(const RiskRuleset *rs, const RiskInput *in, RiskHit *hits, bool *degraded)
{
	HistTable  *t = NULL;
	bool		done_entity[RE_COUNT];
	int			i;

	memset(done_entity, 0, sizeof(done_entity));
	if (OidIsValid(in->relid))
		t = hist_table(in->relid);
	for (i = 0; i < rs->nrules; i++)
	{
		const RiskRule *r = &rs->rules[i];

		if (r->kind != RK_VELOCITY && r->kind != RK_STRUCTURING && r->kind != RK_FIRST_SEEN &&
			r->kind != RK_TRAVEL)
			continue;
		if (!entity_present(r->entity, in))
			continue;
		if (r->has_when && !finsec_risk_when_matches(&r->when, in))
			continue;
		if (t == NULL)
		{
			unavailable(&hits[i], "no registered payments table to read history from", degraded);
			continue;
		}
		if (t->map.column[finsec_risk_entity_attr[r->entity]] == NULL ||
			(r->entity == RE_PAIR && t->map.column[RA_COUNTERPARTY] == NULL))
		{
			unavailable(&hits[i], "the payments table maps no column for the entity", degraded);
			continue;
		}
		switch (r->kind)
		{
			case RK_VELOCITY:
			case RK_STRUCTURING:
				if (!done_entity[r->entity])
				{
					done_entity[r->entity] = true;
					eval_window_rules(rs, in, t, r->entity, hits, degraded);
				}
				break;
			case RK_FIRST_SEEN:
				eval_first_seen(r, in, t, &hits[i], degraded);
				break;
			case RK_TRAVEL:
				eval_travel(r, in, t, &hits[i], degraded);
				break;
			default:
				break;
		}
	}
}
