/*-------------------------------------------------------------------------
 *
 * finsec.c
 *	  Module entry point: _PG_init, the table of finsec.* settings, and the
 *	  chaining of PostgreSQL hooks.
 *
 * Capabilities live in their own folders under src/; this file only wires
 * them into the server.  Everything that needs the postmaster (hooks,
 * shared memory, background workers) is registered only when the library
 * is preloaded; see src/common/preload.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "finsec.h"
#include "finsec_audit.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* ---- settings ---------------------------------------------------------- */

int			finsec_hash_algorithm = FINSEC_HASH_SHA256;

static const struct config_enum_entry hash_algorithm_options[] = {
	{"sha256", FINSEC_HASH_SHA256, false},
	{"sm3", FINSEC_HASH_SM3, false},
	{NULL, 0, false}
};

static bool
check_hash_algorithm(int *newval, void **extra, GucSource source)
{
	if (!finsec_hash_available((FinsecHashAlgorithm) *newval))
	{
		GUC_check_errdetail("The OpenSSL library this server uses does not provide %s.",
							finsec_hash_name((FinsecHashAlgorithm) *newval));
		GUC_check_errhint("Use sha256, or an OpenSSL build whose providers include %s.",
						  finsec_hash_name((FinsecHashAlgorithm) *newval));
		return false;
	}
	return true;
}

static void
define_settings(void)
{
	DefineCustomEnumVariable("finsec.hash_algorithm",
							 "Digest used for new integrity chains and row hashes.",
							 "sha256 (FIPS 180-4) or sm3 (GB/T 32905-2016). "
							 "Applies to chains started after the change; every "
							 "hashed row records the algorithm it was hashed with, "
							 "so existing chains keep verifying.",
							 &finsec_hash_algorithm,
							 FINSEC_HASH_SHA256,
							 hash_algorithm_options,
							 PGC_SIGHUP,
							 0,
							 check_hash_algorithm, NULL, NULL);

	/* ---- audit ledger (src/audit) ---- */

	DefineCustomIntVariable("finsec.audit_retention",
							"How long audit and protected rows are kept before they may be purged.",
							"Rows younger than this cannot be removed by anyone through SQL; "
							"finsec.audit_purge() refuses boundaries within it. "
							"JR/T 0117 asks for at least six months, JR/T 0096.5 three; "
							"the floor is 90 days.",
							&finsec_audit_retention_minutes,
							180 * 24 * 60,
							90 * 24 * 60, 100 * 365 * 24 * 60,
							PGC_SIGHUP,
							GUC_UNIT_MIN,
							NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.audit_capacity_warning",
							"Ledger size at which finsec warns that audit storage is running out.",
							"Measured over finsec.audit and finsec.ledger_block. Crossing it sends a "
							"WARNING to the writing session and records an audit.capacity event "
							"(at most every 10 minutes per session). 0 disables the warning.",
							&finsec_audit_capacity_warning_mb,
							10240, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.audit_capacity_limit",
							"Ledger size at which auditable operations are refused.",
							"At or above it, finsec.audit_event() and every finsec operation that "
							"audits itself fail with SQLSTATE S9U02, so nothing happens unaudited. "
							"0 means no limit.",
							&finsec_audit_capacity_limit_mb,
							0, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.audit_seal_interval",
							"How often the sealer seals newly finished rows into the hash chain.",
							"Rows are protected by the chain from the first seal after their "
							"transaction ends; this bounds that window.",
							&finsec_audit_seal_interval_ms,
							1000, 100, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	/*
	 * PostgreSQL allows postmaster-context settings only while preloading
	 * (later it is a FATAL error), so they exist only then; without the
	 * preload, their features are unavailable anyway.
	 */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("finsec.audit_seal_databases",
								   "Databases in which a background worker seals protected tables.",
								   "Comma-separated database names, one sealer each. Without a "
								   "sealer, rows stay unsealed until finsec.audit_seal() runs.",
								   &finsec_audit_seal_databases,
								   "",
								   PGC_POSTMASTER,
								   GUC_LIST_INPUT,
								   finsec_check_seal_databases, NULL, NULL);

	/* A misspelt finsec.* setting is reported and discarded, not kept. */
	MarkGUCPrefixReserved("finsec");
}

/* ---- module load ------------------------------------------------------- */

void
_PG_init(void)
{
	finsec_preloaded = process_shared_preload_libraries_in_progress;

	define_settings();

	if (!finsec_preloaded)
		return;

	/* Hooks, shared memory and workers of each capability are chained here. */
	finsec_audit_init_hooks();
	finsec_audit_register_workers();
}
