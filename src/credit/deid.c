/*-------------------------------------------------------------------------
 *
 * deid.c
 *	  (being written: issue 18)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "credit.h"

void
finsec_credit_deid_define_settings(void)
{
}

void
finsec_credit_deid_init(void)
{
}
