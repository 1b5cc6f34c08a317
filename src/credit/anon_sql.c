/*-------------------------------------------------------------------------
 *
 * anon_sql.c
 *	  finsec.deid_evaluate(): the anonymity engine (anon.c) on records
 *	  given as jsonb, to try ladders and parameters on sample data.
 *
 * Nothing is read from any table but the ladder maps (as the caller);
 * the records are the caller's own input.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "credit.h"

/* The text of a scalar (or the JSON text of a container); NULL for null. */
static char *
jsonb_value_text(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return NULL;
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		case jbvBinary:
			return JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
		default:
			return NULL;
	}
}

static void
check_params(int k, int l, double max_suppression)
{
	if (k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_ANON_INPUT),
				 errmsg("k must be at least 1"),
				 errhint("k is the smallest number of records a published class may have (registered tables need k >= 2).")));
	if (l < 1)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_ANON_INPUT),
				 errmsg("l must be at least 1"),
				 errhint("l is the smallest number of distinct values of each sensitive attribute in a published class.")));
	if (isnan(max_suppression) || max_suppression < 0.0 || max_suppression > 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_ANON_INPUT),
				 errmsg("max_suppression must be between 0 and 1"),
				 errhint("It is the share of the records that may be withheld, e.g. 0.05 for 5%%.")));
}

PG_FUNCTION_INFO_V1(finsec_deid_evaluate);

/*
 * finsec.deid_evaluate(records jsonb, quasi_identifiers jsonb,
 * sensitive text[], k int, l int, max_suppression numeric) RETURNS jsonb:
 * the engine's proof, plus "suppressed_records" (the 0-based indexes of
 * the records withheld).
 */
