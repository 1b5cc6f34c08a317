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

extern void finsec_auth_init_hooks(void);

/* Called by the utility hook around every utility statement. */
extern void finsec_auth_before_utility(Node *parsetree);
extern void finsec_auth_after_utility(Node *parsetree);
extern void finsec_auth_utility_cleanup(void);

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

/* src/auth/profile.c */
extern bool finsec_password_profile_match(const char *username, const char *password,
										  bool schema_keyed);

#endif							/* FINSEC_AUTH_H */
