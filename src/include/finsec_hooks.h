/*-------------------------------------------------------------------------
 *
 * finsec_hooks.h
 *	  The hook registry: the one place that installs PostgreSQL's hooks
 *	  (src/common/hooks.c).
 *
 * A capability never assigns a PostgreSQL hook variable.  From its init
 * function (called by _PG_init, preloaded only) it registers a callback at
 * a position of the hook's enum below; finsec_hooks_install(), called once
 * at the end of _PG_init, installs each hook that has a callback, chaining
 * to the hook that was there before (another library's, as contrib does).
 * The order in which capabilities are initialised does not matter: the
 * enums alone decide the order, and each position holds one callback.
 *
 * How each hook runs (the previous hook is the one found at install time):
 *
 *	 hook					 previous hook	 finsec's callbacks
 *	 ----------------------- --------------- -------------------------------
 *	 ProcessUtility			 innermost		 wrappers, first = outermost
 *	 ExecutorRun			 innermost		 wrappers, first = outermost
 *	 ExecutorFinish			 innermost		 wrappers, first = outermost
 *	 object_access			 first			 then each callback in order
 *	 post_parse_analyze		 first			 then each callback in order
 *	 ExecutorCheckPerms		 first			 then each callback in order
 *	 ClientAuthentication	 first			 then each callback in order
 *	 shmem_request/startup	 first			 then each callback in order
 *	 check_password			 last			 each callback in order, first
 *	 emit_log				 last			 each callback in order, first
 *
 * A wrapper receives the hook's arguments in a call structure and calls
 * finsec_hooks_*_next() (at most once) where the standard function (or
 * the previous hook) is to run, so it can check before, act after, and
 * use PG_TRY/PG_CATCH/PG_FINALLY around the rest of the chain exactly as a
 * hook function would around prev_hook/standard_*.  The "next" helper runs
 * the following wrapper, and after the last one the previous hook or the
 * standard function.
 *
 * Not a hook and not installed here: audit/plcaller.c puts finsec's
 * PL/pgSQL plugin in the rendezvous variable "PLpgSQL_plugin"
 * (find_rendezvous_variable), passing every callback on to the plugin
 * that was there before; transaction callbacks (RegisterXactCallback) are
 * registered by the capabilities themselves.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_HOOKS_H
#define FINSEC_HOOKS_H

#include "catalog/objectaccess.h"
#include "commands/user.h"
#include "executor/executor.h"
#include "libpq/libpq-be.h"
#include "nodes/params.h"
#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "parser/parse_node.h"
#include "tcop/cmdtag.h"
#include "tcop/dest.h"
#include "tcop/utility.h"
#include "utils/elog.h"
#include "utils/queryjumble.h"

/*
 * ProcessUtility.  Outermost first; the previous hook (or
 * standard_ProcessUtility) runs inside the last wrapper.
 *
 *	 LIMITS  limits/store.c: refuses DDL that would defeat a limited table
 *			 (limits_check_utility) before anything else sees the
 *			 statement, and around the rest counts a batch level and, after
 *			 it, writes the usage rows of COPY FROM (PG_FINALLY restores
 *			 the level).  Outermost because it was installed last before the
 *			 registry: a statement that both limits and audit refuse
 *			 (DROP TABLE of a limited, protected table by its owner) fails
 *			 with limits' error (sql/013_hooks.sql).
 *	 MONITOR monitor/ddl.c: refuses DDL that would stop a monitored
 *			 table's payments from being stamped or make the monitor read
 *			 other columns (only checks before the rest).  After limits,
 *			 before audit: a statement limits and monitoring both refuse
 *			 fails with limits' error, as before monitoring existed.
 *	 PROTECT protect/period.c: refuses disabling, weakening or renaming
 *			 the trigger finsec_protect_period of a table with period-keyed
 *			 columns, and changing the type of those columns (only checks
 *			 before the rest).  After monitor, before audit.
 *	 CREDIT  credit/register_guard.c: refuses column, RLS, policy, rule and
 *			 inheritance changes of registered credit tables and any change
 *			 of finsec_archive's tables (only checks before the rest).
 *			 Before audit, which refuses the rest for protected tables.
 *	 AUDIT   audit/utility.c: refuses DDL against protected tables and
 *			 finsec's own objects (check_statement), then runs the rest
 *			 with its flags for DROP EXTENSION finsec and finsec's own
 *			 partitions set (PG_FINALLY restores them).
 *	 LABELS  protect/label.c: refuses, by a role without a clearance for
 *			 them, DDL that evaluates code or expressions on the rows of a
 *			 table with restricted sensitivity labels without the read
 *			 check (generated columns, expression indexes, triggers,
 *			 constraints, USING, rules, policies, statistics), and
 *			 DETACH PARTITION, NO INHERIT or DROP COLUMN that would leave
 *			 rows without the labels they have through an ancestor; after
 *			 CREATE/ALTER TABLE it turns statistics off on restricted plain
 *			 columns (a new partition, child or column).  After audit:
 *			 finsec's own objects and protected tables are audit's; before
 *			 auth, which has nothing to do with tables.
 *	 AUTH	 auth/password.c: around CREATE/ALTER ROLE keeps the password
 *			 policy state of the statement (PG_CATCH clears it), after it
 *			 sets VALID UNTIL; after DROP ROLE and ALTER ROLE RENAME moves
 *			 the password history.  Innermost: it sees only statements
 *			 limits and audit let pass, and it sets VALID UNTIL after the
 *			 role statement itself ran.
 */
