/*-------------------------------------------------------------------------
 *
 * card.c
 *	  finsec.bank_card and finsec.bank_account: numbers that are never
 *	  stored, dumped, copied or replicated in the clear.
 *
 * A value holds (card_parse.h): the kind, the length, the leading digits
 * and last four a masked display may show, a keyed fingerprint of the
 * number (HMAC under the keyring's fingerprint key "card.fp"), and the
 * number encrypted with AES-256-GCM under the keyring's encryption key
 * "card.enc", with every clear field authenticated as additional data.
 *
 * Equality, hashing and ordering use the fingerprint: a column can carry
 * a unique index, be joined and grouped, without decrypting anything.
 *
 * The text form is "<masked number>~fs1.<base64url of the value>": the
 * masked part for people, the sealed part so that pg_dump, COPY, CREATE
 * TABLE AS and logical replication carry the number without it ever being
 * in the clear; reading a sealed form back checks it by decrypting it.
 * Only finsec.reveal(), granted to finsec_unmask and audited row by row,
 * returns the digits.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "access/hash.h"
#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_proc.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/syscache.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_keyring.h"
#include "finsec_mac.h"
#include "finsec_seal.h"
#include "finsec_card.h"
#include "finsec_protect.h"
#include "card_parse.h"
#include "card_probe.h"

#define CARD_ENC_KEY "card.enc"
#define CARD_FP_KEY "card.fp"

bool		finsec_card_lenient = FINSEC_CARD_LENIENT_DEFAULT;
int			finsec_card_mask_first = FINSEC_CARD_MASK_FIRST_DEFAULT;
int			finsec_card_mask_last = FINSEC_CARD_MASK_LAST_DEFAULT;
bool		finsec_card_mask_group = FINSEC_CARD_MASK_GROUP_DEFAULT;

typedef struct varlena BankNumber;

#define NUMBER_HEADER(v) ((FsNumberHeader *) VARDATA_ANY(v))
#define NUMBER_LEN(v) VARSIZE_ANY_EXHDR(v)

static uint32
get_be32(const uint8_t *p)
{
	return ((uint32) p[0] << 24) | ((uint32) p[1] << 16) | ((uint32) p[2] << 8) | p[3];
}

static void
put_be32(uint8_t *p, uint32 v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

static const char *
kind_name(bool account)
{
	return account ? "bank account number" : "bank card number";
}

/* ---- AES-256-GCM (src/common/seal.c) -------------------------------------- */

static void
seal_digits(const FinsecKey *key, FsNumberHeader *h, const char *digits)
{
	uint8_t    *ct = (uint8_t *) h + sizeof(FsNumberHeader);

	finsec_gcm_seal(key, (const uint8 *) h, offsetof(FsNumberHeader, nonce), NULL, 0,
					(const uint8 *) digits, h->ndigits, h->nonce, ct, ct + h->ndigits);
	finsec_key_note_use(key, "card-encrypt");
}

/* Decrypt into digits (ndigits bytes); false if authentication fails. */
static bool
open_digits(const FinsecKey *key, const FsNumberHeader *h, char *digits)
{
	const uint8_t *ct = (const uint8_t *) h + sizeof(FsNumberHeader);
	bool		ok;

	ok = finsec_gcm_open(key, (const uint8 *) h, offsetof(FsNumberHeader, nonce), NULL, 0,
						 ct, h->ndigits, h->nonce, ct + h->ndigits, (uint8 *) digits);
	finsec_key_note_use(key, ok ? "card-decrypt" : "card-decrypt-failed");
	return ok;
}

