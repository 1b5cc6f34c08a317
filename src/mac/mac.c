/*-------------------------------------------------------------------------
 *
 * mac.c
 *	  Message authentication codes by key label (requirement M1).
 *
 *	  hmac-sha256, hmac-sm3   HMAC (RFC 2104) with SHA-256 / SM3
 *	  cmac-aes, cmac-sm4      CMAC (NIST SP 800-38B, RFC 4493) with AES / SM4
 *	  iso9797-alg3            ISO/IEC 9797-1 MAC algorithm 3 with DES and a
 *	                          double-length key: the ANSI X9.19 retail MAC
 *	  iso9797-alg1-sm4        ISO/IEC 9797-1 MAC algorithm 1 (CBC-MAC) with
 *	                          SM4, as financial IC card systems use it
 *
 * Every primitive is OpenSSL's, through EVP.  HMAC and CMAC keep one
 * initialised EVP_MAC_CTX per cached key version, re-initialised (same key)
 * for each message, so the cost per call is the MAC itself.  The ISO 9797-1
 * algorithms are built from the block cipher in CBC and ECB modes: single
 * DES is computed as two-key triple DES with both halves equal (EDE with
 * K, K is E_K), so OpenSSL's legacy provider is never needed.
 *
 * Comparison of MACs is constant-time (CRYPTO_memcmp).  Verification tries
 * the key's active version, then its retired versions, so messages MACed
 * just before a rotation still verify.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "finsec.h"
#include "finsec_keyring.h"
#include "finsec_mac.h"

int			finsec_mac_min_length = FINSEC_MAC_MIN_LENGTH_DEFAULT;

typedef enum MacAlgorithm
{
	MAC_HMAC_SHA256,
	MAC_HMAC_SM3,
	MAC_CMAC_AES,
	MAC_CMAC_SM4,
	MAC_ISO9797_ALG3,
	MAC_ISO9797_ALG1_SM4
} MacAlgorithm;

typedef struct MacAlgorithmInfo
{
	const char *name;
	MacAlgorithm alg;
	int			default_padding;	/* ISO 9797-1 padding method; 0: none */
} MacAlgorithmInfo;

static const MacAlgorithmInfo mac_algorithms[] = {
	{"hmac-sha256", MAC_HMAC_SHA256, 0},
	{"hmac-sm3", MAC_HMAC_SM3, 0},
	{"cmac-aes", MAC_CMAC_AES, 0},
	{"cmac-sm4", MAC_CMAC_SM4, 0},
	{"iso9797-alg3", MAC_ISO9797_ALG3, 1},
	{"iso9797-alg1-sm4", MAC_ISO9797_ALG1_SM4, 2},
	{NULL, 0, 0}
};

static const MacAlgorithmInfo *
find_mac_algorithm(const char *name)
{
	const MacAlgorithmInfo *a;

	for (a = mac_algorithms; a->name; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("\"%s\" is not a MAC algorithm finsec knows", name),
			 errhint("MAC algorithms: hmac-sha256, hmac-sm3, cmac-aes, cmac-sm4, iso9797-alg3, iso9797-alg1-sm4.")));
	return NULL;				/* keep compiler quiet */
}

/* ---- HMAC and CMAC through a cached EVP_MAC_CTX ---------------------------- */

static void
free_mac_ctx(void *state)
{
	/* OpenSSL cleanses HMAC and CMAC key schedules when freeing them. */
	EVP_MAC_CTX_free((EVP_MAC_CTX *) state);
}

/*
 * The OpenSSL MAC context (HMAC-SHA256, HMAC-SM3 or CMAC) for a key, made
 * once and cached on the key as its consumer state.
 */
