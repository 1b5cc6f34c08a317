/*-------------------------------------------------------------------------
 *
 * profile.c
 *	  Passwords close to the person's own data (JR/T 0199 5.1b; A1b).
 *
 * finsec.set_role_profile() records, for a role, the personal data a
 * password must not contain: birth date, resident ID number, mobile phone
 * number.  The data itself is never stored.  finsec derives the tokens a
 * password could contain (the date as yyyymmdd, yymmdd, ddmmyyyy; the ID
 * number whole and its last 6; the phone number whole and its last 6) and
 * keeps, per role, a random salt and SHA-256(salt || token) for each.  At
 * a password change, every substring of the password of a token's length
 * is hashed the same way and compared.
 *
 * Keyed (0.8): once the keyring holds "auth.password" (src/auth/history.c),
 * each token is kept as HMAC(key, "FSPP1" || SHA-256(salt || token)) with
 * the key version in the row.  A birth date has only some 40,000 values: an
 * unkeyed salted hash resists a reader of the table only by the table's
 * privileges, a keyed one also needs the key, which never leaves the
 * keyring's memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"

#include "finsec.h"
#include "finsec_auth.h"
#include "finsec_keyring.h"
#include "finsec_audit.h"
#include "finsec_owner.h"

#define PROFILE_SALT_LEN	16
#define PROFILE_HASH_LEN	32
#define PROFILE_MAX_TOKENS	16

typedef struct Token
{
	char		value[32];
} Token;

static void
token_hash(const unsigned char *salt, const char *token, size_t len, unsigned char *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int outlen;

	if (ctx == NULL ||
		EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
		EVP_DigestUpdate(ctx, salt, PROFILE_SALT_LEN) != 1 ||
		EVP_DigestUpdate(ctx, token, len) != 1 ||
		EVP_DigestFinal_ex(ctx, out, &outlen) != 1)
	{
		EVP_MD_CTX_free(ctx);
		elog(ERROR, "could not hash a profile token");
	}
	EVP_MD_CTX_free(ctx);
}

/* Keep digits (and a final X of an ID number), drop spaces, hyphens, +86. */
static char *
digits_of(const char *in, bool allow_x)
{
	char	   *out = palloc(strlen(in) + 1);
	char	   *o = out;
	const char *p;

	for (p = in; *p; p++)
	{
		if (*p >= '0' && *p <= '9')
			*o++ = *p;
		else if (allow_x && (*p == 'x' || *p == 'X') && p[1] == '\0')
			*o++ = 'X';
		else if (*p != ' ' && *p != '-' && *p != '+')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid character in a profile number"),
					 errdetail("Only digits, spaces, hyphens and a leading + are accepted%s.",
							   allow_x ? ", and X as the last character of an ID number" : "")));
	}
	*o = '\0';
	return out;
}

static void
add_token(Token *tokens, int *n, const char *text)
{
	if (*n < PROFILE_MAX_TOKENS && strlen(text) < sizeof(tokens[0].value))
		strlcpy(tokens[(*n)++].value, text, sizeof(tokens[0].value));
}

PG_FUNCTION_INFO_V1(finsec_set_role_profile);

/*
 * finsec.set_role_profile(role name, birth_date date, id_number text,
 *						   phone text) returns void
 *
 * All three NULL removes the profile.
 */
