/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  The audit ledger's settings (docs/audit.md, docs/configuration.md).
 *
 * Defaults are FINSEC_<NAME>_DEFAULT of finsec_audit.h, also the variables'
 * initialisers.  The event buffer's settings are pending.c's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "miscadmin.h"
#include "utils/guc.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "ledger_internal.h"

/* Defines the ledger's settings (retention, capacity, sealer) and the event buffer's. */
void
finsec_audit_define_settings(void)
{
	DefineCustomIntVariable("finsec.audit_retention",
							"How long audit and protected rows are kept before they may be purged.",
							"Rows younger than this cannot be removed by anyone through SQL; "
							"finsec.audit_purge() refuses boundaries within it. "
							"JR/T 0117 asks for at least six months, JR/T 0096.5 three; "
							"the floor is 90 days.",
							&finsec_audit_retention_minutes,
							FINSEC_AUDIT_RETENTION_DEFAULT,
							90 * 24 * 60, 100 * 365 * 24 * 60,
							PGC_SIGHUP,
							GUC_UNIT_MIN,
							NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.audit_capacity_warning",
							"Ledger size at which finsec warns that audit storage is running out.",
							"Measured over finsec.audit and finsec.ledger_block. Crossing it sends a "
							"WARNING to the writing session and records an audit.capacity event "
							"(at most every 10 minutes per session). 0 disables the warning.",
							&finsec_audit_capacity_warning_mb,
							FINSEC_AUDIT_CAPACITY_WARNING_DEFAULT, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("finsec.audit_capacity_limit",
							"Ledger size at which auditable operations are refused.",
							"At or above it, finsec.audit_event() and every finsec operation that "
							"audits itself fail with SQLSTATE S9U02, so nothing happens unaudited. "
							"0 means no limit.",
							&finsec_audit_capacity_limit_mb,
							FINSEC_AUDIT_CAPACITY_LIMIT_DEFAULT, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MB,
							NULL, NULL, NULL);

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
								   "Databases in which a background worker seals protected tables.",
								   "Comma-separated database names, one sealer each. Without a "
								   "sealer, rows stay unsealed until finsec.audit_seal() runs.",
								   &finsec_audit_seal_databases,
								   FINSEC_AUDIT_SEAL_DATABASES_DEFAULT,
								   PGC_POSTMASTER,
								   GUC_LIST_INPUT,
								   finsec_check_seal_databases, NULL, NULL);

	finsec_audit_define_ring_settings();
}
