/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  Credit data: the one place its settings, hooks and worker tasks are
 *	  registered from (each part defines its own).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "credit.h"

/* Every finsec.* setting of credit data (finsec.c, define_settings). */
void
finsec_credit_define_settings(void)
{
	finsec_credit_register_define_settings();
	finsec_credit_query_define_settings();
	finsec_credit_deid_define_settings();
	finsec_credit_dispute_define_settings();
}

/* Preloaded only: the hooks of registered tables, the query log, the worker task. */
void
finsec_credit_init(void)
{
	finsec_credit_register_init();
	finsec_credit_query_init();
	finsec_credit_deid_init();
}