Datum
finsec_set_role_profile(PG_FUNCTION_ARGS)
{
	char	   *role;
	Token		tokens[PROFILE_MAX_TOKENS];
	int			ntok = 0;
	unsigned char salt[PROFILE_SALT_LEN];
	Datum		hashes[PROFILE_MAX_TOKENS];
	Datum		lengths[PROFILE_MAX_TOKENS];
	FinsecOwnerContext ctx;
	Oid			argtypes[3] = {NAMEOID, BYTEAOID, BYTEAARRAYOID};
	Datum		args[5];
	int			i;
	bool		schema_keyed = false;
	const FinsecKey *key;

	finsec_require_preload("finsec.set_role_profile()");
	finsec_require_arg(fcinfo, 0, "role");
	role = NameStr(*PG_GETARG_NAME(0));
	if (!OidIsValid(get_role_oid(role, true)))
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
						errmsg("role \"%s\" does not exist", role)));

	if (!PG_ARGISNULL(1))
	{
		DateADT		d = PG_GETARG_DATEADT(1);
		int			y,
					m,
					dd;
		char		buf[32];

		if (DATE_NOT_FINITE(d))
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("birth date must be finite")));
		j2date(d + POSTGRES_EPOCH_JDATE, &y, &m, &dd);
		snprintf(buf, sizeof(buf), "%04d%02d%02d", y, m, dd);
		add_token(tokens, &ntok, buf);
		snprintf(buf, sizeof(buf), "%02d%02d%02d", y % 100, m, dd);
		add_token(tokens, &ntok, buf);
		snprintf(buf, sizeof(buf), "%02d%02d%04d", dd, m, y);
		add_token(tokens, &ntok, buf);
		snprintf(buf, sizeof(buf), "%02d%02d%04d", m, dd, y);
		add_token(tokens, &ntok, buf);
	}
	if (!PG_ARGISNULL(2))
	{
		char	   *id = digits_of(text_to_cstring(PG_GETARG_TEXT_PP(2)), true);
		size_t		len = strlen(id);

		if (len != 18 && len != 15)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("an ID number has 18 characters (or 15, for the old format)")));
		add_token(tokens, &ntok, id);
		add_token(tokens, &ntok, id + len - 6);
		explicit_bzero(id, len);
	}
	if (!PG_ARGISNULL(3))
	{
		char	   *phone = digits_of(text_to_cstring(PG_GETARG_TEXT_PP(3)), false);
		size_t		len = strlen(phone);

		if (len == 13 && strncmp(phone, "86", 2) == 0)
			memmove(phone, phone + 2, (len -= 2) + 1);
		if (len != 11)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("a mobile phone number has 11 digits, with or without +86")));
		add_token(tokens, &ntok, phone);
		add_token(tokens, &ntok, phone + len - 6);
		explicit_bzero(phone, len);
	}

	if (!pg_strong_random(salt, PROFILE_SALT_LEN))
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not generate a salt")));
	key = ntok > 0 ? finsec_password_key(&schema_keyed) : NULL;
	for (i = 0; i < ntok; i++)
	{
		unsigned char h[PROFILE_HASH_LEN];

		token_hash(salt, tokens[i].value, strlen(tokens[i].value), h);
		if (key != NULL)
			finsec_password_keyed(key, "FSPP1", h, PROFILE_HASH_LEN, h);
		hashes[i] = PointerGetDatum(finsec_bytea(h, PROFILE_HASH_LEN));
		explicit_bzero(h, sizeof(h));
		lengths[i] = Int16GetDatum((int16) strlen(tokens[i].value));
	}
	explicit_bzero(tokens, sizeof(tokens));
	if (key != NULL)
		finsec_key_note_use(key, "pw-profile");

	finsec_spi_begin_as_owner(&ctx);
	if (key != NULL)
		(void) finsec_password_rekey_legacy(key);
	args[0] = DirectFunctionCall1(namein, CStringGetDatum(role));
	finsec_spi_execute("DELETE FROM finsec.role_profile WHERE rolname = $1",
					   1, argtypes, args, NULL, false, 0,
					   SPI_OK_DELETE, "could not update the role profile");
	if (ntok > 0)
	{
		Oid			itypes[5] = {NAMEOID, BYTEAOID, INT2ARRAYOID, BYTEAARRAYOID, INT4OID};
		char		nulls[5] = {' ', ' ', ' ', ' ', key ? ' ' : 'n'};

		args[1] = PointerGetDatum(finsec_bytea(salt, PROFILE_SALT_LEN));
		args[2] = PointerGetDatum(construct_array(lengths, ntok, INT2OID, 2, true, TYPALIGN_SHORT));
		args[3] = PointerGetDatum(construct_array(hashes, ntok, BYTEAOID, -1, false, TYPALIGN_INT));
		args[4] = Int32GetDatum(key ? key->version : 0);
		finsec_spi_execute(schema_keyed
						   ? "INSERT INTO finsec.role_profile "
						   "(rolname, salt, token_lengths, token_hashes, updated_by, key_version) "
						   "VALUES ($1, $2, $3, $4, current_user, $5)"
						   : "INSERT INTO finsec.role_profile "
						   "(rolname, salt, token_lengths, token_hashes, updated_by) "
						   "VALUES ($1, $2, $3, $4, current_user)",
						   schema_keyed ? 5 : 4, itypes, args, nulls, false, 0,
						   SPI_OK_INSERT, "could not record the role profile");
	}
	(void) finsec_audit_event_internal(ctx.caller, "role.profile", role, role,
									   ntok > 0 ? "set" : "clear", true,
									   ntok > 0 ? (key ? "personal data recorded for password checks (stored as keyed salted hashes only)" : "personal data recorded for password checks (stored as salted hashes only)")
									   : "personal data for password checks removed",
									   NULL);
	finsec_spi_end(&ctx);
	PG_RETURN_VOID();
}

