/*-------------------------------------------------------------------------
 *
 * signer.c
 *	  Registered signers and proof of origin (JR/T 0117 8.3.4g; JR/T 0096.5
 *	  4.4.4; M4).
 *
 * finsec_admin registers a counterparty's public key or certificate under
 * a name (finsec.register_signer); applications then check that a message
 * came from that counterparty (finsec.verify_signature,
 * finsec.require_signature).  Registration is the trust decision: finsec
 * does not build certificate chains.  It records the SHA-256 fingerprint of
 * the SubjectPublicKeyInfo so that the DBA can compare it with the
 * counterparty out of band, and it enforces the key policy (keys.c) and a
 * certificate's validity period at registration and at every verification.
 *
 * Registration and revocation are written to the audit ledger in the same
 * transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "finsec.h"
#include "finsec_keyring.h"
#include "finsec_signature.h"
#include "signature_internal.h"
#include "finsec_audit.h"
#include "finsec_owner.h"

#define SIGNER_NAME_MAXLEN 128

/* ---- helpers -------------------------------------------------------------- */

static void
check_signer_name(const char *name)
{
	const unsigned char *p;
	size_t		len = strlen(name);

	if (len == 0 || len > SIGNER_NAME_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a signer name has 1 to %d characters", SIGNER_NAME_MAXLEN)));
	for (p = (const unsigned char *) name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a signer name must not contain control characters")));
}

/* An ASN1_TIME as "YYYY-MM-DD HH:MM:SS+00", palloc'd. */
static char *
asn1_time_text(const ASN1_TIME *t)
{
	struct tm	tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the certificate's validity period cannot be read")));
	return psprintf("%04d-%02d-%02d %02d:%02d:%02d+00",
					tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* An X509_NAME in RFC 2253 form, palloc'd. */
static char *
x509_name_text(const X509_NAME *name)
{
	BIO		   *bio = finsec_sig_mem_bio();

	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0)
	{
		BIO_free(bio);
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("the certificate's names cannot be read")));
	}
	return finsec_sig_bio_text(bio);
}

static char *
x509_serial_text(X509 *cert)
{
	BIGNUM	   *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char	   *hex = bn ? BN_bn2hex(bn) : NULL;
	char	   *result;

	BN_free(bn);
	if (hex == NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("the certificate's serial number cannot be read")));
	result = pstrdup(hex);
	OPENSSL_free(hex);
	return result;
}

/*
 * Refuse a certificate outside its validity period now (S9S03); with
 * allow_future, one that is not valid yet passes (registration ahead of a
 * changeover).  "signer" names it in the message.
 */
static void
check_certificate_period(X509 *cert, const char *signer, bool allow_future)
{
	const ASN1_TIME *nb = X509_get0_notBefore(cert);
	const ASN1_TIME *na = X509_get0_notAfter(cert);

	if (X509_cmp_current_time(na) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CERTIFICATE_VALIDITY),
				 errmsg("the certificate of signer \"%s\" has expired", signer),
				 errdetail("It was valid from %s to %s.", asn1_time_text(nb), asn1_time_text(na)),
				 errhint("Register the counterparty's current certificate (finsec.register_signer) and revoke this one.")));
	if (!allow_future && X509_cmp_current_time(nb) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CERTIFICATE_VALIDITY),
				 errmsg("the certificate of signer \"%s\" is not valid yet", signer),
				 errdetail("It is valid from %s to %s.", asn1_time_text(nb), asn1_time_text(na)),
				 errhint("Signatures under it are accepted from %s on.", asn1_time_text(nb))));
}

/* ---- finsec.register_signer ------------------------------------------------ */

PG_FUNCTION_INFO_V1(finsec_register_signer);

/*
 * finsec.register_signer(name text, pem text, sm2_id bytea DEFAULT NULL)
 * returns text: the SHA-256 fingerprint of the key's SubjectPublicKeyInfo.
 */
