/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  Compliance self-check and reports: the one place their settings are
 *	  registered from.  The checks and reports themselves are SQL and read
 *	  these with current_setting().
 *
 * Settings that decide what the self-check demands (the target level, the
 * sampling bounds, the inactivity and verification ages) are PGC_SIGHUP:
 * the caller of finsec.compliance_check() cannot relax its own check for a
 * session.  Only the report language is the caller's choice.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "finsec_compliance.h"

int			finsec_report_language = FINSEC_REPORT_LANGUAGE_ZH_CN;
int			finsec_dr_target_level = 3;
char	   *finsec_dr_failover_tool = NULL;
int			finsec_compliance_sample_rows = 200;
int			finsec_compliance_sample_tables = 2000;
int			finsec_compliance_inactive_after_s = 90 * 86400;
int			finsec_compliance_verify_interval_s = 31 * 86400;
char	   *finsec_compliance_batch_roles = NULL;

static const struct config_enum_entry report_language_options[] = {
	{"zh_CN", FINSEC_REPORT_LANGUAGE_ZH_CN, false},
	{"zh", FINSEC_REPORT_LANGUAGE_ZH_CN, true},
	{"en", FINSEC_REPORT_LANGUAGE_EN, false},
	{NULL, 0, false}
};

/* Every finsec.* setting of the compliance capability. */
void
finsec_compliance_define_settings(void)
{
	DefineCustomEnumVariable("finsec.report_language",
							 "Language of the compliance self-check's and the reports' labels.",
							 "zh_CN (the default) or en; a function's lang argument overrides it.",
							 &finsec_report_language,
							 FINSEC_REPORT_LANGUAGE_ZH_CN,
							 report_language_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.dr_target_level",
							"Disaster-recovery level (JR/T 0199-2020 appendix, 1 to 6) this system declares it meets.",
							"finsec.compliance_check() fails when finsec.dr_level() infers a lower level.",
							&finsec_dr_target_level,
							3, 1, 6,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomStringVariable("finsec.dr_failover_tool",
							   "The failover tooling in use (for example patroni, repmgr, pg_auto_failover), as declared by the DBA.",
							   "Empty: none declared.  finsec.dr_level() counts a declared tool towards the recovery time, and says it is declared, not observed.",
							   &finsec_dr_failover_tool,
							   "",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.compliance_sample_rows",
							"Rows of each text column the card-number check reads.",
							"0 checks column names and types only.",
							&finsec_compliance_sample_rows,
							200, 0, 100000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.compliance_sample_tables",
							"Largest number of tables the card-number check samples in one run.",
							"Tables beyond it are checked by column name only, and the check says how many.",
							&finsec_compliance_sample_tables,
							2000, 0, INT_MAX,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.compliance_inactive_after",
							"A login role that has not logged in for this long is inactive.",
							"JR/T 0096.5-2012 3.2.6: inactive users are removed.",
							&finsec_compliance_inactive_after_s,
							90 * 86400, 86400, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.compliance_verify_interval",
							"Largest age of the last key_verify() and audit_verify() the self-check accepts.",
							NULL,
							&finsec_compliance_verify_interval_s,
							31 * 86400, 3600, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomStringVariable("finsec.compliance_batch_roles",
							   "Login roles of important batch clients, which must authenticate with a client certificate.",
							   "A comma-separated list; JR/T 0117-2014 8.2.2 asks for mutual authentication of such clients.",
							   &finsec_compliance_batch_roles,
							   "",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   NULL, NULL, NULL);
}
