/*-------------------------------------------------------------------------
 *
 * keys.c
 *	  Signature keys: what finsec accepts (JR/T 0096.5 4.4.2; M6), how it
 *	  reads them, and the signing and verifying primitives (OpenSSL EVP).
 *
 * Accepted keys: RSA (rsaEncryption) of at least finsec.signature_min_rsa_bits
 * (default 2048, never below the standard's 1024), ECDSA over P-256, and
 * SM2 over sm2p256v1 (GB/T 32918).  Both elliptic curves are well above the
 * standard's 160-bit floor; other curves are refused so that counterparties
 * stay on curves with published, reviewed parameters.
 *
 * The functions the keyring calls for its signing keys (finsec_sig_*,
 * declared in finsec_keyring.h) are at the end.  Private keys only ever
 * pass through OpenSSL and buffers that are cleansed before release; no
 * message here carries key bytes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "finsec.h"
#include "finsec_keyring.h"
#include "finsec_signature.h"
#include "signature_internal.h"

int			finsec_signature_min_rsa_bits = FINSEC_SIGNATURE_MIN_RSA_BITS_DEFAULT;

void
finsec_signature_define_settings(void)
{
	DefineCustomIntVariable("finsec.signature_min_rsa_bits",
							"Smallest RSA key accepted for signatures.",
							"Applies when a signer is registered, when a signature is verified "
							"(a key registered under a lower setting stops verifying) and to "
							"keyring signing keys. JR/T 0096.5 4.4.2 asks for at least 1024 bits, "
							"which is the floor; 2048 follows current practice (GM/T 0054, "
							"NIST SP 800-131A). Elliptic-curve keys (P-256, SM2) are 256 bits.",
							&finsec_signature_min_rsa_bits,
							FINSEC_SIGNATURE_MIN_RSA_BITS_DEFAULT, FINSEC_SIGNATURE_RSA_FLOOR, 16384,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
}

/* ---- the guard ---------------------------------------------------------- */

static void
sig_guard_callback(void *arg)
{
	finsec_sig_guard_release((SigGuard *) arg);
}

SigGuard *
finsec_sig_guard_new(void)
{
	SigGuard   *g = palloc0(sizeof(SigGuard));

	g->cb.func = sig_guard_callback;
	g->cb.arg = g;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &g->cb);
	return g;
}

void
finsec_sig_guard_release(SigGuard *g)
{
	EVP_MD_CTX_free(g->mdctx);
	g->mdctx = NULL;
	EVP_PKEY_free(g->pkey);
	g->pkey = NULL;
	X509_free(g->cert);
	g->cert = NULL;
	BIO_free(g->bio);
	g->bio = NULL;
	PKCS8_PRIV_KEY_INFO_free(g->p8);
	g->p8 = NULL;
	if (g->secret)
		OPENSSL_clear_free(g->secret, g->secret_len);
	g->secret = NULL;
	g->secret_len = 0;
	/* Whatever OpenSSL queued is of no use once the operation is over. */
	ERR_clear_error();
}

/* ---- key types and policy ----------------------------------------------- */

const char *
finsec_sig_key_type_name(SigKeyType type)
{
	switch (type)
	{
		case SIG_KEY_RSA:
			return "rsa";
		case SIG_KEY_EC_P256:
			return "ec-p256";
		case SIG_KEY_SM2:
			return "sm2";
	}
	return "?";
}

/*
 * Which of finsec's key types pkey is, and its size in bits; ERROR
 * (S9S01) for any other key.  "what" names the key for the message
 * ("the public key", "the private key").
 */
