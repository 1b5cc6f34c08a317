/*-------------------------------------------------------------------------
 *
 * monitor.c
 *	  Transaction monitoring (docs/monitor.md): the stamp trigger of
 *	  monitored payments tables, attaching and detaching it, the settings,
 *	  and the worker task monitor.round.
 *
 * The batch itself is SQL (finsec._monitor_batch, in the 0.9--1.0
 * script): it reads the registered table only as the table's owner
 * through finsec._select_as_table_owner(), and finsec's own tables as
 * finsec's owner.  This file gives it transactions: one per batch in the
 * worker, so that a SIGTERM between batches ends the round cleanly and a
 * crash loses at most the batch in flight, which is redone from the
 * committed position.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/xid8.h"

#include "finsec.h"
#include "finsec_apptable.h"
#include "finsec_audit.h"
#include "finsec_monitor.h"
#include "finsec_owner.h"
#include "finsec_worker.h"

char	   *finsec_monitor_timezone = NULL;
int			finsec_monitor_batch_rows = FINSEC_MONITOR_BATCH_ROWS_DEFAULT;
int			finsec_monitor_interval_ms = FINSEC_MONITOR_INTERVAL_DEFAULT;
int			finsec_monitor_max_batches = FINSEC_MONITOR_MAX_BATCHES_DEFAULT;
int			finsec_monitor_event_retention = FINSEC_MONITOR_EVENT_RETENTION_DEFAULT;
int			finsec_monitor_index_build_limit = FINSEC_MONITOR_INDEX_BUILD_LIMIT_DEFAULT;
static int	finsec_monitor_max_snooze = 30 * 24 * 60;	/* minutes */

void
finsec_monitor_define_settings(void)
{
	DefineCustomStringVariable("finsec.monitor_timezone",
							   "Time zone of the monitor's local days and hours (same-day totals, night-time rules).",
							   NULL,
							   &finsec_monitor_timezone,
							   FINSEC_MONITOR_TIMEZONE_DEFAULT,
							   PGC_SIGHUP,
							   0,
							   finsec_check_timezone_setting, NULL, NULL);
	DefineCustomIntVariable("finsec.monitor_batch_rows",
							"Payments the monitor processes in one batch (one transaction).",
							"A batch ends at a transaction boundary, so one large transaction can exceed it.",
							&finsec_monitor_batch_rows,
							FINSEC_MONITOR_BATCH_ROWS_DEFAULT, 10, 1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.monitor_interval",
							"Time between the monitoring rounds of the finsec worker.",
							NULL,
							&finsec_monitor_interval_ms,
							FINSEC_MONITOR_INTERVAL_DEFAULT, 10, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.monitor_max_batches",
							"Batches per monitored table in one round before the round moves on.",
							NULL,
							&finsec_monitor_max_batches,
							FINSEC_MONITOR_MAX_BATCHES_DEFAULT, 1, 100000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.monitor_event_retention",
							"Age of the monitor's event history after which events are pruned (0: keep all).",
							"Rules look back at most this far: dormancy and yearly windows need it longer than they are.",
							&finsec_monitor_event_retention,
							FINSEC_MONITOR_EVENT_RETENTION_DEFAULT, 0, INT_MAX / 2,
							PGC_SIGHUP,
							GUC_UNIT_MIN,
							NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.monitor_index_build_limit",
							"Rows above which finsec.enable_monitoring() does not build the stamp index itself.",
							"Above it the DBA builds it with CREATE INDEX CONCURRENTLY first.",
							&finsec_monitor_index_build_limit,
							FINSEC_MONITOR_INDEX_BUILD_LIMIT_DEFAULT, 0, INT_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.monitor_max_snooze",
							"Longest snooze of a monitoring rule on an entity.",
							NULL,
							&finsec_monitor_max_snooze,
							30 * 24 * 60, 1, 366 * 24 * 60,
							PGC_SUSET,
							GUC_UNIT_MIN,
							NULL, NULL, NULL);
}

/* ---- the stamp trigger --------------------------------------------------- */

typedef struct StampCache
{
	Oid			relid;
	int			att;
} StampCache;

PG_FUNCTION_INFO_V1(finsec_monitor_stamp);

/*
 * BEFORE INSERT OR UPDATE FOR EACH ROW: an inserted row gets the inserting
 * top-level transaction, whatever the writer put there (a forged stamp
 * would hide the payment from the monitor); an update keeps the row's
 * stamp.  Every UPDATE, not UPDATE OF finsec_mon_txid: a BEFORE UPDATE
 * trigger of the owner's could set the stamp in an update that does not
 * name it.  It fires last of the BEFORE row triggers (monitor/ddl.c
 * refuses triggers named to fire after it).
 */
