/*-------------------------------------------------------------------------
 *
 * selftest.c
 *	  finsec.signature_self_test(): a known-answer check of the signing
 *	  primitives on this server's OpenSSL.
 *
 * For each signing-key algorithm the keyring offers, it generates a key
 * (finsec_sig_keygen), imports it back (finsec_sig_check_private), derives
 * the public key (finsec_sig_public_der), signs a message with every
 * algorithm that fits the key, verifies each signature, and checks that a
 * changed message and, for SM2, another user id are refused.  The keys are
 * thrown away (zeroized).  Operators run it after an OpenSSL upgrade.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/x509.h>

#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "finsec.h"
#include "finsec_keyring.h"
#include "finsec_signature.h"
#include "signature_internal.h"

static const char *const selftest_algorithms[] = {
	"ec-p256", "sm2", "rsa-2048", "rsa-3072", "rsa-4096", NULL
};

static const char *const selftest_signatures[] = {
	"ecdsa-sha256", "ecdsa-sha384", "ecdsa-sha512", "sm2-sm3",
	"rsa-pkcs1-sha256", "rsa-pkcs1-sha384", "rsa-pkcs1-sha512",
	"rsa-pss-sha256", "rsa-pss-sha384", "rsa-pss-sha512", NULL
};

/* Run the test for one algorithm; false and *detail on failure. */
static bool
selftest_one(const char *algorithm, char **detail)
{
	static const unsigned char message[] = "finsec signature self-test";
	static const unsigned char other_id[] = "ALICE123@YAHOO.COM";
	size_t		derlen;
	unsigned char *der;
	bytea	   *spki;
	const unsigned char *p;
	SigGuard   *priv = finsec_sig_guard_new();
	SigGuard   *pub = finsec_sig_guard_new();
	SigKeyType	type;
	int			bits;
	int			i;
	StringInfoData done;

	der = finsec_sig_keygen(algorithm, &derlen);
	finsec_sig_check_private(algorithm, der, derlen);
	spki = finsec_sig_public_der(der, derlen);
	(void) finsec_sig_private_from_der(priv, der, derlen);
	finsec_secret_free(der);

	p = (const unsigned char *) VARDATA(spki);
	pub->pkey = d2i_PUBKEY(NULL, &p, VARSIZE(spki) - VARHDRSZ);
	if (pub->pkey == NULL)
	{
		*detail = pstrdup("the derived public key does not decode");
		return false;
	}
	type = finsec_sig_classify(pub->pkey, &bits, "the self-test key");

	initStringInfo(&done);
	for (i = 0; selftest_signatures[i]; i++)
	{
		const SigAlgorithm *alg = finsec_sig_algorithm_lookup(selftest_signatures[i]);
		bytea	   *sig;
		unsigned char *s;
		size_t		slen;

		if (alg == NULL || alg->key_type != type)
			continue;
		sig = finsec_sig_sign(priv, priv->pkey, alg, NULL, 0, message, sizeof(message) - 1);
		s = (unsigned char *) VARDATA(sig);
		slen = VARSIZE(sig) - VARHDRSZ;
		if (!finsec_sig_verify(pub, pub->pkey, alg, NULL, 0, message, sizeof(message) - 1, s, slen))
		{
			*detail = psprintf("a %s signature does not verify", alg->name);
			return false;
		}
		if (finsec_sig_verify(pub, pub->pkey, alg, NULL, 0, message, sizeof(message) - 2, s, slen))
		{
			*detail = psprintf("a %s signature verifies for a changed message", alg->name);
			return false;
		}
		if (type == SIG_KEY_SM2 &&
			finsec_sig_verify(pub, pub->pkey, alg, other_id, sizeof(other_id) - 1,
							  message, sizeof(message) - 1, s, slen))
		{
			*detail = psprintf("a %s signature verifies under another user id", alg->name);
			return false;
		}
		appendStringInfo(&done, "%s%s", done.len ? ", " : "", alg->name);
	}
	finsec_sig_guard_release(priv);
	finsec_sig_guard_release(pub);
	*detail = psprintf("%d-bit %s key generated, imported and checked; %s signed and verified; changes refused",
					   bits, finsec_sig_key_type_name(type), done.data);
	return true;
}

PG_FUNCTION_INFO_V1(finsec_signature_self_test);

/*
 * finsec.signature_self_test(OUT algorithm text, OUT ok boolean,
 *							  OUT detail text) returns setof record
 */
Datum
finsec_signature_self_test(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; selftest_algorithms[i]; i++)
	{
		const char *algorithm = selftest_algorithms[i];
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		bool		ok;
		char	   *detail;
		int			bits = 0;

		if (sscanf(algorithm, "rsa-%d", &bits) == 1 && bits < finsec_signature_min_rsa_bits)
		{
			ok = true;
			detail = psprintf("skipped: below finsec.signature_min_rsa_bits (%d)",
							  finsec_signature_min_rsa_bits);
		}
		else
			ok = selftest_one(algorithm, &detail);
		values[0] = CStringGetTextDatum(algorithm);
		values[1] = BoolGetDatum(ok);
		values[2] = CStringGetTextDatum(detail);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