typedef enum FinsecUtilityPosition
{
	FINSEC_UTILITY_LIMITS = 0,
	FINSEC_UTILITY_MONITOR,
	FINSEC_UTILITY_PROTECT,
	FINSEC_UTILITY_CREDIT,
	FINSEC_UTILITY_AUDIT,
	FINSEC_UTILITY_LABELS,
	FINSEC_UTILITY_AUTH,
	FINSEC_UTILITY_POSITIONS
} FinsecUtilityPosition;

typedef struct FinsecUtilityCall
{
	PlannedStmt *pstmt;
	const char *queryString;
	bool		readOnlyTree;
	ProcessUtilityContext context;
	ParamListInfo params;
	QueryEnvironment *queryEnv;
	DestReceiver *dest;
	QueryCompletion *qc;
	int			next;			/* hooks.c's: the position to run next */
} FinsecUtilityCall;

typedef void (*FinsecUtilityWrapper) (FinsecUtilityCall *call);

extern void finsec_hooks_register_utility(FinsecUtilityPosition position,
										  FinsecUtilityWrapper fn);
extern void finsec_hooks_utility_next(FinsecUtilityCall *call);

/*
 * ExecutorRun and ExecutorFinish, registered as a pair (either may be NULL).
 * Outermost first:
 *
 *	 LIMITS  limits/store.c: ExecutorRun refuses INSERT ... ON CONFLICT on a
 *			 limited table; ExecutorFinish writes the statement's usage rows
 *			 before the rest runs; both count a batch level around the rest
 *			 (PG_FINALLY restores it).
 *	 LABELS  protect/label.c: around the rest, an error context callback
 *			 that replaces the DETAIL of an integrity-constraint error on a
 *			 table with restricted plain labelled columns (the row or key
 *			 values), also for errors a PL/pgSQL handler catches (which
 *			 never reach emit_log).  Innermost: only the statement's own
 *			 errors pass through it.
 */
typedef enum FinsecExecutorPosition
{
	FINSEC_EXECUTOR_LIMITS = 0,
	FINSEC_EXECUTOR_LABELS,
	FINSEC_EXECUTOR_POSITIONS
} FinsecExecutorPosition;

typedef struct FinsecExecutorRunCall
{
	QueryDesc  *queryDesc;
	ScanDirection direction;
	uint64		count;
	bool		execute_once;
	int			next;			/* hooks.c's */
} FinsecExecutorRunCall;

typedef struct FinsecExecutorFinishCall
{
	QueryDesc  *queryDesc;
	int			next;			/* hooks.c's */
} FinsecExecutorFinishCall;

typedef void (*FinsecExecutorRunWrapper) (FinsecExecutorRunCall *call);
typedef void (*FinsecExecutorFinishWrapper) (FinsecExecutorFinishCall *call);

extern void finsec_hooks_register_executor(FinsecExecutorPosition position,
										   FinsecExecutorRunWrapper run,
										   FinsecExecutorFinishWrapper finish);
extern void finsec_hooks_executor_run_next(FinsecExecutorRunCall *call);
extern void finsec_hooks_executor_finish_next(FinsecExecutorFinishCall *call);

