/*-------------------------------------------------------------------------
 *
 * hooks.c
 *	  The hook registry: each PostgreSQL hook finsec uses is installed here,
 *	  once, and calls the callbacks capabilities registered, in the order
 *	  of the position enums of finsec_hooks.h (which says why each
 *	  capability sits where it does).
 *
 * Registration happens in _PG_init (preloaded only) from the capabilities'
 * init functions; finsec_hooks_install() then saves each previous hook and
 * installs finsec's.  This file knows no capability.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/objectaccess.h"
#include "commands/user.h"
#include "executor/executor.h"
#include "libpq/auth.h"
#include "miscadmin.h"
#include "parser/analyze.h"
#include "storage/ipc.h"
#include "tcop/utility.h"
#include "utils/elog.h"

#include "finsec.h"
#include "finsec_hooks.h"

static bool installed = false;

static FinsecUtilityWrapper utility_fns[FINSEC_UTILITY_POSITIONS];
static FinsecExecutorRunWrapper run_fns[FINSEC_EXECUTOR_POSITIONS];
static FinsecExecutorFinishWrapper finish_fns[FINSEC_EXECUTOR_POSITIONS];
static FinsecObjectAccessFn object_access_fns[FINSEC_OBJECT_ACCESS_POSITIONS];
static FinsecPostParseFn post_parse_fns[FINSEC_POST_PARSE_POSITIONS];
static FinsecCheckPermsFn check_perms_fns[FINSEC_CHECK_PERMS_POSITIONS];
static FinsecClientAuthFn client_auth_fns[FINSEC_CLIENT_AUTH_POSITIONS];
static FinsecCheckPasswordFn check_password_fns[FINSEC_CHECK_PASSWORD_POSITIONS];
static FinsecEmitLogFn emit_log_fns[FINSEC_EMIT_LOG_POSITIONS];
static FinsecShmemFn shmem_request_fns[FINSEC_SHMEM_POSITIONS];
static FinsecShmemFn shmem_startup_fns[FINSEC_SHMEM_POSITIONS];

static ProcessUtility_hook_type prev_ProcessUtility_hook = NULL;
static ExecutorRun_hook_type prev_ExecutorRun_hook = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish_hook = NULL;
static object_access_hook_type prev_object_access_hook = NULL;
static post_parse_analyze_hook_type prev_post_parse_analyze_hook = NULL;
static ExecutorCheckPerms_hook_type prev_ExecutorCheckPerms_hook = NULL;
static ClientAuthentication_hook_type prev_ClientAuthentication_hook = NULL;
static check_password_hook_type prev_check_password_hook = NULL;
static emit_log_hook_type prev_emit_log_hook = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* The registries; a pair registered together (executor, shmem) is one. */
typedef enum Registry
{
	REG_UTILITY,
	REG_EXECUTOR,
	REG_OBJECT_ACCESS,
	REG_POST_PARSE,
	REG_CHECK_PERMS,
	REG_CLIENT_AUTH,
	REG_CHECK_PASSWORD,
	REG_EMIT_LOG,
	REG_SHMEM,
	REGISTRIES
} Registry;

static const char *const registry_names[REGISTRIES] = {
	"ProcessUtility", "ExecutorRun/ExecutorFinish", "object_access",
	"post_parse_analyze", "ExecutorCheckPerms", "ClientAuthentication", "check_password",
	"emit_log", "shmem_request/shmem_startup"
};

static const int registry_positions[REGISTRIES] = {
	FINSEC_UTILITY_POSITIONS, FINSEC_EXECUTOR_POSITIONS,
	FINSEC_OBJECT_ACCESS_POSITIONS, FINSEC_POST_PARSE_POSITIONS,
	FINSEC_CHECK_PERMS_POSITIONS, FINSEC_CLIENT_AUTH_POSITIONS, FINSEC_CHECK_PASSWORD_POSITIONS,
	FINSEC_EMIT_LOG_POSITIONS, FINSEC_SHMEM_POSITIONS
};

