/*-------------------------------------------------------------------------
 *
 * receipt.c
 *	  Proof of receipt (JR/T 0117 8.3.4g; M4): the receipt format, and
 *	  finsec.verify_receipt() for the party that receives one.
 *
 * A receipt is a jsonb object whose "signed" member is a short text in a
 * fixed line format (below); "signature" is the signer's signature of that
 * text's UTF-8 bytes, in base64.  The other members repeat the signed
 * values for convenience and carry no weight of their own: a verifier
 * reads the signed text (finsec.verify_receipt also checks that the copies
 * agree with it).  docs/signatures.md gives an example verified in Python.
 *
 *	finsec-receipt/1
 *	signer: <keyring label>
 *	key-version: <n>
 *	signature-algorithm: <ecdsa-sha256 | sm2-sm3 | rsa-pkcs1-sha256 | ...>
 *	digest-algorithm: <sha256 | sm3>
 *	message-digest: <lower-case hex digest of the message received>
 *	received-at: <UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ>
 *	reference: <the caller's reference, possibly empty>
 *
 * Every line ends with a line feed; values hold no control characters.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "common/base64.h"
#include "lib/stringinfo.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "finsec.h"
#include "finsec_signature.h"
#include "signature_internal.h"

#define RECEIPT_LINES 8

/* The digest a receipt uses for the message, by the signing key's type. */
const char *
finsec_sig_receipt_digest_name(SigKeyType type)
{
	return type == SIG_KEY_SM2 ? "sm3" : "sha256";
}

/* Lower-case hex digest of data; digest is "sha256" or "sm3", else NULL. */
char *
finsec_sig_digest_hex(const char *digest, const unsigned char *data, size_t len)
{
	const EVP_MD *md;
	unsigned char out[EVP_MAX_MD_SIZE];
	unsigned int outlen = 0;
	char	   *hex;

	if (strcmp(digest, "sha256") == 0)
		md = EVP_sha256();
	else if (strcmp(digest, "sm3") == 0)
		md = EVP_get_digestbyname("SM3");
	else
		return NULL;
	if (md == NULL || EVP_Digest(data, len, out, &outlen, md, NULL) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("could not compute a %s digest", digest)));
	hex = palloc(outlen * 2 + 1);
	hex_encode((const char *) out, outlen, hex);
	hex[outlen * 2] = '\0';
	return hex;
}

/* A receipt value: no control characters (so no line breaks), bounded. */
void
finsec_sig_check_receipt_field(const char *value, const char *what, size_t maxlen)
{
	const unsigned char *p;

	if (strlen(value) > maxlen)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is longer than %zu bytes", what, maxlen)));
	for (p = (const unsigned char *) value; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain control characters or line breaks", what)));
}

char *
finsec_sig_utc_text(TimestampTz t)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(t) || timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("timestamp out of range")));
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
					tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
}

char *
finsec_sig_base64(const unsigned char *data, size_t len)
{
	int			enclen = pg_b64_enc_len((int) len);
	char	   *out = palloc(enclen + 1);
	int			n = pg_b64_encode((const char *) data, (int) len, out, enclen);

	if (n < 0)
		elog(ERROR, "could not encode base64");
	out[n] = '\0';
	return out;
}

char *
finsec_sig_receipt_text(const SigReceipt *r)
{
	return psprintf("%s\n"
					"signer: %s\n"
					"key-version: %d\n"
					"signature-algorithm: %s\n"
					"digest-algorithm: %s\n"
					"message-digest: %s\n"
					"received-at: %s\n"
					"reference: %s\n",
					SIG_RECEIPT_FORMAT, r->signer, r->key_version,
					r->signature_algorithm, r->digest_algorithm,
					r->message_digest, r->received_at, r->reference);
}

/* Parse a signed receipt text; false if it is not in the format. */
bool
finsec_sig_receipt_parse(const char *text, SigReceipt *r)
{
	static const char *const names[RECEIPT_LINES] = {
		NULL, "signer: ", "key-version: ", "signature-algorithm: ",
		"digest-algorithm: ", "message-digest: ", "received-at: ", "reference: "
	};
	char	   *values[RECEIPT_LINES];
	const char *p = text;
	int			i;
	char	   *end;
	long		version;

	for (i = 0; i < RECEIPT_LINES; i++)
	{
		const char *nl = strchr(p, '\n');
		const char *q;

		if (nl == NULL)
			return false;
		for (q = p; q < nl; q++)
			if ((unsigned char) *q < 0x20 || *q == 0x7f)
				return false;
		if (i == 0)
		{
			if ((size_t) (nl - p) != strlen(SIG_RECEIPT_FORMAT) ||
				strncmp(p, SIG_RECEIPT_FORMAT, nl - p) != 0)
				return false;
			values[0] = NULL;
		}
		else
		{
			size_t		nlen = strlen(names[i]);

			if ((size_t) (nl - p) < nlen || strncmp(p, names[i], nlen) != 0)
				return false;
			values[i] = pnstrdup(p + nlen, nl - p - nlen);
		}
		p = nl + 1;
	}
	if (*p != '\0')
		return false;

	errno = 0;
	version = strtol(values[2], &end, 10);
	if (errno != 0 || *end != '\0' || end == values[2] || version < 1 || version > PG_INT32_MAX)
		return false;
	r->signer = values[1];
	r->key_version = (int32) version;
	r->signature_algorithm = values[3];
	r->digest_algorithm = values[4];
	r->message_digest = values[5];
	r->received_at = values[6];
	r->reference = values[7];
	return true;
}

