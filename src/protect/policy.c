/*-------------------------------------------------------------------------
 *
 * policy.c
 *	  Protection policies (finsec.protect_policy): which keys encrypt and
 *	  fingerprint a column's values, how they are masked, their period
 *	  unit and sensitivity label.  The policy id is the type modifier.
 *
 * A backend keeps every policy row in a cache that a statement trigger on
 * the table invalidates (relcache invalidation of the table, seen by
 * every backend at its next command), and that a lookup of an unknown id
 * reloads once.  Policies are immutable: only created and dropped.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "finsec.h"
#include "finsec_apptable.h"
#include "finsec_owner.h"
#include "protect_internal.h"
#include "protect_parse.h"

/*
 * Entries are never freed or moved (a caller may hold a pointer across a
 * reload): a reload updates them in place, adds new ones and marks those
 * whose row is gone.
 */
typedef struct PolicyEntry
{
	FinsecProtectPolicy p;
	bool		present;
} PolicyEntry;

static PolicyEntry **policies = NULL;
static int	npolicies = 0;
static int	maxpolicies = 0;
static bool policies_valid = false;

/*
 * Ids looked up and not found since the last reload: not re-read for each
 * row (values restored before their policy rows show "[protected]").
 */
#define MISSING_IDS 16
static int32 missing_ids[MISSING_IDS];
static int	nmissing = 0;
static bool callback_registered = false;
static FinsecRelid policy_rel = FINSEC_RELID_INIT("finsec", "protect_policy");

static void
policy_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || finsec_relid_matches(&policy_rel, relid))
		policies_valid = false;
}

static void
copy_field(char *dst, size_t cap, HeapTuple tup, TupleDesc desc, int col)
{
	char	   *v = SPI_getvalue(tup, desc, col);

	if (v == NULL)
		dst[0] = '\0';
	else
		strlcpy(dst, v, cap);
}

/* Read every policy row (as finsec's owner: the table is finsec's). */
static void
load_policies(void)
{
	FinsecOwnerContext ctx;
	int			ret;
	uint64		n;
	bool		pushed;

	if (!callback_registered)
	{
		finsec_register_relcache_callback(policy_relcache_callback, (Datum) 0);
		callback_registered = true;
	}
	(void) finsec_relid(&policy_rel);
	/* an input function in a logical replication apply worker has none */
	pushed = !ActiveSnapshotSet();
	if (pushed)
		PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	finsec_begin_owner(&ctx);
	ret = SPI_execute("SELECT policy_id, policy_name, enc_key, fp_key, fp_scope = 'period', mask, "
					  "       coalesce(period_unit, ''), label "
					  "  FROM finsec.protect_policy ORDER BY policy_id", true, 0);
	finsec_end_owner(&ctx);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read finsec.protect_policy: %s", SPI_result_code_string(ret));
	n = SPI_processed;
	for (int i = 0; i < npolicies; i++)
		policies[i]->present = false;
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		FinsecProtectPolicy fresh;
		PolicyEntry *e = NULL;
		bool		isnull;
		char	   *scope;

		memset(&fresh, 0, sizeof(fresh));
		fresh.policy_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		copy_field(fresh.name, sizeof(fresh.name), tup, desc, 2);
		copy_field(fresh.enc_key, sizeof(fresh.enc_key), tup, desc, 3);
		copy_field(fresh.fp_key, sizeof(fresh.fp_key), tup, desc, 4);
		scope = SPI_getvalue(tup, desc, 5);
		fresh.fp_per_period = scope != NULL && strcmp(scope, "t") == 0;
		copy_field(fresh.mask, sizeof(fresh.mask), tup, desc, 6);
		copy_field(fresh.period_unit, sizeof(fresh.period_unit), tup, desc, 7);
		copy_field(fresh.label, sizeof(fresh.label), tup, desc, 8);
		for (int j = 0; j < npolicies; j++)
			if (policies[j]->p.policy_id == fresh.policy_id)
				e = policies[j];
		if (e == NULL)
		{
			if (npolicies == maxpolicies)
			{
				maxpolicies = Max(16, maxpolicies * 2);
				policies = policies == NULL
					? MemoryContextAlloc(TopMemoryContext, sizeof(PolicyEntry *) * maxpolicies)
					: repalloc(policies, sizeof(PolicyEntry *) * maxpolicies);
			}
			e = MemoryContextAllocZero(TopMemoryContext, sizeof(PolicyEntry));
			policies[npolicies++] = e;
		}
		e->p = fresh;
		e->present = true;
	}
	SPI_finish();
	if (pushed)
		PopActiveSnapshot();
	policies_valid = true;
	nmissing = 0;
}

