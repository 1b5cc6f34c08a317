/*-------------------------------------------------------------------------
 *
 * history.c
 *	  Password reuse: the last finsec.password_reuse_history passwords of a
 *	  role cannot be set again (JR/T 0117 7.5.9a enhanced; A1).
 *
 * History lives in finsec.password_history, one row per password change:
 * a random 16-byte salt and PBKDF2-HMAC-SHA256 of the password (OpenSSL
 * EVP), never the password.  The row is written by the statement that
 * changes the password, in its transaction: it commits or rolls back with
 * the role change (credcheck kept history in a file outside transactions,
 * a known source of bugs), and it is WAL-logged, so it survives restart,
 * failover and pg_upgrade, and reaches standbys.
 *
 * Keyed (0.8): once the keyring holds the fingerprint key "auth.password"
 * (created like any key, by two administrators), the stored value is
 * HMAC(key, "FSPH1" || PBKDF2(password, salt)) and the row records the key
 * version, so that the key can rotate (rows of a retired version still
 * verify).  Rows of 0.7, stored as PBKDF2 alone, are moved under the key
 * without the password: HMAC over the stored hash is the same chain.  The
 * key's material never leaves the keyring's memory (EVP copies it).  Without
 * the key, rows stay in the 0.7 form; once keyed rows exist or the key
 * does, a password change that cannot use the key is refused (S9A10).
 *
 * Roles belong to the cluster, tables to a database.  When
 * finsec.password_history_database names a database, password changes are
 * accepted only there, so one history governs each role; otherwise each
 * database keeps its own.  Where the history cannot be consulted (finsec
 * not installed in the database), a password change is refused rather
 * than accepted unchecked.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/array.h"
#include "utils/lsyscache.h"

#include "finsec.h"
#include "finsec_auth.h"
#include "finsec_keyring.h"
#include "finsec_mac.h"
#include "finsec_audit.h"
#include "finsec_owner.h"

int			finsec_password_reuse_history = FINSEC_PASSWORD_REUSE_HISTORY_DEFAULT;
char	   *finsec_password_history_database = NULL;

#define HISTORY_SALT_LEN	16
#define HISTORY_HASH_LEN	32
#define HISTORY_ITERATIONS	10000

static void
pbkdf2(const char *password, const unsigned char *salt, unsigned char *out)
{
	if (PKCS5_PBKDF2_HMAC(password, strlen(password), salt, HISTORY_SALT_LEN,
						  HISTORY_ITERATIONS, EVP_sha256(), HISTORY_HASH_LEN, out) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not hash a password for the reuse history")));
}

/* ---- the keyring key over history and profiles ------------------------- */

/*
 * The key password history and profiles are kept under, or NULL while they
 * are kept unkeyed (the key has no active or retired version, no row is
 * keyed yet, or the schema is that of 0.7: *schema_keyed false).  Raises
 * (S9A10) when the key is needed but no master key is loaded; the keyring's
 * own errors otherwise.  Reads as finsec's owner; SPI is its own.
 */
