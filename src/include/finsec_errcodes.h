/*-------------------------------------------------------------------------
 *
 * finsec_errcodes.h
 *	  finsec's own SQLSTATE class "S9" for its refusals.
 *
 * SQLSTATE classes starting with a letter from I to Z are left to
 * implementations by the SQL standard; PostgreSQL does not use class S9.
 * Applications branch on these codes (docs/errors.md lists them); each
 * capability adds its codes here so that they stay unique.
 *
 * Conditions that PostgreSQL already has a code for (privilege, invalid
 * parameter, prerequisite state) use PostgreSQL's code, not one of these.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_ERRCODES_H
#define FINSEC_ERRCODES_H

#include "utils/elog.h"

/* S9000: generic finsec refusal (class code, not raised directly). */
#define ERRCODE_FINSEC_REFUSAL				MAKE_SQLSTATE('S','9','0','0','0')

/* S9Uxx: audit ledger and protected tables */
#define ERRCODE_FINSEC_LEDGER_IMMUTABLE		MAKE_SQLSTATE('S','9','U','0','1')
#define ERRCODE_FINSEC_AUDIT_CAPACITY		MAKE_SQLSTATE('S','9','U','0','2')
#define ERRCODE_FINSEC_RETENTION			MAKE_SQLSTATE('S','9','U','0','3')
#define ERRCODE_FINSEC_LEDGER_PROTECTED		MAKE_SQLSTATE('S','9','U','0','4')
#define ERRCODE_FINSEC_LEDGER_FOREIGN		MAKE_SQLSTATE('S','9','U','0','5')
#define ERRCODE_FINSEC_CHAIN_TABLE_GONE		MAKE_SQLSTATE('S','9','U','0','6')
#define ERRCODE_FINSEC_OBJECT_PROTECTED		MAKE_SQLSTATE('S','9','U','0','7')
#define ERRCODE_FINSEC_AUDIT_BUFFER_FULL	MAKE_SQLSTATE('S','9','U','2','0')
#define ERRCODE_FINSEC_EVENT_RESERVED		MAKE_SQLSTATE('S','9','U','2','1')
#define ERRCODE_FINSEC_KEY_IMPORT_LOGGED	MAKE_SQLSTATE('S','9','U','2','2')

/* S9Axx: credentials and authentication */
#define ERRCODE_FINSEC_PASSWORD_POLICY		MAKE_SQLSTATE('S','9','A','0','1')
#define ERRCODE_FINSEC_ROLE_LOCKED			MAKE_SQLSTATE('S','9','A','0','2')
#define ERRCODE_FINSEC_PASSWORD_KEY			MAKE_SQLSTATE('S','9','A','1','0')
#define ERRCODE_FINSEC_RULESET_INTEGRITY	MAKE_SQLSTATE('S','9','A','1','1')

/* S9Kxx: keyring */
#define ERRCODE_FINSEC_NO_MASTER_KEY		MAKE_SQLSTATE('S','9','K','0','1')
#define ERRCODE_FINSEC_MASTER_KEY_MISMATCH	MAKE_SQLSTATE('S','9','K','0','2')
#define ERRCODE_FINSEC_KEY_MISUSE			MAKE_SQLSTATE('S','9','K','0','3')
#define ERRCODE_FINSEC_KEY_STATE			MAKE_SQLSTATE('S','9','K','0','4')
#define ERRCODE_FINSEC_KEY_INTEGRITY		MAKE_SQLSTATE('S','9','K','0','5')

/* S9Rxx: two-person approval of changes */
#define ERRCODE_FINSEC_APPROVAL_REFUSED		MAKE_SQLSTATE('S','9','R','0','1')
#define ERRCODE_FINSEC_REQUEST_EXPIRED		MAKE_SQLSTATE('S','9','R','0','2')
#define ERRCODE_FINSEC_REQUEST_NOT_PENDING	MAKE_SQLSTATE('S','9','R','0','3')

