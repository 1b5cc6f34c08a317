/*-------------------------------------------------------------------------
 *
 * dispute.c
 *	  Disputes of credit records (004 9.8, 9.4.2 c; 征信业管理条例 art. 25;
 *	  docs/credit.md "Disputes"): what the SQL of section 6 needs from C.
 *
 * The dispute process itself is SQL (migration 1.1--1.2, section 6):
 * credit_dispute_open/check/resolve, credit_correction (two-person kind
 * credit.correction), credit_disputes_overdue.  Here:
 *
 * - finsec._credit_record(tbl, record_key, subject): the disputed record
 *	 read as the table's owner (inside finsec_credit_read_begin/end, so the
 *	 direct-read check lets finsec's own read pass): its behaviour end, its
 *	 institution, and whether the subject named in the dispute is the
 *	 record's (compared by their keyed pseudonyms; neither is returned nor
 *	 logged in clear);
 * - finsec._credit_seal_for_record(tbl, behaviour_end, text): a dispute's
 *	 text (a check's finding, the subject's personal statement) sealed under
 *	 the key of the record's period, so that it is shredded with the record;
 * - finsec._credit_correction_seal(tbl, row, pseudonym): a correction row
 *	 given as jsonb, checked against the registration, its personal values
 *	 sealed at once under the key of the correction's own period (the
 *	 two-person request keeps only that, never a clear value);
 * - finsec._credit_correction_insert(tbl, payload): the approved row
 *	 inserted as the table's owner (the original row stays: C6).
 *
 * No SQL runs as finsec's owner on the user's table: reads and the insert
 * run as the table's owner in a security-restricted operation, with
 * search_path pinned; values cross by the input and output functions of
 * trusted types, resolved in C.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "finsec.h"
#include "finsec_b64url.h"
#include "finsec_errcodes.h"
#include "finsec_owner.h"
#include "finsec_protect.h"
#include "finsec_trusted.h"
#include "credit.h"

/* finsec.credit_dispute_days: the statutory deadline (art. 25: 20 days). */
static int	credit_dispute_days = 20;

void
finsec_credit_dispute_define_settings(void)
{
	DefineCustomIntVariable("finsec.credit_dispute_days",
							"Days within which a credit dispute must be resolved.",
							"A dispute is due this many days after it was received "
							"(征信业管理条例 art. 25: 20 days); the statutory maximum is also the limit.",
							&credit_dispute_days,
							20, 1, 20,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
}

/* ---- the registration, copied out of the cache ------------------------ */

typedef struct DisputeColumn
{
	char		name[NAMEDATALEN];
	AttrNumber	attnum;
	Oid			typid;
	int32		typmod;
	FinsecCreditColumnRole role;
} DisputeColumn;

typedef struct DisputeTable
{
	Oid			relid;
	int32		policy_id;
	char		period_unit[8];
	int			ncolumns;
	DisputeColumn *columns;
	int			key;			/* indexes into columns */
	int			subject;
	int			behaviour_end;
	int			institution;	/* -1: none */
} DisputeTable;

static bool
is_personal(FinsecCreditColumnRole role)
{
	return role == FINSEC_CREDIT_SUBJECT || role == FINSEC_CREDIT_IDENTIFIER ||
		role == FINSEC_CREDIT_QUASI_IDENTIFIER || role == FINSEC_CREDIT_SENSITIVE;
}

static int
column_index(const FinsecCreditTable *t, AttrNumber attnum)
{
	for (int i = 0; i < t->ncolumns; i++)
		if (t->columns[i].attnum == attnum)
			return i;
	return -1;
}

/* The registration of relid (S9D68 when there is none), in the current context. */
static DisputeTable *
dispute_table(Oid relid)
{
	const FinsecCreditTable *t = finsec_credit_table(relid);
	DisputeTable *d;

	if (t == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_DISPUTE_TABLE),
				 errmsg("relation with OID %u is not a registered credit table", relid),
				 errhint("Disputes concern the records of tables registered with finsec.register_credit_table().")));
	d = palloc0(sizeof(DisputeTable));
	d->relid = relid;
	d->policy_id = t->policy_id;
	strlcpy(d->period_unit, t->period_unit, sizeof(d->period_unit));
	d->ncolumns = t->ncolumns;
	d->columns = palloc0(sizeof(DisputeColumn) * Max(t->ncolumns, 1));
	for (int i = 0; i < t->ncolumns; i++)
	{
		Oid			typid;
		int32		typmod;
		Oid			coll;

		strlcpy(d->columns[i].name, t->columns[i].name, NAMEDATALEN);
		d->columns[i].attnum = t->columns[i].attnum;
		d->columns[i].role = t->columns[i].role;
		get_atttypetypmodcoll(relid, t->columns[i].attnum, &typid, &typmod, &coll);
		d->columns[i].typid = typid;
		d->columns[i].typmod = typmod;
	}
	d->key = column_index(t, t->key_attnum);
	d->subject = column_index(t, t->subject_attnum);
	d->behaviour_end = column_index(t, t->behaviour_end_attnum);
	d->institution = t->institution_attnum > 0 ? column_index(t, t->institution_attnum) : -1;
	if (d->key < 0 || d->subject < 0 || d->behaviour_end < 0)
		elog(ERROR, "registration of relation %u lacks its key, subject or behaviour end column", relid);
	return d;
}