/* HMAC("FSFP1" || kind || digits) under the fingerprint key. */
static void
fingerprint(const FinsecKey *key, bool account, const char *digits, int n, uint8_t *out)
{
	unsigned char buf[8 + FS_ACCOUNT_MAX_DIGITS];
	unsigned char mac[EVP_MAX_MD_SIZE];

	memcpy(buf, "FSFP1", 5);
	buf[5] = account ? 'A' : 'C';
	memcpy(buf + 6, digits, n);
	(void) finsec_keyed_hash(key, buf, 6 + n, mac);
	memcpy(out, mac, FS_FP_LEN);
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(mac, sizeof(mac));
	finsec_key_note_use(key, "card-fingerprint");
}

/* ---- building and checking values ------------------------------------------ */

static BankNumber *
make_number(bool account, const char *digits, int n, bool lenient)
{
	const FinsecKey *enc = finsec_key_active(CARD_ENC_KEY, FINSEC_KEY_ENCRYPTION, "aes-256-gcm");
	const FinsecKey *fp = finsec_key_active(CARD_FP_KEY, FINSEC_KEY_FINGERPRINT, NULL);
	BankNumber *v = palloc0(VARHDRSZ + FS_NUMBER_SIZE(n));
	FsNumberHeader *h = (FsNumberHeader *) VARDATA(v);

	SET_VARSIZE(v, VARHDRSZ + FS_NUMBER_SIZE(n));
	h->format = FS_NUMBER_FORMAT_V1;
	h->flags = (account ? FS_FLAG_ACCOUNT : 0) | (lenient ? FS_FLAG_LENIENT : 0);
	h->ndigits = (uint8_t) n;
	h->nprefix = (uint8_t) finsec_card_clear_prefix_len(account, n);
	memset(h->prefix, '0', sizeof(h->prefix));
	memcpy(h->prefix, digits, h->nprefix);
	memcpy(h->last4, digits + n - 4, 4);
	put_be32(h->enc_version, (uint32) enc->version);
	put_be32(h->fp_version, (uint32) fp->version);
	fingerprint(fp, account, digits, n, h->fp);
	seal_digits(enc, h, digits);
	return v;
}

/*
 * Input errors keep the statement out of the server log (errhidestmt):
 * the statement holds the number that was refused.
 *
 * The digits of a value, checked by authenticated decryption; raises on
 * failure.  The caller zeroizes digits (room for FS_ACCOUNT_MAX_DIGITS + 1).
 */
static void
open_or_raise(const FinsecKey *enc, const FsNumberHeader *h, char *digits)
{
	if (!open_digits(enc, h, digits))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_KEY_INTEGRITY),
				 errmsg("a protected %s failed its integrity check",
						kind_name(h->flags & FS_FLAG_ACCOUNT)),
				 errdetail("Its sealed form was altered, or was made under another version of key \"%s\".",
						   CARD_ENC_KEY)));
	digits[h->ndigits] = '\0';
}

static void
number_digits(const FsNumberHeader *h, char *digits)
{
	open_or_raise(finsec_key_version(CARD_ENC_KEY, FINSEC_KEY_ENCRYPTION,
									 (int32) get_be32(h->enc_version)),
				  h, digits);
}

/*
 * Turn a parser status of a card or account number into its ereport; the
 * input itself is never quoted (errhidestmt), only the position.
 */
