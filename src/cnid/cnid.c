/*-------------------------------------------------------------------------
 *
 * cnid.c
 *	  SQL types for Chinese identifiers (requirement D9; docs/identifiers.md):
 *	  finsec.cn_resident_id, finsec.uscc, finsec.cn_mobile.
 *
 * The rules live in cnid_parse.c (pure C, fuzzed); this file only moves
 * values between PostgreSQL and those functions and raises errors.
 *
 * Storage: cn_resident_id and cn_mobile are 8-byte integers passed by value
 * (the first 17 digits of the ID, the 11 digits of the number), so their
 * comparison, hashing and sort support are int8's (bound in SQL with
 * LANGUAGE internal, as contrib isn does).  uscc is 18 fixed bytes of its
 * normalized text, compared bytewise.  In every case the storage order is
 * the order of the normalized text.
 *
 * The binary (send/recv) format of all three is the normalized text; recv
 * applies the full validation of the text input.
 *
 * No message contains an input value: errors name the rule and positions
 * (finsec_cnid_problem_text); values are personal data.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"

#include "finsec.h"
#include "cnid_parse.h"

typedef struct CnidType
{
	CnidKind	kind;
	const char *what;			/* for messages */
} CnidType;

static const CnidType t_resident_id = {CNID_RESIDENT_ID, "resident ID number"};
static const CnidType t_resident_id15 = {CNID_RESIDENT_ID_15, "15-digit resident ID number"};
static const CnidType t_uscc = {CNID_USCC, "unified social credit code"};
static const CnidType t_mobile = {CNID_MOBILE, "mobile phone number"};

static CnidResult
parse(CnidKind kind, const char *s, size_t len, char *out)
{
	switch (kind)
	{
		case CNID_RESIDENT_ID:
			return finsec_cnid_parse_resident_id(s, len, out);
		case CNID_RESIDENT_ID_15:
			return finsec_cnid_parse_resident_id_15(s, len, out);
		case CNID_USCC:
			return finsec_cnid_parse_uscc(s, len, out);
		case CNID_MOBILE:
			break;
	}
	return finsec_cnid_parse_mobile(s, len, out);
}

/* Parse or raise: 22P02 for text input, 22P03 for binary input. */
static void
parse_or_error(const CnidType *t, const char *s, size_t len, char *out, int sqlstate)
{
	CnidResult	r = parse(t->kind, s, len, out);
	char		problem[CNID_PROBLEM_MAX];
	const char *hint;

	if (r.status == CNID_OK)
		return;
	(void) finsec_cnid_problem_text(t->kind, r, problem, sizeof(problem));
	hint = finsec_cnid_problem_hint(t->kind, r);
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("invalid %s: %s", t->what, problem),
			 hint ? errhint("%s", hint) : 0,
	/* the statement holds the number refused, as for cards */
			 errhidestmt(true)));
}

static text *
text_of(const char *s, size_t len)
{
	return cstring_to_text_with_len(s, (int) len);
}

static void
unpack_resident_id(int64 v, char *out)
{
	if (!finsec_cnid_resident_id_unpack(v, out))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("stored finsec.cn_resident_id value is out of range")));
}

static void
unpack_mobile(int64 v, char *out)
{
	if (!finsec_cnid_mobile_unpack(v, out))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("stored finsec.cn_mobile value is out of range")));
}

/* ---- finsec.cn_resident_id ------------------------------------------- */

PG_FUNCTION_INFO_V1(finsec_cn_resident_id_in);
PG_FUNCTION_INFO_V1(finsec_cn_resident_id_out);
PG_FUNCTION_INFO_V1(finsec_cn_resident_id_recv);
PG_FUNCTION_INFO_V1(finsec_cn_resident_id_send);
PG_FUNCTION_INFO_V1(finsec_cn_resident_id_from_15);
PG_FUNCTION_INFO_V1(finsec_cn_resident_id_mask);
PG_FUNCTION_INFO_V1(finsec_cn_resident_id_birth_date);
PG_FUNCTION_INFO_V1(finsec_cn_resident_id_sex);
PG_FUNCTION_INFO_V1(finsec_cn_resident_id_region);
PG_FUNCTION_INFO_V1(finsec_cn_resident_id_problem);
PG_FUNCTION_INFO_V1(finsec_cn_resident_id_is_valid);

