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
 * their end: the stack depth at the start of each subtransaction is kept,
 * and a subtransaction's abort cuts the stack back to it (an exception
 * block is a subtransaction), the transaction's abort empties it.
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

#define PL_STACK_MAX 512

static Oid	pl_stack[PL_STACK_MAX];
static int	pl_depth = 0;			/* may exceed PL_STACK_MAX: those are not kept */

typedef struct SubDepth
{
	SubTransactionId subid;
	int			depth;
} SubDepth;

#define SUB_MAX 256
static SubDepth sub_depths[SUB_MAX];
static int	nsub = 0;

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
	if (pl_depth < PL_STACK_MAX)
		pl_stack[pl_depth] = func->fn_oid;
	pl_depth++;
	if (prev_plugin && prev_plugin->func_beg)
		prev_plugin->func_beg(estate, func);
}

static void
pl_func_end(PLpgSQL_execstate *estate, PLpgSQL_function *func)
{
	if (pl_depth > 0)
		pl_depth--;
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

static void
plcaller_subxact(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	int			i;

	switch (event)
	{
		case SUBXACT_EVENT_START_SUB:
			if (nsub < SUB_MAX)
			{
				sub_depths[nsub].subid = mySubid;
				sub_depths[nsub].depth = pl_depth;
			}
			nsub++;
			break;
		case SUBXACT_EVENT_ABORT_SUB:
		case SUBXACT_EVENT_COMMIT_SUB:
			/* innermost first: the entry of this subtransaction is the last */
			for (i = Min(nsub, SUB_MAX) - 1; i >= 0; i--)
				if (sub_depths[i].subid == mySubid)
				{
					if (event == SUBXACT_EVENT_ABORT_SUB && pl_depth > sub_depths[i].depth)
						pl_depth = sub_depths[i].depth;
					break;
				}
			if (nsub > 0)
				nsub--;
			break;
		default:
			break;
	}
}

static void
plcaller_xact(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
	{
		if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_PARALLEL_COMMIT)
			pl_depth = 0;
		nsub = 0;
	}
}

void
finsec_plcaller_init(void)
{
	PLpgSQL_plugin **ptr = (PLpgSQL_plugin **) find_rendezvous_variable("PLpgSQL_plugin");

	prev_plugin = *ptr;
	memset(&plugin, 0, sizeof(plugin));
	/* Statement callbacks only to pass them on: PL/pgSQL calls them per statement. */
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

	if (pl_depth == 0 || pl_depth > PL_STACK_MAX)
		return false;
	fn = pl_stack[pl_depth - 1];
	ext = get_extension_oid("finsec", true);
	return OidIsValid(ext) && getExtensionOfObject(ProcedureRelationId, fn) == ext;
}