Datum
finsec_monitor_stamp(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	StampCache *cache;
	int			attnums[1];
	Datum		values[1];
	bool		nulls[1] = {false};
	HeapTuple	tup;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("finsec.monitor_stamp() must be a BEFORE INSERT OR UPDATE row trigger")));

	rel = trigdata->tg_relation;
	cache = (StampCache *) fcinfo->flinfo->fn_extra;
	if (cache == NULL || cache->relid != RelationGetRelid(rel))
	{
		cache = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(StampCache));
		cache->relid = RelationGetRelid(rel);
		cache->att = SPI_fnumber(RelationGetDescr(rel), FINSEC_MONITOR_STAMP_COLUMN);
		if (cache->att <= 0 ||
			TupleDescAttr(RelationGetDescr(rel), cache->att - 1)->atttypid != XID8OID)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table \"%s\" lacks the %s column of a monitored table",
							RelationGetRelationName(rel), FINSEC_MONITOR_STAMP_COLUMN)));
		fcinfo->flinfo->fn_extra = cache;
	}

	attnums[0] = cache->att;
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		values[0] = FullTransactionIdGetDatum(GetTopFullTransactionId());
		tup = trigdata->tg_trigtuple;
	}
	else
	{
		values[0] = heap_getattr(trigdata->tg_trigtuple, cache->att, RelationGetDescr(rel), &nulls[0]);
		tup = trigdata->tg_newtuple;
	}
	return PointerGetDatum(heap_modify_tuple_by_cols(tup, RelationGetDescr(rel), 1, attnums, values, nulls));
}

/* The owner of a relation. */
static Oid
rel_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/* Run a DDL statement of finsec's own (built from quoted names only). */
static void
exec_ddl(const char *sql)
{
	finsec_spi_execute(sql, 0, NULL, NULL, NULL, false, 0, SPI_OK_UTILITY,
					   "transaction monitoring setup");
}

PG_FUNCTION_INFO_V1(finsec_monitor_attach);

/*
 * finsec._monitor_attach(payments, add_column, add_index): the stamp
 * column, its index and the stamp trigger, as finsec's owner.  Called by
 * finsec.enable_monitoring() after its checks (ownership, table kind,
 * columns).  Adding a column without a default and a plain index on it
 * runs none of the table's code.
 */
Datum
finsec_monitor_attach(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *qname;
	char	   *relname;
	Oid			nsp;
	Oid			owner;
	FinsecOwnerContext ctx;

	finsec_require_preload("finsec.enable_monitoring()");
	finsec_require_arg(fcinfo, 0, "payments table");
	finsec_require_arg(fcinfo, 1, "add_column");
	finsec_require_arg(fcinfo, 2, "add_index");
	relid = PG_GETARG_OID(0);
	if (GetUserId() != finsec_owner() && !superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function finsec._monitor_attach"),
				 errhint("Call finsec.enable_monitoring().")));
	relname = get_rel_name(relid);
	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	nsp = get_rel_namespace(relid);
	owner = rel_owner(relid);
	qname = finsec_quoted_relname(relid);

	/* an owner's BEFORE row trigger firing after the stamp could change it */
	finsec_monitor_check_trigger_order(relid, true);
	finsec_spi_begin_as_owner(&ctx);
	if (PG_GETARG_BOOL(1))
		exec_ddl(psprintf("ALTER TABLE %s ADD COLUMN " FINSEC_MONITOR_STAMP_COLUMN " pg_catalog.xid8", qname));
	if (PG_GETARG_BOOL(2))
		exec_ddl(psprintf("CREATE INDEX %s ON %s (" FINSEC_MONITOR_STAMP_COLUMN ")",
						  quote_identifier(ChooseRelationName(relname, NULL, "finsec_mon_txid_idx", nsp, false)),
						  qname));
	finsec_own_trigger_ddl_begin();
	exec_ddl(psprintf("CREATE TRIGGER " FINSEC_MONITOR_TRIGGER
					  " BEFORE INSERT OR UPDATE ON %s"
					  " FOR EACH ROW EXECUTE FUNCTION finsec.monitor_stamp()", qname));
	finsec_own_trigger_ddl_end();
	/* replicas and session_replication_role = replica stamp too */
	exec_ddl(psprintf("ALTER TABLE %s ENABLE ALWAYS TRIGGER " FINSEC_MONITOR_TRIGGER, qname));
	/* partitions created later clone the trigger as the table's owner */
	if (!superuser_arg(owner))
		exec_ddl(psprintf("GRANT EXECUTE ON FUNCTION finsec.monitor_stamp() TO %s",
						  quote_identifier(GetUserNameFromId(owner, false))));
	finsec_spi_end(&ctx);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(finsec_monitor_detach);

/*
 * finsec._monitor_detach(payments): drop the stamp trigger.  The column
 * and its index stay (dropping a column rewrites nothing but loses the
 * stamps a later registration could reuse); docs/monitor.md says how to
 * drop them.
 */
