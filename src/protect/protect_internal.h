/*-------------------------------------------------------------------------
 *
 * protect_internal.h
 *	  Shared by the files of the protected-data core (src/protect/).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_PROTECT_INTERNAL_H
#define FINSEC_PROTECT_INTERNAL_H

#include "finsec_protect.h"

/* The policy with this id, or NULL (no ERROR). */
extern const FinsecProtectPolicy *finsec_protect_policy_if_exists(int32 policy_id);

/* The policy of this name, or NULL. */
extern const FinsecProtectPolicy *finsec_protect_policy_by_name(const char *name);

/* The policy id a name has in every database (30 bits, never 0). */
extern int32 finsec_protect_policy_id_of(const char *name);

/* The mask code of a policy (FP_MASK_*). */
extern int	finsec_protect_policy_mask(const FinsecProtectPolicy *p);

#endif							/* FINSEC_PROTECT_INTERNAL_H */