static void
parse_error(FsParseResult r, bool account, int badpos, int ndigits)
{
	int			mind = account ? FS_ACCOUNT_MIN_DIGITS : FS_CARD_MIN_DIGITS;
	int			maxd = account ? FS_ACCOUNT_MAX_DIGITS : FS_CARD_MAX_DIGITS;

	switch (r)
	{
		case FS_OK:
			return;
		case FS_ERR_EMPTY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input for %s: empty", kind_name(account)),
					 errhidestmt(true)));
			break;
		case FS_ERR_TOO_LONG_INPUT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input for %s: longer than %d bytes", kind_name(account),
							FS_NUMBER_MAX_INPUT),
					 errhidestmt(true)));
			break;
		case FS_ERR_BAD_CHAR:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input for %s: unexpected character at position %d",
							kind_name(account), badpos),
					 errhint("Write digits, optionally grouped by single spaces or hyphens."),
					 errhidestmt(true)));
			break;
		case FS_ERR_LENGTH:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input for %s: %s digits", kind_name(account),
							ndigits > 0 ? "too few" : "too many"),
					 errdetail("A %s has %d to %d digits.", kind_name(account), mind, maxd),
					 errhidestmt(true)));
			break;
		case FS_ERR_LUHN:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input for %s: wrong check digit", kind_name(account)),
					 errdetail("The last digit does not satisfy the Luhn (ISO/IEC 7812) check."),
					 errhint("For legacy or test data, a superuser can set finsec.card_lenient = on, which accepts it and marks the value."),
					 errhidestmt(true)));
			break;
		case FS_ERR_TOKEN_ENCODING:
		case FS_ERR_TOKEN_STRUCTURE:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid sealed form for %s", kind_name(account)),
					 errdetail("The text after \"%s\" is not a sealed value finsec wrote.", FS_TOKEN_MARK),
					 errhidestmt(true)));
			break;
		case FS_ERR_TOKEN_KIND:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid sealed form for %s: it holds a %s", kind_name(account),
							kind_name(!account)),
					 errhidestmt(true)));
			break;
	}
}

/*
 * A value from a checked payload (sealed text or binary), after decryption.
 *
 * When this database's keyring has no version at all of card.enc, the
 * payload is kept as it is, checked for structure only: that is a database
 * pg_restore is filling before it has loaded finsec.key and
 * finsec.key_version (their data sorts after tables in schemas named
 * before "finsec", and a parallel restore loads them in any order).
 * Raising there would make pg_restore drop the table's rows (it reports
 * the error and carries on).  Nothing is exposed or lost: the sealed value
 * is stored unchanged, reveal() and card_rekey() decrypt it, with the same
 * integrity check, once the keyring is there.  Whenever card.enc exists,
 * the check is made here: another master key, an altered value or an
 * unknown or destroyed version fail loudly.
 */
static BankNumber *
number_from_payload(const uint8_t *p, size_t len, bool account)
{
	const FsNumberHeader *h = (const FsNumberHeader *) p;
	const FinsecKey *enc;
	char		digits[FS_ACCOUNT_MAX_DIGITS + 1];
	BankNumber *v;

	parse_error(finsec_card_payload_check(p, len), account, 0, 0);
	if (((h->flags & FS_FLAG_ACCOUNT) != 0) != account)
		parse_error(FS_ERR_TOKEN_KIND, account, 0, 0);
	enc = finsec_key_version_if_present(CARD_ENC_KEY, FINSEC_KEY_ENCRYPTION,
										(int32) get_be32(h->enc_version));
	if (enc != NULL)
	{
		open_or_raise(enc, h, digits);
		explicit_bzero(digits, sizeof(digits));
	}
	v = palloc(VARHDRSZ + len);
	SET_VARSIZE(v, VARHDRSZ + len);
	memcpy(VARDATA(v), p, len);
	return v;
}

static BankNumber *
number_in(const char *str, bool account)
{
	size_t		len = strlen(str);
	char		digits[FS_ACCOUNT_MAX_DIGITS + 1];
	int			n,
				badpos;
	FsParseResult r;
	BankNumber *v;

	if (finsec_card_is_sealed(str, len))
	{
		uint8_t		payload[FS_NUMBER_MAX_INPUT];
		size_t		plen;

		r = finsec_card_token_decode(str, len, payload, sizeof(payload), &plen);
		parse_error(r, account, 0, 0);
		return number_from_payload(payload, plen, account);
	}

	r = finsec_card_number_digits(str, len, account, digits, &n, &badpos);
	if (r == FS_ERR_LUHN && finsec_card_lenient)
		r = FS_OK;
	else if (r == FS_ERR_LUHN)
	{
		explicit_bzero(digits, sizeof(digits));
		parse_error(r, account, badpos, n);
	}
	if (r != FS_OK)
	{
		explicit_bzero(digits, sizeof(digits));
		parse_error(r, account, badpos, n);
	}
	v = make_number(account, digits, n, !account && !finsec_card_luhn_valid(digits, n));
	explicit_bzero(digits, sizeof(digits));
	/* A number from clear digits: the one way to test a guess (probe.c). */
	finsec_card_probe_count(NUMBER_HEADER(v));
	return v;
}

