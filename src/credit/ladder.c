/*-------------------------------------------------------------------------
 *
 * ladder.c
 *	  Generalisation ladders of quasi-identifiers for the server: a jsonb
 *	  array of steps parsed and checked by ladder_parse.c, maps read from
 *	  finsec.credit_ladder_map, values generalised level by level.
 *
 * Level 0 is the clear value, level i (1..nsteps) the value after step i,
 * the top level (nsteps + 1) is "*": the value withheld.  A NULL value is
 * NULL at every level but the top.  A value a step cannot read (a date
 * step on something that is not a date, a number band on a word, a map
 * without an entry for it) is "*" from that level on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "finsec.h"
#include "credit.h"
#include "ladder_parse.h"

/* Longest value a map may name (finsec.credit_ladder_map's CHECK). */
#define LADDER_MAP_KEYLEN	256

typedef struct LadderMapEntry
{
	char		value[LADDER_MAP_KEYLEN];	/* hash key */
	char		generalised[CL_OUT_MAXLEN];
} LadderMapEntry;

struct FinsecCreditLadder
{
	char		column[NAMEDATALEN];
	int			nsteps;
	ClStep		steps[CL_MAX_STEPS];
	char		names[CL_MAX_STEPS][CL_STEP_MAXLEN];
	HTAB	   *maps[CL_MAX_STEPS]; /* CL_MAP steps only */
};

/* Is typid one of the protected identifier types (not text)? */
static bool
is_identifier_type(Oid typid)
{
	HeapTuple	tup;
	bool		result = false;

	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	if (HeapTupleIsValid(tup))
	{
		Form_pg_type t = (Form_pg_type) GETSTRUCT(tup);
		const char *name = NameStr(t->typname);

		result = (strcmp(name, "protected_resident_id") == 0 ||
				  strcmp(name, "protected_uscc") == 0 ||
				  strcmp(name, "protected_mobile") == 0) &&
			strcmp(get_namespace_name(t->typnamespace), "finsec") == 0;
		ReleaseSysCache(tup);
	}
	return result;
}

/* Read map "name" into a hash table in the current memory context. */
static HTAB *
load_map(const char *name, const char *column)
{
	HASHCTL		ctl;
	HTAB	   *map;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	int			rc;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = LADDER_MAP_KEYLEN;
	ctl.entrysize = sizeof(LadderMapEntry);
	ctl.hcxt = CurrentMemoryContext;
	map = hash_create("finsec credit ladder map", 256, &ctl,
					  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	args[0] = CStringGetTextDatum(name);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args("SELECT value, generalised FROM finsec.credit_ladder_map "
							   "WHERE map_name = $1",
							   1, argtypes, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading finsec.credit_ladder_map failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_LADDER_MAP),
				 errmsg("ladder map \"%s\" of quasi-identifier \"%s\" does not exist", name, column),
				 errdetail("finsec.credit_ladder_map has no entry named \"%s\".", name),
				 errhint("Fill the map first: finsec.credit_ladder_map_set('%s', value, generalised).", name)));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		v = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		Datum		g;
		char	   *value;
		char	   *generalised;
		LadderMapEntry *e;
		bool		found;

		if (isnull)
			continue;
		g = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);
		if (isnull)
			continue;
		value = TextDatumGetCString(v);
		generalised = TextDatumGetCString(g);
		if (strlen(value) >= LADDER_MAP_KEYLEN || strlen(generalised) >= CL_OUT_MAXLEN)
			continue;			/* the table's CHECK forbids these */
		e = hash_search(map, value, HASH_ENTER, &found);
		strlcpy(e->generalised, generalised, CL_OUT_MAXLEN);
	}
	SPI_finish();
	return map;
}

/*
 * Parse and check a ladder: a jsonb array of step strings, each strictly
 * coarser than the one before (ladder_parse.c's rules); maps loaded.
 * Refused with S9D40 (step number named, never its text) or S9D41.
 */
FinsecCreditLadder *
finsec_credit_ladder_parse(Jsonb *ladder, const char *column, Oid typid)
{
	FinsecCreditLadder *l = palloc0(sizeof(FinsecCreditLadder));
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		seen_map = false;
	bool		identifier = OidIsValid(typid) && is_identifier_type(typid);

	strlcpy(l->column, column, NAMEDATALEN);
	if (ladder == NULL || !JB_ROOT_IS_ARRAY(ladder) || JB_ROOT_IS_SCALAR(ladder))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_LADDER),
				 errmsg("the ladder of quasi-identifier \"%s\" is not a JSON array of steps", column),
				 errhint("Write it from fine to coarse, e.g. [\"year\", \"years:5\", \"decade\"] or [\"prefix:4\", \"prefix:2\"].")));

	it = JsonbIteratorInit(&ladder->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		ClStep		step;
		ClError		err;
		int			n = l->nsteps + 1;

		if (tok != WJB_ELEM)
			continue;
		if (v.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_CREDIT_LADDER),
					 errmsg("step %d of the ladder of quasi-identifier \"%s\" is not a string", n, column),
					 errhint("Steps are strings: month, year, years:N, decade, prefix:N, round:N, map:NAME.")));
		err = finsec_cl_parse_step(v.val.string.val, v.val.string.len, &step);
		if (err == CL_OK && step.kind == CL_TOP)
		{
			/* an explicit "*" is the implicit top: only last */
			tok = JsonbIteratorNext(&it, &v, true);
			if (tok == WJB_ELEM)
				err = CL_ERR_TOP_NOT_LAST;
			else
				break;
		}
		if (err == CL_OK && l->nsteps >= CL_MAX_STEPS)
			err = CL_ERR_TOO_MANY;
		if (err == CL_OK)
			err = finsec_cl_check_order(l->nsteps > 0 ? &l->steps[l->nsteps - 1] : NULL,
										&step, seen_map);
		if (err == CL_OK && identifier && (step.kind == CL_MONTHS || step.kind == CL_ROUND))
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_CREDIT_LADDER),
					 errmsg("step %d of the ladder of quasi-identifier \"%s\" does not apply to its type", n, column),
					 errdetail("Date and number steps read the clear value as a date or a number; an identifier type is neither."),
					 errhint("Use prefix:N or map:NAME steps for identifiers.")));
		if (err != CL_OK)
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_CREDIT_LADDER),
					 errmsg("step %d of the ladder of quasi-identifier \"%s\" is not valid", n, column),
					 errdetail("%s", finsec_cl_error_message(err)),
					 errhint("Write the ladder from fine to coarse, e.g. [\"year\", \"years:5\", \"decade\"] or [\"prefix:4\", \"prefix:2\"].")));
		if (step.kind == CL_MAP)
		{
			l->maps[l->nsteps] = load_map(step.map, column);
			seen_map = true;
		}
		l->steps[l->nsteps] = step;
		memcpy(l->names[l->nsteps], v.val.string.val, v.val.string.len);
		l->names[l->nsteps][v.val.string.len] = '\0';
		l->nsteps++;
	}
	return l;
}