static EVP_MAC_CTX *
keyed_mac_ctx(const FinsecKey *key, MacAlgorithm alg)
{
	EVP_MAC    *mac;
	EVP_MAC_CTX *ctx;
	OSSL_PARAM	params[2];
	bool		ok;

	if (key->consumer_state != NULL)
		return (EVP_MAC_CTX *) key->consumer_state;

	mac = EVP_MAC_fetch(NULL, (alg == MAC_HMAC_SHA256 || alg == MAC_HMAC_SM3) ? "HMAC" : "CMAC", NULL);
	if (mac == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("this OpenSSL does not provide %s", key->algorithm)));
	ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (ctx == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));

	switch (alg)
	{
		case MAC_HMAC_SHA256:
			params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
			break;
		case MAC_HMAC_SM3:
			params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SM3", 0);
			break;
		case MAC_CMAC_AES:
			params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER,
														 key->length == 16 ? "AES-128-CBC" :
														 key->length == 24 ? "AES-192-CBC" : "AES-256-CBC", 0);
			break;
		default:
			params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, "SM4-CBC", 0);
			break;
	}
	params[1] = OSSL_PARAM_construct_end();
	ok = EVP_MAC_init(ctx, key->material, key->length, params) == 1;
	if (!ok)
	{
		EVP_MAC_CTX_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("OpenSSL could not initialise %s", key->algorithm)));
	}
	finsec_key_set_consumer_state(key, ctx, free_mac_ctx);
	return ctx;
}

/* ---- ISO/IEC 9797-1 ------------------------------------------------------------ */

/*
 * ISO/IEC 9797-1 padding methods 1, 2 and 3 for block size bs:
 *	1: zero bits to a positive multiple of the block (empty data: one block)
 *	2: a single 1 bit, then zero bits to a multiple of the block
 *	3: a block holding the data length in bits, then method-1 padding
 *	   (possibly none)
 */
typedef struct Iso9797Message
{
	unsigned char head[16];		/* method 3: the length block */
	unsigned char tail[16];		/* the last, padded block of the data */
	bool		has_head;
	bool		has_tail;
	size_t		full;			/* bytes of the data in whole blocks, used in
								 * place */
} Iso9797Message;

/*
 * The padded message as up to three pieces, so that the data itself is
 * never copied: the length block (method 3), the data's whole blocks, and
 * one last block holding the rest of the data and the padding.
 */
static void
iso9797_split(const unsigned char *data, size_t len, int method, int bs, Iso9797Message *m)
{
	size_t		rest = len % bs;

	memset(m, 0, sizeof(*m));
	m->full = len - rest;
	if (method == 3)
	{
		uint64		bits = (uint64) len * 8;

		m->has_head = true;
		for (int i = 0; i < 8; i++)
			m->head[bs - 1 - i] = (unsigned char) (bits >> (8 * i));
	}
	if (rest > 0 || method == 2 || (method == 1 && len == 0))
	{
		m->has_tail = true;
		if (rest > 0)
			memcpy(m->tail, data + m->full, rest);
		if (method == 2)
			m->tail[rest] = 0x80;
	}
}

/*
 * Block-cipher MAC state kept with a cached key version: a CBC context
 * with the key schedule set (single DES as two-key EDE with K || K, or
 * SM4), and for algorithm 3 an ECB context with the two-key EDE (K, K')
 * for the final block.  Each message re-initialises the IV only.
 */
typedef struct BlockMacState
{
	EVP_CIPHER_CTX *cbc;
	EVP_CIPHER_CTX *final;		/* algorithm 3 only */
} BlockMacState;

static void
free_block_state(void *state)
{
	BlockMacState *b = (BlockMacState *) state;

	/* EVP_CIPHER_CTX_free cleanses the key schedules. */
	EVP_CIPHER_CTX_free(b->cbc);
	EVP_CIPHER_CTX_free(b->final);
	free(b);
}

/*
 * The cipher contexts of an ISO 9797-1 block MAC (algorithm 1 with DES or
 * SM4, algorithm 3 with 3DES) for a key, made once and cached on the key.
 */
