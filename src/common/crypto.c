/*-------------------------------------------------------------------------
 *
 * crypto.c
 *	  finsec's single door to OpenSSL message digests.
 *
 * Every hash finsec computes goes through OpenSSL's EVP interface; nothing
 * here implements a primitive.  SM3 (GB/T 32905) is provided by OpenSSL 3's
 * default provider, but may be missing from a FIPS-only or trimmed build, so
 * its availability is checked rather than assumed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "finsec.h"

const char *
finsec_hash_name(FinsecHashAlgorithm alg)
{
	switch (alg)
	{
		case FINSEC_HASH_SHA256:
			return "sha256";
		case FINSEC_HASH_SM3:
			return "sm3";
	}
	elog(ERROR, "unrecognized finsec hash algorithm: %d", (int) alg);
	return NULL;				/* keep compiler quiet */
}

/*
 * Look up the EVP digest for alg; NULL if this OpenSSL does not offer it.
 * EVP_get_digestbyname returns a static object: nothing to free.
 */
const struct evp_md_st *
finsec_hash_md(FinsecHashAlgorithm alg)
{
	switch (alg)
	{
		case FINSEC_HASH_SHA256:
			return EVP_sha256();
		case FINSEC_HASH_SM3:
			return EVP_get_digestbyname("SM3");
	}
	return NULL;
}

/*
 * Whether alg can actually be computed here: looking a digest up is not
 * enough under OpenSSL 3, where a provider may list it and still refuse to
 * initialise it (FIPS mode), so try a context.
 */
bool
finsec_hash_available(FinsecHashAlgorithm alg)
{
	const EVP_MD *md = finsec_hash_md(alg);
	EVP_MD_CTX *ctx;
	bool		ok;

	if (md == NULL)
		return false;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return false;
	ok = EVP_DigestInit_ex(ctx, md, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* A bytea holding a copy of len bytes of data (hashes, salts, row lists). */
bytea *
finsec_bytea(const void *data, size_t len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), data, len);
	return b;
}

/*
 * Buffers for secret bytes (unwrapped or generated key material) that are
 * zeroed on every path: finsec_secret_free() zeroes one when the code is
 * done with it, and a reset callback on the memory context it was
 * allocated in zeroes it if an error (or anything else) resets or deletes
 * that context first.  The memory itself is released with the context.
 */
typedef struct FinsecSecret
{
	MemoryContextCallback cb;
	size_t		len;
	bool		live;
} FinsecSecret;

#define SECRET_HEADER MAXALIGN(sizeof(FinsecSecret))

static void
secret_reset_callback(void *arg)
{
	FinsecSecret *s = (FinsecSecret *) arg;

	if (s->live)
		explicit_bzero((char *) s + SECRET_HEADER, s->len);
	s->live = false;
}

void *
finsec_secret_alloc(size_t len)
{
	FinsecSecret *s = palloc0(SECRET_HEADER + Max(len, 1));

	s->len = len;
	s->live = true;
	s->cb.func = secret_reset_callback;
	s->cb.arg = s;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &s->cb);
	return (char *) s + SECRET_HEADER;
}

void
finsec_secret_free(void *p)
{
	FinsecSecret *s;

	if (p == NULL)
		return;
	s = (FinsecSecret *) ((char *) p - SECRET_HEADER);
	if (s->live)
		explicit_bzero(p, s->len);
	s->live = false;
}
