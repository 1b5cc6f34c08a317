/*-------------------------------------------------------------------------
 *
 * plcaller.c
 *	  Which PL/pgSQL function is running innermost: is it one of finsec's?
 *
 * finsec.audit_event() writes finsec's own event types (card.*, audit.*,
 * limits.*, ...) only for finsec itself (docs/audit.md#event-types).  Some
 * of finsec's SQL functions that write them run as their caller (trigger
 * functions such as finsec.risk_ruleset_guard(), operator functions), so
 * the current role does not tell them from the application.  A PL/pgSQL
 * instrumentation plugin keeps a stack of the PL/pgSQL functions running
 * in this backend; a function of the finsec extension on top of it is
 * finsec's own SQL calling.  Functions that end by an error do not report
 * their end: each entry names the subtransaction its function began in,
 * and a subtransaction's abort removes the entries of its own and its
 * children's functions (an exception block is a subtransaction); the end
 * of the transaction, however it ends, empties the stack.
 *
 * Another plugin loaded earlier is chained.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_proc.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "plpgsql.h"
#include "utils/memutils.h"

#include "finsec.h"
#include "finsec_audit.h"

/*
 * One entry per running PL/pgSQL function: its OID, its execution state
 * (to find its entry when it ends) and the subtransaction it began in.
 * The stack grows as needed; nothing is dropped for want of room.
 */
typedef struct PlFrame
{
	Oid			fn_oid;
	PLpgSQL_execstate *estate;
	SubTransactionId subid;
} PlFrame;

static PlFrame *pl_stack = NULL;
static int	pl_depth = 0;
static int	pl_alloc = 0;

static PLpgSQL_plugin plugin;
static PLpgSQL_plugin *prev_plugin = NULL;

/* Before func_setup PL/pgSQL fills in our struct's helper pointers: pass them on. */
static void
copy_helpers(void)
{
	if (prev_plugin == NULL)
		return;
	prev_plugin->error_callback = plugin.error_callback;
	prev_plugin->assign_expr = plugin.assign_expr;
	prev_plugin->assign_value = plugin.assign_value;
	prev_plugin->eval_datum = plugin.eval_datum;
	prev_plugin->cast_value = plugin.cast_value;
}

static void
pl_func_setup(PLpgSQL_execstate *estate, PLpgSQL_function *func)
{
	copy_helpers();
	if (prev_plugin && prev_plugin->func_setup)
		prev_plugin->func_setup(estate, func);
}

static void
pl_func_beg(PLpgSQL_execstate *estate, PLpgSQL_function *func)
{
	if (pl_depth >= pl_alloc)
	{
		int			n = pl_alloc == 0 ? 64 : pl_alloc * 2;

		if (pl_stack == NULL)
			pl_stack = MemoryContextAlloc(TopMemoryContext, n * sizeof(PlFrame));
		else
			pl_stack = repalloc(pl_stack, n * sizeof(PlFrame));
		pl_alloc = n;
	}
	pl_stack[pl_depth].fn_oid = func->fn_oid;
	pl_stack[pl_depth].estate = estate;
	pl_stack[pl_depth].subid = GetCurrentSubTransactionId();
	pl_depth++;
	if (prev_plugin && prev_plugin->func_beg)
		prev_plugin->func_beg(estate, func);
}

static void
pl_func_end(PLpgSQL_execstate *estate, PLpgSQL_function *func)
{
	int			i;

	/* Its entry and any above it (functions that ended without saying so). */
	for (i = pl_depth - 1; i >= 0; i--)
		if (pl_stack[i].estate == estate)
		{
			pl_depth = i;
			break;
		}
	if (prev_plugin && prev_plugin->func_end)
		prev_plugin->func_end(estate, func);
}

static void
pl_stmt_beg(PLpgSQL_execstate *estate, PLpgSQL_stmt *stmt)
{
	if (prev_plugin && prev_plugin->stmt_beg)
		prev_plugin->stmt_beg(estate, stmt);
}

static void
pl_stmt_end(PLpgSQL_execstate *estate, PLpgSQL_stmt *stmt)
{
	if (prev_plugin && prev_plugin->stmt_end)
		prev_plugin->stmt_end(estate, stmt);
}

/*
 * A subtransaction's abort ends every function that began in it or in one
 * of its children (subtransaction ids grow within a transaction); its
 * commit hands its running functions to the parent.
 */
static void
plcaller_subxact(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	int			i;

	switch (event)
	{
		case SUBXACT_EVENT_ABORT_SUB:
			for (i = 0; i < pl_depth; i++)
				if (pl_stack[i].subid >= mySubid)
				{
					pl_depth = i;
					break;
				}
			break;
		case SUBXACT_EVENT_COMMIT_SUB:
			for (i = 0; i < pl_depth; i++)
				if (pl_stack[i].subid == mySubid)
					pl_stack[i].subid = parentSubid;
			break;
		default:
			break;
	}
}

/*
 * The end of the top-level transaction, committed, aborted or prepared,
 * empties the stack: a function still running then (a procedure that
 * commits) is no longer taken for finsec's (fail closed).
 */
static void
plcaller_xact(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
		pl_depth = 0;
}

void
finsec_plcaller_init(void)
{
	PLpgSQL_plugin **ptr = (PLpgSQL_plugin **) find_rendezvous_variable("PLpgSQL_plugin");

	prev_plugin = *ptr;
	memset(&plugin, 0, sizeof(plugin));

	/*
	 * Statement callbacks only to pass them on: PL/pgSQL calls them per
	 * statement.
	 */
	plugin.func_setup = prev_plugin ? pl_func_setup : NULL;
	plugin.func_beg = pl_func_beg;
	plugin.func_end = pl_func_end;
	plugin.stmt_beg = prev_plugin && prev_plugin->stmt_beg ? pl_stmt_beg : NULL;
	plugin.stmt_end = prev_plugin && prev_plugin->stmt_end ? pl_stmt_end : NULL;
	*ptr = &plugin;
	RegisterXactCallback(plcaller_xact, NULL);
	RegisterSubXactCallback(plcaller_subxact, NULL);
}

bool
finsec_called_by_finsec_plpgsql(void)
{
	Oid			fn;
	Oid			ext;

	if (pl_depth == 0)
		return false;
	fn = pl_stack[pl_depth - 1].fn_oid;
	ext = get_extension_oid("finsec", true);
	return OidIsValid(ext) && getExtensionOfObject(ProcedureRelationId, fn) == ext;
}