static BlockMacState *
block_state(const FinsecKey *key, MacAlgorithm alg)
{
	static EVP_CIPHER *sm4_cbc = NULL;
	BlockMacState *b;
	bool		ok;

	if (key->consumer_state != NULL)
		return (BlockMacState *) key->consumer_state;
	if (alg == MAC_ISO9797_ALG1_SM4 && sm4_cbc == NULL)
	{
		sm4_cbc = EVP_CIPHER_fetch(NULL, "SM4-CBC", NULL);
		if (sm4_cbc == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("this OpenSSL does not provide SM4")));
	}
	b = calloc(1, sizeof(BlockMacState));
	if (b == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	b->cbc = EVP_CIPHER_CTX_new();
	ok = b->cbc != NULL;
	if (ok && alg == MAC_ISO9797_ALG3)
	{
		unsigned char kk[16];

		memcpy(kk, key->material, 8);
		memcpy(kk + 8, key->material, 8);
		b->final = EVP_CIPHER_CTX_new();
		ok = b->final != NULL &&
			EVP_EncryptInit_ex(b->cbc, EVP_des_ede_cbc(), NULL, kk, NULL) == 1 &&
			EVP_EncryptInit_ex(b->final, EVP_des_ede_ecb(), NULL, key->material, NULL) == 1 &&
			EVP_CIPHER_CTX_set_padding(b->final, 0) == 1;
		explicit_bzero(kk, sizeof(kk));
	}
	else if (ok)
		ok = EVP_EncryptInit_ex(b->cbc, sm4_cbc, NULL, key->material, NULL) == 1;
	ok = ok && EVP_CIPHER_CTX_set_padding(b->cbc, 0) == 1;
	if (!ok)
	{
		free_block_state(b);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("OpenSSL could not initialise %s", key->algorithm)));
	}
	finsec_key_set_consumer_state(key, b, free_block_state);
	return b;
}

/*
 * Encrypt blocks in CBC mode, continuing the chain in ctx, and keep the
 * last ciphertext block in "last" (bs bytes).  Processes the data in
 * slices so that a large message needs no second buffer of its size.
 */
static void
cbc_feed(EVP_CIPHER_CTX *ctx, const unsigned char *data, size_t len, int bs,
		 unsigned char *last)
{
	unsigned char buf[8192];
	size_t		off = 0;
	bool		ok = true;

	while (ok && off < len)
	{
		size_t		n = Min(len - off, sizeof(buf));
		int			outl = 0;

		ok = EVP_EncryptUpdate(ctx, buf, &outl, data + off, (int) n) == 1 && outl == (int) n;
		if (ok)
			memcpy(last, buf + n - bs, bs);
		off += n;
	}
	explicit_bzero(buf, sizeof(buf));
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("OpenSSL could not compute a CBC-MAC")));
}

/*
 * CBC with a zero IV over the padded message's blocks, all of them or all
 * but the last (skip_last); "last" receives the final chaining value (zero
 * when there is no block).  Returns the block left out, if any.
 */
static const unsigned char *
cbc_message(EVP_CIPHER_CTX *ctx, const Iso9797Message *m, const unsigned char *data, int bs,
			bool skip_last, unsigned char *last)
{
	unsigned char iv[16] = {0};
	size_t		full = m->full;
	bool		head = m->has_head,
				tail = m->has_tail;
	const unsigned char *left_out = NULL;

	if (skip_last)
	{
		if (tail)
		{
			left_out = m->tail;
			tail = false;
		}
		else if (full > 0)
		{
			left_out = data + full - bs;
			full -= bs;
		}
		else if (head)
		{
			left_out = m->head;
			head = false;
		}
	}
	memset(last, 0, bs);
	if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("OpenSSL could not compute a CBC-MAC")));
	if (head)
		cbc_feed(ctx, m->head, bs, bs, last);
	if (full > 0)
		cbc_feed(ctx, data, full, bs, last);
	if (tail)
		cbc_feed(ctx, m->tail, bs, bs, last);
	return left_out;
}

/*
 * MAC algorithm 3 (retail MAC): CBC with DES under K over all blocks, then
 * the last output is decrypted under K' and encrypted under K.  Computed as
 * single-DES CBC over blocks 1..q-1, and the last block, XORed with that
 * chaining value, through two-key EDE (K, K'): E_K(D_K'(E_K(x))).
 * Single DES under K is two-key EDE with the key K || K.
 */
