/*-------------------------------------------------------------------------
 *
 * finsec_card.h
 *	  Protected bank card and account numbers: settings.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_CARD_H
#define FINSEC_CARD_H

#include "postgres.h"

extern bool finsec_card_lenient;
extern int	finsec_card_mask_first;
extern int	finsec_card_mask_last;
extern bool finsec_card_mask_group;

extern void finsec_card_define_settings(void);

#endif							/* FINSEC_CARD_H */