static const FinsecProtectPolicy *
find_by_id(int32 policy_id)
{
	for (int i = 0; i < npolicies; i++)
		if (policies[i]->present && policies[i]->p.policy_id == policy_id)
			return &policies[i]->p;
	return NULL;
}

/*
 * The unbound pseudo-policy: default's keys and label, mask none, id
 * FP_POLICY_UNBOUND; NULL while "default" is missing.
 */
static const FinsecProtectPolicy *
unbound_policy(void)
{
	static FinsecProtectPolicy unbound;
	const FinsecProtectPolicy *d = find_by_id(0);

	if (d == NULL)
		return NULL;
	unbound = *d;
	unbound.policy_id = FP_POLICY_UNBOUND;
	strlcpy(unbound.name, "(unbound)", sizeof(unbound.name));
	strlcpy(unbound.mask, "none", sizeof(unbound.mask));
	unbound.period_unit[0] = '\0';
	unbound.fp_per_period = false;
	return &unbound;
}

const FinsecProtectPolicy *
finsec_protect_policy_if_exists(int32 policy_id)
{
	const FinsecProtectPolicy *p;

	if (!policies_valid)
		load_policies();
	if (policy_id == FP_POLICY_UNBOUND)
		return unbound_policy();
	p = find_by_id(policy_id);
	if (p == NULL)
	{
		for (int i = 0; i < nmissing; i++)
			if (missing_ids[i] == policy_id)
				return NULL;
		/* created since the cache was loaded, in this transaction */
		load_policies();
		p = find_by_id(policy_id);
		if (p == NULL)
			missing_ids[nmissing++ % MISSING_IDS] = policy_id;
		nmissing = Min(nmissing, MISSING_IDS);
	}
	return p;
}

const FinsecProtectPolicy *
finsec_protect_policy(int32 policy_id)
{
	const FinsecProtectPolicy *p = finsec_protect_policy_if_exists(policy_id);

	if (p == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("protection policy %d does not exist", policy_id),
				 errhint("finsec.protect_policy lists the policies; a restore loads them after the tables."),
				 errhidestmt(true)));
	return p;
}

const FinsecProtectPolicy *
finsec_protect_policy_by_name(const char *name)
{
	if (!policies_valid)
		load_policies();
	for (int pass = 0; pass < 2; pass++)
	{
		for (int i = 0; i < npolicies; i++)
			if (policies[i]->present && strcmp(policies[i]->p.name, name) == 0)
				return &policies[i]->p;
		if (pass == 0)
			load_policies();
	}
	return NULL;
}

int32
finsec_protect_policy_id_of(const char *name)
{
	uint32		h;

	if (strcmp(name, "default") == 0)
		return 0;
	h = finsec_fp_name_hash32(name, strlen(name)) & FP_POLICY_ID_MAX;
	if (h == FP_POLICY_UNBOUND)
		h--;					/* reserved for unbound values */
	return h == 0 ? 1 : (int32) h;
}

int
finsec_protect_policy_mask(const FinsecProtectPolicy *p)
{
	int			m = finsec_fp_mask_code(p->mask);

	return m < 0 ? FP_MASK_NONE : m;
}

PG_FUNCTION_INFO_V1(finsec_protect_policy_id);

/* finsec._protect_policy_id(name text) returns integer */
Datum
finsec_protect_policy_id(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(finsec_protect_policy_id_of(text_to_cstring(PG_GETARG_TEXT_PP(0))));
}

PG_FUNCTION_INFO_V1(finsec_protect_policy_changed);

/* Statement trigger on finsec.protect_policy: every backend reloads. */
Datum
finsec_protect_policy_changed(PG_FUNCTION_ARGS)
{
	finsec_relcache_trigger(fcinfo, "finsec._protect_policy_changed()");
	return PointerGetDatum(NULL);
}
