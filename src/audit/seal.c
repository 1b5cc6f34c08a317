/*-------------------------------------------------------------------------
 *
 * seal.c
 *	  Sealing protected rows into hash-chained blocks, verifying the chain,
 *	  and purging expired periods behind a tombstone.
 *
 * Design (docs/audit.md has the reasoning): writers only stamp their rows
 * with (finsec_txid, finsec_seq).  The sealer takes the oldest transaction
 * id still running anywhere in the cluster (the xmin of a fresh snapshot):
 * every transaction below it has finished, so the set of committed rows
 * below it can never change again.  It hashes those rows, in
 * (finsec_txid, finsec_seq) order, into blocks:
 *
 *	 block k covers finsec_txid in [end(k-1), end(k)), end(0) = 0
 *	 row_hashes(k) = for each row: u64be seq || row_hash
 *	 block_hash(k) = H("finsec-block-v1" || block_hash(k-1) || u64be k ||
 *					   u64be start || u64be end || u64be rows || H(row_hashes(k)))
 *	 block_hash(0) = H("finsec-genesis-v1" || chain_id)
 *
 * A rolled-back writer's rows are invisible and are simply not sealed, so
 * it leaves no gap.  A row changed, deleted, added, reordered or cut from
 * the tail of a sealed range no longer matches its block; rewriting the
 * blocks too changes the head hash, which an auditor's stored digest
 * (finsec.audit_digest()) exposes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/resowner.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "utils/uuid.h"
#include "utils/xid8.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_owner.h"
#include "ledger_internal.h"

typedef struct Chain
{
	Oid			relid;
	char	   *relname;		/* quoted, schema-qualified */
	pg_uuid_t	chain_id;
	char		algorithm[16];
	int64		blocks;
	int64		sealed_rows;
	uint64		end_txid;
	unsigned char head[FINSEC_HASH_LEN];
	char	   *system_identifier;
	bool		gone;			/* the table no longer exists or lost its
								 * protection */
} Chain;

/* ---- small helpers ----------------------------------------------------- */


void
finsec_chain_genesis(const char *algorithm, const unsigned char *chain_id,
					 unsigned char *out)
{
	static const char prefix[] = "finsec-genesis-v1";
	unsigned char buf[sizeof(prefix) - 1 + UUID_LEN];

	memcpy(buf, prefix, sizeof(prefix) - 1);
	memcpy(buf + sizeof(prefix) - 1, chain_id, UUID_LEN);
	finsec_digest_bytes(algorithm, buf, sizeof(buf), out);
}

static void
put_u64(StringInfo s, uint64 v)
{
	uint64		be = pg_hton64(v);

	appendBinaryStringInfo(s, (char *) &be, sizeof(be));
}

static uint64
get_u64(const unsigned char *p)
{
	uint64		be;

	memcpy(&be, p, sizeof(be));
	return pg_ntoh64(be);
}

static void
block_hash(const char *algorithm, const unsigned char *prev, int64 block_no,
		   uint64 start, uint64 end, int64 rows, const unsigned char *rows_digest,
		   unsigned char *out)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfoString(&s, "finsec-block-v1");
	appendBinaryStringInfo(&s, (const char *) prev, FINSEC_HASH_LEN);
	put_u64(&s, (uint64) block_no);
	put_u64(&s, start);
	put_u64(&s, end);
	put_u64(&s, (uint64) rows);
	appendBinaryStringInfo(&s, (const char *) rows_digest, FINSEC_HASH_LEN);
	finsec_digest_bytes(algorithm, (unsigned char *) s.data, s.len, out);
	pfree(s.data);
}

static bool
get_hash(HeapTuple tup, TupleDesc desc, int col, unsigned char *out)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);
	bytea	   *b;

	if (isnull)
		return false;
	b = DatumGetByteaPP(d);
	if (VARSIZE_ANY_EXHDR(b) != FINSEC_HASH_LEN)
		return false;
	memcpy(out, VARDATA_ANY(b), FINSEC_HASH_LEN);
	return true;
}

static uint64
get_xid8(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? 0 : U64FromFullTransactionId(DatumGetFullTransactionId(d));
}

static int64
get_int8(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/* One of finsec's own ledger tables (ledger_chain, ledger_block). */
static Oid
finsec_ledger_table(const char *name)
{
	Oid			relid = get_relname_relid(name, get_namespace_oid("finsec", false));

	if (!OidIsValid(relid))
		elog(ERROR, "finsec.%s does not exist", name);
	return relid;
}

/*
 * Run one statement with a permit to change the rows of relid (event
 * TRIGGER_EVENT_UPDATE or _DELETE) whose relid column is chain_relid, or,
 * with range, whose finsec_txid lies in [range[0], range[1]).  The permit
 * holds for this statement only, also when it fails.
 */
static int
permitted_execute(const char *sql, int nargs, Oid *argtypes, Datum *values,
				  Oid relid, uint32 event, Oid chain_relid, const uint64 *range)
{
	FinsecLedgerPermit permit;
	const FinsecLedgerPermit *prev;
	int			ret;

	memset(&permit, 0, sizeof(permit));
	permit.relid = relid;
	permit.event = event;
	permit.chain_relid = chain_relid;
	if (range)
	{
		permit.bounded = true;
		permit.from_txid = range[0];
		permit.to_txid = range[1];
	}
	prev = finsec_ledger_permit_set(&permit);
	PG_TRY();
	{
		ret = SPI_execute_with_args(sql, nargs, argtypes, values, NULL, false, 0);
	}
	PG_FINALLY();
	{
		(void) finsec_ledger_permit_set(prev);
	}
	PG_END_TRY();
	return ret;
}

/* A relation's name for a message, also when it no longer exists. */
static char *
rel_display_name(Oid relid)
{
	char	   *name = get_rel_name(relid);

	return name ? name : psprintf("%u", relid);
}

static char *
chain_id_text(Chain *c)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&c->chain_id)));
}

static void
jsonb_put_text(JsonbParseState **state, const char *key, const char *value)
{
	JsonbValue	k,
				v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v.type = jbvString;
	v.val.string.val = (char *) value;
	v.val.string.len = strlen(value);
	pushJsonbValue(state, WJB_KEY, &k);
	pushJsonbValue(state, WJB_VALUE, &v);
}

/* ---- chains ------------------------------------------------------------ */

#define CHAIN_COLUMNS \
	"relid::pg_catalog.oid, chain_id, algorithm, blocks, sealed_rows, end_txid, head_hash, system_identifier"