/* ---- I/O functions -------------------------------------------------------- */

PG_FUNCTION_INFO_V1(finsec_bank_card_in);
Datum
finsec_bank_card_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(number_in(PG_GETARG_CSTRING(0), false));
}

PG_FUNCTION_INFO_V1(finsec_bank_account_in);
Datum
finsec_bank_account_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(number_in(PG_GETARG_CSTRING(0), true));
}

PG_FUNCTION_INFO_V1(finsec_bank_number_out);

/* "<masked>~fs1.<payload>": lossless, and shows only what a mask may show. */
Datum
finsec_bank_number_out(PG_FUNCTION_ARGS)
{
	BankNumber *v = (BankNumber *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	FsNumberHeader *h = NUMBER_HEADER(v);
	size_t		len = NUMBER_LEN(v);
	char	   *out = palloc(2 * FS_ACCOUNT_MAX_DIGITS + strlen(FS_TOKEN_MARK) + 4 * (len / 3 + 1) + 2);
	size_t		o;

	finsec_card_mask(h, 6, 4, false, out);
	o = strlen(out);
	memcpy(out + o, FS_TOKEN_MARK, strlen(FS_TOKEN_MARK));
	o += strlen(FS_TOKEN_MARK);
	o += finsec_card_base64url_encode((const uint8_t *) h, len, out + o);
	out[o] = '\0';
	PG_RETURN_CSTRING(out);
}

static Datum
number_recv(FunctionCallInfo fcinfo, bool account)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			len = buf->len - buf->cursor;
	const char *p = pq_getmsgbytes(buf, len);

	PG_RETURN_POINTER(number_from_payload((const uint8_t *) p, len, account));
}

PG_FUNCTION_INFO_V1(finsec_bank_card_recv);
Datum
finsec_bank_card_recv(PG_FUNCTION_ARGS)
{
	return number_recv(fcinfo, false);
}

PG_FUNCTION_INFO_V1(finsec_bank_account_recv);
Datum
finsec_bank_account_recv(PG_FUNCTION_ARGS)
{
	return number_recv(fcinfo, true);
}

PG_FUNCTION_INFO_V1(finsec_bank_number_send);
Datum
finsec_bank_number_send(PG_FUNCTION_ARGS)
{
	BankNumber *v = (BankNumber *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, VARDATA_ANY(v), NUMBER_LEN(v));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---- comparison on fingerprints ------------------------------------------------ */

static int
number_cmp(BankNumber *a, BankNumber *b)
{
	FsNumberHeader *ha = NUMBER_HEADER(a);
	FsNumberHeader *hb = NUMBER_HEADER(b);

	if (memcmp(ha->fp_version, hb->fp_version, 4) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot compare protected numbers fingerprinted under different versions of key \"%s\"",
						CARD_FP_KEY),
				 errdetail("Versions %u and %u.", get_be32(ha->fp_version), get_be32(hb->fp_version)),
				 errhint("Re-fingerprint stored values with finsec.card_rekey() after rotating \"%s\".",
						 CARD_FP_KEY)));
	if ((ha->flags & FS_FLAG_ACCOUNT) != (hb->flags & FS_FLAG_ACCOUNT))
		return (ha->flags & FS_FLAG_ACCOUNT) ? 1 : -1;
	return memcmp(ha->fp, hb->fp, FS_FP_LEN);
}

#define CMP_FUNC(name, expr) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	BankNumber *a = (BankNumber *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0)); \
	BankNumber *b = (BankNumber *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(1)); \
	int			c = number_cmp(a, b); \
	PG_RETURN_BOOL(expr); \
}

