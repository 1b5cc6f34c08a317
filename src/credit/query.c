/*-------------------------------------------------------------------------
 *
 * query.c
 *	  (being written: issue 18)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "credit.h"

void
finsec_credit_query_define_settings(void)
{
}

void
finsec_credit_query_init(void)
{
}