/* Bit p: position p of the registry holds a callback. */
static uint32 taken[REGISTRIES];

StaticAssertDecl(FINSEC_UTILITY_POSITIONS <= 32 && FINSEC_EXECUTOR_POSITIONS <= 32 &&
				 FINSEC_OBJECT_ACCESS_POSITIONS <= 32 && FINSEC_POST_PARSE_POSITIONS <= 32 &&
				 FINSEC_CHECK_PERMS_POSITIONS <= 32 &&
				 FINSEC_CLIENT_AUTH_POSITIONS <= 32 && FINSEC_CHECK_PASSWORD_POSITIONS <= 32 &&
				 FINSEC_EMIT_LOG_POSITIONS <= 32 && FINSEC_SHMEM_POSITIONS <= 32,
				 "a registry has more positions than a uint32 has bits");

/*
 * Claim a position, or refuse a registration after the hooks were
 * installed, at an unknown or taken position, or without a callback: each
 * is a programming error that would silently drop a check.
 */
static void
claim(Registry reg, int position, bool has_fn)
{
	const char *name = registry_names[reg];

	if (installed)
		elog(ERROR, "finsec: %s callback registered after the hooks were installed", name);
	if (position < 0 || position >= registry_positions[reg])
		elog(ERROR, "finsec: %s callback at unknown position %d", name, position);
	if (!has_fn)
		elog(ERROR, "finsec: %s callback at position %d is NULL", name, position);
	if (taken[reg] & ((uint32) 1 << position))
		elog(ERROR, "finsec: two %s callbacks at position %d", name, position);
	taken[reg] |= (uint32) 1 << position;
}

/*
 * The next taken position of the registry at or after *next, which moves
 * past it; -1 when none is left.
 */
static int
next_taken(Registry reg, int *next)
{
	while (*next < registry_positions[reg])
	{
		int			p = (*next)++;

		if (taken[reg] & ((uint32) 1 << p))
			return p;
	}
	return -1;
}

/* ---- ProcessUtility ------------------------------------------------------ */

void
finsec_hooks_register_utility(FinsecUtilityPosition position, FinsecUtilityWrapper fn)
{
	claim(REG_UTILITY, position, fn != NULL);
	utility_fns[position] = fn;
}

void
finsec_hooks_utility_next(FinsecUtilityCall *call)
{
	int			p = next_taken(REG_UTILITY, &call->next);

	if (p >= 0)
		utility_fns[p] (call);
	else if (prev_ProcessUtility_hook)
		prev_ProcessUtility_hook(call->pstmt, call->queryString, call->readOnlyTree,
								 call->context, call->params, call->queryEnv,
								 call->dest, call->qc);
	else
		standard_ProcessUtility(call->pstmt, call->queryString, call->readOnlyTree,
								call->context, call->params, call->queryEnv,
								call->dest, call->qc);
}

static void
hooks_ProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					 ProcessUtilityContext context, ParamListInfo params,
					 QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	FinsecUtilityCall call;

	call.pstmt = pstmt;
	call.queryString = queryString;
	call.readOnlyTree = readOnlyTree;
	call.context = context;
	call.params = params;
	call.queryEnv = queryEnv;
	call.dest = dest;
	call.qc = qc;
	call.next = 0;
	finsec_hooks_utility_next(&call);
}

/* ---- ExecutorRun, ExecutorFinish ----------------------------------------- */

void
finsec_hooks_register_executor(FinsecExecutorPosition position, FinsecExecutorRunWrapper run,
							   FinsecExecutorFinishWrapper finish)
{
	claim(REG_EXECUTOR, position, run != NULL || finish != NULL);
	run_fns[position] = run;
	finish_fns[position] = finish;
}

