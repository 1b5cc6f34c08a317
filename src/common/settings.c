/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  The settings of the foundation: finsec.hash_algorithm.
 *
 * Each capability defines its own settings in its folder
 * (finsec_<capability>_define_settings(), declared in its public header);
 * _PG_init in src/finsec.c calls them.  A setting's default is written once,
 * as FINSEC_<NAME>_DEFAULT beside its variable's declaration
 * (docs/development.md, "Settings").
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"

#include "finsec.h"

int			finsec_hash_algorithm = FINSEC_HASH_ALGORITHM_DEFAULT;

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

void
finsec_common_define_settings(void)
{
	DefineCustomEnumVariable("finsec.hash_algorithm",
							 "Digest used for new integrity chains and row hashes.",
							 "sha256 (FIPS 180-4) or sm3 (GB/T 32905-2016). "
							 "Applies to chains started after the change; every "
							 "hashed row records the algorithm it was hashed with, "
							 "so existing chains keep verifying.",
							 &finsec_hash_algorithm,
							 FINSEC_HASH_ALGORITHM_DEFAULT,
							 hash_algorithm_options,
							 PGC_SIGHUP,
							 0,
							 check_hash_algorithm, NULL, NULL);
}