/* S9Gxx: replay and duplicate-payment guards (src/guard) */
#define ERRCODE_FINSEC_NONCE_REPLAY			MAKE_SQLSTATE('S','9','G','0','1')
#define ERRCODE_FINSEC_NONCE_STALE			MAKE_SQLSTATE('S','9','G','0','2')
#define ERRCODE_FINSEC_NONCE_FUTURE			MAKE_SQLSTATE('S','9','G','0','3')
#define ERRCODE_FINSEC_ORDER_ALREADY_PAID	MAKE_SQLSTATE('S','9','G','1','1')
#define ERRCODE_FINSEC_ORDER_PAID_CANCEL	MAKE_SQLSTATE('S','9','G','1','2')
#define ERRCODE_FINSEC_REFUND_EXCEEDS_PAID	MAKE_SQLSTATE('S','9','G','1','3')
#define ERRCODE_FINSEC_ORDER_STATE			MAKE_SQLSTATE('S','9','G','1','4')
#define ERRCODE_FINSEC_CURRENCY_MISMATCH	MAKE_SQLSTATE('S','9','G','1','5')

/* S9Sxx: signatures (proof of origin and of receipt) */
#define ERRCODE_FINSEC_SIGNATURE_KEY_POLICY	MAKE_SQLSTATE('S','9','S','0','1')
#define ERRCODE_FINSEC_SIGNER_REVOKED		MAKE_SQLSTATE('S','9','S','0','2')
#define ERRCODE_FINSEC_CERTIFICATE_VALIDITY	MAKE_SQLSTATE('S','9','S','0','3')
#define ERRCODE_FINSEC_SIGNATURE_INVALID	MAKE_SQLSTATE('S','9','S','0','4')

/* S9Lxx: transaction limits and account control (src/limits) */
#define ERRCODE_FINSEC_LIMIT_EXCEEDED		MAKE_SQLSTATE('S','9','L','0','1')
#define ERRCODE_FINSEC_LIMIT_STEP_UP		MAKE_SQLSTATE('S','9','L','0','2')
#define ERRCODE_FINSEC_ACCOUNT_FROZEN		MAKE_SQLSTATE('S','9','L','0','3')
#define ERRCODE_FINSEC_ACCOUNT_CLOSED		MAKE_SQLSTATE('S','9','L','0','4')
#define ERRCODE_FINSEC_CHANNEL_OFF			MAKE_SQLSTATE('S','9','L','0','5')
#define ERRCODE_FINSEC_ACCOUNT_RESTRICTED	MAKE_SQLSTATE('S','9','L','0','6')
#define ERRCODE_FINSEC_PAYMENT_POSTED		MAKE_SQLSTATE('S','9','L','0','7')
#define ERRCODE_FINSEC_REVERSAL_UNLINKED	MAKE_SQLSTATE('S','9','L','1','0')
#define ERRCODE_FINSEC_REVERSAL_EXCEEDS		MAKE_SQLSTATE('S','9','L','1','1')
#define ERRCODE_FINSEC_LIMITED_TABLE_DDL	MAKE_SQLSTATE('S','9','L','1','2')
#define ERRCODE_FINSEC_LIMIT_TRIGGER_FORGED	MAKE_SQLSTATE('S','9','L','1','3')
#define ERRCODE_FINSEC_REGISTERED_TABLE_DDL	MAKE_SQLSTATE('S','9','L','1','4')

/* S9Txx: what finsec runs on application tables (src/common/trusted.c) */
#define ERRCODE_FINSEC_UNTRUSTED_TYPE		MAKE_SQLSTATE('S','9','T','0','1')

/* S9Cxx: protected card and account numbers (src/card) */
#define ERRCODE_FINSEC_CARD_PROBE_BUDGET	MAKE_SQLSTATE('S','9','C','0','1')

