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

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "finsec.h"

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
}
