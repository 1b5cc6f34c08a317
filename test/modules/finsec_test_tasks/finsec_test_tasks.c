/*-------------------------------------------------------------------------
 *
 * finsec_test_tasks.c
 *	  Test-only finsec worker tasks (test/t/004_worker_tasks.pl,
 *	  005_worker_standby.pl), registered through finsec_worker.h.
 *	  Loaded after finsec: shared_preload_libraries = 'finsec,finsec_test_tasks'.
 *
 *	  test.fail     fails with P0001 while finsec_test_tasks.fail is on,
 *	                else succeeds with one row
 *	  test.count    succeeds, one row a run (a primary-only task)
 *	  test.standby  succeeds, one row a run, on a standby too
 *	  test.long     finsec_test_tasks.long_batches batches of 200 ms, checking
 *	                finsec_worker_should_stop() between them (stoppable)
 *	  test.sleep    sleeps finsec_test_tasks.sleep_ms in one statement,
 *	                not stoppable (SIGTERM ends the worker inside it)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "finsec_worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static bool fail_on = true;
static int	long_batches = 0;
static int	sleep_ms = 0;
static int	test_interval_ms = 200;

static int64
fail_run(void *arg)
{
	if (fail_on)
		ereport(ERROR,
				(errcode(ERRCODE_RAISE_EXCEPTION),
				 errmsg("finsec_test_tasks: test.fail fails on purpose")));
	return 1;
}

static int64
count_run(void *arg)
{
	if (SPI_execute("SELECT 1", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "SELECT 1 failed");
	return 1;
}

static bool
long_has_work(void *arg)
{
	return long_batches > 0;
}

static int64
long_run(void *arg)
{
	int64		done = 0;

	elog(LOG, "finsec_test_tasks: test.long starts %d batches", long_batches);
	while (done < long_batches && !finsec_worker_should_stop())
	{
		if (SPI_execute("SELECT pg_catalog.pg_sleep(0.2)", true, 0) != SPI_OK_SELECT)
			elog(ERROR, "pg_sleep failed");
		done++;
	}
	elog(LOG, "finsec_test_tasks: test.long returns after %lld batches", (long long) done);
	return done;
}

static bool
sleep_has_work(void *arg)
{
	return sleep_ms > 0;
}

static int64
sleep_run(void *arg)
{
	char		sql[64];

	snprintf(sql, sizeof(sql), "SELECT pg_catalog.pg_sleep(%d / 1000.0)", sleep_ms);
	elog(LOG, "finsec_test_tasks: test.sleep sleeps %d ms", sleep_ms);
	if (SPI_execute(sql, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_sleep failed");
	return 1;
}

void
_PG_init(void)
{
	static const FinsecWorkerTask tasks[] = {
		{.name = "test.fail", .interval_ms_setting = &test_interval_ms, .run = fail_run},
		{.name = "test.count", .interval_ms_setting = &test_interval_ms, .run = count_run},
		{.name = "test.standby", .interval_ms_setting = &test_interval_ms,
		.flags = FINSEC_WORKER_ON_STANDBY | FINSEC_WORKER_WITHOUT_EXTENSION, .run = count_run},
		{.name = "test.long", .interval_ms_setting = &test_interval_ms,
		.flags = FINSEC_WORKER_STOPPABLE, .has_work = long_has_work, .run = long_run},
		{.name = "test.sleep", .interval_ms_setting = &test_interval_ms,
		.has_work = sleep_has_work, .run = sleep_run},
	};
	int			i;

	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomBoolVariable("finsec_test_tasks.fail", "Whether test.fail fails.", NULL,
							 &fail_on, true, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("finsec_test_tasks.long_batches", "Batches of test.long (0: it does not run).",
							NULL, &long_batches, 0, 0, 100000, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("finsec_test_tasks.sleep_ms", "Sleep of test.sleep (0: it does not run).",
							NULL, &sleep_ms, 0, 0, 3600000, PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("finsec_test_tasks.interval", "Interval of the test tasks.",
							NULL, &test_interval_ms, 200, 10, 3600000, PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	for (i = 0; i < lengthof(tasks); i++)
		finsec_worker_register_task(&tasks[i]);
}
