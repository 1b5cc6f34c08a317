/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The finsec worker: a background worker per database named in
 *	  finsec.audit_seal_databases, running the tasks capabilities register
 *	  (finsec_worker.h; docs/workers.md).
 *
 * In the style of contrib's worker_spi: latch waits, SIGHUP reloads the
 * configuration, SIGTERM ends it cleanly, and a restart interval so that
 * an error (a database being dropped, say) does not end the work for good.
 * Every round runs each due task in its own transaction; a task's error
 * rolls back that transaction only, is logged with the task's name and
 * recorded in shared memory (status.c), and the next task runs.  On a hot
 * standby the worker runs only the tasks marked FINSEC_WORKER_ON_STANDBY
 * and checks for promotion at least once a second; the others start by
 * themselves once it has happened.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "finsec.h"
#include "finsec_worker.h"
#include "worker_internal.h"

PGDLLEXPORT void finsec_worker_main(Datum main_arg);

char	   *finsec_audit_seal_databases = NULL;
int			finsec_audit_seal_interval_ms = FINSEC_AUDIT_SEAL_INTERVAL_DEFAULT;

FinsecWorkerTask finsec_worker_tasks_registered[FINSEC_WORKER_MAX_TASKS];
int			finsec_worker_ntasks = 0;

#define WORKER_RESTART_SECONDS	10
/* On a standby, how often at least the worker looks for a promotion. */
#define PROMOTION_CHECK_MS		1000
/* A task failing every round is logged at most this often. */
#define FAILURE_LOG_MS			(60 * 1000)

/* ---- this worker's state ---- */
static char worker_dbname[BGW_EXTRALEN] = "";
static int	worker_db = -1;
static volatile sig_atomic_t stop_requested = false;
static volatile sig_atomic_t running_task = -1;
static volatile sig_atomic_t running_stoppable = false;
static TimestampTz next_due[FINSEC_WORKER_MAX_TASKS];
static TimestampTz last_failure_log[FINSEC_WORKER_MAX_TASKS];

/* ---- registry ---------------------------------------------------------- */

void
finsec_worker_register_task(const FinsecWorkerTask *task)
{
	int			i;

	if (task == NULL || task->name == NULL || task->run == NULL)
		elog(ERROR, "finsec worker task needs a name and a run function");
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("finsec worker task \"%s\" can be registered only while shared_preload_libraries are loaded",
						task->name)));
	if (strlen(task->name) >= FINSEC_WORKER_NAME_LEN)
		elog(ERROR, "finsec worker task name \"%s\" is too long", task->name);
	if (finsec_worker_ntasks >= FINSEC_WORKER_MAX_TASKS)
		elog(ERROR, "too many finsec worker tasks (at most %d)", FINSEC_WORKER_MAX_TASKS);
	for (i = 0; i < finsec_worker_ntasks; i++)
		if (strcmp(finsec_worker_tasks_registered[i].name, task->name) == 0)
			elog(ERROR, "finsec worker task \"%s\" is registered twice", task->name);

	/* Insert in order; equal orders keep the registration order. */
	for (i = finsec_worker_ntasks; i > 0 && finsec_worker_tasks_registered[i - 1].order > task->order; i--)
		finsec_worker_tasks_registered[i] = finsec_worker_tasks_registered[i - 1];
	finsec_worker_tasks_registered[i] = *task;
	finsec_worker_ntasks++;
}

int
finsec_worker_task_interval(const FinsecWorkerTask *task)
{
	int			ms = task->interval_ms_setting ? *task->interval_ms_setting :
	task->interval_ms > 0 ? task->interval_ms : finsec_audit_seal_interval_ms;

	return Max(ms, 1);
}

const char *
finsec_worker_database(void)
{
	return worker_dbname;
}

bool
finsec_worker_should_stop(void)
{
	if (worker_db < 0)
		return false;
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
	return stop_requested || ProcDiePending;
}

/* ---- signals and exit -------------------------------------------------- */

/*
 * SIGTERM: stop after the running task.  A task that does not check
 * finsec_worker_should_stop() is ended at its next interrupt check, as
 * die() would (its transaction rolls back).
 */
static void
worker_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	stop_requested = true;
	if (running_task >= 0 && !running_stoppable)
	{
		InterruptPending = true;
		ProcDiePending = true;
	}
	SetLatch(MyLatch);
	errno = save_errno;
}

/* Leaving (FATAL, SIGTERM, end of the database): say so in the status. */
static void
worker_exit(int code, Datum arg)
{
	if (running_task >= 0)
		finsec_worker_status_abandon(worker_db, running_task,
									 "the worker exited while the task ran");
	finsec_worker_status_attach(worker_db, 0);
}

/* ---- running a task ---------------------------------------------------- */