/* ---- finsec.verify_receipt ------------------------------------------------- */

static JsonbValue *
receipt_member(Jsonb *receipt, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(&receipt->root, JB_FOBJECT, &k);
}

static char *
receipt_string(Jsonb *receipt, const char *key)
{
	JsonbValue *v = receipt_member(receipt, key);

	if (v == NULL || v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("malformed receipt: member \"%s\" is missing or not a string", key),
				 errhint("Pass the jsonb that finsec.sign_receipt() returned, unchanged.")));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* Whether an informational copy, if present, agrees with the signed value. */
static bool
copy_agrees(Jsonb *receipt, const char *key, const char *signed_value)
{
	JsonbValue *v = receipt_member(receipt, key);
	char	   *s;

	if (v == NULL)
		return true;
	if (v->type == jbvString)
		s = pnstrdup(v->val.string.val, v->val.string.len);
	else if (v->type == jbvNumeric)
		s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	else if (v->type == jbvNull)
		s = pstrdup("");
	else
		return false;
	return strcmp(s, signed_value) == 0;
}

PG_FUNCTION_INFO_V1(finsec_verify_receipt);

/*
 * finsec.verify_receipt(signer text, receipt jsonb, data bytea DEFAULT NULL)
 * returns boolean
 *
 * True when receipt is signed by the registered signer "signer" and, if
 * data is given, acknowledges exactly that message.
 */
Datum
finsec_verify_receipt(PG_FUNCTION_ARGS)
{
	char	   *signer;
	Jsonb	   *receipt;
	char	   *format;
	char	   *signed_text;
	char	   *sig64;
	char	   *sig;
	int			siglen;
	SigReceipt	r;
	char		version[16];

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("signer and receipt must not be null")));
	signer = text_to_cstring(PG_GETARG_TEXT_PP(0));
	receipt = PG_GETARG_JSONB_P(1);
	if (!JB_ROOT_IS_OBJECT(receipt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("malformed receipt: not a JSON object")));

	format = receipt_string(receipt, "format");
	if (strcmp(format, SIG_RECEIPT_FORMAT) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported receipt format \"%s\"", format),
				 errdetail("This finsec reads \"%s\".", SIG_RECEIPT_FORMAT)));
	signed_text = receipt_string(receipt, "signed");
	sig64 = receipt_string(receipt, "signature");
	if (!finsec_sig_receipt_parse(signed_text, &r))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("malformed receipt: the signed text is not in the %s format", SIG_RECEIPT_FORMAT),
				 errhint("docs/signatures.md describes the format.")));
	if (strcmp(r.digest_algorithm, "sha256") != 0 && strcmp(r.digest_algorithm, "sm3") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("malformed receipt: unknown digest algorithm \"%s\"", r.digest_algorithm)));
	siglen = pg_b64_dec_len((int) strlen(sig64));
	sig = palloc(siglen + 1);
	siglen = pg_b64_decode(sig64, (int) strlen(sig64), sig, siglen);
	if (siglen < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("malformed receipt: the signature is not base64")));

	snprintf(version, sizeof(version), "%d", r.key_version);
	if (!copy_agrees(receipt, "signer", r.signer) ||
		!copy_agrees(receipt, "key_version", version) ||
		!copy_agrees(receipt, "signature_algorithm", r.signature_algorithm) ||
		!copy_agrees(receipt, "digest_algorithm", r.digest_algorithm) ||
		!copy_agrees(receipt, "message_digest", r.message_digest) ||
		!copy_agrees(receipt, "received_at", r.received_at) ||
		!copy_agrees(receipt, "reference", r.reference))
		PG_RETURN_BOOL(false);

	if (!finsec_sig_verify_as_signer(signer, (unsigned char *) signed_text, strlen(signed_text),
									 (unsigned char *) sig, siglen,
									 r.signature_algorithm, NULL, true))
		PG_RETURN_BOOL(false);

	if (!PG_ARGISNULL(2))
	{
		bytea	   *data = PG_GETARG_BYTEA_PP(2);
		char	   *hex = finsec_sig_digest_hex(r.digest_algorithm,
												(unsigned char *) VARDATA_ANY(data),
												VARSIZE_ANY_EXHDR(data));

		if (strcmp(hex, r.message_digest) != 0)
			PG_RETURN_BOOL(false);
	}
	PG_RETURN_BOOL(true);
}