/*
 * Does the clear-text password contain a token of the role's profile?
 * Caller has SPI connected and runs as finsec's owner.
 */
bool
finsec_password_profile_match(const char *username, const char *password, bool schema_keyed)
{
	Oid			argtypes[1] = {NAMEOID};
	Datum		args[1];
	bool		isnull;
	bytea	   *salt;
	ArrayType  *lens,
			   *hashes;
	Datum	   *lenv,
			   *hashv;
	int			n,
				n2,
				i;
	size_t		pwlen = strlen(password);
	char	   *upper;
	bool		found = false;
	bool		vnull;
	int32		version;
	const FinsecKey *key;

	args[0] = DirectFunctionCall1(namein, CStringGetDatum(username));
	if (SPI_execute_with_args(schema_keyed
							  ? "SELECT salt, token_lengths, token_hashes, key_version FROM finsec.role_profile "
							  "WHERE rolname = $1"
							  : "SELECT salt, token_lengths, token_hashes, NULL::integer FROM finsec.role_profile "
							  "WHERE rolname = $1", 1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the role profile");
	if (SPI_processed == 0)
		return false;
	salt = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	lens = DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	hashes = DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &vnull));
	key = vnull ? NULL : finsec_password_key_version(version);
	deconstruct_array(lens, INT2OID, 2, true, TYPALIGN_SHORT, &lenv, NULL, &n);
	deconstruct_array(hashes, BYTEAOID, -1, false, TYPALIGN_INT, &hashv, NULL, &n2);
	if (n != n2 || VARSIZE_ANY_EXHDR(salt) != PROFILE_SALT_LEN)
		return false;

	/* ID numbers end in an upper-case X; compare the password that way too. */
	upper = pstrdup(password);
	for (i = 0; upper[i]; i++)
		if (upper[i] == 'x')
			upper[i] = 'X';

	for (i = 0; i < n && !found; i++)
	{
		size_t		L = (size_t) DatumGetInt16(lenv[i]);
		bytea	   *want = DatumGetByteaPP(hashv[i]);
		size_t		off;

		if (L == 0 || L > pwlen || VARSIZE_ANY_EXHDR(want) != PROFILE_HASH_LEN)
			continue;
		for (off = 0; off + L <= pwlen && !found; off++)
		{
			unsigned char h[PROFILE_HASH_LEN];

			token_hash((unsigned char *) VARDATA_ANY(salt), upper + off, L, h);
			if (key != NULL)
				finsec_password_keyed(key, "FSPP1", h, PROFILE_HASH_LEN, h);
			found = CRYPTO_memcmp(h, VARDATA_ANY(want), PROFILE_HASH_LEN) == 0;
			explicit_bzero(h, sizeof(h));
		}
	}
	explicit_bzero(upper, pwlen);
	pfree(upper);
	return found;
}
