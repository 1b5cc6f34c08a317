/*-------------------------------------------------------------------------
 *
 * finsec_limits.h
 *	  Transaction limits, account state and loss controls on the
 *	  application's payments table (requirements L1-L4): public C API and
 *	  settings.  docs/limits.md describes the model.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_LIMITS_H
#define FINSEC_LIMITS_H

#include "fmgr.h"

/* Name of the trigger finsec.enable_limits() creates. */
#define FINSEC_LIMITS_TRIGGER	"finsec_limits"

/* Settings (src/limits/limits.c, refusals.c) and their defaults. */
extern void finsec_limits_define_settings(void);
extern char *finsec_limit_timezone;
extern int	finsec_limit_batch_size;
extern int	finsec_limit_refusal_retention_minutes;
#define FINSEC_LIMIT_TIMEZONE_DEFAULT "Asia/Shanghai"
#define FINSEC_LIMIT_BATCH_SIZE_DEFAULT 262144
#define FINSEC_LIMIT_REFUSAL_RETENTION_DEFAULT (180 * 24 * 60)	/* minutes */
extern void finsec_limits_init_hooks(void);

/*
 * Refusals (src/limits/refusals.c): per-rule counters and a buffer of
 * refusal events in shared memory, recorded in finsec.limit_refusal by
 * finsec.flush_limit_refusals() and by a finsec worker task.
 */
extern int	finsec_limit_refusal_slots; /* finsec.limit_refusal_buffer */
#define FINSEC_LIMIT_REFUSAL_BUFFER_DEFAULT 1024
extern void finsec_limits_shmem_init(void);

/*
 * Count a refusal of the limit trigger: rule (FinsecLimitRule), the limited
 * table (root of a partition tree; InvalidOid if unknown) and the policy's
 * name for limit breaches (NULL otherwise).  Must not throw: called right
 * before ereport(ERROR).  Never pass personal data.
 */
extern void finsec_limits_count_refusal(int rule, Oid relid, const char *policy);

/*
 * Refusal rules counted in shared memory, one counter each; the view
 * finsec.limit_refusals names them.  Append only: the numbers are shown.
 */
typedef enum FinsecLimitRule
{
	LIMIT_RULE_SINGLE = 0,
	LIMIT_RULE_DAY,
	LIMIT_RULE_YEAR,
	LIMIT_RULE_LIFETIME,
	LIMIT_RULE_STEP_UP,
	LIMIT_RULE_FROZEN,
	LIMIT_RULE_CLOSED,
	LIMIT_RULE_CHANNEL_OFF,
	LIMIT_RULE_RESTRICTED,
	LIMIT_RULE_HOLD,
	LIMIT_RULE_POSTED,
	LIMIT_RULE_COUNT			/* number of rules, not a rule */
} FinsecLimitRule;

#endif							/* FINSEC_LIMITS_H */