SigKeyType
finsec_sig_classify(EVP_PKEY *pkey, int *bits, const char *what)
{
	char		group[80];
	size_t		glen = 0;

	*bits = EVP_PKEY_get_bits(pkey);
	if (EVP_PKEY_is_a(pkey, "SM2"))
		return SIG_KEY_SM2;
	if (EVP_PKEY_is_a(pkey, "RSA"))
		return SIG_KEY_RSA;
	if (EVP_PKEY_is_a(pkey, "RSA-PSS"))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_SIGNATURE_KEY_POLICY),
				 errmsg("%s is an RSASSA-PSS-restricted RSA key, which finsec does not accept", what),
				 errdetail("finsec accepts RSA keys of type rsaEncryption, ECDSA P-256 keys and SM2 keys."),
				 errhint("Export the key as an rsaEncryption SubjectPublicKeyInfo; it can still be used with algorithm 'rsa-pss-sha256'.")));
	if (EVP_PKEY_is_a(pkey, "EC"))
	{
		if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
											group, sizeof(group), &glen))
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_SIGNATURE_KEY_POLICY),
					 errmsg("%s uses an elliptic curve given by explicit parameters", what),
					 errdetail("finsec accepts the named curves P-256 (prime256v1) and SM2 (sm2p256v1) only."),
					 errhint("Export the key with a named curve.")));
		if (pg_strcasecmp(group, "prime256v1") == 0 || pg_strcasecmp(group, "P-256") == 0)
			return SIG_KEY_EC_P256;
		if (pg_strcasecmp(group, "SM2") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("the OpenSSL library decoded an SM2 key as a plain EC key"),
					 errhint("finsec needs OpenSSL 3.0 or later, which decodes keys on sm2p256v1 as SM2 keys.")));
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_SIGNATURE_KEY_POLICY),
				 errmsg("%s is on elliptic curve %s, which finsec does not accept for signatures", what, group),
				 errdetail("finsec accepts the curves P-256 (prime256v1) and SM2 (sm2p256v1)."),
				 errhint("Ask the counterparty for a P-256 or SM2 key.")));
	}
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_SIGNATURE_KEY_POLICY),
			 errmsg("%s is a %s key, which finsec does not accept for signatures",
					what, EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "unknown"),
			 errdetail("finsec accepts RSA, ECDSA P-256 and SM2 keys.")));
	return SIG_KEY_RSA;			/* keep compiler quiet */
}

/* The key-size rule of M6: RSA at least finsec.signature_min_rsa_bits. */
void
finsec_sig_check_policy(SigKeyType type, int bits, const char *what)
{
	if (type == SIG_KEY_RSA && bits < finsec_signature_min_rsa_bits)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_SIGNATURE_KEY_POLICY),
				 errmsg("%s is a %d-bit RSA key, below the %d bits finsec.signature_min_rsa_bits requires",
						what, bits, finsec_signature_min_rsa_bits),
				 bits < FINSEC_SIGNATURE_RSA_FLOOR ?
				 errdetail("JR/T 0096.5 4.4.2 asks for RSA signature keys of at least %d bits; no setting accepts smaller keys.",
						   FINSEC_SIGNATURE_RSA_FLOOR) :
				 errdetail("JR/T 0096.5 4.4.2 allows %d bits; this server asks for more.",
						   FINSEC_SIGNATURE_RSA_FLOOR),
				 bits < FINSEC_SIGNATURE_RSA_FLOOR ?
				 errhint("Ask the counterparty for a key of at least %d bits.", finsec_signature_min_rsa_bits) :
				 errhint("Ask the counterparty for a key of at least %d bits, or have a superuser lower finsec.signature_min_rsa_bits (not below %d).",
						 finsec_signature_min_rsa_bits, FINSEC_SIGNATURE_RSA_FLOOR)));
}

/* ---- reading public keys and certificates ------------------------------- */

static int
count_occurrences(const char *s, const char *needle)
{
	int			n = 0;
	size_t		len = strlen(needle);

	while ((s = strstr(s, needle)) != NULL)
	{
		n++;
		s += len;
	}
	return n;
}

/*
 * The public key of a PEM "PUBLIC KEY" (SubjectPublicKeyInfo) or
 * "CERTIFICATE"; in the latter case g->cert holds the certificate.  The key
 * is owned by the guard.  Exactly one PEM block is accepted; a private key
 * is refused without reading it.
 */
