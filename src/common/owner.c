/*-------------------------------------------------------------------------
 *
 * owner.c
 *	  Running finsec's own SQL as the extension's owner, and the SPI
 *	  bracket every capability uses for it.
 *
 * This is the bottom layer's security primitive: it depends on no
 * capability.  finsec's own SQL runs as pg_extension.extowner with
 * search_path pinned and row security off (finsec_begin_owner); SQL on an
 * application's table runs as that table's owner instead
 * (finsec_begin_table_owner, trusted.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "finsec.h"
#include "finsec_owner.h"

/* ---- running as finsec's owner ----------------------------------------- */

/*
 * finsec's functions run their internal SQL as the owner of the extension
 * (pg_extension.extowner, the installing superuser), with search_path pinned, much as a SECURITY
 * DEFINER function with SET search_path would; unlike one, the caller's
 * identity stays known to the code for the audit record.  Transaction
 * abort restores both the user and the setting.
 */
Oid
finsec_owner(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			owner = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("finsec"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("extension finsec is not installed in this database"),
				 errhint("Run CREATE EXTENSION finsec.")));
	return owner;
}

void
finsec_begin_owner(FinsecOwnerContext *ctx)
{
	GetUserIdAndSecContext(&ctx->save_userid, &ctx->save_sec);
	ctx->caller = ctx->save_userid;
	SetUserIdAndSecContext(finsec_owner(),
						   ctx->save_sec | SECURITY_LOCAL_USERID_CHANGE);
	ctx->nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	/*
	 * A row-level security policy never runs as finsec's owner: it fails
	 * instead.
	 */
	(void) set_config_option("row_security", "off",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	ctx->saved_encoding = finsec_encoding_begin();
}

void
finsec_end_owner(FinsecOwnerContext *ctx)
{
	finsec_encoding_end(ctx->saved_encoding);
	AtEOXact_GUC(true, ctx->nestlevel);
	SetUserIdAndSecContext(ctx->save_userid, ctx->save_sec);
}

/*
 * Run work(actor, arg) as finsec's owner, acting for the current role, in a
 * subtransaction of the current transaction.  NULL when it succeeded; on an
 * error the subtransaction is rolled back and the error returned, for the
 * caller to report and free (FreeErrorData).  For the side tasks of the
 * sealer's round, whose failure must not end the round.
 */
ErrorData *
finsec_try_as_owner(void (*work) (Oid actor, void *arg), void *arg)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ErrorData  *edata = NULL;

	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		FinsecOwnerContext ctx;

		finsec_begin_owner(&ctx);
		work(ctx.caller, arg);
		finsec_end_owner(&ctx);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	CurrentResourceOwner = oldowner;
	return edata;
}

/*
 * SPI_connect and finsec_begin_owner in one call, the bracket of nearly
 * every function that runs finsec's own SQL; finsec_spi_end closes both in
 * the reverse order.  An error between the two is cleaned up by
 * transaction (or subtransaction) abort, as for SPI itself.
 */
void
finsec_spi_begin_as_owner(FinsecOwnerContext *ctx)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	finsec_begin_owner(ctx);
}

void
finsec_spi_end(FinsecOwnerContext *ctx)
{
	finsec_end_owner(ctx);
	SPI_finish();
}

/*
 * SPI_execute_with_args, for finsec's own statements inside an SPI bracket:
 * a result other than "expected" is an internal error, "<failure>: <SPI
 * result>".  Returns SPI_processed.
 */
uint64
finsec_spi_execute(const char *sql, int nargs, Oid *argtypes, Datum *values, const char *nulls,
				   bool read_only, long count, int expected, const char *failure)
{
	int			ret = SPI_execute_with_args(sql, nargs, argtypes, values, nulls, read_only, count);

	if (ret != expected)
		elog(ERROR, "%s: %s", failure, SPI_result_code_string(ret));
	return SPI_processed;
}

/*
 * Send functions of text-bearing types convert to the client encoding.
 * Between finsec_encoding_begin() and finsec_encoding_end() the client
 * encoding equals the database encoding, so no conversion happens.  The
 * caller restores it with the returned value, also on error (PG_FINALLY).
 */
int
finsec_encoding_begin(void)
{
	int			saved = pg_get_client_encoding();

	if (saved != GetDatabaseEncoding())
		SetClientEncoding(GetDatabaseEncoding());
	return saved;
}

void
finsec_encoding_end(int saved)
{
	if (pg_get_client_encoding() != saved)
		SetClientEncoding(saved);
}

char *
finsec_quoted_relname(Oid relid)
{
	char	   *rel = get_rel_name(relid);
	char	   *nsp;

	if (rel == NULL)
		elog(ERROR, "cache lookup failed for relation %u", relid);
	nsp = get_namespace_name(get_rel_namespace(relid));
	return quote_qualified_identifier(nsp, rel);
}
