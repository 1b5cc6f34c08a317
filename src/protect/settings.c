/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  Protected personal data: the one place its settings, hooks and shared
 *	  memory are registered from (each part defines its own).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "finsec_protect.h"

/* Every finsec.* setting of protected data (finsec.c, _PG_init). */
void
finsec_protect_define_settings(void)
{
	finsec_protect_core_define_settings();
	finsec_protect_reveal_define_settings();
	finsec_protect_label_define_settings();
}

/* Preloaded only: the reveal budget's shared memory, the label hooks. */
void
finsec_protect_init(void)
{
	finsec_protect_reveal_init();
	finsec_protect_label_init();
}