Datum
finsec_register_signer(PG_FUNCTION_ARGS)
{
	char	   *name;
	char	   *pem;
	bytea	   *sm2_id = PG_ARGISNULL(2) ? NULL : PG_GETARG_BYTEA_PP(2);
	SigGuard   *g;
	SigKeyType	type;
	int			bits;
	char		fp[65];
	char	   *subject = NULL,
			   *issuer = NULL,
			   *serial = NULL,
			   *not_before = NULL,
			   *not_after = NULL;
	FinsecOwnerContext ctx;
	Oid			argtypes[12] = {TEXTOID, TEXTOID, INT4OID, TEXTOID, TEXTOID, BYTEAOID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, OIDOID};
	Datum		args[12];
	char		nulls[12];
	StringInfoData desc;
	Jsonb	   *detail;
	bool		isnull;
	int			ret;

	finsec_require_preload("finsec.register_signer()");
	finsec_require_arg(fcinfo, 0, "signer name");
	finsec_require_arg(fcinfo, 1, "PEM text");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	pem = text_to_cstring(PG_GETARG_TEXT_PP(1));
	check_signer_name(name);

	g = finsec_sig_guard_new();
	(void) finsec_sig_parse_pem(g, pem);
	type = finsec_sig_classify(g->pkey, &bits, "the signer's key");
	finsec_sig_check_policy(type, bits, "the signer's key");
	finsec_sig_check_id(type, sm2_id);
	finsec_sig_spki_sha256_hex(g->pkey, fp);
	if (g->cert)
	{
		uint32		ku = X509_get_key_usage(g->cert);

		check_certificate_period(g->cert, name, true);
		if (ku != UINT32_MAX && (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_SIGNATURE_KEY_POLICY),
					 errmsg("the certificate's key usage does not allow signatures"),
					 errdetail("Its keyUsage extension has neither digitalSignature nor nonRepudiation."),
					 errhint("Ask the counterparty for its signing certificate.")));
		subject = x509_name_text(X509_get_subject_name(g->cert));
		issuer = x509_name_text(X509_get_issuer_name(g->cert));
		serial = x509_serial_text(g->cert);
		not_before = asn1_time_text(X509_get0_notBefore(g->cert));
		not_after = asn1_time_text(X509_get0_notAfter(g->cert));
	}
	finsec_sig_guard_release(g);

	finsec_spi_begin_as_owner(&ctx);

	args[0] = CStringGetTextDatum(name);
	finsec_spi_execute("SELECT 1 FROM finsec.signer WHERE name = $1 AND revoked_at IS NULL",
					   1, argtypes, args, NULL, true, 1,
					   SPI_OK_SELECT, "could not read finsec.signer");
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("signer \"%s\" is already registered", name),
				 errhint("Revoke it first (finsec.revoke_signer), or register the new key under another name to let both verify during a changeover.")));

	memset(nulls, ' ', sizeof(nulls));
	args[1] = CStringGetTextDatum(finsec_sig_key_type_name(type));
	args[2] = Int32GetDatum(bits);
	args[3] = CStringGetTextDatum(fp);
	args[4] = CStringGetTextDatum(pem);
	args[5] = PointerGetDatum(sm2_id);
	nulls[5] = sm2_id ? ' ' : 'n';
	args[6] = subject ? CStringGetTextDatum(subject) : (Datum) 0;
	nulls[6] = subject ? ' ' : 'n';
	args[7] = issuer ? CStringGetTextDatum(issuer) : (Datum) 0;
	nulls[7] = issuer ? ' ' : 'n';
	args[8] = serial ? CStringGetTextDatum(serial) : (Datum) 0;
	nulls[8] = serial ? ' ' : 'n';
	args[9] = not_before ? CStringGetTextDatum(not_before) : (Datum) 0;
	nulls[9] = not_before ? ' ' : 'n';
	args[10] = not_after ? CStringGetTextDatum(not_after) : (Datum) 0;
	nulls[10] = not_after ? ' ' : 'n';
	args[11] = ObjectIdGetDatum(ctx.caller);
	ret = SPI_execute_with_args("INSERT INTO finsec.signer (name, algorithm, key_bits, spki_sha256, pem, sm2_id, "
								"  cert_subject, cert_issuer, cert_serial, not_before, not_after, registered_by) "
								"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::timestamptz, $11::timestamptz, "
								"  pg_catalog.pg_get_userbyid($12)) "
								"RETURNING pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object("
								"  'signer_id', id, 'algorithm', algorithm, 'key_bits', key_bits, "
								"  'spki_sha256', spki_sha256, 'sm2_id', pg_catalog.encode(sm2_id, 'hex'), "
								"  'certificate_subject', cert_subject, 'certificate_issuer', cert_issuer, "
								"  'certificate_serial', cert_serial, 'not_before', not_before, 'not_after', not_after))",
								12, argtypes, args, nulls, false, 0);
	if (ret != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not register the signer");
	detail = DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	initStringInfo(&desc);
	appendStringInfo(&desc, "signer registered: %d-bit %s key, SPKI SHA-256 %s", bits,
					 finsec_sig_key_type_name(type), fp);
	if (subject)
		appendStringInfo(&desc, ", certificate %s", subject);
	(void) finsec_audit_event_internal(ctx.caller, "signature.signer", NULL, name,
									   "register", true, desc.data, detail);
	finsec_spi_end(&ctx);
	PG_RETURN_TEXT_P(cstring_to_text(fp));
}

