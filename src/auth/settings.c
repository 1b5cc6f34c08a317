/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  The credential policy's settings (docs/auth.md, docs/configuration.md).
 *
 * Defaults are FINSEC_<NAME>_DEFAULT of finsec_auth.h, also the variables'
 * initialisers (password.c, history.c, lockout.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"

#include "finsec.h"
#include "finsec_auth.h"

static const struct config_enum_entry valid_until_options[] = {
	{"set", FINSEC_VALID_UNTIL_SET, false},
	{"refuse", FINSEC_VALID_UNTIL_REFUSE, false},
	{"ignore", FINSEC_VALID_UNTIL_IGNORE, false},
	{NULL, 0, false}
};

/* Defines every finsec.password_*, lockout and authentication setting. */
void
finsec_auth_define_settings(void)
{
	DefineCustomIntVariable("finsec.password_min_length",
							"Minimum length of a role's password.",
							"JR/T 0117 7.5.9a asks for at least 8 characters, JR/T 0096.5 for 6.",
							&finsec_password_min_length,
							FINSEC_PASSWORD_MIN_LENGTH_DEFAULT, 6, 1024,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.password_min_classes",
							"Minimum number of character classes in a password.",
							"Classes: upper-case letters, lower-case letters, digits, other "
							"characters. JR/T 0117 7.5.9a asks for 3 of the 4.",
							&finsec_password_min_classes,
							FINSEC_PASSWORD_MIN_CLASSES_DEFAULT, 1, 4,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("finsec.password_check_username",
							 "Reject passwords containing 3 consecutive characters of the role name.",
							 "Case-insensitive (JR/T 0117 7.5.9a).",
							 &finsec_password_check_username,
							 FINSEC_PASSWORD_CHECK_USERNAME_DEFAULT,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("finsec.password_reject_common",
							 "Reject trivially weak passwords.",
							 "Repeated characters or patterns, alphabet, digit and keyboard runs, "
							 "and a built-in list of common passwords including Chinese favourites "
							 "(JR/T 0199 5.1b).",
							 &finsec_password_reject_common,
							 FINSEC_PASSWORD_REJECT_COMMON_DEFAULT,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.password_max_age",
							"Longest validity of a password: the latest VALID UNTIL allowed.",
							"JR/T 0096.5 asks for at most 3 months, JR/T 0117 for at most 6. "
							"0 turns expiry enforcement off.",
							&finsec_password_max_age_minutes,
							FINSEC_PASSWORD_MAX_AGE_DEFAULT, 0, 3650 * 24 * 60,
							PGC_SIGHUP, GUC_UNIT_MIN,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("finsec.password_valid_until",
							 "What to do with a new password given without VALID UNTIL.",
							 "set: give it now() + finsec.password_max_age; refuse: reject the "
							 "statement; ignore: leave it without expiry (not compliant).",
							 &finsec_password_valid_until_mode,
							 FINSEC_PASSWORD_VALID_UNTIL_DEFAULT,
							 valid_until_options,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("finsec.password_allow_prehashed",
							 "Accept passwords that arrive already hashed (MD5 or SCRAM).",
							 "psql's \\password sends a SCRAM hash, whose strength cannot be checked. "
							 "Off refuses them with a hint.",
							 &finsec_password_allow_prehashed,
							 FINSEC_PASSWORD_ALLOW_PREHASHED_DEFAULT,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.password_reuse_history",
							"How many of a role's previous passwords it may not reuse.",
							"Kept as salted PBKDF2 hashes in finsec.password_history. 0 turns "
							"the check off.",
							&finsec_password_reuse_history,
							FINSEC_PASSWORD_REUSE_HISTORY_DEFAULT, 0, 100,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("finsec.password_history_database",
							   "The database whose password history governs every role.",
							   "Roles are cluster-wide, tables per database: when set, passwords "
							   "can be changed only in this database. Empty: each database keeps "
							   "its own history.",
							   &finsec_password_history_database,
							   FINSEC_PASSWORD_HISTORY_DATABASE_DEFAULT,
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.max_auth_failures",
							"Failed logins within finsec.auth_failure_window that lock a role.",
							"0 turns lockout off. Failures of role names that do not exist are "
							"counted too, so lockout reveals nothing about which roles exist.",
							&finsec_max_auth_failures,
							FINSEC_MAX_AUTH_FAILURES_DEFAULT, 0, 1000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.lockout_duration",
							"How long a role stays locked after too many failed logins.",
							"finsec.unlock_role() lifts a lock earlier.",
							&finsec_lockout_duration_s,
							FINSEC_LOCKOUT_DURATION_DEFAULT, 1, 30 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.auth_failure_window",
							"Period within which failed logins are counted towards a lock.",
							NULL,
							&finsec_auth_failure_window_s,
							FINSEC_AUTH_FAILURE_WINDOW_DEFAULT, 1, 30 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.auth_failure_delay",
							"Delay added to every failed login, to slow password guessing.",
							"Like contrib's auth_delay, applied before the failure is reported.",
							&finsec_auth_failure_delay_ms,
							FINSEC_AUTH_FAILURE_DELAY_DEFAULT, 0, 60 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("finsec.lockout_by_address",
							 "Count failures and lock per role and client address.",
							 "On: guessing from one address locks the role only from that "
							 "address. Off: the role is locked from everywhere.",
							 &finsec_lockout_by_address,
							 FINSEC_LOCKOUT_BY_ADDRESS_DEFAULT,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("finsec.lockout_exempt_roles",
							   "Roles never locked out (a break-glass role, say).",
							   "Comma-separated role names. Their failed logins are still logged "
							   "and delayed.",
							   &finsec_lockout_exempt_roles,
							   FINSEC_LOCKOUT_EXEMPT_ROLES_DEFAULT,
							   PGC_SIGHUP, GUC_LIST_INPUT,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.password_expiry_warning",
							"Warn at login when the password expires within this time.",
							"The warning comes with the session's first statement (PostgreSQL "
							"sends only errors during authentication). 0 turns it off.",
							&finsec_password_expiry_warning_s,
							FINSEC_PASSWORD_EXPIRY_WARNING_DEFAULT, 0, 365 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomStringVariable("finsec.auth_audit_database",
							   "The database whose audit ledger records authentication events.",
							   "Failed logins, locks and refused locked logins are queued in shared "
							   "memory and written by this database's sealer. Empty: the first "
							   "database of finsec.audit_seal_databases.",
							   &finsec_auth_audit_database,
							   FINSEC_AUTH_AUDIT_DATABASE_DEFAULT,
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);
}