void
finsec_hooks_executor_run_next(FinsecExecutorRunCall *call)
{
	int			p;

	while ((p = next_taken(REG_EXECUTOR, &call->next)) >= 0)
		if (run_fns[p])
		{
			run_fns[p] (call);
			return;
		}
	if (prev_ExecutorRun_hook)
		prev_ExecutorRun_hook(call->queryDesc, call->direction, call->count,
							  call->execute_once);
	else
		standard_ExecutorRun(call->queryDesc, call->direction, call->count,
							 call->execute_once);
}

static void
hooks_ExecutorRun(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
				  bool execute_once)
{
	FinsecExecutorRunCall call;

	call.queryDesc = queryDesc;
	call.direction = direction;
	call.count = count;
	call.execute_once = execute_once;
	call.next = 0;
	finsec_hooks_executor_run_next(&call);
}

void
finsec_hooks_executor_finish_next(FinsecExecutorFinishCall *call)
{
	int			p;

	while ((p = next_taken(REG_EXECUTOR, &call->next)) >= 0)
		if (finish_fns[p])
		{
			finish_fns[p] (call);
			return;
		}
	if (prev_ExecutorFinish_hook)
		prev_ExecutorFinish_hook(call->queryDesc);
	else
		standard_ExecutorFinish(call->queryDesc);
}

static void
hooks_ExecutorFinish(QueryDesc *queryDesc)
{
	FinsecExecutorFinishCall call;

	call.queryDesc = queryDesc;
	call.next = 0;
	finsec_hooks_executor_finish_next(&call);
}

/* ---- object_access, post_parse_analyze, ExecutorCheckPerms, ClientAuthentication */

void
finsec_hooks_register_object_access(FinsecObjectAccessPosition position,
									FinsecObjectAccessFn fn)
{
	claim(REG_OBJECT_ACCESS, position, fn != NULL);
	object_access_fns[position] = fn;
}

static void
hooks_object_access(ObjectAccessType access, Oid classId, Oid objectId, int subId,
					void *arg)
{
	int			next = 0;
	int			p;

	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	while ((p = next_taken(REG_OBJECT_ACCESS, &next)) >= 0)
		object_access_fns[p] (access, classId, objectId, subId, arg);
}

void
finsec_hooks_register_post_parse(FinsecPostParsePosition position, FinsecPostParseFn fn)
{
	claim(REG_POST_PARSE, position, fn != NULL);
	post_parse_fns[position] = fn;
}

static void
hooks_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	int			next = 0;
	int			p;

	if (prev_post_parse_analyze_hook)
		prev_post_parse_analyze_hook(pstate, query, jstate);
	while ((p = next_taken(REG_POST_PARSE, &next)) >= 0)
		post_parse_fns[p] (pstate, query, jstate);
}

void
finsec_hooks_register_check_perms(FinsecCheckPermsPosition position, FinsecCheckPermsFn fn)
{
	claim(REG_CHECK_PERMS, position, fn != NULL);
	check_perms_fns[position] = fn;
}

/* The previous hook first; the first denial (false) ends the check. */
static bool
hooks_ExecutorCheckPerms(List *rangeTable, bool ereport_on_violation)
{
	int			next = 0;
	int			p;

	if (prev_ExecutorCheckPerms_hook &&
		!prev_ExecutorCheckPerms_hook(rangeTable, ereport_on_violation))
		return false;
	while ((p = next_taken(REG_CHECK_PERMS, &next)) >= 0)
		if (!check_perms_fns[p] (rangeTable, ereport_on_violation))
			return false;
	return true;
}

void
finsec_hooks_register_client_auth(FinsecClientAuthPosition position, FinsecClientAuthFn fn)
{
	claim(REG_CLIENT_AUTH, position, fn != NULL);
	client_auth_fns[position] = fn;
}

static void
hooks_ClientAuthentication(Port *port, int status)
{
	int			next = 0;
	int			p;

	if (prev_ClientAuthentication_hook)
		prev_ClientAuthentication_hook(port, status);
	while ((p = next_taken(REG_CLIENT_AUTH, &next)) >= 0)
		client_auth_fns[p] (port, status);
}

/* ---- check_password, emit_log: finsec's callbacks before the previous hook */

