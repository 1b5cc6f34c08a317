/*-------------------------------------------------------------------------
 *
 * order.c
 *	  Duplicate-payment, cancellation and refund guards on an application's
 *	  own order and refund tables (M3).
 *
 * finsec.enable_order_guard() installs finsec.order_guard_trigger() as a
 * BEFORE INSERT OR UPDATE row trigger.  Its configuration travels in the
 * trigger's arguments (cloned to partitions, kept by pg_dump) and is also
 * recorded in finsec.order_guard for the DBA:
 *
 *	 args[0]  status column
 *	 args[1]  paid amount column, or ""
 *	 args[2]  refunded amount column, or ""
 *	 args[3]  payment reference column, or ""
 *	 args[4]  number N of paid states
 *	 args[5 .. 5+N-1]  paid states; the remaining args: cancelled states
 *
 * The trigger sees the latest committed version of the row as OLD (an
 * UPDATE waits for a concurrent updater and, under READ COMMITTED,
 * re-evaluates against its result), so the state machine holds under
 * concurrency without locks of its own.
 *
 * finsec.enable_refund_guard() guards a separate refund table: each refund
 * row locks its order row, and the sum of the order's refunds, read with a
 * fresh snapshot as PostgreSQL's foreign-key checks do, may not exceed the
 * order's paid amount, at every isolation level.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "finsec.h"
#include "finsec_trigger.h"
#include "finsec_apptable.h"
#include "finsec_audit.h"
#include "finsec_guard.h"
#include "finsec_trusted.h"
#include "finsec_owner.h"

#define ORDER_TRIGGER_NAME	"finsec_order_guard"
#define REFUND_TRIGGER_NAME	"finsec_refund_guard"

typedef enum OrderKind
{
	ORDER_OPEN,
	ORDER_PAID,
	ORDER_CANCELLED
} OrderKind;

/* ---- shared helpers ------------------------------------------------------ */

static int
column_number(TupleDesc desc, const char *name, const char *relname)
{
	int			attno = SPI_fnumber(desc, name);

	if (attno <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of guarded table \"%s\" does not exist", name, relname),
				 errhint("A guarded column was renamed or dropped; disable the guard and enable it again with the new name.")));
	return attno;
}

/*
 * Text of a column value by its (trusted) type's own output function, never
 * a cast; blank-padded char(n) compares unpadded.  NULL for a null.
 */
static char *
value_text(Datum d, bool isnull, Oid typid)
{
	char	   *s;
	int			len;

	if (isnull)
		return NULL;
	s = finsec_trusted_output(typid, d);
	if (getBaseType(typid) == BPCHAROID)
	{
		len = strlen(s);
		while (len > 0 && s[len - 1] == ' ')
			s[--len] = '\0';
	}
	return s;
}

static char *
status_text(HeapTuple tup, TupleDesc desc, int attno)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, attno, desc, &isnull);

	return value_text(d, isnull, TupleDescAttr(desc, attno - 1)->atttypid);
}

/*
 * A guarded column's type, checked again at each use: the table's owner
 * can alter a column's type after the guard was enabled.  amount: the
 * column is an amount (common's amount types), and how its values become
 * numeric is stored there; NULL: any trusted type.
 */
static void
recheck_column(TupleDesc desc, int attno, FinsecAmountType *amount, const char *param,
			   const char *relname)
{
	Form_pg_attribute att = TupleDescAttr(desc, attno - 1);

	if (amount && !finsec_amount_type(att->atttypid, amount))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s column \"%s\" of guarded table \"%s\" has type %s", param,
						NameStr(att->attname), relname, format_type_be(att->atttypid)),
				 errdetail("Amounts must be " FINSEC_AMOUNT_TYPES_TEXT "."),
				 errhint("The column's type was altered after the guard was enabled; restore it, or disable the guard and enable it again.")));
	finsec_require_trusted_type(att->atttypid, param, NameStr(att->attname), relname);
}

/* NaN and Infinity are no amounts: NaN compares above every number. */
static void
refuse_nonfinite(Datum amount, const char *what)
{
	Numeric		n = DatumGetNumeric(amount);

	if (numeric_is_nan(n) || numeric_is_inf(n))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be a finite number", what),
				 errdetail("%s is not an amount.", numeric_is_nan(n) ? "NaN" : "Infinity")));
}

/* A row's amount as numeric (major units; finsec.money drops its currency); false if null. */
static bool
amount_of(HeapTuple tup, TupleDesc desc, int attno, const FinsecAmountType *t, Datum *out)
{
	bool		isnull;

	*out = SPI_getbinval(tup, desc, attno, &isnull);
	if (!isnull)
	{
		*out = finsec_amount_numeric(t, *out);
		refuse_nonfinite(*out, psprintf("amount column \"%s\"", NameStr(TupleDescAttr(desc, attno - 1)->attname)));
	}
	return !isnull;
}

/* A row's amount's currency (finsec.money), palloc'd; NULL when null or of a type without one. */
static char *
currency_of(HeapTuple tup, TupleDesc desc, int attno, const FinsecAmountType *t)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, attno, &isnull);

	return isnull ? NULL : finsec_amount_currency(t, d);
}

/* Whether two currencies (NULL: none carried) cannot be the same amount's. */
static bool
currencies_differ(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) != 0;
}