Datum
finsec_cn_resident_id_in(PG_FUNCTION_ARGS)
{
	char	   *s = PG_GETARG_CSTRING(0);
	char		id[CNID_RESIDENT_ID_LEN];

	parse_or_error(&t_resident_id, s, strlen(s), id, ERRCODE_INVALID_TEXT_REPRESENTATION);
	PG_RETURN_INT64(finsec_cnid_resident_id_pack(id));
}

Datum
finsec_cn_resident_id_out(PG_FUNCTION_ARGS)
{
	char		id[CNID_RESIDENT_ID_LEN];

	unpack_resident_id(PG_GETARG_INT64(0), id);
	PG_RETURN_CSTRING(pnstrdup(id, CNID_RESIDENT_ID_LEN));
}

Datum
finsec_cn_resident_id_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	char		id[CNID_RESIDENT_ID_LEN];
	int			len = buf->len - buf->cursor;

	parse_or_error(&t_resident_id, pq_getmsgbytes(buf, len), len, id,
				   ERRCODE_INVALID_BINARY_REPRESENTATION);
	PG_RETURN_INT64(finsec_cnid_resident_id_pack(id));
}

Datum
finsec_cn_resident_id_send(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	char		id[CNID_RESIDENT_ID_LEN];

	unpack_resident_id(PG_GETARG_INT64(0), id);
	pq_begintypsend(&buf);
	pq_sendbytes(&buf, id, CNID_RESIDENT_ID_LEN);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* finsec.cn_resident_id_from_15(text): a first-generation number, converted. */
Datum
finsec_cn_resident_id_from_15(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char		id[CNID_RESIDENT_ID_LEN];

	parse_or_error(&t_resident_id15, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), id,
				   ERRCODE_INVALID_TEXT_REPRESENTATION);
	PG_RETURN_INT64(finsec_cnid_resident_id_pack(id));
}

Datum
finsec_cn_resident_id_mask(PG_FUNCTION_ARGS)
{
	char		id[CNID_RESIDENT_ID_LEN];
	char		masked[CNID_RESIDENT_ID_LEN];

	unpack_resident_id(PG_GETARG_INT64(0), id);
	finsec_cnid_mask_resident_id(id, masked);
	PG_RETURN_TEXT_P(text_of(masked, CNID_RESIDENT_ID_LEN));
}

static DateADT
birth_date(const char *id)
{
	int			y,
				m,
				d;

	finsec_cnid_resident_id_birth(id, &y, &m, &d);
	return date2j(y, m, d) - POSTGRES_EPOCH_JDATE;
}

Datum
finsec_cn_resident_id_birth_date(PG_FUNCTION_ARGS)
{
	char		id[CNID_RESIDENT_ID_LEN];

	unpack_resident_id(PG_GETARG_INT64(0), id);
	PG_RETURN_DATEADT(birth_date(id));
}

Datum
finsec_cn_resident_id_sex(PG_FUNCTION_ARGS)
{
	char		id[CNID_RESIDENT_ID_LEN];

	unpack_resident_id(PG_GETARG_INT64(0), id);
	PG_RETURN_TEXT_P(cstring_to_text(finsec_cnid_resident_id_is_male(id) ? "male" : "female"));
}

Datum
finsec_cn_resident_id_region(PG_FUNCTION_ARGS)
{
	char		id[CNID_RESIDENT_ID_LEN];

	unpack_resident_id(PG_GETARG_INT64(0), id);
	PG_RETURN_TEXT_P(text_of(id, 6));
}

/*
 * The type's rules, plus, when as_of is given, a birth date not after it.
 * Not strict: a NULL value gives NULL, a NULL as_of skips that check.
 */
static CnidResult
resident_id_check(FunctionCallInfo fcinfo)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char		id[CNID_RESIDENT_ID_LEN];
	CnidResult	r;

	r = finsec_cnid_parse_resident_id(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), id);
	if (r.status == CNID_OK && !PG_ARGISNULL(1) && birth_date(id) > PG_GETARG_DATEADT(1))
		r.status = CNID_FUTURE_DATE;
	return r;
}