const FinsecKey *
finsec_password_key(bool *schema_keyed)
{
	FinsecOwnerContext ctx;
	Oid			nsp = get_namespace_oid("finsec", false);
	Oid			hist = get_relname_relid("password_history", nsp);
	Oid			prof = get_relname_relid("role_profile", nsp);
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	bool		needed,
				isnull;
	int			ret;

	*schema_keyed = OidIsValid(hist) && OidIsValid(prof) &&
		get_attnum(hist, "key_version") != InvalidAttrNumber &&
		get_attnum(prof, "key_version") != InvalidAttrNumber;
	if (!*schema_keyed)
		return NULL;

	finsec_spi_begin_as_owner(&ctx);
	args[0] = CStringGetTextDatum(FINSEC_PASSWORD_KEY);
	ret = SPI_execute_with_args("SELECT EXISTS (SELECT FROM finsec.key k JOIN finsec.key_version v ON v.key_id = k.key_id "
								"               WHERE k.label = $1 AND v.state IN ('active', 'retired')) "
								"    OR EXISTS (SELECT FROM finsec.password_history WHERE key_version IS NOT NULL) "
								"    OR EXISTS (SELECT FROM finsec.role_profile WHERE key_version IS NOT NULL)",
								1, argtypes, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the keyring for password history");
	needed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	finsec_spi_end(&ctx);
	if (!needed)
		return NULL;

	if (!finsec_master_key_loaded())
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_PASSWORD_KEY),
				 errmsg("password history cannot be checked: no master key is loaded"),
				 errdetail("finsec keeps password history and personal-data profiles under keyring key \"%s\", which needs the master key.",
						   FINSEC_PASSWORD_KEY),
				 errhint("Configure finsec.master_key_file or finsec.master_key_command and restart the server; finsec.keyring_master() shows its state."),
				 errhidestmt(true)));
	return finsec_key_active(FINSEC_PASSWORD_KEY, FINSEC_KEY_FINGERPRINT, NULL);
}

/* A version of the key, active or retired, to check a row made under it. */
const FinsecKey *
finsec_password_key_version(int32 version)
{
	if (!finsec_master_key_loaded())
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_PASSWORD_KEY),
				 errmsg("password history cannot be checked: no master key is loaded"),
				 errhint("Configure finsec.master_key_file or finsec.master_key_command and restart the server."),
				 errhidestmt(true)));
	return finsec_key_version(FINSEC_PASSWORD_KEY, FINSEC_KEY_FINGERPRINT, version);
}

/* out (FINSEC_PASSWORD_HASH_LEN bytes) = HMAC(key, domain || in) */
void
finsec_password_keyed(const FinsecKey *key, const char *domain,
					  const unsigned char *in, size_t len, unsigned char *out)
{
	unsigned char buf[8 + EVP_MAX_MD_SIZE];
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t		dlen = strlen(domain);

	Assert(dlen <= 8 && len <= EVP_MAX_MD_SIZE);
	memcpy(buf, domain, dlen);
	memcpy(buf + dlen, in, len);
	if (finsec_keyed_hash(key, buf, dlen + len, mac) < FINSEC_PASSWORD_HASH_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_KEY_MISUSE),
				 errmsg("finsec key \"%s\" gives a keyed hash shorter than %d bytes",
						key->label, FINSEC_PASSWORD_HASH_LEN)));
	memcpy(out, mac, FINSEC_PASSWORD_HASH_LEN);
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(mac, sizeof(mac));
}

/*
 * Move rows of 0.7 (key_version NULL) under the key: the keyed value of a
 * stored hash is HMAC over it, exactly what a check computes over a fresh
 * PBKDF2 or SHA-256, so no password or personal data is needed.  Caller has
 * SPI connected and runs as finsec's owner.  Returns the rows moved.
 */