/* "OPERATOR(schema.=)" of the type's default equality, for finsec's own SQL. */
static char *
equality_operator(Oid typid)
{
	TypeCacheEntry *tce = lookup_type_cache(typid, TYPECACHE_EQ_OPR);
	HeapTuple	tup;
	Form_pg_operator op;
	char	   *result;

	if (!OidIsValid(tce->eq_opr))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("the record key's type %s has no default equality operator", format_type_be(typid))));
	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(tce->eq_opr));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator %u", tce->eq_opr);
	op = (Form_pg_operator) GETSTRUCT(tup);
	result = psprintf("OPERATOR(%s.%s)", quote_identifier(get_namespace_name(op->oprnamespace)),
					  NameStr(op->oprname));
	ReleaseSysCache(tup);
	return result;
}

/* A value of a trusted column type from its text (S9D66 for another type). */
static Datum
trusted_input(const DisputeColumn *c, const char *text)
{
	Oid			typinput;
	Oid			typioparam;

	if (!finsec_type_is_trusted(c->typid))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_BAD_CORRECTION),
				 errmsg("column \"%s\" has type %s, which finsec does not read or write", c->name,
						format_type_be(c->typid))));
	getTypeInputInfo(c->typid, &typinput, &typioparam);
	return OidInputFunctionCall(typinput, (char *) text, typioparam, c->typmod);
}

/* ---- reading the disputed record --------------------------------------- */

typedef struct RecordInfo
{
	bool		found;
	DateADT		behaviour_end;
	char	   *institution;	/* NULL: none */
	bool		subject_readable;	/* its key exists (not shredded) */
	bool		subject_matches;
	char	   *pseudonym;		/* the subject's, when it matches */
} RecordInfo;

/*
 * The record of d whose key is record_key, read as the table's owner;
 * subject (may be NULL) compared with the record's by pseudonym.
 */