/* ---- finsec.revoke_signer -------------------------------------------------- */

PG_FUNCTION_INFO_V1(finsec_revoke_signer);

/* finsec.revoke_signer(name text, reason text) returns void */
Datum
finsec_revoke_signer(PG_FUNCTION_ARGS)
{
	char	   *name;
	char	   *reason;
	FinsecOwnerContext ctx;
	Oid			argtypes[3] = {TEXTOID, TEXTOID, OIDOID};
	Datum		args[3];
	Jsonb	   *detail;
	bool		isnull;
	int			ret;

	finsec_require_preload("finsec.revoke_signer()");
	finsec_require_arg(fcinfo, 0, "signer name");
	finsec_require_arg(fcinfo, 1, "revocation reason");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	reason = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (*reason == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a revocation needs a reason"),
				 errhint("Say why, e.g. 'key compromised' or 'replaced by bank-a-2026'; it goes to the audit ledger.")));

	finsec_spi_begin_as_owner(&ctx);
	args[0] = CStringGetTextDatum(name);
	args[1] = CStringGetTextDatum(reason);
	args[2] = ObjectIdGetDatum(ctx.caller);
	finsec_spi_execute("UPDATE finsec.signer SET revoked_at = pg_catalog.now(), revoke_reason = $2, "
					   "  revoked_by = pg_catalog.pg_get_userbyid($3) "
					   "WHERE name = $1 AND revoked_at IS NULL "
					   "RETURNING pg_catalog.jsonb_build_object('signer_id', id, 'spki_sha256', spki_sha256, "
					   "  'reason', revoke_reason)",
					   3, argtypes, args, NULL, false, 0,
					   SPI_OK_UPDATE_RETURNING, "could not revoke the signer");
	if (SPI_processed == 0)
	{
		ret = SPI_execute_with_args("SELECT 1 FROM finsec.signer WHERE name = $1",
									1, argtypes, args, NULL, true, 1);
		if (ret == SPI_OK_SELECT && SPI_processed > 0)
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_SIGNER_REVOKED),
					 errmsg("signer \"%s\" is already revoked", name)));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no signer named \"%s\"", name),
				 errhint("finsec.signer lists the registered signers.")));
	}
	detail = DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	(void) finsec_audit_event_internal(ctx.caller, "signature.signer", NULL, name,
									   "revoke", true, "signer revoked", detail);
	finsec_spi_end(&ctx);
	PG_RETURN_VOID();
}

/* ---- proof of origin ------------------------------------------------------- */

/*
 * Whether sig is a signature of data by the registered signer "signer",
 * with "algorithm" (NULL: the key's default) and SM2 user id "id" (NULL:
 * the one registered with the signer, else GM/T 0009's default).  ERROR for
 * an unknown or revoked signer, a key the current policy refuses, a
 * certificate outside its validity period, or an algorithm or id that does
 * not fit the key.
 */
