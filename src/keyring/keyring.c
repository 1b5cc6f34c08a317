/*-------------------------------------------------------------------------
 *
 * keyring.c
 *	  Keys by label: creation of pending versions, the per-backend cache of
 *	  unwrapped keys, check values, and the audit of key use.
 *
 * A key (finsec.key) has one purpose and one algorithm for its whole life;
 * its versions (finsec.key_version) go pending -> active -> retired ->
 * destroyed.  Creating a version (generate, import, rotate) writes it
 * wrapped and pending, and files a change request; only another
 * administrator's approval (finsec.approve, approval.sql) makes it active.
 * Nothing here activates, retires or destroys: those are the apply
 * functions of the approval facility, in SQL, behind the same gate.
 *
 * Unwrapped keys live only in this backend's cache (KeyCacheContext).  Any
 * change to finsec.key_version anywhere sends a relcache invalidation for
 * that table, which marks the cache stale; the next lookup zeroizes and
 * drops every cached key before loading again.  The cache is also zeroized
 * at backend exit, and at the end of each transaction when finsec.key_cache
 * is off.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/resowner.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "finsec.h"
#include "finsec_apptable.h"
#include "finsec_audit.h"
#include "finsec_keyring.h"
#include "finsec_redact.h"
#include "keyring_internal.h"
#include "finsec_owner.h"

bool		finsec_key_cache_enabled = FINSEC_KEY_CACHE_DEFAULT;
int			finsec_approval_timeout_s = FINSEC_APPROVAL_TIMEOUT_DEFAULT;

/* ---- algorithms --------------------------------------------------------- */

typedef enum KcvMethod
{
	KCV_HMAC_SHA256,
	KCV_HMAC_SM3,
	KCV_AES,
	KCV_SM4,
	KCV_TDES,
	KCV_PUBLIC_KEY
} KcvMethod;

typedef struct KeyAlgorithm
{
	const char *name;
	uint32		purposes;		/* bit mask of 1 << FinsecKeyPurpose */
	int			min_len;		/* accepted lengths of imported keys */
	int			max_len;
	int			gen_len;		/* length generated; 0 for signing keys */
	KcvMethod	kcv;
	bool		aes_lengths;	/* only 16, 24 or 32 */
} KeyAlgorithm;

#define P(x) (1u << (x))
#define KEYED_HASH (P(FINSEC_KEY_MAC) | P(FINSEC_KEY_FINGERPRINT) | P(FINSEC_KEY_PSEUDONYM))

static const KeyAlgorithm key_algorithms[] = {
	{"hmac-sha256", KEYED_HASH, 16, 256, 32, KCV_HMAC_SHA256, false},
	{"hmac-sm3", KEYED_HASH, 16, 256, 32, KCV_HMAC_SM3, false},
	{"cmac-aes", P(FINSEC_KEY_MAC), 16, 32, 32, KCV_AES, true},
	{"cmac-sm4", P(FINSEC_KEY_MAC), 16, 16, 16, KCV_SM4, false},
	{"iso9797-alg3", P(FINSEC_KEY_MAC), 16, 16, 16, KCV_TDES, false},
	{"iso9797-alg1-sm4", P(FINSEC_KEY_MAC), 16, 16, 16, KCV_SM4, false},
	{"aes-256-gcm", P(FINSEC_KEY_ENCRYPTION), 32, 32, 32, KCV_AES, false},
	{"ec-p256", P(FINSEC_KEY_SIGNING), 1, 16384, 0, KCV_PUBLIC_KEY, false},
	{"sm2", P(FINSEC_KEY_SIGNING), 1, 16384, 0, KCV_PUBLIC_KEY, false},
	{"rsa-2048", P(FINSEC_KEY_SIGNING), 1, 16384, 0, KCV_PUBLIC_KEY, false},
	{"rsa-3072", P(FINSEC_KEY_SIGNING), 1, 16384, 0, KCV_PUBLIC_KEY, false},
	{"rsa-4096", P(FINSEC_KEY_SIGNING), 1, 16384, 0, KCV_PUBLIC_KEY, false},
	{NULL, 0, 0, 0, 0, 0, false}
};

static const char *const purpose_names[] = {
	"mac", "encryption", "fingerprint", "pseudonym", "signing"
};

const char *
finsec_key_purpose_name(FinsecKeyPurpose purpose)
{
	if ((int) purpose < 0 || (int) purpose >= lengthof(purpose_names))
		elog(ERROR, "unrecognized finsec key purpose %d", (int) purpose);
	return purpose_names[purpose];
}

static FinsecKeyPurpose
parse_purpose(const char *name)
{
	int			i;

	for (i = 0; i < lengthof(purpose_names); i++)
		if (strcmp(name, purpose_names[i]) == 0)
			return (FinsecKeyPurpose) i;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("\"%s\" is not a finsec key purpose", name),
			 errhint("Purposes are mac, encryption, fingerprint, pseudonym and signing.")));
	return FINSEC_KEY_MAC;		/* keep compiler quiet */
}

static const KeyAlgorithm *
find_algorithm(const char *name, FinsecKeyPurpose purpose)
{
	const KeyAlgorithm *a;
	StringInfoData fit;

	for (a = key_algorithms; a->name; a++)
		if (strcmp(a->name, name) == 0)
		{
			if ((a->purposes & P(purpose)) == 0)
				break;
			return a;
		}

	initStringInfo(&fit);
	for (a = key_algorithms; a->name; a++)
		if (a->purposes & P(purpose))
			appendStringInfo(&fit, "%s%s", fit.len ? ", " : "", a->name);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("\"%s\" is not an algorithm for %s keys", name, finsec_key_purpose_name(purpose)),
			 errhint("Algorithms for %s keys: %s.", finsec_key_purpose_name(purpose), fit.data)));
	return NULL;				/* keep compiler quiet */
}

/* ---- key check values ---------------------------------------------------- */

static void
kcv_hex(const unsigned char *bytes, char *out)
{
	hex_encode((const char *) bytes, FINSEC_KCV_HEX_LEN / 2, out);
	out[FINSEC_KCV_HEX_LEN] = '\0';
	for (int i = 0; out[i]; i++)
		out[i] = pg_ascii_toupper(out[i]);
}

