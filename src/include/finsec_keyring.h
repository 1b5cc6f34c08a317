/*-------------------------------------------------------------------------
 *
 * finsec_keyring.h
 *	  The keyring: public C API for capabilities that use keys.
 *
 * Keys live in finsec.key / finsec.key_version only wrapped (AES-256-GCM)
 * under a master key loaded by the postmaster (finsec.master_key_file or
 * finsec.master_key_command) that never enters a table.  Capabilities never
 * see wrapped bytes or the master key: they ask for a key by label and
 * purpose and get the unwrapped material, which lives in a per-backend cache
 * that is zeroized on key state change, at transaction end when caching is
 * off, and at backend exit.  docs/keyring.md describes the model.
 *
 * Rules for callers (requirement D5):
 *	- never copy material into memory you do not zeroize (explicit_bzero)
 *	  before freeing; give it to OpenSSL directly (EVP copies it);
 *	- never put material, or anything derived from it other than a MAC
 *	  output, into an error, a log line or a NOTICE;
 *	- the pointer is valid until the end of the transaction, across further
 *	  finsec_key_* calls: a cache made stale by a key change is retired,
 *	  not freed, until then (keyring.c, key_cache_retire).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_KEYRING_H
#define FINSEC_KEYRING_H

#include "nodes/pg_list.h"

typedef enum FinsecKeyPurpose
{
	FINSEC_KEY_MAC = 0,			/* message authentication codes */
	FINSEC_KEY_ENCRYPTION,		/* data encryption (card numbers, ...) */
	FINSEC_KEY_FINGERPRINT,		/* keyed hashes for equality: fingerprints,
								 * one-time code and password hashes */
	FINSEC_KEY_PSEUDONYM,		/* keyed pseudonymisation (de-identification) */
	FINSEC_KEY_SIGNING			/* private keys for signatures */
} FinsecKeyPurpose;

#define FINSEC_KEY_ALGORITHM_MAXLEN 32

typedef struct FinsecKey
{
	int64		key_id;
	int32		version;
	FinsecKeyPurpose purpose;
	char		label[NAMEDATALEN];
	char		algorithm[FINSEC_KEY_ALGORITHM_MAXLEN];
	bool		active;			/* false: retired, usable to verify/decrypt */
	const unsigned char *material;	/* symmetric key bytes, or for signing
									 * keys a DER PKCS#8 private key */
	size_t		length;

	/*
	 * A consumer (e.g. the MAC functions) may keep state derived from the key
	 * here, such as an initialised OpenSSL context, through
	 * finsec_key_set_consumer_state(); the keyring calls free_fn on it when
	 * the key leaves the cache.  free_fn must zeroize what it frees.
	 */
	void	   *consumer_state;
	void		(*consumer_free) (void *state);
} FinsecKey;

/*
 * The active version of the key with this label.  Raises an ERROR (with the
 * SQLSTATEs of docs/errors.md) when there is no master key, no such key, the
 * key's purpose is not "purpose", its algorithm is not "algorithm" (unless
 * NULL), or it has no active version.
 */
extern const FinsecKey *finsec_key_active(const char *label, FinsecKeyPurpose purpose,
										  const char *algorithm);

/*
 * Every version of the key usable to verify or decrypt, active first, then
 * retired ones newest first; the same checks and errors as
 * finsec_key_active except that a key with only retired versions is
 * accepted.  A List of const FinsecKey *, valid like material above.
 */
extern List *finsec_key_usable(const char *label, FinsecKeyPurpose purpose,
							   const char *algorithm);

/* A specific version (active or retired; never pending or destroyed). */
extern const FinsecKey *finsec_key_version(const char *label, FinsecKeyPurpose purpose,
										   int32 version);

/*
 * The same, except that it returns NULL, rather than raising, when this
 * database's keyring holds no version of the key in any state: no key with
 * this label, or a key row without version rows.  That is the state of a
 * database that pg_restore (or a parallel pg_restore) is filling before it
 * has loaded finsec.key and finsec.key_version; any other problem (wrong
 * master key, altered rows, a destroyed or unknown version) still raises.
 */