/*
 * object_access.  The previous hook first, then:
 *
 *	 AUDIT   audit/utility.c: refuses the drop of protected evidence and of
 *			 finsec's functions, for everyone, and checks new objects.
 *	 LIMITS  limits/store.c: refuses the drop of a limited table, its
 *			 registered columns or its trigger, for non-superusers.
 *	 MONITOR monitor/ddl.c: refuses the drop of a monitored table, its
 *			 stamp or mapped columns or its stamp trigger, for everyone.
 *	 PROTECT protect/period.c: refuses the drop of a table with
 *			 period-keyed columns, of those columns and their date columns,
 *			 and of its trigger finsec_protect_period, for everyone (the
 *			 two-person protect.period_drop removes them).
 *
 * Audit first because limits' hook, installed after it, called the
 * previous one (audit's) before its own checks: a drop both refuse (DROP
 * SCHEMA ... CASCADE of a limited, protected table by its owner) fails
 * with audit's error (sql/013_hooks.sql).
 */
typedef enum FinsecObjectAccessPosition
{
	FINSEC_OBJECT_ACCESS_AUDIT = 0,
	FINSEC_OBJECT_ACCESS_LIMITS,
	FINSEC_OBJECT_ACCESS_MONITOR,
	FINSEC_OBJECT_ACCESS_PROTECT,
	FINSEC_OBJECT_ACCESS_POSITIONS
} FinsecObjectAccessPosition;

typedef void (*FinsecObjectAccessFn) (ObjectAccessType access, Oid classId,
									  Oid objectId, int subId, void *arg);

extern void finsec_hooks_register_object_access(FinsecObjectAccessPosition position,
												FinsecObjectAccessFn fn);

/*
 * post_parse_analyze.  The previous hook first, then:
 *
 *	 AUTH_EXPIRY  auth/lockout.c: the "your password expires" WARNING of
 *				  the session's first statement.
 */
typedef enum FinsecPostParsePosition
{
	FINSEC_POST_PARSE_AUTH_EXPIRY = 0,
	FINSEC_POST_PARSE_POSITIONS
} FinsecPostParsePosition;

typedef void (*FinsecPostParseFn) (ParseState *pstate, Query *query,
								   JumbleState *jstate);

extern void finsec_hooks_register_post_parse(FinsecPostParsePosition position,
											 FinsecPostParseFn fn);

/*
 * ExecutorCheckPerms.  The previous hook first; when it (or PostgreSQL's
 * own checks, which run before any hook) denied, nothing else runs.  Then
 * each callback in order; the first that returns false ends the check
 * with false (each raises its own error when ereport_on_violation):
 *
 *	 LABELS  protect/label.c: refuses (42501, durably audited) or audits
 *			 reads of columns carrying a restricted finsec sensitivity
 *			 label by a role without a clearance.  An ExecutorCheckPerms
 *			 callback because that is where PostgreSQL hands over every
 *			 relation a query or COPY reads with the exact columns it
 *			 reads (selectedCols: target list, WHERE, RETURNING, whole-row
 *			 references, views already expanded), once per statement and
 *			 before a row is read.  It writes ledger rows, so it runs after
 *			 any other library's hook has had its chance to deny.
 *	 CREDIT  credit/register_guard.c: refuses (42501, durably audited) any
 *			 read of a registered credit table but finsec's own
 *			 (finsec_credit_read_begin) and those of superusers and auditors
 *			 (durably audited).  Before labels: a refused read leaves no
 *			 label.read row.
 */
typedef enum FinsecCheckPermsPosition
{
	FINSEC_CHECK_PERMS_CREDIT = 0,
	FINSEC_CHECK_PERMS_LABELS,
	FINSEC_CHECK_PERMS_POSITIONS
} FinsecCheckPermsPosition;

typedef bool (*FinsecCheckPermsFn) (List *rangeTable, bool ereport_on_violation);

extern void finsec_hooks_register_check_perms(FinsecCheckPermsPosition position,
											  FinsecCheckPermsFn fn);

/*
 * ClientAuthentication.  The previous hook first, then:
 *
 *	 AUTH_LOCKOUT	 auth/lockout.c: counts failures, locks, delays, records.
 *	 AUTH_LAST_LOGIN auth/lastlogin.c: remembers the last successful login
 *					 of each role.  After lockout: a login lockout refuses
 *					 (FATAL) is no login.
 */
typedef enum FinsecClientAuthPosition
{
	FINSEC_CLIENT_AUTH_LOCKOUT = 0,
	FINSEC_CLIENT_AUTH_LAST_LOGIN,
	FINSEC_CLIENT_AUTH_POSITIONS
} FinsecClientAuthPosition;

typedef void (*FinsecClientAuthFn) (Port *port, int status);

extern void finsec_hooks_register_client_auth(FinsecClientAuthPosition position,
											  FinsecClientAuthFn fn);