static void
read_record(DisputeTable *d, const char *record_key, const char *subject, RecordInfo *info)
{
	DisputeColumn *key = &d->columns[d->key];
	StringInfoData sql;
	Oid			argtypes[1];
	Datum		values[1];
	FinsecTableOwnerContext ctx;
	MemoryContext outer;
	int			ret = 0;

	memset(info, 0, sizeof(*info));
	argtypes[0] = key->typid;
	values[0] = trusted_input(key, record_key);

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT r.%s, r.%s",
					 quote_identifier(d->columns[d->subject].name),
					 quote_identifier(d->columns[d->behaviour_end].name));
	if (d->institution >= 0)
		appendStringInfo(&sql, ", r.%s", quote_identifier(d->columns[d->institution].name));
	appendStringInfo(&sql, " FROM ONLY %s r WHERE r.%s %s $1",
					 finsec_quoted_relname(d->relid), quote_identifier(key->name),
					 equality_operator(key->typid));

	outer = CurrentMemoryContext;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	finsec_credit_read_begin();
	PG_TRY();
	{
		finsec_begin_table_owner(d->relid, &ctx);
		ret = SPI_execute_with_args(sql.data, 1, argtypes, values, NULL, true, 2);
		finsec_end_table_owner(&ctx);
	}
	PG_FINALLY();
	{
		finsec_credit_read_end();
	}
	PG_END_TRY();
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the disputed record (%s)", SPI_result_code_string(ret));
	if (SPI_processed > 1)
		elog(ERROR, "record key of relation %u is not unique", d->relid);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		v;

		info->found = true;
		v = SPI_getbinval(tup, desc, 2, &isnull);
		if (isnull || TupleDescAttr(desc, 1)->atttypid != DATEOID)
			elog(ERROR, "behaviour end of a record of relation %u is not a date", d->relid);
		info->behaviour_end = DatumGetDateADT(v);
		if (d->institution >= 0)
		{
			v = SPI_getbinval(tup, desc, 3, &isnull);
			if (!isnull)
			{
				MemoryContext old = MemoryContextSwitchTo(outer);

				info->institution = finsec_trusted_output(TupleDescAttr(desc, 2)->atttypid, v);
				MemoryContextSwitchTo(old);
			}
		}
		v = SPI_getbinval(tup, desc, 1, &isnull);
		if (!isnull)
		{
			struct varlena *sealed = PG_DETOAST_DATUM(v);
			char	   *plain = NULL;
			size_t		len = 0;

			if (finsec_protect_open(sealed, &plain, &len) == FINSEC_PROTECT_OPEN_OK)
			{
				info->subject_readable = true;
				if (subject != NULL)
				{
					char	   *mine = finsec_credit_pseudonym(plain);

					info->subject_matches = finsec_credit_pseudonym_matches(subject, mine);
					if (info->subject_matches)
					{
						MemoryContext old = MemoryContextSwitchTo(outer);

						info->pseudonym = pstrdup(mine);
						MemoryContextSwitchTo(old);
					}
				}
				explicit_bzero(plain, len);
				pfree(plain);
			}
		}
	}
	SPI_finish();
}

PG_FUNCTION_INFO_V1(finsec_credit_record);

/*
 * finsec._credit_record(tbl regclass, record_key text, subject text,
 *		OUT behaviour_end date, OUT institution text, OUT subject_readable
 *		boolean, OUT subject_matches boolean, OUT subject_pseudonym text)
 * returns setof record: no row when the table has no such record.  For
 * finsec's own functions (no grant).  subject NULL: not compared.
 */
Datum
finsec_credit_record(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DisputeTable *d;
	char	   *record_key;
	char	   *subject = NULL;
	RecordInfo	info;

	if (GetUserId() != finsec_owner() && !superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("finsec._credit_record() is for finsec's own functions")));
	finsec_require_arg(fcinfo, 0, "table");
	finsec_require_arg(fcinfo, 1, "record key");
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	d = dispute_table(PG_GETARG_OID(0));
	record_key = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!PG_ARGISNULL(2))
		subject = text_to_cstring(PG_GETARG_TEXT_PP(2));
	read_record(d, record_key, subject, &info);
	if (subject != NULL)
	{
		explicit_bzero(subject, strlen(subject));
		pfree(subject);
	}
	if (info.found)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		values[0] = DateADTGetDatum(info.behaviour_end);
		nulls[1] = info.institution == NULL;
		values[1] = nulls[1] ? (Datum) 0 : CStringGetTextDatum(info.institution);
		values[2] = BoolGetDatum(info.subject_readable);
		values[3] = BoolGetDatum(info.subject_matches);
		nulls[4] = info.pseudonym == NULL;
		values[4] = nulls[4] ? (Datum) 0 : CStringGetTextDatum(info.pseudonym);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* ---- texts sealed with the record ----------------------------------------- */

PG_FUNCTION_INFO_V1(finsec_credit_seal_for_record);

/*
 * finsec._credit_seal_for_record(tbl regclass, behaviour_end date, value
 * text) returns bytea (a finsec.protected_text value's bytes): value sealed under the table's
 * policy and the key of behaviour_end's period: shredded with the records
 * of that period.  For finsec's own functions (no grant).
 */