static bool
ecb_zero_block(const EVP_CIPHER *cipher, const unsigned char *key, unsigned char *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	unsigned char zero[16] = {0};
	int			outl = 0;
	bool		ok;

	if (ctx == NULL || cipher == NULL)
	{
		EVP_CIPHER_CTX_free(ctx);
		return false;
	}
	ok = EVP_EncryptInit_ex(ctx, cipher, NULL, key, NULL) == 1 &&
		EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
		EVP_EncryptUpdate(ctx, out, &outl, zero, EVP_CIPHER_get_block_size(cipher)) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

/*
 * The key check value: 6 hexadecimal digits that identify a key without
 * revealing it.  For block-cipher keys it is the banking convention (the
 * leftmost 3 bytes of the encryption of a zero block, which is what an HSM
 * or a key ceremony form shows); for HMAC keys the leftmost 3 bytes of the
 * HMAC of the empty message; for signing keys the leftmost 3 bytes of the
 * SHA-256 of the DER public key.
 */
static void
compute_kcv(const KeyAlgorithm *alg, const unsigned char *key, size_t len,
			const bytea *public_der, char *out)
{
	unsigned char buf[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	bool		ok = false;

	switch (alg->kcv)
	{
		case KCV_HMAC_SHA256:
		case KCV_HMAC_SM3:
			{
				const EVP_MD *md = alg->kcv == KCV_HMAC_SHA256 ? EVP_sha256()
				: finsec_hash_md(FINSEC_HASH_SM3);

				ok = md != NULL && HMAC(md, key, (int) len, (const unsigned char *) "", 0,
										buf, &mdlen) != NULL;
				break;
			}
		case KCV_AES:
			ok = ecb_zero_block(len == 16 ? EVP_aes_128_ecb() :
								len == 24 ? EVP_aes_192_ecb() : EVP_aes_256_ecb(),
								key, buf);
			break;
		case KCV_SM4:
			{
				EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, "SM4-ECB", NULL);

				ok = ecb_zero_block(c, key, buf);
				EVP_CIPHER_free(c);
				break;
			}
		case KCV_TDES:
			ok = ecb_zero_block(EVP_des_ede_ecb(), key, buf);
			break;
		case KCV_PUBLIC_KEY:
			ok = public_der != NULL &&
				EVP_Digest(VARDATA_ANY(public_der), VARSIZE_ANY_EXHDR(public_der),
						   buf, &mdlen, EVP_sha256(), NULL) == 1;
			break;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("OpenSSL could not compute the check value of a %s key", alg->name)));
	kcv_hex(buf, out);
	explicit_bzero(buf, sizeof(buf));
}

/* Odd parity on every byte: what DES hardware expects of a TDES key. */
static void
set_des_parity(unsigned char *key, size_t len)
{
	for (size_t i = 0; i < len; i++)
	{
		unsigned char b = key[i] & 0xFE;
		int			ones = 0;

		for (int bit = 1; bit < 8; bit++)
			ones += (b >> bit) & 1;
		key[i] = b | ((ones & 1) ? 0 : 1);
	}
}

/* ---- JSON and audit helpers ---------------------------------------------- */

static Jsonb *
jsonb_from_cstring(const char *s)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s)));
}

/*
 * The additional authenticated data of a wrapped key version: its identity,
 * so that wrapped bytes moved to another row, or a row whose purpose or
 * algorithm was altered, fail the integrity check.  Wrapping, unwrapping
 * and re-wrapping must all build it here.
 */
static char *
key_aad(int64 key_id, int32 version, const char *purpose, const char *algorithm)
{
	return psprintf("finsec-key:v1:" INT64_FORMAT ":%d:%s:%s", key_id, version, purpose, algorithm);
}

/* ---- creating pending versions ------------------------------------------- */

static void
check_label(const char *label)
{
	size_t		len = strlen(label);
	bool		ok = len >= 1 && len < NAMEDATALEN && label[0] >= 'a' && label[0] <= 'z';

	for (size_t i = 1; ok && i < len; i++)
		ok = (label[i] >= 'a' && label[i] <= 'z') || (label[i] >= '0' && label[i] <= '9') ||
			label[i] == '_' || label[i] == '.' || label[i] == '-';
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid key label"),
				 errdetail("A key label is 1 to %d characters: a lowercase letter, then lowercase letters, digits, \"_\", \".\" or \"-\".",
						   NAMEDATALEN - 1)));
}

typedef enum CreateMode
{
	CREATE_GENERATE,
	CREATE_IMPORT,
	CREATE_ROTATE
} CreateMode;

static const char *const create_kinds[] = {"key.generate", "key.import", "key.rotate"};

/* Run sql, which must return (ret_ok) exactly one row, and return its first column. */
static Datum
spi_one_value(const char *sql, int nargs, Oid *types, Datum *args, const char *nulls, int ret_ok,
			  const char *failure)
{
	bool		isnull;
	int			ret = SPI_execute_with_args(sql, nargs, types, args, nulls, false, 1);

	if (ret != ret_ok || SPI_processed != 1)
		elog(ERROR, "%s: %s", failure, SPI_result_code_string(ret));
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
}

/*
 * Step 1: the key "label", locked so that concurrent versions are numbered
 * in turn; false when there is none yet, else its key_id.  A rotation takes
 * the key's purpose and algorithm; a generation or import must match them.
 */
static bool
lock_key(CreateMode mode, const char *label, const char **purpose_name, const char **algorithm,
		 int64 *key_id)
{
	Datum		args[1];
	Oid			types[1] = {TEXTOID};
	bool		isnull;
	char	   *have_purpose;
	char	   *have_alg;

	args[0] = CStringGetTextDatum(label);
	finsec_spi_execute("SELECT key_id, purpose, algorithm FROM finsec.key WHERE label = $1 FOR UPDATE",
					   1, types, args, NULL, false, 1,
					   SPI_OK_SELECT, "could not look up finsec key");
	if (mode == CREATE_GENERATE && SPI_processed == 1)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("finsec key \"%s\" already exists", label),
				 errhint("Use finsec.key_rotate() for a new version of an existing key.")));
	if (mode == CREATE_ROTATE && SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("finsec key \"%s\" does not exist", label)));
	if (SPI_processed != 1)
		return false;

	have_purpose = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	have_alg = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	*key_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (mode == CREATE_ROTATE)
	{
		*purpose_name = have_purpose;
		*algorithm = have_alg;
	}
	else if (strcmp(have_purpose, *purpose_name) != 0 || strcmp(have_alg, *algorithm) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_KEY_MISUSE),
				 errmsg("finsec key \"%s\" is a %s key for %s, not a %s key for %s",
						label, have_purpose, have_alg, *purpose_name, *algorithm),
				 errhint("A key keeps one purpose and one algorithm for its whole life; import under a new label.")));
	return true;
}

/* Step 2a: fresh key material for alg, in secret memory. */
static unsigned char *
generate_material(const KeyAlgorithm *alg, size_t *keylen)
{
	unsigned char *key;

	if (alg->gen_len == 0)
		return finsec_sig_keygen(alg->name, keylen);
	*keylen = alg->gen_len;
	key = finsec_secret_alloc(*keylen);
	if (RAND_priv_bytes(key, (int) *keylen) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random key material")));
	if (alg->kcv == KCV_TDES)
		set_des_parity(key, *keylen);
	return key;
}

/* Step 2b: imported material checked for alg (length, distinct TDES halves), copied to secret memory. */
static unsigned char *
check_material(const KeyAlgorithm *alg, const unsigned char *material, size_t len)
{
	unsigned char *key;

	if (alg->gen_len == 0)
		finsec_sig_check_private(alg->name, material, len);
	else if (len < (size_t) alg->min_len || len > (size_t) alg->max_len ||
			 (alg->aes_lengths && len != 16 && len != 24 && len != 32))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a %s key cannot be %zu bytes long", alg->name, len),
				 alg->aes_lengths
				 ? errdetail("AES keys are 16, 24 or 32 bytes.")
				 : alg->min_len == alg->max_len
				 ? errdetail("%s keys are %d bytes.", alg->name, alg->min_len)
				 : errdetail("%s keys are %d to %d bytes.", alg->name, alg->min_len, alg->max_len)));
	if (alg->kcv == KCV_TDES)
	{
		unsigned char k1[8],
					k2[8];

		/*
		 * Parity bits do not count: K and K' equal up to parity is single
		 * DES.
		 */
		for (int i = 0; i < 8; i++)
		{
			k1[i] = material[i] & 0xFE;
			k2[i] = material[8 + i] & 0xFE;
		}
		if (memcmp(k1, k2, 8) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the two halves of an iso9797-alg3 key must differ"),
					 errdetail("With equal halves the MAC has the strength of single DES.")));
		explicit_bzero(k1, sizeof(k1));
		explicit_bzero(k2, sizeof(k2));
	}
	key = finsec_secret_alloc(len);
	memcpy(key, material, len);
	return key;
}

