/*-------------------------------------------------------------------------
 *
 * reveal.c
 *	  The reveal gate (finsec_protect.h): minimal version written by the
 *	  core so that reveal() works before the "keys" part replaces it with
 *	  the budgeted one (finsec.reveal_budget).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/acl.h"

#include "finsec_audit.h"
#include "finsec_protect.h"

/* Refuse a role that is not a member of finsec_unmask, whatever the value. */
void
finsec_reveal_check_role(const char *what)
{
	if (!has_privs_of_role(GetUserId(), get_role_oid("finsec_unmask", false)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to reveal %s", what),
				 errhint("Revealing needs membership in finsec_unmask.")));
}

/* The durable audit row of one reveal: it survives the caller's rollback. */
void
finsec_reveal_record(const char *event_type, const char *what, const char *reason,
					 const char *context, Jsonb *detail)
{
	finsec_audit_event_durable(event_type, context, "reveal", true, reason, detail);
}

void
finsec_protect_reveal_define_settings(void)
{
}

void
finsec_protect_reveal_init(void)
{
}