/* S9P01-S9P19: protected personal data, core (src/protect/value.c, policy.c) */
#define ERRCODE_FINSEC_PROTECT_NO_POLICY	MAKE_SQLSTATE('S','9','P','0','1')
#define ERRCODE_FINSEC_PROTECT_POLICY_IN_USE	MAKE_SQLSTATE('S','9','P','0','2')
#define ERRCODE_FINSEC_PROTECT_POLICY_MISMATCH	MAKE_SQLSTATE('S','9','P','0','3')
#define ERRCODE_FINSEC_PROTECT_NO_FINGERPRINT	MAKE_SQLSTATE('S','9','P','0','4')
#define ERRCODE_FINSEC_PROTECT_PROBE_BUDGET	MAKE_SQLSTATE('S','9','P','0','5')
#define ERRCODE_FINSEC_PROTECT_UNREADABLE	MAKE_SQLSTATE('S','9','P','0','6')
#define ERRCODE_FINSEC_PROTECT_POLICY_COMPARE	MAKE_SQLSTATE('S','9','P','0','7')
#define ERRCODE_FINSEC_PROTECT_UNBOUND_COLUMN	MAKE_SQLSTATE('S','9','P','0','8')
#define ERRCODE_FINSEC_PROTECT_REKEY_WEAKER	MAKE_SQLSTATE('S','9','P','0','9')
#define ERRCODE_FINSEC_PROTECT_POLICY_KEYS	MAKE_SQLSTATE('S','9','P','1','0')

/* S9P20-S9P39: protected data, reveal gate and period keys (src/protect) */
#define ERRCODE_FINSEC_REVEAL_BUDGET		MAKE_SQLSTATE('S','9','P','2','0')
#define ERRCODE_FINSEC_PROTECT_SHREDDED		MAKE_SQLSTATE('S','9','P','2','1')
#define ERRCODE_FINSEC_PROTECT_NOT_PERIOD	MAKE_SQLSTATE('S','9','P','2','2')
/* S9P23: more than 120 periods in one protect_period_keys request (SQL) */
#define ERRCODE_FINSEC_PROTECT_PERIOD_SHREDDED	MAKE_SQLSTATE('S','9','P','2','4')
/* S9P25: every period key asked for exists; S9P26: period not ended;
 * S9P27: the period has no keys to shred (SQL) */
#define ERRCODE_FINSEC_PROTECT_PERIOD_DATE	MAKE_SQLSTATE('S','9','P','2','8')
#define ERRCODE_FINSEC_PROTECT_CANNOT_RESEAL	MAKE_SQLSTATE('S','9','P','2','9')
#define ERRCODE_FINSEC_PROTECT_PERIOD_DDL	MAKE_SQLSTATE('S','9','P','3','0')

/* S9Xxx: risk scoring (src/risk) */
#define ERRCODE_FINSEC_RISK_RATE_LIMITED	MAKE_SQLSTATE('S','9','X','0','1')

/* S9P40-S9P59: sensitivity labels (src/protect/label.c) */
#define ERRCODE_FINSEC_LABEL_LOWERING		MAKE_SQLSTATE('S','9','P','4','0')
#define ERRCODE_FINSEC_LABEL_CHANGED		MAKE_SQLSTATE('S','9','P','4','1')
#define ERRCODE_FINSEC_LABEL_UNAUDITABLE	MAKE_SQLSTATE('S','9','P','4','2')
#define ERRCODE_FINSEC_LABEL_WOULD_DROP		MAKE_SQLSTATE('S','9','P','4','3')
#define ERRCODE_FINSEC_LABEL_DDL			MAKE_SQLSTATE('S','9','P','4','4')
#define ERRCODE_FINSEC_LABEL_STATISTICS		MAKE_SQLSTATE('S','9','P','4','5')

/*
 * S9Dxx: credit data (src/credit), one range per part:
 *   S9D01-S9D19 registration (register.c)
 *   S9D20-S9D39 query log (query.c)
 *   S9D40-S9D49 anonymity engine (ladder.c, anon.c)
 *   S9D50-S9D59 de-identification (deid.c)
 *   S9D60-S9D79 disputes and registry (dispute.c, registry.c)
 *   S9D80-S9D89 outbound links (outbound.c)
 */
