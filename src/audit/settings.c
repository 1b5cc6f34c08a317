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

	finsec_audit_define_ring_settings();
}