EVP_PKEY *
finsec_sig_parse_pem(SigGuard *g, const char *pem)
{
	bool		is_cert;
	size_t		len = strlen(pem);

	if (strstr(pem, "PRIVATE KEY-----") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a private key was given where a public key or certificate is expected"),
				 errdetail("finsec registers the counterparty's public key or certificate; it never needs the private key."),
				 errhint("Send only \"-----BEGIN PUBLIC KEY-----\" or \"-----BEGIN CERTIFICATE-----\" text, and treat the private key as disclosed.")));
	if (count_occurrences(pem, "-----BEGIN ") != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a signer's PEM text must hold exactly one PUBLIC KEY or CERTIFICATE block"),
				 errdetail("The text holds %d PEM blocks.", count_occurrences(pem, "-----BEGIN ")),
				 errhint("Register each key or certificate separately; certificate chains are not registered.")));
	is_cert = strstr(pem, "-----BEGIN CERTIFICATE-----") != NULL;
	if (!is_cert && strstr(pem, "-----BEGIN PUBLIC KEY-----") == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported PEM block for a signer"),
				 errdetail("finsec reads \"-----BEGIN PUBLIC KEY-----\" (SubjectPublicKeyInfo) and \"-----BEGIN CERTIFICATE-----\" (X.509)."),
				 errhint("Convert a PKCS#1 \"RSA PUBLIC KEY\" with: openssl pkey -pubin -in key.pem -pubout")));
	if (len > INT_MAX)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED), errmsg("PEM text too long")));

	g->bio = BIO_new_mem_buf(pem, (int) len);
	if (g->bio == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (is_cert)
	{
		g->cert = PEM_read_bio_X509(g->bio, NULL, NULL, NULL);
		if (g->cert == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("malformed X.509 certificate"),
					 errdetail("OpenSSL could not decode the CERTIFICATE block.")));
		g->pkey = X509_get_pubkey(g->cert);
		if (g->pkey == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the certificate's public key cannot be decoded")));
	}
	else
	{
		g->pkey = PEM_read_bio_PUBKEY(g->bio, NULL, NULL, NULL);
		if (g->pkey == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("malformed public key"),
					 errdetail("OpenSSL could not decode the PUBLIC KEY block as a SubjectPublicKeyInfo.")));
	}
	BIO_free(g->bio);
	g->bio = NULL;
	ERR_clear_error();
	return g->pkey;
}

/* SHA-256 of the DER SubjectPublicKeyInfo, as 64 lower-case hex digits. */
void
finsec_sig_spki_sha256_hex(EVP_PKEY *pkey, char *out)
{
	unsigned char *der = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int			len = i2d_PUBKEY(pkey, &der);
	bool		ok;

	if (len <= 0)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not encode a public key")));
	ok = EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) == 1;
	OPENSSL_free(der);
	if (!ok || mdlen != 32)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not hash a public key")));
	hex_encode((const char *) md, 32, out);
	out[64] = '\0';
}

