/*-------------------------------------------------------------------------
 *
 * card_parse.h
 *	  Parsing of bank card and account numbers and of their sealed text
 *	  form, free of PostgreSQL dependencies so that fuzz targets can link
 *	  it alone (test/fuzz/fuzz_bank_card.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_CARD_PARSE_H
#define FINSEC_CARD_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FS_CARD_MIN_DIGITS 13
#define FS_CARD_MAX_DIGITS 19
#define FS_ACCOUNT_MIN_DIGITS 8
#define FS_ACCOUNT_MAX_DIGITS 32
#define FS_NUMBER_MAX_INPUT 256 /* longest text accepted before parsing */

#define FS_NUMBER_FORMAT_V1 1
#define FS_FLAG_ACCOUNT 0x01	/* a bank account number, not a card */
#define FS_FLAG_LENIENT 0x02	/* a card accepted without a valid Luhn digit */
#define FS_FLAG_ALL (FS_FLAG_ACCOUNT | FS_FLAG_LENIENT)

#define FS_FP_LEN 32
#define FS_NONCE_LEN 12
#define FS_TAG_LEN 16

/*
 * The stored value after the varlena header, also the payload of the
 * sealed text form.  Everything before "ct" is authenticated as additional
 * data of the AES-256-GCM encryption of the digits.
 */
typedef struct FsNumberHeader
{
	uint8_t		format;			/* FS_NUMBER_FORMAT_V1 */
	uint8_t		flags;			/* FS_FLAG_* */
	uint8_t		ndigits;		/* length of the number */
	uint8_t		nprefix;		/* leading digits kept in clear (0..6; 8
								 * before 0.8) */
	char		prefix[8];		/* ASCII digits, then '0' padding */
	char		last4[4];		/* ASCII digits (all of them if ndigits < 4) */
	uint8_t		enc_version[4]; /* big-endian keyring version of card.enc */
	uint8_t		fp_version[4];	/* big-endian keyring version of card.fp */
	uint8_t		fp[FS_FP_LEN];	/* keyed fingerprint of the digits */
	uint8_t		nonce[FS_NONCE_LEN];
	/* then ndigits bytes of ciphertext, then FS_TAG_LEN bytes of tag */
} FsNumberHeader;

#define FS_NUMBER_SIZE(ndigits) (sizeof(FsNumberHeader) + (ndigits) + FS_TAG_LEN)

typedef enum FsParseResult
{
	FS_OK = 0,
	FS_ERR_EMPTY,
	FS_ERR_TOO_LONG_INPUT,
	FS_ERR_BAD_CHAR,
	FS_ERR_LENGTH,
	FS_ERR_LUHN,
	FS_ERR_TOKEN_ENCODING,
	FS_ERR_TOKEN_STRUCTURE,
	FS_ERR_TOKEN_KIND
} FsParseResult;

/* Sealed text form: "<masked number>~fs1.<base64url payload>" */
#define FS_TOKEN_MARK "~fs1."

/*
 * Digits of a number written with optional spaces and hyphens between
 * digits and surrounding white space; out receives ndigits ASCII digits.
 * Checks length for the kind (account or card) and, for cards, the Luhn
 * digit (FS_ERR_LUHN is returned after out is filled, so a lenient caller
 * can go on).  *badpos receives the 1-based position of a bad character.
 */
extern FsParseResult finsec_card_number_digits(const char *in, size_t len, bool account,
											   char *out, int *ndigits, int *badpos);

extern bool finsec_card_luhn_valid(const char *digits, int n);

/*
 * How many leading digits are kept in clear, and the most a mask shows, for
 * this kind and length: 6 for cards; for accounts at most 6, with at least
 * half the digits hidden.
 */
extern int	finsec_card_clear_prefix_len(bool account, int ndigits);

/*
 * The clear prefix of values written by finsec 0.5 to 0.7 (8 for cards of
 * 16 or more digits): still read, never written, never shown by a mask.
 */
extern int	finsec_card_legacy_prefix_len(bool account, int ndigits);

/* Whether the text holds a sealed form (contains FS_TOKEN_MARK). */
extern bool finsec_card_is_sealed(const char *in, size_t len);

/*
 * Decode the payload of a sealed form into out (room for outcap bytes) and
 * check its structure: format, flags, lengths, digits in the clear parts,
 * total size.  *outlen receives the payload size.
 */
extern FsParseResult finsec_card_token_decode(const char *in, size_t len, uint8_t *out,
											  size_t outcap, size_t *outlen);

/* Check a payload's structure (as finsec_card_token_decode does after decoding). */
extern FsParseResult finsec_card_payload_check(const uint8_t *p, size_t len);

/* base64url without padding; out needs 4 * ceil(len / 3) bytes. */
extern size_t finsec_card_base64url_encode(const uint8_t *in, size_t len, char *out);

/*
 * The masked display of a number from its clear parts: keep_first leading
 * digits (at most nprefix and finsec_card_clear_prefix_len()), keep_last trailing (at most 4), '*' between;
 * with group, a space every 4 characters.  out needs 2 * ndigits bytes + 1.
 */
extern void finsec_card_mask(const FsNumberHeader *h, int keep_first, int keep_last,
							 bool group, char *out);

#endif							/* FINSEC_CARD_PARSE_H */