/* Log a task's failure, at most once a minute per task. */
static void
log_failure(int t, ErrorData *edata)
{
	FinsecWorkerTask *task = &finsec_worker_tasks_registered[t];
	TimestampTz now = GetCurrentTimestamp();

	if (last_failure_log[t] != 0 &&
		!TimestampDifferenceExceeds(last_failure_log[t], now, FAILURE_LOG_MS))
		return;
	last_failure_log[t] = now;
	if (task->failure_message)
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg(task->failure_message, edata->message),
				 task->failure_detail ? errdetail_internal("%s", task->failure_detail) : 0,
				 errcontext("finsec worker task \"%s\" in database \"%s\"", task->name, worker_dbname)));
	else
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("finsec: worker task \"%s\" failed: %s", task->name, edata->message),
				 errdetail("The other tasks go on; this one runs again at its next interval."),
				 errcontext("finsec worker task \"%s\" in database \"%s\"", task->name, worker_dbname)));
}

/*
 * Run task t once: in a transaction of its own (unless it manages its own),
 * SPI connected, where finsec is installed (unless it need not be).  An
 * error rolls everything back and is recorded; it never leaves this
 * function.
 */
static void
run_task(int t)
{
	FinsecWorkerTask *task = &finsec_worker_tasks_registered[t];
	MemoryContext cxt = CurrentMemoryContext;
	bool		own = (task->flags & FINSEC_WORKER_OWN_TRANSACTIONS) != 0;
	bool		ran = false;
	int64		rows = 0;
	ErrorData  *edata = NULL;

	running_stoppable = (task->flags & FINSEC_WORKER_STOPPABLE) != 0;
	running_task = t;
	if (stop_requested)
	{
		running_task = -1;
		return;
	}

	PG_TRY();
	{
		if (own)
		{
			pgstat_report_activity(STATE_RUNNING, task->name);
			finsec_worker_status_begin(worker_db, t);
			ran = true;
			rows = task->run(task->arg);
		}
		else
		{
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			PushActiveSnapshot(GetTransactionSnapshot());
			pgstat_report_activity(STATE_RUNNING, task->name);
			if ((task->flags & FINSEC_WORKER_WITHOUT_EXTENSION) ||
				OidIsValid(get_extension_oid("finsec", true)))
			{
				if (SPI_connect() != SPI_OK_CONNECT)
					elog(ERROR, "SPI_connect failed");
				finsec_worker_status_begin(worker_db, t);
				ran = true;
				rows = task->run(task->arg);
				SPI_finish();
			}
			PopActiveSnapshot();
			/* a stoppable task that returned must still commit its work */
			HOLD_INTERRUPTS();
			CommitTransactionCommand();
			RESUME_INTERRUPTS();
		}
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);

	if (ran)
	{
		if (edata == NULL && task->after_commit)
			task->after_commit(task->arg, rows);
		finsec_worker_status_end(worker_db, t, rows, edata);
	}
	if (edata)
	{
		log_failure(t, edata);
		FreeErrorData(edata);
	}
	running_task = -1;
	pgstat_report_stat(true);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * One round: every task that is due, in order; on a standby only those
 * marked for it.  Returns how long to wait for the next one.
 */
static long
run_round(MemoryContext roundcxt)
{
	bool		in_recovery = RecoveryInProgress();
	long		wait_ms = 3600 * 1000L;
	int			t;

	for (t = 0; t < finsec_worker_ntasks && !stop_requested; t++)
	{
		FinsecWorkerTask *task = &finsec_worker_tasks_registered[t];
		TimestampTz now = GetCurrentTimestamp();
		int			interval = finsec_worker_task_interval(task);
		long		left;

		if (in_recovery && !(task->flags & FINSEC_WORKER_ON_STANDBY))
		{
			/* stays due: it runs in the first round after promotion */
			wait_ms = Min(wait_ms, Min(interval, PROMOTION_CHECK_MS));
			continue;
		}
		if (now >= next_due[t])
		{
			MemoryContextReset(roundcxt);
			if (task->has_work == NULL || task->has_work(task->arg))
				run_task(t);
			now = GetCurrentTimestamp();
			next_due[t] = TimestampTzPlusMilliseconds(now, interval);
		}
		/* an interval shortened by a reload applies at once */
		if (next_due[t] > TimestampTzPlusMilliseconds(now, interval))
			next_due[t] = TimestampTzPlusMilliseconds(now, interval);
		left = (long) ((next_due[t] - now) / 1000);
		wait_ms = Min(wait_ms, Max(left, 0));
	}
	return wait_ms;
}

/* The worker's entry point: argument = slot of its database. */
void
finsec_worker_main(Datum main_arg)
{
	MemoryContext roundcxt;
	TimestampTz start;
	long		wait_ms = 0;
	int			t;

	strlcpy(worker_dbname, MyBgworkerEntry->bgw_extra, sizeof(worker_dbname));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, worker_sigterm);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(worker_dbname, NULL, 0);
	pgstat_report_appname("finsec worker");
	worker_db = DatumGetInt32(main_arg);
	finsec_worker_status_attach(worker_db, MyProcPid);
	before_shmem_exit(worker_exit, (Datum) 0);
	ereport(LOG,
			(errmsg("finsec: worker started for database \"%s\" with %d tasks",
					worker_dbname, finsec_worker_ntasks)));

	roundcxt = AllocSetContextCreate(TopMemoryContext, "finsec worker round",
									 ALLOCSET_DEFAULT_SIZES);

	/*
	 * As before tasks existed: the first round comes one interval after the
	 * start.
	 */
	start = GetCurrentTimestamp();
	for (t = 0; t < finsec_worker_ntasks; t++)
		next_due[t] = TimestampTzPlusMilliseconds(start,
												  finsec_worker_task_interval(&finsec_worker_tasks_registered[t]));

	for (;;)
	{
		MemoryContextSwitchTo(TopMemoryContext);
		if (!stop_requested)
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (stop_requested)
			break;
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextSwitchTo(roundcxt);
		wait_ms = run_round(roundcxt);
	}

	ereport(LOG,
			(errmsg("finsec: worker for database \"%s\" stopped on request", worker_dbname)));
	/* exit code 1: the postmaster starts it again unless it is shutting down */
	proc_exit(1);
}