Datum
finsec_credit_seal_for_record(PG_FUNCTION_ARGS)
{
	DisputeTable *d;
	const FinsecProtectPolicy *p;
	int32		period;
	text	   *value;
	char	   *plain;
	size_t		len;
	struct varlena *sealed;

	if (GetUserId() != finsec_owner() && !superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("finsec._credit_seal_for_record() is for finsec's own functions")));
	finsec_require_arg(fcinfo, 0, "table");
	finsec_require_arg(fcinfo, 1, "behaviour end");
	if (PG_ARGISNULL(2))
		PG_RETURN_NULL();
	d = dispute_table(PG_GETARG_OID(0));
	p = finsec_protect_policy(d->policy_id);
	period = finsec_protect_period_of(p->period_unit, PG_GETARG_DATEADT(1));
	value = PG_GETARG_TEXT_PP(2);
	len = VARSIZE_ANY_EXHDR(value);
	plain = palloc(len + 1);
	memcpy(plain, VARDATA_ANY(value), len);
	plain[len] = '\0';
	sealed = finsec_protect_seal(FINSEC_PROTECT_TEXT, p, period, plain, len);
	explicit_bzero(plain, len);
	pfree(plain);
	PG_RETURN_POINTER(sealed);
}

PG_FUNCTION_INFO_V1(finsec_credit_sealed_info);

/*
 * finsec._credit_sealed_info(sealed bytea, OUT policy_id, OUT period, OUT
 * readable): what a sealed dispute text says about itself, and whether its
 * key still opens it (false once its period is shredded).  Never the text.
 */
Datum
finsec_credit_sealed_info(PG_FUNCTION_ARGS)
{
	struct varlena *v = PG_GETARG_VARLENA_P(0);
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	char	   *plain = NULL;
	size_t		len = 0;

	if (GetUserId() != finsec_owner() && !superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("finsec._credit_sealed_info() is for finsec's own functions")));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = Int32GetDatum(finsec_protect_value_policy(v));
	values[1] = Int32GetDatum(finsec_protect_value_period(v));
	values[2] = BoolGetDatum(finsec_protect_open(v, &plain, &len) == FINSEC_PROTECT_OPEN_OK);
	if (plain != NULL)
	{
		explicit_bzero(plain, len);
		pfree(plain);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/* ---- corrections ------------------------------------------------------------ */

/* The text of a jsonb scalar (palloc'd), or NULL for null; S9D66 otherwise. */
static char *
scalar_text(const JsonbValue *v, const char *column)
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
		default:
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_CREDIT_BAD_CORRECTION),
					 errmsg("the value of column \"%s\" of the correction is not a JSON scalar", column),
					 errhint("Give each column as a string, a number, a boolean or null.")));
	}
	return NULL;				/* keep the compiler quiet */
}

static void
append_b64(StringInfo buf, const void *data, size_t len)
{
	char	   *out = palloc(FINSEC_B64URL_ENCODED_LEN(len) + 1);
	size_t		n = finsec_b64url_encode((const uint8_t *) data, len, out);

	out[n] = '\0';
	escape_json(buf, out);
	pfree(out);
}

PG_FUNCTION_INFO_V1(finsec_credit_correction_seal);

/*
 * finsec._credit_correction_seal(tbl regclass, row jsonb, pseudonym text)
 * returns jsonb {"key": the new record's key (canonical text),
 * "behaviour_end": date, "subject_matches": whether its subject is the
 * one of pseudonym, "columns": {name: null | {"t": text} | {"s": sealed
 * value, base64url}}}.  Every personal column sealed under the key of the
 * row's own period, as the period trigger would; no clear personal value
 * in the result.  For finsec's own functions (no grant).
 */
