/*-------------------------------------------------------------------------
 *
 * risk_internal.h
 *	  Shared between finsec's risk scoring (src/risk/score.c and friends)
 *	  and its decision log (src/risk/log.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_RISK_INTERNAL_H
#define FINSEC_RISK_INTERNAL_H

#include "datatype/timestamp.h"

/* The decision log's settings (log.c), for finsec_risk_define_settings(). */
extern void finsec_risk_define_log_settings(void);

typedef enum RiskDecisionKind
{
	RISK_ALLOW = 0,
	RISK_CHALLENGE,
	RISK_REVIEW,
	RISK_BLOCK
} RiskDecisionKind;

#define RISK_DECISION_KINDS		4

extern const char *const finsec_risk_decision_names[RISK_DECISION_KINDS];

/* Rules named in one log record; more fired rules set rules_truncated. */
#define RISK_LOG_MAX_RULES		64

/*
 * Entity values recorded with a decision.  A value longer than
 * RISK_LOG_VALUE_LEN - 1 bytes is recorded as "sha256:" and the first
 * 56 hex digits of its SHA-256 (risk_log_value()), so that cases can still
 * match it against list entries made from the same value.  A card key
 * ("v<N>:" and 64 hex digits, at most 76 bytes) is always kept whole, so
 * that a case can put the card on a list.
 */
#define RISK_LOG_VALUE_LEN		80

typedef enum RiskLogEntity
{
	RISK_ENT_CUSTOMER = 0,
	RISK_ENT_ACCOUNT,
	RISK_ENT_COUNTERPARTY,
	RISK_ENT_DEVICE,
	RISK_ENT_IP,
	RISK_ENT_PHONE,
	RISK_ENT_MERCHANT,
	RISK_ENT_CARD,				/* finsec.risk_card_key() of the card */
	RISK_ENT_REGION,
	RISK_ENT_REFERENCE,			/* the application's payment reference */
	RISK_LOG_ENTITIES
} RiskLogEntity;

extern const char *const finsec_risk_entity_names[RISK_LOG_ENTITIES];

/*
 * One decision to log, as risk_score() hands it to the log.  Fixed size:
 * it is copied into a shared-memory buffer as is.
 */
typedef struct RiskLogEvent
{
	int64		decision_id;	/* nextval of finsec.risk_decision_id_seq */
	TimestampTz decided_at;		/* clock time of the scoring */
	TimestampTz payment_at;		/* the payment's own time */
	Oid			dbid;
	Oid			relid;			/* payments table read, or InvalidOid */
	Oid			userid;			/* current role */
	Oid			sessionid;		/* session_user */
	int64		ruleset_version;
	int64		score_e4;		/* score x 10^4 */
	int32		decision;		/* RiskDecisionKind */
	bool		degraded;
	bool		rules_truncated;
	int16		nrules;
	uint64		shadow_mask;	/* bit i set: rules[i] is a shadow rule */
	int64		rules[RISK_LOG_MAX_RULES];	/* rule_id of every rule that
											 * fired */
	char		entity[RISK_LOG_ENTITIES][RISK_LOG_VALUE_LEN];	/* "" = none */
} RiskLogEvent;

/* The decision log's counters in shared memory (src/risk/shared.c). */
typedef enum RiskLogStat
{
	RISK_LOGSTAT_WAITS,			/* decisions that waited for room */
	RISK_LOGSTAT_WAIT_US,		/* microseconds waited, all together */
	RISK_LOGSTAT_REFUSED,		/* scoring calls refused: no room in time */
	RISK_LOGSTAT_REFUSED_REPORTED,	/* of them, reported to the ledger */
	RISK_LOGSTAT_FLUSHES,		/* batches inserted by flushes */
	RISK_LOGSTAT_FLUSHED,		/* decisions inserted by flushes */
	RISK_LOGSTAT_KINDS
} RiskLogStat;

extern void finsec_risk_logstat_add(int which, uint64 n);
extern uint64 finsec_risk_logstat_read(int which);

/* src/risk/log.c */
extern void finsec_risk_log_decision(const RiskLogEvent *ev);
extern void finsec_risk_log_value(char *dst, const char *src, int len);
extern bool finsec_risk_log_wanted(bool flagged);

#endif							/* FINSEC_RISK_INTERNAL_H */
