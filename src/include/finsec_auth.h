/*-------------------------------------------------------------------------
 *
 * finsec_auth.h
 *	  Credential policy for database roles (docs/auth.md).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_AUTH_H
#define FINSEC_AUTH_H

#include "nodes/parsenodes.h"

extern int	finsec_password_min_length;
extern int	finsec_password_min_classes;
extern bool finsec_password_check_username;
extern bool finsec_password_reject_common;
extern int	finsec_password_max_age_minutes;
extern int	finsec_password_valid_until_mode;
extern bool finsec_password_allow_prehashed;
extern int	finsec_password_reuse_history;
extern char *finsec_password_history_database;

/* finsec.password_valid_until: what to do with a password without VALID UNTIL */
typedef enum FinsecValidUntilMode
{
	FINSEC_VALID_UNTIL_SET,		/* set it to now() + finsec.password_max_age */
	FINSEC_VALID_UNTIL_REFUSE,	/* refuse the statement */
	FINSEC_VALID_UNTIL_IGNORE	/* leave it (not compliant with A2) */
} FinsecValidUntilMode;

/* The credential policy's settings (src/auth/settings.c) and their defaults. */
extern void finsec_auth_define_settings(void);
#define FINSEC_PASSWORD_MIN_LENGTH_DEFAULT 8
#define FINSEC_PASSWORD_MIN_CLASSES_DEFAULT 3
#define FINSEC_PASSWORD_CHECK_USERNAME_DEFAULT true
#define FINSEC_PASSWORD_REJECT_COMMON_DEFAULT true
#define FINSEC_PASSWORD_MAX_AGE_DEFAULT (90 * 24 * 60)	/* minutes */
#define FINSEC_PASSWORD_VALID_UNTIL_DEFAULT FINSEC_VALID_UNTIL_SET
#define FINSEC_PASSWORD_ALLOW_PREHASHED_DEFAULT false
#define FINSEC_PASSWORD_REUSE_HISTORY_DEFAULT 5
#define FINSEC_PASSWORD_HISTORY_DATABASE_DEFAULT ""
#define FINSEC_MAX_AUTH_FAILURES_DEFAULT 5
#define FINSEC_LOCKOUT_DURATION_DEFAULT (30 * 60)	/* s */
#define FINSEC_AUTH_FAILURE_WINDOW_DEFAULT (15 * 60)	/* s */
#define FINSEC_AUTH_FAILURE_DELAY_DEFAULT 1000	/* ms */
#define FINSEC_LOCKOUT_BY_ADDRESS_DEFAULT false
#define FINSEC_LOCKOUT_EXEMPT_ROLES_DEFAULT ""
#define FINSEC_PASSWORD_EXPIRY_WARNING_DEFAULT (14 * 24 * 3600) /* s */
#define FINSEC_AUTH_AUDIT_DATABASE_DEFAULT ""

/* Registers auth's check_password, emit_log and ProcessUtility callbacks. */
extern void finsec_auth_init_hooks(void);

/* src/auth/history.c */
extern void finsec_password_history_check(const char *username, const char *password);

/*
 * Keyed history and profiles (history.c): rows are kept under the keyring
 * fingerprint key FINSEC_PASSWORD_KEY once it has an active or retired
 * version; rows of 0.7 (key_version NULL) are moved under it.
 */
#define FINSEC_PASSWORD_KEY "auth.password"
#define FINSEC_PASSWORD_HASH_LEN 32
struct FinsecKey;
extern const struct FinsecKey *finsec_password_key(bool *schema_keyed);
extern const struct FinsecKey *finsec_password_key_version(int32 version);
extern void finsec_password_keyed(const struct FinsecKey *key, const char *domain,
								  const unsigned char *in, size_t len, unsigned char *out);
extern int64 finsec_password_rekey_legacy(const struct FinsecKey *key);
extern void finsec_password_history_follow(Node *parsetree);

/* src/auth/lockout.c */
extern int	finsec_max_auth_failures;
extern int	finsec_lockout_duration_s;
extern int	finsec_auth_failure_window_s;
extern int	finsec_auth_failure_delay_ms;
extern char *finsec_lockout_exempt_roles;
extern bool finsec_lockout_by_address;
extern void finsec_lockout_init(void);
extern char *finsec_auth_audit_database;
extern int	finsec_password_expiry_warning_s;
extern bool finsec_auth_events_here(const char *dbname);

/* src/auth/lastlogin.c: the last successful login of each role */
extern void finsec_last_login_init(void);

/* src/auth/profile.c */
extern bool finsec_password_profile_match(const char *username, const char *password,
										  bool schema_keyed);

#endif							/* FINSEC_AUTH_H */
