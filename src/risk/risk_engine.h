/*-------------------------------------------------------------------------
 *
 * risk_engine.h
 *	  The risk scoring engine's internal types: compiled rules, one
 *	  payment's attributes, and what evaluating a rule found.
 *
 *	  rules.c    compiles the active ruleset (and checks rule parameters)
 *	  history.c  lists and payment history, read through their indexes
 *	  score.c    finsec.risk_score(): evaluation, decision, reasons, log
 *	  shared.c   settings, the per-role rate limit and decision counters
 *	  register.c finsec.enable_risk() and the payments-table map
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_RISK_ENGINE_H
#define FINSEC_RISK_ENGINE_H

#include "datatype/timestamp.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/pg_locale.h"
#include "pgtime.h"

#include "risk_internal.h"

/* Attributes of a payment that rules read. */
typedef enum RiskAttr
{
	RA_CUSTOMER = 0,
	RA_ACCOUNT,
	RA_COUNTERPARTY,
	RA_CURRENCY,
	RA_CHANNEL,
	RA_MCC,
	RA_DEVICE,
	RA_IP,
	RA_PHONE,
	RA_GEO,
	RA_REGION,
	RA_MERCHANT,
	RA_TIER,
	RA_CARD,
	RA_REFERENCE,
	RA_AMOUNT,
	RA_AT,
	RA_COUNT
} RiskAttr;

extern const char *const finsec_risk_attr_names[RA_COUNT];

/* Entities whose history velocity, first-seen, structuring and travel read. */
typedef enum RiskEntity
{
	RE_CUSTOMER = 0,
	RE_ACCOUNT,
	RE_DEVICE,
	RE_IP,
	RE_PHONE,
	RE_CARD,
	RE_MERCHANT,
	RE_PAIR,					/* payer -> payee: customer and counterparty */
	RE_COUNT
} RiskEntity;

extern const char *const finsec_risk_rule_entity_names[RE_COUNT];
extern const RiskAttr finsec_risk_entity_attr[RE_COUNT];

typedef enum RiskRuleKind
{
	RK_LIST = 0,
	RK_THRESHOLD,
	RK_VELOCITY,
	RK_FIRST_SEEN,
	RK_STRUCTURING,
	RK_TIME_OF_DAY,
	RK_TRAVEL,
	RK_MODEL
} RiskRuleKind;

typedef enum RiskMeasure
{
	RM_COUNT = 0,
	RM_SUM,
	RM_DISTINCT					/* distinct values of measure_attr */
} RiskMeasure;

typedef enum RiskOp
{
	ROP_GT = 0, ROP_GE, ROP_LT, ROP_LE, ROP_EQ, ROP_NE, ROP_IN, ROP_NOT_IN
} RiskOp;

typedef enum RiskColor
{
	RC_BLACK = 0, RC_GREY, RC_WHITE
} RiskColor;

/* List entity types (finsec.risk_list_entry.entity_type). */
typedef enum RiskListType
{
	RL_CUSTOMER = 0, RL_ACCOUNT, RL_CARD, RL_DEVICE, RL_IP, RL_PHONE, RL_MERCHANT, RL_COUNT
} RiskListType;

extern const char *const finsec_risk_list_type_names[RL_COUNT];

/* Conditions on the payment under which a rule applies ("when"). */
typedef struct RiskWhen
{
	int			ntexts[RA_COUNT];	/* per text attribute: allowed values */
	char	  **texts[RA_COUNT];
	Numeric		min_amount;		/* NULL: none */
	Numeric		max_amount;
	bool		has_max_tier;
	int32		max_tier;
} RiskWhen;

typedef struct RiskFeature
{
	int			source;			/* RF_* */
	int			rule;			/* index of the rule for RF_RULE/RF_FIRED */
	char	   *name;
	double		weight;
} RiskFeature;

#define RF_AMOUNT		0
#define RF_LOG_AMOUNT	1
#define RF_HOUR			2
#define RF_TIER			3
#define RF_RULE			4		/* another rule's observed value */
#define RF_FIRED		5		/* 1 if another rule fired */

