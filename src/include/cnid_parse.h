/*-------------------------------------------------------------------------
 *
 * cnid_parse.h
 *	  Parsing, validation, normalization and masking of Chinese identifiers
 *	  (requirement D9): resident ID numbers (GB 11643-1999), unified social
 *	  credit codes (GB 32100-2015) and mainland mobile numbers.
 *
 * Pure C, without PostgreSQL headers, so that the same code runs in the
 * server (src/cnid/cnid.c) and under libFuzzer (test/fuzz/fuzz_*.c).  Every
 * parser is total: any byte string, of any length, with any bytes (NUL
 * included), gives either CNID_OK and the normalized value or an error
 * status; nothing is read outside [s, s + len), nothing is allocated.
 *
 * Error results carry positions and counts only, never input characters:
 * problem texts built from them are safe to show and to log (identity
 * numbers are personal data and never appear in a finsec message).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CNID_PARSE_H
#define CNID_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CNID_RESIDENT_ID_LEN	18
#define CNID_RESIDENT_ID15_LEN	15
#define CNID_USCC_LEN			18
#define CNID_MOBILE_LEN			11

/* Longest problem text, terminating NUL included (checked by the fuzzers). */
#define CNID_PROBLEM_MAX		160

/* Birth dates a resident ID number may carry (a fixed, clock-free range). */
#define CNID_MIN_BIRTH_YEAR		1800
#define CNID_MAX_BIRTH_YEAR		2099

typedef enum CnidKind
{
	CNID_RESIDENT_ID,			/* 18-character resident ID number */
	CNID_RESIDENT_ID_15,		/* 15-digit first-generation number */
	CNID_USCC,					/* unified social credit code */
	CNID_MOBILE					/* mainland mobile phone number */
} CnidKind;

typedef enum CnidStatus
{
	CNID_OK = 0,
	CNID_EMPTY,					/* nothing but whitespace */
	CNID_BAD_CHAR,				/* character at pos not allowed there */
	CNID_BAD_LENGTH,			/* count characters (mobile: digits) */
	CNID_LEGACY_15,				/* a 15-digit first-generation number */
	CNID_BAD_REGION,			/* resident ID: not a province-level code */
	CNID_BAD_DATE,				/* resident ID: birth date not a calendar date */
	CNID_DATE_RANGE,			/* resident ID: birth year outside the range */
	CNID_FUTURE_DATE,			/* resident ID: born after the reference date */
	CNID_BAD_CHECK,				/* the final check character */
	CNID_BAD_DIVISION,			/* USCC: character pos (3-8) not a digit */
	CNID_BAD_ORG_CHECK,			/* USCC: character 17 (GB 11714 check) */
	CNID_BAD_COUNTRY,			/* mobile: international prefix other than 86 */
	CNID_BAD_PREFIX				/* mobile: does not begin 13-19 */
} CnidStatus;

typedef struct CnidResult
{
	CnidStatus	status;
	size_t		pos;			/* 1-based character position (CNID_BAD_CHAR,
								 * _DIVISION) */
	size_t		count;			/* characters or digits found
								 * (CNID_BAD_LENGTH) */
} CnidResult;

/*
 * Parsers.  Surrounding ASCII whitespace is ignored; positions count from
 * the first non-blank character.  On CNID_OK the normalized value is in
 * "out" (not NUL-terminated); otherwise "out" is unspecified.
 */
extern CnidResult finsec_cnid_parse_resident_id(const char *s, size_t len,
												char out[CNID_RESIDENT_ID_LEN]);

/* A 15-digit number converted to its 18-character form (19YY, check). */
extern CnidResult finsec_cnid_parse_resident_id_15(const char *s, size_t len,
												   char out[CNID_RESIDENT_ID_LEN]);
extern CnidResult finsec_cnid_parse_uscc(const char *s, size_t len,
										 char out[CNID_USCC_LEN]);
extern CnidResult finsec_cnid_parse_mobile(const char *s, size_t len,
										   char out[CNID_MOBILE_LEN]);

/* Check characters, from the characters before them (already valid). */
extern char finsec_cnid_resident_id_check_char(const char digits17[17]);
extern char finsec_cnid_uscc_check_char(const char code17[17]);
extern char finsec_cnid_org_code_check_char(const char code8[8]);

/*
 * Compact storage.  A resident ID number is its first 17 digits as an
 * integer (the check character follows from them); a mobile number is its
 * 11 digits as an integer.  Both orders agree with the text order.
 * Unpacking returns false for an integer no valid value packs to.
 */
extern int64_t finsec_cnid_resident_id_pack(const char id[CNID_RESIDENT_ID_LEN]);
extern bool finsec_cnid_resident_id_unpack(int64_t v, char out[CNID_RESIDENT_ID_LEN]);
extern int64_t finsec_cnid_mobile_pack(const char m[CNID_MOBILE_LEN]);
extern bool finsec_cnid_mobile_unpack(int64_t v, char out[CNID_MOBILE_LEN]);

/* Parts of a valid, normalized resident ID number. */
extern void finsec_cnid_resident_id_birth(const char id[CNID_RESIDENT_ID_LEN],
										  int *year, int *month, int *day);
extern bool finsec_cnid_resident_id_is_male(const char id[CNID_RESIDENT_ID_LEN]);

/*
 * Masks, same length as the value:
 *   resident ID  110105********002X  (region code and last four kept)
 *   USCC         91350100********43  (department, category, division and
 *                                     the two check characters kept)
 *   mobile       138****5678         (network prefix and last four kept)
 */
extern void finsec_cnid_mask_resident_id(const char id[CNID_RESIDENT_ID_LEN],
										 char out[CNID_RESIDENT_ID_LEN]);
extern void finsec_cnid_mask_uscc(const char code[CNID_USCC_LEN], char out[CNID_USCC_LEN]);
extern void finsec_cnid_mask_mobile(const char m[CNID_MOBILE_LEN], char out[CNID_MOBILE_LEN]);

/*
 * What is wrong, in words, for an error message or a data-cleaning report:
 * "check character (character 18) does not match ...".  Writes at most
 * cap bytes, NUL-terminated (an empty string for CNID_OK), and returns the
 * length the full text has (less than CNID_PROBLEM_MAX).
 */
extern size_t finsec_cnid_problem_text(CnidKind kind, CnidResult r, char *buf, size_t cap);

/* A hint for the problem (which function helps), or NULL. */
extern const char *finsec_cnid_problem_hint(CnidKind kind, CnidResult r);

#endif							/* CNID_PARSE_H */
