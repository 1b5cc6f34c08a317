/*-------------------------------------------------------------------------
 *
 * finsec_seal.h
 *	  AES-256-GCM sealing under a keyring key, with an OpenSSL context
 *	  cached beside the key (src/keyring/seal.c): the one implementation
 *	  the bank card types and the protected types encrypt with.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_SEAL_H
#define FINSEC_SEAL_H

#include "finsec_keyring.h"

#define FINSEC_GCM_NONCE_LEN 12
#define FINSEC_GCM_TAG_LEN 16

/*
 * Encrypt len bytes of plain into ct (len bytes) under key, with a fresh
 * random nonce (written to nonce) and the tag written to tag.  The
 * additional data is aad (aadlen bytes) followed by aad2 (aad2len bytes;
 * NULL/0 for none).  Raises on an OpenSSL failure.
 */
extern void finsec_gcm_seal(const FinsecKey *key,
							const uint8 *aad, size_t aadlen,
							const uint8 *aad2, size_t aad2len,
							const uint8 *plain, size_t len,
							uint8 *nonce, uint8 *ct, uint8 *tag);

/*
 * Decrypt len bytes of ct into plain (len bytes) and check the tag with
 * the same additional data; false (plain zeroed) when authentication
 * fails.  Never raises for bad data.
 */
extern bool finsec_gcm_open(const FinsecKey *key,
							const uint8 *aad, size_t aadlen,
							const uint8 *aad2, size_t aad2len,
							const uint8 *ct, size_t len,
							const uint8 *nonce, const uint8 *tag,
							uint8 *plain);

#endif							/* FINSEC_SEAL_H */