/* Step 4: the row of a new key; its key_id. */
static int64
insert_key(const char *label, const char *purpose_name, const KeyAlgorithm *alg, const char *description)
{
	Datum		args[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, NAMEOID};

	args[0] = CStringGetTextDatum(label);
	args[1] = CStringGetTextDatum(purpose_name);
	args[2] = CStringGetTextDatum(alg->name);
	args[3] = description ? CStringGetTextDatum(description) : (Datum) 0;
	args[4] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetSessionUserId(), false)));
	if (!description)
		nulls[3] = 'n';
	return DatumGetInt64(spi_one_value("INSERT INTO finsec.key (label, purpose, algorithm, description, created_by) "
									   "VALUES ($1, $2, $3, $4, $5) RETURNING key_id",
									   5, types, args, nulls, SPI_OK_INSERT_RETURNING,
									   "could not insert finsec key"));
}

/* Step 4: the number of an existing key's next version. */
static int32
next_version(int64 key_id)
{
	Datum		args[1];
	Oid			types[1] = {INT8OID};

	args[0] = Int64GetDatum(key_id);
	return DatumGetInt32(spi_one_value("SELECT coalesce(max(version), 0) + 1 FROM finsec.key_version WHERE key_id = $1",
									   1, types, args, NULL, SPI_OK_SELECT,
									   "could not number a finsec key version"));
}

/* Step 5: the pending version row, its material wrapped under the master key. */
static void
insert_version(int64 key_id, int32 version, const char *origin, const char *kcv,
			   bytea *public_der, bytea *wrapped)
{
	Datum		args[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Oid			types[8] = {INT8OID, INT4OID, TEXTOID, TEXTOID, BYTEAOID, BYTEAOID, TEXTOID, NAMEOID};

	args[0] = Int64GetDatum(key_id);
	args[1] = Int32GetDatum(version);
	args[2] = CStringGetTextDatum(origin);
	args[3] = CStringGetTextDatum(kcv);
	args[4] = public_der ? PointerGetDatum(public_der) : (Datum) 0;
	args[5] = PointerGetDatum(wrapped);
	args[6] = CStringGetTextDatum(finsec_master_kcv(false));
	args[7] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetSessionUserId(), false)));
	if (!public_der)
		nulls[4] = 'n';
	finsec_spi_execute("INSERT INTO finsec.key_version "
					   "(key_id, version, state, origin, kcv, public_key, wrapped, master_kcv, created_by) "
					   "VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8)",
					   8, types, args, nulls, false, 0,
					   SPI_OK_INSERT, "could not insert finsec key version");
}

/*
 * Step 6: the change request that a different administrator must approve,
 * linked from the version row; its request_id.
 */
static int64
file_request(CreateMode mode, const char *label, int64 key_id, int32 version, const char *purpose_name,
			 const KeyAlgorithm *alg, const char *kcv, const char *origin, const char *reason)
{
	StringInfoData payload;
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	Oid			types[4] = {TEXTOID, TEXTOID, JSONBOID, TEXTOID};
	Oid			link_types[3] = {INT8OID, INT8OID, INT4OID};
	int64		request_id;
	int			ret;

	initStringInfo(&payload);
	appendStringInfo(&payload, "{\"key_id\": " INT64_FORMAT ", \"version\": %d, \"purpose\": ", key_id, version);
	escape_json(&payload, purpose_name);
	appendStringInfoString(&payload, ", \"algorithm\": ");
	escape_json(&payload, alg->name);
	appendStringInfo(&payload, ", \"kcv\": \"%s\", \"origin\": \"%s\"}", kcv, origin);

	args[0] = CStringGetTextDatum(create_kinds[mode]);
	args[1] = CStringGetTextDatum(label);
	args[2] = JsonbPGetDatum(jsonb_from_cstring(payload.data));
	args[3] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	if (!reason)
		nulls[3] = 'n';

	/*
	 * request_change identifies the requester by session_user and checks that
	 * role's membership in finsec_admin, whoever runs the query.
	 */
	request_id = DatumGetInt64(spi_one_value("SELECT finsec.request_change($1, $2, $3, $4)",
											 4, types, args, nulls, SPI_OK_SELECT,
											 "could not file the change request"));

	args[0] = Int64GetDatum(request_id);
	args[1] = Int64GetDatum(key_id);
	args[2] = Int32GetDatum(version);
	ret = SPI_execute_with_args("UPDATE finsec.key_version SET request_id = $1 WHERE key_id = $2 AND version = $3",
								3, link_types, args, NULL, false, 0);
	if (ret != SPI_OK_UPDATE || SPI_processed != 1)
		elog(ERROR, "could not link a finsec key version to its request: %s", SPI_result_code_string(ret));
	return request_id;
}

/*
 * Write a pending version of the key "label" holding material (generated
 * here when material is NULL), and file the change request that will make
 * it active.  Returns the request id.
 */
static int64
create_pending_version(CreateMode mode, const char *label, const char *purpose_name,
					   const char *algorithm, const unsigned char *material, size_t len,
					   const char *expected_kcv, const char *reason, const char *description)
{
	FinsecOwnerContext ctx;
	const KeyAlgorithm *alg;
	const char *origin = material ? "imported" : "generated";
	unsigned char *key;
	size_t		keylen = len;
	bytea	   *public_der = NULL;
	bytea	   *wrapped;
	char		kcv[FINSEC_KCV_HEX_LEN + 1];
	int64		key_id = 0;
	bool		exists;
	int32		version;
	int64		request_id;

	finsec_require_preload("the finsec keyring");
	finsec_master_require();
	check_label(label);

	finsec_spi_begin_as_owner(&ctx);

	/* 1. the key, 2. the material: generated, or checked */
	exists = lock_key(mode, label, &purpose_name, &algorithm, &key_id);
	alg = find_algorithm(algorithm, parse_purpose(purpose_name));
	if (material == NULL)
		key = generate_material(alg, &keylen);
	else
		key = check_material(alg, material, len);

	/* 3. its check value, which an import must match */
	if (alg->kcv == KCV_PUBLIC_KEY)
		public_der = finsec_sig_public_der(key, keylen);
	compute_kcv(alg, key, keylen, public_der, kcv);
	if (expected_kcv != NULL && pg_strcasecmp(expected_kcv, kcv) != 0)
	{
		finsec_secret_free(key);
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_KEY_INTEGRITY),
				 errmsg("the imported key's check value is %s, not %s", kcv, expected_kcv),
				 errhint("The key was mistyped or is not the key the check value belongs to; nothing was imported.")));
	}

	/* 4. the key row for a new label, or the next version number */
	if (!exists)
	{
		key_id = insert_key(label, purpose_name, alg, description);
		version = 1;
	}
	else
		version = next_version(key_id);

	/* 5. the version row, 6. the change request */
	wrapped = finsec_wrap(key, keylen, key_aad(key_id, version, purpose_name, alg->name));
	finsec_secret_free(key);
	insert_version(key_id, version, origin, kcv, public_der, wrapped);
	request_id = file_request(mode, label, key_id, version, purpose_name, alg, kcv, origin, reason);

	finsec_spi_end(&ctx);
	return request_id;
}


