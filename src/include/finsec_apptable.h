/*-------------------------------------------------------------------------
 *
 * finsec_apptable.h
 *	  The one layer for application tables (src/common/apptable.c):
 *	  opening and checking a table a capability registers, the amount
 *	  column abstraction, the relation-OID cache of finsec's own tables and
 *	  the time-zone setting check.
 *
 * Capabilities (limits, guards, risk, audit's protected tables, the coming
 * monitor) call these; common knows no capability.  finsec.money is a
 * capability: it registers its amount decoder at _PG_init
 * (finsec_apptable_register_amount_type), so this layer reads money
 * amounts without including finsec_money.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_APPTABLE_H
#define FINSEC_APPTABLE_H

#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "storage/lockdefs.h"
#include "utils/guc.h"
#include "utils/relcache.h"

/* ---- opening a registered table ------------------------------------------ */

/* finsec_apptable_open() flags: what the capability accepts and requires. */
#define FINSEC_APPTABLE_PARTITIONED	0x01	/* a partitioned table (not a
											 * partition) */
#define FINSEC_APPTABLE_PERMANENT	0x02	/* refuse unlogged and temporary
											 * tables */
#define FINSEC_APPTABLE_OWNER		0x04	/* the caller must own the table */

typedef struct FinsecAppTableCheck
{
	int			flags;			/* FINSEC_APPTABLE_* */
	AclMode		privilege;		/* ACL_TRIGGER, ACL_SELECT, ...; 0: none */
	const char *privilege_name; /* "TRIGGER", "SELECT" */
	const char *privilege_hint; /* a whole sentence, or NULL */
	const char *partitioned_hint;	/* without FINSEC_APPTABLE_PARTITIONED */
} FinsecAppTableCheck;

extern Relation finsec_apptable_open(Oid relid, LOCKMODE lockmode, const char *function,
									 const FinsecAppTableCheck *check);
extern bool finsec_is_system_or_finsec_namespace(Oid nsp);

/* ---- amounts ------------------------------------------------------------- */

/* The types an amount column may have, for messages. */
#define FINSEC_AMOUNT_TYPES_TEXT "numeric, smallint, integer, bigint or finsec.money"

/* How a column's values become amounts: resolved once per relation, not per row. */
typedef enum FinsecAmountKind
{
	FINSEC_AMOUNT_NONE = 0,		/* not an amount type */
	FINSEC_AMOUNT_NUMERIC,
	FINSEC_AMOUNT_INT2,
	FINSEC_AMOUNT_INT4,
	FINSEC_AMOUNT_INT8,
	FINSEC_AMOUNT_REGISTERED	/* a registered type (finsec.money) */
} FinsecAmountKind;

typedef struct FinsecAmountType
{
	FinsecAmountKind kind;
	Oid			basetype;		/* the column's base type */
	PGFunction	to_numeric;		/* FINSEC_AMOUNT_REGISTERED: value -> numeric */
	PGFunction	currency;		/* FINSEC_AMOUNT_REGISTERED: value -> text, or
								 * NULL */
} FinsecAmountType;

extern void finsec_apptable_register_amount_type(const char *nspname, const char *typname,
												 PGFunction to_numeric, PGFunction currency);
extern bool finsec_amount_type(Oid typid, FinsecAmountType *out);
extern bool finsec_amount_type_ok(Oid typid);
extern Datum finsec_amount_numeric(const FinsecAmountType *t, Datum value);
extern Datum finsec_amount_numeric_of(Oid typid, Datum value);
extern char *finsec_amount_currency(const FinsecAmountType *t, Datum value);

/* ---- relation OIDs of finsec's own tables -------------------------------- */

/*
 * A cached relation OID, found by schema and name.  Declare one static
 * handle per relation (FINSEC_RELID_INIT); finsec_relid() resolves it when
 * invalid.  One invalidation rule for all: a relcache invalidation of the
 * relation (or of all relations) and any change of a schema make it
 * invalid; the last OID stays readable for invalidation callbacks
 * (finsec_relid_matches), which must not look anything up.
 */
typedef struct FinsecRelid
{
	const char *nspname;
	const char *relname;
	Oid			relid;			/* last OID found; InvalidOid: never found */
	bool		valid;
	bool		linked;
	struct FinsecRelid *next;
} FinsecRelid;

#define FINSEC_RELID_INIT(nsp, rel)	{(nsp), (rel), InvalidOid, false, false, NULL}

extern Oid	finsec_relid(FinsecRelid *r);
extern bool finsec_relid_matches(const FinsecRelid *r, Oid relid);

/* ---- time zones ---------------------------------------------------------- */

extern bool finsec_check_timezone_setting(char **newval, void **extra, GucSource source);

#endif							/* FINSEC_APPTABLE_H */