/* The root of a partition tree, or the relation itself. */
static Oid
root_relid(Relation rel)
{
	if (rel->rd_rel->relispartition)
	{
		List	   *ancestors = get_partition_ancestors(RelationGetRelid(rel));

		return llast_oid(ancestors);
	}
	return RelationGetRelid(rel);
}

/* ---- the order trigger ---------------------------------------------------- */

typedef struct OrderGuard
{
	int			status;			/* attribute numbers in this relation */
	int			paid;			/* 0: not guarded */
	int			refunded;
	int			payref;
	FinsecAmountType paid_type;
	FinsecAmountType refunded_type;
	char	  **paid_states;
	int			npaid;
	char	  **cancelled_states;
	int			ncancelled;
} OrderGuard;

static void
order_guard_from_args(Trigger *trig, TupleDesc desc, const char *relname, OrderGuard *g)
{
	char	  **args = trig->tgargs;

	if (trig->tgnargs < 5)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("finsec order guard trigger on \"%s\" has %d arguments", relname, trig->tgnargs),
				 errhint("Only finsec.enable_order_guard() and finsec.enable_refund_guard() create it.")));
	g->status = column_number(desc, args[0], relname);
	g->paid = args[1][0] ? column_number(desc, args[1], relname) : 0;
	g->refunded = args[2][0] ? column_number(desc, args[2], relname) : 0;
	g->payref = args[3][0] ? column_number(desc, args[3], relname) : 0;
	g->npaid = pg_strtoint32(args[4]);
	if (g->npaid < 1 || 5 + g->npaid > trig->tgnargs)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("finsec order guard trigger on \"%s\" has malformed arguments", relname)));
	g->paid_states = args + 5;
	g->cancelled_states = args + 5 + g->npaid;
	g->ncancelled = trig->tgnargs - 5 - g->npaid;
	recheck_column(desc, g->status, NULL, "status", relname);
	if (g->paid)
		recheck_column(desc, g->paid, &g->paid_type, "paid_amount", relname);
	if (g->refunded)
		recheck_column(desc, g->refunded, &g->refunded_type, "refunded_amount", relname);
	if (g->payref)
		recheck_column(desc, g->payref, NULL, "payment_ref", relname);
}

static OrderKind
order_kind(OrderGuard *g, HeapTuple tup, TupleDesc desc, char **status)
{
	*status = status_text(tup, desc, g->status);
	if (*status == NULL)
		return ORDER_OPEN;
	if (finsec_in_list(*status, g->paid_states, g->npaid))
		return ORDER_PAID;
	if (finsec_in_list(*status, g->cancelled_states, g->ncancelled))
		return ORDER_CANCELLED;
	return ORDER_OPEN;
}

/* Text of a column, for comparing payment references of any type. */
static bool
same_value(HeapTuple a, HeapTuple b, TupleDesc desc, int attno)
{
	Oid			typid = TupleDescAttr(desc, attno - 1)->atttypid;
	bool		xnull,
				ynull;
	Datum		xd = heap_getattr(a, attno, desc, &xnull);
	Datum		yd = heap_getattr(b, attno, desc, &ynull);
	char	   *x = value_text(xd, xnull, typid);
	char	   *y = value_text(yd, ynull, typid);

	if (x == NULL || y == NULL)
		return x == NULL && y == NULL;
	return strcmp(x, y) == 0;
}