PG_FUNCTION_INFO_V1(finsec_key_generate);

/* finsec.key_generate(label, purpose, algorithm, reason, description) */
Datum
finsec_key_generate(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(create_pending_version(CREATE_GENERATE,
										   finsec_text_arg(fcinfo, 0, "label"),
										   finsec_text_arg(fcinfo, 1, "purpose"),
										   finsec_text_arg(fcinfo, 2, "algorithm"),
										   NULL, 0, NULL,
										   finsec_text_arg_opt(fcinfo, 3), finsec_text_arg_opt(fcinfo, 4)));
}

PG_FUNCTION_INFO_V1(finsec_key_import);

/* finsec.key_import(label, purpose, algorithm, key, kcv, reason, description) */
Datum
finsec_key_import(PG_FUNCTION_ARGS)
{
	bytea	   *key;
	int64		request_id;

	/* First: what is logged from now on leaves this statement out. */
	finsec_log_key_import();
	finsec_require_arg(fcinfo, 3, "key");
	key = PG_GETARG_BYTEA_P_COPY(3);
	PG_TRY();
	{
		request_id = create_pending_version(CREATE_IMPORT,
											finsec_text_arg(fcinfo, 0, "label"),
											finsec_text_arg(fcinfo, 1, "purpose"),
											finsec_text_arg(fcinfo, 2, "algorithm"),
											(unsigned char *) VARDATA(key), VARSIZE(key) - VARHDRSZ,
											finsec_text_arg_opt(fcinfo, 4), finsec_text_arg_opt(fcinfo, 5),
											finsec_text_arg_opt(fcinfo, 6));
	}
	PG_FINALLY();
	{
		/*
		 * The caller's copy of the argument is not ours to clear; this one
		 * is.
		 */
		explicit_bzero(VARDATA(key), VARSIZE(key) - VARHDRSZ);
	}
	PG_END_TRY();
	PG_RETURN_INT64(request_id);
}

PG_FUNCTION_INFO_V1(finsec_key_rotate);

/* finsec.key_rotate(label, reason) */
Datum
finsec_key_rotate(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(create_pending_version(CREATE_ROTATE, finsec_text_arg(fcinfo, 0, "label"),
										   NULL, NULL, NULL, 0, NULL,
										   finsec_text_arg_opt(fcinfo, 1), NULL));
}

/* ---- the cache ------------------------------------------------------------ */

typedef struct KeyCacheEntry
{
	char		label[NAMEDATALEN]; /* hash key */
	FinsecKeyPurpose purpose;
	char		algorithm[FINSEC_KEY_ALGORITHM_MAXLEN];
	int			nversions;		/* usable (active or retired) */
	FinsecKey  *versions;		/* active first, then retired newest first */
	List	   *usable;			/* the same, as a List of pointers */
	bool		absent;			/* no such label (a cached negative answer) */
	int64		nrows;			/* version rows in any state, destroyed
								 * included */
	int			ndestroyed;		/* destroyed versions */
	int32	   *destroyed;
} KeyCacheEntry;

static HTAB *key_cache = NULL;
static MemoryContext key_cache_cxt = NULL;
static bool key_cache_stale = false;
static uint64 key_cache_generation = 1; /* finsec_key_cache_generation() */
static FinsecRelid key_version_rel = FINSEC_RELID_INIT("finsec", "key_version");

static void
zeroize_entry(KeyCacheEntry *e)
{
	for (int i = 0; i < e->nversions; i++)
	{
		FinsecKey  *k = &e->versions[i];

		if (k->consumer_free && k->consumer_state)
			k->consumer_free(k->consumer_state);
		k->consumer_state = NULL;
		if (k->material)
			explicit_bzero((void *) k->material, k->length);
	}
}

/*
 * A cache made stale (a key version changed, here or in another session)
 * is not freed at once: code may hold a FinsecKey pointer from it across
 * its next finsec_key_* call (a card value takes its encryption key, then
 * its fingerprint key, whose lookup notices the change), so the stale
 * cache is retired and kept, zeroized and freed at the end of the
 * transaction.  Freeing it at once was a use-after-free: the first card
 * stored after an approval in the same session, or after another session
 * rotated a key, crashed the server.
 */
typedef struct RetiredKeyCache
{
	HTAB	   *cache;
	MemoryContext cxt;
	struct RetiredKeyCache *next;
} RetiredKeyCache;

static RetiredKeyCache *retired_caches = NULL;

static void
zeroize_cache(HTAB *cache)
{
	HASH_SEQ_STATUS status;
	KeyCacheEntry *e;

	hash_seq_init(&status, cache);
	while ((e = hash_seq_search(&status)) != NULL)
		zeroize_entry(e);
}

/* Put the current cache aside until the end of the transaction. */
static void
key_cache_retire(void)
{
	RetiredKeyCache *r;

	key_cache_stale = false;
	key_cache_generation++;
	if (key_cache == NULL)
		return;
	r = MemoryContextAlloc(TopMemoryContext, sizeof(RetiredKeyCache));
	r->cache = key_cache;
	r->cxt = key_cache_cxt;
	r->next = retired_caches;
	retired_caches = r;
	key_cache = NULL;
	key_cache_cxt = NULL;
}

/* Zeroize and free the caches retired during the transaction. */
static void
key_cache_free_retired(void)
{
	while (retired_caches != NULL)
	{
		RetiredKeyCache *r = retired_caches;

		retired_caches = r->next;
		zeroize_cache(r->cache);
		MemoryContextDelete(r->cxt);
		pfree(r);
	}
}

/* Zeroize and forget every cached key. */
static void
key_cache_purge(void)
{
	HASH_SEQ_STATUS status;
	KeyCacheEntry *e;

	key_cache_generation++;
	if (key_cache == NULL)
		return;
	hash_seq_init(&status, key_cache);
	while ((e = hash_seq_search(&status)) != NULL)
		zeroize_entry(e);
	hash_destroy(key_cache);
	key_cache = NULL;
	MemoryContextReset(key_cache_cxt);
	key_cache_stale = false;
}

uint64
finsec_key_cache_generation(void)
{
	if (key_cache_stale)
		key_cache_retire();
	return key_cache_generation;
}

static void
key_cache_relcache_callback(Datum arg, Oid relid)
{
	if (finsec_relid_matches(&key_version_rel, relid))
		key_cache_stale = true;
}

static void
key_cache_exit(int code, Datum arg)
{
	key_cache_free_retired();
	key_cache_purge();
}

static void write_key_uses(void);
static void settle_key_uses(bool committed);
static bool key_uses_pending(void);

