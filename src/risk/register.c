/*-------------------------------------------------------------------------
 *
 * register.c
 *	  finsec.enable_risk(), finsec.disable_risk() and
 *	  finsec.risk_index_advice(): which payments table risk rules read,
 *	  through which columns and indexes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#include "finsec.h"
#include "finsec_apptable.h"
#include "finsec_audit.h"
#include "finsec_trusted.h"
#include "finsec_owner.h"
#include "risk_engine.h"

/* Arguments of finsec.enable_risk after the table, in order, and their attributes. */
static const RiskAttr arg_attr[] = {
	RA_CUSTOMER, RA_AMOUNT, RA_AT, RA_ACCOUNT, RA_COUNTERPARTY, RA_CURRENCY, RA_CHANNEL, RA_MCC,
	RA_DEVICE, RA_IP, RA_PHONE, RA_GEO, RA_REGION, RA_MERCHANT, RA_TIER, RA_CARD, RA_REFERENCE
};
static const char *const arg_names[] = {
	"customer", "amount", "posted_at", "account", "counterparty", "currency", "channel", "mcc",
	"device", "ip", "phone", "geo", "region", "merchant", "auth_tier", "card", "reference"
};
static const char *const table_columns[] = {
	"customer_column", "amount_column", "posted_at_column", "account_column", "counterparty_column",
	"currency_column", "channel_column", "mcc_column", "device_column", "ip_column", "phone_column",
	"geo_column", "region_column", "merchant_column", "tier_column", "card_column", "reference_column"
};
#define NARGS lengthof(arg_attr)

/* What common's finsec_apptable_open() requires of a payments table for risk scoring. */
static const FinsecAppTableCheck registrable = {
	.flags = FINSEC_APPTABLE_PARTITIONED,
	.privilege = ACL_SELECT,
	.privilege_name = "SELECT",
	.privilege_hint = "Risk rules read the table's payment history: register it as a role that may read it.",
};

/*
 * The types a mapped column may have, per attribute; every one must also be
 * trusted (finsec_require_trusted_type).  Checked at registration and again
 * when a backend first reads the table (history.c).
 */
bool
finsec_risk_type_ok(RiskAttr a, Oid typ, const char **want)
{
	switch (a)
	{
		case RA_AMOUNT:
			*want = FINSEC_AMOUNT_TYPES_TEXT;
			return finsec_amount_type_ok(typ);
		case RA_AT:
			*want = "timestamp with time zone";
			return typ == TIMESTAMPTZOID;
		case RA_GEO:
			*want = "point (longitude, latitude)";
			return typ == POINTOID;
		case RA_TIER:
			*want = "smallint or integer";
			return typ == INT2OID || typ == INT4OID;
		case RA_IP:
			*want = "inet, cidr or text";
			return typ == INETOID || typ == CIDROID || typ == TEXTOID || typ == VARCHAROID;
		case RA_CARD:
			*want = "finsec.bank_card, or text holding finsec.risk_card_key()";
			return typ == TEXTOID || typ == VARCHAROID ||
				(get_typ_typrelid(typ) == InvalidOid &&
				 strcmp(format_type_be_qualified(typ), "finsec.bank_card") == 0);
		default:
			*want = "a type with equality (text, varchar, integer, bigint, uuid, ...)";
			return OidIsValid(lookup_type_cache(typ, TYPECACHE_EQ_OPR)->eq_opr) &&
				get_typ_typrelid(typ) == InvalidOid;
	}
}

PG_FUNCTION_INFO_V1(finsec_enable_risk);

