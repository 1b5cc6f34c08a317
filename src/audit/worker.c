/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The sealer: a background worker per database named in
 *	  finsec.audit_seal_databases, sealing every finsec.audit_seal_interval.
 *
 * In the style of contrib's worker_spi: latch waits, SIGHUP reloads the
 * configuration, SIGTERM ends it cleanly, one transaction per round, and
 * a restart interval so an error (a database being dropped, say) does not
 * end sealing for good.  Sealing is idempotent: a round that fails is
 * simply done again by the next one.  Each round also records the
 * database's limit refusals and risk decisions waiting in shared memory
 * (src/limits/refusals.c, src/risk/log.c) before it seals.  Nothing happens on a standby, which receives the
 * primary's blocks through replication.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

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
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_auth.h"
#include "finsec_card.h"
#include "finsec_limits.h"
#include "finsec_risk.h"
#include "finsec_owner.h"
#include "ledger_internal.h"

PGDLLEXPORT void finsec_sealer_main(Datum main_arg);

int			finsec_audit_seal_interval_ms = FINSEC_AUDIT_SEAL_INTERVAL_DEFAULT;
char	   *finsec_audit_seal_databases = NULL;

#define SEALER_RESTART_SECONDS 10

static void
write_auth_events(Oid actor, void *arg)
{
	*(uint64 *) arg = finsec_auth_events_write(actor);
}

static void
seal_round(const char *dbname)
{
	bool		drain = finsec_auth_events_here(dbname);
	uint64		written = 0;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "finsec: sealing protected tables");

	if (OidIsValid(get_extension_oid("finsec", true)))
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		/*
		 * Authentication events first, so that this round seals them too,
		 * in a subtransaction: if they cannot be written (the ledger is at
		 * finsec.audit_capacity_limit, say), they wait in the queue and the
		 * log has them, but sealing still goes on.
		 */
		if (drain)
		{
			ErrorData  *edata = finsec_try_as_owner(write_auth_events, &written);

			if (edata != NULL)
			{
				written = 0;
				ereport(WARNING,
						(errmsg("finsec: authentication events not written to the audit ledger: %s",
								edata->message),
						 errdetail("They stay queued, and the server log has them; sealing continues.")));
				FreeErrorData(edata);
			}
		}
		/* Refusals of the limit trigger, likewise (src/limits/refusals.c). */
		finsec_limits_sealer_flush();
		/* Risk decisions, likewise (src/risk/log.c). */
		finsec_risk_sealer_flush();
		/* Refused card probes, likewise (src/card/probe.c). */
		finsec_card_sealer_flush();
		/* Audit records of rolled-back transactions (src/audit/pending.c). */
		finsec_audit_ring_sealer_flush();
		if (SPI_execute("SELECT finsec.audit_seal()", false, 0) != SPI_OK_SELECT)
			elog(ERROR, "finsec.audit_seal() failed");
		SPI_finish();
	}

	PopActiveSnapshot();
	CommitTransactionCommand();
	if (written)
		finsec_auth_events_ack(written);
	pgstat_report_stat(true);
	pgstat_report_activity(STATE_IDLE, NULL);
}

void
finsec_sealer_main(Datum main_arg)
{
	char		dbname[BGW_EXTRALEN];

	strlcpy(dbname, MyBgworkerEntry->bgw_extra, sizeof(dbname));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(dbname, NULL, 0);
	pgstat_report_appname("finsec audit sealer");
	elog(LOG, "finsec: audit sealer started for database \"%s\"", dbname);

	for (;;)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 finsec_audit_seal_interval_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (RecoveryInProgress())
			continue;
		seal_round(dbname);
	}
}

/* Check hook: a comma-separated list of at most 16 distinct database names. */
bool
finsec_check_seal_databases(char **newval, void **extra, GucSource source)
{
	char	   *raw = pstrdup(*newval);
	List	   *names;
	ListCell   *lc;

	if (!SplitIdentifierString(raw, ',', &names))
	{
		GUC_check_errdetail("List syntax is invalid.");
		return false;
	}
	if (list_length(names) > 16)
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

/* Called from _PG_init in the postmaster: one sealer per listed database. */
void
finsec_audit_register_workers(void)
{
	char	   *raw = pstrdup(finsec_audit_seal_databases ? finsec_audit_seal_databases : "");
	List	   *names;
	ListCell   *lc;

	if (!SplitIdentifierString(raw, ',', &names))
		return;					/* the check hook already refused it */
	foreach(lc, names)
	{
		BackgroundWorker worker;

		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = SEALER_RESTART_SECONDS;
		strlcpy(worker.bgw_library_name, "finsec", BGW_MAXLEN);
		strlcpy(worker.bgw_function_name, "finsec_sealer_main", BGW_MAXLEN);
		snprintf(worker.bgw_name, BGW_MAXLEN, "finsec audit sealer for %s", (char *) lfirst(lc));
		strlcpy(worker.bgw_type, "finsec audit sealer", BGW_MAXLEN);
		strlcpy(worker.bgw_extra, (char *) lfirst(lc), BGW_EXTRALEN);
		RegisterBackgroundWorker(&worker);
	}
}