static Chain *
chain_from_tuple(HeapTuple tup, TupleDesc desc)
{
	Chain	   *c = palloc0(sizeof(Chain));
	bool		isnull;
	char	   *alg;

	c->relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));

	/*
	 * A chain whose table is gone (dropped before finsec 0.8 refused it, or
	 * beyond SQL) must not stop the others: it is reported, not read.
	 */
	c->gone = get_rel_name(c->relid) == NULL || !finsec_is_protected_relation(c->relid);
	c->relname = c->gone ? psprintf("relation %u", c->relid) : finsec_quoted_relname(c->relid);
	memcpy(&c->chain_id, DatumGetUUIDP(SPI_getbinval(tup, desc, 2, &isnull)), UUID_LEN);
	alg = SPI_getvalue(tup, desc, 3);
	strlcpy(c->algorithm, alg, sizeof(c->algorithm));
	c->blocks = get_int8(tup, desc, 4);
	c->sealed_rows = get_int8(tup, desc, 5);
	c->end_txid = get_xid8(tup, desc, 6);
	if (!get_hash(tup, desc, 7, c->head))
		memset(c->head, 0, FINSEC_HASH_LEN);
	c->system_identifier = SPI_getvalue(tup, desc, 8);
	return c;
}

/* Load one chain (relid valid) or all; optionally lock them for sealing. */
static List *
load_chains(Oid relid, bool for_update, bool read_only)
{
	List	   *result = NIL;
	char	   *sql;
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	uint64		i;

	sql = psprintf("SELECT " CHAIN_COLUMNS " FROM finsec.ledger_chain %s "
				   "ORDER BY relid::pg_catalog.regclass::pg_catalog.text %s",
				   OidIsValid(relid) ? "WHERE relid = $1" : "",
				   for_update ? "FOR UPDATE" : "");
	values[0] = ObjectIdGetDatum(relid);
	finsec_spi_execute(sql, OidIsValid(relid) ? 1 : 0, argtypes, values,
					   NULL, read_only, 0,
					   SPI_OK_SELECT, "could not read finsec.ledger_chain");
	for (i = 0; i < SPI_processed; i++)
		result = lappend(result, chain_from_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc));
	return result;
}

/*
 * Register relid as a chain, if it is not one yet.  Caller runs as owner
 * with internal writes allowed.
 */
static void
finsec_create_chain(Oid relid, Oid actor)
{
	finsec_create_chain_with(relid, actor,
							 finsec_hash_name((FinsecHashAlgorithm) finsec_hash_algorithm));
}

void
finsec_create_chain_with(Oid relid, Oid actor, const char *alg)
{
	pg_uuid_t	id;
	unsigned char genesis[FINSEC_HASH_LEN];
	Oid			argtypes[6] = {OIDOID, UUIDOID, TEXTOID, TEXTOID, BYTEAOID, NAMEOID};
	Datum		values[6];
	char		sysid[32];

	if (!pg_strong_random(id.data, UUID_LEN))
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
						errmsg("could not generate a random chain identifier")));
	id.data[6] = (id.data[6] & 0x0f) | 0x40;	/* UUID version 4 */
	id.data[8] = (id.data[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	finsec_chain_genesis(alg, id.data, genesis);
	snprintf(sysid, sizeof(sysid), UINT64_FORMAT, GetSystemIdentifier());

	values[0] = ObjectIdGetDatum(relid);
	values[1] = UUIDPGetDatum(&id);
	values[2] = CStringGetTextDatum(alg);
	values[3] = CStringGetTextDatum(sysid);
	values[4] = PointerGetDatum(finsec_bytea(genesis, FINSEC_HASH_LEN));
	values[5] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(actor, false)));

	finsec_spi_execute(
					   "INSERT INTO finsec.ledger_chain "
					   "(relid, chain_id, algorithm, encoding_version, system_identifier, "
					   " end_txid, blocks, sealed_rows, head_hash, protected_at, protected_by) "
					   "VALUES ($1, $2, $3, " CppAsString2(FINSEC_ROW_ENCODING_VERSION) ", $4, "
					   " '0'::pg_catalog.xid8, 0, 0, $5, pg_catalog.now(), $6) "
					   "ON CONFLICT (relid) DO NOTHING",
					   6, argtypes, values, NULL, false, 0,
					   SPI_OK_INSERT, "could not register chain");
}

/* ---- walking the rows of a range --------------------------------------- */

typedef void (*RowCallback) (void *arg, uint64 txid, int64 seq, const unsigned char *hash);

/*
 * Call cb for every row of c with from <= finsec_txid < to (to = 0: no upper
 * bound), in (finsec_txid, finsec_seq) order, with its row hash.  Returns
 * the number of rows.
 */
static int64
walk_rows(Chain *c, uint64 from, uint64 to, bool read_only, RowCallback cb, void *arg)
{
	Oid			argtypes[2] = {XID8OID, XID8OID};
	Datum		args[2];
	char	   *sql;
	Portal		portal;
	FinsecRowHasher *hasher = NULL;
	int			txidcol = 0,
				seqcol = 0;
	Datum	   *values = NULL;
	bool	   *nulls = NULL;
	int64		n = 0;

	/* ONLY: an inheritance child's rows are not the protected table's. */
	sql = psprintf("SELECT * FROM ONLY %s WHERE " FINSEC_TXID_COLUMN " OPERATOR(pg_catalog.>=) $1 %s "
				   "ORDER BY " FINSEC_TXID_COLUMN ", " FINSEC_SEQ_COLUMN,
				   c->relname,
				   to ? "AND " FINSEC_TXID_COLUMN " OPERATOR(pg_catalog.<) $2" : "");
	args[0] = FullTransactionIdGetDatum(FullTransactionIdFromU64(from));
	args[1] = FullTransactionIdGetDatum(FullTransactionIdFromU64(to));
	portal = SPI_cursor_open_with_args(NULL, sql, to ? 2 : 1, argtypes, args, NULL,
									   read_only, CURSOR_OPT_NO_SCROLL);
	for (;;)
	{
		SPITupleTable *batch;
		uint64		nbatch;
		uint64		i;

		SPI_cursor_fetch(portal, true, 1000);

		/*
		 * The callback may run SPI statements (the sealer writes a block),
		 * which replace SPI_tuptable and SPI_processed: keep this batch's.
		 */
		batch = SPI_tuptable;
		nbatch = SPI_processed;
		if (nbatch == 0)
			break;
		if (hasher == NULL)
		{
			TupleDesc	desc = batch->tupdesc;

			hasher = finsec_row_hasher_create(desc, c->algorithm);
			txidcol = SPI_fnumber(desc, FINSEC_TXID_COLUMN);
			seqcol = SPI_fnumber(desc, FINSEC_SEQ_COLUMN);
			if (txidcol <= 0 || seqcol <= 0)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("protected table %s has lost its %s or %s column",
								c->relname, FINSEC_TXID_COLUMN, FINSEC_SEQ_COLUMN)));
			values = palloc(sizeof(Datum) * desc->natts);
			nulls = palloc(sizeof(bool) * desc->natts);
		}
		for (i = 0; i < nbatch; i++)
		{
			unsigned char h[FINSEC_HASH_LEN];
			uint64		txid;
			int64		seq;

			heap_deform_tuple(batch->vals[i], batch->tupdesc, values, nulls);
			txid = nulls[txidcol - 1] ? 0 :
				U64FromFullTransactionId(DatumGetFullTransactionId(values[txidcol - 1]));
			seq = nulls[seqcol - 1] ? 0 : DatumGetInt64(values[seqcol - 1]);
			finsec_row_hash(hasher, values, nulls, h);
			cb(arg, txid, seq, h);
			n++;
		}
		SPI_freetuptable(batch);
	}
	SPI_cursor_close(portal);
	if (hasher)
		finsec_row_hasher_destroy(hasher);
	return n;
}