/* finsec.enable_risk(): register a payments table and its column mapping for risk scoring. */
Datum
finsec_enable_risk(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Relation	rel;
	char	   *cols[NARGS];
	FinsecOwnerContext ctx;
	char	   *qname;
	Oid			types[NARGS + 2];
	Datum		values[NARGS + 2];
	char		nulls[NARGS + 2];
	StringInfoData sql;
	int			i;
	int			ret;

	finsec_require_arg(fcinfo, 0, "payments table");
	relid = PG_GETARG_OID(0);
	for (i = 0; i < NARGS; i++)
		cols[i] = finsec_name_arg(fcinfo, i + 1, arg_names[i], i < 3);

	rel = finsec_apptable_open(relid, AccessShareLock, "finsec.enable_risk()", &registrable);
	for (i = 0; i < NARGS; i++)
	{
		AttrNumber	att;
		Oid			typ;
		const char *want;
		int			j;

		if (cols[i] == NULL)
			continue;
		att = get_attnum(relid, cols[i]);
		if (att <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("%s column \"%s\" does not exist in \"%s\"", arg_names[i], cols[i],
							RelationGetRelationName(rel))));
		for (j = 0; j < i; j++)
			if (cols[j] && strcmp(cols[j], cols[i]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("column \"%s\" is mapped twice (%s and %s)", cols[i], arg_names[j], arg_names[i])));
		typ = get_atttype(relid, att);
		if (!finsec_risk_type_ok(arg_attr[i], typ, &want))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("%s column \"%s\" of \"%s\" is of type %s", arg_names[i], cols[i],
							RelationGetRelationName(rel), format_type_be(typ)),
					 errdetail("It must be %s.", want)));
		finsec_require_trusted_type(typ, arg_names[i], cols[i], RelationGetRelationName(rel));
	}
	table_close(rel, NoLock);
	qname = finsec_quoted_relname(relid);

	initStringInfo(&sql);
	appendStringInfoString(&sql, "INSERT INTO finsec.risk_table (relid");
	for (i = 0; i < NARGS; i++)
		appendStringInfo(&sql, ", %s", table_columns[i]);
	appendStringInfoString(&sql, ", enabled_by) VALUES ($1::pg_catalog.regclass");
	for (i = 0; i < NARGS + 1; i++)
		appendStringInfo(&sql, ", $%d", i + 2);
	appendStringInfoString(&sql, ") ON CONFLICT (relid) DO UPDATE SET ");
	for (i = 0; i < NARGS; i++)
		appendStringInfo(&sql, "%s = EXCLUDED.%s, ", table_columns[i], table_columns[i]);
	appendStringInfoString(&sql, "enabled_by = EXCLUDED.enabled_by, enabled_at = pg_catalog.now()");

	finsec_spi_begin_as_owner(&ctx);
	memset(nulls, ' ', sizeof(nulls));
	types[0] = OIDOID;
	values[0] = ObjectIdGetDatum(relid);
	for (i = 0; i < NARGS; i++)
	{
		types[i + 1] = TEXTOID;
		if (cols[i])
			values[i + 1] = CStringGetTextDatum(cols[i]);
		else
			nulls[i + 1] = 'n';
	}
	types[NARGS + 1] = NAMEOID;
	values[NARGS + 1] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(ctx.caller, false)));
	ret = SPI_execute_with_args(sql.data, NARGS + 2, types, values, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "registering %s for risk scoring failed: %s", qname, SPI_result_code_string(ret));
	finsec_spi_end(&ctx);

	finsec_audit_event("risk.enable", qname, "enable_risk", true,
					   psprintf("payments table registered for risk scoring: customer \"%s\", amount \"%s\", time \"%s\"",
								cols[0], cols[1], cols[2]),
					   NULL);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(finsec_disable_risk);

Datum
finsec_disable_risk(PG_FUNCTION_ARGS)
{
	Oid			relid;
	FinsecOwnerContext ctx;
	char	   *qname;
	Oid			types[1] = {OIDOID};
	Datum		values[1];
	int			ret;

	finsec_require_switch_authority("finsec.disable_risk()");
	finsec_require_arg(fcinfo, 0, "payments table");
	relid = PG_GETARG_OID(0);
	table_close(finsec_apptable_open(relid, AccessShareLock, "finsec.disable_risk()", &registrable), NoLock);
	qname = finsec_quoted_relname(relid);
	values[0] = ObjectIdGetDatum(relid);
	finsec_spi_begin_as_owner(&ctx);
	ret = SPI_execute_with_args("DELETE FROM finsec.risk_table WHERE relid = $1::pg_catalog.regclass",
								1, types, values, NULL, false, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "unregistering %s failed: %s", qname, SPI_result_code_string(ret));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("table %s is not registered for risk scoring", qname)));
	finsec_spi_end(&ctx);
	finsec_audit_event("risk.disable", qname, "disable_risk", true,
					   "payments table no longer registered for risk scoring", NULL);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(finsec_risk_index_advice);

