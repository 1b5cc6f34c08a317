/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  The keyring's settings: the master key, the key cache and the approval
 *	  of key changes (docs/keyring.md, docs/configuration.md).
 *
 * Defaults are FINSEC_<NAME>_DEFAULT of keyring_internal.h, also the
 * variables' initialisers (keyring.c, master.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include "finsec.h"
#include "finsec_keyring.h"
#include "keyring_internal.h"

/* Defines the key cache, approval and (when preloading) master key settings. */
void
finsec_keyring_define_settings(void)
{
	DefineCustomBoolVariable("finsec.key_cache",
							 "Keep unwrapped keys in backend memory between transactions.",
							 "Off: every transaction unwraps the keys it uses and zeroizes them "
							 "at its end. On: keys stay cached until they change or the backend exits.",
							 &finsec_key_cache_enabled,
							 FINSEC_KEY_CACHE_DEFAULT,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.approval_timeout",
							"How long a change request waits for approval before it expires.",
							NULL,
							&finsec_approval_timeout_s,
							FINSEC_APPROVAL_TIMEOUT_DEFAULT, 60, 30 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	/*
	 * The master key is read once at server start, so its settings are
	 * postmaster-context: PostgreSQL allows those only while preloading.
	 */
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomStringVariable("finsec.master_key_file",
								   "File holding the keyring master key (64 hexadecimal digits).",
								   "Read once at server start; must be owned by the server's user "
								   "with mode 0600 (or by root, 0640).",
								   &finsec_master_key_file,
								   FINSEC_MASTER_KEY_FILE_DEFAULT,
								   PGC_POSTMASTER, GUC_SUPERUSER_ONLY,
								   NULL, NULL, NULL);
		DefineCustomStringVariable("finsec.master_key_command",
								   "Command that prints the keyring master key (64 hexadecimal digits).",
								   "Run once at server start, like ssl_passphrase_command; "
								   "it must exit with status 0.",
								   &finsec_master_key_command,
								   FINSEC_MASTER_KEY_COMMAND_DEFAULT,
								   PGC_POSTMASTER, GUC_SUPERUSER_ONLY,
								   NULL, NULL, NULL);
		DefineCustomStringVariable("finsec.master_key_previous_file",
								   "File holding the previous master key, while keys are re-wrapped.",
								   "Set only during a master key change; see finsec.rewrap_keys().",
								   &finsec_master_key_previous_file,
								   FINSEC_MASTER_KEY_PREVIOUS_FILE_DEFAULT,
								   PGC_POSTMASTER, GUC_SUPERUSER_ONLY,
								   NULL, NULL, NULL);
		DefineCustomStringVariable("finsec.master_key_previous_command",
								   "Command that prints the previous master key, while keys are re-wrapped.",
								   "Set only during a master key change; see finsec.rewrap_keys().",
								   &finsec_master_key_previous_command,
								   FINSEC_MASTER_KEY_PREVIOUS_COMMAND_DEFAULT,
								   PGC_POSTMASTER, GUC_SUPERUSER_ONLY,
								   NULL, NULL, NULL);
	}
}
