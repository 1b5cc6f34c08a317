/*-------------------------------------------------------------------------
 *
 * protect_parse.h
 *	  The stored form of protected values, their sealed text form and
 *	  their masks, free of PostgreSQL dependencies so that fuzz targets
 *	  link it alone (test/fuzz/fuzz_protected_text.c, _mask.c).
 *
 * A value after the varlena header, also the payload of the sealed text
 * form "<mask>~fp1.<base64url payload>":
 *
 *	 format(1) kind(1) flags(1) mask(1) policy_id(4) enc_version(4)
 *	 fp_key_id(4) fp_version(4) period(4) fp(32) nonce(12) ciphertext(n)
 *	 tag(16)
 *
 * integers big-endian; everything before the nonce is additional data of
 * the AES-256-GCM encryption (with the policy's sensitivity label).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_PROTECT_PARSE_H
#define FINSEC_PROTECT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FP_FORMAT_V1 1

#define FP_FLAG_HAS_FP 0x01		/* fp holds a fingerprint */
#define FP_FLAG_FP_PERIOD 0x02	/* fingerprinted under the period's key */
#define FP_FLAG_ALL (FP_FLAG_HAS_FP | FP_FLAG_FP_PERIOD)

/* Kinds (FinsecProtectKind) */
#define FP_KIND_TEXT 0
#define FP_KIND_RESIDENT_ID 1
#define FP_KIND_USCC 2
#define FP_KIND_MOBILE 3
#define FP_KIND_MAX 3

/* Mask codes of a policy, stored in every value (never renumber). */
#define FP_MASK_NONE 0
#define FP_MASK_NAME 1
#define FP_MASK_PHONE 2
#define FP_MASK_ADDRESS 3
#define FP_MASK_EMAIL 4
#define FP_MASK_MAX 4

#define FP_FP_LEN 32
#define FP_NONCE_LEN 12
#define FP_TAG_LEN 16
#define FP_POLICY_ID_MAX 0x3FFFFFFF /* 30 bits */

/*
 * The reserved policy id of an unbound value: one built from clear text
 * without a type modifier (a literal, a parameter).  Sealed under the keys
 * of "default", mask none; never a policy's id, never accepted on input.
 */
#define FP_POLICY_UNBOUND FP_POLICY_ID_MAX

/* Longest clear value, in bytes (22001 beyond). */
#define FP_PLAIN_MAX 1048576

typedef struct FpValueHeader
{
	uint8_t		format;			/* FP_FORMAT_V1 */
	uint8_t		kind;			/* FP_KIND_* */
	uint8_t		flags;			/* FP_FLAG_* */
	uint8_t		mask;			/* FP_MASK_* of the policy at seal time */
	uint8_t		policy_id[4];
	uint8_t		enc_version[4];
	uint8_t		fp_key_id[4];	/* hash of the fingerprint key's base label;
								 * 0: no fingerprint */
	uint8_t		fp_version[4];
	uint8_t		period[4];		/* 0, yyyymmdd, yyyymm or yyyy */
	uint8_t		fp[FP_FP_LEN];	/* zero when none */
	uint8_t		nonce[FP_NONCE_LEN];
	/* then the ciphertext, then FP_TAG_LEN bytes of tag */
} FpValueHeader;

#define FP_AAD_LEN 56			/* offsetof(FpValueHeader, nonce) */
#define FP_HEADER_LEN 68		/* sizeof(FpValueHeader) */
#define FP_VALUE_SIZE(n) (FP_HEADER_LEN + (size_t) (n) + FP_TAG_LEN)
#define FP_MAX_PAYLOAD FP_VALUE_SIZE(FP_PLAIN_MAX)

/* Sealed text form: "<mask>~fp1.<base64url payload>" */
#define FP_TOKEN_MARK "~fp1."
#define FP_TOKEN_MARK_LEN 5

typedef enum FpParseResult
{
	FP_OK = 0,
	FP_ERR_ENCODING,			/* not base64url after the mark */
	FP_ERR_STRUCTURE,			/* not a payload finsec writes */
	FP_ERR_TOO_LONG				/* longer than any payload */
} FpParseResult;

extern uint32_t finsec_fp_get_be32(const uint8_t *p);
extern void finsec_fp_put_be32(uint8_t *p, uint32_t v);

/* Length of the clear value a checked payload of len bytes holds. */
#define FP_PLAIN_LEN(len) ((len) - FP_HEADER_LEN - FP_TAG_LEN)

/* The exact length of an identifier kind's canonical value; 0 for text. */
extern size_t finsec_fp_kind_length(int kind);

/* Whether period is 0 or a well-formed yyyymmdd, yyyymm or yyyy. */
extern bool finsec_fp_period_valid(uint32_t period);

/* Check a payload's structure; total on any bytes. */
extern FpParseResult finsec_fp_payload_check(const uint8_t *p, size_t len);

/*
 * Where the sealed part of a text form starts: the offset just after the
 * last FP_TOKEN_MARK, or -1 when there is none.
 */
extern long finsec_fp_token_start(const char *in, size_t len);

/*
 * Decode the sealed part of a text form (in holds the whole text) into out
 * (room for outcap bytes) and check its structure; *outlen receives the
 * payload length.  Trailing ASCII white space is ignored.
 */
extern FpParseResult finsec_fp_token_decode(const char *in, size_t len, uint8_t *out,
											size_t outcap, size_t *outlen);

/* Bytes a mask of a len-byte value may need, terminating NUL included. */
#define FP_MASK_BOUND(len) ((size_t) (len) + 24)

/*
 * The mask of a text value (UTF-8, len bytes) by mask code; writes at
 * most FP_MASK_BOUND(len) bytes to out, NUL-terminated, and returns the
 * length.  Total: invalid UTF-8 is masked byte by byte, never copied.
 *	 name	  first character, then one '*' per further character
 *	 phone	  first 3 and last 4 digits kept, other digits '*' (fewer
 *			  than 8 digits: only the last 2); " -+()." and a leading
 *			  "+<country code>" kept; any other character '*'
 *	 address  through the first district-level unit (区, 县, 旗; 区 of
 *			  自治区 excepted), or else through the first 市, then "****";
 *			  no unit: "****"
 *	 email	  first character of the local part, "***@", the domain;
 *			  no '@': "****"
 *	 none	  "****"
 */
extern size_t finsec_fp_mask_text(int mask, const char *s, size_t len, char *out);

/*
 * The mask of a value of any kind: identifier kinds by their cnid mask
 * (whatever the policy's mask), text by finsec_fp_mask_text.
 */
extern size_t finsec_fp_mask_value(int kind, int mask, const char *s, size_t len, char *out);

/* The mask code of a policy's mask name, or -1. */
extern int	finsec_fp_mask_code(const char *name);
extern const char *finsec_fp_mask_name(int code);

/* 32-bit FNV-1a of a name, for fingerprint key ids (never 0). */
extern uint32_t finsec_fp_name_hash32(const char *s, size_t len);

#endif							/* FINSEC_PROTECT_PARSE_H */