/* Refuse an order row change that breaks the order's life cycle: a second payment, a paid amount changed, refunds beyond the paid amount. */
static void
check_order(Relation rel, OrderGuard *g, HeapTuple oldtup, HeapTuple newtup)
{
	TupleDesc	desc = RelationGetDescr(rel);
	const char *relname = RelationGetRelationName(rel);
	char	   *old_status = NULL;
	char	   *new_status;
	OrderKind	oldk = ORDER_OPEN;
	OrderKind	newk;
	Datum		paid = 0,
				refunded = 0,
				old_paid = 0,
				old_refunded = 0;
	bool		has_paid = false,
				has_refunded = false,
				had_paid = false,
				had_refunded = false;

	newk = order_kind(g, newtup, desc, &new_status);
	if (oldtup)
		oldk = order_kind(g, oldtup, desc, &old_status);
	if (g->paid)
	{
		has_paid = amount_of(newtup, desc, g->paid, &g->paid_type, &paid);
		if (oldtup)
			had_paid = amount_of(oldtup, desc, g->paid, &g->paid_type, &old_paid);
	}
	if (g->refunded)
	{
		has_refunded = amount_of(newtup, desc, g->refunded, &g->refunded_type, &refunded);
		if (oldtup)
			had_refunded = amount_of(oldtup, desc, g->refunded, &g->refunded_type, &old_refunded);
	}

	/* Transitions out of a paid state. */
	if (oldk == ORDER_PAID && newk == ORDER_CANCELLED)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_ORDER_PAID_CANCEL),
				 errmsg("a paid order in \"%s\" cannot be cancelled", relname),
				 errdetail("Cancellation is refused once payment has completed; status \"%s\" cannot become \"%s\".",
						   old_status, new_status),
				 errhint("Refund the order instead.")));
	if (oldk == ORDER_PAID && newk == ORDER_OPEN)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_ORDER_ALREADY_PAID),
				 errmsg("order in \"%s\" is already paid", relname),
				 errdetail("A paid order cannot return to an unpaid state; status \"%s\" cannot become \"%s\".",
						   old_status, new_status ? new_status : "NULL")));
	if (g->paid && g->refunded && has_paid && has_refunded)
	{
		char	   *pc = currency_of(newtup, desc, g->paid, &g->paid_type);
		char	   *rc = currency_of(newtup, desc, g->refunded, &g->refunded_type);

		if (currencies_differ(pc, rc))
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_CURRENCY_MISMATCH),
					 errmsg("the refunded amount of an order in \"%s\" must be in the currency it was paid in", relname),
					 errdetail("The order is paid in %s; the refunded amount is in %s.", pc, rc)));
	}
	if (g->refunded && has_refunded && had_refunded)
	{
		char	   *oc = currency_of(oldtup, desc, g->refunded, &g->refunded_type);
		char	   *nc = currency_of(newtup, desc, g->refunded, &g->refunded_type);

		if (currencies_differ(oc, nc))
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_CURRENCY_MISMATCH),
					 errmsg("the refunded amount of an order in \"%s\" cannot change its currency", relname),
					 errdetail("The order's refunds are in %s; the new refunded amount is in %s.", oc, nc)));
	}
	if (oldk == ORDER_PAID && newk == ORDER_PAID)
	{
		if (g->paid && (has_paid != had_paid ||
						(has_paid && (finsec_amount_cmp(paid, old_paid) != 0 ||
									  currencies_differ(currency_of(newtup, desc, g->paid, &g->paid_type),
														currency_of(oldtup, desc, g->paid, &g->paid_type))))))
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_ORDER_ALREADY_PAID),
					 errmsg("order in \"%s\" is already paid", relname),
					 errdetail("The paid amount of a paid order cannot change."),
					 errdetail_log("Paid amount %s would become %s.",
								   had_paid ? finsec_amount_out(old_paid) : "NULL",
								   has_paid ? finsec_amount_out(paid) : "NULL")));
		if (g->payref && !same_value(oldtup, newtup, desc, g->payref))
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_ORDER_ALREADY_PAID),
					 errmsg("order in \"%s\" is already paid", relname),
					 errdetail("A second payment of a paid order is refused: its payment reference cannot change."),
					 errhint("Refund the second payment to the payer.")));
	}
	if (oldtup && oldk == ORDER_CANCELLED && newk == ORDER_PAID)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_ORDER_STATE),
				 errmsg("a cancelled order in \"%s\" cannot be paid", relname),
				 errdetail("Status \"%s\" cannot become \"%s\".", old_status, new_status),
				 errhint("Create a new order, or refund a payment that arrived after cancellation.")));

	/* Amounts of the new row. */
	if (newk == ORDER_PAID && g->paid && !has_paid)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_ORDER_STATE),
				 errmsg("a paid order in \"%s\" must record its paid amount", relname),
				 errdetail("Column \"%s\" is null while status is \"%s\".",
						   NameStr(TupleDescAttr(desc, g->paid - 1)->attname), new_status)));
	if (has_paid && finsec_amount_cmp(paid, finsec_amount_zero()) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_ORDER_STATE),
				 errmsg("the paid amount of an order in \"%s\" cannot be negative", relname)));
	if (has_refunded)
	{
		Datum		limit = (newk == ORDER_PAID && has_paid) ? paid : finsec_amount_zero();

		if (finsec_amount_cmp(refunded, finsec_amount_zero()) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_ORDER_STATE),
					 errmsg("the refunded amount of an order in \"%s\" cannot be negative", relname)));
		if (had_refunded && finsec_amount_cmp(refunded, old_refunded) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_ORDER_STATE),
					 errmsg("the refunded amount of an order in \"%s\" cannot decrease", relname),
					 errdetail("A refund, once recorded, is not taken back."),
					 errdetail_log("Refunded amount %s would become %s.",
								   finsec_amount_out(old_refunded), finsec_amount_out(refunded))));
		if (finsec_amount_cmp(refunded, limit) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_REFUND_EXCEEDS_PAID),
					 errmsg("refunds of an order in \"%s\" would exceed the amount paid", relname),
					 newk == ORDER_PAID
					 ? errdetail("The refunded amount may not exceed the paid amount.")
					 : errdetail("An order that is not paid has nothing to refund."),
					 errdetail_log("Refunded %s, paid %s.",
								   finsec_amount_out(refunded), finsec_amount_out(limit))));
	}
}

PG_FUNCTION_INFO_V1(finsec_order_guard_trigger);

Datum
finsec_order_guard_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	OrderGuard	g;
	HeapTuple	result;

	finsec_require_before_row_trigger(fcinfo, "finsec.order_guard_trigger()");

	order_guard_from_args(td->tg_trigger, RelationGetDescr(td->tg_relation),
						  RelationGetRelationName(td->tg_relation), &g);
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		check_order(td->tg_relation, &g, NULL, td->tg_trigtuple);
		result = td->tg_trigtuple;
	}
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		check_order(td->tg_relation, &g, td->tg_trigtuple, td->tg_newtuple);
		result = td->tg_newtuple;
	}
	else
		elog(ERROR, "finsec.order_guard_trigger() fires on INSERT and UPDATE only");
	return PointerGetDatum(result);
}

/* ---- the refund trigger --------------------------------------------------- */

typedef struct RefundGuard
{
	Oid			orders_relid;
	char	   *orders;			/* quoted, qualified */
	Oid			refunds_relid;	/* the root of the refund table */
	char	   *refunds;		/* quoted, qualified root */
	char	   *order_key;
	char	   *order_ref;
	char	   *amount;
	char	   *status;
	char	   *paid;
	char	  **paid_states;
	int			npaid;
} RefundGuard;

