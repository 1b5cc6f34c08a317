/*-------------------------------------------------------------------------
 *
 * finsec_mac.h
 *	  Message authentication codes by key label: public C API.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_MAC_H
#define FINSEC_MAC_H

#include "finsec_keyring.h"

/* The settings of MACs and one-time codes (src/mac/settings.c), their defaults. */
extern void finsec_mac_define_settings(void);
extern int	finsec_mac_min_length;
extern char *finsec_otp_key;
extern int	finsec_otp_max_attempts;
extern int	finsec_otp_max_ttl_s;
#define FINSEC_MAC_MIN_LENGTH_DEFAULT 4
#define FINSEC_OTP_KEY_DEFAULT "otp"
#define FINSEC_OTP_MAX_ATTEMPTS_DEFAULT 5
#define FINSEC_OTP_MAX_TTL_DEFAULT 600	/* s */

/*
 * The MAC of data under the active version of the key "label", truncated
 * to length bytes (-1: full length); padding is an ISO/IEC 9797-1 padding
 * method for the iso9797 algorithms (0: the algorithm's default).
 */
extern bytea *finsec_mac_compute(const char *label, const char *algorithm,
								 const unsigned char *data, size_t len,
								 int length, int padding);

/*
 * Whether mac (possibly truncated) is the MAC of data under the active or a
 * retired version of "label"; constant-time comparison.
 */
extern bool finsec_mac_check(const char *label, const char *algorithm,
							 const unsigned char *data, size_t len,
							 const unsigned char *mac, size_t maclen, int padding);

/* HMAC of data under a hmac-sha256 or hmac-sm3 key of any purpose; returns length. */
extern size_t finsec_keyed_hash(const FinsecKey *key, const unsigned char *data,
								size_t len, unsigned char *out);

#endif							/* FINSEC_MAC_H */