CMP_FUNC(finsec_bank_number_eq, c == 0)
CMP_FUNC(finsec_bank_number_ne, c != 0)
CMP_FUNC(finsec_bank_number_lt, c < 0)
CMP_FUNC(finsec_bank_number_le, c <= 0)
CMP_FUNC(finsec_bank_number_gt, c > 0)
CMP_FUNC(finsec_bank_number_ge, c >= 0)

PG_FUNCTION_INFO_V1(finsec_bank_number_cmp);
Datum
finsec_bank_number_cmp(PG_FUNCTION_ARGS)
{
	BankNumber *a = (BankNumber *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	BankNumber *b = (BankNumber *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(1));
	int			c = number_cmp(a, b);

	PG_RETURN_INT32(c < 0 ? -1 : c > 0 ? 1 : 0);
}

PG_FUNCTION_INFO_V1(finsec_bank_number_hash);
Datum
finsec_bank_number_hash(PG_FUNCTION_ARGS)
{
	BankNumber *v = (BankNumber *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));

	return hash_any(NUMBER_HEADER(v)->fp, FS_FP_LEN);
}

PG_FUNCTION_INFO_V1(finsec_bank_number_hash_extended);
Datum
finsec_bank_number_hash_extended(PG_FUNCTION_ARGS)
{
	BankNumber *v = (BankNumber *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));

	return hash_any_extended(NUMBER_HEADER(v)->fp, FS_FP_LEN, PG_GETARG_INT64(1));
}

/* ---- masking, revealing, re-keying ------------------------------------------------ */

PG_FUNCTION_INFO_V1(finsec_bank_number_mask);

/*
 * finsec.mask(number, keep_first, keep_last, group): the policy of
 * finsec.card_mask_* by default (a NULL option means the setting).  Not
 * STRICT because of those options; a NULL number masks to NULL.
 */
Datum
finsec_bank_number_mask(PG_FUNCTION_ARGS)
{
	BankNumber *v;
	FsNumberHeader *h;
	int			first = PG_ARGISNULL(1) ? finsec_card_mask_first : PG_GETARG_INT32(1);
	int			last = PG_ARGISNULL(2) ? finsec_card_mask_last : PG_GETARG_INT32(2);
	bool		group = PG_ARGISNULL(3) ? finsec_card_mask_group : PG_GETARG_BOOL(3);
	char		out[2 * FS_ACCOUNT_MAX_DIGITS + 1];

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	v = (BankNumber *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	h = NUMBER_HEADER(v);
	if (first < 0 || first > 8 || last < 0 || last > 4)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a mask keeps 0 to 8 leading and 0 to 4 trailing digits")));
	/* Never more than the clear prefix a value carries (the BIN at most). */
	finsec_card_mask(h, first, last, group, out);
	PG_RETURN_TEXT_P(cstring_to_text(out));
}


/*
 * Whether this call is finsec.reveal(bank_account, ...), from the function
 * called (its pg_proc entry) rather than the call's expression tree, which
 * a caller through the function manager need not pass.
 */
static bool
reveal_declared_account(FunctionCallInfo fcinfo)
{
	Oid			argtype = InvalidOid;

	if (fcinfo->flinfo && OidIsValid(fcinfo->flinfo->fn_oid))
	{
		HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));

		if (HeapTupleIsValid(tup))
		{
			Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(tup);

			if (proc->pronargs > 0)
				argtype = proc->proargtypes.values[0];
			ReleaseSysCache(tup);
		}
	}
	if (!OidIsValid(argtype) && fcinfo->flinfo)
		argtype = get_fn_expr_argtype(fcinfo->flinfo, 0);
	return OidIsValid(argtype) &&
		strcmp(format_type_extended(argtype, -1, FORMAT_TYPE_FORCE_QUALIFY | FORMAT_TYPE_ALLOW_INVALID),
			   "finsec.bank_account") == 0;
}