Datum
finsec_deid_evaluate(PG_FUNCTION_ARGS)
{
	Jsonb	   *records;
	Jsonb	   *qis;
	FinsecDeidProblem p;
	FinsecDeidSolution sol;
	int			nrec;
	int			nqi = 0;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	Jsonb	   *proof;
	StringInfoData extra;
	Datum		result;

	for (int i = 0; i < 6; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_CREDIT_ANON_INPUT),
					 errmsg("finsec.deid_evaluate() needs every argument"),
					 errhint("Give records (a JSON array of objects), quasi_identifiers (column -> ladder), sensitive (a text array, may be empty), k, l and max_suppression.")));
	records = PG_GETARG_JSONB_P(0);
	qis = PG_GETARG_JSONB_P(1);
	memset(&p, 0, sizeof(p));
	p.k = PG_GETARG_INT32(3);
	p.l = PG_GETARG_INT32(4);
	p.max_suppression = DatumGetFloat8(DirectFunctionCall1(numeric_float8, PG_GETARG_DATUM(5)));
	check_params(p.k, p.l, p.max_suppression);

	if (!JB_ROOT_IS_ARRAY(records) || JB_ROOT_IS_SCALAR(records))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_ANON_INPUT),
				 errmsg("records must be a JSON array of objects"),
				 errhint("E.g. '[{\"birth_date\": \"1987-03-12\", \"region\": \"110105\"}, ...]'.")));
	if (!JB_ROOT_IS_OBJECT(qis))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_ANON_INPUT),
				 errmsg("quasi_identifiers must be a JSON object of column -> ladder"),
				 errhint("E.g. '{\"birth_date\": [\"year\", \"decade\"], \"region\": [\"prefix:4\", \"prefix:2\"]}'.")));

	/* quasi-identifiers and their ladders, in the object's key order */
	nqi = JsonContainerSize(&qis->root);
	p.nqi = nqi;
	p.qi_names = palloc0(sizeof(char *) * Max(1, nqi));
	p.ladders = palloc0(sizeof(FinsecCreditLadder *) * Max(1, nqi));
	{
		int			q = 0;

		it = JsonbIteratorInit(&qis->root);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
				p.qi_names[q] = pnstrdup(v.val.string.val, v.val.string.len);
			else if (tok == WJB_VALUE)
			{
				Jsonb	   *ladder;

				if (v.type != jbvBinary)
					ereport(ERROR,
							(errcode(ERRCODE_FINSEC_CREDIT_LADDER),
							 errmsg("the ladder of quasi-identifier \"%s\" is not a JSON array of steps", p.qi_names[q]),
							 errhint("Write it from fine to coarse, e.g. [\"year\", \"years:5\", \"decade\"] or [\"prefix:4\", \"prefix:2\"].")));
				ladder = JsonbValueToJsonb(&v);
				p.ladders[q] = finsec_credit_ladder_parse(ladder, p.qi_names[q], InvalidOid);
				q++;
			}
		}
	}

	/* sensitive attributes */
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(2);
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		if (ARR_NDIM(arr) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_CREDIT_ANON_INPUT),
					 errmsg("sensitive must be a one-dimensional text array"),
					 errhint("E.g. '{overdue, amount_band}'.")));
		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		p.nsensitive = n;
		p.sensitive_names = palloc0(sizeof(char *) * Max(1, n));
		for (int s = 0; s < n; s++)
		{
			if (nulls[s])
				ereport(ERROR,
						(errcode(ERRCODE_FINSEC_CREDIT_ANON_INPUT),
						 errmsg("sensitive names a NULL column"),
						 errhint("Name each sensitive attribute by its key in the records.")));
			p.sensitive_names[s] = TextDatumGetCString(elems[s]);
			for (int q = 0; q < nqi; q++)
				if (strcmp(p.qi_names[q], p.sensitive_names[s]) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_FINSEC_CREDIT_ANON_INPUT),
							 errmsg("column \"%s\" is both a quasi-identifier and sensitive", p.sensitive_names[s]),
							 errhint("Give each column one role.")));
			for (int t = 0; t < s; t++)
				if (strcmp(p.sensitive_names[t], p.sensitive_names[s]) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_FINSEC_CREDIT_ANON_INPUT),
							 errmsg("sensitive column \"%s\" is named twice", p.sensitive_names[s]),
							 errhint("Name each sensitive attribute once.")));
		}
	}

	/* the records */
	nrec = JsonContainerSize(&records->root);
	p.nrecords = nrec;
	p.qi = palloc_extended(sizeof(char *) * Max(1, (Size) nrec * nqi), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	p.sensitive = palloc_extended(sizeof(char *) * Max(1, (Size) nrec * p.nsensitive),
								  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	{
		int			r = 0;

		it = JsonbIteratorInit(&records->root);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			JsonbContainer *obj;

			if (tok != WJB_ELEM)
				continue;
			if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
				ereport(ERROR,
						(errcode(ERRCODE_FINSEC_CREDIT_ANON_INPUT),
						 errmsg("record %d is not a JSON object", r),
						 errhint("records is a JSON array of objects, one per record (indexes from 0).")));
			obj = v.val.binary.data;
			for (int j = 0; j < nqi + p.nsensitive; j++)
			{
				const char *name = j < nqi ? p.qi_names[j] : p.sensitive_names[j - nqi];
				JsonbValue *f = getKeyJsonValueFromContainer(obj, name, strlen(name), NULL);
				char	   *text = f ? jsonb_value_text(f) : NULL;

				if (j < nqi)
					p.qi[(int64) r * nqi + j] = text;

				else
					p.sensitive[(int64) r * p.nsensitive + (j - nqi)] = text;
			}
			r++;
		}
	}

	finsec_credit_deid_solve(&p, &sol);
	proof = finsec_credit_deid_solution_jsonb(&p, &sol);

	initStringInfo(&extra);
	appendStringInfoString(&extra, "{\"suppressed_records\": [");
	{
		bool		first = true;

		for (int r = 0; r < nrec; r++)
			if (sol.suppressed && sol.suppressed[r])
			{
				appendStringInfo(&extra, "%s%d", first ? "" : ", ", r);
				first = false;
			}
	}
	appendStringInfoString(&extra, "]}");
	result = DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(proof),
								 DirectFunctionCall1(jsonb_in, CStringGetDatum(extra.data)));
	PG_RETURN_DATUM(result);
}

PG_FUNCTION_INFO_V1(finsec_credit_research_read);

/*
 * finsec._credit_research_read(archive text, detail jsonb): the durable
 * ledger row of a research read (deid_aggregate's results leave the
 * database even if the caller rolls back).  Internal: no grants.
 */
Datum
finsec_credit_research_read(PG_FUNCTION_ARGS)
{
	char	   *object;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_VOID();
	object = psprintf("archive:%s", text_to_cstring(PG_GETARG_TEXT_PP(0)));
	finsec_audit_event_durable("credit.research_read", object, "aggregate", true,
							   "research aggregate over a de-identified archive (small cells suppressed)",
							   PG_GETARG_JSONB_P(1));
	PG_RETURN_VOID();
}