Datum
finsec_credit_correction_seal(PG_FUNCTION_ARGS)
{
	DisputeTable *d;
	Jsonb	   *row;
	const char *expected;
	const FinsecProtectPolicy *p;
	char	  **texts;
	volatile int matched = 0;
	DateADT		be;
	int32		period;
	volatile bool subject_matches = false;
	char	   *key_text;
	StringInfoData buf;

	if (GetUserId() != finsec_owner() && !superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("finsec._credit_correction_seal() is for finsec's own functions")));
	finsec_require_arg(fcinfo, 0, "table");
	finsec_require_arg(fcinfo, 1, "correction row");
	finsec_require_arg(fcinfo, 2, "subject pseudonym");
	d = dispute_table(PG_GETARG_OID(0));
	row = PG_GETARG_JSONB_P(1);
	expected = text_to_cstring(PG_GETARG_TEXT_PP(2));
	p = finsec_protect_policy(d->policy_id);

	if (!JB_ROOT_IS_OBJECT(row))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_BAD_CORRECTION),
				 errmsg("a correction row must be a JSON object of column -> value")));

	texts = palloc0(sizeof(char *) * Max(d->ncolumns, 1));
	initStringInfo(&buf);
	/* the clear values are zeroized however this ends */
	PG_TRY();
	{
		for (int i = 0; i < d->ncolumns; i++)
		{
			JsonbValue	v;

			if (getKeyJsonValueFromContainer(&row->root, d->columns[i].name, strlen(d->columns[i].name), &v))
			{
				matched++;
				texts[i] = scalar_text(&v, d->columns[i].name);
			}
		}
		if (matched != (int) JB_ROOT_COUNT(row))
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_CREDIT_BAD_CORRECTION),
					 errmsg("the correction names a column that is not a registered column of the table"),
					 errhint("finsec.credit_column lists the table's registered columns.")));
		if (texts[d->key] == NULL || texts[d->subject] == NULL || texts[d->behaviour_end] == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_CREDIT_BAD_CORRECTION),
					 errmsg("a correction row needs its record key, subject and behaviour end"),
					 errdetail("The correction is a new record: it has a key of its own, and its subject is the disputed record's.")));

		be = DatumGetDateADT(trusted_input(&d->columns[d->behaviour_end], texts[d->behaviour_end]));
		period = finsec_protect_period_of(p->period_unit, be);
		key_text = finsec_trusted_output(d->columns[d->key].typid,
										 trusted_input(&d->columns[d->key], texts[d->key]));

		appendStringInfoString(&buf, "{\"key\": ");
		escape_json(&buf, key_text);
		appendStringInfo(&buf, ", \"behaviour_end\": ");
		escape_json(&buf, DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(be))));
		appendStringInfoString(&buf, ", \"columns\": {");
		for (int i = 0, n = 0; i < d->ncolumns; i++)
		{
			DisputeColumn *c = &d->columns[i];
			bool		present = false;
			JsonbValue	v;

			if (getKeyJsonValueFromContainer(&row->root, c->name, strlen(c->name), &v))
				present = true;
			if (!present)
				continue;
			if (n++ > 0)
				appendStringInfoString(&buf, ", ");
			escape_json(&buf, c->name);
			appendStringInfoString(&buf, ": ");
			if (texts[i] == NULL)
				appendStringInfoString(&buf, "null");
			else if (is_personal(c->role))
			{
				Oid			typinput;
				Oid			typioparam;
				struct varlena *first;
				struct varlena *sealed;
				char	   *plain = NULL;
				size_t		len = 0;

				/* the type's input validates and canonicalises (identifiers) */
				getTypeInputInfo(c->typid, &typinput, &typioparam);
				first = (struct varlena *) DatumGetPointer(OidInputFunctionCall(typinput, texts[i], typioparam,
																				c->typmod));
				if (finsec_protect_open(first, &plain, &len) != FINSEC_PROTECT_OPEN_OK)
					ereport(ERROR,
							(errcode(ERRCODE_FINSEC_CREDIT_BAD_CORRECTION),
							 errmsg("the value of column \"%s\" of the correction could not be sealed", c->name)));
				if (i == d->subject)
					subject_matches = finsec_credit_pseudonym_matches(plain, expected);
				sealed = finsec_protect_seal(finsec_protect_kind(first), p, period, plain, len);
				explicit_bzero(plain, len);
				pfree(plain);
				appendStringInfoString(&buf, "{\"s\": ");
				append_b64(&buf, sealed, VARSIZE(sealed));
				appendStringInfoChar(&buf, '}');
			}
			else
			{
				/* validated now; written by the same input function at apply */
				(void) trusted_input(c, texts[i]);
				appendStringInfoString(&buf, "{\"t\": ");
				escape_json(&buf, texts[i]);
				appendStringInfoChar(&buf, '}');
			}
		}
	}
	PG_FINALLY();
	{
		for (int i = 0; i < d->ncolumns; i++)
			if (texts[i] != NULL)
				explicit_bzero(texts[i], strlen(texts[i]));
	}
	PG_END_TRY();
	appendStringInfo(&buf, "}, \"subject_matches\": %s}", subject_matches ? "true" : "false");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/* A payload field of the correction (S9D66 when it is missing or not text). */
static char *
payload_text(Jsonb *payload, const char *field)
{
	JsonbValue	v;

	if (!getKeyJsonValueFromContainer(&payload->root, field, strlen(field), &v) || v.type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_BAD_CORRECTION),
				 errmsg("the correction request has no \"%s\"", field)));
	return pnstrdup(v.val.string.val, v.val.string.len);
}