static Datum
problem_datum(CnidKind kind, CnidResult r, FunctionCallInfo fcinfo)
{
	char		problem[CNID_PROBLEM_MAX];

	if (r.status == CNID_OK)
		PG_RETURN_NULL();
	(void) finsec_cnid_problem_text(kind, r, problem, sizeof(problem));
	PG_RETURN_TEXT_P(cstring_to_text(problem));
}

Datum
finsec_cn_resident_id_problem(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	return problem_datum(CNID_RESIDENT_ID, resident_id_check(fcinfo), fcinfo);
}

Datum
finsec_cn_resident_id_is_valid(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_BOOL(resident_id_check(fcinfo).status == CNID_OK);
}

/* ---- finsec.uscc ------------------------------------------------------ */

PG_FUNCTION_INFO_V1(finsec_uscc_in);
PG_FUNCTION_INFO_V1(finsec_uscc_out);
PG_FUNCTION_INFO_V1(finsec_uscc_recv);
PG_FUNCTION_INFO_V1(finsec_uscc_send);
PG_FUNCTION_INFO_V1(finsec_uscc_mask);
PG_FUNCTION_INFO_V1(finsec_uscc_problem);
PG_FUNCTION_INFO_V1(finsec_uscc_is_valid);
PG_FUNCTION_INFO_V1(finsec_uscc_eq);
PG_FUNCTION_INFO_V1(finsec_uscc_ne);
PG_FUNCTION_INFO_V1(finsec_uscc_lt);
PG_FUNCTION_INFO_V1(finsec_uscc_le);
PG_FUNCTION_INFO_V1(finsec_uscc_gt);
PG_FUNCTION_INFO_V1(finsec_uscc_ge);
PG_FUNCTION_INFO_V1(finsec_uscc_cmp);
PG_FUNCTION_INFO_V1(finsec_uscc_hash);
PG_FUNCTION_INFO_V1(finsec_uscc_hash_extended);

#define PG_GETARG_USCC(n) ((const char *) PG_GETARG_POINTER(n))

Datum
finsec_uscc_in(PG_FUNCTION_ARGS)
{
	char	   *s = PG_GETARG_CSTRING(0);
	char	   *code = palloc(CNID_USCC_LEN);

	parse_or_error(&t_uscc, s, strlen(s), code, ERRCODE_INVALID_TEXT_REPRESENTATION);
	PG_RETURN_POINTER(code);
}

Datum
finsec_uscc_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(pnstrdup(PG_GETARG_USCC(0), CNID_USCC_LEN));
}

Datum
finsec_uscc_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	char	   *code = palloc(CNID_USCC_LEN);
	int			len = buf->len - buf->cursor;

	parse_or_error(&t_uscc, pq_getmsgbytes(buf, len), len, code,
				   ERRCODE_INVALID_BINARY_REPRESENTATION);
	PG_RETURN_POINTER(code);
}

Datum
finsec_uscc_send(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, PG_GETARG_USCC(0), CNID_USCC_LEN);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
finsec_uscc_mask(PG_FUNCTION_ARGS)
{
	char		masked[CNID_USCC_LEN];

	finsec_cnid_mask_uscc(PG_GETARG_USCC(0), masked);
	PG_RETURN_TEXT_P(text_of(masked, CNID_USCC_LEN));
}

Datum
finsec_uscc_problem(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char		code[CNID_USCC_LEN];

	return problem_datum(CNID_USCC,
						 finsec_cnid_parse_uscc(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), code),
						 fcinfo);
}

Datum
finsec_uscc_is_valid(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char		code[CNID_USCC_LEN];

	PG_RETURN_BOOL(finsec_cnid_parse_uscc(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), code).status == CNID_OK);
}

static int
uscc_compare(FunctionCallInfo fcinfo)
{
	return memcmp(PG_GETARG_USCC(0), PG_GETARG_USCC(1), CNID_USCC_LEN);
}

Datum
finsec_uscc_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(uscc_compare(fcinfo) == 0);
}

Datum
finsec_uscc_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(uscc_compare(fcinfo) != 0);
}

Datum
finsec_uscc_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(uscc_compare(fcinfo) < 0);
}

Datum
finsec_uscc_le(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(uscc_compare(fcinfo) <= 0);
}