/* ---- sealing ----------------------------------------------------------- */

typedef struct SealState
{
	Chain	   *c;
	StringInfoData list;
	int64		count;
	uint64		start;
	uint64		cur_txid;
	int			blocks_made;
	int64		rows_sealed;
} SealState;

static void
close_block(SealState *st, uint64 end)
{
	Chain	   *c = st->c;
	unsigned char digest[FINSEC_HASH_LEN];
	unsigned char hash[FINSEC_HASH_LEN];
	Oid			argtypes[9] = {OIDOID, INT8OID, XID8OID, XID8OID, INT8OID,
	BYTEAOID, BYTEAOID, BYTEAOID, BYTEAOID};
	Datum		values[9];
	int64		block_no = c->blocks + 1;

	finsec_digest_bytes(c->algorithm, (unsigned char *) st->list.data, st->list.len, digest);
	block_hash(c->algorithm, c->head, block_no, st->start, end, st->count, digest, hash);

	values[0] = ObjectIdGetDatum(c->relid);
	values[1] = Int64GetDatum(block_no);
	values[2] = FullTransactionIdGetDatum(FullTransactionIdFromU64(st->start));
	values[3] = FullTransactionIdGetDatum(FullTransactionIdFromU64(end));
	values[4] = Int64GetDatum(st->count);
	values[5] = PointerGetDatum(finsec_bytea(st->list.data, st->list.len));
	values[6] = PointerGetDatum(finsec_bytea(digest, FINSEC_HASH_LEN));
	values[7] = PointerGetDatum(finsec_bytea(c->head, FINSEC_HASH_LEN));
	values[8] = PointerGetDatum(finsec_bytea(hash, FINSEC_HASH_LEN));
	finsec_spi_execute(
					   "INSERT INTO finsec.ledger_block (relid, block_no, start_txid, end_txid, "
					   " row_count, row_hashes, rows_digest, prev_hash, block_hash, sealed_at) "
					   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, pg_catalog.clock_timestamp())",
					   9, argtypes, values, NULL, false, 0,
					   SPI_OK_INSERT, "could not write ledger block");

	c->blocks = block_no;
	c->sealed_rows += st->count;
	c->end_txid = end;
	memcpy(c->head, hash, FINSEC_HASH_LEN);
	st->blocks_made++;
	st->rows_sealed += st->count;
	st->start = end;
	st->count = 0;
	resetStringInfo(&st->list);
}

static void
seal_row(void *arg, uint64 txid, int64 seq, const unsigned char *hash)
{
	SealState  *st = (SealState *) arg;

	/* Blocks close between transactions, once large enough. */
	if (st->count >= FINSEC_BLOCK_TARGET_ROWS && txid != st->cur_txid)
		close_block(st, txid);
	put_u64(&st->list, (uint64) seq);
	appendBinaryStringInfo(&st->list, (const char *) hash, FINSEC_HASH_LEN);
	st->count++;
	st->cur_txid = txid;
}

static uint64
finished_horizon(void)
{
	int			ret = SPI_execute("SELECT pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())",
								  false, 1);

	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the snapshot horizon");
	return get_xid8(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/* Seal the rows of chain c finished since its last block into a new block, and advance the chain head. */
static void
seal_chain(Chain *c, SealState *st)
{
	char		sysid[32];
	uint64		horizon;
	Oid			argtypes[5] = {OIDOID, INT8OID, INT8OID, XID8OID, BYTEAOID};
	Datum		values[5];
	int			ret;

	snprintf(sysid, sizeof(sysid), UINT64_FORMAT, GetSystemIdentifier());
	if (strcmp(sysid, c->system_identifier) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_LEDGER_FOREIGN),
				 errmsg("the chain of %s was sealed on another cluster", c->relname),
				 errdetail("Its blocks are ordered by the transaction ids of the cluster with system identifier %s; this cluster is %s.",
						   c->system_identifier, sysid),
				 errhint("A logically restored ledger can be verified here but not extended; see \"Dump and restore\" in docs/audit.md.")));

	memset(st, 0, sizeof(*st));
	st->c = c;
	st->start = c->end_txid;
	initStringInfo(&st->list);

	horizon = finished_horizon();
	if (horizon <= c->end_txid)
		return;
	walk_rows(c, c->end_txid, horizon, false, seal_row, st);
	if (st->count == 0)
		return;					/* nothing finished since the last block */
	close_block(st, horizon);

	values[0] = ObjectIdGetDatum(c->relid);
	values[1] = Int64GetDatum(c->blocks);
	values[2] = Int64GetDatum(c->sealed_rows);
	values[3] = FullTransactionIdGetDatum(FullTransactionIdFromU64(c->end_txid));
	values[4] = PointerGetDatum(finsec_bytea(c->head, FINSEC_HASH_LEN));
	ret = permitted_execute(
							"UPDATE finsec.ledger_chain SET blocks = $2, sealed_rows = $3, end_txid = $4, "
							" head_hash = $5, sealed_at = pg_catalog.clock_timestamp() WHERE relid = $1",
							5, argtypes, values, finsec_ledger_table("ledger_chain"), TRIGGER_EVENT_UPDATE,
							c->relid, NULL);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "could not update chain head: %s", SPI_result_code_string(ret));
}

PG_FUNCTION_INFO_V1(finsec_audit_seal);

/*
 * finsec.audit_seal(rel regclass DEFAULT NULL)
 *	 RETURNS TABLE (relation regclass, blocks_sealed int, rows_sealed bigint)
 */