PG_FUNCTION_INFO_V1(finsec_credit_correction_insert);

/*
 * finsec._credit_correction_insert(tbl regclass, payload jsonb) returns
 * void: the row of an approved credit.correction (prepared by
 * _credit_correction_seal) inserted as the table's owner.  The period
 * trigger finds each personal value already under its row's period; the
 * table's own triggers (hash chain, insert guard) run as for any insert.
 * For finsec's own functions (no grant).
 */
Datum
finsec_credit_correction_insert(PG_FUNCTION_ARGS)
{
	DisputeTable *d;
	Jsonb	   *payload;
	JsonbValue	colsv;
	JsonbContainer *cols;
	StringInfoData sql;
	StringInfoData names;
	Oid		   *argtypes;
	Datum	   *values;
	char	   *nulls;
	int			nargs = 0;
	int32		period;
	FinsecTableOwnerContext ctx;
	int			ret;

	if (GetUserId() != finsec_owner() && !superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("finsec._credit_correction_insert() is for finsec's own functions")));
	finsec_require_arg(fcinfo, 0, "table");
	finsec_require_arg(fcinfo, 1, "correction");
	d = dispute_table(PG_GETARG_OID(0));
	payload = PG_GETARG_JSONB_P(1);
	if (!JB_ROOT_IS_OBJECT(payload) ||
		!getKeyJsonValueFromContainer(&payload->root, "columns", 7, &colsv) ||
		colsv.type != jbvBinary || !JsonContainerIsObject(colsv.val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CREDIT_BAD_CORRECTION),
				 errmsg("the correction request has no columns")));
	cols = colsv.val.binary.data;
	period = finsec_protect_period_of(d->period_unit,
									  DatumGetDateADT(DirectFunctionCall1(date_in,
																		  CStringGetDatum(payload_text(payload, "behaviour_end")))));

	argtypes = palloc(sizeof(Oid) * Max(d->ncolumns, 1));
	values = palloc(sizeof(Datum) * Max(d->ncolumns, 1));
	nulls = palloc(d->ncolumns + 1);
	initStringInfo(&names);
	initStringInfo(&sql);
	for (int i = 0; i < d->ncolumns; i++)
	{
		DisputeColumn *c = &d->columns[i];
		JsonbValue	v;
		JsonbValue	inner;

		if (!getKeyJsonValueFromContainer(cols, c->name, strlen(c->name), &v))
			continue;
		if (nargs > 0)
		{
			appendStringInfoString(&names, ", ");
			appendStringInfoString(&sql, ", ");
		}
		appendStringInfoString(&names, quote_identifier(c->name));
		appendStringInfo(&sql, "$%d", nargs + 1);
		argtypes[nargs] = c->typid;
		nulls[nargs] = ' ';
		if (v.type == jbvNull)
		{
			nulls[nargs] = 'n';
			values[nargs] = (Datum) 0;
		}
		else if (v.type == jbvBinary && is_personal(c->role) &&
				 getKeyJsonValueFromContainer(v.val.binary.data, "s", 1, &inner) && inner.type == jbvString)
		{
			size_t		cap = inner.val.string.len;
			uint8	   *raw = palloc(cap + 1);
			size_t		rawlen = 0;
			struct varlena *sealed;

			if (!finsec_b64url_decode(inner.val.string.val, inner.val.string.len, raw, cap, &rawlen) ||
				rawlen < VARHDRSZ)
				ereport(ERROR,
						(errcode(ERRCODE_FINSEC_CREDIT_BAD_CORRECTION),
						 errmsg("the sealed value of column \"%s\" of the correction is damaged", c->name)));
			sealed = (struct varlena *) raw;
			if (VARSIZE(sealed) != rawlen ||
				finsec_protect_value_policy(sealed) != d->policy_id ||
				finsec_protect_value_period(sealed) != period)
				ereport(ERROR,
						(errcode(ERRCODE_FINSEC_CREDIT_BAD_CORRECTION),
						 errmsg("the sealed value of column \"%s\" of the correction is not of the row's policy and period",
								c->name)));
			values[nargs] = PointerGetDatum(sealed);
		}
		else if (v.type == jbvBinary && !is_personal(c->role) &&
				 getKeyJsonValueFromContainer(v.val.binary.data, "t", 1, &inner) && inner.type == jbvString)
			values[nargs] = trusted_input(c, pnstrdup(inner.val.string.val, inner.val.string.len));
		else
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_CREDIT_BAD_CORRECTION),
					 errmsg("the value of column \"%s\" of the correction request is damaged", c->name)));
		nargs++;
	}
	nulls[nargs] = '\0';
	{
		char	   *query = psprintf("INSERT INTO %s (%s) VALUES (%s)", finsec_quoted_relname(d->relid),
									 names.data, sql.data);

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		finsec_begin_table_owner(d->relid, &ctx);
		ret = SPI_execute_with_args(query, nargs, argtypes, values, nulls, false, 0);
		finsec_end_table_owner(&ctx);
		if (ret != SPI_OK_INSERT || SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_CREDIT_BAD_CORRECTION),
					 errmsg("the correction was not inserted"),
					 errdetail("A rule or trigger of the table kept the row out.")));
		SPI_finish();
	}
	PG_RETURN_VOID();
}