int64
finsec_password_rekey_legacy(const FinsecKey *key)
{
	Oid			types[3] = {INT8OID, BYTEAOID, INT4OID};
	Oid			ptypes[3] = {NAMEOID, BYTEAARRAYOID, INT4OID};
	Datum		args[3];
	int64		moved = 0;
	uint64		i,
				n;
	SPITupleTable *tt;

	if (SPI_execute("SELECT id, hash FROM finsec.password_history WHERE key_version IS NULL FOR UPDATE",
					false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read password history");
	tt = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		bytea	   *h = DatumGetByteaPP(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));
		unsigned char keyed[FINSEC_PASSWORD_HASH_LEN];

		if (VARSIZE_ANY_EXHDR(h) != HISTORY_HASH_LEN)
			continue;
		finsec_password_keyed(key, "FSPH1", (unsigned char *) VARDATA_ANY(h), HISTORY_HASH_LEN, keyed);
		args[0] = SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull);
		args[1] = PointerGetDatum(finsec_bytea(keyed, HISTORY_HASH_LEN));
		args[2] = Int32GetDatum(key->version);
		explicit_bzero(keyed, sizeof(keyed));
		if (SPI_execute_with_args("UPDATE finsec.password_history SET hash = $2, key_version = $3 WHERE id = $1",
								  3, types, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not move password history under the keyring");
		moved++;
	}
	SPI_freetuptable(tt);

	if (SPI_execute("SELECT rolname, token_hashes FROM finsec.role_profile WHERE key_version IS NULL FOR UPDATE",
					false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read role profiles");
	tt = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		ArrayType  *arr = DatumGetArrayTypeP(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));
		Datum	   *hv;
		int			nh,
					j;

		deconstruct_array(arr, BYTEAOID, -1, false, TYPALIGN_INT, &hv, NULL, &nh);
		for (j = 0; j < nh; j++)
		{
			bytea	   *h = DatumGetByteaPP(hv[j]);
			unsigned char keyed[FINSEC_PASSWORD_HASH_LEN];

			if (VARSIZE_ANY_EXHDR(h) != FINSEC_PASSWORD_HASH_LEN)
				continue;		/* never matches, keyed or not */
			finsec_password_keyed(key, "FSPP1", (unsigned char *) VARDATA_ANY(h),
								  FINSEC_PASSWORD_HASH_LEN, keyed);
			hv[j] = PointerGetDatum(finsec_bytea(keyed, FINSEC_PASSWORD_HASH_LEN));
			explicit_bzero(keyed, sizeof(keyed));
		}
		args[0] = SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull);
		args[1] = PointerGetDatum(construct_array(hv, nh, BYTEAOID, -1, false, TYPALIGN_INT));
		args[2] = Int32GetDatum(key->version);
		if (SPI_execute_with_args("UPDATE finsec.role_profile SET token_hashes = $2, key_version = $3 WHERE rolname = $1",
								  3, ptypes, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not move role profiles under the keyring");
		moved++;
	}
	SPI_freetuptable(tt);
	if (moved > 0)
		finsec_key_note_use(key, "pw-rekey");
	return moved;
}

PG_FUNCTION_INFO_V1(finsec_password_rekey);

/*
 * finsec.password_rekey() returns bigint: move password history and profile
 * rows of 0.7 under the keyring key now (a password change or profile
 * update does it too); 0 while the key does not exist.
 */
Datum
finsec_password_rekey(PG_FUNCTION_ARGS)
{
	FinsecOwnerContext ctx;
	bool		schema_keyed;
	const FinsecKey *key;
	int64		moved;

	finsec_require_preload("finsec.password_rekey()");
	key = finsec_password_key(&schema_keyed);
	if (key == NULL)
		PG_RETURN_INT64(0);
	finsec_spi_begin_as_owner(&ctx);
	moved = finsec_password_rekey_legacy(key);
	if (moved > 0)
		(void) finsec_audit_event_internal(ctx.caller, "role.password_rekey", FINSEC_PASSWORD_KEY, NULL,
										   "rekey", true,
										   psprintf("%lld password history and profile rows moved under keyring key %s version %d",
													(long long) moved, FINSEC_PASSWORD_KEY, key->version),
										   NULL);
	finsec_spi_end(&ctx);
	PG_RETURN_INT64(moved);
}

/*
 * Check the clear-text password of "username" against its history and, if
 * it is new, record it.  Called from check_password_hook.
 */
void
finsec_password_history_check(const char *username, const char *password)
{
	FinsecOwnerContext ctx;
	Oid			argtypes[5] = {NAMEOID, INT4OID, BYTEAOID, BYTEAOID, INT4OID};
	Datum		args[5];
	unsigned char salt[HISTORY_SALT_LEN];
	unsigned char hash[HISTORY_HASH_LEN];
	bool		reused = false;
	bool		have_tables;
	bool		schema_keyed;
	const FinsecKey *key;
	uint64		i;
	int			ret;

	have_tables = OidIsValid(get_extension_oid("finsec", true)) &&
		OidIsValid(get_relname_relid("password_history", get_namespace_oid("finsec", false)));

	if (finsec_password_reuse_history == 0 && !have_tables)
		return;					/* no history wanted, no profile possible */

	if (finsec_password_reuse_history > 0 &&
		finsec_password_history_database && finsec_password_history_database[0] &&
		strcmp(finsec_password_history_database, get_database_name(MyDatabaseId)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_PASSWORD_POLICY),
				 errmsg("passwords are changed in database \"%s\"",
						finsec_password_history_database),
				 errdetail("Password reuse is checked against the history kept there (finsec.password_history_database)."),
				 errhint("Connect to database \"%s\" and repeat the statement.",
						 finsec_password_history_database),
				 errhidestmt(true)));

	if (!have_tables)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("password reuse cannot be checked in this database"),
				 errdetail("finsec keeps password history in its finsec.password_history table, which this database does not have."),
				 errhint("Change passwords in a database with finsec 0.3 or later installed (set finsec.password_history_database to name it), or set finsec.password_reuse_history = 0."),
				 errhidestmt(true)));

	/* The keyring key, if history is kept under it (before any owner work). */
	key = finsec_password_key(&schema_keyed);

	finsec_spi_begin_as_owner(&ctx);

	/*
	 * Rows of 0.7 move under the key first, so that every row is checked
	 * alike.
	 */
	if (key != NULL)
		(void) finsec_password_rekey_legacy(key);

	/* A1b: not the person's own data (src/auth/profile.c). */
	if (finsec_password_profile_match(username, password, schema_keyed))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_PASSWORD_POLICY),
				 errmsg("password rejected by finsec policy: close to the role's personal data"),
				 errdetail("The password contains the birth date, ID number or phone number recorded for the role (finsec.set_role_profile)."),
				 errhidestmt(true)));

	if (finsec_password_reuse_history == 0)
	{
		finsec_spi_end(&ctx);
		return;
	}

	args[0] = DirectFunctionCall1(namein, CStringGetDatum(username));
	args[1] = Int32GetDatum(finsec_password_reuse_history);
	finsec_spi_execute(schema_keyed
					   ? "SELECT salt, hash, key_version FROM finsec.password_history "
					   "WHERE rolname = $1 ORDER BY changed_at DESC, id DESC LIMIT $2"
					   : "SELECT salt, hash, NULL::integer FROM finsec.password_history "
					   "WHERE rolname = $1 ORDER BY changed_at DESC, id DESC LIMIT $2",
					   2, argtypes, args, NULL, true, 0,
					   SPI_OK_SELECT, "could not read password history");
	{
		SPITupleTable *tt = SPI_tuptable;
		uint64		n = SPI_processed;

		for (i = 0; i < n && !reused; i++)
		{
			bool		isnull,
						vnull;
			bytea	   *s = DatumGetByteaPP(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
			bytea	   *h = DatumGetByteaPP(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));
			int32		version = DatumGetInt32(SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &vnull));
			unsigned char candidate[HISTORY_HASH_LEN];

			if (VARSIZE_ANY_EXHDR(s) != HISTORY_SALT_LEN || VARSIZE_ANY_EXHDR(h) != HISTORY_HASH_LEN)
				continue;
			pbkdf2(password, (unsigned char *) VARDATA_ANY(s), candidate);
			if (!vnull)
			{
				const FinsecKey *k = finsec_password_key_version(version);

				finsec_password_keyed(k, "FSPH1", candidate, HISTORY_HASH_LEN, candidate);
			}
			reused = CRYPTO_memcmp(candidate, VARDATA_ANY(h), HISTORY_HASH_LEN) == 0;
			explicit_bzero(candidate, sizeof(candidate));
		}
	}
	if (reused)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_PASSWORD_POLICY),
				 errmsg("password rejected by finsec policy: used recently"),
				 errdetail("A role may not reuse any of its last %d passwords (finsec.password_reuse_history).",
						   finsec_password_reuse_history),
				 errhidestmt(true)));

	if (!pg_strong_random(salt, HISTORY_SALT_LEN))
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
						errmsg("could not generate a random salt")));
	pbkdf2(password, salt, hash);
	if (key != NULL)
	{
		finsec_password_keyed(key, "FSPH1", hash, HISTORY_HASH_LEN, hash);
		finsec_key_note_use(key, "pw-history");
	}
	args[2] = PointerGetDatum(finsec_bytea(salt, HISTORY_SALT_LEN));
	args[3] = PointerGetDatum(finsec_bytea(hash, HISTORY_HASH_LEN));
	args[4] = Int32GetDatum(key ? key->version : 0);
	explicit_bzero(hash, sizeof(hash));
	{
		char		nulls[5] = {' ', ' ', ' ', ' ', key ? ' ' : 'n'};

		ret = SPI_execute_with_args(schema_keyed
									? "INSERT INTO finsec.password_history (rolname, salt, hash, key_version) "
									"VALUES ($1, $3, $4, $5)"
									: "INSERT INTO finsec.password_history (rolname, salt, hash) "
									"VALUES ($1, $3, $4)",
									schema_keyed ? 5 : 4, argtypes, args, nulls, false, 0);
	}
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not record password history");
	/* Keep what the setting needs, and no more. */
	finsec_spi_execute("DELETE FROM finsec.password_history WHERE rolname = $1 AND id NOT IN "
					   "(SELECT id FROM finsec.password_history WHERE rolname = $1 "
					   " ORDER BY changed_at DESC, id DESC LIMIT $2)",
					   2, argtypes, args, NULL, false, 0,
					   SPI_OK_DELETE, "could not prune password history");

	finsec_spi_end(&ctx);
}

