/*-------------------------------------------------------------------------
 *
 * status.c
 *	  The finsec worker's status in shared memory, per database and task,
 *	  and finsec.worker_tasks() that shows it.
 *
 * One slot per database of finsec.audit_seal_databases (in the order
 * listed) holds the worker's pid and, per registered task (in run order),
 * its last run, last success, last error and counters.  The worker writes
 * its own slot under one LWLock; readers copy under it.  The counters live
 * until the server stops; a restarted worker keeps them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid_d.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/varlena.h"

#include "finsec.h"
#include "finsec_hooks.h"
#include "finsec_worker.h"
#include "worker_internal.h"

#define ERROR_LEN	256

typedef struct TaskStatus
{
	TimestampTz last_start;
	TimestampTz last_end;
	TimestampTz last_success;
	TimestampTz last_failure;
	int64		runs;
	int64		failures;
	int64		rows_last;
	int64		rows_total;
	bool		running;
	char		sqlstate[6];
	char		error[ERROR_LEN];
} TaskStatus;

typedef struct DatabaseStatus
{
	char		dbname[NAMEDATALEN];
	int			pid;
	TaskStatus	tasks[FINSEC_WORKER_MAX_TASKS];
} DatabaseStatus;

typedef struct WorkerShared
{
	LWLock	   *lock;
	int			ndatabases;
	DatabaseStatus databases[FINSEC_WORKER_MAX_DATABASES];
} WorkerShared;

static WorkerShared *shared = NULL;

static void
status_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(WorkerShared)));
	RequestNamedLWLockTranche("finsec_worker", 1);
}

static void
status_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("finsec worker status", sizeof(WorkerShared), &found);
	if (!found)
	{
		char	   *raw = pstrdup(finsec_audit_seal_databases ? finsec_audit_seal_databases : "");
		List	   *names = NIL;
		ListCell   *lc;

		memset(shared, 0, sizeof(WorkerShared));
		shared->lock = &(GetNamedLWLockTranche("finsec_worker"))->lock;
		if (!SplitIdentifierString(raw, ',', &names))
			names = NIL;
		foreach(lc, names)
		{
			if (shared->ndatabases >= FINSEC_WORKER_MAX_DATABASES)
				break;
			strlcpy(shared->databases[shared->ndatabases++].dbname, (char *) lfirst(lc), NAMEDATALEN);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/* The worker status's shared memory, through the hook registry. */
void
finsec_worker_status_install(void)
{
	finsec_hooks_register_shmem(FINSEC_SHMEM_WORKER, status_shmem_request,
								status_shmem_startup);
}

bool
finsec_worker_status_available(void)
{
	return shared != NULL;
}

static TaskStatus *
task_status(int db, int task)
{
	if (shared == NULL || db < 0 || db >= shared->ndatabases ||
		task < 0 || task >= finsec_worker_ntasks)
		return NULL;
	return &shared->databases[db].tasks[task];
}

void
finsec_worker_status_attach(int db, int pid)
{
	int			t;

	if (shared == NULL || db < 0 || db >= shared->ndatabases)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	shared->databases[db].pid = pid;
	/* a task of a crashed worker does not run any more */
	for (t = 0; t < FINSEC_WORKER_MAX_TASKS; t++)
		shared->databases[db].tasks[t].running = false;
	LWLockRelease(shared->lock);
}