/* Read the refund guard's configuration (finsec's own tables, as finsec's owner). */
static void
load_refund_guard(Oid refunds, RefundGuard *g)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(refunds)};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	int			ret;
	Datum	   *states;
	bool	   *snulls;
	int			i;

	ret = SPI_execute_with_args("SELECT r.orders::pg_catalog.oid, r.order_key, r.order_ref_column, "
								"r.amount_column, o.status_column, o.paid_amount_column, o.paid_states "
								"FROM finsec.refund_guard r JOIN finsec.order_guard o ON o.relid = r.orders "
								"WHERE r.relid = $1",
								1, types, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "refund guard lookup failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" has a finsec refund guard trigger but no refund guard configuration",
						get_rel_name(refunds)),
				 errhint("Run finsec.enable_refund_guard() for it, or drop trigger " REFUND_TRIGGER_NAME ".")));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	g->orders_relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
	g->orders = finsec_quoted_relname(g->orders_relid);
	g->refunds_relid = refunds;
	g->refunds = finsec_quoted_relname(refunds);
	g->order_key = SPI_getvalue(tup, desc, 2);
	g->order_ref = SPI_getvalue(tup, desc, 3);
	g->amount = SPI_getvalue(tup, desc, 4);
	g->status = SPI_getvalue(tup, desc, 5);
	g->paid = SPI_getvalue(tup, desc, 6);
	deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 7, &isnull)),
					  TEXTOID, -1, false, TYPALIGN_INT, &states, &snulls, &g->npaid);
	g->paid_states = palloc(sizeof(char *) * Max(g->npaid, 1));
	for (i = 0; i < g->npaid; i++)
		g->paid_states[i] = snulls[i] ? pstrdup("") : TextDatumGetCString(states[i]);
}

/* A column of the orders table, by name, with its type checked again (amount: must be one); its type. */
static Oid
recheck_order_column(RefundGuard *g, const char *param, const char *name, bool amount)
{
	AttrNumber	att = get_attnum(g->orders_relid, name);
	Oid			typid;

	if (att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of guarded table %s does not exist", name, g->orders),
				 errhint("A guarded column was renamed or dropped; disable the guard and enable it again with the new name.")));
	typid = get_atttype(g->orders_relid, att);
	if (amount && !finsec_amount_type_ok(typid))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s column \"%s\" of guarded table %s has type %s", param, name,
						g->orders, format_type_be(typid)),
				 errdetail("Amounts must be " FINSEC_AMOUNT_TYPES_TEXT "."),
				 errhint("The column's type was altered after the guard was enabled; restore it, or disable the guard and enable it again.")));
	finsec_require_trusted_type(typid, param, name, get_rel_name(g->orders_relid));
	return typid;
}

/*
 * Lock the order row and return the order's paid amount (false: the order
 * is not in a paid state).  Refunds of one order queue on this lock.
 *
 * The query runs as the orders table's owner in a security-restricted
 * operation, not as finsec's owner: planning and running it may reach the
 * owner's objects (index expressions and predicates, constraints), and the
 * owner's code must not gain finsec's privileges.  The status is compared
 * in C, by its type's output function: no cast, which a type's owner could
 * define.
 */
static bool
lock_order(RefundGuard *g, Oid keytype, Datum key, Datum *paid, char **paid_currency,
		   bool *found)
{
	Oid			types[1] = {getBaseType(keytype)};
	Datum		values[1] = {key};
	FinsecTableOwnerContext octx;
	TupleDesc	desc;
	HeapTuple	tup;
	char	   *sql;
	char	   *status;
	int			ret;
	bool		isnull;
	Datum		d;
	FinsecAmountType amount_type;

	sql = psprintf("SELECT %s, %s FROM %s WHERE %s = $1 FOR UPDATE",
				   quote_identifier(g->status), quote_identifier(g->paid), g->orders,
				   quote_identifier(g->order_key));
	finsec_begin_table_owner(g->orders_relid, &octx);
	/* The latest snapshot, as RI checks use: the lock makes it the truth. */
	ret = SPI_execute_snapshot(SPI_prepare(sql, 1, types), values, NULL,
							   GetLatestSnapshot(), InvalidSnapshot, false, false, 0);
	finsec_end_table_owner(&octx);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "refund guard order lock failed: %s", SPI_result_code_string(ret));
	*found = SPI_processed > 0;
	if (!*found)
		return false;
	desc = SPI_tuptable->tupdesc;
	tup = SPI_tuptable->vals[0];
	if (!finsec_amount_type(SPI_gettypeid(desc, 2), &amount_type))
		elog(ERROR, "refund guard: the paid amount of %s is not of an amount type", g->orders);
	d = SPI_getbinval(tup, desc, 1, &isnull);
	status = value_text(d, isnull, SPI_gettypeid(desc, 1));
	*paid = SPI_getbinval(tup, desc, 2, &isnull);
	if (isnull || status == NULL || !finsec_in_list(status, g->paid_states, g->npaid))
		return false;
	*paid_currency = finsec_amount_currency(&amount_type, *paid);
	*paid = datumCopy(finsec_amount_numeric(&amount_type, *paid), false, -1);
	return true;
}

/*
 * The sum of the order's refunds, read with the latest snapshot as the
 * refund table's owner (see lock_order) and added up in C; the row being
 * updated (skip_rel, skip_tid) is left out.  A refund in another currency
 * than currency (NULL: none carried) is refused: one order's refunds are
 * all in one currency.
 */