int
finsec_credit_ladder_levels(const FinsecCreditLadder *ladder)
{
	return ladder->nsteps + 2;
}

/* "value" for level 0, the step's text, "*" for the top. */
const char *
finsec_credit_ladder_step_name(const FinsecCreditLadder *ladder, int level)
{
	if (level <= 0)
		return "value";
	if (level > ladder->nsteps)
		return "*";
	return ladder->names[level - 1];
}

/* The value generalised to level, palloc'd; NULL for NULL below the top. */
char *
finsec_credit_ladder_apply(const FinsecCreditLadder *ladder, int level, const char *value)
{
	char		cur[CL_OUT_MAXLEN > LADDER_MAP_KEYLEN ? CL_OUT_MAXLEN : LADDER_MAP_KEYLEN];
	char		buf[CL_OUT_MAXLEN];
	size_t		vlen;
	bool		withheld = false;

	if (level > ladder->nsteps)
		return pstrdup("*");
	if (value == NULL)
		return NULL;
	if (level <= 0)
		return pstrdup(value);

	vlen = strlen(value);
	/* cur: the value so far, cut to what the steps read (prefixes, maps) */
	strlcpy(cur, value, sizeof(cur));
	if (vlen >= sizeof(cur))
		cur[finsec_cl_prefix_bytes(cur, sizeof(cur) - 4, sizeof(cur))] = '\0';

	for (int i = 0; i < level && !withheld; i++)
	{
		const ClStep *s = &ladder->steps[i];

		switch (s->kind)
		{
			case CL_MONTHS:
				withheld = !finsec_cl_apply_months(s->n, value, vlen, buf);
				if (!withheld)
					strlcpy(cur, buf, sizeof(cur));
				break;
			case CL_ROUND:
				withheld = !finsec_cl_apply_round(s->n, value, vlen, buf);
				if (!withheld)
					strlcpy(cur, buf, sizeof(cur));
				break;
			case CL_PREFIX:
				cur[finsec_cl_prefix_bytes(cur, strlen(cur), s->n)] = '\0';
				break;
			case CL_MAP:
				{
					LadderMapEntry *e = NULL;

					if (strlen(cur) < LADDER_MAP_KEYLEN)
						e = hash_search(ladder->maps[i], cur, HASH_FIND, NULL);
					if (e == NULL)
						withheld = true;
					else
						strlcpy(cur, e->generalised, sizeof(cur));
				}
				break;
			case CL_TOP:
				withheld = true;
				break;
		}
	}
	explicit_bzero(buf, sizeof(buf));
	if (withheld)
	{
		explicit_bzero(cur, sizeof(cur));
		return pstrdup("*");
	}
	{
		char	   *result = pstrdup(cur);

		explicit_bzero(cur, sizeof(cur));
		return result;
	}
}

PG_FUNCTION_INFO_V1(finsec_credit_ladder_levels_sql);

/*
 * finsec.credit_ladder_levels(ladder jsonb, value text): every level of
 * the ladder for one value (level, step, generalised), to try a ladder
 * before registering it.  The value is the caller's own input; nothing is
 * read from any table but the ladder maps.
 */
Datum
finsec_credit_ladder_levels_sql(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Jsonb	   *ladder;
	char	   *value = NULL;
	FinsecCreditLadder *l;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	ladder = PG_GETARG_JSONB_P(0);
	if (!PG_ARGISNULL(1))
		value = text_to_cstring(PG_GETARG_TEXT_PP(1));

	InitMaterializedSRF(fcinfo, 0);
	l = finsec_credit_ladder_parse(ladder, "value", InvalidOid);
	for (int level = 0; level < finsec_credit_ladder_levels(l); level++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		char	   *g = finsec_credit_ladder_apply(l, level, value);

		values[0] = Int32GetDatum(level);
		values[1] = CStringGetTextDatum(finsec_credit_ladder_step_name(l, level));
		if (g == NULL)
			nulls[2] = true;
		else
			values[2] = CStringGetTextDatum(g);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	if (value)
		explicit_bzero(value, strlen(value));
	return (Datum) 0;
}
