/*-------------------------------------------------------------------------
 *
 * protect.c
 *	  finsec.protect_table(): make an application table append-only and
 *	  hash-chained, like the audit ledger.
 *
 * The caller must own the table (as for ALTER TABLE) and may use its
 * schema.  The conversion runs as finsec's owner but executes nothing the
 * table's owner defined: no UPDATE of existing rows (which would fire the
 * owner's triggers, rules, constraints and index expressions), only DDL.
 * Existing rows get their stamps from the defaults of the added columns,
 * filled in by ALTER TABLE's own table rewrite, which evaluates only those
 * defaults; PostgreSQL rebuilds the table's indexes as the table's owner in
 * a security-restricted operation.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "finsec.h"
#include "finsec_apptable.h"
#include "finsec_audit.h"
#include "finsec_owner.h"
#include "ledger_internal.h"

static void
refuse(Relation rel, const char *why, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_WRONG_OBJECT_TYPE),
			 errmsg("cannot protect \"%s\": %s", RelationGetRelationName(rel), why),
			 hint ? errhint("%s", hint) : 0));
}

/* What finsec_apptable_open() checks for protect_table: an ordinary, permanent table the caller owns. */
static const FinsecAppTableCheck protect_check = {
	.flags = FINSEC_APPTABLE_OWNER | FINSEC_APPTABLE_PERMANENT,
	.partitioned_hint = "Partitioned tables cannot be protected; keep evidence in a plain table (docs/audit.md, \"Protected tables\").",
};

/*
 * Refuse a table that cannot be protected: partitioned or a partition, not a
 * permanent table, system or finsec's own, already protected, with rules or
 * a trigger that would fire after the stamp, a column name finsec adds, or
 * a column type without a binary send function.
 */
static void
check_protectable(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	/* kind, partitions, persistence and schema: finsec_apptable_open() */
	if (finsec_is_protected_relation(RelationGetRelid(rel)))
		refuse(rel, "it is already protected", NULL);
	if (has_superclass(RelationGetRelid(rel)) || has_subclass(RelationGetRelid(rel)))
		refuse(rel, "it takes part in table inheritance",
			   "A parent's statements reach its children, and a child's rows appear in its parent; detach it (ALTER TABLE ... NO INHERIT) first.");
	if (OidIsValid(rel->rd_rel->reloftype))
		refuse(rel, "it is a typed table",
			   "ALTER TYPE ... CASCADE would change its columns; detach it with ALTER TABLE ... NOT OF first.");
	if (finsec_is_before_insert_row_trigger(RelationGetRelid(rel), NULL))
		refuse(rel, "it has a BEFORE INSERT row trigger named to fire after finsec_ledger_stamp",
			   "Triggers fire in name order; rename the trigger to sort before \"finsec_ledger_stamp\".");
	if (rel->rd_rel->relhasrules)
		refuse(rel, "it has rules",
			   "A rule can divert or rewrite the writes of a protected table; drop the rules first.");

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		HeapTuple	tup;
		Oid			typsend;

		if (att->attisdropped)
			continue;
		if (strcmp(NameStr(att->attname), FINSEC_TXID_COLUMN) == 0 ||
			strcmp(NameStr(att->attname), FINSEC_SEQ_COLUMN) == 0)
			refuse(rel, psprintf("it already has a column named \"%s\"", NameStr(att->attname)),
				   "Rename that column; finsec adds finsec_txid and finsec_seq.");
		tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(att->atttypid));
		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for type %u", att->atttypid);
		typsend = ((Form_pg_type) GETSTRUCT(tup))->typsend;
		ReleaseSysCache(tup);
		if (!OidIsValid(typsend))
			refuse(rel, psprintf("column \"%s\" has type %s, which has no binary send function",
								 NameStr(att->attname), format_type_be(att->atttypid)),
				   "The canonical row encoding uses each type's binary format (docs/audit.md).");
	}
}

/* A chain left by a table that is gone must be closed before its OID is reused. */
static void
check_no_chain(Oid relid, const char *relname)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	int			ret;

	values[0] = ObjectIdGetDatum(relid);
	ret = SPI_execute_with_args("SELECT chain_id FROM finsec.ledger_chain WHERE relid = $1",
								1, argtypes, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read finsec.ledger_chain");
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CHAIN_TABLE_GONE),
				 errmsg("cannot protect \"%s\": chain %s of a table that no longer exists still has its OID",
						relname,
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
				 errhint("Close that chain with finsec.audit_close_chain() first; see docs/audit.md.")));
}

static void
exec(const char *sql)
{
	int			ret = SPI_execute(sql, false, 0);

	if (ret < 0)
		elog(ERROR, "protect_table step failed (%s): %s", SPI_result_code_string(ret), sql);
}

PG_FUNCTION_INFO_V1(finsec_protect_table);

/*
 * finsec.protect_table(relation regclass, algorithm text DEFAULT NULL)
 */