Datum
finsec_audit_seal(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid = PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0);
	FinsecOwnerContext ctx;
	List	   *chains;
	ListCell   *lc;

	finsec_require_preload("finsec.audit_seal()");
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot seal the ledger during recovery"),
				 errhint("Sealing happens on the primary; a standby receives the blocks through replication and can run finsec.audit_verify().")));
	InitMaterializedSRF(fcinfo, 0);

	finsec_spi_begin_as_owner(&ctx);
	/* The ledger's own chain is created by its first seal. */
	if (!OidIsValid(relid) || relid == finsec_audit_relid())
		finsec_create_chain(finsec_audit_relid(), ctx.caller);
	chains = load_chains(relid, true, false);
	if (OidIsValid(relid) && chains == NIL)
		finsec_check_relation_exists(relid);
	if (OidIsValid(relid) && chains == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("relation \"%s\" is not protected by finsec", rel_display_name(relid)),
				 errhint("Protect it with finsec.protect_table().")));
	foreach(lc, chains)
	{
		Chain	   *c = lfirst(lc);
		SealState	st;
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		memset(&st, 0, sizeof(st));
		if (c->gone)
		{
			/* Reported by audit_verify(); the other chains are sealed. */
			if (OidIsValid(relid))
				ereport(WARNING,
						(errcode(ERRCODE_FINSEC_CHAIN_TABLE_GONE),
						 errmsg("the protected table of chain %s (%s) no longer exists; nothing sealed",
								chain_id_text(c), c->relname),
						 errhint("Investigate, then close the chain with finsec.audit_close_chain(); see docs/audit.md.")));
		}
		else
			seal_chain(c, &st);
		values[0] = ObjectIdGetDatum(c->relid);
		values[1] = Int32GetDatum(st.blocks_made);
		values[2] = Int64GetDatum(st.rows_sealed);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	finsec_spi_end(&ctx);
	return (Datum) 0;
}

/* ---- verification ------------------------------------------------------ */

typedef struct VerifyState
{
	int64		block_no;
	const unsigned char *list;	/* sealed (seq, hash) pairs of the block */
	int64		list_count;
	int64		idx;
	bool		purged;
	int64		rows_checked;
	char	   *failure;
} VerifyState;

static void
			verify_fail(VerifyState *st, const char *fmt,...) pg_attribute_printf(2, 3);

static void
verify_fail(VerifyState *st, const char *fmt,...)
{
	va_list		ap;

	if (st->failure)
		return;
	va_start(ap, fmt);
	st->failure = finsec_vformat(fmt, ap);
	va_end(ap);
}

static bool
sealed_contains(VerifyState *st, int64 seq)
{
	int64		j;

	for (j = 0; j < st->list_count; j++)
		if ((int64) get_u64(st->list + j * FINSEC_SEALED_ROW_LEN) == seq)
			return true;
	return false;
}

static void
verify_row(void *arg, uint64 txid, int64 seq, const unsigned char *hash)
{
	VerifyState *st = (VerifyState *) arg;
	const unsigned char *entry;
	int64		sealed_seq;

	if (st->failure)
		return;
	st->rows_checked++;
	if (st->purged)
	{
		verify_fail(st, "block %lld, row seq %lld: row present in a purged period (inserted after the purge)",
					(long long) st->block_no, (long long) seq);
		return;
	}
	if (st->idx >= st->list_count)
	{
		verify_fail(st, "block %lld, row seq %lld: row was not sealed in this block (inserted after sealing)",
					(long long) st->block_no, (long long) seq);
		return;
	}
	entry = st->list + st->idx * FINSEC_SEALED_ROW_LEN;
	sealed_seq = (int64) get_u64(entry);
	if (sealed_seq == seq)
	{
		if (memcmp(entry + 8, hash, FINSEC_HASH_LEN) != 0)
			verify_fail(st, "block %lld, row seq %lld: row content differs from its sealed hash (modified or reordered)",
						(long long) st->block_no, (long long) seq);
		st->idx++;
	}
	else if (sealed_contains(st, seq))
		verify_fail(st, "block %lld, row seq %lld: sealed row is missing at its position (deleted or reordered)",
					(long long) st->block_no, (long long) sealed_seq);
	else
		verify_fail(st, "block %lld, row seq %lld: row was not sealed in this block (inserted after sealing)",
					(long long) st->block_no, (long long) seq);
}

typedef struct VerifyResult
{
	bool		ok;
	int64		rows_checked;
	int64		blocks_checked;
	int64		rows_pending;
	char	   *failure;
} VerifyResult;