/* ---- settings ------------------------------------------------------- */

/* The worker's settings: its databases and its round (the sealer's interval). */
void
finsec_worker_define_settings(void)
{
	DefineCustomIntVariable("finsec.audit_seal_interval",
							"How often the sealer seals newly finished rows into the hash chain.",
							"Rows are protected by the chain from the first seal after their "
							"transaction ends; this bounds that window.",
							&finsec_audit_seal_interval_ms,
							FINSEC_AUDIT_SEAL_INTERVAL_DEFAULT, 100, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	/*
	 * PostgreSQL allows postmaster-context settings only while preloading
	 * (later it is a FATAL error), so they exist only then; without the
	 * preload, their features are unavailable anyway.
	 */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("finsec.audit_seal_databases",
								   "Databases in which finsec's background worker runs: it seals protected tables and runs the other tasks.",
								   "Comma-separated database names, one worker each (docs/workers.md). Without a "
								   "worker, rows stay unsealed until finsec.audit_seal() runs.",
								   &finsec_audit_seal_databases,
								   FINSEC_AUDIT_SEAL_DATABASES_DEFAULT,
								   PGC_POSTMASTER,
								   GUC_LIST_INPUT,
								   finsec_check_seal_databases, NULL, NULL);
}

/* ---- finsec.audit_seal_databases --------------------------------------- */

/* Check hook: a comma-separated list of at most 16 distinct database names. */
bool
finsec_check_seal_databases(char **newval, void **extra, GucSource source)
{
	char	   *raw = pstrdup(*newval ? *newval : "");
	List	   *names;
	ListCell   *lc;

	if (!SplitIdentifierString(raw, ',', &names))
	{
		GUC_check_errdetail("List syntax is invalid.");
		return false;
	}
	if (list_length(names) > FINSEC_WORKER_MAX_DATABASES)
	{
		GUC_check_errdetail("At most 16 databases can have a sealer.");
		return false;
	}
	foreach(lc, names)
	{
		ListCell   *lc2;

		if (strlen((char *) lfirst(lc)) >= BGW_EXTRALEN)
		{
			GUC_check_errdetail("Database name \"%s\" is too long.", (char *) lfirst(lc));
			return false;
		}
		for_each_cell(lc2, names, lnext(names, lc))
			if (strcmp(lfirst(lc), lfirst(lc2)) == 0)
		{
			GUC_check_errdetail("Database \"%s\" is listed twice.", (char *) lfirst(lc));
			return false;
		}
	}
	return true;
}

/* Called from _PG_init in the postmaster: status memory, one worker per listed database. */
void
finsec_worker_init(void)
{
	char	   *raw = pstrdup(finsec_audit_seal_databases ? finsec_audit_seal_databases : "");
	List	   *names;
	ListCell   *lc;

	finsec_worker_status_install();
	if (!SplitIdentifierString(raw, ',', &names))
		return;					/* the check hook already refused it */
	foreach(lc, names)
	{
		BackgroundWorker worker;

		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;

		/*
		 * on a hot standby too: it runs the standby's tasks and waits for
		 * promotion
		 */
		worker.bgw_start_time = BgWorkerStart_ConsistentState;
		worker.bgw_restart_time = WORKER_RESTART_SECONDS;
		strlcpy(worker.bgw_library_name, "finsec", BGW_MAXLEN);
		strlcpy(worker.bgw_function_name, "finsec_worker_main", BGW_MAXLEN);
		snprintf(worker.bgw_name, BGW_MAXLEN, "finsec worker for %s", (char *) lfirst(lc));
		strlcpy(worker.bgw_type, "finsec worker", BGW_MAXLEN);
		strlcpy(worker.bgw_extra, (char *) lfirst(lc), BGW_EXTRALEN);
		worker.bgw_main_arg = Int32GetDatum(foreach_current_index(lc));
		RegisterBackgroundWorker(&worker);
	}
}
