/*-------------------------------------------------------------------------
 *
 * credit.h
 *	  What the parts of src/credit share: the registered-table cache
 *	  (register.c), the anonymity engine (ladder.c, anon.c) and each part's
 *	  registration functions (called from settings.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_CREDIT_INTERNAL_H
#define FINSEC_CREDIT_INTERNAL_H

#include "finsec_credit.h"
#include "access/attnum.h"
#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"

/* ---- registered tables (register.c) ----------------------------------- */

/* Roles of a column (finsec.credit_column.column_role). */
typedef enum FinsecCreditColumnRole
{
	FINSEC_CREDIT_KEY,
	FINSEC_CREDIT_SUBJECT,
	FINSEC_CREDIT_IDENTIFIER,
	FINSEC_CREDIT_QUASI_IDENTIFIER,
	FINSEC_CREDIT_SENSITIVE,
	FINSEC_CREDIT_PUBLIC,
	FINSEC_CREDIT_BEHAVIOUR_END,
	FINSEC_CREDIT_INSTITUTION
} FinsecCreditColumnRole;

typedef struct FinsecCreditColumn
{
	char		name[NAMEDATALEN];
	AttrNumber	attnum;
	Oid			typid;
	FinsecCreditColumnRole role;
	Jsonb	   *ladder;			/* quasi-identifiers only, else NULL */
} FinsecCreditColumn;

/* A row of finsec.credit_table with its columns, cached per backend. */
typedef struct FinsecCreditTable
{
	Oid			relid;
	char		policy_name[NAMEDATALEN];
	int32		policy_id;		/* the period policy's typmod */
	char		period_unit[8]; /* day, month */
	Interval	retention;
	bool		delete_only;	/* action 'delete' */
	int			k;
	int			l;
	double		max_suppression;
	Oid			archive_relid;	/* InvalidOid for action 'delete' */
	int			ncolumns;
	FinsecCreditColumn *columns;	/* attnum order */
	AttrNumber	key_attnum;		/* the record key (unique, NOT NULL) */
	AttrNumber	subject_attnum;
	AttrNumber	behaviour_end_attnum;
	AttrNumber	institution_attnum; /* 0: none */
} FinsecCreditTable;

/*
 * The registration of relid, from the backend cache (invalidated by
 * changes to finsec.credit_table/credit_column), or NULL.  The result
 * lives in CacheMemoryContext until the next invalidation: copy what must
 * outlive the statement.
 */
extern const FinsecCreditTable *finsec_credit_table(Oid relid);

/*
 * finsec's own reads of a registered table (credit_query, the
 * de-identification batch) between begin and end pass the direct-read
 * check (register.c).  Nesting-safe; reset at the end of the transaction.
 */
extern void finsec_credit_read_begin(void);
extern void finsec_credit_read_end(void);
extern bool finsec_credit_reading(void);
extern void finsec_credit_guard_init(void);	/* register_guard.c */

/* ---- pseudonyms (pseudonym.c) ------------------------------------------ */

/* "p<version>.<hex>": keyed hash of the normalised subject (credit.pseudonym). */
extern char *finsec_credit_pseudonym(const char *subject);
/* Is pseudonym the subject's under the key version it names? */
extern bool finsec_credit_pseudonym_matches(const char *subject, const char *pseudonym);

/* ---- anonymity engine (ladder.c, anon.c) ------------------------------ */

/*
 * A generalisation ladder of one quasi-identifier, parsed from its jsonb
 * (docs/credit.md, "Ladders"): level 0 is the value itself, each step up
 * is coarser, the last level is "*" (the value withheld).
 */
typedef struct FinsecCreditLadder FinsecCreditLadder;

/* Parse and validate; ERROR (S9D4x) naming the column on a bad ladder. */
extern FinsecCreditLadder *finsec_credit_ladder_parse(Jsonb *ladder, const char *column,
													  Oid typid);
extern int	finsec_credit_ladder_levels(const FinsecCreditLadder *ladder);
extern const char *finsec_credit_ladder_step_name(const FinsecCreditLadder *ladder, int level);

/* The value generalised to level (palloc'd); NULL for a NULL value. */
extern char *finsec_credit_ladder_apply(const FinsecCreditLadder *ladder, int level,
										const char *value);

/* One de-identification problem: records × quasi-identifiers, sensitives. */
typedef struct FinsecDeidProblem
{
	int			nrecords;
	int			nqi;
	int			nsensitive;
	const char **qi;			/* nrecords * nqi, row major; NULL = NULL */
	const char **sensitive;		/* nrecords * nsensitive, row major */
	const FinsecCreditLadder **ladders; /* nqi */
	const char **qi_names;		/* nqi */
	const char **sensitive_names;	/* nsensitive */
	int			k;
	int			l;
	double		max_suppression;	/* share of records that may be withheld */
} FinsecDeidProblem;

typedef struct FinsecDeidSolution
{
	bool		ok;				/* k and l reached within max_suppression */
	char	   *refusal;		/* why not, when !ok (a whole sentence) */
	int		   *levels;			/* nqi: the ladder level chosen */
	bool	   *suppressed;		/* nrecords: withheld from publication */
	int			nsuppressed;
	int			npublished;
	int			nclasses;
	int			min_class;		/* smallest equivalence class published */
	double		max_risk;		/* 1 / min_class */
	double		avg_risk;		/* (sum over published records of 1/f) / npublished */
	double		expected_reidentifications; /* sum of 1/f */
	int		   *min_l;			/* nsensitive: smallest distinct count in a class */
	Jsonb	   *histogram;		/* {"class size": number of classes, ...} */
	int64		lattice_nodes;	/* generalisations evaluated */
} FinsecDeidSolution;

/*
 * Choose the generalisation with the least information loss that makes
 * every published class at least k records of at least l distinct values
 * of each sensitive attribute, withholding at most max_suppression of the
 * records; fill sol (palloc'd in the current context).  Never raises for
 * an unreachable problem: sol->ok = false with the reason.
 */
extern void finsec_credit_deid_solve(const FinsecDeidProblem *p, FinsecDeidSolution *sol);

/* The proof's engine part as jsonb (parameters, levels, histogram, risks). */
extern Jsonb *finsec_credit_deid_solution_jsonb(const FinsecDeidProblem *p,
												const FinsecDeidSolution *sol);

/* ---- each part's registration (settings.c calls them) ------------------ */

extern void finsec_credit_register_define_settings(void);
extern void finsec_credit_register_init(void);	/* hooks: reads, DDL, inserts */
extern void finsec_credit_query_define_settings(void);
extern void finsec_credit_query_init(void);
extern void finsec_credit_deid_define_settings(void);
extern void finsec_credit_deid_init(void);	/* the worker task */
extern void finsec_credit_dispute_define_settings(void);	/* dispute.c */

/*
 * The personal statements of record record_key of relid (dispute.c), for
 * credit_query: jsonb array of {dispute_id, statement (clear; null once
 * shredded), shredded, recorded_at}; [] when none.
 */
extern Jsonb *finsec_credit_statements(Oid relid, const char *record_key);

#endif							/* FINSEC_CREDIT_INTERNAL_H */