static int64
count_pending(Chain *c, uint64 from)
{
	Oid			argtypes[1] = {XID8OID};
	Datum		values[1];
	char	   *sql;

	sql = psprintf("SELECT pg_catalog.count(*) FROM ONLY %s WHERE " FINSEC_TXID_COLUMN
				   " OPERATOR(pg_catalog.>=) $1", c->relname);
	values[0] = FullTransactionIdGetDatum(FullTransactionIdFromU64(from));
	finsec_spi_execute(sql, 1, argtypes, values, NULL, true, 1,
					   SPI_OK_SELECT, "could not count unsealed rows");
	return get_int8(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/*
 * Verify chain c.  With a checkpoint (block number and hash from an
 * earlier digest), first prove that block still has that hash, then
 * verify only the blocks after it.
 */
static void
verify_chain(Chain *c, bool has_checkpoint, int64 cp_block, const unsigned char *cp_hash,
			 VerifyResult *res)
{
	VerifyState st;
	unsigned char head[FINSEC_HASH_LEN];
	uint64		prev_end = 0;
	int64		expect = 1;
	Oid			argtypes[2] = {OIDOID, INT8OID};
	Datum		args[2];
	Portal		portal;
	bool		done = false;

	memset(&st, 0, sizeof(st));
	memset(res, 0, sizeof(*res));
	if (c->gone)
	{
		res->ok = false;
		res->failure = psprintf("the protected table of chain %s (%s) no longer exists: "
								"it was dropped, or lost its protection, outside finsec; "
								"%lld sealed rows in %lld blocks cannot be checked",
								chain_id_text(c), c->relname,
								(long long) c->sealed_rows, (long long) c->blocks);
		return;
	}
	finsec_chain_genesis(c->algorithm, c->chain_id.data, head);

	if (has_checkpoint && cp_block > 0)
	{

		args[0] = ObjectIdGetDatum(c->relid);
		args[1] = Int64GetDatum(cp_block);
		finsec_spi_execute("SELECT block_hash, end_txid FROM finsec.ledger_block "
						   "WHERE relid = $1 AND block_no = $2",
						   2, argtypes, args, NULL, true, 1,
						   SPI_OK_SELECT, "could not read ledger block");
		if (SPI_processed == 0)
			verify_fail(&st, "block %lld, named by the digest, is missing (chain truncated)",
						(long long) cp_block);
		else if (!get_hash(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, head) ||
				 memcmp(head, cp_hash, FINSEC_HASH_LEN) != 0)
			verify_fail(&st, "block %lld: hash differs from the digest (chain rewritten up to this block)",
						(long long) cp_block);
		else
			prev_end = get_xid8(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		expect = cp_block + 1;
		if (st.failure)
			done = true;
	}

	args[0] = ObjectIdGetDatum(c->relid);
	args[1] = Int64GetDatum(expect);
	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT block_no, start_txid, end_txid, row_count, row_hashes, "
									   " rows_digest, prev_hash, block_hash, purged_at IS NOT NULL "
									   "FROM finsec.ledger_block WHERE relid = $1 AND block_no >= $2 "
									   "ORDER BY block_no",
									   2, argtypes, args, NULL, true, CURSOR_OPT_NO_SCROLL);
	while (!done)
	{
		HeapTuple	tup;
		TupleDesc	desc;
		int64		block_no,
					rows;
		uint64		start,
					end;
		unsigned char rows_digest[FINSEC_HASH_LEN],
					prev[FINSEC_HASH_LEN],
					stored[FINSEC_HASH_LEN],
					computed[FINSEC_HASH_LEN];
		bool		isnull;
		Datum		d;
		bytea	   *list = NULL;
		bool		purged;

		SPI_cursor_fetch(portal, true, 1);
		if (SPI_processed == 0)
			break;
		tup = SPI_copytuple(SPI_tuptable->vals[0]);
		desc = SPI_tuptable->tupdesc;
		block_no = get_int8(tup, desc, 1);
		start = get_xid8(tup, desc, 2);
		end = get_xid8(tup, desc, 3);
		rows = get_int8(tup, desc, 4);
		d = SPI_getbinval(tup, desc, 5, &isnull);
		if (!isnull)
			list = DatumGetByteaPP(d);
		purged = DatumGetBool(SPI_getbinval(tup, desc, 9, &isnull));
		st.block_no = block_no;

		if (block_no != expect)
			verify_fail(&st, "block %lld is missing (blocks %lld to %lld deleted)",
						(long long) expect, (long long) expect, (long long) block_no - 1);
		else if (start != prev_end)
			verify_fail(&st, "block %lld: starts at transaction " UINT64_FORMAT ", block %lld ended at " UINT64_FORMAT,
						(long long) block_no, start, (long long) block_no - 1, prev_end);
		else if (!get_hash(tup, desc, 7, prev) || memcmp(prev, head, FINSEC_HASH_LEN) != 0)
			verify_fail(&st, "block %lld: does not link to block %lld (chain broken)",
						(long long) block_no, (long long) block_no - 1);
		else if (!get_hash(tup, desc, 6, rows_digest) || !get_hash(tup, desc, 8, stored))
			verify_fail(&st, "block %lld: block record damaged", (long long) block_no);
		else if (!purged && (list == NULL ||
							 VARSIZE_ANY_EXHDR(list) != rows * FINSEC_SEALED_ROW_LEN))
			verify_fail(&st, "block %lld: sealed row list damaged", (long long) block_no);
		else
		{
			unsigned char ld[FINSEC_HASH_LEN];

			if (!purged)
			{
				finsec_digest_bytes(c->algorithm, (unsigned char *) VARDATA_ANY(list),
									VARSIZE_ANY_EXHDR(list), ld);
				if (memcmp(ld, rows_digest, FINSEC_HASH_LEN) != 0)
					verify_fail(&st, "block %lld: sealed row list altered", (long long) block_no);
			}
			block_hash(c->algorithm, head, block_no, start, end, rows, rows_digest, computed);
			if (memcmp(computed, stored, FINSEC_HASH_LEN) != 0)
				verify_fail(&st, "block %lld: block hash mismatch (block record altered)",
							(long long) block_no);
		}

		if (!st.failure)
		{
			st.list = purged ? NULL : (const unsigned char *) VARDATA_ANY(list);
			st.list_count = purged ? 0 : rows;
			st.idx = 0;
			st.purged = purged;
			walk_rows(c, start, end, true, verify_row, &st);
			if (!st.failure && !purged && st.idx < st.list_count)
				verify_fail(&st, "block %lld, row seq %lld: sealed row is missing (deleted)",
							(long long) block_no,
							(long long) get_u64(st.list + st.idx * FINSEC_SEALED_ROW_LEN));
		}
		res->blocks_checked++;
		if (list != NULL && (Pointer) list != DatumGetPointer(d))
			pfree(list);		/* detoasted copy: do not hold every block's */
		memcpy(head, stored, FINSEC_HASH_LEN);
		prev_end = end;
		expect = block_no + 1;
		if (st.failure)
			done = true;
		heap_freetuple(tup);
	}
	SPI_cursor_close(portal);

	/* The chain's head record must agree with its last block. */
	if (!st.failure && (c->blocks != expect - 1 ||
						memcmp(c->head, head, FINSEC_HASH_LEN) != 0 ||
						c->end_txid != prev_end))
		verify_fail(&st, "chain head names block %lld, but the last block is %lld (blocks deleted or head altered)",
					(long long) c->blocks, (long long) expect - 1);

	res->rows_checked = st.rows_checked;
	res->rows_pending = st.failure ? 0 : count_pending(c, prev_end);
	res->ok = st.failure == NULL;
	res->failure = st.failure;
}

PG_FUNCTION_INFO_V1(finsec_ledger_verify);

/*
 * finsec.ledger_verify(rel regclass, checkpoint_block bigint, checkpoint_hash bytea)
 *	 RETURNS TABLE (relation regclass, ok boolean, rows_checked bigint,
 *					blocks_checked bigint, rows_pending bigint, first_failure text)
 *
 * The worker behind finsec.audit_verify(): read-only, under the caller's
 * snapshot, so a verification sees one consistent state.
 */
Datum
finsec_ledger_verify(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid = PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0);
	bool		has_cp = !PG_ARGISNULL(1) && !PG_ARGISNULL(2);
	int64		cp_block = has_cp ? PG_GETARG_INT64(1) : 0;
	unsigned char cp_hash[FINSEC_HASH_LEN];
	FinsecOwnerContext ctx;
	List	   *chains;

	InitMaterializedSRF(fcinfo, 0);
	if (has_cp)
	{
		bytea	   *b = PG_GETARG_BYTEA_PP(2);

		if (VARSIZE_ANY_EXHDR(b) != FINSEC_HASH_LEN || cp_block < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid checkpoint in digest"),
					 errdetail("A checkpoint is a block number and a %d-byte hash.", FINSEC_HASH_LEN)));
		memcpy(cp_hash, VARDATA_ANY(b), FINSEC_HASH_LEN);
	}

	finsec_spi_begin_as_owner(&ctx);
	chains = load_chains(relid, false, true);
	if (chains != NIL)
	{
		Chain	   *c = linitial(chains);
		VerifyResult res;
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};

		verify_chain(c, has_cp, cp_block, cp_hash, &res);
		values[0] = ObjectIdGetDatum(c->relid);
		values[1] = BoolGetDatum(res.ok);
		values[2] = Int64GetDatum(res.rows_checked);
		values[3] = Int64GetDatum(res.blocks_checked);
		values[4] = Int64GetDatum(res.rows_pending);
		if (res.failure)
			values[5] = CStringGetTextDatum(res.failure);
		else
			nulls[5] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	finsec_spi_end(&ctx);
	return (Datum) 0;
}

