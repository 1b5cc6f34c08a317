/*-------------------------------------------------------------------------
 *
 * finsec_risk.h
 *	  Risk scoring (src/risk): what the rest of finsec calls.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_RISK_H
#define FINSEC_RISK_H

/* src/risk/shared.c: settings (the decision log's too); shared memory when preloaded */
extern void finsec_risk_define_settings(void);
extern void finsec_risk_shmem_init(void);

/* src/risk/log.c: the decision log */
extern void finsec_risk_log_shmem_init(void);

#endif							/* FINSEC_RISK_H */