/*
 * check_password.  finsec's callbacks first, then the previous hook:
 *
 *	 AUTH  auth/password.c: strength, pre-hashed, VALID UNTIL, history
 *		   (another library's hook sees only a password finsec accepted).
 */
typedef enum FinsecCheckPasswordPosition
{
	FINSEC_CHECK_PASSWORD_AUTH = 0,
	FINSEC_CHECK_PASSWORD_POSITIONS
} FinsecCheckPasswordPosition;

typedef void (*FinsecCheckPasswordFn) (const char *username,
									   const char *shadow_pass,
									   PasswordType password_type,
									   Datum validuntil_time,
									   bool validuntil_null);

extern void finsec_hooks_register_check_password(FinsecCheckPasswordPosition position,
												 FinsecCheckPasswordFn fn);

/*
 * emit_log.  finsec's callbacks first, then the previous hook (which so
 * never sees what finsec hides):
 *
 *	 LABELS  protect/label.c: replaces the DETAIL of an integrity-constraint
 *			 error on a table with restricted plain labelled columns
 *			 ("Failing row contains (...)", "Key (...)=(...)"), for the
 *			 client and the server log, from the names the read check
 *			 cached (no catalog access).  First, so that redaction and
 *			 other libraries see only the replaced detail.
 *	 REDACT  redact/logredact.c: hides key_import statements, masks card,
 *			 identity and mobile numbers in statement lines and details.
 *	 AUTH	 auth/password.c: hides role statements with a password.
 *
 * Redaction first, as when auth's hook was installed before it: auth sees
 * the message redaction may already have replaced.  Callbacks must not
 * throw and allocate only in ErrorContext.
 */
typedef enum FinsecEmitLogPosition
{
	FINSEC_EMIT_LOG_LABELS = 0,
	FINSEC_EMIT_LOG_REDACT,
	FINSEC_EMIT_LOG_AUTH,
	FINSEC_EMIT_LOG_POSITIONS
} FinsecEmitLogPosition;

typedef void (*FinsecEmitLogFn) (ErrorData *edata);

extern void finsec_hooks_register_emit_log(FinsecEmitLogPosition position,
										   FinsecEmitLogFn fn);

/*
 * Shared memory.  request runs in shmem_request_hook (RequestAddinShmemSpace,
 * RequestNamedLWLockTranche), startup in shmem_startup_hook (ShmemInitStruct
 * under AddinShmemInitLock); either may be NULL.  The previous hooks first,
 * then in this order (the order of _PG_init before the registry; only the
 * order of the LOG lines of restored state depends on it):
 *
 *	 AUTH_LOCKOUT	 auth/lockout.c: login failures and locks, its event queue
 *	 LIMIT_REFUSALS  limits/refusals.c: refusal counters
 *	 EVENTRING		 common/eventring.c: every registered event buffer
 *	 CARD_PROBE		 card/probe.c: the card probe budget
 *	 RISK			 risk/shared.c: decision counters and rate buckets
 *	 WORKER			 worker/status.c: the worker tasks' status
 *	 REVEAL			 protect/reveal.c: the reveal budget's buckets (it
 *					 restores no state and logs nothing)
 *	 CREDIT_QUERY	 credit/query.c: the abnormal-querying counts per
 *					 credit user (restores nothing, logs nothing)
 *	 AUTH_LAST_LOGIN auth/lastlogin.c: the last successful login of each
 *					 role (restores nothing, logs nothing)
 *	 LIMIT_CACHE	 limits/usage.c: committed limit usage per payer (a cache
 *					 of the payments table: restores nothing, logs nothing)
 */
typedef enum FinsecShmemPosition
{
	FINSEC_SHMEM_AUTH_LOCKOUT = 0,
	FINSEC_SHMEM_LIMIT_REFUSALS,
	FINSEC_SHMEM_EVENTRING,
	FINSEC_SHMEM_CARD_PROBE,
	FINSEC_SHMEM_RISK,
	FINSEC_SHMEM_WORKER,
	FINSEC_SHMEM_REVEAL,
	FINSEC_SHMEM_CREDIT_QUERY,
	FINSEC_SHMEM_AUTH_LAST_LOGIN,
	FINSEC_SHMEM_LIMIT_CACHE,
	FINSEC_SHMEM_POSITIONS
} FinsecShmemPosition;

typedef void (*FinsecShmemFn) (void);

extern void finsec_hooks_register_shmem(FinsecShmemPosition position,
										FinsecShmemFn request, FinsecShmemFn startup);

/* Install every hook that has a callback; once, at the end of _PG_init. */
extern void finsec_hooks_install(void);

#endif							/* FINSEC_HOOKS_H */
