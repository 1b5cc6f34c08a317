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
static FinsecExecutorRunWrapper run_fns[FINSEC_EXECUTOR_RUN_POSITIONS];
static FinsecExecutorFinishWrapper finish_fns[FINSEC_EXECUTOR_FINISH_POSITIONS];
static FinsecObjectAccessFn object_access_fns[FINSEC_OBJECT_ACCESS_POSITIONS];
static FinsecPostParseFn post_parse_fns[FINSEC_POST_PARSE_POSITIONS];
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
static ClientAuthentication_hook_type prev_ClientAuthentication_hook = NULL;
static check_password_hook_type prev_check_password_hook = NULL;
static emit_log_hook_type prev_emit_log_hook = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* The hooks, for the flags below and the messages of registering(). */
typedef enum Hook
{
	HOOK_UTILITY,
	HOOK_EXECUTOR_RUN,
	HOOK_EXECUTOR_FINISH,
	HOOK_OBJECT_ACCESS,
	HOOK_POST_PARSE,
	HOOK_CLIENT_AUTH,
	HOOK_CHECK_PASSWORD,
	HOOK_EMIT_LOG,
	HOOK_SHMEM,
	HOOKS
} Hook;

static const char *const hook_names[HOOKS] = {
	"ProcessUtility", "ExecutorRun", "ExecutorFinish", "object_access",
	"post_parse_analyze", "ClientAuthentication", "check_password",
	"emit_log", "shmem_request/shmem_startup"
};

/* Whether a callback of the hook was registered: install it. */
static bool wanted[HOOKS];

/*
 * Refuse a registration after the hooks were installed, at an unknown or
 * taken position, or without a callback: each is a programming error that
 * would silently drop a check.
 */
static void
registering(Hook hook, int position, int npositions, bool has_fn, bool taken)
{
	if (installed)
		elog(ERROR, "finsec: %s callback registered after the hooks were installed",
			 hook_names[hook]);
	if (position < 0 || position >= npositions)
		elog(ERROR, "finsec: %s callback at unknown position %d", hook_names[hook], position);
	if (!has_fn)
		elog(ERROR, "finsec: %s callback at position %d is NULL", hook_names[hook], position);
	if (taken)
		elog(ERROR, "finsec: two %s callbacks at position %d", hook_names[hook], position);
	wanted[hook] = true;
}

/* Whether the position is in range and holds a callback. */
#define TAKEN(fns, position) \
	((position) >= 0 && (position) < lengthof(fns) && (fns)[(position)] != NULL)

/* ---- ProcessUtility ------------------------------------------------------ */

void
finsec_hooks_register_utility(FinsecUtilityPosition position, FinsecUtilityWrapper fn)
{
	registering(HOOK_UTILITY, position, FINSEC_UTILITY_POSITIONS, fn != NULL,
				TAKEN(utility_fns, position));
	utility_fns[position] = fn;
}

