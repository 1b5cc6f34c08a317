/*-------------------------------------------------------------------------
 *
 * sign.c
 *	  Signing with keyring signing keys: finsec.sign(), proof of receipt
 *	  (finsec.sign_receipt()), and finsec.public_key() for counterparties.
 *
 * The private key comes from the keyring (finsec_key_active, purpose
 * signing) as DER PKCS#8; it goes straight to OpenSSL, whose key object the
 * guard frees on every path.  Each use is counted with finsec_key_note_use,
 * which the keyring writes to the audit ledger per statement.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "finsec.h"
#include "finsec_keyring.h"
#include "finsec_signature.h"
#include "signature_internal.h"

#define RECEIPT_REFERENCE_MAXLEN 256

/* What a signing operation needs to know of its keyring key. */
typedef struct SigningKey
{
	char		label[NAMEDATALEN];
	int32		version;
	SigKeyType	type;
	EVP_PKEY   *pkey;			/* owned by the guard */
} SigningKey;

/*
 * Load the keyring key "label" (the active version, or "version" if > 0)
 * into g, and count one use for "operation".
 */
static void
load_signing_key(SigGuard *g, const char *label, int32 version,
				 const char *operation, SigningKey *out)
{
	const FinsecKey *key;
	int			bits;

	key = version > 0
		? finsec_key_version(label, FINSEC_KEY_SIGNING, version)
		: finsec_key_active(label, FINSEC_KEY_SIGNING, NULL);
	/* key->material is ours until the end of the transaction. */
	out->pkey = finsec_sig_private_from_der(g, key->material, key->length);
	strlcpy(out->label, key->label, sizeof(out->label));
	out->version = key->version;
	finsec_key_note_use(key, operation);

	out->type = finsec_sig_classify(out->pkey, &bits, "the signing key");
	finsec_sig_check_policy(out->type, bits, "the signing key");
}

PG_FUNCTION_INFO_V1(finsec_sign);

/*
 * finsec.sign(label text, data bytea, algorithm text DEFAULT NULL,
 *			   sm2_id bytea DEFAULT NULL) returns bytea
 */
Datum
finsec_sign(PG_FUNCTION_ARGS)
{
	char	   *label;
	bytea	   *data;
	char	   *algorithm;
	bytea	   *id;
	SigGuard   *g;
	SigningKey	k;
	const SigAlgorithm *alg;
	bytea	   *sig;

	finsec_require_arg(fcinfo, 0, "key label");
	finsec_require_arg(fcinfo, 1, "data");
	label = text_to_cstring(PG_GETARG_TEXT_PP(0));
	data = PG_GETARG_BYTEA_PP(1);
	algorithm = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	id = PG_ARGISNULL(3) ? NULL : PG_GETARG_BYTEA_PP(3);

	g = finsec_sig_guard_new();
	load_signing_key(g, label, 0, "sign", &k);
	alg = finsec_sig_algorithm(algorithm, k.type, "the signing key");
	finsec_sig_check_id(k.type, id);
	sig = finsec_sig_sign(g, k.pkey, alg,
						  id ? (unsigned char *) VARDATA_ANY(id) : NULL,
						  id ? VARSIZE_ANY_EXHDR(id) : 0,
						  (unsigned char *) VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data));
	finsec_sig_guard_release(g);
	PG_RETURN_BYTEA_P(sig);
}

static void
json_member(StringInfo buf, const char *key, const char *value, bool quote)
{
	if (buf->len > 1)
		appendStringInfoString(buf, ", ");
	escape_json(buf, key);
	appendStringInfoString(buf, ": ");
	if (quote)
		escape_json(buf, value);
	else
		appendStringInfoString(buf, value);
}

PG_FUNCTION_INFO_V1(finsec_sign_receipt);

/*
 * finsec.sign_receipt(label text, data bytea, reference text DEFAULT NULL)
 * returns jsonb: a finsec-receipt/1 (receipt.c) for the message data,
 * received now.
 */
Datum
finsec_sign_receipt(PG_FUNCTION_ARGS)
{
	char	   *label;
	bytea	   *data;
	SigGuard   *g;
	SigningKey	k;
	const SigAlgorithm *alg;
	SigReceipt	r;
	char	   *signed_text;
	bytea	   *sig;
	StringInfoData json;
	char		version[16];

	finsec_require_arg(fcinfo, 0, "key label");
	finsec_require_arg(fcinfo, 1, "data");
	label = text_to_cstring(PG_GETARG_TEXT_PP(0));
	data = PG_GETARG_BYTEA_PP(1);
	r.reference = PG_ARGISNULL(2) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(2));
	finsec_sig_check_receipt_field(r.reference, "a receipt reference", RECEIPT_REFERENCE_MAXLEN);

	g = finsec_sig_guard_new();
	load_signing_key(g, label, 0, "sign", &k);
	finsec_sig_check_receipt_field(k.label, "the signing key's label", NAMEDATALEN);
	alg = finsec_sig_algorithm(NULL, k.type, "the signing key");

	r.signer = k.label;
	r.key_version = k.version;
	r.signature_algorithm = (char *) alg->name;
	r.digest_algorithm = (char *) finsec_sig_receipt_digest_name(k.type);
	r.message_digest = finsec_sig_digest_hex(r.digest_algorithm,
											 (unsigned char *) VARDATA_ANY(data),
											 VARSIZE_ANY_EXHDR(data));
	r.received_at = finsec_sig_utc_text(GetCurrentTimestamp());
	signed_text = finsec_sig_receipt_text(&r);
	sig = finsec_sig_sign(g, k.pkey, alg, NULL, 0, (unsigned char *) signed_text, strlen(signed_text));
	finsec_sig_guard_release(g);

	snprintf(version, sizeof(version), "%d", r.key_version);
	initStringInfo(&json);
	appendStringInfoChar(&json, '{');
	json_member(&json, "format", SIG_RECEIPT_FORMAT, true);
	json_member(&json, "signed", signed_text, true);
	json_member(&json, "signature",
				finsec_sig_base64((unsigned char *) VARDATA(sig), VARSIZE(sig) - VARHDRSZ), true);
	json_member(&json, "signer", r.signer, true);
	json_member(&json, "key_version", version, false);
	json_member(&json, "signature_algorithm", r.signature_algorithm, true);
	json_member(&json, "digest_algorithm", r.digest_algorithm, true);
	json_member(&json, "message_digest", r.message_digest, true);
	json_member(&json, "received_at", r.received_at, true);
	json_member(&json, "reference", r.reference, true);
	appendStringInfoChar(&json, '}');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data)));
}

PG_FUNCTION_INFO_V1(finsec_public_key);

/*
 * finsec.public_key(label text, version integer DEFAULT NULL) returns text:
 * the PEM SubjectPublicKeyInfo of a signing key (active version by
 * default), for counterparties to register and verify with.
 */
Datum
finsec_public_key(PG_FUNCTION_ARGS)
{
	char	   *label;
	int32		version = 0;
	SigGuard   *g;
	SigningKey	k;
	char	   *pem;

	finsec_require_arg(fcinfo, 0, "key label");
	label = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!PG_ARGISNULL(1))
	{
		version = PG_GETARG_INT32(1);
		if (version < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key versions are numbered from 1")));
	}
	g = finsec_sig_guard_new();
	load_signing_key(g, label, version, "public_key", &k);
	pem = finsec_sig_public_pem(k.pkey);
	finsec_sig_guard_release(g);
	PG_RETURN_TEXT_P(cstring_to_text(pem));
}
