/*-------------------------------------------------------------------------
 *
 * sealer.c
 *	  The sealer: a finsec worker task (src/worker/) that seals every
 *	  protected table of its database every round of the worker
 *	  (finsec.audit_seal_interval).
 *
 * Sealing is idempotent: a round that fails is simply done again by the
 * next one.  The task runs after every task that writes audit events
 * (FINSEC_WORKER_ORDER_SEAL), so a round seals what they wrote.  Nothing
 * happens on a standby, which receives the primary's blocks through
 * replication.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/builtins.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_worker.h"

/* Seal every protected table; rows sealed. */
static int64
seal_run(void *arg)
{
	bool		isnull;
	Datum		rows;

	if (SPI_execute("SELECT pg_catalog.sum(rows_sealed)::pg_catalog.int8 FROM finsec.audit_seal()",
					false, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "finsec.audit_seal() failed");
	rows = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetInt64(rows);
}

/* Called from _PG_init when preloaded: register the sealer task. */
void
finsec_audit_register_tasks(void)
{
	static const FinsecWorkerTask sealer = {
		.name = "audit.seal",
		.order = FINSEC_WORKER_ORDER_SEAL,
		.run = seal_run,
	};

	finsec_worker_register_task(&sealer);
}