PG_FUNCTION_INFO_V1(finsec_bank_number_reveal);

/*
 * finsec.reveal(number, reason, context): the full number, for members of
 * finsec_unmask only, each call written to the audit ledger with who,
 * the masked number, its fingerprint's first bytes, the reason and the
 * row context the caller gives.  A NULL number reveals nothing: NULL, with
 * no audit row, but only to a member of finsec_unmask (the refusal does not
 * depend on the data).
 */
Datum
finsec_bank_number_reveal(PG_FUNCTION_ARGS)
{
	BankNumber *v;
	FsNumberHeader *h;
	char	   *reason = finsec_text_arg_opt(fcinfo, 1);
	char	   *context = finsec_text_arg_opt(fcinfo, 2);
	char		digits[FS_ACCOUNT_MAX_DIGITS + 1];
	char		masked[2 * FS_ACCOUNT_MAX_DIGITS + 1];
	char		fphex[17];
	StringInfoData detail;
	text	   *result;
	bool		account;

	if (PG_ARGISNULL(0))
	{
		v = NULL;
		h = NULL;
		account = reveal_declared_account(fcinfo);
	}
	else
	{
		v = (BankNumber *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
		h = NUMBER_HEADER(v);
		account = (h->flags & FS_FLAG_ACCOUNT) != 0;
	}
	finsec_reveal_check_role(account ? "a protected bank account number" :
							 "a protected bank card number");
	if (v == NULL)
		PG_RETURN_NULL();

	finsec_card_mask(h, 6, 4, false, masked);
	hex_encode((const char *) h->fp, 8, fphex);
	fphex[16] = '\0';
	initStringInfo(&detail);
	appendStringInfo(&detail, "{\"kind\": \"%s\", \"masked\": \"%s\", \"fingerprint\": \"%s\", \"context\": ",
					 account ? "account" : "card", masked, fphex);
	if (context)
		escape_json(&detail, context);
	else
		appendStringInfoString(&detail, "null");
	appendStringInfoChar(&detail, '}');

	/*
	 * The gate counts the reveal against finsec.reveal_budget and writes the
	 * audit row first: no reveal without its record, which survives a
	 * rollback of the caller's transaction or savepoint.
	 */
	finsec_reveal_record(account ? "account.reveal" : "card.reveal",
						 account ? "a bank account number" : "a bank card number",
						 reason, context,
						 DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(detail.data))));

	number_digits(h, digits);
	result = cstring_to_text(digits);
	explicit_bzero(digits, sizeof(digits));
	PG_RETURN_TEXT_P(result);
}

PG_FUNCTION_INFO_V1(finsec_bank_number_rekey);