static void
iso9797_alg3(BlockMacState *b, const Iso9797Message *m, const unsigned char *data,
			 unsigned char *out)
{
	unsigned char h[8];
	unsigned char x[8];
	int			outl = 0;
	const unsigned char *lastblock = cbc_message(b->cbc, m, data, 8, true, h);

	for (int i = 0; i < 8; i++)
		x[i] = h[i] ^ lastblock[i];
	if (EVP_EncryptUpdate(b->final, out, &outl, x, 8) != 1 || outl != 8)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("OpenSSL could not encrypt a block")));
	explicit_bzero(h, sizeof(h));
	explicit_bzero(x, sizeof(x));
}

/* ---- computing ------------------------------------------------------------------ */

/* Full-length MAC of data under key into out; returns its length. */
static size_t
compute_mac(const MacAlgorithmInfo *info, const FinsecKey *key, int padding,
			const unsigned char *data, size_t len, unsigned char *out)
{
	switch (info->alg)
	{
		case MAC_HMAC_SHA256:
		case MAC_HMAC_SM3:
		case MAC_CMAC_AES:
		case MAC_CMAC_SM4:
			{
				EVP_MAC_CTX *ctx = keyed_mac_ctx(key, info->alg);
				size_t		outl = 0;

				if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1 ||
					EVP_MAC_update(ctx, data, len) != 1 ||
					EVP_MAC_final(ctx, out, &outl, EVP_MAX_MD_SIZE) != 1)
					ereport(ERROR,
							(errcode(ERRCODE_INTERNAL_ERROR),
							 errmsg("OpenSSL could not compute %s", info->name)));
				return outl;
			}
		case MAC_ISO9797_ALG3:
		case MAC_ISO9797_ALG1_SM4:
			{
				int			bs = info->alg == MAC_ISO9797_ALG3 ? 8 : 16;
				Iso9797Message m;
				BlockMacState *bst = block_state(key, info->alg);

				iso9797_split(data, len, padding, bs, &m);
				if (info->alg == MAC_ISO9797_ALG3)
					iso9797_alg3(bst, &m, data, out);
				else
					(void) cbc_message(bst->cbc, &m, data, bs, false, out);
				explicit_bzero(&m, sizeof(m));
				return bs;
			}
	}
	return 0;					/* keep compiler quiet */
}

static int
resolve_padding(const MacAlgorithmInfo *info, FunctionCallInfo fcinfo, int argno)
{
	int			padding;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return info->default_padding;
	padding = PG_GETARG_INT32(argno);
	if (info->default_padding == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s takes no padding method", info->name),
				 errdetail("ISO/IEC 9797-1 padding methods apply to iso9797-alg3 and iso9797-alg1-sm4.")));
	if (padding < 1 || padding > 3)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ISO/IEC 9797-1 padding method must be 1, 2 or 3, not %d", padding)));
	return padding;
}

static void
check_mac_length(const MacAlgorithmInfo *info, int length, size_t full)
{
	if (length < finsec_mac_min_length || (size_t) length > full)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a %s MAC cannot be %d bytes long", info->name, length),
				 errdetail("It is %d to %zu bytes (finsec.mac_min_length is %d).",
						   finsec_mac_min_length, full, finsec_mac_min_length)));
}

static size_t
full_length(const MacAlgorithmInfo *info)
{
	switch (info->alg)
	{
		case MAC_HMAC_SHA256:
		case MAC_HMAC_SM3:
			return 32;
		case MAC_CMAC_AES:
		case MAC_CMAC_SM4:
		case MAC_ISO9797_ALG1_SM4:
			return 16;
		case MAC_ISO9797_ALG3:
			return 8;
	}
	return 0;
}


bytea *
finsec_mac_compute(const char *label, const char *algorithm, const unsigned char *data,
				   size_t len, int length, int padding)
{
	const MacAlgorithmInfo *info = find_mac_algorithm(algorithm);
	const FinsecKey *key = finsec_key_active(label, FINSEC_KEY_MAC, algorithm);
	unsigned char out[EVP_MAX_MD_SIZE];
	size_t		full;
	bytea	   *result;

	if (padding == 0)
		padding = info->default_padding;
	full = compute_mac(info, key, padding, data, len, out);
	if (length < 0)
		length = (int) full;
	check_mac_length(info, length, full);
	finsec_key_note_use(key, "mac");
	result = finsec_bytea(out, length);
	explicit_bzero(out, sizeof(out));
	return result;
}

