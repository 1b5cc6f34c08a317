/*-------------------------------------------------------------------------
 *
 * finsec_card.h
 *	  Protected bank card and account numbers: settings.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_CARD_H
#define FINSEC_CARD_H

/* The card settings (card.c, probe.c) and their defaults. */
extern void finsec_card_define_settings(void);
extern bool finsec_card_lenient;
extern int	finsec_card_mask_first;
extern int	finsec_card_mask_last;
extern bool finsec_card_mask_group;
#define FINSEC_CARD_LENIENT_DEFAULT false
#define FINSEC_CARD_MASK_FIRST_DEFAULT 6
#define FINSEC_CARD_MASK_LAST_DEFAULT 4
#define FINSEC_CARD_MASK_GROUP_DEFAULT false

extern int	finsec_card_probe_budget;
extern int	finsec_card_probe_slots;
extern int	finsec_card_probe_buffer_slots;
#define FINSEC_CARD_PROBE_BUDGET_DEFAULT 20
#define FINSEC_CARD_PROBE_SLOTS_DEFAULT 16384
#define FINSEC_CARD_PROBE_BUFFER_DEFAULT 256

/* The card probe budget (src/card/probe.c). */
extern void finsec_card_probe_shmem_init(void);

/* "v<N>:<hex>": the fingerprint key risk lists name a card or account by. */
extern char *finsec_card_key(struct varlena *number);

/* The Luhn check of n digits (src/card/card_parse.c; also in card_parse.h for the fuzzers). */
extern bool finsec_card_luhn_valid(const char *digits, int n);

#endif							/* FINSEC_CARD_H */