typedef struct RiskRule
{
	int64		rule_id;
	char	   *name;
	char	   *code;
	char	   *category;
	RiskRuleKind kind;
	bool		shadow;
	int64		weight_e4;		/* weight x 10^4 */
	int			force;			/* RiskDecisionKind to impose, -1 none */
	bool		has_when;
	RiskWhen	when;

	/* list */
	RiskColor color;
	RiskListType list_type;
	bool		payee_side;
	bool		absent;			/* fires when the value is NOT on the list */

	/* threshold */
	RiskAttr	attr;
	RiskOp		op;
	Numeric		num_value;
	int			nvalues;
	char	  **values;

	/* velocity, first_seen, structuring, travel */
	RiskEntity	entity;
	int64		window_us;		/* velocity, structuring; travel "within";
								 * first_seen lookback (0 = all) */
	RiskMeasure measure;
	RiskAttr	measure_attr;	/* RM_DISTINCT; first_seen "of" */
	Numeric		max;			/* velocity: fires above */
	Numeric		threshold;		/* structuring */
	Numeric		lower;			/* structuring: threshold * (1 - below_pct /
								 * 100) */
	int64		min_count;

	/* time of day: minutes since midnight, [from, to) wrapping at midnight */
	int			from_min;
	int			to_min;
	pg_tz	   *tz;
	char	   *tzname;

	/* travel */
	double		max_kmh;		/* < 0: not set */
	double		max_km;
	double		min_km;

	/* model */
	double		intercept;
	double		min_probability;
	int			nfeatures;
	RiskFeature *features;

	char	   *threshold_text; /* for reasons */
} RiskRule;

typedef struct RiskRuleset
{
	int64		version;
	int64		challenge_e4;
	int64		review_e4;
	int64		block_e4;
	int			nrules;
	RiskRule   *rules;
	bool		needs_history;	/* velocity, first_seen, structuring or travel
								 * rules */
} RiskRuleset;

/* One payment to score. */
typedef struct RiskInput
{
	bool		present[RA_COUNT];
	char	   *text[RA_COUNT]; /* text form of every present attribute but
								 * amount, at, geo */
	Datum		ip;				/* inet */
	Datum		card;			/* finsec.bank_card */
	char	   *card_key;
	Numeric		amount;
	double		amount_d;
	TimestampTz at;
	int32		tier;
	double		lat;			/* geo: point(x = longitude, y = latitude) */
	double		lon;
	Oid			relid;			/* payments table for history, InvalidOid none */
} RiskInput;

/* What evaluating one rule found. */
typedef struct RiskHit
{
	bool		evaluated;
	bool		fired;
	bool		partial;		/* history scan stopped at
								 * finsec.risk_scan_limit */
	bool		unavailable;	/* needed state missing (no table, no index) */
	const char *why;
	double		observed;
	char	   *observed_text;
	double	   *contributions;	/* model: per feature */
	double		probability;
} RiskHit;

/* rules.c */
extern RiskRuleset *finsec_risk_active_ruleset(void);
extern void finsec_risk_compile_rule(RiskRule *r, const char *kind, Jsonb *params, MemoryContext cxt,
									 const char *const *rule_names, int nrules);
extern bool finsec_risk_when_matches(const RiskWhen *w, const RiskInput *in);

/* history.c */
extern void finsec_risk_probe_lists(const RiskRuleset *rs, const RiskInput *in, RiskHit *hits);
extern void finsec_risk_eval_history(const RiskRuleset *rs, const RiskInput *in, RiskHit *hits, bool *degraded);
extern void finsec_risk_history_invalidate(Oid relid);
extern bool finsec_risk_type_ok(RiskAttr a, Oid typ, const char **want);
extern bool finsec_risk_leaf_has_index(Oid table, int leafno, RiskEntity e, int of, Oid *leaf);
extern int	finsec_risk_table_leaves(Oid table);

/* shared.c */
extern char *finsec_risk_timezone;
extern int	finsec_risk_rate_limit;
extern int	finsec_risk_scan_limit; /* history.c */
#define FINSEC_RISK_TIMEZONE_DEFAULT "Asia/Shanghai"
#define FINSEC_RISK_RATE_LIMIT_DEFAULT 1000
#define FINSEC_RISK_SCAN_LIMIT_DEFAULT 10000
extern void finsec_risk_rate_check(void);
extern void finsec_risk_count_decision(int decision, bool degraded);

/* register.c */
typedef struct RiskTableMap
{
	Oid			relid;
	char	   *column[RA_COUNT];	/* NULL: not mapped */
} RiskTableMap;

extern RiskTableMap *finsec_risk_table_map(Oid relid, bool missing_ok);
extern Oid	finsec_risk_default_table(bool *ambiguous);

#endif							/* FINSEC_RISK_ENGINE_H */
