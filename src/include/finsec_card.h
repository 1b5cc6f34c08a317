/*-------------------------------------------------------------------------
 *
 * finsec_card.h
 *	  Protected bank card and account numbers: settings.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_CARD_H
#define FINSEC_CARD_H

extern bool finsec_card_lenient;
extern int	finsec_card_mask_first;
extern int	finsec_card_mask_last;
extern bool finsec_card_mask_group;

extern int	finsec_card_probe_budget;
extern int	finsec_card_probe_slots;
extern int	finsec_card_probe_buffer_slots;

extern void finsec_card_define_settings(void);

/* The card probe budget (src/card/probe.c). */
extern void finsec_card_probe_define_settings(void);
extern void finsec_card_probe_shmem_init(void);

/* "v<N>:<hex>": the fingerprint key risk lists name a card or account by. */
extern char *finsec_card_key(struct varlena *number);

#endif							/* FINSEC_CARD_H */
