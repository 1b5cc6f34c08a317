/*-------------------------------------------------------------------------
 *
 * finsec_credit.h
 *	  Credit data lifecycle (src/credit/, docs/credit.md): registered credit
 *	  tables, the enforced query log, de-identification of expired records
 *	  with a re-identification-risk proof, disputes, the institution
 *	  registry and the outbound-link check.
 *
 * What other capabilities and finsec.c may call.  The parts of src/credit
 * share src/credit/credit.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_CREDIT_H
#define FINSEC_CREDIT_H

/* Every finsec.* setting of credit data (finsec.c, define_settings). */
extern void finsec_credit_define_settings(void);

/* Preloaded only: hooks and worker tasks of credit data (finsec.c, _PG_init). */
extern void finsec_credit_init(void);

/* Is this relation a registered credit table?  (backend cache, no error) */
extern bool finsec_credit_is_registered(Oid relid);

#endif							/* FINSEC_CREDIT_H */