/*
 * Record a verification (durable ledger row).  The verification itself is
 * complete whatever happens here: when the row cannot be written (the
 * ledger is full, the session's share of the event buffer is used) the
 * caller still gets the result, with a WARNING that it is not on record.
 */
void
finsec_audit_record_verification(const char *event_type, const char *object, bool ok,
								 const char *description, const char *detail_json)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		finsec_audit_event_durable(event_type, object, "verify", ok, description,
								   DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																	  CStringGetDatum(detail_json))));
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("this verification was not recorded in the audit ledger: %s", edata->message),
				 errdetail("The verification's result is complete, but no %s row records it; the compliance self-check counts recorded verifications only.",
						   event_type),
				 edata->hint ? errhint("%s", edata->hint) : 0));
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

PG_FUNCTION_INFO_V1(finsec_audit_verify_recorded);

/*
 * finsec.audit_verify(rel regclass, since jsonb) RETURNS SETOF (relation,
 *		ok, rows_checked, blocks_checked, rows_pending, first_failure)
 *
 * Runs finsec._audit_verify_rows() (the verification, read-only, as the
 * caller) and records the verification as audit.verify, object "ledger",
 * success whether every chain verified, detail the counts and the first
 * failing relations; durable, so the record survives the caller's rollback
 * (a verification's effect, what the verifier learnt, escapes the
 * transaction).  A standby or a read-only transaction cannot write, and
 * without preloading nothing survives a rollback: there the verification
 * is not recorded.
 */
Datum
finsec_audit_verify_recorded(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			argtypes[2] = {REGCLASSOID, JSONBOID};
	Datum		args[2];
	char		argnulls[2];
	int			ret;
	int64		chains = 0,
				rows = 0,
				blocks = 0,
				pending = 0,
				problems = 0;
	StringInfoData failed;

	InitMaterializedSRF(fcinfo, 0);
	args[0] = PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0);
	argnulls[0] = PG_ARGISNULL(0) ? 'n' : ' ';
	args[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	argnulls[1] = PG_ARGISNULL(1) ? 'n' : ' ';
	initStringInfo(&failed);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute_with_args("SELECT relation, ok, rows_checked, blocks_checked, rows_pending, "
								"       first_failure, relation::text "
								"  FROM finsec._audit_verify_rows($1, $2)",
								2, argtypes, args, argnulls, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not verify the ledger: %s", SPI_result_code_string(ret));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		values[6];
		bool		nulls[6];

		for (int c = 0; c < 6; c++)
			values[c] = SPI_getbinval(tup, desc, c + 1, &nulls[c]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		chains++;
		if (!nulls[2])
			rows += DatumGetInt64(values[2]);
		if (!nulls[3])
			blocks += DatumGetInt64(values[3]);
		if (!nulls[4])
			pending += DatumGetInt64(values[4]);
		if (nulls[1] || !DatumGetBool(values[1]))
		{
			char	   *name = SPI_getvalue(tup, desc, 7);

			if (problems < 10)
			{
				if (problems > 0)
					appendStringInfoString(&failed, ", ");
				if (name)
					escape_json(&failed, name);
				else
					appendStringInfoString(&failed, "null");
			}
			problems++;
		}
	}
	SPI_finish();

	if (finsec_preloaded && !RecoveryInProgress() && !XactReadOnly)
	{
		StringInfoData d;

		initStringInfo(&d);
		appendStringInfo(&d, "{\"chains\": " INT64_FORMAT ", \"rows\": " INT64_FORMAT
						 ", \"blocks\": " INT64_FORMAT ", \"pending\": " INT64_FORMAT
						 ", \"problems\": " INT64_FORMAT ", \"failed_relations\": [%s]"
						 ", \"relation\": ",
						 chains, rows, blocks, pending, problems, failed.data);
		if (PG_ARGISNULL(0))
			appendStringInfoString(&d, "null");
		else
			escape_json(&d, DatumGetCString(DirectFunctionCall1(regclassout, args[0])));
		appendStringInfo(&d, ", \"since_digest\": %s}", PG_ARGISNULL(1) ? "false" : "true");
		finsec_audit_record_verification("audit.verify", "ledger", problems == 0,
										 problems == 0
										 ? psprintf("every chain verified: " INT64_FORMAT " chains, " INT64_FORMAT " rows",
													chains, rows)
										 : psprintf(INT64_FORMAT " of " INT64_FORMAT " chains failed verification",
													problems, chains),
										 d.data);
	}
	return (Datum) 0;
}

/* ---- purge ------------------------------------------------------------- */

/*
 * Delete the rows of c in [from, to) with sql, as the table's owner in a
 * security-restricted operation: the DELETE fires whatever the owner put on
 * the table (row and statement triggers, foreign keys, policies), and that
 * code must not run as finsec's owner.  The permit covers this relation,
 * DELETE, and rows of the purged range only.
 */
static int64
purge_rows(Chain *c, const char *sql, Oid *argtypes, Datum *args, uint64 from, uint64 to)
{
	Oid			save_userid;
	int			save_sec;
	int			nestlevel;
	Oid			owner;
	uint64		range[2];
	int			ret;
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(c->relid));

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", c->relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);

	range[0] = from;
	range[1] = to;
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	nestlevel = NewGUCNestLevel();
	/* the owner's own policies may apply, as the owner */
	(void) set_config_option("row_security", "on", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	PG_TRY();
	{
		ret = permitted_execute(sql, 2, argtypes, args, c->relid, TRIGGER_EVENT_DELETE,
								InvalidOid, range);
	}
	PG_FINALLY();
	{
		AtEOXact_GUC(false, nestlevel);
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "could not purge rows: %s", SPI_result_code_string(ret));
	return (int64) SPI_processed;
}

PG_FUNCTION_INFO_V1(finsec_audit_purge);

/* The unpurged blocks a purge removes: block numbers and transaction ids. */
typedef struct PurgeRange
{
	int64		first;			/* 0: nothing to purge */
	int64		last;
	uint64		from;
	uint64		to;
} PurgeRange;

/* The purge boundary as a timestamp; a date within finsec.audit_retention is refused. */
static TimestampTz
purge_boundary(DateADT before)
{
	TimestampTz before_ts,
				floor_ts;

	if (DATE_NOT_FINITE(before))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("purge boundary must be a finite date")));
	before_ts = date2timestamptz_opt_overflow(before, NULL);
	floor_ts = GetCurrentTransactionStartTimestamp() -
		(TimestampTz) finsec_audit_retention_minutes * USECS_PER_MINUTE;
	if (before_ts > floor_ts)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_RETENTION),
				 errmsg("cannot purge audit rows younger than finsec.audit_retention"),
				 errdetail("The boundary %s is within the retention period of %d days.",
						   DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(before))),
						   finsec_audit_retention_minutes / (24 * 60)),
				 errhint("Choose a boundary at least finsec.audit_retention before today.")));
	return before_ts;
}