bool
finsec_mac_check(const char *label, const char *algorithm, const unsigned char *data,
				 size_t len, const unsigned char *mac, size_t maclen, int padding)
{
	const MacAlgorithmInfo *info = find_mac_algorithm(algorithm);
	List	   *versions = finsec_key_usable(label, FINSEC_KEY_MAC, algorithm);
	ListCell   *lc;
	unsigned char out[EVP_MAX_MD_SIZE];
	bool		ok = false;

	if (padding == 0)
		padding = info->default_padding;
	check_mac_length(info, (int) Min(maclen, (size_t) INT_MAX), full_length(info));
	foreach(lc, versions)
	{
		const FinsecKey *key = lfirst(lc);

		(void) compute_mac(info, key, padding, data, len, out);
		if (CRYPTO_memcmp(out, mac, maclen) == 0)
		{
			finsec_key_note_use(key, "verify");
			ok = true;
			break;
		}
	}
	if (!ok)
		finsec_key_note_use(linitial(versions), "verify-failed");
	explicit_bzero(out, sizeof(out));
	return ok;
}

PG_FUNCTION_INFO_V1(finsec_mac);

/* finsec.mac(label, algorithm, data, length DEFAULT NULL, padding DEFAULT NULL) */
Datum
finsec_mac(PG_FUNCTION_ARGS)
{
	char	   *label = finsec_text_arg(fcinfo, 0, "key label");
	char	   *algorithm = finsec_text_arg(fcinfo, 1, "algorithm");
	bytea	   *data;
	const MacAlgorithmInfo *info = find_mac_algorithm(algorithm);
	int			length = (PG_NARGS() > 3 && !PG_ARGISNULL(3)) ? PG_GETARG_INT32(3) : -1;
	int			padding = resolve_padding(info, fcinfo, 4);

	if (PG_ARGISNULL(2))
		PG_RETURN_NULL();
	data = PG_GETARG_BYTEA_PP(2);
	PG_RETURN_BYTEA_P(finsec_mac_compute(label, algorithm, (unsigned char *) VARDATA_ANY(data),
										 VARSIZE_ANY_EXHDR(data), length, padding));
}

PG_FUNCTION_INFO_V1(finsec_mac_verify);

/* finsec.mac_verify(label, algorithm, data, mac, padding DEFAULT NULL) */
Datum
finsec_mac_verify(PG_FUNCTION_ARGS)
{
	char	   *label = finsec_text_arg(fcinfo, 0, "key label");
	char	   *algorithm = finsec_text_arg(fcinfo, 1, "algorithm");
	const MacAlgorithmInfo *info = find_mac_algorithm(algorithm);
	int			padding = resolve_padding(info, fcinfo, 4);
	bytea	   *data;
	bytea	   *mac;

	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_NULL();
	data = PG_GETARG_BYTEA_PP(2);
	mac = PG_GETARG_BYTEA_PP(3);
	PG_RETURN_BOOL(finsec_mac_check(label, algorithm, (unsigned char *) VARDATA_ANY(data),
									VARSIZE_ANY_EXHDR(data), (unsigned char *) VARDATA_ANY(mac),
									VARSIZE_ANY_EXHDR(mac), padding));
}

size_t
finsec_keyed_hash(const FinsecKey *key, const unsigned char *data, size_t len, unsigned char *out)
{
	const MacAlgorithmInfo *info = find_mac_algorithm(key->algorithm);

	if (info->alg != MAC_HMAC_SHA256 && info->alg != MAC_HMAC_SM3)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_KEY_MISUSE),
				 errmsg("finsec key \"%s\" is for %s; a keyed hash needs hmac-sha256 or hmac-sm3",
						key->label, key->algorithm)));
	return compute_mac(info, key, 0, data, len, out);
}
