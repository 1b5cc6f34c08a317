/*-------------------------------------------------------------------------
 *
 * finsec_b64url.h
 *	  base64url without padding (RFC 4648 section 5), free of PostgreSQL
 *	  dependencies: the one copy the sealed text forms of cards and
 *	  protected values use, linked alone by the fuzz targets.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_B64URL_H
#define FINSEC_B64URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Characters finsec_b64url_encode() writes for len bytes. */
#define FINSEC_B64URL_ENCODED_LEN(len) (((len) / 3) * 4 + (((len) % 3) ? ((len) % 3) + 1 : 0))

/* Encode len bytes into out (FINSEC_B64URL_ENCODED_LEN(len) bytes, no NUL). */
extern size_t finsec_b64url_encode(const uint8_t *in, size_t len, char *out);

/*
 * Decode len characters into out (room for outcap bytes).  Only the
 * base64url alphabet, no padding, and unused trailing bits zero: one
 * encoding per byte string.  Returns false on any other input, or when
 * out is too small; *outlen receives the decoded length.
 */
extern bool finsec_b64url_decode(const char *in, size_t len, uint8_t *out,
								 size_t outcap, size_t *outlen);

/* Whether c belongs to the base64url alphabet. */
extern bool finsec_b64url_char(char c);

#endif							/* FINSEC_B64URL_H */
