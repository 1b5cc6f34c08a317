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
#include "utils/lsyscache.h"

#include "finsec.h"
#include "finsec_auth.h"
#include "../audit/ledger_internal.h"

int			finsec_password_reuse_history = 5;
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

/*
 * Check the clear-text password of "username" against its history and, if
 * it is new, record it.  Called from check_password_hook.
 */
void
finsec_password_history_check(const char *username, const char *password)
{
	FinsecOwnerContext ctx;
	Oid			argtypes[4] = {NAMEOID, INT4OID, BYTEAOID, BYTEAOID};
	Datum		args[4];
	unsigned char salt[HISTORY_SALT_LEN];
	unsigned char hash[HISTORY_HASH_LEN];
	bool		reused = false;
	bool		have_tables;
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

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	finsec_begin_owner(&ctx);

	/* A1b: not the person's own data (src/auth/profile.c). */
	if (finsec_password_profile_match(username, password))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_PASSWORD_POLICY),
				 errmsg("password rejected by finsec policy: close to the role's personal data"),
				 errdetail("The password contains the birth date, ID number or phone number recorded for the role (finsec.set_role_profile)."),
				 errhidestmt(true)));

	if (finsec_password_reuse_history == 0)
	{
		finsec_end_owner(&ctx);
		SPI_finish();
		return;
	}

	args[0] = DirectFunctionCall1(namein, CStringGetDatum(username));
	args[1] = Int32GetDatum(finsec_password_reuse_history);
	ret = SPI_execute_with_args("SELECT salt, hash FROM finsec.password_history "
								"WHERE rolname = $1 ORDER BY changed_at DESC, id DESC LIMIT $2",
								2, argtypes, args, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read password history");
	for (i = 0; i < SPI_processed && !reused; i++)
	{
		bool		isnull;
		bytea	   *s = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		bytea	   *h = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		unsigned char candidate[HISTORY_HASH_LEN];

		if (VARSIZE_ANY_EXHDR(s) != HISTORY_SALT_LEN || VARSIZE_ANY_EXHDR(h) != HISTORY_HASH_LEN)
			continue;
		pbkdf2(password, (unsigned char *) VARDATA_ANY(s), candidate);
		reused = CRYPTO_memcmp(candidate, VARDATA_ANY(h), HISTORY_HASH_LEN) == 0;
		explicit_bzero(candidate, sizeof(candidate));
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
	args[2] = PointerGetDatum(finsec_bytea(salt, HISTORY_SALT_LEN));
	args[3] = PointerGetDatum(finsec_bytea(hash, HISTORY_HASH_LEN));
	explicit_bzero(hash, sizeof(hash));
	ret = SPI_execute_with_args("INSERT INTO finsec.password_history (rolname, salt, hash) "
								"VALUES ($1, $3, $4)", 4, argtypes, args, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not record password history");
	/* Keep what the setting needs, and no more. */
	ret = SPI_execute_with_args("DELETE FROM finsec.password_history WHERE rolname = $1 AND id NOT IN "
								"(SELECT id FROM finsec.password_history WHERE rolname = $1 "
								" ORDER BY changed_at DESC, id DESC LIMIT $2)",
								2, argtypes, args, NULL, false, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "could not prune password history");

	finsec_end_owner(&ctx);
	SPI_finish();
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

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	finsec_begin_owner(&ctx);
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
	finsec_end_owner(&ctx);
	SPI_finish();
}