/* A new memory BIO; out of memory is an error. */
BIO *
finsec_sig_mem_bio(void)
{
	BIO		   *bio = BIO_new(BIO_s_mem());

	if (bio == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	return bio;
}

/* What was written to the memory BIO bio, palloc'd; bio is freed. */
char *
finsec_sig_bio_text(BIO *bio)
{
	char	   *data;
	long		len = BIO_get_mem_data(bio, &data);
	char	   *result = pnstrdup(data, len > 0 ? len : 0);

	BIO_free(bio);
	return result;
}

/* The PEM SubjectPublicKeyInfo of pkey, palloc'd. */
char *
finsec_sig_public_pem(EVP_PKEY *pkey)
{
	BIO		   *bio = finsec_sig_mem_bio();

	if (PEM_write_bio_PUBKEY(bio, pkey) != 1 || BIO_ctrl_pending(bio) == 0)
	{
		BIO_free(bio);
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not encode a public key as PEM")));
	}
	return finsec_sig_bio_text(bio);
}

/* ---- algorithms --------------------------------------------------------- */

static const SigAlgorithm algorithms[] = {
	/* the first of each key type is its default */
	{"rsa-pkcs1-sha256", SIG_KEY_RSA, "SHA256", false},
	{"rsa-pkcs1-sha384", SIG_KEY_RSA, "SHA384", false},
	{"rsa-pkcs1-sha512", SIG_KEY_RSA, "SHA512", false},
	{"rsa-pss-sha256", SIG_KEY_RSA, "SHA256", true},
	{"rsa-pss-sha384", SIG_KEY_RSA, "SHA384", true},
	{"rsa-pss-sha512", SIG_KEY_RSA, "SHA512", true},
	{"ecdsa-sha256", SIG_KEY_EC_P256, "SHA256", false},
	{"ecdsa-sha384", SIG_KEY_EC_P256, "SHA384", false},
	{"ecdsa-sha512", SIG_KEY_EC_P256, "SHA512", false},
	{"sm2-sm3", SIG_KEY_SM2, "SM3", false},
	{NULL, 0, NULL, false}
};

const SigAlgorithm *
finsec_sig_algorithm_lookup(const char *name)
{
	const SigAlgorithm *a;

	for (a = algorithms; a->name; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

/*
 * The algorithm called "name" (NULL: the key type's default), checked
 * against the key type; "who" names the key for messages.
 */
const SigAlgorithm *
finsec_sig_algorithm(const char *name, SigKeyType type, const char *who)
{
	const SigAlgorithm *a;

	if (name == NULL)
	{
		for (a = algorithms; a->name; a++)
			if (a->key_type == type)
				return a;
	}
	a = finsec_sig_algorithm_lookup(name);
	if (a == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown signature algorithm \"%s\"", name),
				 errhint("Use rsa-pkcs1-sha256, rsa-pss-sha256 (or -sha384, -sha512) for RSA keys, "
						 "ecdsa-sha256 (or -sha384, -sha512) for P-256 keys, sm2-sm3 for SM2 keys, "
						 "or NULL for the key's default.")));
	if (a->key_type != type)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("signature algorithm \"%s\" does not fit %s (%s)",
						name, who, finsec_sig_key_type_name(type)),
				 errhint("Pass NULL to use the key's default algorithm.")));
	return a;
}

/* An SM2 user id is given only for SM2 keys, and fits ENTL's 16 bits. */
void
finsec_sig_check_id(SigKeyType type, const bytea *id)
{
	if (id == NULL)
		return;
	if (type != SIG_KEY_SM2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an SM2 user id was given for a key that is not an SM2 key (%s)", finsec_sig_key_type_name(type)),
				 errdetail("The user id (GB/T 32918.2, ENTL and ID) is part of SM2 signatures only."),
				 errhint("Pass NULL as sm2_id.")));
	if (VARSIZE_ANY_EXHDR(id) < 1 || VARSIZE_ANY_EXHDR(id) > FINSEC_SM2_ID_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an SM2 user id has 1 to %d bytes", FINSEC_SM2_ID_MAXLEN),
				 errdetail("The id given has %zu bytes.", (size_t) VARSIZE_ANY_EXHDR(id)),
				 errhint("Pass NULL for the GM/T 0009 default id \"%s\".", FINSEC_SM2_DEFAULT_ID)));
}