extern const FinsecKey *finsec_key_version_if_present(const char *label, FinsecKeyPurpose purpose,
													  int32 version);

/* What finsec_key_version_lookup() found. */
typedef enum FinsecKeyLookup
{
	FINSEC_KEY_LOOKUP_FOUND = 0,	/* usable (active or retired): *key set */
	FINSEC_KEY_LOOKUP_ABSENT,	/* no key with this label, or no version rows
								 * of it at all (a restore in progress) */
	FINSEC_KEY_LOOKUP_DESTROYED,	/* that version was destroyed */
	FINSEC_KEY_LOOKUP_PROBLEM	/* anything else: no master key, another
								 * purpose, a pending or unknown version, rows
								 * that fail their integrity check */
} FinsecKeyLookup;

/*
 * The state of one version of a key, without raising (for output
 * functions, which must be total): the failure of the keyring's own read
 * is caught in a subtransaction and reported as PROBLEM.  Only in
 * parallel mode, where no subtransaction can start, can the first read of
 * a key raise.
 */
extern FinsecKeyLookup finsec_key_version_lookup(const char *label, FinsecKeyPurpose purpose,
												 int32 version, const FinsecKey **key);

/* The keyring's settings, master key included (src/keyring/settings.c). */
extern void finsec_keyring_define_settings(void);

/*
 * Count one use of key for "operation" (e.g. "mac", "verify", "sign").
 * Counts are aggregated per statement and written to the audit ledger at
 * its end, so hot paths cost a hash-table increment.
 */
extern void finsec_key_note_use(const FinsecKey *key, const char *operation);

/*
 * A number that changes whenever a FinsecKey pointer the keyring returned
 * may have become invalid (the keyring changed, the cache was purged or
 * retired).  A caller that keeps the pointers of finsec_key_active() and
 * friends across calls (a policy's keys for a whole COPY) re-resolves them
 * when the number differs from the one it saw: while it is unchanged the
 * pointers stay valid, also across transactions (finsec.key_cache off
 * purges at every transaction end, which changes it).  Calling it processes
 * a pending keyring change first, as every key lookup does.
 */
extern uint64 finsec_key_cache_generation(void);

extern void finsec_key_set_consumer_state(const FinsecKey *key, void *state,
										  void (*free_fn) (void *state));

extern const char *finsec_key_purpose_name(FinsecKeyPurpose purpose);

/* Whether the postmaster loaded a master key (for status rows, hints). */
extern bool finsec_master_key_loaded(void);

/* ---- signing keys (src/signature), used by the keyring ---------------- */

/*
 * Generate a private key for a signing algorithm the keyring accepts
 * ("ec-p256", "sm2", "rsa-2048", "rsa-3072", "rsa-4096"), as DER PKCS#8 in
 * palloc'd memory the caller zeroizes; *len receives its length.
 */
/* A finsec_secret_alloc buffer: release it with finsec_secret_free, never pfree. */
extern unsigned char *finsec_sig_keygen(const char *algorithm, size_t *len);

/*
 * Check that der (a DER PKCS#8 private key being imported) is a key of
 * "algorithm" that the signature policy accepts; ERROR otherwise.
 */
extern void finsec_sig_check_private(const char *algorithm,
									 const unsigned char *der, size_t len);

/* The DER SubjectPublicKeyInfo of a DER PKCS#8 private key (palloc'd). */
extern bytea *finsec_sig_public_der(const unsigned char *der, size_t len);

/* Whether "algorithm" names a signing algorithm finsec_sig_keygen knows. */
extern bool finsec_sig_algorithm_known(const char *algorithm);

/* Called by _PG_init when preloaded: read the master key, set up the key cache. */
extern void finsec_master_key_load(void);
extern void finsec_keyring_init(void);

#endif							/* FINSEC_KEYRING_H */