/* Write the transaction's key uses before commit, refuse PREPARE with pending ones, settle them at the end. */
static void
keyring_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:

			/*
			 * The uses normally go to the audit event buffer at commit
			 * (settle_key_uses()); with the buffer short of room, they are
			 * written here, in the transaction, as rows of their own.
			 */
			if (key_uses_pending() && !finsec_audit_key_use_room())
				write_key_uses();
			break;
		case XACT_EVENT_PRE_PREPARE:

			/*
			 * ROLLBACK PREPARED would take the rows away, with no other
			 * record.
			 */
			if (key_uses_pending())
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that has used keys"),
						 errdetail("A prepared transaction that is rolled back later would take the record of its key uses with it."),
						 errhint("Commit or roll back the transaction instead of preparing it.")));
			break;
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			/* Key functions are parallel restricted; nothing to write here. */
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			settle_key_uses(false);
			key_cache_free_retired();
			if (!finsec_key_cache_enabled)
				key_cache_purge();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			settle_key_uses(true);
			key_cache_free_retired();
			if (!finsec_key_cache_enabled)
				key_cache_purge();
			break;
		case XACT_EVENT_PREPARE:
			key_cache_free_retired();
			if (!finsec_key_cache_enabled)
				key_cache_purge();
			break;
		default:
			break;
	}
}

/* Called from _PG_init in every process that loads finsec. */
void
finsec_keyring_init(void)
{
	finsec_register_relcache_callback(key_cache_relcache_callback, (Datum) 0);
	RegisterXactCallback(keyring_xact_callback, NULL);
}

static void
ensure_cache(void)
{
	static bool exit_registered = false;
	HASHCTL		ctl;

	if (key_cache_stale)
		key_cache_retire();
	if (key_cache_cxt == NULL)
		key_cache_cxt = AllocSetContextCreate(TopMemoryContext, "finsec keyring cache",
											  ALLOCSET_SMALL_SIZES);
	if (!exit_registered)
	{
		on_proc_exit(key_cache_exit, (Datum) 0);
		exit_registered = true;
	}
	(void) finsec_relid(&key_version_rel);
	if (key_cache == NULL)
	{
		ctl.keysize = NAMEDATALEN;
		ctl.entrysize = sizeof(KeyCacheEntry);
		ctl.hcxt = key_cache_cxt;
		key_cache = hash_create("finsec keyring cache", 16, &ctl,
								HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
}

/*
 * Read and unwrap the usable versions of "label" into a new cache entry.
 * A label that does not exist raises, or with missing_ok gives an entry
 * marked absent (kept until the keyring changes, like any other entry).
 */
static KeyCacheEntry *
load_entry(const char *label, bool missing_ok)
{
	FinsecOwnerContext ctx;
	KeyCacheEntry *e;
	Datum		arg;
	Oid			argtype = TEXTOID;
	int			ret;
	bool		found;
	uint64		n;
	MemoryContext oldcxt;
	bool		pushed;

	/* an input function in a logical replication apply worker has none */
	pushed = !ActiveSnapshotSet();
	if (pushed)
		PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	finsec_begin_owner(&ctx);
	arg = CStringGetTextDatum(label);
	ret = SPI_execute_with_args("SELECT k.key_id, k.purpose, k.algorithm, v.version, v.state, v.wrapped, v.master_kcv, v.kcv, "
								"       (SELECT count(*) FROM finsec.key_version a WHERE a.key_id = k.key_id), "
								"       ARRAY(SELECT d.version FROM finsec.key_version d "
								"              WHERE d.key_id = k.key_id AND d.state = 'destroyed' ORDER BY d.version) "
								"  FROM finsec.key k LEFT JOIN finsec.key_version v "
								"    ON v.key_id = k.key_id AND v.state IN ('active', 'retired') "
								" WHERE k.label = $1 "
								" ORDER BY v.state = 'active' DESC, v.version DESC",
								1, &argtype, &arg, NULL, true, 0);
	finsec_end_owner(&ctx);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the finsec keyring: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0 && missing_ok)
	{
		e = hash_search(key_cache, label, HASH_ENTER, &found);
		e->nversions = 0;
		e->versions = NULL;
		e->usable = NIL;
		e->absent = true;
		e->nrows = 0;
		e->ndestroyed = 0;
		e->destroyed = NULL;
		SPI_finish();
		if (pushed)
			PopActiveSnapshot();
		return e;
	}
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("finsec key \"%s\" does not exist", label),
				 errhint("finsec.key_inventory lists the keys of this database.")));

	e = hash_search(key_cache, label, HASH_ENTER, &found);
	e->nversions = 0;
	e->versions = NULL;
	e->usable = NIL;
	e->absent = false;
	e->ndestroyed = 0;
	e->destroyed = NULL;
	{
		bool		isnull;
		ArrayType  *arr;

		e->nrows = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 9, &isnull));
		arr = DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 10, &isnull));
		if (ARR_NDIM(arr) == 1 && !ARR_HASNULL(arr) && ArrayGetNItems(1, ARR_DIMS(arr)) > 0)
		{
			int			nd = ArrayGetNItems(1, ARR_DIMS(arr));

			e->destroyed = MemoryContextAlloc(key_cache_cxt, sizeof(int32) * nd);
			memcpy(e->destroyed, ARR_DATA_PTR(arr), sizeof(int32) * nd);
			e->ndestroyed = nd;
		}
	}
	e->purpose = parse_purpose(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
	strlcpy(e->algorithm, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3),
			sizeof(e->algorithm));

	n = SPI_processed;
	oldcxt = MemoryContextSwitchTo(key_cache_cxt);
	e->versions = palloc0(sizeof(FinsecKey) * n);
	MemoryContextSwitchTo(oldcxt);

	PG_TRY();
	{
		for (uint64 i = 0; i < n; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			Datum		d;
			bytea	   *wrapped;
			char	   *aad;
			char	   *state;
			FinsecKey  *k;
			size_t		len;
			unsigned char *buf;
			const KeyAlgorithm *alg;

			d = SPI_getbinval(tup, desc, 4, &isnull);
			if (isnull)
				continue;		/* the key exists but has no usable version */
			k = &e->versions[e->nversions];
			k->key_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
			k->version = DatumGetInt32(d);
			k->purpose = e->purpose;
			strlcpy(k->label, label, sizeof(k->label));
			strlcpy(k->algorithm, e->algorithm, sizeof(k->algorithm));
			state = SPI_getvalue(tup, desc, 5);
			k->active = strcmp(state, "active") == 0;
			wrapped = DatumGetByteaPP(SPI_getbinval(tup, desc, 6, &isnull));
			len = VARSIZE_ANY_EXHDR(wrapped);
			if (len < FINSEC_WRAP_OVERHEAD)
				ereport(ERROR,
						(errcode(ERRCODE_FINSEC_KEY_INTEGRITY),
						 errmsg("finsec key \"%s\" version %d failed its integrity check", label, k->version)));
			len -= FINSEC_WRAP_OVERHEAD;
			buf = MemoryContextAlloc(key_cache_cxt, Max(len, 1));
			aad = key_aad(k->key_id, k->version, finsec_key_purpose_name(k->purpose), k->algorithm);
			if (!finsec_unwrap((unsigned char *) VARDATA_ANY(wrapped), VARSIZE_ANY_EXHDR(wrapped),
							   aad, SPI_getvalue(tup, desc, 7), buf))
				ereport(ERROR,
						(errcode(ERRCODE_FINSEC_KEY_INTEGRITY),
						 errmsg("finsec key \"%s\" version %d failed its integrity check", label, k->version),
						 errdetail("Its wrapped material or identity (id, version, purpose, algorithm) was altered in the table, or the master key differs."),
						 errhint("Restore finsec.key and finsec.key_version from a trusted backup.")));
			k->material = buf;
			k->length = len;
			e->nversions++;

			/* A check value that no longer matches means the row was altered. */
			alg = find_algorithm(k->algorithm, k->purpose);
			if (alg->kcv != KCV_PUBLIC_KEY)
			{
				char		kcv[FINSEC_KCV_HEX_LEN + 1];

				compute_kcv(alg, buf, len, NULL, kcv);
				if (strcmp(kcv, SPI_getvalue(tup, desc, 8)) != 0)
					ereport(ERROR,
							(errcode(ERRCODE_FINSEC_KEY_INTEGRITY),
							 errmsg("finsec key \"%s\" version %d does not match its check value", label, k->version)));
			}
		}
	}
	PG_CATCH();
	{
		zeroize_entry(e);
		hash_search(key_cache, label, HASH_REMOVE, NULL);
		PG_RE_THROW();
	}
	PG_END_TRY();

	oldcxt = MemoryContextSwitchTo(key_cache_cxt);
	for (int i = 0; i < e->nversions; i++)
		e->usable = lappend(e->usable, &e->versions[i]);
	MemoryContextSwitchTo(oldcxt);
	SPI_finish();
	if (pushed)
		PopActiveSnapshot();
	return e;
}