/* finsec.card_rekey(number): the same number under the active key versions. */
Datum
finsec_bank_number_rekey(PG_FUNCTION_ARGS)
{
	BankNumber *v = (BankNumber *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	FsNumberHeader *h = NUMBER_HEADER(v);
	char		digits[FS_ACCOUNT_MAX_DIGITS + 1];
	BankNumber *result;

	number_digits(h, digits);
	result = make_number((h->flags & FS_FLAG_ACCOUNT) != 0, digits, h->ndigits,
						 (h->flags & FS_FLAG_LENIENT) != 0);
	explicit_bzero(digits, sizeof(digits));
	PG_RETURN_POINTER(result);
}

PG_FUNCTION_INFO_V1(finsec_bank_number_info);

/*
 * finsec.number_info(number) returns (kind, digits, bin, last4, luhn_valid,
 * enc_key_version, fp_key_version): what can be known without decrypting.
 */
Datum
finsec_bank_number_info(PG_FUNCTION_ARGS)
{
	BankNumber *v = (BankNumber *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	FsNumberHeader *h = NUMBER_HEADER(v);
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};
	bool		account = (h->flags & FS_FLAG_ACCOUNT) != 0;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = CStringGetTextDatum(account ? "account" : "card");
	values[1] = Int32GetDatum(h->ndigits);
	if (h->nprefix > 0)
		values[2] = PointerGetDatum(cstring_to_text_with_len(h->prefix, Min(h->nprefix, 6)));
	else
		nulls[2] = true;
	values[3] = PointerGetDatum(cstring_to_text_with_len(h->last4, 4));
	if (account)
		nulls[4] = true;
	else
		values[4] = BoolGetDatum((h->flags & FS_FLAG_LENIENT) == 0);
	values[5] = Int32GetDatum((int32) get_be32(h->enc_version));
	values[6] = Int32GetDatum((int32) get_be32(h->fp_version));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

PG_FUNCTION_INFO_V1(finsec_is_valid_bank_card);

/* finsec.is_valid_bank_card(text): digits, length and Luhn; never raises. */
Datum
finsec_is_valid_bank_card(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char		digits[FS_ACCOUNT_MAX_DIGITS + 1];
	int			n,
				badpos;
	bool		account = PG_GETARG_BOOL(1);
	FsParseResult r = finsec_card_number_digits(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), account,
												digits, &n, &badpos);

	explicit_bzero(digits, sizeof(digits));
	PG_RETURN_BOOL(r == FS_OK);
}

/* Defines the card and mask settings, then the probe budget's (probe.c). */
void
finsec_card_define_settings(void)
{
	DefineCustomBoolVariable("finsec.card_lenient",
							 "Accept bank card numbers whose Luhn check digit is wrong.",
							 "For legacy and test data (UnionPay's own test cards fail Luhn); such "
							 "values are marked (finsec.number_info().luhn_valid is false). "
							 "Superusers only (ALTER ROLE ... SET, GRANT SET ON PARAMETER): it lets "
							 "a guesser try every digit, not one in ten.",
							 &finsec_card_lenient,
							 FINSEC_CARD_LENIENT_DEFAULT,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.card_mask_first",
							"Leading digits finsec.mask() shows of a card or account number.",
							"Capped at 6 (PCI DSS 3.4.1), for accounts at what leaves half the "
							"digits hidden; 7 and 8 act as 6.",
							&finsec_card_mask_first,
							FINSEC_CARD_MASK_FIRST_DEFAULT, 0, 8,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.card_mask_last",
							"Trailing digits finsec.mask() shows of a card or account number.",
							NULL,
							&finsec_card_mask_last,
							FINSEC_CARD_MASK_LAST_DEFAULT, 0, 4,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("finsec.card_mask_group",
							 "Group masked card and account numbers by four characters.",
							 NULL,
							 &finsec_card_mask_group,
							 FINSEC_CARD_MASK_GROUP_DEFAULT,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	finsec_card_probe_define_settings();
}

PG_FUNCTION_INFO_V1(finsec_risk_card_key);

/*
 * finsec.risk_card_key(bank_card) returns text: "v<N>:<hex>", the number's
 * fingerprint under version N of card.fp.  Risk lists name cards by it, so
 * that no list, log or case ever holds a card number.  After card.fp is
 * rotated, numbers re-fingerprinted with card_rekey() get new keys.
 */
Datum
finsec_risk_card_key(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(finsec_card_key((BankNumber *) PG_GETARG_VARLENA_PP(0))));
}

char *
finsec_card_key(struct varlena *number)
{
	const FsNumberHeader *h;
	StringInfoData buf;
	int			i;

	if (VARSIZE_ANY_EXHDR(number) < sizeof(FsNumberHeader))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("bank card value is truncated")));
	h = NUMBER_HEADER(number);
	initStringInfo(&buf);
	appendStringInfo(&buf, "v%u:", get_be32(h->fp_version));
	for (i = 0; i < FS_FP_LEN; i++)
		appendStringInfo(&buf, "%02x", h->fp[i]);
	return buf.data;
}