/* The chain of a protected table that still exists; refused otherwise. */
static Chain *
purge_chain(Oid relid)
{
	List	   *chains = load_chains(relid, true, false);
	Chain	   *c;

	if (chains == NIL)
		finsec_check_relation_exists(relid);
	if (chains == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("relation \"%s\" is not protected by finsec", rel_display_name(relid))));
	c = linitial(chains);
	if (c->gone)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_CHAIN_TABLE_GONE),
				 errmsg("the protected table of chain %s (%s) no longer exists",
						chain_id_text(c), c->relname),
				 errhint("Close the chain with finsec.audit_close_chain(); see docs/audit.md.")));
	return c;
}

/*
 * Whole sealed blocks only, oldest first, never a partial period: the
 * unpurged blocks up to the last one sealed before the boundary.  They
 * are contiguous in block number and so in transaction ids; should the
 * clock ever have stepped back, a block among them sealed after the
 * boundary makes the purge refuse rather than remove too much.
 */
static void
purge_range(Chain *c, Oid relid, TimestampTz before_ts, PurgeRange *range)
{
	Oid			argtypes[2] = {OIDOID, TIMESTAMPTZOID};
	Datum		args[2];
	bool		isnull;

	args[0] = ObjectIdGetDatum(relid);
	args[1] = TimestampTzGetDatum(before_ts);
	finsec_spi_execute(
					   "SELECT min(block_no), max(block_no), min(start_txid), max(end_txid), "
					   " sum(row_count)::bigint, bool_or(sealed_at >= $2) "
					   "FROM finsec.ledger_block "
					   "WHERE relid = $1 AND purged_at IS NULL AND block_no <= "
					   " (SELECT max(block_no) FROM finsec.ledger_block WHERE relid = $1 AND sealed_at < $2)",
					   2, argtypes, args, NULL, false, 1,
					   SPI_OK_SELECT, "could not read ledger blocks");
	range->first = get_int8(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	range->last = get_int8(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	range->from = get_xid8(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	range->to = get_xid8(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
	if (range->first > 0 && DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
													   SPI_tuptable->tupdesc, 6, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_RETENTION),
				 errmsg("blocks %lld to %lld of %s were not all sealed before the boundary",
						(long long) range->first, (long long) range->last, c->relname),
				 errdetail("The sealing times are not in block order; the server clock may have been set back."),
				 errhint("Choose an earlier boundary.")));
}

/* Delete the range's rows from the protected table; how many. */
static int64
purge_range_rows(Chain *c, const PurgeRange *range)
{
	char	   *sql;
	Oid			argtypes[2] = {XID8OID, XID8OID};
	Datum		args[2];

	sql = psprintf("DELETE FROM ONLY %s WHERE " FINSEC_TXID_COLUMN " OPERATOR(pg_catalog.>=) $1 "
				   "AND " FINSEC_TXID_COLUMN " OPERATOR(pg_catalog.<) $2", c->relname);
	args[0] = FullTransactionIdGetDatum(FullTransactionIdFromU64(range->from));
	args[1] = FullTransactionIdGetDatum(FullTransactionIdFromU64(range->to));
	return purge_rows(c, sql, argtypes, args, range->from, range->to);
}

/* The range's blocks become tombstones: no row list, purged_at and purged_by set. */
static void
mark_blocks_purged(Oid relid, Oid caller, const PurgeRange *range)
{
	Oid			argtypes[4] = {OIDOID, NAMEOID, INT8OID, INT8OID};
	Datum		args[4];
	int			ret;

	args[0] = ObjectIdGetDatum(relid);
	args[1] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(caller, false)));
	args[2] = Int64GetDatum(range->first);
	args[3] = Int64GetDatum(range->last);
	ret = permitted_execute(
							"UPDATE finsec.ledger_block SET row_hashes = NULL, "
							" purged_at = pg_catalog.clock_timestamp(), purged_by = $2 "
							"WHERE relid = $1 AND purged_at IS NULL AND block_no BETWEEN $3 AND $4",
							4, argtypes, args, finsec_ledger_table("ledger_block"), TRIGGER_EVENT_UPDATE,
							relid, NULL);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "could not mark purged blocks");
}

/* The purge is itself an audit event. */
static void
record_purge(Oid caller, Chain *c, const PurgeRange *range, int64 rows, DateADT before)
{
	Oid			argtypes[3] = {INT8OID, INT8OID, INT8OID};
	Datum		args[3];
	bool		isnull;
	char	   *desc;

	args[0] = Int64GetDatum(range->first);
	args[1] = Int64GetDatum(range->last);
	args[2] = Int64GetDatum(rows);
	finsec_spi_execute(
					   "SELECT pg_catalog.jsonb_build_object('first_block', $1, 'last_block', $2, 'rows', $3)",
					   3, argtypes, args, NULL, false, 1,
					   SPI_OK_SELECT, "could not describe the purge");
	desc = psprintf("purged blocks %lld to %lld (%lld rows) sealed before %s",
					(long long) range->first, (long long) range->last, (long long) rows,
					DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(before))));
	(void) finsec_audit_event_internal(caller, "audit.purge", NULL,
									   c->relname, "purge", true, desc,
									   DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0],
																	SPI_tuptable->tupdesc, 1,
																	&isnull)));
}

/*
 * finsec.audit_purge(rel regclass, before date)
 *	 RETURNS TABLE (blocks_purged bigint, rows_purged bigint)
 *
 * Removes the rows of every sealed block of rel sealed before "before",
 * which must be at least finsec.audit_retention in the past.  The blocks
 * stay, without their row lists, as a tombstone: the chain still links and
 * verifies across them, and rows reappearing in their range are reported.
 */
