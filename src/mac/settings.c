/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  The settings of MACs and one-time codes (docs/mac.md,
 *	  docs/configuration.md).
 *
 * Defaults are FINSEC_<NAME>_DEFAULT of finsec_mac.h, also the variables'
 * initialisers (mac.c, otp.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"

#include "finsec.h"
#include "finsec_mac.h"

/* Defines finsec.mac_min_length and the finsec.otp_* settings. */
void
finsec_mac_define_settings(void)
{
	DefineCustomIntVariable("finsec.mac_min_length",
							"Shortest truncated MAC accepted, in bytes.",
							"finsec.mac and finsec.mac_verify refuse MACs shorter than this.",
							&finsec_mac_min_length,
							FINSEC_MAC_MIN_LENGTH_DEFAULT, 4, 32,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("finsec.otp_key",
							   "Label of the fingerprint key that hashes one-time codes.",
							   NULL,
							   &finsec_otp_key,
							   FINSEC_OTP_KEY_DEFAULT,
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.otp_max_attempts",
							"Attempts allowed per one-time code.",
							NULL,
							&finsec_otp_max_attempts,
							FINSEC_OTP_MAX_ATTEMPTS_DEFAULT, 1, 20,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.otp_max_ttl",
							"Longest validity of a one-time code.",
							NULL,
							&finsec_otp_max_ttl_s,
							FINSEC_OTP_MAX_TTL_DEFAULT, 30, 3600,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
}