/*
 * Keep the history and the profile with their role: follow ALTER ROLE ... RENAME, forget it
 * at DROP ROLE.  Runs after the statement succeeded, in its transaction.
 */
void
finsec_password_history_follow(Node *parsetree)
{
	FinsecOwnerContext ctx;
	Oid			argtypes[2] = {NAMEOID, NAMEOID};
	Datum		args[2];

	if (!OidIsValid(get_extension_oid("finsec", true)) ||
		!OidIsValid(get_relname_relid("password_history", get_namespace_oid("finsec", false))))
		return;

	finsec_spi_begin_as_owner(&ctx);
	if (IsA(parsetree, RenameStmt))
	{
		RenameStmt *stmt = (RenameStmt *) parsetree;

		args[0] = DirectFunctionCall1(namein, CStringGetDatum(stmt->subname));
		args[1] = DirectFunctionCall1(namein, CStringGetDatum(stmt->newname));
		SPI_execute_with_args("UPDATE finsec.password_history SET rolname = $2 WHERE rolname = $1",
							  2, argtypes, args, NULL, false, 0);
		SPI_execute_with_args("UPDATE finsec.role_profile SET rolname = $2 WHERE rolname = $1",
							  2, argtypes, args, NULL, false, 0);
	}
	else if (IsA(parsetree, DropRoleStmt))
	{
		ListCell   *lc;

		foreach(lc, ((DropRoleStmt *) parsetree)->roles)
		{
			RoleSpec   *spec = lfirst(lc);

			if (spec->roletype != ROLESPEC_CSTRING)
				continue;
			args[0] = DirectFunctionCall1(namein, CStringGetDatum(spec->rolename));
			SPI_execute_with_args("DELETE FROM finsec.password_history WHERE rolname = $1",
								  1, argtypes, args, NULL, false, 0);
			SPI_execute_with_args("DELETE FROM finsec.role_profile WHERE rolname = $1",
								  1, argtypes, args, NULL, false, 0);
		}
	}
	finsec_spi_end(&ctx);
}
