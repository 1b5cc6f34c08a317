/*-------------------------------------------------------------------------
 *
 * finsec_compliance.h
 *	  Compliance self-check and reports (src/compliance/,
 *	  docs/compliance.md): the clause catalog, finsec.compliance_check(),
 *	  the disaster-recovery level, the backup register and the reports.
 *	  Almost all of it is SQL (migrations/finsec--1.2--1.3.sql); the C
 *	  part is its settings.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_COMPLIANCE_H
#define FINSEC_COMPLIANCE_H

/* finsec.report_language */
typedef enum FinsecReportLanguage
{
	FINSEC_REPORT_LANGUAGE_ZH_CN,
	FINSEC_REPORT_LANGUAGE_EN
} FinsecReportLanguage;

extern int	finsec_report_language;
extern int	finsec_dr_target_level;
extern char *finsec_dr_failover_tool;
extern int	finsec_compliance_sample_rows;
extern int	finsec_compliance_sample_tables;
extern int	finsec_compliance_inactive_after_s;
extern int	finsec_compliance_verify_interval_s;
extern char *finsec_compliance_batch_roles;

/* Every finsec.* setting of the compliance capability (finsec.c, define_settings). */
extern void finsec_compliance_define_settings(void);

#endif							/* FINSEC_COMPLIANCE_H */