/* registration (register.c, section 2; docs/credit.md) */
/* S9D01: the table cannot be registered (kind, partitions, inheritance, rules, RLS, rows, registered) */
#define ERRCODE_FINSEC_CREDIT_TABLE			MAKE_SQLSTATE('S','9','D','0','1')
/* S9D02: a column has no role, two roles, or is finsec's own */
#define ERRCODE_FINSEC_CREDIT_ROLE			MAKE_SQLSTATE('S','9','D','0','2')
/* S9D03: a column's type or constraints do not fit its role */
#define ERRCODE_FINSEC_CREDIT_COLUMN_TYPE	MAKE_SQLSTATE('S','9','D','0','3')
/* S9D04: the policy is not a period policy with per-period fingerprints */
#define ERRCODE_FINSEC_CREDIT_POLICY		MAKE_SQLSTATE('S','9','D','0','4')
/* S9D05: k, l, max_suppression or action out of range */
#define ERRCODE_FINSEC_CREDIT_PARAMETER		MAKE_SQLSTATE('S','9','D','0','5')
/* S9D06: retention is not the legal 5 years (credit.retention override) */
#define ERRCODE_FINSEC_CREDIT_RETENTION		MAKE_SQLSTATE('S','9','D','0','6')
/* S9D07: an inserted record's retention has already ended */
#define ERRCODE_FINSEC_CREDIT_EXPIRED		MAKE_SQLSTATE('S','9','D','0','7')
/* S9D08: an inserted record's institution is not an active provider */
#define ERRCODE_FINSEC_CREDIT_INSTITUTION	MAKE_SQLSTATE('S','9','D','0','8')
/* S9D09: DDL refused on a registered table or an archive table */
#define ERRCODE_FINSEC_CREDIT_DDL			MAKE_SQLSTATE('S','9','D','0','9')
/* S9D10: unregistration refused (open disputes) */
#define ERRCODE_FINSEC_CREDIT_UNREGISTER	MAKE_SQLSTATE('S','9','D','1','0')

/* query log */
#define ERRCODE_FINSEC_CREDIT_NOT_REGISTERED	MAKE_SQLSTATE('S','9','D','2','0')
#define ERRCODE_FINSEC_CREDIT_NOT_USER		MAKE_SQLSTATE('S','9','D','2','1')
#define ERRCODE_FINSEC_CREDIT_USER_INSTITUTION	MAKE_SQLSTATE('S','9','D','2','2')
#define ERRCODE_FINSEC_CREDIT_USER_SUSPENDED	MAKE_SQLSTATE('S','9','D','2','3')
#define ERRCODE_FINSEC_CREDIT_REASON_MISSING	MAKE_SQLSTATE('S','9','D','2','4')
#define ERRCODE_FINSEC_CREDIT_REASON_UNKNOWN	MAKE_SQLSTATE('S','9','D','2','5')
#define ERRCODE_FINSEC_CREDIT_REASON_DISPUTE	MAKE_SQLSTATE('S','9','D','2','6')
#define ERRCODE_FINSEC_CREDIT_REASON_NOT_DISPUTE	MAKE_SQLSTATE('S','9','D','2','7')
#define ERRCODE_FINSEC_CREDIT_DISPUTE_BINDING	MAKE_SQLSTATE('S','9','D','2','8')
#define ERRCODE_FINSEC_CREDIT_SUSPENDED_NOW	MAKE_SQLSTATE('S','9','D','2','9')
#define ERRCODE_FINSEC_CREDIT_ISOLATION		MAKE_SQLSTATE('S','9','D','3','0')
/* S9D31: invalid reason code; S9D32: invalid credit user or duties;
 * S9D33: credit user not suspended (restore) (SQL) */