/* Set up g->mdctx for signing or verifying with alg. */
static void
sig_init(SigGuard *g, EVP_PKEY *pkey, const SigAlgorithm *alg,
		 const unsigned char *id, size_t idlen, bool sign)
{
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = EVP_get_digestbyname(alg->digest);
	int			ok;

	if (md == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the OpenSSL library this server uses does not provide digest %s", alg->digest)));
	EVP_MD_CTX_free(g->mdctx);
	g->mdctx = EVP_MD_CTX_new();
	if (g->mdctx == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (sign)
		ok = EVP_DigestSignInit(g->mdctx, &pctx, md, NULL, pkey);
	else
		ok = EVP_DigestVerifyInit(g->mdctx, &pctx, md, NULL, pkey);
	if (ok == 1 && alg->key_type == SIG_KEY_SM2)
	{
		/* OpenSSL 3 defaults to an empty id; GM/T 0009 to 1234567812345678. */
		if (id == NULL)
		{
			id = (const unsigned char *) FINSEC_SM2_DEFAULT_ID;
			idlen = strlen(FINSEC_SM2_DEFAULT_ID);
		}
		ok = EVP_PKEY_CTX_set1_id(pctx, id, idlen) > 0;
	}
	if (ok == 1 && alg->pss)
	{
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
			EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) > 0 &&
		/* sign with a salt as long as the digest; accept any salt length */
			EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, sign ? RSA_PSS_SALTLEN_DIGEST
											 : RSA_PSS_SALTLEN_AUTO) > 0;
	}
	if (ok != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not set up %s %s", alg->name, sign ? "signing" : "verification")));
}

/*
 * Whether sig is alg's signature of data under pkey.  Any signature bytes
 * are accepted as input: a malformed one simply does not verify.
 */
bool
finsec_sig_verify(SigGuard *g, EVP_PKEY *pkey, const SigAlgorithm *alg,
				  const unsigned char *id, size_t idlen,
				  const unsigned char *data, size_t datalen,
				  const unsigned char *sig, size_t siglen)
{
	int			rc;

	sig_init(g, pkey, alg, id, idlen, false);
	rc = EVP_DigestVerify(g->mdctx, sig, siglen, data, datalen);
	EVP_MD_CTX_free(g->mdctx);
	g->mdctx = NULL;
	ERR_clear_error();
	return rc == 1;
}

/* alg's signature of data under private key pkey (DER for ECDSA and SM2). */
bytea *
finsec_sig_sign(SigGuard *g, EVP_PKEY *pkey, const SigAlgorithm *alg,
				const unsigned char *id, size_t idlen,
				const unsigned char *data, size_t datalen)
{
	size_t		len = 0;
	bytea	   *result;

	sig_init(g, pkey, alg, id, idlen, true);
	if (EVP_DigestSign(g->mdctx, NULL, &len, data, datalen) != 1)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not sign with %s", alg->name)));
	result = palloc(VARHDRSZ + len);
	if (EVP_DigestSign(g->mdctx, (unsigned char *) VARDATA(result), &len, data, datalen) != 1)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not sign with %s", alg->name)));
	SET_VARSIZE(result, VARHDRSZ + len);
	EVP_MD_CTX_free(g->mdctx);
	g->mdctx = NULL;
	return result;
}

/* ---- private keys (DER PKCS#8) ------------------------------------------ */

/*
 * The private key in der, which must be exactly one DER PrivateKeyInfo
 * (PKCS#8, unencrypted).  Owned by the guard (g->pkey).
 */
EVP_PKEY *
finsec_sig_private_from_der(SigGuard *g, const unsigned char *der, size_t len)
{
	const unsigned char *p = der;

	if (len == 0 || len > LONG_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a signing key must be a DER PKCS#8 PrivateKeyInfo")));
	g->p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long) len);
	if (g->p8 == NULL || p != der + len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a signing key must be a DER PKCS#8 PrivateKeyInfo"),
				 errdetail("The bytes given are not exactly one unencrypted PrivateKeyInfo.")));
	EVP_PKEY_free(g->pkey);
	g->pkey = EVP_PKCS82PKEY(g->p8);
	PKCS8_PRIV_KEY_INFO_free(g->p8);
	g->p8 = NULL;
	if (g->pkey == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the PKCS#8 private key cannot be decoded")));
	ERR_clear_error();
	return g->pkey;
}

/* ---- signing keys for the keyring (finsec_keyring.h) -------------------- */

typedef struct KeyringAlgorithm
{
	const char *name;
	SigKeyType	type;
	int			bits;
} KeyringAlgorithm;

static const KeyringAlgorithm keyring_algorithms[] = {
	{"ec-p256", SIG_KEY_EC_P256, 256},
	{"sm2", SIG_KEY_SM2, 256},
	{"rsa-2048", SIG_KEY_RSA, 2048},
	{"rsa-3072", SIG_KEY_RSA, 3072},
	{"rsa-4096", SIG_KEY_RSA, 4096},
	{NULL, 0, 0}
};

static const KeyringAlgorithm *
keyring_algorithm(const char *algorithm)
{
	const KeyringAlgorithm *k;

	if (algorithm != NULL)
		for (k = keyring_algorithms; k->name; k++)
			if (strcmp(k->name, algorithm) == 0)
				return k;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown signing key algorithm \"%s\"", algorithm ? algorithm : "(null)"),
			 errhint("Use ec-p256, sm2, rsa-2048, rsa-3072 or rsa-4096.")));
	return NULL;				/* keep compiler quiet */
}