void
finsec_hooks_utility_next(FinsecUtilityCall *call)
{
	while (call->next < FINSEC_UTILITY_POSITIONS)
	{
		FinsecUtilityWrapper fn = utility_fns[call->next++];

		if (fn)
		{
			fn(call);
			return;
		}
	}
	if (prev_ProcessUtility_hook)
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
finsec_hooks_register_executor_run(FinsecExecutorRunPosition position,
								   FinsecExecutorRunWrapper fn)
{
	registering(HOOK_EXECUTOR_RUN, position, FINSEC_EXECUTOR_RUN_POSITIONS, fn != NULL,
				TAKEN(run_fns, position));
	run_fns[position] = fn;
}

void
finsec_hooks_executor_run_next(FinsecExecutorRunCall *call)
{
	while (call->next < FINSEC_EXECUTOR_RUN_POSITIONS)
	{
		FinsecExecutorRunWrapper fn = run_fns[call->next++];

		if (fn)
		{
			fn(call);
			return;
		}
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
finsec_hooks_register_executor_finish(FinsecExecutorFinishPosition position,
									  FinsecExecutorFinishWrapper fn)
{
	registering(HOOK_EXECUTOR_FINISH, position, FINSEC_EXECUTOR_FINISH_POSITIONS, fn != NULL,
				TAKEN(finish_fns, position));
	finish_fns[position] = fn;
}

void
finsec_hooks_executor_finish_next(FinsecExecutorFinishCall *call)
{
	while (call->next < FINSEC_EXECUTOR_FINISH_POSITIONS)
	{
		FinsecExecutorFinishWrapper fn = finish_fns[call->next++];

		if (fn)
		{
			fn(call);
			return;
		}
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

/* ---- object_access, post_parse_analyze, ClientAuthentication ------------- */

void
finsec_hooks_register_object_access(FinsecObjectAccessPosition position,
									FinsecObjectAccessFn fn)
{
	registering(HOOK_OBJECT_ACCESS, position, FINSEC_OBJECT_ACCESS_POSITIONS, fn != NULL,
				TAKEN(object_access_fns, position));
	object_access_fns[position] = fn;
}

static void
hooks_object_access(ObjectAccessType access, Oid classId, Oid objectId, int subId,
					void *arg)
{
	int			i;

	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	for (i = 0; i < FINSEC_OBJECT_ACCESS_POSITIONS; i++)
		if (object_access_fns[i])
			object_access_fns[i] (access, classId, objectId, subId, arg);
}

void
finsec_hooks_register_post_parse(FinsecPostParsePosition position, FinsecPostParseFn fn)
{
	registering(HOOK_POST_PARSE, position, FINSEC_POST_PARSE_POSITIONS, fn != NULL,
				TAKEN(post_parse_fns, position));
	post_parse_fns[position] = fn;
}

static void
hooks_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	int			i;

	if (prev_post_parse_analyze_hook)
		prev_post_parse_analyze_hook(pstate, query, jstate);
	for (i = 0; i < FINSEC_POST_PARSE_POSITIONS; i++)
		if (post_parse_fns[i])
			post_parse_fns[i] (pstate, query, jstate);
}

void
finsec_hooks_register_client_auth(FinsecClientAuthPosition position, FinsecClientAuthFn fn)
{
	registering(HOOK_CLIENT_AUTH, position, FINSEC_CLIENT_AUTH_POSITIONS, fn != NULL,
				TAKEN(client_auth_fns, position));
	client_auth_fns[position] = fn;
}

static void
hooks_ClientAuthentication(Port *port, int status)
{
	int			i;

	if (prev_ClientAuthentication_hook)
		prev_ClientAuthentication_hook(port, status);
	for (i = 0; i < FINSEC_CLIENT_AUTH_POSITIONS; i++)
		if (client_auth_fns[i])
			client_auth_fns[i] (port, status);
}

/* ---- check_password, emit_log: finsec's callbacks before the previous hook */

void
finsec_hooks_register_check_password(FinsecCheckPasswordPosition position,
									 FinsecCheckPasswordFn fn)
{
	registering(HOOK_CHECK_PASSWORD, position, FINSEC_CHECK_PASSWORD_POSITIONS, fn != NULL,
				TAKEN(check_password_fns, position));
	check_password_fns[position] = fn;
}

static void
hooks_check_password(const char *username, const char *shadow_pass,
					 PasswordType password_type, Datum validuntil_time,
					 bool validuntil_null)
{
	int			i;

	for (i = 0; i < FINSEC_CHECK_PASSWORD_POSITIONS; i++)
		if (check_password_fns[i])
			check_password_fns[i] (username, shadow_pass, password_type,
								   validuntil_time, validuntil_null);
	if (prev_check_password_hook)
		prev_check_password_hook(username, shadow_pass, password_type,
								 validuntil_time, validuntil_null);
}

void
finsec_hooks_register_emit_log(FinsecEmitLogPosition position, FinsecEmitLogFn fn)
{
	registering(HOOK_EMIT_LOG, position, FINSEC_EMIT_LOG_POSITIONS, fn != NULL,
				TAKEN(emit_log_fns, position));
	emit_log_fns[position] = fn;
}

static void
hooks_emit_log(ErrorData *edata)
{
	int			i;

	for (i = 0; i < FINSEC_EMIT_LOG_POSITIONS; i++)
		if (emit_log_fns[i])
			emit_log_fns[i] (edata);
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/* ---- shared memory -------------------------------------------------------- */

void
finsec_hooks_register_shmem(FinsecShmemPosition position, FinsecShmemFn request,
							FinsecShmemFn startup)
{
	registering(HOOK_SHMEM, position, FINSEC_SHMEM_POSITIONS,
				request != NULL || startup != NULL,
				TAKEN(shmem_request_fns, position) || TAKEN(shmem_startup_fns, position));
	shmem_request_fns[position] = request;
	shmem_startup_fns[position] = startup;
}

static void
hooks_shmem_request(void)
{
	int			i;

	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	for (i = 0; i < FINSEC_SHMEM_POSITIONS; i++)
		if (shmem_request_fns[i])
			shmem_request_fns[i] ();
}

static void
hooks_shmem_startup(void)
{
	int			i;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	for (i = 0; i < FINSEC_SHMEM_POSITIONS; i++)
		if (shmem_startup_fns[i])
			shmem_startup_fns[i] ();
}

/* ---- installation ---------------------------------------------------------- */

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
	if (wanted[HOOK_UTILITY])
	{
		prev_ProcessUtility_hook = ProcessUtility_hook;
		ProcessUtility_hook = hooks_ProcessUtility;
	}
	if (wanted[HOOK_EXECUTOR_RUN])
	{
		prev_ExecutorRun_hook = ExecutorRun_hook;
		ExecutorRun_hook = hooks_ExecutorRun;
	}
	if (wanted[HOOK_EXECUTOR_FINISH])
	{
		prev_ExecutorFinish_hook = ExecutorFinish_hook;
		ExecutorFinish_hook = hooks_ExecutorFinish;
	}
	if (wanted[HOOK_OBJECT_ACCESS])
	{
		prev_object_access_hook = object_access_hook;
		object_access_hook = hooks_object_access;
	}
	if (wanted[HOOK_POST_PARSE])
	{
		prev_post_parse_analyze_hook = post_parse_analyze_hook;
		post_parse_analyze_hook = hooks_post_parse_analyze;
	}
	if (wanted[HOOK_CLIENT_AUTH])
	{
		prev_ClientAuthentication_hook = ClientAuthentication_hook;
		ClientAuthentication_hook = hooks_ClientAuthentication;
	}
	if (wanted[HOOK_CHECK_PASSWORD])
	{
		prev_check_password_hook = check_password_hook;
		check_password_hook = hooks_check_password;
	}
	if (wanted[HOOK_EMIT_LOG])
	{
		prev_emit_log_hook = emit_log_hook;
		emit_log_hook = hooks_emit_log;
	}
	if (wanted[HOOK_SHMEM])
	{
		prev_shmem_request_hook = shmem_request_hook;
		shmem_request_hook = hooks_shmem_request;
		prev_shmem_startup_hook = shmem_startup_hook;
		shmem_startup_hook = hooks_shmem_startup;
	}
}
