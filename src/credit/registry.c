/*-------------------------------------------------------------------------
 *
 * registry.c
 *	  The credit institution registry, data files and exchange log
 *	  (004 9.1, 9.2, 9.4.1 b-d, 9.6 a; docs/credit.md "Registry").
 *
 * The registry is SQL (migration 1.1--1.2, section 6): finsec's
 * SECURITY DEFINER functions over finsec.credit_institution,
 * credit_data_file, credit_data_file_event and credit_exchange.  What
 * they need from C is who is acting: the role the caller is (its login
 * role or the one SET ROLE chose), which a SECURITY DEFINER function
 * cannot see as current_user.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "credit.h"

PG_FUNCTION_INFO_V1(finsec_credit_actor);

/*
 * finsec._credit_actor() returns name: the outer role (GetOuterUserId),
 * unchanged by SECURITY DEFINER calls: a credit user acting through
 * finsec's functions, or through a SECURITY DEFINER function of its own,
 * is still itself.
 */
Datum
finsec_credit_actor(PG_FUNCTION_ARGS)
{
	Name		result = (Name) palloc0(NAMEDATALEN);

	namestrcpy(result, GetUserNameFromId(GetOuterUserId(), false));
	PG_RETURN_NAME(result);
}