static KeyCacheEntry *
lookup_ext(const char *label, FinsecKeyPurpose purpose, const char *algorithm, bool missing_ok)
{
	KeyCacheEntry *e;

	finsec_require_preload("the finsec keyring");
	finsec_master_require();
	ensure_cache();

	if (strlen(label) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("finsec key \"%.*s...\" does not exist", NAMEDATALEN - 1, label)));
	e = hash_search(key_cache, label, HASH_FIND, NULL);
	if (e == NULL)
		e = load_entry(label, missing_ok);
	if (e->absent)
	{
		if (missing_ok)
			return e;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("finsec key \"%s\" does not exist", label),
				 errhint("finsec.key_inventory lists the keys of this database.")));
	}

	if (e->purpose != purpose)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_KEY_MISUSE),
				 errmsg("finsec key \"%s\" is a %s key, not a %s key", label,
						finsec_key_purpose_name(e->purpose), finsec_key_purpose_name(purpose)),
				 errhint("Each key serves one purpose; use a key created for %s.",
						 finsec_key_purpose_name(purpose))));
	if (algorithm != NULL && strcmp(e->algorithm, algorithm) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_KEY_MISUSE),
				 errmsg("finsec key \"%s\" is for %s, not %s", label, e->algorithm, algorithm),
				 errhint("Each key serves one algorithm; use a key created for %s.", algorithm)));
	if (!finsec_key_cache_enabled && !IsTransactionState())
		elog(ERROR, "finsec keys are available only inside a transaction");
	return e;
}

static KeyCacheEntry *
lookup(const char *label, FinsecKeyPurpose purpose, const char *algorithm)
{
	return lookup_ext(label, purpose, algorithm, false);
}

const FinsecKey *
finsec_key_active(const char *label, FinsecKeyPurpose purpose, const char *algorithm)
{
	KeyCacheEntry *e = lookup(label, purpose, algorithm);

	if (e->nversions == 0 || !e->versions[0].active)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_KEY_STATE),
				 errmsg("finsec key \"%s\" has no active version", label),
				 errhint("Its versions are pending approval, retired or destroyed; finsec.key_inventory shows them.")));
	return &e->versions[0];
}

List *
finsec_key_usable(const char *label, FinsecKeyPurpose purpose, const char *algorithm)
{
	KeyCacheEntry *e = lookup(label, purpose, algorithm);

	if (e->nversions == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_KEY_STATE),
				 errmsg("finsec key \"%s\" has no active or retired version", label),
				 errhint("Its versions are pending approval or destroyed; finsec.key_inventory shows them.")));
	return e->usable;
}

const FinsecKey *
finsec_key_version(const char *label, FinsecKeyPurpose purpose, int32 version)
{
	KeyCacheEntry *e = lookup(label, purpose, NULL);

	for (int i = 0; i < e->nversions; i++)
		if (e->versions[i].version == version)
			return &e->versions[i];
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_KEY_STATE),
			 errmsg("finsec key \"%s\" has no usable version %d", label, version),
			 errhint("Only active and retired versions can be used; finsec.key_inventory shows their states.")));
	return NULL;				/* keep compiler quiet */
}

const FinsecKey *
finsec_key_version_if_present(const char *label, FinsecKeyPurpose purpose, int32 version)
{
	KeyCacheEntry *e = lookup_ext(label, purpose, NULL, true);

	if (e->absent || e->nrows == 0)
		return NULL;
	return finsec_key_version(label, purpose, version);
}

/*
 * In the PG_CATCH of an internal subtransaction begun in oldcxt under
 * oldowner: roll it back and return a copy of its error.
 */
static ErrorData *
subxact_abort_error(MemoryContext oldcxt, ResourceOwner oldowner)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(oldcxt);
	edata = CopyErrorData();
	FlushErrorState();
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(oldcxt);
	CurrentResourceOwner = oldowner;
	return edata;
}

/*
 * Load the cache entry of label without raising: in a subtransaction
 * (the keyring's SPI query and unwrapping), NULL when anything failed.
 * In parallel mode no subtransaction can start: the load may raise.
 */
static KeyCacheEntry *
load_entry_quietly(const char *label)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	KeyCacheEntry *volatile e = NULL;

	if (IsInParallelMode())
		return load_entry(label, true);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		e = load_entry(label, true);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata = subxact_abort_error(oldcxt, oldowner);

		/* a cancel or statement timeout is not the keyring's problem */
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);
		FreeErrorData(edata);
		e = NULL;
	}
	PG_END_TRY();
	return e;
}

FinsecKeyLookup
finsec_key_version_lookup(const char *label, FinsecKeyPurpose purpose, int32 version,
						  const FinsecKey **key)
{
	KeyCacheEntry *e;

	*key = NULL;
	if (!finsec_preloaded || !finsec_master_key_loaded() || !IsTransactionState() ||
		strlen(label) >= NAMEDATALEN)
		return FINSEC_KEY_LOOKUP_PROBLEM;
	ensure_cache();
	e = hash_search(key_cache, label, HASH_FIND, NULL);
	if (e == NULL)
		e = load_entry_quietly(label);
	if (e == NULL)
		return FINSEC_KEY_LOOKUP_PROBLEM;
	if (e->absent || e->nrows == 0)
		return FINSEC_KEY_LOOKUP_ABSENT;
	if (e->purpose != purpose)
		return FINSEC_KEY_LOOKUP_PROBLEM;
	for (int i = 0; i < e->nversions; i++)
		if (e->versions[i].version == version)
		{
			*key = &e->versions[i];
			return FINSEC_KEY_LOOKUP_FOUND;
		}
	for (int i = 0; i < e->ndestroyed; i++)
		if (e->destroyed[i] == version)
			return FINSEC_KEY_LOOKUP_DESTROYED;
	return FINSEC_KEY_LOOKUP_PROBLEM;
}

void
finsec_key_set_consumer_state(const FinsecKey *key, void *state, void (*free_fn) (void *))
{
	FinsecKey  *k = unconstify(FinsecKey *, key);

	if (k->consumer_free && k->consumer_state)
		k->consumer_free(k->consumer_state);
	k->consumer_state = state;
	k->consumer_free = free_fn;
}

/* ---- audit of key use ---------------------------------------------------- */

typedef struct KeyUseKey
{
	int64		key_id;
	int32		version;
	char		operation[32];	/* "protect-decrypt-failed" fits whole */
} KeyUseKey;