Datum
finsec_monitor_detach(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Oid			owner;
	FinsecOwnerContext ctx;

	finsec_require_arg(fcinfo, 0, "payments table");
	relid = PG_GETARG_OID(0);
	if (GetUserId() != finsec_owner() && !superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function finsec._monitor_detach"),
				 errhint("Call finsec.disable_monitoring().")));
	if (get_rel_name(relid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	owner = rel_owner(relid);
	finsec_spi_begin_as_owner(&ctx);
	finsec_own_trigger_ddl_begin();
	exec_ddl(psprintf("DROP TRIGGER IF EXISTS " FINSEC_MONITOR_TRIGGER " ON %s", finsec_quoted_relname(relid)));
	finsec_own_trigger_ddl_end();

	/*
	 * The grant _monitor_attach gave the owner goes with its last monitored
	 * table, so that the role can be dropped.
	 */
	if (!superuser_arg(owner))
	{
		Oid			types[1] = {OIDOID};
		Datum		values[1] = {ObjectIdGetDatum(owner)};

		if (finsec_spi_execute("SELECT 1 FROM finsec.monitor_table t JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.relid"
							   " WHERE c.relowner OPERATOR(pg_catalog.=) $1",
							   1, types, values, NULL, true, 1, SPI_OK_SELECT,
							   "transaction monitoring teardown") == 0)
			exec_ddl(psprintf("REVOKE EXECUTE ON FUNCTION finsec.monitor_stamp() FROM %s",
							  quote_identifier(GetUserNameFromId(owner, false))));
	}
	finsec_spi_end(&ctx);
	PG_RETURN_VOID();
}

/* ---- the worker task ------------------------------------------------------ */

/* Run one SQL statement of finsec's in a transaction of its own; returns its first int4 column. */
static int64
run_in_transaction(const char *sql, int nargs, Oid *types, Datum *values, bool *done)
{
	FinsecOwnerContext ctx;
	int64		result = 0;
	bool		isnull;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, sql);
	*done = !OidIsValid(get_extension_oid("finsec", true));
	if (!*done)
	{
		finsec_spi_begin_as_owner(&ctx);
		finsec_spi_execute(sql, nargs, types, values, NULL, false, 0, SPI_OK_SELECT,
						   "monitoring round");
		if (SPI_processed > 0)
		{
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

			if (!isnull)
				result = SPI_gettypeid(SPI_tuptable->tupdesc, 1) == INT8OID ?
					DatumGetInt64(d) : DatumGetInt32(d);
		}
		finsec_spi_end(&ctx);
	}
	PopActiveSnapshot();
	HOLD_INTERRUPTS();
	CommitTransactionCommand();
	RESUME_INTERRUPTS();
	pgstat_report_activity(STATE_IDLE, NULL);
	return result;
}

/*
 * monitor.round: every monitored table, batch after batch (each its own
 * transaction) until it is caught up or has had finsec.monitor_max_batches,
 * stopping between batches when asked to; then the system rules.
 */
static int64
monitor_round(void *arg)
{
	int64		ntables;
	int64		total = 0;
	int64		t;
	bool		done;
	Oid			types[1] = {INT4OID};
	Datum		values[1];

	ntables = run_in_transaction("SELECT coalesce(max(table_id), 0) FROM finsec.monitor_table",
								 0, NULL, NULL, &done);
	if (done)
		return 0;
	for (t = 1; t <= ntables && !finsec_worker_should_stop(); t++)
	{
		int			b;

		values[0] = Int32GetDatum((int32) t);
		for (b = 0; b < finsec_monitor_max_batches; b++)
		{
			int64		n;

			if (finsec_worker_should_stop())
				return total;
			n = run_in_transaction("SELECT finsec._monitor_batch($1, true)", 1, types, values, &done);
			total += n;

			/*
			 * Until a batch finds nothing: one ending at a transaction
			 * boundary may hold fewer than finsec.monitor_batch_rows payments
			 * with more waiting behind it.
			 */
			if (done || n == 0)
				break;
		}
	}
	if (!finsec_worker_should_stop())
		(void) run_in_transaction("SELECT (finsec._monitor_system_round(true)).alerts", 0, NULL, NULL, &done);
	return total;
}

void
finsec_monitor_register_tasks(void)
{
	FinsecWorkerTask task = {
		.name = "monitor.round",
		.interval_ms_setting = &finsec_monitor_interval_ms,
		.order = FINSEC_WORKER_ORDER_WRITE,
		.flags = FINSEC_WORKER_STOPPABLE | FINSEC_WORKER_OWN_TRANSACTIONS,
		.run = monitor_round,
		.failure_message = "finsec: transaction monitoring round failed: %s",
		.failure_detail = "The batch in flight rolled back; the next round redoes it from the committed position.",
	};

	finsec_worker_register_task(&task);
}
