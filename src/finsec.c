/*-------------------------------------------------------------------------
 *
 * finsec.c
 *	  Module entry point: _PG_init, which calls each capability's
 *	  registration functions (settings, hook callbacks, shared memory,
 *	  worker tasks) and then installs the hooks once (src/common/hooks.c).
 *
 * Capabilities live in their own folders under src/; this file only wires
 * them into the server and includes nothing but public headers.
 * Everything that needs the postmaster (hooks, shared memory, background
 * workers) is registered only when the library is preloaded; see
 * src/common/preload.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_auth.h"
#include "finsec_signature.h"
#include "finsec_card.h"
#include "finsec_compliance.h"
#include "finsec_credit.h"
#include "finsec_keyring.h"
#include "finsec_mac.h"
#include "finsec_monitor.h"
#include "finsec_protect.h"
#include "finsec_money.h"
#include "finsec_redact.h"

#include "finsec_guard.h"
#include "finsec_hooks.h"
#include "finsec_limits.h"
#include "finsec_risk.h"
#include "finsec_worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* ---- settings ---------------------------------------------------------- */

/*
 * Each capability defines its settings in its own folder, their defaults
 * written once as FINSEC_<NAME>_DEFAULT (docs/development.md, "Settings");
 * postmaster-context ones only while preloading.
 */
static void
define_settings(void)
{
	finsec_common_define_settings();
	finsec_audit_define_settings();
	finsec_worker_define_settings();
	finsec_auth_define_settings();
	finsec_keyring_define_settings();
	finsec_mac_define_settings();
	finsec_guard_define_settings();
	finsec_signature_define_settings();
	finsec_card_define_settings();
	finsec_limits_define_settings();
	finsec_risk_define_settings();
	finsec_monitor_define_settings();
	finsec_protect_define_settings();
	finsec_credit_define_settings();
	finsec_compliance_define_settings();

	/* A misspelt finsec.* setting is reported and discarded, not kept. */
	MarkGUCPrefixReserved("finsec");
}

/* ---- module load ------------------------------------------------------- */

void
_PG_init(void)
{
	finsec_preloaded = process_shared_preload_libraries_in_progress;

	define_settings();
	/* Amount types of the application-table layer, also without preloading. */
	finsec_money_init();

	if (!finsec_preloaded)
		return;

	/*
	 * Each capability registers its hook callbacks and shared memory with the
	 * registry (src/common/hooks.c); the order they run in is that of
	 * finsec_hooks.h, not of these calls.  finsec_hooks_install() then
	 * installs each PostgreSQL hook once.
	 */
	finsec_audit_init_hooks();
	finsec_auth_init_hooks();
	finsec_log_redact_init();
	finsec_plcaller_init();
	finsec_lockout_init();
	finsec_limits_shmem_init();
	finsec_card_probe_shmem_init();
	finsec_risk_shmem_init();
	finsec_risk_log_shmem_init();
	finsec_audit_ring_shmem_init();
	finsec_limits_init_hooks();
	finsec_monitor_init_hooks();
	finsec_protect_init();
	finsec_credit_init();
	finsec_master_key_load();
	finsec_keyring_init();
	finsec_audit_register_tasks();
	finsec_monitor_register_tasks();
	finsec_worker_init();
	finsec_hooks_install();
}
