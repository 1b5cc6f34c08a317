/*-------------------------------------------------------------------------
 *
 * ladder_parse.h
 *	  Generalisation ladders of quasi-identifiers: the step grammar, the
 *	  order rules between steps and the string transforms (ladder_parse.c).
 *
 * No PostgreSQL headers: every function is total over its input bytes and
 * fuzzed on its own (test/fuzz/fuzz_credit_ladder.c).  ladder.c wraps them
 * for the server (jsonb, ladder maps, errors).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_LADDER_PARSE_H
#define FINSEC_LADDER_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest step text, map name, and generalised value this code writes. */
#define CL_STEP_MAXLEN		64
#define CL_MAP_NAMELEN		64
#define CL_OUT_MAXLEN		64
/* Most steps in one ladder (besides the implicit top "*"). */
#define CL_MAX_STEPS		16

typedef enum ClStepKind
{
	CL_MONTHS = 0,				/* month, year, years:N, decade: a date's
								 * calendar band of n months */
	CL_PREFIX,					/* prefix:N: the first n characters */
	CL_ROUND,					/* round:N: a number's band [a, a+n) */
	CL_MAP,						/* map:NAME: finsec.credit_ladder_map */
	CL_TOP						/* "*": the value withheld */
} ClStepKind;

typedef struct ClStep
{
	ClStepKind	kind;
	int64_t		n;				/* months, characters or band width */
	char		map[CL_MAP_NAMELEN];	/* CL_MAP: the map's name */
} ClStep;

typedef enum ClError
{
	CL_OK = 0,
	CL_ERR_UNKNOWN,				/* not a step of the grammar */
	CL_ERR_NUMBER,				/* N missing, not a number or out of range */
	CL_ERR_MAP_NAME,			/* map name empty, too long or not [a-z0-9_.] */
	CL_ERR_NOT_COARSER,			/* not strictly coarser than the step before */
	CL_ERR_NOT_NESTED,			/* a band that does not nest in the one before */
	CL_ERR_FAMILY,				/* a date step after a non-date step, etc. */
	CL_ERR_TOP_NOT_LAST,		/* "*" before another step */
	CL_ERR_TOO_MANY				/* more than CL_MAX_STEPS steps */
} ClError;

/* Parse one step of len bytes (no NUL needed); CL_OK and *out, or the error. */
extern ClError finsec_cl_parse_step(const char *s, size_t len, ClStep *out);

/*
 * May next follow prev in a ladder (prev NULL: next is the first step)?
 * seen_map: a map step came earlier in the ladder.
 */
extern ClError finsec_cl_check_order(const ClStep *prev, const ClStep *next, bool seen_map);

/* A whole sentence for an error (no input echoed). */
extern const char *finsec_cl_error_message(ClError err);

/*
 * Transforms.  Each writes a NUL-terminated value of at most
 * CL_OUT_MAXLEN - 1 bytes into out (CL_OUT_MAXLEN bytes) and returns true,
 * or returns false when the value does not fit the step (not a date, not
 * a number): the caller generalises it to "*".
 *
 * months: value an ISO date yyyy-mm-dd (or yyyymmdd, or yyyy-mm); n = 1:
 * "yyyy-mm"; n = 12: "yyyy"; n = 12k: "yyyy-yyyy" for the k-year band that
 * starts at a multiple of k.
 */
extern bool finsec_cl_apply_months(int64_t n, const char *value, size_t len, char *out);

/* round: value [-]digits[.digits]; "[a,b)" with a = floor(v / n) * n, b = a + n. */
extern bool finsec_cl_apply_round(int64_t n, const char *value, size_t len, char *out);

/*
 * prefix: the byte length of the first n characters of value (UTF-8; an
 * invalid byte counts as one character), never more than len.
 */
extern size_t finsec_cl_prefix_bytes(const char *value, size_t len, int64_t n);

#endif							/* FINSEC_LADDER_PARSE_H */