void
finsec_worker_status_begin(int db, int task)
{
	TaskStatus *s = task_status(db, task);

	if (s == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	s->last_start = GetCurrentTimestamp();
	s->running = true;
	LWLockRelease(shared->lock);
}

/* Record a failure (under the lock). */
static void
record_failure(TaskStatus *s, TimestampTz now, int sqlerrcode, const char *message)
{
	int			len;

	s->failures++;
	s->last_failure = now;
	strlcpy(s->sqlstate, unpack_sql_state(sqlerrcode), sizeof(s->sqlstate));
	message = message ? message : "";
	/* cut at a character boundary */
	len = pg_mbcliplen(message, strlen(message), ERROR_LEN - 1);
	memcpy(s->error, message, len);
	s->error[len] = '\0';
}

void
finsec_worker_status_end(int db, int task, int64 rows, ErrorData *edata)
{
	TaskStatus *s = task_status(db, task);
	TimestampTz now = GetCurrentTimestamp();

	if (s == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	s->last_end = now;
	s->running = false;
	s->runs++;
	if (edata == NULL)
	{
		s->last_success = now;
		s->rows_last = rows;
		s->rows_total += rows;
	}
	else
	{
		s->rows_last = 0;
		record_failure(s, now, edata->sqlerrcode, edata->message);
	}
	LWLockRelease(shared->lock);
}

void
finsec_worker_status_abandon(int db, int task, const char *message)
{
	TaskStatus *s = task_status(db, task);
	TimestampTz now = GetCurrentTimestamp();

	if (s == NULL || !s->running)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	s->last_end = now;
	s->running = false;
	s->runs++;
	s->rows_last = 0;
	record_failure(s, now, ERRCODE_ADMIN_SHUTDOWN, message);
	LWLockRelease(shared->lock);
}

/* ---- SQL ---------------------------------------------------------------- */

#define WORKER_TASK_COLS 16

/* A time of the status, NULL while it never happened (0). */
static void
put_time(Datum *values, bool *nulls, int col, TimestampTz t)
{
	values[col] = TimestampTzGetDatum(t);
	nulls[col] = t == 0;
}

PG_FUNCTION_INFO_V1(finsec_worker_tasks);

/*
 * finsec.worker_tasks(OUT database text, OUT task text, OUT worker_pid
 *	 integer, OUT on_standby boolean, OUT interval_ms integer, OUT running
 *	 boolean, OUT runs bigint, OUT failures bigint, OUT rows_last bigint,
 *	 OUT rows_total bigint, OUT last_start timestamptz, OUT last_end
 *	 timestamptz, OUT last_success timestamptz, OUT last_failure
 *	 timestamptz, OUT last_sqlstate text, OUT last_error text): one row per
 *	 database with a worker and registered task; none without the preload.
 */
Datum
finsec_worker_tasks(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			db;

	/*
	 * Error texts of other databases' tasks only for those who may read every
	 * session's statistics, as pg_stat_activity shows other users' queries;
	 * the rest of each row is for every role granted the function.
	 */
	bool		all_errors = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
	char	   *here = get_database_name(MyDatabaseId);

	InitMaterializedSRF(fcinfo, 0);
	if (shared == NULL)
		PG_RETURN_VOID();
	for (db = 0; db < shared->ndatabases; db++)
	{
		DatabaseStatus copy;
		int			t;

		LWLockAcquire(shared->lock, LW_SHARED);
		memcpy(&copy, &shared->databases[db], sizeof(copy));
		LWLockRelease(shared->lock);

		for (t = 0; t < finsec_worker_ntasks; t++)
		{
			FinsecWorkerTask *task = &finsec_worker_tasks_registered[t];
			TaskStatus *s = &copy.tasks[t];
			Datum		values[WORKER_TASK_COLS];
			bool		nulls[WORKER_TASK_COLS];

			memset(nulls, false, sizeof(nulls));
			values[0] = CStringGetTextDatum(copy.dbname);
			values[1] = CStringGetTextDatum(task->name);
			values[2] = Int32GetDatum(copy.pid);
			nulls[2] = copy.pid == 0;
			values[3] = BoolGetDatum((task->flags & FINSEC_WORKER_ON_STANDBY) != 0);
			values[4] = Int32GetDatum(finsec_worker_task_interval(task));
			values[5] = BoolGetDatum(s->running);
			values[6] = Int64GetDatum(s->runs);
			values[7] = Int64GetDatum(s->failures);
			values[8] = Int64GetDatum(s->rows_last);
			values[9] = Int64GetDatum(s->rows_total);
			put_time(values, nulls, 10, s->last_start);
			put_time(values, nulls, 11, s->last_end);
			put_time(values, nulls, 12, s->last_success);
			put_time(values, nulls, 13, s->last_failure);
			values[14] = CStringGetTextDatum(s->sqlstate);
			nulls[14] = s->failures == 0;
			values[15] = CStringGetTextDatum(s->error);
			nulls[15] = s->failures == 0 ||
				(!all_errors && (here == NULL || strcmp(copy.dbname, here) != 0));
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	PG_RETURN_VOID();
}