#define ERRCODE_FINSEC_CREDIT_BATCH			MAKE_SQLSTATE('S','9','D','3','4')
#define ERRCODE_FINSEC_CREDIT_SUBJECT		MAKE_SQLSTATE('S','9','D','3','5')

/* anonymity engine */
/* S9D40: a quasi-identifier's ladder is not valid; S9D41: its map does not exist (ladder.c) */
#define ERRCODE_FINSEC_CREDIT_LADDER		MAKE_SQLSTATE('S','9','D','4','0')
#define ERRCODE_FINSEC_CREDIT_LADDER_MAP	MAKE_SQLSTATE('S','9','D','4','1')
/* S9D42: bad input to the engine (deid_evaluate); S9D43: deid_aggregate refused (anon.c, anon_sql.c) */
#define ERRCODE_FINSEC_CREDIT_ANON_INPUT	MAKE_SQLSTATE('S','9','D','4','2')
#define ERRCODE_FINSEC_CREDIT_AGGREGATE		MAKE_SQLSTATE('S','9','D','4','3')

/* de-identification */
#define ERRCODE_FINSEC_DEID_NOT_REGISTERED	MAKE_SQLSTATE('S','9','D','5','0')
#define ERRCODE_FINSEC_DEID_ISOLATION		MAKE_SQLSTATE('S','9','D','5','1')
#define ERRCODE_FINSEC_DEID_REFUSED			MAKE_SQLSTATE('S','9','D','5','2')
#define ERRCODE_FINSEC_DEID_TARGET			MAKE_SQLSTATE('S','9','D','5','3')
/* S9D54: finsec.deid_batch is append-only (SQL) */
#define ERRCODE_FINSEC_DEID_VALUE			MAKE_SQLSTATE('S','9','D','5','5')

/* disputes and registry */
#define ERRCODE_FINSEC_CREDIT_RECORD_NOT_FOUND	MAKE_SQLSTATE('S','9','D','6','0')
#define ERRCODE_FINSEC_CREDIT_SUBJECT_MISMATCH	MAKE_SQLSTATE('S','9','D','6','1')
/* S9D62: handler not a credit user with the duty dispute (SQL) */
/* S9D63: dispute not open; S9D64: resolution before any check (SQL) */
#define ERRCODE_FINSEC_CREDIT_RECORD_VERIFIED	MAKE_SQLSTATE('S','9','D','6','5')
#define ERRCODE_FINSEC_CREDIT_BAD_CORRECTION	MAKE_SQLSTATE('S','9','D','6','6')
/* S9D67: statement for another outcome, or too long (SQL) */
#define ERRCODE_FINSEC_CREDIT_DISPUTE_TABLE	MAKE_SQLSTATE('S','9','D','6','8')
/* S9D69: 'corrected' only through credit_correction (SQL) */
/*
 * S9D70-S9D79 (SQL): institution code/name/kind invalid (70), already
 * registered (71), status change not allowed (72), deregistration with open
 * disputes (73), institution not registered/active/a provider (74), data
 * file already registered (75), bad file/exchange input (76), file result
 * or feedback out of order (77), activation without assessment (79).
 */

/* outbound links */
/* S9D80: not an allow-list pattern; S9D81: a pattern too broad (a range wider
 * than /8 or /16, a suffix of one label); S9D82: the pattern is already
 * allowed; S9D83: the pattern is not in the list; S9D84: a region that is not
 * an ISO 3166 two-letter code (SQL, finsec--1.1--1.2.sql section 7) */

/* S9Qxx: compliance self-check and reports (all raised in SQL,
 * finsec--1.2--1.3.sql; docs/compliance.md, docs/errors.md): S9Q01-S9Q09
 * the catalog, the dispatcher and exclusions; S9Q10 a check's arguments;
 * S9Q30-S9Q32 the backup register; S9Q40-S9Q46 the reports; S9Q51-S9Q52
 * the printable report. */

#endif							/* FINSEC_ERRCODES_H */