Datum
finsec_protect_table(PG_FUNCTION_ARGS)
{
	Oid			relid;
	const char *algorithm;
	Relation	rel;
	FinsecOwnerContext ctx;
	char	   *qname;
	char	   *relname;
	Oid			nsp;
	char	   *seqname;
	const char *idxname;
	Oid			owner;

	finsec_require_preload("finsec.protect_table()");
	finsec_require_arg(fcinfo, 0, "relation");
	relid = PG_GETARG_OID(0);
	if (PG_ARGISNULL(1))
		algorithm = finsec_hash_name((FinsecHashAlgorithm) finsec_hash_algorithm);
	else
	{
		algorithm = text_to_cstring(PG_GETARG_TEXT_PP(1));
		if (strcmp(algorithm, "sha256") == 0 && finsec_hash_available(FINSEC_HASH_SHA256))
			algorithm = "sha256";
		else if (strcmp(algorithm, "sm3") == 0 && finsec_hash_available(FINSEC_HASH_SM3))
			algorithm = "sm3";
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unsupported hash algorithm \"%s\"", algorithm),
					 errhint("Use sha256 or sm3.")));
	}

	/*
	 * Ownership first, so that no one locks or converts another's table; the
	 * lock keeps writers out of the conversion (a one-time step).
	 */
	rel = finsec_apptable_open(relid, AccessExclusiveLock, "finsec.protect_table()", &protect_check);
	check_protectable(rel);
	relname = pstrdup(RelationGetRelationName(rel));
	nsp = RelationGetNamespace(rel);
	owner = rel->rd_rel->relowner;
	table_close(rel, NoLock);

	qname = finsec_quoted_relname(relid);
	seqname = quote_qualified_identifier(get_namespace_name(nsp),
										 ChooseRelationName(relname, NULL, "finsec_seq", nsp, false));
	idxname = quote_identifier(ChooseRelationName(relname, NULL, "finsec_chain_idx", nsp, false));

	finsec_spi_begin_as_owner(&ctx);
	{
		check_no_chain(relid, relname);

		/* A sequence linked to a column must have the table's owner. */
		exec(psprintf("CREATE SEQUENCE %s AS pg_catalog.int8", seqname));
		exec(psprintf("ALTER SEQUENCE %s OWNER TO %s", seqname,
					  quote_identifier(GetUserNameFromId(owner, false))));

		/*
		 * Rows already present join the chain as written by this transaction,
		 * numbered in physical order: the volatile defaults make ALTER TABLE
		 * rewrite the table, evaluating just these two expressions per row.
		 * No trigger, rule or constraint of the table runs (an UPDATE would
		 * run them all, as finsec's owner).
		 */
		exec(psprintf("ALTER TABLE %s "
					  "ADD COLUMN " FINSEC_TXID_COLUMN " pg_catalog.xid8 "
					  " DEFAULT pg_catalog.pg_current_xact_id(), "
					  "ADD COLUMN " FINSEC_SEQ_COLUMN " pg_catalog.int8 "
					  " DEFAULT pg_catalog.nextval(%s::pg_catalog.regclass)",
					  qname, quote_literal_cstr(seqname)));
		exec(psprintf("ALTER SEQUENCE %s OWNED BY %s." FINSEC_SEQ_COLUMN, seqname, qname));
		exec(psprintf("ALTER TABLE %s ALTER " FINSEC_TXID_COLUMN " DROP DEFAULT, "
					  "ALTER " FINSEC_SEQ_COLUMN " DROP DEFAULT, "
					  "ALTER " FINSEC_TXID_COLUMN " SET NOT NULL, "
					  "ALTER " FINSEC_SEQ_COLUMN " SET NOT NULL", qname));
		exec(psprintf("CREATE INDEX %s ON %s (" FINSEC_TXID_COLUMN ", " FINSEC_SEQ_COLUMN ")",
					  idxname, qname));
		finsec_own_trigger_ddl_begin();
		exec(psprintf("CREATE TRIGGER " FINSEC_STAMP_TRIGGER " BEFORE INSERT ON %s "
					  "FOR EACH ROW EXECUTE FUNCTION finsec.ledger_stamp()", qname));
		exec(psprintf("CREATE TRIGGER " FINSEC_IMMUTABLE_TRIGGER " BEFORE UPDATE OR DELETE ON %s "
					  "FOR EACH ROW EXECUTE FUNCTION finsec.ledger_immutable()", qname));
		exec(psprintf("CREATE TRIGGER " FINSEC_TRUNCATE_TRIGGER " BEFORE TRUNCATE ON %s "
					  "FOR EACH STATEMENT EXECUTE FUNCTION finsec.ledger_immutable()", qname));
		finsec_own_trigger_ddl_end();
		exec(psprintf("ALTER TABLE %s ENABLE ALWAYS TRIGGER " FINSEC_STAMP_TRIGGER ", "
					  "ENABLE ALWAYS TRIGGER " FINSEC_IMMUTABLE_TRIGGER ", "
					  "ENABLE ALWAYS TRIGGER " FINSEC_TRUNCATE_TRIGGER, qname));

		finsec_create_chain_with(relid, ctx.caller, algorithm);
		(void) finsec_audit_event_internal(ctx.caller, "ledger.protect", NULL, qname,
										   "protect", true,
										   psprintf("table protected: append-only, hash-chained with %s",
													algorithm),
										   NULL);
	}
	finsec_spi_end(&ctx);
	PG_RETURN_VOID();
}