bool
finsec_sig_verify_as_signer(const char *signer, const unsigned char *data, size_t datalen,
							const unsigned char *sig, size_t siglen,
							const char *algorithm, const bytea *id, bool misfit_is_false)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	FinsecOwnerContext ctx;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	char	   *pem = NULL;
	bytea	   *stored_id = NULL;
	bool		revoked = false;
	bool		isnull;
	SigGuard   *g;
	SigKeyType	type;
	int			bits;
	const SigAlgorithm *alg;
	bool		ok;

	finsec_spi_begin_as_owner(&ctx);
	args[0] = CStringGetTextDatum(signer);
	if (SPI_execute_with_args("SELECT pem, sm2_id, revoked_at IS NOT NULL FROM finsec.signer "
							  "WHERE name = $1 ORDER BY revoked_at IS NULL DESC, id DESC LIMIT 1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read finsec.signer");
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		d;
		MemoryContext spi_cxt = MemoryContextSwitchTo(caller_cxt);

		pem = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
		d = SPI_getbinval(tup, desc, 2, &isnull);
		if (!isnull)
			stored_id = DatumGetByteaPCopy(d);
		revoked = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		MemoryContextSwitchTo(spi_cxt);
	}
	finsec_spi_end(&ctx);

	if (pem == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no signer named \"%s\"", signer),
				 errhint("finsec_admin registers signers with finsec.register_signer().")));
	if (revoked)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_SIGNER_REVOKED),
				 errmsg("signer \"%s\" is revoked", signer),
				 errdetail("Signatures by a revoked signer are not accepted as proof of origin."),
				 errhint("finsec.signer shows when and why it was revoked.")));

	g = finsec_sig_guard_new();
	(void) finsec_sig_parse_pem(g, pem);
	type = finsec_sig_classify(g->pkey, &bits, "the signer's key");
	finsec_sig_check_policy(type, bits, "the signer's key");
	if (g->cert)
		check_certificate_period(g->cert, signer, false);
	/* A receipt naming an algorithm of another key type is not this signer's. */
	if (misfit_is_false && algorithm != NULL && finsec_sig_algorithm_lookup(algorithm) != NULL &&
		finsec_sig_algorithm_lookup(algorithm)->key_type != type)
	{
		finsec_sig_guard_release(g);
		return false;
	}
	alg = finsec_sig_algorithm(algorithm, type, "the signer's key");
	finsec_sig_check_id(type, id);
	if (id == NULL)
		id = stored_id;
	ok = finsec_sig_verify(g, g->pkey, alg,
						   id ? (const unsigned char *) VARDATA_ANY(id) : NULL,
						   id ? VARSIZE_ANY_EXHDR(id) : 0,
						   data, datalen, sig, siglen);
	finsec_sig_guard_release(g);
	return ok;
}

static bool
verify_args(FunctionCallInfo fcinfo, char **signer, char **algorithm)
{
	bytea	   *data,
			   *sig;

	finsec_require_arg(fcinfo, 0, "signer");
	finsec_require_arg(fcinfo, 1, "data");
	finsec_require_arg(fcinfo, 2, "signature");
	*signer = text_to_cstring(PG_GETARG_TEXT_PP(0));
	*algorithm = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	data = PG_GETARG_BYTEA_PP(1);
	sig = PG_GETARG_BYTEA_PP(2);
	return finsec_sig_verify_as_signer(*signer,
									   (unsigned char *) VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data),
									   (unsigned char *) VARDATA_ANY(sig), VARSIZE_ANY_EXHDR(sig),
									   *algorithm,
									   PG_ARGISNULL(4) ? NULL : PG_GETARG_BYTEA_PP(4), false);
}

PG_FUNCTION_INFO_V1(finsec_verify_signature);

/*
 * finsec.verify_signature(signer text, data bytea, signature bytea,
 *						   algorithm text DEFAULT NULL,
 *						   sm2_id bytea DEFAULT NULL) returns boolean
 */
Datum
finsec_verify_signature(PG_FUNCTION_ARGS)
{
	char	   *signer;
	char	   *algorithm;

	PG_RETURN_BOOL(verify_args(fcinfo, &signer, &algorithm));
}

PG_FUNCTION_INFO_V1(finsec_require_signature);

/* finsec.require_signature(...) returns void: the same, raising S9S04. */
Datum
finsec_require_signature(PG_FUNCTION_ARGS)
{
	char	   *signer;
	char	   *algorithm;

	if (!verify_args(fcinfo, &signer, &algorithm))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_SIGNATURE_INVALID),
				 errmsg("signature by signer \"%s\" does not verify", signer),
				 errdetail("Algorithm %s; the data or the signature was altered, or another key signed it.",
						   algorithm ? algorithm : "default for the key")));
	PG_RETURN_VOID();
}