static Datum
refund_total(RefundGuard *g, Oid keytype, Datum key, const char *currency,
			 const char *relname, Oid skip_rel, ItemPointer skip_tid)
{
	Oid			types[1] = {getBaseType(keytype)};
	Datum		values[1] = {key};
	FinsecTableOwnerContext octx;
	Datum		total = finsec_amount_zero();
	char	   *sql;
	int			ret;
	uint64		i;
	FinsecAmountType amount_type;

	sql = psprintf("SELECT %s, tableoid, ctid FROM %s WHERE %s = $1 AND %s IS NOT NULL",
				   quote_identifier(g->amount), g->refunds, quote_identifier(g->order_ref),
				   quote_identifier(g->amount));
	finsec_begin_table_owner(g->refunds_relid, &octx);
	ret = SPI_execute_snapshot(SPI_prepare(sql, 1, types), values, NULL,
							   GetLatestSnapshot(), InvalidSnapshot, true, false, 0);
	finsec_end_table_owner(&octx);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "refund guard sum failed: %s", SPI_result_code_string(ret));
	if (!finsec_amount_type(SPI_gettypeid(SPI_tuptable->tupdesc, 1), &amount_type))
		elog(ERROR, "refund guard: the refund amount of %s is not of an amount type", g->refunds);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull,
					relnull,
					tidnull;
		Datum		d = SPI_getbinval(tup, desc, 1, &isnull);
		Datum		rowrel = SPI_getbinval(tup, desc, 2, &relnull);
		Datum		rowtid = SPI_getbinval(tup, desc, 3, &tidnull);
		char	   *rc;

		if (isnull)
			continue;
		if (skip_tid != NULL && !relnull && !tidnull &&
			DatumGetObjectId(rowrel) == skip_rel &&
			ItemPointerEquals((ItemPointer) DatumGetPointer(rowtid), skip_tid))
			continue;
		rc = finsec_amount_currency(&amount_type, d);
		if (currencies_differ(rc, currency))
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_CURRENCY_MISMATCH),
					 errmsg("a refund in \"%s\" must be in the currency of its order's other refunds", relname),
					 errdetail("The order has refunds in %s; this refund is in %s.", rc, currency)));
		total = finsec_amount_add(total, finsec_amount_numeric(&amount_type, d));
	}
	return total;
}

PG_FUNCTION_INFO_V1(finsec_refund_guard_trigger);

/* Refund guard: lock the refunded order, sum its refunds as the table owner, refuse refunds beyond the amount paid. */
Datum
finsec_refund_guard_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	const char *relname;
	HeapTuple	newtup;
	HeapTuple	oldtup = NULL;
	RefundGuard g;
	FinsecOwnerContext ctx;
	int			refatt,
				amtatt;
	FinsecAmountType amount_type;
	Oid			keytype;
	Datum		key,
				amount,
				paid = 0,
				total;
	char	   *paid_currency = NULL,
			   *refund_currency;
	bool		isnull,
				found,
				is_paid;

	finsec_require_before_row_trigger(fcinfo, "finsec.refund_guard_trigger()");
	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	relname = RelationGetRelationName(rel);
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		newtup = td->tg_trigtuple;
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		oldtup = td->tg_trigtuple;
		newtup = td->tg_newtuple;
	}
	else
		elog(ERROR, "finsec.refund_guard_trigger() fires on INSERT and UPDATE only");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* finsec's own configuration, as finsec's owner; nothing else. */
	finsec_begin_owner(&ctx);
	load_refund_guard(root_relid(rel), &g);
	finsec_end_owner(&ctx);

	refatt = column_number(desc, g.order_ref, relname);
	amtatt = column_number(desc, g.amount, relname);
	recheck_column(desc, refatt, NULL, "order_ref", relname);
	recheck_column(desc, amtatt, &amount_type, "amount", relname);
	(void) recheck_order_column(&g, "status", g.status, false);
	(void) recheck_order_column(&g, "paid_amount", g.paid, true);
	keytype = SPI_gettypeid(desc, refatt);
	if (recheck_order_column(&g, "order_key", g.order_key, false) != keytype)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("order_ref column \"%s\" of \"%s\" and order key \"%s\" of %s no longer have the same type",
						g.order_ref, relname, g.order_key, g.orders),
				 errhint("A column's type was altered after the guard was enabled; restore it, or disable the guard and enable it again.")));
	key = SPI_getbinval(newtup, desc, refatt, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_ORDER_STATE),
				 errmsg("a refund in \"%s\" must name its order", relname),
				 errdetail("Column \"%s\" is null.", g.order_ref)));
	if (!amount_of(newtup, desc, amtatt, &amount_type, &amount) ||
		finsec_amount_cmp(amount, finsec_amount_zero()) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_ORDER_STATE),
				 errmsg("a refund in \"%s\" must have a positive amount", relname)));

	is_paid = lock_order(&g, keytype, key, &paid, &paid_currency, &found);
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("a refund in \"%s\" names an order that does not exist in %s", relname, g.orders)));
	if (!is_paid)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_REFUND_EXCEEDS_PAID),
				 errmsg("refunds of an order in %s would exceed the amount paid", g.orders),
				 errdetail("An order that is not paid has nothing to refund.")));

	refund_currency = currency_of(newtup, desc, amtatt, &amount_type);
	if (currencies_differ(paid_currency, refund_currency))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CURRENCY_MISMATCH),
				 errmsg("a refund in \"%s\" must be in the currency its order was paid in", relname),
				 errdetail("The order is paid in %s; the refund is in %s.", paid_currency, refund_currency)));

	total = refund_total(&g, keytype, key, refund_currency, relname, RelationGetRelid(rel),
						 oldtup ? &oldtup->t_self : NULL);
	total = finsec_amount_add(total, amount);
	refuse_nonfinite(paid, "the paid amount of the order");
	refuse_nonfinite(total, "the refunds of the order");
	if (finsec_amount_cmp(total, paid) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_REFUND_EXCEEDS_PAID),
				 errmsg("refunds of an order in %s would exceed the amount paid", g.orders),
				 errdetail("The refunds recorded in %s for one order may not total more than its paid amount.",
						   g.refunds),
				 errdetail_log("Refunds would total %s, paid %s.",
							   finsec_amount_out(total), finsec_amount_out(paid))));

	SPI_finish();
	return PointerGetDatum(newtup);
}