typedef struct KeyUseEntry
{
	KeyUseKey	key;
	char		label[NAMEDATALEN];
	Oid			userid;			/* the role that first used it */
	int64		count;
	int64		written;		/* of them, in ledger rows of this transaction */
} KeyUseEntry;

static HTAB *key_uses = NULL;
static bool flushing_uses = false;

/* The entry of the last use, and its operation string (compared by address). */
static KeyUseEntry *last_use = NULL;
static const char *last_use_op = NULL;

/* Has this transaction used a key? */
static bool
key_uses_pending(void)
{
	return key_uses != NULL && hash_get_num_entries(key_uses) > 0;
}

/* Count one use of a key version for an operation, for the audit at the transaction's end. */
void
finsec_key_note_use(const FinsecKey *key, const char *operation)
{
	KeyUseKey	k;
	KeyUseEntry *e;
	bool		found;

	/* The same key version and operation as the last use (a COPY, a scan). */
	if (last_use != NULL && last_use_op == operation &&
		last_use->key.key_id == key->key_id && last_use->key.version == key->version &&
		strcmp(last_use->key.operation, operation) == 0)
	{
		last_use->count++;
		return;
	}
	if (key_uses == NULL)
	{
		key_uses = finsec_blob_hash_create("finsec key uses", 16, sizeof(KeyUseKey), sizeof(KeyUseEntry),
										   TopMemoryContext);
	}
	memset(&k, 0, sizeof(k));
	k.key_id = key->key_id;
	k.version = key->version;
	strlcpy(k.operation, operation, sizeof(k.operation));
	e = hash_search(key_uses, &k, HASH_ENTER, &found);
	if (!found)
	{
		strlcpy(e->label, key->label, sizeof(e->label));

		/*
		 * The role, for the record of a rolled-back use (its name is looked
		 * up when the record is written: no catalog access here, which could
		 * invalidate the keys the caller holds).
		 */
		e->userid = GetUserId();
		e->count = 0;
		e->written = 0;
		finsec_audit_note_session();
	}
	e->count++;
	last_use = e;
	last_use_op = operation;
}

/*
 * Write the transaction's key uses to the ledger, one row per key version
 * and operation with its count, just before commit: the fallback when the
 * audit event buffer is short of room.  The uses stay counted until the
 * transaction has ended (settle_key_uses()): an abort after this point takes
 * the rows away, and a transaction that cannot write (read-only, or on a
 * standby) has none.
 */
static void
write_key_uses(void)
{
	HASH_SEQ_STATUS status;
	KeyUseEntry *e;

	if (key_uses == NULL || hash_get_num_entries(key_uses) == 0 || flushing_uses)
		return;
	if (RecoveryInProgress() || XactReadOnly || !IsTransactionState())
		return;

	flushing_uses = true;
	PG_TRY();
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		hash_seq_init(&status, key_uses);
		while ((e = hash_seq_search(&status)) != NULL)
		{
			char	   *detail;

			if (e->count == e->written)
				continue;
			detail = psprintf("{\"key_id\": " INT64_FORMAT ", \"version\": %d, \"count\": " INT64_FORMAT "}",
							  e->key.key_id, e->key.version, e->count - e->written);
			finsec_audit_event("key.use", e->label, e->key.operation, true, NULL,
							   jsonb_from_cstring(detail));
			e->written = e->count;
		}
		PopActiveSnapshot();
	}
	PG_FINALLY();
	{
		flushing_uses = false;
	}
	PG_END_TRY();
}

/*
 * At the end of the transaction (no catalog access, never throws): the uses
 * without a ledger row wait in the audit event buffer for the next flush.
 * Those of a committed transaction are added into this backend's waiting
 * record of the same key version, operation and role, and the flush writes
 * one key.use row per such sum; those of an aborted one are records of
 * their own, marked rolled_back.  The server log has the uses of an aborted
 * transaction, of a committed one on a standby (no flush can write them
 * there) and of any the buffer had no room for.  Then forget them.
 */
static void
settle_key_uses(bool committed)
{
	HASH_SEQ_STATUS status;
	KeyUseEntry *e;

	if (key_uses == NULL)
		return;
	hash_seq_init(&status, key_uses);
	while ((e = hash_seq_search(&status)) != NULL)
	{
		int64		n = committed ? e->count - e->written : e->count;
		bool		kept;
		char		detail[160];

		if (n <= 0)
			continue;
		if (committed)
			kept = finsec_audit_put_key_use(e->userid, e->label, e->key.operation,
											e->key.key_id, e->key.version, n);
		else
		{
			snprintf(detail, sizeof(detail),
					 "{\"key_id\": " INT64_FORMAT ", \"version\": %d, \"count\": " INT64_FORMAT "}",
					 e->key.key_id, e->key.version, n);
			kept = finsec_audit_put_aborted(e->userid, "key.use", e->label,
											e->key.operation, true, NULL, detail);
		}
		if (!committed)
			ereport(LOG,
					(errmsg("finsec: key \"%s\" version %d used for %s " INT64_FORMAT " times in a transaction that aborted",
							e->label, e->key.version, e->key.operation, n)));
		else if (!kept)
			ereport(LOG,
					(errmsg("finsec: key \"%s\" version %d used for %s " INT64_FORMAT " times in a committed transaction while the audit event buffer was full",
							e->label, e->key.version, e->key.operation, n)));
		else if (RecoveryInProgress())
			ereport(LOG,
					(errmsg("finsec: key \"%s\" version %d used for %s " INT64_FORMAT " times in a transaction on a standby, which cannot write the audit ledger",
							e->label, e->key.version, e->key.operation, n)));
	}
	hash_destroy(key_uses);
	key_uses = NULL;
	last_use = NULL;
	last_use_op = NULL;
}

/* ---- SQL-callable helpers -------------------------------------------------- */

PG_FUNCTION_INFO_V1(finsec_keyring_invalidate);

/*
 * Statement trigger on finsec.key_version: every change, however made,
 * makes every backend drop its cached keys at its next transaction.
 */
