/*-------------------------------------------------------------------------
 *
 * signature_internal.h
 *	  Shared by the files of src/signature; not part of finsec's public C API.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_SIGNATURE_INTERNAL_H
#define FINSEC_SIGNATURE_INTERNAL_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "datatype/timestamp.h"
#include "utils/palloc.h"

/* The key types finsec accepts for signatures. */
typedef enum SigKeyType
{
	SIG_KEY_RSA = 0,
	SIG_KEY_EC_P256,
	SIG_KEY_SM2
} SigKeyType;

/* A signature algorithm: which key type, which digest, which padding. */
typedef struct SigAlgorithm
{
	const char *name;			/* "ecdsa-sha256", as users write it */
	SigKeyType	key_type;
	const char *digest;			/* OpenSSL digest name */
	bool		pss;			/* RSASSA-PSS rather than PKCS#1 v1.5 */
} SigAlgorithm;

/*
 * OpenSSL objects of one operation.  The guard lives in the memory context
 * that was current when it was made, and frees whatever it still holds when
 * that context is reset or deleted, which an ERROR does: nothing leaks on
 * longjmp, and no PG_TRY is needed.  "secret" is cleansed before it is
 * freed.
 */
typedef struct SigGuard
{
	EVP_PKEY   *pkey;
	EVP_MD_CTX *mdctx;			/* owns the EVP_PKEY_CTX DigestSign/Verify
								 * made */
	BIO		   *bio;
	X509	   *cert;
	PKCS8_PRIV_KEY_INFO *p8;
	unsigned char *secret;		/* OpenSSL-allocated, OPENSSL_clear_free'd */
	size_t		secret_len;
	MemoryContextCallback cb;
} SigGuard;

extern SigGuard *finsec_sig_guard_new(void);
extern void finsec_sig_guard_release(SigGuard *g);

extern const char *finsec_sig_key_type_name(SigKeyType type);
extern SigKeyType finsec_sig_classify(EVP_PKEY *pkey, int *bits, const char *what);
extern void finsec_sig_check_policy(SigKeyType type, int bits, const char *what);
extern EVP_PKEY *finsec_sig_parse_pem(SigGuard *g, const char *pem);
extern void finsec_sig_spki_sha256_hex(EVP_PKEY *pkey, char *out);
extern char *finsec_sig_public_pem(EVP_PKEY *pkey);
extern BIO *finsec_sig_mem_bio(void);
extern char *finsec_sig_bio_text(BIO *bio);

extern const SigAlgorithm *finsec_sig_algorithm(const char *name, SigKeyType type,
												const char *who);
extern const SigAlgorithm *finsec_sig_algorithm_lookup(const char *name);
extern void finsec_sig_check_id(SigKeyType type, const bytea *id);
extern bool finsec_sig_verify(SigGuard *g, EVP_PKEY *pkey, const SigAlgorithm *alg,
							  const unsigned char *id, size_t idlen,
							  const unsigned char *data, size_t datalen,
							  const unsigned char *sig, size_t siglen);
extern bytea *finsec_sig_sign(SigGuard *g, EVP_PKEY *pkey, const SigAlgorithm *alg,
							  const unsigned char *id, size_t idlen,
							  const unsigned char *data, size_t datalen);
extern EVP_PKEY *finsec_sig_private_from_der(SigGuard *g, const unsigned char *der, size_t len);

extern const char *finsec_sig_keyring_algorithm_name(SigKeyType type, int bits);

/* signer.c */
extern bool finsec_sig_verify_as_signer(const char *signer, const unsigned char *data, size_t datalen,
										const unsigned char *sig, size_t siglen,
										const char *algorithm, const bytea *id,
										bool misfit_is_false);

/* receipt.c: the signed text of a receipt (docs/signatures.md) */
#define SIG_RECEIPT_FORMAT "finsec-receipt/1"

typedef struct SigReceipt
{
	char	   *signer;			/* keyring label of the signing key */
	int32		key_version;
	char	   *signature_algorithm;
	char	   *digest_algorithm;	/* "sha256" or "sm3" */
	char	   *message_digest; /* lower-case hex */
	char	   *received_at;	/* UTC, "YYYY-MM-DDTHH:MM:SS.ffffffZ" */
	char	   *reference;		/* "" when none */
} SigReceipt;

extern const char *finsec_sig_receipt_digest_name(SigKeyType type);
extern char *finsec_sig_digest_hex(const char *digest, const unsigned char *data, size_t len);
extern char *finsec_sig_receipt_text(const SigReceipt *r);
extern bool finsec_sig_receipt_parse(const char *text, SigReceipt *r);
extern void finsec_sig_check_receipt_field(const char *value, const char *what, size_t maxlen);
extern char *finsec_sig_utc_text(TimestampTz t);
extern char *finsec_sig_base64(const unsigned char *data, size_t len);

#endif							/* FINSEC_SIGNATURE_INTERNAL_H */