/* ---- enable and disable -------------------------------------------------- */

/* What common's finsec_apptable_open() requires of an orders or refund table. */
static const FinsecAppTableCheck guardable = {
	.flags = FINSEC_APPTABLE_PARTITIONED,
	.privilege = ACL_TRIGGER,
	.privilege_name = "TRIGGER",
	.privilege_hint = "Enabling a guard creates a trigger on the table: the table's owner grants TRIGGER on it, or enables the guard as a member of finsec_admin.",
};

/* Attribute number of a named column, checked as an amount or a status when asked. */
static AttrNumber
check_column(Relation rel, const char *param, const char *name, bool amount, bool status)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || strcmp(NameStr(att->attname), name) != 0)
			continue;
		if (amount && !finsec_amount_type_ok(att->atttypid))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("%s column \"%s\" of \"%s\" has type %s", param, name,
							RelationGetRelationName(rel), format_type_be(att->atttypid)),
					 errhint("Amounts must be " FINSEC_AMOUNT_TYPES_TEXT ".")));
		if (status)
		{
			Oid			t = getBaseType(att->atttypid);

			if (t != TEXTOID && t != VARCHAROID && t != BPCHAROID && t != NAMEOID &&
				!type_is_enum(t))
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("status column \"%s\" of \"%s\" has type %s", name,
								RelationGetRelationName(rel), format_type_be(att->atttypid)),
						 errhint("The status column must be text, varchar, char or an enum.")));
		}
		finsec_require_trusted_type(att->atttypid, param, name, RelationGetRelationName(rel));
		return att->attnum;
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("%s column \"%s\" does not exist in \"%s\"", param, name,
					RelationGetRelationName(rel))));
	return InvalidAttrNumber;	/* keep compiler quiet */
}

/* Elements of a text[] argument (finsec_names_arg), at least one if nonempty. */
static List *
states_arg(FunctionCallInfo fcinfo, int n, const char *param, bool nonempty)
{
	List	   *out = finsec_names_arg(fcinfo, n, param);

	if (nonempty && out == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must name at least one status", param)));
	return out;
}

static void
exec_args(const char *sql, int nargs, Oid *types, Datum *values)
{
	int			ret = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	if (ret < 0)
		elog(ERROR, "guard step failed (%s): %s", SPI_result_code_string(ret), sql);
}

static bool
guard_exists(const char *table, Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};

	exec_args(psprintf("SELECT 1 FROM finsec.%s WHERE relid = $1::pg_catalog.regclass", table),
			  1, types, values);
	return SPI_processed > 0;
}

PG_FUNCTION_INFO_V1(finsec_enable_order_guard);

/*
 * finsec.enable_order_guard(orders regclass, status text, paid_amount text,
 *		refunded_amount text, payment_ref text, paid_states text[],
 *		cancelled_states text[]) returns void
 */
