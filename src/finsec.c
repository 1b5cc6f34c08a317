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
#include "finsec_auth.h"
#include "finsec_signature.h"
#include "finsec_card.h"
#include "finsec_keyring.h"
#include "finsec_mac.h"
#include "keyring/keyring_internal.h"

#include "finsec_guard.h"
#include "finsec_limits.h"
#include "finsec_risk.h"
#include "finsec_worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* ---- settings ---------------------------------------------------------- */

int			finsec_hash_algorithm = FINSEC_HASH_SHA256;

static const struct config_enum_entry hash_algorithm_options[] = {
	{"sha256", FINSEC_HASH_SHA256, false},
	{"sm3", FINSEC_HASH_SM3, false},
	{NULL, 0, false}
};

static const struct config_enum_entry valid_until_options[] = {
	{"set", FINSEC_VALID_UNTIL_SET, false},
	{"refuse", FINSEC_VALID_UNTIL_REFUSE, false},
	{"ignore", FINSEC_VALID_UNTIL_IGNORE, false},
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

	/* ---- credential policy (src/auth) ---- */

	DefineCustomIntVariable("finsec.password_min_length",
							"Minimum length of a role's password.",
							"JR/T 0117 7.5.9a asks for at least 8 characters, JR/T 0096.5 for 6.",
							&finsec_password_min_length,
							8, 6, 1024,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.password_min_classes",
							"Minimum number of character classes in a password.",
							"Classes: upper-case letters, lower-case letters, digits, other "
							"characters. JR/T 0117 7.5.9a asks for 3 of the 4.",
							&finsec_password_min_classes,
							3, 1, 4,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("finsec.password_check_username",
							 "Reject passwords containing 3 consecutive characters of the role name.",
							 "Case-insensitive (JR/T 0117 7.5.9a).",
							 &finsec_password_check_username,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("finsec.password_reject_common",
							 "Reject trivially weak passwords.",
							 "Repeated characters or patterns, alphabet, digit and keyboard runs, "
							 "and a built-in list of common passwords including Chinese favourites "
							 "(JR/T 0199 5.1b).",
							 &finsec_password_reject_common,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.password_max_age",
							"Longest validity of a password: the latest VALID UNTIL allowed.",
							"JR/T 0096.5 asks for at most 3 months, JR/T 0117 for at most 6. "
							"0 turns expiry enforcement off.",
							&finsec_password_max_age_minutes,
							90 * 24 * 60, 0, 3650 * 24 * 60,
							PGC_SIGHUP, GUC_UNIT_MIN,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("finsec.password_valid_until",
							 "What to do with a new password given without VALID UNTIL.",
							 "set: give it now() + finsec.password_max_age; refuse: reject the "
							 "statement; ignore: leave it without expiry (not compliant).",
							 &finsec_password_valid_until_mode,
							 FINSEC_VALID_UNTIL_SET,
							 valid_until_options,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("finsec.password_allow_prehashed",
							 "Accept passwords that arrive already hashed (MD5 or SCRAM).",
							 "psql's \\password sends a SCRAM hash, whose strength cannot be checked. "
							 "Off refuses them with a hint.",
							 &finsec_password_allow_prehashed,
							 false,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.password_reuse_history",
							"How many of a role's previous passwords it may not reuse.",
							"Kept as salted PBKDF2 hashes in finsec.password_history. 0 turns "
							"the check off.",
							&finsec_password_reuse_history,
							5, 0, 100,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("finsec.password_history_database",
							   "The database whose password history governs every role.",
							   "Roles are cluster-wide, tables per database: when set, passwords "
							   "can be changed only in this database. Empty: each database keeps "
							   "its own history.",
							   &finsec_password_history_database,
							   "",
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.max_auth_failures",
							"Failed logins within finsec.auth_failure_window that lock a role.",
							"0 turns lockout off. Failures of role names that do not exist are "
							"counted too, so lockout reveals nothing about which roles exist.",
							&finsec_max_auth_failures,
							5, 0, 1000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.lockout_duration",
							"How long a role stays locked after too many failed logins.",
							"finsec.unlock_role() lifts a lock earlier.",
							&finsec_lockout_duration_s,
							30 * 60, 1, 30 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.auth_failure_window",
							"Period within which failed logins are counted towards a lock.",
							NULL,
							&finsec_auth_failure_window_s,
							15 * 60, 1, 30 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.auth_failure_delay",
							"Delay added to every failed login, to slow password guessing.",
							"Like contrib's auth_delay, applied before the failure is reported.",
							&finsec_auth_failure_delay_ms,
							1000, 0, 60 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("finsec.lockout_by_address",
							 "Count failures and lock per role and client address.",
							 "On: guessing from one address locks the role only from that "
							 "address. Off: the role is locked from everywhere.",
							 &finsec_lockout_by_address,
							 false,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("finsec.lockout_exempt_roles",
							   "Roles never locked out (a break-glass role, say).",
							   "Comma-separated role names. Their failed logins are still logged "
							   "and delayed.",
							   &finsec_lockout_exempt_roles,
							   "",
							   PGC_SIGHUP, GUC_LIST_INPUT,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.password_expiry_warning",
							"Warn at login when the password expires within this time.",
							"The warning comes with the session's first statement (PostgreSQL "
							"sends only errors during authentication). 0 turns it off.",
							&finsec_password_expiry_warning_s,
							14 * 24 * 3600, 0, 365 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomStringVariable("finsec.auth_audit_database",
							   "The database whose audit ledger records authentication events.",
							   "Failed logins, locks and refused locked logins are queued in shared "
							   "memory and written by this database's sealer. Empty: the first "
							   "database of finsec.audit_seal_databases.",
							   &finsec_auth_audit_database,
							   "",
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);

	DefineCustomBoolVariable("finsec.key_cache",
							 "Keep unwrapped keys in backend memory between transactions.",
							 "Off: every transaction unwraps the keys it uses and zeroizes them "
							 "at its end. On: keys stay cached until they change or the backend exits.",
							 &finsec_key_cache_enabled,
							 true,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.mac_min_length",
							"Shortest truncated MAC accepted, in bytes.",
							"finsec.mac and finsec.mac_verify refuse MACs shorter than this.",
							&finsec_mac_min_length,
							4, 4, 32,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("finsec.otp_key",
							   "Label of the fingerprint key that hashes one-time codes.",
							   NULL,
							   &finsec_otp_key,
							   "otp",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.otp_max_attempts",
							"Attempts allowed per one-time code.",
							NULL,
							&finsec_otp_max_attempts,
							5, 1, 20,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.otp_max_ttl",
							"Longest validity of a one-time code.",
							NULL,
							&finsec_otp_max_ttl_s,
							600, 30, 3600,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.approval_timeout",
							"How long a change request waits for approval before it expires.",
							NULL,
							&finsec_approval_timeout_s,
							24 * 3600, 60, 30 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S,
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

	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomStringVariable("finsec.master_key_file",
								   "File holding the keyring master key (64 hexadecimal digits).",
								   "Read once at server start; must be owned by the server's user "
								   "with mode 0600 (or by root, 0640).",
								   &finsec_master_key_file,
								   "",
								   PGC_POSTMASTER, GUC_SUPERUSER_ONLY,
								   NULL, NULL, NULL);
		DefineCustomStringVariable("finsec.master_key_command",
								   "Command that prints the keyring master key (64 hexadecimal digits).",
								   "Run once at server start, like ssl_passphrase_command; "
								   "it must exit with status 0.",
								   &finsec_master_key_command,
								   "",
								   PGC_POSTMASTER, GUC_SUPERUSER_ONLY,
								   NULL, NULL, NULL);
		DefineCustomStringVariable("finsec.master_key_previous_file",
								   "File holding the previous master key, while keys are re-wrapped.",
								   "Set only during a master key change; see finsec.rewrap_keys().",
								   &finsec_master_key_previous_file,
								   "",
								   PGC_POSTMASTER, GUC_SUPERUSER_ONLY,
								   NULL, NULL, NULL);
		DefineCustomStringVariable("finsec.master_key_previous_command",
								   "Command that prints the previous master key, while keys are re-wrapped.",
								   "Set only during a master key change; see finsec.rewrap_keys().",
								   &finsec_master_key_previous_command,
								   "",
								   PGC_POSTMASTER, GUC_SUPERUSER_ONLY,
								   NULL, NULL, NULL);
	}

	finsec_guard_define_settings();

	/* ---- signatures (src/signature) ---- */
	finsec_signature_define_settings();

	finsec_card_define_settings();
	finsec_card_probe_define_settings();
	finsec_limits_define_settings();
	finsec_risk_define_settings();
	finsec_risk_define_log_settings();
	finsec_limits_define_refusal_settings();
	finsec_audit_define_ring_settings();

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
	finsec_auth_init_hooks();
	finsec_log_redact_init();
	finsec_plcaller_init();
	finsec_lockout_init();
	finsec_limits_shmem_init();
	finsec_card_probe_shmem_init();
	finsec_risk_shmem_init();
	finsec_risk_log_shmem_init();
	finsec_audit_ring_shmem_init();
	finsec_limits_init_hooks();
	finsec_master_key_load();
	finsec_keyring_init();
	finsec_audit_register_tasks();
	finsec_worker_init();
}