Datum
finsec_uscc_gt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(uscc_compare(fcinfo) > 0);
}

Datum
finsec_uscc_ge(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(uscc_compare(fcinfo) >= 0);
}

Datum
finsec_uscc_cmp(PG_FUNCTION_ARGS)
{
	int			c = uscc_compare(fcinfo);

	PG_RETURN_INT32(c < 0 ? -1 : c > 0 ? 1 : 0);
}

Datum
finsec_uscc_hash(PG_FUNCTION_ARGS)
{
	return hash_any((const unsigned char *) PG_GETARG_USCC(0), CNID_USCC_LEN);
}

Datum
finsec_uscc_hash_extended(PG_FUNCTION_ARGS)
{
	return hash_any_extended((const unsigned char *) PG_GETARG_USCC(0), CNID_USCC_LEN,
							 PG_GETARG_INT64(1));
}

/* ---- finsec.cn_mobile ------------------------------------------------ */

PG_FUNCTION_INFO_V1(finsec_cn_mobile_in);
PG_FUNCTION_INFO_V1(finsec_cn_mobile_out);
PG_FUNCTION_INFO_V1(finsec_cn_mobile_recv);
PG_FUNCTION_INFO_V1(finsec_cn_mobile_send);
PG_FUNCTION_INFO_V1(finsec_cn_mobile_mask);
PG_FUNCTION_INFO_V1(finsec_cn_mobile_e164);
PG_FUNCTION_INFO_V1(finsec_cn_mobile_problem);
PG_FUNCTION_INFO_V1(finsec_cn_mobile_is_valid);

Datum
finsec_cn_mobile_in(PG_FUNCTION_ARGS)
{
	char	   *s = PG_GETARG_CSTRING(0);
	char		m[CNID_MOBILE_LEN];

	parse_or_error(&t_mobile, s, strlen(s), m, ERRCODE_INVALID_TEXT_REPRESENTATION);
	PG_RETURN_INT64(finsec_cnid_mobile_pack(m));
}

Datum
finsec_cn_mobile_out(PG_FUNCTION_ARGS)
{
	char		m[CNID_MOBILE_LEN];

	unpack_mobile(PG_GETARG_INT64(0), m);
	PG_RETURN_CSTRING(pnstrdup(m, CNID_MOBILE_LEN));
}

Datum
finsec_cn_mobile_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	char		m[CNID_MOBILE_LEN];
	int			len = buf->len - buf->cursor;

	parse_or_error(&t_mobile, pq_getmsgbytes(buf, len), len, m,
				   ERRCODE_INVALID_BINARY_REPRESENTATION);
	PG_RETURN_INT64(finsec_cnid_mobile_pack(m));
}

Datum
finsec_cn_mobile_send(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	char		m[CNID_MOBILE_LEN];

	unpack_mobile(PG_GETARG_INT64(0), m);
	pq_begintypsend(&buf);
	pq_sendbytes(&buf, m, CNID_MOBILE_LEN);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
finsec_cn_mobile_mask(PG_FUNCTION_ARGS)
{
	char		m[CNID_MOBILE_LEN];
	char		masked[CNID_MOBILE_LEN];

	unpack_mobile(PG_GETARG_INT64(0), m);
	finsec_cnid_mask_mobile(m, masked);
	PG_RETURN_TEXT_P(text_of(masked, CNID_MOBILE_LEN));
}

Datum
finsec_cn_mobile_e164(PG_FUNCTION_ARGS)
{
	char		e164[3 + CNID_MOBILE_LEN];

	memcpy(e164, "+86", 3);
	unpack_mobile(PG_GETARG_INT64(0), e164 + 3);
	PG_RETURN_TEXT_P(text_of(e164, sizeof(e164)));
}

Datum
finsec_cn_mobile_problem(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char		m[CNID_MOBILE_LEN];

	return problem_datum(CNID_MOBILE,
						 finsec_cnid_parse_mobile(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), m),
						 fcinfo);
}

Datum
finsec_cn_mobile_is_valid(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char		m[CNID_MOBILE_LEN];

	PG_RETURN_BOOL(finsec_cnid_parse_mobile(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), m).status == CNID_OK);
}