Datum
finsec_enable_order_guard(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Relation	rel;
	char	   *status,
			   *paid,
			   *refunded,
			   *payref,
			   *qname;
	List	   *paid_states,
			   *cancelled_states;
	ListCell   *lc;
	StringInfoData trig;
	FinsecOwnerContext ctx;
	Oid			types[8] = {OIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID, TEXTOID};
	Datum		values[8];
	char		nulls[8] = "        ";

	finsec_require_preload("finsec.enable_order_guard()");
	finsec_require_arg(fcinfo, 0, "orders table");
	relid = PG_GETARG_OID(0);
	status = finsec_name_arg(fcinfo, 1, "status", true);
	paid = finsec_name_arg(fcinfo, 2, "paid_amount", false);
	refunded = finsec_name_arg(fcinfo, 3, "refunded_amount", false);
	payref = finsec_name_arg(fcinfo, 4, "payment_ref", false);
	paid_states = states_arg(fcinfo, 5, "paid_states", true);
	cancelled_states = states_arg(fcinfo, 6, "cancelled_states", false);
	foreach(lc, cancelled_states)
	{
		ListCell   *lp;

		foreach(lp, paid_states)
			if (strcmp(lfirst(lp), lfirst(lc)) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("status \"%s\" cannot be both paid and cancelled", (char *) lfirst(lc))));
	}

	rel = finsec_apptable_open(relid, ShareRowExclusiveLock, "finsec.enable_order_guard()", &guardable);
	(void) check_column(rel, "status", status, false, true);
	if (paid)
		(void) check_column(rel, "paid_amount", paid, true, false);
	if (refunded)
		(void) check_column(rel, "refunded_amount", refunded, true, false);
	if (refunded && !paid)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("refunded_amount needs paid_amount"),
				 errdetail("Refunds are checked against the paid amount.")));
	if (payref)
		(void) check_column(rel, "payment_ref", payref, false, false);
	table_close(rel, NoLock);

	qname = finsec_quoted_relname(relid);
	initStringInfo(&trig);
	appendStringInfo(&trig, "CREATE TRIGGER " ORDER_TRIGGER_NAME " BEFORE INSERT OR UPDATE ON %s "
					 "FOR EACH ROW EXECUTE FUNCTION finsec.order_guard_trigger(%s, %s, %s, %s, '%d'",
					 qname, quote_literal_cstr(status), quote_literal_cstr(paid ? paid : ""),
					 quote_literal_cstr(refunded ? refunded : ""),
					 quote_literal_cstr(payref ? payref : ""), list_length(paid_states));
	foreach(lc, paid_states)
		appendStringInfo(&trig, ", %s", quote_literal_cstr(lfirst(lc)));
	foreach(lc, cancelled_states)
		appendStringInfo(&trig, ", %s", quote_literal_cstr(lfirst(lc)));
	appendStringInfoChar(&trig, ')');

	finsec_spi_begin_as_owner(&ctx);
	if (guard_exists("order_guard", relid))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("table %s already has an order guard", qname),
				 errhint("Run finsec.disable_order_guard() first to change its configuration.")));
	values[0] = ObjectIdGetDatum(relid);
	values[1] = CStringGetTextDatum(status);
	values[2] = paid ? CStringGetTextDatum(paid) : (nulls[2] = 'n', 0);
	values[3] = refunded ? CStringGetTextDatum(refunded) : (nulls[3] = 'n', 0);
	values[4] = payref ? CStringGetTextDatum(payref) : (nulls[4] = 'n', 0);
	values[5] = PG_GETARG_DATUM(5);
	values[6] = PG_GETARG_DATUM(6);
	values[7] = CStringGetTextDatum(GetUserNameFromId(ctx.caller, false));
	if (SPI_execute_with_args("INSERT INTO finsec.order_guard (relid, status_column, paid_amount_column, "
							  "refunded_amount_column, payment_ref_column, paid_states, cancelled_states, "
							  "enabled_by) VALUES ($1::pg_catalog.regclass, $2, $3, $4, $5, $6, $7, $8::pg_catalog.name)",
							  8, types, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record the order guard");
	finsec_own_trigger_ddl_begin();
	exec_args(trig.data, 0, NULL, NULL);
	finsec_own_trigger_ddl_end();
	finsec_spi_end(&ctx);

	finsec_audit_event("guard.enable", qname, "enable_order_guard", true,
					   psprintf("order guard enabled on status column \"%s\"%s", status,
								paid ? psprintf(", paid amount \"%s\"", paid) : ""),
					   NULL);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(finsec_enable_refund_guard);

/*
 * finsec.enable_refund_guard(refunds regclass, orders regclass,
 *		order_ref text, amount text, order_key text) returns void
 */
Datum
finsec_enable_refund_guard(PG_FUNCTION_ARGS)
{
	Oid			relid,
				orders;
	Relation	rel,
				orel;
	char	   *order_ref,
			   *amount,
			   *order_key,
			   *qname,
			   *qorders;
	AttrNumber	refatt,
				keyatt;
	Oid			reftype,
				keytype;
	FinsecOwnerContext ctx;
	Oid			types[6] = {OIDOID, OIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[6];

	finsec_require_preload("finsec.enable_refund_guard()");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("refunds and orders tables must not be null")));
	relid = PG_GETARG_OID(0);
	orders = PG_GETARG_OID(1);
	order_ref = finsec_name_arg(fcinfo, 2, "order_ref", true);
	amount = finsec_name_arg(fcinfo, 3, "amount", true);
	order_key = finsec_name_arg(fcinfo, 4, "order_key", false);
	if (relid == orders)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the refund table must not be the orders table"),
				 errhint("For refunds recorded in the order row, use refunded_amount of finsec.enable_order_guard().")));

	rel = finsec_apptable_open(relid, ShareRowExclusiveLock, "finsec.enable_refund_guard()", &guardable);
	orel = finsec_apptable_open(orders, ShareRowExclusiveLock, "finsec.enable_refund_guard()", &guardable);
	refatt = check_column(rel, "order_ref", order_ref, false, false);
	(void) check_column(rel, "amount", amount, true, false);
	if (order_key == NULL)
	{
		Oid			pk = RelationGetPrimaryKeyIndex(orel);
		Relation	idx;

		if (!OidIsValid(pk))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
					 errmsg("orders table \"%s\" has no primary key", RelationGetRelationName(orel)),
					 errhint("Name its key column with order_key.")));
		idx = index_open(pk, AccessShareLock);
		if (idx->rd_index->indnkeyatts != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
					 errmsg("the primary key of \"%s\" has more than one column",
							RelationGetRelationName(orel)),
					 errhint("Name a unique key column with order_key.")));
		order_key = pstrdup(NameStr(TupleDescAttr(RelationGetDescr(orel),
												  idx->rd_index->indkey.values[0] - 1)->attname));
		index_close(idx, AccessShareLock);
	}
	keyatt = check_column(orel, "order_key", order_key, false, false);
	reftype = TupleDescAttr(RelationGetDescr(rel), refatt - 1)->atttypid;
	keytype = TupleDescAttr(RelationGetDescr(orel), keyatt - 1)->atttypid;
	if (reftype != keytype)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("order_ref column \"%s\" has type %s, but order key \"%s\" has type %s",
						order_ref, format_type_be(reftype), order_key, format_type_be(keytype))));
	table_close(orel, NoLock);
	table_close(rel, NoLock);

	qname = finsec_quoted_relname(relid);
	qorders = finsec_quoted_relname(orders);
	finsec_spi_begin_as_owner(&ctx);
	if (!guard_exists("order_guard", orders))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("orders table %s has no order guard", qorders),
				 errhint("Run finsec.enable_order_guard() on it first; the refund guard uses its paid amount and states.")));
	{
		Oid			t[1] = {OIDOID};
		Datum		v[1] = {ObjectIdGetDatum(orders)};

		exec_args("SELECT 1 FROM finsec.order_guard WHERE relid = $1::pg_catalog.regclass "
				  "AND paid_amount_column IS NOT NULL", 1, t, v);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the order guard of %s names no paid_amount column", qorders),
					 errhint("Enable the order guard again with paid_amount.")));
	}
	if (guard_exists("refund_guard", relid))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("table %s already has a refund guard", qname),
				 errhint("Run finsec.disable_refund_guard() first to change its configuration.")));
	values[0] = ObjectIdGetDatum(relid);
	values[1] = ObjectIdGetDatum(orders);
	values[2] = CStringGetTextDatum(order_ref);
	values[3] = CStringGetTextDatum(amount);
	values[4] = CStringGetTextDatum(order_key);
	values[5] = CStringGetTextDatum(GetUserNameFromId(ctx.caller, false));
	exec_args("INSERT INTO finsec.refund_guard (relid, orders, order_ref_column, amount_column, "
			  "order_key, enabled_by) VALUES ($1::pg_catalog.regclass, $2::pg_catalog.regclass, "
			  "$3, $4, $5, $6::pg_catalog.name)", 6, types, values);
	finsec_own_trigger_ddl_begin();
	exec_args(psprintf("CREATE TRIGGER " REFUND_TRIGGER_NAME " BEFORE INSERT OR UPDATE ON %s "
					   "FOR EACH ROW EXECUTE FUNCTION finsec.refund_guard_trigger()", qname),
			  0, NULL, NULL);
	finsec_own_trigger_ddl_end();
	finsec_spi_end(&ctx);

	finsec_audit_event("guard.enable", qname, "enable_refund_guard", true,
					   psprintf("refund guard enabled: refunds per order of %s at most its paid amount",
								qorders),
					   NULL);
	PG_RETURN_VOID();
}