bool
finsec_sig_algorithm_known(const char *algorithm)
{
	const KeyringAlgorithm *k;

	if (algorithm == NULL)
		return false;
	for (k = keyring_algorithms; k->name; k++)
		if (strcmp(k->name, algorithm) == 0)
			return true;
	return false;
}

/* The signing-key algorithm name of a key of this type and size. */
const char *
finsec_sig_keyring_algorithm_name(SigKeyType type, int bits)
{
	const KeyringAlgorithm *k;

	for (k = keyring_algorithms; k->name; k++)
		if (k->type == type && k->bits == bits)
			return k->name;
	return NULL;
}

/* A new private key for a keyring signing algorithm, as PKCS#8 DER in secret memory (*len bytes). */
unsigned char *
finsec_sig_keygen(const char *algorithm, size_t *len)
{
	const KeyringAlgorithm *k = keyring_algorithm(algorithm);
	SigGuard   *g = finsec_sig_guard_new();
	int			n;
	unsigned char *out;
	unsigned char *p;

	/* Policy first: a key the server would refuse to use is not made. */
	finsec_sig_check_policy(k->type, k->bits, "the requested signing key");

	switch (k->type)
	{
		case SIG_KEY_RSA:
			g->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) k->bits);
			break;
		case SIG_KEY_EC_P256:
			g->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
			break;
		case SIG_KEY_SM2:
			g->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
			break;
	}
	if (g->pkey == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a %s signing key", k->name)));

	g->p8 = EVP_PKEY2PKCS8(g->pkey);
	if (g->p8 == NULL || (n = i2d_PKCS8_PRIV_KEY_INFO(g->p8, NULL)) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not encode a %s signing key as PKCS#8", k->name)));
	/* Zeroed on every path: by the caller's finsec_secret_free, or on error. */
	out = finsec_secret_alloc(n);
	p = out;
	if (i2d_PKCS8_PRIV_KEY_INFO(g->p8, &p) != n)
	{
		finsec_secret_free(out);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not encode a %s signing key as PKCS#8", k->name)));
	}
	finsec_sig_guard_release(g);
	*len = (size_t) n;
	return out;
}

void
finsec_sig_check_private(const char *algorithm, const unsigned char *der, size_t len)
{
	const KeyringAlgorithm *k = keyring_algorithm(algorithm);
	SigGuard   *g = finsec_sig_guard_new();
	EVP_PKEY_CTX *cctx;
	SigKeyType	type;
	int			bits;
	int			ok;

	(void) finsec_sig_private_from_der(g, der, len);
	type = finsec_sig_classify(g->pkey, &bits, "the imported signing key");
	if (type != k->type || (type == SIG_KEY_RSA && bits != k->bits))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the imported signing key is not a %s key", k->name),
				 errdetail("It is a %d-bit %s key.", bits, finsec_sig_key_type_name(type)),
				 errhint("Import it with algorithm %s, if that is what it is meant to be.",
						 finsec_sig_keyring_algorithm_name(type, bits) ? finsec_sig_keyring_algorithm_name(type, bits)
						 : "ec-p256, sm2, rsa-2048, rsa-3072 or rsa-4096")));
	finsec_sig_check_policy(type, bits, "the imported signing key");

	/* The private and public halves must belong together. */
	cctx = EVP_PKEY_CTX_new_from_pkey(NULL, g->pkey, NULL);
	ok = cctx != NULL && EVP_PKEY_pairwise_check(cctx) == 1;
	EVP_PKEY_CTX_free(cctx);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the imported %s signing key fails its consistency check", k->name),
				 errdetail("The private key does not match its public part, or its parameters are invalid.")));
	finsec_sig_guard_release(g);
}

bytea *
finsec_sig_public_der(const unsigned char *der, size_t len)
{
	SigGuard   *g = finsec_sig_guard_new();
	unsigned char *spki = NULL;
	int			n;
	bytea	   *result;

	(void) finsec_sig_private_from_der(g, der, len);
	n = i2d_PUBKEY(g->pkey, &spki);
	if (n <= 0)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not encode a public key")));
	result = finsec_bytea(spki, n);
	OPENSSL_free(spki);
	finsec_sig_guard_release(g);
	return result;
}
