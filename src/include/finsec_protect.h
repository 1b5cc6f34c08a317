/*-------------------------------------------------------------------------
 *
 * finsec_protect.h
 *	  Protected personal data (src/protect/, docs/protected-data.md):
 *	  finsec.protected_text and the protected identifier types, their
 *	  policies and period keys, the reveal gate every reveal() goes
 *	  through, and the finsec sensitivity-label provider.
 *
 * One implementation of sealing, fingerprinting, masking and reveal for
 * every protected type: the types differ only by their kind byte, their
 * input validation and their mask.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_PROTECT_H
#define FINSEC_PROTECT_H

#include "fmgr.h"
#include "utils/jsonb.h"

/* The kinds of protected value; stored in every value (never renumber). */
typedef enum FinsecProtectKind
{
	FINSEC_PROTECT_TEXT = 0,
	FINSEC_PROTECT_RESIDENT_ID = 1,
	FINSEC_PROTECT_USCC = 2,
	FINSEC_PROTECT_MOBILE = 3
} FinsecProtectKind;

/* A row of finsec.protect_policy, cached per backend (src/protect/policy.c). */
typedef struct FinsecProtectPolicy
{
	int32		policy_id;		/* the typmod; 0 for the built-in "default" */
	char		name[NAMEDATALEN];
	char		enc_key[NAMEDATALEN];	/* keyring label, purpose encryption */
	char		fp_key[NAMEDATALEN];	/* keyring label, purpose fingerprint;
										 * "" for no fingerprint */
	bool		fp_per_period;	/* fingerprint under "<fp_key>.<period>" */
	char		mask[16];		/* name, phone, address, email, none */
	char		period_unit[8]; /* "", day, month, year */
	char		label[32];		/* sensitivity label, authenticated */
} FinsecProtectPolicy;

/* Outcome of opening a value without raising (output functions, reveal). */
typedef enum FinsecProtectOpenStatus
{
	FINSEC_PROTECT_OPEN_OK = 0,
	FINSEC_PROTECT_OPEN_SHREDDED,	/* its key version was destroyed */
	FINSEC_PROTECT_OPEN_NO_KEY, /* no master key, or no such key (yet) */
	FINSEC_PROTECT_OPEN_INVALID /* failed authentication or structure */
} FinsecProtectOpenStatus;

/* ---- core (src/protect/value.c, policy.c) ------------------------------ */

/* The policy with this id (the typmod); ERROR when there is none. */
extern const FinsecProtectPolicy *finsec_protect_policy(int32 policy_id);

/* The period number of a date for a unit: yyyymmdd, yyyymm or yyyy. */
extern int32 finsec_protect_period_of(const char *unit, int32 date_adt);

/*
 * A new value of kind holding plain (len bytes, already validated and
 * canonical for identifier kinds) under policy p and period (0: none).
 */
extern struct varlena *finsec_protect_seal(FinsecProtectKind kind,
										   const FinsecProtectPolicy *p,
										   int32 period,
										   const char *plain, size_t len);

/*
 * Decrypt a (detoasted) value.  On OK, *plain is a palloc'd,
 * NUL-terminated copy the caller must explicit_bzero and pfree.
 */
extern FinsecProtectOpenStatus finsec_protect_open(const struct varlena *value,
												   char **plain, size_t *len);

/* What a value says about itself without decrypting. */
extern FinsecProtectKind finsec_protect_kind(const struct varlena *value);
extern int32 finsec_protect_value_policy(const struct varlena *value);
extern int32 finsec_protect_value_period(const struct varlena *value);

/*
 * Count a protected value of kind built from clear text against the
 * session user's probe budget (src/card/probe.c; S9P05 past it, audited
 * as protect.probe_refused / protect.probe_alert): its class is kind,
 * policy and masked form; fp its fingerprint.
 */
extern void finsec_protect_probe_count(int kind, int32 policy_id, const char *masked,
									   const uint8 *fp);

/* Whether the session user's constructions are counted (budget set, not superuser). */
extern bool finsec_protect_probe_wanted(void);

/* ---- reveal gate (src/protect/reveal.c) -------------------------------- */

/*
 * Every finsec.reveal() overload, cards and accounts included, calls
 * finsec_reveal_check_role() first (refuses non-members of finsec_unmask,
 * whatever the value), then, for a non-NULL value, finsec_reveal_record()
 * before decrypting: it counts the reveal against the session user's
 * finsec.reveal_budget (refused and durably audited past it) and writes
 * the durable audit row (event_type, e.g. "protect.reveal") that survives
 * the caller's rollback.  what names the kind in messages ("a protected
 * name", "a bank card number").
 */
extern void finsec_reveal_check_role(const char *what);
extern void finsec_reveal_record(const char *event_type, const char *what,
								 const char *reason, const char *context,
								 Jsonb *detail);

/* finsec.reveal_budget: reveals per minute per session user (0: no limit). */
#define FINSEC_REVEAL_BUDGET_DEFAULT 600
extern int	finsec_reveal_budget;

/*
 * finsec.protect_shredded_read: what reveal() and mask() give for a value
 * whose key version was destroyed: NULL, or ERROR S9P21
 * (ERRCODE_FINSEC_PROTECT_SHREDDED).
 */
typedef enum FinsecShreddedRead
{
	FINSEC_SHREDDED_READ_NULL = 0,
	FINSEC_SHREDDED_READ_ERROR
} FinsecShreddedRead;
extern int	finsec_protect_shredded_read;

/* ---- wiring (src/protect/settings.c) ----------------------------------- */

extern void finsec_protect_define_settings(void);	/* every finsec.* of
													 * protect */
extern void finsec_protect_init(void);	/* preloaded: hooks, shared memory */

/* Each part's own, called by the two above. */
extern void finsec_protect_core_define_settings(void);
extern void finsec_protect_reveal_define_settings(void);
extern void finsec_protect_label_define_settings(void);
extern void finsec_protect_reveal_init(void);
extern void finsec_protect_period_init(void);	/* period.c: DDL checks */
extern void finsec_protect_label_init(void);

#endif							/* FINSEC_PROTECT_H */