/* Remove an order or refund guard from a table: registration row, trigger, audit event. */
static void
disable_guard(FunctionCallInfo fcinfo, const char *table, const char *trigger,
			  const char *action)
{
	Oid			relid;
	Relation	rel;
	char	   *qname;
	FinsecOwnerContext ctx;
	Oid			types[1] = {OIDOID};
	Datum		values[1];

	finsec_require_preload(psprintf("finsec.%s()", action));
	finsec_require_switch_authority(psprintf("finsec.%s()", action));
	finsec_require_arg(fcinfo, 0, "table");
	relid = PG_GETARG_OID(0);
	finsec_check_relation_usage(relid);
	rel = finsec_table_open_arg(relid, ShareRowExclusiveLock);
	if (pg_class_aclcheck(relid, GetUserId(), ACL_TRIGGER) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to change the guard of \"%s\"",
						RelationGetRelationName(rel))));
	table_close(rel, NoLock);
	qname = finsec_quoted_relname(relid);
	values[0] = ObjectIdGetDatum(relid);

	finsec_spi_begin_as_owner(&ctx);
	if (strcmp(table, "order_guard") == 0)
	{
		exec_args("SELECT 1 FROM finsec.refund_guard WHERE orders = $1::pg_catalog.regclass",
				  1, types, values);
		if (SPI_processed > 0)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("a refund guard depends on the order guard of %s", qname),
					 errhint("Run finsec.disable_refund_guard() on the refund table first.")));
	}
	exec_args(psprintf("DELETE FROM finsec.%s WHERE relid = $1::pg_catalog.regclass", table),
			  1, types, values);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("table %s has no %s", qname,
						strcmp(table, "order_guard") == 0 ? "order guard" : "refund guard")));
	exec_args(psprintf("DROP TRIGGER IF EXISTS %s ON %s", trigger, qname), 0, NULL, NULL);
	finsec_spi_end(&ctx);

	finsec_audit_event("guard.disable", qname, action, true,
					   strcmp(table, "order_guard") == 0 ? "order guard disabled" : "refund guard disabled",
					   NULL);
}

PG_FUNCTION_INFO_V1(finsec_disable_order_guard);

Datum
finsec_disable_order_guard(PG_FUNCTION_ARGS)
{
	disable_guard(fcinfo, "order_guard", ORDER_TRIGGER_NAME, "disable_order_guard");
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(finsec_disable_refund_guard);

Datum
finsec_disable_refund_guard(PG_FUNCTION_ARGS)
{
	disable_guard(fcinfo, "refund_guard", REFUND_TRIGGER_NAME, "disable_refund_guard");
	PG_RETURN_VOID();
}
