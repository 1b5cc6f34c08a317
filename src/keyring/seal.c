/*-------------------------------------------------------------------------
 *
 * seal.c
 *	  AES-256-GCM with contexts cached beside the keyring key
 *	  (finsec_seal.h), for the bank card and protected value types.
 *
 * The contexts hold the expanded key; the keyring frees them (and so
 * cleanses the key schedule) when the key leaves its cache.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "miscadmin.h"

#include "finsec_seal.h"

/*
 * Nonces are drawn from OpenSSL's CSPRNG 64 at a time: one RAND_bytes()
 * call costs about a microsecond whatever its length, three times the
 * encryption of a short value.  The pool belongs to the process that
 * filled it (MyProcPid): a forked child never uses its parent's nonces.
 */
#define NONCE_POOL 64
static uint8 nonce_pool[NONCE_POOL * FINSEC_GCM_NONCE_LEN];
static int	nonce_left = 0;
static int	nonce_pid = 0;

static void
next_nonce(uint8 *nonce)
{
	uint8	   *slot;

	if (nonce_left == 0 || nonce_pid != MyProcPid)
	{
		if (RAND_bytes(nonce_pool, sizeof(nonce_pool)) != 1)
		{
			nonce_left = 0;
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate a random nonce")));
		}
		nonce_left = NONCE_POOL;
		nonce_pid = MyProcPid;
	}
	slot = nonce_pool + (NONCE_POOL - nonce_left) * FINSEC_GCM_NONCE_LEN;
	memcpy(nonce, slot, FINSEC_GCM_NONCE_LEN);
	memset(slot, 0, FINSEC_GCM_NONCE_LEN);	/* each is used once */
	nonce_left--;
}

typedef struct GcmContexts
{
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
} GcmContexts;

static void
free_gcm(void *state)
{
	GcmContexts *g = (GcmContexts *) state;

	/* EVP_CIPHER_CTX_free cleanses the key schedule. */
	EVP_CIPHER_CTX_free(g->enc);
	EVP_CIPHER_CTX_free(g->dec);
	free(g);
}

static GcmContexts *
gcm_for(const FinsecKey *key)
{
	GcmContexts *g;

	if (key->consumer_state)
		return (GcmContexts *) key->consumer_state;
	if (key->length != 32)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("finsec key \"%s\" is not an AES-256 key", key->label)));
	g = calloc(1, sizeof(GcmContexts));
	if (g == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	g->enc = EVP_CIPHER_CTX_new();
	g->dec = EVP_CIPHER_CTX_new();
	if (g->enc == NULL || g->dec == NULL ||
		EVP_EncryptInit_ex(g->enc, EVP_aes_256_gcm(), NULL, key->material, NULL) != 1 ||
		EVP_DecryptInit_ex(g->dec, EVP_aes_256_gcm(), NULL, key->material, NULL) != 1)
	{
		free_gcm(g);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("OpenSSL could not initialise AES-256-GCM")));
	}
	finsec_key_set_consumer_state(key, g, free_gcm);
	return g;
}

void
finsec_gcm_seal(const FinsecKey *key, const uint8 *aad, size_t aadlen,
				const uint8 *aad2, size_t aad2len, const uint8 *plain, size_t len,
				uint8 *nonce, uint8 *ct, uint8 *tag)
{
	GcmContexts *g = gcm_for(key);
	int			outl = 0;
	int			finl = 0;

	if (len > INT_MAX || aadlen > INT_MAX || aad2len > INT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("value too large to encrypt")));
	next_nonce(nonce);
	if (EVP_EncryptInit_ex(g->enc, NULL, NULL, NULL, nonce) != 1 ||
		EVP_EncryptUpdate(g->enc, NULL, &outl, aad, (int) aadlen) != 1 ||
		(aad2len > 0 && EVP_EncryptUpdate(g->enc, NULL, &outl, aad2, (int) aad2len) != 1) ||
		(len > 0 && EVP_EncryptUpdate(g->enc, ct, &outl, plain, (int) len) != 1) ||
		EVP_EncryptFinal_ex(g->enc, ct + (len > 0 ? outl : 0), &finl) != 1 ||
		EVP_CIPHER_CTX_ctrl(g->enc, EVP_CTRL_GCM_GET_TAG, FINSEC_GCM_TAG_LEN, tag) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("OpenSSL could not encrypt with AES-256-GCM")));
}

bool
finsec_gcm_open(const FinsecKey *key, const uint8 *aad, size_t aadlen,
				const uint8 *aad2, size_t aad2len, const uint8 *ct, size_t len,
				const uint8 *nonce, const uint8 *tag, uint8 *plain)
{
	GcmContexts *g = gcm_for(key);
	int			outl = 0;
	int			finl = 0;
	bool		ok;

	if (len > INT_MAX || aadlen > INT_MAX || aad2len > INT_MAX)
		return false;
	ok = EVP_DecryptInit_ex(g->dec, NULL, NULL, NULL, nonce) == 1 &&
		EVP_DecryptUpdate(g->dec, NULL, &outl, aad, (int) aadlen) == 1 &&
		(aad2len == 0 || EVP_DecryptUpdate(g->dec, NULL, &outl, aad2, (int) aad2len) == 1) &&
		(len == 0 || EVP_DecryptUpdate(g->dec, plain, &outl, ct, (int) len) == 1) &&
		EVP_CIPHER_CTX_ctrl(g->dec, EVP_CTRL_GCM_SET_TAG, FINSEC_GCM_TAG_LEN,
							unconstify(uint8 *, tag)) == 1 &&
		EVP_DecryptFinal_ex(g->dec, plain + (len > 0 ? outl : 0), &finl) == 1;
	if (!ok && len > 0)
		explicit_bzero(plain, len);
	return ok;
}