/*
 * finsec.risk_index_advice(payments regclass, ruleset_version bigint)
 *	 returns (entity, columns, present, create_index): the indexes the
 *	 active ruleset's history rules read on the table.
 */
Datum
finsec_risk_index_advice(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid;
	RiskTableMap *map;
	RiskRuleset *rs;
	bool		seen_time[RE_COUNT];
	bool		seen_pair[RE_COUNT][RA_COUNT];
	char	   *qname;
	int			nleaves;
	int			i;

	finsec_require_arg(fcinfo, 0, "payments table");
	relid = PG_GETARG_OID(0);
	finsec_check_relation_usage(relid);
	map = finsec_risk_table_map(relid, false);
	rs = finsec_risk_active_ruleset();
	if (!PG_ARGISNULL(1) && (rs == NULL || rs->version != PG_GETARG_INT64(1)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("index advice is given for the active ruleset only")));
	InitMaterializedSRF(fcinfo, 0);
	if (rs == NULL)
		return (Datum) 0;
	qname = finsec_quoted_relname(relid);
	nleaves = finsec_risk_table_leaves(relid);
	memset(seen_time, 0, sizeof(seen_time));
	memset(seen_pair, 0, sizeof(seen_pair));
	for (i = 0; i < rs->nrules; i++)
	{
		const RiskRule *r = &rs->rules[i];
		RiskAttr	cols[3];
		int			n = 0;
		bool		present = nleaves > 0;
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		Datum	   *elems;
		StringInfoData ci;
		int			j;
		int			of = -1;

		if (r->kind != RK_VELOCITY && r->kind != RK_STRUCTURING && r->kind != RK_TRAVEL &&
			r->kind != RK_FIRST_SEEN)
			continue;
		if (r->kind == RK_FIRST_SEEN)
		{
			of = r->measure_attr;
			if (seen_pair[r->entity][of])
				continue;
			seen_pair[r->entity][of] = true;
			cols[n++] = finsec_risk_entity_attr[r->entity];
			cols[n++] = of;
		}
		else
		{
			if (seen_time[r->entity])
				continue;
			seen_time[r->entity] = true;
			cols[n++] = r->entity == RE_PAIR ? RA_CUSTOMER : finsec_risk_entity_attr[r->entity];
			if (r->entity == RE_PAIR)
				cols[n++] = RA_COUNTERPARTY;
			cols[n++] = RA_AT;
		}
		for (j = 0; j < n; j++)
			if (map->column[cols[j]] == NULL)
				present = false;
		for (j = 0; j < nleaves && present; j++)
		{
			Oid			leaf;

			present = finsec_risk_leaf_has_index(relid, j, r->entity, of, &leaf);
		}
		elems = palloc(sizeof(Datum) * n);
		initStringInfo(&ci);
		appendStringInfo(&ci, "CREATE INDEX ON %s (", qname);
		for (j = 0; j < n; j++)
		{
			const char *c = map->column[cols[j]] ? map->column[cols[j]] : finsec_risk_attr_names[cols[j]];

			elems[j] = CStringGetTextDatum(c);
			appendStringInfo(&ci, "%s%s", j ? ", " : "", quote_identifier(c));
		}
		appendStringInfoChar(&ci, ')');
		values[0] = CStringGetTextDatum(finsec_risk_rule_entity_names[r->entity]);
		values[1] = PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
		values[2] = BoolGetDatum(present);
		values[3] = CStringGetTextDatum(ci.data);
		nulls[3] = present;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