void
finsec_hooks_register_check_password(FinsecCheckPasswordPosition position,
									 FinsecCheckPasswordFn fn)
{
	claim(REG_CHECK_PASSWORD, position, fn != NULL);
	check_password_fns[position] = fn;
}

static void
hooks_check_password(const char *username, const char *shadow_pass,
					 PasswordType password_type, Datum validuntil_time,
					 bool validuntil_null)
{
	int			next = 0;
	int			p;

	while ((p = next_taken(REG_CHECK_PASSWORD, &next)) >= 0)
		check_password_fns[p] (username, shadow_pass, password_type,
							   validuntil_time, validuntil_null);
	if (prev_check_password_hook)
		prev_check_password_hook(username, shadow_pass, password_type,
								 validuntil_time, validuntil_null);
}

void
finsec_hooks_register_emit_log(FinsecEmitLogPosition position, FinsecEmitLogFn fn)
{
	claim(REG_EMIT_LOG, position, fn != NULL);
	emit_log_fns[position] = fn;
}

static void
hooks_emit_log(ErrorData *edata)
{
	int			next = 0;
	int			p;

	while ((p = next_taken(REG_EMIT_LOG, &next)) >= 0)
		emit_log_fns[p] (edata);
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/* ---- shared memory -------------------------------------------------------- */

void
finsec_hooks_register_shmem(FinsecShmemPosition position, FinsecShmemFn request,
							FinsecShmemFn startup)
{
	claim(REG_SHMEM, position, request != NULL || startup != NULL);
	shmem_request_fns[position] = request;
	shmem_startup_fns[position] = startup;
}

static void
hooks_shmem_request(void)
{
	int			next = 0;
	int			p;

	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	while ((p = next_taken(REG_SHMEM, &next)) >= 0)
		if (shmem_request_fns[p])
			shmem_request_fns[p] ();
}

static void
hooks_shmem_startup(void)
{
	int			next = 0;
	int			p;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	while ((p = next_taken(REG_SHMEM, &next)) >= 0)
		if (shmem_startup_fns[p])
			shmem_startup_fns[p] ();
}

/* ---- installation ---------------------------------------------------------- */

/* Remember the hook that was there, then install ours: each hook once. */
#define INSTALL_HOOK(hook, ours) \
	do { \
		prev_##hook = hook; \
		hook = ours; \
	} while (0)

/*
 * Install each hook that has a callback, remembering the hook that was
 * there before; a second call does nothing.
 */
void
finsec_hooks_install(void)
{
	if (installed)
		return;
	installed = true;
	if (taken[REG_UTILITY])
		INSTALL_HOOK(ProcessUtility_hook, hooks_ProcessUtility);
	if (taken[REG_EXECUTOR])
	{
		INSTALL_HOOK(ExecutorRun_hook, hooks_ExecutorRun);
		INSTALL_HOOK(ExecutorFinish_hook, hooks_ExecutorFinish);
	}
	if (taken[REG_OBJECT_ACCESS])
		INSTALL_HOOK(object_access_hook, hooks_object_access);
	if (taken[REG_POST_PARSE])
		INSTALL_HOOK(post_parse_analyze_hook, hooks_post_parse_analyze);
	if (taken[REG_CHECK_PERMS])
		INSTALL_HOOK(ExecutorCheckPerms_hook, hooks_ExecutorCheckPerms);
	if (taken[REG_CLIENT_AUTH])
		INSTALL_HOOK(ClientAuthentication_hook, hooks_ClientAuthentication);
	if (taken[REG_CHECK_PASSWORD])
		INSTALL_HOOK(check_password_hook, hooks_check_password);
	if (taken[REG_EMIT_LOG])
		INSTALL_HOOK(emit_log_hook, hooks_emit_log);
	if (taken[REG_SHMEM])
	{
		INSTALL_HOOK(shmem_request_hook, hooks_shmem_request);
		INSTALL_HOOK(shmem_startup_hook, hooks_shmem_startup);
	}
}