Datum
finsec_audit_purge(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid;
	DateADT		before;
	TimestampTz before_ts;
	FinsecOwnerContext ctx;
	Chain	   *c;
	PurgeRange	range;
	int64		rows = 0;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	finsec_require_preload("finsec.audit_purge()");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("finsec.audit_purge() needs a relation and a date")));
	relid = PG_GETARG_OID(0);
	before = PG_GETARG_DATEADT(1);
	InitMaterializedSRF(fcinfo, 0);
	before_ts = purge_boundary(before);

	finsec_spi_begin_as_owner(&ctx);
	c = purge_chain(relid);
	purge_range(c, relid, before_ts, &range);
	if (range.first > 0)
	{
		rows = purge_range_rows(c, &range);
		mark_blocks_purged(relid, ctx.caller, &range);
		record_purge(ctx.caller, c, &range, rows, before);
	}
	finsec_spi_end(&ctx);

	values[0] = Int64GetDatum(range.first > 0 ? range.last - range.first + 1 : 0);
	values[1] = Int64GetDatum(rows);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

/* ---- closing out a chain whose table is gone --------------------------- */

PG_FUNCTION_INFO_V1(finsec_audit_close_chain);

/*
 * finsec.audit_close_chain(chain_id uuid, reason text) RETURNS bigint
 *
 * The auditor's way out for a chain whose protected table no longer exists
 * (dropped before 0.8 refused it, or by a superuser beyond SQL): records a
 * ledger.chain_close event with the chain's last sealed head and the
 * reason, then removes the chain and its blocks, so that the other chains
 * verify cleanly and the table's OID can be reused.  Returns the event's
 * finsec_seq.  A chain whose table still exists cannot be closed.
 */
Datum
finsec_audit_close_chain(PG_FUNCTION_ARGS)
{
	FinsecOwnerContext ctx;
	pg_uuid_t  *id;
	char	   *reason;
	Oid			argtypes[1] = {UUIDOID};
	Datum		args[1];
	Oid			rtypes[1] = {OIDOID};
	Datum		rargs[1];
	Chain	   *c;
	int			ret;
	int64		seq;
	JsonbParseState *state = NULL;
	JsonbValue *jv;
	char	   *head_hex;
	char		end_txid[32];

	finsec_require_preload("finsec.audit_close_chain()");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("finsec.audit_close_chain() needs a chain identifier and a reason")));
	id = PG_GETARG_UUID_P(0);
	reason = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (strspn(reason, " \t\r\n") == strlen(reason))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a chain is closed only with a reason"),
				 errhint("Name the investigation or ticket that explains why the table is gone.")));

	finsec_spi_begin_as_owner(&ctx);
	args[0] = UUIDPGetDatum(id);
	finsec_spi_execute("SELECT " CHAIN_COLUMNS " FROM finsec.ledger_chain "
					   "WHERE chain_id = $1 FOR UPDATE",
					   1, argtypes, args, NULL, false, 0,
					   SPI_OK_SELECT, "could not read finsec.ledger_chain");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("there is no chain %s",
						DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id))))));
	c = chain_from_tuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc);
	if (!c->gone)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the protected table of this chain, %s, still exists", c->relname),
				 errdetail("Only a chain whose table is gone can be closed; a protected table cannot be unprotected.")));

	/* The event first: it carries the chain's last sealed state. */
	head_hex = palloc0(FINSEC_HASH_LEN * 2 + 1);
	hex_encode((const char *) c->head, FINSEC_HASH_LEN, head_hex);
	snprintf(end_txid, sizeof(end_txid), UINT64_FORMAT, c->end_txid);
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	jsonb_put_text(&state, "chain_id", chain_id_text(c));
	jsonb_put_text(&state, "relid", psprintf("%u", c->relid));
	jsonb_put_text(&state, "algorithm", c->algorithm);
	jsonb_put_text(&state, "blocks", psprintf("%lld", (long long) c->blocks));
	jsonb_put_text(&state, "rows", psprintf("%lld", (long long) c->sealed_rows));
	jsonb_put_text(&state, "end_txid", end_txid);
	jsonb_put_text(&state, "head_hash", head_hex);
	jsonb_put_text(&state, "reason", reason);
	jv = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	seq = finsec_audit_event_internal(ctx.caller, "ledger.chain_close", NULL, c->relname,
									  "close", true,
									  psprintf("chain %s closed: its protected table no longer exists",
											   chain_id_text(c)),
									  JsonbValueToJsonb(jv));

	rargs[0] = ObjectIdGetDatum(c->relid);
	ret = permitted_execute("DELETE FROM finsec.ledger_block WHERE relid = $1",
							1, rtypes, rargs, finsec_ledger_table("ledger_block"),
							TRIGGER_EVENT_DELETE, c->relid, NULL);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "could not remove the blocks of the closed chain");
	ret = permitted_execute("DELETE FROM finsec.ledger_chain WHERE relid = $1",
							1, rtypes, rargs, finsec_ledger_table("ledger_chain"),
							TRIGGER_EVENT_DELETE, c->relid, NULL);
	if (ret != SPI_OK_DELETE || SPI_processed != 1)
		elog(ERROR, "could not remove the closed chain");
	finsec_spi_end(&ctx);
	PG_RETURN_INT64(seq);
}

PG_FUNCTION_INFO_V1(finsec_row_hash_sql);

/*
 * finsec.row_hash(row anyelement, algorithm text DEFAULT 'sha256') returns bytea
 *
 * The canonical row hash of a composite value, e.g. finsec.row_hash(t) for
 * a row of table t: lets an auditor recompute a hash in SQL, and lets the
 * tests check the encoding against its specification.
 */
Datum
finsec_row_hash_sql(PG_FUNCTION_ARGS)
{
	HeapTupleHeader rec;
	TupleDesc	desc;
	HeapTupleData tuple;
	Datum	   *values;
	bool	   *nulls;
	FinsecRowHasher *hasher;
	unsigned char out[FINSEC_HASH_LEN];
	const char *alg = PG_ARGISNULL(1) ? "sha256" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	int			saved;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (!type_is_rowtype(get_fn_expr_argtype(fcinfo->flinfo, 0)))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("finsec.row_hash() takes a row value")));
	rec = PG_GETARG_HEAPTUPLEHEADER(0);
	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(rec), HeapTupleHeaderGetTypMod(rec));
	tuple.t_len = HeapTupleHeaderGetDatumLength(rec);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = rec;
	values = palloc(sizeof(Datum) * desc->natts);
	nulls = palloc(sizeof(bool) * desc->natts);
	heap_deform_tuple(&tuple, desc, values, nulls);

	saved = finsec_encoding_begin();
	PG_TRY();
	{
		hasher = finsec_row_hasher_create(desc, alg);
		finsec_row_hash(hasher, values, nulls, out);
		finsec_row_hasher_destroy(hasher);
	}
	PG_FINALLY();
	{
		finsec_encoding_end(saved);
	}
	PG_END_TRY();
	ReleaseTupleDesc(desc);
	PG_RETURN_BYTEA_P(finsec_bytea(out, FINSEC_HASH_LEN));
}