/* ---- statements for credit_query ------------------------------------------- */

/*
 * The personal statements attached to record record_key of relid (its
 * unconfirmed disputes), for credit_query to show with the record: a jsonb
 * array of {"dispute_id", "statement" (clear text; null once the record's
 * period is shredded), "shredded", "recorded_at"}, oldest first; [] when
 * there is none.  Allocated in the caller's memory context.  Reads
 * finsec.credit_statement as finsec's owner (finsec's own table).
 */
Jsonb *
finsec_credit_statements(Oid relid, const char *record_key)
{
	MemoryContext outer = CurrentMemoryContext;
	FinsecOwnerContext ctx;
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		values[2];
	StringInfoData buf;
	uint64		n;
	Jsonb	   *result;

	values[0] = ObjectIdGetDatum(relid);
	values[1] = CStringGetTextDatum(record_key);
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	finsec_spi_begin_as_owner(&ctx);
	n = finsec_spi_execute("SELECT s.dispute_id, s.statement, "
						   "pg_catalog.to_char(s.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
						   "FROM finsec.credit_statement s "
						   "WHERE s.relid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass "
						   "AND s.record_key OPERATOR(pg_catalog.=) $2 ORDER BY s.dispute_id",
						   2, argtypes, values, NULL, true, 0, SPI_OK_SELECT,
						   "could not read finsec.credit_statement");
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		struct varlena *sealed = PG_DETOAST_DATUM(SPI_getbinval(tup, desc, 2, &isnull));
		char	   *at = SPI_getvalue(tup, desc, 3);
		char	   *plain = NULL;
		size_t		len = 0;
		bool		ok = finsec_protect_open(sealed, &plain, &len) == FINSEC_PROTECT_OPEN_OK;

		if (i > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfo(&buf, "{\"dispute_id\": " INT64_FORMAT ", \"statement\": ", id);
		if (ok)
		{
			escape_json(&buf, plain);
			explicit_bzero(plain, len);
			pfree(plain);
		}
		else
			appendStringInfoString(&buf, "null");
		appendStringInfo(&buf, ", \"shredded\": %s, \"recorded_at\": ", ok ? "false" : "true");
		escape_json(&buf, at);
		appendStringInfoChar(&buf, '}');
	}
	finsec_spi_end(&ctx);
	appendStringInfoChar(&buf, ']');
	MemoryContextSwitchTo(outer);
	result = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
	explicit_bzero(buf.data, buf.len);
	pfree(buf.data);
	return result;
}

PG_FUNCTION_INFO_V1(finsec_credit_statements_sql);

/*
 * finsec._credit_statements(tbl regclass, record_key text) returns jsonb:
 * finsec_credit_statements() for finsec's own SQL and the tests (no grant).
 */
Datum
finsec_credit_statements_sql(PG_FUNCTION_ARGS)
{
	char	   *key;

	if (GetUserId() != finsec_owner() && !superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("finsec._credit_statements() is for finsec's own functions")));
	finsec_require_arg(fcinfo, 0, "table");
	finsec_require_arg(fcinfo, 1, "record key");
	key = text_to_cstring(PG_GETARG_TEXT_PP(1));
	PG_RETURN_JSONB_P(finsec_credit_statements(PG_GETARG_OID(0), key));
}