Datum
finsec_keyring_invalidate(PG_FUNCTION_ARGS)
{
	finsec_relcache_trigger(fcinfo, "finsec._keyring_invalidate()");
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(finsec_keyring_master);

/*
 * finsec.keyring_master(OUT loaded, OUT check_value, OUT previous_check_value,
 *						 OUT problem)
 */
Datum
finsec_keyring_master(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	const char *kcv = finsec_preloaded ? finsec_master_kcv(false) : NULL;
	const char *prev = finsec_preloaded ? finsec_master_kcv(true) : NULL;
	const char *problem = !finsec_preloaded ? "finsec is not in shared_preload_libraries"
	: finsec_master_problem();

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = BoolGetDatum(kcv != NULL);
	if (kcv)
		values[1] = CStringGetTextDatum(kcv);
	else
		nulls[1] = true;
	if (prev)
		values[2] = CStringGetTextDatum(prev);
	else
		nulls[2] = true;
	if (problem)
		values[3] = CStringGetTextDatum(problem);
	else
		nulls[3] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

PG_FUNCTION_INFO_V1(finsec_key_verify);

/*
 * finsec.key_verify() returns table (label, version, state, ok, detail):
 * unwraps every active and retired version and checks it against its check
 * value (D7: keys verified periodically).  Nothing of a key is returned.
 */
Datum
finsec_key_verify(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FinsecOwnerContext ctx;
	int			ret;
	List	   *labels = NIL;
	ListCell   *lc;
	int			nkeys = 0;
	int			nversions = 0;
	int			nfailed = 0;
	StringInfoData failed_labels;

	InitMaterializedSRF(fcinfo, 0);
	finsec_require_preload("finsec.key_verify");
	initStringInfo(&failed_labels);
	finsec_master_require();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	finsec_begin_owner(&ctx);
	ret = SPI_execute("SELECT label FROM finsec.key ORDER BY label", true, 0);
	finsec_end_owner(&ctx);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the finsec keyring: %s", SPI_result_code_string(ret));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);

		labels = lappend(labels, pstrdup(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1)));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();

	/* Verify from the tables, not from what this backend has cached. */
	key_cache_stale = true;
	ensure_cache();
	foreach(lc, labels)
	{
		const char *label = lfirst(lc);
		MemoryContext oldcxt = CurrentMemoryContext;
		ResourceOwner oldowner = CurrentResourceOwner;
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		/* One subtransaction per key: a damaged key is reported, not fatal. */
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(oldcxt);
		PG_TRY();
		{
			KeyCacheEntry *e = hash_search(key_cache, label, HASH_FIND, NULL);

			if (e == NULL)
				e = load_entry(label, false);
			for (int i = 0; i < e->nversions; i++)
			{
				values[0] = CStringGetTextDatum(label);
				values[1] = Int32GetDatum(e->versions[i].version);
				values[2] = CStringGetTextDatum(e->versions[i].active ? "active" : "retired");
				values[3] = BoolGetDatum(true);
				values[4] = CStringGetTextDatum("unwrapped; check value matches");
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
				nversions++;
			}
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(oldcxt);
			CurrentResourceOwner = oldowner;
		}
		PG_CATCH();
		{
			ErrorData  *edata = subxact_abort_error(oldcxt, oldowner);

			if (edata->sqlerrcode != ERRCODE_FINSEC_KEY_INTEGRITY &&
				edata->sqlerrcode != ERRCODE_FINSEC_MASTER_KEY_MISMATCH)
				ReThrowError(edata);
			values[0] = CStringGetTextDatum(label);
			nulls[1] = true;
			nulls[2] = true;
			values[3] = BoolGetDatum(false);
			values[4] = CStringGetTextDatum(edata->message);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			if (nfailed > 0)
				appendStringInfoString(&failed_labels, ", ");
			escape_json(&failed_labels, label);
			nfailed++;
		}
		PG_END_TRY();
		nkeys++;
	}

	/*
	 * The verification itself is on record (D7, and the self-check's age of
	 * the last verification): key.verify, surviving the caller's rollback.
	 * Labels are not secret; nothing of a key is written.  A standby (or a
	 * read-only transaction) cannot write: there it is not recorded.
	 */
	if (!RecoveryInProgress() && !XactReadOnly)
	{
		StringInfoData d;

		initStringInfo(&d);
		appendStringInfo(&d, "{\"keys\": %d, \"versions\": %d, \"failed\": %d, \"failed_labels\": [%s]}",
						 nkeys, nversions, nfailed, failed_labels.data);
		finsec_audit_record_verification("key.verify", "keyring", nfailed == 0,
										 nfailed == 0
										 ? psprintf("every key verified: %d keys, %d versions", nkeys, nversions)
										 : psprintf("%d of %d keys failed verification", nfailed, nkeys),
										 d.data);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(finsec_rewrap_keys);

/*
 * finsec.rewrap_keys(): after a master key change, with the previous master
 * key loaded as finsec.master_key_previous_*, re-wrap every version wrapped
 * under it under the current master key.  Returns how many were re-wrapped.
 */
Datum
finsec_rewrap_keys(PG_FUNCTION_ARGS)
{
	FinsecOwnerContext ctx;
	const char *prev;
	const char *cur;
	Datum		arg;
	Oid			argtype = TEXTOID;
	uint64		n;
	SPITupleTable *tuptable;
	int64		done = 0;
	char	   *detail;

	finsec_require_preload("finsec.rewrap_keys");
	finsec_master_require();
	prev = finsec_master_kcv(true);
	cur = finsec_master_kcv(false);
	if (prev == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no previous master key is loaded"),
				 errhint("Set finsec.master_key_previous_file or finsec.master_key_previous_command to the old master key and restart the server.")));

	finsec_spi_begin_as_owner(&ctx);
	arg = CStringGetTextDatum(prev);
	finsec_spi_execute("SELECT v.key_id, v.version, k.purpose, k.algorithm, v.wrapped "
					   "  FROM finsec.key_version v JOIN finsec.key k ON k.key_id = v.key_id "
					   " WHERE v.master_kcv = $1 AND v.wrapped IS NOT NULL "
					   " ORDER BY v.key_id, v.version FOR UPDATE OF v",
					   1, &argtype, &arg, NULL, false, 0,
					   SPI_OK_SELECT, "could not read the finsec keyring");
	n = SPI_processed;
	tuptable = SPI_tuptable;
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = tuptable->vals[i];
		TupleDesc	desc = tuptable->tupdesc;
		bool		isnull;
		int64		key_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		int32		version = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		bytea	   *wrapped = DatumGetByteaPP(SPI_getbinval(tup, desc, 5, &isnull));
		size_t		len = VARSIZE_ANY_EXHDR(wrapped);
		char	   *aad = key_aad(key_id, version, SPI_getvalue(tup, desc, 3), SPI_getvalue(tup, desc, 4));
		unsigned char *plain;
		bytea	   *rewrapped;
		Datum		uargs[4];
		Oid			utypes[4] = {BYTEAOID, TEXTOID, INT8OID, INT4OID};

		if (len < FINSEC_WRAP_OVERHEAD)
			len = FINSEC_WRAP_OVERHEAD;
		plain = finsec_secret_alloc(len - FINSEC_WRAP_OVERHEAD + 1);
		if (!finsec_unwrap((unsigned char *) VARDATA_ANY(wrapped), VARSIZE_ANY_EXHDR(wrapped), aad, prev, plain))
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_KEY_INTEGRITY),
					 errmsg("version %d of finsec key " INT64_FORMAT " failed its integrity check; nothing was re-wrapped",
							version, key_id)));
		rewrapped = finsec_wrap(plain, len - FINSEC_WRAP_OVERHEAD, aad);
		finsec_secret_free(plain);
		uargs[0] = PointerGetDatum(rewrapped);
		uargs[1] = CStringGetTextDatum(cur);
		uargs[2] = Int64GetDatum(key_id);
		uargs[3] = Int32GetDatum(version);
		finsec_spi_execute("UPDATE finsec.key_version SET wrapped = $1, master_kcv = $2 "
						   " WHERE key_id = $3 AND version = $4",
						   4, utypes, uargs, NULL, false, 0,
						   SPI_OK_UPDATE, "could not re-wrap a finsec key");
		done++;
	}
	finsec_spi_end(&ctx);

	detail = psprintf("{\"rewrapped\": " INT64_FORMAT ", \"from_master_kcv\": \"%s\", \"to_master_kcv\": \"%s\"}",
					  done, prev, cur);
	finsec_audit_event("key.rewrap", "keyring", "rewrap", true, NULL, jsonb_from_cstring(detail));
	PG_RETURN_INT32((int32) done);
}
