/*-------------------------------------------------------------------------
 *
 * card_probe.h
 *	  The card probe budget (probe.c), for card.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_CARD_PROBE_H
#define FINSEC_CARD_PROBE_H

#include "card_parse.h"

/*
 * Count a number constructed from clear digits against the session user's
 * finsec.card_probe_budget, or refuse it (S9C01, audited).
 */
extern void finsec_card_probe_count(const FsNumberHeader *h);

/* The probe budget's settings, for finsec_card_define_settings(). */
extern void finsec_card_probe_define_settings(void);

#endif							/* FINSEC_CARD_PROBE_H */
